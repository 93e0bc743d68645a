/*
 * The pod garbage collector, as Kubernetes' pkg/controller/podgc: every
 * 20 s a pass force-deletes (grace period 0) what nobody else will:
 *   - pods bound to a node that no longer exists (after a 40 s quarantine
 *     and a GET that confirms the node is gone; the pod is first marked
 *     Failed with a DisruptionTarget condition, as Kubernetes 1.32 does);
 *   - terminating pods that were never scheduled;
 *   - the oldest finished pods past --terminated-pod-gc-threshold.
 * Graceful deletes of pods on a dead node wait for a kubelet that will
 * never confirm; this is what finally removes them once the node is gone.
 */
#include "controller/controller.h"
#include "apiserver/kinds.h"
#include "log.h"
#include "object.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASS_KEY "@pass"

struct podgc_controller {
	struct controller c;
	struct lister *pods, *nodes;
	uv_timer_t timer;
	int closing;
	void (*done)(void *);
	void *done_arg;
};

static json_t *force_options(void)
{
	return json_pack("{s:s, s:s, s:i}", "kind", "DeleteOptions", "apiVersion", "v1", "gracePeriodSeconds", 0);
}

static void force_delete(struct sync *s, const json_t *pod, const char *why)
{
	char *path = kind_path(&kind_pod, obj_namespace(pod), obj_name(pod), NULL);
	json_t *opts = force_options();

	log_info("controller=podgc force-deleting pod=%s/%s: %s", obj_namespace(pod), obj_name(pod), why);
	sync_delete(s, path, opts, NULL, NULL);
	json_decref(opts);
	free(path);
}

static int cmp_created_pods(const void *pa, const void *pb)
{
	const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	time_t ta = obj_created(a), tb = obj_created(b);

	if (ta != tb)
		return ta < tb ? -1 : 1;
	return strcmp(obj_name(a), obj_name(b));
}

static void pass(struct podgc_controller *pc, struct sync *s)
{
	json_t *pods = lister_list(pc->pods, NULL), *p, **terminated;
	int64_t threshold = pc->c.ctx->opts->terminated_pod_gc_threshold;
	size_t i, nterm = 0;

	terminated = xcalloc(json_array_size(pods) + 1, sizeof(*terminated));
	json_array_foreach(pods, i, p) {
		const char *node = obj_str(p, "spec.nodeName");
		if (pod_is_terminal(p) && !obj_deleting(p))
			terminated[nterm++] = p;
		if (node && *node) {
			if (!lister_get(pc->nodes, node)) {
				/* Its node is gone: look again after the quarantine. */
				char *key = obj_key(p);
				controller_enqueue_after(&pc->c, key, (uint64_t)pc->c.ctx->opts->podgc_quarantine_ms);
				free(key);
			}
		} else if (obj_deleting(p)) {
			force_delete(s, p, "terminating and never scheduled");
		}
	}
	if (threshold > 0 && (int64_t)nterm > threshold) {
		size_t n = nterm - (size_t)threshold;
		qsort(terminated, nterm, sizeof(*terminated), cmp_created_pods);
		log_info("controller=podgc finished pods=%zu threshold=%lld: deleting the %zu oldest", nterm,
			 (long long)threshold, n);
		for (i = 0; i < n; i++)
			force_delete(s, terminated[i], "past --terminated-pod-gc-threshold");
	}
	free(terminated);
	json_decref(pods);
}

struct orphan_pod {
	json_t *pod;
	bool node_gone;
};

static void free_orphan(void *p)
{
	struct orphan_pod *op = p;

	json_decref(op->pod);
	free(op);
}

static int on_node_got(struct sync *s, const struct api_result *r, void *data)
{
	struct orphan_pod *op = data;

	if (r->status == 404) {
		op->node_gone = true;
		return 0;
	}
	return r->error ? sync_check(s, r) : 0;
}

static void delete_orphan(struct sync *s)
{
	struct orphan_pod *op = sync_data(s);

	if (!sync_failed(s))
		force_delete(s, op->pod, "its node no longer exists");
}

