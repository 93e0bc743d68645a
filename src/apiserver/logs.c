/*
 * GET /api/v1/namespaces/<ns>/pods/<pod>/log: the apiserver passes the
 * request on to the kubelet of the pod's node and streams its answer back,
 * as kube-apiserver does. The kubelet's address is the Node's InternalIP
 * and status.daemonEndpoints.kubeletEndpoint.Port; the apiserver checks the
 * kubelet's certificate against the cluster CA (which issued it when the
 * node joined) and shows the token that node's kubelet accepts, kept in the
 * node's credential Secret (join.c).
 *
 *   kubectl logs -f web --> apiserver --> https://<InternalIP>:10250/containerLogs/ns/web/c?follow=true
 *           <-- chunks <--           <-- chunks
 */
#include "apiserver/apiserver.h"
#include "core/httpc.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct log_op {
	struct log_op *prev, *next;
	struct apiserver *as;
	struct http_request *req;
	struct httpc_req *hr;
	char *node;
	bool streaming;
};

static void op_unlink(struct log_op *op)
{
	if (op->prev)
		op->prev->next = op->next;
	else
		op->as->log_ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
}

static void op_free(struct log_op *op)
{
	op_unlink(op);
	http_request_on_close(op->req, NULL, NULL);
	http_request_unref(op->req);
	free(op->node);
	free(op);
}

static void on_client_gone(struct http_request *req, void *data)
{
	struct log_op *op = data;

	(void)req;
	if (op->hr)
		httpc_cancel(op->hr);
	op->hr = NULL;
	op_free(op);
}

static int on_data(const char *buf, size_t len, void *data)
{
	struct log_op *op = data;

	if (!op->streaming) {
		http_stream_start(op->req, 200, "text/plain");
		op->streaming = true;
	}
	http_stream_write(op->req, buf, len);
	return 0;
}

static void on_done(const struct httpc_response *r, void *data)
{
	struct log_op *op = data;

	op->hr = NULL;
	if (op->streaming)
		http_stream_end(op->req);
	else if (r->status == 200)
		http_respond(op->req, 200, "text/plain", "", 0);
	else if (r->status)
		/* The kubelet's own Status (404 pod, 400 container, ...), as is. */
		http_respond(op->req, r->status, "application/json", r->body, r->body_len);
	else
		http_respond_status(op->req, 500, "InternalError",
				    "cannot reach the kubelet of node \"%s\": %s; is the node up (minictl get node %s)?",
				    op->node, r->error ? r->error : "no answer", op->node);
	op_free(op);
}

/* The token the node's kubelet accepts: from its credential Secret, or
 * the cluster-wide kubelet-client token for kubelets that never joined. */
static char *kubelet_token(struct apiserver *as, const char *node)
{
	char name[300], *key, *out;

	snprintf(name, sizeof(name), "%s%s", NODE_CREDENTIAL_PREFIX, node);
	key = storage_key(&kind_secret, "kube-system", name);
	out = secret_data_string(store_get(as->store, key), "kubeletToken");
	free(key);
	return out ? out : xstrdup(auth_kubelet_client_token(as->auth));
}

/* The query parameters the kubelet understands, passed on as given. */
static void add_query(struct strbuf *url, const struct http_request *req)
{
	static const char *const keys[] = { "follow", "previous", "timestamps", "tailLines", "sinceSeconds",
					    "sinceTime", "limitBytes" };
	char sep = '?';

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char *v = http_request_query(req, keys[i]), *esc;
		if (!v)
			continue;
		esc = curl_easy_escape(NULL, v, 0);
		strbuf_addf(url, "%c%s=%s", sep, keys[i], esc ? esc : "");
		curl_free(esc);
		sep = '&';
		free(v);
	}
}

static bool following(const struct http_request *req)
{
	char *v = http_request_query(req, "follow");
	bool yes = v && (!strcmp(v, "true") || !strcmp(v, "1") || !*v);

	free(v);
	return yes;
}

