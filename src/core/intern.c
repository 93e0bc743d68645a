/*
 * The interner behind intern.h: an open-addressing hash table of values,
 * keyed by a hash computed bottom-up (a container's hash mixes its keys and
 * its members' hashes, in order), so that by the time an object is looked
 * up its members are already interned and comparing it with a candidate is
 * mostly comparing pointers (json_equal tries pointer equality first).
 */
#include "intern.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SLOTS 1024
/* Sweep when the table holds this many times what the last sweep left. */
#define SWEEP_GROWTH 2

struct slot {
	uint64_t hash;
	json_t *v;      /* NULL: empty */
};

struct obj_intern {
	struct slot *slots;
	size_t nslots;          /* a power of two */
	size_t count;
	size_t after_sweep;     /* count right after the last sweep */
};

/* 64-bit FNV-1a over bytes, then a final mix so that nearby values spread. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

static uint64_t finish(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

struct obj_intern *obj_intern_new(void)
{
	struct obj_intern *t = xcalloc(1, sizeof(*t));

	t->nslots = MIN_SLOTS;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
	return t;
}

void obj_intern_free(struct obj_intern *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nslots; i++)
		json_decref(t->slots[i].v);
	free(t->slots);
	free(t);
}

/* Equal as obj_intern means it: jansson's equality, plus the same order of
 * members, so that interning never reorders an object's keys. */
static bool same_value(const json_t *a, const json_t *b)
{
	if (a == b)
		return true;
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_object(a)) {
		void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);

		if (json_object_size(a) != json_object_size(b))
			return false;
		for (; ia && ib; ia = json_object_iter_next((json_t *)a, ia), ib = json_object_iter_next((json_t *)b, ib)) {
			size_t la = json_object_iter_key_len(ia);

			if (la != json_object_iter_key_len(ib) ||
			    memcmp(json_object_iter_key(ia), json_object_iter_key(ib), la) ||
			    !same_value(json_object_iter_value(ia), json_object_iter_value(ib)))
				return false;
		}
		return true;
	}
	if (json_is_array(a)) {
		size_t n = json_array_size(a);

		if (n != json_array_size(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!same_value(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	return json_equal(a, b);
}

static void table_insert(struct obj_intern *t, uint64_t hash, json_t *v)
{
	size_t mask = t->nslots - 1, i = hash & mask;

	while (t->slots[i].v)
		i = (i + 1) & mask;
	t->slots[i].hash = hash;
	t->slots[i].v = v;
	t->count++;
}

/* Rebuilds the table with nslots slots, keeping what keep() says (and
 * dropping the interner's reference to the rest). */
static void table_rebuild(struct obj_intern *t, size_t nslots, bool sweep)
{
	struct slot *old = t->slots;
	size_t n = t->nslots;

	t->slots = xcalloc(nslots, sizeof(*t->slots));
	t->nslots = nslots;
	t->count = 0;
	for (size_t i = 0; i < n; i++) {
		if (!old[i].v)
			continue;
		if (sweep && old[i].v->refcount == 1)
			json_decref(old[i].v);
		else
			table_insert(t, old[i].hash, old[i].v);
	}
	free(old);
}

/* The interned value equal to v, or NULL. */
static json_t *table_find(const struct obj_intern *t, uint64_t hash, const json_t *v)
{
	size_t mask = t->nslots - 1;

	for (size_t i = hash & mask; t->slots[i].v; i = (i + 1) & mask)
		if (t->slots[i].hash == hash && same_value(t->slots[i].v, v))
			return t->slots[i].v;
	return NULL;
}

static uint64_t value_hash(const json_t *v);
static json_t *intern_rec(struct obj_intern *t, json_t *v, uint64_t *hash_out);

/* Swaps v's members for their interned equals, in place, and returns v's
 * hash (made of theirs). With t NULL it only computes that hash, changing
 * nothing (obj_intern_check: v may then be const). */
static uint64_t intern_members(struct obj_intern *t, json_t *v)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)json_typeof(v);

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
			uint64_t ch;
			json_t *child = json_object_iter_value(it);
			json_t *canon = t ? intern_rec(t, child, &ch) : child;

			if (!t)
				ch = intern_members(NULL, child);
			else if (canon != child)
				json_object_iter_set(v, it, canon);
			h = mix(hash_bytes(h, json_object_iter_key(it), json_object_iter_key_len(it)), ch);
		}
		break;
	case JSON_ARRAY:
		for (size_t i = 0, n = json_array_size(v); i < n; i++) {
			uint64_t ch;
			json_t *child = json_array_get(v, i);
			json_t *canon = t ? intern_rec(t, child, &ch) : child;

			if (!t)
				ch = intern_members(NULL, child);
			else if (canon != child)
				json_array_set(v, i, canon);
			h = mix(h, ch);
		}
		break;
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		break;
	default:
		h = value_hash(v);
	}
	return finish(h);
}

/*
 * Interns v's members, then v: returns the interned value equal to v
 * (borrowed: the table holds it) and its hash. Singletons (true, false,
 * null) are their own interned form.
 */
static json_t *intern_rec(struct obj_intern *t, json_t *v, uint64_t *hash_out)
{
	uint64_t h = intern_members(t, v);
	json_t *found;

	*hash_out = h;
	if (json_is_true(v) || json_is_false(v) || json_is_null(v))
		return v;
	if ((found = table_find(t, h, v)))
		return found;
	if ((t->count + 1) * 10 > t->nslots * 7)
		table_rebuild(t, t->nslots * 2, false);
	table_insert(t, h, json_incref(v));
	return v;
}

/* Hash of a scalar's value (strings, integers, reals). */
static uint64_t value_hash(const json_t *v)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)json_typeof(v);

	if (json_is_string(v))
		return hash_bytes(h, json_string_value(v), json_string_length(v));
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		return hash_bytes(h, &i, sizeof(i));
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d == 0)
			d = 0;   /* -0.0 equals 0.0 */
		return hash_bytes(h, &d, sizeof(d));
	}
	return h;
}

json_t *obj_intern(struct obj_intern *t, json_t *v)
{
	if (!v)
		return NULL;
	if (t->count > MIN_SLOTS / 2 && t->count > SWEEP_GROWTH * t->after_sweep)
		obj_intern_sweep(t);
	/* The top level is interned member by member only: a cache holds each
	 * object once, so a slot for it would cost memory for nothing. */
	intern_members(t, v);
	return v;
}

void obj_intern_sweep(struct obj_intern *t)
{
	size_t before;

	/* Dropping a value may leave its members held by the interner alone:
	 * go again while that frees something (as many passes as the deepest
	 * chain of such members, a handful for Kubernetes objects). */
	do {
		before = t->count;
		table_rebuild(t, t->nslots, true);
	} while (t->count < before);
	/* Shrink when mostly empty, never below the start. */
	while (t->nslots > MIN_SLOTS && t->count * 10 < t->nslots * 2)
		table_rebuild(t, t->nslots / 2, false);
	t->after_sweep = t->count;
}

size_t obj_intern_count(const struct obj_intern *t)
{
	return t->count;
}

size_t obj_intern_check(const struct obj_intern *t)
{
	size_t changed = 0;

	for (size_t i = 0; i < t->nslots; i++)
		if (t->slots[i].v && intern_members(NULL, t->slots[i].v) != t->slots[i].hash)
			changed++;
	return changed;
}
