/*
 * Tests for src/core/patch.c: the RFC 7386 and RFC 6902 example tables,
 * strategic merge patch cases modelled on what kubectl and controllers send,
 * and the three-way patch of `kubectl apply`, checked case by case and on a
 * few hundred generated (last-applied, manifest, live) triples against a
 * small model of what apply must do.
 */
#include "patch.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

static json_t *J(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, JSON_DECODE_ANY, &e);

	if (!v) {
		fprintf(stderr, "bad JSON in test: %s: %s\n", e.text, s);
		abort();
	}
	return v;
}

static char *dump(const json_t *v)
{
	return v ? json_dumps(v, JSON_ENCODE_ANY | JSON_SORT_KEYS | JSON_COMPACT) : strdup("(null)");
}

/* Compares got (consumed) with the JSON text want. Arrays compare in order. */
#define CHECK_JSON(got, want) check_json(__FILE__, __LINE__, (got), (want))
static void check_json(const char *file, int line, json_t *got, const char *want)
{
	json_t *w = J(want);

	test_checks++;
	if (!got || !json_equal(got, w)) {
		char *g = dump(got), *ws = dump(w);

		fprintf(stderr, "%s:%d: JSON differs\n  got:  %s\n  want: %s\n", file, line, g, ws);
		free(g);
		free(ws);
		test_failures++;
	}
	json_decref(w);
	json_decref(got);
}

#define CHECK_CONTAINS(s, part)                                                                   \
	do {                                                                                      \
		const char *_s = (s), *_p = (part);                                               \
		test_checks++;                                                                    \
		if (!_s || !strstr(_s, _p)) {                                                     \
			fprintf(stderr, "%s:%d: '%s' not in '%s'\n", __FILE__, __LINE__, _p,      \
				_s ? _s : "(null)");                                              \
			test_failures++;                                                          \
		}                                                                                 \
	} while (0)

static bool is_directive_key(const char *k)
{
	return !strcmp(k, "$patch") || !strcmp(k, "$retainKeys") || !strncmp(k, "$setElementOrder/", 17) ||
	       !strncmp(k, "$deleteFromPrimitiveList/", 25);
}

static bool has_directive(const json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			if (is_directive_key(k) || has_directive(x))
				return true;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if (has_directive(x))
				return true;
		}
	}
	return false;
}

/* Does any mutable node of tree r also occur in tree in? */
static bool contains_node(const json_t *in, const json_t *node)
{
	const char *k;
	json_t *x;
	size_t i;

	if (in == node)
		return true;
	if (json_is_object(in)) {
		json_object_foreach((json_t *)in, k, x) {
			if (contains_node(x, node))
				return true;
		}
	} else if (json_is_array(in)) {
		json_array_foreach(in, i, x) {
			if (contains_node(x, node))
				return true;
		}
	}
	return false;
}

