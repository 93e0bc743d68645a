/*
 * The scheduler cache: Kubernetes quantities, what a Pod object turns into
 * (requests with init containers and overhead, the non-zero defaults, host
 * ports, pending data), node updates and the events they raise, accounting
 * through place/unplace with placeholder nodes, and the two hash maps
 * against a plain array under random operations.
 */
#include "scheduler/cache.h"
#include "scheduler/maps.h"
#include "object.h"
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

static void test_quantities(void)
{
	static const struct {
		const char *s;
		int64_t scale, want;
	} ok[] = {
		{ "100m", 1000, 100 }, { "0.5", 1000, 500 }, { "2", 1000, 2000 }, { "1.5", 1000, 1500 },
		{ "250m", 1, 1 },      /* rounds up */
		{ "64Mi", 1, 64LL << 20 }, { "1Gi", 1, 1LL << 30 }, { "1G", 1, 1000000000 }, { "16Gi", 1, 16LL << 30 },
		{ "1e3", 1, 1000 },    { "1.5k", 1, 1500 }, { "128974848", 1, 128974848 }, { "129M", 1, 129000000 },
		{ "123Mi", 1, 128974848 }, { "1Ki", 1, 1024 }, { "0", 1000, 0 }, { "1m", 1000, 1 }, { "1u", 1000, 1 },
		{ "+3", 1, 3 },
	};
	static const char *const bad[] = { "", "m", "1x", "1.2.3", "Gi", "1 Gi", "--1", "1e", "1e99" };
	int64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		v = -1;
		if (sched_quantity_parse(ok[i].s, ok[i].scale, &v) != 0 || v != ok[i].want)
			fprintf(stderr, "quantity %s scale %lld: got %lld\n", ok[i].s, (long long)ok[i].scale, (long long)v);
		CHECK_INT(sched_quantity_parse(ok[i].s, ok[i].scale, &v), 0);
		CHECK_INT(v, ok[i].want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (sched_quantity_parse(bad[i], 1, &v) == 0)
			fprintf(stderr, "quantity '%s' accepted\n", bad[i]);
		CHECK_INT(sched_quantity_parse(bad[i], 1, &v), -1);
	}
}

static void test_pod_parse(void)
{
	struct sched_cache c;
	json_t *o = parse(
		"{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"prod\",\"uid\":\"u1\",\"labels\":{\"app\":\"web\"}},"
		"\"spec\":{\"priority\":7,\"nodeSelector\":{\"disk\":\"ssd\"},\"preemptionPolicy\":\"Never\","
		"\"tolerations\":[{\"key\":\"k\",\"operator\":\"Equal\",\"value\":\"v\",\"effect\":\"NoSchedule\"},"
		"{\"operator\":\"Exists\"}],"
		"\"overhead\":{\"cpu\":\"50m\"},"
		"\"initContainers\":[{\"name\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"2\",\"memory\":\"10Mi\"}}}],"
		"\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}},"
		"\"ports\":[{\"containerPort\":80,\"hostPort\":8080}]},"
		"{\"name\":\"b\",\"resources\":{\"requests\":{\"memory\":\"1Gi\"}}}]},"
		"\"status\":{\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"False\",\"message\":\"0/1 nodes\"}]}}");
	struct sched_pod *p;

	sched_cache_init(&c);
	p = sched_pod_parse(&c, o, true);
	CHECK_STR(p->key, "prod/web-1");
	CHECK_STR(sched_pod_name(p), "web-1");
	CHECK_INT(p->priority, 7);
	/* Init containers run alone: the pod needs max(2, 0.5) cpu, plus overhead. */
	CHECK_INT(p->cpu, 2050);
	CHECK_INT(p->mem, 2LL << 30);
	/* Container b set no cpu: 100m counts for it in scores only. */
	CHECK_INT(p->nz_cpu, 2050);
	CHECK_INT(p->nz_mem, 2LL << 30);
	CHECK_INT(p->nports, 1);
	CHECK_INT(p->ports[0].port, 8080);
	CHECK_INT(p->ports[0].ip, 0);
	CHECK(p->p != NULL);
	CHECK(p->p->node_selector != NULL);
	CHECK(p->p->preempt_never);
	CHECK_INT(p->p->ntolerations, 2);
	CHECK_STR(p->p->tolerations[0].key, "k");
	CHECK_INT(p->p->tolerations[0].effect, SCHED_EFFECT_NO_SCHEDULE);
	CHECK(p->p->tolerations[1].key == NULL && p->p->tolerations[1].exists);
	CHECK_STR(p->p->uid, "u1");
	CHECK_STR(p->p->condition_message, "0/1 nodes");
	/* Interned strings are shared. */
	CHECK(p->p->tolerations[0].key == sched_cache_intern(&c, "k"));

	/* Status-only changes keep the hash; spec and label changes do not. */
	{
		uint64_t h = sched_pod_spec_hash(o);
		json_object_set_new(json_object_get(o, "status"), "phase", json_string("Pending"));
		CHECK(sched_pod_spec_hash(o) == h);
		json_object_set_new(json_object_get(json_object_get(o, "metadata"), "labels"), "v", json_string("2"));
		CHECK(sched_pod_spec_hash(o) != h);
		CHECK(p->p->spec_hash == h);
	}
	sched_pod_drop_pending(p);
	CHECK(p->p == NULL);
	sched_pod_free(&c, p);
	json_decref(o);
	sched_cache_release(&c);
}

