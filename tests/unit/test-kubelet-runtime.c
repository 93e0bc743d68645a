/*
 * The kubelet's pure runtime helpers: dockershim container names and
 * labels, inspect parsing, the ordering of a container's instances, the
 * crash-loop backoff, and the Engine's byte formats (multiplexed log
 * stream, timestamps, tar, query strings).
 */
#include "testing.h"
#include "kubelet/docker.h"
#include "kubelet/runtime.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

static void test_names(void)
{
	struct runtime_name n;
	char *name = runtime_container_name("web", "nginx-1", "default", "0b7c-11", 3);

	CHECK_STR(name, "k8s_web_nginx-1_default_0b7c-11_3");
	CHECK_INT(runtime_parse_name(name, &n), 0);
	CHECK_STR(n.container, "web");
	CHECK_STR(n.pod, "nginx-1");
	CHECK_STR(n.ns, "default");
	CHECK_STR(n.uid, "0b7c-11");
	CHECK_INT(n.attempt, 3);
	runtime_name_release(&n);
	/* Docker reports names with a leading '/'. */
	CHECK_INT(runtime_parse_name("/k8s_POD_p_ns_u_0", &n), 0);
	CHECK_STR(n.container, "POD");
	CHECK_INT(n.attempt, 0);
	runtime_name_release(&n);
	free(name);
	CHECK_INT(runtime_parse_name("nginx", &n), -1);
	CHECK_INT(runtime_parse_name("k8s_web_pod_ns_uid", &n), -1);      /* five parts */
	CHECK_INT(runtime_parse_name("k8s_web_pod_ns_uid_1_2", &n), -1);  /* seven */
	CHECK_INT(runtime_parse_name("k8s_web_pod_ns_uid_-1", &n), -1);
	CHECK_INT(runtime_parse_name("k8s_web_pod_ns_uid_x", &n), -1);
	CHECK_INT(runtime_parse_name("k8s__pod_ns_uid_1", &n), -1);
	CHECK_INT(runtime_parse_name(NULL, &n), -1);
}

static void test_hash(void)
{
	json_t *a = json_loads("{\"name\":\"web\",\"image\":\"nginx:1\",\"args\":[\"a\"]}", 0, NULL);
	json_t *b = json_loads("{\"args\":[\"a\"],\"image\":\"nginx:1\",\"name\":\"web\"}", 0, NULL);
	json_t *c = json_loads("{\"name\":\"web\",\"image\":\"nginx:2\",\"args\":[\"a\"]}", 0, NULL);
	char ha[9], hb[9], hc[9];

	runtime_container_hash(a, ha);
	runtime_container_hash(b, hb);
	runtime_container_hash(c, hc);
	CHECK_INT(strlen(ha), 8);
	CHECK_STR(ha, hb);  /* key order does not matter */
	CHECK(strcmp(ha, hc) != 0);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static json_t *inspect(const char *id, const char *type, const char *container, int attempt, const char *state,
		       const char *error, int exit_code)
{
	char attempt_s[16];

	snprintf(attempt_s, sizeof(attempt_s), "%d", attempt);
	return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:b, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}, "
			 "s:{s:s, s:i, s:b, s:s, s:s, s:s}, s:{s:{s:{s:s}}}}",
			 "Id", id, "Name", "/k8s_x", "Created", "2026-12-03T19:45:33.288967615Z", "Image", "sha256:abc",
			 "Config", "Image", "busybox:1", "Tty", false, "Labels", LABEL_TYPE, type, LABEL_POD_UID, "uid-1",
			 LABEL_POD_NAME, "web", LABEL_POD_NAMESPACE, "default", LABEL_CONTAINER_NAME, container,
			 LABEL_RESTART_COUNT, attempt_s, LABEL_SANDBOX_ID, "sb1", LABEL_GRACE, "7", LABEL_NODE, "n1",
			 "State", "Status", state, "ExitCode", exit_code, "OOMKilled", false, "Error", error ? error : "",
			 "StartedAt", "2026-12-03T19:45:34.5Z", "FinishedAt", "0001-01-01T00:00:00Z", "NetworkSettings",
			 "Networks", "minik8s-n1", "IPAddress", "10.244.1.5");
}

