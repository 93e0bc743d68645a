/*
 * `minictl delete`: by manifest (-f), by KIND NAME... or KIND/NAME, by label
 * selector (-l) or everything of a kind (--all, -A). Each DELETE carries
 * DeleteOptions (propagationPolicy from --cascade, --grace-period); then,
 * unless --wait=false, minictl polls until every object is really gone
 * (finalizers and graceful pod shutdown take time), with a progress line on
 * stderr, as `kubectl delete` waits.
 */
#include "ctl/ctl.h"
#include "core/object.h"
#include "core/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS (5 * 60 * 1000)
#define POLL_MS 100

static const char usage[] =
	"usage: minictl delete -f FILE|DIR|- [-R]\n"
	"       minictl delete KIND NAME... | KIND/NAME...\n"
	"       minictl delete KIND[,KIND] (-l SELECTOR | --all) [-A]\n\n"
	"Deletes objects and waits until they are gone (--wait=false to return at once).\n";

struct target {
	const struct kind *k;
	char *ns;
	char *name;
	char *uid;        /* of the object the DELETE hit, to tell a new one of the same name */
	char *where;      /* manifest, for messages, or NULL */
	bool gone;
};

struct targets {
	struct target *v;
	int n;
};

struct delete_opts {
	bool wait;
	bool ignore_not_found;
	int grace_period;
	bool force;
	const char *cascade;
	int64_t timeout_ms;
};

static void add_target(struct targets *t, const struct kind *k, const char *ns, const char *name, const char *where)
{
	struct target *x;

	t->v = xrealloc(t->v, sizeof(*t->v) * (size_t)(t->n + 1));
	x = &t->v[t->n++];
	memset(x, 0, sizeof(*x));
	x->k = k;
	x->ns = k->namespaced && ns ? xstrdup(ns) : NULL;
	x->name = xstrdup(name);
	x->where = where ? xstrdup(where) : NULL;
}

static void targets_release(struct targets *t)
{
	for (int i = 0; i < t->n; i++) {
		free(t->v[i].ns);
		free(t->v[i].name);
		free(t->v[i].uid);
		free(t->v[i].where);
	}
	free(t->v);
}

/* `pod "web"` or `deployment.apps "web"`, as kubectl names what it deletes. */
static const char *quoted_ref(const struct kind *k, const char *name, char *buf, size_t len)
{
	char lower[64];
	size_t i;

	for (i = 0; k->kind[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)k->kind[i]);
	lower[i] = '\0';
	snprintf(buf, len, "%s%s%s \"%s\"", lower, k->group[0] ? "." : "", k->group, name);
	return buf;
}

/* Lists kind k (one namespace or all) with selectors into t. Returns 0 or
 * -1 (printed; -2 for a lost server). */
static int add_listed(struct ctl *c, struct targets *t, const struct kind *k, const char *labels,
		      const char *fields)
{
	char *p = ctl_kind_path(k, c->opt.all_namespaces ? NULL : c->ns, NULL);
	struct strbuf path;
	json_t *list = NULL, *it;
	size_t i;
	int status, rc = 0;

	strbuf_init(&path, 128);
	strbuf_adds(&path, p);
	if (labels && *labels)
		rest_query_add(&path, "labelSelector", labels);
	if (fields && *fields)
		rest_query_add(&path, "fieldSelector", fields);
	status = ctl_request(c, "GET", path.buf, NULL, NULL, NULL, &list);
	if (status != 200) {
		ctl_print_status(list, status);
		rc = status == 0 || status == 401 ? -2 : -1;
	} else {
		json_array_foreach(obj_get(list, "items"), i, it)
			add_target(t, k, obj_namespace(it), obj_name(it) ?: "", NULL);
	}
	json_decref(list);
	strbuf_release(&path);
	free(p);
	return rc;
}

/* Sends the DELETE. Returns 0 (deleted or waiting on finalizers), 1 (not
 * found and ignored), -1 (failed, printed), -2 (server lost). */
