/*
 * Tests for the HTTP server (src/core/http.c). The servers run on a libuv
 * loop in the main thread; a client thread drives them with libcurl and with
 * raw sockets (for bytes curl will not send) and makes every check while the
 * loop runs. Handlers on the loop thread only record what they saw in atomics.
 * At the end the client asks the loop to close the servers and the test
 * checks that uv_loop_close() succeeds.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "util.h"
#include "testing.h"

#define HEADER_TIMEOUT_MS 300
#define IDLE_TIMEOUT_MS 400
#define BIG_CHUNKS 32
#define BIG_CHUNK (1024 * 1024)
#define BURST_BIG (40 * 1024)

static uv_loop_t loop;
static uv_async_t done_async;
static struct http_server *plain_srv, *limited_srv, *tls_srv;
static int plain_port, limited_port, tls_port;
static int servers_closed;

static atomic_int forever_closed;   /* on_close calls of /forever streams */
static atomic_int forever_started;
static atomic_size_t big_pending;   /* http_stream_pending after /big's writes */
static atomic_size_t burst_pending; /* http_stream_pending after /burst's small writes */
static atomic_int late_closed;      /* /async answers that found their client gone */
static atomic_int late_answered;
static atomic_int async_started;

/* --- handlers (loop thread) ------------------------------------------------- */

struct later {
	uv_timer_t timer;
	struct http_request *req;
	int n, max;
};

static void on_later_closed(uv_handle_t *h)
{
	free(h->data);
}

static void later_done(struct later *l)
{
	uv_timer_stop(&l->timer);
	uv_close((uv_handle_t *)&l->timer, on_later_closed);
	http_request_unref(l->req);
}

static struct later *later_new(struct http_request *req, uint64_t first, uint64_t repeat, uv_timer_cb cb)
{
	struct later *l = xcalloc(1, sizeof(*l));

	l->req = req;
	http_request_ref(req);
	uv_timer_init(&loop, &l->timer);
	l->timer.data = l;
	uv_timer_start(&l->timer, cb, first, repeat);
	return l;
}

static void on_async_timer(uv_timer_t *t)
{
	struct later *l = t->data;

	if (http_request_closed(l->req))
		atomic_fetch_add(&late_closed, 1);
	/* counted before the client can see the answer and look */
	atomic_fetch_add(&late_answered, 1);
	/* a no-op when the client (or the whole server) is gone */
	http_respond(l->req, 200, "text/plain", "late", 4);
	later_done(l);
}

static void on_stream_timer(uv_timer_t *t)
{
	struct later *l = t->data;
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "chunk-%d\n", l->n++);

	http_stream_write(l->req, buf, (size_t)n);
	if (l->max && l->n == l->max) {
		http_stream_end(l->req);
		later_done(l);
	}
}

static void on_forever_close(struct http_request *req, void *data)
{
	struct later *l = data;

	atomic_fetch_add(&forever_closed, 1);
	/* ending and unreferencing from inside on_close must be safe */
	http_stream_end(req);
	later_done(l);
}

static void respond_info(struct http_request *req)
{
	static const char *keys[] = { "name", "empty", "flag", "missing", "bad", "semi", "n" };
	struct strbuf sb;
	size_t i;

	strbuf_init(&sb, 256);
	strbuf_addf(&sb, "method=%s path=%s query=%s tls=%d", req->method, req->path,
		    req->query ? req->query : "NULL", req->tls);
	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		char *v = http_request_query(req, keys[i]);

		if (v)
			strbuf_addf(&sb, " %s=[%s]", keys[i], v);
		else
			strbuf_addf(&sb, " %s=NULL", keys[i]);
		free(v);
	}
	http_respond(req, 200, "text/plain", sb.buf, sb.len);
	strbuf_release(&sb);
}

