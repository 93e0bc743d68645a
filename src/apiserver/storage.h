/*
 * Storage: the apiserver's only memory. A key-value store with one
 * cluster-wide revision counter, as etcd has, behind an interface that an
 * etcd backend can implement later without touching the handlers.
 *
 *   handlers --(create/update/delete)--> write queue --> writer thread
 *                                           one SQLite transaction per batch,
 *                                           each op checks its own precondition
 *   handlers <--(get/list, in memory)-- cache <-- applied after COMMIT --+
 *   watchers <--(events, in rv order)-- watch window (ring) <------------+
 *
 * Keys are "/registry/<resource>/<namespace>/<name>" or, for cluster-scoped
 * kinds, "/registry/<resource>/<name>". Values are JSON objects, kept in
 * memory as compact JSON text (struct store_obj), compressed once a few
 * thousand newer versions exist, with trees parsed on demand. The value stored on disk has no metadata.resourceVersion: every
 * object handed out carries the revision of its last change there, filled
 * in by the store.
 *
 * Threading: every function here is called on the loop thread given to
 * store_open(), and every callback runs there. Only the writer thread touches
 * SQLite after open.
 */
#ifndef MINIK8S_APISERVER_STORAGE_H
#define MINIK8S_APISERVER_STORAGE_H

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Status codes passed to completions (0 is success). */
#define STORE_ENOTFOUND (-ENOENT)  /* update/delete of a missing key */
#define STORE_EEXISTS (-EEXIST)    /* create of a present key */
#define STORE_ECONFLICT (-ESTALE)  /* expect_rv did not match the current revision */
#define STORE_EEXPIRED (-ERANGE)   /* watch from a revision older than the window */
#define STORE_EIO (-EIO)           /* the backend failed; nothing was changed */

struct store;
struct store_watch;

struct store_options {
	const char *path;        /* SQLite file, e.g. "<data-dir>/state.db" */
	size_t watch_window;     /* events kept for watch resumption; 0: 10000 */
	int max_batch;           /* writes per transaction at most; 0: 1000 */
	size_t tree_cache;       /* parsed trees kept between loop turns; 0: 1024 */
	size_t plain_versions;   /* newest versions kept as plain text; 0: 4096 */
};

/* Opens (creating or migrating the schema as needed) and loads every object
 * into memory. Returns 0 or a negative errno; on error *out is NULL and a
 * message has been logged that names the file. */
int store_open(struct store **out, uv_loop_t *loop, const struct store_options *opt);
/* Finishes queued writes (their callbacks run), stops the writer thread,
 * closes handles; cb (may be NULL) runs after the last handle closed and the
 * store is freed. Active watches get no more events and are freed. */
void store_close(struct store *s, void (*cb)(void *data), void *data);

/* The revision of the last committed write (0 for an empty store). */
int64_t store_revision(const struct store *s);
/* The oldest revision a watch can still start from (watch from rv >= this). */
int64_t store_oldest_watchable(const struct store *s);

/*
 * One stored version of one object: what the map holds for a key, and what
 * the watch window keeps of earlier versions. In memory it is its compact
 * JSON as served, metadata.resourceVersion included, about a tenth of what
 * the same object costs as a jansson tree. Once plain_versions newer
 * versions exist it is compressed with zstd, its resource's first object
 * serving as the dictionary (a pod: 2 KB of text, under 200 bytes). The
 * tree is parsed when somebody needs it and kept in a bounded cache of
 * recently used trees. Immutable; reference counted; loop thread only.
 */
struct store_obj;

/* The JSON text, NUL-terminated; *len (may be NULL) is its length. Borrowed:
 * o's own text, or o's decompressed into a buffer of the store that the
 * next decompression (any store_obj_* call on a compressed version)
 * reuses. Use it, or copy it, before calling the store again. */
const char *store_obj_json(const struct store_obj *o, size_t *len);
/* The length of that text, without decompressing anything. */
size_t store_obj_len(const struct store_obj *o);
int64_t store_obj_rv(const struct store_obj *o);
/* The parsed tree, borrowed and read-only: valid until control returns to
 * the loop (json_incref it to keep it longer), then possibly dropped from
 * the cache. For one object at a time; a walk over many uses
 * store_obj_parse so that it does not flush the cache. */
const json_t *store_obj_tree(struct store_obj *o);
/* A tree to read on one's own, new reference, not put in the cache (the
 * cached one, if any, shared). Read-only like the other. */
