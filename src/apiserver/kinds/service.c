/*
 * v1 Service: SetDefaults_Service (type, session affinity, port protocol and
 * targetPort, traffic policies) plus the clusterIP/clusterIPs/ipFamilies
 * normalisation the Kubernetes registry does before validating, then
 * ValidateService and ValidateServiceUpdate with their messages, and the
 * TYPE / CLUSTER-IP / EXTERNAL-IP / PORT(S) columns. Allocation of cluster
 * IPs and node ports is the allocator's job, not this file's.
 */
#include "internal.h"
#include "object.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const protocols[] = { "SCTP", "TCP", "UDP", NULL };

static bool streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static bool empty(const char *s)
{
	return !s || !*s;
}

static void set_if_empty(json_t *o, const char *key, const char *value)
{
	if (empty(json_string_value(json_object_get(o, key))))
		json_object_set_new(o, key, json_string(value));
}

static bool externally_accessible(const json_t *spec)
{
	const char *type = obj_str(spec, "type");
	return streq(type, "LoadBalancer") || streq(type, "NodePort") ||
	       (streq(type, "ClusterIP") && json_array_size(json_object_get(spec, "externalIPs")) > 0);
}

static void service_defaults(json_t *obj)
{
	json_t *spec = obj_ensure(obj, "spec"), *p, *ing;
	const char *type, *cip;
	size_t i;

	if (!spec)
		return;
	set_if_empty(spec, "sessionAffinity", "None");
	if (streq(obj_str(spec, "sessionAffinity"), "None")) {
		json_object_del(spec, "sessionAffinityConfig");
	} else if (streq(obj_str(spec, "sessionAffinity"), "ClientIP") &&
		   !json_is_integer(obj_get(spec, "sessionAffinityConfig.clientIP.timeoutSeconds"))) {
		obj_set(spec, "sessionAffinityConfig.clientIP.timeoutSeconds", json_integer(10800));
	}
	set_if_empty(spec, "type", "ClusterIP");
	type = obj_str(spec, "type");
	json_array_foreach(json_object_get(spec, "ports"), i, p) {
		json_t *tp;
		if (!json_is_object(p))
			continue;
		set_if_empty(p, "protocol", "TCP");
		tp = json_object_get(p, "targetPort");
		if (!tp || json_is_null(tp) || (json_is_integer(tp) && json_integer_value(tp) == 0) ||
		    (json_is_string(tp) && !*json_string_value(tp))) {
			json_t *port = json_object_get(p, "port");
			json_object_set_new(p, "targetPort", json_is_integer(port) ? json_copy(port) : json_integer(0));
		}
	}
	if (externally_accessible(spec))
		set_if_empty(spec, "externalTrafficPolicy", "Cluster");
	if (!json_object_get(spec, "internalTrafficPolicy") &&
	    (streq(type, "NodePort") || streq(type, "LoadBalancer") || streq(type, "ClusterIP")))
		json_object_set_new(spec, "internalTrafficPolicy", json_string("Cluster"));
	if (streq(type, "LoadBalancer")) {
		if (!json_object_get(spec, "allocateLoadBalancerNodePorts"))
			json_object_set_new(spec, "allocateLoadBalancerNodePorts", json_true());
		json_array_foreach(obj_get(obj, "status.loadBalancer.ingress"), i, ing)
			if (!empty(obj_str(ing, "ip")) && !json_object_get(ing, "ipMode"))
				json_object_set_new(ing, "ipMode", json_string("VIP"));
	}
	/* What the registry's strategy does before validation: keep clusterIP
	 * and clusterIPs in step, and give a single-stack cluster's families. */
	cip = obj_str(spec, "clusterIP");
	if (!empty(cip) && !json_object_get(spec, "clusterIPs"))
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", cip));
	else if (empty(cip) && json_is_string(json_array_get(json_object_get(spec, "clusterIPs"), 0)))
		json_object_set(spec, "clusterIP", json_array_get(json_object_get(spec, "clusterIPs"), 0));
	if (!streq(type, "ExternalName")) {
		set_if_empty(spec, "ipFamilyPolicy", "SingleStack");
		if (!json_array_size(json_object_get(spec, "ipFamilies")))
			json_object_set_new(spec, "ipFamilies", json_pack("[s]", "IPv4"));
	}
	if (!obj_get(obj, "status.loadBalancer"))
		obj_set(obj, "status.loadBalancer", json_object());
}

/* ---- validation ----------------------------------------------------------------- */

