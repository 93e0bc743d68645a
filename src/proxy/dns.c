/*
 * The cluster DNS of dns.h: parsing queries without trusting a byte of
 * them, writing replies with name compression, and the table of Services
 * the answers come from. No sockets here: dnsserver.c calls dns_answer()
 * for each packet and forwards what it is told to forward.
 */
#include "proxy/dns.h"
#include "core/object.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ---- names ----------------------------------------------------------------- */

int dns_name_from_text(struct dns_name *n, const char *text)
{
	const char *p = text;

	n->len = 0;
	n->nlabels = 0;
	if (!strcmp(text, ".") || !*text) {
		n->wire[n->len++] = 0;
		return 0;
	}
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l > 63 || n->len + 1 + l + 1 > DNS_MAX_NAME || n->nlabels >= DNS_MAX_LABELS)
			return -1;
		n->label[n->nlabels++] = (uint8_t)n->len;
		n->wire[n->len++] = (uint8_t)l;
		memcpy(n->wire + n->len, p, l);
		n->len += (uint16_t)l;
		p += l;
		if (*p == '.')
			p++;
	}
	n->wire[n->len++] = 0;
	return 0;
}

void dns_name_to_text(const struct dns_name *n, char *buf, size_t size)
{
	size_t o = 0;

	if (size == 0)
		return;
	if (n->nlabels == 0) {
		snprintf(buf, size, ".");
		return;
	}
	for (int i = 0; i < n->nlabels; i++) {
		const uint8_t *l = n->wire + n->label[i];
		for (int j = 1; j <= l[0]; j++) {
			int c = l[j];
			char tmp[8];
			size_t tl;
			if (isalnum(c) || c == '-' || c == '_')
				tmp[0] = (char)c, tmp[1] = 0;
			else
				snprintf(tmp, sizeof(tmp), "\\%03d", c);
			tl = strlen(tmp);
			if (o + tl + 2 > size)
				goto out;
			memcpy(buf + o, tmp, tl);
			o += tl;
		}
		if (o + 2 > size)
			goto out;
		buf[o++] = '.';
	}
out:
	buf[o] = 0;
}

int dns_read_name(const uint8_t *msg, size_t len, size_t *pos, struct dns_name *out)
{
	size_t p = *pos, end = 0;
	/* Pointers must go strictly below the start of the run being read; the
	 * barrier only ever falls, so every name ends. */
	size_t barrier = p;
	bool jumped = false;

	out->len = 0;
	out->nlabels = 0;
	for (;;) {
		uint8_t c;

		if (p >= len)
			return -1;
		c = msg[p];
		if ((c & 0xc0) == 0xc0) {
			size_t target;
			if (p + 1 >= len)
				return -1;
			target = ((size_t)(c & 0x3f) << 8) | msg[p + 1];
			if (!jumped) {
				end = p + 2;
				jumped = true;
			}
			if (target >= barrier)
				return -1;
			barrier = target;
			p = target;
			continue;
		}
		if (c & 0xc0)
			return -1; /* 0x40 and 0x80: extended and reserved label types */
		if (c == 0) {
			out->wire[out->len++] = 0;
			if (!jumped)
				end = p + 1;
			break;
		}
		if (p + 1 + c > len || out->len + 1 + c + 1 > DNS_MAX_NAME || out->nlabels >= DNS_MAX_LABELS)
			return -1;
		out->label[out->nlabels++] = (uint8_t)out->len;
		memcpy(out->wire + out->len, msg + p, 1 + (size_t)c);
		out->len += (uint16_t)(1 + c);
		p += 1 + (size_t)c;
	}
	*pos = end;
	return 0;
}

static bool names_equal_from(const struct dns_name *a, int ai, const struct dns_name *b, int bi)
{
	if (a->nlabels - ai != b->nlabels - bi)
		return false;
	for (; ai < a->nlabels; ai++, bi++) {
		const uint8_t *la = a->wire + a->label[ai], *lb = b->wire + b->label[bi];
		if (la[0] != lb[0])
			return false;
		for (int j = 1; j <= la[0]; j++)
			if (tolower(la[j]) != tolower(lb[j]))
				return false;
	}
	return true;
}

/* Label i of n equals the lowercase string s, ignoring case. */
static bool label_is(const struct dns_name *n, int i, const char *s)
{
	const uint8_t *l = n->wire + n->label[i];
	size_t sl = strlen(s);

	if (l[0] != sl)
		return false;
	for (size_t j = 0; j < sl; j++)
		if (tolower(l[1 + j]) != s[j])
			return false;
	return true;
}

/* Label i as a lowercase C string, if it only holds characters a Kubernetes
 * name can (letters, digits, '-', '_'); a label with a NUL or a '/' in it
 * must never match a key. Returns 0 or -1. */
static int label_str(const struct dns_name *n, int i, char *buf, size_t size)
{
	const uint8_t *l = n->wire + n->label[i];

	if ((size_t)l[0] + 1 > size)
		return -1;
	for (int j = 1; j <= l[0]; j++) {
		int c = l[j];
		if (!isalnum(c) && c != '-' && c != '_')
			return -1;
		buf[j - 1] = (char)tolower(c);
	}
	buf[l[0]] = 0;
	return 0;
}

