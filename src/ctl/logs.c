/*
 * `minictl logs POD [-c CONTAINER] [-f] [--tail N] [--previous] [--timestamps]`:
 * a container's output through the apiserver's pods/log subresource, which
 * relays it from the pod's kubelet. The body is copied to stdout as it
 * arrives (with -f it never ends by itself), so this verb uses a plain curl
 * handle with the kubeconfig's CA and credentials instead of the JSON-only
 * REST client. The pod is read first to pick the container as kubectl does.
 */
#include "core/log.h"
#include "core/object.h"
#include "core/selector.h"
#include "core/util.h"
#include "ctl/ctl.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: minictl logs (POD | TYPE/NAME) [CONTAINER] [-c CONTAINER] [-f] [--tail N] [--previous]\n"
	"                    [--timestamps] [--since D] [--limit-bytes N]\n\n"
	"Prints a container's logs. TYPE/NAME may be pod/NAME, or a deployment or replica set\n"
	"(one of its pods is used).\n";

struct logs_opts {
	char *container;
	bool follow;
	int tail;            /* -1: everything */
	bool previous;
	bool timestamps;
	int64_t since_ms;    /* 0: from the start */
	int64_t limit_bytes; /* 0: no limit */
};

/* ---- the stream ------------------------------------------------------------ */

struct log_stream {
	CURL *curl;
	long status;         /* once the headers are in */
	struct strbuf error; /* the body of a non-2xx answer */
	bool write_failed;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct log_stream *ls = arg;
	size_t len = size * nmemb;

	if (!ls->status)
		curl_easy_getinfo(ls->curl, CURLINFO_RESPONSE_CODE, &ls->status);
	if (ls->status < 200 || ls->status >= 300) {
		strbuf_add(&ls->error, data, len);
		return len;
	}
	/* Straight through, so `logs -f` shows lines as they are written. */
	if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
		ls->write_failed = true;
		return 0;
	}
	return len;
}

/*
 * GETs path and copies a 2xx body to stdout as it streams. A Status answer
 * is printed as kubectl prints it. Returns 0 or -1.
 */
