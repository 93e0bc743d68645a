/*
 * The resource handlers: create, get, list, update, patch, delete and
 * deletecollection for every kind, and the subresources status, scale,
 * binding, eviction and finalize. They are generic over the kinds registry;
 * what differs per kind comes from its entry in src/apiserver/kinds/.
 *
 * Every change to an existing object is a "mutation": read the stored object,
 * compute the new one (from a PUT body, a patch, a binding, a deletion mark),
 * run the same checks (identity fields kept, defaults, validation, Service
 * allocations, no-op detection) and write it with the read revision as the
 * precondition. When the client gave no resourceVersion and another writer
 * got there first, the mutation is simply recomputed, as Kubernetes'
 * GuaranteedUpdate does.
 */
#include "apiserver/apiserver.h"
#include "core/log.h"
#include "core/object.h"
#include "core/patch.h"
#include "core/selector.h"
#include "core/util.h"
#include "core/yaml.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MUTATION_MAX_ATTEMPTS 16

/* ---- responses ----------------------------------------------------------- */

/* "pods" or "deployments.apps", as Kubernetes names a resource in messages. */
static void resource_name(const struct kind *k, char *buf, size_t len)
{
	if (k->group[0])
		snprintf(buf, len, "%s.%s", k->plural, k->group);
	else
		snprintf(buf, len, "%s", k->plural);
}

void respond_not_found(struct http_request *req, const struct kind *k, const char *name)
{
	char res[128], msg[512];

	resource_name(k, res, sizeof(res));
	snprintf(msg, sizeof(msg), "%s \"%s\" not found", res, name);
	http_respond_json(req, 404, status_new_details(404, "NotFound", msg, name, k->group, k->plural));
}

static void respond_conflict(struct http_request *req, const struct kind *k, const char *name)
{
	char res[128], msg[640];

	resource_name(k, res, sizeof(res));
	snprintf(msg, sizeof(msg),
		 "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
		 "please apply your changes to the latest version and try again",
		 res, name);
	http_respond_json(req, 409, status_new_details(409, "Conflict", msg, name, k->group, k->plural));
}

static void respond_invalid(struct http_request *req, const struct kind *k, const char *name,
			    const struct field_errors *errs)
{
	char *detail = field_errors_string(errs);
	char *msg = xasprintf("%s \"%s\" is invalid: %s", k->kind, name ? name : "", detail);
	json_t *st = status_new_details(422, "Invalid", msg, name, k->group, k->kind);
	json_t *causes = json_array();

	for (size_t i = 0; i < errs->n; i++)
		json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason", errs->v[i].reason,
							"message", errs->v[i].message, "field",
							errs->v[i].field));
	json_object_set_new(json_object_get(st, "details"), "causes", causes);
	http_respond_json(req, 422, st);
	free(msg);
	free(detail);
}

static void respond_store_error(struct http_request *req, const struct kind *k, const char *name, int status)
{
	char res[128];

	resource_name(k, res, sizeof(res));
	switch (status) {
	case STORE_ENOTFOUND:
		respond_not_found(req, k, name);
		break;
	case STORE_EEXISTS: {
		char *msg = xasprintf("%s \"%s\" already exists", res, name);
		http_respond_json(req, 409, status_new_details(409, "AlreadyExists", msg, name, k->group, k->plural));
		free(msg);
		break;
	}
	case STORE_ECONFLICT:
		respond_conflict(req, k, name);
		break;
	default:
		http_respond_status(req, 500, "InternalError",
				    "storage error writing %s \"%s\": the write was not saved; check the "
				    "apiserver's log and the free space of its data dir", res, name);
	}
}

/* ---- keys and request helpers ------------------------------------------- */

char *storage_key(const struct kind *k, const char *ns, const char *name)
{
	if (k->namespaced)
		return xasprintf("/registry/%s%s%s/%s/%s", k->group, k->group[0] ? "/" : "", k->plural, ns, name);
	return xasprintf("/registry/%s%s%s/%s", k->group, k->group[0] ? "/" : "", k->plural, name);
}

char *storage_prefix(const struct kind *k, const char *ns)
{
	if (k->namespaced && ns && *ns)
		return xasprintf("/registry/%s%s%s/%s/", k->group, k->group[0] ? "/" : "", k->plural, ns);
	return xasprintf("/registry/%s%s%s/", k->group, k->group[0] ? "/" : "", k->plural);
}

static const char *content_type(const struct http_request *req)
{
	const char *ct = http_request_header(req, "Content-Type");
	return ct ? ct : "application/json";
}

/* Decodes the request body as a JSON object (YAML when the Content-Type says
 * so). On failure answers the request and returns NULL. */
