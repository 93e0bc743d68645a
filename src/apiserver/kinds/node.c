/*
 * v1 Node, cluster-scoped and registered by each kubelet: allocatable
 * defaults to capacity and podCIDR/podCIDRs are kept in step (the v1
 * conversion does that in Kubernetes); taints, quantities and CIDRs are
 * checked, and a pod CIDR once set cannot change. Columns STATUS (Ready,
 * NotReady, ",SchedulingDisabled"), ROLES from node-role labels, VERSION and
 * the wide addresses and system info.
 */
#include "internal.h"
#include "object.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const taint_effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute", NULL };

static void node_defaults(json_t *obj)
{
	json_t *cap = obj_get(obj, "status.capacity"), *alloc = obj_get(obj, "status.allocatable");
	json_t *spec = obj_get(obj, "spec"), *cidrs;
	const char *cidr;

	if (json_is_object(cap) && (!alloc || json_is_null(alloc)))
		obj_set(obj, "status.allocatable", json_deep_copy(cap));
	if (!json_is_object(spec))
		return;
	cidr = obj_str(spec, "podCIDR");
	cidrs = json_object_get(spec, "podCIDRs");
	if (cidr && *cidr && json_array_size(cidrs) == 0)
		json_object_set_new(spec, "podCIDRs", json_pack("[s]", cidr));
	else if ((!cidr || !*cidr) && json_is_string(json_array_get(cidrs, 0)))
		json_object_set(spec, "podCIDR", json_array_get(cidrs, 0));
}

static void validate_taints(const json_t *taints, struct field_errors *e)
{
	json_t *seen = json_object(), *t;
	size_t i;

	json_array_foreach(taints, i, t) {
		/* Kubernetes reports these under metadata.taints, not spec.taints. */
		char *base = xasprintf("metadata.taints[%zu]", i), *p, *msgs, *key;
		const char *k = obj_str(t, "key") ? obj_str(t, "key") : "", *effect = obj_str(t, "effect");

		p = xasprintf("%s.key", base);
		check_field_qualified_name(e, p, k);
		free(p);
		msgs = label_value_msgs_joined(obj_str(t, "value"));
		if (msgs) {
			p = xasprintf("%s.value", base);
			field_invalid_str(e, p, obj_str(t, "value"), msgs);
			free(p);
			free(msgs);
		}
		p = xasprintf("%s.effect", base);
		if (!effect || !*effect)
			field_required(e, p, NULL);
		else if (strcmp(effect, "NoSchedule") && strcmp(effect, "PreferNoSchedule") && strcmp(effect, "NoExecute"))
			field_not_supported(e, p, json_object_get(t, "effect"), taint_effects);
		free(p);
		key = xasprintf("%s\n%s", effect ? effect : "", k);
		if (json_object_get(seen, key)) {
			char *v = obj_dump(t, NULL);
			field_duplicate_raw(e, base, v, "taints must be unique by key and effect pair");
			free(v);
		}
		json_object_set_new(seen, key, json_true());
		free(key);
		free(base);
	}
	json_decref(seen);
}

static void validate_quantities(const json_t *list, const char *path, struct field_errors *e)
{
	const char *name;
	json_t *q;

	json_object_foreach((json_t *)list, name, q) {
		char *p = xasprintf("%s.%s", path, name);
		double d;
		if (quantity_parse_json(q, &d) < 0)
			field_invalid(e, p, q, MSG_QUANTITY);
		else if (d < 0)
			field_invalid(e, p, q, "must be greater than or equal to 0");
		free(p);
	}
}

