/*
 * The garbage collector, as Kubernetes' pkg/controller/garbagecollector: it
 * watches every kind of the kinds registry (Events aside) and keeps a
 * graph of ownerReferences, uid -> node and owner uid -> dependents. The
 * graph is the one piece of state its handlers update themselves (as
 * Kubernetes' GraphBuilder does); decisions happen in sync(uid):
 *   - background: a dependent whose owners are all gone is deleted;
 *   - foreground: an owner marked with the foregroundDeletion finalizer
 *     gets its dependents deleted and loses the finalizer once no
 *     dependent with blockOwnerDeletion is left;
 *   - orphan: an owner with the orphan finalizer has its ownerReference
 *     removed from every dependent, then loses the finalizer.
 * An owner missing from the graph is looked up with a GET before anything
 * is deleted (the caches of different kinds are not in step); owners found
 * absent are remembered so a ReplicaSet's 500 pods cost one GET.
 */
#include "controller/controller.h"
#include "apiserver/kinds.h"
#include "log.h"
#include "object.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ABSENT_CACHE_MAX 500

struct gc_owner {
	char *uid, *api_version, *kind, *name;
	bool block;
};

struct gc_node {
	char *uid;
	const struct kind *kind;
	char *ns, *name;
	bool deleting, fg, orphan;
	struct gc_owner *owners;
	size_t nowners;
};

struct gc_deps {
	char **uids;
	size_t n, cap;
};

struct gc_controller;

struct gc_watch {
	struct gc_controller *gc;
	const struct kind *kind;
	struct lister *l;
};

struct gc_controller {
	struct controller c;
	struct keymap *nodes;   /* uid -> gc_node */
	struct keymap *deps;    /* owner uid -> gc_deps */
	struct keymap *absent;  /* owner uids verified gone -> (void *)1 */
	struct gc_watch *watches;
	size_t nwatches;
};

/* ---- the graph ----------------------------------------------------------------------- */

static void free_owners(struct gc_node *n)
{
	for (size_t i = 0; i < n->nowners; i++) {
		free(n->owners[i].uid);
		free(n->owners[i].api_version);
		free(n->owners[i].kind);
		free(n->owners[i].name);
	}
	free(n->owners);
	n->owners = NULL;
	n->nowners = 0;
}

static void free_node(void *p)
{
	struct gc_node *n = p;

	if (!n)
		return;
	free_owners(n);
	free(n->uid);
	free(n->ns);
	free(n->name);
	free(n);
}

static void free_deps(void *p)
{
	struct gc_deps *d = p;

	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->uids[i]);
	free(d->uids);
	free(d);
}

static void deps_add(struct gc_controller *gc, const char *owner, const char *dep)
{
	struct gc_deps *d = keymap_get(gc->deps, owner);

	if (!d) {
		d = xcalloc(1, sizeof(*d));
		keymap_put(gc->deps, owner, d);
	}
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->uids[i], dep))
			return;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 4;
		d->uids = xrealloc(d->uids, d->cap * sizeof(*d->uids));
	}
	d->uids[d->n++] = xstrdup(dep);
}

static void deps_remove(struct gc_controller *gc, const char *owner, const char *dep)
{
	struct gc_deps *d = keymap_get(gc->deps, owner);

	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		if (!strcmp(d->uids[i], dep)) {
			free(d->uids[i]);
			d->uids[i] = d->uids[--d->n];
			break;
		}
	}
	if (!d->n)
		free_deps(keymap_del(gc->deps, owner));
}

/* Whether refs names the same owners (uid and blockOwnerDeletion) as n has. */
static bool same_owners(const struct gc_node *n, const json_t *refs)
{
	json_t *r;
	size_t i, k = 0;

	json_array_foreach(refs, i, r) {
		const char *uid = obj_str(r, "uid");
		if (!uid || !*uid)
			continue;
		if (k >= n->nowners || strcmp(n->owners[k].uid, uid) ||
		    n->owners[k].block != obj_bool(r, "blockOwnerDeletion", false))
			return false;
		k++;
	}
	return k == n->nowners;
}

