/*
 * JSON text to jansson trees and back, fast (object.h: obj_parse, obj_dump).
 * Every component parses and prints Kubernetes objects all day: a pod is
 * about 2 KB of JSON, printed for every write and parsed by every watcher.
 * jansson's own codec spends most of that time per character: its parser
 * reads through a stream abstraction one byte at a time, and its printer
 * guards every object and array against cycles with a hashtable keyed by
 * snprintf("%p"). Here the parser scans runs of plain bytes at once and the
 * printer writes straight into one growing buffer. The trees are jansson's,
 * built with its constructors, so nothing downstream changes; the accepted
 * texts, the trees and the printed bytes are jansson's own, which
 * tests/fuzz/fuzz-objcodec.c checks against jansson on every input it finds.
 */
#include "object.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson's JSON_PARSER_MAX_DEPTH, so both reject the same texts. */
#define PARSE_MAX_DEPTH 2048
/* Deeper than anything a parse can produce: a tree this deep was built by
 * code, and most likely holds a cycle. */
#define DUMP_MAX_DEPTH 4096

/* ---- parsing ----------------------------------------------------------- */

struct parser {
	const unsigned char *start, *p, *end;
	size_t flags;
	int depth;
	json_error_t *err;
	bool failed;             /* the first error is the one reported */
	struct strbuf scratch;   /* the decoded bytes of a string with escapes */
};

/* Records the first error at the current position; returns NULL so that
 * `return fail(ps, ...)` ends a parse function. */
PRINTF_LIKE(2, 3)
static json_t *fail(struct parser *ps, const char *fmt, ...)
{
	json_error_t *e = ps->err;
	va_list ap;
	int line = 1, column = 1;

	if (ps->failed || !e)
		return NULL;
	ps->failed = true;
	for (const unsigned char *q = ps->start; q < ps->p; q++) {
		if (*q == '\n') {
			line++;
			column = 1;
		} else {
			column++;
		}
	}
	e->line = line;
	e->column = column;
	e->position = (int)(ps->p - ps->start);
	snprintf(e->source, sizeof(e->source), "<buffer>");
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	return NULL;
}

/* A byte for a message: 'x' when printable, else its value. */
static const char *show_byte(unsigned char c, char *buf, size_t len)
{
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, len, "'%c'", c);
	else
		snprintf(buf, len, "byte 0x%02x", c);
	return buf;
}

static void skip_ws(struct parser *ps)
{
	const unsigned char *p = ps->p, *end = ps->end;

	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	ps->p = p;
}

