/*
 * The controller manager's shared machinery and its registry of
 * controllers. Every controller has the shape of kube-controller-manager's:
 * informer handlers only turn an event into a key and add it to a work
 * queue; a worker takes a key and calls sync(key), which reads the current
 * state from the shared caches (listers) and writes through a client; an
 * error puts the key back with backoff. Writes are asynchronous here (one
 * libuv loop, no goroutines), so a sync is a small object that lives until
 * its last write has answered.
 *
 *   informer --handler--> key --> workqueue --> worker --> sync(c, key, s)
 *                                     ^                      |  reads listers
 *                                     |                      |  sync_call(s, ...) writes
 *                                     +-- error: backoff ----+  done when all answered
 *
 * How to add a controller:
 *   1. Write src/controller/<name>.c ending in a
 *      `const struct controller_def <name>_controller_def` with its
 *      kube-controller-manager name, init, start, stop and controller.
 *   2. Declare it at the bottom of this header and list it in
 *      controller_defs[] (manager.c).
 *   3. Add the file to src/controller/meson.build with a unit test
 *      tests/unit/test-controller-<name>.c driving its sync against
 *      listers filled by hand and the fake client (controller-fake.h).
 *   4. Describe it in docs/controllers.md.
 */
#ifndef MINIK8S_CONTROLLER_CONTROLLER_H
#define MINIK8S_CONTROLLER_CONTROLLER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "client/informer.h"
#include "client/rest.h"
#include "client/workqueue.h"
#include "util.h"

struct kind;
struct label_selector;

/* ---- options: the controller manager's flags ----------------------------- */

struct controller_options {
	int64_t node_monitor_grace_ms;   /* --node-monitor-grace-period (50 s) */
	int64_t node_monitor_period_ms;  /* --node-monitor-period (5 s) */
	int64_t node_startup_grace_ms;   /* --node-startup-grace-period (60 s) */
	double node_eviction_rate;       /* --node-eviction-rate: nodes tainted per second per zone (0.1) */
	double secondary_node_eviction_rate; /* --secondary-node-eviction-rate (0.01) */
	double unhealthy_zone_threshold; /* --unhealthy-zone-threshold (0.55) */
	int large_cluster_size_threshold; /* --large-cluster-size-threshold (50) */
	bool allocate_node_cidrs;        /* --allocate-node-cidrs (true here) */
	const char *cluster_cidr;        /* --cluster-cidr (10.244.0.0/16) */
	int node_cidr_mask_size;         /* --node-cidr-mask-size (24) */
	int64_t terminated_pod_gc_threshold; /* --terminated-pod-gc-threshold (12500) */
	int64_t podgc_period_ms;         /* 20 s, as kube's gcCheckPeriod (no flag) */
	int64_t podgc_quarantine_ms;     /* 40 s, as kube's quarantineTime (no flag) */
	int concurrent_deployment_syncs, concurrent_replicaset_syncs, concurrent_endpoint_syncs,
		concurrent_gc_syncs, concurrent_namespace_syncs, concurrent_node_syncs;
};

void controller_options_defaults(struct controller_options *o);

/* ---- the write client ---------------------------------------------------- */

/* What a write ended with; everything is borrowed for the callback. */
struct api_result {
	int status;          /* HTTP status; 0 when no answer came */
	json_t *body;        /* parsed body or NULL */
	const char *error;   /* NULL for 2xx, else one line saying why */
	const char *reason;  /* Status reason ("NotFound", "Conflict", ...) or NULL */
};

typedef void (*api_done_fn)(const struct api_result *r, void *data);

/*
 * How controllers write: one function, so unit tests swap in a fake that
 * records requests and answers from a script. send() calls done exactly
 * once; the real client calls it later from the loop, a fake (or a client
 * that is shutting down) may call it before returning. body is borrowed
 * (serialized at once). content_type NULL means JSON.
 */
struct controller_client {
	void (*send)(struct controller_client *cc, const char *method, const char *path,
		     const char *content_type, const json_t *body, api_done_fn done, void *data);
};

/* The client over REST: at most max_in_flight requests at once (the rest
 * wait in FIFO order), so a ReplicaSet creating 500 pods does not open 500
 * connections. rest is borrowed. */
