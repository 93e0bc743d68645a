/*
 * One scheduling cycle (framework.h): filter the nodes, starting where the
 * last cycle stopped and stopping once enough fit (Kubernetes'
 * percentageOfNodesToScore, so a cycle costs O(nodes looked at), never
 * O(nodes x pods)); score the feasible ones; pick the best. When none fit,
 * the reasons of every node are counted into the FailedScheduling message.
 */
#include "scheduler/framework.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

/* Kubernetes' constants for how many feasible nodes to look for. */
#define MIN_FEASIBLE_NODES 100
#define MIN_FEASIBLE_PERCENT 5

enum sched_code sched_status_fail(struct sched_status *st, enum sched_code code, const char *reason)
{
	if (code > st->code)
		st->code = code;
	if (st->nreasons < SCHED_MAX_REASONS)
		st->reasons[st->nreasons++] = reason;
	return st->code;
}

void sched_normalize_default(int64_t *scores, size_t n, bool reverse)
{
	int64_t max = 0;

	for (size_t i = 0; i < n; i++)
		if (scores[i] > max)
			max = scores[i];
	if (max == 0) {
		if (reverse)
			for (size_t i = 0; i < n; i++)
				scores[i] = SCHED_MAX_NODE_SCORE;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t s = SCHED_MAX_NODE_SCORE * scores[i] / max;
		scores[i] = reverse ? SCHED_MAX_NODE_SCORE - s : s;
	}
}

uint32_t sched_nodes_to_find(uint32_t n, int percentage)
{
	int64_t pct = percentage, want;

	if (n < MIN_FEASIBLE_NODES || pct >= 100)
		return n;
	if (pct <= 0) {
		pct = 50 - (int64_t)n / 125;
		if (pct < MIN_FEASIBLE_PERCENT)
			pct = MIN_FEASIBLE_PERCENT;
	}
	want = (int64_t)n * pct / 100;
	return want < MIN_FEASIBLE_NODES ? MIN_FEASIBLE_NODES : (uint32_t)want;
}

static int add_plugin(struct sched_framework *fw, const struct sched_plugin *p, int weight, char **err)
{
	for (int i = 0; i < fw->nfilters; i++)
		if (fw->filters[i] == p)
			goto scores;
	if (p->filter) {
		if (fw->nfilters == SCHED_MAX_PLUGINS)
			goto full;
		fw->filters[fw->nfilters++] = p;
	}
scores:
	if (!p->score)
		return 0;
	for (int i = 0; i < fw->nscorers; i++) {
		if (fw->scorers[i] == p) {
			fw->weights[i] = weight;
			return 0;
		}
	}
	if (fw->nscorers == SCHED_MAX_PLUGINS)
		goto full;
	fw->scorers[fw->nscorers] = p;
	fw->weights[fw->nscorers++] = weight;
	return 0;
full:
	*err = xasprintf("too many scheduler plugins (at most %d)", SCHED_MAX_PLUGINS);
	return -1;
}

/* Filters run in registry order whatever order the list names them in. */
static void sort_filters(struct sched_framework *fw)
{
	const struct sched_plugin *sorted[SCHED_MAX_PLUGINS];
	int n = 0;

	for (size_t r = 0; sched_plugins[r]; r++)
		for (int i = 0; i < fw->nfilters; i++)
			if (fw->filters[i] == sched_plugins[r])
				sorted[n++] = fw->filters[i];
	memcpy(fw->filters, sorted, n * sizeof(*sorted));
}