/* Length of the valid UTF-8 sequence at p that starts with a byte >= 0x80,
 * or 0: no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

static void add_utf8(struct strbuf *sb, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	strbuf_add(sb, b, n);
}

/* Four hex digits at p (which has at least four bytes), or -1. */
static int32_t hex4(const unsigned char *p)
{
	int32_t v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * The string whose opening quote is at ps->p. On success *out and *len are
 * its decoded bytes: a slice of the input when it has no escapes (the common
 * case, no copy at all), else ps->scratch, valid until the next string.
 */
static int parse_string(struct parser *ps, const char **out, size_t *len)
{
	const unsigned char *p = ps->p + 1, *end = ps->end, *run;
	char what[32];
	struct strbuf *sb = &ps->scratch;
	bool escaped = false;

	for (run = p;;) {
		unsigned char c;

		if (p >= end) {
			ps->p = p;
			fail(ps, "unterminated string: end of input before its closing '\"'");
			return -1;
		}
		c = *p;
		if (c == '"')
			break;
		if (c < 0x20) {
			ps->p = p;
			fail(ps, "control character 0x%02x in a string: escape it as \\u%04x", c, c);
			return -1;
		}
		if (c < 0x80 && c != '\\') {
			p++;
			continue;
		}
		if (c >= 0x80) {
			size_t n = utf8_len(p, end);

			if (!n) {
				ps->p = p;
				fail(ps, "invalid UTF-8 in a string (%s)", show_byte(c, what, sizeof(what)));
				return -1;
			}
			p += n;
			continue;
		}

		/* A backslash: from here on the string is decoded into scratch. */
		if (!escaped) {
			strbuf_reset(sb);
			escaped = true;
		}
		strbuf_add(sb, run, (size_t)(p - run));
		if (end - p < 2) {
			ps->p = p;
			fail(ps, "unterminated escape at the end of input");
			return -1;
		}
		switch (p[1]) {
		case '"': strbuf_addc(sb, '"'); break;
		case '\\': strbuf_addc(sb, '\\'); break;
		case '/': strbuf_addc(sb, '/'); break;
		case 'b': strbuf_addc(sb, '\b'); break;
		case 'f': strbuf_addc(sb, '\f'); break;
		case 'n': strbuf_addc(sb, '\n'); break;
		case 'r': strbuf_addc(sb, '\r'); break;
		case 't': strbuf_addc(sb, '\t'); break;
		case 'u': {
			int32_t cp = end - p >= 6 ? hex4(p + 2) : -1;

			if (cp < 0) {
				ps->p = p;
				fail(ps, "invalid \\u escape: four hex digits must follow \\u");
				return -1;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				int32_t lo = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;

				if (lo < 0xdc00 || lo > 0xdfff) {
					ps->p = p;
					fail(ps, "invalid \\u escape: \\u%04X is half a surrogate pair "
						 "without its other half", (unsigned)cp);
					return -1;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				ps->p = p;
				fail(ps, "invalid \\u escape: \\u%04X is half a surrogate pair without its "
					 "other half", (unsigned)cp);
				return -1;
			} else if (cp == 0) {
				ps->p = p;
				fail(ps, "\\u0000 is not allowed in a string");
				return -1;
			}
			add_utf8(sb, (uint32_t)cp);
			p += 4;
			break;
		}
		default:
			ps->p = p;
			fail(ps, "invalid escape '\\%c' in a string", p[1] >= 0x20 && p[1] < 0x7f ? p[1] : '?');
			return -1;
		}
		p += 2;
		run = p;
	}

	if (escaped) {
		strbuf_add(sb, run, (size_t)(p - run));
		*out = sb->buf;
		*len = sb->len;
	} else {
		*out = (const char *)ps->p + 1;
		*len = (size_t)(p - ps->p - 1);
	}
	ps->p = p + 1;
	return 0;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? as an integer when it has
 * neither fraction nor exponent, as jansson decides. */
static json_t *parse_number(struct parser *ps)
{
	const unsigned char *s = ps->p, *p = s, *end = ps->end;
	bool neg = false, real = false;
	uint64_t v = 0;

#define DIGIT(q) ((q) < end && *(q) >= '0' && *(q) <= '9')
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!DIGIT(p)) {
		ps->p = p;
		return fail(ps, "invalid number: a digit must follow '-'");
	}
	if (*p == '0') {
		p++;
	} else {
		while (DIGIT(p)) {
			unsigned d = *p - '0';

			if (v > (UINT64_MAX - d) / 10)
				v = UINT64_MAX;   /* saturates: surely out of range below */
			else
				v = v * 10 + d;
			p++;
		}
	}
	if (p < end && *p == '.') {
		real = true;
		p++;
		if (!DIGIT(p)) {
			ps->p = p;
			return fail(ps, "invalid number: a digit must follow '.'");
		}
		while (DIGIT(p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!DIGIT(p)) {
			ps->p = p;
			return fail(ps, "invalid number: a digit must follow the exponent's 'e'");
		}
		while (DIGIT(p))
			p++;
	}
#undef DIGIT

	if (!real) {
		if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
			return fail(ps, "integer %.*s is out of range (a 64-bit signed integer)",
				    (int)(p - s < 40 ? p - s : 40), s);
		ps->p = p;
		return json_integer(neg ? (json_int_t)(0 - v) : (json_int_t)v);
	}

	{
		size_t n = (size_t)(p - s);
		char stackbuf[64], *buf = n < sizeof(stackbuf) ? stackbuf : xmalloc(n + 1);
		double d;

		memcpy(buf, s, n);
		buf[n] = '\0';
		errno = 0;
		d = strtod(buf, NULL);
		if (buf != stackbuf)
			free(buf);
		if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
			return fail(ps, "real number %.*s is out of range", (int)(n < 40 ? n : 40), s);
		ps->p = p;
		return json_real(d);
	}
}

static json_t *parse_value(struct parser *ps);

/* After a member of an object or an array: 1 when a ',' says another one
 * follows, 0 at the closing bracket, -1 (reported) for anything else. */
static int next_member(struct parser *ps, char closer, const char *in)
{
	char what[32];

	skip_ws(ps);
	if (ps->p < ps->end && (*ps->p == ',' || *ps->p == closer)) {
		bool more = *ps->p++ == ',';

		if (more)
			skip_ws(ps);
		return more;
	}
	if (ps->p >= ps->end)
		fail(ps, "unexpected end of input: expected ',' or '%c' in %s", closer, in);
	else
		fail(ps, "expected ',' or '%c' in %s, found %s", closer, in, show_byte(*ps->p, what, sizeof(what)));
	return -1;
}

static json_t *parse_object(struct parser *ps)
{
	json_t *obj = json_object(), *v;
	char what[32];

	ps->p++;   /* '{' */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return obj;
	}
	for (;;) {
		const char *key;
		char *heap_key = NULL;
		size_t klen;

		if (ps->p >= ps->end || *ps->p != '"') {
			if (ps->p >= ps->end)
				fail(ps, "unexpected end of input: expected an object key");
			else
				fail(ps, "expected '\"' to begin an object key, found %s",
				     show_byte(*ps->p, what, sizeof(what)));
			goto bad;
		}
		if (parse_string(ps, &key, &klen) < 0)
			goto bad;
		/* A decoded key lives in scratch, which the value may reuse. */
		if (key == ps->scratch.buf)
			key = heap_key = xstrndup(key, klen);
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			if (ps->p >= ps->end)
				fail(ps, "unexpected end of input: expected ':' after an object key");
			else
				fail(ps, "expected ':' after an object key, found %s",
				     show_byte(*ps->p, what, sizeof(what)));
			free(heap_key);
			goto bad;
		}
		ps->p++;
		skip_ws(ps);
		if (!(v = parse_value(ps))) {
			free(heap_key);
			goto bad;
		}
		if ((ps->flags & JSON_REJECT_DUPLICATES) && json_object_getn(obj, key, klen)) {
			json_decref(v);
			fail(ps, "duplicate object key \"%.*s\"", (int)(klen < 64 ? klen : 64), key);
			free(heap_key);
			goto bad;
		}
		if (json_object_setn_new_nocheck(obj, key, klen, v) < 0) {
			fail(ps, "cannot store object key \"%.*s\"", (int)(klen < 64 ? klen : 64), key);
			free(heap_key);
			goto bad;
		}
		free(heap_key);
		switch (next_member(ps, '}', "an object")) {
		case 1:
			continue;
		case 0:
			return obj;
		}
		goto bad;
	}
bad:
	json_decref(obj);
	return NULL;
}

static json_t *parse_array(struct parser *ps)
{
	json_t *arr = json_array(), *v;

	ps->p++;   /* '[' */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return arr;
	}
	for (;;) {
		if (!(v = parse_value(ps)))
			goto bad;
		json_array_append_new(arr, v);
		switch (next_member(ps, ']', "an array")) {
		case 1:
			continue;
		case 0:
			return arr;
		}
		goto bad;
	}
bad:
	json_decref(arr);
	return NULL;
}

