/*
 * YAML <-> JSON for manifests (minictl apply/create, -o yaml) and YAML request
 * bodies. Decoding runs libyaml's event parser and builds jansson values on an
 * explicit stack, so deep input cannot overflow the C stack; plain scalars
 * resolve as go-yaml v2 does for kubectl (sigs.k8s.io/yaml). Encoding drives
 * libyaml's emitter, which already prints the block layout kubectl prints;
 * we only pick each string's quoting so that decoding gives the value back.
 */
#include "yaml.h"
#include "util.h"

/* Our own yaml.h shadows libyaml's on the include path (-Isrc/core), so
 * reach libyaml's header relative to the system include directory. */
#include <../include/yaml.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Nesting deeper than this is refused (also through aliases), which keeps
 * every recursive walk over the result (ours and jansson's) shallow.
 */
#define MAX_DEPTH 1000
/*
 * Literal nodes cost at least a byte of input each, so only what aliases
 * copy can make a small input huge: many nodes ("billion laughs") or one
 * long string many times. Real manifests copy a few hundred nodes at most.
 * Both bounds hold for the whole stream.
 */
#define MAX_ALIAS_NODES 100000
#define MAX_ALIAS_BYTES (8 * 1024 * 1024)

#define TAG_PREFIX "tag:yaml.org,2002:"

/* ---- scalar resolution (go-yaml v2's resolve table) ----------------------
 *
 * Where JSON or jansson cannot follow kubectl exactly, we choose:
 * - .inf/.nan values are an error, as json.Marshal fails on them in kubectl;
 *   as mapping keys they are the strings ".inf", "-.inf", ".nan".
 * - floats stay reals even when integral (1e3 is 1000.0, not 1000), so that
 *   encode and decode round-trip; unsigned integers above INT64_MAX, which
 *   go-yaml keeps as uint64, become reals.
 * - !!binary stays the base64 text (go-yaml would decode it); !!null is null
 *   whatever the text; unknown tags give strings.
 * - merge keys follow the YAML spec (explicit keys win, earlier merges win),
 *   and merged keys take the place of the "<<" in key order.
 */

enum scalar_kind {
	SK_STR,
	SK_NULL,
	SK_BOOL,
	SK_INT,
	SK_UINT,   /* above INT64_MAX: go-yaml gives a uint64, we give a real */
	SK_FLOAT,
	SK_INF_NAN, /* .inf/.nan: no JSON form; fine as a mapping key only */
};

struct resolved {
	enum scalar_kind kind;
	bool b;
	int64_t i;
	uint64_t u;
	double d;
};

static const char *const true_words[] = { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
					  "on", "On", "ON" };
static const char *const false_words[] = { "n", "N", "no", "No", "NO", "false", "False", "FALSE",
					   "off", "Off", "OFF" };
static const char *const null_words[] = { "~", "null", "Null", "NULL" };
static const char *const nan_words[] = { ".nan", ".NaN", ".NAN" };
static const char *const inf_words[] = { ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF" };
static const char *const neg_inf_words[] = { "-.inf", "-.Inf", "-.INF" };

static bool word_in(const char *s, size_t len, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(words[i]) == len && !memcmp(words[i], s, len))
			return true;
	return false;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/*
 * strconv.ParseInt(s, 0, 64), then ParseUint for unsigned values above
 * INT64_MAX: optional sign, 0x/0o/0b or a leading 0 for octal. Returns
 * SK_INT, SK_UINT, or SK_STR when s is not such an integer (or overflows).
 */
static enum scalar_kind parse_go_int(const char *s, size_t len, struct resolved *r)
{
	size_t i = 0;
	bool neg = false, sign = false;
	unsigned base = 10;
	uint64_t v = 0;

	if (i < len && (s[i] == '+' || s[i] == '-')) {
		neg = s[i] == '-';
		sign = true;
		i++;
	}
	if (len - i >= 2 && s[i] == '0') {
		char c = (char)(s[i + 1] | 0x20);

		if (c == 'x' || c == 'o' || c == 'b') {
			base = c == 'x' ? 16 : c == 'o' ? 8 : 2;
			i += 2;
		} else {
			base = 8;
			i++;
		}
	}
	if (i == len)
		return SK_STR;
	for (; i < len; i++) {
		unsigned d = (unsigned)digit_value(s[i]);

		if (d >= base)
			return SK_STR;
		if (v > (UINT64_MAX - d) / base)
			return SK_STR;
		v = v * base + d;
	}
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return SK_STR;
		r->i = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
		return SK_INT;
	}
	if (v <= (uint64_t)INT64_MAX) {
		r->i = (int64_t)v;
		return SK_INT;
	}
	if (sign) /* ParseUint takes no sign */
		return SK_STR;
	r->u = v;
	return SK_UINT;
}

/* go-yaml's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool is_yaml_float(const char *s, size_t len)
{
	size_t i = 0, n;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i < len && s[i] == '.') {
		i++;
		for (n = 0; i < len && is_digit(s[i]); i++)
			n++;
		if (!n)
			return false;
	} else {
		for (n = 0; i < len && is_digit(s[i]); i++)
			n++;
		if (!n)
			return false;
		if (i < len && s[i] == '.')
			for (i++; i < len && is_digit(s[i]); i++)
				;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (n = 0; i < len && is_digit(s[i]); i++)
			n++;
		if (!n)
			return false;
	}
	return i == len;
}

/* strtod on a well-formed float; false when it overflows (Go's ParseFloat
 * then fails with ErrRange and go-yaml keeps the string). */
static bool parse_float(const char *s, size_t len, double *out)
{
	char *tmp = xstrndup(s, len);
	double d;

	errno = 0;
	d = strtod(tmp, NULL);
	free(tmp);
	if (isinf(d))
		return false;
	*out = d;
	return true;
}

/* Copy of s without underscores. For '.'-led floats Go's ParseFloat only
 * allows them between digits; the digit-led path strips them all. */
static char *strip_underscores(const char *s, size_t len, bool strict, size_t *out_len)
{
	char *p = xmalloc(len + 1);
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '_') {
			p[n++] = s[i];
			continue;
		}
		if (strict && !(i > 0 && is_digit(s[i - 1]) && i + 1 < len && is_digit(s[i + 1]))) {
			free(p);
			return NULL;
		}
	}
	p[n] = '\0';
	*out_len = n;
	return p;
}