static json_t *decode_body(struct http_request *req)
{
	const char *ct = content_type(req);
	json_t *obj;

	if (strstr(ct, "protobuf")) {
		http_respond_status(req, 415, "UnsupportedMediaType",
				    "minik8s does not accept protobuf request bodies (Content-Type \"%s\"); "
				    "write the object as YAML and use `kubectl apply -f` or `minictl create -f`", ct);
		return NULL;
	}
	if (strstr(ct, "yaml")) {
		struct yaml_error err;
		obj = yaml_decode_one(req->body, req->body_len, &err);
		if (!obj) {
			http_respond_status(req, 400, "BadRequest",
					    "error decoding YAML request body: line %d column %d: %s",
					    err.line, err.column, err.message);
			return NULL;
		}
	} else {
		json_error_t err;
		obj = obj_parse(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
		if (!obj) {
			http_respond_status(req, 400, "BadRequest",
					    "error decoding JSON request body: line %d column %d: %s",
					    err.line, err.column, err.text);
			return NULL;
		}
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		http_respond_status(req, 400, "BadRequest", "the request body must be a JSON object");
		return NULL;
	}
	return obj;
}

/* Checks that a body's kind and apiVersion (when given) are the URL's, and
 * fills them in when missing. */
static bool check_body_kind(struct http_request *req, const struct kind *k, json_t *obj,
			    const char *want_kind, const char *want_api)
{
	const char *kind = obj_kind(obj), *api = obj_str(obj, "apiVersion");

	if (kind && strcmp(kind, want_kind)) {
		http_respond_status(req, 400, "BadRequest",
				    "the kind \"%s\" in the request body does not match the URL, which is for %s",
				    kind, want_kind);
		return false;
	}
	if (api && strcmp(api, want_api)) {
		http_respond_status(req, 400, "BadRequest",
				    "the API version in the data (%s) does not match the expected API version (%s)",
				    api, want_api);
		return false;
	}
	(void)k;
	obj_set(obj, "apiVersion", json_string(want_api));
	obj_set(obj, "kind", json_string(want_kind));
	return true;
}

/* Query flags such as ?watch=1, ?watch=true. */
static bool query_true(const struct http_request *req, const char *key)
{
	char *v = http_request_query(req, key);
	bool t = v && (!strcmp(v, "1") || !strcmp(v, "true") || !*v);

	free(v);
	return t;
}

/* ---- selectors ----------------------------------------------------------- */

static const char *attrs_field(const char *field, void *ctx)
{
	const struct store_attrs *a = ctx;
	const char *const *kv = a->kv + 2 * a->nlabels;

	for (uint32_t i = 0; i < a->nfields; i++)
		if (!strcmp(kv[2 * i], field))
			return kv[2 * i + 1];
	return NULL;
}

bool filter_matches(const struct filter *f, struct store_obj *o)
{
	const struct store_attrs *a;

	if (!f->labels && !f->fields)
		return true;
	/* The version's selector view, made once and kept with it: watchers
	 * ask about the new and the previous state of every change. */
	a = store_obj_attrs(o, kind_attrs, (void *)f->k);
	if (f->labels && !label_selector_matches_pairs(f->labels, a->kv, a->nlabels))
		return false;
	if (f->fields && !field_selector_matches(f->fields, attrs_field, (void *)a))
		return false;
	return true;
}

int filter_init(struct filter *f, const struct kind *k, struct http_request *req)
{
	char *ls = http_request_query(req, "labelSelector");
	char *fs = http_request_query(req, "fieldSelector");
	char *err = NULL;
	int rc = 0;

	memset(f, 0, sizeof(*f));
	f->k = k;
	if (ls && *ls && label_selector_parse(ls, &f->labels, &err) < 0) {
		http_respond_status(req, 400, "BadRequest", "invalid labelSelector \"%s\": %s", ls, err);
		rc = -1;
		goto out;
	}
	if (fs && *fs) {
		if (field_selector_parse(fs, &f->fields, &err) < 0) {
			http_respond_status(req, 400, "BadRequest", "invalid fieldSelector \"%s\": %s", fs, err);
			rc = -1;
			goto out;
		}
		for (int i = 0; field_selector_field(f->fields, i); i++) {
			const char *field = field_selector_field(f->fields, i);
			static const json_t *probe;
			if (!probe)
				probe = json_object();
			if (!kind_field_value(k, probe, field) && strcmp(field, "metadata.name") &&
			    strcmp(field, "metadata.namespace")) {
				/* Ask the kind with an empty object: supported fields give "" not NULL. */
				http_respond_status(req, 400, "BadRequest",
						    "field label not supported: %s (for %s)", field, k->plural);
				rc = -1;
				goto out;
			}
		}
	}
out:
	if (rc < 0) {
		label_selector_free(f->labels);
		field_selector_free(f->fields);
		f->labels = NULL;
		f->fields = NULL;
	}
	free(err);
	free(ls);
	free(fs);
	return rc;
}

void filter_release(struct filter *f)
{
	label_selector_free(f->labels);
	field_selector_free(f->fields);
}

/* ---- get and list -------------------------------------------------------- */

/* An autoscaling/v1 Scale for a Deployment or ReplicaSet. New reference. */
static json_t *scale_from(const json_t *obj)
{
	json_t *scale = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:I}, s:{s:I}}", "kind", "Scale",
				  "apiVersion", "autoscaling/v1", "metadata", "name", obj_name(obj),
				  "namespace", obj_namespace(obj), "spec", "replicas",
				  (json_int_t)obj_int(obj, "spec.replicas", 1), "status", "replicas",
				  (json_int_t)obj_int(obj, "status.replicas", 0));
	json_t *md = json_object_get(scale, "metadata");
	struct label_selector *sel = NULL;
	char *err = NULL;

	json_object_set(md, "uid", obj_get(obj, "metadata.uid"));
	json_object_set(md, "resourceVersion", obj_get(obj, "metadata.resourceVersion"));
	json_object_set(md, "creationTimestamp", obj_get(obj, "metadata.creationTimestamp"));
	if (label_selector_from_json(obj_get(obj, "spec.selector"), &sel, &err) == 0) {
		char *s = label_selector_string(sel);
		obj_set(scale, "status.selector", json_string(s));
		free(s);
		label_selector_free(sel);
	}
	free(err);
	return scale;
}

static void respond_object(struct http_request *req, const struct kind *k, int code, const json_t *obj)
{
	if (request_wants_table(req)) {
		json_t *arr = json_array();
		json_array_append(arr, (json_t *)obj);
		http_respond_json(req, code, table_new(k, arr, req));
		json_decref(arr);
		return;
	}
	http_respond_json(req, code, json_incref((json_t *)obj));
}

/* Answers with a stored version: its text as stored, no printing at all,
 * unless the client asked for a Table. */
static void respond_stored(struct http_request *req, const struct kind *k, int code, struct store_obj *o)
{
	const char *js;
	size_t len;

	if (request_wants_table(req)) {
		respond_object(req, k, code, store_obj_tree(o));
		return;
	}
	js = store_obj_json(o, &len);
	http_respond(req, code, "application/json", js, len);
}

static void handle_get(struct apiserver *as, struct http_request *req, const struct api_path *p)
{
	char *key = storage_key(p->kind, p->namespace, p->name);
	struct store_obj *o = store_lookup(as->store, key);

	free(key);
	if (!o) {
		respond_not_found(req, p->kind, p->name);
		return;
	}
	if (!strcmp(p->subresource, "scale")) {
		http_respond_json(req, 200, scale_from(store_obj_tree(o)));
		return;
	}
	respond_stored(req, p->kind, 200, o);
}

/* The versions a list or a deletecollection selects, borrowed: they are
 * used before control returns to the loop. */
struct list_ctx {
	struct filter f;
	struct store_obj **items;
	size_t n, alloc;
};

static int list_one(const char *key, struct store_obj *o, void *data)
{
	struct list_ctx *lc = data;

	(void)key;
	if (!filter_matches(&lc->f, o))
		return 0;
	if (lc->n == lc->alloc) {
		lc->alloc = lc->alloc ? 2 * lc->alloc : 64;
		lc->items = xrealloc(lc->items, lc->alloc * sizeof(*lc->items));
	}
	lc->items[lc->n++] = o;
	return 0;
}

/* Fills lc (filter_init done) with what the request selects under p. */
static void list_select(struct apiserver *as, const struct api_path *p, struct list_ctx *lc)
{
	const char *name = lc->f.fields ? field_selector_exact(lc->f.fields, "metadata.name") : NULL;
	char *prefix;

	if (name && (!p->kind->namespaced || p->has_namespace)) {
		/* kubectl delete and kubectl wait ask for one object this way. */
		char *key = storage_key(p->kind, p->namespace, name);
		struct store_obj *o = store_lookup(as->store, key);
		if (o)
			list_one(key, o, lc);
		free(key);
		return;
	}
	prefix = storage_prefix(p->kind, p->has_namespace ? p->namespace : NULL);
	store_list(as->store, prefix, list_one, lc);
	free(prefix);
}

/* The selected versions as a JSON array of trees of their own (new reference). */
static json_t *list_trees(const struct list_ctx *lc)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < lc->n; i++)
		json_array_append_new(arr, store_obj_parse(lc->items[i]));
	return arr;
}

/*
 * A list answer: the versions' stored texts side by side, nothing parsed or
 * printed. A large one (30,000 pods are 70 MB) is streamed as the client
 * reads it, a quarter megabyte at a time, holding references to the
 * versions it has yet to write, so it never sits in memory twice (as text
 * and again encrypted in the socket's queue).
 */
#define LIST_CHUNK (256 * 1024)
#define LIST_QUEUED_MAX (1024 * 1024)

struct list_writer {
	struct http_request *req;
	struct store_obj **items;   /* references to those not written yet */
	size_t n, next;
};

static void list_writer_free(struct list_writer *lw)
{
	for (size_t i = lw->next; i < lw->n; i++)
		store_obj_unref(lw->items[i]);
	free(lw->items);
	http_request_unref(lw->req);
	free(lw);
}

