/*
 * Discovery and OpenAPI: how clients learn what this server serves.
 *   /api, /apis, /api/v1, /apis/<g>, /apis/<g>/<v>   legacy discovery
 *   the same with Accept ...;as=APIGroupDiscoveryList  aggregated (kubectl 1.26+)
 *   /openapi/v2 (protobuf), /openapi/v3 and /openapi/v3/<gv>  what kubectl
 *       fetches before apply; minimal documents that say PATCH takes
 *       fieldValidation, so kubectl leaves validation to the server
 *   /version, /healthz, /livez, /readyz, /cacerts
 * Everything is generated from the kinds registry.
 */
#include "apiserver/apiserver.h"
#include "commands.h"
#include "core/object.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGGREGATED_CT "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

static const char *const all_verbs[] = { "create", "delete", "deletecollection", "get", "list",
					 "patch", "update", "watch", NULL };

struct subresource_info {
	const char *name;
	const char *group, *version, *kind; /* response kind; NULL group means the parent's */
	const char *const *verbs;
};

static const char *const gpu_verbs[] = { "get", "patch", "update", NULL };
static const char *const create_verbs[] = { "create", NULL };
static const char *const get_verbs[] = { "get", NULL };
static const char *const update_verbs[] = { "update", NULL };

static const struct subresource_info subresource_infos[] = {
	{ "status", NULL, NULL, NULL, gpu_verbs },
	{ "scale", "autoscaling", "v1", "Scale", gpu_verbs },
	{ "binding", "", "v1", "Binding", create_verbs },
	{ "eviction", "policy", "v1", "Eviction", create_verbs },
	{ "log", "", "v1", "Pod", get_verbs },
	{ "finalize", "", "v1", "Namespace", update_verbs },
};

static const struct subresource_info *subresource_info(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(subresource_infos); i++)
		if (!strcmp(subresource_infos[i].name, name))
			return &subresource_infos[i];
	return NULL;
}

static json_t *string_array(const char *const *v)
{
	json_t *a = json_array();

	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

/* The distinct groups served, in registry order ("" first). */
static int groups(const char **out, int max)
{
	int n = 0;

	for (int i = 0; kinds[i]; i++) {
		int j;
		for (j = 0; j < n; j++)
			if (!strcmp(out[j], kinds[i]->group))
				break;
		if (j == n && n < max)
			out[n++] = kinds[i]->group;
	}
	return n;
}

static bool kind_has_sub(const struct kind *k, const char *sub)
{
	for (const char *const *s = k->subresources; s && *s; s++)
		if (!strcmp(*s, sub))
			return true;
	return false;
}

/* The subresources a kind lists in discovery (finalize for namespaces too). */
static int kind_subresources(const struct kind *k, const char **out, int max)
{
	int n = 0;

	for (const char *const *s = k->subresources; s && *s && n < max; s++)
		out[n++] = *s;
	if (k == &kind_namespace && !kind_has_sub(k, "finalize") && n < max)
		out[n++] = "finalize";
	return n;
}

static json_t *legacy_resource_list(const char *group, const char *version)
{
	json_t *res = json_array();
	char gv[96];

	snprintf(gv, sizeof(gv), "%s%s%s", group, group[0] ? "/" : "", version);
	for (int i = 0; kinds[i]; i++) {
		const struct kind *k = kinds[i];
		const char *subs[8];
		int nsub;

		if (strcmp(k->group, group) || strcmp(k->version, version))
			continue;
		json_t *r = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", k->plural, "singularName", k->singular,
				      "namespaced", k->namespaced, "kind", k->kind, "verbs", string_array(all_verbs));
		if (k->short_names)
			json_object_set_new(r, "shortNames", string_array(k->short_names));
		if (k->categories)
			json_object_set_new(r, "categories", string_array(k->categories));
		json_array_append_new(res, r);
		nsub = kind_subresources(k, subs, 8);
		for (int s = 0; s < nsub; s++) {
			const struct subresource_info *si = subresource_info(subs[s]);
			char name[128];
			if (!si)
				continue;
			snprintf(name, sizeof(name), "%s/%s", k->plural, subs[s]);
			r = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name, "singularName", "", "namespaced",
				      k->namespaced, "kind", si->kind ? si->kind : k->kind, "verbs",
				      string_array(si->verbs));
			if (si->group) {
				json_object_set_new(r, "group", json_string(si->group));
				json_object_set_new(r, "version", json_string(si->version));
			}
			json_array_append_new(res, r);
		}
	}
	return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1", "groupVersion", gv,
			 "resources", res);
}

