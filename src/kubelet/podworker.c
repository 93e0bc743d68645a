/*
 * The pod worker: podworker_sync(uid) compares a pod with the Docker
 * containers found for it and starts what brings them closer, as the
 * kubelet's SyncPod does. A pass is level-triggered: it reads the pod from
 * the informer and the containers from the cache, starts operations (each
 * a short chain of Engine calls), and when the last one has answered it
 * writes the pod status if it changed and queues the pod again, so the next
 * pass sees the new picture. The work queue hands a pod to one pass at a
 * time; an error requeues it with backoff.
 *
 *   pod gone         -> stop containers, remove them, remove the pod dir
 *   deletionTimestamp-> preStop, stop with the grace period, report, remove,
 *                       confirm the deletion (DELETE with grace 0)
 *   running          -> sandbox (pause) -> init containers in order ->
 *                       app containers (restart policy, crash-loop backoff),
 *                       kill what a probe failed, remove dead instances
 */
#include "kubelet/internal.h"
#include "kubelet/podconfig.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OP_SANDBOX = 1, OP_START, OP_KILL, OP_REMOVE, OP_CONFIRM, OP_STATUS, OP_REFRESH_NAME };

#define PULL_TIMEOUT_MS (10 * 60 * 1000L)

static void status_flush(struct kpod *p);

/* ---- pod records ------------------------------------------------------------ */

struct kpod *kpod_get(struct kubelet *k, const char *uid)
{
	for (struct kpod *p = k->kpods; p; p = p->next)
		if (!strcmp(p->uid, uid))
			return p;
	return NULL;
}

struct kpod *kpod_ensure(struct kubelet *k, const char *uid, const char *ns, const char *name)
{
	struct kpod *p = kpod_get(k, uid);

	if (p)
		return p;
	p = xcalloc(1, sizeof(*p));
	p->k = k;
	p->refs = 1;
	p->linked = true;
	p->uid = xstrdup(uid);
	p->ns = xstrdup(ns ? ns : "");
	p->name = xstrdup(name ? name : "");
	p->key = xasprintf("%s/%s", p->ns, p->name);
	p->dir = xasprintf("%s/pods/%s", k->root_dir, uid);
	p->next = k->kpods;
	if (k->kpods)
		k->kpods->prev = p;
	k->kpods = p;
	k->nkpods++;
	return p;
}

static void kpod_free(struct kpod *p)
{
	for (size_t i = 0; i < p->ncs; i++) {
		struct kcstate *st = &p->cs[i];
		free(st->name);
		free(st->waiting_reason);
		free(st->waiting_message);
		free(st->kill_id);
		free(st->kill_reason);
		free(st->probed_id);
	}
	free(p->cs);
	kevents_release(p);
	json_decref(p->pod);
	json_decref(p->last_status);
	json_decref(p->next_status);
	json_decref(p->sending_status);
	free(p->hosts_ip);
	free(p->uid);
	free(p->ns);
	free(p->name);
	free(p->key);
	free(p->dir);
	free(p);
}

static void kpod_unlink(struct kpod *p)
{
	struct kubelet *k = p->k;

	if (!p->linked)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		k->kpods = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	p->linked = false;
	k->nkpods--;
	kpod_unref(p);
}

void kpod_unref(struct kpod *p)
{
	if (--p->refs == 0)
		kpod_free(p);
}

void kpod_free_all(struct kubelet *k)
{
	while (k->kpods) {
		struct kpod *p = k->kpods;
		k->kpods = p->next;
		kpod_free(p);
	}
	k->nkpods = 0;
}

struct kcstate *kpod_cstate(struct kpod *p, const char *name, bool init)
{
	for (size_t i = 0; i < p->ncs; i++)
		if (!strcmp(p->cs[i].name, name))
			return &p->cs[i];
	p->cs = xrealloc(p->cs, (p->ncs + 1) * sizeof(*p->cs));
	memset(&p->cs[p->ncs], 0, sizeof(*p->cs));
	p->cs[p->ncs].name = xstrdup(name);
	p->cs[p->ncs].init = init;
	return &p->cs[p->ncs++];
}

json_t *kpod_object(struct kpod *p)
{
	json_t *obj = informer_get(p->k->pods, p->key);

	if (obj && !strcmp(obj_str(obj, "metadata.uid") ?: "", p->uid))
		return obj;
	return NULL;
}

void kpod_enqueue(struct kpod *p)
{
	if (p && !p->k->stopping)
		workqueue_add(p->k->queue, p->uid);
}

static void set_waiting(struct kcstate *st, const char *reason, const char *message)
{
	free(st->waiting_reason);
	free(st->waiting_message);
	st->waiting_reason = reason ? xstrdup(reason) : NULL;
	st->waiting_message = message ? xstrdup(message) : NULL;
}

static char *field_path(const char *container, bool init)
{
	return xasprintf("spec.%s{%s}", init ? "initContainers" : "containers", container);
}

static void requeue_after(struct kpod *p, int64_t ms)
{
	if (ms < 1)
		ms = 1;
	if (!p->requeue_ms || ms < p->requeue_ms)
		p->requeue_ms = ms;
}

/* ---- the pass ------------------------------------------------------------------- */

static void pass_finish(struct kpod *p);

static struct kop *pod_op(struct kpod *p, int kind)
{
	struct kop *op = kop_new(p->k, p, kind);

	p->inflight++;
	p->acted = true;
	return op;
}

/* An operation of the pass ended; ok false requeues the pod with backoff. */
static void pod_op_done(struct kop *op, bool ok)
{
	struct kpod *p = op->p;

	p->inflight--;
	if (!ok)
		p->failed = true;
	kop_free(op);
	if (p->inflight == 0 && !p->in_sync)
		pass_finish(p);
}

/* The operation's next call to the engine; one that cannot start ends the
 * operation as failed. */
static void pod_op_call(struct kop *op, const char *method, const char *path, const json_t *body,
			long timeout_ms, docker_done_fn on_done)
{
	op->dreq = docker_call(op->k->docker, method, path, body, timeout_ms, on_done, op);
	if (!op->dreq)
		pod_op_done(op, false);
}

static bool spec_has(const json_t *pod, const char *list, const char *name)
{
	json_t *c;
	size_t i;

	json_array_foreach(obj_get(pod, list), i, c)
		if (!strcmp(obj_str(c, "name") ?: "", name))
			return true;
	return false;
}

static const json_t *spec_container(const json_t *pod, const char *name, bool *init)
{
	static const char *const lists[] = { "spec.containers", "spec.initContainers" };
	json_t *c;
	size_t i;

	for (int l = 0; l < 2; l++) {
		json_array_foreach(obj_get(pod, lists[l]), i, c) {
			if (!strcmp(obj_str(c, "name") ?: "", name)) {
				if (init)
					*init = l == 1;
				return c;
			}
		}
	}
	return NULL;
}

