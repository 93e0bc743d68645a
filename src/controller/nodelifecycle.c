/*
 * Node health, as Kubernetes 1.32's node-lifecycle-controller and
 * taint-eviction-controller (two entries of the registry, one file).
 *
 * node-lifecycle: every --node-monitor-period a pass looks at each node's
 * signs of life (its Lease in kube-node-lease being renewed, or its Ready
 * condition's heartbeat). A node silent for --node-monitor-grace-period
 * (--node-startup-grace-period for one that never reported) gets its
 * conditions set to Unknown ("Kubelet stopped posting node status."), the
 * node.kubernetes.io/unreachable taint (not-ready when the kubelet reports
 * Ready=False), and its pods' Ready condition set False so Endpoints drop
 * them. NoExecute taints are added at --node-eviction-rate per zone, and not
 * at all when every node of every zone is down (then the fault is more
 * likely ours than theirs: "master disruption mode").
 *
 * taint-eviction: a pod on a node with NoExecute taints it does not
 * tolerate is deleted at once; one it tolerates for tolerationSeconds is
 * deleted when that runs out (graceful delete, after a DisruptionTarget
 * condition), unless the taint goes first.
 */
#include "controller/controller.h"
#include "apiserver/kinds.h"
#include "log.h"
#include "object.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIFECYCLE_COMPONENT "node-controller"
#define EVICTION_COMPONENT "taint-eviction-controller"
#define MONITOR_KEY "@monitor"
#define LEASE_NS "kube-node-lease"
#define TAINT_NOT_READY "node.kubernetes.io/not-ready"
#define TAINT_UNREACHABLE "node.kubernetes.io/unreachable"
#define ZONE_LABEL "topology.kubernetes.io/zone"
#define REGION_LABEL "topology.kubernetes.io/region"

enum noexec { NOEXEC_NONE, NOEXEC_NOT_READY, NOEXEC_UNREACHABLE };

struct node_health {
	int64_t probe_ms;        /* when we last saw a sign of life */
	char *heartbeat;         /* Ready's lastHeartbeatTime as last seen */
	char *renew;             /* the Lease's spec.renewTime as last seen */
	bool has_ready;          /* the node ever posted a Ready condition */
	bool stale;              /* silent for longer than the grace period */
	const char *effective;   /* "True", "False", "Unknown": Ready as we judge it */
	const char *last_effective; /* what the previous pass judged (for events) */
	enum noexec wanted;      /* NoExecute taint the rate limiter allowed */
};

struct zone_limiter {
	double tokens;
	int64_t last_ms;
};

struct nl_controller {
	struct controller c;
	struct lister *nodes, *leases, *pods;
	struct keymap *health;   /* node name -> node_health */
	struct keymap *zones;    /* zone -> zone_limiter */
	struct event_recorder *events;
	uv_timer_t timer;
	bool disrupted;          /* every zone fully down: no evictions */
	int closing;
	void (*done)(void *);
	void *done_arg;
};

static const char *const managed_noschedule[] = {
	TAINT_NOT_READY, TAINT_UNREACHABLE, "node.kubernetes.io/memory-pressure", "node.kubernetes.io/disk-pressure",
	"node.kubernetes.io/pid-pressure", "node.kubernetes.io/network-unavailable", "node.kubernetes.io/unschedulable",
};

