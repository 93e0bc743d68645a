/*
 * The scheduler cache behind cache.h: Node and Pod objects turned into
 * compact structs, node accounting (requests, pod count, host ports, spread
 * groups) as pods are assumed, bound, forgotten and deleted, and Kubernetes
 * quantity parsing for cpu and memory.
 */
#include "scheduler/cache.h"
#include "core/object.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sched_group {
	char *key;
	uint32_t id;
	uint32_t refs;
};

void sched_cache_init(struct sched_cache *c)
{
	memset(c, 0, sizeof(*c));
	strmap_init(&c->node_by_name);
	strmap_init(&c->pods);
	strmap_init(&c->groups);
	countmap_init(&c->spread);
	c->strings = json_object();
	/* Group 0 means "none"; ids start at 1. */
	c->group_by_id = xcalloc(1, sizeof(*c->group_by_id));
	c->ngroups = 1;
}

static void node_free(struct sched_node *n)
{
	json_decref(n->labels);
	free(n->taints);
	free(n->ports);
	free(n->name);
	free(n);
}

void sched_cache_release(struct sched_cache *c)
{
	const char *k;
	void *v;
	size_t it = 0;

	while (strmap_next(&c->pods, &it, &k, &v)) {
		struct sched_pod *p = v;
		/* A pod still binding is owned by its request, which the caller
		 * cancelled; free it here all the same. */
		sched_pod_drop_pending(p);
		free(p->ports);
		free(p->key);
		free(p);
	}
	strmap_release(&c->pods);
	for (uint32_t i = 0; i < c->nnodes; i++)
		if (c->nodes[i])
			node_free(c->nodes[i]);
	free(c->nodes);
	free(c->free_slots);
	free(c->present);
	strmap_release(&c->node_by_name);
	for (uint32_t i = 0; i < c->ngroups; i++) {
		if (c->group_by_id[i]) {
			free(c->group_by_id[i]->key);
			free(c->group_by_id[i]);
		}
	}
	free(c->group_by_id);
	free(c->free_groups);
	strmap_release(&c->groups);
	countmap_release(&c->spread);
	json_decref(c->strings);
	memset(c, 0, sizeof(*c));
}

const char *sched_cache_intern(struct sched_cache *c, const char *s)
{
	void *it;

	if (!s || !*s)
		return NULL;
	it = json_object_iter_at(c->strings, s);
	if (!it) {
		json_object_set_new(c->strings, s, json_null());
		it = json_object_iter_at(c->strings, s);
	}
	return json_object_iter_key(it);
}

/* ---- quantities -------------------------------------------------------- */

int sched_quantity_parse(const char *s, int64_t scale, int64_t *out)
{
	static const struct {
		const char *suffix;
		long double mult;
	} suffixes[] = {
		{ "Ki", 1024.0L }, { "Mi", 1048576.0L }, { "Gi", 1073741824.0L },
		{ "Ti", 1099511627776.0L }, { "Pi", 1125899906842624.0L }, { "Ei", 1152921504606846976.0L },
		{ "n", 1e-9L }, { "u", 1e-6L }, { "m", 1e-3L }, { "", 1.0L }, { "k", 1e3L }, { "M", 1e6L },
		{ "G", 1e9L }, { "T", 1e12L }, { "P", 1e15L }, { "E", 1e18L },
	};
	const char *p = s;
	long double mant = 0, frac = 0.1L, v;
	bool neg = false, digits = false;

	if (!s || !*s)
		return -1;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (; isdigit((unsigned char)*p); p++, digits = true)
		mant = mant * 10 + (*p - '0');
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, digits = true, frac /= 10)
			mant += (*p - '0') * frac;
	}
	if (!digits)
		return -1;
	if ((*p == 'e' || *p == 'E') && (isdigit((unsigned char)p[1]) ||
					 ((p[1] == '-' || p[1] == '+') && isdigit((unsigned char)p[2])))) {
		char *end;
		long e = strtol(p + 1, &end, 10);
		if (e > 30 || e < -30)
			return -1;
		mant *= powl(10.0L, (long double)e);
		p = end;
	} else {
		size_t i;
		for (i = 0; i < ARRAY_SIZE(suffixes); i++)
			if (!strcmp(p, suffixes[i].suffix))
				break;
		if (i == ARRAY_SIZE(suffixes))
			return -1;
		mant *= suffixes[i].mult;
		p += strlen(p);
	}
	if (*p)
		return -1;
	v = ceill(mant * (long double)scale - 1e-9L);
	if (v > 9.2e18L)
		return -1;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static int64_t quantity_of(const json_t *list, const char *name, int64_t scale, bool *set)
{
	json_t *v = json_object_get(list, name);
	int64_t q = 0;

	if (set)
		*set = v != NULL;
	if (json_is_string(v)) {
		if (sched_quantity_parse(json_string_value(v), scale, &q) < 0)
			q = 0;
	} else if (json_is_integer(v)) {
		q = json_integer_value(v) * scale;
	} else if (json_is_real(v)) {
		q = (int64_t)ceil(json_real_value(v) * (double)scale);
	}
	return q;
}

