/*
 * `minik8s scheduler` (and the scheduler thread of `minik8s server`): watches
 * pods and nodes, keeps them in the compact cache, runs one scheduling cycle
 * per queued pod and binds it. Bindings are asynchronous, many in flight on
 * keep-alive connections: a pod is assumed on its node the moment it is
 * picked, so the next cycle already counts it, and forgotten if the binding
 * fails. A pod no node fits gets PodScheduled=False and a FailedScheduling
 * event and waits for a cluster event (docs/scheduler.md).
 *
 *   pods watch --> cache + queue --idle--> cycle --> assume --> POST binding
 *   nodes watch ------^       ^                         |  fail: forget, back off
 *                            +---- node/pod events ----+  no fit: status + event
 */
#include "scheduler/cache.h"
#include "scheduler/framework.h"
#include "scheduler/queue.h"
#include "scheduler/reflector.h"
#include "client/kubeconfig.h"
#include "client/rest.h"
#include "commands.h"
#include "core/component.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Cycles per turn of the loop: enough to amortize, few enough that watch
 * events and binding replies are read in between. */
#define CYCLES_PER_TURN 64
/* Status patches and events in flight, and how many events may wait before
 * new ones are dropped: client-go's event broadcaster keeps 1,000 too, so a
 * burst of bindings loses Scheduled events rather than memory. */
#define MAX_WRITES_INFLIGHT 16
#define MAX_WRITES_QUEUED 1000
/* Kubernetes' podMaxInUnschedulablePodsDuration (checked with the stats, every 10 s). */
#define UNSCHEDULABLE_MAX_AGE_MS (5 * 60 * 1000)
#define STATS_PERIOD_MS (10 * 1000)

/* ---- flags ---------------------------------------------------------------- */

static char *flag_scheduler_name;
static char *flag_scoring_strategy;
static char *flag_plugins;
static int flag_percentage;
static int flag_bind_concurrency = 128;
static int64_t flag_initial_backoff_ms = 1000;
static int64_t flag_max_backoff_ms = 10000;
static bool flag_scheduled_events = true;

static const struct flag scheduler_flags[] = {
	{ "scheduler-name", FLAG_STRING, &flag_scheduler_name,
	  "schedule pods whose spec.schedulerName is this (default default-scheduler); also the events' source" },
	{ "scoring-strategy", FLAG_STRING, &flag_scoring_strategy,
	  "NodeResourcesFit scoring: LeastAllocated (spread, default) or MostAllocated (pack)" },
	{ "scheduler-plugins", FLAG_STRING, &flag_plugins,
	  "plugins to enable, comma-separated, with optional score weights: "
	  "\"NodeResourcesFit=2,TaintToleration,...\" (default: all, Kubernetes' weights)" },
	{ "percentage-of-nodes-to-score", FLAG_INT, &flag_percentage,
	  "stop filtering once this percentage of nodes fit (0: adaptive, 50% minus 1% per 125 nodes, "
	  "at least 100 nodes)" },
	{ "bind-concurrency", FLAG_INT, &flag_bind_concurrency,
	  "bindings in flight at once (default 128); cycles pause when all are busy" },
	{ "pod-initial-backoff", FLAG_DURATION, &flag_initial_backoff_ms,
	  "wait after a pod's first failed attempt, doubling after each (default 1s)" },
	{ "pod-max-backoff", FLAG_DURATION, &flag_max_backoff_ms, "longest backoff (default 10s)" },
	{ "scheduled-events", FLAG_BOOL, &flag_scheduled_events,
	  "post a Scheduled event for every bound pod, as Kubernetes does (default true)" },
	{ NULL, 0, NULL, NULL },
};

/* ---- state ---------------------------------------------------------------- */

/* A request in flight: a binding, a status patch or an event. Linked so a
 * stop can cancel them all and free what they hold. */
struct sched_req {
	struct scheduler *s;
	struct rest_request *req;
	struct sched_req *prev, *next;
	struct sched_pod *pod;      /* bindings */
	char *node, *uid;           /* bindings: for the Scheduled event */
	uint64_t started_ms;
	/* queued writes, before they start */
	char *method, *path, *content_type;
	json_t *body;
	bool is_event;
};

