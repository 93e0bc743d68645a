/*
 * Tests for src/proxy/dnsserver.c on loopback: cluster answers over UDP
 * and TCP (pipelined), TC on UDP and the whole answer on TCP, FORMERR,
 * SERVFAIL without upstreams, and, as root (an upstream must sit on port
 * 53 of a loopback address), forwarding: a fresh query ID upstream, the
 * client's ID back, a dead first upstream skipped after the timeout, a
 * truncated upstream answer asked again over TCP for a TCP client, and
 * SERVFAIL when nobody answers. The server's loop runs on a thread.
 */
#include "core/util.h"
#include "proxy/dnsserver.h"
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

/* ---- queries and replies ---------------------------------------------------------- */

static size_t query(uint8_t *buf, uint16_t id, const char *name, uint16_t type)
{
	struct dns_name n;
	size_t len = DNS_HEADER_LEN;

	memset(buf, 0, DNS_HEADER_LEN);
	buf[0] = (uint8_t)(id >> 8), buf[1] = (uint8_t)id, buf[2] = 1, buf[5] = 1;
	dns_name_from_text(&n, name);
	memcpy(buf + len, n.wire, n.len);
	len += n.len;
	buf[len++] = 0, buf[len++] = (uint8_t)type, buf[len++] = 0, buf[len++] = 1;
	return len;
}

struct reply {
	uint16_t id;
	int rcode;
	bool tc;
	int an;
	uint8_t first_a[4];
};

static int parse(const uint8_t *m, size_t len, struct reply *r)
{
	size_t pos = DNS_HEADER_LEN;
	struct dns_name n;

	memset(r, 0, sizeof(*r));
	if (len < DNS_HEADER_LEN)
		return -1;
	r->id = (uint16_t)(m[0] << 8 | m[1]);
	r->rcode = m[3] & 0xf;
	r->tc = (m[2] & 2) != 0;
	r->an = m[6] << 8 | m[7];
	if ((m[4] << 8 | m[5]) == 1) {
		if (dns_read_name(m, len, &pos, &n) < 0)
			return -1;
		pos += 4;
	}
	if (r->an > 0) {
		if (dns_read_name(m, len, &pos, &n) < 0 || pos + 14 > len)
			return -1;
		memcpy(r->first_a, m + pos + 10, 4);
	}
	return 0;
}

static int udp_to(uint32_t ip, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ip) };
	struct timeval tv = { .tv_sec = 3 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	return fd;
}

static int tcp_to(uint32_t ip, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ip) };
	struct timeval tv = { .tv_sec = 3 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int ask_udp(uint16_t port, uint16_t id, const char *name, uint16_t type, struct reply *r)
{
	uint8_t q[512], a[4096];
	int fd = udp_to(LO, port);
	size_t qlen = query(q, id, name, type);
	ssize_t n;

	send(fd, q, qlen, 0);
	n = recv(fd, a, sizeof(a), 0);
	close(fd);
	if (n <= 0)
		return -1;
	return parse(a, (size_t)n, r);
}

/* Reads one length-prefixed message. */
static ssize_t tcp_read_msg(int fd, uint8_t *buf, size_t size)
{
	uint8_t l[2];
	size_t need;

	if (recv(fd, l, 2, MSG_WAITALL) != 2)
		return -1;
	need = (size_t)l[0] << 8 | l[1];
	if (need > size || recv(fd, buf, need, MSG_WAITALL) != (ssize_t)need)
		return -1;
	return (ssize_t)need;
}

static int ask_tcp(uint16_t port, uint16_t id, const char *name, uint16_t type, struct reply *r)
{
	uint8_t q[514], a[65535];
	int fd = tcp_to(LO, port);
	size_t qlen = query(q + 2, id, name, type);
	ssize_t n;

	if (fd < 0)
		return -1;
	q[0] = (uint8_t)(qlen >> 8), q[1] = (uint8_t)qlen;
	send(fd, q, qlen + 2, 0);
	n = tcp_read_msg(fd, a, sizeof(a));
	close(fd);
	return n < 0 ? -1 : parse(a, (size_t)n, r);
}

/* ---- a fake upstream resolver on 127.0.0.153:53 --------------------------------------------- */

struct upstream {
	int ufd, tfd, stop[2];
	pthread_t th;
	uint16_t ids[16];  /* IDs of the UDP queries it saw */
	int udp_queries, tcp_queries;
};

/* A reply to q: "slow.example" gets none; "big.example" gets 100 A records
 * (TC over UDP); anything else A 1.2.3.4. */
static size_t upstream_reply(const uint8_t *q, size_t qlen, bool tcp, uint8_t *out)
{
	struct dns_name n;
	size_t pos = DNS_HEADER_LEN, len;
	char text[1100];
	int count;

	if (dns_read_name(q, qlen, &pos, &n) < 0)
		return 0;
	dns_name_to_text(&n, text, sizeof(text));
	if (!strcmp(text, "slow.example."))
		return 0;
	memcpy(out, q, pos + 4);
	len = pos + 4;
	out[2] |= 0x80;
	out[3] = 0x80;
	out[10] = out[11] = 0;
	count = !strcmp(text, "big.example.") ? 100 : 1;
	if (count == 100 && !tcp) {
		out[2] |= 2; /* TC, no answers */
		out[6] = out[7] = 0;
		return len;
	}
	out[6] = (uint8_t)(count >> 8), out[7] = (uint8_t)count;
	for (int i = 0; i < count; i++) {
		const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 1, 2, 3, (uint8_t)(4 + i) };
		memcpy(out + len, rr, sizeof(rr));
		len += sizeof(rr);
	}
	return len;
}

