/*
 * Interning (hash-consing) of JSON values, for caches that hold many objects
 * made from few templates: 30,000 pods of 30 Deployments differ in their
 * names, uids, addresses and timestamps, and are equal everywhere else. An
 * interner keeps one copy of each distinct value (a container spec, a
 * labels object, the string "Running") and hands it to every object that
 * has it, so a cache pays for what is unique to each object only.
 *
 *   parsed pod  --obj_intern-->  pod whose subtrees are the interner's:
 *   {metadata:{name:"web-1",labels:L}, spec:S}      L and S shared with every
 *                                                   other pod that has them
 *
 * Interned values are shared: never change one (the informer contract,
 * "cached objects are read-only", is what makes this safe). The interner
 * holds a reference to each value it knows; obj_intern_sweep drops those
 * nobody else holds any more. One interner belongs to one thread.
 */
#ifndef MINIK8S_CORE_INTERN_H
#define MINIK8S_CORE_INTERN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct obj_intern;

struct obj_intern *obj_intern_new(void);
/* Drops the interner's references; values others hold live on. */
void obj_intern_free(struct obj_intern *t);

/*
 * Steals v and returns it (the same reference) with every member, at every
 * depth, replaced in place by the interner's equal value: equal objects,
 * arrays, strings and numbers anywhere in anything interned are one value.
 * The top level itself is not kept (a cache holds each object once).
 * Objects are equal when they have the same members in the same order.
 * Sweeps by itself now and then (when the interner has doubled).
 */
json_t *obj_intern(struct obj_intern *t, json_t *v);

/* Forgets every value only the interner holds. */
void obj_intern_sweep(struct obj_intern *t);

/* Values the interner knows. */
size_t obj_intern_count(const struct obj_intern *t);

/*
 * Test hook: whether every value the interner holds still has the hash it
 * was interned with, i.e. nobody changed a shared value in place. Returns
 * the number of values that changed (0 when all is well).
 */
size_t obj_intern_check(const struct obj_intern *t);

#endif
