/*
 * Two small open-addressing hash maps for the scheduler and the hollow
 * nodes, which keep tens of thousands of pods in compact structs rather
 * than in JSON: a string-keyed map whose keys are borrowed from the values
 * (a pod's "ns/name" lives in the pod record), and a map from 64-bit keys to
 * counters (pods of one spread group on one node).
 */
#ifndef MINIK8S_SCHEDULER_MAPS_H
#define MINIK8S_SCHEDULER_MAPS_H

#include <stddef.h>
#include <stdint.h>

/*
 * String -> pointer. The map does not copy keys: the key passed to
 * strmap_put must stay valid (and unchanged) until it is deleted, so keep
 * it inside the value. Embed and strmap_init(); strmap_release frees the
 * table only, never the values.
 */
struct strmap_slot {
	const char *key; /* NULL: empty; STRMAP_TOMBSTONE: deleted */
	void *value;
	uint32_t hash;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap;   /* power of two, or 0 */
	size_t len;   /* live entries */
	size_t used;  /* live + tombstones */
};

void strmap_init(struct strmap *m);
void strmap_release(struct strmap *m);
/* The value for key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Sets key (borrowed) to value; returns the value it replaced, or NULL. */
void *strmap_put(struct strmap *m, const char *key, void *value);
/* Removes key; returns its value, or NULL if absent. */
void *strmap_del(struct strmap *m, const char *key);
/* Iteration: for (i = 0; strmap_next(m, &i, &k, &v);) visits each entry
 * once. The map must not change during the walk. */
int strmap_next(const struct strmap *m, size_t *iter, const char **key, void **value);

/* uint64 -> uint32 counters; a counter that drops to 0 is removed. */
struct countmap {
	uint64_t *keys;   /* key + 1, so 0 marks an empty slot */
	uint32_t *counts;
	size_t cap, len, used;
};

void countmap_init(struct countmap *m);
void countmap_release(struct countmap *m);
uint32_t countmap_get(const struct countmap *m, uint64_t key);
/* Adds delta (may be negative) to key's counter, never below 0. */
void countmap_add(struct countmap *m, uint64_t key, int32_t delta);

/* FNV-1a, for callers that hash other things the same way. */
uint32_t maps_hash(const char *s);

#endif
