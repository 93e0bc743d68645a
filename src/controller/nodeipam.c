/*
 * Node IPAM, as Kubernetes' range allocator (node-ipam-controller): each
 * Node gets a podCIDR of --node-cidr-mask-size bits carved out of
 * --cluster-cidr (a /24 of 10.244.0.0/16 by default), written to
 * spec.podCIDR and spec.podCIDRs; the kubelet builds its pod network from
 * it. A bitmap remembers which subnets are taken: those of existing nodes
 * at start, then each one handed out; a deleted node's goes back. When none
 * is left the node gets a CIDRNotAvailable event and waits.
 */
#include "controller/controller.h"
#include "apiserver/kinds.h"
#include "log.h"
#include "object.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENT "cidrAllocator"
/* At most 2^16 subnets, as Kubernetes limits the mask difference. */
#define MAX_SUBNET_BITS 16

struct ipam_controller {
	struct controller c;
	struct lister *nodes;
	struct event_recorder *events;
	uint32_t base;        /* cluster CIDR network, host order */
	int prefix, mask;     /* its prefix length, and each node's */
	size_t nsubnets, next;
	uint8_t *used;        /* bitmap */
	struct keymap *assigned;  /* node name -> subnet index + 1, as a pointer */
};

static int parse_cidr(const char *s, uint32_t *addr, int *prefix)
{
	char buf[64], *slash;
	struct in_addr a;
	char *end;
	long p;

	if (!s || strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if (!(slash = strchr(buf, '/')))
		return -1;
	*slash = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	p = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || p < 0 || p > 32)
		return -1;
	*addr = ntohl(a.s_addr);
	*prefix = (int)p;
	return 0;
}

