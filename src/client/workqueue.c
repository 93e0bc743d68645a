/*
 * The controller work queue behind workqueue.h. Every key the queue knows
 * has one item in a small chained hash table; flags on the item are the
 * dirty and processing sets, a singly linked list through the items is the
 * FIFO, and a delayed add owns one uv_timer. An item is freed as soon as it
 * is in no set, has no failures counted and waits on no timer.
 */
#include "workqueue.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct wq_timer;

struct wq_item {
	char *key;
	uint32_t hash;
	struct wq_item *hnext;  /* hash chain */
	struct wq_item *qnext;  /* FIFO link, valid while queued */
	bool dirty;             /* needs processing (queued, or re-added while processing) */
	bool processing;
	unsigned requeues;
	struct wq_timer *delayed;
};

struct wq_timer {
	uv_timer_t timer;
	struct workqueue *q;
	struct wq_item *item;   /* NULL once fired or cancelled */
	uint64_t due;           /* uv_now() time */
	struct wq_timer *prev, *next;
};

struct workqueue {
	uv_loop_t *loop;
	char *name;
	struct wq_item **buckets;
	size_t nbuckets, nitems;
	struct wq_item *head, *tail;
	size_t len, nprocessing, ndelayed;
	struct wq_timer *timers;
	uint64_t base_ms, max_ms;

	uv_idle_t idle;
	workqueue_worker_fn worker;
	void *worker_data;
	int workers;
	bool started, closing;
	int open_handles;
	void (*on_closed)(void *arg);
	void *closed_arg;
};

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static struct wq_item *item_find(const struct workqueue *q, const char *key)
{
	uint32_t h = hash_str(key);
	struct wq_item *it;

	for (it = q->buckets[h & (q->nbuckets - 1)]; it; it = it->hnext)
		if (it->hash == h && !strcmp(it->key, key))
			return it;
	return NULL;
}

static void table_grow(struct workqueue *q)
{
	size_t n = q->nbuckets * 2;
	struct wq_item **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < q->nbuckets; i++) {
		struct wq_item *it = q->buckets[i], *next;
		for (; it; it = next) {
			next = it->hnext;
			it->hnext = b[it->hash & (n - 1)];
			b[it->hash & (n - 1)] = it;
		}
	}
	free(q->buckets);
	q->buckets = b;
	q->nbuckets = n;
}

static struct wq_item *item_get(struct workqueue *q, const char *key)
{
	struct wq_item *it = item_find(q, key);

	if (it)
		return it;
	if (q->nitems >= q->nbuckets)
		table_grow(q);
	it = xcalloc(1, sizeof(*it));
	it->key = xstrdup(key);
	it->hash = hash_str(key);
	it->hnext = q->buckets[it->hash & (q->nbuckets - 1)];
	q->buckets[it->hash & (q->nbuckets - 1)] = it;
	q->nitems++;
	return it;
}

/* Frees the item if nothing refers to it any more. */
static void item_maybe_free(struct workqueue *q, struct wq_item *it)
{
	struct wq_item **pp;

	if (it->dirty || it->processing || it->requeues || it->delayed)
		return;
	for (pp = &q->buckets[it->hash & (q->nbuckets - 1)]; *pp != it; pp = &(*pp)->hnext)
		;
	*pp = it->hnext;
	q->nitems--;
	free(it->key);
	free(it);
}

static void fifo_push(struct workqueue *q, struct wq_item *it)
{
	it->qnext = NULL;
	if (q->tail)
		q->tail->qnext = it;
	else
		q->head = it;
	q->tail = it;
	q->len++;
}

static void on_idle(uv_idle_t *h);

static void kick(struct workqueue *q)
{
	if (q->started && !q->closing && q->head && q->nprocessing < (size_t)q->workers)
		uv_idle_start(&q->idle, on_idle);
}

struct workqueue *workqueue_new(uv_loop_t *loop, const char *name)
{
	struct workqueue *q = xcalloc(1, sizeof(*q));

