/*
 * The Endpoints controller, as Kubernetes' pkg/controller/endpoint: for
 * every Service with a selector, an Endpoints object of the same name
 * listing the selected pods' IPs with the Service's ports (a named
 * targetPort is looked up in each pod's containers), ready pods under
 * addresses and the others under notReadyAddresses, grouped into subsets
 * of addresses that share the same ports. Services without a selector are
 * left to their owners (default/kubernetes is the apiserver's); the
 * Endpoints of a deleted Service are deleted.
 */
#include "controller/controller.h"
#include "apiserver/kinds.h"
#include "log.h"
#include "object.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENT "endpoint-controller"
#define MAX_CAPACITY 1000
#define OVER_CAPACITY_ANNOTATION "endpoints.kubernetes.io/over-capacity"
#define HEADLESS_LABEL "service.kubernetes.io/headless"

struct ep_controller {
	struct controller c;
	struct lister *svcs, *pods, *eps;
	struct event_recorder *events;
};

/* Equality-based selection, as a Service selector is a plain map. */
static bool map_selects(const json_t *selector, const json_t *labels)
{
	const char *k;
	json_t *v;

	if (!json_is_object(selector))
		return false;
	json_object_foreach((json_t *)selector, k, v)
		if (!json_equal(json_object_get(labels, k), v))
			return false;
	return true;
}

/* ---- handlers ------------------------------------------------------------------------ */

static void enqueue_services_of(struct ep_controller *ec, const json_t *pod)
{
	json_t *all = lister_list(ec->svcs, obj_namespace(pod)), *svc;
	size_t i;

	json_array_foreach(all, i, svc)
		if (map_selects(obj_get(svc, "spec.selector"), obj_get(pod, "metadata.labels")))
			controller_enqueue_obj(&ec->c, svc);
	json_decref(all);
}

static void on_svc_add(json_t *obj, void *data)
{
	controller_enqueue_obj(&((struct ep_controller *)data)->c, obj);
}

static void on_svc_update(json_t *old_obj, json_t *new_obj, void *data)
{
	(void)old_obj;
	controller_enqueue_obj(&((struct ep_controller *)data)->c, new_obj);
}

static void on_svc_delete(json_t *obj, void *data)
{
	controller_enqueue_obj(&((struct ep_controller *)data)->c, obj);
}

static void on_pod_add(json_t *pod, void *data)
{
	enqueue_services_of(data, pod);
}

static bool field_changed(const json_t *a, const json_t *b, const char *path)
{
	json_t *x = obj_get(a, path), *y = obj_get(b, path);

	if (!x || !y)
		return x != y;
	return !json_equal(x, y);
}

/* Whether anything an Endpoints object shows about the pod changed. */
static bool endpoint_changed(const json_t *old_pod, const json_t *pod)
{
	static const char *const paths[] = { "status.podIP", "spec.nodeName", "metadata.deletionTimestamp",
					     "status.phase", "spec.hostname", "spec.subdomain", "spec.containers",
					     "metadata.uid" };

	if (pod_is_ready(old_pod) != pod_is_ready(pod))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (field_changed(old_pod, pod, paths[i]))
			return true;
	return false;
}

static void on_pod_update(json_t *old_pod, json_t *pod, void *data)
{
	struct ep_controller *ec = data;

	if (field_changed(old_pod, pod, "metadata.labels")) {
		enqueue_services_of(ec, old_pod);
		enqueue_services_of(ec, pod);
		return;
	}
	if (endpoint_changed(old_pod, pod))
		enqueue_services_of(ec, pod);
}

static void on_pod_delete(json_t *pod, void *data)
{
	enqueue_services_of(data, pod);
}

static void on_ep_delete(json_t *obj, void *data)
{
	/* Recreated if its Service still wants it. */
	controller_enqueue_obj(&((struct ep_controller *)data)->c, obj);
}

/* ---- building the subsets --------------------------------------------------------------- */

/* The port number a Service port reaches on pod (FindPort), or -1. */
static int64_t find_port(const json_t *pod, const json_t *svc_port)
{
	json_t *tp = json_object_get(svc_port, "targetPort"), *c, *p;
	const char *proto = obj_str(svc_port, "protocol") ? obj_str(svc_port, "protocol") : "TCP";
	size_t i, j;

	if (!tp || json_is_null(tp))
		return obj_int(svc_port, "port", -1);
	if (json_is_integer(tp))
		return json_integer_value(tp);
	if (!json_is_string(tp))
		return -1;
	json_array_foreach(obj_get(pod, "spec.containers"), i, c) {
		json_array_foreach(json_object_get(c, "ports"), j, p) {
			const char *pp = obj_str(p, "protocol") ? obj_str(p, "protocol") : "TCP";
			if (obj_str(p, "name") && !strcmp(obj_str(p, "name"), json_string_value(tp)) && !strcmp(pp, proto))
				return obj_int(p, "containerPort", -1);
		}
	}
	return -1;
}

