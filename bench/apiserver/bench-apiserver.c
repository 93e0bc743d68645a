/*
 * bench-apiserver: the load client behind bench/apiserver/run.sh. It drives a
 * running minik8s apiserver (HTTPS, bearer token) and optionally an etcd JSON
 * gateway (plain HTTP) with N keep-alive HTTP/1.1 connections from one epoll
 * loop, and prints one table: throughput, p50/p99 latency and ratios against
 * /healthz on the same server and against etcd doing the same work.
 *
 * The client is a small HTTP/1.1 engine over non-blocking sockets and
 * OpenSSL, so that a measured request costs the client a parse and a memcpy
 * and nothing else: on a 2-core machine every cycle the client burns is taken
 * from the server. Any failed request, unexpected status or stalled stream
 * makes it exit 1; slowness never does.
 */
#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A request that has had no answer for this long means the server is stuck. */
#define STALL_NS (30ull * 1000000000ull)
#define READ_CHUNK 65536
#define MAX_HEAD 65536

struct bench;

/* One server to talk to: where, whether over TLS, and the headers every
 * request carries (Host, and Authorization for minik8s). */
struct target {
	const char *label;
	struct sockaddr_in addr;
	SSL_CTX *tls; /* NULL: plain HTTP */
	char *ip;
	char *headers; /* "Host: ...\r\n..." */
	long pid;      /* the server process, for its CPU time; 0 if unknown */
};

/* The response being read on a connection. */
struct response {
	int status;
	bool head_done;
	bool chunked;
	bool close;
	long long clen;   /* Content-Length, or -1 */
	int chunk_state;  /* 0: size line, 1: data, 2: CRLF after data, 3: trailers */
	size_t chunk_left;
	bool done;
	struct strbuf body;
};

struct phase;

enum conn_state { CONN_CONNECTING, CONN_HANDSHAKE, CONN_READY, CONN_DEAD };

struct conn {
	struct bench *b;
	struct target *t;
	int fd;
	SSL *ssl;
	enum conn_state state;
	uint32_t interest; /* epoll events registered */
	bool ssl_wants_write;
	struct strbuf out;
	size_t out_off;
	struct strbuf in;
	struct response r;
	bool busy;
	struct phase *ph;  /* request/response work, or NULL */
	long req;          /* index of the request in flight */
	uint64_t sent_ns;
	bool stream;       /* a watch: complete lines go to watch_on_line() */
	int watcher;       /* index among the watchers */
};

/*
 * A timed run of `count` requests spread over a pool of connections, each
 * connection sending its next request as soon as the previous one answered.
 * build() writes request i; check() judges its response (0 or -1).
 */
struct phase {
	const char *label;
	long count;
	void (*build)(struct bench *b, struct target *t, long i, struct strbuf *out);
	int (*check)(struct bench *b, long i, const struct response *r);
	long next;
	long done;
	uint64_t *lat;
	uint64_t start_ns, end_ns;
};

struct result {
	char label[64];
	long count;
	double ops;
	double p50_ms, p99_ms;
	double server_cpu, client_cpu; /* share of one core over the phase; < 0 unknown */
	bool present;
};

/* Wall clock and CPU seconds of the server and of this client at one moment. */
struct cpu_mark {
	uint64_t wall_ns;
	double server_s;
	double client_s;
};

enum {
	R_HEALTHZ,
	R_CREATE,
	R_GET,
	R_LIST,
	R_WATCH,
	R_ETCD_PUT,
	R_ETCD_RANGE,
	R_ETCD_LIST,
	R_MAX
};

struct bench {
	int ep;
	bool failed;
	uint64_t progress_ns;

	/* configuration */
	int connections;
	long healthz, creates, gets, lists, list_size;
	int watchers, watch_writers;
	long watch_events;
	size_t payload_len;
	long server_pid, etcd_pid;
	bool etcd_serializable;

	struct target k8s;
	struct target etcd;
	bool have_etcd;

	/* derived */
	long nns;           /* namespaces bench-0..nns-1, list_size objects each */
	char *payload;
	char *watch_rv;     /* resourceVersion to watch bench-watch from */
	char *template_b64; /* a stored ConfigMap as etcd's value, base64 */
	char tls_version[64];

	/* watch fan-out */
	uint64_t *sent_ns;  /* [watch_events] when the create was sent */
	uint64_t *ack_ns;   /* [watch_events] when the create was acknowledged */
	uint64_t *recv_ns;  /* [watchers * watch_events] when a watcher got it */
	long *got;          /* [watchers] events received */
	long events_total;
	double ack_p50_ms, ack_p99_ms; /* receipt minus the create's ack */
	long heads_ok;
	uint64_t last_event_ns;

