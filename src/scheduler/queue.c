/*
 * The scheduling queue of queue.h: two binary heaps (active by priority and
 * arrival, backoff by expiry) and a list of unschedulable pods. Each pod
 * remembers its heap position so removal is O(log n).
 */
#include "scheduler/queue.h"
#include "core/util.h"

#include <stdlib.h>

static int active_less(const struct sched_pod *a, const struct sched_pod *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority;
	return a->p->seq < b->p->seq;
}

static int backoff_less(const struct sched_pod *a, const struct sched_pod *b)
{
	return a->p->backoff_until < b->p->backoff_until;
}

static void heap_set(struct sched_heap *h, size_t i, struct sched_pod *pod)
{
	h->v[i] = pod;
	pod->p->heap_pos = (int32_t)i;
}

static void heap_up(struct sched_heap *h, size_t i)
{
	struct sched_pod *x = h->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!h->less(x, h->v[parent]))
			break;
		heap_set(h, i, h->v[parent]);
		i = parent;
	}
	heap_set(h, i, x);
}

static void heap_down(struct sched_heap *h, size_t i)
{
	struct sched_pod *x = h->v[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct sched_pod *best = x;
		if (l < h->n && h->less(h->v[l], best)) {
			m = l;
			best = h->v[l];
		}
		if (r < h->n && h->less(h->v[r], best))
			m = r;
		if (m == i)
			break;
		heap_set(h, i, h->v[m]);
		i = m;
	}
	heap_set(h, i, x);
}

static void heap_push(struct sched_heap *h, struct sched_pod *pod)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	h->v[h->n] = pod;
	heap_up(h, h->n++);
}

static void heap_remove(struct sched_heap *h, size_t i)
{
	struct sched_pod *gone = h->v[i], *moved;

	gone->p->heap_pos = -1;
	if (i == --h->n)
		return;
	moved = h->v[h->n];
	heap_set(h, i, moved);
	heap_down(h, i);
	heap_up(h, (size_t)moved->p->heap_pos);
}

void sched_queue_init(struct sched_queue *q, uint64_t initial_backoff_ms, uint64_t max_backoff_ms)
{
	*q = (struct sched_queue){ 0 };
	q->active.less = active_less;
	q->backoff.less = backoff_less;
	q->initial_backoff_ms = initial_backoff_ms;
	q->max_backoff_ms = max_backoff_ms;
}

void sched_queue_release(struct sched_queue *q)
{
	free(q->active.v);
	free(q->backoff.v);
	*q = (struct sched_queue){ 0 };
}

static void unsched_link(struct sched_queue *q, struct sched_pod *pod)
{
	pod->p->prev_unsched = NULL;
	pod->p->next_unsched = q->unschedulable;
	if (q->unschedulable)
		q->unschedulable->p->prev_unsched = pod;
	q->unschedulable = pod;
	q->nunschedulable++;
}

static void unsched_unlink(struct sched_queue *q, struct sched_pod *pod)
{
	struct sched_pending *p = pod->p;

	if (p->prev_unsched)
		p->prev_unsched->p->next_unsched = p->next_unsched;
	else
		q->unschedulable = p->next_unsched;
	if (p->next_unsched)
		p->next_unsched->p->prev_unsched = p->prev_unsched;
	p->next_unsched = p->prev_unsched = NULL;
	q->nunschedulable--;
}

void sched_queue_remove(struct sched_queue *q, struct sched_pod *pod)
{
	struct sched_pending *p = pod->p;

	if (!p)
		return;
	switch (p->where) {
	case SCHED_Q_ACTIVE:
		heap_remove(&q->active, (size_t)p->heap_pos);
		break;
	case SCHED_Q_BACKOFF:
		heap_remove(&q->backoff, (size_t)p->heap_pos);
		break;
	case SCHED_Q_UNSCHEDULABLE:
		unsched_unlink(q, pod);
		break;
	default:
		break;
	}
	p->where = SCHED_Q_NONE;
}

