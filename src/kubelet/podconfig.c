/*
 * Pod spec to Docker request bodies and pod files, behind podconfig.h. The
 * rules follow the kubelet's (kuberuntime and dockershim): command replaces
 * the image's ENTRYPOINT and args its CMD, container security context
 * overrides the pod's, limits become cgroup limits, and every app container
 * joins the sandbox's network and IPC namespaces.
 */
#include "kubelet/podconfig.h"
#include "kubelet/runtime.h"
#include "client/kubeconfig.h"
#include "core/object.h"
#include "core/util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MAX_SIZE "10m"
#define LOG_MAX_FILE "5"
#define MAX_NAMESERVERS 3

int podconfig_quantity(const char *s, double *out)
{
	static const struct {
		const char *suffix;
		double mult;
	} suffixes[] = {
		{ "Ki", 1024.0 }, { "Mi", 1048576.0 }, { "Gi", 1073741824.0 }, { "Ti", 1099511627776.0 },
		{ "Pi", 1125899906842624.0 }, { "Ei", 1152921504606846976.0 }, { "n", 1e-9 }, { "u", 1e-6 },
		{ "m", 1e-3 }, { "k", 1e3 }, { "M", 1e6 }, { "G", 1e9 }, { "T", 1e12 }, { "P", 1e15 }, { "E", 1e18 },
		{ "", 1.0 },
	};
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	if (!isdigit((unsigned char)s[0]) && s[0] != '.' && s[0] != '+' && s[0] != '-')
		return -1;
	v = strtod(s, &end);
	if (end == s)
		return -1;
	/* strtod reads "1e3" whole but must not eat the "E" of "1E" (exa). */
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		if (!strcmp(end, suffixes[i].suffix)) {
			*out = v * suffixes[i].mult;
			return 0;
		}
	}
	return -1;
}

/* ---- environment ------------------------------------------------------------ */

