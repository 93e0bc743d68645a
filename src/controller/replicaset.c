/*
 * The ReplicaSet controller, as Kubernetes' pkg/controller/replicaset: keeps
 * each ReplicaSet's number of active pods at spec.replicas. A sync claims
 * the pods (its own, plus matching orphans it adopts), creates missing pods
 * in slow-start batches (1, 2, 4, ... up to 500 per sync) or deletes the
 * most expendable extra ones (unscheduled, pending, not ready, doubled up
 * on a node, newest), then writes status. Expectations remember writes the
 * cache has not shown yet, so a sync that runs before the pod events
 * arrive does not create or delete twice.
 */
#include "controller/controller.h"
#include "apiserver/kinds.h"
#include "log.h"
#include "object.h"
#include "selector.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENT "replicaset-controller"
/* Most pods one sync creates or deletes (kube's burstReplicas). */
#define BURST_REPLICAS 500
/* Expectations older than this are ignored (a lost event must not wedge a ReplicaSet). */
#define EXPECTATIONS_TIMEOUT_MS (5 * 60 * 1000)
#define DELETION_COST_ANNOTATION "controller.kubernetes.io/pod-deletion-cost"

struct rs_expectation {
	int64_t adds;
	json_t *dels;    /* pod keys expected to go */
	int64_t set_ms;
};

struct rs_controller {
	struct controller c;
	struct lister *pods, *rss;
	struct keymap *expectations;
	struct event_recorder *events;
};

/* ---- expectations ------------------------------------------------------------ */

static void free_expectation(void *p)
{
	struct rs_expectation *e = p;

	if (!e)
		return;
	json_decref(e->dels);
	free(e);
}

static bool expectations_satisfied(struct rs_controller *rc, const char *key)
{
	struct rs_expectation *e = keymap_get(rc->expectations, key);

	if (!e)
		return true;
	if (e->adds <= 0 && json_object_size(e->dels) == 0)
		return true;
	if (rc->c.ctx->clock() - e->set_ms > EXPECTATIONS_TIMEOUT_MS) {
		log_info("controller=replicaset key=%s expectations expired adds=%lld dels=%zu", key, (long long)e->adds,
			 json_object_size(e->dels));
		return true;
	}
	return false;
}

static struct rs_expectation *expectations_set(struct rs_controller *rc, const char *key)
{
	struct rs_expectation *e = xcalloc(1, sizeof(*e));

	e->dels = json_object();
	e->set_ms = rc->c.ctx->clock();
	free_expectation(keymap_put(rc->expectations, key, e));
	return e;
}

static void creation_observed(struct rs_controller *rc, const char *key)
{
	struct rs_expectation *e = keymap_get(rc->expectations, key);

	if (e)
		e->adds--;
}

static void deletion_observed(struct rs_controller *rc, const char *key, const char *pod_key)
{
	struct rs_expectation *e = keymap_get(rc->expectations, key);

	if (e)
		json_object_del(e->dels, pod_key);
}

static void expectations_delete(struct rs_controller *rc, const char *key)
{
	free_expectation(keymap_del(rc->expectations, key));
}

/* ---- handlers: turn events into ReplicaSet keys ------------------------------- */

/* The ReplicaSet a controllerRef points at, if it exists with that uid. */
static json_t *resolve_ref(struct rs_controller *rc, const char *ns, const json_t *ref)
{
	const char *kind = obj_str(ref, "kind");
	json_t *rs;

	if (!ref || !kind || strcmp(kind, "ReplicaSet"))
		return NULL;
	rs = lister_get_ns(rc->rss, ns, obj_str(ref, "name"));
	if (!rs || !obj_str(rs, "metadata.uid") || !obj_str(ref, "uid") ||
	    strcmp(obj_str(rs, "metadata.uid"), obj_str(ref, "uid")))
		return NULL;
	return rs;
}

