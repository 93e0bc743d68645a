/*
 * The forwarding engine of forward.h. Sockets are our own (accept4,
 * connect, recv/send, splice) and libuv only tells us when they are ready,
 * through one uv_poll per socket; a poll's interest mask is changed only
 * when it really changes, since each change costs epoll_ctl calls.
 *
 * Loop 0 is the caller's; loops 1.. run on threads of their own and are
 * told what to do through a command queue and a uv_async (open a
 * listening socket, retarget it, close it, stop), since a libuv handle may
 * only be touched from its loop's thread. Commands for loop 0 run at once.
 * Every handle a loop opens is counted, so closing knows when the last
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
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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

static atomic_uint unclean_loops;

struct fwd_pipe {
	int r, w;
};

/* One loop's counters of a target. Only that loop's thread writes them,
 * so an update is a plain load and store (no locked instruction, and a
 * cache line of its own, so loops do not fight over it); readers sum the
 * slots with relaxed loads. */
struct fwd_slot {
	_Atomic uint64_t connections, active, bytes_in, bytes_out, err_connect, err_refused, err_limit;
	char pad[64 - 7 * sizeof(uint64_t)];
};

struct fwd_target {
	struct fwd_slot slot[FWD_MAX_LOOPS]; /* first: the allocation is cache-line aligned */
	atomic_int refs;
	uint8_t proto;
	char *labels;
	pthread_mutex_t lock;   /* the picker's: every loop picks for new connections */
	struct picker picker;
};

static void stat_add(_Atomic uint64_t *x, uint64_t n)
{
	atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + n, memory_order_relaxed);
}

static uint64_t stat_get(const _Atomic uint64_t *x)
{
	return atomic_load_explicit(x, memory_order_relaxed);
}

struct fwd_lsock;
struct fwd_conn;

/* What the control thread asks a loop thread to do. */
enum { CMD_LISTEN, CMD_RETARGET, CMD_UNLISTEN, CMD_STOP };

struct fwd_cmd {
	struct fwd_cmd *next;
	int op;
	struct fwd_lsock *s;
	struct fwd_target *t; /* CMD_RETARGET: a reference the loop takes over */
};

/* A forwarding loop: loop 0 is the engine's caller's, the others are
 * threads. Everything here but the command queue and the atomics belongs
 * to the loop's own thread. */
struct fwd_loop {
	struct fwd_engine *e;
	unsigned id;
	uv_loop_t *loop;
	uv_loop_t own;                  /* id > 0: the thread's loop */
	pthread_t thread;
	bool joined;
	uv_async_t wake;                /* id > 0: commands wait in cmds */
	pthread_mutex_t mu;             /* guards cmds */
	struct fwd_cmd *cmds, **cmds_tail;
	struct fwd_conn *conns;         /* every open TCP connection of this loop */
	struct fwd_lsock *lsocks;       /* every listening socket this loop polls */
	struct fwd_pipe pool[PIPE_POOL_MAX];
	size_t npool;
	_Atomic uint64_t pipes_made, pipes_reused, accepted;
	uv_timer_t sweep;               /* listeners paused by EMFILE; loop 0: idle UDP flows too */
	size_t handles;                 /* libuv handles open on this loop */
	bool closing;
	atomic_bool exited;             /* id > 0: the thread's loop has closed */
};

struct fwd_engine {
	struct fwd_config cfg;
	struct fwd_loop *loops;
	unsigned nloops;
	const char *log_component;       /* the creator's, for the threads' log lines */
	atomic_size_t nconns;            /* TCP connections + UDP flows, every loop */
	struct fwd_listener *listeners;  /* every open listener (loop 0's thread) */
	uv_async_t exited;               /* on loop 0: a loop thread has finished */
	bool closing, exited_closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
	char udp_buf[65536];             /* every UDP datagram passes through here */
};

struct fwd_session;

/* One TCP listener's socket on one loop. The loop owns it once
 * CMD_LISTEN has run; t is that loop's copy of the listener's target. */
struct fwd_lsock {
	struct fwd_loop *w;
	struct fwd_lsock *prev, *next;
	struct fwd_target *t;
	int fd;
	uv_poll_t poll;
	bool paused;                     /* out of descriptors, retried by the sweep */
};