static bool str_is(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static void free_health(void *p)
{
	struct node_health *h = p;

	if (!h)
		return;
	free(h->heartbeat);
	free(h->renew);
	free(h);
}

static int64_t parse_ms(const char *ts)
{
	time_t t;

	if (!ts || time_parse_rfc3339(ts, &t) < 0)
		return 0;
	return (int64_t)t * 1000;
}

/* Brings a node's health up to date with what the caches show now. */
static struct node_health *refresh_health(struct nl_controller *nc, const json_t *node, int64_t now)
{
	const char *name = obj_name(node);
	struct node_health *h = keymap_get(nc->health, name);
	json_t *ready = condition_get(node, "Ready"), *lease;
	const char *hb = obj_str(ready, "lastHeartbeatTime"), *renew;
	int64_t grace;

	if (!h) {
		h = xcalloc(1, sizeof(*h));
		/* A node seen for the first time gets a full grace period from now
		 * (or from its creation if it never reported). */
		h->probe_ms = ready ? now : parse_ms(obj_str(node, "metadata.creationTimestamp"));
		if (!h->probe_ms)
			h->probe_ms = now;
		h->heartbeat = hb ? xstrdup(hb) : NULL;
		keymap_put(nc->health, name, h);
		event_record_ref(nc->events, "v1", "Node", NULL, name, name, "Normal", "RegisteredNode",
				 "Node %s event: Registered Node %s in Controller", name, name);
	}
	if (hb && (!h->heartbeat || strcmp(hb, h->heartbeat))) {
		free(h->heartbeat);
		h->heartbeat = xstrdup(hb);
		h->probe_ms = now;
	}
	lease = lister_get_ns(nc->leases, LEASE_NS, name);
	renew = obj_str(lease, "spec.renewTime");
	if (renew && (!h->renew || strcmp(renew, h->renew))) {
		free(h->renew);
		h->renew = xstrdup(renew);
		h->probe_ms = now;
	}
	h->has_ready = ready != NULL;
	grace = ready ? nc->c.ctx->opts->node_monitor_grace_ms : nc->c.ctx->opts->node_startup_grace_ms;
	h->stale = now > h->probe_ms + grace;
	if (h->stale || !ready)
		h->effective = "Unknown";
	else if (str_is(obj_str(ready, "status"), "True"))
		h->effective = "True";
	else if (str_is(obj_str(ready, "status"), "False"))
		h->effective = "False";
	else
		h->effective = "Unknown";
	return h;
}

static enum noexec noexec_for(const char *effective)
{
	if (str_is(effective, "False"))
		return NOEXEC_NOT_READY;
	if (str_is(effective, "Unknown"))
		return NOEXEC_UNREACHABLE;
	return NOEXEC_NONE;
}

static enum noexec current_noexec(const json_t *node)
{
	json_t *t;
	size_t i;

	json_array_foreach(obj_get(node, "spec.taints"), i, t) {
		if (!str_is(obj_str(t, "effect"), "NoExecute"))
			continue;
		if (str_is(obj_str(t, "key"), TAINT_UNREACHABLE))
			return NOEXEC_UNREACHABLE;
		if (str_is(obj_str(t, "key"), TAINT_NOT_READY))
			return NOEXEC_NOT_READY;
	}
	return NOEXEC_NONE;
}

static char *zone_of(const json_t *node)
{
	const char *z = obj_label(node, ZONE_LABEL), *r = obj_label(node, REGION_LABEL);

	return xasprintf("%s:%s", r ? r : "", z ? z : "");
}

/* ---- taints wanted ---------------------------------------------------------------------- */

static bool is_managed(const json_t *t)
{
	const char *k = obj_str(t, "key"), *e = obj_str(t, "effect");

	if (str_is(e, "NoExecute"))
		return str_is(k, TAINT_NOT_READY) || str_is(k, TAINT_UNREACHABLE);
	if (!str_is(e, "NoSchedule"))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(managed_noschedule); i++)
		if (str_is(k, managed_noschedule[i]))
			return true;
	return false;
}

static void want_taint(json_t *out, const json_t *node, const char *key, const char *effect, const char *now)
{
	json_t *t;
	size_t i;

	/* Keep the existing one as is (its timeAdded counts for tolerations). */
	json_array_foreach(obj_get(node, "spec.taints"), i, t) {
		if (str_is(obj_str(t, "key"), key) && str_is(obj_str(t, "effect"), effect)) {
			json_array_append(out, t);
			return;
		}
	}
	t = json_pack("{s:s, s:s}", "key", key, "effect", effect);
	if (!strcmp(effect, "NoExecute"))
		json_object_set_new(t, "timeAdded", json_string(now));
	json_array_append_new(out, t);
}

static bool condition_true(const json_t *node, const char *type)
{
	json_t *c = condition_get(node, type);
	return c && str_is(obj_str(c, "status"), "True");
}

