/*
 * Tests for the kinds registry (src/apiserver/kinds.c and kinds/): name
 * lookups, Kubernetes' defaults for each kind, validation messages worded
 * exactly as Kubernetes words them, update immutability, table cells for
 * realistic objects, and field-selector values.
 */
#include "apiserver/kinds.h"
#include "apiserver/kinds/internal.h"
#include "object.h"
#include "testing.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* 2026-01-01T00:00:00Z: every timestamp below is relative to it. */
#define NOW ((time_t)1767225600)

static json_t *J(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, 0, &err);

	if (!v) {
		fprintf(stderr, "bad test JSON at line %d: %s\n", err.line, err.text);
		abort();
	}
	return v;
}

/* Runs defaults then validate (old is defaulted too) and returns the
 * Status-message form of the errors, "" when valid. Caller frees. */
static char *check(const struct kind *k, json_t *obj, json_t *old)
{
	struct field_errors e = { 0 };
	char *s;

	if (k->defaults) {
		k->defaults(obj);
		if (old)
			k->defaults(old);
	}
	k->validate(obj, old, &e);
	s = field_errors_string(&e);
	field_errors_release(&e);
	return s;
}

#define CHECK_ERRS(k, text, want)                          \
	do {                                               \
		json_t *_o = J(text);                      \
		char *_s = check((k), _o, NULL);           \
		CHECK_STR(_s, (want));                     \
		free(_s);                                  \
		json_decref(_o);                           \
	} while (0)

/* Cell of the named column for obj, as a string (integers printed). */
static char *cell(const struct kind *k, const json_t *obj, const char *column)
{
	for (const struct table_column *c = k->columns; c && c->name; c++) {
		if (strcmp(c->name, column))
			continue;
		json_t *v = c->cell(obj, NOW);
		char *s = json_is_string(v) ? xstrdup(json_string_value(v))
					    : xasprintf("%lld", (long long)json_integer_value(v));
		json_decref(v);
		return s;
	}
	return xstrdup("(no such column)");
}

#define CHECK_CELL(k, obj, column, want)             \
	do {                                         \
		char *_c = cell((k), (obj), (column)); \
		CHECK_STR(_c, (want));               \
		free(_c);                            \
	} while (0)

static const char *POD_MINIMAL =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\","
	"\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.27\","
	"\"ports\":[{\"containerPort\":80,\"name\":\"http\"}],\"readinessProbe\":{\"httpGet\":{\"port\":\"http\"}},"
	"\"env\":[{\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}}]}]}}";

/* ---- registry ------------------------------------------------------------- */

static void test_lookups(void)
{
	static const struct {
		const char *name;
		const struct kind *want;
	} names[] = {
		{ "pods", &kind_pod }, { "pod", &kind_pod }, { "po", &kind_pod }, { "Pod", &kind_pod },
		{ "PODS", &kind_pod }, { "services", &kind_service }, { "svc", &kind_service },
		{ "deployments.apps", &kind_deployment }, { "deploy", &kind_deployment },
		{ "deployment.apps", &kind_deployment }, { "deployments.v1.apps", &kind_deployment },
		{ "Deployment", &kind_deployment }, { "rs", &kind_replicaset }, { "replicasets.apps", &kind_replicaset },
		{ "ns", &kind_namespace }, { "no", &kind_node }, { "nodes", &kind_node }, { "ev", &kind_event },
		{ "ep", &kind_endpoints }, { "endpoints", &kind_endpoints }, { "cm", &kind_configmap },
		{ "configmap", &kind_configmap }, { "secrets", &kind_secret }, { "Secret", &kind_secret },
		{ "leases", &kind_lease }, { "leases.coordination.k8s.io", &kind_lease }, { "Lease", &kind_lease },
		{ "pods.apps", NULL }, { "deploy.batch", NULL }, { "jobs", NULL }, { "", NULL }, { "p", NULL },
	};
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const struct kind *k = kind_by_name(names[i].name);
		if (k != names[i].want)
			fprintf(stderr, "kind_by_name(\"%s\") wrong\n", names[i].name);
		CHECK(k == names[i].want);
	}
	CHECK(kind_by_resource("", "v1", "pods") == &kind_pod);
	CHECK(kind_by_resource("apps", "v1", "deployments") == &kind_deployment);
	CHECK(kind_by_resource("coordination.k8s.io", "v1", "leases") == &kind_lease);
	CHECK(kind_by_resource("apps", "v1", "pods") == NULL);
	CHECK(kind_by_resource("", "v1", "Pods") == NULL);
	CHECK(kind_by_resource("apps", "v1beta1", "deployments") == NULL);
	CHECK(kind_by_kind("v1", "Pod") == &kind_pod);
	CHECK(kind_by_kind("apps/v1", "ReplicaSet") == &kind_replicaset);
	CHECK(kind_by_kind("coordination.k8s.io/v1", "Lease") == &kind_lease);
	CHECK(kind_by_kind("apps/v1", "Pod") == NULL);
	CHECK(kind_by_kind("v1", "Deployment") == NULL);
	CHECK(kind_by_kind("extensions/v1beta1", "Deployment") == NULL);
	CHECK_STR(kind_api_version(&kind_pod), "v1");
	CHECK_STR(kind_api_version(&kind_deployment), "apps/v1");
	CHECK_STR(kind_api_version(&kind_lease), "coordination.k8s.io/v1");

	for (const struct kind *const *k = kinds; *k; k++) {
		n++;
		CHECK((*k)->columns && (*k)->columns[0].name);
		CHECK((*k)->validate != NULL);
		CHECK(kind_by_resource((*k)->group, (*k)->version, (*k)->plural) == *k);
		CHECK(kind_by_name((*k)->singular) == *k);
	}
	CHECK_INT(n, 11);
	CHECK(!kind_namespace.namespaced && !kind_node.namespaced && kind_pod.namespaced && kind_lease.namespaced);
	CHECK(kind_namespace.name_is_label && kind_service.name_is_label && !kind_pod.name_is_label);
	CHECK(kind_deployment.tracks_generation && kind_replicaset.tracks_generation && !kind_pod.tracks_generation);
	CHECK_STR(kind_pod.subresources[3], "log");
	CHECK_STR(kind_deployment.subresources[1], "scale");
	CHECK_STR(kind_service.categories[0], "all");
	CHECK(kind_configmap.categories == NULL);
}

static void test_unsupported(void)
{
	CHECK_STR(kind_unsupported("jobs"), "jobs.batch");
	CHECK_STR(kind_unsupported("Job"), "jobs.batch");
	CHECK_STR(kind_unsupported("job.batch"), "jobs.batch");
	CHECK_STR(kind_unsupported("cj"), "cronjobs.batch");
	CHECK_STR(kind_unsupported("ds"), "daemonsets.apps");
	CHECK_STR(kind_unsupported("statefulsets.apps"), "statefulsets.apps");
	CHECK_STR(kind_unsupported("sts"), "statefulsets.apps");
	CHECK_STR(kind_unsupported("ing"), "ingresses.networking.k8s.io");
	CHECK_STR(kind_unsupported("ingresses.networking.k8s.io"), "ingresses.networking.k8s.io");
	CHECK_STR(kind_unsupported("netpol"), "networkpolicies.networking.k8s.io");
	CHECK_STR(kind_unsupported("pvc"), "persistentvolumeclaims");
	CHECK_STR(kind_unsupported("PersistentVolume"), "persistentvolumes");
	CHECK_STR(kind_unsupported("sa"), "serviceaccounts");
	CHECK_STR(kind_unsupported("roles"), "roles.rbac.authorization.k8s.io");
	CHECK_STR(kind_unsupported("hpa"), "horizontalpodautoscalers.autoscaling");
	CHECK_STR(kind_unsupported("sc"), "storageclasses.storage.k8s.io");
	CHECK_STR(kind_unsupported("crd"), "customresourcedefinitions.apiextensions.k8s.io");
	CHECK_STR(kind_unsupported("pdb"), "poddisruptionbudgets.policy");
	CHECK_STR(kind_unsupported("endpointslices"), "endpointslices.discovery.k8s.io");
	CHECK_STR(kind_unsupported("quota"), "resourcequotas");
	CHECK_STR(kind_unsupported("limits"), "limitranges");
	CHECK(kind_unsupported("pods") == NULL);
	CHECK(kind_unsupported("deploy") == NULL);
	CHECK(kind_unsupported("jobs.apps") == NULL);
	CHECK(kind_unsupported("frobnicators") == NULL);
}

