/*
 * `minictl events`: the namespace's (or with -A every) Event, oldest first,
 * in kubectl 1.32's `kubectl events` table: LAST SEEN, TYPE, REASON, OBJECT,
 * MESSAGE. --for KIND/NAME keeps one object's events (a field selector on
 * involvedObject), --types keeps Normal or Warning ones, -w prints new
 * events as they come (list, then watch from the list's resourceVersion).
 */
#include "core/object.h"
#include "core/util.h"
#include "ctl/ctl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: minictl events [-n NS | -A] [--for KIND/NAME] [--types Normal,Warning] [-w] [--no-headers]\n"
	"                      [-o json|yaml]\n\n"
	"Lists events, oldest first; -w keeps printing new ones.\n";

struct events_opts {
	bool watch;
	bool no_headers;
	bool all_ns;
	struct flag_list types;
	const char *ns;
};

/* A timestamp field as time_t; 0 when missing or malformed (Go's zero time). */
static time_t ts(const json_t *ev, const char *path)
{
	const char *s = obj_str(ev, path);
	time_t t;

	return s && *s && time_parse_rfc3339(s, &t) == 0 ? t : 0;
}

static void since(time_t t, time_t now, char *buf, size_t len)
{
	if (!t)
		snprintf(buf, len, "<unknown>");
	else
		duration_short((int64_t)(now - t), buf, len);
}

/* kubectl's LAST SEEN: "5m", or "10s (x5 over 3m20s)" for repeated events. */
static void last_seen(const json_t *ev, time_t now, char *buf, size_t len)
{
	char first[32], last[32];
	time_t event_time = ts(ev, "eventTime");

	since(event_time ? event_time : ts(ev, "firstTimestamp"), now, first, sizeof(first));
	if (obj_get(ev, "series")) {
		since(ts(ev, "series.lastObservedTime"), now, last, sizeof(last));
		snprintf(buf, len, "%s (x%lld over %s)", last, (long long)obj_int(ev, "series.count", 0), first);
	} else if (obj_int(ev, "count", 0) > 1) {
		since(ts(ev, "lastTimestamp"), now, last, sizeof(last));
		snprintf(buf, len, "%s (x%lld over %s)", last, (long long)obj_int(ev, "count", 0), first);
	} else {
		snprintf(buf, len, "%s", first);
	}
}

/* The time events sort by: the series' last, else lastTimestamp, else eventTime. */
static time_t sort_time(const json_t *ev)
{
	if (obj_get(ev, "series"))
		return ts(ev, "series.lastObservedTime");
	if (ts(ev, "lastTimestamp"))
		return ts(ev, "lastTimestamp");
	return ts(ev, "eventTime");
}

static int event_cmp(const void *a, const void *b)
{
	time_t x = sort_time(*(json_t *const *)a), y = sort_time(*(json_t *const *)b);

	return (x > y) - (x < y);
}

static bool type_wanted(const json_t *ev, const struct events_opts *o)
{
	const char *type = obj_str(ev, "type") ?: "";

	if (!o->types.n)
		return true;
	for (int i = 0; i < o->types.n; i++)
		if (!strcasecmp(o->types.items[i], type))
			return true;
	return false;
}

static void print_heading(struct ctl_tabwriter *w, const struct events_opts *o)
{
	ctl_tabwriter_printf(w, "%sLAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE\n", o->all_ns ? "NAMESPACE\t" : "");
}

static void print_event(struct ctl_tabwriter *w, const json_t *ev, const struct events_opts *o, time_t now)
{
	char seen[96];
	const char *msg = obj_str(ev, "message") ?: "";
	size_t mlen = strlen(msg);

	while (isspace((unsigned char)*msg)) {
		msg++;
		mlen--;
	}
	while (mlen && isspace((unsigned char)msg[mlen - 1]))
		mlen--;
	last_seen(ev, now, seen, sizeof(seen));
	if (o->all_ns)
		ctl_tabwriter_printf(w, "%s\t", obj_namespace(ev) ?: "");
	ctl_tabwriter_printf(w, "%s\t%s\t%s\t%s/%s\t%.*s\n", seen, obj_str(ev, "type") ?: "", obj_str(ev, "reason") ?: "",
			     obj_str(ev, "involvedObject.kind") ?: "", obj_str(ev, "involvedObject.name") ?: "",
			     (int)mlen, msg);
}

struct events_watch {
	const struct events_opts *o;
	struct ctl_tabwriter *w;
	bool headed;
	char *rv;
	struct rest_request *req;
	bool failed;
};

static void on_event(const char *type, json_t *object, void *data)
{
	struct events_watch *ew = data;

	if (object && obj_str(object, "metadata.resourceVersion")) {
		free(ew->rv);
		ew->rv = xstrdup(obj_str(object, "metadata.resourceVersion"));
	}
	/* Events are deleted after an hour; that is not news. */
	if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED"))
		return;
	if (!type_wanted(object, ew->o))
		return;
	if (!ew->headed && !ew->o->no_headers)
		print_heading(ew->w, ew->o);
	ew->headed = true;
	print_event(ew->w, object, ew->o, time(NULL));
	ctl_tabwriter_flush(ew->w);
	fflush(stdout);
}

static void on_watch_done(const struct rest_response *resp, void *data)
{
	struct events_watch *ew = data;

	ew->req = NULL;
	if (!resp->error)
		return;  /* the server closed the watch: resume it */
	if (resp->status == 410) {
		fprintf(stderr, "error: the watch expired (%s); run the command again\n", resp->error);
	} else if (resp->status) {
		ctl_print_status(resp->body, resp->status);
	} else {
		fprintf(stderr, "error: %s\n", resp->error);
	}
	ew->failed = true;
}

