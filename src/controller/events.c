/*
 * The controllers' event recorder (controller.h): writes v1 Events the way
 * client-go's recorder and its EventCorrelator do, in three steps.
 *   spam filter  each involved object may write 25 events at once, then
 *                one per 5 minutes (a token bucket per object and source);
 *   aggregator   after 10 different messages with the same reason about one
 *                object within 10 minutes, further ones become one combined
 *                event "(combined from similar events): <message>";
 *   dedupe       the same event again patches count and lastTimestamp of
 *                the Event already written instead of writing a new one.
 * Writes go through the controller client and nobody waits for them.
 */
#include "controller/controller.h"
#include "log.h"
#include "object.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPAM_BURST 25.0
#define SPAM_REFILL_PER_MS (1.0 / (300.0 * 1000.0))
#define AGGREGATE_MAX_EVENTS 10
#define AGGREGATE_INTERVAL_MS (600 * 1000)
/* Caches are dropped wholesale past this size, as a crude LRU. */
#define CACHE_MAX 4096

struct ev_written {
	char *name, *ns;       /* the Event object, once created */
	int64_t count;
	char first[TIME_RFC3339_LEN];
	bool creating;
};

struct ev_similar {
	int64_t first_ms;
	json_t *messages;      /* set of messages seen */
};

struct ev_bucket {
	double tokens;
	int64_t last_ms;
};

struct event_recorder {
	struct controller_client *cc;
	char *component;
	int64_t (*clock)(void);
	struct keymap *written;   /* full key -> ev_written */
	struct keymap *similar;   /* object + type + reason -> ev_similar */
	struct keymap *buckets;   /* object -> ev_bucket */
	uint64_t seq;
	size_t nwritten, ndropped;
	int pending;
	bool freeing;
};

static void free_written(void *p)
{
	struct ev_written *w = p;

	free(w->name);
	free(w->ns);
	free(w);
}

static void free_similar(void *p)
{
	struct ev_similar *s = p;

	json_decref(s->messages);
	free(s);
}

/* Before adding to a cache: past CACHE_MAX entries it starts over empty. */
static void make_room(struct keymap **cache, void (*free_value)(void *))
{
	if (keymap_size(*cache) >= CACHE_MAX) {
		keymap_free(*cache, free_value);
		*cache = keymap_new();
	}
}

struct event_recorder *event_recorder_new(struct controller_client *cc, const char *component,
					  int64_t (*clock)(void))
{
	struct event_recorder *r = xcalloc(1, sizeof(*r));

	r->cc = cc;
	r->component = xstrdup(component);
	r->clock = clock ? clock : wall_clock_ms;
	r->written = keymap_new();
	r->similar = keymap_new();
	r->buckets = keymap_new();
	return r;
}

static void recorder_destroy(struct event_recorder *r)
{
	keymap_free(r->written, free_written);
	keymap_free(r->similar, free_similar);
	keymap_free(r->buckets, free);
	free(r->component);
	free(r);
}

void event_recorder_free(struct event_recorder *r)
{
	if (!r)
		return;
	r->freeing = true;
	if (r->pending == 0)
		recorder_destroy(r);
}

size_t event_recorder_written(const struct event_recorder *r)
{
	return r->nwritten;
}

size_t event_recorder_dropped(const struct event_recorder *r)
{
	return r->ndropped;
}

/* One write in flight. */
struct ev_call {
	struct event_recorder *r;
	char *key;          /* into r->written */
	json_t *event;      /* for a re-create after a 404 patch */
	bool patch;
};

static void ev_send(struct event_recorder *r, struct ev_call *call, const char *method, const char *path,
		    const char *ctype, const json_t *body);

static void ev_call_free(struct ev_call *call)
{
	json_decref(call->event);
	free(call->key);
	free(call);
}