static void set_owners(struct gc_controller *gc, struct gc_node *n, const json_t *obj)
{
	json_t *refs = obj_get(obj, "metadata.ownerReferences"), *r;
	size_t i;

	/* Most updates (pod status) leave the owners alone: keep the links. */
	if (same_owners(n, refs))
		return;
	for (i = 0; i < n->nowners; i++)
		deps_remove(gc, n->owners[i].uid, n->uid);
	free_owners(n);
	n->owners = xcalloc(json_array_size(refs) + 1, sizeof(*n->owners));
	json_array_foreach(refs, i, r) {
		const char *uid = obj_str(r, "uid");
		if (!uid || !*uid)
			continue;
		struct gc_owner *o = &n->owners[n->nowners++];
		o->uid = xstrdup(uid);
		o->api_version = xstrdup(obj_str(r, "apiVersion") ? obj_str(r, "apiVersion") : "");
		o->kind = xstrdup(obj_str(r, "kind") ? obj_str(r, "kind") : "");
		o->name = xstrdup(obj_str(r, "name") ? obj_str(r, "name") : "");
		o->block = obj_bool(r, "blockOwnerDeletion", false);
		deps_add(gc, uid, n->uid);
	}
}

static struct gc_node *node_upsert(struct gc_controller *gc, const struct kind *k, const json_t *obj)
{
	const char *uid = obj_str(obj, "metadata.uid");
	struct gc_node *n;

	if (!uid || !*uid)
		return NULL;
	n = keymap_get(gc->nodes, uid);
	if (!n) {
		n = xcalloc(1, sizeof(*n));
		n->uid = xstrdup(uid);
		n->kind = k;
		n->ns = xstrdup(obj_namespace(obj) ? obj_namespace(obj) : "");
		n->name = xstrdup(obj_name(obj) ? obj_name(obj) : "");
		keymap_put(gc->nodes, uid, n);
		/* It exists after all. */
		keymap_del(gc->absent, uid);
	}
	n->deleting = obj_deleting(obj);
	n->fg = obj_has_finalizer(obj, "foregroundDeletion");
	n->orphan = obj_has_finalizer(obj, "orphan");
	set_owners(gc, n, obj);
	return n;
}

static bool waiting_for_dependents(const struct gc_node *n)
{
	return n && n->deleting && n->fg;
}

/* Whether an object needs the collector's attention now. */
static bool needs_attention(struct gc_controller *gc, const struct gc_node *n)
{
	if (n->deleting && (n->fg || n->orphan))
		return true;
	for (size_t i = 0; i < n->nowners; i++) {
		struct gc_node *o = keymap_get(gc->nodes, n->owners[i].uid);
		if (!o || waiting_for_dependents(o))
			return true;
	}
	return false;
}

/* ---- handlers --------------------------------------------------------------------------- */

static void on_add(json_t *obj, void *data)
{
	struct gc_watch *w = data;
	struct gc_node *n = node_upsert(w->gc, w->kind, obj);

	if (n && needs_attention(w->gc, n))
		controller_enqueue(&w->gc->c, n->uid);
}

static void on_update(json_t *old_obj, json_t *obj, void *data)
{
	struct gc_watch *w = data;
	struct gc_controller *gc = w->gc;
	json_t *old_refs = obj_get(old_obj, "metadata.ownerReferences"), *r;
	struct gc_node *n = node_upsert(gc, w->kind, obj);
	size_t i;

	if (!n)
		return;
	if (needs_attention(gc, n))
		controller_enqueue(&gc->c, n->uid);
	/* An owner waiting for its dependents may have just lost one. */
	if (!json_equal_or_empty(old_refs, obj_get(obj, "metadata.ownerReferences")) || (obj_deleting(obj) && !obj_deleting(old_obj))) {
		json_array_foreach(old_refs, i, r) {
			struct gc_node *o = obj_str(r, "uid") ? keymap_get(gc->nodes, obj_str(r, "uid")) : NULL;
			if (waiting_for_dependents(o))
				controller_enqueue(&gc->c, o->uid);
		}
	}
}

