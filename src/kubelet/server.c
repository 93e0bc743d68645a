/*
 * The kubelet's own HTTPS API (port 10250), which the apiserver calls for
 * `kubectl logs`: GET /containerLogs/<ns>/<pod>/<container> with follow,
 * tailLines, previous, timestamps, sinceSeconds, sinceTime and limitBytes,
 * relayed from the engine's log endpoint with its stdout/stderr frames
 * decoded. Only the apiserver's own bearer token is accepted; /healthz is
 * open. The certificate comes from the cluster CA when the kubelet runs
 * beside a control plane, else from a CA of its own under --root-dir.
 *
 *   apiserver --GET /containerLogs/ns/pod/c--> here --GET /containers/<id>/logs--> dockerd
 *             <-- chunked text ------------------  <-- 8-byte framed stream ------
 */
#include "kubelet/internal.h"
#include "apiserver/pki.h"
#include "core/http.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { OP_LOGS = 400 };

struct log_stream {
	struct http_request *req;
	struct docker_demux demux;
	bool tty;
	int64_t limit;        /* bytes left to send, -1: no limit */
};

static bool query_true(const struct http_request *req, const char *key)
{
	char *v = http_request_query(req, key);
	bool r = v && (!strcmp(v, "true") || !strcmp(v, "1") || !*v);

	free(v);
	return r;
}

static int64_t query_int(const struct http_request *req, const char *key, int64_t def)
{
	char *v = http_request_query(req, key), *end;
	long long n;

	if (!v)
		return def;
	n = strtoll(v, &end, 10);
	if (*end || end == v)
		n = def;
	free(v);
	return n;
}

/* ---- log streams -------------------------------------------------------------- */

static void logs_free_extra(struct kop *op)
{
	struct log_stream *ls = op->extra;

	if (!ls)
		return;
	http_request_on_close(ls->req, NULL, NULL);
	http_stream_end(ls->req);
	http_request_unref(ls->req);
	free(ls);
	op->extra = NULL;
}

static int write_out(struct log_stream *ls, const char *buf, size_t len)
{
	if (ls->limit >= 0) {
		if ((int64_t)len > ls->limit)
			len = (size_t)ls->limit;
		ls->limit -= (int64_t)len;
	}
	if (len)
		http_stream_write(ls->req, buf, len);
	/* A reader that does not keep up is cut off rather than buffered forever. */
	if (http_stream_pending(ls->req) > (64u << 20))
		return -1;
	return ls->limit == 0 ? -1 : 0;
}

static int on_demuxed(int stream, const char *buf, size_t len, void *data)
{
	(void)stream;
	return write_out(data, buf, len);
}

static int on_log_data(const char *buf, size_t len, void *data)
{
	struct kop *op = data;
	struct log_stream *ls = op->extra;

	if (http_request_closed(ls->req))
		return -1;
	if (ls->tty)
		return write_out(ls, buf, len);
	return docker_demux_feed(&ls->demux, buf, len, on_demuxed, ls);
}

static void on_log_done(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct log_stream *ls = op->extra;

	op->dreq = NULL;
	if (r->error && strcmp(r->error, "stopped") && !strstr(r->error, "stopped") && ls) {
		char *msg = xasprintf("error: %s\n", r->error);
		http_stream_write(ls->req, msg, strlen(msg));
		free(msg);
	}
	kop_free(op);
}

static void on_client_gone(struct http_request *req, void *data)
{
	struct kop *op = data;

	(void)req;
	if (op->dreq) {
		docker_cancel(op->dreq);
		op->dreq = NULL;
	}
	kop_free(op);
}

