/*
 * REST calls behind rest.h, on the libcurl/libuv glue of core/curl_uv.h,
 * whose struct curl_uv_req carries each request: curl_uv hands a watch's
 * bytes to on_stream (split into events here) and ended transfers to
 * on_end, outside every curl callback, so that a user callback may cancel
 * anything, itself too. What is ours is the API: JSON bodies, the token and
 * the client certificate, watch events, and messages that name the server.
 */
#include "rest.h"
#include "core/curl_uv.h"
#include "kubeconfig.h"
#include "log.h"
#include "object.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 30000L
#define MAX_RESPONSE (512u << 20)

struct rest_request {
	struct curl_uv_req req;    /* first: the hooks cast it back; req.stream for a watch */
	struct rest_client *c;
	char *method, *path;
	char *local_error;         /* set when we end the transfer ourselves */
	rest_event_fn on_event;
	rest_done_fn on_done;
	void *data;
	uint64_t started_ms;
	bool ignore_body;          /* rest_options.ignore_body */
};

struct rest_client {
	uv_loop_t *loop;
	bool owns_loop;
	struct curl_uv *cu;
	char *server, *auth_header, *user_agent;
	char *ca, *cert, *key;
	size_t ca_len, cert_len, key_len;
	bool insecure;
	long timeout_ms;
	bool closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
};

char *rest_resource_path(const struct rest_resource *r, const char *ns, const char *name,
			 const char *subresource)
{
	struct strbuf sb;

	strbuf_init(&sb, 96);
	if (r->group && *r->group)
		strbuf_addf(&sb, "/apis/%s/%s", r->group, r->version);
	else
		strbuf_addf(&sb, "/api/%s", r->version);
	if (r->namespaced && ns && *ns)
		strbuf_addf(&sb, "/namespaces/%s", ns);
	strbuf_addf(&sb, "/%s", r->plural);
	if (name && *name)
		strbuf_addf(&sb, "/%s", name);
	if (name && *name && subresource && *subresource)
		strbuf_addf(&sb, "/%s", subresource);
	return strbuf_detach(&sb, NULL);
}

void rest_query_add(struct strbuf *path, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";

	strbuf_addc(path, strchr(path->buf, '?') ? '&' : '?');
	strbuf_adds(path, key);
	strbuf_addc(path, '=');
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			strbuf_addc(path, (char)*p);
		} else {
			strbuf_addc(path, '%');
			strbuf_addc(path, hex[*p >> 4]);
			strbuf_addc(path, hex[*p & 15]);
		}
	}
}

/* --- close ------------------------------------------------------------ */

static void on_curl_closed(void *arg)
{
	struct rest_client *c = arg;
	void (*cb)(void *) = c->on_closed;
	void *cb_arg = c->closed_arg;

	free(c->server);
	free(c->auth_header);
	free(c->user_agent);
	free(c->ca);
	free(c->cert);
	free(c->key);
	free(c);
	if (cb)
		cb(cb_arg);
}

/* --- requests ---------------------------------------------------------- */

void rest_cancel(struct rest_request *r)
{
	if (!r || r->req.cancelled || r->req.done)
		return;
	log_trace("rest cancel method=%s path=%s", r->method, r->path);
	curl_uv_req_cancel(&r->req);
}

size_t rest_client_pending(const struct rest_client *c)
{
	return curl_uv_pending(c->cu);
}

/* Parses one watch line and hands it to on_event. -1 ends the watch. */
static int deliver_line(struct rest_request *r, const char *line, size_t n)
{
	json_error_t jerr;
	json_t *ev, *obj;
	const char *type;

	while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	while (n && (*line == ' ' || *line == '\t' || *line == '\r')) {
		line++;
		n--;
	}
	if (!n)
		return 0;
	ev = obj_parse(line, n, 0, &jerr);
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		r->local_error = xasprintf("malformed watch event from %s%s: %s", r->c->server, r->path,
					   ev ? "no \"type\" or \"object\"" : jerr.text);
		json_decref(ev);
		return -1;
	}
	r->on_event(type, obj, r->data);
	json_decref(ev);
	return 0;
}

