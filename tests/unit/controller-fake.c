/*
 * The controller tests' fake client, clock and environment (see
 * controller-fake.h).
 */
#include "controller-fake.h"
#include "apiserver/kinds.h"
#include "object.h"
#include "patch.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t fake_now_ms = 1767225600000LL;  /* 2026-01-01T00:00:00Z */

int64_t fake_clock(void)
{
	return fake_now_ms;
}

struct fake_held {
	api_done_fn done;
	void *data;
	int status;
	json_t *body;
	char *error;
	struct fake_held *next;
};

/* The object a path names, from the context's fake listers (borrowed), or NULL.
 * "/api/v1/namespaces/NS/PLURAL/NAME[/SUB]", "/apis/G/V/namespaces/...", "/api/v1/PLURAL/NAME". */
static json_t *lookup(struct fake_client *fc, const char *path)
{
	char buf[512], *parts[10], *save = NULL;
	int n = 0, i = 0;
	const char *group = "", *version, *ns = NULL, *plural, *name;
	const struct kind *k;

	if (!fc->ctx || strlen(path) >= sizeof(buf))
		return NULL;
	strcpy(buf, path);
	for (char *t = strtok_r(buf, "/", &save); t && n < 10; t = strtok_r(NULL, "/", &save))
		parts[n++] = t;
	if (n < 4)
		return NULL;
	if (!strcmp(parts[0], "apis")) {
		group = parts[1];
		i = 2;
	} else {
		i = 1;
	}
	version = parts[i++];
	if (i + 4 <= n && !strcmp(parts[i], "namespaces")) {
		ns = parts[i + 1];
		i += 2;
	}
	if (i + 1 >= n)
		return NULL;
	plural = parts[i];
	name = parts[i + 1];
	k = kind_by_resource(group, version, plural);
	if (!k)
		return NULL;
	for (size_t j = 0; j < fc->ctx->nlisters; j++)
		if (fc->ctx->listers[j].kind == k)
			return lister_get_ns(fc->ctx->listers[j].l, ns, name);
	return NULL;
}

static void answer(struct fake_client *fc, const char *method, const char *path, const json_t *body, int *status,
		   json_t **out, char **error)
{
	json_t *rule;
	size_t i;

	json_array_foreach(fc->rules, i, rule) {
		const char *m = obj_str(rule, "method"), *p = obj_str(rule, "path");
		int64_t times = obj_int(rule, "times", -1);
		if (times == 0 || (m && strcmp(m, method)) || (p && !strstr(path, p)))
			continue;
		if (times > 0)
			json_object_set_new(rule, "times", json_integer(times - 1));
		*status = (int)obj_int(rule, "status", 200);
		if (*status >= 200 && *status < 300) {
			json_t *b = obj_get(rule, "body");
			*out = b ? json_deep_copy(b) : json_object();
			*error = NULL;
		} else {
			const char *msg = obj_str(rule, "message");
			*out = status_new(*status, obj_str(rule, "reason") ? obj_str(rule, "reason") : "Fake",
					  msg ? msg : "fake error");
			*error = xstrdup(msg ? msg : "fake error");
		}
		return;
	}
	*error = NULL;
	if (!strcmp(method, "POST")) {
		json_t *o = body ? json_deep_copy(body) : json_object();
		const char *gen = obj_str(o, "metadata.generateName");
		char buf[64];
		if (!obj_name(o) || !*obj_name(o)) {
			snprintf(buf, sizeof(buf), "%sx%04d", gen ? gen : "obj-", ++fc->seq);
			obj_set(o, "metadata.name", json_string(buf));
		}
		snprintf(buf, sizeof(buf), "uid-new-%d", ++fc->seq);
		obj_set(o, "metadata.uid", json_string(buf));
		obj_set(o, "metadata.resourceVersion", json_string("1000"));
		*status = 201;
		*out = o;
	} else if (!strcmp(method, "GET")) {
		*status = 404;
		*out = status_new(404, "NotFound", "not found");
		*error = xstrdup("not found");
	} else if (!strcmp(method, "PATCH") && body && lookup(fc, path)) {
		/* As the apiserver answers: the object with the patch applied. */
		*status = 200;
		*out = json_merge_patch(lookup(fc, path), body);
	} else {
		*status = 200;
		*out = body ? json_deep_copy(body) : json_object();
	}
}