/* ---- defaults --------------------------------------------------------------- */

static void test_pod_defaults(void)
{
	json_t *pod = J(POD_MINIMAL), *again, *c;

	kind_pod.defaults(pod);
	CHECK_STR(obj_str(pod, "spec.restartPolicy"), "Always");
	CHECK_STR(obj_str(pod, "spec.dnsPolicy"), "ClusterFirst");
	CHECK_INT(obj_int(pod, "spec.terminationGracePeriodSeconds", -1), 30);
	CHECK_STR(obj_str(pod, "spec.schedulerName"), "default-scheduler");
	CHECK(json_is_object(obj_get(pod, "spec.securityContext")) && !json_object_size(obj_get(pod, "spec.securityContext")));
	CHECK(json_is_true(obj_get(pod, "spec.enableServiceLinks")));
	c = json_array_get(obj_get(pod, "spec.containers"), 0);
	CHECK_STR(obj_str(c, "imagePullPolicy"), "IfNotPresent");
	CHECK_STR(obj_str(c, "terminationMessagePath"), "/dev/termination-log");
	CHECK_STR(obj_str(c, "terminationMessagePolicy"), "File");
	CHECK(json_is_object(obj_get(c, "resources")));
	CHECK_STR(obj_str(json_array_get(obj_get(c, "ports"), 0), "protocol"), "TCP");
	CHECK_INT(obj_int(c, "readinessProbe.timeoutSeconds", 0), 1);
	CHECK_INT(obj_int(c, "readinessProbe.periodSeconds", 0), 10);
	CHECK_INT(obj_int(c, "readinessProbe.successThreshold", 0), 1);
	CHECK_INT(obj_int(c, "readinessProbe.failureThreshold", 0), 3);
	CHECK_STR(obj_str(c, "readinessProbe.httpGet.scheme"), "HTTP");
	CHECK_STR(obj_str(c, "readinessProbe.httpGet.path"), "/");
	CHECK_STR(obj_str(json_array_get(obj_get(c, "env"), 0), "valueFrom.fieldRef.apiVersion"), "v1");
	CHECK_STR(obj_str(pod, "status.phase"), "Pending");
	CHECK_STR(obj_str(pod, "status.qosClass"), "BestEffort");

	/* Idempotent: a second pass changes nothing. */
	again = json_deep_copy(pod);
	kind_pod.defaults(again);
	CHECK(json_equal(pod, again));
	json_decref(again);
	json_decref(pod);

	/* imagePullPolicy follows the tag: Always for :latest or no tag, not for digests. */
	static const struct {
		const char *image, *policy;
	} images[] = {
		{ "nginx", "Always" }, { "nginx:latest", "Always" }, { "nginx:1.27", "IfNotPresent" },
		{ "localhost:5000/blog/api", "Always" }, { "localhost:5000/blog/api:v2", "IfNotPresent" },
		{ "registry.k8s.io/pause:3.10", "IfNotPresent" },
		{ "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "IfNotPresent" },
		{ "Nginx", "IfNotPresent" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(images); i++) {
		json_t *p = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}");
		obj_set(json_array_get(obj_get(p, "spec.containers"), 0), "image", json_string(images[i].image));
		kind_pod.defaults(p);
		CHECK_STR(obj_str(json_array_get(obj_get(p, "spec.containers"), 0), "imagePullPolicy"), images[i].policy);
		json_decref(p);
	}

	/* Limits alone become requests too, which makes the pod Guaranteed. */
	pod = J("{\"metadata\":{\"name\":\"db-0\",\"namespace\":\"blog\"},\"spec\":{\"containers\":[{\"name\":\"db\","
		"\"image\":\"postgres:16\",\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"256Mi\"}}}],"
		"\"volumes\":[{\"name\":\"data\"},{\"name\":\"cfg\",\"configMap\":{\"name\":\"db-config\"}}]}}");
	kind_pod.defaults(pod);
	c = json_array_get(obj_get(pod, "spec.containers"), 0);
	CHECK_STR(obj_str(c, "resources.requests.cpu"), "500m");
	CHECK_STR(obj_str(c, "resources.requests.memory"), "256Mi");
	CHECK_STR(obj_str(pod, "status.qosClass"), "Guaranteed");
	CHECK(json_is_object(obj_get(json_array_get(obj_get(pod, "spec.volumes"), 0), "emptyDir")));
	CHECK_INT(obj_int(json_array_get(obj_get(pod, "spec.volumes"), 1), "configMap.defaultMode", 0), 420);
	json_decref(pod);

	pod = J("{\"metadata\":{\"name\":\"api\"},\"spec\":{\"containers\":[{\"name\":\"api\",\"image\":\"api:1\","
		"\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]},\"status\":{\"phase\":\"Running\"}}");
	kind_pod.defaults(pod);
	CHECK_STR(obj_str(pod, "status.qosClass"), "Burstable");
	CHECK_STR(obj_str(pod, "status.phase"), "Running");
	json_decref(pod);
}

static void test_other_defaults(void)
{
	json_t *o, *again, *p;

	o = J("{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"selector\":{\"app\":\"web\"},"
	      "\"ports\":[{\"port\":80},{\"name\":\"metrics\",\"port\":9090,\"targetPort\":\"metrics\"}]}}");
	kind_service.defaults(o);
	CHECK_STR(obj_str(o, "spec.type"), "ClusterIP");
	CHECK_STR(obj_str(o, "spec.sessionAffinity"), "None");
	CHECK_STR(obj_str(o, "spec.internalTrafficPolicy"), "Cluster");
	CHECK_STR(obj_str(o, "spec.ipFamilyPolicy"), "SingleStack");
	CHECK_STR(json_string_value(json_array_get(obj_get(o, "spec.ipFamilies"), 0)), "IPv4");
	CHECK(obj_get(o, "spec.externalTrafficPolicy") == NULL);
	p = json_array_get(obj_get(o, "spec.ports"), 0);
	CHECK_STR(obj_str(p, "protocol"), "TCP");
	CHECK_INT(obj_int(p, "targetPort", 0), 80);
	CHECK_STR(obj_str(json_array_get(obj_get(o, "spec.ports"), 1), "targetPort"), "metrics");
	again = json_deep_copy(o);
	kind_service.defaults(again);
	CHECK(json_equal(o, again));
	json_decref(again);
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"front\",\"namespace\":\"default\"},\"spec\":{\"type\":\"LoadBalancer\","
	      "\"clusterIP\":\"10.96.0.42\",\"ports\":[{\"port\":80}]}}");
	kind_service.defaults(o);
	CHECK_STR(obj_str(o, "spec.externalTrafficPolicy"), "Cluster");
	CHECK(json_is_true(obj_get(o, "spec.allocateLoadBalancerNodePorts")));
	CHECK_STR(json_string_value(json_array_get(obj_get(o, "spec.clusterIPs"), 0)), "10.96.0.42");
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"selector\":{\"matchLabels\":"
	      "{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
	      "[{\"name\":\"web\",\"image\":\"nginx:1.27\"}]}}}}");
	kind_deployment.defaults(o);
	CHECK_INT(obj_int(o, "spec.replicas", -1), 1);
	CHECK_STR(obj_str(o, "spec.strategy.type"), "RollingUpdate");
	CHECK_STR(obj_str(o, "spec.strategy.rollingUpdate.maxUnavailable"), "25%");
	CHECK_STR(obj_str(o, "spec.strategy.rollingUpdate.maxSurge"), "25%");
	CHECK_INT(obj_int(o, "spec.revisionHistoryLimit", -1), 10);
	CHECK_INT(obj_int(o, "spec.progressDeadlineSeconds", -1), 600);
	CHECK_STR(obj_str(o, "spec.template.spec.restartPolicy"), "Always");
	CHECK_STR(obj_str(json_array_get(obj_get(o, "spec.template.spec.containers"), 0), "imagePullPolicy"),
		  "IfNotPresent");
	/* enableServiceLinks is a Pod default, not a template one. */
	CHECK(obj_get(o, "spec.template.spec.enableServiceLinks") == NULL);
	again = json_deep_copy(o);
	kind_deployment.defaults(again);
	CHECK(json_equal(o, again));
	json_decref(again);
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"w\"},\"spec\":{\"replicas\":0,\"strategy\":{\"type\":\"Recreate\"}}}");
	kind_deployment.defaults(o);
	CHECK_INT(obj_int(o, "spec.replicas", -1), 0);
	CHECK(obj_get(o, "spec.strategy.rollingUpdate") == NULL);
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"web-5d8f\",\"namespace\":\"default\"},\"spec\":{\"template\":{\"spec\":"
	      "{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]}}}}");
	kind_replicaset.defaults(o);
	CHECK_INT(obj_int(o, "spec.replicas", -1), 1);
	CHECK_STR(obj_str(o, "spec.template.spec.dnsPolicy"), "ClusterFirst");
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"blog\"}}");
	kind_namespace.defaults(o);
	CHECK_STR(json_string_value(json_array_get(obj_get(o, "spec.finalizers"), 0)), "kubernetes");
	CHECK_STR(obj_str(o, "status.phase"), "Active");
	CHECK_STR(obj_label(o, "kubernetes.io/metadata.name"), "blog");
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"db-creds\",\"namespace\":\"blog\"},\"data\":{\"user\":\"YmxvZw==\"},"
	      "\"stringData\":{\"password\":\"s3cret\"}}");
	kind_secret.defaults(o);
	CHECK_STR(obj_str(o, "type"), "Opaque");
	CHECK_STR(obj_str(o, "data.password"), "czNjcmV0");
	CHECK_STR(obj_str(o, "data.user"), "YmxvZw==");
	CHECK(obj_get(o, "stringData") == NULL);
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"node-1\"},\"spec\":{\"podCIDR\":\"10.244.1.0/24\"},\"status\":{\"capacity\":"
	      "{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"}}}");
	kind_node.defaults(o);
	CHECK_STR(obj_str(o, "status.allocatable.memory"), "8Gi");
	CHECK_STR(json_string_value(json_array_get(obj_get(o, "spec.podCIDRs"), 0)), "10.244.1.0/24");
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"web\"},\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.0.5\"}],\"ports\":"
	      "[{\"port\":80}]}]}");
	kind_endpoints.defaults(o);
	CHECK_STR(obj_str(json_array_get(obj_get(json_array_get(obj_get(o, "subsets"), 0), "ports"), 0), "protocol"),
		  "TCP");
	json_decref(o);
}

