/*
 * Manifests for -f: files, directories (-R to descend) and stdin, each a
 * stream of YAML documents or JSON values, Lists unpacked into their items,
 * every object remembering the file, document and line it came from so a
 * message can point at it. Parse errors carry line and column, as a student
 * needs to find the stray indent. Also the loop that apply, create and
 * replace share, and the last-applied record that apply and create write.
 */
#include "ctl/ctl.h"
#include "core/object.h"
#include "core/util.h"
#include "core/yaml.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct manifest_set {
	struct ctl_manifest *v;
	int n;
};

/* Documents per origin, for ctl_manifest_where (only the last read set). */
static struct origin_count {
	char *origin;
	int docs;
} *origins;
static int norigins;

static void note_origin(const char *origin, int docs)
{
	origins = xrealloc(origins, sizeof(*origins) * (size_t)(norigins + 1));
	origins[norigins].origin = xstrdup(origin);
	origins[norigins].docs = docs;
	norigins++;
}

static void forget_origins(void)
{
	for (int i = 0; i < norigins; i++)
		free(origins[i].origin);
	free(origins);
	origins = NULL;
	norigins = 0;
}

const char *ctl_manifest_where(const struct ctl_manifest *m)
{
	static char buf[4200];
	int docs = 1;

	for (int i = 0; i < norigins; i++)
		if (!strcmp(origins[i].origin, m->origin))
			docs = origins[i].docs;
	if (docs > 1 || m->doc > 1)
		snprintf(buf, sizeof(buf), "\"%s\" (document %d)", m->origin, m->doc);
	else
		snprintf(buf, sizeof(buf), "\"%s\"", m->origin);
	return buf;
}

static void add_object(struct manifest_set *set, json_t *obj, const char *origin, int doc, int line)
{
	const char *kind = obj_kind(obj);
	json_t *items = obj_get(obj, "items");

	/* A List (v1 List, PodList, ...) stands for its items. */
	if (kind && str_has_suffix(kind, "List") && json_is_array(items)) {
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
			add_object(set, json_incref(it), origin, doc, line);
		json_decref(obj);
		return;
	}
	set->v = xrealloc(set->v, sizeof(*set->v) * (size_t)(set->n + 1));
	set->v[set->n].obj = obj;
	set->v[set->n].origin = xstrdup(origin);
	set->v[set->n].doc = doc;
	set->v[set->n].line = line;
	set->n++;
}

/* The first character that is not blank or a YAML comment line. */
static char first_meaningful(const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (buf[i] == '#') {
			while (i < len && buf[i] != '\n')
				i++;
		} else if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n') {
			i++;
		} else {
			return buf[i];
		}
	}
	return '\0';
}

static int parse_json_stream(struct manifest_set *set, const char *buf, size_t len, const char *origin)
{
	size_t off = 0;
	int doc = 0;

	while (off < len) {
		json_error_t err;
		json_t *v;
		size_t skip = off;
		int line = 1;

		while (skip < len && strchr(" \t\r\n", buf[skip]))
			skip++;
		if (skip >= len)
			break;
		for (size_t i = 0; i < skip; i++)
			line += buf[i] == '\n';
		v = json_loadb(buf + skip, len - skip, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &err);
		if (!v) {
			/* err.line counts from where this value started */
			fprintf(stderr, "error: error parsing %s: line %d column %d: %s\n", origin,
				err.line > 0 ? line + err.line - 1 : line, err.column > 0 ? err.column : 1, err.text);
			return -1;
		}
		doc++;
		if (!json_is_object(v)) {
			fprintf(stderr, "error: error parsing %s: line %d: document %d is not an object; a manifest is "
					"an object with apiVersion, kind and metadata\n", origin, line, doc);
			json_decref(v);
			return -1;
		}
		add_object(set, v, origin, doc, line);
		off = skip + err.position;
	}
	note_origin(origin, doc);
	return 0;
}

