/*
 * The informer's cache and event logic without a server: applying watch
 * events (add, update, delete, unchanged resourceVersion), replacing from a
 * list with the right add/update/delete calls after a relist, namespace
 * listing, and the informer's own handling of list bodies and events
 * (kinds filled in, resourceVersion tracking, 410 means relist, synced
 * callbacks, several handler sets, late handlers replayed, the factory).
 */
#include "client/informer-private.h"
#include "client/informer.h"
#include "client/kubeconfig.h"
#include "client/rest.h"
#include "object.h"
#include "testing.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Every emitted change as one line "ADDED default/a 1" or "UPDATED k 1->2". */
struct changes {
	struct strbuf log;
	struct informer_cache *cache;  /* to check the cache already changed */
	json_t *last_old, *last_new;
};

static json_t *obj(const char *ns, const char *name, const char *rv)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}}", "kind", "Pod", "apiVersion", "v1", "metadata",
			      "name", name, "resourceVersion", rv);
	if (ns)
		obj_set(o, "metadata.namespace", json_string(ns));
	return o;
}

static void on_emit(enum informer_change ch, json_t *old_obj, json_t *new_obj, void *data)
{
	struct changes *c = data;
	char *key = obj_key(new_obj ? new_obj : old_obj);

	switch (ch) {
	case INFORMER_ADDED:
		CHECK(old_obj == NULL);
		strbuf_addf(&c->log, "ADDED %s %s;", key, obj_str(new_obj, "metadata.resourceVersion"));
		CHECK(informer_cache_get(c->cache, key) == new_obj);
		break;
	case INFORMER_UPDATED:
		strbuf_addf(&c->log, "UPDATED %s %s->%s;", key, obj_str(old_obj, "metadata.resourceVersion"),
			    obj_str(new_obj, "metadata.resourceVersion"));
		CHECK(informer_cache_get(c->cache, key) == new_obj);
		break;
	case INFORMER_DELETED:
		CHECK(new_obj == NULL);
		strbuf_addf(&c->log, "DELETED %s %s;", key, obj_str(old_obj, "metadata.resourceVersion"));
		CHECK(informer_cache_get(c->cache, key) == NULL);
		break;
	}
	c->last_old = old_obj;
	c->last_new = new_obj;
	free(key);
}

static const char *take_log(struct changes *c)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "%s", c->log.buf);
	strbuf_reset(&c->log);
	return buf;
}

static int apply(struct informer_cache *cache, const char *type, json_t *o)
{
	int rc = informer_cache_apply(cache, type, o);
	json_decref(o);
	return rc;
}