/* "10-244-1-7" -> 10.244.1.7. Returns 0 or -1. */
static int parse_dashed_ip(const char *s, uint32_t *ip)
{
	unsigned a, b, c, d;
	char tail;

	if (sscanf(s, "%3u-%3u-%3u-%3u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 || c > 255 || d > 255)
		return -1;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p) && *p != '-')
			return -1;
	*ip = a << 24 | b << 16 | c << 8 | d;
	return 0;
}

/* ---- parsing queries ------------------------------------------------------------ */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Skips one resource record at *pos. Returns 0 or -1. */
static int skip_rr(const uint8_t *msg, size_t len, size_t *pos, struct dns_name *name, uint16_t *type,
		   uint16_t *class, uint32_t *ttl, uint16_t *rdlen)
{
	if (dns_read_name(msg, len, pos, name) < 0 || *pos + 10 > len)
		return -1;
	*type = get16(msg + *pos);
	*class = get16(msg + *pos + 2);
	*ttl = get32(msg + *pos + 4);
	*rdlen = get16(msg + *pos + 8);
	*pos += 10;
	if (*pos + *rdlen > len)
		return -1;
	*pos += *rdlen;
	return 0;
}

enum dns_parse_result dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q)
{
	uint16_t qd, an, ns, ar;
	size_t pos = DNS_HEADER_LEN;
	struct dns_name tmp;

	memset(q, 0, sizeof(*q));
	q->udp_size = DNS_UDP_MIN;
	if (len < DNS_HEADER_LEN)
		return DNS_PARSE_DROP;
	q->id = get16(msg);
	q->flags = get16(msg + 2);
	if (q->flags & DNS_FLAG_QR)
		return DNS_PARSE_DROP; /* a response: answering it could start a loop */
	if (DNS_OPCODE(q->flags) != 0)
		return DNS_PARSE_NOTIMP;
	qd = get16(msg + 4);
	an = get16(msg + 6);
	ns = get16(msg + 8);
	ar = get16(msg + 10);
	if (qd != 1)
		return DNS_PARSE_FORMERR;
	if (dns_read_name(msg, len, &pos, &q->qname) < 0 || pos + 4 > len)
		return DNS_PARSE_FORMERR;
	q->qtype = get16(msg + pos);
	q->qclass = get16(msg + pos + 2);
	pos += 4;
	/* A query has no business carrying answers, but they are harmless:
	 * step over them to reach the additional section. */
	for (unsigned i = 0; i < (unsigned)an + ns + ar; i++) {
		uint16_t type, class, rdlen;
		uint32_t ttl;
		if (skip_rr(msg, len, &pos, &tmp, &type, &class, &ttl, &rdlen) < 0)
			return DNS_PARSE_FORMERR;
		if (i < (unsigned)an + ns || type != DNS_TYPE_OPT)
			continue;
		/* RFC 6891: one OPT, owned by the root. */
		if (q->edns || tmp.nlabels != 0)
			return DNS_PARSE_FORMERR;
		q->edns = true;
		q->udp_size = class < DNS_UDP_MIN ? DNS_UDP_MIN : class;
		q->edns_version = (uint8_t)(ttl >> 16);
		q->edns_do = (ttl & 0x8000) != 0;
	}
	return DNS_PARSE_OK;
}

/* ---- writing replies ------------------------------------------------------------- */

#define DICT_MAX 64

struct writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint16_t dict[DICT_MAX]; /* offsets of names (and their suffixes) already written */
	size_t ndict;
};

static int put(struct writer *w, const void *data, size_t n)
{
	if (w->len + n > w->cap)
		return -1;
	memcpy(w->buf + w->len, data, n);
	w->len += n;
	return 0;
}

static int put16(struct writer *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	return put(w, b, 2);
}

static int put32(struct writer *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	return put(w, b, 4);
}

/*
 * Writes n, pointing at the longest suffix already in the message when
 * compress is set (RFC 1035 4.1.4). Names written with compress also
 * become targets for later ones. SRV targets must not be compressed
 * (RFC 2782), so they pass false.
 */
static int put_name(struct writer *w, const struct dns_name *n, bool compress)
{
	int match_label = n->nlabels;
	uint16_t match_off = 0;

	if (compress) {
		for (int i = 0; i < n->nlabels && match_label == n->nlabels; i++) {
			for (size_t d = 0; d < w->ndict; d++) {
				struct dns_name seen;
				size_t pos = w->dict[d];
				if (dns_read_name(w->buf, w->len, &pos, &seen) == 0 && names_equal_from(n, i, &seen, 0)) {
					match_label = i;
					match_off = w->dict[d];
					break;
				}
			}
		}
	}
	for (int i = 0; i < match_label; i++) {
		const uint8_t *l = n->wire + n->label[i];
		if (compress && w->ndict < DICT_MAX && w->len < 0x4000)
			w->dict[w->ndict++] = (uint16_t)w->len;
		if (put(w, l, 1 + (size_t)l[0]) < 0)
			return -1;
	}
	if (match_label < n->nlabels)
		return put16(w, (uint16_t)(0xc000 | match_off));
	return put(w, "", 1);
}

