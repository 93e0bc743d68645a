/*
 * A scripted HTTP/1.1 server on 127.0.0.1 for testing the API client
 * without the real apiserver: plain TCP on libuv, keep-alive, Content-Length
 * bodies in, fixed or chunked (watch) responses out. The test's handler sees
 * each request and answers now or later.
 */
#ifndef MINIK8S_TESTS_FAKE_APISERVER_H
#define MINIK8S_TESTS_FAKE_APISERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct fake_server;
struct fake_conn;

/* One request. Owned by the server; valid until answered (respond or
 * stream_start), even if the client went away meanwhile. */
struct fake_req {
	char method[16];
	char target[2048];     /* path and query as sent */
	char authorization[256];
	char content_type[128];
	char accept[256];
	char *body;            /* NUL-terminated */
	size_t body_len;
	struct fake_conn *conn; /* NULL once the client disconnected */
	int number;             /* 1-based count of requests the server saw */
};

typedef void (*fake_handler_fn)(struct fake_server *s, struct fake_req *req, void *data);

struct fake_server *fake_server_new(uv_loop_t *loop, fake_handler_fn fn, void *data);
int fake_server_port(const struct fake_server *s);
/* Connections accepted so far. */
int fake_server_connections(const struct fake_server *s);
void fake_server_close(struct fake_server *s);

/* Sends a whole response and frees req. */
void fake_respond(struct fake_req *req, int status, const char *json);
/* Starts a chunked 200 response and frees req; returns the connection (NULL if gone). */
struct fake_conn *fake_stream_start(struct fake_req *req);
/* Sends data as one chunk. */
void fake_stream_send(struct fake_conn *c, const char *data);
/* Ends the chunked response (the connection stays open for keep-alive). */
void fake_stream_end(struct fake_conn *c);
/* Closes the connection abruptly. */
void fake_conn_abort(struct fake_conn *c);
bool fake_conn_alive(const struct fake_conn *c);

#endif