static void test_apply_events(void)
{
	struct informer_cache cache;
	struct changes c = { .cache = &cache };
	json_t *a1, *a2;

	strbuf_init(&c.log, 256);
	informer_cache_init(&cache, on_emit, &c);

	a1 = obj("default", "a", "1");
	CHECK_INT(informer_cache_apply(&cache, "ADDED", a1), 1);
	CHECK_STR(take_log(&c), "ADDED default/a 1;");
	CHECK(informer_cache_get(&cache, "default/a") == a1);

	/* Same resourceVersion again: nothing, the old pointer stays. */
	CHECK_INT(apply(&cache, "MODIFIED", obj("default", "a", "1")), 0);
	CHECK_STR(take_log(&c), "");
	CHECK(informer_cache_get(&cache, "default/a") == a1);

	a2 = obj("default", "a", "2");
	CHECK_INT(informer_cache_apply(&cache, "MODIFIED", a2), 1);
	CHECK_STR(take_log(&c), "UPDATED default/a 1->2;");
	CHECK(c.last_old == a1);
	CHECK(c.last_new == a2);
	json_decref(a1);
	json_decref(a2);

	/* ADDED of a known key is an update; MODIFIED of an unknown key an add. */
	CHECK_INT(apply(&cache, "ADDED", obj("default", "a", "3")), 1);
	CHECK_INT(apply(&cache, "MODIFIED", obj("kube-system", "b", "4")), 1);
	CHECK_INT(apply(&cache, "ADDED", obj(NULL, "node-1", "5")), 1);
	CHECK_STR(take_log(&c), "UPDATED default/a 2->3;ADDED kube-system/b 4;ADDED node-1 5;");
	CHECK(informer_cache_get(&cache, "node-1") != NULL);

	/* DELETED hands out the cached state, not the event's object. */
	CHECK_INT(apply(&cache, "DELETED", obj("default", "a", "9")), 1);
	CHECK_STR(take_log(&c), "DELETED default/a 3;");
	CHECK(informer_cache_get(&cache, "default/a") == NULL);
	CHECK_INT(apply(&cache, "DELETED", obj("default", "zzz", "10")), 0);
	CHECK_STR(take_log(&c), "");

	/* Bad input. */
	CHECK_INT(apply(&cache, "BOGUS", obj("default", "q", "11")), -1);
	CHECK_INT(apply(&cache, "ADDED", json_pack("{s:{}}", "metadata")), -1);
	CHECK_INT(informer_cache_apply(&cache, "ADDED", NULL), -1);
	CHECK_STR(take_log(&c), "");
	CHECK_INT(json_object_size(cache.objects), 2);

	informer_cache_release(&cache);
	strbuf_release(&c.log);
}

static void test_replace_diff(void)
{
	struct informer_cache cache;
	struct changes c = { .cache = &cache };
	json_t *items, *a;

	strbuf_init(&c.log, 256);
	informer_cache_init(&cache, on_emit, &c);

	items = json_array();
	json_array_append_new(items, obj("default", "a", "1"));
	json_array_append_new(items, obj("default", "b", "2"));
	json_array_append_new(items, obj("other", "c", "3"));
	json_array_append_new(items, json_pack("{s:{s:s}}", "metadata", "namespace", "x")); /* no name */
	CHECK_INT(informer_cache_replace(&cache, items), 3);
	CHECK_STR(take_log(&c), "ADDED default/a 1;ADDED default/b 2;ADDED other/c 3;");
	a = informer_cache_get(&cache, "default/a");
	CHECK(a == json_array_get(items, 0));
	json_decref(items);
	/* The cache holds its own references. */
	CHECK_STR(obj_name(informer_cache_get(&cache, "default/b")), "b");

	/* After a 410: a unchanged, b changed, c gone, d new. */
	items = json_array();
	json_array_append_new(items, obj("default", "a", "1"));
	json_array_append_new(items, obj("default", "b", "5"));
	json_array_append_new(items, obj("default", "d", "6"));
	CHECK_INT(informer_cache_replace(&cache, items), 3);
	CHECK_STR(take_log(&c), "UPDATED default/b 2->5;ADDED default/d 6;DELETED other/c 3;");
	CHECK(informer_cache_get(&cache, "default/a") == a);  /* unchanged keeps the pointer */
	CHECK(json_object_get(cache.by_ns, "other") == NULL);
	CHECK_INT(json_object_size(json_object_get(cache.by_ns, "default")), 3);
	json_decref(items);

	/* Same list again: no calls. An empty list deletes everything. */
	items = json_array();
	json_array_append_new(items, obj("default", "a", "1"));
	json_array_append_new(items, obj("default", "b", "5"));
	json_array_append_new(items, obj("default", "d", "6"));
	CHECK_INT(informer_cache_replace(&cache, items), 0);
	CHECK_STR(take_log(&c), "");
	json_decref(items);
	items = json_array();
	CHECK_INT(informer_cache_replace(&cache, items), 3);
	CHECK_STR(take_log(&c), "DELETED default/a 1;DELETED default/b 5;DELETED default/d 6;");
	CHECK_INT(json_object_size(cache.objects), 0);
	CHECK_INT(json_object_size(cache.by_ns), 0);
	json_decref(items);

	informer_cache_release(&cache);
	strbuf_release(&c.log);
}

