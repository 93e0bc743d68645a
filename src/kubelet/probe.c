/*
 * Container probes, as the kubelet's prober: each probe of a running
 * container instance has a timer (initialDelaySeconds, then every
 * periodSeconds) and runs httpGet (a request to the pod IP from the node),
 * tcpSocket (a connect) or exec (Docker exec, exit code 0 is success).
 * successThreshold / failureThreshold turn results into a state: readiness
 * drives the container's ready flag, a failed liveness or startup probe
 * asks the pod worker to restart the container, and liveness and readiness
 * wait for the startup probe to pass. Also exec_run, which preStop hooks
 * share.
 */
#include "kubelet/internal.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum probe_kind { PROBE_STARTUP, PROBE_LIVENESS, PROBE_READINESS };
static const char *const probe_names[] = { "Startup", "Liveness", "Readiness" };

enum { OP_EXEC = 200 };
#define EXEC_OUTPUT_MAX 10240

struct tcp_try;

struct probe {
	struct kubelet *k;
	struct kpod *p;
	enum probe_kind kind;
	char *container, *id;
	json_t *spec;
	uv_timer_t timer;
	int successes, failures;
	bool busy, closing;
	struct httpc_req *hreq;
	struct kop *exec;
	struct tcp_try *tcp;
};

struct tcp_try {
	struct kubelet *k;
	struct probe *probe;  /* NULL once the probe went away */
	uv_tcp_t tcp;
	uv_connect_t conn;
	uv_timer_t timer;
	int open;
	bool done;
};

/* ---- exec ---------------------------------------------------------------- */

struct exec_extra {
	void (*done)(struct kop *op, int code, const char *output, void *data);
	void *data;
	struct docker_demux demux;
	struct strbuf out;
	int64_t timeout_ms;
	char *error;
};

static void exec_free_extra(struct kop *op)
{
	struct exec_extra *x = op->extra;

	if (!x)
		return;
	strbuf_release(&x->out);
	free(x->error);
	free(x);
	op->extra = NULL;
}

static void exec_finish(struct kop *op, int code)
{
	struct exec_extra *x = op->extra;

	x->done(op, code, code < 0 ? (x->error ? x->error : "error") : x->out.buf, x->data);
	kop_free(op);
}

static void on_exec_inspected(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct exec_extra *x = op->extra;

	op->dreq = NULL;
	if (r->error) {
		x->error = xstrdup(r->error);
		exec_finish(op, -1);
		return;
	}
	exec_finish(op, (int)obj_int(r->body, "ExitCode", -1));
}

static int on_exec_demuxed(int stream, const char *buf, size_t len, void *data)
{
	struct exec_extra *x = data;

	(void)stream;
	if (x->out.len < EXEC_OUTPUT_MAX)
		strbuf_add(&x->out, buf, len < EXEC_OUTPUT_MAX - x->out.len ? len : EXEC_OUTPUT_MAX - x->out.len);
	return 0;
}

static int on_exec_output(const char *buf, size_t len, void *data)
{
	struct kop *op = data;
	struct exec_extra *x = op->extra;

	docker_demux_feed(&x->demux, buf, len, on_exec_demuxed, x);
	return 0;
}

static void on_exec_ended(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct exec_extra *x = op->extra;
	char *path;

	op->dreq = NULL;
	if (r->error) {
		x->error = strstr(r->error, "timed out") || strstr(r->error, "Timeout")
				   ? xasprintf("command timed out after %llds", (long long)(x->timeout_ms / 1000))
				   : xstrdup(r->error);
		exec_finish(op, -1);
		return;
	}
	path = xasprintf("/exec/%s/json", op->id);
	op->dreq = docker_call(op->k->docker, "GET", path, NULL, 0, on_exec_inspected, op);
	free(path);
	if (!op->dreq) {
		x->error = xstrdup("cannot ask the engine for the exit code");
		exec_finish(op, -1);
	}
}

static void on_exec_created(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct exec_extra *x = op->extra;
	const char *id = obj_str(r->body, "Id");
	json_t *body;
	char *path, *text;
	size_t len;

	op->dreq = NULL;
	if (r->error || !id) {
		x->error = xstrdup(r->error ? r->error : "no exec id");
		exec_finish(op, -1);
		return;
	}
	op->id = xstrdup(id);
	body = json_pack("{s:b, s:b}", "Detach", false, "Tty", false);
	text = obj_dump(body, &len);
	json_decref(body);
	path = xasprintf("/exec/%s/start", id);
	op->dreq = docker_stream(op->k->docker, "POST", path, "application/json", text, len,
				 x->timeout_ms > 0 ? x->timeout_ms : -1, on_exec_output, on_exec_ended, op);
	free(path);
	free(text);
	if (!op->dreq) {
		x->error = xstrdup("cannot start the exec");
		exec_finish(op, -1);
	}
}

