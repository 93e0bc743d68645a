/*
 * Unit tests for src/core/objcodec.c: obj_parse() builds the trees jansson
 * builds and rejects what it rejects, naming the line, column and reason;
 * obj_dump() prints jansson's compact bytes. (tests/fuzz/fuzz-objcodec.c
 * compares the two on arbitrary inputs.)
 */
#include "object.h"
#include "util.h"
#include "testing.h"

#include <stdlib.h>
#include <string.h>

/* Parses with both codecs and checks they agree; returns ours. */
static json_t *parse_both(const char *text, size_t flags)
{
	json_error_t e1, e2;
	json_t *ours = obj_parse(text, strlen(text), flags, &e1);
	json_t *theirs = json_loadb(text, strlen(text), flags, &e2);

	CHECK(!ours == !theirs);
	if (ours && theirs)
		CHECK(json_equal(ours, theirs));
	json_decref(theirs);
	return ours;
}

static void check_round_trip(const char *text)
{
	json_t *v = parse_both(text, JSON_DECODE_ANY);
	char *ours, *theirs;

	CHECK(v != NULL);
	if (!v)
		return;
	ours = obj_dump(v, NULL);
	theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	CHECK_STR(ours, theirs);
	free(ours);
	free(theirs);
	json_decref(v);
}

static void check_rejected(const char *text, size_t flags, int line, int column, const char *words)
{
	json_error_t err;
	json_t *v = obj_parse(text, strlen(text), flags, &err);
	json_t *theirs = json_loadb(text, strlen(text), flags, NULL);

	CHECK(v == NULL);
	CHECK(theirs == NULL);
	json_decref(v);
	json_decref(theirs);
	CHECK_INT(err.line, line);
	CHECK_INT(err.column, column);
	if (!strstr(err.text, words)) {
		fprintf(stderr, "error for %s: '%s' lacks '%s'\n", text, err.text, words);
		CHECK(!"message names the problem");
	}
}

static void test_values(void)
{
	json_t *v = parse_both("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"},\"f\":-2.5}", 0);

	CHECK(json_is_object(v));
	CHECK_INT(json_integer_value(obj_get(v, "a")), 1);
	CHECK(json_is_true(json_array_get(json_object_get(v, "b"), 0)));
	CHECK(json_is_null(json_array_get(json_object_get(v, "b"), 2)));
	CHECK_STR(obj_str(v, "c.d"), "e");
	CHECK(json_is_real(json_object_get(v, "f")));
	json_decref(v);

	/* Integers stay integers; a fraction or an exponent makes a real. */
	v = parse_both("[0,-0,9223372036854775807,-9223372036854775808,1.0,1e3,1E-3]", 0);
	CHECK(json_is_integer(json_array_get(v, 0)));
	CHECK(json_is_integer(json_array_get(v, 1)));
	CHECK(json_integer_value(json_array_get(v, 2)) == INT64_MAX);
	CHECK(json_integer_value(json_array_get(v, 3)) == INT64_MIN);
	CHECK(json_is_real(json_array_get(v, 4)));
	CHECK(json_is_real(json_array_get(v, 5)));
	CHECK(json_is_real(json_array_get(v, 6)));
	json_decref(v);

	/* The last of two equal keys wins, unless duplicates are refused. */
	v = parse_both("{\"a\":1,\"a\":2}", 0);
	CHECK_INT(json_integer_value(json_object_get(v, "a")), 2);
	CHECK_INT(json_object_size(v), 1);
	json_decref(v);
	check_rejected("{\"a\":1,\n\"a\":2}", JSON_REJECT_DUPLICATES, 2, 6, "duplicate object key \"a\"");

	/* Scalars at the top only when asked. */
	v = parse_both(" \"x\" ", JSON_DECODE_ANY);
	CHECK_STR(json_string_value(v), "x");
	json_decref(v);
	check_rejected("\"x\"", 0, 1, 1, "'[' or '{' expected");
}

static void test_strings(void)
{
	json_t *v = parse_both("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\",\"\\u00e9\\u20AC\",\"\\ud83d\\ude00\","
			       "\"plain \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"{\\\"k\\\":1}\"]", 0);

	CHECK_STR(json_string_value(json_array_get(v, 0)), "a\"b\\c/d\b\f\n\r\t");
	CHECK_STR(json_string_value(json_array_get(v, 1)), "\xc3\xa9\xe2\x82\xac");
	CHECK_STR(json_string_value(json_array_get(v, 2)), "\xf0\x9f\x98\x80");
	CHECK_STR(json_string_value(json_array_get(v, 3)), "plain \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	json_decref(v);

	/* An escaped key must survive the value that follows it. */
	v = parse_both("{\"k\\u00e9y\":{\"inner\\n\":\"v\\t\"},\"next\":1}", 0);
	CHECK(json_object_get(v, "k\xc3\xa9y") != NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(v, "k\xc3\xa9y"), "inner\n")), "v\t");
	json_decref(v);

	check_rejected("[\"abc", 0, 1, 6, "unterminated string");
	check_rejected("[\"a\tb\"]", 0, 1, 4, "control character 0x09");
	check_rejected("[\"\\q\"]", 0, 1, 3, "invalid escape '\\q'");
	check_rejected("[\"\\u12\"]", 0, 1, 3, "four hex digits");
	check_rejected("[\"\\ud800x\"]", 0, 1, 3, "surrogate");
	check_rejected("[\"\\udc00\"]", 0, 1, 3, "surrogate");
	check_rejected("[\"\\u0000\"]", 0, 1, 3, "\\u0000");
	check_rejected("[\"\xc0\xaf\"]", 0, 1, 3, "invalid UTF-8");
	check_rejected("[\"\xed\xa0\x80\"]", 0, 1, 3, "invalid UTF-8");   /* an encoded surrogate */
	check_rejected("[\"\xf4\x90\x80\x80\"]", 0, 1, 3, "invalid UTF-8"); /* above U+10FFFF */
	check_rejected("[\"\xe2\x82\"]", 0, 1, 3, "invalid UTF-8");       /* cut short */
}

