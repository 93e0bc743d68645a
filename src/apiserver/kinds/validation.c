/*
 * The checks every kind shares: field errors worded as Kubernetes' field
 * package words them, the RFC 1123 / qualified-name / label-value rules of
 * k8s.io/apimachinery/pkg/util/validation with their exact messages, object
 * metadata (ValidateObjectMeta), label selectors kept as JSON, quantities and
 * IP addresses. Kinds under src/apiserver/kinds/ build their validate() from
 * these; the messages end up in 422 Status objects that kubectl prints as is.
 */
#include "internal.h"
#include "object.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- messages ----------------------------------------------------------- */

#define RE_DNS1123_LABEL "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define RE_DNS1035_LABEL "[a-z]([-a-z0-9]*[a-z0-9])?"
#define RE_QUALIFIED "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

#define MSG_DNS1123_LABEL                                                                            \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and " \
	"must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "   \
	"used for validation is '" RE_DNS1123_LABEL "')"
#define MSG_DNS1123_SUBDOMAIN                                                                         \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or " \
	"'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used " \
	"for validation is '" RE_DNS1123_LABEL "(\\." RE_DNS1123_LABEL ")*')"
#define MSG_DNS1035_LABEL                                                                              \
	"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "  \
	"alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "          \
	"'abc-123', regex used for validation is '" RE_DNS1035_LABEL "')"
#define MSG_QUALIFIED_BODY                                                                          \
	"must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " \
	"alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "      \
	"validation is '" RE_QUALIFIED "')"
#define MSG_LABEL_VALUE                                                                              \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or " \
	"'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "          \
	"'my_value',  or '12345', regex used for validation is '(" RE_QUALIFIED ")?')"
#define MSG_CONFIG_KEY                                                                          \
	"a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "   \
	"'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
#define MSG_MAXLEN(n) "must be no more than " #n " characters"

#define ANNOTATIONS_MAX_BYTES 262144

/* A few messages from one check, all static strings. */
struct msgs {
	const char *v[6];
	int n;
};

static void msgs_add(struct msgs *m, const char *s)
{
	if (m->n < (int)ARRAY_SIZE(m->v))
		m->v[m->n++] = s;
}

/* ---- field errors ------------------------------------------------------- */

static void add(struct field_errors *e, const char *reason, const char *field, char *message)
{
	e->v = xrealloc(e->v, (e->n + 1) * sizeof(*e->v));
	e->v[e->n].reason = reason;
	e->v[e->n].field = xstrdup(field ? field : "");
	e->v[e->n].message = message;
	e->n++;
}

char *go_quote(const char *s)
{
	struct strbuf sb;

	strbuf_init(&sb, strlen(s) + 2);
	strbuf_addc(&sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': strbuf_adds(&sb, "\\\""); break;
		case '\\': strbuf_adds(&sb, "\\\\"); break;
		case '\a': strbuf_adds(&sb, "\\a"); break;
		case '\b': strbuf_adds(&sb, "\\b"); break;
		case '\f': strbuf_adds(&sb, "\\f"); break;
		case '\n': strbuf_adds(&sb, "\\n"); break;
		case '\r': strbuf_adds(&sb, "\\r"); break;
		case '\t': strbuf_adds(&sb, "\\t"); break;
		case '\v': strbuf_adds(&sb, "\\v"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				strbuf_addf(&sb, "\\x%02x", *p);
			else
				strbuf_addc(&sb, (char)*p);
		}
	}
	strbuf_addc(&sb, '"');
	return strbuf_detach(&sb, NULL);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of an object, sorted (fmt prints maps sorted). Caller frees the array. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
	const char **keys = xcalloc(json_object_size(obj) + 1, sizeof(*keys));
	const char *k;
	json_t *v;

	*n = 0;
	json_object_foreach((json_t *)obj, k, v)
		keys[(*n)++] = k;
	qsort(keys, *n, sizeof(*keys), cmp_str);
	return keys;
}

static bool all_strings(const json_t *v)
{
	size_t i;
	const char *k;
	json_t *x;

	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (!json_is_string(x))
				return false;
		return true;
	}
	json_object_foreach((json_t *)v, k, x)
		if (!json_is_string(x))
			return false;
	return true;
}