static char *list_path(const char *base, const char *field_selector, const char *watch_rv)
{
	struct strbuf path;

	strbuf_init(&path, 256);
	strbuf_adds(&path, base);
	if (field_selector)
		rest_query_add(&path, "fieldSelector", field_selector);
	if (watch_rv) {
		rest_query_add(&path, "watch", "1");
		rest_query_add(&path, "resourceVersion", watch_rv);
	}
	return strbuf_detach(&path, NULL);
}

int ctl_events(struct ctl *c, int argc, char **argv)
{
	struct events_opts o = { 0 };
	char *for_obj = NULL, *output = NULL, *base = NULL, *path = NULL, *field_selector = NULL;
	const struct flag flags[] = {
		{ "watch", FLAG_BOOL, &o.watch, "after listing, print new events as they happen" },
		{ "w", FLAG_BOOL, &o.watch, "short for --watch" },
		{ "for", FLAG_STRING, &for_obj, "only events about this object (KIND/NAME)" },
		{ "types", FLAG_LIST, &o.types, "only events of these types (Normal, Warning)" },
		{ "no-headers", FLAG_BOOL, &o.no_headers, "no header line" },
		{ "output", FLAG_STRING, &output, "json or yaml" },
		{ "o", FLAG_STRING, &output, "short for --output" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), flags, NULL };
	struct ctl_tabwriter *w = NULL;
	json_t *list = NULL, *items = NULL, **v = NULL;
	int n, rc = 1, status;
	size_t count = 0;
	time_t now;

	ctl_expand_short_flags(argc, argv, "o");
	n = flags_parse(tables, usage, argc, argv);
	if (n < 0)
		goto out;
	if (n > 0) {
		fprintf(stderr, "error: unexpected arguments: %s\nTo see one object's events: minictl events --for "
				"KIND/NAME\n", argv[1]);
		goto out;
	}
	for (int i = 0; i < o.types.n; i++)
		if (strcasecmp(o.types.items[i], "Normal") && strcasecmp(o.types.items[i], "Warning")) {
			fprintf(stderr, "error: valid --types are Normal or Warning\n");
			goto out;
		}
	if (output && strcmp(output, "json") && strcmp(output, "yaml")) {
		fprintf(stderr, "error: unable to match a printer suitable for the output format \"%s\", allowed "
				"formats are: json,yaml\n", output);
		goto out;
	}
	if (for_obj) {
		const char *slash = strchr(for_obj, '/');
		char *type;
		const struct kind *k;
		if (!slash || !slash[1]) {
			fprintf(stderr, "error: --for must be in resource/name form, e.g. --for pod/web-1\n");
			goto out;
		}
		type = xstrndup(for_obj, (size_t)(slash - for_obj));
		k = ctl_resolve_kind(type);
		free(type);
		if (!k)
			goto out;
		field_selector = xasprintf("involvedObject.kind=%s,involvedObject.apiVersion=%s,involvedObject.name=%s",
					   k->kind, kind_api_version(k), slash + 1);
	}
	if (ctl_connect(c) < 0)
		goto out;
	o.all_ns = c->opt.all_namespaces;
	o.ns = c->ns;
	base = ctl_kind_path(&kind_event, o.all_ns ? NULL : c->ns, NULL);
	path = list_path(base, field_selector, NULL);
	status = ctl_request(c, "GET", path, NULL, NULL, NULL, &list);
	if (status != 200) {
		ctl_print_status(list, status);
		goto out;
	}
	items = obj_get(list, "items");
	v = xcalloc(json_array_size(items) + 1, sizeof(*v));
	for (size_t i = 0; i < json_array_size(items); i++)
		if (type_wanted(json_array_get(items, i), &o))
			v[count++] = json_array_get(items, i);
	qsort(v, count, sizeof(*v), event_cmp);
	if (output) {
		json_t *arr = json_array();
		for (size_t i = 0; i < count; i++)
			json_array_append(arr, v[i]);
		rc = ctl_print_objects(output, arr, false) < 0;
		json_decref(arr);
		goto out;
	}
	w = ctl_tabwriter_new(stdout, CTL_TABLE_MINWIDTH, CTL_TABLE_PADDING, true);
	if (!count && !o.watch) {
		if (o.all_ns)
			fprintf(stderr, "No events found.\n");
		else
			fprintf(stderr, "No events found in %s namespace.\n", c->ns);
	}
	now = time(NULL);
	if (count && !o.no_headers)
		print_heading(w, &o);
	for (size_t i = 0; i < count; i++)
		print_event(w, v[i], &o, now);
	ctl_tabwriter_flush(w);
	fflush(stdout);
	rc = 0;
	if (o.watch) {
		struct events_watch ew = { &o, w, count > 0, xstrdup(obj_str(list, "metadata.resourceVersion") ?: ""), NULL,
					   false };
		/* Until interrupted; a watch the server ends is resumed. */
		while (!ew.failed) {
			char *wpath = list_path(base, field_selector, ew.rv);
			uint64_t started = now_ms();
			ew.req = rest_watch(c->rest, wpath, on_event, on_watch_done, &ew);
			free(wpath);
			if (!ew.req) {
				ew.failed = true;
				break;
			}
			rest_client_run(c->rest);
			/* A server that ends watches at once is not hammered. */
			if (!ew.failed && now_ms() - started < 1000)
				usleep(1000 * 1000);
		}
		free(ew.rv);
		rc = 1;
	}
out:
	ctl_tabwriter_free(w);
	free(v);
	json_decref(list);
	free(base);
	free(path);
	free(field_selector);
	free(for_obj);
	free(output);
	ctl_flag_list_release(&o.types);
	return rc;
}