	struct result res[R_MAX];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void bench_fail(struct bench *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void bench_fail(struct bench *b, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	if (b->failed)
		return; /* the first failure is the one that explains */
	b->failed = true;
	strbuf_init(&sb, 128);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	error("%s", sb.buf);
	strbuf_release(&sb);
}

static const char *ssl_error_text(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (!e)
		return errno ? strerror(errno) : "connection closed";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* --- base64 and small helpers ------------------------------------------------ */

static char *b64(const void *data, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* splitmix64: spreads request numbers over the stored objects for gets. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* utime + stime of a process in seconds, or -1. */
static double proc_cpu_s(long pid)
{
	char path[64], buf[1024];
	unsigned long long utime, stime;
	const char *p;
	size_t n;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: count fields from its closing ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void cpu_mark(struct cpu_mark *m, long pid)
{
	struct timespec ts;

	m->wall_ns = now_ns();
	m->server_s = proc_cpu_s(pid);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	m->client_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void result_cpu(struct result *res, const struct cpu_mark *a, const struct cpu_mark *z)
{
	double wall = (double)(z->wall_ns - a->wall_ns) / 1e9;

	res->server_cpu = a->server_s >= 0 && z->server_s >= 0 && wall > 0 ? (z->server_s - a->server_s) / wall : -1;
	res->client_cpu = wall > 0 ? (z->client_s - a->client_s) / wall : -1;
}

static long objects_in_ns(const struct bench *b, long ns)
{
	return b->creates / b->nns + (ns < b->creates % b->nns ? 1 : 0);
}

/* --- connections ------------------------------------------------------------- */

static void conn_interest(struct conn *c)
{
	uint32_t want = EPOLLIN;
	struct epoll_event ev;

	if (c->state == CONN_CONNECTING || c->ssl_wants_write || c->out_off < c->out.len)
		want |= EPOLLOUT;
	if (want == c->interest)
		return;
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(c->b->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		bench_fail(c->b, "cannot watch a socket with epoll: %s", strerror(errno));
	c->interest = want;
}

static void response_reset(struct response *r)
{
	r->status = 0;
	r->head_done = r->chunked = r->close = r->done = false;
	r->clen = -1;
	r->chunk_state = 0;
	r->chunk_left = 0;
	strbuf_reset(&r->body);
}

static struct conn *conn_open(struct bench *b, struct target *t)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	struct epoll_event ev;
	int one = 1;

	c->b = b;
	c->t = t;
	c->watcher = -1;
	strbuf_init(&c->out, 512);
	strbuf_init(&c->in, READ_CHUNK);
	strbuf_init(&c->r.body, 1024);
	response_reset(&c->r);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		bench_fail(b, "cannot make a socket: %s", strerror(errno));
		c->state = CONN_DEAD;
		return c;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&t->addr, sizeof(t->addr)) < 0 && errno != EINPROGRESS) {
		bench_fail(b, "cannot connect to %s at '%s:%d': %s; is it running?", t->label, t->ip,
			   ntohs(t->addr.sin_port), strerror(errno));
		c->state = CONN_DEAD;
		return c;
	}
	c->state = CONN_CONNECTING;
	c->interest = EPOLLIN | EPOLLOUT;
	ev.events = c->interest;
	ev.data.ptr = c;
	if (epoll_ctl(b->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		bench_fail(b, "cannot watch a socket with epoll: %s", strerror(errno));
	return c;
}

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0) {
		epoll_ctl(c->b->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	if (c->ssl)
		SSL_free(c->ssl);
	strbuf_release(&c->out);
	strbuf_release(&c->in);
	strbuf_release(&c->r.body);
	free(c);
}

/* Marks a connection gone; its fd stays until conn_free so epoll stays sane. */
static void conn_dead(struct conn *c)
{
	if (c->state == CONN_DEAD)
		return;
	c->state = CONN_DEAD;
	epoll_ctl(c->b->ep, EPOLL_CTL_DEL, c->fd, NULL);
}

static int conn_flush(struct conn *c)
{
	c->ssl_wants_write = false;
	while (c->out_off < c->out.len) {
		size_t left = c->out.len - c->out_off;
		ssize_t n;

		if (c->ssl) {
			int rc = SSL_write(c->ssl, c->out.buf + c->out_off, (int)left);
			if (rc <= 0) {
				int e = SSL_get_error(c->ssl, rc);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					c->ssl_wants_write = e == SSL_ERROR_WANT_WRITE;
					return 0;
				}
				bench_fail(c->b, "cannot send to %s: %s", c->t->label, ssl_error_text());
				return -1;
			}
			n = rc;
		} else {
			n = write(c->fd, c->out.buf + c->out_off, left);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return 0;
				bench_fail(c->b, "cannot send to %s: %s", c->t->label, strerror(errno));
				return -1;
			}
		}
		c->out_off += (size_t)n;
	}
	strbuf_reset(&c->out);
	c->out_off = 0;
	return 0;
}

static void phase_on_response(struct conn *c);
static void watch_on_line(struct conn *c, char *line, size_t len);

/* Hands complete lines of a watch stream to watch_on_line(). */
static void stream_lines(struct conn *c)
{
	struct strbuf *body = &c->r.body;
	size_t start = 0;
	char *nl;

	while (!c->b->failed && (nl = memchr(body->buf + start, '\n', body->len - start))) {
		size_t len = (size_t)(nl - (body->buf + start));
		*nl = '\0';
		if (len)
			watch_on_line(c, body->buf + start, len);
		start += len + 1;
	}
	if (start) {
		memmove(body->buf, body->buf + start, body->len - start);
		body->len -= start;
		body->buf[body->len] = '\0';
	}
}

static int parse_head(struct conn *c, const char *head, size_t len)
{
	struct response *r = &c->r;
	const char *p = head, *end = head + len;

	if (!head || len < 12 || strncmp(head, "HTTP/1.", 7)) {
		bench_fail(c->b, "%s answered something that is not HTTP/1.x: '%.40s'", c->t->label, head);
		return -1;
	}
	r->status = atoi(head + 9);
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			eol = end;
		if (!strncasecmp(p, "Content-Length:", 15))
			r->clen = strtoll(p + 15, NULL, 10);
		else if (!strncasecmp(p, "Transfer-Encoding:", 18) && memmem(p, (size_t)(eol - p), "chunked", 7))
			r->chunked = true;
		else if (!strncasecmp(p, "Connection:", 11) && memmem(p, (size_t)(eol - p), "close", 5))
			r->close = true;
		p = eol + 2;
	}
	r->head_done = true;
	if (!r->chunked && r->clen < 0) {
		if (r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200)) {
			r->clen = 0;
		} else {
			bench_fail(c->b, "%s sent a response with neither Content-Length nor chunked encoding",
				   c->t->label);
			return -1;
		}
	}
	if (c->stream) {
		if (r->status != 200 || !r->chunked) {
			bench_fail(c->b, "watch %d on %s got status %d (chunked=%d), want a 200 chunked stream",
				   c->watcher, c->t->label, r->status, r->chunked);
			return -1;
		}
		c->b->heads_ok++;
	}
	return 0;
}

/* Decodes chunked data from in[*off..]. Returns 0 (maybe incomplete) or -1. */
static int parse_chunks(struct conn *c, size_t *off)
{
	struct response *r = &c->r;
	struct strbuf *in = &c->in;

	while (*off < in->len && !r->done) {
		const char *p = in->buf + *off;
		size_t avail = in->len - *off;
		const char *eol;

		switch (r->chunk_state) {
		case 0:
			eol = memmem(p, avail, "\r\n", 2);
			if (!eol)
				return avail > 128 ? (bench_fail(c->b, "bad chunk size line from %s", c->t->label), -1) : 0;
			r->chunk_left = strtoul(p, NULL, 16);
			*off += (size_t)(eol - p) + 2;
			r->chunk_state = r->chunk_left ? 1 : 3;
			break;
		case 1: {
			size_t n = avail < r->chunk_left ? avail : r->chunk_left;
			strbuf_add(&r->body, p, n);
			*off += n;
			r->chunk_left -= n;
			if (!r->chunk_left)
				r->chunk_state = 2;
			if (c->stream)
				stream_lines(c);
			break;
		}
		case 2:
			if (avail < 2)
				return 0;
			*off += 2;
			r->chunk_state = 0;
			break;
		case 3:
			eol = memmem(p, avail, "\r\n", 2);
			if (!eol)
				return 0;
			*off += (size_t)(eol - p) + 2;
			if (eol == p)
				r->done = true; /* the empty line after the last chunk */
			break;
		}
	}
	return 0;
}

/* Parses what arrived; calls the phase for each complete response. */
static int conn_parse(struct conn *c)
{
	struct response *r = &c->r;
	size_t off = 0;

	while (off < c->in.len && !c->b->failed && c->state != CONN_DEAD) {
		if (!r->head_done) {
			const char *end = memmem(c->in.buf + off, c->in.len - off, "\r\n\r\n", 4);
			if (!end) {
				if (c->in.len - off > MAX_HEAD) {
					bench_fail(c->b, "response headers from %s are too long", c->t->label);
					return -1;
				}
				break;
			}
			if (parse_head(c, c->in.buf + off, (size_t)(end - (c->in.buf + off))) < 0)
				return -1;
			off = (size_t)(end - c->in.buf) + 4;
		}
		if (r->chunked) {
			if (parse_chunks(c, &off) < 0)
				return -1;
		} else {
			size_t need = (size_t)r->clen - r->body.len;
			size_t n = c->in.len - off < need ? c->in.len - off : need;
			strbuf_add(&r->body, c->in.buf + off, n);
			off += n;
			if (r->body.len == (size_t)r->clen)
				r->done = true;
		}
		if (!r->done)
			break;
		if (c->stream) {
			bench_fail(c->b, "watch %d on %s ended early after %ld events", c->watcher, c->t->label,
				   c->b->got[c->watcher]);
			return -1;
		}
		if (!c->busy) {
			bench_fail(c->b, "%s sent a response nobody asked for", c->t->label);
			return -1;
		}
		phase_on_response(c); /* may send the next request and reset r */
	}
	if (off) {
		memmove(c->in.buf, c->in.buf + off, c->in.len - off);
		c->in.len -= off;
		c->in.buf[c->in.len] = '\0';
	}
	return 0;
}

static int conn_read(struct conn *c)
{
	for (;;) {
		ssize_t n;

		strbuf_grow(&c->in, READ_CHUNK);
		if (c->ssl) {
			int rc = SSL_read(c->ssl, c->in.buf + c->in.len, READ_CHUNK);
			if (rc <= 0) {
				int e = SSL_get_error(c->ssl, rc);
				if (e == SSL_ERROR_WANT_READ)
					return 0;
				if (e == SSL_ERROR_WANT_WRITE) {
					c->ssl_wants_write = true;
					return 0;
				}
				n = e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
				if (n < 0 && e != SSL_ERROR_SYSCALL) {
					bench_fail(c->b, "cannot read from %s: %s", c->t->label, ssl_error_text());
					return -1;
				}
			} else {
				n = rc;
			}
		} else {
			n = read(c->fd, c->in.buf + c->in.len, READ_CHUNK);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
		}
		if (n <= 0) {
			/* An idle keep-alive connection may be closed by the server;
			 * one with a request or a watch in flight may not. */
			if (c->busy || c->stream) {
				bench_fail(c->b, "%s closed a connection with a request in flight%s%s", c->t->label,
					   n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
				return -1;
			}
			conn_dead(c);
			return 0;
		}
		c->in.len += (size_t)n;
		c->in.buf[c->in.len] = '\0';
		if (conn_parse(c) < 0)
			return -1;
		if (c->state == CONN_DEAD)
			return 0;
	}
}

static void conn_connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		bench_fail(c->b, "cannot connect to %s at '%s:%d': %s; is it running?", c->t->label, c->t->ip,
			   ntohs(c->t->addr.sin_port), strerror(err ? err : errno));
		conn_dead(c);
		return;
	}
	if (!c->t->tls) {
		c->state = CONN_READY;
		return;
	}
	c->ssl = SSL_new(c->t->tls);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_connect_state(c->ssl);
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* The serving certificate has 127.0.0.1 among its SANs: check it. */
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->t->ip);
	c->state = CONN_HANDSHAKE;
}

