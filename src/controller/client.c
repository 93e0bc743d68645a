/*
 * The controllers' write client over the REST client (controller.h's
 * struct controller_client). It caps the requests running at once and
 * keeps the rest in a FIFO, so a burst of pod creates reuses a few
 * keep-alive connections instead of opening hundreds. Shutting down fails
 * every waiting request through its callback, which is how the syncs that
 * wait on them end.
 */
#include "controller/controller.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct rc_call {
	struct rc_client *c;
	char *method, *path, *content_type;
	json_t *body;               /* own copy while waiting */
	api_done_fn done;
	void *data;
	struct rest_request *req;   /* while running */
	struct rc_call *prev, *next;
};

/* A doubly linked list of calls. */
struct rc_list {
	struct rc_call *head, *tail;
	size_t n;
};

struct rc_client {
	struct controller_client base;
	struct rest_client *rest;
	int max_in_flight;
	struct rc_list waiting, running, failed;
	uv_timer_t timer;           /* delivers failures to start, from the loop */
	bool closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
};

static void list_push(struct rc_list *l, struct rc_call *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->n++;
}

static void list_unlink(struct rc_list *l, struct rc_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	l->n--;
}

static struct rc_call *list_pop(struct rc_list *l)
{
	struct rc_call *c = l->head;

	if (c)
		list_unlink(l, c);
	return c;
}

static void call_free(struct rc_call *call)
{
	free(call->method);
	free(call->path);
	free(call->content_type);
	json_decref(call->body);
	free(call);
}

static void call_fail(struct rc_call *call, const char *why)
{
	struct api_result r = { 0, NULL, why, NULL };

	call->done(&r, call->data);
	call_free(call);
}

static void pump(struct rc_client *c);

static void on_rest_done(const struct rest_response *resp, void *data)
{
	struct rc_call *call = data;
	struct rc_client *c = call->c;
	struct api_result r = { resp->status, resp->body, resp->error, resp->reason };

	list_unlink(&c->running, call);
	call->req = NULL;
	call->done(&r, call->data);
	call_free(call);
	pump(c);
}

static void on_failed_timer(uv_timer_t *t)
{
	struct rc_client *c = t->data;
	struct rc_call *call;

	while ((call = list_pop(&c->failed)))
		call_fail(call, "cannot start the request; see the log above");
	pump(c);
}

static void start_call(struct rc_client *c, struct rc_call *call)
{
	struct rest_options o = { .content_type = call->content_type };

	call->req = rest_call(c->rest, call->method, call->path, call->body, &o, on_rest_done, call);
	if (!call->req) {
		list_push(&c->failed, call);
		uv_timer_start(&c->timer, on_failed_timer, 0, 0);
		return;
	}
	/* The REST client serialized the body already. */
	json_decref(call->body);
	call->body = NULL;
	list_push(&c->running, call);
}

static void pump(struct rc_client *c)
{
	while (!c->closing && c->running.n < (size_t)c->max_in_flight && c->waiting.head)
		start_call(c, list_pop(&c->waiting));
}

static void rc_send(struct controller_client *cc, const char *method, const char *path, const char *content_type,
		    const json_t *body, api_done_fn done, void *data)
{
	struct rc_client *c = (struct rc_client *)cc;
	struct rc_call *call;

	if (c->closing) {
		struct api_result r = { 0, NULL, "the controller manager is stopping", NULL };
		done(&r, data);
		return;
	}
	call = xcalloc(1, sizeof(*call));
	call->c = c;
	call->method = xstrdup(method);
	call->path = xstrdup(path);
	call->content_type = content_type ? xstrdup(content_type) : NULL;
	call->body = body ? json_deep_copy(body) : NULL;
	call->done = done;
	call->data = data;
	if (c->running.n < (size_t)c->max_in_flight && !c->waiting.head)
		start_call(c, call);
	else
		list_push(&c->waiting, call);
}

struct controller_client *rest_controller_client_new(struct rest_client *rest, int max_in_flight)
{
	struct rc_client *c = xcalloc(1, sizeof(*c));

	c->base.send = rc_send;
	c->rest = rest;
	c->max_in_flight = max_in_flight > 0 ? max_in_flight : 1;
	uv_timer_init(rest_client_loop(rest), &c->timer);
	c->timer.data = c;
	return &c->base;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct rc_client *c = h->data;
	void (*cb)(void *) = c->on_closed;
	void *arg = c->closed_arg;

	free(c);
	if (cb)
		cb(arg);
}

void rest_controller_client_close(struct controller_client *cc, void (*on_closed)(void *arg), void *arg)
{
	struct rc_client *c = (struct rc_client *)cc;
	struct rc_call *call;

	if (c->closing)
		return;
	c->closing = true;
	c->on_closed = on_closed;
	c->closed_arg = arg;
	log_debug("controller client stopping running=%zu waiting=%zu", c->running.n, c->waiting.n);
	/* Callbacks may send again; those are answered at once (closing). */
	while ((call = list_pop(&c->running))) {
		rest_cancel(call->req);
		call->req = NULL;
		call_fail(call, "the controller manager is stopping");
	}
	while ((call = list_pop(&c->waiting)))
		call_fail(call, "the controller manager is stopping");
	while ((call = list_pop(&c->failed)))
		call_fail(call, "the controller manager is stopping");
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
