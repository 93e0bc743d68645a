/*
 * Informers, as client-go's shared informers: for one resource, list once,
 * then watch from the list's resourceVersion, keep every object in a cache
 * keyed "namespace/name" (or "name"), and tell registered handlers about
 * adds, updates and deletes after the cache has changed. A broken watch
 * resumes from the last resourceVersion seen, with backoff; an expired one
 * (410) relists and turns the difference into add/update/delete calls.
 * A factory shares one informer per resource among the controllers of a
 * process.
 *
 *   LIST ---> cache.replace(items) --> synced --> WATCH ?rv=N --> cache.apply(ev)
 *    ^                                              |  broken: retry WATCH from rv
 *    +------------------ 410 Expired ---------------+  (100 ms doubling to 10 s)
 *
 * Cached objects are shared: the cache, every handler and every list hold
 * the same json_t, and objects share their equal parts with each other (the
 * cache interns them, core/intern.h). Treat them as read-only;
 * json_deep_copy before changing.
 */
#ifndef MINIK8S_CLIENT_INFORMER_H
#define MINIK8S_CLIENT_INFORMER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "rest.h"

struct informer;
struct informer_factory;

/*
 * Event handlers; any may be NULL. Objects are borrowed for the call (keep a
 * key, not the pointer, or json_incref). on_update gets the previous and the
 * new object; on_delete the last state the informer knew. They run after the
 * cache holds the new state, so informer_get() inside a handler sees it.
 */
struct informer_handlers {
	void (*on_add)(json_t *obj, void *data);
	void (*on_update)(json_t *old_obj, json_t *new_obj, void *data);
	void (*on_delete)(json_t *obj, void *data);
	void *data;
};

struct informer_options {
	const char *namespace;       /* NULL or "": all namespaces */
	const char *label_selector;  /* NULL or "": everything */
	const char *field_selector;  /* NULL or "": everything ("spec.nodeName=n1") */
	/* Run on every object before it is cached, as client-go's transform:
	 * drops in place what this process never reads, to save memory. It
	 * must keep metadata (name, namespace, resourceVersion) and must not
	 * make two versions of an object equal. Handlers see the result, so a
	 * process that writes objects back whole must not drop their fields.
	 * May be NULL; informers differ by it in a factory. */
	void (*transform)(json_t *obj);
};

/*
 * Creates a stopped informer. c (borrowed) must outlive it; res and opts
 * are copied. opts may be NULL.
 */
struct informer *informer_new(struct rest_client *c, const struct rest_resource *res,
			      const struct informer_options *opts);

/*
 * Adds a set of handlers (copied). Several sets may be added; each sees
 * every change. If the cache already holds objects, on_add runs for each of
 * them before this returns, so a late handler starts from the same picture.
 */
void informer_add_handlers(struct informer *inf, const struct informer_handlers *h);

/*
 * cb runs once, after the first list has been applied to the cache and its
 * adds delivered. If that already happened, cb runs before this returns.
 */
void informer_on_synced(struct informer *inf, void (*cb)(struct informer *inf, void *data),
			void *data);

/* Starts list + watch. Idempotent. */
void informer_start(struct informer *inf);

bool informer_has_synced(const struct informer *inf);

/* The cached object for key ("ns/name" or "name"), borrowed, or NULL. */
json_t *informer_get(const struct informer *inf, const char *key);

/*
 * The cached objects of namespace ns (NULL or "": all), as a new JSON array
 * holding references to the shared objects (read-only), in the order the
 * objects first appeared. Release it with json_decref.
 */
json_t *informer_list(const struct informer *inf, const char *ns);

size_t informer_count(const struct informer *inf);

/* The last resourceVersion seen (list, event or bookmark), borrowed, "" before any. */
const char *informer_resource_version(const struct informer *inf);

/* The resource, borrowed from the informer ("pods", group "", ...). */
const struct rest_resource *informer_resource(const struct informer *inf);

/*
 * Stops the informer: cancels its requests at once (so the rest client may be
 * closed right after this returns), no handler runs any more, and frees the
 * informer and its cache from the loop, then calls on_closed(arg) (may be NULL).
 */
void informer_close(struct informer *inf, void (*on_closed)(void *arg), void *arg);

/*
 * The factory: at most one informer per (resource, namespace, selectors).
 * c is borrowed and must outlive the factory.
 */
struct informer_factory *informer_factory_new(struct rest_client *c);

/*
 * The shared informer for res and opts (NULL: whole cluster, no selectors),
 * created on first use; owned by the factory. Informers created after
 * informer_factory_start are started at once.
 */
struct informer *informer_factory_get(struct informer_factory *f, const struct rest_resource *res,
				      const struct informer_options *opts);

/* Starts every informer of the factory (and those created later). */
void informer_factory_start(struct informer_factory *f);

/* True when every informer of the factory has synced. */
bool informer_factory_has_synced(const struct informer_factory *f);

/*
 * cb runs once, when every informer of the factory has synced (informers
 * added before that moment count). If all have synced already, cb runs
 * before this returns.
 */
void informer_factory_on_synced(struct informer_factory *f, void (*cb)(void *data), void *data);

/* Closes every informer, then frees the factory and calls on_closed(arg). */
void informer_factory_close(struct informer_factory *f, void (*on_closed)(void *arg), void *arg);

#endif
