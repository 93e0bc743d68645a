/*
 * `minictl rollout status|history|undo|restart|pause|resume` for
 * Deployments, following kubectl's apps/v1 logic on the client side:
 *   status   watches the Deployment and prints kubectl's progress lines until
 *            status.observedGeneration has caught up and every replica is
 *            updated and available (or the progress deadline is exceeded);
 *   history  lists the ReplicaSets the Deployment controls by their
 *            deployment.kubernetes.io/revision, with their change-cause;
 *   undo     copies the wanted revision's pod template back into the
 *            Deployment with a JSON patch (kubectl's DeploymentRollbacker);
 *   restart  stamps kubectl.kubernetes.io/restartedAt into the template.
 */
#include "core/object.h"
#include "core/selector.h"
#include "core/util.h"
#include "ctl/ctl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static const char usage[] =
	"usage: minictl rollout SUBCOMMAND (deployment/NAME | deployment NAME)\n\n"
	"Subcommands:\n"
	"  status   [-w=false] [--timeout D] [--revision N]   wait until the rollout is done\n"
	"  history  [--revision N]                            list revisions (or show one)\n"
	"  undo     [--to-revision N]                         go back to the previous (or given) revision\n"
	"  restart                                            replace every pod with a new one\n"
	"  pause, resume                                      hold or release changes to the pods\n";

#define REVISION_ANNOTATION "deployment.kubernetes.io/revision"
#define CHANGE_CAUSE_ANNOTATION "kubernetes.io/change-cause"
#define HASH_LABEL "pod-template-hash"

struct rollout_opts {
	bool watch;
	int64_t timeout_ms;
	int64_t revision;      /* status, history: --revision */
	int64_t to_revision;   /* undo */
};

/* "ReplicaSet.apps" or "Pod": kubectl's GroupKind in its messages. */
static const char *group_kind(const struct kind *k, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", k->kind, k->group[0] ? "." : "", k->group);
	return buf;
}

/* metadata.annotations[key] as an integer; missing is 0, as kubectl's
 * deploymentutil.Revision. Returns -1 when present but not a number. */
static int revision_of(const json_t *obj, int64_t *out)
{
	const char *v = obj_annotation(obj, REVISION_ANNOTATION);
	char *end;

	*out = 0;
	if (!v)
		return 0;
	*out = strtoll(v, &end, 10);
	return *v && !*end ? 0 : -1;
}

/* ---- status --------------------------------------------------------------- */

enum progress { PROGRESS_WAIT, PROGRESS_DONE, PROGRESS_ERROR };

/*
 * kubectl's DeploymentStatusViewer: the line to print for d's state and
 * whether the rollout is done. A new heap string (the message, or on
 * PROGRESS_ERROR the error without "error: ").
 */
static enum progress deployment_progress(const json_t *d, int64_t want_revision, char **msg)
{
	const char *name = obj_name(d);
	int64_t replicas = obj_int(d, "spec.replicas", 1), updated = obj_int(d, "status.updatedReplicas", 0);
	int64_t total = obj_int(d, "status.replicas", 0), available = obj_int(d, "status.availableReplicas", 0);
	json_t *cond;
	size_t i;

	if (want_revision > 0) {
		int64_t rev;
		revision_of(d, &rev);
		if (rev != want_revision) {
			*msg = xasprintf("desired revision (%lld) is different from the running revision (%lld)",
					 (long long)want_revision, (long long)rev);
			return PROGRESS_ERROR;
		}
	}
	if (obj_int(d, "metadata.generation", 0) > obj_int(d, "status.observedGeneration", 0)) {
		*msg = xstrdup("Waiting for deployment spec update to be observed...\n");
		return PROGRESS_WAIT;
	}
	json_array_foreach(obj_get(d, "status.conditions"), i, cond) {
		if (!strcmp(obj_str(cond, "type") ?: "", "Progressing") &&
		    !strcmp(obj_str(cond, "reason") ?: "", "ProgressDeadlineExceeded")) {
			*msg = xasprintf("deployment \"%s\" exceeded its progress deadline", name);
			return PROGRESS_ERROR;
		}
	}
	if (updated < replicas) {
		*msg = xasprintf("Waiting for deployment \"%s\" rollout to finish: %lld out of %lld new replicas have "
				 "been updated...\n", name, (long long)updated, (long long)replicas);
		return PROGRESS_WAIT;
	}
	if (total > updated) {
		*msg = xasprintf("Waiting for deployment \"%s\" rollout to finish: %lld old replicas are pending "
				 "termination...\n", name, (long long)(total - updated));
		return PROGRESS_WAIT;
	}
	if (available < updated) {
		*msg = xasprintf("Waiting for deployment \"%s\" rollout to finish: %lld of %lld updated replicas are "
				 "available...\n", name, (long long)available, (long long)updated);
		return PROGRESS_WAIT;
	}
	*msg = xasprintf("deployment \"%s\" successfully rolled out\n", name);
	return PROGRESS_DONE;
}

struct status_watch {
	struct ctl *c;
	const struct rollout_opts *o;
	struct rest_request *req;
	char *rv;               /* where the next watch resumes */
	bool finished;          /* done, failed or timed out */
	bool relist;            /* the watch expired: read the object again */
	bool timed_out;
	int rc;
	uv_timer_t timer;
};