static bool shares_nodes(const json_t *r, const json_t *in)
{
	const char *k;
	json_t *x;
	size_t i;

	if (!r || !in)
		return false;
	if (!json_is_true(r) && !json_is_false(r) && !json_is_null(r) && contains_node(in, r))
		return true;
	if (json_is_object(r)) {
		json_object_foreach((json_t *)r, k, x) {
			if (shares_nodes(x, in))
				return true;
		}
	} else if (json_is_array(r)) {
		json_array_foreach(r, i, x) {
			if (shares_nodes(x, in))
				return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------------- */
/* RFC 7386                                                                */
/* ---------------------------------------------------------------------- */

static void test_merge_patch(void)
{
	static const char *const cases[][3] = {
		/* RFC 7386 appendix A */
		{ "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
		{ "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
		{ "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
		{ "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}" },
		{ "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
		{ "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
		{ "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
		{ "{\"a\":\"foo\"}", "null", "null" },
		{ "{\"a\":\"foo\"}", "\"bar\"", "\"bar\"" },
		{ "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
		{ "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
		{ "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
		/* RFC 7386 section 3 */
		{ "{\"title\":\"Goodbye!\",\"author\":{\"givenName\":\"John\",\"familyName\":\"Doe\"},"
		  "\"tags\":[\"example\",\"sample\"],\"content\":\"This will be unchanged\"}",
		  "{\"title\":\"Hello!\",\"phoneNumber\":\"+01-123-456-7890\",\"author\":{\"familyName\":null},"
		  "\"tags\":[\"example\"]}",
		  "{\"title\":\"Hello!\",\"author\":{\"givenName\":\"John\"},\"tags\":[\"example\"],"
		  "\"content\":\"This will be unchanged\",\"phoneNumber\":\"+01-123-456-7890\"}" },
		/* a Kubernetes-shaped one: labels merge, lists replace */
		{ "{\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":\"fe\"}},\"spec\":{\"ports\":[{\"port\":80}]}}",
		  "{\"metadata\":{\"labels\":{\"tier\":null,\"v\":\"2\"}},\"spec\":{\"ports\":[{\"port\":81}]}}",
		  "{\"metadata\":{\"labels\":{\"app\":\"web\",\"v\":\"2\"}},\"spec\":{\"ports\":[{\"port\":81}]}}" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *t = J(cases[i][0]), *p = J(cases[i][1]);
		char *before_t = dump(t), *before_p = dump(p), *after_t, *after_p;
		json_t *r = json_merge_patch(t, p);

		CHECK(!shares_nodes(r, t) && !shares_nodes(r, p));
		CHECK_JSON(r, cases[i][2]);
		after_t = dump(t);
		after_p = dump(p);
		CHECK_STR(after_t, before_t);
		CHECK_STR(after_p, before_p);
		free(before_t);
		free(before_p);
		free(after_t);
		free(after_p);
		json_decref(t);
		json_decref(p);
	}
	/* x merged with {} is x; a NULL patch copies the target */
	{
		json_t *x = J("{\"a\":[1,{\"b\":null}],\"c\":{\"d\":1.5}}"), *e = json_object();

		CHECK_JSON(json_merge_patch(x, e), "{\"a\":[1,{\"b\":null}],\"c\":{\"d\":1.5}}");
		CHECK_JSON(json_merge_patch(x, NULL), "{\"a\":[1,{\"b\":null}],\"c\":{\"d\":1.5}}");
		CHECK_JSON(json_merge_patch(NULL, x), "{\"a\":[1,{\"b\":null}],\"c\":{\"d\":1.5}}");
		json_decref(x);
		json_decref(e);
	}
}

/* ---------------------------------------------------------------------- */
/* RFC 6902                                                                */
/* ---------------------------------------------------------------------- */

/* Applies ops to doc; want is the result, or NULL when an error is expected
 * (then want_err, if set, must be part of the message). */
#define JP(doc, ops, want, want_err) jp_case(__FILE__, __LINE__, doc, ops, want, want_err)
static void jp_case(const char *file, int line, const char *doc, const char *ops, const char *want,
		    const char *want_err)
{
	json_t *d = J(doc), *o = J(ops);
	char *before = dump(d), *after, *err = NULL;
	json_t *r = json_patch_apply(d, o, &err);

	if (want) {
		if (!r)
			fprintf(stderr, "%s:%d: unexpected error: %s\n", file, line, err);
		CHECK(!shares_nodes(r, d) && !shares_nodes(r, o));
		check_json(file, line, r, want);
		CHECK(err == NULL);
	} else {
		test_checks++;
		if (r || !err || (want_err && !strstr(err, want_err))) {
			char *g = dump(r);

			fprintf(stderr, "%s:%d: expected error '%s', got result %s error '%s'\n", file, line,
				want_err ? want_err : "", g, err ? err : "(none)");
			free(g);
			test_failures++;
		}
		json_decref(r);
	}
	after = dump(d);
	CHECK_STR(after, before);
	free(before);
	free(after);
	free(err);
	json_decref(d);
	json_decref(o);
}

static void test_json_patch(void)
{
	/* RFC 6902 appendix A */
	JP("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
	   "{\"baz\":\"qux\",\"foo\":\"bar\"}", NULL);
	JP("{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
	   "{\"foo\":[\"bar\",\"qux\",\"baz\"]}", NULL);
	JP("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]", "{\"foo\":\"bar\"}", NULL);
	JP("{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]",
	   "{\"foo\":[\"bar\",\"baz\"]}", NULL);
	JP("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
	   "{\"baz\":\"boo\",\"foo\":\"bar\"}", NULL);
	JP("{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
	   "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
	   "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}", NULL);
	JP("{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}", "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
	   "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}", NULL);
	JP("{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
	   "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]",
	   "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}", NULL);
	JP("{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]", NULL,
	   "jsonpatch test operation 0 failed: value at /baz differs");
	JP("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]",
	   "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}", NULL);
	JP("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"xyz\":123}]",
	   "{\"foo\":\"bar\",\"baz\":\"qux\"}", NULL);
	JP("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]", NULL,
	   "jsonpatch add operation 0 does not apply: doc is missing path: /baz/bat");
	JP("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10}]", "{\"/\":9,\"~1\":10}", NULL);
	JP("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"10\"}]", NULL, "test operation 0");
	JP("{\"foo\":[\"bar\"]}", "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]",
	   "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}", NULL);
	/* A.13 (duplicate "op") is the parser's business: jansson keeps the last */

	/* RFC 6901 section 5, through test operations */
	JP("{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,\"c%d\":2,\"e^f\":3,\"g|h\":4,\"i\\\\j\":5,\"k\\\"l\":6,"
	   "\" \":7,\"m~n\":8}",
	   "[{\"op\":\"test\",\"path\":\"/foo\",\"value\":[\"bar\",\"baz\"]},"
	   "{\"op\":\"test\",\"path\":\"/foo/0\",\"value\":\"bar\"},{\"op\":\"test\",\"path\":\"/\",\"value\":0},"
	   "{\"op\":\"test\",\"path\":\"/a~1b\",\"value\":1},{\"op\":\"test\",\"path\":\"/c%d\",\"value\":2},"
	   "{\"op\":\"test\",\"path\":\"/e^f\",\"value\":3},{\"op\":\"test\",\"path\":\"/g|h\",\"value\":4},"
	   "{\"op\":\"test\",\"path\":\"/i\\\\j\",\"value\":5},{\"op\":\"test\",\"path\":\"/k\\\"l\",\"value\":6},"
	   "{\"op\":\"test\",\"path\":\"/ \",\"value\":7},{\"op\":\"test\",\"path\":\"/m~0n\",\"value\":8},"
	   "{\"op\":\"test\",\"path\":\"\",\"value\":{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,\"c%d\":2,"
	   "\"e^f\":3,\"g|h\":4,\"i\\\\j\":5,\"k\\\"l\":6,\" \":7,\"m~n\":8}}]",
	   "{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,\"c%d\":2,\"e^f\":3,\"g|h\":4,\"i\\\\j\":5,\"k\\\"l\":6,"
	   "\" \":7,\"m~n\":8}",
	   NULL);

	/* numbers compare by value; objects ignore key order */
	JP("{\"a\":1,\"o\":{\"x\":1,\"y\":2}}",
	   "[{\"op\":\"test\",\"path\":\"/a\",\"value\":1.0},{\"op\":\"test\",\"path\":\"/o\",\"value\":{\"y\":2,\"x\":1}}]",
	   "{\"a\":1,\"o\":{\"x\":1,\"y\":2}}", NULL);
	/* whole-document add/replace, copy, append with "-" */
	JP("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":[1]},{\"op\":\"add\",\"path\":\"/-\",\"value\":2}]",
	   "[1,2]", NULL);
	JP("{\"a\":{\"b\":[1]}}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"},{\"op\":\"add\",\"path\":\"/c/b/0\",\"value\":0}]",
	   "{\"a\":{\"b\":[1]},\"c\":{\"b\":[0,1]}}", NULL);
	JP("{\"a\":[1,2,3]}", "[{\"op\":\"add\",\"path\":\"/a/3\",\"value\":4},{\"op\":\"replace\",\"path\":\"/a/0\",\"value\":0}]",
	   "{\"a\":[0,2,3,4]}", NULL);
	JP("{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]", "{\"a\":1}", NULL);
	JP("{\"a\":1}", "[{\"op\":\"move\",\"from\":\"\",\"path\":\"\"}]", "{\"a\":1}", NULL);
	JP("{\"a\":{\"b\":2}}", "[{\"op\":\"move\",\"from\":\"/a/b\",\"path\":\"/a\"}]", "{\"a\":2}", NULL);
	JP("{\"t\":true,\"f\":false,\"n\":null}",
	   "[{\"op\":\"test\",\"path\":\"/t\",\"value\":true},{\"op\":\"test\",\"path\":\"/f\",\"value\":false},"
	   "{\"op\":\"test\",\"path\":\"/n\",\"value\":null}]",
	   "{\"t\":true,\"f\":false,\"n\":null}", NULL);
	JP("{\"t\":true}", "[{\"op\":\"test\",\"path\":\"/t\",\"value\":false}]", NULL, "test operation 0 failed");
	JP("{\"t\":true}", "[{\"op\":\"test\",\"path\":\"/t\",\"value\":1}]", NULL, "test operation 0 failed");
	JP("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":null}]", "{\"a\":1,\"b\":null}", NULL);
	JP("{\"metadata\":{\"labels\":{\"app\":\"web\"}}}",
	   "[{\"op\":\"add\",\"path\":\"/metadata/labels/app.kubernetes.io~1name\",\"value\":\"x\"}]",
	   "{\"metadata\":{\"labels\":{\"app\":\"web\",\"app.kubernetes.io/name\":\"x\"}}}", NULL);
	/* the second op fails: nothing of the first survives, input untouched */
	JP("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2},{\"op\":\"remove\",\"path\":\"/zz\"}]", NULL,
	   "jsonpatch remove operation 1 does not apply: doc is missing key: /zz");

	/* errors */
	JP("{\"spec\":{}}", "[{\"op\":\"test\",\"path\":\"/spec\",\"value\":{}},{\"op\":\"replace\",\"path\":\"/spec/foo\",\"value\":1}]",
	   NULL, "jsonpatch replace operation 1 does not apply: doc is missing key: /spec/foo");
	JP("{}", "{\"op\":\"add\"}", NULL, "must be a JSON array");
	JP("{}", "[{\"op\":\"add\",\"value\":1}]", NULL, "operation 0 is invalid: missing 'path'");
	JP("{}", "[{\"path\":\"/a\",\"value\":1}]", NULL, "missing 'op'");
	JP("{}", "[{\"op\":\"frob\",\"path\":\"/a\"}]", NULL, "unknown op 'frob'");
	JP("{}", "[1]", NULL, "operation 0 is invalid");
	JP("{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", NULL, "is not a JSON pointer");
	JP("{}", "[{\"op\":\"add\",\"path\":\"/a~2\",\"value\":1}]", NULL, "is not a JSON pointer");
	JP("{}", "[{\"op\":\"add\",\"path\":\"/a~\",\"value\":1}]", NULL, "is not a JSON pointer");
	JP("{}", "[{\"op\":\"add\",\"path\":\"/a\"}]", NULL, "missing 'value'");
	JP("{}", "[{\"op\":\"replace\",\"path\":\"/a\"}]", NULL, "missing 'value'");
	JP("{\"a\":1}", "[{\"op\":\"move\",\"path\":\"/b\"}]", NULL, "missing 'from'");
	JP("{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"/x\",\"path\":\"/b\"}]", NULL, "missing from path: /x");
	JP("{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b/c\"}]", NULL, "into its own child");
	JP("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/3\",\"value\":0}]", NULL, "index out of range at: /a/3");
	JP("{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/01\",\"value\":0}]", NULL, "index out of range");
	JP("{\"a\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/a/2\"}]", NULL, "index out of range");
	JP("{\"a\":[1,2]}", "[{\"op\":\"replace\",\"path\":\"/a/-\",\"value\":0}]", NULL, "index out of range");
	JP("{\"a\":[1,2]}", "[{\"op\":\"test\",\"path\":\"/a/-\",\"value\":0}]", NULL, "doc is missing path");
	JP("{\"a\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"\"}]", NULL, "remove operation 0");
	JP("{\"a\":\"s\"}", "[{\"op\":\"add\",\"path\":\"/a/b\",\"value\":0}]", NULL, "doc is missing path: /a/b");
	JP("{\"a\":\"s\"}", "[{\"op\":\"replace\",\"path\":\"/a/b\",\"value\":0}]", NULL, "doc is missing path: /a/b");
	JP("{}", "[{\"op\":\"add\",\"path\":5,\"value\":0}]", NULL, "'path' must be a string");

	/* err may be NULL; doc NULL is an error */
	{
		json_t *ops = J("[{\"op\":\"remove\",\"path\":\"/x\"}]"), *d = J("{}");
		char *err = NULL;

		CHECK(json_patch_apply(d, ops, NULL) == NULL);
		CHECK(json_patch_apply(NULL, ops, &err) == NULL);
		CHECK(err != NULL);
		free(err);
		json_decref(ops);
		json_decref(d);
	}
}

/* ---------------------------------------------------------------------- */
/* Strategic merge patch                                                   */
/* ---------------------------------------------------------------------- */

/* Runs a strategic merge patch; checks inputs stay untouched and that the
 * result shares nothing with them and holds no directive. */
static json_t *smp_run(const char *orig, const char *patch, const char *kind, char **errp)
{
	json_t *o = J(orig), *p = J(patch), *r;
	char *bo = dump(o), *bp = dump(p), *ao, *ap, *err = NULL;

	r = strategic_merge_patch(o, p, kind, &err);
	CHECK(!has_directive(r));
	CHECK(!shares_nodes(r, o) && !shares_nodes(r, p));
	ao = dump(o);
	ap = dump(p);
	CHECK_STR(ao, bo);
	CHECK_STR(ap, bp);
	CHECK((r == NULL) == (err != NULL));
	if (errp)
		*errp = err;
	else {
		if (err)
			fprintf(stderr, "unexpected strategic merge error: %s\n", err);
		free(err);
	}
	free(bo);
	free(bp);
	free(ao);
	free(ap);
	json_decref(o);
	json_decref(p);
	return r;
}

#define SMP(orig, patch, kind, want) CHECK_JSON(smp_run(orig, patch, kind, NULL), want)
#define SMP_ERR(orig, patch, kind, want_err)                            \
	do {                                                            \
		char *_err = NULL;                                      \
		json_t *_r = smp_run(orig, patch, kind, &_err);         \
		CHECK(_r == NULL);                                      \
		CHECK_CONTAINS(_err, want_err);                         \
		json_decref(_r);                                        \
		free(_err);                                             \
	} while (0)

#define POD2 "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[" \
	"{\"name\":\"a\",\"image\":\"a:1\",\"env\":[{\"name\":\"X\",\"value\":\"1\"}]}," \
	"{\"name\":\"b\",\"image\":\"b:1\",\"ports\":[{\"containerPort\":80,\"name\":\"http\"}," \
	"{\"containerPort\":443,\"name\":\"https\"}]}]}}"

static void test_smp_containers(void)
{
	/* change the image of one container */
	SMP(POD2, "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"b:2\"}]}}", "Pod",
	    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":["
	    "{\"name\":\"a\",\"image\":\"a:1\",\"env\":[{\"name\":\"X\",\"value\":\"1\"}]},"
	    "{\"name\":\"b\",\"image\":\"b:2\",\"ports\":[{\"containerPort\":80,\"name\":\"http\"},"
	    "{\"containerPort\":443,\"name\":\"https\"}]}]}}");
	/* add env to one container: without $setElementOrder, new items go first (as apimachinery) */
	SMP(POD2, "{\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"Y\",\"value\":\"2\"}]}]}}", "Pod",
	    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":["
	    "{\"name\":\"a\",\"image\":\"a:1\",\"env\":[{\"name\":\"Y\",\"value\":\"2\"},{\"name\":\"X\",\"value\":\"1\"}]},"
	    "{\"name\":\"b\",\"image\":\"b:1\",\"ports\":[{\"containerPort\":80,\"name\":\"http\"},"
	    "{\"containerPort\":443,\"name\":\"https\"}]}]}}");
	/* ... and with it, in the order kubectl asks for */
	SMP(POD2,
	    "{\"spec\":{\"containers\":[{\"name\":\"a\",\"$setElementOrder/env\":[{\"name\":\"X\"},{\"name\":\"Y\"}],"
	    "\"env\":[{\"name\":\"Y\",\"value\":\"2\"}]}]}}",
	    "Pod",
	    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":["
	    "{\"name\":\"a\",\"image\":\"a:1\",\"env\":[{\"name\":\"X\",\"value\":\"1\"},{\"name\":\"Y\",\"value\":\"2\"}]},"
	    "{\"name\":\"b\",\"image\":\"b:1\",\"ports\":[{\"containerPort\":80,\"name\":\"http\"},"
	    "{\"containerPort\":443,\"name\":\"https\"}]}]}}");
	/* delete a container */
	SMP(POD2, "{\"spec\":{\"containers\":[{\"name\":\"a\",\"$patch\":\"delete\"}]}}", "Pod",
	    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":["
	    "{\"name\":\"b\",\"image\":\"b:1\",\"ports\":[{\"containerPort\":80,\"name\":\"http\"},"
	    "{\"containerPort\":443,\"name\":\"https\"}]}]}}");
	/* ports merge by containerPort */
	SMP(POD2,
	    "{\"spec\":{\"containers\":[{\"name\":\"b\",\"ports\":[{\"containerPort\":443,\"protocol\":\"TCP\"},"
	    "{\"containerPort\":8080}]}]}}",
	    "Pod",
	    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":["
	    "{\"name\":\"a\",\"image\":\"a:1\",\"env\":[{\"name\":\"X\",\"value\":\"1\"}]},"
	    "{\"name\":\"b\",\"image\":\"b:1\",\"ports\":[{\"containerPort\":80,\"name\":\"http\"},"
	    "{\"containerPort\":443,\"name\":\"https\",\"protocol\":\"TCP\"},{\"containerPort\":8080}]}]}}");
	/* a new container, whose own lists hold directives and nulls: all cleaned */
	SMP("{\"spec\":{}}",
	    "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":null,\"env\":[{\"name\":\"X\",\"$patch\":\"delete\"},"
	    "{\"name\":\"Y\",\"value\":\"1\"}],\"$setElementOrder/env\":[{\"name\":\"Y\"}]}]}}",
	    "Pod", "{\"spec\":{\"containers\":[{\"name\":\"c\",\"env\":[{\"name\":\"Y\",\"value\":\"1\"}]}]}}");
	/* Deployment: the pod template merges the same way; other lists replace */
	SMP("{\"kind\":\"Deployment\",\"spec\":{\"replicas\":1,\"template\":{\"metadata\":{\"labels\":{\"app\":\"w\"}},"
	    "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"w:1\",\"args\":[\"-a\",\"-b\"]},{\"name\":\"side\"}]}}}}",
	    "{\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"w:2\","
	    "\"args\":[\"-c\"]}]}}}}",
	    "Deployment",
	    "{\"kind\":\"Deployment\",\"spec\":{\"replicas\":3,\"template\":{\"metadata\":{\"labels\":{\"app\":\"w\"}},"
	    "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"w:2\",\"args\":[\"-c\"]},{\"name\":\"side\"}]}}}}");
	/* volumeMounts by mountPath, initContainers by name, imagePullSecrets by name */
	SMP("{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"volumeMounts\":[{\"mountPath\":\"/a\",\"name\":\"v1\"}]}],"
	    "\"imagePullSecrets\":[{\"name\":\"s1\"}]}}",
	    "{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"volumeMounts\":[{\"mountPath\":\"/a\",\"readOnly\":true}]}],"
	    "\"imagePullSecrets\":[{\"name\":\"s2\"}]}}",
	    "Pod",
	    "{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"volumeMounts\":[{\"mountPath\":\"/a\",\"name\":\"v1\","
	    "\"readOnly\":true}]}],\"imagePullSecrets\":[{\"name\":\"s2\"},{\"name\":\"s1\"}]}}");
	/* status conditions by type, as the kubelet patches them */
	SMP("{\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\"},"
	    "{\"type\":\"Ready\",\"status\":\"False\"}]}}",
	    "{\"status\":{\"phase\":\"Running\",\"$setElementOrder/conditions\":[{\"type\":\"PodScheduled\"},{\"type\":\"Ready\"}],"
	    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
	    "Pod",
	    "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\"},"
	    "{\"type\":\"Ready\",\"status\":\"True\"}]}}");
	/* ownerReferences by uid */
	SMP("{\"metadata\":{\"ownerReferences\":[{\"uid\":\"u1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\"}]}}",
	    "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"u1\",\"controller\":true}]}}", "Pod",
	    "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"u1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"controller\":true}]}}");
}

static void test_smp_kinds(void)
{
	/* Service ports merge by port */
	SMP("{\"kind\":\"Service\",\"spec\":{\"selector\":{\"app\":\"w\"},\"ports\":[{\"port\":80,\"targetPort\":8080,"
	    "\"name\":\"http\"},{\"port\":443,\"targetPort\":8443,\"name\":\"https\"}]}}",
	    "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090}]}}", "Service",
	    "{\"kind\":\"Service\",\"spec\":{\"selector\":{\"app\":\"w\"},\"ports\":[{\"port\":80,\"targetPort\":9090,"
	    "\"name\":\"http\"},{\"port\":443,\"targetPort\":8443,\"name\":\"https\"}]}}");
	/* Node conditions and addresses by type, podCIDRs as a set */
	SMP("{\"spec\":{\"podCIDRs\":[\"10.244.1.0/24\"]},\"status\":{\"addresses\":[{\"type\":\"InternalIP\","
	    "\"address\":\"10.0.0.1\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}",
	    "{\"spec\":{\"podCIDRs\":[\"10.244.1.0/24\"]},\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"n1\"}],"
	    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
	    "Node",
	    "{\"spec\":{\"podCIDRs\":[\"10.244.1.0/24\"]},\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"n1\"},"
	    "{\"type\":\"InternalIP\",\"address\":\"10.0.0.1\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
	/* ReplicaSet and Deployment status conditions by type */
	SMP("{\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"False\"}]}}",
	    "{\"status\":{\"conditions\":[{\"type\":\"Progressing\",\"status\":\"True\"}]}}", "ReplicaSet",
	    "{\"status\":{\"conditions\":[{\"type\":\"Progressing\",\"status\":\"True\"},{\"type\":\"Available\",\"status\":\"False\"}]}}");
	/* ConfigMap: data is a map; a kind without merge lists replaces lists */
	SMP("{\"data\":{\"a\":\"1\",\"b\":\"2\"}}", "{\"data\":{\"a\":null,\"c\":\"3\"}}", "ConfigMap",
	    "{\"data\":{\"b\":\"2\",\"c\":\"3\"}}");
	/* unknown kinds: objects merge, lists replace (as merge patch) */
	SMP("{\"spec\":{\"containers\":[{\"name\":\"a\"}],\"x\":{\"y\":1}}}",
	    "{\"spec\":{\"containers\":[{\"name\":\"b\"}],\"x\":{\"z\":2}}}", "Widget",
	    "{\"spec\":{\"containers\":[{\"name\":\"b\"}],\"x\":{\"y\":1,\"z\":2}}}");
	SMP("{\"metadata\":{\"finalizers\":[\"a\"]}}", "{\"metadata\":{\"finalizers\":[\"b\"]}}", NULL,
	    "{\"metadata\":{\"finalizers\":[\"b\"]}}");
	/* Pod lists without a strategy replace: tolerations, command */
	SMP("{\"spec\":{\"tolerations\":[{\"key\":\"a\"}],\"containers\":[{\"name\":\"c\",\"command\":[\"x\",\"y\"]}]}}",
	    "{\"spec\":{\"tolerations\":[{\"key\":\"b\"}],\"containers\":[{\"name\":\"c\",\"command\":[\"z\"]}]}}", "Pod",
	    "{\"spec\":{\"tolerations\":[{\"key\":\"b\"}],\"containers\":[{\"name\":\"c\",\"command\":[\"z\"]}]}}");
	/* a type change replaces */
	SMP("{\"spec\":{\"containers\":\"oops\"}}", "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}", "Pod",
	    "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}");
}

static void test_smp_directives(void)
{
	/* $patch: replace on a map, on a list, at the top */
	SMP("{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}",
	    "{\"metadata\":{\"labels\":{\"$patch\":\"replace\",\"c\":\"3\"}}}", "Pod",
	    "{\"metadata\":{\"labels\":{\"c\":\"3\"}}}");
	SMP(POD2, "{\"spec\":{\"containers\":[{\"$patch\":\"replace\"},{\"name\":\"c\",\"image\":\"c:1\"}]}}", "Pod",
	    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"c:1\"}]}}");
	SMP("{\"a\":1,\"b\":{\"c\":2}}", "{\"$patch\":\"replace\",\"b\":{\"d\":null,\"e\":3}}", "Pod", "{\"b\":{\"e\":3}}");
	/* $patch: delete on a map leaves it empty, as apimachinery does; merge is plain merging */
	SMP("{\"spec\":{\"a\":1},\"x\":1}", "{\"spec\":{\"$patch\":\"delete\"}}", "Pod", "{\"spec\":{},\"x\":1}");
	SMP("{\"spec\":{\"a\":1}}", "{\"spec\":{\"$patch\":\"merge\",\"b\":2}}", "Pod", "{\"spec\":{\"a\":1,\"b\":2}}");
	SMP("{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"}]}}",
	    "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"2\",\"$patch\":\"merge\"},{\"$patch\":\"merge\"}]}}", "Pod",
	    "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"2\"}]}}");
	/* null deletes; null for a missing key does nothing */
	SMP("{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}",
	    "{\"metadata\":{\"labels\":{\"a\":null,\"zz\":null},\"annotations\":{\"n\":null,\"y\":\"1\"}}}", "Pod",
	    "{\"metadata\":{\"labels\":{\"b\":\"2\"},\"annotations\":{\"y\":\"1\"}}}");

	/* $retainKeys: Deployment strategy switching to Recreate */
	SMP("{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1}}}}",
	    "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}}", "Deployment",
	    "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}");
	/* ... in a volume, switching its source */
	SMP("{\"spec\":{\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"c\"}},{\"name\":\"w\",\"emptyDir\":{}}]}}",
	    "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"$retainKeys\":[\"name\",\"secret\"],\"secret\":{\"secretName\":\"s\"}}]}}",
	    "Pod",
	    "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"secret\":{\"secretName\":\"s\"}},{\"name\":\"w\",\"emptyDir\":{}}]}}");
	SMP_ERR("{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\"}}}",
		"{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"rollingUpdate\":{\"maxSurge\":2}}}}", "Deployment",
		"'spec.strategy'");
	SMP_ERR("{}", "{\"spec\":{\"$retainKeys\":\"type\"}}", "Deployment", "must be a list");

	/* $setElementOrder: reorder only */
	SMP("{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}}",
	    "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"c\"},{\"name\":\"a\"},{\"name\":\"b\"}]}}", "Pod",
	    "{\"spec\":{\"containers\":[{\"name\":\"c\"},{\"name\":\"a\"},{\"name\":\"b\"}]}}");
	/* insert in the middle */
	SMP("{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]}}",
	    "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"},{\"name\":\"d\"},{\"name\":\"b\"},{\"name\":\"c\"}],"
	    "\"containers\":[{\"name\":\"d\",\"image\":\"d\"}]}}",
	    "Pod",
	    "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"d\",\"image\":\"d\"},{\"name\":\"b\"},{\"name\":\"c\"}]}}");
	/* server-only items keep their place relative to the live list */
	SMP("{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"s\"},{\"name\":\"b\"}]}}",
	    "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"},{\"name\":\"b\"}],"
	    "\"containers\":[{\"name\":\"b\",\"image\":\"b2\"}]}}",
	    "Pod", "{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"s\"},{\"name\":\"b\",\"image\":\"b2\"}]}}");
	SMP_ERR("{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
		"{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"}],\"containers\":[{\"name\":\"z\"}]}}", "Pod",
		"are not listed in '$setElementOrder/containers' in the same order");
	SMP_ERR("{}", "{\"spec\":{\"$setElementOrder/containers\":[{\"image\":\"a\"}]}}", "Pod", "no merge key 'name'");
	SMP_ERR("{\"spec\":{\"containers\":{}}}", "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"}]}}", "Pod",
		"'containers' is not a list");
	/* lists without a merge strategy ignore $setElementOrder */
	SMP("{\"spec\":{\"tolerations\":[{\"key\":\"a\"},{\"key\":\"b\"}]}}",
	    "{\"spec\":{\"$setElementOrder/tolerations\":[{\"key\":\"b\"},{\"key\":\"a\"}]}}", "Pod",
	    "{\"spec\":{\"tolerations\":[{\"key\":\"a\"},{\"key\":\"b\"}]}}");

	/* finalizers: a set of strings */
	SMP("{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}",
	    "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\",\"zz\"]}}", "Pod",
	    "{\"metadata\":{\"finalizers\":[\"a\",\"c\"]}}");
	SMP("{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}", "{\"metadata\":{\"finalizers\":[\"b\",\"d\"]}}", "Pod",
	    "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"d\"]}}");
	SMP("{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}", "{\"metadata\":{\"finalizers\":[\"d\"]}}", "Pod",
	    "{\"metadata\":{\"finalizers\":[\"d\",\"a\",\"b\"]}}");
	SMP("{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}",
	    "{\"metadata\":{\"$setElementOrder/finalizers\":[\"a\",\"c\",\"d\"],\"finalizers\":[\"d\"],"
	    "\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}",
	    "Pod", "{\"metadata\":{\"finalizers\":[\"a\",\"c\",\"d\"]}}");
	SMP("{\"metadata\":{}}", "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}", "Pod",
	    "{\"metadata\":{}}");

	/* malformed patches */
	SMP_ERR(POD2, "{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}", "Pod", "'spec.containers[0]': item has no merge key 'name'");
	SMP_ERR(POD2, "{\"spec\":{\"containers\":[{\"$patch\":\"delete\"}]}}", "Pod", "has no merge key 'name'");
	SMP_ERR(POD2, "{\"spec\":{\"$patch\":\"frobnicate\"}}", "Pod", "unknown '$patch' directive 'frobnicate'");
	SMP_ERR(POD2, "{\"spec\":{\"containers\":[{\"$patch\":\"frob\",\"name\":\"a\"}]}}", "Pod", "unknown '$patch'");
	SMP_ERR(POD2, "{\"spec\":{\"containers\":[\"a\"]}}", "Pod", "mix objects and plain values");
	SMP_ERR(POD2, "{\"spec\":{\"containers\":[[1]]}}", "Pod", "lists of lists");
	SMP_ERR("{\"metadata\":{\"finalizers\":[\"a\"]}}", "{\"metadata\":{\"finalizers\":[{\"$patch\":\"delete\"}]}}",
		"Pod", "$deleteFromPrimitiveList");
	SMP_ERR("{}", "[1]", "Pod", "must be a JSON object");
	SMP_ERR("[]", "{}", "Pod", "must be a JSON object");
}

/* ---------------------------------------------------------------------- */
/* Three-way (kubectl apply)                                               */
/* ---------------------------------------------------------------------- */

/* Computes the apply patch, checks it against want_patch (if given), applies
 * it to current and compares with want_result. */
#define APPLY(o, m, c, kind, want_patch, want_result) \
	apply_case(__FILE__, __LINE__, o, m, c, kind, want_patch, want_result)
static void apply_case(const char *file, int line, const char *o, const char *m, const char *c, const char *kind,
		       const char *want_patch, const char *want_result)
{
	json_t *jo = o ? J(o) : NULL, *jm = J(m), *jc = J(c), *patch, *res;
	char *err = NULL;

	patch = strategic_merge_three_way(jo, jm, jc, kind, &err);
	if (!patch) {
		fprintf(stderr, "%s:%d: three-way failed: %s\n", file, line, err);
		test_failures++;
		goto out;
	}
	CHECK(!shares_nodes(patch, jm) && !shares_nodes(patch, jc) && !shares_nodes(patch, jo));
	if (want_patch)
		check_json(file, line, json_incref(patch), want_patch);
	res = strategic_merge_patch(jc, patch, kind, &err);
	if (!res)
		fprintf(stderr, "%s:%d: applying failed: %s\n", file, line, err);
	check_json(file, line, res, want_result);
	json_decref(patch);
out:
	free(err);
	json_decref(jo);
	json_decref(jm);
	json_decref(jc);
}

#define DEP_V1 "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"," \
	"\"labels\":{\"app\":\"web\",\"tier\":\"fe\"}},\"spec\":{\"replicas\":2,\"template\":{\"metadata\":" \
	"{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"web:1\"," \
	"\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}]}}}}"

#define DEP_LIVE_V1 "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"," \
	"\"uid\":\"u-1\",\"resourceVersion\":\"7\",\"labels\":{\"app\":\"web\",\"tier\":\"fe\",\"team\":\"x\"}}," \
	"\"spec\":{\"replicas\":2,\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":\"25%\"}}," \
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"web\"," \
	"\"image\":\"web:1\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}],\"imagePullPolicy\":\"IfNotPresent\"}]," \
	"\"restartPolicy\":\"Always\"}}},\"status\":{\"replicas\":2}}"

static void test_three_way(void)
{
	/* create from scratch: no last-applied, empty live object */
	APPLY(NULL, DEP_V1, "{}", "Deployment", DEP_V1, DEP_V1);
	/* the same manifest again: nothing to do */
	APPLY(DEP_V1, DEP_V1, DEP_LIVE_V1, "Deployment", "{}", DEP_LIVE_V1);
	APPLY(NULL, DEP_V1, DEP_LIVE_V1, "Deployment", "{}", DEP_LIVE_V1);
	/* change the image: exactly what kubectl sends */
	APPLY(DEP_V1,
	      "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\","
	      "\"tier\":\"fe\"}},\"spec\":{\"replicas\":2,\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
	      "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"web:2\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}]}}}}",
	      DEP_LIVE_V1, "Deployment",
	      "{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"web\"}],"
	      "\"containers\":[{\"name\":\"web\",\"image\":\"web:2\"}]}}}}",
	      "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
	      "\"uid\":\"u-1\",\"resourceVersion\":\"7\",\"labels\":{\"app\":\"web\",\"tier\":\"fe\",\"team\":\"x\"}},"
	      "\"spec\":{\"replicas\":2,\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":\"25%\"}},"
	      "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"web\","
	      "\"image\":\"web:2\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}],\"imagePullPolicy\":\"IfNotPresent\"}],"
	      "\"restartPolicy\":\"Always\"}}},\"status\":{\"replicas\":2}}");
	/* drop a label the last apply set; 'team', set by someone else, stays */
	APPLY(DEP_V1,
	      "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"}},"
	      "\"spec\":{\"replicas\":2,\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
	      "[{\"name\":\"web\",\"image\":\"web:1\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}]}]}}}}",
	      DEP_LIVE_V1, "Deployment", "{\"metadata\":{\"labels\":{\"tier\":null}}}",
	      "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
	      "\"uid\":\"u-1\",\"resourceVersion\":\"7\",\"labels\":{\"app\":\"web\",\"team\":\"x\"}},"
	      "\"spec\":{\"replicas\":2,\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":\"25%\"}},"
	      "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"web\","
	      "\"image\":\"web:1\",\"env\":[{\"name\":\"A\",\"value\":\"1\"}],\"imagePullPolicy\":\"IfNotPresent\"}],"
	      "\"restartPolicy\":\"Always\"}}},\"status\":{\"replicas\":2}}");
	/* remove a container and an env var of the other one */
	APPLY("{\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"w\",\"env\":[{\"name\":\"A\"},"
	      "{\"name\":\"B\"}]},{\"name\":\"side\",\"image\":\"s\"}]}}",
	      "{\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"w\",\"env\":[{\"name\":\"B\"}]}]}}",
	      "{\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"w\",\"env\":[{\"name\":\"A\"},"
	      "{\"name\":\"B\"},{\"name\":\"C\",\"value\":\"injected\"}],\"tty\":false},{\"name\":\"side\",\"image\":\"s\"}],"
	      "\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Running\"}}",
	      "Pod",
	      "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"web\"}],\"containers\":[{\"name\":\"web\","
	      "\"$setElementOrder/env\":[{\"name\":\"B\"}],\"env\":[{\"$patch\":\"delete\",\"name\":\"A\"}]},"
	      "{\"$patch\":\"delete\",\"name\":\"side\"}]}}",
	      "{\"kind\":\"Pod\",\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"w\",\"env\":[{\"name\":\"B\"},"
	      "{\"name\":\"C\",\"value\":\"injected\"}],\"tty\":false}],\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Running\"}}");
	/* finalizers: remove ours, keep a controller's */
	APPLY("{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}", "{\"metadata\":{\"finalizers\":[\"a\"]}}",
	      "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"x\"]}}", "Pod",
	      "{\"metadata\":{\"$setElementOrder/finalizers\":[\"a\"],\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}",
	      "{\"metadata\":{\"finalizers\":[\"a\",\"x\"]}}");
	/* strategy switched to Recreate: $retainKeys clears the defaulted rollingUpdate */
	APPLY("{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\"}}}", "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}",
	      "{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":\"25%\"}}}}", "Deployment",
	      "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}}",
	      "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}");
	/* Service: add a port, drop one that was applied, keep the allocated clusterIP and nodePort */
	APPLY("{\"kind\":\"Service\",\"spec\":{\"ports\":[{\"port\":80},{\"port\":81}]}}",
	      "{\"kind\":\"Service\",\"spec\":{\"ports\":[{\"port\":80},{\"port\":82}]}}",
	      "{\"kind\":\"Service\",\"spec\":{\"clusterIP\":\"10.96.0.5\",\"ports\":[{\"port\":80,\"nodePort\":30001},"
	      "{\"port\":81,\"nodePort\":30002}]}}",
	      "Service",
	      "{\"spec\":{\"$setElementOrder/ports\":[{\"port\":80},{\"port\":82}],\"ports\":[{\"port\":82},"
	      "{\"$patch\":\"delete\",\"port\":81}]}}",
	      "{\"kind\":\"Service\",\"spec\":{\"clusterIP\":\"10.96.0.5\",\"ports\":[{\"port\":80,\"nodePort\":30001},"
	      "{\"port\":82}]}}");
	/* errors */
	{
		json_t *m = J("{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}"), *c = J("{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}");
		char *err = NULL;

		CHECK(strategic_merge_three_way(NULL, m, c, "Pod", &err) == NULL);
		CHECK_CONTAINS(err, "no merge key 'name'");
		free(err);
		err = NULL;
		CHECK(strategic_merge_three_way(NULL, c, m, "Pod", NULL) == NULL);
		CHECK(strategic_merge_three_way(m, c, json_null(), "Pod", &err) == NULL);
		CHECK_CONTAINS(err, "live object");
		free(err);
		json_decref(m);
		json_decref(c);
	}
}

