/*
 * The Namespace controller, as Kubernetes' pkg/controller/namespace: when a
 * Namespace is deleted the apiserver only marks it Terminating (its
 * spec.finalizers hold "kubernetes"); this controller then deletes every
 * object in it, kind by kind (a deletecollection per namespaced kind of the
 * kinds registry), lists what is left, reports progress in the Namespace's
 * conditions (NamespaceContentRemaining, ...), and when nothing is left
 * removes "kubernetes" through PUT .../finalize, after which the apiserver
 * deletes the Namespace. Pods that take a grace period to stop are waited
 * for.
 */
#include "controller/controller.h"
#include "apiserver/kinds.h"
#include "log.h"
#include "object.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FINALIZER "kubernetes"
/* Recheck at least this often while graceful pods finish. */
#define MAX_WAIT_MS 5000

struct ns_controller {
	struct controller c;
	struct lister *nss;
};

struct ns_kind_state {
	const struct kind *k;
	int64_t remaining;
	bool failed;
	char *error;
};

struct ns_sync {
	struct ns_controller *nc;
	json_t *ns;
	struct ns_kind_state *kinds;
	size_t nkinds;
	int64_t estimate_s;          /* longest grace period of remaining pods */
	json_t *finalizers;          /* finalizer -> count of objects holding it */
};

static bool holds_finalizer(const json_t *ns)
{
	json_t *f;
	size_t i;

	json_array_foreach(obj_get(ns, "spec.finalizers"), i, f)
		if (json_is_string(f) && !strcmp(json_string_value(f), FINALIZER))
			return true;
	return false;
}

static void on_ns_change(json_t *ns, void *data)
{
	struct ns_controller *nc = data;

	if (obj_deleting(ns))
		controller_enqueue_obj(&nc->c, ns);
}

static void on_ns_add(json_t *obj, void *data)
{
	on_ns_change(obj, data);
}

static void on_ns_update(json_t *old_obj, json_t *new_obj, void *data)
{
	(void)old_obj;
	on_ns_change(new_obj, data);
}

/* A pod of a terminating namespace went: maybe it was the last one. */
static void on_pod_delete(json_t *pod, void *data)
{
	struct ns_controller *nc = data;
	json_t *ns = lister_get(nc->nss, obj_namespace(pod) ? obj_namespace(pod) : "");

	if (ns && obj_deleting(ns))
		controller_enqueue_obj(&nc->c, ns);
}

static void free_ns_sync(void *p)
{
	struct ns_sync *st = p;

	for (size_t i = 0; i < st->nkinds; i++)
		free(st->kinds[i].error);
	free(st->kinds);
	json_decref(st->ns);
	json_decref(st->finalizers);
	free(st);
}

static const char *group_resource(const struct kind *k, char *buf, size_t len)
{
	if (k->group && *k->group)
		snprintf(buf, len, "%s.%s", k->plural, k->group);
	else
		snprintf(buf, len, "%s", k->plural);
	return buf;
}

static int on_collection_deleted(struct sync *s, const struct api_result *r, void *data)
{
	struct ns_kind_state *ks = data;

	/* 404/405: nothing of that kind, or it cannot be deleted in bulk here. */
	if (r->error && r->status != 404 && r->status != 405) {
		ks->failed = true;
		free(ks->error);
		ks->error = xstrdup(r->error);
		log_warn("controller=namespace namespace=%s cannot delete %s: %s", sync_key(s), ks->k->plural, r->error);
	}
	return 0;
}

static int on_listed(struct sync *s, const struct api_result *r, void *data)
{
	struct ns_kind_state *ks = data;
	struct ns_sync *st = sync_data(s);
	json_t *item, *f;
	size_t i, j;

	if (r->error) {
		if (r->status == 404)
			return 0;
		ks->failed = true;
		ks->remaining = -1;
		free(ks->error);
		ks->error = xstrdup(r->error);
		return 0;
	}
	ks->remaining = (int64_t)json_array_size(obj_get(r->body, "items"));
	json_array_foreach(obj_get(r->body, "items"), i, item) {
		json_array_foreach(obj_get(item, "metadata.finalizers"), j, f)
			if (json_is_string(f))
				json_object_set_new(st->finalizers, json_string_value(f),
						    json_integer(json_integer_value(json_object_get(
								 st->finalizers, json_string_value(f))) + 1));
		if (ks->k == &kind_pod && !pod_is_terminal(item)) {
			int64_t g = obj_int(item, "metadata.deletionGracePeriodSeconds",
					    obj_int(item, "spec.terminationGracePeriodSeconds", 30));
			if (g > st->estimate_s)
				st->estimate_s = g;
		}
	}
	return 0;
}

