/*
 * v1 Pod: Kubernetes' pod defaults (SetDefaults_Pod, _PodSpec, _Container,
 * _Probe, _Volume), ValidatePodSpec with its exact messages, the rule that a
 * running pod's spec may change only in its images, activeDeadlineSeconds
 * and added tolerations, kubectl's READY/STATUS/RESTARTS columns and the pod
 * field selectors. PodSpec defaults and checks are shared with Deployment
 * and ReplicaSet templates through internal.h.
 */
#include "internal.h"
#include "object.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const protocols[] = { "SCTP", "TCP", "UDP", NULL };

/* ---- defaults -------------------------------------------------------------- */

/* Sets key to a string when it is missing or "" (Go cannot tell them apart). */
static void set_if_empty(json_t *o, const char *key, const char *value)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s || !*s)
		json_object_set_new(o, key, json_string(value));
}

static void set_if_zero(json_t *o, const char *key, json_int_t value)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) == 0)
		json_object_set_new(o, key, json_integer(value));
}

static void set_if_missing(json_t *o, const char *key, json_t *value)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		json_object_set_new(o, key, value);
	else
		json_decref(value);
}

/*
 * Whether the kubelet should pull image every time: Kubernetes defaults
 * imagePullPolicy to Always for ":latest" and for a reference with neither
 * tag nor digest. A reference that does not parse (upper case in the path,
 * empty) gets IfNotPresent, as there.
 */
static bool image_pulls_always(const char *image)
{
	const char *at, *last, *path, *colon, *first_slash;
	size_t len;

	if (!image || !*image)
		return false;
	at = strchr(image, '@');
	len = at ? (size_t)(at - image) : strlen(image);
	last = image;
	for (size_t i = 0; i < len; i++)
		if (image[i] == '/')
			last = image + i + 1;
	/* The first component is a registry host when it looks like one; only
	 * the path after it must be lower case. */
	first_slash = memchr(image, '/', len);
	path = image;
	if (first_slash) {
		size_t hl = (size_t)(first_slash - image);
		if (memchr(image, '.', hl) || memchr(image, ':', hl) || (hl == 9 && !strncmp(image, "localhost", 9)))
			path = first_slash + 1;
	}
	colon = memchr(last, ':', len - (size_t)(last - image));
	for (const char *p = path; p < (colon ? colon : image + len); p++)
		if (*p >= 'A' && *p <= 'Z')
			return false;
	if (colon)
		return (size_t)(image + len - colon - 1) == 6 && !strncmp(colon + 1, "latest", 6);
	return !at;
}

static void http_get_defaults(json_t *h)
{
	json_t *get = json_object_get(h, "httpGet");

	if (json_is_object(get)) {
		set_if_empty(get, "path", "/");
		set_if_empty(get, "scheme", "HTTP");
	}
}

static void probe_defaults(json_t *p)
{
	if (!json_is_object(p))
		return;
	set_if_zero(p, "timeoutSeconds", 1);
	set_if_zero(p, "periodSeconds", 10);
	set_if_zero(p, "successThreshold", 1);
	set_if_zero(p, "failureThreshold", 3);
	http_get_defaults(p);
}

static void container_defaults(json_t *c)
{
	static const char *const probes[] = { "livenessProbe", "readinessProbe", "startupProbe" };
	json_t *x, *life;
	size_t i;

	if (!json_is_object(c))
		return;
	set_if_empty(c, "imagePullPolicy", image_pulls_always(obj_str(c, "image")) ? "Always" : "IfNotPresent");
	set_if_empty(c, "terminationMessagePath", "/dev/termination-log");
	set_if_empty(c, "terminationMessagePolicy", "File");
	set_if_missing(c, "resources", json_object());
	json_array_foreach(json_object_get(c, "ports"), i, x)
		if (json_is_object(x))
			set_if_empty(x, "protocol", "TCP");
	json_array_foreach(json_object_get(c, "env"), i, x) {
		json_t *ref = obj_get(x, "valueFrom.fieldRef");
		if (json_is_object(ref))
			set_if_empty(ref, "apiVersion", "v1");
	}
	for (size_t j = 0; j < ARRAY_SIZE(probes); j++)
		probe_defaults(json_object_get(c, probes[j]));
	life = json_object_get(c, "lifecycle");
	http_get_defaults(json_object_get(life, "postStart"));
	http_get_defaults(json_object_get(life, "preStop"));
}

/* The volume sources, in the order Kubernetes checks them. */
static const char *const volume_sources[] = {
	"emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
	"iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
	"downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume",
	"photonPersistentDisk", "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi",
	"ephemeral", "image", NULL,
};

static void volume_defaults(json_t *v)
{
	static const char *const with_mode[] = { "secret", "configMap", "downwardAPI", "projected" };
	bool any = false;
	json_t *hp;

	if (!json_is_object(v))
		return;
	for (int i = 0; volume_sources[i]; i++) {
		json_t *s = json_object_get(v, volume_sources[i]);
		any |= s && !json_is_null(s);
	}
	if (!any)
		json_object_set_new(v, "emptyDir", json_object());
	for (size_t i = 0; i < ARRAY_SIZE(with_mode); i++) {
		json_t *s = json_object_get(v, with_mode[i]);
		if (json_is_object(s))
			set_if_missing(s, "defaultMode", json_integer(0644));
	}
	hp = json_object_get(v, "hostPath");
	if (json_is_object(hp))
		set_if_missing(hp, "type", json_string(""));
}

void pod_spec_defaults(json_t *spec)
{
	json_t *x;
	size_t i;

	if (!json_is_object(spec))
		return;
	set_if_empty(spec, "dnsPolicy", "ClusterFirst");
	set_if_empty(spec, "restartPolicy", "Always");
	set_if_missing(spec, "securityContext", json_object());
	set_if_missing(spec, "terminationGracePeriodSeconds", json_integer(30));
	set_if_empty(spec, "schedulerName", "default-scheduler");
	json_array_foreach(json_object_get(spec, "containers"), i, x)
		container_defaults(x);
	json_array_foreach(json_object_get(spec, "initContainers"), i, x)
		container_defaults(x);
	json_array_foreach(json_object_get(spec, "volumes"), i, x)
		volume_defaults(x);
}

/* Limits without requests become requests too: only on Pods, not templates. */
static void requests_from_limits(json_t *containers)
{
	json_t *c, *q;
	const char *name;
	size_t i;

	json_array_foreach(containers, i, c) {
		json_t *res = json_object_get(c, "resources"), *lim = json_object_get(res, "limits"), *req;
		if (!json_is_object(lim))
			continue;
		req = json_object_get(res, "requests");
		if (!json_is_object(req)) {
			req = json_object();
			json_object_set_new(res, "requests", req);
		}
		json_object_foreach(lim, name, q)
			if (!json_object_get(req, name))
				json_object_set(req, name, q);
	}
}

/* GetPodQOS: BestEffort with no cpu/memory at all, Guaranteed when every
 * container limits both and requests equal limits, else Burstable. */