static void *upstream_main(void *arg)
{
	struct upstream *u = arg;
	struct pollfd fds[3] = { { .fd = u->stop[0], .events = POLLIN }, { .fd = u->ufd, .events = POLLIN },
				 { .fd = u->tfd, .events = POLLIN } };
	uint8_t q[4096], out[4096];

	for (;;) {
		if (poll(fds, 3, -1) < 0)
			continue;
		if (fds[0].revents)
			break;
		if (fds[1].revents & POLLIN) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(u->ufd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
			size_t rl;
			if (n >= DNS_HEADER_LEN) {
				u->ids[u->udp_queries++ % 16] = (uint16_t)(q[0] << 8 | q[1]);
				rl = upstream_reply(q, (size_t)n, false, out);
				if (rl)
					sendto(u->ufd, out, rl, 0, (struct sockaddr *)&from, fl);
			}
		}
		if (fds[2].revents & POLLIN) {
			int c = accept(u->tfd, NULL, NULL);
			struct timeval tv = { .tv_sec = 2 };
			ssize_t n;
			if (c < 0)
				continue;
			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			n = tcp_read_msg(c, q, sizeof(q));
			if (n >= DNS_HEADER_LEN) {
				size_t rl = upstream_reply(q, (size_t)n, true, out + 2);
				u->tcp_queries++;
				out[0] = (uint8_t)(rl >> 8), out[1] = (uint8_t)rl;
				if (rl && write(c, out, rl + 2) < 0)
					u->tcp_queries += 1000;
			}
			close(c);
		}
	}
	return NULL;
}

