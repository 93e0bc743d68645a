/*
 * The posts service (port 4000): `POST /posts {"title"}` stores a post under
 * a random id and sends PostCreated to the event bus; `GET /posts` lists
 * them as {id: {id, title}}. It answers the creator only once the bus has
 * the event, so anything the browser does next comes after it on the bus.
 * It hears every event on POST /events, and only logs them.
 */
#include "blog.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

struct posts {
	json_t *posts;  /* id -> {"id", "title"} */
};

struct create {
	struct http_request *req;
	json_t *post;
};

static void on_post_announced(int err, void *arg)
{
	struct create *c = arg;

	/* The post is stored either way; a lost event is logged by blog_emit
	 * and only query will miss it (as in the course's version). */
	blog_reply_json(c->req, 201, c->post);
	http_request_unref(c->req);
	free(c);
}

static void posts_create(struct blog *b, struct http_request *req)
{
	struct posts *p = b->state;
	json_t *body = blog_body_object(req), *post;
	const char *title;
	char id[BLOG_ID_LEN];
	struct create *c;

	if (!body)
		return;
	if (!(title = blog_body_string(req, body, "title")))
		goto out;
	do
		blog_new_id(id);
	while (json_object_get(p->posts, id));
	post = json_pack("{s:s,s:s}", "id", id, "title", title);
	json_object_set(p->posts, id, post);
	log_info("post created id=%s", id);

	c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->post = post;
	http_request_ref(req);
	if (blog_emit(b, "PostCreated", json_deep_copy(post), on_post_announced, c) < 0) {
		http_request_unref(req);
		json_decref(post);
		free(c);
		blog_reply_error(req, 503, "the posts service is stopping");
	}
out:
	json_decref(body);
}

static bool posts_handle(struct blog *b, struct http_request *req)
{
	struct posts *p = b->state;

	if (strcmp(req->path, "/posts"))
		return false;
	if (blog_method_is(req, "GET"))
		blog_reply_json(req, 200, json_incref(p->posts));
	else if (blog_method_is(req, "POST"))
		posts_create(b, req);
	else
		blog_reply_error(req, 405, "'/posts' takes GET or POST");
	return true;
}

static void posts_on_event(struct blog *b, const char *type, json_t *data)
{
	/* Nothing to do: the bus sends every service every event. */
}

static int posts_start(struct blog *b)
{
	struct posts *p = xcalloc(1, sizeof(*p));

	p->posts = json_object();
	b->state = p;
	return 0;
}

static void posts_release(struct blog *b)
{
	struct posts *p = b->state;

	json_decref(p->posts);
	free(p);
}

const struct blog_service posts_service = {
	.name = "posts",
	.port = 4000,
	.summary = "creates posts, sends PostCreated",
	.start = posts_start,
	.handle = posts_handle,
	.on_event = posts_on_event,
	.release = posts_release,
};
