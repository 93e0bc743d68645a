/*
 * Watch streams: `GET /api/v1/pods?watch=1&resourceVersion=N` answers with a
 * chunked stream of one JSON event per line. Each watcher is a store watch
 * on its collection's key prefix plus this request's selectors:
 *
 *   store commit -> store_event (the version's stored text) -> each watcher:
 *       match(new)? match(prev)?  -> ADDED / MODIFIED / DELETED / skip
 *       -> {"type":...,"object":...}\n  -> http_stream_write
 *
 * A selector turns a change into ADDED or DELETED when the object starts or
 * stops matching, as Kubernetes' cacher does. A resourceVersion older than
 * the store's window gets one ERROR event with a 410 Expired Status. A client
 * that reads too slowly is cut off (it relists and watches again), so one
 * slow watcher cannot grow the server's memory without bound.
 */
#include "apiserver/apiserver.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Bytes queued to one watcher beyond which it is disconnected. */
#define WATCH_MAX_PENDING (32u << 20)
/* Kubernetes ends watches after a random 30-60 min; clients re-watch. */
#define WATCH_DEFAULT_TIMEOUT_MS (30 * 60 * 1000)

struct watcher {
	struct apiserver *as;
	struct http_request *req;
	struct store_watch *sw;
	struct filter f;
	bool table;
	bool bookmarks;
	bool ended;
	uint64_t deadline_ms;
	uv_timer_t timer;
	struct watcher *prev, *next;
};

struct watch_hub {
	struct watcher *head;
};

static struct watch_hub *hub(struct apiserver *as)
{
	if (!as->watches)
		as->watches = xcalloc(1, sizeof(*as->watches));
	return as->watches;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct watcher *w = h->data;

	filter_release(&w->f);
	http_request_unref(w->req);
	free(w);
}

/* Ends the stream (if the client is still there) and frees the watcher once
 * its timer has closed. Safe to call from the store's event callback. */
static void watcher_end(struct watcher *w)
{
	if (w->ended)
		return;
	w->ended = true;
	if (w->sw)
		store_watch_stop(w->sw);
	w->sw = NULL;
	http_request_on_close(w->req, NULL, NULL);
	http_stream_end(w->req);
	if (w->prev)
		w->prev->next = w->next;
	else
		hub(w->as)->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}

static void on_client_gone(struct http_request *req, void *data)
{
	(void)req;
	watcher_end(data);
}

/* Writes one event line, {"type":...,"object":<js>}, and cuts off a client
 * that lets too much pile up. */
static void write_event(struct watcher *w, const char *type, const char *js, size_t len)
{
	struct strbuf sb;

	strbuf_init(&sb, len + 40);
	strbuf_addf(&sb, "{\"type\":\"%s\",\"object\":", type);
	strbuf_add(&sb, js, len);
	strbuf_adds(&sb, "}\n");
	http_stream_write(w->req, sb.buf, sb.len);
	strbuf_release(&sb);
	if (http_stream_pending(w->req) > WATCH_MAX_PENDING) {
		log_warn("watch too slow, closing it client=%s pending=%zu", w->req->remote_addr,
			 http_stream_pending(w->req));
		watcher_end(w);
	}
}

/* An ERROR event's Status. */
static void write_status(struct watcher *w, json_t *st)
{
	size_t len;
	char *js = obj_dump(st, &len);

	write_event(w, "ERROR", js, len);
	free(js);
	json_decref(st);
}

/* A stored version: its text as stored, shared by every watcher, or for
 * kubectl get -w a Table with its row. */
static void write_stored(struct watcher *w, const char *type, struct store_obj *o)
{
	const char *js;
	size_t len;

	if (w->table) {
		const json_t *obj = store_obj_tree(o);
		json_t *arr = json_array(), *t;
		char *s;

		json_array_append(arr, (json_t *)obj);
		t = table_new(w->f.k, arr, w->req);
		obj_set(t, "metadata.resourceVersion", json_string(obj_str(obj, "metadata.resourceVersion") ?: ""));
		s = obj_dump(t, &len);
		write_event(w, type, s, len);
		free(s);
		json_decref(t);
		json_decref(arr);
		return;
	}
	js = store_obj_json(o, &len);
	write_event(w, type, js, len);
}