static int upstream_start(struct upstream *u, uint32_t ip)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53), .sin_addr.s_addr = htonl(ip) };
	int one = 1;

	memset(u, 0, sizeof(*u));
	u->ufd = socket(AF_INET, SOCK_DGRAM, 0);
	u->tfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(u->tfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(u->ufd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || bind(u->tfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(u->tfd, 16) < 0) {
		close(u->ufd);
		close(u->tfd);
		return -1;
	}
	if (pipe(u->stop) < 0)
		abort();
	pthread_create(&u->th, NULL, upstream_main, u);
	return 0;
}

static void upstream_stop(struct upstream *u)
{
	if (write(u->stop[1], "x", 1) != 1)
		abort();
	pthread_join(u->th, NULL);
	close(u->ufd);
	close(u->tfd);
	close(u->stop[0]);
	close(u->stop[1]);
}

/* ---- the server under test ------------------------------------------------------------------- */

static struct dns_db db;
static struct dns_server *srv, *fsrv;
static uint16_t port, fport;
static char resolv_empty[64], resolv_up[64];
static int closed;

static void fill_db(void)
{
	struct strbuf big;
	json_t *svc, *eps;
	json_error_t e;

	dns_db_init(&db, "cluster.local");
	svc = json_loads("{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.20\"}}",
			 0, &e);
	dns_db_put(&db, dns_service_from_json(svc, NULL));
	json_decref(svc);
	strbuf_init(&big, 4096);
	strbuf_adds(&big, "{\"subsets\":[{\"addresses\":[");
	for (int i = 0; i < 60; i++)
		strbuf_addf(&big, "%s{\"ip\":\"10.244.9.%d\"}", i ? "," : "", i + 1);
	strbuf_adds(&big, "]}]}");
	svc = json_loads("{\"metadata\":{\"name\":\"big\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"None\"}}", 0,
			 &e);
	eps = json_loads(big.buf, 0, &e);
	dns_db_put(&db, dns_service_from_json(svc, eps));
	json_decref(svc);
	json_decref(eps);
	strbuf_release(&big);
}

static void do_start(void *arg)
{
	struct dns_server_config c1 = { .resolv_conf = resolv_empty }, c2 = { .resolv_conf = resolv_up,
									      .forward_timeout_ms = 300 };

	(void)arg;
	srv = dns_server_new(&loop, &db, &c1);
	CHECK_INT(dns_server_listen(srv, LO, 0), 0);
	port = dns_server_port(srv);
	fsrv = dns_server_new(&loop, &db, &c2);
	CHECK_INT(dns_server_listen(fsrv, LO, 0), 0);
	fport = dns_server_port(fsrv);
}

static struct strbuf metrics;

static void do_metrics(void *arg)
{
	(void)arg;
	strbuf_reset(&metrics);
	dns_server_metrics(srv, &metrics);
}

static void on_closed(void *arg)
{
	(void)arg;
	if (++closed == 2)
		uv_close((uv_handle_t *)&wake, NULL);
}

static void do_close(void *arg)
{
	(void)arg;
	dns_server_close(srv, on_closed, NULL);
	dns_server_close(fsrv, on_closed, NULL);
}

/* ---- tests -------------------------------------------------------------------------------------- */

static void test_cluster_answers(void)
{
	struct reply r;

	CHECK_INT(ask_udp(port, 77, "web.default.svc.cluster.local", DNS_TYPE_A, &r), 0);
	CHECK_INT(r.id, 77);
	CHECK_INT(r.rcode, DNS_NOERROR);
	CHECK_INT(r.an, 1);
	CHECK(!memcmp(r.first_a, (uint8_t[]){ 10, 96, 0, 20 }, 4));
	CHECK_INT(ask_udp(port, 78, "nope.default.svc.cluster.local", DNS_TYPE_A, &r), 0);
	CHECK_INT(r.rcode, DNS_NXDOMAIN);
	CHECK_INT(ask_udp(port, 79, "big.default.svc.cluster.local", DNS_TYPE_A, &r), 0);
	CHECK(r.tc);
	CHECK(r.an < 60);
	CHECK_INT(ask_tcp(port, 80, "big.default.svc.cluster.local", DNS_TYPE_A, &r), 0);
	CHECK(!r.tc);
	CHECK_INT(r.an, 60);
	/* no upstreams: SERVFAIL at once */
	CHECK_INT(ask_udp(port, 81, "example.com", DNS_TYPE_A, &r), 0);
	CHECK_INT(r.rcode, DNS_SERVFAIL);
	CHECK_INT(r.id, 81);
}

static void test_tcp_pipelined(void)
{
	uint8_t q[1024], a[4096];
	size_t l1, l2;
	int fd = tcp_to(LO, port);
	struct reply r1, r2;
	ssize_t n;

	l1 = query(q + 2, 1, "web.default.svc.cluster.local", DNS_TYPE_A);
	q[0] = 0, q[1] = (uint8_t)l1;
	l2 = query(q + 4 + l1, 2, "nope.default.svc.cluster.local", DNS_TYPE_A);
	q[2 + l1] = 0, q[3 + l1] = (uint8_t)l2;
	CHECK(fd >= 0);
	/* in two writes that split a message, to test reassembly */
	send(fd, q, 5, 0);
	usleep(20000);
	send(fd, q + 5, l1 + l2 + 4 - 5, 0);
	n = tcp_read_msg(fd, a, sizeof(a));
	CHECK(n > 0 && parse(a, (size_t)n, &r1) == 0);
	n = tcp_read_msg(fd, a, sizeof(a));
	CHECK(n > 0 && parse(a, (size_t)n, &r2) == 0);
	CHECK_INT(r1.id, 1);
	CHECK_INT(r1.rcode, DNS_NOERROR);
	CHECK_INT(r2.id, 2);
	CHECK_INT(r2.rcode, DNS_NXDOMAIN);
	/* a zero length is not DNS: the server hangs up */
	send(fd, "\0\0", 2, 0);
	CHECK(recv(fd, a, 1, 0) <= 0);
	close(fd);
}

static void test_malformed(void)
{
	uint8_t bad[] = { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 'a' };
	uint8_t a[512];
	struct reply r;
	int fd = udp_to(LO, port);
	ssize_t n;

	send(fd, bad, sizeof(bad), 0);
	n = recv(fd, a, sizeof(a), 0);
	CHECK(n >= DNS_HEADER_LEN);
	CHECK_INT(n >= DNS_HEADER_LEN ? parse(a, (size_t)n, &r) : -1, 0);
	CHECK_INT(r.rcode, DNS_FORMERR);
	CHECK_INT(r.id, 0x1234);
	/* garbage shorter than a header: nothing comes back, the server lives on */
	send(fd, "xy", 2, 0);
	close(fd);
	CHECK_INT(ask_udp(port, 5, "web.default.svc.cluster.local", DNS_TYPE_A, &r), 0);
	CHECK_INT(r.rcode, DNS_NOERROR);
}

static void test_forwarding(struct upstream *u)
{
	struct reply r;
	uint64_t t0;

	/* the first upstream (127.0.0.154) is silent: the second answers after the timeout */
	t0 = now_ms();
	CHECK_INT(ask_udp(fport, 4242, "example.com", DNS_TYPE_A, &r), 0);
	CHECK(now_ms() - t0 >= 250);
	CHECK_INT(r.id, 4242);
	CHECK_INT(r.rcode, DNS_NOERROR);
	CHECK_INT(r.an, 1);
	CHECK(!memcmp(r.first_a, (uint8_t[]){ 1, 2, 3, 4 }, 4));
	CHECK_INT(u->udp_queries, 1);
	/* the upstream sees IDs of ours, not the client's: three tries cannot
	 * all draw 4242 (one chance in 2^48) */
	CHECK_INT(ask_udp(fport, 4242, "a.example.com", DNS_TYPE_A, &r), 0);
	CHECK_INT(ask_udp(fport, 4242, "b.example.com", DNS_TYPE_A, &r), 0);
	CHECK_INT(r.id, 4242);
	CHECK_INT(u->udp_queries, 3);
	CHECK(u->ids[0] != 4242 || u->ids[1] != 4242 || u->ids[2] != 4242);
	/* over TCP: a truncated upstream answer is asked again over TCP */
	CHECK_INT(ask_tcp(fport, 99, "big.example", DNS_TYPE_A, &r), 0);
	CHECK_INT(r.id, 99);
	CHECK(!r.tc);
	CHECK_INT(r.an, 100);
	CHECK_INT(u->tcp_queries, 1);
	/* over UDP the TC answer goes to the client as it is */
	CHECK_INT(ask_udp(fport, 100, "big.example", DNS_TYPE_A, &r), 0);
	CHECK(r.tc);
	/* nobody answers: SERVFAIL after both timeouts */
	t0 = now_ms();
	CHECK_INT(ask_udp(fport, 101, "slow.example", DNS_TYPE_A, &r), 0);
	CHECK_INT(r.rcode, DNS_SERVFAIL);
	CHECK_INT(r.id, 101);
	CHECK(now_ms() - t0 >= 550);
}

int main(void)
{
	struct upstream u;
	bool have_upstream;
	FILE *f;

	snprintf(resolv_empty, sizeof(resolv_empty), "/tmp/test-dnsserver-%d-empty", (int)getpid());
	snprintf(resolv_up, sizeof(resolv_up), "/tmp/test-dnsserver-%d-up", (int)getpid());
	f = fopen(resolv_empty, "w");
	fputs("# nothing\n", f);
	fclose(f);
	f = fopen(resolv_up, "w");
	fputs("nameserver 127.0.0.154\nnameserver 127.0.0.153\n", f);
	fclose(f);
	have_upstream = upstream_start(&u, 0x7f000099) == 0;
	strbuf_init(&metrics, 0);
	fill_db();
	uv_loop_init(&loop);
	uv_async_init(&loop, &wake, on_wake);
	pthread_create(&loop_thread, NULL, run_loop, NULL);
	on_loop(do_start, NULL);

	test_cluster_answers();
	test_tcp_pipelined();
	test_malformed();
	if (have_upstream)
		test_forwarding(&u);
	else
		fprintf(stderr, "forwarding not tested: cannot bind 127.0.0.153:53 (needs root)\n");
	on_loop(do_metrics, NULL);
	CHECK(strstr(metrics.buf, "minik8s_dns_queries_total{protocol=\"tcp\"} 3\n") != NULL);
	CHECK(strstr(metrics.buf, "minik8s_dns_responses_total{rcode=\"FORMERR\"} 1\n") != NULL);
	CHECK(strstr(metrics.buf, "minik8s_dns_forward_failures_total 1\n") != NULL);

	on_loop(do_close, NULL);
	pthread_join(loop_thread, NULL);
	CHECK_INT(closed, 2);
	CHECK_INT(uv_loop_close(&loop), 0);
	if (have_upstream)
		upstream_stop(&u);
	dns_db_release(&db);
	strbuf_release(&metrics);
	unlink(resolv_empty);
	unlink(resolv_up);
	return test_done();
}