static json_t *api_group(const char *group)
{
	const char *version = NULL;
	json_t *versions = json_array();

	for (int i = 0; kinds[i]; i++)
		if (!strcmp(kinds[i]->group, group) && (!version || strcmp(version, kinds[i]->version))) {
			version = kinds[i]->version;
			json_array_append_new(versions, json_pack("{s:s++, s:s}", "groupVersion", group, "/",
								  version, "version", version));
		}
	return json_pack("{s:s, s:s, s:s, s:o, s:{s:s++, s:s}}", "kind", "APIGroup", "apiVersion", "v1", "name",
			 group, "versions", versions, "preferredVersion", "groupVersion", group, "/", version,
			 "version", version);
}

/* apidiscovery.k8s.io/v2 APIGroupDiscovery for one group. */
static json_t *aggregated_group(const char *group)
{
	json_t *resources = json_array();
	const char *version = "v1";

	for (int i = 0; kinds[i]; i++) {
		const struct kind *k = kinds[i];
		const char *subs[8];
		int nsub;
		json_t *subarr;

		if (strcmp(k->group, group))
			continue;
		subarr = json_array();
		version = k->version;
		nsub = kind_subresources(k, subs, 8);
		for (int s = 0; s < nsub; s++) {
			const struct subresource_info *si = subresource_info(subs[s]);
			if (!si)
				continue;
			json_array_append_new(
				subarr, json_pack("{s:s, s:{s:s, s:s, s:s}, s:o}", "subresource", subs[s],
						  "responseKind", "group", si->group ? si->group : k->group, "version",
						  si->version ? si->version : k->version, "kind",
						  si->kind ? si->kind : k->kind, "verbs", string_array(si->verbs)));
		}
		json_t *r = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:o}", "resource", k->plural, "responseKind",
				      "group", k->group, "version", k->version, "kind", k->kind, "scope",
				      k->namespaced ? "Namespaced" : "Cluster", "singularResource", k->singular,
				      "verbs", string_array(all_verbs));
		if (k->short_names)
			json_object_set_new(r, "shortNames", string_array(k->short_names));
		if (k->categories)
			json_object_set_new(r, "categories", string_array(k->categories));
		if (json_array_size(subarr))
			json_object_set_new(r, "subresources", subarr);
		else
			json_decref(subarr);
		json_array_append_new(resources, r);
	}
	json_t *md = json_pack("{s:s, s:n}", "name", group, "creationTimestamp");
	return json_pack("{s:o, s:[{s:s, s:o, s:s}]}", "metadata", md, "versions", "version", version, "resources",
			 resources, "freshness", "Current");
}

static bool wants_aggregated(const struct http_request *req)
{
	const char *accept = http_request_header(req, "Accept");
	return accept && strstr(accept, "as=APIGroupDiscoveryList") && strstr(accept, "v=v2;") != NULL;
}

static bool wants_aggregated_any(const struct http_request *req)
{
	const char *accept = http_request_header(req, "Accept");
	/* "v=v2" may end the media range or be followed by ';' or ',' */
	if (!accept || !strstr(accept, "as=APIGroupDiscoveryList"))
		return false;
	for (const char *p = strstr(accept, "v=v2"); p; p = strstr(p + 1, "v=v2"))
		if (p[4] == ';' || p[4] == ',' || p[4] == '\0')
			return true;
	return false;
}

