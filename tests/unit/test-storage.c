/*
 * Tests for the store (src/apiserver/storage.c and storage_sqlite.c) against
 * a real SQLite file in a temporary directory: writes and their revisions,
 * preconditions inside one batch, unchanged updates, prefix lists over
 * thousands of keys, reopening, watches (backlog, live, expiry, stopping
 * inside callbacks, prefix filtering), an injected commit failure, and
 * durability of acknowledged writes across kill -9 of a writing process.
 */
#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apiserver/storage.h"
#include "apiserver/storage_backend.h"
#include "log.h"
#include "object.h"
#include "testing.h"
#include "util.h"

static uv_loop_t loop;
static char tmpdir[] = "/tmp/m8s-test-storage-XXXXXX";
static char *dbpath;   /* tmpdir/data/state.db: open must create data/ */

/* ---- helpers ------------------------------------------------------------ */

struct result {
	bool called;
	int status;
	bool unchanged;
	int64_t rv;      /* metadata.resourceVersion of the object handed back */
	json_t *obj;     /* deep copy of it, or NULL */
};

/* A version's text and tree must say the same thing, revision included. */
static void check_version(struct store_obj *o)
{
	size_t len;
	/* copied: the tree's parse may reuse a decompressed text's buffer */
	char *js = xstrdup(store_obj_json(o, &len));
	json_t *parsed = json_loadb(js, len, 0, NULL);
	const json_t *tree = store_obj_tree(o);
	char *printed = obj_dump(tree, NULL);

	CHECK(parsed != NULL);
	CHECK(json_equal(parsed, tree));
	CHECK_INT(obj_rv(parsed), store_obj_rv(o));
	CHECK_INT(strlen(js), len);
	CHECK_STR(printed, js);   /* the text is what printing the tree gives */
	free(printed);
	free(js);
	json_decref(parsed);
}

static void on_done(int status, struct store_obj *o, bool unchanged, void *data)
{
	struct result *r = data;
	const json_t *obj = NULL;

	if (o) {
		check_version(o);
		obj = store_obj_tree(o);
	}

	r->called = true;
	r->status = status;
	r->unchanged = unchanged;
	r->rv = obj ? obj_rv(obj) : -1;
	json_decref(r->obj);
	r->obj = obj ? json_deep_copy(obj) : NULL;
}

static void result_release(struct result *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(r[i].obj);
		r[i].obj = NULL;
	}
}

static void wait_for(struct result *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		while (!r[i].called)
			uv_run(&loop, UV_RUN_ONCE);
}

static size_t opt_tree_cache;   /* for open_store: 0 is the store's default */
static size_t opt_plain;        /* for open_store: plain_versions, 0 is the default */

static struct store *open_store(size_t window)
{
	struct store_options opt = { .path = dbpath, .watch_window = window, .tree_cache = opt_tree_cache,
				     .plain_versions = opt_plain };
	struct store *s = NULL;
	int err = store_open(&s, &loop, &opt);

	CHECK_INT(err, 0);
	if (!s) {
		fprintf(stderr, "cannot go on without a store\n");
		exit(1);
	}
	return s;
}

static void on_closed(void *data)
{
	*(bool *)data = true;
}

static void close_store(struct store *s)
{
	bool closed = false;

	store_close(s, on_closed, &closed);
	while (!closed)
		uv_run(&loop, UV_RUN_ONCE);
}

static json_t *cm(const char *name, const char *value)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
			 "metadata", "name", name, "namespace", "default", "data", "v", value);
}

static int sync_create(struct store *s, const char *key, json_t *obj, int64_t *rv)
{
	struct result r = { 0 };

	store_create(s, key, obj, on_done, &r);
	wait_for(&r, 1);
	if (rv)
		*rv = r.rv;
	result_release(&r, 1);
	return r.status;
}

static int sync_update(struct store *s, const char *key, json_t *obj, int64_t expect,
		       struct result *out)
{
	struct result r = { 0 };

	store_update(s, key, obj, expect, on_done, &r);
	wait_for(&r, 1);
	if (out)
		*out = r;
	else
		result_release(&r, 1);
	return r.status;
}

static int sync_delete(struct store *s, const char *key, int64_t expect, struct result *out)
{
	struct result r = { 0 };

	store_delete(s, key, expect, on_done, &r);
	wait_for(&r, 1);
	if (out)
		*out = r;
	else
		result_release(&r, 1);
	return r.status;
}

static const char *data_v(const json_t *o)
{
	return obj_str(o, "data.v");
}

/* Every event a watch saw, as text, so that tests compare sequences. */
struct recorder {
	struct strbuf log;
	int events;
	int64_t last_rv;
	bool in_order;
	const char *last_json;
	struct store_watch *w;
	int stop_after;          /* store_watch_stop on itself after this many events */
	struct store_watch **victim;  /* stopped on the first event */
};

static void recorder_init(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->log, 64);
	r->in_order = true;
}

static void on_event(const struct store_event *ev, void *data)
{
	static const char *names[] = { "ADDED", "MODIFIED", "DELETED" };
	struct recorder *r = data;
	const char *json = store_obj_json(ev->obj, NULL);

	/* The shared text is the object itself, revision included. */
	check_version(ev->obj);
	CHECK_INT(store_obj_rv(ev->obj), ev->rv);
	if (ev->type == STORE_ADDED)
		CHECK(ev->prev == NULL);
	else
		CHECK(ev->prev && store_obj_rv(ev->prev) < ev->rv && obj_rv(store_obj_tree(ev->prev)) < ev->rv);
	if (ev->rv <= r->last_rv)
		r->in_order = false;
	r->last_rv = ev->rv;
	r->last_json = json;
	r->events++;
	strbuf_addf(&r->log, "%s %s %lld;", names[ev->type], ev->key, (long long)ev->rv);
	if (r->victim && *r->victim) {
		store_watch_stop(*r->victim);
		*r->victim = NULL;
	}
	if (r->stop_after && r->events == r->stop_after && r->w) {
		store_watch_stop(r->w);
		r->w = NULL;
	}
}

/* ---- tests -------------------------------------------------------------- */

