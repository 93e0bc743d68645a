/*
 * The garbage collector's graph and decisions: a dependent whose owner is
 * gone (confirmed with a GET) is deleted in the background, and the absent
 * owner is remembered; one with a live owner is kept; one with a live and a
 * dead owner loses only the dead reference; foreground deletion waits for
 * blocking dependents, deletes them, then drops the finalizer; orphaning
 * strips the owner from dependents, then drops the finalizer; owners of a
 * kind minik8s does not serve are left alone.
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

static json_t *owned(json_t *o, const char *kind, const char *name, const char *uid, bool block)
{
	json_t *refs = obj_get(o, "metadata.ownerReferences");

	if (!refs) {
		refs = json_array();
		obj_set(o, "metadata.ownerReferences", refs);
	}
	json_array_append_new(refs, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion",
					      !strcmp(kind, "Pod") ? "v1" : "apps/v1", "kind", kind, "name", name, "uid",
					      uid, "controller", 1, "blockOwnerDeletion", block));
	return o;
}

static json_t *rs_obj(const char *name, const char *uid)
{
	return test_obj("ReplicaSet", "apps/v1", "default", name, uid);
}

static json_t *pod_obj(const char *name, const char *uid)
{
	return test_obj("Pod", "v1", "default", name, uid);
}

static void test_background(void)
{
	struct test_env e;
	struct lister *rss, *deps, *pods;
	json_t *req, *d;

	CHECK_INT(test_env_init(&e, &garbage_collector_controller_def), 0);
	rss = test_lister(&e, &kind_replicaset);
	deps = test_lister(&e, &kind_deployment);
	pods = test_lister(&e, &kind_pod);
	d = test_obj("Deployment", "apps/v1", "default", "web", "dep-1");
	put(deps, d);
	put(rss, owned(rs_obj("web-a", "rs-a"), "Deployment", "web", "dep-1", true));
	/* Its owner is in the graph: nothing queued, nothing to do. */
	CHECK_INT(workqueue_len(e.c->queue), 0);
	CHECK_INT(controller_sync_key(e.c, "rs-a"), 0);
	CHECK_INT(fake_count(e.fc, NULL, NULL), 0);

	/* The Deployment goes: its ReplicaSet is queued, the owner checked with a GET, then deleted. */
	lister_remove(deps, "default/web");
	CHECK_INT(workqueue_len(e.c->queue), 1);
	CHECK_INT(controller_sync_key(e.c, "rs-a"), 0);
	CHECK_INT(fake_count(e.fc, "GET", "/apis/apps/v1/namespaces/default/deployments/web"), 1);
	req = fake_request(e.fc, "DELETE", "/apis/apps/v1/namespaces/default/replicasets/web-a", 0);
	CHECK(req != NULL);
	CHECK_STR(obj_str(req, "body.propagationPolicy"), "Background");
	CHECK_STR(obj_str(req, "body.preconditions.uid"), "rs-a");

	/* Pods of a ReplicaSet that is gone: one GET for all of them. */
	put(pods, owned(pod_obj("p1", "pod-1"), "ReplicaSet", "gone", "rs-gone", true));
	put(pods, owned(pod_obj("p2", "pod-2"), "ReplicaSet", "gone", "rs-gone", true));
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "pod-1"), 0);
	CHECK_INT(controller_sync_key(e.c, "pod-2"), 0);
	CHECK_INT(fake_count(e.fc, "GET", NULL), 1);
	CHECK_INT(fake_count(e.fc, "DELETE", "/pods/"), 2);

	/* Same name, another uid: the owner we point at is gone all the same. */
	put(pods, owned(pod_obj("p3", "pod-3"), "ReplicaSet", "reborn", "rs-old", true));
	fake_client_reset(e.fc);
	{
		json_t *other = rs_obj("reborn", "rs-new");
		fake_client_rule(e.fc, "GET", "/replicasets/reborn", 200, other, NULL, 1);
		json_decref(other);
	}
	CHECK_INT(controller_sync_key(e.c, "pod-3"), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", "/pods/p3"), 1);

	/* The owner does exist (the cache was behind): keep it. */
	put(pods, owned(pod_obj("p4", "pod-4"), "ReplicaSet", "late", "rs-late", true));
	fake_client_reset(e.fc);
	{
		json_t *late = rs_obj("late", "rs-late");
		fake_client_rule(e.fc, "GET", "/replicasets/late", 200, late, NULL, 1);
		json_decref(late);
	}
	CHECK_INT(controller_sync_key(e.c, "pod-4"), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", NULL), 0);

	/* A kind minik8s does not serve: cannot tell, so keep. */
	put(pods, owned(pod_obj("p5", "pod-5"), "Job", "j", "job-1", true));
	{
		json_t *p = json_deep_copy(lister_get(pods, "default/p5"));
		obj_set(json_array_get(obj_get(p, "metadata.ownerReferences"), 0), "apiVersion", json_string("batch/v1"));
		put(pods, p);
	}
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "pod-5"), 0);
	CHECK_INT(fake_count(e.fc, NULL, NULL), 0);
	CHECK_INT(test_env_release(&e), 0);
}

