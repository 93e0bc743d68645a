/*
 * Unit tests for src/proxy/dns.c: names, the query parser on good and
 * malformed packets, and the answers of the cluster DNS for a small
 * table of Services (plain, headless, ExternalName, unnamed port, big),
 * each row a query and the reply it must get.
 */
#include "core/util.h"
#include "proxy/dns.h"
#include "testing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ---- helpers: build queries, read replies --------------------------------------- */

struct qopts {
	uint16_t id;
	uint16_t flags;     /* default RD */
	uint16_t qclass;    /* default IN */
	uint16_t edns;      /* 0: no OPT record; else the UDP size offered */
	uint8_t edns_version;
};

static size_t build_query(uint8_t *buf, const char *name, uint16_t qtype, const struct qopts *o)
{
	struct dns_name n;
	size_t len = DNS_HEADER_LEN;
	uint16_t flags = o && o->flags ? o->flags : DNS_FLAG_RD;
	uint16_t id = o && o->id ? o->id : 0x1234;

	memset(buf, 0, DNS_HEADER_LEN);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = (uint8_t)(flags >> 8);
	buf[3] = (uint8_t)flags;
	buf[5] = 1;
	if (dns_name_from_text(&n, name) < 0)
		abort();
	memcpy(buf + len, n.wire, n.len);
	len += n.len;
	buf[len++] = (uint8_t)(qtype >> 8);
	buf[len++] = (uint8_t)qtype;
	buf[len++] = (uint8_t)((o && o->qclass ? o->qclass : DNS_CLASS_IN) >> 8);
	buf[len++] = (uint8_t)(o && o->qclass ? o->qclass : DNS_CLASS_IN);
	if (o && o->edns) {
		buf[11] = 1;
		buf[len++] = 0;                      /* root */
		buf[len++] = 0, buf[len++] = 41;     /* OPT */
		buf[len++] = (uint8_t)(o->edns >> 8), buf[len++] = (uint8_t)o->edns;
		buf[len++] = 0, buf[len++] = o->edns_version, buf[len++] = 0, buf[len++] = 0;
		buf[len++] = 0, buf[len++] = 0;      /* rdlen */
	}
	return len;
}

struct reply_view {
	uint16_t id, flags;
	int rcode;
	uint16_t qd, an, ns, ar;
	char answers[4096];  /* "A 10.96.0.20|SRV 0 100 80 web..." */
	char authority[512];
	char additional[2048];
	int opt_class;       /* -1: no OPT */
	int ext_rcode;
	struct dns_name qname;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void append(char *dst, size_t size, const char *s)
{
	if (*dst)
		strncat(dst, "|", size - strlen(dst) - 1);
	strncat(dst, s, size - strlen(dst) - 1);
}

static int read_rrs(const uint8_t *m, size_t len, size_t *pos, int count, char *dst, size_t size,
		    struct reply_view *v)
{
	for (int i = 0; i < count; i++) {
		struct dns_name owner, target;
		char line[2400], t1[1100], t2[1100];
		uint16_t type, rdlen;
		size_t rd;

		if (dns_read_name(m, len, pos, &owner) < 0 || *pos + 10 > len)
			return -1;
		type = rd16(m + *pos);
		rdlen = rd16(m + *pos + 8);
		if (type == DNS_TYPE_OPT) {
			v->opt_class = rd16(m + *pos + 2);
			v->ext_rcode = m[*pos + 4];
		}
		*pos += 10;
		rd = *pos;
		if (*pos + rdlen > len)
			return -1;
		dns_name_to_text(&owner, t1, sizeof(t1));
		switch (type) {
		case DNS_TYPE_A:
			snprintf(line, sizeof(line), "A %u.%u.%u.%u", m[rd], m[rd + 1], m[rd + 2], m[rd + 3]);
			break;
		case DNS_TYPE_CNAME:
		case DNS_TYPE_PTR:
		case DNS_TYPE_NS:
			if (dns_read_name(m, len, &rd, &target) < 0)
				return -1;
			dns_name_to_text(&target, t2, sizeof(t2));
			snprintf(line, sizeof(line), "%s %s", type == DNS_TYPE_CNAME ? "CNAME" : type == DNS_TYPE_PTR ? "PTR" : "NS",
				 t2);
			break;
		case DNS_TYPE_SRV:
			rd += 6;
			if (dns_read_name(m, len, &rd, &target) < 0)
				return -1;
			dns_name_to_text(&target, t2, sizeof(t2));
			snprintf(line, sizeof(line), "SRV %u %u %u %s", rd16(m + *pos), rd16(m + *pos + 2), rd16(m + *pos + 4),
				 t2);
			break;
		case DNS_TYPE_SOA:
			snprintf(line, sizeof(line), "SOA %s", t1);
			break;
		case DNS_TYPE_OPT:
			snprintf(line, sizeof(line), "OPT");
			break;
		default:
			snprintf(line, sizeof(line), "TYPE%u", type);
		}
		/* answers are named after the question; say so when they are not */
		if (dst == v->additional && type == DNS_TYPE_A)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), " @%s", t1);
		append(dst, size, line);
		*pos += rdlen;
	}
	return 0;
}

