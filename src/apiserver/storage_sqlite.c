/*
 * The SQLite backend of the store: one file in the data dir in WAL mode with
 * synchronous=FULL, so a write acknowledged after COMMIT survives kill -9 and
 * power loss. Two tables: meta (schema_version, revision) and kv (one row per
 * key with its create and last-modify revisions and its JSON). storage.c
 * calls store_sqlite_open() on the loop thread and then commit() only from
 * its writer thread, one transaction per batch of queued writes.
 */
#include "storage.h"
#include "storage_backend.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* Bump when the layout changes, and teach schema_migrate() the step. */
#define SCHEMA_VERSION 1

struct sqlite_backend {
	struct store_backend base;
	sqlite3 *db;
	char *path;
	int64_t revision;       /* last committed revision */
	sqlite3_stmt *begin, *commit, *rollback;
	sqlite3_stmt *get, *insert, *update, *del;
	sqlite3_stmt *get_revision, *set_revision;
};

static int sql_error(struct sqlite_backend *b, const char *what)
{
	return error("store '%s': %s failed: %s (check the disk and the file's permissions)",
		     b->path, what, sqlite3_errmsg(b->db));
}

static int sql_exec(struct sqlite_backend *b, const char *sql)
{
	if (sqlite3_exec(b->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		sql_error(b, sql);
		return -EIO;
	}
	return 0;
}

static int sql_prepare(struct sqlite_backend *b, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v3(b->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
		sql_error(b, sql);
		return -EIO;
	}
	return 0;
}

/* Runs a statement that returns no rows (or ignores them) and resets it. */
static int sql_step_done(struct sqlite_backend *b, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		error("store '%s': '%s' failed: %s", b->path, sqlite3_sql(st), sqlite3_errstr(rc));
		return -EIO;
	}
	return 0;
}

/* The single integer a query returns, or def when it returns no row. */
static int sql_query_int(struct sqlite_backend *b, const char *sql, int64_t def, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc, err = 0;

	if (sql_prepare(b, &st, sql))
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_type(st, 0) == SQLITE_INTEGER ? sqlite3_column_int64(st, 0) : -1;
	else if (rc == SQLITE_DONE)
		*out = def;
	else
		err = sql_error(b, sql);
	sqlite3_finalize(st);
	return err ? -EIO : 0;
}

static int schema_create(struct sqlite_backend *b)
{
	return sql_exec(b,
		"CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
		"CREATE TABLE kv(key TEXT PRIMARY KEY, create_rv INTEGER NOT NULL,"
		" mod_rv INTEGER NOT NULL, value TEXT NOT NULL);"
		"INSERT INTO meta(key, value) VALUES('schema_version', 1), ('revision', 0);");
}

/*
 * Brings the file to SCHEMA_VERSION inside one transaction: creates the
 * tables in a new file, refuses a layout we do not know (a newer minik8s
 * wrote it) rather than guessing.
 */
static int schema_migrate(struct sqlite_backend *b)
{
	int64_t has_meta, has_kv, version;
	int err;

	if ((err = sql_exec(b, "BEGIN IMMEDIATE")))
		return err;
	if ((err = sql_query_int(b, "SELECT count(*) FROM sqlite_master"
				 " WHERE type='table' AND name='meta'", 0, &has_meta)) ||
	    (err = sql_query_int(b, "SELECT count(*) FROM sqlite_master"
				 " WHERE type='table' AND name='kv'", 0, &has_kv)))
		goto out;
	if (!has_meta) {
		if (has_kv) {
			error("store '%s' has a kv table but no meta table: not a minik8s store;"
			      " move it away or use another --data-dir", b->path);
			err = -EPROTO;
			goto out;
		}
		if ((err = schema_create(b)))
			goto out;
		version = SCHEMA_VERSION;
	} else {
		if ((err = sql_query_int(b, "SELECT value FROM meta WHERE key='schema_version'", -1,
					 &version)))
			goto out;
		if (version < 1) {
			error("store '%s' has no valid schema_version: not a minik8s store;"
			      " move it away or use another --data-dir", b->path);
			err = -EPROTO;
			goto out;
		}
		if (version > SCHEMA_VERSION) {
			error("store '%s' has schema version %lld but this minik8s knows only up to %d:"
			      " run a newer minik8s or use another --data-dir",
			      b->path, (long long)version, SCHEMA_VERSION);
			err = -EPROTO;
			goto out;
		}
	}
	/* Migrations from older versions go here, one step per version, each
	 * ending with UPDATE meta SET value=<n> WHERE key='schema_version'. */
	err = sql_exec(b, "COMMIT");
out:
	if (err && !sqlite3_get_autocommit(b->db))
		sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

static int load_rows(struct sqlite_backend *b, store_load_fn load, void *data)
{
	sqlite3_stmt *st = NULL;
	int64_t max_rv = 0;
	int rc, err = 0;

	if (sql_prepare(b, &st, "SELECT key, create_rv, mod_rv, value FROM kv ORDER BY key"))
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		int64_t create_rv = sqlite3_column_int64(st, 1), mod_rv = sqlite3_column_int64(st, 2);
		const char *value = (const char *)sqlite3_column_text(st, 3);
		size_t len = (size_t)sqlite3_column_bytes(st, 3);

		if (!key || !value) {
			error("store '%s': a row has a NULL key or value; repair or move the file away",
			      b->path);
			err = -EPROTO;
			goto out;
		}
		if (mod_rv > max_rv)
			max_rv = mod_rv;
		if ((err = load(key, create_rv, mod_rv, value, len, data)))
			goto out;
	}
	if (rc != SQLITE_DONE) {
		sql_error(b, "loading the rows");
		err = -EIO;
		goto out;
	}
	/* A revision behind the rows would hand out revisions twice. */
	if (max_rv > b->revision) {
		log_warn("store '%s': revision %lld is behind the rows (%lld); continuing from the rows",
			 b->path, (long long)b->revision, (long long)max_rv);
		b->revision = max_rv;
	}
out:
	sqlite3_finalize(st);
	return err;
}