struct kop *exec_run(struct kubelet *k, struct kpod *p, const char *id, const json_t *cmd, int64_t timeout_ms,
		     void (*done)(struct kop *op, int code, const char *output, void *data), void *data)
{
	struct kop *op = kop_new(k, p, OP_EXEC);
	struct exec_extra *x = xcalloc(1, sizeof(*x));
	json_t *body = json_pack("{s:b, s:b, s:O}", "AttachStdout", true, "AttachStderr", true, "Cmd", cmd);
	char *path = xasprintf("/containers/%s/exec", id);

	x->done = done;
	x->data = data;
	x->timeout_ms = timeout_ms;
	docker_demux_init(&x->demux);
	strbuf_init(&x->out, 256);
	op->extra = x;
	op->free_extra = exec_free_extra;
	op->dreq = docker_call(k->docker, "POST", path, body, 0, on_exec_created, op);
	json_decref(body);
	free(path);
	if (!op->dreq) {
		kop_free(op);
		return NULL;
	}
	return op;
}

/* ---- probe results ----------------------------------------------------------- */

static void probe_stop(struct probe *pr);

static void probe_result(struct probe *pr, bool ok, const char *msg)
{
	struct kpod *p = pr->p;
	struct kcstate *st = kpod_cstate(p, pr->container, false);
	int64_t success_th = obj_int(pr->spec, "successThreshold", 1);
	int64_t failure_th = obj_int(pr->spec, "failureThreshold", 3);
	char *fp;

	pr->busy = false;
	if (ok) {
		pr->successes++;
		pr->failures = 0;
	} else {
		pr->failures++;
		pr->successes = 0;
		fp = xasprintf("spec.containers{%s}", pr->container);
		kevent(p, "Warning", "Unhealthy", fp, "%s probe failed: %s", probe_names[pr->kind], msg ? msg : "");
		free(fp);
	}
	log_debug("kubelet pod=%s container=%s probe=%s ok=%d successes=%d failures=%d", p->key, pr->container,
		  probe_names[pr->kind], ok, pr->successes, pr->failures);
	switch (pr->kind) {
	case PROBE_READINESS:
		if (ok && pr->successes >= success_th && !st->ready) {
			st->ready = true;
			kpod_enqueue(p);
		} else if (!ok && pr->failures >= failure_th && st->ready) {
			st->ready = false;
			kpod_enqueue(p);
		}
		break;
	case PROBE_STARTUP:
		if (ok && pr->successes >= success_th) {
			st->started = true;
			uv_timer_stop(&pr->timer);
			kpod_enqueue(p);
			break;
		}
		/* A failed startup probe kills as liveness does. */
		__attribute__((fallthrough));
	case PROBE_LIVENESS:
		if (!ok && pr->failures >= failure_th) {
			free(st->kill_id);
			free(st->kill_reason);
			st->kill_id = xstrdup(pr->id);
			st->kill_reason = xasprintf("Container %s failed %s probe, will be restarted", pr->container,
						    pr->kind == PROBE_STARTUP ? "startup" : "liveness");
			pr->failures = 0;
			uv_timer_stop(&pr->timer);
			kpod_enqueue(p);
		}
		break;
	}
}

/* ---- handlers ----------------------------------------------------------------- */

static void on_probe_http(const struct httpc_response *resp, void *data)
{
	struct probe *pr = data;
	char msg[256];

	pr->hreq = NULL;
	if (resp->error) {
		snprintf(msg, sizeof(msg), "Get: %s", resp->error);
		probe_result(pr, false, msg);
	} else if (resp->status >= 200 && resp->status < 400) {
		probe_result(pr, true, NULL);
	} else {
		snprintf(msg, sizeof(msg), "HTTP probe failed with statuscode: %d", resp->status);
		probe_result(pr, false, msg);
	}
}

static void on_probe_exec(struct kop *op, int code, const char *output, void *data)
{
	struct probe *pr = data;
	char *msg;

	(void)op;
	pr->exec = NULL;
	if (code == 0) {
		probe_result(pr, true, NULL);
		return;
	}
	msg = code < 0 ? xstrdup(output ? output : "error")
		       : xasprintf("command exited with %d: %.200s", code, output ? output : "");
	probe_result(pr, false, msg);
	free(msg);
}

static void on_tcp_closed(uv_handle_t *h)
{
	struct tcp_try *t = h->data;

	kubelet_handle_closed(t->k);
	if (--t->open == 0)
		free(t);
}

