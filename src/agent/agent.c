/*
 * `minik8s agent`: a node for a control plane elsewhere. It checks what it
 * needs, joins the cluster with the token `minik8s server` printed, then
 * runs the kubelet and the proxy on one loop, as the node's own identity.
 * `minik8s server` runs the same component over loopback, through the same
 * join, so the one-machine cluster's node is no different from any other.
 *
 *   preflight: the Docker Engine answers, IP forwarding is on
 *   GET  <server>/cacerts (no trust yet) --> sha256 must match the token's hash
 *   POST <server>/minik8s/v1/join (CA now trusted), bearer: the join secret,
 *        or this node's own credential when it has one from an earlier join
 *   write <data-dir>/agent/: ca.crt, node.kubeconfig, kubelet.token,
 *        kubelet.crt, kubelet.key
 *   start the kubelet, the proxy and the pod-network routes (hostgw.c)
 *
 * The join is plain blocking libcurl inside start(): nothing else runs on
 * this loop yet, and an agent that cannot join has nothing to do. The
 * server therefore starts this component with component_thread_spawn().
 */
#include "agent/agent.h"
#include "agent/hostgw.h"
#include "apiserver/pki.h"
#include "client/kubeconfig.h"
#include "core/component.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"
#include "kubelet/kubelet.h"
#include "proxy/proxy.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JOIN_RETRY_MS 2000
#define HTTP_TIMEOUT_S 10L

static char *flag_server;
static char *flag_token;
static char *flag_data_dir;
static int64_t flag_join_timeout_ms = 120000;

static const struct flag agent_flags[] = {
	{ "server", FLAG_STRING, &flag_server, "the apiserver to join: https://HOST:6443" },
	{ "token", FLAG_STRING, &flag_token, "the join token `minik8s server` printed (`minik8s token` shows it again)" },
	{ "data-dir", FLAG_STRING, &flag_data_dir,
	  "where the node's credential and the kubelet's files live (default /var/lib/minik8s as root, "
	  "else ~/.minik8s/data)" },
	{ "join-timeout", FLAG_DURATION, &flag_join_timeout_ms,
	  "how long to keep trying an apiserver that does not answer (default 2m)" },
	{ NULL, 0, NULL, NULL },
};

void agent_set_join(const char *server, const char *token, const char *data_dir)
{
	if (!flag_data_dir || !*flag_data_dir)
		flag_data_dir = xstrdup(data_dir);
	if (!flag_server || !*flag_server)
		flag_server = xstrdup(server); /* flag storage: lives as long as the process */
	if (!flag_token || !*flag_token)
		flag_token = xstrdup(token);
}

/* ---- the agent's files ---------------------------------------------------- */

struct agent_files {
	char *dir;        /* <data-dir>/agent */
	char *ca;         /* ca.crt */
	char *kubeconfig; /* node.kubeconfig: this node's identity */
	char *kubelet_token, *kubelet_crt, *kubelet_key;
};

static void files_init(struct agent_files *f, const char *data_dir)
{
	f->dir = xasprintf("%s/agent", data_dir);
	f->ca = xasprintf("%s/ca.crt", f->dir);
	f->kubeconfig = xasprintf("%s/node.kubeconfig", f->dir);
	f->kubelet_token = xasprintf("%s/kubelet.token", f->dir);
	f->kubelet_crt = xasprintf("%s/kubelet.crt", f->dir);
	f->kubelet_key = xasprintf("%s/kubelet.key", f->dir);
}

static void files_release(struct agent_files *f)
{
	free(f->dir);
	free(f->ca);
	free(f->kubeconfig);
	free(f->kubelet_token);
	free(f->kubelet_crt);
	free(f->kubelet_key);
}

/* ---- blocking HTTPS with libcurl ------------------------------------------ */

struct http_result {
	long status;     /* 0 when no answer came */
	struct strbuf body;
	char err[CURL_ERROR_SIZE];
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	strbuf_add(arg, p, size * n);
	return size * n;
}

/* One request. ca (PEM) NULL means "do not verify yet" (only for /cacerts,
 * whose answer is checked against the token's hash before any use). */
