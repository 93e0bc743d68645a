/*
 * The event bus (port 4005): `POST /events` stores the event and forwards it
 * to every service's `POST /events` (posts, comments, query, moderation);
 * `GET /events` returns all stored events, which is how a restarted query
 * catches up. Each subscriber gets the events one at a time, in the order
 * the bus stored them: a CommentUpdated never overtakes its CommentCreated.
 * When a subscriber cannot be reached (its pod is gone, or not ready) the bus
 * tries the same event again, waiting longer each time up to 5 s, so a
 * service that comes back gets what it missed: at least once, never out of
 * order. A subscriber that answers 4xx refused the event; that one is skipped.
 */
#include "blog.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "object.h"

struct subscriber {
	struct blog *b;
	const char *name;
	char *url;     /* ".../events" */
	size_t next;   /* index of the next event to deliver */
	bool busy;     /* a delivery is in flight, or waiting to be tried again */
	int failures;  /* failed attempts at events[next] */
	uv_timer_t retry;
};

#define RETRY_FIRST_MS 500
#define RETRY_MAX_MS 5000

struct event_bus {
	json_t *events;  /* every event, in arrival order */
	struct subscriber subs[4];
};

static void deliver(struct subscriber *s);

static void on_retry(uv_timer_t *t)
{
	struct subscriber *s = t->data;

	s->busy = false;
	deliver(s);
}

static void on_delivered(const struct fetch_response *res, void *arg)
{
	struct subscriber *s = arg;
	struct event_bus *bus = s->b->state;
	const char *type = json_string_value(json_object_get(json_array_get(bus->events, s->next), "type"));
	uint64_t wait_ms = RETRY_FIRST_MS;

	if (s->b->stopping)
		return;
	if (res->error || res->status / 100 == 5) {
		/* Not there (yet): the same event again, later. Say so once per outage. */
		if (s->failures++ == 0)
			log_warn("cannot deliver to=%s type=%s, trying again until it answers error=\"%s\"", s->name,
				 type, res->error ? res->error : http_status_text((int)res->status));
		for (int i = 1; i < s->failures && wait_ms < RETRY_MAX_MS; i++)
			wait_ms *= 2;
		uv_timer_start(&s->retry, on_retry, wait_ms < RETRY_MAX_MS ? wait_ms : RETRY_MAX_MS, 0);
		return;
	}
	if (s->failures)
		log_info("subscriber answers again name=%s attempts=%d", s->name, s->failures + 1);
	if (res->status / 100 != 2)
		log_warn("event refused by=%s type=%s code=%ld body=%s", s->name, type, res->status, res->body);
	else
		log_debug("event delivered to=%s type=%s", s->name, type);
	s->failures = 0;
	s->busy = false;
	s->next++;
	deliver(s);
}

static void deliver(struct subscriber *s)
{
	struct event_bus *bus = s->b->state;
	char *body;
	size_t len;

	while (!s->busy && !s->b->stopping && s->next < json_array_size(bus->events)) {
		body = obj_dump(json_array_get(bus->events, s->next), &len);
		if (fetcher_request(s->b->fetch, "POST", s->url, body, len, NULL, on_delivered, s) == 0) {
			s->busy = true;
		} else {
			log_warn("event not delivered to=%s index=%zu error=\"cannot start the request\"", s->name,
				 s->next);
			s->next++;
		}
		free(body);
	}
}

static void bus_publish(struct blog *b, struct http_request *req)
{
	struct event_bus *bus = b->state;
	json_t *event = blog_body_object(req);
	const char *type;

	if (!event)
		return;
	type = json_string_value(json_object_get(event, "type"));
	if (!type || !json_is_object(json_object_get(event, "data"))) {
		blog_reply_error(req, 400, "an event is {\"type\": string, \"data\": object}");
		json_decref(event);
		return;
	}
	log_info("event stored type=%s index=%zu", type, json_array_size(bus->events));
	json_array_append_new(bus->events, event);
	for (size_t i = 0; i < ARRAY_SIZE(bus->subs); i++)
		deliver(&bus->subs[i]);
	blog_reply_json(req, 200, json_pack("{s:s}", "status", "OK"));
}

static bool bus_handle(struct blog *b, struct http_request *req)
{
	struct event_bus *bus = b->state;

	if (strcmp(req->path, "/events"))
		return false;
	if (blog_method_is(req, "POST"))
		bus_publish(b, req);
	else if (blog_method_is(req, "GET"))
		blog_reply_json(req, 200, json_incref(bus->events));
	else
		blog_reply_error(req, 405, "'/events' takes GET or POST");
	return true;
}

static int bus_start(struct blog *b)
{
	struct event_bus *bus = xcalloc(1, sizeof(*bus));
	const char *names[] = { "posts", "comments", "query", "moderation" };
	const char *urls[] = { b->posts_url, b->comments_url, b->query_url, b->moderation_url };

	bus->events = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(bus->subs); i++) {
		bus->subs[i].b = b;
		bus->subs[i].name = names[i];
		bus->subs[i].url = xasprintf("%s/events", urls[i]);
		uv_timer_init(b->loop, &bus->subs[i].retry);
		bus->subs[i].retry.data = &bus->subs[i];
		log_info("subscriber name=%s url=%s", names[i], bus->subs[i].url);
	}
	b->state = bus;
	return 0;
}

static void bus_stop(struct blog *b)
{
	struct event_bus *bus = b->state;

	for (size_t i = 0; i < ARRAY_SIZE(bus->subs); i++)
		uv_close((uv_handle_t *)&bus->subs[i].retry, NULL);
}

static void bus_release(struct blog *b)
{
	struct event_bus *bus = b->state;

	for (size_t i = 0; i < ARRAY_SIZE(bus->subs); i++)
		free(bus->subs[i].url);
	json_decref(bus->events);
	free(bus);
}

const struct blog_service event_bus_service = {
	.name = "event-bus",
	.port = 4005,
	.summary = "stores events and forwards each to posts, comments, query and moderation",
	.start = bus_start,
	.handle = bus_handle,
	.stop = bus_stop,
	.release = bus_release,
};