/* The status the pod has now; NULL when there is nothing to report. New reference. */
static json_t *status_now(struct kpod *p, const json_t *pod)
{
	struct kubelet *k = p->k;
	struct podstatus_input in = { 0 };
	struct podstatus_container *info;
	static const char *const lists[] = { "spec.initContainers", "spec.containers" };
	size_t n, ninfo = 0, cap;
	struct kcontainer **v = kubelet_pod_containers(k, p->uid, &n);
	json_t *status, *c;
	size_t i;

	if (p->terminating && n == 0) {
		free(v);
		return NULL;
	}
	cap = json_array_size(obj_get(pod, "spec.containers")) + json_array_size(obj_get(pod, "spec.initContainers"));
	info = xcalloc(cap + 1, sizeof(*info));
	for (int l = 0; l < 2; l++) {
		json_array_foreach(obj_get(pod, lists[l]), i, c) {
			const char *name = obj_str(c, "name") ?: "";
			struct kcstate *st = kpod_cstate(p, name, l == 0);
			struct kcontainer *run = kcontainer_latest(v, n, name, NULL, NULL);
			bool probed = run && st->probed_id && !strcmp(st->probed_id, run->id);
			info[ninfo].name = st->name;
			info[ninfo].waiting_reason = st->waiting_reason;
			info[ninfo].waiting_message = st->waiting_message;
			info[ninfo].started = !obj_get(c, "startupProbe") || (probed && st->started);
			info[ninfo].ready = info[ninfo].started && (!obj_get(c, "readinessProbe") || (probed && st->ready));
			ninfo++;
		}
	}
	for (i = 0; i < n; i++) {
		if (v[i]->state == KC_EXITED && !v[i]->message_read && v[i]->termination_path) {
			v[i]->message = podfiles_read_message(v[i]->termination_path);
			v[i]->message_read = true;
		}
	}
	in.pod = pod;
	in.old_status = p->last_status ? p->last_status : obj_get(pod, "status");
	in.containers = v;
	in.ncontainers = n;
	in.info = info;
	in.ninfo = ninfo;
	in.host_ip = k->node_ip;
	in.now_ms = kubelet_now_ms();
	in.terminating = p->terminating;
	status = podstatus_compute(&in);
	free(info);
	free(v);
	return status;
}

/* Computes the status and queues a write when it differs from what we
 * wrote last or from what the API now holds. Returns true when what the API
 * has is current. */
static bool status_update(struct kpod *p, const json_t *pod)
{
	json_t *st = status_now(p, pod);

	if (!st)
		return true;
	if (p->last_status && json_equal(st, p->last_status) && !p->next_status && !p->status_busy) {
		/* Unchanged for us. The API may still differ: before the watch
		 * brought our own write back (an older resourceVersion), or
		 * because someone else changed it since (a newer one). */
		if (podstatus_matches(st, obj_get(pod, "status")) || obj_rv(pod) <= p->status_rv) {
			json_decref(st);
			return true;
		}
		log_debug("kubelet pod=%s status changed by someone else: writing it again", p->key);
	}
	if (p->next_status && json_equal(st, p->next_status)) {
		json_decref(st);
		return false;
	}
	json_decref(p->next_status);
	p->next_status = st;
	status_flush(p);
	return false;
}

static void on_status_written(const struct rest_response *r, void *data)
{
	struct kop *op = data;
	struct kpod *p = op->p;

	op->rreq = NULL;
	p->status_busy = false;
	json_decref(p->sending_status);
	p->sending_status = NULL;
	if (!r->error) {
		json_decref(p->last_status);
		p->last_status = json_incref(json_object_get(op->body, "status"));
		p->status_rv = obj_rv(r->body);
		log_debug("kubelet pod=%s status phase=%s", p->key, obj_str(p->last_status, "phase") ?: "");
		if (p->terminating)
			kpod_enqueue(p);
	} else if (r->status != 404) {
		log_warn("kubelet cannot update the status of pod '%s': %s", p->key, r->error);
		if (!p->next_status) {
			p->next_status = json_incref(json_object_get(op->body, "status"));
		}
	}
	p->refs++;
	kop_free(op);
	if (!r->error || r->status != 404)
		status_flush(p);
	kpod_unref(p);
}

static void status_flush(struct kpod *p)
{
	struct kubelet *k = p->k;
	struct kop *op;
	char *path;

	if (p->status_busy || !p->next_status || k->stopping)
		return;
	op = kop_new(k, p, OP_STATUS);
	op->body = json_pack("{s:o}", "status", p->next_status);
	p->sending_status = json_incref(p->next_status);
	p->next_status = NULL;
	p->status_busy = true;
	path = xasprintf("/api/v1/namespaces/%s/pods/%s/status", p->ns, p->name);
	op->rreq = rest_patch(k->rest, path, "application/merge-patch+json", op->body, on_status_written, op);
	free(path);
	if (!op->rreq) {
		p->status_busy = false;
		json_decref(p->sending_status);
		p->sending_status = NULL;
		p->next_status = json_incref(json_object_get(op->body, "status"));
		kop_free(op);
	}
}

/* Passes one pod may run back to back before it goes to the back of the
 * queue again, so that a hundred new pods do not starve each other. */
#define PASSES_IN_A_ROW 4

static void pass_finish(struct kpod *p)
{
	struct kubelet *k = p->k;
	char *uid = xstrdup(p->uid);
	json_t *pod = kpod_object(p);
	bool again = false;

	if (pod && !k->stopping)
		status_update(p, pod);
	if (p->failed) {
		workqueue_add_rate_limited(k->queue, uid);
	} else {
		workqueue_forget(k->queue, uid);
		if (p->acted && p->hold_ms)
			workqueue_add_after(k->queue, uid, (uint64_t)p->hold_ms);
		else if (p->acted && p->passes_in_row < PASSES_IN_A_ROW && !p->finished && !k->stopping)
			/* As a pod worker goroutine does: go on with this pod now
			 * (the sandbox is up, start its containers) rather than
			 * behind every other pod in the queue. The cache already
			 * holds what this pass made. */
			again = true;
		else if (p->acted)
			workqueue_add(k->queue, uid);
		else if (p->requeue_ms > 0)
			workqueue_add_after(k->queue, uid, (uint64_t)p->requeue_ms);
	}
	p->syncing = false;
	p->passes_in_row = again ? p->passes_in_row + 1 : 0;
	if (p->finished) {
		log_info("kubelet pod=%s uid=%s cleaned up", p->key, p->uid);
		kpod_unlink(p);
	}
	kpod_unref(p);
	if (again)
		podworker_sync(k->queue, uid, k); /* the key stays ours in the queue */
	else
		workqueue_done(k->queue, uid);
	free(uid);
}