struct rdata {
	uint16_t type;
	uint32_t a;                      /* A */
	const struct dns_name *target;  /* CNAME, PTR, NS, SRV; SOA mname */
	const struct dns_name *rname;   /* SOA */
	uint16_t prio, weight, port;     /* SRV */
	uint32_t soa[5];                 /* serial refresh retry expire minimum */
};

enum section { SEC_AN, SEC_NS, SEC_AR };

struct reply {
	struct writer w;
	uint16_t count[3];
	bool tc;
	bool stop[3];
};

/* Appends one record, whole or not at all. A record of the answer section
 * that does not fit sets TC and ends the reply; authority and additional
 * records are left out quietly (RFC 2181 9). */
static void add_rr(struct reply *r, enum section sec, const struct dns_name *owner, uint32_t ttl,
		   const struct rdata *rd)
{
	struct writer *w = &r->w;
	size_t save_len = w->len, save_dict = w->ndict, rdlen_at;
	int rc = 0;

	if (r->tc || r->stop[sec])
		return;
	rc |= put_name(w, owner, true);
	rc |= put16(w, rd->type);
	rc |= put16(w, DNS_CLASS_IN);
	rc |= put32(w, ttl);
	rdlen_at = w->len;
	rc |= put16(w, 0);
	switch (rd->type) {
	case DNS_TYPE_A:
		rc |= put32(w, rd->a);
		break;
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
	case DNS_TYPE_NS:
		rc |= put_name(w, rd->target, true);
		break;
	case DNS_TYPE_SRV:
		rc |= put16(w, rd->prio);
		rc |= put16(w, rd->weight);
		rc |= put16(w, rd->port);
		rc |= put_name(w, rd->target, false);
		break;
	case DNS_TYPE_SOA:
		rc |= put_name(w, rd->target, true);
		rc |= put_name(w, rd->rname, true);
		for (int i = 0; i < 5; i++)
			rc |= put32(w, rd->soa[i]);
		break;
	}
	if (rc) {
		w->len = save_len;
		w->ndict = save_dict;
		if (sec == SEC_AN)
			r->tc = true;
		else
			r->stop[sec] = true;
		return;
	}
	w->buf[rdlen_at] = (uint8_t)((w->len - rdlen_at - 2) >> 8);
	w->buf[rdlen_at + 1] = (uint8_t)(w->len - rdlen_at - 2);
	r->count[sec]++;
}

/* ---- the table of services --------------------------------------------------------- */

static int parse_ipv4(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*ip = ntohl(a.s_addr);
	return 0;
}

static uint8_t parse_proto(const char *p)
{
	if (!p || !*p || !strcasecmp(p, "TCP"))
		return IPPROTO_TCP;
	if (!strcasecmp(p, "UDP"))
		return IPPROTO_UDP;
	if (!strcasecmp(p, "SCTP"))
		return IPPROTO_SCTP;
	return 0;
}

static struct dns_port *ports_from_json(const json_t *arr, size_t *n)
{
	struct dns_port *ports;
	size_t i, k = 0;
	json_t *p;

	*n = 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return NULL;
	ports = xcalloc(json_array_size(arr), sizeof(*ports));
	json_array_foreach(arr, i, p) {
		int64_t port = obj_int(p, "port", 0);
		uint8_t proto = parse_proto(obj_str(p, "protocol"));
		if (port <= 0 || port > 65535 || !proto)
			continue;
		ports[k].name = xstrdup(obj_str(p, "name") ? obj_str(p, "name") : "");
		ports[k].proto = proto;
		ports[k].port = (uint16_t)port;
		k++;
	}
	*n = k;
	return ports;
}

struct dns_service *dns_service_from_json(const json_t *svc, const json_t *eps)
{
	const char *name = obj_name(svc), *ns = obj_namespace(svc), *cip = obj_str(svc, "spec.clusterIP");
	const char *type = obj_str(svc, "spec.type");
	struct dns_service *s;
	json_t *subsets, *sub;
	size_t i;

	if (!name || !*name)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->ns = xstrdup(ns && *ns ? ns : "default");
	s->name = xstrdup(name);
	if (type && !strcmp(type, "ExternalName")) {
		const char *ext = obj_str(svc, "spec.externalName");
		struct dns_name tmp;
		if (ext && *ext && dns_name_from_text(&tmp, ext) == 0)
			s->external_name = xstrdup(ext);
	} else if (cip && !strcmp(cip, "None")) {
		s->headless = true;
	} else if (parse_ipv4(cip, &s->cluster_ip) < 0) {
		s->cluster_ip = 0;
	}
	s->ports = ports_from_json(obj_get(svc, "spec.ports"), &s->nports);

