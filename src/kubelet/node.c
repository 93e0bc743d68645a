/*
 * The kubelet's node: registration (POST the Node, or take over an existing
 * one of the same name), the Lease in kube-node-lease renewed every 10 s
 * (the heartbeat the node lifecycle controller watches), and the Node's
 * status (capacity read from /proc, allocatable, conditions, addresses,
 * nodeInfo, the kubelet API port) posted when it changes and once a minute.
 * Also the pod network: a Docker bridge network on the node's podCIDR, and
 * the iptables rules that let traffic between the cluster's pods through
 * Docker's isolation chains without masquerading it.
 */
#include "kubelet/internal.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

enum { OP_NODE_CREATE = 500, OP_NODE_LABELS, OP_NODE_STATUS, OP_LEASE, OP_NETWORK };

#define LEASE_NS "kube-node-lease"
#define EVICTION_RESERVE (100ll << 20) /* the kubelet's default memory.available<100Mi */

char *node_default_ip(void)
{
	struct sockaddr_in sa = { 0 }, local = { 0 };
	socklen_t len = sizeof(local);
	char buf[INET_ADDRSTRLEN];
	struct ifaddrs *ifs, *i;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	/* The source address of the default route: connect() on UDP sends nothing. */
	sa.sin_family = AF_INET;
	sa.sin_port = htons(53);
	inet_pton(AF_INET, "8.8.8.8", &sa.sin_addr);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&local, &len) == 0 && local.sin_addr.s_addr != htonl(INADDR_ANY)) {
		close(fd);
		return xstrdup(inet_ntop(AF_INET, &local.sin_addr, buf, sizeof(buf)));
	}
	if (fd >= 0)
		close(fd);
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
			    !(i->ifa_flags & IFF_UP) || str_has_prefix(i->ifa_name, "docker") ||
			    str_has_prefix(i->ifa_name, "br-") || str_has_prefix(i->ifa_name, "veth"))
				continue;
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, sizeof(buf));
			freeifaddrs(ifs);
			return xstrdup(buf);
		}
		freeifaddrs(ifs);
	}
	return xstrdup("127.0.0.1");
}

static char *read_trimmed(const char *path)
{
	char *text = NULL;
	size_t len = 0;

	if (read_file(path, &text, &len) < 0)
		return NULL;
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	return text;
}

static char *os_image(void)
{
	char *text = NULL, *line, *save = NULL, *r = NULL;
	size_t len;

	if (read_file("/etc/os-release", &text, &len) < 0)
		return xstrdup("Linux");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (str_has_prefix(line, "PRETTY_NAME=")) {
			char *v = line + strlen("PRETTY_NAME=");
			size_t n = strlen(v);
			if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
				r = xstrndup(v + 1, n - 2);
			else
				r = xstrdup(v);
		}
	}
	free(text);
	return r ? r : xstrdup("Linux");
}

int node_init(struct kubelet *k)
{
	struct utsname u;
	struct statvfs sv;
	char host[256], *text = NULL, *mid, *boot, *uuid, *os;
	const char *arch = "amd64";
	size_t len;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "%s", k->node_name);
	host[sizeof(host) - 1] = '\0';
	k->hostname = xstrdup(host);
	k->cpu_millis = (cpus > 0 ? cpus : 1) * 1000;
	if (read_file("/proc/meminfo", &text, &len) == 0) {
		char *p = strstr(text, "MemTotal:");
		if (p)
			k->mem_bytes = strtoll(p + strlen("MemTotal:"), NULL, 10) * 1024;
		free(text);
	}
	if (statvfs(k->root_dir, &sv) == 0)
		k->storage_bytes = (int64_t)sv.f_blocks * (int64_t)sv.f_frsize;
	uname(&u);
	if (!strcmp(u.machine, "aarch64"))
		arch = "arm64";
	else if (!strcmp(u.machine, "x86_64"))
		arch = "amd64";
	else
		arch = u.machine;
	mid = read_trimmed("/etc/machine-id");
	boot = read_trimmed("/proc/sys/kernel/random/boot_id");
	uuid = read_trimmed("/sys/class/dmi/id/product_uuid");
	os = os_image();
	json_decref(k->node_info);
	k->node_info = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "machineID", mid ? mid : k->node_name,
			      "systemUUID", uuid ? uuid : (mid ? mid : k->node_name), "bootID", boot ? boot : "",
			      "kernelVersion", u.release, "osImage", os, "containerRuntimeVersion", "docker://unknown",
			      "kubeletVersion", KUBELET_VERSION, "kubeProxyVersion", KUBELET_VERSION, "operatingSystem",
			      "linux", "architecture", arch);
	free(mid);
	free(boot);
	free(uuid);
	free(os);
	return 0;
}

