/*
 * A reflector: list + watch of one resource with no cache of its own, for
 * the scheduler and the hollow nodes, which keep compact structs of their
 * own instead of the informer's JSON objects (at 30,000 pods the difference
 * is most of a process's memory). It lists, watches from the list's
 * resourceVersion, resumes a broken watch from the last version seen, and
 * relists after 410 Expired; the caller turns a relist into adds and
 * deletes by marking what it saw between list_begin and list_end.
 *
 *   LIST --> list_begin, item x N, list_end --> WATCH ?rv=N --> event(type, obj)
 *    ^                                             | broken: WATCH again from rv
 *    +------------------ 410 Expired --------------+ (100 ms doubling to 10 s)
 */
#ifndef MINIK8S_SCHEDULER_REFLECTOR_H
#define MINIK8S_SCHEDULER_REFLECTOR_H

#include <jansson.h>
#include <stdbool.h>

#include "client/rest.h"

struct reflector;

/* Every json_t is borrowed for the call (json_incref to keep it). */
struct reflector_handlers {
	/* A (re)list arrived: list_begin, then list_item for each object, then
	 * list_end. Objects the caller knows and the list did not mention are gone. */
	void (*list_begin)(void *data);
	void (*list_item)(json_t *obj, void *data);
	void (*list_end)(void *data);
	/* One watch event: "ADDED", "MODIFIED" or "DELETED" (BOOKMARK and ERROR
	 * are handled here). */
	void (*event)(const char *type, json_t *obj, void *data);
	void *data;
};

/*
 * A stopped reflector for path (a collection: "/api/v1/pods") with an
 * optional field selector (may be NULL). c is borrowed and must outlive it;
 * h is copied. name appears in logs.
 */
struct reflector *reflector_new(struct rest_client *c, const char *name, const char *path,
				const char *field_selector, const struct reflector_handlers *h);
void reflector_start(struct reflector *r);
/* True once the first list has been delivered. */
bool reflector_synced(const struct reflector *r);
/* Cancels requests at once (no handler runs afterwards), frees from the loop,
 * then calls on_closed(arg) (may be NULL). */
void reflector_close(struct reflector *r, void (*on_closed)(void *arg), void *arg);

#endif
