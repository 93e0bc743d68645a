/*
 * The kubelet's picture of the containers Docker runs for its pods, and the
 * dockershim conventions that let it find them again after a restart:
 * container names `k8s_<container>_<pod>_<ns>_<uid>_<attempt>` (the sandbox
 * is the container "POD") and `io.kubernetes.*` labels. Also the restart
 * backoff. Everything here is pure: no loop, no I/O.
 */
#ifndef MINIK8S_KUBELET_RUNTIME_H
#define MINIK8S_KUBELET_RUNTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* dockershim's labels, so `docker ps --filter label=io.kubernetes.pod.name=web`
 * works as it did on a dockershim node. */
#define LABEL_POD_NAME "io.kubernetes.pod.name"
#define LABEL_POD_NAMESPACE "io.kubernetes.pod.namespace"
#define LABEL_POD_UID "io.kubernetes.pod.uid"
#define LABEL_CONTAINER_NAME "io.kubernetes.container.name"
#define LABEL_TYPE "io.kubernetes.docker.type"            /* "podsandbox" or "container" */
#define LABEL_SANDBOX_ID "io.kubernetes.sandbox.id"        /* on app containers */
#define LABEL_HASH "io.kubernetes.container.hash"          /* of the container's spec */
#define LABEL_RESTART_COUNT "io.kubernetes.container.restartCount" /* the attempt */
#define LABEL_GRACE "io.kubernetes.pod.terminationGracePeriod"
#define LABEL_PRESTOP "io.kubernetes.container.preStopHandler"     /* JSON */
#define LABEL_TERMINATION_PATH "io.kubernetes.container.terminationMessagePath"
/* Ours: which kubelet owns the container, so that several kubelets (or a
 * test's kubelet next to a real one) can share one engine. */
#define LABEL_NODE "io.minik8s.node"
#define TYPE_SANDBOX "podsandbox"
#define TYPE_CONTAINER "container"
#define SANDBOX_CONTAINER_NAME "POD"

/* The string under one key of an object (a label, a ConfigMap key): keys
 * hold dots, so obj_str()'s dotted paths do not fit. Borrowed, or NULL. */
static inline const char *key_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* "k8s_web_nginx-1_default_0b7c..._3". New string. */
char *runtime_container_name(const char *container, const char *pod, const char *ns, const char *uid,
			     int attempt);

struct runtime_name {
	char *container, *pod, *ns, *uid;
	int attempt;
};
/* Parses a name made by runtime_container_name (with or without Docker's
 * leading '/'). Returns 0 and fills out (free with runtime_name_release),
 * or -1 for a name that is not ours. */
int runtime_parse_name(const char *name, struct runtime_name *out);
void runtime_name_release(struct runtime_name *n);

/* Hash of a container's spec (JSON with sorted keys, FNV-1a 32), as 8 hex
 * digits: a running container whose spec changed (a new image) is replaced. */
void runtime_container_hash(const json_t *container, char out[9]);

enum kc_state { KC_CREATED, KC_RUNNING, KC_EXITED, KC_OTHER };

/*
 * One Docker container of one of our pods, as last inspected. The lists
 * that hold these belong to the kubelet; the pod worker only reads them and
 * marks busy while an operation on the container is in flight.
 */
struct kcontainer {
	struct kcontainer *prev, *next;
	char *id;
	char *name;              /* without the leading '/' */
	bool sandbox;
	char *pod_uid, *pod_name, *pod_ns;
	char *container;         /* spec name, "POD" for the sandbox */
	int attempt;             /* restart count (sandbox: its attempt) */
	char *sandbox_id;        /* app containers: the sandbox they joined */
	char *hash;
	int64_t grace_s;         /* terminationGracePeriodSeconds label, -1 if absent */
	char *prestop;           /* preStop handler JSON label, or NULL */
	char *termination_path;  /* host file of the termination message, or NULL */
	enum kc_state state;
	int exit_code;
	bool oom_killed;
	char *error;             /* State.Error, or NULL */
	int64_t created_ms, started_ms, finished_ms; /* 0 when unset */
	char *image;             /* as requested (Config.Image) */
	char *image_id;          /* "sha256:..." */
	char *ip;                /* sandbox: its address on the pod network, or NULL */
	bool tty;
	/* Kept by the pod worker across inspections: */
	char *message;           /* termination message read from termination_path */
	bool message_read;
	int busy;                /* operations in flight (pod worker) */
	bool seen;               /* marks during a relist */
};

/*
 * Fills c from an inspect answer (GET /containers/{id}/json, borrowed).
 * network names the pod network whose address is the pod IP (NULL: any).
 * Returns 0, or -1 when the container does not carry our labels.
 */
int kcontainer_from_inspect(struct kcontainer *c, const json_t *inspect, const char *network);
void kcontainer_release(struct kcontainer *c);
/* Newer of two instances of the same container: higher attempt, then later creation. */
bool kcontainer_newer(const struct kcontainer *a, const struct kcontainer *b);

/*
 * The newest instance of container `name` among v[0..n) (one pod's
 * containers), restricted to those joined to sandbox_id when it is not NULL.
 * With skip (may be NULL) that instance is ignored, so calling with the
 * newest gives the one before it (for lastState and `logs --previous`).
 */
struct kcontainer *kcontainer_latest(struct kcontainer *const *v, size_t n, const char *name,
				     const char *sandbox_id, const struct kcontainer *skip);
/* The sandbox to use: the newest running sandbox, else the newest one
 * (sandboxes being removed do not count). */
struct kcontainer *kcontainer_sandbox(struct kcontainer *const *v, size_t n);

/*
 * Crash-loop (and image pull) backoff, as the kubelet's: the first restart is
 * immediate, then each one waits initial, 2*initial, ... up to max after the
 * container finished; an entry untouched for 2*max starts over.
 */
struct backoff {
	int64_t delay_ms;    /* 0: no entry */
	int64_t updated_ms;
};
/* Milliseconds still to wait at now for an event that happened at since_ms
 * (0 when not in backoff). */
int64_t backoff_remaining(const struct backoff *b, int64_t since_ms, int64_t now_ms, int64_t max_ms);
/* Records one more restart at now and grows the delay. */
void backoff_next(struct backoff *b, int64_t now_ms, int64_t initial_ms, int64_t max_ms);
void backoff_reset(struct backoff *b);

#endif