static void on_list_client_gone(struct http_request *req, void *data)
{
	(void)req;
	list_writer_free(data);
}

static void list_pump(struct http_request *req, void *data)
{
	struct list_writer *lw = data;
	struct strbuf sb;

	strbuf_init(&sb, LIST_CHUNK + 4096);
	while (lw->next < lw->n) {
		size_t len;
		const char *js = store_obj_json(lw->items[lw->next], &len);

		if (lw->next)
			strbuf_addc(&sb, ',');
		strbuf_add(&sb, js, len);
		store_obj_unref(lw->items[lw->next++]);
		if (sb.len < LIST_CHUNK)
			continue;
		http_stream_write(req, sb.buf, sb.len);
		strbuf_reset(&sb);
		if (http_stream_pending(req) > LIST_QUEUED_MAX) {
			strbuf_release(&sb);
			http_stream_on_drain(req, LIST_CHUNK, list_pump, lw);
			return;
		}
	}
	strbuf_adds(&sb, "]}");
	http_stream_write(req, sb.buf, sb.len);
	strbuf_release(&sb);
	http_request_on_close(req, NULL, NULL);
	http_stream_end(req);
	list_writer_free(lw);
}

/* Answers with a k list at revision rv of the n versions in items (borrowed). */
static void respond_list(struct http_request *req, const struct kind *k, int64_t rv, struct store_obj **items,
			 size_t n)
{
	struct list_writer *lw;
	struct strbuf sb;
	size_t bytes = 0;

	for (size_t i = 0; i < n; i++)
		bytes += store_obj_len(items[i]) + 1;
	strbuf_init(&sb, 160 + (bytes < LIST_QUEUED_MAX ? bytes : 0));
	strbuf_addf(&sb, "{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%" PRId64
		    "\"},\"items\":[", k->kind, kind_api_version(k), rv);
	if (bytes < LIST_QUEUED_MAX) {
		for (size_t i = 0; i < n; i++) {
			size_t len;
			const char *js = store_obj_json(items[i], &len);

			if (i)
				strbuf_addc(&sb, ',');
			strbuf_add(&sb, js, len);
		}
		strbuf_adds(&sb, "]}");
		http_respond(req, 200, "application/json", sb.buf, sb.len);
		strbuf_release(&sb);
		return;
	}
	lw = xcalloc(1, sizeof(*lw));
	lw->req = req;
	http_request_ref(req);
	lw->items = xmalloc(n * sizeof(*lw->items));
	for (size_t i = 0; i < n; i++)
		lw->items[i] = store_obj_ref(items[i]);
	lw->n = n;
	http_stream_start(req, 200, "application/json");
	http_stream_write(req, sb.buf, sb.len);
	strbuf_release(&sb);
	http_request_on_close(req, on_list_client_gone, lw);
	list_pump(req, lw);
}

static void handle_list(struct apiserver *as, struct http_request *req, const struct api_path *p)
{
	struct list_ctx lc = { 0 };

	if (filter_init(&lc.f, p->kind, req) < 0)
		return;
	list_select(as, p, &lc);
	filter_release(&lc.f);

	if (request_wants_table(req)) {
		json_t *items = list_trees(&lc), *t = table_new(p->kind, items, req);
		char rv[24];

		snprintf(rv, sizeof(rv), "%" PRId64, store_revision(as->store));
		obj_set(t, "metadata.resourceVersion", json_string(rv));
		json_decref(items);
		free(lc.items);
		http_respond_json(req, 200, t);
		return;
	}
	respond_list(req, p->kind, store_revision(as->store), lc.items, lc.n);
	free(lc.items);
}

/* ---- deletion of objects (shared by DELETE and by mutations) ------------ */

/* Called for every object that leaves the store, whatever removed it. */
static void on_object_gone(struct apiserver *as, const struct kind *k, const json_t *obj)
{
	if (k == &kind_service)
		release_service(as, obj);
}

struct delete_op {
	struct apiserver *as;
	struct http_request *req;    /* NULL when nobody waits for the answer */
	const struct kind *k;
	char *name;
	json_t *respond_with;        /* what to answer (owned), else the deleted object */
	void (*done)(struct delete_op *op, int status);
	void *data;
	void (*notify)(void *data, int status); /* for deletecollection */
	void *notify_data;
	/* An unconditional delete that lost a race with a write (a controller
	 * updating the status) reads the object again and retries, as
	 * Kubernetes' GuaranteedUpdate does: the path, the grace period asked
	 * for, and how often it tried. */
	bool may_retry;
	struct api_path path;
	bool has_grace;
	int64_t grace;
	int attempts;
};

#define DELETE_ATTEMPTS 8

struct delete_options;
static bool delete_retry(struct delete_op *op);
static void delete_object_attempt(struct apiserver *as, struct http_request *req, const struct api_path *p,
				  const json_t *old, const struct delete_options *o,
				  void (*done)(void *data, int status), void *data, int attempts);

static void delete_done(int status, struct store_obj *o, bool unchanged, void *data)
{
	struct delete_op *op = data;

	(void)unchanged;
	if (status == STORE_ECONFLICT && op->may_retry && op->attempts < DELETE_ATTEMPTS && delete_retry(op)) {
		if (op->req)
			http_request_unref(op->req);
		json_decref(op->respond_with);
		free(op->name);
		free(op);
		return;
	}
	if (status == 0)
		on_object_gone(op->as, op->k, store_obj_tree(o));
	if (op->req) {
		if (status == 0 && op->respond_with)
			respond_object(op->req, op->k, 200, op->respond_with);
		else if (status == 0)
			respond_stored(op->req, op->k, 200, o);
		else
			respond_store_error(op->req, op->k, op->name, status);
		http_request_unref(op->req);
	}
	if (op->done)
		op->done(op, status);
	if (op->notify)
		op->notify(op->notify_data, status);
	json_decref(op->respond_with);
	free(op->name);
	free(op);
}

/* Whether obj is marked for deletion and nothing holds it back any more. */
static bool ready_to_go(const struct kind *k, const json_t *obj)
{
	const json_t *fin = obj_get(obj, "metadata.finalizers");

	if (!obj_get(obj, "metadata.deletionTimestamp"))
		return false;
	if (json_array_size(fin) > 0)
		return false;
	if (k == &kind_namespace && json_array_size(obj_get(obj, "spec.finalizers")) > 0)
		return false;
	/* A pod on a node waits for its kubelet's grace-0 delete. */
	return obj_int(obj, "metadata.deletionGracePeriodSeconds", 0) == 0;
}

/* ---- mutations ----------------------------------------------------------- */

struct mutation;
/* Computes the new object from old (borrowed). Returns a new reference, or
 * NULL after answering the request with an error. */
typedef json_t *(*mutate_fn)(struct mutation *m, const json_t *old);

struct mutation {
	struct apiserver *as;
	struct http_request *req;
	const struct kind *k;
	struct api_path p;
	char *key;
	mutate_fn fn;
	json_t *input;            /* PUT body, patch, binding, ... (owned) */
	int64_t client_rv;        /* the client's precondition, 0 for none */
	int attempts;
	bool may_change_deletion; /* the deletion mark itself may change */
	bool skip_validate;       /* binding: a path that bypasses the kind's update rules */
	const char *patch_type;   /* for PATCH: the Content-Type */
	/* Called once when the mutation ends (deletecollection counts them). */
	void (*done)(void *data, int status);
	void *done_data;
	int final_status;
	int respond_code;
	enum { RESPOND_OBJECT, RESPOND_SCALE, RESPOND_SUCCESS } respond_as;
	json_t *proposed_svc;     /* a Service being written: what it allocated (owned) */
	json_t *old_copy;         /* the object the mutation started from (owned) */
};