static json_t *address_of(const json_t *svc, const json_t *pod)
{
	json_t *a = json_pack("{s:s}", "ip", obj_str(pod, "status.podIP"));
	const char *node = obj_str(pod, "spec.nodeName"), *host = obj_str(pod, "spec.hostname");
	const char *sub = obj_str(pod, "spec.subdomain");

	if (host && *host && sub && !strcmp(sub, obj_name(svc)))
		json_object_set_new(a, "hostname", json_string(host));
	if (node && *node)
		json_object_set_new(a, "nodeName", json_string(node));
	json_object_set_new(a, "targetRef",
			    json_pack("{s:s, s:s, s:s, s:s}", "kind", "Pod", "namespace", obj_namespace(pod), "name",
				      obj_name(pod), "uid", obj_str(pod, "metadata.uid") ? obj_str(pod, "metadata.uid") : ""));
	return a;
}

static int cmp_addr(const void *pa, const void *pb)
{
	const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	int c = strcmp(obj_str(a, "ip"), obj_str(b, "ip"));

	if (c)
		return c;
	return strcmp(obj_str(a, "targetRef.uid") ? obj_str(a, "targetRef.uid") : "",
		      obj_str(b, "targetRef.uid") ? obj_str(b, "targetRef.uid") : "");
}