static void handle_logs(struct kubelet *k, struct http_request *req, const char *ns, const char *pod_name,
			const char *container)
{
	char *key = xasprintf("%s/%s", ns, pod_name), *path;
	json_t *pod = informer_get(k->pods, key);
	bool previous = query_true(req, "previous"), follow = query_true(req, "follow");
	bool timestamps = query_true(req, "timestamps");
	int64_t tail = query_int(req, "tailLines", -1), since = query_int(req, "sinceSeconds", 0);
	int64_t limit = query_int(req, "limitBytes", -1);
	struct kcontainer **v, *latest, *target;
	struct log_stream *ls;
	struct kop *op;
	char *since_time = http_request_query(req, "sinceTime");
	size_t n;

	free(key);
	if (!pod) {
		http_respond_status(req, 404, "NotFound", "pods \"%s\" not found", pod_name);
		free(since_time);
		return;
	}
	if (!*container) {
		json_t *cs = obj_get(pod, "spec.containers");
		if (json_array_size(cs) != 1) {
			http_respond_status(req, 400, "BadRequest",
					    "a container name must be specified for pod %s, choose one of the pod's containers",
					    pod_name);
			free(since_time);
			return;
		}
		container = obj_str(json_array_get(cs, 0), "name") ?: "";
	}
	{
		bool found = false;
		json_t *c;
		size_t i;
		static const char *const lists[] = { "spec.containers", "spec.initContainers" };
		for (int l = 0; l < 2 && !found; l++)
			json_array_foreach(obj_get(pod, lists[l]), i, c)
				found |= !strcmp(obj_str(c, "name") ?: "", container);
		if (!found) {
			http_respond_status(req, 400, "BadRequest", "container %s is not valid for pod %s", container, pod_name);
			free(since_time);
			return;
		}
	}
	v = kubelet_pod_containers(k, obj_str(pod, "metadata.uid") ?: "", &n);
	latest = kcontainer_latest(v, n, container, NULL, NULL);
	target = previous && latest ? kcontainer_latest(v, n, container, NULL, latest) : latest;
	free(v);
	if (!target) {
		struct kpod *p = kpod_get(k, obj_str(pod, "metadata.uid") ?: "");
		struct kcstate *st = p ? kpod_cstate(p, container, false) : NULL;
		if (previous)
			http_respond_status(req, 400, "BadRequest", "previous terminated container \"%s\" in pod \"%s\" not found",
					    container, pod_name);
		else
			http_respond_status(req, 400, "BadRequest", "container \"%s\" in pod \"%s\" is waiting to start: %s",
					    container, pod_name, st && st->waiting_reason ? st->waiting_reason : "ContainerCreating");
		free(since_time);
		return;
	}
	path = xasprintf("/containers/%s/logs?stdout=1&stderr=1&follow=%d&timestamps=%d", target->id, follow ? 1 : 0,
			 timestamps ? 1 : 0);
	if (tail >= 0) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", (long long)tail);
		docker_query_add(&path, "tail", buf);
	}
	if (since > 0 || since_time) {
		char buf[32];
		time_t t = since > 0 ? time(NULL) - since : 0;
		if (since_time)
			time_parse_rfc3339(since_time, &t);
		snprintf(buf, sizeof(buf), "%lld", (long long)t);
		docker_query_add(&path, "since", buf);
	}
	free(since_time);
	ls = xcalloc(1, sizeof(*ls));
	ls->req = req;
	ls->tty = target->tty;
	ls->limit = limit > 0 ? limit : -1;
	docker_demux_init(&ls->demux);
	http_request_ref(req);
	op = kop_new(k, NULL, OP_LOGS);
	op->extra = ls;
	op->free_extra = logs_free_extra;
	http_request_on_close(req, on_client_gone, op);
	http_stream_start(req, 200, "text/plain");
	op->dreq = docker_stream(k->docker, "GET", path, NULL, NULL, 0, follow ? -1 : 0, on_log_data, on_log_done, op);
	free(path);
	if (!op->dreq)
		kop_free(op);
}

/* ---- routing ---------------------------------------------------------------------- */

static bool authorized(struct kubelet *k, struct http_request *req)
{
	const char *h = http_request_header(req, "Authorization");
	size_t n;

	if (!k->token || !h || strncasecmp(h, "Bearer ", 7))
		return false;
	h += 7;
	n = strlen(h);
	return n == strlen(k->token) && CRYPTO_memcmp(h, k->token, n) == 0;
}

