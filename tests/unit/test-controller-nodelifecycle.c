/*
 * Node health and taint-based eviction on a fake clock: a node whose Lease
 * stops being renewed goes Unknown after the grace period (conditions,
 * then taints, pods marked not ready, events); a kubelet that reports
 * Ready=False gets the not-ready taints; a recovered node loses them; no
 * NoExecute taints when every node is down; NoExecute taints added at the
 * zone's eviction rate. Taint eviction: tolerationSeconds counted from the
 * taint, immediate eviction without a toleration, none with a toleration
 * without seconds, and the cancel event when the taint goes first.
 */
#include "apiserver/kinds.h"
#include "controller-fake.h"
#include "object.h"
#include "testing.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static void put(struct lister *l, json_t *o)
{
	lister_put(l, o);
	json_decref(o);
}

static void ts_at(int64_t ms, char *buf)
{
	time_format_rfc3339((time_t)(ms / 1000), buf);
}

static json_t *node_obj(const char *name, const char *ready, int64_t heartbeat_ms, const char *zone)
{
	json_t *n = test_obj("Node", "v1", NULL, name, name);
	char ts[TIME_RFC3339_LEN];

	ts_at(heartbeat_ms, ts);
	obj_set(n, "status.conditions", json_pack("[{s:s, s:s, s:s, s:s, s:s}]", "type", "Ready", "status", ready,
						  "reason", "KubeletReady", "lastHeartbeatTime", ts, "lastTransitionTime", ts));
	obj_set(n, "spec", json_object());
	if (zone)
		obj_set(n, "metadata.labels", json_pack("{s:s}", "topology.kubernetes.io/zone", zone));
	return n;
}

static json_t *lease_obj(const char *name, int64_t renew_ms)
{
	json_t *l = test_obj("Lease", "coordination.k8s.io/v1", "kube-node-lease", name, name);
	char ts[TIME_RFC3339_LEN];

	ts_at(renew_ms, ts);
	obj_set(l, "spec.renewTime", json_string(ts));
	return l;
}

static json_t *pod_on(const char *name, const char *node, bool ready)
{
	json_t *p = test_obj("Pod", "v1", "default", name, name);

	obj_set(p, "spec.nodeName", json_string(node));
	obj_set(p, "status", json_pack("{s:s, s:[{s:s, s:s}]}", "phase", "Running", "conditions", "type", "Ready",
				       "status", ready ? "True" : "False"));
	return p;
}

static bool has_taint(const json_t *taints, const char *key, const char *effect)
{
	json_t *t;
	size_t i;

	json_array_foreach(taints, i, t)
		if (!strcmp(obj_str(t, "key"), key) && !strcmp(obj_str(t, "effect"), effect))
			return true;
	return false;
}

static void drain(struct controller *c)
{
	const char *k;

	while ((k = workqueue_get(c->queue)))
		workqueue_done(c->queue, k);
}

/* The node as the apiserver would hold it after the controller's writes. */
static void apply_node_writes(struct test_env *e, const char *name)
{
	struct lister *nodes = test_lister(e, &kind_node);
	char part[64];
	json_t *n = json_deep_copy(lister_get(nodes, name)), *req;
	size_t cnt;

	snprintf(part, sizeof(part), "/nodes/%s/status", name);
	if ((cnt = fake_count(e->fc, "PUT", part))) {
		req = fake_request(e->fc, "PUT", part, cnt - 1);
		obj_set(n, "status", json_deep_copy(obj_get(req, "body.status")));
	}
	snprintf(part, sizeof(part), "/nodes/%s", name);
	for (size_t i = 0; (req = fake_request(e->fc, "PATCH", part, i)); i++)
		if (obj_get(req, "body.spec.taints"))
			obj_set(n, "spec.taints", json_deep_copy(obj_get(req, "body.spec.taints")));
	obj_set(n, "metadata.resourceVersion", json_string("99"));
	put(nodes, n);
}