static int parse_buffer(struct manifest_set *set, const char *buf, size_t len, const char *origin)
{
	struct yaml_error err;
	json_t *docs = NULL, *d;
	int *lines = NULL;
	size_t i;

	if (first_meaningful(buf, len) == '{')
		return parse_json_stream(set, buf, len, origin);
	memset(&err, 0, sizeof(err));
	if (yaml_decode_all(buf, len, &docs, &lines, &err) < 0) {
		if (err.line > 0)
			fprintf(stderr, "error: error parsing %s: line %d column %d: %s\n", origin, err.line,
				err.column > 0 ? err.column : 1, err.message);
		else
			fprintf(stderr, "error: error parsing %s: %s\n", origin, err.message);
		return -1;
	}
	json_array_foreach(docs, i, d) {
		if (!json_is_object(d)) {
			fprintf(stderr, "error: error parsing %s: line %d: document %zu is not a mapping; a manifest "
					"is a mapping with apiVersion, kind and metadata\n", origin,
				lines ? lines[i] : 0, i + 1);
			json_decref(docs);
			free(lines);
			return -1;
		}
	}
	json_array_foreach(docs, i, d)
		add_object(set, json_incref(d), origin, (int)i + 1, lines ? lines[i] : 0);
	note_origin(origin, (int)json_array_size(docs));
	json_decref(docs);
	free(lines);
	return 0;
}

static int read_stdin(char **out, size_t *len)
{
	struct strbuf sb;
	char chunk[8192];
	size_t n;

	strbuf_init(&sb, sizeof(chunk));
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		strbuf_add(&sb, chunk, n);
	if (ferror(stdin)) {
		strbuf_release(&sb);
		return -1;
	}
	*out = strbuf_detach(&sb, len);
	return 0;
}

