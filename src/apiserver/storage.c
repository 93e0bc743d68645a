/*
 * The backend-independent half of the store (storage.h): every object lives
 * in memory in an ordered map (a skip list) for get and list, as its JSON
 * text (struct store_obj); writes are serialised on the loop thread and
 * queued for one writer thread that hands whole batches to the backend
 * (storage_sqlite.c) as single transactions; committed results come back
 * through a uv_async and are applied to memory, appended to the watch window
 * (a ring of the last events) and delivered to watchers, and only then is
 * each writer's callback called.
 *
 * Trees: a version keeps the tree it was written with, and any reader may
 * parse one; the tree cache holds the most recently used ones, and trims
 * itself to its size only when the loop is about to poll again (a uv_prepare),
 * so a tree lent to a callback lives at least as long as that callback.
 *
 * Threads: the writer thread sees only struct store_write (bytes) and the
 * queue, under s->mu. Everything holding a json_t stays on the loop thread,
 * since jansson's reference counts are not ours to share.
 */
#include "storage.h"
#include "storage_backend.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "log.h"
#include "object.h"
#include "util.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define DEFAULT_WATCH_WINDOW 10000
#define DEFAULT_MAX_BATCH 1000
#define DEFAULT_TREE_CACHE 1024
#define DEFAULT_PLAIN_VERSIONS 4096
/* Versions compressed per loop turn at most, so that a backlog (the whole
 * store after a restart) is worked off without holding up requests. */
#define COMPRESS_PER_TURN 1024
/* A resource's dictionary is the text of its first compressed object, or
 * this much of it. */
#define DICT_MAX (16 * 1024)
#define COMPRESS_LEVEL 1

/* ---- the ordered map -------------------------------------------------- */

/*
 * A skip list keyed by strcmp order (the order SQLite's BINARY collation
 * and store_list use). Expected O(log n) search, insert and delete with a
 * quarter of the nodes promoted per level; MAP_LEVELS levels are plenty for
 * 4^16 keys. Each node is one allocation: links, then the key.
 */
#define MAP_LEVELS 16

/*
 * A resource's compression dictionary ("/registry/pods", ...). Objects of
 * one resource are mostly the same keys and the same defaulted values, so
 * zstd given one of them as its dictionary ("raw content") writes the next
 * as little more than the bytes where it differs: a 2 KB pod in under 200.
 */
struct zdict {
	struct zdict *next;
	char *prefix;                 /* the key up to its third '/' */
	size_t prefix_len;
	ZSTD_CDict *c;                /* both NULL until the first object is compressed */
	ZSTD_DDict *d;
};

struct store_obj {
	struct store *s;
	int refs;
	int64_t rv;
	json_t *tree;                 /* parsed form while in the tree cache, else NULL */
	struct store_obj *lru_prev, *lru_next;  /* the cache, most recently used first */
	struct store_obj *young_next; /* waiting to be compressed (s->young) */
	struct store_attrs *attrs;    /* made on first use */
	struct zdict *zd;             /* its resource's dictionary */
	uint32_t rv_off;              /* where the resourceVersion's digits start in the text */
	uint32_t len;                 /* of the text */
	uint32_t zlen;                /* 0: text is the JSON; else it holds zlen compressed bytes */
	char *text;                   /* compact JSON with metadata.resourceVersion, NUL-terminated */
};

struct map_node {
	struct store_obj *obj;  /* owned reference */
	const char *key;        /* points into this allocation */
	int level;
	struct map_node *next[];
};

struct map {
	struct map_node *head;  /* sentinel with MAP_LEVELS links, no key */
	int level;              /* levels in use */
	size_t count;
	uint64_t rng;
};

static void map_init(struct map *m)
{
	m->head = xcalloc(1, sizeof(*m->head) + MAP_LEVELS * sizeof(m->head->next[0]));
	m->head->level = MAP_LEVELS;
	m->level = 1;
	m->count = 0;
	m->rng = 0x9e3779b97f4a7c15ull;
}

static void map_release(struct map *m)
{
	struct map_node *n = m->head->next[0], *next;

	for (; n; n = next) {
		next = n->next[0];
		store_obj_unref(n->obj);
		free(n);
	}
	free(m->head);
	m->head = NULL;
}

static int map_random_level(struct map *m)
{
	int level = 1;

	/* xorshift64: deterministic runs make performance reproducible. */
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	for (uint64_t r = m->rng; level < MAP_LEVELS && (r & 3) == 0; r >>= 2)
		level++;
	return level;
}

/* First node with key >= key; fills update[] with each level's predecessor. */
static struct map_node *map_seek(struct map *m, const char *key, struct map_node **update)
{
	struct map_node *x = m->head;

	for (int i = m->level - 1; i >= 0; i--) {
		while (x->next[i] && strcmp(x->next[i]->key, key) < 0)
			x = x->next[i];
		if (update)
			update[i] = x;
	}
	return x->next[0];
}

static struct map_node *map_find(struct map *m, const char *key)
{
	struct map_node *n = map_seek(m, key, NULL);

	return n && !strcmp(n->key, key) ? n : NULL;
}

/* Stores obj (stolen) under key; returns the reference it replaced or NULL. */
static struct store_obj *map_put(struct map *m, const char *key, struct store_obj *obj)
{
	struct map_node *update[MAP_LEVELS], *n;
	size_t klen;
	struct store_obj *old;
	int level;

