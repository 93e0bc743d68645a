/*
 * The load generator of bench/scheduler (run.sh starts the cluster and the
 * hollow nodes, then this). Two phases against the same apiserver:
 *   1. baseline: create N pods that no scheduler serves (schedulerName
 *      "bench-nobody") and time how long the apiserver takes to accept them,
 *      then delete them;
 *   2. the run: create N pods (or Deployments with N replicas in all) and,
 *      through a watch, time every pod's binding and its Running+Ready.
 * It prints pods bound per second, the time until all run, the control
 * plane's peak RSS (VmHWM of --server-pid) and the ratio to the baseline.
 *
 * With --scheduler-bin the run is a backlog instead: the server's own
 * scheduler serves another schedulerName (run.sh passes --scheduler-name
 * bench-held), all pods are created first (their creation is the baseline),
 * and only then a `minik8s scheduler` process starts and binds the backlog,
 * so its rate is the scheduler's and not the creator's.
 */
#include "client/kubeconfig.h"
#include "client/rest.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct bench {
	uv_loop_t loop;
	struct rest_client *rc;
	const char *ns;
	const char *scheduler_name;  /* NULL: the default scheduler */
	int total, concurrency, inflight, next, created, failed;
	uint64_t t_start, t_created;
	/* the run's watch */
	struct rest_request *watch;
	uint8_t *state;              /* per pod: bit 1 bound, bit 2 running */
	int bound, running;
	uint64_t t_all_bound, t_all_running, t_first_bound;
	uv_timer_t progress;
	bool watching, done;
	int deployments;             /* >0: the workload is this many Deployments */
};

static const char *kubeconfig_path;
static int opt_pods = 30000, opt_nodes = 1000, opt_concurrency = 64, opt_server_pid, opt_hollow_pid, opt_deployments;
static int opt_timeout_s = 900;
static bool opt_skip_baseline;
static const char *opt_scheduler_bin, *opt_scheduler_log;
static pid_t scheduler_pid;
static uint64_t t_scheduler_start;

/* Backlog mode: once every pod exists, start the scheduler that binds them. */
static void start_scheduler(void)
{
	scheduler_pid = fork();
	if (scheduler_pid < 0)
		die("cannot fork the scheduler");
	if (scheduler_pid == 0) {
		if (opt_scheduler_log) {
			FILE *f = freopen(opt_scheduler_log, "a", stderr);
			(void)f;
		}
		execl(opt_scheduler_bin, opt_scheduler_bin, "scheduler", "--kubeconfig", kubeconfig_path, (char *)NULL);
		_exit(127);
	}
	t_scheduler_start = now_ms();
	fprintf(stderr, "backlog: %s scheduler started (pid %d)\n", opt_scheduler_bin, (int)scheduler_pid);
}

/* ---- small synchronous helpers on the loop ------------------------------ */

struct sync_call {
	bool done;
	int status;
	json_t *body;
	char *error;
};

static void on_sync_done(const struct rest_response *resp, void *data)
{
	struct sync_call *s = data;

	s->done = true;
	s->status = resp->status;
	s->body = resp->body ? json_incref(resp->body) : NULL;
	s->error = resp->error ? xstrdup(resp->error) : NULL;
}

static int call(struct bench *b, const char *method, const char *path, json_t *body, long timeout_ms,
		json_t **out)
{
	struct sync_call s = { 0 };
	struct rest_options opts = { .timeout_ms = timeout_ms };

	if (!rest_call(b->rc, method, path, body, &opts, on_sync_done, &s))
		return -1;
	while (!s.done)
		uv_run(&b->loop, UV_RUN_ONCE);
	if (out)
		*out = s.body;
	else
		json_decref(s.body);
	free(s.error);
	return s.status >= 200 && s.status < 300 ? 0 : -s.status;
}

static void ensure_namespace(struct bench *b, const char *ns)
{
	json_t *obj = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", ns);

	call(b, "POST", "/api/v1/namespaces", obj, 0, NULL);
	json_decref(obj);
}