/* The five conditions Kubernetes keeps on a terminating Namespace. */
static json_t *conditions_for(struct ns_sync *st, const char *now)
{
	json_t *conds = json_deep_copy(obj_get(st->ns, "status.conditions"));
	struct strbuf remaining, failures, fins;
	int nfailed = 0;
	char gr[128];
	const char *k;
	json_t *v;

	if (!json_is_array(conds)) {
		json_decref(conds);
		conds = json_array();
	}
	strbuf_init(&remaining, 64);
	strbuf_init(&failures, 64);
	strbuf_init(&fins, 64);
	for (size_t i = 0; i < st->nkinds; i++) {
		struct ns_kind_state *ks = &st->kinds[i];
		if (ks->remaining > 0)
			strbuf_addf(&remaining, "%s%s has %lld resource instances", remaining.len ? ", " : "",
				    group_resource(ks->k, gr, sizeof(gr)), (long long)ks->remaining);
		if (ks->failed) {
			nfailed++;
			strbuf_addf(&failures, "%s%s", failures.len ? ", " : "", ks->error ? ks->error : "");
		}
	}
	json_object_foreach(st->finalizers, k, v)
		strbuf_addf(&fins, "%s%s in %lld resource instances", fins.len ? ", " : "", k,
			    (long long)json_integer_value(v));
	condition_set(conds, "NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered",
		      "All resources successfully discovered", now, false, false);
	condition_set(conds, "NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
		      "All legacy kube types successfully parsed", now, false, false);
	if (nfailed) {
		char *m = xasprintf("Failed to delete all resource types, %d remaining: %s", nfailed, failures.buf);
		condition_set(conds, "NamespaceDeletionContentFailure", "True", "ContentDeletionFailed", m, now, false, false);
		free(m);
	} else {
		condition_set(conds, "NamespaceDeletionContentFailure", "False", "ContentDeleted",
			      "All content successfully deleted, may be waiting on finalization", now, false, false);
	}
	if (remaining.len) {
		char *m = xasprintf("Some resources are remaining: %s", remaining.buf);
		condition_set(conds, "NamespaceContentRemaining", "True", "SomeResourcesRemain", m, now, false, false);
		free(m);
	} else {
		condition_set(conds, "NamespaceContentRemaining", "False", "ContentRemoved",
			      "All content successfully removed", now, false, false);
	}
	if (fins.len) {
		char *m = xasprintf("Some content in the namespace has finalizers remaining: %s", fins.buf);
		condition_set(conds, "NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain", m, now, false, false);
		free(m);
	} else {
		condition_set(conds, "NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers",
			      "All content-preserving finalizers finished", now, false, false);
	}
	strbuf_release(&remaining);
	strbuf_release(&failures);
	strbuf_release(&fins);
	return conds;
}

static int on_finalized(struct sync *s, const struct api_result *r, void *data)
{
	(void)data;
	if (!r->error || r->status == 404) {
		if (!r->error)
			log_info("controller=namespace namespace=%s finalized: every object is gone", sync_key(s));
		return 0;
	}
	return sync_check(s, r);
}

