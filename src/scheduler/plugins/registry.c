/*
 * The plugin registry: every plugin the scheduler knows, in the order
 * Kubernetes runs their filters (the cheap, decisive ones first), each with
 * its default score weight. A cycle stops filtering a node at its first
 * failing plugin, so this order also decides which reason a node reports.
 *
 * How to add a plugin:
 *   1. Write plugins/<name>.c ending in `const struct sched_plugin
 *      sched_plugin_<name> = { .name = "<Name>", .filter = ..., ... }`;
 *      leave the hooks it does not take part in NULL.
 *   2. Declare it in framework.h and add a row below.
 *   3. Add the file to src/scheduler/meson.build and its cases to
 *      tests/unit/test-scheduler-plugins.c (reasons and scores).
 */
#include "scheduler/framework.h"

#include <string.h>

const struct sched_plugin *const sched_plugins[] = {
	&sched_plugin_node_unschedulable,
	&sched_plugin_node_name,
	&sched_plugin_taint_toleration,
	&sched_plugin_node_affinity,
	&sched_plugin_node_ports,
	&sched_plugin_node_resources_fit,
	&sched_plugin_balanced_allocation,
	&sched_plugin_selector_spread,
	NULL,
};

const struct sched_plugin *sched_plugin_by_name(const char *name)
{
	for (size_t i = 0; sched_plugins[i]; i++)
		if (!strcasecmp(sched_plugins[i]->name, name))
			return sched_plugins[i];
	return NULL;
}
