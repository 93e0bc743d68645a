/*
 * The kubelet component (kubelet.h): flags, start and stop, and the two
 * caches its pod workers read. The API side is informers: pods bound to
 * this node (fieldSelector spec.nodeName=<node>), our Node, and the
 * ConfigMaps, Secrets and Services pods refer to. The Docker side is a
 * cache of our containers (label io.minik8s.node=<node>): listed and
 * inspected at start and after the engine comes back, then kept current
 * from the engine's /events stream. A 1 s tick drives the heartbeats.
 *
 *   informers --(pod uid)--> workqueue --> podworker_sync(uid) --> Docker
 *   Docker /events --> inspect --> container cache --(pod uid)--^
 */
#include "kubelet/kubelet.h"
#include "kubelet/internal.h"
#include "apiserver/pki.h"
#include "client/kubeconfig.h"
#include "core/component.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IMAGE_TTL_MS 60000
#define DOCKER_RETRY_MS 2000

/* The pause program, built static and embedded at build time (pause_bin.c). */
extern const unsigned char kubelet_pause_bin[];
extern const unsigned int kubelet_pause_bin_len;

struct image_seen {
	struct image_seen *next;
	char *name, *id;
	int64_t at_ms;
};

enum { OP_RELIST = 100, OP_INSPECT, OP_VERSION, OP_PAUSE };

static struct kubelet_config cfg = {
	.initial_backoff_ms = 10000,
	.max_backoff_ms = 300000,
	.port = 10250,
	.max_pods = 110,
	.manage_iptables = true,
};

static const struct flag kubelet_flags[] = {
	{ "node-name", FLAG_STRING, &cfg.node_name, "name of this node (default: the hostname)" },
	{ "docker-host", FLAG_STRING, &cfg.docker_host,
	  "the Docker Engine's socket (default $DOCKER_HOST, then unix:///var/run/docker.sock)" },
	{ "root-dir", FLAG_STRING, &cfg.root_dir,
	  "kubelet files: pod volumes, resolv.conf, hosts, certificate (default <data-dir>/kubelet in server/agent, "
	  "/var/lib/minik8s/kubelet as root, else ~/.minik8s/kubelet)" },
	{ "pod-cidr", FLAG_STRING, &cfg.pod_cidr,
	  "pod addresses of this node, e.g. 10.244.1.0/24 (default: wait for the node's spec.podCIDR)" },
	{ "non-masquerade-cidr", FLAG_STRING, &cfg.non_masquerade_cidr,
	  "the cluster's pod range: forwarded and not masqueraded between pods (default 10.244.0.0/16)" },
	{ "manage-iptables", FLAG_BOOL, &cfg.manage_iptables,
	  "add the DOCKER-USER and NAT rules that let pods of different nodes talk (default true)" },
	{ "cluster-dns", FLAG_STRING, &cfg.cluster_dns, "DNS server of ClusterFirst pods (default 10.96.0.10)" },
	{ "cluster-domain", FLAG_STRING, &cfg.cluster_domain, "cluster domain (default cluster.local)" },
	{ "resolv-conf", FLAG_STRING, &cfg.resolv_conf, "the node's resolver file for dnsPolicy Default (default /etc/resolv.conf)" },
	{ "crashloop-initial-backoff", FLAG_DURATION, &cfg.initial_backoff_ms,
	  "first wait before restarting a crashed container or pulling an image again (default 10s)" },
	{ "crashloop-max-backoff", FLAG_DURATION, &cfg.max_backoff_ms,
	  "longest such wait (default 5m; tests shorten it)" },
	{ "kubelet-port", FLAG_INT, &cfg.port, "HTTPS port of the kubelet API, container logs (default 10250; 0 picks one)" },
	{ "kubelet-address", FLAG_STRING, &cfg.address, "address the kubelet API listens on (default 0.0.0.0)" },
	{ "kubelet-token-file", FLAG_STRING, &cfg.token_file,
	  "file with the bearer token the kubelet API accepts (default: the one the agent's join received; alone: "
	  "the kubeconfig's)" },
	{ "node-ip", FLAG_STRING, &cfg.node_ip, "InternalIP of the node (default: the address of the default route)" },
	{ "tls-cert-file", FLAG_STRING, &cfg.tls_cert_file, "kubelet API certificate (default: issued by the cluster CA, "
							     "or self-made under --root-dir)" },
	{ "tls-private-key-file", FLAG_STRING, &cfg.tls_key_file, "its private key" },
	{ "pod-infra-container-image", FLAG_STRING, &cfg.pause_image,
	  "sandbox image (default minik8s/pause:1, imported from the binary)" },
	{ "max-pods", FLAG_INT, &cfg.max_pods, "pods this node takes (default 110)" },
	{ "node-labels", FLAG_LIST, &cfg.node_labels, "labels to register the node with: k=v (repeatable)" },
	{ NULL, 0, NULL, NULL },
};

static void set_default(char **field, const char *value)
{
	if (value && (!*field || !**field))
		*field = xstrdup(value); /* flag storage: lives as long as the process */
}

void kubelet_set_agent_files(const struct kubelet_agent_files *f)
{
	set_default(&cfg.root_dir, f->root_dir);
	set_default(&cfg.token_file, f->token_file);
	if (!cfg.tls_cert_file && !cfg.tls_key_file) {
		set_default(&cfg.tls_cert_file, f->cert_file);
		set_default(&cfg.tls_key_file, f->key_file);
	}
}