static void sqlite_close(struct store_backend *base)
{
	struct sqlite_backend *b = (struct sqlite_backend *)base;
	sqlite3_stmt *sts[] = { b->begin, b->commit, b->rollback, b->get, b->insert, b->update,
				b->del, b->get_revision, b->set_revision };

	for (size_t i = 0; i < ARRAY_SIZE(sts); i++)
		sqlite3_finalize(sts[i]);
	if (b->db && sqlite3_close(b->db) != SQLITE_OK)
		log_warn("store '%s': close failed: %s", b->path, sqlite3_errmsg(b->db));
	free(b->path);
	free(b);
}

/* Applies one write inside the open transaction; *rev is the running revision.
 * Returns 0 (the write's own outcome is in w->status) or -EIO. */
static int apply_write(struct sqlite_backend *b, struct store_write *w, int64_t *rev)
{
	int64_t mod_rv;
	int rc;

	w->status = 0;
	w->unchanged = false;
	w->rv = 0;
	if (w->kind == STORE_WRITE_CREATE) {
		sqlite3_bind_text(b->insert, 1, w->key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(b->insert, 2, *rev + 1);
		sqlite3_bind_int64(b->insert, 3, *rev + 1);
		sqlite3_bind_text(b->insert, 4, w->value, (int)w->value_len, SQLITE_STATIC);
		if (sql_step_done(b, b->insert))
			return -EIO;
		if (sqlite3_changes(b->db) == 0)
			w->status = STORE_EEXISTS;
		else
			w->rv = ++*rev;
		return 0;
	}

	sqlite3_bind_text(b->get, 1, w->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(b->get);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(b->get);
		w->status = STORE_ENOTFOUND;
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(b->get);
		error("store '%s': reading '%s' failed: %s", b->path, w->key, sqlite3_errstr(rc));
		return -EIO;
	}
	mod_rv = sqlite3_column_int64(b->get, 0);
	if (w->expect_rv && w->expect_rv != mod_rv) {
		w->status = STORE_ECONFLICT;
	} else if (w->kind == STORE_WRITE_UPDATE &&
		   (size_t)sqlite3_column_bytes(b->get, 1) == w->value_len &&
		   !memcmp(sqlite3_column_blob(b->get, 1), w->value, w->value_len)) {
		w->unchanged = true;
	}
	sqlite3_reset(b->get);
	if (w->status || w->unchanged)
		return 0;

	if (w->kind == STORE_WRITE_UPDATE) {
		sqlite3_bind_int64(b->update, 1, *rev + 1);
		sqlite3_bind_text(b->update, 2, w->value, (int)w->value_len, SQLITE_STATIC);
		sqlite3_bind_text(b->update, 3, w->key, -1, SQLITE_STATIC);
		if (sql_step_done(b, b->update))
			return -EIO;
	} else {
		sqlite3_bind_text(b->del, 1, w->key, -1, SQLITE_STATIC);
		if (sql_step_done(b, b->del))
			return -EIO;
	}
	w->rv = ++*rev;
	return 0;
}

static int sqlite_commit(struct store_backend *base, struct store_write *batch, bool fail)
{
	struct sqlite_backend *b = (struct sqlite_backend *)base;
	int64_t rev = b->revision, on_disk;
	int rc, err = STORE_EIO;

	if (sql_step_done(b, b->begin))
		goto out;
	/* Another process writing the same file would make our cache lie. */
	rc = sqlite3_step(b->get_revision);
	on_disk = rc == SQLITE_ROW ? sqlite3_column_int64(b->get_revision, 0) : -1;
	sqlite3_reset(b->get_revision);
	if (on_disk != rev) {
		error("store '%s' was changed by another process (revision %lld, expected %lld):"
		      " run only one apiserver per data dir and restart this one",
		      b->path, (long long)on_disk, (long long)rev);
		goto out;
	}
	for (struct store_write *w = batch; w; w = w->next)
		if (apply_write(b, w, &rev))
			goto out;
	if (rev != b->revision) {
		sqlite3_bind_int64(b->set_revision, 1, rev);
		if (sql_step_done(b, b->set_revision))
			goto out;
	}
	if (fail) {
		log_warn("store '%s': failing this commit on purpose (fault injection)", b->path);
		goto out;
	}
	if (sql_step_done(b, b->commit))
		goto out;
	b->revision = rev;
	err = 0;
out:
	/* SQLite may already have rolled back by itself (disk full, I/O error). */
	if (err && !sqlite3_get_autocommit(b->db) && sql_step_done(b, b->rollback))
		log_error("store '%s': rollback failed too; restart the apiserver", b->path);
	return err;
}

static const struct store_backend_ops sqlite_ops = {
	.name = "sqlite",
	.commit = sqlite_commit,
	.close = sqlite_close,
};

int store_sqlite_open(const char *path, store_load_fn load, void *data, int64_t *revision,
		      struct store_backend **out)
{
	struct sqlite_backend *b = xcalloc(1, sizeof(*b));
	sqlite3_stmt *st = NULL;
	const char *mode;
	int err = -EIO;

	*out = NULL;
	b->base.ops = &sqlite_ops;
	b->path = xstrdup(path);
	/* NOMUTEX: the connection is used by one thread at a time (open on the
	 * loop thread, then only the writer thread). */
	if (sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		error("cannot open store '%s': %s", path, b->db ? sqlite3_errmsg(b->db) : "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(b->db, 1);
	sqlite3_busy_timeout(b->db, 5000);

	if (sql_prepare(b, &st, "PRAGMA journal_mode=WAL"))
		goto out;
	mode = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	if (!mode || strcmp(mode, "wal")) {
		error("store '%s': cannot switch to WAL mode (%s); the file must be a SQLite"
		      " database on a local file system", path, mode ? mode : sqlite3_errmsg(b->db));
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* Nothing is read back after the load (every object is in memory), so
	 * the page cache only serves inserts walking the B-tree: 8 MB holds
	 * its inner pages for hundreds of thousands of rows. */
	if (sql_exec(b, "PRAGMA synchronous=FULL") || sql_exec(b, "PRAGMA cache_size=-8000"))
		goto out;
	if ((err = schema_migrate(b)))
		goto out;
	err = -EIO;
	if (sql_query_int(b, "SELECT value FROM meta WHERE key='revision'", 0, &b->revision))
		goto out;
	if (b->revision < 0) {
		error("store '%s': meta revision is not an integer; repair or move the file away", path);
		goto out;
	}
	if ((err = load_rows(b, load, data)))
		goto out;
	err = -EIO;
	if (sql_prepare(b, &b->begin, "BEGIN IMMEDIATE") ||
	    sql_prepare(b, &b->commit, "COMMIT") ||
	    sql_prepare(b, &b->rollback, "ROLLBACK") ||
	    sql_prepare(b, &b->get, "SELECT mod_rv, value FROM kv WHERE key=?1") ||
	    sql_prepare(b, &b->insert, "INSERT OR IGNORE INTO kv(key, create_rv, mod_rv, value)"
			" VALUES(?1, ?2, ?3, ?4)") ||
	    sql_prepare(b, &b->update, "UPDATE kv SET mod_rv=?1, value=?2 WHERE key=?3") ||
	    sql_prepare(b, &b->del, "DELETE FROM kv WHERE key=?1") ||
	    sql_prepare(b, &b->get_revision, "SELECT value FROM meta WHERE key='revision'") ||
	    sql_prepare(b, &b->set_revision, "UPDATE meta SET value=?1 WHERE key='revision'"))
		goto out;
	*revision = b->revision;
	*out = &b->base;
	err = 0;
out:
	sqlite3_finalize(st);
	if (err)
		sqlite_close(&b->base);
	return err;
}
