/*
 * The scheduling cycle: the FailedScheduling message word for word as
 * Kubernetes 1.32 writes it (reasons counted and sorted as Go's
 * sort.Strings sorts them, the preemption half), how many nodes a cycle
 * looks at, picking the best node, spreading ties, assume-then-next-cycle
 * accounting, and the --scheduler-plugins list.
 */
#include "scheduler/cache.h"
#include "scheduler/framework.h"
#include "testing.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, 0, &jerr);

	if (!v) {
		fprintf(stderr, "bad test JSON: %s\n%s\n", jerr.text, text);
		abort();
	}
	return v;
}

static struct sched_node *add_node(struct sched_cache *c, const char *name, const char *cpu, const char *labels,
				   const char *spec)
{
	char *t = xasprintf("{\"metadata\":{\"name\":\"%s\",\"labels\":{%s}},\"spec\":{%s},\"status\":{\"allocatable\":"
			    "{\"cpu\":\"%s\",\"memory\":\"16Gi\",\"pods\":\"110\"}}}",
			    name, labels, spec, cpu);
	json_t *o = parse(t);
	unsigned changed;
	struct sched_node *n = sched_cache_upsert_node(c, o, &changed);

	json_decref(o);
	free(t);
	return n;
}

static struct sched_pod *new_pod(struct sched_cache *c, const char *name, const char *labels, const char *extra,
				 const char *cpu)
{
	char *t = xasprintf("{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"u\",\"labels\":{%s}},"
			    "\"spec\":{%s\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":{\"requests\":"
			    "{\"cpu\":\"%s\"}}}]}}",
			    name, labels, extra, cpu);
	json_t *o = parse(t);
	struct sched_pod *p = sched_pod_parse(c, o, true);

	json_decref(o);
	free(t);
	return p;
}

static void test_message(void)
{
	struct sched_reason_count r1[] = { { "Insufficient cpu", 3 } };
	struct sched_reason_count r2[] = {
		{ "Insufficient cpu", 2 },
		{ "node(s) didn't match Pod's node affinity/selector", 1 },
	};
	/* Go sorts "10 ..." before "2 ...": byte order, not numbers. */
	struct sched_reason_count r3[] = {
		{ "node(s) had untolerated taint {node.kubernetes.io/not-ready: }", 2 },
		{ "Insufficient memory", 10 },
		{ "Too many pods", 1 },
	};
	char *m;

	m = sched_fit_message(3, r1, 1, 0, 3, false);
	CHECK_STR(m, "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No "
		     "preemption victims found for incoming pod.");
	free(m);
	m = sched_fit_message(3, r2, 2, 1, 2, false);
	CHECK_STR(m, "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient "
		     "cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No "
		     "preemption victims found for incoming pod.");
	free(m);
	m = sched_fit_message(13, r3, 3, 2, 11, false);
	CHECK_STR(m, "0/13 nodes are available: 1 Too many pods, 10 Insufficient memory, 2 node(s) had untolerated "
		     "taint {node.kubernetes.io/not-ready: }. preemption: 0/13 nodes are available: 11 No preemption "
		     "victims found for incoming pod, 2 Preemption is not helpful for scheduling.");
	free(m);
	m = sched_fit_message(3, r1, 1, 0, 3, true);
	CHECK_STR(m, "0/3 nodes are available: 3 Insufficient cpu. preemption: not eligible due to "
		     "preemptionPolicy=Never.");
	free(m);
}

static void test_nodes_to_find(void)
{
	CHECK_INT(sched_nodes_to_find(3, 0), 3);
	CHECK_INT(sched_nodes_to_find(99, 0), 99);
	/* 50% - 1% per 125 nodes: 1000 nodes -> 42%. */
	CHECK_INT(sched_nodes_to_find(1000, 0), 420);
	/* At least 100 nodes... */
	CHECK_INT(sched_nodes_to_find(150, 0), 100);
	/* ...and at least 5%. */
	CHECK_INT(sched_nodes_to_find(10000, 0), 500);
	CHECK_INT(sched_nodes_to_find(1000, 10), 100);
	CHECK_INT(sched_nodes_to_find(1000, 100), 1000);
}

static void test_cycle(void)
{
	struct sched_cache c;
	struct sched_framework fw;
	struct sched_result res;
	struct sched_node *small, *big, *cordoned;
	struct sched_pod *p, *huge, *sel, *never;
	char *err;

	sched_cache_init(&c);
	CHECK_INT(sched_framework_init(&fw, &c, NULL, &err), 0);

	/* No nodes at all. */
	p = new_pod(&c, "first", "", "", "100m");
	sched_framework_schedule(&fw, p, &res);
	CHECK_INT(res.node, -1);
	CHECK_STR(res.message, "no nodes available to schedule pods");
	CHECK(res.requeue_events & SCHED_EV_NODE_ADD);
	free(res.message);

	small = add_node(&c, "small", "1", "\"disk\":\"hdd\"", "");
	big = add_node(&c, "big", "8", "\"disk\":\"ssd\"", "");
	cordoned = add_node(&c, "cordoned", "8", "", "\"unschedulable\":true");

	/* LeastAllocated and balance prefer the big empty node. */
	sched_framework_schedule(&fw, p, &res);
	CHECK_INT(res.node, (int)big->index);
	CHECK_INT(res.feasible, 2);
	CHECK_INT(res.evaluated, 3);
	CHECK(res.message == NULL);

	/* 4 cpu fits only "big": one feasible node is taken without scoring. */
	huge = new_pod(&c, "huge", "", "", "4");
	sched_framework_schedule(&fw, huge, &res);
	CHECK_INT(res.node, (int)big->index);
	CHECK_INT(res.feasible, 1);
	/* Too big for every node: one reason per node, by the first failing plugin. */
	huge->cpu = 9000;
	sched_framework_schedule(&fw, huge, &res);
	CHECK(res.requeue_events & SCHED_EV_POD_DELETE);
	CHECK(res.requeue_events & SCHED_EV_NODE_UPDATE);
	CHECK_STR(res.message, "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. preemption: "
			       "0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption "
			       "victims found for incoming pod.");
	free(res.message);

	/* nodeSelector: only "small" has hdd; the message of a pod too big for it. */
	sel = new_pod(&c, "sel", "", "\"nodeSelector\":{\"disk\":\"hdd\"},", "2");
	sched_framework_schedule(&fw, sel, &res);
	CHECK_STR(res.message, "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node "
			       "affinity/selector, 1 node(s) were unschedulable. preemption: 0/3 nodes are available: "
			       "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for "
			       "scheduling.");
	CHECK_INT(res.requeue_events & SCHED_EV_POD_DELETE, SCHED_EV_POD_DELETE);
	free(res.message);
	sel->cpu = 500;
	sched_framework_schedule(&fw, sel, &res);
	CHECK_INT(res.node, (int)small->index);

	never = new_pod(&c, "never", "", "\"preemptionPolicy\":\"Never\",", "64");
	sched_framework_schedule(&fw, never, &res);
	CHECK(strstr(res.message, "preemption: not eligible due to preemptionPolicy=Never.") != NULL);
	free(res.message);

	/* Assume: once placed, the next cycle sees the node's cpu taken. */
	{
		struct sched_pod *a = new_pod(&c, "a", "", "", "7");
		struct sched_pod *b = new_pod(&c, "b", "", "", "7");
		sched_framework_schedule(&fw, a, &res);
		CHECK_INT(res.node, (int)big->index);
		sched_cache_add_pod(&c, a);
		sched_cache_place(&c, a, big);
		sched_framework_schedule(&fw, b, &res);
		CHECK_INT(res.node, -1);
		free(res.message);
		/* Forget it again (a failed binding): b fits. */
		sched_cache_unplace(&c, a);
		sched_framework_schedule(&fw, b, &res);
		CHECK_INT(res.node, (int)big->index);
		sched_cache_del_pod(&c, a);
		sched_pod_free(&c, a);
		sched_pod_free(&c, b);
	}
	(void)cordoned;
	sched_pod_free(&c, p);
	sched_pod_free(&c, huge);
	sched_pod_free(&c, sel);
	sched_pod_free(&c, never);
	sched_framework_release(&fw);
	sched_cache_release(&c);
}

/* Equal nodes: pods of one group spread evenly, and with no group the
 * random tie-break still uses every node. */
static void test_spread_and_ties(void)
{
	struct sched_cache c;
	struct sched_framework fw;
	struct sched_result res;
	int counts[4] = { 0 };
	struct sched_pod *pods[40];
	char *err, name[16];

	sched_cache_init(&c);
	CHECK_INT(sched_framework_init(&fw, &c, NULL, &err), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		add_node(&c, name, "64", "", "");
	}
	/* Zero requests, so only spreading tells nodes apart. */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		pods[i] = new_pod(&c, name, "\"app\":\"web\"", "", "0");
		sched_framework_schedule(&fw, pods[i], &res);
		CHECK(res.node >= 0);
		sched_cache_add_pod(&c, pods[i]);
		sched_cache_place(&c, pods[i], c.nodes[res.node]);
		counts[res.node]++;
	}
	for (int i = 0; i < 4; i++)
		CHECK_INT(counts[i], 10);
	for (int i = 0; i < 40; i++) {
		sched_cache_del_pod(&c, pods[i]);
		sched_pod_free(&c, pods[i]);
	}

	/* Only the tie-break left (no scores at all): every node gets some. */
	sched_framework_release(&fw);
	CHECK_INT(sched_framework_init(&fw, &c, "NodeResourcesFit=0", &err), 0);
	memset(counts, 0, sizeof(counts));
	{
		struct sched_pod *p = new_pod(&c, "tie", "", "", "1");
		for (int i = 0; i < 400; i++) {
			sched_framework_schedule(&fw, p, &res);
			counts[res.node]++;
		}
		sched_pod_free(&c, p);
	}
	for (int i = 0; i < 4; i++)
		CHECK(counts[i] > 40);
	sched_framework_release(&fw);
	sched_cache_release(&c);
}

