/*
 * `minictl api-resources`: the kinds the server serves, read from its
 * discovery documents (/api/v1, /apis, /apis/G/V) rather than from our own
 * registry, so it shows what this server says, as kubectl does. Rows are
 * sorted by group then name and printed with kubectl 1.32's columns:
 * NAME SHORTNAMES APIVERSION NAMESPACED KIND (VERBS, CATEGORIES when wide).
 */
#include "core/object.h"
#include "core/util.h"
#include "ctl/ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: minictl api-resources [--namespaced=true|false] [--api-group G] [-o wide|name]\n"
	"                             [--sort-by name|kind] [--verbs V,...] [--no-headers]\n\n"
	"Lists the resource types the server serves, from its discovery documents.\n";

struct resource_row {
	const char *group;        /* borrowed from the discovery documents */
	const char *group_version;
	const json_t *res;        /* an APIResource */
};

static const char *sort_by;

static int row_cmp(const void *a, const void *b)
{
	const struct resource_row *x = a, *y = b;
	const char *kx = x->group, *ky = y->group;
	int r;

	if (sort_by && !strcmp(sort_by, "name")) {
		kx = obj_str(x->res, "name");
		ky = obj_str(y->res, "name");
	} else if (sort_by && !strcmp(sort_by, "kind")) {
		kx = obj_str(x->res, "kind");
		ky = obj_str(y->res, "kind");
	}
	r = strcmp(kx ?: "", ky ?: "");
	if (r)
		return r;
	r = strcmp(obj_str(x->res, "name") ?: "", obj_str(y->res, "name") ?: "");
	/* qsort is not stable; discovery order breaks the remaining ties. */
	return r ? r : (x < y ? -1 : x > y);
}