static void on_event_written(const struct api_result *res, void *data)
{
	struct ev_call *call = data;
	struct event_recorder *r = call->r;
	struct ev_written *w = r->freeing ? NULL : keymap_get(r->written, call->key);

	r->pending--;
	if (!res->error) {
		if (w && !call->patch) {
			w->creating = false;
			free(w->name);
			free(w->ns);
			w->name = xstrdup(obj_name(res->body) ? obj_name(res->body) : obj_name(call->event));
			w->ns = xstrdup(obj_namespace(call->event));
		}
	} else if (call->patch && res->status == 404 && w && !r->freeing) {
		/* Someone deleted it (event TTL): write it anew with the count. */
		char *path = xasprintf("/api/v1/namespaces/%s/events", obj_namespace(call->event));
		struct ev_call *again = xcalloc(1, sizeof(*again));
		w->creating = true;
		again->r = r;
		again->key = call->key;
		again->event = call->event;
		call->key = NULL;
		call->event = NULL;
		obj_del(again->event, "metadata.resourceVersion");
		ev_send(r, again, "POST", path, NULL, again->event);
		free(path);
	} else {
		if (w)
			w->creating = false;
		log_debug("events component=%s cannot write event: %s", r->component, res->error);
	}
	ev_call_free(call);
	if (r->freeing && r->pending == 0)
		recorder_destroy(r);
}

static void ev_send(struct event_recorder *r, struct ev_call *call, const char *method, const char *path,
		    const char *ctype, const json_t *body)
{
	r->pending++;
	r->nwritten++;
	controller_client_send(r->cc, method, path, ctype, body, on_event_written, call);
}

