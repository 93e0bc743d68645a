/*
 * `minictl get`: lists or fetches objects and prints them as kubectl does.
 * For the human formats it asks the server for a meta.k8s.io Table (so the
 * columns are the server's, identical to kubectl's) and lays the tables out
 * with kubectl's tab writer: several kinds get kind-prefixed names and a
 * blank line between kinds, -A a NAMESPACE column. -o json|yaml|name fetch
 * plain objects; -w prints the table and then one row per change.
 */
#include "ctl/ctl.h"
#include "core/object.h"
#include "core/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_ACCEPT "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

static const char usage[] =
	"usage: minictl get KIND[,KIND...] [NAME...] | KIND/NAME... | all  [-o wide|json|yaml|name]\n"
	"                   [-l SELECTOR] [--field-selector F] [-n NS | -A] [-w] [--no-headers] [--show-labels]\n\n"
	"Lists objects, or shows the named ones; `all` means pods, services, deployments and replica sets.\n";

/* One thing to fetch: a kind's collection (name NULL) or one object. */
struct request {
	const struct kind *k;
	const char *name;   /* borrowed from argv */
};

struct get_opts {
	const char *output;   /* NULL (table), "wide", "json", "yaml", "name" */
	const char *labels;
	const char *fields;
	bool no_headers;
	bool show_labels;
	bool ignore_not_found;
	bool watch;
	bool watch_only;
};

struct requests {
	struct request *v;
	int n;
};

static void add_request(struct requests *r, const struct kind *k, const char *name)
{
	r->v = xrealloc(r->v, sizeof(*r->v) * (size_t)(r->n + 1));
	r->v[r->n].k = k;
	r->v[r->n].name = name;
	r->n++;
}

static bool in_category_all(const struct kind *k)
{
	for (int i = 0; k->categories && k->categories[i]; i++)
		if (!strcmp(k->categories[i], "all"))
			return true;
	return false;
}

/* Turns the positional arguments into requests. Returns 0 or -1 (printed). */
static int parse_requests(int npos, char **argv, struct requests *r)
{
	if (strchr(argv[1], '/')) {
		for (int i = 1; i <= npos; i++) {
			char *slash = strchr(argv[i], '/'), *kname;
			const struct kind *k;
			if (!slash || !slash[1]) {
				fprintf(stderr, "error: arguments in resource/name form must have a single resource and "
						"name (got \"%s\")\n", argv[i]);
				return -1;
			}
			kname = xstrndup(argv[i], (size_t)(slash - argv[i]));
			k = ctl_resolve_kind(kname);
			free(kname);
			if (!k)
				return -1;
			add_request(r, k, slash + 1);
		}
		return 0;
	}
	for (int i = 2; i <= npos; i++)
		if (strchr(argv[i], '/')) {
			fprintf(stderr, "error: there is no need to specify a resource type as a separate argument when "
					"passing arguments in resource/name form (e.g. 'minictl get %s' instead of "
					"'minictl get %s %s')\n", argv[i], argv[1], argv[i]);
			return -1;
		}
	{
		char *types = xstrdup(argv[1]), *save = NULL;
		int rc = 0;
		for (char *ty = strtok_r(types, ",", &save); ty && !rc; ty = strtok_r(NULL, ",", &save)) {
			const struct kind *ks[16];
			int nk = 0;
			if (!strcmp(ty, "all")) {
				for (int j = 0; kinds[j] && nk < 16; j++)
					if (in_category_all(kinds[j]))
						ks[nk++] = kinds[j];
			} else {
				ks[0] = ctl_resolve_kind(ty);
				if (!ks[0]) {
					rc = -1;
					break;
				}
				nk = 1;
			}
			for (int j = 0; j < nk; j++) {
				if (npos == 1)
					add_request(r, ks[j], NULL);
				for (int i = 2; i <= npos; i++)
					add_request(r, ks[j], argv[i]);
			}
		}
		free(types);
		return rc;
	}
}