/* The node's taints as they should be. New reference. */
static json_t *wanted_taints(struct nl_controller *nc, const json_t *node, struct node_health *h, const char *now)
{
	json_t *out = json_array(), *t;
	enum noexec cur = current_noexec(node), want = noexec_for(h->effective);
	size_t i;

	json_array_foreach(obj_get(node, "spec.taints"), i, t)
		if (!is_managed(t))
			json_array_append(out, t);
	/* NoSchedule: follow the conditions at once (doNoScheduleTaintingPass). */
	if (str_is(h->effective, "False"))
		want_taint(out, node, TAINT_NOT_READY, "NoSchedule", now);
	else if (str_is(h->effective, "Unknown"))
		want_taint(out, node, TAINT_UNREACHABLE, "NoSchedule", now);
	if (!h->stale) {
		if (condition_true(node, "MemoryPressure"))
			want_taint(out, node, "node.kubernetes.io/memory-pressure", "NoSchedule", now);
		if (condition_true(node, "DiskPressure"))
			want_taint(out, node, "node.kubernetes.io/disk-pressure", "NoSchedule", now);
		if (condition_true(node, "PIDPressure"))
			want_taint(out, node, "node.kubernetes.io/pid-pressure", "NoSchedule", now);
		if (condition_true(node, "NetworkUnavailable"))
			want_taint(out, node, "node.kubernetes.io/network-unavailable", "NoSchedule", now);
	}
	if (obj_bool(node, "spec.unschedulable", false))
		want_taint(out, node, "node.kubernetes.io/unschedulable", "NoSchedule", now);
	/* NoExecute: removed at once, added only when the zone's rate allows. */
	if (want != NOEXEC_NONE && !nc->disrupted) {
		if (cur == want || h->wanted == want)
			want_taint(out, node, want == NOEXEC_UNREACHABLE ? TAINT_UNREACHABLE : TAINT_NOT_READY, "NoExecute", now);
		else if (cur != NOEXEC_NONE)
			want_taint(out, node, cur == NOEXEC_UNREACHABLE ? TAINT_UNREACHABLE : TAINT_NOT_READY, "NoExecute", now);
	}
	return out;
}

static bool same_taints(const json_t *a, const json_t *b)
{
	size_t na = json_array_size(a), nb = json_array_size(b);
	json_t *t, *u;
	size_t i, j;

	if (na != nb)
		return false;
	json_array_foreach(a, i, t) {
		bool found = false;
		json_array_foreach(b, j, u)
			found |= json_equal(t, u);
		if (!found)
			return false;
	}
	return true;
}

/* Conditions after a node went silent. New reference, or NULL if nothing changes. */
static json_t *unknown_conditions(const json_t *node, const char *now)
{
	static const char *const types[] = { "Ready", "MemoryPressure", "DiskPressure", "PIDPressure" };
	json_t *conds = json_deep_copy(obj_get(node, "status.conditions")), *c;
	bool changed = false;

	if (!json_is_array(conds)) {
		json_decref(conds);
		conds = json_array();
	}
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		json_t *found = NULL;
		size_t j;
		json_array_foreach(conds, j, c)
			if (str_is(obj_str(c, "type"), types[i]))
				found = c;
		if (!found) {
			json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", types[i], "status",
							       "Unknown", "lastHeartbeatTime",
							       obj_str(node, "metadata.creationTimestamp") ? obj_str(node, "metadata.creationTimestamp") : now,
							       "lastTransitionTime", now, "reason", "NodeStatusNeverUpdated",
							       "message", "Kubelet never posted node status."));
			changed = true;
		} else if (!str_is(obj_str(found, "status"), "Unknown")) {
			json_object_set_new(found, "status", json_string("Unknown"));
			json_object_set_new(found, "reason", json_string("NodeStatusUnknown"));
			json_object_set_new(found, "message", json_string("Kubelet stopped posting node status."));
			json_object_set_new(found, "lastTransitionTime", json_string(now));
			changed = true;
		}
	}
	if (!changed) {
		json_decref(conds);
		return NULL;
	}
	return conds;
}

/* ---- the monitor pass ---------------------------------------------------------------------- */

struct zone_count {
	int ready, not_ready;
};

static double zone_rate(struct nl_controller *nc, const struct zone_count *z)
{
	const struct controller_options *o = nc->c.ctx->opts;
	int total = z->ready + z->not_ready;

	if (z->ready == 0 && z->not_ready > 0)
		return o->node_eviction_rate;   /* FullDisruption (some other zone is fine) */
	if (z->not_ready > 2 && (double)z->not_ready / (double)total >= o->unhealthy_zone_threshold)
		return total > o->large_cluster_size_threshold ? o->secondary_node_eviction_rate : 0;  /* PartialDisruption */
	return o->node_eviction_rate;
}