static void test_inspect(void)
{
	struct kcontainer c;
	json_t *in = inspect("id1", TYPE_CONTAINER, "app", 2, "running", NULL, 0);

	CHECK_INT(kcontainer_from_inspect(&c, in, "minik8s-n1"), 0);
	CHECK_STR(c.id, "id1");
	CHECK(!c.sandbox);
	CHECK_STR(c.container, "app");
	CHECK_STR(c.pod_uid, "uid-1");
	CHECK_INT(c.attempt, 2);
	CHECK_STR(c.sandbox_id, "sb1");
	CHECK_INT(c.grace_s, 7);
	CHECK_INT(c.state, KC_RUNNING);
	CHECK_INT(c.started_ms, 1796327134500LL);
	CHECK_INT(c.finished_ms, 0);
	CHECK_STR(c.image_id, "sha256:abc");
	CHECK_STR(c.ip, "10.244.1.5");
	kcontainer_release(&c);
	json_decref(in);

	/* The address on another network is not the pod IP. */
	in = inspect("id2", TYPE_SANDBOX, "POD", 0, "running", NULL, 0);
	CHECK_INT(kcontainer_from_inspect(&c, in, "other"), 0);
	CHECK(c.sandbox);
	CHECK_STR(c.container, SANDBOX_CONTAINER_NAME);
	CHECK(c.ip == NULL);
	kcontainer_release(&c);
	json_decref(in);

	/* A start that failed: "created" with an error counts as exited. */
	in = inspect("id3", TYPE_CONTAINER, "app", 0, "created", "exec: \"nope\": not found", 127);
	CHECK_INT(kcontainer_from_inspect(&c, in, NULL), 0);
	CHECK_INT(c.state, KC_EXITED);
	CHECK_INT(c.exit_code, 127);
	CHECK(c.finished_ms > 0);
	kcontainer_release(&c);
	json_decref(in);

	/* Not ours: no labels. */
	in = json_pack("{s:s, s:{s:{}}}", "Id", "x", "Config", "Labels");
	CHECK_INT(kcontainer_from_inspect(&c, in, NULL), -1);
	json_decref(in);
}

static struct kcontainer *mk(const char *id, const char *name, int attempt, const char *sandbox_id, enum kc_state st,
			     int64_t created)
{
	struct kcontainer *c = calloc(1, sizeof(*c));

	c->id = xstrdup(id);
	c->container = xstrdup(name);
	c->sandbox = !strcmp(name, "POD");
	c->attempt = attempt;
	c->sandbox_id = sandbox_id ? xstrdup(sandbox_id) : NULL;
	c->state = st;
	c->created_ms = created;
	return c;
}

static void test_latest(void)
{
	struct kcontainer *v[6];
	size_t n = 6;

	v[0] = mk("s0", "POD", 0, NULL, KC_EXITED, 100);
	v[1] = mk("s1", "POD", 1, NULL, KC_RUNNING, 200);
	v[2] = mk("a0", "app", 0, "s0", KC_EXITED, 110);
	v[3] = mk("a1", "app", 1, "s1", KC_EXITED, 210);
	v[4] = mk("a2", "app", 2, "s1", KC_RUNNING, 220);
	v[5] = mk("b0", "side", 0, "s1", KC_RUNNING, 215);
	CHECK_STR(kcontainer_latest(v, n, "app", NULL, NULL)->id, "a2");
	CHECK_STR(kcontainer_latest(v, n, "app", NULL, v[4])->id, "a1");  /* the previous one */
	CHECK_STR(kcontainer_latest(v, n, "app", NULL, v[3])->id, "a0");
	CHECK(kcontainer_latest(v, n, "app", NULL, v[2]) == NULL);
	CHECK_STR(kcontainer_latest(v, n, "app", "s0", NULL)->id, "a0");
	CHECK(kcontainer_latest(v, n, "nope", NULL, NULL) == NULL);
	CHECK(kcontainer_latest(v, n, "POD", NULL, NULL) == NULL);      /* sandboxes are not app containers */
	CHECK_STR(kcontainer_sandbox(v, n)->id, "s1");
	/* A newer dead sandbox loses to an older running one. */
	v[1]->state = KC_EXITED;
	v[0]->state = KC_RUNNING;
	CHECK_STR(kcontainer_sandbox(v, n)->id, "s0");
	v[0]->state = KC_EXITED;
	CHECK_STR(kcontainer_sandbox(v, n)->id, "s1");
	/* Same attempt: the later creation wins. */
	CHECK(kcontainer_newer(v[5], v[3]) == false);
	v[5]->attempt = 1;
	CHECK(kcontainer_newer(v[5], v[3]));
	for (size_t i = 0; i < n; i++) {
		kcontainer_release(v[i]);
		free(v[i]);
	}
}

static void test_backoff(void)
{
	struct backoff b = { 0 };
	const int64_t init = 1000, max = 4000;
	int64_t t = 1000000, waits[6];

	/* The first restart does not wait. */
	CHECK_INT(backoff_remaining(&b, t, t, max), 0);
	for (int i = 0; i < 6; i++) {
		int64_t finished = t + 100, left = backoff_remaining(&b, finished, finished, max);
		waits[i] = left;
		t = finished + left;
		backoff_next(&b, t, init, max);
	}
	CHECK_INT(waits[0], 0);
	CHECK_INT(waits[1], 1000);
	CHECK_INT(waits[2], 2000);
	CHECK_INT(waits[3], 4000);
	CHECK_INT(waits[4], 4000);
	CHECK_INT(waits[5], 4000);
	/* Partway through a wait. */
	CHECK_INT(backoff_remaining(&b, t + 100, t + 1100, max), 3000);
	/* A container that ran longer than twice the cap starts over. */
	CHECK_INT(backoff_remaining(&b, t + 2 * max + 1, t + 2 * max + 1, max), 0);
	backoff_next(&b, t + 3 * max, init, max);
	CHECK_INT(b.delay_ms, init);
	backoff_reset(&b);
	CHECK_INT(backoff_remaining(&b, t, t, max), 0);
}