struct scheduler {
	uv_loop_t *loop;
	struct rest_client *rc;
	struct reflector *nodes, *pods;
	struct sched_cache cache;
	struct sched_framework fw;
	struct sched_queue q;
	const char *name;           /* schedulerName we serve */
	char *instance;             /* reportingInstance of events */

	uv_idle_t runner;
	uv_timer_t backoff_timer, flush_timer;
	bool running;
	int binds_inflight;
	struct sched_req *inflight; /* every started request */
	/* writes waiting for a slot: status patches first, then events (FIFOs) */
	struct sched_write_queue {
		struct sched_req *head, *tail;
		size_t len;
	} statusq, eventq;
	int writes_inflight;
	size_t writes_dropped;

	/* a relist in progress: keys the list mentioned */
	struct strmap seen, seen_nodes;
	bool listing;

	/* counters for the periodic log line */
	uint64_t bound, failed_binds, unschedulable, cycles, event_seq;
	uint64_t last_stats_ms, last_stats_bound;
	uint64_t bind_ms_sum, bind_ms_n;   /* binding round trips since the last stats line */

	bool stopping;
	int closing;
	void (*done)(void *arg);
	void *done_arg;
};

static void kick(struct scheduler *s);
static void arm_backoff(struct scheduler *s);

/* ---- requests --------------------------------------------------------------- */

static void req_link(struct scheduler *s, struct sched_req *r)
{
	r->prev = NULL;
	r->next = s->inflight;
	if (s->inflight)
		s->inflight->prev = r;
	s->inflight = r;
}

