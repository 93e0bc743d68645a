/*
 * A pod's status as Kubernetes reports it, computed from the pod, the
 * Docker containers found for it and what the pod worker knows besides
 * (why a container waits, probe results): phase, conditions, IPs, start
 * time and container statuses. Pure, so tests/unit/test-kubelet-status.c
 * can check every phase rule without Docker.
 */
#ifndef MINIK8S_KUBELET_PODSTATUS_H
#define MINIK8S_KUBELET_PODSTATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kubelet/runtime.h"

/* What the pod worker knows about one container of the spec. */
struct podstatus_container {
	const char *name;
	/* Why it waits, when the worker knows (ErrImagePull, ImagePullBackOff,
	 * CrashLoopBackOff, CreateContainerConfigError, ...), else NULL. */
	const char *waiting_reason;
	const char *waiting_message;
	bool ready;     /* readiness of the running instance (true without a probe) */
	bool started;   /* startup probe passed (true without one) */
};

struct podstatus_input {
	const json_t *pod;                   /* borrowed */
	const json_t *old_status;            /* last reported status, may be NULL */
	struct kcontainer *const *containers; /* this pod's Docker containers */
	size_t ncontainers;
	const struct podstatus_container *info; /* by container name; may be NULL */
	size_t ninfo;
	const char *host_ip;
	int64_t now_ms;
	bool terminating;                    /* being deleted: nothing restarts */
};

/* The whole status object (new reference). */
json_t *podstatus_compute(const struct podstatus_input *in);

/* Whether a container that exited with code should start again under the
 * pod's restartPolicy ("Always", "OnFailure", "Never"). */
bool podstatus_should_restart(const char *restart_policy, int exit_code);

/* Whether the API's status holds every field of ours as we have it
 * (others may add fields; a controller may have changed one of ours, as the
 * node lifecycle controller does with Ready). */
bool podstatus_matches(const json_t *ours, const json_t *api);

/* "Succeeded" or "Failed" phases never change again. */
bool podstatus_phase_terminal(const char *phase);

#endif