/* ---- operations: refresh by name ------------------------------------------------ */

static void on_refresh_name(const struct docker_result *r, void *data)
{
	struct kop *op = data;

	op->dreq = NULL;
	if (!r->error)
		kubelet_container_update(op->k, r->body);
	pod_op_done(op, !r->error);
}

/* A create hit an existing name: learn that container, then think again. */
static void refresh_name(struct kpod *p, const char *name)
{
	struct kop *op = pod_op(p, OP_REFRESH_NAME);
	char *path = xasprintf("/containers/%s/json", name);

	pod_op_call(op, "GET", path, NULL, 0, on_refresh_name);
	free(path);
}

/* Adds a container we just created to the cache without asking the engine
 * again: its labels and image are what we sent. */
static struct kcontainer *cache_created(struct kubelet *k, const char *id, const char *name, const json_t *body,
					const char *image_id)
{
	char created[32];
	json_t *fake;
	struct kcontainer *c;
	char *slash_name = xasprintf("/%s", name);
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(created + strlen(created), sizeof(created) - strlen(created), ".%03ldZ", ts.tv_nsec / 1000000);
	fake = json_pack("{s:s, s:s, s:s, s:{s:O, s:s, s:b}, s:{s:s}, s:s}", "Id", id, "Name", slash_name, "Created",
			 created, "Config", "Labels", json_object_get(body, "Labels"), "Image",
			 obj_str(body, "Image") ?: "", "Tty", obj_bool(body, "Tty", false), "State", "Status", "created",
			 "Image", image_id ? image_id : "");
	free(slash_name);
	c = kubelet_container_update(k, fake);
	json_decref(fake);
	return c;
}

static void mark_started(struct kubelet *k, const char *id)
{
	struct kcontainer *c = kubelet_container_by_id(k, id);

	/* An inspect after an early death may have been quicker than us. */
	if (c && c->state == KC_CREATED) {
		c->state = KC_RUNNING;
		c->started_ms = kubelet_now_ms();
	}
}

static void mark_start_failed(struct kubelet *k, const char *id, const char *why)
{
	struct kcontainer *c = kubelet_container_by_id(k, id);

	if (c && c->state == KC_CREATED) {
		c->state = KC_EXITED;
		c->exit_code = 128;
		c->finished_ms = kubelet_now_ms();
		free(c->error);
		c->error = xstrdup(why);
	}
}

/* ---- operations: the sandbox ------------------------------------------------------- */

/* A sandbox that would not start is tried again with backoff, as the
 * kubelet does after FailedCreatePodSandBox. */
static void sandbox_failed(struct kpod *p)
{
	int64_t now = kubelet_now_ms();

	p->sandbox_failed_ms = now;
	backoff_next(&p->sandbox_backoff, now, p->k->cfg.initial_backoff_ms < 1000 ? p->k->cfg.initial_backoff_ms : 1000,
		     p->k->cfg.max_backoff_ms);
}

static void on_sandbox_inspected(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kpod *p = op->p;
	struct kubelet *k = op->k;
	struct kcontainer *c;

	op->dreq = NULL;
	if (r->error) {
		pod_op_done(op, false);
		return;
	}
	c = kubelet_container_update(k, r->body);
	p->sandbox_failed_ms = 0;
	backoff_reset(&p->sandbox_backoff);
	if (c && (c->ip || obj_bool(p->pod, "spec.hostNetwork", false)))
		podfiles_write_hosts(k, p, p->pod, obj_bool(p->pod, "spec.hostNetwork", false) ? k->node_ip : c->ip);
	log_debug("kubelet pod=%s sandbox=%.12s ip=%s ms=%lld", p->key, op->id, c && c->ip ? c->ip : "",
		  (long long)(kubelet_now_ms() - op->t0_ms));
	pod_op_done(op, true);
}

static void on_sandbox_started(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kpod *p = op->p;
	struct kubelet *k = op->k;
	char *path;

	op->dreq = NULL;
	if (r->error) {
		kevent(p, "Warning", "FailedCreatePodSandBox", NULL, "Failed to create pod sandbox: %s", r->error);
		sandbox_failed(p);
		mark_start_failed(k, op->id, r->error);
		if (r->unreachable)
			kubelet_docker_unreachable(k);
		else
			kubelet_container_refresh(k, op->id);
		pod_op_done(op, false);
		return;
	}
	mark_started(k, op->id);
	path = xasprintf("/containers/%s/json", op->id);
	pod_op_call(op, "GET", path, NULL, 0, on_sandbox_inspected);
	free(path);
}

static void on_sandbox_created(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kpod *p = op->p;
	struct kubelet *k = op->k;
	const char *id;
	char *path;

	op->dreq = NULL;
	if (r->error) {
		if (r->status == 409) {
			/* A container of that name we did not know: learn it, and back off
			 * in case learning it does not help. */
			refresh_name(p, op->str);
			pod_op_done(op, false);
			return;
		}
		if (r->unreachable)
			kubelet_docker_unreachable(k);
		else if (r->status == 404 && strstr(r->error, "image"))
			k->pause_ready = false;
		else if (r->status == 404 && strstr(r->error, "network"))
			k->network_ready = false;
		kevent(p, "Warning", "FailedCreatePodSandBox", NULL, "Failed to create pod sandbox: %s", r->error);
		sandbox_failed(p);
		pod_op_done(op, false);
		return;
	}
	id = obj_str(r->body, "Id");
	if (!id) {
		pod_op_done(op, false);
		return;
	}
	op->id = xstrdup(id);
	cache_created(k, id, op->str, op->body, NULL);
	path = xasprintf("/containers/%s/start", id);
	pod_op_call(op, "POST", path, NULL, 0, on_sandbox_started);
	free(path);
}

static void start_sandbox(struct kpod *p, const json_t *pod, int attempt)
{
	struct kubelet *k = p->k;
	struct podconfig_sandbox_input in = { pod, k->node_name, k->network, k->cfg.pause_image, attempt };
	struct kop *op;
	char *err = NULL, *path;

	if (podfiles_prepare(k, p, pod, &err) < 0) {
		kevent(p, "Warning", "FailedMount", NULL, "%s", err);
		free(err);
		requeue_after(p, 2000);
		return;
	}
	p->volumes_ms = kubelet_now_ms();
	op = pod_op(p, OP_SANDBOX);
	op->body = podconfig_sandbox(&in);
	op->str = runtime_container_name(SANDBOX_CONTAINER_NAME, p->name, p->ns, p->uid, attempt);
	path = xstrdup("/containers/create");
	docker_query_add(&path, "name", op->str);
	pod_op_call(op, "POST", path, op->body, 0, on_sandbox_created);
	free(path);
}

/* ---- operations: start a container ----------------------------------------------------- */

