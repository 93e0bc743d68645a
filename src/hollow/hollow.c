/*
 * `minik8s hollow-node --count N --name-prefix P`: N fake nodes in one
 * process, as Kubernetes' kubemark: each registers a Node, renews its Lease
 * in kube-node-lease every 10 s, marks the pods bound to it Running and
 * Ready with a fake IP, and confirms their graceful deletion. No Docker, so
 * a laptop can hold a thousand nodes and test the control plane at scale.
 *
 * One watch on all bound pods (spec.nodeName!=) serves every node of the
 * process, filtered here, instead of one watch per node; one watch on nodes
 * notices when the cluster thinks one of ours is not Ready. Writes go
 * through one queue with a bound on requests in flight; node and lease
 * writes go before pod writes so heartbeats never starve.
 *
 *   tick (100 ms) --> register / renew lease / heartbeat --+
 *   pods watch --> Running status / confirm deletion -------+--> write queue --> apiserver
 */
#include "scheduler/maps.h"
#include "scheduler/reflector.h"
#include "client/kubeconfig.h"
#include "client/rest.h"
#include "commands.h"
#include "core/component.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MS 100
#define LEASE_RENEW_MS 10000
#define LEASE_DURATION_S 40
/* Like the kubelet's nodeStatusReportFrequency: unchanged status is
 * re-posted this often; a node the cluster sees as not Ready, at once. */
#define STATUS_REPORT_MS (5 * 60 * 1000)
#define STATUS_RETRY_MS 10000
#define MAX_INFLIGHT 128
#define MAX_POD_RETRIES 10

static int flag_count;
static char *flag_prefix;
static char *flag_cpu;
static char *flag_memory;
static int flag_pods = 110;
static struct flag_list flag_labels;

static const struct flag hollow_flags[] = {
	{ "count", FLAG_INT, &flag_count, "how many nodes to run (required)" },
	{ "name-prefix", FLAG_STRING, &flag_prefix, "node names are PREFIX-0 ... PREFIX-(N-1) (default hollow)" },
	{ "cpu", FLAG_STRING, &flag_cpu, "each node's cpu capacity (default 4)" },
	{ "memory", FLAG_STRING, &flag_memory, "each node's memory capacity (default 16Gi)" },
	{ "pods", FLAG_INT, &flag_pods, "each node's pod capacity (default 110)" },
	{ "node-labels", FLAG_LIST, &flag_labels, "extra labels for every node: k=v (repeatable or comma-separated)" },
	{ NULL, 0, NULL, NULL },
};

struct hollow;

struct hnode {
	char *name;
	uint32_t index;
	char ip[16];
	uint32_t pod_net;          /* the /24 pods get addresses from (host order) */
	bool cidr_from_cluster;    /* pod_net came from spec.podCIDR */
	uint8_t used_ips[32];      /* bit per last octet in use */
	bool registered, lease_exists;
	bool node_busy, lease_busy; /* a write for it is queued or in flight */
	uint64_t next_lease_ms, next_status_ms, last_status_ms;
};

struct hpod {
	char *key;
	uint32_t node;
	uint8_t ip;                /* last octet, 0: none */
	bool running;              /* reported (or seen) Running */
	bool deleting;             /* the grace-0 delete was sent */
	bool busy;                 /* a write is queued or in flight */
	bool gone;                 /* deleted meanwhile: freed when the write returns */
	uint8_t retries;
};

enum hwork_kind { W_NODE_CREATE, W_NODE_STATUS, W_LEASE_CREATE, W_LEASE_RENEW, W_POD_STATUS, W_POD_DELETE };

struct hwork {
	struct hollow *h;
	struct hwork *next, *prev;
	enum hwork_kind kind;
	struct hnode *node;
	struct hpod *pod;
	char *method, *path;
	const char *content_type;
	json_t *body;
	struct rest_request *req;
};

