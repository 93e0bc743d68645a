/*
 * The query service (port 4002): keeps its own copy of the posts with their
 * comments, built only from PostCreated, CommentCreated and CommentUpdated,
 * and serves it as `GET /posts` ({id: {id, title, comments: [...]}}), so the
 * page needs one request and no other service. On start it replays the
 * bus's stored events (GET /events), retrying until the bus answers; until
 * then /healthz says 503 and live events wait in a list. Applying an event
 * twice changes nothing, so the replay and live events may overlap.
 */
#include "blog.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

#define RETRY_MS 1000

struct query {
	json_t *posts;    /* id -> {"id", "title", "comments": [{"id", "content", "status"}]} */
	json_t *pending;  /* live events received before the replay finished */
	uv_timer_t retry;
	int attempts;
};

static json_t *find_comment(json_t *post, const char *id)
{
	json_t *comment;
	size_t i;

	json_array_foreach(json_object_get(post, "comments"), i, comment) {
		if (!strcmp(json_string_value(json_object_get(comment, "id")), id))
			return comment;
	}
	return NULL;
}

static void apply_event(struct query *q, const char *type, json_t *data)
{
	const char *id = json_string_value(json_object_get(data, "id"));
	const char *post_id = json_string_value(json_object_get(data, "postId"));
	const char *content = json_string_value(json_object_get(data, "content"));
	const char *status = json_string_value(json_object_get(data, "status"));
	json_t *post, *comment;

	if (!strcmp(type, "PostCreated")) {
		const char *title = json_string_value(json_object_get(data, "title"));

		if (!id || !title || json_object_get(q->posts, id))
			return;
		json_object_set_new(q->posts, id, json_pack("{s:s,s:s,s:[]}", "id", id, "title", title, "comments"));
		return;
	}
	if (strcmp(type, "CommentCreated") && strcmp(type, "CommentUpdated"))
		return;
	if (!id || !post_id || !content || !status)
		return;
	post = json_object_get(q->posts, post_id);
	if (!post) {
		log_warn("event ignored type=%s comment=%s post=%s reason=\"unknown post\"", type, id, post_id);
		return;
	}
	comment = find_comment(post, id);
	if (!comment) {
		json_array_append_new(json_object_get(post, "comments"),
				      json_pack("{s:s,s:s,s:s}", "id", id, "content", content, "status", status));
	} else if (!strcmp(type, "CommentUpdated")) {
		/* Only an update changes a known comment: a CommentCreated seen
		 * again in the replay must not turn "approved" back to "pending". */
		json_object_set_new(comment, "status", json_string(status));
		json_object_set_new(comment, "content", json_string(content));
	}
}

static void apply_all(struct query *q, json_t *events)
{
	json_t *event;
	size_t i;

	json_array_foreach(events, i, event) {
		const char *type = json_string_value(json_object_get(event, "type"));
		json_t *data = json_object_get(event, "data");

		if (type && json_is_object(data))
			apply_event(q, type, data);
	}
}

static void replay(struct blog *b);

static void on_retry(uv_timer_t *t)
{
	replay(t->data);
}

static void on_replayed(const struct fetch_response *res, void *arg)
{
	struct blog *b = arg;
	struct query *q = b->state;
	json_t *events = NULL;

	if (!res->error && res->status == 200)
		events = json_loadb(res->body, res->len, 0, NULL);
	if (!json_is_array(events)) {
		/* Say it once loudly, then quietly: the bus may just be starting. */
		if (q->attempts++ == 0 || q->attempts % 30 == 0)
			log_warn("cannot replay events from the bus, retrying every %d ms attempt=%d error=\"%s\"",
				 RETRY_MS, q->attempts, res->error ? res->error : "not a JSON array of events");
		json_decref(events);
		if (!b->stopping)
			uv_timer_start(&q->retry, on_retry, RETRY_MS, 0);
		return;
	}
	apply_all(q, events);
	apply_all(q, q->pending);
	log_info("caught up with the event bus events=%zu live=%zu posts=%zu", json_array_size(events),
		 json_array_size(q->pending), json_object_size(q->posts));
	json_array_clear(q->pending);
	json_decref(events);
	b->not_ready = NULL;
}

static void replay(struct blog *b)
{
	struct query *q = b->state;
	char *url = xasprintf("%s/events", b->event_bus_url);

	if (fetcher_request(b->fetch, "GET", url, NULL, 0, NULL, on_replayed, b) < 0 && !b->stopping)
		uv_timer_start(&q->retry, on_retry, RETRY_MS, 0);
	free(url);
}

static void query_on_event(struct blog *b, const char *type, json_t *data)
{
	struct query *q = b->state;

	if (b->not_ready) {
		json_array_append_new(q->pending, json_pack("{s:s,s:O}", "type", type, "data", data));
		return;
	}
	apply_event(q, type, data);
}

static bool query_handle(struct blog *b, struct http_request *req)
{
	struct query *q = b->state;

	if (strcmp(req->path, "/posts"))
		return false;
	if (blog_method_is(req, "GET"))
		blog_reply_json(req, 200, json_incref(q->posts));
	else
		blog_reply_error(req, 405, "'/posts' takes GET here: create posts through the posts service");
	return true;
}

static int query_start(struct blog *b)
{
	struct query *q = xcalloc(1, sizeof(*q));

	q->posts = json_object();
	q->pending = json_array();
	uv_timer_init(b->loop, &q->retry);
	q->retry.data = b;
	b->state = q;
	b->not_ready = "catching up with the event bus";
	replay(b);
	return 0;
}

static void query_stop(struct blog *b)
{
	struct query *q = b->state;

	uv_close((uv_handle_t *)&q->retry, NULL);
}

static void query_release(struct blog *b)
{
	struct query *q = b->state;

	json_decref(q->posts);
	json_decref(q->pending);
	free(q);
}

const struct blog_service query_service = {
	.name = "query",
	.port = 4002,
	.summary = "posts with their comments, from the events; replays the bus on start",
	.start = query_start,
	.handle = query_handle,
	.on_event = query_on_event,
	.stop = query_stop,
	.release = query_release,
};