int64_t kubelet_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- operations registry -------------------------------------------------- */

struct kop *kop_new(struct kubelet *k, struct kpod *p, int kind)
{
	struct kop *op = xcalloc(1, sizeof(*op));

	op->k = k;
	op->p = p;
	op->kind = kind;
	op->t0_ms = kubelet_now_ms();
	if (p)
		p->refs++;
	op->next = k->ops;
	if (k->ops)
		k->ops->prev = op;
	k->ops = op;
	k->nops++;
	return op;
}

void kop_free(struct kop *op)
{
	struct kubelet *k = op->k;

	if (op->prev)
		op->prev->next = op->next;
	else
		k->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	k->nops--;
	if (op->free_extra)
		op->free_extra(op);
	free(op->container);
	free(op->id);
	free(op->image);
	free(op->str);
	json_decref(op->body);
	json_decref(op->spec);
	if (op->p)
		kpod_unref(op->p);
	free(op);
}

/* Cancels whatever op waits for and frees it (only at stop). */
static void kop_cancel(struct kop *op)
{
	if (op->dreq)
		docker_cancel(op->dreq);
	if (op->rreq)
		rest_cancel(op->rreq);
	if (op->hreq)
		httpc_cancel(op->hreq);
	op->dreq = NULL;
	op->rreq = NULL;
	op->hreq = NULL;
	kop_free(op);
}

void kubelet_handle_opened(struct kubelet *k)
{
	k->handles++;
}

static void check_stopped(struct kubelet *k);

void kubelet_handle_closed(struct kubelet *k)
{
	k->handles--;
	if (k->stopping)
		check_stopped(k);
}

/* ---- the container cache ----------------------------------------------------- */

struct kcontainer *kubelet_container_by_id(struct kubelet *k, const char *id)
{
	for (struct kcontainer *c = k->containers; c; c = c->next)
		if (!strcmp(c->id, id))
			return c;
	return NULL;
}

struct kcontainer **kubelet_pod_containers(struct kubelet *k, const char *uid, size_t *n)
{
	struct kcontainer **v = NULL;
	size_t len = 0;

	for (struct kcontainer *c = k->containers; c; c = c->next) {
		if (strcmp(c->pod_uid, uid))
			continue;
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len++] = c;
	}
	*n = len;
	return v;
}

struct kcontainer *kubelet_container_update(struct kubelet *k, const json_t *inspect)
{
	struct kcontainer tmp, *c;

	if (kcontainer_from_inspect(&tmp, inspect, k->network) < 0)
		return NULL;
	if (strcmp(key_str(obj_get(inspect, "Config.Labels"), LABEL_NODE) ?: "", k->node_name)) {
		kcontainer_release(&tmp);
		return NULL;
	}
	c = kubelet_container_by_id(k, tmp.id);
	if (c) {
		struct kcontainer *prev = c->prev, *next = c->next;
		int busy = c->busy;
		char *message = c->message;
		bool read = c->message_read && tmp.state == KC_EXITED && c->state == KC_EXITED;

		c->message = NULL;
		kcontainer_release(c);
		*c = tmp;
		c->prev = prev;
		c->next = next;
		c->busy = busy;
		if (read) {
			c->message = message;
			c->message_read = true;
		} else {
			free(message);
		}
	} else {
		c = xmalloc(sizeof(*c));
		*c = tmp;
		c->prev = NULL;
		c->next = k->containers;
		if (k->containers)
			k->containers->prev = c;
		k->containers = c;
		k->ncontainers++;
	}
	c->seen = true;
	return c;
}

void kubelet_container_remove(struct kubelet *k, struct kcontainer *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		k->containers = c->next;
	if (c->next)
		c->next->prev = c->prev;
	k->ncontainers--;
	kcontainer_release(c);
	free(c);
}

static void enqueue_uid(struct kubelet *k, const char *uid, const char *ns, const char *name)
{
	struct kpod *p = kpod_get(k, uid);

	if (!p && k->workers_started)
		p = kpod_ensure(k, uid, ns, name);
	if (p)
		kpod_enqueue(p);
}

static void maybe_start_workers(struct kubelet *k);

/* One inspection of a relist answered (or the list itself was walked). */
static void relist_step_done(struct kubelet *k)
{
	struct kcontainer *c, *next;

	if (--k->relist_pending)
		return;
	/* Drop what the engine no longer has. */
	for (c = k->containers; c; c = next) {
		next = c->next;
		if (!c->seen && !c->busy) {
			char *uid = xstrdup(c->pod_uid);
			kubelet_container_remove(k, c);
			enqueue_uid(k, uid, NULL, NULL);
			free(uid);
		}
	}
	k->relisting = false;
	k->cache_synced = true;
	log_info("kubelet containers listed node=%s containers=%zu", k->node_name, k->ncontainers);
	maybe_start_workers(k);
}