char *go_string_map(const json_t *obj)
{
	struct strbuf sb;
	const char **keys;
	size_t n;

	if (!json_is_object(obj))
		return xstrdup("map[string]string(nil)");
	strbuf_init(&sb, 64);
	strbuf_adds(&sb, "map[string]string{");
	keys = sorted_keys(obj, &n);
	for (size_t i = 0; i < n; i++) {
		char *k = go_quote(keys[i]);
		const char *sv = json_string_value(json_object_get(obj, keys[i]));
		char *v = go_quote(sv ? sv : "");
		strbuf_addf(&sb, "%s%s:%s", i ? ", " : "", k, v);
		free(k);
		free(v);
	}
	free(keys);
	strbuf_addc(&sb, '}');
	return strbuf_detach(&sb, NULL);
}

char *go_string_slice(const json_t *arr)
{
	struct strbuf sb;
	size_t i;
	json_t *x;

	if (!json_is_array(arr))
		return xstrdup("[]string(nil)");
	strbuf_init(&sb, 64);
	strbuf_adds(&sb, "[]string{");
	json_array_foreach(arr, i, x) {
		char *q = go_quote(json_string_value(x) ? json_string_value(x) : "");
		strbuf_addf(&sb, "%s%s", i ? ", " : "", q);
		free(q);
	}
	strbuf_addc(&sb, '}');
	return strbuf_detach(&sb, NULL);
}

char *go_label_selector(const json_t *sel)
{
	struct strbuf sb;
	json_t *ml = json_object_get(sel, "matchLabels"), *me = json_object_get(sel, "matchExpressions"), *x;
	char *m = go_string_map(ml);
	size_t i;

	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "v1.LabelSelector{MatchLabels:%s, MatchExpressions:", m);
	free(m);
	if (!json_is_array(me)) {
		strbuf_adds(&sb, "[]v1.LabelSelectorRequirement(nil)}");
		return strbuf_detach(&sb, NULL);
	}
	strbuf_adds(&sb, "[]v1.LabelSelectorRequirement{");
	json_array_foreach(me, i, x) {
		char *k = go_quote(obj_str(x, "key") ? obj_str(x, "key") : "");
		char *op = go_quote(obj_str(x, "operator") ? obj_str(x, "operator") : "");
		char *vals = go_string_slice(json_object_get(x, "values"));
		strbuf_addf(&sb, "%sv1.LabelSelectorRequirement{Key:%s, Operator:%s, Values:%s}", i ? ", " : "",
			    k, op, vals);
		free(k);
		free(op);
		free(vals);
	}
	strbuf_adds(&sb, "}}");
	return strbuf_detach(&sb, NULL);
}

char *go_int_or_string(const json_t *v)
{
	if (json_is_string(v)) {
		char *q = go_quote(json_string_value(v));
		char *s = xasprintf("intstr.IntOrString{Type:1, IntVal:0, StrVal:%s}", q);
		free(q);
		return s;
	}
	return xasprintf("intstr.IntOrString{Type:0, IntVal:%" PRId64 ", StrVal:\"\"}",
			 (int64_t)json_integer_value(v));
}

/* A value as Kubernetes' field.Error prints it: strings quoted, numbers
 * bare, string maps and slices as Go literals, anything else as JSON. */
static char *render_value(const json_t *v)
{
	if (!v || json_is_null(v))
		return xstrdup("null");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return go_quote(json_string_value(v));
	case JSON_INTEGER:
		return xasprintf("%" PRId64, (int64_t)json_integer_value(v));
	case JSON_REAL: {
		double d = json_real_value(v);
		if (d == floor(d) && fabs(d) < 1e21)
			return xasprintf("%.0f", d);
		return xasprintf("%g", d);
	}
	case JSON_TRUE:
		return xstrdup("true");
	case JSON_FALSE:
		return xstrdup("false");
	case JSON_ARRAY:
		if (all_strings(v))
			return go_string_slice(v);
		break;
	case JSON_OBJECT:
		if (all_strings(v))
			return go_string_map(v);
		break;
	default:
		break;
	}
	return obj_dump(v, NULL);
}

void field_invalid(struct field_errors *e, const char *field, const json_t *value, const char *fmt, ...)
{
	char *val = render_value(value);
	struct strbuf sb;
	va_list ap;

	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "Invalid value: %s", val);
	free(val);
	if (fmt && *fmt) {
		struct strbuf d;
		strbuf_init(&d, 64);
		va_start(ap, fmt);
		strbuf_vaddf(&d, fmt, ap);
		va_end(ap);
		if (d.len)
			strbuf_addf(&sb, ": %s", d.buf);
		strbuf_release(&d);
	}
	add(e, "FieldValueInvalid", field, strbuf_detach(&sb, NULL));
}

void field_invalid_raw(struct field_errors *e, const char *field, const char *rendered, const char *detail)
{
	add(e, "FieldValueInvalid", field,
	    detail && *detail ? xasprintf("Invalid value: %s: %s", rendered, detail)
			      : xasprintf("Invalid value: %s", rendered));
}

