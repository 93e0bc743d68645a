/*
 * Kubeconfig reading and writing behind kubeconfig.h. The file is decoded by
 * src/core/yaml.c into a jansson tree, then walked by name: current-context
 * -> context -> cluster and user entries. Writing formats the YAML by hand
 * (values quoted as JSON strings, which YAML reads back unchanged) so the
 * output does not depend on the YAML encoder's choices.
 */
#include "kubeconfig.h"
#include "log.h"
#include "object.h"
#include "util.h"
#include "yaml.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

PRINTF_LIKE(2, 3)
static int fail(struct strbuf *err, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	strbuf_init(&sb, 128);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (err) {
		strbuf_reset(err);
		strbuf_add(err, sb.buf, sb.len);
	} else {
		error("%s", sb.buf);
	}
	strbuf_release(&sb);
	return -1;
}

static void set_str(char **field, const char *value)
{
	free(*field);
	*field = value ? xstrdup(value) : NULL;
}

static void set_buf(char **field, size_t *flen, const char *data, size_t len)
{
	free(*field);
	*field = NULL;
	*flen = 0;
	if (data) {
		*field = xmalloc(len + 1);
		memcpy(*field, data, len);
		(*field)[len] = '\0';
		*flen = len;
	}
}

void kubeconfig_set_server(struct kubeconfig *kc, const char *server)
{
	set_str(&kc->server, server);
	/* Paths are appended as "/api/..."; keep exactly one slash between. */
	if (kc->server) {
		size_t n = strlen(kc->server);
		while (n > 0 && kc->server[n - 1] == '/')
			kc->server[--n] = '\0';
	}
}

void kubeconfig_set_token(struct kubeconfig *kc, const char *token)
{
	set_str(&kc->token, token);
}

void kubeconfig_set_namespace(struct kubeconfig *kc, const char *ns)
{
	set_str(&kc->namespace, ns);
}

void kubeconfig_set_ca(struct kubeconfig *kc, const char *pem, size_t len)
{
	set_buf(&kc->ca_pem, &kc->ca_pem_len, pem, len);
}

struct kubeconfig *kubeconfig_new(const char *server, const char *token)
{
	struct kubeconfig *kc = xcalloc(1, sizeof(*kc));

	kubeconfig_set_server(kc, server);
	kubeconfig_set_token(kc, token);
	return kc;
}

void kubeconfig_free(struct kubeconfig *kc)
{
	if (!kc)
		return;
	free(kc->path);
	free(kc->context);
	free(kc->server);
	free(kc->namespace);
	free(kc->ca_pem);
	free(kc->token);
	free(kc->cert_pem);
	free(kc->key_pem);
	free(kc);
}

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *kubeconfig_base64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64_chars[v >> 18 & 63];
		*o++ = b64_chars[v >> 12 & 63];
		*o++ = b64_chars[v >> 6 & 63];
		*o++ = b64_chars[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = b64_chars[v >> 18 & 63];
		*o++ = b64_chars[v >> 12 & 63];
		*o++ = i + 1 < len ? b64_chars[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_chars, c) : NULL;
	return p ? (int)(p - b64_chars) : -1;
}

int kubeconfig_base64_decode(const char *text, size_t len, char **out, size_t *out_len)
{
	char *buf = xmalloc(len / 4 * 3 + 4);
	size_t n = 0, pad = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = b64_value(c);
		if (v < 0 || pad)
			goto bad;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (char)(acc >> bits & 0xff);
		}
	}
	/* Leftover bits must be padding zeros; at most two '=' */
	if (pad > 2 || bits >= 6 || (acc & ((1u << bits) - 1)))
		goto bad;
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return 0;
bad:
	free(buf);
	return -1;
}

/* The member `field` of the element of doc[list] whose name is name. */
static json_t *find_named(const json_t *doc, const char *list, const char *name, const char *field)
{
	json_t *arr = json_object_get(doc, list), *el;
	size_t i;

	if (!name || !json_is_array(arr))
		return NULL;
	json_array_foreach(arr, i, el) {
		const char *n = json_string_value(json_object_get(el, "name"));
		if (n && !strcmp(n, name)) {
			json_t *v = json_object_get(el, field);
			/* "user: {}" and a missing user entry mean the same thing. */
			return json_is_object(v) ? v : json_object_get(el, "name");
		}
	}
	return NULL;
}

/* path, or path joined to the directory of origin when relative. */
static char *resolve_path(const char *origin, const char *path)
{
	const char *slash = origin ? strrchr(origin, '/') : NULL;

	if (path[0] == '/' || !slash)
		return xstrdup(path);
	return xasprintf("%.*s/%s", (int)(slash - origin), origin, path);
}