	q->loop = loop;
	q->name = xstrdup(name ? name : "workqueue");
	q->nbuckets = 16;
	q->buckets = xcalloc(q->nbuckets, sizeof(*q->buckets));
	q->base_ms = 5;
	q->max_ms = 1000 * 1000;
	uv_idle_init(loop, &q->idle);
	q->idle.data = q;
	q->open_handles = 1;
	return q;
}

void workqueue_set_backoff(struct workqueue *q, uint64_t base_ms, uint64_t max_ms)
{
	q->base_ms = base_ms ? base_ms : 1;
	q->max_ms = max_ms < q->base_ms ? q->base_ms : max_ms;
}

void workqueue_add(struct workqueue *q, const char *key)
{
	struct wq_item *it;

	if (q->closing)
		return;
	it = item_get(q, key);
	if (it->dirty)
		return;
	it->dirty = true;
	if (it->processing)
		return;
	fifo_push(q, it);
	kick(q);
}

/* Frees every remaining item (processing ones were kept for done()). */
static void table_clear(struct workqueue *q, bool keep_processing)
{
	for (size_t i = 0; i < q->nbuckets; i++) {
		struct wq_item **pp = &q->buckets[i], *it;
		while ((it = *pp)) {
			if (keep_processing && it->processing) {
				it->dirty = false;
				it->requeues = 0;
				pp = &it->hnext;
				continue;
			}
			*pp = it->hnext;
			q->nitems--;
			free(it->key);
			free(it);
		}
	}
}

static void handle_closed(struct workqueue *q)
{
	void (*cb)(void *) = q->on_closed;
	void *arg = q->closed_arg;

	if (--q->open_handles)
		return;
	table_clear(q, false);
	free(q->buckets);
	free(q->name);
	free(q);
	if (cb)
		cb(arg);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct wq_timer *t = h->data;
	struct workqueue *q = t->q;

	free(t);
	handle_closed(q);
}

static void timer_unlink(struct workqueue *q, struct wq_timer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		q->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

static void on_timer(uv_timer_t *h)
{
	struct wq_timer *t = h->data;
	struct workqueue *q = t->q;
	struct wq_item *it = t->item;

	timer_unlink(q, t);
	t->item = NULL;
	q->ndelayed--;
	uv_close((uv_handle_t *)&t->timer, on_timer_closed);
	if (!it)
		return;
	it->delayed = NULL;
	/* add() never frees; the item stays alive through it. */
	workqueue_add(q, it->key);
	item_maybe_free(q, it);
}

void workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_ms)
{
	struct wq_item *it;
	struct wq_timer *t;
	uint64_t due;

	if (q->closing)
		return;
	if (delay_ms == 0) {
		workqueue_add(q, key);
		return;
	}
	uv_update_time(q->loop);
	due = uv_now(q->loop) + delay_ms;
	it = item_get(q, key);
	if (it->delayed) {
		t = it->delayed;
		if (due < t->due) {
			t->due = due;
			uv_timer_start(&t->timer, on_timer, delay_ms, 0);
		}
		return;
	}
	t = xcalloc(1, sizeof(*t));
	t->q = q;
	t->item = it;
	t->due = due;
	uv_timer_init(q->loop, &t->timer);
	t->timer.data = t;
	q->open_handles++;
	t->next = q->timers;
	if (q->timers)
		q->timers->prev = t;
	q->timers = t;
	q->ndelayed++;
	it->delayed = t;
	uv_timer_start(&t->timer, on_timer, delay_ms, 0);
}

static uint64_t backoff_for(const struct workqueue *q, unsigned failures)
{
	uint64_t d = q->base_ms;

	/* Shift stepwise so a huge count saturates at max instead of overflowing. */
	for (unsigned i = 0; i < failures && d < q->max_ms; i++)
		d *= 2;
	return d < q->max_ms ? d : q->max_ms;
}

