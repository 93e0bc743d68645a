/*
 * Each scheduler plugin on hand-made nodes and pods (JSON as the apiserver
 * would send it): the filter's verdict and the exact reason Kubernetes
 * gives, and the scores, raw and normalized.
 */
#include "scheduler/cache.h"
#include "scheduler/framework.h"
#include "testing.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sched_cache cache;
static struct sched_framework fw;

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, 0, &jerr);

	if (!v) {
		fprintf(stderr, "bad test JSON at %d: %s\n%s\n", jerr.position, jerr.text, text);
		abort();
	}
	return v;
}

/* A node "name" with cpu/memory/pods allocatable and extra JSON in spec
 * and metadata (may be empty strings). */
static struct sched_node *node(const char *name, const char *cpu, const char *mem, int pods, const char *labels,
			       const char *spec)
{
	char *text = xasprintf("{\"kind\":\"Node\",\"metadata\":{\"name\":\"%s\",\"labels\":{%s}},\"spec\":{%s},"
			       "\"status\":{\"allocatable\":{\"cpu\":\"%s\",\"memory\":\"%s\",\"pods\":\"%d\"}}}",
			       name, labels, spec, cpu, mem, pods);
	json_t *obj = parse(text);
	unsigned changed;
	struct sched_node *n = sched_cache_upsert_node(&cache, obj, &changed);

	json_decref(obj);
	free(text);
	return n;
}

/* A pending pod with the given spec fields (JSON inside "spec") and labels. */
static struct sched_pod *pod(const char *name, const char *labels, const char *spec)
{
	char *text = xasprintf("{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"u-%s\","
			       "\"labels\":{%s}},\"spec\":{%s}}",
			       name, name, labels, spec);
	json_t *obj = parse(text);
	struct sched_pod *p = sched_pod_parse(&cache, obj, true);

	json_decref(obj);
	free(text);
	return p;
}

#define CTR(req) "\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"resources\":{\"requests\":{" req "}}}]"

static enum sched_code run_filter(const struct sched_plugin *pl, const struct sched_pod *p, const struct sched_node *n,
				  struct sched_status *st)
{
	memset(st, 0, sizeof(*st));
	return pl->filter(&fw, p, n, st);
}

static void test_node_name(void)
{
	struct sched_node *n1 = node("nn-1", "4", "8Gi", 110, "", ""), *n2 = node("nn-2", "4", "8Gi", 110, "", "");
	struct sched_pod *any = pod("any", "", CTR("")), *want = pod("want", "", "\"nodeName\":\"nn-2\"," CTR(""));
	struct sched_status st;

	CHECK_INT(run_filter(&sched_plugin_node_name, any, n1, &st), SCHED_OK);
	CHECK_INT(run_filter(&sched_plugin_node_name, want, n2, &st), SCHED_OK);
	CHECK_INT(run_filter(&sched_plugin_node_name, want, n1, &st), SCHED_UNRESOLVABLE);
	CHECK_INT(st.nreasons, 1);
	CHECK_STR(st.reasons[0], "node(s) didn't match the requested node name");
	sched_pod_free(&cache, any);
	sched_pod_free(&cache, want);
}

static void test_node_unschedulable(void)
{
	struct sched_node *cordoned = node("cu-1", "4", "8Gi", 110, "", "\"unschedulable\":true");
	struct sched_node *open = node("cu-2", "4", "8Gi", 110, "", "");
	struct sched_pod *plain = pod("plain", "", CTR(""));
	struct sched_pod *ds = pod("ds", "",
				   "\"tolerations\":[{\"key\":\"node.kubernetes.io/unschedulable\",\"operator\":\"Exists\","
				   "\"effect\":\"NoSchedule\"}]," CTR(""));
	struct sched_status st;

	CHECK(cordoned->unschedulable);
	CHECK_INT(run_filter(&sched_plugin_node_unschedulable, plain, open, &st), SCHED_OK);
	CHECK_INT(run_filter(&sched_plugin_node_unschedulable, plain, cordoned, &st), SCHED_UNRESOLVABLE);
	CHECK_STR(st.reasons[0], "node(s) were unschedulable");
	/* A pod that tolerates the cordon taint may go there (DaemonSets). */
	CHECK_INT(run_filter(&sched_plugin_node_unschedulable, ds, cordoned, &st), SCHED_OK);
	sched_pod_free(&cache, plain);
	sched_pod_free(&cache, ds);
}

