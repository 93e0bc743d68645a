/*
 * Tests for src/core/yaml.c: go-yaml v2 scalar resolution, keys, tags,
 * multi-document streams and their line numbers, anchors and merge keys,
 * the limits (alias bombs, nesting), libyaml's error positions, kubectl's
 * output layout, and the round trip decode(encode(v)) == v on generated
 * values full of awkward strings.
 */
#include "yaml.h"
#include "testing.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);

	if (!v)
		fprintf(stderr, "bad test json '%s': %s\n", text, e.text);
	return v;
}

/* json_equal() looks object keys up as C strings, so keys with NUL bytes
 * (which YAML's "\0" makes) need a length-aware comparison. */
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

static char *dump(const json_t *v)
{
	return v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER) : strdup("(null)");
}

/* Decodes one document and compares it with the JSON text want. */
static void check_decode(int line, const char *yaml, const char *want_json)
{
	struct yaml_error err;
	json_t *got = yaml_decode_one(yaml, strlen(yaml), &err);
	json_t *want = J(want_json);

	test_checks++;
	if (!got || !want || !same(got, want)) {
		char *g = dump(got);

		fprintf(stderr, "%s:%d: decoding '%s'\n  got:  %s%s%s\n  want: %s\n", __FILE__, line, yaml, g,
			got ? "" : " error: ", got ? "" : err.message, want_json);
		free(g);
		test_failures++;
	}
	json_decref(got);
	json_decref(want);
}
#define DECODES(yaml, json) check_decode(__LINE__, yaml, json)

/* Decoding must fail with exactly this position and message. */
static void check_error(int line, const char *yaml, int want_line, int want_col, int want_doc,
			const char *want_msg)
{
	struct yaml_error err;
	json_t *docs = (json_t *)1;
	int *lines = (int *)1;
	int ret = yaml_decode_all(yaml, strlen(yaml), &docs, &lines, &err);

	test_checks++;
	if (ret != -1 || docs || lines || err.line != want_line || err.column != want_col ||
	    err.document != want_doc || strcmp(err.message, want_msg)) {
		fprintf(stderr,
			"%s:%d: decoding '%s'\n  got:  ret %d line %d col %d doc %d '%s'\n"
			"  want: line %d col %d doc %d '%s'\n",
			__FILE__, line, yaml, ret, err.line, err.column, err.document, ret ? err.message : "",
			want_line, want_col, want_doc, want_msg);
		test_failures++;
	}
	if (!ret) {
		json_decref(docs);
		free(lines);
	}
}
#define FAILS(yaml, l, c, d, msg) check_error(__LINE__, yaml, l, c, d, msg)

/* decode_one(encode(v)) must give v back. */
static bool round_trips(const json_t *v)
{
	struct yaml_error err;
	char *text = yaml_encode(v);
	json_t *back = yaml_decode_one(text, strlen(text), &err);
	bool ok = back && same(back, v);

	if (!ok) {
		char *d = dump(v), *b = dump(back);

		fprintf(stderr, "round trip failed\n  value: %s\n  yaml:\n%s\n  back:  %s %s\n", d, text, b,
			back ? "" : err.message);
		free(d);
		free(b);
	}
	json_decref(back);
	free(text);
	return ok;
}

static void check_encode(int line, json_t *v, const char *want)
{
	char *got = yaml_encode(v);

	test_checks++;
	if (strcmp(got, want)) {
		fprintf(stderr, "%s:%d: encoding\n  got:  [%s]\n  want: [%s]\n", __FILE__, line, got, want);
		test_failures++;
	}
	CHECK(round_trips(v));
	free(got);
	json_decref(v);
}
#define ENCODES(value, yaml) check_encode(__LINE__, value, yaml)

