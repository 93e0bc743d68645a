/*
 * The cluster's certificates and tokens, made with OpenSSL 3.0. pki_ensure()
 * runs once when `minik8s server` starts: it creates the CA and the
 * apiserver's serving certificate in the data dir if they are missing, and
 * renews the serving certificate when it no longer names every address of
 * this machine or is close to expiry. The rest are small helpers the
 * apiserver, the node-join path and the HTTP server's TLS layer call.
 */
#include "apiserver/pki.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "util.h"

#define CA_DAYS 3650             /* the CA: 10 years */
#define LEAF_DAYS 365            /* serving and client certs: 1 year, as kubeadm */
#define RENEW_BEFORE (30 * 86400) /* renew the serving cert this long before it expires */
#define CLOCK_SKEW 3600          /* NotBefore lies this far in the past */

#define MODE_KEY 0600
#define MODE_CERT 0644

/* The proxy puts every Service ClusterIP on this interface; those addresses
 * come and go with Services and must not churn the serving certificate. */
#define PROXY_IFNAME "minik8s0"

/* The SANs the serving certificate must cover. */
static const char *const default_dns[] = {
	"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
	"kubernetes.default.svc.cluster.local",
};
static const char *const default_ips[] = { "127.0.0.1", "::1", "10.96.0.1" };

/* OpenSSL's most recent error as text, and its queue emptied so that a later
 * message does not show a stale reason. */
static const char *ssl_errstr(void)
{
	static __thread char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (!e)
		return "unknown openssl error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* ---- SAN lists ---------------------------------------------------------- */

struct san_ip {
	int len; /* 4 or 16 */
	unsigned char addr[16];
};

struct san_list {
	char **dns;
	size_t ndns;
	struct san_ip *ip;
	size_t nip;
};

static void san_list_release(struct san_list *l)
{
	for (size_t i = 0; i < l->ndns; i++)
		free(l->dns[i]);
	free(l->dns);
	free(l->ip);
	memset(l, 0, sizeof(*l));
}

static void san_list_add_dns(struct san_list *l, const char *name)
{
	char *s;

	if (!*name)
		return;
	for (size_t i = 0; i < l->ndns; i++)
		if (!strcasecmp(l->dns[i], name))
			return;
	/* DNS names compare case-insensitively; store them the way they will
	 * be compared so the certificate reads the same on every run. */
	s = xstrdup(name);
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	l->dns = xrealloc(l->dns, (l->ndns + 1) * sizeof(*l->dns));
	l->dns[l->ndns++] = s;
}

static void san_list_add_ip(struct san_list *l, const void *addr, int len)
{
	for (size_t i = 0; i < l->nip; i++)
		if (l->ip[i].len == len && !memcmp(l->ip[i].addr, addr, (size_t)len))
			return;
	l->ip = xrealloc(l->ip, (l->nip + 1) * sizeof(*l->ip));
	l->ip[l->nip].len = len;
	memcpy(l->ip[l->nip].addr, addr, (size_t)len);
	l->nip++;
}

/* An IP if it parses as one, else a DNS name (as --tls-san does). */
static void san_list_add(struct san_list *l, const char *s)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, s, buf) == 1)
		san_list_add_ip(l, buf, 4);
	else if (inet_pton(AF_INET6, s, buf) == 1)
		san_list_add_ip(l, buf, 16);
	else
		san_list_add_dns(l, s);
}

static void san_list_add_all(struct san_list *l, const char *const *sans)
{
	for (size_t i = 0; sans && sans[i]; i++)
		san_list_add(l, sans[i]);
}

static void san_list_add_interfaces(struct san_list *l)
{
	struct ifaddrs *ifa, *p;

	if (getifaddrs(&ifa) < 0) {
		log_warn("pki cannot list interfaces err=%s", strerror(errno));
		return;
	}
	for (p = ifa; p; p = p->ifa_next) {
		if (!p->ifa_addr || !(p->ifa_flags & IFF_UP))
			continue;
		if (p->ifa_name && !strcmp(p->ifa_name, PROXY_IFNAME))
			continue;
		if (p->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)p->ifa_addr;
			san_list_add_ip(l, &sin->sin_addr, 4);
		} else if (p->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const void *)p->ifa_addr;
			/* Link-local addresses need a zone, which a SAN cannot carry. */
			if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
				continue;
			san_list_add_ip(l, &sin6->sin6_addr, 16);
		}
	}
	freeifaddrs(ifa);
}