static const char *pod_qos(const json_t *spec)
{
	static const char *const res[] = { "cpu", "memory" };
	double req[2] = { 0, 0 }, lim[2] = { 0, 0 };
	bool has_req[2] = { false, false }, has_lim[2] = { false, false }, guaranteed = true;
	const char *lists[] = { "containers", "initContainers" };

	for (int l = 0; l < 2; l++) {
		json_t *c;
		size_t i;
		json_array_foreach(json_object_get(spec, lists[l]), i, c) {
			bool found[2] = { false, false };
			for (int r = 0; r < 2; r++) {
				double v;
				if (!quantity_parse_json(json_object_get(obj_get(c, "resources.requests"), res[r]), &v) &&
				    v > 0) {
					req[r] += v;
					has_req[r] = true;
				}
				if (!quantity_parse_json(json_object_get(obj_get(c, "resources.limits"), res[r]), &v) &&
				    v > 0) {
					lim[r] += v;
					has_lim[r] = true;
					found[r] = true;
				}
			}
			if (!found[0] || !found[1])
				guaranteed = false;
		}
	}
	if (!has_req[0] && !has_req[1] && !has_lim[0] && !has_lim[1])
		return "BestEffort";
	for (int r = 0; r < 2 && guaranteed; r++)
		if (has_req[r] && (!has_lim[r] || lim[r] != req[r]))
			guaranteed = false;
	if (guaranteed && has_req[0] + has_req[1] == has_lim[0] + has_lim[1])
		return "Guaranteed";
	return "Burstable";
}

static void pod_defaults(json_t *obj)
{
	json_t *spec = obj_ensure(obj, "spec"), *status;

	if (!spec)
		return;
	requests_from_limits(json_object_get(spec, "containers"));
	requests_from_limits(json_object_get(spec, "initContainers"));
	set_if_missing(spec, "enableServiceLinks", json_true());
	if (json_is_true(json_object_get(spec, "hostNetwork"))) {
		const char *lists[] = { "containers", "initContainers" };
		for (int l = 0; l < 2; l++) {
			json_t *c, *p;
			size_t i, j;
			json_array_foreach(json_object_get(spec, lists[l]), i, c)
				json_array_foreach(json_object_get(c, "ports"), j, p)
					if (json_is_object(p) && obj_int(p, "hostPort", 0) == 0 &&
					    json_object_get(p, "containerPort"))
						json_object_set(p, "hostPort", json_object_get(p, "containerPort"));
		}
	}
	pod_spec_defaults(spec);
	/* The registry starts every pod Pending, with its QoS class. */
	status = obj_ensure(obj, "status");
	if (status) {
		set_if_empty(status, "phase", "Pending");
		set_if_empty(status, "qosClass", pod_qos(spec));
	}
}

/* ---- validation -------------------------------------------------------------- */

static bool is_empty_str(const char *s)
{
	return !s || !*s;
}

static bool present(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return v && !json_is_null(v);
}

static void validate_volume_source(const json_t *v, const char *vpath, struct field_errors *e)
{
	int n = 0;

	for (int i = 0; volume_sources[i]; i++) {
		const char *src = volume_sources[i];
		json_t *s = json_object_get(v, src);
		char *p;

		if (!s || json_is_null(s))
			continue;
		p = xasprintf("%s.%s", vpath, src);
		if (n++ > 0) {
			field_forbidden(e, p, "may not specify more than 1 volume type");
			free(p);
			continue;
		}
		if (!strcmp(src, "hostPath")) {
			static const char *const types[] = { "", "BlockDevice", "CharDevice", "Directory",
							     "DirectoryOrCreate", "File", "FileOrCreate", "Socket",
							     NULL };
			const char *path = obj_str(s, "path"), *type = obj_str(s, "type");
			char *q = xasprintf("%s.path", p);
			if (is_empty_str(path))
				field_required(e, q, NULL);
			else if (strstr(path, ".."))
				field_invalid_str(e, q, path, "must not contain '..'");
			free(q);
			if (type) {
				bool ok = false;
				for (int t = 0; types[t]; t++)
					ok |= !strcmp(type, types[t]);
				if (!ok) {
					q = xasprintf("%s.type", p);
					field_not_supported(e, q, json_object_get(s, "type"), types);
					free(q);
				}
			}
		} else if (!strcmp(src, "secret") || !strcmp(src, "configMap") ||
			   !strcmp(src, "persistentVolumeClaim")) {
			const char *key = !strcmp(src, "secret") ? "secretName"
					  : !strcmp(src, "configMap") ? "name" : "claimName";
			json_t *mode = json_object_get(s, "defaultMode");
			char *q = xasprintf("%s.%s", p, key);
			if (is_empty_str(obj_str(s, key)))
				field_required(e, q, NULL);
			free(q);
			if (json_is_integer(mode) && (json_integer_value(mode) < 0 || json_integer_value(mode) > 0777)) {
				q = xasprintf("%s.defaultMode", p);
				field_invalid(e, q, mode, "must be a number between 0 and 0777 (octal), both inclusive");
				free(q);
			}
		} else if (!strcmp(src, "emptyDir")) {
			json_t *limit = json_object_get(s, "sizeLimit");
			double d;
			if (limit && (quantity_parse_json(limit, &d) < 0 || d < 0)) {
				char *q = xasprintf("%s.sizeLimit", p);
				field_forbidden(e, q, "SizeLimit field must be a valid resource quantity");
				free(q);
			}
		}
		free(p);
	}
	if (n == 0)
		field_required(e, vpath, "must specify a volume type");
}

/* Valid volume names go into vols (an object used as a set). */
static void validate_volumes(const json_t *spec, const char *path, json_t *vols, struct field_errors *e)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(spec, "volumes"), i, v) {
		char *vpath = xasprintf("%s.volumes[%zu]", path, i), *npath = xasprintf("%s.name", vpath);
		const char *name = obj_str(v, "name");
		size_t before = e->n;

		validate_volume_source(v, vpath, e);
		if (is_empty_str(name))
			field_required(e, npath, NULL);
		else
			check_field_dns1123_label(e, npath, name);
		if (name && json_object_get(vols, name))
			field_duplicate(e, npath, json_object_get(v, "name"));
		if (e->n == before && name)
			json_object_set_new(vols, name, json_true());
		free(vpath);
		free(npath);
	}
}

static void validate_container_ports(const json_t *ports, const char *path, struct field_errors *e)
{
	json_t *names = json_object(), *p;
	size_t i;

	json_array_foreach(ports, i, p) {
		const char *name = obj_str(p, "name"), *proto = obj_str(p, "protocol");
		char *base = xasprintf("%s[%zu]", path, i), *q;
		int64_t cp = obj_int(p, "containerPort", 0), hp = obj_int(p, "hostPort", 0);

		if (!is_empty_str(name)) {
			size_t before = e->n;
			q = xasprintf("%s.name", base);
			check_field_port_name(e, q, name);
			if (e->n == before) {
				if (json_object_get(names, name))
					field_duplicate(e, q, json_object_get(p, "name"));
				else
					json_object_set_new(names, name, json_true());
			}
			free(q);
		}
		q = xasprintf("%s.containerPort", base);
		if (cp == 0)
			field_required(e, q, NULL);
		else
			check_field_port_num(e, q, cp);
		free(q);
		if (hp != 0) {
			q = xasprintf("%s.hostPort", base);
			check_field_port_num(e, q, hp);
			free(q);
		}
		q = xasprintf("%s.protocol", base);
		if (is_empty_str(proto))
			field_required(e, q, NULL);
		else if (strcmp(proto, "TCP") && strcmp(proto, "UDP") && strcmp(proto, "SCTP"))
			field_not_supported(e, q, json_object_get(p, "protocol"), protocols);
		free(q);
		free(base);
	}
	json_decref(names);
}

static void validate_key_selector(const json_t *sel, const char *path, struct field_errors *e)
{
	char *q = xasprintf("%s.name", path);
	const char *key = obj_str(sel, "key");

	check_field_dns1123_subdomain(e, q, obj_str(sel, "name"));
	free(q);
	q = xasprintf("%s.key", path);
	if (is_empty_str(key))
		field_required(e, q, NULL);
	else
		check_field_config_key(e, q, key);
	free(q);
}