static void test_nodes(void)
{
	struct sched_cache c;
	json_t *o = parse("{\"metadata\":{\"name\":\"n1\",\"labels\":{\"a\":\"1\"}},\"spec\":{},"
			  "\"status\":{\"capacity\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"110\"}}}");
	struct sched_node *n;
	unsigned changed;

	sched_cache_init(&c);
	n = sched_cache_upsert_node(&c, o, &changed);
	CHECK_INT(changed, SCHED_EV_NODE_ADD);
	/* Capacity stands in for a missing allocatable. */
	CHECK_INT(n->alloc_cpu, 4000);
	CHECK_INT(n->alloc_mem, 8LL << 30);
	CHECK_INT(n->alloc_pods, 110);
	CHECK_INT(c.npresent, 1);
	/* The same again (a heartbeat): nothing that could help a pod. */
	CHECK(sched_cache_upsert_node(&c, o, &changed) == n);
	CHECK_INT(changed, 0);
	obj_set(o, "spec.unschedulable", json_true());
	sched_cache_upsert_node(&c, o, &changed);
	CHECK_INT(changed, SCHED_EV_NODE_UPDATE);
	CHECK(n->unschedulable);
	obj_set(o, "metadata.labels.b", json_string("2"));
	sched_cache_upsert_node(&c, o, &changed);
	CHECK_INT(changed, SCHED_EV_NODE_UPDATE);
	obj_set(o, "spec.taints", parse("[{\"key\":\"t\",\"effect\":\"NoSchedule\"}]"));
	sched_cache_upsert_node(&c, o, &changed);
	CHECK_INT(changed, SCHED_EV_NODE_UPDATE);
	CHECK_INT(n->ntaints, 1);
	sched_cache_upsert_node(&c, o, &changed);
	CHECK_INT(changed, 0);

	/* A pod bound to a node we never heard of: a placeholder holds it,
	 * invisible to filters, and goes with its last pod. */
	{
		json_t *po = parse("{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\"},\"spec\":{\"nodeName\":\"ghost\","
				   "\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]}}");
		struct sched_pod *p = sched_pod_parse(&c, po, false);
		struct sched_node *ghost = sched_cache_node_or_placeholder(&c, "ghost");
		sched_cache_add_pod(&c, p);
		sched_cache_place(&c, p, ghost);
		CHECK(!ghost->present);
		CHECK_INT(c.npresent, 1);
		CHECK_INT(ghost->req_cpu, 1000);
		CHECK(sched_cache_pod(&c, "d/x") == p);
		sched_cache_del_pod(&c, p);
		CHECK(sched_cache_node(&c, "ghost") == NULL);
		CHECK(sched_cache_pod(&c, "d/x") == NULL);
		sched_pod_free(&c, p);
		json_decref(po);
	}
	/* A deleted node with pods on it keeps its slot until they go. */
	{
		json_t *po = parse("{\"metadata\":{\"name\":\"y\",\"namespace\":\"d\"},\"spec\":{\"nodeName\":\"n1\"}}");
		struct sched_pod *p = sched_pod_parse(&c, po, false);
		sched_cache_add_pod(&c, p);
		sched_cache_place(&c, p, n);
		sched_cache_remove_node(&c, "n1");
		CHECK_INT(c.npresent, 0);
		CHECK(sched_cache_node(&c, "n1") == n);
		sched_cache_del_pod(&c, p);
		CHECK(sched_cache_node(&c, "n1") == NULL);
		/* The slot is reused by the next node. */
		CHECK_INT(sched_cache_upsert_node(&c, o, &changed)->index, 0);
		CHECK_INT(changed, SCHED_EV_NODE_ADD);
		sched_pod_free(&c, p);
		json_decref(po);
	}
	json_decref(o);
	sched_cache_release(&c);
}

