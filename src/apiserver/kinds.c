/*
 * The kinds registry (see kinds.h): the list of kinds the apiserver serves,
 * lookups by URL resource, by apiVersion+kind and by whatever name a user
 * types ("po", "deploy", "deployments.apps"), the names of Kubernetes kinds
 * minik8s does not serve (so "jobs" gets a clear message instead of a bare
 * 404), the generic part of field selectors and the table cells several
 * kinds share. Each kind's own rules live in src/apiserver/kinds/<kind>.c.
 */
#include "apiserver/kinds.h"
#include "apiserver/storage.h"
#include "kinds/internal.h"
#include "object.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Discovery order: the core group sorted by resource, then apps, then coordination. */
const struct kind *const kinds[] = {
	&kind_configmap, &kind_endpoints, &kind_event, &kind_namespace, &kind_node,
	&kind_pod, &kind_secret, &kind_service,
	&kind_deployment, &kind_replicaset,
	&kind_lease,
	NULL,
};

#define NKINDS (ARRAY_SIZE(kinds) - 1)

static char api_versions[NKINDS][64];
static pthread_once_t api_versions_once = PTHREAD_ONCE_INIT;

static void api_versions_init(void)
{
	for (size_t i = 0; i < NKINDS; i++) {
		const struct kind *k = kinds[i];
		if (k->group[0])
			snprintf(api_versions[i], sizeof(api_versions[i]), "%s/%s", k->group, k->version);
		else
			snprintf(api_versions[i], sizeof(api_versions[i]), "%s", k->version);
	}
}

const char *kind_api_version(const struct kind *k)
{
	pthread_once(&api_versions_once, api_versions_init);
	for (size_t i = 0; i < NKINDS; i++)
		if (kinds[i] == k)
			return api_versions[i];
	return k->group[0] ? k->group : k->version;
}

const struct kind *kind_by_resource(const char *group, const char *version, const char *plural)
{
	for (size_t i = 0; i < NKINDS; i++) {
		const struct kind *k = kinds[i];
		if (!strcmp(k->group, group ? group : "") && !strcmp(k->version, version) &&
		    !strcmp(k->plural, plural))
			return k;
	}
	return NULL;
}

const struct kind *kind_by_kind(const char *api_version, const char *kind)
{
	const char *slash;
	size_t glen;

	if (!api_version || !kind)
		return NULL;
	slash = strchr(api_version, '/');
	glen = slash ? (size_t)(slash - api_version) : 0;
	for (size_t i = 0; i < NKINDS; i++) {
		const struct kind *k = kinds[i];
		const char *version = slash ? slash + 1 : api_version;

		if (strcmp(k->kind, kind) || strcmp(k->version, version))
			continue;
		if (strlen(k->group) == glen && !strncmp(k->group, api_version, glen))
			return k;
	}
	return NULL;
}

/*
 * Whether name is one of the given spellings, bare or qualified by the
 * group ("deploy.apps") or by version and group ("deployments.v1.apps").
 * Core kinds have no group and so no qualified forms.
 */
static bool name_is(const char *name, const char *group, const char *version,
		    const char *const *spellings)
{
	const char *dot = strchr(name, '.');
	size_t base = dot ? (size_t)(dot - name) : strlen(name);
	bool base_ok = false;

	for (int i = 0; spellings[i] && !base_ok; i++)
		base_ok = strlen(spellings[i]) == base && !strncasecmp(name, spellings[i], base);
	if (!base_ok)
		return false;
	if (!dot)
		return true;
	if (!group[0])
		return false;
	if (!strcasecmp(dot + 1, group))
		return true;
	if (version && !strncasecmp(dot + 1, version, strlen(version)) && dot[1 + strlen(version)] == '.' &&
	    !strcasecmp(dot + 2 + strlen(version), group))
		return true;
	return false;
}

const struct kind *kind_by_name(const char *name)
{
	if (!name || !*name)
		return NULL;
	for (size_t i = 0; i < NKINDS; i++) {
		const struct kind *k = kinds[i];
		const char *spellings[12] = { k->plural, k->singular, k->kind };
		int n = 3;

		for (int j = 0; k->short_names && k->short_names[j] && n < 11; j++)
			spellings[n++] = k->short_names[j];
		spellings[n] = NULL;
		if (name_is(name, k->group, k->version, spellings))
			return k;
	}
	return NULL;
}

