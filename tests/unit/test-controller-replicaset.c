/*
 * The ReplicaSet controller's sync against hand-filled caches and the fake
 * client: slow-start creates with owner references, expectations that hold
 * the next sync back until the cache catches up, which pods go first on
 * scale-down, adoption of orphans, terminating pods replaced, create
 * failures (event, ReplicaFailure, expectations lowered), and status with
 * minReadySeconds.
 */
#include "apiserver/kinds.h"
#include "controller-fake.h"
#include "object.h"
#include "testing.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static json_t *rs_obj(const char *name, const char *uid, int replicas)
{
	json_t *rs = test_obj("ReplicaSet", "apps/v1", "default", name, uid);

	obj_set(rs, "metadata.generation", json_integer(2));
	obj_set(rs, "spec", json_pack("{s:i, s:{s:{s:s}}, s:{s:{s:{s:s, s:s}}, s:{s:[{s:s, s:s}]}}}", "replicas", replicas,
				      "selector", "matchLabels", "app", "web", "template", "metadata", "labels", "app",
				      "web", "tier", "front", "spec", "containers", "name", "c", "image", "nginx"));
	return rs;
}

/* A pod of the ReplicaSet (owner_uid) or an orphan (NULL). ready_at 0: not ready. */
static json_t *pod_obj(const char *name, const char *owner_uid, const char *node, time_t ready_at, time_t created)
{
	json_t *p = test_obj("Pod", "v1", "default", name, name);
	char ts[TIME_RFC3339_LEN];

	obj_set(p, "metadata.labels", json_pack("{s:s, s:s}", "app", "web", "tier", "front"));
	if (owner_uid)
		obj_set(p, "metadata.ownerReferences",
			json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", "apps/v1", "kind", "ReplicaSet", "name",
				  "web", "uid", owner_uid, "controller", 1, "blockOwnerDeletion", 1));
	if (node)
		obj_set(p, "spec.nodeName", json_string(node));
	time_format_rfc3339(created, ts);
	obj_set(p, "metadata.creationTimestamp", json_string(ts));
	obj_set(p, "status.phase", json_string(node ? "Running" : "Pending"));
	if (ready_at) {
		time_format_rfc3339(ready_at, ts);
		obj_set(p, "status.conditions",
			json_pack("[{s:s, s:s, s:s}]", "type", "Ready", "status", "True", "lastTransitionTime", ts));
	}
	return p;
}

static void put(struct lister *l, json_t *o)
{
	lister_put(l, o);
	json_decref(o);
}

static time_t now_s(void)
{
	return (time_t)(fake_now_ms / 1000);
}

static void test_creates_with_slow_start_and_expectations(void)
{
	struct test_env e;
	struct lister *rss, *pods;
	json_t *req, *ref, *created[3];

	CHECK_INT(test_env_init(&e, &replicaset_controller_def), 0);
	rss = test_lister(&e, &kind_replicaset);
	pods = test_lister(&e, &kind_pod);
	put(rss, rs_obj("web", "rs-1", 3));

	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "POST", "/api/v1/namespaces/default/pods"), 3);
	req = fake_request(e.fc, "POST", "/pods", 0);
	CHECK_STR(obj_str(req, "body.metadata.generateName"), "web-");
	CHECK_STR(obj_str(req, "body.metadata.labels.tier"), "front");
	CHECK_STR(obj_str(json_array_get(obj_get(req, "body.spec.containers"), 0), "image"), "nginx");
	ref = json_array_get(obj_get(req, "body.metadata.ownerReferences"), 0);
	CHECK_STR(obj_str(ref, "uid"), "rs-1");
	CHECK_STR(obj_str(ref, "kind"), "ReplicaSet");
	CHECK(obj_bool(ref, "controller", false) && obj_bool(ref, "blockOwnerDeletion", false));
	CHECK_INT(fake_event_count(e.fc, "SuccessfulCreate"), 3);
	CHECK(str_has_prefix(fake_event_message(e.fc, "SuccessfulCreate", 0), "Created pod: web-"));
	/* Status says 0 replicas for now (the new pods are not in the cache). */
	req = fake_request(e.fc, "PATCH", "/replicasets/web/status", 0);
	CHECK(req != NULL);
	CHECK_INT(obj_int(req, "body.status.replicas", -1), 0);
	CHECK_INT(obj_int(req, "body.status.observedGeneration", -1), 2);

	/* Before the cache shows the pods, another sync must not create more. */
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "POST", "/pods"), 0);

	/* The informer delivers them: expectations met, status counts them. */
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "web-%d", i);
		created[i] = pod_obj(name, "rs-1", NULL, 0, now_s());
		put(pods, created[i]);
	}
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "POST", "/pods"), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", NULL), 0);
	req = fake_request(e.fc, "PATCH", "/replicasets/web/status", 0);
	CHECK_INT(obj_int(req, "body.status.replicas", -1), 3);
	CHECK_INT(obj_int(req, "body.status.fullyLabeledReplicas", -1), 3);
	CHECK(obj_get(req, "body.status.readyReplicas") == NULL);   /* zero is left out */

	/* Slow start: a big ReplicaSet creates in batches 1, 2, 4, ... */
	put(rss, rs_obj("big", "rs-big", 20));
	fake_client_reset(e.fc);
	e.fc->hold = true;
	CHECK_INT(controller_sync_key(e.c, "default/big"), 1);
	CHECK_INT(fake_count(e.fc, "POST", "/pods"), 1);
	CHECK_INT(fake_client_flush(e.fc), 1);
	CHECK_INT(fake_count(e.fc, "POST", "/pods"), 3);
	fake_client_flush(e.fc);
	CHECK_INT(fake_count(e.fc, "POST", "/pods"), 7);
	while (fake_client_flush(e.fc))
		;
	CHECK_INT(fake_count(e.fc, "POST", "/pods"), 20);
	e.fc->hold = false;
	CHECK_INT(test_env_release(&e), 0);
}

