/*
 * The Deployment controller, as Kubernetes' pkg/controller/deployment: one
 * ReplicaSet per pod template, named <deployment>-<pod-template-hash>. A
 * sync claims the Deployment's ReplicaSets, finds the one whose template is
 * the Deployment's (ignoring the hash label), and then either scales
 * (proportionally, when only spec.replicas changed), rolls (RollingUpdate:
 * grow the new ReplicaSet within maxSurge, shrink old ones within
 * maxUnavailable, counting only available pods) or recreates (old ones to
 * zero, wait for their pods to go, then the new one), cleans up revisions
 * past revisionHistoryLimit, and writes status with the Progressing and
 * Available conditions.
 *
 * One sync works on copies of the ReplicaSets and changes them in memory
 * the way Kubernetes' sequence of updates would; at the end each changed
 * ReplicaSet is written once (PUT with its resourceVersion, so a stale view
 * fails and retries), then the Deployment's annotations and status.
 */
#include "controller/controller.h"
#include "apiserver/kinds.h"
#include "log.h"
#include "object.h"
#include "selector.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENT "deployment-controller"
#define REVISION_ANNOTATION "deployment.kubernetes.io/revision"
#define REVISION_HISTORY_ANNOTATION "deployment.kubernetes.io/revision-history"
#define DESIRED_REPLICAS_ANNOTATION "deployment.kubernetes.io/desired-replicas"
#define MAX_REPLICAS_ANNOTATION "deployment.kubernetes.io/max-replicas"
#define HASH_LABEL "pod-template-hash"
/* revision-history is kept under this many characters. */
#define REVISION_HISTORY_MAX 2000

struct dep_controller {
	struct controller c;
	struct lister *deps, *rss, *pods;
	struct event_recorder *events;
};

/* One ReplicaSet as this sync sees it. */
struct wrs {
	json_t *obj;            /* our copy, changed in memory */
	json_t *orig;           /* the cached object; NULL for one to create */
	bool del;               /* cleanup: delete it */
};

struct dep_sync {
	struct dep_controller *dc;
	json_t *d;              /* copy of the Deployment: annotations and status change here */
	json_t *orig;           /* the Deployment as cached */
	struct label_selector *sel;
	json_t *claimed;        /* ReplicaSets claimed */
	struct wrs *rs;
	size_t nrs;
	int new_idx;            /* index of the new ReplicaSet in rs, or -1 */
	json_t *new_status;     /* status to write (NULL: none computed) */
	bool collision;
};

/* ---- small helpers ---------------------------------------------------------------- */

static int64_t replicas_of(const json_t *obj)
{
	return obj_int(obj, "spec.replicas", 1);
}

static int64_t d_replicas(const struct dep_sync *st)
{
	return replicas_of(st->d);
}

static bool is_rolling(const json_t *d)
{
	const char *t = obj_str(d, "spec.strategy.type");
	return !t || !strcmp(t, "RollingUpdate");
}

static void fenceposts(const json_t *d, int64_t *surge, int64_t *unavailable)
{
	int64_t desired = replicas_of(d);
	json_t *ru = obj_get(d, "spec.strategy.rollingUpdate");

	*surge = int_or_percent(json_object_get(ru, "maxSurge"), desired, true, (desired * 25 + 99) / 100);
	*unavailable = int_or_percent(json_object_get(ru, "maxUnavailable"), desired, false, desired * 25 / 100);
	if (*surge == 0 && *unavailable == 0)
		*unavailable = 1;
}

static int64_t max_surge(const json_t *d)
{
	int64_t s, u;

	if (!is_rolling(d))
		return 0;
	fenceposts(d, &s, &u);
	return s;
}

static int64_t max_unavailable(const json_t *d)
{
	int64_t s, u;

	if (!is_rolling(d) || replicas_of(d) == 0)
		return 0;
	fenceposts(d, &s, &u);
	return u > replicas_of(d) ? replicas_of(d) : u;
}

static bool has_progress_deadline(const json_t *d)
{
	json_t *v = obj_get(d, "spec.progressDeadlineSeconds");
	return json_is_integer(v) && json_integer_value(v) != INT32_MAX;
}

static int64_t revision_of(const json_t *obj)
{
	const char *v = obj_annotation(obj, REVISION_ANNOTATION);
	char *end;
	long long n;

	if (!v)
		return 0;
	n = strtoll(v, &end, 10);
	return *end ? 0 : n;
}

static int64_t wrs_replicas(const struct wrs *w)
{
	return replicas_of(w->obj);
}

static int64_t wrs_status(const struct wrs *w, const char *field)
{
	char path[64];

	if (!w->orig)
		return 0;
	snprintf(path, sizeof(path), "status.%s", field);
	return obj_int(w->orig, path, 0);
}

static void set_annotation(json_t *obj, const char *key, const char *value)
{
	json_t *a = obj_ensure(obj, "metadata.annotations");
	json_object_set_new(a, key, json_string(value));
}

/* FNV-1a over the template as canonical JSON (and the collision count),
 * spelled with letters and digits that never make a word. */
