/*
 * The hash maps of maps.h: linear probing over power-of-two tables, with
 * tombstones for deletes and a rebuild when live entries plus tombstones pass
 * 3/4 of the table. A scheduler cycle looks up a node or a counter a few
 * thousand times, so these stay branch-light and allocation-free on lookups.
 */
#include "scheduler/maps.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

static const char strmap_tombstone[1];
#define STRMAP_TOMBSTONE strmap_tombstone

uint32_t maps_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void strmap_init(struct strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void strmap_release(struct strmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static struct strmap_slot *strmap_find(const struct strmap *m, const char *key, uint32_t h)
{
	size_t mask, i;

	if (!m->cap)
		return NULL;
	mask = m->cap - 1;
	for (i = h & mask;; i = (i + 1) & mask) {
		struct strmap_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != STRMAP_TOMBSTONE && s->hash == h && !strcmp(s->key, key))
			return s;
	}
}

static void strmap_insert_fresh(struct strmap *m, const char *key, uint32_t h, void *value)
{
	size_t mask = m->cap - 1, i;

	for (i = h & mask; m->slots[i].key && m->slots[i].key != STRMAP_TOMBSTONE; i = (i + 1) & mask)
		;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i].key = key;
	m->slots[i].hash = h;
	m->slots[i].value = value;
	m->len++;
}

static void strmap_resize(struct strmap *m, size_t cap)
{
	struct strmap_slot *old = m->slots;
	size_t oldcap = m->cap;

	m->slots = xcalloc(cap, sizeof(*m->slots));
	m->cap = cap;
	m->len = m->used = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].key && old[i].key != STRMAP_TOMBSTONE)
			strmap_insert_fresh(m, old[i].key, old[i].hash, old[i].value);
	free(old);
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *s = strmap_find(m, key, maps_hash(key));

	return s ? s->value : NULL;
}

void *strmap_put(struct strmap *m, const char *key, void *value)
{
	uint32_t h = maps_hash(key);
	struct strmap_slot *s = strmap_find(m, key, h);
	void *old;

	if (s) {
		old = s->value;
		s->key = key;
		s->value = value;
		return old;
	}
	if ((m->used + 1) * 4 >= m->cap * 3) {
		size_t cap = m->cap ? m->cap : 16;
		while ((m->len + 1) * 2 >= cap)
			cap *= 2;
		strmap_resize(m, cap);
	}
	strmap_insert_fresh(m, key, h, value);
	return NULL;
}

void *strmap_del(struct strmap *m, const char *key)
{
	struct strmap_slot *s = strmap_find(m, key, maps_hash(key));
	void *old;

	if (!s)
		return NULL;
	old = s->value;
	s->key = STRMAP_TOMBSTONE;
	s->value = NULL;
	m->len--;
	return old;
}

int strmap_next(const struct strmap *m, size_t *iter, const char **key, void **value)
{
	for (; *iter < m->cap; (*iter)++) {
		struct strmap_slot *s = &m->slots[*iter];
		if (s->key && s->key != STRMAP_TOMBSTONE) {
			*key = s->key;
			*value = s->value;
			(*iter)++;
			return 1;
		}
	}
	return 0;
}

/* ---- countmap --------------------------------------------------------- */

#define COUNT_TOMBSTONE UINT64_MAX

static inline size_t count_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

void countmap_init(struct countmap *m)
{
	memset(m, 0, sizeof(*m));
}

void countmap_release(struct countmap *m)
{
	free(m->keys);
	free(m->counts);
	memset(m, 0, sizeof(*m));
}

static size_t countmap_slot(const struct countmap *m, uint64_t stored, bool *found)
{
	size_t mask = m->cap - 1, i, tomb = SIZE_MAX;

	for (i = count_hash(stored) & mask;; i = (i + 1) & mask) {
		if (m->keys[i] == stored) {
			*found = true;
			return i;
		}
		if (m->keys[i] == 0) {
			*found = false;
			return tomb != SIZE_MAX ? tomb : i;
		}
		if (m->keys[i] == COUNT_TOMBSTONE && tomb == SIZE_MAX)
			tomb = i;
	}
}

uint32_t countmap_get(const struct countmap *m, uint64_t key)
{
	bool found;
	size_t i;

	if (!m->cap)
		return 0;
	i = countmap_slot(m, key + 1, &found);
	return found ? m->counts[i] : 0;
}

static void countmap_resize(struct countmap *m, size_t cap)
{
	uint64_t *ok = m->keys;
	uint32_t *oc = m->counts;
	size_t ocap = m->cap;

	m->keys = xcalloc(cap, sizeof(*m->keys));
	m->counts = xcalloc(cap, sizeof(*m->counts));
	m->cap = cap;
	m->len = m->used = 0;
	for (size_t i = 0; i < ocap; i++) {
		if (ok[i] && ok[i] != COUNT_TOMBSTONE) {
			bool found;
			size_t j = countmap_slot(m, ok[i], &found);
			m->keys[j] = ok[i];
			m->counts[j] = oc[i];
			m->len++;
			m->used++;
		}
	}
	free(ok);
	free(oc);
}

void countmap_add(struct countmap *m, uint64_t key, int32_t delta)
{
	uint64_t stored = key + 1;
	bool found;
	size_t i;
	int64_t v;

	if (!m->cap || (m->used + 1) * 4 >= m->cap * 3) {
		size_t cap = m->cap ? m->cap : 64;
		while ((m->len + 1) * 2 >= cap)
			cap *= 2;
		countmap_resize(m, cap);
	}
	i = countmap_slot(m, stored, &found);
	if (!found) {
		if (delta <= 0)
			return;
		if (m->keys[i] == 0)
			m->used++;
		m->keys[i] = stored;
		m->counts[i] = 0;
		m->len++;
	}
	v = (int64_t)m->counts[i] + delta;
	if (v <= 0) {
		m->keys[i] = COUNT_TOMBSTONE;
		m->counts[i] = 0;
		m->len--;
		return;
	}
	m->counts[i] = (uint32_t)v;
}
