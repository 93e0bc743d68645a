/*
 * Outgoing plain-HTTP requests for the blog services: libcurl's multi
 * interface driven by the service's own libuv loop (one uv_poll per socket,
 * one uv_timer for curl's timeouts, the shape of curl's multi-uv example),
 * so a service never blocks on another one. Connections are kept alive and
 * reused between requests to the same service.
 */
#ifndef MINIK8S_BLOG_FETCH_H
#define MINIK8S_BLOG_FETCH_H

#include <stddef.h>
#include <uv.h>

struct fetcher;

/* What a request ended with; everything is borrowed for the done callback. */
struct fetch_response {
	long status;               /* HTTP status; 0 when no answer arrived */
	const char *body;          /* NUL-terminated, "" when empty */
	size_t len;
	const char *content_type;  /* as the server sent it, or NULL */
	/* NULL when an answer (any status) arrived; otherwise one line:
	 * "POST http://event-bus-srv:4005/events: Could not resolve host: ..."
	 * or "...: cancelled" when the fetcher closed first. */
	const char *error;
};

typedef void (*fetch_done_fn)(const struct fetch_response *res, void *data);

/* A fetcher on loop. Never NULL (allocation failures abort). */
struct fetcher *fetcher_new(uv_loop_t *loop);

/*
 * Starts method url. body (len bytes, copied; may be NULL) goes with
 * content_type (NULL: "application/json"). done is called exactly once,
 * from the loop, unless this returns -1 (fetcher closing, or curl refused
 * the request), in which case it is never called.
 */
int fetcher_request(struct fetcher *f, const char *method, const char *url, const void *body,
		    size_t len, const char *content_type, fetch_done_fn done, void *data);

/* Cancels every request in flight (their done callbacks run, with an error,
 * before this returns), closes the handles and frees f; cb (may be NULL)
 * runs once the last handle has closed. */
void fetcher_close(struct fetcher *f, void (*cb)(void *arg), void *arg);

#endif