static void mutation_run(struct mutation *m);

static void mutation_free(struct mutation *m)
{
	if (m->done)
		m->done(m->done_data, m->final_status);
	if (m->req)
		http_request_unref(m->req);
	json_decref(m->input);
	json_decref(m->old_copy);
	json_decref(m->proposed_svc);
	free(m->key);
	free(m);
}

static bool spec_changed(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *v;

	/* Everything but metadata and status is "spec" for generation. */
	json_object_foreach((json_t *)a, key, v) {
		if (!strcmp(key, "metadata") || !strcmp(key, "status"))
			continue;
		if (!json_equal(v, json_object_get(b, key)))
			return true;
	}
	json_object_foreach((json_t *)b, key, v) {
		if (!strcmp(key, "metadata") || !strcmp(key, "status"))
			continue;
		if (!json_object_get(a, key))
			return true;
	}
	return false;
}

static bool skipped(const char *key, const char *const *skip)
{
	for (; *skip; skip++)
		if (!strcmp(key, *skip))
			return true;
	return false;
}

/* Whether objects a and b have equal members but those named in skip. */
static bool equal_but(const json_t *a, const json_t *b, const char *const *skip)
{
	const char *key;
	json_t *v;
	size_t na = 0, nb = 0;

	if (!json_is_object(a) || !json_is_object(b))
		return json_equal(a, b);
	json_object_foreach((json_t *)a, key, v) {
		if (skipped(key, skip))
			continue;
		na++;
		if (!json_equal(v, json_object_get(b, key)))
			return false;
	}
	json_object_foreach((json_t *)b, key, v)
		if (!skipped(key, skip))
			nb++;
	return na == nb;
}

/* Whether two stored forms are equal, resourceVersion (and managedFields)
 * aside: compared in place, as nothing needs changing to compare. */
static bool same_object(const json_t *a, const json_t *b)
{
	static const char *const top[] = { "metadata", NULL };
	static const char *const md[] = { "resourceVersion", "managedFields", NULL };

	return equal_but(a, b, top) &&
	       equal_but(json_object_get(a, "metadata"), json_object_get(b, "metadata"), md);
}

static void mutation_respond(struct mutation *m, struct store_obj *o)
{
	if (!m->req)
		return;
	switch (m->respond_as) {
	case RESPOND_SCALE:
		http_respond_json(m->req, m->respond_code, scale_from(store_obj_tree(o)));
		break;
	case RESPOND_SUCCESS: {
		json_t *st = status_success();
		json_object_set_new(st, "code", json_integer(m->respond_code));
		http_respond_json(m->req, m->respond_code, st);
		break;
	}
	default:
		respond_stored(m->req, m->k, m->respond_code, o);
	}
}

static void finish_delete_after_update(struct delete_op *op, int status)
{
	struct mutation *m = op->data;

	(void)status;
	mutation_free(m);
}

static void mutation_written(int status, struct store_obj *o, bool unchanged, void *data)
{
	struct mutation *m = data;
	const json_t *obj;

	(void)unchanged;
	if (status == STORE_ECONFLICT && !m->client_rv && ++m->attempts < MUTATION_MAX_ATTEMPTS) {
		if (m->k == &kind_service)
			release_service_delta(m->as, m->proposed_svc, m->old_copy);
		mutation_run(m);
		return;
	}
	if (status != 0) {
		if (m->k == &kind_service)
			release_service_delta(m->as, m->proposed_svc, m->old_copy);
		if (m->req)
			respond_store_error(m->req, m->k, m->p.name, status);
		m->final_status = status;
		mutation_free(m);
		return;
	}
	obj = store_obj_tree(o);
	if (m->k == &kind_service)
		release_service_delta(m->as, m->old_copy, obj);
	if (ready_to_go(m->k, obj)) {
		/* The last finalizer went: the object goes now, and the client sees
		 * the final state, as Kubernetes answers such an update. */
		struct delete_op *op = xcalloc(1, sizeof(*op));
		op->as = m->as;
		op->req = m->req;
		if (m->req)
			http_request_ref(m->req);
		op->k = m->k;
		op->name = xstrdup(m->p.name);
		op->respond_with = json_incref((json_t *)obj);
		op->done = finish_delete_after_update;
		op->data = m;
		store_delete(m->as->store, m->key, obj_rv(obj), delete_done, op);
		return;
	}
	mutation_respond(m, o);
	mutation_free(m);
}

/* Identity and server-owned metadata come from the stored object, whatever
 * the client sent. */
static void keep_identity(json_t *obj, const json_t *old, bool may_change_deletion)
{
	static const char *const kept[] = { "name", "namespace", "uid", "creationTimestamp", "generation" };
	json_t *md = obj_ensure(obj, "metadata");
	const json_t *omd = obj_get(old, "metadata");

	for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
		json_t *v = json_object_get(omd, kept[i]);
		if (v)
			json_object_set(md, kept[i], v);
		else
			json_object_del(md, kept[i]);
	}
	if (!may_change_deletion) {
		static const char *const del[] = { "deletionTimestamp", "deletionGracePeriodSeconds" };
		for (size_t i = 0; i < ARRAY_SIZE(del); i++) {
			json_t *v = json_object_get(omd, del[i]);
			if (v)
				json_object_set(md, del[i], v);
			else
				json_object_del(md, del[i]);
		}
	}
	json_object_del(md, "resourceVersion");
	json_object_set(obj, "apiVersion", json_object_get(old, "apiVersion"));
	json_object_set(obj, "kind", json_object_get(old, "kind"));
}

static bool kind_has_subresource(const struct kind *k, const char *sub)
{
	for (const char *const *s = k->subresources; s && *s; s++)
		if (!strcmp(*s, sub))
			return true;
	return false;
}

/* What a write through a given endpoint may change: /status only the status,
 * the main endpoint everything but the status (for kinds with a status
 * subresource), /finalize only a Namespace's spec.finalizers, /scale only
 * spec.replicas. Steals candidate; returns a new reference or NULL after
 * answering. */
static json_t *restrict_to_endpoint(struct mutation *m, const json_t *old, json_t *candidate)
{
	const char *sub = m->p.subresource;
	json_t *out;

	if (!strcmp(sub, "status")) {
		/* The candidate with everything but its status as stored. It is
		 * ours (a patch result or a request body), and mostly equal to old
		 * already: only what differs is copied back. */
		const char *key;
		json_t *v;
		void *tmp;

		json_object_foreach_safe(candidate, tmp, key, v)
			if (strcmp(key, "status") && !json_object_get(old, key))
				json_object_del(candidate, key);
		json_object_foreach((json_t *)old, key, v)
			if (strcmp(key, "status") && !json_equal(v, json_object_get(candidate, key)))
				json_object_set_new(candidate, key, json_deep_copy(v));
		return candidate;
	}
	if (!strcmp(sub, "finalize")) {
		out = json_deep_copy(old);
		json_t *f = obj_get(candidate, "spec.finalizers");
		obj_set(out, "spec.finalizers", f ? json_incref(f) : json_array());
		json_decref(candidate);
		return out;
	}
	if (!strcmp(sub, "scale")) {
		json_t *r = obj_get(candidate, "spec.replicas");
		if (!json_is_integer(r) || json_integer_value(r) < 0) {
			struct field_errors errs = { 0 };
			field_invalid(&errs, "spec.replicas", r ? r : json_null(),
				      "must be greater than or equal to 0");
			respond_invalid(m->req, m->k, m->p.name, &errs);
			field_errors_release(&errs);
			json_decref(candidate);
			return NULL;
		}
		out = json_deep_copy(old);
		obj_set(out, "spec.replicas", json_incref(r));
		json_decref(candidate);
		return out;
	}
	if (kind_has_subresource(m->k, "status")) {
		json_t *st = json_object_get(old, "status");
		if (st)
			json_object_set(candidate, "status", st);
		else
			json_object_del(candidate, "status");
	}
	return candidate;
}