static long peak_rss_kb(int pid, const char *field)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			kb = strtol(line + strlen(field) + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* Starts the process's peak RSS (VmHWM) over from its current RSS (Linux
 * 4.0+): the run's peak is then the run's, not the baseline's. */
static bool reset_peak_rss(int pid)
{
	char path[64];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/%d/clear_refs", pid);
	if (!(f = fopen(path, "w")))
		return false;
	ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok;
}

/* CPU time of a process, in ms, by thread name (threads are named after
 * their component), from /proc/PID/task/TID/stat. Threads that ended are in
 * the process's total only. */
#define CPU_MAX_NAMES 16

struct cpu_sample {
	int n;
	char name[CPU_MAX_NAMES][20];
	double ms[CPU_MAX_NAMES];
	double total;
};

/* utime + stime of one stat file in ms, and the thread's name. */
static double stat_cpu_ms(const char *path, char *name, size_t len)
{
	char buf[1024], *open, *close;
	unsigned long long ut = 0, st = 0;
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	open = strchr(buf, '(');
	close = strrchr(buf, ')');
	if (!open || !close)
		return -1;
	if (name)
		snprintf(name, len, "%.*s", (int)(close - open - 1), open + 1);
	/* after ") ": state(3) ... utime(14) stime(15) */
	if (sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static void cpu_sample(int pid, struct cpu_sample *s)
{
	char path[64], name[20];
	struct dirent *d;
	DIR *dir;

	memset(s, 0, sizeof(*s));
	if (pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	s->total = stat_cpu_ms(path, NULL, 0);
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(dir = opendir(path)))
		return;
	while ((d = readdir(dir))) {
		char tpath[300];
		double ms;
		int i;

		if (d->d_name[0] == '.')
			continue;
		snprintf(tpath, sizeof(tpath), "/proc/%d/task/%s/stat", pid, d->d_name);
		if ((ms = stat_cpu_ms(tpath, name, sizeof(name))) < 0)
			continue;
		for (i = 0; i < s->n && strcmp(s->name[i], name); i++)
			;
		if (i == s->n) {
			if (s->n == CPU_MAX_NAMES)
				continue;
			snprintf(s->name[s->n++], sizeof(s->name[0]), "%s", name);
		}
		s->ms[i] += ms;
	}
	closedir(dir);
}

/* CPU each thread name used between two samples, per pod. */
static void print_cpu(const char *what, const struct cpu_sample *a, const struct cpu_sample *b, int pods)
{
	printf("%s CPU per pod: %.3f ms", what, (b->total - a->total) / pods);
	for (int i = 0; i < b->n; i++) {
		double before = 0;

		for (int j = 0; j < a->n; j++)
			if (!strcmp(a->name[j], b->name[i]))
				before = a->ms[j];
		if (b->ms[i] - before >= 0.5)
			printf("%s %s %.3f", i ? "," : " (", b->name[i], (b->ms[i] - before) / pods);
	}
	printf("%s\n", b->n ? ")" : "");
}

/* ---- creating ------------------------------------------------------------ */

static json_t *pod_object(struct bench *b, int i)
{
	char name[32];
	json_t *pod;

	snprintf(name, sizeof(name), "bench-%06d", i);
	pod = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:[{s:s, s:s, s:{s:{s:s, s:s}}}]}}", "apiVersion", "v1",
			"kind", "Pod", "metadata", "name", name, "labels", "app", "bench", "spec", "containers", "name",
			"main", "image", "registry.k8s.io/pause:3.9", "resources", "requests", "cpu", "10m", "memory",
			"16Mi");
	if (b->scheduler_name)
		obj_set(pod, "spec.schedulerName", json_string(b->scheduler_name));
	return pod;
}