static void test_scalars(void)
{
	static const struct {
		const char *yaml, *json;
	} cases[] = {
		/* null */
		{ "~", "null" }, { "null", "null" }, { "Null", "null" }, { "NULL", "null" }, { "", "null" },
		{ "nULL", "\"nULL\"" },
		/* go-yaml v2 booleans, YAML 1.1 style */
		{ "true", "true" }, { "True", "true" }, { "TRUE", "true" }, { "yes", "true" }, { "Yes", "true" },
		{ "YES", "true" }, { "y", "true" }, { "Y", "true" }, { "on", "true" }, { "On", "true" },
		{ "ON", "true" }, { "false", "false" }, { "False", "false" }, { "FALSE", "false" },
		{ "no", "false" }, { "No", "false" }, { "NO", "false" }, { "n", "false" }, { "N", "false" },
		{ "off", "false" }, { "Off", "false" }, { "OFF", "false" },
		{ "yEs", "\"yEs\"" }, { "tRUE", "\"tRUE\"" }, { "oN", "\"oN\"" }, { "yes!", "\"yes!\"" },
		/* integers */
		{ "0", "0" }, { "-0", "0" }, { "42", "42" }, { "+12", "12" }, { "-17", "-17" },
		{ "1_000_000", "1000000" }, { "1_", "1" }, { "_1", "\"_1\"" },
		{ "0x1F", "31" }, { "0X1f", "31" }, { "-0x10", "-16" }, { "0o17", "15" }, { "017", "15" },
		{ "0b101", "5" }, { "-0b11", "-3" }, { "0x", "\"0x\"" }, { "0b2", "\"0b2\"" },
		{ "9223372036854775807", "9223372036854775807" },
		{ "-9223372036854775808", "-9223372036854775808" },
		/* beyond int64: go-yaml's uint64 or float64, a real here */
		{ "9223372036854775808", "9223372036854775808.0" },
		{ "18446744073709551615", "18446744073709551615.0" },
		{ "0xFFFFFFFFFFFFFFFF", "18446744073709551615.0" },
		{ "-9223372036854775809", "-9223372036854775809.0" },
		{ "0x1FFFFFFFFFFFFFFFF", "\"0x1FFFFFFFFFFFFFFFF\"" },
		/* floats */
		{ "1.5", "1.5" }, { "-1.5E-3", "-0.0015" }, { "1e3", "1000.0" }, { "1.", "1.0" },
		{ ".5", "0.5" }, { "-.5", "-0.5" }, { "+.5", "0.5" }, { "08", "8.0" }, { "09.5", "9.5" },
		{ "1_0.5", "10.5" }, { ".5_5", "0.55" }, { "._5", "\"._5\"" }, { "1e999", "\"1e999\"" },
		{ "6.02e+23", "6.02e23" },
		/* strings that look like something else */
		{ "1.2.3", "\"1.2.3\"" }, { "1:20", "\"1:20\"" }, { "2001-12-14", "\"2001-12-14\"" },
		{ "12abc", "\"12abc\"" }, { "0x1G", "\"0x1G\"" }, { "-x", "\"-x\"" }, { ".", "\".\"" },
		{ "-.inf_x", "\"-.inf_x\"" }, { "<<", "\"<<\"" }, { "nginx:1.25", "\"nginx:1.25\"" },
		{ "a b  c", "\"a b  c\"" }, { "日本", "\"日本\"" },
		/* quoted and block scalars are always strings */
		{ "'123'", "\"123\"" }, { "\"true\"", "\"true\"" }, { "''", "\"\"" }, { "'~'", "\"~\"" },
		{ "\"a\\tb\\u00e9\\x41\"", "\"a\\tbéA\"" }, { "'it''s'", "\"it's\"" },
		{ "|\n  123\n", "\"123\\n\"" }, { "|-\n  a\n  b\n", "\"a\\nb\"" },
		{ ">\n  a\n  b\n\n  c\n", "\"a b\\nc\\n\"" }, { "|+\n  a\n", "\"a\\n\\n\"" },
		/* tags */
		{ "!!str 123", "\"123\"" }, { "!!str true", "\"true\"" }, { "!!str", "\"\"" },
		{ "!!int \"0x10\"", "16" }, { "!!int '7'", "7" }, { "!!float 2", "2.0" },
		{ "!!float '1e3'", "1000.0" }, { "!!bool \"yes\"", "true" }, { "!!null x", "null" },
		{ "!!binary aGVsbG8=", "\"aGVsbG8=\"" }, { "!custom 5", "\"5\"" }, { "! 5", "\"5\"" },
		{ "!<tag:yaml.org,2002:int> 5", "5" }, { "!!timestamp 2001-12-14", "\"2001-12-14\"" },
	};
	char yaml[256], json[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(yaml, sizeof(yaml), "v: %s\n", cases[i].yaml);
		snprintf(json, sizeof(json), "{\"v\": %s}", cases[i].json);
		check_decode(__LINE__, yaml, json);
	}
	/* a real stays a real: 1000.0 is not the integer 1000 */
	{
		json_t *v = yaml_decode_one("1e3", 3, NULL);

		CHECK(json_is_real(v));
		json_decref(v);
	}

	FAILS("v: !!int abc\n", 1, 4, 1, "cannot decode !!str `abc` as a !!int");
	FAILS("v: !!int 1.5\n", 1, 4, 1, "cannot decode !!float `1.5` as a !!int");
	FAILS("v: !!bool 1\n", 1, 4, 1, "cannot decode !!int `1` as a !!bool");
	FAILS("v: !!float ~\n", 1, 4, 1, "cannot decode !!null `~` as a !!float");
	/* JSON has no infinities or NaN: kubectl fails on them too */
	FAILS("v: .inf\n", 1, 4, 1, "cannot represent '.inf' in JSON; quote it to keep it as a string");
	FAILS("- -.Inf\n", 1, 3, 1, "cannot represent '-.Inf' in JSON; quote it to keep it as a string");
	FAILS(".NaN\n", 1, 1, 1, "cannot represent '.NaN' in JSON; quote it to keep it as a string");
	FAILS("v: !!float .nan\n", 1, 4, 1, "cannot represent '.nan' in JSON; quote it to keep it as a string");
	DECODES("v: '.inf'\n", "{\"v\": \".inf\"}");
}