/* ---- nodes ------------------------------------------------------------- */

struct sched_node *sched_cache_node(const struct sched_cache *c, const char *name)
{
	return strmap_get(&c->node_by_name, name);
}

static uint8_t parse_effect(const char *e)
{
	if (!e || !*e)
		return SCHED_EFFECT_ANY;
	if (!strcmp(e, "NoSchedule"))
		return SCHED_EFFECT_NO_SCHEDULE;
	if (!strcmp(e, "PreferNoSchedule"))
		return SCHED_EFFECT_PREFER_NO_SCHEDULE;
	if (!strcmp(e, "NoExecute"))
		return SCHED_EFFECT_NO_EXECUTE;
	return SCHED_EFFECT_ANY;
}

static struct sched_node *node_new(struct sched_cache *c, const char *name)
{
	struct sched_node *n = xcalloc(1, sizeof(*n));

	n->name = xstrdup(name);
	if (c->nfree) {
		n->index = c->free_slots[--c->nfree];
	} else {
		c->nodes = xrealloc(c->nodes, (c->nnodes + 1) * sizeof(*c->nodes));
		n->index = c->nnodes++;
	}
	c->nodes[n->index] = n;
	strmap_put(&c->node_by_name, n->name, n);
	return n;
}

static void node_release_slot(struct sched_cache *c, struct sched_node *n)
{
	strmap_del(&c->node_by_name, n->name);
	c->nodes[n->index] = NULL;
	c->free_slots = xrealloc(c->free_slots, (c->nfree + 1) * sizeof(*c->free_slots));
	c->free_slots[c->nfree++] = n->index;
	node_free(n);
}

static void present_add(struct sched_cache *c, struct sched_node *n)
{
	c->present = xrealloc(c->present, (c->npresent + 1) * sizeof(*c->present));
	n->present_pos = c->npresent;
	c->present[c->npresent++] = n->index;
	n->present = true;
}

static void present_del(struct sched_cache *c, struct sched_node *n)
{
	uint32_t last = c->present[--c->npresent];

	c->present[n->present_pos] = last;
	c->nodes[last]->present_pos = n->present_pos;
	n->present = false;
}

static bool taints_equal(const struct sched_taint *a, uint16_t na, const struct sched_taint *b, uint16_t nb)
{
	if (na != nb)
		return false;
	for (uint16_t i = 0; i < na; i++)
		if (a[i].key != b[i].key || a[i].value != b[i].value || a[i].effect != b[i].effect)
			return false;
	return true;
}

struct sched_node *sched_cache_upsert_node(struct sched_cache *c, const json_t *obj, unsigned *changed)
{
	const char *name = obj_name(obj);
	struct sched_node *n;
	json_t *alloc, *labels, *taints, *t;
	struct sched_taint *nt = NULL;
	uint16_t ntaints = 0;
	int64_t cpu, mem, pods;
	bool unsched, fresh = false;
	size_t i;

	*changed = 0;
	if (!name)
		return NULL;
	n = sched_cache_node(c, name);
	if (!n)
		n = node_new(c, name);
	if (!n->present) {
		present_add(c, n);
		fresh = true;
	}