static void test_basic(void)
{
	struct store *s = open_store(0);
	struct result r = { 0 };
	json_t *mine;
	const json_t *got;
	int64_t rv;

	CHECK_INT(store_revision(s), 0);
	CHECK_INT(store_oldest_watchable(s), 1);
	CHECK(store_get(s, "/registry/configmaps/default/a") == NULL);

	CHECK_INT(sync_create(s, "/registry/configmaps/default/a", cm("a", "1"), &rv), 0);
	CHECK_INT(rv, 1);
	got = store_get(s, "/registry/configmaps/default/a");
	CHECK(got != NULL);
	CHECK_STR(obj_str(got, "metadata.resourceVersion"), "1");
	CHECK_STR(data_v(got), "1");
	CHECK_INT(store_revision(s), 1);

	CHECK_INT(sync_update(s, "/registry/configmaps/default/a", cm("a", "2"), 1, &r), 0);
	CHECK_INT(r.rv, 2);
	CHECK(!r.unchanged);
	CHECK_STR(data_v(r.obj), "2");
	result_release(&r, 1);
	CHECK_STR(data_v(store_get(s, "/registry/configmaps/default/a")), "2");

	/* A resourceVersion in the input is ignored; a caller's kept reference
	 * is not changed behind its back. */
	mine = cm("b", "x");
	obj_set_rv(mine, 999);
	CHECK_INT(sync_create(s, "/registry/configmaps/default/b", json_incref(mine), &rv), 0);
	CHECK_INT(rv, 3);
	CHECK_INT(obj_rv(mine), 999);
	got = store_get(s, "/registry/configmaps/default/b");
	CHECK(got != mine);
	CHECK_INT(obj_rv(got), 3);
	json_decref(mine);

	CHECK_INT(sync_delete(s, "/registry/configmaps/default/a", 0, &r), 0);
	CHECK_INT(r.rv, 4);
	CHECK_STR(data_v(r.obj), "2");
	result_release(&r, 1);
	CHECK(store_get(s, "/registry/configmaps/default/a") == NULL);
	CHECK_INT(store_revision(s), 4);
	CHECK_INT(store_count(s, ""), 1);
	CHECK_INT(store_count(s, "/registry/configmaps/"), 1);

	/* Simple failures, one at a time. */
	CHECK_INT(sync_delete(s, "/registry/configmaps/default/a", 0, NULL), STORE_ENOTFOUND);
	CHECK_INT(sync_update(s, "/registry/configmaps/default/a", cm("a", "3"), 0, NULL),
		  STORE_ENOTFOUND);
	CHECK_INT(sync_create(s, "/registry/configmaps/default/b", cm("b", "y"), &rv), STORE_EEXISTS);
	CHECK_INT(rv, 3);
	CHECK_INT(sync_update(s, "/registry/configmaps/default/b", cm("b", "y"), 2, &r), STORE_ECONFLICT);
	CHECK_INT(r.rv, 3);
	CHECK_STR(data_v(r.obj), "x");
	result_release(&r, 1);
	CHECK_INT(sync_delete(s, "/registry/configmaps/default/b", 2, NULL), STORE_ECONFLICT);
	CHECK_INT(store_revision(s), 4);

	/* Bad input completes with -EINVAL, and not inside the call. */
	memset(&r, 0, sizeof(r));
	store_create(s, "/registry/configmaps/default/c", json_string("no"), on_done, &r);
	CHECK(!r.called);
	wait_for(&r, 1);
	CHECK_INT(r.status, -EINVAL);
	memset(&r, 0, sizeof(r));
	store_create(s, "", cm("c", "1"), on_done, &r);
	wait_for(&r, 1);
	CHECK_INT(r.status, -EINVAL);
	CHECK_INT(store_revision(s), 4);
	close_store(s);
}

/* Several writes queued together land in one transaction; each checks its
 * own precondition (seeing the earlier ones) and failures stay local. */
