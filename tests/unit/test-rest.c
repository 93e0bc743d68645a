/*
 * The REST client and the informer against a scripted HTTP server on
 * 127.0.0.1 (tests/unit/fake-apiserver.c): JSON bodies, Status errors,
 * keep-alive reuse, connection refused naming the server, watch lines split
 * across chunks, 410 on watch start, malformed lines, broken streams,
 * cancelling from inside an event, blocking calls on a private loop, and an
 * informer that lists, watches, relists on 410 (event and HTTP status),
 * resumes a broken watch from the last resourceVersion, and closes cleanly.
 */
#include "client/informer.h"
#include "client/kubeconfig.h"
#include "client/rest.h"
#include "fake-apiserver.h"
#include "object.h"
#include "testing.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t loop;

/* Runs the loop until *flag is set, failing after a few seconds. */
static void run_until(bool *flag)
{
	uint64_t deadline = now_ms() + 5000;

	while (!*flag && now_ms() < deadline)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK(*flag);
}

/* --- scripted chunks ------------------------------------------------------ */

/* Sends each string of a NULL-terminated list as its own chunk, 5 ms apart,
 * then ends the stream ("END"), aborts ("ABORT") or stays open (NULL). */
struct script {
	uv_timer_t timer;
	struct fake_conn *conn;
	const char **chunks;
	size_t i;
	bool closing;
	struct script *prev, *next;
};

static struct script *scripts;

