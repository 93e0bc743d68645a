/*
 * The cluster DNS server: dns.c's answers on UDP and TCP port 53 of the
 * kube-dns ClusterIP, and everything outside the cluster domain forwarded
 * to the resolvers of a resolv.conf (re-read when it changes).
 *
 *   client --UDP/TCP--> dns_answer(db) --reply--> client
 *                           | DNS_FORWARD
 *                           v
 *          upstream 1 (UDP, fresh ID and port) --timeout--> upstream 2 ... --> SERVFAIL
 *          (a truncated answer to a TCP client is asked again over TCP)
 */
#ifndef MINIK8S_PROXY_DNSSERVER_H
#define MINIK8S_PROXY_DNSSERVER_H

#include <stdint.h>
#include <uv.h>

#include "core/util.h"
#include "proxy/dns.h"

struct dns_server_config {
	const char *resolv_conf;      /* upstreams; NULL: /etc/resolv.conf */
	uint64_t forward_timeout_ms;  /* per upstream attempt; 0: 2 s */
	int max_inflight;             /* forwarded queries at once; 0: 1000 */
	int max_tcp_connections;      /* 0: 256 */
};

struct dns_server;

/* A server answering from db (borrowed: must outlive the server; its owner
 * updates it between callbacks). Not listening until dns_server_listen. */
struct dns_server *dns_server_new(uv_loop_t *loop, const struct dns_db *db, const struct dns_server_config *cfg);

/*
 * Listens on ip:port (host order) for UDP and TCP, replacing the sockets of
 * an earlier call. port 0 picks a free one (the same for both, see
 * dns_server_port). Returns 0 or a negative errno.
 */
int dns_server_listen(struct dns_server *s, uint32_t ip, uint16_t port);
/* Stops listening (queries in flight still get their answers). */
void dns_server_unlisten(struct dns_server *s);
uint16_t dns_server_port(const struct dns_server *s);

/* Appends the server's counters in Prometheus text format. */
void dns_server_metrics(const struct dns_server *s, struct strbuf *out);

/* Closes everything, frees the server from the loop, then cb(arg). */
void dns_server_close(struct dns_server *s, void (*cb)(void *arg), void *arg);

#endif