static void test_create_failure(void)
{
	struct test_env e;
	struct lister *rss;
	json_t *req;

	CHECK_INT(test_env_init(&e, &replicaset_controller_def), 0);
	rss = test_lister(&e, &kind_replicaset);
	put(rss, rs_obj("web", "rs-1", 4));
	fake_client_rule(e.fc, "POST", "/pods", 403, NULL, "pods \"web-x\" is forbidden: exceeded quota", -1);
	CHECK_INT(controller_sync_key(e.c, "default/web"), -1);
	/* The first batch (1 pod) failed: the others were never tried. */
	CHECK_INT(fake_count(e.fc, "POST", "/pods"), 1);
	CHECK_INT(fake_event_count(e.fc, "FailedCreate"), 1);
	CHECK(strstr(fake_event_message(e.fc, "FailedCreate", 0), "Error creating: pods \"web-x\" is forbidden") != NULL);
	req = fake_request(e.fc, "PATCH", "/replicasets/web/status", 0);
	CHECK_STR(obj_str(json_array_get(obj_get(req, "body.status.conditions"), 0), "type"), "ReplicaFailure");
	CHECK_STR(obj_str(json_array_get(obj_get(req, "body.status.conditions"), 0), "reason"), "FailedCreate");
	/* Expectations were lowered for every pod not made: the retry creates again. */
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "POST", "/pods"), 4);
	CHECK_INT(test_env_release(&e), 0);
}

static void test_scale_down_order(void)
{
	struct test_env e;
	struct lister *rss, *pods;
	time_t t = now_s();

	CHECK_INT(test_env_init(&e, &replicaset_controller_def), 0);
	rss = test_lister(&e, &kind_replicaset);
	pods = test_lister(&e, &kind_pod);
	put(rss, rs_obj("web", "rs-1", 2));
	put(pods, pod_obj("old-ready", "rs-1", "n1", t - 3600, t - 7200));
	put(pods, pod_obj("new-ready", "rs-1", "n2", t - 10, t - 20));
	put(pods, pod_obj("unassigned", "rs-1", NULL, 0, t - 7200));
	put(pods, pod_obj("not-ready", "rs-1", "n3", 0, t - 7200));
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", NULL), 2);
	CHECK(fake_request(e.fc, "DELETE", "/pods/unassigned", 0) != NULL);
	CHECK(fake_request(e.fc, "DELETE", "/pods/not-ready", 0) != NULL);
	CHECK_INT(fake_event_count(e.fc, "SuccessfulDelete"), 2);

	/* Among ready pods, the one doubled up on a node and the newer one go first. */
	fake_client_reset(e.fc);
	lister_remove(pods, "default/unassigned");
	lister_remove(pods, "default/not-ready");
	put(pods, pod_obj("crowded", "rs-1", "n1", t - 3600, t - 7200));
	put(rss, rs_obj("web", "rs-1", 2));
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", NULL), 1);
	{
		json_t *d = fake_request(e.fc, "DELETE", NULL, 0);
		const char *p = obj_str(d, "path");
		CHECK(str_has_suffix(p, "/old-ready") || str_has_suffix(p, "/crowded"));
	}
	CHECK_INT(test_env_release(&e), 0);
}