static void test_taint_toleration(void)
{
	struct sched_node *notready =
		node("tt-1", "4", "8Gi", 110, "",
		     "\"taints\":[{\"key\":\"node.kubernetes.io/not-ready\",\"effect\":\"NoSchedule\"}]");
	struct sched_node *gpu = node("tt-2", "4", "8Gi", 110, "",
				      "\"taints\":[{\"key\":\"gpu\",\"value\":\"true\",\"effect\":\"NoSchedule\"},"
				      "{\"key\":\"spot\",\"value\":\"yes\",\"effect\":\"PreferNoSchedule\"}]");
	struct sched_node *clean = node("tt-3", "4", "8Gi", 110, "", "");
	/* The default tolerations the apiserver adds are NoExecute only. */
	struct sched_pod *plain = pod("tplain", "",
				      "\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\","
				      "\"effect\":\"NoExecute\",\"tolerationSeconds\":60}]," CTR(""));
	struct sched_pod *gpu_ok = pod("tgpu", "",
				       "\"tolerations\":[{\"key\":\"gpu\",\"operator\":\"Equal\",\"value\":\"true\","
				       "\"effect\":\"NoSchedule\"}]," CTR(""));
	struct sched_pod *gpu_wrong = pod("tgpu2", "",
					  "\"tolerations\":[{\"key\":\"gpu\",\"operator\":\"Equal\",\"value\":\"false\"}],"
					  CTR(""));
	struct sched_pod *all = pod("tall", "", "\"tolerations\":[{\"operator\":\"Exists\"}]," CTR(""));
	struct sched_status st;
	int64_t scores[3];

	CHECK_INT(run_filter(&sched_plugin_taint_toleration, plain, notready, &st), SCHED_UNRESOLVABLE);
	CHECK_STR(st.reasons[0], "node(s) had untolerated taint {node.kubernetes.io/not-ready: }");
	CHECK_INT(run_filter(&sched_plugin_taint_toleration, plain, gpu, &st), SCHED_UNRESOLVABLE);
	CHECK_STR(st.reasons[0], "node(s) had untolerated taint {gpu: true}");
	CHECK_INT(run_filter(&sched_plugin_taint_toleration, plain, clean, &st), SCHED_OK);
	CHECK_INT(run_filter(&sched_plugin_taint_toleration, gpu_ok, gpu, &st), SCHED_OK);
	CHECK_INT(run_filter(&sched_plugin_taint_toleration, gpu_wrong, gpu, &st), SCHED_UNRESOLVABLE);
	/* An empty key with Exists tolerates everything. */
	CHECK_INT(run_filter(&sched_plugin_taint_toleration, all, notready, &st), SCHED_OK);
	CHECK_INT(run_filter(&sched_plugin_taint_toleration, all, gpu, &st), SCHED_OK);

	/* PreferNoSchedule only scores: the untolerated one on tt-2 costs it. */
	scores[0] = sched_plugin_taint_toleration.score(&fw, gpu_ok, gpu);
	scores[1] = sched_plugin_taint_toleration.score(&fw, gpu_ok, clean);
	CHECK_INT(scores[0], 1);
	CHECK_INT(scores[1], 0);
	sched_plugin_taint_toleration.normalize(&fw, gpu_ok, scores, 2);
	CHECK_INT(scores[0], 0);
	CHECK_INT(scores[1], 100);
	CHECK_INT(sched_plugin_taint_toleration.score(&fw, all, gpu), 0);

	sched_pod_free(&cache, plain);
	sched_pod_free(&cache, gpu_ok);
	sched_pod_free(&cache, gpu_wrong);
	sched_pod_free(&cache, all);
}

