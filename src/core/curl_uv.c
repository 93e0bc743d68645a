/*
 * curl_uv.h: one uv_poll per socket curl asks about, one uv_timer for its
 * timeouts. Every handle opened is counted; closing frees the struct when
 * the last close callback has run. Below the glue, the requests of the two
 * clients: curl only appends to buffers, and after each socket action
 * (after_action) streamed bytes and finished transfers go to the hooks.
 */
#include "core/curl_uv.h"
#include "core/log.h"
#include "core/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Connections a multi handle keeps open, in use or idle. libcurl's default
 * is four per transfer in progress, so after a burst it closes most of the
 * connections the burst opened and the next burst pays a TLS handshake for
 * each again (bench/scheduler: 50 new connections a second, a third of the
 * hollow nodes' CPU). This must be more than any component runs at once,
 * watches included, or the churn comes back: the hollow nodes run 128
 * writes, the scheduler 128 bindings and 16 writes, the controllers'
 * client caps its own. An idle connection of the API client costs little:
 * it gives its TLS buffers back (rest.c sets SSL_MODE_RELEASE_BUFFERS).
 */
#define MAX_CONNECTS 512

/* A stream keeps at most this much of what its owner has not taken yet
 * (for a watch: a line it has not seen the end of). */
#define MAX_STREAM_PENDING (64u << 20)
#define CONNECT_TIMEOUT_MS 10000L

struct curl_poll {
	uv_poll_t poll;
	curl_socket_t fd;
	struct curl_uv *cu;
	struct curl_poll *prev, *next;
	bool kept;                    /* a connection's socket: lives until curl closes it */
};

struct curl_uv {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct curl_poll *polls;
	struct curl_poll **byfd;      /* kept polls by descriptor (poll_new) */
	size_t nbyfd;
	void (*after)(void *owner);   /* NULL: the reqs below are delivered here */
	void *owner;
	struct curl_uv_req *reqs;
	size_t nreqs;
	struct curl_uv_req *pending;  /* streams that got bytes since the last delivery, newest first */
	int open_handles;
	bool closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
};

static uv_once_t curl_once = UV_ONCE_INIT;

static void after_action(struct curl_uv *cu);
static void req_unref(struct curl_uv_req *req);

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

	if (p->kept)
		cu->byfd[p->fd] = NULL;
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
	after_action(cu);
}