uint64_t workqueue_next_backoff(struct workqueue *q, const char *key)
{
	struct wq_item *it = item_find(q, key);

	return backoff_for(q, it ? it->requeues : 0);
}

void workqueue_add_rate_limited(struct workqueue *q, const char *key)
{
	struct wq_item *it;
	uint64_t delay;

	if (q->closing)
		return;
	it = item_get(q, key);
	delay = backoff_for(q, it->requeues);
	it->requeues++;
	log_debug("workqueue=%s requeue key=%s failures=%u delay_ms=%llu", q->name, key,
		  it->requeues, (unsigned long long)delay);
	workqueue_add_after(q, key, delay);
}

void workqueue_forget(struct workqueue *q, const char *key)
{
	struct wq_item *it = item_find(q, key);

	if (!it)
		return;
	it->requeues = 0;
	item_maybe_free(q, it);
}

unsigned workqueue_num_requeues(struct workqueue *q, const char *key)
{
	struct wq_item *it = item_find(q, key);

	return it ? it->requeues : 0;
}

const char *workqueue_get(struct workqueue *q)
{
	struct wq_item *it = q->head;

	if (!it || q->closing)
		return NULL;
	q->head = it->qnext;
	if (!q->head)
		q->tail = NULL;
	it->qnext = NULL;
	q->len--;
	it->dirty = false;
	it->processing = true;
	q->nprocessing++;
	return it->key;
}

void workqueue_done(struct workqueue *q, const char *key)
{
	struct wq_item *it = item_find(q, key);

	if (!it || !it->processing)
		return;
	it->processing = false;
	q->nprocessing--;
	if (it->dirty && !q->closing)
		fifo_push(q, it);
	item_maybe_free(q, it);
	kick(q);
}

size_t workqueue_len(const struct workqueue *q)
{
	return q->len;
}

size_t workqueue_processing(const struct workqueue *q)
{
	return q->nprocessing;
}

size_t workqueue_delayed(const struct workqueue *q)
{
	return q->ndelayed;
}

static void on_idle(uv_idle_t *h)
{
	struct workqueue *q = h->data;
	/* Only the keys waiting now: a worker that re-adds its key and finishes
	 * at once must not spin here without giving the loop a turn. */
	size_t budget = q->len;

	/* Each worker call may add, finish or close; re-check every round. */
	while (budget-- && !q->closing && q->head && q->nprocessing < (size_t)q->workers) {
		const char *key = workqueue_get(q);
		q->worker(q, key, q->worker_data);
	}
	if (!q->closing) {
		uv_idle_stop(&q->idle);
		kick(q);
	}
}

int workqueue_start(struct workqueue *q, int workers, workqueue_worker_fn fn, void *data)
{
	if (q->started || q->closing || !fn)
		return -1;
	q->worker = fn;
	q->worker_data = data;
	q->workers = workers > 0 ? workers : 1;
	q->started = true;
	kick(q);
	return 0;
}

static void on_idle_closed(uv_handle_t *h)
{
	handle_closed(h->data);
}

void workqueue_close(struct workqueue *q, void (*on_closed)(void *arg), void *arg)
{
	struct wq_timer *t, *next;

	if (q->closing)
		return;
	q->closing = true;
	q->on_closed = on_closed;
	q->closed_arg = arg;
	for (t = q->timers; t; t = next) {
		next = t->next;
		t->item->delayed = NULL;
		t->item = NULL;
		t->prev = t->next = NULL;
		uv_close((uv_handle_t *)&t->timer, on_timer_closed);
	}
	q->timers = NULL;
	q->ndelayed = 0;
	/* Keys out with workers stay until their done() or the final free, so
	 * a worker's key string does not vanish under it. */
	table_clear(q, true);
	q->head = q->tail = NULL;
	q->len = 0;
	uv_close((uv_handle_t *)&q->idle, on_idle_closed);
}
