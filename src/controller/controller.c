/*
 * The machinery every controller shares (see controller.h): listers over
 * the informer caches with their indexes, the controller's queue and
 * workers, the life of one sync and its writes, and helpers on objects
 * (owner references, conditions, pod readiness, adoption). Nothing here
 * knows about a particular controller.
 */
#include "controller/controller.h"
#include "apiserver/kinds.h"
#include "log.h"
#include "object.h"
#include "selector.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- options ------------------------------------------------------------ */

void controller_options_defaults(struct controller_options *o)
{
	memset(o, 0, sizeof(*o));
	o->node_monitor_grace_ms = 50 * 1000;
	o->node_monitor_period_ms = 5 * 1000;
	o->node_startup_grace_ms = 60 * 1000;
	o->node_eviction_rate = 0.1;
	o->secondary_node_eviction_rate = 0.01;
	o->unhealthy_zone_threshold = 0.55;
	o->large_cluster_size_threshold = 50;
	o->allocate_node_cidrs = true;
	o->cluster_cidr = "10.244.0.0/16";
	o->node_cidr_mask_size = 24;
	o->terminated_pod_gc_threshold = 12500;
	o->podgc_period_ms = 20 * 1000;
	o->podgc_quarantine_ms = 40 * 1000;
	o->concurrent_deployment_syncs = 5;
	o->concurrent_replicaset_syncs = 5;
	o->concurrent_endpoint_syncs = 5;
	o->concurrent_gc_syncs = 20;
	o->concurrent_namespace_syncs = 10;
	o->concurrent_node_syncs = 5;
}

int64_t wall_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- keymap: chained hash table ------------------------------------------ */

struct keymap_entry {
	char *key;
	void *value;
	uint32_t hash;
	struct keymap_entry *next;
};

struct keymap {
	struct keymap_entry **buckets;
	size_t nbuckets, n;
};

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

struct keymap *keymap_new(void)
{
	struct keymap *m = xcalloc(1, sizeof(*m));

	m->nbuckets = 16;
	m->buckets = xcalloc(m->nbuckets, sizeof(*m->buckets));
	return m;
}

void keymap_free(struct keymap *m, void (*free_value)(void *))
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct keymap_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			if (free_value)
				free_value(e->value);
			free(e->key);
			free(e);
		}
	}
	free(m->buckets);
	free(m);
}

static struct keymap_entry **keymap_slot(const struct keymap *m, const char *key, uint32_t h)
{
	struct keymap_entry **p = &m->buckets[h & (m->nbuckets - 1)];

	for (; *p; p = &(*p)->next)
		if ((*p)->hash == h && !strcmp((*p)->key, key))
			break;
	return p;
}

void *keymap_get(const struct keymap *m, const char *key)
{
	struct keymap_entry **p = keymap_slot(m, key, str_hash(key));

	return *p ? (*p)->value : NULL;
}