void field_invalid_str(struct field_errors *e, const char *field, const char *value, const char *detail)
{
	char *q = go_quote(value ? value : "");
	field_invalid_raw(e, field, q, detail);
	free(q);
}

void field_invalid_int(struct field_errors *e, const char *field, int64_t value, const char *detail)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, value);
	field_invalid_raw(e, field, buf, detail);
}

void field_required(struct field_errors *e, const char *field, const char *detail)
{
	add(e, "FieldValueRequired", field,
	    detail && *detail ? xasprintf("Required value: %s", detail) : xstrdup("Required value"));
}

void field_not_supported_raw(struct field_errors *e, const char *field, const char *rendered,
			     const char *const *supported)
{
	struct strbuf sb;

	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "Unsupported value: %s", rendered);
	for (int i = 0; supported && supported[i]; i++) {
		char *q = go_quote(supported[i]);
		strbuf_addf(&sb, "%s%s", i ? ", " : ": supported values: ", q);
		free(q);
	}
	add(e, "FieldValueNotSupported", field, strbuf_detach(&sb, NULL));
}

void field_not_supported(struct field_errors *e, const char *field, const json_t *value,
			 const char *const *supported)
{
	char *val = render_value(value);

	field_not_supported_raw(e, field, val, supported);
	free(val);
}

void field_duplicate(struct field_errors *e, const char *field, const json_t *value)
{
	char *val = render_value(value);
	field_duplicate_raw(e, field, val, NULL);
	free(val);
}

void field_duplicate_raw(struct field_errors *e, const char *field, const char *rendered, const char *detail)
{
	add(e, "FieldValueDuplicate", field,
	    detail && *detail ? xasprintf("Duplicate value: %s: %s", rendered, detail)
			      : xasprintf("Duplicate value: %s", rendered));
}

void field_forbidden(struct field_errors *e, const char *field, const char *detail)
{
	add(e, "FieldValueForbidden", field,
	    detail && *detail ? xasprintf("Forbidden: %s", detail) : xstrdup("Forbidden"));
}

void field_not_found(struct field_errors *e, const char *field, const json_t *value)
{
	char *val = render_value(value);
	add(e, "FieldValueNotFound", field, xasprintf("Not found: %s", val));
	free(val);
}

void field_too_long(struct field_errors *e, const char *field, long max_bytes)
{
	add(e, "FieldValueTooLong", field,
	    xasprintf("Too long: may not be more than %ld byte%s", max_bytes, max_bytes == 1 ? "" : "s"));
}

void field_errors_release(struct field_errors *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].field);
		free(e->v[i].message);
	}
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

char *field_errors_string(const struct field_errors *e)
{
	struct strbuf sb;
	char **seen = xcalloc(e->n + 1, sizeof(*seen));
	size_t nseen = 0;

	/* ErrorList.ToAggregate drops repeated messages; the aggregate wraps
	 * more than one in brackets. */
	strbuf_init(&sb, 256);
	for (size_t i = 0; i < e->n; i++) {
		char *msg = xasprintf("%s: %s", e->v[i].field, e->v[i].message);
		bool dup = false;

		for (size_t j = 0; j < nseen && !dup; j++)
			dup = !strcmp(seen[j], msg);
		if (dup) {
			free(msg);
			continue;
		}
		if (nseen)
			strbuf_adds(&sb, ", ");
		strbuf_adds(&sb, msg);
		seen[nseen++] = msg;
	}
	for (size_t j = 0; j < nseen; j++)
		free(seen[j]);
	free(seen);
	if (nseen > 1) {
		char *inner = strbuf_detach(&sb, NULL);
		char *out = xasprintf("[%s]", inner);
		free(inner);
		return out;
	}
	return strbuf_detach(&sb, NULL);
}

