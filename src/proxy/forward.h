/*
 * The data path of the service proxy: listeners on ClusterIP:port (and
 * node addresses for NodePort and LoadBalancer) that hand each TCP
 * connection or UDP flow to a backend the target's picker chooses.
 *
 *   TCP  client fd --splice--> pipe --splice--> backend fd   (and back)
 *   UDP  listener <-- client datagrams --> one connected socket per client
 *
 * TCP bytes never enter user space: each direction owns a kernel pipe that
 * holds at most 64 KiB, so a connection costs two pipes and a small struct
 * however fast either side is; a full pipe stops reading from the sender
 * until the receiver takes it. A connect that fails tries the next backend
 * (up to FWD_MAX_TRIES); when none answers the client gets a reset. UDP
 * flows time out when idle. The engine counts connections against a limit
 * and keeps per-target counters for /metrics.
 */
#ifndef MINIK8S_PROXY_FORWARD_H
#define MINIK8S_PROXY_FORWARD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proxy/picker.h"

#define FWD_MAX_TRIES 16

struct fwd_stats {
	uint64_t connections;  /* TCP connections accepted, UDP flows started */
	uint64_t active;       /* open now */
	uint64_t bytes_in;     /* client -> backend */
	uint64_t bytes_out;    /* backend -> client */
	uint64_t err_connect;  /* backend connects that failed (the next backend was tried) */
	uint64_t err_refused;  /* clients reset (TCP) or dropped (UDP): no backend could be reached */
	uint64_t err_limit;    /* clients turned away by the connection limit */
};

/*
 * What a listener forwards to: one service port. Reference counted, since
 * the ClusterIP, NodePort and LoadBalancer listeners of a port share it and
 * open connections keep it (and its counters) after the Service changes.
 */
struct fwd_target {
	int refs;
	uint8_t proto;        /* IPPROTO_TCP or IPPROTO_UDP */
	char *labels;         /* Prometheus labels, `namespace="default",service="web",...` */
	struct picker picker; /* the ready endpoints; the owner updates it */
	struct fwd_stats stats;
};

/* A new target with one reference; labels is copied. */
struct fwd_target *fwd_target_new(uint8_t proto, const char *labels);
struct fwd_target *fwd_target_ref(struct fwd_target *t);
void fwd_target_unref(struct fwd_target *t);

struct fwd_config {
	int max_connections;         /* TCP connections plus UDP flows; 0: 10000 */
	uint64_t connect_timeout_ms; /* per backend attempt; 0: 1 s */
	uint64_t udp_timeout_ms;     /* an idle UDP flow is closed after; 0: 10 s */
};

struct fwd_engine;
struct fwd_listener;

struct fwd_engine *fwd_engine_new(uv_loop_t *loop, const struct fwd_config *cfg);
/* Closes every listener and connection, frees the engine from the loop and
 * then calls cb(arg) (may be NULL). */
void fwd_engine_close(struct fwd_engine *e, void (*cb)(void *arg), void *arg);
/* TCP connections and UDP flows open now. */
size_t fwd_engine_connections(const struct fwd_engine *e);
/* Pipes made and pipes reused from the pool since the start. */
void fwd_engine_pipe_stats(const struct fwd_engine *e, uint64_t *made, uint64_t *reused);

/*
 * Listens on ip:port (host byte order) for proto and forwards to t (a
 * reference is taken). Returns 0 and sets *out, or -errno (-EADDRINUSE,
 * -EADDRNOTAVAIL, ...).
 */
int fwd_listen(struct fwd_engine *e, uint8_t proto, uint32_t ip, uint16_t port, struct fwd_target *t,
	       struct fwd_listener **out);
/* The port the listener is bound to (useful after listening on port 0). */
uint16_t fwd_listener_port(const struct fwd_listener *l);
/* New connections go to t from now on (open ones keep theirs). */
void fwd_listener_set_target(struct fwd_listener *l, struct fwd_target *t);
/* Stops listening. Open TCP connections carry on to their end; the UDP
 * flows of the listener end with it (their replies went out through it). */
void fwd_listener_close(struct fwd_listener *l);

#endif