static bool headless(const json_t *spec)
{
	json_t *ips = json_object_get(spec, "clusterIPs");

	if (json_array_size(ips) == 1)
		return streq(json_string_value(json_array_get(ips, 0)), "None");
	return streq(obj_str(spec, "clusterIP"), "None");
}

static void validate_port(const json_t *sp, bool require_name, json_t *names, const char *path, struct field_errors *e)
{
	const char *name = obj_str(sp, "name"), *proto = obj_str(sp, "protocol");
	json_t *ap = json_object_get(sp, "appProtocol");
	char *p = xasprintf("%s.name", path);

	if (require_name && empty(name)) {
		field_required(e, p, NULL);
	} else if (!empty(name)) {
		check_field_dns1123_label(e, p, name);
		if (json_object_get(names, name))
			field_duplicate(e, p, json_object_get(sp, "name"));
		else
			json_object_set_new(names, name, json_true());
	}
	free(p);
	p = xasprintf("%s.port", path);
	check_field_port_num(e, p, obj_int(sp, "port", 0));
	free(p);
	p = xasprintf("%s.protocol", path);
	if (empty(proto))
		field_required(e, p, NULL);
	else if (strcmp(proto, "TCP") && strcmp(proto, "UDP") && strcmp(proto, "SCTP"))
		field_not_supported(e, p, json_object_get(sp, "protocol"), protocols);
	free(p);
	p = xasprintf("%s.targetPort", path);
	check_field_port_num_or_name(e, p, json_object_get(sp, "targetPort"));
	free(p);
	if (json_is_string(ap)) {
		p = xasprintf("%s.appProtocol", path);
		check_field_qualified_name(e, p, json_string_value(ap));
		free(p);
	}
}

static json_t *cluster_ips(const json_t *spec)
{
	json_t *ips = json_object_get(spec, "clusterIPs");
	const char *cip = obj_str(spec, "clusterIP");

	if (json_is_array(ips))
		return json_incref(ips);
	return empty(cip) ? json_array() : json_pack("[s]", cip);
}

static void validate_cluster_ips(const json_t *spec, struct field_errors *e)
{
	static const char *const families[] = { "IPv4", "IPv6", NULL };
	static const char *const policies[] = { "PreferDualStack", "RequireDualStack", "SingleStack", NULL };
	json_t *ips = json_object_get(spec, "clusterIPs"), *x;
	const char *cip = obj_str(spec, "clusterIP"), *pol = obj_str(spec, "ipFamilyPolicy");
	char *rendered = go_string_slice(ips);
	json_t *seen = json_object();
	size_t i;

	if (!empty(cip)) {
		if (json_array_size(ips) == 0)
			field_required(e, "spec.clusterIPs", NULL);
		else if (!streq(json_string_value(json_array_get(ips, 0)), cip))
			field_invalid_raw(e, "spec.clusterIPs", rendered, "first value must match `clusterIP`");
	} else if (json_array_size(ips)) {
		field_invalid_raw(e, "spec.clusterIPs", rendered, "must be empty when `clusterIP` is not specified");
	}
	json_array_foreach(json_object_get(spec, "ipFamilies"), i, x) {
		const char *f = json_string_value(x);
		char *p = xasprintf("spec.ipFamilies[%zu]", i);
		if (!streq(f, "IPv4") && !streq(f, "IPv6"))
			field_not_supported(e, p, x, families);
		if (f && json_object_get(seen, f))
			field_duplicate(e, p, x);
		if (f)
			json_object_set_new(seen, f, json_true());
		free(p);
	}
	if (pol && !streq(pol, "SingleStack") && !streq(pol, "PreferDualStack") && !streq(pol, "RequireDualStack"))
		field_not_supported(e, "spec.ipFamilyPolicy", json_object_get(spec, "ipFamilyPolicy"), policies);
	json_array_foreach(ips, i, x) {
		const char *ip = json_string_value(x);
		if (i == 0 && streq(ip, "None")) {
			if (json_array_size(ips) > 1)
				field_invalid_raw(e, "spec.clusterIPs", rendered, "'None' must be the first and only value");
			continue;
		}
		if (!ip_valid(ip)) {
			char *p = xasprintf("spec.clusterIPs[%zu]", i);
			field_invalid_str(e, p, ip ? ip : "", MSG_INVALID_IP);
			free(p);
		}
	}
	if (json_array_size(ips) > 2)
		field_invalid_raw(e, "spec.clusterIPs", rendered, "may only hold up to 2 values");
	json_decref(seen);
	free(rendered);
}

