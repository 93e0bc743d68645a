/*
 * What every minictl verb shares: the global flags, finding and loading the
 * kubeconfig, the blocking REST client, and kubectl's wording for errors
 * (`Error from server (NotFound): ...`, unreachable server, refused token)
 * and for names (`deployment.apps/web`). Verbs live in their own files and
 * call these; the dispatcher (ctl.c) calls ctl_release() after each verb.
 */
#include "ctl/ctl.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static struct flag global_flags[16];
static bool insecure_skip_verify;
static bool unreachable_reported;

/* Strings made by ctl_expand_short_flags, freed by ctl_release. */
static char **expanded;
static int nexpanded;

const struct flag *ctl_global_flags(struct ctl *c)
{
	const struct flag table[] = {
		{ "kubeconfig", FLAG_STRING, &c->opt.kubeconfig, "path to the kubeconfig file to use" },
		{ "server", FLAG_STRING, &c->opt.server, "the address of the API server (overrides the kubeconfig's)" },
		{ "s", FLAG_STRING, &c->opt.server, "short for --server" },
		{ "token", FLAG_STRING, &c->opt.token, "bearer token for authentication to the API server" },
		{ "context", FLAG_STRING, &c->opt.context, "the kubeconfig context to use" },
		{ "namespace", FLAG_STRING, &c->opt.namespace, "the namespace for this request" },
		{ "n", FLAG_STRING, &c->opt.namespace, "short for --namespace" },
		{ "all-namespaces", FLAG_BOOL, &c->opt.all_namespaces, "across all namespaces" },
		{ "A", FLAG_BOOL, &c->opt.all_namespaces, "short for --all-namespaces" },
		{ "v", FLAG_STRING, &c->opt.log_level, "log verbosity (kubectl's -v=6 shows failed requests, -v=8 every request)" },
		{ "request-timeout", FLAG_STRING, &c->opt.request_timeout,
		  "how long to wait for one server answer (\"30s\", \"1m\"; 0: no limit)" },
		{ "insecure-skip-tls-verify", FLAG_BOOL, &insecure_skip_verify,
		  "do not check the server's certificate (insecure)" },
		{ NULL, 0, NULL, NULL },
	};

	memcpy(global_flags, table, sizeof(table));
	return global_flags;
}

void ctl_flag_list_release(struct flag_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

void ctl_expand_short_flags(int argc, char **argv, const char *letters)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			return;
		/* "-oyaml": a known one-letter flag with its value attached */
		if (a[0] == '-' && a[1] && a[1] != '-' && strchr(letters, a[1]) && a[2] && a[2] != '=') {
			char *s = xasprintf("-%c=%s", a[1], a + 2);
			expanded = xrealloc(expanded, sizeof(char *) * (size_t)(nexpanded + 1));
			expanded[nexpanded++] = s;
			argv[i] = s;
		}
	}
}

bool ctl_namespace_explicit(const struct ctl *c)
{
	return c->opt.namespace && *c->opt.namespace;
}

/* kubectl's -v levels onto ours: 6 shows failed requests, 8 every one. */
static void apply_verbosity(const char *v)
{
	long n;
	char *end;

	if (!v || !*v)
		return;
	n = strtol(v, &end, 10);
	if (*end) {
		log_set_level(v);
		return;
	}
	if (n >= 8)
		log_set_level("trace");
	else if (n >= 6)
		log_set_level("debug");
	else if (n >= 2)
		log_set_level("info");
}

