/*
 * How minictl prints: a column aligner that lays text out exactly as Go's
 * text/tabwriter does (kubectl's get and describe are built on it), the
 * server's meta.k8s.io Table turned into kubectl's columns, and objects as
 * kubectl prints them with -o json|yaml|name (keys sorted, Go's escaping).
 * Verbs print through these so that a student sees kubectl's output.
 */
#include "ctl/ctl.h"
#include "core/object.h"
#include "core/util.h"
#include "core/yaml.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tab writer ------------------------------------------------------- */

struct ctl_tabwriter {
	FILE *out;
	int minwidth;
	int padding;
	bool remember;
	struct strbuf text;    /* buffered since the last flush */
	int *maxwidths;        /* remembered column widths (RememberWidths) */
	size_t nmax;
	size_t written;        /* bytes written to out so far */
};

/* One cell of a buffered line: where its text is and how wide it prints. */
struct tw_cell {
	size_t off, len;
	int width;
};

struct tw_line {
	struct tw_cell *cells;
	size_t n;
};

struct tw_state {
	struct ctl_tabwriter *w;
	const char *buf;
	struct tw_line *lines;
	size_t nlines;
	int *widths;           /* the stack of column widths being formatted */
	size_t nwidths;
};

struct ctl_tabwriter *ctl_tabwriter_new(FILE *out, int minwidth, int padding, bool remember_widths)
{
	struct ctl_tabwriter *w = xcalloc(1, sizeof(*w));

	w->out = out;
	w->minwidth = minwidth;
	w->padding = padding;
	w->remember = remember_widths;
	strbuf_init(&w->text, 1024);
	return w;
}

void ctl_tabwriter_write(struct ctl_tabwriter *w, const char *s, size_t len)
{
	strbuf_add(&w->text, s, len);
}

void ctl_tabwriter_printf(struct ctl_tabwriter *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&w->text, fmt, ap);
	va_end(ap);
}

/* Runes, as Go counts a cell's width. */
static int utf8_width(const char *s, size_t len)
{
	int n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

static void tw_pad(struct tw_state *st, int n)
{
	for (int i = 0; i < n; i++)
		fputc(' ', st->w->out);
	st->w->written += (size_t)(n > 0 ? n : 0);
}

static void tw_write_lines(struct tw_state *st, size_t line0, size_t line1)
{
	for (size_t i = line0; i < line1; i++) {
		struct tw_line *l = &st->lines[i];
		for (size_t j = 0; j < l->n; j++) {
			struct tw_cell *c = &l->cells[j];
			fwrite(st->buf + c->off, 1, c->len, st->w->out);
			st->w->written += c->len;
			if (j < st->nwidths)
				tw_pad(st, st->widths[j] - c->width);
		}
		if (i + 1 < st->nlines) {
			fputc('\n', st->w->out);
			st->w->written++;
		}
	}
}

/* Go's tabwriter.format: a column block is a run of consecutive lines that
 * have a cell in this column; its width is its widest cell plus padding. */
static void tw_format(struct tw_state *st, size_t line0, size_t line1)
{
	size_t column = st->nwidths;

	for (size_t this = line0; this < line1; this++) {
		int width = st->w->minwidth;

		if (column + 1 >= st->lines[this].n)
			continue;
		tw_write_lines(st, line0, this);
		line0 = this;
		for (; this < line1; this++) {
			struct tw_line *l = &st->lines[this];
			if (column + 1 >= l->n)
				break;
			if (l->cells[column].width + st->w->padding > width)
				width = l->cells[column].width + st->w->padding;
		}
		if (st->w->remember) {
			struct ctl_tabwriter *w = st->w;
			if (w->nmax <= column) {
				w->maxwidths = xrealloc(w->maxwidths, sizeof(int) * (column + 1));
				for (size_t k = w->nmax; k < column; k++)
					w->maxwidths[k] = st->widths[k];
				w->maxwidths[column] = width;
				w->nmax = column + 1;
			} else if (w->maxwidths[column] > width) {
				width = w->maxwidths[column];
			} else {
				w->maxwidths[column] = width;
			}
		}
		st->widths[st->nwidths++] = width;
		tw_format(st, line0, this);
		st->nwidths--;
		line0 = this;
	}
	tw_write_lines(st, line0, line1);
}

size_t ctl_tabwriter_flush(struct ctl_tabwriter *w)
{
	struct tw_state st = { .w = w, .buf = w->text.buf };
	size_t maxcells = 1, before = w->written;
	const char *p = w->text.buf, *end = w->text.buf + w->text.len;

	if (!w->text.len)
		return 0;
	/* Split into lines and cells; the text after the last newline is a
	 * last line printed without a newline, as Go does. */
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *lend = nl ? nl : end;
		struct tw_line l = { NULL, 0 };
		const char *c = p;

		for (;;) {
			const char *tab = memchr(c, '\t', (size_t)(lend - c));
			const char *cend = tab ? tab : lend;
			l.cells = xrealloc(l.cells, sizeof(*l.cells) * (l.n + 1));
			l.cells[l.n].off = (size_t)(c - w->text.buf);
			l.cells[l.n].len = (size_t)(cend - c);
			l.cells[l.n].width = utf8_width(c, (size_t)(cend - c));
			l.n++;
			if (!tab)
				break;
			c = tab + 1;
		}
		if (l.n > maxcells)
			maxcells = l.n;
		st.lines = xrealloc(st.lines, sizeof(*st.lines) * (st.nlines + 1));
		st.lines[st.nlines++] = l;
		if (!nl)
			break;
		p = nl + 1;
	}
	st.widths = xcalloc(maxcells + 1, sizeof(int));
	tw_format(&st, 0, st.nlines);
	for (size_t i = 0; i < st.nlines; i++)
		free(st.lines[i].cells);
	free(st.lines);
	free(st.widths);
	strbuf_reset(&w->text);
	fflush(w->out);
	return w->written - before;
}

