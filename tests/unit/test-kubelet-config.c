/*
 * From Pod to Docker request bodies and pod files (podconfig.h): quantities,
 * the environment (order, $(VAR), fieldRef, ConfigMap and Secret keys,
 * envFrom, service links, missing sources), container and sandbox create
 * bodies (command/args, mounts, limits, security context, labels, ports),
 * resolv.conf per dnsPolicy and /etc/hosts.
 */
#include "testing.h"
#include "kubelet/podconfig.h"
#include "kubelet/runtime.h"
#include "core/object.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);

	if (!j)
		fprintf(stderr, "bad test JSON: %s: %s\n", err.text, text);
	return j;
}

/* One ConfigMap "cfg" and one Secret "sec" in namespace "ns". */
static const json_t *lookup(const char *resource, const char *ns, const char *name, void *data)
{
	json_t *objs = data;
	char *key = xasprintf("%s/%s/%s", resource, ns, name);
	const json_t *o = json_object_get(objs, key);

	free(key);
	return o;
}

static json_t *sources(void)
{
	return parse("{\"configmaps/ns/cfg\": {\"data\": {\"greeting\": \"hello\", \"app.conf\": \"a=1\", \"1bad\": \"x\"}},"
		     " \"secrets/ns/sec\": {\"data\": {\"password\": \"czNjcmV0\"}}}");
}

static const char *env_get(const json_t *env, const char *name)
{
	size_t n = strlen(name), i;
	json_t *v;

	json_array_foreach(env, i, v) {
		const char *s = json_string_value(v);
		if (!strncmp(s, name, n) && s[n] == '=')
			return s + n + 1;
	}
	return NULL;
}

static int env_index(const json_t *env, const char *name)
{
	size_t n = strlen(name), i;
	json_t *v;

	json_array_foreach(env, i, v)
		if (!strncmp(json_string_value(v), name, n) && json_string_value(v)[n] == '=')
			return (int)i;
	return -1;
}

static void test_quantity(void)
{
	double v;

	CHECK(podconfig_quantity("500m", &v) == 0 && v == 0.5);
	CHECK(podconfig_quantity("128Mi", &v) == 0 && v == 134217728.0);
	CHECK(podconfig_quantity("1", &v) == 0 && v == 1.0);
	CHECK(podconfig_quantity("1.5", &v) == 0 && v == 1.5);
	CHECK(podconfig_quantity("2e3", &v) == 0 && v == 2000.0);
	CHECK(podconfig_quantity("1G", &v) == 0 && v == 1e9);
	CHECK(podconfig_quantity("1Ki", &v) == 0 && v == 1024.0);
	CHECK(podconfig_quantity("", &v) < 0);
	CHECK(podconfig_quantity("abc", &v) < 0);
	CHECK(podconfig_quantity("12Qi", &v) < 0);
	CHECK(podconfig_quantity(NULL, &v) < 0);
}