static void test_node_affinity(void)
{
	struct sched_node *ssd = node("na-1", "4", "8Gi", 110, "\"disk\":\"ssd\",\"zone\":\"a\",\"gen\":\"5\"", "");
	struct sched_node *hdd = node("na-2", "4", "8Gi", 110, "\"disk\":\"hdd\",\"zone\":\"b\",\"gen\":\"3\"", "");
	struct sched_node *bare = node("na-3", "4", "8Gi", 110, "", "");
	struct sched_pod *sel = pod("asel", "", "\"nodeSelector\":{\"disk\":\"ssd\"}," CTR(""));
	struct sched_status st;
	struct {
		const char *expr;
		bool want[3];
	} cases[] = {
		{ "{\"key\":\"disk\",\"operator\":\"In\",\"values\":[\"ssd\",\"nvme\"]}", { true, false, false } },
		{ "{\"key\":\"disk\",\"operator\":\"NotIn\",\"values\":[\"ssd\"]}", { false, true, true } },
		{ "{\"key\":\"disk\",\"operator\":\"Exists\"}", { true, true, false } },
		{ "{\"key\":\"disk\",\"operator\":\"DoesNotExist\"}", { false, false, true } },
		{ "{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"4\"]}", { true, false, false } },
		{ "{\"key\":\"gen\",\"operator\":\"Lt\",\"values\":[\"4\"]}", { false, true, false } },
		{ "{\"key\":\"gen\",\"operator\":\"Gt\",\"values\":[\"x\"]}", { false, false, false } },
	};
	struct sched_node *nodes[3] = { ssd, hdd, bare };

	CHECK_INT(run_filter(&sched_plugin_node_affinity, sel, ssd, &st), SCHED_OK);
	CHECK_INT(run_filter(&sched_plugin_node_affinity, sel, hdd, &st), SCHED_UNRESOLVABLE);
	CHECK_STR(st.reasons[0], "node(s) didn't match Pod's node affinity/selector");
	CHECK_INT(run_filter(&sched_plugin_node_affinity, sel, bare, &st), SCHED_UNRESOLVABLE);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *spec = xasprintf("\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
				       "{\"nodeSelectorTerms\":[{\"matchExpressions\":[%s]}]}}}," CTR(""),
				       cases[i].expr);
		struct sched_pod *p = pod("aexpr", "", spec);
		for (int j = 0; j < 3; j++) {
			enum sched_code got = run_filter(&sched_plugin_node_affinity, p, nodes[j], &st);
			if ((got == SCHED_OK) != cases[i].want[j])
				fprintf(stderr, "case %zu node %d: %s\n", i, j, cases[i].expr);
			CHECK_INT(got == SCHED_OK, cases[i].want[j]);
		}
		sched_pod_free(&cache, p);
		free(spec);
	}

	/* Terms are ORed, expressions inside a term ANDed; matchFields on the name. */
	{
		struct sched_pod *p = pod(
			"aor", "",
			"\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":{\"nodeSelectorTerms\":["
			"{\"matchExpressions\":[{\"key\":\"disk\",\"operator\":\"In\",\"values\":[\"ssd\"]},"
			"{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"b\"]}]},"
			"{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"na-3\"]}]}]}}}," CTR(""));
		CHECK_INT(run_filter(&sched_plugin_node_affinity, p, ssd, &st), SCHED_UNRESOLVABLE);
		CHECK_INT(run_filter(&sched_plugin_node_affinity, p, hdd, &st), SCHED_UNRESOLVABLE);
		CHECK_INT(run_filter(&sched_plugin_node_affinity, p, bare, &st), SCHED_OK);
		sched_pod_free(&cache, p);
	}

	/* Preferred terms: weights of the matching terms, normalized by the max. */
	{
		struct sched_pod *p = pod(
			"apref", "",
			"\"affinity\":{\"nodeAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":["
			"{\"weight\":80,\"preference\":{\"matchExpressions\":[{\"key\":\"disk\",\"operator\":\"In\",\"values\":[\"ssd\"]}]}},"
			"{\"weight\":20,\"preference\":{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Exists\"}]}}]}}," CTR(""));
		int64_t sc[3];
		for (int j = 0; j < 3; j++)
			sc[j] = sched_plugin_node_affinity.score(&fw, p, nodes[j]);
		CHECK_INT(sc[0], 100);
		CHECK_INT(sc[1], 20);
		CHECK_INT(sc[2], 0);
		sched_plugin_node_affinity.normalize(&fw, p, sc, 3);
		CHECK_INT(sc[0], 100);
		CHECK_INT(sc[1], 20);
		CHECK_INT(sc[2], 0);
		/* No preference at all: every node scores 0. */
		CHECK_INT(sched_plugin_node_affinity.score(&fw, sel, ssd), 0);
		sched_pod_free(&cache, p);
	}
	sched_pod_free(&cache, sel);
}

static void test_node_ports(void)
{
	struct sched_node *n = node("np-1", "4", "8Gi", 110, "", "");
	struct sched_pod *holder = pod("np-holder", "",
				       "\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":80,"
				       "\"hostPort\":8080},{\"containerPort\":53,\"hostPort\":5353,\"protocol\":\"UDP\","
				       "\"hostIP\":\"10.0.0.1\"}]}]");
	struct sched_pod *same = pod("np-same", "", "\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":1,\"hostPort\":8080}]}]");
	struct sched_pod *udp = pod("np-udp", "", "\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":1,\"hostPort\":8080,\"protocol\":\"UDP\"}]}]");
	struct sched_pod *other_ip = pod("np-ip", "", "\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":1,\"hostPort\":5353,\"protocol\":\"UDP\",\"hostIP\":\"10.0.0.2\"}]}]");
	struct sched_pod *any_ip = pod("np-any", "", "\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{\"containerPort\":1,\"hostPort\":5353,\"protocol\":\"UDP\"}]}]");
	struct sched_status st;

	CHECK_INT(holder->nports, 2);
	CHECK_INT(run_filter(&sched_plugin_node_ports, same, n, &st), SCHED_OK);
	sched_cache_add_pod(&cache, holder);
	sched_cache_place(&cache, holder, n);
	CHECK_INT(run_filter(&sched_plugin_node_ports, same, n, &st), SCHED_UNSCHEDULABLE);
	CHECK_STR(st.reasons[0], "node(s) didn't have free ports for the requested pod ports");
	CHECK_INT(run_filter(&sched_plugin_node_ports, udp, n, &st), SCHED_OK);
	CHECK_INT(run_filter(&sched_plugin_node_ports, other_ip, n, &st), SCHED_OK);
	/* 0.0.0.0 overlaps every address. */
	CHECK_INT(run_filter(&sched_plugin_node_ports, any_ip, n, &st), SCHED_UNSCHEDULABLE);
	sched_cache_del_pod(&cache, holder);
	CHECK_INT(n->nports, 0);
	CHECK_INT(run_filter(&sched_plugin_node_ports, same, n, &st), SCHED_OK);
	sched_pod_free(&cache, holder);
	sched_pod_free(&cache, same);
	sched_pod_free(&cache, udp);
	sched_pod_free(&cache, other_ip);
	sched_pod_free(&cache, any_ip);
}

static void test_resources_fit(void)
{
	struct sched_node *n = node("rf-1", "2", "4Gi", 2, "", "");
	struct sched_pod *half = pod("rf-half", "", CTR("\"cpu\":\"1\",\"memory\":\"1Gi\""));
	struct sched_pod *big = pod("rf-big", "", CTR("\"cpu\":\"1500m\",\"memory\":\"3500Mi\""));
	struct sched_pod *none = pod("rf-none", "", CTR(""));
	struct sched_pod *p1 = pod("rf-1", "", CTR("\"cpu\":\"500m\""));
	struct sched_status st;

	CHECK_INT(run_filter(&sched_plugin_node_resources_fit, half, n, &st), SCHED_OK);
	CHECK_INT(run_filter(&sched_plugin_node_resources_fit, big, n, &st), SCHED_OK);
	sched_cache_add_pod(&cache, half);
	sched_cache_place(&cache, half, n);
	CHECK_INT(n->req_cpu, 1000);
	CHECK_INT(n->req_mem, 1LL << 30);
	/* Both shortfalls are reasons, in Kubernetes' order. */
	CHECK_INT(run_filter(&sched_plugin_node_resources_fit, big, n, &st), SCHED_UNSCHEDULABLE);
	CHECK_INT(st.nreasons, 2);
	CHECK_STR(st.reasons[0], "Insufficient cpu");
	CHECK_STR(st.reasons[1], "Insufficient memory");
	/* Requests of zero always fit the resources... */
	CHECK_INT(run_filter(&sched_plugin_node_resources_fit, none, n, &st), SCHED_OK);
	sched_cache_add_pod(&cache, p1);
	sched_cache_place(&cache, p1, n);
	/* ...but not the pod count. */
	CHECK_INT(run_filter(&sched_plugin_node_resources_fit, none, n, &st), SCHED_UNSCHEDULABLE);
	CHECK_INT(st.nreasons, 1);
	CHECK_STR(st.reasons[0], "Too many pods");
	CHECK_INT(run_filter(&sched_plugin_node_resources_fit, big, n, &st), SCHED_UNSCHEDULABLE);
	CHECK_INT(st.nreasons, 3);
	CHECK_STR(st.reasons[0], "Too many pods");
	sched_cache_del_pod(&cache, p1);
	sched_cache_del_pod(&cache, half);
	CHECK_INT(n->req_cpu, 0);
	CHECK_INT(n->npods, 0);
	sched_pod_free(&cache, half);
	sched_pod_free(&cache, big);
	sched_pod_free(&cache, none);
	sched_pod_free(&cache, p1);
}

static void test_resources_scores(void)
{
	struct sched_node *a = node("rs-a", "4", "8Gi", 110, "", ""), *b = node("rs-b", "4", "8Gi", 110, "", "");
	struct sched_pod *load = pod("rs-load", "", CTR("\"cpu\":\"2\",\"memory\":\"2Gi\""));
	struct sched_pod *p = pod("rs-p", "", CTR("\"cpu\":\"1\",\"memory\":\"2Gi\""));
	struct sched_pod *none = pod("rs-none", "", CTR(""));

	sched_cache_add_pod(&cache, load);
	sched_cache_place(&cache, load, a);
	/* LeastAllocated: a has 4-3=1 cpu (25) and 8-4=4Gi (50) left: 37; b 75 and 75. */
	fw.scoring = SCHED_LEAST_ALLOCATED;
	CHECK_INT(sched_plugin_node_resources_fit.score(&fw, p, a), 37);
	CHECK_INT(sched_plugin_node_resources_fit.score(&fw, p, b), 75);
	/* MostAllocated: the opposite preference. */
	fw.scoring = SCHED_MOST_ALLOCATED;
	CHECK_INT(sched_plugin_node_resources_fit.score(&fw, p, a), 62);
	CHECK_INT(sched_plugin_node_resources_fit.score(&fw, p, b), 25);
	fw.scoring = SCHED_LEAST_ALLOCATED;
	/* A pod without requests counts as 100m and 200Mi here. */
	CHECK_INT(none->nz_cpu, 100);
	CHECK_INT(none->nz_mem, 200LL << 20);
	CHECK_INT(sched_plugin_node_resources_fit.score(&fw, none, b), (97 + 97) / 2);

	/* Balanced: a ends at 3/4 cpu and 4/8 memory: 1 - 0.25/2 = 87; b at 1/4 and 2/8: 100. */
	CHECK_INT(sched_plugin_balanced_allocation.score(&fw, p, a), 87);
	CHECK_INT(sched_plugin_balanced_allocation.score(&fw, p, b), 100);
	/* A pod that requests nothing is not scored by it. */
	CHECK_INT(sched_plugin_balanced_allocation.score(&fw, none, a), 0);
	sched_cache_del_pod(&cache, load);
	sched_pod_free(&cache, load);
	sched_pod_free(&cache, p);
	sched_pod_free(&cache, none);
}

static void test_selector_spread(void)
{
	struct sched_node *a = node("ss-a", "4", "8Gi", 110, "", ""), *b = node("ss-b", "4", "8Gi", 110, "", "");
	struct sched_node *c = node("ss-c", "4", "8Gi", 110, "", "");
	const char *owner = "\"app\":\"web\"";
	struct sched_pod *w1 = pod("ss-w1", owner, CTR("")), *w2 = pod("ss-w2", owner, CTR(""));
	struct sched_pod *w3 = pod("ss-w3", owner, CTR(""));
	struct sched_pod *other = pod("ss-o", "\"app\":\"db\"", CTR(""));
	struct sched_pod *nolabels = pod("ss-n", "", CTR(""));
	int64_t sc[3];

	CHECK(w1->group != 0);
	CHECK_INT(w1->group, w2->group);
	CHECK(other->group != w1->group);
	CHECK_INT(nolabels->group, 0);
	sched_cache_add_pod(&cache, w1);
	sched_cache_place(&cache, w1, a);
	sched_cache_add_pod(&cache, w2);
	sched_cache_place(&cache, w2, a);
	sched_cache_add_pod(&cache, other);
	sched_cache_place(&cache, other, b);
	sc[0] = sched_plugin_selector_spread.score(&fw, w3, a);
	sc[1] = sched_plugin_selector_spread.score(&fw, w3, b);
	sc[2] = sched_plugin_selector_spread.score(&fw, w3, c);
	CHECK_INT(sc[0], 2);
	CHECK_INT(sc[1], 0);
	CHECK_INT(sc[2], 0);
	sched_plugin_selector_spread.normalize(&fw, w3, sc, 3);
	CHECK_INT(sc[0], 0);
	CHECK_INT(sc[1], 100);
	CHECK_INT(sc[2], 100);
	/* Pods of no group: every node the same. */
	CHECK_INT(sched_plugin_selector_spread.score(&fw, nolabels, a), 0);

	/* Pods of one ReplicaSet share its uid, whatever their labels. */
	{
		struct sched_pod *r1 = pod("ss-r1", "\"x\":\"1\"", CTR(""));
		char *t = xasprintf("{\"metadata\":{\"name\":\"ss-r2\",\"namespace\":\"default\",\"labels\":{\"x\":\"2\"},"
				    "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"uid\":\"rs-uid\",\"controller\":true}]},"
				    "\"spec\":{}}");
		char *t3 = xasprintf("{\"metadata\":{\"name\":\"ss-r3\",\"namespace\":\"other\",\"labels\":{\"x\":\"3\"},"
				     "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"uid\":\"rs-uid\",\"controller\":true}]},"
				     "\"spec\":{}}");
		json_t *o2 = parse(t), *o3 = parse(t3);
		struct sched_pod *r2 = sched_pod_parse(&cache, o2, false), *r3 = sched_pod_parse(&cache, o3, false);
		CHECK_INT(r2->group, r3->group);
		CHECK(r2->group != r1->group);
		sched_pod_free(&cache, r1);
		sched_pod_free(&cache, r2);
		sched_pod_free(&cache, r3);
		json_decref(o2);
		json_decref(o3);
		free(t);
		free(t3);
	}

	sched_cache_del_pod(&cache, w1);
	sched_cache_del_pod(&cache, w2);
	sched_cache_del_pod(&cache, other);
	CHECK_INT(sched_cache_spread_count(&cache, w3->group, a->index), 0);
	sched_pod_free(&cache, w1);
	sched_pod_free(&cache, w2);
	sched_pod_free(&cache, w3);
	sched_pod_free(&cache, other);
	sched_pod_free(&cache, nolabels);
}

static void test_registry(void)
{
	int n = 0;

	for (size_t i = 0; sched_plugins[i]; i++, n++) {
		CHECK(sched_plugins[i]->name != NULL);
		CHECK(sched_plugins[i]->filter || sched_plugins[i]->score);
		CHECK(sched_plugin_by_name(sched_plugins[i]->name) == sched_plugins[i]);
	}
	CHECK_INT(n, 8);
	CHECK(sched_plugin_by_name("noderesourcesfit") == &sched_plugin_node_resources_fit);
	CHECK(sched_plugin_by_name("NoSuchPlugin") == NULL);
}

int main(void)
{
	char *err;

	sched_cache_init(&cache);
	CHECK_INT(sched_framework_init(&fw, &cache, NULL, &err), 0);
	test_registry();
	test_node_name();
	test_node_unschedulable();
	test_taint_toleration();
	test_node_affinity();
	test_node_ports();
	test_resources_fit();
	test_resources_scores();
	test_selector_spread();
	sched_framework_release(&fw);
	sched_cache_release(&cache);
	return test_done();
}
