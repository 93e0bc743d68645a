/*
 * `minictl config view|current-context|use-context|get-contexts`: reading
 * and switching kubeconfig contexts without a server. view prints the file
 * as kubectl does (known fields only, lists sorted by name, keys sorted in
 * YAML, secrets shown as REDACTED or DATA+OMITTED unless --raw);
 * use-context rewrites only the file's current-context line when it can
 * (comments and layout survive), else round-trips the whole document.
 */
#include "core/object.h"
#include "core/util.h"
#include "core/yaml.h"
#include "ctl/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: minictl config SUBCOMMAND\n\n"
	"Reads or changes the kubeconfig (--kubeconfig, else $KUBECONFIG, else ~/.minik8s/config):\n"
	"  view [--minify] [--raw] [-o yaml|json]   print it, secrets redacted unless --raw\n"
	"  current-context                          print the current context's name\n"
	"  use-context NAME                         make NAME the current context\n"
	"  get-contexts [NAME...] [-o name]         list the contexts\n";

/* Known fields of each part, in the order kubectl's Go structs give them
 * (which is what -o json prints). Unknown fields are dropped, as kubectl does. */
static const char *const cluster_fields[] = {
	"server", "tls-server-name", "insecure-skip-tls-verify", "certificate-authority",
	"certificate-authority-data", "proxy-url", "disable-compression", "extensions", NULL,
};
static const char *const user_fields[] = {
	"client-certificate", "client-certificate-data", "client-key", "client-key-data", "token",
	"tokenFile", "as", "as-uid", "as-groups", "as-user-extra", "username", "password",
	"auth-provider", "exec", "extensions", NULL,
};
static const char *const context_fields[] = { "cluster", "user", "namespace", "extensions", NULL };

/* What `config view` shows instead of a secret. */
static const struct {
	const char *field;
	const char *shown;
} redactions[] = {
	{ "certificate-authority-data", "DATA+OMITTED" },
	{ "client-certificate-data", "DATA+OMITTED" },
	{ "client-key-data", "DATA+OMITTED" },
	{ "token", "REDACTED" },
	{ "password", "REDACTED" },
};

struct config_file {
	char *path;
	json_t *doc;   /* the decoded file, or an empty object when it does not exist */
	char *text;    /* the file's bytes (NULL when it does not exist) */
	size_t len;
	bool exists;
};

/*
 * The file config reads and writes, as kubectl picks it: --kubeconfig, else
 * the first existing file of $KUBECONFIG (its first entry if none exists:
 * an empty config, never the default file), else ~/.minik8s/config.
 */
static char *config_path(const struct ctl *c)
{
	const char *env = getenv("KUBECONFIG");
	char *list, *p, *save = NULL, *found = NULL;

	if ((c->opt.kubeconfig && *c->opt.kubeconfig) || !env || !*env)
		return kubeconfig_find(c->opt.kubeconfig);
	list = xstrdup(env);
	for (p = strtok_r(list, ":", &save); p && !found; p = strtok_r(NULL, ":", &save))
		if (access(p, F_OK) == 0)
			found = xstrdup(p);
	if (!found) {
		p = strtok_r(strcpy(list, env), ":", &save);
		found = xstrdup(p ? p : env);
	}
	free(list);
	return found;
}

static int config_load(struct ctl *c, struct config_file *f)
{
	struct yaml_error yerr;
	int rc;

	memset(f, 0, sizeof(*f));
	f->path = config_path(c);
	rc = read_file(f->path, &f->text, &f->len);
	if (rc == -ENOENT) {
		f->doc = json_object();
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "error: cannot read kubeconfig \"%s\": %s\n", f->path, strerror(-rc));
		return -1;
	}
	f->exists = true;
	memset(&yerr, 0, sizeof(yerr));
	f->doc = f->len ? yaml_decode_one(f->text, f->len, &yerr) : json_object();
	if (!json_is_object(f->doc)) {
		if (f->doc)
			fprintf(stderr, "error: kubeconfig \"%s\" is not a mapping of clusters, users and contexts\n",
				f->path);
		else
			fprintf(stderr, "error: error loading config file \"%s\": line %d column %d: %s\n", f->path,
				yerr.line, yerr.column, yerr.message);
		return -1;
	}
	return 0;
}