struct demux_out {
	struct strbuf out, err;
	int calls, stop_after;
};

static int on_demux(int stream, const char *buf, size_t len, void *data)
{
	struct demux_out *d = data;

	strbuf_add(stream == 2 ? &d->err : &d->out, buf, len);
	if (++d->calls == d->stop_after)
		return -5;
	return 0;
}

static void frame(struct strbuf *sb, int stream, const char *text)
{
	unsigned char h[8] = { (unsigned char)stream, 0, 0, 0 };
	size_t n = strlen(text);

	h[4] = (unsigned char)(n >> 24);
	h[5] = (unsigned char)(n >> 16);
	h[6] = (unsigned char)(n >> 8);
	h[7] = (unsigned char)n;
	strbuf_add(sb, h, 8);
	strbuf_add(sb, text, n);
}

static void test_demux(void)
{
	struct strbuf in;
	struct docker_demux m;
	struct demux_out d = { 0 };
	char big[300];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	strbuf_init(&in, 64);
	frame(&in, 1, "hello\n");
	frame(&in, 2, "oops\n");
	frame(&in, 1, big);
	frame(&in, 1, "");
	frame(&in, 1, "end\n");
	/* Every split of the stream decodes the same way, one byte at a time too. */
	for (size_t chunk = 1; chunk <= in.len; chunk = chunk * 3 + 1) {
		strbuf_init(&d.out, 64);
		strbuf_init(&d.err, 64);
		d.calls = 0;
		d.stop_after = 0;
		docker_demux_init(&m);
		for (size_t off = 0; off < in.len; off += chunk)
			CHECK_INT(docker_demux_feed(&m, in.buf + off, off + chunk > in.len ? in.len - off : chunk, on_demux, &d),
				  0);
		CHECK_INT(d.out.len, 6 + strlen(big) + 4);
		CHECK(!strncmp(d.out.buf, "hello\nxxx", 9));
		CHECK(str_has_suffix(d.out.buf, "xend\n"));
		CHECK_STR(d.err.buf, "oops\n");
		strbuf_release(&d.out);
		strbuf_release(&d.err);
	}
	/* A callback can stop the feed. */
	strbuf_init(&d.out, 64);
	strbuf_init(&d.err, 64);
	d.calls = 0;
	d.stop_after = 2;
	docker_demux_init(&m);
	CHECK_INT(docker_demux_feed(&m, in.buf, in.len, on_demux, &d), -5);
	CHECK_STR(d.out.buf, "hello\n");
	strbuf_release(&d.out);
	strbuf_release(&d.err);
	strbuf_release(&in);
}

static void test_time(void)
{
	char buf[32];

	CHECK_INT(docker_time_ms("2026-12-03T19:45:33.288967615Z"), 1796327133288LL);
	CHECK_INT(docker_time_ms("2026-12-03T19:45:33Z"), 1796327133000LL);
	CHECK_INT(docker_time_ms("2026-12-03T19:45:33.5+01:00"), 1796323533500LL);
	CHECK_INT(docker_time_ms("0001-01-01T00:00:00Z"), 0);
	CHECK_INT(docker_time_ms("garbage"), 0);
	CHECK_INT(docker_time_ms(NULL), 0);
	docker_format_time(1796327133288LL, buf, sizeof(buf));
	CHECK_STR(buf, "2026-12-03T19:45:33Z");
}

static void test_tar(void)
{
	struct strbuf sb;
	unsigned sum = 0, want;
	const unsigned char *h;

	strbuf_init(&sb, 0);
	docker_tar_add(&sb, "pause", "ABCDEFGHIJ", 10, 0755);
	docker_tar_end(&sb);
	CHECK_INT(sb.len, 512 + 512 + 1024);
	h = (const unsigned char *)sb.buf;
	CHECK_STR((const char *)h, "pause");
	CHECK(!memcmp(h + 100, "0000755", 7));
	CHECK(!memcmp(h + 124, "00000000012", 11)); /* 10 in octal */
	CHECK(h[156] == '0');
	CHECK(!memcmp(h + 257, "ustar", 5));
	want = (unsigned)strtoul((const char *)h + 148, NULL, 8);
	for (int i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	CHECK_INT(sum, want);
	CHECK(!memcmp(sb.buf + 512, "ABCDEFGHIJ", 10));
	CHECK(sb.buf[512 + 10] == 0);
	strbuf_release(&sb);
}

static void test_query(void)
{
	char *p = xstrdup("/containers/json?all=1");

	docker_query_add(&p, "filters", "{\"label\":[\"a=b\"]}");
	CHECK_STR(p, "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
	free(p);
	p = xstrdup("/images/create");
	docker_query_add(&p, "fromImage", "127.0.0.1:1/x:1");
	CHECK_STR(p, "/images/create?fromImage=127.0.0.1%3A1%2Fx%3A1");
	free(p);
}

int main(void)
{
	test_names();
	test_hash();
	test_inspect();
	test_latest();
	test_backoff();
	test_demux();
	test_time();
	test_tar();
	test_query();
	return test_done();
}