/* ---- validation ------------------------------------------------------------- */

#define SUBDOMAIN_MSG                                                                                 \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or " \
	"'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used " \
	"for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define LABEL_MSG                                                                                    \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and " \
	"must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "   \
	"used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"

static void test_names(void)
{
	CHECK(check_dns1123_label("web-1") == NULL);
	CHECK(check_dns1123_label("123-abc") == NULL);
	CHECK_STR(check_dns1123_label("Web_1"), LABEL_MSG);
	CHECK_STR(check_dns1123_label("-web"), LABEL_MSG);
	CHECK_STR(check_dns1123_label("a.b"), LABEL_MSG);
	CHECK_STR(check_dns1123_label("0123456789012345678901234567890123456789012345678901234567890123"),
		  "must be no more than 63 characters");
	CHECK(check_dns1123_subdomain("blog.example.com") == NULL);
	CHECK_STR(check_dns1123_subdomain("blog..example"), SUBDOMAIN_MSG);
	CHECK_STR(check_dns1123_subdomain(""), SUBDOMAIN_MSG);
	CHECK(check_label_key("app") == NULL);
	CHECK(check_label_key("app.kubernetes.io/name") == NULL);
	CHECK(check_label_key("My_Key.1") == NULL);
	CHECK_STR(check_label_key("Example.com/name"), "prefix part " SUBDOMAIN_MSG);
	CHECK_STR(check_label_key("a/b/c"),
		  "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
		  "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
		  "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
		  "prefix and '/' (e.g. 'example.com/MyName')");
	CHECK_STR(check_label_key("example.com/"), "name part must be non-empty");
	CHECK(check_label_value("") == NULL);
	CHECK(check_label_value("v1.2_beta-3") == NULL);
	CHECK_STR(check_label_value("-bad"),
		  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
		  "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
		  "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
}

static void test_quantities(void)
{
	static const struct {
		const char *text;
		double want;
	} ok[] = {
		{ "100m", 0.1 }, { "1", 1 }, { "1.5", 1.5 }, { "128Mi", 134217728 }, { "1G", 1e9 }, { "1e3", 1000 },
		{ "2Ki", 2048 }, { "500u", 0.0005 }, { "+3", 3 }, { ".5", 0.5 }, { "1E", 1e18 }, { "1Ei", 1152921504606846976.0 },
		{ "0", 0 }, { "-1", -1 }, { "5e-1", 0.5 },
	};
	static const char *const bad[] = { "", "abc", "1.2.3", "10MB", "1 G", "m", "1e", "0x10", "1Gi3" };
	double d;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		d = -42;
		CHECK_INT(quantity_parse(ok[i].text, &d), 0);
		CHECK(d > ok[i].want - 1e-9 * (ok[i].want > 1 ? ok[i].want : 1) &&
		      d < ok[i].want + 1e-9 * (ok[i].want > 1 ? ok[i].want : 1));
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (quantity_parse(bad[i], &d) == 0)
			fprintf(stderr, "quantity \"%s\" parsed\n", bad[i]);
		CHECK_INT(quantity_parse(bad[i], &d), -1);
	}
}

