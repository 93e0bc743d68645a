/*
 * The controller manager component: `minik8s controller-manager` alone, or
 * a thread of `minik8s server`. It reads the kubeconfig, makes one REST
 * client, one informer factory (one informer per resource, shared by every
 * controller) and one write client, starts the controllers --controllers
 * selects once every cache has synced, and on stop closes them in order:
 * controllers (queues, timers), the write client (failing what still
 * waits), the informers, then the REST client.
 */
#include "commands.h"
#include "controller/controller.h"
#include "client/kubeconfig.h"
#include "core/component.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Requests the controllers may have running at once. */
#define MAX_WRITES_IN_FLIGHT 64

const struct controller_def *const controller_defs[] = {
	&namespace_controller_def,
	&garbage_collector_controller_def,
	&node_ipam_controller_def,
	&node_lifecycle_controller_def,
	&taint_eviction_controller_def,
	&podgc_controller_def,
	&replicaset_controller_def,
	&deployment_controller_def,
	&endpoints_controller_def,
	&servicelb_controller_def,
	NULL,
};

int controller_select(char *const *items, int n, bool *enabled)
{
	static char *const star[] = { "*" };
	bool any_star = false;

	if (n == 0) {
		items = star;
		n = 1;
	}
	for (int i = 0; i < n; i++) {
		const char *it = items[i];
		const char *name = it[0] == '-' ? it + 1 : it;
		bool known = !strcmp(it, "*");
		for (size_t d = 0; controller_defs[d] && !known; d++)
			known = !strcmp(name, controller_defs[d]->name) ||
				(controller_defs[d]->alias && !strcmp(name, controller_defs[d]->alias));
		if (!known)
			return error("unknown controller '%s' in --controllers: see `minik8s controller-manager --help` "
				     "for the names", it);
		if (!strcmp(it, "*"))
			any_star = true;
	}
	/* As kube-controller-manager: the first item naming a controller (or
	 * "-" it) decides; otherwise "*" turns on those on by default. */
	for (size_t d = 0; controller_defs[d]; d++) {
		const struct controller_def *def = controller_defs[d];
		bool decided = false;
		for (int i = 0; i < n && !decided; i++) {
			const char *it = items[i];
			bool neg = it[0] == '-';
			const char *name = neg ? it + 1 : it;
			if (!strcmp(name, def->name) || (def->alias && !strcmp(name, def->alias))) {
				enabled[d] = !neg;
				decided = true;
			}
		}
		if (!decided)
			enabled[d] = any_star && !def->disabled_by_default;
	}
	return 0;
}

/* ---- flags ------------------------------------------------------------------ */

static struct flag_list controllers_flag;
static int64_t node_monitor_grace_ms = 50 * 1000;
static int64_t node_monitor_period_ms = 5 * 1000;
static int64_t node_startup_grace_ms = 60 * 1000;
static char *node_eviction_rate;
static char *secondary_node_eviction_rate;
static char *unhealthy_zone_threshold;
static int large_cluster_size_threshold = 50;
static bool allocate_node_cidrs = true;
static char *cluster_cidr;
static int node_cidr_mask_size = 24;
static int64_t terminated_pod_gc_threshold = 12500;
static int concurrent_deployment_syncs = 5, concurrent_replicaset_syncs = 5, concurrent_endpoint_syncs = 5,
	   concurrent_gc_syncs = 20, concurrent_namespace_syncs = 10;