static char *request_path(struct ctl *c, const struct request *rq, const struct get_opts *o)
{
	char *p = ctl_kind_path(rq->k, c->opt.all_namespaces && !rq->name ? NULL : c->ns, rq->name);
	struct strbuf sb;

	strbuf_init(&sb, 128);
	strbuf_adds(&sb, p);
	free(p);
	if (!rq->name) {
		if (o->labels && *o->labels)
			rest_query_add(&sb, "labelSelector", o->labels);
		if (o->fields && *o->fields)
			rest_query_add(&sb, "fieldSelector", o->fields);
	}
	return strbuf_detach(&sb, NULL);
}

/* kubectl's name for a kind in prefixes: "pod", "deployment.apps". */
static void kind_prefix(const struct kind *k, char *buf, size_t len)
{
	size_t i;

	for (i = 0; k->kind[i] && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)k->kind[i]);
	buf[i] = '\0';
	if (k->group[0])
		snprintf(buf + i, len - i, ".%s", k->group);
}

/* Errors are printed after the output, as kubectl gathers them. */
struct errors {
	json_t *list;   /* array of [status, code] */
};

static void error_add(struct errors *e, json_t *status, int code)
{
	json_array_append_new(e->list, json_pack("[O?, i]", status, code));
}

static int errors_print(struct errors *e)
{
	size_t i;
	json_t *it;

	json_array_foreach(e->list, i, it)
		ctl_print_status(json_array_get(it, 0), (int)json_integer_value(json_array_get(it, 1)));
	return (int)json_array_size(e->list);
}

/* The human formats: every request's Table, then printed kind by kind. */
static int get_tables(struct ctl *c, const struct requests *r, const struct get_opts *o)
{
	struct ctl_tabwriter *w = ctl_tabwriter_new(stdout, CTL_TABLE_MINWIDTH, CTL_TABLE_PADDING, true);
	struct errors errs = { json_array() };
	json_t *tables = json_array();
	bool with_kind = false, all_namespaced = !c->opt.all_namespaces, separator = false;
	const struct kind *last = NULL, *first_kind = NULL;
	json_t *last_cols = NULL;
	bool printed_headers = false;
	size_t written = 0;
	int pending_rows = 0, rc = 0;

	for (int i = 0; i < r->n; i++) {
		char *path = request_path(c, &r->v[i], o);
		json_t *t = NULL;
		int status = ctl_request(c, "GET", path, NULL, NULL, TABLE_ACCEPT, &t);
		free(path);
		if (status == 0 || status == 401) {
			json_decref(t);
			rc = 1;
			goto out;
		}
		if (status != 200) {
			if (!(status == 404 && o->ignore_not_found))
				error_add(&errs, t, status);
			json_decref(t);
			json_array_append_new(tables, json_null());
			continue;
		}
		json_array_append_new(tables, t);
		/* kubectl prefixes names when what it got spans several kinds */
		if (!first_kind)
			first_kind = r->v[i].k;
		else if (r->v[i].k != first_kind)
			with_kind = true;
	}
	for (int i = 0; i < r->n; i++) {
		const struct kind *k = r->v[i].k;
		json_t *t = json_array_get(tables, (size_t)i);
		char prefix[96];
		struct ctl_table_opts to;
		bool headers;

		all_namespaced = all_namespaced && k->namespaced;
		if (json_is_null(t))
			continue;
		if (k != last) {
			/* A new kind: its own header and widths, a blank line before
			 * it when something was printed already. */
			if (pending_rows && separator)
				putchar('\n');
			written += ctl_tabwriter_flush(w);
			if (pending_rows)
				separator = false;
			pending_rows = 0;
			ctl_tabwriter_forget_widths(w);
			if (last && !o->no_headers && written > 0)
				separator = true;
			last = k;
			last_cols = NULL;
			printed_headers = false;
		}
		kind_prefix(k, prefix, sizeof(prefix));
		to = (struct ctl_table_opts){
			.wide = o->output && !strcmp(o->output, "wide"),
			.show_ns = c->opt.all_namespaces && k->namespaced,
			.with_kind = with_kind,
			.no_headers = o->no_headers,
			.kind_prefix = prefix,
		};
		headers = !(printed_headers && json_equal(obj_get(t, "columnDefinitions"), last_cols));
		last_cols = obj_get(t, "columnDefinitions");
		if (json_array_size(obj_get(t, "rows")))
			printed_headers = true;
		pending_rows += ctl_table_write(w, t, &to, o->show_labels, headers);
	}
	if (pending_rows && separator)
		putchar('\n');
	written += ctl_tabwriter_flush(w);
	fflush(stdout);
	if (errors_print(&errs))
		rc = 1;
	else if (!written && !o->ignore_not_found) {
		if (all_namespaced)
			fprintf(stderr, "No resources found in %s namespace.\n", c->ns);
		else
			fprintf(stderr, "No resources found\n");
	}
out:
	ctl_tabwriter_free(w);
	json_decref(tables);
	json_decref(errs.list);
	return rc;
}