static void conn_handshake(struct conn *c)
{
	int rc = SSL_do_handshake(c->ssl);

	if (rc == 1) {
		c->state = CONN_READY;
		c->ssl_wants_write = false;
		if (!c->b->tls_version[0])
			snprintf(c->b->tls_version, sizeof(c->b->tls_version), "%s %s", SSL_get_version(c->ssl),
				 SSL_get_cipher_name(c->ssl));
		return;
	}
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		c->ssl_wants_write = false;
		return;
	case SSL_ERROR_WANT_WRITE:
		c->ssl_wants_write = true;
		return;
	default:
		bench_fail(c->b, "tls handshake with %s failed: %s (verify result: %s)", c->t->label,
			   ssl_error_text(), X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
		conn_dead(c);
	}
}

static void conn_io(struct conn *c, uint32_t events)
{
	if (c->state == CONN_DEAD)
		return;
	if (c->state == CONN_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		conn_connected(c);
	}
	if (c->state == CONN_HANDSHAKE)
		conn_handshake(c);
	if (c->state == CONN_READY) {
		if (conn_flush(c) < 0 || conn_read(c) < 0) {
			conn_dead(c);
			return;
		}
	}
	if (c->state != CONN_DEAD)
		conn_interest(c);
}

/* One round of the event loop. Returns -1 once anything failed. */
static int bench_poll(struct bench *b, int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(b->ep, evs, (int)ARRAY_SIZE(evs), timeout_ms);

	if (n < 0 && errno != EINTR) {
		bench_fail(b, "epoll_wait failed: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++)
		conn_io(evs[i].data.ptr, evs[i].events);
	return b->failed ? -1 : 0;
}

/* Opens n connections to t and waits until each finished its handshake. */
static struct conn **pool_open(struct bench *b, struct target *t, int n)
{
	struct conn **pool = xcalloc((size_t)n, sizeof(*pool));
	uint64_t deadline = now_ns() + STALL_NS;

	for (int i = 0; i < n; i++)
		pool[i] = conn_open(b, t);
	for (;;) {
		int ready = 0;
		for (int i = 0; i < n; i++)
			ready += pool[i]->state == CONN_READY;
		if (ready == n || b->failed)
			break;
		if (now_ns() > deadline) {
			bench_fail(b, "only %d of %d connections to %s were ready after 30 s", ready, n, t->label);
			break;
		}
		bench_poll(b, 100);
	}
	return pool;
}

static void pool_close(struct conn **pool, int n)
{
	if (!pool)
		return;
	for (int i = 0; i < n; i++)
		conn_free(pool[i]);
	free(pool);
}

/* --- timed phases ------------------------------------------------------------ */

static void phase_issue(struct conn *c)
{
	struct phase *ph = c->ph;

	if (ph->next >= ph->count) {
		c->busy = false;
		return;
	}
	c->req = ph->next++;
	c->busy = true;
	response_reset(&c->r);
	strbuf_reset(&c->out);
	c->out_off = 0;
	ph->build(c->b, c->t, c->req, &c->out);
	c->sent_ns = now_ns();
	if (conn_flush(c) < 0)
		conn_dead(c);
}

static void phase_on_response(struct conn *c)
{
	struct phase *ph = c->ph;
	uint64_t t = now_ns();
	bool close_after = c->r.close;

	ph->lat[c->req] = t - c->sent_ns;
	if (ph->check(c->b, c->req, &c->r) < 0) {
		c->busy = false;
		return;
	}
	ph->done++;
	c->b->progress_ns = t;
	c->busy = false;
	response_reset(&c->r);
	if (close_after) {
		conn_dead(c);
		return;
	}
	phase_issue(c);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Fills a result row from latencies (sorted here) and a throughput. */
static void result_set(struct result *res, const char *label, long count, double seconds, uint64_t *lat, size_t nlat)
{
	snprintf(res->label, sizeof(res->label), "%s", label);
	res->count = count;
	res->ops = seconds > 0 ? (double)count / seconds : 0;
	if (nlat) {
		qsort(lat, nlat, sizeof(*lat), cmp_u64);
		res->p50_ms = (double)lat[(size_t)((double)(nlat - 1) * 0.50)] / 1e6;
		res->p99_ms = (double)lat[(size_t)((double)(nlat - 1) * 0.99)] / 1e6;
	}
	res->present = true;
}

/*
 * Runs a phase on a fresh pool of nconns connections. Connection setup and
 * TLS handshakes happen before the clock starts. A request unanswered for
 * 30 s fails the run (the server is stuck, not slow).
 */
static int phase_run(struct bench *b, struct phase *ph, struct target *t, int nconns, struct result *res)
{
	struct conn **pool = pool_open(b, t, nconns);
	struct cpu_mark m0, m1;
	int rc = -1;

	ph->next = ph->done = 0;
	ph->lat = xcalloc((size_t)(ph->count ? ph->count : 1), sizeof(*ph->lat));
	if (b->failed)
		goto out;
	cpu_mark(&m0, t->pid);
	ph->start_ns = b->progress_ns = m0.wall_ns;
	for (int i = 0; i < nconns; i++) {
		pool[i]->ph = ph;
		phase_issue(pool[i]);
		conn_interest(pool[i]);
	}
	while (ph->done < ph->count) {
		int alive = 0;
		if (bench_poll(b, 1000) < 0)
			goto out;
		for (int i = 0; i < nconns; i++)
			alive += pool[i]->state != CONN_DEAD;
		if (!alive) {
			bench_fail(b, "%s: every connection to %s was closed with %ld requests left", ph->label,
				   t->label, ph->count - ph->done);
			goto out;
		}
		if (now_ns() - b->progress_ns > STALL_NS) {
			bench_fail(b, "%s: no answer from %s for 30 s (%ld of %ld done); the server is stuck",
				   ph->label, t->label, ph->done, ph->count);
			goto out;
		}
	}
	cpu_mark(&m1, t->pid);
	ph->end_ns = m1.wall_ns;
	if (res) {
		result_set(res, ph->label, ph->count, (double)(ph->end_ns - ph->start_ns) / 1e9, ph->lat,
			   (size_t)ph->count);
		result_cpu(res, &m0, &m1);
	}
	rc = 0;
out:
	pool_close(pool, nconns);
	free(ph->lat);
	ph->lat = NULL;
	return rc;
}

/* --- minik8s requests ---------------------------------------------------------- */

static void add_request(struct strbuf *out, struct target *t, const char *method, const char *path,
			const char *body, size_t len)
{
	strbuf_addf(out, "%s %s HTTP/1.1\r\n%sAccept: application/json\r\n", method, path, t->headers);
	if (body)
		strbuf_addf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", len);
	else
		strbuf_adds(out, "\r\n");
	if (body)
		strbuf_add(out, body, len);
}

static int want_status(struct bench *b, const char *what, long i, const struct response *r, int status)
{
	if (r->status == status)
		return 0;
	bench_fail(b, "%s #%ld: got HTTP %d, want %d: %.300s", what, i, r->status, status, r->body.buf);
	return -1;
}

static void build_healthz(struct bench *b, struct target *t, long i, struct strbuf *out)
{
	add_request(out, t, "GET", "/healthz", NULL, 0);
}

static int check_healthz(struct bench *b, long i, const struct response *r)
{
	return want_status(b, "GET /healthz", i, r, 200);
}

static void build_namespace(struct bench *b, struct target *t, long i, struct strbuf *out)
{
	char body[160];
	int n;

	if (i < b->nns)
		n = snprintf(body, sizeof(body),
			     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"bench-%ld\"}}", i);
	else
		n = snprintf(body, sizeof(body),
			     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"bench-watch\"}}");
	add_request(out, t, "POST", "/api/v1/namespaces", body, (size_t)n);
}

static int check_namespace(struct bench *b, long i, const struct response *r)
{
	if (want_status(b, "create namespace", i, r, 201) < 0)
		return -1;
	if (i == b->nns) {
		json_t *o = json_loadb(r->body.buf, r->body.len, 0, NULL);
		json_t *rv = json_object_get(json_object_get(o, "metadata"), "resourceVersion");
		if (!json_is_string(rv)) {
			json_decref(o);
			bench_fail(b, "namespace 'bench-watch' came back without metadata.resourceVersion");
			return -1;
		}
		b->watch_rv = xstrdup(json_string_value(rv));
		json_decref(o);
	}
	return 0;
}

static void add_configmap(struct bench *b, struct target *t, const char *ns, const char *name, struct strbuf *out)
{
	char path[128];
	struct strbuf body;

	strbuf_init(&body, 256 + b->payload_len);
	strbuf_addf(&body,
		    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
		    "\"labels\":{\"app\":\"bench\"}},\"data\":{\"payload\":\"%s\"}}",
		    name, b->payload);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
	add_request(out, t, "POST", path, body.buf, body.len);
	strbuf_release(&body);
}

static void build_create(struct bench *b, struct target *t, long i, struct strbuf *out)
{
	char ns[32], name[32];

	snprintf(ns, sizeof(ns), "bench-%ld", i % b->nns);
	snprintf(name, sizeof(name), "cm-%06ld", i);
	add_configmap(b, t, ns, name, out);
}

static int check_create(struct bench *b, long i, const struct response *r)
{
	if (want_status(b, "create configmap", i, r, 201) < 0)
		return -1;
	/* The stored object, as the server returns it, is etcd's value: same size. */
	if (!b->template_b64)
		b->template_b64 = b64(r->body.buf, r->body.len);
	return 0;
}

static void build_get(struct bench *b, struct target *t, long i, struct strbuf *out)
{
	long j = (long)(mix((uint64_t)i) % (uint64_t)b->creates);
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/namespaces/bench-%ld/configmaps/cm-%06ld", j % b->nns, j);
	add_request(out, t, "GET", path, NULL, 0);
}

static int check_get(struct bench *b, long i, const struct response *r)
{
	return want_status(b, "get configmap", i, r, 200);
}

static void build_list(struct bench *b, struct target *t, long i, struct strbuf *out)
{
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/namespaces/bench-%ld/configmaps", i % b->nns);
	add_request(out, t, "GET", path, NULL, 0);
}

/* Counts the items of a list answer (minik8s: items[], etcd: kvs[]). The
 * first answer for each namespace is parsed in full; the rest only have
 * their status checked, to keep the client's CPU for the server. */
static int check_items(struct bench *b, const char *what, long i, const struct response *r, const char *field)
{
	json_t *o;
	size_t n;

	if (want_status(b, what, i, r, 200) < 0)
		return -1;
	if (i >= b->nns)
		return 0;
	o = json_loadb(r->body.buf, r->body.len, 0, NULL);
	n = json_array_size(json_object_get(o, field));
	json_decref(o);
	if ((long)n != objects_in_ns(b, i)) {
		bench_fail(b, "%s of namespace 'bench-%ld' returned %zu items, want %ld", what, i, n,
			   objects_in_ns(b, i));
		return -1;
	}
	return 0;
}

static int check_list(struct bench *b, long i, const struct response *r)
{
	return check_items(b, "list configmaps", i, r, "items");
}

/* --- watch fan-out --------------------------------------------------------------- */

static void build_watch_create(struct bench *b, struct target *t, long i, struct strbuf *out)
{
	char name[32];

	snprintf(name, sizeof(name), "w-%06ld", i);
	add_configmap(b, t, "bench-watch", name, out);
	b->sent_ns[i] = now_ns();
}

static int check_watch_create(struct bench *b, long i, const struct response *r)
{
	if (want_status(b, "create configmap for watchers", i, r, 201) < 0)
		return -1;
	b->ack_ns[i] = now_ns();
	return 0;
}

static void watch_on_line(struct conn *c, char *line, size_t len)
{
	struct bench *b = c->b;
	const char *p;
	long i;
	uint64_t *slot;

	if (str_has_prefix(line, "{\"type\":\"BOOKMARK\""))
		return;
	if (!str_has_prefix(line, "{\"type\":\"ADDED\"")) {
		bench_fail(b, "watch %d got an unexpected event: %.300s", c->watcher, line);
		return;
	}
	p = strstr(line, "\"name\":\"w-");
	if (!p) {
		bench_fail(b, "watch %d got an event without a bench object name: %.300s", c->watcher, line);
		return;
	}
	i = strtol(p + 10, NULL, 10);
	if (i < 0 || i >= b->watch_events) {
		bench_fail(b, "watch %d got an event for an unknown object: %.100s", c->watcher, p);
		return;
	}
	slot = &b->recv_ns[(size_t)c->watcher * (size_t)b->watch_events + (size_t)i];
	if (*slot) {
		bench_fail(b, "watch %d got object 'w-%06ld' twice", c->watcher, i);
		return;
	}
	*slot = b->last_event_ns = b->progress_ns = now_ns();
	b->got[c->watcher]++;
	b->events_total++;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Watch fan-out: `watchers` streams on bench-watch's configmaps, then a
 * writer with the usual connection count creates watch_events objects.
 * Throughput is every event delivered to every watcher over the time from
 * the first create to the last event. The table's latency runs from sending
 * the create to each watcher's receipt (write to notification, commit
 * included); a second line gives receipt minus the create's acknowledgement,
 * which can be negative: reply and events leave after the same commit, and
 * the client may read an event before the reply.
 */
static int watch_run(struct bench *b)
{
	size_t n = (size_t)b->watchers * (size_t)b->watch_events;
	struct conn **watch = pool_open(b, &b->k8s, b->watchers);
	struct phase ph = { "watch writer", b->watch_events, build_watch_create, check_watch_create, 0, 0, NULL, 0, 0 };
	uint64_t *lat = NULL, deadline;
	int64_t *after_ack = NULL;
	struct cpu_mark m0, m1;
	char path[160];
	size_t k = 0;
	int rc = -1;

	b->sent_ns = xcalloc((size_t)b->watch_events, sizeof(*b->sent_ns));
	b->ack_ns = xcalloc((size_t)b->watch_events, sizeof(*b->ack_ns));
	b->recv_ns = xcalloc(n, sizeof(*b->recv_ns));
	b->got = xcalloc((size_t)b->watchers, sizeof(*b->got));
	if (b->failed)
		goto out;
	snprintf(path, sizeof(path), "/api/v1/namespaces/bench-watch/configmaps?watch=1&resourceVersion=%s",
		 b->watch_rv);
	for (int w = 0; w < b->watchers; w++) {
		struct conn *c = watch[w];
		c->stream = true;
		c->watcher = w;
		add_request(&c->out, c->t, "GET", path, NULL, 0);
		if (conn_flush(c) < 0)
			goto out;
		conn_interest(c);
	}
	deadline = now_ns() + STALL_NS;
	while (b->heads_ok < b->watchers) {
		if (bench_poll(b, 100) < 0)
			goto out;
		if (now_ns() > deadline) {
			bench_fail(b, "only %ld of %d watches started within 30 s", b->heads_ok, b->watchers);
			goto out;
		}
	}

	cpu_mark(&m0, b->k8s.pid);
	if (phase_run(b, &ph, &b->k8s, b->watch_writers, NULL) < 0)
		goto out;
	while (b->events_total < (long)n) {
		if (bench_poll(b, 1000) < 0)
			goto out;
		if (now_ns() - b->progress_ns > STALL_NS) {
			long least = b->watch_events;
			for (int w = 0; w < b->watchers; w++)
				least = b->got[w] < least ? b->got[w] : least;
			bench_fail(b, "watchers stopped receiving: %ld of %zu events after 30 s (slowest watcher has %ld of %ld)",
				   b->events_total, n, least, b->watch_events);
			goto out;
		}
	}
	cpu_mark(&m1, b->k8s.pid);
	m1.wall_ns = b->last_event_ns;

	lat = xmalloc(n * sizeof(*lat));
	after_ack = xmalloc(n * sizeof(*after_ack));
	for (int w = 0; w < b->watchers; w++) {
		for (long i = 0; i < b->watch_events; i++) {
			uint64_t r = b->recv_ns[(size_t)w * (size_t)b->watch_events + (size_t)i];
			lat[k] = r - b->sent_ns[i];
			after_ack[k++] = (int64_t)r - (int64_t)b->ack_ns[i];
		}
	}
	qsort(after_ack, n, sizeof(*after_ack), cmp_i64);
	b->ack_p50_ms = (double)after_ack[(size_t)((double)(n - 1) * 0.50)] / 1e6;
	b->ack_p99_ms = (double)after_ack[(size_t)((double)(n - 1) * 0.99)] / 1e6;
	{
		char label[64];
		snprintf(label, sizeof(label), "watch events, %d watchers", b->watchers);
		result_set(&b->res[R_WATCH], label, (long)n, (double)(b->last_event_ns - ph.start_ns) / 1e9, lat, n);
		result_cpu(&b->res[R_WATCH], &m0, &m1);
		printf("  watch writer: %ld creates on %d connections in %.2f s while %d watchers streamed\n",
		       b->watch_events, b->watch_writers, (double)(ph.end_ns - ph.start_ns) / 1e9, b->watchers);
	}
	rc = 0;
out:
	pool_close(watch, b->watchers);
	free(lat);
	free(after_ack);
	free(b->sent_ns);
	free(b->ack_ns);
	free(b->recv_ns);
	free(b->got);
	b->sent_ns = b->ack_ns = b->recv_ns = NULL;
	b->got = NULL;
	return rc;
}

/* --- etcd requests ---------------------------------------------------------------- */

static void add_etcd(struct strbuf *out, struct target *t, const char *path, const char *body, size_t len)
{
	strbuf_addf(out, "POST %s HTTP/1.1\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", path,
		    t->headers, len);
	strbuf_add(out, body, len);
}

static void build_etcd_put(struct bench *b, struct target *t, long i, struct strbuf *out)
{
	char key[96];
	char *k;
	struct strbuf body;

	snprintf(key, sizeof(key), "/registry/configmaps/bench-%ld/cm-%06ld", i % b->nns, i);
	k = b64(key, strlen(key));
	strbuf_init(&body, strlen(b->template_b64) + 64);
	strbuf_addf(&body, "{\"key\":\"%s\",\"value\":\"%s\"}", k, b->template_b64);
	add_etcd(out, t, "/v3/kv/put", body.buf, body.len);
	strbuf_release(&body);
	free(k);
}

static int check_etcd_put(struct bench *b, long i, const struct response *r)
{
	if (want_status(b, "etcd put", i, r, 200) < 0)
		return -1;
	if (!strstr(r->body.buf, "\"revision\"")) {
		bench_fail(b, "etcd put #%ld: no revision in the answer: %.200s", i, r->body.buf);
		return -1;
	}
	return 0;
}

static void build_etcd_range(struct bench *b, struct target *t, long i, struct strbuf *out)
{
	long j = (long)(mix((uint64_t)i) % (uint64_t)b->creates);
	char key[96], body[192];
	char *k;
	int n;

	snprintf(key, sizeof(key), "/registry/configmaps/bench-%ld/cm-%06ld", j % b->nns, j);
	k = b64(key, strlen(key));
	n = snprintf(body, sizeof(body), "{\"key\":\"%s\"%s}", k,
		     b->etcd_serializable ? ",\"serializable\":true" : "");
	add_etcd(out, t, "/v3/kv/range", body, (size_t)n);
	free(k);
}

static int check_etcd_range(struct bench *b, long i, const struct response *r)
{
	if (want_status(b, "etcd range", i, r, 200) < 0)
		return -1;
	if (!strstr(r->body.buf, "\"kvs\"")) {
		bench_fail(b, "etcd range #%ld found no key: %.200s", i, r->body.buf);
		return -1;
	}
	return 0;
}

static void build_etcd_list(struct bench *b, struct target *t, long i, struct strbuf *out)
{
	char key[64], end[64], body[256];
	char *k, *e;
	int n;

	/* [prefix, prefix with its last byte + 1): every key under bench-N/. */
	snprintf(key, sizeof(key), "/registry/configmaps/bench-%ld/", i % b->nns);
	snprintf(end, sizeof(end), "/registry/configmaps/bench-%ld0", i % b->nns);
	k = b64(key, strlen(key));
	e = b64(end, strlen(end));
	n = snprintf(body, sizeof(body), "{\"key\":\"%s\",\"range_end\":\"%s\"%s}", k, e,
		     b->etcd_serializable ? ",\"serializable\":true" : "");
	add_etcd(out, t, "/v3/kv/range", body, (size_t)n);
	free(k);
	free(e);
}

static int check_etcd_list(struct bench *b, long i, const struct response *r)
{
	return check_items(b, "etcd prefix range", i, r, "kvs");
}

/* --- setup and report ---------------------------------------------------------------- */

static int target_init(struct target *t, const char *label, const char *url, const char *ca, const char *token)
{
	const char *hostport;
	const char *colon;
	char host[64];
	bool tls;

	memset(t, 0, sizeof(*t));
	t->label = label;
	if (str_has_prefix(url, "https://"))
		tls = true;
	else if (str_has_prefix(url, "http://"))
		tls = false;
	else
		return error("cannot use url '%s': it must start with http:// or https://", url);
	hostport = url + (tls ? 8 : 7);
	colon = strrchr(hostport, ':');
	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return error("cannot use url '%s': give it as scheme://IPv4:PORT", url);
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	t->addr.sin_family = AF_INET;
	t->addr.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &t->addr.sin_addr) != 1 || !t->addr.sin_port)
		return error("cannot use url '%s': give it as scheme://IPv4:PORT", url);
	t->ip = xstrdup(host);
	t->headers = token ? xasprintf("Host: %s:%d\r\nAuthorization: Bearer %s\r\n", host, ntohs(t->addr.sin_port), token)
			   : xasprintf("Host: %s:%d\r\n", host, ntohs(t->addr.sin_port));
	if (!tls)
		return 0;
	t->tls = SSL_CTX_new(TLS_client_method());
	if (!t->tls)
		return error("cannot make a tls context: %s", ssl_error_text());
	if (!ca || SSL_CTX_load_verify_locations(t->tls, ca, NULL) != 1)
		return error("cannot load the ca '%s': %s; pass the cluster's pki/ca.crt with --ca", ca ? ca : "(none)",
			     ssl_error_text());
	SSL_CTX_set_verify(t->tls, SSL_VERIFY_PEER, NULL);
	return 0;
}

static void target_release(struct target *t)
{
	if (t->tls)
		SSL_CTX_free(t->tls);
	free(t->ip);
	free(t->headers);
}

static char *read_token(const char *path)
{
	char *s = NULL;
	size_t len = 0;

	if (read_file(path, &s, &len) < 0) {
		error("cannot read the token file '%s'; pass the cluster's pki/admin.token with --token-file", path);
		return NULL;
	}
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		s[--len] = '\0';
	return s;
}

/* VmHWM (peak resident set) of a process in KiB, or -1. */
static long peak_rss_kib(long pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

static void print_ratio(double num, double den, int width)
{
	if (den > 0 && num > 0)
		printf(" %*.3fx", width - 1, num / den);
	else
		printf(" %*s", width, "-");
}

static void print_pct(double share)
{
	if (share >= 0)
		printf(" %7.0f%%", share * 100);
	else
		printf(" %8s", "-");
}

static void report(struct bench *b)
{
	static const int etcd_of[R_MAX] = { [R_CREATE] = R_ETCD_PUT, [R_GET] = R_ETCD_RANGE, [R_LIST] = R_ETCD_LIST };
	double healthz = b->res[R_HEALTHZ].ops;
	long rss;

	printf("\n%-27s %7s %10s %8s %8s %11s %9s %8s %8s\n", "op", "count", "ops/s", "p50 ms", "p99 ms",
	       "vs /healthz", "vs etcd", "srv cpu", "cli cpu");
	for (int i = 0; i < R_MAX; i++) {
		struct result *r = &b->res[i];
		if (!r->present)
			continue;
		printf("%-27s %7ld %10.1f %8.2f %8.2f", r->label, r->count, r->ops, r->p50_ms, r->p99_ms);
		print_ratio(i < R_ETCD_PUT ? r->ops : 0, healthz, 11);
		print_ratio(etcd_of[i] && b->res[etcd_of[i]].present ? r->ops : 0, b->res[etcd_of[i]].ops, 9);
		print_pct(r->server_cpu);
		print_pct(r->client_cpu);
		printf("\n");
	}
	if (b->res[R_WATCH].present)
		printf("\nwatch latency above: create sent -> event received by a watcher. Received minus the\n"
		       "create's ack: p50 %.3f ms, p99 %.3f ms (negative: the event came before the ack).\n",
		       b->ack_p50_ms, b->ack_p99_ms);
	printf("\n'vs /healthz': ops/s over GET /healthz ops/s on the same server, client and connections\n"
	       "(the HTTP + TLS floor). 'vs etcd': minik8s ops/s over etcd's for the same work\n"
	       "(create/put, get/range of one key, list/prefix range of %ld keys; etcd reads are %s).\n"
	       "'srv cpu', 'cli cpu': CPU time of the server (minik8s or etcd) and of this client over\n"
	       "the phase, in %% of one core (100%% = one core busy); a client near 100%% limits the rate.\n",
	       b->list_size, b->etcd_serializable ? "serializable" : "linearizable");
	if (!b->have_etcd)
		printf("etcd baseline: skipped (no --etcd given).\n");
	if (b->server_pid > 0) {
		rss = peak_rss_kib(b->server_pid);
		if (rss >= 0)
			printf("minik8s apiserver peak RSS (VmHWM): %.1f MiB\n", (double)rss / 1024.0);
		else
			printf("minik8s apiserver peak RSS: unknown (cannot read /proc/%ld/status)\n", b->server_pid);
	}
	if (b->etcd_pid > 0 && (rss = peak_rss_kib(b->etcd_pid)) >= 0)
		printf("etcd peak RSS (VmHWM), for reference: %.1f MiB\n", (double)rss / 1024.0);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-apiserver --server https://127.0.0.1:PORT --ca CA --token-file TOKEN [options]\n"
		"Load client for bench/apiserver/run.sh (which starts the servers; use that).\n"
		"  --server-pid PID       read the server's peak RSS from /proc at the end\n"
		"  --etcd http://IP:PORT  also run the etcd JSON gateway baseline\n"
		"  --etcd-pid PID         etcd's pid, for its CPU time and peak RSS\n"
		"  --etcd-serializable    etcd ranges without a quorum read (default: linearizable)\n"
		"  --connections N        keep-alive connections per phase (32)\n"
		"  --healthz N            GET /healthz requests (20000)\n"
		"  --creates N            ConfigMap creates, also etcd puts (10000)\n"
		"  --gets N               ConfigMap gets, also etcd ranges (20000)\n"
		"  --lists N              lists, also etcd prefix ranges (100)\n"
		"  --list-size N          objects per listed namespace (1000)\n"
		"  --watchers N           concurrent watch streams (100)\n"
		"  --watch-events N       objects created while they watch (1000)\n"
		"  --watch-writers N      connections creating them (as --connections)\n"
		"  --payload BYTES        size of each ConfigMap's data value (256)\n");
}

static long arg_long(const char *name, const char *v, long min)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*end || n < min)
		die("invalid --%s '%s': give a number >= %ld", name, v, min);
	return n;
}