	n = map_seek(m, key, update);
	if (n && !strcmp(n->key, key)) {
		old = n->obj;
		n->obj = obj;
		return old;
	}
	level = map_random_level(m);
	for (int i = m->level; i < level; i++)
		update[i] = m->head;
	if (level > m->level)
		m->level = level;
	klen = strlen(key);
	n = xmalloc(sizeof(*n) + level * sizeof(n->next[0]) + klen + 1);
	memcpy((char *)&n->next[level], key, klen + 1);
	n->key = (const char *)&n->next[level];
	n->obj = obj;
	n->level = level;
	for (int i = 0; i < level; i++) {
		n->next[i] = update[i]->next[i];
		update[i]->next[i] = n;
	}
	m->count++;
	return NULL;
}

/* Removes key; returns its reference (now the caller's) or NULL. */
static struct store_obj *map_remove(struct map *m, const char *key)
{
	struct map_node *update[MAP_LEVELS], *n;
	struct store_obj *obj;

	n = map_seek(m, key, update);
	if (!n || strcmp(n->key, key))
		return NULL;
	for (int i = 0; i < n->level; i++)
		update[i]->next[i] = n->next[i];
	while (m->level > 1 && !m->head->next[m->level - 1])
		m->level--;
	obj = n->obj;
	free(n);
	m->count--;
	return obj;
}

/* ---- the store -------------------------------------------------------- */

/*
 * One write from store_create/update/delete until it leaves the watch
 * window (or, if it produced no event, until its callback returned). The
 * key lives at the end of the allocation.
 */
struct store_op {
	struct store_write w;   /* what the writer thread sees; w.next links queues */
	struct store_event ev;  /* filled in when applied; lives on in the window */
	json_t *obj;            /* the caller's object (stolen), loop thread only */
	char *value;            /* serialised obj; freed once applied */
	store_done_fn cb;
	void *data;
	char key[];
};

struct watch_bucket {
	struct watch_bucket *next;
	struct store_watch *head, *tail;
	char *name;             /* "/registry/pods": up to the key's third '/' */
	size_t len;
};

struct store_watch {
	struct store *s;
	struct watch_bucket *bucket;
	struct store_watch *prev, *next;  /* in bucket; next stays valid after unlinking */
	struct store_watch *dead_next;
	char *prefix;
	size_t prefix_len;
	int64_t last_rv;                  /* the last event delivered (or from_rv) */
	store_watch_fn fn;
	void *data;
	bool stopped;
};

struct store {
	uv_loop_t *loop;
	const char *path;               /* the caller's, valid during store_open only */
	struct store_backend *backend;
	struct map map;
	int64_t revision;               /* last applied to memory */

	/* Watch window: ring of applied ops that produced an event, oldest first. */
	struct store_op **window;
	size_t window_cap, window_head, window_len;

	/* Watchers: those whose prefix reaches a third '/' sit in that bucket,
	 * the rest in all, checked for every event. */
	struct watch_bucket all;
	struct watch_bucket *buckets;
	struct store_watch *dead;       /* stopped during delivery, freed after */
	int delivering;
	size_t nwatch;

	size_t pending;                 /* writes whose callback has not run yet */
	bool closing, shut;
	void (*close_cb)(void *data);
	void *close_data;

	/* Shared with the writer thread, under mu. */
	uv_mutex_t mu;
	uv_cond_t cv;
	uv_thread_t thread;
	uv_async_t async;
	struct store_write *queue, *queue_tail;
	struct store_write *done, *done_tail;
	int max_batch;
	bool stop, hold;
	int fail_commit;
	uint64_t batches;

	/* The tree cache (loop thread): versions holding a tree, most recently
	 * used first; trimmed to tree_cap by the housekeeping prepare handle. */
	struct store_obj *lru_head, *lru_tail;
	size_t ntrees, tree_cap;
	uint64_t tree_hits, tree_misses;
	uv_prepare_t housekeeping;
	bool housekeeping_on;

	/* Text compression (loop thread): the newest plain_cap versions stay
	 * plain, in young, oldest first, each holding a reference; older ones
	 * are compressed with their resource's dictionary by the prepare
	 * handle. Reads decompress into scratch. */
	struct store_obj *young_head, *young_tail;
	size_t nyoung, plain_cap;
	struct zdict *dicts;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	struct strbuf scratch, zbuf;
	size_t zcount, zplain_bytes, zbytes;
	int handles;                    /* libuv handles not closed yet */
};

static void op_free(struct store_op *op)
{
	json_decref(op->obj);
	store_obj_unref(op->ev.obj);
	store_obj_unref(op->ev.prev);
	free(op->value);
	free(op);
}

/* ---- stored versions ---------------------------------------------------- */

/*
 * Where "resourceVersion" goes in compact JSON that obj_dump made: the
 * offset of the closing '}' of the top-level "metadata" object, or 0 when
 * the object has none. Only the top level is read member by member; values
 * are skipped with their strings and nesting, which is all the grammar a
 * valid text needs.
 */
static size_t metadata_close(const char *js, size_t len)
{
	size_t i = 1;   /* past '{' */

	while (i < len && js[i] == '"') {
		size_t kstart = ++i, depth = 0;
		bool is_md;

		while (i < len && js[i] != '"')
			i += js[i] == '\\' ? 2 : 1;
		is_md = i - kstart == 8 && !memcmp(js + kstart, "metadata", 8);
		i += 2;   /* '"' ':' */
		for (; i < len; i++) {
			char c = js[i];

			if (c == '"') {
				for (i++; i < len && js[i] != '"'; i++)
					if (js[i] == '\\')
						i++;
			} else if (c == '{' || c == '[') {
				depth++;
			} else if (c == '}' || c == ']') {
				if (depth == 0)
					break;   /* the end of the top-level object */
				if (--depth == 0 && is_md)
					return i;
			} else if (c == ',' && depth == 0) {
				break;
			}
		}
		if (i >= len || js[i] != ',')
			return 0;
		i++;
	}
	return 0;
}