struct hollow {
	uv_loop_t *loop;
	struct rest_client *rc;
	struct hnode *nodes;
	uint32_t nnodes;
	struct strmap node_by_name;
	struct strmap pods;
	struct strmap seen;
	struct reflector *pod_watch, *node_watch;
	uv_timer_t tick;
	/* two FIFOs: node and lease writes first */
	struct hwork *hi_head, *hi_tail, *lo_head, *lo_tail;
	struct hwork *inflight;
	int ninflight;
	uint64_t running_marked, deletions_confirmed;
	bool stopping;
	int closing;
	void (*done)(void *arg);
	void *done_arg;
};

/* ---- small helpers ------------------------------------------------------ */

static void time_now(char *buf, size_t len, bool micro)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (micro) {
		/* A Lease's renewTime is a MicroTime: "2006-01-02T15:04:05.000000Z". */
		char base[32];
		strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(buf, len, "%.19s.%06dZ", base, (int)(ts.tv_nsec / 1000 % 1000000));
	} else {
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
}

static void ip_string(uint32_t ip, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static char *split_key(const char *key, const char **name)
{
	const char *slash = strchr(key, '/');

	*name = slash ? slash + 1 : key;
	return xstrndup(key, slash ? (size_t)(slash - key) : 0);
}

/* ---- the write queue ------------------------------------------------------- */

static void pump(struct hollow *h);

static void work_free(struct hwork *w)
{
	free(w->method);
	free(w->path);
	json_decref(w->body);
	free(w);
}

static void pod_free(struct hpod *p)
{
	free(p->key);
	free(p);
}

static void pod_release_ip(struct hollow *h, struct hpod *p)
{
	if (p->ip && p->node < h->nnodes)
		h->nodes[p->node].used_ips[p->ip / 8] &= (uint8_t) ~(1u << (p->ip % 8));
	p->ip = 0;
}

static void enqueue(struct hollow *h, enum hwork_kind kind, struct hnode *n, struct hpod *p, const char *method,
		    char *path, const char *content_type, json_t *body)
{
	struct hwork *w = xcalloc(1, sizeof(*w));
	bool hi = kind != W_POD_STATUS && kind != W_POD_DELETE;

	w->h = h;
	w->kind = kind;
	w->node = n;
	w->pod = p;
	w->method = xstrdup(method);
	w->path = path;
	w->content_type = content_type;
	w->body = body;
	if (p)
		p->busy = true;
	if (hi) {
		if (kind == W_LEASE_CREATE || kind == W_LEASE_RENEW)
			n->lease_busy = true;
		else
			n->node_busy = true;
		if (h->hi_tail)
			h->hi_tail->next = w;
		else
			h->hi_head = w;
		h->hi_tail = w;
	} else {
		if (h->lo_tail)
			h->lo_tail->next = w;
		else
			h->lo_head = w;
		h->lo_tail = w;
	}
	pump(h);
}

static void node_status_body(struct hollow *h, struct hnode *n, json_t **out);
static void queue_pod_status(struct hollow *h, struct hpod *p, json_t *obj);

static void on_work_done(const struct rest_response *resp, void *data)
{
	struct hwork *w = data;
	struct hollow *h = w->h;
	struct hnode *n = w->node;
	struct hpod *p = w->pod;
	uint64_t now = now_ms();

	if (w->prev)
		w->prev->next = w->next;
	else
		h->inflight = w->next;
	if (w->next)
		w->next->prev = w->prev;
	h->ninflight--;

	switch (w->kind) {
	case W_NODE_CREATE:
		n->node_busy = false;
		if (!resp->error) {
			n->registered = true;
			n->last_status_ms = now;
			n->next_status_ms = now + STATUS_REPORT_MS;
			log_debug("hollow-node node=%s registered", n->name);
		} else if (resp->status == 409) {
			/* It exists from an earlier run: take it over and say we are Ready. */
			n->registered = true;
			n->next_status_ms = now;
		} else {
			log_warn("hollow-node cannot register node '%s': %s; retrying", n->name, resp->error);
		}
		break;
	case W_NODE_STATUS:
		n->node_busy = false;
		if (!resp->error) {
			n->last_status_ms = now;
			n->next_status_ms = now + STATUS_REPORT_MS;
		} else if (resp->status == 404) {
			n->registered = false; /* deleted: register again */
		} else {
			log_warn("hollow-node cannot update node '%s': %s", n->name, resp->error);
			n->next_status_ms = now + STATUS_RETRY_MS;
		}
		break;
	case W_LEASE_CREATE:
	case W_LEASE_RENEW:
		n->lease_busy = false;
		if (!resp->error || (w->kind == W_LEASE_CREATE && resp->status == 409)) {
			n->lease_exists = true;
			if (w->kind == W_LEASE_CREATE && resp->status == 409)
				n->next_lease_ms = now; /* renew the old one now */
		} else if (resp->status == 404) {
			n->lease_exists = false;
			n->next_lease_ms = now;
		} else {
			log_warn("hollow-node cannot renew the lease of node '%s': %s", n->name, resp->error);
			n->next_lease_ms = now + 1000;
		}
		break;
	case W_POD_STATUS:
	case W_POD_DELETE:
		p->busy = false;
		if (!resp->error)
			(*(w->kind == W_POD_STATUS ? &h->running_marked : &h->deletions_confirmed))++;
		if (p->gone) {
			pod_free(p);
			break;
		}
		if (!resp->error || resp->status == 404) {
			p->running = p->running || w->kind == W_POD_STATUS;
			p->retries = 0;
			break;
		}
		log_warn("hollow-node write for pod '%s' failed: %s", p->key, resp->error);
		if (++p->retries > MAX_POD_RETRIES) {
			log_error("hollow-node giving up on pod '%s' after %d attempts", p->key, MAX_POD_RETRIES);
			break;
		}
		/* Same write again, at the back of the queue. */
		enqueue(h, w->kind, n, p, w->method, w->path, w->content_type, json_incref(w->body));
		w->path = NULL;
		break;
	}
	work_free(w);
	pump(h);
}

static void pump(struct hollow *h)
{
	while (h->ninflight < MAX_INFLIGHT && !h->stopping && (h->hi_head || h->lo_head)) {
		struct hwork *w;
		/* on_work_done reads status and error only */
		struct rest_options opts = { .ignore_body = true };

		if (h->hi_head) {
			w = h->hi_head;
			h->hi_head = w->next;
			if (!h->hi_head)
				h->hi_tail = NULL;
		} else {
			w = h->lo_head;
			h->lo_head = w->next;
			if (!h->lo_head)
				h->lo_tail = NULL;
		}
		w->next = NULL;
		opts.content_type = w->content_type;
		w->req = rest_call(h->rc, w->method, w->path, w->body, &opts, on_work_done, w);
		if (!w->req) {
			struct rest_response fail = { .status = 0, .error = "cannot start the request" };
			/* Treat as a failed request so the state machine retries. */
			w->prev = NULL;
			w->next = h->inflight;
			if (h->inflight)
				h->inflight->prev = w;
			h->inflight = w;
			h->ninflight++;
			on_work_done(&fail, w);
			continue;
		}
		w->prev = NULL;
		w->next = h->inflight;
		if (h->inflight)
			h->inflight->prev = w;
		h->inflight = w;
		h->ninflight++;
	}
}

/* ---- nodes -------------------------------------------------------------------- */

static json_t *conditions_json(const char *now)
{
	json_t *conds = json_array();
	static const char *const pressure[][3] = {
		{ "MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available" },
		{ "DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure" },
		{ "PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(pressure); i++)
		json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", pressure[i][0], "status",
						       "False", "reason", pressure[i][1], "message", pressure[i][2],
						       "lastHeartbeatTime", now, "lastTransitionTime", now));
	json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "Ready", "status", "True",
					       "reason", "KubeletReady", "message", "kubelet is posting ready status",
					       "lastHeartbeatTime", now, "lastTransitionTime", now));
	return conds;
}