/* ---- the apply property on generated triples ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static json_t *gen_named_list(const char *const *names, size_t n, bool with_env)
{
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *it;

		if (rnd(2))
			continue;
		it = json_object();
		json_object_set_new(it, "name", json_string(names[i]));
		if (with_env) {
			static const char *const env[] = { "E1", "E2", "E3" };

			if (rnd(3))
				json_object_set_new(it, "image", json_string(rnd(2) ? "i1" : "i2"));
			if (!rnd(3)) {
				json_t *args = json_array();

				for (unsigned k = rnd(3); k > 0; k--)
					json_array_append_new(args, json_string(rnd(2) ? "-a" : "-b"));
				json_object_set_new(it, "args", args);
			}
			if (rnd(3))
				json_object_set_new(it, "env", gen_named_list(env, 3, false));
		} else if (rnd(3)) {
			json_object_set_new(it, "value", json_string(rnd(2) ? "v1" : "v2"));
		}
		json_array_append_new(list, it);
	}
	return list;
}

static json_t *gen_pod(bool live)
{
	static const char *const names[] = { "w", "x", "y", "z" };
	static const char *const labels[] = { "a", "b", "c", "d" };
	static const char *const fins[] = { "f1", "f2", "f3" };
	json_t *pod = json_object(), *meta = json_object(), *spec = json_object();

	json_object_set_new(pod, "kind", json_string("Pod"));
	json_object_set_new(meta, "name", json_string("p"));
	if (rnd(4)) {
		json_t *l = json_object();

		for (size_t i = 0; i < 4; i++)
			if (rnd(2))
				json_object_set_new(l, labels[i], json_string(rnd(2) ? "1" : "2"));
		json_object_set_new(meta, "labels", l);
	}
	if (rnd(2)) {
		json_t *f = json_array();

		for (size_t i = 0; i < 3; i++)
			if (rnd(2))
				json_array_append_new(f, json_string(fins[i]));
		json_object_set_new(meta, "finalizers", f);
	}
	if (rnd(4))
		json_object_set_new(spec, "containers", gen_named_list(names, 4, true));
	if (rnd(2))
		json_object_set_new(spec, "restartPolicy", json_string(rnd(2) ? "Always" : "Never"));
	json_object_set_new(pod, "metadata", meta);
	json_object_set_new(pod, "spec", spec);
	if (live) {
		json_object_set_new(meta, "uid", json_string("u"));
		json_object_set_new(pod, "status", json_pack("{s:s}", "phase", "Running"));
	}
	return pod;
}

static json_t *model_map(const json_t *c, const json_t *o, const json_t *m);

static bool same_name(const json_t *a, const json_t *b)
{
	return json_equal(json_object_get(a, "name"), json_object_get(b, "name"));
}

static const json_t *find_named(const json_t *list, const json_t *item)
{
	size_t i;
	json_t *x;

	json_array_foreach(list, i, x) {
		if (same_name(x, item))
			return x;
	}
	return NULL;
}

static bool has_value(const json_t *list, const json_t *v)
{
	size_t i;
	json_t *x;

	json_array_foreach(list, i, x) {
		if (json_equal(x, v))
			return true;
	}
	return false;
}

/* What apply must produce: live c, minus what o had and m dropped, plus m. */
static json_t *model_value(const char *k, const json_t *cv, const json_t *ov, const json_t *mv)
{
	json_t *empty = json_array(), *out;
	size_t i;
	json_t *x;

	if (json_is_object(mv) && json_is_object(cv)) {
		json_t *eo = json_object();

		out = model_map(cv, json_is_object(ov) ? ov : eo, mv);
		json_decref(eo);
	} else if (json_is_array(mv) && json_is_array(cv) && (!strcmp(k, "containers") || !strcmp(k, "env"))) {
		if (!json_is_array(ov))
			ov = empty;
		out = json_array();
		json_array_foreach(cv, i, x) {
			const json_t *mi = find_named(mv, x), *oi = find_named(ov, x);

			if (mi) {
				json_t *eo = json_object();

				json_array_append_new(out, model_map(x, oi ? oi : eo, mi));
				json_decref(eo);
			} else if (!oi) {
				json_array_append_new(out, json_deep_copy(x));
			}
		}
		json_array_foreach(mv, i, x) {
			if (!find_named(cv, x))
				json_array_append_new(out, json_deep_copy(x));
		}
	} else if (json_is_array(mv) && json_is_array(cv) && !strcmp(k, "finalizers")) {
		if (!json_is_array(ov))
			ov = empty;
		out = json_array();
		json_array_foreach(cv, i, x) {
			if (has_value(mv, x) || !has_value(ov, x))
				json_array_append_new(out, json_deep_copy(x));
		}
		json_array_foreach(mv, i, x) {
			if (!has_value(out, x))
				json_array_append_new(out, json_deep_copy(x));
		}
	} else {
		out = json_deep_copy(mv);
	}
	json_decref(empty);
	return out;
}

