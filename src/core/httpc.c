/*
 * The HTTP client behind httpc.h, on the libcurl/libuv glue of curl_uv.h.
 * User callbacks never run inside a curl callback: curl only appends to
 * buffers, and after each socket action (after_action) we deliver streamed
 * bytes and finished transfers, holding a reference on each request so
 * that a callback may cancel anything.
 */
#include "core/httpc.h"
#include "core/curl_uv.h"
#include "core/log.h"
#include "core/util.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLLECTED (256u << 20)
#define MAX_STREAM_PENDING (64u << 20)

struct httpc_req {
	struct httpc *c;
	struct httpc_req *prev, *next;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	struct strbuf in;
	char errbuf[CURL_ERROR_SIZE];
	httpc_data_fn on_data;
	httpc_done_fn on_done;
	void *data;
	int refs;
	bool linked, in_multi, status_known, streaming, pending, overflow, stopped;
	bool cancelled, done_called;
};

struct httpc {
	uv_loop_t *loop;
	struct curl_uv *cu;
	struct httpc_req *reqs;
	size_t nreqs;
	bool have_pending, closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
};

static void req_unref(struct httpc_req *r)
{
	if (--r->refs)
		return;
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	strbuf_release(&r->in);
	free(r->body);
	free(r);
}

static void req_detach(struct httpc_req *r)
{
	struct httpc *c = r->c;

	if (r->in_multi) {
		curl_multi_remove_handle(curl_uv_multi(c->cu), r->easy);
		r->in_multi = false;
	}
	if (!r->linked)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	r->linked = false;
	c->nreqs--;
	req_unref(r);
}

void httpc_cancel(struct httpc_req *r)
{
	if (!r || r->cancelled || r->done_called)
		return;
	r->cancelled = true;
	req_detach(r);
}

size_t httpc_pending(const struct httpc *c)
{
	return c->nreqs;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct httpc_req *r = userdata;
	size_t n = size * nmemb;

	if (!r->status_known) {
		long code = 0;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
		r->status_known = true;
		r->streaming = r->on_data && code >= 200 && code < 300;
	}
	if (r->stopped)
		return 0;
	if (r->in.len + n > (r->streaming ? MAX_STREAM_PENDING : MAX_COLLECTED)) {
		r->overflow = true;
		return 0;
	}
	strbuf_add(&r->in, ptr, n);
	if (r->streaming) {
		r->pending = true;
		r->c->have_pending = true;
	}
	return n;
}

static void finish(struct httpc_req *r, CURLcode result)
{
	struct httpc_response resp = { 0 };
	long code = 0;
	char *msg = NULL;

	req_detach(r);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	/* Bytes that arrived with the end of the stream. */
	if (r->streaming && r->in.len && !r->stopped && !r->cancelled) {
		if (r->on_data(r->in.buf, r->in.len, r->data) < 0)
			r->stopped = true;
		strbuf_reset(&r->in);
	}
	if (r->cancelled)
		return;
	resp.status = (int)code;
	resp.body = r->streaming ? "" : r->in.buf;
	resp.body_len = r->streaming ? 0 : r->in.len;
	if (r->stopped) {
		resp.error = "stopped";
	} else if (r->overflow) {
		resp.error = "the answer is too large";
	} else if (result != CURLE_OK) {
		size_t n = strlen(r->errbuf);
		while (n && (r->errbuf[n - 1] == '\n' || r->errbuf[n - 1] == '\r'))
			r->errbuf[--n] = '\0';
		msg = xstrdup(n ? r->errbuf : curl_easy_strerror(result));
		resp.error = msg;
		resp.timed_out = result == CURLE_OPERATION_TIMEDOUT;
	}
	r->done_called = true;
	r->on_done(&resp, r->data);
	free(msg);
}