void handle_pod_log(struct apiserver *as, struct http_request *req, const struct api_path *p)
{
	char *key = storage_key(p->kind, p->namespace, p->name), *token, *auth;
	const json_t *pod = store_get(as->store, key), *node;
	const char *node_name, *ip, *headers[2];
	char *container = http_request_query(req, "container");
	struct httpc_options o = { 0 };
	struct strbuf url;
	struct log_op *op;
	json_int_t port;

	free(key);
	if (!pod) {
		respond_not_found(req, p->kind, p->name);
		free(container);
		return;
	}
	node_name = obj_str(pod, "spec.nodeName");
	if (!node_name) {
		http_respond_status(req, 400, "BadRequest", "pod %s does not have a host assigned", p->name);
		free(container);
		return;
	}
	key = storage_key(&kind_node, "", node_name);
	node = store_get(as->store, key);
	free(key);
	ip = node_address(node, "InternalIP");
	port = json_integer_value(obj_get(node, "status.daemonEndpoints.kubeletEndpoint.Port"));
	if (!ip || port <= 0 || port > 65535) {
		http_respond_status(req, 500, "InternalError",
				    "node \"%s\" has no kubelet address (InternalIP and kubelet port) in its status: "
				    "has its kubelet registered? (minictl describe node %s)", node_name, node_name);
		free(container);
		return;
	}
	if (!container) {
		const json_t *cs = obj_get(pod, "spec.containers");
		if (json_array_size(cs) != 1) {
			http_respond_status(req, 400, "BadRequest",
					    "a container name must be specified for pod %s, choose one of the pod's containers",
					    p->name);
			return;
		}
		container = xstrdup(obj_str(json_array_get(cs, 0), "name") ? obj_str(json_array_get(cs, 0), "name") : "");
	}
	if (!as->kubelets)
		as->kubelets = httpc_new(as->loop);
	strbuf_init(&url, 256);
	strbuf_addf(&url, "https://%s%s%s:%d/containerLogs/%s/%s/%s", strchr(ip, ':') ? "[" : "", ip,
		    strchr(ip, ':') ? "]" : "", (int)port, p->namespace, p->name, container);
	add_query(&url, req);
	token = kubelet_token(as, node_name);
	auth = xasprintf("Authorization: Bearer %s", token);
	headers[0] = auth;
	headers[1] = NULL;

	op = xcalloc(1, sizeof(*op));
	op->as = as;
	op->req = req;
	op->node = xstrdup(node_name);
	http_request_ref(req);
	op->next = as->log_ops;
	if (as->log_ops)
		as->log_ops->prev = op;
	as->log_ops = op;
	o.url = url.buf;
	o.ca_pem = as->ca_pem;
	/* A followed log lasts as long as the client wants; the rest must end. */
	o.timeout_ms = following(req) ? 0 : 60000;
	o.headers = headers;
	o.on_data = on_data;
	o.on_done = on_done;
	o.data = op;
	op->hr = httpc_start(as->kubelets, &o);
	if (op->hr)
		http_request_on_close(req, on_client_gone, op);
	else {
		http_respond_status(req, 500, "InternalError", "cannot start a request to the kubelet of node \"%s\"",
				    node_name);
		op_free(op);
	}
	free(auth);
	free(token);
	free(container);
	strbuf_release(&url);
}

void pod_logs_close(struct apiserver *as, void (*cb)(void *), void *data)
{
	while (as->log_ops) {
		struct log_op *op = as->log_ops;
		if (op->hr)
			httpc_cancel(op->hr);
		op->hr = NULL;
		if (op->streaming)
			http_stream_end(op->req);
		else
			http_respond_status(op->req, 503, "ServiceUnavailable", "the apiserver is shutting down");
		op_free(op);
	}
	if (as->kubelets) {
		httpc_close(as->kubelets, cb, data);
		as->kubelets = NULL;
	} else {
		cb(data);
	}
}