/* Resolves an untagged plain scalar exactly as go-yaml v2's resolve("", s). */
static enum scalar_kind resolve_plain(const char *s, size_t len, struct resolved *r)
{
	char *plain;
	size_t plen;

	memset(r, 0, sizeof(*r));
	if (len == 0 || word_in(s, len, null_words, ARRAY_SIZE(null_words)))
		return r->kind = SK_NULL;
	if (word_in(s, len, true_words, ARRAY_SIZE(true_words))) {
		r->b = true;
		return r->kind = SK_BOOL;
	}
	if (word_in(s, len, false_words, ARRAY_SIZE(false_words)))
		return r->kind = SK_BOOL;
	if (word_in(s, len, nan_words, ARRAY_SIZE(nan_words))) {
		r->d = NAN;
		return r->kind = SK_INF_NAN;
	}
	if (word_in(s, len, inf_words, ARRAY_SIZE(inf_words))) {
		r->d = INFINITY;
		return r->kind = SK_INF_NAN;
	}
	if (word_in(s, len, neg_inf_words, ARRAY_SIZE(neg_inf_words))) {
		r->d = -INFINITY;
		return r->kind = SK_INF_NAN;
	}
	r->kind = SK_STR;
	if (s[0] == '.') {
		plain = strip_underscores(s, len, true, &plen);
		if (!plain)
			return SK_STR;
		if (is_yaml_float(plain, plen) && parse_float(plain, plen, &r->d))
			r->kind = SK_FLOAT;
		free(plain);
		return r->kind;
	}
	if (!is_digit(s[0]) && s[0] != '+' && s[0] != '-')
		return SK_STR;
	plain = strip_underscores(s, len, false, &plen);
	r->kind = parse_go_int(plain, plen, r);
	if (r->kind == SK_STR && is_yaml_float(plain, plen) && parse_float(plain, plen, &r->d))
		r->kind = SK_FLOAT;
	free(plain);
	return r->kind;
}

/*
 * go-yaml also quotes YAML 1.1 sexagesimal numbers ("1:20") on output so
 * that older parsers do not read them as numbers; so do we.
 * ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
 */
static bool is_base60_float(const char *s, size_t len)
{
	size_t i = 0, groups = 0;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i >= len || !is_digit(s[i]))
		return false;
	for (i++; i < len && (is_digit(s[i]) || s[i] == '_'); i++)
		;
	while (i < len && s[i] == ':') {
		i++;
		if (i + 1 < len && s[i] >= '0' && s[i] <= '5' && is_digit(s[i + 1]))
			i += 2;
		else if (i < len && is_digit(s[i]))
			i++;
		else
			return false;
		groups++;
	}
	if (!groups)
		return false;
	if (i < len && s[i] == '.')
		for (i++; i < len && (is_digit(s[i]) || s[i] == '_'); i++)
			;
	return i == len;
}

