/*
 * Cluster DNS without sockets: the wire format (RFC 1035, EDNS from RFC
 * 6891), a table of the Services and Endpoints DNS can see, and the answer
 * logic that turns one query into a reply, or says "forward this upstream".
 * dnsserver.c puts it on UDP and TCP port 53; tests/unit/test-dns.c and
 * tests/fuzz/fuzz-dns.c drive it directly.
 *
 *   query bytes -> dns_parse_query (FORMERR / drop on anything malformed)
 *               -> dns_answer: <svc>.<ns>.svc.<domain> A, SRV, PTR ... from the db
 *                              other names -> DNS_FORWARD (dnsserver asks upstream)
 *
 * Names follow Kubernetes' DNS specification: A for a Service's ClusterIP,
 * the ready endpoint IPs for a headless Service, SRV for named ports
 * (_port._proto.<svc>.<ns>.svc.<domain>), NXDOMAIN for unknown names in the
 * cluster domain, NOERROR with no answer for other types of a name that
 * exists. Addresses are IPv4, in host byte order, everywhere in this API.
 */
#ifndef MINIK8S_PROXY_DNS_H
#define MINIK8S_PROXY_DNS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/pmap.h"

#define DNS_HEADER_LEN 12
#define DNS_MAX_NAME 255   /* wire bytes, length octets and the final 0 included */
#define DNS_MAX_LABELS 127
#define DNS_UDP_MIN 512    /* what every client takes over UDP */
#define DNS_UDP_MAX 1232   /* the most we send over UDP, even if a client offers more */
#define DNS_TTL 5          /* seconds, for every cluster answer (CoreDNS's default) */

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA = 6,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_OPT = 41,
	DNS_TYPE_ANY = 255,
};

enum dns_rcode {
	DNS_NOERROR = 0,
	DNS_FORMERR = 1,
	DNS_SERVFAIL = 2,
	DNS_NXDOMAIN = 3,
	DNS_NOTIMP = 4,
	DNS_REFUSED = 5,
	DNS_BADVERS = 16,  /* extended rcode: only in an OPT record */
};

#define DNS_CLASS_IN 1
#define DNS_CLASS_ANY 255

/* Header flag bits (the 16-bit word after the ID). */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_FLAG_CD 0x0010
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xf)
#define DNS_RCODE(flags) ((flags) & 0xf)

/*
 * A name in wire form, uncompressed, case preserved, ending with the root
 * label (a 0 byte). label[i] is the offset of label i's length byte; the
 * root label is not counted in nlabels.
 */
struct dns_name {
	uint8_t wire[DNS_MAX_NAME];
	uint16_t len;
	uint8_t nlabels;
	uint8_t label[DNS_MAX_LABELS];
};

/* "web.default.svc.cluster.local" -> wire form. Returns 0, or -1 for an
 * empty label, a label over 63 bytes or a name over 255. A trailing dot is
 * allowed; "" and "." are the root. */
int dns_name_from_text(struct dns_name *n, const char *text);
/* The name as text with a trailing dot ("web.default.svc.cluster.local."),
 * bytes other than letters, digits, '-' and '_' escaped as \DDD. buf should
 * hold 4 * DNS_MAX_NAME + 1 bytes. */
void dns_name_to_text(const struct dns_name *n, char *buf, size_t size);

/*
 * Reads a possibly compressed name at *pos of msg. Every compression pointer
 * must point before the label that holds it, so a loop cannot happen;
 * reserved label types, labels running past the message and names over 255
 * bytes are errors. On success *pos is just past the name as it sits at
 * *pos. Returns 0 or -1.
 */
int dns_read_name(const uint8_t *msg, size_t len, size_t *pos, struct dns_name *out);

/* What dns_parse_query found. */
struct dns_query {
	uint16_t id;
	uint16_t flags;
	struct dns_name qname;
	uint16_t qtype, qclass;
	bool edns;          /* the query carried an OPT record */
	uint8_t edns_version;
	bool edns_do;       /* DNSSEC OK bit */
	uint16_t udp_size;  /* payload the client accepts over UDP: 512 without EDNS */
};

enum dns_parse_result {
	DNS_PARSE_OK = 0,
	DNS_PARSE_DROP = -1,    /* not worth an answer: shorter than a header, or a response */
	DNS_PARSE_FORMERR = -2, /* header readable, the rest is not: answer FORMERR */
	DNS_PARSE_NOTIMP = -3,  /* an opcode other than QUERY */
};

