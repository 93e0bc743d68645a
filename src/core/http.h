/*
 * An HTTP/1.1 server on a libuv loop, parsing with http-parser, optionally
 * over TLS (OpenSSL through memory BIOs, so libuv still owns the socket).
 * The apiserver, the kubelet's API and the proxy's health port all sit on it.
 *
 *   client bytes -> uv_tcp -> [SSL memory BIO] -> http-parser -> http_request
 *   handler -> http_respond() / http_stream_*() -> [SSL] -> uv_write
 *
 * Keep-alive, pipelining (one request at a time per connection, in order),
 * chunked streaming responses (watch, log follow), a request body limit (413),
 * a header timeout and an idle timeout so a silent client cannot hold a
 * connection, and a cap on concurrent connections. Timeouts never cut a
 * response that is streaming.
 */
#ifndef MINIK8S_CORE_HTTP_H
#define MINIK8S_CORE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>
#include <openssl/ssl.h>

struct http_server;
struct http_request;

struct http_header {
	char *name;  /* as received */
	char *value;
};

/*
 * A parsed request. The server owns it; it stays valid until the handler has
 * finished the response (http_respond or http_stream_end) and, if the handler
 * took a reference, until the last http_request_unref. Responding after the
 * client went away is allowed and does nothing, so a handler that answers
 * later (after a storage commit) needs no special case.
 */
struct http_request {
	const char *method;  /* "GET", "POST", ... */
	char *url;           /* raw request target: path and query */
	char *path;          /* percent-decoded path, without the query */
	char *query;         /* raw query string without '?', or NULL */
	struct http_header *headers;
	size_t nheaders;
	char *body;          /* NUL-terminated (the NUL is not counted); never NULL */
	size_t body_len;
	char remote_addr[64]; /* "127.0.0.1:53422" */
	bool tls;
	void *user;          /* free for the handler */
};

/* Called once per request. The handler must eventually respond (now or later). */
typedef void (*http_handler_fn)(struct http_request *req, void *data);

struct http_server_config {
	const char *bind_address;   /* "0.0.0.0", "127.0.0.1", "::" */
	int port;                   /* 0 picks a free port; see http_server_port() */
	SSL_CTX *tls;               /* NULL: plain HTTP. Borrowed; must outlive the server */
	size_t max_body;            /* bytes; larger bodies get 413. 0: 3 MiB */
	uint64_t header_timeout_ms; /* whole request (headers and body) must arrive within. 0: 10 s */
	uint64_t idle_timeout_ms;   /* keep-alive connection with no request. 0: 90 s */
	int max_connections;        /* beyond this new connections are closed at once. 0: 10000 */
	http_handler_fn handler;
	void *handler_data;
};

/* Binds and starts listening. Returns 0 or a negative libuv error code. */
int http_server_start(struct http_server **out, uv_loop_t *loop, const struct http_server_config *cfg);
int http_server_port(const struct http_server *srv);
size_t http_server_connections(const struct http_server *srv);
/* Stops listening, closes every connection (streams end), and calls cb
 * (may be NULL) once all handles are closed; then the server is freed. */
void http_server_close(struct http_server *srv, void (*cb)(void *data), void *data);

/* Case-insensitive header lookup; the first match, or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);
/* Decoded value of a query parameter as a new heap string, or NULL if absent
 * ("watch" in "?watch" gives ""). */
char *http_request_query(const struct http_request *req, const char *key);

void http_request_ref(struct http_request *req);
void http_request_unref(struct http_request *req);
/* True once the client's connection is gone (responding is then a no-op). */
bool http_request_closed(const struct http_request *req);
/* Called (once) if the connection closes before the response ended: for a
 * watch, this is how the handler learns its client left. Set NULL to clear. */
void http_request_on_close(struct http_request *req, void (*cb)(struct http_request *req, void *data), void *data);

/* Adds a response header; call before http_respond / http_stream_start. */
void http_response_header(struct http_request *req, const char *name, const char *value);

/* A complete response with Content-Length. content_type may be NULL. */
void http_respond(struct http_request *req, int status, const char *content_type, const void *body, size_t len);
/* obj (stolen) as the JSON body. */
void http_respond_json(struct http_request *req, int status, json_t *obj);
/* A Kubernetes Status object as the body: status, reason ("NotFound"...)
 * and the formatted message, as the apiserver and the kubelet answer errors. */
void http_respond_status(struct http_request *req, int status, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A chunked streaming response: start once, write any number of chunks
 * (each flushed at once), end once. Writes after the client left are
 * dropped. The connection is not subject to idle/header timeouts while streaming. */
void http_stream_start(struct http_request *req, int status, const char *content_type);
void http_stream_write(struct http_request *req, const void *data, size_t len);
void http_stream_end(struct http_request *req);
/* Bytes queued to the socket and not yet written: a slow watcher shows here. */
size_t http_stream_pending(const struct http_request *req);
/* Calls cb once, when the bytes queued for this response have fallen to low,
 * so that a large answer is produced as fast as the client reads it rather
 * than all at once in memory. Not called if the client goes first (then
 * the on_close callback is). cb NULL cancels. */
void http_stream_on_drain(struct http_request *req, size_t low,
			  void (*cb)(struct http_request *req, void *data), void *data);

/* Status line text for a code ("Not Found"). */
const char *http_status_text(int status);

/* Percent-decodes src into a new heap string ('+' stays '+'). Returns NULL on
 * a malformed escape. */
char *http_url_decode(const char *src, size_t len);

#endif
