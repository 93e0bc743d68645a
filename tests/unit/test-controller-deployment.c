/*
 * The Deployment controller's sync against hand-filled caches: the first
 * ReplicaSet (name, hash label, annotations, events, conditions), the
 * steps of a rolling update within maxSurge/maxUnavailable, completion and
 * revision history cleanup, rollback reusing the old ReplicaSet, scaling
 * (plain and proportional), Recreate waiting for old pods, pause, the
 * progress deadline, a hash collision and adoption of an orphan.
 */
#include "apiserver/kinds.h"
#include "controller-fake.h"
#include "object.h"
#include "testing.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define DEP_UID "dep-uid-1"

static json_t *dep_obj(int replicas, const char *image, int64_t generation)
{
	json_t *d = test_obj("Deployment", "apps/v1", "default", "web", DEP_UID);

	obj_set(d, "metadata.generation", json_integer(generation));
	obj_set(d, "spec",
		json_pack("{s:i, s:{s:{s:s}}, s:{s:s, s:{s:s, s:s}}, s:i, s:i, s:{s:{s:{s:s}}, s:{s:[{s:s, s:s}]}}}",
			  "replicas", replicas, "selector", "matchLabels", "app", "web", "strategy", "type", "RollingUpdate",
			  "rollingUpdate", "maxSurge", "25%", "maxUnavailable", "25%", "revisionHistoryLimit", 10,
			  "progressDeadlineSeconds", 600, "template", "metadata", "labels", "app", "web", "spec",
			  "containers", "name", "web", "image", image));
	return d;
}

static void put(struct lister *l, json_t *o)
{
	lister_put(l, o);
	json_decref(o);
}

/* The ReplicaSet the controller POSTed (i-th), as the apiserver would store it. */
static json_t *stored_rs(struct test_env *e, size_t i, const char *uid, int64_t age_s, int64_t replicas, int64_t available)
{
	json_t *req = fake_request(e->fc, "POST", "/replicasets", i);
	json_t *rs;
	char ts[TIME_RFC3339_LEN];

	if (!req)
		return NULL;
	rs = json_deep_copy(obj_get(req, "body"));
	obj_set(rs, "metadata.uid", json_string(uid));
	obj_set(rs, "metadata.resourceVersion", json_string("5"));
	obj_set(rs, "metadata.generation", json_integer(1));
	time_format_rfc3339((time_t)(fake_now_ms / 1000 - age_s), ts);
	obj_set(rs, "metadata.creationTimestamp", json_string(ts));
	obj_set(rs, "spec.replicas", json_integer(replicas));
	obj_set(rs, "status", json_pack("{s:I, s:I, s:I, s:i}", "replicas", (json_int_t)replicas, "readyReplicas",
					(json_int_t)available, "availableReplicas", (json_int_t)available,
					"observedGeneration", 1));
	return rs;
}

static json_t *with_replicas(const json_t *rs, int64_t replicas, int64_t available)
{
	json_t *c = json_deep_copy(rs);

	obj_set(c, "spec.replicas", json_integer(replicas));
	obj_set(c, "status.replicas", json_integer(replicas));
	obj_set(c, "status.readyReplicas", json_integer(available));
	obj_set(c, "status.availableReplicas", json_integer(available));
	return c;
}

static int64_t put_replicas(struct fake_client *fc, const char *rs_name)
{
	char part[128];
	json_t *req;
	size_t n;

	snprintf(part, sizeof(part), "/replicasets/%s", rs_name);
	n = fake_count(fc, "PUT", part);
	req = n ? fake_request(fc, "PUT", part, n - 1) : NULL;
	return req ? obj_int(req, "body.spec.replicas", -1) : -1;
}

static json_t *last_status(struct fake_client *fc)
{
	size_t n = fake_count(fc, "PATCH", "/deployments/web/status");
	return n ? obj_get(fake_request(fc, "PATCH", "/deployments/web/status", n - 1), "body.status") : NULL;
}

static const char *condition_reason(const json_t *status, const char *type)
{
	return obj_str(condition_get(status, type), "reason");
}