/*
 * Reads a "<what>-data" (base64) or "<what>" (file) pair of entry into
 * out and len. Absent both, leaves *out NULL.
 */
static int read_data_or_file(const json_t *entry, const char *what, const char *entry_kind,
			     const char *entry_name, const char *origin, char **out, size_t *len,
			     struct strbuf *err)
{
	char key[64];
	const char *data, *file;
	int rc;

	snprintf(key, sizeof(key), "%s-data", what);
	data = obj_str(entry, key);
	file = obj_str(entry, what);
	if (data && *data) {
		if (kubeconfig_base64_decode(data, strlen(data), out, len) < 0)
			return fail(err, "kubeconfig '%s': %s of %s '%s' is not valid base64; fix or remove it",
				    origin, key, entry_kind, entry_name);
		return 0;
	}
	if (file && *file) {
		char *p = resolve_path(origin, file);
		rc = read_file(p, out, len);
		if (rc < 0)
			fail(err, "kubeconfig '%s': cannot read %s '%s' of %s '%s': %s", origin, what, p,
			     entry_kind, entry_name, strerror(-rc));
		free(p);
		return rc < 0 ? -1 : 0;
	}
	return 0;
}

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
		i++;
	memmove(s, s + i, n - i + 1);
}

static int resolve(const json_t *doc, const char *origin, const char *context, struct kubeconfig *kc,
		   struct strbuf *err)
{
	const char *ctx_name, *cluster_name, *user_name, *server, *token;
	json_t *ctx, *cluster, *user = NULL;

	if (!json_is_object(doc))
		return fail(err, "kubeconfig '%s' is not a mapping of clusters, users and contexts", origin);
	ctx_name = context && *context ? context : obj_str(doc, "current-context");
	if (!ctx_name || !*ctx_name)
		return fail(err, "kubeconfig '%s' has no current-context; set one or choose a context", origin);
	ctx = find_named(doc, "contexts", ctx_name, "context");
	if (!json_is_object(ctx))
		return fail(err, "kubeconfig '%s' has no context '%s'", origin, ctx_name);
	cluster_name = obj_str(ctx, "cluster");
	cluster = find_named(doc, "clusters", cluster_name, "cluster");
	if (!json_is_object(cluster))
		return fail(err, "kubeconfig '%s': context '%s' names cluster '%s', which is not defined",
			    origin, ctx_name, cluster_name ? cluster_name : "");
	server = obj_str(cluster, "server");
	if (!server || !*server)
		return fail(err, "kubeconfig '%s': cluster '%s' has no server", origin, cluster_name);
	user_name = obj_str(ctx, "user");
	if (user_name && *user_name) {
		user = find_named(doc, "users", user_name, "user");
		if (!user)
			return fail(err, "kubeconfig '%s': context '%s' names user '%s', which is not defined",
				    origin, ctx_name, user_name);
		if (!json_is_object(user))
			user = NULL;
	}

	set_str(&kc->context, ctx_name);
	kubeconfig_set_server(kc, server);
	set_str(&kc->namespace, obj_str(ctx, "namespace"));
	kc->insecure = obj_bool(cluster, "insecure-skip-tls-verify", false);
	if (read_data_or_file(cluster, "certificate-authority", "cluster", cluster_name, origin,
			      &kc->ca_pem, &kc->ca_pem_len, err) < 0)
		return -1;
	if (!user)
		return 0;
	token = obj_str(user, "token");
	if (token && *token) {
		set_str(&kc->token, token);
	} else if (obj_str(user, "tokenFile") && *obj_str(user, "tokenFile")) {
		char *p = resolve_path(origin, obj_str(user, "tokenFile")), *buf;
		size_t len;
		int rc = read_file(p, &buf, &len);
		if (rc < 0) {
			fail(err, "kubeconfig '%s': cannot read tokenFile '%s' of user '%s': %s", origin, p,
			     user_name, strerror(-rc));
			free(p);
			return -1;
		}
		free(p);
		trim(buf);
		kc->token = buf;
	}
	if (read_data_or_file(user, "client-certificate", "user", user_name, origin, &kc->cert_pem,
			      &kc->cert_pem_len, err) < 0 ||
	    read_data_or_file(user, "client-key", "user", user_name, origin, &kc->key_pem,
			      &kc->key_pem_len, err) < 0)
		return -1;
	return 0;
}

int kubeconfig_parse(const char *text, size_t len, const char *origin, const char *context,
		     struct kubeconfig **out, struct strbuf *err)
{
	struct yaml_error yerr;
	struct kubeconfig *kc;
	json_t *doc;
	const char *name = origin ? origin : "(memory)";
	int rc;

