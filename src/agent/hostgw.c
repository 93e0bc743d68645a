/*
 * hostgw.h: routes to the other nodes' pod networks. A Node informer feeds
 * a debounced resync that compares what should be (every other node with a
 * podCIDR and an InternalIP) with the routes tagged HOSTGW_RTPROTO, then
 * adds, replaces and removes the difference. A periodic resync repairs a
 * route someone deleted by hand. Routes stay when the agent stops, so pods
 * keep talking across a restart; a node deleted from the cluster loses its
 * route on the next resync of every other node.
 */
#include "agent/hostgw.h"
#include "client/informer.h"
#include "client/kubeconfig.h"
#include "client/rest.h"
#include "core/component.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"
#include "proxy/netif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEBOUNCE_MS 200
#define RESYNC_MS 30000

static char *node_name;

void hostgw_set_node_name(const char *name)
{
	free(node_name);
	node_name = name ? xstrdup(name) : NULL;
}

struct hostgw {
	struct rest_client *rest;
	struct informer *nodes;
	struct netif nl;
	uv_timer_t debounce, resync;
	int closing;
	void (*done)(void *);
	void *done_arg;
	json_t *warned; /* node name -> last error said, so a failing route is logged once */
};

/* "10.244.1.0/24" --> dst and plen; 0 or -1. */
static int parse_cidr(const char *s, uint32_t *dst, uint8_t *plen)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = s ? strchr(s, '/') : NULL;
	struct in_addr a;
	char *end;
	long n;

	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	n = strtol(slash + 1, &end, 10);
	if (*end || n < 8 || n > 32 || inet_pton(AF_INET, ip, &a) != 1)
		return -1;
	*dst = ntohl(a.s_addr);
	*plen = (uint8_t)n;
	return 0;
}

static void say_once(struct hostgw *h, const char *node, const char *what)
{
	const char *last = json_string_value(json_object_get(h->warned, node));

	if (last && !strcmp(last, what))
		return;
	json_object_set_new(h->warned, node, json_string(what));
	log_warn("hostgw node=%s %s", node, what);
}

static void resync(struct hostgw *h)
{
	json_t *nodes = informer_list(h->nodes, NULL), *node;
	struct netif_route *have = NULL, *want = NULL;
	size_t nhave = 0, nwant = 0, i, j;
	int rc;

	if ((rc = netif_list_routes(&h->nl, HOSTGW_RTPROTO, &have, &nhave)) < 0) {
		log_warn("hostgw cannot list routes: %s", strerror(-rc));
		json_decref(nodes);
		return;
	}
	want = xcalloc(json_array_size(nodes) + 1, sizeof(*want));
	json_array_foreach(nodes, i, node) {
		const char *name = obj_str(node, "metadata.name"), *cidr = obj_str(node, "spec.podCIDR");
		const char *ip = node_address(node, "InternalIP");
		struct netif_route r;
		struct in_addr gw;

		if (!name || (node_name && !strcmp(name, node_name)) || !cidr || !ip)
			continue;
		if (parse_cidr(cidr, &r.dst, &r.plen) < 0 || inet_pton(AF_INET, ip, &gw) != 1) {
			say_once(h, name, "has a podCIDR or InternalIP that is not IPv4: no route");
			continue;
		}
		r.gw = ntohl(gw.s_addr);
		for (j = 0; j < nhave; j++)
			if (have[j].dst == r.dst && have[j].plen == r.plen && have[j].gw == r.gw)
				break;
		want[nwant++] = r;
		if (j < nhave)
			continue;
		if ((rc = netif_route_replace(&h->nl, &r, HOSTGW_RTPROTO)) < 0) {
			char msg[256];
			snprintf(msg, sizeof(msg), "cannot route %s via %s: %s%s", cidr, ip, strerror(-rc),
				 rc == -ENETUNREACH ? " (nodes must share a network: host-gw routes need a direct path)"
						    : "");
			say_once(h, name, msg);
			continue;
		}
		json_object_del(h->warned, name);
		log_info("hostgw route added node=%s podCIDR=%s via=%s", name, cidr, ip);
	}
	for (i = 0; i < nhave; i++) {
		for (j = 0; j < nwant; j++)
			if (want[j].dst == have[i].dst && want[j].plen == have[i].plen)
				break;
		if (j < nwant)
			continue;
		if ((rc = netif_route_del(&h->nl, &have[i], HOSTGW_RTPROTO)) < 0)
			log_warn("hostgw cannot remove a route: %s", strerror(-rc));
		else
			log_info("hostgw route removed dst=%u.%u.%u.%u/%u", have[i].dst >> 24, (have[i].dst >> 16) & 255,
				 (have[i].dst >> 8) & 255, have[i].dst & 255, have[i].plen);
	}
	free(have);
	free(want);
	json_decref(nodes);
}