static bool env_name_valid(const char *s)
{
	if (!s || !*s || isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

/* $(NAME) from vars (object name -> string). */
static char *expand_obj(const char *s, const json_t *vars)
{
	struct strbuf sb;

	strbuf_init(&sb, strlen(s) + 16);
	while (*s) {
		if (s[0] == '$' && s[1] == '$') {
			strbuf_addc(&sb, '$');
			s += 2;
		} else if (s[0] == '$' && s[1] == '(') {
			const char *close = strchr(s + 2, ')');
			const char *v = NULL;
			if (close) {
				char *name = xstrndup(s + 2, (size_t)(close - s - 2));
				v = json_string_value(json_object_get(vars, name));
				free(name);
			}
			if (v) {
				strbuf_adds(&sb, v);
				s = close + 1;
			} else if (close) {
				strbuf_add(&sb, s, (size_t)(close - s + 1));
				s = close + 1;
			} else {
				strbuf_adds(&sb, s);
				break;
			}
		} else {
			strbuf_addc(&sb, *s++);
		}
	}
	return strbuf_detach(&sb, NULL);
}

static json_t *env_to_object(const json_t *env)
{
	json_t *obj = json_object(), *v;
	size_t i;

	json_array_foreach(env, i, v) {
		const char *s = json_string_value(v), *eq = s ? strchr(s, '=') : NULL;
		if (eq) {
			char *k = xstrndup(s, (size_t)(eq - s));
			json_object_set_new(obj, k, json_string(eq + 1));
			free(k);
		}
	}
	return obj;
}

char *podconfig_expand(const char *s, const json_t *env)
{
	json_t *vars = env_to_object(env);
	char *r = expand_obj(s ? s : "", vars);

	json_decref(vars);
	return r;
}

static void upper_name(const char *in, char *out, size_t len)
{
	size_t i = 0;

	for (; *in && i + 1 < len; in++)
		out[i++] = *in == '-' || *in == '.' ? '_' : (char)toupper((unsigned char)*in);
	out[i] = '\0';
}

/* Docker links' variables, as Kubernetes makes them for service links. */
static void service_env(json_t *vars, const json_t *svc)
{
	const char *ip = obj_str(svc, "spec.clusterIP");
	json_t *ports = obj_get(svc, "spec.ports"), *p;
	char name[256], key[400], val[300];
	size_t i;

	if (!ip || !*ip || !strcmp(ip, "None") || !json_array_size(ports))
		return;
	upper_name(obj_name(svc) ?: "", name, sizeof(name));
	snprintf(key, sizeof(key), "%s_SERVICE_HOST", name);
	json_object_set_new(vars, key, json_string(ip));
	snprintf(key, sizeof(key), "%s_SERVICE_PORT", name);
	snprintf(val, sizeof(val), "%lld", (long long)obj_int(json_array_get(ports, 0), "port", 0));
	json_object_set_new(vars, key, json_string(val));
	json_array_foreach(ports, i, p) {
		const char *pname = obj_str(p, "name");
		if (pname && *pname) {
			char up[128];
			upper_name(pname, up, sizeof(up));
			snprintf(key, sizeof(key), "%s_SERVICE_PORT_%s", name, up);
			snprintf(val, sizeof(val), "%lld", (long long)obj_int(p, "port", 0));
			json_object_set_new(vars, key, json_string(val));
		}
	}
	json_array_foreach(ports, i, p) {
		char proto_up[16], proto_low[16];
		long long port = (long long)obj_int(p, "port", 0);
		const char *proto = obj_str(p, "protocol") ?: "TCP";
		upper_name(proto, proto_up, sizeof(proto_up));
		snprintf(proto_low, sizeof(proto_low), "%s", proto);
		for (char *c = proto_low; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (i == 0) {
			snprintf(key, sizeof(key), "%s_PORT", name);
			snprintf(val, sizeof(val), "%s://%s:%lld", proto_low, ip, port);
			json_object_set_new(vars, key, json_string(val));
		}
		snprintf(key, sizeof(key), "%s_PORT_%lld_%s", name, port, proto_up);
		snprintf(val, sizeof(val), "%s://%s:%lld", proto_low, ip, port);
		json_object_set_new(vars, key, json_string(val));
		snprintf(key, sizeof(key), "%s_PORT_%lld_%s_PROTO", name, port, proto_up);
		json_object_set_new(vars, key, json_string(proto_low));
		snprintf(key, sizeof(key), "%s_PORT_%lld_%s_PORT", name, port, proto_up);
		snprintf(val, sizeof(val), "%lld", port);
		json_object_set_new(vars, key, json_string(val));
		snprintf(key, sizeof(key), "%s_PORT_%lld_%s_ADDR", name, port, proto_up);
		json_object_set_new(vars, key, json_string(ip));
	}
}

/* The value of key in a ConfigMap (data, then binaryData) or a Secret (base64). */
static int source_value(const json_t *obj, bool secret, const char *key, char **out)
{
	const char *v;

	if (!secret) {
		v = key_str(json_object_get(obj, "data"), key);
		if (v) {
			*out = xstrdup(v);
			return 0;
		}
		v = key_str(json_object_get(obj, "binaryData"), key);
	} else {
		v = key_str(json_object_get(obj, "data"), key);
		if (!v) {
			/* stringData is folded into data by the apiserver; accept it anyway. */
			const char *sd = key_str(json_object_get(obj, "stringData"), key);
			if (sd) {
				*out = xstrdup(sd);
				return 0;
			}
		}
	}
	if (!v)
		return -1;
	{
		char *dec;
		size_t n;
		if (kubeconfig_base64_decode(v, strlen(v), &dec, &n) < 0)
			return -1;
		*out = dec;
	}
	return 0;
}

/* metadata.labels['app'] -> the label value. */
static const char *bracket_field(const json_t *pod, const char *path, const char *prefix, const char *map)
{
	size_t plen = strlen(prefix);
	const char *k;
	char *key;
	const char *v;
	size_t klen;

	if (strncmp(path, prefix, plen) || path[plen] != '[')
		return NULL;
	k = path + plen + 1;
	if (*k == '\'' || *k == '"')
		k++;
	klen = strcspn(k, "'\"]");
	key = xstrndup(k, klen);
	v = key_str(obj_get(pod, map), key);
	free(key);
	return v ? v : "";
}

static int field_ref(const struct podconfig_env_input *in, const char *path, char **out)
{
	const json_t *pod = in->pod;
	const char *v = NULL;

	if (!strcmp(path, "metadata.name"))
		v = obj_name(pod);
	else if (!strcmp(path, "metadata.namespace"))
		v = obj_namespace(pod);
	else if (!strcmp(path, "metadata.uid"))
		v = obj_str(pod, "metadata.uid");
	else if (!strcmp(path, "spec.nodeName"))
		v = obj_str(pod, "spec.nodeName");
	else if (!strcmp(path, "spec.serviceAccountName"))
		v = obj_str(pod, "spec.serviceAccountName") ?: "default";
	else if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs"))
		v = in->pod_ip ? in->pod_ip : "";
	else if (!strcmp(path, "status.hostIP") || !strcmp(path, "status.hostIPs"))
		v = in->host_ip ? in->host_ip : "";
	else if (!(v = bracket_field(pod, path, "metadata.labels", "metadata.labels")))
		v = bracket_field(pod, path, "metadata.annotations", "metadata.annotations");
	if (!v)
		return -1;
	*out = xstrdup(v);
	return 0;
}

static int resource_ref(const struct podconfig_env_input *in, const json_t *ref, char **out)
{
	const char *cname = obj_str(ref, "containerName"), *res = obj_str(ref, "resource");
	const json_t *c = in->container, *x;
	const char *divisor = obj_str(ref, "divisor"), *q;
	double v = 0, div = 1;
	size_t i;

	if (cname && *cname) {
		c = NULL;
		json_array_foreach(obj_get(in->pod, "spec.containers"), i, x)
			if (!strcmp(obj_str(x, "name") ?: "", cname))
				c = x;
	}
	if (!c || !res)
		return -1;
	/* "limits.cpu" -> resources.limits["cpu"] */
	{
		const char *dot = strchr(res, '.');
		char *section;
		if (!dot)
			return -1;
		section = xstrndup(res, (size_t)(dot - res));
		q = obj_str(obj_get(obj_get(c, "resources"), section), dot + 1);
		free(section);
	}
	if (q && podconfig_quantity(q, &v) < 0)
		return -1;
	if (divisor && podconfig_quantity(divisor, &div) < 0)
		return -1;
	if (div <= 0)
		div = 1;
	*out = xasprintf("%lld", (long long)ceil(v / div - 1e-9));
	return 0;
}

static int add_env_from(const struct podconfig_env_input *in, json_t *vars, char **err)
{
	const char *ns = obj_namespace(in->pod) ?: "default";
	json_t *e;
	size_t i;

	json_array_foreach(obj_get(in->container, "envFrom"), i, e) {
		json_t *ref = obj_get(e, "configMapRef");
		bool secret = false;
		const json_t *src;
		const char *name, *prefix = obj_str(e, "prefix") ?: "", *k;
		json_t *v, *data;

		if (!ref) {
			ref = obj_get(e, "secretRef");
			secret = true;
		}
		if (!ref)
			continue;
		name = obj_str(ref, "name") ?: "";
		src = in->lookup ? in->lookup(secret ? "secrets" : "configmaps", ns, name, in->lookup_data) : NULL;
		if (!src) {
			if (obj_bool(ref, "optional", false))
				continue;
			*err = xasprintf("%s \"%s\" not found", secret ? "secret" : "configmap", name);
			return -1;
		}
		data = json_object_get(src, "data");
		json_object_foreach(data, k, v) {
			char *key = xasprintf("%s%s", prefix, k), *val = NULL;
			if (env_name_valid(key) && source_value(src, secret, k, &val) == 0)
				json_object_set_new(vars, key, json_string(val));
			free(val);
			free(key);
		}
	}
	return 0;
}

int podconfig_env(const struct podconfig_env_input *in, json_t **out, char **err)
{
	const char *ns = obj_namespace(in->pod) ?: "default";
	bool links = obj_bool(in->pod, "spec.enableServiceLinks", true);
	json_t *vars = json_object(), *e, *arr;
	const char *k;
	size_t i;

	*out = NULL;
	*err = NULL;
	json_array_foreach(in->services, i, e) {
		const char *sns = obj_namespace(e) ?: "";
		bool master = !strcmp(sns, "default") && !strcmp(obj_name(e) ?: "", "kubernetes");
		if (master || (links && !strcmp(sns, ns)))
			service_env(vars, e);
	}
	if (add_env_from(in, vars, err) < 0)
		goto fail;
	json_array_foreach(obj_get(in->container, "env"), i, e) {
		const char *name = obj_str(e, "name");
		json_t *from = obj_get(e, "valueFrom"), *ref;
		char *val = NULL;

		if (!name || !*name)
			continue;
		if (!from) {
			val = expand_obj(obj_str(e, "value") ?: "", vars);
		} else if ((ref = obj_get(from, "fieldRef"))) {
			if (field_ref(in, obj_str(ref, "fieldPath") ?: "", &val) < 0) {
				*err = xasprintf("unsupported fieldPath \"%s\" in env \"%s\"", obj_str(ref, "fieldPath") ?: "",
						 name);
				goto fail;
			}
		} else if ((ref = obj_get(from, "resourceFieldRef"))) {
			if (resource_ref(in, ref, &val) < 0) {
				*err = xasprintf("cannot resolve resourceFieldRef \"%s\" in env \"%s\"",
						 obj_str(ref, "resource") ?: "", name);
				goto fail;
			}
		} else if ((ref = obj_get(from, "configMapKeyRef")) || (ref = obj_get(from, "secretKeyRef"))) {
			bool secret = obj_get(from, "configMapKeyRef") == NULL;
			const char *src_name = obj_str(ref, "name") ?: "", *key = obj_str(ref, "key") ?: "";
			const json_t *src = in->lookup ? in->lookup(secret ? "secrets" : "configmaps", ns, src_name,
								     in->lookup_data)
						       : NULL;
			bool optional = obj_bool(ref, "optional", false);
			if (!src) {
				if (optional)
					continue;
				*err = xasprintf("%s \"%s\" not found", secret ? "secret" : "configmap", src_name);
				goto fail;
			}
			if (source_value(src, secret, key, &val) < 0) {
				if (optional)
					continue;
				*err = xasprintf("couldn't find key %s in %s %s/%s", key, secret ? "Secret" : "ConfigMap", ns,
						 src_name);
				goto fail;
			}
		} else {
			continue;
		}
		json_object_set_new(vars, name, json_string(val));
		free(val);
	}
	arr = json_array();
	json_object_foreach(vars, k, e) {
		char *kv = xasprintf("%s=%s", k, json_string_value(e));
		json_array_append_new(arr, json_string(kv));
		free(kv);
	}
	json_decref(vars);
	*out = arr;
	return 0;
fail:
	json_decref(vars);
	return -1;
}

/* ---- volumes and mounts -------------------------------------------------------- */

char *podconfig_volume_path(const char *pod_dir, const json_t *volume)
{
	const char *name = obj_str(volume, "name");

	if (!name)
		return NULL;
	if (obj_get(volume, "hostPath"))
		return xstrdup(obj_str(volume, "hostPath.path") ?: "");
	if (obj_get(volume, "emptyDir"))
		return xasprintf("%s/volumes/" PODCONFIG_EMPTYDIR "/%s", pod_dir, name);
	if (obj_get(volume, "configMap"))
		return xasprintf("%s/volumes/" PODCONFIG_CONFIGMAP "/%s", pod_dir, name);
	if (obj_get(volume, "secret"))
		return xasprintf("%s/volumes/" PODCONFIG_SECRET "/%s", pod_dir, name);
	return NULL;
}

static bool path_escapes(const char *p)
{
	if (*p == '/')
		return true;
	for (const char *s = p; (s = strstr(s, "..")); s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return true;
	return false;
}

static const json_t *find_volume(const json_t *pod, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(obj_get(pod, "spec.volumes"), i, v)
		if (!strcmp(obj_str(v, "name") ?: "", name))
			return v;
	return NULL;
}

static json_t *bind_mount(const char *source, const char *target, bool ro)
{
	return json_pack("{s:s, s:s, s:s, s:b}", "Type", "bind", "Source", source, "Target", target, "ReadOnly", ro);
}

static bool mounts_target(const json_t *mounts, const char *target)
{
	json_t *m;
	size_t i;

	json_array_foreach(mounts, i, m)
		if (!strcmp(obj_str(m, "Target") ?: "", target))
			return true;
	return false;
}

static int container_mounts(const struct podconfig_container_input *in, json_t *mounts, char **err)
{
	json_t *vm;
	size_t i;

	json_array_foreach(obj_get(in->container, "volumeMounts"), i, vm) {
		const char *vname = obj_str(vm, "name") ?: "", *target = obj_str(vm, "mountPath");
		const char *sub = obj_str(vm, "subPath");
		const json_t *vol = find_volume(in->pod, vname);
		char *src;
		bool ro = obj_bool(vm, "readOnly", false);

		if (!target || !*target) {
			*err = xasprintf("volume mount \"%s\" has no mountPath", vname);
			return -1;
		}
		if (!vol) {
			*err = xasprintf("volume \"%s\" is mounted by container \"%s\" but not defined in the pod", vname,
					 obj_str(in->container, "name") ?: "");
			return -1;
		}
		src = podconfig_volume_path(in->pod_dir, vol);
		if (!src) {
			*err = xasprintf("volume \"%s\": only emptyDir, hostPath, configMap and secret are supported",
					 vname);
			return -1;
		}
		if (sub && *sub) {
			char *joined;
			if (path_escapes(sub)) {
				free(src);
				*err = xasprintf("subPath \"%s\" of volume \"%s\" must be a relative path inside it", sub,
						 vname);
				return -1;
			}
			joined = xasprintf("%s/%s", src, sub);
			free(src);
			src = joined;
		}
		/* The kubelet always mounts configMap and secret volumes read-only. */
		if (obj_get(vol, "configMap") || obj_get(vol, "secret"))
			ro = true;
		json_array_append_new(mounts, bind_mount(src, target, ro));
		free(src);
	}
	return 0;
}

/* ---- create bodies ----------------------------------------------------------------- */

static json_t *log_config(void)
{
	return json_pack("{s:s, s:{s:s, s:s}}", "Type", "json-file", "Config", "max-size", LOG_MAX_SIZE, "max-file",
			 LOG_MAX_FILE);
}

static json_t *string_array_expanded(const json_t *arr, const json_t *vars)
{
	json_t *out = json_array(), *v;
	size_t i;

	json_array_foreach(arr, i, v) {
		char *s = expand_obj(json_string_value(v) ?: "", vars);
		json_array_append_new(out, json_string(s));
		free(s);
	}
	return out;
}

/* securityContext field: the container's, else the pod's. */
static json_t *sc_field(const json_t *pod, const json_t *c, const char *field)
{
	json_t *v = obj_get(obj_get(c, "securityContext"), field);

	if (v && !json_is_null(v))
		return v;
	v = obj_get(obj_get(pod, "spec.securityContext"), field);
	return v && !json_is_null(v) ? v : NULL;
}

static void add_pod_labels(json_t *labels, const struct podconfig_container_input *in)
{
	const json_t *pod = in->pod;
	char buf[32];

	json_object_set_new(labels, LABEL_POD_NAME, json_string(obj_name(pod) ?: ""));
	json_object_set_new(labels, LABEL_POD_NAMESPACE, json_string(obj_namespace(pod) ?: "default"));
	json_object_set_new(labels, LABEL_POD_UID, json_string(obj_str(pod, "metadata.uid") ?: ""));
	json_object_set_new(labels, LABEL_NODE, json_string(in->node_name ?: ""));
	snprintf(buf, sizeof(buf), "%d", in->attempt);
	json_object_set_new(labels, LABEL_RESTART_COUNT, json_string(buf));
	snprintf(buf, sizeof(buf), "%lld", (long long)obj_int(pod, "spec.terminationGracePeriodSeconds", 30));
	json_object_set_new(labels, LABEL_GRACE, json_string(buf));
}

json_t *podconfig_container(const struct podconfig_container_input *in, char **err)
{
	const json_t *c = in->container, *pod = in->pod;
	json_t *body = json_object(), *host = json_object(), *labels = json_object(), *mounts = json_array();
	json_t *vars = env_to_object(in->env), *v, *cmd = obj_get(c, "command"), *args = obj_get(c, "args");
	json_t *limits = obj_get(c, "resources.limits"), *requests = obj_get(c, "resources.requests");
	char *sandbox = xasprintf("container:%s", in->sandbox_id ?: "");
	const char *q;
	double d;

	*err = NULL;
	/* body owns labels from here on, so every way out frees them. */
	json_object_set_new(body, "Labels", labels);
	json_object_set_new(body, "Image", json_string(obj_str(c, "image") ?: ""));
	if (json_array_size(cmd)) {
		json_object_set_new(body, "Entrypoint", string_array_expanded(cmd, vars));
		/* Without args the image's CMD must not be appended to a new command. */
		json_object_set_new(body, "Cmd", json_array_size(args) ? string_array_expanded(args, vars) : json_array());
	} else if (json_array_size(args)) {
		json_object_set_new(body, "Cmd", string_array_expanded(args, vars));
	}
	json_object_set_new(body, "Env", json_deep_copy(in->env ? in->env : json_array()));
	if ((q = obj_str(c, "workingDir")) && *q)
		json_object_set_new(body, "WorkingDir", json_string(q));
	if ((v = sc_field(pod, c, "runAsUser")) && json_is_integer(v)) {
		json_t *g = sc_field(pod, c, "runAsGroup");
		char *user = json_is_integer(g) ? xasprintf("%lld:%lld", (long long)json_integer_value(v),
							    (long long)json_integer_value(g))
					     : xasprintf("%lld", (long long)json_integer_value(v));
		if (json_integer_value(v) == 0 && json_is_true(sc_field(pod, c, "runAsNonRoot"))) {
			*err = xstrdup("container's runAsUser breaks non-root policy (runAsNonRoot with runAsUser 0)");
			free(user);
			goto fail;
		}
		json_object_set_new(body, "User", json_string(user));
		free(user);
	}
	json_object_set_new(body, "Tty", json_boolean(obj_bool(c, "tty", false)));
	json_object_set_new(body, "OpenStdin", json_boolean(obj_bool(c, "stdin", false)));
	json_object_set_new(body, "StdinOnce", json_boolean(obj_bool(c, "stdinOnce", false)));
	json_object_set_new(body, "AttachStdin", json_boolean(obj_bool(c, "stdin", false)));

	add_pod_labels(labels, in);
	json_object_set_new(labels, LABEL_TYPE, json_string(TYPE_CONTAINER));
	json_object_set_new(labels, LABEL_CONTAINER_NAME, json_string(obj_str(c, "name") ?: ""));
	json_object_set_new(labels, LABEL_SANDBOX_ID, json_string(in->sandbox_id ?: ""));
	json_object_set_new(labels, LABEL_HASH, json_string(in->hash ?: ""));
	if ((v = obj_get(c, "lifecycle.preStop"))) {
		char *s = obj_dump(v, NULL);
		json_object_set_new(labels, LABEL_PRESTOP, json_string(s));
		free(s);
	}
	if (in->termination_file)
		json_object_set_new(labels, LABEL_TERMINATION_PATH, json_string(in->termination_file));

	json_object_set_new(host, "NetworkMode", json_string(sandbox));
	json_object_set_new(host, "IpcMode", json_string(obj_bool(pod, "spec.hostIPC", false) ? "host" : sandbox));
	if (obj_bool(pod, "spec.shareProcessNamespace", false))
		json_object_set_new(host, "PidMode", json_string(sandbox));
	else if (obj_bool(pod, "spec.hostPID", false))
		json_object_set_new(host, "PidMode", json_string("host"));
	if (container_mounts(in, mounts, err) < 0)
		goto fail;
	if (!mounts_target(mounts, "/etc/hosts")) {
		char *p = xasprintf("%s/etc-hosts", in->pod_dir);
		json_array_append_new(mounts, bind_mount(p, "/etc/hosts", false));
		free(p);
	}
	if (!mounts_target(mounts, "/etc/resolv.conf")) {
		char *p = xasprintf("%s/resolv.conf", in->pod_dir);
		json_array_append_new(mounts, bind_mount(p, "/etc/resolv.conf", false));
		free(p);
	}
	if (in->termination_file) {
		const char *path = obj_str(c, "terminationMessagePath");
		if (path && *path && !mounts_target(mounts, path))
			json_array_append_new(mounts, bind_mount(in->termination_file, path, false));
	}
	json_object_set_new(host, "Mounts", mounts);
	mounts = NULL;

	if ((q = obj_str(limits, "memory")) && podconfig_quantity(q, &d) == 0 && d > 0) {
		json_object_set_new(host, "Memory", json_integer((json_int_t)d));
		json_object_set_new(host, "MemorySwap", json_integer((json_int_t)d));
	}
	if ((q = obj_str(limits, "cpu")) && podconfig_quantity(q, &d) == 0 && d > 0)
		json_object_set_new(host, "NanoCpus", json_integer((json_int_t)llround(d * 1e9)));
	{
		/* Kubernetes' MilliCPUToShares: 1024 per CPU requested, at least 2. */
		json_int_t shares = 2;
		if ((q = obj_str(requests, "cpu")) && podconfig_quantity(q, &d) == 0 && d > 0)
			shares = (json_int_t)(d * 1024);
		json_object_set_new(host, "CpuShares", json_integer(shares < 2 ? 2 : shares));
	}
	if (obj_bool(obj_get(c, "securityContext"), "privileged", false))
		json_object_set_new(host, "Privileged", json_true());
	if (obj_bool(obj_get(c, "securityContext"), "readOnlyRootFilesystem", false))
		json_object_set_new(host, "ReadonlyRootfs", json_true());
	if ((v = obj_get(c, "securityContext.capabilities.add")) && json_array_size(v))
		json_object_set_new(host, "CapAdd", json_deep_copy(v));
	if ((v = obj_get(c, "securityContext.capabilities.drop")) && json_array_size(v))
		json_object_set_new(host, "CapDrop", json_deep_copy(v));
	if ((v = obj_get(pod, "spec.securityContext.supplementalGroups")) && json_array_size(v)) {
		json_t *groups = json_array(), *g;
		size_t i;
		json_array_foreach(v, i, g) {
			char buf[32];
			snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(g));
			json_array_append_new(groups, json_string(buf));
		}
		json_object_set_new(host, "GroupAdd", groups);
	}
	json_object_set_new(host, "LogConfig", log_config());
	json_object_set_new(body, "HostConfig", host);
	json_decref(vars);
	free(sandbox);
	return body;
fail:
	json_decref(mounts);
	json_decref(host);
	json_decref(body);
	json_decref(vars);
	free(sandbox);
	return NULL;
}

json_t *podconfig_sandbox(const struct podconfig_sandbox_input *in)
{
	const json_t *pod = in->pod;
	bool host_net = obj_bool(pod, "spec.hostNetwork", false);
	json_t *body = json_object(), *host = json_object(), *labels = json_object();
	json_t *exposed = json_object(), *bindings = json_object(), *c, *p, *v;
	struct podconfig_container_input ci = { .pod = pod, .node_name = in->node_name, .attempt = in->attempt };
	const char *k;
	size_t i, j;

	json_object_set_new(body, "Image", json_string(in->image));
	if (!host_net) {
		char *h = podconfig_hostname(pod);
		json_object_set_new(body, "Hostname", json_string(h));
		free(h);
	}
	/* The pod's labels too, as dockershim did, so `docker ps --filter label=app=web` finds pods. */
	json_object_foreach(obj_get(pod, "metadata.labels"), k, v)
		if (json_is_string(v) && !str_has_prefix(k, "io.kubernetes.") && !str_has_prefix(k, "io.minik8s."))
			json_object_set(labels, k, v);
	add_pod_labels(labels, &ci);
	json_object_set_new(labels, LABEL_TYPE, json_string(TYPE_SANDBOX));
	json_object_set_new(labels, LABEL_CONTAINER_NAME, json_string(SANDBOX_CONTAINER_NAME));
	json_object_set_new(body, "Labels", labels);

	json_array_foreach(obj_get(pod, "spec.containers"), i, c) {
		json_array_foreach(obj_get(c, "ports"), j, p) {
			long long cport = (long long)obj_int(p, "containerPort", 0);
			long long hport = (long long)obj_int(p, "hostPort", 0);
			char key[48], *proto;
			json_t *list;
			if (!cport || !hport || host_net)
				continue;
			proto = xstrdup(obj_str(p, "protocol") ?: "TCP");
			for (char *s = proto; *s; s++)
				*s = (char)tolower((unsigned char)*s);
			snprintf(key, sizeof(key), "%lld/%s", cport, proto);
			free(proto);
			json_object_set_new(exposed, key, json_object());
			list = json_object_get(bindings, key);
			if (!list) {
				list = json_array();
				json_object_set_new(bindings, key, list);
			}
			{
				char hp[16];
				snprintf(hp, sizeof(hp), "%lld", hport);
				json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp", obj_str(p, "hostIP") ?: "",
								      "HostPort", hp));
			}
		}
	}
	if (json_object_size(exposed))
		json_object_set_new(body, "ExposedPorts", exposed);
	else
		json_decref(exposed);
	json_object_set_new(host, "NetworkMode", json_string(host_net ? "host" : (in->network ? in->network : "bridge")));
	json_object_set_new(host, "IpcMode", json_string(obj_bool(pod, "spec.hostIPC", false) ? "host" : "shareable"));
	if (obj_bool(pod, "spec.hostPID", false))
		json_object_set_new(host, "PidMode", json_string("host"));
	if (json_object_size(bindings))
		json_object_set_new(host, "PortBindings", bindings);
	else
		json_decref(bindings);
	json_object_set_new(host, "CpuShares", json_integer(2));
	json_object_set_new(host, "LogConfig", log_config());
	json_object_set_new(body, "HostConfig", host);
	return body;
}

/* ---- DNS and hosts ----------------------------------------------------------------- */

struct resolv {
	json_t *nameservers, *searches, *options; /* arrays of strings; options "name[:value]" */
};

static void resolv_init(struct resolv *r)
{
	r->nameservers = json_array();
	r->searches = json_array();
	r->options = json_array();
}

static void resolv_release(struct resolv *r)
{
	json_decref(r->nameservers);
	json_decref(r->searches);
	json_decref(r->options);
}

static bool array_has(const json_t *a, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (!strcmp(json_string_value(v) ?: "", s))
			return true;
	return false;
}

static void add_unique(json_t *a, const char *s)
{
	if (s && *s && !array_has(a, s))
		json_array_append_new(a, json_string(s));
}

/* An option replaces one of the same name ("ndots:2" replaces "ndots:5"). */
static void add_option(json_t *a, const char *opt)
{
	size_t n = strcspn(opt, ":");
	json_t *v;
	size_t i;

	if (!*opt)
		return;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v) ?: "";
		if (strcspn(s, ":") == n && !strncmp(s, opt, n)) {
			json_array_set_new(a, i, json_string(opt));
			return;
		}
	}
	json_array_append_new(a, json_string(opt));
}