static void keymap_grow(struct keymap *m)
{
	size_t n = m->nbuckets * 2;
	struct keymap_entry **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < m->nbuckets; i++) {
		struct keymap_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

void *keymap_put(struct keymap *m, const char *key, void *value)
{
	uint32_t h = str_hash(key);
	struct keymap_entry **p = keymap_slot(m, key, h), *e;
	void *old;

	if (*p) {
		old = (*p)->value;
		(*p)->value = value;
		return old;
	}
	e = xcalloc(1, sizeof(*e));
	e->key = xstrdup(key);
	e->value = value;
	e->hash = h;
	*p = e;
	if (++m->n > m->nbuckets)
		keymap_grow(m);
	return NULL;
}

void *keymap_del(struct keymap *m, const char *key)
{
	struct keymap_entry **p = keymap_slot(m, key, str_hash(key)), *e = *p;
	void *v;

	if (!e)
		return NULL;
	*p = e->next;
	v = e->value;
	free(e->key);
	free(e);
	m->n--;
	return v;
}

size_t keymap_size(const struct keymap *m)
{
	return m->n;
}

bool keymap_next(const struct keymap *m, size_t *pos, const char **key, void **value)
{
	/* pos encodes bucket (high bits) and depth in the chain (low 16 bits). */
	size_t b = *pos >> 16, depth = *pos & 0xffff;

	for (; b < m->nbuckets; b++, depth = 0) {
		struct keymap_entry *e = m->buckets[b];
		for (size_t i = 0; e && i < depth; i++)
			e = e->next;
		if (e) {
			*key = e->key;
			if (value)
				*value = e->value;
			*pos = (b << 16) | (depth + 1);
			return true;
		}
	}
	*pos = b << 16;
	return false;
}

/* ---- listers ------------------------------------------------------------- */

struct lister_index {
	char *name;
	lister_index_fn fn;
	json_t *map;   /* value -> { key -> obj } */
};

struct lister {
	const struct kind *kind;
	struct informer *inf;
	json_t *objects;   /* fakes: key -> obj */
	json_t *by_ns;     /* fakes: ns -> { key -> obj } */
	struct lister_index *idx;
	size_t nidx;
	struct informer_handlers *handlers;  /* fakes */
	size_t nhandlers;
};

static void index_add(struct lister_index *ix, const char *key, json_t *obj)
{
	char buf[256];
	const char *v = ix->fn(obj, buf, sizeof(buf));
	json_t *m;

	if (!v)
		return;
	m = json_object_get(ix->map, v);
	if (!m) {
		m = json_object();
		json_object_set_new(ix->map, v, m);
	}
	json_object_set(m, key, obj);
}

static void index_del(struct lister_index *ix, const char *key, const json_t *obj)
{
	char buf[256];
	const char *v = ix->fn(obj, buf, sizeof(buf));
	json_t *m;

	if (!v || !(m = json_object_get(ix->map, v)))
		return;
	json_object_del(m, key);
	if (!json_object_size(m))
		json_object_del(ix->map, v);
}

static void indexes_add(struct lister *l, json_t *obj)
{
	char *key;

	if (!l->nidx)
		return;
	key = obj_key(obj);
	for (size_t i = 0; i < l->nidx; i++)
		index_add(&l->idx[i], key, obj);
	free(key);
}

static void indexes_del(struct lister *l, const json_t *obj)
{
	char *key;

	if (!l->nidx)
		return;
	key = obj_key(obj);
	for (size_t i = 0; i < l->nidx; i++)
		index_del(&l->idx[i], key, obj);
	free(key);
}

static void on_index_add(json_t *obj, void *data)
{
	indexes_add(data, obj);
}

static void on_index_update(json_t *old_obj, json_t *new_obj, void *data)
{
	indexes_del(data, old_obj);
	indexes_add(data, new_obj);
}

static void on_index_delete(json_t *obj, void *data)
{
	indexes_del(data, obj);
}

struct lister *lister_new(const struct kind *kind, struct informer *inf)
{
	struct lister *l = xcalloc(1, sizeof(*l));

	l->kind = kind;
	l->inf = inf;
	if (inf) {
		/* Registered first, so indexes are current before any controller's handler runs. */
		struct informer_handlers h = { on_index_add, on_index_update, on_index_delete, l };
		informer_add_handlers(inf, &h);
	} else {
		l->objects = json_object();
		l->by_ns = json_object();
	}
	return l;
}

void lister_free(struct lister *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nidx; i++) {
		free(l->idx[i].name);
		json_decref(l->idx[i].map);
	}
	free(l->idx);
	free(l->handlers);
	json_decref(l->objects);
	json_decref(l->by_ns);
	free(l);
}

const struct kind *lister_kind(const struct lister *l)
{
	return l->kind;
}

struct informer *lister_informer(const struct lister *l)
{
	return l->inf;
}

bool lister_synced(const struct lister *l)
{
	return !l->inf || informer_has_synced(l->inf);
}

json_t *lister_get(const struct lister *l, const char *key)
{
	if (!key)
		return NULL;
	return l->inf ? informer_get(l->inf, key) : json_object_get(l->objects, key);
}

json_t *lister_get_ns(const struct lister *l, const char *ns, const char *name)
{
	char *key;
	json_t *o;

	if (!name)
		return NULL;
	key = ns && *ns ? xasprintf("%s/%s", ns, name) : xstrdup(name);
	o = lister_get(l, key);
	free(key);
	return o;
}

static json_t *values_array(const json_t *map)
{
	json_t *out = json_array(), *v;
	const char *k;

	json_object_foreach((json_t *)map, k, v)
		json_array_append(out, v);
	return out;
}

json_t *lister_list(const struct lister *l, const char *ns)
{
	if (l->inf)
		return informer_list(l->inf, ns);
	return values_array(ns && *ns ? json_object_get(l->by_ns, ns) : l->objects);
}

size_t lister_count(const struct lister *l)
{
	return l->inf ? informer_count(l->inf) : json_object_size(l->objects);
}

void lister_add_index(struct lister *l, const char *name, lister_index_fn fn)
{
	struct lister_index *ix;
	json_t *all, *obj;
	size_t i;

	if (lister_has_index(l, name))
		return;
	l->idx = xrealloc(l->idx, (l->nidx + 1) * sizeof(*l->idx));
	ix = &l->idx[l->nidx++];
	ix->name = xstrdup(name);
	ix->fn = fn;
	ix->map = json_object();
	all = lister_list(l, NULL);
	json_array_foreach(all, i, obj) {
		char *key = obj_key(obj);
		index_add(ix, key, obj);
		free(key);
	}
	json_decref(all);
}

