/*
 * The scheduling framework, kube-scheduler's shape at teaching scale: a
 * plugin is a named table of optional hooks (filter, score, normalize); a
 * cycle runs every enabled filter on the nodes, every enabled score plugin
 * on the nodes that passed, weighs and adds the scores and picks the best
 * node (ties broken at random). When no node passes, the per-node reasons
 * become Kubernetes' message: "0/3 nodes are available: 3 Insufficient cpu.
 * preemption: 0/3 nodes are available: 3 No preemption victims found for
 * incoming pod."
 *
 *   pod --> filter x nodes --> feasible --> score x plugins --> normalize
 *            | none                          --> weight, sum --> best node
 *            v
 *         reasons --> "0/N nodes are available: ..."
 */
#ifndef MINIK8S_SCHEDULER_FRAMEWORK_H
#define MINIK8S_SCHEDULER_FRAMEWORK_H

#include <stddef.h>
#include <stdint.h>

#include "scheduler/cache.h"

#define SCHED_MAX_NODE_SCORE 100
#define SCHED_MAX_PLUGINS 16
#define SCHED_MAX_REASONS 4

/* A filter's verdict. Unresolvable says preemption could not help either
 * (the node lacks a label, a taint is not tolerated), which changes the
 * "preemption:" half of the message. */
enum sched_code {
	SCHED_OK = 0,
	SCHED_UNSCHEDULABLE,
	SCHED_UNRESOLVABLE,
};

/* Why a node failed a filter: one or more reasons, static strings or one
 * formatted into buf (for taints). */
struct sched_status {
	enum sched_code code;
	int nreasons;
	const char *reasons[SCHED_MAX_REASONS];
	char buf[256];
};

/* Helpers for filters: set code and add a reason (static string or buf). */
enum sched_code sched_status_fail(struct sched_status *st, enum sched_code code, const char *reason);

enum sched_scoring { SCHED_LEAST_ALLOCATED = 0, SCHED_MOST_ALLOCATED };

struct sched_framework;

/*
 * How to add a plugin (see src/scheduler/plugins/):
 *   1. Write src/scheduler/plugins/<name>.c ending in
 *      `const struct sched_plugin sched_plugin_<name> = { "<Name>", ... }`
 *      with the hooks it takes part in (NULL for the others).
 *   2. Declare it below and list it in sched_plugins[] (plugins/registry.c)
 *      with its default weight; add the file to src/scheduler/meson.build.
 *   3. Test its filter reasons and scores in tests/unit/test-scheduler-plugins.c.
 */
struct sched_plugin {
	const char *name;   /* as Kubernetes names it: "NodeResourcesFit" */
	/* Does node fit pod? SCHED_OK, or a failure with reasons in st. */
	enum sched_code (*filter)(const struct sched_framework *fw, const struct sched_pod *pod,
				  const struct sched_node *node, struct sched_status *st);
	/* A raw score for a node that passed every filter. Without normalize it
	 * must be 0..SCHED_MAX_NODE_SCORE, higher is better. */
	int64_t (*score)(const struct sched_framework *fw, const struct sched_pod *pod,
			 const struct sched_node *node);
	/* Rescales the raw scores of the n feasible nodes to 0..100. */
	void (*normalize)(const struct sched_framework *fw, const struct sched_pod *pod, int64_t *scores,
			  size_t n);
	/* SCHED_EV_* after which a pod this plugin rejected may fit. */
	unsigned requeue_events;
	int default_weight; /* for score plugins */
};

/* The registry, NULL-terminated, in Kubernetes' filter order. */
extern const struct sched_plugin *const sched_plugins[];
const struct sched_plugin *sched_plugin_by_name(const char *name);

extern const struct sched_plugin sched_plugin_node_unschedulable, sched_plugin_node_name,
	sched_plugin_taint_toleration, sched_plugin_node_affinity, sched_plugin_node_ports,
	sched_plugin_node_resources_fit, sched_plugin_balanced_allocation, sched_plugin_selector_spread;

struct sched_framework {
	const struct sched_plugin *filters[SCHED_MAX_PLUGINS];
	int nfilters;
	const struct sched_plugin *scorers[SCHED_MAX_PLUGINS];
	int weights[SCHED_MAX_PLUGINS];
	int nscorers;
	enum sched_scoring scoring;
	int percentage;              /* of nodes to look at once enough fit; 0: adaptive as Kubernetes */
	struct sched_cache *cache;   /* borrowed */
	uint32_t next_start;         /* where the next cycle starts looking (fairness) */
	uint64_t rand_state;
	/* scratch, reused by every cycle */
	uint32_t *feasible;
	int64_t *scores, *totals;
	size_t scratch_cap;
};

/*
 * Sets up fw over cache. spec NULL enables every plugin of the registry
 * (scores with their default weights); else a comma-separated list of
 * "Name" or "Name=weight". Returns 0, or -1 with *err set (heap string)
 * for an unknown plugin or a bad weight.
 */
int sched_framework_init(struct sched_framework *fw, struct sched_cache *cache, const char *spec,
			 char **err);
void sched_framework_release(struct sched_framework *fw);

struct sched_result {
	int32_t node;          /* chosen node index, or -1 */
	uint32_t evaluated;    /* nodes filtered */
	uint32_t feasible;     /* nodes that passed */
	uint32_t rejected_by;  /* when none fit: bit i set if filters[i] rejected some node */
	unsigned requeue_events; /* when none fit: the events that may change that */
	char *message;         /* when none fit: the FailedScheduling message (heap) */
};

/* One scheduling cycle for pod. Returns with res filled; free res->message. */
void sched_framework_schedule(struct sched_framework *fw, const struct sched_pod *pod,
			      struct sched_result *res);

/* How many feasible nodes a cycle looks for among n (percentage 0: adaptive). */
uint32_t sched_nodes_to_find(uint32_t n, int percentage);

/*
 * The failure message from per-reason counts, as Kubernetes 1.32 words it:
 * reasons are "count reason" strings sorted as Go's sort.Strings sorts them.
 * Exposed for tests.
 */
struct sched_reason_count {
	const char *reason;
	uint32_t count;
};
char *sched_fit_message(uint32_t nnodes, const struct sched_reason_count *reasons, size_t nreasons,
			uint32_t unresolvable_nodes, uint32_t resolvable_nodes, bool preempt_never);

/* Normalizers shared by plugins: scale to 0..100 by the maximum (reverse:
 * the lowest raw score gets 100), as Kubernetes' DefaultNormalizeScore. */
void sched_normalize_default(int64_t *scores, size_t n, bool reverse);

/* Whether labels (a JSON object, may be NULL) satisfy a nodeSelector
 * object / one nodeSelectorTerm; shared by NodeAffinity and its tests. */
bool sched_match_node_selector(const json_t *selector, const json_t *labels);
bool sched_match_node_selector_term(const json_t *term, const json_t *labels);

/* Whether a toleration list tolerates a taint (TaintToleration's rule). */
bool sched_tolerates(const struct sched_toleration *tols, size_t n, const struct sched_taint *t);

#endif