static int delete_one(struct ctl *c, struct target *x, const struct delete_opts *o)
{
	char *path = ctl_kind_path(x->k, x->ns, x->name), ref[512], when[4300];
	json_t *body = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1"), *resp = NULL;
	int status, rc = 0;
	const char *uid;

	if (o->cascade)
		json_object_set_new(body, "propagationPolicy", json_string(o->cascade));
	if (o->grace_period >= 0)
		json_object_set_new(body, "gracePeriodSeconds", json_integer(o->grace_period));
	status = ctl_request(c, "DELETE", path, body, NULL, NULL, &resp);
	if (status == 200 || status == 202) {
		printf("%s %s\n", quoted_ref(x->k, x->name, ref, sizeof(ref)), o->force ? "force deleted" : "deleted");
		fflush(stdout);
		/* The object (still finalizing) or a Status whose details name it. */
		uid = obj_str(resp, "metadata.uid");
		if (!uid)
			uid = obj_str(resp, "details.uid");
		x->uid = uid ? xstrdup(uid) : NULL;
	} else if (status == 404 && o->ignore_not_found) {
		x->gone = true;
		rc = 1;
	} else {
		if (x->where)
			snprintf(when, sizeof(when), "error when deleting %s", x->where);
		ctl_print_status_when(resp, status, x->where ? when : NULL);
		x->gone = true;
		rc = status == 0 || status == 401 ? -2 : -1;
	}
	json_decref(resp);
	json_decref(body);
	free(path);
	return rc;
}