bool lister_has_index(const struct lister *l, const char *name)
{
	for (size_t i = 0; i < l->nidx; i++)
		if (!strcmp(l->idx[i].name, name))
			return true;
	return false;
}

json_t *lister_by_index(const struct lister *l, const char *name, const char *value)
{
	for (size_t i = 0; i < l->nidx; i++)
		if (!strcmp(l->idx[i].name, name))
			return values_array(value ? json_object_get(l->idx[i].map, value) : NULL);
	return json_array();
}

void lister_add_handlers(struct lister *l, const struct informer_handlers *h)
{
	if (l->inf) {
		informer_add_handlers(l->inf, h);
		return;
	}
	l->handlers = xrealloc(l->handlers, (l->nhandlers + 1) * sizeof(*l->handlers));
	l->handlers[l->nhandlers++] = *h;
}

static const char *ns_or_empty(const json_t *obj)
{
	const char *ns = obj_namespace(obj);
	return ns ? ns : "";
}

void lister_put(struct lister *l, json_t *obj)
{
	char *key;
	json_t *old, *m;

	if (l->inf || !obj_name(obj))
		return;
	key = obj_key(obj);
	old = json_object_get(l->objects, key);
	json_incref(old);
	if (old)
		indexes_del(l, old);
	json_object_set(l->objects, key, obj);
	m = json_object_get(l->by_ns, ns_or_empty(obj));
	if (!m) {
		m = json_object();
		json_object_set_new(l->by_ns, ns_or_empty(obj), m);
	}
	json_object_set(m, key, obj);
	indexes_add(l, obj);
	for (size_t i = 0; i < l->nhandlers; i++) {
		if (old && l->handlers[i].on_update)
			l->handlers[i].on_update(old, obj, l->handlers[i].data);
		else if (!old && l->handlers[i].on_add)
			l->handlers[i].on_add(obj, l->handlers[i].data);
	}
	json_decref(old);
	free(key);
}

void lister_remove(struct lister *l, const char *key)
{
	json_t *old, *m;

	if (l->inf || !(old = json_object_get(l->objects, key)))
		return;
	json_incref(old);
	indexes_del(l, old);
	json_object_del(l->objects, key);
	m = json_object_get(l->by_ns, ns_or_empty(old));
	json_object_del(m, key);
	for (size_t i = 0; i < l->nhandlers; i++)
		if (l->handlers[i].on_delete)
			l->handlers[i].on_delete(old, l->handlers[i].data);
	json_decref(old);
}

const char *index_by_controller(const json_t *obj, char *buf, size_t len)
{
	json_t *ref = controller_ref_of(obj);
	const char *uid = obj_str(ref, "uid");

	if (uid && *uid)
		return uid;
	snprintf(buf, len, "orphan/%s", ns_or_empty(obj));
	return buf;
}

const char *index_by_node(const json_t *obj, char *buf, size_t len)
{
	const char *n = obj_str(obj, "spec.nodeName");

	(void)buf;
	(void)len;
	return n && *n ? n : NULL;
}

/* ---- context -------------------------------------------------------------- */

void controller_context_init(struct controller_context *ctx, uv_loop_t *loop, struct informer_factory *factory,
			     struct controller_client *client, const struct controller_options *opts)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->loop = loop;
	ctx->factory = factory;
	ctx->client = client;
	ctx->opts = opts;
	ctx->clock = wall_clock_ms;
}

void controller_context_release(struct controller_context *ctx)
{
	for (size_t i = 0; i < ctx->nlisters; i++)
		lister_free(ctx->listers[i].l);
	free(ctx->listers);
	for (size_t i = 0; i < ctx->nrecorders; i++) {
		event_recorder_free(ctx->recorders[i].r);
		free(ctx->recorders[i].component);
	}
	free(ctx->recorders);
	ctx->listers = NULL;
	ctx->recorders = NULL;
	ctx->nlisters = ctx->nrecorders = 0;
}

struct rest_resource kind_resource(const struct kind *k)
{
	struct rest_resource r = { k->group, k->version, k->plural, k->namespaced };
	return r;
}

/* Deletes the members of obj (if it is an object) not named in names. */
static void keep_members(json_t *obj, const char *const *names)
{
	const char *k;
	json_t *v;
	void *tmp;

	if (!json_is_object(obj))
		return;
	json_object_foreach_safe(obj, tmp, k, v) {
		const char *const *n;

		for (n = names; *n && strcmp(*n, k); n++)
			;
		if (!*n)
			json_object_del(obj, k);
	}
}