	subsets = eps ? obj_get(eps, "subsets") : NULL;
	if (json_is_array(subsets) && json_array_size(subsets) > 0) {
		s->subsets = xcalloc(json_array_size(subsets), sizeof(*s->subsets));
		json_array_foreach(subsets, i, sub) {
			struct dns_subset *d = &s->subsets[s->nsubsets];
			json_t *addrs = obj_get(sub, "addresses"), *a;
			size_t j;

			if (!json_is_array(addrs) || json_array_size(addrs) == 0)
				continue;
			d->addrs = xcalloc(json_array_size(addrs), sizeof(*d->addrs));
			json_array_foreach(addrs, j, a) {
				struct dns_address *x = &d->addrs[d->naddrs];
				const char *h = obj_str(a, "hostname");
				if (parse_ipv4(obj_str(a, "ip"), &x->ip) < 0)
					continue;
				x->hostname = h && *h ? xstrdup(h) : NULL;
				d->naddrs++;
			}
			d->ports = ports_from_json(obj_get(sub, "ports"), &d->nports);
			s->nsubsets++;
		}
	}
	return s;
}

static void ports_free(struct dns_port *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].name);
	free(p);
}

void dns_service_free(struct dns_service *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nsubsets; i++) {
		for (size_t j = 0; j < s->subsets[i].naddrs; j++)
			free(s->subsets[i].addrs[j].hostname);
		free(s->subsets[i].addrs);
		ports_free(s->subsets[i].ports, s->subsets[i].nports);
	}
	free(s->subsets);
	ports_free(s->ports, s->nports);
	free(s->ns);
	free(s->name);
	free(s->external_name);
	free(s);
}

int dns_db_init(struct dns_db *db, const char *domain)
{
	memset(db, 0, sizeof(*db));
	if (dns_name_from_text(&db->domain_name, domain) < 0 || db->domain_name.nlabels == 0)
		return -1;
	db->domain = xstrdup(domain);
	/* keep the text without a trailing dot: names are built as "%s.%s" */
	if (db->domain[strlen(db->domain) - 1] == '.')
		db->domain[strlen(db->domain) - 1] = 0;
	db->serial = 1;
	pmap_init(&db->services);
	pmap_init(&db->namespaces);
	return 0;
}

static int free_service_entry(const char *key, void *value, void *data)
{
	(void)key;
	(void)data;
	dns_service_free(value);
	return 0;
}

void dns_db_release(struct dns_db *db)
{
	if (!db->domain)
		return;
	pmap_foreach(&db->services, free_service_entry, NULL);
	pmap_release(&db->services);
	pmap_release(&db->namespaces);
	free(db->domain);
	db->domain = NULL;
}

static void ns_count(struct dns_db *db, const char *ns, int delta)
{
	uintptr_t n = (uintptr_t)pmap_get(&db->namespaces, ns);

	n = (uintptr_t)((intptr_t)n + delta);
	if (n == 0)
		pmap_del(&db->namespaces, ns);
	else
		pmap_put(&db->namespaces, ns, (void *)n);
}

void dns_db_put(struct dns_db *db, struct dns_service *s)
{
	char *key = xasprintf("%s/%s", s->ns, s->name);
	struct dns_service *old = pmap_put(&db->services, key, s);

	if (old)
		dns_service_free(old);
	else
		ns_count(db, s->ns, 1);
	db->serial++;
	free(key);
}

void dns_db_del(struct dns_db *db, const char *ns, const char *name)
{
	char *key = xasprintf("%s/%s", ns, name);
	struct dns_service *old = pmap_del(&db->services, key);

	if (old) {
		ns_count(db, ns, -1);
		dns_service_free(old);
		db->serial++;
	}
	free(key);
}

const struct dns_service *dns_db_get(const struct dns_db *db, const char *ns, const char *name)
{
	char key[256];

	if (snprintf(key, sizeof(key), "%s/%s", ns, name) >= (int)sizeof(key))
		return NULL;
	return pmap_get(&db->services, key);
}

/* ---- answering ------------------------------------------------------------------------ */

struct ctx {
	const struct dns_db *db;
	const struct dns_query *q;
	struct reply *r;
	int rcode;
	bool aa;
};

static void add_soa(struct ctx *c, enum section sec)
{
	struct dns_name mname, rname;
	char *t1 = xasprintf("ns.dns.%s", c->db->domain), *t2 = xasprintf("hostmaster.%s", c->db->domain);
	struct rdata rd = { .type = DNS_TYPE_SOA, .target = &mname, .rname = &rname,
			    .soa = { c->db->serial, 7200, 1800, 86400, DNS_TTL } };

	if (dns_name_from_text(&mname, t1) == 0 && dns_name_from_text(&rname, t2) == 0)
		add_rr(c->r, sec, &c->db->domain_name, DNS_TTL, &rd);
	free(t1);
	free(t2);
}

static void nxdomain(struct ctx *c)
{
	c->rcode = DNS_NXDOMAIN;
	add_soa(c, SEC_NS);
}

static void nodata(struct ctx *c)
{
	add_soa(c, SEC_NS);
}

static bool wants(const struct ctx *c, uint16_t type)
{
	return c->q->qtype == type || c->q->qtype == DNS_TYPE_ANY;
}

