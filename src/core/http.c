/*
 * The HTTP/1.1 server every minik8s component listens with (see http.h for
 * the contract). One struct http_conn per client socket owns a uv_tcp, one
 * uv_timer (header, idle, linger and "resume" deadlines share it), an
 * http-parser and, for HTTPS, an SSL object fed through memory BIOs. Requests
 * are parsed one at a time: the parser pauses after each message and bytes
 * that follow wait in the connection's buffer until the response has ended.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <http_parser.h>
#include <jansson.h>
#include <openssl/err.h>

#include "http.h"
#include "http_internal.h"
#include "log.h"
#include "object.h"
#include "util.h"

#define DEFAULT_MAX_BODY (3u * 1024 * 1024)
#define DEFAULT_HEADER_TIMEOUT_MS 10000
#define DEFAULT_IDLE_TIMEOUT_MS 90000
#define DEFAULT_MAX_CONNECTIONS 10000
/* Request line and headers together; more gets 431. */
#define MAX_HEADER_BYTES (64 * 1024)
/* Pipelined bytes held while a request is being handled; beyond, stop reading. */
#define MAX_BUFFERED (256 * 1024)
/* After our last byte and FIN, how long we drain a client that keeps sending,
 * so that its unread data does not turn our close into a reset that would
 * destroy the error response it has not read yet. */
#define LINGER_MS 1000
/* TLS output is encrypted and sent in slices of this size. */
#define TLS_SLICE (256 * 1024)
#define READ_BUFFER (64 * 1024)
/* Sends smaller than this wait for the loop's next turn (see conn_send);
 * a connection holds at most CORK_MAX such bytes before it sends them. */
#define CORK_DIRECT (16 * 1024)
#define CORK_MAX (64 * 1024)

enum conn_timer {
	TIMER_NONE,
	TIMER_HEADER, /* a request (or the TLS handshake) is arriving */
	TIMER_IDLE,   /* keep-alive, waiting for the next request */
	TIMER_RESUME, /* 0 ms: parse pipelined bytes after an async response */
	TIMER_ABORT,  /* 0 ms: a write failed; close outside the caller's stack */
	TIMER_FLUSH,  /* closing: the client must keep reading our last bytes */
	TIMER_LINGER, /* closing: FIN sent, draining until the client's EOF */
};

struct http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	struct http_server_config cfg;
	int port;
	struct http_conn *conns; /* every connection until its handles closed */
	size_t nopen;            /* connections not closing */
	bool closing;
	bool listener_closed;
	bool flush_closed;
	uv_idle_t flush;         /* runs while corked is not empty */
	struct http_conn *corked; /* connections with output waiting (see conn_send) */
	void (*close_cb)(void *data);
	void *close_data;
	/* Read callbacks run one at a time and consume the bytes at once, so
	 * every connection reads into the same buffers. */
	char readbuf[READ_BUFFER];
	char plainbuf[16384];
};

struct request;

struct http_conn {
	struct http_server *srv;
	struct http_conn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_shutdown_t shutdown_req;
	int open_handles;
	enum conn_timer timer_mode;
	http_parser parser;
	struct request *cur;    /* being parsed */
	struct request *ready;  /* parsed, about to be dispatched */
	struct request *active; /* with the handler; response not ended */
	struct strbuf in;       /* plaintext received and not yet parsed */
	size_t in_off;
	size_t header_bytes;
	int error_status; /* set by a parser callback that rejects the request */
	const char *error_reason;
	char error_msg[128];
	unsigned writes; /* uv_write requests in flight */
	/* Output held until the loop's next turn, all of one request's, which
	 * holds a reference and counts them in its pending bytes. */
	struct strbuf out;
	struct request *out_r;
	struct http_conn *out_prev, *out_next; /* on srv->corked while out.len > 0 */
	SSL *ssl;
	char remote_addr[64];
	bool reading;
	bool in_parse;  /* conn_parse is on the stack */
	bool closing;   /* uv_close called; freed in the close callbacks */
	bool finishing; /* last response sent or being sent; then FIN and close */
	bool broken;    /* a write failed; closing soon */
	bool shut;      /* uv_shutdown requested */
	bool lingering; /* FIN sent, draining */
	bool eof;       /* the client sent EOF (or TLS close_notify) */
	bool tls_seen;  /* some bytes arrived on the TLS connection */
	bool tls_fatal; /* no SSL_shutdown after a fatal TLS error */
};

struct request {
	struct http_request pub; /* first: struct http_request * converts back */
	int refs;
	struct http_conn *conn; /* NULL once the response ended or the client left */
	struct strbuf url, field, value, body, resp_headers;
	size_t headers_alloc;
	bool in_value;     /* the last header callback was a value */
	bool headers_done; /* later header callbacks are chunked trailers */
	bool keep_alive;
	bool head;
	bool chunked; /* the streamed response uses chunked encoding */
	bool started, streaming, ended, gone, server_ref;
	unsigned short http_major, http_minor;
	int status;
	size_t bytes_out;
	size_t pending;
	uint64_t start_ms;
	void (*on_close)(struct http_request *req, void *data);
	void *on_close_data;
	/* http_stream_on_drain: called once pending falls to drain_low */
	void (*on_drain)(struct http_request *req, void *data);
	void *on_drain_data;
	size_t drain_low;
};

struct http_write {
	uv_write_t req;
	struct http_conn *conn;
	struct request *r; /* a reference, or NULL */
	size_t len;
	char *mem; /* heap buffer freed with the write, or NULL for data[] */
	char data[];
};

static void conn_close(struct http_conn *c);
static void conn_finish(struct http_conn *c);
static void conn_settle(struct http_conn *c);
static void conn_send(struct http_conn *c, struct request *r, const uv_buf_t *bufs, unsigned n);
static void conn_uncork(struct http_conn *c);
static void cork_drop(struct http_conn *c);

/* --- small helpers -------------------------------------------------------- */

/* uv_buf_init() takes an unsigned int; lengths here are size_t. */
static uv_buf_t buf_of(const void *base, size_t len)
{
	uv_buf_t b;

	b.base = (char *)base;
	b.len = len;
	return b;
}

