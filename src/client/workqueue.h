/*
 * A work queue of string keys for controllers, shaped like client-go's
 * rate-limited queue but single-threaded on a libuv loop: a FIFO, a dirty set
 * and a processing set, so a key is never handed out twice at once and
 * duplicate adds merge; delayed adds on uv timers; per-key exponential
 * backoff for failures. Event handlers add keys; workers take them.
 *
 *   add(k) --> [dirty? merge] --> FIFO --> get() / worker(k) --> done(k)
 *                   ^                                  |
 *                   +---- re-added while processing ---+
 */
#ifndef MINIK8S_CLIENT_WORKQUEUE_H
#define MINIK8S_CLIENT_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct workqueue;

/*
 * Called with a key that is now in the processing set. The key string is
 * owned by the queue and stays valid until workqueue_done(q, key) for it;
 * the worker may call workqueue_done later, after asynchronous work.
 */
typedef void (*workqueue_worker_fn)(struct workqueue *q, const char *key, void *data);

/* Creates an empty queue on loop. name appears in logs ("replicaset"). */
struct workqueue *workqueue_new(uv_loop_t *loop, const char *name);

/*
 * Backoff of workqueue_add_rate_limited: the n-th consecutive failure of a
 * key waits base_ms * 2^(n-1), capped at max_ms. Default 5 ms and 1000 s,
 * as client-go's controller rate limiter.
 */
void workqueue_set_backoff(struct workqueue *q, uint64_t base_ms, uint64_t max_ms);

/*
 * Marks key as needing processing. A key already waiting merges with it;
 * a key being processed is queued again once workqueue_done is called for it.
 * Ignored after workqueue_close. The queue copies key.
 */
void workqueue_add(struct workqueue *q, const char *key);

/*
 * Adds key after delay_ms (0 adds now). If the key already waits for a
 * timer, the earlier of the two times wins.
 */
void workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_ms);

/* Adds key after its backoff delay and counts one more failure for it. */
void workqueue_add_rate_limited(struct workqueue *q, const char *key);

/* Clears the failure count of key (call after a successful sync). */
void workqueue_forget(struct workqueue *q, const char *key);

/* Failures counted for key since the last forget. */
unsigned workqueue_num_requeues(struct workqueue *q, const char *key);

/* Backoff delay the next workqueue_add_rate_limited of key would use. */
uint64_t workqueue_next_backoff(struct workqueue *q, const char *key);

/*
 * Non-blocking pop: the oldest waiting key, moved to the processing set, or
 * NULL when nothing waits. The string stays valid until workqueue_done(q, key).
 */
const char *workqueue_get(struct workqueue *q);

/*
 * Ends processing of key (a string from workqueue_get or the worker, or an
 * equal one). If the key was added meanwhile it goes back to the FIFO.
 * After this returns, the string handed out for key is freed.
 */
void workqueue_done(struct workqueue *q, const char *key);

/* Keys waiting in the FIFO (not counting delayed or processing ones). */
size_t workqueue_len(const struct workqueue *q);
/* Keys in the processing set. */
size_t workqueue_processing(const struct workqueue *q);
/* Keys waiting on add_after timers. */
size_t workqueue_delayed(const struct workqueue *q);

/*
 * Drives the queue from the loop: while keys wait and fewer than `workers`
 * keys are being processed, pops a key and calls fn(q, key, data). Calls
 * happen from a loop callback, never inside workqueue_add itself. Returns 0,
 * or -1 if already started or closing.
 */
int workqueue_start(struct workqueue *q, int workers, workqueue_worker_fn fn, void *data);

/*
 * Shuts the queue down: stops handing out keys, drops waiting and delayed
 * keys, closes every libuv handle, and frees the queue in the last close
 * callback, then calls on_closed(arg) (may be NULL). Between this call and
 * the callback, workqueue_done and adds are accepted and ignored; after it,
 * the queue must not be used.
 */
void workqueue_close(struct workqueue *q, void (*on_closed)(void *arg), void *arg);

#endif
