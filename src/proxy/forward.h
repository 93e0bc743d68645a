/*
 * The data path of the service proxy: listeners on ClusterIP:port (and
 * node addresses for NodePort and LoadBalancer) that hand each TCP
 * connection or UDP flow to a backend the target's picker chooses.
 *
 *   TCP  client fd --recv/send, or splice through a pipe--> backend fd   (and back)
 *   UDP  listener <-- client datagrams --> one connected socket per client
 *
 * TCP is forwarded by one or more loops: the caller's loop (loop 0, which
 * also runs fwd_* calls and UDP) and threads of their own. Each loop has
 * its own SO_REUSEPORT listening socket for every TCP listener, so the
 * kernel spreads new connections over the loops, and a connection stays on
 * the loop that accepted it from start to end: nothing of it is shared.
 * What the loops do share is the target: its picker (under a mutex, taken
 * once per new connection), its reference count, and its counters (one
 * slot per loop, summed when read). The connection limit counts across
 * all loops.
 *
 * Each direction owns a kernel pipe that holds at most 64 KiB, so a
 * connection costs two pipes and a small struct however fast either side
 * is; a full pipe stops reading from the sender until the receiver takes
 * it. A connect that fails tries the next backend (up to FWD_MAX_TRIES);
 * when none answers the client gets a reset. UDP flows time out when idle.
 */
#ifndef MINIK8S_PROXY_FORWARD_H
#define MINIK8S_PROXY_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "proxy/picker.h"

#define FWD_MAX_TRIES 16
/* Forwarding loops at most (fwd_config.loops is capped to it). */
#define FWD_MAX_LOOPS 16

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
 * What a listener forwards to: one service port. Reference counted (from
 * any loop), since the ClusterIP, NodePort and LoadBalancer listeners of a
 * port share it and open connections keep it (and its counters) after the
 * Service changes. Opaque: its picker is shared by every loop, so it is
 * reached only through the calls below, which take the target's lock.
 */
struct fwd_target;

/* A new target with one reference; labels is copied. */
struct fwd_target *fwd_target_new(uint8_t proto, const char *labels);
struct fwd_target *fwd_target_ref(struct fwd_target *t);
void fwd_target_unref(struct fwd_target *t);
/* The Prometheus labels, `namespace="default",service="web",...` (borrowed). */
const char *fwd_target_labels(const struct fwd_target *t);
/* picker_set_backends, picker_set_affinity and picker_expire under the
 * target's lock (see picker.h); new connections on every loop see the
 * change at once. */
void fwd_target_set_backends(struct fwd_target *t, const struct backend_addr *addrs, size_t n);
void fwd_target_set_affinity(struct fwd_target *t, bool on, uint64_t timeout_ms);
void fwd_target_expire(struct fwd_target *t);
/* Ready endpoints now. */
size_t fwd_target_endpoints(struct fwd_target *t);
/* The counters, summed over the loops. */
void fwd_target_stats(const struct fwd_target *t, struct fwd_stats *out);
/* Counts a client the caller refused for t (a listener that could not
 * open). Only from loop 0's thread. */
void fwd_target_count_refused(struct fwd_target *t);

struct fwd_config {
	int max_connections;         /* TCP connections plus UDP flows, all loops together; 0: 10000 */
	uint64_t connect_timeout_ms; /* per backend attempt; 0: 1 s */
	uint64_t udp_timeout_ms;     /* an idle UDP flow is closed after; 0: 10 s */
	int loops;                   /* TCP forwarding loops, the caller's included; 0 or 1: the caller's only */
};

struct fwd_engine;
struct fwd_listener;

/*
 * A new engine on loop (loop 0). With cfg->loops > 1 it starts that many
 * minus one threads, each running a loop of its own; if a thread cannot be
 * started the engine runs with fewer (logged). Every other call is made
 * from loop 0's thread.
 */
struct fwd_engine *fwd_engine_new(uv_loop_t *loop, const struct fwd_config *cfg);
/* Closes every listener and connection on every loop, stops and joins the
 * threads (each loop closed cleanly), frees the engine from loop 0 and then
 * calls cb(arg) (may be NULL). */
void fwd_engine_close(struct fwd_engine *e, void (*cb)(void *arg), void *arg);
/* The loops forwarding TCP, the caller's included. */
unsigned fwd_engine_loops(const struct fwd_engine *e);
/* TCP connections and UDP flows open now, all loops together. */
size_t fwd_engine_connections(const struct fwd_engine *e);
/* TCP connections loop i has accepted since the start (for i >= loops, 0). */
uint64_t fwd_engine_loop_accepted(const struct fwd_engine *e, unsigned i);
/* Pipes made and pipes reused from the pools since the start. */
void fwd_engine_pipe_stats(const struct fwd_engine *e, uint64_t *made, uint64_t *reused);
/* Loop threads of any engine whose uv_loop_close failed (a handle left
 * open) since the process started: logged as an error, and tests check
 * that it stays 0. */
unsigned fwd_unclean_loops(void);

/*
 * Listens on ip:port (host byte order) for proto and forwards to t (a
 * reference is taken). TCP listens on every loop (one socket each, bound
 * with SO_REUSEPORT when there are several, after checking that no other
 * socket holds the address); UDP on loop 0 only. Returns 0 and sets *out,
 * or -errno (-EADDRINUSE, -EADDRNOTAVAIL, ...).
 */
int fwd_listen(struct fwd_engine *e, uint8_t proto, uint32_t ip, uint16_t port, struct fwd_target *t,
	       struct fwd_listener **out);
/* The port the listener is bound to (useful after listening on port 0). */
uint16_t fwd_listener_port(const struct fwd_listener *l);
/* New connections go to t from now on (open ones keep theirs). */
void fwd_listener_set_target(struct fwd_listener *l, struct fwd_target *t);
/* Stops listening at once: new connections are refused from now on. Open
 * TCP connections carry on to their end; the UDP flows of the listener end
 * with it (their replies went out through it). */
void fwd_listener_close(struct fwd_listener *l);

#endif