static void validate_field_ref(const json_t *ref, const char *path, struct field_errors *e)
{
	static const char *const paths[] = { "metadata.name", "metadata.namespace", "metadata.uid",
					     "spec.nodeName", "spec.serviceAccountName", "status.hostIP",
					     "status.hostIPs", "status.podIP", "status.podIPs", NULL };
	const char *fp = obj_str(ref, "fieldPath");
	char *q;

	if (is_empty_str(obj_str(ref, "apiVersion"))) {
		q = xasprintf("%s.apiVersion", path);
		field_required(e, q, NULL);
		free(q);
		return;
	}
	q = xasprintf("%s.fieldPath", path);
	if (is_empty_str(fp)) {
		field_required(e, q, NULL);
	} else if (str_has_prefix(fp, "metadata.labels['") || str_has_prefix(fp, "metadata.annotations['")) {
		const char *open = strchr(fp, '[') + 2;
		size_t n = strlen(open);
		if (n >= 2 && !strcmp(open + n - 2, "']")) {
			char *sub = xstrndup(open, n - 2);
			if (str_has_prefix(fp, "metadata.annotations"))
				for (char *c = sub; *c; c++)
					*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			check_field_qualified_name(e, path, sub);
			free(sub);
		}
	} else {
		bool ok = false;
		for (int i = 0; paths[i]; i++)
			ok |= !strcmp(fp, paths[i]);
		if (!ok)
			field_not_supported(e, q, json_object_get(ref, "fieldPath"), paths);
	}
	free(q);
}

static void validate_env(const json_t *env, const char *path, struct field_errors *e)
{
	json_t *ev;
	size_t i;

	json_array_foreach(env, i, ev) {
		const char *name = obj_str(ev, "name"), *value = obj_str(ev, "value");
		json_t *from = json_object_get(ev, "valueFrom");
		char *base = xasprintf("%s[%zu]", path, i), *q = xasprintf("%s.name", base);

		if (is_empty_str(name)) {
			field_required(e, q, NULL);
		} else {
			bool ok = true;
			for (const char *c = name; *c; c++)
				ok &= *c >= 32 && *c <= 126 && *c != '=';
			if (!ok)
				field_invalid_str(e, q, name, "a valid environment variable name must consist only "
							      "of printable ASCII characters other than '='");
		}
		free(q);
		if (from && !json_is_null(from)) {
			int n = 0;
			char *fpath = xasprintf("%s.valueFrom", base);
			if (present(from, "fieldRef")) {
				n++;
				q = xasprintf("%s.fieldRef", fpath);
				validate_field_ref(json_object_get(from, "fieldRef"), q, e);
				free(q);
			}
			if (present(from, "resourceFieldRef"))
				n++;
			if (present(from, "configMapKeyRef")) {
				n++;
				q = xasprintf("%s.configMapKeyRef", fpath);
				validate_key_selector(json_object_get(from, "configMapKeyRef"), q, e);
				free(q);
			}
			if (present(from, "secretKeyRef")) {
				n++;
				q = xasprintf("%s.secretKeyRef", fpath);
				validate_key_selector(json_object_get(from, "secretKeyRef"), q, e);
				free(q);
			}
			if (n == 0)
				field_invalid_str(e, fpath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
								"`configMapKeyRef` or `secretKeyRef`");
			else if (!is_empty_str(value))
				field_invalid_str(e, fpath, "", "may not be specified when `value` is not empty");
			else if (n > 1)
				field_invalid_str(e, fpath, "", "may not have more than one field specified at a time");
			free(fpath);
		}
		free(base);
	}
}

static void validate_env_from(const json_t *list, const char *path, struct field_errors *e)
{
	json_t *ef;
	size_t i;

	json_array_foreach(list, i, ef) {
		char *base = xasprintf("%s[%zu]", path, i);
		int n = present(ef, "configMapRef") + present(ef, "secretRef");
		const char *prefix = obj_str(ef, "prefix");

		if (n == 0)
			field_invalid_str(e, base, "", "must specify one of: `configMapRef` or `secretRef`");
		else if (n > 1)
			field_invalid_str(e, base, "", "may not have more than one field specified at a time");
		if (!is_empty_str(prefix)) {
			bool ok = true;
			for (const char *c = prefix; *c; c++)
				ok &= *c >= 32 && *c <= 126 && *c != '=';
			if (!ok) {
				char *q = xasprintf("%s.prefix", base);
				field_invalid_str(e, q, prefix, "a valid environment variable name must consist only "
								"of printable ASCII characters other than '='");
				free(q);
			}
		}
		free(base);
	}
}

static void validate_volume_mounts(const json_t *mounts, const char *path, const json_t *vols,
				   struct field_errors *e)
{
	json_t *points = json_object(), *m;
	size_t i;

	json_array_foreach(mounts, i, m) {
		const char *name = obj_str(m, "name"), *mp = obj_str(m, "mountPath"), *sub = obj_str(m, "subPath");
		char *base = xasprintf("%s[%zu]", path, i), *q = xasprintf("%s.name", base);

		if (is_empty_str(name))
			field_required(e, q, NULL);
		if (!name || !json_object_get(vols, name)) {
			json_t *v = json_string(name ? name : "");
			field_not_found(e, q, v);
			json_decref(v);
		}
		free(q);
		q = xasprintf("%s.mountPath", base);
		if (is_empty_str(mp))
			field_required(e, q, NULL);
		if (mp && json_object_get(points, mp))
			field_invalid_str(e, q, mp, "must be unique");
		if (mp)
			json_object_set_new(points, mp, json_true());
		free(q);
		if (!is_empty_str(sub)) {
			/* Kubernetes reports subPath at the list's path, not the entry's. */
			q = xasprintf("%s.subPath", path);
			if (sub[0] == '/')
				field_invalid_str(e, q, sub, "must be a relative path");
			else if (!strcmp(sub, "..") || str_has_prefix(sub, "../") || strstr(sub, "/../") ||
				 str_has_suffix(sub, "/.."))
				field_invalid_str(e, q, sub, "must not contain '..'");
			free(q);
		}
		free(base);
	}
	json_decref(points);
}

static bool standard_container_resource(const char *name)
{
	return !strcmp(name, "cpu") || !strcmp(name, "memory") || !strcmp(name, "ephemeral-storage") ||
	       str_has_prefix(name, "hugepages-");
}

