/*
 * The DNS server of dnsserver.h on libuv. Answers come from dns_answer()
 * synchronously; a forwarded query becomes a struct dns_fwd with its own
 * UDP socket (a fresh random port and ID, so a spoofed answer has to guess
 * both) and a timer that moves on to the next upstream. TCP clients may
 * pipeline queries; each answer is written as soon as it is known, in
 * whatever order that is (RFC 7766 allows it).
 */
#include "proxy/dnsserver.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#define TCP_MAX_QUERY 4096
#define TCP_IDLE_MS 10000
#define TCP_MAX_INFLIGHT 32
#define RESOLV_CHECK_MS 2000
#define MAX_UPSTREAMS 3

enum { ST_UDP, ST_TCP, ST_FORWARDED, ST_FORWARD_FAILED, ST_TRUNCATED, ST_DROPPED, ST_COUNT };
/* rcodes counted by name: NOERROR FORMERR SERVFAIL NXDOMAIN NOTIMP REFUSED, then "other" */
#define RCODES 6

struct dns_listener {
	struct dns_server *s;
	uv_udp_t udp;
	uv_tcp_t tcp;
	int open;
};

struct dns_tcp_conn {
	uv_tcp_t h;
	uv_timer_t idle;
	struct dns_server *s;
	struct dns_tcp_conn *prev, *next;
	uint8_t buf[2 + TCP_MAX_QUERY];
	size_t have;
	int refs;      /* forwarded queries and writes still pointing here */
	int open;      /* handles not yet closed */
	int inflight;  /* forwarded queries not answered */
	bool closing;
};

struct dns_up_tcp;

struct dns_fwd {
	struct dns_server *s;
	struct dns_fwd *prev, *next;
	uint8_t *query;
	size_t len;
	uint16_t client_id;
	struct sockaddr_storage client; /* UDP clients */
	struct dns_tcp_conn *conn;      /* TCP clients */
	int upstream;                   /* index being tried */
	bool over_tcp;                  /* upstream asked over TCP (after a truncated answer) */
	uv_udp_t udp;
	bool udp_init;
	struct dns_up_tcp *tcp;
	uv_timer_t timer;
	int open;
	bool done;
};

/* One TCP attempt at an upstream; outlives its query if that moves on. */
struct dns_up_tcp {
	uv_tcp_t h;
	uv_connect_t creq;
	uv_write_t wreq;
	struct dns_server *s;
	struct dns_fwd *f;  /* NULL once abandoned */
	uint8_t *buf;
	size_t have;
	uint8_t *out;
};

struct dns_server {
	uv_loop_t *loop;
	const struct dns_db *db;
	char *resolv_conf;
	uint64_t timeout_ms;
	int max_inflight, max_tcp;
	struct sockaddr_storage up[MAX_UPSTREAMS];
	int nup;
	struct timespec resolv_mtime;
	uint64_t resolv_checked_ms;
	struct dns_listener *cur;
	uint32_t ip;
	uint16_t port;
	struct dns_tcp_conn *conns;
	int nconns;
	struct dns_fwd *fwds;
	int nfwds;
	size_t handles;
	bool closing;
	void (*on_closed)(void *arg);
	void *closed_arg;
	uint64_t stats[ST_COUNT];
	uint64_t rcodes[RCODES + 1];
	uint8_t in[65536];
	uint8_t out[2 + 65535];
};

static void server_handle_closed(struct dns_server *s)
{
	if (--s->handles > 0 || !s->closing)
		return;
	if (s->on_closed)
		s->on_closed(s->closed_arg);
	free(s->resolv_conf);
	free(s);
}

static void count_rcode(struct dns_server *s, const uint8_t *msg, size_t len)
{
	int rc = len >= DNS_HEADER_LEN ? msg[3] & 0xf : DNS_SERVFAIL;

	s->rcodes[rc < RCODES ? rc : RCODES]++;
	if (len >= DNS_HEADER_LEN && (msg[2] & (DNS_FLAG_TC >> 8)))
		s->stats[ST_TRUNCATED]++;
}

/* ---- upstreams ------------------------------------------------------------------ */

