/*
 * Tests for src/apiserver/pki.c: the CA and serving certificate that
 * pki_ensure() makes (modes, extensions, SANs, chain), when it leaves them
 * alone and when it remakes them, certificates from pki_issue(), the CA hash,
 * tokens, and a full TLS handshake in memory against pki_server_ctx().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "apiserver/pki.h"
#include "log.h"
#include "testing.h"
#include "util.h"

static const char *const files[] = { "ca.crt", "ca.key", "server.crt", "server.key" };

struct snapshot {
	char *data[4];
	size_t len[4];
	struct timespec mtime[4];
	ino_t ino[4];
};

static char *path_in(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static int file_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

static void snapshot_take(struct snapshot *s, const char *dir)
{
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char *p = path_in(dir, files[i]);
		struct stat st;
		s->data[i] = NULL;
		s->len[i] = 0;
		CHECK_INT(read_file(p, &s->data[i], &s->len[i]), 0);
		CHECK_INT(stat(p, &st), 0);
		s->mtime[i] = st.st_mtim;
		s->ino[i] = st.st_ino;
		free(p);
	}
}

static void snapshot_release(struct snapshot *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		free(s->data[i]);
}

/* Whether file i is byte-for-byte and on-disk the same in a and b. */
static bool snapshot_same(const struct snapshot *a, const struct snapshot *b, size_t i)
{
	return a->len[i] == b->len[i] && !memcmp(a->data[i], b->data[i], a->len[i]) &&
	       a->mtime[i].tv_sec == b->mtime[i].tv_sec &&
	       a->mtime[i].tv_nsec == b->mtime[i].tv_nsec && a->ino[i] == b->ino[i];
}

static X509 *load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (!f)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (!f)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static X509 *load_in(const char *dir, const char *name)
{
	char *p = path_in(dir, name);
	X509 *x = load_cert(p);

	free(p);
	return x;
}

static bool has_dns(X509 *x, const char *name)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;

	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !found; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS)
			found = (size_t)ASN1_STRING_length(g->d.dNSName) == strlen(name) &&
				!memcmp(ASN1_STRING_get0_data(g->d.dNSName), name, strlen(name));
	}
	GENERAL_NAMES_free(gens);
	return found;
}

static bool has_ip(X509 *x, const char *ip)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	unsigned char want[16];
	int wlen = inet_pton(AF_INET, ip, want) == 1 ? 4 : 16;
	bool found = false;

	if (wlen == 16 && inet_pton(AF_INET6, ip, want) != 1) {
		GENERAL_NAMES_free(gens);
		return false;
	}
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !found; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_IPADD)
			found = ASN1_STRING_length(g->d.iPAddress) == wlen &&
				!memcmp(ASN1_STRING_get0_data(g->d.iPAddress), want, (size_t)wlen);
	}
	GENERAL_NAMES_free(gens);
	return found;
}

/* X509_verify_cert of leaf against ca alone, for the given purpose. Returns
 * the verify error code (X509_V_OK on success). */
static int verify(X509 *ca, X509 *leaf, int purpose)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1;

	if (!store || !ctx || !X509_STORE_add_cert(store, ca) ||
	    !X509_STORE_CTX_init(ctx, store, leaf, NULL))
		goto out;
	X509_STORE_CTX_set_purpose(ctx, purpose);
	rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