static bool zone_take(struct nl_controller *nc, const char *zone, double rate, int64_t now)
{
	struct zone_limiter *zl = keymap_get(nc->zones, zone);

	if (!zl) {
		zl = xcalloc(1, sizeof(*zl));
		zl->tokens = 1.0;
		zl->last_ms = now;
		keymap_put(nc->zones, zone, zl);
	}
	zl->tokens += (double)(now - zl->last_ms) / 1000.0 * rate;
	if (zl->tokens > 1.0)
		zl->tokens = 1.0;
	zl->last_ms = now;
	if (rate <= 0 || zl->tokens < 1.0)
		return false;
	zl->tokens -= 1.0;
	return true;
}

static bool pods_need_marking(struct nl_controller *nc, const char *name)
{
	json_t *pods = lister_by_index(nc->pods, "node", name), *p;
	bool need = false;
	size_t i;

	json_array_foreach(pods, i, p)
		need |= pod_is_ready(p) && !pod_is_terminal(p);
	json_decref(pods);
	return need;
}

static void monitor(struct nl_controller *nc)
{
	int64_t now = nc->c.ctx->clock();
	json_t *nodes = lister_list(nc->nodes, NULL), *node, *zones = json_object(), *z;
	struct zone_count *counts;
	size_t i, nz, n = json_array_size(nodes);
	const char *zk;
	bool all_full = n > 0;
	char ts[TIME_RFC3339_LEN], *zname;

	time_format_rfc3339((time_t)(now / 1000), ts);
	/* Health of every node, and ready / not ready per zone. */
	counts = xcalloc(n + 1, sizeof(*counts));
	nz = 0;
	json_array_foreach(nodes, i, node) {
		struct node_health *h = refresh_health(nc, node, now);
		zname = zone_of(node);
		z = json_object_get(zones, zname);
		if (!z) {
			z = json_integer((json_int_t)nz++);
			json_object_set_new(zones, zname, z);
		}
		if (str_is(h->effective, "True"))
			counts[json_integer_value(z)].ready++;
		else
			counts[json_integer_value(z)].not_ready++;
		free(zname);
	}
	json_object_foreach(zones, zk, z) {
		struct zone_count *c = &counts[json_integer_value(z)];
		if (!(c->ready == 0 && c->not_ready > 0))
			all_full = false;
	}
	if (all_full != nc->disrupted) {
		if (all_full)
			log_warn("controller=nodelifecycle every node is not ready: entering master disruption mode "
				 "(no evictions until some node is back)");
		else
			log_info("controller=nodelifecycle some nodes are ready again: leaving master disruption mode");
		nc->disrupted = all_full;
	}

	json_array_foreach(nodes, i, node) {
		const char *name = obj_name(node);
		struct node_health *h = keymap_get(nc->health, name);
		enum noexec want = noexec_for(h->effective), cur = current_noexec(node);
		bool enqueue = false;
		json_t *taints;

		zname = zone_of(node);
		if (want == NOEXEC_NONE || nc->disrupted) {
			h->wanted = NOEXEC_NONE;
		} else if (cur == want) {
			h->wanted = want;
		} else if (cur != NOEXEC_NONE) {
			h->wanted = want;   /* swapping not-ready <-> unreachable is not limited */
		} else if (h->wanted != want) {
			struct zone_count *c = &counts[json_integer_value(json_object_get(zones, zname))];
			if (zone_take(nc, zname, zone_rate(nc, c), now)) {
				h->wanted = want;
				log_info("controller=nodelifecycle node=%s tainting %s:NoExecute", name,
					 want == NOEXEC_UNREACHABLE ? TAINT_UNREACHABLE : TAINT_NOT_READY);
			}
		}
		free(zname);

		/* Events on transitions, as RecordNodeStatusChange. */
		if (h->last_effective && str_is(h->last_effective, "True") && !str_is(h->effective, "True")) {
			event_record_ref(nc->events, "v1", "Node", NULL, name, name, "Normal", "NodeNotReady",
					 "Node %s status is now: NodeNotReady", name);
			log_info("controller=nodelifecycle node=%s is not ready ready=%s", name, h->effective);
		}
		h->last_effective = h->effective;

		if (h->stale) {
			json_t *uc = unknown_conditions(node, ts);
			enqueue |= uc != NULL;
			json_decref(uc);
		}
		taints = wanted_taints(nc, node, h, ts);
		if (!same_taints(taints, obj_get(node, "spec.taints")))
			enqueue = true;
		json_decref(taints);
		if (!str_is(h->effective, "True") && pods_need_marking(nc, name))
			enqueue = true;
		if (enqueue)
			controller_enqueue(&nc->c, name);
	}
	free(counts);
	json_decref(zones);
	json_decref(nodes);
}