static void test_field_errors(void)
{
	struct field_errors e = { 0 };
	static const char *const sup[] = { "SCTP", "TCP", "UDP", NULL };
	json_t *v = json_string("HT\"TP"), *n = json_integer(70000);
	char *s;

	field_not_supported(&e, "spec.ports[0].protocol", v, sup);
	field_invalid(&e, "spec.ports[0].port", n, "must be between %d and %d, inclusive", 1, 65535);
	field_required(&e, "spec.selector", NULL);
	field_forbidden(&e, "spec", "nope");
	field_duplicate(&e, "spec.containers[1].name", v);
	field_required(&e, "spec.selector", NULL); /* repeated: dropped from the message */
	CHECK_INT(e.n, 6);
	CHECK_STR(e.v[0].reason, "FieldValueNotSupported");
	CHECK_STR(e.v[0].field, "spec.ports[0].protocol");
	CHECK_STR(e.v[0].message, "Unsupported value: \"HT\\\"TP\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
	CHECK_STR(e.v[1].reason, "FieldValueInvalid");
	CHECK_STR(e.v[1].message, "Invalid value: 70000: must be between 1 and 65535, inclusive");
	CHECK_STR(e.v[2].reason, "FieldValueRequired");
	CHECK_STR(e.v[3].reason, "FieldValueForbidden");
	CHECK_STR(e.v[4].reason, "FieldValueDuplicate");
	s = field_errors_string(&e);
	CHECK_STR(s, "[spec.ports[0].protocol: Unsupported value: \"HT\\\"TP\": supported values: \"SCTP\", \"TCP\", "
		     "\"UDP\", spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive, "
		     "spec.selector: Required value, spec: Forbidden: nope, spec.containers[1].name: Duplicate value: "
		     "\"HT\\\"TP\"]");
	free(s);
	field_errors_release(&e);
	CHECK_INT(e.n, 0);
	field_invalid_str(&e, "metadata.name", "a\tb", "bad");
	s = field_errors_string(&e);
	CHECK_STR(s, "metadata.name: Invalid value: \"a\\tb\": bad");
	free(s);
	field_errors_release(&e);
	json_decref(v);
	json_decref(n);
}

static void test_pod_validation(void)
{
	CHECK_ERRS(&kind_pod, POD_MINIMAL, "");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"Web_1\",\"namespace\":\"default\"},\"spec\":{\"containers\":"
		   "[{\"name\":\"web\",\"image\":\"nginx\"}]}}",
		   "metadata.name: Invalid value: \"Web_1\": " SUBDOMAIN_MSG);
	CHECK_ERRS(&kind_pod, "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},\"spec\":{}}",
		   "spec.containers: Required value");
	CHECK_ERRS(&kind_pod, "{\"metadata\":{\"namespace\":\"default\"},\"spec\":{\"containers\":[{\"name\":\"a\","
			      "\"image\":\"x\"}]}}",
		   "metadata.name: Required value: name or generateName is required");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},\"spec\":{\"containers\":"
		   "[{\"name\":\"web\",\"image\":\"nginx\"},{\"name\":\"web\",\"image\":\"busybox\"}]}}",
		   "spec.containers[1].name: Duplicate value: \"web\"");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},\"spec\":{\"containers\":"
		   "[{\"name\":\"web\",\"image\":\"nginx\",\"ports\":[{\"containerPort\":80,\"protocol\":\"HTTP\"}]}]}}",
		   "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", "
		   "\"TCP\", \"UDP\"");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},\"spec\":{\"containers\":"
		   "[{\"name\":\"web\",\"image\":\"nginx\",\"ports\":[{\"containerPort\":70000}]}]}}",
		   "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, "
		   "inclusive");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},\"spec\":{\"containers\":"
		   "[{\"name\":\"web\",\"image\":\"nginx\",\"volumeMounts\":[{\"name\":\"data\",\"mountPath\":"
		   "\"/data\"}]}]}}",
		   "spec.containers[0].volumeMounts[0].name: Not found: \"data\"");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},\"spec\":{\"restartPolicy\":"
		   "\"Sometimes\",\"containers\":[{\"name\":\"Web\",\"imagePullPolicy\":\"Maybe\"}]}}",
		   "[spec.containers[0].name: Invalid value: \"Web\": " LABEL_MSG ", spec.containers[0].image: "
		   "Required value, spec.containers[0].imagePullPolicy: Unsupported value: \"Maybe\": supported "
		   "values: \"Always\", \"IfNotPresent\", \"Never\", spec.restartPolicy: Unsupported value: "
		   "\"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"]");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},\"spec\":{\"volumes\":[{\"name\":"
		   "\"a\",\"emptyDir\":{},\"hostPath\":{\"path\":\"/tmp\"}},{\"name\":\"b\",\"secret\":{}}],"
		   "\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]}}",
		   "[spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type, "
		   "spec.volumes[1].secret.secretName: Required value]");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},\"spec\":{\"containers\":"
		   "[{\"name\":\"web\",\"image\":\"nginx\",\"resources\":{\"requests\":{\"cpu\":\"2\",\"memory\":"
		   "\"lots\"},\"limits\":{\"cpu\":\"1500m\"}}}]}}",
		   "[spec.containers[0].resources.requests[memory]: Invalid value: \"lots\": quantities must match "
		   "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', "
		   "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu "
		   "limit of 1500m]");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},\"spec\":{\"containers\":"
		   "[{\"name\":\"web\",\"image\":\"nginx\",\"resources\":{\"limits\":{\"gpu\":\"1\","
		   "\"pods\":\"1\",\"nvidia.com/gpu\":\"1\"},\"requests\":{\"nvidia.com/gpu\":\"0\"}}}]}}",
		   "[spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource "
		   "type or fully qualified, spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must "
		   "be a standard resource for containers, spec.containers[0].resources.limits[pods]: Invalid value: "
		   "\"pods\": must be a standard resource for containers, "
		   /* limits were copied into requests by the Pod defaults, so they fail there too */
		   "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource "
		   "type or fully qualified, spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must "
		   "be a standard resource for containers, spec.containers[0].resources.requests[pods]: Invalid value: "
		   "\"pods\": must be a standard resource for containers, spec.containers[0].resources.requests: "
		   "Invalid value: \"0\": must be equal to nvidia.com/gpu limit of 1]");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},\"spec\":{\"containers\":"
		   "[{\"name\":\"web\",\"image\":\"nginx\",\"livenessProbe\":{\"successThreshold\":2}}]}}",
		   "[spec.containers[0].livenessProbe: Required value: must specify a handler type, "
		   "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1]");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\",\"labels\":{\"app\":\"-web\"}},"
		   "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]}}",
		   "metadata.labels: Invalid value: \"-web\": a valid label must be an empty string or consist of "
		   "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
		   "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
		   "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"web-1\"},\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":"
		   "\"nginx\"}]}}",
		   "metadata.namespace: Required value");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},\"spec\":{\"initContainers\":"
		   "[{\"name\":\"web\",\"image\":\"busybox\",\"readinessProbe\":{\"exec\":{\"command\":[\"true\"]}}}],"
		   "\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]}}",
		   "[spec.initContainers[0].name: Duplicate value: \"web\", spec.initContainers[0].readinessProbe: "
		   "Forbidden: may not be set for init containers]");

	/* generateName is checked as a prefix: a trailing '-' is fine. */
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"generateName\":\"web-\",\"name\":\"web-x7k2p\",\"namespace\":\"default\"},"
		   "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]}}",
		   "");
	CHECK_ERRS(&kind_pod,
		   "{\"metadata\":{\"generateName\":\"Web-\",\"name\":\"web-x7k2p\",\"namespace\":\"default\"},"
		   "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]}}",
		   "metadata.generateName: Invalid value: \"Web-\": " SUBDOMAIN_MSG);
	/* hostNetwork pods get hostPort = containerPort; two containers on one host port clash. */
	{
		json_t *p = J("{\"metadata\":{\"name\":\"proxy\",\"namespace\":\"kube-system\"},\"spec\":"
			      "{\"hostNetwork\":true,\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"ports\":"
			      "[{\"containerPort\":8080}]},{\"name\":\"b\",\"image\":\"y\",\"ports\":"
			      "[{\"containerPort\":8080}]}]}}");
		char *s = check(&kind_pod, p, NULL);
		CHECK_INT(obj_int(json_array_get(obj_get(json_array_get(obj_get(p, "spec.containers"), 0), "ports"), 0),
				  "hostPort", 0), 8080);
		CHECK_STR(s, "spec.containers[1].ports[0].hostPort: Duplicate value: \"/TCP/8080\"");
		free(s);
		json_decref(p);
	}

	/* Annotations over 256 KiB in total. */
	{
		json_t *p = J(POD_MINIMAL);
		char *big = xmalloc(300000), *s;
		memset(big, 'x', 299999);
		big[299999] = '\0';
		obj_set(p, "metadata.annotations", json_pack("{s:s}", "kubectl.kubernetes.io/last-applied-configuration", big));
		s = check(&kind_pod, p, NULL);
		CHECK_STR(s, "metadata.annotations: Too long: may not be more than 262144 bytes");
		free(s);
		free(big);
		json_decref(p);
	}
}

