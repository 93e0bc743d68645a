/*
 * The scheduler's picture of the cluster: every node as a compact struct
 * (allocatable, what is requested on it, taints, host ports, labels) and
 * every pod it knows as a compact struct too, never as the JSON the watch
 * delivered. Pending pods also carry what their scheduling needs (selectors,
 * tolerations); bound pods keep only what node accounting needs, which is
 * why 30,000 pods cost a few megabytes here (docs/scheduler.md has numbers).
 *
 * A pod is "assumed" on a node the moment the scheduler picks it, before the
 * binding reaches the apiserver, so the next cycle already sees the node's
 * resources taken; a failed binding forgets it again (kube-scheduler's
 * assume/forget).
 */
#ifndef MINIK8S_SCHEDULER_CACHE_H
#define MINIK8S_SCHEDULER_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "scheduler/maps.h"

/* Taint and toleration effects; 0 in a toleration means every effect. */
enum sched_effect {
	SCHED_EFFECT_ANY = 0,
	SCHED_EFFECT_NO_SCHEDULE,
	SCHED_EFFECT_PREFER_NO_SCHEDULE,
	SCHED_EFFECT_NO_EXECUTE,
};

enum sched_proto { SCHED_TCP = 0, SCHED_UDP, SCHED_SCTP };

struct sched_taint {
	const char *key, *value;   /* interned (sched_cache_intern) */
	uint8_t effect;
};

struct sched_toleration {
	const char *key;           /* interned; NULL for an empty key (with Exists: every taint) */
	const char *value;         /* interned; NULL for empty */
	bool exists;               /* operator Exists, else Equal */
	uint8_t effect;            /* SCHED_EFFECT_*, ANY for all */
};

/* One hostPort a pod uses. ip 0 is 0.0.0.0 (every address); addresses that
 * are not IPv4 hash into the rest of the space. */
struct sched_hostport {
	uint32_t ip;
	uint16_t port;
	uint8_t proto;
};

struct sched_node {
	char *name;
	uint32_t index;            /* slot in sched_cache.nodes, stable while the node lives */
	uint32_t present_pos;      /* position in sched_cache.present if present */
	bool present;              /* a Node object exists (else a placeholder holding bound pods) */
	bool unschedulable;        /* spec.unschedulable (cordoned) */
	json_t *labels;            /* metadata.labels (a copy), or NULL */
	struct sched_taint *taints;
	uint16_t ntaints;
	int64_t alloc_cpu, alloc_mem, alloc_pods;  /* milli-cpu, bytes, pods */
	int64_t req_cpu, req_mem;                  /* requests of the pods on it */
	int64_t nz_cpu, nz_mem;                    /* same with the non-zero defaults, for scoring */
	int32_t npods;
	struct sched_hostport *ports;              /* one entry per (pod, port) */
	uint32_t nports, aports;
};

/* What only a pending pod needs; freed once the pod is bound. */
struct sched_pending {
	const char *node_name;     /* spec.nodeName (tests of NodeName), interned, or NULL */
	json_t *node_selector;     /* spec.nodeSelector (reference) or NULL */
	json_t *required_terms;    /* nodeAffinity required nodeSelectorTerms (reference) or NULL */
	json_t *preferred_terms;   /* nodeAffinity preferred terms (reference) or NULL */
	struct sched_toleration *tolerations;
	uint16_t ntolerations;
	bool preempt_never;        /* preemptionPolicy: Never */
	uint64_t spec_hash;        /* spec + labels: tells a real change from a status write */
	char *uid;
	char *condition_message;   /* the PodScheduled=False message the pod carries */
	/* the scheduling queue's bookkeeping (queue.c) */
	uint64_t seq;              /* arrival order, for FIFO within one priority */
	uint64_t backoff_until;    /* ms, monotonic */
	uint64_t unschedulable_since;
	uint32_t attempts;         /* failed cycles so far */
	uint32_t rejected_by;      /* bit per filter plugin (framework order) that said no */
	unsigned requeue_events;   /* SCHED_EV_* that may make it fit (0: any) */
	int32_t heap_pos;          /* in the active or backoff heap, or -1 */
	uint8_t where;             /* enum sched_queue_where */
	struct sched_pod *next_unsched, *prev_unsched;
};

enum sched_pod_state {
	SCHED_POD_PENDING = 0,     /* no node: in the queue */
	SCHED_POD_ASSUMED,         /* picked a node, binding under way */
	SCHED_POD_BOUND,           /* the apiserver says it runs on node */
};

struct sched_pod {
	char *key;                 /* "ns/name" */
	uint16_t name_off;         /* name is key + name_off */
	uint8_t state;             /* enum sched_pod_state */
	bool binding;              /* a binding request is in flight (holds the struct) */
	bool deleted;              /* gone from the apiserver; freed when the binding returns */
	int32_t node;              /* node index, or -1 */
	int32_t priority;
	uint32_t group;            /* spread group (0: none) */
	int64_t cpu, mem, nz_cpu, nz_mem;
	struct sched_hostport *ports;
	uint16_t nports;
	struct sched_pending *p;   /* NULL once bound */
};