/* IsStandardResourceName: what quotas and limits know, beyond containers'. */
static bool standard_resource(const char *name)
{
	static const char *const names[] = {
		"pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
		"persistentvolumeclaims", "storage", "requests.storage", "requests.cpu", "requests.memory",
		"requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
		"services.nodeports", "services.loadbalancers",
	};

	if (standard_container_resource(name) || str_has_prefix(name, "requests.hugepages-"))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

/* Native resources are unprefixed or under kubernetes.io/; others (e.g.
 * nvidia.com/gpu) are extended and cannot be overcommitted. */
static bool overcommit_allowed(const char *name)
{
	bool native = !strchr(name, '/') || strstr(name, "kubernetes.io/");
	return native && !str_has_prefix(name, "hugepages-");
}

static void validate_resource_list(const json_t *list, const char *path, struct field_errors *e)
{
	const char *name;
	json_t *q;

	json_object_foreach((json_t *)list, name, q) {
		char *p = xasprintf("%s[%s]", path, name);
		double d;

		size_t before = e->n;

		check_field_qualified_name(e, p, name);
		if (e->n == before && !strchr(name, '/')) {
			if (!standard_resource(name))
				field_invalid_str(e, p, name, "must be a standard resource type or fully qualified");
			if (!standard_container_resource(name))
				field_invalid_str(e, p, name, "must be a standard resource for containers");
		} else if (e->n == before && !strstr(name, "kubernetes.io/") && str_has_prefix(name, "requests.")) {
			field_invalid_str(e, p, name, "doesn't follow extended resource name standard");
		}
		if (quantity_parse_json(q, &d) < 0)
			field_invalid(e, p, q, MSG_QUANTITY);
		else if (d < 0)
			field_invalid(e, p, q, "must be greater than or equal to 0");
		free(p);
	}
}

static void validate_resources(const json_t *res, const char *path, struct field_errors *e)
{
	json_t *lim = json_object_get(res, "limits"), *req = json_object_get(res, "requests"), *q;
	char *lp = xasprintf("%s.limits", path), *rp = xasprintf("%s.requests", path);
	const char *name;

	validate_resource_list(lim, lp, e);
	validate_resource_list(req, rp, e);
	json_object_foreach(req, name, q) {
		json_t *l = json_object_get(lim, name);
		double dr, dl;
		char *detail;

		if (!l || quantity_parse_json(q, &dr) < 0 || quantity_parse_json(l, &dl) < 0)
			continue;
		if (dr != dl && !overcommit_allowed(name)) {
			detail = xasprintf("must be equal to %s limit of %s", name,
					   json_is_string(l) ? json_string_value(l) : "");
			field_invalid(e, rp, q, "%s", detail);
			free(detail);
		} else if (dr > dl) {
			char *ls = json_is_string(l) ? xstrdup(json_string_value(l)) : obj_dump(l, NULL);
			detail = xasprintf("must be less than or equal to %s limit of %s", name, ls);
			field_invalid(e, rp, q, "%s", detail);
			free(detail);
			free(ls);
		}
	}
	free(lp);
	free(rp);
}

/* validateHandler: exactly one action; probes take grpc, lifecycle hooks sleep. */
static void validate_handler(const json_t *h, const char *path, bool probe, struct field_errors *e)
{
	const char *actions[] = { "exec", "httpGet", "tcpSocket", probe ? "grpc" : "sleep" };
	int n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		json_t *a = json_object_get(h, actions[i]);
		char *p;

		if (!a || json_is_null(a))
			continue;
		p = xasprintf("%s.%s", path, actions[i]);
		if (n++ > 0) {
			field_forbidden(e, p, "may not specify more than 1 handler type");
			free(p);
			continue;
		}
		if (!strcmp(actions[i], "exec")) {
			if (json_array_size(json_object_get(a, "command")) == 0) {
				char *q = xasprintf("%s.command", p);
				field_required(e, q, NULL);
				free(q);
			}
		} else if (!strcmp(actions[i], "httpGet")) {
			static const char *const schemes[] = { "HTTP", "HTTPS", NULL };
			const char *scheme = obj_str(a, "scheme");
			char *q = xasprintf("%s.path", p);
			if (is_empty_str(obj_str(a, "path")))
				field_required(e, q, NULL);
			free(q);
			q = xasprintf("%s.port", p);
			check_field_port_num_or_name(e, q, json_object_get(a, "port"));
			free(q);
			if (!scheme || (strcmp(scheme, "HTTP") && strcmp(scheme, "HTTPS"))) {
				q = xasprintf("%s.scheme", p);
				field_not_supported(e, q, scheme ? json_object_get(a, "scheme") : json_string(""), schemes);
				free(q);
			}
		} else if (!strcmp(actions[i], "tcpSocket")) {
			char *q = xasprintf("%s.port", p);
			check_field_port_num_or_name(e, q, json_object_get(a, "port"));
			free(q);
		} else if (!strcmp(actions[i], "grpc")) {
			char *q = xasprintf("%s.port", p);
			check_field_port_num(e, q, obj_int(a, "port", 0));
			free(q);
		}
		free(p);
	}
	if (n == 0)
		field_required(e, path, "must specify a handler type");
}

enum probe_kind { PROBE_LIVENESS, PROBE_READINESS, PROBE_STARTUP };

static void validate_probe(const json_t *c, const char *cpath, enum probe_kind kind, struct field_errors *e)
{
	static const char *const names[] = { "livenessProbe", "readinessProbe", "startupProbe" };
	static const char *const ints[] = { "initialDelaySeconds", "timeoutSeconds", "periodSeconds",
					    "successThreshold", "failureThreshold" };
	json_t *p = json_object_get(c, names[kind]), *tg;
	char *path, *q;

	if (!p || json_is_null(p))
		return;
	path = xasprintf("%s.%s", cpath, names[kind]);
	validate_handler(p, path, true, e);
	for (size_t i = 0; i < ARRAY_SIZE(ints); i++) {
		q = xasprintf("%s.%s", path, ints[i]);
		check_field_nonnegative(e, q, json_object_get(p, ints[i]));
		free(q);
	}
	tg = json_object_get(p, "terminationGracePeriodSeconds");
	if (json_is_integer(tg) && json_integer_value(tg) <= 0) {
		q = xasprintf("%s.terminationGracePeriodSeconds", path);
		field_invalid(e, q, tg, "must be greater than 0");
		free(q);
	}
	if (kind == PROBE_READINESS && json_is_integer(tg)) {
		q = xasprintf("%s.terminationGracePeriodSeconds", path);
		field_invalid(e, q, tg, "must not be set for readinessProbes");
		free(q);
	}
	if (kind != PROBE_READINESS && obj_int(p, "successThreshold", 0) != 1) {
		q = xasprintf("%s.successThreshold", path);
		field_invalid(e, q, json_object_get(p, "successThreshold"), "must be 1");
		free(q);
	}
	free(path);
}

static void validate_lifecycle(const json_t *c, const char *cpath, struct field_errors *e)
{
	json_t *life = json_object_get(c, "lifecycle");
	static const char *const hooks[] = { "postStart", "preStop" };

	for (size_t i = 0; i < ARRAY_SIZE(hooks); i++) {
		json_t *h = json_object_get(life, hooks[i]);
		if (h && !json_is_null(h)) {
			char *p = xasprintf("%s.lifecycle.%s", cpath, hooks[i]);
			validate_handler(h, p, false, e);
			free(p);
		}
	}
}

/* validateContainerCommon: what regular and init containers share. */
static void validate_container_common(const json_t *c, const char *cpath, const json_t *vols,
				      struct field_errors *e)
{
	static const char *const policies[] = { "File", "FallbackToLogsOnError", NULL };
	static const char *const pulls[] = { "Always", "IfNotPresent", "Never", NULL };
	const char *name = obj_str(c, "name"), *tmp = obj_str(c, "terminationMessagePolicy");
	const char *pull = obj_str(c, "imagePullPolicy");
	char *p = xasprintf("%s.name", cpath);

