/*
 * Tests for src/core/selector.c: label selector parsing (canonical strings
 * and Kubernetes' error wording), matching tables, the LabelSelector object
 * form, and field selectors with their escapes.
 */
#include "selector.h"
#include "testing.h"

#include <stdlib.h>

/* Parses s and returns its canonical string, or "ERR: <message>". */
static char *canon(const char *s)
{
	struct label_selector *sel;
	char *err, *out;

	if (label_selector_parse(s, &sel, &err)) {
		out = malloc(strlen(err) + 6);
		sprintf(out, "ERR: %s", err);
		free(err);
		return out;
	}
	out = label_selector_string(sel);
	label_selector_free(sel);
	return out;
}

static void check_canon(const char *in, const char *want)
{
	char *got = canon(in);

	CHECK_STR(got, want);
	if (strcmp(got, want))
		fprintf(stderr, "  input: '%s'\n", in);
	free(got);
}

static void test_parse(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "" },
		{ "   ", "" },
		{ "app=web", "app=web" },
		{ "app==web", "app==web" },
		{ "app!=web", "app!=web" },
		{ " app = web , tier != db ", "app=web,tier!=db" },
		{ "tier=db,app=web", "app=web,tier=db" },
		{ "env in (prod,dev)", "env in (dev,prod)" },
		{ "env in(prod, dev ,prod)", "env in (dev,prod)" },
		{ "env notin (a)", "env notin (a)" },
		{ "release", "release" },
		{ "!canary", "!canary" },
		{ "! canary", "!canary" },
		{ "x=", "x=" },
		{ "x=,y", "x=,y" },
		{ "x in ()", "x in ()" },
		{ "x in (,a)", "x in (,a)" },
		{ "x in (a,)", "x in (,a)" },
		{ "x in (a,,b)", "x in (,a,b)" },
		{ "in in (in)", "in in (in)" },
		{ "notin notin (notin)", "notin notin (notin)" },
		{ "example.com/app=web", "example.com/app=web" },
		{ "a.b-c_d=A.b-C_9", "a.b-c_d=A.b-C_9" },
		{ "n>5,n<10", "n>5,n<10" }, /* same key: input order */
		{ "b,a,!c,d=1", "a,b,!c,d=1" }, /* sorted by key, not by text */
		{ "app=web,app!=db", "app=web,app!=db" },
		/* errors, worded as Kubernetes words them */
		{ "=web", "ERR: found '=', expected: !, identifier, or 'end of string'" },
		{ ",", "ERR: found ',', expected: !, identifier, or 'end of string'" },
		{ "a,", "ERR: found '', expected: identifier after ','" },
		{ "a,,b", "ERR: found ',', expected: identifier after ','" },
		{ "a b", "ERR: unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt" },
		{ "a=b c", "ERR: found 'c', expected: ',' or 'end of string'" },
		{ "a=b=c", "ERR: found '=', expected: ',' or 'end of string'" },
		{ "a in b", "ERR: unable to parse requirement: found 'b' expected: '('" },
		{ "a in (b", "ERR: unable to parse requirement: found '', expected: ',' or ')'" },
		{ "a in (b c)", "ERR: unable to parse requirement: found 'c', expected: ',' or ')'" },
		{ "a in (=)", "ERR: unable to parse requirement: found '=', expected: ',', ')' or identifier" },
		{ "a in (b,=)", "ERR: unable to parse requirement: found '=', expected: ',', or identifier" },
		{ "a===b", "ERR: unable to parse requirement: found '=', expected: identifier" },
		{ "!", "ERR: unable to parse requirement: found '', expected: identifier" },
		{ "!a=b", "ERR: found '=', expected: ',' or 'end of string'" },
		{ "a>b", "ERR: unable to parse requirement: values: for 'Gt', 'Lt' operators, the value must be an integer" },
		{ "a=b c d", "ERR: found 'c', expected: ',' or 'end of string'" },
		{ "-a=b", "ERR: unable to parse requirement: invalid label key \"-a\": name part must consist of "
			  "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
			  "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
			  "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')" },
		{ "a=-b", "ERR: unable to parse requirement: invalid label value: \"-b\": at key: \"a\": a valid "
			  "label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
			  "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
			  "or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')" },
		{ "/a", "ERR: unable to parse requirement: invalid label key \"/a\": prefix part must be non-empty" },
		{ "a/", "ERR: unable to parse requirement: invalid label key \"a/\": name part must be non-empty; "
			"name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
			"with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
			"validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_canon(cases[i].in, cases[i].want);
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static void test_validation(void)
{
	char key[300], *got;

	/* 63 characters is the longest name, 64 too long */
	memset(key, 'a', 63);
	strcpy(key + 63, "=x");
	got = canon(key);
	CHECK(!has_prefix(got, "ERR"));
	free(got);
	memset(key, 'a', 64);
	strcpy(key + 64, "=x");
	got = canon(key);
	CHECK(strstr(got, "name part must be no more than 63 characters") != NULL);
	free(got);

	memcpy(key, "a=", 2);
	memset(key + 2, 'v', 64);
	key[66] = 0;
	{
		got = canon(key);
		CHECK(strstr(got, "at key: \"a\": must be no more than 63 characters") != NULL);
		free(got);
	}
	got = canon("Example.com/a=b");
	CHECK(strstr(got, "prefix part a lowercase RFC 1123 subdomain") != NULL);
	free(got);
	got = canon("a/b/c");
	CHECK(strstr(got, "a qualified name must consist of") != NULL);
	free(got);
	got = canon("my-org.io/app.kubernetes.io_name=x");
	CHECK_STR(got, "my-org.io/app.kubernetes.io_name=x");
	free(got);
	got = canon("a..b.com/x=y");
	CHECK(has_prefix(got, "ERR: unable to parse requirement: invalid label key"));
	free(got);
	got = canon("a=b\xc3\xa9");
	CHECK(has_prefix(got, "ERR: unable to parse requirement: invalid label value"));
	free(got);
}

static json_t *labels(const char *js)
{
	json_error_t e;
	json_t *v = json_loads(js, JSON_DECODE_ANY, &e);

	if (!v)
		fprintf(stderr, "bad test json %s: %s\n", js, e.text);
	return v;
}

static void test_matches(void)
{
	static const struct {
		const char *sel, *labels;
		bool want;
	} cases[] = {
		{ "", "{}", true },
		{ "", "null", true },
		{ "app=web", "{\"app\":\"web\"}", true },
		{ "app=web", "{\"app\":\"db\"}", false },
		{ "app=web", "{}", false },
		{ "app=web", "null", false },
		{ "app==web", "{\"app\":\"web\",\"x\":\"y\"}", true },
		{ "app!=web", "{\"app\":\"web\"}", false },
		{ "app!=web", "{\"app\":\"db\"}", true },
		{ "app!=web", "{}", true }, /* != matches objects without the key */
		{ "app!=web", "null", true },
		{ "env in (a,b)", "{\"env\":\"b\"}", true },
		{ "env in (a,b)", "{\"env\":\"c\"}", false },
		{ "env in (a,b)", "{}", false },
		{ "env notin (a,b)", "{\"env\":\"a\"}", false },
		{ "env notin (a,b)", "{\"env\":\"c\"}", true },
		{ "env notin (a,b)", "{}", true },
		{ "release", "{\"release\":\"\"}", true },
		{ "release", "{}", false },
		{ "!canary", "{}", true },
		{ "!canary", "{\"canary\":\"1\"}", false },
		{ "x=", "{\"x\":\"\"}", true },
		{ "x=", "{}", false },
		{ "x in ()", "{\"x\":\"\"}", true },
		{ "n>5", "{\"n\":\"6\"}", true },
		{ "n>5", "{\"n\":\"5\"}", false },
		{ "n>5", "{\"n\":\"x\"}", false },
		{ "n>5", "{}", false },
		{ "n<5", "{\"n\":\"-3\"}", true },
		{ "app=web,tier!=db,env in (a,b),release,!canary",
		  "{\"app\":\"web\",\"tier\":\"fe\",\"env\":\"a\",\"release\":\"1\"}", true },
		{ "app=web,tier!=db,env in (a,b),release,!canary",
		  "{\"app\":\"web\",\"tier\":\"fe\",\"env\":\"a\",\"release\":\"1\",\"canary\":\"y\"}", false },
		{ "app=web,app!=web", "{\"app\":\"web\"}", false },
		{ "app=web", "{\"app\":5}", false },
		{ "app!=web", "{\"app\":5}", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct label_selector *sel;
		char *err;
		json_t *l = labels(cases[i].labels);

		if (label_selector_parse(cases[i].sel, &sel, &err)) {
			fprintf(stderr, "cannot parse '%s': %s\n", cases[i].sel, err);
			free(err);
			CHECK(0);
			json_decref(l);
			continue;
		}
		CHECK_INT(label_selector_matches(sel, json_is_null(l) ? NULL : l), cases[i].want);
		if (label_selector_matches(sel, json_is_null(l) ? NULL : l) != cases[i].want)
			fprintf(stderr, "  selector '%s' labels %s\n", cases[i].sel, cases[i].labels);
		CHECK_INT(label_selector_empty(sel), cases[i].sel[0] == 0);
		label_selector_free(sel);
		json_decref(l);
	}
}

/* The object form: returns the canonical string or "ERR: ..." */
static char *from_json(const char *js)
{
	struct label_selector *sel;
	char *err, *out;
	json_t *v = js ? labels(js) : NULL;

	if (label_selector_from_json(v, &sel, &err)) {
		out = malloc(strlen(err) + 6);
		sprintf(out, "ERR: %s", err);
		free(err);
	} else {
		out = label_selector_string(sel);
		label_selector_free(sel);
	}
	json_decref(v);
	return out;
}

static void test_from_json(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ NULL, "" },
		{ "{}", "" },
		{ "{\"matchLabels\":null,\"matchExpressions\":null}", "" },
		{ "{\"matchLabels\":{\"tier\":\"fe\",\"app\":\"web\"}}", "app=web,tier=fe" },
		{ "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\",\"values\":[\"b\",\"a\"]}]}",
		  "env in (a,b)" },
		{ "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"x\"]},"
		  "{\"key\":\"rel\",\"operator\":\"Exists\"},{\"key\":\"c\",\"operator\":\"DoesNotExist\","
		  "\"values\":[]}],\"matchLabels\":{\"app\":\"web\"}}",
		  "app=web,!c,env notin (x),rel" },
		{ "[]", "ERR: label selector must be an object with matchLabels and matchExpressions" },
		{ "{\"matchLabels\":[]}", "ERR: matchLabels: must be an object of strings" },
		{ "{\"matchLabels\":{\"a\":1}}", "ERR: matchLabels.a: must be a string" },
		{ "{\"matchLabels\":{\"a\":\"-x\"}}", "ERR: invalid label value: \"-x\": at key: \"a\": a valid label "
		  "must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
		  "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
		  "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')" },
		{ "{\"matchExpressions\":{}}", "ERR: matchExpressions: must be a list" },
		{ "{\"matchExpressions\":[1]}", "ERR: matchExpressions[0]: must be an object" },
		{ "{\"matchExpressions\":[{\"operator\":\"In\",\"values\":[\"a\"]}]}",
		  "ERR: matchExpressions[0].key: must be a string" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Equals\",\"values\":[\"a\"]}]}",
		  "ERR: \"Equals\" is not a valid label selector operator" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}",
		  "ERR: \"Gt\" is not a valid label selector operator" },
		{ "{\"matchExpressions\":[{\"key\":\"a\"}]}", "ERR: \"\" is not a valid label selector operator" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\"},"
		  "{\"key\":\"b\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}",
		  "ERR: matchExpressions[1].values: values set must be empty for exists and does not exist" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]}",
		  "ERR: matchExpressions[0].values: for 'in', 'notin' operators, values set can't be empty" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"NotIn\"}]}",
		  "ERR: matchExpressions[0].values: for 'in', 'notin' operators, values set can't be empty" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":\"x\"}]}",
		  "ERR: matchExpressions[0].values: must be a list of strings" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"x\",2]}]}",
		  "ERR: matchExpressions[0].values[1]: must be a string" },
		{ "{\"matchExpressions\":[{\"key\":\"a b\",\"operator\":\"Exists\"}]}",
		  "ERR: invalid label key \"a b\": name part must consist of alphanumeric characters, '-', '_' or "
		  "'.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
		  "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = from_json(cases[i].in);

		CHECK_STR(got, cases[i].want);
		free(got);
	}

	/* "{} selects nothing" callers can tell {} from a real selector */
	{
		struct label_selector *sel;
		char *err;
		json_t *v = labels("{\"matchLabels\":{\"app\":\"web\"}}");
		json_t *l1 = labels("{\"app\":\"web\",\"pod-template-hash\":\"abc\"}");
		json_t *l2 = labels("{\"app\":\"db\"}");

		CHECK_INT(label_selector_from_json(v, &sel, &err), 0);
		CHECK(!label_selector_empty(sel));
		CHECK(label_selector_matches(sel, l1));
		CHECK(!label_selector_matches(sel, l2));
		label_selector_free(sel);
		json_decref(v);
		v = labels("{}");
		CHECK_INT(label_selector_from_json(v, &sel, &err), 0);
		CHECK(label_selector_empty(sel));
		CHECK(label_selector_matches(sel, l2));
		label_selector_free(sel);
		json_decref(v);
		json_decref(l1);
		json_decref(l2);
	}
}