json_t *store_obj_parse(const struct store_obj *o);
/* Keeps o beyond the callback that lent it (the watch window and the map
 * hold their own references). */
struct store_obj *store_obj_ref(struct store_obj *o);
void store_obj_unref(struct store_obj *o);

/*
 * What label and field selectors look at, made once per version and kept
 * with it: label pairs, then field pairs (name, value), all strings.
 */
struct store_attrs {
	uint32_t nlabels, nfields;
	const char *kv[];   /* 2*nlabels, then 2*nfields */
};
/* Builds attrs from the object's tree; the result is freed with free(). */
typedef struct store_attrs *(*store_attrs_fn)(const json_t *obj, void *data);
/* o's attrs, made by make on first use (every caller must make the same
 * thing for the same key: the kind decides, and the key names the kind). */
const struct store_attrs *store_obj_attrs(struct store_obj *o, store_attrs_fn make, void *data);

/* The stored version at key (borrowed), or NULL. */
struct store_obj *store_lookup(struct store *s, const char *key);
/* The same, as a tree (store_obj_tree), or NULL. */
const json_t *store_get(struct store *s, const char *key);
/* Calls fn for each object whose key starts with prefix, in key order; stops
 * early when fn returns non-zero (and returns that value). */
int store_list(struct store *s, const char *prefix,
	       int (*fn)(const char *key, struct store_obj *obj, void *data), void *data);
/* The same with each object's tree, parsed for the call and not cached
 * (store_obj_parse): for walks that read every object. */
int store_list_trees(struct store *s, const char *prefix,
		     int (*fn)(const char *key, const json_t *obj, void *data), void *data);
size_t store_count(struct store *s, const char *prefix);

/*
 * Write completion. status is 0 or one of STORE_E*. On success obj is the
 * version now stored (borrowed) or, for a delete, the last state of the
 * deleted object with the deletion's revision. unchanged is true when an
 * update's value equalled the stored one: nothing was written, no revision
 * was used and no event sent; obj is the current one. On
 * STORE_ECONFLICT/STORE_EEXISTS obj is the current version (may be NULL).
 */
typedef void (*store_done_fn)(int status, struct store_obj *obj, bool unchanged, void *data);

/* The store steals obj (callers json_incref to keep theirs; then they must
 * not change it any more, as it becomes the stored version's tree). The
 * object's metadata.resourceVersion, if any, is ignored and not stored.
 * expect_rv: 0 for "whatever is there", else the revision the caller read. */
void store_create(struct store *s, const char *key, json_t *obj, store_done_fn cb, void *data);
void store_update(struct store *s, const char *key, json_t *obj, int64_t expect_rv,
		  store_done_fn cb, void *data);
void store_delete(struct store *s, const char *key, int64_t expect_rv, store_done_fn cb, void *data);

enum store_event_type { STORE_ADDED, STORE_MODIFIED, STORE_DELETED };

struct store_event {
	enum store_event_type type;
	int64_t rv;
	const char *key;
	struct store_obj *obj;   /* the new state; for DELETED the last state (rv = the deletion's) */
	struct store_obj *prev;  /* the state before (MODIFIED, DELETED), else NULL */
};

typedef void (*store_watch_fn)(const struct store_event *ev, void *data);

/*
 * Delivers, in revision order, every event with rv > from_rv on keys starting
 * with prefix: first those still in the window (synchronously, before this
 * returns), then live ones as writes commit. from_rv below
 * store_oldest_watchable() - 1 fails with STORE_EEXPIRED and fn is never
 * called. fn may call store_watch_stop() on its own watch.
 */
int store_watch(struct store *s, const char *prefix, int64_t from_rv, store_watch_fn fn,
		void *data, struct store_watch **out);
void store_watch_stop(struct store_watch *w);
size_t store_watch_count(const struct store *s);

/* Trees in the cache now, and the cache's hits and misses since open. */
void store_tree_cache_stats(const struct store *s, size_t *trees, uint64_t *hits, uint64_t *misses);
/* Compressed versions alive, the bytes of their text and what they take. */
void store_text_stats(const struct store *s, size_t *compressed, size_t *plain_bytes, size_t *stored_bytes);

/* Test hook: the n-th transaction commit from now fails as a full disk would
 * (0 disables). Every write in that batch gets STORE_EIO and nothing changes. */
void store_debug_fail_commit(struct store *s, int n);

#endif