static void now_string(char *buf, size_t len, bool micro)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (micro) {
		/* A Lease's renewTime is a MicroTime: "2006-01-02T15:04:05.000000Z". */
		char base[24];
		strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(buf, len, "%.20s.%06dZ", base, (int)(ts.tv_nsec / 1000) % 1000000);
	} else {
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
}

static json_t *resources(struct kubelet *k, bool allocatable)
{
	char cpu[32], mem[32], pods[16], disk[32];
	int64_t m = k->mem_bytes - (allocatable ? EVICTION_RESERVE : 0);
	int64_t d = allocatable ? k->storage_bytes / 10 * 9 : k->storage_bytes;

	if (k->cpu_millis % 1000)
		snprintf(cpu, sizeof(cpu), "%lldm", (long long)k->cpu_millis);
	else
		snprintf(cpu, sizeof(cpu), "%lld", (long long)(k->cpu_millis / 1000));
	snprintf(mem, sizeof(mem), "%lldKi", (long long)((m > 0 ? m : 0) / 1024));
	snprintf(pods, sizeof(pods), "%d", k->cfg.max_pods);
	snprintf(disk, sizeof(disk), "%lldKi", (long long)(d / 1024));
	return json_pack("{s:s, s:s, s:s, s:s}", "cpu", cpu, "memory", mem, "pods", pods, "ephemeral-storage", disk);
}

/* The Node's conditions: pressure never (no eviction here), Ready when the
 * engine answers and the pod network exists. */
static json_t *conditions(struct kubelet *k, const char *now)
{
	static const char *const pressure[][3] = {
		{ "MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available" },
		{ "DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure" },
		{ "PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available" },
	};
	json_t *out = json_array(), *old = obj_get(k->node_obj, "status.conditions");
	const char *ready_msg = "kubelet is posting ready status";
	bool ready = true;

	if (!k->docker_up) {
		ready = false;
		ready_msg = "container runtime is down: the docker engine does not answer";
	} else if (!k->network_ready) {
		ready = false;
		ready_msg = k->pod_cidr ? "container runtime network not ready: creating the pod network"
					: "container runtime network not ready: waiting for the node's podCIDR";
	}
	for (size_t i = 0; i < ARRAY_SIZE(pressure) + 1; i++) {
		const char *type = i < ARRAY_SIZE(pressure) ? pressure[i][0] : "Ready";
		const char *status = i < ARRAY_SIZE(pressure) ? "False" : ready ? "True" : "False";
		const char *reason = i < ARRAY_SIZE(pressure) ? pressure[i][1] : ready ? "KubeletReady" : "KubeletNotReady";
		const char *msg = i < ARRAY_SIZE(pressure) ? pressure[i][2] : ready_msg;
		const char *since = now;
		json_t *c;
		size_t j;

		json_array_foreach(old, j, c)
			if (!strcmp(obj_str(c, "type") ?: "", type) && !strcmp(obj_str(c, "status") ?: "", status) &&
			    obj_str(c, "lastTransitionTime"))
				since = obj_str(c, "lastTransitionTime");
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status,
						     "reason", reason, "message", msg, "lastHeartbeatTime", now,
						     "lastTransitionTime", since));
	}
	return out;
}

static json_t *node_status(struct kubelet *k, const char *now)
{
	json_t *info = json_deep_copy(k->node_info);
	char *rt = xasprintf("docker://%s", k->docker_version ? k->docker_version : "unknown");

	json_object_set_new(info, "containerRuntimeVersion", json_string(rt));
	free(rt);
	return json_pack("{s:o, s:o, s:o, s:[{s:s, s:s}, {s:s, s:s}], s:{s:{s:i}}, s:o}", "capacity", resources(k, false),
			 "allocatable", resources(k, true), "conditions", conditions(k, now), "addresses", "type",
			 "InternalIP", "address", k->node_ip, "type", "Hostname", "address", k->hostname,
			 "daemonEndpoints", "kubeletEndpoint", "Port", k->port, "nodeInfo", info);
}

/* The status with its heartbeat times taken out, to see whether it changed. */
static char *status_fingerprint(const json_t *status)
{
	json_t *copy = json_deep_copy(status), *c;
	size_t i;
	char *s;

	json_array_foreach(obj_get(copy, "conditions"), i, c) {
		json_object_del(c, "lastHeartbeatTime");
		json_object_del(c, "lastTransitionTime");
	}
	s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(copy);
	return s;
}

