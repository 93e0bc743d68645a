/*
 * REST calls behind rest.h, on the libcurl/libuv glue of core/curl_uv.h.
 * User callbacks never run inside a curl callback: curl only fills
 * buffers, and after each socket action (after_action) we deliver watch
 * lines (deliver_streams) and finished transfers (deliver_done), holding a
 * reference on each request so a callback may cancel anything, itself too.
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
#define CONNECT_TIMEOUT_MS 10000L
/* A watch keeps at most this much of a line it has not seen the end of. */
#define MAX_WATCH_PENDING (64u << 20)
#define MAX_RESPONSE (512u << 20)

struct rest_request {
	struct rest_client *c;
	struct rest_request *prev, *next;  /* in c->requests while linked */
	CURL *easy;
	struct curl_slist *headers;
	char *method, *path, *body;
	struct strbuf in;          /* response body; for a streaming watch, bytes not yet split */
	char errbuf[CURL_ERROR_SIZE];
	char *local_error;         /* set when we end the transfer ourselves */
	rest_event_fn on_event;
	rest_done_fn on_done;
	void *data;
	uint64_t started_ms;
	int refs;                  /* one for the client list, one per delivery in progress */
	bool linked, in_multi, watch, status_known, streaming, pending, overflow;
	bool cancelled, done_called;
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
	struct rest_request *requests;
	size_t nrequests;
	bool have_pending;         /* some watch got bytes since the last delivery */
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

static void req_unref(struct rest_request *r)
{
	if (--r->refs)
		return;
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	strbuf_release(&r->in);
	free(r->method);
	free(r->path);
	free(r->body);
	free(r->local_error);
	free(r);
}

/* Takes r out of curl and the client's list. The caller keeps its own ref. */
static void req_detach(struct rest_request *r)
{
	struct rest_client *c = r->c;

	if (r->in_multi) {
		curl_multi_remove_handle(curl_uv_multi(c->cu), r->easy);
		r->in_multi = false;
	}
	if (!r->linked)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		c->requests = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	r->linked = false;
	c->nrequests--;
	req_unref(r);
}

void rest_cancel(struct rest_request *r)
{
	if (!r || r->cancelled || r->done_called)
		return;
	r->cancelled = true;
	log_trace("rest cancel method=%s path=%s", r->method, r->path);
	req_detach(r);
}

size_t rest_client_pending(const struct rest_client *c)
{
	return c->nrequests;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct rest_request *r = userdata;
	size_t n = size * nmemb;

	if (r->watch && !r->status_known) {
		long code = 0;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
		r->status_known = true;
		r->streaming = code >= 200 && code < 300;
	}
	if (r->in.len + n > (r->streaming ? MAX_WATCH_PENDING : MAX_RESPONSE)) {
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
	size_t off = 0;
	int rc = 0;

	while (!r->cancelled && off < r->in.len) {
		/* Recomputed each round: a callback may have grown the buffer. */
		const char *start = r->in.buf + off;
		const char *nl = memchr(start, '\n', r->in.len - off);
		size_t n;

		if (!nl && !final)
			break;
		n = nl ? (size_t)(nl - start) : r->in.len - off;
		off += n + (nl ? 1 : 0);
		rc = deliver_line(r, start, n);
		if (rc < 0)
			break;
	}
	if (off) {
		memmove(r->in.buf, r->in.buf + off, r->in.len - off);
		r->in.len -= off;
		r->in.buf[r->in.len] = '\0';
	}
	return rc;
}

static void build_transport_error(struct rest_request *r, CURLcode result, long code,
				  struct strbuf *msg)
{
	long oserr = 0;
	size_t n = strlen(r->errbuf);
	const char *detail;

	while (n && (r->errbuf[n - 1] == '\n' || r->errbuf[n - 1] == '\r'))
		r->errbuf[--n] = '\0';
	curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
	if (result == CURLE_COULDNT_CONNECT && oserr)
		detail = strerror((int)oserr);
	else if (n)
		detail = r->errbuf;
	else
		detail = curl_easy_strerror(result);
	if (r->overflow)
		strbuf_addf(msg, "the response of the API server at %s to %s %s is too large", r->c->server,
			    r->method, r->path);
	else if (code)
		strbuf_addf(msg, "lost the connection to the API server at %s during %s %s: %s",
			    r->c->server, r->method, r->path, detail);
	else
		strbuf_addf(msg, "cannot reach the API server at %s: %s", r->c->server, detail);
}

/* Ends r: final watch lines, then on_done. The caller holds a ref on r. */
static void finish_request(struct rest_request *r, CURLcode result)
{
	struct rest_response resp;
	struct strbuf msg;
	json_t *body = NULL;
	long code = 0;
	int lines_rc = 0;

	req_detach(r);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	if (r->streaming && !r->local_error)
		lines_rc = deliver_lines(r, true);
	if (r->cancelled)
		return;

	memset(&resp, 0, sizeof(resp));
	strbuf_init(&msg, 128);
	resp.status = (int)code;
	if (r->local_error) {
		strbuf_adds(&msg, r->local_error);
	} else if (result != CURLE_OK && !(r->streaming && lines_rc < 0)) {
		build_transport_error(r, result, code, &msg);
	} else if (!r->streaming) {
		if (r->in.len)
			body = obj_parse(r->in.buf, r->in.len, JSON_DECODE_ANY, NULL);
		if (code < 200 || code >= 300) {
			const char *m = obj_str(body, "message");
			if (m && *m)
				strbuf_adds(&msg, m);
			else
				strbuf_addf(&msg, "the API server at %s answered %ld to %s %s", r->c->server,
					    code, r->method, r->path);
		}
	}
	resp.body = body;
	resp.raw = r->streaming ? "" : r->in.buf;
	resp.raw_len = r->streaming ? 0 : r->in.len;
	resp.error = msg.len ? msg.buf : NULL;
	if (json_is_object(body) && !strcmp(obj_kind(body) ? obj_kind(body) : "", "Status"))
		resp.reason = obj_str(body, "reason");
	if (resp.error)
		log_debug("rest method=%s path=%s status=%d error=\"%s\"", r->method, r->path, resp.status,
			  resp.error);
	else
		log_trace("rest method=%s path=%s status=%d ms=%llu", r->method, r->path, resp.status,
			  (unsigned long long)(now_ms() - r->started_ms));
	r->done_called = true;
	r->on_done(&resp, r->data);
	json_decref(body);
	strbuf_release(&msg);
}

/* Watches that got bytes: hand out their complete lines. */
static void deliver_streams(struct rest_client *c)
{
	struct rest_request **v, *r;
	size_t n = 0, i;

	c->have_pending = false;
	for (r = c->requests; r; r = r->next)
		n += r->pending;
	if (!n)
		return;
	v = xmalloc(n * sizeof(*v));
	n = 0;
	for (r = c->requests; r; r = r->next) {
		if (r->pending) {
			r->refs++;
			v[n++] = r;
		}
	}
	for (i = 0; i < n; i++) {
		r = v[i];
		r->pending = false;
		if (!r->cancelled && !r->done_called && deliver_lines(r, false) < 0 && !r->cancelled) {
			/* A bad line: stop the transfer ourselves and report. */
			finish_request(r, CURLE_OK);
		}
		req_unref(r);
	}
	free(v);
}

static void deliver_done(struct rest_client *c)
{
	struct curl_uv_done *v;
	size_t n, i;

	if (c->closing)
		return;
	n = curl_uv_take_done(c->cu, &v);
	/* A reference on each first: finishing one may cancel another. */
	for (i = 0; i < n; i++)
		if (v[i].priv)
			((struct rest_request *)v[i].priv)->refs++;
	for (i = 0; i < n; i++) {
		struct rest_request *r = v[i].priv;
		if (!r)
			continue;
		if (!r->cancelled && !r->done_called)
			finish_request(r, v[i].result);
		req_unref(r);
	}
	free(v);
}

static void after_action(void *owner)
{
	struct rest_client *c = owner;

	if (c->have_pending)
		deliver_streams(c);
	deliver_done(c);
}

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
	c->cu = curl_uv_new(loop, after_action, c);
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

static void set_tls(struct rest_client *c, CURL *e)
{
	curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	if (c->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca) {
		struct curl_blob blob = { c->ca, c->ca_len, CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
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

	if (c->closing) {
		error("cannot start %s %s: the API client is shutting down", method, path);
		return NULL;
	}
	e = curl_easy_init();
	if (!e) {
		error("cannot start %s %s: libcurl could not create a handle", method, path);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->c = c;
	r->easy = e;
	r->refs = 1;
	r->method = xstrdup(method);
	r->path = xstrdup(path);
	r->watch = watch;
	r->on_event = on_event;
	r->on_done = on_done;
	r->data = data;
	r->started_ms = now_ms();
	strbuf_init(&r->in, watch ? 4096 : 1024);

	url = xasprintf("%s%s%s", c->server, path[0] == '/' ? "" : "/", path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	/* Watches stay open for minutes with nothing to say; keepalive probes
	 * find a dead peer instead of a timeout cutting a healthy stream. */
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	if (!watch && timeout > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
	set_tls(c, e);

	h = xasprintf("Accept: %s", opts && opts->accept ? opts->accept : "application/json");
	r->headers = curl_slist_append(r->headers, h);
	free(h);
	if (c->auth_header)
		r->headers = curl_slist_append(r->headers, c->auth_header);
	/* curl would wait for "100 Continue" on large bodies; our server does not send it. */
	r->headers = curl_slist_append(r->headers, "Expect:");
	if (body) {
		size_t len;
		r->body = obj_dump(body, &len);
		h = xasprintf("Content-Type: %s",
			      opts && opts->content_type ? opts->content_type : "application/json");
		r->headers = curl_slist_append(r->headers, h);
		free(h);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
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

	if (curl_multi_add_handle(curl_uv_multi(c->cu), e) != CURLM_OK) {
		error("cannot start %s %s: libcurl refused the transfer", method, path);
		req_unref(r);
		return NULL;
	}
	r->in_multi = true;
	r->linked = true;
	r->next = c->requests;
	if (c->requests)
		c->requests->prev = r;
	c->requests = r;
	c->nrequests++;
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
	while (c->requests)
		rest_cancel(c->requests);
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
	while (c->nrequests)
		if (!uv_run(c->loop, UV_RUN_ONCE) && c->nrequests)
			return error("API requests stalled with nothing left to wait for");
	return 0;
}
