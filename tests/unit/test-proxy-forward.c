/*
 * Tests for src/proxy/forward.c on 127.0.0.1 only (no root, no network):
 * the engine runs its loop on a thread; the test talks to it with plain
 * blocking sockets and runs small echo backends that greet with their
 * name. Covers round robin, a megabyte through splice both ways, half
 * close, a dead backend skipped, no backend -> reset, the connection
 * limit, UDP flows, counters, and a clean close with connections open.
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
	struct fwd_engine *e, *e2;      /* e2: a second engine with a limit of 2 */
	struct fwd_target *t, *u, *t2;
	struct fwd_listener *l, *ul, *l2;
	struct backend_addr addrs[4];
	size_t naddrs;
	uint16_t port, uport, port2;
};

static struct setup S;

static void do_start(void *arg)
{
	struct fwd_config cfg = { .udp_timeout_ms = 300 }, limited = { .max_connections = 2 };

	(void)arg;
	S.e = fwd_engine_new(&loop, &cfg);
	S.e2 = fwd_engine_new(&loop, &limited);
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
}

static void do_set_backends(void *arg)
{
	(void)arg;
	picker_set_backends(&S.t->picker, S.addrs, S.naddrs);
	picker_set_backends(&S.u->picker, S.addrs, S.naddrs);
	picker_set_backends(&S.t2->picker, S.addrs, S.naddrs);
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
	stats_copy = ((struct fwd_target *)arg)->stats;
}

static struct fwd_stats stats(struct fwd_target *t)
{
	on_loop(do_stats, t);
	return stats_copy;
}

static int closed;

static void on_engine_closed(void *arg)
{
	(void)arg;
	if (++closed == 2)
		uv_close((uv_handle_t *)&wake, NULL);
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

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_round_robin(struct backend *a, struct backend *b)
{
	char seen[4];

	for (int i = 0; i < 4; i++) {
		int fd = client(S.port);
		CHECK(fd >= 0);
		seen[i] = fd >= 0 ? greeting(fd) : '?';
		if (fd >= 0)
			close(fd);
	}
	CHECK_INT(seen[0], a->name);
	CHECK_INT(seen[1], b->name);
	CHECK_INT(seen[2], a->name);
	CHECK_INT(seen[3], b->name);
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
	usleep(50000);
	after = stats(S.t);
	CHECK(after.bytes_in - before.bytes_in >= (1u << 20) + 4);
	CHECK(after.bytes_out - before.bytes_out >= (1u << 20) + 4 + 2);
	CHECK_INT(after.connections - before.connections, 1);
	CHECK_INT(after.active, 0);
	free(out);
	free(in);
}

static void test_dead_backend(struct backend *a)
{
	struct backend_addr addrs[2] = { { LO, dead_port() }, { LO, a->port } };
	struct fwd_stats before, after;

	set_backends(addrs, 2);
	before = stats(S.t);
	for (int i = 0; i < 4; i++) {
		int fd = client(S.port);
		CHECK(fd >= 0);
		CHECK_INT(fd >= 0 ? greeting(fd) : '?', a->name);
		if (fd >= 0)
			close(fd);
	}
	after = stats(S.t);
	/* tried once, then held off */
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

/* The second engine takes two connections at once; the third is reset.
 * Returns the first, left open. */
static int test_limit(struct backend *a)
{
	struct backend_addr addrs[1] = { { LO, a->port } };
	int fds[3];
	struct fwd_stats after;

	set_backends(addrs, 1);
	for (int i = 0; i < 3; i++)
		fds[i] = client(S.port2);
	CHECK_INT(greeting(fds[0]), a->name);
	CHECK_INT(greeting(fds[1]), a->name);
	CHECK_INT(greeting(fds[2]), '!');
	after = stats(S.t2);
	CHECK_INT(after.err_limit, 1);
	CHECK_INT(after.connections, 3);
	CHECK_INT(after.active, 2);
	close(fds[2]);
	close(fds[1]);
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

int main(void)
{
	struct backend a, b;
	int kept;

	backend_start(&a, 'A');
	backend_start(&b, 'B');
	uv_loop_init(&loop);
	uv_async_init(&loop, &wake, on_wake);
	pthread_create(&loop_thread, NULL, run_loop, NULL);
	on_loop(do_start, NULL);
	{
		struct backend_addr addrs[2] = { { LO, a.port }, { LO, b.port } };
		set_backends(addrs, 2);
	}
	test_round_robin(&a, &b);
	test_bulk_and_half_close();
	test_dead_backend(&a);
	test_no_backend();
	test_udp(&a, &b);
	kept = test_limit(&a);
	/* close with a connection still open: everything must go */
	on_loop(do_close, NULL);
	pthread_join(loop_thread, NULL);
	CHECK_INT(closed, 2);
	CHECK_INT(uv_loop_close(&loop), 0);
	/* the proxy reset the kept connection */
	{
		char c;
		CHECK(read(kept, &c, 1) <= 0);
		close(kept);
	}
	backend_stop(&a);
	backend_stop(&b);
	return test_done();
}