/* Kubernetes kinds minik8s does not serve: canonical name, then what users type. */
static const struct unsupported {
	const char *canonical; /* "plural.group", or plural for core */
	const char *group;
	const char *version;
	const char *names[6];   /* plural, singular, Kind, short names */
} unsupported[] = {
	{ "jobs.batch", "batch", "v1", { "jobs", "job", "Job" } },
	{ "cronjobs.batch", "batch", "v1", { "cronjobs", "cronjob", "CronJob", "cj" } },
	{ "daemonsets.apps", "apps", "v1", { "daemonsets", "daemonset", "DaemonSet", "ds" } },
	{ "statefulsets.apps", "apps", "v1", { "statefulsets", "statefulset", "StatefulSet", "sts" } },
	{ "controllerrevisions.apps", "apps", "v1", { "controllerrevisions", "controllerrevision", "ControllerRevision" } },
	{ "ingresses.networking.k8s.io", "networking.k8s.io", "v1", { "ingresses", "ingress", "Ingress", "ing" } },
	{ "ingressclasses.networking.k8s.io", "networking.k8s.io", "v1", { "ingressclasses", "ingressclass", "IngressClass" } },
	{ "networkpolicies.networking.k8s.io", "networking.k8s.io", "v1",
	  { "networkpolicies", "networkpolicy", "NetworkPolicy", "netpol" } },
	{ "persistentvolumeclaims", "", "v1", { "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", "pvc" } },
	{ "persistentvolumes", "", "v1", { "persistentvolumes", "persistentvolume", "PersistentVolume", "pv" } },
	{ "serviceaccounts", "", "v1", { "serviceaccounts", "serviceaccount", "ServiceAccount", "sa" } },
	{ "resourcequotas", "", "v1", { "resourcequotas", "resourcequota", "ResourceQuota", "quota" } },
	{ "limitranges", "", "v1", { "limitranges", "limitrange", "LimitRange", "limits" } },
	{ "replicationcontrollers", "", "v1", { "replicationcontrollers", "replicationcontroller", "ReplicationController", "rc" } },
	{ "podtemplates", "", "v1", { "podtemplates", "podtemplate", "PodTemplate" } },
	{ "componentstatuses", "", "v1", { "componentstatuses", "componentstatus", "ComponentStatus", "cs" } },
	{ "roles.rbac.authorization.k8s.io", "rbac.authorization.k8s.io", "v1", { "roles", "role", "Role" } },
	{ "rolebindings.rbac.authorization.k8s.io", "rbac.authorization.k8s.io", "v1",
	  { "rolebindings", "rolebinding", "RoleBinding" } },
	{ "clusterroles.rbac.authorization.k8s.io", "rbac.authorization.k8s.io", "v1",
	  { "clusterroles", "clusterrole", "ClusterRole" } },
	{ "clusterrolebindings.rbac.authorization.k8s.io", "rbac.authorization.k8s.io", "v1",
	  { "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding" } },
	{ "horizontalpodautoscalers.autoscaling", "autoscaling", "v2",
	  { "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", "hpa" } },
	{ "storageclasses.storage.k8s.io", "storage.k8s.io", "v1", { "storageclasses", "storageclass", "StorageClass", "sc" } },
	{ "csidrivers.storage.k8s.io", "storage.k8s.io", "v1", { "csidrivers", "csidriver", "CSIDriver" } },
	{ "csinodes.storage.k8s.io", "storage.k8s.io", "v1", { "csinodes", "csinode", "CSINode" } },
	{ "volumeattachments.storage.k8s.io", "storage.k8s.io", "v1", { "volumeattachments", "volumeattachment", "VolumeAttachment" } },
	{ "customresourcedefinitions.apiextensions.k8s.io", "apiextensions.k8s.io", "v1",
	  { "customresourcedefinitions", "customresourcedefinition", "CustomResourceDefinition", "crd", "crds" } },
	{ "poddisruptionbudgets.policy", "policy", "v1", { "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", "pdb" } },
	{ "endpointslices.discovery.k8s.io", "discovery.k8s.io", "v1", { "endpointslices", "endpointslice", "EndpointSlice" } },
	{ "priorityclasses.scheduling.k8s.io", "scheduling.k8s.io", "v1", { "priorityclasses", "priorityclass", "PriorityClass", "pc" } },
	{ "runtimeclasses.node.k8s.io", "node.k8s.io", "v1", { "runtimeclasses", "runtimeclass", "RuntimeClass" } },
	{ "certificatesigningrequests.certificates.k8s.io", "certificates.k8s.io", "v1",
	  { "certificatesigningrequests", "certificatesigningrequest", "CertificateSigningRequest", "csr" } },
	{ "mutatingwebhookconfigurations.admissionregistration.k8s.io", "admissionregistration.k8s.io", "v1",
	  { "mutatingwebhookconfigurations", "mutatingwebhookconfiguration", "MutatingWebhookConfiguration" } },
	{ "validatingwebhookconfigurations.admissionregistration.k8s.io", "admissionregistration.k8s.io", "v1",
	  { "validatingwebhookconfigurations", "validatingwebhookconfiguration", "ValidatingWebhookConfiguration" } },
	{ "apiservices.apiregistration.k8s.io", "apiregistration.k8s.io", "v1", { "apiservices", "apiservice", "APIService" } },
};

