/*
 * rtnetlink for netif.h: each request is one message with NLM_F_ACK (or a
 * dump), sent on the socket and answered before the function returns, so
 * an error comes back as the errno the kernel chose. Messages are built in
 * a fixed buffer with the attribute helpers below; nothing here needs more
 * than a few hundred bytes.
 */
#include "proxy/netif.h"
#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct nlbuf {
	union {
		struct nlmsghdr h;
		char raw[1024];
	} u;
};

static void nl_begin(struct nlbuf *b, uint16_t type, uint16_t flags, const void *body, size_t len)
{
	memset(b, 0, sizeof(*b));
	b->u.h.nlmsg_type = type;
	b->u.h.nlmsg_flags = flags;
	b->u.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
	memcpy(NLMSG_DATA(&b->u.h), body, len);
}

static struct rtattr *nl_attr(struct nlbuf *b, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)(b->u.raw + NLMSG_ALIGN(b->u.h.nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	b->u.h.nlmsg_len = NLMSG_ALIGN(b->u.h.nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

static void nl_nest_end(struct nlbuf *b, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)(b->u.raw + b->u.h.nlmsg_len - (char *)nest);
}

typedef int (*nl_msg_fn)(const struct nlmsghdr *h, void *data);

/* Sends the request and reads until its ack (or the end of a dump),
 * calling fn for every other message of ours. Returns 0 or -errno. */
static int nl_talk(struct netif *n, struct nlbuf *b, nl_msg_fn fn, void *data)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	char *buf = xmalloc(32768);
	uint32_t seq = ++n->seq;
	int rc = 0;
	bool done = false;

	b->u.h.nlmsg_seq = seq;
	if (sendto(n->fd, &b->u.h, b->u.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
		goto out;
	}
	while (!done) {
		ssize_t len = recv(n->fd, buf, 32768, 0);
		struct nlmsghdr *h;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq)
				continue; /* an answer to an earlier request we gave up on */
			if (h->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					rc = -EPROTO;
				else if (e->error && !rc)
					rc = e->error;
				done = true;
				break;
			}
			if (fn && rc == 0)
				rc = fn(h, data);
		}
	}
out:
	free(buf);
	return rc;
}

int netif_open(struct netif *n)
{
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 5 };

	n->seq = (uint32_t)now_ms();
	n->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (n->fd < 0)
		return -errno;
	/* The kernel answers at once; the timeout only guards against a bug. */
	setsockopt(n->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(n->fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
		int rc = -errno;
		close(n->fd);
		n->fd = -1;
		return rc;
	}
	return 0;
}

void netif_close(struct netif *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

/* ---- links ------------------------------------------------------------------ */

struct link_info {
	int ifindex;
	char kind[IFNAMSIZ];
};

static int on_link(const struct nlmsghdr *h, void *data)
{
	struct link_info *li = data;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));
	const struct rtattr *a;

	if (h->nlmsg_type != RTM_NEWLINK || len < 0)
		return 0;
	li->ifindex = ifi->ifi_index;
	for (a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		const struct rtattr *in;
		int ilen;
		if (a->rta_type != IFLA_LINKINFO)
			continue;
		ilen = (int)RTA_PAYLOAD(a);
		for (in = RTA_DATA(a); RTA_OK(in, ilen); in = RTA_NEXT(in, ilen))
			if (in->rta_type == IFLA_INFO_KIND) {
				size_t l = RTA_PAYLOAD(in);
				if (l >= sizeof(li->kind))
					l = sizeof(li->kind) - 1;
				memcpy(li->kind, RTA_DATA(in), l);
				li->kind[l] = 0;
			}
	}
	return 0;
}

static int get_link(struct netif *n, const char *name, struct link_info *li)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nlbuf b;

	memset(li, 0, sizeof(*li));
	if (strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	nl_begin(&b, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof(ifi));
	nl_attr(&b, IFLA_IFNAME, name, strlen(name) + 1);
	return nl_talk(n, &b, on_link, li);
}

int netif_index(struct netif *n, const char *name)
{
	struct link_info li;
	int rc = get_link(n, name, &li);

	return rc < 0 ? rc : li.ifindex;
}

static int create_link(struct netif *n, const char *name, const char *kind)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nlbuf b;
	struct rtattr *info;

	nl_begin(&b, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	nl_attr(&b, IFLA_IFNAME, name, strlen(name) + 1);
	info = nl_attr(&b, IFLA_LINKINFO, NULL, 0);
	nl_attr(&b, IFLA_INFO_KIND, kind, strlen(kind));
	nl_nest_end(&b, info);
	return nl_talk(n, &b, NULL, NULL);
}

