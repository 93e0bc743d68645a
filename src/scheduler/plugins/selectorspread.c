/*
 * SelectorSpread (a lite PodTopologySpread): pods of one group spread over
 * nodes. A group is the pods of one controller (a ReplicaSet's pods share
 * its ownerReference) or, for pods without one, the pods of a namespace
 * with the same labels. Fewer pods of the group on a node scores higher:
 * 100 for the emptiest, 0 for the fullest.
 */
#include "scheduler/framework.h"

static int64_t score(const struct sched_framework *fw, const struct sched_pod *pod,
		     const struct sched_node *node)
{
	if (!pod->group)
		return 0;
	return sched_cache_spread_count(fw->cache, pod->group, node->index);
}

static void normalize(const struct sched_framework *fw, const struct sched_pod *pod, int64_t *scores, size_t n)
{
	sched_normalize_default(scores, n, true);
}

const struct sched_plugin sched_plugin_selector_spread = {
	.name = "SelectorSpread",
	.score = score,
	.normalize = normalize,
	.default_weight = 2,
};