static void test_keys(void)
{
	/* keys become strings the way sigs.k8s.io/yaml converts them */
	DECODES("1: a\n0x10: b\ntrue: c\nno: d\n1.5: e\n1e6: f\n0.1: g\n.inf: h\n-.inf: i\n.nan: j\n",
		"{\"1\":\"a\",\"16\":\"b\",\"true\":\"c\",\"false\":\"d\",\"1.5\":\"e\",\"1e+06\":\"f\","
		"\"0.1\":\"g\",\".inf\":\"h\",\"-.inf\":\"i\",\".nan\":\"j\"}");
	DECODES("1e3: a\n100000: b\n0.0001: c\n0.00001: d\n-0.0: e\n",
		"{\"1000\":\"a\",\"100000\":\"b\",\"0.0001\":\"c\",\"1e-05\":\"d\",\"-0\":\"e\"}");
	DECODES("\"null\": a\n'': b\n!!str ~: c\n\"<<\": d\n", "{\"null\":\"a\",\"\":\"b\",\"~\":\"c\",\"<<\":\"d\"}");
	DECODES("{a, b: , c: 1}", "{\"a\":null,\"b\":null,\"c\":1}");
	DECODES("? |\n  multi\n  line\n: v\n", "{\"multi\\nline\\n\":\"v\"}");
	/* "y" is a boolean to go-yaml v2, so it is the key "true" */
	DECODES("- a: 1\n  b: 2\n- [x, {y: z}]\n", "[{\"a\":1,\"b\":2},[\"x\",{\"true\":\"z\"}]]");
	DECODES("k: {&i .inf: 1}\nl: {*i : 2}\n", "{\"k\":{\".inf\":1},\"l\":{\".inf\":2}}");
	FAILS("~: 1\n", 1, 1, 1, "null mapping key is not supported; quote it to make it a string");
	FAILS("null: 1\n", 1, 1, 1, "null mapping key is not supported; quote it to make it a string");
	FAILS("? [a]\n: 1\n", 1, 3, 1, "invalid map key: a mapping or sequence cannot be a key");
	FAILS("{a: 1}: 2\n", 1, 1, 1, "invalid map key: a mapping or sequence cannot be a key");
	/* duplicates, as strict decoding reports them; also after conversion to strings */
	FAILS("metadata:\n  name: a\n  labels: {}\n  name: b\n", 4, 3, 1,
	      "mapping key \"name\" already defined at line 2");
	FAILS("1: a\n\"1\": b\n", 2, 1, 1, "mapping key \"1\" already defined at line 1");
	FAILS("on: a\ntrue: b\n", 2, 1, 1, "mapping key \"true\" already defined at line 1");
	FAILS("{a: 1, a: 2}", 1, 8, 1, "mapping key \"a\" already defined at line 1");
	/* the same key in different mappings is fine */
	DECODES("a: {x: 1}\nb: {x: 2}\n", "{\"a\":{\"x\":1},\"b\":{\"x\":2}}");
}