static json_t *model_map(const json_t *c, const json_t *o, const json_t *m)
{
	json_t *out = json_deep_copy(c), *v;
	const char *k;

	json_object_foreach((json_t *)o, k, v) {
		if (!json_object_get(m, k))
			json_object_del(out, k);
	}
	json_object_foreach((json_t *)m, k, v) {
		json_object_set_new(out, k, model_value(k, json_object_get(c, k), json_object_get(o, k), v));
	}
	return out;
}

static int cmp_by_name(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *xs = json_is_string(x) ? json_string_value(x) : json_string_value(json_object_get(x, "name"));
	const char *ys = json_is_string(y) ? json_string_value(y) : json_string_value(json_object_get(y, "name"));

	return strcmp(xs ? xs : "", ys ? ys : "");
}

/* Sorts the merge lists so results compare as sets. */
static void normalize(json_t *v, const char *key)
{
	const char *k;
	json_t *x;
	size_t i, n;

	if (json_is_object(v)) {
		json_object_foreach(v, k, x)
			normalize(x, k);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			normalize(x, NULL);
		if (key && (!strcmp(key, "containers") || !strcmp(key, "env") || !strcmp(key, "finalizers"))) {
			json_t **items;

			n = json_array_size(v);
			items = calloc(n ? n : 1, sizeof(*items));
			for (i = 0; i < n; i++)
				items[i] = json_incref(json_array_get(v, i));
			qsort(items, n, sizeof(*items), cmp_by_name);
			json_array_clear(v);
			for (i = 0; i < n; i++)
				json_array_append_new(v, items[i]);
			free(items);
		}
	}
}

