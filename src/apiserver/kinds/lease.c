/*
 * coordination.k8s.io/v1 Lease, the kubelet's heartbeat and the leader
 * election record: no defaults; the duration must be positive and the
 * transition count not negative. Columns HOLDER and AGE.
 */
#include "internal.h"
#include "object.h"
#include "util.h"

#include <string.h>

static void lease_validate(const json_t *obj, const json_t *old, struct field_errors *e)
{
	json_t *d = obj_get(obj, "spec.leaseDurationSeconds"), *t = obj_get(obj, "spec.leaseTransitions");

	if (old)
		validate_object_meta_update(obj, old, e);
	validate_object_meta(obj, true, "dns1123-subdomain", e);
	if (json_is_integer(d) && json_integer_value(d) <= 0)
		field_invalid(e, "spec.leaseDurationSeconds", d, "must be greater than 0");
	if (json_is_integer(t) && json_integer_value(t) < 0)
		field_invalid(e, "spec.leaseTransitions", t, "must be greater than or equal to 0");
}

static json_t *cell_holder(const json_t *obj, time_t now)
{
	return cell_str(obj, "spec.holderIdentity", "");
}

static const struct table_column lease_columns[] = {
	{ "Holder", "string", "", "holderIdentity contains the identity of the holder of a current lease.", 0,
	  cell_holder },
	AGE_COLUMN,
	{ NULL, NULL, NULL, NULL, 0, NULL },
};

const struct kind kind_lease = {
	.group = "coordination.k8s.io",
	.version = "v1",
	.kind = "Lease",
	.plural = "leases",
	.singular = "lease",
	.namespaced = true,
	.short_names = NULL,
	.categories = NULL,
	.subresources = NULL,
	.name_is_label = false,
	.defaults = NULL,
	.validate = lease_validate,
	.columns = lease_columns,
	.field_value = NULL,
};
