/*
 * Pod status as the kubelet computes it (podstatus.h): phases under each
 * restart policy, init containers, container states and lastState across
 * restarts, conditions and their transition times, IPs.
 */
#include "testing.h"
#include "kubelet/podstatus.h"
#include "core/object.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

#define NOW 1796327200000LL

struct fixture {
	struct kcontainer *v[16];
	size_t n;
	struct podstatus_container info[8];
	size_t ninfo;
};

static struct kcontainer *add(struct fixture *f, const char *id, const char *name, int attempt, enum kc_state st,
			      int exit_code)
{
	struct kcontainer *c = calloc(1, sizeof(*c));

	c->id = xstrdup(id);
	c->container = xstrdup(name);
	c->sandbox = !strcmp(name, "POD");
	c->attempt = attempt;
	c->sandbox_id = c->sandbox ? NULL : xstrdup("sb");
	c->state = st;
	c->exit_code = exit_code;
	c->created_ms = NOW - 60000 + attempt * 1000;
	c->started_ms = c->created_ms + 100;
	c->finished_ms = st == KC_EXITED ? c->started_ms + 200 : 0;
	c->image_id = xstrdup("sha256:1234");
	if (c->sandbox)
		c->ip = xstrdup("10.244.1.9");
	f->v[f->n++] = c;
	return c;
}

static void release(struct fixture *f)
{
	for (size_t i = 0; i < f->n; i++) {
		kcontainer_release(f->v[i]);
		free(f->v[i]);
	}
	f->n = 0;
	f->ninfo = 0;
}

static json_t *pod_with(const char *policy, bool init)
{
	json_t *pod = json_pack("{s:{s:s, s:s}, s:{s:s, s:[{s:s, s:s}, {s:s, s:s}]}}", "metadata", "name", "web",
				"namespace", "default", "spec", "restartPolicy", policy, "containers", "name", "a",
				"image", "busybox:1", "name", "b", "image", "busybox:1");

	if (init)
		obj_set(pod, "spec.initContainers", json_pack("[{s:s, s:s}]", "name", "setup", "image", "busybox:1"));
	return pod;
}

static json_t *compute(struct fixture *f, json_t *pod, json_t *old, bool terminating)
{
	struct podstatus_input in = { pod, old, f->v, f->n, f->info, f->ninfo, "192.0.2.2", NOW, terminating };

	return podstatus_compute(&in);
}

static const json_t *cs(const json_t *status, const char *name)
{
	json_t *c;
	size_t i;

	json_array_foreach(obj_get(status, "containerStatuses"), i, c)
		if (!strcmp(obj_str(c, "name") ?: "", name))
			return c;
	json_array_foreach(obj_get(status, "initContainerStatuses"), i, c)
		if (!strcmp(obj_str(c, "name") ?: "", name))
			return c;
	return NULL;
}

static const json_t *condition(const json_t *status, const char *type)
{
	json_t *c;
	size_t i;

	json_array_foreach(obj_get(status, "conditions"), i, c)
		if (!strcmp(obj_str(c, "type") ?: "", type))
			return c;
	return NULL;
}

static void test_creating(void)
{
	struct fixture f = { 0 };
	json_t *pod = pod_with("Always", false), *st = compute(&f, pod, NULL, false);

	CHECK_STR(obj_str(st, "phase"), "Pending");
	CHECK_STR(obj_str(cs(st, "a"), "state.waiting.reason"), "ContainerCreating");
	CHECK_INT(obj_int(cs(st, "a"), "restartCount", -1), 0);
	CHECK_STR(obj_str(condition(st, "PodReadyToStartContainers"), "status"), "False");
	CHECK_STR(obj_str(condition(st, "Initialized"), "status"), "True");
	CHECK_STR(obj_str(condition(st, "Ready"), "status"), "False");
	CHECK_STR(obj_str(condition(st, "Ready"), "reason"), "ContainersNotReady");
	CHECK_STR(obj_str(condition(st, "Ready"), "message"), "containers with unready status: [a b]");
	CHECK_STR(obj_str(condition(st, "PodScheduled"), "status"), "True");
	CHECK_STR(obj_str(st, "hostIP"), "192.0.2.2");
	CHECK_STR(obj_str(st, "startTime"), "2026-12-03T19:46:40Z");
	CHECK(obj_get(st, "podIP") == NULL);
	json_decref(st);
	json_decref(pod);
}

