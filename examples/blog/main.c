/*
 * `blog <service>`: the command table of the classroom blog and what every
 * service shares: the HTTP server on our core library, /healthz, POST
 * /events for subscribers, sending events to the bus, JSON replies, and a
 * clean stop on SIGTERM (a container's PID 1 gets no default handler, so
 * without one `docker stop` would wait its full grace period).
 */
#include "blog.h"

#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>

#include "flags.h"
#include "log.h"
#include "object.h"

static const struct blog_service *const services[] = {
	&posts_service,
	&comments_service,
	&query_service,
	&moderation_service,
	&event_bus_service,
	&client_service,
};

/* --- replies and requests ------------------------------------------------ */

static void log_request(const struct http_request *req, int status)
{
	/* Readiness probes ask every few seconds; keep them out of the way. */
	if (!strcmp(req->path, "/healthz"))
		log_debug("request method=%s path=%s code=%d", req->method, req->url, status);
	else
		log_info("request method=%s path=%s code=%d", req->method, req->url, status);
}

void blog_reply(struct http_request *req, int status, const char *content_type, const void *body, size_t len)
{
	log_request(req, status);
	http_respond(req, status, content_type, body, len);
}

void blog_reply_json(struct http_request *req, int status, json_t *body)
{
	log_request(req, status);
	http_respond_json(req, status, body);
}

void blog_reply_error(struct http_request *req, int status, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	strbuf_init(&sb, 64);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	blog_reply_json(req, status, json_pack("{s:s}", "error", sb.buf));
	strbuf_release(&sb);
}

bool blog_method_is(const struct http_request *req, const char *method)
{
	return !strcmp(req->method, method);
}

json_t *blog_body_object(struct http_request *req)
{
	json_error_t jerr;
	json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);

	if (!body || !json_is_object(body)) {
		blog_reply_error(req, 400, "the body must be a JSON object%s%s", body ? "" : ": ",
				 body ? "" : jerr.text);
		json_decref(body);
		return NULL;
	}
	return body;
}

const char *blog_body_string(struct http_request *req, json_t *body, const char *field)
{
	const char *s = json_string_value(json_object_get(body, field));

	if (!s || !*s) {
		blog_reply_error(req, 400, "field '%s' must be a non-empty string", field);
		return NULL;
	}
	return s;
}

bool blog_id_valid(const char *id)
{
	if (!*id)
		return false;
	for (const char *p = id; *p; p++) {
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
		    *p != '-' && *p != '_')
			return false;
	}
	return true;
}

bool blog_path_id(const char *path, const char *prefix, const char *suffix, char *id, size_t size)
{
	size_t plen = strlen(prefix), slen = strlen(suffix), len = strlen(path), n;

	if (len < plen + slen || strncmp(path, prefix, plen) || strcmp(path + len - slen, suffix))
		return false;
	n = len - plen - slen;
	if (n == 0 || n >= size)
		return false;
	memcpy(id, path + plen, n);
	id[n] = '\0';
	return blog_id_valid(id);
}