static void on_script_closed(uv_handle_t *h)
{
	struct script *s = h->data;

	if (s->prev)
		s->prev->next = s->next;
	else
		scripts = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

static void script_stop(struct script *s)
{
	if (s->closing)
		return;
	s->closing = true;
	uv_close((uv_handle_t *)&s->timer, on_script_closed);
}

/* Before closing a server: its connections must not be used any more. */
static void stop_scripts(void)
{
	for (struct script *s = scripts; s; s = s->next)
		script_stop(s);
}

static void on_script(uv_timer_t *t)
{
	struct script *s = t->data;
	const char *c = s->chunks[s->i];

	if (!c || !fake_conn_alive(s->conn)) {
		script_stop(s);
		return;
	}
	s->i++;
	if (!strcmp(c, "END"))
		fake_stream_end(s->conn);
	else if (!strcmp(c, "ABORT"))
		fake_conn_abort(s->conn);
	else
		fake_stream_send(s->conn, c);
	uv_timer_start(t, on_script, 5, 0);
}

static void play(struct fake_conn *conn, const char **chunks)
{
	struct script *s = xcalloc(1, sizeof(*s));

	s->conn = conn;
	s->chunks = chunks;
	s->next = scripts;
	if (scripts)
		scripts->prev = s;
	scripts = s;
	uv_timer_init(&loop, &s->timer);
	s->timer.data = s;
	uv_timer_start(&s->timer, on_script, 1, 0);
}

/* --- the server side of the REST tests ------------------------------------ */

static struct fake_req *held;      /* a request left unanswered */
static char last_auth[256], last_ctype[256], last_body[1024], last_method[16];

static const char *basic_chunks[] = {
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n{\"type\":\"MOD",
	"IFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"2\"}}}\r\n\n",
	"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"3\"}}}\n{\"type\":",
	"\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"4\"}}}",
	"END", NULL,
};
static const char *bad_chunks[] = { "{\"type\":\"ADDED\",\"object\":{}}\nnot json\n", NULL };
static const char *broken_chunks[] = {
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n", "ABORT", NULL,
};
static const char *forever_chunks[] = {
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"1\"}}}\n",
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"2\"}}}\n",
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"3\"}}}\n",
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"4\"}}}\n",
	NULL,
};
static struct fake_conn *cancel_conn;

static void rest_handler(struct fake_server *s, struct fake_req *req, void *data)
{
	snprintf(last_auth, sizeof(last_auth), "%s", req->authorization);
	snprintf(last_ctype, sizeof(last_ctype), "%s", req->content_type);
	snprintf(last_body, sizeof(last_body), "%s", req->body);
	snprintf(last_method, sizeof(last_method), "%s", req->method);

	if (!strcmp(req->target, "/api/v1/namespaces/default/pods/web"))
		fake_respond(req, 200, "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"web\"}}");
	else if (!strcmp(req->target, "/api/v1/namespaces/default/pods") && !strcmp(req->method, "POST"))
		fake_respond(req, 201, req->body);
	else if (!strcmp(req->target, "/api/v1/namespaces/default/pods/missing"))
		fake_respond(req, 404, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
				       "\"message\":\"pods \\\"missing\\\" not found\",\"reason\":\"NotFound\",\"code\":404}");
	else if (!strcmp(req->target, "/healthz"))
		fake_respond(req, 200, "ok");
	else if (!strcmp(req->target, "/slow"))
		held = req;
	else if (!strcmp(req->target, "/watch/basic"))
		play(fake_stream_start(req), basic_chunks);
	else if (!strcmp(req->target, "/watch/expired"))
		fake_respond(req, 410, "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old\"}");
	else if (!strcmp(req->target, "/watch/bad"))
		play(fake_stream_start(req), bad_chunks);
	else if (!strcmp(req->target, "/watch/broken"))
		play(fake_stream_start(req), broken_chunks);
	else if (!strcmp(req->target, "/watch/cancel"))
		play(cancel_conn = fake_stream_start(req), forever_chunks);
	else
		fake_respond(req, 404, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\",\"message\":\"no route\"}");
}

/* --- the client side ------------------------------------------------------ */

struct outcome {
	bool done;
	int status;
	json_t *body;
	char raw[256];
	char error[512];
	char reason[64];
	struct strbuf events;
	struct rest_request *req;
	int cancel_after;   /* cancel from on_event after this many events (0: never) */
	int nevents;
	int chain;          /* sequential requests left to start from on_done */
	struct rest_client *client;
};

static void outcome_reset(struct outcome *o)
{
	json_decref(o->body);
	strbuf_release(&o->events);
	memset(o, 0, sizeof(*o));
	strbuf_init(&o->events, 256);
}

static void on_done(const struct rest_response *resp, void *data)
{
	struct outcome *o = data;

	CHECK(!o->done);
	o->status = resp->status;
	json_decref(o->body);
	o->body = json_incref(resp->body);
	snprintf(o->raw, sizeof(o->raw), "%s", resp->raw ? resp->raw : "(null)");
	snprintf(o->error, sizeof(o->error), "%s", resp->error ? resp->error : "");
	snprintf(o->reason, sizeof(o->reason), "%s", resp->reason ? resp->reason : "");
	if (o->chain > 0) {
		o->chain--;
		o->req = rest_get(o->client, "/api/v1/namespaces/default/pods/web", on_done, o);
		CHECK(o->req != NULL);
		return;
	}
	o->done = true;
}

static void on_event(const char *type, json_t *object, void *data)
{
	struct outcome *o = data;
	const char *name = obj_name(object), *rv = obj_str(object, "metadata.resourceVersion");

	strbuf_addf(&o->events, "%s %s %s;", type, name ? name : "-", rv ? rv : "-");
	o->nevents++;
	if (o->cancel_after && o->nevents == o->cancel_after) {
		rest_cancel(o->req);
		o->done = true;
	}
}

static void test_requests(struct rest_client *c, struct fake_server *srv)
{
	struct outcome o = { 0 };
	json_t *pod;
	int conns;

	outcome_reset(&o);
	o.req = rest_get(c, "/api/v1/namespaces/default/pods/web", on_done, &o);
	CHECK(o.req != NULL);
	CHECK_INT(rest_client_pending(c), 1);
	run_until(&o.done);
	CHECK_INT(o.status, 200);
	CHECK_STR(o.error, "");
	CHECK_STR(obj_name(o.body), "web");
	CHECK_STR(last_auth, "Bearer sekret");
	CHECK_INT(rest_client_pending(c), 0);

	/* Keep-alive: three more requests in a row reuse the connection. */
	conns = fake_server_connections(srv);
	outcome_reset(&o);
	o.client = c;
	o.chain = 2;
	o.req = rest_get(c, "/api/v1/namespaces/default/pods/web", on_done, &o);
	run_until(&o.done);
	CHECK_INT(o.status, 200);
	CHECK_INT(fake_server_connections(srv), conns);

	/* POST with a body. */
	outcome_reset(&o);
	pod = json_pack("{s:s, s:{s:s}}", "kind", "Pod", "metadata", "name", "new");
	o.req = rest_create(c, "/api/v1/namespaces/default/pods", pod, on_done, &o);
	run_until(&o.done);
	CHECK_INT(o.status, 201);
	CHECK_STR(last_method, "POST");
	CHECK_STR(last_ctype, "application/json");
	CHECK_STR(obj_name(o.body), "new");
	json_decref(pod);

	/* PATCH carries its content type. */
	outcome_reset(&o);
	pod = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "a", "b");
	o.req = rest_patch(c, "/api/v1/namespaces/default/pods/web", "application/merge-patch+json", pod,
			   on_done, &o);
	run_until(&o.done);
	CHECK_STR(last_method, "PATCH");
	CHECK_STR(last_ctype, "application/merge-patch+json");
	CHECK_STR(last_body, "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}");
	json_decref(pod);

	/* An HTTP error carries the Status message and reason. */
	outcome_reset(&o);
	o.req = rest_delete(c, "/api/v1/namespaces/default/pods/missing", NULL, on_done, &o);
	run_until(&o.done);
	CHECK_STR(last_method, "DELETE");
	CHECK_INT(o.status, 404);
	CHECK_STR(o.error, "pods \"missing\" not found");
	CHECK_STR(o.reason, "NotFound");

	/* ignore_body: a 2xx answer stays raw; an error still says why. */
	{
		struct rest_options skip = { .ignore_body = true };

		outcome_reset(&o);
		o.req = rest_call(c, "GET", "/api/v1/namespaces/default/pods/web", NULL, &skip, on_done, &o);
		run_until(&o.done);
		CHECK_INT(o.status, 200);
		CHECK(o.body == NULL);
		CHECK(strstr(o.raw, "\"web\"") != NULL);
		CHECK_STR(o.error, "");
		outcome_reset(&o);
		o.req = rest_call(c, "DELETE", "/api/v1/namespaces/default/pods/missing", NULL, &skip, on_done, &o);
		run_until(&o.done);
		CHECK_INT(o.status, 404);
		CHECK_STR(o.error, "pods \"missing\" not found");
		CHECK_STR(o.reason, "NotFound");
	}

	/* A body that is not JSON: raw only. */
	outcome_reset(&o);
	o.req = rest_get(c, "/healthz", on_done, &o);
	run_until(&o.done);
	CHECK_INT(o.status, 200);
	CHECK(o.body == NULL);
	CHECK_STR(o.raw, "ok");
	CHECK_STR(o.error, "");

	/* Cancel before the answer: no callback, the server may answer into the void. */
	outcome_reset(&o);
	held = NULL;
	o.req = rest_get(c, "/slow", on_done, &o);
	{
		bool got = false;
		uint64_t deadline = now_ms() + 5000;
		while (!held && now_ms() < deadline)
			uv_run(&loop, UV_RUN_ONCE);
		got = held != NULL;
		CHECK(got);
	}
	rest_cancel(o.req);
	CHECK_INT(rest_client_pending(c), 0);
	if (held)
		fake_respond(held, 200, "{}");
	held = NULL;
	for (int i = 0; i < 20; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	CHECK(!o.done);
	outcome_reset(&o);
	json_decref(o.body);
	strbuf_release(&o.events);
}

static void test_watches(struct rest_client *c)
{
	struct outcome o = { 0 };

	/* Lines split across chunks, CRLF, blank lines, a last line without '\n'. */
	outcome_reset(&o);
	o.req = rest_watch(c, "/watch/basic", on_event, on_done, &o);
	run_until(&o.done);
	CHECK_STR(o.events.buf, "ADDED a 1;MODIFIED a 2;BOOKMARK - 3;DELETED a 4;");
	CHECK_INT(o.status, 200);
	CHECK_STR(o.error, "");

	/* 410 before the stream starts: no events, the Status in the body. */
	outcome_reset(&o);
	o.req = rest_watch(c, "/watch/expired", on_event, on_done, &o);
	run_until(&o.done);
	CHECK_INT(o.status, 410);
	CHECK_STR(o.reason, "Expired");
	CHECK_INT(obj_int(o.body, "code", 0), 410);
	CHECK_STR(o.events.buf, "");

	/* A malformed line ends the watch with an error. */
	outcome_reset(&o);
	o.req = rest_watch(c, "/watch/bad", on_event, on_done, &o);
	run_until(&o.done);
	CHECK_STR(o.events.buf, "ADDED - -;");  /* the first line is an event, if an odd one */
	CHECK(strstr(o.error, "malformed watch event") != NULL);
	CHECK(strstr(o.error, "/watch/bad") != NULL);
	CHECK_INT(rest_client_pending(c), 0);

	/* The server goes away mid-stream. */
	outcome_reset(&o);
	o.req = rest_watch(c, "/watch/broken", on_event, on_done, &o);
	run_until(&o.done);
	CHECK_STR(o.events.buf, "ADDED a -;");
	CHECK(o.error[0] != '\0');
	CHECK(strstr(o.error, "API server") != NULL);

	/* Cancel from inside on_event: no more events, no on_done, and the
	 * server sees the connection close. */
	outcome_reset(&o);
	o.cancel_after = 2;
	cancel_conn = NULL;
	o.req = rest_watch(c, "/watch/cancel", on_event, on_done, &o);
	run_until(&o.done);
	for (int i = 0; i < 50 && fake_conn_alive(cancel_conn); i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		uv_sleep(2);
	}
	CHECK(!fake_conn_alive(cancel_conn));
	CHECK_INT(o.nevents, 2);
	CHECK_INT(rest_client_pending(c), 0);
	json_decref(o.body);
	strbuf_release(&o.events);
}

static void test_refused(void)
{
	uv_tcp_t t;
	struct sockaddr_in addr;
	struct sockaddr_storage name;
	int namelen = sizeof(name), port;
	struct kubeconfig *kc;
	struct rest_client *c;
	struct outcome o = { 0 };
	char *server, *want;

	/* A port that was free a moment ago. */
	uv_tcp_init(&loop, &t);
	uv_ip4_addr("127.0.0.1", 0, &addr);
	uv_tcp_bind(&t, (const struct sockaddr *)&addr, 0);
	uv_tcp_getsockname(&t, (struct sockaddr *)&name, &namelen);
	port = ntohs(((struct sockaddr_in *)&name)->sin_port);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);

	server = xasprintf("http://127.0.0.1:%d", port);
	kc = kubeconfig_new(server, NULL);
	c = rest_client_new(&loop, kc);
	outcome_reset(&o);
	o.req = rest_get(c, "/version", on_done, &o);
	run_until(&o.done);
	CHECK_INT(o.status, 0);
	want = xasprintf("cannot reach the API server at %s: Connection refused", server);
	CHECK_STR(o.error, want);
	free(want);
	rest_client_close(c, NULL, NULL);
	kubeconfig_free(kc);
	free(server);
	json_decref(o.body);
	strbuf_release(&o.events);

	/* No server at all: no client. */
	kc = kubeconfig_new(NULL, "x");
	CHECK(rest_client_new(&loop, kc) == NULL);
	kubeconfig_free(kc);
}

static void test_paths(void)
{
	static const struct rest_resource pods = { "", "v1", "pods", true };
	static const struct rest_resource deps = { "apps", "v1", "deployments", true };
	static const struct rest_resource nodes = { "", "v1", "nodes", false };
	struct strbuf sb;
	char *p;

	p = rest_resource_path(&pods, "default", "web", "status");
	CHECK_STR(p, "/api/v1/namespaces/default/pods/web/status");
	free(p);
	p = rest_resource_path(&pods, NULL, NULL, NULL);
	CHECK_STR(p, "/api/v1/pods");
	free(p);
	p = rest_resource_path(&deps, "blog", NULL, NULL);
	CHECK_STR(p, "/apis/apps/v1/namespaces/blog/deployments");
	free(p);
	p = rest_resource_path(&nodes, "ignored", "n1", NULL);
	CHECK_STR(p, "/api/v1/nodes/n1");
	free(p);

	strbuf_init(&sb, 64);
	strbuf_adds(&sb, "/api/v1/pods");
	rest_query_add(&sb, "labelSelector", "app=web,tier in (a b)");
	rest_query_add(&sb, "watch", "1");
	CHECK_STR(sb.buf, "/api/v1/pods?labelSelector=app%3Dweb%2Ctier%20in%20%28a%20b%29&watch=1");
	strbuf_release(&sb);
}

/* --- blocking calls on a private loop, the server in another thread ------- */

struct server_thread {
	uv_thread_t thread;
	uv_loop_t loop;
	uv_async_t stop;
	struct fake_server *srv;
	uv_sem_t ready;
	int port;
};

static void sync_handler(struct fake_server *s, struct fake_req *req, void *data)
{
	if (!strcmp(req->target, "/version"))
		fake_respond(req, 200, "{\"gitVersion\":\"v1.32.0\"}");
	else
		fake_respond(req, 403, "{\"kind\":\"Status\",\"code\":403,\"reason\":\"Forbidden\",\"message\":\"nope\"}");
}

static void on_stop(uv_async_t *a)
{
	struct server_thread *st = a->data;

	fake_server_close(st->srv);
	uv_close((uv_handle_t *)a, NULL);
}

static void server_main(void *arg)
{
	struct server_thread *st = arg;

	uv_loop_init(&st->loop);
	st->srv = fake_server_new(&st->loop, sync_handler, NULL);
	st->port = fake_server_port(st->srv);
	uv_async_init(&st->loop, &st->stop, on_stop);
	st->stop.data = st;
	uv_sem_post(&st->ready);
	uv_run(&st->loop, UV_RUN_DEFAULT);
	CHECK_INT(uv_loop_close(&st->loop), 0);
}

static void test_sync(void)
{
	struct server_thread st;
	struct kubeconfig *kc;
	struct rest_client *c;
	struct rest_result res;
	char *server;

	memset(&st, 0, sizeof(st));
	uv_sem_init(&st.ready, 0);
	uv_thread_create(&st.thread, server_main, &st);
	uv_sem_wait(&st.ready);

	server = xasprintf("http://127.0.0.1:%d/", st.port);
	kc = kubeconfig_new(server, "t");
	c = rest_client_new(NULL, kc);
	CHECK_INT(rest_sync(c, "GET", "/version", NULL, NULL, &res), 0);
	CHECK_INT(res.status, 200);
	CHECK_STR(obj_str(res.body, "gitVersion"), "v1.32.0");
	CHECK(res.error == NULL);
	rest_result_release(&res);
	CHECK_INT(rest_sync(c, "DELETE", "/api/v1/nodes/n1", NULL, NULL, &res), -1);
	CHECK_INT(res.status, 403);
	CHECK_STR(res.error, "nope");
	CHECK_STR(res.reason, "Forbidden");
	rest_result_release(&res);
	CHECK_INT(rest_client_run(c), 0);
	rest_client_close(c, NULL, NULL);
	kubeconfig_free(kc);
	free(server);

	uv_async_send(&st.stop);
	uv_thread_join(&st.thread);
	uv_sem_destroy(&st.ready);
}

/* --- the informer against the fake server --------------------------------- */

static const char *inf_watch1[] = {
	"{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"default\",\"name\":\"a\",\"resourceVersion\":\"11\"}}}\n",
	"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"12\"}}}\n",
	"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"too old resource version\"}}\n",
	NULL,
};
static const char *inf_watch2[] = {
	"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"default\",\"name\":\"d\",\"resourceVersion\":\"15\"}}}\n",
	"ABORT", NULL,
};

struct inf_state {
	int lists, watches;
	char watch_rv[8][16];
	bool bad_query;
	bool at_end;
	struct strbuf log;
	int synced;
};

static struct inf_state is;

static const char *query_value(const char *target, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "%s=", key);
	out[0] = '\0';
	p = strstr(target, pat);
	if (p) {
		p += strlen(pat);
		snprintf(out, len, "%.*s", (int)strcspn(p, "&"), p);
	}
	return out;
}