static void test_running(void)
{
	struct fixture f = { 0 };
	json_t *pod = pod_with("Always", false), *st, *st2, *old;

	add(&f, "sb", "POD", 0, KC_RUNNING, 0);
	add(&f, "a0", "a", 0, KC_RUNNING, 0);
	add(&f, "b0", "b", 0, KC_RUNNING, 0);
	st = compute(&f, pod, NULL, false);
	CHECK_STR(obj_str(st, "phase"), "Running");
	CHECK_STR(obj_str(st, "podIP"), "10.244.1.9");
	CHECK_STR(obj_str(json_array_get(obj_get(st, "podIPs"), 0), "ip"), "10.244.1.9");
	CHECK_STR(obj_str(condition(st, "Ready"), "status"), "True");
	CHECK_STR(obj_str(condition(st, "ContainersReady"), "status"), "True");
	CHECK_STR(obj_str(condition(st, "PodReadyToStartContainers"), "status"), "True");
	CHECK(obj_bool(cs(st, "a"), "ready", false));
	CHECK(obj_bool(cs(st, "a"), "started", false));
	CHECK_STR(obj_str(cs(st, "a"), "containerID"), "docker://a0");
	CHECK_STR(obj_str(cs(st, "a"), "imageID"), "docker://sha256:1234");
	CHECK_STR(obj_str(cs(st, "a"), "image"), "busybox:1");
	CHECK(obj_get(cs(st, "a"), "state.running.startedAt") != NULL);

	/* Readiness fails for b: not Ready, and the transition time of the
	 * conditions that did not change stays. */
	f.info[0] = (struct podstatus_container){ "b", NULL, NULL, false, true };
	f.ninfo = 1;
	old = json_deep_copy(st);
	obj_set(json_array_get(obj_get(old, "conditions"), 1), "lastTransitionTime", json_string("2020-01-01T00:00:00Z"));
	st2 = compute(&f, pod, old, false);
	CHECK_STR(obj_str(condition(st2, "Ready"), "status"), "False");
	CHECK_STR(obj_str(condition(st2, "Ready"), "message"), "containers with unready status: [b]");
	CHECK_STR(obj_str(condition(st2, "Initialized"), "lastTransitionTime"), "2020-01-01T00:00:00Z");
	CHECK_STR(obj_str(condition(st2, "Ready"), "lastTransitionTime"), "2026-12-03T19:46:40Z");
	CHECK(!obj_bool(cs(st2, "b"), "ready", true));
	CHECK(podstatus_matches(st, st));
	CHECK(!podstatus_matches(st2, st));
	CHECK(!podstatus_matches(st, NULL));
	json_decref(st);
	json_decref(st2);
	json_decref(old);
	release(&f);
	json_decref(pod);
}

static void test_crash_loop(void)
{
	struct fixture f = { 0 };
	json_t *pod = pod_with("Always", false), *st;

	add(&f, "sb", "POD", 0, KC_RUNNING, 0);
	add(&f, "a1", "a", 1, KC_EXITED, 3);
	add(&f, "a2", "a", 2, KC_EXITED, 3);
	add(&f, "b0", "b", 0, KC_RUNNING, 0);
	f.info[0] = (struct podstatus_container){ "a", "CrashLoopBackOff", "back-off 10s restarting failed container", false,
						  false };
	f.ninfo = 1;
	st = compute(&f, pod, NULL, false);
	CHECK_STR(obj_str(st, "phase"), "Running");
	CHECK_STR(obj_str(cs(st, "a"), "state.waiting.reason"), "CrashLoopBackOff");
	CHECK_STR(obj_str(cs(st, "a"), "state.waiting.message"), "back-off 10s restarting failed container");
	/* lastState is the newest termination, restartCount its attempt. */
	CHECK_INT(obj_int(cs(st, "a"), "lastState.terminated.exitCode", -1), 3);
	CHECK_STR(obj_str(cs(st, "a"), "lastState.terminated.reason"), "Error");
	CHECK_STR(obj_str(cs(st, "a"), "lastState.terminated.containerID"), "docker://a2");
	CHECK_INT(obj_int(cs(st, "a"), "restartCount", -1), 2);
	CHECK(!obj_bool(cs(st, "a"), "ready", true));
	json_decref(st);

	/* Restarted: running, lastState from the instance before. */
	add(&f, "a3", "a", 3, KC_RUNNING, 0);
	f.ninfo = 0;
	st = compute(&f, pod, NULL, false);
	CHECK(obj_get(cs(st, "a"), "state.running") != NULL);
	CHECK_STR(obj_str(cs(st, "a"), "lastState.terminated.containerID"), "docker://a2");
	CHECK_INT(obj_int(cs(st, "a"), "restartCount", -1), 3);
	json_decref(st);
	release(&f);
	json_decref(pod);
}