static bool has_all_verbs(const json_t *res, const struct flag_list *verbs)
{
	for (int i = 0; i < verbs->n; i++) {
		json_t *v;
		size_t j;
		bool found = false;
		json_array_foreach(obj_get(res, "verbs"), j, v)
			found |= json_is_string(v) && !strcmp(json_string_value(v), verbs->items[i]);
		if (!found)
			return false;
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The strings of arr joined by ',' (sorted when sort). */
static void join(struct strbuf *sb, const json_t *arr, bool sort)
{
	size_t n = json_array_size(arr), k = 0;
	const char **v = xcalloc(n + 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		if (json_is_string(json_array_get(arr, i)))
			v[k++] = json_string_value(json_array_get(arr, i));
	if (sort)
		qsort(v, k, sizeof(*v), cmp_str);
	for (size_t i = 0; i < k; i++)
		strbuf_addf(sb, "%s%s", i ? "," : "", v[i]);
	free(v);
}

/* GETs a discovery document; prints and returns NULL on failure. */
static json_t *discover(struct ctl *c, const char *path)
{
	json_t *doc = NULL;
	int status = ctl_request(c, "GET", path, NULL, NULL, NULL, &doc);

	if (status >= 200 && status < 300 && json_is_object(doc))
		return doc;
	if (status >= 300)
		ctl_print_status(doc, status);
	json_decref(doc);
	return NULL;
}

int ctl_api_resources(struct ctl *c, int argc, char **argv)
{
	bool namespaced = false, ns_given = false, no_headers = false, cached = false;
	char *output = NULL, *group = NULL, *sort = NULL;
	struct flag_list verbs = { 0 };
	const struct flag flags[] = {
		{ "namespaced", FLAG_BOOL, &namespaced, "only namespaced (true) or cluster-wide (false) kinds" },
		{ "api-group", FLAG_STRING, &group, "only this API group (\"\" for the core group)" },
		{ "output", FLAG_STRING, &output, "wide or name" },
		{ "o", FLAG_STRING, &output, "short for --output" },
		{ "sort-by", FLAG_STRING, &sort, "name or kind (default: group, then name)" },
		{ "verbs", FLAG_LIST, &verbs, "only kinds that support all these verbs" },
		{ "no-headers", FLAG_BOOL, &no_headers, "no header line" },
		{ "cached", FLAG_BOOL, &cached, "accepted for kubectl's sake; minictl always asks the server" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), flags, NULL };
	json_t *docs = json_array(), *groups, *g;
	struct resource_row *rows = NULL;
	size_t nrows = 0, i;
	struct ctl_tabwriter *w = NULL;
	int n, rc = 1;

	/* kubectl filters on --namespaced only when it was given, even as false. */
	for (int a = 1; a < argc && strcmp(argv[a], "--"); a++)
		ns_given |= !strcmp(argv[a], "--namespaced") || str_has_prefix(argv[a], "--namespaced=");
	ctl_expand_short_flags(argc, argv, "o");
	n = flags_parse(tables, usage, argc, argv);
	if (n < 0)
		goto out;
	if (n > 0) {
		fprintf(stderr, "error: unexpected arguments: [%s]\nSee 'minictl api-resources -h' for help\n", argv[1]);
		goto out;
	}
	if (output && strcmp(output, "wide") && strcmp(output, "name")) {
		fprintf(stderr, "error: --output %s is not available\n", output);
		goto out;
	}
	if (sort && strcmp(sort, "name") && strcmp(sort, "kind")) {
		fprintf(stderr, "error: --sort-by accepts only name or kind\n");
		goto out;
	}
	if (ctl_connect(c) < 0)
		goto out;

	/* The core group, then each named group at its preferred version. */
	if (!(g = discover(c, "/api/v1")))
		goto out;
	json_object_set_new(g, "__group", json_string(""));
	json_array_append_new(docs, g);
	if (!(groups = discover(c, "/apis")))
		goto out;
	json_array_foreach(obj_get(groups, "groups"), i, g) {
		const char *gv = obj_str(g, "preferredVersion.groupVersion");
		char *path;
		json_t *doc;
		if (!gv)
			continue;
		path = xasprintf("/apis/%s", gv);
		doc = discover(c, path);
		free(path);
		if (!doc) {
			json_decref(groups);
			goto out;
		}
		json_object_set_new(doc, "__group", json_string(obj_str(g, "name") ?: ""));
		json_array_append_new(docs, doc);
	}
	json_decref(groups);

	json_array_foreach(docs, i, g) {
		const char *grp = obj_str(g, "__group");
		json_t *res;
		size_t j;
		json_array_foreach(obj_get(g, "resources"), j, res) {
			const char *name = obj_str(res, "name");
			if (!name || strchr(name, '/') || !json_array_size(obj_get(res, "verbs")))
				continue;  /* subresources, and kinds that cannot be acted on */
			if (group && strcmp(group, grp))
				continue;
			if (ns_given && obj_bool(res, "namespaced", false) != namespaced)
				continue;
			if (!has_all_verbs(res, &verbs))
				continue;
			rows = xrealloc(rows, sizeof(*rows) * (nrows + 1));
			rows[nrows++] = (struct resource_row){ grp, obj_str(g, "groupVersion"), res };
		}
	}
	sort_by = sort;
	qsort(rows, nrows, sizeof(*rows), row_cmp);

	w = ctl_tabwriter_new(stdout, CTL_TABLE_MINWIDTH, CTL_TABLE_PADDING, false);
	if (!no_headers && !(output && !strcmp(output, "name")))
		ctl_tabwriter_printf(w, "NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND%s\n",
				     output ? "\tVERBS\tCATEGORIES" : "");
	for (i = 0; i < nrows; i++) {
		const json_t *res = rows[i].res;
		struct strbuf sb;

		if (output && !strcmp(output, "name")) {
			ctl_tabwriter_printf(w, "%s%s%s\n", obj_str(res, "name"), rows[i].group[0] ? "." : "",
					     rows[i].group);
			continue;
		}
		strbuf_init(&sb, 128);
		join(&sb, obj_get(res, "shortNames"), false);
		ctl_tabwriter_printf(w, "%s\t%s\t%s\t%s\t%s", obj_str(res, "name"), sb.buf, rows[i].group_version ?: "",
				     obj_bool(res, "namespaced", false) ? "true" : "false", obj_str(res, "kind") ?: "");
		if (output) {
			strbuf_reset(&sb);
			join(&sb, obj_get(res, "verbs"), true);
			ctl_tabwriter_printf(w, "\t%s\t", sb.buf);
			strbuf_reset(&sb);
			join(&sb, obj_get(res, "categories"), false);
			ctl_tabwriter_printf(w, "%s", sb.buf);
		}
		ctl_tabwriter_printf(w, "\n");
		strbuf_release(&sb);
	}
	rc = 0;
out:
	ctl_tabwriter_free(w);
	free(rows);
	json_decref(docs);
	ctl_flag_list_release(&verbs);
	free(output);
	free(group);
	free(sort);
	return rc;
}