static void validate_service_spec(const json_t *obj, struct field_errors *e)
{
	static const char *const types[] = { "ClusterIP", "ExternalName", "LoadBalancer", "NodePort", NULL };
	static const char *const affinities[] = { "ClientIP", "None", NULL };
	static const char *const etps[] = { "Cluster", "Local", NULL };
	const json_t *spec = obj_get(obj, "spec");
	json_t *ports = json_object_get(spec, "ports"), *p, *names, *seen;
	const char *type = obj_str(spec, "type"), *aff = obj_str(spec, "sessionAffinity");
	const char *etp = obj_str(spec, "externalTrafficPolicy");
	json_t *itp = json_object_get(spec, "internalTrafficPolicy");
	size_t i;

	if (json_array_size(ports) == 0 && !headless(spec) && !streq(type, "ExternalName"))
		field_required(e, "spec.ports", NULL);
	if (streq(type, "LoadBalancer")) {
		if (headless(spec))
			field_invalid_str(e, "spec.clusterIPs[0]", "None", "may not be set to 'None' for LoadBalancer services");
		json_array_foreach(ports, i, p) {
			if (obj_int(p, "port", 0) == 10250) {
				char *q = xasprintf("spec.ports[%zu]", i);
				field_invalid_int(e, q, 10250, "may not expose port 10250 externally since it is used by kubelet");
				free(q);
			}
		}
	} else if (streq(type, "NodePort")) {
		if (headless(spec))
			field_invalid_str(e, "spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services");
	} else if (streq(type, "ExternalName")) {
		const char *cname = obj_str(spec, "externalName");
		if (json_array_size(json_object_get(spec, "clusterIPs")) > 0)
			field_forbidden(e, "spec.clusterIPs", "may not be set for ExternalName services");
		if (json_array_size(json_object_get(spec, "ipFamilies")) > 0)
			field_forbidden(e, "spec.ipFamilies", "may not be set for ExternalName services");
		if (json_object_get(spec, "ipFamilyPolicy") && !json_is_null(json_object_get(spec, "ipFamilyPolicy")))
			field_forbidden(e, "spec.ipFamilyPolicy", "may not be set for ExternalName services");
		if (empty(cname) || !strcmp(cname, ".")) {
			field_required(e, "spec.externalName", NULL);
		} else {
			/* A trailing dot marks the name fully qualified. */
			char *c = xstrdup(cname);
			if (c[strlen(c) - 1] == '.')
				c[strlen(c) - 1] = '\0';
			check_field_dns1123_subdomain(e, "spec.externalName", c);
			free(c);
		}
	}
	names = json_object();
	json_array_foreach(ports, i, p) {
		char *q = xasprintf("spec.ports[%zu]", i);
		validate_port(p, json_array_size(ports) > 1, names, q, e);
		free(q);
	}
	json_decref(names);
	if (json_object_get(spec, "selector"))
		validate_labels(e, "spec.selector", json_object_get(spec, "selector"));
	if (empty(aff))
		field_required(e, "spec.sessionAffinity", NULL);
	else if (strcmp(aff, "ClientIP") && strcmp(aff, "None"))
		field_not_supported(e, "spec.sessionAffinity", json_object_get(spec, "sessionAffinity"), affinities);
	if (streq(aff, "ClientIP")) {
		json_t *t = obj_get(spec, "sessionAffinityConfig.clientIP.timeoutSeconds");
		if (!obj_get(spec, "sessionAffinityConfig.clientIP"))
			field_required(e, "spec.sessionAffinityConfig.clientIP", "when session affinity type is ClientIP");
		else if (!json_is_integer(t) || json_integer_value(t) <= 0 || json_integer_value(t) > 86400)
			field_invalid(e, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", t,
				      "must be greater than 0 and less than 86400");
	} else if (streq(aff, "None") && obj_get(spec, "sessionAffinityConfig")) {
		field_forbidden(e, "spec.sessionAffinityConfig", "must not be set when session affinity is None");
	}
	validate_cluster_ips(spec, e);
	json_array_foreach(json_object_get(spec, "externalIPs"), i, p) {
		if (!ip_valid(json_string_value(p))) {
			char *q = xasprintf("spec.externalIPs[%zu]", i);
			field_invalid_str(e, q, json_string_value(p), MSG_INVALID_IP);
			free(q);
		}
	}
	if (empty(type))
		field_required(e, "spec.type", NULL);
	else if (strcmp(type, "ClusterIP") && strcmp(type, "NodePort") && strcmp(type, "LoadBalancer") &&
		 strcmp(type, "ExternalName"))
		field_not_supported(e, "spec.type", json_object_get(spec, "type"), types);
	if (streq(type, "ClusterIP")) {
		json_array_foreach(ports, i, p) {
			if (obj_int(p, "nodePort", 0) != 0) {
				char *q = xasprintf("spec.ports[%zu].nodePort", i);
				field_forbidden(e, q, "may not be used when `type` is 'ClusterIP'");
				free(q);
			}
		}
	}
	seen = json_object();
	json_array_foreach(ports, i, p) {
		int64_t np = obj_int(p, "nodePort", 0);
		char *key, *q;
		if (np == 0)
			continue;
		key = xasprintf("%s/%" PRId64, obj_str(p, "protocol") ? obj_str(p, "protocol") : "", np);
		if (json_object_get(seen, key)) {
			q = xasprintf("spec.ports[%zu].nodePort", i);
			field_duplicate(e, q, json_object_get(p, "nodePort"));
			free(q);
		}
		json_object_set_new(seen, key, json_true());
		free(key);
	}
	json_object_clear(seen);
	json_array_foreach(ports, i, p) {
		const char *proto = obj_str(p, "protocol") ? obj_str(p, "protocol") : "";
		int64_t port = obj_int(p, "port", 0);
		char *key = xasprintf("%s/%" PRId64, proto, port), *q;
		if (json_object_get(seen, key)) {
			/* Kubernetes prints the whole ServicePort key it used. */
			char *pq = go_quote(proto), *v;
			v = xasprintf("core.ServicePort{Name:\"\", Protocol:%s, AppProtocol:(*string)(nil), Port:%" PRId64
				      ", TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
				      pq, port);
			q = xasprintf("spec.ports[%zu]", i);
			field_duplicate_raw(e, q, v, NULL);
			free(q);
			free(v);
			free(pq);
		}
		json_object_set_new(seen, key, json_true());
		free(key);
	}
	json_decref(seen);
	if (!externally_accessible(spec)) {
		if (!empty(etp))
			field_invalid_str(e, "spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services");
	} else if (!empty(etp) && strcmp(etp, "Cluster") && strcmp(etp, "Local")) {
		field_not_supported(e, "spec.externalTrafficPolicy", json_object_get(spec, "externalTrafficPolicy"), etps);
	}
	if ((!itp || json_is_null(itp)) && (streq(type, "NodePort") || streq(type, "LoadBalancer") || streq(type, "ClusterIP")))
		field_required(e, "spec.internalTrafficPolicy", "must be Cluster or Local");
	if (itp && !json_is_null(itp) && !streq(json_string_value(itp), "Cluster") && !streq(json_string_value(itp), "Local"))
		field_not_supported(e, "spec.internalTrafficPolicy", itp, etps);
}