/* ---- node sync ----------------------------------------------------------------------------- */

static void mark_pods_not_ready(struct sync *s, struct nl_controller *nc, const char *name, const char *now)
{
	json_t *pods = lister_by_index(nc->pods, "node", name), *p;
	size_t i;

	json_array_foreach(pods, i, p) {
		json_t *patch;
		char *path;
		if (!pod_is_ready(p) || pod_is_terminal(p))
			continue;
		/* Kubernetes only flips the status (and so the transition time); a
		 * strategic merge patch leaves the other conditions as they are. */
		patch = json_pack("{s:{s:[{s:s, s:s, s:s}]}}", "status", "conditions", "type", "Ready", "status", "False",
				  "lastTransitionTime", now);
		path = kind_path(&kind_pod, obj_namespace(p), obj_name(p), "status");
		log_info("controller=nodelifecycle node=%s marking pod=%s/%s not ready", name, obj_namespace(p), obj_name(p));
		event_record(nc->events, p, "Warning", "NodeNotReady", "Node is not ready");
		sync_strategic_patch(s, path, patch, NULL, NULL);
		json_decref(patch);
		free(path);
	}
	json_decref(pods);
}

static int nl_sync(struct controller *c, const char *key, struct sync *s)
{
	struct nl_controller *nc = c->priv;
	json_t *node, *conds, *taints;
	struct node_health *h;
	char now[TIME_RFC3339_LEN];
	bool status_written = false;
	char *path;

	if (!strcmp(key, MONITOR_KEY)) {
		monitor(nc);
		return 0;
	}
	node = lister_get(nc->nodes, key);
	if (!node) {
		if ((h = keymap_del(nc->health, key))) {
			free_health(h);
			event_record_ref(nc->events, "v1", "Node", NULL, key, key, "Normal", "RemovingNode",
					 "Node %s event: Removing Node %s from Controller", key, key);
		}
		return 0;
	}
	if (!keymap_get(nc->health, key))
		return 0;  /* the next pass will see it */
	h = refresh_health(nc, node, c->ctx->clock());
	ctx_now_rfc3339(c->ctx, now);

	if (h->stale && (conds = unknown_conditions(node, now))) {
		json_t *copy = json_deep_copy(node);
		obj_set(copy, "status.conditions", conds);
		path = kind_path(&kind_node, NULL, key, "status");
		log_info("controller=nodelifecycle node=%s stopped posting status: conditions now Unknown", key);
		sync_update(s, path, copy, NULL, NULL);
		json_decref(copy);
		free(path);
		status_written = true;
	}
	/* Taints carry a resourceVersion precondition that a status write makes
	 * stale; the node's update event brings us back for them. */
	taints = status_written ? NULL : wanted_taints(nc, node, h, now);
	if (taints && !same_taints(taints, obj_get(node, "spec.taints"))) {
		json_t *patch = json_pack("{s:{s:O}, s:{s:s}}", "spec", "taints", taints, "metadata", "resourceVersion",
					  obj_str(node, "metadata.resourceVersion"));
		path = kind_path(&kind_node, NULL, key, NULL);
		sync_merge_patch(s, path, patch, NULL, NULL);
		json_decref(patch);
		free(path);
	}
	json_decref(taints);
	if (!str_is(h->effective, "True"))
		mark_pods_not_ready(s, nc, key, now);
	return 0;
}

/* ---- handlers ------------------------------------------------------------------------------ */

static void on_node_update(json_t *old_obj, json_t *node, void *data)
{
	struct nl_controller *nc = data;

	(void)old_obj;
	/* The kubelet reported: taints may have to go now, not at the next pass. */
	if (keymap_get(nc->health, obj_name(node)))
		controller_enqueue(&nc->c, obj_name(node));
}

static void on_node_delete(json_t *node, void *data)
{
	controller_enqueue(&((struct nl_controller *)data)->c, obj_name(node));
}

