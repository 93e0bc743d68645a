/*
 * YAML <-> JSON, the way kubectl reads manifests: a stream of documents
 * separated by "---", each becoming one jansson value. Scalars resolve as
 * sigs.k8s.io/yaml does (go-yaml v2: true/false/yes/no/on/off, integers,
 * floats, null/~, quoted strings stay strings). Anchors and aliases work,
 * bounded against expansion bombs. Errors carry line and column (1-based).
 */
#ifndef MINIK8S_CORE_YAML_H
#define MINIK8S_CORE_YAML_H

#include <jansson.h>
#include <stddef.h>

struct yaml_error {
	int line;           /* 1-based; 0 when unknown */
	int column;         /* 1-based; 0 when unknown */
	int document;       /* 1-based index of the document where it happened */
	char message[256];  /* "mapping values are not allowed in this context" */
};

/*
 * Decodes every document of buf. On success returns 0 and *docs is a new
 * JSON array of the non-empty documents, and, if lines is not NULL, *lines
 * is a heap array (caller frees) of each document's first line. On failure
 * returns -1 and fills err; *docs is NULL.
 */
int yaml_decode_all(const char *buf, size_t len, json_t **docs, int **lines, struct yaml_error *err);

/* Decodes exactly one document (for request bodies). An empty stream is an
 * error; more than one document is an error. Returns a new reference or NULL. */
json_t *yaml_decode_one(const char *buf, size_t len, struct yaml_error *err);

/* Encodes a JSON value as block YAML the way kubectl -o yaml prints it
 * (two-space indent, "- " list items at the parent's indent, keys in the
 * object's order, strings quoted only when needed). New heap string. */
char *yaml_encode(const json_t *value);

#endif
