/*
 * Names, labels, inspect parsing and backoff behind runtime.h: how the
 * kubelet recognises its own containers in Docker, and orders the instances
 * of one container across restarts.
 */
#include "kubelet/runtime.h"
#include "kubelet/docker.h"
#include "core/object.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *runtime_container_name(const char *container, const char *pod, const char *ns, const char *uid,
			     int attempt)
{
	return xasprintf("k8s_%s_%s_%s_%s_%d", container, pod, ns, uid, attempt);
}

void runtime_name_release(struct runtime_name *n)
{
	free(n->container);
	free(n->pod);
	free(n->ns);
	free(n->uid);
	memset(n, 0, sizeof(*n));
}

int runtime_parse_name(const char *name, struct runtime_name *out)
{
	const char *part[6];
	size_t len[6];
	const char *p;
	int n = 0;
	char *end;
	long attempt;

	memset(out, 0, sizeof(*out));
	if (!name)
		return -1;
	if (*name == '/')
		name++;
	if (!str_has_prefix(name, "k8s_"))
		return -1;
	/* Kubernetes names never hold '_', so the six parts split cleanly. */
	p = name;
	while (n < 6) {
		const char *us = strchr(p, '_');
		part[n] = p;
		len[n] = us ? (size_t)(us - p) : strlen(p);
		n++;
		if (!us)
			break;
		p = us + 1;
	}
	if (n != 6 || strchr(part[5], '_'))
		return -1;
	for (int i = 1; i < 6; i++)
		if (!len[i])
			return -1;
	attempt = strtol(part[5], &end, 10);
	if (*end || attempt < 0 || attempt > 1000000000)
		return -1;
	out->container = xstrndup(part[1], len[1]);
	out->pod = xstrndup(part[2], len[2]);
	out->ns = xstrndup(part[3], len[3]);
	out->uid = xstrndup(part[4], len[4]);
	out->attempt = (int)attempt;
	return 0;
}