static void test_documents(void)
{
	const char *stream = "# leading comment\n"  /* 1 */
			     "a: 1\n"               /* 2 */
			     "---\n"                /* 3 */
			     "# nothing here\n"     /* 4 */
			     "---\n"                /* 5 */
			     "---\n"                /* 6 */
			     "- x\n"                /* 7 */
			     "...\n"                /* 8 */
			     "---\n"                /* 9 */
			     "null\n"               /* 10 */
			     "--- |\n"              /* 11 */
			     "  text\n"             /* 12 */
			     "---\n"                /* 13 */
			     "\n"                   /* 14 */
			     "kind: Pod\n";         /* 15 */
	json_t *docs, *want = J("[{\"a\":1},[\"x\"],null,\"text\\n\",{\"kind\":\"Pod\"}]");
	int *lines;
	struct yaml_error err;

	CHECK_INT(yaml_decode_all(stream, strlen(stream), &docs, &lines, &err), 0);
	CHECK(same(docs, want));
	CHECK_INT(lines[0], 2);
	CHECK_INT(lines[1], 7);
	CHECK_INT(lines[2], 10);
	CHECK_INT(lines[3], 11);
	CHECK_INT(lines[4], 15);
	json_decref(docs);
	json_decref(want);
	free(lines);

	/* lines and err may be left out */
	CHECK_INT(yaml_decode_all("a: 1\n---\nb: 2\n", 14, &docs, NULL, NULL), 0);
	CHECK_INT(json_array_size(docs), 2);
	json_decref(docs);

	/* nothing at all, or only comments and markers */
	CHECK_INT(yaml_decode_all("", 0, &docs, &lines, &err), 0);
	CHECK_INT(json_array_size(docs), 0);
	json_decref(docs);
	free(lines);
	CHECK_INT(yaml_decode_all("# c\n---\n---\n...\n", 16, &docs, &lines, &err), 0);
	CHECK_INT(json_array_size(docs), 0);
	json_decref(docs);
	free(lines);

	/* decode_one wants exactly one */
	CHECK(yaml_decode_one("# only a comment\n", 17, &err) == NULL);
	CHECK_STR(err.message, "no YAML document found; the input is empty");
	CHECK(yaml_decode_one("a: 1\n---\nb: 2\n", 14, &err) == NULL);
	CHECK_STR(err.message, "expected one YAML document but found 2; send them one at a time");
	CHECK_INT(err.line, 3);
	CHECK_INT(err.document, 2);
	DECODES("---\na: 1\n...\n", "{\"a\":1}");
	DECODES("--- \n---\na: 1\n", "{\"a\":1}");

	/* errors name the document they are in */
	FAILS("a: 1\n---\nb: [\n", 4, 1, 2, "did not find expected node content");
	FAILS("a: 1\n---\nb: 2\n---\nc: d: e\n", 5, 5, 3, "mapping values are not allowed in this context");

	/* byte order mark, CRLF, JSON */
	DECODES("\xef\xbb\xbf" "a: 1\r\nb:\r\n- x\r\n", "{\"a\":1,\"b\":[\"x\"]}");
	DECODES("{\"a\":1,\"b\":[true,null,\"x\",1.5],\"c\":{}}",
		"{\"a\":1,\"b\":[true,null,\"x\",1.5],\"c\":{}}");
	DECODES("%YAML 1.1\n---\na: 1\n", "{\"a\":1}");
}

