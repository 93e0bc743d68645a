/*
 * v1 ConfigMap: keys must be valid config keys, data and binaryData may not
 * share a key, the whole may not pass 1 MiB, and an immutable ConfigMap
 * keeps its data. Columns DATA (number of keys) and AGE.
 */
#include "internal.h"
#include "object.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIZE 1048576

static void check_keys(const json_t *bag, const json_t *other, const char *name, const char *other_name,
		       size_t *total, struct field_errors *e)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)bag, k, v) {
		char *p = xasprintf("%s[%s]", name, k);
		check_field_config_key(e, p, k);
		if (json_object_get(other, k)) {
			char *d = xasprintf("duplicate of key present in %s", other_name);
			field_invalid_str(e, p, k, d);
			free(d);
		}
		if (json_is_string(v))
			*total += json_string_length(v);
		free(p);
	}
}

static bool same_or_both_empty(const json_t *a, const json_t *b)
{
	if (json_object_size(a) == 0 && json_object_size(b) == 0)
		return true;
	return a && b && json_equal((json_t *)a, (json_t *)b);
}

static void configmap_validate(const json_t *obj, const json_t *old, struct field_errors *e)
{
	json_t *data = json_object_get(obj, "data"), *bin = json_object_get(obj, "binaryData");
	size_t total = 0;

	if (old) {
		validate_object_meta_update(obj, old, e);
		if (json_is_true(json_object_get(old, "immutable"))) {
			if (!json_is_true(json_object_get(obj, "immutable")))
				field_forbidden(e, "immutable", "field is immutable when `immutable` is set");
			if (!same_or_both_empty(data, json_object_get(old, "data")))
				field_forbidden(e, "data", "field is immutable when `immutable` is set");
			if (!same_or_both_empty(bin, json_object_get(old, "binaryData")))
				field_forbidden(e, "binaryData", "field is immutable when `immutable` is set");
		}
	}
	validate_object_meta(obj, true, "dns1123-subdomain", e);
	check_keys(data, bin, "data", "binaryData", &total, e);
	/* binaryData values are base64: count what they decode to. */
	{
		size_t bin_total = 0;
		check_keys(bin, data, "binaryData", "data", &bin_total, e);
		total += bin_total / 4 * 3;
	}
	if (total > MAX_SIZE)
		field_too_long(e, "", MAX_SIZE);
}

static json_t *cell_data(const json_t *obj, time_t now)
{
	return json_integer((json_int_t)(json_object_size(json_object_get(obj, "data")) +
					 json_object_size(json_object_get(obj, "binaryData"))));
}

static const struct table_column configmap_columns[] = {
	{ "Data", "string", "", "Data contains the configuration data.", 0, cell_data },
	AGE_COLUMN,
	{ NULL, NULL, NULL, NULL, 0, NULL },
};

static const char *const cm_short[] = { "cm", NULL };

const struct kind kind_configmap = {
	.group = "",
	.version = "v1",
	.kind = "ConfigMap",
	.plural = "configmaps",
	.singular = "configmap",
	.namespaced = true,
	.short_names = cm_short,
	.categories = NULL,
	.subresources = NULL,
	.name_is_label = false,
	.defaults = NULL,
	.validate = configmap_validate,
	.columns = configmap_columns,
	.field_value = NULL,
};