struct sched_group;

struct sched_cache {
	struct sched_node **nodes;        /* by index; NULL for a free slot */
	uint32_t nnodes;                  /* slots in use or free below this */
	uint32_t *free_slots;
	uint32_t nfree;
	struct strmap node_by_name;
	uint32_t *present;                /* indices of nodes that exist */
	uint32_t npresent;
	struct strmap pods;               /* "ns/name" -> struct sched_pod */
	struct countmap spread;           /* (group << 32 | node) -> pods */
	struct strmap groups;             /* group key -> struct sched_group */
	struct sched_group **group_by_id;
	uint32_t ngroups;
	uint32_t *free_groups;
	uint32_t nfree_groups;
	json_t *strings;                  /* interned strings are this object's keys */
};

void sched_cache_init(struct sched_cache *c);
/* Frees every node and pod. */
void sched_cache_release(struct sched_cache *c);

/* A string that lives as long as the cache; equal strings share one copy.
 * NULL and "" give NULL. */
const char *sched_cache_intern(struct sched_cache *c, const char *s);

/* Nodes. */
struct sched_node *sched_cache_node(const struct sched_cache *c, const char *name);
/*
 * Creates or refreshes the node from a Node object (borrowed). Returns the
 * node and sets *changed to a mask of what changed that could let a pending
 * pod fit (SCHED_EV_NODE_ADD or SCHED_EV_NODE_UPDATE, 0 for nothing).
 */
struct sched_node *sched_cache_upsert_node(struct sched_cache *c, const json_t *obj, unsigned *changed);
/* The node called name, or a placeholder (not present: filters never see
 * it) that holds the pods bound to a node the cache has not heard of. */
struct sched_node *sched_cache_node_or_placeholder(struct sched_cache *c, const char *name);
/* The Node object is gone; the slot stays while pods are bound to it. */
void sched_cache_remove_node(struct sched_cache *c, const char *name);

/* Pods. */
struct sched_pod *sched_cache_pod(const struct sched_cache *c, const char *key);
/*
 * Parses a Pod object (borrowed) into a new struct: requests, host ports,
 * priority, group; with_pending also fills p (for a pod to schedule).
 * Does not add it to the cache. Returns NULL for an object with no name.
 */
struct sched_pod *sched_pod_parse(struct sched_cache *c, const json_t *obj, bool with_pending);
/* Reads requests, ports, priority, group and pending data of a pod that is
 * on no node again from obj (its spec changed). */
void sched_pod_reparse(struct sched_cache *c, struct sched_pod *pod, const json_t *obj);
/* Fills pod->p from obj (replacing what was there). */
void sched_pod_parse_pending(struct sched_cache *c, struct sched_pod *pod, const json_t *obj);
/* Frees pod->p. */
void sched_pod_drop_pending(struct sched_pod *pod);
/* A hash of what decides scheduling (spec and labels) of a Pod object. */
uint64_t sched_pod_spec_hash(const json_t *obj);
/* Frees a pod that is not (or no longer) in the cache. */
void sched_pod_free(struct sched_cache *c, struct sched_pod *pod);
static inline const char *sched_pod_name(const struct sched_pod *p) { return p->key + p->name_off; }

void sched_cache_add_pod(struct sched_cache *c, struct sched_pod *pod);
void sched_cache_del_pod(struct sched_cache *c, struct sched_pod *pod);
/* Accounts pod on node (assume, or bound when the apiserver says so). */
void sched_cache_place(struct sched_cache *c, struct sched_pod *pod, struct sched_node *node);
/* Takes pod off its node (forget, delete, or moved). */
void sched_cache_unplace(struct sched_cache *c, struct sched_pod *pod);

/* Pods of group on node (SelectorSpread). */
static inline uint32_t sched_cache_spread_count(const struct sched_cache *c, uint32_t group, uint32_t node)
{
	return countmap_get(&c->spread, ((uint64_t)group << 32) | node);
}

/* Kubernetes quantities: "100m", "0.5", "2", "64Mi", "1G", "1e3". scale 1000
 * gives milli-units (cpu), 1 plain units (bytes); rounded up. Returns 0 or -1. */
int sched_quantity_parse(const char *s, int64_t scale, int64_t *out);

/* Cluster events that may let pending pods fit; plugins list theirs. */
#define SCHED_EV_NODE_ADD 0x1u
#define SCHED_EV_NODE_UPDATE 0x2u
#define SCHED_EV_POD_DELETE 0x4u

/* Kubernetes' requests for pods that set none, used in scores only. */
#define SCHED_DEFAULT_MILLI_CPU 100
#define SCHED_DEFAULT_MEMORY (200LL * 1024 * 1024)

#endif
