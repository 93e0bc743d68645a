/*
 * What the kubelet's files share: the kubelet itself (config, clients,
 * caches), its pods and their per-container state, and the asynchronous
 * operations in flight. One libuv loop runs all of it, so nothing here
 * needs a lock.
 *
 *   kubelet.c    component start/stop, informers, the Docker container cache
 *                (list + inspect + /events), the periodic tick
 *   node.c       Node registration, Lease, node status, pod network, iptables
 *   podworker.c  sync(pod): compare the pod with its containers and act
 *   probe.c      liveness, readiness and startup probes
 *   server.c     the kubelet's HTTPS API (container logs)
 *   events.c     v1 Events about pods
 */
#ifndef MINIK8S_KUBELET_INTERNAL_H
#define MINIK8S_KUBELET_INTERNAL_H

#include <jansson.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "client/informer.h"
#include "client/rest.h"
#include "client/workqueue.h"
#include "core/flags.h"
#include "kubelet/docker.h"
#include "core/httpc.h"
#include "kubelet/podstatus.h"
#include "kubelet/runtime.h"

#define KUBELET_VERSION "v1.32.0-minik8s"
#define PAUSE_IMAGE "minik8s/pause:1"
#define LEASE_RENEW_MS 10000
#define LEASE_DURATION_S 40
#define NODE_STATUS_MS 10000
#define NODE_STATUS_FORCE_MS 60000
#define RESYNC_MS 30000
#define POD_WORKERS 32

struct http_server;

/* Flag values (the component's static flag table fills these). */
struct kubelet_config {
	char *node_name;
	char *docker_host;
	char *root_dir;
	char *pod_cidr;
	char *non_masquerade_cidr;
	char *cluster_dns;
	char *cluster_domain;
	int64_t initial_backoff_ms;
	int64_t max_backoff_ms;
	int port;
	char *address;
	char *token_file;
	char *node_ip;
	char *tls_cert_file;
	char *tls_key_file;
	char *resolv_conf;
	char *pause_image;
	int max_pods;
	struct flag_list node_labels;
	bool manage_iptables;
};

struct kpod;
struct kop;
struct probe;

/* The worker's knowledge about one container of a pod's spec. */
struct kcstate {
	char *name;
	bool init;
	char *waiting_reason, *waiting_message;
	struct backoff crash;          /* restarts of this container */
	struct backoff pull;           /* image pulls */
	int64_t pull_failed_ms;        /* last failed pull, 0 if the last one worked */
	char *kill_id;                 /* instance a probe asked to restart */
	char *kill_reason;
	/* Probes of the running instance probed_id. */
	char *probed_id;
	struct probe *liveness, *readiness, *startup;
	bool ready, started;
};

struct kevent_seen {
	struct kevent_seen *next;
	char *key;        /* reason + message */
	char *name;       /* the Event object once written */
	int64_t count;
	char first[32];
	bool writing;
};

/* One ConfigMap or Secret a pod of ours uses, watched by name (as the
 * kubelet's Watch strategy does): a node may read only those, never list
 * them all (src/apiserver/authz.c). */
struct objwatch {
	struct objwatch *next;
	struct kubelet *k;
	char *resource; /* "configmaps" or "secrets" */
	char *key;      /* "ns/name" */
	struct informer *inf;
	int64_t used_ms;
};

struct kpod {
	struct kpod *prev, *next;
	struct kubelet *k;
	int refs;                      /* the list, and each operation in flight */
	bool linked;
	char *uid, *ns, *name, *key;   /* key: "ns/name" */
	json_t *pod;                   /* last seen object (borrowed reference of ours, read-only) */
	bool gone;                     /* no longer in the informer (or another uid holds the name) */
	char *dir;                     /* <root>/pods/<uid> */

	/* the current pass of sync */
	bool syncing;
	bool in_sync;                  /* inside the synchronous part of the pass */
	bool finished;                 /* torn down: drop the record after this pass */
	int64_t volumes_ms;            /* volumes last refreshed */
	int inflight;
	bool failed;                   /* an operation failed: requeue with backoff */
	int64_t requeue_ms;            /* requeue after this long (0: no) */
	int64_t hold_ms;               /* after acting, requeue after this long rather than at once */
	bool acted;                    /* an operation was started */
	int passes_in_row;             /* passes run back to back (pass_finish) */

	struct kcstate *cs;
	size_t ncs;