static void answer_a(struct ctx *c, const struct dns_name *owner, enum section sec, uint32_t ip)
{
	struct rdata rd = { .type = DNS_TYPE_A, .a = ip };
	add_rr(c->r, sec, owner, DNS_TTL, &rd);
}

/* "<hostname or dashed ip>.<svc>.<ns>.svc.<domain>" for a headless endpoint. */
static int endpoint_name(const struct ctx *c, const struct dns_service *s, const struct dns_address *a,
			 struct dns_name *out)
{
	char *t;
	int rc;

	if (a->hostname)
		t = xasprintf("%s.%s.%s.svc.%s", a->hostname, s->name, s->ns, c->db->domain);
	else
		t = xasprintf("%u-%u-%u-%u.%s.%s.svc.%s", a->ip >> 24, (a->ip >> 16) & 0xff, (a->ip >> 8) & 0xff,
			      a->ip & 0xff, s->name, s->ns, c->db->domain);
	rc = dns_name_from_text(out, t);
	free(t);
	return rc;
}

static int service_name(const struct ctx *c, const struct dns_service *s, struct dns_name *out)
{
	char *t = xasprintf("%s.%s.svc.%s", s->name, s->ns, c->db->domain);
	int rc = dns_name_from_text(out, t);

	free(t);
	return rc;
}

static size_t ready_count(const struct dns_service *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nsubsets; i++)
		n += s->subsets[i].naddrs;
	return n;
}

static bool seen_ip_before(const struct dns_service *s, size_t si, size_t ai)
{
	uint32_t ip = s->subsets[si].addrs[ai].ip;

	for (size_t i = 0; i <= si; i++)
		for (size_t j = 0; j < (i == si ? ai : s->subsets[i].naddrs); j++)
			if (s->subsets[i].addrs[j].ip == ip)
				return true;
	return false;
}

static bool port_matches(const struct dns_port *p, const char *name, uint8_t proto)
{
	if (!*p->name)
		return false; /* unnamed ports have no SRV record */
	if (name && strcasecmp(p->name, name))
		return false;
	return !proto || p->proto == proto;
}

/* How many SRV records the ports of s named `port` (NULL: every named
 * port) of protocol proto (0: any) make. */
static size_t srv_count(const struct dns_service *s, const char *port, uint8_t proto)
{
	size_t n = 0;

	if (!s->headless) {
		for (size_t i = 0; s->cluster_ip && i < s->nports; i++)
			if (port_matches(&s->ports[i], port, proto))
				n++;
		return n;
	}
	for (size_t si = 0; si < s->nsubsets; si++)
		for (size_t pi = 0; pi < s->subsets[si].nports; pi++)
			if (port_matches(&s->subsets[si].ports[pi], port, proto))
				n += s->subsets[si].naddrs;
	return n;
}

/* Adds the SRV records srv_count counts (with A records for their targets
 * in the additional section) and returns their number. */
static size_t answer_srv(struct ctx *c, const struct dns_service *s, const char *port, uint8_t proto)
{
	struct dns_name target;
	size_t n = srv_count(s, port, proto);

	if (!s->headless) {
		if (!n || service_name(c, s, &target) < 0)
			return n;
		for (size_t i = 0; i < s->nports; i++) {
			struct rdata rd = { .type = DNS_TYPE_SRV, .prio = 0, .port = s->ports[i].port, .target = &target };
			if (!port_matches(&s->ports[i], port, proto))
				continue;
			rd.weight = (uint16_t)(100 / n ? 100 / n : 1);
			add_rr(c->r, SEC_AN, &c->q->qname, DNS_TTL, &rd);
		}
		if (n)
			answer_a(c, &target, SEC_AR, s->cluster_ip);
		return n;
	}
	for (int pass = 0; pass < 2 && n; pass++) {
		for (size_t si = 0; si < s->nsubsets; si++) {
			const struct dns_subset *sub = &s->subsets[si];
			for (size_t pi = 0; pi < sub->nports; pi++) {
				if (!port_matches(&sub->ports[pi], port, proto))
					continue;
				for (size_t ai = 0; ai < sub->naddrs; ai++) {
					struct rdata rd = { .type = DNS_TYPE_SRV, .port = sub->ports[pi].port,
							    .target = &target };
					rd.weight = (uint16_t)(100 / n ? 100 / n : 1);
					if (endpoint_name(c, s, &sub->addrs[ai], &target) < 0)
						continue;
					if (pass == 0)
						add_rr(c->r, SEC_AN, &c->q->qname, DNS_TTL, &rd);
					else
						answer_a(c, &target, SEC_AR, sub->addrs[ai].ip);
				}
			}
		}
	}
	return n;
}

