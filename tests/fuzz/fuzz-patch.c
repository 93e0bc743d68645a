/*
 * Fuzz target for src/core/patch.c. Input: one byte choosing the kind (its
 * value modulo 8), then up to three JSON documents separated by NUL bytes.
 * Every patch flavour runs on them, and the three-way patch is applied back;
 * besides crashes and leaks it checks that inputs stay unchanged, that
 * merging {} gives the target back, and that a three-way patch between
 * identical documents is empty.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const kinds[] = { "Pod", "Deployment", "Service", "Node", "ReplicaSet", "Namespace", "Widget", NULL };

static json_t *load(const uint8_t *p, size_t n)
{
	json_error_t e;

	return json_loadb((const char *)p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
}

static int key_starts(const char *k, size_t kl, const char *s, int exact)
{
	size_t n = strlen(s);

	return (exact ? kl == n : kl >= n) && !memcmp(k, s, n);
}

/* Does v hold a strategic merge directive key? */
static int has_directive(const json_t *v)
{
	const char *k;
	size_t kl, i;
	json_t *x;

	if (json_is_object(v)) {
		json_object_keylen_foreach((json_t *)v, k, kl, x) {
			if (key_starts(k, kl, "$patch", 1) || key_starts(k, kl, "$retainKeys", 1) ||
			    key_starts(k, kl, "$setElementOrder/", 0) || key_starts(k, kl, "$deleteFromPrimitiveList/", 0) ||
			    has_directive(x))
				return 1;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if (has_directive(x))
				return 1;
		}
	}
	return 0;
}

static void drop(json_t *v, char *err)
{
	json_decref(v);
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc[3] = { NULL, NULL, NULL }, *copy[3] = { NULL, NULL, NULL };
	json_t *empty, *r, *patch;
	const char *kind;
	size_t start, ndocs = 0;
	char *err = NULL;

	if (size < 1)
		return 0;
	kind = kinds[data[0] % 8];
	start = 1;
	for (size_t i = 1; i <= size && ndocs < 3; i++) {
		if (i == size || data[i] == '\0') {
			doc[ndocs] = load(data + start, i - start);
			copy[ndocs] = json_deep_copy(doc[ndocs]);
			ndocs++;
			start = i + 1;
		}
	}
	empty = json_object();

	/* RFC 7386: {} is the identity for objects */
	r = json_merge_patch(doc[0], empty);
	if (json_is_object(doc[0]) && !json_equal(r, doc[0]))
		abort();
	json_decref(r);
	json_decref(json_merge_patch(doc[0], doc[1]));
	json_decref(json_merge_patch(doc[1], doc[0]));

	/* RFC 6902 */
	r = json_patch_apply(doc[0], doc[1], &err);
	if (!r == !err)
		abort();
	drop(r, err);
	err = NULL;

	/* strategic merge: {} is the identity too */
	r = strategic_merge_patch(doc[0], empty, kind, &err);
	if (json_is_object(doc[0]) && (!r || !json_equal(r, doc[0])))
		abort();
	drop(r, err);
	err = NULL;
	r = strategic_merge_patch(doc[0], doc[1], kind, &err);
	if (!r == !err)
		abort();
	if (r && !has_directive(doc[0]) && has_directive(r))
		abort(); /* directives are instructions, never content */
	drop(r, err);
	err = NULL;

	/* three-way from (last-applied, manifest, live) = (doc2, doc1, doc0) */
	patch = strategic_merge_three_way(doc[2], doc[1], doc[0], kind, &err);
	if (!patch == !err)
		abort();
	free(err);
	err = NULL;
	if (patch) {
		r = strategic_merge_patch(doc[0], patch, kind, &err);
		if (!r == !err)
			abort();
		if (r && !has_directive(doc[0]) && has_directive(r))
			abort();
		drop(r, err);
		err = NULL;
	}
	json_decref(patch);

	/* nothing changed, nothing to send */
	patch = strategic_merge_three_way(doc[0], doc[0], doc[0], kind, &err);
	if (patch && json_object_size(patch) != 0)
		abort();
	drop(patch, err);
	err = NULL;

	for (size_t i = 0; i < 3; i++) {
		if (!json_equal(doc[i], copy[i]) && (doc[i] || copy[i]))
			abort(); /* an input was changed */
		json_decref(doc[i]);
		json_decref(copy[i]);
	}
	json_decref(empty);
	return 0;
}
