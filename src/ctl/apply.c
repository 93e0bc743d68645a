/*
 * `minictl apply -f FILE|DIR|-`: client-side apply, as kubectl does it. A
 * missing object is created with the manifest recorded in the annotation
 * kubectl.kubernetes.io/last-applied-configuration; an existing one gets the
 * three-way strategic merge patch computed from that record, the new
 * manifest and the live object (core/patch.h), so fields others set survive
 * and fields dropped from the manifest go. The record is byte-for-byte what
 * kubectl writes, so the two tools can take turns on the same objects.
 */
#include "ctl/ctl.h"
#include "core/object.h"
#include "core/patch.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APPLY_RETRIES 5

static const char usage[] =
	"usage: minictl apply -f FILE|DIR|- [-R] [-n NS]\n\n"
	"Creates the objects of the manifests that do not exist yet and updates the others to match,\n"
	"keeping fields that other clients set (kubectl apply's three-way merge).\n";

/* obj (stolen) with the record set. New reference. */
static json_t *with_record(json_t *obj, const char *record)
{
	json_object_set_new(obj_ensure(obj, "metadata.annotations"), CTL_LAST_APPLIED, json_string(record));
	return obj;
}

/* One document (ctl_send_fn): create, or patch with the three-way merge. */
static int apply_one(struct ctl *c, const struct ctl_manifest *m, const struct kind *k, json_t *obj,
		     void *arg)
{
	json_t *live = NULL, *original = NULL, *modified = NULL, *patch = NULL, *resp = NULL;
	char *record = NULL, *path = NULL, *err = NULL, when[4300], ref[512];
	const char *name;
	int rc = -1;

	name = obj_name(obj);
	if (!name || !*name) {
		fprintf(stderr, "error: error when applying %s: metadata.name is required: apply finds the object "
				"again by its name (use `minictl create` for generateName)\n", ctl_manifest_where(m));
		goto out;
	}
	record = ctl_last_applied(obj);
	path = ctl_kind_path(k, obj_namespace(obj), name);
	for (int attempt = 0; attempt < APPLY_RETRIES; attempt++) {
		const char *prev;
		int status;

		json_decref(live);
		json_decref(original);
		json_decref(modified);
		json_decref(patch);
		json_decref(resp);
		live = original = modified = patch = resp = NULL;
		status = ctl_request(c, "GET", path, NULL, NULL, NULL, &live);
		if (status == 404) {
			json_t *body = with_record(json_deep_copy(obj), record);
			rc = ctl_create_object(c, k, body, ctl_manifest_where(m));
			json_decref(body);
			goto out;
		}
		if (status != 200) {
			snprintf(when, sizeof(when), "error when retrieving current configuration of %s",
				 ctl_manifest_where(m));
			ctl_print_status_when(live, status, when);
			rc = status == 0 || status == 401 ? -2 : -1;
			goto out;
		}
		prev = obj_annotation(live, CTL_LAST_APPLIED);
		if ((!prev || !*prev) && attempt == 0)
			fprintf(stderr, "Warning: resource %s%s%s/%s is missing the %s annotation which is required by "
					"minictl apply. minictl apply should only be used on resources created "
					"declaratively by either minictl create --save-config or minictl apply. The missing "
					"annotation will be patched automatically.\n",
				k->plural, k->group[0] ? "." : "", k->group, name, CTL_LAST_APPLIED);
		if (prev && *prev) {
			json_error_t jerr;
			original = json_loads(prev, JSON_DECODE_ANY, &jerr);
			if (!json_is_object(original)) {
				fprintf(stderr, "error: error when applying %s: the %s annotation of %s is not a JSON "
						"object (%s); fix or remove it with `minictl annotate`\n",
					ctl_manifest_where(m), CTL_LAST_APPLIED,
					ctl_object_ref(k, name, ref, sizeof(ref)), jerr.text);
				goto out;
			}
		}
		modified = with_record(json_deep_copy(obj), record);
		patch = strategic_merge_three_way(original, modified, live, k->kind, &err);
		if (!patch) {
			fprintf(stderr, "error: error when applying %s: cannot compute the patch for %s: %s\n",
				ctl_manifest_where(m), ctl_object_ref(k, name, ref, sizeof(ref)), err ? err : "?");
			goto out;
		}
		if (!json_object_size(patch)) {
			printf("%s unchanged\n", ctl_object_ref(k, name, ref, sizeof(ref)));
			rc = 0;
			goto out;
		}
		status = ctl_request(c, "PATCH", path, patch, "application/strategic-merge-patch+json", NULL, &resp);
		if (status == 200) {
			printf("%s configured\n", ctl_object_ref(k, name, ref, sizeof(ref)));
			rc = 0;
			goto out;
		}
		if (status == 409 && attempt + 1 < APPLY_RETRIES)
			continue;  /* someone changed it meanwhile: recompute from the new state */
		snprintf(when, sizeof(when), "error when patching %s", ctl_manifest_where(m));
		ctl_print_status_when(resp, status, when);
		rc = status == 0 || status == 401 ? -2 : -1;
		goto out;
	}
out:
	json_decref(live);
	json_decref(original);
	json_decref(modified);
	json_decref(patch);
	json_decref(resp);
	free(record);
	free(path);
	free(err);
	return rc;
}

int ctl_apply(struct ctl *c, int argc, char **argv)
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
		fprintf(stderr, "error: unexpected argument \"%s\": apply takes its objects from -f FILE\n", argv[1]);
		goto out;
	}
	if (!files.n) {
		fprintf(stderr, "error: must specify one of -f and -k (minictl apply -f FILE|DIR|-)\n");
		goto out;
	}
	rc = ctl_manifests_send(c, &files, recursive, "apply", apply_one, NULL);
out:
	ctl_flag_list_release(&files);
	return rc;
}