static json_t *resources_json(void)
{
	char pods[16];

	snprintf(pods, sizeof(pods), "%d", flag_pods);
	return json_pack("{s:s, s:s, s:s, s:s}", "cpu", flag_cpu ? flag_cpu : "4", "memory",
			 flag_memory ? flag_memory : "16Gi", "pods", pods, "ephemeral-storage", "100Gi");
}

static json_t *status_json(struct hnode *n, const char *now)
{
	return json_pack("{s:o, s:o, s:o, s:[{s:s, s:s}, {s:s, s:s}], s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
			 "s:s, s:s}, s:{s:{s:i}}}",
			 "capacity", resources_json(), "allocatable", resources_json(), "conditions",
			 conditions_json(now), "addresses", "type", "InternalIP", "address", n->ip, "type", "Hostname",
			 "address", n->name, "nodeInfo", "kubeletVersion", "v1.32.0-minik8s", "kubeProxyVersion",
			 "v1.32.0-minik8s", "containerRuntimeVersion", "hollow://1", "operatingSystem", "linux",
			 "architecture", "amd64", "osImage", "minik8s hollow node", "kernelVersion", "hollow",
			 "machineID", n->name, "systemUUID", n->name, "bootID", n->name, "daemonEndpoints",
			 "kubeletEndpoint", "Port", 10250);
}

