/*
 * Tests for src/proxy/forward.c on 127.0.0.1 only (no root, no network):
 * the engine's loop 0 runs on a thread; the test talks to it with plain
 * blocking sockets and runs small echo backends that greet with their
 * name. The suite runs twice: with one forwarding loop, and with three
 * (two threads of the engine's own). Covers round robin, a megabyte
 * through splice both ways, half close, a dead backend skipped, no
 * backend -> reset, the connection limit, UDP flows, counters, and a
 * clean close with connections open; with three loops also that every
 * loop forwards, round robin and ClientIP affinity hold across loops, the
 * limit and the counters are shared, a retarget and a close reach every
 * loop, and every thread's loop closes cleanly.
 */
#include "core/util.h"
#include "proxy/forward.h"
#include "testing.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LO 0x7f000001u

/* ---- the engine on its own thread --------------------------------------------- */

static uv_loop_t loop;
static uv_async_t wake;
static pthread_t loop_thread;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static void (*pending_fn)(void *);
static void *pending_arg;
static bool pending_done;

static void on_wake(uv_async_t *a)
{
	(void)a;
	pthread_mutex_lock(&mu);
	if (pending_fn) {
		pending_fn(pending_arg);
		pending_fn = NULL;
		pending_done = true;
		pthread_cond_signal(&cv);
	}
	pthread_mutex_unlock(&mu);
}

/* Runs fn(arg) on the loop thread and waits for it. */
static void on_loop(void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&mu);
	pending_fn = fn;
	pending_arg = arg;
	pending_done = false;
	uv_async_send(&wake);
	while (!pending_done)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

static void *run_loop(void *arg)
{
	(void)arg;
	uv_run(&loop, UV_RUN_DEFAULT);
	return NULL;
}

/* ---- backends ---------------------------------------------------------------------- */

struct backend {
	char name;
	int lfd, ufd, stop[2];
	uint16_t port;
	pthread_t th;
	int accepted;
};

static void *backend_main(void *arg)
{
	struct backend *b = arg;
	struct pollfd fds[70];
	int n = 3;

	fds[0] = (struct pollfd){ .fd = b->stop[0], .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = b->lfd, .events = POLLIN };
	fds[2] = (struct pollfd){ .fd = b->ufd, .events = POLLIN };
	for (;;) {
		if (poll(fds, (nfds_t)n, -1) < 0)
			continue;
		if (fds[0].revents)
			break;
		if ((fds[1].revents & POLLIN) && n < 70) {
			int c = accept(b->lfd, NULL, NULL);
			char greet[2] = { b->name, '\n' };
			if (c >= 0) {
				b->accepted++;
				if (write(c, greet, 2) != 2) {
					close(c);
				} else {
					fds[n++] = (struct pollfd){ .fd = c, .events = POLLIN };
				}
			}
		}
		if (fds[2].revents & POLLIN) {
			char buf[2048];
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t r = recvfrom(b->ufd, buf + 1, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
			if (r >= 0) {
				buf[0] = b->name;
				sendto(b->ufd, buf, (size_t)r + 1, 0, (struct sockaddr *)&from, fl);
			}
		}
		for (int i = 3; i < n; i++) {
			char buf[16384];
			ssize_t r;
			if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(fds[i].fd, buf, sizeof(buf));
			if (r > 0) {
				ssize_t off = 0;
				while (off < r) {
					ssize_t w = write(fds[i].fd, buf + off, (size_t)(r - off));
					if (w <= 0)
						break;
					off += w;
				}
				continue;
			}
			close(fds[i].fd);
			fds[i--] = fds[--n];
		}
	}
	for (int i = 3; i < n; i++)
		close(fds[i].fd);
	return NULL;
}

static void backend_start(struct backend *b, char name)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(LO) };
	socklen_t len = sizeof(sa);
	int one = 1;

	memset(b, 0, sizeof(*b));
	b->name = name;
	b->lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(b->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(b->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(b->lfd, 64) < 0)
		abort();
	getsockname(b->lfd, (struct sockaddr *)&sa, &len);
	b->port = ntohs(sa.sin_port);
	/* the UDP echo on the same port number */
	b->ufd = socket(AF_INET, SOCK_DGRAM, 0);
	if (bind(b->ufd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	if (pipe(b->stop) < 0)
		abort();
	pthread_create(&b->th, NULL, backend_main, b);
}

static void backend_stop(struct backend *b)
{
	if (write(b->stop[1], "x", 1) != 1)
		abort();
	pthread_join(b->th, NULL);
	close(b->lfd);
	close(b->ufd);
	close(b->stop[0]);
	close(b->stop[1]);
}

/* A port nothing listens on (TCP and UDP). */
static uint16_t dead_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(LO) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd);
	return ntohs(sa.sin_port);
}