/* Prints d's progress; returns true when there is nothing more to wait for. */
static bool status_show(struct status_watch *sw, const json_t *d)
{
	char *msg = NULL;
	enum progress p = deployment_progress(d, sw->o->revision, &msg);

	free(sw->rv);
	sw->rv = xstrdup(obj_str(d, "metadata.resourceVersion") ?: "");
	if (p == PROGRESS_ERROR) {
		fflush(stdout);
		fprintf(stderr, "error: %s\n", msg);
		sw->rc = 1;
	} else {
		fputs(msg, stdout);
		fflush(stdout);
	}
	free(msg);
	return p != PROGRESS_WAIT || !sw->o->watch;
}

static void status_stop(struct status_watch *sw)
{
	sw->finished = true;
	if (sw->req)
		rest_cancel(sw->req);
	sw->req = NULL;
}

static void on_status_event(const char *type, json_t *object, void *data)
{
	struct status_watch *sw = data;

	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
		if (status_show(sw, object))
			status_stop(sw);
	} else if (!strcmp(type, "DELETED")) {
		fprintf(stderr, "error: object has been deleted\n");
		sw->rc = 1;
		status_stop(sw);
	} else if (!strcmp(type, "BOOKMARK")) {
		free(sw->rv);
		sw->rv = xstrdup(obj_str(object, "metadata.resourceVersion") ?: "");
	} else if (!strcmp(type, "ERROR")) {
		/* 410 Expired: our revision is too old; read the object again. */
		sw->relist = true;
		rest_cancel(sw->req);
		sw->req = NULL;
	}
}

static void on_status_done(const struct rest_response *resp, void *data)
{
	struct status_watch *sw = data;

	sw->req = NULL;
	if (resp->status == 410) {
		sw->relist = true;
	} else if (resp->error && resp->status != 0 && (resp->status < 200 || resp->status >= 300)) {
		ctl_print_status(resp->body, resp->status);
		sw->rc = 1;
		sw->finished = true;
	} else if (resp->error && resp->status == 0) {
		fprintf(stderr, "error: %s\n", resp->error);
		sw->rc = 1;
		sw->finished = true;
	}
	/* else the server ended the watch cleanly: the caller resumes it. */
}

static void on_status_timeout(uv_timer_t *t)
{
	struct status_watch *sw = t->data;

	sw->timed_out = true;
	status_stop(sw);
}

/* GETs the deployment, printing the server's error. New reference or NULL. */
static json_t *get_deployment(struct ctl *c, const char *name)
{
	char *path = ctl_kind_path(&kind_deployment, c->ns, name);
	json_t *d = NULL;
	int status = ctl_request(c, "GET", path, NULL, NULL, NULL, &d);

	free(path);
	if (status == 200)
		return d;
	ctl_print_status(d, status);
	json_decref(d);
	return NULL;
}