struct controller_client *rest_controller_client_new(struct rest_client *rest, int max_in_flight);
/* Fails every waiting and running request (their done callbacks run now,
 * with status 0), answers later sends at once with an error, closes the
 * client's timer and frees it, then calls on_closed(arg). */
void rest_controller_client_close(struct controller_client *cc, void (*on_closed)(void *arg), void *arg);

static inline void controller_client_send(struct controller_client *cc, const char *method, const char *path,
					  const char *content_type, const json_t *body, api_done_fn done,
					  void *data)
{
	cc->send(cc, method, path, content_type, body, done, data);
}

/* ---- listers: read-only views of the shared caches ----------------------- */

/*
 * A lister reads one resource's objects: the shared informer's cache in the
 * manager, or objects put in by hand in unit tests (lister_put). Objects are
 * borrowed and read-only (json_deep_copy before changing). A lister may keep
 * indexes (pods by owner, pods by node) that it updates before any
 * controller's handler runs, so a sync never scans a whole namespace to
 * find a ReplicaSet's pods.
 */
struct lister;

/* Index function: the index value of obj written into buf (or a pointer to
 * a string inside obj), or NULL when obj has no value for this index. */
typedef const char *(*lister_index_fn)(const json_t *obj, char *buf, size_t len);

/* inf NULL makes a fake (unit tests). kind is borrowed (static). */
struct lister *lister_new(const struct kind *kind, struct informer *inf);
void lister_free(struct lister *l);
const struct kind *lister_kind(const struct lister *l);
struct informer *lister_informer(const struct lister *l);
bool lister_synced(const struct lister *l);

/* The object for "ns/name" (or "name"), borrowed, or NULL. */
json_t *lister_get(const struct lister *l, const char *key);
json_t *lister_get_ns(const struct lister *l, const char *ns, const char *name);
/* Objects of namespace ns (NULL or "": all): a new array of borrowed objects. */
json_t *lister_list(const struct lister *l, const char *ns);
size_t lister_count(const struct lister *l);

/* Adds a named index (rebuilt over what the lister holds now). */
void lister_add_index(struct lister *l, const char *name, lister_index_fn fn);
bool lister_has_index(const struct lister *l, const char *name);
/* Objects whose index value is value: a new array of borrowed objects. */
json_t *lister_by_index(const struct lister *l, const char *name, const char *value);

/* Handlers for changes (copied). With an informer they go to it; a fake
 * calls them from lister_put and lister_remove. */
void lister_add_handlers(struct lister *l, const struct informer_handlers *h);

/* Fakes only: add or replace obj (a reference is taken), or remove key. */
void lister_put(struct lister *l, json_t *obj);
void lister_remove(struct lister *l, const char *key);

/* Index functions every controller uses. */
/* "owner": the uid of the controller ownerReference, or "orphan/<ns>" for an
 * object with none (the candidates for adoption in a namespace). */
const char *index_by_controller(const json_t *obj, char *buf, size_t len);
/* "node": a pod's spec.nodeName. */
const char *index_by_node(const json_t *obj, char *buf, size_t len);

/* ---- context: what a controller gets from the manager -------------------- */

struct event_recorder;

struct controller_context {
	uv_loop_t *loop;
	struct informer_factory *factory;   /* NULL in unit tests: listers are fakes */
	struct controller_client *client;
	const struct controller_options *opts;
	/* Wall clock in milliseconds since the epoch (tests set a fake). */
	int64_t (*clock)(void);
	/* Shared listers and event recorders, made on first use. */
	struct ctx_lister { const struct kind *kind; struct lister *l; } *listers;
	size_t nlisters;
	struct ctx_recorder { char *component; struct event_recorder *r; } *recorders;
	size_t nrecorders;
};

/* Sets defaults (clock = wall clock) around loop, factory and client. */
void controller_context_init(struct controller_context *ctx, uv_loop_t *loop, struct informer_factory *factory,
			     struct controller_client *client, const struct controller_options *opts);
/* Frees listers and recorders; call after the informers and client closed. */
void controller_context_release(struct controller_context *ctx);

/* The shared lister of kind (the factory's informer over every namespace),
 * with the "owner" index for pods and ReplicaSets and "node" for pods. */