static json_t *parse_literal(struct parser *ps, const char *word, json_t *value)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return fail(ps, "invalid literal: expected '%s'", word);
	ps->p += n;
	return value;
}

static json_t *parse_value(struct parser *ps)
{
	const char *s;
	size_t len;
	char what[32];
	json_t *v;

	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of input: expected a value");
	switch (*ps->p) {
	case '{':
	case '[':
		if (++ps->depth > PARSE_MAX_DEPTH)
			return fail(ps, "nested too deeply: more than %d levels of objects and arrays",
				    PARSE_MAX_DEPTH);
		v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
		ps->depth--;
		return v;
	case '"':
		if (parse_string(ps, &s, &len) < 0)
			return NULL;
		return json_stringn_nocheck(s, len);
	case 't':
		return parse_literal(ps, "true", json_true());
	case 'f':
		return parse_literal(ps, "false", json_false());
	case 'n':
		return parse_literal(ps, "null", json_null());
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return parse_number(ps);
	default:
		return fail(ps, "unexpected %s: expected a value", show_byte(*ps->p, what, sizeof(what)));
	}
}

json_t *obj_parse(const char *buf, size_t len, size_t flags, json_error_t *err)
{
	struct parser ps = {
		.start = (const unsigned char *)buf,
		.p = (const unsigned char *)buf,
		.end = (const unsigned char *)buf + len,
		.flags = flags,
		.err = err,
	};
	json_t *v = NULL;
	char what[32];

	if (err)
		memset(err, 0, sizeof(*err));
	strbuf_init(&ps.scratch, 0);
	skip_ws(&ps);
	if (!(flags & JSON_DECODE_ANY) && (ps.p >= ps.end || (*ps.p != '{' && *ps.p != '['))) {
		fail(&ps, "'[' or '{' expected");
		goto out;
	}
	if (!(v = parse_value(&ps)))
		goto out;
	skip_ws(&ps);
	if (ps.p < ps.end) {
		fail(&ps, "end of input expected after the value, found %s", show_byte(*ps.p, what, sizeof(what)));
		json_decref(v);
		v = NULL;
	}
out:
	strbuf_release(&ps.scratch);
	return v;
}