static void test_lease_stops(void)
{
	struct test_env e;
	struct lister *nodes, *leases, *pods;
	int64_t t0 = fake_now_ms;
	json_t *req, *ready;
	size_t i;

	CHECK_INT(test_env_init(&e, &node_lifecycle_controller_def), 0);
	nodes = test_lister(&e, &kind_node);
	leases = test_lister(&e, &kind_lease);
	pods = test_lister(&e, &kind_pod);
	put(nodes, node_obj("n1", "True", t0, NULL));
	put(nodes, node_obj("n2", "True", t0, NULL));
	put(leases, lease_obj("n1", t0));
	put(leases, lease_obj("n2", t0));
	put(pods, pod_on("p1", "n2", true));
	put(pods, pod_on("p2", "n1", true));

	CHECK_INT(controller_sync_key(e.c, "@monitor"), 0);
	drain(e.c);
	CHECK_INT(fake_event_count(e.fc, "RegisteredNode"), 2);
	/* n1 renews, n2 does not; within the grace period nothing happens. */
	fake_now_ms = t0 + 30000;
	put(leases, lease_obj("n1", fake_now_ms));
	CHECK_INT(controller_sync_key(e.c, "@monitor"), 0);
	CHECK_INT(workqueue_len(e.c->queue), 0);
	fake_now_ms = t0 + 55000;
	put(leases, lease_obj("n1", fake_now_ms));
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "@monitor"), 0);
	CHECK_INT(workqueue_len(e.c->queue), 1);
	CHECK_STR(workqueue_get(e.c->queue), "n2");
	workqueue_done(e.c->queue, "n2");
	CHECK_INT(fake_event_count(e.fc, "NodeNotReady"), 1);
	CHECK_STR(fake_event_message(e.fc, "NodeNotReady", 0), "Node n2 status is now: NodeNotReady");

	/* First the conditions go Unknown, and its pods stop being ready. */
	CHECK_INT(controller_sync_key(e.c, "n2"), 0);
	req = fake_request(e.fc, "PUT", "/api/v1/nodes/n2/status", 0);
	CHECK(req != NULL);
	ready = condition_get(obj_get(req, "body"), "Ready");
	CHECK_STR(obj_str(ready, "status"), "Unknown");
	CHECK_STR(obj_str(ready, "reason"), "NodeStatusUnknown");
	CHECK_STR(obj_str(ready, "message"), "Kubelet stopped posting node status.");
	CHECK_STR(obj_str(condition_get(obj_get(req, "body"), "MemoryPressure"), "reason"), "NodeStatusNeverUpdated");
	req = fake_request(e.fc, "PATCH", "/pods/p1/status", 0);
	CHECK(req != NULL);
	CHECK_STR(obj_str(condition_get(obj_get(req, "body"), "Ready"), "status"), "False");
	CHECK(fake_request(e.fc, "PATCH", "/pods/p2/status", 0) == NULL);
	CHECK_INT(fake_event_count(e.fc, "NodeNotReady"), 2);   /* the node's and the pod's */
	CHECK(fake_request(e.fc, "PATCH", "/api/v1/nodes/n2", 0) == NULL ||
	      !obj_get(fake_request(e.fc, "PATCH", "/api/v1/nodes/n2", 0), "body.spec.taints"));

	/* Then the taints, with the resourceVersion read. */
	apply_node_writes(&e, "n2");
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "n2"), 0);
	req = fake_request(e.fc, "PATCH", "/api/v1/nodes/n2", 0);
	CHECK(req != NULL);
	CHECK(has_taint(obj_get(req, "body.spec.taints"), "node.kubernetes.io/unreachable", "NoExecute"));
	CHECK(has_taint(obj_get(req, "body.spec.taints"), "node.kubernetes.io/unreachable", "NoSchedule"));
	CHECK_STR(obj_str(req, "body.metadata.resourceVersion"), "99");
	json_array_foreach(obj_get(req, "body.spec.taints"), i, ready)
		if (!strcmp(obj_str(ready, "effect"), "NoExecute"))
			CHECK(obj_str(ready, "timeAdded") != NULL);
	apply_node_writes(&e, "n2");
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "n2"), 0);
	CHECK_INT(fake_count(e.fc, "PATCH", "/api/v1/nodes/"), 0);   /* settled */

	/* The kubelet comes back (heartbeat, Ready): the taints go at once. */
	{
		json_t *n = node_obj("n2", "True", fake_now_ms, NULL);
		obj_set(n, "spec.taints", json_deep_copy(obj_get(lister_get(nodes, "n2"), "spec.taints")));
		json_array_append_new(obj_get(n, "spec.taints"), json_pack("{s:s, s:s}", "key", "mine", "effect", "NoSchedule"));
		put(nodes, n);
	}
	put(leases, lease_obj("n2", fake_now_ms));
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "n2"), 0);
	req = fake_request(e.fc, "PATCH", "/api/v1/nodes/n2", 0);
	CHECK(req != NULL);
	CHECK_INT(json_array_size(obj_get(req, "body.spec.taints")), 1);
	CHECK(has_taint(obj_get(req, "body.spec.taints"), "mine", "NoSchedule"));
	fake_now_ms = t0;
	CHECK_INT(test_env_release(&e), 0);
}