struct lister *controller_lister(struct controller_context *ctx, const struct kind *kind);

/* Trims a pod to what the controllers read (the pod informer's transform;
 * bench/scheduler/podcost.c measures what it saves). */
void controller_pod_transform(json_t *pod);
/* The event recorder writing as component ("replicaset-controller"). */
struct event_recorder *controller_recorder(struct controller_context *ctx, const char *component);

int64_t wall_clock_ms(void);

/* ---- a controller: queue, workers, sync ----------------------------------- */

struct controller;
struct sync;

/*
 * Reconciles one key: reads listers, starts writes with sync_call().
 * Returns 0, or -1 for an error (the key comes back with backoff). The key
 * is done when sync has returned and every write of s has answered.
 */
typedef int (*controller_sync_fn)(struct controller *c, const char *key, struct sync *s);

struct controller {
	const char *name;                /* "replicaset": logs and queue name */
	struct controller_context *ctx;
	struct workqueue *queue;
	int workers;                     /* keys processed at once */
	controller_sync_fn sync;         /* a field, so tests can replace it */
	void *priv;                      /* the controller's own state */
	bool running, stopping;
	size_t syncs_in_flight;
	/* Counted for the log line at stop (and for curious students). */
	uint64_t syncs, sync_failures, writes;
	/* Test hook: called when a sync ends (rc 0 or -1). */
	void (*on_sync_done)(struct controller *c, const char *key, int rc, void *data);
	void *on_sync_done_data;
};

void controller_init(struct controller *c, struct controller_context *ctx, const char *name, int workers,
		     controller_sync_fn sync, void *priv);
/* Starts the workers (once the caches have synced). */
void controller_run(struct controller *c);
/* Closes the queue; on_closed(arg) runs from the loop once it is freed.
 * Syncs still waiting for writes end when the client fails them. */
void controller_shutdown(struct controller *c, void (*on_closed)(void *arg), void *arg);

/* The usual stop(): controller_shutdown, then free_state(state) and
 * done(arg) once the queue has closed. */
void controller_stop_and_free(struct controller *c, void (*free_state)(void *state), void *state,
			      void (*done)(void *arg), void *arg);

void controller_enqueue(struct controller *c, const char *key);
/* Adds obj's key ("ns/name" or "name"). */
void controller_enqueue_obj(struct controller *c, const json_t *obj);
void controller_enqueue_after(struct controller *c, const char *key, uint64_t delay_ms);

/*
 * Runs sync for key now, outside the queue (tests). Returns 0 or -1 when it
 * has finished (a fake client answers at once), or 1 while writes are still
 * waiting.
 */
int controller_sync_key(struct controller *c, const char *key);

/* ---- one sync in progress ------------------------------------------------- */

/*
 * Called when a write of sync s answers. Return 0 if the result is fine for
 * the sync, -1 to fail it (the key is retried with backoff). With fn NULL,
 * any 2xx is fine, and so is 404 for a DELETE, PUT or PATCH (the object is
 * gone; its deletion event brings the key back if anything is left to do).
 */
typedef int (*sync_result_fn)(struct sync *s, const struct api_result *r, void *data);
typedef void (*sync_then_fn)(struct sync *s);

const char *sync_key(const struct sync *s);
struct controller *sync_controller(const struct sync *s);

/* Starts a write that belongs to s. body is borrowed. */
void sync_call(struct sync *s, const char *method, const char *path, const char *content_type, const json_t *body,
	       sync_result_fn fn, void *data);
/* Shorthands: POST obj, PUT obj, merge-patch, DELETE with options (may be NULL). */
void sync_create(struct sync *s, const char *path, const json_t *obj, sync_result_fn fn, void *data);
void sync_update(struct sync *s, const char *path, const json_t *obj, sync_result_fn fn, void *data);
void sync_merge_patch(struct sync *s, const char *path, const json_t *patch, sync_result_fn fn, void *data);
/* Strategic merge patch: lists with a merge key (pod conditions by type)
 * merge item by item, so one condition can change without resending the rest. */
void sync_strategic_patch(struct sync *s, const char *path, const json_t *patch, sync_result_fn fn, void *data);
void sync_delete(struct sync *s, const char *path, const json_t *options, sync_result_fn fn, void *data);

