/*
 * `minictl drain NODE`: cordon the node, then evict its pods through the
 * policy/v1 Eviction subresource and wait until they are gone, as kubectl
 * drain does. Before evicting anything it checks every pod as kubectl's
 * filters do: DaemonSet pods (--ignore-daemonsets), pods with emptyDir data
 * (--delete-emptydir-data) and pods no controller would recreate (--force)
 * stop the drain with kubectl's messages. A pod on a node is only marked
 * for deletion by the eviction; it is gone once its kubelet confirms.
 */
#include "core/object.h"
#include "core/util.h"
#include "ctl/ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* In cordon.c (until ctl.h lists it). */

static const char usage[] =
	"usage: minictl drain NODE... [--ignore-daemonsets] [--delete-emptydir-data] [--force]\n"
	"                     [--grace-period N] [--timeout D] [--pod-selector S] [--disable-eviction]\n\n"
	"Cordons nodes and evicts their pods (each pod's controller makes a new one elsewhere),\n"
	"then waits until the pods are gone.\n";

/* kubectl's words for pods a drain will not (or will reluctantly) remove. */
#define DAEMONSET_FATAL "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
#define DAEMONSET_WARNING "ignoring DaemonSet-managed Pods"
#define LOCAL_STORAGE_FATAL "Pods with local storage (use --delete-emptydir-data to override)"
/* kubectl 1.32 prefixes this one with "cannot delete " once more when it reports it. */
#define UNMANAGED_FATAL "cannot delete Pods that declare no controller (use --force to override)"
#define UNMANAGED_WARNING "deleting Pods that declare no controller"

#define POLL_MS 500

struct drain_options {
	bool ignore_daemonsets;
	bool delete_emptydir_data;
	bool force;
	bool disable_eviction;
	int grace_period;       /* -1: each pod's own */
	int64_t timeout_ms;     /* 0: wait as long as it takes */
	char *pod_selector;
};

/* What the filters decided for one pod. */
enum verdict { VERDICT_DELETE, VERDICT_SKIP, VERDICT_FATAL };

struct pod_check {
	enum verdict verdict;
	const char *message;  /* a warning (VERDICT_DELETE, VERDICT_SKIP) or error (VERDICT_FATAL); NULL: none */
};

static const json_t *controller_ref(const json_t *pod)
{
	json_t *ref;
	size_t i;

	json_array_foreach(obj_get(pod, "metadata.ownerReferences"), i, ref)
		if (obj_bool(ref, "controller", false))
			return ref;
	return NULL;
}