/*
 * A float as a mapping key, as sigs.k8s.io/yaml spells it:
 * strconv.FormatFloat(f, 'g', -1, 32), with .inf/-.inf/.nan.
 */
static void format_float_key(double d, char *buf, size_t size)
{
	float f = (float)d;
	char tmp[64];
	int digits, exp;
	const char *e;

	if (isnan(f)) {
		snprintf(buf, size, ".nan");
		return;
	}
	if (isinf(f)) {
		snprintf(buf, size, f > 0 ? ".inf" : "-.inf");
		return;
	}
	for (digits = 1; digits < 9; digits++) {
		snprintf(tmp, sizeof(tmp), "%.*e", digits - 1, (double)f);
		if ((float)strtod(tmp, NULL) == f)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", digits - 1, (double)f);
	e = strchr(tmp, 'e');
	exp = e ? atoi(e + 1) : 0;
	if (exp < -4 || exp >= 6)
		snprintf(buf, size, "%s", tmp);
	else
		snprintf(buf, size, "%.*f", digits - 1 - exp > 0 ? digits - 1 - exp : 0, (double)f);
}

/* ---- decoding ------------------------------------------------------------ */

/* A finished node on its way into its parent. */
struct node {
	json_t *value;     /* new reference; NULL when value_err says why it has none */
	char *value_err;
	char *key;         /* non-string scalars: their form as a mapping key */
	size_t key_len;
	bool merge;        /* a plain "<<" */
	size_t nodes;      /* nodes in this subtree, alias copies included */
	size_t bytes;      /* scalar text in this subtree, keys included */
	int height;        /* nesting levels below it: 0 for a scalar */
	yaml_mark_t mark;
};

struct anchor {
	struct node node; /* node.value NULL and !value_err while still open */
	bool open;
};

struct merge {
	size_t pos;   /* explicit keys seen before the "<<" */
	json_t *from; /* the mapping merged in */
};

/* An open mapping or sequence. */
struct frame {
	json_t *value;
	char *anchor;
	bool is_map;
	size_t nodes;
	size_t bytes;
	int height;
	yaml_mark_t mark;
	/* mappings only */
	bool have_key;
	char *key;
	size_t key_len;
	bool key_merge;
	yaml_mark_t key_mark;
	json_t *key_lines; /* explicit key -> line of its first definition */
	struct merge *merges;
	size_t nmerges;
};

struct decoder {
	yaml_parser_t parser;
	const char *buf;
	size_t len;
	struct yaml_error *err;

	struct frame *stack;
	int depth;
	int stack_alloc;

	json_t *anchor_index; /* name -> index into anchors */
	struct anchor *anchors;
	size_t nanchors, anchors_alloc;
	size_t alias_nodes;
	size_t alias_bytes;

	int doc_index;     /* documents started so far */
	bool in_doc;
	struct node root;
	bool have_root;
	bool root_empty;

	json_t *docs;
	int *lines;
	size_t nlines, lines_alloc;
};

/* Keys may hold NUL bytes ("\0" in double quotes), so no strndup. */
static char *memdup0(const char *s, size_t len)
{
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static void node_release(struct node *n)
{
	json_decref(n->value);
	free(n->value_err);
	free(n->key);
	memset(n, 0, sizeof(*n));
}

static int fail_at(struct decoder *d, int line, int column, const char *fmt, ...) PRINTF_LIKE(4, 5);

static int fail_at(struct decoder *d, int line, int column, const char *fmt, ...)
{
	va_list ap;

	if (!d->err)
		return -1;
	d->err->line = line;
	d->err->column = column;
	d->err->document = d->in_doc ? d->doc_index : d->doc_index + 1;
	va_start(ap, fmt);
	vsnprintf(d->err->message, sizeof(d->err->message), fmt, ap);
	va_end(ap);
	return -1;
}

#define fail(d, mark, ...) fail_at((d), (int)(mark).line + 1, (int)(mark).column + 1, __VA_ARGS__)

/* libyaml's own error, converted at the edge. */
static int parser_fail(struct decoder *d)
{
	yaml_parser_t *p = &d->parser;
	const char *problem = p->problem ? p->problem : "unknown problem parsing YAML content";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return fail_at(d, 0, 0, "out of memory while parsing YAML");
	case YAML_READER_ERROR: {
		/* Reader errors carry a byte offset, not a mark. */
		int line = 1, col = 1;

		for (size_t i = 0; i < p->problem_offset && i < d->len; i++) {
			if (d->buf[i] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)d->buf[i] & 0xc0) != 0x80) {
				col++;
			}
		}
		return fail_at(d, line, col, "%s", problem);
	}
	default:
		return fail(d, p->problem_mark, "%s", problem);
	}
}