static void tcp_end(struct tcp_try *t, bool ok, const char *msg)
{
	struct probe *pr = t->probe;

	if (t->done)
		return;
	t->done = true;
	if (pr) {
		pr->tcp = NULL;
		probe_result(pr, ok, msg);
	}
	uv_close((uv_handle_t *)&t->tcp, on_tcp_closed);
	uv_close((uv_handle_t *)&t->timer, on_tcp_closed);
}

static void on_tcp_connect(uv_connect_t *req, int status)
{
	struct tcp_try *t = req->data;
	char msg[128];

	if (status == UV_ECANCELED)
		return;
	snprintf(msg, sizeof(msg), "dial tcp: %s", status ? uv_strerror(status) : "");
	tcp_end(t, status == 0, msg);
}

static void on_tcp_timeout(uv_timer_t *h)
{
	tcp_end(h->data, false, "dial tcp: i/o timeout");
}

static const char *pod_ip(struct probe *pr)
{
	struct kcontainer *c = kubelet_container_by_id(pr->k, pr->id);
	struct kcontainer *sb = c && c->sandbox_id ? kubelet_container_by_id(pr->k, c->sandbox_id) : NULL;

	if (obj_bool(pr->p->pod, "spec.hostNetwork", false))
		return pr->k->node_ip;
	return sb ? sb->ip : NULL;
}

/* A port given as a number or as the name of a container port. */
static int probe_port(struct probe *pr, const json_t *port)
{
	const json_t *pod = pr->p->pod, *c, *pt;
	size_t i, j;

	if (json_is_integer(port))
		return (int)json_integer_value(port);
	if (!json_is_string(port))
		return -1;
	if (atoi(json_string_value(port)) > 0)
		return atoi(json_string_value(port));
	json_array_foreach(obj_get(pod, "spec.containers"), i, c)
		json_array_foreach(obj_get(c, "ports"), j, pt)
			if (!strcmp(obj_str(pt, "name") ?: "", json_string_value(port)))
				return (int)obj_int(pt, "containerPort", -1);
	return -1;
}

static void probe_run(struct probe *pr)
{
	struct kubelet *k = pr->k;
	int64_t timeout_ms = obj_int(pr->spec, "timeoutSeconds", 1) * 1000;
	const char *ip = pod_ip(pr);
	json_t *h;

	pr->busy = true;
	if ((h = obj_get(pr->spec, "exec"))) {
		pr->exec = exec_run(k, pr->p, pr->id, obj_get(h, "command"), timeout_ms, on_probe_exec, pr);
		if (!pr->exec)
			probe_result(pr, false, "cannot start the command");
		return;
	}
	if ((h = obj_get(pr->spec, "httpGet"))) {
		const char *host = obj_str(h, "host"), *path = obj_str(h, "path") ?: "/";
		const char *scheme = obj_str(h, "scheme") ?: "HTTP";
		int port = probe_port(pr, obj_get(h, "port"));
		struct httpc_options o = { 0 };
		const char **headers = NULL;
		json_t *hh = obj_get(h, "httpHeaders"), *x;
		size_t i, nh = json_array_size(hh);
		char *url;

		if (port <= 0 || !(host && *host ? host : ip)) {
			probe_result(pr, false, port <= 0 ? "invalid port" : "the pod has no IP");
			return;
		}
		url = xasprintf("%s://%s:%d%s%s", !strcmp(scheme, "HTTPS") ? "https" : "http", host && *host ? host : ip,
				port, path[0] == '/' ? "" : "/", path);
		headers = xcalloc(nh + 2, sizeof(*headers));
		json_array_foreach(hh, i, x)
			headers[i] = xasprintf("%s: %s", obj_str(x, "name") ?: "X", obj_str(x, "value") ?: "");
		o.url = url;
		o.timeout_ms = timeout_ms;
		o.connect_timeout_ms = timeout_ms;
		o.headers = headers;
		o.insecure = true;
		o.on_done = on_probe_http;
		o.data = pr;
		pr->hreq = httpc_start(k->http, &o);
		for (i = 0; i < nh; i++)
			free((char *)headers[i]);
		free(headers);
		free(url);
		if (!pr->hreq)
			probe_result(pr, false, "cannot start the request");
		return;
	}
	if ((h = obj_get(pr->spec, "tcpSocket"))) {
		const char *host = obj_str(h, "host");
		int port = probe_port(pr, obj_get(h, "port"));
		struct sockaddr_in sa;
		struct tcp_try *t;

		if (port <= 0 || !(host && *host ? host : ip) ||
		    uv_ip4_addr(host && *host ? host : ip, port, &sa) < 0) {
			probe_result(pr, false, "invalid address");
			return;
		}
		t = xcalloc(1, sizeof(*t));
		t->k = k;
		t->probe = pr;
		uv_tcp_init(k->loop, &t->tcp);
		uv_timer_init(k->loop, &t->timer);
		kubelet_handle_opened(k);
		kubelet_handle_opened(k);
		t->open = 2;
		t->tcp.data = t->timer.data = t->conn.data = t;
		pr->tcp = t;
		uv_timer_start(&t->timer, on_tcp_timeout, (uint64_t)timeout_ms, 0);
		if (uv_tcp_connect(&t->conn, &t->tcp, (const struct sockaddr *)&sa, on_tcp_connect) < 0)
			tcp_end(t, false, "dial tcp: cannot connect");
		return;
	}
	probe_result(pr, false, "unsupported probe handler (use exec, httpGet or tcpSocket)");
}

