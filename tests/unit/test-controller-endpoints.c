/*
 * The Endpoints controller's sync against hand-filled caches: which pods
 * become addresses or notReadyAddresses, named targetPorts resolved per
 * pod (pods with different numbers land in different subsets), no write
 * when nothing changed, publishNotReadyAddresses, Services without a
 * selector and default/kubernetes left alone, Endpoints of a deleted
 * Service deleted, and handlers enqueuing the Services of a changed pod.
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

static json_t *svc_obj(const char *name, bool with_selector)
{
	json_t *s = test_obj("Service", "v1", "default", name, "svc-uid");

	obj_set(s, "metadata.labels", json_pack("{s:s}", "team", "blue"));
	obj_set(s, "spec", json_pack("{s:s, s:[{s:s, s:i, s:s, s:s}]}", "clusterIP", "10.96.0.20", "ports", "name", "http",
				     "port", 80, "targetPort", "web", "protocol", "TCP"));
	if (with_selector)
		obj_set(s, "spec.selector", json_pack("{s:s}", "app", "web"));
	return s;
}

static json_t *pod_obj(const char *name, const char *ip, bool ready, int port)
{
	json_t *p = test_obj("Pod", "v1", "default", name, name);

	obj_set(p, "metadata.labels", json_pack("{s:s}", "app", "web"));
	obj_set(p, "spec", json_pack("{s:s, s:[{s:s, s:[{s:s, s:i}]}]}", "nodeName", "n1", "containers", "name", "c",
				     "ports", "name", "web", "containerPort", port));
	obj_set(p, "status", json_pack("{s:s, s:[{s:s, s:s}]}", "phase", "Running", "conditions", "type", "Ready",
				       "status", ready ? "True" : "False"));
	if (ip)
		obj_set(p, "status.podIP", json_string(ip));
	return p;
}

static json_t *written(struct fake_client *fc)
{
	json_t *r = fake_request(fc, "POST", "/endpoints", 0);

	if (!r)
		r = fake_request(fc, "PUT", "/endpoints/", 0);
	return obj_get(r, "body");
}

static void test_addresses(void)
{
	struct test_env e;
	struct lister *svcs, *pods, *eps;
	json_t *ep, *sub, *p, *stored;

	CHECK_INT(test_env_init(&e, &endpoints_controller_def), 0);
	svcs = test_lister(&e, &kind_service);
	pods = test_lister(&e, &kind_pod);
	eps = test_lister(&e, &kind_endpoints);
	put(svcs, svc_obj("web", true));
	put(pods, pod_obj("ready-b", "10.244.1.9", true, 8080));
	put(pods, pod_obj("ready-a", "10.244.1.3", true, 8080));
	put(pods, pod_obj("starting", "10.244.1.5", false, 8080));
	put(pods, pod_obj("no-ip", NULL, true, 8080));
	p = pod_obj("leaving", "10.244.1.7", true, 8080);
	obj_set(p, "metadata.deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
	put(pods, p);
	p = pod_obj("done", "10.244.1.8", false, 8080);
	obj_set(p, "status.phase", json_string("Succeeded"));
	put(pods, p);
	p = pod_obj("other", "10.244.1.10", true, 8080);
	obj_set(p, "metadata.labels", json_pack("{s:s}", "app", "db"));
	put(pods, p);

	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "POST", "/api/v1/namespaces/default/endpoints"), 1);
	ep = written(e.fc);
	CHECK_STR(obj_name(ep), "web");
	CHECK_STR(obj_str(ep, "metadata.labels.team"), "blue");
	CHECK_INT(json_array_size(obj_get(ep, "subsets")), 1);
	sub = json_array_get(obj_get(ep, "subsets"), 0);
	CHECK_INT(json_array_size(obj_get(sub, "addresses")), 2);
	/* Sorted by IP. */
	CHECK_STR(obj_str(json_array_get(obj_get(sub, "addresses"), 0), "ip"), "10.244.1.3");
	CHECK_STR(obj_str(json_array_get(obj_get(sub, "addresses"), 0), "targetRef.name"), "ready-a");
	CHECK_STR(obj_str(json_array_get(obj_get(sub, "addresses"), 0), "nodeName"), "n1");
	CHECK_INT(json_array_size(obj_get(sub, "notReadyAddresses")), 1);
	CHECK_STR(obj_str(json_array_get(obj_get(sub, "notReadyAddresses"), 0), "ip"), "10.244.1.5");
	CHECK_INT(obj_int(json_array_get(obj_get(sub, "ports"), 0), "port", 0), 8080);
	CHECK_STR(obj_str(json_array_get(obj_get(sub, "ports"), 0), "name"), "http");

	/* Stored as written: the next sync writes nothing. */
	stored = json_deep_copy(ep);
	obj_set(stored, "metadata.uid", json_string("ep-uid"));
	obj_set(stored, "metadata.resourceVersion", json_string("7"));
	put(eps, stored);
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, NULL, NULL), 0);

	/* A pod whose named port is another number: a second subset; update with resourceVersion. */
	put(pods, pod_obj("odd-port", "10.244.2.2", true, 9090));
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "PUT", "/endpoints/web"), 1);
	ep = written(e.fc);
	CHECK_STR(obj_str(ep, "metadata.resourceVersion"), "7");
	CHECK_INT(json_array_size(obj_get(ep, "subsets")), 2);

	/* publishNotReadyAddresses: every pod with an IP is an address. */
	p = svc_obj("web", true);
	obj_set(p, "spec.publishNotReadyAddresses", json_true());
	put(svcs, p);
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	ep = written(e.fc);
	{
		size_t n = 0, i;
		json_t *s;
		json_array_foreach(obj_get(ep, "subsets"), i, s) {
			n += json_array_size(obj_get(s, "addresses"));
			CHECK(obj_get(s, "notReadyAddresses") == NULL);
		}
		/* ready-a, ready-b, starting, odd-port, and the terminating one too. */
		CHECK_INT(n, 5);
	}

	/* The Service goes: so do its Endpoints. */
	lister_remove(svcs, "default/web");
	fake_client_reset(e.fc);
	CHECK_INT(controller_sync_key(e.c, "default/web"), 0);
	CHECK_INT(fake_count(e.fc, "DELETE", "/api/v1/namespaces/default/endpoints/web"), 1);
	CHECK_INT(test_env_release(&e), 0);
}