static void node_status_body(struct hollow *h, struct hnode *n, json_t **out)
{
	char now[32];

	time_now(now, sizeof(now), false);
	*out = json_pack("{s:o}", "status", status_json(n, now));
}

static void register_node(struct hollow *h, struct hnode *n)
{
	json_t *labels = json_pack("{s:s, s:s, s:s, s:s}", "kubernetes.io/hostname", n->name, "kubernetes.io/os",
				   "linux", "kubernetes.io/arch", "amd64", "minik8s.io/hollow-node", "true");
	char now[32];
	json_t *node;

	for (int i = 0; i < flag_labels.n; i++) {
		char *eq = strchr(flag_labels.items[i], '=');
		char *k = eq ? xstrndup(flag_labels.items[i], (size_t)(eq - flag_labels.items[i])) : NULL;
		if (k) {
			json_object_set_new(labels, k, json_string(eq + 1));
			free(k);
		}
	}
	time_now(now, sizeof(now), false);
	node = json_pack("{s:s, s:s, s:{s:s, s:o}, s:{}, s:o}", "apiVersion", "v1", "kind", "Node", "metadata", "name",
			 n->name, "labels", labels, "spec", "status", status_json(n, now));
	enqueue(h, W_NODE_CREATE, n, NULL, "POST", xstrdup("/api/v1/nodes"), NULL, node);
}

static void post_node_status(struct hollow *h, struct hnode *n)
{
	json_t *body;

	node_status_body(h, n, &body);
	enqueue(h, W_NODE_STATUS, n, NULL, "PATCH", xasprintf("/api/v1/nodes/%s/status", n->name),
		"application/strategic-merge-patch+json", body);
}

static void renew_lease(struct hollow *h, struct hnode *n)
{
	char now[40];

	time_now(now, sizeof(now), true);
	if (!n->lease_exists) {
		json_t *lease = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:i, s:s}}", "apiVersion",
					  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", n->name,
					  "namespace", "kube-node-lease", "spec", "holderIdentity", n->name,
					  "leaseDurationSeconds", LEASE_DURATION_S, "renewTime", now);
		enqueue(h, W_LEASE_CREATE, n, NULL, "POST",
			xstrdup("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"), NULL, lease);
	} else {
		json_t *patch = json_pack("{s:{s:s, s:i, s:s}}", "spec", "holderIdentity", n->name,
					  "leaseDurationSeconds", LEASE_DURATION_S, "renewTime", now);
		enqueue(h, W_LEASE_RENEW, n, NULL, "PATCH",
			xasprintf("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s", n->name),
			"application/merge-patch+json", patch);
	}
}