static void test_batch_preconditions(void)
{
	struct store *s = open_store(0);
	int64_t base = store_revision(s);
	struct result r[8] = { { 0 } };
	uint64_t batches;

	store_debug_hold_writes(s, true);
	batches = store_debug_batches(s);
	store_create(s, "/registry/configmaps/ns/x", cm("x", "1"), on_done, &r[0]);
	store_create(s, "/registry/configmaps/ns/x", cm("x", "dup"), on_done, &r[1]);
	store_update(s, "/registry/configmaps/ns/missing", cm("missing", "1"), 0, on_done, &r[2]);
	store_update(s, "/registry/configmaps/ns/x", cm("x", "stale"), base + 7, on_done, &r[3]);
	store_update(s, "/registry/configmaps/ns/x", cm("x", "2"), base + 1, on_done, &r[4]);
	store_delete(s, "/registry/configmaps/ns/missing", 0, on_done, &r[5]);
	store_create(s, "/registry/configmaps/ns/y", cm("y", "1"), on_done, &r[6]);
	store_delete(s, "/registry/configmaps/ns/y", base + 3, on_done, &r[7]);
	for (int i = 0; i < 3; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	CHECK(!r[0].called);
	store_debug_hold_writes(s, false);
	wait_for(r, 8);
	CHECK_INT(store_debug_batches(s) - batches, 1);

	CHECK_INT(r[0].status, 0);
	CHECK_INT(r[0].rv, base + 1);
	CHECK_INT(r[1].status, STORE_EEXISTS);
	CHECK_INT(r[1].rv, base + 1);           /* the current object comes back */
	CHECK_STR(data_v(r[1].obj), "1");
	CHECK_INT(r[2].status, STORE_ENOTFOUND);
	CHECK(r[2].obj == NULL);
	CHECK_INT(r[3].status, STORE_ECONFLICT);
	CHECK_INT(r[4].status, 0);
	CHECK_INT(r[4].rv, base + 2);
	CHECK_INT(r[5].status, STORE_ENOTFOUND);
	CHECK_INT(r[6].status, 0);
	CHECK_INT(r[6].rv, base + 3);
	CHECK_INT(r[7].status, 0);
	CHECK_INT(r[7].rv, base + 4);
	CHECK_STR(data_v(r[7].obj), "1");
	CHECK_INT(store_revision(s), base + 4);
	CHECK_STR(data_v(store_get(s, "/registry/configmaps/ns/x")), "2");
	CHECK(store_get(s, "/registry/configmaps/ns/y") == NULL);
	result_release(r, 8);
	close_store(s);
}

static void test_unchanged(void)
{
	struct store *s = open_store(0);
	struct recorder rec;
	struct store_watch *w;
	struct result r = { 0 };
	int64_t rv, rev;
	json_t *same;

	CHECK_INT(sync_create(s, "/registry/configmaps/u/a", cm("a", "1"), &rv), 0);
	rev = store_revision(s);
	recorder_init(&rec);
	CHECK_INT(store_watch(s, "/registry/configmaps/u/", rev, on_event, &rec, &w), 0);

	/* A copy of the stored object, even with another resourceVersion,
	 * serialises to the same bytes. */
	same = json_deep_copy(store_get(s, "/registry/configmaps/u/a"));
	obj_set_rv(same, 12345);
	CHECK_INT(sync_update(s, "/registry/configmaps/u/a", same, 0, &r), 0);
	CHECK(r.unchanged);
	CHECK_INT(r.rv, rv);
	result_release(&r, 1);
	CHECK_INT(store_revision(s), rev);
	CHECK_INT(rec.events, 0);

	/* A stale revision is still a conflict, changed or not. */
	CHECK_INT(sync_update(s, "/registry/configmaps/u/a", cm("a", "1"), rv - 1, NULL), STORE_ECONFLICT);

	CHECK_INT(sync_update(s, "/registry/configmaps/u/a", cm("a", "2"), rv, &r), 0);
	CHECK(!r.unchanged);
	CHECK_INT(r.rv, rev + 1);
	result_release(&r, 1);
	CHECK_INT(rec.events, 1);
	CHECK_INT(store_revision(s), rev + 1);
	store_watch_stop(w);
	strbuf_release(&rec.log);
	close_store(s);
}

struct list_state {
	char last[128];
	int n;
	bool sorted;
	int stop_at;
};

static int on_list(const char *key, struct store_obj *o, void *data)
{
	struct list_state *st = data;

	if (st->n && strcmp(st->last, key) >= 0)
		st->sorted = false;
	if (!o || store_obj_rv(o) <= 0)
		st->sorted = false;
	snprintf(st->last, sizeof(st->last), "%s", key);
	st->n++;
	return st->stop_at && st->n == st->stop_at ? 42 : 0;
}

static void test_list(void)
{
	static const char *prefixes[] = { "/registry/pods/ns1/", "/registry/pods/ns10/",
					  "/registry/pods/ns2/", "/registry/services/ns1/" };
	struct store *s = open_store(0);
	int counts[4] = { 0 }, total = 4000;
	struct result *r = xcalloc((size_t)total, sizeof(*r));
	size_t before = store_count(s, "");
	struct list_state st;
	char key[128];

	for (int i = 0; i < total; i++) {
		int p = (int)(((unsigned)i * 2654435761u) >> 13) % 4;
		char name[32];

		/* Random order of creation; names unique by i. */
		snprintf(name, sizeof(name), "n%05d", (i * 7919) % total);
		snprintf(key, sizeof(key), "%s%s", prefixes[p], name);
		counts[p]++;
		store_create(s, key, cm(name, "v"), on_done, &r[i]);
	}
	wait_for(r, (size_t)total);
	for (int i = 0; i < total; i++)
		CHECK_INT(r[i].status, 0);
	result_release(r, (size_t)total);
	free(r);

	for (int p = 0; p < 4; p++) {
		memset(&st, 0, sizeof(st));
		st.sorted = true;
		CHECK_INT(store_list(s, prefixes[p], on_list, &st), 0);
		CHECK_INT(st.n, counts[p]);
		CHECK(st.sorted);
		CHECK_INT(store_count(s, prefixes[p]), counts[p]);
	}
	CHECK_INT(store_count(s, "/registry/pods/"), counts[0] + counts[1] + counts[2]);
	CHECK_INT(store_count(s, ""), before + (size_t)total);
	CHECK_INT(store_count(s, "/registry/nothing/"), 0);
	memset(&st, 0, sizeof(st));
	st.sorted = true;
	st.stop_at = 10;
	CHECK_INT(store_list(s, "/registry/pods/", on_list, &st), 42);
	CHECK_INT(st.n, 10);
	memset(&st, 0, sizeof(st));
	st.sorted = true;
	CHECK_INT(store_list(s, "", on_list, &st), 0);
	CHECK(st.sorted);
	CHECK_INT(st.n, before + (size_t)total);
	close_store(s);
}

static void test_reopen(void)
{
	struct store *s = open_store(0);
	int64_t rev = store_revision(s), rv;
	size_t count = store_count(s, "");
	struct list_state st;

	CHECK(rev > 0);
	CHECK(count > 4000);
	CHECK_INT(sync_create(s, "/registry/configmaps/re/a", cm("a", "before"), &rv), 0);
	CHECK_INT(rv, rev + 1);
	close_store(s);

	s = open_store(0);
	CHECK_INT(store_revision(s), rev + 1);
	CHECK_INT(store_count(s, ""), count + 1);
	CHECK_INT(obj_rv(store_get(s, "/registry/configmaps/re/a")), rev + 1);
	CHECK_STR(data_v(store_get(s, "/registry/configmaps/re/a")), "before");
	memset(&st, 0, sizeof(st));
	st.sorted = true;
	CHECK_INT(store_list(s, "/registry/", on_list, &st), 0);
	CHECK(st.sorted);
	CHECK_INT(st.n, count + 1);
	/* Revisions continue, never reused. */
	CHECK_INT(sync_update(s, "/registry/configmaps/re/a", cm("a", "after"), rev + 1, NULL), 0);
	CHECK_INT(obj_rv(store_get(s, "/registry/configmaps/re/a")), rev + 2);
	close_store(s);
}

static void test_watch(void)
{
	struct store *s = open_store(0);
	struct recorder rec, rec2, live;
	struct store_watch *w, *w2, *wl;
	int64_t base = store_revision(s), rv;
	struct result r[3] = { { 0 } };
	char want[512];

	/* After a restart the window is empty: the current revision works. */
	CHECK_INT(store_oldest_watchable(s), base + 1);
	recorder_init(&live);
	CHECK_INT(store_watch(s, "/registry/secrets/", base, on_event, &live, &wl), 0);
	CHECK_INT(live.events, 0);

	CHECK_INT(sync_create(s, "/registry/secrets/w/a", cm("a", "1"), &rv), 0);
	CHECK_INT(sync_update(s, "/registry/secrets/w/a", cm("a", "2"), 0, NULL), 0);
	CHECK_INT(sync_create(s, "/registry/configmaps/w/other", cm("other", "1"), NULL), 0);
	CHECK_INT(sync_delete(s, "/registry/secrets/w/a", 0, NULL), 0);
	snprintf(want, sizeof(want),
		 "ADDED /registry/secrets/w/a %lld;MODIFIED /registry/secrets/w/a %lld;"
		 "DELETED /registry/secrets/w/a %lld;",
		 (long long)base + 1, (long long)base + 2, (long long)base + 4);
	CHECK_STR(live.log.buf, want);

	/* Backlog from the middle, then live. */
	recorder_init(&rec);
	CHECK_INT(store_watch(s, "/registry/secrets/", base + 1, on_event, &rec, &w), 0);
	snprintf(want, sizeof(want),
		 "MODIFIED /registry/secrets/w/a %lld;DELETED /registry/secrets/w/a %lld;",
		 (long long)base + 2, (long long)base + 4);
	CHECK_STR(rec.log.buf, want);
	/* From the future: nothing until that revision passes. */
	recorder_init(&rec2);
	CHECK_INT(store_watch(s, "/registry/secrets/", base + 5, on_event, &rec2, &w2), 0);
	CHECK_INT(store_watch_count(s), 3);

	store_create(s, "/registry/secrets/w/b", cm("b", "1"), on_done, &r[0]);
	store_create(s, "/registry/secrets/w/c", cm("c", "1"), on_done, &r[1]);
	wait_for(r, 2);
	CHECK_INT(rec.events, 4);
	CHECK(rec.in_order);
	CHECK_INT(rec2.events, 1);
	CHECK_INT(rec2.last_rv, base + 6);
	/* One serialisation per event, shared by every watcher. */
	CHECK(rec.last_json == rec2.last_json);
	CHECK(rec.last_json == live.last_json);
	CHECK_INT(live.events, 5);

	store_watch_stop(w);
	store_watch_stop(w2);
	store_watch_stop(wl);
	CHECK_INT(store_watch_count(s), 0);
	strbuf_release(&rec.log);
	strbuf_release(&rec2.log);
	strbuf_release(&live.log);
	result_release(r, 3);
	close_store(s);
}

static void test_watch_expired(void)
{
	struct store *s = open_store(4);
	struct recorder rec;
	struct store_watch *w;
	int64_t base = store_revision(s), rev;

	for (int i = 0; i < 10; i++) {
		char key[64];

		snprintf(key, sizeof(key), "/registry/configmaps/exp/k%d", i);
		CHECK_INT(sync_create(s, key, cm("k", "v"), NULL), 0);
	}
	rev = store_revision(s);
	CHECK_INT(rev, base + 10);
	CHECK_INT(store_oldest_watchable(s), rev - 3);

	recorder_init(&rec);
	w = (struct store_watch *)&rec;
	CHECK_INT(store_watch(s, "/registry/", rev - 5, on_event, &rec, &w), STORE_EEXPIRED);
	CHECK(w == NULL);
	CHECK_INT(rec.events, 0);
	CHECK_INT(store_watch_count(s), 0);
	CHECK_INT(store_watch(s, "/registry/", rev - 4, on_event, &rec, &w), 0);
	CHECK_INT(rec.events, 4);
	store_watch_stop(w);
	close_store(s);

	/* After a restart, only the current revision (or later) can be watched. */
	s = open_store(4);
	CHECK_INT(store_oldest_watchable(s), rev + 1);
	CHECK_INT(store_watch(s, "/registry/", rev - 1, on_event, &rec, &w), STORE_EEXPIRED);
	CHECK_INT(store_watch(s, "/registry/", rev, on_event, &rec, &w), 0);
	CHECK_INT(rec.events, 4);
	CHECK_INT(sync_create(s, "/registry/configmaps/exp/new", cm("k", "v"), NULL), 0);
	CHECK_INT(rec.events, 5);
	/* A watch left open is freed by store_close (ASan checks). */
	close_store(s);
	strbuf_release(&rec.log);
}

static void test_watch_stop_in_callback(void)
{
	struct store *s = open_store(0);
	struct recorder self, killer, victim, many[100], backlog;
	struct store_watch *victim_w, *killer_w;
	int64_t base = store_revision(s);

	/* Stops itself on its first event. */
	recorder_init(&self);
	self.stop_after = 1;
	CHECK_INT(store_watch(s, "/registry/pods/", base, on_event, &self, &self.w), 0);
	/* Stops the watch registered after it, in the middle of the delivery. */
	recorder_init(&killer);
	recorder_init(&victim);
	CHECK_INT(store_watch(s, "/registry/pods/", base, on_event, &killer, &killer_w), 0);
	CHECK_INT(store_watch(s, "/registry/pods/", base, on_event, &victim, &victim_w), 0);
	killer.victim = &victim_w;
	for (int i = 0; i < 100; i++) {
		recorder_init(&many[i]);
		CHECK_INT(store_watch(s, "/registry/pods/", base, on_event, &many[i], &many[i].w), 0);
	}
	CHECK_INT(store_watch_count(s), 103);

	CHECK_INT(sync_create(s, "/registry/pods/d/p1", cm("p1", "1"), NULL), 0);
	CHECK_INT(sync_create(s, "/registry/pods/d/p2", cm("p2", "1"), NULL), 0);
	CHECK_INT(self.events, 1);
	CHECK(self.w == NULL);
	CHECK_INT(killer.events, 2);
	CHECK_INT(victim.events, 0);
	CHECK(victim_w == NULL);
	CHECK_INT(store_watch_count(s), 101);
	for (int i = 0; i < 100; i++) {
		CHECK_INT(many[i].events, 2);
		CHECK(many[i].last_json == killer.last_json);
		store_watch_stop(many[i].w);
		strbuf_release(&many[i].log);
	}

	/* Stopping itself during the backlog (it finds its watch through the
	 * out pointer, set before the backlog): store_watch hands back NULL. */
	recorder_init(&backlog);
	backlog.stop_after = 1;
	CHECK_INT(store_watch(s, "/registry/pods/", base, on_event, &backlog, &backlog.w), 0);
	CHECK_INT(backlog.events, 1);
	CHECK(backlog.w == NULL);
	CHECK_INT(store_watch_count(s), 1);

	store_watch_stop(killer_w);
	CHECK_INT(store_watch_count(s), 0);
	strbuf_release(&self.log);
	strbuf_release(&killer.log);
	strbuf_release(&victim.log);
	strbuf_release(&backlog.log);
	close_store(s);
}

static void test_watch_prefixes(void)
{
	static const char *prefixes[] = { "/registry/pods/a/", "/registry/pods/", "/registry/",
					  "/registry/pods", "", "/registry/services/" };
	static const int want[] = { 1, 2, 4, 3, 4, 1 };
	struct store *s = open_store(0);
	struct recorder rec[6];
	struct store_watch *w[6];
	int64_t base = store_revision(s);

	for (int i = 0; i < 6; i++) {
		recorder_init(&rec[i]);
		CHECK_INT(store_watch(s, prefixes[i], base, on_event, &rec[i], &w[i]), 0);
	}
	CHECK_INT(sync_create(s, "/registry/pods/a/x", cm("x", "1"), NULL), 0);
	CHECK_INT(sync_create(s, "/registry/pods/b/x", cm("x", "1"), NULL), 0);
	CHECK_INT(sync_create(s, "/registry/services/a/x", cm("x", "1"), NULL), 0);
	CHECK_INT(sync_create(s, "/registry/podsecuritypolicies/x", cm("x", "1"), NULL), 0);
	for (int i = 0; i < 6; i++) {
		CHECK_INT(rec[i].events, want[i]);
		CHECK(rec[i].in_order);
		store_watch_stop(w[i]);
		strbuf_release(&rec[i].log);
	}
	close_store(s);
}

static void test_fault_injection(void)
{
	struct store *s = open_store(0);
	struct result r[3] = { { 0 } };
	struct recorder rec;
	struct store_watch *w;
	int64_t rev, rv;

	CHECK_INT(sync_create(s, "/registry/configmaps/f/a", cm("a", "1"), NULL), 0);
	CHECK_INT(sync_create(s, "/registry/configmaps/f/c", cm("c", "1"), NULL), 0);
	rev = store_revision(s);
	recorder_init(&rec);
	CHECK_INT(store_watch(s, "/registry/configmaps/f/", rev, on_event, &rec, &w), 0);

	store_debug_fail_commit(s, 1);
	store_debug_hold_writes(s, true);
	store_create(s, "/registry/configmaps/f/b", cm("b", "1"), on_done, &r[0]);
	store_update(s, "/registry/configmaps/f/a", cm("a", "2"), 0, on_done, &r[1]);
	store_delete(s, "/registry/configmaps/f/c", 0, on_done, &r[2]);
	store_debug_hold_writes(s, false);
	wait_for(r, 3);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(r[i].status, STORE_EIO);
		CHECK(r[i].obj == NULL);
	}
	CHECK_INT(store_revision(s), rev);
	CHECK(store_get(s, "/registry/configmaps/f/b") == NULL);
	CHECK_STR(data_v(store_get(s, "/registry/configmaps/f/a")), "1");
	CHECK(store_get(s, "/registry/configmaps/f/c") != NULL);
	CHECK_INT(rec.events, 0);

	/* The revision counter went back: the next write takes rev + 1. */
	CHECK_INT(sync_create(s, "/registry/configmaps/f/d", cm("d", "1"), &rv), 0);
	CHECK_INT(rv, rev + 1);
	CHECK_INT(rec.events, 1);

	/* The second commit from now fails, the first does not. */
	store_debug_fail_commit(s, 2);
	CHECK_INT(sync_create(s, "/registry/configmaps/f/e", cm("e", "1"), &rv), 0);
	CHECK_INT(rv, rev + 2);
	CHECK_INT(sync_create(s, "/registry/configmaps/f/g", cm("g", "1"), NULL), STORE_EIO);
	CHECK_INT(sync_create(s, "/registry/configmaps/f/g", cm("g", "1"), &rv), 0);
	CHECK_INT(rv, rev + 3);
	store_watch_stop(w);
	strbuf_release(&rec.log);
	result_release(r, 3);
	close_store(s);

	s = open_store(0);
	CHECK_INT(store_revision(s), rev + 3);
	CHECK(store_get(s, "/registry/configmaps/f/b") == NULL);
	CHECK_STR(data_v(store_get(s, "/registry/configmaps/f/a")), "1");
	CHECK_INT(obj_rv(store_get(s, "/registry/configmaps/f/a")), rev - 1);
	CHECK(store_get(s, "/registry/configmaps/f/c") != NULL);
	CHECK_INT(obj_rv(store_get(s, "/registry/configmaps/f/d")), rev + 1);
	CHECK_INT(obj_rv(store_get(s, "/registry/configmaps/f/g")), rev + 3);
	close_store(s);
}