static void load_resolv_conf(struct dns_server *s)
{
	struct stat st;
	char *text = NULL;
	size_t len;
	struct sockaddr_storage all[MAX_UPSTREAMS * 2], up[MAX_UPSTREAMS];
	int n, k = 0;

	s->resolv_checked_ms = uv_now(s->loop);
	if (stat(s->resolv_conf, &st) < 0) {
		if (s->nup)
			log_warn("cannot read '%s': %s; keeping the upstream resolvers read before", s->resolv_conf,
				 strerror(errno));
		return;
	}
	if (st.st_mtim.tv_sec == s->resolv_mtime.tv_sec && st.st_mtim.tv_nsec == s->resolv_mtime.tv_nsec && s->nup)
		return;
	if (read_file(s->resolv_conf, &text, &len) < 0)
		return;
	s->resolv_mtime = st.st_mtim;
	n = dns_parse_resolv_conf(text, all, (int)ARRAY_SIZE(all));
	free(text);
	for (int i = 0; i < n && k < MAX_UPSTREAMS; i++) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&all[i];
		/* asking ourselves would loop */
		if (a->sin_family == AF_INET && s->cur && ntohl(a->sin_addr.s_addr) == s->ip && s->port == 53)
			continue;
		up[k++] = all[i];
	}
	if (k == s->nup && !memcmp(up, s->up, (size_t)k * sizeof(up[0])))
		return;
	memcpy(s->up, up, (size_t)k * sizeof(up[0]));
	s->nup = k;
	log_info("dns upstream resolvers file=%s count=%d", s->resolv_conf, k);
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
	}
	return false;
}

/* ---- replying ------------------------------------------------------------------------ */

struct wreq {
	uv_write_t req;
	struct dns_tcp_conn *c;
	uint8_t data[];
};

static void conn_unref(struct dns_tcp_conn *c);

static void on_tcp_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;

	(void)status;
	conn_unref(w->c);
	free(w);
}

static void conn_write(struct dns_tcp_conn *c, const uint8_t *msg, size_t len)
{
	struct wreq *w;
	uv_buf_t b;

	if (c->closing)
		return;
	w = xmalloc(sizeof(*w) + 2 + len);
	w->c = c;
	w->data[0] = (uint8_t)(len >> 8);
	w->data[1] = (uint8_t)len;
	memcpy(w->data + 2, msg, len);
	b = uv_buf_init((char *)w->data, (unsigned)(len + 2));
	c->refs++;
	if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, on_tcp_written) < 0) {
		c->refs--;
		free(w);
	}
}

static void udp_reply(struct dns_server *s, const struct sockaddr *to, const uint8_t *msg, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)msg, (unsigned)len);

	if (s->cur && uv_udp_try_send(&s->cur->udp, &b, 1, to) < 0)
		s->stats[ST_DROPPED]++;
}

/* ---- forwarding ---------------------------------------------------------------------------- */

static void fwd_attempt(struct dns_fwd *f);

static void on_fwd_handle_closed(uv_handle_t *h)
{
	struct dns_fwd *f = h->data;
	struct dns_server *s = f->s;

	if (--f->open == 0) {
		if (f->conn)
			conn_unref(f->conn);
		free(f->query);
		free(f);
	}
	server_handle_closed(s);
}

static void on_up_tcp_closed(uv_handle_t *h)
{
	struct dns_up_tcp *t = h->data;
	struct dns_server *s = t->s;

	free(t->buf);
	free(t->out);
	free(t);
	server_handle_closed(s);
}

static void up_tcp_abandon(struct dns_up_tcp *t)
{
	t->f = NULL;
	uv_close((uv_handle_t *)&t->h, on_up_tcp_closed);
}

static void fwd_finish(struct dns_fwd *f)
{
	struct dns_server *s = f->s;

	if (f->done)
		return;
	f->done = true;
	if (f->prev)
		f->prev->next = f->next;
	else
		s->fwds = f->next;
	if (f->next)
		f->next->prev = f->prev;
	s->nfwds--;
	if (f->conn)
		f->conn->inflight--;
	if (f->tcp) {
		up_tcp_abandon(f->tcp);
		f->tcp = NULL;
	}
	if (f->udp_init)
		uv_close((uv_handle_t *)&f->udp, on_fwd_handle_closed);
	uv_close((uv_handle_t *)&f->timer, on_fwd_handle_closed);
}

static void fwd_deliver(struct dns_fwd *f, const uint8_t *resp, size_t len)
{
	struct dns_server *s = f->s;
	uint8_t *copy = xmalloc(len);

	memcpy(copy, resp, len);
	copy[0] = (uint8_t)(f->client_id >> 8);
	copy[1] = (uint8_t)f->client_id;
	count_rcode(s, copy, len);
	if (f->conn)
		conn_write(f->conn, copy, len);
	else
		udp_reply(s, (const struct sockaddr *)&f->client, copy, len);
	free(copy);
	fwd_finish(f);
}