static int view_reply(const uint8_t *m, size_t len, struct reply_view *v)
{
	size_t pos = DNS_HEADER_LEN;

	memset(v, 0, sizeof(*v));
	v->opt_class = -1;
	if (len < DNS_HEADER_LEN)
		return -1;
	v->id = rd16(m);
	v->flags = rd16(m + 2);
	v->rcode = v->flags & 0xf;
	v->qd = rd16(m + 4);
	v->an = rd16(m + 6);
	v->ns = rd16(m + 8);
	v->ar = rd16(m + 10);
	for (int i = 0; i < v->qd; i++) {
		if (dns_read_name(m, len, &pos, &v->qname) < 0)
			return -1;
		pos += 4;
	}
	if (read_rrs(m, len, &pos, v->an, v->answers, sizeof(v->answers), v) < 0 ||
	    read_rrs(m, len, &pos, v->ns, v->authority, sizeof(v->authority), v) < 0 ||
	    read_rrs(m, len, &pos, v->ar, v->additional, sizeof(v->additional), v) < 0)
		return -1;
	return pos == len ? 0 : -1;
}

/* ---- the table of services ------------------------------------------------------------ */

static void put_json(struct dns_db *db, const char *svc, const char *eps)
{
	json_error_t e;
	json_t *s = json_loads(svc, 0, &e), *p = eps ? json_loads(eps, 0, &e) : NULL;
	struct dns_service *d;

	if (!s || (eps && !p)) {
		fprintf(stderr, "bad test json: %s\n", e.text);
		abort();
	}
	d = dns_service_from_json(s, p);
	CHECK(d != NULL);
	if (d)
		dns_db_put(db, d);
	json_decref(s);
	json_decref(p);
}

static void fill_db(struct dns_db *db)
{
	struct strbuf big;

	CHECK_INT(dns_db_init(db, "cluster.local"), 0);
	db->dns_ip = 0x0a60000a;
	put_json(db,
		 "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.20\","
		 "\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"},{\"name\":\"metrics\",\"port\":9090}]}}",
		 "{\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.1.5\"},{\"ip\":\"10.244.1.6\"}],"
		 "\"notReadyAddresses\":[{\"ip\":\"10.244.1.9\"}],\"ports\":[{\"name\":\"http\",\"port\":8080}]}]}");
	put_json(db,
		 "{\"metadata\":{\"name\":\"db\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"None\","
		 "\"ports\":[{\"name\":\"pg\",\"port\":5432}]}}",
		 "{\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.2.7\",\"hostname\":\"db-0\"},{\"ip\":\"10.244.2.8\"}],"
		 "\"ports\":[{\"name\":\"pg\",\"port\":5432,\"protocol\":\"TCP\"}]}]}");
	put_json(db,
		 "{\"metadata\":{\"name\":\"empty\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"None\","
		 "\"ports\":[{\"name\":\"x\",\"port\":1}]}}",
		 NULL);
	put_json(db,
		 "{\"metadata\":{\"name\":\"ext\",\"namespace\":\"default\"},\"spec\":{\"type\":\"ExternalName\","
		 "\"externalName\":\"example.org\"}}",
		 NULL);
	put_json(db,
		 "{\"metadata\":{\"name\":\"unnamed\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.30\","
		 "\"ports\":[{\"port\":80}]}}",
		 NULL);
	put_json(db,
		 "{\"metadata\":{\"name\":\"kube-dns\",\"namespace\":\"kube-system\"},\"spec\":{\"clusterIP\":\"10.96.0.10\","
		 "\"ports\":[{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"},{\"name\":\"dns-tcp\",\"port\":53,"
		 "\"protocol\":\"TCP\"}]}}",
		 NULL);
	strbuf_init(&big, 4096);
	strbuf_adds(&big, "{\"subsets\":[{\"addresses\":[");
	for (int i = 0; i < 60; i++)
		strbuf_addf(&big, "%s{\"ip\":\"10.244.9.%d\"}", i ? "," : "", i + 1);
	strbuf_adds(&big, "],\"ports\":[{\"name\":\"p\",\"port\":7}]}]}");
	put_json(db,
		 "{\"metadata\":{\"name\":\"big\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"None\","
		 "\"ports\":[{\"name\":\"p\",\"port\":7}]}}",
		 big.buf);
	strbuf_release(&big);
}

/* ---- answer table ----------------------------------------------------------------------- */

#define FWD (-2)

struct answer_case {
	const char *name;
	uint16_t qtype;
	int rcode;            /* FWD: the query must be forwarded */
	const char *answers;  /* "|"-joined, in order */
	const char *authority;
	const char *additional; /* NULL: not checked */
};

