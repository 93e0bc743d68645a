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

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

static const char usage[] =
	"usage: minictl create -f FILE|DIR|- [-R] [--save-config]\n"
	"       minictl create namespace NAME\n\n"
	"Creates the objects of the manifests; objects that exist already are an error (see apply).\n";

/* POSTs obj; returns 0, -1 on a failed object, -2 when the server is gone. */
static int create_object(struct ctl *c, const struct kind *k, const json_t *obj, const char *where)
{
	char *coll = ctl_kind_path(k, obj_namespace(obj), NULL), ref[512], when[4300];
	json_t *resp = NULL;
	int status, rc = 0;

	status = ctl_request(c, "POST", coll, obj, NULL, NULL, &resp);
	if (status == 201 || status == 200) {
		printf("%s created\n", ctl_object_ref(k, obj_name(resp) ?: obj_name(obj) ?: "", ref, sizeof(ref)));
	} else {
		if (where)
			snprintf(when, sizeof(when), "error when creating %s", where);
		ctl_print_status_when(resp, status, where ? when : NULL);
		rc = status == 0 || status == 401 ? -2 : -1;
	}
	fflush(stdout);
	json_decref(resp);
	free(coll);
	return rc;
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
	rc = create_object(c, &kind_namespace, ns, NULL);
	json_decref(ns);
	return rc ? 1 : 0;
}

int ctl_create(struct ctl *c, int argc, char **argv)
{
	struct flag_list files = { NULL, 0 };
	bool recursive = false, save_config = false;
	const struct flag create_flags[] = {
		{ "filename", FLAG_LIST, &files, "a manifest file, a directory of them, or - for stdin (repeatable)" },
		{ "f", FLAG_LIST, &files, "short for --filename" },
		{ "recursive", FLAG_BOOL, &recursive, "with a directory, descend into its subdirectories" },
		{ "R", FLAG_BOOL, &recursive, "short for --recursive" },
		{ "save-config", FLAG_BOOL, &save_config,
		  "record the manifest in the last-applied-configuration annotation, for a later apply" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), create_flags, NULL };
	struct ctl_manifest *m = NULL;
	int n = 0, npos, failed = 0, rc = 1;

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
	if (ctl_read_manifests(&files, recursive, &m, &n) < 0)
		goto out;
	if (!n) {
		fprintf(stderr, "error: no objects passed to create\n");
		goto out;
	}
	if (ctl_connect(c) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		const struct kind *k;
		json_t *obj;
		int r;

		if (ctl_manifest_prepare(c, &m[i], &k, &obj) < 0) {
			failed++;
			continue;
		}
		if (save_config) {
			json_t *copy = json_deep_copy(obj);
			json_t *ann = obj_ensure(copy, "metadata.annotations");
			char *s, *rec;
			json_object_del(ann, LAST_APPLIED);
			s = ctl_json_go(copy, false);
			rec = xasprintf("%s\n", s);
			json_object_set_new(obj_ensure(obj, "metadata.annotations"), LAST_APPLIED, json_string(rec));
			free(s);
			free(rec);
			json_decref(copy);
		}
		r = create_object(c, k, obj, ctl_manifest_where(&m[i]));
		json_decref(obj);
		if (r < 0)
			failed++;
		if (r == -2)
			break;
	}
	rc = failed ? 1 : 0;
out:
	ctl_manifests_free(m, n);
	ctl_flag_list_release(&files);
	return rc;
}