static void test_terminating_replaced_and_orphans_adopted(void)
{
	struct test_env e;
	struct lister *rss, *pods;
	json_t *p;

	CHECK_INT(test_env_init(&e, &replicaset_controller_def), 0);
	rss = test_lister(&e, &kind_replicaset);
	pods = test_lister(&e, &kind_pod);
	put(rss, rs_obj("web", "rs-1", 3));
	put(pods, pod_obj("a", "rs-1", "n1", now_s() - 5, now_s() - 60));
	p = pod_obj("going", "rs-1", "n1", now_s() - 5, now_s() - 60);
	obj_set(p, "metadata.deletionTimestamp", json_string("2026-01-01T00:00:30Z"));
	put(pods, p);
	put(pods, pod_obj("orphan", NULL, "n2", now_s() - 5, now_s() - 60));
	p = pod_obj("other-app", NULL, "n2", 0, now_s());
	obj_set(p, "metadata.labels", json_pack("{s:s}", "app", "db"));
	put(pods, p);

	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	/* The orphan is adopted and counts; the terminating one does not: one new pod. */
	CHECK(fake_request(e.fc, "PATCH", "/pods/orphan", 0) != NULL);
	CHECK(fake_request(e.fc, "PATCH", "/pods/other-app", 0) == NULL);
	CHECK_INT(fake_count(e.fc, "POST", "/pods"), 1);
	CHECK_INT(test_env_release(&e), 0);
}

static void test_status_and_min_ready(void)
{
	struct test_env e;
	struct lister *rss, *pods;
	json_t *rs, *req, *p;

	CHECK_INT(test_env_init(&e, &replicaset_controller_def), 0);
	rss = test_lister(&e, &kind_replicaset);
	pods = test_lister(&e, &kind_pod);
	rs = rs_obj("web", "rs-1", 2);
	obj_set(rs, "spec.minReadySeconds", json_integer(30));
	put(rss, rs);
	put(pods, pod_obj("long-ready", "rs-1", "n1", now_s() - 100, now_s() - 200));
	p = pod_obj("just-ready", "rs-1", "n1", now_s() - 5, now_s() - 200);
	obj_set(p, "metadata.labels", json_pack("{s:s}", "app", "web"));  /* not all template labels */
	put(pods, p);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	req = fake_request(e.fc, "PATCH", "/status", 0);
	CHECK_INT(obj_int(req, "body.status.replicas", -1), 2);
	CHECK_INT(obj_int(req, "body.status.readyReplicas", -1), 2);
	CHECK_INT(obj_int(req, "body.status.availableReplicas", -1), 1);
	CHECK_INT(obj_int(req, "body.status.fullyLabeledReplicas", -1), 1);
	/* Ready but not yet available: the key comes back after minReadySeconds. */
	CHECK_INT(workqueue_delayed(e.c->queue), 1);

	/* Unchanged status: no write. */
	rs = json_deep_copy(lister_get(rss, "default/web"));
	obj_set(rs, "status", json_deep_copy(obj_get(req, "body.status")));
	fake_client_reset(e.fc);
	put(rss, rs);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "PATCH", NULL), 0);

	/* A deleted ReplicaSet: nothing to do. */
	lister_remove(rss, "default/web");
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, NULL, NULL), 0);
	CHECK_INT(test_env_release(&e), 0);
}

static void test_handlers_enqueue_owner(void)
{
	struct test_env e;
	struct lister *rss, *pods;
	json_t *p;

	CHECK_INT(test_env_init(&e, &replicaset_controller_def), 0);
	rss = test_lister(&e, &kind_replicaset);
	pods = test_lister(&e, &kind_pod);
	put(rss, rs_obj("web", "rs-1", 1));
	CHECK_INT(workqueue_len(e.c->queue), 1);
	workqueue_done(e.c->queue, workqueue_get(e.c->queue));
	/* A pod of the ReplicaSet changing readiness brings its key back. */
	put(pods, pod_obj("a", "rs-1", "n1", 0, now_s()));
	CHECK_INT(workqueue_len(e.c->queue), 1);
	workqueue_done(e.c->queue, workqueue_get(e.c->queue));
	/* A pod owned by someone else does not. */
	p = pod_obj("b", "rs-other", "n1", 0, now_s());
	put(pods, p);
	CHECK_INT(workqueue_len(e.c->queue), 0);
	/* An orphan that matches does. */
	put(pods, pod_obj("c", NULL, "n1", 0, now_s()));
	CHECK_INT(workqueue_len(e.c->queue), 1);
	CHECK_INT(test_env_release(&e), 0);
}

int main(void)
{
	test_creates_with_slow_start_and_expectations();
	test_create_failure();
	test_scale_down_order();
	test_terminating_replaced_and_orphans_adopted();
	test_status_and_min_ready();
	test_handlers_enqueue_owner();
	return test_done();
}