int sched_framework_init(struct sched_framework *fw, struct sched_cache *cache, const char *spec, char **err)
{
	char *copy, *save = NULL;

	memset(fw, 0, sizeof(*fw));
	fw->cache = cache;
	fw->rand_state = 0x9e3779b97f4a7c15ULL ^ now_ms();
	*err = NULL;
	if (!spec || !*spec) {
		for (size_t i = 0; sched_plugins[i]; i++)
			add_plugin(fw, sched_plugins[i], sched_plugins[i]->default_weight, err);
		return 0;
	}
	copy = xstrdup(spec);
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		const struct sched_plugin *p;
		long w;

		while (*tok == ' ')
			tok++;
		if (eq)
			*eq = '\0';
		p = sched_plugin_by_name(tok);
		if (!p) {
			struct strbuf sb;
			strbuf_init(&sb, 128);
			for (size_t i = 0; sched_plugins[i]; i++)
				strbuf_addf(&sb, "%s%s", i ? ", " : "", sched_plugins[i]->name);
			*err = xasprintf("unknown scheduler plugin '%s': use one of %s", tok, sb.buf);
			strbuf_release(&sb);
			goto fail;
		}
		w = p->default_weight;
		if (eq) {
			w = strtol(eq + 1, &end, 10);
			if (!eq[1] || *end || w < 0 || w > 100) {
				*err = xasprintf("invalid weight '%s' for scheduler plugin '%s': use 0 to 100", eq + 1,
						 p->name);
				goto fail;
			}
		}
		if (add_plugin(fw, p, (int)w, err) < 0)
			goto fail;
	}
	free(copy);
	sort_filters(fw);
	return 0;
fail:
	free(copy);
	fw->nfilters = fw->nscorers = 0;
	return -1;
}

void sched_framework_release(struct sched_framework *fw)
{
	free(fw->feasible);
	free(fw->scores);
	free(fw->totals);
	fw->feasible = NULL;
	fw->scores = fw->totals = NULL;
	fw->scratch_cap = 0;
}

static uint64_t next_rand(struct sched_framework *fw)
{
	uint64_t x = fw->rand_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return fw->rand_state = x;
}

/* ---- the failure message ------------------------------------------------ */

struct reason_tally {
	struct sched_reason_count *v;
	size_t n, cap;
};

static void tally_add(struct reason_tally *t, const char *reason)
{
	for (size_t i = 0; i < t->n; i++) {
		if (!strcmp(t->v[i].reason, reason)) {
			t->v[i].count++;
			return;
		}
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n].reason = xstrdup(reason);
	t->v[t->n++].count = 1;
}