static int stream_to_stdout(struct ctl *c, const char *path)
{
	const struct kubeconfig *kc = c->kc;
	struct log_stream ls = { 0 };
	struct curl_slist *headers = NULL;
	char *url = xasprintf("%s%s", rest_client_server(c->rest), path), *auth = NULL;
	CURLcode res;
	int rc = -1;

	strbuf_init(&ls.error, 256);
	log_debug("logs request method=GET path=%s", path);
	ls.curl = curl_easy_init();
	if (!ls.curl) {
		fprintf(stderr, "error: cannot start a request to %s\n", url);
		goto out;
	}
	curl_easy_setopt(ls.curl, CURLOPT_URL, url);
	curl_easy_setopt(ls.curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(ls.curl, CURLOPT_WRITEDATA, &ls);
	curl_easy_setopt(ls.curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(ls.curl, CURLOPT_NOSIGNAL, 1L);
	headers = curl_slist_append(headers, "Accept: */*");
	if (kc->token) {
		auth = xasprintf("Authorization: Bearer %s", kc->token);
		headers = curl_slist_append(headers, auth);
	}
	curl_easy_setopt(ls.curl, CURLOPT_HTTPHEADER, headers);
	if (kc->insecure) {
		curl_easy_setopt(ls.curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(ls.curl, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (kc->ca_pem) {
		struct curl_blob ca = { kc->ca_pem, kc->ca_pem_len, CURL_BLOB_COPY };
		curl_easy_setopt(ls.curl, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (kc->cert_pem && kc->key_pem) {
		struct curl_blob cert = { kc->cert_pem, kc->cert_pem_len, CURL_BLOB_COPY };
		struct curl_blob key = { kc->key_pem, kc->key_pem_len, CURL_BLOB_COPY };
		curl_easy_setopt(ls.curl, CURLOPT_SSLCERT_BLOB, &cert);
		curl_easy_setopt(ls.curl, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(ls.curl, CURLOPT_SSLKEY_BLOB, &key);
		curl_easy_setopt(ls.curl, CURLOPT_SSLKEYTYPE, "PEM");
	}
	res = curl_easy_perform(ls.curl);
	if (!ls.status)
		curl_easy_getinfo(ls.curl, CURLINFO_RESPONSE_CODE, &ls.status);
	if (ls.write_failed) {
		rc = 0;  /* stdout went away (`| head`): not an error of ours */
		goto out;
	}
	if (res != CURLE_OK) {
		fprintf(stderr, "error: cannot read the logs from the API server at %s: %s\n", rest_client_server(c->rest),
			curl_easy_strerror(res));
		goto out;
	}
	if (ls.status < 200 || ls.status >= 300) {
		json_t *st = json_loadb(ls.error.buf, ls.error.len, 0, NULL);
		if (json_is_object(st))
			ctl_print_status(st, (int)ls.status);
		else
			fprintf(stderr, "error: the server answered HTTP %ld: %s\n", ls.status, ls.error.buf);
		json_decref(st);
		goto out;
	}
	rc = 0;
out:
	if (ls.curl)
		curl_easy_cleanup(ls.curl);
	curl_slist_free_all(headers);
	strbuf_release(&ls.error);
	free(auth);
	free(url);
	return rc;
}

/* ---- which pod, which container ------------------------------------------ */

/* Whether name is one of arr's elements' names. */
static bool has_container(const json_t *arr, const char *name)
{
	json_t *ct;
	size_t i;

	json_array_foreach(arr, i, ct)
		if (!strcmp(obj_str(ct, "name") ?: "", name))
			return true;
	return false;
}

/* kubectl's list: containers, then ephemeral (ephem), then init (init). */
static void all_container_names(const json_t *pod, struct strbuf *sb)
{
	static const struct {
		const char *path, *suffix;
	} lists[] = {
		{ "spec.containers", "" },
		{ "spec.ephemeralContainers", " (ephem)" },
		{ "spec.initContainers", " (init)" },
	};
	json_t *ct;
	size_t i;

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
		json_array_foreach(obj_get(pod, lists[l].path), i, ct)
			strbuf_addf(sb, "%s%s%s", sb->len ? ", " : "", obj_str(ct, "name") ?: "", lists[l].suffix);
}

/* The container to read: -c, the default-container annotation, or the first. */
static const char *pick_container(const json_t *pod, const char *wanted)
{
	const json_t *containers = obj_get(pod, "spec.containers");
	const char *def = obj_annotation(pod, "kubectl.kubernetes.io/default-container");
	const char *first = obj_str(json_array_get(containers, 0), "name");
	struct strbuf names;

	if (wanted) {
		if (has_container(containers, wanted) || has_container(obj_get(pod, "spec.initContainers"), wanted) ||
		    has_container(obj_get(pod, "spec.ephemeralContainers"), wanted))
			return wanted;
		fprintf(stderr, "error: container %s is not valid for pod %s\n", wanted, obj_name(pod));
		return NULL;
	}
	if (def && *def) {
		if (has_container(containers, def) || has_container(obj_get(pod, "spec.initContainers"), def))
			return def;
		fprintf(stderr, "Default container name \"%s\" not found in pod %s\n", def, obj_name(pod));
	}
	if (!first) {
		fprintf(stderr, "error: pod %s has no containers\n", obj_name(pod));
		return NULL;
	}
	if (json_array_size(containers) > 1 || json_array_size(obj_get(pod, "spec.initContainers")) ||
	    json_array_size(obj_get(pod, "spec.ephemeralContainers"))) {
		strbuf_init(&names, 128);
		all_container_names(pod, &names);
		fprintf(stderr, "Defaulted container \"%s\" out of: %s\n", first, names.buf);
		strbuf_release(&names);
	}
	return first;
}

/* GETs pod name; kubectl words a missing pod its own way. New reference or NULL. */
static json_t *get_pod(struct ctl *c, const char *name)
{
	char *path = ctl_kind_path(&kind_pod, c->ns, name);
	json_t *pod = NULL;
	int status = ctl_request(c, "GET", path, NULL, NULL, NULL, &pod);

	free(path);
	if (status == 200)
		return pod;
	if (status == 404)
		fprintf(stderr, "error: error from server (NotFound): pods \"%s\" not found in namespace \"%s\"\n", name,
			c->ns);
	else
		ctl_print_status(pod, status);
	json_decref(pod);
	return NULL;
}

static int pod_rank(const json_t *pod)
{
	return (obj_str(pod, "spec.nodeName") ? 2 : 0) + !strcmp(obj_str(pod, "status.phase") ?: "", "Running");
}

/* One pod of a Deployment or ReplicaSet (a running one if any). */
static json_t *pod_of(struct ctl *c, const struct kind *k, const char *name)
{
	char *path = ctl_kind_path(k, c->ns, name), *sel_str = NULL, *err = NULL, ref[512];
	struct label_selector *sel = NULL;
	json_t *owner = NULL, *list = NULL, *best = NULL, *pod;
	struct strbuf lpath;
	int status = ctl_request(c, "GET", path, NULL, NULL, NULL, &owner);
	size_t i;

	strbuf_init(&lpath, 128);
	ctl_object_ref(k, name, ref, sizeof(ref));
	if (status != 200) {
		ctl_print_status(owner, status);
		goto out;
	}
	if (label_selector_from_json(obj_get(owner, "spec.selector"), &sel, &err) < 0) {
		fprintf(stderr, "error: %s has an invalid selector: %s\n", ref, err);
		goto out;
	}
	sel_str = label_selector_string(sel);
	free(path);
	path = ctl_kind_path(&kind_pod, c->ns, NULL);
	strbuf_adds(&lpath, path);
	rest_query_add(&lpath, "labelSelector", sel_str);
	status = ctl_request(c, "GET", lpath.buf, NULL, NULL, NULL, &list);
	if (status != 200) {
		ctl_print_status(list, status);
		goto out;
	}
	json_array_foreach(obj_get(list, "items"), i, pod)
		if (!best || pod_rank(pod) > pod_rank(best))
			best = pod;
	if (!best) {
		fprintf(stderr, "error: %s has no pods yet; `minictl get pods -l %s` shows when it has\n", ref, sel_str);
		goto out;
	}
	if (json_array_size(obj_get(list, "items")) > 1)
		fprintf(stderr, "Found %zu pods, using pod/%s\n", json_array_size(obj_get(list, "items")), obj_name(best));
	json_incref(best);
out:
	strbuf_release(&lpath);
	label_selector_free(sel);
	free(sel_str);
	free(err);
	free(path);
	json_decref(owner);
	json_decref(list);
	return best;
}

int ctl_logs(struct ctl *c, int argc, char **argv)
{
	struct logs_opts o = { .tail = -1 };
	const struct flag flags[] = {
		{ "container", FLAG_STRING, &o.container, "the container to read (default: the only or first one)" },
		{ "c", FLAG_STRING, &o.container, "short for --container" },
		{ "follow", FLAG_BOOL, &o.follow, "keep printing new lines until interrupted" },
		{ "f", FLAG_BOOL, &o.follow, "short for --follow" },
		{ "tail", FLAG_INT, &o.tail, "only the last N lines (-1: all)" },
		{ "previous", FLAG_BOOL, &o.previous, "the previous instance of the container (after a restart)" },
		{ "p", FLAG_BOOL, &o.previous, "short for --previous" },
		{ "timestamps", FLAG_BOOL, &o.timestamps, "prefix each line with its RFC 3339 time" },
		{ "since", FLAG_DURATION, &o.since_ms, "only lines newer than this (5s, 2m, 3h)" },
		{ "limit-bytes", FLAG_INT64, &o.limit_bytes, "stop after this many bytes" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), flags, NULL };
	const char *arg, *slash, *container, *wanted;
	json_t *pod = NULL;
	struct strbuf path;
	char num[32];
	int n, rc = 1;

	strbuf_init(&path, 256);
	ctl_expand_short_flags(argc, argv, "c");
	n = flags_parse(tables, usage, argc, argv);
	if (n < 0)
		goto out;
	if (n == 0 || n > 2) {
		if (n == 0)
			fprintf(stderr, "error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\n"
					"POD or TYPE/NAME is a required argument for the logs command\n"
					"See 'minictl logs -h' for help and examples\n");
		else
			fprintf(stderr, "error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\n"
					"See 'minictl logs -h' for help and examples\n");
		goto out;
	}
	wanted = o.container;
	if (n == 2) {
		if (wanted) {
			fprintf(stderr, "error: only one of -c or an inline [CONTAINER] arg is allowed\n");
			goto out;
		}
		wanted = argv[2];
	}
	if (ctl_connect(c) < 0)
		goto out;
	arg = argv[1];
	slash = strchr(arg, '/');
	if (slash) {
		char *type = xstrndup(arg, (size_t)(slash - arg));
		const struct kind *k = ctl_resolve_kind(type);
		free(type);
		if (!k)
			goto out;
		if (k == &kind_pod)
			pod = get_pod(c, slash + 1);
		else if (k == &kind_deployment || k == &kind_replicaset)
			pod = pod_of(c, k, slash + 1);
		else
			fprintf(stderr, "error: cannot get the logs from %s: pick a pod, deployment or replica set\n",
				k->plural);
	} else {
		pod = get_pod(c, arg);
	}
	if (!pod || !(container = pick_container(pod, wanted)))
		goto out;

	strbuf_addf(&path, "/api/v1/namespaces/%s/pods/%s/log", obj_namespace(pod) ?: c->ns, obj_name(pod));
	rest_query_add(&path, "container", container);
	if (o.follow)
		rest_query_add(&path, "follow", "true");
	if (o.limit_bytes > 0) {
		snprintf(num, sizeof(num), "%lld", (long long)o.limit_bytes);
		rest_query_add(&path, "limitBytes", num);
	}
	if (o.previous)
		rest_query_add(&path, "previous", "true");
	if (o.since_ms > 0) {
		snprintf(num, sizeof(num), "%lld", (long long)((o.since_ms + 999) / 1000));
		rest_query_add(&path, "sinceSeconds", num);
	}
	if (o.tail >= 0) {
		snprintf(num, sizeof(num), "%d", o.tail);
		rest_query_add(&path, "tailLines", num);
	}
	if (o.timestamps)
		rest_query_add(&path, "timestamps", "true");
	rc = stream_to_stdout(c, path.buf) < 0;
out:
	strbuf_release(&path);
	json_decref(pod);
	free(o.container);
	return rc;
}