/* Orphan pods: every ReplicaSet of the namespace that selects them. */
static void enqueue_selecting(struct rs_controller *rc, const json_t *pod)
{
	json_t *all = lister_list(rc->rss, obj_namespace(pod)), *rs;
	size_t i;

	json_array_foreach(all, i, rs)
		if (selector_matches_labels(obj_get(rs, "spec.selector"), obj_get(pod, "metadata.labels"), true))
			controller_enqueue_obj(&rc->c, rs);
	json_decref(all);
}

static void on_rs_add(json_t *obj, void *data)
{
	struct rs_controller *rc = data;

	controller_enqueue_obj(&rc->c, obj);
}

static void on_rs_update(json_t *old_obj, json_t *new_obj, void *data)
{
	struct rs_controller *rc = data;

	(void)old_obj;
	controller_enqueue_obj(&rc->c, new_obj);
}

static void on_rs_delete(json_t *obj, void *data)
{
	struct rs_controller *rc = data;
	char *key = obj_key(obj);

	expectations_delete(rc, key);
	controller_enqueue(&rc->c, key);
	free(key);
}

static void pod_gone(struct rs_controller *rc, json_t *pod)
{
	json_t *rs = resolve_ref(rc, obj_namespace(pod), controller_ref_of(pod));
	char *key, *pod_key;

	if (!rs)
		return;
	key = obj_key(rs);
	pod_key = obj_key(pod);
	deletion_observed(rc, key, pod_key);
	controller_enqueue(&rc->c, key);
	free(pod_key);
	free(key);
}

static void on_pod_add(json_t *pod, void *data)
{
	struct rs_controller *rc = data;
	json_t *ref = controller_ref_of(pod), *rs;
	char *key;

	if (obj_deleting(pod)) {
		/* Seen for the first time already terminating (e.g. after a relist). */
		pod_gone(rc, pod);
		return;
	}
	if (ref) {
		if (!(rs = resolve_ref(rc, obj_namespace(pod), ref)))
			return;
		key = obj_key(rs);
		creation_observed(rc, key);
		controller_enqueue(&rc->c, key);
		free(key);
		return;
	}
	enqueue_selecting(rc, pod);
}

static bool same_uid(const json_t *a, const json_t *b)
{
	const char *x = obj_str(a, "uid"), *y = obj_str(b, "uid");

	if (!x || !y)
		return !x && !y;
	return !strcmp(x, y);
}

static void on_pod_update(json_t *old_pod, json_t *pod, void *data)
{
	struct rs_controller *rc = data;
	json_t *old_ref = controller_ref_of(old_pod), *ref = controller_ref_of(pod), *rs;
	bool labels_changed = !json_equal_or_empty(obj_get(old_pod, "metadata.labels"), obj_get(pod, "metadata.labels"));
	bool ref_changed = !same_uid(old_ref, ref);

	if (obj_deleting(pod)) {
		/* A graceful delete: count it as gone now, as Kubernetes does, so the
		 * replacement starts at once. The later DELETED event is a no-op. */
		if (!obj_deleting(old_pod))
			pod_gone(rc, pod);
		else
			controller_enqueue_obj(&rc->c, resolve_ref(rc, obj_namespace(pod), ref));
		return;
	}
	if (ref_changed && old_ref && (rs = resolve_ref(rc, obj_namespace(old_pod), old_ref)))
		controller_enqueue_obj(&rc->c, rs);
	if (ref) {
		if (!(rs = resolve_ref(rc, obj_namespace(pod), ref)))
			return;
		controller_enqueue_obj(&rc->c, rs);
		/* Ready now: it becomes available minReadySeconds later; look again then. */
		int64_t mrs = obj_int(rs, "spec.minReadySeconds", 0);
		if (mrs > 0 && !pod_is_ready(old_pod) && pod_is_ready(pod)) {
			char *key = obj_key(rs);
			controller_enqueue_after(&rc->c, key, (uint64_t)mrs * 1000 + 1000);
			free(key);
		}
		return;
	}
	if (labels_changed || ref_changed)
		enqueue_selecting(rc, pod);
}

