/*
 * `minik8s proxy` (and the proxy thread of `minik8s server` / `agent`): the
 * node agent that makes Services work. It watches Services and Endpoints,
 * puts every ClusterIP on the local interface minik8s0 as a /32, opens
 * listeners on ClusterIP:port (and on each node address for NodePort and
 * LoadBalancer) that forward to the ready endpoints, serves cluster DNS on
 * the kube-dns ClusterIP, and answers :10256/healthz and /metrics. (The
 * LoadBalancer status is the controller manager's: src/controller/servicelb.c.)
 * See docs/networking.md.
 *
 *   services/endpoints informers --key--> workqueue --> sync_service(key)
 *        model (model.c) --> addresses (netif.c) + listeners (forward.c) + DNS table (dns.c)
 *   netlink address events --> node addresses changed --> every service again
 */
#include "proxy/dns.h"
#include "proxy/dnsserver.h"
#include "proxy/forward.h"
#include "proxy/model.h"
#include "proxy/netif.h"
#include "proxy/pmap.h"
#include "proxy/proxy.h"
#include "client/informer.h"
#include "client/kubeconfig.h"
#include "client/rest.h"
#include "client/workqueue.h"
#include "core/component.h"
#include "core/http.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define HOUSEKEEPING_MS 10000
#define ADDR_DEBOUNCE_MS 200
#define DNS_SERVICE_KEY "kube-system/kube-dns"
/* --proxy-threads by default: one forwarding loop per CPU. Nearly all of
 * the proxy's time is the kernel's TCP work inside recv and send, done on
 * the calling thread, so loops on different cores forward in parallel; past
 * a handful, a node of this cluster's size gains nothing but threads. */
#define DEFAULT_THREADS_MAX 8
#define DEFAULT_THREADS_MAX_TEXT "8"

/* ---- flags ------------------------------------------------------------------- */

static char *flag_hostname;
static char *flag_interface;
static char *agent_node_name;
static int flag_healthz_port = 10256;
static char *flag_cluster_dns_ip;
static char *flag_resolv_conf;
static char *flag_dns_domain;
static int flag_max_connections = 10000;
static int flag_proxy_threads;
static int64_t flag_udp_timeout_ms = 10000;
static int64_t flag_dns_forward_timeout_ms = 2000;

static const struct flag proxy_flags[] = {
	{ "hostname-override", FLAG_STRING, &flag_hostname,
	  "name of this node, to find its Node object (default: the host name)" },
	{ "proxy-interface", FLAG_STRING, &flag_interface,
	  "local interface the ClusterIPs go on (default minik8s0; created, and removed on exit)" },
	{ "healthz-port", FLAG_INT, &flag_healthz_port,
	  "port of /healthz and /metrics on 0.0.0.0 (default 10256; 0 picks a free one, -1 turns it off)" },
	{ "cluster-dns-ip", FLAG_STRING, &flag_cluster_dns_ip,
	  "address cluster DNS answers on, port 53 (default: the ClusterIP of kube-system/kube-dns; "
	  "\"none\": no DNS, kube-dns is then proxied like any Service)" },
	{ "resolv-conf", FLAG_STRING, &flag_resolv_conf,
	  "resolv.conf whose nameservers get the names outside the cluster (default /etc/resolv.conf)" },
	{ "dns-domain", FLAG_STRING, &flag_dns_domain, "the cluster's DNS domain (default cluster.local)" },
	{ "proxy-max-connections", FLAG_INT, &flag_max_connections,
	  "TCP connections plus UDP flows the proxy carries at once; more are reset (default 10000)" },
	{ "proxy-threads", FLAG_INT, &flag_proxy_threads,
	  "loops forwarding TCP, each on a thread and with its own listening sockets (default: one per CPU, "
	  "at most " DEFAULT_THREADS_MAX_TEXT "; 1: all on the proxy's own loop, as one thread)" },
	{ "udp-timeout", FLAG_DURATION, &flag_udp_timeout_ms,
	  "how long an idle UDP flow through a Service is kept (default 10s)" },
	{ "dns-forward-timeout", FLAG_DURATION, &flag_dns_forward_timeout_ms,
	  "how long to wait for each upstream resolver before trying the next (default 2s)" },
	{ NULL, 0, NULL, NULL },
};

void proxy_set_node_name(const char *name)
{
	free(agent_node_name);
	agent_node_name = name ? xstrdup(name) : NULL;
}

/* ---- state -------------------------------------------------------------------- */

struct plistener {
	char *key;                /* "TCP/10.96.0.5:80" */
	struct fwd_listener *l;
};

/* What the proxy runs for one Service. */
struct psvc {
	char *key;                 /* "namespace/name" */
	struct fwd_target **targets; /* one per port of the model, in its order */
	char **target_ids;         /* "name/proto" of each, to keep counters across updates */
	size_t ntargets;
	struct plistener *ls;
	size_t nls;
	uint32_t address;          /* the ClusterIP counted on the interface for it, or 0 */
	bool warned;               /* a listener failed: warned once until it works */
};

struct proxy {
	uv_loop_t *loop;
	struct rest_client *rc;
	struct informer *services, *endpoints;
	struct workqueue *q;
	struct fwd_engine *fwd;
	struct dns_server *dns;
	struct dns_db db;
	struct http_server *health;
	struct netif nl;
	char *ifname;
	char ifkind[IFNAMSIZ];
	int ifindex;
	int monfd;
	uv_poll_t mon;          /* on monfd, when address changes can be watched */
	bool mon_open;
	unsigned ticks;
	uv_timer_t housekeeping, addr_debounce;
	char *hostname;