/* -- field selectors -- */

struct pod_fields {
	const char *name, *ns, *node, *phase;
};

static const char *pod_get(const char *field, void *ctx)
{
	struct pod_fields *p = ctx;

	if (!strcmp(field, "metadata.name"))
		return p->name;
	if (!strcmp(field, "metadata.namespace"))
		return p->ns;
	if (!strcmp(field, "spec.nodeName"))
		return p->node;
	if (!strcmp(field, "status.phase"))
		return p->phase;
	return NULL;
}

static char *field_err(const char *s)
{
	struct field_selector *sel;
	char *err;

	if (field_selector_parse(s, &sel, &err) == 0) {
		field_selector_free(sel);
		return NULL;
	}
	CHECK(sel == NULL);
	return err;
}

static void test_fields(void)
{
	struct field_selector *sel;
	char *err;
	struct pod_fields web = { "web-1", "default", "n1", "Running" };
	struct pod_fields db = { "db-0", "prod", "", "Pending" };

	CHECK_INT(field_selector_parse("", &sel, &err), 0);
	CHECK(field_selector_empty(sel));
	CHECK(field_selector_field(sel, 0) == NULL);
	CHECK(field_selector_matches(sel, pod_get, &web));
	field_selector_free(sel);

	CHECK_INT(field_selector_parse("status.phase==Running,metadata.name=web-1,spec.nodeName!=n2", &sel, &err), 0);
	CHECK(!field_selector_empty(sel));
	/* terms are kept sorted, as Kubernetes sorts them */
	CHECK_STR(field_selector_field(sel, 0), "metadata.name");
	CHECK_STR(field_selector_field(sel, 1), "spec.nodeName");
	CHECK_STR(field_selector_field(sel, 2), "status.phase");
	CHECK(field_selector_field(sel, 3) == NULL);
	CHECK(field_selector_field(sel, -1) == NULL);
	CHECK_STR(field_selector_exact(sel, "metadata.name"), "web-1");
	CHECK_STR(field_selector_exact(sel, "status.phase"), "Running");
	CHECK(field_selector_exact(sel, "spec.nodeName") == NULL); /* != is no exact match */
	CHECK(field_selector_exact(sel, "metadata.namespace") == NULL);
	CHECK(field_selector_matches(sel, pod_get, &web));
	CHECK(!field_selector_matches(sel, pod_get, &db));
	web.node = "n2";
	CHECK(!field_selector_matches(sel, pod_get, &web));
	web.node = "n1";
	field_selector_free(sel);

	/* unscheduled pods: spec.nodeName= */
	CHECK_INT(field_selector_parse("spec.nodeName=", &sel, &err), 0);
	CHECK(field_selector_matches(sel, pod_get, &db));
	CHECK(!field_selector_matches(sel, pod_get, &web));
	CHECK_STR(field_selector_exact(sel, "spec.nodeName"), "");
	field_selector_free(sel);

	/* an unsupported field never matches, whatever the operator */
	CHECK_INT(field_selector_parse("spec.bogus!=x", &sel, &err), 0);
	CHECK(!field_selector_matches(sel, pod_get, &web));
	field_selector_free(sel);

	/* escapes */
	CHECK_INT(field_selector_parse("metadata.name=a\\,b\\=c\\\\d,,", &sel, &err), 0);
	CHECK_STR(field_selector_exact(sel, "metadata.name"), "a,b=c\\d");
	CHECK(field_selector_field(sel, 1) == NULL);
	field_selector_free(sel);
	CHECK_INT(field_selector_parse("a=b!c", &sel, &err), 0);
	CHECK_STR(field_selector_exact(sel, "a"), "b!c");
	field_selector_free(sel);
	CHECK_INT(field_selector_parse("a!b=c", &sel, &err), 0);
	CHECK_STR(field_selector_exact(sel, "a!b"), "c");
	field_selector_free(sel);
	err = field_err("a===b"); /* "==" then a bare "=" in the value */
	CHECK_STR(err, "invalid field selector: unescaped character in value: =");
	free(err);

	err = field_err("metadata.name");
	CHECK_STR(err, "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
	free(err);
	err = field_err("a=b,c");
	CHECK_STR(err, "invalid selector: 'a=b,c'; can't understand 'c'");
	free(err);
	err = field_err("a=b=c");
	CHECK_STR(err, "invalid field selector: unescaped character in value: =");
	free(err);
	err = field_err("a=b\\");
	CHECK_STR(err, "invalid field selector: invalid escape sequence: \\");
	free(err);
	err = field_err("a=b\\x");
	CHECK_STR(err, "invalid field selector: invalid escape sequence: \\x");
	free(err);
	err = field_err("a=\\\xc3\xa9");
	CHECK_STR(err, "invalid field selector: invalid escape sequence: \\\xc3\xa9");
	free(err);
	err = field_err("a=b\\,c,d");
	CHECK_STR(err, "invalid selector: 'a=b\\,c,d'; can't understand 'd'");
	free(err);
}

int main(void)
{
	test_parse();
	test_validation();
	test_matches();
	test_from_json();
	test_fields();
	return test_done();
}
