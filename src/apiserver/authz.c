/*
 * The node authorizer: what a request made with a node's credential
 * (system:node:<name>) may do, as Kubernetes' Node authorizer and
 * NodeRestriction admission allow together, at teaching scale:
 *
 *   read   nodes, pods, services, endpoints, namespaces, events;
 *          configmaps and secrets only when a pod bound to the node uses them
 *          (get by name, or list/watch with fieldSelector metadata.name=)
 *   write  its own Node (and /status), its own Lease in kube-node-lease,
 *          the pods bound to it (status, the grace-0 delete), Events
 *
 * Everything else is 403 with Kubernetes' wording, so a student reading the
 * message sees which rule said no.
 */
#include "apiserver/apiserver.h"
#include "core/object.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *verb_of(const struct http_request *req, const struct api_path *p)
{
	const char *m = req->method;
	char *w;

	if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
		if (p->name[0])
			return "get";
		w = http_request_query(req, "watch");
		bool watch = w && (!*w || !strcmp(w, "1") || !strcmp(w, "true"));
		free(w);
		return watch ? "watch" : "list";
	}
	if (!strcmp(m, "POST"))
		return "create";
	if (!strcmp(m, "PUT"))
		return "update";
	if (!strcmp(m, "PATCH"))
		return "patch";
	if (!strcmp(m, "DELETE"))
		return p->name[0] ? "delete" : "deletecollection";
	return m;
}

static int forbid(struct http_request *req, const struct api_path *p, const struct identity *who,
		  const char *verb, const char *why)
{
	char res[160], scope[300];
	char *msg;

	snprintf(res, sizeof(res), "%s%s%s", p->resource, p->subresource[0] ? "/" : "", p->subresource);
	if (p->has_namespace)
		snprintf(scope, sizeof(scope), "in the namespace \"%s\"", p->namespace);
	else
		snprintf(scope, sizeof(scope), "at the cluster scope");
	msg = xasprintf("%s%s%s%sis forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\" %s: %s",
			p->kind->plural, p->name[0] ? " \"" : " ", p->name, p->name[0] ? "\" " : "", who->user,
			verb, res, p->group, scope, why);
	http_respond_json(req, 403, status_new_details(403, "Forbidden", msg, p->name[0] ? p->name : NULL, p->group,
						       p->kind->plural));
	free(msg);
	return -1;
}

/* Whether a pod bound to node uses the ConfigMap or Secret `name` in ns. */
struct uses_ctx {
	const char *node, *name;
	bool secret;
	bool found;
};

static bool refers(const json_t *v, const char *field, const char *name)
{
	const char *n = obj_str(v, field);
	return n && !strcmp(n, name);
}

static int pod_uses(const char *key, const json_t *pod, void *data)
{
	struct uses_ctx *u = data;
	const char *node = obj_str(pod, "spec.nodeName");
	size_t i, j;
	json_t *v, *c, *e;
	static const char *const lists[] = { "spec.containers", "spec.initContainers" };

	(void)key;
	if (!node || strcmp(node, u->node))
		return 0;
	json_array_foreach(obj_get(pod, "spec.volumes"), i, v)
		if (refers(v, u->secret ? "secret.secretName" : "configMap.name", u->name))
			return u->found = true;
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_array_foreach(obj_get(pod, lists[l]), i, c) {
			json_array_foreach(json_object_get(c, "env"), j, e)
				if (refers(e, u->secret ? "valueFrom.secretKeyRef.name" : "valueFrom.configMapKeyRef.name",
					   u->name))
					return u->found = true;
			json_array_foreach(json_object_get(c, "envFrom"), j, e)
				if (refers(e, u->secret ? "secretRef.name" : "configMapRef.name", u->name))
					return u->found = true;
		}
	}
	json_array_foreach(obj_get(pod, "spec.imagePullSecrets"), i, v)
		if (u->secret && refers(v, "name", u->name))
			return u->found = true;
	return 0;
}

static bool node_uses(struct apiserver *as, const char *node, const char *ns, const char *name, bool secret)
{
	struct uses_ctx u = { node, name, secret, false };
	char *prefix = storage_prefix(&kind_pod, ns);

	store_list_trees(as->store, prefix, pod_uses, &u);
	free(prefix);
	return u.found;
}

int authorize_node(struct apiserver *as, struct http_request *req, const struct api_path *p,
		   const struct identity *who)
{
	const char *verb = verb_of(req, p);
	const struct kind *k = p->kind;
	bool read = !strcmp(verb, "get") || !strcmp(verb, "list") || !strcmp(verb, "watch");
	char why[800];

	if (!who->node[0])
		return forbid(req, p, who, verb, "the join token only allows POST /minik8s/v1/join");

	if (read && (k == &kind_node || k == &kind_pod || k == &kind_service || k == &kind_endpoints ||
		     k == &kind_namespace || k == &kind_event))
		return 0;
	if (k == &kind_configmap || k == &kind_secret) {
		/* A get by name, or a list/watch of that one name (the kubelet
		 * watches each object its pods use). */
		char *fs = strcmp(verb, "get") && read ? http_request_query(req, "fieldSelector") : NULL;
		const char *name = !strcmp(verb, "get")			       ? p->name :
				   fs && str_has_prefix(fs, "metadata.name=") ? fs + strlen("metadata.name=") :
										  NULL;
		bool ok = name && *name && !strchr(name, ',') && p->has_namespace &&
			  node_uses(as, who->node, p->namespace, name, k == &kind_secret);
		free(fs);
		if (ok)
			return 0;
		snprintf(why, sizeof(why), "no relationship found between node '%s' and this object", who->node);
		return forbid(req, p, who, verb, why);
	}
	if (k == &kind_event && (!strcmp(verb, "create") || !strcmp(verb, "update") || !strcmp(verb, "patch")))
		return 0;
	if (k == &kind_node || k == &kind_lease) {
		/* Its own object by name: the URL's, or for a create the body's. */
		json_t *body = !strcmp(verb, "create") ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
		const char *name = body ? obj_name(body) : p->name;
		bool own = name && !strcmp(name, who->node);
		int rc = 0;

		if (k == &kind_node)
			own = own && strcmp(verb, "delete") && strcmp(verb, "deletecollection");
		else
			own = read || (own && !strcmp(p->namespace, "kube-node-lease"));
		if (!own) {
			if (k == &kind_node)
				snprintf(why, sizeof(why), "node '%s' cannot modify node '%s'", who->node,
					 name ? name : "");
			else
				snprintf(why, sizeof(why), "node '%s' may only change its own Lease in kube-node-lease",
					 who->node);
			rc = forbid(req, p, who, verb, why);
		}
		json_decref(body);
		return rc;
	}
	if (k == &kind_pod && p->name[0] &&
	    (!strcmp(verb, "update") || !strcmp(verb, "patch") || !strcmp(verb, "delete"))) {
		char *key = storage_key(k, p->namespace, p->name);
		const json_t *pod = store_get(as->store, key);
		const char *bound = obj_str(pod, "spec.nodeName");
		free(key);
		if (!pod)
			return 0; /* the handler answers 404 */
		/* status updates and the kubelet's grace-0 delete of its own pods */
		if (bound && !strcmp(bound, who->node) && (!strcmp(p->subresource, "status") || !strcmp(verb, "delete")))
			return 0;
		snprintf(why, sizeof(why), "node '%s' can only update the status of, and delete, pods bound to it",
			 who->node);
		return forbid(req, p, who, verb, why);
	}
	snprintf(why, sizeof(why), "nodes may not %s %s", verb, k->plural);
	return forbid(req, p, who, verb, why);
}
