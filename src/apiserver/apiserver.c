/*
 * The API server's frame: startup (certificates, tokens, storage,
 * allocators, the objects every cluster has from its first start), the
 * route from an HTTP request to discovery or a resource handler, and
 * housekeeping (expiring Events). The request handlers themselves are in
 * handlers.c and watch.c.
 */
#include "apiserver/apiserver.h"
#include "apiserver/pki.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/object.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUSEKEEPING_INTERVAL_MS 30000
#define TRIM_INTERVAL_MS 5000

/* ---- routing ------------------------------------------------------------- */

/* Splits the decoded path into at most max segments. Returns the count, or
 * -1 for more segments than that. Empty segments (a//b, trailing /) are
 * skipped, as Kubernetes' router does. */
static int split_path(char *path, char **seg, int max)
{
	int n = 0;

	for (char *p = strtok(path, "/"); p; p = strtok(NULL, "/")) {
		if (n == max)
			return -1;
		seg[n++] = p;
	}
	return n;
}

static bool copy_seg(char *dst, size_t len, const char *src)
{
	if (strlen(src) >= len)
		return false;
	memcpy(dst, src, strlen(src) + 1);
	return true;
}

static void respond_unknown_resource(struct http_request *req, const char *group, const char *resource)
{
	char name[160];
	const char *unsupported;

	snprintf(name, sizeof(name), "%s%s%s", resource, group[0] ? "." : "", group);
	unsupported = kind_unsupported(name);
	if (!unsupported && !group[0])
		unsupported = kind_unsupported(resource);
	if (unsupported)
		http_respond_status(req, 404, "NotFound",
				    "the server could not find the requested resource: %s is not supported by minik8s "
				    "(it serves namespaces, pods, services, endpoints, nodes, events, configmaps, "
				    "secrets, deployments, replicasets and leases)", unsupported);
	else
		http_respond_status(req, 404, "NotFound", "the server could not find the requested resource: no "
				    "resource \"%s\" in %s", resource, group[0] ? group : "the core API group");
}

/* Parses /api/v1/... and /apis/<g>/<v>/... into p. Returns 1 when p is a
 * resource path, 0 when it is not one of ours, -1 after answering. */
static int parse_resource_path(struct http_request *req, struct api_path *p)
{
	char *copy = xstrdup(req->path), *seg[10];
	int n = split_path(copy, seg, 10), i, rc = 0;

	memset(p, 0, sizeof(*p));
	if (n < 3)
		goto out;
	if (!strcmp(seg[0], "api") && !strcmp(seg[1], "v1")) {
		i = 2;
	} else if (!strcmp(seg[0], "apis") && n >= 4) {
		if (!copy_seg(p->group, sizeof(p->group), seg[1]))
			goto out;
		i = 3;
	} else {
		goto out;
	}
	copy_seg(p->version, sizeof(p->version), seg[i - 1]);

	/* namespaces/<ns>/<resource>..., except the Namespace's own subresources */
	if (!strcmp(seg[i], "namespaces") && !p->group[0] && n - i >= 3 && strcmp(seg[i + 2], "status") &&
	    strcmp(seg[i + 2], "finalize")) {
		p->has_namespace = true;
		if (!copy_seg(p->namespace, sizeof(p->namespace), seg[i + 1]))
			goto bad;
		i += 2;
	} else if (!strcmp(seg[i], "namespaces") && p->group[0] && n - i >= 3) {
		p->has_namespace = true;
		if (!copy_seg(p->namespace, sizeof(p->namespace), seg[i + 1]))
			goto bad;
		i += 2;
	}
	if (n - i > 3)
		goto bad;
	if (!copy_seg(p->resource, sizeof(p->resource), seg[i]) ||
	    (n - i >= 2 && !copy_seg(p->name, sizeof(p->name), seg[i + 1])) ||
	    (n - i == 3 && !copy_seg(p->subresource, sizeof(p->subresource), seg[i + 2])))
		goto bad;

	p->kind = kind_by_resource(p->group, p->version, p->resource);
	if (!p->kind) {
		respond_unknown_resource(req, p->group, p->resource);
		rc = -1;
		goto out;
	}
	if (p->has_namespace && !p->kind->namespaced) {
		http_respond_status(req, 404, "NotFound", "the server could not find the requested resource: %s are not "
				    "namespaced", p->kind->plural);
		rc = -1;
		goto out;
	}
	if (p->kind->namespaced && !p->has_namespace && p->name[0]) {
		http_respond_status(req, 404, "NotFound", "the server could not find the requested resource: %s are "
				    "namespaced; use /namespaces/<namespace>/%s/%s", p->kind->plural, p->kind->plural,
				    p->name);
		rc = -1;
		goto out;
	}
	rc = 1;
	goto out;
bad:
	http_respond_status(req, 404, "NotFound", "the server could not find the requested resource");
	rc = -1;
out:
	free(copy);
	return rc;
}