	int64_t kill_deadline_ms;      /* termination: SIGKILL not later than this */
	struct backoff sandbox_backoff; /* after a sandbox failed to start */
	int64_t sandbox_failed_ms;
	bool terminating;
	bool confirm_sent;
	bool sandbox_killed;           /* terminal pod: sandbox stopped */
	char *hosts_ip;                /* pod IP the etc-hosts file was written for */

	json_t *last_status;           /* last status written (or read) */
	json_t *next_status;           /* waiting to be written */
	json_t *sending_status;        /* being written */
	int64_t status_rv;             /* resourceVersion our last status write made */
	bool status_busy;

	struct kevent_seen *events;
	size_t nevents;
};

/* An asynchronous operation: a chain of Docker or API calls. Registered
 * with the kubelet so that stop() can cancel and free whatever is left. */
struct kop {
	struct kop *prev, *next;
	struct kubelet *k;
	struct kpod *p;                /* holds a ref, may be NULL */
	int kind;
	int step;
	struct docker_req *dreq;
	struct rest_request *rreq;
	struct httpc_req *hreq;
	/* the subject of the operation */
	char *container;               /* spec name */
	struct kcontainer *kc;         /* Docker instance (kill, remove) */
	char *id;                      /* created container's id */
	json_t *body;                  /* request body kept across steps */
	json_t *spec;                  /* container spec (borrowed reference, incref'd) */
	char *image;
	char *str;                     /* scratch: exec id, etc. */
	int attempt;
	int64_t t0_ms;
	int64_t grace_s;
	bool flag;
	void (*free_extra)(struct kop *op);
	void *extra;
};

struct kubelet {
	uv_loop_t *loop;
	struct kubelet_config cfg;
	char *node_name;
	char *hostname;
	char *node_ip;
	char *root_dir;
	char *token;                   /* what the kubelet API accepts */
	char *host_resolv;             /* the node's resolv.conf, for Default DNS */
	char *host_hosts;

	struct rest_client *rest;
	struct informer_factory *factory;
	struct informer *pods, *services, *node;
	struct objwatch *objwatches;   /* ConfigMaps and Secrets our pods use, one watch each */
	int objwatch_closing;          /* their informers closing, not yet closed (stop waits for them) */
	int64_t next_objwatch_gc_ms;
	struct workqueue *queue;
	bool workers_started;

	struct httpc *http;
	struct docker *docker;
	char *docker_version;
	bool docker_up;
	bool docker_checking;
	bool relisting;
	bool cache_synced;
	int relist_pending;
	int64_t relist_since;          /* unix seconds the event stream resumes from */
	struct kcontainer *containers; /* the container cache */
	size_t ncontainers;
	struct docker_req *events_req;
	struct strbuf events_buf;
	bool pause_ready, pause_busy;
	struct image_seen *images;     /* images known present (name -> id) */

	/* node */
	json_t *node_obj;              /* our Node as last seen (borrowed ref of ours) */
	bool registered, registering;
	bool lease_exists, lease_busy;
	bool status_busy;
	int64_t next_lease_ms, next_status_ms, last_status_ms;
	char *last_node_status;        /* serialized, without heartbeat times */
	char *node_uid;
	json_t *node_info;             /* nodeInfo, read from the machine at start */
	int64_t cpu_millis, mem_bytes, storage_bytes;

	/* pod network */
	char *pod_cidr;                /* in use */
	char *network;                 /* Docker network name */
	char *gateway;
	bool network_ready, network_busy, network_failed;
	int64_t network_retry_ms;
	bool iptables_done, iptables_busy;

	struct kpod *kpods;
	size_t nkpods;
	struct kop *ops;
	size_t nops;

	/* kubelet API */
	struct http_server *server;
	SSL_CTX *tls;
	int port;

	uv_timer_t tick;
	int handles;                   /* probe timers, tcp probes, iptables runs */
	int64_t next_resync_ms;
	int64_t docker_retry_ms;
	int64_t started_ms;
	bool stopping;
	int closing;
	void (*done)(void *arg);
	void *done_arg;
};

/* ---- kubelet.c --------------------------------------------------------- */

