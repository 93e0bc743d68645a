/*
 * Kubeconfig files, the way kubectl reads them: YAML with clusters, users and
 * contexts, resolved through current-context (or a chosen context) into the
 * few things a client needs: server URL, CA, and a bearer token (or a client
 * certificate). `minik8s server` writes one with a single cluster, user and
 * context named "minik8s"; minictl, kubectl and every component read it.
 */
#ifndef MINIK8S_CLIENT_KUBECONFIG_H
#define MINIK8S_CLIENT_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/*
 * A resolved client configuration. Every string is owned by the struct and
 * freed by kubeconfig_free(); PEM buffers are NUL-terminated (the NUL is not
 * counted in the length). Fields may be changed with the setters below.
 */
struct kubeconfig {
	char *path;            /* file it came from, or NULL when built in memory */
	char *context;         /* context used, or NULL */
	char *server;          /* "https://127.0.0.1:6443", without a trailing '/' */
	char *namespace;       /* the context's namespace, or NULL (means "default") */
	char *ca_pem;          /* CA bundle (PEM), or NULL to use the system store */
	size_t ca_pem_len;
	bool insecure;         /* insecure-skip-tls-verify: do not check the server */
	char *token;           /* bearer token, or NULL */
	char *cert_pem;        /* client certificate (PEM), or NULL */
	size_t cert_pem_len;
	char *key_pem;         /* its private key (PEM), or NULL */
	size_t key_pem_len;
};

/* A configuration with just a server and optional token (for --server/--token). */
struct kubeconfig *kubeconfig_new(const char *server, const char *token);
void kubeconfig_free(struct kubeconfig *kc);

/*
 * Error reporting for the functions below: on failure they return -1 and put
 * one message into *err if err is not NULL; with err NULL they report it with
 * error(). Messages name the file: "cannot read kubeconfig '/x/config': No
 * such file or directory".
 */

/*
 * Reads path (YAML or JSON) and resolves context (NULL: current-context).
 * Relative certificate-authority, client-certificate, client-key and
 * tokenFile paths are relative to the file's directory, as in kubectl.
 * On success *out is a new kubeconfig.
 */
int kubeconfig_load(const char *path, const char *context, struct kubeconfig **out,
		    struct strbuf *err);

/* The same from text in memory. origin names it in messages and anchors
 * relative paths (may be NULL: the current directory). */
int kubeconfig_parse(const char *text, size_t len, const char *origin, const char *context,
		     struct kubeconfig **out, struct strbuf *err);

/*
 * Where to read the kubeconfig from: explicit_path if given; else the first
 * existing file of the colon-separated $KUBECONFIG; else the default path.
 * New heap string.
 */
char *kubeconfig_find(const char *explicit_path);

/* "$HOME/.minik8s/config" (falls back to the passwd entry's home). New string. */
char *kubeconfig_default_path(void);

/*
 * Writes kc as YAML with one cluster, user and context, all named "minik8s",
 * to path atomically with mode 0600, creating the parent directory (0700) if
 * needed. The CA and client certificate are embedded as *-data fields.
 */
int kubeconfig_write(const struct kubeconfig *kc, const char *path, struct strbuf *err);

/* The YAML kubeconfig_write writes. New heap string. */
char *kubeconfig_format(const struct kubeconfig *kc);

/* Overrides (for --server, --token, a fetched CA). NULL clears. Copies. */
void kubeconfig_set_server(struct kubeconfig *kc, const char *server);
void kubeconfig_set_token(struct kubeconfig *kc, const char *token);
void kubeconfig_set_ca(struct kubeconfig *kc, const char *pem, size_t len);
void kubeconfig_set_namespace(struct kubeconfig *kc, const char *ns);

/* Base64 (standard alphabet, with padding), as the *-data fields use.
 * encode: new string. decode: ignores whitespace, returns 0 and a new
 * NUL-terminated buffer, or -1 on bad input. */
char *kubeconfig_base64_encode(const void *data, size_t len);
int kubeconfig_base64_decode(const char *text, size_t len, char **out, size_t *out_len);

#endif