/* Delivers every complete line (and with final, the unterminated rest). */
static int deliver_lines(struct rest_request *r, bool final)
{
	struct strbuf *in = &r->req.in;
	size_t off = 0;
	int rc = 0;

	while (!r->req.cancelled && off < in->len) {
		/* Recomputed each round: a callback may have grown the buffer. */
		const char *start = in->buf + off;
		const char *nl = memchr(start, '\n', in->len - off);
		size_t n;

		if (!nl && !final)
			break;
		n = nl ? (size_t)(nl - start) : in->len - off;
		off += n + (nl ? 1 : 0);
		rc = deliver_line(r, start, n);
		if (rc < 0)
			break;
	}
	if (off) {
		memmove(in->buf, in->buf + off, in->len - off);
		in->len -= off;
		in->buf[in->len] = '\0';
	}
	return rc;
}

/* A watch got bytes: hand out its complete lines. A bad line returns -1,
 * and curl_uv then ends the transfer for on_end to report. */
static int on_stream(struct curl_uv_req *req)
{
	return deliver_lines((struct rest_request *)req, false);
}

static void build_transport_error(struct rest_request *r, CURLcode result, long code,
				  struct strbuf *msg)
{
	long oserr = 0;
	const char *detail;

	curl_easy_getinfo(r->req.easy, CURLINFO_OS_ERRNO, &oserr);
	if (result == CURLE_COULDNT_CONNECT && oserr)
		detail = strerror((int)oserr);
	else
		detail = curl_uv_req_error(&r->req, result);
	if (r->req.overflow)
		strbuf_addf(msg, "the response of the API server at %s to %s %s is too large", r->c->server,
			    r->method, r->path);
	else if (code)
		strbuf_addf(msg, "lost the connection to the API server at %s during %s %s: %s",
			    r->c->server, r->method, r->path, detail);
	else
		strbuf_addf(msg, "cannot reach the API server at %s: %s", r->c->server, detail);
}

/* Ends r: final watch lines, then on_done. */
static void on_end(struct curl_uv_req *req, CURLcode result)
{
	struct rest_request *r = (struct rest_request *)req;
	struct rest_response resp;
	struct strbuf msg;
	json_t *body = NULL;
	long code = 0;
	int lines_rc = 0;

	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &code);
	if (req->streaming && !r->local_error)
		lines_rc = deliver_lines(r, true);
	if (req->cancelled)
		return;

	memset(&resp, 0, sizeof(resp));
	strbuf_init(&msg, 128);
	resp.status = (int)code;
	if (r->local_error) {
		strbuf_adds(&msg, r->local_error);
	} else if (result != CURLE_OK && !(req->streaming && lines_rc < 0)) {
		build_transport_error(r, result, code, &msg);
	} else if (!req->streaming) {
		bool ok = code >= 200 && code < 300;
		if (req->in.len && !(ok && r->ignore_body))
			body = obj_parse(req->in.buf, req->in.len, JSON_DECODE_ANY, NULL);
		if (!ok) {
			const char *m = obj_str(body, "message");
			if (m && *m)
				strbuf_adds(&msg, m);
			else
				strbuf_addf(&msg, "the API server at %s answered %ld to %s %s", r->c->server,
					    code, r->method, r->path);
		}
	}
	resp.body = body;
	resp.raw = req->streaming ? "" : req->in.buf;
	resp.raw_len = req->streaming ? 0 : req->in.len;
	resp.error = msg.len ? msg.buf : NULL;
	if (json_is_object(body) && !strcmp(obj_kind(body) ? obj_kind(body) : "", "Status"))
		resp.reason = obj_str(body, "reason");
	if (resp.error)
		log_debug("rest method=%s path=%s status=%d error=\"%s\"", r->method, r->path, resp.status,
			  resp.error);
	else
		log_trace("rest method=%s path=%s status=%d ms=%llu", r->method, r->path, resp.status,
			  (unsigned long long)(now_ms() - r->started_ms));
	req->done = true;
	r->on_done(&resp, r->data);
	json_decref(body);
	strbuf_release(&msg);
}

static void req_free(struct curl_uv_req *req)
{
	struct rest_request *r = (struct rest_request *)req;

	free(r->method);
	free(r->path);
	free(r->local_error);
	free(r);
}

static const struct curl_uv_req_ops rest_req_ops = {
	.max_body = MAX_RESPONSE,
	.on_stream = on_stream,
	.on_end = on_end,
	.free = req_free,
};

static char *dup_buf(const char *p, size_t len)
{
	char *b;

	if (!p)
		return NULL;
	b = xmalloc(len + 1);
	memcpy(b, p, len);
	b[len] = '\0';
	return b;
}