static void on_timeout(uv_timer_t *h)
{
	struct curl_uv *cu = h->data;
	int running;

	if (cu->closing)
		return;
	curl_multi_socket_action(cu->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	after_action(cu);
}

/*
 * A connection's socket keeps its uv_poll from the moment curl opens it
 * (on_open_socket) until curl closes it (on_close_socket). Between two
 * transfers on a kept connection curl says CURL_POLL_REMOVE and forgets
 * what curl_multi_assign gave it, so the poll is only stopped, and found
 * again by descriptor: a new one per request would cost an allocation, an
 * ioctl and epoll changes each time (bench/scheduler: 10-19% of the control
 * plane's CPU per pod). Other sockets curl asks about (its resolver's
 * socketpair, which it closes without telling on_close_socket) get a poll
 * from their first use to their CURL_POLL_REMOVE, as before.
 */
static struct curl_poll *poll_of(const struct curl_uv *cu, curl_socket_t s)
{
	return s >= 0 && (size_t)s < cu->nbyfd ? cu->byfd[s] : NULL;
}

static struct curl_poll *poll_new(struct curl_uv *cu, curl_socket_t s, bool kept)
{
	struct curl_poll *p = xcalloc(1, sizeof(*p));

	if (uv_poll_init_socket(cu->loop, &p->poll, s) < 0) {
		free(p);
		return NULL;
	}
	p->fd = s;
	p->cu = cu;
	p->kept = kept;
	p->poll.data = p;
	p->next = cu->polls;
	if (cu->polls)
		cu->polls->prev = p;
	cu->polls = p;
	cu->open_handles++;
	if (kept) {
		if ((size_t)s >= cu->nbyfd) {
			size_t n = cu->nbyfd ? cu->nbyfd : 64;

			while (n <= (size_t)s)
				n *= 2;
			cu->byfd = xrealloc(cu->byfd, n * sizeof(*cu->byfd));
			memset(cu->byfd + cu->nbyfd, 0, (n - cu->nbyfd) * sizeof(*cu->byfd));
			cu->nbyfd = n;
		}
		cu->byfd[s] = p;
	}
	return p;
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int action, void *userp, void *socketp)
{
	struct curl_uv *cu = userp;
	struct curl_poll *p = socketp ? socketp : poll_of(cu, s);
	int events = 0;

	(void)easy;
	if (action == CURL_POLL_REMOVE) {
		if (p && p->kept) {
			uv_poll_stop(&p->poll);
		} else if (p) {
			poll_close(p);
			if (!cu->closing)
				curl_multi_assign(cu->multi, s, NULL);
		}
		return 0;
	}
	if (cu->closing)
		return 0;
	if (!p && !(p = poll_new(cu, s, false)))
		return -1;
	curl_multi_assign(cu->multi, s, p);
	if (action & CURL_POLL_IN)
		events |= UV_READABLE;
	if (action & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&p->poll, events, on_poll);
	return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: the socket curl would make, close-on-exec,
 * and its poll. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct curl_uv *cu = clientp;
	curl_socket_t s;

	(void)purpose;
	s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (s < 0)
		return CURL_SOCKET_BAD;
	if (cu->closing || !poll_new(cu, s, true)) {
		close(s);
		return CURL_SOCKET_BAD;
	}
	return s;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the poll goes first, while the descriptor
 * is still curl's, since closing a poll takes its descriptor out of the
 * loop's epoll set, which must not hit a later socket with that number. */
static int on_close_socket(void *clientp, curl_socket_t s)
{
	struct curl_poll *p = poll_of(clientp, s);

	if (p)
		poll_close(p);
	return close(s);
}

CURL *curl_uv_easy_init(struct curl_uv *cu)
{
	CURL *e = curl_easy_init();

	if (e) {
		curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, cu);
		curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
		curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, cu);
	}
	return e;
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
	curl_multi_setopt(cu->multi, CURLMOPT_MAXCONNECTS, (long)MAX_CONNECTS);
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
	while (cu->reqs)
		curl_uv_req_cancel(cu->reqs);
	while (cu->pending) {
		struct curl_uv_req *req = cu->pending;

		cu->pending = req->pending_next;
		req_unref(req);
	}
	cu->closing = true;
	cu->on_closed = cb;
	cu->closed_arg = arg;
	curl_multi_cleanup(cu->multi);
	cu->multi = NULL;
	while (cu->polls)
		poll_close(cu->polls);
	free(cu->byfd);
	cu->byfd = NULL;
	cu->nbyfd = 0;
	uv_close((uv_handle_t *)&cu->timer, on_timer_closed);
}

/* ---- requests ---------------------------------------------------------- */

static void req_unref(struct curl_uv_req *req)
{
	if (--req->refs)
		return;
	if (req->easy)
		curl_easy_cleanup(req->easy);
	curl_slist_free_all(req->headers);
	strbuf_release(&req->in);
	free(req->body);
	req->ops->free(req);
}

/* Takes req out of curl and the list. The caller keeps its own ref. */
static void req_detach(struct curl_uv_req *req)
{
	struct curl_uv *cu = req->cu;

	if (req->in_multi) {
		curl_multi_remove_handle(cu->multi, req->easy);
		req->in_multi = false;
	}
	if (!req->linked)
		return;
	if (req->prev)
		req->prev->next = req->next;
	else
		cu->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
	req->linked = false;
	cu->nreqs--;
	req_unref(req);
}