static void http_call(const char *url, const char *ca, const char *bearer, const char *post, struct http_result *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char *auth = NULL;
	CURLcode rc;

	r->status = 0;
	r->err[0] = '\0';
	strbuf_init(&r->body, 1024);
	if (!c) {
		snprintf(r->err, sizeof(r->err), "cannot initialise libcurl");
		return;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, HTTP_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, HTTP_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	if (ca) {
		struct curl_blob blob = { (void *)ca, strlen(ca), CURL_BLOB_COPY };
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	} else {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (bearer) {
		auth = xasprintf("Authorization: Bearer %s", bearer);
		h = curl_slist_append(h, auth);
	}
	if (post) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else if (!r->err[0])
		snprintf(r->err, sizeof(r->err), "%s", curl_easy_strerror(rc));
	curl_slist_free_all(h);
	free(auth);
	curl_easy_cleanup(c);
}

/* The "message" of a Kubernetes Status body, or the body itself. */
static char *status_message(const struct http_result *r)
{
	json_t *j = json_loadb(r->body.buf, r->body.len, 0, NULL);
	const char *m = obj_str(j, "message");
	char *out = xstrdup(m ? m : r->body.len ? r->body.buf : "(empty answer)");

	json_decref(j);
	return out;
}

/* ---- preflight ------------------------------------------------------------- */

static int preflight(void)
{
	char *sock = kubelet_docker_socket(), *fwd = NULL;
	CURL *c = curl_easy_init();
	struct strbuf body;
	long status = 0;
	size_t len;
	int rc = 0;

	strbuf_init(&body, 16);
	if (c) {
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
		curl_easy_setopt(c, CURLOPT_URL, "http://docker/_ping");
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(c);
	}
	if (status != 200)
		rc = error("preflight: the Docker Engine does not answer on %s: start it (`systemctl start docker`, "
			   "or `dockerd &`) or point --docker-host at its socket", sock);
	if (read_file("/proc/sys/net/ipv4/ip_forward", &fwd, &len) == 0 && fwd[0] == '0')
		log_warn("preflight: IP forwarding is off, so pods of other nodes cannot reach this node's pods: "
			 "run `sysctl -w net.ipv4.ip_forward=1` (dockerd turns it on when it starts)");
	strbuf_release(&body);
	free(fwd);
	free(sock);
	return rc;
}

/* ---- joining ---------------------------------------------------------------- */

/* "K10<hex>::node:<secret>" --> hash and secret (pointers into a copy). */
static int parse_token(const char *token, char **copy, const char **hash, const char **secret)
{
	char *sep;

	*copy = xstrdup(token);
	sep = strstr(*copy, "::node:");
	if (!str_has_prefix(*copy, "K10") || !sep || sep - *copy != 3 + 64 || !sep[7]) {
		free(*copy);
		return error("the join token is not one `minik8s server` makes (K10<64 hex>::node:<secret>): "
			     "copy it again from `minik8s token` on the server");
	}
	*sep = '\0';
	*hash = *copy + 3;
	*secret = sep + 7;
	return 0;
}

/* GET /cacerts until the server answers or the join timeout passes; checks
 * the CA against the token's hash. Returns the CA (PEM) or NULL. */
static char *fetch_ca(const char *server, const char *want_hash)
{
	char *url = xasprintf("%s/cacerts", server), *ca = NULL, *got;
	uint64_t deadline = now_ms() + (uint64_t)flag_join_timeout_ms;
	struct http_result r;
	bool said = false;

	for (;;) {
		http_call(url, NULL, NULL, NULL, &r);
		if (r.status == 200)
			break;
		if (r.status) {
			error("%s answered %ld to GET /cacerts: is that a minik8s apiserver? Check --server", server,
			      r.status);
			goto out;
		}
		if (now_ms() >= deadline) {
			error("cannot reach the apiserver at %s: %s. Is `minik8s server` running there, and is its port "
			      "open from this machine? (gave up after --join-timeout)", server, r.err);
			goto out;
		}
		if (!said)
			log_info("waiting for the apiserver server=%s error=\"%s\"", server, r.err);
		said = true;
		strbuf_release(&r.body);
		usleep(JOIN_RETRY_MS * 1000);
	}
	got = pki_ca_hash_pem(r.body.buf, r.body.len);
	if (!got || strcmp(got + strlen("sha256:"), want_hash)) {
		error("the CA that %s presents does not match the join token: this is not the cluster the token "
		      "belongs to (or someone is in between); check --server and --token", server);
		free(got);
		goto out;
	}
	free(got);
	ca = strbuf_detach(&r.body, NULL);
out:
	strbuf_release(&r.body);
	free(url);
	return ca;
}

/* The credential this node was given by an earlier join, if any. */
static char *saved_credential(const struct agent_files *f, const char *server)
{
	struct kubeconfig *kc = NULL;
	char *tok = NULL;

	if (access(f->kubeconfig, R_OK) < 0 || kubeconfig_load(f->kubeconfig, NULL, &kc, NULL) < 0)
		return NULL;
	if (kc->token && kc->server && !strcmp(kc->server, server))
		tok = xstrdup(kc->token);
	kubeconfig_free(kc);
	return tok;
}

static int write_secret(const char *path, const char *text, unsigned mode)
{
	int rc = write_file_atomic(path, text, strlen(text), mode);

	if (rc < 0)
		return error("cannot write '%s': %s", path, strerror(-rc));
	return 0;
}

static int save_credential(const struct agent_files *f, const char *server, const char *ca, const json_t *cred)
{
	const char *token = obj_str(cred, "token"), *ktoken = obj_str(cred, "kubeletToken");
	const char *crt = obj_str(cred, "kubeletCert"), *key = obj_str(cred, "kubeletKey");
	struct kubeconfig *kc;
	struct strbuf err;
	int rc;

	if (!token || !ktoken || !crt || !key)
		return error("the apiserver's join answer lacks the node credential: is it the same minik8s version?");
	if (write_secret(f->ca, ca, 0644) < 0 || write_secret(f->kubelet_token, ktoken, 0600) < 0 ||
	    write_secret(f->kubelet_key, key, 0600) < 0 || write_secret(f->kubelet_crt, crt, 0644) < 0)
		return -1;
	kc = kubeconfig_new(server, token);
	kubeconfig_set_ca(kc, ca, strlen(ca));
	strbuf_init(&err, 0);
	rc = kubeconfig_write(kc, f->kubeconfig, &err);
	if (rc < 0)
		error("%s", err.buf);
	strbuf_release(&err);
	kubeconfig_free(kc);
	return rc;
}

/* A name the certificate can carry as a DNS SAN: lowercase letters, digits,
 * '-' and '.' (the apiserver checks it properly). */
static bool dns_name(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return false;
	return true;
}

static int join(const struct agent_files *f, const char *server, const char *token, const char *node,
		const char *node_ip)
{
	const char *hash = NULL, *secret = NULL;
	char *copy, *ca, *mine, *url, *body, host[256] = "";
	struct http_result r;
	json_t *addrs, *req, *cred;
	int rc = -1;

	if (parse_token(token, &copy, &hash, &secret) < 0)
		return -1;
	if (!(ca = fetch_ca(server, hash))) {
		free(copy);
		return -1;
	}
	addrs = json_pack("[s]", node_ip);
	if (gethostname(host, sizeof(host) - 1) == 0 && *host && strcmp(host, node) && dns_name(host))
		json_array_append_new(addrs, json_string(host));
	req = json_pack("{s:s, s:o}", "nodeName", node, "addresses", addrs);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	url = xasprintf("%s/minik8s/v1/join", server);
	/* The same node coming back presents its own credential, so a restart
	 * is welcome even while its Lease is still fresh. */
	mine = saved_credential(f, server);
	http_call(url, ca, mine ? mine : secret, body, &r);
	if (mine && r.status == 401) {
		/* The cluster forgot us (its data was reset): join afresh. */
		strbuf_release(&r.body);
		http_call(url, ca, secret, body, &r);
	}
	if (r.status == 200 || r.status == 201) {
		cred = json_loadb(r.body.buf, r.body.len, 0, NULL);
		rc = save_credential(f, server, ca, cred);
		json_decref(cred);
		if (rc == 0)
			log_info("joined node=%s server=%s %s", node, server, r.status == 201 ? "new=true" : "again=true");
	} else if (r.status == 401 || r.status == 403) {
		char *m = status_message(&r);
		error("the apiserver refused the join token (%ld: %s): copy it again from `minik8s token` on the "
		      "server", r.status, m);
		free(m);
	} else if (r.status == 409) {
		char *m = status_message(&r);
		error("cannot join as \"%s\": %s", node, m);
		free(m);
	} else if (r.status) {
		char *m = status_message(&r);
		error("join failed (%ld): %s", r.status, m);
		free(m);
	} else {
		error("join failed: %s", r.err);
	}
	strbuf_release(&r.body);
	free(url);
	free(body);
	free(mine);
	free(ca);
	free(copy);
	return rc;
}

/* ---- the component --------------------------------------------------------------- */

enum { PART_KUBELET, PART_PROXY, PART_HOSTGW, NPARTS };

struct agent {
	void *part[NPARTS];
	int running;
	void (*done)(void *);
	void *done_arg;
};

static const struct component *part_component(int i)
{
	return i == PART_KUBELET ? &kubelet_component : i == PART_PROXY ? &proxy_component : &hostgw_component;
}

static void on_part_stopped(void *arg)
{
	struct agent *a = arg;

	if (--a->running > 0)
		return;
	a->done(a->done_arg);
	free(a);
}

static void stop(void *state, void (*done)(void *), void *arg)
{
	struct agent *a = state;

	a->done = done;
	a->done_arg = arg;
	a->running = 0;
	for (int i = 0; i < NPARTS; i++)
		if (a->part[i])
			a->running++;
	if (!a->running) {
		done(arg);
		free(a);
		return;
	}
	for (int i = NPARTS - 1; i >= 0; i--)
		if (a->part[i])
			part_component(i)->stop(a->part[i], on_part_stopped, a);
}

static void on_failed_stop(void *arg)
{
	(void)arg;
}

static int start(uv_loop_t *loop, const char *kubeconfig, void **state)
{
	struct agent_files f;
	struct agent *a;
	char *data_dir, *node, *node_ip;
	int rc = -1;

	(void)kubeconfig; /* the agent's identity is its own node credential */
	data_dir = flag_data_dir && *flag_data_dir ? xstrdup(flag_data_dir) : component_default_data_dir();
	files_init(&f, data_dir);
	node = kubelet_node_name();
	node_ip = kubelet_node_ip();
	if (preflight() < 0)
		goto out;
	if ((rc = mkdir_p(f.dir, 0700)) < 0) {
		rc = error("cannot create '%s': %s", f.dir, strerror(-rc));
		goto out;
	}
	if (flag_server && *flag_server && flag_token && *flag_token) {
		rc = join(&f, flag_server, flag_token, node, node_ip);
	} else if (access(f.kubeconfig, R_OK) == 0) {
		log_info("no --server/--token: running as the node joined before kubeconfig=%s", f.kubeconfig);
		rc = 0;
	} else {
		rc = error("the agent needs --server https://HOST:6443 and --token TOKEN (run `minik8s token` on the "
			   "server to see it)");
	}
	if (rc < 0)
		goto out;

	{
		char *root = xasprintf("%s/kubelet", data_dir);
		struct kubelet_agent_files kf = { root, f.kubelet_token, f.kubelet_crt, f.kubelet_key };
		kubelet_set_agent_files(&kf);
		free(root);
	}
	proxy_set_node_name(node);
	hostgw_set_node_name(node);
	a = xcalloc(1, sizeof(*a));
	for (int i = 0; i < NPARTS; i++) {
		if (part_component(i)->start(loop, f.kubeconfig, &a->part[i]) < 0) {
			error("cannot start the %s of node %s; see the messages above", part_component(i)->name, node);
			stop(a, on_failed_stop, NULL);
			rc = -1;
			goto out;
		}
	}
	log_info("agent running node=%s ip=%s kubeconfig=%s", node, node_ip, f.kubeconfig);
	*state = a;
	rc = 0;
out:
	files_release(&f);
	free(data_dir);
	free(node);
	free(node_ip);
	return rc;
}

static const struct component *const agent_parts[] = { &kubelet_component, &proxy_component, &hostgw_component,
						       NULL };

const struct component agent_component = {
	.name = "agent",
	.usage = "usage: minik8s agent --server https://HOST:6443 --token TOKEN [flags]\n\n"
		 "Joins this machine to a cluster as a node and runs its kubelet (pods on the Docker Engine),\n"
		 "its proxy (Services and cluster DNS) and the routes to other nodes' pods. The token is the\n"
		 "one `minik8s server` printed; `minik8s token` on the server shows it again. Once joined,\n"
		 "the agent restarts without --server and --token. See docs/agent.md.\n",
	.flags = agent_flags,
	.start = start,
	.stop = stop,
	.parts = agent_parts,
	.own_identity = true,
};