	if (is_empty_str(name))
		field_required(e, p, NULL);
	else
		check_field_dns1123_label(e, p, name);
	free(p);
	if (is_empty_str(obj_str(c, "image"))) {
		p = xasprintf("%s.image", cpath);
		field_required(e, p, NULL);
		free(p);
	}
	p = xasprintf("%s.terminationMessagePolicy", cpath);
	if (is_empty_str(tmp))
		field_required(e, p, "must be 'File' or 'FallbackToLogsOnError'");
	else if (strcmp(tmp, "File") && strcmp(tmp, "FallbackToLogsOnError"))
		field_not_supported(e, p, json_object_get(c, "terminationMessagePolicy"), policies);
	free(p);
	p = xasprintf("%s.ports", cpath);
	validate_container_ports(json_object_get(c, "ports"), p, e);
	free(p);
	p = xasprintf("%s.env", cpath);
	validate_env(json_object_get(c, "env"), p, e);
	free(p);
	p = xasprintf("%s.envFrom", cpath);
	validate_env_from(json_object_get(c, "envFrom"), p, e);
	free(p);
	p = xasprintf("%s.volumeMounts", cpath);
	validate_volume_mounts(json_object_get(c, "volumeMounts"), p, vols, e);
	free(p);
	p = xasprintf("%s.imagePullPolicy", cpath);
	if (is_empty_str(pull))
		field_required(e, p, NULL);
	else if (strcmp(pull, "Always") && strcmp(pull, "IfNotPresent") && strcmp(pull, "Never"))
		field_not_supported(e, p, json_object_get(c, "imagePullPolicy"), pulls);
	free(p);
	p = xasprintf("%s.resources", cpath);
	validate_resources(json_object_get(c, "resources"), p, e);
	free(p);
}

/* Same hostIP/protocol/hostPort twice: the second is a duplicate. */
static void check_host_ports(const json_t *containers, const char *path, json_t *seen, struct field_errors *e)
{
	json_t *c, *p;
	size_t i, j;

	json_array_foreach(containers, i, c) {
		json_array_foreach(json_object_get(c, "ports"), j, p) {
			int64_t hp = obj_int(p, "hostPort", 0);
			char *key, *q;
			if (hp == 0)
				continue;
			key = xasprintf("%s/%s/%" PRId64, obj_str(p, "hostIP") ? obj_str(p, "hostIP") : "",
					obj_str(p, "protocol") ? obj_str(p, "protocol") : "", hp);
			q = xasprintf("%s[%zu].ports[%zu].hostPort", path, i, j);
			if (json_object_get(seen, key)) {
				json_t *k = json_string(key);
				field_duplicate(e, q, k);
				json_decref(k);
			} else {
				json_object_set_new(seen, key, json_true());
			}
			free(q);
			free(key);
		}
	}
}

static void validate_containers(const json_t *spec, const char *path, const json_t *vols, struct field_errors *e)
{
	json_t *list = json_object_get(spec, "containers"), *names, *seen, *c;
	char *lpath = xasprintf("%s.containers", path);
	size_t i;

	if (json_array_size(list) == 0) {
		field_required(e, lpath, NULL);
		free(lpath);
		return;
	}
	names = json_object();
	json_array_foreach(list, i, c) {
		char *cpath = xasprintf("%s[%zu]", lpath, i);
		const char *name = obj_str(c, "name");

		validate_container_common(c, cpath, vols, e);
		if (json_object_get(names, name ? name : "")) {
			char *p = xasprintf("%s.name", cpath);
			json_t *v = json_string(name ? name : "");
			field_duplicate(e, p, v);
			json_decref(v);
			free(p);
		} else {
			json_object_set_new(names, name ? name : "", json_true());
		}
		validate_probe(c, cpath, PROBE_LIVENESS, e);
		validate_probe(c, cpath, PROBE_READINESS, e);
		validate_probe(c, cpath, PROBE_STARTUP, e);
		validate_lifecycle(c, cpath, e);
		if (present(c, "restartPolicy")) {
			char *p = xasprintf("%s.restartPolicy", cpath);
			field_forbidden(e, p, "may not be set for non-init containers");
			free(p);
		}
		free(cpath);
	}
	seen = json_object();
	check_host_ports(list, lpath, seen, e);
	json_decref(seen);
	json_decref(names);
	free(lpath);
}

static void validate_init_containers(const json_t *spec, const char *path, const json_t *vols,
				     struct field_errors *e)
{
	json_t *names = json_object(), *c;
	char *lpath = xasprintf("%s.initContainers", path);
	size_t i;

	json_array_foreach(json_object_get(spec, "containers"), i, c)
		json_object_set_new(names, obj_str(c, "name") ? obj_str(c, "name") : "", json_true());
	json_array_foreach(json_object_get(spec, "initContainers"), i, c) {
		char *cpath = xasprintf("%s[%zu]", lpath, i), *p;
		const char *name = obj_str(c, "name"), *rp = obj_str(c, "restartPolicy");
		bool always = false;
		json_t *one, *seen;

		validate_container_common(c, cpath, vols, e);
		if (present(c, "restartPolicy")) {
			static const char *const supported[] = { "Always", NULL };
			always = rp && !strcmp(rp, "Always");
			if (!always) {
				p = xasprintf("%s.restartPolicy", cpath);
				field_not_supported(e, p, json_object_get(c, "restartPolicy"), supported);
				free(p);
			}
		}
		if (json_object_get(names, name ? name : "")) {
			json_t *v = json_string(name ? name : "");
			p = xasprintf("%s.name", cpath);
			field_duplicate(e, p, v);
			json_decref(v);
			free(p);
		} else if (!is_empty_str(name)) {
			json_object_set_new(names, name, json_true());
		}
		/* Init containers run one by one: host ports only clash within one. */
		one = json_array();
		json_array_append(one, c);
		seen = json_object();
		check_host_ports(one, lpath, seen, e);
		json_decref(seen);
		json_decref(one);
		if (always) {
			validate_probe(c, cpath, PROBE_LIVENESS, e);
			validate_probe(c, cpath, PROBE_READINESS, e);
			validate_probe(c, cpath, PROBE_STARTUP, e);
			validate_lifecycle(c, cpath, e);
		} else {
			static const struct {
				const char *field, *detail;
			} forbidden[] = {
				{ "lifecycle", "may not be set for init containers without restartPolicy=Always" },
				{ "livenessProbe", "may not be set for init containers without restartPolicy=Always" },
				{ "readinessProbe", "may not be set for init containers" },
				{ "startupProbe", "may not be set for init containers without restartPolicy=Always" },
			};
			for (size_t k = 0; k < ARRAY_SIZE(forbidden); k++) {
				if (!present(c, forbidden[k].field))
					continue;
				p = xasprintf("%s.%s", cpath, forbidden[k].field);
				field_forbidden(e, p, forbidden[k].detail);
				free(p);
			}
		}
		free(cpath);
	}
	json_decref(names);
	free(lpath);
}

static const char *const taint_effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute", NULL };