static void test_first_replicaset(void)
{
	struct test_env e, e2;
	struct lister *deps;
	json_t *req, *rs, *status;
	char want[128];
	const char *name, *hash;

	CHECK_INT(test_env_init(&e, &deployment_controller_def), 0);
	deps = test_lister(&e, &kind_deployment);
	put(deps, dep_obj(10, "web:v1", 1));
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "POST", "/apis/apps/v1/namespaces/default/replicasets"), 1);
	req = fake_request(e.fc, "POST", "/replicasets", 0);
	rs = obj_get(req, "body");
	name = obj_name(rs);
	hash = obj_str(rs, "metadata.labels.pod-template-hash");
	CHECK(hash && strlen(hash) >= 6);
	snprintf(want, sizeof(want), "web-%s", hash ? hash : "");
	CHECK_STR(name, want);
	CHECK_STR(obj_str(rs, "spec.template.metadata.labels.pod-template-hash"), hash);
	CHECK_STR(obj_str(rs, "spec.selector.matchLabels.pod-template-hash"), hash);
	CHECK_STR(obj_str(rs, "spec.selector.matchLabels.app"), "web");
	CHECK_INT(obj_int(rs, "spec.replicas", -1), 10);
	CHECK_STR(obj_annotation(rs, "deployment.kubernetes.io/revision"), "1");
	CHECK_STR(obj_annotation(rs, "deployment.kubernetes.io/desired-replicas"), "10");
	CHECK_STR(obj_annotation(rs, "deployment.kubernetes.io/max-replicas"), "13");
	CHECK_STR(obj_str(json_array_get(obj_get(rs, "metadata.ownerReferences"), 0), "uid"), DEP_UID);
	snprintf(want, sizeof(want), "Scaled up replica set %s to 10", name);
	CHECK_INT(fake_event_count(e.fc, "ScalingReplicaSet"), 1);
	CHECK_STR(fake_event_message(e.fc, "ScalingReplicaSet", 0), want);
	req = fake_request(e.fc, "PATCH", "/deployments/web", 0);
	CHECK_STR(obj_annotation(obj_get(req, "body"), "deployment.kubernetes.io/revision"), "1");
	status = last_status(e.fc);
	CHECK_STR(condition_reason(status, "Progressing"), "NewReplicaSetCreated");
	snprintf(want, sizeof(want), "Created new replica set \"%s\"", name);
	CHECK_STR(obj_str(condition_get(status, "Progressing"), "message"), want);
	CHECK_STR(condition_reason(status, "Available"), "MinimumReplicasUnavailable");
	CHECK_INT(obj_int(status, "observedGeneration", 0), 1);

	/* The hash is a function of the template: same template, same name; another, another. */
	CHECK_INT(test_env_init(&e2, &deployment_controller_def), 0);
	put(test_lister(&e2, &kind_deployment), dep_obj(3, "web:v1", 1));
	controller_sync_key(e2.c, "default/web");
	CHECK_STR(obj_name(obj_get(fake_request(e2.fc, "POST", "/replicasets", 0), "body")), name);
	put(test_lister(&e2, &kind_deployment), dep_obj(3, "web:v2", 2));
	fake_client_reset(e2.fc);
	controller_sync_key(e2.c, "default/web");
	CHECK(strcmp(obj_name(obj_get(fake_request(e2.fc, "POST", "/replicasets", 0), "body")), name) != 0);
	CHECK_INT(test_env_release(&e2), 0);
	CHECK_INT(test_env_release(&e), 0);
}

