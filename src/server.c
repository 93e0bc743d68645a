/*
 * `minik8s server`, `minik8s apiserver` and `minik8s token`: the commands
 * that run a control plane. Each component runs on its own libuv loop;
 * `server` starts them together (and writes the admin kubeconfig), and
 * accepts every flag of every component it runs. SIGINT and SIGTERM stop
 * everything cleanly: watches end, queued writes commit, handles close.
 */
#include "agent/agent.h"
#include "apiserver/apiserver.h"
#include "apiserver/pki.h"
#include "client/kubeconfig.h"
#include "commands.h"
#include "core/component.h"
#include "core/flags.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct apiserver_config apiserver_defaults(void)
{
	struct apiserver_config c = {
		.data_dir = NULL,
		.secure_port = 6443,
		.bind_address = "0.0.0.0",
		.service_cluster_ip_range = "10.96.0.0/12",
		.service_node_port_range = "30000-32767",
		.event_ttl_ms = 3600 * 1000,
		.default_unreachable_toleration_s = 60,
		.default_not_ready_toleration_s = 60,
		.watch_bookmark_interval_ms = 60000,
	};
	return c;
}

static struct apiserver_config acfg;
static char *log_level;

static const struct flag common_flags[] = {
	{ "data-dir", FLAG_STRING, &acfg.data_dir,
	  "where state, certificates and tokens live (default /var/lib/minik8s as root, else ~/.minik8s/data)" },
	{ "v", FLAG_STRING, &log_level, "log level: error, warn, info, debug, trace (or 0-4)" },
	{ NULL, 0, NULL, NULL },
};

static const struct flag apiserver_flags[] = {
	{ "secure-port", FLAG_INT, &acfg.secure_port, "HTTPS port (default 6443; 0 picks a free one)" },
	{ "bind-address", FLAG_STRING, &acfg.bind_address, "address to listen on (default 0.0.0.0)" },
	{ "advertise-address", FLAG_STRING, &acfg.advertise_address,
	  "address the kubernetes Service's endpoints point at (default: this machine's first address)" },
	{ "service-cluster-ip-range", FLAG_STRING, &acfg.service_cluster_ip_range,
	  "CIDR that Service ClusterIPs come from (default 10.96.0.0/12)" },
	{ "service-node-port-range", FLAG_STRING, &acfg.service_node_port_range,
	  "port range for NodePorts (default 30000-32767)" },
	{ "watch-cache-size", FLAG_INT, &acfg.watch_cache_size,
	  "watch events kept so a client can resume a watch from an older resourceVersion (default 10000; Kubernetes keeps far fewer)" },
	{ "tls-san", FLAG_LIST, &acfg.tls_sans, "extra DNS name or IP for the serving certificate (repeatable)" },
	{ "event-ttl", FLAG_DURATION, &acfg.event_ttl_ms, "how long Events are kept (default 1h)" },
	{ "default-unreachable-toleration-seconds", FLAG_INT64, &acfg.default_unreachable_toleration_s,
	  "tolerationSeconds of the unreachable taint added to every pod (default 60)" },
	{ "default-not-ready-toleration-seconds", FLAG_INT64, &acfg.default_not_ready_toleration_s,
	  "tolerationSeconds of the not-ready taint added to every pod (default 60)" },
	{ NULL, 0, NULL, NULL },
};

/* ---- running a loop until a signal -------------------------------------- */

struct runner {
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct apiserver as;
	bool stopping;
	/* Components on their own threads (server only), stopped before the
	 * apiserver so they never see it vanish mid-request. */
	struct component_thread *threads[4];
	int nthreads;
};

static void on_signal_closed(uv_handle_t *h)
{
	(void)h;
}

static void on_apiserver_stopped(void *data)
{
	struct runner *r = data;

	uv_close((uv_handle_t *)&r->sigint, on_signal_closed);
	uv_close((uv_handle_t *)&r->sigterm, on_signal_closed);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct runner *r = s->data;

	if (r->stopping) {
		log_warn("second signal: exiting now");
		exit(1);
	}
	r->stopping = true;
	log_info("stopping signal=%d", signum);
	for (int i = r->nthreads - 1; i >= 0; i--)
		if (component_thread_stop(r->threads[i]) != 0)
			log_warn("a component did not close all its handles");
	r->nthreads = 0;
	apiserver_stop(&r->as, on_apiserver_stopped, r);
}

/* Startup failed part way: stop what did start, let the loop close it, exit 1. */
static int abort_run(struct runner *r)
{
	for (int i = r->nthreads - 1; i >= 0; i--)
		component_thread_stop(r->threads[i]);
	r->nthreads = 0;
	r->stopping = true;
	uv_signal_init(&r->loop, &r->sigint);
	uv_signal_init(&r->loop, &r->sigterm);
	apiserver_stop(&r->as, on_apiserver_stopped, r);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	uv_loop_close(&r->loop);
	return 1;
}

static int run_apiserver_loop(struct runner *r)
{
	int rc;

	uv_signal_init(&r->loop, &r->sigint);
	uv_signal_init(&r->loop, &r->sigterm);
	r->sigint.data = r->sigterm.data = r;
	uv_signal_start(&r->sigint, on_signal, SIGINT);
	uv_signal_start(&r->sigterm, on_signal, SIGTERM);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&r->loop);
	if (rc)
		log_warn("event loop closed with handles still open: %s", uv_strerror(rc));
	return rc ? 1 : 0;
}