static void young_push(struct store *s, struct store_obj *o);

static struct zdict *dict_for(struct store *s, const char *key)
{
	const char *p = key;
	size_t len;
	struct zdict *d;

	for (int slashes = 0; *p && !(*p == '/' && ++slashes == 3); p++)
		;
	len = (size_t)(p - key);
	for (d = s->dicts; d; d = d->next)
		if (d->prefix_len == len && !memcmp(d->prefix, key, len))
			return d;
	d = xcalloc(1, sizeof(*d));
	d->prefix = xstrndup(key, len);
	d->prefix_len = len;
	d->next = s->dicts;
	s->dicts = d;
	return d;
}

/* A new version of the object at a key of zd's resource, with room for a
 * text of len bytes; young until it is compressed. */
static struct store_obj *obj_alloc(struct store *s, struct zdict *zd, size_t len, int64_t rv)
{
	struct store_obj *o = xcalloc(1, sizeof(*o));

	o->s = s;
	o->refs = 1;
	o->rv = rv;
	o->zd = zd;
	o->len = (uint32_t)len;
	o->text = xmalloc(len + 1);
	young_push(s, o);
	return o;
}

/* o's JSON: its own text, or decompressed into the store's scratch buffer
 * (then valid until the next decompression). */
static const char *obj_text(const struct store_obj *o, size_t *len)
{
	struct store *s = o->s;
	size_t n;

	if (len)
		*len = o->len;
	if (!o->zlen)
		return o->text;
	strbuf_reset(&s->scratch);
	strbuf_grow(&s->scratch, (size_t)o->len + 1);
	n = ZSTD_decompress_usingDDict(s->dctx, s->scratch.buf, (size_t)o->len + 1, o->text, o->zlen, o->zd->d);
	if (ZSTD_isError(n) || n != o->len)
		die("store: cannot decompress a stored version (rv %lld): %s", (long long)o->rv,
		    ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length");
	s->scratch.buf[n] = '\0';
	s->scratch.len = n;
	return s->scratch.buf;
}

/* A version from the stored text (compact JSON without resourceVersion):
 * the same text with "resourceVersion":"<rv>" as the last member of
 * metadata, where obj_set_rv() puts it in a tree, so that the text is
 * always what obj_dump() prints of the tree. */
static struct store_obj *obj_from_value(struct store *s, const char *key, const char *value, size_t vlen,
				        int64_t rv)
{
	size_t at = metadata_close(value, vlen), olen, clen, dlen, len;
	const char *open, *close = "\"";
	char digits[24];
	struct store_obj *o;
	char *p;

	if (at) {
		open = value[at - 1] == '{' ? "\"resourceVersion\":\"" : ",\"resourceVersion\":\"";
	} else {   /* no metadata at all: it is appended, as obj_set_rv would */
		at = vlen - 1;
		open = vlen > 2 ? ",\"metadata\":{\"resourceVersion\":\"" : "\"metadata\":{\"resourceVersion\":\"";
		close = "\"}";
	}
	olen = strlen(open);
	clen = strlen(close);
	dlen = (size_t)snprintf(digits, sizeof(digits), "%" PRId64, rv);
	len = vlen + olen + dlen + clen;
	o = obj_alloc(s, dict_for(s, key), len, rv);
	p = o->text;
	memcpy(p, value, at);
	p += at;
	memcpy(p, open, olen);
	p += olen;
	memcpy(p, digits, dlen);
	p += dlen;
	memcpy(p, close, clen);
	p += clen;
	memcpy(p, value + at, vlen - at);
	o->text[len] = '\0';
	o->rv_off = (uint32_t)(at + olen);
	return o;
}

/* The same text stamped with another revision (a deleted object's last state). */
static struct store_obj *obj_restamped(const struct store_obj *old, int64_t rv)
{
	char digits[24];
	size_t olen = (size_t)snprintf(NULL, 0, "%" PRId64, old->rv);
	size_t nlen = (size_t)snprintf(digits, sizeof(digits), "%" PRId64, rv);
	size_t len = old->len - olen + nlen;
	const char *from = obj_text(old, NULL);
	struct store_obj *o = obj_alloc(old->s, old->zd, len, rv);

	memcpy(o->text, from, old->rv_off);
	memcpy(o->text + old->rv_off, digits, nlen);
	memcpy(o->text + old->rv_off + nlen, from + old->rv_off + olen, old->len - old->rv_off - olen);
	o->text[len] = '\0';
	o->rv_off = old->rv_off;
	return o;
}

const char *store_obj_json(const struct store_obj *o, size_t *len)
{
	return obj_text(o, len);
}

size_t store_obj_len(const struct store_obj *o)
{
	return o->len;
}

int64_t store_obj_rv(const struct store_obj *o)
{
	return o->rv;
}

struct store_obj *store_obj_ref(struct store_obj *o)
{
	if (o)
		o->refs++;
	return o;
}

static void lru_unlink(struct store *s, struct store_obj *o)
{
	if (o->lru_prev)
		o->lru_prev->lru_next = o->lru_next;
	else
		s->lru_head = o->lru_next;
	if (o->lru_next)
		o->lru_next->lru_prev = o->lru_prev;
	else
		s->lru_tail = o->lru_prev;
	o->lru_prev = o->lru_next = NULL;
}

static void lru_push(struct store *s, struct store_obj *o)
{
	o->lru_next = s->lru_head;
	if (s->lru_head)
		s->lru_head->lru_prev = o;
	else
		s->lru_tail = o;
	s->lru_head = o;
}

static void tree_drop(struct store_obj *o)
{
	struct store *s = o->s;

	lru_unlink(s, o);
	json_decref(o->tree);
	o->tree = NULL;
	s->ntrees--;
}

void store_obj_unref(struct store_obj *o)
{
	if (!o || --o->refs > 0)
		return;
	if (o->tree)
		tree_drop(o);
	if (o->zlen) {
		o->s->zcount--;
		o->s->zplain_bytes -= o->len;
		o->s->zbytes -= o->zlen;
	}
	free(o->attrs);
	free(o->text);
	free(o);
}

/* Compresses o's text with its resource's dictionary, the first object
 * compressed making that dictionary. Keeps it plain if that does not pay. */
static void obj_compress(struct store *s, struct store_obj *o)
{
	struct zdict *zd = o->zd;
	size_t n;

	if (o->zlen)
		return;
	if (!zd->c) {
		size_t dlen = o->len < DICT_MAX ? o->len : DICT_MAX;

		zd->c = ZSTD_createCDict(o->text, dlen, COMPRESS_LEVEL);
		zd->d = ZSTD_createDDict(o->text, dlen);
		if (!zd->c || !zd->d)
			die("store: out of memory making the compression dictionary of %s", zd->prefix);
	}
	strbuf_reset(&s->zbuf);
	strbuf_grow(&s->zbuf, ZSTD_compressBound(o->len));
	n = ZSTD_compress_usingCDict(s->cctx, s->zbuf.buf, s->zbuf.alloc, o->text, o->len, zd->c);
	if (ZSTD_isError(n) || n >= o->len)
		return;
	free(o->text);
	o->text = xmalloc(n);
	memcpy(o->text, s->zbuf.buf, n);
	o->zlen = (uint32_t)n;
	s->zcount++;
	s->zplain_bytes += o->len;
	s->zbytes += n;
}

static bool housekeeping_due(const struct store *s)
{
	return s->ntrees > s->tree_cap || s->nyoung > s->plain_cap;
}

/* Between loop turns: trims the tree cache, compresses what is no longer
 * young (a bounded number per turn), and stops once both are done. */
static void on_housekeeping(uv_prepare_t *h)
{
	struct store *s = h->data;

	while (s->ntrees > s->tree_cap)
		tree_drop(s->lru_tail);
	for (int i = 0; i < COMPRESS_PER_TURN && s->nyoung > s->plain_cap; i++) {
		struct store_obj *o = s->young_head;

		s->young_head = o->young_next;
		if (!s->young_head)
			s->young_tail = NULL;
		o->young_next = NULL;
		s->nyoung--;
		if (o->refs > 1)   /* else only young held it */
			obj_compress(s, o);
		store_obj_unref(o);
	}
	if (!housekeeping_due(s)) {
		uv_prepare_stop(h);
		s->housekeeping_on = false;
	}
}

static void housekeeping_start(struct store *s)
{
	if (housekeeping_due(s) && !s->housekeeping_on && !s->shut && s->handles) {
		uv_prepare_start(&s->housekeeping, on_housekeeping);
		s->housekeeping_on = true;
	}
}

static void young_push(struct store *s, struct store_obj *o)
{
	o->refs++;
	if (s->young_tail)
		s->young_tail->young_next = o;
	else
		s->young_head = o;
	s->young_tail = o;
	s->nyoung++;
	housekeeping_start(s);
}

/* Gives o its tree (stolen) or marks the one it has as just used. */
static void tree_keep(struct store_obj *o, json_t *tree)
{
	struct store *s = o->s;

	if (o->tree) {
		lru_unlink(s, o);
	} else {
		o->tree = tree;
		s->ntrees++;
	}
	lru_push(s, o);
	housekeeping_start(s);
}

const json_t *store_obj_tree(struct store_obj *o)
{
	if (o->tree) {
		o->s->tree_hits++;
		tree_keep(o, NULL);
		return o->tree;
	}
	o->s->tree_misses++;
	tree_keep(o, obj_parse(obj_text(o, NULL), o->len, 0, NULL));
	return o->tree;
}

json_t *store_obj_parse(const struct store_obj *o)
{
	return o->tree ? json_incref(o->tree) : obj_parse(obj_text(o, NULL), o->len, 0, NULL);
}

const struct store_attrs *store_obj_attrs(struct store_obj *o, store_attrs_fn make, void *data)
{
	if (!o->attrs) {
		json_t *tree = store_obj_parse(o);

		o->attrs = make(tree, data);
		json_decref(tree);
	}
	return o->attrs;
}

void store_text_stats(const struct store *s, size_t *compressed, size_t *plain_bytes, size_t *stored_bytes)
{
	*compressed = s->zcount;
	*plain_bytes = s->zplain_bytes;
	*stored_bytes = s->zbytes;
}

void store_tree_cache_stats(const struct store *s, size_t *trees, uint64_t *hits, uint64_t *misses)
{
	*trees = s->ntrees;
	*hits = s->tree_hits;
	*misses = s->tree_misses;
}

/* ---- loading ---------------------------------------------------------- */

static int on_load(const char *key, int64_t create_rv, int64_t mod_rv, const char *value,
		   size_t len, void *data)
{
	struct store *s = data;
	json_error_t jerr;
	/* Parsed once to refuse a damaged row now rather than at first use;
	 * the tree is not kept: most objects are never read as one. */
	json_t *obj = obj_parse(value, len, 0, &jerr);

	if (!json_is_object(obj)) {
		error("cannot load key '%s' from store '%s': %s; repair or delete that row",
		      key, s->path, obj ? "not a JSON object" : jerr.text);
		json_decref(obj);
		return -EPROTO;
	}
	json_decref(obj);
	store_obj_unref(map_put(&s->map, key, obj_from_value(s, key, value, len, mod_rv)));
	return 0;
}

static void bucket_free_watches(struct watch_bucket *b)
{
	struct store_watch *w, *next;

	for (w = b->head; w; w = next) {
		next = w->next;
		free(w->prefix);
		free(w);
	}
	free(b->name);
}

static void store_free(struct store *s)
{
	struct watch_bucket *b, *bnext;
	struct store_watch *w, *wnext;

	map_release(&s->map);
	for (size_t i = 0; i < s->window_len; i++)
		op_free(s->window[(s->window_head + i) % s->window_cap]);
	free(s->window);
	while (s->young_head) {
		struct store_obj *o = s->young_head;

		s->young_head = o->young_next;
		store_obj_unref(o);
	}
	while (s->dicts) {
		struct zdict *d = s->dicts;

		s->dicts = d->next;
		ZSTD_freeCDict(d->c);
		ZSTD_freeDDict(d->d);
		free(d->prefix);
		free(d);
	}
	ZSTD_freeCCtx(s->cctx);
	ZSTD_freeDCtx(s->dctx);
	strbuf_release(&s->scratch);
	strbuf_release(&s->zbuf);
	for (w = s->dead; w; w = wnext) {
		wnext = w->dead_next;
		free(w->prefix);
		free(w);
	}
	bucket_free_watches(&s->all);
	for (b = s->buckets; b; b = bnext) {
		bnext = b->next;
		bucket_free_watches(b);
		free(b);
	}
	free(s);
}

/* ---- the writer thread ------------------------------------------------ */

static void writer_main(void *arg)
{
	struct store *s = arg;
	struct store_write *batch, *last;
	bool fail;
	int n, err;

	log_name_thread("storage");
	uv_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stop && (!s->queue || s->hold))
			uv_cond_wait(&s->cv, &s->mu);
		if (!s->queue)
			break;
		batch = last = s->queue;
		for (n = 1; n < s->max_batch && last->next; n++)
			last = last->next;
		s->queue = last->next;
		if (!s->queue)
			s->queue_tail = NULL;
		last->next = NULL;
		fail = s->fail_commit > 0 && --s->fail_commit == 0;
		uv_mutex_unlock(&s->mu);

		err = s->backend->ops->commit(s->backend, batch, fail);
		if (err) {
			for (struct store_write *w = batch; w; w = w->next) {
				w->status = STORE_EIO;
				w->unchanged = false;
				w->rv = 0;
			}
		}

		uv_mutex_lock(&s->mu);
		s->batches++;
		if (s->done_tail)
			s->done_tail->next = batch;
		else
			s->done = batch;
		s->done_tail = last;
		uv_mutex_unlock(&s->mu);
		uv_async_send(&s->async);
		uv_mutex_lock(&s->mu);
	}
	uv_mutex_unlock(&s->mu);
	s->backend->ops->close(s->backend);
	s->backend = NULL;
}