static void test_ensure_creates(const char *dir)
{
	struct pki_options opt = { .dir = dir };
	struct stat st;
	X509 *ca, *srv;
	EVP_PKEY *srv_key;
	char host[256], *p;
	time_t now = time(NULL);

	CHECK_INT(pki_ensure(&opt), 0);
	CHECK_INT(stat(dir, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0700);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		p = path_in(dir, files[i]);
		CHECK_INT(file_mode(p), str_has_suffix(files[i], ".key") ? 0600 : 0644);
		free(p);
	}

	ca = load_in(dir, "ca.crt");
	srv = load_in(dir, "server.crt");
	CHECK(ca != NULL);
	CHECK(srv != NULL);
	if (!ca || !srv)
		goto out;

	/* the CA */
	CHECK(X509_check_ca(ca) == 1);
	CHECK(X509_get_extension_flags(ca) & EXFLAG_SS);
	CHECK(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
	CHECK(X509_get_key_usage(ca) & KU_CRL_SIGN);
	CHECK(X509_get0_subject_key_id(ca) != NULL);
	CHECK(EVP_PKEY_is_a(X509_get0_pubkey(ca), "EC"));
	CHECK_INT(EVP_PKEY_get_bits(X509_get0_pubkey(ca)), 256);
	CHECK_INT(X509_get_version(ca), X509_VERSION_3);
	{
		char cn[128] = "";
		X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, cn, sizeof(cn));
		CHECK(str_has_prefix(cn, "minik8s-ca@"));
		CHECK(strtoll(cn + strlen("minik8s-ca@"), NULL, 10) > now - 60);
	}
	{
		/* 10 years, give or take leap days and the hour of skew */
		int days = 0, secs = 0;
		CHECK(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca), X509_get0_notAfter(ca)));
		CHECK(days >= 3649 && days <= 3651);
	}
	CHECK(X509_cmp_time(X509_get0_notBefore(ca), &now) < 0);
	{
		const ASN1_INTEGER *serial = X509_get0_serialNumber(ca);
		CHECK(ASN1_STRING_length(serial) >= 15);
	}

	/* the serving certificate */
	CHECK_INT(verify(ca, srv, X509_PURPOSE_SSL_SERVER), X509_V_OK);
	CHECK(X509_check_ca(srv) == 0);
	CHECK(X509_get_extended_key_usage(srv) & XKU_SSL_SERVER);
	CHECK(!(X509_get_extended_key_usage(srv) & XKU_SSL_CLIENT));
	CHECK(X509_get_key_usage(srv) & KU_DIGITAL_SIGNATURE);
	CHECK(!(X509_get_key_usage(srv) & KU_KEY_CERT_SIGN));
	CHECK(X509_get0_authority_key_id(srv) != NULL);
	CHECK(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(srv),
				    X509_get0_subject_key_id(ca)) == 0);
	{
		char cn[128] = "";
		X509_NAME_get_text_by_NID(X509_get_subject_name(srv), NID_commonName, cn, sizeof(cn));
		CHECK_STR(cn, "kube-apiserver");
	}
	CHECK(X509_cmp_time(X509_get0_notBefore(srv), &now) < 0);
	{
		time_t later = now + 300L * 86400;
		CHECK(X509_cmp_time(X509_get0_notAfter(srv), &later) > 0);
	}
	CHECK(has_ip(srv, "10.96.0.1"));
	CHECK(has_ip(srv, "127.0.0.1"));
	CHECK(has_ip(srv, "::1"));
	CHECK(has_dns(srv, "localhost"));
	CHECK(has_dns(srv, "kubernetes"));
	CHECK(has_dns(srv, "kubernetes.default"));
	CHECK(has_dns(srv, "kubernetes.default.svc"));
	CHECK(has_dns(srv, "kubernetes.default.svc.cluster.local"));
	CHECK(X509_check_host(srv, "kubernetes.default.svc", 0, 0, NULL) == 1);
	CHECK(X509_check_ip_asc(srv, "127.0.0.1", 0) == 1);
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		CHECK(X509_check_host(srv, host, 0, 0, NULL) == 1);
	}

	p = path_in(dir, "server.key");
	srv_key = load_key(p);
	free(p);
	CHECK(srv_key != NULL);
	CHECK(srv_key && X509_check_private_key(srv, srv_key) == 1);
	EVP_PKEY_free(srv_key);
out:
	X509_free(ca);
	X509_free(srv);
}

static void test_ensure_idempotent(const char *dir)
{
	struct pki_options opt = { .dir = dir };
	struct snapshot a, b;

	snapshot_take(&a, dir);
	CHECK_INT(pki_ensure(&opt), 0);
	snapshot_take(&b, dir);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		CHECK(snapshot_same(&a, &b, i));
	snapshot_release(&a);
	snapshot_release(&b);
}