/* Sets up web at v1 with its ReplicaSet complete (10/10), returning the RS (new ref). */
static json_t *settled_v1(struct test_env *e)
{
	struct lister *deps = test_lister(e, &kind_deployment), *rss = test_lister(e, &kind_replicaset);
	json_t *rs, *d;

	put(deps, dep_obj(10, "web:v1", 1));
	controller_sync_key(e->c, "default/web");
	rs = stored_rs(e, 0, "rs-v1", 600, 10, 10);
	put(rss, json_incref(rs));
	d = dep_obj(10, "web:v1", 1);
	obj_set(d, "metadata.annotations", json_pack("{s:s}", "deployment.kubernetes.io/revision", "1"));
	obj_set(d, "status", json_pack("{s:i, s:i, s:i, s:i, s:i}", "observedGeneration", 1, "replicas", 10,
				       "updatedReplicas", 10, "readyReplicas", 10, "availableReplicas", 10));
	put(deps, d);
	fake_client_reset(e->fc);
	return rs;
}

static void test_rolling_update_steps(void)
{
	struct test_env e;
	struct lister *deps, *rss;
	json_t *v1, *v2, *d;
	char v1name[64], v2name[64], want[160];

	CHECK_INT(test_env_init(&e, &deployment_controller_def), 0);
	deps = test_lister(&e, &kind_deployment);
	rss = test_lister(&e, &kind_replicaset);
	v1 = settled_v1(&e);
	snprintf(v1name, sizeof(v1name), "%s", obj_name(v1));

	/* A settled Deployment: nothing to write. */
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "POST", NULL) + fake_count(e.fc, "PUT", NULL), 0);

	/* New template: a new ReplicaSet at maxSurge (3), the old one down by maxUnavailable (2). */
	d = dep_obj(10, "web:v2", 2);
	obj_set(d, "metadata.annotations", json_pack("{s:s}", "deployment.kubernetes.io/revision", "1"));
	obj_set(d, "status", json_deep_copy(obj_get(lister_get(deps, "default/web"), "status")));
	put(deps, d);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "POST", "/replicasets"), 1);
	v2 = stored_rs(&e, 0, "rs-v2", 1, 3, 0);
	snprintf(v2name, sizeof(v2name), "%s", obj_name(v2));
	CHECK_INT(obj_int(obj_get(fake_request(e.fc, "POST", "/replicasets", 0), "body"), "spec.replicas", -1), 3);
	CHECK_STR(obj_annotation(v2, "deployment.kubernetes.io/revision"), "2");
	CHECK_INT(put_replicas(e.fc, v1name), 8);
	snprintf(want, sizeof(want), "Scaled down replica set %s to 8 from 10", v1name);
	CHECK(fake_event_count(e.fc, "ScalingReplicaSet") == 2);
	CHECK(!strcmp(fake_event_message(e.fc, "ScalingReplicaSet", 0), want) ||
	      !strcmp(fake_event_message(e.fc, "ScalingReplicaSet", 1), want));

	/* Next step: v2 has 3 (none available), v1 8 available. v2 may grow to 5 (13 in all). */
	put(rss, with_replicas(v2, 3, 0));
	put(rss, with_replicas(v1, 8, 8));
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(put_replicas(e.fc, v2name), 5);
	CHECK_INT(put_replicas(e.fc, v1name), -1);

	/* v2 at 5 with 3 available: v1 may shrink by 3 (11 available, 8 needed). */
	put(rss, with_replicas(v2, 5, 3));
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(put_replicas(e.fc, v1name), 5);
	CHECK_INT(put_replicas(e.fc, v2name), -1);
	CHECK_INT(obj_int(last_status(e.fc), "updatedReplicas", -1), 5);
	CHECK_STR(condition_reason(last_status(e.fc), "Available"), "MinimumReplicasAvailable");

	/* Done: v2 10/10, v1 0. Status complete, and with revisionHistoryLimit 0 v1 goes. */
	put(rss, with_replicas(v2, 10, 10));
	put(rss, with_replicas(v1, 0, 0));
	d = json_deep_copy(lister_get(deps, "default/web"));
	obj_set(d, "spec.revisionHistoryLimit", json_integer(0));
	put(deps, d);
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	snprintf(want, sizeof(want), "ReplicaSet \"%s\" has successfully progressed.", v2name);
	CHECK_STR(condition_reason(last_status(e.fc), "Progressing"), "NewReplicaSetAvailable");
	CHECK_STR(obj_str(condition_get(last_status(e.fc), "Progressing"), "message"), want);
	CHECK_INT(obj_int(last_status(e.fc), "availableReplicas", -1), 10);
	/* Cleanup waits for the status to say complete (as Kubernetes checks d.Status). */
	CHECK_INT(fake_count(e.fc, "DELETE", NULL), 0);
	d = json_deep_copy(lister_get(deps, "default/web"));
	obj_set(d, "status", json_deep_copy(last_status(e.fc)));
	put(deps, d);
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	snprintf(want, sizeof(want), "/replicasets/%s", v1name);
	CHECK_INT(fake_count(e.fc, "DELETE", want), 1);
	json_decref(v1);
	json_decref(v2);
	CHECK_INT(test_env_release(&e), 0);
}