static void fwd_fail(struct dns_fwd *f)
{
	struct dns_server *s = f->s;
	size_t n;

	s->stats[ST_FORWARD_FAILED]++;
	f->query[0] = (uint8_t)(f->client_id >> 8);
	f->query[1] = (uint8_t)f->client_id;
	n = dns_error_reply(f->query, f->len, DNS_SERVFAIL, s->out, DNS_UDP_MAX);
	if (n) {
		count_rcode(s, s->out, n);
		if (f->conn)
			conn_write(f->conn, s->out, n);
		else
			udp_reply(s, (const struct sockaddr *)&f->client, s->out, n);
	}
	fwd_finish(f);
}

static void on_fwd_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct dns_fwd *f = h->data;

	(void)suggested;
	buf->base = (char *)f->s->in;
	buf->len = sizeof(f->s->in);
}

static void on_fwd_udp(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags)
{
	struct dns_fwd *f = h->data;
	const uint8_t *p = (const uint8_t *)buf->base;
	bool from_upstream = false;

	if (f->done || f->over_tcp || nread <= 0 || !addr || (flags & UV_UDP_PARTIAL))
		return;
	for (int i = 0; i <= f->upstream && i < f->s->nup; i++)
		from_upstream |= same_addr(addr, &f->s->up[i]);
	if (!from_upstream || !dns_reply_matches(p, (size_t)nread, f->query, f->len))
		return; /* not the answer we wait for: keep waiting */
	if ((p[2] & (DNS_FLAG_TC >> 8)) && f->conn) {
		/* the TCP client can take it all: ask the same upstream over TCP */
		f->over_tcp = true;
		fwd_attempt(f);
		return;
	}
	fwd_deliver(f, p, (size_t)nread);
}

static void on_up_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct dns_up_tcp *t = h->data;

	(void)suggested;
	buf->base = (char *)t->buf + t->have;
	buf->len = 2 + 65535 - t->have;
}

static void up_tcp_failed(struct dns_up_tcp *t)
{
	struct dns_fwd *f = t->f;

	if (!f)
		return;
	f->tcp = NULL;
	up_tcp_abandon(t);
	f->upstream++;
	fwd_attempt(f);
}

static void on_up_tcp_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct dns_up_tcp *t = st->data;
	size_t need;

	(void)buf;
	if (!t->f)
		return;
	if (nread < 0)
		return up_tcp_failed(t);
	t->have += (size_t)nread;
	if (t->have < 2)
		return;
	need = (size_t)t->buf[0] << 8 | t->buf[1];
	if (t->have < 2 + need)
		return;
	if (!dns_reply_matches(t->buf + 2, need, t->f->query, t->f->len))
		return up_tcp_failed(t);
	{
		struct dns_fwd *f = t->f;
		f->tcp = NULL;
		fwd_deliver(f, t->buf + 2, need);
		up_tcp_abandon(t);
	}
}

static void on_up_tcp_written(uv_write_t *req, int status)
{
	struct dns_up_tcp *t = req->data;

	if (status < 0)
		up_tcp_failed(t);
}

static void on_up_tcp_connect(uv_connect_t *req, int status)
{
	struct dns_up_tcp *t = req->data;
	uv_buf_t b;

	if (!t->f || status == UV_ECANCELED)
		return;
	if (status < 0)
		return up_tcp_failed(t);
	t->out = xmalloc(2 + t->f->len);
	t->out[0] = (uint8_t)(t->f->len >> 8);
	t->out[1] = (uint8_t)t->f->len;
	memcpy(t->out + 2, t->f->query, t->f->len);
	b = uv_buf_init((char *)t->out, (unsigned)(2 + t->f->len));
	t->wreq.data = t;
	if (uv_write(&t->wreq, (uv_stream_t *)&t->h, &b, 1, on_up_tcp_written) < 0 ||
	    uv_read_start((uv_stream_t *)&t->h, on_up_tcp_alloc, on_up_tcp_read) < 0)
		up_tcp_failed(t);
}

static void on_fwd_timeout(uv_timer_t *timer)
{
	struct dns_fwd *f = timer->data;

	if (f->done)
		return;
	if (f->tcp) {
		up_tcp_abandon(f->tcp);
		f->tcp = NULL;
	}
	f->upstream++;
	fwd_attempt(f);
}

/* Asks upstream f->upstream (and the next ones while sending fails); SERVFAIL
 * once none is left. */