static void test_other_validation(void)
{
	CHECK_ERRS(&kind_service,
		   "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"selector\":{\"app\":"
		   "\"web\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}}",
		   "");
	CHECK_ERRS(&kind_service,
		   "{\"metadata\":{\"name\":\"1web\",\"namespace\":\"default\"},\"spec\":{\"ports\":[{\"port\":80}]}}",
		   "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric "
		   "characters or '-', start with an alphabetic character, and end with an alphanumeric character "
		   "(e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')");
	CHECK_ERRS(&kind_service, "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{}}",
		   "spec.ports: Required value");
	CHECK_ERRS(&kind_service,
		   "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"None\"}}", "");
	CHECK_ERRS(&kind_service,
		   "{\"metadata\":{\"name\":\"search\",\"namespace\":\"default\"},\"spec\":{\"type\":"
		   "\"ExternalName\",\"externalName\":\"search.example.com.\"}}", "");
	CHECK_ERRS(&kind_service,
		   "{\"metadata\":{\"name\":\"search\",\"namespace\":\"default\"},\"spec\":{\"type\":"
		   "\"ExternalName\",\"clusterIP\":\"10.96.0.9\"}}",
		   "[spec.clusterIPs: Forbidden: may not be set for ExternalName services, spec.externalName: "
		   "Required value]");
	CHECK_ERRS(&kind_service,
		   "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"type\":\"Ingress\","
		   "\"ports\":[{\"port\":80,\"protocol\":\"ICMP\"},{\"port\":80}]}}",
		   "[spec.ports[0].name: Required value, spec.ports[0].protocol: Unsupported value: \"ICMP\": "
		   "supported values: \"SCTP\", \"TCP\", \"UDP\", spec.ports[1].name: Required value, spec.type: "
		   "Unsupported value: \"Ingress\": supported values: \"ClusterIP\", \"ExternalName\", "
		   "\"LoadBalancer\", \"NodePort\"]");
	CHECK_ERRS(&kind_service,
		   "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.300\","
		   "\"ports\":[{\"name\":\"a\",\"port\":80,\"nodePort\":30080},{\"name\":\"b\",\"port\":80}]}}",
		   "[spec.clusterIPs[0]: Invalid value: \"10.96.0.300\": must be a valid IP address, (e.g. 10.9.8.7 "
		   "or 2001:db8::ffff), spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP', "
		   "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", "
		   "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, "
		   "NodePort:0}]");

	CHECK_ERRS(&kind_deployment,
		   "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"replicas\":3,\"selector\":"
		   "{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":"
		   "\"frontend\"}},\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.27\"}]}}}}",
		   "");
	CHECK_ERRS(&kind_deployment,
		   "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"selector\":{\"matchLabels\":"
		   "{\"app\":\"api\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":"
		   "{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]}}}}",
		   "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does "
		   "not match template `labels`");
	CHECK_ERRS(&kind_deployment,
		   "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"replicas\":-1,"
		   "\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"web\",\"image\":"
		   "\"nginx\"}]}},\"strategy\":{\"rollingUpdate\":{\"maxSurge\":0,\"maxUnavailable\":0}}}}",
		   "[spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Required "
		   "value, spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not "
		   "match template `labels`, spec.template.spec.restartPolicy: Unsupported value: \"Never\": "
		   "supported values: \"Always\", spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "
		   "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0]");
	CHECK_ERRS(&kind_deployment,
		   "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"selector\":{},"
		   "\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]}}}}",
		   "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
		   "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment");
	CHECK_ERRS(&kind_replicaset,
		   "{\"metadata\":{\"name\":\"web-5d8f\",\"namespace\":\"default\"},\"spec\":{\"selector\":"
		   "{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\",\"values\":[\"web\",\"www\"]}]},"
		   "\"template\":{\"metadata\":{\"labels\":{\"app\":\"www\"}},\"spec\":{\"containers\":[{\"name\":"
		   "\"web\",\"image\":\"nginx\"}]}}}}",
		   "");
	CHECK_ERRS(&kind_replicaset,
		   "{\"metadata\":{\"name\":\"web-5d8f\",\"namespace\":\"default\"},\"spec\":{\"selector\":"
		   "{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Near\"}]},\"template\":{\"spec\":"
		   "{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]}}}}",
		   "[spec.selector.matchExpressions[0].operator: Invalid value: \"Near\": not a valid selector "
		   "operator, spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
		   "MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"app\", "
		   "Operator:\"Near\", Values:[]string(nil)}}}: invalid label selector]");

	CHECK_ERRS(&kind_namespace, "{\"metadata\":{\"name\":\"blog\"}}", "");
	CHECK_ERRS(&kind_namespace, "{\"metadata\":{\"name\":\"Team_A\"}}",
		   "metadata.name: Invalid value: \"Team_A\": " LABEL_MSG);
	CHECK_ERRS(&kind_node, "{\"metadata\":{\"name\":\"node-1\",\"namespace\":\"default\"},\"spec\":{\"taints\":"
			       "[{\"key\":\"dedicated\",\"value\":\"db\",\"effect\":\"NoRun\"}]}}",
		   "[metadata.namespace: Forbidden: not allowed on this type, metadata.taints[0].effect: "
		   "Unsupported value: \"NoRun\": supported values: \"NoSchedule\", \"PreferNoSchedule\", "
		   "\"NoExecute\"]");
	CHECK_ERRS(&kind_configmap,
		   "{\"metadata\":{\"name\":\"nginx-conf\",\"namespace\":\"blog\"},\"data\":{\"nginx.conf\":\"x\","
		   "\"bad key\":\"y\"}}",
		   "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric "
		   "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
		   "validation is '[-._a-zA-Z0-9]+')");
	CHECK_ERRS(&kind_secret,
		   "{\"metadata\":{\"name\":\"tls\",\"namespace\":\"blog\"},\"type\":\"kubernetes.io/tls\",\"data\":"
		   "{\"tls.crt\":\"not base64!\"}}",
		   "[data[tls.crt]: Invalid value: \"<secret contents redacted>\": illegal base64 data at input byte "
		   "3, data[tls.key]: Required value]");
	CHECK_ERRS(&kind_secret,
		   "{\"metadata\":{\"name\":\"db\",\"namespace\":\"blog\"},\"data\":{\"password\":\"czNj\\ncmV0\"}}", "");
	CHECK_ERRS(&kind_lease,
		   "{\"metadata\":{\"name\":\"node-1\",\"namespace\":\"kube-node-lease\"},\"spec\":{\"holderIdentity\":"
		   "\"node-1\",\"leaseDurationSeconds\":0}}",
		   "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0");
	CHECK_ERRS(&kind_event,
		   "{\"metadata\":{\"name\":\"web-1.17a2b3c4d5e6f7a8\",\"namespace\":\"default\"},\"involvedObject\":"
		   "{\"kind\":\"Pod\",\"namespace\":\"blog\",\"name\":\"web-1\"},\"reason\":\"Scheduled\"}",
		   "involvedObject.namespace: Invalid value: \"blog\": does not match event.namespace");
	CHECK_ERRS(&kind_endpoints,
		   "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"subsets\":[{\"addresses\":[{\"ip\":"
		   "\"127.0.0.1\"}],\"ports\":[{\"port\":80}]},{\"ports\":[{\"port\":0}]}]}",
		   "[subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range "
		   "(127.0.0.0/8, ::1/128), subsets[1]: Required value: must specify `addresses` or "
		   "`notReadyAddresses`, subsets[1].ports[0].port: Invalid value: 0: must be between 1 and 65535, "
		   "inclusive]");
}

/* ---- updates --------------------------------------------------------------- */

static char *update(const struct kind *k, const char *old_text, void (*edit)(json_t *obj))
{
	json_t *old = J(old_text), *obj;
	char *s;

	if (k->defaults)
		k->defaults(old);
	obj = json_deep_copy(old);
	edit(obj);
	s = check(k, obj, old);
	json_decref(obj);
	json_decref(old);
	return s;
}

static json_t *container0(json_t *pod)
{
	return json_array_get(obj_get(pod, "spec.containers"), 0);
}