static void test_not_ready_disruption_and_rate(void)
{
	struct test_env e;
	struct lister *nodes, *leases;
	int64_t t0 = fake_now_ms;
	json_t *req;
	char name[8];

	CHECK_INT(test_env_init(&e, &node_lifecycle_controller_def), 0);
	nodes = test_lister(&e, &kind_node);
	leases = test_lister(&e, &kind_lease);
	/* A kubelet that says Ready=False (alive, heartbeat fresh): not-ready taints. */
	put(nodes, node_obj("sick", "False", t0, "z1"));
	put(leases, lease_obj("sick", t0));
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "ok%d", i);
		put(nodes, node_obj(name, "True", t0, "z1"));
		put(leases, lease_obj(name, t0));
	}
	CHECK_INT(controller_sync_key(e.c, "@monitor"), 0);
	drain(e.c);
	CHECK_INT(controller_sync_key(e.c, "sick"), 0);
	req = fake_request(e.fc, "PATCH", "/api/v1/nodes/sick", 0);
	CHECK(req != NULL);
	CHECK(has_taint(obj_get(req, "body.spec.taints"), "node.kubernetes.io/not-ready", "NoExecute"));
	CHECK(has_taint(obj_get(req, "body.spec.taints"), "node.kubernetes.io/not-ready", "NoSchedule"));
	CHECK(fake_count(e.fc, "PUT", "/status") == 0);  /* the kubelet's own status is not overwritten */

	/* Two more nodes fall silent in the zone: NoExecute at 0.1 node/s, so one now and one 10 s later. */
	fake_now_ms = t0 + 60000;
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "ok%d", i);
		put(leases, lease_obj(name, fake_now_ms));
		put(nodes, node_obj(name, "True", fake_now_ms, "z1"));
	}
	put(leases, lease_obj("sick", fake_now_ms));
	put(nodes, node_obj("sick", "True", fake_now_ms, "z1"));
	CHECK_INT(controller_sync_key(e.c, "@monitor"), 0);
	drain(e.c);
	fake_client_reset(e.fc);
	for (int i = 2; i < 4; i++) {
		snprintf(name, sizeof(name), "ok%d", i);
		controller_sync_key(e.c, name);          /* conditions Unknown */
		apply_node_writes(&e, name);
	}
	fake_client_reset(e.fc);
	controller_sync_key(e.c, "ok2");
	controller_sync_key(e.c, "ok3");
	{
		int noexec = 0;
		for (int i = 0; (req = fake_request(e.fc, "PATCH", "/api/v1/nodes/", i)); i++)
			noexec += has_taint(obj_get(req, "body.spec.taints"), "node.kubernetes.io/unreachable", "NoExecute");
		CHECK_INT(noexec, 1);
	}
	apply_node_writes(&e, "ok2");
	apply_node_writes(&e, "ok3");
	fake_now_ms += 11000;
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "ok%d", i);
		put(leases, lease_obj(name, fake_now_ms));
	}
	put(leases, lease_obj("sick", fake_now_ms));
	CHECK_INT(controller_sync_key(e.c, "@monitor"), 0);
	drain(e.c);
	fake_client_reset(e.fc);
	controller_sync_key(e.c, "ok2");
	controller_sync_key(e.c, "ok3");
	CHECK_INT(fake_count(e.fc, "PATCH", "/api/v1/nodes/"), 1);
	req = fake_request(e.fc, "PATCH", "/api/v1/nodes/", 0);
	CHECK(has_taint(obj_get(req, "body.spec.taints"), "node.kubernetes.io/unreachable", "NoExecute"));

	/* Every node silent: master disruption mode, NoExecute taints come off. */
	fake_now_ms += 120000;
	apply_node_writes(&e, "ok2");
	apply_node_writes(&e, "ok3");
	CHECK_INT(controller_sync_key(e.c, "@monitor"), 0);
	drain(e.c);
	fake_client_reset(e.fc);
	controller_sync_key(e.c, "ok2");
	for (int i = 0; (req = fake_request(e.fc, "PATCH", "/api/v1/nodes/ok2", i)); i++)
		CHECK(!has_taint(obj_get(req, "body.spec.taints"), "node.kubernetes.io/unreachable", "NoExecute"));
	CHECK(fake_count(e.fc, "PATCH", "/api/v1/nodes/ok2") == 1);
	fake_now_ms = t0;
	CHECK_INT(test_env_release(&e), 0);
}