static void on_tick(uv_timer_t *t)
{
	struct hollow *h = t->data;
	uint64_t now = now_ms();

	for (uint32_t i = 0; i < h->nnodes; i++) {
		struct hnode *n = &h->nodes[i];
		if (!n->registered) {
			if (!n->node_busy && now >= n->next_status_ms) {
				n->next_status_ms = now + STATUS_RETRY_MS;
				register_node(h, n);
			}
			continue;
		}
		if (!n->lease_busy && now >= n->next_lease_ms) {
			n->next_lease_ms = now + LEASE_RENEW_MS;
			renew_lease(h, n);
		}
		if (!n->node_busy && now >= n->next_status_ms) {
			n->next_status_ms = now + STATUS_RETRY_MS;
			post_node_status(h, n);
		}
	}
}

/* The cluster's view of one of our nodes: pick up its pod CIDR, and answer
 * a Ready condition that is not True (the node lifecycle controller marks
 * nodes whose lease lapsed) with a fresh status, as a kubelet would. */
static void node_seen(struct hollow *h, json_t *obj, bool deleted)
{
	struct hnode *n = strmap_get(&h->node_by_name, obj_name(obj) ?: "");
	const char *cidr;
	json_t *conds, *c;
	size_t i;

	if (!n)
		return;
	if (deleted) {
		n->registered = false;
		n->lease_exists = false;
		n->next_status_ms = now_ms();
		return;
	}
	cidr = obj_str(obj, "spec.podCIDR");
	if (cidr && *cidr && !n->cidr_from_cluster) {
		char addr[32];
		const char *slash = strchr(cidr, '/');
		struct in_addr a;
		snprintf(addr, sizeof(addr), "%.*s", slash ? (int)(slash - cidr) : (int)strlen(cidr), cidr);
		if (inet_pton(AF_INET, addr, &a) == 1) {
			n->pod_net = ntohl(a.s_addr) & 0xffffff00u;
			n->cidr_from_cluster = true;
		}
	}
	conds = obj_get(obj, "status.conditions");
	json_array_foreach(conds, i, c) {
		const char *type = obj_str(c, "type"), *st = obj_str(c, "status");
		if (type && !strcmp(type, "Ready") && (!st || strcmp(st, "True")) && n->registered &&
		    now_ms() - n->last_status_ms > 1000 && n->next_status_ms > now_ms()) {
			log_info("hollow-node node=%s seen %s: posting status", n->name,
				 st ? (!strcmp(st, "False") ? "NotReady" : "Unknown") : "without Ready");
			n->next_status_ms = now_ms();
		}
	}
}

static void on_nodes_list_item(json_t *obj, void *data)
{
	node_seen(data, obj, false);
}

static void on_node_event(const char *type, json_t *obj, void *data)
{
	node_seen(data, obj, !strcmp(type, "DELETED"));
}

/* ---- pods ------------------------------------------------------------------------ */

static bool pod_condition_true(const json_t *obj, const char *type)
{
	json_t *conds = obj_get(obj, "status.conditions"), *c;
	size_t i;

	json_array_foreach(conds, i, c) {
		const char *t = obj_str(c, "type"), *st = obj_str(c, "status");
		if (t && st && !strcmp(t, type))
			return !strcmp(st, "True");
	}
	return false;
}

static uint8_t alloc_ip(struct hnode *n)
{
	/* .1 is the gateway; hand out .2 to .254. */
	for (unsigned i = 2; i < 255; i++) {
		if (!(n->used_ips[i / 8] & (1u << (i % 8)))) {
			n->used_ips[i / 8] |= (uint8_t)(1u << (i % 8));
			return (uint8_t)i;
		}
	}
	return 0;
}

static json_t *container_statuses(const json_t *containers, const char *uid, const char *now, bool init)
{
	json_t *out = json_array(), *c;
	size_t i;

	json_array_foreach(containers, i, c) {
		const char *name = obj_str(c, "name") ?: "", *image = obj_str(c, "image") ?: "";
		char *id = xasprintf("hollow://%s-%s", uid, name), *image_id = xasprintf("hollow://%s", image);
		json_t *state = init ? json_pack("{s:{s:i, s:s, s:s, s:s}}", "terminated", "exitCode", 0, "reason",
						 "Completed", "startedAt", now, "finishedAt", now)
				     : json_pack("{s:{s:s}}", "running", "startedAt", now);
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:i, s:o, s:{}}", "name", name,
						     "image", image, "imageID", image_id, "containerID", id, "ready",
						     !init, "started", !init, "restartCount", 0, "state", state,
						     "lastState"));
		free(id);
		free(image_id);
	}
	return out;
}

