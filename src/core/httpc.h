/*
 * A small asynchronous HTTP client: libcurl's multi interface driven by a
 * libuv loop (one uv_poll per socket, one uv_timer for curl's timeouts, as
 * src/client/rest.c does for the API client). The kubelet speaks through it
 * to the Docker Engine over its unix socket and to pods for httpGet probes;
 * the apiserver to kubelets for container logs. Bodies are raw bytes,
 * either collected or streamed (logs, the engine's event stream, pulls).
 *
 *   httpc_start -> curl easy -> multi <-> uv_poll/uv_timer -> on_data ... -> on_done
 */
#ifndef MINIK8S_CORE_HTTPC_H
#define MINIK8S_CORE_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct httpc;
struct httpc_req;

/* What a request ended with; everything is borrowed for the callback. */
struct httpc_response {
	int status;          /* HTTP status, 0 when no answer arrived */
	const char *body;    /* collected body, NUL-terminated ("" when it was streamed) */
	size_t body_len;
	/* NULL when an HTTP answer arrived completely (whatever its status);
	 * otherwise one line saying why ("Connection refused", "timed out"). */
	const char *error;
	bool timed_out;
};

typedef void (*httpc_done_fn)(const struct httpc_response *resp, void *data);
/* Body bytes of a 2xx answer as they arrive (only when set). Return 0 to go
 * on, or -1 to end the request now (on_done then reports error "stopped"). */
typedef int (*httpc_data_fn)(const char *buf, size_t len, void *data);

struct httpc_options {
	const char *method;        /* NULL: GET */
	const char *url;           /* "http://docker/v1.41/containers/json" */
	const char *unix_socket;   /* NULL: TCP; else the socket path to connect to */
	const char *content_type;  /* of body */
	const void *body;          /* copied; may be NULL */
	size_t body_len;
	long timeout_ms;           /* whole transfer; 0 or less: none */
	long connect_timeout_ms;   /* 0: 10 s */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated, may be NULL */
	bool insecure;             /* https without checking the peer (probes, as the kubelet's) */
	const char *ca_pem;        /* https: trust only this CA (PEM); NULL: the system's */
	httpc_data_fn on_data;     /* NULL: collect the body */
	httpc_done_fn on_done;     /* required */
	void *data;
};

struct httpc *httpc_new(uv_loop_t *loop);

/*
 * Starts a request. Returns a handle valid until on_done returns or
 * httpc_cancel; NULL (logged) if it cannot start, and then no callback runs.
 * Callbacks always run from the loop, never inside this call; they may
 * cancel any request, their own included (before on_done).
 */
struct httpc_req *httpc_start(struct httpc *c, const struct httpc_options *o);

/* Ends a request that has not finished: no callback runs for it afterwards.
 * Not allowed from or after its own on_done. */
void httpc_cancel(struct httpc_req *r);

size_t httpc_pending(const struct httpc *c);

/* Cancels every request (no callbacks), closes the handles, frees the
 * client in the last close callback, then calls cb(arg) (may be NULL). */
void httpc_close(struct httpc *c, void (*cb)(void *arg), void *arg);

#endif
