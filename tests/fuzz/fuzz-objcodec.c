/*
 * libFuzzer target for src/core/objcodec.c, differential against jansson:
 * for every input and for each set of flags, obj_parse() and json_loadb()
 * must both accept or both reject it, accepted inputs must give equal trees,
 * and obj_dump() of a tree must print exactly the bytes json_dumps() prints,
 * which parse back to an equal tree. A rejection must come with a message
 * and a position inside the input. A violation aborts.
 *
 * One difference is deliberate: jansson loses a NUL byte that directly
 * follows a number or a literal (its lexer "ungets" the byte into a buffer
 * where NUL means empty), so it accepts "1\0"; we reject every NUL outside
 * a string, as JSON says.
 */
#include "object.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "objcodec disagrees with jansson: %s\ninput (%zu bytes): %.*s\n", what, size,
		(int)(size < 400 ? size : 400), (const char *)data);
	abort();
}

static void check_dump(const json_t *v, const uint8_t *data, size_t size)
{
	char *ours = obj_dump(v, NULL);
	char *theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_t *back;

	if (!theirs || strcmp(ours, theirs))
		die("printed bytes differ", data, size);
	back = obj_parse(ours, strlen(ours), JSON_DECODE_ANY, NULL);
	if (!back || !json_equal(back, v))
		die("printed text does not parse back to the same tree", data, size);
	json_decref(back);
	free(ours);
	free(theirs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t flag_sets[] = { 0, JSON_DECODE_ANY, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES };

	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		size_t flags = flag_sets[i];
		json_error_t e1, e2;
		json_t *ours = obj_parse((const char *)data, size, flags, &e1);
		json_t *theirs = json_loadb((const char *)data, size, flags, &e2);

		if (!ours && theirs && memchr(data, 0, size)) {
			json_decref(theirs);
			continue;
		}
		if (!ours != !theirs) {
			fprintf(stderr, "ours: %s; jansson: %s\n", ours ? "accepted" : e1.text,
				theirs ? "accepted" : e2.text);
			die(ours ? "accepted what jansson rejects" : "rejected what jansson accepts", data, size);
		}
		if (!ours) {
			if (!e1.text[0] || e1.position < 0 || (size_t)e1.position > size || e1.line < 1)
				die("a rejection without a message or a position in the input", data, size);
			continue;
		}
		if (!json_equal(ours, theirs))
			die("trees differ", data, size);
		check_dump(ours, data, size);
		json_decref(ours);
		json_decref(theirs);
	}
	return 0;
}