static void req_unlink(struct scheduler *s, struct sched_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		s->inflight = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

static void req_free(struct sched_req *r)
{
	free(r->node);
	free(r->uid);
	free(r->method);
	free(r->path);
	free(r->content_type);
	json_decref(r->body);
	free(r);
}

static void start_writes(struct scheduler *s);

static void on_write_done(const struct rest_response *resp, void *data)
{
	struct sched_req *r = data;
	struct scheduler *s = r->s;

	req_unlink(s, r);
	s->writes_inflight--;
	if (resp->error && !(r->is_event && resp->status == 404))
		log_warn("scheduler write failed method=%s path=%s: %s", r->method, r->path, resp->error);
	req_free(r);
	start_writes(s);
}

static struct sched_req *wq_pop(struct sched_write_queue *q)
{
	struct sched_req *r = q->head;

	if (!r)
		return NULL;
	q->head = r->next;
	if (!q->head)
		q->tail = NULL;
	q->len--;
	r->next = NULL;
	return r;
}

static void wq_push(struct sched_write_queue *q, struct sched_req *r)
{
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->len++;
}

static void wq_free(struct sched_write_queue *q)
{
	struct sched_req *r;

	while ((r = wq_pop(q)))
		req_free(r);
}

static void start_writes(struct scheduler *s)
{
	while (s->writes_inflight < MAX_WRITES_INFLIGHT && !s->stopping && (s->statusq.head || s->eventq.head)) {
		struct sched_req *r = s->statusq.head ? wq_pop(&s->statusq) : wq_pop(&s->eventq);
		struct rest_options opts = { .content_type = r->content_type, .ignore_body = true };

		r->req = rest_call(s->rc, r->method, r->path, r->body, &opts, on_write_done, r);
		if (!r->req) {
			log_warn("scheduler cannot start write method=%s path=%s", r->method, r->path);
			req_free(r);
			continue;
		}
		req_link(s, r);
		s->writes_inflight++;
	}
}

/* Queues a write; path and body are stolen. Events are best effort: past
 * MAX_WRITES_QUEUED waiting ones, new ones are dropped. */
static void queue_write(struct scheduler *s, const char *method, char *path, const char *content_type,
			json_t *body, bool is_event)
{
	struct sched_req *r;

	if (is_event && s->eventq.len >= MAX_WRITES_QUEUED) {
		if (s->writes_dropped++ % 1000 == 0)
			log_warn("scheduler event queue full: dropping events dropped=%zu", s->writes_dropped);
		free(path);
		json_decref(body);
		return;
	}
	r = xcalloc(1, sizeof(*r));
	r->s = s;
	r->method = xstrdup(method);
	r->path = path;
	r->content_type = content_type ? xstrdup(content_type) : NULL;
	r->body = body;
	r->is_event = is_event;
	wq_push(is_event ? &s->eventq : &s->statusq, r);
	start_writes(s);
}

static void now_rfc3339(char *buf)
{
	time_format_rfc3339(time(NULL), buf);
}

/* An Event about a pod, as kube-scheduler records them (source.component
 * is the scheduler's name). */
static void post_event(struct scheduler *s, const char *ns, const char *name, const char *uid, const char *type,
		       const char *reason, const char *message)
{
	char now[TIME_RFC3339_LEN];
	struct timespec ts;
	json_t *ev;
	char *path;

	clock_gettime(CLOCK_REALTIME, &ts);
	now_rfc3339(now);
	ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:{s:s}, "
		       "s:s, s:s, s:i, s:s, s:s}",
		       "apiVersion", "v1", "kind", "Event",
		       "metadata", "name", name, "namespace", ns,
		       "involvedObject", "apiVersion", "v1", "kind", "Pod", "name", name, "namespace", ns, "uid", uid,
		       "reason", reason, "message", message, "type", type,
		       "source", "component", s->name,
		       "firstTimestamp", now, "lastTimestamp", now, "count", 1,
		       "reportingComponent", s->name, "reportingInstance", s->instance);
	if (!ev)
		return;
	/* Kubernetes names events <object>.<hex nanoseconds>. */
	{
		char *full = xasprintf("%s.%llx", name,
				       (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec +
					       (s->event_seq++ & 0xfff));
		obj_set(ev, "metadata.name", json_string(full));
		free(full);
	}
	path = xasprintf("/api/v1/namespaces/%s/events", ns);
	queue_write(s, "POST", path, NULL, ev, true);
}

/* ---- unschedulable pods ------------------------------------------------------- */

static void report_unschedulable(struct scheduler *s, struct sched_pod *pod, const char *message)
{
	struct sched_pending *p = pod->p;
	char ns[256];
	size_t nslen = pod->name_off - 1;

	if (nslen >= sizeof(ns))
		nslen = sizeof(ns) - 1;
	memcpy(ns, pod->key, nslen);
	ns[nslen] = '\0';
	log_info("scheduler pod=%s unschedulable attempts=%u message=\"%s\"", pod->key, p->attempts, message);
	if (!p->condition_message || strcmp(p->condition_message, message)) {
		char now[TIME_RFC3339_LEN];
		json_t *patch, *cond;

		now_rfc3339(now);
		cond = json_pack("{s:s, s:s, s:s, s:s, s:n}", "type", "PodScheduled", "status", "False", "reason",
				 "Unschedulable", "message", message, "lastProbeTime");
		/* The transition happened when the pod first became unschedulable. */
		if (!p->condition_message)
			json_object_set_new(cond, "lastTransitionTime", json_string(now));
		patch = json_pack("{s:{s:[o]}}", "status", "conditions", cond);
		queue_write(s, "PATCH", xasprintf("/api/v1/namespaces/%s/pods/%s/status", ns, sched_pod_name(pod)),
			    "application/strategic-merge-patch+json", patch, false);
		free(p->condition_message);
		p->condition_message = xstrdup(message);
	}
	post_event(s, ns, sched_pod_name(pod), p->uid, "Warning", "FailedScheduling", message);
}

/* ---- binding ------------------------------------------------------------------- */

static void pod_ns(const struct sched_pod *pod, char *buf, size_t len)
{
	size_t n = pod->name_off - 1;

	if (n >= len)
		n = len - 1;
	memcpy(buf, pod->key, n);
	buf[n] = '\0';
}

static void on_bind_done(const struct rest_response *resp, void *data)
{
	struct sched_req *r = data;
	struct scheduler *s = r->s;
	struct sched_pod *pod = r->pod;

	req_unlink(s, r);
	s->binds_inflight--;
	s->bind_ms_sum += now_ms() - r->started_ms;
	s->bind_ms_n++;
	pod->binding = false;
	if (pod->deleted) {
		sched_pod_free(&s->cache, pod);
	} else if (!resp->error) {
		char ns[256];
		if (pod->state == SCHED_POD_ASSUMED)
			pod->state = SCHED_POD_BOUND;
		sched_pod_drop_pending(pod);
		s->bound++;
		log_debug("scheduler pod=%s bound node=%s", pod->key, r->node);
		if (flag_scheduled_events) {
			char *msg = xasprintf("Successfully assigned %s to %s", pod->key, r->node);
			pod_ns(pod, ns, sizeof(ns));
			post_event(s, ns, sched_pod_name(pod), r->uid, "Normal", "Scheduled", msg);
			free(msg);
		}
	} else {
		s->failed_binds++;
		log_warn("scheduler cannot bind pod '%s' to node '%s': %s", pod->key, r->node, resp->error);
		/* Unless the watch already showed it bound (by someone), forget
		 * the assumption and try again later. */
		if (pod->state == SCHED_POD_ASSUMED && pod->p) {
			sched_cache_unplace(&s->cache, pod);
			pod->state = SCHED_POD_PENDING;
			sched_queue_backoff(&s->q, pod, now_ms());
			arm_backoff(s);
		}
	}
	req_free(r);
	kick(s);
}

static void start_bind(struct scheduler *s, struct sched_pod *pod, struct sched_node *node)
{
	struct sched_req *r = xcalloc(1, sizeof(*r));
	char ns[256], *path;
	json_t *body;

	pod_ns(pod, ns, sizeof(ns));
	r->s = s;
	r->pod = pod;
	r->node = xstrdup(node->name);
	r->uid = xstrdup(pod->p->uid);
	r->started_ms = now_ms();
	body = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "Binding",
			 "metadata", "name", sched_pod_name(pod), "namespace", ns, "uid", pod->p->uid,
			 "target", "apiVersion", "v1", "kind", "Node", "name", node->name);
	path = xasprintf("/api/v1/namespaces/%s/pods/%s/binding", ns, sched_pod_name(pod));
	r->req = rest_create(s->rc, path, body, on_bind_done, r);
	free(path);
	json_decref(body);
	if (!r->req) {
		log_warn("scheduler cannot start binding pod=%s", pod->key);
		sched_cache_unplace(&s->cache, pod);
		pod->state = SCHED_POD_PENDING;
		sched_queue_backoff(&s->q, pod, now_ms());
		arm_backoff(s);
		req_free(r);
		return;
	}
	req_link(s, r);
	pod->binding = true;
	s->binds_inflight++;
}