static json_t *node_labels(struct kubelet *k)
{
	json_t *labels = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kubernetes.io/hostname", k->node_name,
				   "kubernetes.io/os", "linux", "kubernetes.io/arch",
				   obj_str(k->node_info, "architecture") ?: "amd64", "beta.kubernetes.io/os", "linux",
				   "beta.kubernetes.io/arch", obj_str(k->node_info, "architecture") ?: "amd64");

	for (int i = 0; i < k->cfg.node_labels.n; i++) {
		const char *item = k->cfg.node_labels.items[i], *eq = strchr(item, '=');
		if (eq) {
			char *key = xstrndup(item, (size_t)(eq - item));
			json_object_set_new(labels, key, json_string(eq + 1));
			free(key);
		}
	}
	return labels;
}

static void on_status_done(const struct rest_response *r, void *data)
{
	struct kop *op = data;
	struct kubelet *k = op->k;

	op->rreq = NULL;
	k->status_busy = false;
	if (!r->error) {
		free(k->last_node_status);
		k->last_node_status = op->str;
		op->str = NULL;
		k->last_status_ms = kubelet_now_ms();
	} else if (r->status == 404) {
		log_warn("kubelet node '%s' was deleted; registering it again", k->node_name);
		k->registered = false;
	} else {
		log_warn("kubelet cannot update the status of node '%s': %s", k->node_name, r->error);
		k->next_status_ms = kubelet_now_ms() + 2000;
	}
	kop_free(op);
}

static void post_status(struct kubelet *k, int64_t now)
{
	char ts[32];
	json_t *status, *body;
	char *fp, *path;
	struct kop *op;

	now_string(ts, sizeof(ts), false);
	status = node_status(k, ts);
	fp = status_fingerprint(status);
	k->next_status_ms = now + NODE_STATUS_MS;
	if (k->last_node_status && !strcmp(fp, k->last_node_status) && now - k->last_status_ms < NODE_STATUS_FORCE_MS) {
		json_decref(status);
		free(fp);
		return;
	}
	body = json_pack("{s:o}", "status", status);
	op = kop_new(k, NULL, OP_NODE_STATUS);
	op->str = fp;
	path = xasprintf("/api/v1/nodes/%s/status", k->node_name);
	k->status_busy = true;
	op->rreq = rest_patch(k->rest, path, "application/merge-patch+json", body, on_status_done, op);
	json_decref(body);
	free(path);
	if (!op->rreq) {
		k->status_busy = false;
		kop_free(op);
	}
}

static void on_labels_done(const struct rest_response *r, void *data)
{
	struct kop *op = data;

	op->rreq = NULL;
	if (r->error)
		log_warn("kubelet cannot update the labels of node '%s': %s", op->k->node_name, r->error);
	kop_free(op);
}

static void on_registered(const struct rest_response *r, void *data)
{
	struct kop *op = data;
	struct kubelet *k = op->k;

	op->rreq = NULL;
	k->registering = false;
	if (!r->error || r->status == 409) {
		if (!r->error) {
			log_info("kubelet registered node=%s", k->node_name);
			free(k->node_uid);
			k->node_uid = obj_str(r->body, "metadata.uid") ? xstrdup(obj_str(r->body, "metadata.uid")) : NULL;
		} else {
			/* Same name as before (a restart, a reinstall): take it over. */
			struct kop *lop = kop_new(k, NULL, OP_NODE_LABELS);
			json_t *patch = json_pack("{s:{s:o}}", "metadata", "labels", node_labels(k));
			char *path = xasprintf("/api/v1/nodes/%s", k->node_name);
			log_info("kubelet node=%s already registered; taking it over", k->node_name);
			lop->rreq = rest_patch(k->rest, path, "application/merge-patch+json", patch, on_labels_done, lop);
			json_decref(patch);
			free(path);
			if (!lop->rreq)
				kop_free(lop);
		}
		k->registered = true;
		k->next_status_ms = 0;
		free(k->last_node_status);
		k->last_node_status = NULL;
	} else {
		log_warn("kubelet cannot register node '%s': %s; retrying", k->node_name, r->error);
		k->next_status_ms = kubelet_now_ms() + 3000;
	}
	kop_free(op);
}