static void ns_decide(struct sync *s)
{
	struct ns_sync *st = sync_data(s);
	int64_t left = 0;
	bool failed = false;
	char now[TIME_RFC3339_LEN];
	json_t *conds;

	for (size_t i = 0; i < st->nkinds; i++) {
		if (st->kinds[i].remaining != 0)
			left += st->kinds[i].remaining > 0 ? st->kinds[i].remaining : 1;
		failed |= st->kinds[i].failed;
	}
	if (left == 0 && !failed) {
		json_t *body = json_deep_copy(st->ns), *fins = json_array(), *f;
		size_t i;
		char *path = kind_path(&kind_namespace, NULL, obj_name(st->ns), "finalize");
		json_array_foreach(obj_get(st->ns, "spec.finalizers"), i, f)
			if (!json_is_string(f) || strcmp(json_string_value(f), FINALIZER))
				json_array_append(fins, f);
		obj_set(body, "spec.finalizers", fins);
		sync_update(s, path, body, on_finalized, NULL);
		json_decref(body);
		free(path);
		return;
	}
	ctx_now_rfc3339(st->nc->c.ctx, now);
	conds = conditions_for(st, now);
	if (!json_equal_or_empty(conds, obj_get(st->ns, "status.conditions"))) {
		char *path = kind_path(&kind_namespace, NULL, obj_name(st->ns), "status");
		json_t *patch = json_pack("{s:{s:O}}", "status", "conditions", conds);
		sync_merge_patch(s, path, patch, NULL, NULL);
		json_decref(patch);
		free(path);
	}
	json_decref(conds);
	log_debug("controller=namespace namespace=%s objects remaining=%lld estimate=%llds", sync_key(s),
		  (long long)left, (long long)st->estimate_s);
	if (!failed && st->estimate_s > 0)
		sync_requeue_after(s, st->estimate_s * 1000 < MAX_WAIT_MS ? (uint64_t)st->estimate_s * 1000 : MAX_WAIT_MS);
	else
		sync_fail(s);  /* retry with backoff */
}

static void ns_list(struct sync *s)
{
	struct ns_sync *st = sync_data(s);

	for (size_t i = 0; i < st->nkinds; i++) {
		char *path = kind_path(st->kinds[i].k, obj_name(st->ns), NULL, NULL);
		sync_call(s, "GET", path, NULL, NULL, on_listed, &st->kinds[i]);
		free(path);
	}
	sync_then(s, ns_decide);
}

static int ns_sync(struct controller *c, const char *key, struct sync *s)
{
	struct ns_controller *nc = c->priv;
	json_t *ns = lister_get(nc->nss, key);
	struct ns_sync *st;
	size_t n = 0;

	if (!ns || !obj_deleting(ns) || !holds_finalizer(ns))
		return 0;
	st = xcalloc(1, sizeof(*st));
	st->nc = nc;
	st->ns = json_incref(ns);
	st->finalizers = json_object();
	for (size_t i = 0; kinds[i]; i++)
		if (kinds[i]->namespaced)
			n++;
	st->kinds = xcalloc(n, sizeof(*st->kinds));
	for (size_t i = 0; kinds[i]; i++)
		if (kinds[i]->namespaced)
			st->kinds[st->nkinds++].k = kinds[i];
	sync_set_data(s, st, free_ns_sync);
	log_debug("controller=namespace namespace=%s deleting its content", key);
	for (size_t i = 0; i < st->nkinds; i++) {
		char *path = kind_path(st->kinds[i].k, key, NULL, NULL);
		sync_call(s, "DELETE", path, NULL, NULL, on_collection_deleted, &st->kinds[i]);
		free(path);
	}
	sync_then(s, ns_list);
	return 0;
}

static int ns_init(struct controller_context *ctx, void **state)
{
	struct ns_controller *nc = xcalloc(1, sizeof(*nc));
	struct informer_handlers nh = { on_ns_add, on_ns_update, NULL, nc };
	struct informer_handlers ph = { NULL, NULL, on_pod_delete, nc };

	controller_init(&nc->c, ctx, "namespace", ctx->opts->concurrent_namespace_syncs, ns_sync, nc);
	/* Kubernetes' namespace queue backs off from 5 ms to 60 s; 10 s keeps a class waiting less. */
	workqueue_set_backoff(nc->c.queue, 5, 10000);
	nc->nss = controller_lister(ctx, &kind_namespace);
	lister_add_handlers(nc->nss, &nh);
	lister_add_handlers(controller_lister(ctx, &kind_pod), &ph);
	*state = nc;
	return 0;
}

static void ns_start(void *state)
{
	controller_run(&((struct ns_controller *)state)->c);
}

static void ns_stop(void *state, void (*done)(void *), void *arg)
{
	struct ns_controller *nc = state;

	controller_stop_and_free(&nc->c, free, nc, done, arg);
}

static struct controller *ns_controller_of(void *state)
{
	return &((struct ns_controller *)state)->c;
}

const struct controller_def namespace_controller_def = {
	.name = "namespace-controller",
	.alias = "namespace",
	.init = ns_init,
	.start = ns_start,
	.stop = ns_stop,
	.controller = ns_controller_of,
};
