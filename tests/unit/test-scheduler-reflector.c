/*
 * The reflector (src/scheduler/reflector.c) against the scripted HTTP
 * server of tests/unit/fake-apiserver.c: it lists, reports synced before
 * its list_end handler runs (the scheduler starts cycles from there), then
 * watches from the list's resourceVersion with the field selector, hands
 * over ADDED/MODIFIED/DELETED, relists after a 410 ERROR event, and closes
 * with the loop closing cleanly.
 */
#include "client/kubeconfig.h"
#include "client/rest.h"
#include "fake-apiserver.h"
#include "object.h"
#include "scheduler/reflector.h"
#include "testing.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t loop;
static struct reflector *refl;
static struct fake_conn *watch_conn;
static int lists, watches;
static char last_watch_target[2048];

/* What the handlers saw. */
static int list_begins, list_ends, list_items, events;
static bool synced_in_list_end;
static char seen[512];

static void run_until(bool (*cond)(void))
{
	uint64_t deadline = now_ms() + 5000;

	while (!cond() && now_ms() < deadline)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK(cond());
}

static void handler(struct fake_server *s, struct fake_req *req, void *data)
{
	(void)s;
	(void)data;
	if (!strstr(req->target, "watch=1")) {
		lists++;
		if (lists == 1)
			fake_respond(req, 200,
				     "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
				     "{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\",\"resourceVersion\":\"5\"}},"
				     "{\"metadata\":{\"name\":\"b\",\"namespace\":\"d\",\"resourceVersion\":\"7\"}}]}");
		else
			fake_respond(req, 200,
				     "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"20\"},\"items\":["
				     "{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\",\"resourceVersion\":\"19\"}}]}");
		return;
	}
	watches++;
	snprintf(last_watch_target, sizeof(last_watch_target), "%s", req->target);
	watch_conn = fake_stream_start(req);
}

static void on_list_begin(void *data)
{
	(void)data;
	list_begins++;
	strcat(seen, "[");
}

static void on_list_item(json_t *obj, void *data)
{
	(void)data;
	list_items++;
	strcat(seen, obj_name(obj));
}

static void on_list_end(void *data)
{
	(void)data;
	list_ends++;
	synced_in_list_end = reflector_synced(refl);
	strcat(seen, "]");
}

static void on_event(const char *type, json_t *obj, void *data)
{
	(void)data;
	events++;
	strncat(seen, type, 1);
	strcat(seen, obj_name(obj));
}

static bool watching(void)
{
	return watches >= 1 && watch_conn != NULL;
}

static bool three_events(void)
{
	return events >= 3;
}

static bool relisted_and_watching(void)
{
	return lists >= 2 && watches >= 2;
}

static bool closed;

static void on_closed(void *arg)
{
	(void)arg;
	closed = true;
}

static bool is_closed(void)
{
	return closed;
}

int main(void)
{
	struct reflector_handlers h = { on_list_begin, on_list_item, on_list_end, on_event, NULL };
	struct fake_server *srv;
	struct kubeconfig *kc;
	struct rest_client *c;
	char server[64];

	uv_loop_init(&loop);
	srv = fake_server_new(&loop, handler, NULL);
	snprintf(server, sizeof(server), "http://127.0.0.1:%d", fake_server_port(srv));
	kc = kubeconfig_new(server, "t");
	c = rest_client_new(&loop, kc);
	kubeconfig_free(kc);

	refl = reflector_new(c, "pods", "/api/v1/pods", "spec.nodeName!=", &h);
	CHECK(!reflector_synced(refl));
	reflector_start(refl);
	run_until(watching);
	CHECK_INT(list_begins, 1);
	CHECK_INT(list_items, 2);
	CHECK_INT(list_ends, 1);
	CHECK(synced_in_list_end);
	CHECK(reflector_synced(refl));
	/* The watch resumes from the list and keeps the selector. */
	CHECK(strstr(last_watch_target, "resourceVersion=10") != NULL);
	CHECK(strstr(last_watch_target, "fieldSelector=spec.nodeName%21%3D") != NULL);

	fake_stream_send(watch_conn, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\","
				     "\"resourceVersion\":\"11\"}}}\n"
				     "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"12\"}}}\n"
				     "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\","
				     "\"resourceVersion\":\"13\"}}}\n"
				     "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"b\",\"namespace\":\"d\","
				     "\"resourceVersion\":\"14\"}}}\n");
	run_until(three_events);
	CHECK_STR(seen, "[ab]AcMaDb");

	/* Expired: a fresh list, handed over whole, then a watch from its version. */
	fake_stream_send(watch_conn, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
				     "\"reason\":\"Expired\",\"message\":\"too old\"}}\n");
	run_until(relisted_and_watching);
	CHECK_STR(seen, "[ab]AcMaDb[c]");
	CHECK_INT(list_ends, 2);
	CHECK(strstr(last_watch_target, "resourceVersion=20") != NULL);

	reflector_close(refl, on_closed, NULL);
	run_until(is_closed);
	rest_client_close(c, NULL, NULL);
	fake_server_close(srv);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(uv_loop_close(&loop), 0);
	return test_done();
}