static void handler(struct http_request *req, void *data)
{
	const char *path = req->path;

	if (!strcmp(path, "/hello")) {
		http_response_header(req, "X-Test", "yes");
		http_response_header(req, "X-Remote", req->remote_addr);
		http_response_header(req, "Bad\r\nHeader", "dropped");
		http_respond(req, 200, "text/plain", "hello", 5);
	} else if (!strcmp(path, "/echo")) {
		const char *ct = http_request_header(req, "content-type");

		if (req->body[req->body_len] != '\0') {
			http_respond(req, 500, NULL, "body not terminated", 19);
			return;
		}
		http_respond(req, 200, ct ? ct : "application/octet-stream", req->body, req->body_len);
	} else if (str_has_prefix(path, "/info")) {
		respond_info(req);
	} else if (!strcmp(path, "/async")) {
		char *ms = http_request_query(req, "ms");

		later_new(req, ms ? strtoull(ms, NULL, 10) : 50, 0, on_async_timer);
		free(ms);
		atomic_fetch_add(&async_started, 1);
	} else if (!strcmp(path, "/stream")) {
		struct later *l;

		http_stream_start(req, 200, "application/json");
		l = later_new(req, 10, 10, on_stream_timer);
		l->max = 5;
	} else if (!strcmp(path, "/forever")) {
		struct later *l;

		http_stream_start(req, 200, "application/json");
		l = later_new(req, 0, 10, on_stream_timer);
		http_request_on_close(req, on_forever_close, l);
		atomic_fetch_add(&forever_started, 1);
	} else if (!strcmp(path, "/big")) {
		char *chunk = xmalloc(BIG_CHUNK);
		int i;

		memset(chunk, 'x', BIG_CHUNK);
		http_stream_start(req, 200, "application/octet-stream");
		for (i = 0; i < BIG_CHUNKS; i++)
			http_stream_write(req, chunk, BIG_CHUNK);
		atomic_store(&big_pending, http_stream_pending(req));
		free(chunk);
		http_stream_end(req);
	} else if (!strcmp(path, "/burst")) {
		/* small writes wait for the loop's next turn, a large one goes
		 * at once: the bytes must still arrive in order */
		char line[32], *big = xmalloc(BURST_BIG);
		size_t before;
		int i;

		http_stream_start(req, 200, "text/plain");
		before = http_stream_pending(req); /* the head's bytes, if held */
		for (i = 0; i < 100; i++)
			http_stream_write(req, line, (size_t)snprintf(line, sizeof(line), "burst-%d\n", i));
		atomic_store(&burst_pending, http_stream_pending(req) - before);
		memset(big, 'y', BURST_BIG);
		http_stream_write(req, big, BURST_BIG);
		http_stream_write(req, "tail\n", 5);
		free(big);
		http_stream_end(req);
	} else if (!strcmp(path, "/close")) {
		http_response_header(req, "Connection", "close");
		http_response_header(req, "Content-Length", "99");
		http_respond(req, 200, "text/plain", "bye", 3);
	} else if (!strcmp(path, "/empty")) {
		http_respond(req, 204, NULL, NULL, 0);
	} else {
		http_respond(req, 404, "text/plain", "not found", 9);
	}
}

static void on_server_closed(void *data)
{
	servers_closed++;
}

static void on_done(uv_async_t *a)
{
	http_server_close(plain_srv, on_server_closed, NULL);
	http_server_close(limited_srv, on_server_closed, NULL);
	http_server_close(tls_srv, on_server_closed, NULL);
	uv_close((uv_handle_t *)a, NULL);
}

/* --- client helpers (client thread) ----------------------------------------- */

struct resp {
	struct strbuf body;
	struct strbuf headers;
	long code;
	size_t abort_after; /* nonzero: fail the write callback after this many bytes */
};

static size_t on_curl_body(char *p, size_t size, size_t n, void *data)
{
	struct resp *r = data;

	strbuf_add(&r->body, p, size * n);
	if (r->abort_after && r->body.len >= r->abort_after)
		return 0;
	return size * n;
}

static size_t on_curl_header(char *p, size_t size, size_t n, void *data)
{
	struct resp *r = data;

	strbuf_add(&r->headers, p, size * n);
	return size * n;
}

static void resp_init(struct resp *r)
{
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->body, 0);
	strbuf_init(&r->headers, 0);
}

static void resp_release(struct resp *r)
{
	strbuf_release(&r->body);
	strbuf_release(&r->headers);
}

static CURL *client_new(void)
{
	CURL *h = curl_easy_init();

	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 8000L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	return h;
}

static CURLcode fetch(CURL *h, const char *method, const char *url, const char *body, size_t len,
		      struct curl_slist *hdrs, struct resp *r)
{
	CURLcode rc;

	resp_init(r);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_curl_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_curl_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
	return rc;
}

static CURLcode get(CURL *h, const char *url, struct resp *r)
{
	return fetch(h, NULL, url, NULL, 0, NULL, r);
}

static char *url_for(int port, const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", port, path);
}

static int tcp_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* Reads until the server closes. Returns 0 on EOF, -errno on error or timeout. */
static int read_to_eof(int fd, struct strbuf *sb)
{
	char buf[65536];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0)
			return 0;
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		strbuf_add(sb, buf, (size_t)n);
	}
}

/* Reads one response with a Content-Length into sb. Returns 0 or -1. */
static int read_response(int fd, struct strbuf *sb)
{
	char buf[4096];

	for (;;) {
		char *end = strstr(sb->buf, "\r\n\r\n"), *cl;
		ssize_t n;

		if (end) {
			size_t want = (size_t)(end + 4 - sb->buf);

			cl = strcasestr(sb->buf, "Content-Length: ");
			if (cl && cl < end)
				want += strtoul(cl + 16, NULL, 10);
			if (sb->len >= want)
				return 0;
		}
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return -1;
		strbuf_add(sb, buf, (size_t)n);
	}
}

static uint64_t elapsed_since(uint64_t t0)
{
	return now_ms() - t0;
}

/* --- client tests ------------------------------------------------------------ */