static void edit_image(json_t *o) { obj_set(container0(o), "image", json_string("nginx:1.28")); }
static void edit_port(json_t *o) { obj_set(json_array_get(obj_get(container0(o), "ports"), 0), "containerPort", json_integer(8080)); }
static void edit_add_container(json_t *o)
{
	json_array_append_new(obj_get(o, "spec.containers"), json_pack("{s:s, s:s}", "name", "sidecar", "image", "envoy"));
}
static void edit_add_toleration(json_t *o)
{
	obj_set(o, "spec.tolerations", json_pack("[{s:s, s:s, s:s}]", "key", "dedicated", "operator", "Exists", "effect", "NoSchedule"));
}
static void edit_rename(json_t *o) { obj_set(o, "metadata.name", json_string("web-2")); }
static void edit_labels(json_t *o) { obj_set(o, "metadata.labels", json_pack("{s:s}", "app", "web2")); }
static void edit_status(json_t *o) { obj_set(o, "status.phase", json_string("Running")); }
static void edit_bad_label(json_t *o) { obj_set(o, "metadata.labels", json_pack("{s:s}", "-app", "web")); }

static void edit_selector(json_t *o)
{
	obj_set(o, "spec.selector.matchLabels", json_pack("{s:s}", "app", "web2"));
	obj_set(o, "spec.template.metadata.labels", json_pack("{s:s}", "app", "web2"));
}
static void edit_deploy_image(json_t *o)
{
	obj_set(json_array_get(obj_get(o, "spec.template.spec.containers"), 0), "image", json_string("nginx:1.28"));
	obj_set(o, "spec.replicas", json_integer(5));
}
static void edit_cluster_ip(json_t *o)
{
	obj_set(o, "spec.clusterIP", json_string("10.96.0.20"));
	obj_set(o, "spec.clusterIPs", json_pack("[s]", "10.96.0.20"));
}
static void drop_cluster_ip(json_t *o)
{
	obj_del(o, "spec.clusterIP");
	obj_del(o, "spec.clusterIPs");
}
static void edit_secret_type(json_t *o) { obj_set(o, "type", json_string("kubernetes.io/basic-auth")); }
static void edit_cm_data(json_t *o) { obj_set(o, "data.color", json_string("red")); }
static void edit_pod_cidr(json_t *o)
{
	obj_set(o, "spec.podCIDR", json_string("10.244.9.0/24"));
	obj_set(o, "spec.podCIDRs", json_pack("[s]", "10.244.9.0/24"));
}

static void test_updates(void)
{
	static const char *POD_TOL = "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"default\"},\"spec\":"
				     "{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.27\",\"ports\":"
				     "[{\"containerPort\":80}]}]}}";
	static const char *DEPLOY = "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"uid\":"
				    "\"6f1c7d0a-9a6e-4d5b-8f5e-0b6c5f1f2a10\"},\"spec\":{\"selector\":{\"matchLabels\":"
				    "{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
				    "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.27\"}]}}}}";
	static const char *SVC = "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":"
				 "\"10.96.0.12\",\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80}]}}";
	char *s;

	s = update(&kind_pod, POD_TOL, edit_image);
	CHECK_STR(s, "");
	free(s);
	s = update(&kind_pod, POD_TOL, edit_labels);
	CHECK_STR(s, "");
	free(s);
	s = update(&kind_pod, POD_TOL, edit_add_toleration);
	CHECK_STR(s, "");
	free(s);
	/* the spec is unchanged: only the metadata is checked, and still is */
	s = update(&kind_pod, POD_TOL, edit_status);
	CHECK_STR(s, "");
	free(s);
	s = update(&kind_pod, POD_TOL, edit_bad_label);
	CHECK(s && strstr(s, "metadata.labels: Invalid value: \"-app\""));
	free(s);
	s = update(&kind_pod, POD_TOL, edit_port);
	CHECK_STR(s, "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
		     "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
		     "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
		     "previously negative)");
	free(s);
	s = update(&kind_pod, POD_TOL, edit_add_container);
	CHECK_STR(s, "spec.containers: Forbidden: pod updates may not add or remove containers");
	free(s);
	s = update(&kind_pod, POD_TOL, edit_rename);
	CHECK_STR(s, "metadata.name: Invalid value: \"web-2\": field is immutable");
	free(s);

	s = update(&kind_deployment, DEPLOY, edit_deploy_image);
	CHECK_STR(s, "");
	free(s);
	s = update(&kind_deployment, DEPLOY, edit_selector);
	CHECK_STR(s, "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, "
		     "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable");
	free(s);
	s = update(&kind_replicaset, DEPLOY, edit_selector);
	CHECK(strstr(s, "field is immutable") != NULL);
	free(s);

	s = update(&kind_service, SVC, edit_cluster_ip);
	CHECK_STR(s, "spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.20\"}: field is immutable");
	free(s);
	s = update(&kind_service, SVC, drop_cluster_ip);
	CHECK_STR(s, "");
	free(s);

	s = update(&kind_secret, "{\"metadata\":{\"name\":\"s\",\"namespace\":\"default\"},\"data\":{\"username\":"
				 "\"YQ==\"}}", edit_secret_type);
	CHECK_STR(s, "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable");
	free(s);
	s = update(&kind_configmap, "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},\"immutable\":true,"
				    "\"data\":{\"color\":\"blue\"}}", edit_cm_data);
	CHECK_STR(s, "data: Forbidden: field is immutable when `immutable` is set");
	free(s);
	s = update(&kind_configmap, "{\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"},\"data\":"
				    "{\"color\":\"blue\"}}", edit_cm_data);
	CHECK_STR(s, "");
	free(s);
	s = update(&kind_node, "{\"metadata\":{\"name\":\"node-1\"},\"spec\":{\"podCIDR\":\"10.244.1.0/24\"}}",
		   edit_pod_cidr);
	CHECK_STR(s, "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid");
	free(s);
	s = update(&kind_node, "{\"metadata\":{\"name\":\"node-1\"},\"spec\":{}}", edit_pod_cidr);
	CHECK_STR(s, "");
	free(s);
}

/* ---- tables ---------------------------------------------------------------- */