static void test_errors(void)
{
	FAILS("a: b: c\n", 1, 5, 1, "mapping values are not allowed in this context");
	FAILS("a:\n\tb: 1\n", 2, 1, 1, "found character that cannot start any token");
	FAILS("a: @x\n", 1, 4, 1, "found character that cannot start any token");
	FAILS("a: 'unterminated\n", 2, 1, 1, "found unexpected end of stream");
	FAILS("a:\n  - b\n c: d\n", 3, 2, 1, "did not find expected key");
	FAILS("- a\nb: c\n", 2, 1, 1, "did not find expected '-' indicator");
	FAILS("a: \xff\n", 1, 4, 1, "invalid leading UTF-8 octet");
	FAILS("a: 1\nb: \"\\q\"\n", 2, 5, 1, "found unknown escape character");
	FAILS("%YAML 2.0\n---\na: 1\n", 1, 1, 1, "found incompatible YAML document");
	FAILS("a: !x!y b\n", 1, 4, 1, "found undefined tag handle");
}

static void test_anchors(void)
{
	struct yaml_error err;
	const char *base = "base: &base\n"
			   "  image: nginx\n"
			   "  ports: [80]\n"
			   "  name: base\n"
			   "extra: &extra\n"
			   "  name: extra\n"
			   "  env: prod\n"
			   "one:\n"
			   "  name: one\n"
			   "  <<: *base\n"
			   "list:\n"
			   "  <<: [*extra, *base]\n"
			   "  port: 1\n"
			   "inline:\n"
			   "  <<: {a: 1, b: 1}\n"
			   "  b: 2\n"
			   "late:\n"
			   "  name: x\n"
			   "  <<: *base\n"
			   "  image: mine\n"
			   "twice:\n"
			   "  <<: *extra\n"
			   "  <<: *base\n";
	json_t *v, *want;

	DECODES("a: &x hello\nb: *x\nc: &n [1, {k: v}]\nd: *n\n",
		"{\"a\":\"hello\",\"b\":\"hello\",\"c\":[1,{\"k\":\"v\"}],\"d\":[1,{\"k\":\"v\"}]}");
	/* redefining an anchor: later aliases see the latest */
	DECODES("- &a 1\n- *a\n- &a 2\n- *a\n", "[1,1,2,2]");
	/* aliases as keys take the key form of what they name */
	DECODES("k: &k 7\n*k : seven\n", "{\"k\":7,\"7\":\"seven\"}");

	v = yaml_decode_one(base, strlen(base), &err);
	want = J("{\"base\":{\"image\":\"nginx\",\"ports\":[80],\"name\":\"base\"},"
		 "\"extra\":{\"name\":\"extra\",\"env\":\"prod\"},"
		 "\"one\":{\"name\":\"one\",\"image\":\"nginx\",\"ports\":[80]},"
		 "\"list\":{\"name\":\"extra\",\"env\":\"prod\",\"image\":\"nginx\",\"ports\":[80],\"port\":1},"
		 "\"inline\":{\"a\":1,\"b\":2},"
		 "\"late\":{\"name\":\"x\",\"ports\":[80],\"image\":\"mine\"},"
		 "\"twice\":{\"name\":\"extra\",\"env\":\"prod\",\"image\":\"nginx\",\"ports\":[80]}}");
	CHECK(same(v, want));
	if (v && !same(v, want)) {
		char *d = dump(v);

		fprintf(stderr, "  merge got %s\n", d);
		free(d);
	}
	/* merged keys keep the position of the "<<" */
	if (v) {
		void *it = json_object_iter(json_object_get(v, "one"));

		CHECK_STR(json_object_iter_key(it), "name");
		it = json_object_iter(json_object_get(v, "late"));
		it = json_object_iter_next(json_object_get(v, "late"), it);
		CHECK_STR(json_object_iter_key(it), "ports");
	}
	/* alias copies are deep: changing one leaves the other alone */
	if (v) {
		json_t *p1 = json_object_get(json_object_get(v, "base"), "ports");
		json_t *p2 = json_object_get(json_object_get(v, "one"), "ports");

		CHECK(p1 != p2);
		json_array_append_new(p2, json_integer(443));
		CHECK_INT(json_array_size(p1), 1);
	}
	json_decref(v);
	json_decref(want);

	FAILS("a: *nope\n", 1, 4, 1, "unknown anchor 'nope' referenced");
	FAILS("a: &x 1\n---\nb: *x\n", 3, 4, 2, "unknown anchor 'x' referenced");
	FAILS("a: &a [1, *a]\n", 1, 11, 1, "anchor 'a' value contains itself");
	FAILS("a: &a\n  b: *a\n", 2, 6, 1, "anchor 'a' value contains itself");
	FAILS("a:\n  <<: 3\n", 2, 7, 1, "map merge requires map or sequence of maps as the value");
	FAILS("s: &s str\na:\n  <<: *s\n", 3, 7, 1, "map merge requires map or sequence of maps as the value");
	FAILS("a:\n  <<: [{x: 1}, 2]\n", 2, 7, 1, "map merge requires map or sequence of maps as the value");
	FAILS("a: &i .inf\nb: *i\n", 1, 4, 1, "cannot represent '.inf' in JSON; quote it to keep it as a string");
}