/* ---- watch delivery --------------------------------------------------- */

/* Length of s up to (not including) its third '/', or 0 if it has none. */
static size_t bucket_len(const char *s)
{
	int slashes = 0;

	for (const char *p = s; *p; p++)
		if (*p == '/' && ++slashes == 3)
			return (size_t)(p - s);
	return 0;
}

static struct watch_bucket *bucket_find(struct store *s, const char *name, size_t len)
{
	for (struct watch_bucket *b = s->buckets; b; b = b->next)
		if (b->len == len && !memcmp(b->name, name, len))
			return b;
	return NULL;
}

static void watch_reap(struct store *s)
{
	struct store_watch *w;

	while ((w = s->dead)) {
		s->dead = w->dead_next;
		free(w->prefix);
		free(w);
	}
}

static void deliver_bucket(struct store *s, struct watch_bucket *b, const struct store_event *ev)
{
	for (struct store_watch *w = b->head; w && !s->closing; w = w->next) {
		if (w->stopped || ev->rv <= w->last_rv ||
		    strncmp(ev->key, w->prefix, w->prefix_len))
			continue;
		w->last_rv = ev->rv;
		w->fn(ev, w->data);
	}
}

static void deliver(struct store *s, const struct store_event *ev)
{
	size_t len = bucket_len(ev->key);
	struct watch_bucket *b;

	if (!s->nwatch || s->closing)
		return;
	s->delivering++;
	deliver_bucket(s, &s->all, ev);
	if (len && (b = bucket_find(s, ev->key, len)))
		deliver_bucket(s, b, ev);
	if (!--s->delivering)
		watch_reap(s);
}