static const char *pull_policy(const json_t *spec)
{
	const char *p = obj_str(spec, "imagePullPolicy"), *image = obj_str(spec, "image") ?: "";
	const char *last = strrchr(image, '/');

	if (p && *p)
		return p;
	last = last ? last + 1 : image;
	if (strchr(image, '@'))
		return "IfNotPresent";
	if (!strchr(last, ':') || str_has_suffix(last, ":latest"))
		return "Always";
	return "IfNotPresent";
}

static void create_step(struct kop *op);

static void on_container_started(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kpod *p = op->p;
	struct kubelet *k = op->k;
	struct kcstate *st = kpod_cstate(p, op->container, op->flag);
	char *fp = field_path(op->container, op->flag);

	op->dreq = NULL;
	if (r->error) {
		kevent(p, "Warning", "Failed", fp, "Error: failed to start container \"%s\": %s", op->container, r->error);
		set_waiting(st, "RunContainerError", r->error);
		mark_start_failed(k, op->id, r->error);
		if (r->unreachable)
			kubelet_docker_unreachable(k);
		else
			kubelet_container_refresh(k, op->id);
		free(fp);
		pod_op_done(op, true);
		return;
	}
	mark_started(k, op->id);
	set_waiting(st, NULL, NULL);
	kevent(p, "Normal", "Started", fp, "Started container %s", op->container);
	log_debug("kubelet pod=%s container=%s id=%.12s started ms=%lld", p->key, op->container, op->id,
		  (long long)(kubelet_now_ms() - op->t0_ms));
	free(fp);
	pod_op_done(op, true);
}

static void on_container_created(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kpod *p = op->p;
	struct kubelet *k = op->k;
	struct kcstate *st = kpod_cstate(p, op->container, op->flag);
	char *fp = field_path(op->container, op->flag), *path;
	const char *id;

	op->dreq = NULL;
	if (r->error) {
		if (r->status == 409) {
			refresh_name(p, op->str);
			free(fp);
			pod_op_done(op, false);
			return;
		}
		if (r->unreachable)
			kubelet_docker_unreachable(k);
		if (r->status == 404)
			kubelet_image_forget(k, op->image);
		set_waiting(st, "CreateContainerError", r->error);
		kevent(p, "Warning", "Failed", fp, "Error: %s", r->error);
		free(fp);
		pod_op_done(op, false);
		return;
	}
	id = obj_str(r->body, "Id");
	if (!id) {
		free(fp);
		pod_op_done(op, false);
		return;
	}
	op->id = xstrdup(id);
	cache_created(k, id, op->str, op->body, kubelet_image_known(k, op->image));
	kevent(p, "Normal", "Created", fp, "Created container %s", op->container);
	free(fp);
	path = xasprintf("/containers/%s/start", id);
	pod_op_call(op, "POST", path, NULL, 0, on_container_started);
	free(path);
}

static void create_step(struct kop *op)
{
	struct kpod *p = op->p;
	struct kubelet *k = op->k;
	json_t *pod = kpod_object(p), *env = NULL, *services;
	struct kcstate *st = kpod_cstate(p, op->container, op->flag);
	struct kcontainer *sandbox = kubelet_container_by_id(k, op->str);
	struct podconfig_env_input ein = { 0 };
	struct podconfig_container_input cin = { 0 };
	char hash[9], *err = NULL, *path, *term;
	char *fp = field_path(op->container, op->flag);

	/* The world may have moved while the image was pulled. */
	if (!pod || obj_get(pod, "metadata.deletionTimestamp") || !sandbox || sandbox->state != KC_RUNNING) {
		free(fp);
		pod_op_done(op, true);
		return;
	}
	services = kubelet_services(k, p->ns);
	ein.pod = pod;
	ein.container = op->spec;
	ein.pod_ip = obj_bool(pod, "spec.hostNetwork", false) ? k->node_ip : sandbox->ip;
	ein.host_ip = k->node_ip;
	ein.services = services;
	ein.lookup = kubelet_lookup;
	ein.lookup_data = k;
	if (podconfig_env(&ein, &env, &err) < 0) {
		json_decref(services);
		goto fail;
	}
	json_decref(services);
	runtime_container_hash(op->spec, hash);
	free(op->str);
	op->str = runtime_container_name(op->container, p->name, p->ns, p->uid, op->attempt);
	term = podfiles_termination(p, op->container, op->attempt);
	cin.pod = pod;
	cin.container = op->spec;
	cin.node_name = k->node_name;
	cin.sandbox_id = sandbox->id;
	cin.attempt = op->attempt;
	cin.hash = hash;
	cin.env = env;
	cin.pod_dir = p->dir;
	cin.termination_file = term;
	op->body = podconfig_container(&cin, &err);
	json_decref(env);
	free(term);
	if (!op->body)
		goto fail;
	free(fp);
	path = xstrdup("/containers/create");
	docker_query_add(&path, "name", op->str);
	pod_op_call(op, "POST", path, op->body, 0, on_container_created);
	free(path);
	return;
fail:
	set_waiting(st, "CreateContainerConfigError", err);
	kevent(p, "Warning", "Failed", fp, "Error: %s", err);
	free(err);
	free(fp);
	pod_op_done(op, false);
}

static void on_image_inspected_after_pull(const struct docker_result *r, void *data)
{
	struct kop *op = data;

	op->dreq = NULL;
	if (!r->error)
		kubelet_image_remember(op->k, op->image, obj_str(r->body, "Id"));
	create_step(op);
}

/* The error of a pull: an HTTP error, or an {"error": ...} line in a 200 stream. */
static char *pull_error(const struct docker_result *r)
{
	const char *p;

	if (r->error)
		return xstrdup(r->error);
	p = r->raw ? strstr(r->raw, "\"error\"") : NULL;
	if (p) {
		const char *line = p;
		while (line > r->raw && line[-1] != '\n')
			line--;
		{
			const char *end = strchr(line, '\n');
			json_t *j = json_loadb(line, end ? (size_t)(end - line) : strlen(line), 0, NULL);
			char *msg = xstrdup(obj_str(j, "error") ?: "the pull failed");
			json_decref(j);
			return msg;
		}
	}
	return NULL;
}

