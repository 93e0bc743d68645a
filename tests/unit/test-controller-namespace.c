/*
 * The Namespace controller: a live namespace is left alone; a terminating
 * one gets a deletecollection per namespaced kind, then a list of each;
 * content left shows in its conditions (with the waiting time of graceful
 * pods) and the key comes back; a failing kind is reported; once empty,
 * PUT .../finalize drops only the "kubernetes" finalizer.
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

static json_t *ns_obj(const char *name, bool terminating)
{
	json_t *n = test_obj("Namespace", "v1", NULL, name, "ns-uid");

	obj_set(n, "spec.finalizers", json_pack("[s, s]", "example.com/other", "kubernetes"));
	obj_set(n, "status.phase", json_string(terminating ? "Terminating" : "Active"));
	if (terminating)
		obj_set(n, "metadata.deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
	return n;
}

/* The condition of a conditions array by type (borrowed), or NULL. */
static json_t *cond_of(const json_t *conds, const char *type)
{
	json_t *c;
	size_t i;

	json_array_foreach(conds, i, c)
		if (!strcmp(obj_str(c, "type"), type))
			return c;
	return NULL;
}

static size_t namespaced_kinds(void)
{
	size_t n = 0;

	for (size_t i = 0; kinds[i]; i++)
		n += kinds[i]->namespaced;
	return n;
}

static void test_namespace(void)
{
	struct test_env e;
	struct lister *nss;
	json_t *req, *list, *conds, *c;
	size_t i;

	CHECK_INT(test_env_init(&e, &namespace_controller_def), 0);
	nss = test_lister(&e, &kind_namespace);
	put(nss, ns_obj("live", false));
	CHECK_INT(workqueue_len(e.c->queue), 0);
	CHECK_INT(controller_sync_key(e.c, "live"), 0);
	CHECK_INT(fake_count(e.fc, NULL, NULL), 0);

	/* Terminating with a pod still stopping (grace 30 s) and a ConfigMap with a finalizer. */
	put(nss, ns_obj("doomed", true));
	CHECK_INT(workqueue_len(e.c->queue), 1);
	list = test_json("{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"name\":\"p\",\"deletionTimestamp\":\"x\","
			 "\"deletionGracePeriodSeconds\":30},\"status\":{\"phase\":\"Running\"}}]}");
	fake_client_rule(e.fc, "GET", "/api/v1/namespaces/doomed/pods", 200, list, NULL, -1);
	json_decref(list);
	list = test_json("{\"kind\":\"ConfigMapList\",\"items\":[{\"metadata\":{\"name\":\"c\",\"finalizers\":[\"example.com/hold\"]}}]}");
	fake_client_rule(e.fc, "GET", "/api/v1/namespaces/doomed/configmaps", 200, list, NULL, -1);
	json_decref(list);
	fake_client_rule(e.fc, "GET", "/namespaces/doomed/", 200, NULL, NULL, -1);  /* the rest: {} (no items) */
	CHECK_INT(controller_sync_key(e.c, "doomed"), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", "/namespaces/doomed/"), namespaced_kinds());
	CHECK(fake_request(e.fc, "DELETE", "/api/v1/namespaces/doomed/pods", 0) != NULL);
	CHECK(fake_request(e.fc, "DELETE", "/apis/apps/v1/namespaces/doomed/deployments", 0) != NULL);
	CHECK_INT(fake_count(e.fc, "GET", "/namespaces/doomed/"), namespaced_kinds());
	CHECK_INT(fake_count(e.fc, "PUT", "/finalize"), 0);
	req = fake_request(e.fc, "PATCH", "/api/v1/namespaces/doomed/status", 0);
	CHECK(req != NULL);
	conds = obj_get(req, "body.status.conditions");
	c = cond_of(conds, "NamespaceContentRemaining");
	CHECK_STR(obj_str(c, "reason"), "SomeResourcesRemain");
	CHECK(strstr(obj_str(c, "message"), "pods has 1 resource instances") != NULL);
	CHECK(strstr(obj_str(c, "message"), "configmaps has 1 resource instances") != NULL);
	json_array_foreach(conds, i, c) {
		if (!strcmp(obj_str(c, "type"), "NamespaceFinalizersRemaining"))
			CHECK(strstr(obj_str(c, "message"), "example.com/hold in 1 resource instances") != NULL);
		if (!strcmp(obj_str(c, "type"), "NamespaceDeletionContentFailure"))
			CHECK_STR(obj_str(c, "reason"), "ContentDeleted");
	}
	/* Waiting for the pod's grace period: back in (at most) 5 s. */
	CHECK_INT(workqueue_delayed(e.c->queue), 1);

	/* A kind that cannot be deleted: reported, and retried. */
	fake_client_reset(e.fc);
	fake_client_rule(e.fc, "DELETE", "/namespaces/doomed/secrets", 500, NULL, "etcd is sad", -1);
	fake_client_rule(e.fc, "GET", "/namespaces/doomed/", 200, NULL, NULL, -1);
	CHECK_INT(controller_sync_key(e.c, "doomed"), -1);
	CHECK_INT(fake_count(e.fc, "PUT", "/finalize"), 0);
	req = fake_request(e.fc, "PATCH", "/status", 0);
	c = cond_of(obj_get(req, "body.status.conditions"), "NamespaceDeletionContentFailure");
	CHECK_STR(obj_str(c, "reason"), "ContentDeletionFailed");

	/* Empty: finalize, keeping the other finalizer. */
	fake_client_reset(e.fc);
	fake_client_rule(e.fc, "GET", "/namespaces/doomed/", 200, NULL, NULL, -1);
	CHECK_INT(controller_sync_key(e.c, "doomed"), 0);
	req = fake_request(e.fc, "PUT", "/api/v1/namespaces/doomed/finalize", 0);
	CHECK(req != NULL);
	CHECK_INT(json_array_size(obj_get(req, "body.spec.finalizers")), 1);
	CHECK_STR(json_string_value(json_array_get(obj_get(req, "body.spec.finalizers"), 0)), "example.com/other");
	CHECK_INT(test_env_release(&e), 0);
}

int main(void)
{
	test_namespace();
	return test_done();
}