/* ---- printing ---------------------------------------------------------- */

/* The printer writes into sb directly and NUL-terminates only at the end;
 * put() is the one place that makes room. */
static inline void put(struct strbuf *sb, const void *data, size_t n)
{
	if (sb->alloc - sb->len <= n)
		strbuf_grow(sb, n);
	memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
}

static inline void putc1(struct strbuf *sb, char c)
{
	if (sb->alloc - sb->len <= 1)
		strbuf_grow(sb, 1);
	sb->buf[sb->len++] = c;
}

/* Appends the string as a JSON string literal: the escapes jansson uses
 * (\" \\ \b \f \n \r \t, \u00XX for other control characters), every other
 * byte as it is. */
static void dump_string(struct strbuf *sb, const char *str, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)str, *end = s + len, *run = s;

	putc1(sb, '"');
	for (; s < end; s++) {
		unsigned char c = *s;
		char esc[6] = { '\\' };
		size_t n = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(sb, run, (size_t)(s - run));
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		put(sb, esc, n);
		run = s + 1;
	}
	put(sb, run, (size_t)(end - run));
	putc1(sb, '"');
}

static void dump_integer(struct strbuf *sb, json_int_t i)
{
	char buf[24], *p = buf + sizeof(buf);
	uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (i < 0)
		*--p = '-';
	put(sb, p, (size_t)(buf + sizeof(buf) - p));
}

/* jansson's form: %.17g, with ".0" when that reads as an integer, and the
 * exponent without '+' or leading zeros. */
static int dump_real(struct strbuf *sb, double d)
{
	char buf[40], *e, *from;
	int n;

	if (!isfinite(d))
		return -1;
	n = snprintf(buf, sizeof(buf) - 3, "%.17g", d);
	if (n < 0 || (size_t)n >= sizeof(buf) - 3)
		return -1;
	if (!strchr(buf, '.') && !strchr(buf, 'e')) {
		buf[n++] = '.';
		buf[n++] = '0';
		buf[n] = '\0';
	}
	if ((e = strchr(buf, 'e'))) {
		e++;
		if (*e == '-')
			e++;
		from = e;
		if (*from == '+')
			from++;
		while (*from == '0' && from[1])
			from++;
		if (from != e) {
			memmove(e, from, strlen(from) + 1);
			n = (int)strlen(buf);
		}
	}
	put(sb, buf, (size_t)n);
	return 0;
}

static int dump_value(struct strbuf *sb, const json_t *v, int depth)
{
	if (depth > DUMP_MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		json_t *o = (json_t *)v;
		bool first = true;

		putc1(sb, '{');
		for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
			if (!first)
				putc1(sb, ',');
			first = false;
			dump_string(sb, json_object_iter_key(it), json_object_iter_key_len(it));
			putc1(sb, ':');
			if (dump_value(sb, json_object_iter_value(it), depth + 1) < 0)
				return -1;
		}
		putc1(sb, '}');
		return 0;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(v);

		putc1(sb, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				putc1(sb, ',');
			if (dump_value(sb, json_array_get(v, i), depth + 1) < 0)
				return -1;
		}
		putc1(sb, ']');
		return 0;
	}
	case JSON_STRING:
		dump_string(sb, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_INTEGER:
		dump_integer(sb, json_integer_value(v));
		return 0;
	case JSON_REAL:
		return dump_real(sb, json_real_value(v));
	case JSON_TRUE:
		put(sb, "true", 4);
		return 0;
	case JSON_FALSE:
		put(sb, "false", 5);
		return 0;
	case JSON_NULL:
		put(sb, "null", 4);
		return 0;
	}
	return -1;
}

int obj_dump_to(struct strbuf *sb, const json_t *o)
{
	size_t mark = sb->len;
	int rc = o ? dump_value(sb, o, 0) : -1;

	if (rc < 0)
		sb->len = mark;
	if (sb->alloc)
		sb->buf[sb->len] = '\0';
	return rc;
}

char *obj_dump(const json_t *o, size_t *len)
{
	struct strbuf sb;

	strbuf_init(&sb, 1024);
	if (obj_dump_to(&sb, o) < 0)
		strbuf_add(&sb, "null", 4);
	return strbuf_detach(&sb, len);
}