static void queue_pod_status(struct hollow *h, struct hpod *p, json_t *obj)
{
	struct hnode *n = &h->nodes[p->node];
	char now[32], ip[16], *ns;
	const char *name, *uid = obj_str(obj, "metadata.uid") ?: "";
	json_t *conds, *status, *init;

	if (!p->ip)
		p->ip = alloc_ip(n);
	ip_string(n->pod_net | p->ip, ip, sizeof(ip));
	time_now(now, sizeof(now), false);
	conds = json_array();
	static const char *const types[] = { "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady" };
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		json_array_append_new(conds, json_pack("{s:s, s:s, s:n, s:s}", "type", types[i], "status", "True",
						       "lastProbeTime", "lastTransitionTime", now));
	json_array_append_new(conds, json_pack("{s:s, s:s}", "type", "PodScheduled", "status", "True"));
	status = json_pack("{s:s, s:o, s:s, s:[{s:s}], s:s, s:[{s:s}], s:s, s:o}", "phase", "Running", "conditions",
			   conds, "hostIP", n->ip, "hostIPs", "ip", n->ip, "podIP", ip, "podIPs", "ip", ip, "startTime",
			   now, "containerStatuses", container_statuses(obj_get(obj, "spec.containers"), uid, now, false));
	init = obj_get(obj, "spec.initContainers");
	if (json_array_size(init))
		json_object_set_new(status, "initContainerStatuses", container_statuses(init, uid, now, true));
	ns = split_key(p->key, &name);
	enqueue(h, W_POD_STATUS, n, p, "PATCH", xasprintf("/api/v1/namespaces/%s/pods/%s/status", ns, name),
		"application/strategic-merge-patch+json", json_pack("{s:o}", "status", status));
	free(ns);
}

static void queue_pod_delete(struct hollow *h, struct hpod *p, json_t *obj)
{
	const char *name;
	char *ns = split_key(p->key, &name);
	json_t *opts = json_pack("{s:s, s:s, s:i, s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
				 "gracePeriodSeconds", 0, "preconditions", "uid", obj_str(obj, "metadata.uid") ?: "");

	p->deleting = true;
	enqueue(h, W_POD_DELETE, &h->nodes[p->node], p, "DELETE",
		xasprintf("/api/v1/namespaces/%s/pods/%s", ns, name), NULL, opts);
	free(ns);
}

static void pod_gone(struct hollow *h, struct hpod *p)
{
	strmap_del(&h->pods, p->key);
	pod_release_ip(h, p);
	if (p->busy)
		p->gone = true;
	else
		pod_free(p);
}

static struct hpod *pod_seen(struct hollow *h, json_t *obj, bool deleted)
{
	const char *ns = obj_namespace(obj) ?: "", *name = obj_name(obj), *node_name = obj_str(obj, "spec.nodeName");
	struct hnode *n = node_name ? strmap_get(&h->node_by_name, node_name) : NULL;
	struct hpod *p;
	char key[512];