static bool tag_is(const char *tag, const char *name)
{
	return str_has_prefix(tag, TAG_PREFIX) && !strcmp(tag + strlen(TAG_PREFIX), name);
}

static const char *kind_tag(enum scalar_kind k)
{
	switch (k) {
	case SK_NULL:
		return "!!null";
	case SK_BOOL:
		return "!!bool";
	case SK_INT:
	case SK_UINT:
		return "!!int";
	case SK_FLOAT:
	case SK_INF_NAN:
		return "!!float";
	default:
		return "!!str";
	}
}

static int scalar_to_node(struct decoder *d, const yaml_event_t *ev, struct node *n)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	struct resolved r = { .kind = SK_STR };
	char buf[64];

	n->nodes = 1;
	n->bytes = len;
	n->mark = ev->start_mark;
	if (!tag) {
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
			resolve_plain(s, len, &r);
			n->merge = len == 2 && !memcmp(s, "<<", 2);
		}
	} else if (tag_is(tag, "null")) {
		r.kind = SK_NULL;
	} else if (tag_is(tag, "bool") || tag_is(tag, "int") || tag_is(tag, "float")) {
		const char *want = tag + strlen(TAG_PREFIX);
		bool ok;

		resolve_plain(s, len, &r);
		if (!strcmp(want, "bool")) {
			ok = r.kind == SK_BOOL;
		} else if (!strcmp(want, "int")) {
			ok = r.kind == SK_INT || r.kind == SK_UINT;
		} else {
			ok = r.kind == SK_FLOAT || r.kind == SK_INF_NAN || r.kind == SK_INT ||
			     r.kind == SK_UINT;
			if (r.kind == SK_INT)
				r.d = (double)r.i;
			if (r.kind == SK_INT || r.kind == SK_UINT) {
				if (r.kind == SK_UINT)
					r.d = (double)r.u;
				r.kind = SK_FLOAT;
			}
		}
		if (!ok)
			return fail(d, ev->start_mark, "cannot decode %s `%.*s` as a !!%s",
				    kind_tag(r.kind), (int)(len > 100 ? 100 : len), s, want);
	} else if (tag_is(tag, "merge") && len == 2 && !memcmp(s, "<<", 2)) {
		n->merge = true;
	}
	/* Anything else (quoted, block, !!str, !!binary, unknown tags) is a string. */

	switch (r.kind) {
	case SK_NULL:
		n->value = json_null();
		return 0;
	case SK_BOOL:
		n->value = json_boolean(r.b);
		n->key = xstrdup(r.b ? "true" : "false");
		break;
	case SK_INT:
		n->value = json_integer(r.i);
		n->key = xasprintf("%" PRId64, r.i);
		break;
	case SK_UINT:
		n->value = json_real((double)r.u);
		n->key = xasprintf("%" PRIu64, r.u);
		break;
	case SK_FLOAT:
		n->value = json_real(r.d);
		format_float_key(r.d, buf, sizeof(buf));
		n->key = xstrdup(buf);
		break;
	case SK_INF_NAN:
		n->value_err = xasprintf("cannot represent '%.*s' in JSON; quote it to keep it as a string",
					 (int)(len > 100 ? 100 : len), s);
		format_float_key(r.d, buf, sizeof(buf));
		n->key = xstrdup(buf);
		break;
	case SK_STR:
		/* its key form is the string itself, made when needed */
		n->value = json_stringn(s, len);
		if (!n->value)
			return fail(d, ev->start_mark, "string is not valid UTF-8");
		return 0;
	}
	n->key_len = strlen(n->key);
	return 0;
}

static struct anchor *anchor_find(struct decoder *d, const char *name)
{
	json_t *idx = json_object_get(d->anchor_index, name);

	return idx ? &d->anchors[json_integer_value(idx)] : NULL;
}

/* Defines (or redefines: the latest definition wins) an anchor. An open
 * anchor belongs to a collection still being parsed. */
