/*
 * The comments service (port 4001): `POST /posts/:id/comments {"content"}`
 * stores a comment with status "pending" and sends CommentCreated; `GET
 * /posts/:id/comments` lists a post's comments. When moderation has decided
 * (CommentModerated) it records the status and tells everyone with
 * CommentUpdated: comments owns the comment, moderation only judges it.
 */
#include "blog.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

struct comments {
	json_t *by_post;  /* post id -> [{"id", "content", "status"}] */
};

struct create {
	struct http_request *req;
	json_t *list;  /* the post's comments, answered once the bus has the event */
};

static void on_comment_announced(int err, void *arg)
{
	struct create *c = arg;

	blog_reply_json(c->req, 201, c->list);
	http_request_unref(c->req);
	free(c);
}

static void comments_create(struct blog *b, struct http_request *req, const char *post_id)
{
	struct comments *cs = b->state;
	json_t *body = blog_body_object(req), *list, *comment, *event;
	const char *content;
	char id[BLOG_ID_LEN];
	struct create *c;

	if (!body)
		return;
	if (!(content = blog_body_string(req, body, "content")))
		goto out;
	list = json_object_get(cs->by_post, post_id);
	if (!list) {
		list = json_array();
		json_object_set_new(cs->by_post, post_id, list);
	}
	blog_new_id(id);
	comment = json_pack("{s:s,s:s,s:s}", "id", id, "content", content, "status", "pending");
	json_array_append_new(list, comment);
	log_info("comment created id=%s post=%s", id, post_id);

	event = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "content", content, "postId", post_id,
			  "status", "pending");
	c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->list = json_deep_copy(list);
	http_request_ref(req);
	if (blog_emit(b, "CommentCreated", event, on_comment_announced, c) < 0) {
		http_request_unref(req);
		json_decref(c->list);
		free(c);
		blog_reply_error(req, 503, "the comments service is stopping");
	}
out:
	json_decref(body);
}

static bool comments_handle(struct blog *b, struct http_request *req)
{
	struct comments *cs = b->state;
	char post_id[64];
	json_t *list;

	if (!blog_path_id(req->path, "/posts/", "/comments", post_id, sizeof(post_id)))
		return false;
	if (blog_method_is(req, "GET")) {
		list = json_object_get(cs->by_post, post_id);
		blog_reply_json(req, 200, list ? json_incref(list) : json_array());
	} else if (blog_method_is(req, "POST")) {
		comments_create(b, req, post_id);
	} else {
		blog_reply_error(req, 405, "'/posts/%s/comments' takes GET or POST", post_id);
	}
	return true;
}

static void comments_on_event(struct blog *b, const char *type, json_t *data)
{
	struct comments *cs = b->state;
	const char *id = json_string_value(json_object_get(data, "id"));
	const char *post_id = json_string_value(json_object_get(data, "postId"));
	const char *status = json_string_value(json_object_get(data, "status"));
	json_t *list, *comment, *found = NULL;
	size_t i;

	if (strcmp(type, "CommentModerated"))
		return;
	if (!id || !post_id || !status) {
		log_warn("event ignored type=%s reason=\"id, postId or status missing\"", type);
		return;
	}
	list = json_object_get(cs->by_post, post_id);
	json_array_foreach(list, i, comment) {
		if (!strcmp(json_string_value(json_object_get(comment, "id")), id))
			found = comment;
	}
	if (!found) {
		/* Comments lives in memory: after a restart old comments are gone. */
		log_warn("event ignored type=%s comment=%s post=%s reason=\"unknown comment\"", type, id, post_id);
		return;
	}
	json_object_set_new(found, "status", json_string(status));
	log_info("comment moderated id=%s status=%s", id, status);
	blog_emit(b, "CommentUpdated",
		  json_pack("{s:s,s:s,s:O,s:s}", "id", id, "postId", post_id, "content",
			    json_object_get(found, "content"), "status", status),
		  NULL, NULL);
}

static int comments_start(struct blog *b)
{
	struct comments *cs = xcalloc(1, sizeof(*cs));

	cs->by_post = json_object();
	b->state = cs;
	return 0;
}

static void comments_release(struct blog *b)
{
	struct comments *cs = b->state;

	json_decref(cs->by_post);
	free(cs);
}

const struct blog_service comments_service = {
	.name = "comments",
	.port = 4001,
	.summary = "stores comments, sends CommentCreated and CommentUpdated",
	.start = comments_start,
	.handle = comments_handle,
	.on_event = comments_on_event,
	.release = comments_release,
};