static void on_pod_change(json_t *pod, struct nl_controller *nc)
{
	const char *node = obj_str(pod, "spec.nodeName");
	struct node_health *h = node ? keymap_get(nc->health, node) : NULL;

	/* A pod that turns ready on a node we consider down. */
	if (h && !str_is(h->effective, "True") && pod_is_ready(pod))
		controller_enqueue(&nc->c, node);
}

static void on_pod_add(json_t *pod, void *data)
{
	on_pod_change(pod, data);
}

static void on_pod_update(json_t *old_pod, json_t *pod, void *data)
{
	(void)old_pod;
	on_pod_change(pod, data);
}

static void on_timer(uv_timer_t *t)
{
	struct nl_controller *nc = t->data;

	controller_enqueue(&nc->c, MONITOR_KEY);
}

static int nl_init(struct controller_context *ctx, void **state)
{
	struct nl_controller *nc = xcalloc(1, sizeof(*nc));
	struct informer_handlers nh = { NULL, on_node_update, on_node_delete, nc };
	struct informer_handlers ph = { on_pod_add, on_pod_update, NULL, nc };

	controller_init(&nc->c, ctx, "nodelifecycle", ctx->opts->concurrent_node_syncs, nl_sync, nc);
	nc->nodes = controller_lister(ctx, &kind_node);
	nc->leases = controller_lister(ctx, &kind_lease);
	nc->pods = controller_lister(ctx, &kind_pod);
	nc->health = keymap_new();
	nc->zones = keymap_new();
	nc->events = controller_recorder(ctx, LIFECYCLE_COMPONENT);
	lister_add_handlers(nc->nodes, &nh);
	lister_add_handlers(nc->pods, &ph);
	uv_timer_init(ctx->loop, &nc->timer);
	nc->timer.data = nc;
	*state = nc;
	return 0;
}

static void nl_start(void *state)
{
	struct nl_controller *nc = state;
	uint64_t period = (uint64_t)nc->c.ctx->opts->node_monitor_period_ms;

	controller_enqueue(&nc->c, MONITOR_KEY);
	uv_timer_start(&nc->timer, on_timer, period, period);
	controller_run(&nc->c);
}

static void nl_part_closed(struct nl_controller *nc)
{
	if (--nc->closing > 0)
		return;
	keymap_free(nc->health, free_health);
	keymap_free(nc->zones, free);
	nc->done(nc->done_arg);
	free(nc);
}

static void on_nl_timer_closed(uv_handle_t *h)
{
	nl_part_closed(h->data);
}

static void on_nl_queue_closed(void *arg)
{
	nl_part_closed(arg);
}

static void nl_stop(void *state, void (*done)(void *), void *arg)
{
	struct nl_controller *nc = state;

	nc->done = done;
	nc->done_arg = arg;
	nc->closing = 2;
	uv_close((uv_handle_t *)&nc->timer, on_nl_timer_closed);
	controller_shutdown(&nc->c, on_nl_queue_closed, nc);
}

static struct controller *nl_controller_of(void *state)
{
	return &((struct nl_controller *)state)->c;
}

const struct controller_def node_lifecycle_controller_def = {
	.name = "node-lifecycle-controller",
	.alias = "nodelifecycle",
	.init = nl_init,
	.start = nl_start,
	.stop = nl_stop,
	.controller = nl_controller_of,
};

/* ==== taint eviction ========================================================================= */

struct te_controller {
	struct controller c;
	struct lister *pods, *nodes;
	struct event_recorder *events;
	struct keymap *scheduled;   /* pod key -> int64_t* start of the countdown (ms) */
};

/* ToleratesTaint. */
static bool tolerates(const json_t *tol, const json_t *taint)
{
	const char *te = obj_str(tol, "effect"), *tk = obj_str(tol, "key"), *op = obj_str(tol, "operator");

	if (te && *te && !str_is(te, obj_str(taint, "effect")))
		return false;
	if (tk && *tk) {
		if (!str_is(tk, obj_str(taint, "key")))
			return false;
	} else if (!str_is(op, "Exists")) {
		return false;
	}
	if (str_is(op, "Exists"))
		return true;
	return !strcmp(obj_str(tol, "value") ? obj_str(tol, "value") : "",
		       obj_str(taint, "value") ? obj_str(taint, "value") : "");
}

