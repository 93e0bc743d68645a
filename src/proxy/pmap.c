/*
 * The string map of pmap.h: FNV-1a hashes, chained buckets, doubling when
 * the load passes one entry per bucket. Small and boring on purpose.
 */
#include "proxy/pmap.h"
#include "core/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

void pmap_init(struct pmap *m)
{
	m->nbuckets = 16;
	m->buckets = xcalloc(m->nbuckets, sizeof(*m->buckets));
	m->count = 0;
}

void pmap_release(struct pmap *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct pmap_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e->key);
			free(e);
		}
	}
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = m->count = 0;
}

static void grow(struct pmap *m)
{
	size_t n = m->nbuckets * 2;
	struct pmap_entry **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < m->nbuckets; i++) {
		struct pmap_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			size_t j = hash(e->key) & (n - 1);
			next = e->next;
			e->next = b[j];
			b[j] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

void *pmap_get(const struct pmap *m, const char *key)
{
	struct pmap_entry *e = m->buckets[hash(key) & (m->nbuckets - 1)];

	for (; e; e = e->next)
		if (!strcmp(e->key, key))
			return e->value;
	return NULL;
}

void *pmap_put(struct pmap *m, const char *key, void *value)
{
	size_t i = hash(key) & (m->nbuckets - 1);
	struct pmap_entry *e;

	for (e = m->buckets[i]; e; e = e->next) {
		if (!strcmp(e->key, key)) {
			void *old = e->value;
			e->value = value;
			return old;
		}
	}
	e = xmalloc(sizeof(*e));
	e->key = xstrdup(key);
	e->value = value;
	e->next = m->buckets[i];
	m->buckets[i] = e;
	if (++m->count > m->nbuckets)
		grow(m);
	return NULL;
}

void *pmap_del(struct pmap *m, const char *key)
{
	struct pmap_entry **p = &m->buckets[hash(key) & (m->nbuckets - 1)];

	for (; *p; p = &(*p)->next) {
		struct pmap_entry *e = *p;
		if (!strcmp(e->key, key)) {
			void *v = e->value;
			*p = e->next;
			free(e->key);
			free(e);
			m->count--;
			return v;
		}
	}
	return NULL;
}

int pmap_foreach(struct pmap *m, int (*fn)(const char *key, void *value, void *data), void *data)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct pmap_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			int rc;
			next = e->next; /* fn may delete e */
			rc = fn(e->key, e->value, data);
			if (rc)
				return rc;
		}
	}
	return 0;
}