/* ---- the cycle loop -------------------------------------------------------------- */

static void schedule_one(struct scheduler *s, struct sched_pod *pod)
{
	struct sched_result res;

	s->cycles++;
	sched_framework_schedule(&s->fw, pod, &res);
	if (res.node < 0) {
		s->unschedulable++;
		sched_queue_unschedulable(&s->q, pod, res.requeue_events, now_ms());
		report_unschedulable(s, pod, res.message);
		free(res.message);
		return;
	}
	log_trace("scheduler pod=%s node=%s evaluated=%u feasible=%u", pod->key, s->cache.nodes[res.node]->name,
		  res.evaluated, res.feasible);
	sched_cache_place(&s->cache, pod, s->cache.nodes[res.node]);
	pod->state = SCHED_POD_ASSUMED;
	start_bind(s, pod, s->cache.nodes[res.node]);
}

static bool ready(const struct scheduler *s)
{
	return !s->stopping && reflector_synced(s->nodes) && reflector_synced(s->pods) &&
	       s->binds_inflight < flag_bind_concurrency && sched_queue_active(&s->q) > 0;
}

static void on_run(uv_idle_t *h)
{
	struct scheduler *s = h->data;

	for (int i = 0; i < CYCLES_PER_TURN && ready(s); i++)
		schedule_one(s, sched_queue_pop(&s->q));
	if (!ready(s)) {
		uv_idle_stop(&s->runner);
		s->running = false;
	}
}