static void parse_host_resolv(const char *text, struct resolv *r)
{
	char *copy = xstrdup(text ? text : ""), *save = NULL;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *words[16], *wsave = NULL;
		int n = 0;
		for (char *w = strtok_r(line, " \t\r", &wsave); w && n < 16; w = strtok_r(NULL, " \t\r", &wsave))
			words[n++] = w;
		if (!n || words[0][0] == '#' || words[0][0] == ';')
			continue;
		if (!strcmp(words[0], "nameserver") && n > 1) {
			/* A resolver on the node's loopback (systemd-resolved's
			 * 127.0.0.53) is not reachable from a pod: Docker drops
			 * those too. */
			if (str_has_prefix(words[1], "127.") || !strcmp(words[1], "::1"))
				continue;
			add_unique(r->nameservers, words[1]);
		} else if ((!strcmp(words[0], "search") || !strcmp(words[0], "domain"))) {
			for (int i = 1; i < n; i++)
				add_unique(r->searches, words[i]);
		} else if (!strcmp(words[0], "options")) {
			for (int i = 1; i < n; i++)
				add_option(r->options, words[i]);
		}
	}
	free(copy);
}

char *podconfig_resolv_conf(const struct podconfig_dns_input *in)
{
	const json_t *pod = in->pod;
	const char *policy = obj_str(pod, "spec.dnsPolicy") ?: "ClusterFirst";
	const char *domain = in->cluster_domain && *in->cluster_domain ? in->cluster_domain : "cluster.local";
	bool host_net = obj_bool(pod, "spec.hostNetwork", false);
	json_t *cfg = obj_get(pod, "spec.dnsConfig"), *v;
	struct resolv r, host;
	struct strbuf sb;
	size_t i;

	resolv_init(&r);
	resolv_init(&host);
	parse_host_resolv(in->host_resolv, &host);
	if (!strcmp(policy, "ClusterFirst") && host_net)
		policy = "Default";
	if ((!strcmp(policy, "ClusterFirst") || !strcmp(policy, "ClusterFirstWithHostNet")) &&
	    (!in->cluster_dns || !*in->cluster_dns))
		policy = "Default"; /* as the kubelet without --cluster-dns */
	if (!strcmp(policy, "ClusterFirst") || !strcmp(policy, "ClusterFirstWithHostNet")) {
		char *s;
		add_unique(r.nameservers, in->cluster_dns);
		s = xasprintf("%s.svc.%s", obj_namespace(pod) ?: "default", domain);
		add_unique(r.searches, s);
		free(s);
		s = xasprintf("svc.%s", domain);
		add_unique(r.searches, s);
		free(s);
		add_unique(r.searches, domain);
		json_array_foreach(host.searches, i, v)
			add_unique(r.searches, json_string_value(v));
		add_option(r.options, "ndots:5");
	} else if (!strcmp(policy, "Default")) {
		json_array_foreach(host.nameservers, i, v)
			add_unique(r.nameservers, json_string_value(v));
		if (!json_array_size(r.nameservers)) {
			add_unique(r.nameservers, "8.8.8.8");
			add_unique(r.nameservers, "8.8.4.4");
		}
		json_array_foreach(host.searches, i, v)
			add_unique(r.searches, json_string_value(v));
		json_array_foreach(host.options, i, v)
			add_option(r.options, json_string_value(v));
	}
	json_array_foreach(obj_get(cfg, "nameservers"), i, v)
		add_unique(r.nameservers, json_string_value(v));
	json_array_foreach(obj_get(cfg, "searches"), i, v)
		add_unique(r.searches, json_string_value(v));
	json_array_foreach(obj_get(cfg, "options"), i, v) {
		const char *name = obj_str(v, "name"), *val = obj_str(v, "value");
		char *opt;
		if (!name || !*name)
			continue;
		opt = val && *val ? xasprintf("%s:%s", name, val) : xstrdup(name);
		add_option(r.options, opt);
		free(opt);
	}

	strbuf_init(&sb, 256);
	json_array_foreach(r.nameservers, i, v)
		if (i < MAX_NAMESERVERS)
			strbuf_addf(&sb, "nameserver %s\n", json_string_value(v));
	if (json_array_size(r.searches)) {
		strbuf_adds(&sb, "search");
		json_array_foreach(r.searches, i, v)
			strbuf_addf(&sb, " %s", json_string_value(v));
		strbuf_addc(&sb, '\n');
	}
	if (json_array_size(r.options)) {
		strbuf_adds(&sb, "options");
		json_array_foreach(r.options, i, v)
			strbuf_addf(&sb, " %s", json_string_value(v));
		strbuf_addc(&sb, '\n');
	}
	resolv_release(&r);
	resolv_release(&host);
	return strbuf_detach(&sb, NULL);
}