static struct anchor *anchor_define(struct decoder *d, const char *name)
{
	struct anchor *a = anchor_find(d, name);

	if (a) {
		node_release(&a->node);
		a->open = false;
		return a;
	}
	if (d->nanchors == d->anchors_alloc) {
		d->anchors_alloc = d->anchors_alloc ? d->anchors_alloc * 2 : 16;
		d->anchors = xrealloc(d->anchors, d->anchors_alloc * sizeof(*d->anchors));
	}
	a = &d->anchors[d->nanchors];
	memset(a, 0, sizeof(*a));
	json_object_set_new(d->anchor_index, name, json_integer((json_int_t)d->nanchors));
	d->nanchors++;
	return a;
}

static void anchors_clear(struct decoder *d)
{
	for (size_t i = 0; i < d->nanchors; i++)
		node_release(&d->anchors[i].node);
	d->nanchors = 0;
	json_object_clear(d->anchor_index);
}

/* Keeps a copy of n under name; n itself goes on into the document. */
static void anchor_set(struct decoder *d, const char *name, const struct node *n)
{
	struct anchor *a = anchor_define(d, name);

	a->node = *n;
	a->node.value = json_incref(n->value);
	a->node.value_err = n->value_err ? xstrdup(n->value_err) : NULL;
	a->node.key = n->key ? memdup0(n->key, n->key_len) : NULL;
	a->node.merge = false; /* an alias is never a merge key */
}

static void frame_release(struct frame *f)
{
	json_decref(f->value);
	free(f->anchor);
	free(f->key);
	json_decref(f->key_lines);
	for (size_t i = 0; i < f->nmerges; i++)
		json_decref(f->merges[i].from);
	free(f->merges);
	memset(f, 0, sizeof(*f));
}

static int add_merge(struct decoder *d, struct frame *f, json_t *from, yaml_mark_t mark)
{
	if (!json_is_object(from))
		return fail(d, mark, "map merge requires map or sequence of maps as the value");
	f->merges = xrealloc(f->merges, (f->nmerges + 1) * sizeof(*f->merges));
	f->merges[f->nmerges].pos = json_object_size(f->value);
	f->merges[f->nmerges].from = json_incref(from);
	f->nmerges++;
	return 0;
}

static int merge_value(struct decoder *d, struct frame *f, const struct node *n)
{
	size_t i;
	json_t *item;

	if (json_is_array(n->value)) {
		json_array_foreach(n->value, i, item)
			if (add_merge(d, f, item, n->mark))
				return -1;
		return 0;
	}
	return add_merge(d, f, n->value, n->mark);
}

/* Hands a finished node to the open collection, or makes it the root.
 * Takes n's contents in every case. */
static int add_node(struct decoder *d, struct node *n)
{
	struct frame *f;
	json_t *line;
	int ret = -1;

	if (d->depth == 0) {
		if (!n->value) {
			ret = fail(d, n->mark, "%s", n->value_err);
			goto out;
		}
		d->root = *n;
		memset(n, 0, sizeof(*n));
		d->have_root = true;
		return 0;
	}
	f = &d->stack[d->depth - 1];
	f->nodes += n->nodes;
	f->bytes += n->bytes;
	if (n->height + 1 > f->height)
		f->height = n->height + 1;

	if (f->is_map && !f->have_key) {
		if (!n->key && json_is_string(n->value)) {
			n->key_len = json_string_length(n->value);
			n->key = memdup0(json_string_value(n->value), n->key_len);
		}
		if (!n->key) {
			if (json_is_null(n->value))
				ret = fail(d, n->mark, "null mapping key is not supported; quote it to make it a string");
			else
				ret = fail(d, n->mark, "invalid map key: a mapping or sequence cannot be a key");
			goto out;
		}
		f->have_key = true;
		f->key = n->key;
		f->key_len = n->key_len;
		n->key = NULL;
		f->key_merge = n->merge;
		f->key_mark = n->mark;
		ret = 0;
		goto out;
	}
	if (!n->value) {
		ret = fail(d, n->mark, "%s", n->value_err);
		goto out;
	}
	if (!f->is_map) {
		json_array_append_new(f->value, n->value);
		n->value = NULL;
		ret = 0;
		goto out;
	}
	if (f->key_merge) {
		ret = merge_value(d, f, n);
	} else if ((line = json_object_getn(f->key_lines, f->key, f->key_len))) {
		ret = fail(d, f->key_mark, "mapping key \"%.*s\" already defined at line %d",
			   (int)(f->key_len > 100 ? 100 : f->key_len), f->key,
			   (int)json_integer_value(line));
	} else if (json_object_setn_new(f->value, f->key, f->key_len, n->value)) {
		n->value = NULL;
		ret = fail(d, f->key_mark, "mapping key is not valid UTF-8");
	} else {
		n->value = NULL;
		json_object_setn_new(f->key_lines, f->key, f->key_len,
				     json_integer((json_int_t)f->key_mark.line + 1));
		ret = 0;
	}
	free(f->key);
	f->key = NULL;
	f->have_key = false;
out:
	node_release(n);
	return ret;
}

