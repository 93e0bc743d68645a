/*
 * The REST client every component uses to reach the API server: requests
 * run on libcurl's multi interface driven by a libuv loop (one uv_poll per
 * socket, one uv_timer for curl's timeouts, as curl's multi-uv example), with
 * keep-alive connections reused across requests. Results arrive in a done
 * callback; a watch also streams one parsed event per line. A client with a
 * private loop offers blocking calls for the CLI (rest_sync).
 *
 *   rest_get/... -> curl easy -> multi <-> uv_poll/uv_timer -> on_done(resp)
 *   rest_watch   -> chunked body -> split lines -> on_event(type, obj) ... on_done
 */
#ifndef MINIK8S_CLIENT_REST_H
#define MINIK8S_CLIENT_REST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "util.h"

struct kubeconfig;
struct rest_client;
struct rest_request;

/* A resource as the API names it: {"", "v1", "pods", true} or
 * {"apps", "v1", "deployments", true}. Strings are borrowed by users of the
 * struct for as long as they keep it (informers copy them). */
struct rest_resource {
	const char *group;   /* "" or NULL for the core group */
	const char *version;
	const char *plural;
	bool namespaced;
};

/*
 * "/api/v1/namespaces/default/pods/web-1/status" and friends. ns NULL or ""
 * (or a cluster-scoped resource) leaves the namespace out, which for a
 * namespaced resource lists across all namespaces; name and subresource may
 * be NULL. New heap string.
 */
char *rest_resource_path(const struct rest_resource *r, const char *ns, const char *name,
			 const char *subresource);

/* Appends "?key=value" or "&key=value" to a path, percent-encoding value. */
void rest_query_add(struct strbuf *path, const char *key, const char *value);

/*
 * What a request ended with. Everything is borrowed for the duration of the
 * done callback: json_incref(body) (or copy) to keep it.
 */
struct rest_response {
	int status;          /* HTTP status; 0 when no response arrived */
	json_t *body;        /* the body parsed as JSON, or NULL (not JSON, or a watch) */
	const char *raw;     /* the body as received, NUL-terminated ("" for a watch) */
	size_t raw_len;
	/* NULL when the request reached the server and it answered 2xx. Otherwise
	 * one line saying why: the Status message for an HTTP error ("pods \"x\"
	 * not found"), or for a transport failure "cannot reach the API server at
	 * https://127.0.0.1:6443: Connection refused". */
	const char *error;
	const char *reason;  /* Status reason ("NotFound", "Conflict", "Expired") or NULL */
};

typedef void (*rest_done_fn)(const struct rest_response *resp, void *data);

/* One watch event. type is "ADDED", "MODIFIED", "DELETED", "BOOKMARK" or
 * "ERROR" (object then is a Status). Both are borrowed for the callback. */
typedef void (*rest_event_fn)(const char *type, json_t *object, void *data);

struct rest_options {
	const char *content_type;  /* of the body; NULL: "application/json" */
	const char *accept;        /* NULL: "application/json" */
	long timeout_ms;           /* 0: the client's default; <0: none */
	/* The caller reads only status and error: a 2xx answer is not parsed
	 * (resp->body NULL, resp->raw as usual). For writes whose answer, the
	 * whole object again, nobody looks at: hollow nodes' status patches,
	 * the scheduler's events. */
	bool ignore_body;
};

/*
 * Creates a client for kc's server, CA, token or client certificate (all
 * copied). loop NULL gives the client a private loop for rest_sync and
 * rest_client_run. Returns NULL (and reports why) if kc has no server.
 */
struct rest_client *rest_client_new(uv_loop_t *loop, const struct kubeconfig *kc);

/* Default timeout of non-watch requests (30 s unless changed). */
void rest_client_set_timeout(struct rest_client *c, long timeout_ms);
/* The server URL, "https://127.0.0.1:6443". Borrowed. */
const char *rest_client_server(const struct rest_client *c);
uv_loop_t *rest_client_loop(const struct rest_client *c);

