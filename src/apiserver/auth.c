/*
 * Authentication by bearer token. Four kinds of token:
 *   admin.token          people and the control plane's own components
 *   node.token           the secret part of the join token: may only join
 *   node credentials     one per node, issued at join (join.c), kept as
 *                        Secrets in kube-system so they survive restarts
 *   kubelet-client.token what the apiserver shows a kubelet's port
 * Comparison is constant-time so a token cannot be guessed byte by byte.
 */
#include "apiserver/apiserver.h"
#include "apiserver/pki.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct auth {
	char *admin;
	char *node;
	char *kubelet_client;
	json_t *node_tokens; /* token -> node name */
};

static char *load_token(const char *data_dir, const char *name)
{
	char *f = xasprintf("%s/pki/%s", data_dir, name);
	char *t = pki_load_or_create_token(f);

	free(f);
	return t;
}

struct auth *auth_new(const char *data_dir)
{
	struct auth *a = xcalloc(1, sizeof(*a));

	a->admin = load_token(data_dir, "admin.token");
	a->node = load_token(data_dir, "node.token");
	a->kubelet_client = load_token(data_dir, "kubelet-client.token");
	a->node_tokens = json_object();
	if (!a->admin || !a->node || !a->kubelet_client) {
		auth_free(a);
		return NULL;
	}
	return a;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	free(a->admin);
	free(a->node);
	free(a->kubelet_client);
	json_decref(a->node_tokens);
	free(a);
}

void auth_set_node_token(struct auth *a, const char *node, const char *token)
{
	const char *t;
	json_t *v, *tmp;

	/* A node has one credential: drop an older one. */
	json_object_foreach_safe(a->node_tokens, tmp, t, v)
		if (!strcmp(json_string_value(v), node))
			json_object_del(a->node_tokens, t);
	json_object_set_new(a->node_tokens, token, json_string(node));
}

char *secret_data_string(const json_t *secret, const char *field)
{
	const char *b64 = json_string_value(json_object_get(obj_get(secret, "data"), field));
	unsigned char buf[256];
	int n;

	if (!b64 || strlen(b64) > 300)
		return NULL;
	n = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)strlen(b64));
	if (n <= 0)
		return NULL;
	/* EVP_DecodeBlock counts padding as zero bytes. */
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	return xstrndup((const char *)buf, (size_t)n);
}

static int load_one(const char *key, const json_t *secret, void *data)
{
	struct auth *a = data;
	const char *node = obj_label(secret, "minik8s.io/node");
	char *token = node ? secret_data_string(secret, "token") : NULL;

	(void)key;
	if (token)
		auth_set_node_token(a, node, token);
	free(token);
	return 0;
}

void auth_load_node_tokens(struct auth *a, struct store *s)
{
	char *prefix = xasprintf("/registry/secrets/kube-system/%s", NODE_CREDENTIAL_PREFIX);

	store_list_trees(s, prefix, load_one, a);
	free(prefix);
}

static bool token_equal(const char *given, size_t len, const char *want)
{
	return want && strlen(want) == len && CRYPTO_memcmp(given, want, len) == 0;
}

bool auth_authenticate(struct auth *a, const struct http_request *req, struct identity *who)
{
	const char *h = http_request_header(req, "Authorization");
	const char *t;
	json_t *v;
	size_t len;

	memset(who, 0, sizeof(*who));
	if (!h || strncasecmp(h, "Bearer ", 7))
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	len = strlen(h);
	while (len && (h[len - 1] == ' ' || h[len - 1] == '\r'))
		len--;
	if (token_equal(h, len, a->admin)) {
		snprintf(who->user, sizeof(who->user), "admin");
		who->admin = true;
		return true;
	}
	if (token_equal(h, len, a->node)) {
		snprintf(who->user, sizeof(who->user), "system:bootstrap");
		who->bootstrap = true;
		return true;
	}
	/* Node credentials: compared one by one in constant time each, so a
	 * lookup by value cannot leak a prefix through timing. */
	json_object_foreach(a->node_tokens, t, v) {
		if (token_equal(h, len, t)) {
			snprintf(who->node, sizeof(who->node), "%s", json_string_value(v));
			snprintf(who->user, sizeof(who->user), "system:node:%s", who->node);
			return true;
		}
	}
	return false;
}

const char *auth_admin_token(const struct auth *a)
{
	return a->admin;
}

const char *auth_node_token(const struct auth *a)
{
	return a->node;
}

const char *auth_kubelet_client_token(const struct auth *a)
{
	return a->kubelet_client;
}