int ctl_connect(struct ctl *c)
{
	struct strbuf err;
	char *path;
	int rc = -1;

	apply_verbosity(c->opt.log_level);
	strbuf_init(&err, 128);
	path = kubeconfig_find(c->opt.kubeconfig);
	if (access(path, F_OK) != 0) {
		if (c->opt.kubeconfig && *c->opt.kubeconfig) {
			fprintf(stderr, "error: the kubeconfig \"%s\" given with --kubeconfig does not exist\n", path);
			goto out;
		}
		if (!c->opt.server || !*c->opt.server) {
			fprintf(stderr,
				"error: no kubeconfig found at %s: start a cluster with `minik8s server` (it writes "
				"one there), or point at one with --kubeconfig FILE or $KUBECONFIG, or give -s URL "
				"--token T\n", path);
			goto out;
		}
		c->kc = kubeconfig_new(c->opt.server, c->opt.token);
		c->kubeconfig_path = xstrdup("(none)");
	} else {
		if (kubeconfig_load(path, c->opt.context, &c->kc, &err) < 0) {
			fprintf(stderr, "error: %s\n", err.buf);
			goto out;
		}
		c->kubeconfig_path = xstrdup(path);
		if (c->opt.server && *c->opt.server)
			kubeconfig_set_server(c->kc, c->opt.server);
		if (c->opt.token && *c->opt.token)
			kubeconfig_set_token(c->kc, c->opt.token);
	}
	if (insecure_skip_verify)
		c->kc->insecure = true;
	c->ns = ctl_namespace_explicit(c) ? c->opt.namespace
		: c->kc->namespace && *c->kc->namespace ? c->kc->namespace : "default";
	c->rest = rest_client_new(NULL, c->kc);
	if (!c->rest) {
		fprintf(stderr, "error: the kubeconfig %s names no server: pass -s URL or fix the file\n",
			c->kubeconfig_path);
		goto out;
	}
	if (c->opt.request_timeout && *c->opt.request_timeout) {
		int64_t ms;
		if (flags_parse_duration(c->opt.request_timeout, &ms) < 0 && strcmp(c->opt.request_timeout, "0")) {
			fprintf(stderr, "error: invalid --request-timeout \"%s\": want a duration such as 30s or 1m\n",
				c->opt.request_timeout);
			goto out;
		}
		if (!strcmp(c->opt.request_timeout, "0"))
			ms = -1;
		rest_client_set_timeout(c->rest, (long)ms);
	}
	rc = 0;
out:
	free(path);
	strbuf_release(&err);
	return rc;
}

void ctl_release(struct ctl *c)
{
	if (c->rest)
		rest_client_close(c->rest, NULL, NULL);
	c->rest = NULL;
	kubeconfig_free(c->kc);
	c->kc = NULL;
	free(c->kubeconfig_path);
	c->kubeconfig_path = NULL;
	free(c->opt.kubeconfig);
	free(c->opt.server);
	free(c->opt.token);
	free(c->opt.context);
	free(c->opt.namespace);
	free(c->opt.log_level);
	free(c->opt.request_timeout);
	memset(&c->opt, 0, sizeof(c->opt));
	for (int i = 0; i < nexpanded; i++)
		free(expanded[i]);
	free(expanded);
	expanded = NULL;
	nexpanded = 0;
	unreachable_reported = false;
}

static void print_unreachable(struct ctl *c, const char *why)
{
	if (unreachable_reported)
		return;
	unreachable_reported = true;
	if (why && strstr(why, "cannot reach the API server"))
		fprintf(stderr, "error: %s: is it running? start one with `minik8s server` (or scripts/up.sh)\n", why);
	else
		fprintf(stderr, "error: %s (API server at %s, kubeconfig %s)\n", why ? why : "no answer",
			rest_client_server(c->rest), c->kubeconfig_path);
}

static void print_unauthorized(struct ctl *c)
{
	if (c->opt.token && *c->opt.token)
		fprintf(stderr, "error: You must be logged in to the server (Unauthorized): the token given with "
				"--token was refused\n");
	else if (c->kc && c->kc->token)
		fprintf(stderr, "error: You must be logged in to the server (Unauthorized): the token in %s was "
				"refused; `minik8s server` writes a kubeconfig with a working token into its data dir\n",
			c->kubeconfig_path);
	else
		fprintf(stderr, "error: You must be logged in to the server (Unauthorized): %s has no token or "
				"client certificate for %s\n", c->kubeconfig_path, rest_client_server(c->rest));
}

int ctl_request(struct ctl *c, const char *method, const char *path, const json_t *body,
		const char *content_type, const char *accept, json_t **out)
{
	struct rest_options opts = { .content_type = content_type, .accept = accept };
	struct rest_result res;
	int status;

	rest_sync(c->rest, method, path, body, &opts, &res);
	status = res.status;
	if (out)
		*out = json_incref(res.body);
	if (status == 0)
		print_unreachable(c, res.error);
	else if (status == 401)
		print_unauthorized(c);
	rest_result_release(&res);
	return status;
}