/*
 * Starts a request. path is everything after the server URL, with its query
 * ("/api/v1/pods?labelSelector=app%3Dweb"). body (borrowed, serialized now)
 * may be NULL. Returns a handle valid until on_done returns or rest_cancel;
 * NULL if the request cannot start (then on_done is never called). on_done
 * runs exactly once otherwise, always from the loop, never from inside this
 * call.
 */
struct rest_request *rest_call(struct rest_client *c, const char *method, const char *path,
			       const json_t *body, const struct rest_options *opts,
			       rest_done_fn on_done, void *data);

struct rest_request *rest_get(struct rest_client *c, const char *path, rest_done_fn on_done,
			      void *data);
/* POST obj to a collection path. */
struct rest_request *rest_create(struct rest_client *c, const char *path, const json_t *obj,
				 rest_done_fn on_done, void *data);
/* PUT obj (carrying metadata.resourceVersion for a conflict check). */
struct rest_request *rest_update(struct rest_client *c, const char *path, const json_t *obj,
				 rest_done_fn on_done, void *data);
/* PATCH with "application/merge-patch+json", "application/json-patch+json"
 * or "application/strategic-merge-patch+json". */
struct rest_request *rest_patch(struct rest_client *c, const char *path, const char *content_type,
				const json_t *patch, rest_done_fn on_done, void *data);
/* DELETE, with optional DeleteOptions (may be NULL). */
struct rest_request *rest_delete(struct rest_client *c, const char *path, const json_t *options,
				 rest_done_fn on_done, void *data);

/*
 * Starts a watch: path carries "?watch=1&resourceVersion=N..." itself. While
 * the server streams a 2xx response, on_event runs once per line (partial
 * lines are kept across chunks). on_done runs once when the stream ends:
 * error NULL for a clean end by the server, else why (a non-2xx status has
 * its Status in body, e.g. 410 Expired). A line that is not a JSON event ends
 * the watch with an error. Callbacks may cancel this or any request.
 */
struct rest_request *rest_watch(struct rest_client *c, const char *path, rest_event_fn on_event,
				rest_done_fn on_done, void *data);

/*
 * Stops a request that has not finished: no callback runs for it afterwards
 * and the handle is gone. Safe from any callback, including the request's
 * own on_event. Calling it from or after its own on_done is not allowed.
 */
void rest_cancel(struct rest_request *req);

/* Requests started and not yet finished or cancelled. */
size_t rest_client_pending(const struct rest_client *c);

/*
 * Cancels every pending request (their callbacks do not run), closes the
 * client's handles and frees it in the last close callback, then calls
 * on_closed(arg) (may be NULL). With a private loop this runs that loop
 * until done, so the client is gone when it returns.
 */
void rest_client_close(struct rest_client *c, void (*on_closed)(void *arg), void *arg);

/* --- blocking use, for the CLI (clients made with loop NULL) --- */

/* A finished request, owned by the caller: free with rest_result_release. */
struct rest_result {
	int status;
	json_t *body;   /* new reference or NULL */
	char *raw;      /* body bytes, NUL-terminated, never NULL after rest_sync */
	size_t raw_len;
	char *error;    /* as rest_response.error; NULL on success */
	char *reason;
};

/*
 * Runs one request to its end on the private loop. Returns 0 on a 2xx
 * answer, -1 otherwise with res->error set (res is filled in both cases).
 * Returns -1 with res->error set if c has no private loop.
 */
int rest_sync(struct rest_client *c, const char *method, const char *path, const json_t *body,
	      const struct rest_options *opts, struct rest_result *res);
void rest_result_release(struct rest_result *res);

/* Runs the private loop until no request is pending (for watches in the
 * CLI). Returns 0, or -1 if c has no private loop. */
int rest_client_run(struct rest_client *c);

#endif