static void on_inspect_done(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kubelet *k = op->k;

	op->dreq = NULL;
	if (!r->error) {
		struct kcontainer *c = kubelet_container_update(k, r->body);
		if (c)
			enqueue_uid(k, c->pod_uid, c->pod_ns, c->pod_name);
	} else if (r->status == 404) {
		struct kcontainer *c = kubelet_container_by_id(k, op->str);
		if (c) {
			char *uid = xstrdup(c->pod_uid);
			kubelet_container_remove(k, c);
			enqueue_uid(k, uid, NULL, NULL);
			free(uid);
		}
	} else if (r->unreachable) {
		kubelet_docker_unreachable(k);
	}
	if (op->kind == OP_RELIST)
		relist_step_done(k);
	kop_free(op);
}

static void inspect_start(struct kubelet *k, const char *id, int kind)
{
	struct kop *op = kop_new(k, NULL, kind);
	char *path = xasprintf("/containers/%s/json", id);

	op->str = xstrdup(id);
	op->dreq = docker_call(k->docker, "GET", path, NULL, 0, on_inspect_done, op);
	free(path);
	if (!op->dreq) {
		kop_free(op);
		if (kind == OP_RELIST)
			relist_step_done(k);
	}
}

void kubelet_container_refresh(struct kubelet *k, const char *id)
{
	inspect_start(k, id, OP_INSPECT);
}

static void on_relist_done(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kubelet *k = op->k;
	json_t *item;
	size_t i;

	op->dreq = NULL;
	if (r->error) {
		log_warn("kubelet cannot list containers: %s", r->error);
		k->relisting = false;
		if (r->unreachable)
			kubelet_docker_unreachable(k);
		else
			k->docker_retry_ms = kubelet_now_ms() + DOCKER_RETRY_MS;
		kop_free(op);
		return;
	}
	for (struct kcontainer *c = k->containers; c; c = c->next)
		c->seen = false;
	/* Inspect everything; the last answer completes the relist. One
	 * extra count keeps it from completing while we are still looping. */
	k->relist_pending = 1;
	json_array_foreach(r->body, i, item) {
		const char *id = obj_str(item, "Id");
		if (!id)
			continue;
		k->relist_pending++;
		inspect_start(k, id, OP_RELIST);
	}
	kop_free(op);
	relist_step_done(k);
}

static void relist(struct kubelet *k)
{
	struct kop *op;
	char *path = xstrdup("/containers/json?all=1");
	char *filter = xasprintf("{\"label\":[\"%s=%s\"]}", LABEL_NODE, k->node_name);

	docker_query_add(&path, "filters", filter);
	free(filter);
	k->relisting = true;
	op = kop_new(k, NULL, OP_RELIST);
	op->dreq = docker_call(k->docker, "GET", path, NULL, 0, on_relist_done, op);
	free(path);
	if (!op->dreq) {
		k->relisting = false;
		kop_free(op);
	}
}

/* ---- the engine's event stream -------------------------------------------------- */

static void handle_engine_event(struct kubelet *k, const json_t *ev)
{
	const char *action = obj_str(ev, "Action") ?: obj_str(ev, "status") ?: "";
	const char *id = obj_str(ev, "Actor.ID") ?: obj_str(ev, "id");
	json_t *attrs = obj_get(ev, "Actor.Attributes");
	struct kcontainer *c;

	if (!id || str_has_prefix(action, "exec_") || !strcmp(action, "attach") || !strcmp(action, "resize") ||
	    !strcmp(action, "top") || !strcmp(action, "kill") || !strcmp(action, "archive-path") ||
	    !strcmp(action, "extract-to-dir") || !strcmp(action, "export") || !strcmp(action, "commit"))
		return;
	log_trace("kubelet engine event action=%s id=%.12s", action, id);
	c = kubelet_container_by_id(k, id);
	if (!strcmp(action, "destroy")) {
		if (c) {
			char *uid = xstrdup(c->pod_uid);
			kubelet_container_remove(k, c);
			enqueue_uid(k, uid, NULL, NULL);
			free(uid);
		}
		return;
	}
	/* What we just did ourselves needs no second look. */
	if (c && ((!strcmp(action, "create") && c->state == KC_CREATED) ||
		  (!strcmp(action, "start") && c->state == KC_RUNNING)))
		return;
	if (!c && !key_str(attrs, LABEL_POD_UID))
		return;
	kubelet_container_refresh(k, id);
}

static int on_events_data(const char *buf, size_t len, void *data)
{
	struct kubelet *k = data;
	size_t off = 0;

	strbuf_add(&k->events_buf, buf, len);
	for (;;) {
		char *nl = memchr(k->events_buf.buf + off, '\n', k->events_buf.len - off);
		json_t *ev;
		if (!nl)
			break;
		ev = json_loadb(k->events_buf.buf + off, (size_t)(nl - k->events_buf.buf - off), 0, NULL);
		off = (size_t)(nl - k->events_buf.buf) + 1;
		if (ev) {
			handle_engine_event(k, ev);
			json_decref(ev);
		}
	}
	if (off) {
		memmove(k->events_buf.buf, k->events_buf.buf + off, k->events_buf.len - off);
		k->events_buf.len -= off;
		k->events_buf.buf[k->events_buf.len] = '\0';
	}
	return 0;
}

static void on_events_done(const struct docker_result *r, void *data)
{
	struct kubelet *k = data;

	k->events_req = NULL;
	if (k->stopping)
		return;
	log_warn("kubelet lost the docker event stream: %s; reconnecting",
		 r->error ? r->error : "the engine closed it");
	/* Whatever happened meanwhile is unknown: start over from /version. */
	k->docker_up = false;
	k->docker_retry_ms = kubelet_now_ms() + (r->unreachable ? DOCKER_RETRY_MS : 200);
}