static void register_node(struct kubelet *k)
{
	char ts[32];
	json_t *node, *spec = json_object();
	struct kop *op;

	now_string(ts, sizeof(ts), false);
	if (k->cfg.pod_cidr) {
		json_object_set_new(spec, "podCIDR", json_string(k->cfg.pod_cidr));
		json_object_set_new(spec, "podCIDRs", json_pack("[s]", k->cfg.pod_cidr));
	}
	node = json_pack("{s:s, s:s, s:{s:s, s:o}, s:o, s:o}", "apiVersion", "v1", "kind", "Node", "metadata", "name",
			 k->node_name, "labels", node_labels(k), "spec", spec, "status", node_status(k, ts));
	op = kop_new(k, NULL, OP_NODE_CREATE);
	k->registering = true;
	op->rreq = rest_create(k->rest, "/api/v1/nodes", node, on_registered, op);
	json_decref(node);
	if (!op->rreq) {
		k->registering = false;
		kop_free(op);
	}
}

static void on_lease_done(const struct rest_response *r, void *data)
{
	struct kop *op = data;
	struct kubelet *k = op->k;
	bool create = op->flag;

	op->rreq = NULL;
	k->lease_busy = false;
	if (!r->error) {
		k->lease_exists = true;
	} else if (create && r->status == 409) {
		k->lease_exists = true;
		k->next_lease_ms = 0; /* renew the old one now */
	} else if (r->status == 404) {
		k->lease_exists = false;
		k->next_lease_ms = 0;
	} else {
		log_warn("kubelet cannot renew the lease of node '%s': %s", k->node_name, r->error);
		k->next_lease_ms = kubelet_now_ms() + 1000;
	}
	kop_free(op);
}

static void renew_lease(struct kubelet *k)
{
	char now[40];
	struct kop *op = kop_new(k, NULL, OP_LEASE);
	json_t *spec;
	char *path;

	now_string(now, sizeof(now), true);
	spec = json_pack("{s:s, s:i, s:s}", "holderIdentity", k->node_name, "leaseDurationSeconds", LEASE_DURATION_S,
			 "renewTime", now);
	k->lease_busy = true;
	op->flag = !k->lease_exists;
	if (!k->lease_exists) {
		json_t *lease = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "coordination.k8s.io/v1", "kind",
					  "Lease", "metadata", "name", k->node_name, "namespace", LEASE_NS, "spec", spec);
		if (k->node_uid)
			obj_set(lease, "metadata.ownerReferences",
				json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion", "v1", "kind", "Node", "name", k->node_name,
					  "uid", k->node_uid));
		op->rreq = rest_create(k->rest, "/apis/coordination.k8s.io/v1/namespaces/" LEASE_NS "/leases", lease,
				       on_lease_done, op);
		json_decref(lease);
	} else {
		json_t *patch = json_pack("{s:o}", "spec", spec);
		path = xasprintf("/apis/coordination.k8s.io/v1/namespaces/" LEASE_NS "/leases/%s", k->node_name);
		op->rreq = rest_patch(k->rest, path, "application/merge-patch+json", patch, on_lease_done, op);
		json_decref(patch);
		free(path);
	}
	if (!op->rreq) {
		k->lease_busy = false;
		kop_free(op);
	}
}

void node_tick(struct kubelet *k, int64_t now)
{
	/* A kubelet that just started does not know yet whether it is ready:
	 * saying NotReady for a second would mark every pod of a restarted
	 * kubelet unready. Wait for the engine (at most 15 s). */
	if (now - k->started_ms < 15000 && (!k->docker_up || (k->pod_cidr && !k->network_ready && !k->network_failed)))
		return;
	if (!k->registered) {
		if (!k->registering && now >= k->next_status_ms)
			register_node(k);
		return;
	}
	if (!k->lease_busy && now >= k->next_lease_ms) {
		k->next_lease_ms = now + LEASE_RENEW_MS;
		renew_lease(k);
	}
	if (!k->status_busy && now >= k->next_status_ms)
		post_status(k, now);
}

