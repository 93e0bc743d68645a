/*
 * Node IPAM: distinct /24s from 10.244.0.0/16 in order, CIDRs already on
 * nodes taken at start, the same CIDR again while the cache lags, a
 * CIDRNotAvailable event when the range is used up, CIDRs coming back when
 * a node is deleted, bad flags refused, and --allocate-node-cidrs=false.
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

static json_t *node_obj(const char *name, const char *cidr)
{
	json_t *n = test_obj("Node", "v1", NULL, name, name);

	obj_set(n, "spec", json_object());
	if (cidr) {
		obj_set(n, "spec.podCIDR", json_string(cidr));
		obj_set(n, "spec.podCIDRs", json_pack("[s]", cidr));
	}
	return n;
}

static const char *assigned(struct fake_client *fc, const char *node)
{
	char part[64];
	json_t *req;

	snprintf(part, sizeof(part), "/api/v1/nodes/%s", node);
	req = fake_request(fc, "PATCH", part, 0);
	return req ? obj_str(req, "body.spec.podCIDR") : NULL;
}

static void start(struct test_env *e)
{
	e->def->start(e->state);
	/* Keys the handlers queued would run from the loop; the test syncs by hand. */
	while (workqueue_len(e->c->queue))
		workqueue_done(e->c->queue, workqueue_get(e->c->queue));
}

static void test_allocation(void)
{
	struct test_env e;
	struct lister *nodes;
	json_t *req;

	CHECK_INT(test_env_init(&e, &node_ipam_controller_def), 0);
	nodes = test_lister(&e, &kind_node);
	put(nodes, node_obj("old", "10.244.0.0/24"));
	put(nodes, node_obj("a", NULL));
	put(nodes, node_obj("b", NULL));
	start(&e);
	CHECK_INT(controller_sync_key(e.c, "a"), 0);
	CHECK_INT(controller_sync_key(e.c, "b"), 0);
	CHECK_STR(assigned(e.fc, "a"), "10.244.1.0/24");
	CHECK_STR(assigned(e.fc, "b"), "10.244.2.0/24");
	req = fake_request(e.fc, "PATCH", "/nodes/a", 0);
	CHECK_STR(json_string_value(json_array_get(obj_get(req, "body.spec.podCIDRs"), 0)), "10.244.1.0/24");
	/* The cache has not caught up: the same CIDR again, not a new one. */
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "a"), 0);
	CHECK_STR(assigned(e.fc, "a"), "10.244.1.0/24");
	/* Caught up: nothing to do. */
	put(nodes, node_obj("a", "10.244.1.0/24"));
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "a"), 0);
	CHECK_INT(fake_count(e.fc, NULL, NULL), 0);
	/* A failed write gives the CIDR back (the allocator moves on, as
	 * Kubernetes' does; test_exhaustion_and_release shows it reused). */
	fake_client_rule(e.fc, "PATCH", "/nodes/c", 500, NULL, "boom", 1);
	put(nodes, node_obj("c", NULL));
	CHECK_INT(controller_sync_key(e.c, "c"), -1);
	CHECK_INT(fake_event_count(e.fc, "CIDRAssignmentFailed"), 1);
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "c"), 0);
	CHECK_STR(assigned(e.fc, "c"), "10.244.4.0/24");
	CHECK_INT(test_env_release(&e), 0);
}

static void test_exhaustion_and_release(void)
{
	struct test_env e;
	struct lister *nodes;

	CHECK_INT(test_env_init(&e, NULL), 0);
	e.opts.cluster_cidr = "10.0.0.0/23";
	e.opts.node_cidr_mask_size = 24;
	e.def = &node_ipam_controller_def;
	CHECK_INT(e.def->init(&e.ctx, &e.state), 0);
	e.c = e.def->controller(e.state);
	nodes = test_lister(&e, &kind_node);
	put(nodes, node_obj("a", NULL));
	put(nodes, node_obj("b", NULL));
	put(nodes, node_obj("c", NULL));
	start(&e);
	CHECK_INT(controller_sync_key(e.c, "a"), 0);
	CHECK_INT(controller_sync_key(e.c, "b"), 0);
	CHECK_STR(assigned(e.fc, "a"), "10.0.0.0/24");
	CHECK_STR(assigned(e.fc, "b"), "10.0.1.0/24");
	CHECK_INT(controller_sync_key(e.c, "c"), -1);
	CHECK_INT(fake_event_count(e.fc, "CIDRNotAvailable"), 1);
	CHECK_STR(fake_event_message(e.fc, "CIDRNotAvailable", 0), "Node c status is now: CIDRNotAvailable");
	CHECK(assigned(e.fc, "c") == NULL);
	/* b is deleted: its CIDR goes to c. */
	lister_remove(nodes, "b");
	CHECK_INT(controller_sync_key(e.c, "b"), 0);
	CHECK_INT(controller_sync_key(e.c, "c"), 0);
	CHECK_STR(assigned(e.fc, "c"), "10.0.1.0/24");
	CHECK_INT(test_env_release(&e), 0);
}

static void test_flags(void)
{
	struct test_env e;
	void *state = (void *)1;

	CHECK_INT(test_env_init(&e, NULL), 0);
	e.opts.cluster_cidr = "10.244.0.0/16";
	e.opts.node_cidr_mask_size = 8;
	CHECK_INT(node_ipam_controller_def.init(&e.ctx, &state), -1);
	e.opts.node_cidr_mask_size = 24;
	e.opts.cluster_cidr = "10.0.0.0/4";
	CHECK_INT(node_ipam_controller_def.init(&e.ctx, &state), -1);
	e.opts.cluster_cidr = "not-a-cidr";
	CHECK_INT(node_ipam_controller_def.init(&e.ctx, &state), -1);
	e.opts.cluster_cidr = "10.244.0.0/16";
	e.opts.allocate_node_cidrs = false;
	CHECK_INT(node_ipam_controller_def.init(&e.ctx, &state), 0);
	CHECK(state == NULL);
	CHECK_INT(test_env_release(&e), 0);
}

int main(void)
{
	test_allocation();
	test_exhaustion_and_release();
	test_flags();
	return test_done();
}