const char *kind_unsupported(const char *name)
{
	if (!name || !*name || kind_by_name(name))
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
		const struct unsupported *u = &unsupported[i];
		if (name_is(name, u->group, u->version, u->names))
			return u->canonical;
	}
	return NULL;
}

const char *kind_field_value(const struct kind *k, const json_t *obj, const char *field)
{
	if (!strcmp(field, "metadata.name")) {
		const char *n = obj_name(obj);
		return n ? n : "";
	}
	if (!strcmp(field, "metadata.namespace")) {
		const char *ns = obj_namespace(obj);
		return ns ? ns : "";
	}
	return k && k->field_value ? k->field_value(obj, field) : NULL;
}

struct store_attrs *kind_attrs(const json_t *obj, void *kind)
{
	static const char *const generic[] = { "metadata.name", "metadata.namespace" };
	const struct kind *k = kind;
	const json_t *labels = obj_get(obj, "metadata.labels");
	const char *const *fields = k ? k->fields : NULL;
	size_t nlabels = 0, nfields = ARRAY_SIZE(generic), bytes = 0, i = 0;
	const char *key;
	const json_t *v;
	struct store_attrs *a;
	char *p;

	/* Sizes first: one allocation holds the pointers and the strings. */
	json_object_foreach((json_t *)labels, key, v) {
		if (!json_is_string(v))
			continue;
		nlabels++;
		bytes += strlen(key) + json_string_length(v) + 2;
	}
	for (size_t f = 0; f < ARRAY_SIZE(generic); f++)
		bytes += strlen(kind_field_value(k, obj, generic[f])) + 1;
	for (size_t f = 0; fields && fields[f]; f++, nfields++)
		bytes += strlen(kind_field_value(k, obj, fields[f])) + 1;

	a = xmalloc(sizeof(*a) + 2 * (nlabels + nfields) * sizeof(a->kv[0]) + bytes);
	a->nlabels = (uint32_t)nlabels;
	a->nfields = (uint32_t)nfields;
	p = (char *)&a->kv[2 * (nlabels + nfields)];
#define PUT(s)                                          \
	do {                                            \
		size_t n_ = strlen(s) + 1;              \
		a->kv[i++] = memcpy(p, (s), n_);        \
		p += n_;                                \
	} while (0)
	json_object_foreach((json_t *)labels, key, v) {
		if (!json_is_string(v))
			continue;
		PUT(key);
		PUT(json_string_value(v));
	}
#undef PUT
	/* Field names are static strings: only their values are copied. */
	for (size_t f = 0; f < nfields; f++) {
		const char *name = f < ARRAY_SIZE(generic) ? generic[f] : fields[f - ARRAY_SIZE(generic)];
		const char *val = kind_field_value(k, obj, name);
		size_t n = strlen(val) + 1;

		a->kv[i++] = name;
		a->kv[i++] = memcpy(p, val, n);
		p += n;
	}
	return a;
}

/* ---- cells ------------------------------------------------------------------ */

json_t *cell_since(const char *ts, time_t now)
{
	char buf[32];
	time_t t;

	if (!ts || !*ts || time_parse_rfc3339(ts, &t) < 0)
		return json_string("<unknown>");
	duration_short((int64_t)(now - t), buf, sizeof(buf));
	return json_string(buf);
}

json_t *cell_age(const json_t *obj, time_t now)
{
	return cell_since(obj_str(obj, "metadata.creationTimestamp"), now);
}

json_t *cell_str(const json_t *obj, const char *path, const char *def)
{
	const char *s = obj_str(obj, path);
	return json_string(s ? s : def);
}

json_t *cell_int(const json_t *obj, const char *path)
{
	return json_integer(obj_int(obj, path, 0));
}

/* kubectl lays out a template's containers on one line: names, then images. */
static json_t *template_containers_field(const json_t *obj, const char *field)
{
	struct strbuf sb;
	size_t i;
	json_t *c, *out;

	strbuf_init(&sb, 64);
	json_array_foreach(obj_get(obj, "spec.template.spec.containers"), i, c) {
		const char *s = obj_str(c, field);
		strbuf_addf(&sb, "%s%s", i ? "," : "", s ? s : "");
	}
	out = json_string(sb.buf);
	strbuf_release(&sb);
	return out;
}

json_t *cell_template_containers(const json_t *obj, time_t now)
{
	return template_containers_field(obj, "name");
}

json_t *cell_template_images(const json_t *obj, time_t now)
{
	return template_containers_field(obj, "image");
}
