/*
 * NodeName: a pod that names its node (spec.nodeName) fits only there.
 * Pods that arrive with a node already set never reach the queue, so in a
 * running cluster this matters for simulations and tests; it is here because
 * it is the smallest complete plugin to read first.
 */
#include "scheduler/framework.h"

#include <string.h>

static enum sched_code filter(const struct sched_framework *fw, const struct sched_pod *pod,
			      const struct sched_node *node, struct sched_status *st)
{
	const char *want = pod->p ? pod->p->node_name : NULL;

	if (!want || !strcmp(want, node->name))
		return SCHED_OK;
	return sched_status_fail(st, SCHED_UNRESOLVABLE, "node(s) didn't match the requested node name");
}

const struct sched_plugin sched_plugin_node_name = {
	.name = "NodeName",
	.filter = filter,
	.requeue_events = SCHED_EV_NODE_ADD,
};
