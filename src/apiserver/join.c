/*
 * Joining a node: `POST /minik8s/v1/join {"nodeName": "n2"}` with the join
 * secret (the part after "::node:" of the join token) as bearer token. The
 * answer is the node's own credential, a token that authenticates as
 * system:node:n2 and that the node authorizer (authz.c) confines to what a
 * node may do, the token this apiserver will show that node's kubelet, and
 * a serving certificate for the kubelet's port, signed by the cluster CA
 * for the names and addresses the node sends (so the apiserver can verify
 * the kubelet it proxies `logs` to, and the node never sees the CA key).
 *
 *   agent                                   apiserver
 *   GET /cacerts (no TLS trust yet) ------> CA bundle
 *   check sha256(CA) == hash in join token
 *   POST /minik8s/v1/join (now verifying) -> Secret kube-system/minik8s-node-n2
 *     {nodeName, addresses}          <----- {token, kubeletToken,
 *                                            kubeletCert, kubeletKey}
 *
 * A name already held: the node itself (presenting its credential) gets it
 * back; anyone else is refused while that node's Lease is fresh, and gets a
 * new credential once the old node is gone (a reinstalled machine).
 */
#include "apiserver/apiserver.h"
#include "apiserver/pki.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A Lease renewed within this long means its node is alive (the kubelet
 * renews every 10 s; Kubernetes' leaseDurationSeconds is 40). */
#define LIVE_LEASE_SECONDS 40

struct join_op {
	struct apiserver *as;
	struct http_request *req;
	char node[254];
	char *token;
	char *kubelet_token;
	char *cert_pem, *key_pem;
	int code;
};

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static void join_done(int status, struct store_obj *obj, bool unchanged, void *data)
{
	struct join_op *op = data;

	(void)obj;
	(void)unchanged;
	if (status == 0) {
		auth_set_node_token(op->as->auth, op->node, op->token);
		log_info("node joined node=%s client=%s", op->node, op->req->remote_addr);
		http_respond_json(op->req, op->code,
				  json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "apiVersion", "minik8s.io/v1",
					    "kind", "NodeCredential", "nodeName", op->node, "token", op->token,
					    "kubeletToken", op->kubelet_token, "kubeletCert", op->cert_pem,
					    "kubeletKey", op->key_pem));
	} else {
		http_respond_status(op->req, 500, "InternalError",
				    "cannot store the credential of node \"%s\"; check the apiserver's log", op->node);
	}
	http_request_unref(op->req);
	free(op->token);
	free(op->kubelet_token);
	free(op->cert_pem);
	free(op->key_pem);
	free(op);
}

#define MAX_ADDRESSES 8

/* The kubelet certificate's names: the node name and the addresses the node
 * sent (IPs or DNS names). NULL with *bad set when one is not acceptable. */
static const char **cert_sans(const char *node, const json_t *addrs, const char **bad)
{
	const char **sans = xcalloc(MAX_ADDRESSES + 2, sizeof(*sans));
	size_t i, n = 0;
	const json_t *a;
	unsigned char buf[16];

	sans[n++] = node;
	if (addrs && !json_is_array(addrs)) {
		*bad = "addresses: Invalid value: must be a list of IP addresses or DNS names";
		free(sans);
		return NULL;
	}
	if (json_array_size(addrs) > MAX_ADDRESSES) {
		*bad = "addresses: Too many: at most 8";
		free(sans);
		return NULL;
	}
	json_array_foreach(addrs, i, a) {
		const char *s = json_string_value(a);
		if (!s || (inet_pton(AF_INET, s, buf) != 1 && inet_pton(AF_INET6, s, buf) != 1 &&
			   check_dns1123_subdomain(s))) {
			*bad = "addresses: Invalid value: each must be an IP address or a DNS name";
			free(sans);
			return NULL;
		}
		sans[n++] = s;
	}
	return sans;
}

/* Seconds since the node's Lease was renewed, or -1 without one. */
static long lease_age(struct apiserver *as, const char *node)
{
	char *key = storage_key(&kind_lease, "kube-node-lease", node);
	const json_t *lease = store_get(as->store, key);
	const char *renew = obj_str(lease, "spec.renewTime");
	time_t t;

	free(key);
	if (!renew || time_parse_rfc3339(renew, &t) < 0)
		return -1;
	return (long)(time(NULL) - t);
}