/* Everything the apiserver's serving certificate must name. */
static void san_list_wanted(struct san_list *l, const char *const *extra)
{
	char host[256];

	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		san_list_add(l, host);
	}
	for (size_t i = 0; i < ARRAY_SIZE(default_dns); i++)
		san_list_add_dns(l, default_dns[i]);
	for (size_t i = 0; i < ARRAY_SIZE(default_ips); i++)
		san_list_add(l, default_ips[i]);
	san_list_add_interfaces(l);
	san_list_add_all(l, extra);
}

static void san_ip_format(const struct san_ip *ip, char *buf, size_t len)
{
	if (!inet_ntop(ip->len == 4 ? AF_INET : AF_INET6, ip->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* Returns NULL if the certificate names everything in l, else (in buf) the
 * first name it lacks. */
static const char *san_list_missing(const struct san_list *l, X509 *x, char *buf, size_t len)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	const char *missing = NULL;
	int n = gens ? sk_GENERAL_NAME_num(gens) : 0;

	for (size_t i = 0; i < l->ndns && !missing; i++) {
		size_t want = strlen(l->dns[i]);
		bool found = false;
		for (int j = 0; j < n && !found; j++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, j);
			if (g->type != GEN_DNS)
				continue;
			found = (size_t)ASN1_STRING_length(g->d.dNSName) == want &&
				!strncasecmp((const char *)ASN1_STRING_get0_data(g->d.dNSName),
					     l->dns[i], want);
		}
		if (!found) {
			snprintf(buf, len, "%s", l->dns[i]);
			missing = buf;
		}
	}
	for (size_t i = 0; i < l->nip && !missing; i++) {
		bool found = false;
		for (int j = 0; j < n && !found; j++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, j);
			if (g->type != GEN_IPADD)
				continue;
			found = ASN1_STRING_length(g->d.iPAddress) == l->ip[i].len &&
				!memcmp(ASN1_STRING_get0_data(g->d.iPAddress), l->ip[i].addr,
					(size_t)l->ip[i].len);
		}
		if (!found) {
			san_ip_format(&l->ip[i], buf, len);
			missing = buf;
		}
	}
	GENERAL_NAMES_free(gens);
	return missing;
}

/* ---- making certificates ------------------------------------------------ */

/* What a certificate is for; the rest (validity, serial, keys) is common. */
struct cert_spec {
	const char *cn;
	bool is_ca;
	int days;
	const char *eku;              /* "serverAuth", "clientAuth" or NULL */
	const struct san_list *sans;  /* may be NULL */
};

static EVP_PKEY *key_new(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");

	if (!key)
		error("cannot generate an ec p-256 key: %s", ssl_errstr());
	return key;
}

/* RFC 5280 wants serials unique per CA and positive; 127 random bits make
 * collisions a non-issue without keeping a counter on disk. */
static int set_random_serial(X509 *x)
{
	unsigned char raw[16];
	BIGNUM *bn = NULL;
	int ret = -1;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		goto out;
	raw[0] &= 0x7f;
	raw[0] |= 0x40; /* never zero, always 16 bytes long */
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		ret = 0;
out:
	BN_free(bn);
	return ret;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok;

	if (!ext)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int add_sans(X509 *x, const struct san_list *l)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int ret = -1;

	if (!gens)
		return -1;
	for (size_t i = 0; i < l->ndns; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		if (!g || !s || !ASN1_STRING_set(s, l->dns[i], -1)) {
			GENERAL_NAME_free(g);
			ASN1_IA5STRING_free(s);
			goto out;
		}
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	for (size_t i = 0; i < l->nip; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
		if (!g || !s || !ASN1_OCTET_STRING_set(s, l->ip[i].addr, l->ip[i].len)) {
			GENERAL_NAME_free(g);
			ASN1_OCTET_STRING_free(s);
			goto out;
		}
		GENERAL_NAME_set0_value(g, GEN_IPADD, s);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	if (sk_GENERAL_NAME_num(gens) == 0 ||
	    X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1)
		ret = 0;
out:
	GENERAL_NAMES_free(gens);
	return ret;
}

/* Makes a certificate for key: self-signed when ca is NULL, else signed by
 * ca/ca_key. Returns a new X509 or NULL with a logged error. */
static X509 *cert_make(const struct cert_spec *spec, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key)
{
	X509 *x = X509_new();
	X509_NAME *name = NULL;
	X509V3_CTX ctx;
	bool ok = false;

	if (!x)
		goto out;
	name = X509_NAME_new();
	if (!name || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
						 (const unsigned char *)spec->cn, -1, -1, 0))
		goto out;
	if (!X509_set_version(x, X509_VERSION_3) || set_random_serial(x) < 0 ||
	    !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : name) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -CLOCK_SKEW) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), spec->days, 0, NULL) ||
	    !X509_set_pubkey(x, key))
		goto out;

	X509V3_set_ctx(&ctx, ca ? ca : x, x, NULL, NULL, 0);
	if (spec->is_ca) {
		if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
		    add_ext(x, &ctx, NID_key_usage,
			    "critical,digitalSignature,keyCertSign,cRLSign") < 0 ||
		    add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0)
			goto out;
	} else {
		if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
		    add_ext(x, &ctx, NID_key_usage,
			    "critical,digitalSignature,keyEncipherment") < 0 ||
		    (spec->eku && add_ext(x, &ctx, NID_ext_key_usage, spec->eku) < 0) ||
		    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") < 0)
			goto out;
	}
	if (spec->sans && add_sans(x, spec->sans) < 0)
		goto out;
	if (!X509_sign(x, ca_key ? ca_key : key, EVP_sha256()))
		goto out;
	ok = true;