/* n nested flow sequences around inner, in a static buffer */
static const char *nested(size_t n, const char *inner)
{
	static char buf[4096];
	size_t len = strlen(inner);

	memset(buf, '[', n);
	memcpy(buf + n, inner, len);
	memset(buf + n + len, ']', n);
	buf[2 * n + len] = 0;
	return buf;
}

static void test_limits(void)
{
	const char *bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
			   "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
			   "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
			   "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
			   "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
			   "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
			   "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
			   "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
			   "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
	struct yaml_error err;
	json_t *v;
	size_t n;

	FAILS(bomb, 6, 8, 1, "document expands to too many nodes (alias bomb?)");
	/* the bound is over the whole stream, not per document */
	{
		const char *doc = "a: &a [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]\n"
				  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
				  "c: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n---\n";
		char *stream = malloc(strlen(doc) * 10 + 1);
		json_t *docs;

		stream[0] = 0;
		for (int i = 0; i < 10; i++)
			strcat(stream, doc);
		CHECK_INT(yaml_decode_all(stream, strlen(doc), &docs, NULL, &err), 0);
		json_decref(docs);
		CHECK_INT(yaml_decode_all(stream, strlen(stream), &docs, NULL, &err), -1);
		CHECK_STR(err.message, "document expands to too many nodes (alias bomb?)");
		free(stream);
	}

	/* one long string copied many times is a bomb too: 9000 bytes, copied
	 * 10 + 100 + 900 * k times, passes 8 MiB at k = 9 */
	for (int k = 8; k <= 9; k++) {
		static char s[20000];
		size_t len;

		len = (size_t)snprintf(s, sizeof(s), "a: &a ");
		memset(s + len, 'x', 9000);
		len += 9000;
		len += (size_t)snprintf(s + len, sizeof(s) - len, "\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
					"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c");
		for (int i = 1; i < k; i++)
			len += (size_t)snprintf(s + len, sizeof(s) - len, ",*c");
		len += (size_t)snprintf(s + len, sizeof(s) - len, "]\n");
		v = yaml_decode_one(s, len, &err);
		CHECK_INT(v != NULL, k == 8);
		if (k == 9) {
			CHECK_STR(err.message, "document expands to too many nodes (alias bomb?)");
			CHECK_INT(err.line, 4);
		}
		json_decref(v);
	}

	/* nesting: 1000 levels are fine, 1001 are not */
	v = yaml_decode_one(nested(1000, ""), 2000, &err);
	CHECK(v != NULL);
	json_decref(v);
	FAILS(nested(1001, ""), 1, 1001, 1, "document nests too deeply (more than 1000 levels)");
	/* ... also when an alias brings the depth */
	{
		static char s[4000];

		snprintf(s, sizeof(s), "a: &d %s\n", nested(600, ""));
		n = strlen(s);
		snprintf(s + n, sizeof(s) - n, "b: %s\n", nested(500, "*d"));
		CHECK(yaml_decode_one(s, strlen(s), &err) == NULL);
		CHECK_STR(err.message, "document nests too deeply (more than 1000 levels)");
	}
}

