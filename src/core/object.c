/*
 * Path accessors and Status builders behind object.h. Paths are split on
 * '.'; a step that meets a non-object ends the walk with NULL.
 */
#include "object.h"
#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *obj_get(const json_t *obj, const char *path)
{
	const char *p = path;
	json_t *cur = (json_t *)obj;

	while (cur && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (!json_is_object(cur))
			return NULL;
		cur = json_object_getn(cur, p, n);
		p += n + (dot ? 1 : 0);
	}
	return cur;
}

const char *obj_str(const json_t *obj, const char *path)
{
	return json_string_value(obj_get(obj, path));
}

int64_t obj_int(const json_t *obj, const char *path, int64_t def)
{
	json_t *v = obj_get(obj, path);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

bool obj_bool(const json_t *obj, const char *path, bool def)
{
	json_t *v = obj_get(obj, path);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

/* Walks to the parent object of the last path step, creating objects. */
static json_t *ensure_parent(json_t *obj, const char *path, char *last, size_t lastsz)
{
	const char *p = path;
	json_t *cur = obj;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char key[128];

		if (n >= sizeof(key) || n >= lastsz)
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		if (!dot) {
			memcpy(last, key, n + 1);
			return cur;
		}
		json_t *next = json_object_get(cur, key);
		if (!json_is_object(next)) {
			next = json_object();
			json_object_set_new(cur, key, next);
		}
		cur = next;
		p = dot + 1;
	}
}

json_t *obj_ensure(json_t *obj, const char *path)
{
	char last[128];
	json_t *parent = ensure_parent(obj, path, last, sizeof(last)), *v;

	if (!parent)
		return NULL;
	v = json_object_get(parent, last);
	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(parent, last, v);
	}
	return v;
}

int obj_set(json_t *obj, const char *path, json_t *value)
{
	char last[128];
	json_t *parent = ensure_parent(obj, path, last, sizeof(last));

	if (!parent) {
		json_decref(value);
		return -1;
	}
	return json_object_set_new(parent, last, value);
}

void obj_default_str(json_t *obj, const char *path, const char *value)
{
	if (!obj_get(obj, path))
		obj_set(obj, path, json_string(value));
}

void obj_default_int(json_t *obj, const char *path, int64_t value)
{
	if (!obj_get(obj, path))
		obj_set(obj, path, json_integer(value));
}

void obj_del(json_t *obj, const char *path)
{
	const char *dot = strrchr(path, '.');
	json_t *parent = obj;

	if (dot) {
		char *pp = xstrndup(path, (size_t)(dot - path));
		parent = obj_get(obj, pp);
		free(pp);
	}
	if (json_is_object(parent))
		json_object_del(parent, dot ? dot + 1 : path);
}

int64_t obj_rv(const json_t *o)
{
	const char *s = obj_str(o, "metadata.resourceVersion");
	char *end;
	long long v;

	if (!s || !*s)
		return 0;
	v = strtoll(s, &end, 10);
	return *end || v < 0 ? 0 : v;
}

void obj_set_rv(json_t *o, int64_t rv)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, rv);
	obj_set(o, "metadata.resourceVersion", json_string(buf));
}

char *obj_key(const json_t *o)
{
	const char *ns = obj_namespace(o), *name = obj_name(o);

	if (!name)
		name = "";
	return ns && *ns ? xasprintf("%s/%s", ns, name) : xstrdup(name);
}

const char *obj_label(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(obj_get(o, "metadata.labels"), key));
}

const char *obj_annotation(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(obj_get(o, "metadata.annotations"), key));
}

const char *node_address(const json_t *node, const char *type)
{
	const json_t *a;
	size_t i;

	json_array_foreach(obj_get(node, "status.addresses"), i, a) {
		const char *t = obj_str(a, "type");
		if (t && !strcmp(t, type))
			return obj_str(a, "address");
	}
	return NULL;
}

json_t *status_new(int code, const char *reason, const char *message)
{
	json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
			       "metadata", "status", "Failure", "message", message, "code", code);
	if (reason && *reason)
		json_object_set_new(st, "reason", json_string(reason));
	return st;
}

json_t *status_new_details(int code, const char *reason, const char *message, const char *name,
			   const char *group, const char *kind)
{
	json_t *st = status_new(code, reason, message), *d = json_object();

	if (name)
		json_object_set_new(d, "name", json_string(name));
	if (group && *group)
		json_object_set_new(d, "group", json_string(group));
	if (kind)
		json_object_set_new(d, "kind", json_string(kind));
	json_object_set_new(st, "details", d);
	return st;
}

json_t *status_success(void)
{
	return json_pack("{s:s, s:s, s:{}, s:s}", "kind", "Status", "apiVersion", "v1", "metadata",
			 "status", "Success");
}