static void test_keepalive(void)
{
	CURL *h = client_new();
	char *url = url_for(plain_port, "/hello");
	struct resp r1, r2;
	long conns = -1;
	char *remote1, *remote2;

	CHECK_INT(get(h, url, &r1), CURLE_OK);
	CHECK_INT(r1.code, 200);
	CHECK_STR(r1.body.buf, "hello");
	CHECK(strstr(r1.headers.buf, "X-Test: yes\r\n"));
	CHECK(strstr(r1.headers.buf, "Content-Length: 5\r\n"));
	CHECK(strstr(r1.headers.buf, "Content-Type: text/plain\r\n"));
	CHECK(!strstr(r1.headers.buf, "Bad"));
	CHECK(strstr(r1.headers.buf, "X-Remote: 127.0.0.1:"));
	CHECK_INT(get(h, url, &r2), CURLE_OK);
	CHECK_STR(r2.body.buf, "hello");
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
	CHECK_INT(conns, 0); /* the second request reused the connection */
	remote1 = strstr(r1.headers.buf, "X-Remote: ");
	remote2 = strstr(r2.headers.buf, "X-Remote: ");
	CHECK(remote1 && remote2 && !strncmp(remote1, remote2, strcspn(remote1, "\r")));
	resp_release(&r1);
	resp_release(&r2);

	/* 204 has no body and no Content-Length, and the connection stays */
	free(url);
	url = url_for(plain_port, "/empty");
	CHECK_INT(get(h, url, &r1), CURLE_OK);
	CHECK_INT(r1.code, 204);
	CHECK(!strstr(r1.headers.buf, "Content-Length"));
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
	CHECK_INT(conns, 0);
	resp_release(&r1);
	free(url);
	curl_easy_cleanup(h);
}

static void test_echo(void)
{
	CURL *h = client_new();
	char *url = url_for(plain_port, "/echo");
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	struct resp r;
	size_t big = 2 * 1024 * 1024, i;
	char *body = xmalloc(big);
	uint64_t t0;

	CHECK_INT(fetch(h, "POST", url, "{\"a\":1}", 7, hdrs, &r), CURLE_OK);
	CHECK_INT(r.code, 200);
	CHECK_STR(r.body.buf, "{\"a\":1}");
	CHECK(strstr(r.headers.buf, "Content-Type: application/json\r\n"));
	resp_release(&r);

	/* over 1 MiB curl asks "Expect: 100-continue" and waits a second for it */
	for (i = 0; i < big; i++)
		body[i] = (char)('a' + i % 26);
	t0 = now_ms();
	CHECK_INT(fetch(h, "POST", url, body, big, hdrs, &r), CURLE_OK);
	CHECK(elapsed_since(t0) < 900);
	CHECK_INT(r.code, 200);
	CHECK_INT(r.body.len, big);
	CHECK(r.body.len == big && !memcmp(r.body.buf, body, big));
	resp_release(&r);

	/* an empty body arrives as "" */
	CHECK_INT(fetch(h, "POST", url, "", 0, NULL, &r), CURLE_OK);
	CHECK_INT(r.code, 200);
	CHECK_INT(r.body.len, 0);
	resp_release(&r);

	free(body);
	free(url);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
}

static void check_status_body(const char *body, int code, const char *reason, const char *message)
{
	json_error_t err;
	json_t *st = json_loads(body, 0, &err);

	CHECK(st != NULL);
	if (!st) {
		fprintf(stderr, "  body: %s\n", body);
		return;
	}
	CHECK_STR(json_string_value(json_object_get(st, "kind")), "Status");
	CHECK_STR(json_string_value(json_object_get(st, "apiVersion")), "v1");
	CHECK_STR(json_string_value(json_object_get(st, "status")), "Failure");
	CHECK_INT(json_integer_value(json_object_get(st, "code")), code);
	if (reason)
		CHECK_STR(json_string_value(json_object_get(st, "reason")), reason);
	if (message) {
		const char *m = json_string_value(json_object_get(st, "message"));

		CHECK(m && strstr(m, message));
		if (!m || !strstr(m, message))
			fprintf(stderr, "  message: %s\n", m ? m : "(none)");
	}
	json_decref(st);
}

struct upload {
	size_t left;
};

static size_t on_upload_read(char *buf, size_t size, size_t n, void *data)
{
	struct upload *u = data;
	size_t len = size * n < u->left ? size * n : u->left;

	memset(buf, 'y', len);
	u->left -= len;
	return len;
}

static void test_too_large(void)
{
	CURL *h = client_new();
	char *url = url_for(plain_port, "/echo");
	size_t big = 4 * 1024 * 1024;
	char *body = xcalloc(1, big);
	struct curl_slist *hdrs = curl_slist_append(NULL, "Transfer-Encoding: chunked");
	struct upload up = { .left = big };
	struct resp r;
	const char *msg = "the request body is too large: limit is 3145728 bytes";

	memset(body, 'z', big);
	CHECK_INT(fetch(h, "POST", url, body, big, NULL, &r), CURLE_OK);
	CHECK_INT(r.code, 413);
	CHECK(strstr(r.headers.buf, "Connection: close\r\n"));
	check_status_body(r.body.buf, 413, "RequestEntityTooLarge", msg);
	resp_release(&r);
	curl_easy_cleanup(h);

	/* chunked: the limit is found while reading */
	h = client_new();
	resp_init(&r);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_curl_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.code);
	CHECK_INT(r.code, 413);
	check_status_body(r.body.buf, 413, "RequestEntityTooLarge", msg);
	resp_release(&r);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(body);
	free(url);
}

