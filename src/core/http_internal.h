/*
 * Entry points of the HTTP server that only tests and the fuzz target use.
 * They let a test hand the server a socket it made itself (one end of a
 * socketpair), so fuzzing runs the real read, parse, respond and close path
 * without TCP handshakes or ports.
 */
#ifndef MINIK8S_CORE_HTTP_INTERNAL_H
#define MINIK8S_CORE_HTTP_INTERNAL_H

#include "http.h"

/*
 * Serves a connected stream socket as if the listener had accepted it. The
 * server owns fd on success (closed with the connection). Returns 0 or a
 * negative libuv error code; on failure fd stays the caller's to close.
 */
int http_server_adopt(struct http_server *srv, uv_os_sock_t fd);

#endif