static int rollout_status(struct ctl *c, const char *name, const struct rollout_opts *o)
{
	struct status_watch sw = { .c = c, .o = o };
	uv_loop_t *loop = rest_client_loop(c->rest);
	json_t *d = get_deployment(c, name);
	char *fs = xasprintf("metadata.name=%s", name), *base = ctl_kind_path(&kind_deployment, c->ns, NULL);

	if (!d) {
		sw.rc = 1;
		goto out;
	}
	if (status_show(&sw, d))
		goto out;
	uv_timer_init(loop, &sw.timer);
	sw.timer.data = &sw;
	if (o->timeout_ms > 0)
		uv_timer_start(&sw.timer, on_status_timeout, (uint64_t)o->timeout_ms, 0);
	while (!sw.finished) {
		struct strbuf path;
		uint64_t started;

		if (sw.relist) {
			sw.relist = false;
			json_decref(d);
			if (!(d = get_deployment(c, name))) {
				sw.rc = 1;
				break;
			}
			if (status_show(&sw, d))
				break;
		}
		strbuf_init(&path, 256);
		strbuf_adds(&path, base);
		rest_query_add(&path, "watch", "1");
		rest_query_add(&path, "fieldSelector", fs);
		rest_query_add(&path, "resourceVersion", sw.rv);
		rest_query_add(&path, "allowWatchBookmarks", "true");
		sw.req = rest_watch(c->rest, path.buf, on_status_event, on_status_done, &sw);
		strbuf_release(&path);
		if (!sw.req) {
			fprintf(stderr, "error: cannot watch deployments.apps \"%s\"\n", name);
			sw.rc = 1;
			break;
		}
		started = now_ms();
		rest_client_run(c->rest);
		/* A server that ends watches at once is not hammered. */
		if (!sw.finished && !sw.relist && now_ms() - started < 1000)
			uv_sleep(1000);
	}
	if (sw.timed_out) {
		fprintf(stderr, "error: timed out waiting for the condition\n");
		sw.rc = 1;
	}
	uv_close((uv_handle_t *)&sw.timer, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
out:
	json_decref(d);
	free(sw.rv);
	free(fs);
	free(base);
	return sw.rc;
}

/* ---- history -------------------------------------------------------------- */

struct revision {
	int64_t number;
	const json_t *rs;   /* borrowed from the list */
};

static int revision_cmp(const void *a, const void *b)
{
	const struct revision *x = a, *y = b;

	return (x->number > y->number) - (x->number < y->number);
}

/*
 * The ReplicaSets d controls (ownerReference with controller=true and d's
 * uid), among those its selector matches, with their revisions (sorted,
 * oldest first). *list holds them (a new reference the caller frees).
 */
static int owned_revisions(struct ctl *c, const json_t *d, json_t **list, struct revision **out, size_t *n)
{
	char *base = ctl_kind_path(&kind_replicaset, c->ns, NULL), *err = NULL, *sel_str;
	struct label_selector *sel = NULL;
	const char *uid = obj_str(d, "metadata.uid") ?: "";
	struct strbuf path;
	json_t *rs, *ref;
	size_t i, j;
	int status;

	*list = NULL;
	*out = NULL;
	*n = 0;
	if (label_selector_from_json(obj_get(d, "spec.selector"), &sel, &err) < 0) {
		fprintf(stderr, "error: deployment \"%s\" has an invalid selector: %s\n", obj_name(d), err);
		free(err);
		free(base);
		return -1;
	}
	sel_str = label_selector_string(sel);
	label_selector_free(sel);
	strbuf_init(&path, 256);
	strbuf_adds(&path, base);
	rest_query_add(&path, "labelSelector", sel_str);
	status = ctl_request(c, "GET", path.buf, NULL, NULL, NULL, list);
	strbuf_release(&path);
	free(sel_str);
	free(base);
	if (status != 200) {
		ctl_print_status(*list, status);
		json_decref(*list);
		*list = NULL;
		return -1;
	}
	*out = xcalloc(json_array_size(obj_get(*list, "items")) + 1, sizeof(**out));
	json_array_foreach(obj_get(*list, "items"), i, rs) {
		bool owned = false;
		int64_t number;
		json_array_foreach(obj_get(rs, "metadata.ownerReferences"), j, ref)
			owned |= obj_bool(ref, "controller", false) && !strcmp(obj_str(ref, "uid") ?: "", uid);
		if (!owned || revision_of(rs, &number) < 0)
			continue;
		(*out)[(*n)++] = (struct revision){ number, rs };
	}
	qsort(*out, *n, sizeof(**out), revision_cmp);
	return 0;
}

/* Object keys in byte order, as Go prints a map. Borrowed keys. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
	const char **keys = xcalloc(json_object_size(obj) + 1, sizeof(*keys)), *key;
	json_t *v;

	*n = 0;
	json_object_foreach((json_t *)obj, key, v)
		keys[(*n)++] = key;
	for (size_t i = 1; i < *n; i++)
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	return keys;
}

/* kubectl's "  Labels:\tk=v\n\tk2=v2\n" (describe's multi-line maps). */
static void print_labels(struct strbuf *sb, const char *title, const json_t *labels)
{
	size_t n;
	const char **keys = sorted_keys(labels, &n);

	strbuf_addf(sb, "%s:\t", title);
	if (!n)
		strbuf_adds(sb, "<none>\n");
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sb, "%s%s=%s\n", i ? "\t" : "", keys[i], json_string_value(json_object_get(labels, keys[i])) ?: "");
	free(keys);
}

static void print_annotations(struct strbuf *sb, const char *title, const json_t *annotations)
{
	size_t n, shown = 0;
	const char **keys = sorted_keys(annotations, &n);

	strbuf_addf(sb, "%s:\t", title);
	for (size_t i = 0; i < n; i++) {
		const char *value = json_string_value(json_object_get(annotations, keys[i])) ?: "";
		size_t vlen = strlen(value);
		if (!strcmp(keys[i], CTL_LAST_APPLIED))
			continue;
		if (shown++)
			strbuf_addc(sb, '\t');
		if (vlen && value[vlen - 1] == '\n')
			vlen--;
		if (vlen + strlen(keys[i]) + 2 > 140 || memchr(value, '\n', vlen)) {
			/* long or multi-line values: one line each, cut at 138 */
			const char *p = value, *end = value + vlen;
			strbuf_addf(sb, "%s:\n", keys[i]);
			while (p <= end) {
				const char *nl = memchr(p, '\n', (size_t)(end - p));
				size_t len = (size_t)((nl ? nl : end) - p);
				strbuf_addf(sb, "\t  %.*s%s\n", (int)(len > 138 ? 138 : len), p, len > 138 ? "..." : "");
				if (!nl)
					break;
				p = nl + 1;
			}
		} else {
			strbuf_addf(sb, "%s: %.*s\n", keys[i], (int)vlen, value);
		}
	}
	if (!shown)
		strbuf_adds(sb, "<none>\n");
	free(keys);
}

static void print_ports(struct strbuf *sb, const json_t *ports, bool host)
{
	struct strbuf s;
	json_t *p;
	size_t i;

	strbuf_init(&s, 64);
	json_array_foreach(ports, i, p) {
		strbuf_addf(&s, "%s%lld/%s", i ? ", " : "", (long long)obj_int(p, host ? "hostPort" : "containerPort", 0),
			    obj_str(p, "protocol") ?: "TCP");
		if (obj_str(p, "name") && *obj_str(p, "name"))
			strbuf_addf(&s, " (%s)", obj_str(p, "name"));
	}
	strbuf_addf(sb, "    %s%s:\t%s\n", host ? "Host Port" : "Port", strchr(s.buf, ',') ? "s" : "",
		    s.len ? s.buf : "<none>");
	strbuf_release(&s);
}

