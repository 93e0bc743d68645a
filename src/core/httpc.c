/*
 * The HTTP client behind httpc.h, on the libcurl/libuv glue of curl_uv.h,
 * whose struct curl_uv_req carries each request: curl_uv hands streamed
 * bytes to on_stream and ended transfers to on_end, outside every curl
 * callback, so that a user callback may cancel anything. What is ours is
 * the options, raw bodies, and the answer as struct httpc_response.
 */
#include "core/httpc.h"
#include "core/curl_uv.h"
#include "core/log.h"
#include "core/util.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLLECTED (256u << 20)

struct httpc_req {
	struct curl_uv_req req;  /* first: the hooks cast it back */
	httpc_data_fn on_data;
	httpc_done_fn on_done;
	void *data;
	bool stopped;
};

struct httpc {
	uv_loop_t *loop;
	struct curl_uv *cu;
	bool closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
};

void httpc_cancel(struct httpc_req *r)
{
	if (r)
		curl_uv_req_cancel(&r->req);
}

size_t httpc_pending(const struct httpc *c)
{
	return curl_uv_pending(c->cu);
}

static int on_stream(struct curl_uv_req *req)
{
	struct httpc_req *r = (struct httpc_req *)req;
	struct strbuf chunk;
	int rc;

	if (r->stopped || !req->in.len)
		return 0;
	/* Hand over a copy of the buffer state: the callback may cancel r,
	 * which must not free bytes it is reading. */
	chunk = req->in;
	strbuf_init(&req->in, 4096);
	rc = r->on_data(chunk.buf, chunk.len, r->data);
	strbuf_release(&chunk);
	if (rc < 0) {
		r->stopped = true;
		return -1;
	}
	return 0;
}

static void on_end(struct curl_uv_req *req, CURLcode result)
{
	struct httpc_req *r = (struct httpc_req *)req;
	struct httpc_response resp = { 0 };
	long code = 0;

	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &code);
	/* Bytes that arrived with the end of the stream. */
	if (req->streaming && req->in.len && !r->stopped && !req->cancelled) {
		if (r->on_data(req->in.buf, req->in.len, r->data) < 0)
			r->stopped = true;
		strbuf_reset(&req->in);
	}
	if (req->cancelled)
		return;
	resp.status = (int)code;
	resp.body = req->streaming ? "" : req->in.buf;
	resp.body_len = req->streaming ? 0 : req->in.len;
	if (r->stopped) {
		resp.error = "stopped";
	} else if (req->overflow) {
		resp.error = "the answer is too large";
	} else if (result != CURLE_OK) {
		resp.error = curl_uv_req_error(req, result);
		resp.timed_out = result == CURLE_OPERATION_TIMEDOUT;
	}
	req->done = true;
	r->on_done(&resp, r->data);
}

static void req_free(struct curl_uv_req *req)
{
	free(req);
}

static const struct curl_uv_req_ops httpc_req_ops = {
	.max_body = MAX_COLLECTED,
	.on_stream = on_stream,
	.on_end = on_end,
	.free = req_free,
};

struct httpc *httpc_new(uv_loop_t *loop)
{
	struct httpc *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->cu = curl_uv_new(loop, NULL, NULL);
	return c;
}

struct httpc_req *httpc_start(struct httpc *c, const struct httpc_options *o)
{
	const char *method = o->method ? o->method : "GET";
	struct httpc_req *r;
	CURL *e;

	if (c->closing) {
		error("cannot start %s %s: the client is shutting down", method, o->url);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	if (curl_uv_req_init(&r->req, c->cu, &httpc_req_ops, o->url, o->on_data != NULL) < 0) {
		error("cannot start %s %s: libcurl could not create a handle", method, o->url);
		free(r);
		return NULL;
	}
	r->on_data = o->on_data;
	r->on_done = o->on_done;
	r->data = o->data;

	e = r->req.easy;
	if (o->unix_socket)
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "minik8s/" MINIK8S_VERSION);
	if (o->connect_timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	if (o->timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_uv_req_trust(&r->req, o->insecure, o->ca_pem, o->ca_pem ? strlen(o->ca_pem) : 0);
	/* Our peers are a local engine, pods and nodes: never a proxy from the environment. */
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	for (size_t i = 0; o->headers && o->headers[i]; i++)
		r->req.headers = curl_slist_append(r->req.headers, o->headers[i]);
	if (o->body || !strcmp(method, "POST") || !strcmp(method, "PUT")) {
		char *ct = xasprintf("Content-Type: %s", o->content_type ? o->content_type : "application/json");
		r->req.headers = curl_slist_append(r->req.headers, ct);
		free(ct);
		r->req.body = xmalloc(o->body_len + 1);
		if (o->body_len)
			memcpy(r->req.body, o->body, o->body_len);
		r->req.body[o->body_len] = '\0';
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->req.body);
	}
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") && strcmp(method, "POST"))
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	else if (!strcmp(method, "GET") && r->req.body)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "GET");

	if (curl_uv_req_start(&r->req) < 0) {
		error("cannot start %s %s: libcurl refused the transfer", method, o->url);
		return NULL;
	}
	return r;
}

static void on_curl_closed(void *arg)
{
	struct httpc *c = arg;
	void (*cb)(void *) = c->on_closed;
	void *cb_arg = c->closed_arg;

	free(c);
	if (cb)
		cb(cb_arg);
}

void httpc_close(struct httpc *c, void (*cb)(void *arg), void *arg)
{
	if (c->closing)
		return;
	c->closing = true;
	c->on_closed = cb;
	c->closed_arg = arg;
	curl_uv_close(c->cu, on_curl_closed, c);
}