static void start_events(struct kubelet *k)
{
	char *path = xasprintf("/events?since=%lld", (long long)k->relist_since);
	char *filter = xasprintf("{\"type\":[\"container\"],\"label\":[\"%s=%s\"]}", LABEL_NODE, k->node_name);

	docker_query_add(&path, "filters", filter);
	free(filter);
	strbuf_reset(&k->events_buf);
	k->events_req = docker_stream(k->docker, "GET", path, NULL, NULL, 0, -1, on_events_data, on_events_done, k);
	free(path);
}

void kubelet_docker_unreachable(struct kubelet *k)
{
	if (!k->docker_up)
		return;
	log_warn("kubelet lost the docker engine at '%s'; retrying", docker_socket(k->docker));
	k->docker_up = false;
	k->docker_retry_ms = kubelet_now_ms() + DOCKER_RETRY_MS;
	if (k->events_req) {
		docker_cancel(k->events_req);
		k->events_req = NULL;
	}
}

static void on_version_done(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kubelet *k = op->k;

	op->dreq = NULL;
	k->docker_checking = false;
	kop_free(op);
	if (r->error) {
		log_warn("kubelet cannot reach the docker engine: %s; retrying in %ds", r->error, DOCKER_RETRY_MS / 1000);
		k->docker_retry_ms = kubelet_now_ms() + DOCKER_RETRY_MS;
		return;
	}
	free(k->docker_version);
	k->docker_version = xstrdup(obj_str(r->body, "Version") ?: "unknown");
	log_info("kubelet docker engine up version=%s api=%s", k->docker_version, obj_str(r->body, "ApiVersion") ?: "");
	k->docker_up = true;
	k->next_status_ms = 0;
	k->pause_ready = false;
	/* The stream first, then the list: nothing between them is missed. */
	if (k->events_req)
		docker_cancel(k->events_req);
	k->relist_since = time(NULL) - 1;
	start_events(k);
	relist(k);
	kubelet_ensure_pause(k);
	/* The engine may have lost the network (a restart keeps it, a reinstall not). */
	k->network_ready = false;
}

static void check_docker(struct kubelet *k)
{
	struct kop *op = kop_new(k, NULL, OP_VERSION);

	k->docker_checking = true;
	op->dreq = docker_call(k->docker, "GET", "/version", NULL, 5000, on_version_done, op);
	if (!op->dreq) {
		k->docker_checking = false;
		k->docker_retry_ms = kubelet_now_ms() + DOCKER_RETRY_MS;
		kop_free(op);
	}
}

/* ---- images ------------------------------------------------------------------------ */

const char *kubelet_image_known(struct kubelet *k, const char *image)
{
	int64_t now = kubelet_now_ms();

	for (struct image_seen *s = k->images; s; s = s->next)
		if (!strcmp(s->name, image) && now - s->at_ms < IMAGE_TTL_MS)
			return s->id;
	return NULL;
}

void kubelet_image_remember(struct kubelet *k, const char *image, const char *id)
{
	struct image_seen *s;

	for (s = k->images; s; s = s->next) {
		if (!strcmp(s->name, image)) {
			free(s->id);
			s->id = xstrdup(id ? id : "");
			s->at_ms = kubelet_now_ms();
			return;
		}
	}
	s = xcalloc(1, sizeof(*s));
	s->name = xstrdup(image);
	s->id = xstrdup(id ? id : "");
	s->at_ms = kubelet_now_ms();
	s->next = k->images;
	k->images = s;
}

void kubelet_image_forget(struct kubelet *k, const char *image)
{
	for (struct image_seen **pp = &k->images; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->name, image)) {
			struct image_seen *s = *pp;
			*pp = s->next;
			free(s->name);
			free(s->id);
			free(s);
			return;
		}
	}
}

static void on_pause_imported(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kubelet *k = op->k;
	const char *err = r->error;

	op->dreq = NULL;
	k->pause_busy = false;
	/* The import answers 200 with {"error": ...} lines when it fails late. */
	if (!err && r->raw && strstr(r->raw, "\"error\""))
		err = r->raw;
	if (err) {
		log_error("kubelet cannot import the pause image '%s': %s", k->cfg.pause_image, err);
	} else {
		log_info("kubelet imported pause image=%s bytes=%u", k->cfg.pause_image, kubelet_pause_bin_len);
		k->pause_ready = true;
	}
	kop_free(op);
}

static void import_pause(struct kubelet *k, struct kop *op)
{
	const char *image = k->cfg.pause_image;
	const char *colon = strrchr(image, ':');
	char *repo = colon ? xstrndup(image, (size_t)(colon - image)) : xstrdup(image);
	char *path = xstrdup("/images/create?fromSrc=-");
	struct strbuf tar;

	docker_query_add(&path, "repo", repo);
	docker_query_add(&path, "tag", colon ? colon + 1 : "latest");
	docker_query_add(&path, "changes", "CMD [\"/pause\"]");
	docker_query_add(&path, "changes", "LABEL io.minik8s.pause=1");
	strbuf_init(&tar, kubelet_pause_bin_len + 2048);
	docker_tar_add(&tar, "pause", kubelet_pause_bin, kubelet_pause_bin_len, 0755);
	docker_tar_end(&tar);
	op->dreq = docker_stream(k->docker, "POST", path, "application/x-tar", tar.buf, tar.len, 0, NULL,
				 on_pause_imported, op);
	strbuf_release(&tar);
	free(path);
	free(repo);
	if (!op->dreq) {
		k->pause_busy = false;
		kop_free(op);
	}
}