/* Cluster IPs may be added or dropped as secondaries, never changed. A body
 * without any keeps the stored ones (the handler copies them over). */
static void validate_cluster_ips_update(const json_t *spec, const json_t *ospec, struct field_errors *e)
{
	json_t *n, *o;
	size_t nn, no;
	char *rendered;

	if (streq(obj_str(spec, "type"), "ExternalName") || streq(obj_str(ospec, "type"), "ExternalName"))
		return;
	n = cluster_ips(spec);
	o = cluster_ips(ospec);
	nn = json_array_size(n);
	no = json_array_size(o);
	rendered = go_string_slice(n);
	if (nn && no) {
		if (nn == no) {
			for (size_t i = 0; i < no; i++) {
				if (!json_equal(json_array_get(n, i), json_array_get(o, i))) {
					char *p = xasprintf("spec.clusterIPs[%zu]", i);
					field_invalid_raw(e, p, rendered, "field is immutable");
					free(p);
				}
			}
		} else if (!json_equal(json_array_get(n, 0), json_array_get(o, 0))) {
			field_invalid_raw(e, "spec.clusterIPs[0]", rendered, "may not change once set");
		}
	}
	free(rendered);
	json_decref(n);
	json_decref(o);
}

static void service_validate(const json_t *obj, const json_t *old, struct field_errors *e)
{
	if (old) {
		validate_object_meta_update(obj, old, e);
		validate_cluster_ips_update(obj_get(obj, "spec"), obj_get(old, "spec"), e);
	}
	validate_object_meta(obj, true, NAME_DNS1035_LABEL, e);
	validate_service_spec(obj, e);
}

/* ---- table --------------------------------------------------------------------- */

static json_t *cell_type(const json_t *obj, time_t now)
{
	return cell_str(obj, "spec.type", "");
}

static json_t *cell_cluster_ip(const json_t *obj, time_t now)
{
	const char *ip = json_string_value(json_array_get(obj_get(obj, "spec.clusterIPs"), 0));

	if (empty(ip))
		ip = obj_str(obj, "spec.clusterIP");
	return json_string(empty(ip) ? "<none>" : ip);
}