	alloc = obj_get(obj, "status.allocatable");
	if (!json_is_object(alloc))
		alloc = obj_get(obj, "status.capacity");
	cpu = quantity_of(alloc, "cpu", 1000, NULL);
	mem = quantity_of(alloc, "memory", 1, NULL);
	pods = quantity_of(alloc, "pods", 1, NULL);
	unsched = obj_bool(obj, "spec.unschedulable", false);
	labels = obj_get(obj, "metadata.labels");
	if (!json_is_object(labels))
		labels = NULL;
	taints = obj_get(obj, "spec.taints");
	if (json_array_size(taints)) {
		nt = xcalloc(json_array_size(taints), sizeof(*nt));
		json_array_foreach(taints, i, t) {
			if (!obj_str(t, "key"))
				continue;
			nt[ntaints].key = sched_cache_intern(c, obj_str(t, "key"));
			nt[ntaints].value = sched_cache_intern(c, obj_str(t, "value"));
			nt[ntaints].effect = parse_effect(obj_str(t, "effect"));
			ntaints++;
		}
	}

	if (fresh)
		*changed = SCHED_EV_NODE_ADD;
	else if (cpu != n->alloc_cpu || mem != n->alloc_mem || pods != n->alloc_pods || unsched != n->unschedulable ||
		 !taints_equal(nt, ntaints, n->taints, n->ntaints) ||
		 !((!labels && !n->labels) || (labels && n->labels && json_equal(labels, n->labels))))
		*changed = SCHED_EV_NODE_UPDATE;

	n->alloc_cpu = cpu;
	n->alloc_mem = mem;
	n->alloc_pods = pods;
	n->unschedulable = unsched;
	json_decref(n->labels);
	/* A copy: the caller may reuse its object (informer objects are shared). */
	n->labels = labels ? json_deep_copy(labels) : NULL;
	free(n->taints);
	n->taints = nt;
	n->ntaints = ntaints;
	return n;
}

struct sched_node *sched_cache_node_or_placeholder(struct sched_cache *c, const char *name)
{
	struct sched_node *n = sched_cache_node(c, name);

	return n ? n : node_new(c, name);
}

void sched_cache_remove_node(struct sched_cache *c, const char *name)
{
	struct sched_node *n = sched_cache_node(c, name);

	if (!n)
		return;
	if (n->present)
		present_del(c, n);
	if (n->npods == 0)
		node_release_slot(c, n);
}

/* ---- pods -------------------------------------------------------------- */

struct sched_pod *sched_cache_pod(const struct sched_cache *c, const char *key)
{
	return strmap_get(&c->pods, key);
}

static uint32_t group_ref(struct sched_cache *c, const char *key)
{
	struct sched_group *g = strmap_get(&c->groups, key);

	if (!g) {
		g = xcalloc(1, sizeof(*g));
		g->key = xstrdup(key);
		if (c->nfree_groups) {
			g->id = c->free_groups[--c->nfree_groups];
		} else {
			c->group_by_id = xrealloc(c->group_by_id, (c->ngroups + 1) * sizeof(*c->group_by_id));
			g->id = c->ngroups++;
		}
		c->group_by_id[g->id] = g;
		strmap_put(&c->groups, g->key, g);
	}
	g->refs++;
	return g->id;
}