static void on_pause_pulled(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kubelet *k = op->k;

	op->dreq = NULL;
	k->pause_busy = false;
	if (r->error || (r->raw && strstr(r->raw, "\"error\"")))
		log_error("kubelet cannot pull the sandbox image '%s': %s", k->cfg.pause_image,
			  r->error ? r->error : r->raw);
	else
		k->pause_ready = true;
	kop_free(op);
}

static void on_pause_inspected(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kubelet *k = op->k;

	op->dreq = NULL;
	if (!r->error) {
		k->pause_busy = false;
		k->pause_ready = true;
		kop_free(op);
		return;
	}
	if (r->status != 404) {
		k->pause_busy = false;
		if (r->unreachable)
			kubelet_docker_unreachable(k);
		kop_free(op);
		return;
	}
	if (!strcmp(k->cfg.pause_image, PAUSE_IMAGE)) {
		import_pause(k, op);
	} else {
		char *path = xstrdup("/images/create");
		docker_query_add(&path, "fromImage", k->cfg.pause_image);
		op->dreq = docker_call(k->docker, "POST", path, NULL, 10 * 60 * 1000L, on_pause_pulled, op);
		free(path);
		if (!op->dreq) {
			k->pause_busy = false;
			kop_free(op);
		}
	}
}

void kubelet_ensure_pause(struct kubelet *k)
{
	struct kop *op;
	char *path;

	if (k->pause_ready || k->pause_busy || !k->docker_up)
		return;
	k->pause_busy = true;
	op = kop_new(k, NULL, OP_PAUSE);
	path = xasprintf("/images/%s/json", k->cfg.pause_image);
	op->dreq = docker_call(k->docker, "GET", path, NULL, 0, on_pause_inspected, op);
	free(path);
	if (!op->dreq) {
		k->pause_busy = false;
		kop_free(op);
	}
}

/* ---- lookups for the pod worker ------------------------------------------------------ */

/* A ConfigMap or Secret appeared or changed: the pods of its namespace may
 * be waiting for it (CreateContainerConfigError) or mount it. */
static void on_object_changed(json_t *obj, void *data)
{
	struct objwatch *w = data;
	const char *ns = obj_str(obj, "metadata.namespace");

	for (struct kpod *p = w->k->kpods; p; p = p->next)
		if (ns && !strcmp(p->ns, ns))
			kpod_enqueue(p);
}

static void on_object_updated(json_t *old_obj, json_t *new_obj, void *data)
{
	(void)old_obj;
	on_object_changed(new_obj, data);
}

static struct objwatch *objwatch_new(struct kubelet *k, const char *resource, const char *ns, const char *name)
{
	static const struct rest_resource cm_res = { "", "v1", "configmaps", true };
	static const struct rest_resource secret_res = { "", "v1", "secrets", true };
	struct objwatch *w = xcalloc(1, sizeof(*w));
	struct informer_handlers h = { on_object_changed, on_object_updated, NULL, w };
	char *sel = xasprintf("metadata.name=%s", name);
	struct informer_options o = { .namespace = ns, .field_selector = sel };

	w->k = k;
	w->resource = xstrdup(resource);
	w->key = xasprintf("%s/%s", ns, name);
	w->inf = informer_new(k->rest, !strcmp(resource, "secrets") ? &secret_res : &cm_res, &o);
	informer_add_handlers(w->inf, &h);
	informer_start(w->inf);
	free(sel);
	w->next = k->objwatches;
	k->objwatches = w;
	log_debug("kubelet watching %s/%s", resource, w->key);
	return w;
}

static void on_objwatch_closed(void *arg)
{
	struct kubelet *k = arg;

	k->objwatch_closing--;
	if (k->stopping)
		check_stopped(k);
}

/* Closes w's informer (its callback always comes later, from the loop). */
static void objwatch_close(struct kubelet *k, struct objwatch *w)
{
	k->objwatch_closing++;
	informer_close(w->inf, on_objwatch_closed, k);
	free(w->resource);
	free(w->key);
	free(w);
}

#define OBJWATCH_IDLE_MS (10 * 60 * 1000)

/* Drops the watches no pod has looked at for a while. */
static void objwatch_gc(struct kubelet *k, int64_t now)
{
	struct objwatch **pp = &k->objwatches;

	if (now < k->next_objwatch_gc_ms)
		return;
	k->next_objwatch_gc_ms = now + 60000;
	while (*pp) {
		struct objwatch *w = *pp;
		if (now - w->used_ms > OBJWATCH_IDLE_MS) {
			*pp = w->next;
			objwatch_close(k, w);
		} else {
			pp = &w->next;
		}
	}
}

/* The object, or NULL while it is missing or its watch has not listed yet
 * (the pod worker then retries, as for a missing one). */