void runtime_container_hash(const json_t *container, char out[9])
{
	char *text = json_dumps(container, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	uint32_t h = 2166136261u;

	for (const char *p = text ? text : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	free(text);
	snprintf(out, 9, "%08x", h);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

int kcontainer_from_inspect(struct kcontainer *c, const json_t *in, const char *network)
{
	json_t *labels = obj_get(in, "Config.Labels");
	const char *type = key_str(labels, LABEL_TYPE), *status;
	const char *name = obj_str(in, "Name");
	struct runtime_name parsed;
	json_t *nets;

	memset(c, 0, sizeof(*c));
	if (!type || !key_str(labels, LABEL_POD_UID) || !obj_str(in, "Id"))
		return -1;
	c->id = xstrdup(obj_str(in, "Id"));
	c->name = xstrdup(name ? (*name == '/' ? name + 1 : name) : "");
	c->sandbox = !strcmp(type, TYPE_SANDBOX);
	c->pod_uid = xstrdup(key_str(labels, LABEL_POD_UID));
	c->pod_name = xstrdup(key_str(labels, LABEL_POD_NAME) ?: "");
	c->pod_ns = xstrdup(key_str(labels, LABEL_POD_NAMESPACE) ?: "");
	c->container = xstrdup(c->sandbox ? SANDBOX_CONTAINER_NAME : (key_str(labels, LABEL_CONTAINER_NAME) ?: ""));
	c->attempt = -1;
	if (key_str(labels, LABEL_RESTART_COUNT))
		c->attempt = atoi(key_str(labels, LABEL_RESTART_COUNT));
	if (c->attempt < 0 && runtime_parse_name(c->name, &parsed) == 0) {
		c->attempt = parsed.attempt;
		runtime_name_release(&parsed);
	}
	if (c->attempt < 0)
		c->attempt = 0;
	c->sandbox_id = dup_or_null(key_str(labels, LABEL_SANDBOX_ID));
	c->hash = dup_or_null(key_str(labels, LABEL_HASH));
	c->grace_s = key_str(labels, LABEL_GRACE) ? atoll(key_str(labels, LABEL_GRACE)) : -1;
	c->prestop = dup_or_null(key_str(labels, LABEL_PRESTOP));
	c->termination_path = dup_or_null(key_str(labels, LABEL_TERMINATION_PATH));
	status = obj_str(in, "State.Status") ?: "";
	if (!strcmp(status, "created"))
		c->state = KC_CREATED;
	else if (!strcmp(status, "running") || !strcmp(status, "restarting") || !strcmp(status, "paused"))
		c->state = KC_RUNNING;
	else if (!strcmp(status, "exited") || !strcmp(status, "dead"))
		c->state = KC_EXITED;
	else
		c->state = KC_OTHER;
	c->exit_code = (int)obj_int(in, "State.ExitCode", 0);
	c->oom_killed = obj_bool(in, "State.OOMKilled", false);
	c->error = dup_or_null(obj_str(in, "State.Error"));
	c->created_ms = docker_time_ms(obj_str(in, "Created"));
	c->started_ms = docker_time_ms(obj_str(in, "State.StartedAt"));
	c->finished_ms = docker_time_ms(obj_str(in, "State.FinishedAt"));
	/* A start that failed (no such executable, a bad mount) leaves the
	 * container "created" with an error: it ran and failed, for restarts. */
	if (c->state == KC_CREATED && c->error) {
		c->state = KC_EXITED;
		if (!c->exit_code)
			c->exit_code = 128;
		if (!c->finished_ms)
			c->finished_ms = c->created_ms;
	}
	c->image = xstrdup(obj_str(in, "Config.Image") ?: "");
	c->image_id = xstrdup(obj_str(in, "Image") ?: "");
	c->tty = obj_bool(in, "Config.Tty", false);
	nets = obj_get(in, "NetworkSettings.Networks");
	if (json_is_object(nets)) {
		const char *k;
		json_t *v;
		json_object_foreach(nets, k, v) {
			const char *ip = obj_str(v, "IPAddress");
			if (ip && *ip && (!network || !strcmp(k, network))) {
				c->ip = xstrdup(ip);
				break;
			}
		}
	}
	return 0;
}

void kcontainer_release(struct kcontainer *c)
{
	free(c->id);
	free(c->name);
	free(c->pod_uid);
	free(c->pod_name);
	free(c->pod_ns);
	free(c->container);
	free(c->sandbox_id);
	free(c->hash);
	free(c->prestop);
	free(c->termination_path);
	free(c->error);
	free(c->image);
	free(c->image_id);
	free(c->ip);
	free(c->message);
}

bool kcontainer_newer(const struct kcontainer *a, const struct kcontainer *b)
{
	if (a->attempt != b->attempt)
		return a->attempt > b->attempt;
	if (a->created_ms != b->created_ms)
		return a->created_ms > b->created_ms;
	return strcmp(a->id, b->id) > 0;
}

struct kcontainer *kcontainer_latest(struct kcontainer *const *v, size_t n, const char *name,
				     const char *sandbox_id, const struct kcontainer *skip)
{
	struct kcontainer *best = NULL;

	for (size_t i = 0; i < n; i++) {
		struct kcontainer *c = v[i];
		if (c == skip || c->sandbox || strcmp(c->container, name))
			continue;
		if (sandbox_id && (!c->sandbox_id || strcmp(c->sandbox_id, sandbox_id)))
			continue;
		if (skip && !kcontainer_newer(skip, c))
			continue;
		if (!best || kcontainer_newer(c, best))
			best = c;
	}
	return best;
}

struct kcontainer *kcontainer_sandbox(struct kcontainer *const *v, size_t n)
{
	struct kcontainer *best = NULL;

	for (size_t i = 0; i < n; i++) {
		struct kcontainer *c = v[i];
		/* One being removed (or dead in the engine's sense) is no candidate. */
		if (!c->sandbox || c->state == KC_OTHER)
			continue;
		if (!best || (c->state == KC_RUNNING && best->state != KC_RUNNING) ||
		    ((c->state == KC_RUNNING) == (best->state == KC_RUNNING) && kcontainer_newer(c, best)))
			best = c;
	}
	return best;
}

int64_t backoff_remaining(const struct backoff *b, int64_t since_ms, int64_t now_ms, int64_t max_ms)
{
	int64_t left;

	if (!b->delay_ms)
		return 0;
	/* A container that ran for a long while since the last restart starts over. */
	if (since_ms - b->updated_ms > 2 * max_ms)
		return 0;
	left = since_ms + b->delay_ms - now_ms;
	return left > 0 ? left : 0;
}

void backoff_next(struct backoff *b, int64_t now_ms, int64_t initial_ms, int64_t max_ms)
{
	if (!b->delay_ms || now_ms - b->updated_ms > 2 * max_ms)
		b->delay_ms = initial_ms;
	else
		b->delay_ms = b->delay_ms * 2 > max_ms ? max_ms : b->delay_ms * 2;
	if (b->delay_ms > max_ms)
		b->delay_ms = max_ms;
	b->updated_ms = now_ms;
}

void backoff_reset(struct backoff *b)
{
	b->delay_ms = 0;
	b->updated_ms = 0;
}