/* --- the informer on top of the cache ------------------------------------ */

struct handler_log {
	struct strbuf log;
	struct informer *inf;
	int synced;
};

static void h_add(json_t *o, void *data)
{
	struct handler_log *h = data;
	char *key = obj_key(o);

	strbuf_addf(&h->log, "add %s %s;", key, obj_kind(o) ? obj_kind(o) : "?");
	if (h->inf)
		CHECK(informer_get(h->inf, key) == o);
	free(key);
}

static void h_update(json_t *old_obj, json_t *new_obj, void *data)
{
	struct handler_log *h = data;
	char *key = obj_key(new_obj);

	strbuf_addf(&h->log, "update %s %s->%s;", key, obj_str(old_obj, "metadata.resourceVersion"),
		    obj_str(new_obj, "metadata.resourceVersion"));
	free(key);
}

static void h_delete(json_t *o, void *data)
{
	struct handler_log *h = data;
	char *key = obj_key(o);

	strbuf_addf(&h->log, "delete %s;", key);
	free(key);
}

static void on_synced(struct informer *inf, void *data)
{
	struct handler_log *h = data;

	h->synced++;
	CHECK(informer_has_synced(inf));
}

static const char *hlog(struct handler_log *h)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "%s", h->log.buf);
	strbuf_reset(&h->log);
	return buf;
}

static json_t *pod_list(const char *rv, const char *names)
{
	json_t *l = json_pack("{s:s, s:s, s:{s:s}, s:[]}", "kind", "PodList", "apiVersion", "v1",
			      "metadata", "resourceVersion", rv, "items");
	char *copy = xstrdup(names), *save = NULL, *tok;

	/* names: "ns/name@rv,..." */
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(tok, '/'), *at = strchr(tok, '@');
		json_t *o;
		*slash = *at = '\0';
		o = json_pack("{s:{s:s, s:s, s:s}}", "metadata", "namespace", tok, "name", slash + 1,
			      "resourceVersion", at + 1);
		json_array_append_new(json_object_get(l, "items"), o);
	}
	free(copy);
	return l;
}

static int closes;
static void count_close(void *arg)
{
	closes++;
}


/* Drops status.scratch, as a process that never reads it would. */
static void drop_scratch(json_t *o)
{
	obj_del(o, "status.scratch");
}

/* The cache interns what it holds: equal parts of different objects are one
 * value, the objects are still themselves, and a transform runs first. */
static void test_sharing_and_transform(void)
{
	struct informer_cache cache;
	struct changes c = { 0 };
	json_t *a, *b;

	strbuf_init(&c.log, 128);
	c.cache = &cache;
	informer_cache_init(&cache, on_emit, &c);
	cache.transform = drop_scratch;
	for (int i = 0; i < 2; i++) {
		json_t *o = obj("default", i ? "b" : "a", i ? "2" : "1");

		obj_set(o, "spec", json_pack("{s:[{s:s, s:s}]}", "containers", "name", "c", "image", "busybox"));
		obj_set(o, "status", json_pack("{s:s, s:s}", "phase", "Running", "scratch", i ? "y" : "x"));
		CHECK_INT(apply(&cache, "ADDED", o), 1);
	}
	a = informer_cache_get(&cache, "default/a");
	b = informer_cache_get(&cache, "default/b");
	CHECK(obj_get(a, "spec") == obj_get(b, "spec"));
	CHECK(obj_get(a, "status") == obj_get(b, "status"));   /* equal once scratch is gone */
	CHECK(obj_get(a, "status.scratch") == NULL);
	CHECK_STR(obj_name(a), "a");
	CHECK_STR(obj_name(b), "b");
	CHECK_STR(obj_str(b, "metadata.resourceVersion"), "2");
	/* The handlers got the cached (interned) objects. */
	CHECK(c.last_new == b);
	informer_cache_release(&cache);
	strbuf_release(&c.log);
}