static int push(struct decoder *d, const yaml_event_t *ev, bool is_map)
{
	const char *anchor = (const char *)(is_map ? ev->data.mapping_start.anchor
						   : ev->data.sequence_start.anchor);
	struct frame *f;

	if (d->depth >= MAX_DEPTH)
		return fail(d, ev->start_mark, "document nests too deeply (more than %d levels)", MAX_DEPTH);
	if (d->depth == d->stack_alloc) {
		d->stack_alloc = d->stack_alloc ? d->stack_alloc * 2 : 32;
		d->stack = xrealloc(d->stack, (size_t)d->stack_alloc * sizeof(*d->stack));
	}
	f = &d->stack[d->depth++];
	memset(f, 0, sizeof(*f));
	f->is_map = is_map;
	f->value = is_map ? json_object() : json_array();
	f->nodes = 1;
	f->mark = ev->start_mark;
	if (is_map)
		f->key_lines = json_object();
	if (anchor) {
		f->anchor = xstrdup(anchor);
		anchor_define(d, anchor)->open = true;
	}
	return 0;
}

/* Rebuilds a mapping with its merged keys where the "<<" stood. Explicit
 * keys win over merged ones, and earlier merges over later ones. */
static json_t *apply_merges(struct frame *f)
{
	json_t *out = json_object(), *value;
	const char *key;
	size_t key_len, pos = 0, m = 0;

	json_object_keylen_foreach(f->value, key, key_len, value) {
		for (; m < f->nmerges && f->merges[m].pos == pos; m++) {
			const char *mk;
			size_t mk_len;
			json_t *mv;

			json_object_keylen_foreach(f->merges[m].from, mk, mk_len, mv) {
				if (!json_object_getn(f->value, mk, mk_len) && !json_object_getn(out, mk, mk_len))
					json_object_setn(out, mk, mk_len, mv);
			}
		}
		json_object_setn(out, key, key_len, value);
		pos++;
	}
	for (; m < f->nmerges; m++) {
		const char *mk;
		size_t mk_len;
		json_t *mv;

		json_object_keylen_foreach(f->merges[m].from, mk, mk_len, mv) {
			if (!json_object_getn(f->value, mk, mk_len) && !json_object_getn(out, mk, mk_len))
				json_object_setn(out, mk, mk_len, mv);
		}
	}
	return out;
}

static int pop(struct decoder *d)
{
	struct frame *f = &d->stack[d->depth - 1];
	struct node n = { 0 };
	int ret;

	n.value = f->nmerges ? apply_merges(f) : json_incref(f->value);
	n.nodes = f->nodes;
	n.bytes = f->bytes;
	n.height = f->height ? f->height : 1;
	n.mark = f->mark;
	if (f->anchor)
		anchor_set(d, f->anchor, &n);
	frame_release(f);
	d->depth--;
	ret = add_node(d, &n);
	return ret;
}

static int on_alias(struct decoder *d, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct anchor *a = anchor_find(d, name);
	struct node n = { 0 };

	if (!a)
		return fail(d, ev->start_mark, "unknown anchor '%s' referenced", name);
	if (a->open)
		return fail(d, ev->start_mark, "anchor '%s' value contains itself", name);
	d->alias_nodes += a->node.nodes;
	d->alias_bytes += a->node.bytes;
	if (d->alias_nodes > MAX_ALIAS_NODES || d->alias_bytes > MAX_ALIAS_BYTES)
		return fail(d, ev->start_mark, "document expands to too many nodes (alias bomb?)");
	if (d->depth + a->node.height > MAX_DEPTH)
		return fail(d, ev->start_mark, "document nests too deeply (more than %d levels)", MAX_DEPTH);
	n = a->node;
	n.value = a->node.value ? json_deep_copy(a->node.value) : NULL;
	n.value_err = a->node.value_err ? xstrdup(a->node.value_err) : NULL;
	n.key = a->node.key ? memdup0(a->node.key, a->node.key_len) : NULL;
	n.mark = ev->start_mark;
	return add_node(d, &n);
}

