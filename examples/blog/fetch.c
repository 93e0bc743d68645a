/*
 * The fetcher behind fetch.h. curl tells us which sockets to watch
 * (on_curl_socket) and when to wake it (on_curl_timer); libuv tells curl
 * when a socket is ready (on_poll) or the time has come (on_timeout); after
 * each nudge finished transfers are collected and their callers told.
 *
 *   fetcher_request -> curl easy -> multi <-> uv_poll / uv_timer -> done(res)
 */
#include "fetch.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define CONNECT_TIMEOUT_MS 3000L
#define REQUEST_TIMEOUT_MS 10000L
#define MAX_RESPONSE (8u << 20)

struct fetch_socket {
	uv_poll_t poll;
	struct fetcher *f;
	curl_socket_t fd;
	struct fetch_socket *prev, *next;
};

struct fetch_call {
	struct fetcher *f;
	CURL *easy;
	struct curl_slist *headers;
	char *what;  /* "POST http://..." for error messages */
	char *body;
	struct strbuf response;
	char errbuf[CURL_ERROR_SIZE];
	fetch_done_fn done;
	void *data;
	struct fetch_call *prev, *next;
};

struct fetcher {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct fetch_call *calls;
	struct fetch_socket *sockets;
	bool closing;
	int open_handles;  /* timer and polls not yet closed */
	void (*closed_cb)(void *arg);
	void *closed_arg;
};

static void fetcher_check_done(struct fetcher *f);

static void fetcher_maybe_freed(struct fetcher *f)
{
	void (*cb)(void *arg) = f->closed_cb;
	void *arg = f->closed_arg;

	if (!f->closing || f->open_handles > 0)
		return;
	free(f);
	if (cb)
		cb(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct fetcher *f;

	if (h->type == UV_POLL) {
		struct fetch_socket *s = h->data;

		f = s->f;
		free(s);
	} else {
		f = h->data;
	}
	f->open_handles--;
	fetcher_maybe_freed(f);
}

static void socket_close(struct fetch_socket *s)
{
	struct fetcher *f = s->f;

	if (s->prev)
		s->prev->next = s->next;
	else
		f->sockets = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_poll_stop(&s->poll);
	uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct fetch_socket *s = h->data;
	struct fetcher *f = s->f;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	/* s may be closed by curl in here; only f is used afterwards. */
	curl_multi_socket_action(f->multi, s->fd, flags, &running);
	fetcher_check_done(f);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct fetcher *f = userp;
	struct fetch_socket *s = socketp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(f->multi, fd, NULL);
			socket_close(s);
		}
		return 0;
	}
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		if (uv_poll_init_socket(f->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		s->f = f;
		s->fd = fd;
		s->poll.data = s;
		s->next = f->sockets;
		if (f->sockets)
			f->sockets->prev = s;
		f->sockets = s;
		f->open_handles++;
		curl_multi_assign(f->multi, fd, s);
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_poll);
	return 0;
}

static void on_timeout(uv_timer_t *t)
{
	struct fetcher *f = t->data;
	int running;

	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	fetcher_check_done(f);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct fetcher *f = userp;

	if (f->closing)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&f->timer);
	else
		uv_timer_start(&f->timer, on_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct fetch_call *c = userdata;
	size_t n = size * nmemb;

	if (c->response.len + n > MAX_RESPONSE)
		return 0;  /* curl fails the transfer with a write error */
	strbuf_add(&c->response, ptr, n);
	return n;
}

static void call_unlink(struct fetch_call *c)
{
	struct fetcher *f = c->f;

	if (c->prev)
		c->prev->next = c->next;
	else
		f->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	curl_multi_remove_handle(f->multi, c->easy);
}

static void call_free(struct fetch_call *c)
{
	curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->headers);
	strbuf_release(&c->response);
	free(c->what);
	free(c->body);
	free(c);
}

/* Tells the caller how c ended (result is curl's) and frees it. */
static void call_finish(struct fetch_call *c, CURLcode result, const char *why)
{
	struct fetch_response res = { 0 };
	char *error = NULL, *ctype = NULL;

	call_unlink(c);
	if (why) {
		error = xasprintf("%s: %s", c->what, why);
	} else if (result != CURLE_OK) {
		error = xasprintf("%s: %s", c->what, c->errbuf[0] ? c->errbuf : curl_easy_strerror(result));
	} else {
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &res.status);
		curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ctype);
		res.content_type = ctype;
	}
	res.error = error;
	res.body = c->response.buf;
	res.len = c->response.len;
	c->done(&res, c->data);
	free(error);
	call_free(c);
}

static void fetcher_check_done(struct fetcher *f)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(f->multi, &left))) {
		CURLcode result = msg->data.result;
		char *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		call_finish((struct fetch_call *)priv, result, NULL);
	}
}

struct fetcher *fetcher_new(uv_loop_t *loop)
{
	struct fetcher *f = xcalloc(1, sizeof(*f));
	static bool curl_ready;

	if (!curl_ready) {
		/* Once, before any thread exists: curl_global_init is not thread safe. */
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			die("cannot initialise libcurl");
		curl_ready = true;
	}
	f->loop = loop;
	f->multi = curl_multi_init();
	if (!f->multi)
		die("cannot create a curl multi handle");
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	uv_timer_init(loop, &f->timer);
	f->timer.data = f;
	f->open_handles = 1;
	return f;
}

int fetcher_request(struct fetcher *f, const char *method, const char *url, const void *body,
		    size_t len, const char *content_type, fetch_done_fn done, void *data)
{
	struct fetch_call *c;
	char *header;

	if (f->closing)
		return -1;
	c = xcalloc(1, sizeof(*c));
	c->f = f;
	c->done = done;
	c->data = data;
	c->what = xasprintf("%s %s", method, url);
	strbuf_init(&c->response, 256);
	c->easy = curl_easy_init();
	if (!c->easy) {
		call_free(c);
		return error("cannot create a curl handle for '%s'", url);
	}
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	/* Services talk inside the cluster: never through an http_proxy. */
	curl_easy_setopt(c->easy, CURLOPT_PROXY, "");
	curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	/* A restarted container may come back at another address. */
	curl_easy_setopt(c->easy, CURLOPT_DNS_CACHE_TIMEOUT, 2L);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
	if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(c->easy, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET")) {
		c->body = xmalloc(len + 1);
		if (len)
			memcpy(c->body, body, len);
		c->body[len] = '\0';
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		if (strcmp(method, "POST"))
			curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, method);
		header = xasprintf("Content-Type: %s", content_type ? content_type : "application/json");
		c->headers = curl_slist_append(c->headers, header);
		free(header);
		/* No "Expect: 100-continue" round trip for bigger bodies. */
		c->headers = curl_slist_append(c->headers, "Expect:");
		curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
	}
	c->next = f->calls;
	if (f->calls)
		f->calls->prev = c;
	f->calls = c;
	if (curl_multi_add_handle(f->multi, c->easy) != CURLM_OK) {
		call_unlink(c);
		call_free(c);
		return error("cannot start '%s %s'", method, url);
	}
	return 0;
}

void fetcher_close(struct fetcher *f, void (*cb)(void *arg), void *arg)
{
	f->closing = true;
	f->closed_cb = cb;
	f->closed_arg = arg;
	while (f->calls)
		call_finish(f->calls, CURLE_OK, "cancelled");
	curl_multi_cleanup(f->multi);
	/* Sockets curl did not say goodbye to (kept-alive connections). */
	while (f->sockets)
		socket_close(f->sockets);
	uv_close((uv_handle_t *)&f->timer, on_handle_closed);
}
