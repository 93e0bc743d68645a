/*
 * Accessors for Kubernetes objects held as jansson trees: dotted paths
 * ("spec.template.spec"), metadata fields, and the Status objects that every
 * API error is. Getters return borrowed references (or NULL when any step of
 * the path is missing or of the wrong type); setters steal the value.
 */
#ifndef MINIK8S_CORE_OBJECT_H
#define MINIK8S_CORE_OBJECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Borrowed value at a dotted path, or NULL. */
json_t *obj_get(const json_t *obj, const char *path);
/* String at path, or NULL if missing or not a string. */
const char *obj_str(const json_t *obj, const char *path);
/* Integer at path, or def if missing or not an integer. */
int64_t obj_int(const json_t *obj, const char *path, int64_t def);
bool obj_bool(const json_t *obj, const char *path, bool def);
/* Object at path, creating empty objects along the way (replacing non-objects). Borrowed. */
json_t *obj_ensure(json_t *obj, const char *path);
/* Sets the value at path (stolen), creating parents. Returns 0 or -1 (value freed). */
int obj_set(json_t *obj, const char *path, json_t *value);
/* Sets a string at path only if it is missing. */
void obj_default_str(json_t *obj, const char *path, const char *value);
void obj_default_int(json_t *obj, const char *path, int64_t value);
void obj_del(json_t *obj, const char *path);

static inline const char *obj_name(const json_t *o) { return obj_str(o, "metadata.name"); }
static inline const char *obj_namespace(const json_t *o) { return obj_str(o, "metadata.namespace"); }
static inline const char *obj_kind(const json_t *o) { return obj_str(o, "kind"); }
/* metadata.resourceVersion parsed as a number, 0 if missing or malformed. */
int64_t obj_rv(const json_t *o);
/* Sets metadata.resourceVersion to the decimal string of rv. */
void obj_set_rv(json_t *o, int64_t rv);
/* "ns/name" or "name" for cluster-scoped objects, new heap string. */
char *obj_key(const json_t *o);
/* Label value or NULL. */
const char *obj_label(const json_t *o, const char *key);
const char *obj_annotation(const json_t *o, const char *key);
/* A Node's first status.addresses entry of that type ("InternalIP",
 * "Hostname"), or NULL. Borrowed. */
const char *node_address(const json_t *node, const char *type);

/*
 * A metav1.Status for an error: {"kind":"Status","apiVersion":"v1",
 * "metadata":{},"status":"Failure","message":...,"reason":...,"code":...}
 * with details when name/kind are given. New reference.
 */
json_t *status_new(int code, const char *reason, const char *message);
json_t *status_new_details(int code, const char *reason, const char *message, const char *name,
			   const char *group, const char *kind);
/* The Status "Success" that DELETE of some kinds returns. */
json_t *status_success(void);

/*
 * JSON text, with a codec of our own (objcodec.c) that accepts and prints
 * exactly what jansson's json_loadb() and json_dumps(JSON_COMPACT) do, only
 * several times faster.
 *
 * obj_parse: the value in buf[0..len) as a new reference, or NULL with err
 * (may be NULL) saying where and why. flags: 0 (an object or an array),
 * JSON_DECODE_ANY (any value) and JSON_REJECT_DUPLICATES (a key twice in
 * one object is an error; otherwise the last one wins, as in jansson).
 */
json_t *obj_parse(const char *buf, size_t len, size_t flags, json_error_t *err);
/* Compact JSON with keys in insertion order. New heap string; "null" if o
 * cannot be printed (NULL, or nested beyond any parse, i.e. a cycle). */
char *obj_dump(const json_t *o, size_t *len);
struct strbuf;
/* The same, appended to sb. Returns 0, or -1 with sb unchanged. */
int obj_dump_to(struct strbuf *sb, const json_t *o);

#endif