static void mutation_run(struct mutation *m)
{
	struct store_obj *cur = store_lookup(m->as->store, m->key);
	const json_t *old = cur ? store_obj_tree(cur) : NULL;
	struct field_errors errs = { 0 };
	json_t *obj;

	if (!old) {
		if (m->req)
			respond_not_found(m->req, m->k, m->p.name);
		m->final_status = STORE_ENOTFOUND;
		mutation_free(m);
		return;
	}
	if (m->client_rv && m->client_rv != obj_rv(old)) {
		if (m->req)
			respond_conflict(m->req, m->k, m->p.name);
		m->final_status = STORE_ECONFLICT;
		mutation_free(m);
		return;
	}
	json_decref(m->old_copy);
	m->old_copy = json_incref((json_t *)old);
	json_decref(m->proposed_svc);
	m->proposed_svc = NULL;

	obj = m->fn(m, old);
	if (!obj) {
		m->final_status = -1;
		mutation_free(m);
		return;
	}
	keep_identity(obj, old, m->may_change_deletion);
	if (m->k->tracks_generation) {
		int64_t gen = obj_int(old, "metadata.generation", 1);
		if (spec_changed(old, obj))
			gen++;
		obj_set(obj, "metadata.generation", json_integer(gen));
	}
	if (m->k->defaults)
		m->k->defaults(obj);
	if (!m->skip_validate && m->k->validate)
		m->k->validate(obj, old, &errs);
	if (errs.n) {
		if (m->req)
			respond_invalid(m->req, m->k, m->p.name, &errs);
		field_errors_release(&errs);
		json_decref(obj);
		m->final_status = -1;
		mutation_free(m);
		return;
	}
	if (m->k == &kind_service) {
		if (admit_service(m->as, m->req, obj, old) < 0) {
			json_decref(obj);
			m->final_status = -1;
			mutation_free(m);
			return;
		}
		m->proposed_svc = json_incref(obj);
	}
	if (same_object(obj, old)) {
		/* Nothing changed: no write, no new revision, no watch event. */
		json_decref(obj);
		if (ready_to_go(m->k, old)) {
			mutation_written(0, cur, true, m);
			return;
		}
		mutation_respond(m, cur);
		mutation_free(m);
		return;
	}
	store_update(m->as->store, m->key, obj, obj_rv(old), mutation_written, m);
}

static struct mutation *mutation_new(struct apiserver *as, struct http_request *req, const struct api_path *p,
				     mutate_fn fn, json_t *input)
{
	struct mutation *m = xcalloc(1, sizeof(*m));

	m->as = as;
	m->req = req;
	if (req)
		http_request_ref(req);
	m->k = p->kind;
	m->p = *p;
	m->key = storage_key(p->kind, p->namespace, p->name);
	m->fn = fn;
	m->input = input;
	m->respond_code = 200;
	return m;
}

/* ---- PUT ---------------------------------------------------------------- */

static json_t *mutate_put(struct mutation *m, const json_t *old)
{
	return restrict_to_endpoint(m, old, json_deep_copy(m->input));
}

static void handle_update(struct apiserver *as, struct http_request *req, const struct api_path *p)
{
	json_t *body = decode_body(req);
	const char *name;
	struct mutation *m;

	if (!body)
		return;
	if (!strcmp(p->subresource, "scale")) {
		if (!check_body_kind(req, p->kind, body, "Scale", "autoscaling/v1"))
			goto bad;
	} else if (!check_body_kind(req, p->kind, body, p->kind->kind, kind_api_version(p->kind))) {
		goto bad;
	}
	name = obj_name(body);
	if (name && strcmp(name, p->name)) {
		http_respond_status(req, 400, "BadRequest",
				    "the name of the object (%s) does not match the name on the URL (%s)", name, p->name);
		goto bad;
	}
	m = mutation_new(as, req, p, mutate_put, body);
	m->client_rv = obj_rv(body);
	if (!strcmp(p->subresource, "scale"))
		m->respond_as = RESPOND_SCALE;
	mutation_run(m);
	return;
bad:
	json_decref(body);
}

/* ---- PATCH --------------------------------------------------------------- */

static bool is_patch_type(const char *ct, const char *want)
{
	size_t n = strlen(want);
	return !strncmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';');
}

static json_t *mutate_patch(struct mutation *m, const json_t *old)
{
	bool scale = !strcmp(m->p.subresource, "scale");
	/* The patch functions leave their input alone and return a tree of
	 * their own, so the stored object itself is the base. */
	json_t *base = scale ? scale_from(old) : json_incref((json_t *)old), *patched = NULL;
	const char *kind = scale ? "Scale" : m->k->kind;
	char *err = NULL;

	if (is_patch_type(m->patch_type, "application/json-patch+json"))
		patched = json_patch_apply(base, m->input, &err);
	else if (is_patch_type(m->patch_type, "application/merge-patch+json"))
		patched = json_merge_patch(base, m->input);
	else
		/* strategic merge patch, and server-side apply, which we treat as a
		 * strategic merge of the applied configuration */
		patched = strategic_merge_patch(base, m->input, kind, &err);
	json_decref(base);
	if (!patched) {
		http_respond_status(m->req, 422, "Invalid", "the patch could not be applied to %s \"%s\": %s",
				    m->k->plural, m->p.name, err ? err : "invalid patch");
		free(err);
		return NULL;
	}
	if (!json_is_object(patched)) {
		json_decref(patched);
		http_respond_status(m->req, 422, "Invalid", "the patch turned %s \"%s\" into something that is not an object",
				    m->k->plural, m->p.name);
		return NULL;
	}
	/* A resourceVersion in the patch is a precondition, as in Kubernetes. */
	int64_t prv = obj_rv(patched);
	if (prv && prv != obj_rv(old)) {
		json_decref(patched);
		respond_conflict(m->req, m->k, m->p.name);
		return NULL;
	}
	return restrict_to_endpoint(m, old, patched);
}

static void handle_create_object(struct apiserver *as, struct http_request *req, const struct api_path *p,
				 json_t *obj);

