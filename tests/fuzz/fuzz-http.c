/*
 * Fuzz target for the HTTP server: each input is the byte stream one client
 * sends on one connection. A fresh loop and server per input take one end of
 * a socketpair (http_server_adopt), a libuv pipe on the other end writes the
 * input (in pieces cut at points derived from the input, one loop turn apart,
 * so the server's reads split it), half-closes and reads everything back;
 * then the server closes and the loop must close cleanly, so lifetime bugs
 * show as leaks or aborts.
 * The handler answers by path: stream, async (answered from a timer, often
 * after the client left), header echo, or a plain echo with query lookups.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "http_internal.h"
#include "log.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_run {
	uv_loop_t loop;
	struct http_server *srv;
	uv_pipe_t client;
	uv_timer_t pace;
	uv_write_t write_req;
	const uint8_t *data;
	size_t size, off;
	uint64_t cuts; /* bits of a hash of the input, consumed by each cut */
	bool done;
	uv_shutdown_t shutdown_req;
	char readbuf[65536];
	size_t received;
	bool verbose; /* FUZZ_HTTP_VERBOSE=1: print what the server answered */
	int async_open;
};

struct fuzz_async {
	uv_timer_t timer;
	struct http_request *req;
	struct fuzz_run *run;
};

static void on_async_closed(uv_handle_t *h)
{
	struct fuzz_async *a = h->data;

	a->run->async_open--;
	free(a);
}

static void on_async_timer(uv_timer_t *t)
{
	struct fuzz_async *a = t->data;

	http_stream_start(a->req, 200, "text/plain");
	http_stream_write(a->req, a->req->path, strlen(a->req->path));
	http_stream_end(a->req);
	http_request_unref(a->req);
	uv_close((uv_handle_t *)&a->timer, on_async_closed);
}

static void on_async_client_gone(struct http_request *req, void *data)
{
	/* the response is now a no-op; ending from here must be allowed */
	http_stream_end(req);
}

static void fuzz_handler(struct http_request *req, void *data)
{
	struct fuzz_run *run = data;
	const char *p = req->path;

	if (str_has_prefix(p, "/s")) {
		http_stream_start(req, 200, "application/json");
		http_stream_write(req, p, strlen(p));
		http_stream_write(req, req->body, req->body_len);
		http_stream_write(req, "", 0);
		(void)http_stream_pending(req);
		http_stream_end(req);
	} else if (str_has_prefix(p, "/a")) {
		struct fuzz_async *a = xcalloc(1, sizeof(*a));

		a->req = req;
		a->run = run;
		http_request_ref(req);
		http_request_on_close(req, on_async_client_gone, NULL);
		uv_timer_init(&run->loop, &a->timer);
		a->timer.data = a;
		uv_timer_start(&a->timer, on_async_timer, 0, 0);
		run->async_open++;
	} else if (str_has_prefix(p, "/h")) {
		size_t i;

		for (i = 0; i < req->nheaders && i < 8; i++)
			http_response_header(req, req->headers[i].name, req->headers[i].value);
		http_respond(req, req->body_len ? 201 : 204, NULL, NULL, 0);
	} else {
		static const char *keys[] = { "a", "watch", "", "labelSelector" };
		struct strbuf sb;
		size_t i;

		strbuf_init(&sb, 64 + req->body_len);
		strbuf_addf(&sb, "%s %s %s\n", req->method, p, req->remote_addr);
		for (i = 0; i < ARRAY_SIZE(keys); i++) {
			char *v = http_request_query(req, keys[i]);

			strbuf_addf(&sb, "%s=%s\n", keys[i], v ? v : "(none)");
			free(v);
		}
		if (http_request_header(req, "content-type"))
			strbuf_adds(&sb, http_request_header(req, "content-type"));
		strbuf_add(&sb, req->body, req->body_len);
		http_respond(req, 200, "text/plain", sb.buf, sb.len);
		strbuf_release(&sb);
	}
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct fuzz_run *run = h->data;

	buf->base = run->readbuf;
	buf->len = sizeof(run->readbuf);
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct fuzz_run *run = s->data;

	if (nread > 0) {
		run->received += (size_t)nread;
		if (run->verbose)
			fwrite(buf->base, 1, (size_t)nread, stderr);
		return;
	}
	if (nread < 0 && !run->done) {
		/* the server closed: done */
		run->done = true;
		uv_close((uv_handle_t *)s, NULL);
		uv_close((uv_handle_t *)&run->pace, NULL);
		http_server_close(run->srv, NULL, NULL);
	}
}