static const struct answer_case answer_cases[] = {
	{ "web.default.svc.cluster.local", DNS_TYPE_A, DNS_NOERROR, "A 10.96.0.20", "", "" },
	{ "WEB.Default.Svc.Cluster.LOCAL.", DNS_TYPE_A, DNS_NOERROR, "A 10.96.0.20", "", "" },
	{ "web.default.svc.cluster.local", DNS_TYPE_ANY, DNS_NOERROR, "A 10.96.0.20", "", "" },
	{ "web.default.svc.cluster.local", DNS_TYPE_AAAA, DNS_NOERROR, "", "SOA cluster.local.", "" },
	{ "web.default.svc.cluster.local", DNS_TYPE_TXT, DNS_NOERROR, "", "SOA cluster.local.", "" },
	{ "nope.default.svc.cluster.local", DNS_TYPE_A, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	{ "web.nons.svc.cluster.local", DNS_TYPE_A, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	{ "web.default.svc.cluster.local.default.svc.cluster.local", DNS_TYPE_A, DNS_NXDOMAIN, "",
	  "SOA cluster.local.", "" },
	{ "default.svc.cluster.local", DNS_TYPE_A, DNS_NOERROR, "", "SOA cluster.local.", "" },
	{ "nons.svc.cluster.local", DNS_TYPE_A, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	{ "svc.cluster.local", DNS_TYPE_A, DNS_NOERROR, "", "SOA cluster.local.", "" },
	{ "cluster.local", DNS_TYPE_SOA, DNS_NOERROR, "SOA cluster.local.", "", "" },
	{ "cluster.local", DNS_TYPE_NS, DNS_NOERROR, "NS ns.dns.cluster.local.", "", "A 10.96.0.10 @ns.dns.cluster.local." },
	{ "cluster.local", DNS_TYPE_A, DNS_NOERROR, "", "SOA cluster.local.", "" },
	{ "ns.dns.cluster.local", DNS_TYPE_A, DNS_NOERROR, "A 10.96.0.10", "", "" },
	{ "other.cluster.local", DNS_TYPE_A, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	/* headless: the ready endpoints, never the not-ready ones */
	{ "db.default.svc.cluster.local", DNS_TYPE_A, DNS_NOERROR, "A 10.244.2.7|A 10.244.2.8", "", "" },
	{ "db-0.db.default.svc.cluster.local", DNS_TYPE_A, DNS_NOERROR, "A 10.244.2.7", "", "" },
	{ "10-244-2-8.db.default.svc.cluster.local", DNS_TYPE_A, DNS_NOERROR, "A 10.244.2.8", "", "" },
	{ "10-244-2-7.db.default.svc.cluster.local", DNS_TYPE_A, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	{ "db-0.db.default.svc.cluster.local", DNS_TYPE_AAAA, DNS_NOERROR, "", "SOA cluster.local.", "" },
	{ "db-9.db.default.svc.cluster.local", DNS_TYPE_A, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	{ "x.web.default.svc.cluster.local", DNS_TYPE_A, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	{ "empty.default.svc.cluster.local", DNS_TYPE_A, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	/* SRV */
	{ "_http._tcp.web.default.svc.cluster.local", DNS_TYPE_SRV, DNS_NOERROR,
	  "SRV 0 100 80 web.default.svc.cluster.local.", "", "A 10.96.0.20 @web.default.svc.cluster.local." },
	{ "_HTTP._TCP.web.default.svc.cluster.local", DNS_TYPE_SRV, DNS_NOERROR,
	  "SRV 0 100 80 web.default.svc.cluster.local.", "", NULL },
	{ "_metrics._tcp.web.default.svc.cluster.local", DNS_TYPE_SRV, DNS_NOERROR,
	  "SRV 0 100 9090 web.default.svc.cluster.local.", "", NULL },
	{ "web.default.svc.cluster.local", DNS_TYPE_SRV, DNS_NOERROR,
	  "SRV 0 50 80 web.default.svc.cluster.local.|SRV 0 50 9090 web.default.svc.cluster.local.", "", NULL },
	{ "_http._udp.web.default.svc.cluster.local", DNS_TYPE_SRV, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	{ "_nope._tcp.web.default.svc.cluster.local", DNS_TYPE_SRV, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	{ "http._tcp.web.default.svc.cluster.local", DNS_TYPE_SRV, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	{ "_http._tcp.web.default.svc.cluster.local", DNS_TYPE_A, DNS_NOERROR, "", "SOA cluster.local.", "" },
	{ "_tcp.web.default.svc.cluster.local", DNS_TYPE_A, DNS_NOERROR, "", "SOA cluster.local.", "" },
	{ "_udp.web.default.svc.cluster.local", DNS_TYPE_SRV, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	{ "_dns._udp.kube-dns.kube-system.svc.cluster.local", DNS_TYPE_SRV, DNS_NOERROR,
	  "SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.", "", NULL },
	{ "_pg._tcp.db.default.svc.cluster.local", DNS_TYPE_SRV, DNS_NOERROR,
	  "SRV 0 50 5432 db-0.db.default.svc.cluster.local.|SRV 0 50 5432 10-244-2-8.db.default.svc.cluster.local.", "",
	  "A 10.244.2.7 @db-0.db.default.svc.cluster.local.|A 10.244.2.8 @10-244-2-8.db.default.svc.cluster.local." },
	{ "unnamed.default.svc.cluster.local", DNS_TYPE_A, DNS_NOERROR, "A 10.96.0.30", "", "" },
	{ "unnamed.default.svc.cluster.local", DNS_TYPE_SRV, DNS_NOERROR, "", "SOA cluster.local.", "" },
	/* ExternalName */
	{ "ext.default.svc.cluster.local", DNS_TYPE_A, DNS_NOERROR, "CNAME example.org.", "", "" },
	{ "ext.default.svc.cluster.local", DNS_TYPE_AAAA, DNS_NOERROR, "CNAME example.org.", "", "" },
	/* pods */
	{ "10-244-1-5.default.pod.cluster.local", DNS_TYPE_A, DNS_NOERROR, "A 10.244.1.5", "", "" },
	{ "10-244-1-500.default.pod.cluster.local", DNS_TYPE_A, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	{ "web.default.pod.cluster.local", DNS_TYPE_A, DNS_NXDOMAIN, "", "SOA cluster.local.", "" },
	/* reverse */
	{ "20.0.96.10.in-addr.arpa", DNS_TYPE_PTR, DNS_NOERROR, "PTR web.default.svc.cluster.local.", "", "" },
	{ "7.2.244.10.in-addr.arpa", DNS_TYPE_PTR, DNS_NOERROR, "PTR db-0.db.default.svc.cluster.local.", "", "" },
	{ "8.2.244.10.in-addr.arpa", DNS_TYPE_PTR, DNS_NOERROR, "PTR 10-244-2-8.db.default.svc.cluster.local.", "", "" },
	{ "5.1.244.10.in-addr.arpa", DNS_TYPE_PTR, FWD, NULL, NULL, NULL },
	{ "1.1.168.192.in-addr.arpa", DNS_TYPE_PTR, FWD, NULL, NULL, NULL },
	/* everything else goes upstream */
	{ "example.com", DNS_TYPE_A, FWD, NULL, NULL, NULL },
	{ "local", DNS_TYPE_A, FWD, NULL, NULL, NULL },
	{ "cluster.local.example.com", DNS_TYPE_A, FWD, NULL, NULL, NULL },
	{ ".", DNS_TYPE_NS, FWD, NULL, NULL, NULL },
};

static void test_answers(const struct dns_db *db)
{
	for (size_t i = 0; i < ARRAY_SIZE(answer_cases); i++) {
		const struct answer_case *c = &answer_cases[i];
		uint8_t q[512], out[DNS_UDP_MAX];
		size_t qlen = build_query(q, c->name, c->qtype, NULL), olen = 0;
		enum dns_action a = dns_answer(db, q, qlen, false, out, sizeof(out), &olen, NULL);
		struct reply_view v;

		if (c->rcode == FWD) {
			if (a != DNS_FORWARD)
				fprintf(stderr, "case %zu %s: not forwarded\n", i, c->name);
			CHECK_INT(a, DNS_FORWARD);
			continue;
		}
		CHECK_INT(a, DNS_REPLY);
		if (a != DNS_REPLY || view_reply(out, olen, &v) < 0) {
			fprintf(stderr, "case %zu %s: no readable reply\n", i, c->name);
			test_failures++;
			continue;
		}
		if (v.rcode != c->rcode || strcmp(v.answers, c->answers) || strcmp(v.authority, c->authority) ||
		    (c->additional && strcmp(v.additional, c->additional)))
			fprintf(stderr, "case %zu %s type %u: rcode %d an [%s] ns [%s] ar [%s]\n", i, c->name, c->qtype,
				v.rcode, v.answers, v.authority, v.additional);
		CHECK_INT(v.rcode, c->rcode);
		CHECK_STR(v.answers, c->answers);
		CHECK_STR(v.authority, c->authority);
		if (c->additional)
			CHECK_STR(v.additional, c->additional);
		CHECK_INT(v.id, 0x1234);
		CHECK(v.flags & DNS_FLAG_QR);
		CHECK(v.flags & DNS_FLAG_AA);
		CHECK(v.flags & DNS_FLAG_RD);
		CHECK(!(v.flags & DNS_FLAG_TC));
		CHECK_INT(v.qd, 1);
		CHECK(olen <= DNS_UDP_MIN);
	}
}

/* The question comes back as asked, case included (0x20 randomization). */
static void test_case_preserved(const struct dns_db *db)
{
	uint8_t q[512], out[DNS_UDP_MAX];
	size_t qlen = build_query(q, "wEb.DeFault.svc.cluster.local", DNS_TYPE_A, NULL), olen;
	char text[1100];
	struct reply_view v;

	CHECK_INT(dns_answer(db, q, qlen, false, out, sizeof(out), &olen, NULL), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	dns_name_to_text(&v.qname, text, sizeof(text));
	CHECK_STR(text, "wEb.DeFault.svc.cluster.local.");
	/* the answer's owner is a pointer to the question */
	CHECK(olen == qlen + 16);
}

static void test_truncation(const struct dns_db *db)
{
	uint8_t q[512], out[65535];
	struct qopts edns = { .edns = 4096 }, small = { .edns = 100 };
	size_t qlen, olen;
	struct reply_view v;

	/* 60 A records do not fit 512 bytes: keep what fits, set TC */
	qlen = build_query(q, "big.default.svc.cluster.local", DNS_TYPE_A, NULL);
	CHECK_INT(dns_answer(db, q, qlen, false, out, DNS_UDP_MAX, &olen, NULL), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	CHECK(v.flags & DNS_FLAG_TC);
	CHECK(olen <= 512);
	CHECK(v.an > 10 && v.an < 60);
	CHECK_INT(v.ns, 0);
	/* over TCP all of them */
	CHECK_INT(dns_answer(db, q, qlen, true, out, sizeof(out), &olen, NULL), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	CHECK(!(v.flags & DNS_FLAG_TC));
	CHECK_INT(v.an, 60);
	/* EDNS: the client's size, capped at DNS_UDP_MAX; an OPT comes back */
	qlen = build_query(q, "big.default.svc.cluster.local", DNS_TYPE_A, &edns);
	CHECK_INT(dns_answer(db, q, qlen, false, out, DNS_UDP_MAX, &olen, NULL), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	CHECK(!(v.flags & DNS_FLAG_TC));
	CHECK_INT(v.an, 60);
	CHECK_INT(v.opt_class, DNS_UDP_MAX);
	CHECK(olen <= DNS_UDP_MAX);
	/* an EDNS size under 512 means 512 */
	qlen = build_query(q, "big.default.svc.cluster.local", DNS_TYPE_A, &small);
	CHECK_INT(dns_answer(db, q, qlen, false, out, DNS_UDP_MAX, &olen, NULL), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	CHECK(v.flags & DNS_FLAG_TC);
	CHECK(olen <= 512);
	CHECK_INT(v.opt_class, DNS_UDP_MAX); /* the OPT record always fits */
	/* SRV with additional records over TCP */
	qlen = build_query(q, "_p._tcp.big.default.svc.cluster.local", DNS_TYPE_SRV, NULL);
	CHECK_INT(dns_answer(db, q, qlen, true, out, sizeof(out), &olen, NULL), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	CHECK_INT(v.an, 60);
	CHECK_INT(v.ar, 60);
}

static void test_edns_and_classes(const struct dns_db *db)
{
	uint8_t q[512], out[DNS_UDP_MAX];
	struct qopts v1 = { .edns = 1232, .edns_version = 1 }, ch = { .qclass = 3 }, any = { .qclass = DNS_CLASS_ANY };
	size_t qlen, olen;
	struct reply_view v;
	int rcode;

	qlen = build_query(q, "web.default.svc.cluster.local", DNS_TYPE_A, &v1);
	CHECK_INT(dns_answer(db, q, qlen, false, out, sizeof(out), &olen, &rcode), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	CHECK_INT(rcode, DNS_BADVERS);
	CHECK_INT(v.rcode, 0);
	CHECK_INT(v.ext_rcode, 1); /* BADVERS is 16: the upper bits live in the OPT record */
	CHECK_STR(v.answers, "");

	qlen = build_query(q, "web.default.svc.cluster.local", DNS_TYPE_A, &ch);
	CHECK_INT(dns_answer(db, q, qlen, false, out, sizeof(out), &olen, NULL), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	CHECK_INT(v.rcode, DNS_REFUSED);
	qlen = build_query(q, "version.bind", DNS_TYPE_TXT, &ch);
	CHECK_INT(dns_answer(db, q, qlen, false, out, sizeof(out), &olen, NULL), DNS_FORWARD);
	qlen = build_query(q, "web.default.svc.cluster.local", DNS_TYPE_A, &any);
	CHECK_INT(dns_answer(db, q, qlen, false, out, sizeof(out), &olen, NULL), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	CHECK_STR(v.answers, "A 10.96.0.20");
}

/* ---- malformed queries ------------------------------------------------------------------- */

struct bad_case {
	const char *what;
	const uint8_t *pkt;
	size_t len;
	int action;     /* DNS_REPLY or DNS_DROP */
	int rcode;      /* for DNS_REPLY */
	int qd;         /* questions echoed: the question is, when it reads cleanly */
};

#define HDR(id, flags, qd, an, ns, ar) (id) >> 8, (id) & 0xff, (flags) >> 8, (flags) & 0xff, 0, qd, 0, an, 0, ns, 0, ar
#define PKT(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

static const struct bad_case bad_cases[] = {
	{ "empty", (const uint8_t *)"", 0, DNS_DROP, 0, 0 },
	{ "short header", PKT(0x12, 0x34, 1, 0, 0), DNS_DROP, 0, 0 },
	{ "a response", PKT(HDR(0x1234, 0x8100, 1, 0, 0, 0), 1, 'a', 0, 0, 1, 0, 1), DNS_DROP, 0, 0 },
	{ "opcode status", PKT(HDR(0x1234, 0x1100, 1, 0, 0, 0), 1, 'a', 0, 0, 1, 0, 1), DNS_REPLY, DNS_NOTIMP, 1 },
	{ "no question", PKT(HDR(0x1234, 0x0100, 0, 0, 0, 0)), DNS_REPLY, DNS_FORMERR, 0 },
	{ "two questions", PKT(HDR(0x1234, 0x0100, 2, 0, 0, 0), 1, 'a', 0, 0, 1, 0, 1, 1, 'b', 0, 0, 1, 0, 1),
	  DNS_REPLY, DNS_FORMERR, 0 },
	{ "name cut", PKT(HDR(0x1234, 0x0100, 1, 0, 0, 0), 5, 'a', 'b'), DNS_REPLY, DNS_FORMERR, 0 },
	{ "no type", PKT(HDR(0x1234, 0x0100, 1, 0, 0, 0), 1, 'a', 0, 0), DNS_REPLY, DNS_FORMERR, 0 },
	{ "label type 0x40", PKT(HDR(0x1234, 0x0100, 1, 0, 0, 0), 0x41, 'a', 0, 0, 1, 0, 1), DNS_REPLY, DNS_FORMERR, 0 },
	{ "label type 0x80", PKT(HDR(0x1234, 0x0100, 1, 0, 0, 0), 0x81, 'a', 0, 0, 1, 0, 1), DNS_REPLY, DNS_FORMERR, 0 },
	{ "pointer to itself", PKT(HDR(0x1234, 0x0100, 1, 0, 0, 0), 0xc0, 12, 0, 1, 0, 1), DNS_REPLY, DNS_FORMERR, 0 },
	{ "pointer forward", PKT(HDR(0x1234, 0x0100, 1, 0, 0, 0), 0xc0, 14, 1, 'a', 0, 0, 1, 0, 1), DNS_REPLY,
	  DNS_FORMERR, 0 },
	{ "pointer cut", PKT(HDR(0x1234, 0x0100, 1, 0, 0, 0), 1, 'a', 0xc0), DNS_REPLY, DNS_FORMERR, 0 },
	/* an answer record whose name points at a pointer that points back */
	{ "pointer loop", PKT(HDR(0x1234, 0x0100, 1, 1, 0, 0), 1, 'a', 0, 0, 1, 0, 1, 0xc0, 23, 0xc0, 21, 0, 1, 0, 1, 0,
			      0, 0, 0, 0, 0),
	  DNS_REPLY, DNS_FORMERR, 1 },
	{ "record cut", PKT(HDR(0x1234, 0x0100, 1, 1, 0, 0), 1, 'a', 0, 0, 1, 0, 1, 0, 0, 1), DNS_REPLY, DNS_FORMERR, 1 },
	{ "rdata past the end", PKT(HDR(0x1234, 0x0100, 1, 1, 0, 0), 1, 'a', 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 5, 0,
				    9, 1, 2),
	  DNS_REPLY, DNS_FORMERR, 1 },
	{ "arcount without record", PKT(HDR(0x1234, 0x0100, 1, 0, 0, 1), 1, 'a', 0, 0, 1, 0, 1), DNS_REPLY, DNS_FORMERR, 1 },
	{ "two OPT records", PKT(HDR(0x1234, 0x0100, 1, 0, 0, 2), 1, 'a', 0, 0, 1, 0, 1, 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0,
				 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0),
	  DNS_REPLY, DNS_FORMERR, 1 },
	{ "OPT not at the root", PKT(HDR(0x1234, 0x0100, 1, 0, 0, 1), 1, 'a', 0, 0, 1, 0, 1, 1, 'x', 0, 0, 41, 4, 0, 0, 0,
				     0, 0, 0, 0),
	  DNS_REPLY, DNS_FORMERR, 1 },
};

static void test_malformed(const struct dns_db *db)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		uint8_t out[DNS_UDP_MAX];
		size_t olen = 0;
		struct reply_view v;
		enum dns_action a = dns_answer(db, c->pkt, c->len, false, out, sizeof(out), &olen, NULL);

		if ((int)a != c->action)
			fprintf(stderr, "malformed case '%s': action %d\n", c->what, a);
		CHECK_INT(a, c->action);
		if (a != DNS_REPLY)
			continue;
		CHECK_INT(view_reply(out, olen, &v), 0);
		if (v.rcode != c->rcode)
			fprintf(stderr, "malformed case '%s': rcode %d\n", c->what, v.rcode);
		CHECK_INT(v.rcode, c->rcode);
		CHECK_INT(v.qd, c->qd);
		CHECK_INT(v.id, 0x1234);
		CHECK(v.flags & DNS_FLAG_QR);
	}
}

static void test_long_names(const struct dns_db *db)
{
	uint8_t pkt[600], out[DNS_UDP_MAX];
	size_t len = DNS_HEADER_LEN, olen;
	struct dns_name n;
	struct reply_view v;
	char text[400];

	/* labels of 63 are fine, 64 is a label type, a name over 255 is an error */
	memset(text, 'a', 63);
	text[63] = 0;
	CHECK_INT(dns_name_from_text(&n, text), 0);
	memset(text, 'a', 64);
	text[64] = 0;
	CHECK_INT(dns_name_from_text(&n, text), -1);
	CHECK_INT(dns_name_from_text(&n, "a..b"), -1);
	CHECK_INT(dns_name_from_text(&n, "."), 0);
	CHECK_INT(n.nlabels, 0);

	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x12, pkt[1] = 0x34, pkt[5] = 1;
	for (int i = 0; i < 5; i++) { /* 5 * 64 = 320 bytes of name */
		pkt[len++] = 63;
		memset(pkt + len, 'x', 63);
		len += 63;
	}
	pkt[len++] = 0;
	pkt[len++] = 0, pkt[len++] = 1, pkt[len++] = 0, pkt[len++] = 1;
	CHECK_INT(dns_answer(db, pkt, len, false, out, sizeof(out), &olen, NULL), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	CHECK_INT(v.rcode, DNS_FORMERR);

	/* exactly 255 bytes parses: 3 x 63 + 61 + length bytes + root */
	len = DNS_HEADER_LEN;
	for (int i = 0; i < 3; i++) {
		pkt[len++] = 63;
		memset(pkt + len, 'y', 63);
		len += 63;
	}
	pkt[len++] = 61;
	memset(pkt + len, 'z', 61);
	len += 61;
	pkt[len++] = 0;
	pkt[len++] = 0, pkt[len++] = 1, pkt[len++] = 0, pkt[len++] = 1;
	CHECK_INT(dns_answer(db, pkt, len, false, out, sizeof(out), &olen, NULL), DNS_FORWARD);
	/* labels with odd bytes never match a service */
	len = build_query(pkt, "web.default.svc.cluster.local", DNS_TYPE_A, NULL);
	pkt[DNS_HEADER_LEN + 2] = 0; /* "w\0b" */
	CHECK_INT(dns_answer(db, pkt, len, false, out, sizeof(out), &olen, NULL), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	CHECK_INT(v.rcode, DNS_NXDOMAIN);
}

/* ---- names, helpers, resolv.conf, db ------------------------------------------------------------------ */

static void test_names(void)
{
	struct dns_name n, m;
	char text[1100];
	/* "b.a" at 12, then "c" + pointer to 12 */
	const uint8_t msg[] = { HDR(0, 0, 0, 0, 0, 0), 1, 'b', 1, 'a', 0, 1, 'c', 0xc0, 12 };
	size_t pos = 17;

	CHECK_INT(dns_read_name(msg, sizeof(msg), &pos, &n), 0);
	CHECK_INT(pos, sizeof(msg));
	dns_name_to_text(&n, text, sizeof(text));
	CHECK_STR(text, "c.b.a.");
	CHECK_INT(n.nlabels, 3);
	CHECK_INT(n.len, 7);

	CHECK_INT(dns_name_from_text(&m, "we.ird\\"), 0);
	dns_name_to_text(&m, text, sizeof(text));
	CHECK_STR(text, "we.ird\\092.");
	CHECK_INT(dns_name_from_text(&m, "trailing.dot."), 0);
	CHECK_INT(m.nlabels, 2);
}

static void test_reply_matches(void)
{
	uint8_t q[512], r[512];
	size_t qlen = build_query(q, "example.com", DNS_TYPE_A, NULL), rlen;

	memcpy(r, q, qlen);
	rlen = qlen;
	CHECK(!dns_reply_matches(r, rlen, q, qlen)); /* no QR */
	r[2] |= 0x80;
	CHECK(dns_reply_matches(r, rlen, q, qlen));
	r[DNS_HEADER_LEN + 1] = 'E'; /* case does not matter */
	CHECK(dns_reply_matches(r, rlen, q, qlen));
	r[1] ^= 1;
	CHECK(!dns_reply_matches(r, rlen, q, qlen)); /* another ID */
	r[1] ^= 1;
	r[qlen - 3] = 28; /* another type */
	CHECK(!dns_reply_matches(r, rlen, q, qlen));
	CHECK(!dns_reply_matches(r, 5, q, qlen));
}

static void test_error_reply(void)
{
	uint8_t q[512], out[512];
	size_t qlen = build_query(q, "example.com", DNS_TYPE_A, NULL), n;
	struct reply_view v;

	n = dns_error_reply(q, qlen, DNS_SERVFAIL, out, sizeof(out));
	CHECK(n > DNS_HEADER_LEN);
	CHECK_INT(view_reply(out, n, &v), 0);
	CHECK_INT(v.rcode, DNS_SERVFAIL);
	CHECK_INT(v.qd, 1);
	CHECK(v.flags & DNS_FLAG_RD);
	CHECK_INT(dns_error_reply(q, 5, DNS_SERVFAIL, out, sizeof(out)), 0);
}

static void test_resolv_conf(void)
{
	struct sockaddr_storage ss[4];
	const char *text = "# comment\nsearch example.com\nnameserver 127.0.0.53 # stub\n"
			   "nameserver   ::1\nnameserver not-an-ip\nnameserver 10.0.0.2;x\noptions ndots:5\n"
			   "nameserver fe80::1%eth0\nnameserver 9.9.9.9\n";
	char buf[64];
	int n = dns_parse_resolv_conf(text, ss, 4);

	CHECK_INT(n, 4);
	CHECK_INT(ss[0].ss_family, AF_INET);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss[0])->sin_addr, buf, sizeof(buf));
	CHECK_STR(buf, "127.0.0.53");
	CHECK_INT(ntohs(((struct sockaddr_in *)&ss[0])->sin_port), 53);
	CHECK_INT(ss[1].ss_family, AF_INET6);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss[2])->sin_addr, buf, sizeof(buf));
	CHECK_STR(buf, "10.0.0.2");
	CHECK_INT(ss[3].ss_family, AF_INET6); /* fe80::1 without its scope */
	CHECK_INT(dns_parse_resolv_conf("nameserver 1.1.1.1\nnameserver 2.2.2.2\n", ss, 1), 1);
	CHECK_INT(dns_parse_resolv_conf("", ss, 4), 0);
}

static void test_db(void)
{
	struct dns_db db;
	uint8_t q[512], out[DNS_UDP_MAX];
	size_t qlen, olen;
	struct reply_view v;
	uint32_t serial;

	CHECK_INT(dns_db_init(&db, "bad..domain"), -1);
	CHECK_INT(dns_db_init(&db, "k8s.example."), 0);
	CHECK_STR(db.domain, "k8s.example");
	serial = db.serial;
	put_json(&db, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n1\"},\"spec\":{\"clusterIP\":\"10.0.0.1\"}}", NULL);
	put_json(&db, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n1\"},\"spec\":{\"clusterIP\":\"10.0.0.2\"}}", NULL);
	CHECK(db.serial > serial);
	CHECK_INT(db.services.count, 1);
	CHECK_INT((uintptr_t)pmap_get(&db.namespaces, "n1"), 1);
	qlen = build_query(q, "a.n1.svc.k8s.example", DNS_TYPE_A, NULL);
	CHECK_INT(dns_answer(&db, q, qlen, false, out, sizeof(out), &olen, NULL), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	CHECK_STR(v.answers, "A 10.0.0.2");
	/* cluster.local is not ours under another domain */
	qlen = build_query(q, "a.n1.svc.cluster.local", DNS_TYPE_A, NULL);
	CHECK_INT(dns_answer(&db, q, qlen, false, out, sizeof(out), &olen, NULL), DNS_FORWARD);
	dns_db_del(&db, "n1", "a");
	dns_db_del(&db, "n1", "a");
	CHECK_INT(db.services.count, 0);
	CHECK(pmap_get(&db.namespaces, "n1") == NULL);
	qlen = build_query(q, "a.n1.svc.k8s.example", DNS_TYPE_A, NULL);
	CHECK_INT(dns_answer(&db, q, qlen, false, out, sizeof(out), &olen, NULL), DNS_REPLY);
	CHECK_INT(view_reply(out, olen, &v), 0);
	CHECK_INT(v.rcode, DNS_NXDOMAIN);
	{
		json_t *nameless = json_object();
		CHECK(dns_service_from_json(nameless, NULL) == NULL);
		json_decref(nameless);
	}
	dns_db_release(&db);
}

int main(void)
{
	struct dns_db db;

	fill_db(&db);
	test_answers(&db);
	test_case_preserved(&db);
	test_truncation(&db);
	test_edns_and_classes(&db);
	test_malformed(&db);
	test_long_names(&db);
	dns_db_release(&db);
	test_names();
	test_reply_matches();
	test_error_reply();
	test_resolv_conf();
	test_db();
	return test_done();
}