int64_t kubelet_now_ms(void);
/* The cached containers of a pod as a new array (free() it); *n their count. */
struct kcontainer **kubelet_pod_containers(struct kubelet *k, const char *uid, size_t *n);
struct kcontainer *kubelet_container_by_id(struct kubelet *k, const char *id);
/* Adds or refreshes a container from an inspect answer; returns the entry or NULL if not ours. */
struct kcontainer *kubelet_container_update(struct kubelet *k, const json_t *inspect);
void kubelet_container_remove(struct kubelet *k, struct kcontainer *c);
/* Re-inspects one container (after an event or an operation). */
void kubelet_container_refresh(struct kubelet *k, const char *id);
/* A ConfigMap or Secret from the informer caches (borrowed), or NULL. */
const json_t *kubelet_lookup(const char *resource, const char *ns, const char *name, void *data);
/* Services the env of a pod in ns may name: ns's and default/kubernetes (new reference). */
json_t *kubelet_services(struct kubelet *k, const char *ns);
/* Probe and helper handles: count them so that stop waits for their close. */
void kubelet_handle_opened(struct kubelet *k);
void kubelet_handle_closed(struct kubelet *k);
/* Image known present locally: its id, or NULL. */
const char *kubelet_image_known(struct kubelet *k, const char *image);
void kubelet_image_remember(struct kubelet *k, const char *image, const char *id);
void kubelet_image_forget(struct kubelet *k, const char *image);
void kubelet_ensure_pause(struct kubelet *k);
/* Docker answered "cannot connect": mark the engine down (re-checked by the tick). */
void kubelet_docker_unreachable(struct kubelet *k);

struct kop *kop_new(struct kubelet *k, struct kpod *p, int kind);
void kop_free(struct kop *op);

/* ---- node.c ------------------------------------------------------------- */

int node_init(struct kubelet *k);
void node_tick(struct kubelet *k, int64_t now);
void node_seen(struct kubelet *k, json_t *node, bool deleted);
void network_tick(struct kubelet *k, int64_t now);
/* The first non-loopback IPv4 address (of the default route), new string. */
char *node_default_ip(void);

/* ---- podworker.c -------------------------------------------------------- */

struct kpod *kpod_get(struct kubelet *k, const char *uid);
/* Finds or creates the record for uid (the informer saw ns/name). */
struct kpod *kpod_ensure(struct kubelet *k, const char *uid, const char *ns, const char *name);
void kpod_unref(struct kpod *p);
struct kcstate *kpod_cstate(struct kpod *p, const char *name, bool init);
void kpod_free_all(struct kubelet *k);
void podworker_sync(struct workqueue *q, const char *uid, void *data);
/* The pod (from the informer) for p, if it still is the same uid; borrowed. */
json_t *kpod_object(struct kpod *p);
void kpod_enqueue(struct kpod *p);

/* ---- podfiles.c ----------------------------------------------------------- */

/* Creates the pod dir, resolv.conf, a first etc-hosts and the volumes.
 * Returns 0, or -1 with *err (new string) as Kubernetes' FailedMount says it. */
int podfiles_prepare(struct kubelet *k, struct kpod *p, const json_t *pod, char **err);
int podfiles_volumes(struct kubelet *k, struct kpod *p, const json_t *pod, char **err);
int podfiles_write_dns(struct kubelet *k, struct kpod *p, const json_t *pod, char **err);
int podfiles_write_hosts(struct kubelet *k, struct kpod *p, const json_t *pod, const char *ip);
/* An empty termination-message file for one instance: host path, new string (NULL on error). */
char *podfiles_termination(struct kpod *p, const char *container, int attempt);
char *podfiles_read_message(const char *path);
void podfiles_remove(struct kpod *p);

/* ---- probe.c --------------------------------------------------------------- */

/* Starts, restarts or stops the probes of every container of p to match the
 * running instances. */
void probes_reconcile(struct kpod *p, struct kcontainer *const *v, size_t n);
void probes_stop_all(struct kpod *p);
/* Runs an exec in a container to its end: done(exit_code, output) or
 * done(-1, why). Used by exec probes and preStop hooks. */
struct kop *exec_run(struct kubelet *k, struct kpod *p, const char *id, const json_t *cmd, int64_t timeout_ms,
		     void (*done)(struct kop *op, int code, const char *output, void *data), void *data);

/* ---- events.c -------------------------------------------------------------- */

/* Writes (or counts again) an Event about pod p. type "Normal"/"Warning";
 * field_path like "spec.containers{web}" or NULL. */
void kevent(struct kpod *p, const char *type, const char *reason, const char *field_path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void kevents_release(struct kpod *p);

/* ---- server.c ---------------------------------------------------------------- */

int server_start(struct kubelet *k);
void server_stop(struct kubelet *k, void (*cb)(void *arg), void *arg);

#endif