static bool finished(const json_t *pod)
{
	const char *phase = obj_str(pod, "status.phase");

	return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

static bool has_emptydir(const json_t *pod)
{
	json_t *vol;
	size_t i;

	json_array_foreach(obj_get(pod, "spec.volumes"), i, vol)
		if (obj_get(vol, "emptyDir"))
			return true;
	return false;
}

/*
 * kubectl's filters in kubectl's order. As there, the first filter that
 * keeps a pod decides, and otherwise the last one's word stands (so a
 * local-storage warning gives way to the controller check's "ok").
 */
static struct pod_check check_pod(const json_t *pod, const struct drain_options *o)
{
	const json_t *ref = controller_ref(pod);

	/* DaemonSet pods: their controller would put them right back. */
	if (ref && !strcmp(obj_str(ref, "kind") ?: "", "DaemonSet") && !finished(pod)) {
		if (!o->ignore_daemonsets)
			return (struct pod_check){ VERDICT_FATAL, DAEMONSET_FATAL };
		return (struct pod_check){ VERDICT_SKIP, DAEMONSET_WARNING };
	}
	/* Mirror pods belong to a kubelet's static manifests. */
	if (obj_annotation(pod, "kubernetes.io/config.mirror"))
		return (struct pod_check){ VERDICT_SKIP, NULL };
	if (has_emptydir(pod) && !finished(pod) && !o->delete_emptydir_data)
		return (struct pod_check){ VERDICT_FATAL, LOCAL_STORAGE_FATAL };
	/* (kubectl's "deleting Pods with local storage" warning would be
	 * overwritten right here by the controller check, so it never shows.) */
	if (finished(pod) || ref)
		return (struct pod_check){ VERDICT_DELETE, NULL };
	if (!o->force)
		return (struct pod_check){ VERDICT_FATAL, UNMANAGED_FATAL };
	return (struct pod_check){ VERDICT_DELETE, UNMANAGED_WARNING };
}

/*
 * Groups pods by message, in the order messages first appear: appends
 * "<prefix><message>: ns/a, ns/b" to out (a JSON array of strings).
 */
static void group_messages(json_t *out, json_t *pods, const struct pod_check *checks, bool fatal,
			   const char *prefix)
{
	size_t n = json_array_size(pods);

	for (size_t i = 0; i < n; i++) {
		struct strbuf sb;
		bool seen = false;

		if (!checks[i].message || (checks[i].verdict == VERDICT_FATAL) != fatal)
			continue;
		for (size_t j = 0; j < i; j++)
			seen |= checks[j].message == checks[i].message && (checks[j].verdict == VERDICT_FATAL) == fatal;
		if (seen)
			continue;
		strbuf_init(&sb, 128);
		strbuf_addf(&sb, "%s%s: ", prefix, checks[i].message);
		for (size_t j = i, k = 0; j < n; j++) {
			if (checks[j].message != checks[i].message || (checks[j].verdict == VERDICT_FATAL) != fatal)
				continue;
			strbuf_addf(&sb, "%s%s/%s", k++ ? ", " : "", obj_namespace(json_array_get(pods, j)),
				    obj_name(json_array_get(pods, j)));
		}
		json_array_append_new(out, json_string(sb.buf));
		strbuf_release(&sb);
	}
}

/* errors (strings) as Go's aggregate error prints them: one, or "[a, b]". */
static char *aggregate(const json_t *errors)
{
	struct strbuf sb;
	size_t i, n = json_array_size(errors);
	json_t *e;

	strbuf_init(&sb, 256);
	if (n > 1)
		strbuf_addc(&sb, '[');
	json_array_foreach(errors, i, e)
		strbuf_addf(&sb, "%s%s", i ? ", " : "", json_string_value(e));
	if (n > 1)
		strbuf_addc(&sb, ']');
	return strbuf_detach(&sb, NULL);
}

/* kubectl's report for a node that could not be drained; nodes is every
 * node not drained yet, this one first. */
static void report_failure(const char *node, const json_t *errors, char **pending, int npending)
{
	char *agg = aggregate(errors);
	json_t *e;
	size_t i;

	fprintf(stderr, "error: unable to drain node \"%s\" due to error: %s, continuing command...\n", node, agg);
	fprintf(stderr, "There are pending nodes to be drained:\n");
	for (int j = 0; j < npending; j++)
		fprintf(stderr, " %s\n", pending[j]);
	json_array_foreach(errors, i, e)
		fprintf(stderr, "%s\n", json_string_value(e));
	free(agg);
}

/* The pods bound to node (new reference), or NULL after printing why. */
static json_t *node_pods(struct ctl *c, const char *node, const char *selector)
{
	struct strbuf path;
	json_t *list = NULL, *items = NULL;
	char *fs = xasprintf("spec.nodeName=%s", node);
	int status;

	strbuf_init(&path, 128);
	strbuf_adds(&path, "/api/v1/pods");
	rest_query_add(&path, "fieldSelector", fs);
	if (selector && *selector)
		rest_query_add(&path, "labelSelector", selector);
	status = ctl_request(c, "GET", path.buf, NULL, NULL, NULL, &list);
	if (status == 200 && json_is_array(obj_get(list, "items")))
		items = json_incref(obj_get(list, "items"));
	else
		ctl_print_status(list, status);
	json_decref(list);
	strbuf_release(&path);
	free(fs);
	return items;
}

static char *pod_path(const json_t *pod, const char *sub)
{
	return xasprintf("/api/v1/namespaces/%s/pods/%s%s%s", obj_namespace(pod), obj_name(pod), sub ? "/" : "",
			 sub ? sub : "");
}

/* Evicts (or deletes) one pod. 0 when it is on its way out, 1 when it was
 * gone already, -1 with *err set to kubectl's message otherwise. */
static int evict(struct ctl *c, const json_t *pod, const struct drain_options *o, char **err)
{
	json_t *body, *resp = NULL, *opts = json_object();
	char *path;
	int status;

	if (o->grace_period >= 0)
		json_object_set_new(opts, "gracePeriodSeconds", json_integer(o->grace_period));
	for (;;) {
		if (o->disable_eviction) {
			path = pod_path(pod, NULL);
			status = ctl_request(c, "DELETE", path, opts, NULL, NULL, &resp);
		} else {
			printf("evicting pod %s/%s\n", obj_namespace(pod), obj_name(pod));
			fflush(stdout);
			body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O}", "apiVersion", "policy/v1", "kind", "Eviction",
					 "metadata", "name", obj_name(pod), "namespace", obj_namespace(pod),
					 "deleteOptions", opts);
			path = pod_path(pod, "eviction");
			status = ctl_request(c, "POST", path, body, NULL, NULL, &resp);
			json_decref(body);
		}
		free(path);
		/* 429: a disruption budget says not now; kubectl retries every 5 s. */
		if (status != 429)
			break;
		fprintf(stderr, "error when evicting pods/\"%s\" -n \"%s\" (will retry after 5s): %s\n", obj_name(pod),
			obj_namespace(pod), obj_str(resp, "message") ?: "Too many requests");
		json_decref(resp);
		resp = NULL;
		sleep(5);
	}
	json_decref(opts);
	if ((status >= 200 && status < 300) || status == 404) {
		json_decref(resp);
		return status == 404;
	}
	if (status == 0 || status == 401)
		*err = xasprintf("error when %s pods/\"%s\" -n \"%s\": the API server did not answer",
				 o->disable_eviction ? "deleting" : "evicting", obj_name(pod), obj_namespace(pod));
	else
		*err = xasprintf("error when %s pods/\"%s\" -n \"%s\": %s", o->disable_eviction ? "deleting" : "evicting",
				 obj_name(pod), obj_namespace(pod), obj_str(resp, "message") ?: "the server refused");
	json_decref(resp);
	return -1;
}