/* <svc>.<ns>.svc.<domain> */
static void answer_service(struct ctx *c, const struct dns_service *s)
{
	if (s->external_name) {
		struct dns_name target;
		struct rdata rd = { .type = DNS_TYPE_CNAME, .target = &target };
		if (dns_name_from_text(&target, s->external_name) == 0)
			add_rr(c->r, SEC_AN, &c->q->qname, DNS_TTL, &rd);
		return;
	}
	if (s->headless && ready_count(s) == 0)
		return nxdomain(c); /* Kubernetes' DNS spec: a headless name with no ready endpoint */
	if (c->q->qtype == DNS_TYPE_SRV) {
		if (!answer_srv(c, s, NULL, 0))
			nodata(c);
		return;
	}
	if (!wants(c, DNS_TYPE_A))
		return nodata(c);
	if (!s->headless) {
		if (s->cluster_ip)
			answer_a(c, &c->q->qname, SEC_AN, s->cluster_ip);
		else
			nodata(c);
		return;
	}
	for (size_t si = 0; si < s->nsubsets; si++)
		for (size_t ai = 0; ai < s->subsets[si].naddrs; ai++)
			if (s->nsubsets == 1 || !seen_ip_before(s, si, ai))
				answer_a(c, &c->q->qname, SEC_AN, s->subsets[si].addrs[ai].ip);
}

static uint8_t proto_label(const char *l)
{
	if (!strcmp(l, "_tcp"))
		return IPPROTO_TCP;
	if (!strcmp(l, "_udp"))
		return IPPROTO_UDP;
	if (!strcmp(l, "_sctp"))
		return IPPROTO_SCTP;
	return 0;
}

static bool has_port_proto(const struct dns_service *s, uint8_t proto)
{
	for (size_t i = 0; i < s->nports; i++)
		if (port_matches(&s->ports[i], NULL, proto))
			return true;
	return false;
}

/* <x>.<svc>.<ns>.svc.<domain>: a headless endpoint, or the _proto level of an SRV name. */
static void answer_endpoint(struct ctx *c, const struct dns_service *s, const char *x)
{
	if (x[0] == '_') {
		uint8_t proto = proto_label(x);
		if (proto && has_port_proto(s, proto))
			return nodata(c);
		return nxdomain(c);
	}
	if (!s->headless)
		return nxdomain(c);
	for (size_t si = 0; si < s->nsubsets; si++) {
		for (size_t ai = 0; ai < s->subsets[si].naddrs; ai++) {
			const struct dns_address *a = &s->subsets[si].addrs[ai];
			uint32_t ip;
			bool match = a->hostname ? !strcasecmp(a->hostname, x) :
						   (parse_dashed_ip(x, &ip) == 0 && ip == a->ip);
			if (!match)
				continue;
			if (wants(c, DNS_TYPE_A))
				answer_a(c, &c->q->qname, SEC_AN, a->ip);
			else
				nodata(c);
			return;
		}
	}
	nxdomain(c);
}

/* Names below the cluster domain; rel labels 0..k-1 come before it. */
static void answer_cluster(struct ctx *c, int k)
{
	const struct dns_name *qn = &c->q->qname;
	char l[5][64];

	c->aa = true;
	if (k == 0) {
		if (c->q->qtype == DNS_TYPE_SOA)
			add_soa(c, SEC_AN);
		else if (c->q->qtype == DNS_TYPE_NS) {
			struct dns_name ns;
			char *t = xasprintf("ns.dns.%s", c->db->domain);
			struct rdata rd = { .type = DNS_TYPE_NS, .target = &ns };
			if (dns_name_from_text(&ns, t) == 0) {
				add_rr(c->r, SEC_AN, qn, DNS_TTL, &rd);
				if (c->db->dns_ip)
					answer_a(c, &ns, SEC_AR, c->db->dns_ip);
			}
			free(t);
		} else {
			nodata(c);
		}
		return;
	}
	if (k > 5)
		return nxdomain(c);
	for (int i = 0; i < k; i++)
		if (label_str(qn, i, l[i], sizeof(l[i])) < 0)
			return nxdomain(c);
	if (!strcmp(l[k - 1], "svc")) {
		const struct dns_service *s;
		if (k == 1)
			return nodata(c);
		if (k == 2)
			return pmap_get(&c->db->namespaces, l[0]) ? nodata(c) : nxdomain(c);
		s = dns_db_get(c->db, l[k - 2], l[k - 3]);
		if (!s)
			return nxdomain(c);
		if (k == 3)
			return answer_service(c, s);
		if (k == 4)
			return answer_endpoint(c, s, l[0]);
		/* k == 5: _port._proto.<svc>.<ns>.svc */
		if (l[0][0] != '_' || !proto_label(l[1]) || s->external_name)
			return nxdomain(c);
		if (c->q->qtype != DNS_TYPE_SRV && c->q->qtype != DNS_TYPE_ANY)
			/* the name exists if such a port does */
			return srv_count(s, l[0] + 1, proto_label(l[1])) ? nodata(c) : nxdomain(c);
		if (!answer_srv(c, s, l[0] + 1, proto_label(l[1])))
			return nxdomain(c);
		return;
	}
	if (!strcmp(l[k - 1], "pod")) {
		uint32_t ip;
		if (k < 3)
			return nodata(c);
		if (k > 3 || parse_dashed_ip(l[0], &ip) < 0)
			return nxdomain(c);
		if (wants(c, DNS_TYPE_A))
			return answer_a(c, qn, SEC_AN, ip);
		return nodata(c);
	}
	if (k == 2 && !strcmp(l[0], "ns") && !strcmp(l[1], "dns") && c->db->dns_ip) {
		if (wants(c, DNS_TYPE_A))
			return answer_a(c, qn, SEC_AN, c->db->dns_ip);
		return nodata(c);
	}
	nxdomain(c);
}