static int set_up(struct netif *n, int ifindex)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	struct nlbuf b;

	nl_begin(&b, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof(ifi));
	return nl_talk(n, &b, NULL, NULL);
}

static bool ours(const char *kind)
{
	return !strcmp(kind, "dummy") || !strcmp(kind, "bridge");
}

int netif_ensure(struct netif *n, const char *name, int *ifindex, char *kind)
{
	struct link_info li;
	int rc = get_link(n, name, &li);

	if (rc == -ENODEV) {
		rc = create_link(n, name, "dummy");
		if (rc == -EOPNOTSUPP || rc == -ENOENT) {
			log_debug("no dummy driver: using a bridge with no ports interface=%s", name);
			rc = create_link(n, name, "bridge");
		}
		if (rc < 0)
			return rc;
		rc = get_link(n, name, &li);
	}
	if (rc < 0)
		return rc;
	if (!ours(li.kind))
		return -EEXIST;
	rc = set_up(n, li.ifindex);
	if (rc < 0)
		return rc;
	*ifindex = li.ifindex;
	if (kind)
		memcpy(kind, li.kind, sizeof(li.kind));
	return 0;
}

int netif_delete(struct netif *n, const char *name)
{
	struct link_info li;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nlbuf b;
	int rc = get_link(n, name, &li);

	if (rc == -ENODEV)
		return 0;
	if (rc < 0)
		return rc;
	if (!ours(li.kind))
		return -EEXIST;
	ifi.ifi_index = li.ifindex;
	nl_begin(&b, RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, &ifi, sizeof(ifi));
	rc = nl_talk(n, &b, NULL, NULL);
	return rc == -ENODEV ? 0 : rc;
}

/* ---- addresses ------------------------------------------------------------------ */

struct addr_list {
	int ifindex;
	struct netif_addr *v;
	size_t n, alloc;
};

static int on_addr(const struct nlmsghdr *h, void *data)
{
	struct addr_list *l = data;
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifa));
	const struct rtattr *a;
	uint32_t ip = 0;
	bool have = false;

	if (h->nlmsg_type != RTM_NEWADDR || len < 0 || ifa->ifa_family != AF_INET)
		return 0;
	if (l->ifindex && (int)ifa->ifa_index != l->ifindex)
		return 0;
	for (a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		/* IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on
		 * point-to-point links, and the same as IFA_LOCAL elsewhere. */
		if ((a->rta_type == IFA_LOCAL || (a->rta_type == IFA_ADDRESS && !have)) && RTA_PAYLOAD(a) == 4) {
			memcpy(&ip, RTA_DATA(a), 4);
			have = true;
		}
	}
	if (!have)
		return 0;
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 8;
		l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n].ifindex = (int)ifa->ifa_index;
	l->v[l->n].ip = ntohl(ip);
	l->v[l->n].prefixlen = ifa->ifa_prefixlen;
	l->n++;
	return 0;
}

int netif_list_addrs(struct netif *n, int ifindex, struct netif_addr **out, size_t *count)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_INET };
	struct addr_list l = { .ifindex = ifindex };
	struct nlbuf b;
	int rc;

	nl_begin(&b, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &ifa, sizeof(ifa));
	rc = nl_talk(n, &b, on_addr, &l);
	if (rc < 0) {
		free(l.v);
		return rc;
	}
	*out = l.v;
	*count = l.n;
	return 0;
}

static int addr_change(struct netif *n, uint16_t type, uint16_t flags, int ifindex, uint32_t ip)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_prefixlen = 32, .ifa_scope = RT_SCOPE_UNIVERSE,
				 .ifa_index = (uint32_t)ifindex };
	uint32_t be = htonl(ip);
	struct nlbuf b;

	nl_begin(&b, type, NLM_F_REQUEST | NLM_F_ACK | flags, &ifa, sizeof(ifa));
	nl_attr(&b, IFA_LOCAL, &be, 4);
	nl_attr(&b, IFA_ADDRESS, &be, 4);
	return nl_talk(n, &b, NULL, NULL);
}

int netif_addr_add(struct netif *n, int ifindex, uint32_t ip)
{
	int rc = addr_change(n, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, ip);

	return rc == -EEXIST ? 0 : rc;
}