static void window_push(struct store *s, struct store_op *op)
{
	if (s->window_len == s->window_cap) {
		op_free(s->window[s->window_head]);
		s->window_head = (s->window_head + 1) % s->window_cap;
		s->window_len--;
	}
	s->window[(s->window_head + s->window_len) % s->window_cap] = op;
	s->window_len++;
}

static struct store_op *window_at(const struct store *s, size_t i)
{
	return s->window[(s->window_head + i) % s->window_cap];
}

/* ---- applying committed writes (loop thread) -------------------------- */

static void op_done(struct store *s, struct store_op *op, int status, struct store_obj *obj,
		    bool unchanged)
{
	s->pending--;
	if (op->cb)
		op->cb(status, obj, unchanged, op->data);
}

static void op_apply(struct store *s, struct store_op *op)
{
	struct store_obj *old, *o;
	struct map_node *n;

	if (op->w.status || op->w.unchanged) {
		/* Conflicts and unchanged updates report what is stored now. */
		n = op->w.unchanged || op->w.status == STORE_EEXISTS || op->w.status == STORE_ECONFLICT
			? map_find(&s->map, op->key) : NULL;
		op_done(s, op, op->w.status, n ? n->obj : NULL, op->w.unchanged);
		op_free(op);
		return;
	}

	op->ev.rv = op->w.rv;
	switch (op->w.kind) {
	case STORE_WRITE_CREATE:
	case STORE_WRITE_UPDATE:
		/* The text and the tree say the same: the tree gets the revision
		 * where the text has it, and stays cached as this version's. */
		o = obj_from_value(s, op->key, op->value, op->w.value_len, op->ev.rv);
		obj_set_rv(op->obj, op->ev.rv);
		tree_keep(o, op->obj);
		op->obj = NULL;
		old = map_put(&s->map, op->key, store_obj_ref(o));
		if ((old != NULL) != (op->w.kind == STORE_WRITE_UPDATE))
			log_error("store cache disagrees with the backend on key=%s rv=%lld",
				  op->key, (long long)op->ev.rv);
		op->ev.type = old ? STORE_MODIFIED : STORE_ADDED;
		op->ev.obj = o;
		op->ev.prev = old;
		break;
	case STORE_WRITE_DELETE:
		old = map_remove(&s->map, op->key);
		if (!old) {
			log_error("store cache disagrees with the backend on key=%s rv=%lld",
				  op->key, (long long)op->ev.rv);
			old = obj_from_value(s, op->key, "{}", 2, op->ev.rv);
		}
		op->ev.type = STORE_DELETED;
		op->ev.obj = obj_restamped(old, op->ev.rv);
		op->ev.prev = old;
		break;
	}
	free(op->value);
	op->value = NULL;
	s->revision = op->ev.rv;
	window_push(s, op);
	deliver(s, &op->ev);
	/* The old version's selector view served this event's filters; only
	 * a watch resumed from before it would look again, and remakes it. */
	if (op->ev.prev && op->ev.prev->attrs) {
		free(op->ev.prev->attrs);
		op->ev.prev->attrs = NULL;
	}
	op_done(s, op, 0, op->ev.obj, false);
}

