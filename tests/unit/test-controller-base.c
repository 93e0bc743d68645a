/*
 * The controller machinery shared by every controller: the string map,
 * fake listers and their indexes and handlers, a sync's writes and
 * continuations (answered at once or later), the queue path with backoff
 * on failure, --controllers selection, condition and pod helpers, the
 * event recorder's dedupe, aggregation and spam filter, and adoption.
 */
#include "apiserver/kinds.h"
#include "controller-fake.h"
#include "object.h"
#include "selector.h"
#include "testing.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static void test_strmap(void)
{
	struct keymap *m = keymap_new();
	char key[32];
	size_t pos = 0, seen = 0;
	const char *k;
	void *v;

	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		CHECK(keymap_put(m, key, (void *)(intptr_t)(i + 1)) == NULL);
	}
	CHECK_INT(keymap_size(m), 1000);
	CHECK(keymap_get(m, "k500") == (void *)501);
	CHECK(keymap_put(m, "k500", (void *)7) == (void *)501);
	CHECK(keymap_del(m, "k1") == (void *)2);
	CHECK(keymap_get(m, "k1") == NULL);
	CHECK(keymap_del(m, "nope") == NULL);
	while (keymap_next(m, &pos, &k, &v))
		seen++;
	CHECK_INT(seen, 999);
	keymap_free(m, NULL);
}

static json_t *pod(const char *ns, const char *name, const char *uid, const char *owner_uid, const char *node)
{
	json_t *p = test_obj("Pod", "v1", ns, name, uid);

	if (owner_uid)
		obj_set(p, "metadata.ownerReferences",
			json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", "apps/v1", "kind", "ReplicaSet", "name", "rs",
				  "uid", owner_uid, "controller", 1));
	if (node)
		obj_set(p, "spec.nodeName", json_string(node));
	return p;
}

static int adds, updates, deletes;
static void h_add(json_t *o, void *d) { (void)o; (void)d; adds++; }
static void h_update(json_t *a, json_t *b, void *d) { (void)a; (void)b; (void)d; updates++; }
static void h_delete(json_t *o, void *d) { (void)o; (void)d; deletes++; }

static void test_lister_indexes(void)
{
	struct test_env e;
	struct lister *l;
	json_t *p, *arr;
	struct informer_handlers h = { h_add, h_update, h_delete, NULL };

	CHECK_INT(test_env_init(&e, NULL), 0);
	l = test_lister(&e, &kind_pod);
	CHECK(l == test_lister(&e, &kind_pod));  /* shared */
	CHECK(lister_has_index(l, "owner") && lister_has_index(l, "node"));
	lister_add_handlers(l, &h);
	lister_put(l, p = pod("default", "a", "ua", "rs-1", "n1"));
	json_decref(p);
	lister_put(l, p = pod("default", "b", "ub", "rs-1", NULL));
	json_decref(p);
	lister_put(l, p = pod("default", "c", "uc", NULL, "n1"));
	json_decref(p);
	lister_put(l, p = pod("other", "d", "ud", NULL, NULL));
	json_decref(p);
	CHECK_INT(adds, 4);
	CHECK_INT(lister_count(l), 4);
	CHECK(lister_get(l, "default/a") != NULL);
	CHECK(lister_get_ns(l, "default", "c") != NULL);
	CHECK(lister_get(l, "default/zz") == NULL);

	arr = lister_by_index(l, "owner", "rs-1");
	CHECK_INT(json_array_size(arr), 2);
	json_decref(arr);
	arr = lister_by_index(l, "owner", "orphan/default");
	CHECK_INT(json_array_size(arr), 1);
	json_decref(arr);
	arr = lister_by_index(l, "node", "n1");
	CHECK_INT(json_array_size(arr), 2);
	json_decref(arr);
	arr = lister_list(l, "default");
	CHECK_INT(json_array_size(arr), 3);
	json_decref(arr);

	/* Moving a pod to another owner moves it in the index. */
	lister_put(l, p = pod("default", "c", "uc", "rs-2", "n2"));
	json_decref(p);
	CHECK_INT(updates, 1);
	arr = lister_by_index(l, "owner", "orphan/default");
	CHECK_INT(json_array_size(arr), 0);
	json_decref(arr);
	arr = lister_by_index(l, "node", "n1");
	CHECK_INT(json_array_size(arr), 1);
	json_decref(arr);
	lister_remove(l, "default/a");
	CHECK_INT(deletes, 1);
	arr = lister_by_index(l, "owner", "rs-1");
	CHECK_INT(json_array_size(arr), 1);
	json_decref(arr);
	CHECK_INT(test_env_release(&e), 0);
}

/* ---- syncs ---------------------------------------------------------------------------- */

static int then_runs;