static void deliver(int status, json_t *body, const char *error, api_done_fn done, void *data)
{
	struct api_result r = { status, body, error, NULL };

	if (error && json_is_object(body))
		r.reason = obj_str(body, "reason");
	done(&r, data);
}

static void fake_send(struct controller_client *cc, const char *method, const char *path, const char *content_type,
		      const json_t *body, api_done_fn done, void *data)
{
	struct fake_client *fc = (struct fake_client *)cc;
	json_t *rec = json_pack("{s:s, s:s}", "method", method, "path", path);
	int status;
	json_t *out;
	char *err;

	if (content_type)
		json_object_set_new(rec, "content_type", json_string(content_type));
	if (body)
		json_object_set_new(rec, "body", json_deep_copy(body));
	json_array_append_new(fc->requests, rec);
	answer(fc, method, path, body, &status, &out, &err);
	if (fc->hold) {
		struct fake_held *h = xcalloc(1, sizeof(*h)), **tail = &fc->held;
		h->done = done;
		h->data = data;
		h->status = status;
		h->body = out;
		h->error = err;
		while (*tail)
			tail = &(*tail)->next;
		*tail = h;
		return;
	}
	deliver(status, out, err, done, data);
	json_decref(out);
	free(err);
}

int fake_client_flush(struct fake_client *fc)
{
	struct fake_held *list = fc->held;
	int n = 0;

	/* Only what waits now: requests sent by the callbacks wait for the next flush. */
	fc->held = NULL;
	while (list) {
		struct fake_held *h = list;
		list = h->next;
		deliver(h->status, h->body, h->error, h->done, h->data);
		json_decref(h->body);
		free(h->error);
		free(h);
		n++;
	}
	return n;
}

struct fake_client *fake_client_new(void)
{
	struct fake_client *fc = xcalloc(1, sizeof(*fc));

	fc->base.send = fake_send;
	fc->requests = json_array();
	fc->rules = json_array();
	return fc;
}

void fake_client_free(struct fake_client *fc)
{
	fc->hold = false;
	while (fc->held)
		fake_client_flush(fc);
	json_decref(fc->requests);
	json_decref(fc->rules);
	free(fc);
}

void fake_client_rule(struct fake_client *fc, const char *method, const char *path_part, int status,
		      const json_t *body, const char *message, int times)
{
	json_t *r = json_pack("{s:i, s:i}", "status", status, "times", times);

	if (method)
		json_object_set_new(r, "method", json_string(method));
	if (path_part)
		json_object_set_new(r, "path", json_string(path_part));
	if (body)
		json_object_set_new(r, "body", json_deep_copy(body));
	if (message)
		json_object_set_new(r, "message", json_string(message));
	if (status == 404)
		json_object_set_new(r, "reason", json_string("NotFound"));
	else if (status == 409)
		json_object_set_new(r, "reason", json_string("Conflict"));
	json_array_append_new(fc->rules, r);
}

void fake_client_reset(struct fake_client *fc)
{
	json_array_clear(fc->requests);
	json_array_clear(fc->rules);
}

static bool request_matches(const json_t *rec, const char *method, const char *path_part)
{
	const char *m = obj_str(rec, "method"), *p = obj_str(rec, "path");

	if (method && strcmp(m, method))
		return false;
	if (path_part)
		return strstr(p, path_part) != NULL;
	return !strstr(p, "/events");
}