static void test_encode_layout(void)
{
	const char *deployment =
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
		"\"labels\":{\"app\":\"web\"},\"annotations\":{\"deployment.kubernetes.io/revision\":\"1\","
		"\"note\":\"a: b\",\"empty\":\"\",\"multi\":\"line one\\nline two\\n\"}},"
		"\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{"
		"\"name\":\"web\",\"image\":\"nginx:1.25\",\"args\":[\"--port=80\",\"true\"],"
		"\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],\"env\":[],\"resources\":{}}],"
		"\"nodeSelector\":null}},\"ratio\":0.5,\"paused\":false}}";
	const char *want = "apiVersion: apps/v1\n"
			   "kind: Deployment\n"
			   "metadata:\n"
			   "  name: web\n"
			   "  labels:\n"
			   "    app: web\n"
			   "  annotations:\n"
			   "    deployment.kubernetes.io/revision: \"1\"\n"
			   "    note: 'a: b'\n"
			   "    empty: \"\"\n"
			   "    multi: |\n"
			   "      line one\n"
			   "      line two\n"
			   "spec:\n"
			   "  replicas: 3\n"
			   "  selector:\n"
			   "    matchLabels:\n"
			   "      app: web\n"
			   "  template:\n"
			   "    metadata:\n"
			   "      labels:\n"
			   "        app: web\n"
			   "    spec:\n"
			   "      containers:\n"
			   "      - name: web\n"
			   "        image: nginx:1.25\n"
			   "        args:\n"
			   "        - --port=80\n"
			   "        - \"true\"\n"
			   "        ports:\n"
			   "        - containerPort: 80\n"
			   "          protocol: TCP\n"
			   "        env: []\n"
			   "        resources: {}\n"
			   "      nodeSelector: null\n"
			   "  ratio: 0.5\n"
			   "  paused: false\n";

	ENCODES(J(deployment), want);

	/* top-level values and the quoting rules */
	ENCODES(json_null(), "null\n");
	ENCODES(json_true(), "true\n");
	ENCODES(json_integer(-42), "-42\n");
	ENCODES(json_real(1.0), "1.0\n");
	ENCODES(json_real(0.1), "0.1\n");
	ENCODES(json_real(1e300), "1e+300\n");
	ENCODES(json_real(-2.5e-7), "-2.5e-07\n");
	ENCODES(json_object(), "{}\n");
	ENCODES(json_array(), "[]\n");
	ENCODES(json_string("plain text"), "plain text\n");
	ENCODES(json_string(""), "\"\"\n");
	ENCODES(json_string("true"), "\"true\"\n");
	ENCODES(json_string("yes"), "\"yes\"\n");
	ENCODES(json_string("123"), "\"123\"\n");
	ENCODES(json_string("0x1F"), "\"0x1F\"\n");
	ENCODES(json_string("1e3"), "\"1e3\"\n");
	ENCODES(json_string("~"), "\"~\"\n");
	ENCODES(json_string("null"), "\"null\"\n");
	ENCODES(json_string("1:20"), "\"1:20\"\n");
	ENCODES(json_string("<<"), "\"<<\"\n");
	ENCODES(json_string(".inf"), "\".inf\"\n");
	ENCODES(json_string("a: b"), "'a: b'\n");
	ENCODES(json_string("- x"), "'- x'\n");
	ENCODES(json_string("#x"), "'#x'\n");
	ENCODES(json_string("x #y"), "'x #y'\n");
	ENCODES(json_string(" lead"), "' lead'\n");
	ENCODES(json_string("trail "), "'trail '\n");
	ENCODES(json_string("{x}"), "'{x}'\n");
	ENCODES(json_string("it's"), "it's\n");
	ENCODES(json_string("a\tb"), "\"a\\tb\"\n");
	ENCODES(json_string("a\nb"), "|-\n  a\n  b\n");
	ENCODES(json_string("-x"), "-x\n");
	ENCODES(json_string("é日本"), "é日本\n");
	ENCODES(json_stringn("a\0b", 3), "\"a\\0b\"\n");
	ENCODES(J("{\"1\":1,\"true\":2,\"\":3,\"a b\":4}"), "\"1\": 1\n\"true\": 2\n\"\": 3\na b: 4\n");
	ENCODES(J("[[1,2],[]]"), "- - 1\n  - 2\n- []\n");
}

