/*
 * The forwarding engine of forward.h. Sockets are our own (accept4,
 * connect, splice) and libuv only tells us when they are ready, through
 * one uv_poll per socket; a poll's interest mask is changed only when it
 * really changes, since each change costs epoll_ctl calls. Every handle
 * the engine opens is counted, so closing the engine knows when the last
 * one has gone.
 */
#include "proxy/forward.h"
#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIPE_POOL_MAX 128
#define SPLICE_CHUNK (64 * 1024)
#define COPY_CHUNK (16 * 1024)

/* For measuring: MINIK8S_PROXY_SPLICE=never copies everything, =always
 * splices everything, unset adapts (see dir_read). */
enum { SPLICE_ADAPT, SPLICE_NEVER, SPLICE_ALWAYS };
static int splice_mode;
#define ACCEPT_BATCH 64
#define SWEEP_MS 500

struct fwd_pipe {
	int r, w;
};

struct fwd_engine {
	uv_loop_t *loop;
	struct fwd_config cfg;
	size_t nconns;                   /* TCP connections + UDP flows */
	struct fwd_conn *conns;          /* every open TCP connection */
	struct fwd_listener *listeners;  /* every open listener */
	struct fwd_pipe pool[PIPE_POOL_MAX];
	size_t npool;
	uint64_t pipes_made, pipes_reused;
	uv_timer_t sweep;                /* idle UDP flows, listeners paused by EMFILE */
	size_t handles;                  /* libuv handles open */
	bool closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
	char udp_buf[65536];             /* every UDP datagram passes through here */
};

struct fwd_session;

/* Listeners and UDP flows both begin with the engine pointer, which is how
 * on_alloc finds the datagram buffer from any UDP handle's data. */
struct fwd_listener {
	struct fwd_engine *e;
	struct fwd_listener *prev, *next;
	uint8_t proto;
	struct sockaddr_in addr;
	struct fwd_target *t;
	bool paused;                     /* TCP: out of descriptors, retried by the sweep */
	int fd;                          /* TCP */
	union {
		uv_poll_t poll;          /* TCP */
		uv_udp_t udp;            /* UDP */
	} h;
	struct pmap sessions;            /* UDP: "ip:port" of the client -> session */
	struct fwd_session *slist;
};

/* A UDP flow: one client's datagrams go out through a socket connected
 * to the backend chosen for it, replies come back through the listener. */
struct fwd_session {
	struct fwd_engine *e;
	uv_udp_t h;
	struct fwd_listener *l;
	struct fwd_target *t;
	struct fwd_session *prev, *next;
	struct sockaddr_in client;
	char key[32];
	struct backend_addr backend;
	uint64_t last_ms;
};

struct fwd_conn;

struct fwd_side {
	uv_poll_t poll;
	int fd;
	int events;             /* the mask the poll runs with; 0 when stopped */
	struct fwd_engine *e;
	struct fwd_conn *conn;  /* NULL for an attempt that failed and is closing */
};

/* One direction of a TCP connection: from -> pipe -> to. */
struct fwd_dir {
	struct fwd_pipe pipe;
	size_t in_pipe;   /* bytes waiting in the pipe */
	bool eof;         /* the sender finished */
	bool shut;        /* and we passed that on (shutdown of the receiver) */
	bool blocked;     /* the receiver would not take more: wait until it is writable */
	bool bulk;        /* reads fill their buffer: move bytes by splice */
};

struct fwd_conn {
	struct fwd_engine *e;
	struct fwd_target *t;
	struct fwd_conn *prev, *next;
	struct fwd_side *client, *backend;
	uv_timer_t timer;        /* connect timeout */
	struct fwd_dir up, down; /* up: client -> backend */
	uint32_t client_ip;
	struct backend_addr tried[FWD_MAX_TRIES];
	size_t ntried;
	bool connected, closing;
	int handles;
};

static void engine_handle_closed(struct fwd_engine *e);

/* ---- targets ------------------------------------------------------------------ */

struct fwd_target *fwd_target_new(uint8_t proto, const char *labels)
{
	struct fwd_target *t = xcalloc(1, sizeof(*t));

