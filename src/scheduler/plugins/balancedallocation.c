/*
 * NodeResourcesBalancedAllocation: prefers nodes where, with the pod, cpu
 * and memory would be used in the same proportion, so that neither runs out
 * while the other idles. Score = (1 - |cpu fraction - memory fraction| / 2)
 * x 100, on real requests. A pod that requests nothing scores 0 everywhere
 * (Kubernetes skips it), which leaves the choice to the other plugins.
 */
#include "scheduler/framework.h"

#include <math.h>

static int64_t score(const struct sched_framework *fw, const struct sched_pod *pod,
		     const struct sched_node *node)
{
	double f[2];
	int n = 0;

	if (pod->cpu == 0 && pod->mem == 0)
		return 0;
	if (node->alloc_cpu > 0) {
		f[n] = (double)(node->req_cpu + pod->cpu) / (double)node->alloc_cpu;
		f[n] = f[n] > 1 ? 1 : f[n];
		n++;
	}
	if (node->alloc_mem > 0) {
		f[n] = (double)(node->req_mem + pod->mem) / (double)node->alloc_mem;
		f[n] = f[n] > 1 ? 1 : f[n];
		n++;
	}
	if (n < 2)
		return SCHED_MAX_NODE_SCORE;
	return (int64_t)((1.0 - fabs(f[0] - f[1]) / 2.0) * SCHED_MAX_NODE_SCORE);
}

const struct sched_plugin sched_plugin_balanced_allocation = {
	.name = "NodeResourcesBalancedAllocation",
	.score = score,
	.default_weight = 1,
};