static void test_syntax_errors(void)
{
	check_rejected("", 0, 1, 1, "'[' or '{' expected");
	check_rejected("{", 0, 1, 2, "expected an object key");
	check_rejected("{\"a\" 1}", 0, 1, 6, "expected ':'");
	check_rejected("{\"a\":1 \"b\":2}", 0, 1, 8, "expected ',' or '}'");
	check_rejected("{a:1}", 0, 1, 2, "expected '\"' to begin an object key");
	check_rejected("[1,]", 0, 1, 4, "unexpected ']'");
	check_rejected("[1\n,\n2 3]", 0, 3, 3, "expected ',' or ']'");
	check_rejected("[01]", 0, 1, 3, "expected ',' or ']'");
	check_rejected("[-]", 0, 1, 3, "a digit must follow '-'");
	check_rejected("[1.]", 0, 1, 4, "a digit must follow '.'");
	check_rejected("[1e+]", 0, 1, 5, "exponent");
	check_rejected("[9223372036854775808]", 0, 1, 2, "out of range");
	check_rejected("[-9223372036854775809]", 0, 1, 2, "out of range");
	check_rejected("[1e400]", 0, 1, 2, "out of range");
	check_rejected("[tru]", 0, 1, 2, "expected 'true'");
	check_rejected("[nul", 0, 1, 2, "expected 'null'");
	check_rejected("[1] x", 0, 1, 5, "end of input expected");
	check_rejected("[\x01]", 0, 1, 2, "byte 0x01");
	check_rejected("[1", 0, 1, 3, "unexpected end of input");
}

static void test_depth(void)
{
	struct strbuf sb;
	json_t *v;

	/* jansson's limit, 2048 levels, is ours too. */
	strbuf_init(&sb, 0);
	for (int i = 0; i < 2048; i++)
		strbuf_addc(&sb, '[');
	for (int i = 0; i < 2048; i++)
		strbuf_addc(&sb, ']');
	v = parse_both(sb.buf, 0);
	CHECK(v != NULL);
	json_decref(v);
	strbuf_reset(&sb);
	for (int i = 0; i < 2049; i++)
		strbuf_addc(&sb, '[');
	for (int i = 0; i < 2049; i++)
		strbuf_addc(&sb, ']');
	check_rejected(sb.buf, 0, 1, 2049, "nested too deeply");
	strbuf_release(&sb);
}

static void test_dump(void)
{
	json_t *v = json_pack("{s:s, s:i, s:I, s:f, s:f, s:f, s:b, s:n, s:[], s:{}}", "s", "q\"\\\x01\x1f\n/\xc3\xa9",
			      "i", -7, "big", (json_int_t)INT64_MIN, "r", 0.1, "one", 1.0, "e", 1e300,
			      "t", 1, "z", "a", "o");
	struct strbuf sb;
	char *ours, *theirs;

	ours = obj_dump(v, NULL);
	theirs = json_dumps(v, JSON_COMPACT);
	CHECK_STR(ours, theirs);
	CHECK(strstr(ours, "\\u0001\\u001F") != NULL);
	CHECK(strstr(ours, "\"one\":1.0") != NULL);
	CHECK(strstr(ours, "\"e\":1.0000000000000001e300") != NULL);
	free(ours);
	free(theirs);

	/* Appending leaves what was there; a failure leaves the buffer as it was. */
	strbuf_init(&sb, 0);
	strbuf_adds(&sb, "x=");
	CHECK_INT(obj_dump_to(&sb, json_object_get(v, "i")), 0);
	CHECK_STR(sb.buf, "x=-7");
	CHECK_INT(obj_dump_to(&sb, NULL), -1);
	CHECK_STR(sb.buf, "x=-7");
	strbuf_release(&sb);
	json_decref(v);

	ours = obj_dump(NULL, NULL);
	CHECK_STR(ours, "null");
	free(ours);
}

static void test_round_trips(void)
{
	check_round_trip("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-1\",\"labels\":{\"app\":\"web\"}},"
			 "\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80}]}]}}");
	check_round_trip("[-0.0,1e-7,123456789012345678.0,2.5,\"\\u007f\\u2028\"]");
	check_round_trip("{\"\":\"\",\"a\":{\"\":[]}}");
}

int main(void)
{
	test_values();
	test_strings();
	test_syntax_errors();
	test_depth();
	test_dump();
	test_round_trips();
	return test_done();
}