/* store_close finishes queued writes, refuses new ones and frees watches. */
static void test_close_with_pending(void)
{
	struct store *s = open_store(0);
	struct result r[20] = { { 0 } }, late = { 0 };
	struct recorder rec;
	struct store_watch *w;
	bool closed = false;
	int64_t rev = store_revision(s);

	recorder_init(&rec);
	CHECK_INT(store_watch(s, "/registry/", rev, on_event, &rec, &w), 0);
	for (int i = 0; i < 20; i++) {
		char key[64];

		snprintf(key, sizeof(key), "/registry/configmaps/close/k%02d", i);
		store_create(s, key, cm("k", "v"), on_done, &r[i]);
	}
	store_close(s, on_closed, &closed);
	store_create(s, "/registry/configmaps/close/late", cm("late", "v"), on_done, &late);
	while (!closed)
		uv_run(&loop, UV_RUN_ONCE);
	for (int i = 0; i < 20; i++) {
		CHECK(r[i].called);
		CHECK_INT(r[i].status, 0);
	}
	CHECK(late.called);
	CHECK_INT(late.status, STORE_EIO);
	CHECK_INT(rec.events, 0);
	strbuf_release(&rec.log);
	result_release(r, 20);

	s = open_store(0);
	CHECK_INT(store_revision(s), rev + 20);
	CHECK_INT(store_count(s, "/registry/configmaps/close/"), 20);
	close_store(s);
}