static void on_request(struct http_request *req, void *data)
{
	struct kubelet *k = data;
	const char *path = req->path;

	if (!strcmp(path, "/healthz")) {
		http_respond(req, 200, "text/plain", "ok", 2);
		return;
	}
	if (!authorized(k, req)) {
		http_respond_status(req, 401, "Unauthorized", "Unauthorized");
		return;
	}
	if (strcmp(req->method, "GET")) {
		http_respond_status(req, 405, "MethodNotAllowed", "the kubelet API only serves GET");
		return;
	}
	if (str_has_prefix(path, "/containerLogs/")) {
		char *copy = xstrdup(path + strlen("/containerLogs/"));
		char *ns = copy, *pod = strchr(ns, '/'), *container = NULL;
		if (pod) {
			*pod++ = '\0';
			container = strchr(pod, '/');
			if (container)
				*container++ = '\0';
		}
		if (!pod || !*ns || !*pod)
			http_respond_status(req, 400, "BadRequest", "use /containerLogs/<namespace>/<pod>/<container>");
		else
			handle_logs(k, req, ns, pod, container ? container : "");
		free(copy);
		return;
	}
	if (!strcmp(path, "/pods") || !strcmp(path, "/pods/")) {
		json_t *list = json_pack("{s:s, s:s, s:{}, s:o}", "kind", "PodList", "apiVersion", "v1", "metadata",
					 "items", informer_list(k->pods, NULL));
		http_respond_json(req, 200, list);
		return;
	}
	http_respond_status(req, 404, "NotFound", "the kubelet has no \"%s\"", path);
}

/* ---- certificate and start -------------------------------------------------------------- */

static int ensure_cert(struct kubelet *k, char **cert, char **key)
{
	if (k->cfg.tls_cert_file || k->cfg.tls_key_file) {
		if (!k->cfg.tls_cert_file || !k->cfg.tls_key_file)
			return error("--tls-cert-file and --tls-private-key-file go together");
		*cert = xstrdup(k->cfg.tls_cert_file);
		*key = xstrdup(k->cfg.tls_key_file);
		return 0;
	}
	/* Alone (no agent): a CA of our own, whose serving certificate covers
	 * this machine. The agent passes one issued by the cluster CA instead. */
	char *dir = xasprintf("%s/pki", k->root_dir);
	struct pki_options o = { dir, NULL };
	int rc = pki_ensure(&o);
	*cert = xasprintf("%s/server.crt", dir);
	*key = xasprintf("%s/server.key", dir);
	free(dir);
	return rc;
}

int server_start(struct kubelet *k)
{
	struct http_server_config c = { 0 };
	char *cert = NULL, *key = NULL;
	int rc;

	if (ensure_cert(k, &cert, &key) < 0) {
		free(cert);
		free(key);
		return error("cannot set up the kubelet API certificate");
	}
	k->tls = pki_server_ctx(cert, key);
	free(cert);
	free(key);
	if (!k->tls)
		return error("cannot load the kubelet API certificate");
	c.bind_address = k->cfg.address;
	c.port = k->cfg.port;
	c.tls = k->tls;
	c.max_body = 64 * 1024;
	c.max_connections = 1000;
	c.handler = on_request;
	c.handler_data = k;
	rc = http_server_start(&k->server, k->loop, &c);
	if (rc < 0)
		return error("cannot listen on %s:%d for the kubelet API: %s (use --kubelet-port)", k->cfg.address,
			     k->cfg.port, uv_strerror(rc));
	k->port = http_server_port(k->server);
	log_info("kubelet API listening address=%s:%d", k->cfg.address, k->port);
	return 0;
}

void server_stop(struct kubelet *k, void (*cb)(void *arg), void *arg)
{
	if (!k->server) {
		if (cb)
			cb(arg);
		return;
	}
	http_server_close(k->server, cb, arg);
	k->server = NULL;
}
