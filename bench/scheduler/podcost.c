/*
 * What one pod costs: in memory, the same pods (as the apiserver sends them
 * once a hollow node runs them) kept by the informer's cache, by the
 * scheduler's compact cache as bound pods, and as pending pods (heap use
 * measured with mallinfo2 around loading N pods); in time, parsing one from
 * JSON and one scheduling cycle on 1,000 nodes with no network at all.
 * Run: bench-scheduler-podcost [N]
 */
#include "client/informer-private.h"
#include "controller/controller.h"
#include "scheduler/cache.h"
#include "scheduler/framework.h"
#include "core/object.h"
#include "core/util.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *pod_json =
	"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s\",\"generateName\":\"web-7d4b9c-\","
	"\"namespace\":\"bench\",\"uid\":\"6f1c2a9e-%08d-4b5e-9a51-0c2d3e4f5a6b\",\"resourceVersion\":\"%d\","
	"\"creationTimestamp\":\"2026-12-03T19:42:07Z\",\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"7d4b9c\"},"
	"\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-7d4b9c\","
	"\"uid\":\"2b7c1e0a-1111-4b5e-9a51-0c2d3e4f5a6b\",\"controller\":true,\"blockOwnerDeletion\":true}]},"
	"\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"registry.k8s.io/pause:3.9\",\"resources\":{\"requests\":"
	"{\"cpu\":\"10m\",\"memory\":\"16Mi\"}},\"imagePullPolicy\":\"IfNotPresent\",\"terminationMessagePath\":"
	"\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\"}],\"enableServiceLinks\":true,\"dnsPolicy\":"
	"\"ClusterFirst\",\"restartPolicy\":\"Always\",\"securityContext\":{},\"terminationGracePeriodSeconds\":30,"
	"\"schedulerName\":\"default-scheduler\",\"nodeName\":\"hollow-%d\",\"tolerations\":[{\"key\":"
	"\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":60},"
	"{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"effect\":\"NoExecute\","
	"\"tolerationSeconds\":60}]},\"status\":{\"phase\":\"Running\",\"qosClass\":\"Burstable\",\"conditions\":["
	"{\"type\":\"PodReadyToStartContainers\",\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":"
	"\"2026-12-03T19:42:08Z\"},{\"type\":\"Initialized\",\"status\":\"True\",\"lastProbeTime\":null,"
	"\"lastTransitionTime\":\"2026-12-03T19:42:08Z\"},{\"type\":\"Ready\",\"status\":\"True\",\"lastProbeTime\":null,"
	"\"lastTransitionTime\":\"2026-12-03T19:42:08Z\"},{\"type\":\"ContainersReady\",\"status\":\"True\","
	"\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-12-03T19:42:08Z\"},{\"type\":\"PodScheduled\",\"status\":"
	"\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-12-03T19:42:07Z\"}],\"hostIP\":\"10.1.0.2\","
	"\"hostIPs\":[{\"ip\":\"10.1.0.2\"}],\"podIP\":\"100.64.1.2\",\"podIPs\":[{\"ip\":\"100.64.1.2\"}],"
	"\"startTime\":\"2026-12-03T19:42:08Z\",\"containerStatuses\":[{\"name\":\"main\",\"image\":"
	"\"registry.k8s.io/pause:3.9\",\"imageID\":\"hollow://registry.k8s.io/pause:3.9\",\"containerID\":"
	"\"hollow://6f1c2a9e-main\",\"ready\":true,\"started\":true,\"restartCount\":0,\"state\":{\"running\":"
	"{\"startedAt\":\"2026-12-03T19:42:08Z\"}},\"lastState\":{}}]}}";