	t->refs = 1;
	t->proto = proto;
	t->labels = xstrdup(labels);
	picker_init(&t->picker);
	return t;
}

struct fwd_target *fwd_target_ref(struct fwd_target *t)
{
	t->refs++;
	return t;
}

void fwd_target_unref(struct fwd_target *t)
{
	if (!t || --t->refs > 0)
		return;
	picker_release(&t->picker);
	free(t->labels);
	free(t);
}

/* ---- engine ------------------------------------------------------------------- */

static void on_sweep(uv_timer_t *timer);

struct fwd_engine *fwd_engine_new(uv_loop_t *loop, const struct fwd_config *cfg)
{
	struct fwd_engine *e = xcalloc(1, sizeof(*e));

	e->loop = loop;
	e->cfg = *cfg;
	if (getenv("MINIK8S_PROXY_SPLICE"))
		splice_mode = !strcmp(getenv("MINIK8S_PROXY_SPLICE"), "never") ? SPLICE_NEVER :
			      !strcmp(getenv("MINIK8S_PROXY_SPLICE"), "always") ? SPLICE_ALWAYS : SPLICE_ADAPT;
	if (e->cfg.max_connections <= 0)
		e->cfg.max_connections = 10000;
	if (!e->cfg.connect_timeout_ms)
		e->cfg.connect_timeout_ms = 1000;
	if (!e->cfg.udp_timeout_ms)
		e->cfg.udp_timeout_ms = 10000;
	uv_timer_init(loop, &e->sweep);
	e->sweep.data = e;
	e->handles++;
	uv_timer_start(&e->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	return e;
}

size_t fwd_engine_connections(const struct fwd_engine *e)
{
	return e->nconns;
}

void fwd_engine_pipe_stats(const struct fwd_engine *e, uint64_t *made, uint64_t *reused)
{
	*made = e->pipes_made;
	*reused = e->pipes_reused;
}

static void engine_handle_closed(struct fwd_engine *e)
{
	if (--e->handles > 0 || !e->closing)
		return;
	for (size_t i = 0; i < e->npool; i++) {
		close(e->pool[i].r);
		close(e->pool[i].w);
	}
	if (e->on_closed)
		e->on_closed(e->closed_arg);
	free(e);
}

static int pipe_get(struct fwd_engine *e, struct fwd_pipe *p)
{
	int fds[2];

	if (e->npool) {
		*p = e->pool[--e->npool];
		e->pipes_reused++;
		return 0;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	p->r = fds[0];
	p->w = fds[1];
	e->pipes_made++;
	return 0;
}

/* A pipe goes back to the pool only when empty, so the next connection
 * never sees bytes that were meant for another. */
static void pipe_put(struct fwd_engine *e, struct fwd_pipe *p, size_t in_pipe)
{
	if (p->r < 0)
		return;
	if (in_pipe == 0 && e->npool < PIPE_POOL_MAX && !e->closing) {
		e->pool[e->npool++] = *p;
	} else {
		close(p->r);
		close(p->w);
	}
	p->r = p->w = -1;
}

/* ---- TCP connections --------------------------------------------------------------- */

static void on_side_poll(uv_poll_t *h, int status, int events);

static void on_side_closed(uv_handle_t *h)
{
	struct fwd_side *s = h->data;
	struct fwd_engine *e = s->e;
	struct fwd_conn *c = s->conn;

	free(s);
	if (c && --c->handles == 0) {
		fwd_target_unref(c->t);
		free(c);
	}
	engine_handle_closed(e);
}

static void on_conn_timer_closed(uv_handle_t *h)
{
	struct fwd_conn *c = h->data;
	struct fwd_engine *e = c->e;

	if (--c->handles == 0) {
		fwd_target_unref(c->t);
		free(c);
	}
	engine_handle_closed(e);
}

static struct fwd_side *side_new(struct fwd_conn *c, int fd)
{
	struct fwd_side *s = xcalloc(1, sizeof(*s));

	s->fd = fd;
	s->e = c->e;
	s->conn = c;
	uv_poll_init(c->e->loop, &s->poll, fd);
	s->poll.data = s;
	c->e->handles++;
	c->handles++;
	return s;
}

static void side_set(struct fwd_side *s, int events)
{
	if (s->events == events)
		return;
	s->events = events;
	if (events)
		uv_poll_start(&s->poll, events, on_side_poll);
	else
		uv_poll_stop(&s->poll);
}

/* Closes a side; with detach the connection no longer counts it (a failed
 * attempt the connection moves on from). */
static void side_close(struct fwd_side *s, bool detach, bool reset)
{
	if (reset) {
		struct linger l = { 1, 0 };
		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	if (detach && s->conn) {
		s->conn->handles--;
		s->conn = NULL;
	}
	/* uv_close stops the poll at once, so the descriptor may go now. */
	uv_close((uv_handle_t *)&s->poll, on_side_closed);
	close(s->fd);
}

static void conn_close(struct fwd_conn *c, bool reset)
{
	struct fwd_engine *e = c->e;

	if (c->closing)
		return;
	c->closing = true;
	c->t->stats.active--;
	e->nconns--;
	if (c->prev)
		c->prev->next = c->next;
	else
		e->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pipe_put(e, &c->up.pipe, c->up.in_pipe);
	pipe_put(e, &c->down.pipe, c->down.in_pipe);
	side_close(c->client, false, reset);
	if (c->backend)
		side_close(c->backend, false, reset);
	uv_close((uv_handle_t *)&c->timer, on_conn_timer_closed);
}

static uint64_t now(struct fwd_engine *e)
{
	return uv_now(e->loop);
}

static void conn_established(struct fwd_conn *c);
static void on_connect_timeout(uv_timer_t *t);

static void addr_text(struct backend_addr a, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u:%u", a.ip >> 24, (a.ip >> 16) & 0xff, (a.ip >> 8) & 0xff, a.ip & 0xff, a.port);
}

/* Starts a connect to the next backend the picker offers; resets the
 * client when none is left. */
static void conn_try_next(struct fwd_conn *c)
{
	struct backend_addr b;

	while (c->ntried < FWD_MAX_TRIES &&
	       picker_pick(&c->t->picker, c->client_ip, now(c->e), c->tried, c->ntried, &b) == 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(b.port),
					  .sin_addr.s_addr = htonl(b.ip) };
		int fd, one = 1, rc;
		char text[32];

		c->tried[c->ntried++] = b;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			log_warn("cannot open a socket for a backend: %s", strerror(errno));
			c->t->stats.err_connect++;
			break;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (rc == 0 || errno == EINPROGRESS) {
			c->backend = side_new(c, fd);
			if (rc == 0) {
				conn_established(c);
				return;
			}
			side_set(c->backend, UV_WRITABLE);
			uv_timer_start(&c->timer, on_connect_timeout, c->e->cfg.connect_timeout_ms, 0);
			return;
		}
		addr_text(b, text, sizeof(text));
		log_debug("backend connect failed backend=%s error=%s", text, strerror(errno));
		close(fd);
		c->t->stats.err_connect++;
		picker_failed(&c->t->picker, b, now(c->e));
	}
	c->t->stats.err_refused++;
	conn_close(c, true);
}

static void connect_failed(struct fwd_conn *c, int err)
{
	struct backend_addr b = c->tried[c->ntried - 1];
	char text[32];

	addr_text(b, text, sizeof(text));
	log_debug("backend connect failed backend=%s error=%s", text, strerror(err));
	c->t->stats.err_connect++;
	picker_failed(&c->t->picker, b, now(c->e));
	uv_timer_stop(&c->timer);
	side_close(c->backend, true, false);
	c->backend = NULL;
	conn_try_next(c);
}

static void on_connect_timeout(uv_timer_t *t)
{
	struct fwd_conn *c = t->data;

	if (!c->closing && !c->connected && c->backend)
		connect_failed(c, ETIMEDOUT);
}

static void conn_update(struct fwd_conn *c)
{
	side_set(c->client, (!c->up.eof && !c->up.blocked ? UV_READABLE : 0) | (c->down.blocked ? UV_WRITABLE : 0));
	side_set(c->backend, (!c->down.eof && !c->down.blocked ? UV_READABLE : 0) | (c->up.blocked ? UV_WRITABLE : 0));
}

static void conn_established(struct fwd_conn *c)
{
	uv_timer_stop(&c->timer);
	if (pipe_get(c->e, &c->up.pipe) < 0 || pipe_get(c->e, &c->down.pipe) < 0) {
		log_warn("cannot make a pipe for a connection: %s", strerror(errno));
		c->t->stats.err_refused++;
		conn_close(c, true);
		return;
	}
	c->connected = true;
	conn_update(c);
}

/* Empties the pipe into the receiver. Returns 0 (d->blocked says whether
 * it is still full) or -errno. */
static int dir_flush(struct fwd_dir *d, int to, uint64_t *bytes)
{
	while (d->in_pipe > 0) {
		ssize_t n = splice(d->pipe.r, NULL, to, NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			d->in_pipe -= (size_t)n;
			*bytes += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			d->blocked = true;
			return 0;
		}
		return n < 0 ? -errno : -EPIPE;
	}
	d->blocked = false;
	return 0;
}

/*
 * Reads once from the sender and passes it on. Small reads are copied
 * through a buffer on the stack: for a request or a response of a few
 * hundred bytes, recv+send costs less than two splices, which must take
 * page references and build a new skb. A read that fills the buffer says a
 * bulk transfer is going on, and from then on bytes move by splice, never
 * entering user space, until reads get short again. What the receiver
 * would not take goes into the pipe (which is empty here and holds 64 KiB),
 * so the proxy keeps no buffer of its own either way.
 * Returns 1 if the read filled its buffer (more may wait), 0, or -errno.
 */
static int dir_read(struct fwd_dir *d, int from, int to, uint64_t *bytes)
{
	ssize_t n, w;

	if (d->bulk || splice_mode == SPLICE_ALWAYS) {
		n = splice(from, NULL, d->pipe.w, NULL, SPLICE_CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			d->in_pipe = (size_t)n;
			d->bulk = n >= SPLICE_CHUNK / 4 && splice_mode != SPLICE_NEVER;
			return n == SPLICE_CHUNK;
		}
	} else {
		char buf[COPY_CHUNK];
		n = recv(from, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			d->bulk = n == (ssize_t)sizeof(buf) && splice_mode != SPLICE_NEVER;
			w = send(to, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				return -errno;
			if (w < 0)
				w = 0;
			*bytes += (uint64_t)w;
			if (w < n) {
				if (write(d->pipe.w, buf + w, (size_t)(n - w)) != n - w)
					return -EIO; /* cannot happen: the pipe was empty */
				d->in_pipe = (size_t)(n - w);
				d->blocked = true;
				return 0;
			}
			return n == (ssize_t)sizeof(buf);
		}
	}
	if (n == 0) {
		d->eof = true;
		return 0;
	}
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	return -errno;
}

/*
 * Moves what it can through one direction. Returns 0, or -errno when the
 * connection should be reset. A read that did not fill its buffer ends the
 * turn: level-triggered polling fires again if more bytes are waiting, and
 * the extra read that would only say EAGAIN is saved.
 */
static int dir_run(struct fwd_dir *d, int from, int to, uint64_t *bytes)
{
	int rc;

	for (;;) {
		if ((rc = dir_flush(d, to, bytes)) < 0 || d->blocked)
			return rc;
		if (d->eof) {
			if (!d->shut) {
				shutdown(to, SHUT_WR);
				d->shut = true;
			}
			return 0;
		}
		rc = dir_read(d, from, to, bytes);
		if (rc <= 0) {
			if (rc == 0 && d->in_pipe > 0 && !d->blocked)
				continue; /* spliced in: flush it now */
			if (rc == 0 && d->eof)
				continue; /* pass the FIN on */
			return rc;
		}
	}
}

static void on_side_poll(uv_poll_t *h, int status, int events)
{
	struct fwd_side *s = h->data;
	struct fwd_conn *c = s->conn;
	int rc = 0;

	if (!c || c->closing)
		return;
	if (!c->connected) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (s != c->backend)
			return;
		/* libuv turns POLLERR into UV_EBADF (and stops the poll): the
		 * socket itself knows the real reason, ECONNREFUSED or so. */
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (!err && status < 0)
			err = -status;
		if (err)
			connect_failed(c, err);
		else
			conn_established(c);
		return;
	}
	if (status < 0) {
		conn_close(c, true);
		return;
	}
	if (s == c->client) {
		if (events & UV_READABLE)
			rc = dir_run(&c->up, c->client->fd, c->backend->fd, &c->t->stats.bytes_in);
		if (!rc && (events & UV_WRITABLE))
			rc = dir_run(&c->down, c->backend->fd, c->client->fd, &c->t->stats.bytes_out);
	} else {
		if (events & UV_READABLE)
			rc = dir_run(&c->down, c->backend->fd, c->client->fd, &c->t->stats.bytes_out);
		if (!rc && (events & UV_WRITABLE))
			rc = dir_run(&c->up, c->client->fd, c->backend->fd, &c->t->stats.bytes_in);
	}
	if (rc < 0) {
		log_trace("connection reset error=%s", strerror(-rc));
		conn_close(c, true);
	} else if (c->up.shut && c->down.shut) {
		conn_close(c, false);
	} else {
		conn_update(c);
	}
}

static void reset_fd(int fd)
{
	struct linger l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static void conn_start(struct fwd_listener *l, int fd, const struct sockaddr_in *peer)
{
	struct fwd_engine *e = l->e;
	struct fwd_conn *c;
	int one = 1;

	l->t->stats.connections++;
	if (e->nconns >= (size_t)e->cfg.max_connections) {
		l->t->stats.err_limit++;
		reset_fd(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = xcalloc(1, sizeof(*c));
	c->e = e;
	c->t = fwd_target_ref(l->t);
	c->client_ip = ntohl(peer->sin_addr.s_addr);
	c->up.pipe.r = c->up.pipe.w = c->down.pipe.r = c->down.pipe.w = -1;
	uv_timer_init(e->loop, &c->timer);
	c->timer.data = c;
	e->handles++;
	c->handles++;
	c->client = side_new(c, fd);
	c->next = e->conns;
	if (e->conns)
		e->conns->prev = c;
	e->conns = c;
	e->nconns++;
	c->t->stats.active++;
	conn_try_next(c);
}

static void on_accept(uv_poll_t *h, int status, int events)
{
	struct fwd_listener *l = h->data;

	(void)events;
	if (status < 0)
		return;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered polling would spin on the waiting
				 * client: stop until the sweep timer tries again. */
				log_warn("cannot accept a connection: %s; pausing the listener", strerror(errno));
				uv_poll_stop(&l->h.poll);
				l->paused = true;
			}
			return;
		}
		if (peer.sin_family != AF_INET) {
			close(fd);
			continue;
		}
		conn_start(l, fd, &peer);
	}
}

/* ---- UDP flows ---------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct fwd_engine *e = *(struct fwd_engine **)h->data;

	(void)suggested;
	buf->base = e->udp_buf;
	buf->len = sizeof(e->udp_buf);
}

static void on_session_closed(uv_handle_t *h)
{
	struct fwd_session *s = h->data;
	struct fwd_engine *e = s->e;

	fwd_target_unref(s->t);
	free(s);
	engine_handle_closed(e);
}

static void session_close(struct fwd_session *s)
{
	struct fwd_listener *l = s->l;

	pmap_del(&l->sessions, s->key);
	if (s->prev)
		s->prev->next = s->next;
	else
		l->slist = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->t->stats.active--;
	l->e->nconns--;
	uv_close((uv_handle_t *)&s->h, on_session_closed);
}

static void on_session_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
			    unsigned flags);

static struct fwd_session *session_new(struct fwd_listener *l, const struct sockaddr_in *client, const char *key,
				       const struct backend_addr *tried, size_t ntried)
{
	struct fwd_engine *e = l->e;
	struct fwd_session *s;
	struct backend_addr b;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int rc;

	if (e->nconns >= (size_t)e->cfg.max_connections) {
		l->t->stats.err_limit++;
		return NULL;
	}
	if (picker_pick(&l->t->picker, ntohl(client->sin_addr.s_addr), now(e), tried, ntried, &b) < 0) {
		l->t->stats.err_refused++;
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->e = e;
	s->l = l;
	s->t = fwd_target_ref(l->t);
	s->client = *client;
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->backend = b;
	s->last_ms = now(e);
	uv_udp_init(e->loop, &s->h);
	s->h.data = s;
	e->handles++;
	sa.sin_port = htons(b.port);
	sa.sin_addr.s_addr = htonl(b.ip);
	rc = uv_udp_connect(&s->h, (struct sockaddr *)&sa);
	if (rc == 0)
		rc = uv_udp_recv_start(&s->h, on_alloc, on_session_recv);
	pmap_put(&l->sessions, key, s);
	s->next = l->slist;
	if (l->slist)
		l->slist->prev = s;
	l->slist = s;
	e->nconns++;
	s->t->stats.connections++;
	s->t->stats.active++;
	if (rc < 0) {
		log_debug("cannot open a UDP flow to a backend: %s", uv_strerror(rc));
		s->t->stats.err_connect++;
		picker_failed(&s->t->picker, b, now(e));
		session_close(s);
		return NULL;
	}
	return s;
}

static void on_session_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
			    unsigned flags)
{
	struct fwd_session *s = h->data;
	uv_buf_t out;

	(void)addr;
	if (nread == 0 || (flags & UV_UDP_PARTIAL))
		return;
	if (nread < 0) {
		/* An ICMP port unreachable from the backend: it is gone. */
		s->t->stats.err_connect++;
		picker_failed(&s->t->picker, s->backend, now(s->e));
		session_close(s);
		return;
	}
	s->last_ms = now(s->e);
	out = uv_buf_init(buf->base, (unsigned)nread);
	if (uv_udp_try_send(&s->l->h.udp, &out, 1, (const struct sockaddr *)&s->client) >= 0)
		s->t->stats.bytes_out += (uint64_t)nread;
}

