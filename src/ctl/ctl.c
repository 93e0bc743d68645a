/*
 * minictl's dispatcher: one table of verbs, each in its own file (git's
 * builtin table). Global flags may come anywhere on the line; each verb
 * parses them together with its own.
 */
#include "ctl/ctl.h"
#include "core/log.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct verb {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	const char *help;
};

static const struct verb verbs[] = {
	{ "apply", ctl_apply, "create or update objects from files (-f FILE|DIR|-)" },
	{ "create", ctl_create, "create objects from files" },
	{ "replace", ctl_replace, "replace objects with the ones in files" },
	{ "delete", ctl_delete, "delete objects by file, name, label selector or --all" },
	{ "get", ctl_get, "list objects (-o wide|json|yaml|name, -l, -w, -A)" },
	{ "describe", ctl_describe, "show an object in detail, with its events" },
	{ "logs", ctl_logs, "print a container's logs (-f, --tail, --previous)" },
	{ "scale", ctl_scale, "set the replicas of a deployment or replica set" },
	{ "rollout", ctl_rollout, "status, restart, history and undo of a deployment's rollouts" },
	{ "events", ctl_events, "list events (-w to follow)" },
	{ "cordon", ctl_cordon, "mark a node unschedulable" },
	{ "uncordon", ctl_uncordon, "mark a node schedulable" },
	{ "drain", ctl_drain, "cordon a node and evict its pods" },
	{ "cluster-info", ctl_cluster_info, "show where the control plane runs" },
	{ "api-resources", ctl_api_resources, "list the kinds the server serves" },
	{ "version", ctl_version, "print client and server versions" },
	{ "config", ctl_config, "view the kubeconfig, switch contexts" },
	{ "completion", ctl_completion, "print a bash completion script" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: minictl <verb> [flags]\n\nminictl drives a minik8s (or any Kubernetes) cluster; "
		     "its verbs and flags follow kubectl's.\n\nVerbs:\n");
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
		fprintf(out, "  %-15s %s\n", verbs[i].name, verbs[i].help);
	fprintf(out, "\nGlobal flags: --kubeconfig FILE, -s/--server URL, --token T, --context NAME,\n"
		     "-n/--namespace NS, -A/--all-namespaces. `minictl <verb> --help` for a verb's flags.\n");
}

/*
 * kubectl takes global flags before the verb too (`minictl -n kube-system
 * get pods`). Moves the first argument that is not a global flag (or its
 * value) to argv[1], keeping the order of the rest, so each verb sees
 * `verb [flags and arguments...]`. Returns 0, or -1 if there is no verb.
 */
static int verb_first(int argc, char **argv)
{
	static const char *const with_value[] = { "--kubeconfig", "-s", "--server", "--token", "--context",
						  "-n", "--namespace", "-v", "--request-timeout", NULL };
	int i = 1;

	while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--help") && strcmp(argv[i], "-h")) {
		bool takes = false;
		for (const char *const *w = with_value; *w; w++)
			if (!strcmp(argv[i], *w))
				takes = true;
		i += takes ? 2 : 1;
	}
	if (i >= argc)
		return -1;
	if (i > 1) {
		char *verb = argv[i];
		memmove(argv + 2, argv + 1, sizeof(char *) * (size_t)(i - 1));
		argv[1] = verb;
	}
	return 0;
}

int cmd_ctl(int argc, char **argv)
{
	struct ctl c;
	int rc;

	log_set_component("minictl");
	/* A CLI prints its own errors; only problems worth a log line show. */
	if (!getenv("MINIK8S_LOG_LEVEL"))
		log_set_level("error");
	if (argc >= 2 && argv[1][0] == '-' && verb_first(argc, argv) < 0) {
		fprintf(stderr, "error: no verb given after the flags\nRun 'minictl --help' for usage.\n");
		return 1;
	}
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		if (strcmp(argv[1], verbs[i].name))
			continue;
		memset(&c, 0, sizeof(c));
		rc = verbs[i].fn(&c, argc - 1, argv + 1);
		ctl_release(&c);
		return rc;
	}
	fprintf(stderr, "error: unknown command \"%s\" for \"minictl\"\nRun 'minictl --help' for usage.\n", argv[1]);
	return 1;
}