static void group_unref(struct sched_cache *c, uint32_t id)
{
	struct sched_group *g;

	if (!id || id >= c->ngroups || !(g = c->group_by_id[id]))
		return;
	if (--g->refs)
		return;
	strmap_del(&c->groups, g->key);
	c->group_by_id[id] = NULL;
	c->free_groups = xrealloc(c->free_groups, (c->nfree_groups + 1) * sizeof(*c->free_groups));
	c->free_groups[c->nfree_groups++] = id;
	free(g->key);
	free(g);
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The spread group: pods of one controller (the ownerReference with
 * controller: true, as a ReplicaSet sets it), or, for pods without one, pods
 * of one namespace with exactly the same labels. Kubernetes' SelectorSpread
 * used the selectors of Services and ReplicaSets; the owner is what those
 * selectors find in practice, and needs no extra watches.
 */
static uint32_t pod_group(struct sched_cache *c, const json_t *obj)
{
	json_t *owners = obj_get(obj, "metadata.ownerReferences"), *o, *labels, *v;
	struct strbuf sb;
	const char *k, **keys;
	size_t i, n;
	uint32_t id;

	json_array_foreach(owners, i, o) {
		if (obj_bool(o, "controller", false) && obj_str(o, "uid")) {
			char *key = xasprintf("o:%s", obj_str(o, "uid"));
			id = group_ref(c, key);
			free(key);
			return id;
		}
	}
	labels = obj_get(obj, "metadata.labels");
	n = json_object_size(labels);
	if (!n)
		return 0;
	keys = xmalloc(n * sizeof(*keys));
	i = 0;
	json_object_foreach(labels, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_cstr);
	strbuf_init(&sb, 64);
	strbuf_addf(&sb, "l:%s", obj_namespace(obj) ?: "");
	for (i = 0; i < n; i++)
		strbuf_addf(&sb, "%c%s=%s", i ? ',' : ':', keys[i],
			    json_string_value(json_object_get(labels, keys[i])) ?: "");
	id = group_ref(c, sb.buf);
	strbuf_release(&sb);
	free(keys);
	return id;
}

static uint32_t parse_ip(const char *s)
{
	struct in_addr a;

	if (!s || !*s || !strcmp(s, "0.0.0.0") || !strcmp(s, "::"))
		return 0;
	if (inet_pton(AF_INET, s, &a) == 1)
		return ntohl(a.s_addr);
	return maps_hash(s) | 1u;
}

static uint8_t parse_proto(const char *p)
{
	if (p && !strcmp(p, "UDP"))
		return SCHED_UDP;
	if (p && !strcmp(p, "SCTP"))
		return SCHED_SCTP;
	return SCHED_TCP;
}

/* Sums one container list's requests, with and without the non-zero defaults. */
static void container_requests(const json_t *containers, bool init, int64_t *cpu, int64_t *mem, int64_t *nzc,
			       int64_t *nzm)
{
	json_t *ctr;
	size_t i;

	json_array_foreach(containers, i, ctr) {
		json_t *req = obj_get(ctr, "resources.requests");
		bool cset, mset;
		int64_t c = quantity_of(req, "cpu", 1000, &cset), m = quantity_of(req, "memory", 1, &mset);
		int64_t zc = cset ? c : SCHED_DEFAULT_MILLI_CPU, zm = mset ? m : SCHED_DEFAULT_MEMORY;

		if (init) {
			/* Init containers run one at a time: the pod needs the largest. */
			*cpu = c > *cpu ? c : *cpu;
			*mem = m > *mem ? m : *mem;
			*nzc = zc > *nzc ? zc : *nzc;
			*nzm = zm > *nzm ? zm : *nzm;
		} else {
			*cpu += c;
			*mem += m;
			*nzc += zc;
			*nzm += zm;
		}
	}
}

static void pod_resources(struct sched_pod *p, const json_t *obj)
{
	json_t *spec = obj_get(obj, "spec"), *ctr, *port;
	int64_t ic = 0, im = 0, izc = 0, izm = 0;
	size_t i, j, n = 0;

	p->cpu = p->mem = p->nz_cpu = p->nz_mem = 0;
	container_requests(obj_get(spec, "containers"), false, &p->cpu, &p->mem, &p->nz_cpu, &p->nz_mem);
	container_requests(obj_get(spec, "initContainers"), true, &ic, &im, &izc, &izm);
	p->cpu = ic > p->cpu ? ic : p->cpu;
	p->mem = im > p->mem ? im : p->mem;
	p->nz_cpu = izc > p->nz_cpu ? izc : p->nz_cpu;
	p->nz_mem = izm > p->nz_mem ? izm : p->nz_mem;
	ic = quantity_of(obj_get(spec, "overhead"), "cpu", 1000, NULL);
	im = quantity_of(obj_get(spec, "overhead"), "memory", 1, NULL);
	p->cpu += ic;
	p->nz_cpu += ic;
	p->mem += im;
	p->nz_mem += im;

	free(p->ports);
	p->ports = NULL;
	p->nports = 0;
	json_array_foreach(obj_get(spec, "containers"), i, ctr) {
		json_array_foreach(obj_get(ctr, "ports"), j, port) {
			int64_t hp = obj_int(port, "hostPort", 0);
			if (hp <= 0 || hp > 65535)
				continue;
			p->ports = xrealloc(p->ports, (n + 1) * sizeof(*p->ports));
			p->ports[n].ip = parse_ip(obj_str(port, "hostIP"));
			p->ports[n].port = (uint16_t)hp;
			p->ports[n].proto = parse_proto(obj_str(port, "protocol"));
			n++;
		}
	}
	p->nports = (uint16_t)n;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ULL;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dULL;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_bytes(const char *s, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* A hash of a JSON value that does not depend on the order of object
 * members (their hashes are added), so no dump and no sorting is needed:
 * this runs for every pending pod. */
static uint64_t json_hash(const json_t *v)
{
	uint64_t h = 1469598103934665603ULL + (uint64_t)json_typeof(v);
	const char *k;
	json_t *x;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		uint64_t sum = 0;
		json_object_foreach((json_t *)v, k, x)
			sum += mix64(hash_bytes(k, strlen(k), 14695981039346656037ULL) ^ json_hash(x));
		return mix64(h ^ sum);
	}
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
			h = mix64(h ^ json_hash(x)) + i;
		return h;
	case JSON_STRING:
		return mix64(hash_bytes(json_string_value(v), json_string_length(v), h));
	case JSON_INTEGER:
		return mix64(h ^ (uint64_t)json_integer_value(v));
	case JSON_REAL: {
		double d = json_real_value(v);
		uint64_t bits;
		memcpy(&bits, &d, sizeof(bits));
		return mix64(h ^ bits);
	}
	default:
		return mix64(h);
	}
}

uint64_t sched_pod_spec_hash(const json_t *obj)
{
	json_t *spec = obj_get(obj, "spec"), *labels = obj_get(obj, "metadata.labels");

	return mix64((spec ? json_hash(spec) : 1) * 31 + (labels ? json_hash(labels) : 2));
}

void sched_pod_drop_pending(struct sched_pod *pod)
{
	struct sched_pending *p = pod->p;

	if (!p)
		return;
	json_decref(p->node_selector);
	json_decref(p->required_terms);
	json_decref(p->preferred_terms);
	free(p->tolerations);
	free(p->uid);
	free(p->condition_message);
	free(p);
	pod->p = NULL;
}

static json_t *ref_if(json_t *v, bool (*ok)(const json_t *))
{
	return v && ok(v) ? json_incref(v) : NULL;
}

static bool is_object(const json_t *v)
{
	return json_is_object(v);
}

static bool is_array(const json_t *v)
{
	return json_is_array(v);
}

void sched_pod_parse_pending(struct sched_cache *c, struct sched_pod *pod, const json_t *obj)
{
	struct sched_pending *p = pod->p;
	json_t *na = obj_get(obj, "spec.affinity.nodeAffinity"), *tols, *t, *conds, *cond;
	size_t i;

	if (!p) {
		p = pod->p = xcalloc(1, sizeof(*p));
		p->heap_pos = -1;
	}
	json_decref(p->node_selector);
	json_decref(p->required_terms);
	json_decref(p->preferred_terms);
	free(p->tolerations);
	free(p->uid);
	p->node_name = sched_cache_intern(c, obj_str(obj, "spec.nodeName"));
	p->node_selector = ref_if(obj_get(obj, "spec.nodeSelector"), is_object);
	p->required_terms = ref_if(obj_get(na, "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"),
				   is_array);
	p->preferred_terms = ref_if(obj_get(na, "preferredDuringSchedulingIgnoredDuringExecution"), is_array);
	tols = obj_get(obj, "spec.tolerations");
	p->tolerations = NULL;
	p->ntolerations = 0;
	if (json_array_size(tols)) {
		p->tolerations = xcalloc(json_array_size(tols), sizeof(*p->tolerations));
		json_array_foreach(tols, i, t) {
			struct sched_toleration *x = &p->tolerations[p->ntolerations++];
			const char *op = obj_str(t, "operator");
			x->key = sched_cache_intern(c, obj_str(t, "key"));
			x->value = sched_cache_intern(c, obj_str(t, "value"));
			x->exists = op && !strcmp(op, "Exists");
			x->effect = parse_effect(obj_str(t, "effect"));
		}
	}
	p->preempt_never = obj_str(obj, "spec.preemptionPolicy") &&
			   !strcmp(obj_str(obj, "spec.preemptionPolicy"), "Never");
	p->spec_hash = sched_pod_spec_hash(obj);
	p->uid = xstrdup(obj_str(obj, "metadata.uid") ?: "");
	free(p->condition_message);
	p->condition_message = NULL;
	conds = obj_get(obj, "status.conditions");
	json_array_foreach(conds, i, cond) {
		const char *type = obj_str(cond, "type"), *st = obj_str(cond, "status");
		if (type && !strcmp(type, "PodScheduled") && st && !strcmp(st, "False") && obj_str(cond, "message"))
			p->condition_message = xstrdup(obj_str(cond, "message"));
	}
}

struct sched_pod *sched_pod_parse(struct sched_cache *c, const json_t *obj, bool with_pending)
{
	const char *ns = obj_namespace(obj), *name = obj_name(obj);
	struct sched_pod *p;

	if (!name)
		return NULL;
	if (!ns)
		ns = "";
	p = xcalloc(1, sizeof(*p));
	p->key = xasprintf("%s/%s", ns, name);
	p->name_off = (uint16_t)(strlen(ns) + 1);
	p->node = -1;
	p->priority = (int32_t)obj_int(obj, "spec.priority", 0);
	pod_resources(p, obj);
	p->group = pod_group(c, obj);
	if (with_pending)
		sched_pod_parse_pending(c, p, obj);
	return p;
}

void sched_pod_reparse(struct sched_cache *c, struct sched_pod *pod, const json_t *obj)
{
	uint32_t old = pod->group;

	pod->priority = (int32_t)obj_int(obj, "spec.priority", 0);
	pod_resources(pod, obj);
	pod->group = pod_group(c, obj);
	group_unref(c, old);
	sched_pod_parse_pending(c, pod, obj);
}

void sched_pod_free(struct sched_cache *c, struct sched_pod *pod)
{
	if (!pod)
		return;
	group_unref(c, pod->group);
	sched_pod_drop_pending(pod);
	free(pod->ports);
	free(pod->key);
	free(pod);
}

void sched_cache_add_pod(struct sched_cache *c, struct sched_pod *pod)
{
	strmap_put(&c->pods, pod->key, pod);
}

void sched_cache_del_pod(struct sched_cache *c, struct sched_pod *pod)
{
	sched_cache_unplace(c, pod);
	if (strmap_get(&c->pods, pod->key) == pod)
		strmap_del(&c->pods, pod->key);
}

void sched_cache_place(struct sched_cache *c, struct sched_pod *pod, struct sched_node *n)
{
	if (pod->node >= 0)
		sched_cache_unplace(c, pod);
	pod->node = (int32_t)n->index;
	n->req_cpu += pod->cpu;
	n->req_mem += pod->mem;
	n->nz_cpu += pod->nz_cpu;
	n->nz_mem += pod->nz_mem;
	n->npods++;
	if (pod->nports) {
		if (n->nports + pod->nports > n->aports) {
			n->aports = (n->nports + pod->nports) * 2;
			n->ports = xrealloc(n->ports, n->aports * sizeof(*n->ports));
		}
		memcpy(n->ports + n->nports, pod->ports, pod->nports * sizeof(*pod->ports));
		n->nports += pod->nports;
	}
	if (pod->group)
		countmap_add(&c->spread, ((uint64_t)pod->group << 32) | n->index, 1);
}

void sched_cache_unplace(struct sched_cache *c, struct sched_pod *pod)
{
	struct sched_node *n;

	if (pod->node < 0)
		return;
	n = c->nodes[pod->node];
	pod->node = -1;
	if (!n)
		return;
	n->req_cpu -= pod->cpu;
	n->req_mem -= pod->mem;
	n->nz_cpu -= pod->nz_cpu;
	n->nz_mem -= pod->nz_mem;
	n->npods--;
	for (uint16_t i = 0; i < pod->nports; i++) {
		for (uint32_t j = 0; j < n->nports; j++) {
			struct sched_hostport *u = &n->ports[j];
			if (u->ip == pod->ports[i].ip && u->port == pod->ports[i].port &&
			    u->proto == pod->ports[i].proto) {
				*u = n->ports[--n->nports];
				break;
			}
		}
	}
	if (pod->group)
		countmap_add(&c->spread, ((uint64_t)pod->group << 32) | n->index, -1);
	if (!n->present && n->npods == 0)
		node_release_slot(c, n);
}