static void store_shutdown(struct store *s);

static void on_async(uv_async_t *h)
{
	struct store *s = h->data;
	struct store_write *list, *next;

	uv_mutex_lock(&s->mu);
	list = s->done;
	s->done = s->done_tail = NULL;
	uv_mutex_unlock(&s->mu);
	for (; list; list = next) {
		next = list->next;
		list->next = NULL;
		op_apply(s, container_of(list, struct store_op, w));
	}
	if (s->closing && !s->pending && !s->shut)
		store_shutdown(s);
}

/* ---- open and close --------------------------------------------------- */

/* Stops the writer thread, which closes the backend on its way out. It must
 * be idle: only called once every write has completed. */
static void writer_stop(struct store *s)
{
	uv_mutex_lock(&s->mu);
	s->stop = true;
	uv_cond_signal(&s->cv);
	uv_mutex_unlock(&s->mu);
	uv_thread_join(&s->thread);
}

int store_open(struct store **out, uv_loop_t *loop, const struct store_options *opt)
{
	struct store *s = xcalloc(1, sizeof(*s));
	const char *slash = strrchr(opt->path, '/');
	bool opened = false, have_sync = false;
	int err = 0;

	*out = NULL;
	s->loop = loop;
	s->path = opt->path;
	map_init(&s->map);
	s->window_cap = opt->watch_window ? opt->watch_window : DEFAULT_WATCH_WINDOW;
	s->window = xcalloc(s->window_cap, sizeof(*s->window));
	s->max_batch = opt->max_batch > 0 ? opt->max_batch : DEFAULT_MAX_BATCH;
	s->tree_cap = opt->tree_cache ? opt->tree_cache : DEFAULT_TREE_CACHE;
	s->plain_cap = opt->plain_versions ? opt->plain_versions : DEFAULT_PLAIN_VERSIONS;
	s->cctx = ZSTD_createCCtx();
	s->dctx = ZSTD_createDCtx();
	if (!s->cctx || !s->dctx)
		die("store: out of memory for the zstd contexts");
	strbuf_init(&s->scratch, 0);
	strbuf_init(&s->zbuf, 0);

	if (slash && slash != opt->path) {
		char *dir = xstrndup(opt->path, (size_t)(slash - opt->path));

		err = mkdir_p(dir, 0700);
		if (err)
			error("cannot create directory '%s' for store '%s': %s", dir, opt->path,
			      strerror(-err));
		free(dir);
		if (err)
			goto out;
	}
	if ((err = store_sqlite_open(opt->path, on_load, s, &s->revision, &s->backend)))
		goto out;
	opened = true;

	if ((err = uv_mutex_init(&s->mu)))
		goto out;
	if ((err = uv_cond_init(&s->cv))) {
		uv_mutex_destroy(&s->mu);
		goto out;
	}
	have_sync = true;
	if ((err = uv_thread_create(&s->thread, writer_main, s)))
		goto out;
	/* The writer sends only after a write, and none can exist before we return. */
	if ((err = uv_async_init(loop, &s->async, on_async))) {
		writer_stop(s);   /* it closes the backend on its way out */
		goto out;
	}
	s->async.data = s;
	uv_prepare_init(loop, &s->housekeeping);   /* cannot fail */
	s->housekeeping.data = s;
	s->handles = 2;
	housekeeping_start(s);   /* what was loaded gets compressed over the first turns */
	s->path = NULL;
	log_info("store opened path=%s keys=%zu revision=%lld", opt->path, s->map.count,
		 (long long)s->revision);
	*out = s;
	return 0;

out:
	if (opened)   /* only libuv calls fail after the backend opened */
		error("cannot start store '%s': %s", opt->path, uv_strerror(err));
	if (s->backend)
		s->backend->ops->close(s->backend);
	if (have_sync) {
		uv_cond_destroy(&s->cv);
		uv_mutex_destroy(&s->mu);
	}
	store_free(s);
	return err < 0 ? err : -EIO;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct store *s = h->data;
	void (*cb)(void *data) = s->close_cb;
	void *data = s->close_data;

	if (--s->handles > 0)
		return;
	uv_cond_destroy(&s->cv);
	uv_mutex_destroy(&s->mu);
	store_free(s);
	if (cb)
		cb(data);
}