struct closer {
	struct store *s;
	bool closed;
	int calls;
};

static void on_done_close(int status, struct store_obj *obj, bool unchanged, void *data)
{
	struct closer *c = data;

	CHECK_INT(status, 0);
	if (c->calls++ == 0)
		store_close(c->s, on_closed, &c->closed);
}

/* store_close from inside a write's callback, with more of the batch to go. */
static void test_close_from_callback(void)
{
	struct closer c = { .s = open_store(0) };
	int64_t rev = store_revision(c.s);

	store_debug_hold_writes(c.s, true);
	for (int i = 0; i < 5; i++) {
		char key[64];

		snprintf(key, sizeof(key), "/registry/configmaps/cb/k%d", i);
		store_create(c.s, key, cm("k", "v"), on_done_close, &c);
	}
	store_debug_hold_writes(c.s, false);
	while (!c.closed)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_INT(c.calls, 5);
	c.s = open_store(0);
	CHECK_INT(store_revision(c.s), rev + 5);
	close_store(c.s);
}

static void test_bad_files(void)
{
	char *path = xasprintf("%s/bad.db", tmpdir), *saved = dbpath;
	struct store_options opt = { .path = path };
	struct store *s = (struct store *)&opt;
	sqlite3 *db;

	const char *junk = "this is not a database, not even close to one, but long enough to be read";

	CHECK_INT(write_file_atomic(path, junk, strlen(junk), 0600), 0);
	CHECK(store_open(&s, &loop, &opt) < 0);
	CHECK(s == NULL);
	unlink(path);

	/* A file written by a future minik8s is refused, not guessed at. */
	dbpath = path;
	s = open_store(0);
	CHECK_INT(sync_create(s, "/registry/a/b", cm("b", "1"), NULL), 0);
	close_store(s);
	CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "UPDATE meta SET value=99 WHERE key='schema_version'",
			       NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = (struct store *)&opt;
	CHECK(store_open(&s, &loop, &opt) < 0);
	CHECK(s == NULL);

	/* So is a row that is not a JSON object. */
	CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "UPDATE meta SET value=1 WHERE key='schema_version';"
			       "INSERT INTO kv VALUES('/registry/a/c', 2, 2, '{broken');",
			       NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = (struct store *)&opt;
	CHECK_INT(store_open(&s, &loop, &opt), -EPROTO);
	CHECK(s == NULL);
	dbpath = saved;
	free(path);
}