static void on_listener_udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
				 unsigned flags)
{
	struct fwd_listener *l = h->data;
	const struct sockaddr_in *client = (const struct sockaddr_in *)addr;
	struct backend_addr tried[1];
	struct fwd_session *s;
	char key[32];
	uv_buf_t out;
	int rc;

	if (nread <= 0 || !addr || addr->sa_family != AF_INET || (flags & UV_UDP_PARTIAL))
		return;
	snprintf(key, sizeof(key), "%08x:%u", ntohl(client->sin_addr.s_addr), ntohs(client->sin_port));
	s = pmap_get(&l->sessions, key);
	if (!s && !(s = session_new(l, client, key, NULL, 0)))
		return;
	s->last_ms = now(l->e);
	out = uv_buf_init(buf->base, (unsigned)nread);
	rc = uv_udp_try_send(&s->h, &out, 1, NULL);
	if (rc == UV_ECONNREFUSED) {
		/* the backend refused an earlier datagram: send this one elsewhere */
		tried[0] = s->backend;
		s->t->stats.err_connect++;
		picker_failed(&s->t->picker, s->backend, now(l->e));
		session_close(s);
		s = session_new(l, client, key, tried, 1);
		rc = s ? uv_udp_try_send(&s->h, &out, 1, NULL) : -1;
	}
	if (rc >= 0)
		s->t->stats.bytes_in += (uint64_t)nread;
}

