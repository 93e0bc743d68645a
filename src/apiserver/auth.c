/*
 * Authentication by bearer token. The tokens live in <data-dir>/pki
 * (admin.token for people and the control plane's own components,
 * node.token, the secret part of the node-join token). Comparison is
 * constant-time so a token cannot be guessed byte by byte from timings.
 */
#include "apiserver/apiserver.h"
#include "apiserver/pki.h"
#include "core/util.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

struct auth {
	char *admin;
	char *node;
};

struct auth *auth_new(const char *data_dir)
{
	struct auth *a = xcalloc(1, sizeof(*a));
	char *f;

	f = xasprintf("%s/pki/admin.token", data_dir);
	a->admin = pki_load_or_create_token(f);
	free(f);
	f = xasprintf("%s/pki/node.token", data_dir);
	a->node = pki_load_or_create_token(f);
	free(f);
	if (!a->admin || !a->node) {
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
	free(a);
}

static bool token_equal(const char *given, size_t len, const char *want)
{
	return want && strlen(want) == len && CRYPTO_memcmp(given, want, len) == 0;
}

bool auth_authenticate(struct auth *a, const struct http_request *req, struct identity *who)
{
	const char *h = http_request_header(req, "Authorization");
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
		who->user = "admin";
		who->admin = true;
		return true;
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
