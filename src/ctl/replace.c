/*
 * `minictl replace -f FILE`: PUTs every object of the manifests over the
 * live one, carrying the live resourceVersion so the server's optimistic
 * concurrency check holds. Unlike apply nothing is merged: fields the
 * manifest leaves out are gone afterwards (server defaults aside).
 */
#include "ctl/ctl.h"
#include "core/object.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: minictl replace -f FILE|DIR|- [-R]\n\n"
	"Replaces each object with the one in the manifest (the object must exist).\n";

/* One document (ctl_send_fn): returns 0, -1 on a failed object, -2 when the server is gone. */
static int replace_one(struct ctl *c, const struct ctl_manifest *m, const struct kind *k, json_t *obj,
		       void *arg)
{
	json_t *live = NULL, *resp = NULL;
	char *path = NULL, when[4300], ref[512];
	const char *name;
	int status, rc = -1;

	name = obj_name(obj);
	if (!name || !*name) {
		fprintf(stderr, "error: error when replacing %s: metadata.name is required to find the object\n",
			ctl_manifest_where(m));
		goto out;
	}
	snprintf(when, sizeof(when), "error when replacing %s", ctl_manifest_where(m));
	path = ctl_kind_path(k, obj_namespace(obj), name);
	status = ctl_request(c, "GET", path, NULL, NULL, NULL, &live);
	if (status != 200) {
		ctl_print_status_when(live, status, when);
		rc = status == 0 || status == 401 ? -2 : -1;
		goto out;
	}
	if (!obj_str(obj, "metadata.resourceVersion"))
		obj_set(obj, "metadata.resourceVersion", json_string(obj_str(live, "metadata.resourceVersion") ?: ""));
	status = ctl_request(c, "PUT", path, obj, NULL, NULL, &resp);
	if (status == 200 || status == 201) {
		printf("%s replaced\n", ctl_object_ref(k, name, ref, sizeof(ref)));
		rc = 0;
	} else {
		ctl_print_status_when(resp, status, when);
		rc = status == 0 || status == 401 ? -2 : -1;
	}
out:
	json_decref(live);
	json_decref(resp);
	free(path);
	return rc;
}

int ctl_replace(struct ctl *c, int argc, char **argv)
{
	struct flag_list files = { NULL, 0 };
	bool recursive = false;
	const struct flag *const tables[] = { ctl_global_flags(c), ctl_manifest_flags(&files, &recursive), NULL };
	int npos, rc = 1;

	ctl_expand_short_flags(argc, argv, "fnv");
	npos = flags_parse(tables, usage, argc, argv);
	if (npos < 0)
		goto out;
	if (npos > 0) {
		fprintf(stderr, "error: unexpected argument \"%s\": replace takes its objects from -f FILE\n", argv[1]);
		goto out;
	}
	if (!files.n) {
		fprintf(stderr, "error: must specify -f FILE (minictl replace -f FILE|DIR|-)\n");
		goto out;
	}
	rc = ctl_manifests_send(c, &files, recursive, "replace", replace_one, NULL);
out:
	ctl_flag_list_release(&files);
	return rc;
}
