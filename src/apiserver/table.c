/*
 * Server-side printing: `kubectl get` asks for a meta.k8s.io/v1 Table and
 * prints the columns the server chose, so the apiserver decides what NAME,
 * READY, STATUS ... show, and `minictl get` prints the very same Table.
 * The columns come from each kind's registry entry.
 */
#include "apiserver/apiserver.h"
#include "core/object.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

/* Whether the media range [s, s+len) asks for a v1 or v1beta1 Table. */
static bool range_is_table(const char *s, size_t len)
{
	bool as = false, g = false, v = false;
	const char *end = s + len, *p = s;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		size_t n = semi ? (size_t)(semi - p) : (size_t)(end - p);
		while (n && *p == ' ') {
			p++;
			n--;
		}
		if (n == 8 && !strncmp(p, "as=Table", 8))
			as = true;
		else if (n == 14 && !strncmp(p, "g=meta.k8s.io", 13))
			g = true;
		else if (n >= 13 && !strncmp(p, "g=meta.k8s.io", 13))
			g = true;
		else if ((n == 4 && !strncmp(p, "v=v1", 4)) || (n == 9 && !strncmp(p, "v=v1beta1", 9)))
			v = true;
		p += n + 1;
	}
	return as && g && v;
}

bool request_wants_table(const struct http_request *req)
{
	const char *accept = http_request_header(req, "Accept");
	const char *p;

	if (!accept)
		return false;
	for (p = accept; *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (range_is_table(p, n))
			return true;
		p += n + (comma ? 1 : 0);
	}
	return false;
}

static json_t *column_def(const char *name, const char *type, const char *format, const char *desc, int prio)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", name, "type", type, "format", format ? format : "",
			 "description", desc ? desc : "", "priority", prio);
}

static json_t *row_object(const json_t *obj, const char *include)
{
	json_t *pom;

	if (!strcmp(include, "Object"))
		return json_incref((json_t *)obj);
	if (!strcmp(include, "None"))
		return json_null();
	pom = json_pack("{s:s, s:s}", "kind", "PartialObjectMetadata", "apiVersion", "meta.k8s.io/v1");
	json_object_set(pom, "metadata", obj_get(obj, "metadata"));
	return pom;
}

json_t *table_new(const struct kind *k, const json_t *objs, const struct http_request *req)
{
	json_t *t = json_pack("{s:s, s:s, s:{}}", "kind", "Table", "apiVersion", "meta.k8s.io/v1", "metadata");
	json_t *cols = json_array(), *rows = json_array();
	char *include = http_request_query(req, "includeObject");
	/* Events print their name last, and only with -o wide, as Kubernetes'
	 * event printer does; every other kind starts with it. */
	bool name_last = k == &kind_event;
	json_t *name_col = column_def("Name", "string", "name",
				      "Name must be unique within a namespace. Is required when creating "
				      "resources, although some resources may allow a client to request the "
				      "generation of an appropriate name automatically.", name_last ? 1 : 0);
	time_t now = time(NULL);
	size_t i;
	json_t *obj;

	if (!name_last)
		json_array_append_new(cols, name_col);
	for (const struct table_column *c = k->columns; c && c->name; c++)
		json_array_append_new(cols, column_def(c->name, c->type, c->format, c->description, c->priority));
	if (name_last)
		json_array_append_new(cols, name_col);

	json_array_foreach(objs, i, obj) {
		json_t *cells = json_array();
		json_t *name = json_string(obj_name(obj) ? obj_name(obj) : "");
		if (!name_last)
			json_array_append_new(cells, name);
		for (const struct table_column *c = k->columns; c && c->name; c++) {
			json_t *cell = c->cell ? c->cell(obj, now) : NULL;
			json_array_append_new(cells, cell ? cell : json_string("<none>"));
		}
		if (name_last)
			json_array_append_new(cells, name);
		json_array_append_new(rows, json_pack("{s:o, s:o}", "cells", cells, "object",
						      row_object(obj, include ? include : "Metadata")));
	}
	json_object_set_new(t, "columnDefinitions", cols);
	json_object_set_new(t, "rows", rows);
	free(include);
	return t;
}