static void validate_tolerations(const json_t *tols, const char *path, struct field_errors *e)
{
	json_t *t;
	size_t i;

	json_array_foreach(tols, i, t) {
		const char *key = obj_str(t, "key"), *op = obj_str(t, "operator"), *value = obj_str(t, "value");
		const char *effect = obj_str(t, "effect");
		char *base = xasprintf("%s[%zu]", path, i), *q;

		if (!op)
			op = "";
		if (!is_empty_str(key)) {
			q = xasprintf("%s.key", base);
			check_field_qualified_name(e, q, key);
			free(q);
		}
		q = xasprintf("%s.operator", base);
		if (is_empty_str(key) && strcmp(op, "Exists"))
			field_invalid_str(e, q, op, "operator must be Exists when `key` is empty, which means "
						    "\"match all values and all keys\"");
		free(q);
		if (present(t, "tolerationSeconds") && (!effect || strcmp(effect, "NoExecute"))) {
			q = xasprintf("%s.effect", base);
			field_invalid_str(e, q, effect ? effect : "", "effect must be 'NoExecute' when `tolerationSeconds` is set");
			free(q);
		}
		q = xasprintf("%s.operator", base);
		if (!strcmp(op, "Equal") || !*op) {
			char *msgs = label_value_msgs_joined(value);
			if (msgs)
				field_invalid_str(e, q, value, msgs);
			free(msgs);
		} else if (!strcmp(op, "Exists")) {
			if (!is_empty_str(value)) {
				char *v = obj_dump(t, NULL);
				field_invalid_raw(e, q, v, "value must be empty when `operator` is 'Exists'");
				free(v);
			}
		} else {
			static const char *const ops[] = { "Equal", "Exists", NULL };
			field_not_supported(e, q, json_object_get(t, "operator"), ops);
		}
		free(q);
		if (!is_empty_str(effect) && strcmp(effect, "NoSchedule") && strcmp(effect, "PreferNoSchedule") &&
		    strcmp(effect, "NoExecute")) {
			q = xasprintf("%s.effect", base);
			field_not_supported(e, q, json_object_get(t, "effect"), taint_effects);
			free(q);
		}
		free(base);
	}
}

void pod_spec_validate(const json_t *spec, const char *path, struct field_errors *e)
{
	static const char *const restart[] = { "Always", "OnFailure", "Never", NULL };
	static const char *const dns[] = { "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None", NULL };
	const char *rp = obj_str(spec, "restartPolicy"), *dp = obj_str(spec, "dnsPolicy");
	json_t *vols = json_object(), *ads, *g;
	char *p;
	size_t i;

	validate_volumes(spec, path, vols, e);
	validate_containers(spec, path, vols, e);
	validate_init_containers(spec, path, vols, e);
	p = xasprintf("%s.restartPolicy", path);
	if (is_empty_str(rp))
		field_required(e, p, NULL);
	else if (strcmp(rp, "Always") && strcmp(rp, "OnFailure") && strcmp(rp, "Never"))
		field_not_supported(e, p, json_object_get(spec, "restartPolicy"), restart);
	free(p);
	p = xasprintf("%s.dnsPolicy", path);
	if (is_empty_str(dp))
		field_required(e, p, NULL);
	else if (strcmp(dp, "ClusterFirstWithHostNet") && strcmp(dp, "ClusterFirst") && strcmp(dp, "Default") &&
		 strcmp(dp, "None"))
		field_not_supported(e, p, json_object_get(spec, "dnsPolicy"), dns);
	free(p);
	p = xasprintf("%s.nodeSelector", path);
	validate_labels(e, p, json_object_get(spec, "nodeSelector"));
	free(p);
	if (dp && !strcmp(dp, "None") && !present(spec, "dnsConfig")) {
		p = xasprintf("%s.dnsConfig", path);
		field_required(e, p, "must provide `dnsConfig` when `dnsPolicy` is None");
		free(p);
	}
	json_array_foreach(json_object_get(spec, "readinessGates"), i, g) {
		p = xasprintf("%s.readinessGates[%zu].conditionType", path, i);
		check_field_qualified_name(e, p, obj_str(g, "conditionType"));
		free(p);
	}
	if (!is_empty_str(obj_str(spec, "serviceAccountName"))) {
		p = xasprintf("%s.serviceAccountName", path);
		check_field_dns1123_subdomain(e, p, obj_str(spec, "serviceAccountName"));
		free(p);
	}
	if (!is_empty_str(obj_str(spec, "nodeName"))) {
		p = xasprintf("%s.nodeName", path);
		check_field_dns1123_subdomain(e, p, obj_str(spec, "nodeName"));
		free(p);
	}
	ads = json_object_get(spec, "activeDeadlineSeconds");
	if (json_is_integer(ads) && (json_integer_value(ads) < 1 || json_integer_value(ads) > 2147483647)) {
		p = xasprintf("%s.activeDeadlineSeconds", path);
		field_invalid(e, p, ads, "must be between 1 and 2147483647, inclusive");
		free(p);
	}
	if (!is_empty_str(obj_str(spec, "hostname"))) {
		p = xasprintf("%s.hostname", path);
		check_field_dns1123_label(e, p, obj_str(spec, "hostname"));
		free(p);
	}
	if (!is_empty_str(obj_str(spec, "subdomain"))) {
		p = xasprintf("%s.subdomain", path);
		check_field_dns1123_label(e, p, obj_str(spec, "subdomain"));
		free(p);
	}
	p = xasprintf("%s.tolerations", path);
	validate_tolerations(json_object_get(spec, "tolerations"), p, e);
	free(p);
	json_decref(vols);
}

void pod_template_validate(const json_t *tmpl, const char *path, struct field_errors *e)
{
	char *p = xasprintf("%s.labels", path);

	/* The template's ObjectMeta is inlined: its labels are at template.labels. */
	validate_labels(e, p, obj_get(tmpl, "metadata.labels"));
	free(p);
	p = xasprintf("%s.annotations", path);
	validate_annotations(e, p, obj_get(tmpl, "metadata.annotations"));
	free(p);
	p = xasprintf("%s.spec", path);
	pod_spec_validate(obj_get(tmpl, "spec"), p, e);
	free(p);
	if (json_array_size(obj_get(tmpl, "spec.ephemeralContainers"))) {
		p = xasprintf("%s.spec.ephemeralContainers", path);
		field_forbidden(e, p, "ephemeral containers not allowed in pod template");
		free(p);
	}
}

/* Returns true when the containers were added or removed: nothing else is compared then. */
static bool container_updates(const json_t *nspec, const json_t *ospec, const char *list, struct field_errors *e)
{
	json_t *n = json_object_get(nspec, list), *o = json_object_get(ospec, list), *c;
	size_t i;

	if (json_array_size(n) != json_array_size(o)) {
		char *p = xasprintf("spec.%s", list);
		field_forbidden(e, p, "pod updates may not add or remove containers");
		free(p);
		return true;
	}
	json_array_foreach(n, i, c) {
		const char *img = obj_str(c, "image");
		char *p = xasprintf("spec.%s[%zu].image", list, i);
		if (is_empty_str(img))
			field_required(e, p, NULL);
		else if (img[0] == ' ' || img[0] == '\t' || img[strlen(img) - 1] == ' ' || img[strlen(img) - 1] == '\t')
			field_invalid_str(e, p, img, "must not have leading or trailing whitespace");
		free(p);
	}
	return false;
}

/* Every old toleration must still be there; only tolerationSeconds may change. */
static void validate_only_added_tolerations(const json_t *ntols, const json_t *otols, struct field_errors *e)
{
	json_t *o, *n;
	size_t i, j;

	json_array_foreach(otols, i, o) {
		bool found = false;
		json_array_foreach(ntols, j, n) {
			json_t *a = json_deep_copy(o), *b = json_deep_copy(n);
			json_object_del(a, "tolerationSeconds");
			json_object_del(b, "tolerationSeconds");
			found = json_equal(a, b);
			json_decref(a);
			json_decref(b);
			if (found)
				break;
		}
		if (!found) {
			field_forbidden(e, "spec.tolerations", "existing toleration can not be modified except its tolerationSeconds");
			return;
		}
	}
	validate_tolerations(ntols, "spec.tolerations", e);
}

static void copy_images(json_t *munged, const json_t *ospec, const char *list)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(munged, list), i, c) {
		json_t *oc = json_array_get(json_object_get(ospec, list), i), *img = json_object_get(oc, "image");
		if (img)
			json_object_set(c, "image", img);
		else
			json_object_del(c, "image");
	}
}