static struct request *req_of(const struct http_request *pub)
{
	return (struct request *)pub;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decodes src; plus_space turns '+' into ' ' (query components). */
static char *url_decode(const char *src, size_t len, bool plus_space, size_t *outlen)
{
	char *out = xmalloc(len + 1);
	size_t i, j = 0;

	for (i = 0; i < len; i++) {
		if (src[i] == '%') {
			int hi, lo;

			if (i + 2 >= len) {
				free(out);
				return NULL;
			}
			hi = hexval((unsigned char)src[i + 1]);
			lo = hexval((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0) {
				free(out);
				return NULL;
			}
			out[j++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (plus_space && src[i] == '+') {
			out[j++] = ' ';
		} else {
			out[j++] = src[i];
		}
	}
	out[j] = '\0';
	if (outlen)
		*outlen = j;
	return out;
}

char *http_url_decode(const char *src, size_t len)
{
	return url_decode(src, len, false, NULL);
}

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Request Entity Too Large";
	case 414: return "Request-URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Entity";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: break;
	}
	if (status >= 200 && status < 300)
		return "OK";
	if (status >= 400 && status < 500)
		return "Bad Request";
	if (status >= 500 && status < 600)
		return "Internal Server Error";
	return "Unknown";
}

/* RFC 7231 IMF-fixdate, recomputed at most once a second. */
static const char *http_date(void)
{
	static __thread char buf[40];
	static __thread time_t last = -1;
	time_t now = time(NULL);
	struct tm tm;

	if (now != last && gmtime_r(&now, &tm)) {
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return buf;
}

/* --- requests --------------------------------------------------------------- */

static struct request *request_new(void)
{
	struct request *r = xcalloc(1, sizeof(*r));

	r->refs = 1;
	r->server_ref = true;
	strbuf_init(&r->url, 64);
	strbuf_init(&r->field, 32);
	strbuf_init(&r->value, 64);
	strbuf_init(&r->body, 0);
	strbuf_init(&r->resp_headers, 0);
	r->pub.method = "";
	r->pub.body = r->body.buf;
	r->start_ms = now_ms();
	return r;
}

static void request_free(struct request *r)
{
	size_t i;

	for (i = 0; i < r->pub.nheaders; i++) {
		free(r->pub.headers[i].name);
		free(r->pub.headers[i].value);
	}
	free(r->pub.headers);
	free(r->pub.url);
	free(r->pub.path);
	free(r->pub.query);
	strbuf_release(&r->url);
	strbuf_release(&r->field);
	strbuf_release(&r->value);
	strbuf_release(&r->body);
	strbuf_release(&r->resp_headers);
	free(r);
}

void http_request_ref(struct http_request *pub)
{
	req_of(pub)->refs++;
}

void http_request_unref(struct http_request *pub)
{
	struct request *r;

	if (!pub)
		return;
	r = req_of(pub);
	if (r->refs <= 0) {
		log_error("http request '%s' unreferenced once too often: fix the handler's ref counting",
			  r->pub.url ? r->pub.url : "");
		return;
	}
	if (--r->refs == 0)
		request_free(r);
}

static void request_drop_server_ref(struct request *r)
{
	if (r->server_ref) {
		r->server_ref = false;
		http_request_unref(&r->pub);
	}
}

bool http_request_closed(const struct http_request *pub)
{
	const struct request *r = req_of(pub);

	return r->gone || (r->conn && (r->conn->closing || r->conn->broken));
}

void http_request_on_close(struct http_request *pub, void (*cb)(struct http_request *req, void *data), void *data)
{
	struct request *r = req_of(pub);

	r->on_close = cb;
	r->on_close_data = cb ? data : NULL;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (!strcasecmp(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}

/* As Go's url.ParseQuery: pairs split on '&', '+' is a space, a pair with a
 * bad escape or a ';' is skipped. */
char *http_request_query(const struct http_request *req, const char *key)
{
	const char *p = req->query;

	while (p && *p) {
		const char *end = strchr(p, '&'), *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *k;
		bool match;

		eq = memchr(p, '=', len);
		if (len && !memchr(p, ';', len)) {
			k = url_decode(p, eq ? (size_t)(eq - p) : len, true, NULL);
			match = k && !strcmp(k, key);
			free(k);
			if (match) {
				char *v = eq ? url_decode(eq + 1, len - (size_t)(eq - p) - 1, true, NULL) : xstrdup("");

				if (v)
					return v;
			}
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

static void request_commit_header(struct request *r)
{
	struct http_header *h;
	size_t n;

	if (!r->in_value && !r->field.len)
		return;
	if (r->pub.nheaders == r->headers_alloc) {
		r->headers_alloc = r->headers_alloc ? r->headers_alloc * 2 : 16;
		r->pub.headers = xrealloc(r->pub.headers, r->headers_alloc * sizeof(*r->pub.headers));
	}
	/* http-parser skips the spaces before a value, not those after it. */
	n = r->value.len;
	while (n && (r->value.buf[n - 1] == ' ' || r->value.buf[n - 1] == '\t'))
		n--;
	h = &r->pub.headers[r->pub.nheaders++];
	h->name = xstrndup(r->field.buf, r->field.len);
	h->value = xstrndup(r->value.buf, n);
	strbuf_reset(&r->field);
	strbuf_reset(&r->value);
	r->in_value = false;
}

/* Fills url, path and query from the request target. */
static int request_split_url(struct request *r)
{
	const char *url, *path, *query = NULL;
	size_t path_len, query_len = 0, decoded_len;

	r->pub.url = strbuf_detach(&r->url, NULL);
	url = r->pub.url;
	if (url[0] == '/') {
		size_t n = strcspn(url, "?#");

		path = url;
		path_len = n;
		if (url[n] == '?') {
			query = url + n + 1;
			query_len = strcspn(query, "#");
		}
	} else if (!strcmp(url, "*")) {
		path = url;
		path_len = 1;
	} else {
		struct http_parser_url u;

		/* absolute-form, as proxies send it */
		http_parser_url_init(&u);
		if (http_parser_parse_url(url, strlen(url), 0, &u))
			return -1;
		if (u.field_set & (1 << UF_PATH)) {
			path = url + u.field_data[UF_PATH].off;
			path_len = u.field_data[UF_PATH].len;
		} else {
			path = "/";
			path_len = 1;
		}
		if (u.field_set & (1 << UF_QUERY)) {
			query = url + u.field_data[UF_QUERY].off;
			query_len = u.field_data[UF_QUERY].len;
		}
	}
	r->pub.path = url_decode(path, path_len, false, &decoded_len);
	/* %00 would cut the C string that handlers route on. */
	if (!r->pub.path || strlen(r->pub.path) != decoded_len)
		return -1;
	if (query)
		r->pub.query = xstrndup(query, query_len);
	return 0;
}

/* --- timers and connection lifetime ---------------------------------------- */

static void on_timer(uv_timer_t *t);

static void conn_timer(struct http_conn *c, enum conn_timer mode, uint64_t ms)
{
	/* Once closing has begun, only the closing deadlines may replace it. */
	if (c->closing || (c->broken && mode != TIMER_ABORT) ||
	    (c->finishing && mode != TIMER_FLUSH && mode != TIMER_LINGER && mode != TIMER_ABORT))
		return;
	c->timer_mode = mode;
	if (mode == TIMER_NONE)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void server_maybe_done(struct http_server *srv)
{
	void (*cb)(void *data);
	void *data;

	if (!srv->closing || !srv->listener_closed || !srv->flush_closed || srv->conns)
		return;
	cb = srv->close_cb;
	data = srv->close_data;
	free(srv);
	if (cb)
		cb(data);
}

static void conn_free(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->cur)
		request_free(c->cur);
	if (c->ready)
		request_free(c->ready);
	strbuf_release(&c->in);
	strbuf_release(&c->out);
	if (c->ssl)
		SSL_free(c->ssl);
	free(c);
	server_maybe_done(srv);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct http_conn *c = h->data;

	if (--c->open_handles == 0)
		conn_free(c);
}

/* Closes at once: pending writes are cancelled and an unfinished response's
 * on_close callback runs (it may end the response or drop its reference). */
static void conn_close(struct http_conn *c)
{
	struct request *r;

	if (c->closing)
		return;
	c->closing = true;
	c->srv->nopen--;
	uv_timer_stop(&c->timer);
	cork_drop(c);
	r = c->active;
	if (r) {
		void (*cb)(struct http_request *, void *) = r->on_close;

		c->active = NULL;
		r->conn = NULL;
		r->gone = true;
		r->on_close = NULL;
		log_debug("request method=%s path=%.*s code=%d remote=%s client_gone=1", r->pub.method,
			  (int)strcspn(r->pub.url, "?"), r->pub.url, r->status, c->remote_addr);
		/* the callback may end the response, which drops the server's
		 * reference, and then drop its own: hold one through it */
		http_request_ref(&r->pub);
		if (cb)
			cb(&r->pub, r->on_close_data);
		request_drop_server_ref(r);
		http_request_unref(&r->pub);
	}
	uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

/* A write failed: stop writing now, close from a fresh stack (the caller may
 * be a handler in the middle of http_stream_write). */
static void conn_abort(struct http_conn *c)
{
	if (c->closing || c->broken)
		return;
	c->broken = true;
	conn_timer(c, TIMER_ABORT, 0);
}

static void conn_read_start(struct http_conn *c);

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct http_conn *c = req->data;

	if (c->closing)
		return;
	if (status < 0 || c->eof) {
		conn_close(c);
		return;
	}
	c->lingering = true;
	conn_timer(c, TIMER_LINGER, LINGER_MS);
}

static void conn_shutdown(struct http_conn *c)
{
	if (c->shut || c->closing)
		return;
	c->shut = true;
	if (c->eof) {
		conn_close(c);
		return;
	}
	c->shutdown_req.data = c;
	if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
		conn_close(c);
}

static void tls_flush(struct http_conn *c, struct request *r);

/* Graceful close after the last response: flush, close_notify, FIN, linger. */
static void conn_finish(struct http_conn *c)
{
	if (c->finishing || c->closing || c->broken)
		return;
	conn_uncork(c);
	if (c->closing || c->broken)
		return;
	conn_timer(c, TIMER_FLUSH, c->srv->cfg.idle_timeout_ms);
	c->finishing = true;
	if (c->ssl && !c->tls_fatal && SSL_is_init_finished(c->ssl)) {
		ERR_clear_error();
		SSL_shutdown(c->ssl);
		ERR_clear_error();
		tls_flush(c, NULL);
		if (c->closing)
			return;
	}
	if (!c->eof)
		conn_read_start(c);
	if (c->writes == 0)
		conn_shutdown(c);
}

/* --- writing ---------------------------------------------------------------- */

/* Calls the request's drain callback once its unsent bytes are few enough. */
static void request_check_drain(struct request *r)
{
	if (r->on_drain && r->pending <= r->drain_low && !r->gone && !r->ended && r->conn && !r->conn->closing) {
		void (*cb)(struct http_request *req, void *data) = r->on_drain;

		r->on_drain = NULL;
		cb(&r->pub, r->on_drain_data);
	}
}

static void on_write(uv_write_t *req, int status)
{
	struct http_write *w = (struct http_write *)req;
	struct http_conn *c = w->conn;
	struct request *r = w->r;

	c->writes--;
	if (r)
		r->pending -= w->len;
	free(w->mem);
	free(w);
	if (!c->closing) {
		if (status < 0) {
			log_debug("http write to remote=%s failed: %s", c->remote_addr, uv_strerror(status));
			conn_abort(c);
		} else if (c->finishing && !c->broken) {
			if (c->writes == 0)
				conn_shutdown(c);
			else
				conn_timer(c, TIMER_FLUSH, c->srv->cfg.idle_timeout_ms);
		} else if (c->timer_mode == TIMER_IDLE) {
			/* still reading our last response: not idle */
			conn_timer(c, TIMER_IDLE, c->srv->cfg.idle_timeout_ms);
		}
	}
	if (r)
		request_check_drain(r);
	if (r)
		http_request_unref(&r->pub);
}

/*
 * Writes to the socket: as much as the kernel takes now without copying, the
 * rest copied into one queued uv_write. owned, if not NULL, is the heap
 * buffer bufs[0] points into (n must be 1); it is taken over.
 */
static void conn_write(struct http_conn *c, struct request *r, const uv_buf_t *bufs, unsigned n, char *owned)
{
	size_t total = 0, done = 0, skip, left;
	struct http_write *w;
	uv_buf_t b;
	unsigned i;
	int rc;

	if (c->closing || c->broken)
		goto out;
	for (i = 0; i < n; i++)
		total += bufs[i].len;
	if (total == 0)
		goto out;
	if (c->writes == 0) {
		rc = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
		if (rc >= 0) {
			done = (size_t)rc;
		} else if (rc != UV_EAGAIN) {
			log_debug("http write to remote=%s failed: %s", c->remote_addr, uv_strerror(rc));
			conn_abort(c);
			goto out;
		}
		if (done == total)
			goto out;
	}
	left = total - done;
	if (owned) {
		w = xmalloc(sizeof(*w));
		w->mem = owned;
		b = buf_of(bufs[0].base + done, left);
	} else {
		char *p;

		w = xmalloc(sizeof(*w) + left);
		w->mem = NULL;
		p = w->data;
		skip = done;
		for (i = 0; i < n; i++) {
			size_t len = bufs[i].len;

			if (skip >= len) {
				skip -= len;
				continue;
			}
			memcpy(p, bufs[i].base + skip, len - skip);
			p += len - skip;
			skip = 0;
		}
		b = buf_of(w->data, left);
	}
	w->conn = c;
	w->len = left;
	w->r = r;
	rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rc < 0) {
		log_debug("http write to remote=%s failed: %s", c->remote_addr, uv_strerror(rc));
		free(w->mem);
		free(w);
		conn_abort(c);
		return;
	}
	c->writes++;
	if (r) {
		r->pending += left;
		http_request_ref(&r->pub);
	}
	return;
out:
	free(owned);
}

/* Sends what SSL has encrypted into the write BIO. */
static void tls_flush(struct http_conn *c, struct request *r)
{
	BIO *wbio = SSL_get_wbio(c->ssl);
	size_t n = BIO_ctrl_pending(wbio);
	uv_buf_t b;
	char *p;
	int got;

	if (n == 0)
		return;
	p = xmalloc(n);
	got = BIO_read(wbio, p, (int)n);
	if (got <= 0) {
		free(p);
		return;
	}
	b = buf_of(p, got);
	conn_write(c, r, &b, 1, p);
}

static const char *tls_error_string(void)
{
	unsigned long e = ERR_peek_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	return why ? why : "protocol error";
}

static void tls_write_failed(struct http_conn *c)
{
	log_debug("tls write to remote=%s failed: %s", c->remote_addr, tls_error_string());
	ERR_clear_error();
	c->tls_fatal = true;
	conn_abort(c);
}

static void tls_send(struct http_conn *c, struct request *r, const uv_buf_t *bufs, unsigned n)
{
	char small[4096];
	size_t total = 0;
	unsigned i;

	if (c->closing || c->broken || c->tls_fatal)
		return;
	for (i = 0; i < n; i++)
		total += bufs[i].len;
	ERR_clear_error();
	/* One record for a chunk header, its data and CRLF when they are small. */
	if (n > 1 && total <= sizeof(small)) {
		size_t off = 0;

		for (i = 0; i < n; i++) {
			memcpy(small + off, bufs[i].base, bufs[i].len);
			off += bufs[i].len;
		}
		if (SSL_write(c->ssl, small, (int)total) <= 0) {
			tls_write_failed(c);
			return;
		}
	} else {
		for (i = 0; i < n; i++) {
			size_t off;

			for (off = 0; off < bufs[i].len; off += TLS_SLICE) {
				size_t len = bufs[i].len - off;

				if (len > TLS_SLICE)
					len = TLS_SLICE;
				if (SSL_write(c->ssl, bufs[i].base + off, (int)len) <= 0) {
					tls_write_failed(c);
					return;
				}
				if (BIO_ctrl_pending(SSL_get_wbio(c->ssl)) >= TLS_SLICE)
					tls_flush(c, r);
			}
		}
	}
	tls_flush(c, r);
}

static void conn_send_now(struct http_conn *c, struct request *r, const uv_buf_t *bufs, unsigned n)
{
	if (c->ssl)
		tls_send(c, r, bufs, n);
	else
		conn_write(c, r, bufs, n, NULL);
}

/* Takes c off the server's corked list and forgets its held output. */
static void cork_unlink(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	struct request *r = c->out_r;

	if (c->out_prev)
		c->out_prev->out_next = c->out_next;
	else
		srv->corked = c->out_next;
	if (c->out_next)
		c->out_next->out_prev = c->out_prev;
	c->out_prev = c->out_next = NULL;
	if (!srv->corked)
		uv_idle_stop(&srv->flush);
	c->out_r = NULL;
	if (r) {
		r->pending -= c->out.len;
		http_request_unref(&r->pub);
	}
}

/* The connection is closing: what it held is not sent. */
static void cork_drop(struct http_conn *c)
{
	if (!c->out.len)
		return;
	cork_unlink(c);
	strbuf_reset(&c->out);
}

/* Sends what c holds, now. */
static void conn_uncork(struct http_conn *c)
{
	struct request *r = c->out_r;
	uv_buf_t b;

	if (!c->out.len)
		return;
	if (r)
		http_request_ref(&r->pub); /* through the send, which may queue it */
	cork_unlink(c);
	b = buf_of(c->out.buf, c->out.len);
	conn_send_now(c, r, &b, 1);
	/* a thousand idle watchers must not each keep a batch's buffer */
	if (c->out.alloc > CORK_DIRECT) {
		strbuf_release(&c->out);
		strbuf_init(&c->out, 0);
	} else {
		strbuf_reset(&c->out);
	}
	if (r)
		http_request_unref(&r->pub);
}

static void on_flush(uv_idle_t *h)
{
	struct http_server *srv = h->data;

	while (srv->corked) {
		struct http_conn *c = srv->corked;
		struct request *r = c->out_r;

		if (r)
			http_request_ref(&r->pub);
		conn_uncork(c);
		if (r) {
			request_check_drain(r);
			http_request_unref(&r->pub);
		}
	}
}

/*
 * Sends bufs on c for request r. Small sends wait for the loop's next turn
 * (an idle handle, so the loop does not sleep first): a batch of committed
 * writes fans out to every watcher as several events, and held together
 * they become one TLS record and one write(2) per connection instead of
 * one per event. Order is kept: a send of another request's bytes, a large
 * send, or the end of the connection sends what is held first.
 */
static void conn_send(struct http_conn *c, struct request *r, const uv_buf_t *bufs, unsigned n)
{
	size_t total = 0;
	unsigned i;

	if (c->closing || c->broken)
		return;
	for (i = 0; i < n; i++)
		total += bufs[i].len;
	if (c->out.len && (c->out_r != r || c->out.len + total > CORK_MAX))
		conn_uncork(c);
	if (total >= CORK_DIRECT || c->finishing) {
		conn_uncork(c);
		conn_send_now(c, r, bufs, n);
		return;
	}
	if (!total || c->closing || c->broken)
		return;
	if (!c->out.len) {
		struct http_server *srv = c->srv;

		c->out_r = r;
		if (r)
			http_request_ref(&r->pub);
		c->out_next = srv->corked;
		if (srv->corked)
			srv->corked->out_prev = c;
		else
			uv_idle_start(&srv->flush, on_flush);
		srv->corked = c;
	}
	for (i = 0; i < n; i++)
		strbuf_add(&c->out, bufs[i].base, bufs[i].len);
	if (r)
		r->pending += total;
}

/* --- responses -------------------------------------------------------------- */

/* length: the Content-Length, or -1 for a streamed body. */
static void response_head(struct request *r, struct strbuf *sb, int status, const char *content_type,
			  long long length)
{
	strbuf_addf(sb, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, http_status_text(status), http_date());
	if (content_type)
		strbuf_addf(sb, "Content-Type: %s\r\n", content_type);
	if (status >= 200 && status != 204 && status != 304) {
		if (length >= 0)
			strbuf_addf(sb, "Content-Length: %lld\r\n", length);
		else if (r->chunked)
			strbuf_adds(sb, "Transfer-Encoding: chunked\r\n");
	}
	strbuf_add(sb, r->resp_headers.buf, r->resp_headers.len);
	if (!r->keep_alive)
		strbuf_adds(sb, "Connection: close\r\n");
	else if (r->http_minor == 0)
		strbuf_adds(sb, "Connection: keep-alive\r\n");
	strbuf_adds(sb, "\r\n");
}

static void conn_next(struct http_conn *c);

static void request_end(struct request *r)
{
	struct http_conn *c = r->conn;

	r->ended = true;
	if (c) {
		/* the raw path: a decoded one may hold control characters */
		log_debug("request method=%s path=%.*s code=%d bytes=%zu remote=%s duration_ms=%llu", r->pub.method,
			  (int)strcspn(r->pub.url, "?"), r->pub.url, r->status, r->bytes_out, c->remote_addr,
			  (unsigned long long)(now_ms() - r->start_ms));
		r->conn = NULL;
		c->active = NULL;
		if (!r->keep_alive)
			conn_finish(c);
		else if (!c->in_parse)
			conn_next(c);
	}
	request_drop_server_ref(r);
}

void http_response_header(struct http_request *pub, const char *name, const char *value)
{
	struct request *r = req_of(pub);

	if (r->started) {
		log_warn("http response header '%s' added after the response started: add headers before responding",
			 name);
		return;
	}
	if (!*name || strpbrk(name, "\r\n: \t") || strpbrk(value, "\r\n")) {
		log_warn("http response header '%.*s' has a forbidden character: dropped", (int)strcspn(name, "\r\n"),
			 name);
		return;
	}
	/* The server frames the response itself; a second length would break it. */
	if (!strcasecmp(name, "Connection")) {
		if (strcasestr(value, "close"))
			r->keep_alive = false;
		return;
	}
	if (!strcasecmp(name, "Content-Length") || !strcasecmp(name, "Transfer-Encoding")) {
		log_warn("http response header '%s' is set by the server: dropped", name);
		return;
	}
	strbuf_addf(&r->resp_headers, "%s: %s\r\n", name, value);
}

static bool response_has_body(const struct request *r, int status)
{
	return !r->head && status >= 200 && status != 204 && status != 304;
}

void http_respond(struct http_request *pub, int status, const char *content_type, const void *body, size_t len)
{
	struct request *r = req_of(pub);
	struct strbuf head;
	uv_buf_t bufs[2];
	unsigned n = 1;

	if (r->started) {
		log_warn("http response to '%s' started twice: the handler must respond once", r->pub.path);
		return;
	}
	r->started = true;
	r->status = status;
	if (!r->conn) {
		r->ended = true;
		return;
	}
	strbuf_init(&head, 256 + r->resp_headers.len);
	response_head(r, &head, status, content_type, (long long)len);
	bufs[0] = buf_of(head.buf, head.len);
	if (len && response_has_body(r, status)) {
		bufs[n++] = buf_of((char *)body, len);
		r->bytes_out = len;
	}
	conn_send(r->conn, r, bufs, n);
	strbuf_release(&head);
	request_end(r);
}

void http_respond_json(struct http_request *req, int status, json_t *obj)
{
	size_t len;
	char *text = obj_dump(obj, &len);

	http_respond(req, status, "application/json", text, len);
	free(text);
	json_decref(obj);
}

void http_respond_status(struct http_request *req, int status, const char *reason, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	strbuf_init(&sb, 128);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	http_respond_json(req, status, status_new(status, reason, sb.buf));
	strbuf_release(&sb);
}

void http_stream_start(struct http_request *pub, int status, const char *content_type)
{
	struct request *r = req_of(pub);
	struct strbuf head;
	uv_buf_t b;

	if (r->started) {
		log_warn("http response to '%s' started twice: the handler must respond once", r->pub.path);
		return;
	}
	r->started = true;
	r->streaming = true;
	r->status = status;
	if (!r->conn)
		return;
	/* HTTP/1.0 has no chunked encoding: the stream ends with the connection. */
	r->chunked = r->http_major == 1 && r->http_minor >= 1;
	if (!r->chunked)
		r->keep_alive = false;
	strbuf_init(&head, 256 + r->resp_headers.len);
	response_head(r, &head, status, content_type, -1);
	b = buf_of(head.buf, head.len);
	conn_send(r->conn, r, &b, 1);
	strbuf_release(&head);
}

void http_stream_write(struct http_request *pub, const void *data, size_t len)
{
	struct request *r = req_of(pub);
	char line[24];
	uv_buf_t bufs[3];

	if (!r->streaming || r->ended || !r->conn || !len || !response_has_body(r, r->status))
		return;
	r->bytes_out += len;
	if (!r->chunked) {
		bufs[0] = buf_of((char *)data, len);
		conn_send(r->conn, r, bufs, 1);
		return;
	}
	snprintf(line, sizeof(line), "%zx\r\n", len);
	bufs[0] = buf_of(line, strlen(line));
	bufs[1] = buf_of((char *)data, len);
	bufs[2] = uv_buf_init("\r\n", 2);
	conn_send(r->conn, r, bufs, 3);
}

void http_stream_end(struct http_request *pub)
{
	struct request *r = req_of(pub);

	if (!r->streaming) {
		log_warn("http stream to '%s' ended but never started: call http_stream_start first",
			 r->pub.path ? r->pub.path : "");
		return;
	}
	if (r->ended)
		return;
	if (r->conn && r->chunked && response_has_body(r, r->status)) {
		uv_buf_t b = uv_buf_init("0\r\n\r\n", 5);

		conn_send(r->conn, r, &b, 1);
	}
	request_end(r);
}

void http_stream_on_drain(struct http_request *pub, size_t low, void (*cb)(struct http_request *req, void *data),
			  void *data)
{
	struct request *r = req_of(pub);

	r->on_drain = cb;
	r->on_drain_data = data;
	r->drain_low = low;
}

size_t http_stream_pending(const struct http_request *pub)
{
	return req_of(pub)->pending;
}

/* An error before any handler saw the request: Status body, then close. */
static void conn_reject(struct http_conn *c, int status, const char *reason, const char *message)
{
	json_t *st = status_new(status, reason, message);
	struct strbuf head;
	uv_buf_t bufs[2];
	size_t len;
	char *body = obj_dump(st, &len);

	json_decref(st);
	log_debug("request rejected code=%d remote=%s error=\"%s\"", status, c->remote_addr, message);
	strbuf_init(&head, 256);
	strbuf_addf(&head,
		    "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		    status, http_status_text(status), http_date(), len);
	bufs[0] = buf_of(head.buf, head.len);
	bufs[1] = buf_of(body, len);
	conn_send(c, NULL, bufs, 2);
	strbuf_release(&head);
	free(body);
	conn_finish(c);
}

/* --- parsing ---------------------------------------------------------------- */

static void conn_set_error(struct http_conn *c, int status, const char *reason, const char *fmt, ...)
	PRINTF_LIKE(4, 5);

static void conn_set_error(struct http_conn *c, int status, const char *reason, const char *fmt, ...)
{
	va_list ap;

	c->error_status = status;
	c->error_reason = reason;
	va_start(ap, fmt);
	vsnprintf(c->error_msg, sizeof(c->error_msg), fmt, ap);
	va_end(ap);
}

static int header_bytes_add(struct http_conn *c, size_t len)
{
	c->header_bytes += len;
	if (c->header_bytes > MAX_HEADER_BYTES) {
		conn_set_error(c, 431, "", "the request header fields are too large: limit is %d bytes",
			       MAX_HEADER_BYTES);
		return -1;
	}
	return 0;
}

static int body_too_large(struct http_conn *c)
{
	conn_set_error(c, 413, "RequestEntityTooLarge", "the request body is too large: limit is %zu bytes",
		       c->srv->cfg.max_body);
	return -1;
}

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;

	if (c->cur)
		request_free(c->cur);
	c->cur = request_new();
	c->header_bytes = 0;
	if (c->timer_mode != TIMER_HEADER)
		conn_timer(c, TIMER_HEADER, c->srv->cfg.header_timeout_ms);
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (header_bytes_add(c, len) < 0)
		return -1;
	strbuf_add(&c->cur->url, at, len);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct request *r = c->cur;

	if (header_bytes_add(c, len) < 0)
		return -1;
	/* http-parser, built lenient, lets a space into a name: "Content-Length :"
	 * would then pass as some other header and smuggle a body. */
	if (memchr(at, ' ', len) || memchr(at, '\t', len)) {
		conn_set_error(c, 400, "BadRequest", "the request could not be parsed: invalid character in header name");
		return -1;
	}
	if (r->headers_done) /* a chunked trailer: counted, not kept */
		return 0;
	if (r->in_value)
		request_commit_header(r);
	strbuf_add(&r->field, at, len);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct request *r = c->cur;

	if (header_bytes_add(c, len) < 0)
		return -1;
	if (r->headers_done)
		return 0;
	strbuf_add(&r->value, at, len);
	r->in_value = true;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	struct request *r = c->cur;
	bool chunked = p->flags & F_CHUNKED;
	bool has_length = !chunked && p->content_length != ULLONG_MAX && p->content_length > 0;
	const char *expect;

	request_commit_header(r);
	r->headers_done = true;
	strbuf_release(&r->field);
	strbuf_release(&r->value);
	strbuf_init(&r->field, 0);
	strbuf_init(&r->value, 0);
	r->pub.method = http_method_str((enum http_method)p->method);
	r->http_major = p->http_major;
	r->http_minor = p->http_minor;
	r->head = p->method == HTTP_HEAD;
	/* No protocol upgrades here: answer, then close. */
	r->keep_alive = http_should_keep_alive(p) && !p->upgrade;
	if (request_split_url(r) < 0) {
		conn_set_error(c, 400, "BadRequest", "the request URL is malformed: check its percent-encoding");
		return -1;
	}
	if (has_length && p->content_length > c->srv->cfg.max_body)
		return body_too_large(c);
	expect = http_request_header(&r->pub, "Expect");
	if (expect && !strcasecmp(expect, "100-continue") && r->http_minor >= 1 && (chunked || has_length)) {
		uv_buf_t b = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);

		conn_send(c, NULL, &b, 1);
	}
	/* Room for the announced body, but not more than a promise is worth:
	 * a client may announce megabytes and send nothing. */
	if (has_length)
		strbuf_grow(&r->body, p->content_length < 65536 ? (size_t)p->content_length : 65536);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct request *r = c->cur;

	if (len > c->srv->cfg.max_body - r->body.len)
		return body_too_large(c);
	strbuf_add(&r->body, at, len);
	return 0;
}

static int on_chunk_header(http_parser *p)
{
	struct http_conn *c = p->data;

	/* refuse a chunk that cannot fit before reading it */
	if (p->content_length > c->srv->cfg.max_body - c->cur->body.len)
		return body_too_large(c);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	c->ready = c->cur;
	c->cur = NULL;
	c->ready->pub.body = c->ready->body.buf;
	c->ready->pub.body_len = c->ready->body.len;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
	.on_chunk_header = on_chunk_header,
};

static bool conn_can_parse(const struct http_conn *c)
{
	return !c->closing && !c->finishing && !c->broken && !c->active;
}

static void conn_dispatch(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	struct request *r = c->ready;

	c->ready = NULL;
	c->active = r;
	r->conn = c;
	r->pub.tls = c->ssl != NULL;
	memcpy(r->pub.remote_addr, c->remote_addr, sizeof(r->pub.remote_addr));
	conn_timer(c, TIMER_NONE, 0);
	if (srv->cfg.handler) {
		srv->cfg.handler(&r->pub, srv->cfg.handler_data);
	} else {
		static const char msg[] = "no handler\n";

		http_respond(&r->pub, 404, "text/plain", msg, sizeof(msg) - 1);
	}
	/* r may be gone now */
}

static void conn_parse_failed(struct http_conn *c, enum http_errno err)
{
	char msg[160];

	if (c->error_status) {
		conn_reject(c, c->error_status, c->error_reason, c->error_msg);
		return;
	}
	if (err == HPE_HEADER_OVERFLOW) {
		snprintf(msg, sizeof(msg), "the request header fields are too large: limit is %d bytes",
			 MAX_HEADER_BYTES);
		conn_reject(c, 431, "", msg);
		return;
	}
	snprintf(msg, sizeof(msg), "the request could not be parsed: %s",
		 err == HPE_OK ? "unexpected data" : http_errno_description(err));
	conn_reject(c, 400, "BadRequest", msg);
}

/* Parses and dispatches until the data is used up or a request is with its
 * handler. Returns how many bytes were consumed. */
static size_t conn_parse(struct http_conn *c, const char *data, size_t len)
{
	size_t off = 0;

	c->in_parse = true;
	while (off < len && conn_can_parse(c)) {
		size_t n = http_parser_execute(&c->parser, &parser_settings, data + off, len - off);
		enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);

		off += n;
		if (err == HPE_PAUSED) {
			http_parser_pause(&c->parser, 0);
			if (!conn_can_parse(c)) { /* a write failed meanwhile */
				request_free(c->ready);
				c->ready = NULL;
				break;
			}
			conn_dispatch(c);
			continue;
		}
		if (err != HPE_OK || n == 0) {
			conn_parse_failed(c, err);
			off = len;
			break;
		}
	}
	c->in_parse = false;
	return off;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct http_conn *c = h->data;

	buf->base = c->srv->readbuf;
	buf->len = sizeof(c->srv->readbuf);
}

static void conn_read_start(struct http_conn *c)
{
	if (c->reading || c->closing)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
		conn_close(c);
		return;
	}
	c->reading = true;
}

/* Parses what is buffered (after an async response, from the resume timer). */
static void conn_process(struct http_conn *c)
{
	if (conn_can_parse(c) && c->in_off < c->in.len)
		c->in_off += conn_parse(c, c->in.buf + c->in_off, c->in.len - c->in_off);
	conn_settle(c);
}

/* After parsing: drop consumed bytes, pick the timer, apply backpressure. */
static void conn_settle(struct http_conn *c)
{
	if (c->closing || c->finishing || c->broken)
		return;
	if (c->in_off == c->in.len) {
		if (c->in.alloc > READ_BUFFER) {
			strbuf_release(&c->in);
			strbuf_init(&c->in, 0);
		} else {
			strbuf_reset(&c->in);
		}
		c->in_off = 0;
	} else if (c->in_off > 0) {
		memmove(c->in.buf, c->in.buf + c->in_off, c->in.len - c->in_off);
		c->in.len -= c->in_off;
		c->in.buf[c->in.len] = '\0';
		c->in_off = 0;
	}
	if (!c->active) {
		/* A begun request keeps its header deadline, an idle connection
		 * its idle one (stray CRLFs do not extend it). */
		if (c->timer_mode == TIMER_NONE || c->timer_mode == TIMER_RESUME)
			conn_timer(c, TIMER_IDLE, c->srv->cfg.idle_timeout_ms);
		conn_read_start(c);
	} else if (c->in.len > MAX_BUFFERED && c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
}

/* The response to an async request ended and the connection stays. */
static void conn_next(struct http_conn *c)
{
	if (c->closing || c->finishing || c->broken)
		return;
	if (c->in_off < c->in.len) {
		conn_timer(c, TIMER_RESUME, 0);
	} else {
		conn_timer(c, TIMER_IDLE, c->srv->cfg.idle_timeout_ms);
		conn_read_start(c);
	}
}

/* Plaintext from the client. */
static void conn_feed(struct http_conn *c, const char *data, size_t len)
{
	if (c->closing || c->finishing || c->broken)
		return;
	if (c->in_off == c->in.len && conn_can_parse(c)) {
		size_t n = conn_parse(c, data, len);

		if (n < len && !c->closing && !c->finishing)
			strbuf_add(&c->in, data + n, len - n);
		conn_settle(c);
	} else {
		strbuf_add(&c->in, data, len);
		conn_process(c);
	}
}

/* The client will send nothing more. */
static void conn_peer_eof(struct http_conn *c)
{
	c->eof = true;
	if (c->closing)
		return;
	if (c->finishing) {
		if (c->lingering)
			conn_close(c);
		return;
	}
	/* A handler still working learns through on_close that its client left;
	 * otherwise let written bytes drain before closing. */
	if (c->active || c->broken)
		conn_close(c);
	else
		conn_finish(c);
}

static bool looks_like_plain_http(const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len && i < 8; i++) {
		if (data[i] == ' ')
			return i > 0;
		if (data[i] < 'A' || data[i] > 'Z')
			return false;
	}
	return false;
}

static void tls_input_failed(struct http_conn *c)
{
	log_debug("tls connection from remote=%s failed: %s", c->remote_addr, tls_error_string());
	ERR_clear_error();
	c->tls_fatal = true;
	/* send the alert OpenSSL wrote, then close */
	tls_flush(c, NULL);
	if (c->active)
		conn_close(c);
	else
		conn_finish(c);
}

static void tls_input(struct http_conn *c, const char *data, size_t len)
{
	static const char plain_msg[] = "client sent an HTTP request to an HTTPS server";
	char *plain = c->srv->plainbuf;
	int n, err;

	if (!c->tls_seen) {
		c->tls_seen = true;
		if (looks_like_plain_http(data, len)) {
			json_t *st = status_new(400, "BadRequest", plain_msg);
			char *body;
			struct strbuf sb;
			size_t blen;
			uv_buf_t b;

			body = obj_dump(st, &blen);
			json_decref(st);
			strbuf_init(&sb, 256 + blen);
			strbuf_addf(&sb,
				    "HTTP/1.0 400 Bad Request\r\nContent-Type: application/json\r\n"
				    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
				    blen, body);
			free(body);
			b = buf_of(sb.buf, sb.len);
			c->tls_fatal = true;
			conn_write(c, NULL, &b, 1, NULL);
			strbuf_release(&sb);
			conn_finish(c);
			return;
		}
	}
	ERR_clear_error();
	if (BIO_write(SSL_get_rbio(c->ssl), data, (int)len) != (int)len) {
		tls_input_failed(c);
		return;
	}
	if (!SSL_is_init_finished(c->ssl)) {
		n = SSL_do_handshake(c->ssl);
		if (n <= 0) {
			err = SSL_get_error(c->ssl, n);
			if (err == SSL_ERROR_WANT_READ) {
				tls_flush(c, NULL);
				return;
			}
			tls_input_failed(c);
			return;
		}
	}
	for (;;) {
		ERR_clear_error(); /* a handler may have left errors behind */
		n = SSL_read(c->ssl, plain, (int)sizeof(c->srv->plainbuf));
		if (n > 0) {
			conn_feed(c, plain, (size_t)n);
			/* past the last request nothing more is read (or written) */
			if (c->closing || c->finishing || c->broken)
				return;
			continue;
		}
		err = SSL_get_error(c->ssl, n);
		if (err == SSL_ERROR_WANT_READ)
			break;
		if (err == SSL_ERROR_ZERO_RETURN) {
			tls_flush(c, NULL);
			conn_peer_eof(c);
			return;
		}
		tls_input_failed(c);
		return;
	}
	tls_flush(c, NULL);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct http_conn *c = stream->data;

	if (c->closing || nread == 0)
		return;
	if (nread < 0) {
		if (nread == UV_EOF) {
			c->reading = false; /* libuv stopped reading */
			conn_peer_eof(c);
		} else {
			log_debug("http read from remote=%s failed: %s", c->remote_addr, uv_strerror((int)nread));
			conn_close(c);
		}
		return;
	}
	if (c->finishing || c->broken)
		return; /* draining */
	if (c->ssl)
		tls_input(c, buf->base, (size_t)nread);
	else
		conn_feed(c, buf->base, (size_t)nread);
}

static void on_timer(uv_timer_t *t)
{
	struct http_conn *c = t->data;
	enum conn_timer mode = c->timer_mode;

	c->timer_mode = TIMER_NONE;
	switch (mode) {
	case TIMER_RESUME:
		conn_process(c);
		break;
	case TIMER_HEADER:
		log_debug("http connection remote=%s closed: no complete request within %llu ms", c->remote_addr,
			  (unsigned long long)c->srv->cfg.header_timeout_ms);
		conn_close(c);
		break;
	case TIMER_IDLE:
	case TIMER_ABORT:
	case TIMER_FLUSH:
	case TIMER_LINGER:
		conn_close(c);
		break;
	case TIMER_NONE:
		break;
	}
}

/* --- server and connections ------------------------------------------------- */

static struct http_conn *conn_new(struct http_server *srv)
{
	struct http_conn *c = xcalloc(1, sizeof(*c));

	c->srv = srv;
	strbuf_init(&c->in, 0);
	strbuf_init(&c->out, 0);
	uv_tcp_init(srv->loop, &c->tcp);
	uv_timer_init(srv->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nopen++;
	return c;
}

static void conn_peer_name(struct http_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];

	strcpy(c->remote_addr, "local");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

		uv_ip4_name(sin, ip, sizeof(ip));
		snprintf(c->remote_addr, sizeof(c->remote_addr), "%s:%u", ip, ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

		uv_ip6_name(sin6, ip, sizeof(ip));
		snprintf(c->remote_addr, sizeof(c->remote_addr), "[%s]:%u", ip, ntohs(sin6->sin6_port));
	}
}

static void conn_start(struct http_conn *c)
{
	SSL_CTX *tls = c->srv->cfg.tls;

	uv_tcp_nodelay(&c->tcp, 1);
	/* a watcher whose machine vanished is found by TCP keepalive probes */
	uv_tcp_keepalive(&c->tcp, 1, 60);
	conn_peer_name(c);
	if (tls) {
		BIO *rbio, *wbio;

		c->ssl = SSL_new(tls);
		if (!c->ssl) {
			log_error("cannot set up tls for the connection from '%s': %s", c->remote_addr,
				  ERR_reason_error_string(ERR_peek_error()));
			ERR_clear_error();
			conn_close(c);
			return;
		}
		rbio = BIO_new(BIO_s_mem());
		wbio = BIO_new(BIO_s_mem());
		/* an empty memory BIO reports "retry", not EOF */
		BIO_set_mem_eof_return(rbio, -1);
		BIO_set_mem_eof_return(wbio, -1);
		SSL_set_bio(c->ssl, rbio, wbio);
		SSL_set_accept_state(c->ssl);
		SSL_set_options(c->ssl, SSL_OP_NO_RENEGOTIATION);
	}
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	conn_timer(c, TIMER_HEADER, c->srv->cfg.header_timeout_ms);
	conn_read_start(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct http_server *srv = listener->data;
	struct http_conn *c;

	if (status < 0) {
		log_warn("http accept on port %d failed: %s", srv->port, uv_strerror(status));
		return;
	}
	c = conn_new(srv);
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	if (srv->nopen > (size_t)srv->cfg.max_connections) {
		log_debug("http connection refused on port %d: %d connections open already", srv->port,
			  srv->cfg.max_connections);
		conn_close(c);
		return;
	}
	conn_start(c);
}

int http_server_adopt(struct http_server *srv, uv_os_sock_t fd)
{
	struct http_conn *c;
	int rc;

	if (srv->closing)
		return UV_EINVAL;
	c = conn_new(srv);
	rc = uv_tcp_open(&c->tcp, fd);
	if (rc < 0) {
		conn_close(c);
		return rc;
	}
	conn_start(c);
	return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
	struct http_server *srv = h->data;

	srv->listener_closed = true;
	server_maybe_done(srv);
}

static void on_flush_closed(uv_handle_t *h)
{
	struct http_server *srv = h->data;

	srv->flush_closed = true;
	server_maybe_done(srv);
}

int http_server_start(struct http_server **out, uv_loop_t *loop, const struct http_server_config *cfg)
{
	struct sockaddr_storage addr;
	const char *host = cfg->bind_address ? cfg->bind_address : "0.0.0.0";
	struct http_server *srv;
	int rc, len;

	*out = NULL;
	if (cfg->port < 0 || cfg->port > 65535)
		return UV_EINVAL;
	if (uv_ip4_addr(host, cfg->port, (struct sockaddr_in *)&addr) &&
	    uv_ip6_addr(host, cfg->port, (struct sockaddr_in6 *)&addr))
		return UV_EINVAL;
	srv = xcalloc(1, sizeof(*srv));
	srv->loop = loop;
	srv->cfg = *cfg;
	if (!srv->cfg.max_body)
		srv->cfg.max_body = DEFAULT_MAX_BODY;
	if (!srv->cfg.header_timeout_ms)
		srv->cfg.header_timeout_ms = DEFAULT_HEADER_TIMEOUT_MS;
	if (!srv->cfg.idle_timeout_ms)
		srv->cfg.idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
	if (srv->cfg.max_connections <= 0)
		srv->cfg.max_connections = DEFAULT_MAX_CONNECTIONS;
	rc = uv_tcp_init(loop, &srv->listener);
	if (rc < 0) {
		free(srv);
		return rc;
	}
	srv->listener.data = srv;
	uv_idle_init(loop, &srv->flush);
	srv->flush.data = srv;
	rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
	if (rc < 0) {
		/* freed by the close callback on the loop's next turn */
		srv->closing = true;
		uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
		uv_close((uv_handle_t *)&srv->flush, on_flush_closed);
		return rc;
	}
	len = sizeof(addr);
	if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&addr, &len) == 0)
		srv->port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
							      : ((struct sockaddr_in *)&addr)->sin_port);
	log_debug("http server listening address=%s port=%d tls=%d", host, srv->port, cfg->tls != NULL);
	*out = srv;
	return 0;
}

int http_server_port(const struct http_server *srv)
{
	return srv->port;
}

size_t http_server_connections(const struct http_server *srv)
{
	return srv->nopen;
}

void http_server_close(struct http_server *srv, void (*cb)(void *data), void *data)
{
	struct http_conn *c, *next;

	if (!srv || srv->closing)
		return;
	srv->closing = true;
	srv->close_cb = cb;
	srv->close_data = data;
	uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
	uv_close((uv_handle_t *)&srv->flush, on_flush_closed);
	for (c = srv->conns; c; c = next) {
		next = c->next;
		conn_close(c);
	}
}