static bool has_noexec(const json_t *node)
{
	json_t *t;
	size_t i;

	json_array_foreach(obj_get(node, "spec.taints"), i, t)
		if (str_is(obj_str(t, "effect"), "NoExecute"))
			return true;
	return false;
}

/* Only pods on a node with NoExecute taints (or with an eviction pending)
 * need a look: most pods of a healthy cluster never cost a sync. */
static void te_enqueue_pod(struct te_controller *te, const json_t *pod)
{
	const char *n = obj_str(pod, "spec.nodeName");
	char *key;

	if (!n || !*n || obj_deleting(pod))
		return;
	key = obj_key(pod);
	if (has_noexec(lister_get(te->nodes, n)) || keymap_get(te->scheduled, key))
		controller_enqueue(&te->c, key);
	free(key);
}

static void on_te_pod_add(json_t *pod, void *data)
{
	te_enqueue_pod(data, pod);
}

static void on_te_pod_update(json_t *old_pod, json_t *pod, void *data)
{
	if (!json_equal_or_empty(obj_get(old_pod, "spec.nodeName"), obj_get(pod, "spec.nodeName")) ||
	    !json_equal_or_empty(obj_get(old_pod, "spec.tolerations"), obj_get(pod, "spec.tolerations")))
		te_enqueue_pod(data, pod);
}

static void on_te_pod_delete(json_t *pod, void *data)
{
	struct te_controller *te = data;
	char *key = obj_key(pod);

	free(keymap_del(te->scheduled, key));
	free(key);
}

static bool noexec_taints_changed(const json_t *a, const json_t *b)
{
	json_t *x = json_array(), *y = json_array(), *t;
	size_t i;
	bool changed;

	json_array_foreach(obj_get(a, "spec.taints"), i, t)
		if (str_is(obj_str(t, "effect"), "NoExecute"))
			json_array_append(x, t);
	json_array_foreach(obj_get(b, "spec.taints"), i, t)
		if (str_is(obj_str(t, "effect"), "NoExecute"))
			json_array_append(y, t);
	changed = !json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return changed;
}

static void enqueue_pods_on(struct te_controller *te, const json_t *node)
{
	json_t *pods = lister_by_index(te->pods, "node", obj_name(node)), *p;
	size_t i;

	json_array_foreach(pods, i, p)
		te_enqueue_pod(te, p);
	json_decref(pods);
}

static void on_te_node_add(json_t *node, void *data)
{
	json_t *empty = json_object();

	if (noexec_taints_changed(empty, node))
		enqueue_pods_on(data, node);
	json_decref(empty);
}

static void on_te_node_update(json_t *old_node, json_t *node, void *data)
{
	if (noexec_taints_changed(old_node, node))
		enqueue_pods_on(data, node);
}

struct eviction {
	struct te_controller *te;
	json_t *pod;
};

static void free_eviction(void *p)
{
	struct eviction *ev = p;

	json_decref(ev->pod);
	free(ev);
}

static void te_delete(struct sync *s)
{
	struct eviction *ev = sync_data(s);
	char *path;

	if (sync_failed(s))
		return;
	path = kind_path(&kind_pod, obj_namespace(ev->pod), obj_name(ev->pod), NULL);
	sync_delete(s, path, NULL, NULL, NULL);
	free(path);
	free(keymap_del(ev->te->scheduled, sync_key(s)));
}

static int on_disruption_patched(struct sync *s, const struct api_result *r, void *data)
{
	(void)data;
	return r->status == 404 ? 0 : sync_check(s, r);
}

static void evict(struct sync *s, struct te_controller *te, const json_t *pod)
{
	struct eviction *ev = xcalloc(1, sizeof(*ev));
	char now[TIME_RFC3339_LEN], *path;
	json_t *patch;

	ev->te = te;
	ev->pod = json_incref((json_t *)pod);
	sync_set_data(s, ev, free_eviction);
	ctx_now_rfc3339(te->c.ctx, now);
	log_info("controller=taint-eviction evicting pod=%s/%s node=%s", obj_namespace(pod), obj_name(pod),
		 obj_str(pod, "spec.nodeName"));
	event_record(te->events, pod, "Normal", "TaintManagerEviction", "Marking for deletion Pod %s/%s",
		     obj_namespace(pod), obj_name(pod));
	patch = json_pack("{s:{s:[{s:s, s:s, s:s, s:s, s:s}]}}", "status", "conditions", "type", "DisruptionTarget",
			  "status", "True", "reason", "DeletionByTaintManager", "message",
			  "Taint manager: deleting due to NoExecute taint", "lastTransitionTime", now);
	path = kind_path(&kind_pod, obj_namespace(pod), obj_name(pod), "status");
	sync_strategic_patch(s, path, patch, on_disruption_patched, NULL);
	json_decref(patch);
	free(path);
	sync_then(s, te_delete);
}

