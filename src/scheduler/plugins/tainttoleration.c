/*
 * TaintToleration: a node's NoSchedule and NoExecute taints keep out every
 * pod that does not tolerate them; this is how a NotReady or unreachable
 * node (tainted node.kubernetes.io/not-ready or .../unreachable by the node
 * lifecycle controller) stops getting pods. PreferNoSchedule taints only
 * lower the score: fewer untolerated ones is better.
 */
#include "scheduler/framework.h"

#include <stdio.h>
#include <string.h>

bool sched_tolerates(const struct sched_toleration *tols, size_t n, const struct sched_taint *t)
{
	for (size_t i = 0; i < n; i++) {
		const struct sched_toleration *x = &tols[i];
		if (x->effect != SCHED_EFFECT_ANY && x->effect != t->effect)
			continue;
		if (x->key && (!t->key || strcmp(x->key, t->key)))
			continue;
		if (x->exists)
			return true;
		if ((!x->value && !t->value) || (x->value && t->value && !strcmp(x->value, t->value)))
			return true;
	}
	return false;
}

static enum sched_code filter(const struct sched_framework *fw, const struct sched_pod *pod,
			      const struct sched_node *node, struct sched_status *st)
{
	const struct sched_toleration *tols = pod->p ? pod->p->tolerations : NULL;
	size_t ntols = pod->p ? pod->p->ntolerations : 0;

	for (uint16_t i = 0; i < node->ntaints; i++) {
		const struct sched_taint *t = &node->taints[i];
		if (t->effect != SCHED_EFFECT_NO_SCHEDULE && t->effect != SCHED_EFFECT_NO_EXECUTE)
			continue;
		if (sched_tolerates(tols, ntols, t))
			continue;
		snprintf(st->buf, sizeof(st->buf), "node(s) had untolerated taint {%s: %s}", t->key ? t->key : "",
			 t->value ? t->value : "");
		return sched_status_fail(st, SCHED_UNRESOLVABLE, st->buf);
	}
	return SCHED_OK;
}

/* Untolerated PreferNoSchedule taints; only tolerations for that effect (or
 * every effect) count, as in Kubernetes. */
static int64_t score(const struct sched_framework *fw, const struct sched_pod *pod,
		     const struct sched_node *node)
{
	int64_t n = 0;

	for (uint16_t i = 0; i < node->ntaints; i++) {
		const struct sched_taint *t = &node->taints[i];
		bool ok = false;
		if (t->effect != SCHED_EFFECT_PREFER_NO_SCHEDULE)
			continue;
		for (uint16_t j = 0; pod->p && j < pod->p->ntolerations && !ok; j++) {
			const struct sched_toleration *x = &pod->p->tolerations[j];
			if (x->effect == SCHED_EFFECT_ANY || x->effect == SCHED_EFFECT_PREFER_NO_SCHEDULE)
				ok = sched_tolerates(x, 1, t);
		}
		n += !ok;
	}
	return n;
}

static void normalize(const struct sched_framework *fw, const struct sched_pod *pod, int64_t *scores, size_t n)
{
	sched_normalize_default(scores, n, true);
}

const struct sched_plugin sched_plugin_taint_toleration = {
	.name = "TaintToleration",
	.filter = filter,
	.score = score,
	.normalize = normalize,
	.requeue_events = SCHED_EV_NODE_ADD | SCHED_EV_NODE_UPDATE,
	.default_weight = 3,
};