static int on_scalar(struct decoder *d, const yaml_event_t *ev)
{
	struct node n = { 0 };

	if (scalar_to_node(d, ev, &n)) {
		node_release(&n);
		return -1;
	}
	if (ev->data.scalar.anchor)
		anchor_set(d, (const char *)ev->data.scalar.anchor, &n);
	if (d->depth == 0)
		d->root_empty = ev->data.scalar.length == 0 && !ev->data.scalar.tag &&
				!ev->data.scalar.anchor &&
				ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return add_node(d, &n);
}

static void on_document_end(struct decoder *d)
{
	if (d->have_root && !d->root_empty) {
		if (d->nlines == d->lines_alloc) {
			d->lines_alloc = d->lines_alloc ? d->lines_alloc * 2 : 8;
			d->lines = xrealloc(d->lines, d->lines_alloc * sizeof(*d->lines));
		}
		d->lines[d->nlines++] = (int)d->root.mark.line + 1;
		json_array_append(d->docs, d->root.value);
	}
	node_release(&d->root);
	d->have_root = false;
	d->root_empty = false;
	anchors_clear(d);
	d->in_doc = false;
}

static int on_event(struct decoder *d, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		d->doc_index++;
		d->in_doc = true;
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		on_document_end(d);
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(d, ev);
	case YAML_ALIAS_EVENT:
		return on_alias(d, ev);
	case YAML_SEQUENCE_START_EVENT:
		return push(d, ev, false);
	case YAML_MAPPING_START_EVENT:
		return push(d, ev, true);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return pop(d);
	default:
		return 0;
	}
}

int yaml_decode_all(const char *buf, size_t len, json_t **docs, int **lines, struct yaml_error *err)
{
	struct decoder d;
	yaml_event_t ev;
	bool done = false;
	int ret = -1;

	memset(&d, 0, sizeof(d));
	*docs = NULL;
	if (lines)
		*lines = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	d.buf = buf;
	d.len = len;
	d.err = err;
	d.docs = json_array();
	d.anchor_index = json_object();
	if (!yaml_parser_initialize(&d.parser)) {
		fail_at(&d, 0, 0, "out of memory while parsing YAML");
		goto out;
	}
	yaml_parser_set_input_string(&d.parser, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&d.parser, &ev)) {
			ret = parser_fail(&d);
			goto out;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		ret = on_event(&d, &ev);
		yaml_event_delete(&ev);
		if (ret)
			goto out;
	}
	*docs = d.docs;
	d.docs = NULL;
	if (lines) {
		*lines = d.lines;
		d.lines = NULL;
	}
	ret = 0;
out:
	yaml_parser_delete(&d.parser);
	while (d.depth > 0)
		frame_release(&d.stack[--d.depth]);
	free(d.stack);
	anchors_clear(&d);
	free(d.anchors);
	json_decref(d.anchor_index);
	node_release(&d.root);
	json_decref(d.docs);
	free(d.lines);
	return ret ? -1 : 0;
}

json_t *yaml_decode_one(const char *buf, size_t len, struct yaml_error *err)
{
	json_t *docs, *doc = NULL;
	int *lines;
	size_t n;

	if (yaml_decode_all(buf, len, &docs, &lines, err))
		return NULL;
	n = json_array_size(docs);
	if (n == 1) {
		doc = json_incref(json_array_get(docs, 0));
	} else if (err) {
		memset(err, 0, sizeof(*err));
		if (n == 0) {
			err->document = 1;
			snprintf(err->message, sizeof(err->message),
				 "no YAML document found; the input is empty");
		} else {
			err->line = lines[1];
			err->column = 1;
			err->document = 2;
			snprintf(err->message, sizeof(err->message),
				 "expected one YAML document but found %zu; send them one at a time", n);
		}
	}
	json_decref(docs);
	free(lines);
	return doc;
}

/* ---- encoding ------------------------------------------------------------ */

static int on_write(void *data, unsigned char *buffer, size_t size)
{
	strbuf_add(data, buffer, size);
	return 1;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
	/* The emitter owns the event from here on, failed or not. */
	return yaml_emitter_emit(e, ev) ? 0 : -1;
}