/* ---- listeners ------------------------------------------------------------------------------ */

static void on_listener_closed(uv_handle_t *h)
{
	struct fwd_listener *l = h->data;
	struct fwd_engine *e = l->e;

	fwd_target_unref(l->t);
	pmap_release(&l->sessions);
	free(l);
	engine_handle_closed(e);
}

static int listen_tcp(struct fwd_listener *l)
{
	int one = 1, rc;

	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -errno;
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&l->addr, sizeof(l->addr)) < 0 || listen(l->fd, 511) < 0) {
		rc = -errno;
		close(l->fd);
		return rc;
	}
	uv_poll_init(l->e->loop, &l->h.poll, l->fd);
	l->h.poll.data = l;
	uv_poll_start(&l->h.poll, UV_READABLE, on_accept);
	return 0;
}

static int listen_udp(struct fwd_listener *l)
{
	int rc;

	uv_udp_init(l->e->loop, &l->h.udp);
	l->h.udp.data = l;
	rc = uv_udp_bind(&l->h.udp, (struct sockaddr *)&l->addr, 0);
	if (rc == 0)
		rc = uv_udp_recv_start(&l->h.udp, on_alloc, on_listener_udp_recv);
	if (rc < 0) {
		/* the handle is open: close it, and the listener with it */
		l->t = fwd_target_ref(l->t);
		l->e->handles++;
		uv_close((uv_handle_t *)&l->h.udp, on_listener_closed);
		return rc;
	}
	return 0;
}