	struct pmap svcs;       /* key -> struct psvc */
	struct pmap listeners;  /* listener key -> owning struct psvc */
	struct pmap addr_refs;  /* "10.96.0.5" -> (uintptr_t) users */
	uint32_t *node_ips;     /* where NodePort and LoadBalancer listen */
	size_t nnode_ips;
	uint32_t primary_ip;    /* this node's address for LoadBalancer status when no Node says otherwise */

	bool dns_enabled, dns_follows_service;
	uint32_t dns_fixed_ip;  /* --cluster-dns-ip, when given */
	uint32_t dns_ip;        /* where DNS is served now */

	bool services_synced, endpoints_synced, started_queue;
	uint64_t last_sync_ms, syncs, sync_errors;

	bool stopping;
	int closing;
	void (*done)(void *arg);
	void *done_arg;
};

static const struct rest_resource services_res = { "", "v1", "services", true };
static const struct rest_resource endpoints_res = { "", "v1", "endpoints", true };

static void ip_text(uint32_t ip, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

static int parse_ip(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*ip = ntohl(a.s_addr);
	return 0;
}

/* ---- addresses on the interface ------------------------------------------------- */

static void addr_ref(struct proxy *p, uint32_t ip)
{
	char key[16];
	uintptr_t n;

	if (!ip)
		return;
	ip_text(ip, key, sizeof(key));
	n = (uintptr_t)pmap_get(&p->addr_refs, key);
	pmap_put(&p->addr_refs, key, (void *)(n + 1));
	if (n == 0) {
		int rc = netif_addr_add(&p->nl, p->ifindex, ip);
		if (rc < 0)
			error("cannot add address '%s' to interface '%s': %s", key, p->ifname, strerror(-rc));
		else
			log_debug("address added ip=%s interface=%s", key, p->ifname);
	}
}

static void addr_unref(struct proxy *p, uint32_t ip)
{
	char key[16];
	uintptr_t n;

	if (!ip)
		return;
	ip_text(ip, key, sizeof(key));
	n = (uintptr_t)pmap_get(&p->addr_refs, key);
	if (n > 1) {
		pmap_put(&p->addr_refs, key, (void *)(n - 1));
		return;
	}
	pmap_del(&p->addr_refs, key);
	if (netif_addr_del(&p->nl, p->ifindex, ip) == 0)
		log_debug("address removed ip=%s interface=%s", key, p->ifname);
}

/*
 * Makes the interface hold exactly the addresses counted in addr_refs: puts
 * back what someone removed, takes off what nobody uses (what a crashed run
 * left, or an address added by hand).
 */
static void reconcile_addresses(struct proxy *p, uint32_t *keep, size_t nkeep)
{
	struct netif_addr *addrs = NULL;
	size_t n = 0;
	int idx = netif_index(&p->nl, p->ifname);

	if (idx < 0 || idx != p->ifindex) {
		/* gone, or made again by someone: make it ours again and re-add */
		if (netif_ensure(&p->nl, p->ifname, &p->ifindex, p->ifkind) < 0) {
			error("cannot recreate interface '%s'; ClusterIPs are unreachable until it is back", p->ifname);
			return;
		}
		log_warn("interface '%s' was removed or replaced: made it again", p->ifname);
	}
	if (netif_list_addrs(&p->nl, p->ifindex, &addrs, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char key[16];
		bool wanted = false;
		ip_text(addrs[i].ip, key, sizeof(key));
		for (size_t j = 0; j < nkeep; j++)
			wanted |= keep[j] == addrs[i].ip;
		if (wanted || pmap_get(&p->addr_refs, key))
			continue;
		log_info("removing stale address ip=%s/%u interface=%s", key, addrs[i].prefixlen, p->ifname);
		netif_addr_del(&p->nl, p->ifindex, addrs[i].ip);
	}
	free(addrs);
}

struct readd {
	struct proxy *p;
	struct netif_addr *have;
	size_t nhave;
};

static int readd_missing(const char *key, void *value, void *data)
{
	struct readd *r = data;
	uint32_t ip;
	bool present = false;

	(void)value;
	if (parse_ip(key, &ip) < 0)
		return 0;
	for (size_t i = 0; i < r->nhave; i++)
		present |= r->have[i].ip == ip;
	if (!present && netif_addr_add(&r->p->nl, r->p->ifindex, ip) == 0)
		log_warn("address was missing from '%s': added again ip=%s", r->p->ifname, key);
	return 0;
}

static void ensure_addresses(struct proxy *p)
{
	struct readd r = { .p = p };

	reconcile_addresses(p, NULL, 0);
	if (netif_list_addrs(&p->nl, p->ifindex, &r.have, &r.nhave) < 0)
		return;
	pmap_foreach(&p->addr_refs, readd_missing, &r);
	free(r.have);
}

/* ---- node addresses --------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Reads the node's IPv4 addresses (all but the proxy interface's). Returns
 * true if the set changed. */
static bool read_node_ips(struct proxy *p)
{
	struct netif_addr *addrs = NULL;
	size_t n = 0, k = 0;
	uint32_t *ips;
	int def;
	bool changed;

	if (netif_list_addrs(&p->nl, 0, &addrs, &n) < 0)
		return false;
	ips = xcalloc(n ? n : 1, sizeof(*ips));
	def = netif_default_route_ifindex(&p->nl);
	p->primary_ip = 0;
	for (size_t i = 0; i < n; i++) {
		if (addrs[i].ifindex == p->ifindex)
			continue;
		ips[k++] = addrs[i].ip;
		if (addrs[i].ifindex == def && !p->primary_ip)
			p->primary_ip = addrs[i].ip;
	}
	for (size_t i = 0; i < k && !p->primary_ip; i++)
		if (ips[i] >> 24 != 127)
			p->primary_ip = ips[i];
	if (!p->primary_ip)
		p->primary_ip = 0x7f000001;
	qsort(ips, k, sizeof(*ips), cmp_u32);
	{
		size_t u = 0; /* unique */
		for (size_t i = 0; i < k; i++)
			if (u == 0 || ips[u - 1] != ips[i])
				ips[u++] = ips[i];
		k = u;
	}
	changed = k != p->nnode_ips || (k && memcmp(ips, p->node_ips, k * sizeof(*ips)));
	free(p->node_ips);
	p->node_ips = ips;
	p->nnode_ips = k;
	free(addrs);
	return changed;
}

/* ---- DNS ------------------------------------------------------------------------------------ */

/* Moves cluster DNS to ip (0: stop serving). Returns 0 or -1 (retry later). */
static int dns_move(struct proxy *p, uint32_t ip)
{
	char t[16];
	int rc;

	if (ip == p->dns_ip && (ip == 0 || dns_server_port(p->dns)))
		return 0;
	if (p->dns_ip != ip) {
		addr_unref(p, p->dns_ip);
		addr_ref(p, ip);
		p->dns_ip = p->db.dns_ip = ip;
	}
	if (!ip) {
		dns_server_unlisten(p->dns);
		return 0;
	}
	ip_text(ip, t, sizeof(t));
	rc = dns_server_listen(p->dns, ip, 53);
	if (rc < 0)
		return error("cannot serve cluster DNS on '%s:53': %s; is another DNS server using it?", t,
			     strerror(-rc));
	log_info("cluster dns listening address=%s:53 domain=%s", t, p->db.domain);
	return 0;
}

/* ---- syncing one Service --------------------------------------------------------------------- */

static void split_key(const char *key, char *ns, size_t nsz, const char **name)
{
	const char *slash = strchr(key, '/');
	size_t l = slash ? (size_t)(slash - key) : 0;

	if (l >= nsz)
		l = nsz - 1;
	memcpy(ns, key, l);
	ns[l] = 0;
	*name = slash ? slash + 1 : key;
}

static void psvc_close_listener(struct proxy *p, struct plistener *pl)
{
	char *k = pl->key;

	log_debug("listener closed listener=%s", k);
	pmap_del(&p->listeners, k);
	fwd_listener_close(pl->l);
	free(k);
}

static void psvc_free(struct proxy *p, struct psvc *ps, bool engine_alive)
{
	for (size_t i = 0; i < ps->nls; i++) {
		if (engine_alive)
			psvc_close_listener(p, &ps->ls[i]);
		else
			free(ps->ls[i].key);
	}
	free(ps->ls);
	for (size_t i = 0; i < ps->ntargets; i++) {
		fwd_target_unref(ps->targets[i]);
		free(ps->target_ids[i]);
	}
	free(ps->targets);
	free(ps->target_ids);
	free(ps->key);
	free(ps);
}

static void psvc_remove(struct proxy *p, struct psvc *ps)
{
	pmap_del(&p->svcs, ps->key);
	addr_unref(p, ps->address);
	log_info("service removed service=%s", ps->key);
	psvc_free(p, ps, true);
}

/* One target per model port, kept across updates when the port's name and
 * protocol stay, so counters and round-robin positions survive. */
static void update_targets(struct psvc *ps, const struct svc_model *m)
{
	struct fwd_target **t = m->nports ? xcalloc(m->nports, sizeof(*t)) : NULL;
	char **ids = m->nports ? xcalloc(m->nports, sizeof(*ids)) : NULL;

	for (size_t i = 0; i < m->nports; i++) {
		const struct svc_port_model *sp = &m->ports[i];
		const char *proto = svc_proto_name(sp->proto);
		ids[i] = xasprintf("%s/%s", sp->name, proto);
		for (size_t j = 0; j < ps->ntargets; j++) {
			if (ps->targets[j] && !strcmp(ps->target_ids[j], ids[i])) {
				t[i] = ps->targets[j];
				ps->targets[j] = NULL;
				break;
			}
		}
		if (!t[i]) {
			char *labels = xasprintf("namespace=\"%s\",service=\"%s\",port=\"%s\",protocol=\"%s\"", m->ns, m->name,
						 sp->name, proto);
			t[i] = fwd_target_new(sp->proto, labels);
			free(labels);
		}
		fwd_target_set_backends(t[i], sp->backends, sp->nbackends);
		fwd_target_set_affinity(t[i], m->affinity, (uint64_t)m->affinity_timeout_s * 1000);
	}
	for (size_t j = 0; j < ps->ntargets; j++) {
		fwd_target_unref(ps->targets[j]);
		free(ps->target_ids[j]);
	}
	free(ps->targets);
	free(ps->target_ids);
	ps->targets = t;
	ps->target_ids = ids;
	ps->ntargets = m->nports;
}

struct want {
	char key[48];
	uint8_t proto;
	uint32_t ip;
	uint16_t port;
	size_t target;
};

static void want_add(struct want **w, size_t *n, size_t *alloc, uint8_t proto, uint32_t ip, uint16_t port,
		     size_t target)
{
	char t[16];

	if (*n == *alloc) {
		*alloc = *alloc ? 2 * *alloc : 8;
		*w = xrealloc(*w, *alloc * sizeof(**w));
	}
	ip_text(ip, t, sizeof(t));
	snprintf((*w)[*n].key, sizeof((*w)[*n].key), "%s/%s:%u", svc_proto_name(proto), t, port);
	(*w)[*n].proto = proto;
	(*w)[*n].ip = ip;
	(*w)[*n].port = port;
	(*w)[*n].target = target;
	(*n)++;
}

/* The listeners a Service needs: none for a port without a ready endpoint
 * (so connections are refused at once), else ClusterIP:port, and NodePort
 * and LoadBalancer ports on every node address. */
static struct want *wanted_listeners(struct proxy *p, const struct svc_model *m, bool is_dns, size_t *n)
{
	struct want *w = NULL;
	size_t alloc = 0;

	*n = 0;
	if (is_dns || m->type == SVC_EXTERNAL_NAME)
		return NULL;
	for (size_t i = 0; i < m->nports; i++) {
		const struct svc_port_model *sp = &m->ports[i];
		if (sp->nbackends == 0)
			continue;
		if (m->cluster_ip)
			want_add(&w, n, &alloc, sp->proto, m->cluster_ip, sp->port, i);
		if ((m->type == SVC_NODE_PORT || m->type == SVC_LOAD_BALANCER) && sp->node_port)
			for (size_t j = 0; j < p->nnode_ips; j++)
				want_add(&w, n, &alloc, sp->proto, p->node_ips[j], sp->node_port, i);
		if (m->type == SVC_LOAD_BALANCER)
			for (size_t j = 0; j < p->nnode_ips; j++)
				want_add(&w, n, &alloc, sp->proto, p->node_ips[j], sp->port, i);
	}
	return w;
}

static int sync_listeners(struct proxy *p, struct psvc *ps, const struct want *w, size_t nw)
{
	struct plistener *keep = nw ? xcalloc(nw, sizeof(*keep)) : NULL;
	size_t nkeep = 0;
	int rc = 0;

	/* close what is no longer wanted; retarget what stays */
	for (size_t i = 0; i < ps->nls; i++) {
		size_t j;
		for (j = 0; j < nw && strcmp(w[j].key, ps->ls[i].key); j++)
			;
		if (j == nw) {
			psvc_close_listener(p, &ps->ls[i]);
			continue;
		}
		fwd_listener_set_target(ps->ls[i].l, ps->targets[w[j].target]);
		keep[nkeep++] = ps->ls[i];
	}
	free(ps->ls);
	ps->ls = keep;
	ps->nls = nkeep;
	for (size_t j = 0; j < nw; j++) {
		struct psvc *owner = pmap_get(&p->listeners, w[j].key);
		struct fwd_listener *l;
		int err;

		if (owner == ps)
			continue;
		if (owner) {
			if (!ps->warned)
				log_warn("port conflict: service=%s wants listener=%s, which service=%s holds", ps->key,
					 w[j].key, owner->key);
			rc = -1;
			continue;
		}
		err = fwd_listen(p->fwd, w[j].proto, w[j].ip, w[j].port, ps->targets[w[j].target], &l);
		if (err < 0) {
			if (!ps->warned)
				log_warn("cannot listen service=%s listener=%s error=%s; retrying", ps->key, w[j].key,
					 strerror(-err));
			fwd_target_count_refused(ps->targets[w[j].target]);
			rc = -1;
			continue;
		}
		log_debug("listening service=%s listener=%s", ps->key, w[j].key);
		pmap_put(&p->listeners, w[j].key, ps);
		ps->ls[ps->nls].key = xstrdup(w[j].key);
		ps->ls[ps->nls].l = l;
		ps->nls++;
	}
	ps->warned = rc < 0;
	return rc;
}

static int sync_service(struct proxy *p, const char *key)
{
	json_t *svc = informer_get(p->services, key), *eps = informer_get(p->endpoints, key);
	struct psvc *ps = pmap_get(&p->svcs, key);
	bool is_dns = p->dns_enabled && !strcmp(key, DNS_SERVICE_KEY);
	struct svc_model m;
	struct want *w;
	size_t nw, ready = 0;
	char ns[256];
	const char *name;
	int rc = 0;

	split_key(key, ns, sizeof(ns), &name);
	if (!svc) {
		dns_db_del(&p->db, ns, name);
		if (ps)
			psvc_remove(p, ps);
		if (is_dns && p->dns_follows_service)
			dns_move(p, 0);
		return 0;
	}
	{
		struct dns_service *d = dns_service_from_json(svc, eps);
		if (d)
			dns_db_put(&p->db, d);
	}
	if (svc_model_build(svc, eps, &m) < 0)
		return 0;
	if (!ps) {
		ps = xcalloc(1, sizeof(*ps));
		ps->key = xstrdup(key);
		pmap_put(&p->svcs, key, ps);
	}
	if (m.cluster_ip != ps->address) {
		addr_ref(p, m.cluster_ip);
		addr_unref(p, ps->address);
		ps->address = m.cluster_ip;
	}
	if (is_dns && p->dns_follows_service && dns_move(p, m.cluster_ip) < 0)
		rc = -1;
	if (is_dns) {
		/* served by the DNS server, not forwarded: no targets, no counters */
		struct svc_model none = m;
		none.nports = 0;
		update_targets(ps, &none);
	} else {
		update_targets(ps, &m);
	}
	w = wanted_listeners(p, &m, is_dns, &nw);
	if (sync_listeners(p, ps, w, nw) < 0)
		rc = -1;
	free(w);
	for (size_t i = 0; i < m.nports; i++)
		ready += m.ports[i].nbackends;
	log_debug("service synced service=%s ports=%zu endpoints=%zu listeners=%zu", key, m.nports, ready, ps->nls);
	svc_model_release(&m);
	return rc;
}

static void on_work(struct workqueue *q, const char *key, void *data)
{
	struct proxy *p = data;

	if (sync_service(p, key) < 0) {
		p->sync_errors++;
		workqueue_add_rate_limited(q, key);
	} else {
		workqueue_forget(q, key);
	}
	p->syncs++;
	p->last_sync_ms = now_ms();
	workqueue_done(q, key);
}

static void queue_all(struct proxy *p)
{
	json_t *all = informer_list(p->services, NULL), *s;
	size_t i;

	json_array_foreach(all, i, s) {
		char *k = obj_key(s);
		workqueue_add(p->q, k);
		free(k);
	}
	json_decref(all);
}

/* ---- informer handlers ---------------------------------------------------------------------- */

static void enqueue(struct proxy *p, json_t *obj)
{
	char *k = obj_key(obj);

	if (k && !p->stopping)
		workqueue_add(p->q, k);
	free(k);
}

static void on_obj_add(json_t *obj, void *data)
{
	enqueue(data, obj);
}

static void on_obj_update(json_t *old, json_t *obj, void *data)
{
	(void)old;
	enqueue(data, obj);
}

static void on_obj_delete(json_t *obj, void *data)
{
	enqueue(data, obj);
}

static void maybe_start_queue(struct proxy *p)
{
	json_t *all, *s;
	uint32_t *keep;
	size_t i, n = 0;

	if (p->started_queue || !p->services_synced || !p->endpoints_synced || p->stopping)
		return;
	p->started_queue = true;
	/* Everything on the interface that no Service (and not DNS) will want
	 * is left over from an earlier run: it goes now, before any sync. */
	all = informer_list(p->services, NULL);
	keep = xcalloc(json_array_size(all) + 1, sizeof(*keep));
	json_array_foreach(all, i, s) {
		uint32_t ip;
		if (parse_ip(obj_str(s, "spec.clusterIP"), &ip) == 0)
			keep[n++] = ip;
	}
	if (p->dns_ip)
		keep[n++] = p->dns_ip;
	reconcile_addresses(p, keep, n);
	free(keep);
	json_decref(all);
	log_info("caches synced services=%zu endpoints=%zu: syncing", informer_count(p->services),
		 informer_count(p->endpoints));
	workqueue_start(p->q, 1, on_work, p);
}

static void on_services_synced(struct informer *inf, void *data)
{
	struct proxy *p = data;

	(void)inf;
	p->services_synced = true;
	maybe_start_queue(p);
}

static void on_endpoints_synced(struct informer *inf, void *data)
{
	struct proxy *p = data;

	(void)inf;
	p->endpoints_synced = true;
	maybe_start_queue(p);
}

/* ---- address changes and housekeeping ------------------------------------------------------- */

static void on_addr_debounce(uv_timer_t *t)
{
	struct proxy *p = t->data;

	ensure_addresses(p);
	if (read_node_ips(p)) {
		log_info("node addresses changed count=%zu: resyncing services", p->nnode_ips);
		if (p->started_queue)
			queue_all(p);
	}
}

static void on_netlink_event(uv_poll_t *h, int status, int events)
{
	struct proxy *p = h->data;

	(void)events;
	if (status < 0)
		return;
	if (netif_monitor_drain(p->monfd) > 0 && !p->stopping)
		uv_timer_start(&p->addr_debounce, on_addr_debounce, ADDR_DEBOUNCE_MS, 0);
}

static int expire_affinity(const char *key, void *value, void *data)
{
	struct psvc *ps = value;

	(void)key;
	(void)data;
	for (size_t i = 0; i < ps->ntargets; i++)
		fwd_target_expire(ps->targets[i]);
	return 0;
}

static void on_housekeeping(uv_timer_t *t)
{
	struct proxy *p = t->data;

	pmap_foreach(&p->svcs, expire_affinity, NULL);
	/* Every minute a full pass catches what an event may have missed (an
	 * address removed by hand, a lost netlink message), as kube-proxy's
	 * sync period does; without netlink events node addresses are re-read
	 * every tick. */
	if (++p->ticks % 6 == 0 || !p->mon_open)
		on_addr_debounce(&p->addr_debounce);
	if (p->dns && !p->dns_follows_service && !dns_server_port(p->dns))
		dns_move(p, p->dns_fixed_ip);
}

/* ---- /healthz and /metrics ----------------------------------------------------------------------- */

struct metric_walk {
	struct strbuf *out;
	const char *name;
	int which;
};

enum { M_CONN, M_ACTIVE, M_BYTES_IN, M_BYTES_OUT, M_ERR_CONNECT, M_ERR_REFUSED, M_ERR_LIMIT, M_ENDPOINTS };

static int metric_line(const char *key, void *value, void *data)
{
	struct psvc *ps = value;
	struct metric_walk *mw = data;

	(void)key;
	for (size_t i = 0; i < ps->ntargets; i++) {
		struct fwd_target *t = ps->targets[i];
		const char *labels = fwd_target_labels(t);
		struct fwd_stats st, *s = &st;
		fwd_target_stats(t, &st);
		switch (mw->which) {
		case M_CONN:
			strbuf_addf(mw->out, "%s{%s} %llu\n", mw->name, labels, (unsigned long long)s->connections);
			break;
		case M_ACTIVE:
			strbuf_addf(mw->out, "%s{%s} %llu\n", mw->name, labels, (unsigned long long)s->active);
			break;
		case M_BYTES_IN:
			strbuf_addf(mw->out, "%s{%s,direction=\"in\"} %llu\n", mw->name, labels,
				    (unsigned long long)s->bytes_in);
			strbuf_addf(mw->out, "%s{%s,direction=\"out\"} %llu\n", mw->name, labels,
				    (unsigned long long)s->bytes_out);
			break;
		case M_ERR_CONNECT:
			strbuf_addf(mw->out, "%s{%s,reason=\"connect\"} %llu\n", mw->name, labels,
				    (unsigned long long)s->err_connect);
			strbuf_addf(mw->out, "%s{%s,reason=\"no_backend\"} %llu\n", mw->name, labels,
				    (unsigned long long)s->err_refused);
			strbuf_addf(mw->out, "%s{%s,reason=\"limit\"} %llu\n", mw->name, labels,
				    (unsigned long long)s->err_limit);
			break;
		case M_ENDPOINTS:
			strbuf_addf(mw->out, "%s{%s} %zu\n", mw->name, labels, fwd_target_endpoints(t));
			break;
		}
	}
	return 0;
}

static void metrics_text(struct proxy *p, struct strbuf *out)
{
	static const struct {
		int which;
		const char *name, *type, *help;
	} m[] = {
		{ M_CONN, "minik8s_proxy_connections_total", "counter",
		  "TCP connections accepted and UDP flows started, per service port." },
		{ M_ACTIVE, "minik8s_proxy_active_connections", "gauge", "TCP connections and UDP flows open now." },
		{ M_BYTES_IN, "minik8s_proxy_bytes_total", "counter",
		  "Bytes forwarded: in is client to backend, out is backend to client." },
		{ M_ERR_CONNECT, "minik8s_proxy_errors_total", "counter",
		  "connect: a backend connect failed (the next was tried); no_backend: a client was refused, "
		  "no backend answering; limit: turned away by --proxy-max-connections." },
		{ M_ENDPOINTS, "minik8s_proxy_endpoints", "gauge", "Ready endpoints per service port." },
	};
	uint64_t made, reused;

	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		struct metric_walk mw = { out, m[i].name, m[i].which };
		strbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", m[i].name, m[i].help, m[i].name, m[i].type);
		pmap_foreach(&p->svcs, metric_line, &mw);
	}
	fwd_engine_pipe_stats(p->fwd, &made, &reused);
	strbuf_addf(out,
		    "# HELP minik8s_proxy_open_connections All TCP connections and UDP flows open now.\n"
		    "# TYPE minik8s_proxy_open_connections gauge\n"
		    "minik8s_proxy_open_connections %zu\n"
		    "# HELP minik8s_proxy_listeners Listening sockets (ClusterIP, NodePort, LoadBalancer).\n"
		    "# TYPE minik8s_proxy_listeners gauge\n"
		    "minik8s_proxy_listeners %zu\n"
		    "# HELP minik8s_proxy_loops Loops forwarding TCP (--proxy-threads).\n"
		    "# TYPE minik8s_proxy_loops gauge\n"
		    "minik8s_proxy_loops %u\n"
		    "# HELP minik8s_proxy_pipes_total Kernel pipes for splice: made, and reused from the pool.\n"
		    "# TYPE minik8s_proxy_pipes_total counter\n"
		    "minik8s_proxy_pipes_total{event=\"made\"} %llu\n"
		    "minik8s_proxy_pipes_total{event=\"reused\"} %llu\n"
		    "# HELP minik8s_proxy_syncs_total Service syncs, and those that failed and were retried.\n"
		    "# TYPE minik8s_proxy_syncs_total counter\n"
		    "minik8s_proxy_syncs_total{result=\"ok\"} %llu\n"
		    "minik8s_proxy_syncs_total{result=\"error\"} %llu\n",
		    fwd_engine_connections(p->fwd), p->listeners.count, fwd_engine_loops(p->fwd), (unsigned long long)made,
		    (unsigned long long)reused, (unsigned long long)(p->syncs - p->sync_errors),
		    (unsigned long long)p->sync_errors);
	strbuf_addf(out, "# HELP minik8s_proxy_loop_connections_total TCP connections each forwarding loop accepted "
			 "(the kernel spreads them).\n"
			 "# TYPE minik8s_proxy_loop_connections_total counter\n");
	for (unsigned i = 0; i < fwd_engine_loops(p->fwd); i++)
		strbuf_addf(out, "minik8s_proxy_loop_connections_total{loop=\"%u\"} %llu\n", i,
			    (unsigned long long)fwd_engine_loop_accepted(p->fwd, i));
	if (p->dns)
		dns_server_metrics(p->dns, out);
}

static void on_health_request(struct http_request *req, void *data)
{
	struct proxy *p = data;
	struct strbuf out;

	strbuf_init(&out, 1024);
	if (!strcmp(req->path, "/healthz") || !strcmp(req->path, "/livez")) {
		char now[TIME_RFC3339_LEN], last[TIME_RFC3339_LEN];
		time_t t = time(NULL);
		bool ok = p->started_queue && !p->stopping;
		time_format_rfc3339(t, now);
		time_format_rfc3339(t - (time_t)((now_ms() - p->last_sync_ms) / 1000), last);
		strbuf_addf(&out, "{\"lastUpdated\":\"%s\",\"currentTime\":\"%s\",\"synced\":%s}\n",
			    p->last_sync_ms ? last : "", now, ok ? "true" : "false");
		http_respond(req, ok ? 200 : 503, "application/json", out.buf, out.len);
	} else if (!strcmp(req->path, "/metrics")) {
		metrics_text(p, &out);
		http_respond(req, 200, "text/plain; version=0.0.4", out.buf, out.len);
	} else {
		strbuf_adds(&out, "404 page not found\n");
		http_respond(req, 404, "text/plain", out.buf, out.len);
	}
	strbuf_release(&out);
}

/* ---- start and stop ---------------------------------------------------------------------------------- */

static int free_psvc_entry(const char *key, void *value, void *data)
{
	(void)key;
	psvc_free(data, value, false);
	return 0;
}

static void free_proxy(struct proxy *p)
{
	if (p->svcs.buckets) {
		pmap_foreach(&p->svcs, free_psvc_entry, p);
		pmap_release(&p->svcs);
		pmap_release(&p->listeners);
		pmap_release(&p->addr_refs);
	}
	dns_db_release(&p->db);
	netif_close(&p->nl);
	free(p->node_ips);
	free(p->ifname);
	free(p->hostname);
	free(p);
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	/* two sockets and two pipes per connection */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int start(uv_loop_t *loop, const char *kubeconfig, void **state)
{
	struct proxy *p = xcalloc(1, sizeof(*p));
	struct kubeconfig *kc = NULL;
	struct fwd_config fc = { 0 };
	struct dns_server_config dc = { 0 };
	struct informer_handlers h = { on_obj_add, on_obj_update, on_obj_delete, p };
	char host[256];
	int rc;

	p->loop = loop;
	p->nl.fd = -1;
	p->monfd = -1;
	p->ifname = xstrdup(flag_interface && *flag_interface ? flag_interface : "minik8s0");
	if (flag_proxy_threads < 0 || flag_proxy_threads > FWD_MAX_LOOPS) {
		error("invalid --proxy-threads %d: want 1 to %d (or 0 for one per CPU)", flag_proxy_threads, FWD_MAX_LOOPS);
		goto fail;
	}
	if (strlen(p->ifname) >= IFNAMSIZ) {
		error("invalid --proxy-interface '%s': interface names have at most %d characters", p->ifname,
		      IFNAMSIZ - 1);
		goto fail;
	}
	if (dns_db_init(&p->db, flag_dns_domain && *flag_dns_domain ? flag_dns_domain : "cluster.local") < 0) {
		error("invalid --dns-domain '%s': want a DNS name such as cluster.local", flag_dns_domain);
		goto fail;
	}
	p->dns_enabled = true;
	p->dns_follows_service = true;
	if (flag_cluster_dns_ip && *flag_cluster_dns_ip) {
		if (!strcmp(flag_cluster_dns_ip, "none")) {
			p->dns_enabled = p->dns_follows_service = false;
		} else if (parse_ip(flag_cluster_dns_ip, &p->dns_fixed_ip) == 0 && p->dns_fixed_ip) {
			p->dns_follows_service = false;
		} else {
			error("invalid --cluster-dns-ip '%s': want an IPv4 address or \"none\"", flag_cluster_dns_ip);
			goto fail;
		}
	}
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = 0;
	p->hostname = xstrdup(flag_hostname && *flag_hostname ? flag_hostname :
			      agent_node_name			  ? agent_node_name :
								    host);
	if (kubeconfig_load(kubeconfig, NULL, &kc, NULL) < 0)
		goto fail;
	rc = netif_open(&p->nl);
	if (rc < 0) {
		error("cannot open a netlink socket: %s", strerror(-rc));
		goto fail;
	}
	rc = netif_ensure(&p->nl, p->ifname, &p->ifindex, p->ifkind);
	if (rc == -EEXIST) {
		error("interface '%s' exists and is not a dummy or bridge: choose another --proxy-interface", p->ifname);
		goto fail;
	}
	if (rc < 0) {
		error("cannot create interface '%s': %s; the proxy puts ClusterIPs on it and needs root "
		      "(CAP_NET_ADMIN)", p->ifname, strerror(-rc));
		goto fail;
	}
	raise_fd_limit();
	pmap_init(&p->svcs);
	pmap_init(&p->listeners);
	pmap_init(&p->addr_refs);
	read_node_ips(p);

	p->rc = rest_client_new(loop, kc);
	kubeconfig_free(kc);
	kc = NULL;
	if (!p->rc)
		goto fail;

	fc.max_connections = flag_max_connections;
	fc.udp_timeout_ms = (uint64_t)flag_udp_timeout_ms;
	fc.loops = flag_proxy_threads;
	if (fc.loops <= 0) {
		unsigned cpus = uv_available_parallelism();
		fc.loops = cpus > DEFAULT_THREADS_MAX ? DEFAULT_THREADS_MAX : (int)cpus;
	}
	p->fwd = fwd_engine_new(loop, &fc);
	if (p->dns_enabled) {
		dc.resolv_conf = flag_resolv_conf;
		dc.forward_timeout_ms = (uint64_t)flag_dns_forward_timeout_ms;
		p->dns = dns_server_new(loop, &p->db, &dc);
		if (!p->dns_follows_service)
			dns_move(p, p->dns_fixed_ip); /* a failure is logged; the housekeeping retries */
	}
	if (flag_healthz_port >= 0) {
		struct http_server_config hc = { .bind_address = "0.0.0.0", .port = flag_healthz_port,
						 .max_connections = 64, .handler = on_health_request,
						 .handler_data = p };
		rc = http_server_start(&p->health, loop, &hc);
		if (rc < 0) {
			error("cannot serve /healthz on port %d: %s; use --healthz-port to pick another", flag_healthz_port,
			      uv_strerror(rc));
			p->health = NULL;
		} else {
			log_info("healthz listening address=0.0.0.0:%d", http_server_port(p->health));
		}
	}

	p->monfd = netif_monitor_open();
	if (p->monfd >= 0) {
		uv_poll_init(loop, &p->mon, p->monfd);
		p->mon.data = p;
		uv_poll_start(&p->mon, UV_READABLE, on_netlink_event);
		p->mon_open = true;
	} else {
		log_warn("cannot watch address changes: %s; node addresses are re-read every %d s", strerror(-p->monfd),
			 HOUSEKEEPING_MS / 1000);
	}
	uv_timer_init(loop, &p->addr_debounce);
	p->addr_debounce.data = p;
	uv_timer_init(loop, &p->housekeeping);
	p->housekeeping.data = p;
	uv_timer_start(&p->housekeeping, on_housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);

	p->q = workqueue_new(loop, "proxy");
	workqueue_set_backoff(p->q, 200, 30000);
	p->services = informer_new(p->rc, &services_res, NULL);
	p->endpoints = informer_new(p->rc, &endpoints_res, NULL);
	informer_add_handlers(p->services, &h);
	informer_add_handlers(p->endpoints, &h);
	informer_on_synced(p->services, on_services_synced, p);
	informer_on_synced(p->endpoints, on_endpoints_synced, p);
	informer_start(p->services);
	informer_start(p->endpoints);
	{
		char t[16];
		ip_text(p->primary_ip, t, sizeof(t));
		log_info("proxy started node=%s interface=%s kind=%s node-addresses=%zu primary=%s forwarding-loops=%u dns=%s",
			 p->hostname, p->ifname, p->ifkind, p->nnode_ips, t, fwd_engine_loops(p->fwd),
			 !p->dns_enabled ? "off" : p->dns_follows_service ? "kube-dns" : flag_cluster_dns_ip);
	}
	*state = p;
	return 0;

fail:
	kubeconfig_free(kc);
	if (p->nl.fd >= 0)
		netif_close(&p->nl);
	if (p->svcs.buckets) {
		pmap_release(&p->svcs);
		pmap_release(&p->listeners);
		pmap_release(&p->addr_refs);
	}
	dns_db_release(&p->db);
	free(p->node_ips);
	free(p->ifname);
	free(p->hostname);
	free(p);
	return -1;
}

static void finish(void *arg)
{
	struct proxy *p = arg;
	void (*done)(void *) = p->done;
	void *done_arg = p->done_arg;

	free_proxy(p);
	done(done_arg);
}

/* Every part is closed: the interface goes (with every address on it), then the client. */
static void on_part_closed(void *arg)
{
	struct proxy *p = arg;
	int rc;

	if (--p->closing > 0)
		return;
	if (p->monfd >= 0)
		close(p->monfd);
	rc = netif_delete(&p->nl, p->ifname);
	if (rc < 0)
		log_warn("cannot remove interface '%s': %s", p->ifname, strerror(-rc));
	else
		log_info("interface removed interface=%s", p->ifname);
	rest_client_close(p->rc, finish, p);
}

static void on_handle_closed(uv_handle_t *h)
{
	on_part_closed(h->data);
}

static void stop(void *state, void (*done)(void *arg), void *arg)
{
	struct proxy *p = state;

	p->stopping = true;
	p->done = done;
	p->done_arg = arg;
	log_info("proxy stopping services=%zu connections=%zu", p->svcs.count, fwd_engine_connections(p->fwd));
	p->closing = 6 + (p->health ? 1 : 0) + (p->dns ? 1 : 0) + (p->mon_open ? 1 : 0);
	informer_close(p->services, on_part_closed, p);
	informer_close(p->endpoints, on_part_closed, p);
	workqueue_close(p->q, on_part_closed, p);
	if (p->health)
		http_server_close(p->health, on_part_closed, p);
	if (p->dns)
		dns_server_close(p->dns, on_part_closed, p);
	fwd_engine_close(p->fwd, on_part_closed, p);
	if (p->mon_open)
		uv_close((uv_handle_t *)&p->mon, on_handle_closed);
	uv_close((uv_handle_t *)&p->addr_debounce, on_handle_closed);
	uv_close((uv_handle_t *)&p->housekeeping, on_handle_closed);
}

const struct component proxy_component = {
	.name = "proxy",
	.usage = "usage: minik8s proxy [--kubeconfig FILE] [flags]\n\n"
		 "Runs the service proxy and cluster DNS of this node alone: puts every ClusterIP on the\n"
		 "interface minik8s0, forwards ClusterIP, NodePort and LoadBalancer traffic to ready\n"
		 "endpoints, and answers DNS for <service>.<namespace>.svc.cluster.local. Needs root.\n"
		 "See docs/networking.md.\n",
	.flags = proxy_flags,
	.start = start,
	.stop = stop,
};
