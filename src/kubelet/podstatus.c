/*
 * Pod status computation behind podstatus.h, following the kubelet's
 * getPhase and convertToAPIContainerStatuses: a container's state comes
 * from its newest Docker instance, lastState from the one before; a
 * crash-looping container waits with its last termination; the phase counts
 * running, waiting and stopped containers against the restart policy.
 */
#include "kubelet/podstatus.h"
#include "kubelet/docker.h"
#include "core/object.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool podstatus_should_restart(const char *policy, int exit_code)
{
	if (!policy || !strcmp(policy, "Always"))
		return true;
	if (!strcmp(policy, "OnFailure"))
		return exit_code != 0;
	return false;
}

bool podstatus_phase_terminal(const char *phase)
{
	return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

static const struct podstatus_container *info_for(const struct podstatus_input *in, const char *name)
{
	for (size_t i = 0; i < in->ninfo; i++)
		if (in->info[i].name && !strcmp(in->info[i].name, name))
			return &in->info[i];
	return NULL;
}

static json_t *time_json(int64_t ms)
{
	char buf[32];

	if (!ms)
		return json_null();
	docker_format_time(ms, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *terminated_json(const struct kcontainer *c)
{
	json_t *t = json_object();
	char *id = xasprintf("docker://%s", c->id);
	const char *reason = c->oom_killed ? "OOMKilled" : c->exit_code == 0 ? "Completed" : "Error";

	json_object_set_new(t, "exitCode", json_integer(c->exit_code));
	json_object_set_new(t, "reason", json_string(reason));
	if (c->message && *c->message)
		json_object_set_new(t, "message", json_string(c->message));
	else if (c->error && *c->error)
		json_object_set_new(t, "message", json_string(c->error));
	json_object_set_new(t, "startedAt", time_json(c->started_ms));
	json_object_set_new(t, "finishedAt", time_json(c->finished_ms ? c->finished_ms : c->started_ms));
	json_object_set_new(t, "containerID", json_string(id));
	free(id);
	return t;
}

static json_t *waiting_json(const char *reason, const char *message)
{
	json_t *w = json_pack("{s:s}", "reason", reason);

	if (message && *message)
		json_object_set_new(w, "message", json_string(message));
	return json_pack("{s:o}", "waiting", w);
}

enum counted { C_RUNNING, C_WAITING, C_STOPPED, C_UNKNOWN };

/*
 * One containerStatuses entry. latest/prev are the newest instance and the
 * one before (either may be NULL). Sets *kind for the phase and *ok for
 * "terminated with exit code 0".
 */
static json_t *container_status(const struct podstatus_input *in, const json_t *spec, struct kcontainer *latest,
				struct kcontainer *prev, bool init, bool pod_initialized, enum counted *kind,
				bool *succeeded)
{
	const char *name = obj_str(spec, "name") ?: "";
	const char *policy = obj_str(in->pod, "spec.restartPolicy") ?: "Always";
	const struct podstatus_container *info = info_for(in, name);
	json_t *st = json_object(), *state, *last = json_object();
	bool ready = false, started = false;

	*succeeded = false;
	if (prev && prev->state == KC_EXITED)
		json_object_set_new(last, "terminated", terminated_json(prev));
	if (latest && latest->state == KC_RUNNING) {
		state = json_pack("{s:{s:o}}", "running", "startedAt", time_json(latest->started_ms));
		started = info ? info->started : true;
		ready = started && (info ? info->ready : true);
		*kind = C_RUNNING;
	} else if (latest && latest->state == KC_EXITED) {
		bool restarts = !in->terminating &&
				(init ? latest->exit_code != 0 && strcmp(policy, "Never")
				      : podstatus_should_restart(policy, latest->exit_code));
		if (restarts && info && info->waiting_reason) {
			state = waiting_json(info->waiting_reason, info->waiting_message);
			json_object_clear(last);
			json_object_set_new(last, "terminated", terminated_json(latest));
		} else {
			state = json_pack("{s:o}", "terminated", terminated_json(latest));
			*succeeded = latest->exit_code == 0;
		}
		*kind = C_STOPPED;
	} else {
		const char *reason = info && info->waiting_reason ? info->waiting_reason
				     : !init && !pod_initialized ? "PodInitializing"
								   : "ContainerCreating";
		state = waiting_json(reason, info && info->waiting_reason ? info->waiting_message : NULL);
		*kind = json_object_size(last) ? C_STOPPED : C_WAITING;
	}
	json_object_set_new(st, "name", json_string(name));
	json_object_set_new(st, "state", state);
	json_object_set_new(st, "lastState", last);
	json_object_set_new(st, "ready", json_boolean(ready));
	json_object_set_new(st, "restartCount", json_integer(latest ? latest->attempt : 0));
	json_object_set_new(st, "image", json_string(obj_str(spec, "image") ?: ""));
	if (latest && latest->image_id && *latest->image_id) {
		char *id = xasprintf("docker://%s", latest->image_id);
		json_object_set_new(st, "imageID", json_string(id));
		free(id);
	} else {
		json_object_set_new(st, "imageID", json_string(""));
	}
	if (latest) {
		char *id = xasprintf("docker://%s", latest->id);
		json_object_set_new(st, "containerID", json_string(id));
		free(id);
	}
	json_object_set_new(st, "started", json_boolean(started));
	return st;
}

static json_t *condition(const struct podstatus_input *in, const char *type, bool status, const char *reason,
			 const char *message)
{
	const char *st = status ? "True" : "False";
	json_t *c = json_object(), *old, *oc;
	json_t *when = NULL;
	size_t i;

	old = obj_get(in->old_status, "conditions");
	json_array_foreach(old, i, oc) {
		if (!strcmp(obj_str(oc, "type") ?: "", type) && !strcmp(obj_str(oc, "status") ?: "", st) &&
		    obj_get(oc, "lastTransitionTime"))
			when = json_incref(obj_get(oc, "lastTransitionTime"));
	}
	json_object_set_new(c, "type", json_string(type));
	json_object_set_new(c, "status", json_string(st));
	json_object_set_new(c, "lastProbeTime", json_null());
	json_object_set_new(c, "lastTransitionTime", when ? when : time_json(in->now_ms));
	if (reason)
		json_object_set_new(c, "reason", json_string(reason));
	if (message)
		json_object_set_new(c, "message", json_string(message));
	return c;
}

static void list_names(struct strbuf *sb, const char *prefix, json_t *names)
{
	json_t *v;
	size_t i;

	strbuf_adds(sb, prefix);
	strbuf_adds(sb, " [");
	json_array_foreach(names, i, v) {
		if (i)
			strbuf_addc(sb, ' ');
		strbuf_adds(sb, json_string_value(v));
	}
	strbuf_addc(sb, ']');
}

json_t *podstatus_compute(const struct podstatus_input *in)
{
	const json_t *pod = in->pod;
	const char *policy = obj_str(pod, "spec.restartPolicy") ?: "Always";
	const char *old_phase = obj_str(in->old_status, "phase");
	bool host_net = obj_bool(pod, "spec.hostNetwork", false);
	struct kcontainer *sandbox = kcontainer_sandbox(in->containers, in->ncontainers);
	bool sandbox_ok = sandbox && sandbox->state == KC_RUNNING && (sandbox->ip || host_net);
	const char *sandbox_id = sandbox ? sandbox->id : NULL;
	json_t *status = json_object(), *statuses = json_array(), *init_statuses = json_array();
	json_t *incomplete = json_array(), *unready = json_array(), *spec, *conds;
	bool initialized = true, init_failed = false, all_ready = true;
	int running = 0, waiting = 0, stopped = 0, succeeded = 0, unknown = 0, napp = 0;
	const char *phase, *ip = NULL;
	size_t i;

	/* Init containers: the instances of the current sandbox count. */
	json_array_foreach(obj_get(pod, "spec.initContainers"), i, spec) {
		const char *name = obj_str(spec, "name") ?: "";
		struct kcontainer *latest = kcontainer_latest(in->containers, in->ncontainers, name, sandbox_id, NULL);
		struct kcontainer *prev;
		enum counted kind;
		bool ok;

		if (!latest)
			latest = kcontainer_latest(in->containers, in->ncontainers, name, NULL, NULL);
		prev = latest ? kcontainer_latest(in->containers, in->ncontainers, name, NULL, latest) : NULL;
		json_array_append_new(init_statuses,
				      container_status(in, spec, latest, prev, true, true, &kind, &ok));
		if (!(latest && latest->state == KC_EXITED && latest->exit_code == 0 &&
		      (!sandbox_id || !latest->sandbox_id || !strcmp(latest->sandbox_id, sandbox_id)))) {
			initialized = false;
			json_array_append_new(incomplete, json_string(name));
			if (latest && latest->state == KC_EXITED && latest->exit_code != 0 && !strcmp(policy, "Never"))
				init_failed = true;
		}
	}
	json_array_foreach(obj_get(pod, "spec.containers"), i, spec) {
		const char *name = obj_str(spec, "name") ?: "";
		struct kcontainer *latest = kcontainer_latest(in->containers, in->ncontainers, name, NULL, NULL);
		struct kcontainer *prev = latest ? kcontainer_latest(in->containers, in->ncontainers, name, NULL, latest)
						 : NULL;
		enum counted kind;
		bool ok;
		json_t *st = container_status(in, spec, latest, prev, false, initialized, &kind, &ok);

		napp++;
		if (!json_is_true(json_object_get(st, "ready"))) {
			all_ready = false;
			json_array_append_new(unready, json_string(name));
		}
		json_array_append_new(statuses, st);
		switch (kind) {
		case C_RUNNING: running++; break;
		case C_WAITING: waiting++; break;
		case C_STOPPED:
			stopped++;
			succeeded += ok;
			break;
		default: unknown++; break;
		}
	}

	if (podstatus_phase_terminal(old_phase))
		phase = old_phase;
	else if (init_failed)
		phase = "Failed";
	else if (!initialized)
		phase = "Pending";
	else if (waiting > 0)
		phase = "Pending";
	else if (running > 0)
		phase = "Running";
	else if (stopped == napp && unknown == 0 && napp > 0) {
		/* A pod being deleted ends in a terminal phase, whatever its policy. */
		if (!in->terminating && !strcmp(policy, "Always"))
			phase = "Running";
		else if (stopped == succeeded)
			phase = "Succeeded";
		else if (in->terminating || !strcmp(policy, "Never"))
			phase = "Failed";
		else
			phase = "Running";
	} else
		phase = "Pending";
	/* A pod that ended does not report containers ready. */
	if (podstatus_phase_terminal(phase))
		all_ready = false;

	conds = json_array();
	json_array_append_new(conds, condition(in, "PodReadyToStartContainers", sandbox_ok, NULL, NULL));
	if (initialized) {
		json_array_append_new(conds, condition(in, "Initialized", true, NULL, NULL));
	} else {
		struct strbuf sb;
		strbuf_init(&sb, 64);
		list_names(&sb, "containers with incomplete status:", incomplete);
		json_array_append_new(conds, condition(in, "Initialized", false, "ContainersNotInitialized", sb.buf));
		strbuf_release(&sb);
	}
	if (all_ready) {
		json_array_append_new(conds, condition(in, "Ready", true, NULL, NULL));
		json_array_append_new(conds, condition(in, "ContainersReady", true, NULL, NULL));
	} else if (podstatus_phase_terminal(phase)) {
		json_array_append_new(conds, condition(in, "Ready", false, "PodCompleted", NULL));
		json_array_append_new(conds, condition(in, "ContainersReady", false, "PodCompleted", NULL));
	} else {
		struct strbuf sb;
		strbuf_init(&sb, 64);
		list_names(&sb, "containers with unready status:", unready);
		json_array_append_new(conds, condition(in, "Ready", false, "ContainersNotReady", sb.buf));
		json_array_append_new(conds, condition(in, "ContainersReady", false, "ContainersNotReady", sb.buf));
		strbuf_release(&sb);
	}
	json_array_append_new(conds, condition(in, "PodScheduled", true, NULL, NULL));

	json_object_set_new(status, "phase", json_string(phase));
	json_object_set_new(status, "conditions", conds);
	if (in->host_ip && *in->host_ip) {
		json_object_set_new(status, "hostIP", json_string(in->host_ip));
		json_object_set_new(status, "hostIPs", json_pack("[{s:s}]", "ip", in->host_ip));
	}
	if (host_net)
		ip = in->host_ip;
	else if (sandbox && sandbox->state == KC_RUNNING && sandbox->ip)
		ip = sandbox->ip;
	else
		ip = obj_str(in->old_status, "podIP");
	if (ip && *ip) {
		json_object_set_new(status, "podIP", json_string(ip));
		json_object_set_new(status, "podIPs", json_pack("[{s:s}]", "ip", ip));
	}
	if (obj_str(in->old_status, "startTime"))
		json_object_set_new(status, "startTime", json_string(obj_str(in->old_status, "startTime")));
	else
		json_object_set_new(status, "startTime", time_json(in->now_ms));
	if (obj_str(in->old_status, "qosClass"))
		json_object_set_new(status, "qosClass", json_string(obj_str(in->old_status, "qosClass")));
	if (json_array_size(init_statuses))
		json_object_set_new(status, "initContainerStatuses", init_statuses);
	else
		json_decref(init_statuses);
	json_object_set_new(status, "containerStatuses", statuses);
	json_decref(incomplete);
	json_decref(unready);
	return status;
}

bool podstatus_matches(const json_t *ours, const json_t *api)
{
	const char *key;
	json_t *v;

	if (!ours || !api)
		return false;
	json_object_foreach((json_t *)ours, key, v)
		if (!json_equal(v, json_object_get(api, key)))
			return false;
	return true;
}