static void respond_aggregated(struct http_request *req, bool core)
{
	const char *gs[16];
	int n = groups(gs, 16);
	json_t *items = json_array();
	char *s;
	size_t len;

	for (int i = 0; i < n; i++)
		if ((gs[i][0] == '\0') == core)
			json_array_append_new(items, aggregated_group(gs[i]));
	json_t *list = json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
				 "apidiscovery.k8s.io/v2", "metadata", "items", items);
	s = obj_dump(list, &len);
	http_respond(req, 200, AGGREGATED_CT, s, len);
	free(s);
	json_decref(list);
}

/* ---- OpenAPI --------------------------------------------------------------- */

/* A protobuf openapi_v2.Document holding only swagger and info: enough for
 * kubectl 1.20 and 1.32, which fall back to their built-in types. */
static void respond_openapi_v2_proto(struct http_request *req)
{
	static const char title[] = "minik8s";
	static const char version[] = MINIK8S_KUBE_VERSION;
	unsigned char buf[128];
	size_t n = 0, info_len = 2 + sizeof(title) - 1 + 2 + sizeof(version) - 1;

	buf[n++] = 0x0a; /* field 1 (swagger), length-delimited */
	buf[n++] = 3;
	memcpy(buf + n, "2.0", 3);
	n += 3;
	buf[n++] = 0x12; /* field 2 (info), length-delimited */
	buf[n++] = (unsigned char)info_len;
	buf[n++] = 0x0a; /* info.title */
	buf[n++] = sizeof(title) - 1;
	memcpy(buf + n, title, sizeof(title) - 1);
	n += sizeof(title) - 1;
	buf[n++] = 0x12; /* info.version */
	buf[n++] = sizeof(version) - 1;
	memcpy(buf + n, version, sizeof(version) - 1);
	n += sizeof(version) - 1;
	http_respond(req, 200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", buf, n);
}

static json_t *openapi_v3_doc(const char *group, const char *version)
{
	json_t *paths = json_object();

	for (int i = 0; kinds[i]; i++) {
		const struct kind *k = kinds[i];

		if (strcmp(k->group, group) || strcmp(k->version, version))
			continue;
		char full[300], gvpath[96];
		if (group[0])
			snprintf(gvpath, sizeof(gvpath), "/apis/%s/%s", group, version);
		else
			snprintf(gvpath, sizeof(gvpath), "/api/%s", version);
		snprintf(full, sizeof(full), "%s%s/%s/{name}", gvpath, k->namespaced ? "/namespaces/{namespace}" : "",
			 k->plural);
		json_t *op = json_pack(
			"{s:s, s:{s:s, s:s, s:s}, s:s, s:[{s:s, s:s, s:s, s:{s:s}}, {s:s, s:s, s:s, s:{s:s}}]}",
			"operationId", "patch", "x-kubernetes-group-version-kind", "group", group, "version", version,
			"kind", k->kind, "x-kubernetes-action", "patch", "parameters", "name", "fieldValidation", "in",
			"query", "description", "fieldValidation instructs the server on how to handle objects in the "
			"request containing unknown or duplicate fields.", "schema", "type", "string", "name",
			"fieldManager", "in", "query", "description", "the name of the actor making the change",
			"schema", "type", "string");
		json_object_set_new(paths, full, json_pack("{s:o}", "patch", op));
	}
	return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:{}}}", "openapi", "3.0.0", "info", "title", "Kubernetes",
			 "version", MINIK8S_KUBE_VERSION, "paths", paths, "components", "schemas");
}