static void on_delete(json_t *obj, void *data)
{
	struct gc_watch *w = data;
	struct gc_controller *gc = w->gc;
	const char *uid = obj_str(obj, "metadata.uid");
	struct gc_node *n = uid ? keymap_get(gc->nodes, uid) : NULL;
	struct gc_deps *d;

	if (!n)
		return;
	/* Its dependents may now be dangling; its owners may be waiting for it. */
	if ((d = keymap_get(gc->deps, uid)))
		for (size_t i = 0; i < d->n; i++)
			controller_enqueue(&gc->c, d->uids[i]);
	for (size_t i = 0; i < n->nowners; i++) {
		struct gc_node *o = keymap_get(gc->nodes, n->owners[i].uid);
		if (waiting_for_dependents(o))
			controller_enqueue(&gc->c, o->uid);
		deps_remove(gc, n->owners[i].uid, n->uid);
	}
	free_node(keymap_del(gc->nodes, uid));
}

/* ---- sync ------------------------------------------------------------------------------ */

enum owner_state { OWNER_UNKNOWN, OWNER_SOLID, OWNER_DANGLING, OWNER_WAITING };

struct gc_sync {
	struct gc_controller *gc;
	json_t *obj;
	const struct kind *kind;
	enum owner_state *states;   /* per ownerReference */
	size_t nrefs;
};

static void free_gc_sync(void *p)
{
	struct gc_sync *st = p;

	json_decref(st->obj);
	free(st->states);
	free(st);
}

static struct lister *lister_for(struct gc_controller *gc, const struct kind *k)
{
	for (size_t i = 0; i < gc->nwatches; i++)
		if (gc->watches[i].kind == k)
			return gc->watches[i].l;
	return NULL;
}

static void remember_absent(struct gc_controller *gc, const char *uid)
{
	if (keymap_size(gc->absent) >= ABSENT_CACHE_MAX) {
		keymap_free(gc->absent, NULL);
		gc->absent = keymap_new();
	}
	keymap_put(gc->absent, uid, (void *)1);
}

struct owner_get {
	struct gc_sync *st;
	size_t i;
};

static int on_owner_got(struct sync *s, const struct api_result *r, void *data)
{
	struct owner_get *og = data;
	struct gc_sync *st = og->st;
	const char *want = obj_str(json_array_get(obj_get(st->obj, "metadata.ownerReferences"), og->i), "uid");
	int rc = 0;

	if (!r->error) {
		const char *uid = obj_str(r->body, "metadata.uid");
		if (!uid || !want || strcmp(uid, want)) {
			st->states[og->i] = OWNER_DANGLING;   /* same name, another object */
			if (want)
				remember_absent(st->gc, want);
		} else if (obj_deleting(r->body) && obj_has_finalizer(r->body, "foregroundDeletion")) {
			st->states[og->i] = OWNER_WAITING;
		} else {
			st->states[og->i] = OWNER_SOLID;
		}
	} else if (r->status == 404) {
		st->states[og->i] = OWNER_DANGLING;
		if (want)
			remember_absent(st->gc, want);
	} else {
		rc = sync_check(s, r);
	}
	free(og);
	return rc;
}

static const char *delete_policy(const json_t *obj)
{
	if (obj_has_finalizer(obj, "orphan"))
		return "Orphan";
	if (obj_has_finalizer(obj, "foregroundDeletion"))
		return "Foreground";
	return "Background";
}