static void on_pod_delete(json_t *pod, void *data)
{
	pod_gone(data, pod);
}

/* ---- choosing pods to delete ----------------------------------------------------- */

struct ranked_pod {
	json_t *pod;
	int rank;          /* related pods on the same node */
	time_t now;
};

static int phase_order(const json_t *pod)
{
	const char *p = obj_str(pod, "status.phase");

	if (!p || !strcmp(p, "Pending"))
		return 0;
	if (!strcmp(p, "Unknown"))
		return 1;
	return 2;
}

static time_t ready_since(const json_t *pod)
{
	json_t *c = condition_get(pod, "Ready");
	time_t t = 0;

	if (c && obj_str(c, "lastTransitionTime"))
		time_parse_rfc3339(obj_str(c, "lastTransitionTime"), &t);
	return t;
}

static int64_t restarts(const json_t *pod)
{
	int64_t max = 0;
	json_t *cs;
	size_t i;

	json_array_foreach(obj_get(pod, "status.containerStatuses"), i, cs)
		if (obj_int(cs, "restartCount", 0) > max)
			max = obj_int(cs, "restartCount", 0);
	return max;
}

/* Kubernetes' LogarithmicScaleDown: ages compare by powers of two. */
static int log_bucket(time_t now, time_t t)
{
	double age = (double)(now - t);

	return age < 1 ? 0 : (int)floor(log2(age)) + 1;
}

/* Negative when a is more expendable than b (deleted first). */
static int ranked_cmp(const void *pa, const void *pb)
{
	const struct ranked_pod *a = pa, *b = pb;
	const char *na = obj_str(a->pod, "spec.nodeName"), *nb = obj_str(b->pod, "spec.nodeName");
	bool aa = na && *na, ab = nb && *nb;
	int d;

	if (aa != ab)
		return aa ? 1 : -1;
	if ((d = phase_order(a->pod) - phase_order(b->pod)))
		return d;
	if (pod_is_ready(a->pod) != pod_is_ready(b->pod))
		return pod_is_ready(a->pod) ? 1 : -1;
	{
		const char *ca = obj_annotation(a->pod, DELETION_COST_ANNOTATION);
		const char *cb = obj_annotation(b->pod, DELETION_COST_ANNOTATION);
		long long xa = ca ? atoll(ca) : 0, xb = cb ? atoll(cb) : 0;
		if (xa != xb)
			return xa < xb ? -1 : 1;
	}
	if (a->rank != b->rank)
		return a->rank > b->rank ? -1 : 1;
	if (pod_is_ready(a->pod) && pod_is_ready(b->pod)) {
		int la = log_bucket(a->now, ready_since(a->pod)), lb = log_bucket(b->now, ready_since(b->pod));
		if (la != lb)
			return la < lb ? -1 : 1;
	}
	if (restarts(a->pod) != restarts(b->pod))
		return restarts(a->pod) > restarts(b->pod) ? -1 : 1;
	{
		int la = log_bucket(a->now, obj_created(a->pod)), lb = log_bucket(b->now, obj_created(b->pod));
		if (la != lb)
			return la < lb ? -1 : 1;
	}
	return strcmp(obj_name(a->pod) ? obj_name(a->pod) : "", obj_name(b->pod) ? obj_name(b->pod) : "");
}

/* Active pods of every ReplicaSet that shares rs's owner (its Deployment's
 * other revisions), for counting pods doubled up on a node. */
static json_t *related_pods(struct rs_controller *rc, const json_t *rs, const json_t *own)
{
	const char *owner = obj_str(controller_ref_of(rs), "uid");
	json_t *out, *siblings, *sib;
	size_t i;

	if (!owner)
		return json_incref((json_t *)own);
	out = json_array();
	siblings = lister_by_index(rc->rss, "owner", owner);
	json_array_foreach(siblings, i, sib) {
		json_t *pods = lister_by_index(rc->pods, "owner", obj_str(sib, "metadata.uid")), *p;
		size_t j;
		json_array_foreach(pods, j, p)
			if (pod_is_active(p))
				json_array_append(out, p);
		json_decref(pods);
	}
	json_decref(siblings);
	return out;
}