static void on_pulled(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kpod *p = op->p;
	struct kubelet *k = op->k;
	struct kcstate *st = kpod_cstate(p, op->container, op->flag);
	char *fp = field_path(op->container, op->flag), *err = pull_error(r), *path;
	int64_t now = kubelet_now_ms();

	op->dreq = NULL;
	if (err) {
		st->pull_failed_ms = now;
		backoff_next(&st->pull, now, k->cfg.initial_backoff_ms, k->cfg.max_backoff_ms);
		set_waiting(st, "ErrImagePull", err);
		kevent(p, "Warning", "Failed", fp, "Failed to pull image \"%s\": %s", op->image, err);
		kevent(p, "Warning", "Failed", fp, "Error: ErrImagePull");
		/* Let ErrImagePull show before the next pass calls it ImagePullBackOff. */
		p->hold_ms = 1000;
		if (r->unreachable)
			kubelet_docker_unreachable(k);
		free(err);
		free(fp);
		pod_op_done(op, true);
		return;
	}
	st->pull_failed_ms = 0;
	backoff_reset(&st->pull);
	kevent(p, "Normal", "Pulled", fp, "Successfully pulled image \"%s\" in %.3fs", op->image,
	       (double)(now - op->t0_ms) / 1000.0);
	free(fp);
	path = xasprintf("/images/%s/json", op->image);
	op->dreq = docker_call(k->docker, "GET", path, NULL, 0, on_image_inspected_after_pull, op);
	free(path);
	if (!op->dreq)
		create_step(op);
}

static void pull(struct kop *op)
{
	struct kpod *p = op->p;
	const char *image = op->image, *last = strrchr(image, '/');
	char *path = xstrdup("/images/create"), *fp = field_path(op->container, op->flag);

	last = last ? last + 1 : image;
	kevent(p, "Normal", "Pulling", fp, "Pulling image \"%s\"", image);
	free(fp);
	docker_query_add(&path, "fromImage", image);
	/* Without a tag the engine would pull every tag of the repository. */
	if (!strchr(last, ':') && !strchr(image, '@'))
		docker_query_add(&path, "tag", "latest");
	op->t0_ms = kubelet_now_ms();
	pod_op_call(op, "POST", path, NULL, PULL_TIMEOUT_MS, on_pulled);
	free(path);
}

static void on_image_inspected(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kpod *p = op->p;
	struct kcstate *st = kpod_cstate(p, op->container, op->flag);
	char *fp;

	op->dreq = NULL;
	if (!r->error) {
		kubelet_image_remember(op->k, op->image, obj_str(r->body, "Id"));
		fp = field_path(op->container, op->flag);
		kevent(p, "Normal", "Pulled", fp, "Container image \"%s\" already present on machine", op->image);
		free(fp);
		create_step(op);
		return;
	}
	if (r->status != 404) {
		if (r->unreachable)
			kubelet_docker_unreachable(op->k);
		pod_op_done(op, false);
		return;
	}
	if (!strcmp(pull_policy(op->spec), "Never")) {
		char *msg = xasprintf("Container image \"%s\" is not present with pull policy of Never", op->image);
		set_waiting(st, "ErrImageNeverPull", msg);
		fp = field_path(op->container, op->flag);
		kevent(p, "Warning", "ErrImageNeverPull", fp, "%s", msg);
		free(fp);
		free(msg);
		pod_op_done(op, false);
		return;
	}
	pull(op);
}

static void start_container(struct kpod *p, const json_t *spec, bool init, struct kcontainer *sandbox, int attempt)
{
	struct kubelet *k = p->k;
	const char *name = obj_str(spec, "name") ?: "";
	const char *policy = pull_policy(spec);
	struct kop *op = pod_op(p, OP_START);
	char *path;

	op->container = xstrdup(name);
	op->spec = json_incref((json_t *)spec);
	op->flag = init;
	op->attempt = attempt;
	op->str = xstrdup(sandbox->id);
	op->image = xstrdup(obj_str(spec, "image") ?: "");
	log_debug("kubelet pod=%s container=%s attempt=%d starting", p->key, name, attempt);
	if (!strcmp(policy, "Always")) {
		pull(op);
		return;
	}
	if (kubelet_image_known(k, op->image)) {
		char *fp = field_path(name, init);
		kevent(p, "Normal", "Pulled", fp, "Container image \"%s\" already present on machine", op->image);
		free(fp);
		create_step(op);
		return;
	}
	path = xasprintf("/images/%s/json", op->image);
	pod_op_call(op, "GET", path, NULL, 0, on_image_inspected);
	free(path);
}

/* ---- operations: kill and remove ---------------------------------------------------------- */

static void kill_finish(struct kop *op, bool ok)
{
	struct kcontainer *c = kubelet_container_by_id(op->k, op->str);

	if (c && c->busy > 0)
		c->busy--;
	pod_op_done(op, ok);
}

static void on_killed_inspected(const struct docker_result *r, void *data)
{
	struct kop *op = data;

	op->dreq = NULL;
	if (!r->error) {
		kubelet_container_update(op->k, r->body);
	} else if (r->status == 404) {
		struct kcontainer *c = kubelet_container_by_id(op->k, op->str);
		if (c) {
			c->busy = 0;
			kubelet_container_remove(op->k, c);
		}
	}
	kill_finish(op, !r->error || r->status == 404);
}

static void on_stopped(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	char *path;

	op->dreq = NULL;
	if (r->error && r->status != 304 && r->status != 404) {
		log_warn("kubelet cannot stop container '%s' of pod '%s': %s", op->container, op->p->key, r->error);
		if (r->unreachable)
			kubelet_docker_unreachable(op->k);
		kill_finish(op, false);
		return;
	}
	log_debug("kubelet pod=%s container=%s stopped ms=%lld", op->p->key, op->container,
		  (long long)(kubelet_now_ms() - op->t0_ms));
	path = xasprintf("/containers/%s/json", op->str);
	op->dreq = docker_call(op->k->docker, "GET", path, NULL, 0, on_killed_inspected, op);
	free(path);
	if (!op->dreq)
		kill_finish(op, false);
}

static void stop_step(struct kop *op)
{
	int64_t left_ms = op->grace_s * 1000 - (kubelet_now_ms() - op->t0_ms);
	long t = left_ms <= 0 ? 0 : (long)((left_ms + 999) / 1000);
	char *path = xasprintf("/containers/%s/stop?t=%ld", op->str, t);

	op->dreq = docker_call(op->k->docker, "POST", path, NULL, (t + 60) * 1000L, on_stopped, op);
	free(path);
	if (!op->dreq)
		kill_finish(op, false);
}

static void on_prestop_exec(struct kop *exec, int code, const char *output, void *data)
{
	struct kop *op = data;

	(void)exec;
	if (code != 0) {
		char *fp = field_path(op->container, false);
		kevent(op->p, "Warning", "FailedPreStopHook", fp, "PreStopHook failed: %s",
		       code < 0 ? (output ? output : "error") : "non-zero exit code");
		free(fp);
	}
	op->extra = NULL;
	stop_step(op);
}

static void on_prestop_http(const struct httpc_response *resp, void *data)
{
	struct kop *op = data;

	op->hreq = NULL;
	if (resp->error || resp->status < 200 || resp->status >= 400) {
		char *fp = field_path(op->container, false);
		kevent(op->p, "Warning", "FailedPreStopHook", fp, "PreStopHook failed: %s",
		       resp->error ? resp->error : "HTTP error status");
		free(fp);
	}
	stop_step(op);
}