static const struct flag manager_flags[] = {
	{ "controllers", FLAG_LIST, &controllers_flag,
	  "controllers to run: '*' (every one on by default), 'name' turns one on, '-name' off (default '*'); "
	  "names: deployment-controller, replicaset-controller, endpoints-controller, node-lifecycle-controller, "
	  "taint-eviction-controller, node-ipam-controller, garbage-collector-controller, namespace-controller, "
	  "pod-garbage-collector-controller" },
	{ "node-monitor-grace-period", FLAG_DURATION, &node_monitor_grace_ms,
	  "how long a node may go without renewing its Lease before it is marked Unknown (default 50s)" },
	{ "node-monitor-period", FLAG_DURATION, &node_monitor_period_ms,
	  "how often the node lifecycle controller checks every node (default 5s)" },
	{ "node-startup-grace-period", FLAG_DURATION, &node_startup_grace_ms,
	  "how long a new node may take to post its first status (default 1m)" },
	{ "node-eviction-rate", FLAG_STRING, &node_eviction_rate,
	  "nodes per second whose pods may be evicted (NoExecute taint) in a healthy zone (default 0.1)" },
	{ "secondary-node-eviction-rate", FLAG_STRING, &secondary_node_eviction_rate,
	  "the same when a large zone is unhealthy (default 0.01)" },
	{ "unhealthy-zone-threshold", FLAG_STRING, &unhealthy_zone_threshold,
	  "fraction of not-ready nodes (at least 3) that makes a zone unhealthy (default 0.55)" },
	{ "large-cluster-size-threshold", FLAG_INT, &large_cluster_size_threshold,
	  "zones with more nodes than this use the secondary eviction rate when unhealthy (default 50)" },
	{ "allocate-node-cidrs", FLAG_BOOL, &allocate_node_cidrs,
	  "give every node a podCIDR from --cluster-cidr (default true; --allocate-node-cidrs=false turns it off)" },
	{ "cluster-cidr", FLAG_STRING, &cluster_cidr, "pod address range that node podCIDRs come from (default 10.244.0.0/16)" },
	{ "node-cidr-mask-size", FLAG_INT, &node_cidr_mask_size, "prefix length of each node's podCIDR (default 24)" },
	{ "terminated-pod-gc-threshold", FLAG_INT64, &terminated_pod_gc_threshold,
	  "finished pods kept before the oldest are deleted (default 12500)" },
	{ "concurrent-deployment-syncs", FLAG_INT, &concurrent_deployment_syncs, "Deployments synced at once (default 5)" },
	{ "concurrent-replicaset-syncs", FLAG_INT, &concurrent_replicaset_syncs, "ReplicaSets synced at once (default 5)" },
	{ "concurrent-endpoint-syncs", FLAG_INT, &concurrent_endpoint_syncs, "Services synced at once (default 5)" },
	{ "concurrent-gc-syncs", FLAG_INT, &concurrent_gc_syncs, "garbage collector workers (default 20)" },
	{ "concurrent-namespace-syncs", FLAG_INT, &concurrent_namespace_syncs, "Namespaces deleted at once (default 10)" },
	{ NULL, 0, NULL, NULL },
};

static int parse_rate(const char *flag, const char *s, double def, double *out)
{
	char *end;

	if (!s) {
		*out = def;
		return 0;
	}
	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || *out < 0)
		return error("invalid --%s '%s': use a non-negative number such as %g", flag, s, def);
	return 0;
}

static int options_from_flags(struct controller_options *o)
{
	controller_options_defaults(o);
	o->node_monitor_grace_ms = node_monitor_grace_ms;
	o->node_monitor_period_ms = node_monitor_period_ms > 0 ? node_monitor_period_ms : 1000;
	o->node_startup_grace_ms = node_startup_grace_ms;
	if (parse_rate("node-eviction-rate", node_eviction_rate, 0.1, &o->node_eviction_rate) < 0 ||
	    parse_rate("secondary-node-eviction-rate", secondary_node_eviction_rate, 0.01,
		       &o->secondary_node_eviction_rate) < 0 ||
	    parse_rate("unhealthy-zone-threshold", unhealthy_zone_threshold, 0.55, &o->unhealthy_zone_threshold) < 0)
		return -1;
	o->large_cluster_size_threshold = large_cluster_size_threshold;
	o->allocate_node_cidrs = allocate_node_cidrs;
	if (cluster_cidr)
		o->cluster_cidr = cluster_cidr;
	o->node_cidr_mask_size = node_cidr_mask_size;
	o->terminated_pod_gc_threshold = terminated_pod_gc_threshold;
	o->concurrent_deployment_syncs = concurrent_deployment_syncs;
	o->concurrent_replicaset_syncs = concurrent_replicaset_syncs;
	o->concurrent_endpoint_syncs = concurrent_endpoint_syncs;
	o->concurrent_gc_syncs = concurrent_gc_syncs;
	o->concurrent_namespace_syncs = concurrent_namespace_syncs;
	return 0;
}

/* ---- the component ------------------------------------------------------------ */

struct running_controller {
	const struct controller_def *def;
	void *state;
};

struct manager {
	uv_loop_t *loop;
	struct rest_client *rest;
	struct controller_client *client;
	struct informer_factory *factory;
	struct controller_options opts;
	struct controller_context ctx;
	struct running_controller *ctrls;
	size_t nctrls;
	bool started, stopping;
	size_t closing_left;
	void (*done)(void *arg);
	void *done_arg;
};