static void informer_handler(struct fake_server *s, struct fake_req *req, void *data)
{
	char v[64];

	if (strncmp(req->target, "/api/v1/namespaces/default/pods?", 32)) {
		fake_respond(req, 404, "{\"kind\":\"Status\",\"code\":404}");
		return;
	}
	if (strcmp(query_value(req->target, "labelSelector", v, sizeof(v)), "app%3Dweb"))
		is.bad_query = true;
	if (!strstr(req->target, "watch=1")) {
		is.lists++;
		if (is.lists == 1)
			fake_respond(req, 200, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
					       "{\"metadata\":{\"namespace\":\"default\",\"name\":\"a\",\"resourceVersion\":\"5\"}},"
					       "{\"metadata\":{\"namespace\":\"default\",\"name\":\"b\",\"resourceVersion\":\"6\"}}]}");
		else if (is.lists == 2)
			fake_respond(req, 200, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"14\"},\"items\":["
					       "{\"metadata\":{\"namespace\":\"default\",\"name\":\"a\",\"resourceVersion\":\"11\"}},"
					       "{\"metadata\":{\"namespace\":\"default\",\"name\":\"c\",\"resourceVersion\":\"13\"}}]}");
		else
			fake_respond(req, 200, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"20\"},\"items\":["
					       "{\"metadata\":{\"namespace\":\"default\",\"name\":\"a\",\"resourceVersion\":\"11\"}},"
					       "{\"metadata\":{\"namespace\":\"default\",\"name\":\"c\",\"resourceVersion\":\"13\"}},"
					       "{\"metadata\":{\"namespace\":\"default\",\"name\":\"d\",\"resourceVersion\":\"15\"}}]}");
		return;
	}
	if (strcmp(query_value(req->target, "allowWatchBookmarks", v, sizeof(v)), "true"))
		is.bad_query = true;
	if (is.watches < 8)
		query_value(req->target, "resourceVersion", is.watch_rv[is.watches], sizeof(is.watch_rv[0]));
	is.watches++;
	if (is.watches == 1)
		play(fake_stream_start(req), inf_watch1);
	else if (is.watches == 2)
		play(fake_stream_start(req), inf_watch2);
	else if (is.watches == 3)
		fake_respond(req, 410, "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\",\"message\":\"gone\"}");
	else {
		/* Stay open; the test closes the informer now. */
		fake_stream_start(req);
		is.at_end = true;
	}
}

