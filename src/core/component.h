/*
 * A component is one part of the cluster that runs on its own libuv loop:
 * the controller manager, the scheduler, a kubelet, a proxy, hollow nodes.
 * The same component runs alone (`minik8s scheduler`) or as one thread of
 * `minik8s server` / `minik8s agent`; either way it reaches the apiserver
 * over HTTP with a kubeconfig, like any other client (ARCHITECTURE.md's one
 * rule).
 *
 * How to add a component:
 *   1. Define `const struct component <name>_component` with its flags,
 *      start and stop.
 *   2. Add a `cmd_<name>` in src/main.c's table that calls
 *      component_main(&<name>_component, argc, argv).
 *   3. If `minik8s server` (or `agent`) should run it, list it there.
 */
#ifndef MINIK8S_CORE_COMPONENT_H
#define MINIK8S_CORE_COMPONENT_H

#include "core/flags.h"

#include <stdbool.h>
#include <uv.h>

struct component {
	const char *name;           /* "scheduler": log component and thread name */
	const char *usage;          /* first lines of --help */
	/* The component's own flags (static storage, filled by parsing); NULL-terminated. */
	const struct flag *flags;
	/* Starts the component on loop, reading the cluster from kubeconfig (a
	 * path). Returns 0 with *state set, or -1 after logging why. */
	int (*start)(uv_loop_t *loop, const char *kubeconfig, void **state);
	/* Stops: cancels requests, closes every handle it owns, then calls
	 * done(arg) (from a loop callback). The loop then has nothing left. */
	void (*stop)(void *state, void (*done)(void *arg), void *arg);
	/* Components this one runs on its own loop (the agent runs the kubelet
	 * and the proxy): their flags are its flags too. NULL-terminated, or NULL. */
	const struct component *const *parts;
	/* It does not take --kubeconfig: it has an identity of its own (the
	 * agent joins with a token and writes its node's kubeconfig). */
	bool own_identity;
};

/* The flag tables of c and its parts, in order, into tables[0..n); returns n. */
int component_flag_tables(const struct component *c, const struct flag **tables, int max);

/*
 * `minik8s <component> [flags]`: parses --kubeconfig (default: the
 * kubeconfig search order of minictl), -v and the component's flags, runs
 * it on a fresh loop until SIGINT/SIGTERM, stops it and checks that the loop
 * closes cleanly. Returns the process exit code.
 */
int component_main(const struct component *c, int argc, char **argv);

/* A component running on its own thread (inside `minik8s server`). */
struct component_thread;

/* Starts c on a new thread with its own loop. Returns NULL on failure
 * (logged). The component's flags must already be parsed. */
struct component_thread *component_thread_start(const struct component *c, const char *kubeconfig);
/* The same without waiting for start() to return, for a component whose
 * start blocks on the caller's own loop (the agent in `minik8s server`
 * joins through the apiserver that runs on the main thread). A failed
 * start is logged; stopping works either way. */
struct component_thread *component_thread_spawn(const struct component *c, const char *kubeconfig);
/* Asks it to stop, waits for its loop to finish, joins and frees it.
 * Returns 0 if the loop closed cleanly. */
int component_thread_stop(struct component_thread *t);

/* The data dir of `minik8s server` and `agent` when --data-dir is not
 * given: /var/lib/minik8s as root, else ~/.minik8s/data. New string. */
char *component_default_data_dir(void);

/* The common flags component_main parses (--kubeconfig, -v), for `server`
 * to stack with its own. */
extern const struct flag component_common_flags[];
/* What --kubeconfig was set to (NULL if not given). */
const char *component_kubeconfig_flag(void);

#endif