/*
 * What of a pod the controllers here read, and nothing else: pods are most
 * of what the controller manager holds (30,000 of them in the scheduler
 * benchmark), and most of a pod is the kubelet's business. Kept: metadata
 * (but managedFields); in spec the node, container names and ports
 * (endpoints' named ports), hostname and subdomain (endpoints), tolerations
 * (taint eviction) and the grace period (namespace deletion); in status the
 * phase, conditions, podIP and each container's name and restart count
 * (the replica set controller ranks pods by it). A controller that reads
 * another field of a pod adds it here. No controller writes a pod back
 * whole, only patches, so nothing is lost on the server.
 */
void controller_pod_transform(json_t *pod)
{
	static const char *const spec_kept[] = { "nodeName", "containers", "hostname", "subdomain", "tolerations",
						 "terminationGracePeriodSeconds", NULL };
	static const char *const container_kept[] = { "name", "ports", NULL };
	static const char *const status_kept[] = { "phase", "conditions", "podIP", "containerStatuses", NULL };
	static const char *const container_status_kept[] = { "name", "restartCount", NULL };
	json_t *spec = json_object_get(pod, "spec"), *status = json_object_get(pod, "status"), *v;
	size_t i;

	obj_del(pod, "metadata.managedFields");
	keep_members(spec, spec_kept);
	keep_members(status, status_kept);
	json_array_foreach(json_object_get(spec, "containers"), i, v)
		keep_members(v, container_kept);
	json_array_foreach(json_object_get(status, "containerStatuses"), i, v)
		keep_members(v, container_status_kept);
}

struct lister *controller_lister(struct controller_context *ctx, const struct kind *kind)
{
	struct lister *l;

	for (size_t i = 0; i < ctx->nlisters; i++)
		if (ctx->listers[i].kind == kind)
			return ctx->listers[i].l;
	if (ctx->factory) {
		struct rest_resource res = kind_resource(kind);
		struct informer_options o = { .transform = kind == &kind_pod ? controller_pod_transform : NULL };
		l = lister_new(kind, informer_factory_get(ctx->factory, &res, &o));
	} else {
		l = lister_new(kind, NULL);
	}
	if (kind == &kind_pod || kind == &kind_replicaset)
		lister_add_index(l, "owner", index_by_controller);
	if (kind == &kind_pod)
		lister_add_index(l, "node", index_by_node);
	ctx->listers = xrealloc(ctx->listers, (ctx->nlisters + 1) * sizeof(*ctx->listers));
	ctx->listers[ctx->nlisters].kind = kind;
	ctx->listers[ctx->nlisters].l = l;
	ctx->nlisters++;
	return l;
}

struct event_recorder *controller_recorder(struct controller_context *ctx, const char *component)
{
	for (size_t i = 0; i < ctx->nrecorders; i++)
		if (!strcmp(ctx->recorders[i].component, component))
			return ctx->recorders[i].r;
	ctx->recorders = xrealloc(ctx->recorders, (ctx->nrecorders + 1) * sizeof(*ctx->recorders));
	ctx->recorders[ctx->nrecorders].component = xstrdup(component);
	ctx->recorders[ctx->nrecorders].r = event_recorder_new(ctx->client, component, ctx->clock);
	return ctx->recorders[ctx->nrecorders++].r;
}

/* ---- syncs ----------------------------------------------------------------- */

struct sync {
	struct controller *c;
	char *key;
	bool queued;         /* handed out by the queue: done/forget apply */
	int rc;
	int pending;
	bool sealed, failed, running;
	sync_then_fn then;
	void *data;
	void (*free_data)(void *);
	bool requeue;
	uint64_t requeue_ms;
	uint64_t start_ms;
	int ncalls;
};

struct sync_call_ctx {
	struct sync *s;
	sync_result_fn fn;
	void *data;
	bool gone_ok;   /* DELETE, PUT, PATCH: a 404 means there is nothing left to do */
	char *what;   /* "PATCH /api/v1/..." for logs */
};