/* Every write has completed: stop the (idle) writer and close the handles. */
static void store_shutdown(struct store *s)
{
	s->shut = true;
	writer_stop(s);
	uv_close((uv_handle_t *)&s->async, on_handle_closed);
	uv_close((uv_handle_t *)&s->housekeeping, on_handle_closed);
}

void store_close(struct store *s, void (*cb)(void *data), void *data)
{
	if (s->closing)
		return;
	s->closing = true;
	s->close_cb = cb;
	s->close_data = data;
	store_debug_hold_writes(s, false);
	/* on_async finishes the close once the queued writes have completed. */
	uv_async_send(&s->async);
}

/* ---- reads ------------------------------------------------------------ */

int64_t store_revision(const struct store *s)
{
	return s->revision;
}

int64_t store_oldest_watchable(const struct store *s)
{
	return s->window_len ? window_at(s, 0)->ev.rv : s->revision + 1;
}

struct store_obj *store_lookup(struct store *s, const char *key)
{
	struct map_node *n = map_find(&s->map, key);

	return n ? n->obj : NULL;
}

const json_t *store_get(struct store *s, const char *key)
{
	struct map_node *n = map_find(&s->map, key);

	return n ? store_obj_tree(n->obj) : NULL;
}

int store_list(struct store *s, const char *prefix,
	       int (*fn)(const char *key, struct store_obj *obj, void *data), void *data)
{
	size_t plen = strlen(prefix);
	int ret;

	for (struct map_node *n = map_seek(&s->map, prefix, NULL);
	     n && !strncmp(n->key, prefix, plen); n = n->next[0])
		if ((ret = fn(n->key, n->obj, data)))
			return ret;
	return 0;
}

int store_list_trees(struct store *s, const char *prefix,
		     int (*fn)(const char *key, const json_t *obj, void *data), void *data)
{
	size_t plen = strlen(prefix);
	int ret = 0;

	for (struct map_node *n = map_seek(&s->map, prefix, NULL);
	     !ret && n && !strncmp(n->key, prefix, plen); n = n->next[0]) {
		json_t *tree = store_obj_parse(n->obj);

		ret = fn(n->key, tree, data);
		json_decref(tree);
	}
	return ret;
}

size_t store_count(struct store *s, const char *prefix)
{
	size_t plen = strlen(prefix), count = 0;

	if (!plen)
		return s->map.count;
	for (struct map_node *n = map_seek(&s->map, prefix, NULL);
	     n && !strncmp(n->key, prefix, plen); n = n->next[0])
		count++;
	return count;
}

/* ---- writes ----------------------------------------------------------- */

/*
 * Makes obj safe to stamp with a revision later: we own it, but parts of it
 * may be shared (a caller that kept a reference, a shallow copy of a stored
 * object), so the top level and metadata are copied when anyone else holds
 * them. Then drops the resourceVersion, which is never stored.
 */
static json_t *own_object(json_t *obj)
{
	json_t *md;

	if (obj->refcount > 1) {
		json_t *copy = json_copy(obj);

		json_decref(obj);
		obj = copy;
	}
	md = json_object_get(obj, "metadata");
	if (json_is_object(md)) {
		if (md->refcount > 1)
			json_object_set_new(obj, "metadata", md = json_copy(md));
		json_object_del(md, "resourceVersion");
	}
	return obj;
}