void ctl_tabwriter_forget_widths(struct ctl_tabwriter *w)
{
	free(w->maxwidths);
	w->maxwidths = NULL;
	w->nmax = 0;
}

size_t ctl_tabwriter_written(const struct ctl_tabwriter *w)
{
	return w->written;
}

void ctl_tabwriter_free(struct ctl_tabwriter *w)
{
	if (!w)
		return;
	ctl_tabwriter_flush(w);
	strbuf_release(&w->text);
	free(w->maxwidths);
	free(w);
}

/* ---- Go's JSON ------------------------------------------------------------ */

/* The shortest decimal that reads back as d, in Go's strconv 'f' or 'e' form
 * as encoding/json picks it. */
static void go_float(struct strbuf *sb, double d)
{
	char buf[64], digits[32];
	int exp10, nd = 0;
	double a = fabs(d);
	bool use_e = a != 0 && (a < 1e-6 || a >= 1e21);
	char *e;

	if (!isfinite(d)) {
		strbuf_adds(sb, "null");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	/* buf is [-]D[.DDD]e[+-]XX */
	e = strchr(buf, 'e');
	exp10 = atoi(e + 1);
	for (char *q = buf; q < e; q++)
		if (isdigit((unsigned char)*q))
			digits[nd++] = *q;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	if (d < 0)
		strbuf_addc(sb, '-');
	if (use_e) {
		strbuf_addc(sb, digits[0]);
		if (nd > 1) {
			strbuf_addc(sb, '.');
			strbuf_adds(sb, digits + 1);
		}
		if (exp10 < 0 && exp10 > -10)
			strbuf_addf(sb, "e-%d", -exp10);
		else
			strbuf_addf(sb, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
		return;
	}
	if (exp10 < 0) {
		strbuf_adds(sb, "0.");
		for (int i = 0; i < -exp10 - 1; i++)
			strbuf_addc(sb, '0');
		strbuf_adds(sb, digits);
		return;
	}
	for (int i = 0; i <= exp10; i++)
		strbuf_addc(sb, i < nd ? digits[i] : '0');
	if (nd > exp10 + 1) {
		strbuf_addc(sb, '.');
		strbuf_adds(sb, digits + exp10 + 1);
	}
}

/* A JSON string as Go's encoding/json writes it (HTML-safe). */
static void go_string(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	strbuf_addc(sb, '"');
	while (p < end) {
		unsigned char ch = *p;
		if (ch < 0x80) {
			switch (ch) {
			case '"': strbuf_adds(sb, "\\\""); break;
			case '\\': strbuf_adds(sb, "\\\\"); break;
			case '\n': strbuf_adds(sb, "\\n"); break;
			case '\r': strbuf_adds(sb, "\\r"); break;
			case '\t': strbuf_adds(sb, "\\t"); break;
			case '\b': strbuf_adds(sb, "\\b"); break;
			case '\f': strbuf_adds(sb, "\\f"); break;
			case '<': case '>': case '&':
				strbuf_addf(sb, "\\u00%c%c", hex[ch >> 4], hex[ch & 15]);
				break;
			default:
				if (ch < 0x20)
					strbuf_addf(sb, "\\u00%c%c", hex[ch >> 4], hex[ch & 15]);
				else
					strbuf_addc(sb, (char)ch);
			}
			p++;
			continue;
		}
		/* Multi-byte: copy valid UTF-8, replace invalid bytes with U+FFFD,
		 * escape the JavaScript line separators. */
		int n = ch >= 0xf0 && ch < 0xf5 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc2 && ch < 0xe0 ? 2 : 0;
		bool ok = n && p + n <= end;
		for (int i = 1; ok && i < n; i++)
			ok = (p[i] & 0xc0) == 0x80;
		if (ok && n == 3 && ((ch == 0xe0 && p[1] < 0xa0) || (ch == 0xed && p[1] >= 0xa0)))
			ok = false;
		if (ok && n == 4 && ((ch == 0xf0 && p[1] < 0x90) || (ch == 0xf4 && p[1] >= 0x90)))
			ok = false;
		if (!ok) {
			strbuf_adds(sb, "\\ufffd");
			p++;
			continue;
		}
		if (n == 3 && ch == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
			strbuf_addf(sb, "\\u202%c", p[2] == 0xa8 ? '8' : '9');
		else
			strbuf_add(sb, p, (size_t)n);
		p += n;
	}
	strbuf_addc(sb, '"');
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of obj, sorted bytewise as Go sorts map keys. Heap array of
 * borrowed strings. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
	const char **keys = xmalloc(sizeof(char *) * (json_object_size(obj) + 1));
	const char *k;
	json_t *v;
	size_t i = 0;

	json_object_foreach((json_t *)obj, k, v)
		keys[i++] = k;
	qsort(keys, i, sizeof(char *), cmp_keys);
	*n = i;
	return keys;
}

static void go_indent(struct strbuf *sb, const char *indent, int depth)
{
	strbuf_addc(sb, '\n');
	for (int i = 0; i < depth; i++)
		strbuf_adds(sb, indent);
}

static void go_value(struct strbuf *sb, const json_t *v, const char *indent, int depth)
{
	size_t n, i;

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char **keys;
		if (!json_object_size(v)) {
			strbuf_adds(sb, "{}");
			break;
		}
		keys = sorted_keys(v, &n);
		strbuf_addc(sb, '{');
		for (i = 0; i < n; i++) {
			if (i)
				strbuf_addc(sb, ',');
			if (indent)
				go_indent(sb, indent, depth + 1);
			go_string(sb, keys[i], strlen(keys[i]));
			strbuf_adds(sb, indent ? ": " : ":");
			go_value(sb, json_object_get(v, keys[i]), indent, depth + 1);
		}
		if (indent)
			go_indent(sb, indent, depth);
		strbuf_addc(sb, '}');
		free(keys);
		break;
	}
	case JSON_ARRAY:
		if (!json_array_size(v)) {
			strbuf_adds(sb, "[]");
			break;
		}
		strbuf_addc(sb, '[');
		for (i = 0; i < json_array_size(v); i++) {
			if (i)
				strbuf_addc(sb, ',');
			if (indent)
				go_indent(sb, indent, depth + 1);
			go_value(sb, json_array_get(v, i), indent, depth + 1);
		}
		if (indent)
			go_indent(sb, indent, depth);
		strbuf_addc(sb, ']');
		break;
	case JSON_STRING:
		go_string(sb, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		strbuf_addf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		go_float(sb, json_real_value(v));
		break;
	case JSON_TRUE:
		strbuf_adds(sb, "true");
		break;
	case JSON_FALSE:
		strbuf_adds(sb, "false");
		break;
	case JSON_NULL:
		strbuf_adds(sb, "null");
		break;
	}
}

char *ctl_json_go(const json_t *v, bool indent)
{
	struct strbuf sb;

	strbuf_init(&sb, 256);
	go_value(&sb, v, indent ? "    " : NULL, 0);
	return strbuf_detach(&sb, NULL);
}

json_t *ctl_json_sorted(const json_t *v)
{
	json_t *out;
	size_t n, i;

	if (json_is_object(v)) {
		const char **keys = sorted_keys(v, &n);
		out = json_object();
		for (i = 0; i < n; i++)
			json_object_set_new(out, keys[i], ctl_json_sorted(json_object_get(v, keys[i])));
		free(keys);
		return out;
	}
	if (json_is_array(v)) {
		out = json_array();
		for (i = 0; i < json_array_size(v); i++)
			json_array_append_new(out, ctl_json_sorted(json_array_get(v, i)));
		return out;
	}
	return json_deep_copy(v);
}

/* ---- objects -------------------------------------------------------------- */

int ctl_print_objects(const char *format, const json_t *items, bool single)
{
	json_t *doc;
	size_t i;

	if (!strcmp(format, "name")) {
		json_t *it;
		json_array_foreach((json_t *)items, i, it) {
			const struct kind *k = kind_by_kind(obj_str(it, "apiVersion"), obj_kind(it));
			char ref[512];
			if (k)
				printf("%s\n", ctl_object_ref(k, obj_name(it) ? obj_name(it) : "", ref, sizeof(ref)));
			else
				printf("%s/%s\n", obj_kind(it) ? obj_kind(it) : "unknown", obj_name(it) ? obj_name(it) : "");
		}
		return 0;
	}
	if (single && json_array_size(items) == 1)
		doc = json_incref(json_array_get(items, 0));
	else
		doc = json_pack("{s:s, s:O, s:s, s:{s:s}}", "apiVersion", "v1", "items", items, "kind", "List",
				"metadata", "resourceVersion", "");
	if (!strcmp(format, "json")) {
		char *s = ctl_json_go(doc, true);
		printf("%s\n", s);
		free(s);
	} else if (!strcmp(format, "yaml")) {
		json_t *sorted = ctl_json_sorted(doc);
		char *s = yaml_encode(sorted);
		fputs(s, stdout);
		free(s);
		json_decref(sorted);
	} else {
		json_decref(doc);
		fprintf(stderr, "error: unable to match a printer suitable for the output format \"%s\", allowed "
				"formats are: json,name,wide,yaml\n", format);
		return -1;
	}
	json_decref(doc);
	return 0;
}

/* ---- tables --------------------------------------------------------------- */

/* A cell as kubectl prints it: strings cut at the first line break (with
 * "..."), ESC and CR made visible, numbers as Go's fmt.Sprint. */
static void add_cell(struct ctl_tabwriter *w, const json_t *cell)
{
	struct strbuf sb;

	strbuf_init(&sb, 32);
	if (json_is_string(cell)) {
		const char *s = json_string_value(cell);
		size_t n = strcspn(s, "\f\n\r");
		for (size_t i = 0; i < n; i++) {
			if (s[i] == 0x1b)
				strbuf_adds(&sb, "^[");
			else if (s[i] == '\t')
				strbuf_addc(&sb, ' ');  /* a tab would split the cell */
			else
				strbuf_addc(&sb, s[i]);
		}
		if (s[n])
			strbuf_adds(&sb, "...");
	} else if (json_is_integer(cell)) {
		strbuf_addf(&sb, "%" JSON_INTEGER_FORMAT, json_integer_value(cell));
	} else if (json_is_real(cell)) {
		double d = json_real_value(cell);
		if (d == floor(d) && fabs(d) < 1e21)
			strbuf_addf(&sb, "%.0f", d);
		else
			go_float(&sb, d);
	} else if (json_is_boolean(cell)) {
		strbuf_adds(&sb, json_is_true(cell) ? "true" : "false");
	} else if (cell && !json_is_null(cell)) {
		char *s = json_dumps(cell, JSON_COMPACT);
		strbuf_adds(&sb, s ? s : "");
		free(s);
	}
	ctl_tabwriter_write(w, sb.buf, sb.len);
	strbuf_release(&sb);
}

char *ctl_format_labels(const json_t *labels)
{
	struct strbuf sb;
	const char **keys;
	size_t n;

	if (!json_is_object(labels) || !json_object_size(labels))
		return xstrdup("<none>");
	strbuf_init(&sb, 64);
	keys = sorted_keys(labels, &n);
	for (size_t i = 0; i < n; i++) {
		const char *v = json_string_value(json_object_get(labels, keys[i]));
		strbuf_addf(&sb, "%s%s=%s", i ? "," : "", keys[i], v ? v : "");
	}
	free(keys);
	return strbuf_detach(&sb, NULL);
}

static bool column_shown(const json_t *col, const struct ctl_table_opts *o)
{
	return o->wide || obj_int(col, "priority", 0) == 0;
}

int ctl_table_write(struct ctl_tabwriter *w, const json_t *table, const struct ctl_table_opts *o,
		    bool show_labels, bool headers)
{
	const json_t *cols = obj_get(table, "columnDefinitions"), *rows = obj_get(table, "rows");
	size_t ncols = json_array_size(cols), i, j;
	int name_col = -1;
	const json_t *row, *col;

	if (!json_array_size(rows))
		return 0;
	if (o->with_kind && o->kind_prefix) {
		json_array_foreach((json_t *)cols, j, col)
			if (!strcmp(obj_str(col, "format") ?: "", "name") && !strcmp(obj_str(col, "type") ?: "", "string")) {
				name_col = (int)j;
				break;
			}
	}
	if (headers && !o->no_headers) {
		bool first = true;
		if (o->show_ns) {
			ctl_tabwriter_printf(w, "NAMESPACE");
			first = false;
		}
		json_array_foreach((json_t *)cols, j, col) {
			const char *name = obj_str(col, "name") ?: "";
			if (!column_shown(col, o))
				continue;
			if (!first)
				ctl_tabwriter_write(w, "\t", 1);
			first = false;
			for (const char *p = name; *p; p++)
				ctl_tabwriter_printf(w, "%c", toupper((unsigned char)*p));
		}
		if (show_labels)
			ctl_tabwriter_printf(w, "%sLABELS", first ? "" : "\t");
		ctl_tabwriter_write(w, "\n", 1);
	}
	json_array_foreach((json_t *)rows, i, row) {
		const json_t *cells = obj_get(row, "cells");
		const json_t *md = obj_get(row, "object.metadata");
		bool first = true;

		if (o->show_ns) {
			ctl_tabwriter_printf(w, "%s", obj_str(md, "namespace") ?: "");
			first = false;
		}
		for (j = 0; j < json_array_size(cells) && j < ncols; j++) {
			const json_t *cell = json_array_get(cells, j);
			if (!column_shown(json_array_get(cols, j), o))
				continue;
			if (!first)
				ctl_tabwriter_write(w, "\t", 1);
			first = false;
			if ((int)j == name_col) {
				json_t *named = json_sprintf("%s/%s", o->kind_prefix,
							     json_is_string(cell) ? json_string_value(cell) : "");
				add_cell(w, named);
				json_decref(named);
			} else {
				add_cell(w, cell);
			}
		}
		if (show_labels) {
			char *l = ctl_format_labels(obj_get(md, "labels"));
			ctl_tabwriter_printf(w, "%s%s", first ? "" : "\t", l);
			free(l);
		}
		ctl_tabwriter_write(w, "\n", 1);
	}
	return (int)json_array_size(rows);
}

void ctl_print_table(const json_t *table, const struct ctl_table_opts *o)
{
	struct ctl_tabwriter *w = ctl_tabwriter_new(stdout, CTL_TABLE_MINWIDTH, CTL_TABLE_PADDING, true);

	ctl_table_write(w, table, o, false, true);
	ctl_tabwriter_free(w);
}