static void sync_finish(struct sync *s)
{
	struct controller *c = s->c;
	int rc = s->rc < 0 || s->failed ? -1 : 0;

	c->syncs_in_flight--;
	c->syncs++;
	c->sync_failures += rc < 0;
	if (s->queued && c->queue) {
		if (!c->stopping) {
			if (rc < 0)
				workqueue_add_rate_limited(c->queue, s->key);
			else
				workqueue_forget(c->queue, s->key);
			if (s->requeue)
				workqueue_add_after(c->queue, s->key, s->requeue_ms);
		}
		workqueue_done(c->queue, s->key);
	} else if (s->requeue && c->queue && !c->stopping) {
		workqueue_add_after(c->queue, s->key, s->requeue_ms);
	}
	log_debug("controller=%s key=%s synced ms=%llu requests=%d result=%s", c->name, s->key,
		  (unsigned long long)(now_ms() - s->start_ms), s->ncalls, rc < 0 ? "error, retrying with backoff" : "ok");
	if (c->on_sync_done)
		c->on_sync_done(c, s->key, rc, c->on_sync_done_data);
	if (s->free_data)
		s->free_data(s->data);
	free(s->key);
	free(s);
}

/* Runs continuations and ends the sync once nothing is pending. Re-entrant
 * calls (a fake client answering inside sync_call) return at once; the
 * outer call's loop picks up where they left. */
static void sync_progress(struct sync *s)
{
	if (s->running)
		return;
	s->running = true;
	while (s->sealed && s->pending == 0) {
		sync_then_fn fn = s->then;
		if (!fn) {
			s->running = false;
			sync_finish(s);
			return;
		}
		s->then = NULL;
		fn(s);
	}
	s->running = false;
}

static struct sync *sync_new(struct controller *c, const char *key, bool queued)
{
	struct sync *s = xcalloc(1, sizeof(*s));

	s->c = c;
	s->key = xstrdup(key);
	s->queued = queued;
	s->start_ms = now_ms();
	c->syncs_in_flight++;
	return s;
}

static void sync_seal(struct sync *s, int rc)
{
	s->rc = rc;
	s->sealed = true;
	sync_progress(s);
}

const char *sync_key(const struct sync *s)
{
	return s->key;
}

struct controller *sync_controller(const struct sync *s)
{
	return s->c;
}

int sync_check(struct sync *s, const struct api_result *r)
{
	if (!r->error)
		return 0;
	log_warn("controller=%s key=%s write failed status=%d: %s", s->c->name, s->key, r->status, r->error);
	return -1;
}

static void on_sync_call_done(const struct api_result *r, void *data)
{
	struct sync_call_ctx *cc = data;
	struct sync *s = cc->s;
	int rc;

	if (cc->fn)
		rc = cc->fn(s, r, cc->data);
	else if (cc->gone_ok && r->status == 404)
		rc = 0;  /* the object went meanwhile: its deletion event tells the rest */
	else if (r->error) {
		log_warn("controller=%s key=%s %s failed status=%d: %s", s->c->name, s->key, cc->what, r->status,
			 r->error);
		rc = -1;
	} else {
		rc = 0;
	}
	if (rc < 0)
		s->failed = true;
	s->pending--;
	free(cc->what);
	free(cc);
	sync_progress(s);
}

void sync_call(struct sync *s, const char *method, const char *path, const char *content_type, const json_t *body,
	       sync_result_fn fn, void *data)
{
	struct sync_call_ctx *cc = xcalloc(1, sizeof(*cc));

	cc->s = s;
	cc->fn = fn;
	cc->data = data;
	cc->gone_ok = !strcmp(method, "DELETE") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
	cc->what = xasprintf("%s %s", method, path);
	s->pending++;
	s->ncalls++;
	s->c->writes++;
	log_trace("controller=%s key=%s %s", s->c->name, s->key, cc->what);
	controller_client_send(s->c->ctx->client, method, path, content_type, body, on_sync_call_done, cc);
}

void sync_create(struct sync *s, const char *path, const json_t *obj, sync_result_fn fn, void *data)
{
	sync_call(s, "POST", path, NULL, obj, fn, data);
}

void sync_update(struct sync *s, const char *path, const json_t *obj, sync_result_fn fn, void *data)
{
	sync_call(s, "PUT", path, NULL, obj, fn, data);
}

void sync_merge_patch(struct sync *s, const char *path, const json_t *patch, sync_result_fn fn, void *data)
{
	sync_call(s, "PATCH", path, "application/merge-patch+json", patch, fn, data);
}

void sync_strategic_patch(struct sync *s, const char *path, const json_t *patch, sync_result_fn fn, void *data)
{
	sync_call(s, "PATCH", path, "application/strategic-merge-patch+json", patch, fn, data);
}

void sync_delete(struct sync *s, const char *path, const json_t *options, sync_result_fn fn, void *data)
{
	sync_call(s, "DELETE", path, NULL, options, fn, data);
}

void sync_then(struct sync *s, sync_then_fn fn)
{
	s->then = fn;
}

void sync_set_data(struct sync *s, void *data, void (*free_fn)(void *))
{
	s->data = data;
	s->free_data = free_fn;
}

void *sync_data(const struct sync *s)
{
	return s->data;
}

