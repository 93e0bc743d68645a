/*
 * The classroom blog: six small services in one binary, `blog <service>`.
 * posts, comments, moderation and query talk only through the event bus,
 * which stores every event and forwards it to each of them; the client
 * serves the web page and passes its API calls on. main.c holds what they
 * share (HTTP server, signals, the event helpers); each service is one file
 * with one `struct blog_service`. docs/blog.md shows the events.
 *
 * How to add a service:
 *   1. Write <name>.c defining `const struct blog_service <name>_service`.
 *   2. List it in main.c's `services` table and in meson.build.
 *   3. Give it an image in build-images.sh and a Deployment in blog.yaml.
 */
#ifndef MINIK8S_BLOG_H
#define MINIK8S_BLOG_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "http.h"
#include "util.h"
#include "fetch.h"

struct blog;

struct blog_service {
	const char *name;     /* "posts": the subcommand and the log component */
	int port;             /* default listening port (env PORT or --port override) */
	const char *summary;  /* one line for `blog --help` */
	/* Sets b->state; may start requests and timers. Returns 0 or -1 (logged). */
	int (*start)(struct blog *b);
	/* Answers the request (now or later) and returns true, or returns false
	 * for "no such route" (main answers 404). /healthz is main's. */
	bool (*handle)(struct blog *b, struct http_request *req);
	/* A subscriber's POST /events, already parsed: type and data are
	 * borrowed. main acknowledges the event with 200 {} afterwards. */
	void (*on_event)(struct blog *b, const char *type, json_t *data);
	/* Closes the service's own libuv handles (the loop then drains). */
	void (*stop)(struct blog *b);
	/* After the loop has ended: frees b->state (only called when start set it). */
	void (*release)(struct blog *b);
};

extern const struct blog_service posts_service;
extern const struct blog_service comments_service;
extern const struct blog_service moderation_service;
extern const struct blog_service query_service;
extern const struct blog_service event_bus_service;
extern const struct blog_service client_service;

struct blog {
	const struct blog_service *svc;
	uv_loop_t *loop;
	struct http_server *http;
	struct fetcher *fetch;
	/* Base URLs of the other services, "http://event-bus-srv:4005" and so
	 * on: the Service names of blog.yaml unless the environment says
	 * otherwise (EVENT_BUS_URL, POSTS_URL, COMMENTS_URL, QUERY_URL,
	 * MODERATION_URL). */
	const char *event_bus_url;
	const char *posts_url;
	const char *comments_url;
	const char *query_url;
	const char *moderation_url;
	/* NULL when ready; otherwise why /healthz answers 503 (a readiness
	 * probe then keeps the pod out of its Service). */
	const char *not_ready;
	bool stopping;
	void *state;  /* the service's own */
};

/*
 * Sends {"type": type, "data": data} to the event bus (data is stolen). done
 * (may be NULL) gets 0 once the bus accepted it, or -1 (logged) if it could
 * not be delivered. Returns -1 without calling done when the service is
 * stopping.
 */
int blog_emit(struct blog *b, const char *type, json_t *data,
	      void (*done)(int err, void *arg), void *arg);

/* Responds with body as JSON (body stolen) and logs the request. */
void blog_reply_json(struct http_request *req, int status, json_t *body);
/* Responds {"error": message}. */
void blog_reply_error(struct http_request *req, int status, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Responds with raw bytes (the client's page and proxied answers). */
void blog_reply(struct http_request *req, int status, const char *content_type,
		const void *body, size_t len);

bool blog_method_is(const struct http_request *req, const char *method);
/* The request body as a JSON object (new reference), or NULL after
 * answering 400 itself. */
json_t *blog_body_object(struct http_request *req);
/* A string member that must be present and non-empty, or NULL after
 * answering 400 naming the field. */
const char *blog_body_string(struct http_request *req, json_t *body, const char *field);

/* If path is prefix + ID + suffix with ID a non-empty run of
 * [A-Za-z0-9_-], copies ID into id (size bytes) and returns true. */
bool blog_path_id(const char *path, const char *prefix, const char *suffix, char *id, size_t size);
bool blog_id_valid(const char *id);
/* A fresh random id, 8 hex digits as the course's randomBytes(4). */
#define BLOG_ID_LEN 9
void blog_new_id(char id[BLOG_ID_LEN]);

/* The web page, generated from page/index.html by embed.py. */
extern const char blog_page[];
extern const size_t blog_page_len;

#endif