static void kill_container(struct kpod *p, struct kcontainer *c, int64_t grace_s, const char *message)
{
	struct kubelet *k = p->k;
	struct kop *op = pod_op(p, OP_KILL);
	json_t *hook = NULL;
	const json_t *pod = p->pod;
	struct kcontainer *sandbox = NULL;

	op->str = xstrdup(c->id);
	op->container = xstrdup(c->container);
	op->grace_s = grace_s < 0 ? 0 : grace_s;
	c->busy++;
	if (c->sandbox) {
		stop_step(op);
		return;
	}
	{
		char *fp = field_path(c->container, false);
		kevent(p, "Normal", "Killing", fp, "%s", message);
		free(fp);
	}
	if (pod && spec_has(pod, "spec.containers", c->container)) {
		const json_t *spec = spec_container(pod, c->container, NULL);
		hook = json_incref(obj_get(spec, "lifecycle.preStop"));
	} else if (c->prestop) {
		hook = json_loads(c->prestop, 0, NULL);
	}
	if (hook && c->state == KC_RUNNING && op->grace_s > 0) {
		json_t *cmd = obj_get(hook, "exec.command");
		if (json_array_size(cmd)) {
			struct kop *e = exec_run(k, p, c->id, cmd, op->grace_s * 1000, on_prestop_exec, op);
			json_decref(hook);
			if (!e)
				stop_step(op);
			return;
		}
		if (obj_get(hook, "httpGet") && c->sandbox_id &&
		    (sandbox = kubelet_container_by_id(k, c->sandbox_id)) && (sandbox->ip || k->node_ip)) {
			json_t *g = obj_get(hook, "httpGet");
			const char *host = obj_str(g, "host");
			const char *ip = host && *host ? host : sandbox->ip ? sandbox->ip : k->node_ip;
			const char *hpath = obj_str(g, "path") ?: "/";
			struct httpc_options o = { 0 };
			char *url = xasprintf("http://%s:%lld%s%s", ip, (long long)obj_int(g, "port", 80),
					      hpath[0] == '/' ? "" : "/", hpath);
			o.url = url;
			o.timeout_ms = op->grace_s * 1000;
			o.on_done = on_prestop_http;
			o.data = op;
			op->hreq = httpc_start(k->http, &o);
			free(url);
			json_decref(hook);
			if (!op->hreq)
				stop_step(op);
			return;
		}
	}
	json_decref(hook);
	stop_step(op);
}

static void on_removed(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kcontainer *c;

	op->dreq = NULL;
	if (r->error && r->status != 404) {
		log_warn("kubelet cannot remove container '%s': %s", op->container, r->error);
		if (r->unreachable)
			kubelet_docker_unreachable(op->k);
		c = kubelet_container_by_id(op->k, op->str);
		if (c && c->busy > 0)
			c->busy--;
		pod_op_done(op, false);
		return;
	}
	c = kubelet_container_by_id(op->k, op->str);
	if (c) {
		if (c->termination_path)
			unlink(c->termination_path);
		kubelet_container_remove(op->k, c);
	}
	pod_op_done(op, true);
}

static void remove_container(struct kpod *p, struct kcontainer *c)
{
	struct kop *op = pod_op(p, OP_REMOVE);
	char *path = xasprintf("/containers/%s?force=1&v=1", c->id);

	op->str = xstrdup(c->id);
	op->container = xstrdup(c->name);
	c->busy++;
	op->dreq = docker_call(p->k->docker, "DELETE", path, NULL, 0, on_removed, op);
	free(path);
	if (!op->dreq) {
		c->busy--;
		pod_op_done(op, false);
	}
}

/* ---- operations: confirm a deletion ------------------------------------------------------- */

static void on_confirmed(const struct rest_response *r, void *data)
{
	struct kop *op = data;
	struct kpod *p = op->p;

	op->rreq = NULL;
	if (!r->error || r->status == 404 || r->status == 409) {
		p->confirm_sent = true;
		log_info("kubelet pod=%s deletion confirmed", p->key);
		pod_op_done(op, true);
		return;
	}
	log_warn("kubelet cannot confirm the deletion of pod '%s': %s", p->key, r->error);
	pod_op_done(op, false);
}

static void confirm_delete(struct kpod *p)
{
	struct kop *op = pod_op(p, OP_CONFIRM);
	char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", p->ns, p->name);

	op->body = json_pack("{s:s, s:s, s:i, s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
			     "gracePeriodSeconds", 0, "preconditions", "uid", p->uid);
	op->rreq = rest_delete(p->k->rest, path, op->body, on_confirmed, op);
	free(path);
	if (!op->rreq)
		pod_op_done(op, false);
}

/* ---- the sync logic ------------------------------------------------------------------------ */

static int64_t pod_grace_s(const json_t *pod, const struct kcontainer *c)
{
	json_t *d = obj_get(pod, "metadata.deletionGracePeriodSeconds");

	if (json_is_integer(d))
		return json_integer_value(d);
	if (pod)
		return obj_int(pod, "spec.terminationGracePeriodSeconds", 30);
	return c && c->grace_s >= 0 ? c->grace_s : 30;
}

static bool any_busy(struct kcontainer *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i]->busy)
			return true;
	return false;
}

/* Stops running app containers, then sandboxes. Returns true when
 * something was started (or still runs), so the caller waits. */
static bool stop_everything(struct kpod *p, struct kcontainer *const *v, size_t n, const json_t *pod)
{
	bool acting = false;

	for (size_t i = 0; i < n; i++) {
		struct kcontainer *c = v[i];
		if (!c->sandbox && c->state == KC_RUNNING && !c->busy) {
			char *msg = xasprintf("Stopping container %s", c->container);
			kill_container(p, c, pod ? pod_grace_s(pod, c) : pod_grace_s(p->pod, c), msg);
			free(msg);
			acting = true;
		}
	}
	if (acting)
		return true;
	for (size_t i = 0; i < n; i++) {
		struct kcontainer *c = v[i];
		if (c->sandbox && c->state == KC_RUNNING && !c->busy) {
			kill_container(p, c, 1, "Stopping sandbox");
			acting = true;
		}
	}
	return acting;
}

static void remove_all(struct kpod *p, struct kcontainer *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!v[i]->busy)
			remove_container(p, v[i]);
}

/* The pod is gone from the API: nothing of it may stay. */
static void teardown(struct kpod *p, struct kcontainer *const *v, size_t n)
{
	probes_stop_all(p);
	if (any_busy(v, n))
		return;
	if (stop_everything(p, v, n, NULL))
		return;
	if (n) {
		remove_all(p, v, n);
		return;
	}
	podfiles_remove(p);
	p->finished = true;
}