out:
	X509_NAME_free(name);
	if (!ok) {
		error("cannot make certificate for '%s': %s", spec->cn, ssl_errstr());
		X509_free(x);
		return NULL;
	}
	return x;
}

/* ---- files -------------------------------------------------------------- */

static int write_bio(const char *path, BIO *bio, unsigned mode)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	int err = write_file_atomic(path, data, (size_t)len, mode);

	if (err < 0)
		return error("cannot write '%s': %s", path, strerror(-err));
	return 0;
}

static int key_write(const char *path, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int ret;

	if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(bio);
		return error("cannot encode key for '%s': %s", path, ssl_errstr());
	}
	ret = write_bio(path, bio, MODE_KEY);
	BIO_free(bio);
	return ret;
}

static int cert_write(const char *path, X509 *x, unsigned mode)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int ret;

	if (!bio || !PEM_write_bio_X509(bio, x)) {
		BIO_free(bio);
		return error("cannot encode certificate for '%s': %s", path, ssl_errstr());
	}
	ret = write_bio(path, bio, mode);
	BIO_free(bio);
	return ret;
}

/* Writes the key first: a crash between the two writes leaves a certificate
 * that does not match its key, which pki_ensure() notices and repairs. */
static int pair_write(const char *crt_path, X509 *x, unsigned crt_mode,
		      const char *key_path, EVP_PKEY *key)
{
	if (key_write(key_path, key) < 0 || cert_write(crt_path, x, crt_mode) < 0)
		return -1;
	log_info("pki created file=%s", key_path);
	log_info("pki created file=%s", crt_path);
	return 0;
}

/* Reads a PEM certificate or private key. Returns 0, 1 if the file does not
 * exist, -EBADMSG if it holds no PEM object of that kind, or another -errno.
 * Callers decide how loud to be: a broken serving cert is simply remade. */
static int pem_load(const char *path, X509 **cert, EVP_PKEY **key)
{
	char *data = NULL;
	size_t len = 0;
	BIO *bio;
	int err = read_file(path, &data, &len);

	if (err == -ENOENT)
		return 1;
	if (err < 0)
		return err;
	bio = BIO_new_mem_buf(data, (int)len);
	if (bio && cert)
		*cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	else if (bio)
		*key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	err = (cert && *cert) || (key && *key) ? 0 : -EBADMSG;
	ERR_clear_error();
	BIO_free(bio);
	OPENSSL_cleanse(data, len);
	free(data);
	return err;
}

/* Logs why a CA file could not be loaded; returns -1. */
static int ca_load_error(const char *path, int rc)
{
	if (rc == -EBADMSG)
		return error("cannot parse '%s'; restore it, or remove ca.crt and ca.key to make a new ca (nodes must then join again)",
			     path);
	return error("cannot read '%s': %s", path, strerror(-rc));
}