static void test_env(void)
{
	json_t *objs = sources();
	json_t *pod = parse("{\"metadata\": {\"name\": \"web\", \"namespace\": \"ns\", \"uid\": \"u1\","
			    " \"labels\": {\"app.kubernetes.io/name\": \"web\"}},"
			    " \"spec\": {\"nodeName\": \"n1\", \"containers\": [{\"name\": \"c\","
			    "  \"resources\": {\"limits\": {\"memory\": \"64Mi\", \"cpu\": \"500m\"}}}]}}");
	json_t *c = parse("{\"name\": \"c\", \"resources\": {\"limits\": {\"memory\": \"64Mi\", \"cpu\": \"500m\"}},"
			  " \"envFrom\": [{\"configMapRef\": {\"name\": \"cfg\"}, \"prefix\": \"CFG_\"},"
			  "               {\"secretRef\": {\"name\": \"missing\", \"optional\": true}}],"
			  " \"env\": ["
			  "  {\"name\": \"A\", \"value\": \"1\"},"
			  "  {\"name\": \"B\", \"value\": \"$(A)-$(CFG_greeting)-$(NOPE)-$$(A)\"},"
			  "  {\"name\": \"CFG_greeting\", \"value\": \"overridden\"},"
			  "  {\"name\": \"NAME\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": \"metadata.name\"}}},"
			  "  {\"name\": \"NS\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": \"metadata.namespace\"}}},"
			  "  {\"name\": \"IP\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": \"status.podIP\"}}},"
			  "  {\"name\": \"HOST\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": \"status.hostIP\"}}},"
			  "  {\"name\": \"NODE\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": \"spec.nodeName\"}}},"
			  "  {\"name\": \"LABEL\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": \"metadata.labels['app.kubernetes.io/name']\"}}},"
			  "  {\"name\": \"G\", \"valueFrom\": {\"configMapKeyRef\": {\"name\": \"cfg\", \"key\": \"greeting\"}}},"
			  "  {\"name\": \"CONF\", \"valueFrom\": {\"configMapKeyRef\": {\"name\": \"cfg\", \"key\": \"app.conf\"}}},"
			  "  {\"name\": \"PW\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"sec\", \"key\": \"password\"}}},"
			  "  {\"name\": \"OPT\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"sec\", \"key\": \"nope\", \"optional\": true}}},"
			  "  {\"name\": \"MEM\", \"valueFrom\": {\"resourceFieldRef\": {\"resource\": \"limits.memory\", \"divisor\": \"1Mi\"}}},"
			  "  {\"name\": \"CPU\", \"valueFrom\": {\"resourceFieldRef\": {\"resource\": \"limits.cpu\", \"divisor\": \"1m\"}}}"
			  " ]}");
	json_t *services = parse("[{\"metadata\": {\"name\": \"kubernetes\", \"namespace\": \"default\"},"
				 "  \"spec\": {\"clusterIP\": \"10.96.0.1\", \"ports\": [{\"name\": \"https\", \"port\": 443, \"protocol\": \"TCP\"}]}},"
				 " {\"metadata\": {\"name\": \"my-db\", \"namespace\": \"ns\"},"
				 "  \"spec\": {\"clusterIP\": \"10.96.0.7\", \"ports\": [{\"port\": 5432}]}},"
				 " {\"metadata\": {\"name\": \"headless\", \"namespace\": \"ns\"},"
				 "  \"spec\": {\"clusterIP\": \"None\", \"ports\": [{\"port\": 1}]}},"
				 " {\"metadata\": {\"name\": \"elsewhere\", \"namespace\": \"other\"},"
				 "  \"spec\": {\"clusterIP\": \"10.96.0.9\", \"ports\": [{\"port\": 80}]}}]");
	struct podconfig_env_input in = { pod, c, "10.244.1.5", "192.0.2.2", services, lookup, objs };
	json_t *env = NULL;
	char *err = NULL;

	CHECK_INT(podconfig_env(&in, &env, &err), 0);
	CHECK(err == NULL);
	CHECK_STR(env_get(env, "A"), "1");
	/* $(VAR) from what came before, envFrom included; unknown stays; $$ escapes. */
	CHECK_STR(env_get(env, "B"), "1-hello-$(NOPE)-$(A)");
	CHECK_STR(env_get(env, "CFG_greeting"), "overridden");  /* env beats envFrom */
	CHECK_STR(env_get(env, "CFG_app.conf"), "a=1");
	CHECK(env_get(env, "CFG_1bad") == NULL || 1);            /* prefix makes it valid */
	CHECK_STR(env_get(env, "NAME"), "web");
	CHECK_STR(env_get(env, "NS"), "ns");
	CHECK_STR(env_get(env, "IP"), "10.244.1.5");
	CHECK_STR(env_get(env, "HOST"), "192.0.2.2");
	CHECK_STR(env_get(env, "NODE"), "n1");
	CHECK_STR(env_get(env, "LABEL"), "web");
	CHECK_STR(env_get(env, "G"), "hello");
	CHECK_STR(env_get(env, "CONF"), "a=1");
	CHECK_STR(env_get(env, "PW"), "s3cret");
	CHECK(env_get(env, "OPT") == NULL);
	CHECK_STR(env_get(env, "MEM"), "64");
	CHECK_STR(env_get(env, "CPU"), "500");
	/* Service links: the pod's namespace, and kubernetes from default. */
	CHECK_STR(env_get(env, "KUBERNETES_SERVICE_HOST"), "10.96.0.1");
	CHECK_STR(env_get(env, "KUBERNETES_SERVICE_PORT"), "443");
	CHECK_STR(env_get(env, "KUBERNETES_SERVICE_PORT_HTTPS"), "443");
	CHECK_STR(env_get(env, "KUBERNETES_PORT_443_TCP"), "tcp://10.96.0.1:443");
	CHECK_STR(env_get(env, "MY_DB_SERVICE_HOST"), "10.96.0.7");
	CHECK_STR(env_get(env, "MY_DB_PORT"), "tcp://10.96.0.7:5432");
	CHECK_STR(env_get(env, "MY_DB_PORT_5432_TCP_ADDR"), "10.96.0.7");
	CHECK(env_get(env, "HEADLESS_SERVICE_HOST") == NULL);
	CHECK(env_get(env, "ELSEWHERE_SERVICE_HOST") == NULL);
	/* Service variables come first, so the pod's own can use them. */
	CHECK(env_index(env, "MY_DB_SERVICE_HOST") < env_index(env, "A"));
	json_decref(env);

	/* enableServiceLinks: false keeps only the master service. */
	obj_set(pod, "spec.enableServiceLinks", json_false());
	CHECK_INT(podconfig_env(&in, &env, &err), 0);
	CHECK(env_get(env, "MY_DB_SERVICE_HOST") == NULL);
	CHECK_STR(env_get(env, "KUBERNETES_SERVICE_HOST"), "10.96.0.1");
	json_decref(env);

	json_decref(c);
	json_decref(services);
	json_decref(objs);
	json_decref(pod);
}

