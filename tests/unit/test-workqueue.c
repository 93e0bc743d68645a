/*
 * The controller work queue: duplicate adds merge, a key is never handed out
 * twice at once, a key re-added while processing comes back after done,
 * per-key backoff doubles and forget resets it, add_after waits (earliest
 * time wins), workers driven from the loop, and close frees everything with
 * the loop closing cleanly.
 */
#include "client/workqueue.h"
#include "testing.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static int closed_calls;

static void on_closed(void *arg)
{
	closed_calls++;
	CHECK(arg == &closed_calls);
}

static void close_queue(uv_loop_t *loop, struct workqueue *q)
{
	int before = closed_calls;

	workqueue_close(q, on_closed, &closed_calls);
	uv_run(loop, UV_RUN_DEFAULT);
	CHECK_INT(closed_calls, before + 1);
}

static void test_dedup_and_processing(uv_loop_t *loop)
{
	struct workqueue *q = workqueue_new(loop, "test");
	const char *k1, *k2;

	workqueue_add(q, "default/a");
	workqueue_add(q, "default/b");
	workqueue_add(q, "default/a");
	CHECK_INT(workqueue_len(q), 2);

	k1 = workqueue_get(q);
	CHECK_STR(k1, "default/a");
	CHECK_INT(workqueue_processing(q), 1);
	/* Re-added while processing: remembered, not handed out. */
	workqueue_add(q, "default/a");
	workqueue_add(q, "default/a");
	CHECK_INT(workqueue_len(q), 1);
	k2 = workqueue_get(q);
	CHECK_STR(k2, "default/b");
	CHECK(workqueue_get(q) == NULL);

	workqueue_done(q, "default/b");
	CHECK_INT(workqueue_len(q), 0);
	/* done with a different but equal string works too */
	workqueue_done(q, "default/a");
	CHECK_INT(workqueue_len(q), 1);
	CHECK_INT(workqueue_processing(q), 0);
	k1 = workqueue_get(q);
	CHECK_STR(k1, "default/a");
	CHECK(workqueue_get(q) == NULL);
	workqueue_done(q, k1);
	CHECK_INT(workqueue_len(q), 0);
	/* done for an unknown key is ignored */
	workqueue_done(q, "nope");

	/* FIFO order is kept across many keys (and table growth). */
	for (int i = 0; i < 500; i++) {
		char key[32];
		snprintf(key, sizeof(key), "ns/k%d", i);
		workqueue_add(q, key);
		workqueue_add(q, key);
	}
	CHECK_INT(workqueue_len(q), 500);
	for (int i = 0; i < 500; i++) {
		char key[32];
		const char *got = workqueue_get(q);
		snprintf(key, sizeof(key), "ns/k%d", i);
		CHECK_STR(got, key);
		if (got)
			workqueue_done(q, got);
	}
	CHECK(workqueue_get(q) == NULL);
	close_queue(loop, q);
}

static void test_backoff_values(uv_loop_t *loop)
{
	struct workqueue *q = workqueue_new(loop, "test");
	uint64_t want = 5;

	CHECK_INT(workqueue_next_backoff(q, "x"), 5);
	for (int i = 0; i < 10; i++) {
		CHECK_INT(workqueue_next_backoff(q, "x"), want);
		workqueue_add_rate_limited(q, "x");
		CHECK_INT(workqueue_num_requeues(q, "x"), i + 1);
		want *= 2;
	}
	/* Capped at 1000 s after enough failures, without overflow. */
	for (int i = 0; i < 100; i++)
		workqueue_add_rate_limited(q, "x");
	CHECK_INT(workqueue_next_backoff(q, "x"), 1000 * 1000);
	CHECK_INT(workqueue_num_requeues(q, "x"), 110);
	/* Other keys have their own count. */
	CHECK_INT(workqueue_num_requeues(q, "y"), 0);
	CHECK_INT(workqueue_next_backoff(q, "y"), 5);

	workqueue_forget(q, "x");
	CHECK_INT(workqueue_num_requeues(q, "x"), 0);
	CHECK_INT(workqueue_next_backoff(q, "x"), 5);

	workqueue_set_backoff(q, 100, 300);
	CHECK_INT(workqueue_next_backoff(q, "z"), 100);
	workqueue_add_rate_limited(q, "z");
	CHECK_INT(workqueue_next_backoff(q, "z"), 200);
	workqueue_add_rate_limited(q, "z");
	CHECK_INT(workqueue_next_backoff(q, "z"), 300);
	/* Closing with delayed keys pending frees their timers. */
	CHECK(workqueue_delayed(q) >= 2);
	close_queue(loop, q);
}

