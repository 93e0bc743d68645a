/*
 * The moderation service (port 4003): on CommentCreated it judges the
 * content, "rejected" when it contains the word "orange" (any case) and
 * "approved" otherwise, and sends CommentModerated. It keeps no state and
 * has no routes but POST /events: scale it to zero and comments stay
 * "pending" until it is back.
 */
#include "blog.h"

#include <string.h>

#include "log.h"

static const char *moderate(const char *content)
{
	return strcasestr(content, "orange") ? "rejected" : "approved";
}

static void moderation_on_event(struct blog *b, const char *type, json_t *data)
{
	const char *id = json_string_value(json_object_get(data, "id"));
	const char *post_id = json_string_value(json_object_get(data, "postId"));
	const char *content = json_string_value(json_object_get(data, "content"));
	const char *status;

	if (strcmp(type, "CommentCreated"))
		return;
	if (!id || !post_id || !content) {
		log_warn("event ignored type=%s reason=\"id, postId or content missing\"", type);
		return;
	}
	status = moderate(content);
	log_info("comment judged id=%s status=%s", id, status);
	blog_emit(b, "CommentModerated",
		  json_pack("{s:s,s:s,s:s,s:s}", "id", id, "postId", post_id, "status", status, "content", content),
		  NULL, NULL);
}

const struct blog_service moderation_service = {
	.name = "moderation",
	.port = 4003,
	.summary = "judges comments (\"orange\" is rejected), sends CommentModerated",
	.on_event = moderation_on_event,
};
