/*
 * Docker Engine API calls behind docker.h: each call is one httpc request
 * to http://docker/v1.41/... over the engine's unix socket; answers are
 * parsed as JSON and errors turned into the engine's own message. The pure
 * helpers (stream demux, timestamps, tar) sit at the end.
 */
#include "kubelet/docker.h"
#include "core/log.h"
#include "core/object.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS (2 * 60 * 1000L)

struct docker {
	struct httpc *hc;
	char *socket;
};

struct docker_req {
	struct docker *d;
	struct httpc_req *hr;
	httpc_data_fn on_data;
	docker_done_fn on_done;
	void *data;
	char *what;   /* "POST /containers/create" for messages */
};

struct docker *docker_new(struct httpc *hc, const char *host)
{
	struct docker *d;
	const char *path = host;

	if (!host || !*host)
		path = "/var/run/docker.sock";
	else if (str_has_prefix(host, "unix://"))
		path = host + strlen("unix://");
	else if (strstr(host, "://")) {
		error("cannot use docker host '%s': only unix sockets are supported (unix:///var/run/docker.sock)",
		      host);
		return NULL;
	}
	d = xcalloc(1, sizeof(*d));
	d->hc = hc;
	d->socket = xstrdup(path);
	return d;
}

void docker_set_client(struct docker *d, struct httpc *hc)
{
	d->hc = hc;
}

void docker_free(struct docker *d)
{
	if (!d)
		return;
	free(d->socket);
	free(d);
}

const char *docker_socket(const struct docker *d)
{
	return d->socket;
}

void docker_query_add(char **path, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	struct strbuf sb;

	strbuf_init(&sb, strlen(*path) + strlen(key) + strlen(value) * 3 + 4);
	strbuf_adds(&sb, *path);
	strbuf_addc(&sb, strchr(*path, '?') ? '&' : '?');
	strbuf_adds(&sb, key);
	strbuf_addc(&sb, '=');
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '.' || *p == '_' || *p == '~') {
			strbuf_addc(&sb, (char)*p);
		} else {
			strbuf_addc(&sb, '%');
			strbuf_addc(&sb, hex[*p >> 4]);
			strbuf_addc(&sb, hex[*p & 15]);
		}
	}
	free(*path);
	*path = strbuf_detach(&sb, NULL);
}

static void on_http_done(const struct httpc_response *resp, void *data)
{
	struct docker_req *r = data;
	struct docker_result res = { 0 };
	json_t *body = NULL;
	char *msg = NULL;

	res.status = resp->status;
	res.raw = resp->body;
	res.raw_len = resp->body_len;
	if (resp->body_len)
		body = obj_parse(resp->body, resp->body_len, JSON_DECODE_ANY, NULL);
	res.body = body;
	if (resp->error) {
		if (!resp->status) {
			res.unreachable = true;
			msg = xasprintf("cannot reach the docker engine at '%s': %s", r->d->socket, resp->error);
		} else {
			msg = xasprintf("%s: %s", r->what, resp->error);
		}
	} else if (resp->status < 200 || resp->status >= 300) {
		const char *m = obj_str(body, "message");
		if (m && *m)
			msg = xstrdup(m);
		else if (resp->body_len && resp->body_len < 512)
			msg = xasprintf("%s: the engine answered %d: %.*s", r->what, resp->status, (int)resp->body_len,
					resp->body);
		else
			msg = xasprintf("%s: the engine answered %d", r->what, resp->status);
	}
	res.error = msg;
	if (msg)
		log_debug("docker call=\"%s\" status=%d error=\"%s\"", r->what, resp->status, msg);
	else
		log_trace("docker call=\"%s\" status=%d", r->what, resp->status);
	r->on_done(&res, r->data);
	json_decref(body);
	free(msg);
	free(r->what);
	free(r);
}

static int on_http_data(const char *buf, size_t len, void *data)
{
	struct docker_req *r = data;

	return r->on_data(buf, len, r->data);
}

struct docker_req *docker_stream(struct docker *d, const char *method, const char *path,
				 const char *content_type, const void *body, size_t body_len, long timeout_ms,
				 httpc_data_fn on_data, docker_done_fn on_done, void *data)
{
	struct docker_req *r = xcalloc(1, sizeof(*r));
	struct httpc_options o = { 0 };
	char *url = xasprintf("http://docker/" DOCKER_API_VERSION "%s", path);
	const char *q = strchr(path, '?');

	r->d = d;
	r->on_data = on_data;
	r->on_done = on_done;
	r->data = data;
	r->what = xasprintf("%s %.*s", method, q ? (int)(q - path) : (int)strlen(path), path);
	o.method = method;
	o.url = url;
	o.unix_socket = d->socket;
	o.content_type = content_type;
	o.body = body;
	o.body_len = body_len;
	o.timeout_ms = timeout_ms == 0 ? DEFAULT_TIMEOUT_MS : timeout_ms;
	o.connect_timeout_ms = 5000;
	o.on_data = on_data ? on_http_data : NULL;
	o.on_done = on_http_done;
	o.data = r;
	r->hr = httpc_start(d->hc, &o);
	free(url);
	if (!r->hr) {
		free(r->what);
		free(r);
		return NULL;
	}
	log_trace("docker start call=\"%s\"", r->what);
	return r;
}