static void test_apply_property(void)
{
	int bad = 0;

	for (int round = 0; round < 400; round++) {
		json_t *o = rnd(5) ? gen_pod(false) : NULL, *m = gen_pod(false), *c = gen_pod(true);
		json_t *eo = json_object(), *patch, *res = NULL, *want, *again = NULL, *res2 = NULL;
		char *err = NULL;

		patch = strategic_merge_three_way(o, m, c, "Pod", &err);
		if (patch)
			res = strategic_merge_patch(c, patch, "Pod", &err);
		want = model_map(c, o ? o : eo, m);
		if (res) {
			/* applying the same manifest again changes nothing */
			again = strategic_merge_three_way(m, m, res, "Pod", &err);
			if (again)
				res2 = strategic_merge_patch(res, again, "Pod", &err);
		}
		normalize(want, NULL);
		if (res)
			normalize(res, NULL);
		if (res2)
			normalize(res2, NULL);
		if (!res2 || !json_equal(res, want) || !json_equal(res2, res) || has_directive(res)) {
			if (bad++ < 3) {
				char *so = dump(o), *sm = dump(m), *sc = dump(c), *sp = dump(patch), *sr = dump(res),
				     *sw = dump(want), *sa = dump(again);

				fprintf(stderr,
					"apply property fails (%s)\n  original: %s\n  modified: %s\n  current:  %s\n"
					"  patch:    %s\n  result:   %s\n  want:     %s\n  again:    %s\n",
					err ? err : "wrong result", so, sm, sc, sp, sr, sw, sa);
				free(so);
				free(sm);
				free(sc);
				free(sp);
				free(sr);
				free(sw);
				free(sa);
			}
		}
		free(err);
		json_decref(o);
		json_decref(m);
		json_decref(c);
		json_decref(eo);
		json_decref(patch);
		json_decref(res);
		json_decref(want);
		json_decref(again);
		json_decref(res2);
	}
	CHECK_INT(bad, 0);
}