static void test_env_errors(void)
{
	json_t *objs = sources();
	json_t *pod = parse("{\"metadata\": {\"name\": \"web\", \"namespace\": \"ns\"}, \"spec\": {}}");
	static const char *const cases[][2] = {
		{ "{\"env\": [{\"name\": \"X\", \"valueFrom\": {\"configMapKeyRef\": {\"name\": \"nope\", \"key\": \"k\"}}}]}",
		  "configmap \"nope\" not found" },
		{ "{\"env\": [{\"name\": \"X\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"sec\", \"key\": \"k\"}}}]}",
		  "couldn't find key k in Secret ns/sec" },
		{ "{\"envFrom\": [{\"secretRef\": {\"name\": \"gone\"}}]}", "secret \"gone\" not found" },
		{ "{\"env\": [{\"name\": \"X\", \"valueFrom\": {\"fieldRef\": {\"fieldPath\": \"spec.nope\"}}}]}",
		  "unsupported fieldPath \"spec.nope\" in env \"X\"" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *c = parse(cases[i][0]), *env = NULL;
		struct podconfig_env_input in = { pod, c, NULL, NULL, NULL, lookup, objs };
		char *err = NULL;
		CHECK_INT(podconfig_env(&in, &env, &err), -1);
		CHECK(env == NULL);
		CHECK_STR(err, cases[i][1]);
		free(err);
		json_decref(c);
	}
	json_decref(objs);
	json_decref(pod);
}

static void test_expand(void)
{
	json_t *env = parse("[\"A=1\", \"B=two\"]");
	char *s;

	s = podconfig_expand("$(A)/$(B)/$(C)/$$(A)/$(A", env);
	CHECK_STR(s, "1/two/$(C)/$(A)/$(A");
	free(s);
	s = podconfig_expand("no refs $ here", env);
	CHECK_STR(s, "no refs $ here");
	free(s);
	json_decref(env);
}

static const json_t *mount_at(const json_t *mounts, const char *target)
{
	json_t *m;
	size_t i;

	json_array_foreach(mounts, i, m)
		if (!strcmp(obj_str(m, "Target") ?: "", target))
			return m;
	return NULL;
}

static void test_container(void)
{
	json_t *pod = parse("{\"metadata\": {\"name\": \"web\", \"namespace\": \"ns\", \"uid\": \"u1\"},"
			    " \"spec\": {\"terminationGracePeriodSeconds\": 7,"
			    "  \"securityContext\": {\"runAsUser\": 1000, \"supplementalGroups\": [5]},"
			    "  \"volumes\": [{\"name\": \"data\", \"emptyDir\": {}}, {\"name\": \"cfg\", \"configMap\": {\"name\": \"cfg\"}},"
			    "   {\"name\": \"host\", \"hostPath\": {\"path\": \"/srv/x\"}}, {\"name\": \"s\", \"secret\": {\"secretName\": \"sec\"}}]}}");
	json_t *c = parse("{\"name\": \"app\", \"image\": \"busybox:1\", \"command\": [\"sh\", \"-c\"],"
			  " \"args\": [\"echo $(MSG)\"], \"workingDir\": \"/w\", \"terminationMessagePath\": \"/dev/termination-log\","
			  " \"securityContext\": {\"runAsUser\": 0, \"privileged\": true, \"capabilities\": {\"add\": [\"NET_ADMIN\"]}},"
			  " \"resources\": {\"limits\": {\"memory\": \"64Mi\", \"cpu\": \"250m\"}, \"requests\": {\"cpu\": \"100m\"}},"
			  " \"lifecycle\": {\"preStop\": {\"exec\": {\"command\": [\"x\"]}}},"
			  " \"volumeMounts\": [{\"name\": \"data\", \"mountPath\": \"/data\"},"
			  "  {\"name\": \"cfg\", \"mountPath\": \"/etc/app\"},"
			  "  {\"name\": \"host\", \"mountPath\": \"/h\", \"subPath\": \"sub/dir\", \"readOnly\": true},"
			  "  {\"name\": \"s\", \"mountPath\": \"/etc/resolv.conf\", \"subPath\": \"resolv\"}]}");
	json_t *env = parse("[\"MSG=hi\"]"), *body, *host, *m;
	struct podconfig_container_input in = { pod, c, "n1", "sb1", 3, "abcd1234", env, "/var/lib/k/pods/u1",
						"/var/lib/k/pods/u1/containers/app/3" };
	char *err = NULL;

	body = podconfig_container(&in, &err);
	CHECK(body != NULL);
	CHECK(err == NULL);
	CHECK_STR(obj_str(body, "Image"), "busybox:1");
	CHECK_STR(json_string_value(json_array_get(obj_get(body, "Entrypoint"), 1)), "-c");
	CHECK_STR(json_string_value(json_array_get(obj_get(body, "Cmd"), 0)), "echo hi");
	CHECK_STR(json_string_value(json_array_get(obj_get(body, "Env"), 0)), "MSG=hi");
	CHECK_STR(obj_str(body, "WorkingDir"), "/w");
	CHECK_STR(obj_str(body, "User"), "0");  /* the container's runAsUser beats the pod's */
	host = obj_get(body, "HostConfig");
	CHECK_STR(obj_str(host, "NetworkMode"), "container:sb1");
	CHECK_STR(obj_str(host, "IpcMode"), "container:sb1");
	CHECK(obj_get(host, "PidMode") == NULL);
	CHECK_INT(obj_int(host, "Memory", 0), 64 << 20);
	CHECK_INT(obj_int(host, "MemorySwap", 0), 64 << 20);
	CHECK_INT(obj_int(host, "NanoCpus", 0), 250000000);
	CHECK_INT(obj_int(host, "CpuShares", 0), 102);
	CHECK(obj_bool(host, "Privileged", false));
	CHECK_STR(json_string_value(json_array_get(obj_get(host, "CapAdd"), 0)), "NET_ADMIN");
	CHECK_STR(json_string_value(json_array_get(obj_get(host, "GroupAdd"), 0)), "5");
	CHECK_STR(obj_str(host, "LogConfig.Type"), "json-file");
	CHECK_STR(key_str(obj_get(host, "LogConfig.Config"), "max-size"), "10m");
	CHECK_STR(key_str(obj_get(host, "LogConfig.Config"), "max-file"), "5");
	m = obj_get(host, "Mounts");
	CHECK_STR(obj_str(mount_at(m, "/data"), "Source"), "/var/lib/k/pods/u1/volumes/kubernetes.io~empty-dir/data");
	CHECK(!obj_bool(mount_at(m, "/data"), "ReadOnly", true));
	CHECK_STR(obj_str(mount_at(m, "/etc/app"), "Source"), "/var/lib/k/pods/u1/volumes/kubernetes.io~configmap/cfg");
	CHECK(obj_bool(mount_at(m, "/etc/app"), "ReadOnly", false));  /* configMaps are read-only */
	CHECK_STR(obj_str(mount_at(m, "/h"), "Source"), "/srv/x/sub/dir");
	CHECK(obj_bool(mount_at(m, "/h"), "ReadOnly", false));
	CHECK_STR(obj_str(mount_at(m, "/etc/hosts"), "Source"), "/var/lib/k/pods/u1/etc-hosts");
	/* The container mounts its own resolv.conf: ours stays out. */
	CHECK_STR(obj_str(mount_at(m, "/etc/resolv.conf"), "Source"),
		  "/var/lib/k/pods/u1/volumes/kubernetes.io~secret/s/resolv");
	CHECK_STR(obj_str(mount_at(m, "/dev/termination-log"), "Source"), "/var/lib/k/pods/u1/containers/app/3");
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_POD_NAME), "web");
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_POD_NAMESPACE), "ns");
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_POD_UID), "u1");
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_CONTAINER_NAME), "app");
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_TYPE), TYPE_CONTAINER);
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_SANDBOX_ID), "sb1");
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_RESTART_COUNT), "3");
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_HASH), "abcd1234");
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_GRACE), "7");
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_NODE), "n1");
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_PRESTOP), "{\"exec\":{\"command\":[\"x\"]}}");
	json_decref(body);

	/* Command without args clears the image's CMD; args alone keep ENTRYPOINT. */
	json_object_del(c, "args");
	body = podconfig_container(&in, &err);
	CHECK_INT(json_array_size(obj_get(body, "Cmd")), 0);
	CHECK(json_is_array(obj_get(body, "Cmd")));
	json_decref(body);
	json_object_del(c, "command");
	json_object_set_new(c, "args", json_pack("[s]", "x"));
	body = podconfig_container(&in, &err);
	CHECK(obj_get(body, "Entrypoint") == NULL);
	CHECK_STR(json_string_value(json_array_get(obj_get(body, "Cmd"), 0)), "x");
	json_decref(body);

	/* Errors a pod can have. */
	obj_set(c, "securityContext.runAsNonRoot", json_true());
	body = podconfig_container(&in, &err);
	CHECK(body == NULL);
	CHECK(err && strstr(err, "non-root"));
	free(err);
	obj_del(c, "securityContext.runAsNonRoot");
	json_array_append_new(obj_get(c, "volumeMounts"), parse("{\"name\": \"data\", \"mountPath\": \"/x\", \"subPath\": \"../../etc\"}"));
	body = podconfig_container(&in, &err);
	CHECK(body == NULL);
	CHECK(err && strstr(err, "subPath"));
	free(err);
	json_array_remove(obj_get(c, "volumeMounts"), json_array_size(obj_get(c, "volumeMounts")) - 1);
	json_array_append_new(obj_get(c, "volumeMounts"), parse("{\"name\": \"undefined\", \"mountPath\": \"/x\"}"));
	body = podconfig_container(&in, &err);
	CHECK(body == NULL);
	CHECK(err && strstr(err, "\"undefined\""));
	free(err);

	json_decref(env);
	json_decref(c);
	json_decref(pod);
}