/* The default judgement of a result (see sync_result_fn), logging failures. */
int sync_check(struct sync *s, const struct api_result *r);

/* fn runs once every write started so far has answered (and sync has
 * returned); it may start more writes and set another continuation. */
void sync_then(struct sync *s, sync_then_fn fn);
/* State for continuations; free_fn(data) runs when the sync ends. */
void sync_set_data(struct sync *s, void *data, void (*free_fn)(void *));
void *sync_data(const struct sync *s);
void sync_fail(struct sync *s);
bool sync_failed(const struct sync *s);
/* Adds the key again after ms once this sync ends (the shortest wins). */
void sync_requeue_after(struct sync *s, uint64_t ms);

/* ---- helpers on objects ---------------------------------------------------- */

/* "/apis/apps/v1/namespaces/ns/replicasets/name/status"; ns, name, sub may be NULL. New string. */
char *kind_path(const struct kind *k, const char *ns, const char *name, const char *sub);
/* The rest_resource of a kind (strings borrowed from the kind). */
struct rest_resource kind_resource(const struct kind *k);

/* The ownerReference with controller: true, borrowed, or NULL. */
json_t *controller_ref_of(const json_t *obj);
/* Whether obj's controller is the object with this uid. */
bool controlled_by(const json_t *obj, const char *uid);
/* A new ownerReference to owner (controller and blockOwnerDeletion true). */
json_t *controller_ref_new(const json_t *owner, const char *api_version, const char *kind);

/* json_equal, where a missing value (NULL) equals an empty object or array. */
bool json_equal_or_empty(const json_t *a, const json_t *b);

bool obj_deleting(const json_t *obj);
bool obj_has_finalizer(const json_t *obj, const char *name);
/* metadata.creationTimestamp in seconds, 0 if missing. */
time_t obj_created(const json_t *obj);

/* A condition of status.conditions by type, borrowed, or NULL. */
json_t *condition_get(const json_t *obj_or_status, const char *type);
/*
 * Sets a condition in the array conds (a status.conditions array, changed
 * in place): keeps lastTransitionTime when the status does not change, and
 * with keep_same true leaves a condition alone when status and reason are
 * the same (as Kubernetes' SetDeploymentCondition). Returns true if the
 * array changed. now is RFC 3339. Extra time fields: "lastUpdateTime" for
 * Deployments, "lastHeartbeatTime"/"lastProbeTime" are the caller's.
 */
bool condition_set(json_t *conds, const char *type, const char *status, const char *reason, const char *message,
		   const char *now, bool with_update_time, bool keep_same);
bool condition_remove(json_t *conds, const char *type);

/* Pods, as Kubernetes' podutil. */
bool pod_is_ready(const json_t *pod);
bool pod_is_terminal(const json_t *pod);
/* Not terminal and not being deleted (FilterActivePods). */
bool pod_is_active(const json_t *pod);
/* Ready for at least min_ready_s seconds at now_s. */
bool pod_is_available(const json_t *pod, int64_t min_ready_s, time_t now_s);

/* An intOrString ("25%" or 3) against total, rounding up or down. */
int64_t int_or_percent(const json_t *v, int64_t total, bool round_up, int64_t def);

/* Now as RFC 3339 from the context clock, into buf (TIME_RFC3339_LEN). */
void ctx_now_rfc3339(const struct controller_context *ctx, char *buf);
static inline time_t ctx_now_s(const struct controller_context *ctx)
{
	return (time_t)(ctx->clock() / 1000);
}

/* Whether selector (a LabelSelector object) matches labels; an empty or
 * missing selector matches nothing when empty_matches_none. A malformed
 * selector matches nothing. */
bool selector_matches_labels(const json_t *selector, const json_t *labels, bool empty_matches_none);

/* Removes from obj's ownerReferences the ones whose uid is in uids (a
 * NULL-terminated array); returns the new array (new reference). */
json_t *owner_refs_without(const json_t *obj, const char *const *uids);

