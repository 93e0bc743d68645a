/*
 * Label and field selectors as list and watch take them, parsed and matched
 * the way k8s.io/apimachinery's labels and fields packages do, with the same
 * error wording, so kubectl users see familiar messages. Label selectors also
 * come from metav1.LabelSelector objects (Deployment.spec.selector). The
 * apiserver, the informers and the controllers all match through here.
 */
#include "selector.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- label selectors ----------------------------------------------------- */

enum label_op {
	OP_EXISTS,
	OP_DOES_NOT_EXIST,
	OP_EQUALS,
	OP_DOUBLE_EQUALS,
	OP_NOT_EQUALS,
	OP_IN,
	OP_NOT_IN,
	OP_GT,
	OP_LT,
};

struct requirement {
	char *key;
	enum label_op op;
	char **values; /* sorted, without duplicates */
	size_t nvalues;
	int64_t number; /* OP_GT, OP_LT: the value as a number */
	size_t order;   /* position in the input, to keep the sort stable */
};

struct label_selector {
	struct requirement *reqs;
	size_t n;
};

static void requirement_release(struct requirement *r)
{
	free(r->key);
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
}

void label_selector_free(struct label_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++)
		requirement_release(&sel->reqs[i]);
	free(sel->reqs);
	free(sel);
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], the shape of label names and values. */
static bool is_qualified_part(const char *s, size_t len)
{
	if (len == 0 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return false;
	for (size_t i = 1; i + 1 < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)* */
static bool is_dns1123_subdomain(const char *s, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		/* label s[start, i) */
		if (i == start)
			return false;
		for (size_t j = start; j < i; j++) {
			char c = s[j];
			bool lower_alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

			if (!lower_alnum && !(c == '-' && j != start && j != i - 1))
				return false;
		}
		start = i + 1;
	}
	return true;
}

#define QNAME_MSG "must consist of alphanumeric characters, '-', '_' or '.', and must start and end " \
		  "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex " \
		  "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define DNS_MSG "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, " \
		"'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', " \
		"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define VALUE_MSG "a valid label must be an empty string or consist of alphanumeric characters, '-', " \
		  "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  " \
		  "or 'my_value',  or '12345', regex used for validation is " \
		  "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

static void add_problem(struct strbuf *sb, const char *msg)
{
	if (sb->len)
		strbuf_adds(sb, "; ");
	strbuf_adds(sb, msg);
}

/* validation.IsQualifiedName: "" when key is fine, else why not (new string). */
static char *check_label_key(const char *key)
{
	struct strbuf sb;
	const char *slash = strchr(key, '/');
	const char *name = key;

	strbuf_init(&sb, 0);
	if (slash && strchr(slash + 1, '/')) {
		add_problem(&sb, "a qualified name " QNAME_MSG
			    " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
		return strbuf_detach(&sb, NULL);
	}
	if (slash) {
		size_t plen = (size_t)(slash - key);

		if (plen == 0)
			add_problem(&sb, "prefix part must be non-empty");
		else if (plen > 253)
			add_problem(&sb, "prefix part must be no more than 253 characters");
		else if (!is_dns1123_subdomain(key, plen))
			add_problem(&sb, "prefix part " DNS_MSG);
		name = slash + 1;
	}
	if (!*name)
		add_problem(&sb, "name part must be non-empty");
	else if (strlen(name) > 63)
		add_problem(&sb, "name part must be no more than 63 characters");
	if (!is_qualified_part(name, strlen(name)))
		add_problem(&sb, "name part " QNAME_MSG);
	return strbuf_detach(&sb, NULL);
}

static char *check_label_value(const char *value, size_t len)
{
	struct strbuf sb;

	strbuf_init(&sb, 0);
	if (len > 63)
		add_problem(&sb, "must be no more than 63 characters");
	if (len && (strlen(value) != len || !is_qualified_part(value, len)))
		add_problem(&sb, VALUE_MSG);
	return strbuf_detach(&sb, NULL);
}

/* strconv.ParseInt(s, 10, 64) */
static bool parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s || !(*s == '+' || *s == '-' || (*s >= '0' && *s <= '9')))
		return false;
	if ((*s == '+' || *s == '-') && !(s[1] >= '0' && s[1] <= '9'))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and deduplicates r's values, as Kubernetes' string sets do. */
static void requirement_normalize(struct requirement *r)
{
	size_t n = 0;

	if (!r->nvalues)
		return;
	qsort(r->values, r->nvalues, sizeof(*r->values), cmp_str);
	for (size_t i = 0; i < r->nvalues; i++) {
		if (n && !strcmp(r->values[n - 1], r->values[i])) {
			free(r->values[i]);
			continue;
		}
		r->values[n++] = r->values[i];
	}
	r->nvalues = n;
}

/* labels.NewRequirement's checks. Returns NULL or a new message. */
static char *requirement_check(struct requirement *r, const char *values_path)
{
	struct strbuf sb;
	char *why;

	strbuf_init(&sb, 0);
	why = check_label_key(r->key);
	if (*why)
		strbuf_addf(&sb, "invalid label key \"%s\": %s", r->key, why);
	free(why);
	switch (r->op) {
	case OP_IN:
	case OP_NOT_IN:
		if (!r->nvalues) {
			add_problem(&sb, values_path);
			strbuf_adds(&sb, ": for 'in', 'notin' operators, values set can't be empty");
		}
		break;
	case OP_EQUALS:
	case OP_DOUBLE_EQUALS:
	case OP_NOT_EQUALS:
		if (r->nvalues != 1) {
			add_problem(&sb, values_path);
			strbuf_adds(&sb, ": exact-match compatibility requires one single value");
		}
		break;
	case OP_EXISTS:
	case OP_DOES_NOT_EXIST:
		if (r->nvalues) {
			add_problem(&sb, values_path);
			strbuf_adds(&sb, ": values set must be empty for exists and does not exist");
		}
		break;
	case OP_GT:
	case OP_LT:
		if (r->nvalues != 1) {
			add_problem(&sb, values_path);
			strbuf_adds(&sb, ": for 'Gt', 'Lt' operators, exactly one value is required");
		} else if (!parse_int64(r->values[0], &r->number)) {
			add_problem(&sb, values_path);
			strbuf_adds(&sb, ": for 'Gt', 'Lt' operators, the value must be an integer");
		}
		break;
	}
	for (size_t i = 0; i < r->nvalues; i++) {
		why = check_label_value(r->values[i], strlen(r->values[i]));
		if (*why) {
			if (sb.len)
				strbuf_adds(&sb, "; ");
			strbuf_addf(&sb, "invalid label value: \"%s\": at key: \"%s\": %s", r->values[i],
				    r->key, why);
		}
		free(why);
	}
	if (!sb.len) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

static int cmp_requirement(const void *a, const void *b)
{
	const struct requirement *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static struct requirement *selector_add(struct label_selector *sel, const char *key, enum label_op op)
{
	struct requirement *r;

	sel->reqs = xrealloc(sel->reqs, (sel->n + 1) * sizeof(*sel->reqs));
	r = &sel->reqs[sel->n];
	memset(r, 0, sizeof(*r));
	r->key = xstrdup(key);
	r->op = op;
	r->order = sel->n++;
	return r;
}

static void requirement_add_value(struct requirement *r, const char *value)
{
	r->values = xrealloc(r->values, (r->nvalues + 1) * sizeof(*r->values));
	r->values[r->nvalues++] = xstrdup(value);
}

/* -- the string form: a lexer and parser shaped like apimachinery's -- */

enum token {
	T_ERROR,
	T_END,
	T_IDENT,
	T_OPEN,
	T_CLOSE,
	T_COMMA,
	T_NOT,
	T_EQ,
	T_DEQ,
	T_NEQ,
	T_IN,
	T_NOTIN,
	T_GT,
	T_LT,
};

struct token_item {
	enum token tok;
	char *lit;
};

/* Whether "in" and "notin" are keywords here or plain identifiers. */
enum lex_context { CTX_KEY_AND_OPERATOR, CTX_VALUES };

struct label_parser {
	struct token_item *items;
	size_t n, pos;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
	return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

static enum token special_token(const char *s, size_t len)
{
	if (len == 2)
		return s[1] != '=' ? T_ERROR : s[0] == '=' ? T_DEQ : s[0] == '!' ? T_NEQ : T_ERROR;
	switch (s[0]) {
	case '=':
		return T_EQ;
	case '!':
		return T_NOT;
	case '(':
		return T_OPEN;
	case ')':
		return T_CLOSE;
	case ',':
		return T_COMMA;
	case '>':
		return T_GT;
	default:
		return T_LT;
	}
}

static void lex_all(struct label_parser *p, const char *s)
{
	size_t alloc = 0;

	for (;;) {
		struct token_item it;
		size_t len;

		while (is_space(*s))
			s++;
		if (!*s) {
			it.tok = T_END;
			it.lit = xstrdup("");
		} else if (is_special(*s)) {
			/* longest special token: "==" and "!=" */
			len = is_special(s[1]) && special_token(s, 2) != T_ERROR ? 2 : 1;
			it.tok = special_token(s, len);
			it.lit = xstrndup(s, len);
			s += len;
		} else {
			for (len = 0; s[len] && !is_special(s[len]) && !is_space(s[len]); len++)
				;
			it.lit = xstrndup(s, len);
			it.tok = !strcmp(it.lit, "in") ? T_IN : !strcmp(it.lit, "notin") ? T_NOTIN : T_IDENT;
			s += len;
		}
		if (p->n == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			p->items = xrealloc(p->items, alloc * sizeof(*p->items));
		}
		p->items[p->n++] = it;
		if (it.tok == T_END)
			return;
	}
}

static enum token lookahead(struct label_parser *p, enum lex_context ctx, const char **lit)
{
	struct token_item *it = &p->items[p->pos];

	if (lit)
		*lit = it->lit;
	if (ctx == CTX_VALUES && (it->tok == T_IN || it->tok == T_NOTIN))
		return T_IDENT;
	return it->tok;
}

static enum token consume(struct label_parser *p, enum lex_context ctx, const char **lit)
{
	enum token t = lookahead(p, ctx, lit);

	if (p->pos + 1 < p->n)
		p->pos++;
	return t;
}

static char *parse_values(struct label_parser *p, struct requirement *r)
{
	const char *lit, *lit2;
	enum token t;

	if (consume(p, CTX_VALUES, &lit) != T_OPEN)
		return xasprintf("found '%s' expected: '('", lit);
	t = lookahead(p, CTX_VALUES, &lit);
	if (t == T_CLOSE) { /* "()" is the set with one empty value */
		consume(p, CTX_VALUES, NULL);
		requirement_add_value(r, "");
		return NULL;
	}
	if (t != T_IDENT && t != T_COMMA)
		return xasprintf("found '%s', expected: ',', ')' or identifier", lit);
	for (;;) {
		t = consume(p, CTX_VALUES, &lit);
		if (t == T_IDENT) {
			requirement_add_value(r, lit);
			t = lookahead(p, CTX_VALUES, &lit2);
			if (t == T_COMMA)
				continue;
			if (t == T_CLOSE)
				break;
			return xasprintf("found '%s', expected: ',' or ')'", lit2);
		} else if (t == T_COMMA) {
			/* empty values around commas: "(,a)", "(a,)", "(a,,b)" */
			if (!r->nvalues)
				requirement_add_value(r, "");
			t = lookahead(p, CTX_VALUES, NULL);
			if (t == T_CLOSE) {
				requirement_add_value(r, "");
				break;
			}
			if (t == T_COMMA) {
				consume(p, CTX_VALUES, NULL);
				requirement_add_value(r, "");
			}
		} else {
			return xasprintf("found '%s', expected: ',', or identifier", lit);
		}
	}
	if (consume(p, CTX_VALUES, &lit) != T_CLOSE)
		return xasprintf("found '%s', expected: ')'", lit);
	return NULL;
}

/* One requirement; on error returns the message (without the "unable to
 * parse requirement: " that the caller adds). */
static char *parse_requirement(struct label_parser *p, struct label_selector *sel)
{
	const char *lit;
	enum token t;
	bool not = false;
	struct requirement *r;
	enum label_op op;
	char *why;

	t = consume(p, CTX_VALUES, &lit);
	if (t == T_NOT) {
		not = true;
		t = consume(p, CTX_VALUES, &lit);
	}
	if (t != T_IDENT)
		return xasprintf("found '%s', expected: identifier", lit);
	why = check_label_key(lit);
	if (*why) {
		char *msg = xasprintf("invalid label key \"%s\": %s", lit, why);

		free(why);
		return msg;
	}
	free(why);
	t = lookahead(p, CTX_VALUES, NULL);
	if (not || t == T_END || t == T_COMMA) {
		r = selector_add(sel, lit, not ? OP_DOES_NOT_EXIST : OP_EXISTS);
		return requirement_check(r, "values");
	}
	r = selector_add(sel, lit, OP_EXISTS);
	switch (consume(p, CTX_KEY_AND_OPERATOR, &lit)) {
	case T_IN:
		op = OP_IN;
		break;
	case T_NOTIN:
		op = OP_NOT_IN;
		break;
	case T_EQ:
		op = OP_EQUALS;
		break;
	case T_DEQ:
		op = OP_DOUBLE_EQUALS;
		break;
	case T_NEQ:
		op = OP_NOT_EQUALS;
		break;
	case T_GT:
		op = OP_GT;
		break;
	case T_LT:
		op = OP_LT;
		break;
	default:
		return xasprintf("found '%s', expected: in, notin, =, ==, !=, gt, lt", lit);
	}
	r->op = op;
	if (op == OP_IN || op == OP_NOT_IN) {
		if ((why = parse_values(p, r)))
			return why;
	} else {
		t = lookahead(p, CTX_VALUES, NULL);
		if (t == T_END || t == T_COMMA) {
			requirement_add_value(r, "");
		} else if (consume(p, CTX_VALUES, &lit) == T_IDENT) {
			requirement_add_value(r, lit);
		} else {
			return xasprintf("found '%s', expected: identifier", lit);
		}
	}
	requirement_normalize(r);
	return requirement_check(r, "values");
}

static char *parse_selector(struct label_parser *p, struct label_selector *sel)
{
	const char *lit;
	enum token t;
	char *why;

	for (;;) {
		t = lookahead(p, CTX_VALUES, &lit);
		if (t == T_END)
			return NULL;
		if (t != T_IDENT && t != T_NOT)
			return xasprintf("found '%s', expected: !, identifier, or 'end of string'", lit);
		if ((why = parse_requirement(p, sel))) {
			char *msg = xasprintf("unable to parse requirement: %s", why);

			free(why);
			return msg;
		}
		t = consume(p, CTX_VALUES, &lit);
		if (t == T_END)
			return NULL;
		if (t != T_COMMA)
			return xasprintf("found '%s', expected: ',' or 'end of string'", lit);
		t = lookahead(p, CTX_VALUES, &lit);
		if (t != T_IDENT && t != T_NOT)
			return xasprintf("found '%s', expected: identifier after ','", lit);
	}
}

static void selector_sort(struct label_selector *sel)
{
	if (sel->n > 1)
		qsort(sel->reqs, sel->n, sizeof(*sel->reqs), cmp_requirement);
	for (size_t i = 0; i < sel->n; i++)
		sel->reqs[i].order = i;
}

static int finish(struct label_selector *sel, char *why, struct label_selector **out, char **err)
{
	if (why) {
		label_selector_free(sel);
		*out = NULL;
		if (err)
			*err = why;
		else
			free(why);
		return -1;
	}
	selector_sort(sel);
	*out = sel;
	if (err)
		*err = NULL;
	return 0;
}

int label_selector_parse(const char *s, struct label_selector **out, char **err)
{
	struct label_selector *sel = xcalloc(1, sizeof(*sel));
	struct label_parser p = { 0 };
	char *why;

	lex_all(&p, s ? s : "");
	why = parse_selector(&p, sel);
	for (size_t i = 0; i < p.n; i++)
		free(p.items[i].lit);
	free(p.items);
	return finish(sel, why, out, err);
}

/* -- the object form: metav1.LabelSelector -- */

static char *expression_add(struct label_selector *sel, const json_t *expr, size_t idx)
{
	const json_t *key = json_object_get(expr, "key");
	const json_t *op = json_object_get(expr, "operator");
	const json_t *values = json_object_get(expr, "values");
	const char *ops;
	struct requirement *r;
	char path[64];
	enum label_op lop;
	size_t i;
	json_t *v;

	if (!json_is_object(expr))
		return xasprintf("matchExpressions[%zu]: must be an object", idx);
	if (!json_is_string(key))
		return xasprintf("matchExpressions[%zu].key: must be a string", idx);
	ops = json_is_string(op) ? json_string_value(op) : "";
	if (!strcmp(ops, "In"))
		lop = OP_IN;
	else if (!strcmp(ops, "NotIn"))
		lop = OP_NOT_IN;
	else if (!strcmp(ops, "Exists"))
		lop = OP_EXISTS;
	else if (!strcmp(ops, "DoesNotExist"))
		lop = OP_DOES_NOT_EXIST;
	else
		return xasprintf("\"%s\" is not a valid label selector operator", ops);
	if (values && !json_is_null(values) && !json_is_array(values))
		return xasprintf("matchExpressions[%zu].values: must be a list of strings", idx);
	r = selector_add(sel, json_string_value(key), lop);
	json_array_foreach(values, i, v) {
		if (!json_is_string(v))
			return xasprintf("matchExpressions[%zu].values[%zu]: must be a string", idx, i);
		requirement_add_value(r, json_string_value(v));
	}
	requirement_normalize(r);
	snprintf(path, sizeof(path), "matchExpressions[%zu].values", idx);
	return requirement_check(r, path);
}

static char *from_json(struct label_selector *sel, const json_t *js)
{
	const json_t *labels, *exprs, *v;
	const char *key;
	size_t i;
	char *why;

	if (!json_is_object(js))
		return xstrdup("label selector must be an object with matchLabels and matchExpressions");
	labels = json_object_get(js, "matchLabels");
	exprs = json_object_get(js, "matchExpressions");
	if (labels && !json_is_null(labels)) {
		if (!json_is_object(labels))
			return xstrdup("matchLabels: must be an object of strings");
		json_object_foreach((json_t *)labels, key, v) {
			struct requirement *r;

			if (!json_is_string(v))
				return xasprintf("matchLabels.%s: must be a string", key);
			r = selector_add(sel, key, OP_EQUALS);
			requirement_add_value(r, json_string_value(v));
			if (strlen(json_string_value(v)) != json_string_length(v))
				return xasprintf("invalid label value at key \"%s\": it contains a NUL byte", key);
			if ((why = requirement_check(r, "values")))
				return why;
		}
	}
	if (exprs && !json_is_null(exprs)) {
		if (!json_is_array(exprs))
			return xstrdup("matchExpressions: must be a list");
		json_array_foreach(exprs, i, v) {
			if ((why = expression_add(sel, v, i)))
				return why;
		}
	}
	return NULL;
}

int label_selector_from_json(const json_t *js, struct label_selector **out, char **err)
{
	struct label_selector *sel = xcalloc(1, sizeof(*sel));

	return finish(sel, js ? from_json(sel, js) : NULL, out, err);
}

/* -- use -- */

static bool has_value(const struct requirement *r, const char *v)
{
	return bsearch(&v, r->values, r->nvalues, sizeof(*r->values), cmp_str) != NULL;
}

/* present: the label exists; s: its value when it is a string (the
 * apiserver never stores another kind, which would equal nothing). */
static bool requirement_matches_value(const struct requirement *r, bool present, const char *s)
{
	int64_t n;

	switch (r->op) {
	case OP_EXISTS:
		return present;
	case OP_DOES_NOT_EXIST:
		return !present;
	case OP_EQUALS:
	case OP_DOUBLE_EQUALS:
	case OP_IN:
		return s && has_value(r, s);
	case OP_NOT_EQUALS:
	case OP_NOT_IN:
		return !(s && has_value(r, s));
	case OP_GT:
	case OP_LT:
		if (!s || !parse_int64(s, &n))
			return false;
		return r->op == OP_GT ? n > r->number : n < r->number;
	}
	return false;
}

bool label_selector_matches(const struct label_selector *sel, const json_t *labels)
{
	if (!sel)
		return true;
	for (size_t i = 0; i < sel->n; i++) {
		const json_t *v = json_is_object(labels) ? json_object_get(labels, sel->reqs[i].key) : NULL;

		if (!requirement_matches_value(&sel->reqs[i], v != NULL, json_string_value(v)))
			return false;
	}
	return true;
}

bool label_selector_matches_pairs(const struct label_selector *sel, const char *const *kv, size_t n)
{
	if (!sel)
		return true;
	for (size_t i = 0; i < sel->n; i++) {
		const char *v = NULL;

		for (size_t j = 0; j < n && !v; j++)
			if (!strcmp(kv[2 * j], sel->reqs[i].key))
				v = kv[2 * j + 1];
		if (!requirement_matches_value(&sel->reqs[i], v != NULL, v))
			return false;
	}
	return true;
}

bool label_selector_empty(const struct label_selector *sel)
{
	return !sel || sel->n == 0;
}

char *label_selector_string(const struct label_selector *sel)
{
	static const char *const ops[] = {
		[OP_EXISTS] = "", [OP_DOES_NOT_EXIST] = "", [OP_EQUALS] = "=",
		[OP_DOUBLE_EQUALS] = "==", [OP_NOT_EQUALS] = "!=", [OP_IN] = " in ",
		[OP_NOT_IN] = " notin ", [OP_GT] = ">", [OP_LT] = "<",
	};
	struct strbuf sb;

	strbuf_init(&sb, 64);
	for (size_t i = 0; sel && i < sel->n; i++) {
		const struct requirement *r = &sel->reqs[i];
		bool set = r->op == OP_IN || r->op == OP_NOT_IN;

		if (i)
			strbuf_addc(&sb, ',');
		if (r->op == OP_DOES_NOT_EXIST)
			strbuf_addc(&sb, '!');
		strbuf_adds(&sb, r->key);
		if (r->op == OP_EXISTS || r->op == OP_DOES_NOT_EXIST)
			continue;
		strbuf_adds(&sb, ops[r->op]);
		if (set)
			strbuf_addc(&sb, '(');
		for (size_t j = 0; j < r->nvalues; j++) {
			if (j)
				strbuf_addc(&sb, ',');
			strbuf_adds(&sb, r->values[j]);
		}
		if (set)
			strbuf_addc(&sb, ')');
	}
	return strbuf_detach(&sb, NULL);
}

/* ---- field selectors ----------------------------------------------------- */

struct field_term {
	char *field;
	char *value;
	bool not_equal;
};

struct field_selector {
	struct field_term *terms;
	size_t n;
};

void field_selector_free(struct field_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n; i++) {
		free(sel->terms[i].field);
		free(sel->terms[i].value);
	}
	free(sel->terms);
	free(sel);
}

/* Length of the UTF-8 sequence that starts with c (1 for a stray byte). */
static size_t utf8_len(unsigned char c)
{
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/* fields.UnescapeValue: "\\", "\," and "\=" are the only escapes, and a
 * bare ',' or '=' is an error. Returns 0, or -1 with *err set. */
static int unescape_value(const char *s, size_t len, char **out, char **err)
{
	struct strbuf sb;

	strbuf_init(&sb, len);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\\') {
			if (i + 1 == len) {
				*err = xstrdup("invalid field selector: invalid escape sequence: \\");
				goto fail;
			}
			c = s[++i];
			if (c != '\\' && c != ',' && c != '=') {
				size_t n = utf8_len((unsigned char)c);

				if (n > len - i)
					n = len - i;
				*err = xasprintf("invalid field selector: invalid escape sequence: \\%.*s",
						 (int)n, s + i);
				goto fail;
			}
		} else if (c == ',' || c == '=') {
			*err = xasprintf("invalid field selector: unescaped character in value: %c", c);
			goto fail;
		}
		strbuf_addc(&sb, c);
	}
	*out = strbuf_detach(&sb, NULL);
	return 0;
fail:
	strbuf_release(&sb);
	return -1;
}

struct span {
	const char *s;
	size_t len;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

int field_selector_parse(const char *s, struct field_selector **out, char **err)
{
	struct field_selector *sel = xcalloc(1, sizeof(*sel));
	struct span *parts = NULL;
	size_t nparts = 0, start = 0, len = s ? strlen(s) : 0;
	bool in_slash = false;
	char *why = NULL;

	/* Terms split at commas that are not escaped; the escapes stay. */
	parts = xmalloc((len + 1) * sizeof(*parts));
	for (size_t i = 0; len && i <= len; i++) {
		if (i < len && in_slash) {
			in_slash = false;
		} else if (i < len && s[i] == '\\') {
			in_slash = true;
		} else if (i == len || s[i] == ',') {
			parts[nparts].s = s + start;
			parts[nparts++].len = i - start;
			start = i + 1;
		}
	}
	qsort(parts, nparts, sizeof(*parts), cmp_span);
	for (size_t i = 0; i < nparts; i++) {
		const char *p = parts[i].s;
		size_t plen = parts[i].len, j, oplen = 0;
		struct field_term *t;
		char *value;

		if (!plen)
			continue;
		/* The first operator splits: no escapes on the field side. */
		for (j = 0; j < plen; j++) {
			if (j + 1 < plen && (p[j] == '!' || p[j] == '=') && p[j + 1] == '=') {
				oplen = 2;
				break;
			}
			if (p[j] == '=') {
				oplen = 1;
				break;
			}
		}
		if (!oplen) {
			why = xasprintf("invalid selector: '%s'; can't understand '%.*s'", s, (int)plen, p);
			break;
		}
		if (unescape_value(p + j + oplen, plen - j - oplen, &value, &why))
			break;
		sel->terms = xrealloc(sel->terms, (sel->n + 1) * sizeof(*sel->terms));
		t = &sel->terms[sel->n++];
		t->field = xstrndup(p, j);
		t->value = value;
		t->not_equal = p[j] == '!';
	}
	free(parts);
	if (why) {
		field_selector_free(sel);
		*out = NULL;
		if (err)
			*err = why;
		else
			free(why);
		return -1;
	}
	*out = sel;
	if (err)
		*err = NULL;
	return 0;
}

bool field_selector_matches(const struct field_selector *sel,
			    const char *(*get)(const char *field, void *ctx), void *ctx)
{
	for (size_t i = 0; i < sel->n; i++) {
		const char *v = get(sel->terms[i].field, ctx);

		if (!v)
			return false;
		if ((strcmp(v, sel->terms[i].value) == 0) == sel->terms[i].not_equal)
			return false;
	}
	return true;
}

const char *field_selector_field(const struct field_selector *sel, int i)
{
	return i >= 0 && (size_t)i < sel->n ? sel->terms[i].field : NULL;
}

const char *field_selector_exact(const struct field_selector *sel, const char *field)
{
	for (size_t i = 0; i < sel->n; i++)
		if (!sel->terms[i].not_equal && !strcmp(sel->terms[i].field, field))
			return sel->terms[i].value;
	return NULL;
}

bool field_selector_empty(const struct field_selector *sel)
{
	return sel->n == 0;
}