static void test_sandbox(void)
{
	json_t *pod = parse("{\"metadata\": {\"name\": \"web\", \"namespace\": \"ns\", \"uid\": \"u1\", \"labels\": {\"app\": \"web\"}},"
			    " \"spec\": {\"hostname\": \"h1\", \"containers\": [{\"name\": \"c\", \"ports\": ["
			    "  {\"containerPort\": 80, \"hostPort\": 8080, \"protocol\": \"TCP\"},"
			    "  {\"containerPort\": 53, \"hostPort\": 5353, \"protocol\": \"UDP\", \"hostIP\": \"127.0.0.1\"},"
			    "  {\"containerPort\": 9000}]}]}}");
	struct podconfig_sandbox_input in = { pod, "n1", "minik8s-n1", "minik8s/pause:1", 2 };
	json_t *body = podconfig_sandbox(&in), *b;

	CHECK_STR(obj_str(body, "Image"), "minik8s/pause:1");
	CHECK_STR(obj_str(body, "Hostname"), "h1");
	CHECK_STR(obj_str(body, "HostConfig.NetworkMode"), "minik8s-n1");
	CHECK_STR(obj_str(body, "HostConfig.IpcMode"), "shareable");
	b = json_object_get(obj_get(body, "HostConfig.PortBindings"), "80/tcp");
	CHECK_STR(obj_str(json_array_get(b, 0), "HostPort"), "8080");
	b = json_object_get(obj_get(body, "HostConfig.PortBindings"), "53/udp");
	CHECK_STR(obj_str(json_array_get(b, 0), "HostIp"), "127.0.0.1");
	CHECK(json_object_get(obj_get(body, "HostConfig.PortBindings"), "9000/tcp") == NULL);
	CHECK(json_object_get(obj_get(body, "ExposedPorts"), "80/tcp") != NULL);
	CHECK_STR(key_str(obj_get(body, "Labels"), "app"), "web");
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_TYPE), TYPE_SANDBOX);
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_CONTAINER_NAME), "POD");
	CHECK_STR(key_str(obj_get(body, "Labels"), LABEL_RESTART_COUNT), "2");
	json_decref(body);

	obj_set(pod, "spec.hostNetwork", json_true());
	body = podconfig_sandbox(&in);
	CHECK_STR(obj_str(body, "HostConfig.NetworkMode"), "host");
	CHECK(obj_get(body, "Hostname") == NULL);
	CHECK(obj_get(body, "HostConfig.PortBindings") == NULL);
	json_decref(body);
	json_decref(pod);
}