static int ca_load(const char *dir, X509 **ca, EVP_PKEY **ca_key)
{
	char *crt = xasprintf("%s/ca.crt", dir), *key = xasprintf("%s/ca.key", dir);
	int rc_crt, rc_key = 1, ret = -1;

	*ca = NULL;
	*ca_key = NULL;
	rc_crt = pem_load(crt, ca, NULL);
	if (rc_crt < 0) {
		ca_load_error(crt, rc_crt);
		goto out;
	}
	rc_key = pem_load(key, NULL, ca_key);
	if (rc_key < 0) {
		ca_load_error(key, rc_key);
		goto out;
	}
	if (rc_crt == 1 && rc_key == 1) {
		ret = 1;
		goto out;
	}
	/* Half a CA: making a new one would silently break every kubeconfig
	 * and node that trusts the old one, so ask a human. */
	if (rc_crt == 1 || rc_key == 1) {
		error("cannot use the ca in '%s': '%s' is missing; restore it, or remove '%s' to make a new ca",
		      dir, rc_crt == 1 ? crt : key, rc_crt == 1 ? key : crt);
		goto out;
	}
	if (X509_check_private_key(*ca, *ca_key) != 1) {
		error("cannot use the ca in '%s': '%s' does not match '%s'", dir, key, crt);
		goto out;
	}
	ret = 0;
out:
	if (ret != 0) {
		X509_free(*ca);
		EVP_PKEY_free(*ca_key);
		*ca = NULL;
		*ca_key = NULL;
	}
	free(crt);
	free(key);
	return ret;
}

static int ca_create(const char *dir, X509 **ca, EVP_PKEY **ca_key)
{
	char *crt = xasprintf("%s/ca.crt", dir), *key = xasprintf("%s/ca.key", dir);
	char *cn = xasprintf("minik8s-ca@%lld", (long long)time(NULL));
	struct cert_spec spec = { .cn = cn, .is_ca = true, .days = CA_DAYS };
	int ret = -1;

	*ca = NULL;
	*ca_key = key_new();
	if (!*ca_key)
		goto out;
	*ca = cert_make(&spec, *ca_key, NULL, NULL);
	if (!*ca)
		goto out;
	ret = pair_write(crt, *ca, MODE_CERT, key, *ca_key);
out:
	if (ret < 0) {
		X509_free(*ca);
		EVP_PKEY_free(*ca_key);
		*ca = NULL;
		*ca_key = NULL;
	}
	free(cn);
	free(crt);
	free(key);
	return ret;
}

/* Why the serving certificate at crt/key must be made again, or NULL if it
 * is fine. The reason goes into the log; buf holds it when it is computed. */
static const char *server_cert_stale(const char *crt, const char *key, X509 *ca,
				     const struct san_list *want, char *buf, size_t len)
{
	X509 *x = NULL;
	EVP_PKEY *k = NULL, *ca_pub;
	const char *why = NULL, *missing;
	char name[INET6_ADDRSTRLEN + 256];
	time_t now = time(NULL), renew = now + RENEW_BEFORE;
	int rc;

	rc = pem_load(crt, &x, NULL);
	if (rc != 0) {
		why = rc == 1 ? "missing" : "unreadable";
		goto out;
	}
	rc = pem_load(key, NULL, &k);
	if (rc != 0) {
		why = rc == 1 ? "key-missing" : "key-unreadable";
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		why = "key-mismatch";
		goto out;
	}
	ca_pub = X509_get0_pubkey(ca);
	if (X509_check_issued(ca, x) != X509_V_OK || !ca_pub || X509_verify(x, ca_pub) != 1) {
		why = "not-signed-by-ca";
		goto out;
	}
	if (X509_cmp_time(X509_get0_notAfter(x), &renew) <= 0) {
		why = "expiring";
		goto out;
	}
	if (X509_cmp_time(X509_get0_notBefore(x), &now) >= 0) {
		why = "not-yet-valid";
		goto out;
	}
	missing = san_list_missing(want, x, name, sizeof(name));
	if (missing) {
		snprintf(buf, len, "missing-san san=%s", missing);
		why = buf;
	}
out:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(k);
	return why;
}

int pki_ensure(const struct pki_options *opt)
{
	struct san_list want = { 0 };
	X509 *ca = NULL, *srv = NULL;
	EVP_PKEY *ca_key = NULL, *srv_key = NULL;
	char *crt = NULL, *key = NULL, reason[INET6_ADDRSTRLEN + 300];
	const char *why = NULL;
	int rc, ret = -1;

	rc = mkdir_p(opt->dir, 0700);
	if (rc < 0)
		return error("cannot create directory '%s': %s", opt->dir, strerror(-rc));

	rc = ca_load(opt->dir, &ca, &ca_key);
	if (rc < 0)
		goto out;
	if (rc == 1 && ca_create(opt->dir, &ca, &ca_key) < 0)
		goto out;

	crt = xasprintf("%s/server.crt", opt->dir);
	key = xasprintf("%s/server.key", opt->dir);
	san_list_wanted(&want, opt->sans);
	why = server_cert_stale(crt, key, ca, &want, reason, sizeof(reason));
	if (!why) {
		ret = 0;
		goto out;
	}
	log_info("pki making serving certificate file=%s reason=%s", crt, why);
	{
		struct cert_spec spec = {
			.cn = "kube-apiserver", .days = LEAF_DAYS, .eku = "serverAuth", .sans = &want,
		};
		srv_key = key_new();
		if (!srv_key)
			goto out;
		srv = cert_make(&spec, srv_key, ca, ca_key);
		if (!srv)
			goto out;
	}
	ret = pair_write(crt, srv, MODE_CERT, key, srv_key);
out:
	san_list_release(&want);
	X509_free(ca);
	X509_free(srv);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
	free(crt);
	free(key);
	return ret;
}