/* ---- kill -9 ------------------------------------------------------------ */

struct child {
	struct store *s;
	int fd;
	int next;
	uint64_t deadline;
};

static void child_create(struct child *c);

static void child_done(int status, struct store_obj *obj, bool unchanged, void *data)
{
	struct child *c = *(struct child **)data;
	const char *key = (const char *)data + sizeof(struct child *);
	char line[160];
	int n;

	if (status == 0) {
		/* One write(2) per line: atomic on a pipe. */
		n = snprintf(line, sizeof(line), "%s %lld\n", key, (long long)store_obj_rv(obj));
		if (write(c->fd, line, (size_t)n) != n)
			_exit(3);
	}
	free(data);
	if (now_ms() > c->deadline)
		_exit(0);
	child_create(c);
}

static void child_create(struct child *c)
{
	char key[96];
	size_t klen;
	char *data;
	json_t *obj;

	snprintf(key, sizeof(key), "/registry/configmaps/kill/k%07d", c->next);
	klen = strlen(key);
	data = xmalloc(sizeof(c) + klen + 1);
	memcpy(data, &c, sizeof(c));
	memcpy(data + sizeof(c), key, klen + 1);
	obj = cm(key + strlen("/registry/configmaps/kill/"), "some payload to make the rows less tiny");
	c->next++;
	store_create(c->s, key, obj, child_done, data);
}

static NORETURN void child_main(int fd)
{
	struct store_options opt = { .path = dbpath };
	struct child c = { .fd = fd, .deadline = now_ms() + 20000 };
	uv_loop_t l;

	uv_loop_init(&l);
	if (store_open(&c.s, &l, &opt))
		_exit(2);
	for (int i = 0; i < 64; i++)
		child_create(&c);
	uv_run(&l, UV_RUN_DEFAULT);
	_exit(4);
}

static void test_kill9(void)
{
	int fds[2], status, target, acked = 0, cap = 1024;
	char (*keys)[96] = xmalloc((size_t)cap * sizeof(*keys));
	int64_t max_rv = 0, *rvs = xmalloc((size_t)cap * sizeof(*rvs));
	char line[256];
	struct store *s;
	FILE *in;
	pid_t pid;

	CHECK_INT(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child_main(fds[1]);
	}
	CHECK(pid > 0);
	close(fds[1]);
	in = fdopen(fds[0], "r");
	target = 50 + rand() % 1500;
	while (fgets(line, sizeof(line), in)) {
		char key[96];
		long long rv;

		if (sscanf(line, "%95s %lld", key, &rv) != 2) {
			CHECK(!"malformed line from the child");
			break;
		}
		if (acked == cap) {
			cap *= 2;
			keys = xrealloc(keys, (size_t)cap * sizeof(*keys));
			rvs = xrealloc(rvs, (size_t)cap * sizeof(*rvs));
		}
		memcpy(keys[acked], key, sizeof(key));
		rvs[acked] = rv;
		if (rv > max_rv)
			max_rv = rv;
		/* At a random moment after target acknowledgements: kill -9. The
		 * acknowledgements already in the pipe count too. */
		if (++acked == target) {
			usleep((useconds_t)(rand() % 3000));
			kill(pid, SIGKILL);
		}
	}
	fclose(in);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(acked >= target);
	fprintf(stderr, "kill -9 after %d acknowledged creates (max rv %lld)\n", acked, (long long)max_rv);

	s = open_store(0);
	CHECK(store_revision(s) >= max_rv);
	for (int i = 0; i < acked; i++) {
		const json_t *o = store_get(s, keys[i]);

		if (!o) {
			CHECK(!"an acknowledged key is missing after kill -9");
			fprintf(stderr, "  missing %s\n", keys[i]);
			continue;
		}
		CHECK_INT(obj_rv(o), rvs[i]);
	}
	/* The store still takes writes, at a revision never handed out before. */
	{
		int64_t rev = store_revision(s), rv;

		CHECK_INT(sync_create(s, "/registry/configmaps/kill/after", cm("after", "1"), &rv), 0);
		CHECK_INT(rv, rev + 1);
	}
	close_store(s);
	free(keys);
	free(rvs);
}