int fwd_listen(struct fwd_engine *e, uint8_t proto, uint32_t ip, uint16_t port, struct fwd_target *t,
	       struct fwd_listener **out)
{
	struct fwd_listener *l = xcalloc(1, sizeof(*l));
	int rc;

	l->e = e;
	l->proto = proto;
	l->t = t;
	l->addr.sin_family = AF_INET;
	l->addr.sin_port = htons(port);
	l->addr.sin_addr.s_addr = htonl(ip);
	l->fd = -1;
	pmap_init(&l->sessions);
	if (proto == IPPROTO_TCP) {
		rc = listen_tcp(l);
		if (rc < 0) {
			pmap_release(&l->sessions);
			free(l);
			return rc;
		}
	} else if (proto == IPPROTO_UDP) {
		rc = listen_udp(l);
		if (rc < 0)
			return rc; /* freed by its close callback */
	} else {
		pmap_release(&l->sessions);
		free(l);
		return -EPROTONOSUPPORT;
	}
	fwd_target_ref(t);
	e->handles++;
	l->next = e->listeners;
	if (e->listeners)
		e->listeners->prev = l;
	e->listeners = l;
	*out = l;
	return 0;
}

uint16_t fwd_listener_port(const struct fwd_listener *l)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int n = sizeof(sa);

	if (l->proto == IPPROTO_TCP) {
		if (getsockname(l->fd, (struct sockaddr *)&sa, &len) < 0)
			return 0;
	} else if (uv_udp_getsockname(&l->h.udp, (struct sockaddr *)&sa, &n) < 0) {
		return 0;
	}
	return ntohs(sa.sin_port);
}