static void node_validate(const json_t *obj, const json_t *old, struct field_errors *e)
{
	json_t *cidrs = obj_get(obj, "spec.podCIDRs"), *c;
	size_t i;

	if (old)
		validate_object_meta_update(obj, old, e);
	validate_object_meta(obj, false, "dns1123-subdomain", e);
	validate_taints(obj_get(obj, "spec.taints"), e);
	validate_quantities(obj_get(obj, "status.capacity"), "status.capacity", e);
	validate_quantities(obj_get(obj, "status.allocatable"), "status.allocatable", e);
	json_array_foreach(cidrs, i, c) {
		if (!cidr_valid(json_string_value(c))) {
			char *p = xasprintf("spec.podCIDRs[%zu]", i);
			field_invalid(e, p, c, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
			free(p);
		}
	}
	if (json_array_size(cidrs) > 2)
		field_invalid(e, "spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family");
	if (old) {
		json_t *ocidrs = obj_get(old, "spec.podCIDRs");
		const char *opid = obj_str(old, "spec.providerID"), *npid = obj_str(obj, "spec.providerID");

		/* The node IPAM controller may set a pod CIDR once; nobody may change it. */
		if (json_array_size(ocidrs) > 0 && !json_equal(ocidrs, cidrs ? cidrs : json_null()))
			field_forbidden(e, "spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid");
		if (opid && *opid && (!npid || strcmp(opid, npid)))
			field_forbidden(e, "spec.providerID", "node updates may not change providerID except from \"\" to valid");
	}
}

/* ---- table ------------------------------------------------------------------ */

static json_t *cell_status(const json_t *obj, time_t now)
{
	const char *status = "Unknown";
	char buf[64];
	json_t *c;
	size_t i;

	json_array_foreach(obj_get(obj, "status.conditions"), i, c) {
		const char *t = obj_str(c, "type"), *s = obj_str(c, "status");
		if (t && !strcmp(t, "Ready"))
			status = s && !strcmp(s, "True") ? "Ready" : "NotReady";
	}
	snprintf(buf, sizeof(buf), "%s%s", status,
		 obj_bool(obj, "spec.unschedulable", false) ? ",SchedulingDisabled" : "");
	return json_string(buf);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Roles from node-role.kubernetes.io/<role> keys and the old kubernetes.io/role value. */
static json_t *cell_roles(const json_t *obj, time_t now)
{
	json_t *labels = obj_get(obj, "metadata.labels"), *v, *out;
	const char **roles = xcalloc(json_object_size(labels) + 1, sizeof(*roles));
	size_t n = 0;
	const char *k;
	struct strbuf sb;

	json_object_foreach(labels, k, v) {
		const char *role = NULL;
		if (str_has_prefix(k, "node-role.kubernetes.io/") && k[strlen("node-role.kubernetes.io/")])
			role = k + strlen("node-role.kubernetes.io/");
		else if (!strcmp(k, "kubernetes.io/role") && json_string_value(v) && *json_string_value(v))
			role = json_string_value(v);
		if (!role)
			continue;
		bool dup = false;
		for (size_t i = 0; i < n && !dup; i++)
			dup = !strcmp(roles[i], role);
		if (!dup)
			roles[n++] = role;
	}
	qsort(roles, n, sizeof(*roles), cmp_str);
	strbuf_init(&sb, 32);
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&sb, "%s%s", i ? "," : "", roles[i]);
	out = json_string(n ? sb.buf : "<none>");
	strbuf_release(&sb);
	free(roles);
	return out;
}

static json_t *cell_version(const json_t *obj, time_t now)
{
	return cell_str(obj, "status.nodeInfo.kubeletVersion", "");
}

static json_t *address(const json_t *obj, const char *type)
{
	json_t *a;
	size_t i;

	json_array_foreach(obj_get(obj, "status.addresses"), i, a) {
		const char *t = obj_str(a, "type");
		if (t && !strcmp(t, type))
			return cell_str(a, "address", "");
	}
	return json_string("<none>");
}

static json_t *cell_internal_ip(const json_t *obj, time_t now)
{
	return address(obj, "InternalIP");
}

static json_t *cell_external_ip(const json_t *obj, time_t now)
{
	return address(obj, "ExternalIP");
}

static json_t *info(const json_t *obj, const char *field)
{
	const char *s = obj_str(obj_get(obj, "status.nodeInfo"), field);
	return json_string(s && *s ? s : "<unknown>");
}

static json_t *cell_os_image(const json_t *obj, time_t now)
{
	return info(obj, "osImage");
}

static json_t *cell_kernel(const json_t *obj, time_t now)
{
	return info(obj, "kernelVersion");
}

static json_t *cell_runtime(const json_t *obj, time_t now)
{
	return info(obj, "containerRuntimeVersion");
}

#define ADDRESSES_DESCRIPTION "List of addresses reachable to the node."

static const struct table_column node_columns[] = {
	{ "Status", "string", "", "The status of the node", 0, cell_status },
	{ "Roles", "string", "", "The roles of the node", 0, cell_roles },
	AGE_COLUMN,
	{ "Version", "string", "", "Kubelet Version reported by the node.", 0, cell_version },
	{ "Internal-IP", "string", "", ADDRESSES_DESCRIPTION, 1, cell_internal_ip },
	{ "External-IP", "string", "", ADDRESSES_DESCRIPTION, 1, cell_external_ip },
	{ "OS-Image", "string", "", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 "
				    "(wheezy)).", 1, cell_os_image },
	{ "Kernel-Version", "string", "", "Kernel Version reported by the node from 'uname -r' (e.g. "
					  "3.16.0-0.bpo.4-amd64).", 1, cell_kernel },
	{ "Container-Runtime", "string", "", "ContainerRuntime Version reported by the node through runtime "
					     "remote API (e.g. containerd://1.4.2).", 1, cell_runtime },
	{ NULL, NULL, NULL, NULL, 0, NULL },
};

static const char *node_field_value(const json_t *obj, const char *field)
{
	if (!strcmp(field, "spec.unschedulable"))
		return obj_bool(obj, "spec.unschedulable", false) ? "true" : "false";
	return NULL;
}

static const char *const node_short[] = { "no", NULL };
static const char *const node_subresources[] = { "status", NULL };

/* Every field node_field_value() answers for. */
static const char *const node_fields[] = { "spec.unschedulable", NULL };

const struct kind kind_node = {
	.group = "",
	.version = "v1",
	.kind = "Node",
	.plural = "nodes",
	.singular = "node",
	.namespaced = false,
	.short_names = node_short,
	.categories = NULL,
	.subresources = node_subresources,
	.name_is_label = false,
	.defaults = node_defaults,
	.validate = node_validate,
	.columns = node_columns,
	.field_value = node_field_value,
	.fields = node_fields,
};