static void test_some_owners_left(void)
{
	struct test_env e;
	struct lister *rss, *pods;
	json_t *p, *req;

	CHECK_INT(test_env_init(&e, &garbage_collector_controller_def), 0);
	rss = test_lister(&e, &kind_replicaset);
	pods = test_lister(&e, &kind_pod);
	put(rss, rs_obj("alive", "rs-alive"));
	p = owned(pod_obj("p", "pod-1"), "ReplicaSet", "alive", "rs-alive", true);
	owned(p, "ReplicaSet", "dead", "rs-dead", false);
	obj_set(json_array_get(obj_get(p, "metadata.ownerReferences"), 1), "controller", json_false());
	put(pods, p);
	CHECK_INT(controller_sync_key(e.c, "pod-1"), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", NULL), 0);
	req = fake_request(e.fc, "PATCH", "/pods/p", 0);
	CHECK(req != NULL);
	CHECK_INT(json_array_size(obj_get(req, "body.metadata.ownerReferences")), 1);
	CHECK_STR(obj_str(json_array_get(obj_get(req, "body.metadata.ownerReferences"), 0), "uid"), "rs-alive");
	CHECK_STR(obj_str(req, "body.metadata.resourceVersion"), "1");
	CHECK_INT(test_env_release(&e), 0);
}

static void test_foreground(void)
{
	struct test_env e;
	struct lister *rss, *pods;
	json_t *rs, *req;

	CHECK_INT(test_env_init(&e, &garbage_collector_controller_def), 0);
	rss = test_lister(&e, &kind_replicaset);
	pods = test_lister(&e, &kind_pod);
	put(pods, owned(pod_obj("p1", "pod-1"), "ReplicaSet", "web", "rs-1", true));
	put(pods, owned(pod_obj("p2", "pod-2"), "ReplicaSet", "web", "rs-1", false));
	rs = rs_obj("web", "rs-1");
	obj_set(rs, "metadata.deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
	obj_set(rs, "metadata.finalizers", json_pack("[s, s]", "foregroundDeletion", "example.com/keep"));
	put(rss, rs);
	/* Marked for foreground deletion: it is queued, and queues its dependents. */
	CHECK(workqueue_len(e.c->queue) >= 1);
	while (workqueue_len(e.c->queue))
		workqueue_done(e.c->queue, workqueue_get(e.c->queue));
	CHECK_INT(controller_sync_key(e.c, "rs-1"), 0);
	CHECK_INT(fake_count(e.fc, "PATCH", NULL), 0);   /* p1 blocks it */
	CHECK_INT(workqueue_len(e.c->queue), 2);
	/* The dependents see an owner waiting for them: deleted. */
	CHECK_INT(controller_sync_key(e.c, "pod-1"), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", "/pods/p1"), 1);
	/* Once the blocking one is gone, the owner loses the finalizer (only that one). */
	lister_remove(pods, "default/p1");
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "rs-1"), 0);
	req = fake_request(e.fc, "PATCH", "/replicasets/web", 0);
	CHECK(req != NULL);
	CHECK_INT(json_array_size(obj_get(req, "body.metadata.finalizers")), 1);
	CHECK_STR(json_string_value(json_array_get(obj_get(req, "body.metadata.finalizers"), 0)), "example.com/keep");
	CHECK_INT(test_env_release(&e), 0);
}

static void test_foreground_chain_unblocks(void)
{
	struct test_env e;
	struct lister *deps, *rss, *pods;
	json_t *d, *req;

	/* Deployment (foreground) -> ReplicaSet -> pod: the ReplicaSet is deleted in
	 * the foreground after its pod's blockOwnerDeletion is cleared. */
	CHECK_INT(test_env_init(&e, &garbage_collector_controller_def), 0);
	deps = test_lister(&e, &kind_deployment);
	rss = test_lister(&e, &kind_replicaset);
	pods = test_lister(&e, &kind_pod);
	d = test_obj("Deployment", "apps/v1", "default", "web", "dep-1");
	obj_set(d, "metadata.deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
	obj_set(d, "metadata.finalizers", json_pack("[s]", "foregroundDeletion"));
	put(deps, d);
	put(rss, owned(rs_obj("web-a", "rs-a"), "Deployment", "web", "dep-1", true));
	put(pods, owned(pod_obj("p", "pod-1"), "ReplicaSet", "web-a", "rs-a", true));
	CHECK_INT(controller_sync_key(e.c, "rs-a"), 0);
	req = fake_request(e.fc, "PATCH", "/pods/p", 0);
	CHECK(req != NULL);
	CHECK(!obj_bool(json_array_get(obj_get(req, "body.metadata.ownerReferences"), 0), "blockOwnerDeletion", true));
	req = fake_request(e.fc, "DELETE", "/replicasets/web-a", 0);
	CHECK(req != NULL);
	CHECK_STR(obj_str(req, "body.propagationPolicy"), "Foreground");
	CHECK_INT(test_env_release(&e), 0);
}

static void test_orphan(void)
{
	struct test_env e;
	struct lister *rss, *pods;
	json_t *rs, *req;

	CHECK_INT(test_env_init(&e, &garbage_collector_controller_def), 0);
	rss = test_lister(&e, &kind_replicaset);
	pods = test_lister(&e, &kind_pod);
	put(pods, owned(pod_obj("p1", "pod-1"), "ReplicaSet", "web", "rs-1", true));
	put(pods, owned(pod_obj("p2", "pod-2"), "ReplicaSet", "web", "rs-1", true));
	rs = rs_obj("web", "rs-1");
	obj_set(rs, "metadata.deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
	obj_set(rs, "metadata.finalizers", json_pack("[s]", "orphan"));
	put(rss, rs);
	CHECK_INT(controller_sync_key(e.c, "rs-1"), 0);
	CHECK_INT(fake_count(e.fc, "PATCH", "/pods/"), 2);
	req = fake_request(e.fc, "PATCH", "/pods/p1", 0);
	CHECK_INT(json_array_size(obj_get(req, "body.metadata.ownerReferences")), 0);
	req = fake_request(e.fc, "PATCH", "/replicasets/web", 0);
	CHECK(req != NULL);
	CHECK_INT(json_array_size(obj_get(req, "body.metadata.finalizers")), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", NULL), 0);
	/* If a dependent cannot be changed, the finalizer stays (and the key is retried). */
	fake_client_reset(e.fc);
	fake_client_rule(e.fc, "PATCH", "/pods/p2", 409, NULL, "conflict", 1);
	CHECK_INT(controller_sync_key(e.c, "rs-1"), -1);
	CHECK_INT(fake_count(e.fc, "PATCH", "/replicasets/web"), 0);
	CHECK_INT(test_env_release(&e), 0);
}

int main(void)
{
	test_background();
	test_some_owners_left();
	test_foreground();
	test_foreground_chain_unblocks();
	test_orphan();
	return test_done();
}