void ctl_print_status_when(const json_t *status, int http_status, const char *when)
{
	const char *reason = obj_str(status, "reason");
	const char *message = obj_str(status, "message");
	char fallback[96];

	if (http_status == 0 || http_status == 401)
		return;  /* ctl_request said it already */
	if (!message || !*message) {
		snprintf(fallback, sizeof(fallback), "the server answered HTTP %d", http_status);
		message = fallback;
	}
	if (reason && *reason)
		fprintf(stderr, "Error from server (%s): %s%s%s\n", reason, when ? when : "", when ? ": " : "", message);
	else
		fprintf(stderr, "Error from server: %s%s%s\n", when ? when : "", when ? ": " : "", message);
}

void ctl_print_status(const json_t *status, int http_status)
{
	ctl_print_status_when(status, http_status, NULL);
}

int ctl_create_object(struct ctl *c, const struct kind *k, const json_t *obj, const char *where)
{
	char *coll = ctl_kind_path(k, obj_namespace(obj), NULL), ref[512], when[4300];
	json_t *resp = NULL;
	int status, rc = 0;

	status = ctl_request(c, "POST", coll, obj, NULL, NULL, &resp);
	if (status == 201 || status == 200) {
		printf("%s created\n", ctl_object_ref(k, obj_name(resp) ?: obj_name(obj) ?: "", ref, sizeof(ref)));
	} else {
		if (where)
			snprintf(when, sizeof(when), "error when creating %s", where);
		ctl_print_status_when(resp, status, where ? when : NULL);
		rc = status == 0 || status == 401 ? -2 : -1;
	}
	fflush(stdout);
	json_decref(resp);
	free(coll);
	return rc;
}

const struct kind *ctl_resolve_kind(const char *name)
{
	const struct kind *k = kind_by_name(name);
	const char *unsupported;
	const char *best[8];
	int nbest = 0, bestd = INT_MAX;

	if (k)
		return k;
	fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", name);
	unsupported = kind_unsupported(name);
	if (unsupported) {
		fprintf(stderr, "%s is a Kubernetes kind, but it is not supported by minik8s; `minictl "
				"api-resources` lists the kinds it serves\n", unsupported);
		return NULL;
	}
	/* Close matches among every spelling, one per kind. */
	for (int i = 0; kinds[i]; i++) {
		const struct kind *kk = kinds[i];
		const char *sp[12] = { kk->singular, kk->plural };
		int n = 2, kd = INT_MAX;
		const char *kbest = NULL;
		for (int j = 0; kk->short_names && kk->short_names[j] && n < 12; j++)
			sp[n++] = kk->short_names[j];
		for (int j = 0; j < n; j++) {
			int d = str_distance_nocase(name, sp[j]);
			/* on a tie, the spelling nearest in length: "configmpas" -> "configmaps" */
			if (d == kd && kbest && abs((int)strlen(sp[j]) - (int)strlen(name)) <
						    abs((int)strlen(kbest) - (int)strlen(name)))
				kbest = sp[j];
			if (d < kd) {
				kd = d;
				kbest = sp[j];
			}
		}
		if (kd > 2 || kd >= (int)strlen(name))
			continue;
		if (kd < bestd) {
			bestd = kd;
			nbest = 0;
		}
		if (kd == bestd && nbest < 8)
			best[nbest++] = kbest;
	}
	if (nbest) {
		fprintf(stderr, "did you mean ");
		for (int i = 0; i < nbest; i++)
			fprintf(stderr, "%s\"%s\"", i == 0 ? "" : i == nbest - 1 ? " or " : ", ", best[i]);
		fprintf(stderr, "?\n");
	} else {
		fprintf(stderr, "`minictl api-resources` lists the kinds this server has\n");
	}
	return NULL;
}

const char *ctl_object_ref(const struct kind *k, const char *name, char *buf, size_t len)
{
	char lower[64];
	size_t i;

	for (i = 0; k->kind[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)k->kind[i]);
	lower[i] = '\0';
	if (k->group[0])
		snprintf(buf, len, "%s.%s/%s", lower, k->group, name);
	else
		snprintf(buf, len, "%s/%s", lower, name);
	return buf;
}

char *ctl_kind_path(const struct kind *k, const char *ns, const char *name)
{
	struct rest_resource r = { k->group, k->version, k->plural, k->namespaced };

	return rest_resource_path(&r, k->namespaced ? ns : NULL, name, NULL);
}
