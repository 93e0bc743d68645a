/*
 * `minictl scale deployment/web --replicas=3`: sets the replicas of
 * Deployments and ReplicaSets through their autoscaling/v1 Scale
 * subresource, as kubectl does: a merge patch of spec.replicas, or, with
 * --current-replicas or --resource-version, a read of the Scale, a check of
 * the precondition and a PUT (which the resourceVersion guards). Objects
 * come from TYPE NAME..., TYPE/NAME..., TYPE -l SELECTOR|--all or -f FILE.
 */
#include "core/object.h"
#include "core/util.h"
#include "ctl/ctl.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: minictl scale (TYPE NAME... | TYPE/NAME... | TYPE -l SELECTOR | TYPE --all | -f FILE)\n"
	"                     --replicas=N [--current-replicas=N] [--resource-version=RV]\n\n"
	"Sets the number of replicas of deployments and replica sets.\n";

#define REPLICAS_UNSET INT_MIN

struct target {
	const struct kind *k;
	char *ns;
	char *name;
};

struct targets {
	struct target *v;
	int n;
};

static void add_target(struct targets *t, const struct kind *k, const char *ns, const char *name)
{
	t->v = xrealloc(t->v, sizeof(*t->v) * (size_t)(t->n + 1));
	t->v[t->n++] = (struct target){ k, xstrdup(ns), xstrdup(name) };
}

static void targets_release(struct targets *t)
{
	for (int i = 0; i < t->n; i++) {
		free(t->v[i].ns);
		free(t->v[i].name);
	}
	free(t->v);
}

static char *scale_path(const struct target *x)
{
	char *base = ctl_kind_path(x->k, x->ns, x->name), *path = xasprintf("%s/scale", base);

	free(base);
	return path;
}

/* Every object of kind k matching selector (NULL: all) in namespace ns. */
static int add_listed(struct ctl *c, struct targets *t, const struct kind *k, const char *ns, const char *selector)
{
	char *base = ctl_kind_path(k, ns, NULL);
	struct strbuf path;
	json_t *list = NULL, *item;
	int status;
	size_t i;

	strbuf_init(&path, 128);
	strbuf_adds(&path, base);
	if (selector)
		rest_query_add(&path, "labelSelector", selector);
	status = ctl_request(c, "GET", path.buf, NULL, NULL, NULL, &list);
	if (status == 200) {
		json_array_foreach(obj_get(list, "items"), i, item)
			add_target(t, k, obj_namespace(item) ?: ns, obj_name(item));
	} else {
		ctl_print_status(list, status);
	}
	json_decref(list);
	strbuf_release(&path);
	free(base);
	return status == 200 ? 0 : -1;
}

/* TYPE NAME... or TYPE/NAME... (not mixed, as kubectl). */
static int targets_from_args(struct ctl *c, struct targets *t, int npos, char **pos, const char *selector,
			     bool all)
{
	bool slashed = strchr(pos[0], '/') != NULL;

	for (int i = 0; i < npos; i++) {
		if ((strchr(pos[i], '/') != NULL) != slashed) {
			fprintf(stderr, "error: there is no need to specify a resource type as a separate argument when "
					"passing arguments in resource/name form (e.g. 'minictl get resource/<resource_name>' "
					"instead of 'minictl get resource resource/<resource_name>'\n");
			return -1;
		}
	}
	if (slashed) {
		for (int i = 0; i < npos; i++) {
			char *type = xstrndup(pos[i], (size_t)(strchr(pos[i], '/') - pos[i]));
			const struct kind *k = ctl_resolve_kind(type);
			free(type);
			if (!k)
				return -1;
			add_target(t, k, c->ns, strchr(pos[i], '/') + 1);
		}
		return 0;
	}
	const struct kind *k = ctl_resolve_kind(pos[0]);
	if (!k)
		return -1;
	if (npos == 1) {
		if (!selector && !all) {
			fprintf(stderr, "error: resource(s) were provided, but no name was specified\n");
			return -1;
		}
		return add_listed(c, t, k, c->ns, selector);
	}
	for (int i = 1; i < npos; i++)
		add_target(t, k, c->ns, pos[i]);
	return 0;
}

static int targets_from_files(struct ctl *c, struct targets *t, const struct flag_list *files, bool recursive)
{
	struct ctl_manifest *m;
	int n, rc = 0;

	if (ctl_read_manifests(files, recursive, &m, &n) < 0)
		return -1;
	for (int i = 0; i < n && rc == 0; i++) {
		const struct kind *k = ctl_manifest_kind(&m[i]);
		if (!k) {
			rc = -1;
			break;
		}
		add_target(t, k, obj_namespace(m[i].obj) ?: c->ns, obj_name(m[i].obj) ?: "");
	}
	ctl_manifests_free(m, n);
	return rc;
}

