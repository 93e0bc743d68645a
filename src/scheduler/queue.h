/*
 * The scheduling queue, kube-scheduler's three parts made small:
 *   active         pods to try now, highest priority first, then oldest;
 *   backoff        pods that failed recently and wait 1 s, 2 s, 4 s ... (capped);
 *   unschedulable  pods no node fits; they wait for a cluster event that
 *                  could change that (a node added or changed, a pod deleted),
 *                  and at most a few minutes.
 * Pods live in the cache; the queue only links them (through pod->p). It
 * never reads a clock: callers pass now (ms), which keeps it testable.
 *
 *   add --> active --pop--> cycle --fit--> bound
 *             ^                |
 *             |   backoff <----+-- error
 *             +-- expired      +-- no fit --> unschedulable --event--> backoff/active
 */
#ifndef MINIK8S_SCHEDULER_QUEUE_H
#define MINIK8S_SCHEDULER_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "scheduler/cache.h"

enum sched_queue_where { SCHED_Q_NONE = 0, SCHED_Q_ACTIVE, SCHED_Q_BACKOFF, SCHED_Q_UNSCHEDULABLE };

struct sched_heap {
	struct sched_pod **v;
	size_t n, cap;
	int (*less)(const struct sched_pod *a, const struct sched_pod *b);
};

struct sched_queue {
	struct sched_heap active, backoff;
	struct sched_pod *unschedulable;   /* doubly linked through p->next_unsched */
	size_t nunschedulable;
	uint64_t seq;
	uint64_t initial_backoff_ms, max_backoff_ms;
};

void sched_queue_init(struct sched_queue *q, uint64_t initial_backoff_ms, uint64_t max_backoff_ms);
/* Drops the queue's arrays; the pods are the cache's. */
void sched_queue_release(struct sched_queue *q);

/* A new pending pod (with pod->p): straight to active. */
void sched_queue_add(struct sched_queue *q, struct sched_pod *pod);
/* Takes pod out of whichever part holds it (no-op if none). */
void sched_queue_remove(struct sched_queue *q, struct sched_pod *pod);
/* The next pod to schedule, out of the queue, or NULL. */
struct sched_pod *sched_queue_pop(struct sched_queue *q);

/* The backoff a pod has earned after `attempts` failures. */
uint64_t sched_queue_backoff_ms(const struct sched_queue *q, uint32_t attempts);
/* A cycle found no node: count the attempt, park the pod as unschedulable
 * until one of events (SCHED_EV_*, 0 for any) happens. */
void sched_queue_unschedulable(struct sched_queue *q, struct sched_pod *pod, unsigned events, uint64_t now);
/* A cycle failed otherwise (the binding did): count it and back off. */
void sched_queue_backoff(struct sched_queue *q, struct sched_pod *pod, uint64_t now);
/* The pod's spec changed: an unschedulable pod gets another try. */
void sched_queue_update(struct sched_queue *q, struct sched_pod *pod, uint64_t now);

/* A cluster event: moves the unschedulable pods that wait for it to active
 * (or to backoff while they still back off). Returns how many moved. */
size_t sched_queue_move(struct sched_queue *q, unsigned event, uint64_t now);
/* Moves pods whose backoff has ended to active. Returns how many. */
size_t sched_queue_flush_backoff(struct sched_queue *q, uint64_t now);
/* Moves pods unschedulable for longer than max_age_ms. Returns how many. */
size_t sched_queue_flush_unschedulable(struct sched_queue *q, uint64_t now, uint64_t max_age_ms);
/* When the earliest backoff ends (ms, monotonic), or UINT64_MAX if none. */
uint64_t sched_queue_next_backoff(const struct sched_queue *q);

static inline size_t sched_queue_active(const struct sched_queue *q) { return q->active.n; }
static inline size_t sched_queue_backing_off(const struct sched_queue *q) { return q->backoff.n; }
static inline size_t sched_queue_unschedulable_len(const struct sched_queue *q) { return q->nunschedulable; }

#endif