/* Parses a query defensively (any byte string is safe to pass). Exactly one
 * question; answer and authority records are skipped; the additional
 * section may hold one OPT record. */
enum dns_parse_result dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q);

/*
 * A Service as DNS sees it, built from the Service and its Endpoints. The
 * struct owns everything it points to; dns_service_free releases it.
 */
struct dns_port {
	char *name;      /* "" for an unnamed port */
	uint8_t proto;   /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
	uint16_t port;
};

struct dns_address {
	uint32_t ip;
	char *hostname;  /* endpoint hostname, or NULL */
};

/* One Endpoints subset: ready addresses that all serve the same ports. */
struct dns_subset {
	struct dns_address *addrs;
	size_t naddrs;
	struct dns_port *ports;
	size_t nports;
};

struct dns_service {
	char *ns, *name;
	uint32_t cluster_ip;   /* 0 when headless or ExternalName */
	bool headless;         /* clusterIP: None */
	char *external_name;   /* type ExternalName: the CNAME target, else NULL */
	struct dns_port *ports;
	size_t nports;
	struct dns_subset *subsets;  /* ready addresses only */
	size_t nsubsets;
};

/* Builds the DNS view of svc (borrowed) and its Endpoints eps (borrowed, may
 * be NULL). Returns NULL for a Service DNS has nothing to say about (no
 * name). New, owned by the caller. */
struct dns_service *dns_service_from_json(const json_t *svc, const json_t *eps);
void dns_service_free(struct dns_service *s);

/* The Services DNS answers for, and the domain it answers in. */
struct dns_db {
	char *domain;          /* "cluster.local" */
	struct dns_name domain_name;
	uint32_t dns_ip;       /* where the DNS server listens: the A of ns.dns.<domain> */
	uint32_t serial;       /* SOA serial: bumped on every change */
	struct pmap services;  /* "ns/name" -> struct dns_service * */
	struct pmap namespaces;/* ns -> (void *)(uintptr_t) count of services in it */
};

/* Returns 0, or -1 if domain is not a valid name. */
int dns_db_init(struct dns_db *db, const char *domain);
void dns_db_release(struct dns_db *db);
/* Puts s (stolen) under its ns/name, replacing and freeing what was there. */
void dns_db_put(struct dns_db *db, struct dns_service *s);
void dns_db_del(struct dns_db *db, const char *ns, const char *name);
/* Borrowed, or NULL. */
const struct dns_service *dns_db_get(const struct dns_db *db, const char *ns, const char *name);

enum dns_action {
	DNS_REPLY,    /* out holds the reply */
	DNS_FORWARD,  /* not ours: send the query upstream unchanged */
	DNS_DROP,     /* say nothing */
};

/*
 * Answers one query. tcp says how it came (the size limit is 65535 bytes on
 * TCP, else 512 or the client's EDNS size up to DNS_UDP_MAX; a UDP reply
 * that does not fit keeps the records that do and sets TC). out needs
 * cap >= 65535 bytes for TCP, DNS_UDP_MAX for UDP. *rcode (may be NULL) is
 * set to the rcode of the reply for metrics.
 */
enum dns_action dns_answer(const struct dns_db *db, const uint8_t *msg, size_t len, bool tcp, uint8_t *out,
			   size_t cap, size_t *out_len, int *rcode);

/*
 * An error reply (SERVFAIL when upstreams fail, REFUSED ...) to the query
 * in msg: the question is echoed if it parses, else the reply is a bare
 * header. Returns its length, or 0 if msg has no readable header.
 */
size_t dns_error_reply(const uint8_t *msg, size_t len, int rcode, uint8_t *out, size_t cap);

/* True if resp answers query: QR set, same ID and the same question (name
 * compared without case, type, class). Guards what comes back from upstream. */
bool dns_reply_matches(const uint8_t *resp, size_t resp_len, const uint8_t *query, size_t query_len);

/*
 * The "nameserver" lines of a resolv.conf text, IPv4 and IPv6, in order, at
 * most max. Other lines and malformed addresses are ignored. Returns the
 * number written to out (struct sockaddr_storage, port 53).
 */
struct sockaddr_storage;
int dns_parse_resolv_conf(const char *text, struct sockaddr_storage *out, int max);

#endif