static void tally_release(struct reason_tally *t)
{
	for (size_t i = 0; i < t->n; i++)
		free((char *)t->v[i].reason);
	free(t->v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "n reason" strings joined by ", " in Go's sort.Strings order (bytes). */
static void add_histogram(struct strbuf *sb, const struct sched_reason_count *r, size_t n)
{
	char **items = xcalloc(n ? n : 1, sizeof(*items));
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (r[i].count)
			items[k++] = xasprintf("%u %s", r[i].count, r[i].reason);
	qsort(items, k, sizeof(*items), cmp_str);
	for (size_t i = 0; i < k; i++) {
		strbuf_addf(sb, "%s%s", i ? ", " : "", items[i]);
		free(items[i]);
	}
	free(items);
}

/*
 * Kubernetes 1.32's FitError.Error(): "0/N nodes are available: <reasons>."
 * then DefaultPreemption's PostFilter message. minik8s never preempts, so
 * that half says what Kubernetes says when preemption finds nothing: nodes
 * that failed for a reason no eviction can fix (UnschedulableAndUnresolvable)
 * are "Preemption is not helpful for scheduling", the others have "No
 * preemption victims found for incoming pod" (every pod here counts as the
 * same priority). 1.30 dropped the doubled period these messages once had.
 */
char *sched_fit_message(uint32_t nnodes, const struct sched_reason_count *reasons, size_t nreasons,
			uint32_t unresolvable_nodes, uint32_t resolvable_nodes, bool preempt_never)
{
	struct strbuf sb;

	strbuf_init(&sb, 160);
	strbuf_addf(&sb, "0/%u nodes are available:", nnodes);
	if (nreasons) {
		strbuf_addc(&sb, ' ');
		add_histogram(&sb, reasons, nreasons);
		strbuf_addc(&sb, '.');
	}
	if (preempt_never) {
		strbuf_adds(&sb, " preemption: not eligible due to preemptionPolicy=Never.");
	} else {
		struct sched_reason_count pre[2] = {
			{ "Preemption is not helpful for scheduling", unresolvable_nodes },
			{ "No preemption victims found for incoming pod", resolvable_nodes },
		};
		strbuf_addf(&sb, " preemption: 0/%u nodes are available: ", nnodes);
		add_histogram(&sb, pre, 2);
		strbuf_addc(&sb, '.');
	}
	return strbuf_detach(&sb, NULL);
}

/* ---- the cycle ------------------------------------------------------------ */

static void ensure_scratch(struct sched_framework *fw, size_t n)
{
	size_t per = (size_t)(fw->nscorers ? fw->nscorers : 1);

	if (n <= fw->scratch_cap)
		return;
	fw->scratch_cap = n * 2;
	fw->feasible = xrealloc(fw->feasible, fw->scratch_cap * sizeof(*fw->feasible));
	fw->scores = xrealloc(fw->scores, fw->scratch_cap * per * sizeof(*fw->scores));
	fw->totals = xrealloc(fw->totals, fw->scratch_cap * sizeof(*fw->totals));
}

void sched_framework_schedule(struct sched_framework *fw, const struct sched_pod *pod, struct sched_result *res)
{
	struct sched_cache *c = fw->cache;
	uint32_t n = c->npresent, want, start, k, nfeasible = 0, unresolvable = 0, resolvable = 0;
	struct reason_tally tally = { 0 };
	struct sched_status st;

	memset(res, 0, sizeof(*res));
	res->node = -1;
	if (n == 0) {
		res->message = xstrdup("no nodes available to schedule pods");
		res->requeue_events = SCHED_EV_NODE_ADD;
		return;
	}
	ensure_scratch(fw, n);
	want = sched_nodes_to_find(n, fw->percentage);
	start = fw->next_start % n;

	for (k = 0; k < n && nfeasible < want; k++) {
		uint32_t idx = c->present[(start + k) % n];
		const struct sched_node *node = c->nodes[idx];
		int i;

		st.code = SCHED_OK;
		st.nreasons = 0;
		for (i = 0; i < fw->nfilters; i++)
			if (fw->filters[i]->filter(fw, pod, node, &st) != SCHED_OK)
				break;
		if (i == fw->nfilters) {
			fw->feasible[nfeasible++] = idx;
			continue;
		}
		res->rejected_by |= 1u << i;
		res->requeue_events |= fw->filters[i]->requeue_events;
		if (st.code == SCHED_UNRESOLVABLE)
			unresolvable++;
		else
			resolvable++;
		for (int r = 0; r < st.nreasons; r++)
			tally_add(&tally, st.reasons[r]);
	}
	res->evaluated = k;
	res->feasible = nfeasible;
	fw->next_start = (start + k) % n;

	if (nfeasible == 0) {
		res->message = sched_fit_message(n, tally.v, tally.n, unresolvable, resolvable,
						 pod->p && pod->p->preempt_never);
		tally_release(&tally);
		return;
	}
	tally_release(&tally);
	res->rejected_by = 0;
	res->requeue_events = 0;
	if (nfeasible == 1) {
		res->node = (int32_t)fw->feasible[0];
		return;
	}

	memset(fw->totals, 0, nfeasible * sizeof(*fw->totals));
	for (int s = 0; s < fw->nscorers; s++) {
		const struct sched_plugin *p = fw->scorers[s];
		int64_t *sc = fw->scores + (size_t)s * fw->scratch_cap;

		if (!fw->weights[s])
			continue;
		for (uint32_t i = 0; i < nfeasible; i++)
			sc[i] = p->score(fw, pod, c->nodes[fw->feasible[i]]);
		if (p->normalize)
			p->normalize(fw, pod, sc, nfeasible);
		for (uint32_t i = 0; i < nfeasible; i++)
			fw->totals[i] += sc[i] * fw->weights[s];
	}

	/* The best score; among equals each is as likely (reservoir sampling). */
	{
		int64_t best = -1;
		uint32_t ties = 0, pick = 0;

		for (uint32_t i = 0; i < nfeasible; i++) {
			if (fw->totals[i] > best) {
				best = fw->totals[i];
				pick = i;
				ties = 1;
			} else if (fw->totals[i] == best && next_rand(fw) % ++ties == 0) {
				pick = i;
			}
		}
		res->node = (int32_t)fw->feasible[pick];
	}
}