	memset(&yerr, 0, sizeof(yerr));
	doc = yaml_decode_one(text, len, &yerr);
	if (!doc)
		return fail(err, "cannot parse kubeconfig '%s': line %d column %d: %s", name, yerr.line,
			    yerr.column, yerr.message[0] ? yerr.message : "not YAML");
	kc = xcalloc(1, sizeof(*kc));
	rc = resolve(doc, name, context, kc, err);
	json_decref(doc);
	if (rc < 0) {
		kubeconfig_free(kc);
		return -1;
	}
	set_str(&kc->path, origin);
	*out = kc;
	return 0;
}

int kubeconfig_load(const char *path, const char *context, struct kubeconfig **out,
		    struct strbuf *err)
{
	char *text;
	size_t len;
	int rc = read_file(path, &text, &len);

	if (rc < 0)
		return fail(err, "cannot read kubeconfig '%s': %s", path, strerror(-rc));
	rc = kubeconfig_parse(text, len, path, context, out, err);
	free(text);
	return rc;
}

char *kubeconfig_default_path(void)
{
	const char *home = getenv("HOME");

	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw && pw->pw_dir ? pw->pw_dir : "/";
	}
	return xasprintf("%s/.minik8s/config", home);
}

char *kubeconfig_find(const char *explicit_path)
{
	const char *env = getenv("KUBECONFIG");

	if (explicit_path && *explicit_path)
		return xstrdup(explicit_path);
	if (env && *env) {
		char *list = xstrdup(env), *save = NULL, *p;
		for (p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
			if (access(p, F_OK) == 0) {
				char *found = xstrdup(p);
				free(list);
				return found;
			}
		}
		free(list);
	}
	return kubeconfig_default_path();
}

/* A YAML double-quoted scalar: a JSON string literal reads back the same. */
static void add_quoted(struct strbuf *sb, const char *s)
{
	json_t *j = json_string(s);
	char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	strbuf_adds(sb, q ? q : "\"\"");
	free(q);
	json_decref(j);
}

static void add_b64(struct strbuf *sb, const char *key, const char *data, size_t len)
{
	char *b;

	if (!data)
		return;
	b = kubeconfig_base64_encode(data, len);
	strbuf_addf(sb, "    %s: %s\n", key, b);
	free(b);
}

char *kubeconfig_format(const struct kubeconfig *kc)
{
	struct strbuf sb;

	strbuf_init(&sb, 4096);
	strbuf_adds(&sb, "apiVersion: v1\nkind: Config\nclusters:\n- name: minik8s\n  cluster:\n    server: ");
	add_quoted(&sb, kc->server ? kc->server : "");
	strbuf_addc(&sb, '\n');
	add_b64(&sb, "certificate-authority-data", kc->ca_pem, kc->ca_pem_len);
	if (kc->insecure)
		strbuf_adds(&sb, "    insecure-skip-tls-verify: true\n");
	strbuf_adds(&sb, "users:\n- name: minik8s\n");
	if (!kc->token && !kc->cert_pem && !kc->key_pem) {
		strbuf_adds(&sb, "  user: {}\n");
	} else {
		strbuf_adds(&sb, "  user:\n");
		if (kc->token) {
			strbuf_adds(&sb, "    token: ");
			add_quoted(&sb, kc->token);
			strbuf_addc(&sb, '\n');
		}
		add_b64(&sb, "client-certificate-data", kc->cert_pem, kc->cert_pem_len);
		add_b64(&sb, "client-key-data", kc->key_pem, kc->key_pem_len);
	}
	strbuf_adds(&sb, "contexts:\n- name: minik8s\n  context:\n    cluster: minik8s\n    user: minik8s\n");
	if (kc->namespace && *kc->namespace) {
		strbuf_adds(&sb, "    namespace: ");
		add_quoted(&sb, kc->namespace);
		strbuf_addc(&sb, '\n');
	}
	strbuf_adds(&sb, "current-context: minik8s\npreferences: {}\n");
	return strbuf_detach(&sb, NULL);
}

int kubeconfig_write(const struct kubeconfig *kc, const char *path, struct strbuf *err)
{
	char *text = kubeconfig_format(kc), *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int rc = 0;

	if (slash && slash != dir) {
		*slash = '\0';
		rc = mkdir_p(dir, 0700);
		if (rc < 0) {
			fail(err, "cannot create directory '%s' for kubeconfig: %s", dir, strerror(-rc));
			goto out;
		}
	}
	rc = write_file_atomic(path, text, strlen(text), 0600);
	if (rc < 0)
		fail(err, "cannot write kubeconfig '%s': %s", path, strerror(-rc));
out:
	free(dir);
	free(text);
	return rc < 0 ? -1 : 0;
}
