/*
 * `minictl create -f FILE`: POSTs every object of the manifests, failing
 * (as kubectl does) on objects that exist already; `--save-config` records
 * the manifest for a later apply. `minictl create namespace NAME` makes a
 * namespace without a file, the one generator a first lesson needs.
 */
#include "ctl/ctl.h"
#include "core/object.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: minictl create -f FILE|DIR|- [-R] [--save-config]\n"
	"       minictl create namespace NAME\n\n"
	"Creates the objects of the manifests; objects that exist already are an error (see apply).\n";

/* One document (ctl_send_fn); arg points to --save-config. */
static int create_one(struct ctl *c, const struct ctl_manifest *m, const struct kind *k, json_t *obj,
		      void *arg)
{
	const bool *save_config = arg;

	if (*save_config) {
		char *record = ctl_last_applied(obj);
		json_object_set_new(obj_ensure(obj, "metadata.annotations"), CTL_LAST_APPLIED, json_string(record));
		free(record);
	}
	return ctl_create_object(c, k, obj, ctl_manifest_where(m));
}

static int create_namespace(struct ctl *c, int npos, char **argv)
{
	json_t *ns;
	int rc;

	if (npos != 2) {
		fprintf(stderr, "error: exactly one NAME is required, got %d (minictl create namespace NAME)\n",
			npos - 1);
		return 1;
	}
	if (ctl_connect(c) < 0)
		return 1;
	ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", argv[2]);
	rc = ctl_create_object(c, &kind_namespace, ns, NULL);
	json_decref(ns);
	return rc ? 1 : 0;
}

int ctl_create(struct ctl *c, int argc, char **argv)
{
	struct flag_list files = { NULL, 0 };
	bool recursive = false, save_config = false;
	const struct flag create_flags[] = {
		{ "save-config", FLAG_BOOL, &save_config,
		  "record the manifest in the last-applied-configuration annotation, for a later apply" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = {
		ctl_global_flags(c), ctl_manifest_flags(&files, &recursive), create_flags, NULL,
	};
	int npos, rc = 1;

	ctl_expand_short_flags(argc, argv, "fnv");
	npos = flags_parse(tables, usage, argc, argv);
	if (npos < 0)
		goto out;
	if (npos > 0) {
		if (!strcmp(argv[1], "namespace") || !strcmp(argv[1], "ns")) {
			rc = create_namespace(c, npos, argv);
			goto out;
		}
		fprintf(stderr, "error: unknown argument \"%s\": minictl create takes -f FILE, or `namespace NAME`\n",
			argv[1]);
		goto out;
	}
	if (!files.n) {
		fprintf(stderr, "error: must specify one of -f and -k (minictl create -f FILE|DIR|-)\n");
		goto out;
	}
	rc = ctl_manifests_send(c, &files, recursive, "create", create_one, &save_config);
out:
	ctl_flag_list_release(&files);
	return rc;
}
