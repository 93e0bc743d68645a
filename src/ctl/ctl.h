/*
 * minictl's shared state and helpers. Every verb is one file,
 * src/ctl/<verb>.c, with one entry point
 *
 *     int ctl_<verb>(struct ctl *c, int argc, char **argv);
 *
 * (argv[0] is the verb's name, as for a command) that parses its own flags
 * with flags_parse() over a table list that includes ctl_global_flags, so
 * global flags (-n, --kubeconfig, -s, --token, --context, -A) work anywhere
 * on the line, as in kubectl. It returns the exit code: 0 success, 1 error.
 *
 * How to add a verb:
 *   1. Write src/ctl/<verb>.c with ctl_<verb>() and its flag table.
 *   2. Declare it below and add a row to the verb table in src/ctl/ctl.c.
 *   3. Add the file to src/ctl/meson.build and a test to tests/integration.
 *
 * Messages follow kubectl's so what a student learns carries over:
 * `deployment.apps/web created`, `Error from server (NotFound): pods "x" not
 * found`; and they say what to do next.
 */
#ifndef MINIK8S_CTL_CTL_H
#define MINIK8S_CTL_CTL_H

#include "apiserver/kinds.h"
#include "client/kubeconfig.h"
#include "client/rest.h"
#include "core/flags.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* Global flags, filled by flags_parse through ctl_global_flags. */
struct ctl_options {
	char *kubeconfig;   /* --kubeconfig */
	char *server;       /* -s, --server */
	char *token;        /* --token */
	char *context;      /* --context */
	char *namespace;    /* -n, --namespace */
	bool all_namespaces;/* -A, --all-namespaces */
	char *log_level;    /* -v */
	char *request_timeout; /* --request-timeout */
};

struct ctl {
	struct ctl_options opt;
	/* Set by ctl_connect(): */
	struct kubeconfig *kc;
	char *kubeconfig_path;     /* the file used, for messages ("(none)" when -s/--token only) */
	struct rest_client *rest;  /* a private loop: use rest_sync() or ctl_request() */
	const char *ns;            /* -n, else the kubeconfig context's namespace, else "default" */
};

/* The global flags' table for c, to list first in a verb's flag tables:
 *     const struct flag *const tables[] = { ctl_global_flags(c), verb_flags, NULL };
 * Static storage: one struct ctl at a time, as minictl runs one verb. */
const struct flag *ctl_global_flags(struct ctl *c);

/* The dispatcher (ctl.c): `minictl <verb> ...` and `minik8s ctl <verb> ...`. */
int cmd_ctl(int argc, char **argv);

/*
 * Loads the kubeconfig (--kubeconfig, $KUBECONFIG, ~/.minik8s/config, with
 * -s/--token/--context/-n applied) and creates the REST client. Verbs that
 * need no server (version --client, completion, config) do not call it.
 * On failure prints an error that names the kubeconfig tried and how to
 * start a cluster, and returns -1.
 */
int ctl_connect(struct ctl *c);
/* Frees what ctl_connect made (the dispatcher calls it after every verb). */
void ctl_release(struct ctl *c);

/*
 * A blocking request. On a transport failure prints "error: cannot reach the
 * API server at URL: ..., is it running? start one with `minik8s server`";
 * on 401 names the kubeconfig used. Returns the HTTP status (0 when no
 * answer), and *out (if not NULL) gets the parsed body as a new reference
 * (or NULL). Does not print errors for 4xx/5xx other than 401: the caller
 * decides (most call ctl_print_status()).
 */
int ctl_request(struct ctl *c, const char *method, const char *path, const json_t *body,
		const char *content_type, const char *accept, json_t **out);

/* Prints a Status as kubectl does: `Error from server (NotFound): pods "x" not found`. */
void ctl_print_status(const json_t *status, int http_status);

/* POSTs obj (borrowed) to its collection and prints `deployment.apps/web
 * created`, or the server's refusal `... error when creating <where>: ...`
 * (where may be NULL). Returns 0, -1 when the object failed, -2 when the
 * server cannot be reached (or refused the token). */
int ctl_create_object(struct ctl *c, const struct kind *k, const json_t *obj, const char *where);

/*
 * Resolves what the user typed ("po", "deploy", "deployments.apps", "Pod")
 * to a kind. On failure prints `error: the server doesn't have a resource
 * type "x"` plus, for a kind minik8s does not serve, that it is not
 * supported by minik8s, or close matches ("did you mean ...?"); returns NULL.
 */
const struct kind *ctl_resolve_kind(const char *name);