static void print_lines(struct strbuf *sb, const char *title, const json_t *arr)
{
	json_t *v;
	size_t i;

	if (!json_array_size(arr))
		return;
	strbuf_addf(sb, "    %s:\n", title);
	json_array_foreach(arr, i, v) {
		const char *p = json_string_value(v) ?: "";
		for (;;) {
			const char *nl = strchr(p, '\n');
			strbuf_addf(sb, "      %.*s\n", (int)(nl ? nl - p : (long)strlen(p)), p);
			if (!nl)
				break;
			p = nl + 1;
		}
	}
}

static void print_resources(struct strbuf *sb, const json_t *res, const char *which, const char *title)
{
	const json_t *m = json_object_get(res, which);
	size_t n;
	const char **keys;

	if (!json_object_size(m))
		return;
	keys = sorted_keys(m, &n);
	strbuf_addf(sb, "    %s:\n", title);
	for (size_t i = 0; i < n; i++) {
		const json_t *q = json_object_get(m, keys[i]);
		if (json_is_integer(q))
			strbuf_addf(sb, "      %s:\t%lld\n", keys[i], (long long)json_integer_value(q));
		else
			strbuf_addf(sb, "      %s:\t%s\n", keys[i], json_string_value(q) ?: "");
	}
	free(keys);
}

static void print_env(struct strbuf *sb, const json_t *env)
{
	json_t *e;
	size_t i;

	strbuf_addf(sb, "    Environment:%s\n", json_array_size(env) ? "" : "\t<none>");
	json_array_foreach(env, i, e) {
		const char *name = obj_str(e, "name") ?: "";
		if (obj_get(e, "valueFrom.secretKeyRef"))
			strbuf_addf(sb, "      %s:\t<set to the key '%s' in secret '%s'>\tOptional: %s\n", name,
				    obj_str(e, "valueFrom.secretKeyRef.key") ?: "", obj_str(e, "valueFrom.secretKeyRef.name") ?: "",
				    obj_bool(e, "valueFrom.secretKeyRef.optional", false) ? "true" : "false");
		else if (obj_get(e, "valueFrom.configMapKeyRef"))
			strbuf_addf(sb, "      %s:\t<set to the key '%s' of config map '%s'>\tOptional: %s\n", name,
				    obj_str(e, "valueFrom.configMapKeyRef.key") ?: "",
				    obj_str(e, "valueFrom.configMapKeyRef.name") ?: "",
				    obj_bool(e, "valueFrom.configMapKeyRef.optional", false) ? "true" : "false");
		else if (obj_get(e, "valueFrom.fieldRef"))
			strbuf_addf(sb, "      %s:\t (%s:%s)\n", name, obj_str(e, "valueFrom.fieldRef.apiVersion") ?: "",
				    obj_str(e, "valueFrom.fieldRef.fieldPath") ?: "");
		else {
			const char *p = obj_str(e, "value") ?: "";
			for (bool first = true;; first = false) {
				const char *nl = strchr(p, '\n');
				int len = (int)(nl ? nl - p : (long)strlen(p));
				if (first)
					strbuf_addf(sb, "      %s:\t%.*s\n", name, len, p);
				else
					strbuf_addf(sb, "      \t%.*s\n", len, p);
				if (!nl)
					break;
				p = nl + 1;
			}
		}
	}
}

static int mount_cmp(const void *a, const void *b)
{
	return strcmp(obj_str(*(json_t *const *)a, "mountPath") ?: "", obj_str(*(json_t *const *)b, "mountPath") ?: "");
}

