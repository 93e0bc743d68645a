/*
 * minik8s: one binary, one table of commands (git's git.c, BusyBox). Each
 * command is `int cmd_<name>(int argc, char **argv)` in its component's
 * directory. Invoked as `minictl` (a symlink), the binary is `minik8s ctl`.
 *
 * How to add a command:
 *   1. Write `int cmd_<name>(int argc, char **argv)` in its component.
 *   2. Declare it in src/commands.h and add a row to `commands` below.
 */
#include "commands.h"
#include "core/component.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "server", cmd_server, "run a whole control plane (apiserver, controllers, scheduler) on this machine" },
	{ "apiserver", cmd_apiserver, "run the API server alone" },
	{ "controller-manager", cmd_controller_manager, "run the controllers alone (deployments, replica sets, endpoints, nodes, ...)" },
	{ "scheduler", cmd_scheduler, "run the scheduler alone" },
	{ "kubelet", cmd_kubelet, "run the node agent alone: pods on the Docker Engine (see docs/kubelet.md)" },
	{ "proxy", cmd_proxy, "run the service proxy and cluster DNS alone (see docs/networking.md)" },
	{ "agent", cmd_agent, "join this machine to a cluster as a node: kubelet + proxy (see docs/agent.md)" },
	{ "hollow-node", cmd_hollow_node, "run N fake nodes without Docker, for tests and benchmarks (as kubemark)" },
	{ "ctl", cmd_ctl, "the CLI (also installed as `minictl`)" },
	{ "token", cmd_token, "print the node-join token of the cluster in --data-dir" },
	{ "version", cmd_version, "print the version" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: minik8s <command> [flags]\n\n"
		     "A teaching-scale Kubernetes in one binary.\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-20s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\nRun `minik8s <command> --help` for a command's flags.\n");
}

int cmd_controller_manager(int argc, char **argv)
{
	return component_main(&controller_manager_component, argc, argv);
}

int cmd_scheduler(int argc, char **argv)
{
	return component_main(&scheduler_component, argc, argv);
}

int cmd_kubelet(int argc, char **argv)
{
	return component_main(&kubelet_component, argc, argv);
}

int cmd_proxy(int argc, char **argv)
{
	return component_main(&proxy_component, argc, argv);
}

int cmd_agent(int argc, char **argv)
{
	return component_main(&agent_component, argc, argv);
}

int cmd_hollow_node(int argc, char **argv)
{
	return component_main(&hollow_node_component, argc, argv);
}

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("minik8s %s (Kubernetes API %s, %s malloc)\n", MINIK8S_VERSION, MINIK8S_KUBE_VERSION, memory_allocator());
	return 0;
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/');

	self = self ? self + 1 : argv[0];
	/* Writes to a peer that left must fail with EPIPE, not kill a server. */
	signal(SIGPIPE, SIG_IGN);
	if (getenv("MINIK8S_LOG_LEVEL"))
		log_set_level(getenv("MINIK8S_LOG_LEVEL"));
	if (getenv("MINIK8S_TRACE"))
		log_set_trace(getenv("MINIK8S_TRACE"));

	if (!strcmp(self, "minictl"))
		return cmd_ctl(argc, argv);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return argc < 2 ? 1 : 0;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 1;
}