static void respond_text(struct http_request *req, int code, const char *text)
{
	http_respond(req, code, "text/plain; charset=utf-8", text, strlen(text));
}

void apiserver_handle(struct http_request *req, void *data)
{
	struct apiserver *as = data;
	struct identity who;
	struct api_path p;
	int rc;

	log_debug("request method=%s url=%s client=%s", req->method, req->url, req->remote_addr);
	if (as->stopping) {
		http_respond_status(req, 503, "ServiceUnavailable", "the apiserver is shutting down");
		return;
	}
	/* What answers without a token. */
	if (!strcmp(req->path, "/healthz") || !strcmp(req->path, "/livez")) {
		respond_text(req, 200, "ok");
		return;
	}
	if (!strcmp(req->path, "/readyz")) {
		respond_text(req, as->ready ? 200 : 500, as->ready ? "ok" : "bootstrap objects not yet written");
		return;
	}
	if (!strcmp(req->path, "/version") && handle_discovery(as, req))
		return;
	if (!strcmp(req->path, "/cacerts")) {
		http_respond(req, 200, "application/x-pem-file", as->ca_pem, as->ca_pem_len);
		return;
	}
	if (!auth_authenticate(as->auth, req, &who)) {
		http_respond_status(req, 401, "Unauthorized",
				    "Unauthorized: a valid bearer token is required (see <data-dir>/admin.kubeconfig)");
		return;
	}
	if (!strcmp(req->path, "/minik8s/v1/join")) {
		handle_join(as, req, &who);
		return;
	}
	if (who.bootstrap) {
		http_respond_status(req, 403, "Forbidden", "the join token only allows POST /minik8s/v1/join; "
				    "use the credential it returns");
		return;
	}
	if (handle_discovery(as, req))
		return;
	rc = parse_resource_path(req, &p);
	if (rc < 0)
		return;
	if (rc == 0) {
		http_respond_status(req, 404, "NotFound", "the server could not find the requested resource: %s",
				    req->path);
		return;
	}
	if (!who.admin && authorize_node(as, req, &p, &who) < 0)
		return;
	handle_resource(as, req, &p, &who);
}

/* ---- bootstrap ----------------------------------------------------------- */

static int take_service(const char *key, const json_t *svc, void *data)
{
	struct apiserver *as = data;
	const char *ip = obj_str(svc, "spec.clusterIP");
	size_t i;
	json_t *port;

	(void)key;
	if (ip && strcmp(ip, "None") && allocator_take(as->cluster_ips, ip) < 0)
		log_warn("service holds an address outside or twice in the range service=%s ip=%s",
			 obj_name(svc), ip);
	json_array_foreach(obj_get(svc, "spec.ports"), i, port) {
		char buf[24];
		if (!obj_int(port, "nodePort", 0))
			continue;
		snprintf(buf, sizeof(buf), "%lld", (long long)obj_int(port, "nodePort", 0));
		allocator_take(as->node_ports, buf);
	}
	return 0;
}

struct bootstrap {
	struct apiserver *as;
	int pending;
};

static void bootstrap_done(int status, struct store_obj *o, bool unchanged, void *data)
{
	struct bootstrap *b = data;
	const json_t *obj = o ? store_obj_tree(o) : NULL;

	(void)unchanged;
	if (status && status != STORE_EEXISTS)
		log_error("cannot write bootstrap object %s/%s: status=%d", obj_namespace(obj) ?: "",
			  obj ? obj_name(obj) : "?", status);
	if (--b->pending == 0) {
		b->as->ready = true;
		log_info("apiserver ready");
		free(b);
	}
}

/* Creates obj (stolen) unless it exists; replaces it when replace is set
 * and it differs in the fields given. */
