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
 */
#ifndef MINIK8S_CORE_CURL_UV_H
#define MINIK8S_CORE_CURL_UV_H

#include <curl/curl.h>
#include <stddef.h>
#include <uv.h>

struct curl_uv;

/* A multi handle on loop (curl_global_init is done once, here). */
struct curl_uv *curl_uv_new(uv_loop_t *loop, void (*after)(void *owner), void *owner);

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

/* Cleans up the multi handle (every transfer must be removed first),
 * closes the handles and frees cu; cb(arg) runs after the last close. */
void curl_uv_close(struct curl_uv *cu, void (*cb)(void *arg), void *arg);

#endif
