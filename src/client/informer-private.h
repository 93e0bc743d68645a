/*
 * Internals of informer.c that unit tests drive without a server: the cache
 * with its diffing (replace after a list, apply one watch event), and the
 * informer's handling of a list body and of one watch event. Not for use
 * outside src/client and its tests.
 */
#ifndef MINIK8S_CLIENT_INFORMER_PRIVATE_H
#define MINIK8S_CLIENT_INFORMER_PRIVATE_H

#include <jansson.h>

#include "informer.h"

enum informer_change { INFORMER_ADDED, INFORMER_UPDATED, INFORMER_DELETED };

/* Called after the cache changed: ADDED (NULL, obj), UPDATED (old, new),
 * DELETED (old, NULL). Objects are borrowed for the call. */
typedef void (*informer_emit_fn)(enum informer_change change, json_t *old_obj, json_t *new_obj,
				 void *data);

/*
 * The store: objects by key, and per namespace ("" for cluster-scoped) for
 * listing one namespace without a scan. Both maps hold references to the
 * same objects.
 */
struct informer_cache {
	json_t *objects;  /* key -> object, in the order keys first appeared */
	json_t *by_ns;    /* namespace -> { key -> object } */
	/* Every cached object is interned (core/intern.h): the parts that
	 * objects have in common are held once. */
	struct obj_intern *intern;
	void (*transform)(json_t *obj);   /* informer_options.transform, or NULL */
	informer_emit_fn emit;
	void *emit_data;
};

void informer_cache_init(struct informer_cache *cache, informer_emit_fn emit, void *data);
/* Drops every object without emitting anything. */
void informer_cache_release(struct informer_cache *cache);

/*
 * Makes the cache hold exactly the objects of items (a JSON array, borrowed;
 * the cache takes references) and emits the difference: for each item in
 * order, ADDED if its key is new or UPDATED if its resourceVersion changed
 * (unchanged objects emit nothing and keep the old pointer), then DELETED for
 * each key that is gone. Items without metadata.name are skipped. Returns the
 * number of changes emitted.
 */
int informer_cache_replace(struct informer_cache *cache, const json_t *items);

/*
 * Applies one watch event: "ADDED" or "MODIFIED" store obj (ADDED of a known
 * key with a new resourceVersion is an update, MODIFIED of an unknown key an
 * add, an unchanged resourceVersion nothing); "DELETED" removes the key and
 * emits the last cached state (nothing if unknown). obj is borrowed.
 * Returns 1 if something was emitted, 0 if not, -1 for another type or an
 * object without a name.
 */
int informer_cache_apply(struct informer_cache *cache, const char *type, json_t *obj);

/* Borrowed object for key, or NULL. */
json_t *informer_cache_get(const struct informer_cache *cache, const char *key);

/*
 * What the informer does with a list body (a *List object, borrowed; items
 * get kind/apiVersion filled in when missing): replace the cache, remember
 * metadata.resourceVersion, mark synced. Returns 0, or -1 if it has no items.
 */
int informer_apply_list(struct informer *inf, json_t *list);

/*
 * What the informer does with one watch event. Returns 0 to keep watching,
 * 1 if the informer must relist (ERROR with a 410 Status), -1 if the watch
 * must be restarted after a backoff (another ERROR).
 */
int informer_apply_event(struct informer *inf, const char *type, json_t *obj);

#endif