static void test_rollback_reuses_old_replicaset(void)
{
	struct test_env e;
	struct lister *deps, *rss;
	json_t *v1, *v2, *d, *req;
	char want[128];

	CHECK_INT(test_env_init(&e, &deployment_controller_def), 0);
	deps = test_lister(&e, &kind_deployment);
	rss = test_lister(&e, &kind_replicaset);
	v1 = settled_v1(&e);
	put(deps, dep_obj(10, "web:v2", 2));
	controller_sync_key(e.c, "default/web");
	v2 = stored_rs(&e, 0, "rs-v2", 300, 10, 10);
	put(rss, json_incref(v2));
	put(rss, with_replicas(v1, 0, 0));
	/* Undo: the template is v1's again. */
	d = dep_obj(10, "web:v1", 3);
	obj_set(d, "metadata.annotations", json_pack("{s:s}", "deployment.kubernetes.io/revision", "2"));
	put(deps, d);
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "POST", "/replicasets"), 0);
	snprintf(want, sizeof(want), "/replicasets/%s", obj_name(v1));
	req = fake_request(e.fc, "PUT", want, 0);
	CHECK(req != NULL);
	CHECK_STR(obj_annotation(obj_get(req, "body"), "deployment.kubernetes.io/revision"), "3");
	CHECK_STR(obj_annotation(obj_get(req, "body"), "deployment.kubernetes.io/revision-history"), "1");
	CHECK_INT(obj_int(req, "body.spec.replicas", -1), 3);
	req = fake_request(e.fc, "PATCH", "/deployments/web", 0);
	CHECK_STR(obj_annotation(obj_get(req, "body"), "deployment.kubernetes.io/revision"), "3");
	json_decref(v1);
	json_decref(v2);
	CHECK_INT(test_env_release(&e), 0);
}

static void test_scaling(void)
{
	struct test_env e;
	struct lister *deps, *rss;
	json_t *v1, *d, *a, *b;
	char want[128];

	CHECK_INT(test_env_init(&e, &deployment_controller_def), 0);
	deps = test_lister(&e, &kind_deployment);
	rss = test_lister(&e, &kind_replicaset);
	v1 = settled_v1(&e);
	/* Only spec.replicas changed: the one active ReplicaSet follows at once. */
	d = json_deep_copy(lister_get(deps, "default/web"));
	obj_set(d, "spec.replicas", json_integer(5));
	obj_set(d, "metadata.generation", json_integer(2));
	put(deps, d);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(put_replicas(e.fc, obj_name(v1)), 5);
	snprintf(want, sizeof(want), "Scaled down replica set %s to 5 from 10", obj_name(v1));
	CHECK_STR(fake_event_message(e.fc, "ScalingReplicaSet", 0), want);
	snprintf(want, sizeof(want), "/replicasets/%s", obj_name(v1));
	CHECK_STR(obj_annotation(obj_get(fake_request(e.fc, "PUT", want, 0), "body"),
				 "deployment.kubernetes.io/desired-replicas"), "5");

	/* Mid-rollout (two active ReplicaSets, 6 + 4 of max 13), scaled 10 -> 20:
	 * the 15 new replicas allowed (20 + 5 surge - 10) go in proportion. */
	a = with_replicas(v1, 6, 6);
	obj_set(a, "metadata.name", json_string("web-aaa"));
	obj_set(a, "metadata.uid", json_string("rs-a"));
	obj_set(a, "spec.template.spec.containers", json_pack("[{s:s, s:s}]", "name", "web", "image", "web:v0"));
	b = with_replicas(v1, 4, 4);
	put(rss, a);
	put(rss, b);
	d = json_deep_copy(lister_get(deps, "default/web"));
	obj_set(d, "spec.replicas", json_integer(20));
	put(deps, d);
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(put_replicas(e.fc, "web-aaa"), 17);
	CHECK_INT(put_replicas(e.fc, obj_name(v1)), 8);
	json_decref(v1);
	CHECK_INT(test_env_release(&e), 0);
}