static json_t *deployment_object(int i, int replicas)
{
	char name[32];

	snprintf(name, sizeof(name), "bench-%03d", i);
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:i, s:{s:{s:s}}, s:{s:{s:{s:s}}, s:{s:[{s:s, s:s, s:{s:{s:s, s:s}}}]}}}}",
			 "apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name", name, "spec", "replicas",
			 replicas, "selector", "matchLabels", "app", name, "template", "metadata", "labels", "app", name,
			 "spec", "containers", "name", "main", "image", "registry.k8s.io/pause:3.9", "resources",
			 "requests", "cpu", "10m", "memory", "16Mi");
}

static void create_more(struct bench *b);

static void on_created(const struct rest_response *resp, void *data)
{
	struct bench *b = data;

	b->inflight--;
	if (resp->error) {
		b->failed++;
		if (b->failed < 5)
			fprintf(stderr, "create failed: %s\n", resp->error);
	} else {
		b->created++;
	}
	if (b->created + b->failed == (b->deployments ? b->deployments : b->total)) {
		b->t_created = now_ms();
		if (opt_scheduler_bin && !scheduler_pid && b->watching)
			start_scheduler();
	}
	create_more(b);
}

static void create_more(struct bench *b)
{
	int goal = b->deployments ? b->deployments : b->total;

	while (b->inflight < b->concurrency && b->next < goal) {
		char *path;
		json_t *obj;
		if (b->deployments) {
			int per = b->total / b->deployments + (b->next < b->total % b->deployments);
			obj = deployment_object(b->next, per);
			path = xasprintf("/apis/apps/v1/namespaces/%s/deployments", b->ns);
		} else {
			obj = pod_object(b, b->next);
			path = xasprintf("/api/v1/namespaces/%s/pods", b->ns);
		}
		if (!rest_create(b->rc, path, obj, on_created, b))
			die("cannot start a create");
		json_decref(obj);
		free(path);
		b->inflight++;
		b->next++;
	}
}

/* ---- the run's watch ---------------------------------------------------------- */

static int pod_index(struct bench *b, const json_t *obj)
{
	const char *name = obj_name(obj);

	if (b->deployments) {
		/* Deployment pods have generated names: count them by arrival. */
		return -1;
	}
	if (!name || strncmp(name, "bench-", 6))
		return -1;
	return atoi(name + 6);
}

static bool pod_running(const json_t *obj)
{
	json_t *conds = obj_get(obj, "status.conditions"), *c;
	size_t i;

	if (strcmp(obj_str(obj, "status.phase") ?: "", "Running"))
		return false;
	json_array_foreach(conds, i, c)
		if (!strcmp(obj_str(c, "type") ?: "", "Ready"))
			return !strcmp(obj_str(c, "status") ?: "", "True");
	return false;
}

/* Deployment pods: keyed by name in a JSON object (only in that mode). */
static json_t *by_name;

static void on_event(const char *type, json_t *obj, void *data)
{
	struct bench *b = data;
	int i = pod_index(b, obj);
	uint8_t *st, dummy = 0;
	const char *node = obj_str(obj, "spec.nodeName");
	uint64_t now = now_ms();

	if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED"))
		return;
	if (b->deployments) {
		if (!obj_name(obj))
			return;
		dummy = (uint8_t)json_integer_value(json_object_get(by_name, obj_name(obj)));
		st = &dummy;
	} else {
		if (i < 0 || i >= b->total)
			return;
		st = &b->state[i];
	}
	if (node && *node && !(*st & 1)) {
		*st |= 1;
		if (!b->bound++)
			b->t_first_bound = now;
		if (b->bound == b->total)
			b->t_all_bound = now;
	}
	if (pod_running(obj) && !(*st & 2)) {
		*st |= 2;
		if (++b->running == b->total)
			b->t_all_running = now;
	}
	if (b->deployments)
		json_object_set_new(by_name, obj_name(obj), json_integer(*st));
}

static void on_watch_done(const struct rest_response *resp, void *data)
{
	struct bench *b = data;

	b->watch = NULL;
	if (!b->done)
		fprintf(stderr, "watch ended early: %s\n", resp->error ? resp->error : "closed by the server");
}