static void set_or_del(json_t *o, const char *key, json_t *v)
{
	if (v)
		json_object_set(o, key, v);
	else
		json_object_del(o, key);
}

#define POD_UPDATE_FORBIDDEN                                                                            \
	"pod updates may not change fields other than `spec.containers[*].image`,"                  \
	"`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "      \
	"additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set " \
	"to 1 if it was previously negative)"

static void pod_validate_update(const json_t *obj, const json_t *old, struct field_errors *e)
{
	json_t *nspec = obj_get(obj, "spec"), *ospec = obj_get(old, "spec"), *munged;
	json_t *nads = json_object_get(nspec, "activeDeadlineSeconds");
	json_t *oads = json_object_get(ospec, "activeDeadlineSeconds");
	json_t *ogp, *ngp;
	json_t *empty = json_object();

	if (!ospec)
		ospec = empty;
	if (container_updates(nspec, ospec, "containers", e) || container_updates(nspec, ospec, "initContainers", e))
		goto out;
	if (nads && !json_is_null(nads)) {
		json_int_t v = json_integer_value(nads);
		if (v < 0 || v > 2147483647) {
			field_invalid(e, "spec.activeDeadlineSeconds", nads, "must be between 0 and 2147483647, inclusive");
			goto out;
		}
		if (json_is_integer(oads) && json_integer_value(oads) < v) {
			field_invalid(e, "spec.activeDeadlineSeconds", nads, "must be less than or equal to previous value");
			goto out;
		}
	} else if (oads && !json_is_null(oads)) {
		field_invalid(e, "spec.activeDeadlineSeconds", NULL, "must not update from a positive integer to nil value");
	}
	munged = json_deep_copy(nspec ? nspec : empty);
	copy_images(munged, ospec, "containers");
	copy_images(munged, ospec, "initContainers");
	set_or_del(munged, "activeDeadlineSeconds", oads);
	set_or_del(munged, "schedulingGates", json_object_get(ospec, "schedulingGates"));
	validate_only_added_tolerations(json_object_get(nspec, "tolerations"), json_object_get(ospec, "tolerations"), e);
	set_or_del(munged, "tolerations", json_object_get(ospec, "tolerations"));
	ogp = json_object_get(ospec, "terminationGracePeriodSeconds");
	ngp = json_object_get(munged, "terminationGracePeriodSeconds");
	if (json_integer_value(ogp) < 0 && json_is_integer(ngp) && json_integer_value(ngp) == 1)
		json_object_set(munged, "terminationGracePeriodSeconds", ogp);
	if (!json_equal(munged, ospec))
		field_forbidden(e, "spec", POD_UPDATE_FORBIDDEN);
	json_decref(munged);
out:
	json_decref(empty);
}

static void pod_validate(const json_t *obj, const json_t *old, struct field_errors *e)
{
	const json_t *spec = obj_get(obj, "spec");
	json_t *c;
	size_t i;

	if (old)
		validate_object_meta_update(obj, old, e);
	validate_object_meta(obj, true, "dns1123-subdomain", e);
	/* A spec equal to the stored one passed all this when it was stored:
	 * the writes of a running pod (binding, kubelet status, labels) check
	 * only what they change, as Kubernetes' ValidatePodStatusUpdate does. */
	if (old && json_equal(spec, obj_get(old, "spec")))
		return;
	pod_spec_validate(spec, "spec", e);
	if (!obj_str(spec, "serviceAccountName") || !*obj_str(spec, "serviceAccountName")) {
		json_t *v, *s;
		size_t j;
		json_array_foreach(json_object_get(spec, "volumes"), i, v) {
			json_array_foreach(obj_get(v, "projected.sources"), j, s) {
				if (present(s, "serviceAccountToken")) {
					char *p = xasprintf("spec.volumes[%zu].projected.sources[%zu].serviceAccountToken", i, j);
					field_forbidden(e, p, "must not be specified when serviceAccountName is not set");
					free(p);
				}
			}
		}
	}
	json_array_foreach(json_object_get(spec, "containers"), i, c) {
		const char *img = obj_str(c, "image");
		size_t n = img ? strlen(img) : 0;
		if (n && (img[0] == ' ' || img[0] == '\t' || img[n - 1] == ' ' || img[n - 1] == '\t')) {
			char *p = xasprintf("spec.containers[%zu].image", i);
			field_invalid_str(e, p, img, "must not have leading or trailing whitespace");
			free(p);
		}
	}
	if (old)
		pod_validate_update(obj, old, e);
}

/* ---- table --------------------------------------------------------------------- */

struct pod_summary {
	int ready, total, restarts;
	time_t last_restart; /* 0: none */
	char reason[160];
};

static bool condition_true(const json_t *pod, const char *type)
{
	json_t *c;
	size_t i;

	json_array_foreach(obj_get(pod, "status.conditions"), i, c) {
		const char *t = obj_str(c, "type"), *s = obj_str(c, "status");
		if (t && !strcmp(t, type))
			return s && !strcmp(s, "True");
	}
	return false;
}

static void note_restart(const json_t *cs, time_t *last)
{
	const char *fin = obj_str(cs, "lastState.terminated.finishedAt");
	time_t t;

	if (fin && time_parse_rfc3339(fin, &t) == 0 && t > *last)
		*last = t;
}

static bool restartable_init(const json_t *pod, const char *name)
{
	json_t *c;
	size_t i;

	json_array_foreach(obj_get(pod, "spec.initContainers"), i, c) {
		const char *n = obj_str(c, "name"), *rp = obj_str(c, "restartPolicy");
		if (n && name && !strcmp(n, name))
			return rp && !strcmp(rp, "Always");
	}
	return false;
}

/* Terminated without a reason: "Signal:9" or "ExitCode:1". */
static void terminated_reason(const json_t *term, const char *prefix, char *buf, size_t len)
{
	const char *r = obj_str(term, "reason");

	if (!is_empty_str(r))
		snprintf(buf, len, "%s%s", prefix, r);
	else if (obj_int(term, "signal", 0))
		snprintf(buf, len, "%sSignal:%" PRId64, prefix, obj_int(term, "signal", 0));
	else
		snprintf(buf, len, "%sExitCode:%" PRId64, prefix, obj_int(term, "exitCode", 0));
}