struct ptr_find {
	const struct ctx *c;
	uint32_t ip;
	struct dns_name name;
	bool found;
};

static int find_ptr(const char *key, void *value, void *data)
{
	struct ptr_find *f = data;
	const struct dns_service *s = value;

	(void)key;
	if (!s->headless && s->cluster_ip && s->cluster_ip == f->ip)
		f->found = service_name(f->c, s, &f->name) == 0;
	for (size_t si = 0; s->headless && si < s->nsubsets && !f->found; si++)
		for (size_t ai = 0; ai < s->subsets[si].naddrs && !f->found; ai++)
			if (s->subsets[si].addrs[ai].ip == f->ip)
				f->found = endpoint_name(f->c, s, &s->subsets[si].addrs[ai], &f->name) == 0;
	return f->found; /* stop at the first */
}

/* d.c.b.a.in-addr.arpa for a ClusterIP or a headless endpoint. Returns
 * false when the address is not ours (the question goes upstream). */
static bool answer_ptr(struct ctx *c)
{
	const struct dns_name *qn = &c->q->qname;
	struct ptr_find f = { .c = c };
	char l[4];

	if (qn->nlabels != 6 || !label_is(qn, 4, "in-addr") || !label_is(qn, 5, "arpa"))
		return false;
	for (int i = 0; i < 4; i++) {
		char *end;
		unsigned long v;
		if (label_str(qn, i, l, sizeof(l)) < 0 || !isdigit((unsigned char)l[0]))
			return false;
		v = strtoul(l, &end, 10);
		if (*end || v > 255)
			return false;
		f.ip |= (uint32_t)v << (8 * i);
	}
	pmap_foreach((struct pmap *)&c->db->services, find_ptr, &f);
	if (!f.found)
		return false;
	c->aa = true;
	if (wants(c, DNS_TYPE_PTR)) {
		struct rdata rd = { .type = DNS_TYPE_PTR, .target = &f.name };
		add_rr(c->r, SEC_AN, qn, DNS_TTL, &rd);
	}
	return true;
}

static void put_header(uint8_t *out, uint16_t id, uint16_t flags, const uint16_t counts[4])
{
	out[0] = (uint8_t)(id >> 8);
	out[1] = (uint8_t)id;
	out[2] = (uint8_t)(flags >> 8);
	out[3] = (uint8_t)flags;
	for (int i = 0; i < 4; i++) {
		out[4 + 2 * i] = (uint8_t)(counts[i] >> 8);
		out[5 + 2 * i] = (uint8_t)counts[i];
	}
}

/* The OPT record of a reply: our UDP size, the extended rcode bits, DO echoed. */
static void put_opt(struct writer *w, const struct dns_query *q, int rcode)
{
	put(w, "", 1);
	put16(w, DNS_TYPE_OPT);
	put16(w, DNS_UDP_MAX);
	put32(w, (uint32_t)((rcode >> 4) & 0xff) << 24 | (q->edns_do ? 0x8000u : 0));
	put16(w, 0);
}

static size_t reply_limit(const struct dns_query *q, bool tcp, size_t cap)
{
	size_t limit = tcp ? 65535 : (q->edns ? q->udp_size : DNS_UDP_MIN);

	if (!tcp && limit > DNS_UDP_MAX)
		limit = DNS_UDP_MAX;
	return limit < cap ? limit : cap;
}