static json_t *pods_to_delete(struct rs_controller *rc, const json_t *rs, const json_t *pods, size_t n)
{
	size_t count = json_array_size(pods), i;
	struct ranked_pod *rp = xcalloc(count ? count : 1, sizeof(*rp));
	json_t *related = related_pods(rc, rs, pods), *on_node = json_object(), *p, *out = json_array();
	time_t now = ctx_now_s(rc->c.ctx);

	json_array_foreach(related, i, p) {
		const char *node = obj_str(p, "spec.nodeName");
		if (node && *node)
			json_object_set_new(on_node, node,
					    json_integer(json_integer_value(json_object_get(on_node, node)) + 1));
	}
	json_array_foreach(pods, i, p) {
		const char *node = obj_str(p, "spec.nodeName");
		rp[i].pod = p;
		rp[i].now = now;
		rp[i].rank = node && *node ? (int)json_integer_value(json_object_get(on_node, node)) : 0;
	}
	qsort(rp, count, sizeof(*rp), ranked_cmp);
	for (i = 0; i < n && i < count; i++)
		json_array_append(out, rp[i].pod);
	free(rp);
	json_decref(on_node);
	json_decref(related);
	return out;
}

/* ---- sync ------------------------------------------------------------------------ */

struct rs_sync {
	struct rs_controller *rc;
	json_t *rs;
	struct label_selector *sel;
	json_t *claimed;       /* active pods this ReplicaSet owns */
	bool needs_manage;
	int64_t to_create;     /* creates not started yet */
	int64_t batch;         /* size of the next slow-start batch */
	bool create_failed;
	char *manage_error;    /* for the ReplicaFailure condition */
	const char *manage_reason;
};

static void free_rs_sync(void *p)
{
	struct rs_sync *st = p;

	json_decref(st->rs);
	json_decref(st->claimed);
	label_selector_free(st->sel);
	free(st->manage_error);
	free(st);
}

static void set_manage_error(struct rs_sync *st, const char *reason, const char *msg)
{
	if (st->manage_error)
		return;
	st->manage_reason = reason;
	st->manage_error = xstrdup(msg ? msg : "unknown error");
}

static void rs_status(struct sync *s);
static void rs_create_batch(struct sync *s);

/* The pod a ReplicaSet's template describes (GetPodFromTemplate). */
static json_t *pod_from_template(const json_t *rs)
{
	json_t *tmpl = obj_get(rs, "spec.template"), *pod = json_object(), *md = json_object(), *v;
	char *gen = xasprintf("%s-", obj_name(rs));

	json_object_set_new(pod, "apiVersion", json_string("v1"));
	json_object_set_new(pod, "kind", json_string("Pod"));
	json_object_set_new(md, "generateName", json_string(gen));
	json_object_set_new(md, "namespace", json_string(obj_namespace(rs)));
	if ((v = obj_get(tmpl, "metadata.labels")))
		json_object_set_new(md, "labels", json_deep_copy(v));
	if ((v = obj_get(tmpl, "metadata.annotations")))
		json_object_set_new(md, "annotations", json_deep_copy(v));
	if ((v = obj_get(tmpl, "metadata.finalizers")))
		json_object_set_new(md, "finalizers", json_deep_copy(v));
	json_object_set_new(md, "ownerReferences",
			    json_pack("[o]", controller_ref_new(rs, "apps/v1", "ReplicaSet")));
	json_object_set_new(pod, "metadata", md);
	v = obj_get(tmpl, "spec");
	json_object_set_new(pod, "spec", v ? json_deep_copy(v) : json_object());
	free(gen);
	return pod;
}