void blog_new_id(char id[BLOG_ID_LEN])
{
	unsigned char raw[4];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		die("cannot read random bytes for an id");
	snprintf(id, BLOG_ID_LEN, "%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3]);
}

/* --- events -------------------------------------------------------------- */

struct emit {
	struct blog *b;
	char *type;
	void (*done)(int err, void *arg);
	void *arg;
};

static void on_emitted(const struct fetch_response *res, void *data)
{
	struct emit *e = data;
	int err = 0;

	if (res->error) {
		log_warn("event not sent type=%s error=\"%s\"", e->type, res->error);
		err = -1;
	} else if (res->status / 100 != 2) {
		log_warn("event refused type=%s code=%ld body=%s", e->type, res->status, res->body);
		err = -1;
	} else {
		log_info("event sent type=%s", e->type);
	}
	if (e->done)
		e->done(err, e->arg);
	free(e->type);
	free(e);
}

int blog_emit(struct blog *b, const char *type, json_t *data, void (*done)(int err, void *arg), void *arg)
{
	json_t *event = json_pack("{s:s,s:o}", "type", type, "data", data);
	struct emit *e = xcalloc(1, sizeof(*e));
	char *url = xasprintf("%s/events", b->event_bus_url);
	size_t len;
	char *body = obj_dump(event, &len);
	int rc;

	e->b = b;
	e->type = xstrdup(type);
	e->done = done;
	e->arg = arg;
	rc = fetcher_request(b->fetch, "POST", url, body, len, NULL, on_emitted, e);
	if (rc < 0) {
		free(e->type);
		free(e);
	}
	free(body);
	free(url);
	json_decref(event);
	return rc;
}

/* A subscriber's POST /events: {"type": "...", "data": {...}}. */
static void handle_event(struct blog *b, struct http_request *req)
{
	json_t *event = blog_body_object(req);
	const char *type;
	json_t *data;

	if (!event)
		return;
	type = json_string_value(json_object_get(event, "type"));
	data = json_object_get(event, "data");
	if (!type || !json_is_object(data)) {
		blog_reply_error(req, 400, "an event is {\"type\": string, \"data\": object}");
		goto out;
	}
	log_info("event received type=%s", type);
	b->svc->on_event(b, type, data);
	blog_reply_json(req, 200, json_object());
out:
	json_decref(event);
}

static void on_request(struct http_request *req, void *data)
{
	struct blog *b = data;

	if (!strcmp(req->path, "/healthz")) {
		if (b->not_ready)
			blog_reply(req, 503, "text/plain", b->not_ready, strlen(b->not_ready));
		else
			blog_reply(req, 200, "text/plain", "ok", 2);
		return;
	}
	if (b->svc->on_event && !strcmp(req->path, "/events") && blog_method_is(req, "POST")) {
		handle_event(b, req);
		return;
	}
	if (!b->svc->handle || !b->svc->handle(b, req))
		blog_reply_error(req, 404, "no route for '%s %s' in the %s service", req->method, req->path,
				 b->svc->name);
}

/* --- lifecycle ----------------------------------------------------------- */

struct runner {
	struct blog blog;
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
};

static void on_signal(uv_signal_t *s, int signum)
{
	struct runner *r = s->data;
	struct blog *b = &r->blog;

	if (b->stopping)
		return;
	b->stopping = true;
	log_info("stopping signal=%s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	/* Server first, so nothing new arrives while requests are cancelled. */
	http_server_close(b->http, NULL, NULL);
	fetcher_close(b->fetch, NULL, NULL);
	if (b->svc->stop)
		b->svc->stop(b);
	uv_close((uv_handle_t *)&r->sigint, NULL);
	uv_close((uv_handle_t *)&r->sigterm, NULL);
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

static int run_service(const struct blog_service *svc, int argc, char **argv)
{
	static int port;
	static char *bind_address = "0.0.0.0";
	static char *level = "info";
	static const struct flag flags[] = {
		{ "port", FLAG_INT, &port, "port to listen on (default: the service's, or env PORT)" },
		{ "bind-address", FLAG_STRING, &bind_address, "address to listen on" },
		{ "v", FLAG_STRING, &level, "log level: error, warn, info, debug, trace" },
		{ NULL, 0, NULL, NULL },
	};
	static const struct flag *const tables[] = { flags, NULL };
	struct http_server_config cfg = { 0 };
	struct runner *r;
	struct blog *b;
	char *usage;
	int n, err, rc = 1;

	port = atoi(env_or("PORT", "0"));
	usage = xasprintf("usage: blog %s [flags]\n\n%s.\n", svc->name, svc->summary);
	n = flags_parse(tables, usage, argc, argv);
	free(usage);
	if (n < 0)
		return 2;
	if (n > 0) {
		fprintf(stderr, "error: 'blog %s' takes no arguments, got '%s'\n", svc->name, argv[1]);
		return 2;
	}
	if (log_set_level(level) < 0) {
		fprintf(stderr, "error: unknown log level '%s': use error, warn, info, debug or trace\n", level);
		return 2;
	}
	log_set_component(svc->name);
	signal(SIGPIPE, SIG_IGN);

	r = xcalloc(1, sizeof(*r));
	b = &r->blog;
	uv_loop_init(&r->loop);
	b->svc = svc;
	b->loop = &r->loop;
	b->event_bus_url = env_or("EVENT_BUS_URL", "http://event-bus-srv:4005");
	b->posts_url = env_or("POSTS_URL", "http://posts-clusterip-srv:4000");
	b->comments_url = env_or("COMMENTS_URL", "http://comments-srv:4001");
	b->query_url = env_or("QUERY_URL", "http://query-srv:4002");
	b->moderation_url = env_or("MODERATION_URL", "http://moderation-srv:4003");
	b->fetch = fetcher_new(&r->loop);

	cfg.bind_address = bind_address;
	cfg.port = port > 0 ? port : svc->port;
	cfg.handler = on_request;
	cfg.handler_data = b;
	if ((err = http_server_start(&b->http, &r->loop, &cfg)) < 0) {
		error("cannot listen on '%s:%d': %s (is another service on that port?)", bind_address, cfg.port,
		      uv_strerror(err));
		fetcher_close(b->fetch, NULL, NULL);
		goto out;
	}
	if (svc->start && svc->start(b) < 0) {
		http_server_close(b->http, NULL, NULL);
		fetcher_close(b->fetch, NULL, NULL);
		goto out;
	}
	uv_signal_init(&r->loop, &r->sigint);
	uv_signal_init(&r->loop, &r->sigterm);
	r->sigint.data = r->sigterm.data = r;
	uv_signal_start(&r->sigint, on_signal, SIGINT);
	uv_signal_start(&r->sigterm, on_signal, SIGTERM);
	log_info("listening address=%s:%d service=%s event-bus=%s", bind_address, http_server_port(b->http),
		 svc->name, b->event_bus_url);
	rc = 0;
out:
	uv_run(&r->loop, UV_RUN_DEFAULT);
	if (svc->release && b->state)
		svc->release(b);
	if (uv_loop_close(&r->loop) != 0)
		rc = error("'%s' left libuv handles open at exit", svc->name);
	free(r);
	if (rc == 0)
		log_info("stopped");
	return rc;
}

/* `blog resolve NAME...`: getaddrinfo as the services do, to check a
 * container's name resolution (files, then the cluster's DNS). */
static int run_resolve(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: blog resolve NAME...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
		int err = getaddrinfo(argv[i], NULL, &hints, &res);

		if (err) {
			fprintf(stderr, "error: cannot resolve '%s': %s\n", argv[i], gai_strerror(err));
			rc = 1;
			continue;
		}
		for (ai = res; ai; ai = ai->ai_next) {
			char addr[INET6_ADDRSTRLEN] = "";
			const void *src = ai->ai_family == AF_INET
				? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
				: (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

			inet_ntop(ai->ai_family, src, addr, sizeof(addr));
			printf("%s %s\n", argv[i], addr);
		}
		freeaddrinfo(res);
	}
	return rc;
}

/* `blog udp-echo PORT`: answers every datagram with "<hostname> <what came>",
 * so a test sees which pod a UDP Service picked. Runs until killed. */
static int run_udp_echo(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char host[64] = "?", buf[1500], out[1600];
	int fd, port = argc > 1 ? atoi(argv[1]) : 0;

	if (port <= 0 || port > 65535) {
		fprintf(stderr, "usage: blog udp-echo PORT\n");
		return 2;
	}
	gethostname(host, sizeof(host) - 1);
	a.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "error: cannot listen on udp port %d: %s\n", port, strerror(errno));
		return 1;
	}
	printf("udp echo on port %d\n", port);
	fflush(stdout);
	for (;;) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &flen);
		if (n < 0)
			continue;
		buf[n] = '\0';
		n = snprintf(out, sizeof(out), "%s %s", host, buf);
		sendto(fd, out, (size_t)n, 0, (struct sockaddr *)&from, flen);
	}
}

