/*
 * Tests for src/core/util.c and object.c: strbuf growth and detach, time
 * formatting and parsing, kubectl's duration form, object path accessors
 * and Status builders.
 */
#include "core/object.h"
#include "core/util.h"
#include "testing.h"

#include <stdlib.h>

static void test_strbuf(void)
{
	struct strbuf sb;
	char *s;
	size_t len;

	strbuf_init(&sb, 0);
	CHECK_STR(sb.buf, "");
	for (int i = 0; i < 1000; i++)
		strbuf_addf(&sb, "%d,", i);
	CHECK(sb.len > 2000);
	CHECK(str_has_prefix(sb.buf, "0,1,2,"));
	CHECK(str_has_suffix(sb.buf, "998,999,"));
	s = strbuf_detach(&sb, &len);
	CHECK_INT(len, strlen(s));
	CHECK_STR(sb.buf, "");
	CHECK_INT(sb.len, 0);
	strbuf_adds(&sb, "again");
	CHECK_STR(sb.buf, "again");
	strbuf_reset(&sb);
	CHECK_STR(sb.buf, "");
	strbuf_release(&sb);
	strbuf_release(&sb); /* twice is harmless */
	free(s);

	/* detach of a never-grown buffer still gives an owned empty string */
	strbuf_init(&sb, 0);
	strbuf_release(&sb);
	s = strbuf_detach(&sb, NULL);
	CHECK_STR(s, "");
	free(s);

	s = xasprintf("%s-%d", "web", 7);
	CHECK_STR(s, "web-7");
	free(s);
}

static void test_time(void)
{
	char buf[TIME_RFC3339_LEN];
	time_t t;

	time_format_rfc3339(0, buf);
	CHECK_STR(buf, "1970-01-01T00:00:00Z");
	CHECK_INT(time_parse_rfc3339("2026-12-03T19:01:48Z", &t), 0);
	time_format_rfc3339(t, buf);
	CHECK_STR(buf, "2026-12-03T19:01:48Z");
	CHECK_INT(time_parse_rfc3339("2026-12-03T19:01:48.123456Z", &t), 0);
	time_format_rfc3339(t, buf);
	CHECK_STR(buf, "2026-12-03T19:01:48Z");
	CHECK_INT(time_parse_rfc3339("2026-12-03T21:01:48+02:00", &t), 0);
	time_format_rfc3339(t, buf);
	CHECK_STR(buf, "2026-12-03T19:01:48Z");
	CHECK_INT(time_parse_rfc3339("yesterday", &t), -1);
	CHECK_INT(time_parse_rfc3339("2026-12-03T19:01:48", &t), -1);
	CHECK_INT(time_parse_rfc3339("2026-12-03T19:01:48Zjunk", &t), -1);
}

static void test_duration(void)
{
	/* kubectl's HumanDuration for the AGE columns */
	static const struct { int64_t s; const char *want; } cases[] = {
		{ -5, "<invalid>" }, { -1, "0s" }, { 0, "0s" }, { 59, "59s" }, { 119, "119s" },
		{ 120, "2m" }, { 150, "2m30s" }, { 300, "5m" }, { 599, "9m59s" }, { 600, "10m" },
		{ 179 * 60, "179m" }, { 3 * 3600, "3h" }, { 3 * 3600 + 60, "3h1m" }, { 8 * 3600, "8h" },
		{ 47 * 3600, "47h" }, { 48 * 3600, "2d" }, { 77 * 3600, "3d5h" }, { 8 * 86400, "8d" },
		{ 700 * 86400LL, "700d" }, { 730 * 86400LL, "2y" }, { 800 * 86400LL, "2y70d" },
		{ 9 * 365 * 86400LL, "9y" },
	};
	char buf[32];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		duration_short(cases[i].s, buf, sizeof(buf));
		CHECK_STR(buf, cases[i].want);
	}
}

static void test_object(void)
{
	json_error_t err;
	json_t *o = json_loads("{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"labels\":{\"app\":\"x\"},"
			       "\"resourceVersion\":\"42\"},\"spec\":{\"replicas\":3,\"paused\":true}}",
			       0, &err);
	char *key;

	CHECK(o != NULL);
	CHECK_STR(obj_name(o), "web");
	CHECK_STR(obj_namespace(o), "default");
	CHECK_INT(obj_int(o, "spec.replicas", 1), 3);
	CHECK_INT(obj_int(o, "spec.missing", 7), 7);
	CHECK_INT(obj_int(o, "metadata.name", 7), 7); /* wrong type: the default */
	CHECK(obj_bool(o, "spec.paused", false));
	CHECK(obj_get(o, "spec.replicas.deeper") == NULL);
	CHECK_INT(obj_rv(o), 42);
	obj_set_rv(o, 43);
	CHECK_STR(obj_str(o, "metadata.resourceVersion"), "43");
	CHECK_STR(obj_label(o, "app"), "x");
	CHECK(obj_label(o, "nope") == NULL);
	key = obj_key(o);
	CHECK_STR(key, "default/web");
	free(key);

	obj_set(o, "status.conditions.ready", json_true());
	CHECK(json_is_true(obj_get(o, "status.conditions.ready")));
	obj_default_str(o, "spec.strategy", "Recreate");
	obj_default_str(o, "metadata.name", "other");
	CHECK_STR(obj_str(o, "spec.strategy"), "Recreate");
	CHECK_STR(obj_name(o), "web");
	obj_del(o, "spec.strategy");
	CHECK(obj_get(o, "spec.strategy") == NULL);
	/* setting through a non-object replaces it with an object */
	obj_set(o, "spec.replicas.x", json_integer(1));
	CHECK_INT(obj_int(o, "spec.replicas.x", 0), 1);
	json_decref(o);

	json_t *st = status_new_details(404, "NotFound", "pods \"x\" not found", "x", "", "pods");
	CHECK_STR(obj_str(st, "kind"), "Status");
	CHECK_STR(obj_str(st, "status"), "Failure");
	CHECK_INT(obj_int(st, "code", 0), 404);
	CHECK_STR(obj_str(st, "details.name"), "x");
	CHECK(obj_get(st, "details.group") == NULL);
	json_decref(st);
}

static void test_distance(void)
{
	CHECK_INT(str_distance("", ""), 0);
	CHECK_INT(str_distance("deploy", "deploy"), 0);
	CHECK_INT(str_distance("deploymnt", "deployment"), 1);
	CHECK_INT(str_distance("pods", "pod"), 1);
	CHECK_INT(str_distance("kitten", "sitting"), 3);
	CHECK_INT(str_distance("", "abc"), 3);
	/* case counts for one, not for the other */
	CHECK_INT(str_distance("Deployment", "deployment"), 1);
	CHECK_INT(str_distance_nocase("Deployment", "deployment"), 0);
	CHECK_INT(str_distance_nocase("DEPLOYMNT", "deployment"), 1);
	CHECK_INT(str_distance_nocase("kitten", "SITTING"), 3);
}

int main(void)
{
	test_distance();
	test_strbuf();
	test_time();
	test_duration();
	test_object();
	return test_done();
}