static void fwd_attempt(struct dns_fwd *f)
{
	struct dns_server *s = f->s;

	for (; f->upstream < s->nup; f->upstream++) {
		const struct sockaddr *up = (const struct sockaddr *)&s->up[f->upstream];
		int rc;

		if (f->over_tcp) {
			struct dns_up_tcp *t = xcalloc(1, sizeof(*t));
			t->s = s;
			t->f = f;
			t->buf = xmalloc(2 + 65535);
			uv_tcp_init(s->loop, &t->h);
			t->h.data = t;
			t->creq.data = t;
			s->handles++;
			rc = uv_tcp_connect(&t->creq, &t->h, up, on_up_tcp_connect);
			if (rc < 0) {
				up_tcp_abandon(t);
				continue;
			}
			f->tcp = t;
		} else {
			uv_buf_t b = uv_buf_init((char *)f->query, (unsigned)f->len);
			if (!f->udp_init) {
				uv_udp_init(s->loop, &f->udp);
				f->udp.data = f;
				f->udp_init = true;
				f->open++;
				s->handles++;
			}
			rc = uv_udp_try_send(&f->udp, &b, 1, up);
			if (rc >= 0)
				rc = uv_udp_recv_start(&f->udp, on_fwd_alloc, on_fwd_udp);
			if (rc == UV_EALREADY)
				rc = 0;
			if (rc < 0) {
				log_debug("cannot ask an upstream resolver: %s", uv_strerror(rc));
				continue;
			}
		}
		uv_timer_start(&f->timer, on_fwd_timeout, s->timeout_ms, 0);
		return;
	}
	fwd_fail(f);
}

/* Sends msg (a query from a client) upstream. conn is the TCP client or
 * NULL for a UDP one at client. */
static void forward(struct dns_server *s, const uint8_t *msg, size_t len, struct dns_tcp_conn *conn,
		    const struct sockaddr *client)
{
	struct dns_fwd *f;
	uint16_t id;

	if (uv_now(s->loop) - s->resolv_checked_ms >= RESOLV_CHECK_MS)
		load_resolv_conf(s);
	if (s->nfwds >= s->max_inflight || (conn && conn->inflight >= TCP_MAX_INFLIGHT)) {
		size_t n = dns_error_reply(msg, len, DNS_SERVFAIL, s->out, DNS_UDP_MAX);
		s->stats[ST_FORWARD_FAILED]++;
		if (n && conn)
			conn_write(conn, s->out, n);
		else if (n)
			udp_reply(s, client, s->out, n);
		if (n)
			count_rcode(s, s->out, n);
		return;
	}
	s->stats[ST_FORWARDED]++;
	f = xcalloc(1, sizeof(*f));
	f->s = s;
	f->query = xmalloc(len);
	memcpy(f->query, msg, len);
	f->len = len;
	f->client_id = (uint16_t)(msg[0] << 8 | msg[1]);
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)(uv_now(s->loop) * 2654435761u >> 16);
	f->query[0] = (uint8_t)(id >> 8);
	f->query[1] = (uint8_t)id;
	if (conn) {
		f->conn = conn;
		conn->refs++;
		conn->inflight++;
	} else {
		memcpy(&f->client, client, client->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
									   sizeof(struct sockaddr_in));
	}
	uv_timer_init(s->loop, &f->timer);
	f->timer.data = f;
	f->open++;
	s->handles++;
	f->next = s->fwds;
	if (s->fwds)
		s->fwds->prev = f;
	s->fwds = f;
	s->nfwds++;
	fwd_attempt(f);
}

/* ---- UDP clients ------------------------------------------------------------------------------ */

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct dns_listener *l = h->data;

	(void)suggested;
	buf->base = (char *)l->s->in;
	buf->len = sizeof(l->s->in);
}

static void on_udp_query(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
			 unsigned flags)
{
	struct dns_listener *l = h->data;
	struct dns_server *s = l->s;
	size_t n;
	int rcode;

	if (nread <= 0 || !addr || (flags & UV_UDP_PARTIAL) || s->cur != l)
		return;
	s->stats[ST_UDP]++;
	switch (dns_answer(s->db, (const uint8_t *)buf->base, (size_t)nread, false, s->out, DNS_UDP_MAX, &n, &rcode)) {
	case DNS_REPLY:
		count_rcode(s, s->out, n);
		udp_reply(s, addr, s->out, n);
		break;
	case DNS_FORWARD:
		forward(s, (const uint8_t *)buf->base, (size_t)nread, NULL, addr);
		break;
	case DNS_DROP:
		s->stats[ST_DROPPED]++;
		break;
	}
}