/* ---- taint eviction ------------------------------------------------------------------ */

static json_t *tainted_node(const char *name, int64_t added_ms)
{
	json_t *n = node_obj(name, "Unknown", added_ms, NULL);
	char ts[TIME_RFC3339_LEN];

	ts_at(added_ms, ts);
	obj_set(n, "spec.taints", json_pack("[{s:s, s:s, s:s}]", "key", "node.kubernetes.io/unreachable", "effect",
					    "NoExecute", "timeAdded", ts));
	return n;
}

static json_t *tolerating_pod(const char *name, int seconds)
{
	json_t *p = pod_on(name, "bad", true);

	if (seconds >= 0)
		obj_set(p, "spec.tolerations", json_pack("[{s:s, s:s, s:s, s:i}]", "key", "node.kubernetes.io/unreachable",
							 "operator", "Exists", "effect", "NoExecute", "tolerationSeconds",
							 seconds));
	else
		obj_set(p, "spec.tolerations", json_pack("[{s:s, s:s}]", "operator", "Exists", "effect", "NoExecute"));
	return p;
}

static void test_taint_eviction(void)
{
	struct test_env e;
	struct lister *nodes, *pods;
	int64_t t0 = fake_now_ms;
	json_t *req;

	CHECK_INT(test_env_init(&e, &taint_eviction_controller_def), 0);
	nodes = test_lister(&e, &kind_node);
	pods = test_lister(&e, &kind_pod);
	put(nodes, tainted_node("bad", t0));
	put(pods, tolerating_pod("patient", 30));
	put(pods, pod_on("intolerant", "bad", true));
	put(pods, tolerating_pod("forever", -1));

	/* No toleration: evicted now, with a DisruptionTarget condition first. */
	CHECK_INT(controller_sync_key(e.c, "default/intolerant"), 0);
	req = fake_request(e.fc, "PATCH", "/pods/intolerant/status", 0);
	CHECK(req != NULL);
	CHECK_STR(obj_str(condition_get(obj_get(req, "body"), "DisruptionTarget"), "reason"), "DeletionByTaintManager");
	CHECK_INT(fake_count(e.fc, "DELETE", "/api/v1/namespaces/default/pods/intolerant"), 1);
	CHECK_STR(fake_event_message(e.fc, "TaintManagerEviction", 0), "Marking for deletion Pod default/intolerant");

	/* Tolerated for 30 s: nothing yet, the key comes back when they run out. */
	fake_client_reset(e.fc);
	fake_now_ms = t0 + 10000;
	CHECK_INT(controller_sync_key(e.c, "default/patient"), 0);
	CHECK_INT(fake_count(e.fc, NULL, NULL), 0);
	CHECK_INT(workqueue_delayed(e.c->queue), 1);
	fake_now_ms = t0 + 30500;
	CHECK_INT(controller_sync_key(e.c, "default/patient"), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", "/pods/patient"), 1);

	/* Tolerated without a limit: never. */
	fake_client_reset(e.fc);
	fake_now_ms = t0 + 3600 * 1000;
	CHECK_INT(controller_sync_key(e.c, "default/forever"), 0);
	CHECK_INT(fake_count(e.fc, NULL, NULL), 0);

	/* The taint goes before the time is up: the eviction is cancelled. */
	put(nodes, tainted_node("bad", fake_now_ms));
	put(pods, tolerating_pod("lucky", 60));
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/lucky"), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", NULL), 0);
	{
		json_t *n = node_obj("bad", "True", fake_now_ms, NULL);
		put(nodes, n);
	}
	CHECK_INT(controller_sync_key(e.c, "default/lucky"), 0);
	CHECK_STR(fake_event_message(e.fc, "TaintManagerEviction", 0), "Cancelling deletion of Pod default/lucky");
	CHECK_INT(fake_count(e.fc, "DELETE", NULL), 0);
	fake_now_ms = t0;
	CHECK_INT(test_env_release(&e), 0);
}

int main(void)
{
	test_lease_stops();
	test_not_ready_disruption_and_rate();
	test_taint_eviction();
	return test_done();
}