static void kick(struct scheduler *s)
{
	if (!s->running && ready(s)) {
		uv_idle_start(&s->runner, on_run);
		s->running = true;
	}
}

static void on_backoff_timer(uv_timer_t *t)
{
	struct scheduler *s = t->data;

	sched_queue_flush_backoff(&s->q, now_ms());
	arm_backoff(s);
	kick(s);
}

static void arm_backoff(struct scheduler *s)
{
	uint64_t next = sched_queue_next_backoff(&s->q), now = now_ms();

	if (s->stopping)
		return;
	if (next == UINT64_MAX) {
		uv_timer_stop(&s->backoff_timer);
		return;
	}
	uv_timer_start(&s->backoff_timer, on_backoff_timer, next > now ? next - now : 0, 0);
}

static void move_pods(struct scheduler *s, unsigned event)
{
	uint64_t now = now_ms();

	if (!sched_queue_unschedulable_len(&s->q))
		return;
	if (sched_queue_move(&s->q, event, now)) {
		arm_backoff(s);
		kick(s);
	}
}

static void on_flush_timer(uv_timer_t *t)
{
	struct scheduler *s = t->data;
	uint64_t now = now_ms();

	if (sched_queue_flush_unschedulable(&s->q, now, UNSCHEDULABLE_MAX_AGE_MS)) {
		arm_backoff(s);
		kick(s);
	}
	if (now - s->last_stats_ms >= STATS_PERIOD_MS && s->bound != s->last_stats_bound) {
		log_info("scheduler stats bound=%llu rate=%.0f/s bind-latency=%llums active=%zu backoff=%zu "
			 "unschedulable=%zu binding=%d failed-binds=%llu nodes=%u writes-queued=%zu",
			 (unsigned long long)s->bound,
			 (double)(s->bound - s->last_stats_bound) * 1000.0 / (double)(now - s->last_stats_ms),
			 (unsigned long long)(s->bind_ms_n ? s->bind_ms_sum / s->bind_ms_n : 0),
			 sched_queue_active(&s->q), sched_queue_backing_off(&s->q),
			 sched_queue_unschedulable_len(&s->q), s->binds_inflight, (unsigned long long)s->failed_binds,
			 s->cache.npresent, s->statusq.len + s->eventq.len);
		s->last_stats_bound = s->bound;
		s->bind_ms_sum = s->bind_ms_n = 0;
	}
	if (now - s->last_stats_ms >= STATS_PERIOD_MS)
		s->last_stats_ms = now;
}

/* ---- pods ------------------------------------------------------------------------ */

static void pod_gone(struct scheduler *s, struct sched_pod *pod)
{
	bool placed = pod->node >= 0;

	sched_queue_remove(&s->q, pod);
	sched_cache_del_pod(&s->cache, pod);
	if (pod->binding)
		pod->deleted = true; /* the binding's reply frees it */
	else
		sched_pod_free(&s->cache, pod);
	if (placed)
		move_pods(s, SCHED_EV_POD_DELETE);
}