/* ---- performance --------------------------------------------------------- */

static void test_bench_creates(void)
{
	enum { N = 10000 };
	struct store *s = open_store(0);
	struct result *r = xcalloc(N, sizeof(*r));
	uint64_t t0, ms, batches = store_debug_batches(s);
	int64_t base = store_revision(s);
	bool distinct = true;
	char key[96];

	t0 = now_ms();
	for (int i = 0; i < N; i++) {
		json_t *pod = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:[{s:s, s:s}]}}",
					"apiVersion", "v1", "kind", "Pod", "metadata", "name", "p",
					"namespace", "bench", "labels", "app", "web", "spec",
					"containers", "name", "web", "image", "nginx:1.25");

		snprintf(key, sizeof(key), "/registry/pods/bench/p%05d", i);
		store_create(s, key, pod, on_done, &r[i]);
	}
	wait_for(r, N);
	ms = now_ms() - t0;
	for (int i = 0; i < N; i++) {
		CHECK_INT(r[i].status, 0);
		if (r[i].rv != base + 1 + i)
			distinct = false;
	}
	CHECK(distinct);
	CHECK(store_debug_batches(s) - batches < N / 2);
	fprintf(stderr, "bench: %d creates in %llu ms (%.0f creates/s, %llu transactions)\n", N,
		(unsigned long long)ms, ms ? N * 1000.0 / (double)ms : 0.0,
		(unsigned long long)(store_debug_batches(s) - batches));
	result_release(r, N);
	free(r);
	close_store(s);
}

/* ---- main ---------------------------------------------------------------- */

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *p;
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		p = xasprintf("%s/%s", dir, e->d_name);
		if (!lstat(p, &st) && S_ISDIR(st.st_mode))
			remove_tree(p);
		else
			unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}


/* Texts of odd shapes: the revision goes inside the top-level metadata,
 * wherever that is and whatever its neighbours hold, and text and tree
 * agree (check_version in on_done and on_event) for creates, updates and
 * the last state of deletes. */
static void test_versions(void)
{
	static const char *const shapes[] = {
		"{\"kind\":\"X\"}",
		"{}",
		"{\"metadata\":{}}",
		"{\"a\":\"}{\\\"\",\"metadata\":{\"labels\":{\"x\":\"y}\"},\"q\":\"\\\"{[\\\\\"},\"z\":[{\"metadata\":{}}]}",
		"{\"spec\":{\"metadata\":{\"n\":1}},\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"77\"},\"t\":[1,[2,{}]]}",
		"{\"metadata\":{\"name\":\"\\u00e9\\n\"},\"data\":{\"k\":\"\\ud83d\\ude00\"}}",
	};
	struct store *s = open_store(0);
	struct recorder rec;
	struct store_watch *w;
	int64_t rev = store_revision(s);

	recorder_init(&rec);
	CHECK_INT(store_watch(s, "/registry/shapes/", rev, on_event, &rec, &w), 0);
	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
		char key[64];
		json_t *obj = json_loads(shapes[i], 0, NULL);
		struct result r = { 0 };
		const char *js;
		size_t len;

		CHECK(obj != NULL);
		snprintf(key, sizeof(key), "/registry/shapes/k%zu", i);
		CHECK_INT(sync_create(s, key, obj, NULL), 0);
		js = store_obj_json(store_lookup(s, key), &len);
		CHECK(strstr(js, "\"resourceVersion\":\"77\"") == NULL);   /* a client's is never kept */
		CHECK(strstr(js, "\"resourceVersion\":\"") != NULL);
		obj = json_deep_copy(store_get(s, key));
		obj_set(obj, "extra", json_string("v"));
		CHECK_INT(sync_update(s, key, obj, 0, NULL), 0);
		CHECK_INT(sync_delete(s, key, 0, &r), 0);
		CHECK_INT(r.rv, store_revision(s));   /* the last state carries the deletion's revision */
		result_release(&r, 1);
	}
	CHECK_INT(rec.events, 3 * (int)ARRAY_SIZE(shapes));
	CHECK(rec.in_order);
	store_watch_stop(w);
	strbuf_release(&rec.log);
	close_store(s);
}

static int attrs_made;

static struct store_attrs *make_attrs(const json_t *obj, void *data)
{
	struct store_attrs *a = xcalloc(1, sizeof(*a) + 2 * sizeof(a->kv[0]));

	(void)obj;
	attrs_made++;
	a->nfields = 1;
	a->kv[0] = "field";
	a->kv[1] = data;
	return a;
}

/* Lets the loop go round once: prepare handles run (the tree cache trims
 * itself there), then a poll that does not wait. */
static void loop_turn(void)
{
	uv_run(&loop, UV_RUN_NOWAIT);
}

/* The tree cache: bounded between loop turns, never under a caller's feet
 * within one, and the same tree for the same version while cached. Attrs
 * are made once per version. */
