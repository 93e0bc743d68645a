/*
 * apps/v1 ReplicaSet: replicas default to 1 and the template gets pod
 * defaults; validation is Kubernetes' ValidateReplicaSet with its selector
 * and template rules, which Deployment shares through
 * workload_validate_selector_template(); the selector cannot change after
 * creation. Columns DESIRED / CURRENT / READY as kubectl prints them.
 */
#include "internal.h"
#include "object.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void workload_validate_selector_template(const json_t *spec, struct field_errors *e)
{
	static const char *const always[] = { "Always", NULL };
	json_t *sel = json_object_get(spec, "selector"), *tmpl = json_object_get(spec, "template");
	json_t *labels = obj_get(tmpl, "metadata.labels");
	const char *rp = obj_str(tmpl, "spec.restartPolicy");
	bool nil = !sel || json_is_null(sel);
	int match;

	if (nil) {
		field_required(e, "spec.selector", NULL);
	} else {
		validate_label_selector(e, "spec.selector", sel);
		if (selector_is_empty(sel)) {
			char *v = go_label_selector(sel);
			/* Kubernetes says "deployment" for ReplicaSets too. */
			field_invalid_raw(e, "spec.selector", v, "empty selector is invalid for deployment");
			free(v);
		}
	}
	match = selector_matches(sel, labels);
	if (match < 0) {
		char *v = go_label_selector(sel);
		field_invalid_raw(e, "spec.selector", v, "invalid label selector");
		free(v);
		return;
	}
	/* A nil selector selects nothing, so it never matches; {} matches all
	 * and is not compared. */
	if ((nil || !selector_is_empty(sel)) && !match) {
		char *v = go_string_map(labels);
		field_invalid_raw(e, "spec.template.metadata.labels", v, "`selector` does not match template `labels`");
		free(v);
	}
	pod_template_validate(tmpl, "spec.template", e);
	if (!rp || strcmp(rp, "Always")) {
		json_t *v = json_string(rp ? rp : "");
		field_not_supported(e, "spec.template.spec.restartPolicy", v, always);
		json_decref(v);
	}
	if (obj_get(tmpl, "spec.activeDeadlineSeconds") && !json_is_null(obj_get(tmpl, "spec.activeDeadlineSeconds")))
		field_forbidden(e, "spec.template.spec.activeDeadlineSeconds",
				"activeDeadlineSeconds in ReplicaSet is not Supported");
}

static void replicaset_defaults(json_t *obj)
{
	json_t *spec = obj_ensure(obj, "spec"), *r;

	if (!spec)
		return;
	r = json_object_get(spec, "replicas");
	if (!r || json_is_null(r))
		json_object_set_new(spec, "replicas", json_integer(1));
	pod_spec_defaults(obj_get(obj, "spec.template.spec"));
}

static void replicaset_validate(const json_t *obj, const json_t *old, struct field_errors *e)
{
	const json_t *spec = obj_get(obj, "spec");

	if (old)
		validate_object_meta_update(obj, old, e);
	validate_object_meta(obj, true, "dns1123-subdomain", e);
	check_field_nonnegative(e, "spec.replicas", json_object_get(spec, "replicas"));
	check_field_nonnegative(e, "spec.minReadySeconds", json_object_get(spec, "minReadySeconds"));
	workload_validate_selector_template(spec, e);
	if (old && !selector_equal(json_object_get(spec, "selector"), obj_get(old, "spec.selector"))) {
		char *v = go_label_selector(json_object_get(spec, "selector"));
		field_invalid_raw(e, "spec.selector", v, "field is immutable");
		free(v);
	}
}

static json_t *cell_desired(const json_t *obj, time_t now)
{
	return cell_int(obj, "spec.replicas");
}

static json_t *cell_current(const json_t *obj, time_t now)
{
	return cell_int(obj, "status.replicas");
}

static json_t *cell_ready(const json_t *obj, time_t now)
{
	return cell_int(obj, "status.readyReplicas");
}

/* metav1.FormatLabelSelector: "<none>" for an empty one, "<error>" for a bad one. */
static json_t *cell_selector(const json_t *obj, time_t now)
{
	char *s = selector_string(obj_get(obj, "spec.selector"));
	json_t *out = json_string(!s ? "<error>" : *s ? s : "<none>");

	free(s);
	return out;
}

static const struct table_column replicaset_columns[] = {
	{ "Desired", "integer", "", "Replicas is the number of desired pods.", 0, cell_desired },
	{ "Current", "integer", "", "Replicas is the most recently observed number of replicas.", 0, cell_current },
	{ "Ready", "integer", "", "readyReplicas is the number of pods targeted by this ReplicaSet with a Ready "
				  "Condition.", 0, cell_ready },
	AGE_COLUMN,
	{ "Containers", "string", "", "Names of each container in the template.", 1, cell_template_containers },
	{ "Images", "string", "", "Images referenced by each container in the template.", 1, cell_template_images },
	{ "Selector", "string", "", "Selector is a label query over pods that should match the replica count.", 1,
	  cell_selector },
	{ NULL, NULL, NULL, NULL, 0, NULL },
};

static const char *replicaset_field_value(const json_t *obj, const char *field)
{
	static __thread char buf[24];

	if (!strcmp(field, "status.replicas")) {
		snprintf(buf, sizeof(buf), "%" PRId64, obj_int(obj, "status.replicas", 0));
		return buf;
	}
	return NULL;
}

static const char *const rs_short[] = { "rs", NULL };
static const char *const rs_categories[] = { "all", NULL };
static const char *const rs_subresources[] = { "status", "scale", NULL };

/* Every field replicaset_field_value() answers for. */
static const char *const replicaset_fields[] = { "status.replicas", NULL };

const struct kind kind_replicaset = {
	.group = "apps",
	.version = "v1",
	.kind = "ReplicaSet",
	.plural = "replicasets",
	.singular = "replicaset",
	.namespaced = true,
	.short_names = rs_short,
	.categories = rs_categories,
	.subresources = rs_subresources,
	.name_is_label = false,
	.tracks_generation = true,
	.defaults = replicaset_defaults,
	.validate = replicaset_validate,
	.columns = replicaset_columns,
	.field_value = replicaset_field_value,
	.fields = replicaset_fields,
};