/* Adoption and release, as Kubernetes' ControllerRefManager: candidates
 * are objects owned by owner or orphans; those sel matches (an empty
 * selector matches nothing) are claimed: matching orphans are adopted and
 * owned objects that no longer match are released, with patches that carry
 * resourceVersion preconditions. Objects owned and matching (and those
 * adopted, once their patch succeeds) are appended to claimed. The
 * patches belong to sync s; claimed must stay alive until s ends. */
void controller_claim(struct sync *s, const json_t *owner, const char *owner_api_version, const char *owner_kind,
		      const struct kind *dep_kind, const json_t *candidates, const struct label_selector *sel,
		      json_t *claimed);

/* ---- the registry ----------------------------------------------------------- */

struct controller_def {
	const char *name;    /* kube-controller-manager's name: "deployment-controller" */
	const char *alias;   /* the older short name ("deployment"), or NULL */
	bool disabled_by_default;
	/* Registers listers and handlers on ctx. Returns 0 with *state set (NULL
	 * when the controller turned itself off, as node IPAM without
	 * --allocate-node-cidrs), or -1 after saying why (the manager stops). */
	int (*init)(struct controller_context *ctx, void **state);
	/* Starts workers and timers; called once every cache has synced. */
	void (*start)(void *state);
	/* Closes queues and timers, frees state, then calls done(arg) from the loop. */
	void (*stop)(void *state, void (*done)(void *arg), void *arg);
	/* The main controller, for tests (its sync and queue). */
	struct controller *(*controller)(void *state);
};

extern const struct controller_def deployment_controller_def, replicaset_controller_def,
	endpoints_controller_def, node_lifecycle_controller_def, taint_eviction_controller_def,
	node_ipam_controller_def, garbage_collector_controller_def, namespace_controller_def,
	podgc_controller_def, servicelb_controller_def;

/* Every controller, NULL-terminated, in start order. */
extern const struct controller_def *const controller_defs[];

/*
 * Which controllers --controllers selects, Kubernetes style: "*" is every
 * controller on by default, "name" (or its alias) turns one on, "-name"
 * turns one off. enabled[i] follows controller_defs. Returns 0, or -1 with
 * an error naming an unknown controller.
 */
int controller_select(char *const *items, int n, bool *enabled);

/* ---- events --------------------------------------------------------------- */

/*
 * A small event recorder, as client-go's: v1 Events with involvedObject,
 * reason, message, type, source.component, count and first/last
 * timestamps. A repeat of the same event within 10 minutes patches the
 * count of the one already written; more than 10 different messages with
 * the same reason for one object are combined ("(combined from similar
 * events): ..."); and each object may write 25 events in a burst, then one
 * every 5 minutes (the spam filter), so a ReplicaSet creating 1,000 pods
 * does not write 1,000 Events.
 */
struct event_recorder *event_recorder_new(struct controller_client *cc, const char *component,
					  int64_t (*clock)(void));
void event_recorder_free(struct event_recorder *r);

/* Records an event about obj (borrowed): type "Normal" or "Warning". */
void event_record(struct event_recorder *r, const json_t *obj, const char *type, const char *reason,
		  const char *fmt, ...) PRINTF_LIKE(5, 6);
/* The same for an object known by its reference fields (uid may be NULL). */
void event_record_ref(struct event_recorder *r, const char *api_version, const char *kind, const char *ns,
		      const char *name, const char *uid, const char *type, const char *reason, const char *fmt, ...)
	PRINTF_LIKE(9, 10);
/* Events written (POST) and patched (count), for tests and logs. */
size_t event_recorder_written(const struct event_recorder *r);
size_t event_recorder_dropped(const struct event_recorder *r);

/* ---- a small string map ------------------------------------------------------ */

/* String keys (copied) to pointers; values are the caller's to free. */
struct keymap;
struct keymap *keymap_new(void);
void keymap_free(struct keymap *m, void (*free_value)(void *));
void *keymap_get(const struct keymap *m, const char *key);
/* Returns the previous value (or NULL). */
void *keymap_put(struct keymap *m, const char *key, void *value);
/* Removes key and returns its value (or NULL). */
void *keymap_del(struct keymap *m, const char *key);
size_t keymap_size(const struct keymap *m);
/* Iteration: start with *pos = 0; returns false at the end. The map must
 * not change during iteration. */
bool keymap_next(const struct keymap *m, size_t *pos, const char **key, void **value);

#endif