static void config_release(struct config_file *f)
{
	free(f->path);
	free(f->text);
	json_decref(f->doc);
}

/* The entry named name in doc[list], borrowed, or NULL. */
static json_t *find_entry(const json_t *doc, const char *list, const char *name)
{
	json_t *arr = json_object_get(doc, list), *el;
	size_t i;

	if (!name)
		return NULL;
	json_array_foreach(arr, i, el) {
		const char *n = obj_str(el, "name");
		if (n && !strcmp(n, name))
			return el;
	}
	return NULL;
}

static int by_name(const void *a, const void *b)
{
	const char *na = obj_str(*(json_t *const *)a, "name") ?: "";
	const char *nb = obj_str(*(json_t *const *)b, "name") ?: "";

	return strcmp(na, nb);
}

/* The entries of doc[list] sorted by name (kubectl keeps them in a map).
 * Borrowed pointers in a heap array; *n gets the count. */
static json_t **sorted_entries(const json_t *doc, const char *list, size_t *n)
{
	json_t *arr = json_object_get(doc, list);
	size_t count = json_is_array(arr) ? json_array_size(arr) : 0, k = 0;
	json_t **v = xcalloc(count + 1, sizeof(*v));

	for (size_t i = 0; i < count; i++)
		if (json_is_object(json_array_get(arr, i)) && obj_str(json_array_get(arr, i), "name"))
			v[k++] = json_array_get(arr, i);
	qsort(v, k, sizeof(*v), by_name);
	*n = k;
	return v;
}

/* One named entry ({"name": ..., "<inner>": {...}}) keeping the known fields. */
static json_t *view_entry(const json_t *entry, const char *inner, const char *const *fields, bool raw)
{
	json_t *src = json_object_get(entry, inner), *dst = json_object();

	for (const char *const *f = fields; *f; f++) {
		json_t *v = json_object_get(src, *f);
		if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)) ||
		    (json_is_false(v)))
			continue;
		const char *shown = NULL;
		for (size_t r = 0; !raw && r < ARRAY_SIZE(redactions); r++)
			if (!strcmp(*f, redactions[r].field))
				shown = redactions[r].shown;
		if (shown)
			json_object_set_new(dst, *f, json_string(shown));
		else
			json_object_set(dst, *f, v);
	}
	return json_pack("{s:s, s:o}", "name", obj_str(entry, "name"), inner, dst);
}

/* The list doc[list] for view: sorted, known fields, redacted; entries
 * other than only (when given) are left out. JSON null when empty, as kubectl. */
static json_t *view_list(const json_t *doc, const char *list, const char *inner, const char *const *fields,
			 bool raw, const char *only)
{
	size_t n;
	json_t **v = sorted_entries(doc, list, &n), *out = json_array();

	for (size_t i = 0; i < n; i++)
		if (!only || !strcmp(obj_str(v[i], "name"), only))
			json_array_append_new(out, view_entry(v[i], inner, fields, raw));
	free(v);
	if (!json_array_size(out)) {
		json_decref(out);
		return json_null();
	}
	return out;
}

static int config_view(struct ctl *c, struct config_file *f, bool minify, bool raw, const char *output)
{
	const char *current = obj_str(f->doc, "current-context") ?: "";
	const char *only_ctx = NULL, *only_cluster = NULL, *only_user = NULL;
	json_t *view, *prefs;
	char *s;

	if (output && strcmp(output, "yaml") && strcmp(output, "json")) {
		fprintf(stderr, "error: unable to match a printer suitable for the output format \"%s\", allowed "
				"formats are: json,yaml\n", output);
		return 1;
	}
	if (minify) {
		json_t *ctx;
		if (c->opt.context && *c->opt.context)
			current = c->opt.context;
		if (!*current) {
			fprintf(stderr, "error: current-context must exist in order to minify\n");
			return 1;
		}
		ctx = find_entry(f->doc, "contexts", current);
		if (!ctx) {
			fprintf(stderr, "error: cannot locate context %s\n", current);
			return 1;
		}
		only_ctx = current;
		only_cluster = obj_str(ctx, "context.cluster") ?: "";
		only_user = obj_str(ctx, "context.user") ?: "";
	}
	prefs = json_object_get(f->doc, "preferences");
	prefs = json_is_object(prefs) ? json_incref(prefs) : json_object();
	view = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:s}", "kind", "Config", "apiVersion", "v1", "preferences",
			 prefs, "clusters", view_list(f->doc, "clusters", "cluster", cluster_fields, raw, only_cluster),
			 "users", view_list(f->doc, "users", "user", user_fields, raw, only_user),
			 "contexts", view_list(f->doc, "contexts", "context", context_fields, raw, only_ctx),
			 "current-context", current);
	if (output && !strcmp(output, "json")) {
		s = json_dumps(view, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
	} else {
		json_t *sorted = ctl_json_sorted(view);
		s = yaml_encode(sorted);
		fputs(s, stdout);
		json_decref(sorted);
	}
	free(s);
	json_decref(view);
	return 0;
}