static void second_phase(struct sync *s)
{
	then_runs++;
	if (!sync_failed(s))
		sync_create(s, "/api/v1/namespaces/default/configmaps", NULL, NULL, NULL);
}

static int two_phase_sync(struct controller *c, const char *key, struct sync *s)
{
	(void)c;
	sync_update(s, "/api/v1/namespaces/default/configmaps/a", NULL, NULL, NULL);
	sync_update(s, "/api/v1/namespaces/default/configmaps/b", NULL, NULL, NULL);
	sync_then(s, second_phase);
	if (!strcmp(key, "bad"))
		return -1;
	return 0;
}

static int syncs_done, last_rc;

static void on_done(struct controller *c, const char *key, int rc, void *data)
{
	(void)c;
	(void)key;
	(void)data;
	syncs_done++;
	last_rc = rc;
}

static void test_sync_machinery(void)
{
	struct test_env e;
	struct controller c;

	CHECK_INT(test_env_init(&e, NULL), 0);
	controller_init(&c, &e.ctx, "test", 2, two_phase_sync, NULL);

	/* Answered at once: the continuation runs after both writes. */
	then_runs = 0;
	CHECK_INT(controller_sync_key(&c, "k"), 0);
	CHECK_INT(then_runs, 1);
	CHECK_INT(fake_count(e.fc, "PUT", NULL), 2);
	CHECK_INT(fake_count(e.fc, "POST", NULL), 1);

	/* A failing write fails the sync; the continuation sees it. */
	fake_client_reset(e.fc);
	fake_client_rule(e.fc, "PUT", "configmaps/b", 409, NULL, "conflict", 1);
	CHECK_INT(controller_sync_key(&c, "k"), -1);
	CHECK_INT(then_runs, 2);
	CHECK_INT(fake_count(e.fc, "POST", NULL), 0);

	/* Held answers: the sync waits, then finishes on flush. */
	fake_client_reset(e.fc);
	e.fc->hold = true;
	c.on_sync_done = on_done;
	syncs_done = 0;
	CHECK_INT(controller_sync_key(&c, "k"), 1);
	CHECK_INT(syncs_done, 0);
	CHECK_INT(fake_client_flush(e.fc), 2);   /* the two PUTs; the POST follows */
	CHECK_INT(syncs_done, 0);
	CHECK_INT(fake_client_flush(e.fc), 1);
	CHECK_INT(syncs_done, 1);
	CHECK_INT(last_rc, 0);
	e.fc->hold = false;

	/* sync returning -1 fails the key even when every write worked. */
	CHECK_INT(controller_sync_key(&c, "bad"), -1);

	/* Through the queue: a failed key comes back with backoff. */
	fake_client_reset(e.fc);
	syncs_done = 0;
	controller_run(&c);
	controller_enqueue(&c, "bad");
	while (syncs_done < 3)
		uv_run(&e.loop, UV_RUN_ONCE);
	CHECK(workqueue_num_requeues(c.queue, "bad") >= 2);
	controller_shutdown(&c, NULL, NULL);
	CHECK_INT(test_env_release(&e), 0);
}

/* ---- --controllers ------------------------------------------------------------------- */

static int index_of(const char *name)
{
	for (int i = 0; controller_defs[i]; i++)
		if (!strcmp(controller_defs[i]->name, name))
			return i;
	return -1;
}