	if (!name || (size_t)snprintf(key, sizeof(key), "%s/%s", ns, name) >= sizeof(key))
		return NULL;
	p = strmap_get(&h->pods, key);
	if (deleted || !n) {
		if (p)
			pod_gone(h, p);
		return NULL;
	}
	if (!p) {
		const char *ip = obj_str(obj, "status.podIP");
		p = xcalloc(1, sizeof(*p));
		p->key = xstrdup(key);
		p->node = n->index;
		strmap_put(&h->pods, p->key, p);
		/* Already running (an earlier run of ours): keep its address. */
		if (ip && !strcmp(obj_str(obj, "status.phase") ?: "", "Running") && pod_condition_true(obj, "Ready")) {
			struct in_addr a;
			if (inet_pton(AF_INET, ip, &a) == 1 && (ntohl(a.s_addr) & 0xffffff00u) == n->pod_net) {
				p->ip = ntohl(a.s_addr) & 255;
				n->used_ips[p->ip / 8] |= (uint8_t)(1u << (p->ip % 8));
			}
			p->running = true;
		}
	}
	if (p->busy)
		return p; /* the next event after this write will tell */
	if (obj_get(obj, "metadata.deletionTimestamp")) {
		if (!p->deleting)
			queue_pod_delete(h, p, obj);
		return p;
	}
	if (!p->running && p->retries <= MAX_POD_RETRIES)
		queue_pod_status(h, p, obj);
	return p;
}

static void on_pods_list_begin(void *data)
{
	struct hollow *h = data;

	strmap_release(&h->seen);
	strmap_init(&h->seen);
}

static void on_pods_list_item(json_t *obj, void *data)
{
	struct hollow *h = data;
	struct hpod *p = pod_seen(h, obj, false);

	if (p)
		strmap_put(&h->seen, p->key, p);
}

static void on_pods_list_end(void *data)
{
	struct hollow *h = data;
	struct hpod **gone = NULL;
	size_t n = 0, it = 0;
	const char *k;
	void *v;

	while (strmap_next(&h->pods, &it, &k, &v)) {
		if (!strmap_get(&h->seen, k)) {
			gone = xrealloc(gone, (n + 1) * sizeof(*gone));
			gone[n++] = v;
		}
	}
	for (size_t i = 0; i < n; i++)
		pod_gone(h, gone[i]);
	free(gone);
	strmap_release(&h->seen);
	strmap_init(&h->seen);
}

static void on_pod_event(const char *type, json_t *obj, void *data)
{
	pod_seen(data, obj, !strcmp(type, "DELETED"));
}

/* ---- start and stop -------------------------------------------------------------------- */

static void free_hollow(struct hollow *h)
{
	const char *k;
	void *v;
	size_t it = 0;

	while (strmap_next(&h->pods, &it, &k, &v))
		pod_free(v);
	strmap_release(&h->pods);
	strmap_release(&h->seen);
	strmap_release(&h->node_by_name);
	for (uint32_t i = 0; i < h->nnodes; i++)
		free(h->nodes[i].name);
	free(h->nodes);
	free(h);
}