static void test_pod_table(void)
{
	json_t *pod;

	/* Two containers, both ready; the API container restarted 3 times, last 5m30s ago. */
	pod = J("{\"metadata\":{\"name\":\"api-7d9c\",\"namespace\":\"blog\",\"creationTimestamp\":"
		"\"2025-12-31T22:00:00Z\"},\"spec\":{\"nodeName\":\"node-1\",\"containers\":[{\"name\":\"api\","
		"\"image\":\"blog/api:1.4\"},{\"name\":\"envoy\",\"image\":\"envoy:1.30\"}]},\"status\":{\"phase\":"
		"\"Running\",\"podIP\":\"10.244.1.7\",\"podIPs\":[{\"ip\":\"10.244.1.7\"}],\"conditions\":[{\"type\":"
		"\"Ready\",\"status\":\"True\"}],\"containerStatuses\":[{\"name\":\"api\",\"ready\":true,"
		"\"restartCount\":3,\"state\":{\"running\":{\"startedAt\":\"2025-12-31T23:54:31Z\"}},\"lastState\":"
		"{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\",\"finishedAt\":\"2025-12-31T23:54:30Z\"}}},"
		"{\"name\":\"envoy\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{\"startedAt\":"
		"\"2025-12-31T22:00:05Z\"}}}]}}");
	CHECK_CELL(&kind_pod, pod, "Ready", "2/2");
	CHECK_CELL(&kind_pod, pod, "Status", "Running");
	CHECK_CELL(&kind_pod, pod, "Restarts", "3 (5m30s ago)");
	CHECK_CELL(&kind_pod, pod, "Age", "120m");
	CHECK_CELL(&kind_pod, pod, "IP", "10.244.1.7");
	CHECK_CELL(&kind_pod, pod, "Node", "node-1");
	CHECK_CELL(&kind_pod, pod, "Nominated Node", "<none>");
	CHECK_CELL(&kind_pod, pod, "Readiness Gates", "<none>");
	/* Being deleted: Terminating whatever the containers say. */
	obj_set(pod, "metadata.deletionTimestamp", json_string("2025-12-31T23:59:50Z"));
	CHECK_CELL(&kind_pod, pod, "Status", "Terminating");
	json_decref(pod);

	pod = J("{\"metadata\":{\"name\":\"worker-1\",\"namespace\":\"blog\"},\"spec\":{\"containers\":[{\"name\":"
		"\"worker\",\"image\":\"blog/worker:2\"}]},\"status\":{\"phase\":\"Running\",\"containerStatuses\":"
		"[{\"name\":\"worker\",\"ready\":false,\"restartCount\":5,\"state\":{\"waiting\":{\"reason\":"
		"\"CrashLoopBackOff\",\"message\":\"back-off 2m40s restarting failed container\"}},\"lastState\":"
		"{\"terminated\":{\"exitCode\":2,\"reason\":\"Error\",\"finishedAt\":\"2025-12-31T23:59:00Z\"}}}]}}");
	CHECK_CELL(&kind_pod, pod, "Ready", "0/1");
	CHECK_CELL(&kind_pod, pod, "Status", "CrashLoopBackOff");
	CHECK_CELL(&kind_pod, pod, "Restarts", "5 (60s ago)");
	CHECK_CELL(&kind_pod, pod, "Age", "<unknown>");
	CHECK_CELL(&kind_pod, pod, "IP", "<none>");
	CHECK_CELL(&kind_pod, pod, "Node", "<none>");
	json_decref(pod);

	pod = J("{\"metadata\":{\"name\":\"db-0\",\"namespace\":\"blog\"},\"spec\":{\"initContainers\":[{\"name\":"
		"\"migrate\",\"image\":\"blog/migrate:1\"}],\"containers\":[{\"name\":\"db\",\"image\":\"postgres:16\"}],"
		"\"readinessGates\":[{\"conditionType\":\"example.com/lb-ready\"}]},\"status\":{\"phase\":\"Pending\","
		"\"initContainerStatuses\":[{\"name\":\"migrate\",\"ready\":false,\"restartCount\":0,\"state\":"
		"{\"running\":{\"startedAt\":\"2025-12-31T23:59:00Z\"}}}],\"containerStatuses\":[{\"name\":\"db\","
		"\"ready\":false,\"restartCount\":0,\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}");
	CHECK_CELL(&kind_pod, pod, "Status", "Init:0/1");
	CHECK_CELL(&kind_pod, pod, "Ready", "0/1");
	CHECK_CELL(&kind_pod, pod, "Restarts", "0");
	CHECK_CELL(&kind_pod, pod, "Readiness Gates", "0/1");
	obj_set(json_array_get(obj_get(pod, "status.initContainerStatuses"), 0), "state",
		json_pack("{s:{s:s}}", "waiting", "reason", "ErrImagePull"));
	CHECK_CELL(&kind_pod, pod, "Status", "Init:ErrImagePull");
	json_decref(pod);

	pod = J("{\"metadata\":{\"name\":\"web-2\"},\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx\"}]},"
		"\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"web\",\"ready\":false,"
		"\"restartCount\":0,\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}}");
	CHECK_CELL(&kind_pod, pod, "Status", "ContainerCreating");
	json_decref(pod);

	pod = J("{\"metadata\":{\"name\":\"job-x\"},\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"busybox\"}]},"
		"\"status\":{\"phase\":\"Succeeded\",\"containerStatuses\":[{\"name\":\"main\",\"ready\":false,"
		"\"restartCount\":0,\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}}");
	CHECK_CELL(&kind_pod, pod, "Status", "Completed");
	obj_set(json_array_get(obj_get(pod, "status.containerStatuses"), 0), "state",
		json_pack("{s:{s:i, s:i}}", "terminated", "exitCode", 137, "signal", 9));
	CHECK_CELL(&kind_pod, pod, "Status", "Signal:9");
	json_decref(pod);

	/* Columns as Kubernetes names them, wide ones at priority 1. */
	static const char *const names[] = { "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node",
					     "Readiness Gates" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		CHECK_STR(kind_pod.columns[i].name, names[i]);
		CHECK_INT(kind_pod.columns[i].priority, i < 4 ? 0 : 1);
	}
	CHECK(kind_pod.columns[ARRAY_SIZE(names)].name == NULL);
	CHECK_STR(kind_pod.columns[2].type, "string");
}