/* kubectl's printPod: READY counts, the STATUS reason and RESTARTS. */
static void pod_summarize(const json_t *pod, struct pod_summary *s)
{
	const char *phase = obj_str(pod, "status.phase"), *sreason = obj_str(pod, "status.reason");
	int restartable_restarts = 0;
	time_t last_restartable = 0;
	bool initializing = false;
	size_t n_init = json_array_size(obj_get(pod, "spec.initContainers"));
	json_t *c;
	size_t i;

	memset(s, 0, sizeof(*s));
	s->total = (int)json_array_size(obj_get(pod, "spec.containers"));
	snprintf(s->reason, sizeof(s->reason), "%s", !is_empty_str(sreason) ? sreason : phase ? phase : "");
	json_array_foreach(obj_get(pod, "status.conditions"), i, c) {
		const char *t = obj_str(c, "type"), *r = obj_str(c, "reason");
		if (t && r && !strcmp(t, "PodScheduled") && !strcmp(r, "SchedulingGated"))
			snprintf(s->reason, sizeof(s->reason), "SchedulingGated");
	}
	json_array_foreach(obj_get(pod, "spec.initContainers"), i, c) {
		const char *rp = obj_str(c, "restartPolicy");
		if (rp && !strcmp(rp, "Always"))
			s->total++;
	}
	json_array_foreach(obj_get(pod, "status.initContainerStatuses"), i, c) {
		json_t *term = obj_get(c, "state.terminated"), *wait = obj_get(c, "state.waiting");
		bool restartable = restartable_init(pod, obj_str(c, "name"));
		const char *wr = obj_str(wait, "reason");

		s->restarts += (int)obj_int(c, "restartCount", 0);
		note_restart(c, &s->last_restart);
		if (restartable) {
			restartable_restarts += (int)obj_int(c, "restartCount", 0);
			note_restart(c, &last_restartable);
		}
		if (json_is_object(term) && obj_int(term, "exitCode", 0) == 0)
			continue;
		if (restartable && obj_bool(c, "started", false)) {
			if (obj_bool(c, "ready", false))
				s->ready++;
			continue;
		}
		if (json_is_object(term))
			terminated_reason(term, "Init:", s->reason, sizeof(s->reason));
		else if (json_is_object(wait) && !is_empty_str(wr) && strcmp(wr, "PodInitializing"))
			snprintf(s->reason, sizeof(s->reason), "Init:%s", wr);
		else
			snprintf(s->reason, sizeof(s->reason), "Init:%zu/%zu", i, n_init);
		initializing = true;
		break;
	}
	if (!initializing || condition_true(pod, "Initialized")) {
		json_t *list = obj_get(pod, "status.containerStatuses");
		bool has_running = false;

		s->restarts = restartable_restarts;
		s->last_restart = last_restartable;
		for (size_t k = json_array_size(list); k-- > 0;) {
			json_t *term, *wait;
			c = json_array_get(list, k);
			term = obj_get(c, "state.terminated");
			wait = obj_get(c, "state.waiting");
			s->restarts += (int)obj_int(c, "restartCount", 0);
			note_restart(c, &s->last_restart);
			if (json_is_object(wait) && !is_empty_str(obj_str(wait, "reason"))) {
				snprintf(s->reason, sizeof(s->reason), "%s", obj_str(wait, "reason"));
			} else if (json_is_object(term)) {
				terminated_reason(term, "", s->reason, sizeof(s->reason));
			} else if (obj_bool(c, "ready", false) && json_is_object(obj_get(c, "state.running"))) {
				has_running = true;
				s->ready++;
			}
		}
		if (!strcmp(s->reason, "Completed") && has_running)
			snprintf(s->reason, sizeof(s->reason), "%s", condition_true(pod, "Ready") ? "Running" : "NotReady");
	}
	if (obj_str(pod, "metadata.deletionTimestamp")) {
		if (sreason && !strcmp(sreason, "NodeLost"))
			snprintf(s->reason, sizeof(s->reason), "Unknown");
		else if (!phase || (strcmp(phase, "Succeeded") && strcmp(phase, "Failed")))
			snprintf(s->reason, sizeof(s->reason), "Terminating");
	}
}

static json_t *cell_ready(const json_t *obj, time_t now)
{
	struct pod_summary s;
	char buf[32];

	pod_summarize(obj, &s);
	snprintf(buf, sizeof(buf), "%d/%d", s.ready, s.total);
	return json_string(buf);
}

static json_t *cell_status(const json_t *obj, time_t now)
{
	struct pod_summary s;

	pod_summarize(obj, &s);
	return json_string(s.reason);
}

static json_t *cell_restarts(const json_t *obj, time_t now)
{
	struct pod_summary s;
	char buf[64], ago[32];

	pod_summarize(obj, &s);
	if (s.restarts && s.last_restart) {
		duration_short((int64_t)(now - s.last_restart), ago, sizeof(ago));
		snprintf(buf, sizeof(buf), "%d (%s ago)", s.restarts, ago);
	} else {
		snprintf(buf, sizeof(buf), "%d", s.restarts);
	}
	return json_string(buf);
}

static json_t *cell_ip(const json_t *obj, time_t now)
{
	const char *ip = obj_str(json_array_get(obj_get(obj, "status.podIPs"), 0), "ip");

	if (is_empty_str(ip))
		ip = obj_str(obj, "status.podIP");
	return json_string(is_empty_str(ip) ? "<none>" : ip);
}

static json_t *cell_node(const json_t *obj, time_t now)
{
	const char *n = obj_str(obj, "spec.nodeName");
	return json_string(is_empty_str(n) ? "<none>" : n);
}

static json_t *cell_nominated(const json_t *obj, time_t now)
{
	const char *n = obj_str(obj, "status.nominatedNodeName");
	return json_string(is_empty_str(n) ? "<none>" : n);
}

static json_t *cell_gates(const json_t *obj, time_t now)
{
	json_t *gates = obj_get(obj, "spec.readinessGates"), *g;
	size_t i, ok = 0;
	char buf[32];

	if (json_array_size(gates) == 0)
		return json_string("<none>");
	json_array_foreach(gates, i, g) {
		const char *type = obj_str(g, "conditionType");
		if (type && condition_true(obj, type))
			ok++;
	}
	snprintf(buf, sizeof(buf), "%zu/%zu", ok, json_array_size(gates));
	return json_string(buf);
}

static const struct table_column pod_columns[] = {
	{ "Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0, cell_ready },
	{ "Status", "string", "", "The aggregate status of the containers in this pod.", 0, cell_status },
	{ "Restarts", "string", "",
	  "The number of times the containers in this pod have been restarted and when the last container "
	  "in this pod has restarted.", 0, cell_restarts },
	AGE_COLUMN,
	{ "IP", "string", "", "podIP address allocated to the pod. Routable at least within the cluster. Empty "
			      "if not yet allocated.", 1, cell_ip },
	{ "Node", "string", "", "NodeName indicates in which node this pod is scheduled.", 1, cell_node },
	{ "Nominated Node", "string", "", "nominatedNodeName is set only when this pod preempts other pods on "
					  "the node.", 1, cell_nominated },
	{ "Readiness Gates", "string", "", "If specified, all readiness gates will be evaluated for pod "
					   "readiness.", 1, cell_gates },
	{ NULL, NULL, NULL, NULL, 0, NULL },
};

/* PodToSelectableFields. */
/* Every field pod_field_value() answers for: strings, then one boolean. */
static const char *const pod_fields[] = { "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
					  "spec.serviceAccountName", "status.phase", "status.podIP",
					  "status.nominatedNodeName", "spec.hostNetwork", NULL };

static const char *pod_field_value(const json_t *obj, const char *field)
{
	if (!strcmp(field, "spec.hostNetwork"))
		return obj_bool(obj, "spec.hostNetwork", false) ? "true" : "false";
	for (size_t i = 0; pod_fields[i]; i++) {
		if (!strcmp(field, pod_fields[i])) {
			const char *v = obj_str(obj, field);
			return v ? v : "";
		}
	}
	return NULL;
}

static const char *const pod_short[] = { "po", NULL };
static const char *const pod_categories[] = { "all", NULL };
static const char *const pod_subresources[] = { "status", "binding", "eviction", "log", NULL };

const struct kind kind_pod = {
	.group = "",
	.version = "v1",
	.kind = "Pod",
	.plural = "pods",
	.singular = "pod",
	.namespaced = true,
	.short_names = pod_short,
	.categories = pod_categories,
	.subresources = pod_subresources,
	.name_is_label = false,
	.defaults = pod_defaults,
	.validate = pod_validate,
	.columns = pod_columns,
	.field_value = pod_field_value,
	.fields = pod_fields,
};