static int parse_component_flags(const struct flag *const *tables, const char *usage, int argc, char **argv)
{
	acfg = apiserver_defaults();
	if (flags_parse(tables, usage, argc, argv) < 0)
		return -1;
	if (log_level && log_set_level(log_level) < 0)
		return error("invalid --v '%s': use error, warn, info, debug or trace", log_level);
	if (!acfg.data_dir)
		acfg.data_dir = component_default_data_dir();
	return 0;
}

/* Writes <data-dir>/admin.kubeconfig and, for the user who started the
 * server, ~/.minik8s/config (never ~/.kube/config). */
static int write_admin_kubeconfig(struct apiserver *as)
{
	char *server, *path;
	struct kubeconfig *kc;
	struct strbuf err;
	int rc = 0;

	server = xasprintf("https://127.0.0.1:%d", as->cfg.secure_port);
	kc = kubeconfig_new(server, auth_admin_token(as->auth));
	kubeconfig_set_ca(kc, as->ca_pem, as->ca_pem_len);
	strbuf_init(&err, 0);
	path = xasprintf("%s/admin.kubeconfig", as->cfg.data_dir);
	if (kubeconfig_write(kc, path, &err) < 0)
		rc = error("%s", err.buf);
	free(path);
	path = kubeconfig_default_path();
	strbuf_reset(&err);
	if (kubeconfig_write(kc, path, &err) < 0)
		log_warn("cannot write the user kubeconfig: %s", err.buf);
	else
		log_info("kubeconfig written file=%s", path);
	free(path);
	strbuf_release(&err);
	kubeconfig_free(kc);
	free(server);
	return rc;
}

int cmd_apiserver(int argc, char **argv)
{
	static const struct flag *const tables[] = { common_flags, apiserver_flags, NULL };
	struct runner r = { 0 };

	log_set_component("apiserver");
	if (parse_component_flags(tables, "usage: minik8s apiserver [flags]\n\nRuns the API server alone.\n", argc,
				  argv) < 0)
		return 1;
	r.as.cfg = acfg;
	uv_loop_init(&r.loop);
	if (apiserver_start(&r.as, &r.loop) < 0 || write_admin_kubeconfig(&r.as) < 0)
		return abort_run(&r);
	return run_apiserver_loop(&r);
}

int cmd_server(int argc, char **argv)
{
	static bool disable_agent;
	static const struct flag server_flags[] = {
		{ "disable-agent", FLAG_BOOL, &disable_agent,
		  "run only the control plane, no kubelet and proxy on this machine" },
		{ NULL, 0, NULL, NULL },
	};
	static const struct component *const control_plane[] = { &controller_manager_component,
								 &scheduler_component };
	const struct flag *tables[12] = { common_flags, apiserver_flags, server_flags };
	struct runner r = { 0 };
	char *token, *kubeconfig, *self;
	int n = 3;

	/* `server` accepts every flag of the components it runs; the agent's
	 * own (--server, --token) it sets itself. */
	for (size_t i = 0; i < ARRAY_SIZE(control_plane); i++)
		n += component_flag_tables(control_plane[i], tables + n, (int)ARRAY_SIZE(tables) - n - 1);
	for (const struct component *const *p = agent_component.parts; *p; p++)
		n += component_flag_tables(*p, tables + n, (int)ARRAY_SIZE(tables) - n - 1);

	log_set_component("apiserver");
	if (parse_component_flags(tables,
				  "usage: minik8s server [flags]\n\nRuns a whole cluster on this machine: the API "
				  "server, the controller manager and the scheduler,\nand (unless --disable-agent) "
				  "this machine's node, joined over loopback like any other agent.\n",
				  argc, argv) < 0)
		return 1;
	r.as.cfg = acfg;
	uv_loop_init(&r.loop);
	if (apiserver_start(&r.as, &r.loop) < 0 || write_admin_kubeconfig(&r.as) < 0)
		return abort_run(&r);
	kubeconfig = xasprintf("%s/admin.kubeconfig", acfg.data_dir);
	for (size_t i = 0; i < ARRAY_SIZE(control_plane); i++) {
		struct component_thread *t = component_thread_start(control_plane[i], kubeconfig);
		if (!t) {
			error("cannot start the %s; see the messages above", control_plane[i]->name);
			free(kubeconfig);
			return abort_run(&r);
		}
		r.threads[r.nthreads++] = t;
	}
	token = pki_join_token(acfg.data_dir);
	if (!token) {
		free(kubeconfig);
		return abort_run(&r);
	}
	log_info("cluster up; join nodes with: minik8s agent --server https://%s:%d --token %s", r.as.self_address,
		 r.as.cfg.secure_port, token);
	if (!disable_agent) {
		/* Spawned, not started: its join needs this thread's loop running. */
		self = xasprintf("https://127.0.0.1:%d", r.as.cfg.secure_port);
		agent_set_join(self, token, acfg.data_dir);
		r.threads[r.nthreads++] = component_thread_spawn(&agent_component, kubeconfig);
		free(self);
	}
	free(token);
	free(kubeconfig);
	return run_apiserver_loop(&r);
}

int cmd_token(int argc, char **argv)
{
	static const struct flag *const tables[] = { common_flags, NULL };
	char *token;

	if (parse_component_flags(tables, "usage: minik8s token [--data-dir DIR]\n\nPrints the node-join token.\n",
				  argc, argv) < 0)
		return 1;
	token = pki_join_token(acfg.data_dir);
	if (!token)
		return error("no cluster in '%s': start one with `minik8s server --data-dir %s` first",
			     acfg.data_dir, acfg.data_dir), 1;
	printf("%s\n", token);
	free(token);
	return 0;
}
