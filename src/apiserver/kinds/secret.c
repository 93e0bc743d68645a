/*
 * v1 Secret: type defaults to Opaque and stringData is folded into data as
 * base64 (Kubernetes does that when it converts the v1 object); data values
 * must be base64, keys valid config keys, the total at most 1 MiB, and the
 * well-known types carry their required keys. Type and, once immutable,
 * data cannot change. Columns TYPE, DATA, AGE; "type" is selectable.
 */
#include "internal.h"
#include "object.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIZE 1048576

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const unsigned char *in, size_t n)
{
	char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

/*
 * Decodes standard, padded base64 as Go's encoding/json does for []byte
 * (newlines skipped). Returns the decoded bytes (NUL-terminated, caller
 * frees) and their count, or NULL with the offset Go's CorruptInputError
 * would report.
 */
static unsigned char *base64_decode(const char *s, size_t *len, size_t *bad)
{
	size_t n = strlen(s), si = 0;
	unsigned char *out = xmalloc(n / 4 * 3 + 4);
	size_t o = 0;

	for (;;) {
		int vals[4], j = 0;

		while (si < n && (s[si] == '\n' || s[si] == '\r'))
			si++;
		if (si == n)
			break;
		for (j = 0; j < 4; j++) {
			while (si < n && (s[si] == '\n' || s[si] == '\r'))
				si++;
			if (si == n) {
				*bad = si - (size_t)j;
				goto fail;
			}
			if (s[si] == '=') {
				if (j < 2) {
					*bad = si;
					goto fail;
				}
				si++;
				if (j == 2) {
					while (si < n && (s[si] == '\n' || s[si] == '\r'))
						si++;
					if (si == n || s[si] != '=') {
						*bad = si == n ? n : si;
						goto fail;
					}
					si++;
				}
				while (si < n && (s[si] == '\n' || s[si] == '\r'))
					si++;
				if (si < n) {
					*bad = si;
					goto fail;
				}
				break;
			}
			vals[j] = b64_value(s[si]);
			if (vals[j] < 0) {
				*bad = si;
				goto fail;
			}
			si++;
		}
		if (j >= 2)
			out[o++] = (unsigned char)(vals[0] << 2 | vals[1] >> 4);
		if (j >= 3)
			out[o++] = (unsigned char)(vals[1] << 4 | vals[2] >> 2);
		if (j == 4)
			out[o++] = (unsigned char)(vals[2] << 6 | vals[3]);
		if (j < 4)
			break;
	}
	out[o] = '\0';
	*len = o;
	return out;
fail:
	free(out);
	return NULL;
}

static void secret_defaults(json_t *obj)
{
	json_t *sd = json_object_get(obj, "stringData"), *v;
	const char *type = obj_str(obj, "type"), *k;

	if (!type || !*type)
		json_object_set_new(obj, "type", json_string("Opaque"));
	if (json_is_object(sd)) {
		json_t *data = json_object_get(obj, "data");
		if (!json_is_object(data)) {
			data = json_object();
			json_object_set_new(obj, "data", data);
		}
		json_object_foreach(sd, k, v) {
			char *enc;
			if (!json_is_string(v))
				continue;
			enc = base64_encode((const unsigned char *)json_string_value(v), json_string_length(v));
			json_object_set_new(data, k, json_string(enc));
			free(enc);
		}
	}
	if (sd)
		json_object_del(obj, "stringData");
}

static bool has_key(const json_t *data, const char *k)
{
	return json_object_get(data, k) != NULL;
}

static void require_key(const json_t *data, const char *k, struct field_errors *e)
{
	if (!has_key(data, k)) {
		char *p = xasprintf("data[%s]", k);
		field_required(e, p, NULL);
		free(p);
	}
}

static void check_docker_config(const json_t *data, const char *k, struct field_errors *e)
{
	const char *v = json_string_value(json_object_get(data, k));
	unsigned char *raw;
	size_t len, bad;
	json_error_t err;
	json_t *parsed;

	if (!has_key(data, k)) {
		require_key(data, k, e);
		return;
	}
	raw = base64_decode(v ? v : "", &len, &bad);
	if (!raw)
		return;
	parsed = json_loadb((const char *)raw, len, 0, &err);
	if (!parsed || !json_is_object(parsed)) {
		char *p = xasprintf("data[%s]", k);
		field_invalid_str(e, p, "<secret contents redacted>", parsed ? "json: cannot unmarshal into a map" : err.text);
		free(p);
	}
	json_decref(parsed);
	free(raw);
}

static void secret_validate(const json_t *obj, const json_t *old, struct field_errors *e)
{
	json_t *data = json_object_get(obj, "data"), *v;
	const char *type = obj_str(obj, "type") ? obj_str(obj, "type") : "", *k;
	size_t total = 0;

	if (old) {
		const char *otype = obj_str(old, "type") ? obj_str(old, "type") : "";
		validate_object_meta_update(obj, old, e);
		if (strcmp(type, otype))
			field_invalid_str(e, "type", type, "field is immutable");
		if (json_is_true(json_object_get(old, "immutable"))) {
			json_t *od = json_object_get(old, "data");
			if (!json_is_true(json_object_get(obj, "immutable")))
				field_forbidden(e, "immutable", "field is immutable when `immutable` is set");
			if (!((json_object_size(data) == 0 && json_object_size(od) == 0) ||
			      (data && od && json_equal(data, od))))
				field_forbidden(e, "data", "field is immutable when `immutable` is set");
		}
	}
	validate_object_meta(obj, true, "dns1123-subdomain", e);
	json_object_foreach(data, k, v) {
		char *p = xasprintf("data[%s]", k);
		unsigned char *raw;
		size_t len, bad;

		check_field_config_key(e, p, k);
		raw = json_is_string(v) ? base64_decode(json_string_value(v), &len, &bad) : NULL;
		if (raw) {
			total += len;
			free(raw);
		} else if (json_is_string(v)) {
			char *d = xasprintf("illegal base64 data at input byte %zu", bad);
			field_invalid_str(e, p, "<secret contents redacted>", d);
			free(d);
		} else if (!json_is_null(v)) {
			field_invalid(e, p, v, "must be a base64 string");
		}
		free(p);
	}
	if (total > MAX_SIZE)
		field_too_long(e, "data", MAX_SIZE);
	if (!strcmp(type, "kubernetes.io/service-account-token")) {
		const char *sa = obj_annotation(obj, "kubernetes.io/service-account.name");
		if (!sa || !*sa)
			field_required(e, "metadata.annotations[kubernetes.io/service-account.name]", NULL);
	} else if (!strcmp(type, "kubernetes.io/dockercfg")) {
		check_docker_config(data, ".dockercfg", e);
	} else if (!strcmp(type, "kubernetes.io/dockerconfigjson")) {
		check_docker_config(data, ".dockerconfigjson", e);
	} else if (!strcmp(type, "kubernetes.io/basic-auth")) {
		if (!has_key(data, "username") && !has_key(data, "password")) {
			require_key(data, "username", e);
			require_key(data, "password", e);
		}
	} else if (!strcmp(type, "kubernetes.io/ssh-auth")) {
		const char *pk = json_string_value(json_object_get(data, "ssh-privatekey"));
		if (!pk || !*pk)
			field_required(e, "data[ssh-privatekey]", NULL);
	} else if (!strcmp(type, "kubernetes.io/tls")) {
		require_key(data, "tls.crt", e);
		require_key(data, "tls.key", e);
	}
}

static json_t *cell_type(const json_t *obj, time_t now)
{
	return cell_str(obj, "type", "");
}

static json_t *cell_data(const json_t *obj, time_t now)
{
	return json_integer((json_int_t)json_object_size(json_object_get(obj, "data")));
}

static const struct table_column secret_columns[] = {
	{ "Type", "string", "", "Used to facilitate programmatic handling of secret data.", 0, cell_type },
	{ "Data", "string", "", "Data contains the secret data.", 0, cell_data },
	AGE_COLUMN,
	{ NULL, NULL, NULL, NULL, 0, NULL },
};

static const char *secret_field_value(const json_t *obj, const char *field)
{
	if (!strcmp(field, "type")) {
		const char *t = obj_str(obj, "type");
		return t ? t : "";
	}
	return NULL;
}

/* Every field secret_field_value() answers for. */
static const char *const secret_fields[] = { "type", NULL };

const struct kind kind_secret = {
	.group = "",
	.version = "v1",
	.kind = "Secret",
	.plural = "secrets",
	.singular = "secret",
	.namespaced = true,
	.short_names = NULL,
	.categories = NULL,
	.subresources = NULL,
	.name_is_label = false,
	.defaults = secret_defaults,
	.validate = secret_validate,
	.columns = secret_columns,
	.field_value = secret_field_value,
	.fields = secret_fields,
};