/* A context name as a YAML scalar: plain when it cannot read as anything
 * but that string, else double-quoted (a JSON string is valid YAML). */
static char *yaml_scalar(const char *s)
{
	bool plain = *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@/") ==
		     strlen(s) && strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", s[0]);
	json_t *j;
	char *out;

	if (plain)
		return xstrdup(s);
	j = json_string(s);
	out = json_dumps(j, JSON_ENCODE_ANY);
	json_decref(j);
	return out;
}

/*
 * The file's text with its top-level current-context line set to name, or
 * NULL when there is no single such line to edit (a flow-style or JSON
 * file). The caller checks that the result decodes to what it wants.
 */
static char *edit_current_context(const struct config_file *f, const char *name)
{
	const char *p = f->text, *end = f->text + f->len, *hit = NULL;
	struct strbuf sb;
	char *value;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!strncmp(p, "current-context:", strlen("current-context:"))) {
			if (hit)
				return NULL;
			hit = p;
		}
		p = nl ? nl + 1 : end;
	}
	strbuf_init(&sb, f->len + 64);
	value = yaml_scalar(name);
	if (hit) {
		const char *nl = memchr(hit, '\n', (size_t)(end - hit));
		strbuf_add(&sb, f->text, (size_t)(hit - f->text));
		strbuf_addf(&sb, "current-context: %s", value);
		if (nl)
			strbuf_add(&sb, nl, (size_t)(end - nl));
		else
			strbuf_addc(&sb, '\n');
	} else {
		strbuf_add(&sb, f->text, f->len);
		if (f->len && f->text[f->len - 1] != '\n')
			strbuf_addc(&sb, '\n');
		strbuf_addf(&sb, "current-context: %s\n", value);
	}
	free(value);
	return strbuf_detach(&sb, NULL);
}

