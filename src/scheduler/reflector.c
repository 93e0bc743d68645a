/*
 * The list/watch state machine behind reflector.h, the informer's without
 * its cache: one uv_timer drives every retry, relist and re-watch, so no
 * request starts from inside a handler of this reflector.
 */
#include "scheduler/reflector.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

#define BACKOFF_INITIAL_MS 100
#define BACKOFF_MAX_MS 10000
/* A watch that lasted this long was healthy even if it saw no events. */
#define WATCH_HEALTHY_MS 1000

struct reflector {
	struct rest_client *c;
	char *name, *path, *field_selector;
	struct reflector_handlers h;
	char *rv;
	struct rest_request *list_req, *watch_req;
	uv_timer_t retry;
	uint64_t backoff_ms;
	uint64_t watch_started_ms;
	bool watch_had_events, need_list, synced, started, closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
};

struct reflector *reflector_new(struct rest_client *c, const char *name, const char *path,
				const char *field_selector, const struct reflector_handlers *h)
{
	struct reflector *r = xcalloc(1, sizeof(*r));

	r->c = c;
	r->name = xstrdup(name);
	r->path = xstrdup(path);
	r->field_selector = field_selector && *field_selector ? xstrdup(field_selector) : NULL;
	r->h = *h;
	r->rv = xstrdup("");
	r->backoff_ms = BACKOFF_INITIAL_MS;
	r->need_list = true;
	uv_timer_init(rest_client_loop(c), &r->retry);
	r->retry.data = r;
	return r;
}

bool reflector_synced(const struct reflector *r)
{
	return r->synced;
}

static void set_rv(struct reflector *r, const char *rv)
{
	if (!rv || !*rv)
		return;
	free(r->rv);
	r->rv = xstrdup(rv);
}

static uint64_t next_backoff(struct reflector *r)
{
	uint64_t d = r->backoff_ms;

	r->backoff_ms = d * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d * 2;
	return d;
}

static void on_retry(uv_timer_t *t);

static void schedule(struct reflector *r, uint64_t delay_ms)
{
	if (!r->closing)
		uv_timer_start(&r->retry, on_retry, delay_ms, 0);
}

static void base_path(struct reflector *r, struct strbuf *sb)
{
	strbuf_adds(sb, r->path);
	if (r->field_selector)
		rest_query_add(sb, "fieldSelector", r->field_selector);
}

static void on_list_done(const struct rest_response *resp, void *data)
{
	struct reflector *r = data;
	json_t *items, *obj;
	size_t i;

	r->list_req = NULL;
	items = resp->error ? NULL : json_object_get(resp->body, "items");
	if (resp->error || !(json_is_array(items) || json_is_null(items))) {
		uint64_t d = next_backoff(r);
		log_warn("reflector resource=%s list failed: %s; retrying in %llu ms", r->name,
			 resp->error ? resp->error : "the answer has no items", (unsigned long long)d);
		schedule(r, d);
		return;
	}
	if (r->h.list_begin)
		r->h.list_begin(r->h.data);
	json_array_foreach(items, i, obj) {
		if (r->closing)
			return;
		if (json_is_object(obj) && obj_name(obj) && r->h.list_item)
			r->h.list_item(obj, r->h.data);
	}
	if (r->closing)
		return;
	/* Synced before list_end runs, so its handler sees reflector_synced(). */
	set_rv(r, obj_str(resp->body, "metadata.resourceVersion"));
	r->need_list = false;
	r->synced = true;
	r->backoff_ms = BACKOFF_INITIAL_MS;
	if (r->h.list_end)
		r->h.list_end(r->h.data);
	if (r->closing)
		return;
	log_debug("reflector resource=%s listed objects=%zu rv=%s", r->name, json_array_size(items), r->rv);
	schedule(r, 0);
}