static void template_hash(const json_t *tmpl, int64_t collision, char *out, size_t len)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	char *s = json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS), dec[24];
	uint32_t h = 2166136261u;
	size_t i;

	for (const char *p = s ? s : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	free(s);
	if (collision > 0) {
		snprintf(dec, sizeof(dec), "%lld", (long long)collision);
		for (const char *p = dec; *p; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
	}
	snprintf(dec, sizeof(dec), "%u", h);
	for (i = 0; dec[i] && i + 1 < len; i++)
		out[i] = alphabet[(unsigned char)dec[i] % (sizeof(alphabet) - 1)];
	out[i] = '\0';
}

/* Templates equal apart from the pod-template-hash label (EqualIgnoreHash). */
static bool template_equal_ignore_hash(const json_t *a, const json_t *b)
{
	json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
	bool eq;

	json_object_del(obj_get(ca, "metadata.labels"), HASH_LABEL);
	json_object_del(obj_get(cb, "metadata.labels"), HASH_LABEL);
	if (json_object_size(obj_get(ca, "metadata.labels")) == 0)
		obj_del(ca, "metadata.labels");
	if (json_object_size(obj_get(cb, "metadata.labels")) == 0)
		obj_del(cb, "metadata.labels");
	eq = json_equal(ca, cb);
	json_decref(ca);
	json_decref(cb);
	return eq;
}

static int cmp_created(const json_t *a, const json_t *b)
{
	time_t ta = obj_created(a), tb = obj_created(b);

	if (ta != tb)
		return ta < tb ? -1 : 1;
	return strcmp(obj_name(a) ? obj_name(a) : "", obj_name(b) ? obj_name(b) : "");
}

/* ---- handlers --------------------------------------------------------------------------- */

static json_t *resolve_deployment(struct dep_controller *dc, const char *ns, const json_t *ref)
{
	const char *kind = obj_str(ref, "kind");
	json_t *d;

	if (!ref || !kind || strcmp(kind, "Deployment"))
		return NULL;
	d = lister_get_ns(dc->deps, ns, obj_str(ref, "name"));
	if (!d || !obj_str(d, "metadata.uid") || !obj_str(ref, "uid") ||
	    strcmp(obj_str(d, "metadata.uid"), obj_str(ref, "uid")))
		return NULL;
	return d;
}

static void enqueue_selecting(struct dep_controller *dc, const json_t *rs)
{
	json_t *all = lister_list(dc->deps, obj_namespace(rs)), *d;
	size_t i;

	json_array_foreach(all, i, d)
		if (selector_matches_labels(obj_get(d, "spec.selector"), obj_get(rs, "metadata.labels"), true))
			controller_enqueue_obj(&dc->c, d);
	json_decref(all);
}

static void on_dep_add(json_t *obj, void *data)
{
	controller_enqueue_obj(&((struct dep_controller *)data)->c, obj);
}

static void on_dep_update(json_t *old_obj, json_t *new_obj, void *data)
{
	(void)old_obj;
	controller_enqueue_obj(&((struct dep_controller *)data)->c, new_obj);
}

static void on_dep_delete(json_t *obj, void *data)
{
	controller_enqueue_obj(&((struct dep_controller *)data)->c, obj);
}

static void on_rs_add(json_t *rs, void *data)
{
	struct dep_controller *dc = data;
	json_t *ref = controller_ref_of(rs);

	if (ref) {
		controller_enqueue_obj(&dc->c, resolve_deployment(dc, obj_namespace(rs), ref));
		return;
	}
	if (!obj_deleting(rs))
		enqueue_selecting(dc, rs);
}

static void on_rs_update(json_t *old_rs, json_t *rs, void *data)
{
	struct dep_controller *dc = data;
	json_t *old_ref = controller_ref_of(old_rs), *ref = controller_ref_of(rs);
	const char *ou = obj_str(old_ref, "uid"), *nu = obj_str(ref, "uid");
	bool ref_changed = (ou || nu) && (!ou || !nu || strcmp(ou, nu));
	bool labels_changed = !json_equal_or_empty(obj_get(old_rs, "metadata.labels"), obj_get(rs, "metadata.labels"));

	if (ref_changed && old_ref)
		controller_enqueue_obj(&dc->c, resolve_deployment(dc, obj_namespace(old_rs), old_ref));
	if (ref) {
		controller_enqueue_obj(&dc->c, resolve_deployment(dc, obj_namespace(rs), ref));
		return;
	}
	if (labels_changed || ref_changed)
		enqueue_selecting(dc, rs);
}

static void on_rs_delete(json_t *rs, void *data)
{
	struct dep_controller *dc = data;

	controller_enqueue_obj(&dc->c, resolve_deployment(dc, obj_namespace(rs), controller_ref_of(rs)));
}

/* Recreate waits for old pods to go: a pod deletion may unblock it. */
static void on_pod_delete(json_t *pod, void *data)
{
	struct dep_controller *dc = data;
	json_t *ref = controller_ref_of(pod), *rs, *d;
	const char *k = obj_str(ref, "kind");

	if (!k || strcmp(k, "ReplicaSet"))
		return;
	rs = lister_get_ns(dc->rss, obj_namespace(pod), obj_str(ref, "name"));
	d = rs ? resolve_deployment(dc, obj_namespace(rs), controller_ref_of(rs)) : NULL;
	if (d && !is_rolling(d))
		controller_enqueue_obj(&dc->c, d);
}

/* ---- revisions and annotations ----------------------------------------------------------- */

static bool skip_copied_annotation(const char *k)
{
	static const char *const skip[] = { "kubectl.kubernetes.io/last-applied-configuration", REVISION_ANNOTATION,
					    REVISION_HISTORY_ANNOTATION, DESIRED_REPLICAS_ANNOTATION,
					    MAX_REPLICAS_ANNOTATION, "deprecated.deployment.rollback.to" };

	for (size_t i = 0; i < ARRAY_SIZE(skip); i++)
		if (!strcmp(k, skip[i]))
			return true;
	return false;
}

static bool copy_deployment_annotations(const json_t *d, json_t *rs)
{
	json_t *da = obj_get(d, "metadata.annotations"), *v, *ra;
	const char *k;
	bool changed = false;

	json_object_foreach(da, k, v) {
		if (skip_copied_annotation(k))
			continue;
		ra = obj_ensure(rs, "metadata.annotations");
		if (!json_equal(json_object_get(ra, k), v)) {
			json_object_set(ra, k, v);
			changed = true;
		}
	}
	return changed;
}

static bool set_replicas_annotations(json_t *rs, int64_t desired, int64_t max)
{
	char buf[24];
	bool changed = false;

	snprintf(buf, sizeof(buf), "%lld", (long long)desired);
	if (!obj_annotation(rs, DESIRED_REPLICAS_ANNOTATION) || strcmp(obj_annotation(rs, DESIRED_REPLICAS_ANNOTATION), buf)) {
		set_annotation(rs, DESIRED_REPLICAS_ANNOTATION, buf);
		changed = true;
	}
	snprintf(buf, sizeof(buf), "%lld", (long long)max);
	if (!obj_annotation(rs, MAX_REPLICAS_ANNOTATION) || strcmp(obj_annotation(rs, MAX_REPLICAS_ANNOTATION), buf)) {
		set_annotation(rs, MAX_REPLICAS_ANNOTATION, buf);
		changed = true;
	}
	return changed;
}

static void set_new_rs_annotations(const json_t *d, json_t *rs, int64_t new_revision, bool exists)
{
	const char *old = obj_annotation(rs, REVISION_ANNOTATION);
	char *old_copy = old ? xstrdup(old) : NULL, buf[24];
	int64_t old_rev = revision_of(rs);

	copy_deployment_annotations(d, rs);
	if (old_rev < new_revision) {
		snprintf(buf, sizeof(buf), "%lld", (long long)new_revision);
		set_annotation(rs, REVISION_ANNOTATION, buf);
		if (old_copy && *old_copy) {
			/* Remember that this template was that revision before (rollout undo). */
			const char *hist = obj_annotation(rs, REVISION_HISTORY_ANNOTATION);
			char *h = hist && *hist ? xasprintf("%s,%s", hist, old_copy) : xstrdup(old_copy);
			while (strlen(h) > REVISION_HISTORY_MAX && strchr(h, ',')) {
				char *rest = xstrdup(strchr(h, ',') + 1);
				free(h);
				h = rest;
			}
			set_annotation(rs, REVISION_HISTORY_ANNOTATION, h);
			free(h);
		}
	}
	if (!exists)
		set_replicas_annotations(rs, replicas_of(d), replicas_of(d) + max_surge(d));
	free(old_copy);
}

/* ---- the sync's working set ------------------------------------------------------------ */

static void free_dep_sync(void *p)
{
	struct dep_sync *st = p;

	for (size_t i = 0; i < st->nrs; i++) {
		json_decref(st->rs[i].obj);
		json_decref(st->rs[i].orig);
	}
	free(st->rs);
	json_decref(st->d);
	json_decref(st->orig);
	json_decref(st->claimed);
	json_decref(st->new_status);
	label_selector_free(st->sel);
	free(st);
}

static int add_wrs(struct dep_sync *st, json_t *obj, json_t *orig)
{
	st->rs = xrealloc(st->rs, (st->nrs + 1) * sizeof(*st->rs));
	st->rs[st->nrs].obj = obj;
	st->rs[st->nrs].orig = orig;
	st->rs[st->nrs].del = false;
	return (int)st->nrs++;
}

/* Indices of the old ReplicaSets (all but the new one), oldest first. */
static size_t old_indices(const struct dep_sync *st, int *out, bool active_only)
{
	size_t n = 0;

	for (size_t i = 0; i < st->nrs; i++) {
		if ((int)i == st->new_idx || st->rs[i].del)
			continue;
		if (active_only && wrs_replicas(&st->rs[i]) <= 0)
			continue;
		out[n++] = (int)i;
	}
	/* Insertion sort by creation time: a handful of entries. */
	for (size_t i = 1; i < n; i++) {
		int v = out[i];
		size_t j = i;
		while (j > 0 && cmp_created(st->rs[out[j - 1]].obj, st->rs[v].obj) > 0) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = v;
	}
	return n;
}

static int64_t sum_replicas(const struct dep_sync *st, bool include_new)
{
	int64_t n = 0;

	for (size_t i = 0; i < st->nrs; i++)
		if (!st->rs[i].del && (include_new || (int)i != st->new_idx))
			n += wrs_replicas(&st->rs[i]);
	return n;
}

static int64_t sum_status(const struct dep_sync *st, const char *field)
{
	int64_t n = 0;

	for (size_t i = 0; i < st->nrs; i++)
		if (!st->rs[i].del)
			n += wrs_status(&st->rs[i], field);
	return n;
}

/* Sets a ReplicaSet's size (scaleReplicaSet): also its replicas annotations. */
static void scale_rs(struct dep_sync *st, int idx, int64_t n)
{
	struct wrs *w = &st->rs[idx];

	obj_set(w->obj, "spec.replicas", json_integer(n));
	set_replicas_annotations(w->obj, d_replicas(st), d_replicas(st) + max_surge(st->d));
}

/* scaleReplicaSetAndRecordEvent: nothing at all when the size is right. */
static bool scale_rs_if_needed(struct dep_sync *st, int idx, int64_t n)
{
	if (wrs_replicas(&st->rs[idx]) == n)
		return false;
	scale_rs(st, idx, n);
	return true;
}

static int64_t new_rs_new_replicas(struct dep_sync *st)
{
	int64_t cur_new = wrs_replicas(&st->rs[st->new_idx]), surge, current, max_total, up;

	if (!is_rolling(st->d))
		return d_replicas(st);
	surge = max_surge(st->d);
	current = sum_replicas(st, true);
	max_total = d_replicas(st) + surge;
	if (current >= max_total)
		return cur_new;
	up = max_total - current;
	if (up > d_replicas(st) - cur_new)
		up = d_replicas(st) - cur_new;
	return cur_new + up;
}

static void set_d_condition(struct dep_sync *st, const char *type, const char *status, const char *reason,
			    const char *message)
{
	char now[TIME_RFC3339_LEN];
	json_t *conds = obj_get(st->d, "status.conditions");

	if (!json_is_array(conds)) {
		conds = json_array();
		obj_set(st->d, "status.conditions", conds);
	}
	ctx_now_rfc3339(st->dc->c.ctx, now);
	condition_set(conds, type, status, reason, message, now, true, true);
}

/* getAllReplicaSetsAndSyncRevision: finds the new ReplicaSet (the oldest
 * whose template is the Deployment's), updates its revision, and with
 * create makes one when there is none. Returns -1 on a hash collision. */
static int find_new_and_sync_revision(struct dep_sync *st, bool create)
{
	const json_t *tmpl = obj_get(st->d, "spec.template");
	int64_t max_old = 0, new_revision;
	char buf[24];

	st->new_idx = -1;
	for (size_t i = 0; i < st->nrs; i++) {
		if (!st->rs[i].orig || !template_equal_ignore_hash(obj_get(st->rs[i].obj, "spec.template"), tmpl))
			continue;
		if (st->new_idx < 0 || cmp_created(st->rs[i].obj, st->rs[st->new_idx].obj) < 0)
			st->new_idx = (int)i;
	}
	for (size_t i = 0; i < st->nrs; i++)
		if ((int)i != st->new_idx && revision_of(st->rs[i].obj) > max_old)
			max_old = revision_of(st->rs[i].obj);
	new_revision = max_old + 1;

	if (st->new_idx >= 0) {
		struct wrs *w = &st->rs[st->new_idx];
		set_new_rs_annotations(st->d, w->obj, new_revision, true);
		if (obj_int(w->obj, "spec.minReadySeconds", 0) != obj_int(st->d, "spec.minReadySeconds", 0))
			obj_set(w->obj, "spec.minReadySeconds", json_integer(obj_int(st->d, "spec.minReadySeconds", 0)));
		if (obj_annotation(w->obj, REVISION_ANNOTATION))
			set_annotation(st->d, REVISION_ANNOTATION, obj_annotation(w->obj, REVISION_ANNOTATION));
		if (has_progress_deadline(st->d) && !condition_get(st->d, "Progressing")) {
			char *msg = xasprintf("Found new replica set \"%s\"", obj_name(w->obj));
			set_d_condition(st, "Progressing", "True", "FoundNewReplicaSet", msg);
			free(msg);
		}
		return 0;
	}
	if (!create)
		return 0;

	{
		char hash[16], *name;
		json_t *rs, *new_tmpl, *sel, *existing;
		int64_t collision = obj_int(st->d, "status.collisionCount", 0);

		template_hash(tmpl, collision, hash, sizeof(hash));
		name = xasprintf("%s-%s", obj_name(st->d), hash);
		existing = lister_get_ns(st->dc->rss, obj_namespace(st->d), name);
		if (existing) {
			/* That name is taken by a ReplicaSet that is not this template's:
			 * bump collisionCount so the next hash differs. */
			log_info("controller=deployment deployment=%s/%s hash collision on replicaset=%s", obj_namespace(st->d),
				 obj_name(st->d), name);
			obj_set(st->d, "status.collisionCount", json_integer(collision + 1));
			st->collision = true;
			free(name);
			return -1;
		}
		new_tmpl = json_deep_copy(tmpl);
		json_object_set_new(obj_ensure(new_tmpl, "metadata.labels"), HASH_LABEL, json_string(hash));
		sel = json_deep_copy(obj_get(st->d, "spec.selector"));
		json_object_set_new(obj_ensure(sel, "matchLabels"), HASH_LABEL, json_string(hash));
		rs = json_pack("{s:s, s:s, s:{s:s, s:s, s:[o], s:o}, s:{s:i, s:I, s:o, s:o}}", "apiVersion", "apps/v1",
			       "kind", "ReplicaSet", "metadata", "name", name, "namespace", obj_namespace(st->d),
			       "ownerReferences", controller_ref_new(st->d, "apps/v1", "Deployment"), "labels",
			       json_deep_copy(obj_get(new_tmpl, "metadata.labels")), "spec", "replicas", 0, "minReadySeconds",
			       (json_int_t)obj_int(st->d, "spec.minReadySeconds", 0), "selector", sel, "template", new_tmpl);
		set_new_rs_annotations(st->d, rs, new_revision, false);
		st->new_idx = add_wrs(st, rs, NULL);
		obj_set(rs, "spec.replicas", json_integer(new_rs_new_replicas(st)));
		snprintf(buf, sizeof(buf), "%lld", (long long)new_revision);
		set_annotation(st->d, REVISION_ANNOTATION, buf);
		if (has_progress_deadline(st->d)) {
			char *msg = xasprintf("Created new replica set \"%s\"", name);
			set_d_condition(st, "Progressing", "True", "NewReplicaSetCreated", msg);
			free(msg);
		}
		free(name);
	}
	return 0;
}

/* ---- status --------------------------------------------------------------------------------- */

static void set_count(json_t *status, const char *key, int64_t n)
{
	if (n)
		json_object_set_new(status, key, json_integer(n));
}

/* calculateStatus. New reference. */
static json_t *calculate_status(struct dep_sync *st)
{
	int64_t available = sum_status(st, "availableReplicas"), total = sum_replicas(st, true);
	int64_t unavailable = total - available;
	json_t *status = json_object(), *conds;
	char now[TIME_RFC3339_LEN];

	if (unavailable < 0)
		unavailable = 0;
	set_count(status, "observedGeneration", obj_int(st->d, "metadata.generation", 0));
	set_count(status, "replicas", sum_status(st, "replicas"));
	set_count(status, "updatedReplicas", st->new_idx >= 0 ? wrs_status(&st->rs[st->new_idx], "replicas") : 0);
	set_count(status, "readyReplicas", sum_status(st, "readyReplicas"));
	set_count(status, "availableReplicas", available);
	set_count(status, "unavailableReplicas", unavailable);
	if (obj_get(st->d, "status.collisionCount"))
		json_object_set(status, "collisionCount", obj_get(st->d, "status.collisionCount"));
	conds = json_deep_copy(obj_get(st->d, "status.conditions"));
	if (!json_is_array(conds)) {
		json_decref(conds);
		conds = json_array();
	}
	ctx_now_rfc3339(st->dc->c.ctx, now);
	if (available >= d_replicas(st) - max_unavailable(st->d))
		condition_set(conds, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.",
			      now, true, true);
	else
		condition_set(conds, "Available", "False", "MinimumReplicasUnavailable",
			      "Deployment does not have minimum availability.", now, true, true);
	json_object_set_new(status, "conditions", conds);
	return status;
}

static bool deployment_complete(const json_t *d, const json_t *status)
{
	int64_t r = replicas_of(d);

	return obj_int(status, "updatedReplicas", 0) == r && obj_int(status, "replicas", 0) == r &&
	       obj_int(status, "availableReplicas", 0) == r &&
	       obj_int(status, "observedGeneration", 0) >= obj_int(d, "metadata.generation", 0);
}

static bool deployment_progressing(const json_t *d, const json_t *ns)
{
	const json_t *os = obj_get(d, "status");
	int64_t old_old = obj_int(os, "replicas", 0) - obj_int(os, "updatedReplicas", 0);
	int64_t new_old = obj_int(ns, "replicas", 0) - obj_int(ns, "updatedReplicas", 0);

	return obj_int(ns, "updatedReplicas", 0) > obj_int(os, "updatedReplicas", 0) || new_old < old_old ||
	       obj_int(ns, "readyReplicas", 0) > obj_int(os, "readyReplicas", 0) ||
	       obj_int(ns, "availableReplicas", 0) > obj_int(os, "availableReplicas", 0);
}

static bool deployment_timed_out(const json_t *d, const json_t *ns, time_t now)
{
	json_t *c = condition_get(ns, "Progressing");
	const char *reason = obj_str(c, "reason"), *from = obj_str(c, "lastUpdateTime");
	time_t t;

	if (!has_progress_deadline(d) || !c)
		return false;
	if (reason && !strcmp(reason, "NewReplicaSetAvailable"))
		return false;
	if (reason && !strcmp(reason, "ProgressDeadlineExceeded"))
		return true;
	if (!from || time_parse_rfc3339(from, &t) < 0)
		return false;
	return t + obj_int(d, "spec.progressDeadlineSeconds", 600) < now;
}

/* The ReplicaSets' ReplicaFailure, as a Deployment condition (getReplicaFailures). */
static json_t *replica_failure(struct dep_sync *st)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < st->nrs; i++) {
			json_t *c;
			if ((pass == 0) != ((int)i == st->new_idx) || !st->rs[i].orig)
				continue;
			c = condition_get(st->rs[i].orig, "ReplicaFailure");
			if (c && !strcmp(obj_str(c, "status") ? obj_str(c, "status") : "", "True"))
				return c;
		}
	}
	return NULL;
}