/* Whether pod is gone: no longer there, or replaced by one with another uid. */
static bool gone(struct ctl *c, const json_t *pod)
{
	char *path = pod_path(pod, NULL);
	json_t *now = NULL;
	int status = ctl_request(c, "GET", path, NULL, NULL, NULL, &now);
	bool done = status == 404 ||
		    (status == 200 && strcmp(obj_str(now, "metadata.uid") ?: "", obj_str(pod, "metadata.uid") ?: ""));

	free(path);
	json_decref(now);
	return done;
}

/* The progress line while pods terminate (delete's wording): on a terminal
 * rewritten every second, else repeated every 5 s. */
static void report_progress(const json_t *pods, const bool *waiting, size_t remaining, uint64_t elapsed, bool tty)
{
	const json_t *first = NULL;

	for (size_t i = 0; !first; i++)
		if (waiting[i])
			first = json_array_get(pods, i);
	fprintf(stderr, "%swaiting for pod \"%s/%s\"", tty ? "\r\033[K" : "", obj_namespace(first), obj_name(first));
	if (remaining > 1)
		fprintf(stderr, " and %zu more", remaining - 1);
	fprintf(stderr, " to terminate (its node's kubelet stops it)... %llus%s", (unsigned long long)(elapsed / 1000),
		tty ? "" : "\n");
	fflush(stderr);
}

/*
 * Evicts pods and waits until each is gone, printing `pod/x evicted` as it
 * goes. Returns 0, or -1 with the errors (strings) appended to errors and
 * the pods still there appended to left.
 */
static int evict_and_wait(struct ctl *c, json_t *pods, const struct drain_options *o, json_t *errors, json_t *left)
{
	size_t n = json_array_size(pods), remaining = 0;
	bool *waiting = xcalloc(n + 1, sizeof(bool)), tty = isatty(STDERR_FILENO), reported = false;
	uint64_t start, next_report = 1000;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		char *err = NULL;
		int r = evict(c, json_array_get(pods, i), o, &err);
		if (r < 0) {
			json_array_append_new(errors, json_string(err));
			free(err);
			rc = -1;
		}
		if (r != 0)
			continue;
		waiting[i] = true;
		remaining++;
	}
	start = now_ms();
	while (remaining) {
		uint64_t elapsed;

		for (size_t i = 0; i < n; i++) {
			const json_t *pod = json_array_get(pods, i);
			if (!waiting[i] || !gone(c, pod))
				continue;
			waiting[i] = false;
			remaining--;
			if (tty && reported)
				fprintf(stderr, "\r\033[K");
			printf("pod/%s %s\n", obj_name(pod), o->disable_eviction ? "deleted" : "evicted");
			fflush(stdout);
		}
		if (!remaining)
			break;
		elapsed = now_ms() - start;
		if (o->timeout_ms > 0 && elapsed >= (uint64_t)o->timeout_ms) {
			for (size_t i = 0; i < n; i++) {
				const json_t *pod = json_array_get(pods, i);
				if (!waiting[i])
					continue;
				json_array_append_new(errors, json_sprintf("error when waiting for pod \"%s\" in namespace "
									   "\"%s\" to terminate: context deadline "
									   "exceeded", obj_name(pod),
									   obj_namespace(pod)));
				json_array_append(left, json_array_get(pods, i));
			}
			rc = -1;
			break;
		}
		/* kubectl waits silently; we say what we wait for and who must act. */
		if (elapsed >= next_report) {
			report_progress(pods, waiting, remaining, elapsed, tty);
			reported = true;
			next_report = elapsed / 1000 * 1000 + (tty ? 1000 : 5000);
		}
		usleep(POLL_MS * 1000);
	}
	if (tty && reported)
		fprintf(stderr, "\r\033[K");
	free(waiting);
	return rc;
}