static void test_select(void)
{
	bool on[16];
	char *star[] = { "*" };
	char *some[] = { "*", "-deployment", "-garbage-collector-controller" };
	char *only[] = { "replicaset" };
	char *bad[] = { "*", "-nope" };

	CHECK_INT(controller_select(NULL, 0, on), 0);
	for (int i = 0; controller_defs[i]; i++)
		CHECK(on[i]);
	CHECK_INT(controller_select(star, 1, on), 0);
	CHECK(on[index_of("endpoints-controller")]);
	CHECK_INT(controller_select(some, 3, on), 0);
	CHECK(!on[index_of("deployment-controller")]);
	CHECK(!on[index_of("garbage-collector-controller")]);
	CHECK(on[index_of("replicaset-controller")]);
	CHECK_INT(controller_select(only, 1, on), 0);
	CHECK(on[index_of("replicaset-controller")]);
	CHECK(!on[index_of("deployment-controller")]);
	CHECK_INT(controller_select(bad, 2, on), -1);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static void test_helpers(void)
{
	json_t *conds = json_array(), *p, *v;

	CHECK(condition_set(conds, "Ready", "True", "R", "m", "2026-01-01T00:00:00Z", false, false));
	CHECK(!condition_set(conds, "Ready", "True", "R", "m", "2026-01-01T00:01:00Z", false, false));
	CHECK(condition_set(conds, "Ready", "True", "R", "m2", "2026-01-01T00:02:00Z", false, false));
	/* Same status: the transition time stays. */
	CHECK_STR(obj_str(json_array_get(conds, 0), "lastTransitionTime"), "2026-01-01T00:00:00Z");
	CHECK(condition_set(conds, "Ready", "False", "R", "m2", "2026-01-01T00:03:00Z", false, false));
	CHECK_STR(obj_str(json_array_get(conds, 0), "lastTransitionTime"), "2026-01-01T00:03:00Z");
	/* keep_same: same status and reason is no change, whatever the message. */
	CHECK(!condition_set(conds, "Ready", "False", "R", "other", "2026-01-01T00:04:00Z", false, true));
	CHECK(condition_remove(conds, "Ready"));
	CHECK_INT(json_array_size(conds), 0);
	json_decref(conds);

	v = json_string("25%");
	CHECK_INT(int_or_percent(v, 10, true, 0), 3);
	CHECK_INT(int_or_percent(v, 10, false, 0), 2);
	json_decref(v);
	v = json_integer(4);
	CHECK_INT(int_or_percent(v, 10, true, 0), 4);
	json_decref(v);
	CHECK_INT(int_or_percent(NULL, 10, true, 9), 9);

	p = test_json("{\"metadata\":{\"name\":\"p\"},\"status\":{\"phase\":\"Running\",\"conditions\":"
		      "[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}}");
	CHECK(pod_is_ready(p));
	CHECK(pod_is_active(p));
	CHECK(pod_is_available(p, 0, 0));
	CHECK(!pod_is_available(p, 30, 1767225600 + 10));
	CHECK(pod_is_available(p, 30, 1767225600 + 30));
	obj_set(p, "status.phase", json_string("Failed"));
	CHECK(pod_is_terminal(p));
	CHECK(!pod_is_active(p));
	json_decref(p);

	{
		json_t *sel = test_json("{\"matchLabels\":{\"app\":\"web\"}}"), *lbl = test_json("{\"app\":\"web\",\"x\":\"y\"}");
		json_t *empty = json_object();
		CHECK(selector_matches_labels(sel, lbl, true));
		CHECK(!selector_matches_labels(empty, lbl, true));
		CHECK(selector_matches_labels(empty, lbl, false));
		json_decref(sel);
		json_decref(lbl);
		json_decref(empty);
	}
	{
		char *path = kind_path(&kind_replicaset, "ns", "web", "status");
		CHECK_STR(path, "/apis/apps/v1/namespaces/ns/replicasets/web/status");
		free(path);
		path = kind_path(&kind_node, "ignored", "n1", NULL);
		CHECK_STR(path, "/api/v1/nodes/n1");
		free(path);
	}
}

/* ---- events ---------------------------------------------------------------------------------- */

static void test_events(void)
{
	struct test_env e;
	struct event_recorder *r;
	json_t *rs = test_obj("ReplicaSet", "apps/v1", "default", "web-abc", "uid-rs");
	json_t *rec;
	char msg[64];

	CHECK_INT(test_env_init(&e, NULL), 0);
	r = controller_recorder(&e.ctx, "replicaset-controller");
	event_record(r, rs, "Normal", "SuccessfulCreate", "Created pod: %s", "web-abc-1");
	CHECK_INT(fake_event_count(e.fc, "SuccessfulCreate"), 1);
	rec = fake_request(e.fc, "POST", "/events", 0);
	CHECK_STR(obj_str(rec, "path"), "/api/v1/namespaces/default/events");
	CHECK_STR(obj_str(rec, "body.involvedObject.kind"), "ReplicaSet");
	CHECK_STR(obj_str(rec, "body.involvedObject.uid"), "uid-rs");
	CHECK_STR(obj_str(rec, "body.source.component"), "replicaset-controller");
	CHECK_STR(obj_str(rec, "body.type"), "Normal");
	CHECK_INT(obj_int(rec, "body.count", 0), 1);
	CHECK(str_has_prefix(obj_str(rec, "body.metadata.name"), "web-abc."));
	CHECK(obj_str(rec, "body.firstTimestamp") != NULL);

	/* The same event again: a PATCH of the count, no new Event. */
	event_record(r, rs, "Normal", "SuccessfulCreate", "Created pod: %s", "web-abc-1");
	CHECK_INT(fake_event_count(e.fc, "SuccessfulCreate"), 1);
	rec = fake_request(e.fc, "PATCH", "/events/", 0);
	CHECK(rec != NULL);
	CHECK_INT(obj_int(rec, "body.count", 0), 2);

	/* Different messages: 10 distinct, then combined. */
	for (int i = 2; i <= 12; i++) {
		snprintf(msg, sizeof(msg), "web-abc-%d", i);
		event_record(r, rs, "Normal", "SuccessfulCreate", "Created pod: %s", msg);
	}
	CHECK_INT(fake_event_count(e.fc, "SuccessfulCreate"), 11);
	CHECK(str_has_prefix(fake_event_message(e.fc, "SuccessfulCreate", 10), "(combined from similar events): "));

	/* The spam filter: 25 per object, then nothing for a while... */
	for (int i = 0; i < 40; i++)
		event_record(r, rs, "Warning", "FailedCreate", "Error creating: %d", i);
	CHECK(event_recorder_dropped(r) > 0);
	CHECK(fake_event_count(e.fc, "FailedCreate") <= 13);
	/* ...and one more every 5 minutes. */
	{
		size_t before = fake_count(e.fc, NULL, "/events");
		fake_now_ms += 301 * 1000;
		event_record(r, rs, "Warning", "FailedCreate", "Error creating: later");
		CHECK_INT(fake_count(e.fc, NULL, "/events"), before + 1);
	}
	/* A cluster-scoped object's events go to "default". */
	event_record_ref(r, "v1", "Node", NULL, "n1", "n1", "Normal", "RegisteredNode", "Node %s event: Registered", "n1");
	rec = fake_request(e.fc, "POST", "/events", fake_count(e.fc, "POST", "/events") - 1);
	CHECK_STR(obj_str(rec, "path"), "/api/v1/namespaces/default/events");
	CHECK(obj_get(rec, "body.involvedObject.namespace") == NULL);
	json_decref(rs);
	CHECK_INT(test_env_release(&e), 0);
}

/* ---- adoption -------------------------------------------------------------------------------- */

static int claim_sync(struct controller *c, const char *key, struct sync *s)
{
	json_t *owner = c->priv, *claimed = json_array();
	struct lister *pods = controller_lister(c->ctx, &kind_pod);
	json_t *cands = lister_list(pods, "default");
	struct label_selector *sel;
	char *err;

	(void)key;
	label_selector_from_json(obj_get(owner, "spec.selector"), &sel, &err);
	controller_claim(s, owner, "apps/v1", "ReplicaSet", &kind_pod, cands, sel, claimed);
	/* Answers came at once: owned+matching and adopted orphans. */
	CHECK_INT(json_array_size(claimed), 2);
	label_selector_free(sel);
	json_decref(cands);
	json_decref(claimed);
	return 0;
}

static void test_claim(void)
{
	struct test_env e;
	struct controller c;
	struct lister *l;
	json_t *owner = test_json("{\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"rs\",\"namespace\":\"default\","
				  "\"uid\":\"rs-1\"},\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\"}}}}");
	json_t *p, *req;

	CHECK_INT(test_env_init(&e, NULL), 0);
	l = test_lister(&e, &kind_pod);
	p = pod("default", "mine", "u1", "rs-1", NULL);          /* owned, matches */
	obj_set(p, "metadata.labels", json_pack("{s:s}", "app", "web"));
	lister_put(l, p);
	json_decref(p);
	p = pod("default", "orphan", "u2", NULL, NULL);          /* orphan, matches: adopt */
	obj_set(p, "metadata.labels", json_pack("{s:s}", "app", "web"));
	lister_put(l, p);
	json_decref(p);
	p = pod("default", "stray", "u3", "rs-1", NULL);         /* owned, no longer matches: release */
	obj_set(p, "metadata.labels", json_pack("{s:s}", "app", "db"));
	lister_put(l, p);
	json_decref(p);
	p = pod("default", "theirs", "u4", "rs-9", NULL);        /* someone else's */
	obj_set(p, "metadata.labels", json_pack("{s:s}", "app", "web"));
	lister_put(l, p);
	json_decref(p);

	controller_init(&c, &e.ctx, "claim", 1, claim_sync, owner);
	CHECK_INT(controller_sync_key(&c, "x"), 0);
	CHECK_INT(fake_count(e.fc, "PATCH", NULL), 2);
	req = fake_request(e.fc, "PATCH", "/pods/orphan", 0);
	CHECK(req != NULL);
	CHECK_STR(obj_str(json_array_get(obj_get(req, "body.metadata.ownerReferences"), 0), "uid"), "rs-1");
	CHECK(obj_bool(json_array_get(obj_get(req, "body.metadata.ownerReferences"), 0), "controller", false));
	CHECK_STR(obj_str(req, "body.metadata.resourceVersion"), "1");
	req = fake_request(e.fc, "PATCH", "/pods/stray", 0);
	CHECK(req != NULL);
	CHECK_INT(json_array_size(obj_get(req, "body.metadata.ownerReferences")), 0);
	CHECK(fake_request(e.fc, "PATCH", "/pods/theirs", 0) == NULL);
	controller_shutdown(&c, NULL, NULL);
	json_decref(owner);
	CHECK_INT(test_env_release(&e), 0);
}

int main(void)
{
	test_strmap();
	test_lister_indexes();
	test_sync_machinery();
	test_select();
	test_helpers();
	test_events();
	test_claim();
	return test_done();
}
