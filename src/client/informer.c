/*
 * Informers and their factory behind informer.h. The cache part (replace
 * and apply, with the add/update/delete diffing) is pure and tested alone
 * through informer-private.h; the rest is the list/watch state machine on
 * one uv_timer: every retry, relist or re-watch goes through on_retry so a
 * request is never started from inside a handler the informer is running.
 */
#include "informer.h"
#include "informer-private.h"
#include "intern.h"
#include "log.h"
#include "object.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define BACKOFF_INITIAL_MS 100
#define BACKOFF_MAX_MS 10000
/* A watch that lasted this long was healthy even if it saw no events. */
#define WATCH_HEALTHY_MS 1000

/* --- cache --------------------------------------------------------------- */

void informer_cache_init(struct informer_cache *cache, informer_emit_fn emit, void *data)
{
	cache->objects = json_object();
	cache->by_ns = json_object();
	cache->intern = obj_intern_new();
	cache->transform = NULL;
	cache->emit = emit;
	cache->emit_data = data;
}

void informer_cache_release(struct informer_cache *cache)
{
	json_decref(cache->objects);
	json_decref(cache->by_ns);
	cache->objects = cache->by_ns = NULL;
	obj_intern_free(cache->intern);
	cache->intern = NULL;
}

json_t *informer_cache_get(const struct informer_cache *cache, const char *key)
{
	return json_object_get(cache->objects, key);
}

static const char *ns_of(const json_t *obj)
{
	const char *ns = obj_namespace(obj);
	return ns ? ns : "";
}

static bool same_version(const json_t *a, const json_t *b)
{
	const char *ra = obj_str(a, "metadata.resourceVersion");
	const char *rb = obj_str(b, "metadata.resourceVersion");

	if (ra && rb)
		return !strcmp(ra, rb);
	return json_equal((json_t *)a, (json_t *)b);
}

static void index_set(struct informer_cache *cache, const char *key, json_t *obj)
{
	const char *ns = ns_of(obj);
	json_t *m = json_object_get(cache->by_ns, ns);

	if (!m) {
		m = json_object();
		json_object_set_new_nocheck(cache->by_ns, ns, m);
	}
	json_object_set_nocheck(m, key, obj);
}

static void index_del(struct informer_cache *cache, const char *key, const json_t *obj)
{
	const char *ns = ns_of(obj);
	json_t *m = json_object_get(cache->by_ns, ns);

	if (!m)
		return;
	json_object_del(m, key);
	if (!json_object_size(m))
		json_object_del(cache->by_ns, ns);
}

/* Stores obj under key and emits; returns 1 if something changed. */
static int cache_put(struct informer_cache *cache, const char *key, json_t *obj)
{
	json_t *old = json_object_get(cache->objects, key);

	if (old == obj || (old && same_version(old, obj)))
		return 0;
	/* What is cached (and handed to handlers) is obj as transformed and
	 * interned: both change it in place, the second only by swapping its
	 * members for equal shared ones. */
	if (cache->transform)
		cache->transform(obj);
	obj = obj_intern(cache->intern, json_incref(obj));
	if (old) {
		json_incref(old);
		/* A namespace cannot change under one key, but keep the index exact. */
		index_del(cache, key, old);
	}
	json_object_set_nocheck(cache->objects, key, obj);
	index_set(cache, key, obj);
	if (cache->emit)
		cache->emit(old ? INFORMER_UPDATED : INFORMER_ADDED, old, obj, cache->emit_data);
	json_decref(old);
	json_decref(obj);
	return 1;
}

static int cache_remove(struct informer_cache *cache, const char *key)
{
	json_t *old = json_object_get(cache->objects, key);

	if (!old)
		return 0;
	json_incref(old);
	index_del(cache, key, old);
	json_object_del(cache->objects, key);
	if (cache->emit)
		cache->emit(INFORMER_DELETED, old, NULL, cache->emit_data);
	json_decref(old);
	return 1;
}