/* With many nodes a cycle stops once enough fit, and the next starts where
 * it stopped, so every node gets looked at in turn. */
static void test_sampling(void)
{
	struct sched_cache c;
	struct sched_framework fw;
	struct sched_result res;
	struct sched_pod *p;
	char *err, name[16];

	sched_cache_init(&c);
	CHECK_INT(sched_framework_init(&fw, &c, NULL, &err), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		add_node(&c, name, "4", "", "");
	}
	p = new_pod(&c, "p", "", "", "1");
	sched_framework_schedule(&fw, p, &res);
	CHECK_INT(res.evaluated, 420);
	CHECK_INT(res.feasible, 420);
	CHECK_INT(fw.next_start, 420);
	sched_framework_schedule(&fw, p, &res);
	CHECK_INT(fw.next_start, 840);
	sched_framework_schedule(&fw, p, &res);
	CHECK_INT(fw.next_start, 260);
	fw.percentage = 100;
	sched_framework_schedule(&fw, p, &res);
	CHECK_INT(res.evaluated, 1000);
	/* Nothing fits: every node is looked at and counted. */
	p->cpu = 5000;
	fw.percentage = 0;
	sched_framework_schedule(&fw, p, &res);
	CHECK_INT(res.evaluated, 1000);
	CHECK_STR(res.message, "0/1000 nodes are available: 1000 Insufficient cpu. preemption: 0/1000 nodes are "
			       "available: 1000 No preemption victims found for incoming pod.");
	free(res.message);
	sched_pod_free(&c, p);
	sched_framework_release(&fw);
	sched_cache_release(&c);
}