void sync_fail(struct sync *s)
{
	s->failed = true;
}

bool sync_failed(const struct sync *s)
{
	return s->failed;
}

void sync_requeue_after(struct sync *s, uint64_t ms)
{
	if (!s->requeue || ms < s->requeue_ms)
		s->requeue_ms = ms;
	s->requeue = true;
}

/* ---- controllers -------------------------------------------------------------- */

static void on_work(struct workqueue *q, const char *key, void *data)
{
	struct controller *c = data;
	struct sync *s;
	int rc;

	(void)q;
	s = sync_new(c, key, true);
	rc = c->sync(c, key, s);
	sync_seal(s, rc);
}

void controller_init(struct controller *c, struct controller_context *ctx, const char *name, int workers,
		     controller_sync_fn sync, void *priv)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->ctx = ctx;
	c->workers = workers > 0 ? workers : 1;
	c->sync = sync;
	c->priv = priv;
	c->queue = workqueue_new(ctx->loop, name);
}

void controller_run(struct controller *c)
{
	if (c->running || c->stopping)
		return;
	c->running = true;
	workqueue_start(c->queue, c->workers, on_work, c);
}

void controller_shutdown(struct controller *c, void (*on_closed)(void *arg), void *arg)
{
	log_info("controller=%s stopping syncs=%llu failed=%llu requests=%llu", c->name, (unsigned long long)c->syncs,
		 (unsigned long long)c->sync_failures, (unsigned long long)c->writes);
	c->stopping = true;
	workqueue_close(c->queue, on_closed, arg);
}

struct stop_and_free {
	void (*free_state)(void *);
	void *state;
	void (*done)(void *);
	void *arg;
};

static void on_stopped_free(void *arg)
{
	struct stop_and_free *sf = arg;

	if (sf->free_state)
		sf->free_state(sf->state);
	if (sf->done)
		sf->done(sf->arg);
	free(sf);
}

void controller_stop_and_free(struct controller *c, void (*free_state)(void *state), void *state,
			      void (*done)(void *arg), void *arg)
{
	struct stop_and_free *sf = xcalloc(1, sizeof(*sf));

	sf->free_state = free_state;
	sf->state = state;
	sf->done = done;
	sf->arg = arg;
	controller_shutdown(c, on_stopped_free, sf);
}

void controller_enqueue(struct controller *c, const char *key)
{
	if (key && !c->stopping)
		workqueue_add(c->queue, key);
}

void controller_enqueue_obj(struct controller *c, const json_t *obj)
{
	char *key;

	if (!obj_name(obj) || c->stopping)
		return;
	key = obj_key(obj);
	workqueue_add(c->queue, key);
	free(key);
}

void controller_enqueue_after(struct controller *c, const char *key, uint64_t delay_ms)
{
	if (key && !c->stopping)
		workqueue_add_after(c->queue, key, delay_ms);
}

struct sync_key_result {
	bool done;
	int rc;
	void (*prev)(struct controller *c, const char *key, int rc, void *data);
	void *prev_data;
};

static void on_sync_key_done(struct controller *c, const char *key, int rc, void *data)
{
	struct sync_key_result *r = data;

	(void)key;
	r->done = true;
	r->rc = rc;
	c->on_sync_done = r->prev;
	c->on_sync_done_data = r->prev_data;
}

int controller_sync_key(struct controller *c, const char *key)
{
	struct sync_key_result r = { false, 0, c->on_sync_done, c->on_sync_done_data };
	struct sync *s = sync_new(c, key, false);
	int rc;

	c->on_sync_done = on_sync_key_done;
	c->on_sync_done_data = &r;
	rc = c->sync(c, key, s);
	sync_seal(s, rc);
	if (!r.done) {
		/* Still waiting: stop listening, the stack frame goes away. */
		c->on_sync_done = r.prev;
		c->on_sync_done_data = r.prev_data;
		return 1;
	}
	return r.rc;
}

/* ---- helpers on objects ----------------------------------------------------- */

char *kind_path(const struct kind *k, const char *ns, const char *name, const char *sub)
{
	struct rest_resource r = kind_resource(k);

	return rest_resource_path(&r, k->namespaced ? ns : NULL, name, sub);
}

json_t *controller_ref_of(const json_t *obj)
{
	json_t *refs = obj_get(obj, "metadata.ownerReferences"), *r;
	size_t i;

	json_array_foreach(refs, i, r)
		if (obj_bool(r, "controller", false))
			return r;
	return NULL;
}

bool controlled_by(const json_t *obj, const char *uid)
{
	const char *u = obj_str(controller_ref_of(obj), "uid");

	return u && uid && !strcmp(u, uid);
}