/* ---- names -------------------------------------------------------------- */

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool match_label(const char *s, size_t n, bool first_alpha)
{
	if (n == 0 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	if (first_alpha && !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool match_subdomain(const char *s)
{
	const char *p = s;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (!match_label(p, n, false))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

static bool match_qualified(const char *s, size_t n)
{
	if (n == 0 || !alnum(s[0]) || !alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static void msgs_dns1123_label(const char *s, struct msgs *m)
{
	if (strlen(s) > 63)
		msgs_add(m, MSG_MAXLEN(63));
	if (!match_label(s, strlen(s), false))
		msgs_add(m, MSG_DNS1123_LABEL);
}

static void msgs_dns1035_label(const char *s, struct msgs *m)
{
	if (strlen(s) > 63)
		msgs_add(m, MSG_MAXLEN(63));
	if (!match_label(s, strlen(s), true))
		msgs_add(m, MSG_DNS1035_LABEL);
}

static void msgs_dns1123_subdomain(const char *s, struct msgs *m)
{
	if (strlen(s) > 253)
		msgs_add(m, MSG_MAXLEN(253));
	if (!match_subdomain(s))
		msgs_add(m, MSG_DNS1123_SUBDOMAIN);
}

static void msgs_qualified_name(const char *s, struct msgs *m)
{
	const char *slash = strchr(s, '/'), *name = s;

	if (slash && strchr(slash + 1, '/')) {
		msgs_add(m, "a qualified name " MSG_QUALIFIED_BODY
			    " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
		return;
	}
	if (slash) {
		char *prefix = xstrndup(s, (size_t)(slash - s));
		if (!*prefix) {
			msgs_add(m, "prefix part must be non-empty");
		} else {
			if (strlen(prefix) > 253)
				msgs_add(m, "prefix part " MSG_MAXLEN(253));
			if (!match_subdomain(prefix))
				msgs_add(m, "prefix part " MSG_DNS1123_SUBDOMAIN);
		}
		free(prefix);
		name = slash + 1;
	}
	if (!*name)
		msgs_add(m, "name part must be non-empty");
	else if (strlen(name) > 63)
		msgs_add(m, "name part " MSG_MAXLEN(63));
	if (!match_qualified(name, strlen(name)))
		msgs_add(m, "name part " MSG_QUALIFIED_BODY);
}

static void msgs_label_value(const char *s, struct msgs *m)
{
	if (strlen(s) > 63)
		msgs_add(m, MSG_MAXLEN(63));
	if (*s && !match_qualified(s, strlen(s)))
		msgs_add(m, MSG_LABEL_VALUE);
}

static void msgs_config_key(const char *s, struct msgs *m)
{
	bool ok = *s != '\0';

	if (strlen(s) > 253)
		msgs_add(m, MSG_MAXLEN(253));
	for (const char *p = s; *p; p++)
		if (!alnum(*p) && *p != '-' && *p != '_' && *p != '.')
			ok = false;
	if (!ok)
		msgs_add(m, MSG_CONFIG_KEY);
	if (m->n)
		return;
	if (!strcmp(s, "."))
		msgs_add(m, "must not be '.'");
	else if (!strcmp(s, ".."))
		msgs_add(m, "must not be '..'");
	else if (str_has_prefix(s, ".."))
		msgs_add(m, "must not start with '..'");
}

static void msgs_port_name(const char *s, struct msgs *m)
{
	bool charset = *s != '\0', letter = false;
	size_t n = strlen(s);

	if (n > 15)
		msgs_add(m, MSG_MAXLEN(15));
	for (const char *p = s; *p; p++) {
		if (!lower_alnum(*p) && *p != '-')
			charset = false;
		if (*p >= 'a' && *p <= 'z')
			letter = true;
	}
	if (!charset)
		msgs_add(m, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
	if (!letter)
		msgs_add(m, "must contain at least one letter (a-z)");
	if (strstr(s, "--"))
		msgs_add(m, "must not contain consecutive hyphens");
	if (n && (s[0] == '-' || s[n - 1] == '-'))
		msgs_add(m, "must not begin or end with a hyphen");
}

const char *check_dns1123_label(const char *s)
{
	struct msgs m = { 0 };
	msgs_dns1123_label(s, &m);
	return m.n ? m.v[0] : NULL;
}

const char *check_dns1123_subdomain(const char *s)
{
	struct msgs m = { 0 };
	msgs_dns1123_subdomain(s, &m);
	return m.n ? m.v[0] : NULL;
}

const char *check_dns1035_label(const char *s)
{
	struct msgs m = { 0 };
	msgs_dns1035_label(s, &m);
	return m.n ? m.v[0] : NULL;
}

const char *check_label_key(const char *s)
{
	struct msgs m = { 0 };
	msgs_qualified_name(s, &m);
	return m.n ? m.v[0] : NULL;
}

const char *check_label_value(const char *s)
{
	struct msgs m = { 0 };
	msgs_label_value(s, &m);
	return m.n ? m.v[0] : NULL;
}

static void emit(struct field_errors *e, const char *field, const char *value, const struct msgs *m)
{
	for (int i = 0; i < m->n; i++)
		field_invalid_str(e, field, value, m->v[i]);
}

#define FIELD_CHECK(fn, msgsfn)                                                              \
	void fn(struct field_errors *e, const char *field, const char *value)                \
	{                                                                                    \
		struct msgs m = { 0 };                                                       \
		msgsfn(value ? value : "", &m);                                              \
		emit(e, field, value ? value : "", &m);                                      \
	}
FIELD_CHECK(check_field_dns1123_label, msgs_dns1123_label)
FIELD_CHECK(check_field_dns1123_subdomain, msgs_dns1123_subdomain)
FIELD_CHECK(check_field_qualified_name, msgs_qualified_name)
FIELD_CHECK(check_field_label_value, msgs_label_value)
FIELD_CHECK(check_field_config_key, msgs_config_key)
FIELD_CHECK(check_field_port_name, msgs_port_name)

char *label_value_msgs_joined(const char *value)
{
	struct msgs m = { 0 };
	struct strbuf sb;

	msgs_label_value(value ? value : "", &m);
	if (!m.n)
		return NULL;
	strbuf_init(&sb, 256);
	for (int i = 0; i < m.n; i++)
		strbuf_addf(&sb, "%s%s", i ? ";" : "", m.v[i]);
	return strbuf_detach(&sb, NULL);
}

void check_field_port_num(struct field_errors *e, const char *field, int64_t port)
{
	if (port < 1 || port > 65535)
		field_invalid_int(e, field, port, "must be between 1 and 65535, inclusive");
}

void check_field_port_num_or_name(struct field_errors *e, const char *field, const json_t *port)
{
	if (json_is_string(port))
		check_field_port_name(e, field, json_string_value(port));
	else
		check_field_port_num(e, field, json_integer_value(port));
}

void check_field_nonnegative(struct field_errors *e, const char *field, const json_t *v)
{
	if (json_is_integer(v) && json_integer_value(v) < 0)
		field_invalid(e, field, v, "must be greater than or equal to 0");
}

/* ---- metadata ------------------------------------------------------------ */

void validate_labels(struct field_errors *e, const char *field, const json_t *labels)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)labels, k, v) {
		struct msgs m = { 0 };

		msgs_qualified_name(k, &m);
		emit(e, field, k, &m);
		if (!json_is_string(v)) {
			field_invalid(e, field, v, "must be a string");
			continue;
		}
		m.n = 0;
		msgs_label_value(json_string_value(v), &m);
		emit(e, field, json_string_value(v), &m);
	}
}

void validate_annotations(struct field_errors *e, const char *field, const json_t *annotations)
{
	size_t total = 0;
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)annotations, k, v) {
		struct msgs m = { 0 };
		char *lower = xstrdup(k);

		for (char *p = lower; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		msgs_qualified_name(lower, &m);
		free(lower);
		emit(e, field, k, &m);
		total += strlen(k) + (json_is_string(v) ? json_string_length(v) : 0);
	}
	if (total > ANNOTATIONS_MAX_BYTES)
		field_too_long(e, field, ANNOTATIONS_MAX_BYTES);
}

static void name_msgs(const char *name_kind, const char *s, struct msgs *m)
{
	if (!name_kind)
		return;
	if (!strcmp(name_kind, "dns1123-label"))
		msgs_dns1123_label(s, m);
	else if (!strcmp(name_kind, NAME_DNS1035_LABEL))
		msgs_dns1035_label(s, m);
	else
		msgs_dns1123_subdomain(s, m);
}

static void validate_owner_references(struct field_errors *e, const json_t *refs)
{
	size_t i;
	json_t *r;

	json_array_foreach(refs, i, r) {
		const char *av = obj_str(r, "apiVersion"), *slash;
		const char *version = av;

		/* schema.ParseGroupVersion: "v1", "apps/v1"; anything else has no version. */
		if (av && (slash = strchr(av, '/')))
			version = strchr(slash + 1, '/') ? "" : slash + 1;
		if (!version || !*version)
			field_invalid_str(e, "metadata.ownerReferences.apiVersion", av, "version must not be empty");
		if (!obj_str(r, "kind") || !*obj_str(r, "kind"))
			field_invalid_str(e, "metadata.ownerReferences.kind", obj_str(r, "kind"), "must not be empty");
		if (!obj_str(r, "name") || !*obj_str(r, "name"))
			field_invalid_str(e, "metadata.ownerReferences.name", obj_str(r, "name"), "must not be empty");
		if (!obj_str(r, "uid") || !*obj_str(r, "uid"))
			field_invalid_str(e, "metadata.ownerReferences.uid", obj_str(r, "uid"), "must not be empty");
	}
}

static bool standard_finalizer(const char *f)
{
	return !strcmp(f, "kubernetes") || !strcmp(f, "orphan") || !strcmp(f, "foregroundDeletion");
}

static void validate_finalizers(struct field_errors *e, const json_t *fins)
{
	const char *field = "metadata.finalizers";
	bool orphan = false, foreground = false;
	size_t i;
	json_t *f;

	/* apimachinery's ValidateFinalizers first ... */
	json_array_foreach(fins, i, f) {
		const char *s = json_string_value(f) ? json_string_value(f) : "";
		check_field_qualified_name(e, field, s);
		orphan |= !strcmp(s, "orphan");
		foreground |= !strcmp(s, "foregroundDeletion");
	}
	if (orphan && foreground) {
		char *v = go_string_slice(fins);
		field_invalid_raw(e, field, v, "finalizer orphan and foregroundDeletion cannot be both set");
		free(v);
	}
	/* ... then core's validateKubeFinalizerName, which checks the name again. */
	json_array_foreach(fins, i, f) {
		const char *s = json_string_value(f) ? json_string_value(f) : "";
		check_field_qualified_name(e, field, s);
		if (!strchr(s, '/') && !standard_finalizer(s))
			field_invalid_str(e, field, s, "name is neither a standard finalizer name nor is it fully qualified");
	}
}

void validate_object_meta(const json_t *obj, bool namespaced, const char *name_kind, struct field_errors *e)
{
	const char *name = obj_name(obj), *gen = obj_str(obj, "metadata.generateName");
	const char *ns = obj_namespace(obj);
	struct msgs m = { 0 };

	if (gen && *gen) {
		/* A prefix may end in '-': check it as if that were a letter. */
		char *masked = xstrdup(gen);
		size_t n = strlen(masked);
		if (masked[n - 1] == '-')
			masked[n - 1] = 'a';
		name_msgs(name_kind, masked, &m);
		free(masked);
		emit(e, "metadata.generateName", gen, &m);
	}
	if (!name || !*name) {
		field_required(e, "metadata.name", "name or generateName is required");
	} else {
		m.n = 0;
		name_msgs(name_kind, name, &m);
		emit(e, "metadata.name", name, &m);
	}
	if (namespaced) {
		if (!ns || !*ns) {
			field_required(e, "metadata.namespace", NULL);
		} else {
			m.n = 0;
			msgs_dns1123_label(ns, &m);
			emit(e, "metadata.namespace", ns, &m);
		}
	} else if (ns && *ns) {
		field_forbidden(e, "metadata.namespace", "not allowed on this type");
	}
	check_field_nonnegative(e, "metadata.generation", obj_get(obj, "metadata.generation"));
	validate_labels(e, "metadata.labels", obj_get(obj, "metadata.labels"));
	validate_annotations(e, "metadata.annotations", obj_get(obj, "metadata.annotations"));
	validate_owner_references(e, obj_get(obj, "metadata.ownerReferences"));
	validate_finalizers(e, obj_get(obj, "metadata.finalizers"));
}

void validate_object_meta_update(const json_t *obj, const json_t *old, struct field_errors *e)
{
	static const char *const fields[] = { "metadata.name", "metadata.namespace", "metadata.uid" };

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const char *n = obj_str(obj, fields[i]), *o = obj_str(old, fields[i]);
		/* A missing uid is filled from the stored object, as Kubernetes does. */
		if (i == 2 && (!n || !o))
			continue;
		if (strcmp(n ? n : "", o ? o : ""))
			field_invalid_str(e, fields[i], n ? n : "", "field is immutable");
	}
}

/* ---- label selectors ------------------------------------------------------ */

void validate_label_selector(struct field_errors *e, const char *field, const json_t *sel)
{
	json_t *x;
	size_t i;
	char *p;

	if (!json_is_object(sel))
		return;
	p = xasprintf("%s.matchLabels", field);
	validate_labels(e, p, json_object_get(sel, "matchLabels"));
	free(p);
	json_array_foreach(json_object_get(sel, "matchExpressions"), i, x) {
		const char *op = obj_str(x, "operator") ? obj_str(x, "operator") : "";
		json_t *vals = json_object_get(x, "values"), *v;
		char *base = xasprintf("%s.matchExpressions[%zu]", field, i);
		size_t j;

		p = xasprintf("%s.values", base);
		if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
			if (json_array_size(vals) == 0)
				field_required(e, p, "must be specified when `operator` is 'In' or 'NotIn'");
		} else if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist")) {
			if (json_array_size(vals) > 0)
				field_forbidden(e, p, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
		} else {
			char *q = xasprintf("%s.operator", base);
			field_invalid_str(e, q, op, "not a valid selector operator");
			free(q);
		}
		free(p);
		p = xasprintf("%s.key", base);
		check_field_qualified_name(e, p, obj_str(x, "key"));
		free(p);
		json_array_foreach(vals, j, v) {
			p = xasprintf("%s.values[%zu]", base, j);
			check_field_label_value(e, p, json_string_value(v));
			free(p);
		}
		free(base);
	}
}

static bool in_values(const json_t *vals, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(vals, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

/* Checks one matchExpressions entry as labels.NewRequirement would. */
static bool requirement_valid(const json_t *x)
{
	const char *key = obj_str(x, "key"), *op = obj_str(x, "operator");
	size_t n = json_array_size(json_object_get(x, "values"));

	if (!key || check_label_key(key) || !op)
		return false;
	if (!strcmp(op, "In") || !strcmp(op, "NotIn"))
		return n > 0;
	if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist"))
		return n == 0;
	return false;
}

int selector_matches(const json_t *sel, const json_t *labels)
{
	json_t *ml, *me, *x;
	const char *k;
	size_t i;

	if (!sel || json_is_null(sel))
		return 0;
	if (!json_is_object(sel))
		return -1;
	ml = json_object_get(sel, "matchLabels");
	me = json_object_get(sel, "matchExpressions");
	json_array_foreach(me, i, x)
		if (!requirement_valid(x))
			return -1;
	json_object_foreach(ml, k, x) {
		const char *have = json_string_value(json_object_get(labels, k));
		if (!json_is_string(x) || !have || strcmp(have, json_string_value(x)))
			return 0;
	}
	json_array_foreach(me, i, x) {
		const char *op = obj_str(x, "operator");
		const char *have = json_string_value(json_object_get(labels, obj_str(x, "key")));
		json_t *vals = json_object_get(x, "values");
		bool ok;

		if (!strcmp(op, "In"))
			ok = have && in_values(vals, have);
		else if (!strcmp(op, "NotIn"))
			ok = !have || !in_values(vals, have);
		else if (!strcmp(op, "Exists"))
			ok = have != NULL;
		else
			ok = have == NULL;
		if (!ok)
			return 0;
	}
	return 1;
}

bool selector_is_empty(const json_t *sel)
{
	return json_object_size(json_object_get(sel, "matchLabels")) == 0 &&
	       json_array_size(json_object_get(sel, "matchExpressions")) == 0;
}

struct req {
	const char *key;
	char *text;
};

static int cmp_req(const void *a, const void *b)
{
	return strcmp(((const struct req *)a)->key, ((const struct req *)b)->key);
}

char *selector_string(const json_t *sel)
{
	json_t *ml = json_object_get(sel, "matchLabels"), *me = json_object_get(sel, "matchExpressions"), *x;
	size_t n = 0, i;
	struct req *reqs;
	struct strbuf sb;
	const char *k;

	if (sel && !json_is_object(sel))
		return NULL;
	json_array_foreach(me, i, x)
		if (!requirement_valid(x))
			return NULL;
	reqs = xcalloc(json_object_size(ml) + json_array_size(me) + 1, sizeof(*reqs));
	json_object_foreach(ml, k, x) {
		reqs[n].key = k;
		reqs[n++].text = xasprintf("%s=%s", k, json_string_value(x) ? json_string_value(x) : "");
	}
	json_array_foreach(me, i, x) {
		const char *op = obj_str(x, "operator"), *key = obj_str(x, "key");
		reqs[n].key = key;
		if (!strcmp(op, "Exists")) {
			reqs[n++].text = xstrdup(key);
		} else if (!strcmp(op, "DoesNotExist")) {
			reqs[n++].text = xasprintf("!%s", key);
		} else {
			json_t *vals = json_object_get(x, "values"), *v;
			size_t nv = json_array_size(vals), j;
			const char **sorted = xcalloc(nv + 1, sizeof(*sorted));
			struct strbuf r;

			json_array_foreach(vals, j, v)
				sorted[j] = json_string_value(v) ? json_string_value(v) : "";
			qsort(sorted, nv, sizeof(*sorted), cmp_str);
			strbuf_init(&r, 64);
			strbuf_addf(&r, "%s %s (", key, !strcmp(op, "In") ? "in" : "notin");
			for (j = 0; j < nv; j++)
				strbuf_addf(&r, "%s%s", j ? "," : "", sorted[j]);
			strbuf_addc(&r, ')');
			free(sorted);
			reqs[n++].text = strbuf_detach(&r, NULL);
		}
	}
	qsort(reqs, n, sizeof(*reqs), cmp_req);
	strbuf_init(&sb, 64);
	for (i = 0; i < n; i++) {
		strbuf_addf(&sb, "%s%s", i ? "," : "", reqs[i].text);
		free(reqs[i].text);
	}
	free(reqs);
	return strbuf_detach(&sb, NULL);
}

char *format_labels(const json_t *map)
{
	struct strbuf sb;
	const char **keys;
	size_t n;

	if (json_object_size(map) == 0)
		return xstrdup("<none>");
	keys = sorted_keys(map, &n);
	strbuf_init(&sb, 64);
	for (size_t i = 0; i < n; i++) {
		const char *v = json_string_value(json_object_get(map, keys[i]));
		strbuf_addf(&sb, "%s%s=%s", i ? "," : "", keys[i], v ? v : "");
	}
	free(keys);
	return strbuf_detach(&sb, NULL);
}

static bool equal_or_empty(const json_t *a, const json_t *b)
{
	bool ea = !a || json_is_null(a) || (json_is_object(a) && !json_object_size(a)) ||
		  (json_is_array(a) && !json_array_size(a));
	bool eb = !b || json_is_null(b) || (json_is_object(b) && !json_object_size(b)) ||
		  (json_is_array(b) && !json_array_size(b));

	if (ea || eb)
		return ea && eb;
	return json_equal((json_t *)a, (json_t *)b);
}

bool selector_equal(const json_t *a, const json_t *b)
{
	if (!a || !b || json_is_null(a) || json_is_null(b))
		return (!a || json_is_null(a)) && (!b || json_is_null(b));
	return equal_or_empty(json_object_get(a, "matchLabels"), json_object_get(b, "matchLabels")) &&
	       equal_or_empty(json_object_get(a, "matchExpressions"), json_object_get(b, "matchExpressions"));
}

/* ---- quantities ------------------------------------------------------------ */

int quantity_parse(const char *s, double *out)
{
	static const struct {
		const char *suffix;
		double mult;
	} suffixes[] = {
		{ "Ki", 1024.0 }, { "Mi", 1048576.0 }, { "Gi", 1073741824.0 },
		{ "Ti", 1099511627776.0 }, { "Pi", 1125899906842624.0 }, { "Ei", 1152921504606846976.0 },
		{ "n", 1e-9 }, { "u", 1e-6 }, { "m", 1e-3 }, { "", 1 }, { "k", 1e3 }, { "M", 1e6 },
		{ "G", 1e9 }, { "T", 1e12 }, { "P", 1e15 }, { "E", 1e18 },
	};
	const char *p = s;
	int digits = 0, dots = 0;
	char *numstr, *end;
	double v;

	if (!s)
		return -1;
	if (*p == '+' || *p == '-')
		p++;
	for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
		if (*p == '.')
			dots++;
		else
			digits++;
	}
	if (!digits || dots > 1)
		return -1;
	numstr = xstrndup(s, (size_t)(p - s));
	v = strtod(numstr, &end);
	free(numstr);
	if (*p == 'e' || *p == 'E') {
		const char *q = p + 1;
		long ex;
		if (*q == '+' || *q == '-')
			q++;
		if (!(*q >= '0' && *q <= '9'))
			goto suffix; /* "1E" is exa, not an exponent */
		ex = strtol(p + 1, &end, 10);
		if (*end || ex > 308 || ex < -308)
			return -1;
		*out = v * pow(10.0, (double)ex);
		return 0;
	}
suffix:
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		if (!strcmp(p, suffixes[i].suffix)) {
			*out = v * suffixes[i].mult;
			return 0;
		}
	}
	return -1;
}

int quantity_parse_json(const json_t *v, double *out)
{
	if (json_is_string(v))
		return quantity_parse(json_string_value(v), out);
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 0;
	}
	return -1;
}

/* ---- addresses ----------------------------------------------------------- */

bool ip_valid(const char *s)
{
	unsigned char buf[16];

	if (!s || !*s)
		return false;
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

bool cidr_valid(const char *s)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	unsigned char buf[16];
	char *ip, *end;
	long bits;
	int max;

	if (!slash || !slash[1])
		return false;
	ip = xstrndup(s, (size_t)(slash - s));
	max = inet_pton(AF_INET, ip, buf) == 1 ? 32 : inet_pton(AF_INET6, ip, buf) == 1 ? 128 : -1;
	free(ip);
	bits = strtol(slash + 1, &end, 10);
	return max > 0 && !*end && bits >= 0 && bits <= max && isdigit((unsigned char)slash[1]);
}