static void handle_patch(struct apiserver *as, struct http_request *req, const struct api_path *p)
{
	const char *ct = content_type(req);
	struct mutation *m;
	json_t *patch;

	if (!is_patch_type(ct, "application/json-patch+json") && !is_patch_type(ct, "application/merge-patch+json") &&
	    !is_patch_type(ct, "application/strategic-merge-patch+json") &&
	    !is_patch_type(ct, "application/apply-patch+yaml")) {
		http_respond_status(req, 415, "UnsupportedMediaType",
				    "the body of the request was in an unknown format - accepted media types include: "
				    "application/json-patch+json, application/merge-patch+json, "
				    "application/apply-patch+yaml, application/strategic-merge-patch+json");
		return;
	}
	if (is_patch_type(ct, "application/json-patch+json")) {
		json_error_t err;
		patch = obj_parse(req->body, req->body_len, 0, &err);
		if (!json_is_array(patch)) {
			json_decref(patch);
			http_respond_status(req, 400, "BadRequest",
					    "error decoding JSON patch: it must be a JSON array of operations%s%s",
					    err.text[0] ? ": " : "", err.text);
			return;
		}
	} else if (!(patch = decode_body(req))) {
		return;
	}
	if (is_patch_type(ct, "application/apply-patch+yaml")) {
		char *key = storage_key(p->kind, p->namespace, p->name);
		bool exists = store_get(as->store, key) != NULL;
		free(key);
		if (!exists && !p->subresource[0]) {
			/* Server-side apply creates what is missing. */
			handle_create_object(as, req, p, patch);
			return;
		}
	}
	m = mutation_new(as, req, p, mutate_patch, patch);
	m->patch_type = ct;
	if (!strcmp(p->subresource, "scale"))
		m->respond_as = RESPOND_SCALE;
	mutation_run(m);
}

/* ---- POST: create, binding, eviction ------------------------------------ */

struct create_op {
	struct apiserver *as;
	struct http_request *req;
	const struct kind *k;
	char *name;
	json_t *svc; /* a Service's allocations, to free if the write fails */
};

static void create_done(int status, struct store_obj *o, bool unchanged, void *data)
{
	struct create_op *op = data;

	(void)unchanged;
	if (status == 0) {
		respond_stored(op->req, op->k, 201, o);
	} else {
		if (op->svc)
			release_service(op->as, op->svc);
		respond_store_error(op->req, op->k, op->name, status);
	}
	json_decref(op->svc);
	http_request_unref(op->req);
	free(op->name);
	free(op);
}

/* Namespaced objects need their namespace, and not one being deleted. */
static bool check_namespace(struct apiserver *as, struct http_request *req, const struct kind *k, const char *ns)
{
	char *key;
	const json_t *nso;

	if (!k->namespaced)
		return true;
	key = storage_key(&kind_namespace, "", ns);
	nso = store_get(as->store, key);
	free(key);
	if (!nso) {
		respond_not_found(req, &kind_namespace, ns);
		return false;
	}
	if (obj_get(nso, "metadata.deletionTimestamp")) {
		char *msg = xasprintf("%s is forbidden: unable to create new content in namespace %s "
				      "because it is being terminated", k->plural, ns);
		http_respond_json(req, 403, status_new(403, "Forbidden", msg));
		free(msg);
		return false;
	}
	return true;
}

/* Steals obj. */
static void handle_create_object(struct apiserver *as, struct http_request *req, const struct api_path *p,
				 json_t *obj)
{
	const struct kind *k = p->kind;
	struct field_errors errs = { 0 };
	struct create_op *op;
	const char *ns;
	char *key;

	if (!check_body_kind(req, k, obj, k->kind, kind_api_version(k)))
		goto bad;
	ns = obj_namespace(obj);
	if (k->namespaced) {
		if (ns && *ns && p->has_namespace && strcmp(ns, p->namespace)) {
			http_respond_status(req, 400, "BadRequest",
					    "the namespace of the provided object (%s) does not match the namespace sent "
					    "on the request (%s)", ns, p->namespace);
			goto bad;
		}
		if (p->has_namespace)
			obj_set(obj, "metadata.namespace", json_string(p->namespace));
		else if (!ns || !*ns)
			obj_set(obj, "metadata.namespace", json_string("default"));
	} else {
		obj_del(obj, "metadata.namespace");
	}
	if (p->name[0] && obj_name(obj) && strcmp(obj_name(obj), p->name)) {
		http_respond_status(req, 400, "BadRequest",
				    "the name of the object (%s) does not match the name on the URL (%s)",
				    obj_name(obj), p->name);
		goto bad;
	}
	if (p->name[0] && !obj_name(obj))
		obj_set(obj, "metadata.name", json_string(p->name));
	admit_create(as, k, obj);
	if (k->validate)
		k->validate(obj, NULL, &errs);
	else
		validate_object_meta(obj, k->namespaced, k->name_is_label ? "dns1123-label" : "dns1123-subdomain",
				     &errs);
	if (errs.n) {
		respond_invalid(req, k, obj_name(obj), &errs);
		field_errors_release(&errs);
		goto bad;
	}
	if (!check_namespace(as, req, k, obj_namespace(obj)))
		goto bad;
	op = xcalloc(1, sizeof(*op));
	if (k == &kind_service) {
		if (admit_service(as, req, obj, NULL) < 0) {
			free(op);
			goto bad;
		}
		op->svc = json_incref(obj);
	}
	op->as = as;
	op->req = req;
	http_request_ref(req);
	op->k = k;
	op->name = xstrdup(obj_name(obj));
	key = storage_key(k, obj_namespace(obj), obj_name(obj));
	store_create(as->store, key, obj, create_done, op);
	free(key);
	return;
bad:
	json_decref(obj);
}

static json_t *mutate_binding(struct mutation *m, const json_t *old)
{
	const char *node = obj_str(m->input, "target.name");
	const char *cur = obj_str(old, "spec.nodeName");
	json_t *pod, *conds, *cond;
	char now[TIME_RFC3339_LEN];
	size_t i;

	if (cur && *cur) {
		http_respond_status(m->req, 409, "Conflict",
				    "Operation cannot be fulfilled on pods/binding \"%s\": pod %s is already assigned to "
				    "node \"%s\"", m->p.name, m->p.name, cur);
		return NULL;
	}
	if (obj_get(old, "metadata.deletionTimestamp")) {
		http_respond_status(m->req, 409, "Conflict",
				    "Operation cannot be fulfilled on pods/binding \"%s\": pod %s is being deleted, "
				    "cannot be assigned to a host", m->p.name, m->p.name);
		return NULL;
	}
	pod = json_deep_copy(old);
	obj_set(pod, "spec.nodeName", json_string(node));
	time_format_rfc3339(time(NULL), now);
	conds = obj_get(pod, "status.conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		obj_set(pod, "status.conditions", conds);
	}
	for (i = 0; i < json_array_size(conds); i++)
		if (!strcmp(obj_str(json_array_get(conds, i), "type") ?: "", "PodScheduled"))
			break;
	cond = json_pack("{s:s, s:s, s:n, s:s}", "type", "PodScheduled", "status", "True", "lastProbeTime",
			 "lastTransitionTime", now);
	if (i < json_array_size(conds))
		json_array_set_new(conds, i, cond);
	else
		json_array_append_new(conds, cond);
	return pod;
}

static void handle_binding(struct apiserver *as, struct http_request *req, const struct api_path *p)
{
	json_t *body = decode_body(req);
	struct mutation *m;
	struct api_path pp = *p;

	if (!body)
		return;
	if (!json_is_string(obj_get(body, "target.name")) || !*obj_str(body, "target.name")) {
		http_respond_status(req, 422, "Invalid", "Binding \"%s\" is invalid: target.name: Required value", p->name);
		json_decref(body);
		return;
	}
	pp.subresource[0] = '\0';
	m = mutation_new(as, req, &pp, mutate_binding, body);
	m->skip_validate = true;
	m->respond_as = RESPOND_SUCCESS;
	m->respond_code = 201;
	mutation_run(m);
}

