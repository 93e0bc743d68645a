/*
 * curl_uv.h: one uv_poll per socket curl asks about, one uv_timer for its
 * timeouts. Every handle opened is counted; closing frees the struct when
 * the last close callback has run.
 */
#include "core/curl_uv.h"
#include "core/log.h"
#include "core/util.h"

#include <stdbool.h>
#include <stdlib.h>

struct curl_poll {
	uv_poll_t poll;
	curl_socket_t fd;
	struct curl_uv *cu;
	struct curl_poll *prev, *next;
};

struct curl_uv {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct curl_poll *polls;
	void (*after)(void *owner);
	void *owner;
	int open_handles;
	bool closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
};

static uv_once_t curl_once = UV_ONCE_INIT;

static void curl_init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die("cannot initialize libcurl");
}

static void handle_closed(struct curl_uv *cu)
{
	void (*cb)(void *) = cu->on_closed;
	void *arg = cu->closed_arg;

	if (--cu->open_handles)
		return;
	free(cu);
	if (cb)
		cb(arg);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct curl_poll *p = h->data;
	struct curl_uv *cu = p->cu;

	free(p);
	handle_closed(cu);
}

static void on_timer_closed(uv_handle_t *h)
{
	handle_closed(h->data);
}

static void poll_close(struct curl_poll *p)
{
	struct curl_uv *cu = p->cu;

	if (p->prev)
		p->prev->next = p->next;
	else
		cu->polls = p->next;
	if (p->next)
		p->next->prev = p->prev;
	uv_close((uv_handle_t *)&p->poll, on_poll_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct curl_poll *p = h->data;
	struct curl_uv *cu = p->cu;
	int flags = 0, running;

	if (cu->closing)
		return;
	if (status < 0) {
		flags = CURL_CSELECT_ERR;
	} else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	/* p may be closed inside; only cu is used after this call. */
	curl_multi_socket_action(cu->multi, p->fd, flags, &running);
	cu->after(cu->owner);
}

static void on_timeout(uv_timer_t *h)
{
	struct curl_uv *cu = h->data;
	int running;

	if (cu->closing)
		return;
	curl_multi_socket_action(cu->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	cu->after(cu->owner);
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
	struct curl_uv *cu = userp;
	struct curl_poll *p = socketp;
	int events = 0;

	(void)easy;
	if (action == CURL_POLL_REMOVE) {
		if (p) {
			poll_close(p);
			if (!cu->closing)
				curl_multi_assign(cu->multi, s, NULL);
		}
		return 0;
	}
	if (cu->closing)
		return 0;
	if (!p) {
		p = xcalloc(1, sizeof(*p));
		if (uv_poll_init_socket(cu->loop, &p->poll, s) < 0) {
			free(p);
			return -1;
		}
		p->fd = s;
		p->cu = cu;
		p->poll.data = p;
		p->next = cu->polls;
		if (cu->polls)
			cu->polls->prev = p;
		cu->polls = p;
		cu->open_handles++;
		curl_multi_assign(cu->multi, s, p);
	}
	if (action & CURL_POLL_IN)
		events |= UV_READABLE;
	if (action & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&p->poll, events, on_poll);
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_uv *cu = userp;

	(void)multi;
	if (cu->closing)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&cu->timer);
	else
		uv_timer_start(&cu->timer, on_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

struct curl_uv *curl_uv_new(uv_loop_t *loop, void (*after)(void *owner), void *owner)
{
	struct curl_uv *cu;

	uv_once(&curl_once, curl_init_once);
	cu = xcalloc(1, sizeof(*cu));
	cu->loop = loop;
	cu->after = after;
	cu->owner = owner;
	cu->multi = curl_multi_init();
	if (!cu->multi)
		die("cannot create a libcurl multi handle");
	curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, cu);
	curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, cu);
	uv_timer_init(loop, &cu->timer);
	cu->timer.data = cu;
	cu->open_handles = 1;
	return cu;
}

CURLM *curl_uv_multi(const struct curl_uv *cu)
{
	return cu->multi;
}

size_t curl_uv_take_done(struct curl_uv *cu, struct curl_uv_done **out)
{
	struct curl_uv_done *v = NULL;
	size_t n = 0, alloc = 0;
	CURLMsg *m;
	int left;

	*out = NULL;
	if (cu->closing)
		return 0;
	while ((m = curl_multi_info_read(cu->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 8;
			v = xrealloc(v, alloc * sizeof(*v));
		}
		v[n].priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&v[n].priv);
		v[n].result = m->data.result;
		n++;
	}
	*out = v;
	return n;
}

void curl_uv_close(struct curl_uv *cu, void (*cb)(void *arg), void *arg)
{
	cu->closing = true;
	cu->on_closed = cb;
	cu->closed_arg = arg;
	curl_multi_cleanup(cu->multi);
	cu->multi = NULL;
	while (cu->polls)
		poll_close(cu->polls);
	uv_close((uv_handle_t *)&cu->timer, on_timer_closed);
}