const json_t *kubelet_lookup(const char *resource, const char *ns, const char *name, void *data)
{
	struct kubelet *k = data;
	char *key = xasprintf("%s/%s", ns, name);
	struct objwatch *w;

	for (w = k->objwatches; w; w = w->next)
		if (!strcmp(w->key, key) && !strcmp(w->resource, resource))
			break;
	if (!w && !k->stopping)
		w = objwatch_new(k, resource, ns, name);
	free(key);
	if (!w)
		return NULL;
	w->used_ms = kubelet_now_ms();
	return informer_get(w->inf, w->key);
}

json_t *kubelet_services(struct kubelet *k, const char *ns)
{
	json_t *list = informer_list(k->services, ns);

	if (strcmp(ns, "default")) {
		json_t *master = informer_get(k->services, "default/kubernetes");
		if (master)
			json_array_append(list, master);
	}
	return list;
}

/* ---- informers ------------------------------------------------------------------------ */

static void on_pod_add(json_t *obj, void *data)
{
	struct kubelet *k = data;
	const char *uid = obj_str(obj, "metadata.uid");

	if (uid)
		kpod_enqueue(kpod_ensure(k, uid, obj_namespace(obj), obj_name(obj)));
}

/* Only the status changed, and to what we wrote ourselves: nothing to do
 * (as the kubelet ignores its own status updates). */
static bool own_status_echo(struct kubelet *k, const json_t *old_obj, const json_t *new_obj)
{
	static const char *const same[] = { "spec", "metadata.deletionTimestamp", "metadata.deletionGracePeriodSeconds",
					     "metadata.labels", "metadata.annotations", "metadata.uid" };
	struct kpod *p = kpod_get(k, obj_str(new_obj, "metadata.uid") ?: "");

	if (!p || (!p->last_status && !p->sending_status))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(same); i++) {
		json_t *a = obj_get(old_obj, same[i]), *b = obj_get(new_obj, same[i]);
		if ((a || b) && !(a && b && json_equal(a, b)))
			return false;
	}
	/* The watch may bring our write back before the write's own answer. */
	return podstatus_matches(p->last_status, obj_get(new_obj, "status")) ||
	       podstatus_matches(p->sending_status, obj_get(new_obj, "status"));
}

static void on_pod_update(json_t *old_obj, json_t *new_obj, void *data)
{
	struct kubelet *k = data;
	const char *old_uid = obj_str(old_obj, "metadata.uid"), *uid = obj_str(new_obj, "metadata.uid");

	if (old_uid && uid && strcmp(old_uid, uid)) {
		struct kpod *p = kpod_get(k, old_uid);
		if (p)
			kpod_enqueue(p);
	} else if (own_status_echo(k, old_obj, new_obj)) {
		return;
	}
	on_pod_add(new_obj, data);
}

static void on_pod_delete(json_t *obj, void *data)
{
	struct kubelet *k = data;
	const char *uid = obj_str(obj, "metadata.uid");
	struct kpod *p = uid ? kpod_get(k, uid) : NULL;

	if (p)
		kpod_enqueue(p);
}

static void on_node_add(json_t *obj, void *data)
{
	node_seen(data, obj, false);
}

static void on_node_update(json_t *old_obj, json_t *new_obj, void *data)
{
	(void)old_obj;
	node_seen(data, new_obj, false);
}

static void on_node_delete(json_t *obj, void *data)
{
	node_seen(data, obj, true);
}

static void maybe_start_workers(struct kubelet *k)
{
	if (k->workers_started || k->stopping || !k->cache_synced || !informer_factory_has_synced(k->factory))
		return;
	k->workers_started = true;
	log_info("kubelet pod workers started node=%s pods=%zu containers=%zu", k->node_name,
		 informer_count(k->pods), k->ncontainers);
	/* Containers of pods the API no longer has get a worker too, which
	 * removes them. */
	for (struct kcontainer *c = k->containers; c; c = c->next)
		enqueue_uid(k, c->pod_uid, c->pod_ns, c->pod_name);
	for (struct kpod *p = k->kpods; p; p = p->next)
		kpod_enqueue(p);
	workqueue_start(k->queue, POD_WORKERS, podworker_sync, k);
}

static void on_factory_synced(void *data)
{
	maybe_start_workers(data);
}

/* ---- the tick --------------------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
	struct kubelet *k = t->data;
	int64_t now = kubelet_now_ms();

	if (k->stopping)
		return;
	if (!k->docker_up && !k->docker_checking && now >= k->docker_retry_ms)
		check_docker(k);
	if (k->docker_up && !k->cache_synced && !k->relisting)
		relist(k);
	if (k->docker_up && !k->pause_ready)
		kubelet_ensure_pause(k);
	node_tick(k, now);
	network_tick(k, now);
	objwatch_gc(k, now);
	maybe_start_workers(k);
	if (k->workers_started && now >= k->next_resync_ms) {
		k->next_resync_ms = now + RESYNC_MS;
		for (struct kpod *p = k->kpods; p; p = p->next)
			kpod_enqueue(p);
	}
}

/* ---- start ---------------------------------------------------------------------------------- */

static char *default_root_dir(void)
{
	const char *home = getenv("HOME");

	if (geteuid() == 0)
		return xstrdup("/var/lib/minik8s/kubelet");
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : "/tmp";
	}
	return xasprintf("%s/.minik8s/kubelet", home);
}

static char *default_node_name(void)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0 || !*host)
		return xstrdup("localhost");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	return xstrdup(host);
}