/* Listeners (the control side: loop 0's thread) and UDP flows both begin
 * with the engine pointer, which is how on_alloc finds the datagram
 * buffer from any UDP handle's data. */
struct fwd_listener {
	struct fwd_engine *e;
	struct fwd_listener *prev, *next;
	uint8_t proto;
	struct sockaddr_in addr;
	struct fwd_target *t;
	struct fwd_lsock *socks[FWD_MAX_LOOPS]; /* TCP: one per loop */
	uint16_t port;                   /* TCP: where the sockets are bound */
	uv_udp_t udp;                    /* UDP (loop 0) */
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

struct fwd_side {
	uv_poll_t poll;
	int fd;
	int events;             /* the mask the poll runs with; 0 when stopped */
	struct fwd_loop *w;
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
	struct fwd_loop *w;
	struct fwd_target *t;
	struct fwd_slot *st;     /* t's counters for this loop */
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

static void loop_handle_closed(struct fwd_loop *w);

/* ---- targets ------------------------------------------------------------------ */

struct fwd_target *fwd_target_new(uint8_t proto, const char *labels)
{
	struct fwd_target *t;

	if (posix_memalign((void **)&t, 64, sizeof(*t)) != 0)
		die("out of memory");
	memset(t, 0, sizeof(*t));
	atomic_init(&t->refs, 1);
	t->proto = proto;
	t->labels = xstrdup(labels);
	pthread_mutex_init(&t->lock, NULL);
	picker_init(&t->picker);
	return t;
}

struct fwd_target *fwd_target_ref(struct fwd_target *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

void fwd_target_unref(struct fwd_target *t)
{
	/* release/acquire: whatever a loop did with t happens before the free */
	if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) > 1)
		return;
	picker_release(&t->picker);
	pthread_mutex_destroy(&t->lock);
	free(t->labels);
	free(t);
}

const char *fwd_target_labels(const struct fwd_target *t)
{
	return t->labels;
}

void fwd_target_set_backends(struct fwd_target *t, const struct backend_addr *addrs, size_t n)
{
	pthread_mutex_lock(&t->lock);
	picker_set_backends(&t->picker, addrs, n);
	pthread_mutex_unlock(&t->lock);
}

void fwd_target_set_affinity(struct fwd_target *t, bool on, uint64_t timeout_ms)
{
	pthread_mutex_lock(&t->lock);
	picker_set_affinity(&t->picker, on, timeout_ms);
	pthread_mutex_unlock(&t->lock);
}

/* The picker's clock is read under its lock: one monotonic clock for every
 * loop (uv_now is each loop's own, and lags by up to an iteration), so an
 * affinity entry one loop just touched never looks older to another. */
void fwd_target_expire(struct fwd_target *t)
{
	pthread_mutex_lock(&t->lock);
	picker_expire(&t->picker, now_ms());
	pthread_mutex_unlock(&t->lock);
}

size_t fwd_target_endpoints(struct fwd_target *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->picker.n;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void fwd_target_stats(const struct fwd_target *t, struct fwd_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < FWD_MAX_LOOPS; i++) {
		const struct fwd_slot *s = &t->slot[i];
		out->connections += stat_get(&s->connections);
		out->active += stat_get(&s->active);
		out->bytes_in += stat_get(&s->bytes_in);
		out->bytes_out += stat_get(&s->bytes_out);
		out->err_connect += stat_get(&s->err_connect);
		out->err_refused += stat_get(&s->err_refused);
		out->err_limit += stat_get(&s->err_limit);
	}
}

void fwd_target_count_refused(struct fwd_target *t)
{
	stat_add(&t->slot[0].err_refused, 1);
}

static int target_pick(struct fwd_target *t, uint32_t client_ip, const struct backend_addr *tried, size_t ntried,
		       struct backend_addr *out)
{
	int rc;