static void test_policies(void)
{
	static const struct {
		const char *policy;
		int a_exit, b_exit;
		const char *phase;
	} cases[] = {
		{ "Never", 0, 0, "Succeeded" },  { "Never", 0, 1, "Failed" },     { "OnFailure", 0, 0, "Succeeded" },
		{ "OnFailure", 0, 2, "Running" }, { "Always", 0, 0, "Running" },  { "Always", 1, 1, "Running" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fixture f = { 0 };
		json_t *pod = pod_with(cases[i].policy, false), *st;
		add(&f, "sb", "POD", 0, KC_RUNNING, 0);
		add(&f, "a0", "a", 0, KC_EXITED, cases[i].a_exit);
		add(&f, "b0", "b", 0, KC_EXITED, cases[i].b_exit);
		st = compute(&f, pod, NULL, false);
		if (strcmp(obj_str(st, "phase"), cases[i].phase))
			fprintf(stderr, "case %zu: policy %s exits %d %d\n", i, cases[i].policy, cases[i].a_exit,
				cases[i].b_exit);
		CHECK_STR(obj_str(st, "phase"), cases[i].phase);
		if (!strcmp(cases[i].phase, "Succeeded") || !strcmp(cases[i].phase, "Failed")) {
			CHECK_STR(obj_str(condition(st, "Ready"), "reason"), "PodCompleted");
			CHECK_STR(obj_str(cs(st, "a"), "state.terminated.reason"), "Completed");
		}
		json_decref(st);
		/* Being deleted, nothing restarts: the pod ends Succeeded or Failed. */
		st = compute(&f, pod, NULL, true);
		CHECK_STR(obj_str(st, "phase"), cases[i].a_exit || cases[i].b_exit ? "Failed" : "Succeeded");
		json_decref(st);
		release(&f);
		json_decref(pod);
	}
}

static void test_terminal_stays(void)
{
	struct fixture f = { 0 };
	json_t *pod = pod_with("Never", false), *old = json_pack("{s:s}", "phase", "Failed"), *st;

	add(&f, "sb", "POD", 0, KC_RUNNING, 0);
	add(&f, "a0", "a", 0, KC_RUNNING, 0);
	st = compute(&f, pod, old, false);
	CHECK_STR(obj_str(st, "phase"), "Failed");
	json_decref(st);
	json_decref(old);
	release(&f);
	json_decref(pod);
}

static void test_oom(void)
{
	struct fixture f = { 0 };
	json_t *pod = pod_with("Never", false), *st;
	struct kcontainer *a;

	add(&f, "sb", "POD", 0, KC_RUNNING, 0);
	a = add(&f, "a0", "a", 0, KC_EXITED, 137);
	a->oom_killed = true;
	a->message = xstrdup("out of memory, bye");
	st = compute(&f, pod, NULL, false);
	CHECK_STR(obj_str(cs(st, "a"), "state.terminated.reason"), "OOMKilled");
	CHECK_STR(obj_str(cs(st, "a"), "state.terminated.message"), "out of memory, bye");
	CHECK_INT(obj_int(cs(st, "a"), "state.terminated.exitCode", 0), 137);
	json_decref(st);
	release(&f);
	json_decref(pod);
}

static void test_init(void)
{
	struct fixture f = { 0 };
	json_t *pod = pod_with("Always", true), *st;

	add(&f, "sb", "POD", 0, KC_RUNNING, 0);
	add(&f, "i0", "setup", 0, KC_RUNNING, 0);
	st = compute(&f, pod, NULL, false);
	CHECK_STR(obj_str(st, "phase"), "Pending");
	CHECK_STR(obj_str(condition(st, "Initialized"), "status"), "False");
	CHECK_STR(obj_str(condition(st, "Initialized"), "reason"), "ContainersNotInitialized");
	CHECK_STR(obj_str(condition(st, "Initialized"), "message"), "containers with incomplete status: [setup]");
	CHECK_STR(obj_str(cs(st, "a"), "state.waiting.reason"), "PodInitializing");
	CHECK(obj_get(cs(st, "setup"), "state.running") != NULL);
	json_decref(st);
	release(&f);

	/* Done: Initialized, its status terminated Completed. */
	add(&f, "sb", "POD", 0, KC_RUNNING, 0);
	add(&f, "i0", "setup", 0, KC_EXITED, 0);
	add(&f, "a0", "a", 0, KC_RUNNING, 0);
	add(&f, "b0", "b", 0, KC_RUNNING, 0);
	st = compute(&f, pod, NULL, false);
	CHECK_STR(obj_str(st, "phase"), "Running");
	CHECK_STR(obj_str(condition(st, "Initialized"), "status"), "True");
	CHECK_STR(obj_str(cs(st, "setup"), "state.terminated.reason"), "Completed");
	json_decref(st);
	release(&f);

	/* Failed under Never: the pod fails. */
	json_decref(pod);
	pod = pod_with("Never", true);
	add(&f, "sb", "POD", 0, KC_RUNNING, 0);
	add(&f, "i0", "setup", 0, KC_EXITED, 1);
	st = compute(&f, pod, NULL, false);
	CHECK_STR(obj_str(st, "phase"), "Failed");
	json_decref(st);
	release(&f);
	json_decref(pod);
}

static void test_restart_policy(void)
{
	CHECK(podstatus_should_restart("Always", 0));
	CHECK(podstatus_should_restart("OnFailure", 1));
	CHECK(!podstatus_should_restart("OnFailure", 0));
	CHECK(!podstatus_should_restart("Never", 1));
	CHECK(podstatus_phase_terminal("Succeeded"));
	CHECK(!podstatus_phase_terminal("Running"));
	CHECK(!podstatus_phase_terminal(NULL));
}

int main(void)
{
	test_creating();
	test_running();
	test_crash_loop();
	test_policies();
	test_terminal_stays();
	test_oom();
	test_init();
	test_restart_policy();
	return test_done();
}