static int run(struct bench *b)
{
	struct phase warm = { "warm-up", b->healthz / 10 + 1, build_healthz, check_healthz, 0, 0, NULL, 0, 0 };
	struct phase healthz = { "GET /healthz", b->healthz, build_healthz, check_healthz, 0, 0, NULL, 0, 0 };
	struct phase ns = { "create namespaces", b->nns + 1, build_namespace, check_namespace, 0, 0, NULL, 0, 0 };
	struct phase create = { "create ConfigMap", b->creates, build_create, check_create, 0, 0, NULL, 0, 0 };
	struct phase get = { "get ConfigMap", b->gets, build_get, check_get, 0, 0, NULL, 0, 0 };
	struct phase list = { "list", b->lists, build_list, check_list, 0, 0, NULL, 0, 0 };
	struct phase put = { "etcd put", b->creates, build_etcd_put, check_etcd_put, 0, 0, NULL, 0, 0 };
	struct phase range = { "etcd range, 1 key", b->gets, build_etcd_range, check_etcd_range, 0, 0, NULL, 0, 0 };
	struct phase erange = { "etcd range", b->lists, build_etcd_list, check_etcd_list, 0, 0, NULL, 0, 0 };
	char list_label[64], erange_label[64];

	snprintf(list_label, sizeof(list_label), "list %ld ConfigMaps", b->list_size);
	snprintf(erange_label, sizeof(erange_label), "etcd range, %ld keys", b->list_size);
	list.label = list_label;
	erange.label = erange_label;

#define STEP(what, call)                                      \
	do {                                                  \
		printf("  %s...\n", what);                    \
		fflush(stdout);                               \
		if ((call) < 0)                               \
			return -1;                            \
	} while (0)

	STEP("warm-up (GET /healthz, not counted)", phase_run(b, &warm, &b->k8s, b->connections, NULL));
	STEP("GET /healthz", phase_run(b, &healthz, &b->k8s, b->connections, &b->res[R_HEALTHZ]));
	STEP("setup: namespaces", phase_run(b, &ns, &b->k8s, b->connections, NULL));
	STEP("create ConfigMaps", phase_run(b, &create, &b->k8s, b->connections, &b->res[R_CREATE]));
	STEP("get ConfigMaps", phase_run(b, &get, &b->k8s, b->connections, &b->res[R_GET]));
	STEP("list ConfigMaps", phase_run(b, &list, &b->k8s, b->connections, &b->res[R_LIST]));
	STEP("watch fan-out", watch_run(b));
	if (b->have_etcd) {
		STEP("etcd put", phase_run(b, &put, &b->etcd, b->connections, &b->res[R_ETCD_PUT]));
		STEP("etcd range", phase_run(b, &range, &b->etcd, b->connections, &b->res[R_ETCD_RANGE]));
		STEP("etcd prefix range", phase_run(b, &erange, &b->etcd, b->connections, &b->res[R_ETCD_LIST]));
	}
#undef STEP
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },	  { "ca", required_argument, NULL, 'c' },
		{ "token-file", required_argument, NULL, 't' },	  { "server-pid", required_argument, NULL, 'p' },
		{ "etcd", required_argument, NULL, 'e' },	  { "etcd-pid", required_argument, NULL, 'P' },
		{ "connections", required_argument, NULL, 'n' },  { "healthz", required_argument, NULL, 'H' },
		{ "creates", required_argument, NULL, 'C' },	  { "gets", required_argument, NULL, 'G' },
		{ "lists", required_argument, NULL, 'L' },	  { "list-size", required_argument, NULL, 'S' },
		{ "watchers", required_argument, NULL, 'W' },	  { "watch-events", required_argument, NULL, 'E' },
		{ "payload", required_argument, NULL, 'B' },	  { "help", no_argument, NULL, 'h' },
		{ "etcd-serializable", no_argument, NULL, 'R' }, { "watch-writers", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = { 0 };
	const char *server = NULL, *ca = NULL, *token_file = NULL, *etcd = NULL;
	char *token = NULL;
	int opt, rc = 1;

	b.connections = 32;
	b.healthz = 20000;
	b.creates = 10000;
	b.gets = 20000;
	b.lists = 100;
	b.list_size = 1000;
	b.watchers = 100;
	b.watch_events = 1000;
	b.payload_len = 256;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'c': ca = optarg; break;
		case 't': token_file = optarg; break;
		case 'p': b.server_pid = arg_long("server-pid", optarg, 1); break;
		case 'e': etcd = optarg; break;
		case 'P': b.etcd_pid = arg_long("etcd-pid", optarg, 1); break;
		case 'n': b.connections = (int)arg_long("connections", optarg, 1); break;
		case 'H': b.healthz = arg_long("healthz", optarg, 1); break;
		case 'C': b.creates = arg_long("creates", optarg, 1); break;
		case 'G': b.gets = arg_long("gets", optarg, 1); break;
		case 'L': b.lists = arg_long("lists", optarg, 1); break;
		case 'S': b.list_size = arg_long("list-size", optarg, 1); break;
		case 'W': b.watchers = (int)arg_long("watchers", optarg, 1); break;
		case 'E': b.watch_events = arg_long("watch-events", optarg, 1); break;
		case 'B': b.payload_len = (size_t)arg_long("payload", optarg, 0); break;
		case 'R': b.etcd_serializable = true; break;
		case 'w': b.watch_writers = (int)arg_long("watch-writers", optarg, 1); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!server || !token_file) {
		usage(stderr);
		return 2;
	}
	log_set_component("bench-apiserver");
	signal(SIGPIPE, SIG_IGN);
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	if (b.ep < 0)
		die("cannot create an epoll instance: %s", strerror(errno));
	if (!b.watch_writers)
		b.watch_writers = b.connections;
	b.nns = b.creates / b.list_size ? b.creates / b.list_size : 1;
	b.list_size = b.creates / b.nns;
	b.payload = xmalloc(b.payload_len + 1);
	for (size_t i = 0; i < b.payload_len; i++)
		b.payload[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
	b.payload[b.payload_len] = '\0';
	token = read_token(token_file);
	if (!token || target_init(&b.k8s, "minik8s", server, ca, token) < 0)
		goto out;
	b.k8s.pid = b.server_pid;
	if (etcd) {
		if (target_init(&b.etcd, "etcd", etcd, NULL, NULL) < 0)
			goto out;
		b.etcd.pid = b.etcd_pid;
		b.have_etcd = true;
	}
	printf("connections: %d keep-alive HTTP/1.1 per phase; %ld ConfigMaps in %ld namespaces, %zu-byte payload\n",
	       b.connections, b.creates, b.nns, b.payload_len);
	fflush(stdout);
	if (run(&b) < 0)
		goto out;
	printf("  minik8s tls: %s\n", b.tls_version);
	report(&b);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "bench-apiserver: failed (see the error above)\n");
	target_release(&b.k8s);
	target_release(&b.etcd);
	free(token);
	free(b.payload);
	free(b.watch_rv);
	free(b.template_b64);
	close(b.ep);
	return rc;
}
