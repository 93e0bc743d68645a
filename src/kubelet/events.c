/*
 * v1 Events about pods, written as the kubelet writes them (source
 * component "kubelet", host the node): Pulling, Pulled, Created, Started,
 * Killing, BackOff, Unhealthy, Failed. The same reason and message about
 * the same pod again patches count and lastTimestamp of the Event already
 * written, as client-go's correlator does, so a crash loop is one Event
 * with a growing count. Nobody waits for these writes.
 */
#include "kubelet/internal.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OP_EVENT = 300 };
#define MAX_SEEN 64

static void now_rfc3339(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void seen_free(struct kevent_seen *s)
{
	free(s->key);
	free(s->name);
	free(s);
}

void kevents_release(struct kpod *p)
{
	while (p->events) {
		struct kevent_seen *s = p->events;
		p->events = s->next;
		seen_free(s);
	}
	p->nevents = 0;
}

static struct kevent_seen *seen_find(struct kpod *p, const char *key)
{
	for (struct kevent_seen *s = p->events; s; s = s->next)
		if (!strcmp(s->key, key))
			return s;
	return NULL;
}

static void on_event_written(const struct rest_response *r, void *data)
{
	struct kop *op = data;
	struct kevent_seen *s = seen_find(op->p, op->str);

	op->rreq = NULL;
	if (s) {
		s->writing = false;
		if (r->error) {
			/* The Event went (expired) or never came: write a new one next time. */
			free(s->name);
			s->name = NULL;
		} else if (!s->name) {
			s->name = xstrdup(obj_name(r->body) ?: "");
		}
	}
	if (r->error)
		log_debug("kubelet cannot write event pod=%s: %s", op->p->key, r->error);
	kop_free(op);
}

void kevent(struct kpod *p, const char *type, const char *reason, const char *field_path, const char *fmt, ...)
{
	struct kubelet *k = p->k;
	struct kevent_seen *s;
	struct kop *op;
	char now[32], *msg, *key, *path;
	va_list ap;
	json_t *body;

	if (k->stopping || !p->ns[0] || !p->name[0])
		return;
	va_start(ap, fmt);
	{
		struct strbuf sb;
		strbuf_init(&sb, 128);
		strbuf_vaddf(&sb, fmt, ap);
		msg = strbuf_detach(&sb, NULL);
	}
	va_end(ap);
	log_debug("kubelet event pod=%s type=%s reason=%s message=\"%s\"", p->key, type, reason, msg);
	now_rfc3339(now, sizeof(now));
	key = xasprintf("%s\x1f%s\x1f%s", reason, field_path ? field_path : "", msg);
	s = seen_find(p, key);
	if (s) {
		s->count++;
		free(key);
		if (!s->name || s->writing) {
			free(msg);
			return;
		}
		op = kop_new(k, p, OP_EVENT);
		op->str = xstrdup(s->key);
		body = json_pack("{s:I, s:s}", "count", (json_int_t)s->count, "lastTimestamp", now);
		path = xasprintf("/api/v1/namespaces/%s/events/%s", p->ns, s->name);
		s->writing = true;
		op->rreq = rest_patch(k->rest, path, "application/merge-patch+json", body, on_event_written, op);
		json_decref(body);
		free(path);
		free(msg);
		if (!op->rreq) {
			s->writing = false;
			kop_free(op);
		}
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->key = key;
	s->count = 1;
	snprintf(s->first, sizeof(s->first), "%s", now);
	s->writing = true;
	s->next = p->events;
	p->events = s;
	if (++p->nevents > MAX_SEEN) {
		/* Forget the oldest: at worst a later repeat writes a new Event. */
		struct kevent_seen **pp = &p->events;
		while ((*pp)->next)
			pp = &(*pp)->next;
		if (!(*pp)->writing) {
			seen_free(*pp);
			*pp = NULL;
			p->nevents--;
		}
	}
	{
		struct timespec ts;
		char name[300];
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(name, sizeof(name), "%s.%llx", p->name,
			 (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
		body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:i, s:s, s:s, "
				 "s:{s:s, s:s}, s:s, s:s}",
				 "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace", p->ns,
				 "involvedObject", "apiVersion", "v1", "kind", "Pod", "namespace", p->ns, "name", p->name,
				 "uid", p->uid, "reason", reason, "message", msg, "type", type, "count", 1,
				 "firstTimestamp", now, "lastTimestamp", now, "source", "component", "kubelet", "host",
				 k->node_name, "reportingComponent", "kubelet", "reportingInstance", k->node_name);
	}
	if (field_path)
		obj_set(body, "involvedObject.fieldPath", json_string(field_path));
	op = kop_new(k, p, OP_EVENT);
	op->str = xstrdup(s->key);
	path = xasprintf("/api/v1/namespaces/%s/events", p->ns);
	op->rreq = rest_create(k->rest, path, body, on_event_written, op);
	json_decref(body);
	free(path);
	free(msg);
	if (!op->rreq) {
		s->writing = false;
		kop_free(op);
	}
}