static void terminate(struct kpod *p, const json_t *pod, struct kcontainer *const *v, size_t n)
{
	int64_t now = kubelet_now_ms();

	if (!p->terminating) {
		int64_t grace = pod_grace_s(pod, NULL);
		p->terminating = true;
		p->kill_deadline_ms = now + grace * 1000;
		log_info("kubelet pod=%s terminating grace=%llds", p->key, (long long)grace);
	}
	probes_stop_all(p);
	if (any_busy(v, n))
		return;
	{
		bool acting = false;
		int64_t left = (p->kill_deadline_ms - now + 999) / 1000;
		for (size_t i = 0; i < n; i++) {
			struct kcontainer *c = v[i];
			if (!c->sandbox && c->state == KC_RUNNING) {
				char *msg = xasprintf("Stopping container %s", c->container);
				kill_container(p, c, left < 0 ? 0 : left, msg);
				free(msg);
				acting = true;
			}
		}
		if (acting)
			return;
	}
	if (stop_everything(p, v, n, pod))
		return;
	/* Report the containers' ends before they go. */
	if (n && (!status_update(p, pod) || p->status_busy))
		return;
	if (n) {
		remove_all(p, v, n);
		return;
	}
	if (!p->confirm_sent)
		confirm_delete(p);
}

/* Removes dead instances: of each container the newest instance and the
 * one before it stay (`logs` and `logs --previous`, also while the newest is
 * dead in a crash loop); dead sandboxes that are not current go. */
static void collect_garbage(struct kpod *p, struct kcontainer *const *v, size_t n, const struct kcontainer *sandbox)
{
	for (size_t i = 0; i < n; i++) {
		struct kcontainer *c = v[i], *newest, *prev;

		if (c->busy || c->state != KC_EXITED)
			continue;
		if (c->sandbox) {
			bool used = false;
			if (c == sandbox)
				continue;
			for (size_t j = 0; j < n; j++)
				if (!v[j]->sandbox && v[j]->state == KC_RUNNING && v[j]->sandbox_id &&
				    !strcmp(v[j]->sandbox_id, c->id))
					used = true;
			if (!used)
				remove_container(p, c);
			continue;
		}
		newest = kcontainer_latest(v, n, c->container, NULL, NULL);
		prev = newest ? kcontainer_latest(v, n, c->container, NULL, newest) : NULL;
		if (c != newest && c != prev)
			remove_container(p, c);
	}
}

/* Whether container c (exited) may start again now; if not, records why. */
static bool may_restart(struct kpod *p, const json_t *spec, bool init, struct kcontainer *last)
{
	struct kubelet *k = p->k;
	const char *name = obj_str(spec, "name") ?: "";
	struct kcstate *st = kpod_cstate(p, name, init);
	int64_t now = kubelet_now_ms();
	int64_t left = backoff_remaining(&st->crash, last->finished_ms ? last->finished_ms : now, now,
					 k->cfg.max_backoff_ms);

	if (left > 0) {
		char *msg = xasprintf("back-off %llds restarting failed container=%s pod=%s_%s(%s)",
				      (long long)(st->crash.delay_ms / 1000), name, p->name, p->ns, p->uid);
		char *fp = field_path(name, init);
		if (!st->waiting_reason || strcmp(st->waiting_reason, "CrashLoopBackOff"))
			kevent(p, "Warning", "BackOff", fp, "Back-off restarting failed container %s in pod %s_%s(%s)",
			       name, p->name, p->ns, p->uid);
		set_waiting(st, "CrashLoopBackOff", msg);
		free(msg);
		free(fp);
		requeue_after(p, left);
		return false;
	}
	backoff_next(&st->crash, now, k->cfg.initial_backoff_ms, k->cfg.max_backoff_ms);
	return true;
}

/* Whether the image of spec may be pulled now (after a failed pull). */
static bool may_pull(struct kpod *p, const json_t *spec, bool init)
{
	struct kubelet *k = p->k;
	const char *name = obj_str(spec, "name") ?: "";
	struct kcstate *st = kpod_cstate(p, name, init);
	int64_t now = kubelet_now_ms(), left;

	if (!st->pull_failed_ms)
		return true;
	left = backoff_remaining(&st->pull, st->pull_failed_ms, now, k->cfg.max_backoff_ms);
	if (left <= 0)
		return true;
	{
		char *msg = xasprintf("Back-off pulling image \"%s\"", obj_str(spec, "image") ?: "");
		char *fp = field_path(name, init);
		kevent(p, "Normal", "BackOff", fp, "%s", msg);
		if (!st->waiting_reason || strcmp(st->waiting_reason, "ImagePullBackOff")) {
			kevent(p, "Warning", "Failed", fp, "Error: ImagePullBackOff");
		}
		set_waiting(st, "ImagePullBackOff", msg);
		free(msg);
		free(fp);
	}
	requeue_after(p, left);
	return false;
}

static int next_attempt(struct kcontainer *const *v, size_t n, const char *name)
{
	struct kcontainer *last = kcontainer_latest(v, n, name, NULL, NULL);

	return last ? last->attempt + 1 : 0;
}

static int next_sandbox_attempt(struct kcontainer *const *v, size_t n)
{
	int attempt = -1;

	for (size_t i = 0; i < n; i++)
		if (v[i]->sandbox && v[i]->attempt > attempt)
			attempt = v[i]->attempt;
	return attempt + 1;
}