static json_t *make_pod(int i)
{
	char name[32], ip[32], host[32], ts[32], cid[64], *text;
	json_t *obj, *c;
	size_t k;

	snprintf(name, sizeof(name), "web-7d4b9c-%05d", i);
	text = xasprintf(pod_json, name, i, 1000 + i, i % 1000);
	obj = json_loads(text, 0, NULL);
	free(text);
	/* What differs between real pods besides names: addresses, container
	 * ids, and timestamps that move on every second (3,000 pods a second). */
	snprintf(ip, sizeof(ip), "100.64.%d.%d", (i >> 8) & 255, i & 255);
	snprintf(host, sizeof(host), "10.1.%d.%d", (i % 1000) >> 8, (i % 1000) & 255);
	snprintf(ts, sizeof(ts), "2026-12-03T19:%02d:%02dZ", (i / 3000) / 60 % 60, (i / 3000) % 60);
	snprintf(cid, sizeof(cid), "hollow://6f1c2a9e-%08d-main", i);
	obj_set(obj, "status.podIP", json_string(ip));
	json_object_set_new(json_array_get(obj_get(obj, "status.podIPs"), 0), "ip", json_string(ip));
	obj_set(obj, "status.hostIP", json_string(host));
	json_object_set_new(json_array_get(obj_get(obj, "status.hostIPs"), 0), "ip", json_string(host));
	obj_set(obj, "status.startTime", json_string(ts));
	obj_set(obj, "metadata.creationTimestamp", json_string(ts));
	json_array_foreach(obj_get(obj, "status.conditions"), k, c)
		json_object_set_new(c, "lastTransitionTime", json_string(ts));
	c = json_array_get(obj_get(obj, "status.containerStatuses"), 0);
	json_object_set_new(c, "containerID", json_string(cid));
	obj_set(c, "state.running.startedAt", json_string(ts));
	return obj;
}