static bool terminal(const json_t *obj)
{
	const char *phase = obj_str(obj, "status.phase");

	return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

/* What a pod's event or list entry means for the cache and the queue. */
static struct sched_pod *pod_seen(struct scheduler *s, json_t *obj, bool deleted)
{
	const char *ns = obj_namespace(obj) ?: "", *name = obj_name(obj), *node_name;
	struct sched_pod *pod;
	char key[512];

	if (!name || (size_t)snprintf(key, sizeof(key), "%s/%s", ns, name) >= sizeof(key))
		return NULL;
	pod = sched_cache_pod(&s->cache, key);
	if (deleted || terminal(obj)) {
		if (pod)
			pod_gone(s, pod);
		return NULL;
	}
	node_name = obj_str(obj, "spec.nodeName");
	if (node_name && *node_name) {
		struct sched_node *node = sched_cache_node_or_placeholder(&s->cache, node_name);
		if (!pod) {
			pod = sched_pod_parse(&s->cache, obj, false);
			sched_cache_add_pod(&s->cache, pod);
		}
		sched_queue_remove(&s->q, pod);
		if (pod->node != (int32_t)node->index)
			sched_cache_place(&s->cache, pod, node);
		pod->state = SCHED_POD_BOUND;
		sched_pod_drop_pending(pod);
		return pod;
	}

	/* Not bound: ours to schedule? */
	if (strcmp(obj_str(obj, "spec.schedulerName") ?: "default-scheduler", s->name) ||
	    obj_get(obj, "metadata.deletionTimestamp")) {
		if (pod)
			pod_gone(s, pod);
		return NULL;
	}
	if (!pod) {
		pod = sched_pod_parse(&s->cache, obj, true);
		sched_cache_add_pod(&s->cache, pod);
		sched_queue_add(&s->q, pod);
		kick(s);
		return pod;
	}
	switch (pod->state) {
	case SCHED_POD_ASSUMED:
		/* Our binding is on its way; this is an older state of the pod
		 * (or our own status write). */
		return pod;
	case SCHED_POD_BOUND:
		/* Bound in our view, unbound now: only a pod recreated under the
		 * same name between two events looks like this. Start over. */
		sched_cache_unplace(&s->cache, pod);
		pod->state = SCHED_POD_PENDING;
		sched_pod_reparse(&s->cache, pod, obj);
		sched_queue_add(&s->q, pod);
		kick(s);
		return pod;
	default:
		break;
	}
	if (!pod->p) {
		sched_pod_reparse(&s->cache, pod, obj);
		sched_queue_add(&s->q, pod);
		kick(s);
	} else if (sched_pod_spec_hash(obj) != pod->p->spec_hash) {
		sched_pod_reparse(&s->cache, pod, obj);
		sched_queue_update(&s->q, pod, now_ms());
		arm_backoff(s);
		kick(s);
	}
	return pod;
}

static void on_pods_list_begin(void *data)
{
	struct scheduler *s = data;

	strmap_release(&s->seen);
	strmap_init(&s->seen);
	s->listing = true;
}

static void on_pods_list_item(json_t *obj, void *data)
{
	struct scheduler *s = data;
	struct sched_pod *pod = pod_seen(s, obj, false);

	if (pod)
		strmap_put(&s->seen, pod->key, pod);
}

static void on_pods_list_end(void *data)
{
	struct scheduler *s = data;
	struct sched_pod **gone = NULL;
	size_t n = 0, it = 0;
	const char *k;
	void *v;

	while (strmap_next(&s->cache.pods, &it, &k, &v)) {
		if (!strmap_get(&s->seen, k)) {
			gone = xrealloc(gone, (n + 1) * sizeof(*gone));
			gone[n++] = v;
		}
	}
	for (size_t i = 0; i < n; i++)
		pod_gone(s, gone[i]);
	free(gone);
	strmap_release(&s->seen);
	strmap_init(&s->seen);
	s->listing = false;
	log_info("scheduler pods synced pods=%zu pending=%zu", s->cache.pods.len, sched_queue_active(&s->q));
	kick(s);
}

static void on_pod_event(const char *type, json_t *obj, void *data)
{
	pod_seen(data, obj, !strcmp(type, "DELETED"));
}

/* ---- nodes ------------------------------------------------------------------------ */

static void node_seen(struct scheduler *s, json_t *obj)
{
	unsigned changed;

	sched_cache_upsert_node(&s->cache, obj, &changed);
	if (changed) {
		log_debug("scheduler node=%s %s", obj_name(obj), changed == SCHED_EV_NODE_ADD ? "added" : "changed");
		move_pods(s, changed);
		kick(s);
	}
}

static void on_nodes_list_begin(void *data)
{
	struct scheduler *s = data;

	strmap_release(&s->seen_nodes);
	strmap_init(&s->seen_nodes);
}

static void on_nodes_list_item(json_t *obj, void *data)
{
	struct scheduler *s = data;
	struct sched_node *n;

	node_seen(s, obj);
	n = obj_name(obj) ? sched_cache_node(&s->cache, obj_name(obj)) : NULL;
	if (n)
		strmap_put(&s->seen_nodes, n->name, n);
}

static void on_nodes_list_end(void *data)
{
	struct scheduler *s = data;
	char **gone = NULL;
	size_t n = 0;

	for (uint32_t i = 0; i < s->cache.npresent; i++) {
		struct sched_node *node = s->cache.nodes[s->cache.present[i]];
		if (!strmap_get(&s->seen_nodes, node->name)) {
			gone = xrealloc(gone, (n + 1) * sizeof(*gone));
			gone[n++] = xstrdup(node->name);
		}
	}
	for (size_t i = 0; i < n; i++) {
		sched_cache_remove_node(&s->cache, gone[i]);
		free(gone[i]);
	}
	free(gone);
	strmap_release(&s->seen_nodes);
	strmap_init(&s->seen_nodes);
	log_info("scheduler nodes synced nodes=%u", s->cache.npresent);
	kick(s);
}

static void on_node_event(const char *type, json_t *obj, void *data)
{
	struct scheduler *s = data;

	if (strcmp(type, "DELETED"))
		node_seen(s, obj);
	else if (obj_name(obj))
		sched_cache_remove_node(&s->cache, obj_name(obj));
}

/* ---- start and stop ------------------------------------------------------------------ */

static int parse_scoring(const char *v, enum sched_scoring *out)
{
	if (!v || !strcasecmp(v, "LeastAllocated"))
		*out = SCHED_LEAST_ALLOCATED;
	else if (!strcasecmp(v, "MostAllocated"))
		*out = SCHED_MOST_ALLOCATED;
	else
		return error("invalid --scoring-strategy '%s': use LeastAllocated or MostAllocated", v);
	return 0;
}

static void free_scheduler(struct scheduler *s)
{
	sched_queue_release(&s->q);
	sched_framework_release(&s->fw);
	sched_cache_release(&s->cache);
	strmap_release(&s->seen);
	strmap_release(&s->seen_nodes);
	free(s->instance);
	free(s);
}

static int start(uv_loop_t *loop, const char *kubeconfig, void **state)
{
	struct reflector_handlers nh = { on_nodes_list_begin, on_nodes_list_item, on_nodes_list_end, on_node_event,
					 NULL };
	struct reflector_handlers ph = { on_pods_list_begin, on_pods_list_item, on_pods_list_end, on_pod_event, NULL };
	struct scheduler *s;
	struct kubeconfig *kc = NULL;
	enum sched_scoring scoring = SCHED_LEAST_ALLOCATED;
	char host[128], *err = NULL;

	if (parse_scoring(flag_scoring_strategy, &scoring) < 0)
		return -1;
	if (flag_bind_concurrency < 1)
		return error("invalid --bind-concurrency %d: use 1 or more", flag_bind_concurrency);
	if (flag_percentage < 0 || flag_percentage > 100)
		return error("invalid --percentage-of-nodes-to-score %d: use 0 (adaptive) to 100", flag_percentage);
	if (kubeconfig_load(kubeconfig, NULL, &kc, NULL) < 0)
		return error("the scheduler needs a kubeconfig: pass --kubeconfig FILE (minik8s server writes "
			     "<data-dir>/admin.kubeconfig)");

	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->name = flag_scheduler_name && *flag_scheduler_name ? flag_scheduler_name : "default-scheduler";
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	s->instance = xasprintf("%s-%s", s->name, host);
	sched_cache_init(&s->cache);
	strmap_init(&s->seen);
	strmap_init(&s->seen_nodes);
	if (sched_framework_init(&s->fw, &s->cache, flag_plugins, &err) < 0) {
		error("invalid --scheduler-plugins: %s", err);
		free(err);
		kubeconfig_free(kc);
		free_scheduler(s);
		return -1;
	}
	s->fw.scoring = scoring;
	s->fw.percentage = flag_percentage;
	sched_queue_init(&s->q, (uint64_t)flag_initial_backoff_ms, (uint64_t)flag_max_backoff_ms);

	s->rc = rest_client_new(loop, kc);
	kubeconfig_free(kc);
	if (!s->rc) {
		free_scheduler(s);
		return -1;
	}
	uv_idle_init(loop, &s->runner);
	s->runner.data = s;
	uv_timer_init(loop, &s->backoff_timer);
	s->backoff_timer.data = s;
	uv_timer_init(loop, &s->flush_timer);
	s->flush_timer.data = s;
	uv_timer_start(&s->flush_timer, on_flush_timer, STATS_PERIOD_MS, STATS_PERIOD_MS);
	s->last_stats_ms = now_ms();

	nh.data = s;
	ph.data = s;
	/* Nodes through a reflector too: the cache keeps what filters need,
	 * not 1,000 Node objects. */
	s->nodes = reflector_new(s->rc, "nodes", "/api/v1/nodes", NULL, &nh);
	/* One watch for every pod, as kube-scheduler's informer: unbound pods
	 * feed the queue, bound ones the node accounting. Finished pods hold
	 * nothing, so they are left out. */
	s->pods = reflector_new(s->rc, "pods", "/api/v1/pods", "status.phase!=Succeeded,status.phase!=Failed", &ph);
	reflector_start(s->nodes);
	reflector_start(s->pods);
	log_info("scheduler started name=%s scoring=%s plugins=%d+%d bind-concurrency=%d", s->name,
		 scoring == SCHED_MOST_ALLOCATED ? "MostAllocated" : "LeastAllocated", s->fw.nfilters,
		 s->fw.nscorers, flag_bind_concurrency);
	*state = s;
	return 0;
}

static void finish(void *arg)
{
	struct scheduler *s = arg;
	void (*done)(void *) = s->done;
	void *done_arg = s->done_arg;

	free_scheduler(s);
	done(done_arg);
}

/* One of the loop handles or one of the reflectors is closed; when
 * all are, the client goes (its last close callback ends the stop). */
static void on_part_closed(void *arg)
{
	struct scheduler *s = arg;

	if (--s->closing == 0)
		rest_client_close(s->rc, finish, s);
}

static void on_handle_closed(uv_handle_t *h)
{
	on_part_closed(h->data);
}

static void stop(void *state, void (*done)(void *arg), void *arg)
{
	struct scheduler *s = state;
	struct sched_req *r, *next;

	s->stopping = true;
	s->done = done;
	s->done_arg = arg;
	/* Requests in flight: cancel them (no callback runs) and free what they hold. */
	for (r = s->inflight; r; r = next) {
		next = r->next;
		rest_cancel(r->req);
		if (r->pod) {
			r->pod->binding = false;
			if (r->pod->deleted)
				sched_pod_free(&s->cache, r->pod);
		}
		req_free(r);
	}
	s->inflight = NULL;
	wq_free(&s->statusq);
	wq_free(&s->eventq);
	log_info("scheduler stopping bound=%llu", (unsigned long long)s->bound);

	s->closing = 5;
	uv_close((uv_handle_t *)&s->runner, on_handle_closed);
	uv_close((uv_handle_t *)&s->backoff_timer, on_handle_closed);
	uv_close((uv_handle_t *)&s->flush_timer, on_handle_closed);
	reflector_close(s->nodes, on_part_closed, s);
	reflector_close(s->pods, on_part_closed, s);
}

const struct component scheduler_component = {
	.name = "scheduler",
	.usage = "usage: minik8s scheduler [--kubeconfig FILE] [flags]\n\n"
		 "Runs the scheduler alone: watches pods and nodes and binds each pending pod to a node\n"
		 "(filter, score, bind). See docs/scheduler.md.\n",
	.flags = scheduler_flags,
	.start = start,
	.stop = stop,
};