static void run(struct kpod *p, const json_t *pod, struct kcontainer *const *v, size_t n)
{
	struct kubelet *k = p->k;
	const char *policy = obj_str(pod, "spec.restartPolicy") ?: "Always";
	bool host_net = obj_bool(pod, "spec.hostNetwork", false);
	struct kcontainer *sandbox;
	json_t *spec;
	size_t i;
	bool acting = false;

	if (any_busy(v, n))
		return;
	if (!host_net && !k->network_ready) {
		requeue_after(p, 1000);
		return;
	}
	if (!k->pause_ready) {
		kubelet_ensure_pause(k);
		requeue_after(p, 300);
		return;
	}
	sandbox = kcontainer_sandbox(v, n);
	/* Extra sandboxes (a crash between create and record) are stopped, and
	 * containers created but never started removed, alongside the rest. */
	for (i = 0; i < n; i++) {
		struct kcontainer *c = v[i];
		if (c->sandbox && c != sandbox && c->state == KC_RUNNING) {
			kill_container(p, c, 1, "Stopping duplicate sandbox");
			acting = true;
		} else if (c->state == KC_CREATED && c != sandbox) {
			remove_container(p, c);
		}
	}
	if (acting)
		return;
	if (sandbox && sandbox->state == KC_RUNNING && !host_net && !sandbox->ip) {
		kevent(p, "Normal", "SandboxChanged", NULL, "Pod sandbox changed, it will be killed and re-created.");
		kill_container(p, sandbox, 1, "Stopping sandbox without address");
		return;
	}
	if (!sandbox || sandbox->state != KC_RUNNING) {
		bool ran = false;
		int64_t left;
		/* Containers cannot rejoin a new network namespace: stop them first. */
		for (i = 0; i < n; i++) {
			struct kcontainer *c = v[i];
			ran |= !c->sandbox;
			if (!c->sandbox && c->state == KC_RUNNING) {
				char *msg = xasprintf("Stopping container %s", c->container);
				kill_container(p, c, pod_grace_s(pod, c), msg);
				free(msg);
				acting = true;
			}
		}
		if (acting)
			return;
		if (sandbox && sandbox->state == KC_CREATED) {
			remove_container(p, sandbox);
			return;
		}
		if (sandbox && ran && !strcmp(policy, "Never"))
			return; /* the pod ran once and does not restart */
		left = p->sandbox_failed_ms ? backoff_remaining(&p->sandbox_backoff, p->sandbox_failed_ms,
								kubelet_now_ms(), k->cfg.max_backoff_ms)
					    : 0;
		if (left > 0) {
			requeue_after(p, left);
			return;
		}
		if (sandbox)
			kevent(p, "Normal", "SandboxChanged", NULL,
			       "Pod sandbox changed, it will be killed and re-created.");
		start_sandbox(p, pod, next_sandbox_attempt(v, n));
		return;
	}
	if (!host_net && (!p->hosts_ip || strcmp(p->hosts_ip, sandbox->ip)))
		podfiles_write_hosts(k, p, pod, sandbox->ip);
	if (kubelet_now_ms() - p->volumes_ms > RESYNC_MS) {
		char *err = NULL;
		p->volumes_ms = kubelet_now_ms();
		if (podfiles_volumes(k, p, pod, &err) < 0) {
			log_warn("kubelet pod=%s volumes: %s", p->key, err);
			free(err);
		}
	}
	/* App containers left in an old sandbox. */
	for (i = 0; i < n; i++) {
		struct kcontainer *c = v[i];
		if (!c->sandbox && c->state == KC_RUNNING && (!c->sandbox_id || strcmp(c->sandbox_id, sandbox->id))) {
			char *msg = xasprintf("Stopping container %s", c->container);
			kill_container(p, c, pod_grace_s(pod, c), msg);
			free(msg);
			acting = true;
		}
	}
	if (acting)
		return;

	/* Init containers, one at a time, each to success. */
	json_array_foreach(obj_get(pod, "spec.initContainers"), i, spec) {
		const char *name = obj_str(spec, "name") ?: "";
		struct kcontainer *inst = kcontainer_latest(v, n, name, sandbox->id, NULL);
		if (inst && inst->state == KC_RUNNING)
			return;
		if (inst && inst->state == KC_EXITED && inst->exit_code == 0)
			continue;
		if (inst && inst->state == KC_EXITED) {
			if (!strcmp(policy, "Never") || !may_restart(p, spec, true, inst))
				return;
		}
		if (may_pull(p, spec, true))
			start_container(p, spec, true, sandbox, next_attempt(v, n, name));
		return;
	}

	json_array_foreach(obj_get(pod, "spec.containers"), i, spec) {
		const char *name = obj_str(spec, "name") ?: "";
		struct kcstate *st = kpod_cstate(p, name, false);
		struct kcontainer *inst = kcontainer_latest(v, n, name, sandbox->id, NULL);

		if (inst && inst->state == KC_RUNNING) {
			char hash[9];
			runtime_container_hash(spec, hash);
			if (inst->hash && strcmp(inst->hash, hash)) {
				char *msg = xasprintf("Container %s definition changed, will be restarted", name);
				kill_container(p, inst, pod_grace_s(pod, inst), msg);
				free(msg);
				acting = true;
			} else if (st->kill_id && !strcmp(st->kill_id, inst->id)) {
				kill_container(p, inst, pod_grace_s(pod, inst), st->kill_reason ?: "Stopping container");
				free(st->kill_id);
				st->kill_id = NULL;
				acting = true;
			}
			continue;
		}
		if (acting)
			continue;
		if (inst && inst->state == KC_EXITED) {
			if (!podstatus_should_restart(policy, inst->exit_code)) {
				set_waiting(st, NULL, NULL);
				continue;
			}
			if (!may_pull(p, spec, false))
				continue;
			if (!may_restart(p, spec, false, inst))
				continue;
		} else if (!may_pull(p, spec, false)) {
			continue;
		}
		start_container(p, spec, false, sandbox, next_attempt(v, n, name));
		return;
	}
	if (acting)
		return;
	collect_garbage(p, v, n, sandbox);
	probes_reconcile(p, v, n);
}

/* A terminal pod: nothing restarts; the sandbox goes (as the kubelet kills it). */
static void finished(struct kpod *p, const json_t *pod, struct kcontainer *const *v, size_t n)
{
	probes_stop_all(p);
	if (any_busy(v, n))
		return;
	if (stop_everything(p, v, n, pod))
		return;
	collect_garbage(p, v, n, kcontainer_sandbox(v, n));
}

void podworker_sync(struct workqueue *q, const char *uid, void *data)
{
	struct kubelet *k = data;
	struct kpod *p = kpod_get(k, uid);
	struct kcontainer **v;
	json_t *pod;
	size_t n;
	const char *phase;

	if (!p) {
		workqueue_forget(q, uid);
		workqueue_done(q, uid);
		return;
	}
	p->refs++;
	p->syncing = true;
	p->in_sync = true;
	p->inflight = 0;
	p->failed = false;
	p->acted = false;
	p->requeue_ms = 0;
	p->hold_ms = 0;

	pod = kpod_object(p);
	v = kubelet_pod_containers(k, p->uid, &n);
	if (pod) {
		if (p->pod != pod) {
			json_decref(p->pod);
			p->pod = json_incref(pod);
		}
		if (!p->last_status && json_object_size(obj_get(pod, "status.conditions")))
			p->last_status = json_deep_copy(obj_get(pod, "status"));
	}
	phase = obj_str(p->last_status, "phase");
	if (!k->docker_up || k->relisting) {
		/* Nothing to compare with until the engine answers and is listed. */
		requeue_after(p, 1000);
	} else if (!pod) {
		p->gone = true;
		teardown(p, v, n);
	} else if (obj_get(pod, "metadata.deletionTimestamp")) {
		terminate(p, pod, v, n);
	} else if (podstatus_phase_terminal(phase)) {
		finished(p, pod, v, n);
	} else {
		run(p, pod, v, n);
	}
	free(v);
	p->in_sync = false;
	if (p->inflight == 0)
		pass_finish(p);
}