static void on_client_shutdown(uv_shutdown_t *req, int status)
{
}

static void on_client_written(uv_write_t *req, int status);

/* Writes the next piece, or half-closes after the last. */
static void client_write_next(struct fuzz_run *run)
{
	size_t len = run->size - run->off;
	uv_buf_t b;

	if (len == 0) {
		run->shutdown_req.data = run;
		uv_shutdown(&run->shutdown_req, (uv_stream_t *)&run->client, on_client_shutdown);
		return;
	}
	if (run->cuts & 1) {
		size_t piece = 1 + (size_t)((run->cuts >> 1) % 97);

		if (piece < len)
			len = piece;
	}
	run->cuts >>= 8;
	b = uv_buf_init((char *)run->data + run->off, (unsigned)len);
	run->off += len;
	if (uv_write(&run->write_req, (uv_stream_t *)&run->client, &b, 1, on_client_written))
		abort();
}

static void on_pace(uv_timer_t *t)
{
	struct fuzz_run *run = t->data;

	if (!run->done)
		client_write_next(run);
}

static void on_client_written(uv_write_t *req, int status)
{
	struct fuzz_run *run = req->data;

	/* a turn of the loop between pieces lets the server read each alone */
	if (status == 0 && !run->done)
		uv_timer_start(&run->pace, on_pace, 0, 0);
}

static void fuzz_connection(const uint8_t *data, size_t size)
{
	struct fuzz_run *run = xcalloc(1, sizeof(*run));
	struct http_server_config cfg = {
		.bind_address = "127.0.0.1",
		.max_body = 4096, /* small, so that 413 is in reach */
		.handler = fuzz_handler,
		.handler_data = run,
	};
	uint64_t h = 1469598103934665603ull;
	size_t i;
	int sv[2];

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ull;
	run->data = data;
	run->size = size;
	run->cuts = h;

	run->verbose = getenv("FUZZ_HTTP_VERBOSE") != NULL;
	if (uv_loop_init(&run->loop) || http_server_start(&run->srv, &run->loop, &cfg))
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	if (http_server_adopt(run->srv, sv[0]))
		abort();
	uv_pipe_init(&run->loop, &run->client, 0);
	run->client.data = run;
	if (uv_pipe_open(&run->client, sv[1]))
		abort();
	uv_timer_init(&run->loop, &run->pace);
	run->pace.data = run;
	uv_read_start((uv_stream_t *)&run->client, on_client_alloc, on_client_read);
	run->write_req.data = run;
	client_write_next(run);
	uv_run(&run->loop, UV_RUN_DEFAULT);
	if (run->verbose)
		fprintf(stderr, "\n--- %zu bytes in, %zu bytes out\n", size, run->received);
	if (run->async_open || uv_loop_close(&run->loop)) {
		fprintf(stderr, "fuzz-http: the loop did not close cleanly\n");
		abort();
	}
	free(run);
}

/* The pure parts, on the same bytes. */
static void fuzz_decoders(const uint8_t *data, size_t size)
{
	struct http_request req = { 0 };
	char *s = http_url_decode((const char *)data, size), *q;

	free(s);
	q = xstrndup((const char *)data, size);
	req.query = q;
	free(http_request_query(&req, "a"));
	free(http_request_query(&req, ""));
	free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;

	if (!init) {
		init = true;
		signal(SIGPIPE, SIG_IGN);
		log_set_level("error");
	}
	fuzz_decoders(data, size);
	fuzz_connection(data, size);
	return 0;
}