enum dns_action dns_answer(const struct dns_db *db, const uint8_t *msg, size_t len, bool tcp, uint8_t *out,
			   size_t cap, size_t *out_len, int *rcode)
{
	struct dns_query q;
	struct reply r;
	struct ctx c = { .db = db, .q = &q, .r = &r };
	enum dns_parse_result pr = dns_parse_query(msg, len, &q);
	const struct dns_name *dn = &db->domain_name;
	size_t limit, reserve;
	uint16_t counts[4], flags;
	int k;

	*out_len = 0;
	if (rcode)
		*rcode = -1;
	if (pr == DNS_PARSE_DROP)
		return DNS_DROP;
	if (pr != DNS_PARSE_OK) {
		int rc = pr == DNS_PARSE_NOTIMP ? DNS_NOTIMP : DNS_FORMERR;
		*out_len = dns_error_reply(msg, len, rc, out, cap);
		if (rcode)
			*rcode = rc;
		return *out_len ? DNS_REPLY : DNS_DROP;
	}
	limit = reply_limit(&q, tcp, cap);
	reserve = q.edns ? 11 : 0;
	if (limit < DNS_HEADER_LEN + q.qname.len + 4 + reserve)
		return DNS_DROP;
	memset(&r, 0, sizeof(r));
	r.w.buf = out;
	r.w.cap = limit - reserve;
	r.w.len = DNS_HEADER_LEN;
	put_name(&r.w, &q.qname, true);
	put16(&r.w, q.qtype);
	put16(&r.w, q.qclass);

	if (q.edns && q.edns_version != 0) {
		c.rcode = DNS_BADVERS;
		goto finish;
	}
	k = q.qname.nlabels - dn->nlabels;
	if (k >= 0 && names_equal_from(&q.qname, k, dn, 0)) {
		if (q.qclass != DNS_CLASS_IN && q.qclass != DNS_CLASS_ANY)
			c.rcode = DNS_REFUSED;
		else if (q.qtype == DNS_TYPE_OPT)
			c.rcode = DNS_FORMERR;
		else
			answer_cluster(&c, k);
		goto finish;
	}
	if ((q.qclass == DNS_CLASS_IN || q.qclass == DNS_CLASS_ANY) && answer_ptr(&c))
		goto finish;
	return DNS_FORWARD;

finish:
	r.w.cap = limit; /* the reserved bytes are for the OPT record */
	if (q.edns)
		put_opt(&r.w, &q, c.rcode);
	flags = DNS_FLAG_QR | (q.flags & (0x7800 | DNS_FLAG_RD | DNS_FLAG_CD)) | DNS_FLAG_RA |
		(c.aa ? DNS_FLAG_AA : 0) | (r.tc ? DNS_FLAG_TC : 0) | (uint16_t)(c.rcode & 0xf);
	counts[0] = 1;
	counts[1] = r.count[SEC_AN];
	counts[2] = r.count[SEC_NS];
	counts[3] = (uint16_t)(r.count[SEC_AR] + (q.edns ? 1 : 0));
	put_header(out, q.id, flags, counts);
	*out_len = r.w.len;
	if (rcode)
		*rcode = c.rcode;
	return DNS_REPLY;
}

size_t dns_error_reply(const uint8_t *msg, size_t len, int rcode, uint8_t *out, size_t cap)
{
	uint16_t counts[4] = { 0, 0, 0, 0 }, flags;
	struct writer w = { .buf = out, .cap = cap, .len = DNS_HEADER_LEN };
	struct dns_name qn;
	size_t pos = DNS_HEADER_LEN;

	if (len < DNS_HEADER_LEN || cap < DNS_HEADER_LEN)
		return 0;
	flags = get16(msg + 2);
	/* Echo the question when there is exactly one and it reads cleanly. */
	if (get16(msg + 4) == 1 && dns_read_name(msg, len, &pos, &qn) == 0 && pos + 4 <= len &&
	    put_name(&w, &qn, false) == 0 && put(&w, msg + pos, 4) == 0)
		counts[0] = 1;
	else
		w.len = DNS_HEADER_LEN;
	flags = DNS_FLAG_QR | (flags & (0x7800 | DNS_FLAG_RD | DNS_FLAG_CD)) | DNS_FLAG_RA | (uint16_t)(rcode & 0xf);
	put_header(out, get16(msg), flags, counts);
	return w.len;
}

static int read_question(const uint8_t *msg, size_t len, struct dns_name *n, uint16_t *type, uint16_t *class)
{
	size_t pos = DNS_HEADER_LEN;

	if (len < DNS_HEADER_LEN || get16(msg + 4) != 1 || dns_read_name(msg, len, &pos, n) < 0 || pos + 4 > len)
		return -1;
	*type = get16(msg + pos);
	*class = get16(msg + pos + 2);
	return 0;
}

bool dns_reply_matches(const uint8_t *resp, size_t resp_len, const uint8_t *query, size_t query_len)
{
	struct dns_name a, b;
	uint16_t ta, ca, tb, cb;

	if (resp_len < DNS_HEADER_LEN || query_len < DNS_HEADER_LEN || !(get16(resp + 2) & DNS_FLAG_QR) ||
	    get16(resp) != get16(query))
		return false;
	if (read_question(resp, resp_len, &a, &ta, &ca) < 0 || read_question(query, query_len, &b, &tb, &cb) < 0)
		return false;
	return ta == tb && ca == cb && names_equal_from(&a, 0, &b, 0);
}

/* ---- resolv.conf ---------------------------------------------------------------------- */

int dns_parse_resolv_conf(const char *text, struct sockaddr_storage *out, int max)
{
	const char *p = text;
	int n = 0;

	while (*p && n < max) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		char line[256], word[32], addr[128];

		if (l < sizeof(line)) {
			memcpy(line, p, l);
			line[l] = 0;
			line[strcspn(line, "#;")] = 0;
			if (sscanf(line, "%31s %127s", word, addr) == 2 && !strcmp(word, "nameserver")) {
				struct sockaddr_in *v4 = (struct sockaddr_in *)&out[n];
				struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out[n];
				addr[strcspn(addr, "%")] = 0; /* a link-local scope: not supported */
				memset(&out[n], 0, sizeof(out[n]));
				if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
					v4->sin_family = AF_INET;
					v4->sin_port = htons(53);
					n++;
				} else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
					v6->sin6_family = AF_INET6;
					v6->sin6_port = htons(53);
					n++;
				}
			}
		}
		p += l + (eol ? 1 : 0);
	}
	return n;
}