/* Items of a list lack nothing on minik8s, but a List from any server may
 * leave out kind and apiVersion: put them back as kubectl does. */
static void fill_type(json_t *item, const struct kind *k)
{
	if (!obj_kind(item))
		json_object_set_new(item, "kind", json_string(k->kind));
	if (!obj_str(item, "apiVersion"))
		json_object_set_new(item, "apiVersion", json_string(kind_api_version(k)));
}

static int get_objects(struct ctl *c, const struct requests *r, const struct get_opts *o)
{
	struct errors errs = { json_array() };
	json_t *items = json_array();
	int rc = 0;

	for (int i = 0; i < r->n; i++) {
		char *path = request_path(c, &r->v[i], o);
		json_t *body = NULL, *it;
		int status = ctl_request(c, "GET", path, NULL, NULL, NULL, &body);
		size_t j;

		free(path);
		if (status == 0 || status == 401) {
			json_decref(body);
			rc = 1;
			goto out;
		}
		if (status != 200) {
			if (!(status == 404 && o->ignore_not_found))
				error_add(&errs, body, status);
		} else if (r->v[i].name) {
			fill_type(body, r->v[i].k);
			json_array_append(items, body);
		} else {
			json_array_foreach(obj_get(body, "items"), j, it) {
				fill_type(it, r->v[i].k);
				json_array_append(items, it);
			}
		}
		json_decref(body);
	}
	if (json_array_size(items) || r->n != 1 || !r->v[0].name)
		if (ctl_print_objects(o->output, items, r->n == 1 && r->v[0].name) < 0)
			rc = 1;
	fflush(stdout);
	if (errors_print(&errs))
		rc = 1;
out:
	json_decref(items);
	json_decref(errs.list);
	return rc;
}

/* ---- -w ------------------------------------------------------------------ */

struct watch_state {
	struct ctl *c;
	const struct kind *k;
	const struct get_opts *o;
	struct ctl_tabwriter *w;
	struct ctl_table_opts to;
	json_t *cols;          /* the list table's column definitions */
	bool printed_headers;
	int rc;
};

/*
 * The Table row for obj. The client library's watch cannot ask for Tables
 * (rest_watch sends Accept: application/json), so rows are made here from
 * the same registry columns the server uses for its Tables.
 */
static json_t *row_table(struct watch_state *ws, const json_t *obj)
{
	json_t *cells = json_array();
	time_t now = time(NULL);

	if (obj_kind(obj) && !strcmp(obj_kind(obj), "Table"))
		return json_incref((json_t *)obj);
	json_array_append_new(cells, json_string(obj_name(obj) ?: ""));
	for (const struct table_column *col = ws->k->columns; col && col->name; col++) {
		json_t *cell = col->cell ? col->cell(obj, now) : NULL;
		json_array_append_new(cells, cell ? cell : json_string("<none>"));
	}
	return json_pack("{s:s, s:s, s:O, s:[{s:o, s:{s:O?}}]}", "kind", "Table", "apiVersion", "meta.k8s.io/v1",
			 "columnDefinitions", ws->cols, "rows", "cells", cells, "object", "metadata",
			 obj_get(obj, "metadata"));
}