static size_t heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	struct informer_cache ic;
	struct sched_cache sc;
	struct sched_pod **pods = xcalloc((size_t)n, sizeof(*pods));
	size_t before, json_bytes = 0;
	json_t *one;
	char *dump;

	one = make_pod(1);
	dump = json_dumps(one, JSON_COMPACT);
	json_bytes = strlen(dump);
	free(dump);
	json_decref(one);

	/* The informer cache: the JSON tree of every pod, indexed twice. */
	before = heap_used();
	informer_cache_init(&ic, NULL, NULL);
	for (int i = 0; i < n; i++) {
		json_t *obj = make_pod(i);
		informer_cache_apply(&ic, "ADDED", obj);
		json_decref(obj);
	}
	printf("pod as JSON on the wire:          %zu bytes\n", json_bytes);
	printf("informer cache (jansson tree):    %zu bytes/pod\n", (heap_used() - before) / (size_t)n);
	informer_cache_release(&ic);

	/* The controller manager's: the same, trimmed by its transform. */
	before = heap_used();
	informer_cache_init(&ic, NULL, NULL);
	ic.transform = controller_pod_transform;
	for (int i = 0; i < n; i++) {
		json_t *obj = make_pod(i);
		informer_cache_apply(&ic, "ADDED", obj);
		json_decref(obj);
	}
	printf("controller manager's pod cache:   %zu bytes/pod\n", (heap_used() - before) / (size_t)n);
	informer_cache_release(&ic);

	/* The scheduler's cache: bound pods keep only node accounting. */
	sched_cache_init(&sc);
	before = heap_used();
	for (int i = 0; i < n; i++) {
		json_t *obj = make_pod(i);
		struct sched_node *node = sched_cache_node_or_placeholder(&sc, obj_str(obj, "spec.nodeName"));
		pods[i] = sched_pod_parse(&sc, obj, false);
		sched_cache_add_pod(&sc, pods[i]);
		sched_cache_place(&sc, pods[i], node);
		json_decref(obj);
	}
	printf("scheduler cache, bound pod:       %zu bytes/pod (1000 nodes included)\n",
	       (heap_used() - before) / (size_t)n);
	sched_cache_release(&sc);

	/* Pending pods also carry their scheduling constraints until bound. */
	sched_cache_init(&sc);
	before = heap_used();
	for (int i = 0; i < n; i++) {
		json_t *obj = make_pod(i);
		pods[i] = sched_pod_parse(&sc, obj, true);
		sched_cache_add_pod(&sc, pods[i]);
		json_decref(obj);
	}
	printf("scheduler cache, pending pod:     %zu bytes/pod\n", (heap_used() - before) / (size_t)n);
	sched_cache_release(&sc);

	/* Time: parsing the wire form, then cycles on 1,000 nodes. */
	{
		char *text;
		json_t *obj = make_pod(7);
		struct sched_framework fw;
		uint64_t t0;
		char *err;
		int cycles = n * 3;

		text = json_dumps(obj, JSON_COMPACT);
		t0 = now_ms();
		for (int i = 0; i < n; i++)
			json_decref(json_loads(text, 0, NULL));
		printf("parsing one pod (jansson):        %.1f us\n", (double)(now_ms() - t0) * 1000.0 / n);
		t0 = now_ms();
		for (int i = 0; i < n; i++)
			json_decref(obj_parse(text, strlen(text), 0, NULL));
		printf("parsing one pod (obj_parse):      %.1f us\n", (double)(now_ms() - t0) * 1000.0 / n);
		t0 = now_ms();
		for (int i = 0; i < n; i++)
			free(json_dumps(obj, JSON_COMPACT));
		printf("printing one pod (jansson):       %.1f us\n", (double)(now_ms() - t0) * 1000.0 / n);
		t0 = now_ms();
		for (int i = 0; i < n; i++)
			free(obj_dump(obj, NULL));
		printf("printing one pod (obj_dump):      %.1f us\n", (double)(now_ms() - t0) * 1000.0 / n);
		json_decref(obj);
		free(text);

		sched_cache_init(&sc);
		for (int i = 0; i < 1000; i++) {
			char *t = xasprintf("{\"metadata\":{\"name\":\"hollow-%d\",\"labels\":{\"kubernetes.io/hostname\":"
					    "\"hollow-%d\"}},\"status\":{\"allocatable\":{\"cpu\":\"64\",\"memory\":\"256Gi\","
					    "\"pods\":\"250\"}}}", i, i);
			json_t *no = json_loads(t, 0, NULL);
			unsigned changed;
			sched_cache_upsert_node(&sc, no, &changed);
			json_decref(no);
			free(t);
		}
		sched_framework_init(&fw, &sc, NULL, &err);
		{
			struct timespec a, b;
			double t_parse = 0, t_cycle = 0;
			for (int i = 0; i < cycles; i++) {
				json_t *po = make_pod(i);
				struct sched_pod *p;
				struct sched_result res;

				obj_del(po, "spec.nodeName");
				clock_gettime(CLOCK_MONOTONIC, &a);
				p = sched_pod_parse(&sc, po, true);
				sched_cache_add_pod(&sc, p);
				clock_gettime(CLOCK_MONOTONIC, &b);
				t_parse += (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
				sched_framework_schedule(&fw, p, &res);
				if (res.node < 0)
					die("no node for pod %d: %s", i, res.message);
				sched_cache_place(&sc, p, sc.nodes[res.node]);
				sched_pod_drop_pending(p);
				clock_gettime(CLOCK_MONOTONIC, &a);
				t_cycle += (double)(a.tv_sec - b.tv_sec) * 1e6 + (double)(a.tv_nsec - b.tv_nsec) / 1e3;
				json_decref(po);
			}
			printf("pod object -> compact pod:        %.1f us\n", t_parse / cycles);
			printf("one cycle + assume, 1000 nodes:   %.1f us (%.0f cycles/s on one core)\n", t_cycle / cycles,
			       1e6 / (t_cycle / cycles));
		}
		(void)t0;
		sched_framework_release(&fw);
		sched_cache_release(&sc);
	}
	free(pods);
	return 0;
}
