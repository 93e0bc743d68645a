/*
 * A small string-keyed hash map for the proxy and its DNS server: Services
 * by "namespace/name", listeners by "TCP/10.96.0.5:80", UDP sessions by
 * client address. Keys are copied; values are opaque pointers the caller
 * owns. Chained buckets that double when the map gets full.
 */
#ifndef MINIK8S_PROXY_PMAP_H
#define MINIK8S_PROXY_PMAP_H

#include <stdbool.h>
#include <stddef.h>

struct pmap_entry {
	char *key;
	void *value;
	struct pmap_entry *next;
};

struct pmap {
	struct pmap_entry **buckets;
	size_t nbuckets;
	size_t count;
};

void pmap_init(struct pmap *m);
/* Frees the entries and keys, not the values. */
void pmap_release(struct pmap *m);

void *pmap_get(const struct pmap *m, const char *key);
/* Sets key to value; returns the value it replaces (or NULL). */
void *pmap_put(struct pmap *m, const char *key, void *value);
/* Removes key; returns its value (or NULL). */
void *pmap_del(struct pmap *m, const char *key);

/*
 * Calls fn for every entry, in no particular order. fn may delete the entry
 * it is given (and no other); a non-zero return stops the walk and is
 * returned.
 */
int pmap_foreach(struct pmap *m, int (*fn)(const char *key, void *value, void *data), void *data);

#endif