/* ---- TCP clients ------------------------------------------------------------------------------- */

static void conn_free_if_done(struct dns_tcp_conn *c)
{
	if (c->open == 0 && c->refs == 0)
		free(c);
}

static void conn_unref(struct dns_tcp_conn *c)
{
	c->refs--;
	conn_free_if_done(c);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct dns_tcp_conn *c = h->data;
	struct dns_server *s = c->s;

	c->open--;
	conn_free_if_done(c);
	server_handle_closed(s);
}

static void conn_close(struct dns_tcp_conn *c)
{
	struct dns_server *s = c->s;

	if (c->closing)
		return;
	c->closing = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	uv_close((uv_handle_t *)&c->h, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->idle, on_conn_handle_closed);
}

static void on_conn_idle(uv_timer_t *t)
{
	struct dns_tcp_conn *c = t->data;

	if (c->inflight == 0)
		conn_close(c);
	else
		uv_timer_start(&c->idle, on_conn_idle, TCP_IDLE_MS, 0);
}

static void on_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct dns_tcp_conn *c = h->data;

	(void)suggested;
	buf->base = (char *)c->buf + c->have;
	buf->len = sizeof(c->buf) - c->have;
}

static void on_conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct dns_tcp_conn *c = st->data;
	struct dns_server *s = c->s;

	(void)buf;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	c->have += (size_t)nread;
	uv_timer_start(&c->idle, on_conn_idle, TCP_IDLE_MS, 0);
	while (c->have >= 2 && !c->closing) {
		size_t len = (size_t)c->buf[0] << 8 | c->buf[1], n;
		int rcode;

		if (len > TCP_MAX_QUERY || len == 0) {
			/* no query is that big: not a DNS client */
			s->stats[ST_DROPPED]++;
			conn_close(c);
			return;
		}
		if (c->have < 2 + len)
			break;
		s->stats[ST_TCP]++;
		switch (dns_answer(s->db, c->buf + 2, len, true, s->out, 65535, &n, &rcode)) {
		case DNS_REPLY:
			count_rcode(s, s->out, n);
			conn_write(c, s->out, n);
			break;
		case DNS_FORWARD:
			forward(s, c->buf + 2, len, c, NULL);
			break;
		case DNS_DROP:
			s->stats[ST_DROPPED]++;
			break;
		}
		memmove(c->buf, c->buf + 2 + len, c->have - 2 - len);
		c->have -= 2 + len;
	}
}

static void on_tcp_connection(uv_stream_t *server, int status)
{
	struct dns_listener *l = server->data;
	struct dns_server *s = l->s;
	struct dns_tcp_conn *c;

	if (status < 0)
		return;
	c = xcalloc(1, sizeof(*c));
	c->s = s;
	uv_tcp_init(s->loop, &c->h);
	uv_timer_init(s->loop, &c->idle);
	c->h.data = c->idle.data = c;
	c->open = 2;
	s->handles += 2;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (uv_accept(server, (uv_stream_t *)&c->h) < 0 || s->nconns > s->max_tcp ||
	    uv_read_start((uv_stream_t *)&c->h, on_conn_alloc, on_conn_read) < 0) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->idle, on_conn_idle, TCP_IDLE_MS, 0);
}

/* ---- listening ------------------------------------------------------------------------------------ */

static void on_listener_closed(uv_handle_t *h)
{
	struct dns_listener *l = h->data;
	struct dns_server *s = l->s;

	if (--l->open == 0)
		free(l);
	server_handle_closed(s);
}

void dns_server_unlisten(struct dns_server *s)
{
	struct dns_listener *l = s->cur;

	if (!l)
		return;
	s->cur = NULL;
	uv_close((uv_handle_t *)&l->udp, on_listener_closed);
	uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

int dns_server_listen(struct dns_server *s, uint32_t ip, uint16_t port)
{
	struct dns_listener *l = xcalloc(1, sizeof(*l));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(ip) };
	struct sockaddr_storage bound;
	int rc, len = sizeof(bound);

	dns_server_unlisten(s);
	l->s = s;
	uv_udp_init(s->loop, &l->udp);
	uv_tcp_init(s->loop, &l->tcp);
	l->udp.data = l->tcp.data = l;
	l->open = 2;
	s->handles += 2;
	rc = uv_udp_bind(&l->udp, (struct sockaddr *)&sa, 0);
	if (rc == 0 && port == 0) {
		/* the TCP side takes the port UDP was given */
		rc = uv_udp_getsockname(&l->udp, (struct sockaddr *)&bound, &len);
		sa.sin_port = ((struct sockaddr_in *)&bound)->sin_port;
	}
	if (rc == 0)
		rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&l->tcp, 128, on_tcp_connection);
	if (rc == 0)
		rc = uv_udp_recv_start(&l->udp, on_udp_alloc, on_udp_query);
	s->cur = l;
	if (rc < 0) {
		dns_server_unlisten(s);
		return rc;
	}
	s->ip = ip;
	s->port = ntohs(sa.sin_port);
	/* an upstream equal to our own address is skipped from now on */
	s->resolv_mtime.tv_sec = 0;
	load_resolv_conf(s);
	return 0;
}