/* Scales one object; prints `deployment.apps/web scaled` or why not. */
static int scale_one(struct ctl *c, const struct target *x, int replicas, int current, const char *rv)
{
	char *path = scale_path(x), ref[512];
	json_t *scale = NULL, *body = NULL, *out = NULL;
	int status, rc = -1;

	if (current < 0 && !rv) {
		body = json_pack("{s:{s:i}}", "spec", "replicas", replicas);
		status = ctl_request(c, "PATCH", path, body, "application/merge-patch+json", NULL, &out);
	} else {
		status = ctl_request(c, "GET", path, NULL, NULL, NULL, &scale);
		if (status != 200) {
			ctl_print_status(scale, status);
			goto out;
		}
		if (current >= 0 && obj_int(scale, "spec.replicas", 0) != current) {
			fprintf(stderr, "error: Expected replicas to be %d, was %lld\n", current,
				(long long)obj_int(scale, "spec.replicas", 0));
			goto out;
		}
		if (rv && strcmp(rv, obj_str(scale, "metadata.resourceVersion") ?: "")) {
			fprintf(stderr, "error: Expected resource version to be %s, was %s\n", rv,
				obj_str(scale, "metadata.resourceVersion") ?: "");
			goto out;
		}
		obj_set(scale, "spec.replicas", json_integer(replicas));
		status = ctl_request(c, "PUT", path, scale, NULL, NULL, &out);
	}
	if (status != 200) {
		ctl_print_status(out, status);
		goto out;
	}
	printf("%s scaled\n", ctl_object_ref(x->k, x->name, ref, sizeof(ref)));
	rc = 0;
out:
	json_decref(scale);
	json_decref(body);
	json_decref(out);
	free(path);
	return rc;
}

int ctl_scale(struct ctl *c, int argc, char **argv)
{
	int replicas = REPLICAS_UNSET, current = -1, n, rc = 1, found = 0;
	char *rv = NULL, *selector = NULL;
	bool all = false, recursive = false;
	struct flag_list files = { 0 };
	const struct flag flags[] = {
		{ "replicas", FLAG_INT, &replicas, "the new number of replicas (required)" },
		{ "current-replicas", FLAG_INT, &current, "only scale if the replicas are this now (-1: any)" },
		{ "resource-version", FLAG_STRING, &rv, "only scale if the resourceVersion is this now" },
		{ "filename", FLAG_LIST, &files, "files naming the objects to scale" },
		{ "f", FLAG_LIST, &files, "short for --filename" },
		{ "recursive", FLAG_BOOL, &recursive, "with -f DIR, read its subdirectories too" },
		{ "R", FLAG_BOOL, &recursive, "short for --recursive" },
		{ "selector", FLAG_STRING, &selector, "scale every object of TYPE whose labels match" },
		{ "l", FLAG_STRING, &selector, "short for --selector" },
		{ "all", FLAG_BOOL, &all, "scale every object of TYPE in the namespace" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), flags, NULL };
	struct targets t = { 0 };
	json_t *errors = json_array(), *e;
	size_t i;

	ctl_expand_short_flags(argc, argv, "lf");
	n = flags_parse(tables, usage, argc, argv);
	if (n < 0)
		goto out;
	if (replicas == REPLICAS_UNSET) {
		fprintf(stderr, "error: required flag(s) \"replicas\" not set\n");
		goto out;
	}
	if (replicas < 0) {
		fprintf(stderr, "error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal "
				"to 0\n");
		goto out;
	}
	if (n == 0 && files.n == 0) {
		fprintf(stderr, "error: You must provide one or more resources by argument or filename.\n"
				"Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n"
				"   '<resource> <name>'\n   '<resource>'\n");
		goto out;
	}
	if (ctl_connect(c) < 0)
		goto out;
	if (files.n ? targets_from_files(c, &t, &files, recursive) : targets_from_args(c, &t, n, argv + 1, selector, all))
		goto out;
	if (t.n == 0) {
		fprintf(stderr, "No resources found in %s namespace.\n", c->ns);
		rc = 0;
		goto out;
	}
	/* kubectl first reads every object; missing ones are reported after the
	 * others are scaled, and if none exists it says so instead. */
	for (int j = 0; j < t.n; j++) {
		char *path = ctl_kind_path(t.v[j].k, t.v[j].ns, t.v[j].name);
		json_t *obj = NULL;
		int status = ctl_request(c, "GET", path, NULL, NULL, NULL, &obj);
		free(path);
		if (status == 200) {
			found++;
		} else if (status == 0 || status == 401) {
			json_decref(obj);
			goto out;
		} else {
			json_array_append_new(errors, json_pack("{s:i, s:o}", "code", status, "status",
								obj ? obj : json_object()));
			free(t.v[j].name);
			t.v[j].name = NULL;
			continue;
		}
		json_decref(obj);
	}
	if (!found) {
		fprintf(stderr, "error: no objects passed to scale %s", json_array_size(errors) > 1 ? "[" : "");
		json_array_foreach(errors, i, e)
			fprintf(stderr, "%s%s", i ? ", " : "", obj_str(e, "status.message") ?: "not found");
		fprintf(stderr, "%s\n", json_array_size(errors) > 1 ? "]" : "");
		goto out;
	}
	rc = 0;
	for (int j = 0; j < t.n; j++)
		if (t.v[j].name && scale_one(c, &t.v[j], replicas, current, rv) < 0)
			rc = 1;
	json_array_foreach(errors, i, e) {
		ctl_print_status(obj_get(e, "status"), (int)obj_int(e, "code", 0));
		rc = 1;
	}
out:
	targets_release(&t);
	json_decref(errors);
	ctl_flag_list_release(&files);
	free(rv);
	free(selector);
	return rc;
}