static int te_sync(struct controller *c, const char *key, struct sync *s)
{
	struct te_controller *te = c->priv;
	json_t *pod = lister_get(te->pods, key), *node, *taint, *tol;
	int64_t now = c->ctx->clock(), min_s = -1, start = 0, *sched;
	bool all = true;
	size_t i, j, ntaints = 0;

	node = pod ? lister_get(te->nodes, obj_str(pod, "spec.nodeName")) : NULL;
	if (!pod || obj_deleting(pod) || !node) {
		free(keymap_del(te->scheduled, key));
		return 0;
	}
	json_array_foreach(obj_get(node, "spec.taints"), i, taint) {
		const json_t *used = NULL;
		if (!str_is(obj_str(taint, "effect"), "NoExecute"))
			continue;
		ntaints++;
		json_array_foreach(obj_get(pod, "spec.tolerations"), j, tol) {
			if (tolerates(tol, taint)) {
				used = tol;
				break;
			}
		}
		if (!used) {
			all = false;
			continue;
		}
		if (json_is_integer(obj_get(used, "tolerationSeconds"))) {
			int64_t sec = obj_int(used, "tolerationSeconds", 0);
			if (sec < 0)
				sec = 0;
			if (min_s < 0 || sec < min_s)
				min_s = sec;
		}
		{
			int64_t added = parse_ms(obj_str(taint, "timeAdded"));
			if (added && (!start || added < start))
				start = added;
		}
	}
	sched = keymap_get(te->scheduled, key);
	if (ntaints == 0 || (all && min_s < 0)) {
		if (sched) {
			event_record(te->events, pod, "Normal", "TaintManagerEviction", "Cancelling deletion of Pod %s/%s",
				     obj_namespace(pod), obj_name(pod));
			free(keymap_del(te->scheduled, key));
		}
		return 0;
	}
	if (!all) {
		evict(s, te, pod);
		return 0;
	}
	if (sched)
		start = *sched;
	else {
		if (!start || start > now)
			start = now;
		sched = xmalloc(sizeof(*sched));
		*sched = start;
		keymap_put(te->scheduled, key, sched);
	}
	if (now >= start + min_s * 1000) {
		evict(s, te, pod);
		return 0;
	}
	sync_requeue_after(s, (uint64_t)(start + min_s * 1000 - now) + 50);
	return 0;
}

static int te_init(struct controller_context *ctx, void **state)
{
	struct te_controller *te = xcalloc(1, sizeof(*te));
	struct informer_handlers ph = { on_te_pod_add, on_te_pod_update, on_te_pod_delete, te };
	struct informer_handlers nh = { on_te_node_add, on_te_node_update, NULL, te };

	controller_init(&te->c, ctx, "taint-eviction", 8, te_sync, te);
	te->pods = controller_lister(ctx, &kind_pod);
	te->nodes = controller_lister(ctx, &kind_node);
	te->events = controller_recorder(ctx, EVICTION_COMPONENT);
	te->scheduled = keymap_new();
	lister_add_handlers(te->pods, &ph);
	lister_add_handlers(te->nodes, &nh);
	*state = te;
	return 0;
}

static void te_start(void *state)
{
	controller_run(&((struct te_controller *)state)->c);
}

static void te_free(void *state)
{
	struct te_controller *te = state;

	keymap_free(te->scheduled, free);
	free(te);
}

static void te_stop(void *state, void (*done)(void *), void *arg)
{
	struct te_controller *te = state;

	controller_stop_and_free(&te->c, te_free, te, done, arg);
}

static struct controller *te_controller_of(void *state)
{
	return &((struct te_controller *)state)->c;
}

const struct controller_def taint_eviction_controller_def = {
	.name = "taint-eviction-controller",
	.init = te_init,
	.start = te_start,
	.stop = te_stop,
	.controller = te_controller_of,
};