/* Sends raw bytes and reads the whole answer up to the server's close. */
static int raw_exchange(int port, const char *req, size_t len, struct strbuf *out)
{
	int fd = tcp_connect(port), rc;

	if (fd < 0)
		return -1;
	send_all(fd, req, len);
	rc = read_to_eof(fd, out);
	close(fd);
	return rc;
}

static void check_rejected(const char *req, size_t len, int code, const char *reason, const char *message)
{
	struct strbuf sb;
	const char *body;
	char line[64];

	strbuf_init(&sb, 0);
	CHECK_INT(raw_exchange(plain_port, req, len, &sb), 0); /* the server closed */
	snprintf(line, sizeof(line), "HTTP/1.1 %d ", code);
	CHECK(str_has_prefix(sb.buf, line));
	if (!str_has_prefix(sb.buf, line))
		fprintf(stderr, "  response: %.200s\n", sb.buf);
	CHECK(strstr(sb.buf, "Content-Type: application/json\r\n"));
	CHECK(strstr(sb.buf, "Connection: close\r\n"));
	body = strstr(sb.buf, "\r\n\r\n");
	if (body)
		check_status_body(body + 4, code, reason, message);
	strbuf_release(&sb);
}

static void test_bad_requests(void)
{
	static const char garbage[] = "GARBAGE\r\n\r\n";
	static const char bad_escape[] = "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char nul_escape[] = "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char bad_header[] = "GET / HTTP/1.1\r\nHo st: x\r\n\r\n";
	static const char bad_chunk[] = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
	struct strbuf sb;
	size_t i;

	check_rejected(garbage, sizeof(garbage) - 1, 400, "BadRequest",
		       "the request could not be parsed: invalid HTTP method");
	check_rejected(bad_escape, sizeof(bad_escape) - 1, 400, "BadRequest", "URL");
	check_rejected(nul_escape, sizeof(nul_escape) - 1, 400, "BadRequest", "URL");
	check_rejected(bad_header, sizeof(bad_header) - 1, 400, "BadRequest", "invalid character in header");
	check_rejected(bad_chunk, sizeof(bad_chunk) - 1, 400, "BadRequest", "chunk size");

	/* a header section over 64 KiB */
	strbuf_init(&sb, 0);
	strbuf_adds(&sb, "GET / HTTP/1.1\r\n");
	for (i = 0; i < 700; i++)
		strbuf_addf(&sb, "X-Filler-%zu: %0100d\r\n", i, 0);
	strbuf_adds(&sb, "\r\n");
	check_rejected(sb.buf, sb.len, 431, NULL, "header fields are too large");
	strbuf_release(&sb);
}

static void test_pipelining(void)
{
	static const char reqs[] = "GET /info?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
				   "GET /async?ms=30 HTTP/1.1\r\nHost: x\r\n\r\n"
				   "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfifth"
				   "\r\n" /* stray CRLF between requests is allowed */
				   "GET /info?n=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
				   "GET /info?n=4 HTTP/1.1\r\nHost: x\r\n\r\n";
	struct strbuf sb;
	const char *a, *b, *c, *d, *p;
	int responses = 0;

	strbuf_init(&sb, 0);
	CHECK_INT(raw_exchange(plain_port, reqs, sizeof(reqs) - 1, &sb), 0);
	a = strstr(sb.buf, "n=[1]");
	b = strstr(sb.buf, "late");
	c = strstr(sb.buf, "fifth");
	d = strstr(sb.buf, "n=[3]");
	CHECK(a && b && c && d && a < b && b < c && c < d);
	CHECK(!strstr(sb.buf, "n=[4]")); /* after Connection: close nothing more */
	for (p = sb.buf; (p = strstr(p, "HTTP/1.1 200 OK\r\n")); p++)
		responses++;
	CHECK_INT(responses, 4);
	strbuf_release(&sb);
}

static void test_head_and_http10(void)
{
	static const char head[] = "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"
				   "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static const char http10[] = "GET /hello HTTP/1.0\r\n\r\n";
	static const char http10_ka[] = "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
	static const char stream10[] = "GET /stream HTTP/1.0\r\n\r\n";
	static const char server_close[] = "GET /close HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\n\r\n";
	struct strbuf sb;
	const char *end;
	int fd;

	strbuf_init(&sb, 0);
	CHECK_INT(raw_exchange(plain_port, head, sizeof(head) - 1, &sb), 0);
	CHECK(strstr(sb.buf, "Content-Length: 5\r\n"));
	end = strstr(sb.buf, "\r\n\r\n");
	/* no body after the HEAD response's headers: the next response follows */
	CHECK(end && str_has_prefix(end + 4, "HTTP/1.1 200 OK\r\n"));
	CHECK(str_has_suffix(sb.buf, "\r\n\r\nhello"));
	strbuf_reset(&sb);

	/* HTTP/1.0 closes after the response */
	CHECK_INT(raw_exchange(plain_port, http10, sizeof(http10) - 1, &sb), 0);
	CHECK(strstr(sb.buf, "Connection: close\r\n"));
	CHECK(str_has_suffix(sb.buf, "hello"));
	strbuf_reset(&sb);

	/* ... unless it asks for keep-alive */
	fd = tcp_connect(plain_port);
	send_str(fd, http10_ka);
	CHECK_INT(read_response(fd, &sb), 0);
	CHECK(strstr(sb.buf, "Connection: keep-alive\r\n"));
	strbuf_reset(&sb);
	send_str(fd, http10_ka);
	CHECK_INT(read_response(fd, &sb), 0);
	CHECK(str_has_suffix(sb.buf, "hello"));
	close(fd);
	strbuf_reset(&sb);

	/* a stream to an HTTP/1.0 client: no chunking, ends with the connection */
	CHECK_INT(raw_exchange(plain_port, stream10, sizeof(stream10) - 1, &sb), 0);
	CHECK(!strstr(sb.buf, "chunked"));
	CHECK(str_has_suffix(sb.buf, "\r\n\r\nchunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n"));
	strbuf_reset(&sb);

	/* the handler asks to close; its framing headers are ignored */
	CHECK_INT(raw_exchange(plain_port, server_close, sizeof(server_close) - 1, &sb), 0);
	CHECK(strstr(sb.buf, "Connection: close\r\n"));
	CHECK(strstr(sb.buf, "Content-Length: 3\r\n"));
	CHECK(!strstr(sb.buf, "99"));
	CHECK(str_has_suffix(sb.buf, "\r\n\r\nbye"));
	strbuf_release(&sb);
}

