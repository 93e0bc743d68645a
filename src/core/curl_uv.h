/*
 * libcurl's multi interface driven by a libuv loop: the glue that the API
 * client (src/client/rest.c) and the plain HTTP client (httpc.c: Docker,
 * probes, kubelets) share, after curl's own multi-uv.c example. curl says
 * which sockets to watch (one uv_poll each) and when to wake it (one
 * uv_timer); readiness goes back with curl_multi_socket_action. After each
 * action the owner's after() runs, outside every curl callback, so the
 * owner can deliver streamed bytes and finished transfers to its users.
 *
 *   curl --socket/timer callbacks--> uv_poll / uv_timer
 *   uv readiness --> curl_multi_socket_action --> after(owner)
 *                                                  curl_uv_take_done() ...
 *
 * The two clients also share the life of a request (struct curl_uv_req
 * below); the blog's fetcher uses only the bare glue.
 */
#ifndef MINIK8S_CORE_CURL_UV_H
#define MINIK8S_CORE_CURL_UV_H

#include "core/util.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct curl_uv;

/* A multi handle on loop (curl_global_init is done once, here). after NULL:
 * the owner's transfers are curl_uv_reqs, which curl_uv delivers itself. */
struct curl_uv *curl_uv_new(uv_loop_t *loop, void (*after)(void *owner), void *owner);

/* An easy handle for a transfer on cu: every one must come from here, so
 * that cu sees curl open and close each connection's socket. */
CURL *curl_uv_easy_init(struct curl_uv *cu);

/* For curl_multi_add_handle / curl_multi_remove_handle. */
CURLM *curl_uv_multi(const struct curl_uv *cu);

/* The transfers finished since the last call, collected before any is
 * handed on (a callback may add or remove handles, which must not happen
 * while curl's message queue is walked). *out is a new array; priv is each
 * easy handle's CURLOPT_PRIVATE (the owner's request). */
struct curl_uv_done {
	void *priv;
	CURLcode result;
};
size_t curl_uv_take_done(struct curl_uv *cu, struct curl_uv_done **out);

/* Cancels every curl_uv_req still running (no hook runs for them), cleans
 * up the multi handle (every other transfer must be removed first), closes
 * the handles and frees cu; cb(arg) runs after the last close. */
void curl_uv_close(struct curl_uv *cu, void (*cb)(void *arg), void *arg);

/*
 * One request of the API client or the HTTP client, embedded as the first
 * member of the client's own request (as libuv's handles embed uv_handle_t),
 * so that the hooks below cast it back. curl only appends the answer to
 * in; after each action curl_uv hands streamed bytes to on_stream and ended
 * transfers to on_end, outside every curl callback, holding a reference on
 * each request so that a hook may cancel any request, its own too.
 *
 *   curl_uv_req_init -> owner's options, headers, body -> curl_uv_req_start
 *     ... on_stream(req) ... -> on_end(req, result) -> free(req)
 */
struct curl_uv_req;

struct curl_uv_req_ops {
	/* The most bytes of a collected (not streamed) answer; past it the
	 * transfer fails and overflow is set. */
	size_t max_body;
	/* Bytes of a streamed answer wait in req->in: take what can be taken
	 * and leave the rest. Return -1 to end the request now: on_end then
	 * runs with CURLE_OK. */
	int (*on_stream)(struct curl_uv_req *req);
	/* The transfer ended (result is curl's): req is out of curl already.
	 * Flush what is left of a stream, then, unless that cancelled req, set
	 * req->done and tell the user. */
	void (*on_end)(struct curl_uv_req *req, CURLcode result);
	/* The last reference went: free the owner's fields and the owner
	 * (curl_uv has freed its own fields). */
	void (*free)(struct curl_uv_req *req);
};

struct curl_uv_req {
	struct curl_uv *cu;
	const struct curl_uv_req_ops *ops;
	CURL *easy;                   /* for the owner's options and getinfo */
	struct curl_slist *headers;   /* the owner appends; sent and freed with req */
	char *body;                   /* the owner's POSTFIELDS, if any; freed with req */
	struct strbuf in;             /* the answer; when streaming, bytes not yet taken */
	char errbuf[CURL_ERROR_SIZE];
	bool stream;                  /* a 2xx answer goes to on_stream as it arrives */
	bool streaming;               /* it does: the answer was 2xx */
	bool overflow;                /* the answer outgrew its limit */
	bool cancelled;
	bool done;                    /* set by on_end before it tells the user */
	/* curl_uv's own */
	struct curl_uv_req *prev, *next;
	struct curl_uv_req *pending_next; /* on cu's list of streams with bytes to deliver */
	int refs;                     /* one for cu's list, one while pending, one per delivery in progress */
	bool linked, in_multi, status_known, pending;
};

/*
 * Readies req (zeroed, inside its owner) for a request to url: an easy
 * handle with what every request of ours has (HTTP/1.1 over http or https,
 * no signals, a 10 s connect timeout, no "Expect: 100-continue") and the
 * answer written to req->in, streamed when stream. Returns 0, or -1 when
 * libcurl cannot make a handle (then req holds nothing).
 */
int curl_uv_req_init(struct curl_uv_req *req, struct curl_uv *cu, const struct curl_uv_req_ops *ops,
		     const char *url, bool stream);
/* Sends req->headers and hands req to curl. Returns 0, or -1 when curl
 * refuses it: then req is freed (ops->free) and no other hook runs. */
int curl_uv_req_start(struct curl_uv_req *req);
/* Ends a request that has not ended: no hook but free runs for it
 * afterwards. A no-op once on_end has set done. */
void curl_uv_req_cancel(struct curl_uv_req *req);
/* https: check no peer (insecure), or trust only the CA in ca (PEM, ca_len
 * bytes; NULL: the system's CAs). */
void curl_uv_req_trust(struct curl_uv_req *req, bool insecure, const char *ca, size_t ca_len);
/* Why a transfer failed: curl's error buffer without its line end, or
 * curl's text for result. Borrowed from req (or static). */
const char *curl_uv_req_error(struct curl_uv_req *req, CURLcode result);
/* Requests started and not yet ended or cancelled. */
size_t curl_uv_pending(const struct curl_uv *cu);

#endif