static void on_progress(uv_timer_t *t)
{
	struct bench *b = t->data;
	double s = (double)(now_ms() - b->t_start) / 1000.0;

	fprintf(stderr, "  %6.1fs created=%d bound=%d running=%d rss=%ld MB\n", s, b->created, b->bound, b->running,
		peak_rss_kb(opt_server_pid, "VmRSS") / 1024);
}

/* ---- phases ------------------------------------------------------------------------ */

static int count_ready_nodes(struct bench *b)
{
	json_t *list = NULL, *n, *c;
	size_t i, j;
	int ready = 0;

	if (call(b, "GET", "/api/v1/nodes", NULL, 60000, &list) < 0)
		return -1;
	json_array_foreach(json_object_get(list, "items"), i, n) {
		json_array_foreach(obj_get(n, "status.conditions"), j, c)
			if (!strcmp(obj_str(c, "type") ?: "", "Ready") && !strcmp(obj_str(c, "status") ?: "", "True"))
				ready++;
	}
	json_decref(list);
	return ready;
}

static double baseline(struct bench *b)
{
	uint64_t t0;
	char *path;

	ensure_namespace(b, "bench-baseline");
	b->ns = "bench-baseline";
	b->scheduler_name = "bench-nobody";
	b->next = b->created = b->failed = 0;
	b->deployments = 0;
	t0 = b->t_start = now_ms();
	create_more(b);
	while (b->created + b->failed < b->total)
		uv_run(&b->loop, UV_RUN_ONCE);
	b->t_created = now_ms();
	fprintf(stderr, "baseline: %d pods accepted in %.2fs (%d failed)\n", b->created,
		(double)(b->t_created - t0) / 1000.0, b->failed);
	path = xasprintf("/api/v1/namespaces/bench-baseline/pods");
	if (call(b, "DELETE", path, NULL, 600000, NULL) < 0)
		fprintf(stderr, "baseline: deleting the pods failed\n");
	free(path);
	return (double)(b->t_created - t0) / 1000.0;
}

/* CPU of the server, the hollow nodes and this client over the run. */
static struct cpu_sample cpu_before[3], cpu_after[3];

static void sample_all(struct cpu_sample *out)
{
	cpu_sample(opt_server_pid, &out[0]);
	cpu_sample(opt_hollow_pid, &out[1]);
	cpu_sample((int)getpid(), &out[2]);
}

