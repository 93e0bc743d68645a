/*
 * A test driver for src/client's informer against the real apiserver. It
 * runs one informer and answers commands on stdin, one per line:
 *   dump  -> one JSON line: {"synced":b,"keys":{"ns/name":"rv",...},
 *            "adds":n,"updates":n,"deletes":n}
 *   quit  -> closes everything and exits 0 if the loop closed cleanly.
 * tests/integration/test_client.py drives it through apiserver restarts
 * and expired revisions and compares its cache with the server's list.
 *
 *   informer-check KUBECONFIG GROUP VERSION PLURAL [LABEL-SELECTOR]
 */
#include "client/informer.h"
#include "client/kubeconfig.h"
#include "client/rest.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct checker {
	uv_loop_t loop;
	uv_pipe_t in;
	struct rest_client *rest;
	struct informer *inf;
	struct strbuf line;
	int adds, updates, deletes;
	bool quitting;
};

static void on_add(json_t *obj, void *data)
{
	(void)obj;
	((struct checker *)data)->adds++;
}

static void on_update(json_t *o, json_t *n, void *data)
{
	(void)o;
	(void)n;
	((struct checker *)data)->updates++;
}

static void on_delete(json_t *obj, void *data)
{
	(void)obj;
	((struct checker *)data)->deletes++;
}

static void dump(struct checker *c)
{
	json_t *out = json_object(), *keys = json_object(), *items = informer_list(c->inf, NULL);
	size_t i;
	json_t *o;
	char *s;

	json_array_foreach(items, i, o) {
		char *k = obj_key(o);
		json_object_set_new(keys, k, json_string(obj_str(o, "metadata.resourceVersion") ?: ""));
		free(k);
	}
	json_decref(items);
	json_object_set_new(out, "synced", json_boolean(informer_has_synced(c->inf)));
	json_object_set_new(out, "keys", keys);
	json_object_set_new(out, "adds", json_integer(c->adds));
	json_object_set_new(out, "updates", json_integer(c->updates));
	json_object_set_new(out, "deletes", json_integer(c->deletes));
	s = obj_dump(out, NULL);
	printf("%s\n", s);
	fflush(stdout);
	free(s);
	json_decref(out);
}

static void on_pipe_closed(uv_handle_t *h)
{
	(void)h;
}

static void on_rest_closed(void *arg)
{
	(void)arg;
}

static void on_informer_closed(void *arg)
{
	struct checker *c = arg;

	rest_client_close(c->rest, on_rest_closed, c);
}

static void quit(struct checker *c)
{
	if (c->quitting)
		return;
	c->quitting = true;
	uv_close((uv_handle_t *)&c->in, on_pipe_closed);
	informer_close(c->inf, on_informer_closed, c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	buf->base = xmalloc(hint);
	buf->len = hint;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct checker *c = s->data;

	if (n < 0) {
		free(buf->base);
		quit(c);
		return;
	}
	strbuf_add(&c->line, buf->base, (size_t)n);
	free(buf->base);
	for (char *nl; (nl = memchr(c->line.buf, '\n', c->line.len));) {
		size_t len = (size_t)(nl - c->line.buf);
		if (len == 4 && !strncmp(c->line.buf, "dump", 4))
			dump(c);
		else if (len == 4 && !strncmp(c->line.buf, "quit", 4))
			quit(c);
		memmove(c->line.buf, nl + 1, c->line.len - len - 1);
		c->line.len -= len + 1;
		c->line.buf[c->line.len] = '\0';
		if (c->quitting)
			break;
	}
}

int main(int argc, char **argv)
{
	struct checker c = { 0 };
	struct kubeconfig *kc = NULL;
	struct rest_resource res;
	struct informer_options opts = { 0 };
	struct informer_handlers h = { on_add, on_update, on_delete, &c };
	int rc;

	if (argc < 5) {
		fprintf(stderr, "usage: %s KUBECONFIG GROUP VERSION PLURAL [LABEL-SELECTOR]\n", argv[0]);
		return 2;
	}
	log_set_component("informer-check");
	if (kubeconfig_load(argv[1], NULL, &kc, NULL) < 0)
		return 1;
	uv_loop_init(&c.loop);
	c.rest = rest_client_new(&c.loop, kc);
	kubeconfig_free(kc);
	res.group = argv[2];
	res.version = argv[3];
	res.plural = argv[4];
	res.namespaced = strcmp(argv[4], "namespaces") && strcmp(argv[4], "nodes");
	opts.label_selector = argc > 5 ? argv[5] : NULL;
	c.inf = informer_new(c.rest, &res, &opts);
	informer_add_handlers(c.inf, &h);
	informer_start(c.inf);
	strbuf_init(&c.line, 128);
	uv_pipe_init(&c.loop, &c.in, 0);
	uv_pipe_open(&c.in, 0);
	c.in.data = &c;
	uv_read_start((uv_stream_t *)&c.in, on_alloc, on_read);
	uv_run(&c.loop, UV_RUN_DEFAULT);
	strbuf_release(&c.line);
	rc = uv_loop_close(&c.loop);
	if (rc)
		fprintf(stderr, "informer-check: loop did not close: %s\n", uv_strerror(rc));
	return rc ? 1 : 0;
}