static void test_left_alone_and_handlers(void)
{
	struct test_env e;
	struct lister *svcs, *pods;
	json_t *p;

	CHECK_INT(test_env_init(&e, &endpoints_controller_def), 0);
	svcs = test_lister(&e, &kind_service);
	pods = test_lister(&e, &kind_pod);
	put(svcs, svc_obj("manual", false));
	p = svc_obj("kubernetes", false);
	put(svcs, p);
	CHECK_INT(controller_sync_key(e.c, "default/manual"), 0);
	CHECK_INT(controller_sync_key(e.c, "default/kubernetes"), 0);
	CHECK_INT(fake_count(e.fc, NULL, NULL), 0);

	/* A pod's readiness change wakes the Services that select it, and only those. */
	put(svcs, svc_obj("web", true));
	while (workqueue_len(e.c->queue))
		workqueue_done(e.c->queue, workqueue_get(e.c->queue));
	put(pods, pod_obj("a", "10.0.0.1", false, 80));
	CHECK_INT(workqueue_len(e.c->queue), 1);
	CHECK_STR(workqueue_get(e.c->queue), "default/web");
	workqueue_done(e.c->queue, "default/web");
	/* A status heartbeat that changes nothing the Endpoints show: no work. */
	p = pod_obj("a", "10.0.0.1", false, 80);
	obj_set(p, "metadata.resourceVersion", json_string("2"));
	obj_set(p, "status.startTime", json_string("2026-01-01T00:00:00Z"));
	put(pods, p);
	CHECK_INT(workqueue_len(e.c->queue), 0);
	put(pods, pod_obj("a", "10.0.0.1", true, 80));
	CHECK_INT(workqueue_len(e.c->queue), 1);
	CHECK_INT(test_env_release(&e), 0);
}

int main(void)
{
	test_addresses();
	test_left_alone_and_handlers();
	return test_done();
}
