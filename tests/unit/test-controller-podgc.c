/*
 * The pod garbage collector: a pass force-deletes terminating pods that
 * were never scheduled and the oldest finished pods past the threshold,
 * and sets aside pods whose node is gone; such a pod, once the apiserver
 * confirms the node is gone, is marked Failed (DisruptionTarget) and
 * force-deleted; if the node exists after all, it is left alone.
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

static json_t *pod_obj(const char *name, const char *node, const char *phase, const char *created)
{
	json_t *p = test_obj("Pod", "v1", "default", name, name);

	if (node)
		obj_set(p, "spec.nodeName", json_string(node));
	obj_set(p, "status.phase", json_string(phase));
	obj_set(p, "metadata.creationTimestamp", json_string(created));
	return p;
}

static void test_pass(void)
{
	struct test_env e;
	struct lister *pods, *nodes;
	json_t *p, *req;

	CHECK_INT(test_env_init(&e, NULL), 0);
	e.opts.terminated_pod_gc_threshold = 2;
	e.def = &podgc_controller_def;
	CHECK_INT(e.def->init(&e.ctx, &e.state), 0);
	e.c = e.def->controller(e.state);
	pods = test_lister(&e, &kind_pod);
	nodes = test_lister(&e, &kind_node);
	put(nodes, test_obj("Node", "v1", NULL, "n1", "n1"));
	put(pods, pod_obj("running", "n1", "Running", "2026-01-01T00:00:00Z"));
	put(pods, pod_obj("done-1", "n1", "Succeeded", "2025-01-01T00:00:00Z"));
	put(pods, pod_obj("done-2", "n1", "Failed", "2025-02-01T00:00:00Z"));
	put(pods, pod_obj("done-3", "n1", "Succeeded", "2025-03-01T00:00:00Z"));
	put(pods, pod_obj("done-4", "n1", "Succeeded", "2025-04-01T00:00:00Z"));
	p = pod_obj("never-scheduled", NULL, "Pending", "2026-01-01T00:00:00Z");
	obj_set(p, "metadata.deletionTimestamp", json_string("2026-01-01T00:00:10Z"));
	put(pods, p);
	put(pods, pod_obj("orphaned", "gone-node", "Running", "2026-01-01T00:00:00Z"));

	CHECK_INT(controller_sync_key(e.c, "@pass"), 0);
	/* The two oldest finished pods, and the unscheduled terminating one, grace 0. */
	CHECK_INT(fake_count(e.fc, "DELETE", NULL), 3);
	req = fake_request(e.fc, "DELETE", "/pods/done-1", 0);
	CHECK(req != NULL);
	CHECK_INT(obj_int(req, "body.gracePeriodSeconds", -1), 0);
	CHECK(fake_request(e.fc, "DELETE", "/pods/done-2", 0) != NULL);
	CHECK(fake_request(e.fc, "DELETE", "/pods/never-scheduled", 0) != NULL);
	CHECK(fake_request(e.fc, "DELETE", "/pods/running", 0) == NULL);
	/* The pod on a missing node waits out the quarantine. */
	CHECK_INT(workqueue_delayed(e.c->queue), 1);
	CHECK(fake_request(e.fc, "DELETE", "/pods/orphaned", 0) == NULL);

	/* After it: the apiserver says the node is gone: Failed, then force-deleted. */
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/orphaned"), 0);
	CHECK_INT(fake_count(e.fc, "GET", "/api/v1/nodes/gone-node"), 1);
	req = fake_request(e.fc, "PATCH", "/pods/orphaned/status", 0);
	CHECK(req != NULL);
	CHECK_STR(obj_str(req, "body.status.phase"), "Failed");
	CHECK_STR(obj_str(condition_get(obj_get(req, "body"), "DisruptionTarget"), "reason"), "DeletionByPodGC");
	req = fake_request(e.fc, "DELETE", "/pods/orphaned", 0);
	CHECK(req != NULL);
	CHECK_INT(obj_int(req, "body.gracePeriodSeconds", -1), 0);

	/* The node exists after all (our cache was behind): leave the pod. */
	fake_client_reset(e.fc);
	{
		json_t *n = test_obj("Node", "v1", NULL, "gone-node", "x");
		fake_client_rule(e.fc, "GET", "/nodes/gone-node", 200, n, NULL, 1);
		json_decref(n);
	}
	CHECK_INT(controller_sync_key(e.c, "default/orphaned"), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", NULL) + fake_count(e.fc, "PATCH", NULL), 0);

	/* Deleting a node sets its pods aside for the quarantine at once. */
	put(pods, pod_obj("on-n1", "n1", "Running", "2026-01-01T00:00:00Z"));
	lister_remove(nodes, "n1");
	CHECK(workqueue_delayed(e.c->queue) >= 2);
	CHECK_INT(test_env_release(&e), 0);
}

int main(void)
{
	test_pass();
	return test_done();
}