json_t *controller_ref_new(const json_t *owner, const char *api_version, const char *kind)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion", api_version, "kind", kind, "name",
			 obj_name(owner) ? obj_name(owner) : "", "uid",
			 obj_str(owner, "metadata.uid") ? obj_str(owner, "metadata.uid") : "", "controller", 1,
			 "blockOwnerDeletion", 1);
}

static bool empty_value(const json_t *v)
{
	return !v || json_is_null(v) || (json_is_object(v) && !json_object_size(v)) ||
	       (json_is_array(v) && !json_array_size(v));
}

bool json_equal_or_empty(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return empty_value(a) && empty_value(b);
	return json_equal((json_t *)a, (json_t *)b);
}

bool obj_deleting(const json_t *obj)
{
	const char *ts = obj_str(obj, "metadata.deletionTimestamp");
	return ts && *ts;
}

bool obj_has_finalizer(const json_t *obj, const char *name)
{
	json_t *f;
	size_t i;

	json_array_foreach(obj_get(obj, "metadata.finalizers"), i, f)
		if (json_is_string(f) && !strcmp(json_string_value(f), name))
			return true;
	return false;
}

time_t obj_created(const json_t *obj)
{
	time_t t = 0;
	const char *s = obj_str(obj, "metadata.creationTimestamp");

	if (s)
		time_parse_rfc3339(s, &t);
	return t;
}