/* Issues a leaf certificate signed by the CA in dir: *x and *key are new. */
static int issue(const char *dir, const char *cn, const char *const *sans, const char *usage, X509 **x,
		 EVP_PKEY **key)
{
	struct san_list l = { 0 };
	struct cert_spec spec = { .cn = cn, .days = LEAF_DAYS, .sans = &l };
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	int rc, ret = -1;

	*x = NULL;
	*key = NULL;
	if (!strcmp(usage, "server"))
		spec.eku = "serverAuth";
	else if (!strcmp(usage, "client"))
		spec.eku = "clientAuth";
	else
		return error("cannot issue certificate for '%s': unknown usage '%s' (want 'server' or 'client')",
			     cn, usage);
	if (!*cn)
		return error("cannot issue certificate: the common name is empty");

	rc = ca_load(dir, &ca, &ca_key);
	if (rc == 1)
		error("cannot issue certificate for '%s': no ca in '%s'; run 'minik8s server' first",
		      cn, dir);
	if (rc != 0)
		goto out;
	san_list_add_all(&l, sans);
	*key = key_new();
	if (*key)
		*x = cert_make(&spec, *key, ca, ca_key);
	ret = *x ? 0 : -1;
out:
	if (ret < 0) {
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	san_list_release(&l);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return ret;
}

int pki_issue(const char *dir, const char *cn, const char *const *sans, const char *usage,
	      const char *out_cert, const char *out_key)
{
	X509 *x;
	EVP_PKEY *key;
	int ret;

	if (issue(dir, cn, sans, usage, &x, &key) < 0)
		return -1;
	ret = pair_write(out_cert, x, 0600, out_key, key);
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

static char *bio_string(BIO *bio)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);

	return xstrndup(data, (size_t)len);
}

int pki_issue_pem(const char *dir, const char *cn, const char *const *sans, const char *usage, char **cert_pem,
		  char **key_pem)
{
	X509 *x;
	EVP_PKEY *key;
	BIO *cb = NULL, *kb = NULL;
	int ret = -1;

	*cert_pem = *key_pem = NULL;
	if (issue(dir, cn, sans, usage, &x, &key) < 0)
		return -1;
	cb = BIO_new(BIO_s_mem());
	kb = BIO_new(BIO_s_mem());
	if (!cb || !kb || !PEM_write_bio_X509(cb, x) || !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL)) {
		error("cannot encode the certificate for '%s': %s", cn, ssl_errstr());
	} else {
		*cert_pem = bio_string(cb);
		*key_pem = bio_string(kb);
		ret = 0;
	}
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

/* ---- TLS ---------------------------------------------------------------- */

/* kubectl offers "h2,http/1.1"; we speak only HTTP/1.1. Picking it by hand
 * (rather than SSL_select_next_proto) means a client that offers neither
 * simply gets no ALPN instead of a fatal alert. */