/* --- loop-driven tests ---------------------------------------------------- */

struct record {
	uv_loop_t *loop;
	uint64_t t0;
	int n;
	char keys[64][32];
	uint64_t at[64];
	int concurrent, max_concurrent;
	char active[8][32];  /* keys out with async workers */
	struct workqueue *q;
};

static void record_key(struct record *r, const char *key)
{
	if (r->n < 64) {
		snprintf(r->keys[r->n], sizeof(r->keys[0]), "%s", key);
		r->at[r->n] = uv_now(r->loop) - r->t0;
	}
	r->n++;
}

static void worker_retry(struct workqueue *q, const char *key, void *data)
{
	struct record *r = data;

	record_key(r, key);
	if (workqueue_num_requeues(q, key) < 3) {
		workqueue_add_rate_limited(q, key);
	} else {
		workqueue_forget(q, key);
	}
	workqueue_done(q, key);
}

static void test_backoff_timing(uv_loop_t *loop)
{
	struct workqueue *q = workqueue_new(loop, "test");
	struct record r = { .loop = loop };

	workqueue_set_backoff(q, 20, 1000);
	uv_update_time(loop);
	r.t0 = uv_now(loop);
	workqueue_add(q, "a");
	CHECK_INT(workqueue_start(q, 1, worker_retry, &r), 0);
	CHECK_INT(workqueue_start(q, 1, worker_retry, &r), -1);
	uv_run(loop, UV_RUN_DEFAULT);
	/* Runs at ~0, then after 20, 40, 80 ms more: the gaps grow. */
	CHECK_INT(r.n, 4);
	CHECK(r.at[0] < 20);
	CHECK(r.at[1] - r.at[0] >= 19);
	CHECK(r.at[2] - r.at[1] >= 39);
	CHECK(r.at[3] - r.at[2] >= 79);
	CHECK(r.at[3] - r.at[2] > r.at[2] - r.at[1]);
	CHECK(r.at[2] - r.at[1] > r.at[1] - r.at[0]);
	/* Forgotten after success. */
	CHECK_INT(workqueue_num_requeues(q, "a"), 0);
	close_queue(loop, q);
}

static void worker_record(struct workqueue *q, const char *key, void *data)
{
	struct record *r = data;

	record_key(r, key);
	workqueue_done(q, key);
}

static void test_add_after(uv_loop_t *loop)
{
	struct workqueue *q = workqueue_new(loop, "test");
	struct record r = { .loop = loop };

	uv_update_time(loop);
	r.t0 = uv_now(loop);
	workqueue_add_after(q, "late", 60);
	workqueue_add_after(q, "b", 300);
	workqueue_add_after(q, "b", 30);   /* earlier wins */
	workqueue_add_after(q, "b", 500);  /* later is merged away */
	workqueue_add_after(q, "now", 0);
	CHECK_INT(workqueue_len(q), 1);
	CHECK_INT(workqueue_delayed(q), 2);
	workqueue_start(q, 2, worker_record, &r);
	uv_run(loop, UV_RUN_DEFAULT);
	CHECK_INT(r.n, 3);
	CHECK_STR(r.keys[0], "now");
	CHECK_STR(r.keys[1], "b");
	CHECK_STR(r.keys[2], "late");
	CHECK(r.at[1] >= 29 && r.at[1] < 250);
	CHECK(r.at[2] >= 59);
	CHECK_INT(workqueue_delayed(q), 0);
	close_queue(loop, q);
}

/* Workers that finish later: concurrency is bounded and keys never overlap. */
struct later {
	uv_timer_t timer;
	struct record *r;
	char key[32];
};

