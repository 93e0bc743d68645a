/*
 * Choosing a backend for a new connection to a service port: round robin
 * over the ready endpoints, skipping those this connection already tried
 * and, while others are left, those whose connect failed a moment ago;
 * with sessionAffinity ClientIP a client keeps its backend until it has
 * been idle for the affinity timeout. Pure code on plain arrays, so
 * tests/unit/test-proxy-picker.c drives it without sockets.
 */
#ifndef MINIK8S_PROXY_PICKER_H
#define MINIK8S_PROXY_PICKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/pmap.h"

/* How long a backend whose connect failed is passed over (unless every
 * other one is down too): long enough to spare new connections a failed
 * connect each, short enough to notice it came back. */
#define PICKER_HOLDOFF_MS 5000

/* An endpoint: IPv4 address and port in host byte order. */
struct backend_addr {
	uint32_t ip;
	uint16_t port;
};

struct picker_backend {
	struct backend_addr addr;
	uint64_t down_until_ms; /* 0, or skipped until then */
};

struct picker {
	struct picker_backend *b;
	size_t n;
	size_t next;                 /* round-robin cursor */
	bool affinity;               /* sessionAffinity: ClientIP */
	uint64_t affinity_timeout_ms;
	struct pmap clients;         /* client IP -> struct picker_client * */
};

void picker_init(struct picker *p);
void picker_release(struct picker *p);

/*
 * Replaces the backends with addrs[0..n) (copied). Backends that stay keep
 * their down mark; affinity entries of backends that went away are dropped.
 */
void picker_set_backends(struct picker *p, const struct backend_addr *addrs, size_t n);

/* Turns ClientIP affinity on (timeout_ms > 0) or off (clears the table). */
void picker_set_affinity(struct picker *p, bool on, uint64_t timeout_ms);

/*
 * Picks a backend for a connection from client_ip that has already tried
 * tried[0..ntried). Returns 0 and sets *out, or -1 when none is left.
 */
int picker_pick(struct picker *p, uint32_t client_ip, uint64_t now_ms, const struct backend_addr *tried,
		size_t ntried, struct backend_addr *out);

/* A connect to addr failed: pass it over for PICKER_HOLDOFF_MS and let
 * clients that stuck to it choose again. */
void picker_failed(struct picker *p, struct backend_addr addr, uint64_t now_ms);

/* Drops affinity entries idle for longer than the timeout. */
void picker_expire(struct picker *p, uint64_t now_ms);

/* Clients with an affinity entry. */
size_t picker_clients(const struct picker *p);

#endif