static void on_probe_timer(uv_timer_t *t)
{
	struct probe *pr = t->data;
	struct kcstate *st = kpod_cstate(pr->p, pr->container, false);

	if (pr->busy || pr->closing || pr->k->stopping)
		return;
	/* Liveness and readiness wait until the container has started. */
	if (pr->kind != PROBE_STARTUP && !st->started)
		return;
	probe_run(pr);
}

static void on_probe_closed(uv_handle_t *h)
{
	struct probe *pr = h->data;
	struct kubelet *k = pr->k;

	kpod_unref(pr->p);
	json_decref(pr->spec);
	free(pr->container);
	free(pr->id);
	free(pr);
	kubelet_handle_closed(k);
}

static void probe_stop(struct probe *pr)
{
	if (!pr || pr->closing)
		return;
	pr->closing = true;
	uv_timer_stop(&pr->timer);
	if (pr->hreq) {
		httpc_cancel(pr->hreq);
		pr->hreq = NULL;
	}
	if (pr->exec) {
		struct kop *op = pr->exec;
		pr->exec = NULL;
		if (op->dreq)
			docker_cancel(op->dreq);
		op->dreq = NULL;
		kop_free(op);
	}
	if (pr->tcp) {
		pr->tcp->probe = NULL;
		pr->tcp = NULL;
	}
	uv_close((uv_handle_t *)&pr->timer, on_probe_closed);
}

static struct probe *probe_start(struct kpod *p, const char *container, const char *id, const json_t *spec,
				 enum probe_kind kind)
{
	struct kubelet *k = p->k;
	struct probe *pr = xcalloc(1, sizeof(*pr));
	int64_t delay = obj_int(spec, "initialDelaySeconds", 0) * 1000;
	int64_t period = obj_int(spec, "periodSeconds", 10) * 1000;

	pr->k = k;
	pr->p = p;
	p->refs++;
	pr->kind = kind;
	pr->container = xstrdup(container);
	pr->id = xstrdup(id);
	pr->spec = json_deep_copy(spec);
	uv_timer_init(k->loop, &pr->timer);
	kubelet_handle_opened(k);
	pr->timer.data = pr;
	if (period <= 0)
		period = 10000;
	/* The first run waits at least a moment, so the process can bind. */
	uv_timer_start(&pr->timer, on_probe_timer, (uint64_t)(delay > 0 ? delay : 100), (uint64_t)period);
	return pr;
}

static void stop_container_probes(struct kcstate *st)
{
	probe_stop(st->liveness);
	probe_stop(st->readiness);
	probe_stop(st->startup);
	st->liveness = st->readiness = st->startup = NULL;
	free(st->probed_id);
	st->probed_id = NULL;
	st->ready = false;
	st->started = false;
}

void probes_stop_all(struct kpod *p)
{
	for (size_t i = 0; i < p->ncs; i++)
		stop_container_probes(&p->cs[i]);
}

void probes_reconcile(struct kpod *p, struct kcontainer *const *v, size_t n)
{
	const json_t *pod = p->pod;
	json_t *c;
	size_t i;

	json_array_foreach(obj_get(pod, "spec.containers"), i, c) {
		const char *name = obj_str(c, "name") ?: "";
		struct kcstate *st = kpod_cstate(p, name, false);
		struct kcontainer *inst = kcontainer_latest(v, n, name, NULL, NULL);
		json_t *lp = obj_get(c, "livenessProbe"), *rp = obj_get(c, "readinessProbe"), *sp = obj_get(c, "startupProbe");

		if (!inst || inst->state != KC_RUNNING) {
			if (st->probed_id)
				stop_container_probes(st);
			continue;
		}
		if (st->probed_id && !strcmp(st->probed_id, inst->id))
			continue;
		stop_container_probes(st);
		st->probed_id = xstrdup(inst->id);
		st->started = !sp;
		st->ready = false;
		if (sp)
			st->startup = probe_start(p, name, inst->id, sp, PROBE_STARTUP);
		if (lp)
			st->liveness = probe_start(p, name, inst->id, lp, PROBE_LIVENESS);
		if (rp)
			st->readiness = probe_start(p, name, inst->id, rp, PROBE_READINESS);
	}
}