static void on_later_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_later(uv_timer_t *t)
{
	struct later *l = t->data;

	l->r->concurrent--;
	for (int i = 0; i < 8; i++)
		if (!strcmp(l->r->active[i], l->key))
			l->r->active[i][0] = '\0';
	workqueue_done(l->r->q, l->key);
	uv_close((uv_handle_t *)&l->timer, on_later_closed);
}

static void worker_async(struct workqueue *q, const char *key, void *data)
{
	struct record *r = data;
	struct later *l = xcalloc(1, sizeof(*l));

	record_key(r, key);
	/* The same key must not be out with another worker right now. */
	for (int i = 0; i < 8; i++)
		CHECK(strcmp(r->active[i], key) != 0);
	for (int i = 0; i < 8; i++) {
		if (!r->active[i][0]) {
			snprintf(r->active[i], sizeof(r->active[i]), "%s", key);
			break;
		}
	}
	r->concurrent++;
	if (r->concurrent > r->max_concurrent)
		r->max_concurrent = r->concurrent;
	l->r = r;
	snprintf(l->key, sizeof(l->key), "%s", key);
	uv_timer_init(r->loop, &l->timer);
	l->timer.data = l;
	uv_timer_start(&l->timer, on_later, 10, 0);
	/* Re-adding the key being processed must not start it twice now. */
	if (!strcmp(key, "x") && r->n == 1)
		workqueue_add(q, "x");
}

static void test_async_workers(uv_loop_t *loop)
{
	struct workqueue *q = workqueue_new(loop, "test");
	struct record r = { .loop = loop, .q = q };

	workqueue_add(q, "x");
	workqueue_add(q, "y");
	workqueue_add(q, "z");
	workqueue_add(q, "w");
	workqueue_start(q, 2, worker_async, &r);
	uv_run(loop, UV_RUN_DEFAULT);
	/* x, y, z, w, and x again (re-added while it was processing). */
	CHECK_INT(r.n, 5);
	CHECK_INT(r.max_concurrent, 2);
	CHECK_STR(r.keys[0], "x");
	CHECK_STR(r.keys[1], "y");
	int x_count = 0;
	for (int i = 0; i < r.n; i++)
		x_count += !strcmp(r.keys[i], "x");
	CHECK_INT(x_count, 2);
	CHECK_INT(workqueue_processing(q), 0);
	close_queue(loop, q);
}

/* A worker that re-adds its own key and finishes at once gets one run per
 * loop turn, instead of spinning inside one callback. */
static int spins;
static void worker_readd(struct workqueue *q, const char *key, void *data)
{
	spins++;
	workqueue_add(q, key);
	workqueue_done(q, key);
}

static void test_readd_in_worker(uv_loop_t *loop)
{
	struct workqueue *q = workqueue_new(loop, "test");

	workqueue_add(q, "k");
	workqueue_start(q, 1, worker_readd, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	CHECK_INT(spins, 1);
	uv_run(loop, UV_RUN_NOWAIT);
	CHECK_INT(spins, 2);
	CHECK_INT(workqueue_len(q), 1);
	close_queue(loop, q);
	CHECK_INT(spins, 2);
}

/* Closing while a key is out with a worker: done() afterwards is harmless. */
static void test_close_while_processing(uv_loop_t *loop)
{
	struct workqueue *q = workqueue_new(loop, "test");
	const char *k;

	workqueue_add(q, "a");
	workqueue_add(q, "b");
	workqueue_add_after(q, "c", 10000);
	k = workqueue_get(q);
	CHECK_STR(k, "a");
	workqueue_close(q, on_closed, &closed_calls);
	CHECK(workqueue_get(q) == NULL);
	workqueue_add(q, "d");
	CHECK_INT(workqueue_len(q), 0);
	workqueue_done(q, k);
	int before = closed_calls;
	uv_run(loop, UV_RUN_DEFAULT);
	CHECK_INT(closed_calls, before + 1);
}

int main(void)
{
	uv_loop_t loop;

	uv_loop_init(&loop);
	test_dedup_and_processing(&loop);
	test_backoff_values(&loop);
	test_backoff_timing(&loop);
	test_add_after(&loop);
	test_async_workers(&loop);
	test_readd_in_worker(&loop);
	test_close_while_processing(&loop);
	CHECK_INT(uv_loop_close(&loop), 0);
	return test_done();
}
