/*
 * NodePorts: a hostPort is one per node. A pod asking for hostPort 8080/TCP
 * does not fit a node where another pod holds 8080/TCP on the same address
 * or on 0.0.0.0 (which is every address).
 */
#include "scheduler/framework.h"

static bool conflicts(const struct sched_hostport *a, const struct sched_hostport *b)
{
	return a->port == b->port && a->proto == b->proto && (a->ip == b->ip || !a->ip || !b->ip);
}

static enum sched_code filter(const struct sched_framework *fw, const struct sched_pod *pod,
			      const struct sched_node *node, struct sched_status *st)
{
	for (uint16_t i = 0; i < pod->nports; i++)
		for (uint32_t j = 0; j < node->nports; j++)
			if (conflicts(&pod->ports[i], &node->ports[j]))
				return sched_status_fail(st, SCHED_UNSCHEDULABLE,
							 "node(s) didn't have free ports for the requested pod ports");
	return SCHED_OK;
}

const struct sched_plugin sched_plugin_node_ports = {
	.name = "NodePorts",
	.filter = filter,
	.requeue_events = SCHED_EV_NODE_ADD | SCHED_EV_POD_DELETE,
};
