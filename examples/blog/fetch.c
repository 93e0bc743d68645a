/*
 * The fetcher behind fetch.h, on minik8s' libcurl/libuv glue
 * (src/core/curl_uv.h): after each nudge from libuv, finished transfers are
 * collected and their callers told.
 *
 *   fetcher_request -> curl easy -> multi <-> uv_poll / uv_timer -> done(res)
 */
#include "fetch.h"
#include "core/curl_uv.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define CONNECT_TIMEOUT_MS 3000L
#define REQUEST_TIMEOUT_MS 10000L
#define MAX_RESPONSE (8u << 20)

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
	struct curl_uv *cu;
	struct fetch_call *calls;
	bool closing;
};

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
	curl_multi_remove_handle(curl_uv_multi(f->cu), c->easy);
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

/* After libuv nudged curl: tell the callers of finished transfers. */
static void fetcher_check_done(void *owner)
{
	struct fetcher *f = owner;
	struct curl_uv_done *v;
	size_t n = curl_uv_take_done(f->cu, &v);

	/* A done callback may close the fetcher, which finishes every call. */
	for (size_t i = 0; i < n && !f->closing; i++)
		call_finish(v[i].priv, v[i].result, NULL);
	free(v);
}

struct fetcher *fetcher_new(uv_loop_t *loop)
{
	struct fetcher *f = xcalloc(1, sizeof(*f));

	f->cu = curl_uv_new(loop, fetcher_check_done, f);
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
	c->easy = curl_uv_easy_init(f->cu);
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
	if (curl_multi_add_handle(curl_uv_multi(f->cu), c->easy) != CURLM_OK) {
		call_unlink(c);
		call_free(c);
		return error("cannot start '%s %s'", method, url);
	}
	return 0;
}

void fetcher_close(struct fetcher *f, void (*cb)(void *arg), void *arg)
{
	f->closing = true;
	while (f->calls)
		call_finish(f->calls, CURLE_OK, "cancelled");
	curl_uv_close(f->cu, cb, arg);
	free(f);
}