void node_seen(struct kubelet *k, json_t *node, bool deleted)
{
	const char *cidr, *uid;
	json_t *c;
	size_t i;

	if (deleted) {
		if (k->registered)
			log_warn("kubelet node '%s' was deleted; registering it again", k->node_name);
		k->registered = false;
		k->next_status_ms = 0;
		json_decref(k->node_obj);
		k->node_obj = NULL;
		return;
	}
	if (k->node_obj != node) {
		json_decref(k->node_obj);
		k->node_obj = json_incref(node);
	}
	uid = obj_str(node, "metadata.uid");
	if (uid && (!k->node_uid || strcmp(uid, k->node_uid))) {
		free(k->node_uid);
		k->node_uid = xstrdup(uid);
	}
	cidr = obj_str(node, "spec.podCIDR");
	if (!k->cfg.pod_cidr && cidr && *cidr && (!k->pod_cidr || strcmp(cidr, k->pod_cidr))) {
		log_info("kubelet node=%s podCIDR=%s", k->node_name, cidr);
		free(k->pod_cidr);
		k->pod_cidr = xstrdup(cidr);
		k->network_ready = false;
	}
	/* The node controller marked us Unknown (a lapsed lease): answer now. */
	json_array_foreach(obj_get(node, "status.conditions"), i, c) {
		if (!strcmp(obj_str(c, "type") ?: "", "Ready") && strcmp(obj_str(c, "status") ?: "", "True") &&
		    k->docker_up && k->network_ready && kubelet_now_ms() - k->last_status_ms > 1000)
			k->next_status_ms = 0;
	}
}

/* ---- the pod network --------------------------------------------------------------- */

struct iptables_run {
	uv_process_t proc;
	struct kubelet *k;
};

static void on_iptables_closed(uv_handle_t *h)
{
	struct iptables_run *run = h->data;
	struct kubelet *k = run->k;

	free(run);
	kubelet_handle_closed(k);
}

static void on_iptables_exit(uv_process_t *proc, int64_t status, int sig)
{
	struct iptables_run *run = proc->data;
	struct kubelet *k = run->k;

	k->iptables_busy = false;
	if (status == 0 && sig == 0) {
		k->iptables_done = true;
		log_info("kubelet iptables rules in place cidr=%s", k->cfg.non_masquerade_cidr);
	} else {
		log_warn("kubelet could not add the iptables rules for %s (exit %lld); pods of other nodes may not "
			 "reach this node's pods; retrying in a minute",
			 k->cfg.non_masquerade_cidr, (long long)status);
		k->network_retry_ms = kubelet_now_ms() + 60000;
	}
	uv_close((uv_handle_t *)proc, on_iptables_closed);
}

static void ensure_iptables(struct kubelet *k)
{
	const char *c = k->cfg.non_masquerade_cidr;
	char *script = xasprintf(
		"command -v iptables >/dev/null || exit 3\n"
		"iptables -w -C DOCKER-USER -s %s -j ACCEPT 2>/dev/null || iptables -w -I DOCKER-USER 1 -s %s -j ACCEPT || exit 1\n"
		"iptables -w -C DOCKER-USER -d %s -j ACCEPT 2>/dev/null || iptables -w -I DOCKER-USER 1 -d %s -j ACCEPT || exit 1\n"
		"iptables -w -t nat -C POSTROUTING -s %s -d %s -j RETURN 2>/dev/null || "
		"iptables -w -t nat -I POSTROUTING 1 -s %s -d %s -j RETURN || exit 1\n",
		c, c, c, c, c, c, c, c);
	char *args[] = { "/bin/sh", "-c", script, NULL };
	struct iptables_run *run = xcalloc(1, sizeof(*run));
	uv_process_options_t o = { 0 };
	uv_stdio_container_t stdio[3];
	int rc;

	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_IGNORE;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = 2;
	o.file = "/bin/sh";
	o.args = args;
	o.exit_cb = on_iptables_exit;
	o.stdio = stdio;
	o.stdio_count = 3;
	run->k = k;
	run->proc.data = run;
	rc = uv_spawn(k->loop, &run->proc, &o);
	free(script);
	if (rc < 0) {
		log_warn("kubelet cannot run iptables: %s", uv_strerror(rc));
		k->network_retry_ms = kubelet_now_ms() + 60000;
		/* uv_spawn failed: the handle still needs a close. */
		kubelet_handle_opened(k);
		uv_close((uv_handle_t *)&run->proc, on_iptables_closed);
		return;
	}
	kubelet_handle_opened(k);
	k->iptables_busy = true;
}

static void network_up(struct kubelet *k, const json_t *net)
{
	const char *gw = obj_str(json_array_get(obj_get(net, "IPAM.Config"), 0), "Gateway");

	free(k->gateway);
	k->gateway = gw ? xstrdup(gw) : NULL;
	k->network_ready = true;
	k->next_status_ms = 0;
	log_info("kubelet pod network ready name=%s subnet=%s gateway=%s", k->network, k->pod_cidr, gw ? gw : "");
	for (struct kpod *p = k->kpods; p; p = p->next)
		kpod_enqueue(p);
}