static int on_pod_created(struct sync *s, const struct api_result *r, void *data)
{
	struct rs_sync *st = data;
	struct rs_controller *rc = st->rc;

	if (!r->error) {
		event_record(rc->events, st->rs, "Normal", "SuccessfulCreate", "Created pod: %s",
			     obj_name(r->body) ? obj_name(r->body) : "");
		return 0;
	}
	creation_observed(rc, sync_key(s));
	if (r->status == 403 && r->error && strstr(r->error, "being terminated")) {
		/* The namespace is going away; nothing to retry. */
		st->create_failed = true;
		return 0;
	}
	event_record(rc->events, st->rs, "Warning", "FailedCreate", "Error creating: %s", r->error);
	set_manage_error(st, "FailedCreate", r->error);
	st->create_failed = true;
	log_warn("controller=replicaset key=%s cannot create pod: %s", sync_key(s), r->error);
	return -1;
}

static void rs_create_batch(struct sync *s)
{
	struct rs_sync *st = sync_data(s);
	int64_t n;
	char *path;
	json_t *pod;

	if (st->create_failed || sync_failed(s)) {
		/* Kubernetes stops at the first failing batch: the pods not tried
		 * will not show up, so expect them no more. */
		for (; st->to_create > 0; st->to_create--)
			creation_observed(st->rc, sync_key(s));
		rs_status(s);
		return;
	}
	if (st->to_create <= 0) {
		rs_status(s);
		return;
	}
	n = st->batch < st->to_create ? st->batch : st->to_create;
	st->to_create -= n;
	st->batch *= 2;
	pod = pod_from_template(st->rs);
	path = kind_path(&kind_pod, obj_namespace(st->rs), NULL, NULL);
	for (int64_t i = 0; i < n; i++)
		sync_create(s, path, pod, on_pod_created, st);
	free(path);
	json_decref(pod);
	sync_then(s, rs_create_batch);
}

struct delete_call {
	struct rs_sync *st;
	char *pod_key;
	char *pod_name;
};

static int on_pod_deleted(struct sync *s, const struct api_result *r, void *data)
{
	struct delete_call *dc = data;
	struct rs_sync *st = dc->st;
	int rc = 0;

	if (!r->error) {
		event_record(st->rc->events, st->rs, "Normal", "SuccessfulDelete", "Deleted pod: %s", dc->pod_name);
	} else {
		/* Gone already or not: either way the informer will not report a
		 * deletion we can count on. */
		deletion_observed(st->rc, sync_key(s), dc->pod_key);
		if (r->status != 404) {
			event_record(st->rc->events, st->rs, "Warning", "FailedDelete", "Error deleting: %s", r->error);
			set_manage_error(st, "FailedDelete", r->error);
			rc = sync_check(s, r);
		}
	}
	free(dc->pod_key);
	free(dc->pod_name);
	free(dc);
	return rc;
}

static void rs_manage(struct sync *s)
{
	struct rs_sync *st = sync_data(s);
	int64_t want = obj_int(st->rs, "spec.replicas", 1);
	int64_t have = (int64_t)json_array_size(st->claimed);
	int64_t diff = have - want;

	if (sync_failed(s))
		return;  /* adoption failed: retry the whole sync */
	if (!st->needs_manage || obj_deleting(st->rs) || diff == 0) {
		rs_status(s);
		return;
	}
	if (diff < 0) {
		struct rs_expectation *e;
		diff = -diff;
		if (diff > BURST_REPLICAS)
			diff = BURST_REPLICAS;
		e = expectations_set(st->rc, sync_key(s));
		e->adds = diff;
		log_debug("controller=replicaset key=%s too few replicas need=%lld creating=%lld", sync_key(s),
			  (long long)want, (long long)diff);
		st->to_create = diff;
		st->batch = 1;
		rs_create_batch(s);
		return;
	}
	if (diff > BURST_REPLICAS)
		diff = BURST_REPLICAS;
	{
		json_t *victims = pods_to_delete(st->rc, st->rs, st->claimed, (size_t)diff), *p;
		struct rs_expectation *e = expectations_set(st->rc, sync_key(s));
		size_t i;

		log_debug("controller=replicaset key=%s too many replicas need=%lld deleting=%lld", sync_key(s),
			  (long long)want, (long long)diff);
		json_array_foreach(victims, i, p) {
			char *k = obj_key(p);
			json_object_set_new(e->dels, k, json_true());
			free(k);
		}
		json_array_foreach(victims, i, p) {
			struct delete_call *dc = xcalloc(1, sizeof(*dc));
			char *path = kind_path(&kind_pod, obj_namespace(p), obj_name(p), NULL);
			dc->st = st;
			dc->pod_key = obj_key(p);
			dc->pod_name = xstrdup(obj_name(p));
			sync_delete(s, path, NULL, on_pod_deleted, dc);
			free(path);
		}
		json_decref(victims);
	}
	sync_then(s, rs_status);
}