static void test_recreate(void)
{
	struct test_env e;
	struct lister *deps, *rss, *pods;
	json_t *v1, *d, *pod;

	CHECK_INT(test_env_init(&e, &deployment_controller_def), 0);
	deps = test_lister(&e, &kind_deployment);
	rss = test_lister(&e, &kind_replicaset);
	pods = test_lister(&e, &kind_pod);
	v1 = settled_v1(&e);
	d = dep_obj(10, "web:v2", 2);
	obj_set(d, "spec.strategy", json_pack("{s:s}", "type", "Recreate"));
	put(deps, d);
	/* First the old ReplicaSet goes to zero; nothing new yet. */
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(put_replicas(e.fc, obj_name(v1)), 0);
	CHECK_INT(fake_count(e.fc, "POST", "/replicasets"), 0);
	/* At zero but a pod still runs: still nothing new. */
	put(rss, with_replicas(v1, 0, 0));
	pod = test_obj("Pod", "v1", "default", "old-pod", "p1");
	obj_set(pod, "metadata.ownerReferences", json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", "apps/v1", "kind",
							   "ReplicaSet", "name", obj_name(v1), "uid", "rs-v1", "controller", 1));
	obj_set(pod, "status.phase", json_string("Running"));
	put(pods, pod);
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "POST", "/replicasets"), 0);
	/* The pod is gone: the new ReplicaSet comes, at full size. */
	lister_remove(pods, "default/old-pod");
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "POST", "/replicasets"), 1);
	CHECK_INT(obj_int(fake_request(e.fc, "POST", "/replicasets", 0), "body.spec.replicas", -1), 10);
	json_decref(v1);
	CHECK_INT(test_env_release(&e), 0);
}

static void test_paused_and_deadline(void)
{
	struct test_env e;
	struct lister *deps, *rss;
	json_t *v1, *d, *v2;
	char ts[TIME_RFC3339_LEN];

	CHECK_INT(test_env_init(&e, &deployment_controller_def), 0);
	deps = test_lister(&e, &kind_deployment);
	rss = test_lister(&e, &kind_replicaset);
	v1 = settled_v1(&e);
	/* Paused: a template change does not roll; Progressing says why. */
	d = dep_obj(10, "web:v2", 2);
	obj_set(d, "spec.paused", json_true());
	put(deps, d);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "POST", "/replicasets"), 0);
	CHECK_STR(condition_reason(last_status(e.fc), "Progressing"), "DeploymentPaused");
	CHECK_STR(obj_str(condition_get(last_status(e.fc), "Progressing"), "status"), "Unknown");

	/* A rollout stuck past progressDeadlineSeconds: ProgressDeadlineExceeded. */
	d = dep_obj(10, "web:v2", 2);
	put(deps, d);
	fake_client_reset(e.fc);
	controller_sync_key(e.c, "default/web");
	v2 = stored_rs(&e, 0, "rs-v2", 1, 3, 0);
	put(rss, json_incref(v2));
	put(rss, with_replicas(v1, 8, 8));
	d = dep_obj(10, "web:v2", 2);
	obj_set(d, "spec.progressDeadlineSeconds", json_integer(60));
	time_format_rfc3339((time_t)(fake_now_ms / 1000 - 120), ts);
	obj_set(d, "status", json_pack("{s:i, s:i, s:i, s:i, s:i, s:[{s:s, s:s, s:s, s:s, s:s, s:s}]}", "observedGeneration", 2,
				       "replicas", 13, "updatedReplicas", 5, "readyReplicas", 8, "availableReplicas", 8,
				       "conditions", "type", "Progressing", "status", "True", "reason", "ReplicaSetUpdated",
				       "message", "x", "lastUpdateTime", ts, "lastTransitionTime", ts));
	put(deps, d);
	put(rss, with_replicas(v2, 5, 0));
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_STR(condition_reason(last_status(e.fc), "Progressing"), "ProgressDeadlineExceeded");
	CHECK_STR(obj_str(condition_get(last_status(e.fc), "Progressing"), "status"), "False");
	json_decref(v1);
	json_decref(v2);
	CHECK_INT(test_env_release(&e), 0);
}

