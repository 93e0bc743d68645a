/*
 * libFuzzer target for src/core/selector.c. The bytes are tried as a label
 * selector, as a field selector, and (when they are JSON) as a
 * metav1.LabelSelector. Parsing must never crash; a label selector that
 * parses must print a canonical string that parses back to the same string
 * and matches the same label sets. A violation aborts.
 */
#include "selector.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *get_field(const char *field, void *ctx)
{
	(void)ctx;
	if (!strcmp(field, "metadata.name"))
		return "web-1";
	if (!strcmp(field, "spec.nodeName"))
		return "";
	return field[0] == 's' ? field : NULL;
}

static void check_error(int ret, char *err, const char *what)
{
	if (ret && (!err || !err[0])) {
		fprintf(stderr, "%s failed without a message\n", what);
		abort();
	}
	free(err);
}

/* Label sets built from the selector's own text: each word as key and value. */
static json_t *labels_from(const char *s, int variant)
{
	json_t *l = json_object();
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, "=!(),<> \t\r\n");

		if (n) {
			char *w = strndup(p, n);

			if ((size_t)variant % 3 == n % 3)
				json_object_set_new(l, w, json_string(variant & 1 ? w : "1"));
			free(w);
			p += n;
		} else {
			p++;
		}
	}
	return l;
}

/* The canonical string must be a fixed point and mean the same thing. */
static void check_canonical(const struct label_selector *sel, const char *input)
{
	struct label_selector *again;
	char *s = label_selector_string(sel), *s2, *err = NULL;

	if (label_selector_parse(s, &again, &err)) {
		fprintf(stderr, "canonical form '%s' of '%s' does not parse: %s\n", s, input, err);
		abort();
	}
	s2 = label_selector_string(again);
	if (strcmp(s, s2)) {
		fprintf(stderr, "canonical form of '%s' is not stable: '%s' then '%s'\n", input, s, s2);
		abort();
	}
	if (label_selector_empty(sel) != label_selector_empty(again) || label_selector_empty(sel) != !s[0]) {
		fprintf(stderr, "emptiness differs for '%s'\n", input);
		abort();
	}
	for (int v = 0; v < 6; v++) {
		json_t *l = labels_from(s, v);

		if (label_selector_matches(sel, l) != label_selector_matches(again, l)) {
			fprintf(stderr, "'%s' and its canonical form '%s' match differently\n", input, s);
			abort();
		}
		json_decref(l);
	}
	label_selector_free(again);
	free(s);
	free(s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct label_selector *sel;
	struct field_selector *fsel;
	char *err = NULL;
	json_t *js;
	int ret;

	memcpy(s, data, size);
	s[size] = '\0';

	ret = label_selector_parse(s, &sel, &err);
	check_error(ret, err, "label_selector_parse");
	if (!ret) {
		check_canonical(sel, s);
		label_selector_free(sel);
	}

	err = NULL;
	ret = field_selector_parse(s, &fsel, &err);
	check_error(ret, err, "field_selector_parse");
	if (!ret) {
		const char *f;

		for (int i = 0; (f = field_selector_field(fsel, i)); i++) {
			const char *v = field_selector_exact(fsel, f);

			if (v && strlen(v) > size) {
				fprintf(stderr, "exact value longer than the input\n");
				abort();
			}
		}
		(void)field_selector_matches(fsel, get_field, NULL);
		if (field_selector_empty(fsel) != (field_selector_field(fsel, 0) == NULL)) {
			fprintf(stderr, "field selector emptiness is inconsistent\n");
			abort();
		}
		field_selector_free(fsel);
	}

	js = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (js) {
		err = NULL;
		ret = label_selector_from_json(js, &sel, &err);
		check_error(ret, err, "label_selector_from_json");
		if (!ret) {
			check_canonical(sel, s);
			label_selector_free(sel);
		}
		json_decref(js);
	}
	free(s);
	return 0;
}