static void mark_failed(struct sync *s)
{
	struct orphan_pod *op = sync_data(s);
	char now[TIME_RFC3339_LEN], *path;
	json_t *patch;

	if (sync_failed(s) || !op->node_gone)
		return;
	if (pod_is_terminal(op->pod)) {
		delete_orphan(s);
		return;
	}
	ctx_now_rfc3339(sync_controller(s)->ctx, now);
	patch = json_pack("{s:{s:s, s:[{s:s, s:s, s:s, s:s, s:s}]}}", "status", "phase", "Failed", "conditions", "type",
			  "DisruptionTarget", "status", "True", "reason", "DeletionByPodGC", "message",
			  "PodGC: node no longer exists", "lastTransitionTime", now);
	path = kind_path(&kind_pod, obj_namespace(op->pod), obj_name(op->pod), "status");
	sync_strategic_patch(s, path, patch, NULL, NULL);
	json_decref(patch);
	free(path);
	sync_then(s, delete_orphan);
}

static int podgc_sync(struct controller *c, const char *key, struct sync *s)
{
	struct podgc_controller *pc = c->priv;
	json_t *pod;
	const char *node;
	struct orphan_pod *op;
	char *path;

	if (!strcmp(key, PASS_KEY)) {
		pass(pc, s);
		return 0;
	}
	pod = lister_get(pc->pods, key);
	node = obj_str(pod, "spec.nodeName");
	if (!pod || !node || !*node || lister_get(pc->nodes, node))
		return 0;
	/* The cache says the node is gone; ask the apiserver to be sure. */
	op = xcalloc(1, sizeof(*op));
	op->pod = json_incref(pod);
	sync_set_data(s, op, free_orphan);
	path = kind_path(&kind_node, NULL, node, NULL);
	sync_call(s, "GET", path, NULL, NULL, on_node_got, op);
	free(path);
	sync_then(s, mark_failed);
	return 0;
}

static void on_node_delete(json_t *node, void *data)
{
	struct podgc_controller *pc = data;
	json_t *pods = lister_by_index(pc->pods, "node", obj_name(node)), *p;
	size_t i;

	json_array_foreach(pods, i, p) {
		char *key = obj_key(p);
		controller_enqueue_after(&pc->c, key, (uint64_t)pc->c.ctx->opts->podgc_quarantine_ms);
		free(key);
	}
	json_decref(pods);
}

static void on_timer(uv_timer_t *t)
{
	struct podgc_controller *pc = t->data;

	controller_enqueue(&pc->c, PASS_KEY);
}

static int podgc_init(struct controller_context *ctx, void **state)
{
	struct podgc_controller *pc = xcalloc(1, sizeof(*pc));
	struct informer_handlers nh = { NULL, NULL, on_node_delete, pc };

	controller_init(&pc->c, ctx, "podgc", 2, podgc_sync, pc);
	pc->pods = controller_lister(ctx, &kind_pod);
	pc->nodes = controller_lister(ctx, &kind_node);
	lister_add_handlers(pc->nodes, &nh);
	uv_timer_init(ctx->loop, &pc->timer);
	pc->timer.data = pc;
	*state = pc;
	return 0;
}

static void podgc_start(void *state)
{
	struct podgc_controller *pc = state;
	uint64_t period = (uint64_t)pc->c.ctx->opts->podgc_period_ms;

	uv_timer_start(&pc->timer, on_timer, period, period);
	controller_enqueue(&pc->c, PASS_KEY);
	controller_run(&pc->c);
}

static void podgc_part_closed(struct podgc_controller *pc)
{
	if (--pc->closing > 0)
		return;
	pc->done(pc->done_arg);
	free(pc);
}

static void on_timer_closed(uv_handle_t *h)
{
	podgc_part_closed(h->data);
}

static void on_queue_closed(void *arg)
{
	podgc_part_closed(arg);
}

static void podgc_stop(void *state, void (*done)(void *), void *arg)
{
	struct podgc_controller *pc = state;

	pc->done = done;
	pc->done_arg = arg;
	pc->closing = 2;
	uv_close((uv_handle_t *)&pc->timer, on_timer_closed);
	controller_shutdown(&pc->c, on_queue_closed, pc);
}

static struct controller *podgc_controller_of(void *state)
{
	return &((struct podgc_controller *)state)->c;
}

const struct controller_def podgc_controller_def = {
	.name = "pod-garbage-collector-controller",
	.alias = "podgc",
	.init = podgc_init,
	.start = podgc_start,
	.stop = podgc_stop,
	.controller = podgc_controller_of,
};