static void test_timeouts(void)
{
	struct strbuf sb;
	uint64_t t0, ms;
	int fd;

	strbuf_init(&sb, 0);

	/* a silent connection is closed after the header timeout */
	t0 = now_ms();
	fd = tcp_connect(plain_port);
	CHECK_INT(read_to_eof(fd, &sb), 0);
	ms = elapsed_since(t0);
	CHECK(ms >= HEADER_TIMEOUT_MS - 50 && ms < 3000);
	CHECK_INT(sb.len, 0);
	close(fd);

	/* so is one whose request never completes */
	t0 = now_ms();
	fd = tcp_connect(plain_port);
	send_str(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n");
	CHECK_INT(read_to_eof(fd, &sb), 0);
	ms = elapsed_since(t0);
	CHECK(ms >= HEADER_TIMEOUT_MS - 50 && ms < 3000);
	CHECK_INT(sb.len, 0);
	close(fd);

	/* an idle keep-alive connection is closed after the idle timeout */
	fd = tcp_connect(plain_port);
	send_str(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	CHECK_INT(read_response(fd, &sb), 0);
	t0 = now_ms();
	strbuf_reset(&sb);
	CHECK_INT(read_to_eof(fd, &sb), 0);
	ms = elapsed_since(t0);
	CHECK(ms >= IDLE_TIMEOUT_MS - 50 && ms < 3000);
	close(fd);

	/* a handler slower than both timeouts still gets to answer */
	fd = tcp_connect(plain_port);
	send_str(fd, "GET /async?ms=600 HTTP/1.1\r\nHost: x\r\n\r\n");
	strbuf_reset(&sb);
	CHECK_INT(read_response(fd, &sb), 0);
	CHECK(str_has_suffix(sb.buf, "late"));
	close(fd);
	strbuf_release(&sb);
}

static void test_streaming(void)
{
	CURL *h = client_new();
	char *url = url_for(plain_port, "/stream");
	struct resp r;
	uint64_t t0;

	CHECK_INT(get(h, url, &r), CURLE_OK);
	CHECK_INT(r.code, 200);
	CHECK(strstr(r.headers.buf, "Transfer-Encoding: chunked\r\n"));
	CHECK_STR(r.body.buf, "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n");
	resp_release(&r);
	free(url);

	/* the client leaves mid-stream: on_close fires */
	url = url_for(plain_port, "/forever");
	resp_init(&r);
	r.abort_after = 24;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	CHECK_INT(curl_easy_perform(h), CURLE_WRITE_ERROR);
	CHECK(str_has_prefix(r.body.buf, "chunk-0\nchunk-1\nchunk-2\n"));
	curl_easy_cleanup(h);
	t0 = now_ms();
	while (atomic_load(&forever_closed) < 1 && elapsed_since(t0) < 3000)
		usleep(5000);
	CHECK_INT(atomic_load(&forever_closed), 1);
	resp_release(&r);
	free(url);

	/* the async handler */
	h = client_new();
	url = url_for(plain_port, "/async");
	t0 = now_ms();
	CHECK_INT(get(h, url, &r), CURLE_OK);
	CHECK(elapsed_since(t0) >= 45);
	CHECK_STR(r.body.buf, "late");
	resp_release(&r);
	free(url);
	curl_easy_cleanup(h);
}

/* The client leaves before the async answer: responding is a no-op. */
/* Writes of one turn are held and sent together, and stay in order. */
static void check_burst(const char *base)
{
	CURL *h = client_new();
	char *url = xasprintf("%s/burst", base);
	struct strbuf want;
	struct resp r;
	int i;

	strbuf_init(&want, 0);
	for (i = 0; i < 100; i++)
		strbuf_addf(&want, "burst-%d\n", i);
	for (i = 0; i < BURST_BIG; i++)
		strbuf_addc(&want, 'y');
	strbuf_adds(&want, "tail\n");
	atomic_store(&burst_pending, 0);
	CHECK_INT(get(h, url, &r), CURLE_OK);
	CHECK_INT(r.code, 200);
	CHECK_INT(r.body.len, want.len);
	CHECK(r.body.len == want.len && !memcmp(r.body.buf, want.buf, want.len));
	/* all 100 small chunks (line, data, CRLF) were still held */
	CHECK(atomic_load(&burst_pending) > 100 * 12);
	resp_release(&r);
	strbuf_release(&want);
	free(url);
	curl_easy_cleanup(h);
}

static void test_burst(void)
{
	char *plain = xasprintf("http://127.0.0.1:%d", plain_port);
	char *tls = xasprintf("https://127.0.0.1:%d", tls_port);

	check_burst(plain);
	check_burst(tls);
	free(plain);
	free(tls);
}

static void test_late_answer(void)
{
	int fd = tcp_connect(plain_port);
	int answered = atomic_load(&late_answered);
	uint64_t t0 = now_ms();

	send_str(fd, "GET /async?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n");
	close(fd);
	while (atomic_load(&late_answered) == answered && elapsed_since(t0) < 3000)
		usleep(5000);
	CHECK_INT(atomic_load(&late_answered), answered + 1);
	CHECK_INT(atomic_load(&late_closed), 1);
}

static void test_pending(void)
{
	static const char req[] = "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct strbuf sb;
	int fd = tcp_connect(plain_port);
	uint64_t t0 = now_ms();

	strbuf_init(&sb, 0);
	send_str(fd, req);
	while (atomic_load(&big_pending) == SIZE_MAX && elapsed_since(t0) < 5000)
		usleep(5000);
	/* the client has not read: most of the 32 MiB waits in uv_write requests */
	CHECK(atomic_load(&big_pending) > 0);
	CHECK(atomic_load(&big_pending) <= (size_t)BIG_CHUNKS * (BIG_CHUNK + 16));
	CHECK_INT(read_to_eof(fd, &sb), 0);
	CHECK(sb.len > (size_t)BIG_CHUNKS * BIG_CHUNK);
	CHECK(str_has_suffix(sb.buf, "\r\n0\r\n\r\n"));
	close(fd);
	strbuf_release(&sb);
}

static void test_query(void)
{
	CURL *h = client_new();
	char *url = url_for(plain_port, "/info/a%2Fb%20c+d?name=a%20b+c&empty=&flag&bad=%zz&semi=1;2&n=%E2%9C%93");
	struct resp r;

	CHECK_INT(get(h, url, &r), CURLE_OK);
	CHECK_STR(r.body.buf, "method=GET path=/info/a/b c+d "
			      "query=name=a%20b+c&empty=&flag&bad=%zz&semi=1;2&n=%E2%9C%93 tls=0 "
			      "name=[a b c] empty=[] flag=[] missing=NULL bad=NULL semi=NULL n=[\xe2\x9c\x93]");
	resp_release(&r);
	free(url);

	/* absolute-form request target */
	url = url_for(plain_port, "/info?name=x");
	curl_easy_setopt(h, CURLOPT_REQUEST_TARGET, url);
	CHECK_INT(get(h, url, &r), CURLE_OK);
	CHECK(str_has_prefix(r.body.buf, "method=GET path=/info query=name=x tls=0 name=[x]"));
	resp_release(&r);
	free(url);
	curl_easy_cleanup(h);
}

static void test_tls(void)
{
	CURL *h = client_new();
	char *url = xasprintf("https://127.0.0.1:%d/info?name=t", tls_port);
	char *echo = xasprintf("https://127.0.0.1:%d/echo", tls_port);
	size_t big = 1536 * 1024, i;
	char *body = xmalloc(big);
	struct resp r;
	struct strbuf sb;
	long conns = -1, versions[] = { CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
					CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3 };

	CHECK_INT(get(h, url, &r), CURLE_OK);
	CHECK_INT(r.code, 200);
	CHECK(strstr(r.body.buf, "tls=1 name=[t]"));
	resp_release(&r);
	CHECK_INT(get(h, url, &r), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
	CHECK_INT(conns, 0);
	resp_release(&r);
	for (i = 0; i < big; i++)
		body[i] = (char)(i * 7);
	CHECK_INT(fetch(h, "POST", echo, body, big, NULL, &r), CURLE_OK);
	CHECK_INT(r.code, 200);
	CHECK(r.body.len == big && !memcmp(r.body.buf, body, big));
	resp_release(&r);
	curl_easy_cleanup(h);

	for (i = 0; i < ARRAY_SIZE(versions); i++) {
		char *stream = xasprintf("https://127.0.0.1:%d/stream", tls_port);

		h = client_new();
		curl_easy_setopt(h, CURLOPT_SSLVERSION, versions[i]);
		CHECK_INT(get(h, stream, &r), CURLE_OK);
		CHECK_STR(r.body.buf, "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n");
		resp_release(&r);
		curl_easy_cleanup(h);
		free(stream);
	}

	/* plain HTTP to the TLS port gets a readable answer */
	strbuf_init(&sb, 0);
	CHECK_INT(raw_exchange(tls_port, "GET / HTTP/1.1\r\n\r\n", 18, &sb), 0);
	CHECK(str_has_prefix(sb.buf, "HTTP/1.0 400 Bad Request\r\n"));
	CHECK(strstr(sb.buf, "client sent an HTTP request to an HTTPS server"));
	strbuf_reset(&sb);
	/* and a broken handshake just a close */
	CHECK_INT(raw_exchange(tls_port, "\x16\x03\x01\x00\x05hello", 10, &sb), 0);
	strbuf_release(&sb);
	free(body);
	free(url);
	free(echo);
}

/* Reads TLS application data until the response ends in want, then
 * returns SSL_get_error of the read after it (or -1 if want never came). */
static int tls_read_until(SSL *ssl, struct strbuf *sb, const char *want)
{
	char buf[4096];

	for (;;) {
		int n = SSL_read(ssl, buf, sizeof(buf));

		if (n <= 0)
			return str_has_suffix(sb->buf, want) ? SSL_get_error(ssl, n) : -1;
		strbuf_add(sb, buf, (size_t)n);
	}
}

/* close_notify both ways, with an OpenSSL client on a plain socket. */
static void test_tls_close_notify(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct strbuf sb;
	char buf[16];
	int i;

	strbuf_init(&sb, 0);
	for (i = 0; i < 2; i++) {
		int fd = tcp_connect(tls_port);
		SSL *ssl = SSL_new(ctx);
		const char *req = i == 0 ? "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
					 : "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

		SSL_set_fd(ssl, fd);
		CHECK_INT(SSL_connect(ssl), 1);
		CHECK_INT(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
		strbuf_reset(&sb);
		if (i == 0) {
			/* keep-alive: read the response, then say goodbye first */
			char rbuf[4096];

			while (!str_has_suffix(sb.buf, "hello")) {
				int n = SSL_read(ssl, rbuf, sizeof(rbuf));

				if (n <= 0)
					break;
				strbuf_add(&sb, rbuf, (size_t)n);
			}
			CHECK(str_has_suffix(sb.buf, "hello"));
			CHECK_INT(SSL_shutdown(ssl), 0); /* ours sent, theirs not yet seen */
			CHECK_INT(SSL_read(ssl, buf, sizeof(buf)), 0);
			CHECK_INT(SSL_get_error(ssl, 0), SSL_ERROR_ZERO_RETURN);
		} else {
			/* Connection: close: the server ends with close_notify */
			CHECK_INT(tls_read_until(ssl, &sb, "hello"), SSL_ERROR_ZERO_RETURN);
			CHECK(strstr(sb.buf, "Connection: close\r\n"));
			CHECK_INT(SSL_shutdown(ssl), 1);
		}
		/* and then the TCP connection ends */
		CHECK_INT(recv(fd, buf, sizeof(buf), 0), 0);
		SSL_free(ssl);
		close(fd);
	}
	strbuf_release(&sb);
	SSL_CTX_free(ctx);
}

static void test_max_connections(void)
{
	static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
	struct strbuf sb;
	int fds[2], extra, i;
	uint64_t t0;
	bool served = false;

	strbuf_init(&sb, 0);
	for (i = 0; i < 2; i++) {
		fds[i] = tcp_connect(limited_port);
		send_str(fds[i], req);
		strbuf_reset(&sb);
		CHECK_INT(read_response(fds[i], &sb), 0);
		CHECK(str_has_suffix(sb.buf, "hello"));
	}
	/* the third is accepted and closed at once */
	t0 = now_ms();
	extra = tcp_connect(limited_port);
	send_str(extra, req);
	strbuf_reset(&sb);
	read_to_eof(extra, &sb);
	CHECK_INT(sb.len, 0);
	CHECK(elapsed_since(t0) < 1000);
	close(extra);

	/* a slot frees when one closes */
	close(fds[0]);
	t0 = now_ms();
	while (!served && elapsed_since(t0) < 2000) {
		extra = tcp_connect(limited_port);
		send_str(extra, req);
		strbuf_reset(&sb);
		served = read_response(extra, &sb) == 0 && str_has_suffix(sb.buf, "hello");
		close(extra);
		if (!served)
			usleep(10000);
	}
	CHECK(served);
	close(fds[1]);
	strbuf_release(&sb);
}

/* A stream still open when the servers close: its on_close fires, the
 * client sees the end of the connection. */
static void test_close_with_stream(void)
{
	int fd = tcp_connect(plain_port), slow = tcp_connect(plain_port);
	int started = atomic_load(&async_started);
	uint64_t t0 = now_ms();
	struct strbuf sb;
	char buf[4096];
	ssize_t n;

	strbuf_init(&sb, 0);
	/* an answer that comes after the server is gone */
	send_str(slow, "GET /async?ms=500 HTTP/1.1\r\nHost: x\r\n\r\n");
	while (atomic_load(&async_started) == started && elapsed_since(t0) < 3000)
		usleep(2000);
	send_str(fd, "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
	n = recv(fd, buf, sizeof(buf), 0);
	CHECK(n > 0);
	uv_async_send(&done_async);
	CHECK_INT(read_to_eof(fd, &sb), 0);
	strbuf_reset(&sb);
	CHECK_INT(read_to_eof(slow, &sb), 0);
	CHECK_INT(sb.len, 0);
	close(fd);
	close(slow);
	strbuf_release(&sb);
}

static void *client_main(void *arg)
{
	test_keepalive();
	test_echo();
	test_too_large();
	test_bad_requests();
	test_pipelining();
	test_head_and_http10();
	test_timeouts();
	test_streaming();
	test_burst();
	test_late_answer();
	test_pending();
	test_query();
	test_tls();
	test_tls_close_notify();
	test_max_connections();
	test_close_with_stream();
	return NULL;
}

/* --- pure functions and setup (main thread) -------------------------------- */

static void test_pure(void)
{
	struct http_request req = { 0 };
	char *s;

	s = http_url_decode("/a%20b+c%2F", 11);
	CHECK_STR(s, "/a b+c/");
	free(s);
	CHECK(http_url_decode("%2", 2) == NULL);
	CHECK(http_url_decode("%g0", 3) == NULL);
	CHECK(http_url_decode("abc%", 4) == NULL);
	s = http_url_decode("abc%41xyz", 6); /* length bounds the input */
	CHECK_STR(s, "abcA");
	free(s);

	CHECK_STR(http_status_text(404), "Not Found");
	CHECK_STR(http_status_text(413), "Request Entity Too Large");
	CHECK_STR(http_status_text(299), "OK");

	req.query = "watch&labelSelector=app%3Dweb+x&a=1&a=2&%zz=3&q=%";
	s = http_request_query(&req, "watch");
	CHECK_STR(s, "");
	free(s);
	s = http_request_query(&req, "labelSelector");
	CHECK_STR(s, "app=web x");
	free(s);
	s = http_request_query(&req, "a");
	CHECK_STR(s, "1");
	free(s);
	CHECK(http_request_query(&req, "q") == NULL);
	CHECK(http_request_query(&req, "nope") == NULL);
	req.query = NULL;
	CHECK(http_request_query(&req, "a") == NULL);
}

static SSL_CTX *make_tls_ctx(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *cert = X509_new();
	X509_NAME *name;
	SSL_CTX *ctx = NULL;

	if (!key || !cert)
		goto out;
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (!X509_sign(cert, key, EVP_sha256()))
		goto out;
	ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return ctx;
}

int main(void)
{
	struct http_server_config cfg = {
		.bind_address = "127.0.0.1",
		.header_timeout_ms = HEADER_TIMEOUT_MS,
		.idle_timeout_ms = IDLE_TIMEOUT_MS,
		.handler = handler,
	};
	struct http_server *dup = NULL;
	SSL_CTX *tls;
	pthread_t client;
	int rc;

	atomic_store(&big_pending, SIZE_MAX);
	signal(SIGPIPE, SIG_IGN); /* as main() does: a reset peer is an error code */
	/* HTTP_TEST_DEBUG=1 shows the server's request log */
	log_set_level(getenv("HTTP_TEST_DEBUG") ? "debug" : "error");
	test_pure();
	curl_global_init(CURL_GLOBAL_ALL);
	tls = make_tls_ctx();
	CHECK(tls != NULL);
	if (!tls)
		return test_done();

	CHECK_INT(uv_loop_init(&loop), 0);
	CHECK_INT(http_server_start(&plain_srv, &loop, &cfg), 0);
	plain_port = http_server_port(plain_srv);
	CHECK(plain_port > 0);

	/* the port is taken: start fails and frees itself on the loop */
	cfg.port = plain_port;
	rc = http_server_start(&dup, &loop, &cfg);
	CHECK_INT(rc, UV_EADDRINUSE);
	CHECK(dup == NULL);
	cfg.port = 0;
	cfg.bind_address = "no-such-address";
	CHECK_INT(http_server_start(&dup, &loop, &cfg), UV_EINVAL);
	cfg.bind_address = "127.0.0.1";

	cfg.max_connections = 2;
	CHECK_INT(http_server_start(&limited_srv, &loop, &cfg), 0);
	limited_port = http_server_port(limited_srv);
	cfg.max_connections = 0;
	/* default timeouts: a TLS handshake under valgrind can take 300 ms */
	cfg.header_timeout_ms = 0;
	cfg.idle_timeout_ms = 0;
	cfg.tls = tls;
	CHECK_INT(http_server_start(&tls_srv, &loop, &cfg), 0);
	tls_port = http_server_port(tls_srv);
	CHECK_INT(http_server_connections(plain_srv), 0);

	uv_async_init(&loop, &done_async, on_done);
	if (pthread_create(&client, NULL, client_main, NULL)) {
		fprintf(stderr, "cannot start the client thread\n");
		return 1;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	pthread_join(client, NULL);

	CHECK_INT(servers_closed, 3);
	CHECK_INT(atomic_load(&forever_started), 2);
	CHECK_INT(atomic_load(&forever_closed), 2);
	CHECK_INT(atomic_load(&late_closed), 2);
	CHECK_INT(uv_loop_close(&loop), 0);
	SSL_CTX_free(tls);
	curl_global_cleanup();
	return test_done();
}
