/*
 * v1 Namespace, cluster-scoped: defaults add the kubernetes.io/metadata.name
 * label, the "kubernetes" finalizer and phase Active, as the Kubernetes
 * registry does on create; the name must be an RFC 1123 label. Columns
 * STATUS and AGE; status.phase is selectable.
 */
#include "internal.h"
#include "object.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void namespace_defaults(json_t *obj)
{
	const char *name = obj_name(obj), *phase;
	json_t *labels, *fins;

	/* Set on every write, so the label always tells the truth. */
	if (name && *name) {
		labels = obj_ensure(obj, "metadata.labels");
		if (labels)
			json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
	}
	fins = obj_get(obj, "spec.finalizers");
	if (!fins || json_is_null(fins))
		obj_set(obj, "spec.finalizers", json_pack("[s]", "kubernetes"));
	phase = obj_str(obj, "status.phase");
	if (!phase || !*phase)
		obj_set(obj, "status.phase", json_string("Active"));
}

static void namespace_validate(const json_t *obj, const json_t *old, struct field_errors *e)
{
	static const char *const phases[] = { "Active", "Terminating", NULL };
	const char *phase = obj_str(obj, "status.phase");
	json_t *f;
	size_t i;

	if (old)
		validate_object_meta_update(obj, old, e);
	validate_object_meta(obj, false, "dns1123-label", e);
	json_array_foreach(obj_get(obj, "spec.finalizers"), i, f) {
		const char *s = json_string_value(f) ? json_string_value(f) : "";
		check_field_qualified_name(e, "spec.finalizers", s);
		if (!strchr(s, '/') && strcmp(s, "kubernetes") && strcmp(s, "orphan") && strcmp(s, "foregroundDeletion"))
			field_invalid_str(e, "spec.finalizers", s,
					  "name is neither a standard finalizer name nor is it fully qualified");
	}
	if (phase && *phase && strcmp(phase, "Active") && strcmp(phase, "Terminating"))
		field_not_supported(e, "status.phase", obj_get(obj, "status.phase"), phases);
}

static json_t *cell_status(const json_t *obj, time_t now)
{
	return cell_str(obj, "status.phase", "");
}

static const struct table_column namespace_columns[] = {
	{ "Status", "string", "", "The status of the namespace", 0, cell_status },
	AGE_COLUMN,
	{ NULL, NULL, NULL, NULL, 0, NULL },
};

static const char *namespace_field_value(const json_t *obj, const char *field)
{
	if (!strcmp(field, "status.phase")) {
		const char *p = obj_str(obj, "status.phase");
		return p ? p : "";
	}
	return NULL;
}

static const char *const ns_short[] = { "ns", NULL };
static const char *const ns_subresources[] = { "status", NULL };

/* Every field namespace_field_value() answers for. */
static const char *const namespace_fields[] = { "status.phase", NULL };

const struct kind kind_namespace = {
	.group = "",
	.version = "v1",
	.kind = "Namespace",
	.plural = "namespaces",
	.singular = "namespace",
	.namespaced = false,
	.short_names = ns_short,
	.categories = NULL,
	.subresources = ns_subresources,
	.name_is_label = true,
	.defaults = namespace_defaults,
	.validate = namespace_validate,
	.columns = namespace_columns,
	.field_value = namespace_field_value,
	.fields = namespace_fields,
};