static void on_watch_event(const char *type, json_t *obj, void *data)
{
	struct reflector *r = data;
	int rc = 0;

	if (!strcmp(type, "ERROR")) {
		if (obj_int(obj, "code", 0) == 410) {
			log_info("reflector resource=%s watch expired rv=%s: relisting", r->name, r->rv);
			r->need_list = true;
			rc = 1;
		} else {
			log_warn("reflector resource=%s watch error code=%lld message=\"%s\"", r->name,
				 (long long)obj_int(obj, "code", 0), obj_str(obj, "message") ?: "");
			rc = -1;
		}
	} else if (!strcmp(type, "BOOKMARK")) {
		set_rv(r, obj_str(obj, "metadata.resourceVersion"));
	} else if (json_is_object(obj) && obj_name(obj)) {
		r->watch_had_events = true;
		r->backoff_ms = BACKOFF_INITIAL_MS;
		/* Remember the version first: a handler may close us. */
		set_rv(r, obj_str(obj, "metadata.resourceVersion"));
		if (r->h.event)
			r->h.event(type, obj, r->h.data);
	}
	if (r->closing || !rc)
		return;
	/* The server ends the stream after an ERROR anyway; do not wait for it. */
	rest_cancel(r->watch_req);
	r->watch_req = NULL;
	schedule(r, rc > 0 ? 0 : next_backoff(r));
}

static void on_watch_done(const struct rest_response *resp, void *data)
{
	struct reflector *r = data;
	bool healthy = r->watch_had_events || now_ms() - r->watch_started_ms >= WATCH_HEALTHY_MS;

	r->watch_req = NULL;
	if (resp->status == 410) {
		log_info("reflector resource=%s watch expired rv=%s: relisting", r->name, r->rv);
		r->need_list = true;
		schedule(r, 0);
		return;
	}
	if (resp->error) {
		uint64_t d = next_backoff(r);
		log_warn("reflector resource=%s watch ended: %s; retrying in %llu ms", r->name, resp->error,
			 (unsigned long long)d);
		schedule(r, d);
		return;
	}
	schedule(r, healthy ? 0 : next_backoff(r));
}

static void start_list(struct reflector *r)
{
	struct strbuf sb;

	strbuf_init(&sb, 128);
	base_path(r, &sb);
	r->list_req = rest_get(r->c, sb.buf, on_list_done, r);
	if (!r->list_req) {
		log_error("reflector resource=%s cannot start its list", r->name);
		schedule(r, next_backoff(r));
	}
	strbuf_release(&sb);
}

static void start_watch(struct reflector *r)
{
	struct strbuf sb;
	char timeout[16];

	strbuf_init(&sb, 160);
	base_path(r, &sb);
	rest_query_add(&sb, "watch", "1");
	if (*r->rv)
		rest_query_add(&sb, "resourceVersion", r->rv);
	rest_query_add(&sb, "allowWatchBookmarks", "true");
	/* Spread reconnects of many clients over 5-10 minutes, as client-go does. */
	snprintf(timeout, sizeof(timeout), "%d", 300 + (int)((now_ms() ^ (uintptr_t)r) % 300));
	rest_query_add(&sb, "timeoutSeconds", timeout);
	r->watch_started_ms = now_ms();
	r->watch_had_events = false;
	r->watch_req = rest_watch(r->c, sb.buf, on_watch_event, on_watch_done, r);
	if (!r->watch_req) {
		log_error("reflector resource=%s cannot start its watch", r->name);
		schedule(r, next_backoff(r));
	}
	strbuf_release(&sb);
}

static void on_retry(uv_timer_t *t)
{
	struct reflector *r = t->data;

	if (r->closing || r->list_req || r->watch_req)
		return;
	if (r->need_list)
		start_list(r);
	else
		start_watch(r);
}

void reflector_start(struct reflector *r)
{
	if (r->started || r->closing)
		return;
	r->started = true;
	schedule(r, 0);
}

static void on_retry_closed(uv_handle_t *h)
{
	struct reflector *r = h->data;
	void (*cb)(void *) = r->on_closed;
	void *arg = r->closed_arg;

	free(r->name);
	free(r->path);
	free(r->field_selector);
	free(r->rv);
	free(r);
	if (cb)
		cb(arg);
}

void reflector_close(struct reflector *r, void (*on_closed)(void *arg), void *arg)
{
	if (r->closing)
		return;
	r->closing = true;
	r->on_closed = on_closed;
	r->closed_arg = arg;
	rest_cancel(r->list_req);
	rest_cancel(r->watch_req);
	r->list_req = r->watch_req = NULL;
	uv_close((uv_handle_t *)&r->retry, on_retry_closed);
}
