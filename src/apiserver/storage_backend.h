/*
 * Private to the store: the interface between storage.c (the in-memory
 * cache, write queue, watch window and the writer thread, all backend
 * independent) and a backend that makes writes durable (storage_sqlite.c;
 * an etcd backend can implement the same three calls later). Also declares
 * the test hooks that tests/unit/test-storage.c uses.
 *
 * Threading: a backend is opened on the loop thread inside store_open(),
 * before the writer thread starts; after that only the writer thread calls
 * it, so a backend needs no locking of its own.
 */
#ifndef MINIK8S_APISERVER_STORAGE_BACKEND_H
#define MINIK8S_APISERVER_STORAGE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

enum store_write_kind { STORE_WRITE_CREATE, STORE_WRITE_UPDATE, STORE_WRITE_DELETE };

/*
 * One write as the backend sees it: plain bytes, no jansson (jansson's
 * reference counts belong to the loop thread). The batch is a list linked
 * by next, applied in order.
 */
struct store_write {
	struct store_write *next;
	enum store_write_kind kind;
	const char *key;
	const char *value;      /* compact JSON without metadata.resourceVersion; NULL for delete */
	size_t value_len;
	int64_t expect_rv;      /* 0: no precondition on the revision */
	/* Results, filled in by commit(). */
	int status;             /* 0, STORE_EEXISTS, STORE_ENOTFOUND or STORE_ECONFLICT */
	bool unchanged;         /* update equal to the stored value: nothing written */
	int64_t rv;             /* the revision this write got (0 if it wrote nothing) */
};

struct store_backend;

struct store_backend_ops {
	const char *name;
	/*
	 * Applies the batch as one atomic transaction. Each write checks its own
	 * precondition against the stored state (including earlier writes of the
	 * same batch); one failing precondition does not affect the others.
	 * Every write that changes something gets the next revision. Returns 0
	 * once everything is durable, or STORE_EIO when nothing was changed (the
	 * revision counter is then back where it was). fail: fault injection,
	 * act as if the commit failed.
	 */
	int (*commit)(struct store_backend *b, struct store_write *batch, bool fail);
	/* Closes and frees the backend. */
	void (*close)(struct store_backend *b);
};

/* Every backend struct starts with this. */
struct store_backend {
	const struct store_backend_ops *ops;
};

/*
 * Called once per stored key while opening, in key order. The value is
 * only valid during the call. A non-zero return aborts the open with it.
 */
typedef int (*store_load_fn)(const char *key, int64_t create_rv, int64_t mod_rv,
			     const char *value, size_t len, void *data);

/*
 * Opens (creating or migrating) the SQLite file at path, feeds every row to
 * load and sets *revision to the last committed revision. Returns 0 or a
 * negative errno after logging a message that names the file.
 */
int store_sqlite_open(const char *path, store_load_fn load, void *data, int64_t *revision,
		      struct store_backend **out);

/* Test hooks. While held, the writer takes no new batch, so writes queued
 * meanwhile land in one transaction once released. */
void store_debug_hold_writes(struct store *s, bool hold);
/* Transactions the writer has run (committed or failed) since open. */
uint64_t store_debug_batches(struct store *s);

#endif
