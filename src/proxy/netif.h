/*
 * The few rtnetlink operations the proxy needs, spoken directly to the
 * kernel (no `ip` subprocess): make sure the service interface (minik8s0)
 * exists and is up, put ClusterIPs on it as /32 addresses and take them
 * off, list the node's IPv4 addresses, find the default route's interface,
 * watch for address changes, and keep the agent's routes to other nodes'
 * pod networks (src/agent/hostgw.c). Every call is a short synchronous
 * request/acknowledge exchange on a NETLINK_ROUTE socket.
 *
 * The interface is a dummy where the kernel has that driver; otherwise a
 * bridge with no ports, which holds local addresses just as well.
 */
#ifndef MINIK8S_PROXY_NETIF_H
#define MINIK8S_PROXY_NETIF_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

struct netif {
	int fd;
	uint32_t seq;
};

/* Opens the request socket. Returns 0 or -errno. */
int netif_open(struct netif *n);
void netif_close(struct netif *n);

/*
 * Makes sure a link called name exists and is up, creating a dummy (or, if
 * the kernel lacks the driver, a bridge). An existing link of another kind
 * (a real NIC, a veth) is never touched: that returns -EEXIST. Sets
 * *ifindex; kind (may be NULL, IFNAMSIZ bytes) gets "dummy" or "bridge".
 * Returns 0 or -errno.
 */
int netif_ensure(struct netif *n, const char *name, int *ifindex, char *kind);

/* Deletes the link called name if it is a dummy or a bridge. 0 also when it
 * does not exist. Returns 0 or -errno. */
int netif_delete(struct netif *n, const char *name);

/* ifindex of name, or -ENODEV. */
int netif_index(struct netif *n, const char *name);

struct netif_addr {
	int ifindex;
	uint32_t ip;        /* host byte order */
	uint8_t prefixlen;
};

/* Every IPv4 address of the machine (ifindex 0) or of one link. *out is a
 * new array (free it). Returns 0 or -errno. */
int netif_list_addrs(struct netif *n, int ifindex, struct netif_addr **out, size_t *count);

/* Adds ip/32 to the link (already there is fine). Returns 0 or -errno. */
int netif_addr_add(struct netif *n, int ifindex, uint32_t ip);
/* Removes ip/32 from the link (not there is fine). Returns 0 or -errno. */
int netif_addr_del(struct netif *n, int ifindex, uint32_t ip);

/* The interface of the main table's IPv4 default route, or -ENOENT. */
int netif_default_route_ifindex(struct netif *n);

/* A route of the main table to dst/plen via gateway gw (host byte order). */
struct netif_route {
	uint32_t dst, gw;
	uint8_t plen;
};

/* Routes dst/plen via gw, tagged with protocol proto so they can be found
 * again as ours (replacing one to the same dst). Returns 0 or -errno. */
int netif_route_replace(struct netif *n, const struct netif_route *r, uint8_t proto);
/* Removes our route to dst/plen (not there is fine). Returns 0 or -errno. */
int netif_route_del(struct netif *n, const struct netif_route *r, uint8_t proto);
/* Every IPv4 route of the main table tagged proto. *out is a new array. */
int netif_list_routes(struct netif *n, uint8_t proto, struct netif_route **out, size_t *count);

/*
 * A socket that becomes readable when IPv4 addresses or links change
 * (RTMGRP_IPV4_IFADDR | RTMGRP_LINK), non-blocking. Returns the fd or
 * -errno. netif_monitor_drain reads what is queued and returns how many
 * messages it read (a change to react to when > 0).
 */
int netif_monitor_open(void);
int netif_monitor_drain(int fd);

#endif