void fwd_listener_set_target(struct fwd_listener *l, struct fwd_target *t)
{
	if (l->t == t)
		return;
	fwd_target_ref(t);
	fwd_target_unref(l->t);
	l->t = t;
}

void fwd_listener_close(struct fwd_listener *l)
{
	struct fwd_engine *e = l->e;

	if (l->prev)
		l->prev->next = l->next;
	else
		e->listeners = l->next;
	if (l->next)
		l->next->prev = l->prev;
	while (l->slist)
		session_close(l->slist);
	if (l->proto == IPPROTO_TCP) {
		uv_close((uv_handle_t *)&l->h.poll, on_listener_closed);
		close(l->fd);
	} else {
		uv_close((uv_handle_t *)&l->h.udp, on_listener_closed);
	}
}

/* ---- housekeeping ------------------------------------------------------------------------------ */

static void on_sweep(uv_timer_t *timer)
{
	struct fwd_engine *e = timer->data;
	uint64_t t = now(e);

	for (struct fwd_listener *l = e->listeners; l; l = l->next) {
		struct fwd_session *s = l->slist, *next;
		if (l->paused) {
			l->paused = false;
			uv_poll_start(&l->h.poll, UV_READABLE, on_accept);
		}
		for (; s; s = next) {
			next = s->next;
			if (t - s->last_ms > e->cfg.udp_timeout_ms)
				session_close(s);
		}
	}
}

static void on_sweep_closed(uv_handle_t *h)
{
	engine_handle_closed(h->data);
}

void fwd_engine_close(struct fwd_engine *e, void (*cb)(void *arg), void *arg)
{
	e->closing = true;
	e->on_closed = cb;
	e->closed_arg = arg;
	while (e->listeners)
		fwd_listener_close(e->listeners);
	while (e->conns)
		conn_close(e->conns, true);
	uv_close((uv_handle_t *)&e->sweep, on_sweep_closed);
}