char *kubelet_node_name(void)
{
	return cfg.node_name && *cfg.node_name ? xstrdup(cfg.node_name) : default_node_name();
}

char *kubelet_node_ip(void)
{
	return cfg.node_ip && *cfg.node_ip ? xstrdup(cfg.node_ip) : node_default_ip();
}

char *kubelet_docker_socket(void)
{
	const char *h = cfg.docker_host && *cfg.docker_host ? cfg.docker_host : getenv("DOCKER_HOST");

	if (!h || !*h)
		h = "unix:///var/run/docker.sock";
	return xstrdup(str_has_prefix(h, "unix://") ? h + strlen("unix://") : h);
}

static char *dup_or(const char *v, const char *def)
{
	return xstrdup(v && *v ? v : def);
}

static void read_text(const char *path, char **out)
{
	size_t len;

	if (read_file(path, out, &len) < 0)
		*out = NULL;
}

static char *load_token(struct kubelet *k, const struct kubeconfig *kc)
{
	char *tok = NULL, *path = NULL;
	size_t len;

	if (k->cfg.token_file) {
		path = xstrdup(k->cfg.token_file);
		if (read_file(path, &tok, &len) < 0) {
			error("cannot read the kubelet API token '%s': %s", path, strerror(errno));
			free(path);
			return NULL;
		}
		free(path);
		while (len && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' '))
			tok[--len] = '\0';
		return tok;
	}
	if (kc->token && *kc->token)
		return xstrdup(kc->token);
	return NULL;
}

static void free_kubelet(struct kubelet *k)
{
	struct kubelet_config *c = &k->cfg;

	while (k->containers)
		kubelet_container_remove(k, k->containers);
	while (k->images)
		kubelet_image_forget(k, k->images->name);
	kpod_free_all(k);
	free(c->node_name);
	free(c->docker_host);
	free(c->root_dir);
	free(c->pod_cidr);
	free(c->non_masquerade_cidr);
	free(c->cluster_dns);
	free(c->cluster_domain);
	free(c->address);
	free(c->token_file);
	free(c->node_ip);
	free(c->tls_cert_file);
	free(c->tls_key_file);
	free(c->resolv_conf);
	free(c->pause_image);
	free(k->hostname);
	free(k->token);
	free(k->host_resolv);
	free(k->host_hosts);
	free(k->docker_version);
	strbuf_release(&k->events_buf);
	json_decref(k->node_obj);
	free(k->last_node_status);
	free(k->node_uid);
	json_decref(k->node_info);
	free(k->pod_cidr);
	free(k->network);
	free(k->gateway);
	if (k->tls)
		SSL_CTX_free(k->tls);
	docker_free(k->docker);
	free(k);
}