size_t fake_count(struct fake_client *fc, const char *method, const char *path_part)
{
	json_t *rec;
	size_t i, n = 0;

	json_array_foreach(fc->requests, i, rec)
		if (request_matches(rec, method, path_part))
			n++;
	return n;
}

json_t *fake_request(struct fake_client *fc, const char *method, const char *path_part, size_t idx)
{
	json_t *rec;
	size_t i, n = 0;

	json_array_foreach(fc->requests, i, rec)
		if (request_matches(rec, method, path_part) && n++ == idx)
			return rec;
	return NULL;
}

static json_t *event_at(struct fake_client *fc, const char *reason, size_t idx)
{
	json_t *rec;
	size_t i, n = 0;

	json_array_foreach(fc->requests, i, rec) {
		const char *r = obj_str(rec, "body.reason");
		if (strcmp(obj_str(rec, "method"), "POST") || !strstr(obj_str(rec, "path"), "/events"))
			continue;
		if (r && !strcmp(r, reason) && n++ == idx)
			return rec;
	}
	return NULL;
}

size_t fake_event_count(struct fake_client *fc, const char *reason)
{
	size_t n = 0;

	while (event_at(fc, reason, n))
		n++;
	return n;
}

const char *fake_event_message(struct fake_client *fc, const char *reason, size_t i)
{
	return obj_str(event_at(fc, reason, i), "body.message");
}

void fake_dump(struct fake_client *fc)
{
	json_t *rec;
	size_t i;

	json_array_foreach(fc->requests, i, rec) {
		char *b = obj_get(rec, "body") ? json_dumps(obj_get(rec, "body"), JSON_COMPACT) : NULL;
		fprintf(stderr, "  %s %s %s\n", obj_str(rec, "method"), obj_str(rec, "path"), b ? b : "");
		free(b);
	}
}

int test_env_init(struct test_env *e, const struct controller_def *def)
{
	memset(e, 0, sizeof(*e));
	uv_loop_init(&e->loop);
	e->fc = fake_client_new();
	controller_options_defaults(&e->opts);
	controller_context_init(&e->ctx, &e->loop, NULL, &e->fc->base, &e->opts);
	e->ctx.clock = fake_clock;
	e->fc->ctx = &e->ctx;
	e->def = def;
	if (!def)
		return 0;
	if (def->init(&e->ctx, &e->state) < 0 || !e->state)
		return -1;
	e->c = def->controller(e->state);
	return 0;
}

static int stopped;

static void on_stopped(void *arg)
{
	(void)arg;
	stopped++;
}

int test_env_release(struct test_env *e)
{
	int before = stopped, problems = 0;

	if (e->def && e->state) {
		e->def->stop(e->state, on_stopped, NULL);
		uv_run(&e->loop, UV_RUN_DEFAULT);
		if (stopped != before + 1) {
			fprintf(stderr, "test_env_release: %s did not call done once\n", e->def->name);
			problems++;
		}
	}
	controller_context_release(&e->ctx);
	fake_client_free(e->fc);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&e->loop) != 0) {
		fprintf(stderr, "test_env_release: the loop did not close (a handle left open)\n");
		problems++;
	}
	return problems;
}

struct lister *test_lister(struct test_env *e, const struct kind *k)
{
	return controller_lister(&e->ctx, k);
}

json_t *test_obj(const char *kind, const char *api_version, const char *ns, const char *name, const char *uid)
{
	json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "kind", kind, "apiVersion", api_version,
			      "metadata", "name", name, "uid", uid, "resourceVersion", "1", "creationTimestamp",
			      "2026-01-01T00:00:00Z");

	if (ns)
		obj_set(o, "metadata.namespace", json_string(ns));
	return o;
}

json_t *test_json(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);

	if (!j) {
		fprintf(stderr, "bad JSON in test at line %d: %s\n%s\n", err.line, err.text, text);
		abort();
	}
	return j;
}