/* After the status is written (or unchanged), when to look again for a stuck rollout. */
static void requeue_stuck(struct sync *s, struct dep_sync *st, const json_t *ns)
{
	json_t *c = condition_get(st->d, "Progressing");
	const char *reason = obj_str(c, "reason"), *from = obj_str(c, "lastUpdateTime");
	time_t t, now = ctx_now_s(st->dc->c.ctx);
	int64_t after;

	if (!has_progress_deadline(st->d) || !c)
		return;
	if (deployment_complete(st->d, ns) || (reason && !strcmp(reason, "ProgressDeadlineExceeded")))
		return;
	if (!from || time_parse_rfc3339(from, &t) < 0)
		return;
	after = (int64_t)(t + obj_int(st->d, "spec.progressDeadlineSeconds", 600) - now);
	sync_requeue_after(s, after < 1 ? 1000 : (uint64_t)after * 1000 + 500);
}

/* syncRolloutStatus: status plus the Progressing condition. */
static void sync_rollout_status(struct sync *s, struct dep_sync *st)
{
	json_t *ns = calculate_status(st), *conds = json_object_get(ns, "conditions"), *cur, *rf;
	const char *new_name = st->new_idx >= 0 ? obj_name(st->rs[st->new_idx].obj) : NULL;
	char now[TIME_RFC3339_LEN], *msg;
	bool complete_already;

	ctx_now_rfc3339(st->dc->c.ctx, now);
	if (!has_progress_deadline(st->d))
		condition_remove(conds, "Progressing");
	cur = condition_get(st->d, "Progressing");
	complete_already = obj_int(ns, "replicas", 0) == obj_int(ns, "updatedReplicas", 0) && cur &&
			   obj_str(cur, "reason") && !strcmp(obj_str(cur, "reason"), "NewReplicaSetAvailable");
	if (has_progress_deadline(st->d) && !complete_already) {
		if (deployment_complete(st->d, ns)) {
			msg = new_name ? xasprintf("ReplicaSet \"%s\" has successfully progressed.", new_name)
				       : xasprintf("Deployment \"%s\" has successfully progressed.", obj_name(st->d));
			condition_set(conds, "Progressing", "True", "NewReplicaSetAvailable", msg, now, true, true);
			free(msg);
		} else if (deployment_progressing(st->d, ns)) {
			json_t *keep = NULL;
			msg = new_name ? xasprintf("ReplicaSet \"%s\" is progressing.", new_name)
				       : xasprintf("Deployment \"%s\" is progressing.", obj_name(st->d));
			/* Progress moves lastUpdateTime (the deadline counts from it). */
			if (cur && !strcmp(obj_str(cur, "status") ? obj_str(cur, "status") : "", "True"))
				keep = json_incref(obj_get(cur, "lastTransitionTime"));
			condition_remove(conds, "Progressing");
			condition_set(conds, "Progressing", "True", "ReplicaSetUpdated", msg, now, true, true);
			if (keep)
				json_object_set_new(condition_get(ns, "Progressing"), "lastTransitionTime", keep);
			free(msg);
		} else if (deployment_timed_out(st->d, ns, ctx_now_s(st->dc->c.ctx))) {
			msg = new_name ? xasprintf("ReplicaSet \"%s\" has timed out progressing.", new_name)
				       : xasprintf("Deployment \"%s\" has timed out progressing.", obj_name(st->d));
			condition_set(conds, "Progressing", "False", "ProgressDeadlineExceeded", msg, now, true, true);
			free(msg);
		}
	}
	if ((rf = replica_failure(st)))
		condition_set(conds, "ReplicaFailure", obj_str(rf, "status"), obj_str(rf, "reason"),
			      obj_str(rf, "message"), now, true, true);
	else
		condition_remove(conds, "ReplicaFailure");
	json_decref(st->new_status);
	st->new_status = ns;
	if (json_equal_or_empty(ns, obj_get(st->d, "status")))
		requeue_stuck(s, st, ns);
}