static int start(uv_loop_t *loop, const char *kubeconfig, void **state)
{
	struct kubelet *k;
	struct kubeconfig *kc = NULL;
	struct informer_handlers ph, nh;
	struct informer_options popts = { 0 }, nopts = { 0 };
	static const struct rest_resource pods_res = { "", "v1", "pods", true };
	static const struct rest_resource svc_res = { "", "v1", "services", true };
	static const struct rest_resource node_res = { "", "v1", "nodes", false };
	char *sel;
	int rc;

	if (cfg.max_backoff_ms <= 0 || cfg.initial_backoff_ms <= 0 || cfg.initial_backoff_ms > cfg.max_backoff_ms)
		return error("invalid crash-loop backoff %lldms..%lldms: both must be positive and the first not larger",
			     (long long)cfg.initial_backoff_ms, (long long)cfg.max_backoff_ms);
	if (kubeconfig_load(kubeconfig, NULL, &kc, NULL) < 0)
		return error("the kubelet needs a kubeconfig: pass --kubeconfig FILE (minik8s server writes "
			     "<data-dir>/admin.kubeconfig)");
	k = xcalloc(1, sizeof(*k));
	k->loop = loop;
	k->cfg = cfg;
	k->cfg.node_name = kubelet_node_name();
	k->cfg.docker_host = dup_or(cfg.docker_host ? cfg.docker_host : getenv("DOCKER_HOST"),
				    "unix:///var/run/docker.sock");
	k->cfg.root_dir = cfg.root_dir && *cfg.root_dir ? xstrdup(cfg.root_dir) : default_root_dir();
	k->cfg.pod_cidr = cfg.pod_cidr && *cfg.pod_cidr ? xstrdup(cfg.pod_cidr) : NULL;
	k->cfg.non_masquerade_cidr = dup_or(cfg.non_masquerade_cidr, "10.244.0.0/16");
	k->cfg.cluster_dns = dup_or(cfg.cluster_dns, "10.96.0.10");
	k->cfg.cluster_domain = dup_or(cfg.cluster_domain, "cluster.local");
	k->cfg.address = dup_or(cfg.address, "0.0.0.0");
	k->cfg.token_file = cfg.token_file ? xstrdup(cfg.token_file) : NULL;
	k->cfg.node_ip = kubelet_node_ip();
	k->cfg.tls_cert_file = cfg.tls_cert_file ? xstrdup(cfg.tls_cert_file) : NULL;
	k->cfg.tls_key_file = cfg.tls_key_file ? xstrdup(cfg.tls_key_file) : NULL;
	k->cfg.resolv_conf = dup_or(cfg.resolv_conf, "/etc/resolv.conf");
	k->cfg.pause_image = dup_or(cfg.pause_image, PAUSE_IMAGE);
	k->node_name = k->cfg.node_name;
	k->node_ip = k->cfg.node_ip;
	k->root_dir = k->cfg.root_dir;
	strbuf_init(&k->events_buf, 4096);
	read_text(k->cfg.resolv_conf, &k->host_resolv);
	read_text("/etc/hosts", &k->host_hosts);
	k->network = xasprintf("minik8s-%s", k->node_name);

	if ((rc = mkdir_p(k->root_dir, 0755)) < 0) {
		error("cannot create the kubelet root dir '%s': %s", k->root_dir, strerror(-rc));
		goto fail;
	}
	k->token = load_token(k, kc);
	if (!k->token && k->cfg.token_file)
		goto fail;
	if (!k->token)
		log_warn("kubelet API has no token to accept: every request will get 401 (use --kubelet-token-file)");
	k->docker = docker_new(NULL, k->cfg.docker_host);
	if (!k->docker || node_init(k) < 0)
		goto fail;
	k->rest = rest_client_new(loop, kc);
	kubeconfig_free(kc);
	kc = NULL;
	if (!k->rest)
		goto fail;
	if (server_start(k) < 0) {
		rest_client_close(k->rest, NULL, NULL);
		goto fail;
	}
	k->http = httpc_new(loop);
	docker_set_client(k->docker, k->http);
	k->queue = workqueue_new(loop, "kubelet");
	workqueue_set_backoff(k->queue, 200, 30000);

	k->factory = informer_factory_new(k->rest);
	sel = xasprintf("spec.nodeName=%s", k->node_name);
	popts.field_selector = sel;
	k->pods = informer_factory_get(k->factory, &pods_res, &popts);
	free(sel);
	sel = xasprintf("metadata.name=%s", k->node_name);
	nopts.field_selector = sel;
	k->node = informer_factory_get(k->factory, &node_res, &nopts);
	free(sel);
	k->services = informer_factory_get(k->factory, &svc_res, NULL);
	ph = (struct informer_handlers){ on_pod_add, on_pod_update, on_pod_delete, k };
	nh = (struct informer_handlers){ on_node_add, on_node_update, on_node_delete, k };
	informer_add_handlers(k->pods, &ph);
	informer_add_handlers(k->node, &nh);
	informer_factory_start(k->factory);
	informer_factory_on_synced(k->factory, on_factory_synced, k);

	k->started_ms = kubelet_now_ms();
	uv_timer_init(loop, &k->tick);
	k->tick.data = k;
	uv_timer_start(&k->tick, on_tick, 0, 1000);
	log_info("kubelet started node=%s node-ip=%s docker=%s root-dir=%s api-port=%d", k->node_name, k->node_ip,
		 k->cfg.docker_host, k->root_dir, k->port);
	*state = k;
	return 0;

fail:
	kubeconfig_free(kc);
	free_kubelet(k);
	return -1;
}

/* ---- stop ------------------------------------------------------------------------------------- */

static void finish_stop(void *arg)
{
	struct kubelet *k = arg;
	void (*done)(void *) = k->done;
	void *done_arg = k->done_arg;

	free_kubelet(k);
	done(done_arg);
}

static void on_http_closed(void *arg)
{
	struct kubelet *k = arg;

	rest_client_close(k->rest, finish_stop, k);
}

static void check_stopped(struct kubelet *k)
{
	if (k->closing || k->handles || k->objwatch_closing)
		return;
	k->closing = -1; /* once */
	httpc_close(k->http, on_http_closed, k);
}

static void on_part_closed(void *arg)
{
	struct kubelet *k = arg;

	k->closing--;
	check_stopped(k);
}

static void on_tick_closed(uv_handle_t *h)
{
	on_part_closed(h->data);
}

static void stop(void *state, void (*done)(void *arg), void *arg)
{
	struct kubelet *k = state;

	k->stopping = true;
	k->done = done;
	k->done_arg = arg;
	log_info("kubelet stopping node=%s pods=%zu containers=%zu", k->node_name, k->nkpods, k->ncontainers);
	if (k->events_req) {
		docker_cancel(k->events_req);
		k->events_req = NULL;
	}
	for (struct kpod *p = k->kpods; p; p = p->next)
		probes_stop_all(p);
	while (k->ops)
		kop_cancel(k->ops);
	k->closing = 4;
	while (k->objwatches) {
		struct objwatch *w = k->objwatches;
		k->objwatches = w->next;
		objwatch_close(k, w);
	}
	uv_close((uv_handle_t *)&k->tick, on_tick_closed);
	workqueue_close(k->queue, on_part_closed, k);
	informer_factory_close(k->factory, on_part_closed, k);
	server_stop(k, on_part_closed, k);
}

const struct component kubelet_component = {
	.name = "kubelet",
	.usage = "usage: minik8s kubelet [--kubeconfig FILE] [--node-name NAME] [--docker-host unix:///var/run/docker.sock]\n"
		 "                       [--root-dir DIR] [--pod-cidr CIDR] [--cluster-dns IP] [flags]\n\n"
		 "Runs the node agent: registers this machine as a Node, renews its Lease, and runs the pods\n"
		 "bound to it as Docker containers (a pause sandbox plus one container per app container).\n",
	.flags = kubelet_flags,
	.start = start,
	.stop = stop,
};