static void i_add(json_t *o, void *d)
{
	strbuf_addf(&is.log, "add %s;", obj_name(o));
}

static void i_update(json_t *old_obj, json_t *new_obj, void *d)
{
	strbuf_addf(&is.log, "update %s %s->%s;", obj_name(new_obj),
		    obj_str(old_obj, "metadata.resourceVersion"), obj_str(new_obj, "metadata.resourceVersion"));
}

static void i_delete(json_t *o, void *d)
{
	strbuf_addf(&is.log, "delete %s;", obj_name(o));
}

static void i_synced(struct informer *inf, void *d)
{
	is.synced++;
}

static bool closed_flag;
static void on_closed_flag(void *arg)
{
	closed_flag = true;
}

static void test_informer(void)
{
	static const struct rest_resource pods = { "", "v1", "pods", true };
	struct informer_options opts = { .namespace = "default", .label_selector = "app=web" };
	struct informer_handlers h = { i_add, i_update, i_delete, NULL };
	struct fake_server *srv = fake_server_new(&loop, informer_handler, NULL);
	struct informer_factory *f;
	struct informer *inf;
	struct kubeconfig *kc;
	struct rest_client *c;
	char *server = xasprintf("http://127.0.0.1:%d", fake_server_port(srv));

	memset(&is, 0, sizeof(is));
	strbuf_init(&is.log, 256);
	kc = kubeconfig_new(server, "t");
	c = rest_client_new(&loop, kc);
	f = informer_factory_new(c);
	inf = informer_factory_get(f, &pods, &opts);
	informer_add_handlers(inf, &h);
	informer_on_synced(inf, i_synced, NULL);
	informer_factory_start(f);
	run_until(&is.at_end);

	CHECK(!is.bad_query);
	CHECK_INT(is.lists, 3);
	CHECK_INT(is.watches, 4);
	CHECK_STR(is.watch_rv[0], "10");  /* from the first list */
	CHECK_STR(is.watch_rv[1], "14");  /* after the relist on an ERROR 410 event */
	CHECK_STR(is.watch_rv[2], "15");  /* resumed after the broken stream */
	CHECK_STR(is.watch_rv[3], "20");  /* after the relist on an HTTP 410 */
	CHECK_STR(is.log.buf, "add a;add b;update a 5->11;add c;delete b;add d;");
	CHECK_INT(is.synced, 1);
	CHECK(informer_has_synced(inf));
	CHECK_INT(informer_count(inf), 3);
	CHECK_STR(obj_kind(informer_get(inf, "default/c")), "Pod");
	CHECK_STR(informer_resource_version(inf), "20");

	closed_flag = false;
	informer_factory_close(f, on_closed_flag, NULL);
	CHECK_INT(rest_client_pending(c), 0);
	rest_client_close(c, NULL, NULL);
	run_until(&closed_flag);
	stop_scripts();
	fake_server_close(srv);
	uv_run(&loop, UV_RUN_DEFAULT);
	kubeconfig_free(kc);
	free(server);
	strbuf_release(&is.log);
}

int main(void)
{
	struct fake_server *srv;
	struct kubeconfig *kc;
	struct rest_client *c;
	char *server;

	uv_loop_init(&loop);
	test_paths();

	srv = fake_server_new(&loop, rest_handler, NULL);
	server = xasprintf("http://127.0.0.1:%d", fake_server_port(srv));
	kc = kubeconfig_new(server, "sekret");
	c = rest_client_new(&loop, kc);
	CHECK_STR(rest_client_server(c), server);
	test_requests(c, srv);
	test_watches(c);
	rest_client_close(c, NULL, NULL);
	stop_scripts();
	fake_server_close(srv);
	uv_run(&loop, UV_RUN_DEFAULT);
	kubeconfig_free(kc);
	free(server);

	test_refused();
	test_sync();
	test_informer();

	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_INT(uv_loop_close(&loop), 0);
	return test_done();
}