/* `blog udp-ask HOST PORT MESSAGE`: one datagram, prints the answer (3 s). */
static int run_udp_ask(int argc, char **argv)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *res;
	struct timeval tv = { .tv_sec = 3 };
	char buf[1600];
	ssize_t n;
	int fd, err;

	if (argc != 4) {
		fprintf(stderr, "usage: blog udp-ask HOST PORT MESSAGE\n");
		return 2;
	}
	if ((err = getaddrinfo(argv[1], argv[2], &hints, &res))) {
		fprintf(stderr, "error: cannot resolve '%s': %s\n", argv[1], gai_strerror(err));
		return 1;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = sendto(fd, argv[3], strlen(argv[3]), 0, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (n >= 0)
		n = recv(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n < 0) {
		fprintf(stderr, "error: no answer from %s:%s: %s\n", argv[1], argv[2], strerror(errno));
		return 1;
	}
	buf[n] = '\0';
	printf("%s\n", buf);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: blog <service> [--port N] [--v LEVEL]\n"
		     "       blog resolve NAME...\n"
		     "       blog udp-echo PORT | udp-ask HOST PORT MESSAGE   (tools for checking UDP Services)\n\n"
		     "The classroom microservices blog (examples/blog, docs/blog.md).\n\nservices:\n");
	for (size_t i = 0; i < ARRAY_SIZE(services); i++)
		fprintf(out, "  %-11s port %-5d %s\n", services[i]->name, services[i]->port, services[i]->summary);
	fprintf(out, "\nOther services are reached at EVENT_BUS_URL, POSTS_URL, COMMENTS_URL,\n"
		     "QUERY_URL and MODERATION_URL (default: the Service names of blog.yaml).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "resolve"))
		return run_resolve(argc - 1, argv + 1);
	if (!strcmp(argv[1], "udp-echo"))
		return run_udp_echo(argc - 1, argv + 1);
	if (!strcmp(argv[1], "udp-ask"))
		return run_udp_ask(argc - 1, argv + 1);
	for (size_t i = 0; i < ARRAY_SIZE(services); i++) {
		if (!strcmp(argv[1], services[i]->name))
			return run_service(services[i], argc - 1, argv + 1);
	}
	fprintf(stderr, "error: unknown service '%s': run 'blog --help' for the list\n", argv[1]);
	return 2;
}
