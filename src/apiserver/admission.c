/*
 * Admission: what the apiserver itself fills in or checks before an object
 * is stored, beyond the kind's own defaults. Server-owned metadata (uid,
 * creationTimestamp, generation, a name from generateName), the pod
 * tolerations of Kubernetes' DefaultTolerationSeconds plugin, and the
 * ClusterIP and NodePort allocations of Services.
 */
#include "apiserver/apiserver.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static void random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("cannot read random bytes: %s", strerror(errno));
		}
		p += r;
		n -= (size_t)r;
	}
}

static json_t *new_uid(void)
{
	unsigned char b[16];

	random_bytes(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	return json_sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
			    b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* generateName's suffix: 5 characters from the alphabet Kubernetes uses
 * (no vowels, no confusable digits), so names never spell words. */
static void name_suffix(char out[6])
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	unsigned char b[5];

	random_bytes(b, sizeof(b));
	for (int i = 0; i < 5; i++)
		out[i] = alphabet[b[i] % (sizeof(alphabet) - 1)];
	out[5] = '\0';
}

static bool tolerates(const json_t *tols, const char *key)
{
	size_t i;
	json_t *t;

	json_array_foreach(tols, i, t) {
		const char *k = obj_str(t, "key"), *op = obj_str(t, "operator"), *eff = obj_str(t, "effect");
		bool key_ok = (k && !strcmp(k, key)) || ((!k || !*k) && op && !strcmp(op, "Exists"));
		bool eff_ok = !eff || !*eff || !strcmp(eff, "NoExecute");
		if (key_ok && eff_ok)
			return true;
	}
	return false;
}

static void default_tolerations(struct apiserver *as, json_t *pod)
{
	static const char *const keys[] = { "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable" };
	json_t *tols = obj_get(pod, "spec.tolerations");

	if (!json_is_array(tols)) {
		tols = json_array();
		obj_set(pod, "spec.tolerations", tols);
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		int64_t secs = i == 0 ? as->cfg.default_not_ready_toleration_s : as->cfg.default_unreachable_toleration_s;
		if (!tolerates(tols, keys[i]))
			json_array_append_new(tols, json_pack("{s:s, s:s, s:s, s:I}", "key", keys[i], "operator",
							      "Exists", "effect", "NoExecute", "tolerationSeconds",
							      (json_int_t)secs));
	}
}

void admit_create(struct apiserver *as, const struct kind *k, json_t *obj)
{
	json_t *md = obj_ensure(obj, "metadata");
	const char *gen = obj_str(obj, "metadata.generateName");
	char ts[TIME_RFC3339_LEN];

	if ((!obj_name(obj) || !*obj_name(obj)) && gen && *gen) {
		char sfx[6];
		name_suffix(sfx);
		json_object_set_new(md, "name", json_sprintf("%s%s", gen, sfx));
	}
	json_object_set_new(md, "uid", new_uid());
	time_format_rfc3339(time(NULL), ts);
	json_object_set_new(md, "creationTimestamp", json_string(ts));
	json_object_del(md, "resourceVersion");
	json_object_del(md, "deletionTimestamp");
	json_object_del(md, "deletionGracePeriodSeconds");
	json_object_del(md, "selfLink");
	json_object_del(md, "managedFields");
	if (k->tracks_generation)
		json_object_set_new(md, "generation", json_integer(1));
	else
		json_object_del(md, "generation");

	/* Status is the system's to write: a new object starts with none, as
	 * the strategies of these kinds reset it on create. */
	if (k == &kind_pod)
		obj_set(obj, "status", json_pack("{s:s}", "phase", "Pending"));
	else if (k == &kind_deployment || k == &kind_replicaset || k == &kind_service)
		obj_set(obj, "status", json_object());
	else if (k == &kind_namespace)
		obj_set(obj, "status", json_pack("{s:s}", "phase", "Active"));

	if (k->defaults)
		k->defaults(obj);
	if (k == &kind_pod)
		default_tolerations(as, obj);
}

/* ---- Services ------------------------------------------------------------ */

static bool needs_node_ports(const json_t *svc)
{
	const char *type = obj_str(svc, "spec.type");

	if (!type)
		return false;
	if (!strcmp(type, "NodePort"))
		return true;
	return !strcmp(type, "LoadBalancer") && obj_bool(svc, "spec.allocateLoadBalancerNodePorts", true);
}

static bool old_has_port(const json_t *old, int64_t port)
{
	size_t i;
	json_t *p;

	json_array_foreach(obj_get(old, "spec.ports"), i, p)
		if (obj_int(p, "nodePort", 0) == port)
			return true;
	return false;
}

/* Answers 422 for one field of a Service. Steals value. */
static void invalid_service(struct apiserver *as, struct http_request *req, const json_t *svc,
			    const char *field, json_t *value, const char *detail)
{
	struct field_errors errs = { 0 };
	char *msg, *d;
	json_t *st, *causes;

	(void)as;
	if (!req) {
		json_decref(value);
		return;
	}
	field_invalid(&errs, field, value, "%s", detail);
	json_decref(value);
	d = field_errors_string(&errs);
	msg = xasprintf("Service \"%s\" is invalid: %s", obj_name(svc) ? obj_name(svc) : "", d);
	st = status_new_details(422, "Invalid", msg, obj_name(svc), "", "Service");
	causes = json_pack("[{s:s, s:s, s:s}]", "reason", errs.v[0].reason, "message", errs.v[0].message, "field",
			   errs.v[0].field);
	json_object_set_new(json_object_get(st, "details"), "causes", causes);
	http_respond_json(req, 422, st);
	free(msg);
	free(d);
	field_errors_release(&errs);
}

int admit_service(struct apiserver *as, struct http_request *req, json_t *svc, const json_t *old)
{
	const char *type = obj_str(svc, "spec.type");
	const char *ip = obj_str(svc, "spec.clusterIP");
	const char *old_ip = old ? obj_str(old, "spec.clusterIP") : NULL;
	char buf[64], detail[256];
	json_t *ports;
	size_t i;
	json_t *port;
	int rc;

	/* ClusterIP */
	if (type && !strcmp(type, "ExternalName")) {
		obj_del(svc, "spec.clusterIP");
		obj_del(svc, "spec.clusterIPs");
	} else if ((!ip || !*ip) && old_ip && *old_ip) {
		obj_set(svc, "spec.clusterIP", json_string(old_ip));
	} else if (ip && !strcmp(ip, "None")) {
		/* headless: nothing to allocate */
	} else if (ip && *ip) {
		if (!old_ip || strcmp(old_ip, ip)) {
			rc = allocator_take(as->cluster_ips, ip);
			if (rc < 0) {
				snprintf(detail, sizeof(detail),
					 rc == -EEXIST ? "failed to allocate IP %s: provided IP is already allocated"
						       : "failed to allocate IP %s: provided IP is not in the valid "
							 "range. The range of valid IPs is %s",
					 ip, allocator_describe(as->cluster_ips));
				invalid_service(as, req, svc, "spec.clusterIPs", json_pack("[s]", ip), detail);
				return -1;
			}
		}
	} else {
		if (allocator_next(as->cluster_ips, buf, sizeof(buf)) < 0) {
			invalid_service(as, req, svc, "spec.clusterIPs", json_null(),
					"failed to allocate a serviceIP: range is full");
			return -1;
		}
		obj_set(svc, "spec.clusterIP", json_string(buf));
	}
	ip = obj_str(svc, "spec.clusterIP");
	if (ip)
		obj_set(svc, "spec.clusterIPs", json_pack("[s]", ip));

	/* NodePorts */
	ports = obj_get(svc, "spec.ports");
	json_array_foreach(ports, i, port) {
		int64_t np = obj_int(port, "nodePort", 0);
		char field[64];

		snprintf(field, sizeof(field), "spec.ports[%zu].nodePort", i);
		if (!needs_node_ports(svc)) {
			json_object_del(port, "nodePort");
			continue;
		}
		if (np && old && old_has_port(old, np))
			continue;
		if (np) {
			snprintf(buf, sizeof(buf), "%lld", (long long)np);
			rc = allocator_take(as->node_ports, buf);
			if (rc < 0) {
				snprintf(detail, sizeof(detail),
					 rc == -EEXIST ? "provided port is already allocated"
						       : "provided port is not in the valid range. The range of valid "
							 "ports is %s", allocator_describe(as->node_ports));
				/* undo what this call took so far */
				json_object_del(port, "nodePort");
				release_service_delta(as, svc, old);
				invalid_service(as, req, svc, field, json_integer(np), detail);
				return -1;
			}
		} else {
			if (allocator_next(as->node_ports, buf, sizeof(buf)) < 0) {
				release_service_delta(as, svc, old);
				invalid_service(as, req, svc, field, json_null(),
						"failed to allocate a nodePort: range is full");
				return -1;
			}
			json_object_set_new(port, "nodePort", json_integer(strtoll(buf, NULL, 10)));
		}
	}
	return 0;
}

void release_service_delta(struct apiserver *as, const json_t *svc, const json_t *keep)
{
	const char *ip, *kip;
	size_t i;
	json_t *port;

	if (!svc)
		return;
	ip = obj_str(svc, "spec.clusterIP");
	kip = keep ? obj_str(keep, "spec.clusterIP") : NULL;
	if (ip && strcmp(ip, "None") && (!kip || strcmp(ip, kip)))
		allocator_release(as->cluster_ips, ip);
	json_array_foreach(obj_get(svc, "spec.ports"), i, port) {
		int64_t np = obj_int(port, "nodePort", 0);
		char buf[24];
		if (!np || (keep && old_has_port(keep, np)))
			continue;
		snprintf(buf, sizeof(buf), "%lld", (long long)np);
		allocator_release(as->node_ports, buf);
	}
}

void release_service(struct apiserver *as, const json_t *svc)
{
	release_service_delta(as, svc, NULL);
}
