/*
 * Unit tests for src/core/intern.c: equal values become one shared value,
 * unequal ones (other order, other type, other bytes) stay apart, interned
 * trees stay equal to what went in, sweeping forgets only what nobody else
 * holds, and obj_intern_check sees a shared value changed in place.
 */
#include "intern.h"
#include "object.h"
#include "util.h"
#include "testing.h"

#include <stdlib.h>

static json_t *parse(const char *s)
{
	json_t *v = obj_parse(s, strlen(s), JSON_DECODE_ANY, NULL);

	CHECK(v != NULL);
	return v;
}

static void test_sharing(void)
{
	struct obj_intern *t = obj_intern_new();
	const char *text = "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"web\"}},"
			   "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}],\"n\":1}}";
	char *a_text = xasprintf(text, "a"), *b_text = xasprintf(text, "b");
	json_t *a_in = parse(a_text), *a_copy = json_deep_copy(a_in);
	json_t *a = obj_intern(t, a_in), *b = obj_intern(t, parse(b_text));
	json_t *a2 = obj_intern(t, parse(a_text));

	/* What went in is what came out, value for value. */
	CHECK(json_equal(a, a_copy));
	/* Equal parts are one value; unequal ones are not. */
	CHECK(obj_get(a, "spec") == obj_get(b, "spec"));
	CHECK(obj_get(a, "metadata.labels") == obj_get(b, "metadata.labels"));
	CHECK(obj_get(a, "metadata") != obj_get(b, "metadata"));
	CHECK(obj_get(a, "spec.containers") == obj_get(b, "spec.containers"));
	/* A whole equal object is itself (each is cached once), but every
	 * part of it is shared. */
	CHECK(a2 != a);
	CHECK(obj_get(a2, "metadata") == obj_get(a, "metadata"));
	CHECK(obj_get(a2, "spec") == obj_get(a, "spec"));
	/* Strings with equal bytes are shared wherever they sit. */
	{
		json_t *v = obj_intern(t, parse("{\"x\":\"busybox\",\"y\":[\"busybox\"]}"));

		CHECK(json_object_get(v, "x") == json_array_get(json_object_get(v, "y"), 0));
		CHECK(json_object_get(v, "x") ==
		      json_object_get(json_array_get(obj_get(a, "spec.containers"), 0), "image"));
		json_decref(v);
	}
	json_decref(a);
	json_decref(a2);
	json_decref(b);
	json_decref(a_copy);
	free(a_text);
	free(b_text);
	obj_intern_free(t);
}

static void test_distinctions(void)
{
	struct obj_intern *t = obj_intern_new();
	json_t *ab = obj_intern(t, parse("{\"a\":1,\"b\":2}"));
	json_t *ba = obj_intern(t, parse("{\"b\":2,\"a\":1}"));
	json_t *i = obj_intern(t, parse("[1]"));
	json_t *r = obj_intern(t, parse("[1.0]"));
	json_t *z1 = obj_intern(t, parse("[0.0]"));
	json_t *z2 = obj_intern(t, parse("[-0.0]"));
	json_t *s1 = obj_intern(t, parse("[\"x\",\"x\"]"));
	json_t *s2 = obj_intern(t, parse("[\"x\",\"y\"]"));
	char *dump = obj_dump(ba, NULL);

	/* Key order is kept: interning never reorders an object. */
	CHECK(ab != ba);
	CHECK_STR(dump, "{\"b\":2,\"a\":1}");
	CHECK(i != r);
	CHECK(json_is_integer(json_array_get(i, 0)) && json_is_real(json_array_get(r, 0)));
	CHECK(json_array_get(z1, 0) == json_array_get(z2, 0));   /* jansson says -0.0 equals 0.0, and so do we */
	CHECK(json_array_get(s1, 0) == json_array_get(s1, 1));
	CHECK(json_array_get(s1, 0) == json_array_get(s2, 0));
	CHECK(s1 != s2);
	free(dump);
	json_decref(ab);
	json_decref(ba);
	json_decref(i);
	json_decref(r);
	json_decref(z1);
	json_decref(z2);
	json_decref(s1);
	json_decref(s2);
	obj_intern_free(t);
}

static void test_sweep_and_check(void)
{
	struct obj_intern *t = obj_intern_new();
	json_t *keep = obj_intern(t, parse("{\"k\":{\"deep\":[\"kept\"]}}"));
	size_t n;

	for (int i = 0; i < 100; i++) {
		char *s = xasprintf("{\"gone\":{\"n\":%d,\"deep\":[\"dropped %d\"]}}", i, i);

		json_decref(obj_intern(t, parse(s)));
		free(s);
	}
	n = obj_intern_count(t);
	CHECK(n > 100);
	obj_intern_sweep(t);
	/* Only keep's parts are left: its member object, the array, the string
	 * (not keep itself, the top level; true/false/null are singletons). */
	CHECK_INT(obj_intern_count(t), 3);
	CHECK_STR(json_string_value(json_array_get(obj_get(keep, "k.deep"), 0)), "kept");
	CHECK_INT(obj_intern_check(t), 0);

	/* Changing a shared value in place is what the check is for. */
	json_string_set(json_array_get(obj_get(keep, "k.deep"), 0), "changed");
	CHECK(obj_intern_check(t) > 0);
	json_decref(keep);
	obj_intern_free(t);
}

/* Many objects from a few templates, as a cache of pods: memory shrinks and
 * every object is still itself. */
static void test_many(void)
{
	struct obj_intern *t = obj_intern_new();
	json_t *objs[3000];

	for (int i = 0; i < 3000; i++) {
		char *s = xasprintf("{\"metadata\":{\"name\":\"p%d\",\"labels\":{\"app\":\"a%d\"}},"
				    "\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":%d}]}]}}",
				    i, i % 3, 80 + i % 3);
		objs[i] = obj_intern(t, parse(s));
		free(s);
	}
	for (int i = 0; i < 3000; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d", i);
		CHECK_STR(obj_name(objs[i]), name);
		CHECK(obj_get(objs[i], "spec") == obj_get(objs[i % 3], "spec"));
	}
	CHECK_INT(obj_intern_check(t), 0);
	for (int i = 0; i < 3000; i++)
		json_decref(objs[i]);
	obj_intern_sweep(t);
	CHECK_INT(obj_intern_count(t), 0);
	obj_intern_free(t);
}

int main(void)
{
	test_sharing();
	test_distinctions();
	test_sweep_and_check();
	test_many();
	return test_done();
}