void handle_join(struct apiserver *as, struct http_request *req, const struct identity *who)
{
	json_error_t err;
	json_t *body, *secret;
	const char *name, *bad, **sans;
	const json_t *existing;
	struct join_op *op;
	char secret_name[300], *key, *t64, *k64, *ca_dir, *cn;
	long age;

	if (strcmp(req->method, "POST")) {
		http_respond_status(req, 405, "MethodNotAllowed", "join with POST /minik8s/v1/join");
		return;
	}
	if (!who->bootstrap && !who->admin && !who->node[0]) {
		http_respond_status(req, 403, "Forbidden", "joining needs the cluster's join token (see `minik8s token`)");
		return;
	}
	body = json_loadb(req->body, req->body_len, 0, &err);
	name = obj_str(body, "nodeName");
	if (!name || (bad = check_dns1123_subdomain(name))) {
		http_respond_status(req, 422, "Invalid", "nodeName: Invalid value: \"%s\": %s", name ? name : "",
				    name ? bad : "a node name is required");
		json_decref(body);
		return;
	}
	if (who->node[0] && strcmp(who->node, name)) {
		http_respond_status(req, 403, "Forbidden", "the credential of node \"%s\" cannot join as \"%s\"",
				    who->node, name);
		json_decref(body);
		return;
	}
	if (!(sans = cert_sans(name, json_object_get(body, "addresses"), &bad))) {
		http_respond_status(req, 422, "Invalid", "%s", bad);
		json_decref(body);
		return;
	}
	snprintf(secret_name, sizeof(secret_name), "%s%s", NODE_CREDENTIAL_PREFIX, name);
	key = storage_key(&kind_secret, "kube-system", secret_name);
	existing = store_get(as->store, key);
	if (existing && !who->node[0] && !who->admin && (age = lease_age(as, name)) >= 0 &&
	    age < LIVE_LEASE_SECONDS) {
		http_respond_status(req, 409, "Conflict",
				    "node name \"%s\" is held by a live node (its lease was renewed %lds ago); choose "
				    "another --node-name, or stop that node first", name, age);
		json_decref(body);
		free(sans);
		free(key);
		return;
	}

	op = xcalloc(1, sizeof(*op));
	ca_dir = xasprintf("%s/pki", as->cfg.data_dir);
	cn = xasprintf("system:node:%s", name);
	if (pki_issue_pem(ca_dir, cn, sans, "server", &op->cert_pem, &op->key_pem) < 0) {
		http_respond_status(req, 500, "InternalError",
				    "cannot issue the kubelet certificate of node \"%s\"; check the apiserver's log", name);
		free(ca_dir);
		free(cn);
		free(sans);
		free(op);
		json_decref(body);
		free(key);
		return;
	}
	free(ca_dir);
	free(cn);
	free(sans);
	op->as = as;
	op->req = req;
	http_request_ref(req);
	snprintf(op->node, sizeof(op->node), "%s", name);
	op->token = pki_random_token(16);
	op->kubelet_token = pki_random_token(16);
	op->code = existing ? 200 : 201;
	t64 = b64(op->token);
	k64 = b64(op->kubelet_token);
	secret = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind",
			   "Secret", "metadata", "name", secret_name, "namespace", "kube-system", "labels",
			   "minik8s.io/node", name, "type", "minik8s.io/node-credential", "data", "token", t64,
			   "kubeletToken", k64);
	free(t64);
	free(k64);
	if (existing) {
		json_object_set(json_object_get(secret, "metadata"), "uid", obj_get(existing, "metadata.uid"));
		json_object_set(json_object_get(secret, "metadata"), "creationTimestamp",
				obj_get(existing, "metadata.creationTimestamp"));
		store_update(as->store, key, secret, 0, join_done, op);
	} else {
		admit_create(as, &kind_secret, secret);
		store_create(as->store, key, secret, join_done, op);
	}
	json_decref(body);
	free(key);
}