	pthread_mutex_lock(&t->lock);
	rc = picker_pick(&t->picker, client_ip, now_ms(), tried, ntried, out);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

static void target_failed(struct fwd_target *t, struct backend_addr b)
{
	pthread_mutex_lock(&t->lock);
	picker_failed(&t->picker, b, now_ms());
	pthread_mutex_unlock(&t->lock);
}

/* ---- the connection limit, across loops ---------------------------------------- */

static bool conn_reserve(struct fwd_engine *e)
{
	if (atomic_fetch_add_explicit(&e->nconns, 1, memory_order_relaxed) < (size_t)e->cfg.max_connections)
		return true;
	atomic_fetch_sub_explicit(&e->nconns, 1, memory_order_relaxed);
	return false;
}

static void conn_unreserve(struct fwd_engine *e)
{
	atomic_fetch_sub_explicit(&e->nconns, 1, memory_order_relaxed);
}

/* ---- pipes ---------------------------------------------------------------------- */

static int pipe_get(struct fwd_loop *w, struct fwd_pipe *p)
{
	int fds[2];

	if (w->npool) {
		*p = w->pool[--w->npool];
		stat_add(&w->pipes_reused, 1);
		return 0;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	p->r = fds[0];
	p->w = fds[1];
	stat_add(&w->pipes_made, 1);
	return 0;
}

/* A pipe goes back to the pool only when empty, so the next connection
 * never sees bytes that were meant for another. */
static void pipe_put(struct fwd_loop *w, struct fwd_pipe *p, size_t in_pipe)
{
	if (p->r < 0)
		return;
	if (in_pipe == 0 && w->npool < PIPE_POOL_MAX && !w->closing) {
		w->pool[w->npool++] = *p;
	} else {
		close(p->r);
		close(p->w);
	}
	p->r = p->w = -1;
}

static void pool_drain(struct fwd_loop *w)
{
	for (size_t i = 0; i < w->npool; i++) {
		close(w->pool[i].r);
		close(w->pool[i].w);
	}
	w->npool = 0;
}

/* ---- TCP connections --------------------------------------------------------------- */

static void on_side_poll(uv_poll_t *h, int status, int events);

static void conn_free(struct fwd_conn *c)
{
	fwd_target_unref(c->t);
	free(c);
}

static void on_side_closed(uv_handle_t *h)
{
	struct fwd_side *s = h->data;
	struct fwd_loop *w = s->w;
	struct fwd_conn *c = s->conn;

	free(s);
	if (c && --c->handles == 0)
		conn_free(c);
	loop_handle_closed(w);
}

static void on_conn_timer_closed(uv_handle_t *h)
{
	struct fwd_conn *c = h->data;
	struct fwd_loop *w = c->w;

	if (--c->handles == 0)
		conn_free(c);
	loop_handle_closed(w);
}

static struct fwd_side *side_new(struct fwd_conn *c, int fd)
{
	struct fwd_side *s = xcalloc(1, sizeof(*s));

	s->fd = fd;
	s->w = c->w;
	s->conn = c;
	uv_poll_init(c->w->loop, &s->poll, fd);
	s->poll.data = s;
	c->w->handles++;
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
	struct fwd_loop *w = c->w;

	if (c->closing)
		return;
	c->closing = true;
	stat_add(&c->st->active, (uint64_t)-1);
	conn_unreserve(w->e);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pipe_put(w, &c->up.pipe, c->up.in_pipe);
	pipe_put(w, &c->down.pipe, c->down.in_pipe);
	side_close(c->client, false, reset);
	if (c->backend)
		side_close(c->backend, false, reset);
	uv_close((uv_handle_t *)&c->timer, on_conn_timer_closed);
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

	while (c->ntried < FWD_MAX_TRIES && target_pick(c->t, c->client_ip, c->tried, c->ntried, &b) == 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(b.port),
					  .sin_addr.s_addr = htonl(b.ip) };
		int fd, one = 1, rc;
		char text[32];

		c->tried[c->ntried++] = b;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			log_warn("cannot open a socket for a backend: %s", strerror(errno));
			stat_add(&c->st->err_connect, 1);
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
			uv_timer_start(&c->timer, on_connect_timeout, c->w->e->cfg.connect_timeout_ms, 0);
			return;
		}
		addr_text(b, text, sizeof(text));
		log_debug("backend connect failed backend=%s error=%s", text, strerror(errno));
		close(fd);
		stat_add(&c->st->err_connect, 1);
		target_failed(c->t, b);
	}
	stat_add(&c->st->err_refused, 1);
	conn_close(c, true);
}

static void connect_failed(struct fwd_conn *c, int err)
{
	struct backend_addr b = c->tried[c->ntried - 1];
	char text[32];

	addr_text(b, text, sizeof(text));
	log_debug("backend connect failed backend=%s error=%s", text, strerror(err));
	stat_add(&c->st->err_connect, 1);
	target_failed(c->t, b);
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
	if (pipe_get(c->w, &c->up.pipe) < 0 || pipe_get(c->w, &c->down.pipe) < 0) {
		log_warn("cannot make a pipe for a connection: %s", strerror(errno));
		stat_add(&c->st->err_refused, 1);
		conn_close(c, true);
		return;
	}
	c->connected = true;
	conn_update(c);
}

/* Empties the pipe into the receiver. Returns 0 (d->blocked says whether
 * it is still full) or -errno. */
static int dir_flush(struct fwd_dir *d, int to, _Atomic uint64_t *bytes)
{
	while (d->in_pipe > 0) {
		ssize_t n = splice(d->pipe.r, NULL, to, NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			d->in_pipe -= (size_t)n;
			stat_add(bytes, (uint64_t)n);
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
static int dir_read(struct fwd_dir *d, int from, int to, _Atomic uint64_t *bytes)
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
			stat_add(bytes, (uint64_t)w);
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
static int dir_run(struct fwd_dir *d, int from, int to, _Atomic uint64_t *bytes)
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
			rc = dir_run(&c->up, c->client->fd, c->backend->fd, &c->st->bytes_in);
		if (!rc && (events & UV_WRITABLE))
			rc = dir_run(&c->down, c->backend->fd, c->client->fd, &c->st->bytes_out);
	} else {
		if (events & UV_READABLE)
			rc = dir_run(&c->down, c->backend->fd, c->client->fd, &c->st->bytes_out);
		if (!rc && (events & UV_WRITABLE))
			rc = dir_run(&c->up, c->client->fd, c->backend->fd, &c->st->bytes_in);
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

static void conn_start(struct fwd_lsock *ls, int fd, const struct sockaddr_in *peer)
{
	struct fwd_loop *w = ls->w;
	struct fwd_slot *st = &ls->t->slot[w->id];
	struct fwd_conn *c;
	int one = 1;

	stat_add(&st->connections, 1);
	stat_add(&w->accepted, 1);
	if (!conn_reserve(w->e)) {
		stat_add(&st->err_limit, 1);
		reset_fd(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = xcalloc(1, sizeof(*c));
	c->w = w;
	c->t = fwd_target_ref(ls->t);
	c->st = st;
	c->client_ip = ntohl(peer->sin_addr.s_addr);
	c->up.pipe.r = c->up.pipe.w = c->down.pipe.r = c->down.pipe.w = -1;
	uv_timer_init(w->loop, &c->timer);
	c->timer.data = c;
	w->handles++;
	c->handles++;
	c->client = side_new(c, fd);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	stat_add(&st->active, 1);
	conn_try_next(c);
}

static void on_accept(uv_poll_t *h, int status, int events)
{
	struct fwd_lsock *ls = h->data;

	(void)events;
	if (status < 0)
		return;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(ls->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered polling would spin on the waiting
				 * client: stop until the sweep timer tries again. */
				log_warn("cannot accept a connection: %s; pausing the listener", strerror(errno));
				uv_poll_stop(&ls->poll);
				ls->paused = true;
			} else if (errno == EINVAL) {
				/* fwd_listener_close shut the socket down (it polls
				 * as hung up now) and its CMD_UNLISTEN is on the way */
				uv_poll_stop(&ls->poll);
			}
			return;
		}
		if (peer.sin_family != AF_INET) {
			close(fd);
			continue;
		}
		conn_start(ls, fd, &peer);
	}
}

/* ---- UDP flows (loop 0) ------------------------------------------------------------------- */

static uint64_t now0(struct fwd_engine *e)
{
	return uv_now(e->loops[0].loop);
}

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
	loop_handle_closed(&e->loops[0]);
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
	stat_add(&s->t->slot[0].active, (uint64_t)-1);
	conn_unreserve(l->e);
	uv_close((uv_handle_t *)&s->h, on_session_closed);
}

static void on_session_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
			    unsigned flags);

static struct fwd_session *session_new(struct fwd_listener *l, const struct sockaddr_in *client, const char *key,
				       const struct backend_addr *tried, size_t ntried)
{
	struct fwd_engine *e = l->e;
	struct fwd_slot *st = &l->t->slot[0];
	struct fwd_session *s;
	struct backend_addr b;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int rc;

	if (!conn_reserve(e)) {
		stat_add(&st->err_limit, 1);
		return NULL;
	}
	if (target_pick(l->t, ntohl(client->sin_addr.s_addr), tried, ntried, &b) < 0) {
		conn_unreserve(e);
		stat_add(&st->err_refused, 1);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->e = e;
	s->l = l;
	s->t = fwd_target_ref(l->t);
	s->client = *client;
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->backend = b;
	s->last_ms = now0(e);
	uv_udp_init(e->loops[0].loop, &s->h);
	s->h.data = s;
	e->loops[0].handles++;
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
	stat_add(&st->connections, 1);
	stat_add(&st->active, 1);
	if (rc < 0) {
		log_debug("cannot open a UDP flow to a backend: %s", uv_strerror(rc));
		stat_add(&st->err_connect, 1);
		target_failed(s->t, b);
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
		stat_add(&s->t->slot[0].err_connect, 1);
		target_failed(s->t, s->backend);
		session_close(s);
		return;
	}
	s->last_ms = now0(s->e);
	out = uv_buf_init(buf->base, (unsigned)nread);
	if (uv_udp_try_send(&s->l->udp, &out, 1, (const struct sockaddr *)&s->client) >= 0)
		stat_add(&s->t->slot[0].bytes_out, (uint64_t)nread);
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
	s->last_ms = now0(l->e);
	out = uv_buf_init(buf->base, (unsigned)nread);
	rc = uv_udp_try_send(&s->h, &out, 1, NULL);
	if (rc == UV_ECONNREFUSED) {
		/* the backend refused an earlier datagram: send this one elsewhere */
		tried[0] = s->backend;
		stat_add(&s->t->slot[0].err_connect, 1);
		target_failed(s->t, s->backend);
		session_close(s);
		s = session_new(l, client, key, tried, 1);
		rc = s ? uv_udp_try_send(&s->h, &out, 1, NULL) : -1;
	}
	if (rc >= 0)
		stat_add(&s->t->slot[0].bytes_in, (uint64_t)nread);
}

/* ---- listening sockets on their loops --------------------------------------------------------- */

static void on_lsock_closed(uv_handle_t *h)
{
	struct fwd_lsock *ls = h->data;
	struct fwd_loop *w = ls->w;

	fwd_target_unref(ls->t);
	free(ls);
	loop_handle_closed(w);
}

/* CMD_LISTEN: the loop starts accepting on a socket fwd_listen opened. */
static void lsock_start(struct fwd_lsock *ls)
{
	struct fwd_loop *w = ls->w;

	uv_poll_init(w->loop, &ls->poll, ls->fd);
	ls->poll.data = ls;
	w->handles++;
	ls->next = w->lsocks;
	if (w->lsocks)
		w->lsocks->prev = ls;
	w->lsocks = ls;
	uv_poll_start(&ls->poll, UV_READABLE, on_accept);
}

/* CMD_UNLISTEN */
static void lsock_close(struct fwd_lsock *ls)
{
	struct fwd_loop *w = ls->w;

	if (ls->prev)
		ls->prev->next = ls->next;
	else
		w->lsocks = ls->next;
	if (ls->next)
		ls->next->prev = ls->prev;
	uv_close((uv_handle_t *)&ls->poll, on_lsock_closed);
	close(ls->fd);
}

/* ---- the loops and their commands ------------------------------------------------------------- */

static void loop_stop(struct fwd_loop *w);

static void run_cmd(struct fwd_loop *w, int op, struct fwd_lsock *ls, struct fwd_target *t)
{
	switch (op) {
	case CMD_LISTEN:
		lsock_start(ls);
		break;
	case CMD_RETARGET:
		fwd_target_unref(ls->t);
		ls->t = t;
		break;
	case CMD_UNLISTEN:
		lsock_close(ls);
		break;
	case CMD_STOP:
		loop_stop(w);
		break;
	}
}

/* Runs a command on w: at once on loop 0 (the caller's thread), else
 * through w's queue. */
static void loop_post(struct fwd_loop *w, int op, struct fwd_lsock *ls, struct fwd_target *t)
{
	struct fwd_cmd *c;

	if (w->id == 0) {
		run_cmd(w, op, ls, t);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->op = op;
	c->s = ls;
	c->t = t;
	pthread_mutex_lock(&w->mu);
	*w->cmds_tail = c;
	w->cmds_tail = &c->next;
	pthread_mutex_unlock(&w->mu);
	uv_async_send(&w->wake);
}

static void on_wake(uv_async_t *a)
{
	struct fwd_loop *w = a->data;
	struct fwd_cmd *c, *next;

	pthread_mutex_lock(&w->mu);
	c = w->cmds;
	w->cmds = NULL;
	w->cmds_tail = &w->cmds;
	pthread_mutex_unlock(&w->mu);
	for (; c; c = next) {
		next = c->next;
		run_cmd(w, c->op, c->s, c->t);
		free(c);
	}
}

static void on_sweep(uv_timer_t *timer);

static void loop_init(struct fwd_loop *w, struct fwd_engine *e, unsigned id, uv_loop_t *loop)
{
	w->e = e;
	w->id = id;
	w->loop = loop;
	w->cmds_tail = &w->cmds;
	uv_timer_init(loop, &w->sweep);
	w->sweep.data = w;
	w->handles++;
	uv_timer_start(&w->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
}

static void *loop_main(void *arg)
{
	struct fwd_loop *w = arg;
	struct fwd_engine *e = w->e;
	int rc;

	log_set_component(e->log_component);
	uv_run(w->loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(w->loop);
	if (rc != 0) {
		atomic_fetch_add(&unclean_loops, 1);
		log_error("forwarding loop %u did not close cleanly: %s", w->id, uv_strerror(rc));
	}
	pool_drain(w);
	atomic_store(&w->exited, true);
	uv_async_send(&e->exited);
	return NULL;
}

static void on_wake_closed(uv_handle_t *h)
{
	loop_handle_closed(h->data);
}

/* Starts loop id on a thread of its own. Returns 0 or -1 (nothing left open). */
static int loop_start_thread(struct fwd_engine *e, struct fwd_loop *w, unsigned id)
{
	sigset_t all, old;
	char name[16];
	int rc;

	if (uv_loop_init(&w->own) < 0)
		return -1;
	loop_init(w, e, id, &w->own);
	pthread_mutex_init(&w->mu, NULL);
	uv_async_init(&w->own, &w->wake, on_wake);
	w->wake.data = w;
	w->handles++;
	/* signals are for the main thread's loop */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&w->thread, NULL, loop_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_warn("cannot start forwarding thread %u: %s; forwarding with %u", id, strerror(rc), id);
		uv_close((uv_handle_t *)&w->wake, on_wake_closed);
		uv_close((uv_handle_t *)&w->sweep, on_wake_closed);
		uv_run(&w->own, UV_RUN_DEFAULT);
		uv_loop_close(&w->own);
		pthread_mutex_destroy(&w->mu);
		return -1;
	}
	snprintf(name, sizeof(name), "proxy-fwd%u", id);
	pthread_setname_np(w->thread, name);
	return 0;
}

static void on_loop_exited(uv_async_t *a);

struct fwd_engine *fwd_engine_new(uv_loop_t *loop, const struct fwd_config *cfg)
{
	struct fwd_engine *e = xcalloc(1, sizeof(*e));
	unsigned want;

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
	want = e->cfg.loops < 1 ? 1 : e->cfg.loops > FWD_MAX_LOOPS ? FWD_MAX_LOOPS : (unsigned)e->cfg.loops;
	e->log_component = log_component();
	atomic_init(&e->nconns, 0);
	e->loops = xcalloc(want, sizeof(*e->loops));
	loop_init(&e->loops[0], e, 0, loop);
	uv_async_init(loop, &e->exited, on_loop_exited);
	e->exited.data = e;
	e->loops[0].handles++;
	e->nloops = 1;
	while (e->nloops < want && loop_start_thread(e, &e->loops[e->nloops], e->nloops) == 0)
		e->nloops++;
	return e;
}

unsigned fwd_engine_loops(const struct fwd_engine *e)
{
	return e->nloops;
}

size_t fwd_engine_connections(const struct fwd_engine *e)
{
	return atomic_load_explicit(&e->nconns, memory_order_relaxed);
}

uint64_t fwd_engine_loop_accepted(const struct fwd_engine *e, unsigned i)
{
	return i < e->nloops ? stat_get(&e->loops[i].accepted) : 0;
}

void fwd_engine_pipe_stats(const struct fwd_engine *e, uint64_t *made, uint64_t *reused)
{
	*made = *reused = 0;
	for (unsigned i = 0; i < e->nloops; i++) {
		*made += stat_get(&e->loops[i].pipes_made);
		*reused += stat_get(&e->loops[i].pipes_reused);
	}
}

/* ---- listeners (loop 0's thread) --------------------------------------------------------------- */

static void on_listener_closed(uv_handle_t *h)
{
	struct fwd_listener *l = h->data;
	struct fwd_engine *e = l->e;

	fwd_target_unref(l->t);
	pmap_release(&l->sessions);
	free(l);
	loop_handle_closed(&e->loops[0]);
}

static int tcp_socket(const struct sockaddr_in *addr, bool reuseport, bool listening, int *out)
{
	int fd, one = 1, rc;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0 || (listening && listen(fd, 511) < 0))
		goto fail;
	*out = fd;
	return 0;
fail:
	rc = -errno;
	close(fd);
	return rc;
}

/*
 * One socket per loop. With several, they share the port through
 * SO_REUSEPORT, which would also let another process's SO_REUSEPORT socket
 * (a second proxy, say) join in silently: a plain bind first makes sure
 * nothing listens there yet, so a conflict fails as it does with one loop.
 */
static int listen_tcp(struct fwd_listener *l)
{
	struct fwd_engine *e = l->e;
	struct sockaddr_in addr = l->addr;
	bool shared = e->nloops > 1;
	int fds[FWD_MAX_LOOPS], rc = 0, probe;
	unsigned n = 0;

	if (shared && addr.sin_port) {
		if ((rc = tcp_socket(&addr, false, false, &probe)) < 0)
			return rc;
		close(probe);
	}
	for (; n < e->nloops; n++) {
		if ((rc = tcp_socket(&addr, shared, true, &fds[n])) < 0)
			break;
		if (n == 0) {
			/* port 0: the others go where the first one landed */
			socklen_t len = sizeof(addr);
			getsockname(fds[0], (struct sockaddr *)&addr, &len);
			l->port = ntohs(addr.sin_port);
		}
	}
	if (rc < 0) {
		while (n > 0)
			close(fds[--n]);
		return rc;
	}
	for (unsigned i = 0; i < e->nloops; i++) {
		struct fwd_lsock *ls = xcalloc(1, sizeof(*ls));
		ls->w = &e->loops[i];
		ls->fd = fds[i];
		ls->t = fwd_target_ref(l->t);
		l->socks[i] = ls;
		loop_post(ls->w, CMD_LISTEN, ls, NULL);
	}
	return 0;
}

static int listen_udp(struct fwd_listener *l)
{
	int rc;

	uv_udp_init(l->e->loops[0].loop, &l->udp);
	l->udp.data = l;
	rc = uv_udp_bind(&l->udp, (struct sockaddr *)&l->addr, 0);
	if (rc == 0)
		rc = uv_udp_recv_start(&l->udp, on_alloc, on_listener_udp_recv);
	if (rc < 0) {
		/* the handle is open: close it, and the listener with it */
		l->t = fwd_target_ref(l->t);
		l->e->loops[0].handles++;
		uv_close((uv_handle_t *)&l->udp, on_listener_closed);
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
		e->loops[0].handles++;
	} else {
		pmap_release(&l->sessions);
		free(l);
		return -EPROTONOSUPPORT;
	}
	fwd_target_ref(t);
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
	int n = sizeof(sa);

	if (l->proto == IPPROTO_TCP)
		return l->port;
	if (uv_udp_getsockname(&l->udp, (struct sockaddr *)&sa, &n) < 0)
		return 0;
	return ntohs(sa.sin_port);
}

void fwd_listener_set_target(struct fwd_listener *l, struct fwd_target *t)
{
	if (l->t == t)
		return;
	fwd_target_ref(t);
	fwd_target_unref(l->t);
	l->t = t;
	if (l->proto == IPPROTO_TCP)
		for (unsigned i = 0; i < l->e->nloops; i++)
			loop_post(l->socks[i]->w, CMD_RETARGET, l->socks[i], fwd_target_ref(t));
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
	if (l->proto == IPPROTO_UDP) {
		while (l->slist)
			session_close(l->slist);
		uv_close((uv_handle_t *)&l->udp, on_listener_closed);
		return;
	}
	for (unsigned i = 0; i < e->nloops; i++) {
		struct fwd_lsock *ls = l->socks[i];
		/* A socket on another loop closes when that loop gets to it;
		 * shut down now, it stops listening at once (new connections
		 * are refused, the port is free for a new listener of ours). */
		if (i > 0)
			shutdown(ls->fd, SHUT_RD);
		loop_post(ls->w, CMD_UNLISTEN, ls, NULL);
	}
	fwd_target_unref(l->t);
	pmap_release(&l->sessions);
	free(l);
}

/* ---- housekeeping ------------------------------------------------------------------------------ */

static void on_sweep(uv_timer_t *timer)
{
	struct fwd_loop *w = timer->data;
	uint64_t t = uv_now(w->loop);

	for (struct fwd_lsock *ls = w->lsocks; ls; ls = ls->next) {
		if (ls->paused) {
			ls->paused = false;
			uv_poll_start(&ls->poll, UV_READABLE, on_accept);
		}
	}
	if (w->id != 0)
		return;
	for (struct fwd_listener *l = w->e->listeners; l; l = l->next) {
		struct fwd_session *s = l->slist, *next;
		for (; s; s = next) {
			next = s->next;
			if (t - s->last_ms > w->e->cfg.udp_timeout_ms)
				session_close(s);
		}
	}
}

/* ---- closing -------------------------------------------------------------------------------------- */

static void engine_free(struct fwd_engine *e)
{
	void (*cb)(void *) = e->on_closed;
	void *arg = e->closed_arg;

	pool_drain(&e->loops[0]);
	for (unsigned i = 1; i < e->nloops; i++)
		pthread_mutex_destroy(&e->loops[i].mu);
	free(e->loops);
	free(e);
	if (cb)
		cb(arg);
}

static void loop_handle_closed(struct fwd_loop *w)
{
	if (--w->handles > 0 || w->id != 0 || !w->e->closing)
		return;
	engine_free(w->e);
}

static void on_sweep_closed(uv_handle_t *h)
{
	loop_handle_closed(h->data);
}

static void on_exited_closed(uv_handle_t *h)
{
	struct fwd_engine *e = h->data;

	loop_handle_closed(&e->loops[0]);
}

/* Joins the threads that have finished; when all have, loop 0 closes its
 * last handle. */
static void on_loop_exited(uv_async_t *a)
{
	struct fwd_engine *e = a->data;
	unsigned left = 0;

	for (unsigned i = 1; i < e->nloops; i++) {
		struct fwd_loop *w = &e->loops[i];
		if (!w->joined && atomic_load(&w->exited)) {
			pthread_join(w->thread, NULL);
			w->joined = true;
		}
		left += !w->joined;
	}
	if (!left && e->closing && !e->exited_closing) {
		e->exited_closing = true;
		uv_close((uv_handle_t *)&e->exited, on_exited_closed);
	}
}

/* CMD_STOP: closes everything the loop has; a thread's uv_run then returns. */
static void loop_stop(struct fwd_loop *w)
{
	w->closing = true;
	while (w->lsocks)
		lsock_close(w->lsocks);
	while (w->conns)
		conn_close(w->conns, true);
	uv_close((uv_handle_t *)&w->sweep, on_sweep_closed);
	if (w->id != 0)
		uv_close((uv_handle_t *)&w->wake, on_wake_closed);
}

void fwd_engine_close(struct fwd_engine *e, void (*cb)(void *arg), void *arg)
{
	e->closing = true;
	e->on_closed = cb;
	e->closed_arg = arg;
	while (e->listeners)
		fwd_listener_close(e->listeners);
	for (unsigned i = 1; i < e->nloops; i++)
		loop_post(&e->loops[i], CMD_STOP, NULL, NULL);
	loop_stop(&e->loops[0]);
	on_loop_exited(&e->exited); /* with one loop (or threads already done), nothing to wait for */
}

unsigned fwd_unclean_loops(void)
{
	return atomic_load(&unclean_loops);
}