static void ensure_object(struct bootstrap *b, const struct kind *k, json_t *obj, bool replace)
{
	struct apiserver *as = b->as;
	char *key = storage_key(k, obj_namespace(obj), obj_name(obj));
	const json_t *cur = store_get(as->store, key);

	if (cur && !replace) {
		json_decref(obj);
		goto out;
	}
	if (cur) {
		json_t *merged = json_deep_copy(cur);
		const char *f;
		json_t *v;
		json_object_foreach(obj, f, v) if (strcmp(f, "metadata")) json_object_set(merged, f, v);
		json_decref(obj);
		b->pending++;
		store_update(as->store, key, merged, obj_rv(cur), bootstrap_done, b);
		goto out;
	}
	admit_create(as, k, obj);
	if (k == &kind_service && admit_service(as, NULL, obj, NULL) < 0) {
		log_error("cannot allocate the addresses of bootstrap service %s", obj_name(obj));
		json_decref(obj);
		goto out;
	}
	b->pending++;
	store_create(as->store, key, obj, bootstrap_done, b);
out:
	free(key);
}

static void bootstrap_objects(struct apiserver *as)
{
	static const char *const namespaces[] = { "default", "kube-system", "kube-public", "kube-node-lease" };
	struct bootstrap *b = xcalloc(1, sizeof(*b));

	b->as = as;
	b->pending = 1;
	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++)
		ensure_object(b, &kind_namespace,
			      json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
					"name", namespaces[i]),
			      false);
	ensure_object(b, &kind_service,
		      json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{s:s, s:s, s:[{s:s, s:i, s:s, s:i}]}}",
				"apiVersion", "v1", "kind", "Service", "metadata", "name", "kubernetes", "namespace",
				"default", "labels", "component", "apiserver", "provider", "kubernetes", "spec", "type",
				"ClusterIP", "clusterIP", "10.96.0.1", "ports", "name", "https", "port", 443, "protocol",
				"TCP", "targetPort", as->cfg.secure_port),
		      false);
	/* The apiserver keeps this pointing at itself, as Kubernetes'
	 * endpoint reconciler does. */
	ensure_object(b, &kind_endpoints,
		      json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:[{s:[{s:s}], s:[{s:s, s:i, s:s}]}]}",
				"apiVersion", "v1", "kind", "Endpoints", "metadata", "name", "kubernetes", "namespace",
				"default", "labels", "endpointslice.kubernetes.io/skip-mirror", "true", "subsets",
				"addresses", "ip", as->self_address, "ports", "name", "https", "port",
				as->cfg.secure_port, "protocol", "TCP"),
		      true);
	ensure_object(b, &kind_service,
		      json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s}}, s:{s:s, s:s, s:[{s:s, s:i, s:s, s:i},"
				"{s:s, s:i, s:s, s:i}]}}",
				"apiVersion", "v1", "kind", "Service", "metadata", "name", "kube-dns", "namespace",
				"kube-system", "labels", "k8s-app", "kube-dns", "kubernetes.io/name", "KubeDNS",
				"kubernetes.io/cluster-service", "true",
				"spec", "type", "ClusterIP", "clusterIP", "10.96.0.10", "ports", "name", "dns", "port",
				53, "protocol", "UDP", "targetPort", 53, "name", "dns-tcp", "port", 53, "protocol",
				"TCP", "targetPort", 53),
		      false);
	bootstrap_done(0, NULL, false, b);
}

/* ---- housekeeping -------------------------------------------------------- */

struct expire_ctx {
	struct apiserver *as;
	time_t cutoff;
	json_t *keys;
};

static int find_expired_event(const char *key, const json_t *ev, void *data)
{
	struct expire_ctx *c = data;
	const char *ts = obj_str(ev, "lastTimestamp");
	time_t t;

	if (!ts || !*ts)
		ts = obj_str(ev, "eventTime");
	if (!ts || !*ts)
		ts = obj_str(ev, "metadata.creationTimestamp");
	if (ts && time_parse_rfc3339(ts, &t) == 0 && t < c->cutoff)
		json_array_append_new(c->keys, json_string(key));
	return 0;
}

static void on_expired_deleted(int status, struct store_obj *obj, bool unchanged, void *data)
{
	(void)status;
	(void)obj;
	(void)unchanged;
	(void)data;
}