static void on_caches_synced(void *data)
{
	struct manager *m = data;

	if (m->stopping || m->started)
		return;
	m->started = true;
	log_info("caches synced: starting controllers=%zu", m->nctrls);
	for (size_t i = 0; i < m->nctrls; i++)
		m->ctrls[i].def->start(m->ctrls[i].state);
}

static void on_rest_closed(void *arg)
{
	struct manager *m = arg;
	void (*done)(void *) = m->done;
	void *done_arg = m->done_arg;

	free(m->ctrls);
	free(m);
	if (done)
		done(done_arg);  /* NULL when start() failed half way */
}

static void on_part_closed(void *arg)
{
	struct manager *m = arg;

	if (--m->closing_left > 0)
		return;
	/* Controllers, write client and informers are gone: free what they used. */
	controller_context_release(&m->ctx);
	rest_client_close(m->rest, on_rest_closed, m);
}

static void manager_stop(void *state, void (*done)(void *arg), void *arg)
{
	struct manager *m = state;

	m->stopping = true;
	m->done = done;
	m->done_arg = arg;
	/* One count per controller, the write client and the informer factory. */
	m->closing_left = m->nctrls + 2;
	log_info("controller manager stopping");
	for (size_t i = 0; i < m->nctrls; i++)
		m->ctrls[i].def->stop(m->ctrls[i].state, on_part_closed, m);
	/* Ends every sync still waiting on a write (their queues are closing). */
	rest_controller_client_close(m->client, on_part_closed, m);
	informer_factory_close(m->factory, on_part_closed, m);
}

static int manager_start(uv_loop_t *loop, const char *kubeconfig, void **state)
{
	struct manager *m;
	struct kubeconfig *kc = NULL;
	struct strbuf err, names;
	bool enabled[ARRAY_SIZE(controller_defs)] = { false };

	if (controller_select(controllers_flag.items, controllers_flag.n, enabled) < 0)
		return -1;
	strbuf_init(&err, 0);
	if (kubeconfig_load(kubeconfig, NULL, &kc, &err) < 0) {
		error("%s", err.buf);
		strbuf_release(&err);
		return -1;
	}
	strbuf_release(&err);
	m = xcalloc(1, sizeof(*m));
	m->loop = loop;
	if (options_from_flags(&m->opts) < 0) {
		kubeconfig_free(kc);
		free(m);
		return -1;
	}
	m->rest = rest_client_new(loop, kc);
	kubeconfig_free(kc);
	if (!m->rest) {
		free(m);
		return -1;
	}
	m->client = rest_controller_client_new(m->rest, MAX_WRITES_IN_FLIGHT);
	m->factory = informer_factory_new(m->rest);
	controller_context_init(&m->ctx, loop, m->factory, m->client, &m->opts);

	strbuf_init(&names, 128);
	for (size_t i = 0; controller_defs[i]; i++) {
		void *cs = NULL;
		if (!enabled[i])
			continue;
		if (controller_defs[i]->init(&m->ctx, &cs) < 0) {
			/* As kube-controller-manager: a controller that cannot start stops
			 * the whole manager (a bad flag should not go unnoticed). */
			error("cannot start the %s: see the message above", controller_defs[i]->name);
			strbuf_release(&names);
			manager_stop(m, NULL, NULL);
			return -1;
		}
		if (!cs)
			continue;  /* turned itself off (node-ipam without --allocate-node-cidrs) */
		m->ctrls = xrealloc(m->ctrls, (m->nctrls + 1) * sizeof(*m->ctrls));
		m->ctrls[m->nctrls].def = controller_defs[i];
		m->ctrls[m->nctrls].state = cs;
		m->nctrls++;
		strbuf_addf(&names, "%s%s", names.len ? "," : "", controller_defs[i]->name);
	}
	log_info("controller manager starting server=%s controllers=%s", rest_client_server(m->rest),
		 names.len ? names.buf : "(none)");
	strbuf_release(&names);
	informer_factory_start(m->factory);
	informer_factory_on_synced(m->factory, on_caches_synced, m);
	*state = m;
	return 0;
}

const struct component controller_manager_component = {
	.name = "controller-manager",
	.usage = "usage: minik8s controller-manager [--kubeconfig FILE] [flags]\n\n"
		 "Runs the controllers that turn Deployments into ReplicaSets and pods, keep\n"
		 "Services' Endpoints current, watch node health, assign pod CIDRs, collect\n"
		 "garbage and empty deleted namespaces. See docs/controllers.md.\n",
	.flags = manager_flags,
	.start = manager_start,
	.stop = manager_stop,
};