static int start(uv_loop_t *loop, const char *kubeconfig, void **state)
{
	struct reflector_handlers ph = { on_pods_list_begin, on_pods_list_item, on_pods_list_end, on_pod_event, NULL };
	struct reflector_handlers nh = { NULL, on_nodes_list_item, NULL, on_node_event, NULL };
	const char *prefix = flag_prefix && *flag_prefix ? flag_prefix : "hollow";
	struct kubeconfig *kc = NULL;
	struct hollow *h;
	uint32_t seed = maps_hash(prefix);

	if (flag_count <= 0)
		return error("hollow-node needs --count N (how many fake nodes to run)");
	if (flag_count > 60000)
		return error("invalid --count %d: at most 60000 nodes per process", flag_count);
	if (flag_pods <= 0 || flag_pods > 250)
		return error("invalid --pods %d: use 1 to 250 (each node's pods share one /24)", flag_pods);
	if (kubeconfig_load(kubeconfig, NULL, &kc, NULL) < 0)
		return error("hollow-node needs a kubeconfig: pass --kubeconfig FILE (minik8s server writes "
			     "<data-dir>/admin.kubeconfig)");
	h = xcalloc(1, sizeof(*h));
	h->loop = loop;
	strmap_init(&h->node_by_name);
	strmap_init(&h->pods);
	strmap_init(&h->seen);
	h->nnodes = (uint32_t)flag_count;
	h->nodes = xcalloc(h->nnodes, sizeof(*h->nodes));
	for (uint32_t i = 0; i < h->nnodes; i++) {
		struct hnode *n = &h->nodes[i];
		/* Fake addresses: nodes in 10.x, pods in 100.64.0.0/10, one /24 per
		 * node; the prefix picks the block so processes rarely collide. */
		uint32_t slot = (seed * 7919u + i) % 16384u;
		n->name = xasprintf("%s-%u", prefix, i);
		n->index = i;
		snprintf(n->ip, sizeof(n->ip), "10.%u.%u.%u", 64 + (seed % 128), (i / 250) % 256, i % 250 + 2);
		n->pod_net = (100u << 24) | ((64u + slot / 256) << 16) | ((slot % 256) << 8);
		/* Spread the first lease renewals over the period, so a thousand
		 * nodes do not all write in the same tick. */
		n->next_lease_ms = now_ms() + (uint64_t)i * LEASE_RENEW_MS / h->nnodes;
		strmap_put(&h->node_by_name, n->name, n);
	}
	h->rc = rest_client_new(loop, kc);
	kubeconfig_free(kc);
	if (!h->rc) {
		free_hollow(h);
		return -1;
	}
	uv_timer_init(loop, &h->tick);
	h->tick.data = h;
	uv_timer_start(&h->tick, on_tick, 0, TICK_MS);
	ph.data = h;
	nh.data = h;
	h->pod_watch = reflector_new(h->rc, "pods", "/api/v1/pods", "spec.nodeName!=", &ph);
	h->node_watch = reflector_new(h->rc, "nodes", "/api/v1/nodes", NULL, &nh);
	reflector_start(h->pod_watch);
	reflector_start(h->node_watch);
	log_info("hollow-node started nodes=%u prefix=%s cpu=%s memory=%s pods=%d", h->nnodes, prefix,
		 flag_cpu ? flag_cpu : "4", flag_memory ? flag_memory : "16Gi", flag_pods);
	*state = h;
	return 0;
}

static void finish(void *arg)
{
	struct hollow *h = arg;
	void (*done)(void *) = h->done;
	void *done_arg = h->done_arg;

	free_hollow(h);
	done(done_arg);
}

static void on_part_closed(void *arg)
{
	struct hollow *h = arg;

	if (--h->closing == 0)
		rest_client_close(h->rc, finish, h);
}

static void on_tick_closed(uv_handle_t *hd)
{
	on_part_closed(hd->data);
}

static void free_list(struct hwork *w)
{
	while (w) {
		struct hwork *next = w->next;
		if (w->pod) {
			w->pod->busy = false;
			if (w->pod->gone)
				pod_free(w->pod);
		}
		work_free(w);
		w = next;
	}
}

static void stop(void *state, void (*done)(void *arg), void *arg)
{
	struct hollow *h = state;

	h->stopping = true;
	h->done = done;
	h->done_arg = arg;
	for (struct hwork *w = h->inflight; w; w = w->next)
		rest_cancel(w->req);
	free_list(h->inflight);
	free_list(h->hi_head);
	free_list(h->lo_head);
	h->inflight = h->hi_head = h->lo_head = h->hi_tail = h->lo_tail = NULL;
	log_info("hollow-node stopping nodes=%u running-marked=%llu deletions-confirmed=%llu", h->nnodes,
		 (unsigned long long)h->running_marked, (unsigned long long)h->deletions_confirmed);
	h->closing = 3;
	uv_close((uv_handle_t *)&h->tick, on_tick_closed);
	reflector_close(h->pod_watch, on_part_closed, h);
	reflector_close(h->node_watch, on_part_closed, h);
}

const struct component hollow_node_component = {
	.name = "hollow-node",
	.usage = "usage: minik8s hollow-node --count N [--name-prefix P] [--kubeconfig FILE] [flags]\n\n"
		 "Runs N fake nodes in this process (as Kubernetes' kubemark): they register, renew their\n"
		 "leases, report the pods bound to them Running and Ready, and confirm their deletion.\n"
		 "Stop the process and its nodes go NotReady. For tests and benchmarks without Docker.\n",
	.flags = hollow_flags,
	.start = start,
	.stop = stop,
};