static void test_ensure_extra_sans(const char *dir)
{
	static const char *const extra[] = { "api.example.test", "192.0.2.7", "2001:db8::1",
					     "Mixed.Example.TEST", NULL };
	struct pki_options opt = { .dir = dir, .sans = extra };
	struct snapshot a, b, c;
	X509 *ca, *srv;

	snapshot_take(&a, dir);
	CHECK_INT(pki_ensure(&opt), 0);
	snapshot_take(&b, dir);
	CHECK(snapshot_same(&a, &b, 0)); /* ca.crt */
	CHECK(snapshot_same(&a, &b, 1)); /* ca.key */
	CHECK(!snapshot_same(&a, &b, 2));
	CHECK(!snapshot_same(&a, &b, 3));

	ca = load_in(dir, "ca.crt");
	srv = load_in(dir, "server.crt");
	CHECK(ca && srv);
	if (ca && srv) {
		CHECK(has_dns(srv, "api.example.test"));
		CHECK(has_dns(srv, "mixed.example.test"));
		CHECK(has_ip(srv, "192.0.2.7"));
		CHECK(has_ip(srv, "2001:db8::1"));
		CHECK(!has_dns(srv, "192.0.2.7"));
		CHECK(has_ip(srv, "10.96.0.1"));
		CHECK(has_dns(srv, "localhost"));
		CHECK_INT(verify(ca, srv, X509_PURPOSE_SSL_SERVER), X509_V_OK);
	}
	X509_free(ca);
	X509_free(srv);

	/* Same extras again, and none at all (a superset is fine): no change. */
	CHECK_INT(pki_ensure(&opt), 0);
	opt.sans = NULL;
	CHECK_INT(pki_ensure(&opt), 0);
	snapshot_take(&c, dir);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		CHECK(snapshot_same(&b, &c, i));
	snapshot_release(&a);
	snapshot_release(&b);
	snapshot_release(&c);
}

/* Rewrites server.crt to expire in 10 days, re-signed by the real CA. */
static void make_server_cert_expiring(const char *dir)
{
	char *crt = path_in(dir, "server.crt"), *cakey_path = path_in(dir, "ca.key");
	X509 *srv = load_cert(crt);
	EVP_PKEY *ca_key = load_key(cakey_path);
	FILE *f;

	CHECK(srv && ca_key);
	if (!srv || !ca_key)
		goto out;
	CHECK(X509_time_adj_ex(X509_getm_notAfter(srv), 10, 0, NULL) != NULL);
	CHECK(X509_sign(srv, ca_key, EVP_sha256()) > 0);
	f = fopen(crt, "w");
	CHECK(f != NULL);
	if (f) {
		CHECK(PEM_write_X509(f, srv) == 1);
		fclose(f);
	}
out:
	X509_free(srv);
	EVP_PKEY_free(ca_key);
	free(crt);
	free(cakey_path);
}