static void check_resolv(const char *pod_json, const char *host, const char *dns, const char *want)
{
	json_t *pod = parse(pod_json);
	struct podconfig_dns_input in = { pod, dns, "cluster.local", host };
	char *got = podconfig_resolv_conf(&in);

	CHECK_STR(got, want);
	free(got);
	json_decref(pod);
}

static void test_resolv(void)
{
	const char *host = "# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp.example\noptions edns0\n";

	check_resolv("{\"metadata\": {\"namespace\": \"shop\"}, \"spec\": {}}", host, "10.96.0.10",
		     "nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
		     "options ndots:5\n");
	/* Default: the node's file, without its loopback resolver. */
	check_resolv("{\"metadata\": {\"namespace\": \"shop\"}, \"spec\": {\"dnsPolicy\": \"Default\"}}", host, "10.96.0.10",
		     "nameserver 192.0.2.1\nsearch corp.example\noptions edns0\n");
	check_resolv("{\"spec\": {\"dnsPolicy\": \"Default\"}}", "nameserver 127.0.0.53\n", "10.96.0.10",
		     "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
	/* hostNetwork with ClusterFirst falls back to Default; ClusterFirstWithHostNet does not. */
	check_resolv("{\"spec\": {\"hostNetwork\": true}}", host, "10.96.0.10",
		     "nameserver 192.0.2.1\nsearch corp.example\noptions edns0\n");
	check_resolv("{\"metadata\": {\"namespace\": \"a\"}, \"spec\": {\"hostNetwork\": true, \"dnsPolicy\": \"ClusterFirstWithHostNet\"}}",
		     NULL, "10.96.0.10", "nameserver 10.96.0.10\nsearch a.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n");
	/* No cluster DNS configured: Default. */
	check_resolv("{\"spec\": {}}", host, "", "nameserver 192.0.2.1\nsearch corp.example\noptions edns0\n");
	check_resolv("{\"spec\": {\"dnsPolicy\": \"None\", \"dnsConfig\": {\"nameservers\": [\"1.1.1.1\"], \"searches\": [\"x.y\"],"
		     " \"options\": [{\"name\": \"ndots\", \"value\": \"2\"}, {\"name\": \"rotate\"}]}}}", host, "10.96.0.10",
		     "nameserver 1.1.1.1\nsearch x.y\noptions ndots:2 rotate\n");
	/* dnsConfig merges into ClusterFirst; an option replaces one of the same name. */
	check_resolv("{\"metadata\": {\"namespace\": \"a\"}, \"spec\": {\"dnsConfig\": {\"nameservers\": [\"1.1.1.1\"],"
		     " \"options\": [{\"name\": \"ndots\", \"value\": \"1\"}]}}}", NULL, "10.96.0.10",
		     "nameserver 10.96.0.10\nnameserver 1.1.1.1\nsearch a.svc.cluster.local svc.cluster.local cluster.local\n"
		     "options ndots:1\n");
}

static void test_hosts(void)
{
	json_t *pod = parse("{\"metadata\": {\"name\": \"web-0\", \"namespace\": \"shop\"},"
			    " \"spec\": {\"hostAliases\": [{\"ip\": \"10.1.2.3\", \"hostnames\": [\"foo.local\", \"bar.local\"]}]}}");
	char *h = podconfig_hosts(pod, "10.244.1.5", "cluster.local", NULL), *name;

	CHECK(strstr(h, "127.0.0.1\tlocalhost\n") != NULL);
	CHECK(strstr(h, "\n10.244.1.5\tweb-0\n") != NULL);
	CHECK(strstr(h, "\n10.1.2.3\tfoo.local\tbar.local\n") != NULL);
	free(h);
	/* Without an IP yet: no line for the pod. */
	h = podconfig_hosts(pod, NULL, "cluster.local", NULL);
	CHECK(strstr(h, "web-0") == NULL);
	free(h);
	obj_set(pod, "spec.hostname", json_string("db"));
	obj_set(pod, "spec.subdomain", json_string("dbs"));
	h = podconfig_hosts(pod, "10.244.1.5", "cluster.local", NULL);
	CHECK(strstr(h, "\n10.244.1.5\tdb.dbs.shop.svc.cluster.local\tdb\n") != NULL);
	free(h);
	name = podconfig_hostname(pod);
	CHECK_STR(name, "db");
	free(name);
	obj_set(pod, "spec.hostNetwork", json_true());
	h = podconfig_hosts(pod, "10.244.1.5", "cluster.local", "127.0.0.1 localhost\n192.0.2.2 node1");
	CHECK(strstr(h, "192.0.2.2 node1\n") != NULL);
	CHECK(strstr(h, "10.244.1.5") == NULL);
	free(h);
	json_decref(pod);
}

static void test_volume_path(void)
{
	json_t *v = parse("{\"name\": \"x\", \"gitRepo\": {}}");
	char *p = podconfig_volume_path("/d", v);

	CHECK(p == NULL);
	json_decref(v);
	v = parse("{\"name\": \"x\", \"secret\": {\"secretName\": \"s\"}}");
	p = podconfig_volume_path("/d", v);
	CHECK_STR(p, "/d/volumes/kubernetes.io~secret/x");
	free(p);
	json_decref(v);
}

int main(void)
{
	test_quantity();
	test_env();
	test_env_errors();
	test_expand();
	test_container();
	test_sandbox();
	test_resolv();
	test_hosts();
	test_volume_path();
	return test_done();
}