int informer_cache_replace(struct informer_cache *cache, const json_t *items)
{
	json_t *seen = json_object(), *obj, *gone = json_array(), *v;
	const char *key;
	size_t i;
	int changes = 0;

	json_array_foreach(items, i, obj) {
		char *k;
		if (!json_is_object(obj) || !obj_name(obj))
			continue;
		k = obj_key(obj);
		json_object_set_new_nocheck(seen, k, json_true());
		changes += cache_put(cache, k, obj);
		free(k);
	}
	/* Collect first: deleting while iterating the object is not allowed. */
	json_object_foreach(cache->objects, key, v) {
		if (!json_object_get(seen, key))
			json_array_append_new(gone, json_string_nocheck(key));
	}
	json_array_foreach(gone, i, v)
		changes += cache_remove(cache, json_string_value(v));
	json_decref(gone);
	json_decref(seen);
	return changes;
}

int informer_cache_apply(struct informer_cache *cache, const char *type, json_t *obj)
{
	char *key;
	int rc;

	if (!json_is_object(obj) || !obj_name(obj))
		return -1;
	key = obj_key(obj);
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED"))
		rc = cache_put(cache, key, obj);
	else if (!strcmp(type, "DELETED"))
		rc = cache_remove(cache, key);
	else
		rc = -1;
	free(key);
	return rc;
}

/* --- informer ------------------------------------------------------------ */

struct synced_cb {
	void (*cb)(struct informer *inf, void *data);
	void *data;
};

struct informer {
	struct rest_client *c;
	struct rest_resource res;
	char *group, *version, *plural;
	char *ns, *label_selector, *field_selector;
	char *name;                 /* "pods" or "deployments.apps", for logs */
	struct informer_cache cache;
	struct informer_handlers *handlers;
	size_t nhandlers;
	struct synced_cb *synced_cbs;
	size_t nsynced_cbs;
	char *rv;
	struct rest_request *list_req, *watch_req;
	uv_timer_t retry;
	uint64_t backoff_ms;
	uint64_t watch_started_ms;
	uint64_t changes;           /* emitted, for check_interned */
	bool watch_had_events;
	bool started, synced, need_list, closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
};

/*
 * MINIK8S_INTERN_CHECK=1 (the test suites set it): every 64 changes, check
 * that no cached value was changed in place since it was interned, which
 * would change every object sharing it; abort if one was.
 */
static void check_interned(struct informer *inf)
{
	static int enabled = -1;
	size_t bad;

	if (enabled < 0)
		enabled = getenv("MINIK8S_INTERN_CHECK") && strcmp(getenv("MINIK8S_INTERN_CHECK"), "0");
	if (!enabled || ++inf->changes % 64)
		return;
	if ((bad = obj_intern_check(inf->cache.intern))) {
		log_error("informer resource=%s: %zu cached values were changed in place; cached objects are "
			  "read-only (json_deep_copy before changing)", inf->name, bad);
		abort();
	}
}

static void emit(enum informer_change change, json_t *old_obj, json_t *new_obj, void *data)
{
	struct informer *inf = data;
	size_t n = inf->nhandlers;

	check_interned(inf);

	/* Handlers added from inside a handler got their replay already. */
	for (size_t i = 0; i < n && !inf->closing; i++) {
		struct informer_handlers h = inf->handlers[i];
		switch (change) {
		case INFORMER_ADDED:
			if (h.on_add)
				h.on_add(new_obj, h.data);
			break;
		case INFORMER_UPDATED:
			if (h.on_update)
				h.on_update(old_obj, new_obj, h.data);
			break;
		case INFORMER_DELETED:
			if (h.on_delete)
				h.on_delete(old_obj, h.data);
			break;
		}
	}
}

