/*
 * The scripted HTTP server of fake-apiserver.h. Connections are kept (marked
 * dead when closed) until the server is closed, so a test may hold a
 * connection pointer across the client going away.
 */
#include "fake-apiserver.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct fake_conn {
	uv_tcp_t tcp;
	struct fake_server *srv;
	struct strbuf in;
	struct fake_req *req;   /* unanswered request */
	bool streaming, dead, freed_handle;
	struct fake_conn *next;
};

struct fake_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	fake_handler_fn fn;
	void *data;
	int port, connections, requests;
	struct fake_conn *conns;
	bool closing;
	int pending_closes;
};

struct write_req {
	uv_write_t w;
	char *buf;
};

static void on_written(uv_write_t *w, int status)
{
	struct write_req *wr = (struct write_req *)w;

	free(wr->buf);
	free(wr);
}

static void conn_write(struct fake_conn *c, const char *data, size_t len)
{
	struct write_req *wr;
	uv_buf_t b;

	if (!c || c->dead)
		return;
	wr = xcalloc(1, sizeof(*wr));
	wr->buf = xmalloc(len ? len : 1);
	memcpy(wr->buf, data, len);
	b = uv_buf_init(wr->buf, (unsigned)len);
	if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
		free(wr->buf);
		free(wr);
	}
}

static void server_free(struct fake_server *s);

static void on_conn_closed(uv_handle_t *h)
{
	struct fake_conn *c = h->data;

	c->freed_handle = true;
	if (c->srv->closing && --c->srv->pending_closes == 0)
		server_free(c->srv);
}

static void conn_close(struct fake_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->req)
		c->req->conn = NULL;
	c->req = NULL;
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	buf->base = xmalloc(65536);
	buf->len = 65536;
}

static const char *header(const char *head, const char *name, char *out, size_t outlen)
{
	const char *p = head;
	size_t n = strlen(name);

	out[0] = '\0';
	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			const char *v = p + n + 1, *end = strstr(v, "\r\n");
			while (*v == ' ')
				v++;
			snprintf(out, outlen, "%.*s", (int)(end - v), v);
			return out;
		}
	}
	return out;
}

/* Parses complete requests out of c->in and hands each to the handler. */
static void conn_parse(struct fake_conn *c)
{
	while (!c->dead && !c->req && !c->streaming) {
		char *end = strstr(c->in.buf, "\r\n\r\n"), cl[32];
		size_t head_len, body_len;
		struct fake_req *r;

		if (!end)
			return;
		head_len = (size_t)(end - c->in.buf) + 4;
		end[2] = '\0';  /* headers end with the last "\r\n" */
		header(c->in.buf, "Content-Length", cl, sizeof(cl));
		body_len = (size_t)atol(cl);
		if (c->in.len < head_len + body_len) {
			end[2] = '\r';
			return;
		}
		r = xcalloc(1, sizeof(*r));
		sscanf(c->in.buf, "%15s %2047s", r->method, r->target);
		header(c->in.buf, "Authorization", r->authorization, sizeof(r->authorization));
		header(c->in.buf, "Content-Type", r->content_type, sizeof(r->content_type));
		header(c->in.buf, "Accept", r->accept, sizeof(r->accept));
		r->body = xstrndup(c->in.buf + head_len, body_len);
		r->body_len = body_len;
		r->conn = c;
		r->number = ++c->srv->requests;
		memmove(c->in.buf, c->in.buf + head_len + body_len, c->in.len - head_len - body_len);
		c->in.len -= head_len + body_len;
		c->in.buf[c->in.len] = '\0';
		c->req = r;
		c->srv->fn(c->srv, r, c->srv->data);
	}
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct fake_conn *c = s->data;

	if (n > 0 && !c->dead) {
		strbuf_add(&c->in, buf->base, (size_t)n);
		conn_parse(c);
	} else if (n < 0) {
		conn_close(c);
	}
	free(buf->base);
}

static void on_connection(uv_stream_t *l, int status)
{
	struct fake_server *s = l->data;
	struct fake_conn *c;

	if (status < 0)
		return;
	c = xcalloc(1, sizeof(*c));
	c->srv = s;
	strbuf_init(&c->in, 1024);
	uv_tcp_init(s->loop, &c->tcp);
	c->tcp.data = c;
	c->next = s->conns;
	s->conns = c;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	s->connections++;
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

struct fake_server *fake_server_new(uv_loop_t *loop, fake_handler_fn fn, void *data)
{
	struct fake_server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_in addr;
	struct sockaddr_storage name;
	int namelen = sizeof(name);

	s->loop = loop;
	s->fn = fn;
	s->data = data;
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	if (uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0) < 0 ||
	    uv_listen((uv_stream_t *)&s->listener, 64, on_connection) < 0)
		die("fake server cannot listen on 127.0.0.1");
	uv_tcp_getsockname(&s->listener, (struct sockaddr *)&name, &namelen);
	s->port = ntohs(((struct sockaddr_in *)&name)->sin_port);
	return s;
}

int fake_server_port(const struct fake_server *s)
{
	return s->port;
}

int fake_server_connections(const struct fake_server *s)
{
	return s->connections;
}

static void server_free(struct fake_server *s)
{
	struct fake_conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		free(c->req ? c->req->body : NULL);
		free(c->req);
		strbuf_release(&c->in);
		free(c);
	}
	free(s);
}

static void on_listener_closed(uv_handle_t *h)
{
	struct fake_server *s = h->data;

	if (--s->pending_closes == 0)
		server_free(s);
}

void fake_server_close(struct fake_server *s)
{
	s->closing = true;
	s->pending_closes = 1;
	for (struct fake_conn *c = s->conns; c; c = c->next) {
		if (!c->freed_handle)
			s->pending_closes++;
		conn_close(c);
	}
	uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

static void req_free(struct fake_req *r)
{
	if (r->conn)
		r->conn->req = NULL;
	free(r->body);
	free(r);
}

void fake_respond(struct fake_req *req, int status, const char *json)
{
	struct fake_conn *c = req->conn;
	/* Formatted first: json may be req->body. */
	char *head = xasprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			       status, strlen(json), json);

	req_free(req);
	if (!c || c->dead) {
		free(head);
		return;
	}
	conn_write(c, head, strlen(head));
	free(head);
	conn_parse(c);
}

struct fake_conn *fake_stream_start(struct fake_req *req)
{
	struct fake_conn *c = req->conn;
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";

	req_free(req);
	if (!c || c->dead)
		return NULL;
	c->streaming = true;
	conn_write(c, head, strlen(head));
	return c;
}

void fake_stream_send(struct fake_conn *c, const char *data)
{
	char *chunk;

	if (!c || c->dead || !*data)
		return;
	chunk = xasprintf("%zx\r\n%s\r\n", strlen(data), data);
	conn_write(c, chunk, strlen(chunk));
	free(chunk);
}

void fake_stream_end(struct fake_conn *c)
{
	if (!c || c->dead)
		return;
	conn_write(c, "0\r\n\r\n", 5);
	c->streaming = false;
	conn_parse(c);
}

void fake_conn_abort(struct fake_conn *c)
{
	if (c)
		conn_close(c);
}

bool fake_conn_alive(const struct fake_conn *c)
{
	return c && !c->dead;
}