static void run(struct bench *b)
{
	json_t *list = NULL;
	struct strbuf sb;
	uint64_t deadline;

	ensure_namespace(b, "bench");
	b->ns = "bench";
	b->scheduler_name = NULL;
	b->deployments = opt_deployments;
	b->next = b->created = b->failed = 0;
	b->t_created = 0;
	if (call(b, "GET", "/api/v1/namespaces/bench/pods", NULL, 60000, &list) < 0)
		die("cannot list pods in namespace bench");
	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "/api/v1/namespaces/bench/pods?watch=1&resourceVersion=%s&timeoutSeconds=3600",
		    obj_str(list, "metadata.resourceVersion") ?: "0");
	json_decref(list);
	b->watch = rest_watch(b->rc, sb.buf, on_event, on_watch_done, b);
	strbuf_release(&sb);
	if (!b->watch)
		die("cannot start the watch");
	sample_all(cpu_before);
	b->t_start = now_ms();
	b->watching = true;
	uv_timer_init(&b->loop, &b->progress);
	b->progress.data = b;
	uv_timer_start(&b->progress, on_progress, 5000, 5000);
	create_more(b);
	deadline = b->t_start + (uint64_t)opt_timeout_s * 1000;
	while (b->running < b->total && now_ms() < deadline && b->watch)
		uv_run(&b->loop, UV_RUN_ONCE);
	sample_all(cpu_after);
	b->done = true;
	uv_timer_stop(&b->progress);
	uv_close((uv_handle_t *)&b->progress, NULL);
	rest_cancel(b->watch);
	b->watch = NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-scheduler --kubeconfig FILE [--pods N] [--nodes N] [--concurrency N]\n"
			"                       [--server-pid PID] [--hollow-pid PID] [--deployments D] [--skip-baseline]\n"
			"                       [--timeout S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "kubeconfig", required_argument, NULL, 'k' }, { "pods", required_argument, NULL, 'p' },
		{ "nodes", required_argument, NULL, 'n' },      { "concurrency", required_argument, NULL, 'c' },
		{ "server-pid", required_argument, NULL, 's' }, { "deployments", required_argument, NULL, 'd' },
		{ "hollow-pid", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 't' },    { "skip-baseline", no_argument, NULL, 'b' },
		{ "scheduler-bin", required_argument, NULL, 'S' }, { "scheduler-log", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = { 0 };
	struct kubeconfig *kc;
	double t_base = 0, t_bound, t_running;
	uint64_t wait_start;
	long base_peak_kb = -1;
	bool run_peak_reset = false;
	int opt, ready;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'k': kubeconfig_path = optarg; break;
		case 'p': opt_pods = atoi(optarg); break;
		case 'n': opt_nodes = atoi(optarg); break;
		case 'c': opt_concurrency = atoi(optarg); break;
		case 's': opt_server_pid = atoi(optarg); break;
		case 'H': opt_hollow_pid = atoi(optarg); break;
		case 'd': opt_deployments = atoi(optarg); break;
		case 't': opt_timeout_s = atoi(optarg); break;
		case 'b': opt_skip_baseline = true; break;
		case 'S': opt_scheduler_bin = optarg; break;
		case 'L': opt_scheduler_log = optarg; break;
		default: usage();
		}
	}
	if (!kubeconfig_path || opt_pods <= 0)
		usage();
	log_set_level("warn");
	if (kubeconfig_load(kubeconfig_path, NULL, &kc, NULL) < 0)
		return 1;
	uv_loop_init(&b.loop);
	b.rc = rest_client_new(&b.loop, kc);
	kubeconfig_free(kc);
	if (!b.rc)
		return 1;
	rest_client_set_timeout(b.rc, 120000);
	b.total = opt_pods;
	b.concurrency = opt_concurrency;
	b.state = xcalloc((size_t)b.total, 1);
	by_name = json_object();

	wait_start = now_ms();
	while ((ready = count_ready_nodes(&b)) < opt_nodes) {
		if (now_ms() - wait_start > 300000)
			die("only %d of %d nodes became Ready", ready, opt_nodes);
		uv_sleep(1000);
	}
	fprintf(stderr, "nodes: %d Ready after %.1fs\n", ready, (double)(now_ms() - wait_start) / 1000.0);

	/* A backlog's creation is its own baseline. */
	if (!opt_skip_baseline && !opt_scheduler_bin) {
		t_base = baseline(&b);
		base_peak_kb = peak_rss_kb(opt_server_pid, "VmHWM");
		/* The baseline's 30,000 creates and one delete of them all are a
		 * different load: the run's peak is measured on its own. */
		if (opt_server_pid > 0) {
			/* The reset starts from the current RSS: first let the
			 * apiserver give back what the baseline freed (it trims
			 * every 5 s), until its RSS stops falling (at most 15 s). */
			long rss = peak_rss_kb(opt_server_pid, "VmRSS"), last;

			for (int i = 0; i < 15; i++) {
				uv_sleep(1000);
				last = rss;
				rss = peak_rss_kb(opt_server_pid, "VmRSS");
				if (i >= 5 && rss >= last)
					break;
			}
			run_peak_reset = reset_peak_rss(opt_server_pid);
		}
	}
	fprintf(stderr, "run: %d pods as %s, concurrency %d\n", b.total,
		opt_deployments ? "Deployments" : "pods created directly", opt_concurrency);
	run(&b);

	if (opt_scheduler_bin) {
		/* Rates count from the scheduler's start; the creation is the baseline. */
		double t_sched = (double)(now_ms() - t_scheduler_start) / 1000.0;
		long sched_rss = scheduler_pid > 0 ? peak_rss_kb((int)scheduler_pid, "VmHWM") : -1;
		long server_rss = peak_rss_kb(opt_server_pid, "VmHWM");

		(void)t_sched;
		t_base = b.t_created && b.t_start ? (double)(b.t_created - b.t_start) / 1000.0 : -1;
		t_bound = b.t_all_bound ? (double)(b.t_all_bound - t_scheduler_start) / 1000.0 : -1;
		t_running = b.t_all_running ? (double)(b.t_all_running - t_scheduler_start) / 1000.0 : -1;
		printf("workload:            backlog of %d pods created directly, then `minik8s scheduler` started, "
		       "%d hollow nodes\n", b.total, ready);
		printf("baseline: apiserver accepted %d pod creates in %.2f s (%.0f/s), nothing scheduling\n", b.total,
		       t_base, b.total / t_base);
		printf("all bound after:     %.2f s from the scheduler's start (%d bound)\n", t_bound, b.bound);
		printf("pods bound/s:        %.0f\n", t_bound > 0 ? b.total / t_bound : 0.0);
		printf("all Running after:   %.2f s from the scheduler's start (%d running)\n", t_running, b.running);
		if (t_bound > 0)
			printf("ratio all-bound / baseline:   %.2f\n", t_bound / t_base);
		printf("peak RSS: server %ld MB + scheduler process %ld MB\n", server_rss / 1024, sched_rss / 1024);
		if (scheduler_pid > 0) {
			kill(scheduler_pid, SIGTERM);
			waitpid(scheduler_pid, NULL, 0);
		}
		goto out;
	}

	t_bound = b.t_all_bound ? (double)(b.t_all_bound - b.t_start) / 1000.0 : -1;
	t_running = b.t_all_running ? (double)(b.t_all_running - b.t_start) / 1000.0 : -1;
	printf("workload:            %d pods, %s, on %d hollow nodes\n", b.total,
	       opt_deployments ? "as Deployments" : "created directly as pods (no controller manager)", ready);
	printf("created in:          %.2f s (%d failed)\n",
	       b.t_created ? (double)(b.t_created - b.t_start) / 1000.0 : -1.0, b.failed);
	printf("all bound after:     %.2f s  (%d bound)\n", t_bound, b.bound);
	printf("pods bound/s:        %.0f\n", t_bound > 0 ? b.total / t_bound : 0.0);
	if (b.t_all_bound && b.t_first_bound < b.t_all_bound)
		printf("bound/s (first to last binding): %.0f\n",
		       (double)b.total * 1000.0 / (double)(b.t_all_bound - b.t_first_bound));
	printf("all Running after:   %.2f s  (%d running)\n", t_running, b.running);
	if (!opt_skip_baseline) {
		printf("baseline: apiserver accepts %d pod creates in %.2f s (%.0f/s)\n", b.total, t_base,
		       b.total / t_base);
		if (t_bound > 0)
			printf("ratio all-bound / baseline:   %.2f\n", t_bound / t_base);
		if (t_running > 0)
			printf("ratio all-Running / baseline: %.2f\n", t_running / t_base);
	}
	if (opt_server_pid)
		printf("control plane peak RSS: %ld MB (VmHWM of pid %d%s)\n", peak_rss_kb(opt_server_pid, "VmHWM") / 1024,
		       opt_server_pid, run_peak_reset ? ", during the run" : "");
	if (run_peak_reset)
		printf("  (with the baseline phase: %ld MB)\n", base_peak_kb / 1024);
	/* CPU time is what a busy, shared machine does not blur: read it next
	 * to the rates. */
	if (opt_server_pid)
		print_cpu("control plane", &cpu_before[0], &cpu_after[0], b.total);
	if (opt_hollow_pid)
		print_cpu("hollow nodes", &cpu_before[1], &cpu_after[1], b.total);
	print_cpu("this client", &cpu_before[2], &cpu_after[2], b.total);
out:
	json_decref(by_name);
	free(b.state);
	rest_client_close(b.rc, NULL, NULL);
	uv_run(&b.loop, UV_RUN_DEFAULT);
	uv_loop_close(&b.loop);
	return b.running == b.total ? 0 : 1;
}
