/*
 * The scheduling queue: priority then arrival order, backoff that doubles
 * and caps, unschedulable pods moved only by the events that may help them
 * (to backoff while they still back off), the backoff and leftover flushes,
 * and removal from each part.
 */
#include "scheduler/cache.h"
#include "scheduler/queue.h"
#include "testing.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pods get an arrival number here as sched_queue_add would give them, so
 * those parked without an add still have an order. */
static struct sched_pod *mk(const char *name, int32_t priority)
{
	static uint64_t seq = 1000000;
	struct sched_pod *p = xcalloc(1, sizeof(*p));

	p->key = xasprintf("default/%s", name);
	p->name_off = 8;
	p->priority = priority;
	p->node = -1;
	p->p = xcalloc(1, sizeof(*p->p));
	p->p->heap_pos = -1;
	p->p->seq = ++seq;
	return p;
}

static void rm(struct sched_pod *p)
{
	free(p->p);
	free(p->key);
	free(p);
}

static void test_order(void)
{
	struct sched_queue q;
	struct sched_pod *a = mk("a", 0), *b = mk("b", 0), *hi = mk("hi", 100), *c = mk("c", 0);

	sched_queue_init(&q, 1000, 10000);
	CHECK(sched_queue_pop(&q) == NULL);
	sched_queue_add(&q, a);
	sched_queue_add(&q, b);
	sched_queue_add(&q, hi);
	sched_queue_add(&q, c);
	CHECK_INT(sched_queue_active(&q), 4);
	CHECK(sched_queue_pop(&q) == hi);
	CHECK(sched_queue_pop(&q) == a);
	/* Removal from the middle keeps the order of the rest. */
	sched_queue_remove(&q, b);
	CHECK_INT(b->p->where, SCHED_Q_NONE);
	CHECK(sched_queue_pop(&q) == c);
	CHECK(sched_queue_pop(&q) == NULL);
	sched_queue_release(&q);
	rm(a);
	rm(b);
	rm(hi);
	rm(c);
}

static void test_backoff(void)
{
	struct sched_queue q;
	struct sched_pod *p = mk("p", 0), *r = mk("r", 0);

	sched_queue_init(&q, 1000, 10000);
	CHECK_INT(sched_queue_backoff_ms(&q, 1), 1000);
	CHECK_INT(sched_queue_backoff_ms(&q, 2), 2000);
	CHECK_INT(sched_queue_backoff_ms(&q, 4), 8000);
	CHECK_INT(sched_queue_backoff_ms(&q, 5), 10000);
	CHECK_INT(sched_queue_backoff_ms(&q, 60), 10000);

	sched_queue_backoff(&q, p, 5000);
	sched_queue_backoff(&q, r, 5100);
	sched_queue_backoff(&q, r, 5100); /* a second failure: 2 s */
	CHECK_INT(sched_queue_backing_off(&q), 2);
	CHECK_INT(sched_queue_next_backoff(&q), 6000);
	CHECK_INT(sched_queue_flush_backoff(&q, 5999), 0);
	CHECK_INT(sched_queue_flush_backoff(&q, 6000), 1);
	CHECK(sched_queue_pop(&q) == p);
	CHECK_INT(sched_queue_next_backoff(&q), 7100);
	CHECK_INT(sched_queue_flush_backoff(&q, 8000), 1);
	CHECK(sched_queue_pop(&q) == r);
	CHECK_INT(sched_queue_next_backoff(&q), UINT64_MAX);
	sched_queue_release(&q);
	rm(p);
	rm(r);
}