/* Drains one node. Returns 0, or -1 with errors filled in. */
static int drain_node(struct ctl *c, const char *node, const struct drain_options *o, json_t *errors)
{
	json_t *pods, *evictable = json_array(), *warnings = json_array(), *left = json_array(), *w;
	struct pod_check *checks = NULL;
	bool changed;
	size_t i, n;
	int rc = -1;

	if (ctl_node_set_unschedulable(c, node, true, &changed) < 0)
		goto out;
	printf("node/%s %scordoned\n", node, changed ? "" : "already ");
	fflush(stdout);
	if (!(pods = node_pods(c, node, o->pod_selector)))
		goto out;
	n = json_array_size(pods);
	checks = xcalloc(n + 1, sizeof(*checks));
	for (i = 0; i < n; i++)
		checks[i] = check_pod(json_array_get(pods, i), o);
	group_messages(errors, pods, checks, true, "cannot delete ");
	if (json_array_size(errors)) {
		json_decref(pods);
		goto out;
	}
	group_messages(warnings, pods, checks, false, "");
	if (json_array_size(warnings)) {
		fprintf(stderr, "Warning: ");
		json_array_foreach(warnings, i, w)
			fprintf(stderr, "%s%s", i ? "; " : "", json_string_value(w));
		fprintf(stderr, "\n");
	}
	for (i = 0; i < n; i++)
		if (checks[i].verdict == VERDICT_DELETE)
			json_array_append(evictable, json_array_get(pods, i));
	json_decref(pods);
	if (evict_and_wait(c, evictable, o, errors, left) < 0) {
		char *agg = aggregate(errors);
		if (json_array_size(left)) {
			fprintf(stderr, "There are pending pods in node \"%s\" when an error occurred: %s\n", node, agg);
			json_array_foreach(left, i, w)
				fprintf(stderr, "pod/%s\n", obj_name(w));
		}
		free(agg);
		goto out;
	}
	rc = 0;
out:
	free(checks);
	json_decref(evictable);
	json_decref(warnings);
	json_decref(left);
	return rc;
}

int ctl_drain(struct ctl *c, int argc, char **argv)
{
	struct drain_options o = { .grace_period = -1 };
	bool delete_local_data = false;
	const struct flag flags[] = {
		{ "ignore-daemonsets", FLAG_BOOL, &o.ignore_daemonsets, "leave DaemonSet-managed pods where they are" },
		{ "delete-emptydir-data", FLAG_BOOL, &o.delete_emptydir_data,
		  "evict pods with emptyDir volumes too (their data is lost)" },
		{ "delete-local-data", FLAG_BOOL, &delete_local_data, "old name of --delete-emptydir-data" },
		{ "force", FLAG_BOOL, &o.force, "evict pods no controller will recreate too" },
		{ "grace-period", FLAG_INT, &o.grace_period, "seconds each pod gets to stop (-1: the pod's own)" },
		{ "timeout", FLAG_DURATION, &o.timeout_ms, "give up after this long (0: never)" },
		{ "pod-selector", FLAG_STRING, &o.pod_selector, "only pods whose labels match this selector" },
		{ "disable-eviction", FLAG_BOOL, &o.disable_eviction, "delete pods instead of evicting them" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), flags, NULL };
	json_t *errors = json_array();
	int n, rc = 1;

	n = flags_parse(tables, usage, argc, argv);
	if (n < 0)
		goto out;
	o.delete_emptydir_data |= delete_local_data;
	if (n == 0) {
		fprintf(stderr, "error: USAGE: drain NODE [flags]\nSee 'minictl drain -h' for help and examples\n");
		goto out;
	}
	if (ctl_connect(c) < 0)
		goto out;
	for (int a = 1; a <= n; a++) {
		const char *node = strchr(argv[a], '/') ? strchr(argv[a], '/') + 1 : argv[a];
		if (drain_node(c, node, &o, errors) < 0) {
			/* A node that is not there was reported by the cordon already. */
			if (json_array_size(errors)) {
				char **pending = xcalloc((size_t)(n - a + 1), sizeof(char *));
				for (int b = a; b <= n; b++)
					pending[b - a] = strchr(argv[b], '/') ? strchr(argv[b], '/') + 1 : argv[b];
				report_failure(node, errors, pending, n - a + 1);
				free(pending);
			}
			goto out;
		}
		printf("node/%s drained\n", node);
	}
	rc = 0;
out:
	json_decref(errors);
	free(o.pod_selector);
	return rc;
}