static void delete_item(struct sync *s, struct gc_sync *st, const char *policy)
{
	char *path = kind_path(st->kind, obj_namespace(st->obj), obj_name(st->obj), NULL);
	json_t *opts = json_pack("{s:s, s:s, s:s, s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1",
				 "propagationPolicy", policy, "preconditions", "uid", obj_str(st->obj, "metadata.uid"));

	log_info("controller=garbagecollector deleting %s %s%s%s: its owners are gone propagation=%s", st->kind->kind,
		 obj_namespace(st->obj) ? obj_namespace(st->obj) : "", obj_namespace(st->obj) ? "/" : "", obj_name(st->obj),
		 policy);
	sync_delete(s, path, opts, NULL, NULL);
	json_decref(opts);
	free(path);
}

/* Drops the ownerReferences whose uid is in uids (a NULL-terminated array) from obj. */
static void patch_owner_refs(struct sync *s, const struct kind *k, const json_t *obj, const char *const *uids,
			     bool unblock_only)
{
	json_t *refs, *patch;
	char *path;

	if (unblock_only) {
		json_t *r;
		size_t i;
		refs = json_deep_copy(obj_get(obj, "metadata.ownerReferences"));
		json_array_foreach(refs, i, r)
			if (obj_str(r, "uid") && !strcmp(obj_str(r, "uid"), uids[0]))
				json_object_set_new(r, "blockOwnerDeletion", json_false());
	} else {
		refs = owner_refs_without(obj, uids);
	}
	patch = json_pack("{s:{s:o, s:s}}", "metadata", "ownerReferences", refs, "resourceVersion",
			  obj_str(obj, "metadata.resourceVersion") ? obj_str(obj, "metadata.resourceVersion") : "");
	path = kind_path(k, obj_namespace(obj), obj_name(obj), NULL);
	sync_merge_patch(s, path, patch, NULL, NULL);
	json_decref(patch);
	free(path);
}

static void remove_finalizer(struct sync *s, struct gc_sync *st, const char *fin)
{
	json_t *fins = json_array(), *f, *patch;
	size_t i;
	char *path;

	json_array_foreach(obj_get(st->obj, "metadata.finalizers"), i, f)
		if (!json_is_string(f) || strcmp(json_string_value(f), fin))
			json_array_append(fins, f);
	patch = json_pack("{s:{s:o, s:s}}", "metadata", "finalizers", fins, "resourceVersion",
			  obj_str(st->obj, "metadata.resourceVersion") ? obj_str(st->obj, "metadata.resourceVersion") : "");
	path = kind_path(st->kind, obj_namespace(st->obj), obj_name(st->obj), NULL);
	log_info("controller=garbagecollector removing finalizer=%s from %s %s", fin, st->kind->kind, obj_name(st->obj));
	sync_merge_patch(s, path, patch, NULL, NULL);
	json_decref(patch);
	free(path);
}

/* The live object of a graph node (from its kind's cache), or NULL. */
static json_t *node_object(struct gc_controller *gc, const struct gc_node *n)
{
	struct lister *l = lister_for(gc, n->kind);
	json_t *o = l ? lister_get_ns(l, n->ns, n->name) : NULL;
	const char *uid = obj_str(o, "metadata.uid");

	return uid && !strcmp(uid, n->uid) ? o : NULL;
}

static void after_orphaning(struct sync *s)
{
	struct gc_sync *st = sync_data(s);

	if (!sync_failed(s))
		remove_finalizer(s, st, "orphan");
}

/* orphan: every dependent loses its reference to us, then we lose the finalizer. */
static void orphan_dependents(struct sync *s, struct gc_sync *st)
{
	const char *uid = obj_str(st->obj, "metadata.uid");
	struct gc_deps *d = keymap_get(st->gc->deps, uid);
	const char *uids[] = { uid, NULL };

	for (size_t i = 0; d && i < d->n; i++) {
		struct gc_node *dn = keymap_get(st->gc->nodes, d->uids[i]);
		json_t *dep = dn ? node_object(st->gc, dn) : NULL;
		if (dep)
			patch_owner_refs(s, dn->kind, dep, uids, false);
	}
	sync_then(s, after_orphaning);
}