static void test_strmap(void)
{
	enum { N = 5000 };
	struct strmap m;
	static char *keys[N];
	static int present[N];
	unsigned seed = 7;
	size_t live = 0, it = 0, seen = 0;
	const char *k;
	void *v;

	strmap_init(&m);
	for (int i = 0; i < N; i++)
		keys[i] = xasprintf("ns/pod-%d", i);
	for (int round = 0; round < 50000; round++) {
		int i;
		seed = seed * 1103515245u + 12345u;
		i = (int)((seed >> 8) % N);
		if ((seed >> 4) & 1) {
			void *old = strmap_put(&m, keys[i], keys[i]);
			CHECK(old == (present[i] ? keys[i] : NULL));
			live += !present[i];
			present[i] = 1;
		} else {
			void *old = strmap_del(&m, keys[i]);
			CHECK(old == (present[i] ? keys[i] : NULL));
			live -= present[i];
			present[i] = 0;
		}
	}
	CHECK_INT(m.len, live);
	for (int i = 0; i < N; i++)
		if ((strmap_get(&m, keys[i]) != NULL) != present[i])
			CHECK(!"strmap lookup disagrees");
	while (strmap_next(&m, &it, &k, &v)) {
		CHECK(k == v);
		seen++;
	}
	CHECK_INT(seen, live);
	strmap_release(&m);
	for (int i = 0; i < N; i++)
		free(keys[i]);
}

static void test_countmap(void)
{
	enum { N = 3000 };
	struct countmap m;
	static int32_t ref[N];
	unsigned seed = 99;

	countmap_init(&m);
	CHECK_INT(countmap_get(&m, 5), 0);
	for (int round = 0; round < 60000; round++) {
		int i;
		int32_t d;
		seed = seed * 1103515245u + 12345u;
		i = (int)((seed >> 8) % N);
		d = ((seed >> 3) & 3) ? 1 : -1;
		countmap_add(&m, ((uint64_t)i << 32) | 17u, d);
		ref[i] += d;
		if (ref[i] < 0)
			ref[i] = 0;
	}
	for (int i = 0; i < N; i++)
		if ((int32_t)countmap_get(&m, ((uint64_t)i << 32) | 17u) != ref[i])
			CHECK(!"countmap disagrees");
	countmap_release(&m);
}

int main(void)
{
	test_quantities();
	test_pod_parse();
	test_nodes();
	test_strmap();
	test_countmap();
	return test_done();
}
