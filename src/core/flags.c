/*
 * The flag parser behind flags.h. Tables are plain arrays so a component's
 * flags are readable at a glance and `minik8s server` can stack them.
 */
#include "flags.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int flags_parse_duration(const char *s, int64_t *ms)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	int64_t total = 0;
	const char *p = s;

	if (!*s)
		return -1;
	while (*p) {
		char *end;
		double v;
		size_t i;

		errno = 0;
		v = strtod(p, &end);
		if (end == p || errno || v < 0)
			return -1;
		p = end;
		if (!*p) {
			if (total || p == s)
				return -1;
			*ms = (int64_t)(v * 1000);
			return 0;
		}
		for (i = 0; i < ARRAY_SIZE(units); i++) {
			size_t ul = strlen(units[i].unit);
			if (!strncmp(p, units[i].unit, ul) &&
			    !(ul == 1 && p[0] == 'm' && p[1] == 's')) {
				total += (int64_t)(v * (double)units[i].ms);
				p += ul;
				break;
			}
		}
		if (i == ARRAY_SIZE(units))
			return -1;
	}
	*ms = total;
	return 0;
}

static const struct flag *find_flag(const struct flag *const *tables, const char *name, size_t len)
{
	for (int t = 0; tables[t]; t++)
		for (const struct flag *f = tables[t]; f->name; f++)
			if (strlen(f->name) == len && !strncmp(f->name, name, len))
				return f;
	return NULL;
}

static void unknown_flag(const struct flag *const *tables, const char *name)
{
	const struct flag *best = NULL;
	int bestd = INT_MAX;

	for (int t = 0; tables[t]; t++)
		for (const struct flag *f = tables[t]; f->name; f++) {
			int d = str_distance(name, f->name);
			if (d < bestd) {
				bestd = d;
				best = f;
			}
		}
	if (best && bestd <= 3)
		fprintf(stderr, "error: unknown flag '--%s'; did you mean '--%s'?\n", name, best->name);
	else
		fprintf(stderr, "error: unknown flag '--%s'; see --help for the flags this command takes\n", name);
}

/* String flags given twice (`-n a -n b`) must not leak the first copy, but
 * defaults are string literals we must not free: remember which values we
 * allocated, per variable. */
static struct owned_string {
	char **slot;
	char *value;
} owned[64];

static void set_string(char **slot, const char *val)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(owned) && owned[i].slot; i++)
		if (owned[i].slot == slot)
			break;
	if (i < ARRAY_SIZE(owned) && owned[i].slot == slot && *slot == owned[i].value)
		free(owned[i].value);
	*slot = xstrdup(val);
	if (i < ARRAY_SIZE(owned)) {
		owned[i].slot = slot;
		owned[i].value = *slot;
	}
}

static int set_flag(const struct flag *f, const char *val)
{
	char *end;
	long v;

	switch (f->type) {
	case FLAG_STRING:
		set_string(f->value, val);
		return 0;
	case FLAG_INT:
		errno = 0;
		v = strtol(val, &end, 10);
		if (errno || *end || end == val || v < INT_MIN || v > INT_MAX)
			goto bad;
		*(int *)f->value = (int)v;
		return 0;
	case FLAG_INT64: {
		long long ll;
		errno = 0;
		ll = strtoll(val, &end, 10);
		if (errno || *end || end == val)
			goto bad;
		*(int64_t *)f->value = ll;
		return 0;
	}
	case FLAG_BOOL:
		if (!strcmp(val, "true") || !strcmp(val, "1"))
			*(bool *)f->value = true;
		else if (!strcmp(val, "false") || !strcmp(val, "0"))
			*(bool *)f->value = false;
		else
			goto bad;
		return 0;
	case FLAG_DURATION:
		if (flags_parse_duration(val, (int64_t *)f->value) < 0)
			goto bad;
		return 0;
	case FLAG_LIST: {
		struct flag_list *l = f->value;
		const char *p = val;
		while (*p) {
			const char *c = strchr(p, ',');
			size_t n = c ? (size_t)(c - p) : strlen(p);
			if (n) {
				l->items = xrealloc(l->items, sizeof(char *) * (size_t)(l->n + 1));
				l->items[l->n++] = xstrndup(p, n);
			}
			p += n + (c ? 1 : 0);
		}
		return 0;
	}
	}
bad:
	fprintf(stderr, "error: invalid value '%s' for flag '--%s'%s\n", val, f->name,
		f->type == FLAG_DURATION ? " (want a duration such as 10s, 5m or 1h)" :
		f->type == FLAG_INT || f->type == FLAG_INT64 ? " (want an integer)" :
		f->type == FLAG_BOOL ? " (want true or false)" : "");
	return -1;
}

void flags_print(const struct flag *const *tables)
{
	for (int t = 0; tables[t]; t++)
		for (const struct flag *f = tables[t]; f->name; f++) {
			if (find_flag(tables, f->name, strlen(f->name)) != f)
				continue; /* shared by an earlier table: listed once */
			const char *arg = f->type == FLAG_BOOL ? "" :
					  f->type == FLAG_INT || f->type == FLAG_INT64 ? " N" :
					  f->type == FLAG_DURATION ? " DURATION" : " VALUE";
			char left[64];
			snprintf(left, sizeof(left), "--%s%s", f->name, arg);
			printf("  %-36s %s\n", left, f->help ? f->help : "");
		}
}

int flags_parse(const struct flag *const *tables, const char *usage, int argc, char **argv)
{
	int npos = 0;
	bool done = false;

	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		const struct flag *f;
		const char *name, *eq, *val;

		if (done || a[0] != '-' || !a[1]) {
			argv[1 + npos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			done = true;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			printf("\nFlags:\n");
			flags_print(tables);
			exit(0);
		}
		name = a + (a[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		f = find_flag(tables, name, eq ? (size_t)(eq - name) : strlen(name));
		if (!f) {
			char *n = eq ? xstrndup(name, (size_t)(eq - name)) : xstrdup(name);
			unknown_flag(tables, n);
			free(n);
			return -1;
		}
		if (eq)
			val = eq + 1;
		else if (f->type == FLAG_BOOL)
			val = "true";
		else if (i + 1 < argc)
			val = argv[++i];
		else {
			fprintf(stderr, "error: flag '--%s' needs a value\n", f->name);
			return -1;
		}
		/* Components stacked in one command may share a flag (the kubelet's
		 * and the proxy's --resolv-conf): it sets each of them. */
		for (int t = 0; tables[t]; t++)
			for (const struct flag *g = tables[t]; g->name; g++)
				if (!strcmp(g->name, f->name) && set_flag(g, val) < 0)
					return -1;
	}
	argv[1 + npos] = NULL;
	return npos;
}
