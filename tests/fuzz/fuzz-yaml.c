/*
 * libFuzzer target for src/core/yaml.c. Any bytes may go to
 * yaml_decode_all(); a failure must come with a message, and every document
 * that decodes must survive yaml_encode() + yaml_decode_one() unchanged, with
 * the second encoding identical to the first. A mismatch aborts.
 */
#include "yaml.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* json_equal() compares object keys as C strings; YAML keys may hold NULs. */
static bool same(const json_t *a, const json_t *b)
{
	const char *key;
	size_t key_len, i;
	json_t *va;

	if (!a || !b || json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_keylen_foreach((json_t *)a, key, key_len, va) {
			if (!same(va, json_object_getn(b, key, key_len)))
				return false;
		}
		return true;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		json_array_foreach(a, i, va) {
			if (!same(va, json_array_get(b, i)))
				return false;
		}
		return true;
	default:
		return json_equal(a, b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yaml_error err;
	json_t *docs, *doc;
	int *lines;
	size_t i;

	if (yaml_decode_all((const char *)data, size, &docs, &lines, &err)) {
		if (!err.message[0] || err.line < 0 || err.column < 0 || err.document < 1) {
			fprintf(stderr, "decode failed without a proper error: '%s' %d:%d doc %d\n",
				err.message, err.line, err.column, err.document);
			abort();
		}
		return 0;
	}
	json_array_foreach(docs, i, doc) {
		char *text = yaml_encode(doc), *again;
		json_t *back = yaml_decode_one(text, strlen(text), &err);

		if (lines[i] < 1) {
			fprintf(stderr, "document %zu has line %d\n", i, lines[i]);
			abort();
		}
		if (!back || !same(back, doc)) {
			char *d = json_dumps(doc, JSON_ENCODE_ANY);

			fprintf(stderr, "round trip failed\nvalue: %s\nyaml:\n%s\nerror: %s\n", d, text,
				back ? "(decoded to another value)" : err.message);
			abort();
		}
		again = yaml_encode(back);
		if (strcmp(again, text)) {
			fprintf(stderr, "encoding is not stable:\n%s\n---- then ----\n%s\n", text, again);
			abort();
		}
		free(again);
		free(text);
		json_decref(back);
	}
	json_decref(docs);
	free(lines);
	return 0;
}