/* -- generated values for the round-trip property -- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const char *const fragments[] = {
	"a", "web", " ", "  ", ":", ": ", "#", " #", "-", "- ", "?", "? ", "{", "}", "[", "]", ",",
	"&a", "*a", "!", "!!str", "|", ">", "'", "\"", "%", "@", "`", "\n", "\n\n", "\r", "\r\n",
	"\t", "\\", "\x01", "\x7f", "é", "日本", "\xc2\x85", "\xe2\x80\xa8", "\xe2\x80\xa9",
	"\xef\xbb\xbf", "\xc2\xa0", "\xf0\x9f\x98\x80", "0x1F", "1e3", "1.5", "-1", "+1", "0o7",
	"true", "yes", "No", "null", "~", "<<", "---", "...", "1:20", ".inf", ".nan", "123", "y", "=",
	"0", "_", ".", "key: value", "- item", "--port=80", "http://x:80/a?b#c", "\"quoted\"",
	"'single'",
};

static json_t *gen_string(void)
{
	char buf[512];
	size_t len = 0;
	int n = (int)(rnd() % 6);

	for (int i = 0; i < n; i++) {
		if (rnd() % 16 == 0) {
			buf[len++] = '\0';
			continue;
		}
		const char *f = fragments[rnd() % (sizeof(fragments) / sizeof(fragments[0]))];
		size_t fl = strlen(f);

		memcpy(buf + len, f, fl);
		len += fl;
	}
	return json_stringn(buf, len);
}

static json_t *gen_value(int depth)
{
	switch (rnd() % (depth > 4 ? 5 : 8)) {
	case 0:
		return json_null();
	case 1:
		return json_boolean(rnd() & 1);
	case 2: {
		static const json_int_t edges[] = { 0, 1, -1, INT64_MAX, INT64_MIN, 1000000, 0x1f, 17 };

		return json_integer(rnd() & 1 ? edges[rnd() % 8] : (json_int_t)(rnd() >> (rnd() % 64)));
	}
	case 3: {
		static const double edges[] = { 0.0, -0.0, 1.0, -2.5, 0.1, 1e300, 4.9e-324, 1e21, 1e-7,
						1234567.0, 9007199254740993.0, 1.7976931348623157e308 };
		double d;

		if (rnd() & 1)
			return json_real(edges[rnd() % 12]);
		do {
			uint64_t bits = rnd();

			memcpy(&d, &bits, sizeof(d));
		} while (isnan(d) || isinf(d));
		return json_real(d);
	}
	case 4:
		return gen_string();
	case 5:
	case 6: {
		json_t *o = json_object();
		int n = (int)(rnd() % 5);

		for (int i = 0; i < n; i++) {
			json_t *k = gen_string();

			json_object_setn_new(o, json_string_value(k), json_string_length(k), gen_value(depth + 1));
			json_decref(k);
		}
		return o;
	}
	default: {
		json_t *a = json_array();
		int n = (int)(rnd() % 5);

		for (int i = 0; i < n; i++)
			json_array_append_new(a, gen_value(depth + 1));
		return a;
	}
	}
}

static void test_round_trip(void)
{
	int failed = 0;

	for (int i = 0; i < 3000; i++) {
		json_t *v = gen_value(0);

		if (!round_trips(v))
			failed++;
		json_decref(v);
		if (failed > 5)
			break;
	}
	CHECK_INT(failed, 0);
	/* every fragment alone, as value and as key */
	for (size_t i = 0; i < sizeof(fragments) / sizeof(fragments[0]); i++) {
		json_t *v = json_string(fragments[i]);
		json_t *o = json_object();

		json_object_set(o, fragments[i], v);
		CHECK(round_trips(v));
		CHECK(round_trips(o));
		json_decref(v);
		json_decref(o);
	}
	/* long keys and values (the emitter switches to "? " keys past 128) */
	{
		char big[3000];
		json_t *o = json_object();

		memset(big, 'k', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		json_object_set_new(o, big, json_string(big));
		CHECK(round_trips(o));
		json_decref(o);
	}
}

int main(void)
{
	test_scalars();
	test_keys();
	test_documents();
	test_errors();
	test_anchors();
	test_limits();
	test_encode_layout();
	test_round_trip();
	return test_done();
}