static char *opt_dup(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

struct informer *informer_new(struct rest_client *c, const struct rest_resource *res,
			      const struct informer_options *opts)
{
	struct informer *inf = xcalloc(1, sizeof(*inf));

	inf->c = c;
	inf->group = xstrdup(res->group ? res->group : "");
	inf->version = xstrdup(res->version);
	inf->plural = xstrdup(res->plural);
	inf->res.group = inf->group;
	inf->res.version = inf->version;
	inf->res.plural = inf->plural;
	inf->res.namespaced = res->namespaced;
	if (opts) {
		inf->ns = opt_dup(opts->namespace);
		inf->label_selector = opt_dup(opts->label_selector);
		inf->field_selector = opt_dup(opts->field_selector);
	}
	informer_cache_init(&inf->cache, emit, inf);
	inf->cache.transform = opts ? opts->transform : NULL;
	inf->name = *inf->group ? xasprintf("%s.%s", inf->plural, inf->group) : xstrdup(inf->plural);
	inf->rv = xstrdup("");
	inf->backoff_ms = BACKOFF_INITIAL_MS;
	inf->need_list = true;
	uv_timer_init(rest_client_loop(c), &inf->retry);
	inf->retry.data = inf;
	return inf;
}

void informer_add_handlers(struct informer *inf, const struct informer_handlers *h)
{
	json_t *all, *obj;
	size_t i;

	inf->handlers = xrealloc(inf->handlers, (inf->nhandlers + 1) * sizeof(*inf->handlers));
	inf->handlers[inf->nhandlers++] = *h;
	if (!h->on_add || !json_object_size(inf->cache.objects))
		return;
	/* The array keeps each object alive even if a handler changes the cache. */
	all = informer_list(inf, NULL);
	json_array_foreach(all, i, obj) {
		if (inf->closing)
			break;
		h->on_add(obj, h->data);
	}
	json_decref(all);
}

void informer_on_synced(struct informer *inf, void (*cb)(struct informer *inf, void *data),
			void *data)
{
	if (inf->synced) {
		cb(inf, data);
		return;
	}
	inf->synced_cbs = xrealloc(inf->synced_cbs, (inf->nsynced_cbs + 1) * sizeof(*inf->synced_cbs));
	inf->synced_cbs[inf->nsynced_cbs].cb = cb;
	inf->synced_cbs[inf->nsynced_cbs].data = data;
	inf->nsynced_cbs++;
}

bool informer_has_synced(const struct informer *inf)
{
	return inf->synced;
}

json_t *informer_get(const struct informer *inf, const char *key)
{
	return informer_cache_get(&inf->cache, key);
}

json_t *informer_list(const struct informer *inf, const char *ns)
{
	json_t *src = ns && *ns ? json_object_get(inf->cache.by_ns, ns) : inf->cache.objects;
	json_t *out = json_array(), *obj;
	const char *key;

	json_object_foreach(src, key, obj)
		json_array_append(out, obj);
	return out;
}

size_t informer_count(const struct informer *inf)
{
	return json_object_size(inf->cache.objects);
}

const char *informer_resource_version(const struct informer *inf)
{
	return inf->rv;
}

const struct rest_resource *informer_resource(const struct informer *inf)
{
	return &inf->res;
}

static void set_rv(struct informer *inf, const char *rv)
{
	if (!rv || !*rv)
		return;
	free(inf->rv);
	inf->rv = xstrdup(rv);
}

/* List items come without kind and apiVersion; watch events carry them. */
static void fill_kinds(json_t *list)
{
	const char *lk = obj_kind(list), *av = obj_str(list, "apiVersion");
	json_t *items = json_object_get(list, "items"), *obj;
	char *kind = NULL;
	size_t i;

	if (lk && str_has_suffix(lk, "List") && strlen(lk) > 4)
		kind = xstrndup(lk, strlen(lk) - 4);
	json_array_foreach(items, i, obj) {
		if (!json_is_object(obj))
			continue;
		if (kind && !json_object_get(obj, "kind"))
			json_object_set_new(obj, "kind", json_string(kind));
		if (av && !json_object_get(obj, "apiVersion"))
			json_object_set_new(obj, "apiVersion", json_string(av));
	}
	free(kind);
}

int informer_apply_list(struct informer *inf, json_t *list)
{
	json_t *items = json_object_get(list, "items");
	int changes;

	/* An empty list may come as "items": null; no items at all is not a list. */
	if (!items || (!json_is_array(items) && !json_is_null(items)))
		return -1;
	if (json_is_null(items))
		items = NULL;
	fill_kinds(list);
	if (items) {
		changes = informer_cache_replace(&inf->cache, items);
	} else {
		json_t *empty = json_array();
		changes = informer_cache_replace(&inf->cache, empty);
		json_decref(empty);
	}
	set_rv(inf, obj_str(list, "metadata.resourceVersion"));
	inf->need_list = false;
	log_debug("informer resource=%s listed objects=%zu changes=%d rv=%s", inf->name,
		  informer_count(inf), changes, inf->rv);
	if (!inf->synced && !inf->closing) {
		struct synced_cb *cbs = inf->synced_cbs;
		size_t n = inf->nsynced_cbs;

		inf->synced = true;
		inf->synced_cbs = NULL;
		inf->nsynced_cbs = 0;
		for (size_t i = 0; i < n && !inf->closing; i++)
			cbs[i].cb(inf, cbs[i].data);
		free(cbs);
	}
	return 0;
}

int informer_apply_event(struct informer *inf, const char *type, json_t *obj)
{
	if (!strcmp(type, "ERROR")) {
		int64_t code = obj_int(obj, "code", 0);
		const char *msg = obj_str(obj, "message");

		if (code == 410) {
			log_info("informer resource=%s watch expired rv=%s: relisting", inf->name, inf->rv);
			inf->need_list = true;
			return 1;
		}
		log_warn("informer resource=%s watch error code=%lld message=\"%s\"", inf->name,
			 (long long)code, msg ? msg : "");
		return -1;
	}
	if (!strcmp(type, "BOOKMARK")) {
		set_rv(inf, obj_str(obj, "metadata.resourceVersion"));
		return 0;
	}
	if (informer_cache_apply(&inf->cache, type, obj) < 0) {
		log_warn("informer resource=%s ignored watch event type=%s", inf->name, type);
		return 0;
	}
	inf->watch_had_events = true;
	set_rv(inf, obj_str(obj, "metadata.resourceVersion"));
	return 0;
}

static uint64_t next_backoff(struct informer *inf)
{
	uint64_t d = inf->backoff_ms;

	inf->backoff_ms = d * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d * 2;
	return d;
}

static void on_retry(uv_timer_t *t);

static void schedule(struct informer *inf, uint64_t delay_ms)
{
	if (!inf->closing)
		uv_timer_start(&inf->retry, on_retry, delay_ms, 0);
}

static char *base_path(struct informer *inf, struct strbuf *sb)
{
	char *p = rest_resource_path(&inf->res, inf->ns, NULL, NULL);

	strbuf_adds(sb, p);
	free(p);
	if (inf->label_selector)
		rest_query_add(sb, "labelSelector", inf->label_selector);
	if (inf->field_selector)
		rest_query_add(sb, "fieldSelector", inf->field_selector);
	return sb->buf;
}

static void on_list_done(const struct rest_response *resp, void *data)
{
	struct informer *inf = data;

	inf->list_req = NULL;
	if (resp->error || informer_apply_list(inf, resp->body) < 0) {
		uint64_t d = next_backoff(inf);
		log_warn("informer resource=%s list failed: %s; retrying in %llu ms", inf->name,
			 resp->error ? resp->error : "the answer has no items",
			 (unsigned long long)d);
		schedule(inf, d);
		return;
	}
	inf->backoff_ms = BACKOFF_INITIAL_MS;
	schedule(inf, 0);
}

static void on_watch_event(const char *type, json_t *obj, void *data)
{
	struct informer *inf = data;
	int rc = informer_apply_event(inf, type, obj);

	if (inf->closing)
		return;
	if (inf->watch_had_events)
		inf->backoff_ms = BACKOFF_INITIAL_MS;
	if (rc) {
		/* The server ends the stream after an ERROR anyway; do not wait for it. */
		rest_cancel(inf->watch_req);
		inf->watch_req = NULL;
		schedule(inf, rc > 0 ? 0 : next_backoff(inf));
	}
}

static void on_watch_done(const struct rest_response *resp, void *data)
{
	struct informer *inf = data;
	bool healthy = inf->watch_had_events || now_ms() - inf->watch_started_ms >= WATCH_HEALTHY_MS;

	inf->watch_req = NULL;
	if (resp->status == 410) {
		log_info("informer resource=%s watch expired rv=%s: relisting", inf->name, inf->rv);
		inf->need_list = true;
		schedule(inf, 0);
		return;
	}
	if (resp->error) {
		uint64_t d = next_backoff(inf);
		log_warn("informer resource=%s watch ended: %s; retrying in %llu ms", inf->name,
			 resp->error, (unsigned long long)d);
		schedule(inf, d);
		return;
	}
	/* A clean end (the server's timeout): resume at once unless it keeps
	 * ending straight away. */
	schedule(inf, healthy ? 0 : next_backoff(inf));
}

static void start_list(struct informer *inf)
{
	struct strbuf sb;

	strbuf_init(&sb, 128);
	inf->list_req = rest_get(inf->c, base_path(inf, &sb), on_list_done, inf);
	if (!inf->list_req)
		log_error("informer resource=%s cannot start its list", inf->name);
	strbuf_release(&sb);
}

static void start_watch(struct informer *inf)
{
	struct strbuf sb;
	char timeout[16];

	strbuf_init(&sb, 160);
	base_path(inf, &sb);
	rest_query_add(&sb, "watch", "1");
	if (*inf->rv)
		rest_query_add(&sb, "resourceVersion", inf->rv);
	rest_query_add(&sb, "allowWatchBookmarks", "true");
	/* Like client-go, spread watch lifetimes over 5-10 minutes so the
	 * clients of one server do not all reconnect together. */
	snprintf(timeout, sizeof(timeout), "%d",
		 300 + (int)((now_ms() ^ (uintptr_t)inf ^ (uintptr_t)inf->retry.loop) % 300));
	rest_query_add(&sb, "timeoutSeconds", timeout);
	inf->watch_started_ms = now_ms();
	inf->watch_had_events = false;
	inf->watch_req = rest_watch(inf->c, sb.buf, on_watch_event, on_watch_done, inf);
	if (!inf->watch_req)
		log_error("informer resource=%s cannot start its watch", inf->name);
	strbuf_release(&sb);
}

static void on_retry(uv_timer_t *t)
{
	struct informer *inf = t->data;

	if (inf->closing || inf->list_req || inf->watch_req)
		return;
	if (inf->need_list)
		start_list(inf);
	else
		start_watch(inf);
}

void informer_start(struct informer *inf)
{
	if (inf->started || inf->closing)
		return;
	inf->started = true;
	schedule(inf, 0);
}

static void on_retry_closed(uv_handle_t *h)
{
	struct informer *inf = h->data;
	void (*cb)(void *) = inf->on_closed;
	void *arg = inf->closed_arg;

	informer_cache_release(&inf->cache);
	free(inf->handlers);
	free(inf->synced_cbs);
	free(inf->group);
	free(inf->version);
	free(inf->plural);
	free(inf->ns);
	free(inf->label_selector);
	free(inf->field_selector);
	free(inf->name);
	free(inf->rv);
	free(inf);
	if (cb)
		cb(arg);
}

void informer_close(struct informer *inf, void (*on_closed)(void *arg), void *arg)
{
	if (inf->closing)
		return;
	inf->closing = true;
	inf->on_closed = on_closed;
	inf->closed_arg = arg;
	rest_cancel(inf->list_req);
	rest_cancel(inf->watch_req);
	inf->list_req = inf->watch_req = NULL;
	uv_close((uv_handle_t *)&inf->retry, on_retry_closed);
}

/* --- factory ------------------------------------------------------------- */

struct factory_entry {
	char *id;
	struct informer *inf;
};

struct factory_cb {
	void (*cb)(void *data);
	void *data;
};

struct informer_factory {
	struct rest_client *c;
	struct factory_entry *v;
	size_t n;
	struct factory_cb *cbs;
	size_t ncbs;
	bool started, closing;
	size_t closing_left;
	void (*on_closed)(void *arg);
	void *closed_arg;
};

struct informer_factory *informer_factory_new(struct rest_client *c)
{
	struct informer_factory *f = xcalloc(1, sizeof(*f));

	f->c = c;
	return f;
}

bool informer_factory_has_synced(const struct informer_factory *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (!informer_has_synced(f->v[i].inf))
			return false;
	return true;
}

static void fire_factory_synced(struct informer_factory *f)
{
	struct factory_cb *cbs = f->cbs;
	size_t n = f->ncbs;

	f->cbs = NULL;
	f->ncbs = 0;
	for (size_t i = 0; i < n && !f->closing; i++)
		cbs[i].cb(cbs[i].data);
	free(cbs);
}

static void on_informer_synced(struct informer *inf, void *data)
{
	struct informer_factory *f = data;

	if (f->ncbs && informer_factory_has_synced(f))
		fire_factory_synced(f);
}

struct informer *informer_factory_get(struct informer_factory *f, const struct rest_resource *res,
				      const struct informer_options *opts)
{
	struct informer_options none = { 0 };
	char *id;

	if (!opts)
		opts = &none;
	id = xasprintf("%s/%s/%s|%s|%s|%s|%p", res->group ? res->group : "", res->version, res->plural,
		       opts->namespace ? opts->namespace : "",
		       opts->label_selector ? opts->label_selector : "",
		       opts->field_selector ? opts->field_selector : "", (void *)opts->transform);
	for (size_t i = 0; i < f->n; i++) {
		if (!strcmp(f->v[i].id, id)) {
			free(id);
			return f->v[i].inf;
		}
	}
	f->v = xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
	f->v[f->n].id = id;
	f->v[f->n].inf = informer_new(f->c, res, opts);
	informer_on_synced(f->v[f->n].inf, on_informer_synced, f);
	if (f->started && !f->closing)
		informer_start(f->v[f->n].inf);
	return f->v[f->n++].inf;
}

void informer_factory_start(struct informer_factory *f)
{
	f->started = true;
	for (size_t i = 0; i < f->n; i++)
		informer_start(f->v[i].inf);
}

void informer_factory_on_synced(struct informer_factory *f, void (*cb)(void *data), void *data)
{
	if (informer_factory_has_synced(f)) {
		cb(data);
		return;
	}
	f->cbs = xrealloc(f->cbs, (f->ncbs + 1) * sizeof(*f->cbs));
	f->cbs[f->ncbs].cb = cb;
	f->cbs[f->ncbs].data = data;
	f->ncbs++;
}

static void factory_free(struct informer_factory *f)
{
	void (*cb)(void *) = f->on_closed;
	void *arg = f->closed_arg;

	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].id);
	free(f->v);
	free(f->cbs);
	free(f);
	if (cb)
		cb(arg);
}

static void on_factory_informer_closed(void *arg)
{
	struct informer_factory *f = arg;

	if (--f->closing_left == 0)
		factory_free(f);
}

void informer_factory_close(struct informer_factory *f, void (*on_closed)(void *arg), void *arg)
{
	if (f->closing)
		return;
	f->closing = true;
	f->on_closed = on_closed;
	f->closed_arg = arg;
	f->closing_left = f->n;
	if (!f->n) {
		factory_free(f);
		return;
	}
	for (size_t i = 0; i < f->n; i++)
		informer_close(f->v[i].inf, on_factory_informer_closed, f);
}