static void test_unschedulable(void)
{
	struct sched_queue q;
	struct sched_pod *cpu = mk("cpu", 0), *sel = mk("sel", 0), *any = mk("any", 0);

	sched_queue_init(&q, 1000, 10000);
	sched_queue_unschedulable(&q, cpu, SCHED_EV_NODE_ADD | SCHED_EV_NODE_UPDATE | SCHED_EV_POD_DELETE, 0);
	sched_queue_unschedulable(&q, sel, SCHED_EV_NODE_ADD | SCHED_EV_NODE_UPDATE, 0);
	sched_queue_unschedulable(&q, any, 0, 0);
	CHECK_INT(sched_queue_unschedulable_len(&q), 3);
	CHECK_INT(sched_queue_active(&q), 0);
	CHECK_INT(cpu->p->attempts, 1);

	/* A deleted pod frees resources: only the cpu-starved pod and the one
	 * that waits for anything move; still backing off, so to backoff. */
	CHECK_INT(sched_queue_move(&q, SCHED_EV_POD_DELETE, 500), 2);
	CHECK_INT(sched_queue_unschedulable_len(&q), 1);
	CHECK_INT(sched_queue_backing_off(&q), 2);
	CHECK_INT(sel->p->where, SCHED_Q_UNSCHEDULABLE);
	/* A new node, after the backoff: straight to active. */
	CHECK_INT(sched_queue_move(&q, SCHED_EV_NODE_ADD, 1500), 1);
	CHECK(sched_queue_pop(&q) == sel);
	CHECK_INT(sched_queue_flush_backoff(&q, 1000), 2);
	CHECK_INT(sched_queue_active(&q), 2);
	CHECK(sched_queue_pop(&q) == cpu);
	CHECK(sched_queue_pop(&q) == any);

	/* A spec change gives an unschedulable pod another try at once... */
	sched_queue_unschedulable(&q, sel, SCHED_EV_NODE_ADD, 2000);
	CHECK_INT(sel->p->attempts, 2);
	CHECK_INT(sel->p->backoff_until, 4000);
	sched_queue_update(&q, sel, 5000);
	CHECK_INT(sel->p->where, SCHED_Q_ACTIVE);
	CHECK(sched_queue_pop(&q) == sel);

	/* ...and pods left unschedulable for too long get one anyway. */
	sched_queue_unschedulable(&q, cpu, SCHED_EV_NODE_ADD, 10000);
	sched_queue_unschedulable(&q, any, SCHED_EV_NODE_ADD, 20000);
	CHECK_INT(sched_queue_flush_unschedulable(&q, 300000, 5 * 60 * 1000), 0);
	CHECK_INT(sched_queue_flush_unschedulable(&q, 310000, 5 * 60 * 1000), 1);
	CHECK_INT(cpu->p->where, SCHED_Q_ACTIVE);
	sched_queue_remove(&q, any);
	CHECK_INT(sched_queue_unschedulable_len(&q), 0);
	sched_queue_remove(&q, cpu);
	CHECK_INT(sched_queue_active(&q), 0);
	sched_queue_release(&q);
	rm(cpu);
	rm(sel);
	rm(any);
}

/* Many pods in and out in a shuffled order: the heap never loses or
 * duplicates one, and pops in order. */
static void test_heap_stress(void)
{
	enum { N = 2000 };
	struct sched_queue q;
	static struct sched_pod *pods[N];
	unsigned seed = 12345;
	int32_t last_prio = INT32_MAX;
	uint64_t last_seq = 0;
	size_t popped = 0;
	char name[16];

	sched_queue_init(&q, 1000, 10000);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		seed = seed * 1103515245u + 12345u;
		pods[i] = mk(name, (int32_t)((seed >> 16) % 5));
		sched_queue_add(&q, pods[i]);
	}
	for (int i = 0; i < N; i += 3)
		sched_queue_remove(&q, pods[i]);
	CHECK_INT(sched_queue_active(&q), N - (N + 2) / 3);
	for (struct sched_pod *p; (p = sched_queue_pop(&q)); popped++) {
		if (p->priority > last_prio || (p->priority == last_prio && p->p->seq < last_seq))
			CHECK(!"out of order");
		last_prio = p->priority;
		last_seq = p->p->seq;
	}
	CHECK_INT(popped, N - (N + 2) / 3);
	sched_queue_release(&q);
	for (int i = 0; i < N; i++)
		rm(pods[i]);
}

int main(void)
{
	test_order();
	test_backoff();
	test_unschedulable();
	test_heap_stress();
	return test_done();
}