uint16_t dns_server_port(const struct dns_server *s)
{
	return s->cur ? s->port : 0;
}

struct dns_server *dns_server_new(uv_loop_t *loop, const struct dns_db *db, const struct dns_server_config *cfg)
{
	struct dns_server *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	s->db = db;
	s->resolv_conf = xstrdup(cfg->resolv_conf && *cfg->resolv_conf ? cfg->resolv_conf : "/etc/resolv.conf");
	s->timeout_ms = cfg->forward_timeout_ms ? cfg->forward_timeout_ms : 2000;
	s->max_inflight = cfg->max_inflight > 0 ? cfg->max_inflight : 1000;
	s->max_tcp = cfg->max_tcp_connections > 0 ? cfg->max_tcp_connections : 256;
	s->handles = 1; /* the server itself, dropped by close */
	load_resolv_conf(s);
	if (s->nup == 0)
		log_warn("no upstream resolvers in '%s': names outside the cluster get SERVFAIL", s->resolv_conf);
	return s;
}

void dns_server_close(struct dns_server *s, void (*cb)(void *arg), void *arg)
{
	s->closing = true;
	s->on_closed = cb;
	s->closed_arg = arg;
	dns_server_unlisten(s);
	while (s->fwds)
		fwd_finish(s->fwds);
	while (s->conns)
		conn_close(s->conns);
	server_handle_closed(s);
}

void dns_server_metrics(const struct dns_server *s, struct strbuf *out)
{
	static const char *const names[RCODES + 1] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
						       "NOTIMP", "REFUSED", "other" };

	strbuf_addf(out, "# HELP minik8s_dns_queries_total DNS queries received, by transport.\n"
			 "# TYPE minik8s_dns_queries_total counter\n"
			 "minik8s_dns_queries_total{protocol=\"udp\"} %llu\n"
			 "minik8s_dns_queries_total{protocol=\"tcp\"} %llu\n",
		    (unsigned long long)s->stats[ST_UDP], (unsigned long long)s->stats[ST_TCP]);
	strbuf_adds(out, "# HELP minik8s_dns_responses_total DNS responses sent, by rcode.\n"
			 "# TYPE minik8s_dns_responses_total counter\n");
	for (int i = 0; i <= RCODES; i++)
		strbuf_addf(out, "minik8s_dns_responses_total{rcode=\"%s\"} %llu\n", names[i],
			    (unsigned long long)s->rcodes[i]);
	strbuf_addf(out, "# HELP minik8s_dns_forwarded_total Queries for names outside the cluster sent upstream.\n"
			 "# TYPE minik8s_dns_forwarded_total counter\n"
			 "minik8s_dns_forwarded_total %llu\n"
			 "# HELP minik8s_dns_forward_failures_total Forwarded queries answered SERVFAIL: no upstream answered in time.\n"
			 "# TYPE minik8s_dns_forward_failures_total counter\n"
			 "minik8s_dns_forward_failures_total %llu\n"
			 "# HELP minik8s_dns_truncated_total Responses sent with the TC bit.\n"
			 "# TYPE minik8s_dns_truncated_total counter\n"
			 "minik8s_dns_truncated_total %llu\n"
			 "# HELP minik8s_dns_dropped_total Queries dropped unanswered (malformed, or a reply could not be sent).\n"
			 "# TYPE minik8s_dns_dropped_total counter\n"
			 "minik8s_dns_dropped_total %llu\n",
		    (unsigned long long)s->stats[ST_FORWARDED], (unsigned long long)s->stats[ST_FORWARD_FAILED],
		    (unsigned long long)s->stats[ST_TRUNCATED], (unsigned long long)s->stats[ST_DROPPED]);
}