/* foreground: delete dependents; drop the finalizer when none blocks. */
static void foreground(struct sync *s, struct gc_sync *st)
{
	const char *uid = obj_str(st->obj, "metadata.uid");
	struct gc_deps *d = keymap_get(st->gc->deps, uid);
	size_t blocking = 0;

	for (size_t i = 0; d && i < d->n; i++) {
		struct gc_node *dn = keymap_get(st->gc->nodes, d->uids[i]);
		if (!dn)
			continue;
		for (size_t j = 0; j < dn->nowners; j++)
			if (!strcmp(dn->owners[j].uid, uid) && dn->owners[j].block)
				blocking++;
		if (!dn->deleting)
			controller_enqueue(&st->gc->c, dn->uid);
	}
	if (!blocking)
		remove_finalizer(s, st, "foregroundDeletion");
	else
		log_debug("controller=garbagecollector %s %s waits for %zu dependents", st->kind->kind, obj_name(st->obj),
			  blocking);
}

static void after_unblock(struct sync *s)
{
	struct gc_sync *st = sync_data(s);

	if (!sync_failed(s))
		delete_item(s, st, "Foreground");
}

/* attemptToDeleteItem, once every owner has been classified. */
static void decide(struct sync *s)
{
	struct gc_sync *st = sync_data(s);
	const char *uid = obj_str(st->obj, "metadata.uid");
	size_t solid = 0, dangling = 0, waiting = 0, i;
	json_t *refs = obj_get(st->obj, "metadata.ownerReferences");

	if (sync_failed(s))
		return;
	for (i = 0; i < st->nrefs; i++) {
		solid += st->states[i] == OWNER_SOLID;
		dangling += st->states[i] == OWNER_DANGLING;
		waiting += st->states[i] == OWNER_WAITING;
	}
	if (solid) {
		const char **drop;
		size_t n = 0;
		if (!dangling && !waiting)
			return;
		drop = xcalloc(st->nrefs + 1, sizeof(*drop));
		for (i = 0; i < st->nrefs; i++)
			if (st->states[i] == OWNER_DANGLING || st->states[i] == OWNER_WAITING)
				drop[n++] = obj_str(json_array_get(refs, i), "uid");
		log_info("controller=garbagecollector %s %s keeps its other owners; dropping %zu references",
			 st->kind->kind, obj_name(st->obj), n);
		patch_owner_refs(s, st->kind, st->obj, drop, false);
		free(drop);
		return;
	}
	if (waiting) {
		struct gc_deps *d = keymap_get(st->gc->deps, uid);
		if (d && d->n) {
			/* Our owner waits for us and we have dependents: do not make it wait
			 * for them too (they go once we do), as Kubernetes unblocks them. */
			const char *uids[] = { uid, NULL };
			for (i = 0; i < d->n; i++) {
				struct gc_node *dn = keymap_get(st->gc->nodes, d->uids[i]);
				json_t *dep = dn ? node_object(st->gc, dn) : NULL;
				bool blocks = false;
				for (size_t j = 0; dn && j < dn->nowners; j++)
					blocks |= !strcmp(dn->owners[j].uid, uid) && dn->owners[j].block;
				if (dep && blocks)
					patch_owner_refs(s, dn->kind, dep, uids, true);
			}
			sync_then(s, after_unblock);
			return;
		}
	}
	delete_item(s, st, delete_policy(st->obj));
}