static bool handle_openapi(struct http_request *req)
{
	const char *path = req->path;

	if (!strcmp(path, "/openapi/v2")) {
		const char *accept = http_request_header(req, "Accept");
		if (accept && strstr(accept, "protobuf"))
			respond_openapi_v2_proto(req);
		else
			http_respond_json(req, 200, json_pack("{s:s, s:{s:s, s:s}, s:{}, s:{}}", "swagger", "2.0", "info",
							      "title", "minik8s", "version", MINIK8S_KUBE_VERSION,
							      "paths", "definitions"));
		return true;
	}
	if (!strcmp(path, "/openapi/v3")) {
		const char *gs[16];
		int n = groups(gs, 16);
		json_t *paths = json_object();
		for (int i = 0; i < n; i++) {
			for (int j = 0; kinds[j]; j++) {
				char key[96], url[160];
				if (strcmp(kinds[j]->group, gs[i]))
					continue;
				if (gs[i][0])
					snprintf(key, sizeof(key), "apis/%s/%s", gs[i], kinds[j]->version);
				else
					snprintf(key, sizeof(key), "api/%s", kinds[j]->version);
				snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%s", key, MINIK8S_VERSION);
				json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
				break;
			}
		}
		http_respond_json(req, 200, json_pack("{s:o}", "paths", paths));
		return true;
	}
	if (str_has_prefix(path, "/openapi/v3/")) {
		const char *gv = path + strlen("/openapi/v3/");
		char group[64] = "", version[16] = "";
		if (sscanf(gv, "apis/%63[^/]/%15s", group, version) == 2 || sscanf(gv, "api/%15s", version) == 1) {
			json_t *doc = openapi_v3_doc(group, version);
			if (json_object_size(json_object_get(doc, "paths"))) {
				http_respond_json(req, 200, doc);
				return true;
			}
			json_decref(doc);
		}
		http_respond_status(req, 404, "NotFound", "no OpenAPI document for %s", gv);
		return true;
	}
	return false;
}

bool handle_discovery(struct apiserver *as, struct http_request *req)
{
	const char *path = req->path;
	const char *gs[16];
	int n;

	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD"))
		return false;
	if (!strcmp(path, "/version") || !strcmp(path, "/version/")) {
		http_respond_json(req, 200, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor",
						      "32", "gitVersion", MINIK8S_KUBE_VERSION, "gitCommit", "",
						      "gitTreeState", "clean", "buildDate", __DATE__, "goVersion",
						      "minik8s-" MINIK8S_VERSION, "compiler", "gcc", "platform",
						      "linux/amd64"));
		return true;
	}
	if (str_has_prefix(path, "/openapi/"))
		return handle_openapi(req);
	if (!strcmp(path, "/api") || !strcmp(path, "/api/")) {
		if (wants_aggregated_any(req) || wants_aggregated(req)) {
			respond_aggregated(req, true);
			return true;
		}
		char addr[96];
		snprintf(addr, sizeof(addr), "%s:%d", as->self_address, as->cfg.secure_port);
		http_respond_json(req, 200, json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions",
						      "v1", "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0",
						      "serverAddress", addr));
		return true;
	}
	if (!strcmp(path, "/apis") || !strcmp(path, "/apis/")) {
		if (wants_aggregated_any(req)) {
			respond_aggregated(req, false);
			return true;
		}
		json_t *list = json_array();
		n = groups(gs, 16);
		for (int i = 0; i < n; i++) {
			if (!gs[i][0])
				continue;
			json_t *g = api_group(gs[i]);
			json_object_del(g, "kind");
			json_object_del(g, "apiVersion");
			json_array_append_new(list, g);
		}
		http_respond_json(req, 200, json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1",
						      "groups", list));
		return true;
	}
	if (!strcmp(path, "/api/v1") || !strcmp(path, "/api/v1/")) {
		http_respond_json(req, 200, legacy_resource_list("", "v1"));
		return true;
	}
	if (str_has_prefix(path, "/apis/")) {
		char group[64], version[16], rest[8];
		int m = sscanf(path, "/apis/%63[^/]/%15[^/]%7s", group, version, rest);
		n = groups(gs, 16);
		for (int i = 0; i < n; i++) {
			if (!gs[i][0] || strcmp(gs[i], group))
				continue;
			if (m == 1) {
				http_respond_json(req, 200, api_group(group));
				return true;
			}
			if (m == 2 || (m == 3 && !strcmp(rest, "/"))) {
				json_t *l = legacy_resource_list(group, version);
				if (json_array_size(json_object_get(l, "resources"))) {
					http_respond_json(req, 200, l);
					return true;
				}
				json_decref(l);
			}
		}
	}
	return false;
}