static void req_end(struct curl_uv_req *req, CURLcode result)
{
	req_detach(req);
	req->ops->on_end(req, result);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct curl_uv_req *req = userdata;
	size_t n = size * nmemb;

	if (req->stream && !req->status_known) {
		long code = 0;
		curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &code);
		req->status_known = true;
		req->streaming = code >= 200 && code < 300;
	}
	if (req->in.len + n > (req->streaming ? MAX_STREAM_PENDING : req->ops->max_body)) {
		req->overflow = true;
		return 0;
	}
	strbuf_add(&req->in, ptr, n);
	if (req->streaming && !req->pending) {
		/* a reference, so that a cancel before the delivery frees nothing */
		req->pending = true;
		req->refs++;
		req->pending_next = req->cu->pending;
		req->cu->pending = req;
	}
	return n;
}

/* Streams that got bytes: hand them to their owners, oldest first. The
 * list is taken whole first, since a hook may make more bytes pending. */
static void deliver_streams(struct curl_uv *cu)
{
	struct curl_uv_req *list = NULL, *req, *next;

	for (req = cu->pending; req; req = next) {
		next = req->pending_next;
		req->pending_next = list;
		list = req;
	}
	cu->pending = NULL;
	for (req = list; req; req = next) {
		next = req->pending_next;
		req->pending_next = NULL;
		req->pending = false;
		if (!req->cancelled && !req->done && req->ops->on_stream(req) < 0 && !req->cancelled)
			req_end(req, CURLE_OK);
		req_unref(req);
	}
}

static void deliver_done(struct curl_uv *cu)
{
	struct curl_uv_done *v;
	size_t n, i;

	n = curl_uv_take_done(cu, &v);
	/* A reference on each first: ending one may cancel another. */
	for (i = 0; i < n; i++)
		if (v[i].priv)
			((struct curl_uv_req *)v[i].priv)->refs++;
	for (i = 0; i < n; i++) {
		struct curl_uv_req *req = v[i].priv;
		if (!req)
			continue;
		if (!req->cancelled && !req->done)
			req_end(req, v[i].result);
		req_unref(req);
	}
	free(v);
}

static void after_action(struct curl_uv *cu)
{
	if (cu->after) {
		cu->after(cu->owner);
		return;
	}
	if (cu->pending)
		deliver_streams(cu);
	deliver_done(cu);
}

int curl_uv_req_init(struct curl_uv_req *req, struct curl_uv *cu, const struct curl_uv_req_ops *ops,
		     const char *url, bool stream)
{
	CURL *e = curl_uv_easy_init(cu);

	if (!e)
		return -1;
	req->cu = cu;
	req->ops = ops;
	req->easy = e;
	req->stream = stream;
	req->refs = 1;
	strbuf_init(&req->in, stream ? 4096 : 1024);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, req);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	/* curl would wait for "100 Continue" on large bodies; our peers do not send it. */
	req->headers = curl_slist_append(NULL, "Expect:");
	return 0;
}

int curl_uv_req_start(struct curl_uv_req *req)
{
	struct curl_uv *cu = req->cu;

	curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, req->headers);
	if (curl_multi_add_handle(cu->multi, req->easy) != CURLM_OK) {
		req_unref(req);
		return -1;
	}
	req->in_multi = true;
	req->linked = true;
	req->next = cu->reqs;
	if (cu->reqs)
		cu->reqs->prev = req;
	cu->reqs = req;
	cu->nreqs++;
	return 0;
}

void curl_uv_req_cancel(struct curl_uv_req *req)
{
	if (req->cancelled || req->done)
		return;
	req->cancelled = true;
	req_detach(req);
}

void curl_uv_req_trust(struct curl_uv_req *req, bool insecure, const char *ca, size_t ca_len)
{
	if (insecure) {
		curl_easy_setopt(req->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(req->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (ca) {
		struct curl_blob blob = { (void *)ca, ca_len, CURL_BLOB_COPY };
		curl_easy_setopt(req->easy, CURLOPT_CAINFO_BLOB, &blob);
	}
}

const char *curl_uv_req_error(struct curl_uv_req *req, CURLcode result)
{
	size_t n = strlen(req->errbuf);

	while (n && (req->errbuf[n - 1] == '\n' || req->errbuf[n - 1] == '\r'))
		req->errbuf[--n] = '\0';
	return n ? req->errbuf : curl_easy_strerror(result);
}

size_t curl_uv_pending(const struct curl_uv *cu)
{
	return cu->nreqs;
}