char *podconfig_hostname(const json_t *pod)
{
	const char *h = obj_str(pod, "spec.hostname");

	if (!h || !*h)
		h = obj_name(pod) ?: "pod";
	return xstrndup(h, strlen(h) > 63 ? 63 : strlen(h));
}

char *podconfig_hosts(const json_t *pod, const char *pod_ip, const char *cluster_domain, const char *host_hosts)
{
	const char *domain = cluster_domain && *cluster_domain ? cluster_domain : "cluster.local";
	const char *sub = obj_str(pod, "spec.subdomain");
	json_t *aliases = obj_get(pod, "spec.hostAliases"), *a, *h;
	struct strbuf sb;
	size_t i, j;

	strbuf_init(&sb, 512);
	if (obj_bool(pod, "spec.hostNetwork", false)) {
		strbuf_adds(&sb, "# Kubernetes-managed hosts file (host network).\n");
		strbuf_adds(&sb, host_hosts ? host_hosts : "127.0.0.1\tlocalhost\n");
		if (sb.len && sb.buf[sb.len - 1] != '\n')
			strbuf_addc(&sb, '\n');
	} else {
		char *name = podconfig_hostname(pod);
		strbuf_adds(&sb, "# Kubernetes-managed hosts file.\n"
				 "127.0.0.1\tlocalhost\n"
				 "::1\tlocalhost ip6-localhost ip6-loopback\n"
				 "fe00::0\tip6-localnet\n"
				 "fe00::0\tip6-mcastprefix\n"
				 "fe00::1\tip6-allnodes\n"
				 "fe00::2\tip6-allrouters\n");
		if (pod_ip && *pod_ip) {
			if (sub && *sub)
				strbuf_addf(&sb, "%s\t%s.%s.%s.svc.%s\t%s\n", pod_ip, name, sub,
					    obj_namespace(pod) ?: "default", domain, name);
			else
				strbuf_addf(&sb, "%s\t%s\n", pod_ip, name);
		}
		free(name);
	}
	if (json_array_size(aliases)) {
		strbuf_adds(&sb, "\n# Entries added by HostAliases.\n");
		json_array_foreach(aliases, i, a) {
			const char *ip = obj_str(a, "ip");
			if (!ip || !*ip)
				continue;
			strbuf_adds(&sb, ip);
			json_array_foreach(obj_get(a, "hostnames"), j, h)
				strbuf_addf(&sb, "\t%s", json_string_value(h) ?: "");
			strbuf_addc(&sb, '\n');
		}
	}
	return strbuf_detach(&sb, NULL);
}