static void print_mounts(struct strbuf *sb, const json_t *mounts)
{
	size_t n = json_array_size(mounts);
	json_t **v = xcalloc(n + 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(mounts, i);
	qsort(v, n, sizeof(*v), mount_cmp);
	strbuf_addf(sb, "    Mounts:%s\n", n ? "" : "\t<none>");
	for (size_t i = 0; i < n; i++) {
		strbuf_addf(sb, "      %s from %s (%s", obj_str(v[i], "mountPath") ?: "", obj_str(v[i], "name") ?: "",
			    obj_bool(v[i], "readOnly", false) ? "ro" : "rw");
		if (obj_str(v[i], "subPath") && *obj_str(v[i], "subPath"))
			strbuf_addf(sb, ",path=\"%s\"", obj_str(v[i], "subPath"));
		strbuf_adds(sb, ")\n");
	}
	free(v);
}

static void print_probe(struct strbuf *sb, const char *title, const json_t *p)
{
	if (!p)
		return;
	strbuf_addf(sb, "    %s:\t", title);
	if (obj_get(p, "exec")) {
		json_t *a;
		size_t i;
		strbuf_adds(sb, "exec [");
		json_array_foreach(obj_get(p, "exec.command"), i, a)
			strbuf_addf(sb, "%s%s", i ? " " : "", json_string_value(a) ?: "");
		strbuf_adds(sb, "] ");
	} else if (obj_get(p, "httpGet")) {
		const json_t *port = obj_get(p, "httpGet.port");
		char scheme[16] = "";
		size_t i;
		for (i = 0; obj_str(p, "httpGet.scheme") && obj_str(p, "httpGet.scheme")[i] && i + 1 < sizeof(scheme); i++)
			scheme[i] = (char)tolower((unsigned char)obj_str(p, "httpGet.scheme")[i]);
		scheme[i] = '\0';
		strbuf_addf(sb, "http-get %s%s//%s:", scheme, *scheme ? ":" : "", obj_str(p, "httpGet.host") ?: "");
		if (json_is_integer(port))
			strbuf_addf(sb, "%lld", (long long)json_integer_value(port));
		else
			strbuf_adds(sb, json_string_value(port) ?: "");
		strbuf_addf(sb, "%s ", obj_str(p, "httpGet.path") ?: "");
	} else if (obj_get(p, "tcpSocket")) {
		const json_t *port = obj_get(p, "tcpSocket.port");
		if (json_is_integer(port))
			strbuf_addf(sb, "tcp-socket %s:%lld ", obj_str(p, "tcpSocket.host") ?: "",
				    (long long)json_integer_value(port));
		else
			strbuf_addf(sb, "tcp-socket %s:%s ", obj_str(p, "tcpSocket.host") ?: "", json_string_value(port) ?: "");
	} else {
		strbuf_adds(sb, "unknown ");
	}
	strbuf_addf(sb, "delay=%llds timeout=%llds period=%llds #success=%lld #failure=%lld\n",
		    (long long)obj_int(p, "initialDelaySeconds", 0), (long long)obj_int(p, "timeoutSeconds", 0),
		    (long long)obj_int(p, "periodSeconds", 0), (long long)obj_int(p, "successThreshold", 0),
		    (long long)obj_int(p, "failureThreshold", 0));
}

static void print_containers(struct strbuf *sb, const char *title, const json_t *containers)
{
	json_t *ct;
	size_t i;

	strbuf_addf(sb, "  %s:%s\n", title, json_array_size(containers) ? "" : " <none>");
	json_array_foreach(containers, i, ct) {
		strbuf_addf(sb, "   %s:\n", obj_str(ct, "name") ?: "");
		strbuf_addf(sb, "    Image:\t%s\n", obj_str(ct, "image") ?: "");
		print_ports(sb, obj_get(ct, "ports"), false);
		print_ports(sb, obj_get(ct, "ports"), true);
		print_lines(sb, "Command", obj_get(ct, "command"));
		print_lines(sb, "Args", obj_get(ct, "args"));
		print_resources(sb, obj_get(ct, "resources"), "limits", "Limits");
		print_resources(sb, obj_get(ct, "resources"), "requests", "Requests");
		print_probe(sb, "Liveness", obj_get(ct, "livenessProbe"));
		print_probe(sb, "Readiness", obj_get(ct, "readinessProbe"));
		print_probe(sb, "Startup", obj_get(ct, "startupProbe"));
		print_env(sb, obj_get(ct, "env"));
		print_mounts(sb, obj_get(ct, "volumeMounts"));
	}
}

static void print_volumes(struct strbuf *sb, const json_t *volumes)
{
	json_t *v;
	size_t i;

	if (!json_array_size(volumes)) {
		strbuf_adds(sb, "  Volumes:\t<none>\n");
		return;
	}
	strbuf_adds(sb, "  Volumes:\n");
	json_array_foreach(volumes, i, v) {
		strbuf_addf(sb, "   %s:\n", obj_str(v, "name") ?: "");
		if (obj_get(v, "emptyDir"))
			strbuf_addf(sb, "    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
					"    Medium:\t%s\n    SizeLimit:\t%s\n", obj_str(v, "emptyDir.medium") ?: "",
				    obj_str(v, "emptyDir.sizeLimit") ?: "<unset>");
		else if (obj_get(v, "hostPath"))
			strbuf_addf(sb, "    Type:\tHostPath (bare host directory volume)\n    Path:\t%s\n"
					"    HostPathType:\t%s\n", obj_str(v, "hostPath.path") ?: "",
				    obj_str(v, "hostPath.type") ?: "<none>");
		else if (obj_get(v, "secret"))
			strbuf_addf(sb, "    Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t%s\n"
					"    Optional:\t%s\n", obj_str(v, "secret.secretName") ?: "",
				    obj_bool(v, "secret.optional", false) ? "true" : "false");
		else if (obj_get(v, "configMap"))
			strbuf_addf(sb, "    Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t%s\n"
					"    Optional:\t%s\n", obj_str(v, "configMap.name") ?: "",
				    obj_bool(v, "configMap.optional", false) ? "true" : "false");
		else
			strbuf_adds(sb, "  <unknown>\n");
	}
}

static void print_tolerations(struct strbuf *sb, const json_t *tolerations)
{
	json_t *t;
	size_t i;

	strbuf_adds(sb, "  Tolerations:\t");
	if (!json_array_size(tolerations))
		strbuf_adds(sb, "<none>\n");
	json_array_foreach(tolerations, i, t) {
		const char *key = obj_str(t, "key") ?: "", *value = obj_str(t, "value") ?: "";
		const char *effect = obj_str(t, "effect") ?: "";
		if (i)
			strbuf_addc(sb, '\t');
		strbuf_adds(sb, key);
		if (*value)
			strbuf_addf(sb, "=%s", value);
		if (*effect)
			strbuf_addf(sb, ":%s", effect);
		if (!strcmp(obj_str(t, "operator") ?: "", "Exists") && !*value)
			strbuf_adds(sb, *key || *effect ? " op=Exists" : "op=Exists");
		if (json_is_integer(obj_get(t, "tolerationSeconds")))
			strbuf_addf(sb, " for %llds", (long long)obj_int(t, "tolerationSeconds", 0));
		strbuf_addc(sb, '\n');
	}
}

/* A pod template as `kubectl rollout history --revision` prints it
 * (describe's layout with its tabs left in, as kubectl leaves them). */
static void print_template(struct strbuf *sb, const json_t *tpl)
{
	const json_t *spec = obj_get(tpl, "spec");

	strbuf_adds(sb, "Pod Template:\n");
	print_labels(sb, "  Labels", obj_get(tpl, "metadata.labels"));
	if (json_object_size(obj_get(tpl, "metadata.annotations")))
		print_annotations(sb, "  Annotations", obj_get(tpl, "metadata.annotations"));
	if (obj_str(spec, "serviceAccountName") && *obj_str(spec, "serviceAccountName"))
		strbuf_addf(sb, "  Service Account:\t%s\n", obj_str(spec, "serviceAccountName"));
	if (json_array_size(obj_get(spec, "initContainers")))
		print_containers(sb, "Init Containers", obj_get(spec, "initContainers"));
	print_containers(sb, "Containers", obj_get(spec, "containers"));
	print_volumes(sb, obj_get(spec, "volumes"));
	if (obj_str(spec, "priorityClassName") && *obj_str(spec, "priorityClassName"))
		strbuf_addf(sb, "  Priority Class Name:\t%s\n", obj_str(spec, "priorityClassName"));
	print_labels(sb, "  Node-Selectors", obj_get(spec, "nodeSelector"));
	print_tolerations(sb, obj_get(spec, "tolerations"));
}

static int rollout_history(struct ctl *c, const char *name, const struct rollout_opts *o)
{
	json_t *d = get_deployment(c, name), *list = NULL;
	struct revision *revs = NULL;
	size_t n = 0;
	char ref[512];
	int rc = 1;

	if (!d || owned_revisions(c, d, &list, &revs, &n) < 0)
		goto out;
	ctl_object_ref(&kind_deployment, name, ref, sizeof(ref));
	if (o->revision > 0) {
		/* The last ReplicaSet of that revision wins, as in kubectl's map. */
		const json_t *rs = NULL;
		json_t *tpl;
		struct strbuf sb;
		for (size_t i = 0; i < n; i++)
			if (revs[i].number == o->revision)
				rs = revs[i].rs;
		if (!rs) {
			fprintf(stderr, "error: unable to find the specified revision\n");
			goto out;
		}
		/* kubectl shows the change-cause among the template's annotations. */
		tpl = json_deep_copy(obj_get(rs, "spec.template"));
		if (!tpl)
			tpl = json_object();
		if (obj_annotation(rs, CHANGE_CAUSE_ANNOTATION) && *obj_annotation(rs, CHANGE_CAUSE_ANNOTATION))
			json_object_set_new(obj_ensure(tpl, "metadata.annotations"), CHANGE_CAUSE_ANNOTATION,
					    json_string(obj_annotation(rs, CHANGE_CAUSE_ANNOTATION)));
		strbuf_init(&sb, 1024);
		print_template(&sb, tpl);
		printf("%s with revision #%lld\n%s\n", ref, (long long)o->revision, sb.buf);
		strbuf_release(&sb);
		json_decref(tpl);
		rc = 0;
		goto out;
	}
	printf("%s \n", ref);
	if (!n) {
		printf("No rollout history found.\n");
	} else {
		struct ctl_tabwriter *w = ctl_tabwriter_new(stdout, 0, CTL_DESCRIBE_PADDING, false);
		ctl_tabwriter_printf(w, "REVISION\tCHANGE-CAUSE\n");
		for (size_t i = 0; i < n; i++) {
			const char *cause;
			/* one row per revision; the last ReplicaSet of a revision wins */
			if (i + 1 < n && revs[i + 1].number == revs[i].number)
				continue;
			cause = obj_annotation(revs[i].rs, CHANGE_CAUSE_ANNOTATION);
			ctl_tabwriter_printf(w, "%lld\t%s\n", (long long)revs[i].number, cause && *cause ? cause : "<none>");
		}
		ctl_tabwriter_free(w);
		printf("\n");
	}
	rc = 0;
out:
	free(revs);
	json_decref(list);
	json_decref(d);
	return rc;
}

/* ---- undo ----------------------------------------------------------------- */

/* Annotations kubectl keeps from the Deployment rather than copying from the
 * ReplicaSet when rolling back. */
static const char *const annotations_to_skip[] = {
	CTL_LAST_APPLIED,
	REVISION_ANNOTATION,
	"deployment.kubernetes.io/revision-history",
	"deployment.kubernetes.io/desired-replicas",
	"deployment.kubernetes.io/max-replicas",
	"deprecated.deployment.rollback.to",
	NULL,
};

static bool skipped_annotation(const char *key)
{
	for (const char *const *s = annotations_to_skip; *s; s++)
		if (!strcmp(*s, key))
			return true;
	return false;
}

/* A copy of template without the pod-template-hash label. New reference. */
static json_t *without_hash(const json_t *tpl)
{
	json_t *copy = tpl ? json_deep_copy(tpl) : json_object();
	json_t *labels = obj_get(copy, "metadata.labels");

	if (json_is_object(labels))
		json_object_del(labels, HASH_LABEL);
	return copy;
}

static int rollout_undo(struct ctl *c, const char *name, const struct rollout_opts *o)
{
	json_t *d = get_deployment(c, name), *list = NULL, *tpl = NULL, *cur = NULL, *annotations, *patch = NULL;
	json_t *resp = NULL, *v;
	const json_t *target = NULL;
	struct revision *revs = NULL;
	const char *key;
	char *path = NULL, ref[512];
	size_t n = 0;
	int rc = 1, status;

	if (!d)
		goto out;
	if (o->to_revision < 0) {
		fprintf(stderr, "error: unable to find specified revision %lld in history\n", (long long)o->to_revision);
		goto out;
	}
	if (owned_revisions(c, d, &list, &revs, &n) < 0)
		goto out;
	if (o->to_revision > 0) {
		for (size_t i = 0; i < n && !target; i++)
			if (revs[i].number == o->to_revision)
				target = revs[i].rs;
		if (!target) {
			fprintf(stderr, "error: unable to find specified revision %lld in history\n",
				(long long)o->to_revision);
			goto out;
		}
	} else {
		/* the second newest revision */
		for (size_t i = n; i-- > 0;)
			if (revs[i].number < revs[n - 1].number) {
				target = revs[i].rs;
				break;
			}
		if (!target) {
			fprintf(stderr, "error: no rollout history found for deployment \"%s\"\n", name);
			goto out;
		}
	}
	if (obj_bool(d, "spec.paused", false)) {
		fprintf(stderr, "error: you cannot rollback a paused deployment; resume it first with 'minictl rollout "
				"resume' and try again\n");
		goto out;
	}
	ctl_object_ref(&kind_deployment, name, ref, sizeof(ref));
	tpl = without_hash(obj_get(target, "spec.template"));
	cur = without_hash(obj_get(d, "spec.template"));
	if (json_equal(tpl, cur)) {
		int64_t rev;
		revision_of(target, &rev);
		printf("%s skipped rollback (current template already matches revision %lld)\n", ref, (long long)rev);
		rc = 0;
		goto out;
	}
	annotations = json_object();
	json_object_foreach(obj_get(d, "metadata.annotations"), key, v)
		if (skipped_annotation(key))
			json_object_set(annotations, key, v);
	json_object_foreach(obj_get(target, "metadata.annotations"), key, v)
		if (!skipped_annotation(key))
			json_object_set(annotations, key, v);
	/* kubectl replaces /metadata/annotations, which fails when the
	 * Deployment has none; "add" sets it either way. */
	patch = json_pack("[{s:s, s:s, s:O}, {s:s, s:s, s:o}]", "op", "replace", "path", "/spec/template", "value", tpl,
			  "op", obj_get(d, "metadata.annotations") ? "replace" : "add", "path", "/metadata/annotations",
			  "value", annotations);
	path = ctl_kind_path(&kind_deployment, c->ns, name);
	status = ctl_request(c, "PATCH", path, patch, "application/json-patch+json", NULL, &resp);
	if (status != 200) {
		int64_t rev;
		revision_of(target, &rev);
		if (status != 0 && status != 401)
			fprintf(stderr, "error: failed restoring revision %lld: %s\n", (long long)rev,
				obj_str(resp, "message") ?: "the server refused the patch");
		goto out;
	}
	printf("%s rolled back\n", ref);
	rc = 0;
out:
	free(path);
	free(revs);
	json_decref(resp);
	json_decref(patch);
	json_decref(cur);
	json_decref(tpl);
	json_decref(list);
	json_decref(d);
	return rc;
}

/* ---- restart, pause, resume ---------------------------------------------- */

static int patch_deployment(struct ctl *c, const char *name, const json_t *patch, const char *done)
{
	char *path = ctl_kind_path(&kind_deployment, c->ns, name), ref[512];
	json_t *resp = NULL;
	int status = ctl_request(c, "PATCH", path, patch, "application/strategic-merge-patch+json", NULL, &resp);

	free(path);
	if (status != 200) {
		ctl_print_status(resp, status);
		json_decref(resp);
		return 1;
	}
	json_decref(resp);
	printf("%s %s\n", ctl_object_ref(&kind_deployment, name, ref, sizeof(ref)), done);
	return 0;
}

static int rollout_restart(struct ctl *c, const char *name)
{
	json_t *d = get_deployment(c, name), *patch;
	char now[TIME_RFC3339_LEN];
	int rc;

	if (!d)
		return 1;
	if (obj_bool(d, "spec.paused", false)) {
		fprintf(stderr, "error: deployments.apps \"%s\" can't restart paused deployment (run rollout resume "
				"first)\n", name);
		json_decref(d);
		return 1;
	}
	json_decref(d);
	time_format_rfc3339(time(NULL), now);
	patch = json_pack("{s:{s:{s:{s:{s:s}}}}}", "spec", "template", "metadata", "annotations",
			  "kubectl.kubernetes.io/restartedAt", now);
	rc = patch_deployment(c, name, patch, "restarted");
	json_decref(patch);
	return rc;
}

static int rollout_pause(struct ctl *c, const char *name, bool pause)
{
	json_t *d = get_deployment(c, name), *patch;
	int rc;

	if (!d)
		return 1;
	if (obj_bool(d, "spec.paused", false) == pause) {
		fprintf(stderr, "error: deployments.apps \"%s\" is %s\n", name, pause ? "already paused" : "not paused");
		json_decref(d);
		return 1;
	}
	json_decref(d);
	patch = json_pack("{s:{s:o}}", "spec", "paused", pause ? json_true() : json_null());
	rc = patch_deployment(c, name, patch, pause ? "paused" : "resumed");
	json_decref(patch);
	return rc;
}

/* ---- dispatch ------------------------------------------------------------- */

/* The words kubectl uses when a kind cannot do a subcommand. */
static void unsupported(const char *sub, const struct kind *k, const char *name)
{
	char gk[128];

	group_kind(k, gk, sizeof(gk));
	if (!strcmp(sub, "status"))
		fprintf(stderr, "error: no status viewer has been implemented for %s\n", gk);
	else if (!strcmp(sub, "history"))
		fprintf(stderr, "error: no history viewer has been implemented for %s\n", gk);
	else if (!strcmp(sub, "undo"))
		fprintf(stderr, "error: no rollbacker has been implemented for %s\n", gk);
	else
		fprintf(stderr, "error: %s%s%s \"%s\" %s is not supported\n", k->plural, k->group[0] ? "." : "", k->group,
			name, !strcmp(sub, "restart") ? "restarting" : !strcmp(sub, "pause") ? "pausing" : "resuming");
}

static int run_one(struct ctl *c, const char *sub, const struct kind *k, const char *name, const struct rollout_opts *o)
{
	if (k != &kind_deployment) {
		unsupported(sub, k, name);
		return 1;
	}
	if (!strcmp(sub, "status"))
		return rollout_status(c, name, o);
	if (!strcmp(sub, "history"))
		return rollout_history(c, name, o);
	if (!strcmp(sub, "undo"))
		return rollout_undo(c, name, o);
	if (!strcmp(sub, "restart"))
		return rollout_restart(c, name);
	return rollout_pause(c, name, !strcmp(sub, "pause"));
}

int ctl_rollout(struct ctl *c, int argc, char **argv)
{
	static const char *const subs[] = { "status", "history", "undo", "restart", "pause", "resume", NULL };
	struct rollout_opts o = { .watch = true };
	const struct flag flags[] = {
		{ "watch", FLAG_BOOL, &o.watch, "status: keep watching until done (-w=false: print once)" },
		{ "w", FLAG_BOOL, &o.watch, "short for --watch" },
		{ "timeout", FLAG_DURATION, &o.timeout_ms, "status: give up after this long (0: never)" },
		{ "revision", FLAG_INT64, &o.revision, "status: the revision to wait for; history: the one to show" },
		{ "to-revision", FLAG_INT64, &o.to_revision, "undo: the revision to go back to (0: the previous)" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), flags, NULL };
	const char *sub;
	bool known = false;
	int n, rc = 0;

	n = flags_parse(tables, usage, argc, argv);
	if (n < 0)
		return 1;
	if (n == 0) {
		fputs(usage, stderr);
		return 1;
	}
	sub = argv[1];
	for (const char *const *s = subs; *s; s++)
		known |= !strcmp(*s, sub);
	if (!known) {
		fprintf(stderr, "error: unknown command \"%s\"\nSee 'minictl rollout -h' for help and examples\n", sub);
		return 1;
	}
	if (n == 1) {
		fprintf(stderr, "error: required resource not specified\n");
		return 1;
	}
	if (ctl_connect(c) < 0)
		return 1;
	if (strchr(argv[2], '/')) {
		/* TYPE/NAME..., not mixed with TYPE NAME */
		for (int i = 2; i <= n; i++)
			if (!strchr(argv[i], '/')) {
				fprintf(stderr, "error: there is no need to specify a resource type as a separate argument "
						"when passing arguments in resource/name form (e.g. 'minictl rollout %s "
						"deployment/<name>')\n", sub);
				return 1;
			}
		if (!strcmp(sub, "status") && n > 2) {
			fprintf(stderr, "error: rollout status is only supported on individual resources and resource "
					"collections, but %d resources were found\n", n - 1);
			return 1;
		}
		for (int i = 2; i <= n; i++) {
			char *type = xstrndup(argv[i], strcspn(argv[i], "/"));
			const struct kind *k = ctl_resolve_kind(type);
			free(type);
			if (!k) {
				rc = 1;
				continue;
			}
			rc |= run_one(c, sub, k, strchr(argv[i], '/') + 1, &o);
		}
		return rc;
	}
	/* TYPE NAME... */
	const struct kind *k = ctl_resolve_kind(argv[2]);
	if (!k)
		return 1;
	if (n == 2) {
		fprintf(stderr, "error: resource(s) were provided, but no name was specified\n");
		return 1;
	}
	if (!strcmp(sub, "status") && n > 3) {
		fprintf(stderr, "error: rollout status is only supported on individual resources and resource "
				"collections, but %d resources were found\n", n - 2);
		return 1;
	}
	for (int i = 3; i <= n; i++)
		rc |= run_one(c, sub, k, argv[i], &o);
	return rc;
}