/* Whether x no longer exists (404, or a new object with the same name). */
static int check_gone(struct ctl *c, struct target *x)
{
	char *path = ctl_kind_path(x->k, x->ns, x->name);
	json_t *obj = NULL;
	int status = ctl_request(c, "GET", path, NULL, NULL, NULL, &obj);
	const char *uid = obj_str(obj, "metadata.uid");

	free(path);
	if (status == 404 || (status == 200 && x->uid && uid && strcmp(uid, x->uid)))
		x->gone = true;
	json_decref(obj);
	if (status == 0 || status == 401)
		return -2;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Polls until every deleted target is gone, with a progress line. */
static int wait_gone(struct ctl *c, struct targets *t, const struct delete_opts *o)
{
	uint64_t start = now_ms(), next_report = 1000;
	bool tty = isatty(STDERR_FILENO), reported = false;
	char ref[512];

	for (;;) {
		int pending = 0, first = -1;
		uint64_t elapsed;

		for (int i = 0; i < t->n; i++) {
			if (t->v[i].gone)
				continue;
			if (check_gone(c, &t->v[i]) < 0)
				return -1;
			if (!t->v[i].gone) {
				pending++;
				if (first < 0)
					first = i;
			}
		}
		elapsed = now_ms() - start;
		if (!pending)
			break;
		if ((int64_t)elapsed >= o->timeout_ms) {
			if (tty && reported)
				fprintf(stderr, "\r\033[K");
			for (int i = 0; i < t->n; i++)
				if (!t->v[i].gone)
					fprintf(stderr, "error: timed out waiting for the condition on %s/%s\n",
						t->v[i].k->plural, t->v[i].name);
			return -1;
		}
		if (elapsed >= next_report) {
			quoted_ref(t->v[first].k, t->v[first].name, ref, sizeof(ref));
			if (pending > 1)
				fprintf(stderr, "%swaiting for %s and %d more to be deleted... %llus%s", tty ? "\r\033[K" : "",
					ref, pending - 1, (unsigned long long)(elapsed / 1000), tty ? "" : "\n");
			else
				fprintf(stderr, "%swaiting for %s to be deleted... %llus%s", tty ? "\r\033[K" : "", ref,
					(unsigned long long)(elapsed / 1000), tty ? "" : "\n");
			fflush(stderr);
			reported = true;
			next_report = tty ? elapsed / 1000 * 1000 + 1000 : elapsed / 1000 * 1000 + 5000;
		}
		sleep_ms(POLL_MS);
	}
	if (tty && reported)
		fprintf(stderr, "\r\033[K");
	return 0;
}

static int targets_from_files(struct ctl *c, struct targets *t, const struct flag_list *files, bool recursive)
{
	struct ctl_manifest *m = NULL;
	int n = 0, rc = 0;

	if (ctl_read_manifests(files, recursive, &m, &n) < 0)
		return -1;
	if (!n) {
		fprintf(stderr, "error: no objects passed to delete\n");
		rc = -1;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		const struct kind *k;
		json_t *obj;
		if (ctl_manifest_prepare(c, &m[i], &k, &obj) < 0) {
			rc = -1;
			break;
		}
		if (!obj_name(obj)) {
			fprintf(stderr, "error: error when deleting %s: metadata.name is required\n",
				ctl_manifest_where(&m[i]));
			rc = -1;
		} else {
			add_target(t, k, obj_namespace(obj), obj_name(obj), ctl_manifest_where(&m[i]));
		}
		json_decref(obj);
	}
	ctl_manifests_free(m, n);
	return rc;
}

/* KIND NAME..., KIND/NAME..., or KIND[,KIND] with -l/--all. */
static int targets_from_args(struct ctl *c, struct targets *t, int npos, char **argv, const char *labels,
			     const char *fields, bool all)
{
	const char *ns = c->ns;

	if (strchr(argv[1], '/')) {
		if (all || (labels && *labels)) {
			fprintf(stderr, "error: name cannot be provided when a selector or --all is specified\n");
			return -1;
		}
		for (int i = 1; i <= npos; i++) {
			char *slash = strchr(argv[i], '/'), *kname;
			const struct kind *k;
			if (!slash || !slash[1]) {
				fprintf(stderr, "error: there is no need to specify a resource type as a separate "
						"argument when passing arguments in resource/name form (e.g. 'minictl "
						"delete pod/web' instead of 'minictl delete pod web')\n");
				return -1;
			}
			kname = xstrndup(argv[i], (size_t)(slash - argv[i]));
			k = ctl_resolve_kind(kname);
			free(kname);
			if (!k)
				return -1;
			add_target(t, k, ns, slash + 1, NULL);
		}
		return 0;
	}
	if (npos == 1) {
		char *types = xstrdup(argv[1]), *save = NULL;
		int rc = 0;
		if (!all && !(labels && *labels) && !(fields && *fields)) {
			fprintf(stderr, "error: resource(s) were provided, but no name was specified; name objects, or "
					"use -l SELECTOR or --all\n");
			free(types);
			return -1;
		}
		for (char *ty = strtok_r(types, ",", &save); ty && rc == 0; ty = strtok_r(NULL, ",", &save)) {
			const struct kind *k = ctl_resolve_kind(ty);
			rc = k ? add_listed(c, t, k, labels, fields) : -1;
		}
		free(types);
		return rc;
	}
	if (all || (labels && *labels)) {
		fprintf(stderr, "error: name cannot be provided when a selector or --all is specified\n");
		return -1;
	}
	if (strchr(argv[1], ',')) {
		fprintf(stderr, "error: with names, give one kind (minictl delete pod a b), or use KIND/NAME forms\n");
		return -1;
	}
	{
		const struct kind *k = ctl_resolve_kind(argv[1]);
		if (!k)
			return -1;
		for (int i = 2; i <= npos; i++)
			add_target(t, k, ns, argv[i], NULL);
	}
	return 0;
}

int ctl_delete(struct ctl *c, int argc, char **argv)
{
	struct flag_list files = { NULL, 0 };
	char *labels = NULL, *fields = NULL, *cascade = NULL;
	bool recursive = false, all = false, now = false, force = false;
	struct delete_opts o = { .wait = true, .grace_period = -1, .timeout_ms = 0 };
	const struct flag delete_flags[] = {
		{ "filename", FLAG_LIST, &files, "delete the objects of these manifests (file, directory or -)" },
		{ "f", FLAG_LIST, &files, "short for --filename" },
		{ "recursive", FLAG_BOOL, &recursive, "with a directory, descend into its subdirectories" },
		{ "R", FLAG_BOOL, &recursive, "short for --recursive" },
		{ "selector", FLAG_STRING, &labels, "label selector (app=web,tier!=db)" },
		{ "l", FLAG_STRING, &labels, "short for --selector" },
		{ "field-selector", FLAG_STRING, &fields, "field selector (metadata.name=x, status.phase=Failed)" },
		{ "all", FLAG_BOOL, &all, "every object of the kind in the namespace (-A: in every namespace)" },
		{ "wait", FLAG_BOOL, &o.wait, "wait until the objects are gone (default true; --wait=false returns at once)" },
		{ "timeout", FLAG_DURATION, &o.timeout_ms, "give up waiting after this long (default 5m)" },
		{ "grace-period", FLAG_INT, &o.grace_period,
		  "seconds a pod gets to stop (-1: its own setting; 0 needs --force)" },
		{ "now", FLAG_BOOL, &now, "same as --grace-period=1" },
		{ "force", FLAG_BOOL, &force, "delete at once (--grace-period=0): do not wait for the kubelet" },
		{ "cascade", FLAG_STRING, &cascade,
		  "background (default), foreground (owner goes last) or orphan (dependents stay)" },
		{ "ignore-not-found", FLAG_BOOL, &o.ignore_not_found, "objects that do not exist are not an error" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), delete_flags, NULL };
	struct targets t = { NULL, 0 };
	int npos, rc = 1, failed = 0, deleted = 0;

	ctl_expand_short_flags(argc, argv, "fnlv");
	npos = flags_parse(tables, usage, argc, argv);
	if (npos < 0)
		goto out;
	if (now)
		o.grace_period = 1;
	/* As kubectl: 0 means "at once" only with --force; else the shortest grace. */
	if (force && o.grace_period < 0)
		o.grace_period = 0;
	if (!force && o.grace_period == 0)
		o.grace_period = 1;
	o.force = force;
	if (force)
		fprintf(stderr, "Warning: Immediate deletion does not wait for confirmation that the running resource "
				"has been terminated. The resource may continue to run on the cluster indefinitely.\n");
	if (!o.timeout_ms)
		o.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (!cascade || !strcmp(cascade, "background") || !strcmp(cascade, "true")) {
		o.cascade = "Background";
	} else if (!strcmp(cascade, "foreground")) {
		o.cascade = "Foreground";
	} else if (!strcmp(cascade, "orphan") || !strcmp(cascade, "false")) {
		o.cascade = "Orphan";
	} else {
		fprintf(stderr, "error: invalid --cascade \"%s\": want background, foreground or orphan\n", cascade);
		goto out;
	}
	if (!files.n && npos == 0) {
		fprintf(stderr, "error: You must provide one or more resources by argument or filename.\n"
				"Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n"
				"   '<resource> <name>'\n   '<resource>'\n");
		goto out;
	}
	if (files.n && npos) {
		fprintf(stderr, "error: give either -f FILE or KIND NAME arguments, not both\n");
		goto out;
	}
	if (files.n) {
		if (ctl_connect(c) < 0 || targets_from_files(c, &t, &files, recursive) < 0)
			goto out;
	} else {
		if (ctl_connect(c) < 0 || targets_from_args(c, &t, npos, argv, labels, fields, all) < 0)
			goto out;
	}
	if (!t.n) {
		printf("No resources found\n");
		rc = 0;
		goto out;
	}
	for (int i = 0; i < t.n; i++) {
		int r = delete_one(c, &t.v[i], &o);
		if (r == 0)
			deleted++;
		if (r < 0)
			failed++;
		if (r == -2)
			goto out;
	}
	if (o.wait && deleted && wait_gone(c, &t, &o) < 0)
		failed++;
	rc = failed ? 1 : 0;
out:
	targets_release(&t);
	ctl_flag_list_release(&files);
	free(labels);
	free(fields);
	free(cascade);
	return rc;
}