static void on_housekeeping(uv_timer_t *t)
{
	struct apiserver *as = t->data;
	struct expire_ctx c = { as, time(NULL) - (time_t)(as->cfg.event_ttl_ms / 1000), json_array() };
	char *prefix = storage_prefix(&kind_event, NULL);
	size_t i;
	json_t *k;

	store_list_trees(as->store, prefix, find_expired_event, &c);
	json_array_foreach(c.keys, i, k)
		store_delete(as->store, json_string_value(k), 0, on_expired_deleted, NULL);
	if (json_array_size(c.keys))
		log_info("expired events count=%zu ttl=%llds", json_array_size(c.keys),
			 (long long)(as->cfg.event_ttl_ms / 1000));
	json_decref(c.keys);
	free(prefix);
}

/*
 * malloc keeps what the program frees for its next allocations, also after
 * a burst that will not come back (a namespace of 30,000 pods deleted, a
 * big list answered): this process would stay at its peak size. Every few
 * seconds the allocator hands its free pages back (src/core/memory.h).
 */
static void on_trim(uv_timer_t *t)
{
	(void)t;
	if (memory_release() < 0)
		log_warn("cannot return freed memory to the system allocator=%s", memory_allocator());
}

/* ---- start and stop ------------------------------------------------------ */

/* The address other machines reach this one at: --advertise-address, else
 * the first IPv4 address of an interface that is up and not loopback. */
static void pick_self_address(struct apiserver *as)
{
	struct ifaddrs *ifs, *i;

	snprintf(as->self_address, sizeof(as->self_address), "127.0.0.1");
	if (as->cfg.advertise_address && *as->cfg.advertise_address) {
		snprintf(as->self_address, sizeof(as->self_address), "%s", as->cfg.advertise_address);
		return;
	}
	if (getifaddrs(&ifs) < 0)
		return;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_flags & IFF_LOOPBACK) || !strncmp(i->ifa_name, "minik8s", 7) ||
		    !strncmp(i->ifa_name, "docker", 6) || !strncmp(i->ifa_name, "br-", 3) ||
		    !strncmp(i->ifa_name, "veth", 4))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, as->self_address,
			  sizeof(as->self_address));
		break;
	}
	freeifaddrs(ifs);
}

int apiserver_start(struct apiserver *as, uv_loop_t *loop)
{
	struct apiserver_config *cfg = &as->cfg;
	char *pki_dir = NULL, *path = NULL;
	struct pki_options popt = { 0 };
	struct store_options sopt = { 0 };
	struct http_server_config hc = { 0 };
	int rc = -1, err;

	as->loop = loop;
	if ((err = mkdir_p(cfg->data_dir, 0700)) < 0) {
		error("cannot create data dir '%s': %s; choose another with --data-dir", cfg->data_dir,
		      strerror(-err));
		goto out;
	}
	pick_self_address(as);

	pki_dir = xasprintf("%s/pki", cfg->data_dir);
	popt.dir = pki_dir;
	popt.sans = (const char *const *)cfg->tls_sans.items;
	if (cfg->tls_sans.n) {
		cfg->tls_sans.items = xrealloc(cfg->tls_sans.items, sizeof(char *) * (size_t)(cfg->tls_sans.n + 1));
		cfg->tls_sans.items[cfg->tls_sans.n] = NULL;
		popt.sans = (const char *const *)cfg->tls_sans.items;
	}
	if (pki_ensure(&popt) < 0)
		goto out;
	if (!(as->auth = auth_new(cfg->data_dir)))
		goto out;
	path = xasprintf("%s/ca.crt", pki_dir);
	if ((err = read_file(path, &as->ca_pem, &as->ca_pem_len)) < 0) {
		error("cannot read '%s': %s", path, strerror(-err));
		goto out;
	}
	free(path);
	path = NULL;
	if (!cfg->insecure_plain_http) {
		char *crt = xasprintf("%s/server.crt", pki_dir), *key = xasprintf("%s/server.key", pki_dir);
		as->tls = pki_server_ctx(crt, key);
		free(crt);
		free(key);
		if (!as->tls)
			goto out;
	}

	path = xasprintf("%s/state.db", cfg->data_dir);
	sopt.path = path;
	sopt.watch_window = cfg->watch_cache_size > 0 ? (size_t)cfg->watch_cache_size : 0;
	if (store_open(&as->store, loop, &sopt) < 0)
		goto out;

	as->cluster_ips = allocator_new_cidr(cfg->service_cluster_ip_range);
	if (!as->cluster_ips) {
		error("invalid --service-cluster-ip-range '%s': want an IPv4 CIDR such as 10.96.0.0/12",
		      cfg->service_cluster_ip_range);
		goto out;
	}
	as->node_ports = allocator_new_range(cfg->service_node_port_range);
	if (!as->node_ports) {
		error("invalid --service-node-port-range '%s': want a range such as 30000-32767",
		      cfg->service_node_port_range);
		goto out;
	}
	{
		char *prefix = storage_prefix(&kind_service, NULL);
		store_list_trees(as->store, prefix, take_service, as);
		free(prefix);
	}
	auth_load_node_tokens(as->auth, as->store);

	hc.bind_address = cfg->bind_address;
	hc.port = cfg->secure_port;
	hc.tls = as->tls;
	hc.handler = apiserver_handle;
	hc.handler_data = as;
	if ((err = http_server_start(&as->http, loop, &hc)) < 0) {
		error("cannot listen on %s:%d: %s; is another apiserver running? choose a port with --secure-port",
		      cfg->bind_address, cfg->secure_port, uv_strerror(err));
		goto out;
	}
	cfg->secure_port = http_server_port(as->http);
	/* After listening, so the kubernetes Endpoints carry the real port
	 * even when --secure-port 0 picked one. /readyz says 500 until then. */
	bootstrap_objects(as);
	uv_timer_init(loop, &as->housekeeping);
	as->housekeeping.data = as;
	{
		/* Often enough that an Event outlives its TTL by at most half of it. */
		uint64_t every = HOUSEKEEPING_INTERVAL_MS;
		if (cfg->event_ttl_ms / 2 < (int64_t)every)
			every = cfg->event_ttl_ms / 2 > 500 ? (uint64_t)cfg->event_ttl_ms / 2 : 500;
		uv_timer_start(&as->housekeeping, on_housekeeping, every, every);
	}
	uv_timer_init(loop, &as->trim);
	uv_timer_start(&as->trim, on_trim, TRIM_INTERVAL_MS, TRIM_INTERVAL_MS);
	log_info("apiserver listening address=%s:%d data-dir=%s", cfg->bind_address, cfg->secure_port,
		 cfg->data_dir);
	rc = 0;
out:
	free(pki_dir);
	free(path);
	return rc;
}