struct docker_req *docker_call(struct docker *d, const char *method, const char *path, const json_t *body,
			       long timeout_ms, docker_done_fn on_done, void *data)
{
	struct docker_req *r;
	char *text = NULL;
	size_t len = 0;

	if (body)
		text = obj_dump(body, &len);
	r = docker_stream(d, method, path, body ? "application/json" : NULL, text, len, timeout_ms, NULL, on_done,
			  data);
	free(text);
	return r;
}

void docker_cancel(struct docker_req *r)
{
	if (!r)
		return;
	httpc_cancel(r->hr);
	free(r->what);
	free(r);
}

/* ---- byte formats ---------------------------------------------------------- */

void docker_demux_init(struct docker_demux *m)
{
	memset(m, 0, sizeof(*m));
}

int docker_demux_feed(struct docker_demux *m, const char *buf, size_t len, docker_demux_fn out, void *data)
{
	while (len) {
		if (m->remaining == 0) {
			size_t take = 8 - m->hdr_len;
			if (take > len)
				take = len;
			memcpy(m->hdr + m->hdr_len, buf, take);
			m->hdr_len += take;
			buf += take;
			len -= take;
			if (m->hdr_len < 8)
				return 0;
			m->hdr_len = 0;
			m->stream = m->hdr[0];
			m->remaining = (uint32_t)m->hdr[4] << 24 | (uint32_t)m->hdr[5] << 16 | (uint32_t)m->hdr[6] << 8 |
				       (uint32_t)m->hdr[7];
			continue;
		}
		size_t take = m->remaining < len ? m->remaining : len;
		int rc = out(m->stream, buf, take, data);
		if (rc < 0)
			return rc;
		m->remaining -= (uint32_t)take;
		buf += take;
		len -= take;
	}
	return 0;
}

int64_t docker_time_ms(const char *s)
{
	struct tm tm;
	int64_t ms = 0;
	const char *p;
	time_t t;

	if (!s || strlen(s) < 19 || str_has_prefix(s, "0001-"))
		return 0;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return 0;
	if (*p == '.') {
		int digits = 0;
		p++;
		while (*p >= '0' && *p <= '9') {
			if (digits < 3) {
				ms = ms * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		while (digits++ < 3)
			ms *= 10;
	}
	t = timegm(&tm);
	if (*p == '+' || *p == '-') {
		int hh = 0, mm = 0;
		if (sscanf(p + 1, "%d:%d", &hh, &mm) >= 1) {
			int64_t off = (int64_t)hh * 3600 + mm * 60;
			t -= (*p == '+') ? off : -off;
		}
	}
	return (int64_t)t * 1000 + ms;
}

void docker_format_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void tar_octal(char *field, size_t size, unsigned long long v)
{
	/* size-1 octal digits and a NUL, zero-padded, as ustar wants. */
	snprintf(field, size, "%0*llo", (int)(size - 1), v);
}

void docker_tar_add(struct strbuf *sb, const char *name, const void *data, size_t len, unsigned mode)
{
	char hdr[512];
	unsigned sum = 0;
	size_t pad;

	memset(hdr, 0, sizeof(hdr));
	snprintf(hdr, 100, "%s", name);
	tar_octal(hdr + 100, 8, mode & 07777);
	tar_octal(hdr + 108, 8, 0);
	tar_octal(hdr + 116, 8, 0);
	tar_octal(hdr + 124, 12, len);
	tar_octal(hdr + 136, 12, (unsigned long long)time(NULL));
	hdr[156] = '0';
	memcpy(hdr + 257, "ustar", 6);
	memcpy(hdr + 263, "00", 2);
	memset(hdr + 148, ' ', 8);
	for (size_t i = 0; i < sizeof(hdr); i++)
		sum += (unsigned char)hdr[i];
	snprintf(hdr + 148, 8, "%06o", sum);
	hdr[155] = ' ';
	strbuf_add(sb, hdr, sizeof(hdr));
	strbuf_add(sb, data, len);
	pad = (512 - len % 512) % 512;
	if (pad) {
		char zero[512] = { 0 };
		strbuf_add(sb, zero, pad);
	}
}

void docker_tar_end(struct strbuf *sb)
{
	char zero[1024] = { 0 };

	strbuf_add(sb, zero, sizeof(zero));
}