json_t *condition_get(const json_t *obj_or_status, const char *type)
{
	json_t *conds = obj_get(obj_or_status, "status.conditions"), *c;
	size_t i;

	if (!conds)
		conds = obj_get(obj_or_status, "conditions");
	json_array_foreach(conds, i, c) {
		const char *t = obj_str(c, "type");
		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

static bool str_eq(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

bool condition_set(json_t *conds, const char *type, const char *status, const char *reason, const char *message,
		   const char *now, bool with_update_time, bool keep_same)
{
	json_t *cur = NULL, *c, *n;
	size_t i, at = 0;

	json_array_foreach(conds, i, c) {
		if (str_eq(obj_str(c, "type"), type)) {
			cur = c;
			at = i;
			break;
		}
	}
	if (cur && str_eq(obj_str(cur, "status"), status) && str_eq(obj_str(cur, "reason"), reason) &&
	    (keep_same || str_eq(obj_str(cur, "message"), message)))
		return false;
	n = json_object();
	json_object_set_new(n, "type", json_string(type));
	json_object_set_new(n, "status", json_string(status));
	if (with_update_time)
		json_object_set_new(n, "lastUpdateTime", json_string(now));
	if (cur && str_eq(obj_str(cur, "status"), status) && obj_get(cur, "lastTransitionTime"))
		json_object_set(n, "lastTransitionTime", obj_get(cur, "lastTransitionTime"));
	else
		json_object_set_new(n, "lastTransitionTime", json_string(now));
	if (reason)
		json_object_set_new(n, "reason", json_string(reason));
	if (message)
		json_object_set_new(n, "message", json_string(message));
	if (cur)
		json_array_set_new(conds, at, n);
	else
		json_array_append_new(conds, n);
	return true;
}

bool condition_remove(json_t *conds, const char *type)
{
	json_t *c;
	size_t i;

	json_array_foreach(conds, i, c) {
		if (str_eq(obj_str(c, "type"), type)) {
			json_array_remove(conds, i);
			return true;
		}
	}
	return false;
}

bool pod_is_ready(const json_t *pod)
{
	json_t *c = condition_get(pod, "Ready");

	return c && str_eq(obj_str(c, "status"), "True");
}

bool pod_is_terminal(const json_t *pod)
{
	const char *p = obj_str(pod, "status.phase");

	return p && (!strcmp(p, "Succeeded") || !strcmp(p, "Failed"));
}

bool pod_is_active(const json_t *pod)
{
	return !pod_is_terminal(pod) && !obj_deleting(pod);
}

bool pod_is_available(const json_t *pod, int64_t min_ready_s, time_t now_s)
{
	json_t *c = condition_get(pod, "Ready");
	time_t since = 0;

	if (!c || !str_eq(obj_str(c, "status"), "True"))
		return false;
	if (min_ready_s <= 0)
		return true;
	if (!obj_str(c, "lastTransitionTime") || time_parse_rfc3339(obj_str(c, "lastTransitionTime"), &since) < 0)
		return false;
	return since + min_ready_s <= now_s;
}

int64_t int_or_percent(const json_t *v, int64_t total, bool round_up, int64_t def)
{
	const char *s;
	size_t n;
	int64_t pct;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (!json_is_string(v))
		return def;
	s = json_string_value(v);
	n = strlen(s);
	if (!n)
		return def;
	if (s[n - 1] != '%')
		return strtoll(s, NULL, 10);
	pct = strtoll(s, NULL, 10);
	if (round_up)
		return (pct * total + 99) / 100;
	return pct * total / 100;
}

void ctx_now_rfc3339(const struct controller_context *ctx, char *buf)
{
	time_format_rfc3339(ctx_now_s(ctx), buf);
}

bool selector_matches_labels(const json_t *selector, const json_t *labels, bool empty_matches_none)
{
	struct label_selector *sel = NULL;
	char *err = NULL;
	bool m;

	if (!selector || json_is_null(selector))
		return !empty_matches_none;
	if (label_selector_from_json(selector, &sel, &err) < 0) {
		free(err);
		return false;
	}
	m = (!empty_matches_none || !label_selector_empty(sel)) && label_selector_matches(sel, labels);
	label_selector_free(sel);
	return m;
}

json_t *owner_refs_without(const json_t *obj, const char *const *uids)
{
	json_t *out = json_array(), *r;
	size_t i;

	json_array_foreach(obj_get(obj, "metadata.ownerReferences"), i, r) {
		const char *u = obj_str(r, "uid");
		bool drop = false;
		for (const char *const *p = uids; *p && !drop; p++)
			drop = u && !strcmp(u, *p);
		if (!drop)
			json_array_append(out, r);
	}
	return out;
}

/* ---- adoption and release ------------------------------------------------------- */

struct claim_call {
	json_t *claimed;
	bool adopt;
};

static void free_claim_call(struct claim_call *cc)
{
	free(cc);
}

static int on_claim_done(struct sync *s, const struct api_result *r, void *data)
{
	struct claim_call *cc = data;
	int rc = 0;

	if (!r->error) {
		if (cc->adopt && json_is_object(r->body))
			json_array_append(cc->claimed, r->body);
	} else if (r->status == 404 || (!cc->adopt && r->status == 422)) {
		/* Gone, or (release) no longer ours to change: nothing to claim. */
		rc = 0;
	} else {
		rc = sync_check(s, r);
	}
	free_claim_call(cc);
	return rc;
}

static bool claim_matches(const struct label_selector *sel, const json_t *obj)
{
	return sel && !label_selector_empty(sel) && label_selector_matches(sel, obj_get(obj, "metadata.labels"));
}

void controller_claim(struct sync *s, const json_t *owner, const char *owner_api_version, const char *owner_kind,
		      const struct kind *dep_kind, const json_t *candidates, const struct label_selector *sel,
		      json_t *claimed)
{
	const char *uid = obj_str(owner, "metadata.uid");
	bool owner_deleting = obj_deleting(owner);
	json_t *obj;
	size_t i;

	json_array_foreach(candidates, i, obj) {
		json_t *ref = controller_ref_of(obj), *patch, *refs;
		struct claim_call *cc;
		char *path;

		if (ref) {
			if (!uid || !str_eq(obj_str(ref, "uid"), uid))
				continue;
			if (claim_matches(sel, obj)) {
				json_array_append(claimed, obj);
				continue;
			}
			if (owner_deleting)
				continue;
			/* Release: it no longer matches our selector. */
			const char *uids[] = { uid, NULL };
			refs = owner_refs_without(obj, uids);
		} else {
			if (owner_deleting || obj_deleting(obj) || !claim_matches(sel, obj))
				continue;
			refs = json_deep_copy(obj_get(obj, "metadata.ownerReferences"));
			if (!json_is_array(refs)) {
				json_decref(refs);
				refs = json_array();
			}
			json_array_append_new(refs, controller_ref_new(owner, owner_api_version, owner_kind));
		}
		cc = xcalloc(1, sizeof(*cc));
		cc->claimed = claimed;
		cc->adopt = !ref;
		patch = json_pack("{s:{s:o, s:s, s:s}}", "metadata", "ownerReferences", refs, "uid",
				  obj_str(obj, "metadata.uid") ? obj_str(obj, "metadata.uid") : "", "resourceVersion",
				  obj_str(obj, "metadata.resourceVersion") ? obj_str(obj, "metadata.resourceVersion") : "");
		path = kind_path(dep_kind, obj_namespace(obj), obj_name(obj), NULL);
		log_info("controller=%s %s %s %s/%s", sync_controller(s)->name, cc->adopt ? "adopting" : "releasing",
			 dep_kind->kind, obj_namespace(obj) ? obj_namespace(obj) : "", obj_name(obj));
		sync_merge_patch(s, path, patch, on_claim_done, cc);
		free(path);
		json_decref(patch);
	}
}