/* ---------------------------------------------------------------------- */
/* Deep inputs                                                             */
/* ---------------------------------------------------------------------- */

static json_t *deep(int levels, bool lists)
{
	json_t *v = json_string("leaf");

	for (int i = 0; i < levels; i++) {
		json_t *outer = lists ? json_array() : json_object();

		if (lists)
			json_array_append_new(outer, v);
		else
			json_object_set_new(outer, "a", v);
		v = outer;
	}
	return v;
}

static void test_depth(void)
{
	json_t *d = deep(3000, false), *l = deep(3000, true), *small = J("{\"a\":1}");
	char *err = NULL;
	json_t *r;

	r = json_merge_patch(d, d);
	CHECK(r != NULL && json_equal(r, d));
	json_decref(r);
	r = json_merge_patch(small, d);
	CHECK(r != NULL);
	json_decref(r);

	r = strategic_merge_patch(d, d, "Pod", &err);
	CHECK(r == NULL);
	CHECK_CONTAINS(err, "deeper than");
	free(err);
	err = NULL;
	r = strategic_merge_patch(small, d, "Widget", &err);
	CHECK(r == NULL);
	free(err);
	err = NULL;
	r = strategic_merge_three_way(d, d, d, "Pod", &err);
	CHECK(r == NULL);
	CHECK_CONTAINS(err, "deeper than");
	free(err);
	err = NULL;
	r = strategic_merge_three_way(NULL, d, small, "Pod", &err);
	CHECK(r != NULL); /* a new key is copied whole, not walked */
	json_decref(r);
	free(err);
	err = NULL;
	{
		json_t *wrap = json_pack("{s:O}", "a", l);

		r = strategic_merge_patch(small, wrap, "Pod", &err);
		CHECK(r == NULL);
		free(err);
		err = NULL;
		json_decref(wrap);
	}
	{
		json_t *ops = json_pack("[{s:s,s:s,s:O}]", "op", "test", "path", "", "value", d);

		r = json_patch_apply(d, ops, &err);
		CHECK(r != NULL && err == NULL);
		json_decref(r);
		json_decref(ops);
	}
	{
		/* a patch cannot nest the document past the limit ... */
		json_t *ops = json_pack("[{s:s,s:s,s:O}]", "op", "add", "path", "/b", "value", l);

		r = json_patch_apply(small, ops, &err);
		CHECK(r == NULL);
		CHECK_CONTAINS(err, "jsonpatch add operation 0 does not apply: the document would nest deeper than 1000 levels at /b");
		free(err);
		err = NULL;
		json_decref(ops);
	}
	{
		/* ... nor blow it up by copying it into itself again and again */
		json_t *ops = json_array();

		for (int i = 0; i < 40; i++) {
			char path[16];

			snprintf(path, sizeof(path), "/k%d", i);
			json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "copy", "from", "", "path", path));
		}
		r = json_patch_apply(small, ops, &err);
		CHECK(r == NULL);
		json_decref(r);
		CHECK_CONTAINS(err, "copies more than");
		free(err);
		err = NULL;
		json_decref(ops);
	}
	json_decref(d);
	json_decref(l);
	json_decref(small);
}

int main(void)
{
	test_merge_patch();
	test_json_patch();
	test_smp_containers();
	test_smp_kinds();
	test_smp_directives();
	test_three_way();
	test_apply_property();
	test_depth();
	return test_done();
}