static uint32_t prefix_mask(int prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

static bool bit(const struct ipam_controller *ic, size_t i)
{
	return ic->used[i / 8] & (1u << (i % 8));
}

static void set_bit(struct ipam_controller *ic, size_t i, bool on)
{
	if (on)
		ic->used[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		ic->used[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static void subnet_string(const struct ipam_controller *ic, size_t idx, char *buf, size_t len)
{
	uint32_t a = ic->base + ((uint32_t)idx << (32 - ic->mask));

	snprintf(buf, len, "%u.%u.%u.%u/%d", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, ic->mask);
}

/* The subnet index of a node's podCIDR, or -1 if it is not one of ours. */
static long subnet_index(const struct ipam_controller *ic, const char *cidr)
{
	uint32_t a;
	int p;

	if (parse_cidr(cidr, &a, &p) < 0 || p != ic->mask)
		return -1;
	if ((a & prefix_mask(ic->prefix)) != ic->base)
		return -1;
	return (long)((a - ic->base) >> (32 - ic->mask));
}

static void release(struct ipam_controller *ic, const char *name)
{
	uintptr_t v = (uintptr_t)keymap_del(ic->assigned, name);

	if (v)
		set_bit(ic, v - 1, false);
}

static void occupy(struct ipam_controller *ic, const char *name, size_t idx)
{
	uintptr_t v = (uintptr_t)keymap_get(ic->assigned, name);

	if (v && v - 1 != idx)
		set_bit(ic, v - 1, false);
	set_bit(ic, idx, true);
	keymap_put(ic->assigned, name, (void *)(uintptr_t)(idx + 1));
}

static long allocate(struct ipam_controller *ic)
{
	for (size_t n = 0; n < ic->nsubnets; n++) {
		size_t i = (ic->next + n) % ic->nsubnets;
		if (!bit(ic, i)) {
			ic->next = (i + 1) % ic->nsubnets;
			return (long)i;
		}
	}
	return -1;
}

static void enqueue_waiting(struct ipam_controller *ic)
{
	json_t *all = lister_list(ic->nodes, NULL), *n;
	size_t i;

	json_array_foreach(all, i, n)
		if (!obj_str(n, "spec.podCIDR"))
			controller_enqueue_obj(&ic->c, n);
	json_decref(all);
}

struct cidr_write {
	struct ipam_controller *ic;
	char *node;
};

static int on_cidr_written(struct sync *s, const struct api_result *r, void *data)
{
	struct cidr_write *w = data;
	int rc = 0;

	if (r->error) {
		release(w->ic, w->node);
		if (r->status != 404) {
			event_record_ref(w->ic->events, "v1", "Node", NULL, w->node, w->node, "Warning", "CIDRAssignmentFailed",
					 "Node %s status is now: CIDRAssignmentFailed", w->node);
			rc = sync_check(s, r);
		}
	}
	free(w->node);
	free(w);
	return rc;
}

static int ipam_sync(struct controller *c, const char *name, struct sync *s)
{
	struct ipam_controller *ic = c->priv;
	json_t *node = lister_get(ic->nodes, name), *patch;
	const char *cidr;
	struct cidr_write *w;
	char buf[32], *path;
	long idx;
	uintptr_t have;

	if (!node) {
		if (keymap_get(ic->assigned, name)) {
			release(ic, name);
			log_info("controller=nodeipam node=%s deleted: its podCIDR is free again", name);
			enqueue_waiting(ic);
		}
		return 0;
	}
	cidr = obj_str(node, "spec.podCIDR");
	if (cidr && *cidr) {
		if ((idx = subnet_index(ic, cidr)) >= 0)
			occupy(ic, name, (size_t)idx);
		else
			log_warn("controller=nodeipam node=%s has podCIDR %s outside --cluster-cidr", name, cidr);
		return 0;
	}
	have = (uintptr_t)keymap_get(ic->assigned, name);
	if (have) {
		idx = (long)(have - 1);   /* handed out before; the cache has not shown it yet */
	} else if ((idx = allocate(ic)) < 0) {
		event_record_ref(ic->events, "v1", "Node", NULL, name, name, "Normal", "CIDRNotAvailable",
				 "Node %s status is now: CIDRNotAvailable", name);
		log_warn("controller=nodeipam node=%s no podCIDR left in --cluster-cidr; the node waits for one", name);
		return -1;
	} else {
		occupy(ic, name, (size_t)idx);
	}
	subnet_string(ic, (size_t)idx, buf, sizeof(buf));
	log_info("controller=nodeipam node=%s podCIDR=%s", name, buf);
	patch = json_pack("{s:{s:s, s:[s]}}", "spec", "podCIDR", buf, "podCIDRs", buf);
	path = kind_path(&kind_node, NULL, name, NULL);
	w = xcalloc(1, sizeof(*w));
	w->ic = ic;
	w->node = xstrdup(name);
	sync_merge_patch(s, path, patch, on_cidr_written, w);
	json_decref(patch);
	free(path);
	return 0;
}

static void on_node_add(json_t *node, void *data)
{
	controller_enqueue_obj(&((struct ipam_controller *)data)->c, node);
}

static void on_node_update(json_t *old_node, json_t *node, void *data)
{
	if (!obj_str(node, "spec.podCIDR") ||
	    !json_equal(obj_get(old_node, "spec.podCIDR"), obj_get(node, "spec.podCIDR")))
		controller_enqueue_obj(&((struct ipam_controller *)data)->c, node);
}

static void on_node_delete(json_t *node, void *data)
{
	controller_enqueue_obj(&((struct ipam_controller *)data)->c, node);
}

static int ipam_init(struct controller_context *ctx, void **state)
{
	const struct controller_options *o = ctx->opts;
	struct ipam_controller *ic;
	struct informer_handlers h;
	uint32_t base;
	int prefix;

	if (!o->allocate_node_cidrs) {
		log_info("node-ipam-controller is off: --allocate-node-cidrs=false");
		*state = NULL;
		return 0;
	}
	if (parse_cidr(o->cluster_cidr, &base, &prefix) < 0)
		return error("invalid --cluster-cidr '%s': use an IPv4 CIDR such as 10.244.0.0/16", o->cluster_cidr);
	if (o->node_cidr_mask_size < prefix || o->node_cidr_mask_size > 32)
		return error("--node-cidr-mask-size %d does not fit --cluster-cidr '%s': use a size between %d and 32",
			     o->node_cidr_mask_size, o->cluster_cidr, prefix);
	if (o->node_cidr_mask_size - prefix > MAX_SUBNET_BITS)
		return error("--node-cidr-mask-size %d is more than %d bits longer than --cluster-cidr '%s': use a "
			     "bigger mask size or a smaller cluster CIDR", o->node_cidr_mask_size, MAX_SUBNET_BITS,
			     o->cluster_cidr);
	ic = xcalloc(1, sizeof(*ic));
	ic->prefix = prefix;
	ic->mask = o->node_cidr_mask_size;
	ic->base = base & prefix_mask(prefix);
	ic->nsubnets = (size_t)1 << (ic->mask - ic->prefix);
	ic->used = xcalloc(ic->nsubnets / 8 + 1, 1);
	ic->assigned = keymap_new();
	controller_init(&ic->c, ctx, "nodeipam", 5, ipam_sync, ic);
	ic->nodes = controller_lister(ctx, &kind_node);
	ic->events = controller_recorder(ctx, COMPONENT);
	h = (struct informer_handlers){ on_node_add, on_node_update, on_node_delete, ic };
	lister_add_handlers(ic->nodes, &h);
	*state = ic;
	return 0;
}

static void ipam_start(void *state)
{
	struct ipam_controller *ic = state;
	json_t *all = lister_list(ic->nodes, NULL), *n;
	size_t i;
	long idx;

	/* Take what existing nodes already have before handing anything out. */
	json_array_foreach(all, i, n)
		if ((idx = subnet_index(ic, obj_str(n, "spec.podCIDR"))) >= 0)
			occupy(ic, obj_name(n), (size_t)idx);
	json_decref(all);
	controller_run(&ic->c);
}

static void ipam_free(void *state)
{
	struct ipam_controller *ic = state;

	keymap_free(ic->assigned, NULL);
	free(ic->used);
	free(ic);
}

static void ipam_stop(void *state, void (*done)(void *), void *arg)
{
	struct ipam_controller *ic = state;

	controller_stop_and_free(&ic->c, ipam_free, ic, done, arg);
}

static struct controller *ipam_controller_of(void *state)
{
	return &((struct ipam_controller *)state)->c;
}

const struct controller_def node_ipam_controller_def = {
	.name = "node-ipam-controller",
	.alias = "nodeipam",
	.init = ipam_init,
	.start = ipam_start,
	.stop = ipam_stop,
	.controller = ipam_controller_of,
};
