/*
 * NodeAffinity: spec.nodeSelector (every key=value must be a node label) and
 * required node affinity (nodeSelectorTerms: any term may match, all
 * expressions of a term must; operators In, NotIn, Exists, DoesNotExist,
 * Gt, Lt, and matchFields on metadata.name) filter nodes. Preferred terms
 * score: the sum of the weights of the terms a node matches.
 */
#include "scheduler/framework.h"
#include "core/object.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool in_values(const json_t *values, const char *v)
{
	json_t *x;
	size_t i;

	json_array_foreach(values, i, x)
		if (json_is_string(x) && !strcmp(json_string_value(x), v))
			return true;
	return false;
}

static bool parse_int(const char *s, long long *out)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return !*end && !errno;
}

/* One requirement against a value that may be absent (v NULL). */
static bool match_requirement(const json_t *e, const char *v)
{
	const char *op = obj_str(e, "operator");
	json_t *values = json_object_get(e, "values");
	long long a, b;

	if (!op)
		return false;
	if (!strcmp(op, "In"))
		return v && in_values(values, v);
	if (!strcmp(op, "NotIn"))
		return !v || !in_values(values, v);
	if (!strcmp(op, "Exists"))
		return v != NULL;
	if (!strcmp(op, "DoesNotExist"))
		return v == NULL;
	if (!strcmp(op, "Gt") || !strcmp(op, "Lt")) {
		if (!v || json_array_size(values) != 1 || !parse_int(v, &a) ||
		    !parse_int(json_string_value(json_array_get(values, 0)), &b))
			return false;
		return op[0] == 'G' ? a > b : a < b;
	}
	return false;
}

/* A nodeSelectorTerm against a node's labels; node_name serves matchFields
 * (metadata.name), NULL when the caller has no node. */
static bool match_term(const json_t *term, const json_t *labels, const char *node_name)
{
	json_t *exprs = json_object_get(term, "matchExpressions"), *fields = json_object_get(term, "matchFields"), *e;
	size_t i;

	/* An empty term matches nothing. */
	if (!json_array_size(exprs) && !json_array_size(fields))
		return false;
	json_array_foreach(exprs, i, e) {
		const char *key = obj_str(e, "key");
		json_t *v = key ? json_object_get(labels, key) : NULL;
		if (!key || !match_requirement(e, json_is_string(v) ? json_string_value(v) : NULL))
			return false;
	}
	json_array_foreach(fields, i, e) {
		const char *key = obj_str(e, "key");
		if (!key || strcmp(key, "metadata.name") || !match_requirement(e, node_name))
			return false;
	}
	return true;
}

bool sched_match_node_selector_term(const json_t *term, const json_t *labels)
{
	return match_term(term, labels, NULL);
}

bool sched_match_node_selector(const json_t *selector, const json_t *labels)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)selector, k, v) {
		json_t *have = json_object_get(labels, k);
		if (!json_is_string(have) || !json_is_string(v) || strcmp(json_string_value(have), json_string_value(v)))
			return false;
	}
	return true;
}

static enum sched_code filter(const struct sched_framework *fw, const struct sched_pod *pod,
			      const struct sched_node *node, struct sched_status *st)
{
	static const char reason[] = "node(s) didn't match Pod's node affinity/selector";
	const struct sched_pending *p = pod->p;
	json_t *term;
	size_t i;
	bool ok;

	if (!p)
		return SCHED_OK;
	if (p->node_selector && !sched_match_node_selector(p->node_selector, node->labels))
		return sched_status_fail(st, SCHED_UNRESOLVABLE, reason);
	if (!p->required_terms)
		return SCHED_OK;
	ok = false;
	json_array_foreach(p->required_terms, i, term) {
		if (match_term(term, node->labels, node->name)) {
			ok = true;
			break;
		}
	}
	return ok ? SCHED_OK : sched_status_fail(st, SCHED_UNRESOLVABLE, reason);
}

static int64_t score(const struct sched_framework *fw, const struct sched_pod *pod,
		     const struct sched_node *node)
{
	json_t *t;
	size_t i;
	int64_t sum = 0;

	if (!pod->p || !pod->p->preferred_terms)
		return 0;
	json_array_foreach(pod->p->preferred_terms, i, t) {
		int64_t w = obj_int(t, "weight", 0);
		if (w > 0 && match_term(json_object_get(t, "preference"), node->labels, node->name))
			sum += w;
	}
	return sum;
}

static void normalize(const struct sched_framework *fw, const struct sched_pod *pod, int64_t *scores, size_t n)
{
	sched_normalize_default(scores, n, false);
}

const struct sched_plugin sched_plugin_node_affinity = {
	.name = "NodeAffinity",
	.filter = filter,
	.score = score,
	.normalize = normalize,
	.requeue_events = SCHED_EV_NODE_ADD | SCHED_EV_NODE_UPDATE,
	.default_weight = 2,
};