struct rest_client *rest_client_new(uv_loop_t *loop, const struct kubeconfig *kc)
{
	struct rest_client *c;

	if (!kc || !kc->server || !*kc->server) {
		error("no API server to talk to; pass --server or a kubeconfig with a cluster server");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	if (!loop) {
		loop = xmalloc(sizeof(*loop));
		uv_loop_init(loop);
		c->owns_loop = true;
	}
	c->loop = loop;
	c->server = xstrdup(kc->server);
	if (kc->token && *kc->token)
		c->auth_header = xasprintf("Authorization: Bearer %s", kc->token);
	c->user_agent = xasprintf("minik8s/%s (%s)", MINIK8S_VERSION, log_component());
	c->ca = dup_buf(kc->ca_pem, kc->ca_pem_len);
	c->ca_len = kc->ca_pem_len;
	c->cert = dup_buf(kc->cert_pem, kc->cert_pem_len);
	c->cert_len = kc->cert_pem_len;
	c->key = dup_buf(kc->key_pem, kc->key_pem_len);
	c->key_len = kc->key_pem_len;
	c->insecure = kc->insecure;
	c->timeout_ms = DEFAULT_TIMEOUT_MS;
	c->cu = curl_uv_new(loop, NULL, NULL);
	return c;
}

void rest_client_set_timeout(struct rest_client *c, long timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

const char *rest_client_server(const struct rest_client *c)
{
	return c->server;
}

uv_loop_t *rest_client_loop(const struct rest_client *c)
{
	return c->loop;
}

/* As the apiserver does (pki.c): an idle connection holds no record buffers. */
static CURLcode on_ssl_ctx(CURL *e, void *ssl_ctx, void *data)
{
	(void)e;
	(void)data;
	SSL_CTX_set_mode((SSL_CTX *)ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
	return CURLE_OK;
}

static void set_tls(struct rest_client *c, struct curl_uv_req *req)
{
	CURL *e = req->easy;

	curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	curl_uv_req_trust(req, c->insecure, c->ca, c->ca_len);
	if (c->cert && c->key) {
		struct curl_blob cert = { c->cert, c->cert_len, CURL_BLOB_COPY };
		struct curl_blob key = { c->key, c->key_len, CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
}

static struct rest_request *start(struct rest_client *c, const char *method, const char *path,
				  const json_t *body, const struct rest_options *opts, bool watch,
				  rest_event_fn on_event, rest_done_fn on_done, void *data)
{
	struct rest_request *r;
	char *url, *h;
	long timeout = opts && opts->timeout_ms ? opts->timeout_ms : c->timeout_ms;
	CURL *e;
	int rc;

	if (c->closing) {
		error("cannot start %s %s: the API client is shutting down", method, path);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	url = xasprintf("%s%s%s", c->server, path[0] == '/' ? "" : "/", path);
	rc = curl_uv_req_init(&r->req, c->cu, &rest_req_ops, url, watch);
	free(url);
	if (rc < 0) {
		error("cannot start %s %s: libcurl could not create a handle", method, path);
		free(r);
		return NULL;
	}
	r->c = c;
	r->method = xstrdup(method);
	r->path = xstrdup(path);
	r->on_event = on_event;
	r->on_done = on_done;
	r->data = data;
	r->started_ms = now_ms();
	r->ignore_body = opts && opts->ignore_body;

	e = r->req.easy;
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	/* Watches stay open for minutes with nothing to say; keepalive probes
	 * find a dead peer instead of a timeout cutting a healthy stream. */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	if (!watch && timeout > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
	set_tls(c, &r->req);

	h = xasprintf("Accept: %s", opts && opts->accept ? opts->accept : "application/json");
	r->req.headers = curl_slist_append(r->req.headers, h);
	free(h);
	if (c->auth_header)
		r->req.headers = curl_slist_append(r->req.headers, c->auth_header);
	if (body) {
		size_t len;
		r->req.body = obj_dump(body, &len);
		h = xasprintf("Content-Type: %s",
			      opts && opts->content_type ? opts->content_type : "application/json");
		r->req.headers = curl_slist_append(r->req.headers, h);
		free(h);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->req.body);
	}
	if (!strcmp(method, "POST")) {
		if (!body) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		}
	} else if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET")) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}

	if (curl_uv_req_start(&r->req) < 0) {
		error("cannot start %s %s: libcurl refused the transfer", method, path);
		return NULL;
	}
	log_trace("rest start method=%s path=%s", method, path);
	return r;
}

struct rest_request *rest_call(struct rest_client *c, const char *method, const char *path,
			       const json_t *body, const struct rest_options *opts,
			       rest_done_fn on_done, void *data)
{
	return start(c, method, path, body, opts, false, NULL, on_done, data);
}

struct rest_request *rest_get(struct rest_client *c, const char *path, rest_done_fn on_done,
			      void *data)
{
	return start(c, "GET", path, NULL, NULL, false, NULL, on_done, data);
}

struct rest_request *rest_create(struct rest_client *c, const char *path, const json_t *obj,
				 rest_done_fn on_done, void *data)
{
	return start(c, "POST", path, obj, NULL, false, NULL, on_done, data);
}

struct rest_request *rest_update(struct rest_client *c, const char *path, const json_t *obj,
				 rest_done_fn on_done, void *data)
{
	return start(c, "PUT", path, obj, NULL, false, NULL, on_done, data);
}

struct rest_request *rest_patch(struct rest_client *c, const char *path, const char *content_type,
				const json_t *patch, rest_done_fn on_done, void *data)
{
	struct rest_options o = { .content_type = content_type };

	return start(c, "PATCH", path, patch, &o, false, NULL, on_done, data);
}

struct rest_request *rest_delete(struct rest_client *c, const char *path, const json_t *options,
				 rest_done_fn on_done, void *data)
{
	return start(c, "DELETE", path, options, NULL, false, NULL, on_done, data);
}

struct rest_request *rest_watch(struct rest_client *c, const char *path, rest_event_fn on_event,
				rest_done_fn on_done, void *data)
{
	return start(c, "GET", path, NULL, NULL, true, on_event, on_done, data);
}

void rest_client_close(struct rest_client *c, void (*on_closed)(void *arg), void *arg)
{
	uv_loop_t *loop = c->loop;
	bool owns = c->owns_loop;

	if (c->closing)
		return;
	c->closing = true;
	c->on_closed = on_closed;
	c->closed_arg = arg;
	curl_uv_close(c->cu, on_curl_closed, c);
	if (owns) {
		/* c is freed by the last close callback inside this run. */
		uv_run(loop, UV_RUN_DEFAULT);
		if (uv_loop_close(loop))
			log_warn("rest client loop still has handles at close");
		free(loop);
	}
}

/* --- blocking use -------------------------------------------------------- */

struct sync_state {
	struct rest_result *res;
	bool done;
};

static void on_sync_done(const struct rest_response *resp, void *data)
{
	struct sync_state *st = data;
	struct rest_result *res = st->res;

	res->status = resp->status;
	res->body = json_incref(resp->body);
	res->raw = dup_buf(resp->raw ? resp->raw : "", resp->raw ? resp->raw_len : 0);
	res->raw_len = resp->raw ? resp->raw_len : 0;
	res->error = resp->error ? xstrdup(resp->error) : NULL;
	res->reason = resp->reason ? xstrdup(resp->reason) : NULL;
	st->done = true;
}

int rest_sync(struct rest_client *c, const char *method, const char *path, const json_t *body,
	      const struct rest_options *opts, struct rest_result *res)
{
	struct sync_state st = { res, false };

	memset(res, 0, sizeof(*res));
	if (!c->owns_loop) {
		res->error = xstrdup("rest_sync needs a client made with its own loop");
		goto fail;
	}
	if (!rest_call(c, method, path, body, opts, on_sync_done, &st)) {
		res->error = xasprintf("cannot start %s %s", method, path);
		goto fail;
	}
	while (!st.done) {
		if (!uv_run(c->loop, UV_RUN_ONCE) && !st.done) {
			res->error = xasprintf("%s %s stalled with nothing left to wait for", method, path);
			goto fail;
		}
	}
	return res->error ? -1 : 0;
fail:
	if (!res->raw)
		res->raw = xstrdup("");
	return -1;
}

void rest_result_release(struct rest_result *res)
{
	json_decref(res->body);
	free(res->raw);
	free(res->error);
	free(res->reason);
	memset(res, 0, sizeof(*res));
}

int rest_client_run(struct rest_client *c)
{
	if (!c->owns_loop)
		return -1;
	while (curl_uv_pending(c->cu))
		if (!uv_run(c->loop, UV_RUN_ONCE) && curl_uv_pending(c->cu))
			return error("API requests stalled with nothing left to wait for");
	return 0;
}