static void on_timer(uv_timer_t *t)
{
	struct hostgw *h = t->data;

	if (informer_has_synced(h->nodes))
		resync(h);
}

static void kick(struct hostgw *h)
{
	if (!h->closing)
		uv_timer_start(&h->debounce, on_timer, DEBOUNCE_MS, 0);
}

static void on_add(json_t *obj, void *data)
{
	(void)obj;
	kick(data);
}

static void on_update(json_t *old_obj, json_t *new_obj, void *data)
{
	/* Only the podCIDR and the addresses matter; heartbeats change neither. */
	if (json_equal(obj_get(old_obj, "spec.podCIDR"), obj_get(new_obj, "spec.podCIDR")) &&
	    json_equal(obj_get(old_obj, "status.addresses"), obj_get(new_obj, "status.addresses")))
		return;
	kick(data);
}

static void on_delete(json_t *obj, void *data)
{
	(void)obj;
	kick(data);
}

static int start(uv_loop_t *loop, const char *kubeconfig, void **state)
{
	static const struct rest_resource nodes_res = { "", "v1", "nodes", false };
	struct informer_handlers hd = { on_add, on_update, on_delete, NULL };
	struct kubeconfig *kc = NULL;
	struct hostgw *h;
	int rc;

	if (kubeconfig_load(kubeconfig, NULL, &kc, NULL) < 0)
		return error("hostgw: cannot read the kubeconfig '%s'", kubeconfig);
	h = xcalloc(1, sizeof(*h));
	if ((rc = netif_open(&h->nl)) < 0) {
		kubeconfig_free(kc);
		free(h);
		return error("hostgw: cannot open rtnetlink: %s (the agent needs root)", strerror(-rc));
	}
	h->rest = rest_client_new(loop, kc);
	kubeconfig_free(kc);
	if (!h->rest) {
		netif_close(&h->nl);
		free(h);
		return -1;
	}
	h->warned = json_object();
	uv_timer_init(loop, &h->debounce);
	uv_timer_init(loop, &h->resync);
	h->debounce.data = h->resync.data = h;
	h->nodes = informer_new(h->rest, &nodes_res, NULL);
	hd.data = h;
	informer_add_handlers(h->nodes, &hd);
	informer_start(h->nodes);
	uv_timer_start(&h->resync, on_timer, RESYNC_MS, RESYNC_MS);
	*state = h;
	return 0;
}

static void finish(struct hostgw *h)
{
	if (--h->closing > 0)
		return;
	netif_close(&h->nl);
	json_decref(h->warned);
	h->done(h->done_arg);
	free(h);
}

static void on_closed_handle(uv_handle_t *handle)
{
	finish(handle->data);
}

static void on_closed(void *arg)
{
	finish(arg);
}

static void on_informer_closed(void *arg)
{
	struct hostgw *h = arg;

	rest_client_close(h->rest, on_closed, h);
}

static void stop(void *state, void (*done)(void *), void *arg)
{
	struct hostgw *h = state;

	h->done = done;
	h->done_arg = arg;
	h->closing = 3;
	uv_close((uv_handle_t *)&h->debounce, on_closed_handle);
	uv_close((uv_handle_t *)&h->resync, on_closed_handle);
	informer_close(h->nodes, on_informer_closed, h);
}

const struct component hostgw_component = {
	.name = "hostgw",
	.usage = "routes to other nodes' pod networks (part of `minik8s agent`)\n",
	.flags = NULL,
	.start = start,
	.stop = stop,
};