static void store_submit(struct store *s, enum store_write_kind kind, const char *key,
			 json_t *obj, int64_t expect_rv, store_done_fn cb, void *data)
{
	size_t klen = key ? strlen(key) : 0;
	struct store_op *op;
	bool queue;

	if (s->shut) {
		/* The store is gone but for its close callback: nowhere to queue. */
		error("write to key '%s' after the store closed; close the store last",
		      key ? key : "");
		json_decref(obj);
		if (cb)
			cb(STORE_EIO, NULL, false, data);
		return;
	}
	op = xcalloc(1, sizeof(*op) + klen + 1);
	if (klen)
		memcpy(op->key, key, klen + 1);
	op->w.kind = kind;
	op->w.key = op->key;
	op->w.expect_rv = expect_rv;
	op->ev.key = op->key;
	op->cb = cb;
	op->data = data;
	s->pending++;

	if (!klen || (kind != STORE_WRITE_DELETE && !json_is_object(obj))) {
		error("write to key '%s' rejected: %s", key ? key : "",
		      !klen ? "empty key" : "value is not a JSON object");
		json_decref(obj);
		op->w.status = -EINVAL;
	} else if (s->closing) {
		error("write to key '%s' after store_close; stop writers before closing", key);
		json_decref(obj);
		op->w.status = STORE_EIO;
	} else if (obj) {
		op->obj = own_object(obj);
		op->value = obj_dump(op->obj, &op->w.value_len);
		op->w.value = op->value;
	}

	/* Rejected writes still complete through the loop, never inside the call. */
	queue = !op->w.status;
	uv_mutex_lock(&s->mu);
	if (queue) {
		if (s->queue_tail)
			s->queue_tail->next = &op->w;
		else
			s->queue = &op->w;
		s->queue_tail = &op->w;
		uv_cond_signal(&s->cv);
	} else {
		if (s->done_tail)
			s->done_tail->next = &op->w;
		else
			s->done = &op->w;
		s->done_tail = &op->w;
	}
	uv_mutex_unlock(&s->mu);
	if (!queue)
		uv_async_send(&s->async);
}

void store_create(struct store *s, const char *key, json_t *obj, store_done_fn cb, void *data)
{
	store_submit(s, STORE_WRITE_CREATE, key, obj, 0, cb, data);
}

void store_update(struct store *s, const char *key, json_t *obj, int64_t expect_rv,
		  store_done_fn cb, void *data)
{
	store_submit(s, STORE_WRITE_UPDATE, key, obj, expect_rv, cb, data);
}

void store_delete(struct store *s, const char *key, int64_t expect_rv, store_done_fn cb, void *data)
{
	store_submit(s, STORE_WRITE_DELETE, key, NULL, expect_rv, cb, data);
}

/* ---- watches ---------------------------------------------------------- */

/* Index of the first window event with rv > from_rv (window_len if none). */
static size_t window_after(const struct store *s, int64_t from_rv)
{
	size_t lo = 0, hi = s->window_len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (window_at(s, mid)->ev.rv <= from_rv)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int store_watch(struct store *s, const char *prefix, int64_t from_rv, store_watch_fn fn,
		void *data, struct store_watch **out)
{
	size_t len = bucket_len(prefix);
	struct watch_bucket *b;
	struct store_watch *w;

	*out = NULL;
	if (s->closing)
		return STORE_EIO;
	if (from_rv < store_oldest_watchable(s) - 1)
		return STORE_EEXPIRED;

	if (!len) {
		b = &s->all;
	} else if (!(b = bucket_find(s, prefix, len))) {
		b = xcalloc(1, sizeof(*b));
		b->name = xstrndup(prefix, len);
		b->len = len;
		b->next = s->buckets;
		s->buckets = b;
	}
	w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->bucket = b;
	w->prefix = xstrdup(prefix);
	w->prefix_len = strlen(prefix);
	w->last_rv = from_rv;
	w->fn = fn;
	w->data = data;
	w->prev = b->tail;
	if (b->tail)
		b->tail->next = w;
	else
		b->head = w;
	b->tail = w;
	s->nwatch++;
	*out = w;

	/* The backlog, synchronously. Live delivery skips rv <= last_rv, so a
	 * watch started from inside a watch callback sees nothing twice. */
	s->delivering++;
	for (size_t i = window_after(s, from_rv); i < s->window_len && !w->stopped; i++) {
		const struct store_event *ev = &window_at(s, i)->ev;

		if (strncmp(ev->key, w->prefix, w->prefix_len))
			continue;
		w->last_rv = ev->rv;
		fn(ev, data);
	}
	if (w->stopped)
		*out = NULL;
	if (!--s->delivering)
		watch_reap(s);
	return 0;
}

void store_watch_stop(struct store_watch *w)
{
	struct store *s;
	struct watch_bucket *b;

	if (!w || w->stopped)
		return;
	s = w->s;
	b = w->bucket;
	w->stopped = true;
	s->nwatch--;
	/* Unlink now but keep w->next: a delivery loop may be standing on w. */
	if (w->prev)
		w->prev->next = w->next;
	else
		b->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		b->tail = w->prev;
	if (s->delivering) {
		w->dead_next = s->dead;
		s->dead = w;
	} else {
		free(w->prefix);
		free(w);
	}
}

size_t store_watch_count(const struct store *s)
{
	return s->nwatch;
}

/* ---- test hooks ------------------------------------------------------- */

void store_debug_fail_commit(struct store *s, int n)
{
	uv_mutex_lock(&s->mu);
	s->fail_commit = n > 0 ? n : 0;
	uv_mutex_unlock(&s->mu);
}

void store_debug_hold_writes(struct store *s, bool hold)
{
	uv_mutex_lock(&s->mu);
	s->hold = hold;
	uv_cond_signal(&s->cv);
	uv_mutex_unlock(&s->mu);
}

uint64_t store_debug_batches(struct store *s)
{
	uint64_t n;

	uv_mutex_lock(&s->mu);
	n = s->batches;
	uv_mutex_unlock(&s->mu);
	return n;
}