static bool labels_superset(const json_t *labels, const json_t *want)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)want, k, v)
		if (!json_equal(json_object_get(labels, k), v))
			return false;
	return true;
}

/* Sets key to n, leaving it out when zero (Go's omitempty). */
static void set_count(json_t *status, const char *key, int64_t n, bool omit_zero)
{
	if (n || !omit_zero)
		json_object_set_new(status, key, json_integer(n));
}

/* The status the ReplicaSet should have (calculateStatus). New reference. */
static json_t *compute_status(struct rs_sync *st, time_t now_s, const char *now)
{
	const json_t *rs = st->rs, *tmpl_labels = obj_get(rs, "spec.template.metadata.labels");
	int64_t min_ready = obj_int(rs, "spec.minReadySeconds", 0);
	int64_t labeled = 0, ready = 0, available = 0;
	json_t *status = json_object(), *pod, *conds, *old = obj_get(rs, "status.conditions");
	size_t i;

	json_array_foreach(st->claimed, i, pod) {
		if (labels_superset(obj_get(pod, "metadata.labels"), tmpl_labels))
			labeled++;
		if (pod_is_ready(pod)) {
			ready++;
			if (pod_is_available(pod, min_ready, now_s))
				available++;
		}
	}
	set_count(status, "replicas", (int64_t)json_array_size(st->claimed), false);
	set_count(status, "fullyLabeledReplicas", labeled, true);
	set_count(status, "readyReplicas", ready, true);
	set_count(status, "availableReplicas", available, true);
	set_count(status, "observedGeneration", obj_int(rs, "metadata.generation", 0), true);
	conds = json_is_array(old) ? json_deep_copy(old) : json_array();
	if (st->manage_error)
		condition_set(conds, "ReplicaFailure", "True", st->manage_reason, st->manage_error, now, false, true);
	else
		condition_remove(conds, "ReplicaFailure");
	if (json_array_size(conds))
		json_object_set_new(status, "conditions", conds);
	else
		json_decref(conds);
	return status;
}

static void rs_status(struct sync *s)
{
	struct rs_sync *st = sync_data(s);
	struct rs_controller *rc = st->rc;
	char now[TIME_RFC3339_LEN];
	json_t *status, *old = obj_get(st->rs, "status");
	int64_t want = obj_int(st->rs, "spec.replicas", 1), min_ready = obj_int(st->rs, "spec.minReadySeconds", 0);

	ctx_now_rfc3339(rc->c.ctx, now);
	status = compute_status(st, ctx_now_s(rc->c.ctx), now);
	if (!json_equal_or_empty(status, old)) {
		json_t *patch_status = json_deep_copy(status), *v;
		const char *k;
		char *path = kind_path(&kind_replicaset, obj_namespace(st->rs), obj_name(st->rs), "status");
		/* A merge patch: what the old status had and the new one drops is null. */
		json_object_foreach(old, k, v)
			if (!json_object_get(status, k))
				json_object_set_new(patch_status, k, json_null());
		json_t *patch = json_pack("{s:o}", "status", patch_status);
		log_debug("controller=replicaset key=%s status replicas=%lld ready=%lld available=%lld", sync_key(s),
			  (long long)obj_int(status, "replicas", 0), (long long)obj_int(status, "readyReplicas", 0),
			  (long long)obj_int(status, "availableReplicas", 0));
		sync_merge_patch(s, path, patch, NULL, NULL);
		json_decref(patch);
		free(path);
	}
	/* Pods that are ready but not yet available become so later. */
	if (min_ready > 0 && obj_int(status, "readyReplicas", 0) == want &&
	    obj_int(status, "availableReplicas", 0) != want)
		sync_requeue_after(s, (uint64_t)min_ready * 1000);
	json_decref(status);
}

