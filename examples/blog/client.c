/*
 * The client service (port 8080): serves the classroom web page and passes
 * its API calls on to the services by their Service names, so the browser
 * talks to one address (the page's NodePort) and never needs the cluster's
 * DNS:
 *
 *   /api/posts              -> posts-clusterip-srv:4000 /posts
 *   /api/comments/:postId   -> comments-srv:4001 /posts/:postId/comments
 *   /api/query              -> query-srv:4002 /posts
 *   /api/events (GET only)  -> event-bus-srv:4005 /events
 */
#include "blog.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

struct proxied {
	struct http_request *req;
	const char *service;
};

static void on_proxied(const struct fetch_response *res, void *arg)
{
	struct proxied *p = arg;

	if (res->error) {
		log_warn("cannot reach service=%s error=\"%s\"", p->service, res->error);
		blog_reply_error(p->req, 502, "cannot reach the %s service: %s", p->service, res->error);
	} else {
		blog_reply(p->req, (int)res->status, res->content_type ? res->content_type : "application/json",
			   res->body, res->len);
	}
	http_request_unref(p->req);
	free(p);
}

static void proxy(struct blog *b, struct http_request *req, const char *service, const char *base,
		  const char *path)
{
	const char *ctype = http_request_header(req, "Content-Type");
	struct proxied *p = xcalloc(1, sizeof(*p));
	char *url = xasprintf("%s%s%s%s", base, path, req->query ? "?" : "", req->query ? req->query : "");

	p->req = req;
	p->service = service;
	http_request_ref(req);
	if (fetcher_request(b->fetch, req->method, url, req->body, req->body_len, ctype, on_proxied, p) < 0) {
		http_request_unref(req);
		free(p);
		blog_reply_error(req, 503, "cannot pass '%s %s' on to the %s service", req->method, req->path,
				 service);
	}
	free(url);
}

static bool client_handle(struct blog *b, struct http_request *req)
{
	char id[64], *path;

	if (!strcmp(req->path, "/") || !strcmp(req->path, "/index.html")) {
		if (!blog_method_is(req, "GET") && !blog_method_is(req, "HEAD"))
			blog_reply_error(req, 405, "the page takes GET");
		else
			blog_reply(req, 200, "text/html; charset=utf-8", blog_page, blog_page_len);
		return true;
	}
	if (!strcmp(req->path, "/api/posts")) {
		proxy(b, req, "posts", b->posts_url, "/posts");
		return true;
	}
	if (blog_path_id(req->path, "/api/comments/", "", id, sizeof(id))) {
		path = xasprintf("/posts/%s/comments", id);
		proxy(b, req, "comments", b->comments_url, path);
		free(path);
		return true;
	}
	if (!strcmp(req->path, "/api/query")) {
		proxy(b, req, "query", b->query_url, "/posts");
		return true;
	}
	if (!strcmp(req->path, "/api/events")) {
		if (blog_method_is(req, "GET"))
			proxy(b, req, "event-bus", b->event_bus_url, "/events");
		else
			blog_reply_error(req, 405, "'/api/events' takes GET: events come from the services");
		return true;
	}
	return false;
}

const struct blog_service client_service = {
	.name = "client",
	.port = 8080,
	.summary = "the web page; passes /api/... on to posts, comments, query and the bus",
	.handle = client_handle,
};
