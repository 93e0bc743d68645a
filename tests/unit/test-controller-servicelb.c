/*
 * The service load-balancer controller: a LoadBalancer Service gets the
 * InternalIPs of the Ready, schedulable nodes, sorted, in
 * status.loadBalancer.ingress; nothing is written when that is already so;
 * a node's change reaches every LoadBalancer Service; a Service that is no
 * longer a LoadBalancer loses its ingress; ClusterIP Services are left alone.
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

static json_t *node_obj(const char *name, const char *ip, const char *ready)
{
	json_t *n = test_obj("Node", "v1", NULL, name, name);

	obj_set(n, "status.addresses",
		json_pack("[{s:s, s:s}, {s:s, s:s}]", "type", "InternalIP", "address", ip, "type", "Hostname", "address",
			  name));
	obj_set(n, "status.conditions", json_pack("[{s:s, s:s}]", "type", "Ready", "status", ready));
	return n;
}

static json_t *svc_obj(const char *name, const char *type)
{
	json_t *s = test_obj("Service", "v1", "default", name, name);

	obj_set(s, "spec.type", json_string(type));
	return s;
}

static void test_ingress(void)
{
	struct test_env e;
	struct lister *svcs, *nodes;
	json_t *req, *s;

	CHECK_INT(test_env_init(&e, &servicelb_controller_def), 0);
	svcs = test_lister(&e, &kind_service);
	nodes = test_lister(&e, &kind_node);
	put(nodes, node_obj("n2", "10.0.0.12", "True"));
	put(nodes, node_obj("n1", "10.0.0.11", "True"));
	put(nodes, node_obj("n3", "10.0.0.13", "Unknown"));
	put(svcs, svc_obj("lb", "LoadBalancer"));
	put(svcs, svc_obj("plain", "ClusterIP"));

	CHECK_INT(controller_sync_key(e.c, "default/lb"), 0);
	req = fake_request(e.fc, "PATCH", "/services/lb/status", 0);
	CHECK(req != NULL);
	{
		char *got = json_dumps(obj_get(req, "body.status.loadBalancer.ingress"), JSON_COMPACT);
		CHECK_STR(got, "[{\"ip\":\"10.0.0.11\"},{\"ip\":\"10.0.0.12\"}]");
		free(got);
	}
	CHECK_INT(controller_sync_key(e.c, "default/plain"), 0);
	CHECK_INT(fake_count(e.fc, "PATCH", NULL), 1);

	/* Already so: no write. */
	fake_client_reset(e.fc);
	s = svc_obj("lb", "LoadBalancer");
	obj_set(s, "status.loadBalancer.ingress", json_pack("[{s:s}, {s:s}]", "ip", "10.0.0.11", "ip", "10.0.0.12"));
	put(svcs, s);
	CHECK_INT(controller_sync_key(e.c, "default/lb"), 0);
	CHECK_INT(fake_count(e.fc, "PATCH", NULL), 0);

	/* n3 becomes Ready: the LoadBalancer Service is queued (and only it),
	 * and gets three addresses. */
	while (workqueue_len(e.c->queue) > 0) {
		const char *k = workqueue_get(e.c->queue);
		workqueue_done(e.c->queue, k);
	}
	put(nodes, node_obj("n3", "10.0.0.13", "True"));
	CHECK_INT((long)workqueue_len(e.c->queue), 1);
	CHECK_STR(workqueue_get(e.c->queue), "default/lb");
	workqueue_done(e.c->queue, "default/lb");
	CHECK_INT(controller_sync_key(e.c, "default/lb"), 0);
	req = fake_request(e.fc, "PATCH", "/services/lb/status", 0);
	CHECK(req != NULL);
	CHECK_INT((long)json_array_size(obj_get(req, "body.status.loadBalancer.ingress")), 3);

	/* No longer a LoadBalancer: the ingress goes. */
	fake_client_reset(e.fc);
	s = svc_obj("lb", "ClusterIP");
	obj_set(s, "status.loadBalancer.ingress", json_pack("[{s:s}]", "ip", "10.0.0.11"));
	put(svcs, s);
	CHECK_INT(controller_sync_key(e.c, "default/lb"), 0);
	req = fake_request(e.fc, "PATCH", "/services/lb/status", 0);
	CHECK(req != NULL);
	CHECK_INT((long)json_array_size(obj_get(req, "body.status.loadBalancer.ingress")), 0);
	CHECK_INT(test_env_release(&e), 0);
}

int main(void)
{
	test_ingress();
	return test_done();
}