struct stop_ctx {
	struct apiserver *as;
	void (*cb)(void *data);
	void *data;
	int pending;
};

static void stop_step_done(void *data)
{
	struct stop_ctx *sc = data;

	if (--sc->pending > 0)
		return;
	allocator_free(sc->as->cluster_ips);
	allocator_free(sc->as->node_ports);
	auth_free(sc->as->auth);
	if (sc->as->tls)
		SSL_CTX_free(sc->as->tls);
	free(sc->as->ca_pem);
	sc->as->cluster_ips = sc->as->node_ports = NULL;
	sc->as->auth = NULL;
	sc->as->tls = NULL;
	sc->as->ca_pem = NULL;
	if (sc->cb)
		sc->cb(sc->data);
	free(sc);
}

static void on_housekeeping_closed(uv_handle_t *h)
{
	stop_step_done(h->data);
}

static void on_http_closed(void *data)
{
	struct stop_ctx *sc = data;

	/* The store closes last: in-flight writes finish and answer first. */
	if (sc->as->store) {
		sc->pending++;
		store_close(sc->as->store, stop_step_done, sc);
		sc->as->store = NULL;
	}
	stop_step_done(sc);
}

void apiserver_stop(struct apiserver *as, void (*cb)(void *data), void *data)
{
	struct stop_ctx *sc = xcalloc(1, sizeof(*sc));

	sc->as = as;
	sc->cb = cb;
	sc->data = data;
	sc->pending = 1;
	as->stopping = true;
	watch_hub_close(as);
	sc->pending++;
	pod_logs_close(as, stop_step_done, sc);
	if (uv_is_active((uv_handle_t *)&as->housekeeping) || as->housekeeping.loop) {
		sc->pending++;
		as->housekeeping.data = sc;
		uv_close((uv_handle_t *)&as->housekeeping, on_housekeeping_closed);
	}
	if (as->trim.loop) {
		sc->pending++;
		as->trim.data = sc;
		uv_close((uv_handle_t *)&as->trim, on_housekeeping_closed);
	}
	if (as->http) {
		http_server_close(as->http, on_http_closed, sc);
		as->http = NULL;
	} else {
		on_http_closed(sc);
	}
}