static int on_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
			  const unsigned char *in, unsigned int inlen, void *arg)
{
	static const char want[] = "http/1.1";
	unsigned int i = 0;

	while (i < inlen) {
		unsigned int n = in[i];
		if (n == 0 || i + 1 + n > inlen)
			break;
		if (n == sizeof(want) - 1 && !memcmp(in + i + 1, want, n)) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

SSL_CTX *pki_server_ctx(const char *cert_file, const char *key_file)
{
	/* Forward-secret AEAD suites for TLS 1.2 (TLS 1.3 has only good ones). */
	static const char ciphers[] =
		"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
		"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
		"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		error("cannot make a tls context: %s", ssl_errstr());
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, ciphers)) {
		error("cannot configure tls: %s", ssl_errstr());
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				 SSL_OP_NO_COMPRESSION);
	/* Clients are short-lived CLI runs and long watches: resumption buys
	 * little, and without it no ticket key needs rotating. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	/* Hundreds of keep-alive connections sit idle between requests: each
	 * gives its 34 KiB of record buffers back until its next bytes. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

	/* OpenSSL reports a missing file as "system lib"; say what it was. */
	if (access(cert_file, R_OK) < 0 || access(key_file, R_OK) < 0) {
		const char *f = access(cert_file, R_OK) < 0 ? cert_file : key_file;
		error("cannot read '%s': %s", f, strerror(errno));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		error("cannot load certificate '%s': %s", cert_file, ssl_errstr());
		goto fail;
	}
	/* This also fails when the key does not match the certificate; the
	 * check after it is what catches a key that parsed but is wrong. */
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		error("cannot use key '%s' with certificate '%s': %s", key_file,
		      cert_file, ssl_errstr());
		goto fail;
	}
	SSL_CTX_set_alpn_select_cb(ctx, on_alpn_select, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* ---- hashes and tokens -------------------------------------------------- */

static char *hex_encode(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = xmalloc(2 * n + 1);

	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

char *pki_ca_hash_pem(const char *ca_pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(ca_pem, (int)len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *hex, *ret = NULL;
	int derlen;

	if (!x) {
		error("cannot hash the ca: no pem certificate in it (%s)", ssl_errstr());
		goto out;
	}
	derlen = i2d_X509(x, &der);
	if (derlen <= 0 || !EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL)) {
		error("cannot hash the ca: %s", ssl_errstr());
		goto out;
	}
	hex = hex_encode(md, mdlen);
	ret = xasprintf("sha256:%s", hex);
	free(hex);
out:
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	return ret;
}

char *pki_random_token(size_t nbytes)
{
	unsigned char *raw = xmalloc(nbytes ? nbytes : 1);
	char *s = NULL;

	if (nbytes > INT_MAX || RAND_bytes(raw, (int)nbytes) != 1)
		error("cannot make a random token: %s", ssl_errstr());
	else
		s = hex_encode(raw, nbytes);
	OPENSSL_cleanse(raw, nbytes);
	free(raw);
	return s;
}

char *pki_load_or_create_token(const char *file)
{
	char *data = NULL, *tok, *line;
	size_t len = 0, n;
	int err = read_file(file, &data, &len);

	if (err == -ENOENT) {
		tok = pki_random_token(16);
		if (!tok)
			return NULL;
		line = xasprintf("%s\n", tok);
		err = write_file_atomic(file, line, strlen(line), MODE_KEY);
		OPENSSL_cleanse(line, strlen(line));
		free(line);
		if (err < 0) {
			error("cannot write '%s': %s", file, strerror(-err));
			free(tok);
			return NULL;
		}
		log_info("pki created file=%s", file);
		return tok;
	}
	if (err < 0) {
		error("cannot read '%s': %s", file, strerror(-err));
		return NULL;
	}
	line = data;
	while (*line && isspace((unsigned char)*line))
		line++;
	n = strcspn(line, "\r\n");
	while (n && isspace((unsigned char)line[n - 1]))
		n--;
	tok = n ? xstrndup(line, n) : NULL;
	if (!tok)
		error("cannot use token file '%s': it is empty; remove it to have a new token made",
		      file);
	OPENSSL_cleanse(data, len);
	free(data);
	return tok;
}

char *pki_join_token(const char *data_dir)
{
	char *ca_file = xasprintf("%s/pki/ca.crt", data_dir);
	char *node_file = xasprintf("%s/pki/node.token", data_dir);
	char *pem = NULL, *hash = NULL, *secret = NULL, *token = NULL;
	size_t len;
	int err;

	if ((err = read_file(ca_file, &pem, &len)) < 0) {
		error("cannot read '%s': %s", ca_file, strerror(-err));
		goto out;
	}
	if (!(hash = pki_ca_hash_pem(pem, len)))
		goto out;
	if (access(node_file, F_OK) < 0) {
		error("cannot read '%s': %s", node_file, strerror(errno));
		goto out;
	}
	if (!(secret = pki_load_or_create_token(node_file)))
		goto out;
	/* "sha256:<hex>" -> "K10<hex>" as k3s spells it */
	token = xasprintf("K10%s::node:%s", strchr(hash, ':') ? strchr(hash, ':') + 1 : hash, secret);
out:
	free(ca_file);
	free(node_file);
	free(pem);
	free(hash);
	free(secret);
	return token;
}