static void sync_deployment_status(struct dep_sync *st)
{
	json_decref(st->new_status);
	st->new_status = calculate_status(st);
}

/* ---- strategies --------------------------------------------------------------------------- */

/* cleanupDeployment: old, idle revisions past revisionHistoryLimit go. */
static void cleanup_old(struct dep_sync *st)
{
	json_t *lim = obj_get(st->d, "spec.revisionHistoryLimit");
	int idx[st->nrs + 1];
	size_t n = 0;
	int64_t diff;

	if (!json_is_integer(lim) || json_integer_value(lim) == INT32_MAX)
		return;
	for (size_t i = 0; i < st->nrs; i++)
		if ((int)i != st->new_idx && st->rs[i].orig && !obj_deleting(st->rs[i].obj))
			idx[n++] = (int)i;
	diff = (int64_t)n - json_integer_value(lim);
	if (diff <= 0)
		return;
	/* Oldest revision first. */
	for (size_t i = 1; i < n; i++) {
		int v = idx[i];
		size_t j = i;
		while (j > 0) {
			const json_t *a = st->rs[idx[j - 1]].obj, *b = st->rs[v].obj;
			int64_t ra = revision_of(a), rb = revision_of(b);
			if (ra < rb || (ra == rb && cmp_created(a, b) <= 0))
				break;
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
	for (int64_t i = 0; i < diff && (size_t)i < n; i++) {
		struct wrs *w = &st->rs[idx[i]];
		if (wrs_status(w, "replicas") != 0 || wrs_replicas(w) != 0 ||
		    obj_int(w->orig, "metadata.generation", 0) > obj_int(w->orig, "status.observedGeneration", 0))
			continue;
		log_info("controller=deployment deployment=%s/%s cleaning up old replicaset=%s", obj_namespace(st->d),
			 obj_name(st->d), obj_name(w->obj));
		w->del = true;
	}
}

static bool reconcile_new(struct dep_sync *st)
{
	int64_t cur = wrs_replicas(&st->rs[st->new_idx]), want = d_replicas(st);

	if (cur == want)
		return false;
	if (cur > want)
		return scale_rs_if_needed(st, st->new_idx, want);
	return scale_rs_if_needed(st, st->new_idx, new_rs_new_replicas(st));
}

static int64_t cleanup_unhealthy(struct dep_sync *st, int64_t max_cleanup)
{
	int idx[st->nrs + 1];
	size_t n = old_indices(st, idx, true);
	int64_t total = 0;

	for (size_t i = 0; i < n && total < max_cleanup; i++) {
		struct wrs *w = &st->rs[idx[i]];
		int64_t r = wrs_replicas(w), avail = wrs_status(w, "availableReplicas"), down;
		if (r == 0 || r == avail)
			continue;
		down = max_cleanup - total < r - avail ? max_cleanup - total : r - avail;
		scale_rs_if_needed(st, idx[i], r - down);
		total += down;
	}
	return total;
}

static int64_t scale_down_old_rolling(struct dep_sync *st)
{
	int idx[st->nrs + 1];
	size_t n = old_indices(st, idx, true);
	int64_t min_available = d_replicas(st) - max_unavailable(st->d);
	int64_t available = sum_status(st, "availableReplicas"), to_scale, total = 0;

	if (available <= min_available)
		return 0;
	to_scale = available - min_available;
	for (size_t i = 0; i < n && total < to_scale; i++) {
		int64_t r = wrs_replicas(&st->rs[idx[i]]), down;
		if (r == 0)
			continue;
		down = r < to_scale - total ? r : to_scale - total;
		scale_rs_if_needed(st, idx[i], r - down);
		total += down;
	}
	return total;
}

static bool reconcile_old(struct dep_sync *st)
{
	int idx[st->nrs + 1];
	int64_t old_pods = 0, all_pods, min_available, new_unavailable, max_down, cleaned, scaled;
	size_t n = old_indices(st, idx, true);
	struct wrs *nw = &st->rs[st->new_idx];

	for (size_t i = 0; i < n; i++)
		old_pods += wrs_replicas(&st->rs[idx[i]]);
	if (old_pods == 0)
		return false;
	all_pods = old_pods + wrs_replicas(nw);
	min_available = d_replicas(st) - max_unavailable(st->d);
	new_unavailable = wrs_replicas(nw) - wrs_status(nw, "availableReplicas");
	max_down = all_pods - min_available - new_unavailable;
	if (max_down <= 0)
		return false;
	cleaned = cleanup_unhealthy(st, max_down);
	scaled = scale_down_old_rolling(st);
	return cleaned + scaled > 0;
}

static void rollout_rolling(struct sync *s, struct dep_sync *st)
{
	if (find_new_and_sync_revision(st, true) < 0)
		return;
	if (reconcile_new(st) || reconcile_old(st)) {
		sync_rollout_status(s, st);
		return;
	}
	if (deployment_complete(st->d, obj_get(st->d, "status")))
		cleanup_old(st);
	sync_rollout_status(s, st);
}

/* Whether pods of old ReplicaSets still run (Recreate waits for them). */
static bool old_pods_running(struct dep_sync *st)
{
	for (size_t i = 0; i < st->nrs; i++) {
		json_t *pods, *p;
		size_t j;
		bool running = false;
		if ((int)i == st->new_idx || !st->rs[i].orig)
			continue;
		if (wrs_status(&st->rs[i], "replicas") > 0)
			return true;
		pods = lister_by_index(st->dc->pods, "owner", obj_str(st->rs[i].orig, "metadata.uid"));
		json_array_foreach(pods, j, p)
			if (!pod_is_terminal(p))
				running = true;
		json_decref(pods);
		if (running)
			return true;
	}
	return false;
}

static void rollout_recreate(struct sync *s, struct dep_sync *st)
{
	bool scaled = false;

	find_new_and_sync_revision(st, false);
	for (size_t i = 0; i < st->nrs; i++)
		if ((int)i != st->new_idx && wrs_replicas(&st->rs[i]) > 0)
			scaled |= scale_rs_if_needed(st, (int)i, 0);
	if (scaled || old_pods_running(st)) {
		sync_rollout_status(s, st);
		return;
	}
	if (st->new_idx < 0 && find_new_and_sync_revision(st, true) < 0)
		return;
	scale_rs_if_needed(st, st->new_idx, d_replicas(st));
	if (deployment_complete(st->d, obj_get(st->d, "status")))
		cleanup_old(st);
	sync_rollout_status(s, st);
}

/* A ReplicaSet with desired-replicas that is not the Deployment's size: spec.replicas changed. */
static bool is_scaling_event(struct dep_sync *st)
{
	for (size_t i = 0; i < st->nrs; i++) {
		const char *v;
		if (!st->rs[i].orig || wrs_replicas(&st->rs[i]) <= 0)
			continue;
		v = obj_annotation(st->rs[i].obj, DESIRED_REPLICAS_ANNOTATION);
		if (v && strtoll(v, NULL, 10) != d_replicas(st))
			return true;
	}
	return false;
}

static int64_t max_replicas_annotation(const struct wrs *w, bool *ok)
{
	const char *v = obj_annotation(w->obj, MAX_REPLICAS_ANNOTATION);
	char *end;
	long long n;

	*ok = false;
	if (!v)
		return 0;
	n = strtoll(v, &end, 10);
	if (*end)
		return 0;
	*ok = true;
	return n;
}

static int64_t proportion(struct dep_sync *st, const struct wrs *w, int64_t to_add, int64_t added)
{
	int64_t r = wrs_replicas(w), allowed, fraction, annotated;
	bool ok;

	if (r == 0 || to_add == 0 || to_add == added)
		return 0;
	if (d_replicas(st) == 0) {
		fraction = -r;
	} else {
		int64_t dep = d_replicas(st) + max_surge(st->d);
		annotated = max_replicas_annotation(w, &ok);
		if (!ok)
			annotated = obj_int(st->orig, "status.replicas", 0);
		fraction = annotated ? (int64_t)llround((double)(r * dep) / (double)annotated) - r : 0;
	}
	allowed = to_add - added;
	if (to_add > 0)
		return fraction < allowed ? fraction : allowed;
	return fraction > allowed ? fraction : allowed;
}

struct size_order {
	struct dep_sync *st;
	bool newer_first;
};

/* ReplicaSetsBySizeNewer / BySizeOlder: biggest first, then by age. */
static int cmp_size(const void *pa, const void *pb, void *arg)
{
	const struct size_order *o = arg;
	const struct wrs *a = &o->st->rs[*(const int *)pa], *b = &o->st->rs[*(const int *)pb];
	int64_t ra = wrs_replicas(a), rb = wrs_replicas(b);
	int c;

	if (ra != rb)
		return ra > rb ? -1 : 1;
	c = cmp_created(a->obj, b->obj);
	return o->newer_first ? -c : c;
}

/* scale: a change of spec.replicas spread over the ReplicaSets. */
static void scale(struct dep_sync *st)
{
	int active[st->nrs + 1];
	size_t n = 0;

	for (size_t i = 0; i < st->nrs; i++)
		if (wrs_replicas(&st->rs[i]) > 0)
			active[n++] = (int)i;
	/* FindActiveOrLatest */
	if (n <= 1) {
		int target = -1;
		if (n == 1) {
			target = active[0];
		} else if (st->new_idx >= 0) {
			target = st->new_idx;
		} else {
			for (size_t i = 0; i < st->nrs; i++)
				if (target < 0 || cmp_created(st->rs[i].obj, st->rs[target].obj) > 0)
					target = (int)i;
		}
		if (target >= 0)
			scale_rs_if_needed(st, target, d_replicas(st));
		return;
	}
	if (deployment_complete(st->d, obj_get(st->d, "status"))) {
		for (size_t i = 0; i < n; i++)
			if (active[i] != st->new_idx)
				scale_rs_if_needed(st, active[i], 0);
		return;
	}
	if (is_rolling(st->d)) {
		int64_t all = 0, allowed, to_add, added = 0, sizes[n];
		for (size_t i = 0; i < n; i++)
			all += wrs_replicas(&st->rs[active[i]]);
		allowed = d_replicas(st) > 0 ? d_replicas(st) + max_surge(st->d) : 0;
		to_add = allowed - all;
		struct size_order order = { st, to_add > 0 };
		if (to_add != 0)
			qsort_r(active, n, sizeof(active[0]), cmp_size, &order);
		for (size_t i = 0; i < n; i++) {
			struct wrs *w = &st->rs[active[i]];
			if (to_add != 0) {
				int64_t p = proportion(st, w, to_add, added);
				sizes[i] = wrs_replicas(w) + p;
				added += p;
			} else {
				sizes[i] = wrs_replicas(w);
			}
		}
		if (to_add != 0) {
			sizes[0] += to_add - added;
			if (sizes[0] < 0)
				sizes[0] = 0;
		}
		for (size_t i = 0; i < n; i++)
			scale_rs(st, active[i], sizes[i]);
	}
}

/* ---- writing it all out ------------------------------------------------------------------- */

struct rs_write {
	struct dep_sync *st;
	int idx;
	int64_t from, to;
	bool create;
};

static int on_rs_written(struct sync *s, const struct api_result *r, void *data)
{
	struct rs_write *w = data;
	struct dep_sync *st = w->st;
	const char *name = obj_name(st->rs[w->idx].obj);
	int rc = 0;

	if (r->error) {
		rc = sync_check(s, r);
	} else if (w->create) {
		if (w->to > 0)
			event_record(st->dc->events, st->orig, "Normal", "ScalingReplicaSet", "Scaled up replica set %s to %lld",
				     name, (long long)w->to);
	} else if (w->from != w->to) {
		event_record(st->dc->events, st->orig, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s to %lld from %lld",
			     w->to > w->from ? "up" : "down", name, (long long)w->to, (long long)w->from);
	}
	free(w);
	return rc;
}

static void flush_deployment(struct sync *s);

/* Writes every changed ReplicaSet, then (flush_deployment) the Deployment. */
static void flush(struct sync *s, struct dep_sync *st)
{
	for (size_t i = 0; i < st->nrs; i++) {
		struct wrs *w = &st->rs[i];
		struct rs_write *rw;
		char *path;

		if (w->del) {
			path = kind_path(&kind_replicaset, obj_namespace(w->obj), obj_name(w->obj), NULL);
			sync_delete(s, path, NULL, NULL, NULL);
			free(path);
			continue;
		}
		if (w->orig && json_equal(w->obj, w->orig))
			continue;
		rw = xcalloc(1, sizeof(*rw));
		rw->st = st;
		rw->idx = (int)i;
		rw->create = !w->orig;
		rw->from = w->orig ? replicas_of(w->orig) : 0;
		rw->to = wrs_replicas(w);
		if (rw->create) {
			path = kind_path(&kind_replicaset, obj_namespace(w->obj), NULL, NULL);
			sync_create(s, path, w->obj, on_rs_written, rw);
		} else {
			path = kind_path(&kind_replicaset, obj_namespace(w->obj), obj_name(w->obj), NULL);
			sync_update(s, path, w->obj, on_rs_written, rw);
		}
		free(path);
	}
	sync_then(s, flush_deployment);
}

static void flush_deployment(struct sync *s)
{
	struct dep_sync *st = sync_data(s);
	json_t *oa = obj_get(st->orig, "metadata.annotations"), *na = obj_get(st->d, "metadata.annotations");
	json_t *old_status = obj_get(st->orig, "status");

	/* A failed ReplicaSet write: do not claim progress we did not make. */
	if (sync_failed(s) && !st->collision)
		return;
	if (na && !json_equal_or_empty(oa, na)) {
		json_t *changes = json_object(), *v;
		const char *k;
		char *path = kind_path(&kind_deployment, obj_namespace(st->d), obj_name(st->d), NULL);
		json_object_foreach(na, k, v)
			if (!json_equal(json_object_get(oa, k), v))
				json_object_set(changes, k, v);
		json_t *patch = json_pack("{s:{s:o}}", "metadata", "annotations", changes);
		sync_merge_patch(s, path, patch, NULL, NULL);
		json_decref(patch);
		free(path);
	}
	if (st->collision && !st->new_status)
		st->new_status = json_deep_copy(obj_get(st->d, "status"));
	if (st->new_status && !json_equal_or_empty(st->new_status, old_status)) {
		json_t *ps = json_deep_copy(st->new_status), *v;
		const char *k;
		char *path = kind_path(&kind_deployment, obj_namespace(st->d), obj_name(st->d), "status");
		json_object_foreach(old_status, k, v)
			if (!json_object_get(st->new_status, k))
				json_object_set_new(ps, k, json_null());
		json_t *patch = json_pack("{s:o}", "status", ps);
		sync_merge_patch(s, path, patch, NULL, NULL);
		json_decref(patch);
		free(path);
	}
	if (st->collision)
		sync_fail(s);
}

/* ---- sync ----------------------------------------------------------------------------- */

/* checkPausedConditions: Progressing says Unknown/DeploymentPaused while paused. */
static void check_paused(struct dep_sync *st)
{
	json_t *c = condition_get(st->d, "Progressing");
	const char *reason = obj_str(c, "reason");
	bool paused = obj_bool(st->d, "spec.paused", false);
	bool paused_cond = reason && !strcmp(reason, "DeploymentPaused");

	if (!has_progress_deadline(st->d) || (reason && !strcmp(reason, "ProgressDeadlineExceeded")))
		return;
	if (paused && !paused_cond)
		set_d_condition(st, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused");
	else if (!paused && paused_cond)
		set_d_condition(st, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed");
}

static void dep_main(struct sync *s)
{
	struct dep_sync *st = sync_data(s);
	json_t *rs;
	size_t i;

	if (sync_failed(s))
		return;
	json_array_foreach(st->claimed, i, rs)
		add_wrs(st, json_deep_copy(rs), json_incref(rs));
	st->new_idx = -1;

	if (obj_deleting(st->d)) {
		find_new_and_sync_revision(st, false);
		sync_deployment_status(st);
	} else {
		check_paused(st);
		if (obj_bool(st->d, "spec.paused", false)) {
			find_new_and_sync_revision(st, false);
			scale(st);
			cleanup_old(st);
			sync_deployment_status(st);
		} else if (is_scaling_event(st)) {
			find_new_and_sync_revision(st, false);
			scale(st);
			sync_deployment_status(st);
		} else if (is_rolling(st->d)) {
			rollout_rolling(s, st);
		} else {
			rollout_recreate(s, st);
		}
	}
	flush(s, st);
}

static int dep_sync(struct controller *c, const char *key, struct sync *s)
{
	struct dep_controller *dc = c->priv;
	json_t *d = lister_get(dc->deps, key), *owned, *orphans, *candidates;
	struct dep_sync *st;
	char orphan_key[300], *err = NULL;

	if (!d) {
		log_debug("controller=deployment key=%s has been deleted", key);
		return 0;
	}
	st = xcalloc(1, sizeof(*st));
	st->dc = dc;
	st->orig = json_incref(d);
	st->d = json_deep_copy(d);
	st->claimed = json_array();
	st->new_idx = -1;
	sync_set_data(s, st, free_dep_sync);
	if (label_selector_from_json(obj_get(d, "spec.selector"), &st->sel, &err) < 0) {
		log_warn("controller=deployment key=%s has an invalid selector: %s", key, err);
		free(err);
		return 0;
	}
	if (label_selector_empty(st->sel)) {
		event_record(dc->events, d, "Warning", "SelectingAll",
			     "This deployment is selecting all pods. A non-empty selector is required.");
		if (obj_int(d, "status.observedGeneration", 0) < obj_int(d, "metadata.generation", 0)) {
			char *path = kind_path(&kind_deployment, obj_namespace(d), obj_name(d), "status");
			json_t *patch = json_pack("{s:{s:I}}", "status", "observedGeneration",
						  (json_int_t)obj_int(d, "metadata.generation", 0));
			sync_merge_patch(s, path, patch, NULL, NULL);
			json_decref(patch);
			free(path);
		}
		return 0;
	}
	owned = lister_by_index(dc->rss, "owner", obj_str(d, "metadata.uid"));
	snprintf(orphan_key, sizeof(orphan_key), "orphan/%s", obj_namespace(d) ? obj_namespace(d) : "");
	orphans = lister_by_index(dc->rss, "owner", orphan_key);
	candidates = json_array();
	json_array_extend(candidates, owned);
	json_array_extend(candidates, orphans);
	controller_claim(s, d, "apps/v1", "Deployment", &kind_replicaset, candidates, st->sel, st->claimed);
	json_decref(candidates);
	json_decref(owned);
	json_decref(orphans);
	sync_then(s, dep_main);
	return 0;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static int dep_init(struct controller_context *ctx, void **state)
{
	struct dep_controller *dc = xcalloc(1, sizeof(*dc));
	struct informer_handlers dh = { on_dep_add, on_dep_update, on_dep_delete, dc };
	struct informer_handlers rh = { on_rs_add, on_rs_update, on_rs_delete, dc };
	struct informer_handlers ph = { NULL, NULL, on_pod_delete, dc };

	controller_init(&dc->c, ctx, "deployment", ctx->opts->concurrent_deployment_syncs, dep_sync, dc);
	dc->deps = controller_lister(ctx, &kind_deployment);
	dc->rss = controller_lister(ctx, &kind_replicaset);
	dc->pods = controller_lister(ctx, &kind_pod);
	dc->events = controller_recorder(ctx, COMPONENT);
	lister_add_handlers(dc->deps, &dh);
	lister_add_handlers(dc->rss, &rh);
	lister_add_handlers(dc->pods, &ph);
	*state = dc;
	return 0;
}

static void dep_start(void *state)
{
	controller_run(&((struct dep_controller *)state)->c);
}

static void dep_stop(void *state, void (*done)(void *), void *arg)
{
	struct dep_controller *dc = state;

	controller_stop_and_free(&dc->c, free, dc, done, arg);
}

static struct controller *dep_controller_of(void *state)
{
	return &((struct dep_controller *)state)->c;
}

const struct controller_def deployment_controller_def = {
	.name = "deployment-controller",
	.alias = "deployment",
	.init = dep_init,
	.start = dep_start,
	.stop = dep_stop,
	.controller = dep_controller_of,
};