static json_t *sorted(json_t *arr)
{
	size_t n = json_array_size(arr), i;
	json_t **v = xcalloc(n ? n : 1, sizeof(*v)), *out = json_array();

	for (i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), cmp_addr);
	for (i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

static char *port_sig(const json_t *p)
{
	return xasprintf("%s|%lld|%s", obj_str(p, "name") ? obj_str(p, "name") : "", (long long)obj_int(p, "port", 0),
			 obj_str(p, "protocol") ? obj_str(p, "protocol") : "TCP");
}

static int cmp_str(const void *pa, const void *pb)
{
	return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* The keys of a JSON object, sorted. Borrowed strings; free the array. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
	const char **keys = xcalloc(json_object_size(obj) + 1, sizeof(*keys)), *k;
	json_t *v;

	*n = 0;
	json_object_foreach((json_t *)obj, k, v)
		keys[(*n)++] = k;
	qsort(keys, *n, sizeof(*keys), cmp_str);
	return keys;
}

/*
 * RepackSubsets: addresses grouped by the exact set of ports each one has.
 * per_addr maps "r|<ip>|<uid>" (ready) or "n|..." to {addr, ports: {sig: port}}.
 * Subsets come in a stable order, addresses sorted by IP, at most
 * MAX_CAPACITY addresses in all (*total says how many).
 */
static json_t *repack(json_t *per_addr, size_t *total)
{
	json_t *groups = json_object(), *entry, *out = json_array(), *g;
	const char *key, **gkeys;
	size_t ng;

	*total = 0;
	json_object_foreach(per_addr, key, entry) {
		json_t *ports = json_object_get(entry, "ports"), *list = json_array();
		size_t np;
		const char **pkeys = sorted_keys(ports, &np);
		struct strbuf sig;

		strbuf_init(&sig, 64);
		for (size_t a = 0; a < np; a++) {
			strbuf_addf(&sig, "%s;", pkeys[a]);
			json_array_append(list, json_object_get(ports, pkeys[a]));
		}
		free(pkeys);
		g = json_object_get(groups, sig.buf);
		if (!g) {
			g = json_pack("{s:o, s:[], s:[]}", "ports", list, "addresses", "notReadyAddresses");
			json_object_set_new(groups, sig.buf, g);
		} else {
			json_decref(list);
		}
		json_array_append(json_object_get(g, key[0] == 'r' ? "addresses" : "notReadyAddresses"),
				  json_object_get(entry, "addr"));
		strbuf_release(&sig);
	}
	gkeys = sorted_keys(groups, &ng);
	for (size_t a = 0; a < ng; a++) {
		json_t *sub = json_object();
		g = json_object_get(groups, gkeys[a]);
		for (int pass = 0; pass < 2; pass++) {
			const char *field = pass ? "notReadyAddresses" : "addresses";
			json_t *s = sorted(json_object_get(g, field)), *kept = json_array(), *x;
			size_t i;
			json_array_foreach(s, i, x) {
				if (*total >= MAX_CAPACITY)
					break;
				json_array_append(kept, x);
				(*total)++;
			}
			json_decref(s);
			if (json_array_size(kept))
				json_object_set_new(sub, field, kept);
			else
				json_decref(kept);
		}
		if (json_array_size(json_object_get(g, "ports")))
			json_object_set(sub, "ports", json_object_get(g, "ports"));
		if (json_object_get(sub, "addresses") || json_object_get(sub, "notReadyAddresses"))
			json_array_append_new(out, sub);
		else
			json_decref(sub);
	}
	free(gkeys);
	json_decref(groups);
	return out;
}

static void add_address(json_t *per_addr, const json_t *addr, bool ready, const json_t *port)
{
	char *key = xasprintf("%c|%s|%s", ready ? 'r' : 'n', obj_str(addr, "ip"),
			      obj_str(addr, "targetRef.uid") ? obj_str(addr, "targetRef.uid") : "");
	json_t *e = json_object_get(per_addr, key);

	if (!e) {
		e = json_pack("{s:O, s:{}}", "addr", addr, "ports");
		json_object_set_new(per_addr, key, e);
	}
	if (port) {
		char *sig = port_sig(port);
		json_object_set(json_object_get(e, "ports"), sig, (json_t *)port);
		free(sig);
	}
	free(key);
}

/* ---- sync ------------------------------------------------------------------------------------ */

struct ep_write {
	struct ep_controller *ec;
	json_t *svc;
	bool create;
};

static int on_ep_written(struct sync *s, const struct api_result *r, void *data)
{
	struct ep_write *w = data;
	int rc = 0;

	if (r->error) {
		if (w->create && r->status == 403) {
			/* The namespace is terminating: nothing to do. */
			rc = 0;
		} else {
			if (w->create)
				event_record(w->ec->events, w->svc, "Warning", "FailedToCreateEndpoint",
					     "Failed to create endpoint for service %s/%s: %s", obj_namespace(w->svc),
					     obj_name(w->svc), r->error);
			else
				event_record(w->ec->events, w->svc, "Warning", "FailedToUpdateEndpoint",
					     "Failed to update endpoint %s/%s: %s", obj_namespace(w->svc), obj_name(w->svc),
					     r->error);
			rc = sync_check(s, r);
		}
	}
	json_decref(w->svc);
	free(w);
	return rc;
}

static int ep_sync(struct controller *c, const char *key, struct sync *s)
{
	struct ep_controller *ec = c->priv;
	json_t *svc = lister_get(ec->svcs, key), *cur = lister_get(ec->eps, key), *selector, *pods, *pod;
	json_t *per_addr, *subsets, *labels, *ep, *ports;
	bool tolerate, headless;
	size_t i, total;
	char *path;

	if (!strcmp(key, "default/kubernetes"))
		return 0;  /* the apiserver keeps this one */
	if (!svc) {
		if (cur) {
			path = kind_path(&kind_endpoints, obj_namespace(cur), obj_name(cur), NULL);
			sync_delete(s, path, NULL, NULL, NULL);
			free(path);
		}
		return 0;
	}
	selector = obj_get(svc, "spec.selector");
	if (!selector || json_is_null(selector))
		return 0;  /* endpoints managed by someone else */

	tolerate = obj_bool(svc, "spec.publishNotReadyAddresses", false);
	headless = obj_str(svc, "spec.clusterIP") && !strcmp(obj_str(svc, "spec.clusterIP"), "None");
	ports = obj_get(svc, "spec.ports");
	per_addr = json_object();
	pods = lister_list(ec->pods, obj_namespace(svc));
	json_array_foreach(pods, i, pod) {
		const char *ip = obj_str(pod, "status.podIP");
		json_t *addr, *sp;
		bool ready;
		size_t j;

		if (!map_selects(selector, obj_get(pod, "metadata.labels")))
			continue;
		if (pod_is_terminal(pod) || !ip || !*ip || (!tolerate && obj_deleting(pod)))
			continue;
		addr = address_of(svc, pod);
		ready = tolerate || pod_is_ready(pod);
		if (!json_array_size(ports) && headless) {
			add_address(per_addr, addr, ready, NULL);
		} else {
			json_array_foreach(ports, j, sp) {
				int64_t n = find_port(pod, sp);
				json_t *epp;
				if (n < 0) {
					log_debug("controller=endpoints service=%s pod=%s/%s has no port for targetPort", key,
						  obj_namespace(pod), obj_name(pod));
					continue;
				}
				epp = json_pack("{s:I, s:s}", "port", (json_int_t)n, "protocol",
						obj_str(sp, "protocol") ? obj_str(sp, "protocol") : "TCP");
				if (obj_str(sp, "name") && *obj_str(sp, "name"))
					json_object_set_new(epp, "name", json_string(obj_str(sp, "name")));
				if (obj_str(sp, "appProtocol"))
					json_object_set_new(epp, "appProtocol", json_string(obj_str(sp, "appProtocol")));
				add_address(per_addr, addr, ready, epp);
				json_decref(epp);
			}
		}
		json_decref(addr);
	}
	json_decref(pods);
	subsets = repack(per_addr, &total);
	json_decref(per_addr);

	labels = json_deep_copy(obj_get(svc, "metadata.labels"));
	if (!json_is_object(labels)) {
		json_decref(labels);
		labels = json_object();
	}
	if (headless)
		json_object_set_new(labels, HEADLESS_LABEL, json_string(""));

	if (cur) {
		json_t *cs = obj_get(cur, "subsets"), *cl = obj_get(cur, "metadata.labels");
		bool same_subsets = json_equal_or_empty(cs, subsets);
		bool same_labels = json_equal_or_empty(cl, labels);
		bool over = obj_annotation(cur, OVER_CAPACITY_ANNOTATION) != NULL;
		if (same_subsets && same_labels && over == (total >= MAX_CAPACITY)) {
			json_decref(subsets);
			json_decref(labels);
			return 0;
		}
		ep = json_deep_copy(cur);
	} else {
		ep = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Endpoints", "metadata", "name",
			       obj_name(svc), "namespace", obj_namespace(svc));
	}
	obj_set(ep, "metadata.labels", labels);
	if (total >= MAX_CAPACITY)
		json_object_set_new(obj_ensure(ep, "metadata.annotations"), OVER_CAPACITY_ANNOTATION,
				    json_string("truncated"));
	else if (obj_get(ep, "metadata.annotations"))
		json_object_del(obj_get(ep, "metadata.annotations"), OVER_CAPACITY_ANNOTATION);
	if (json_array_size(subsets))
		json_object_set_new(ep, "subsets", subsets);
	else {
		json_object_del(ep, "subsets");
		json_decref(subsets);
	}
	{
		struct ep_write *w = xcalloc(1, sizeof(*w));
		w->ec = ec;
		w->svc = json_incref(svc);
		w->create = !cur;
		log_debug("controller=endpoints service=%s %s addresses=%zu", key, cur ? "updating" : "creating", total);
		if (cur) {
			path = kind_path(&kind_endpoints, obj_namespace(svc), obj_name(svc), NULL);
			sync_update(s, path, ep, on_ep_written, w);
		} else {
			path = kind_path(&kind_endpoints, obj_namespace(svc), NULL, NULL);
			sync_create(s, path, ep, on_ep_written, w);
		}
		free(path);
	}
	json_decref(ep);
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------------------ */

static int ep_init(struct controller_context *ctx, void **state)
{
	struct ep_controller *ec = xcalloc(1, sizeof(*ec));
	struct informer_handlers sh = { on_svc_add, on_svc_update, on_svc_delete, ec };
	struct informer_handlers ph = { on_pod_add, on_pod_update, on_pod_delete, ec };
	struct informer_handlers eh = { NULL, NULL, on_ep_delete, ec };

	controller_init(&ec->c, ctx, "endpoints", ctx->opts->concurrent_endpoint_syncs, ep_sync, ec);
	ec->svcs = controller_lister(ctx, &kind_service);
	ec->pods = controller_lister(ctx, &kind_pod);
	ec->eps = controller_lister(ctx, &kind_endpoints);
	ec->events = controller_recorder(ctx, COMPONENT);
	lister_add_handlers(ec->svcs, &sh);
	lister_add_handlers(ec->pods, &ph);
	lister_add_handlers(ec->eps, &eh);
	*state = ec;
	return 0;
}

static void ep_start(void *state)
{
	struct ep_controller *ec = state;
	json_t *all = lister_list(ec->eps, NULL), *ep;
	size_t i;

	/* Endpoints left behind by Services deleted while we were down. */
	json_array_foreach(all, i, ep)
		controller_enqueue_obj(&ec->c, ep);
	json_decref(all);
	controller_run(&ec->c);
}

static void ep_stop(void *state, void (*done)(void *), void *arg)
{
	struct ep_controller *ec = state;

	controller_stop_and_free(&ec->c, free, ec, done, arg);
}

static struct controller *ep_controller_of(void *state)
{
	return &((struct ep_controller *)state)->c;
}

const struct controller_def endpoints_controller_def = {
	.name = "endpoints-controller",
	.alias = "endpoint",
	.init = ep_init,
	.start = ep_start,
	.stop = ep_stop,
	.controller = ep_controller_of,
};