static void on_watch_event(const char *type, json_t *object, void *data)
{
	struct watch_state *ws = data;

	if (!strcmp(type, "BOOKMARK"))
		return;
	if (!strcmp(type, "ERROR")) {
		ctl_print_status(object, (int)obj_int(object, "code", 500));
		ws->rc = 1;
		return;
	}
	if (ws->o->output && strcmp(ws->o->output, "wide")) {
		json_t *items = json_pack("[O]", object);
		if (!strcmp(ws->o->output, "yaml"))
			printf("---\n");
		ctl_print_objects(ws->o->output, items, true);
		json_decref(items);
		fflush(stdout);
		return;
	}
	{
		json_t *t = row_table(ws, object);
		ctl_table_write(ws->w, t, &ws->to, ws->o->show_labels, !ws->printed_headers);
		ws->printed_headers = true;
		ctl_tabwriter_flush(ws->w);
		json_decref(t);
	}
}

static void on_watch_done(const struct rest_response *resp, void *data)
{
	struct watch_state *ws = data;

	if (resp->error) {
		if (resp->status && resp->body)
			ctl_print_status(resp->body, resp->status);
		else
			fprintf(stderr, "error: the watch ended: %s\n", resp->error);
		ws->rc = 1;
	}
}

static int get_watch(struct ctl *c, const struct requests *r, const struct get_opts *o)
{
	struct watch_state ws = { .c = c, .k = r->v[0].k, .o = o };
	struct get_opts lo = *o;
	struct request rq = r->v[0];
	char *path, prefix[96], *fsel = NULL;
	json_t *t = NULL;
	const char *rv;
	struct strbuf wp;
	int status;

	if (r->n > 1) {
		fprintf(stderr, "error: watch is only supported on individual resources and resource "
				"collections - more than 1 resource was found\n");
		return 1;
	}
	/* One object is watched as a list narrowed to its name, so the list's
	 * resourceVersion starts the watch with no replayed event. */
	if (rq.name) {
		fsel = o->fields && *o->fields ? xasprintf("%s,metadata.name=%s", o->fields, rq.name)
					       : xasprintf("metadata.name=%s", rq.name);
		lo.fields = fsel;
		rq.name = NULL;
	}
	path = request_path(c, &rq, &lo);
	status = ctl_request(c, "GET", path, NULL, NULL, TABLE_ACCEPT, &t);
	if (status != 200) {
		ctl_print_status(t, status);
		json_decref(t);
		free(path);
		free(fsel);
		return 1;
	}
	kind_prefix(ws.k, prefix, sizeof(prefix));
	ws.w = ctl_tabwriter_new(stdout, CTL_TABLE_MINWIDTH, CTL_TABLE_PADDING, true);
	ws.to = (struct ctl_table_opts){
		.wide = o->output && !strcmp(o->output, "wide"),
		.show_ns = c->opt.all_namespaces && ws.k->namespaced,
		.no_headers = o->no_headers,
		.kind_prefix = prefix,
	};
	ws.cols = json_incref(obj_get(t, "columnDefinitions"));
	if (!o->watch_only) {
		if (o->output && strcmp(o->output, "wide")) {
			/* the objects themselves, for -o json|yaml|name */
			json_t *body = NULL, *items;
			status = ctl_request(c, "GET", path, NULL, NULL, NULL, &body);
			items = obj_get(body, "items");
			if (status == 200 && json_array_size(items)) {
				size_t j;
				json_t *it;
				json_array_foreach(items, j, it)
					on_watch_event("ADDED", it, &ws);
			}
			json_decref(body);
		} else {
			ws.printed_headers = ctl_table_write(ws.w, t, &ws.to, o->show_labels, true) > 0;
			ctl_tabwriter_flush(ws.w);
		}
	}
	rv = obj_str(t, "metadata.resourceVersion");
	strbuf_init(&wp, 128);
	strbuf_adds(&wp, path);
	rest_query_add(&wp, "watch", "1");
	rest_query_add(&wp, "resourceVersion", rv ? rv : "0");
	if (!rest_watch(c->rest, wp.buf, on_watch_event, on_watch_done, &ws)) {
		fprintf(stderr, "error: cannot start watching %s\n", wp.buf);
		ws.rc = 1;
	} else {
		rest_client_run(c->rest);
	}
	strbuf_release(&wp);
	ctl_tabwriter_free(ws.w);
	json_decref(ws.cols);
	json_decref(t);
	free(path);
	free(fsel);
	return ws.rc;
}