static void to_active(struct sched_queue *q, struct sched_pod *pod)
{
	pod->p->where = SCHED_Q_ACTIVE;
	heap_push(&q->active, pod);
}

static void to_backoff(struct sched_queue *q, struct sched_pod *pod)
{
	pod->p->where = SCHED_Q_BACKOFF;
	heap_push(&q->backoff, pod);
}

void sched_queue_add(struct sched_queue *q, struct sched_pod *pod)
{
	sched_queue_remove(q, pod);
	pod->p->seq = ++q->seq;
	to_active(q, pod);
}

struct sched_pod *sched_queue_pop(struct sched_queue *q)
{
	struct sched_pod *pod;

	if (!q->active.n)
		return NULL;
	pod = q->active.v[0];
	heap_remove(&q->active, 0);
	pod->p->where = SCHED_Q_NONE;
	return pod;
}

uint64_t sched_queue_backoff_ms(const struct sched_queue *q, uint32_t attempts)
{
	uint64_t d = q->initial_backoff_ms;

	for (uint32_t i = 1; i < attempts && d < q->max_backoff_ms; i++)
		d *= 2;
	return d > q->max_backoff_ms ? q->max_backoff_ms : d;
}

void sched_queue_unschedulable(struct sched_queue *q, struct sched_pod *pod, unsigned events, uint64_t now)
{
	struct sched_pending *p = pod->p;

	sched_queue_remove(q, pod);
	p->attempts++;
	p->backoff_until = now + sched_queue_backoff_ms(q, p->attempts);
	p->unschedulable_since = now;
	p->requeue_events = events;
	p->where = SCHED_Q_UNSCHEDULABLE;
	unsched_link(q, pod);
}

void sched_queue_backoff(struct sched_queue *q, struct sched_pod *pod, uint64_t now)
{
	struct sched_pending *p = pod->p;

	sched_queue_remove(q, pod);
	p->attempts++;
	p->backoff_until = now + sched_queue_backoff_ms(q, p->attempts);
	to_backoff(q, pod);
}

/* Out of the unschedulable pool: straight to active if its backoff is over. */
static void requeue(struct sched_queue *q, struct sched_pod *pod, uint64_t now)
{
	unsched_unlink(q, pod);
	if (pod->p->backoff_until > now)
		to_backoff(q, pod);
	else
		to_active(q, pod);
}

void sched_queue_update(struct sched_queue *q, struct sched_pod *pod, uint64_t now)
{
	if (pod->p && pod->p->where == SCHED_Q_UNSCHEDULABLE)
		requeue(q, pod, now);
}

size_t sched_queue_move(struct sched_queue *q, unsigned event, uint64_t now)
{
	struct sched_pod *pod = q->unschedulable, *next;
	size_t moved = 0;

	for (; pod; pod = next) {
		next = pod->p->next_unsched;
		if (pod->p->requeue_events && !(pod->p->requeue_events & event))
			continue;
		requeue(q, pod, now);
		moved++;
	}
	return moved;
}

size_t sched_queue_flush_backoff(struct sched_queue *q, uint64_t now)
{
	size_t moved = 0;

	while (q->backoff.n && q->backoff.v[0]->p->backoff_until <= now) {
		struct sched_pod *pod = q->backoff.v[0];
		heap_remove(&q->backoff, 0);
		to_active(q, pod);
		moved++;
	}
	return moved;
}

size_t sched_queue_flush_unschedulable(struct sched_queue *q, uint64_t now, uint64_t max_age_ms)
{
	struct sched_pod *pod = q->unschedulable, *next;
	size_t moved = 0;

	for (; pod; pod = next) {
		next = pod->p->next_unsched;
		if (now - pod->p->unschedulable_since < max_age_ms)
			continue;
		requeue(q, pod, now);
		moved++;
	}
	return moved;
}

uint64_t sched_queue_next_backoff(const struct sched_queue *q)
{
	return q->backoff.n ? q->backoff.v[0]->p->backoff_until : UINT64_MAX;
}