/* "deployment.apps/web" or "pod/web": kubectl's name for an object. Static per call. */
const char *ctl_object_ref(const struct kind *k, const char *name, char *buf, size_t len);

/* One document from a manifest, with where it came from for messages. */
struct ctl_manifest {
	json_t *obj;      /* new reference */
	char *origin;     /* file path, or "STDIN" */
	int doc;          /* 1-based document index within the file */
	int line;         /* first line of the document */
};

/*
 * Reads every -f argument: a file, a directory (its .yaml, .yml, .json files;
 * with recursive, subdirectories too) or "-" (stdin); multi-document YAML and
 * JSON (a JSON List's items are separate objects). Errors name the file and
 * position: `error: error parsing web.yaml: line 7 column 3: mapping values
 * are not allowed in this context`; a missing file says `error: the path
 * "x.yaml" does not exist`. Returns 0 and a heap array (free with
 * ctl_manifests_free), or -1 after printing.
 */
int ctl_read_manifests(const struct flag_list *files, bool recursive, struct ctl_manifest **out, int *n);
void ctl_manifests_free(struct ctl_manifest *m, int n);

/* The manifest's kind, checked (prints an error naming origin/doc and returns NULL). */
const struct kind *ctl_manifest_kind(const struct ctl_manifest *m);

/*
 * Prints a meta.k8s.io/v1 Table as kubectl does: uppercase headers, columns
 * padded with three spaces, priority-1 columns only when wide, a NAMESPACE
 * column first when show_ns, names prefixed with "kind/" when with_kind.
 * Dates and durations come already formatted from the server.
 */
struct ctl_table_opts {
	bool wide;
	bool show_ns;
	bool with_kind;
	bool no_headers;
	const char *kind_prefix;  /* "pod" or "deployment.apps" for with_kind */
};
void ctl_print_table(const json_t *table, const struct ctl_table_opts *o);

/* Sets a node's spec.unschedulable (cordon.c; drain uses it too). *changed
 * says whether it was different before. 0, or -1 after printing. */
int ctl_node_set_unschedulable(struct ctl *c, const char *name, bool want, bool *changed);

/* Verbs. */
int ctl_apply(struct ctl *c, int argc, char **argv);
int ctl_create(struct ctl *c, int argc, char **argv);
int ctl_replace(struct ctl *c, int argc, char **argv);
int ctl_delete(struct ctl *c, int argc, char **argv);
int ctl_get(struct ctl *c, int argc, char **argv);
int ctl_describe(struct ctl *c, int argc, char **argv);
int ctl_logs(struct ctl *c, int argc, char **argv);
int ctl_scale(struct ctl *c, int argc, char **argv);
int ctl_rollout(struct ctl *c, int argc, char **argv);
int ctl_events(struct ctl *c, int argc, char **argv);
int ctl_cordon(struct ctl *c, int argc, char **argv);
int ctl_uncordon(struct ctl *c, int argc, char **argv);
int ctl_drain(struct ctl *c, int argc, char **argv);
int ctl_cluster_info(struct ctl *c, int argc, char **argv);
int ctl_api_resources(struct ctl *c, int argc, char **argv);
int ctl_version(struct ctl *c, int argc, char **argv);
int ctl_config(struct ctl *c, int argc, char **argv);
int ctl_completion(struct ctl *c, int argc, char **argv);

/* ---- shared helpers added for the core verbs (common.c, manifest.c, print.c) ---- */

/* kubectl's own tab writers: `get` aligns with minimum width 6 and three
 * spaces of padding, remembering widths across flushes (so watch rows line
 * up with the header); `describe` uses no minimum and two spaces. */
#define CTL_TABLE_MINWIDTH 6
#define CTL_TABLE_PADDING 3
#define CTL_DESCRIBE_PADDING 2

/*
 * Column alignment exactly as Go's text/tabwriter (with the RememberWidths
 * extension kubectl uses): text is buffered; on flush, cells separated by
 * '\t' in consecutive lines form columns padded to their widest cell plus
 * padding; the text after a line's last tab takes no part in alignment.
 */