static void test_ensure_renews(const char *dir, const char *other_dir)
{
	struct pki_options opt = { .dir = dir };
	struct snapshot a, b;
	time_t later = time(NULL) + 300L * 86400;
	X509 *srv, *ca;
	EVP_PKEY *k;
	char *p;

	/* close to expiry */
	make_server_cert_expiring(dir);
	snapshot_take(&a, dir);
	CHECK_INT(pki_ensure(&opt), 0);
	snapshot_take(&b, dir);
	CHECK(snapshot_same(&a, &b, 0) && snapshot_same(&a, &b, 1));
	CHECK(!snapshot_same(&a, &b, 2));
	srv = load_in(dir, "server.crt");
	CHECK(srv && X509_cmp_time(X509_get0_notAfter(srv), &later) > 0);
	X509_free(srv);
	snapshot_release(&a);
	snapshot_release(&b);

	/* a key that does not belong to the certificate */
	p = path_in(dir, "server.key");
	{
		EVP_PKEY *other = EVP_EC_gen("P-256");
		FILE *f = fopen(p, "w");
		CHECK(other && f);
		if (other && f)
			CHECK(PEM_write_PrivateKey(f, other, NULL, NULL, 0, NULL, NULL) == 1);
		if (f)
			fclose(f);
		EVP_PKEY_free(other);
	}
	CHECK_INT(pki_ensure(&opt), 0);
	srv = load_in(dir, "server.crt");
	k = load_key(p);
	CHECK(srv && k && X509_check_private_key(srv, k) == 1);
	X509_free(srv);
	EVP_PKEY_free(k);

	/* server.key missing */
	CHECK_INT(unlink(p), 0);
	CHECK_INT(pki_ensure(&opt), 0);
	CHECK_INT(file_mode(p), 0600);
	free(p);

	/* garbage in server.crt */
	p = path_in(dir, "server.crt");
	CHECK_INT(write_file_atomic(p, "junk\n", 5, 0644), 0);
	CHECK_INT(pki_ensure(&opt), 0);
	srv = load_cert(p);
	CHECK(srv != NULL);
	X509_free(srv);
	free(p);

	/* A different CA (copied from other_dir): the old serving cert is not
	 * signed by it and must be remade. */
	for (int i = 0; i < 2; i++) {
		char *from = path_in(other_dir, files[i]), *to = path_in(dir, files[i]);
		char *data = NULL;
		size_t len = 0;
		CHECK_INT(read_file(from, &data, &len), 0);
		CHECK_INT(write_file_atomic(to, data, len, i == 0 ? 0644 : 0600), 0);
		free(data);
		free(from);
		free(to);
	}
	CHECK_INT(pki_ensure(&opt), 0);
	ca = load_in(dir, "ca.crt");
	srv = load_in(dir, "server.crt");
	CHECK(ca && srv && verify(ca, srv, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
	X509_free(ca);
	X509_free(srv);
}

static void test_ensure_half_ca(const char *dir)
{
	struct pki_options opt = { .dir = dir };
	char *key = path_in(dir, "ca.key"), *crt = path_in(dir, "ca.crt");

	CHECK_INT(pki_ensure(&opt), 0);
	CHECK_INT(unlink(key), 0);
	CHECK_INT(pki_ensure(&opt), -1);
	CHECK_INT(file_mode(crt), 0644); /* left alone for a human to decide */
	CHECK_INT(file_mode(key), -1);
	free(key);
	free(crt);
}

static void test_issue(const char *dir, const char *tmp)
{
	static const char *const node_sans[] = { "n1", "192.0.2.10", NULL };
	char *crt = path_in(tmp, "n1.crt"), *key = path_in(tmp, "n1.key");
	char *ccrt = path_in(tmp, "client.crt"), *ckey = path_in(tmp, "client.key");
	X509 *ca = load_in(dir, "ca.crt"), *x;
	EVP_PKEY *k;

	CHECK(ca != NULL);

	CHECK_INT(pki_issue(dir, "system:node:n1", node_sans, "server", crt, key), 0);
	CHECK_INT(file_mode(crt), 0600);
	CHECK_INT(file_mode(key), 0600);
	x = load_cert(crt);
	k = load_key(key);
	CHECK(x && k);
	if (x && k && ca) {
		CHECK_INT(verify(ca, x, X509_PURPOSE_SSL_SERVER), X509_V_OK);
		CHECK(X509_check_private_key(x, k) == 1);
		CHECK(X509_check_host(x, "n1", 0, 0, NULL) == 1);
		CHECK(X509_check_ip_asc(x, "192.0.2.10", 0) == 1);
		CHECK(!has_dns(x, "localhost"));
	}
	X509_free(x);
	EVP_PKEY_free(k);

	CHECK_INT(pki_issue(dir, "system:node:n1", NULL, "client", ccrt, ckey), 0);
	x = load_cert(ccrt);
	CHECK(x != NULL);
	if (x && ca) {
		char cn[128] = "";
		CHECK_INT(verify(ca, x, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
		CHECK(verify(ca, x, X509_PURPOSE_SSL_SERVER) != X509_V_OK);
		CHECK(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
		CHECK(X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL) == NULL);
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
		CHECK_STR(cn, "system:node:n1");
	}
	X509_free(x);

	CHECK_INT(pki_issue(dir, "x", NULL, "peer", ccrt, ckey), -1);
	CHECK_INT(pki_issue(tmp, "x", NULL, "client", ccrt, ckey), -1); /* no CA there */
	X509_free(ca);
	free(crt);
	free(key);
	free(ccrt);
	free(ckey);
}

static void test_ca_hash(const char *dir)
{
	char *p = path_in(dir, "ca.crt"), *pem = NULL, *hash;
	size_t len = 0;
	X509 *ca = load_cert(p);
	unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
	char want[8 + 2 * SHA256_DIGEST_LENGTH] = "sha256:";
	int derlen;

	CHECK_INT(read_file(p, &pem, &len), 0);
	CHECK(ca != NULL);
	derlen = ca ? i2d_X509(ca, &der) : -1;
	CHECK(derlen > 0);
	if (derlen > 0) {
		SHA256(der, (size_t)derlen, md);
		for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
			snprintf(want + 7 + 2 * i, 3, "%02x", md[i]);
	}
	hash = pki_ca_hash_pem(pem, len);
	CHECK_STR(hash, want);
	CHECK_INT(strlen(hash ? hash : ""), 71);
	free(hash);

	CHECK(pki_ca_hash_pem("not a certificate", 17) == NULL);
	ERR_clear_error();

	OPENSSL_free(der);
	X509_free(ca);
	free(pem);
	free(p);
}

static bool all_hex(const char *s)
{
	return s && strspn(s, "0123456789abcdef") == strlen(s);
}

static void test_tokens(const char *tmp)
{
	char *a = pki_random_token(16), *b = pki_random_token(16), *t1, *t2;
	char *file = path_in(tmp, "node.token"), *data = NULL;
	size_t len = 0;

	CHECK_INT(strlen(a), 32);
	CHECK(all_hex(a));
	CHECK(strcmp(a, b) != 0);
	free(a);
	free(b);
	a = pki_random_token(0);
	CHECK_STR(a, "");
	free(a);

	t1 = pki_load_or_create_token(file);
	CHECK(t1 && strlen(t1) == 32 && all_hex(t1));
	CHECK_INT(file_mode(file), 0600);
	CHECK_INT(read_file(file, &data, &len), 0);
	CHECK(t1 && len == 33 && !strncmp(data, t1, 32) && data[32] == '\n');
	free(data);
	t2 = pki_load_or_create_token(file);
	CHECK_STR(t2, t1);
	free(t1);
	free(t2);

	/* written by hand: only the first line counts, trimmed */
	CHECK_INT(write_file_atomic(file, "  s3cret \t\r\nsecond line\n", 24, 0600), 0);
	t1 = pki_load_or_create_token(file);
	CHECK_STR(t1, "s3cret");
	free(t1);
	CHECK_INT(write_file_atomic(file, "\n", 1, 0600), 0);
	CHECK(pki_load_or_create_token(file) == NULL);
	free(file);
}

/* ---- TLS in memory ------------------------------------------------------ */

/* Runs both handshakes over a BIO pair until both finish or one fails.
 * Returns 0 when both completed. */
static int pump_handshake(SSL *client, SSL *server)
{
	bool cdone = false, sdone = false;

	for (int i = 0; i < 100 && !(cdone && sdone); i++) {
		if (!cdone) {
			int r = SSL_do_handshake(client);
			if (r == 1)
				cdone = true;
			else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ &&
				 SSL_get_error(client, r) != SSL_ERROR_WANT_WRITE)
				return -1;
		}
		if (!sdone) {
			int r = SSL_do_handshake(server);
			if (r == 1)
				sdone = true;
			else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ &&
				 SSL_get_error(server, r) != SSL_ERROR_WANT_WRITE)
				return -1;
		}
	}
	return cdone && sdone ? 0 : -1;
}

struct tls_result {
	int handshake;           /* 0 ok, -1 failed */
	char alpn[32];           /* negotiated protocol, "" for none */
	long verify;             /* client's verify result */
	bool data_ok;            /* application data went both ways */
};

static void tls_run(SSL_CTX *sctx, const char *ca_file, const char *host,
		    const unsigned char *alpn, unsigned alpn_len, struct tls_result *res)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *c = NULL, *s = NULL;
	BIO *cb = NULL, *sb = NULL;
	const unsigned char *proto = NULL;
	unsigned plen = 0;
	char buf[16];

	memset(res, 0, sizeof(*res));
	res->handshake = -1;
	if (!cctx || SSL_CTX_load_verify_locations(cctx, ca_file, NULL) != 1)
		goto out;
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	if (!c || !s || !BIO_new_bio_pair(&cb, 0, &sb, 0))
		goto out;
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	SSL_set_tlsext_host_name(c, host);
	SSL_set1_host(c, host);
	if (alpn && SSL_set_alpn_protos(c, alpn, alpn_len) != 0)
		goto out;

	res->handshake = pump_handshake(c, s);
	res->verify = SSL_get_verify_result(c);
	if (res->handshake < 0)
		goto out;
	SSL_get0_alpn_selected(c, &proto, &plen);
	if (proto && plen < sizeof(res->alpn)) {
		memcpy(res->alpn, proto, plen);
		res->alpn[plen] = '\0';
	}
	res->data_ok = SSL_write(c, "ping", 4) == 4 && SSL_read(s, buf, sizeof(buf)) == 4 &&
		       !memcmp(buf, "ping", 4) && SSL_write(s, "pong", 4) == 4 &&
		       SSL_read(c, buf, sizeof(buf)) == 4 && !memcmp(buf, "pong", 4);
out:
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
}

static void test_tls(const char *dir)
{
	static const unsigned char kubectl_alpn[] = "\x02h2\x08http/1.1";
	static const unsigned char h2_only[] = "\x02h2";
	char *crt = path_in(dir, "server.crt"), *key = path_in(dir, "server.key");
	char *ca = path_in(dir, "ca.crt"), *cakey = path_in(dir, "ca.key");
	SSL_CTX *sctx = pki_server_ctx(crt, key);
	struct tls_result r;

	CHECK(sctx != NULL);
	if (!sctx)
		goto out;
	CHECK_INT(SSL_CTX_get_min_proto_version(sctx), TLS1_2_VERSION);
	CHECK(SSL_CTX_get_options(sctx) & SSL_OP_NO_RENEGOTIATION);

	tls_run(sctx, ca, "localhost", kubectl_alpn, sizeof(kubectl_alpn) - 1, &r);
	CHECK_INT(r.handshake, 0);
	CHECK_INT(r.verify, X509_V_OK);
	CHECK_STR(r.alpn, "http/1.1");
	CHECK(r.data_ok);

	/* the name a pod uses for the apiserver */
	tls_run(sctx, ca, "kubernetes.default.svc", NULL, 0, &r);
	CHECK_INT(r.handshake, 0);
	CHECK_STR(r.alpn, "");
	CHECK(r.data_ok);

	/* only h2 offered: no ALPN rather than a failed handshake */
	tls_run(sctx, ca, "localhost", h2_only, sizeof(h2_only) - 1, &r);
	CHECK_INT(r.handshake, 0);
	CHECK_STR(r.alpn, "");

	/* a name not in the certificate must fail verification */
	tls_run(sctx, ca, "evil.example.test", kubectl_alpn, sizeof(kubectl_alpn) - 1, &r);
	CHECK_INT(r.handshake, -1);
	CHECK_INT(r.verify, X509_V_ERR_HOSTNAME_MISMATCH);

	SSL_CTX_free(sctx);

	/* bad inputs */
	sctx = pki_server_ctx(crt, cakey);
	CHECK(sctx == NULL);
	SSL_CTX_free(sctx);
	sctx = pki_server_ctx("/nonexistent/server.crt", key);
	CHECK(sctx == NULL);
	SSL_CTX_free(sctx);
	ERR_clear_error();
out:
	free(crt);
	free(key);
	free(ca);
	free(cakey);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(void)
{
	char tmpl[] = "/tmp/minik8s-test-pki-XXXXXX";
	char *tmp = mkdtemp(tmpl), *dir, *dir2, *dir3;

	if (!tmp) {
		perror("mkdtemp");
		return 1;
	}
	/* nested and missing: pki_ensure must make the whole path */
	dir = path_in(tmp, "data/pki");
	dir2 = path_in(tmp, "other");
	dir3 = path_in(tmp, "half");

	test_ensure_creates(dir);
	test_ensure_idempotent(dir);
	test_ensure_extra_sans(dir);
	test_tls(dir);
	test_issue(dir, tmp);
	test_ca_hash(dir);
	test_tokens(tmp);

	{
		struct pki_options opt = { .dir = dir2 };
		CHECK_INT(pki_ensure(&opt), 0);
	}
	test_ensure_renews(dir, dir2);
	test_ensure_half_ca(dir3);

	CHECK_INT(nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	CHECK_INT(access(tmp, F_OK), -1);
	free(dir);
	free(dir2);
	free(dir3);
	return test_done();
}
