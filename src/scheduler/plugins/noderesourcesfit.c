/*
 * NodeResourcesFit: the pod's cpu and memory requests must fit in what the
 * node has allocatable minus what its pods already request, and the node
 * must have room for one more pod. Every shortfall is a reason of its own
 * ("Too many pods", "Insufficient cpu", "Insufficient memory"). The score
 * follows --scoring-strategy: LeastAllocated (default) prefers empty nodes,
 * spreading load; MostAllocated packs nodes full, freeing others.
 */
#include "scheduler/framework.h"

static enum sched_code filter(const struct sched_framework *fw, const struct sched_pod *pod,
			      const struct sched_node *node, struct sched_status *st)
{
	enum sched_code code = SCHED_OK;

	if (node->npods + 1 > node->alloc_pods)
		code = sched_status_fail(st, SCHED_UNSCHEDULABLE, "Too many pods");
	if (pod->cpu > 0 && pod->cpu > node->alloc_cpu - node->req_cpu)
		code = sched_status_fail(st, SCHED_UNSCHEDULABLE, "Insufficient cpu");
	if (pod->mem > 0 && pod->mem > node->alloc_mem - node->req_mem)
		code = sched_status_fail(st, SCHED_UNSCHEDULABLE, "Insufficient memory");
	return code;
}

static int64_t least(int64_t requested, int64_t capacity)
{
	if (requested > capacity)
		return 0;
	return (capacity - requested) * SCHED_MAX_NODE_SCORE / capacity;
}

static int64_t most(int64_t requested, int64_t capacity)
{
	if (requested > capacity)
		requested = capacity;
	return requested * SCHED_MAX_NODE_SCORE / capacity;
}

/* Both resources weigh 1; a resource the node has none of is left out.
 * Pods without requests count as 100m and 200Mi here, so that many
 * "free" pods do not all land on one node. */
static int64_t score(const struct sched_framework *fw, const struct sched_pod *pod,
		     const struct sched_node *node)
{
	int64_t (*f)(int64_t, int64_t) = fw->scoring == SCHED_MOST_ALLOCATED ? most : least;
	int64_t sum = 0, weights = 0;

	if (node->alloc_cpu > 0) {
		sum += f(node->nz_cpu + pod->nz_cpu, node->alloc_cpu);
		weights++;
	}
	if (node->alloc_mem > 0) {
		sum += f(node->nz_mem + pod->nz_mem, node->alloc_mem);
		weights++;
	}
	return weights ? sum / weights : 0;
}

const struct sched_plugin sched_plugin_node_resources_fit = {
	.name = "NodeResourcesFit",
	.filter = filter,
	.score = score,
	.requeue_events = SCHED_EV_NODE_ADD | SCHED_EV_NODE_UPDATE | SCHED_EV_POD_DELETE,
	.default_weight = 1,
};