static void on_store_event(const struct store_event *ev, void *data)
{
	struct watcher *w = data;
	bool now, before;
	const char *type;

	if (w->ended)
		return;
	now = filter_matches(&w->f, ev->obj);
	before = ev->prev ? filter_matches(&w->f, ev->prev) : false;
	switch (ev->type) {
	case STORE_ADDED:
		if (!now)
			return;
		type = "ADDED";
		break;
	case STORE_MODIFIED:
		if (now && before)
			type = "MODIFIED";
		else if (now)
			type = "ADDED";
		else if (before)
			type = "DELETED";
		else
			return;
		break;
	default:
		if (!now && !before)
			return;
		type = "DELETED";
	}
	write_stored(w, type, ev->obj);
}

static void send_bookmark(struct watcher *w)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
			 "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":"
			 "{\"resourceVersion\":\"%" PRId64 "\"}}}\n",
			 w->f.k->kind, kind_api_version(w->f.k), store_revision(w->as->store));
	http_stream_write(w->req, buf, (size_t)n);
}

static void on_timer(uv_timer_t *t)
{
	struct watcher *w = t->data;

	if (now_ms() >= w->deadline_ms) {
		watcher_end(w);
		return;
	}
	if (w->bookmarks)
		send_bookmark(w);
}

struct initial_ctx {
	struct watcher *w;
};

static int send_initial(const char *key, struct store_obj *o, void *data)
{
	struct watcher *w = data;

	(void)key;
	if (!w->ended && filter_matches(&w->f, o))
		write_stored(w, "ADDED", o);
	return w->ended;
}

void handle_watch(struct apiserver *as, struct http_request *req, const struct api_path *p)
{
	struct watcher *w = xcalloc(1, sizeof(*w));
	char *rvs = http_request_query(req, "resourceVersion");
	char *timeout = http_request_query(req, "timeoutSeconds");
	char *prefix = storage_prefix(p->kind, p->has_namespace ? p->namespace : NULL);
	char *bm = http_request_query(req, "allowWatchBookmarks");
	int64_t from;
	int rc;

	if (filter_init(&w->f, p->kind, req) < 0) {
		free(w);
		goto out;
	}
	w->as = as;
	w->req = req;
	http_request_ref(req);
	w->table = request_wants_table(req);
	w->bookmarks = bm && (!strcmp(bm, "true") || !strcmp(bm, "1"));
	w->deadline_ms = now_ms() + (timeout && atoll(timeout) > 0 ? (uint64_t)atoll(timeout) * 1000
								   : WATCH_DEFAULT_TIMEOUT_MS);
	uv_timer_init(as->loop, &w->timer);
	w->timer.data = w;
	w->next = hub(as)->head;
	if (w->next)
		w->next->prev = w;
	hub(as)->head = w;

	http_stream_start(req, 200, w->table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json");
	http_request_on_close(req, on_client_gone, w);

	if (!rvs || !*rvs || !strcmp(rvs, "0")) {
		/* No revision: the current state as ADDED events, then changes. */
		from = store_revision(as->store);
		store_list(as->store, prefix, send_initial, w);
	} else {
		char *end;
		from = strtoll(rvs, &end, 10);
		if (*end || from < 0) {
			write_status(w, status_new(400, "BadRequest", "invalid resourceVersion: must be a number"));
			watcher_end(w);
			goto out;
		}
	}
	if (w->ended)
		goto out;
	rc = store_watch(as->store, prefix, from, on_store_event, w, &w->sw);
	if (rc == STORE_EEXPIRED) {
		char msg[128];
		snprintf(msg, sizeof(msg), "too old resource version: %" PRId64 " (%" PRId64 ")", from,
			 store_oldest_watchable(as->store) - 1);
		write_status(w, status_new(410, "Expired", msg));
		w->sw = NULL;
		watcher_end(w);
		goto out;
	}
	if (w->ended) {
		/* Cut off while the backlog was delivered. */
		if (w->sw)
			store_watch_stop(w->sw);
		w->sw = NULL;
		goto out;
	}
	{
		uint64_t interval = (uint64_t)as->cfg.watch_bookmark_interval_ms;
		uint64_t left = w->deadline_ms - now_ms();
		if (!interval)
			interval = 60000;
		uv_timer_start(&w->timer, on_timer, interval < left ? interval : left, interval);
	}
out:
	free(rvs);
	free(timeout);
	free(prefix);
	free(bm);
}

void watch_hub_close(struct apiserver *as)
{
	if (!as->watches)
		return;
	while (as->watches->head)
		watcher_end(as->watches->head);
	free(as->watches);
	as->watches = NULL;
}
