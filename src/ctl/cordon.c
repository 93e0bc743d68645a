/*
 * `minictl cordon NODE...` and `minictl uncordon NODE...`: set or clear a
 * Node's spec.unschedulable with a strategic merge patch, so the scheduler
 * leaves the node out (pods already there stay). Prints `node/n1 cordoned`,
 * or `node/n1 already cordoned` when there was nothing to change, as
 * kubectl. `drain` (drain.c) cordons through the same patch.
 */
#include "core/object.h"
#include "core/util.h"
#include "ctl/ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char cordon_usage[] =
	"usage: minictl cordon NODE... [-l SELECTOR]\n\n"
	"Marks nodes unschedulable: new pods are not placed there; running ones stay.\n";
static const char uncordon_usage[] =
	"usage: minictl uncordon NODE... [-l SELECTOR]\n\n"
	"Marks nodes schedulable again.\n";

/*
 * Sets node name's spec.unschedulable to want; *changed says whether it had
 * to. Prints the server's error and returns -1 on failure. Shared with
 * drain.c (declared in both files until ctl.h lists it).
 */

int ctl_node_set_unschedulable(struct ctl *c, const char *name, bool want, bool *changed)
{
	char *path = ctl_kind_path(&kind_node, NULL, name);
	json_t *node = NULL, *patch;
	int status, rc = -1;

	*changed = false;
	status = ctl_request(c, "GET", path, NULL, NULL, NULL, &node);
	if (status != 200) {
		ctl_print_status(node, status);
		goto out;
	}
	if (obj_bool(node, "spec.unschedulable", false) == want) {
		rc = 0;
		goto out;
	}
	/* false is the default: remove the field rather than write it. */
	patch = json_pack("{s:{s:o}}", "spec", "unschedulable", want ? json_true() : json_null());
	json_decref(node);
	node = NULL;
	status = ctl_request(c, "PATCH", path, patch, "application/strategic-merge-patch+json", NULL, &node);
	json_decref(patch);
	if (status != 200) {
		ctl_print_status(node, status);
		goto out;
	}
	*changed = true;
	rc = 0;
out:
	json_decref(node);
	free(path);
	return rc;
}

/* The names of the nodes a selector picks. New array of strings or NULL. */
static json_t *select_nodes(struct ctl *c, const char *selector)
{
	struct strbuf path;
	json_t *list = NULL, *names = NULL, *item;
	int status;
	size_t i;

	strbuf_init(&path, 64);
	strbuf_adds(&path, "/api/v1/nodes");
	rest_query_add(&path, "labelSelector", selector);
	status = ctl_request(c, "GET", path.buf, NULL, NULL, NULL, &list);
	if (status == 200) {
		names = json_array();
		json_array_foreach(obj_get(list, "items"), i, item)
			json_array_append_new(names, json_string(obj_name(item)));
	} else {
		ctl_print_status(list, status);
	}
	json_decref(list);
	strbuf_release(&path);
	return names;
}

static int run(struct ctl *c, int argc, char **argv, bool want)
{
	const char *verb = want ? "cordon" : "uncordon";
	char *selector = NULL;
	const struct flag flags[] = {
		{ "selector", FLAG_STRING, &selector, "nodes whose labels match this selector" },
		{ "l", FLAG_STRING, &selector, "short for --selector" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), flags, NULL };
	json_t *names = NULL, *v;
	int n, rc = 1;
	size_t i;

	ctl_expand_short_flags(argc, argv, "l");
	n = flags_parse(tables, want ? cordon_usage : uncordon_usage, argc, argv);
	if (n < 0)
		goto out;
	if (n == 0 && !selector) {
		fprintf(stderr, "error: USAGE: %s NODE [flags]\nSee 'minictl %s -h' for help and examples\n", verb, verb);
		goto out;
	}
	if (ctl_connect(c) < 0)
		goto out;
	if (selector) {
		if (!(names = select_nodes(c, selector)))
			goto out;
		if (!json_array_size(names))
			fprintf(stderr, "No resources found\n");
	} else {
		names = json_array();
	}
	for (int a = 1; a <= n; a++) {
		/* "node/n1" and "nodes/n1" as kubectl takes them */
		const char *name = argv[a], *slash = strchr(name, '/');
		if (slash)
			name = slash + 1;
		json_array_append_new(names, json_string(name));
	}
	rc = 0;
	json_array_foreach(names, i, v) {
		bool changed;
		if (ctl_node_set_unschedulable(c, json_string_value(v), want, &changed) < 0) {
			rc = 1;
			continue;
		}
		printf("node/%s %s%sed\n", json_string_value(v), changed ? "" : "already ", verb);
	}
out:
	json_decref(names);
	free(selector);
	return rc;
}

int ctl_cordon(struct ctl *c, int argc, char **argv)
{
	return run(c, argc, argv, true);
}

int ctl_uncordon(struct ctl *c, int argc, char **argv)
{
	return run(c, argc, argv, false);
}