/* The spam filter: true if the object may write an event now. */
static bool spam_allow(struct event_recorder *r, const char *okey, int64_t now)
{
	struct ev_bucket *b = keymap_get(r->buckets, okey);

	if (!b) {
		make_room(&r->buckets, free);
		b = xcalloc(1, sizeof(*b));
		b->tokens = SPAM_BURST;
		b->last_ms = now;
		keymap_put(r->buckets, okey, b);
	}
	b->tokens += (double)(now - b->last_ms) * SPAM_REFILL_PER_MS;
	if (b->tokens > SPAM_BURST)
		b->tokens = SPAM_BURST;
	b->last_ms = now;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

/* The aggregator: whether this message should be combined. */
static bool aggregate(struct event_recorder *r, const char *akey, const char *message, int64_t now)
{
	struct ev_similar *s = keymap_get(r->similar, akey);

	if (s && now - s->first_ms > AGGREGATE_INTERVAL_MS) {
		free_similar(keymap_del(r->similar, akey));
		s = NULL;
	}
	if (!s) {
		make_room(&r->similar, free_similar);
		s = xcalloc(1, sizeof(*s));
		s->first_ms = now;
		s->messages = json_object();
		keymap_put(r->similar, akey, s);
	}
	json_object_set_new(s->messages, message, json_true());
	return json_object_size(s->messages) > AGGREGATE_MAX_EVENTS;
}

/* An Event's involvedObject; rv NULL leaves resourceVersion out. New reference. */
static json_t *involved_object(const char *api_version, const char *kind, const char *ns, const char *name,
			       const char *uid, const char *rv)
{
	json_t *io = json_pack("{s:s, s:s, s:s}", "kind", kind ? kind : "", "name", name, "apiVersion",
			       api_version ? api_version : "");

	if (ns && *ns)
		json_object_set_new(io, "namespace", json_string(ns));
	if (uid && *uid)
		json_object_set_new(io, "uid", json_string(uid));
	if (rv && *rv)
		json_object_set_new(io, "resourceVersion", json_string(rv));
	return io;
}

static void record(struct event_recorder *r, const char *api_version, const char *kind, const char *ns,
		   const char *name, const char *uid, const char *rv, const char *type, const char *reason,
		   const char *message)
{
	int64_t now = r->clock();
	char ts[TIME_RFC3339_LEN];
	const char *event_ns = ns && *ns ? ns : "default";
	char *okey, *akey, *fkey, *msg, *path;
	struct ev_written *w;
	struct ev_call *call;
	json_t *ev, *io;

	if (!name || !*name || !reason)
		return;
	time_format_rfc3339((time_t)(now / 1000), ts);
	okey = xasprintf("%s|%s|%s|%s|%s|%s", r->component, kind ? kind : "", ns ? ns : "", name, uid ? uid : "",
			 api_version ? api_version : "");
	if (!spam_allow(r, okey, now)) {
		r->ndropped++;
		log_trace("events component=%s dropped reason=%s object=%s/%s (spam filter)", r->component, reason,
			  event_ns, name);
		free(okey);
		return;
	}
	akey = xasprintf("%s|%s|%s", okey, type, reason);
	if (aggregate(r, akey, message, now)) {
		/* Every combined message counts on one Event. */
		msg = xasprintf("(combined from similar events): %s", message);
		fkey = xasprintf("%s|(combined)", akey);
	} else {
		msg = xstrdup(message);
		fkey = xasprintf("%s|%s", akey, msg);
	}

	w = keymap_get(r->written, fkey);
	if (w) {
		w->count++;
		if (w->creating || !w->name) {
			/* The first write has not answered yet; the count shows next time. */
			goto out;
		}
		path = xasprintf("/api/v1/namespaces/%s/events/%s", w->ns, w->name);
		json_t *patch = json_pack("{s:s, s:I, s:s}", "message", msg, "count", (json_int_t)w->count,
					  "lastTimestamp", ts);
		call = xcalloc(1, sizeof(*call));
		call->r = r;
		call->key = xstrdup(fkey);
		call->patch = true;
		/* Kept to write it anew if the Event was deleted meanwhile. */
		call->event = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Event", "metadata",
					"name", w->name, "namespace", w->ns);
		json_object_set_new(call->event, "involvedObject",
				    involved_object(api_version, kind, ns, name, uid, NULL));
		json_object_set_new(call->event, "reason", json_string(reason));
		json_object_set_new(call->event, "message", json_string(msg));
		json_object_set_new(call->event, "type", json_string(type));
		json_object_set_new(call->event, "source", json_pack("{s:s}", "component", r->component));
		json_object_set_new(call->event, "count", json_integer(w->count));
		json_object_set_new(call->event, "firstTimestamp", json_string(w->first));
		json_object_set_new(call->event, "lastTimestamp", json_string(ts));
		json_object_set_new(call->event, "reportingComponent", json_string(r->component));
		json_object_set_new(call->event, "reportingInstance", json_string(""));
		ev_send(r, call, "PATCH", path, "application/merge-patch+json", patch);
		json_decref(patch);
		free(path);
		goto out;
	}

	make_room(&r->written, free_written);
	w = xcalloc(1, sizeof(*w));
	w->count = 1;
	w->creating = true;
	memcpy(w->first, ts, sizeof(ts));
	keymap_put(r->written, fkey, w);

	io = involved_object(api_version, kind, ns, name, uid, rv);
	/* Kubernetes names events "<object>.<unix nanoseconds in hex>". */
	ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:s, s:{s:s}, s:i, s:s, s:s, s:s, s:s}",
		       "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace", event_ns, "involvedObject", io, "reason", reason, "message", msg, "type", type,
		       "source", "component", r->component, "count", 1, "firstTimestamp", ts, "lastTimestamp", ts,
		       "reportingComponent", r->component, "reportingInstance", "");
	{
		char *ename = xasprintf("%s.%llx", name,
					(unsigned long long)now * 1000000ull + (unsigned long long)(r->seq++ % 1000000));
		obj_set(ev, "metadata.name", json_string(ename));
		free(ename);
	}
	call = xcalloc(1, sizeof(*call));
	call->r = r;
	call->key = xstrdup(fkey);
	call->event = ev;
	path = xasprintf("/api/v1/namespaces/%s/events", event_ns);
	log_debug("event component=%s object=%s/%s %s type=%s reason=%s message=\"%s\"", r->component, event_ns, name,
		  kind ? kind : "", type, reason, msg);
	ev_send(r, call, "POST", path, NULL, ev);
	free(path);
out:
	free(okey);
	free(akey);
	free(fkey);
	free(msg);
}

void event_record_ref(struct event_recorder *r, const char *api_version, const char *kind, const char *ns,
		      const char *name, const char *uid, const char *type, const char *reason, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	if (!r || r->freeing)
		return;
	strbuf_init(&sb, 64);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	record(r, api_version, kind, ns, name, uid, NULL, type, reason, sb.buf);
	strbuf_release(&sb);
}

void event_record(struct event_recorder *r, const json_t *obj, const char *type, const char *reason,
		  const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	if (!r || r->freeing || !obj)
		return;
	strbuf_init(&sb, 64);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	record(r, obj_str(obj, "apiVersion"), obj_kind(obj), obj_namespace(obj), obj_name(obj),
	       obj_str(obj, "metadata.uid"), obj_str(obj, "metadata.resourceVersion"), type, reason, sb.buf);
	strbuf_release(&sb);
}