static void test_other_tables(void)
{
	json_t *o;

	o = J("{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2025-12-28T19:00:00Z\"},\"spec\":{\"type\":"
	      "\"ClusterIP\",\"clusterIP\":\"10.96.0.12\",\"clusterIPs\":[\"10.96.0.12\"],\"selector\":{\"tier\":"
	      "\"fe\",\"app\":\"web\"},\"ports\":[{\"port\":80,\"protocol\":\"TCP\"},{\"port\":53,\"protocol\":"
	      "\"UDP\"}]}}");
	CHECK_CELL(&kind_service, o, "Type", "ClusterIP");
	CHECK_CELL(&kind_service, o, "Cluster-IP", "10.96.0.12");
	CHECK_CELL(&kind_service, o, "External-IP", "<none>");
	CHECK_CELL(&kind_service, o, "Port(s)", "80/TCP,53/UDP");
	CHECK_CELL(&kind_service, o, "Age", "3d5h");
	CHECK_CELL(&kind_service, o, "Selector", "app=web,tier=fe");
	json_decref(o);
	o = J("{\"metadata\":{\"name\":\"front\"},\"spec\":{\"type\":\"LoadBalancer\",\"clusterIPs\":[\"10.96.0.42\"],"
	      "\"ports\":[{\"port\":80,\"nodePort\":30080,\"protocol\":\"TCP\"},{\"port\":443,\"nodePort\":30443,"
	      "\"protocol\":\"TCP\"}]}}");
	CHECK_CELL(&kind_service, o, "External-IP", "<pending>");
	CHECK_CELL(&kind_service, o, "Port(s)", "80:30080/TCP,443:30443/TCP");
	CHECK_CELL(&kind_service, o, "Selector", "<none>");
	obj_set(o, "status.loadBalancer.ingress", json_pack("[{s:s},{s:s}]", "ip", "192.168.1.240", "ip", "192.168.1.241"));
	CHECK_CELL(&kind_service, o, "External-IP", "192.168.1.240,192.168.1.241");
	json_decref(o);
	o = J("{\"metadata\":{\"name\":\"db\"},\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"None\",\"ports\":[]}}");
	CHECK_CELL(&kind_service, o, "Cluster-IP", "None");
	CHECK_CELL(&kind_service, o, "Port(s)", "<none>");
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"node-1\",\"creationTimestamp\":\"2025-12-20T00:00:00Z\",\"labels\":"
	      "{\"node-role.kubernetes.io/control-plane\":\"\",\"kubernetes.io/hostname\":\"node-1\"}},\"spec\":{},"
	      "\"status\":{\"conditions\":[{\"type\":\"MemoryPressure\",\"status\":\"False\"},{\"type\":\"Ready\","
	      "\"status\":\"True\"}],\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.1.10\"},{\"type\":"
	      "\"Hostname\",\"address\":\"node-1\"}],\"nodeInfo\":{\"kubeletVersion\":\"v1.32.0-minik8s\","
	      "\"osImage\":\"Debian GNU/Linux 12 (bookworm)\",\"kernelVersion\":\"6.1.0-18-amd64\","
	      "\"containerRuntimeVersion\":\"docker://24.0.7\"}}}");
	CHECK_CELL(&kind_node, o, "Status", "Ready");
	CHECK_CELL(&kind_node, o, "Roles", "control-plane");
	CHECK_CELL(&kind_node, o, "Age", "12d");
	CHECK_CELL(&kind_node, o, "Version", "v1.32.0-minik8s");
	CHECK_CELL(&kind_node, o, "Internal-IP", "192.168.1.10");
	CHECK_CELL(&kind_node, o, "External-IP", "<none>");
	CHECK_CELL(&kind_node, o, "Container-Runtime", "docker://24.0.7");
	obj_set(o, "spec.unschedulable", json_true());
	obj_set(json_array_get(obj_get(o, "status.conditions"), 1), "status", json_string("Unknown"));
	CHECK_CELL(&kind_node, o, "Status", "NotReady,SchedulingDisabled");
	obj_set(o, "status.conditions", json_array());
	obj_set(o, "metadata.labels", json_object());
	CHECK_CELL(&kind_node, o, "Status", "Unknown,SchedulingDisabled");
	CHECK_CELL(&kind_node, o, "Roles", "<none>");
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	      "\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.27\"},{\"name\":\"log\","
	      "\"image\":\"fluent-bit:3\"}]}}},\"status\":{\"replicas\":3,\"updatedReplicas\":3,\"readyReplicas\":2,"
	      "\"availableReplicas\":2}}");
	CHECK_CELL(&kind_deployment, o, "Ready", "2/3");
	CHECK_CELL(&kind_deployment, o, "Up-to-date", "3");
	CHECK_CELL(&kind_deployment, o, "Available", "2");
	CHECK_CELL(&kind_deployment, o, "Containers", "web,log");
	CHECK_CELL(&kind_deployment, o, "Images", "nginx:1.27,fluent-bit:3");
	CHECK_CELL(&kind_deployment, o, "Selector", "app=web");
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"web-5d8f\"},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":"
	      "\"web\"},\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"frontend\","
	      "\"backend\"]},{\"key\":\"canary\",\"operator\":\"DoesNotExist\"}]}},\"status\":{\"replicas\":2,"
	      "\"readyReplicas\":1}}");
	CHECK_CELL(&kind_replicaset, o, "Desired", "2");
	CHECK_CELL(&kind_replicaset, o, "Current", "2");
	CHECK_CELL(&kind_replicaset, o, "Ready", "1");
	CHECK_CELL(&kind_replicaset, o, "Selector", "app=web,!canary,tier in (backend,frontend)");
	CHECK_STR(kind_field_value(&kind_replicaset, o, "status.replicas"), "2");
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"dns\"},\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.0.5\"},{\"ip\":"
	      "\"10.244.1.7\"}],\"notReadyAddresses\":[{\"ip\":\"10.244.2.9\"}],\"ports\":[{\"name\":\"dns\",\"port\":53,"
	      "\"protocol\":\"UDP\"},{\"name\":\"dns-tcp\",\"port\":53,\"protocol\":\"TCP\"},{\"name\":\"metrics\","
	      "\"port\":9153}]}]}");
	CHECK_CELL(&kind_endpoints, o, "Endpoints", "10.244.0.5:53,10.244.1.7:53,10.244.0.5:53 + 3 more...");
	obj_set(o, "subsets", json_pack("[{s:[{s:s}], s:[{s:i}]}]", "addresses", "ip", "fd00::5", "ports", "port", 80));
	CHECK_CELL(&kind_endpoints, o, "Endpoints", "[fd00::5]:80");
	obj_set(o, "subsets", json_array());
	CHECK_CELL(&kind_endpoints, o, "Endpoints", "<none>");
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"web-1.17a2b3c4d5e6f7a8\",\"namespace\":\"blog\"},\"involvedObject\":"
	      "{\"kind\":\"Pod\",\"namespace\":\"blog\",\"name\":\"web-1\",\"fieldPath\":\"spec.containers{web}\"},"
	      "\"reason\":\"BackOff\",\"message\":\"Back-off restarting failed container web\\n\",\"source\":"
	      "{\"component\":\"kubelet\",\"host\":\"node-1\"},\"firstTimestamp\":\"2025-12-31T23:00:00Z\","
	      "\"lastTimestamp\":\"2025-12-31T23:59:30Z\",\"count\":7,\"type\":\"Warning\"}");
	CHECK_CELL(&kind_event, o, "Last Seen", "30s");
	CHECK_CELL(&kind_event, o, "First Seen", "60m");
	CHECK_CELL(&kind_event, o, "Type", "Warning");
	CHECK_CELL(&kind_event, o, "Reason", "BackOff");
	CHECK_CELL(&kind_event, o, "Object", "pod/web-1");
	CHECK_CELL(&kind_event, o, "Subobject", "spec.containers{web}");
	CHECK_CELL(&kind_event, o, "Source", "kubelet, node-1");
	CHECK_CELL(&kind_event, o, "Message", "Back-off restarting failed container web");
	CHECK_CELL(&kind_event, o, "Count", "7");
	CHECK_STR(kind_field_value(&kind_event, o, "involvedObject.name"), "web-1");
	CHECK_STR(kind_field_value(&kind_event, o, "involvedObject.uid"), "");
	CHECK_STR(kind_field_value(&kind_event, o, "reason"), "BackOff");
	CHECK_STR(kind_field_value(&kind_event, o, "source"), "kubelet");
	CHECK_STR(kind_event.columns[0].name, "Last Seen");
	json_decref(o);

	o = J("{\"metadata\":{\"name\":\"blog\"},\"status\":{\"phase\":\"Terminating\"}}");
	CHECK_CELL(&kind_namespace, o, "Status", "Terminating");
	CHECK_STR(kind_field_value(&kind_namespace, o, "status.phase"), "Terminating");
	json_decref(o);
	o = J("{\"metadata\":{\"name\":\"c\"},\"data\":{\"a\":\"1\",\"b\":\"2\"},\"binaryData\":{\"c\":\"AA==\"}}");
	CHECK_CELL(&kind_configmap, o, "Data", "3");
	json_decref(o);
	o = J("{\"metadata\":{\"name\":\"s\"},\"type\":\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"AA==\",\"tls.key\":"
	      "\"AA==\"}}");
	CHECK_CELL(&kind_secret, o, "Type", "kubernetes.io/tls");
	CHECK_CELL(&kind_secret, o, "Data", "2");
	CHECK_STR(kind_field_value(&kind_secret, o, "type"), "kubernetes.io/tls");
	json_decref(o);
	o = J("{\"metadata\":{\"name\":\"node-1\",\"namespace\":\"kube-node-lease\"},\"spec\":{\"holderIdentity\":"
	      "\"node-1\"}}");
	CHECK_CELL(&kind_lease, o, "Holder", "node-1");
	json_decref(o);
}

static void test_field_values(void)
{
	json_t *pod = J("{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"blog\"},\"spec\":{\"nodeName\":\"node-1\","
			"\"restartPolicy\":\"Always\"},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.1.7\"}}");
	json_t *node = J("{\"metadata\":{\"name\":\"node-1\"},\"spec\":{\"unschedulable\":true}}");

	CHECK_STR(kind_field_value(&kind_pod, pod, "metadata.name"), "web-1");
	CHECK_STR(kind_field_value(&kind_pod, pod, "metadata.namespace"), "blog");
	CHECK_STR(kind_field_value(&kind_pod, pod, "spec.nodeName"), "node-1");
	CHECK_STR(kind_field_value(&kind_pod, pod, "status.phase"), "Running");
	CHECK_STR(kind_field_value(&kind_pod, pod, "status.podIP"), "10.244.1.7");
	CHECK_STR(kind_field_value(&kind_pod, pod, "spec.serviceAccountName"), "");
	CHECK_STR(kind_field_value(&kind_pod, pod, "status.nominatedNodeName"), "");
	CHECK(kind_field_value(&kind_pod, pod, "spec.containers") == NULL);
	CHECK_STR(kind_field_value(&kind_node, node, "spec.unschedulable"), "true");
	CHECK_STR(kind_field_value(&kind_node, node, "metadata.namespace"), "");
	CHECK(kind_field_value(&kind_deployment, node, "spec.replicas") == NULL);
	CHECK(kind_field_value(&kind_configmap, node, "data") == NULL);
	json_decref(pod);
	json_decref(node);
}

int main(void)
{
	test_lookups();
	test_unsupported();
	test_pod_defaults();
	test_other_defaults();
	test_names();
	test_quantities();
	test_field_errors();
	test_pod_validation();
	test_other_validation();
	test_updates();
	test_pod_table();
	test_other_tables();
	test_field_values();
	return test_done();
}