int ctl_get(struct ctl *c, int argc, char **argv)
{
	char *output = NULL, *labels = NULL, *fields = NULL;
	struct get_opts o = { 0 };
	const struct flag get_flags[] = {
		{ "output", FLAG_STRING, &output, "wide, json, yaml or name" },
		{ "o", FLAG_STRING, &output, "short for --output" },
		{ "selector", FLAG_STRING, &labels, "label selector (app=web,tier!=db, env in (a,b))" },
		{ "l", FLAG_STRING, &labels, "short for --selector" },
		{ "field-selector", FLAG_STRING, &fields, "field selector (metadata.name=x, spec.nodeName=n1)" },
		{ "no-headers", FLAG_BOOL, &o.no_headers, "leave out the header line" },
		{ "show-labels", FLAG_BOOL, &o.show_labels, "add a LABELS column" },
		{ "ignore-not-found", FLAG_BOOL, &o.ignore_not_found, "objects that do not exist are not an error" },
		{ "watch", FLAG_BOOL, &o.watch, "after the list, print each change as it happens (Ctrl-C ends)" },
		{ "w", FLAG_BOOL, &o.watch, "short for --watch" },
		{ "watch-only", FLAG_BOOL, &o.watch_only, "print changes only, not the list first" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), get_flags, NULL };
	struct requests r = { NULL, 0 };
	int npos, rc = 1;

	ctl_expand_short_flags(argc, argv, "onlv");
	npos = flags_parse(tables, usage, argc, argv);
	if (npos < 0)
		goto out;
	o.output = output && *output ? output : NULL;
	o.labels = labels;
	o.fields = fields;
	if (o.watch_only)
		o.watch = true;
	if (o.output && strcmp(o.output, "wide") && strcmp(o.output, "json") && strcmp(o.output, "yaml") &&
	    strcmp(o.output, "name")) {
		fprintf(stderr, "error: unable to match a printer suitable for the output format \"%s\", allowed "
				"formats are: json,name,wide,yaml\n", o.output);
		goto out;
	}
	if (npos == 0) {
		fprintf(stderr, "error: you must specify the type of resource to get, e.g. `minictl get pods`; "
				"`minictl api-resources` lists the kinds\n");
		goto out;
	}
	if (parse_requests(npos, argv, &r) < 0)
		goto out;
	for (int i = 0; i < r.n; i++) {
		if (r.v[i].name && ((labels && *labels) || (fields && *fields))) {
			fprintf(stderr, "error: name cannot be provided when a selector is specified\n");
			goto out;
		}
		if (r.v[i].name && c->opt.all_namespaces && r.v[i].k->namespaced) {
			fprintf(stderr, "error: a resource cannot be retrieved by name across all namespaces\n");
			goto out;
		}
	}
	if (ctl_connect(c) < 0)
		goto out;
	if (o.watch)
		rc = get_watch(c, &r, &o);
	else if (o.output && strcmp(o.output, "wide"))
		rc = get_objects(c, &r, &o);
	else
		rc = get_tables(c, &r, &o);
out:
	free(r.v);
	free(output);
	free(labels);
	free(fields);
	return rc;
}