/* ---- DELETE -------------------------------------------------------------- */

struct delete_options {
	bool has_grace;
	int64_t grace;
	const char *propagation; /* "Foreground", "Background", "Orphan" or NULL */
	const char *uid;         /* preconditions */
	int64_t rv;
};

/* Reads DeleteOptions from the body or the query. The returned strings
 * point into *holder (a new reference the caller frees). */
static int delete_options_parse(struct http_request *req, struct delete_options *o, json_t **holder)
{
	char *q;

	memset(o, 0, sizeof(*o));
	*holder = NULL;
	if (req->body_len > 0) {
		json_error_t err;
		json_t *b = json_loadb(req->body, req->body_len, 0, &err);
		if (!json_is_object(b)) {
			json_decref(b);
			http_respond_status(req, 400, "BadRequest", "error decoding DeleteOptions: %s",
					    err.text[0] ? err.text : "not a JSON object");
			return -1;
		}
		*holder = b;
	} else {
		*holder = json_object();
	}
	if ((q = http_request_query(req, "gracePeriodSeconds"))) {
		obj_set(*holder, "gracePeriodSeconds", json_integer(strtoll(q, NULL, 10)));
		free(q);
	}
	if ((q = http_request_query(req, "propagationPolicy"))) {
		obj_set(*holder, "propagationPolicy", json_string(q));
		free(q);
	}
	if (json_is_integer(obj_get(*holder, "gracePeriodSeconds"))) {
		o->has_grace = true;
		o->grace = obj_int(*holder, "gracePeriodSeconds", 0);
		if (o->grace < 0)
			o->grace = 0;
	}
	o->propagation = obj_str(*holder, "propagationPolicy");
	if (obj_bool(*holder, "orphanDependents", false) && !o->propagation)
		o->propagation = "Orphan";
	if (o->propagation && strcmp(o->propagation, "Foreground") && strcmp(o->propagation, "Background") &&
	    strcmp(o->propagation, "Orphan")) {
		http_respond_status(req, 422, "Invalid",
				    "DeleteOptions.propagationPolicy: Unsupported value: \"%s\": supported values: "
				    "\"Foreground\", \"Background\", \"Orphan\", \"nil\"", o->propagation);
		json_decref(*holder);
		*holder = NULL;
		return -1;
	}
	o->uid = obj_str(*holder, "preconditions.uid");
	o->rv = strtoll(obj_str(*holder, "preconditions.resourceVersion") ?: "0", NULL, 10);
	return 0;
}

/* The grace period a delete gets: pods on a node wait for their kubelet. */
static int64_t grace_for(const struct kind *k, const json_t *obj, const struct delete_options *o)
{
	const char *phase;

	if (k != &kind_pod)
		return 0;
	phase = obj_str(obj, "status.phase");
	if (!obj_str(obj, "spec.nodeName") || (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))))
		return 0;
	if (o->has_grace)
		return o->grace;
	return obj_int(obj, "spec.terminationGracePeriodSeconds", 30);
}

static json_t *mutate_delete_mark(struct mutation *m, const json_t *old)
{
	json_t *obj = json_deep_copy(old);
	int64_t grace = obj_int(m->input, "grace", 0);
	const char *add = obj_str(m->input, "finalizer");
	json_t *existing = obj_get(obj, "metadata.deletionTimestamp");
	char ts[TIME_RFC3339_LEN];

	if (!existing || grace < obj_int(obj, "metadata.deletionGracePeriodSeconds", 0)) {
		time_format_rfc3339(time(NULL) + grace, ts);
		obj_set(obj, "metadata.deletionTimestamp", json_string(ts));
		obj_set(obj, "metadata.deletionGracePeriodSeconds", json_integer(grace));
	}
	if (add) {
		json_t *fin = obj_get(obj, "metadata.finalizers");
		bool have = false;
		size_t i;
		json_t *v;
		if (!json_is_array(fin)) {
			fin = json_array();
			obj_set(obj, "metadata.finalizers", fin);
		}
		json_array_foreach(fin, i, v)
			if (json_is_string(v) && !strcmp(json_string_value(v), add))
				have = true;
		if (!have)
			json_array_append_new(fin, json_string(add));
	}
	if (m->k == &kind_namespace)
		obj_set(obj, "status.phase", json_string("Terminating"));
	return obj;
}

/* Deletes one object as Kubernetes would: at once, or by marking it with a
 * deletionTimestamp when finalizers or a grace period hold it. req may be
 * NULL (deletecollection); done/data are called when it is over. */
static void delete_object_attempt(struct apiserver *as, struct http_request *req, const struct api_path *p,
				  const json_t *old, const struct delete_options *o,
				  void (*done)(void *data, int status), void *data, int attempts)
{
	const char *fin = NULL;
	int64_t grace = grace_for(p->kind, old, o);
	bool held;

	if (o->propagation && !strcmp(o->propagation, "Foreground"))
		fin = "foregroundDeletion";
	else if (o->propagation && !strcmp(o->propagation, "Orphan"))
		fin = "orphan";
	held = grace > 0 || fin || json_array_size(obj_get(old, "metadata.finalizers")) > 0 ||
	       (p->kind == &kind_namespace && json_array_size(obj_get(old, "spec.finalizers")) > 0);
	if (!held) {
		char *key = storage_key(p->kind, p->namespace, p->name);
		struct delete_op *op = xcalloc(1, sizeof(*op));
		op->as = as;
		op->req = req;
		if (req)
			http_request_ref(req);
		op->k = p->kind;
		op->name = xstrdup(p->name);
		op->notify = done;
		op->notify_data = data;
		op->may_retry = !o->rv && !o->uid;
		op->path = *p;
		op->has_grace = o->has_grace;
		op->grace = o->grace;
		op->attempts = attempts;
		store_delete(as->store, key, obj_rv(old), delete_done, op);
		free(key);
		return;
	}
	struct mutation *m = mutation_new(as, req, p, mutate_delete_mark,
					  json_pack("{s:I}", "grace", (json_int_t)grace));
	if (fin)
		obj_set(m->input, "finalizer", json_string(fin));
	m->may_change_deletion = true;
	m->skip_validate = true;
	m->done = done;
	m->done_data = data;
	mutation_run(m);
}

static void delete_object(struct apiserver *as, struct http_request *req, const struct api_path *p,
			  const json_t *old, const struct delete_options *o,
			  void (*done)(void *data, int status), void *data)
{
	delete_object_attempt(as, req, p, old, o, done, data, 1);
}

/* Starts the delete again on the object as it is now; false when it is gone
 * (the conflict then stands as the answer). */
static bool delete_retry(struct delete_op *op)
{
	char *key = storage_key(op->k, op->path.namespace, op->name);
	const json_t *now = store_get(op->as->store, key);
	struct delete_options o = { .has_grace = op->has_grace, .grace = op->grace };

	free(key);
	if (!now)
		return false;
	delete_object_attempt(op->as, op->req, &op->path, now, &o, op->notify, op->notify_data, op->attempts + 1);
	return true;
}

