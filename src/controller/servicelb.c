/*
 * The service load-balancer controller: what a cloud's controller manager
 * does for `type: LoadBalancer`, the way k3s' ServiceLB does it on bare
 * machines. Every node's proxy already listens on the Service's port at the
 * node's addresses (docs/networking.md), so the "load balancer" is the set
 * of Ready nodes: this controller writes their InternalIPs, sorted, into
 * status.loadBalancer.ingress, and takes them away from a Service that
 * stopped being a LoadBalancer. It runs in the control plane because a
 * Service's status is not a node's to write (the node authorizer refuses).
 *
 *   services, nodes --> key "ns/name" (a node change: every LB Service)
 *       --> sync: ingress wanted != ingress now? PATCH .../services/NAME/status
 */
#include "controller/controller.h"
#include "apiserver/kinds.h"
#include "log.h"
#include "object.h"

#include <stdlib.h>
#include <string.h>

struct servicelb_controller {
	struct controller c;
	struct lister *services, *nodes;
};

static bool node_ready(const json_t *node)
{
	const json_t *cond = condition_get(obj_get(node, "status"), "Ready");

	return cond && !strcmp(obj_str(cond, "status") ? obj_str(cond, "status") : "", "True") &&
	       !json_is_true(obj_get(node, "spec.unschedulable"));
}

static int cmp_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* [{"ip": ...}] of every Ready node's InternalIP, sorted, so that every
 * sync computes the same list and a no-op never becomes a write. */
static json_t *wanted_ingress(struct servicelb_controller *sc)
{
	json_t *nodes = lister_list(sc->nodes, NULL), *n, *out = json_array();
	const char **ips = xcalloc(json_array_size(nodes) + 1, sizeof(*ips));
	size_t i, k = 0;

	json_array_foreach(nodes, i, n) {
		const json_t *a;
		size_t j;
		if (!node_ready(n))
			continue;
		json_array_foreach(obj_get(n, "status.addresses"), j, a)
			if (obj_str(a, "type") && !strcmp(obj_str(a, "type"), "InternalIP") && obj_str(a, "address"))
				ips[k++] = obj_str(a, "address");
	}
	qsort(ips, k, sizeof(*ips), cmp_strings);
	for (i = 0; i < k; i++)
		if (i == 0 || strcmp(ips[i], ips[i - 1]))
			json_array_append_new(out, json_pack("{s:s}", "ip", ips[i]));
	free(ips);
	json_decref(nodes);
	return out;
}

static int servicelb_sync(struct controller *c, const char *key, struct sync *s)
{
	struct servicelb_controller *sc = c->priv;
	json_t *svc = lister_get(sc->services, key), *want, *patch;
	const json_t *have;
	const char *type;
	char *path;

	if (!svc)
		return 0;
	type = obj_str(svc, "spec.type");
	have = obj_get(svc, "status.loadBalancer.ingress");
	if (type && !strcmp(type, "LoadBalancer"))
		want = wanted_ingress(sc);
	else if (json_array_size(have) > 0)
		want = json_array(); /* no longer a LoadBalancer */
	else
		return 0;
	if (json_equal_or_empty(have, want)) {
		json_decref(want);
		return 0;
	}
	log_info("controller=servicelb service=%s ingress=%zu address(es)", key, json_array_size(want));
	patch = json_pack("{s:{s:{s:o}}}", "status", "loadBalancer", "ingress", want);
	path = kind_path(&kind_service, obj_namespace(svc), obj_name(svc), "status");
	sync_merge_patch(s, path, patch, NULL, NULL);
	free(path);
	json_decref(patch);
	return 0;
}

/* Only LoadBalancer Services, and those that still carry an ingress. */
static void on_service(json_t *obj, void *data)
{
	const char *type = obj_str(obj, "spec.type");

	if ((type && !strcmp(type, "LoadBalancer")) || json_array_size(obj_get(obj, "status.loadBalancer.ingress")))
		controller_enqueue_obj(&((struct servicelb_controller *)data)->c, obj);
}

static void on_service_update(json_t *old_obj, json_t *new_obj, void *data)
{
	(void)old_obj;
	on_service(new_obj, data);
}

/* A node came, went, or changed readiness or address: every LoadBalancer
 * Service's ingress may change. */
static void nodes_changed(struct servicelb_controller *sc)
{
	json_t *svcs = lister_list(sc->services, NULL), *svc;
	size_t i;

	json_array_foreach(svcs, i, svc)
		if (obj_str(svc, "spec.type") && !strcmp(obj_str(svc, "spec.type"), "LoadBalancer"))
			controller_enqueue_obj(&sc->c, svc);
	json_decref(svcs);
}

static void on_node(json_t *obj, void *data)
{
	(void)obj;
	nodes_changed(data);
}

static void on_node_update(json_t *old_obj, json_t *new_obj, void *data)
{
	if (node_ready(old_obj) == node_ready(new_obj) &&
	    json_equal(obj_get(old_obj, "status.addresses"), obj_get(new_obj, "status.addresses")))
		return; /* a heartbeat */
	nodes_changed(data);
}

static int servicelb_init(struct controller_context *ctx, void **state)
{
	struct servicelb_controller *sc = xcalloc(1, sizeof(*sc));
	struct informer_handlers sh = { on_service, on_service_update, NULL, sc };
	struct informer_handlers nh = { on_node, on_node_update, on_node, sc };

	controller_init(&sc->c, ctx, "servicelb", 2, servicelb_sync, sc);
	sc->services = controller_lister(ctx, &kind_service);
	sc->nodes = controller_lister(ctx, &kind_node);
	lister_add_handlers(sc->services, &sh);
	lister_add_handlers(sc->nodes, &nh);
	*state = sc;
	return 0;
}

static void servicelb_start(void *state)
{
	controller_run(&((struct servicelb_controller *)state)->c);
}

static void servicelb_stop(void *state, void (*done)(void *), void *arg)
{
	struct servicelb_controller *sc = state;

	controller_stop_and_free(&sc->c, free, sc, done, arg);
}

static struct controller *servicelb_controller_of(void *state)
{
	return &((struct servicelb_controller *)state)->c;
}

const struct controller_def servicelb_controller_def = {
	.name = "service-lb-controller",
	.alias = "servicelb",
	.init = servicelb_init,
	.start = servicelb_start,
	.stop = servicelb_stop,
	.controller = servicelb_controller_of,
};
