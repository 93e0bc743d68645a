/*
 * The cluster's certificates and tokens. On first start `minik8s server`
 * makes a CA, a serving certificate signed by it, an admin token and a
 * node-join token in its data dir (keys and tokens 0600, certificates 0644). Everything is OpenSSL.
 *
 *   <dir>/ca.crt, ca.key          the cluster CA (EC P-256, 10 years)
 *   <dir>/server.crt, server.key  apiserver serving cert (SANs below, 1 year)
 *   <dir>/admin.token, node.token random secrets
 *
 * The join token that agents use is "K10<ca-hash>::node:<secret>" (k3s'
 * shape): the CA hash lets an agent check /cacerts before trusting it.
 */
#ifndef MINIK8S_APISERVER_PKI_H
#define MINIK8S_APISERVER_PKI_H

#include <openssl/ssl.h>
#include <stddef.h>

struct pki_options {
	const char *dir;          /* usually <data-dir>/pki */
	const char *const *sans;  /* extra DNS names or IPs (--tls-san), NULL-terminated, may be NULL */
};

/* Makes whatever is missing; regenerates the serving certificate when its
 * SANs no longer cover the machine's addresses and names plus the defaults
 * (127.0.0.1, localhost, 10.96.0.1, kubernetes, kubernetes.default,
 * kubernetes.default.svc, kubernetes.default.svc.cluster.local) and extras.
 * Returns 0 or -1 with a logged message naming the file. */
int pki_ensure(const struct pki_options *opt);

/* Issues a certificate signed by the CA in dir, for cn, with the given SANs
 * and usage ("server" or "client"), into out_cert/out_key (PEM files, 0600). */
int pki_issue(const char *dir, const char *cn, const char *const *sans, const char *usage,
	      const char *out_cert, const char *out_key);

/* The same, as PEM strings (new, caller frees) instead of files: what the
 * apiserver hands a joining node for its kubelet port. */
int pki_issue_pem(const char *dir, const char *cn, const char *const *sans, const char *usage, char **cert_pem,
		  char **key_pem);

/* A TLS server context from PEM files (TLS 1.2+, ALPN http/1.1). NULL on error. */
SSL_CTX *pki_server_ctx(const char *cert_file, const char *key_file);

/* "sha256:<64 hex>" of the CA certificate's DER encoding, as a new string. */
char *pki_ca_hash_pem(const char *ca_pem, size_t len);

/* A random secret of nbytes (hex encoded: 2*nbytes chars), new string. */
char *pki_random_token(size_t nbytes);
/* Reads <file>, creating it with a fresh token if missing. New string or NULL. */
char *pki_load_or_create_token(const char *file);

/* The node-join token of the cluster in data_dir: "K10<ca-hash>::node:<secret>",
 * from <data_dir>/pki/ca.crt and node.token. New string, or NULL (logged). */
char *pki_join_token(const char *data_dir);

#endif