static void test_collision_and_adoption(void)
{
	struct test_env e, e2;
	struct lister *deps, *rss;
	json_t *foreign, *req;
	char name[64];

	/* Learn the name the template hashes to. */
	CHECK_INT(test_env_init(&e2, &deployment_controller_def), 0);
	put(test_lister(&e2, &kind_deployment), dep_obj(3, "web:v1", 1));
	controller_sync_key(e2.c, "default/web");
	foreign = stored_rs(&e2, 0, "rs-foreign", 10, 1, 1);
	snprintf(name, sizeof(name), "%s", obj_name(foreign));
	CHECK_INT(test_env_release(&e2), 0);

	/* Someone else's ReplicaSet has that name: bump collisionCount and retry. */
	CHECK_INT(test_env_init(&e, &deployment_controller_def), 0);
	deps = test_lister(&e, &kind_deployment);
	rss = test_lister(&e, &kind_replicaset);
	obj_del(foreign, "metadata.ownerReferences");
	obj_set(foreign, "metadata.labels", json_pack("{s:s}", "app", "other"));
	obj_set(foreign, "spec.template.metadata.labels", json_pack("{s:s}", "app", "other"));
	put(rss, json_incref(foreign));
	put(deps, dep_obj(3, "web:v1", 1));
	CHECK_INT(controller_sync_key(e.c, "default/web"), -1);
	CHECK_INT(fake_count(e.fc, "POST", "/replicasets"), 0);
	CHECK_INT(obj_int(last_status(e.fc), "collisionCount", 0), 1);
	{
		json_t *d = dep_obj(3, "web:v1", 1);
		obj_set(d, "status.collisionCount", json_integer(1));
		put(deps, d);
	}
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	req = fake_request(e.fc, "POST", "/replicasets", 0);
	CHECK(req && strcmp(obj_name(obj_get(req, "body")), name) != 0);

	/* An orphan ReplicaSet the selector matches is adopted and used. */
	{
		char key[96];
		snprintf(key, sizeof(key), "default/%s", name);
		lister_remove(rss, key);
	}
	{
		json_t *orphan = json_deep_copy(obj_get(req, "body"));
		obj_set(orphan, "metadata.uid", json_string("rs-orphan"));
		obj_set(orphan, "metadata.resourceVersion", json_string("9"));
		obj_set(orphan, "metadata.creationTimestamp", json_string("2025-12-31T00:00:00Z"));
		obj_del(orphan, "metadata.ownerReferences");
		obj_set(orphan, "status", json_pack("{s:i, s:i, s:i}", "replicas", 3, "readyReplicas", 3, "availableReplicas", 3));
		put(rss, orphan);
	}
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "PATCH", "/replicasets/"), 1);
	CHECK_INT(fake_count(e.fc, "POST", "/replicasets"), 0);
	CHECK_INT(obj_int(last_status(e.fc), "availableReplicas", -1), 3);
	json_decref(foreign);
	CHECK_INT(test_env_release(&e), 0);
}

int main(void)
{
	test_first_replicaset();
	test_rolling_update_steps();
	test_rollback_reuses_old_replicaset();
	test_scaling();
	test_recreate();
	test_paused_and_deadline();
	test_collision_and_adoption();
	return test_done();
}