static void deliver_streams(struct httpc *c)
{
	struct httpc_req **v, *r;
	size_t n = 0, i;

	c->have_pending = false;
	for (r = c->reqs; r; r = r->next)
		n += r->pending;
	if (!n)
		return;
	v = xmalloc(n * sizeof(*v));
	n = 0;
	for (r = c->reqs; r; r = r->next) {
		if (r->pending) {
			r->refs++;
			v[n++] = r;
		}
	}
	for (i = 0; i < n; i++) {
		r = v[i];
		r->pending = false;
		if (!r->cancelled && !r->done_called && !r->stopped && r->in.len) {
			/* Hand over a copy of the buffer state: the callback may
			 * cancel r, which must not free bytes it is reading. */
			struct strbuf chunk = r->in;
			strbuf_init(&r->in, 4096);
			if (r->on_data(chunk.buf, chunk.len, r->data) < 0 && !r->cancelled) {
				r->stopped = true;
				finish(r, CURLE_OK);
			}
			strbuf_release(&chunk);
		}
		req_unref(r);
	}
	free(v);
}

static void deliver_done(struct httpc *c)
{
	struct curl_uv_done *v;
	size_t n, i;

	if (c->closing)
		return;
	n = curl_uv_take_done(c->cu, &v);
	/* A reference on each first: finishing one may cancel another. */
	for (i = 0; i < n; i++)
		if (v[i].priv)
			((struct httpc_req *)v[i].priv)->refs++;
	for (i = 0; i < n; i++) {
		struct httpc_req *r = v[i].priv;
		if (!r)
			continue;
		if (!r->cancelled && !r->done_called)
			finish(r, v[i].result);
		req_unref(r);
	}
	free(v);
}

static void after_action(void *owner)
{
	struct httpc *c = owner;

	if (c->have_pending)
		deliver_streams(c);
	deliver_done(c);
}

struct httpc *httpc_new(uv_loop_t *loop)
{
	struct httpc *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->cu = curl_uv_new(loop, after_action, c);
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
	e = curl_easy_init();
	if (!e) {
		error("cannot start %s %s: libcurl could not create a handle", method, o->url);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->c = c;
	r->easy = e;
	r->refs = 1;
	r->on_data = o->on_data;
	r->on_done = o->on_done;
	r->data = o->data;
	strbuf_init(&r->in, 1024);

	curl_easy_setopt(e, CURLOPT_URL, o->url);
	if (o->unix_socket)
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, o->unix_socket);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "minik8s/" MINIK8S_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000L);
	if (o->timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	if (o->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (o->ca_pem) {
		struct curl_blob ca = { (void *)o->ca_pem, strlen(o->ca_pem), CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca);
	}
	/* Our peers are a local engine, pods and nodes: never a proxy from the environment. */
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	r->headers = curl_slist_append(r->headers, "Expect:");
	for (size_t i = 0; o->headers && o->headers[i]; i++)
		r->headers = curl_slist_append(r->headers, o->headers[i]);
	if (o->body || !strcmp(method, "POST") || !strcmp(method, "PUT")) {
		char *ct = xasprintf("Content-Type: %s", o->content_type ? o->content_type : "application/json");
		r->headers = curl_slist_append(r->headers, ct);
		free(ct);
		r->body = xmalloc(o->body_len + 1);
		if (o->body_len)
			memcpy(r->body, o->body, o->body_len);
		r->body[o->body_len] = '\0';
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") && strcmp(method, "POST"))
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	else if (!strcmp(method, "GET") && r->body)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "GET");

	if (curl_multi_add_handle(curl_uv_multi(c->cu), e) != CURLM_OK) {
		error("cannot start %s %s: libcurl refused the transfer", method, o->url);
		req_unref(r);
		return NULL;
	}
	r->in_multi = true;
	r->linked = true;
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
	c->nreqs++;
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
	while (c->reqs)
		httpc_cancel(c->reqs);
	curl_uv_close(c->cu, on_curl_closed, c);
}