static int gc_sync(struct controller *c, const char *uid, struct sync *s)
{
	struct gc_controller *gc = c->priv;
	struct gc_node *n = keymap_get(gc->nodes, uid);
	json_t *obj = n ? node_object(gc, n) : NULL, *refs, *r;
	struct gc_sync *st;
	size_t i;

	if (!obj)
		return 0;
	st = xcalloc(1, sizeof(*st));
	st->gc = gc;
	st->obj = json_incref(obj);
	st->kind = n->kind;
	sync_set_data(s, st, free_gc_sync);
	if (obj_deleting(obj)) {
		if (obj_has_finalizer(obj, "orphan"))
			orphan_dependents(s, st);
		else if (obj_has_finalizer(obj, "foregroundDeletion"))
			foreground(s, st);
		return 0;
	}
	refs = obj_get(obj, "metadata.ownerReferences");
	st->nrefs = json_array_size(refs);
	if (!st->nrefs)
		return 0;
	st->states = xcalloc(st->nrefs, sizeof(*st->states));
	json_array_foreach(refs, i, r) {
		const char *ouid = obj_str(r, "uid");
		struct gc_node *o = ouid ? keymap_get(gc->nodes, ouid) : NULL;
		const struct kind *ok;
		if (!ouid) {
			st->states[i] = OWNER_SOLID;
			continue;
		}
		if (o) {
			st->states[i] = waiting_for_dependents(o) ? OWNER_WAITING : OWNER_SOLID;
			continue;
		}
		if (keymap_get(gc->absent, ouid)) {
			st->states[i] = OWNER_DANGLING;
			continue;
		}
		ok = kind_by_kind(obj_str(r, "apiVersion") ? obj_str(r, "apiVersion") : "", obj_str(r, "kind") ? obj_str(r, "kind") : "");
		if (!ok) {
			/* A kind minik8s does not serve: we cannot tell, so keep the object. */
			st->states[i] = OWNER_SOLID;
			continue;
		}
		{
			struct owner_get *og = xcalloc(1, sizeof(*og));
			char *path = kind_path(ok, obj_namespace(obj), obj_str(r, "name"), NULL);
			og->st = st;
			og->i = i;
			sync_call(s, "GET", path, NULL, NULL, on_owner_got, og);
			free(path);
		}
	}
	sync_then(s, decide);
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static int gc_init(struct controller_context *ctx, void **state)
{
	struct gc_controller *gc = xcalloc(1, sizeof(*gc));
	size_t n = 0;

	controller_init(&gc->c, ctx, "garbagecollector", ctx->opts->concurrent_gc_syncs, gc_sync, gc);
	gc->nodes = keymap_new();
	gc->deps = keymap_new();
	gc->absent = keymap_new();
	for (size_t i = 0; kinds[i]; i++)
		n++;
	gc->watches = xcalloc(n, sizeof(*gc->watches));
	for (size_t i = 0; kinds[i]; i++) {
		struct gc_watch *w;
		struct informer_handlers h;
		/* Kubernetes' collector ignores Events too. */
		if (kinds[i] == &kind_event)
			continue;
		w = &gc->watches[gc->nwatches++];
		w->gc = gc;
		w->kind = kinds[i];
		w->l = controller_lister(ctx, kinds[i]);
		h = (struct informer_handlers){ on_add, on_update, on_delete, w };
		lister_add_handlers(w->l, &h);
	}
	*state = gc;
	return 0;
}

static void gc_start(void *state)
{
	controller_run(&((struct gc_controller *)state)->c);
}

static void gc_free(void *state)
{
	struct gc_controller *gc = state;

	keymap_free(gc->nodes, free_node);
	keymap_free(gc->deps, free_deps);
	keymap_free(gc->absent, NULL);
	free(gc->watches);
	free(gc);
}

static void gc_stop(void *state, void (*done)(void *), void *arg)
{
	struct gc_controller *gc = state;

	controller_stop_and_free(&gc->c, gc_free, gc, done, arg);
}

static struct controller *gc_controller_of(void *state)
{
	return &((struct gc_controller *)state)->c;
}

const struct controller_def garbage_collector_controller_def = {
	.name = "garbage-collector-controller",
	.alias = "garbagecollector",
	.init = gc_init,
	.start = gc_start,
	.stop = gc_stop,
	.controller = gc_controller_of,
};