static int rs_sync(struct controller *c, const char *key, struct sync *s)
{
	struct rs_controller *rc = c->priv;
	json_t *rs = lister_get(rc->rss, key), *owned, *orphans, *candidates, *p;
	struct rs_sync *st;
	char orphan_key[300];
	char *err = NULL;
	size_t i;

	if (!rs) {
		log_debug("controller=replicaset key=%s has been deleted", key);
		expectations_delete(rc, key);
		return 0;
	}
	st = xcalloc(1, sizeof(*st));
	st->rc = rc;
	st->rs = json_incref(rs);
	st->claimed = json_array();
	sync_set_data(s, st, free_rs_sync);
	if (label_selector_from_json(obj_get(rs, "spec.selector"), &st->sel, &err) < 0) {
		log_warn("controller=replicaset key=%s has an invalid selector: %s", key, err);
		free(err);
		return 0;
	}
	st->needs_manage = expectations_satisfied(rc, key);

	/* Candidates: its own pods and the orphans of its namespace, active ones only. */
	owned = lister_by_index(rc->pods, "owner", obj_str(rs, "metadata.uid"));
	snprintf(orphan_key, sizeof(orphan_key), "orphan/%s", obj_namespace(rs) ? obj_namespace(rs) : "");
	orphans = lister_by_index(rc->pods, "owner", orphan_key);
	candidates = json_array();
	json_array_foreach(owned, i, p)
		if (pod_is_active(p))
			json_array_append(candidates, p);
	json_array_foreach(orphans, i, p)
		if (pod_is_active(p))
			json_array_append(candidates, p);
	controller_claim(s, rs, "apps/v1", "ReplicaSet", &kind_pod, candidates, st->sel, st->claimed);
	json_decref(candidates);
	json_decref(owned);
	json_decref(orphans);
	sync_then(s, rs_manage);
	return 0;
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static int rs_init(struct controller_context *ctx, void **state)
{
	struct rs_controller *rc = xcalloc(1, sizeof(*rc));
	struct informer_handlers rsh = { on_rs_add, on_rs_update, on_rs_delete, rc };
	struct informer_handlers ph = { on_pod_add, on_pod_update, on_pod_delete, rc };

	controller_init(&rc->c, ctx, "replicaset", ctx->opts->concurrent_replicaset_syncs, rs_sync, rc);
	rc->pods = controller_lister(ctx, &kind_pod);
	rc->rss = controller_lister(ctx, &kind_replicaset);
	rc->expectations = keymap_new();
	rc->events = controller_recorder(ctx, COMPONENT);
	lister_add_handlers(rc->rss, &rsh);
	lister_add_handlers(rc->pods, &ph);
	*state = rc;
	return 0;
}

static void rs_start(void *state)
{
	struct rs_controller *rc = state;

	controller_run(&rc->c);
}

static void rs_free(void *state)
{
	struct rs_controller *rc = state;

	keymap_free(rc->expectations, free_expectation);
	free(rc);
}

static void rs_stop(void *state, void (*done)(void *), void *arg)
{
	struct rs_controller *rc = state;

	controller_stop_and_free(&rc->c, rs_free, rc, done, arg);
}

static struct controller *rs_controller(void *state)
{
	return &((struct rs_controller *)state)->c;
}

const struct controller_def replicaset_controller_def = {
	.name = "replicaset-controller",
	.alias = "replicaset",
	.init = rs_init,
	.start = rs_start,
	.stop = rs_stop,
	.controller = rs_controller,
};