static int read_one_file(struct manifest_set *set, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (!strcmp(path, "-")) {
		if (read_stdin(&buf, &len) < 0) {
			fprintf(stderr, "error: cannot read the manifest from stdin: %s\n", strerror(errno));
			return -1;
		}
		rc = parse_buffer(set, buf, len, "STDIN");
		free(buf);
		return rc;
	}
	rc = read_file(path, &buf, &len);
	if (rc < 0) {
		fprintf(stderr, "error: cannot read \"%s\": %s\n", path, strerror(-rc));
		return -1;
	}
	rc = parse_buffer(set, buf, len, path);
	free(buf);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_manifest_name(const char *name)
{
	return str_has_suffix(name, ".yaml") || str_has_suffix(name, ".yml") || str_has_suffix(name, ".json");
}

/* A directory's manifests in lexical order, as kubectl walks it;
 * subdirectories only when recursive. */
static int read_dir(struct manifest_set *set, const char *dir, bool recursive)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (!d) {
		fprintf(stderr, "error: cannot read the directory \"%s\": %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		names = xrealloc(names, sizeof(char *) * (n + 1));
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(char *), cmp_names);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *path = xasprintf("%s%s%s", dir, str_has_suffix(dir, "/") ? "" : "/", names[i]);
		struct stat st;
		if (stat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				if (recursive)
					rc = read_dir(set, path, true);
			} else if (is_manifest_name(names[i])) {
				rc = read_one_file(set, path);
			}
		}
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int ctl_read_manifests(const struct flag_list *files, bool recursive, struct ctl_manifest **out, int *n)
{
	struct manifest_set set = { NULL, 0 };

	forget_origins();
	*out = NULL;
	*n = 0;
	for (int i = 0; i < files->n; i++) {
		const char *path = files->items[i];
		struct stat st;
		int rc;

		if (strcmp(path, "-") && stat(path, &st) < 0) {
			if (errno == ENOENT)
				fprintf(stderr, "error: the path \"%s\" does not exist\n", path);
			else
				fprintf(stderr, "error: cannot read \"%s\": %s\n", path, strerror(errno));
			goto fail;
		}
		if (strcmp(path, "-") && S_ISDIR(st.st_mode))
			rc = read_dir(&set, path, recursive);
		else
			rc = read_one_file(&set, path);
		if (rc < 0)
			goto fail;
	}
	*out = set.v;
	*n = set.n;
	return 0;
fail:
	ctl_manifests_free(set.v, set.n);
	return -1;
}

void ctl_manifests_free(struct ctl_manifest *m, int n)
{
	for (int i = 0; i < n; i++) {
		json_decref(m[i].obj);
		free(m[i].origin);
	}
	free(m);
	forget_origins();
}

const struct kind *ctl_manifest_kind(const struct ctl_manifest *m)
{
	const char *api_version = obj_str(m->obj, "apiVersion");
	const char *kind = obj_kind(m->obj);
	const struct kind *k;
	const char *unsupported;

	if (!api_version || !*api_version || !kind || !*kind) {
		fprintf(stderr, "error: error validating %s: error validating data: [%s%s%s]; a manifest needs "
				"apiVersion and kind (e.g. apiVersion: apps/v1, kind: Deployment)\n",
			ctl_manifest_where(m), !api_version || !*api_version ? "apiVersion not set" : "",
			(!api_version || !*api_version) && (!kind || !*kind) ? ", " : "",
			!kind || !*kind ? "kind not set" : "");
		return NULL;
	}
	k = kind_by_kind(api_version, kind);
	if (k)
		return k;
	unsupported = kind_unsupported(kind);
	if (unsupported) {
		fprintf(stderr, "error: resource mapping not found for name: \"%s\" namespace: \"%s\" from %s: no "
				"matches for kind \"%s\" in version \"%s\": %s is not supported by minik8s "
				"(`minictl api-resources` lists the kinds it serves)\n",
			obj_name(m->obj) ?: "", obj_namespace(m->obj) ?: "", ctl_manifest_where(m), kind, api_version,
			unsupported);
		return NULL;
	}
	k = kind_by_name(kind);
	if (k)
		fprintf(stderr, "error: resource mapping not found for name: \"%s\" namespace: \"%s\" from %s: no "
				"matches for kind \"%s\" in version \"%s\": minik8s serves %s as apiVersion %s\n",
			obj_name(m->obj) ?: "", obj_namespace(m->obj) ?: "", ctl_manifest_where(m), kind, api_version,
			k->kind, kind_api_version(k));
	else
		fprintf(stderr, "error: resource mapping not found for name: \"%s\" namespace: \"%s\" from %s: no "
				"matches for kind \"%s\" in version \"%s\": minik8s does not serve this kind "
				"(`minictl api-resources` lists the ones it does)\n",
			obj_name(m->obj) ?: "", obj_namespace(m->obj) ?: "", ctl_manifest_where(m), kind, api_version);
	return NULL;
}

int ctl_manifest_prepare(const struct ctl *c, const struct ctl_manifest *m, const struct kind **kind_out,
			 json_t **obj_out)
{
	const struct kind *k = ctl_manifest_kind(m);
	const char *ns;
	json_t *obj;

	*obj_out = NULL;
	*kind_out = k;
	if (!k)
		return -1;
	obj = json_deep_copy(m->obj);
	ns = obj_namespace(obj);
	if (k->namespaced) {
		if (ns && *ns && ctl_namespace_explicit(c) && strcmp(ns, c->ns)) {
			fprintf(stderr, "error: the namespace from the provided object \"%s\" does not match the "
					"namespace \"%s\". You must pass '--namespace=%s' to perform this operation.\n",
				ns, c->ns, ns);
			json_decref(obj);
			return -1;
		}
		/* kubectl writes the namespace into the object, so it is part of
		 * what apply records as last applied. */
		if (!ns || !*ns)
			obj_set(obj, "metadata.namespace", json_string(c->ns));
	}
	*obj_out = obj;
	return 0;
}

static struct flag manifest_flags[5];

const struct flag *ctl_manifest_flags(struct flag_list *files, bool *recursive)
{
	const struct flag table[] = {
		{ "filename", FLAG_LIST, files, "a manifest file, a directory of them, or - for stdin (repeatable)" },
		{ "f", FLAG_LIST, files, "short for --filename" },
		{ "recursive", FLAG_BOOL, recursive, "with a directory, descend into its subdirectories" },
		{ "R", FLAG_BOOL, recursive, "short for --recursive" },
		{ NULL, 0, NULL, NULL },
	};

	memcpy(manifest_flags, table, sizeof(table));
	return manifest_flags;
}

int ctl_manifests_send(struct ctl *c, const struct flag_list *files, bool recursive, const char *verb,
		       ctl_send_fn *send_one, void *arg)
{
	struct ctl_manifest *m = NULL;
	int n = 0, failed = 0, rc = 1;

	if (ctl_read_manifests(files, recursive, &m, &n) < 0)
		goto out;
	if (!n) {
		fprintf(stderr, "error: no objects passed to %s\n", verb);
		goto out;
	}
	if (ctl_connect(c) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		const struct kind *k;
		json_t *obj;
		int r = ctl_manifest_prepare(c, &m[i], &k, &obj);

		if (r == 0) {
			r = send_one(c, &m[i], k, obj, arg);
			json_decref(obj);
		}
		fflush(stdout);
		if (r < 0)
			failed++;
		if (r == -2)
			break;
	}
	rc = failed ? 1 : 0;
out:
	ctl_manifests_free(m, n);
	return rc;
}

char *ctl_last_applied(const json_t *obj)
{
	json_t *copy = json_deep_copy(obj);
	json_t *ann = obj_ensure(copy, "metadata.annotations");
	char *s, *out;

	json_object_del(ann, CTL_LAST_APPLIED);
	s = ctl_json_go(copy, false);
	out = xasprintf("%s\n", s);
	free(s);
	json_decref(copy);
	return out;
}