int netif_addr_del(struct netif *n, int ifindex, uint32_t ip)
{
	int rc = addr_change(n, RTM_DELADDR, 0, ifindex, ip);

	return rc == -EADDRNOTAVAIL || rc == -ENODEV ? 0 : rc;
}

/* ---- routes ----------------------------------------------------------------------- */

static int on_route(const struct nlmsghdr *h, void *data)
{
	int *oif = data;
	const struct rtmsg *rt = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*rt));
	const struct rtattr *a;
	uint32_t table = rt->rtm_table;
	int found = 0;

	if (h->nlmsg_type != RTM_NEWROUTE || len < 0 || *oif > 0)
		return 0;
	if (rt->rtm_family != AF_INET || rt->rtm_dst_len != 0 || rt->rtm_type != RTN_UNICAST)
		return 0;
	for (a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) == 4)
			memcpy(&table, RTA_DATA(a), 4);
		if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4)
			memcpy(&found, RTA_DATA(a), 4);
	}
	if (table == RT_TABLE_MAIN && found > 0)
		*oif = found;
	return 0;
}

int netif_default_route_ifindex(struct netif *n)
{
	struct rtmsg rt = { .rtm_family = AF_INET };
	struct nlbuf b;
	int oif = 0, rc;

	nl_begin(&b, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, &rt, sizeof(rt));
	rc = nl_talk(n, &b, on_route, &oif);
	if (rc < 0)
		return rc;
	return oif > 0 ? oif : -ENOENT;
}

static int route_change(struct netif *n, uint16_t type, uint16_t flags, const struct netif_route *r, uint8_t proto)
{
	struct rtmsg rt = { .rtm_family = AF_INET, .rtm_dst_len = r->plen, .rtm_table = RT_TABLE_MAIN,
			    .rtm_protocol = proto, .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST };
	uint32_t dst = htonl(r->dst), gw = htonl(r->gw);
	struct nlbuf b;

	nl_begin(&b, type, NLM_F_REQUEST | NLM_F_ACK | flags, &rt, sizeof(rt));
	nl_attr(&b, RTA_DST, &dst, 4);
	if (type == RTM_NEWROUTE)
		nl_attr(&b, RTA_GATEWAY, &gw, 4);
	return nl_talk(n, &b, NULL, NULL);
}

int netif_route_replace(struct netif *n, const struct netif_route *r, uint8_t proto)
{
	return route_change(n, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, r, proto);
}

int netif_route_del(struct netif *n, const struct netif_route *r, uint8_t proto)
{
	int rc = route_change(n, RTM_DELROUTE, 0, r, proto);

	return rc == -ESRCH ? 0 : rc;
}

struct route_list {
	uint8_t proto;
	struct netif_route *v;
	size_t n, alloc;
};

static int on_our_route(const struct nlmsghdr *h, void *data)
{
	struct route_list *l = data;
	const struct rtmsg *rt = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*rt));
	const struct rtattr *a;
	struct netif_route r = { .plen = rt->rtm_dst_len };

	if (h->nlmsg_type != RTM_NEWROUTE || len < 0 || rt->rtm_family != AF_INET || rt->rtm_protocol != l->proto ||
	    rt->rtm_table != RT_TABLE_MAIN)
		return 0;
	for (a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_DST && RTA_PAYLOAD(a) == 4)
			memcpy(&r.dst, RTA_DATA(a), 4);
		if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == 4)
			memcpy(&r.gw, RTA_DATA(a), 4);
	}
	r.dst = ntohl(r.dst);
	r.gw = ntohl(r.gw);
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 8;
		l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n++] = r;
	return 0;
}

int netif_list_routes(struct netif *n, uint8_t proto, struct netif_route **out, size_t *count)
{
	struct rtmsg rt = { .rtm_family = AF_INET };
	struct route_list l = { .proto = proto };
	struct nlbuf b;
	int rc;

	nl_begin(&b, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, &rt, sizeof(rt));
	rc = nl_talk(n, &b, on_our_route, &l);
	if (rc < 0) {
		free(l.v);
		return rc;
	}
	*out = l.v;
	*count = l.n;
	return 0;
}

/* ---- change notifications ------------------------------------------------------------ */

int netif_monitor_open(void)
{
	struct sockaddr_nl local = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int netif_monitor_drain(int fd)
{
	char buf[8192];
	int n = 0;

	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) { /* we fell behind: something changed */
				n++;
				continue;
			}
			return n;
		}
		if (len == 0)
			return n;
		n++;
	}
}
