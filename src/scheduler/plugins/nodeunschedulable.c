/*
 * NodeUnschedulable: a cordoned node (spec.unschedulable, what `kubectl
 * cordon` sets) takes no new pods, unless the pod tolerates the
 * node.kubernetes.io/unschedulable:NoSchedule taint, as DaemonSet pods do.
 * Pods already there stay.
 */
#include "scheduler/framework.h"

static enum sched_code filter(const struct sched_framework *fw, const struct sched_pod *pod,
			      const struct sched_node *node, struct sched_status *st)
{
	static const struct sched_taint cordon = { "node.kubernetes.io/unschedulable", NULL,
						   SCHED_EFFECT_NO_SCHEDULE };

	if (!node->unschedulable)
		return SCHED_OK;
	if (pod->p && sched_tolerates(pod->p->tolerations, pod->p->ntolerations, &cordon))
		return SCHED_OK;
	return sched_status_fail(st, SCHED_UNRESOLVABLE, "node(s) were unschedulable");
}

const struct sched_plugin sched_plugin_node_unschedulable = {
	.name = "NodeUnschedulable",
	.filter = filter,
	.requeue_events = SCHED_EV_NODE_ADD | SCHED_EV_NODE_UPDATE,
};
