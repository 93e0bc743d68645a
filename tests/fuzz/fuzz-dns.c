/*
 * Fuzz target for the cluster DNS (src/proxy/dns.c): any bytes as a query
 * over UDP and over TCP against a small table of Services, as the question
 * of an error reply, as an upstream reply to match, and as a resolv.conf.
 * Besides not crashing, every reply must be a well-formed message that
 * fits its limit: a validator walks it record by record.
 */
#include "proxy/dns.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dns_db db;
static int ready;

static void put(const char *svc, const char *eps)
{
	json_t *s = json_loads(svc, 0, NULL), *e = eps ? json_loads(eps, 0, NULL) : NULL;
	struct dns_service *d = s ? dns_service_from_json(s, e) : NULL;

	if (!d)
		abort();
	dns_db_put(&db, d);
	json_decref(s);
	json_decref(e);
}

static void setup(void)
{
	char eps[8192];
	size_t o;

	if (dns_db_init(&db, "cluster.local") < 0)
		abort();
	db.dns_ip = 0x0a60000a;
	put("{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"10.96.0.20\","
	    "\"ports\":[{\"name\":\"http\",\"port\":80},{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}}",
	    "{\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.1.5\"}],\"ports\":[{\"name\":\"http\",\"port\":8080}]}]}");
	put("{\"metadata\":{\"name\":\"db\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"None\","
	    "\"ports\":[{\"name\":\"pg\",\"port\":5432}]}}",
	    "{\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.2.7\",\"hostname\":\"db-0\"},{\"ip\":\"10.244.2.8\"}],"
	    "\"ports\":[{\"name\":\"pg\",\"port\":5432}]},{\"addresses\":[{\"ip\":\"10.244.2.7\"}],"
	    "\"ports\":[{\"name\":\"pg\",\"port\":5433}]}]}");
	put("{\"metadata\":{\"name\":\"ext\",\"namespace\":\"default\"},\"spec\":{\"type\":\"ExternalName\","
	    "\"externalName\":\"example.org\"}}",
	    NULL);
	o = (size_t)snprintf(eps, sizeof(eps), "{\"subsets\":[{\"addresses\":[");
	for (int i = 0; i < 80; i++)
		o += (size_t)snprintf(eps + o, sizeof(eps) - o, "%s{\"ip\":\"10.244.9.%d\",\"hostname\":\"h%d\"}",
				      i ? "," : "", i + 1, i);
	snprintf(eps + o, sizeof(eps) - o, "],\"ports\":[{\"name\":\"p\",\"port\":7}]}]}");
	put("{\"metadata\":{\"name\":\"big\",\"namespace\":\"kube-system\"},\"spec\":{\"clusterIP\":\"None\","
	    "\"ports\":[{\"name\":\"p\",\"port\":7}]}}",
	    eps);
	ready = 1;
}

/* Walks a reply: header, questions, records; every byte accounted for. */
static void validate(const uint8_t *m, size_t n, size_t limit)
{
	size_t pos = DNS_HEADER_LEN;
	struct dns_name name;
	unsigned counts[4];

	if (n < DNS_HEADER_LEN || n > limit || !(m[2] & 0x80))
		abort();
	for (int i = 0; i < 4; i++)
		counts[i] = (unsigned)(m[4 + 2 * i] << 8 | m[5 + 2 * i]);
	for (unsigned i = 0; i < counts[0]; i++) {
		if (dns_read_name(m, n, &pos, &name) < 0 || pos + 4 > n)
			abort();
		pos += 4;
	}
	for (unsigned i = 0; i < counts[1] + counts[2] + counts[3]; i++) {
		size_t rdlen;
		if (dns_read_name(m, n, &pos, &name) < 0 || pos + 10 > n)
			abort();
		rdlen = (size_t)(m[pos + 8] << 8 | m[pos + 9]);
		pos += 10 + rdlen;
		if (pos > n)
			abort();
	}
	if (pos != n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65535];
	struct sockaddr_storage ss[4];
	size_t n;
	char *text;

	if (!ready)
		setup();
	if (dns_answer(&db, data, size, false, out, DNS_UDP_MAX, &n, NULL) == DNS_REPLY)
		validate(out, n, DNS_UDP_MAX);
	if (dns_answer(&db, data, size, true, out, sizeof(out), &n, NULL) == DNS_REPLY)
		validate(out, n, sizeof(out));
	n = dns_error_reply(data, size, DNS_SERVFAIL, out, 512);
	if (n)
		validate(out, n, 512);
	(void)dns_reply_matches(data, size, data, size);
	if (n)
		(void)dns_reply_matches(out, n, data, size);
	text = malloc(size + 1);
	if (size)
		memcpy(text, data, size);
	text[size] = 0;
	(void)dns_parse_resolv_conf(text, ss, 4);
	free(text);
	return 0;
}