/* ---- clients ------------------------------------------------------------------------------ */

static int client(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(LO) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The backend's greeting: its name, or '-' on EOF, '!' on a reset. */
static char greeting(int fd)
{
	char buf[2];
	ssize_t n = recv(fd, buf, 2, MSG_WAITALL);

	if (n == 2)
		return buf[0];
	return n == 0 ? '-' : errno == ECONNRESET ? '!' : '?';
}

static bool read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* ---- the engine under test --------------------------------------------------------------- */

struct setup {
	int loops;
	struct fwd_engine *e, *e2;      /* e2: a second engine with a limit of LIMIT */
	struct fwd_target *t, *u, *t2;
	struct fwd_listener *l, *ul, *l2;
	struct backend_addr addrs[4];
	size_t naddrs;
	uint16_t port, uport, port2;
};

#define LIMIT 4

static struct setup S;

static void do_start(void *arg)
{
	struct fwd_config cfg = { .udp_timeout_ms = 300, .loops = S.loops },
			  limited = { .max_connections = LIMIT, .loops = S.loops };

	(void)arg;
	S.e = fwd_engine_new(&loop, &cfg);
	S.e2 = fwd_engine_new(&loop, &limited);
	CHECK_INT(fwd_engine_loops(S.e), S.loops);
	CHECK_INT(fwd_engine_loops(S.e2), S.loops);
	S.t2 = fwd_target_new(IPPROTO_TCP, "service=\"t2\"");
	CHECK_INT(fwd_listen(S.e2, IPPROTO_TCP, LO, 0, S.t2, &S.l2), 0);
	S.port2 = fwd_listener_port(S.l2);
	S.t = fwd_target_new(IPPROTO_TCP, "service=\"t\"");
	S.u = fwd_target_new(IPPROTO_UDP, "service=\"u\"");
	CHECK_INT(fwd_listen(S.e, IPPROTO_TCP, LO, 0, S.t, &S.l), 0);
	CHECK_INT(fwd_listen(S.e, IPPROTO_UDP, LO, 0, S.u, &S.ul), 0);
	S.port = fwd_listener_port(S.l);
	S.uport = fwd_listener_port(S.ul);
	CHECK(S.port != 0);
	CHECK(S.uport != 0);
	CHECK_STR(fwd_target_labels(S.t), "service=\"t\"");
}

static void do_set_backends(void *arg)
{
	(void)arg;
	fwd_target_set_backends(S.t, S.addrs, S.naddrs);
	fwd_target_set_backends(S.u, S.addrs, S.naddrs);
	fwd_target_set_backends(S.t2, S.addrs, S.naddrs);
}

static void set_backends(const struct backend_addr *a, size_t n)
{
	if (n)
		memcpy(S.addrs, a, n * sizeof(*a));
	S.naddrs = n;
	on_loop(do_set_backends, NULL);
}

static struct fwd_stats stats_copy;

static void do_stats(void *arg)
{
	fwd_target_stats(arg, &stats_copy);
}

static struct fwd_stats stats(struct fwd_target *t)
{
	on_loop(do_stats, t);
	return stats_copy;
}

/* A loop counts the bytes it passed on just after send() returns, so a
 * client may read them before they are counted: wait until the counters
 * have caught up with in and out (or give up), then let the caller check. */
static struct fwd_stats wait_bytes(struct fwd_target *t, const struct fwd_stats *before, uint64_t in, uint64_t out)
{
	struct fwd_stats st = stats(t);

	for (int i = 0; i < 200 && (st.bytes_in - before->bytes_in < in || st.bytes_out - before->bytes_out < out);
	     i++) {
		usleep(10000);
		st = stats(t);
	}
	return st;
}

/* Open connections are counted down by the loops as they see them end. */
static bool wait_active(struct fwd_target *t, uint64_t want)
{
	for (int i = 0; i < 200; i++) {
		if (stats(t).active == want)
			return true;
		usleep(10000);
	}
	return false;
}

static void accepted(struct fwd_engine *e, uint64_t *out)
{
	for (int i = 0; i < S.loops; i++)
		out[i] = fwd_engine_loop_accepted(e, (unsigned)i);
}

/* Every loop accepted at least one connection since before[]. */
static bool every_loop_accepted(struct fwd_engine *e, const uint64_t *before)
{
	uint64_t now[FWD_MAX_LOOPS];

	accepted(e, now);
	for (int i = 0; i < S.loops; i++)
		if (now[i] == before[i])
			return false;
	return true;
}

static int closed;

static void on_engine_closed(void *arg)
{
	(void)arg;
	closed++;
}

static void do_close(void *arg)
{
	(void)arg;
	fwd_target_unref(S.t);
	fwd_target_unref(S.u);
	fwd_target_unref(S.t2);
	fwd_engine_close(S.e, on_engine_closed, NULL);
	fwd_engine_close(S.e2, on_engine_closed, NULL);
}

static int closed_now;

static void do_read_closed(void *arg)
{
	(void)arg;
	closed_now = closed;
}

/* ---- tests ------------------------------------------------------------------------------------ */

/* Sequential connections alternate A, B, A, B... wherever the kernel puts
 * them: the picker's cursor is the target's, not a loop's. */
static void test_round_robin(struct backend *a, struct backend *b)
{
	int n = S.loops > 1 ? 24 : 4;
	uint64_t before[FWD_MAX_LOOPS];

	accepted(S.e, before);
	for (int i = 0; i < n; i++) {
		int fd = client(S.port);
		char seen;
		CHECK(fd >= 0);
		seen = fd >= 0 ? greeting(fd) : '?';
		CHECK_INT(seen, i % 2 ? b->name : a->name);
		if (fd >= 0)
			close(fd);
	}
	if (S.loops > 1)
		CHECK(every_loop_accepted(S.e, before));
}

/* A megabyte each way, in chunks, through splice; then a half close. */
static void test_bulk_and_half_close(void)
{
	struct fwd_stats before = stats(S.t), after;
	int fd = client(S.port);
	char *out = xmalloc(1 << 20), *in = xmalloc(16384);
	bool ok = true;

	for (size_t i = 0; i < (1u << 20); i++)
		out[i] = (char)(i * 7 + (i >> 9));
	CHECK(fd >= 0);
	CHECK(greeting(fd) != '?');
	for (size_t off = 0; off < (1u << 20) && ok; off += 16384) {
		ok = write(fd, out + off, 16384) == 16384 && read_all(fd, in, 16384) && !memcmp(in, out + off, 16384);
	}
	CHECK(ok);
	/* half close: the backend sees EOF, closes, and we see EOF after it */
	CHECK_INT(write(fd, "tail", 4), 4);
	shutdown(fd, SHUT_WR);
	CHECK(read_all(fd, in, 4));
	CHECK(!memcmp(in, "tail", 4));
	CHECK_INT(read(fd, in, 1), 0);
	close(fd);
	CHECK(wait_active(S.t, 0));
	after = stats(S.t);
	CHECK(after.bytes_in - before.bytes_in >= (1u << 20) + 4);
	CHECK(after.bytes_out - before.bytes_out >= (1u << 20) + 4 + 2);
	CHECK_INT(after.connections - before.connections, 1);
	free(out);
	free(in);
}

static void test_dead_backend(struct backend *a)
{
	struct backend_addr addrs[2] = { { LO, dead_port() }, { LO, a->port } };
	struct fwd_stats before, after;
	int n = S.loops > 1 ? 12 : 4;

	set_backends(addrs, 2);
	before = stats(S.t);
	for (int i = 0; i < n; i++) {
		int fd = client(S.port);
		CHECK(fd >= 0);
		CHECK_INT(fd >= 0 ? greeting(fd) : '?', a->name);
		if (fd >= 0)
			close(fd);
	}
	after = stats(S.t);
	/* tried once, then held off: on every loop, the mark is the target's */
	CHECK_INT(after.err_connect - before.err_connect, 1);
	CHECK_INT(after.err_refused, before.err_refused);
}

static void test_no_backend(void)
{
	struct backend_addr addrs[1] = { { LO, dead_port() } };
	struct fwd_stats before = stats(S.t), after;
	int fd;

	set_backends(addrs, 1);
	fd = client(S.port);
	CHECK(fd >= 0);
	CHECK_INT(fd >= 0 ? greeting(fd) : '!', '!'); /* a reset, not a quiet close */
	if (fd >= 0)
		close(fd);
	set_backends(NULL, 0);
	fd = client(S.port);
	CHECK_INT(fd >= 0 ? greeting(fd) : '!', '!');
	if (fd >= 0)
		close(fd);
	after = stats(S.t);
	CHECK_INT(after.err_refused - before.err_refused, 2);
}

/* The second engine takes LIMIT connections at once, all its loops
 * together; the rest are reset. Returns the first, left open. */
static int test_limit(struct backend *a)
{
	struct backend_addr addrs[1] = { { LO, a->port } };
	int n = S.loops > 1 ? 24 : LIMIT + 1, fds[24], ok = 0, reset = 0;
	uint64_t before[FWD_MAX_LOOPS];
	struct fwd_stats after;

	set_backends(addrs, 1);
	accepted(S.e2, before);
	for (int i = 0; i < n; i++) {
		char g;
		fds[i] = client(S.port2);
		g = fds[i] >= 0 ? greeting(fds[i]) : '!';
		ok += g == a->name;
		reset += g == '!';
		/* the first LIMIT get through, wherever they land */
		CHECK_INT(g, i < LIMIT ? a->name : '!');
	}
	CHECK_INT(ok, LIMIT);
	CHECK_INT(reset, n - LIMIT);
	if (S.loops > 1)
		CHECK(every_loop_accepted(S.e2, before));
	after = stats(S.t2);
	CHECK_INT(after.err_limit, n - LIMIT);
	CHECK_INT(after.connections, n);
	CHECK_INT(after.active, LIMIT);
	for (int i = 1; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return fds[0];
}

static int udp_client(void)
{
	struct timeval tv = { .tv_sec = 2 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(S.uport), .sin_addr.s_addr = htonl(LO) };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	connect(fd, (struct sockaddr *)&sa, sizeof(sa)); /* replies must come from the listener's address */
	return fd;
}

static char udp_ask(int fd, const char *msg)
{
	char buf[64];
	ssize_t n;

	if (send(fd, msg, strlen(msg), 0) < 0)
		return '?';
	n = recv(fd, buf, sizeof(buf), 0);
	if (n != (ssize_t)strlen(msg) + 1 || memcmp(buf + 1, msg, strlen(msg)))
		return '?';
	return buf[0];
}

static void test_udp(struct backend *a, struct backend *b)
{
	struct backend_addr two[2] = { { LO, a->port }, { LO, b->port } };
	struct backend_addr dead_first[2] = { { LO, dead_port() }, { LO, a->port } };
	int c1, c2, c3;
	char r1, r2;
	struct fwd_stats st;

	set_backends(two, 2);
	c1 = udp_client();
	c2 = udp_client();
	r1 = udp_ask(c1, "hello");
	r2 = udp_ask(c2, "hello");
	CHECK(r1 == a->name || r1 == b->name);
	CHECK(r2 == a->name || r2 == b->name);
	CHECK(r1 != r2); /* two flows, round robin */
	CHECK_INT(udp_ask(c1, "again"), r1); /* a flow keeps its backend */
	st = stats(S.u);
	CHECK_INT(st.connections, 2);
	CHECK_INT(st.active, 2);
	CHECK_INT(st.bytes_in, 10 + 5);
	/* idle flows time out (udp_timeout 300 ms, swept every 500 ms) */
	usleep(1200000);
	st = stats(S.u);
	CHECK_INT(st.active, 0);
	/* a dead backend: the first datagram is lost to the ICMP error, the
	 * retry goes elsewhere */
	set_backends(dead_first, 2);
	c3 = udp_client();
	{
		char r = udp_ask(c3, "x");
		if (r == '?')
			r = udp_ask(c3, "y");
		CHECK_INT(r, a->name);
	}
	close(c1);
	close(c2);
	close(c3);
}

/* Many connections open at once, each with its own bytes: every loop
 * takes some, each gets exactly its own echo back, and the target's
 * counters add up over the loops. Leaves `keep` of them open. */
#define SPREAD 48

static void test_spread(struct backend *a, struct backend *b, int *kept, int keep)
{
	struct backend_addr two[2] = { { LO, a->port }, { LO, b->port } };
	uint64_t before_acc[FWD_MAX_LOOPS];
	struct fwd_stats before, after;
	int fds[SPREAD];
	size_t sent = 0;

	set_backends(two, 2);
	CHECK(wait_active(S.t, 0));
	before = stats(S.t);
	accepted(S.e, before_acc);
	for (int i = 0; i < SPREAD; i++) {
		fds[i] = client(S.port);
		CHECK(fds[i] >= 0);
	}
	for (int i = 0; i < SPREAD; i++) {
		char g = fds[i] >= 0 ? greeting(fds[i]) : '?';
		CHECK(g == a->name || g == b->name);
	}
	for (int i = 0; i < SPREAD; i++) {
		char msg[32], in[32];
		int len = snprintf(msg, sizeof(msg), "message %d of %d", i, SPREAD);
		if (fds[i] < 0)
			continue;
		CHECK_INT(write(fds[i], msg, (size_t)len), len);
		CHECK(read_all(fds[i], in, (size_t)len) && !memcmp(in, msg, (size_t)len));
		sent += (size_t)len;
	}
	CHECK(every_loop_accepted(S.e, before_acc));
	after = wait_bytes(S.t, &before, sent, sent + 2 * SPREAD);
	CHECK_INT(after.connections - before.connections, SPREAD);
	CHECK_INT(after.active, SPREAD);
	CHECK_INT(after.bytes_in - before.bytes_in, sent);
	CHECK_INT(after.bytes_out - before.bytes_out, sent + 2 * SPREAD);
	CHECK_INT(fwd_engine_connections(S.e), SPREAD + stats(S.u).active); /* a UDP flow may linger */
	for (int i = 0; i < SPREAD; i++) {
		if (i < keep)
			kept[i] = fds[i];
		else if (fds[i] >= 0)
			close(fds[i]);
	}
	CHECK(wait_active(S.t, (uint64_t)keep));
}

/* sessionAffinity ClientIP: every connection from 127.0.0.1 sticks to one
 * backend, whichever loop accepts it. */
static void do_affinity_on(void *arg)
{
	fwd_target_set_affinity(S.t, arg != NULL, 60000);
}

static void test_affinity_across_loops(struct backend *a, struct backend *b)
{
	struct backend_addr two[2] = { { LO, a->port }, { LO, b->port } };
	uint64_t before[FWD_MAX_LOOPS];
	char first = 0;

	set_backends(two, 2);
	on_loop(do_affinity_on, (void *)1);
	accepted(S.e, before);
	for (int i = 0; i < 24; i++) {
		int fd = client(S.port);
		char g = fd >= 0 ? greeting(fd) : '?';
		if (!first)
			first = g;
		CHECK(g == a->name || g == b->name);
		CHECK_INT(g, first);
		if (fd >= 0)
			close(fd);
	}
	CHECK(every_loop_accepted(S.e, before));
	on_loop(do_affinity_on, NULL);
}

/* A new target for the listener reaches every loop. */
static struct fwd_target *only_b;

static void do_retarget(void *arg)
{
	fwd_listener_set_target(S.l, arg ? only_b : S.t);
}

static void test_retarget(struct backend *a, struct backend *b)
{
	struct backend_addr one[1] = { { LO, b->port } };
	struct backend_addr two[2] = { { LO, a->port }, { LO, b->port } };

	set_backends(two, 2);
	only_b = fwd_target_new(IPPROTO_TCP, "service=\"b\"");
	fwd_target_set_backends(only_b, one, 1);
	on_loop(do_retarget, only_b);
	/* the loop threads apply it when they next wake: give them a moment */
	usleep(20000);
	for (int i = 0; i < 16; i++) {
		int fd = client(S.port);
		CHECK_INT(fd >= 0 ? greeting(fd) : '?', b->name);
		if (fd >= 0)
			close(fd);
	}
	on_loop(do_retarget, NULL);
	usleep(20000);
	CHECK(wait_active(only_b, 0));
	CHECK_INT(stats(only_b).connections, 16);
	fwd_target_unref(only_b); /* the loops drop their references themselves */
}

/* Closing a listener refuses new connections at once on every loop, and
 * the connections it accepted carry on; its port can be listened on again
 * once every loop has closed its socket. A port that is taken is refused,
 * as with one loop. */
static struct fwd_listener *extra;
static int extra_rc;
static uint16_t extra_port;

static void do_extra_listen(void *arg)
{
	extra_rc = fwd_listen(S.e, IPPROTO_TCP, LO, (uint16_t)(uintptr_t)arg, S.t, &extra);
	extra_port = extra_rc == 0 ? fwd_listener_port(extra) : 0;
}

static void do_extra_close(void *arg)
{
	(void)arg;
	fwd_listener_close(extra);
}

static void test_listener_close(struct backend *a, uint64_t still_open)
{
	struct backend_addr one[1] = { { LO, a->port } };
	int open_fds[8], fd;
	uint16_t port;
	char in[8];

	set_backends(one, 1);
	on_loop(do_extra_listen, (void *)(uintptr_t)S.port);
	CHECK_INT(extra_rc, -EADDRINUSE);
	on_loop(do_extra_listen, NULL);
	CHECK_INT(extra_rc, 0);
	port = extra_port;
	for (int i = 0; i < 8; i++) {
		open_fds[i] = client(port);
		CHECK_INT(open_fds[i] >= 0 ? greeting(open_fds[i]) : '?', a->name);
	}
	on_loop(do_extra_close, NULL);
	fd = client(port);
	CHECK_INT(fd, -1); /* refused at once */
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 8; i++) {
		if (open_fds[i] < 0)
			continue;
		CHECK_INT(write(open_fds[i], "still", 5), 5);
		CHECK(read_all(open_fds[i], in, 5) && !memcmp(in, "still", 5));
		close(open_fds[i]);
	}
	for (int i = 0; i < 100; i++) {
		on_loop(do_extra_listen, (void *)(uintptr_t)port);
		if (extra_rc == 0)
			break;
		usleep(10000);
	}
	CHECK_INT(extra_rc, 0);
	if (extra_rc == 0) {
		fd = client(port);
		CHECK_INT(fd >= 0 ? greeting(fd) : '?', a->name);
		if (fd >= 0)
			close(fd);
		on_loop(do_extra_close, NULL);
	}
	CHECK(wait_active(S.t, still_open));
}

static void suite(int loops, struct backend *a, struct backend *b)
{
	int kept[4 + 1], nkept = loops > 1 ? 4 : 0;
	char c;

	fprintf(stderr, "--- %d forwarding loop(s)\n", loops);
	memset(&S, 0, sizeof(S));
	S.loops = loops;
	closed = 0;
	on_loop(do_start, NULL);
	{
		struct backend_addr addrs[2] = { { LO, a->port }, { LO, b->port } };
		set_backends(addrs, 2);
	}
	test_round_robin(a, b);
	test_bulk_and_half_close();
	test_dead_backend(a);
	test_no_backend();
	test_udp(a, b);
	if (loops > 1) {
		test_spread(a, b, kept, nkept);
		test_affinity_across_loops(a, b);
		test_retarget(a, b);
		test_listener_close(a, (uint64_t)nkept);
	}
	kept[nkept++] = test_limit(a);
	/* close with connections still open (on several loops): everything must go */
	on_loop(do_close, NULL);
	for (int i = 0; i < 500; i++) {
		on_loop(do_read_closed, NULL);
		if (closed_now == 2)
			break;
		usleep(10000);
	}
	CHECK_INT(closed_now, 2);
	/* the proxy reset the kept connections */
	for (int i = 0; i < nkept; i++) {
		CHECK(read(kept[i], &c, 1) <= 0);
		close(kept[i]);
	}
}

static void do_close_wake(void *arg)
{
	(void)arg;
	uv_close((uv_handle_t *)&wake, NULL);
}

int main(void)
{
	struct backend a, b;

	backend_start(&a, 'A');
	backend_start(&b, 'B');
	uv_loop_init(&loop);
	uv_async_init(&loop, &wake, on_wake);
	pthread_create(&loop_thread, NULL, run_loop, NULL);
	suite(1, &a, &b);
	suite(3, &a, &b);
	on_loop(do_close_wake, NULL);
	pthread_join(loop_thread, NULL);
	CHECK_INT(uv_loop_close(&loop), 0);
	CHECK_INT(fwd_unclean_loops(), 0);
	backend_stop(&a);
	backend_stop(&b);
	return test_done();
}