static int emit_plain(yaml_emitter_t *e, const char *text)
{
	yaml_event_t ev;

	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 0,
				     YAML_PLAIN_SCALAR_STYLE);
	return emit(e, &ev);
}

/* "2026-12-03" or "2026-12-03T19:46:42Z": go-yaml resolves these plain
 * scalars as timestamps, so kubectl prints them quoted; so do we. */
static bool is_timestamp_like(const char *s, size_t len)
{
	size_t i = 0, n;

	for (n = 0; i < len && isdigit((unsigned char)s[i]) && n < 4; i++, n++)
		;
	if (n != 4 || i >= len || s[i++] != '-')
		return false;
	for (n = 0; i < len && isdigit((unsigned char)s[i]) && n < 2; i++, n++)
		;
	if (!n || i >= len || s[i++] != '-')
		return false;
	for (n = 0; i < len && isdigit((unsigned char)s[i]) && n < 2; i++, n++)
		;
	return n && (i == len || s[i] == 'T' || s[i] == 't' || s[i] == ' ' || s[i] == '\t');
}

/*
 * Plain only when reading it back plain gives the same string; strings
 * that would read as something else are double-quoted (as kubectl prints
 * annotations: "1", "true"). Multi-line text goes in a literal block. The
 * emitter falls back to quotes when the content does not allow the style.
 */
static int emit_string(yaml_emitter_t *e, const char *s, size_t len)
{
	yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
	struct resolved r;
	yaml_event_t ev;

	if (resolve_plain(s, len, &r) != SK_STR || is_base60_float(s, len) || is_timestamp_like(s, len) ||
	    (len == 2 && !memcmp(s, "<<", 2)))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	else if (memchr(s, '\n', len))
		style = YAML_LITERAL_SCALAR_STYLE;
	if (len > INT32_MAX)
		return -1;
	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len,
				     style == YAML_PLAIN_SCALAR_STYLE, 1, style);
	return emit(e, &ev);
}

/* Shortest form that reads back as the same double, and as a float. */
static void format_real(double v, char *buf, size_t size)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (!strpbrk(buf, ".eEn"))
		strncat(buf, ".0", size - strlen(buf) - 1);
}

static int emit_value(yaml_emitter_t *e, const json_t *v)
{
	yaml_event_t ev;
	char buf[64];

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *key;
		size_t key_len;
		json_t *item;

		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
		if (emit(e, &ev))
			return -1;
		json_object_keylen_foreach((json_t *)v, key, key_len, item) {
			if (emit_string(e, key, key_len) || emit_value(e, item))
				return -1;
		}
		yaml_mapping_end_event_initialize(&ev);
		return emit(e, &ev);
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *item;

		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		if (emit(e, &ev))
			return -1;
		json_array_foreach(v, i, item) {
			if (emit_value(e, item))
				return -1;
		}
		yaml_sequence_end_event_initialize(&ev);
		return emit(e, &ev);
	}
	case JSON_STRING:
		return emit_string(e, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return emit_plain(e, buf);
	case JSON_REAL:
		format_real(json_real_value(v), buf, sizeof(buf));
		return emit_plain(e, buf);
	case JSON_TRUE:
		return emit_plain(e, "true");
	case JSON_FALSE:
		return emit_plain(e, "false");
	case JSON_NULL:
	default:
		return emit_plain(e, "null");
	}
}

char *yaml_encode(const json_t *value)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	struct strbuf out;
	int ret = -1;

	strbuf_init(&out, 256);
	if (!yaml_emitter_initialize(&e))
		die("cannot encode YAML: out of memory");
	yaml_emitter_set_output(&e, on_write, &out);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	yaml_emitter_set_indent(&e, 2);
	yaml_emitter_set_break(&e, YAML_LN_BREAK);

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	if (emit(&e, &ev))
		goto out;
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	if (emit(&e, &ev) || emit_value(&e, value))
		goto out;
	yaml_document_end_event_initialize(&ev, 1);
	if (emit(&e, &ev))
		goto out;
	yaml_stream_end_event_initialize(&ev);
	if (emit(&e, &ev) || !yaml_emitter_flush(&e))
		goto out;
	ret = 0;
out:
	/* Only a value jansson itself would refuse (invalid UTF-8 from a
	 * _nocheck setter) makes the emitter fail: a bug in the caller. */
	if (ret)
		die("cannot encode YAML: %s", e.problem ? e.problem : "emitter error");
	yaml_emitter_delete(&e);
	return strbuf_detach(&out, NULL);
}