struct ctl_tabwriter;
struct ctl_tabwriter *ctl_tabwriter_new(FILE *out, int minwidth, int padding, bool remember_widths);
void ctl_tabwriter_write(struct ctl_tabwriter *w, const char *s, size_t len);
void ctl_tabwriter_printf(struct ctl_tabwriter *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes out what is buffered; returns the bytes written by this flush. */
size_t ctl_tabwriter_flush(struct ctl_tabwriter *w);
/* Bytes written since creation. */
size_t ctl_tabwriter_written(const struct ctl_tabwriter *w);
void ctl_tabwriter_forget_widths(struct ctl_tabwriter *w);
/* Flushes and frees (NULL is fine). */
void ctl_tabwriter_free(struct ctl_tabwriter *w);

/*
 * The lower half of ctl_print_table, for verbs that print several tables or
 * a watch through one writer: writes the header (when headers and not
 * o->no_headers) and the rows, and a LABELS column when show_labels.
 * Writes nothing for a table without rows. Returns the number of rows.
 */
int ctl_table_write(struct ctl_tabwriter *w, const json_t *table, const struct ctl_table_opts *o,
		    bool show_labels, bool headers);

/* "app=web,tier=db" (keys sorted) or "<none>". New string. */
char *ctl_format_labels(const json_t *labels);

/* v as Go's encoding/json writes it (what kubectl prints and records):
 * object keys sorted, <, > and & as \u003c \u003e \u0026; compact, or
 * indented by four spaces as `-o json`. No trailing newline. New string. */
char *ctl_json_go(const json_t *v, bool indent);
/* A deep copy of v with object keys sorted (for `-o yaml`). New reference. */
json_t *ctl_json_sorted(const json_t *v);

/*
 * Prints objects (a JSON array, borrowed) as `-o json`, `-o yaml` or
 * `-o name`. With single and exactly one item it prints the object itself,
 * else a v1 List as kubectl does. Returns 0, or -1 (and prints why) for an
 * unknown format.
 */
int ctl_print_objects(const char *format, const json_t *items, bool single);

/* Like ctl_print_status, with what was being done: `Error from server
 * (AlreadyExists): error when creating "x.yaml": deployments.apps "web"
 * already exists`. when may be NULL. */
void ctl_print_status_when(const json_t *status, int http_status, const char *when);

/* The collection (name NULL) or object path of kind k in namespace ns
 * (ignored for cluster-scoped kinds; NULL for all namespaces). New string. */
char *ctl_kind_path(const struct kind *k, const char *ns, const char *name);

/* Whether -n/--namespace was given on the command line (kubectl then
 * refuses manifests that name another namespace). */
bool ctl_namespace_explicit(const struct ctl *c);

/*
 * Rewrites kubectl's attached short forms ("-oyaml", "-lapp=web", "-nkube-system")
 * to "-o=yaml" and friends so flags_parse() understands them. Call before
 * flags_parse(); the strings live until ctl_release().
 */
void ctl_expand_short_flags(int argc, char **argv, const char *letters);

/* For messages about a manifest: `"web.yaml"` for a file's only or first
 * document, `"web.yaml" (document 2)` for later ones. Static per call. */
const char *ctl_manifest_where(const struct ctl_manifest *m);

/* Frees a flag_list's items (flags_parse allocates them). */
void ctl_flag_list_release(struct flag_list *l);

/*
 * The object of manifest m ready to send: its kind checked, a copy (*obj_out,
 * new reference) with metadata.namespace set to c->ns when the manifest has
 * none (as kubectl does). A manifest naming another namespace than an
 * explicit -n is refused as kubectl refuses it. Returns 0, or -1 after
 * printing why.
 */
int ctl_manifest_prepare(const struct ctl *c, const struct ctl_manifest *m, const struct kind **kind_out,
			 json_t **obj_out);

/* -f/--filename and -R/--recursive as apply, create and replace take them,
 * filling *files and *recursive; list the table after ctl_global_flags.
 * Static storage, as ctl_global_flags. */
const struct flag *ctl_manifest_flags(struct flag_list *files, bool *recursive);

/*
 * The loop of the verbs that send manifests to the server (apply, create,
 * replace): reads files, connects, and calls send_one with each document's
 * object made ready by ctl_manifest_prepare (borrowed; send_one may change
 * it). send_one returns 0, -1 for a failed object, or -2 when the server
 * cannot be reached, which ends the loop. verb names the command in "error:
 * no objects passed to <verb>". Returns the exit code: 1 when an object
 * failed or none was read, else 0.
 */
typedef int ctl_send_fn(struct ctl *c, const struct ctl_manifest *m, const struct kind *k, json_t *obj,
			void *arg);
int ctl_manifests_send(struct ctl *c, const struct flag_list *files, bool recursive, const char *verb,
		       ctl_send_fn *send_one, void *arg);

/* The annotation in which apply (and create --save-config) records the
 * manifest, and that record for obj as kubectl writes it: every annotation
 * but the record itself (an empty map when there are none), compact JSON,
 * keys sorted, Go's HTML-safe escaping, and a newline. New string. */
#define CTL_LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"
char *ctl_last_applied(const json_t *obj);

#endif