static void network_check(struct kubelet *k);

static void on_network_created(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kubelet *k = op->k;

	op->dreq = NULL;
	k->network_busy = false;
	kop_free(op);
	if (r->error) {
		log_error("kubelet cannot create the pod network '%s' on %s: %s; retrying in 10s", k->network, k->pod_cidr,
			  r->error);
		k->network_failed = true;
		k->network_retry_ms = kubelet_now_ms() + 10000;
		return;
	}
	/* Read it back for the gateway. */
	network_check(k);
}

static void create_network(struct kubelet *k, struct kop *op)
{
	json_t *body = json_pack("{s:s, s:s, s:b, s:{s:s, s:[{s:s}]}, s:{s:s}, s:{s:s, s:s}}", "Name", k->network,
				 "Driver", "bridge", "CheckDuplicate", true, "IPAM", "Driver", "default", "Config",
				 "Subnet", k->pod_cidr, "Labels", LABEL_NODE, k->node_name, "Options",
				 "com.docker.network.bridge.enable_icc", "true",
				 "com.docker.network.bridge.enable_ip_masquerade", "true");

	log_info("kubelet creating pod network name=%s subnet=%s", k->network, k->pod_cidr);
	op->dreq = docker_call(k->docker, "POST", "/networks/create", body, 0, on_network_created, op);
	json_decref(body);
	if (!op->dreq) {
		k->network_busy = false;
		kop_free(op);
	}
}

static void on_network_removed(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kubelet *k = op->k;

	op->dreq = NULL;
	if (r->error && r->status != 404) {
		log_error("kubelet cannot remove the old pod network '%s': %s", k->network, r->error);
		k->network_busy = false;
		k->network_retry_ms = kubelet_now_ms() + 10000;
		kop_free(op);
		return;
	}
	create_network(k, op);
}

static void on_network_inspected(const struct docker_result *r, void *data)
{
	struct kop *op = data;
	struct kubelet *k = op->k;
	const char *subnet;

	op->dreq = NULL;
	if (r->error && r->status == 404) {
		create_network(k, op);
		return;
	}
	if (r->error) {
		k->network_busy = false;
		k->network_retry_ms = kubelet_now_ms() + 5000;
		if (r->unreachable)
			kubelet_docker_unreachable(k);
		kop_free(op);
		return;
	}
	subnet = obj_str(json_array_get(obj_get(r->body, "IPAM.Config"), 0), "Subnet");
	if (subnet && strcmp(subnet, k->pod_cidr)) {
		if (!json_object_size(obj_get(r->body, "Containers"))) {
			char *path = xasprintf("/networks/%s", k->network);
			log_info("kubelet pod network name=%s has subnet %s, want %s: recreating", k->network, subnet,
				 k->pod_cidr);
			op->dreq = docker_call(k->docker, "DELETE", path, NULL, 0, on_network_removed, op);
			free(path);
			if (!op->dreq) {
				k->network_busy = false;
				kop_free(op);
			}
			return;
		}
		log_warn("kubelet pod network '%s' has subnet %s but the node's podCIDR is %s; it still has containers, "
			 "so it stays as it is", k->network, subnet, k->pod_cidr);
	}
	k->network_busy = false;
	network_up(k, r->body);
	kop_free(op);
}

static void network_check(struct kubelet *k)
{
	struct kop *op = kop_new(k, NULL, OP_NETWORK);
	char *path = xasprintf("/networks/%s", k->network);

	k->network_busy = true;
	op->dreq = docker_call(k->docker, "GET", path, NULL, 0, on_network_inspected, op);
	free(path);
	if (!op->dreq) {
		k->network_busy = false;
		kop_free(op);
	}
}

void network_tick(struct kubelet *k, int64_t now)
{
	const char *cidr = k->cfg.pod_cidr ? k->cfg.pod_cidr : obj_str(k->node_obj, "spec.podCIDR");

	if (!cidr || !*cidr)
		return;
	if (!k->pod_cidr || strcmp(k->pod_cidr, cidr)) {
		free(k->pod_cidr);
		k->pod_cidr = xstrdup(cidr);
		k->network_ready = false;
	}
	if (k->network_ready) {
		if (k->cfg.manage_iptables && !k->iptables_done && !k->iptables_busy && now >= k->network_retry_ms)
			ensure_iptables(k);
		return;
	}
	if (k->network_busy || !k->docker_up || now < k->network_retry_ms)
		return;
	network_check(k);
}
