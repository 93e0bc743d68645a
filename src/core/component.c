/*
 * Running components: alone in the foreground with signal handling, or on
 * a thread of their own inside `minik8s server`. Stopping goes through the
 * component's stop(), which closes its handles; we then close ours and
 * require uv_loop_close() to succeed, so a leaked handle shows as an error.
 */
#include "core/component.h"
#include "core/log.h"
#include "core/util.h"

#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *kubeconfig_flag;
static char *log_level_flag;

const struct flag component_common_flags[] = {
	{ "kubeconfig", FLAG_STRING, &kubeconfig_flag,
	  "kubeconfig to reach the apiserver (default: $KUBECONFIG, then ~/.minik8s/config)" },
	{ "v", FLAG_STRING, &log_level_flag, "log level: error, warn, info, debug, trace (or 0-4)" },
	{ NULL, 0, NULL, NULL },
};

/* The same without --kubeconfig, for components with their own identity. */
static const struct flag log_flags[] = {
	{ "v", FLAG_STRING, &log_level_flag, "log level: error, warn, info, debug, trace (or 0-4)" },
	{ NULL, 0, NULL, NULL },
};

const char *component_kubeconfig_flag(void)
{
	return kubeconfig_flag;
}

/* The kubeconfig search order of minictl, without depending on src/client:
 * --kubeconfig, the first existing file of $KUBECONFIG, ~/.minik8s/config. */
static char *find_kubeconfig(void)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");

	if (kubeconfig_flag)
		return xstrdup(kubeconfig_flag);
	if (env && *env) {
		char *copy = xstrdup(env), *save = NULL;
		for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
			if (access(p, R_OK) == 0) {
				char *r = xstrdup(p);
				free(copy);
				return r;
			}
		}
		free(copy);
	}
	return xasprintf("%s/.minik8s/config", home ? home : "");
}

struct fg_runner {
	const struct component *c;
	void *state;
	uv_signal_t sigint, sigterm;
	bool stopping;
};

static void on_fg_closed(uv_handle_t *h)
{
	(void)h;
}

static void on_fg_stopped(void *arg)
{
	struct fg_runner *r = arg;

	uv_close((uv_handle_t *)&r->sigint, on_fg_closed);
	uv_close((uv_handle_t *)&r->sigterm, on_fg_closed);
}

static void on_fg_signal(uv_signal_t *s, int signum)
{
	struct fg_runner *r = s->data;

	if (r->stopping) {
		log_warn("second signal: exiting now");
		exit(1);
	}
	r->stopping = true;
	log_info("stopping signal=%d", signum);
	r->c->stop(r->state, on_fg_stopped, r);
}

int component_flag_tables(const struct component *c, const struct flag **tables, int max)
{
	int n = 0;

	if (c->flags && n < max)
		tables[n++] = c->flags;
	for (const struct component *const *p = c->parts; p && *p; p++)
		n += component_flag_tables(*p, tables + n, max - n);
	return n;
}

char *component_default_data_dir(void)
{
	const char *home = getenv("HOME");

	if (geteuid() == 0)
		return xstrdup("/var/lib/minik8s");
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : "/tmp";
	}
	return xasprintf("%s/.minik8s/data", home);
}

int component_main(const struct component *c, int argc, char **argv)
{
	const struct flag *tables[8] = { c->own_identity ? log_flags : component_common_flags };
	struct fg_runner r = { .c = c };
	uv_loop_t loop;
	char *kc;
	int rc;

	log_set_component(c->name);
	component_flag_tables(c, tables + 1, (int)ARRAY_SIZE(tables) - 2);
	if (flags_parse(tables, c->usage, argc, argv) < 0)
		return 1;
	if (log_level_flag && log_set_level(log_level_flag) < 0)
		return error("invalid -v '%s': use error, warn, info, debug or trace", log_level_flag), 1;
	kc = find_kubeconfig();
	uv_loop_init(&loop);
	if (c->start(&loop, kc, &r.state) < 0) {
		free(kc);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		return 1;
	}
	free(kc);
	uv_signal_init(&loop, &r.sigint);
	uv_signal_init(&loop, &r.sigterm);
	r.sigint.data = r.sigterm.data = &r;
	uv_signal_start(&r.sigint, on_fg_signal, SIGINT);
	uv_signal_start(&r.sigterm, on_fg_signal, SIGTERM);
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&loop);
	if (rc)
		log_error("%s: event loop closed with handles still open", c->name);
	return rc ? 1 : 0;
}

/* ---- threads ------------------------------------------------------------- */

struct component_thread {
	const struct component *c;
	char *kubeconfig;
	uv_loop_t loop;
	uv_async_t stop_async;
	pthread_t thread;
	void *state;
	int start_rc;
	int close_rc;
	pthread_mutex_t lock;
	pthread_cond_t started;
	bool ready;
};

static void on_thread_async_closed(uv_handle_t *h)
{
	(void)h;
}

static void on_thread_component_stopped(void *arg)
{
	struct component_thread *t = arg;

	uv_close((uv_handle_t *)&t->stop_async, on_thread_async_closed);
}

static void on_thread_stop(uv_async_t *a)
{
	struct component_thread *t = a->data;

	if (t->start_rc == 0)
		t->c->stop(t->state, on_thread_component_stopped, t);
	else
		on_thread_component_stopped(t);
}

static void *thread_main(void *arg)
{
	struct component_thread *t = arg;

	log_name_thread(t->c->name);
	t->start_rc = t->c->start(&t->loop, t->kubeconfig, &t->state);
	pthread_mutex_lock(&t->lock);
	t->ready = true;
	pthread_cond_signal(&t->started);
	pthread_mutex_unlock(&t->lock);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	t->close_rc = uv_loop_close(&t->loop);
	if (t->close_rc)
		log_error("%s: event loop closed with handles still open", t->c->name);
	return NULL;
}

static struct component_thread *thread_start(const struct component *c, const char *kubeconfig, bool wait)
{
	struct component_thread *t = xcalloc(1, sizeof(*t));
	sigset_t all, old;

	t->c = c;
	t->kubeconfig = xstrdup(kubeconfig);
	uv_loop_init(&t->loop);
	uv_async_init(&t->loop, &t->stop_async, on_thread_stop);
	t->stop_async.data = t;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->started, NULL);
	/* Signals belong to the main thread's loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&t->thread, NULL, thread_main, t)) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		error("cannot start a thread for %s", c->name);
		uv_close((uv_handle_t *)&t->stop_async, NULL);
		uv_run(&t->loop, UV_RUN_DEFAULT);
		uv_loop_close(&t->loop);
		free(t->kubeconfig);
		free(t);
		return NULL;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!wait)
		return t;
	pthread_mutex_lock(&t->lock);
	while (!t->ready)
		pthread_cond_wait(&t->started, &t->lock);
	pthread_mutex_unlock(&t->lock);
	if (t->start_rc < 0) {
		component_thread_stop(t);
		return NULL;
	}
	return t;
}

struct component_thread *component_thread_start(const struct component *c, const char *kubeconfig)
{
	return thread_start(c, kubeconfig, true);
}

struct component_thread *component_thread_spawn(const struct component *c, const char *kubeconfig)
{
	return thread_start(c, kubeconfig, false);
}

int component_thread_stop(struct component_thread *t)
{
	int rc;

	if (!t)
		return 0;
	uv_async_send(&t->stop_async);
	pthread_join(t->thread, NULL);
	rc = t->close_rc;
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->started);
	free(t->kubeconfig);
	free(t);
	return rc;
}