static int config_use_context(struct config_file *f, const char *name)
{
	struct yaml_error yerr;
	json_t *want, *got = NULL;
	char *text;
	struct stat st;
	int rc;

	if (!find_entry(f->doc, "contexts", name)) {
		fprintf(stderr, "error: no context exists with the name: \"%s\"\n", name);
		return 1;
	}
	want = json_deep_copy(f->doc);
	json_object_set_new(want, "current-context", json_string(name));
	/* Prefer a one-line edit, which keeps comments; take it only if it
	 * reads back as exactly the document we mean to write. */
	text = edit_current_context(f, name);
	if (text) {
		memset(&yerr, 0, sizeof(yerr));
		got = yaml_decode_one(text, strlen(text), &yerr);
		if (!got || !json_equal(got, want)) {
			free(text);
			text = NULL;
		}
		json_decref(got);
	}
	if (!text)
		text = yaml_encode(want);
	json_decref(want);
	rc = write_file_atomic(f->path, text, strlen(text),
			       stat(f->path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0600);
	free(text);
	if (rc < 0) {
		fprintf(stderr, "error: cannot write kubeconfig \"%s\": %s\n", f->path, strerror(-rc));
		return 1;
	}
	printf("Switched to context \"%s\".\n", name);
	return 0;
}

static int config_get_contexts(struct config_file *f, int nnames, char **names, const char *output,
			       bool no_headers)
{
	const char *current = obj_str(f->doc, "current-context") ?: "";
	struct ctl_tabwriter *w;
	size_t n;
	json_t **v;
	int rc = 0;

	if (output && strcmp(output, "name")) {
		fprintf(stderr, "error: output must be one of '' or 'name'\n");
		return 1;
	}
	v = sorted_entries(f->doc, "contexts", &n);
	w = ctl_tabwriter_new(stdout, CTL_TABLE_MINWIDTH, CTL_TABLE_PADDING, false);
	if (!output && !no_headers)
		ctl_tabwriter_printf(w, "CURRENT\tNAME\tCLUSTER\tAUTHINFO\tNAMESPACE\n");
	for (size_t i = 0; i < n; i++) {
		const char *name = obj_str(v[i], "name");
		bool wanted = nnames == 0;
		for (int j = 0; j < nnames; j++)
			wanted |= !strcmp(names[j], name);
		if (!wanted)
			continue;
		if (output)
			ctl_tabwriter_printf(w, "%s\n", name);
		else
			ctl_tabwriter_printf(w, "%s\t%s\t%s\t%s\t%s\n", strcmp(name, current) ? "" : "*", name,
					     obj_str(v[i], "context.cluster") ?: "", obj_str(v[i], "context.user") ?: "",
					     obj_str(v[i], "context.namespace") ?: "");
	}
	ctl_tabwriter_free(w);
	for (int j = 0; j < nnames; j++)
		if (!find_entry(f->doc, "contexts", names[j])) {
			fprintf(stderr, "error: context %s not found\n", names[j]);
			rc = 1;
		}
	free(v);
	return rc;
}

int ctl_config(struct ctl *c, int argc, char **argv)
{
	bool minify = false, raw = false, flatten = false, no_headers = false;
	char *output = NULL;
	const struct flag flags[] = {
		{ "minify", FLAG_BOOL, &minify, "view: only what the current context uses" },
		{ "raw", FLAG_BOOL, &raw, "view: show certificates and tokens" },
		{ "flatten", FLAG_BOOL, &flatten, "view: accepted for kubectl's sake; data is shown raw" },
		{ "output", FLAG_STRING, &output, "view: yaml or json; get-contexts: name" },
		{ "o", FLAG_STRING, &output, "short for --output" },
		{ "no-headers", FLAG_BOOL, &no_headers, "get-contexts: no header line" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), flags, NULL };
	struct config_file f;
	const char *sub;
	int n, rc = 1;

	ctl_expand_short_flags(argc, argv, "o");
	n = flags_parse(tables, usage, argc, argv);
	if (n < 0) {
		free(output);
		return 1;
	}
	if (n == 0) {
		fputs(usage, stderr);
		free(output);
		return 1;
	}
	sub = argv[1];
	if (strcmp(sub, "view") && strcmp(sub, "current-context") && strcmp(sub, "use-context") &&
	    strcmp(sub, "get-contexts")) {
		fprintf(stderr, "error: unknown command \"%s\" for \"minictl config\"\n"
				"minictl config knows view, current-context, use-context and get-contexts\n", sub);
		free(output);
		return 1;
	}
	if (config_load(c, &f) < 0)
		goto out;
	if (!strcmp(sub, "view")) {
		if (n > 1)
			fprintf(stderr, "error: unexpected arguments: %s\n", argv[2]);
		else
			rc = config_view(c, &f, minify, raw || flatten, output);
	} else if (!strcmp(sub, "current-context")) {
		const char *cur = obj_str(f.doc, "current-context");
		if (!cur || !*cur) {
			fprintf(stderr, "error: current-context is not set\n");
		} else {
			printf("%s\n", cur);
			rc = 0;
		}
	} else if (!strcmp(sub, "use-context")) {
		if (n != 2)
			fprintf(stderr, "error: Unexpected args: expected one context name, e.g. `minictl config "
					"use-context minik8s`\n");
		else
			rc = config_use_context(&f, argv[2]);
	} else {
		rc = config_get_contexts(&f, n - 1, argv + 2, output, no_headers);
	}
out:
	config_release(&f);
	free(output);
	return rc;
}