static void test_tree_cache(void)
{
	const json_t *trees[40];
	struct store *s;
	size_t n;
	uint64_t hits, misses, hits0, misses0;

	opt_tree_cache = 4;
	s = open_store(0);
	for (int i = 0; i < 40; i++) {
		char key[64];

		snprintf(key, sizeof(key), "/registry/configmaps/tc/k%02d", i);
		CHECK_INT(sync_create(s, key, cm(key + 26, "v"), NULL), 0);
	}
	loop_turn();
	store_tree_cache_stats(s, &n, &hits0, &misses0);
	CHECK(n <= 4);

	/* One callback's worth of reads: every tree stays, over the bound. */
	for (int i = 0; i < 40; i++) {
		char key[64];

		snprintf(key, sizeof(key), "/registry/configmaps/tc/k%02d", i);
		trees[i] = store_get(s, key);
		CHECK(trees[i] != NULL);
		CHECK(store_get(s, key) == trees[i]);
	}
	for (int i = 0; i < 40; i++)
		CHECK_STR(obj_name(trees[i]), obj_name(trees[i]));   /* still readable (ASan would say) */
	store_tree_cache_stats(s, &n, &hits, &misses);
	CHECK_INT(n, 40);
	CHECK(misses - misses0 >= 36);
	CHECK(hits - hits0 >= 40);
	loop_turn();
	store_tree_cache_stats(s, &n, &hits, &misses);
	CHECK_INT(n, 4);

	/* A tree of one's own outlives the cache's. */
	{
		json_t *mine = store_obj_parse(store_lookup(s, "/registry/configmaps/tc/k00"));

		loop_turn();
		CHECK_STR(data_v(mine), "v");
		json_decref(mine);
	}

	attrs_made = 0;
	{
		struct store_obj *o = store_lookup(s, "/registry/configmaps/tc/k07");
		const struct store_attrs *a = store_obj_attrs(o, make_attrs, "one");

		CHECK_STR(a->kv[1], "one");
		CHECK(store_obj_attrs(o, make_attrs, "two") == a);
		CHECK_INT(attrs_made, 1);
	}
	close_store(s);
	opt_tree_cache = 0;
}

static int count_matching(const char *key, struct store_obj *o, void *data)
{
	size_t len;
	const char *js = store_obj_json(o, &len);

	if (str_has_prefix(key, "/registry/configmaps/z/k") && strstr(js, "\"v\":\"value-") &&
	    strlen(js) == len)
		(*(int *)data)++;
	return 0;
}

/*
 * Old versions are compressed between loop turns with their resource's
 * dictionary, and every way of reading them (text, tree, list, a watch
 * replayed from the window, a delete's last state) gives back the same
 * bytes as before.
 */
static void test_compression(void)
{
	enum { N = 200 };
	char *texts[N];
	struct store *s;
	struct recorder rec;
	struct store_watch *w;
	size_t zn, plain, stored;
	int64_t rev0;
	int counted = 0;

	{   /* a file of its own: the counts below are the store's */
		char *data = xasprintf("%s/data", tmpdir);

		remove_tree(data);
		free(data);
	}
	opt_plain = 8;
	s = open_store(0);
	rev0 = store_revision(s);
	for (int i = 0; i < N; i++) {
		char key[64], val[32];

		snprintf(key, sizeof(key), "/registry/configmaps/z/k%03d", i);
		snprintf(val, sizeof(val), "value-%d", i * 7919);
		CHECK_INT(sync_create(s, key, cm(key + 23, val), NULL), 0);
		texts[i] = xstrdup(store_obj_json(store_lookup(s, key), NULL));
	}
	for (int i = 0; i < 10; i++)
		loop_turn();
	store_text_stats(s, &zn, &plain, &stored);
	/* all but the newest 8 (and the 200 creates' versions are the only ones) */
	CHECK_INT(zn, N - 8);
	CHECK(stored * 3 < plain);   /* siblings share nearly everything */
	for (int i = 0; i < N; i++) {
		char key[64];
		struct store_obj *o;
		size_t len;
		const char *js;
		json_t *mine;

		snprintf(key, sizeof(key), "/registry/configmaps/z/k%03d", i);
		o = store_lookup(s, key);
		CHECK_INT(store_obj_len(o), strlen(texts[i]));
		js = store_obj_json(o, &len);
		CHECK_STR(js, texts[i]);
		CHECK_INT(len, strlen(texts[i]));
		mine = store_obj_parse(o);
		CHECK_STR(obj_name(mine), key + 23);
		json_decref(mine);
	}
	store_list(s, "/registry/configmaps/z/", count_matching, &counted);
	CHECK_INT(counted, N);

	/* A watch from the start replays compressed versions from the window. */
	recorder_init(&rec);
	CHECK_INT(store_watch(s, "/registry/configmaps/z/", rev0, on_event, &rec, &w), 0);
	CHECK_INT(rec.events, N);
	CHECK(rec.in_order);
	store_watch_stop(w);
	strbuf_release(&rec.log);

	/* A compressed version deleted: its last state, restamped, reads right. */
	{
		struct result r = { 0 };

		CHECK_INT(sync_delete(s, "/registry/configmaps/z/k000", 0, &r), 0);
		CHECK_STR(obj_name(r.obj), "k000");
		CHECK_STR(data_v(r.obj), "value-0");
		result_release(&r, 1);
	}
	close_store(s);

	/* Reopened, everything loaded is compressed over the first turns. */
	s = open_store(0);
	for (int i = 0; i < 10; i++)
		loop_turn();
	store_text_stats(s, &zn, &plain, &stored);
	CHECK(zn >= N - 1 - 8);
	CHECK_STR(data_v(store_get(s, "/registry/configmaps/z/k123")), "value-974037");
	close_store(s);
	for (int i = 0; i < N; i++)
		free(texts[i]);
	opt_plain = 0;
}

static void run_all(void)
{
	test_basic();
	test_batch_preconditions();
	test_unchanged();
	test_list();
	test_reopen();
	test_watch();
	test_watch_expired();
	test_watch_stop_in_callback();
	test_watch_prefixes();
	test_fault_injection();
	test_close_with_pending();
	test_close_from_callback();
	test_bad_files();
	test_kill9();
	test_versions();
	test_tree_cache();
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	dbpath = xasprintf("%s/data/state.db", tmpdir);
	log_set_level("warn");
	srand((unsigned)getpid() * 2654435761u ^ (unsigned)now_ms() ^ (unsigned)time(NULL));
	CHECK_INT(uv_loop_init(&loop), 0);

	run_all();
	test_compression();
	/* Once more, on a new file, with every version compressed as soon as
	 * the loop turns. */
	{
		char *data = xasprintf("%s/data", tmpdir);

		remove_tree(data);
		free(data);
	}
	opt_plain = 1;
	run_all();
	opt_plain = 0;
	test_bench_creates();

	CHECK_INT(uv_loop_close(&loop), 0);
	remove_tree(tmpdir);
	free(dbpath);
	return test_done();
}