static bool check_preconditions(struct http_request *req, const struct kind *k, const char *name,
				const json_t *old, const struct delete_options *o)
{
	const char *uid = obj_str(old, "metadata.uid");

	if (o->uid && (!uid || strcmp(o->uid, uid))) {
		http_respond_status(req, 409, "Conflict",
				    "Operation cannot be fulfilled on %s \"%s\": Precondition failed: UID in "
				    "precondition: %s, UID in object meta: %s", k->plural, name, o->uid, uid ? uid : "");
		return false;
	}
	if (o->rv && o->rv != obj_rv(old)) {
		respond_conflict(req, k, name);
		return false;
	}
	return true;
}

static void handle_delete(struct apiserver *as, struct http_request *req, const struct api_path *p)
{
	char *key = storage_key(p->kind, p->namespace, p->name);
	const json_t *old = store_get(as->store, key);
	struct delete_options o;
	json_t *holder;

	free(key);
	if (!old) {
		respond_not_found(req, p->kind, p->name);
		return;
	}
	if (delete_options_parse(req, &o, &holder) < 0)
		return;
	if (check_preconditions(req, p->kind, p->name, old, &o))
		delete_object(as, req, p, old, &o, NULL, NULL);
	json_decref(holder);
}

/* Eviction: a delete that answers 201 with a Status, as the policy/v1
 * Eviction subresource does (minik8s has no PodDisruptionBudgets). */
static void eviction_done(void *data, int status)
{
	struct http_request *req = data;

	if (status == 0) {
		json_t *st = status_success();
		json_object_set_new(st, "code", json_integer(201));
		http_respond_json(req, 201, st);
	} else if (!http_request_closed(req)) {
		http_respond_status(req, 500, "InternalError", "eviction failed: the pod could not be deleted");
	}
	http_request_unref(req);
}

static void handle_eviction(struct apiserver *as, struct http_request *req, const struct api_path *p)
{
	char *key = storage_key(p->kind, p->namespace, p->name);
	const json_t *old = store_get(as->store, key);
	struct api_path pp = *p;
	struct delete_options o = { 0 };
	json_t *body;

	free(key);
	if (!old) {
		respond_not_found(req, p->kind, p->name);
		return;
	}
	if (!(body = decode_body(req)))
		return;
	if (json_is_integer(obj_get(body, "deleteOptions.gracePeriodSeconds"))) {
		o.has_grace = true;
		o.grace = obj_int(body, "deleteOptions.gracePeriodSeconds", 0);
	}
	pp.subresource[0] = '\0';
	http_request_ref(req);
	delete_object(as, NULL, &pp, old, &o, eviction_done, req);
	json_decref(body);
}

/* deletecollection: delete every match, answer with the list once all are
 * done. The list is the selected versions' texts, kept by reference: 30,000
 * pods cost their text here, never 30,000 trees at once. */
struct collection_delete {
	struct http_request *req;
	const struct kind *k;
	int64_t rv;
	struct store_obj **items;
	size_t n;
	int pending;
};

static void collection_one_done(void *data, int status)
{
	struct collection_delete *cd = data;

	(void)status;
	if (--cd->pending > 0)
		return;
	respond_list(cd->req, cd->k, cd->rv, cd->items, cd->n);
	for (size_t i = 0; i < cd->n; i++)
		store_obj_unref(cd->items[i]);
	http_request_unref(cd->req);
	free(cd->items);
	free(cd);
}

static void handle_delete_collection(struct apiserver *as, struct http_request *req, const struct api_path *p)
{
	struct list_ctx lc = { 0 };
	struct collection_delete *cd;
	struct delete_options o;
	json_t *holder;
	char *prefix;

	if (filter_init(&lc.f, p->kind, req) < 0)
		return;
	if (delete_options_parse(req, &o, &holder) < 0) {
		filter_release(&lc.f);
		return;
	}
	prefix = storage_prefix(p->kind, p->has_namespace ? p->namespace : NULL);
	store_list(as->store, prefix, list_one, &lc);
	free(prefix);
	filter_release(&lc.f);

	cd = xcalloc(1, sizeof(*cd));
	cd->req = req;
	http_request_ref(req);
	cd->k = p->kind;
	cd->rv = store_revision(as->store);
	cd->items = lc.items;
	cd->n = lc.n;
	cd->pending = 1; /* held until every delete is issued */
	for (size_t i = 0; i < cd->n; i++) {
		struct api_path pp = *p;
		json_t *obj = store_obj_parse(store_obj_ref(cd->items[i]));

		snprintf(pp.name, sizeof(pp.name), "%s", obj_name(obj));
		if (p->kind->namespaced)
			snprintf(pp.namespace, sizeof(pp.namespace), "%s", obj_namespace(obj));
		cd->pending++;
		delete_object(as, NULL, &pp, obj, &o, collection_one_done, cd);
		json_decref(obj);
	}
	json_decref(holder);
	collection_one_done(cd, 0);
}

/* ---- dispatch ------------------------------------------------------------ */

void handle_resource(struct apiserver *as, struct http_request *req, const struct api_path *p,
		     const struct identity *who)
{
	const char *m = req->method, *sub = p->subresource;
	bool item = p->name[0] != '\0';

	(void)who;
	if (sub[0] && !kind_has_subresource(p->kind, sub) &&
	    !(p->kind == &kind_namespace && !strcmp(sub, "finalize"))) {
		http_respond_status(req, 404, "NotFound", "the server could not find the requested resource: %s has no "
				    "subresource \"%s\"", p->kind->plural, sub);
		return;
	}
	if (!item) {
		if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
			if (query_true(req, "watch"))
				handle_watch(as, req, p);
			else
				handle_list(as, req, p);
		} else if (!strcmp(m, "POST")) {
			json_t *obj = decode_body(req);
			if (obj)
				handle_create_object(as, req, p, obj);
		} else if (!strcmp(m, "DELETE")) {
			handle_delete_collection(as, req, p);
		} else {
			http_respond_status(req, 405, "MethodNotAllowed", "the server does not allow this method on the "
					    "requested resource: %s on a collection of %s", m, p->kind->plural);
		}
		return;
	}
	if (!strcmp(sub, "binding") || !strcmp(sub, "eviction")) {
		if (strcmp(m, "POST")) {
			http_respond_status(req, 405, "MethodNotAllowed", "%s on pods/%s: use POST", m, sub);
			return;
		}
		if (!strcmp(sub, "binding"))
			handle_binding(as, req, p);
		else
			handle_eviction(as, req, p);
		return;
	}
	if (!strcmp(sub, "log")) {
		handle_pod_log(as, req, p);
		return;
	}
	if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
		handle_get(as, req, p);
	else if (!strcmp(m, "PUT"))
		handle_update(as, req, p);
	else if (!strcmp(m, "PATCH"))
		handle_patch(as, req, p);
	else if (!strcmp(m, "DELETE") && !sub[0])
		handle_delete(as, req, p);
	else if (!strcmp(m, "POST") && !sub[0]) {
		/* kubectl never does this; Kubernetes answers 405 as well. */
		http_respond_status(req, 405, "MethodNotAllowed", "POST to an object: create with POST to its collection");
	} else
		http_respond_status(req, 405, "MethodNotAllowed", "the server does not allow %s on %s%s%s", m,
				    p->kind->plural, sub[0] ? "/" : "", sub);
}