static void test_informer_logic(uv_loop_t *loop, struct rest_client *client)
{
	static const struct rest_resource pods = { "", "v1", "pods", true };
	struct informer *inf = informer_new(client, &pods, NULL);
	struct handler_log h1 = { .inf = inf }, h2 = { .inf = inf }, late = { .inf = inf };
	struct informer_handlers hs1 = { h_add, h_update, h_delete, &h1 };
	struct informer_handlers hs2 = { h_add, NULL, h_delete, &h2 };
	struct informer_handlers hs3 = { h_add, h_update, h_delete, &late };
	json_t *l, *ev, *all;

	strbuf_init(&h1.log, 256);
	strbuf_init(&h2.log, 256);
	strbuf_init(&late.log, 256);
	informer_add_handlers(inf, &hs1);
	informer_add_handlers(inf, &hs2);
	informer_on_synced(inf, on_synced, &h1);
	CHECK(!informer_has_synced(inf));
	CHECK_STR(informer_resource_version(inf), "");
	CHECK_STR(informer_resource(inf)->plural, "pods");

	l = pod_list("10", "default/a@3,default/b@4,kube-system/dns@5");
	CHECK_INT(informer_apply_list(inf, l), 0);
	json_decref(l);
	CHECK(informer_has_synced(inf));
	CHECK_INT(h1.synced, 1);
	CHECK_STR(informer_resource_version(inf), "10");
	CHECK_STR(hlog(&h1), "add default/a Pod;add default/b Pod;add kube-system/dns Pod;");
	CHECK_STR(hlog(&h2), "add default/a Pod;add default/b Pod;add kube-system/dns Pod;");
	CHECK_STR(obj_str(informer_get(inf, "default/a"), "apiVersion"), "v1");
	CHECK_INT(informer_count(inf), 3);

	/* Synced already: the callback runs at once. */
	informer_on_synced(inf, on_synced, &h2);
	CHECK_INT(h2.synced, 1);

	/* A late handler sees what is there as adds. */
	informer_add_handlers(inf, &hs3);
	CHECK_STR(hlog(&late), "add default/a Pod;add default/b Pod;add kube-system/dns Pod;");

	all = informer_list(inf, "default");
	CHECK_INT(json_array_size(all), 2);
	CHECK(json_array_get(all, 0) == informer_get(inf, "default/a"));
	json_decref(all);
	all = informer_list(inf, NULL);
	CHECK_INT(json_array_size(all), 3);
	json_decref(all);
	all = informer_list(inf, "nowhere");
	CHECK_INT(json_array_size(all), 0);
	json_decref(all);

	/* Watch events move the resourceVersion. */
	ev = obj("default", "a", "11");
	CHECK_INT(informer_apply_event(inf, "MODIFIED", ev), 0);
	json_decref(ev);
	CHECK_STR(informer_resource_version(inf), "11");
	CHECK_STR(hlog(&h1), "update default/a 3->11;");
	CHECK_STR(hlog(&h2), "");  /* no on_update in that set */
	CHECK_STR(hlog(&late), "update default/a 3->11;");
	ev = json_pack("{s:s, s:{s:s}}", "kind", "Pod", "metadata", "resourceVersion", "15");
	CHECK_INT(informer_apply_event(inf, "BOOKMARK", ev), 0);
	json_decref(ev);
	CHECK_STR(informer_resource_version(inf), "15");
	CHECK_STR(hlog(&h1), "");
	ev = obj("default", "b", "16");
	CHECK_INT(informer_apply_event(inf, "DELETED", ev), 0);
	json_decref(ev);
	CHECK_STR(hlog(&h1), "delete default/b;");
	CHECK_STR(hlog(&h2), "delete default/b;");
	CHECK_STR(hlog(&late), "delete default/b;");
	CHECK_STR(informer_resource_version(inf), "16");

	/* 410 as an ERROR event: relist; another error: back off and rewatch. */
	ev = status_new(410, "Expired", "too old resource version: 5 (16)");
	CHECK_INT(informer_apply_event(inf, "ERROR", ev), 1);
	json_decref(ev);
	ev = status_new(500, "InternalError", "boom");
	CHECK_INT(informer_apply_event(inf, "ERROR", ev), -1);
	json_decref(ev);
	CHECK_STR(informer_resource_version(inf), "16");

	/* The relist: a changed, b still gone, dns gone, c new. */
	l = pod_list("30", "default/a@20,default/c@21");
	CHECK_INT(informer_apply_list(inf, l), 0);
	json_decref(l);
	CHECK_STR(hlog(&h1), "update default/a 11->20;add default/c Pod;delete kube-system/dns;");
	CHECK_STR(hlog(&late), "update default/a 11->20;add default/c Pod;delete kube-system/dns;");
	CHECK_STR(informer_resource_version(inf), "30");
	CHECK_INT(h1.synced, 1);  /* synced fires once */

	/* A list body without items is refused. */
	l = json_pack("{s:s}", "kind", "Status");
	CHECK_INT(informer_apply_list(inf, l), -1);
	json_decref(l);
	CHECK_INT(informer_count(inf), 2);

	informer_close(inf, count_close, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	CHECK_INT(closes, 1);
	strbuf_release(&h1.log);
	strbuf_release(&h2.log);
	strbuf_release(&late.log);
}

static int factory_synced;
static void on_factory_synced(void *data)
{
	factory_synced++;
	CHECK(data == &factory_synced);
}

static void test_factory(uv_loop_t *loop, struct rest_client *client)
{
	static const struct rest_resource pods = { "", "v1", "pods", true };
	static const struct rest_resource deps = { "apps", "v1", "deployments", true };
	struct informer_factory *f = informer_factory_new(client);
	struct informer_options mine = { .field_selector = "spec.nodeName=n1" };
	struct informer *p1, *p2, *d, *pn;
	json_t *l;

	p1 = informer_factory_get(f, &pods, NULL);
	p2 = informer_factory_get(f, &pods, NULL);
	d = informer_factory_get(f, &deps, NULL);
	pn = informer_factory_get(f, &pods, &mine);
	CHECK(p1 == p2);
	CHECK(p1 != d);
	CHECK(p1 != pn);
	CHECK(pn == informer_factory_get(f, &pods, &mine));
	CHECK_STR(informer_resource(d)->group, "apps");

	informer_factory_on_synced(f, on_factory_synced, &factory_synced);
	CHECK(!informer_factory_has_synced(f));
	l = pod_list("1", "default/a@1");
	informer_apply_list(p1, l);
	informer_apply_list(pn, l);
	json_decref(l);
	CHECK_INT(factory_synced, 0);
	l = json_pack("{s:s, s:s, s:{s:s}, s:[]}", "kind", "DeploymentList", "apiVersion", "apps/v1",
		      "metadata", "resourceVersion", "2", "items");
	informer_apply_list(d, l);
	json_decref(l);
	CHECK_INT(factory_synced, 1);
	CHECK(informer_factory_has_synced(f));

	closes = 0;
	informer_factory_close(f, count_close, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	CHECK_INT(closes, 1);
}

int main(void)
{
	uv_loop_t loop;
	struct kubeconfig *kc;
	struct rest_client *client;

	test_apply_events();
	test_replace_diff();
	test_sharing_and_transform();

	/* The informer needs a client and a loop, but makes no request unless started. */
	uv_loop_init(&loop);
	kc = kubeconfig_new("http://127.0.0.1:9", NULL);
	client = rest_client_new(&loop, kc);
	kubeconfig_free(kc);
	CHECK(client != NULL);
	test_informer_logic(&loop, client);
	test_factory(&loop, client);
	rest_client_close(client, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(uv_loop_close(&loop), 0);
	return test_done();
}