static void test_plugin_list(void)
{
	struct sched_cache c;
	struct sched_framework fw;
	char *err = NULL;

	sched_cache_init(&c);
	CHECK_INT(sched_framework_init(&fw, &c, NULL, &err), 0);
	CHECK_INT(fw.nfilters, 6);
	CHECK_INT(fw.nscorers, 5);
	CHECK(fw.filters[0] == &sched_plugin_node_unschedulable);
	sched_framework_release(&fw);

	/* Filters keep Kubernetes' order whatever the list says; weights apply. */
	CHECK_INT(sched_framework_init(&fw, &c, "NodeResourcesFit=5,NodeName,SelectorSpread", &err), 0);
	CHECK_INT(fw.nfilters, 2);
	CHECK(fw.filters[0] == &sched_plugin_node_name);
	CHECK(fw.filters[1] == &sched_plugin_node_resources_fit);
	CHECK_INT(fw.nscorers, 2);
	CHECK_INT(fw.weights[0], 5);
	CHECK_INT(fw.weights[1], 2);
	sched_framework_release(&fw);

	CHECK_INT(sched_framework_init(&fw, &c, "NodeName,Bogus", &err), -1);
	CHECK(err && strstr(err, "unknown scheduler plugin 'Bogus'") && strstr(err, "NodeResourcesFit"));
	free(err);
	CHECK_INT(sched_framework_init(&fw, &c, "NodeResourcesFit=x", &err), -1);
	CHECK(err && strstr(err, "invalid weight 'x'"));
	free(err);
	sched_framework_release(&fw);
	sched_cache_release(&c);
}

int main(void)
{
	test_message();
	test_nodes_to_find();
	test_cycle();
	test_spread_and_ties();
	test_sampling();
	test_plugin_list();
	return test_done();
}