static void join_strings(struct strbuf *sb, const json_t *arr)
{
	json_t *x;
	size_t i;

	json_array_foreach(arr, i, x)
		if (json_is_string(x))
			strbuf_addf(sb, "%s%s", sb->len ? "," : "", json_string_value(x));
}

static json_t *cell_external_ip(const json_t *obj, time_t now)
{
	const char *type = obj_str(obj, "spec.type");
	json_t *ext = obj_get(obj, "spec.externalIPs"), *ing, *out;
	struct strbuf sb;
	size_t i;

	strbuf_init(&sb, 64);
	if (streq(type, "ClusterIP") || streq(type, "NodePort")) {
		join_strings(&sb, ext);
		out = json_string(sb.len ? sb.buf : "<none>");
	} else if (streq(type, "LoadBalancer")) {
		json_t *seen = json_object();
		json_array_foreach(obj_get(obj, "status.loadBalancer.ingress"), i, ing) {
			const char *a = !empty(obj_str(ing, "ip")) ? obj_str(ing, "ip") : obj_str(ing, "hostname");
			if (empty(a) || json_object_get(seen, a))
				continue;
			json_object_set_new(seen, a, json_true());
			strbuf_addf(&sb, "%s%s", sb.len ? "," : "", a);
		}
		json_decref(seen);
		join_strings(&sb, ext);
		out = json_string(sb.len ? sb.buf : "<pending>");
	} else if (streq(type, "ExternalName")) {
		out = cell_str(obj, "spec.externalName", "");
	} else {
		out = json_string("<unknown>");
	}
	strbuf_release(&sb);
	return out;
}

static json_t *cell_ports(const json_t *obj, time_t now)
{
	struct strbuf sb;
	json_t *p, *out;
	size_t i;

	strbuf_init(&sb, 64);
	json_array_foreach(obj_get(obj, "spec.ports"), i, p) {
		const char *proto = obj_str(p, "protocol") ? obj_str(p, "protocol") : "";
		int64_t np = obj_int(p, "nodePort", 0);
		if (i)
			strbuf_addc(&sb, ',');
		if (np > 0)
			strbuf_addf(&sb, "%" PRId64 ":%" PRId64 "/%s", obj_int(p, "port", 0), np, proto);
		else
			strbuf_addf(&sb, "%" PRId64 "/%s", obj_int(p, "port", 0), proto);
	}
	out = json_string(sb.len ? sb.buf : "<none>");
	strbuf_release(&sb);
	return out;
}

static json_t *cell_selector(const json_t *obj, time_t now)
{
	char *s = format_labels(obj_get(obj, "spec.selector"));
	json_t *out = json_string(s);
	free(s);
	return out;
}

static const struct table_column service_columns[] = {
	{ "Type", "string", "", "type determines how the Service is exposed. Defaults to ClusterIP.", 0, cell_type },
	{ "Cluster-IP", "string", "", "clusterIP is the IP address of the service and is usually assigned "
				      "randomly.", 0, cell_cluster_ip },
	{ "External-IP", "string", "", "externalIPs is a list of IP addresses for which nodes in the cluster "
				       "will also accept traffic for this service.", 0, cell_external_ip },
	{ "Port(s)", "string", "", "The list of ports that are exposed by this service.", 0, cell_ports },
	AGE_COLUMN,
	{ "Selector", "string", "", "Route service traffic to pods with label keys and values matching this "
				    "selector.", 1, cell_selector },
	{ NULL, NULL, NULL, NULL, 0, NULL },
};

static const char *service_field_value(const json_t *obj, const char *field)
{
	if (!strcmp(field, "spec.clusterIP") || !strcmp(field, "spec.type")) {
		const char *v = obj_str(obj, field);
		return v ? v : "";
	}
	return NULL;
}

static const char *const service_short[] = { "svc", NULL };
static const char *const service_categories[] = { "all", NULL };
static const char *const service_subresources[] = { "status", NULL };

/* Every field service_field_value() answers for. */
static const char *const service_fields[] = { "spec.clusterIP", "spec.type", NULL };

const struct kind kind_service = {
	.group = "",
	.version = "v1",
	.kind = "Service",
	.plural = "services",
	.singular = "service",
	.namespaced = true,
	.short_names = service_short,
	.categories = service_categories,
	.subresources = service_subresources,
	.name_is_label = true,
	.defaults = service_defaults,
	.validate = service_validate,
	.columns = service_columns,
	.field_value = service_field_value,
	.fields = service_fields,
};
