/*
 * The PATCH flavours of the API server (JSON merge patch, JSON patch and
 * strategic merge patch) and the three-way strategic patch `kubectl apply`
 * computes. Every function deep-copies what it keeps, so results never share
 * nodes with the inputs and callers may change them freely. Strategic merge
 * follows k8s.io/apimachinery/pkg/util/strategicpatch; where we differ (we
 * strip directives and nulls from values the original lacked, accept
 * `$patch: merge`, tolerate live list items without a merge key) the comment
 * at that spot says so. Recursion stops at PATCH_MAX_DEPTH levels.
 */
#include "patch.h"
#include "util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Deep enough for any real object, shallow enough for the stack under ASan. */
#define PATCH_MAX_DEPTH 1000

#define DIRECTIVE "$patch"
#define RETAIN_KEYS "$retainKeys"
#define SET_ORDER_PREFIX "$setElementOrder/"
#define DELETE_PRIMITIVE_PREFIX "$deleteFromPrimitiveList/"

/* ---------------------------------------------------------------------- */
/* Shared helpers                                                          */
/* ---------------------------------------------------------------------- */

/* The classes Go's reflect.TypeOf tells apart after json.Unmarshal. */
enum vclass { V_NULL, V_BOOL, V_NUM, V_STR, V_ARR, V_OBJ };

static enum vclass vclass(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return V_OBJ;
	case JSON_ARRAY:
		return V_ARR;
	case JSON_STRING:
		return V_STR;
	case JSON_INTEGER:
	case JSON_REAL:
		return V_NUM;
	case JSON_TRUE:
	case JSON_FALSE:
		return V_BOOL;
	default:
		return V_NULL;
	}
}

/*
 * Deep equality as JSON means it: numbers compare by value (1 == 1.0, as
 * RFC 6902's test and Go's float64 see them), objects ignore key order.
 */
static bool value_equal(const json_t *a, const json_t *b, int depth)
{
	const char *k;
	size_t kl, i;
	json_t *v;

	if (a == b)
		return true;
	if (!a || !b || vclass(a) != vclass(b))
		return false;
	if (depth > PATCH_MAX_DEPTH)
		return json_equal(a, b);
	switch (vclass(a)) {
	case V_NULL:
		return true;
	case V_BOOL:
		return json_typeof(a) == json_typeof(b);
	case V_NUM:
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return json_number_value(a) == json_number_value(b);
	case V_STR:
		return json_string_length(a) == json_string_length(b) &&
		       !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
	case V_ARR:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (i = 0; i < json_array_size(a); i++)
			if (!value_equal(json_array_get(a, i), json_array_get(b, i), depth + 1))
				return false;
		return true;
	case V_OBJ:
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_keylen_foreach((json_t *)a, k, kl, v) {
			if (!value_equal(v, json_object_getn(b, k, kl), depth + 1))
				return false;
		}
		return true;
	}
	return false;
}

static bool key_is(const char *k, size_t kl, const char *s)
{
	return kl == strlen(s) && !memcmp(k, s, kl);
}

static bool key_has_prefix(const char *k, size_t kl, const char *prefix)
{
	size_t n = strlen(prefix);

	return kl >= n && !memcmp(k, prefix, n);
}

/* Borrowed value of "<prefix><key>" in obj, or NULL. */
static json_t *get_prefixed(const json_t *obj, const char *prefix, const char *k, size_t kl)
{
	size_t n = strlen(prefix);
	char *name = xmalloc(n + kl + 1);
	json_t *v;

	memcpy(name, prefix, n);
	memcpy(name + n, k, kl);
	name[n + kl] = '\0';
	v = json_object_getn(obj, name, n + kl);
	free(name);
	return v;
}

static void set_prefixed(json_t *obj, const char *prefix, const char *k, size_t kl, json_t *value)
{
	size_t n = strlen(prefix);
	char *name = xmalloc(n + kl + 1);

	memcpy(name, prefix, n);
	memcpy(name + n, k, kl);
	name[n + kl] = '\0';
	json_object_setn_new_nocheck(obj, name, n + kl, value);
	free(name);
}

/* ---------------------------------------------------------------------- */
/* JSON merge patch (RFC 7386)                                             */
/* ---------------------------------------------------------------------- */

/* target is ours (a private copy, or NULL) and is changed in place. */
static json_t *merge_patch_into(json_t *target, const json_t *patch, int depth)
{
	const char *k;
	size_t kl;
	json_t *v;

	if (!json_is_object(patch) || depth > PATCH_MAX_DEPTH) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
	}
	json_object_keylen_foreach((json_t *)patch, k, kl, v) {
		json_t *cur;

		if (json_is_null(v)) {
			json_object_deln(target, k, kl);
			continue;
		}
		cur = json_incref(json_object_getn(target, k, kl));
		json_object_setn_new_nocheck(target, k, kl, merge_patch_into(cur, v, depth + 1));
	}
	return target;
}

json_t *json_merge_patch(const json_t *target, const json_t *patch)
{
	if (!patch)
		return target ? json_deep_copy(target) : json_null();
	return merge_patch_into(json_deep_copy(target), patch, 0);
}

/* ---------------------------------------------------------------------- */
/* JSON patch (RFC 6902) with JSON pointers (RFC 6901)                     */
/* ---------------------------------------------------------------------- */

struct jp_token {
	char *s;
	size_t len;
};

struct jp_pointer {
	struct jp_token *tok;
	size_t n;
};

static void jp_pointer_release(struct jp_pointer *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->tok[i].s);
	free(p->tok);
	p->tok = NULL;
	p->n = 0;
}

/* Splits and unescapes a pointer. -1 if it is not one (no leading '/', bad '~'). */
static int jp_pointer_parse(const char *s, size_t len, struct jp_pointer *out)
{
	size_t i, count = 0;

	out->tok = NULL;
	out->n = 0;
	if (len == 0)
		return 0;
	if (s[0] != '/')
		return -1;
	for (i = 0; i < len; i++)
		count += s[i] == '/';
	out->tok = xcalloc(count, sizeof(*out->tok));
	i = 1;
	while (out->n < count) {
		size_t end = i, n = 0;
		char *t;

		while (end < len && s[end] != '/')
			end++;
		t = xmalloc(end - i + 1);
		for (; i < end; i++) {
			if (s[i] == '~') {
				if (i + 1 >= end || (s[i + 1] != '0' && s[i + 1] != '1')) {
					free(t);
					jp_pointer_release(out);
					return -1;
				}
				t[n++] = s[i + 1] == '0' ? '~' : '/';
				i++;
			} else {
				t[n++] = s[i];
			}
		}
		t[n] = '\0';
		out->tok[out->n].s = t;
		out->tok[out->n].len = n;
		out->n++;
		i = end + 1;
	}
	return 0;
}

/* Array index per RFC 6901: "0" or digits without a leading zero. */
static int jp_index(const struct jp_token *t, size_t *idx)
{
	size_t v = 0;

	if (t->len == 0 || t->len > 18 || (t->s[0] == '0' && t->len > 1))
		return -1;
	for (size_t i = 0; i < t->len; i++) {
		if (t->s[i] < '0' || t->s[i] > '9')
			return -1;
		v = v * 10 + (size_t)(t->s[i] - '0');
	}
	*idx = v;
	return 0;
}

/* Borrowed value at the first n tokens, or NULL. */
static json_t *jp_walk(json_t *root, const struct jp_pointer *p, size_t n)
{
	json_t *cur = root;

	for (size_t i = 0; i < n && cur; i++) {
		const struct jp_token *t = &p->tok[i];
		size_t idx;

		if (json_is_object(cur))
			cur = json_object_getn(cur, t->s, t->len);
		else if (json_is_array(cur) && !jp_index(t, &idx) && idx < json_array_size(cur))
			cur = json_array_get(cur, idx);
		else
			cur = NULL;
	}
	return cur;
}

enum jp_result { JP_OK, JP_NO_PATH, JP_NO_KEY, JP_BAD_INDEX };

static enum jp_result jp_add(json_t **root, const struct jp_pointer *p, json_t *value)
{
	const struct jp_token *last;
	json_t *parent;
	size_t idx;

	if (p->n == 0) {
		json_decref(*root);
		*root = value;
		return JP_OK;
	}
	last = &p->tok[p->n - 1];
	parent = jp_walk(*root, p, p->n - 1);
	if (json_is_object(parent)) {
		json_object_setn_new_nocheck(parent, last->s, last->len, value);
		return JP_OK;
	}
	if (json_is_array(parent)) {
		if (last->len == 1 && last->s[0] == '-') {
			json_array_append_new(parent, value);
			return JP_OK;
		}
		if (!jp_index(last, &idx) && idx <= json_array_size(parent)) {
			json_array_insert_new(parent, idx, value);
			return JP_OK;
		}
		json_decref(value);
		return JP_BAD_INDEX;
	}
	json_decref(value);
	return JP_NO_PATH;
}

static enum jp_result jp_remove(json_t *root, const struct jp_pointer *p)
{
	const struct jp_token *last;
	json_t *parent;
	size_t idx;

	if (p->n == 0)
		return JP_NO_PATH;
	last = &p->tok[p->n - 1];
	parent = jp_walk(root, p, p->n - 1);
	if (json_is_object(parent))
		return json_object_deln(parent, last->s, last->len) ? JP_NO_KEY : JP_OK;
	if (json_is_array(parent)) {
		if (jp_index(last, &idx) || idx >= json_array_size(parent))
			return JP_BAD_INDEX;
		json_array_remove(parent, idx);
		return JP_OK;
	}
	return JP_NO_PATH;
}

static enum jp_result jp_replace(json_t **root, const struct jp_pointer *p, json_t *value)
{
	const struct jp_token *last;
	json_t *parent;
	size_t idx;

	if (p->n == 0) {
		json_decref(*root);
		*root = value;
		return JP_OK;
	}
	last = &p->tok[p->n - 1];
	parent = jp_walk(*root, p, p->n - 1);
	if (json_is_object(parent)) {
		if (!json_object_getn(parent, last->s, last->len)) {
			json_decref(value);
			return JP_NO_KEY;
		}
		json_object_setn_new_nocheck(parent, last->s, last->len, value);
		return JP_OK;
	}
	if (json_is_array(parent)) {
		if (jp_index(last, &idx) || idx >= json_array_size(parent)) {
			json_decref(value);
			return JP_BAD_INDEX;
		}
		json_array_set_new(parent, idx, value);
		return JP_OK;
	}
	json_decref(value);
	return JP_NO_PATH;
}

/* Levels of nesting in v (a scalar is 1), counting no further than limit + 1. */
static int value_depth(const json_t *v, int limit)
{
	int deepest = 0;
	const char *k;
	json_t *x;
	size_t i;

	if (limit < 0)
		return 1;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			int d = value_depth(x, limit - 1);

			if (d > deepest)
				deepest = d;
			if (deepest > limit)
				break;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			int d = value_depth(x, limit - 1);

			if (d > deepest)
				deepest = d;
			if (deepest > limit)
				break;
		}
	}
	return deepest + 1;
}

/* Nodes in v, counting no further than limit + 1 (and no deeper than the depth limit). */
static size_t value_nodes(const json_t *v, size_t limit, int depth)
{
	size_t n = 1, i;
	const char *k;
	json_t *x;

	if (depth > PATCH_MAX_DEPTH)
		return limit + 1;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, x) {
			if ((n += value_nodes(x, limit, depth + 1)) > limit)
				return n;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if ((n += value_nodes(x, limit, depth + 1)) > limit)
				return n;
		}
	}
	return n;
}

/* Is a a proper prefix of b (so moving a into b would move a into itself)? */
static bool jp_is_proper_prefix(const struct jp_pointer *a, const struct jp_pointer *b)
{
	if (a->n >= b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->tok[i].len != b->tok[i].len || memcmp(a->tok[i].s, b->tok[i].s, a->tok[i].len))
			return false;
	return true;
}

static const char *jp_result_text(enum jp_result r)
{
	switch (r) {
	case JP_NO_KEY:
		return "doc is missing key";
	case JP_BAD_INDEX:
		return "index out of range at";
	default:
		return "doc is missing path";
	}
}

/* Reads a pointer member ("path" or "from") of operation i. NULL or a message. */
static char *jp_member_pointer(const json_t *op, const char *name, size_t i, const char **raw,
			       struct jp_pointer *out)
{
	json_t *v = json_object_get(op, name);

	if (!v)
		return xasprintf("jsonpatch operation %zu is invalid: missing '%s': give it a JSON pointer such as \"/metadata/labels\"",
				 i, name);
	if (!json_is_string(v))
		return xasprintf("jsonpatch operation %zu is invalid: '%s' must be a string holding a JSON pointer", i, name);
	*raw = json_string_value(v);
	if (jp_pointer_parse(json_string_value(v), json_string_length(v), out))
		return xasprintf("jsonpatch operation %zu is invalid: '%s' \"%s\" is not a JSON pointer: start it with '/' and escape '~' as ~0, '/' as ~1",
				 i, name, *raw);
	return NULL;
}

/*
 * Copies can double the document with each operation, so one patch may copy
 * at most this many values in all (a large Deployment holds a few thousand).
 */
#define JP_MAX_COPIED_NODES 100000

/* Applies operation i to *root. NULL on success, else a heap message.
 * *copied counts the nodes copy operations have duplicated so far. */
static char *jp_apply_one(json_t **root, const json_t *op, size_t i, size_t *copied)
{
	struct jp_pointer path = { 0 }, from = { 0 };
	const char *name, *raw_path = "", *raw_from = "";
	json_t *value, *src = NULL;
	enum jp_result r = JP_OK;
	char *msg = NULL;

	if (!json_is_object(op))
		return xasprintf("jsonpatch operation %zu is invalid: it must be an object with 'op' and 'path'", i);
	name = json_string_value(json_object_get(op, "op"));
	if (!name)
		return xasprintf("jsonpatch operation %zu is invalid: missing 'op': use add, remove, replace, move, copy or test", i);
	if (strcmp(name, "add") && strcmp(name, "remove") && strcmp(name, "replace") &&
	    strcmp(name, "move") && strcmp(name, "copy") && strcmp(name, "test"))
		return xasprintf("jsonpatch operation %zu is invalid: unknown op '%s': use add, remove, replace, move, copy or test",
				 i, name);
	if ((msg = jp_member_pointer(op, "path", i, &raw_path, &path)))
		goto out;
	value = json_object_get(op, "value");
	if (!value && (!strcmp(name, "add") || !strcmp(name, "replace") || !strcmp(name, "test"))) {
		msg = xasprintf("jsonpatch %s operation %zu is invalid: missing 'value' for path %s", name, i, raw_path);
		goto out;
	}
	if (!strcmp(name, "move") || !strcmp(name, "copy")) {
		if ((msg = jp_member_pointer(op, "from", i, &raw_from, &from)))
			goto out;
		src = jp_walk(*root, &from, from.n);
		if (!src) {
			msg = xasprintf("jsonpatch %s operation %zu does not apply: doc is missing from path: %s",
					name, i, raw_from);
			goto out;
		}
	}

	/* each operation may nest the document deeper, and freeing it recurses */
	if (strcmp(name, "remove") && strcmp(name, "test") &&
	    (int)path.n + value_depth(src ? src : value, PATCH_MAX_DEPTH) > PATCH_MAX_DEPTH + 1) {
		msg = xasprintf("jsonpatch %s operation %zu does not apply: the document would nest deeper than %d levels at %s",
				name, i, PATCH_MAX_DEPTH, raw_path);
		goto out;
	}
	if (!strcmp(name, "copy")) {
		*copied += value_nodes(src, JP_MAX_COPIED_NODES, 0);
		if (*copied > JP_MAX_COPIED_NODES) {
			msg = xasprintf("jsonpatch copy operation %zu does not apply: the patch copies more than %d values: split it up",
					i, JP_MAX_COPIED_NODES);
			goto out;
		}
	}

	if (!strcmp(name, "add")) {
		r = jp_add(root, &path, json_deep_copy(value));
	} else if (!strcmp(name, "remove")) {
		r = jp_remove(*root, &path);
	} else if (!strcmp(name, "replace")) {
		r = jp_replace(root, &path, json_deep_copy(value));
	} else if (!strcmp(name, "copy")) {
		r = jp_add(root, &path, json_deep_copy(src));
	} else if (!strcmp(name, "move")) {
		if (jp_is_proper_prefix(&from, &path)) {
			msg = xasprintf("jsonpatch move operation %zu does not apply: cannot move %s into its own child %s",
					i, raw_from, raw_path);
			goto out;
		}
		/* from == "" can only move onto itself: nothing to do */
		if (from.n > 0) {
			json_incref(src);
			jp_remove(*root, &from); /* cannot fail: src was found there */
			r = jp_add(root, &path, src);
		}
	} else { /* test */
		json_t *cur = jp_walk(*root, &path, path.n);

		if (!cur) {
			r = JP_NO_PATH;
		} else if (!value_equal(cur, value, 0)) {
			msg = xasprintf("jsonpatch test operation %zu failed: value at %s differs from the expected value",
					i, raw_path);
			goto out;
		}
	}
	if (r != JP_OK)
		msg = xasprintf("jsonpatch %s operation %zu does not apply: %s: %s", name, i, jp_result_text(r),
				raw_path);
out:
	jp_pointer_release(&path);
	jp_pointer_release(&from);
	return msg;
}

json_t *json_patch_apply(const json_t *doc, const json_t *ops, char **err)
{
	json_t *root;
	char *msg = NULL;

	if (err)
		*err = NULL;
	if (!json_is_array(ops)) {
		msg = xstrdup("jsonpatch document is invalid: it must be a JSON array of operations");
		goto fail;
	}
	if (!doc) {
		msg = xstrdup("jsonpatch cannot apply: there is no document to patch");
		goto fail;
	}
	root = json_deep_copy(doc);
	for (size_t i = 0, copied = 0; i < json_array_size(ops); i++) {
		msg = jp_apply_one(&root, json_array_get(ops, i), i, &copied);
		if (msg) {
			json_decref(root);
			goto fail;
		}
	}
	return root;
fail:
	if (err)
		*err = msg;
	else
		free(msg);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Strategic merge patch: the schema                                       */
/* ---------------------------------------------------------------------- */

/*
 * What the Go struct tags say, for the fields that matter. A field not listed
 * is merged generically: objects recurse (with no schema below them), lists
 * and scalars are replaced. Listed fields are either structs whose subtree
 * holds merge lists (sub set, key NULL, SMP_MERGE unset) or lists with
 * patchStrategy "merge" (SMP_MERGE), keyed by key for lists of objects or
 * without key for sets of primitives. SMP_RETAIN marks "retainKeys", which
 * only changes what the three-way diff emits.
 */
enum { SMP_MERGE = 1, SMP_RETAIN = 2 };

struct smp_field {
	const char *name;
	const struct smp_field *sub; /* fields of the value, or of each list item */
	const char *key;	     /* patchMergeKey */
	unsigned flags;
};

#define F_STRUCT(n, s) { (n), (s), NULL, 0 }
#define F_STRUCT_RETAIN(n, s) { (n), (s), NULL, SMP_RETAIN }
#define F_LIST(n, s, k) { (n), (s), (k), SMP_MERGE }
#define F_LIST_RETAIN(n, s, k) { (n), (s), (k), SMP_MERGE | SMP_RETAIN }
#define F_SET(n) { (n), NULL, NULL, SMP_MERGE }
#define F_END { NULL, NULL, NULL, 0 }

/* metav1.ObjectMeta */
static const struct smp_field t_object_meta[] = {
	F_LIST("ownerReferences", NULL, "uid"),
	F_SET("finalizers"),
	F_END,
};

/* Container, and EphemeralContainerCommon which carries the same tags */
static const struct smp_field t_container[] = {
	F_LIST("ports", NULL, "containerPort"),
	F_LIST("env", NULL, "name"),
	F_LIST("volumeMounts", NULL, "mountPath"),
	F_LIST("volumeDevices", NULL, "devicePath"),
	F_END,
};

static const struct smp_field t_pod_spec[] = {
	F_LIST("initContainers", t_container, "name"),
	F_LIST("containers", t_container, "name"),
	F_LIST("ephemeralContainers", t_container, "name"),
	F_LIST_RETAIN("volumes", NULL, "name"),
	F_LIST("imagePullSecrets", NULL, "name"),
	F_LIST("hostAliases", NULL, "ip"),
	F_LIST("topologySpreadConstraints", NULL, "topologyKey"),
	F_LIST("schedulingGates", NULL, "name"),
	F_LIST_RETAIN("resourceClaims", NULL, "name"),
	F_END,
};

static const struct smp_field t_pod_status[] = {
	F_LIST("conditions", NULL, "type"),
	F_LIST("podIPs", NULL, "ip"),
	F_LIST("hostIPs", NULL, "ip"),
	F_LIST_RETAIN("resourceClaimStatuses", NULL, "name"),
	F_END,
};

static const struct smp_field t_pod_template_spec[] = {
	F_STRUCT("metadata", t_object_meta),
	F_STRUCT("spec", t_pod_spec),
	F_END,
};

/* NamespaceStatus, ServiceStatus, DeploymentStatus, ReplicaSetStatus */
static const struct smp_field t_conditions_status[] = {
	F_LIST("conditions", NULL, "type"),
	F_END,
};

static const struct smp_field t_service_spec[] = {
	F_LIST("ports", NULL, "port"),
	F_END,
};

static const struct smp_field t_node_spec[] = {
	F_SET("podCIDRs"),
	F_END,
};

static const struct smp_field t_node_status[] = {
	F_LIST("conditions", NULL, "type"),
	F_LIST("addresses", NULL, "type"),
	F_END,
};

static const struct smp_field t_deployment_spec[] = {
	F_STRUCT("template", t_pod_template_spec),
	F_STRUCT_RETAIN("strategy", NULL),
	F_END,
};

static const struct smp_field t_replicaset_spec[] = {
	F_STRUCT("template", t_pod_template_spec),
	F_END,
};

/* Root types, one per kind. */
static const struct smp_field k_pod[] = {
	F_STRUCT("metadata", t_object_meta),
	F_STRUCT("spec", t_pod_spec),
	F_STRUCT("status", t_pod_status),
	F_END,
};

static const struct smp_field k_service[] = {
	F_STRUCT("metadata", t_object_meta),
	F_STRUCT("spec", t_service_spec),
	F_STRUCT("status", t_conditions_status),
	F_END,
};

static const struct smp_field k_node[] = {
	F_STRUCT("metadata", t_object_meta),
	F_STRUCT("spec", t_node_spec),
	F_STRUCT("status", t_node_status),
	F_END,
};

static const struct smp_field k_namespace[] = {
	F_STRUCT("metadata", t_object_meta),
	F_STRUCT("status", t_conditions_status),
	F_END,
};

static const struct smp_field k_deployment[] = {
	F_STRUCT("metadata", t_object_meta),
	F_STRUCT("spec", t_deployment_spec),
	F_STRUCT("status", t_conditions_status),
	F_END,
};

static const struct smp_field k_replicaset[] = {
	F_STRUCT("metadata", t_object_meta),
	F_STRUCT("spec", t_replicaset_spec),
	F_STRUCT("status", t_conditions_status),
	F_END,
};

/* Endpoints (subsets are atomic), Event, ConfigMap, Secret, Lease. */
static const struct smp_field k_meta_only[] = {
	F_STRUCT("metadata", t_object_meta),
	F_END,
};

static const struct {
	const char *kind;
	const struct smp_field *root;
} smp_kinds[] = {
	{ "Namespace", k_namespace },
	{ "Pod", k_pod },
	{ "Service", k_service },
	{ "Endpoints", k_meta_only },
	{ "Node", k_node },
	{ "Event", k_meta_only },
	{ "ConfigMap", k_meta_only },
	{ "Secret", k_meta_only },
	{ "Deployment", k_deployment },
	{ "ReplicaSet", k_replicaset },
	{ "Lease", k_meta_only },
};

static const struct smp_field *smp_root(const char *kind)
{
	for (size_t i = 0; kind && i < ARRAY_SIZE(smp_kinds); i++)
		if (!strcmp(smp_kinds[i].kind, kind))
			return smp_kinds[i].root;
	return NULL;
}

static const struct smp_field *field_lookup(const struct smp_field *fields, const char *k, size_t kl)
{
	for (; fields && fields->name; fields++)
		if (key_is(k, kl, fields->name))
			return fields;
	return NULL;
}

static bool field_merges(const struct smp_field *f)
{
	return f && (f->flags & SMP_MERGE);
}

/* ---------------------------------------------------------------------- */
/* Strategic merge patch: errors and paths                                 */
/* ---------------------------------------------------------------------- */

struct smp_ctx {
	struct strbuf path; /* where we are, "spec.containers[1]", for messages */
	char *err;	    /* first error; later ones are consequences */
};

static void smp_ctx_init(struct smp_ctx *c)
{
	strbuf_init(&c->path, 64);
	c->err = NULL;
}

/* Hands the error to the caller (or frees it) and releases the context. */
static void smp_ctx_finish(struct smp_ctx *c, char **err)
{
	if (err)
		*err = c->err;
	else
		free(c->err);
	c->err = NULL;
	strbuf_release(&c->path);
}

static const char *smp_where(const struct smp_ctx *c)
{
	return c->path.len ? c->path.buf : "(top level)";
}

static int smp_fail(struct smp_ctx *c, const char *fmt, ...) PRINTF_LIKE(2, 3);
static int smp_fail(struct smp_ctx *c, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	if (c->err)
		return -1;
	strbuf_init(&sb, 128);
	strbuf_addf(&sb, "strategic merge patch at '%s': ", smp_where(c));
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	c->err = strbuf_detach(&sb, NULL);
	return -1;
}

static size_t path_push_key(struct smp_ctx *c, const char *k, size_t kl)
{
	size_t old = c->path.len;

	if (old)
		strbuf_addc(&c->path, '.');
	strbuf_add(&c->path, k, kl);
	return old;
}

static size_t path_push_index(struct smp_ctx *c, size_t i)
{
	size_t old = c->path.len;

	strbuf_addf(&c->path, "[%zu]", i);
	return old;
}

static void path_pop(struct smp_ctx *c, size_t old)
{
	c->path.len = old;
	c->path.buf[old] = '\0';
}

/* ---------------------------------------------------------------------- */
/* Strategic merge patch: list helpers                                     */
/* ---------------------------------------------------------------------- */

/* The merge key value of a list item, or NULL (not an object, or no key). */
static json_t *item_key(const json_t *item, const char *key)
{
	return json_is_object(item) ? json_object_get(item, key) : NULL;
}

/* Position of item in list[0..n) by merge key (or by value when key is NULL), or -1. */
static long index_of(json_t *const *list, size_t n, const json_t *item, const char *key)
{
	const json_t *want = key ? item_key(item, key) : item;

	if (!want)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const json_t *have = key ? item_key(list[i], key) : list[i];

		if (have && value_equal(have, want, 0))
			return (long)i;
	}
	return -1;
}

/* A C view of a JSON array's items (borrowed). */
static json_t **array_items(const json_t *a, size_t *n)
{
	size_t size = json_array_size(a);
	json_t **items = xcalloc(size ? size : 1, sizeof(*items));

	for (size_t i = 0; i < size; i++)
		items[i] = json_array_get(a, i);
	*n = size;
	return items;
}

struct ord_item {
	json_t *item;
	long order_rank;  /* position in the wanted order, -1 if absent */
	long server_rank; /* position in the live list, -1 if absent */
	size_t pos;
};

static int ord_by_order(const void *a, const void *b)
{
	const struct ord_item *x = a, *y = b;

	if (x->order_rank != y->order_rank)
		return x->order_rank < y->order_rank ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int ord_by_server(const void *a, const void *b)
{
	const struct ord_item *x = a, *y = b;
	/* items the live list lacks sort last, keeping their order */
	unsigned long xr = (unsigned long)x->server_rank, yr = (unsigned long)y->server_rank;

	if (xr != yr)
		return xr < yr ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * apimachinery's normalizeElementOrder: the items named by order keep that
 * order, the others (server-only) keep their live order, and the two runs
 * are interleaved by live position: a server-only item goes before a patch
 * item only when both are in the live list and it came first there. So
 * new items land ahead of later server-only ones. merged is consumed.
 */
static json_t *order_items(json_t *merged, json_t *const *order, size_t norder, json_t *const *server,
			   size_t nserver, const char *key)
{
	size_t n = json_array_size(merged), np = 0, ns = 0, i = 0, j = 0;
	struct ord_item *p = xcalloc(n ? n : 1, sizeof(*p));
	struct ord_item *s = xcalloc(n ? n : 1, sizeof(*s));
	json_t *out = json_array();

	for (size_t k = 0; k < n; k++) {
		struct ord_item it = { json_array_get(merged, k), -1, -1, k };

		it.order_rank = index_of(order, norder, it.item, key);
		it.server_rank = index_of(server, nserver, it.item, key);
		if (it.order_rank >= 0)
			p[np++] = it;
		else
			s[ns++] = it;
	}
	qsort(p, np, sizeof(*p), ord_by_order);
	qsort(s, ns, sizeof(*s), ord_by_server);
	while (i < ns || j < np) {
		bool take_server;

		if (i < ns && j < np)
			take_server = s[i].server_rank >= 0 && p[j].server_rank >= 0 &&
				      s[i].server_rank < p[j].server_rank;
		else
			take_server = i < ns;
		json_array_append(out, take_server ? s[i++].item : p[j++].item);
	}
	free(p);
	free(s);
	json_decref(merged);
	return out;
}

enum item_class { ITEMS_NONE, ITEMS_OBJECTS, ITEMS_SCALARS, ITEMS_MIXED, ITEMS_LISTS };

/* What a list (plus extra items) holds; apimachinery's sliceElementType. */
static enum item_class classify_items(const json_t *a, json_t *const *extra, size_t nextra)
{
	enum item_class cls = ITEMS_NONE;
	size_t na = json_array_size(a);

	for (size_t i = 0; i < na + nextra; i++) {
		const json_t *it = i < na ? json_array_get(a, i) : extra[i - na];
		enum item_class c = json_is_object(it) ? ITEMS_OBJECTS : json_is_array(it) ? ITEMS_LISTS : ITEMS_SCALARS;

		if (c == ITEMS_LISTS)
			return ITEMS_LISTS;
		if (cls != ITEMS_NONE && cls != c)
			cls = ITEMS_MIXED;
		else if (cls == ITEMS_NONE)
			cls = c;
	}
	return cls;
}

static int check_item_class(struct smp_ctx *c, enum item_class cls)
{
	if (cls == ITEMS_LISTS)
		return smp_fail(c, "lists of lists cannot be merged: replace the list with '$patch: replace'");
	if (cls == ITEMS_MIXED)
		return smp_fail(c, "list items mix objects and plain values: make them all one kind");
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Strategic merge patch: applying                                         */
/* ---------------------------------------------------------------------- */

static json_t *smp_map(json_t *orig, const json_t *patch, const struct smp_field *fields, struct smp_ctx *c,
		       int depth);
static json_t *smp_list(json_t *orig, const json_t *patch, const struct smp_field *f, struct smp_ctx *c,
			int depth);

/*
 * A patch value that lands where the original had nothing (or something of
 * another type): apimachinery copies it verbatim, directives and all; we
 * merge it into an empty value instead so the result holds no directives.
 */
static json_t *smp_clean(const json_t *v, const struct smp_field *f, const struct smp_field *sub,
			 struct smp_ctx *c, int depth)
{
	json_t *out;

	if (json_is_object(v))
		return smp_map(NULL, v, sub, c, depth);
	if (!json_is_array(v))
		return json_deep_copy(v);
	if (field_merges(f))
		return smp_list(NULL, v, f, c, depth);
	if (depth > PATCH_MAX_DEPTH) {
		smp_fail(c, "nesting deeper than %d levels", PATCH_MAX_DEPTH);
		return NULL;
	}
	out = json_array();
	for (size_t i = 0; i < json_array_size(v); i++) {
		size_t mark = path_push_index(c, i);
		json_t *item = smp_clean(json_array_get(v, i), NULL, NULL, c, depth + 1);

		path_pop(c, mark);
		if (!item) {
			json_decref(out);
			return NULL;
		}
		json_array_append_new(out, item);
	}
	return out;
}

/* Merges one patch value into cur (ours or NULL, consumed). */
static json_t *smp_value(json_t *cur, const json_t *v, const struct smp_field *f, struct smp_ctx *c, int depth)
{
	const struct smp_field *sub = f ? f->sub : NULL;

	if (cur && json_is_object(cur) && json_is_object(v))
		return smp_map(cur, v, sub, c, depth);
	if (cur && json_is_array(cur) && json_is_array(v) && field_merges(f))
		return smp_list(cur, v, f, c, depth);
	json_decref(cur);
	return smp_clean(v, f, sub, c, depth);
}

static bool name_listed(const json_t *names, const char *k, size_t kl)
{
	for (size_t i = 0; i < json_array_size(names); i++) {
		json_t *name = json_array_get(names, i);

		if (json_is_string(name) && json_string_length(name) == kl && !memcmp(json_string_value(name), k, kl))
			return true;
	}
	return false;
}

/* $retainKeys: fields of orig not listed go; the patch may only set listed ones. */
static int apply_retain_keys(json_t *orig, const json_t *patch, const json_t *keep, struct smp_ctx *c)
{
	const char *k;
	size_t kl;
	json_t *v;
	void *tmp;

	if (!json_is_array(keep))
		return smp_fail(c, "'%s' must be a list of field names", RETAIN_KEYS);
	json_object_keylen_foreach((json_t *)patch, k, kl, v) {
		if (json_is_null(v) || key_is(k, kl, DIRECTIVE) || key_is(k, kl, RETAIN_KEYS) ||
		    key_has_prefix(k, kl, SET_ORDER_PREFIX) || key_has_prefix(k, kl, DELETE_PRIMITIVE_PREFIX))
			continue;
		if (!name_listed(keep, k, kl))
			return smp_fail(c, "the patch sets '%.*s' but '%s' does not list it: add it to the list",
					(int)kl, k, RETAIN_KEYS);
	}
	json_object_keylen_foreach_safe(orig, tmp, k, kl, v) {
		if (!name_listed(keep, k, kl))
			json_object_deln(orig, k, kl);
	}
	return 0;
}

/* Skipped when checking order: directives, and items without their key
 * (smp_list reports those more precisely). */
static bool order_exempt(const json_t *it, const char *key)
{
	return json_is_object(it) && (json_object_get(it, DIRECTIVE) || (key && !json_object_get(it, key)));
}

/* Do the patch list's items (deletions aside) all appear in order, in that order? */
static bool order_matches(const json_t *plist, json_t *const *order, size_t norder, const char *key)
{
	size_t pi = 0, oi = 0, np = json_array_size(plist);

	for (;;) {
		while (pi < np && order_exempt(json_array_get(plist, pi), key))
			pi++;
		if (pi >= np)
			return true;
		if (oi >= norder)
			return false;
		if (key ? value_equal(item_key(json_array_get(plist, pi), key), item_key(order[oi], key), 0)
			: value_equal(json_array_get(plist, pi), order[oi], 0))
			pi++;
		oi++;
	}
}

/*
 * $setElementOrder/<list>: merges the list (if the patch has it too) and
 * orders the result; the main loop of smp_map then skips the list. Lists
 * without a merge strategy ignore the directive and are replaced as usual.
 */
static int apply_set_order(json_t *orig, const json_t *patch, const char *k, size_t kl, const json_t *so,
			   const struct smp_field *fields, struct smp_ctx *c, int depth)
{
	const struct smp_field *f = field_lookup(fields, k, kl);
	json_t *ol, *pl, *merged, *snapshot = NULL;
	json_t **order = NULL, **server = NULL;
	size_t norder = 0, nserver = 0;
	int ret = -1;

	if (!field_merges(f))
		return 0;
	if (!json_is_array(so))
		return smp_fail(c, "'%s%.*s' must be a list", SET_ORDER_PREFIX, (int)kl, k);
	ol = json_object_getn(orig, k, kl);
	pl = json_object_getn(patch, k, kl);
	if (ol && !json_is_array(ol))
		return smp_fail(c, "'%.*s' is not a list, so '%s%.*s' cannot order it", (int)kl, k, SET_ORDER_PREFIX,
				(int)kl, k);
	if (pl && !json_is_array(pl))
		return smp_fail(c, "'%.*s' in the patch must be a list to go with '%s%.*s'", (int)kl, k,
				SET_ORDER_PREFIX, (int)kl, k);
	order = array_items(so, &norder);
	for (size_t i = 0; f->key && i < norder; i++)
		if (!item_key(order[i], f->key)) {
			smp_fail(c, "item %zu of '%s%.*s' has no merge key '%s': add it", i, SET_ORDER_PREFIX,
				 (int)kl, k, f->key);
			goto out;
		}
	if (pl && !order_matches(pl, order, norder, f->key)) {
		smp_fail(c, "the items of '%.*s' are not listed in '%s%.*s' in the same order: list every patched item there",
			 (int)kl, k, SET_ORDER_PREFIX, (int)kl, k);
		goto out;
	}
	if (!ol && !pl) {
		ret = 0;
		goto out;
	}
	if (ol) {
		snapshot = json_copy(ol); /* live order, kept alive while merged changes */
		server = array_items(snapshot, &nserver);
	}
	{
		size_t mark = path_push_key(c, k, kl);

		merged = pl ? smp_list(json_incref(ol), pl, f, c, depth + 1) : json_incref(ol);
		path_pop(c, mark);
	}
	if (!merged)
		goto out;
	json_object_setn_new_nocheck(orig, k, kl, order_items(merged, order, norder, server, nserver, f->key));
	ret = 0;
out:
	free(order);
	free(server);
	json_decref(snapshot);
	return ret;
}

static void apply_delete_from_list(json_t *orig, const char *k, size_t kl, const json_t *del)
{
	json_t *cur = json_object_getn(orig, k, kl), *out;

	if (!json_is_array(cur) || !json_is_array(del))
		return;
	out = json_array();
	for (size_t i = 0; i < json_array_size(cur); i++) {
		json_t *it = json_array_get(cur, i);
		bool drop = false;

		for (size_t j = 0; j < json_array_size(del) && !drop; j++)
			drop = value_equal(it, json_array_get(del, j), 0);
		if (!drop)
			json_array_append(out, it);
	}
	json_object_setn_new_nocheck(orig, k, kl, out);
}

/*
 * Merges patch (an object) into orig (ours or NULL, consumed). Order as in
 * apimachinery's mergeMap: $patch, $retainKeys, $setElementOrder lists, the
 * fields, and last $deleteFromPrimitiveList (Go leaves that order to map
 * iteration; doing it last is the one that never undoes a deletion).
 */
static json_t *smp_map(json_t *orig, const json_t *patch, const struct smp_field *fields, struct smp_ctx *c,
		       int depth)
{
	const json_t *directive = json_object_get(patch, DIRECTIVE), *keep;
	const char *k;
	size_t kl;
	json_t *v;

	if (depth > PATCH_MAX_DEPTH) {
		smp_fail(c, "nesting deeper than %d levels", PATCH_MAX_DEPTH);
		goto fail;
	}
	if (directive) {
		const char *d = json_string_value(directive);

		if (d && !strcmp(d, "delete")) {
			/* apimachinery leaves an empty object, not a missing key */
			json_decref(orig);
			return json_object();
		}
		if (d && !strcmp(d, "replace")) {
			json_decref(orig);
			orig = NULL;
		} else if (!d || strcmp(d, "merge")) {
			smp_fail(c, "unknown '%s' directive %s%s%s: use replace, merge or delete", DIRECTIVE,
				 d ? "'" : "", d ? d : "(not a string)", d ? "'" : "");
			goto fail;
		}
	}
	if (!orig)
		orig = json_object();

	keep = json_object_get(patch, RETAIN_KEYS);
	if (keep && apply_retain_keys(orig, patch, keep, c))
		goto fail;

	json_object_keylen_foreach((json_t *)patch, k, kl, v) {
		size_t n = strlen(SET_ORDER_PREFIX);

		if (key_has_prefix(k, kl, SET_ORDER_PREFIX) &&
		    apply_set_order(orig, patch, k + n, kl - n, v, fields, c, depth))
			goto fail;
	}

	json_object_keylen_foreach((json_t *)patch, k, kl, v) {
		const struct smp_field *f;
		json_t *cur, *nv;
		size_t mark;

		if (key_is(k, kl, DIRECTIVE) || key_is(k, kl, RETAIN_KEYS) || key_has_prefix(k, kl, SET_ORDER_PREFIX) ||
		    key_has_prefix(k, kl, DELETE_PRIMITIVE_PREFIX))
			continue;
		if (json_is_null(v)) {
			json_object_deln(orig, k, kl);
			continue;
		}
		f = field_lookup(fields, k, kl);
		if (field_merges(f) && get_prefixed(patch, SET_ORDER_PREFIX, k, kl))
			continue; /* merged and ordered above */
		cur = json_incref(json_object_getn(orig, k, kl));
		mark = path_push_key(c, k, kl);
		nv = smp_value(cur, v, f, c, depth + 1);
		path_pop(c, mark);
		if (!nv)
			goto fail;
		json_object_setn_new_nocheck(orig, k, kl, nv);
	}

	json_object_keylen_foreach((json_t *)patch, k, kl, v) {
		size_t n = strlen(DELETE_PRIMITIVE_PREFIX);

		if (key_has_prefix(k, kl, DELETE_PRIMITIVE_PREFIX))
			apply_delete_from_list(orig, k + n, kl - n, v);
	}
	return orig;
fail:
	json_decref(orig);
	return NULL;
}

/* Position of the first object of list whose merge key equals kv, or -1. */
static long find_by_key(const json_t *list, const char *key, const json_t *kv)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *have = item_key(json_array_get(list, i), key);

		if (have && value_equal(have, kv, 0))
			return (long)i;
	}
	return -1;
}

/* Removes every object of list whose merge key equals kv. */
static void delete_matching(json_t *list, const char *key, const json_t *kv)
{
	for (size_t i = json_array_size(list); i-- > 0;) {
		json_t *have = item_key(json_array_get(list, i), key);

		if (have && value_equal(have, kv, 0))
			json_array_remove(list, i);
	}
}

/*
 * Merges a patch list into orig (ours or NULL, consumed) for a field with
 * patchStrategy merge: special items first ($patch: delete removes by key,
 * $patch: replace makes the patch's other items the whole list), then items
 * merge by key (objects) or join as a set (primitives), then the result is
 * ordered as the patch lists its items.
 */
static json_t *smp_list(json_t *orig, const json_t *patch, const struct smp_field *f, struct smp_ctx *c,
			int depth)
{
	size_t np = json_array_size(patch), nreg = 0, nserver = 0;
	json_t **reg = xcalloc(np ? np : 1, sizeof(*reg));
	size_t *reg_at = xcalloc(np ? np : 1, sizeof(*reg_at)); /* patch index, for messages */
	json_t **server = NULL, *snapshot = NULL, *merged = NULL, *out = NULL;
	bool replace = false;

	if (depth > PATCH_MAX_DEPTH) {
		smp_fail(c, "nesting deeper than %d levels", PATCH_MAX_DEPTH);
		goto out;
	}
	if (!orig)
		orig = json_array();

	for (size_t i = 0; i < np; i++) {
		json_t *it = json_array_get(patch, i), *d;
		const char *ds;

		if (!json_is_object(it) || !(d = json_object_get(it, DIRECTIVE))) {
			reg_at[nreg] = i;
			reg[nreg++] = it;
			continue;
		}
		ds = json_string_value(d);
		if (ds && !strcmp(ds, "replace")) {
			replace = true;
		} else if (ds && !strcmp(ds, "delete")) {
			json_t *kv = f->key ? json_object_get(it, f->key) : NULL;

			if (!f->key) {
				smp_fail(c, "'%s: delete' cannot remove a plain value: use '%s<list>'", DIRECTIVE,
					 DELETE_PRIMITIVE_PREFIX);
				goto out;
			}
			if (!kv) {
				size_t mark = path_push_index(c, i);

				smp_fail(c, "'%s: delete' item has no merge key '%s': say which item to delete",
					 DIRECTIVE, f->key);
				path_pop(c, mark);
				goto out;
			}
			delete_matching(orig, f->key, kv);
		} else if (ds && !strcmp(ds, "merge")) {
			/* apimachinery rejects this; merging is what lists do anyway */
			if (f->key && json_object_get(it, f->key)) {
				reg_at[nreg] = i;
				reg[nreg++] = it;
			}
		} else {
			size_t mark = path_push_index(c, i);

			smp_fail(c, "unknown '%s' directive in a list item: use replace, merge or delete", DIRECTIVE);
			path_pop(c, mark);
			goto out;
		}
	}

	if (replace) {
		json_decref(orig);
		orig = NULL;
		out = json_array();
		for (size_t i = 0; i < nreg; i++) {
			size_t mark = path_push_index(c, reg_at[i]);
			json_t *item = smp_clean(reg[i], NULL, f->sub, c, depth + 1);

			path_pop(c, mark);
			if (!item) {
				json_decref(out);
				out = NULL;
				goto out;
			}
			json_array_append_new(out, item);
		}
		goto out;
	}

	switch (classify_items(orig, reg, nreg)) {
	case ITEMS_NONE:
		out = orig;
		orig = NULL;
		goto out;
	case ITEMS_LISTS:
	case ITEMS_MIXED:
		check_item_class(c, classify_items(orig, reg, nreg));
		goto out;
	case ITEMS_OBJECTS:
		if (!f->key) {
			smp_fail(c, "list items are objects but the list has no merge key: use '%s: replace'",
				 DIRECTIVE);
			goto out;
		}
		snapshot = json_copy(orig);
		server = array_items(snapshot, &nserver);
		for (size_t i = 0; i < nreg; i++) {
			json_t *kv = json_object_get(reg[i], f->key), *nv;
			size_t mark = path_push_index(c, reg_at[i]);
			long at;

			if (!kv) {
				smp_fail(c, "item has no merge key '%s': every item of this list needs one", f->key);
				path_pop(c, mark);
				goto out;
			}
			at = find_by_key(orig, f->key, kv);
			if (at >= 0) {
				nv = smp_map(json_incref(json_array_get(orig, (size_t)at)), reg[i], f->sub, c, depth + 1);
				if (nv)
					json_array_set_new(orig, (size_t)at, nv);
			} else {
				nv = smp_clean(reg[i], NULL, f->sub, c, depth + 1);
				if (nv)
					json_array_append_new(orig, nv);
			}
			path_pop(c, mark);
			if (!nv)
				goto out;
		}
		merged = orig;
		orig = NULL;
		break;
	case ITEMS_SCALARS:
		snapshot = json_copy(orig);
		server = array_items(snapshot, &nserver);
		merged = json_array();
		for (size_t i = 0; i < nserver + nreg; i++) {
			json_t *it = i < nserver ? server[i] : reg[i - nserver];
			bool seen = false;

			for (size_t j = 0; j < json_array_size(merged) && !seen; j++)
				seen = value_equal(json_array_get(merged, j), it, 0);
			if (!seen)
				json_array_append_new(merged, json_deep_copy(it));
		}
		break;
	}
	out = order_items(merged, reg, nreg, server, nserver, f->key);
out:
	json_decref(orig);
	json_decref(snapshot);
	free(server);
	free(reg);
	free(reg_at);
	return out;
}

json_t *strategic_merge_patch(const json_t *original, const json_t *patch, const char *kind, char **err)
{
	struct smp_ctx c;
	json_t *res = NULL;

	smp_ctx_init(&c);
	if (!json_is_object(patch))
		smp_fail(&c, "the patch must be a JSON object");
	else if (original && !json_is_object(original))
		smp_fail(&c, "the object to patch must be a JSON object");
	else
		res = smp_map(json_deep_copy(original), patch, smp_root(kind), &c, 0);
	smp_ctx_finish(&c, err);
	return res;
}

/* ---------------------------------------------------------------------- */
/* Three-way strategic merge (kubectl apply)                               */
/* ---------------------------------------------------------------------- */

/* apimachinery's DiffOptions */
struct diff_opts {
	bool ignore_deletions; /* keys missing from modified stay alone */
	bool ignore_changes;   /* additions and changes are left out */
	bool retain;	       /* emit $retainKeys (field has patchStrategy retainKeys) */
};

static json_t *diff_maps(const json_t *o, const json_t *m, const struct smp_field *fields, struct diff_opts opts,
			 struct smp_ctx *c, int depth);

static int cmp_key_strings(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	size_t xl = json_string_length(x), yl = json_string_length(y);
	int r = memcmp(json_string_value(x), json_string_value(y), xl < yl ? xl : yl);

	return r ? r : (xl > yl) - (xl < yl);
}

/* Does o hold a non-null field that m lacks? */
static bool has_additional_field(const json_t *o, const json_t *m)
{
	const char *k;
	size_t kl;
	json_t *v;

	json_object_keylen_foreach((json_t *)o, k, kl, v) {
		if (!json_is_null(v) && !json_object_getn(m, k, kl))
			return true;
	}
	return false;
}

/* Diffs two lists of a merge field, adding "<k>", "$deleteFromPrimitiveList/<k>"
 * and "$setElementOrder/<k>" to patch as apimachinery's diffLists does. */
static int diff_lists(json_t *patch, const char *k, size_t kl, const json_t *o, const json_t *m,
		      const struct smp_field *f, struct diff_opts opts, struct smp_ctx *c, int depth)
{
	size_t no = json_array_size(o), nm = json_array_size(m);
	json_t *add, *del = NULL, *order = NULL, **mitems;
	size_t nmitems;
	enum item_class cls;
	bool *used;

	if (no == 0) {
		if (nm && !opts.ignore_changes)
			json_object_setn_new_nocheck(patch, k, kl, json_deep_copy(m));
		return 0;
	}
	mitems = array_items(m, &nmitems);
	cls = classify_items(o, mitems, nmitems);
	free(mitems);
	if (check_item_class(c, cls))
		return -1;
	add = json_array();
	used = xcalloc(no, sizeof(*used));

	if (cls == ITEMS_OBJECTS) {
		bool order_same = no == nm;
		struct diff_opts item_opts = opts;

		item_opts.retain = f->flags & SMP_RETAIN;
		if (!f->key) {
			smp_fail(c, "list items are objects but the list has no merge key");
			goto fail;
		}
		for (size_t i = 0; i < no + nm; i++) {
			const json_t *it = i < no ? json_array_get(o, i) : json_array_get(m, i - no);

			if (!item_key(it, f->key)) {
				size_t mark = path_push_index(c, i < no ? i : i - no);

				smp_fail(c, "item has no merge key '%s': every item of this list needs one", f->key);
				path_pop(c, mark);
				goto fail;
			}
		}
		for (size_t j = 0; j < nm; j++) {
			const json_t *mi = json_array_get(m, j), *kv = item_key(mi, f->key);
			size_t i;

			if (order_same && !value_equal(item_key(json_array_get(o, j), f->key), kv, 0))
				order_same = false;
			for (i = 0; i < no; i++)
				if (!used[i] && value_equal(item_key(json_array_get(o, i), f->key), kv, 0))
					break;
			if (i < no) {
				size_t mark = path_push_index(c, j);
				json_t *sub = diff_maps(json_array_get(o, i), mi, f->sub, item_opts, c, depth + 1);

				path_pop(c, mark);
				used[i] = true;
				if (!sub)
					goto fail;
				if (json_object_size(sub)) {
					json_object_set_new_nocheck(sub, f->key, json_deep_copy(kv));
					json_array_append_new(add, sub);
				} else {
					json_decref(sub);
				}
			} else if (!opts.ignore_changes) {
				json_array_append_new(add, json_deep_copy(mi));
			}
		}
		for (size_t i = 0; i < no && !opts.ignore_deletions; i++) {
			json_t *d;

			if (used[i])
				continue;
			d = json_object();
			json_object_set_new_nocheck(d, DIRECTIVE, json_string("delete"));
			json_object_set_new_nocheck(d, f->key, json_deep_copy(item_key(json_array_get(o, i), f->key)));
			json_array_append_new(add, d);
		}
		if ((!opts.ignore_changes && (json_array_size(add) || !order_same)) ||
		    (!opts.ignore_deletions && json_array_size(add))) {
			order = json_array();
			for (size_t j = 0; j < nm; j++) {
				json_t *e = json_object();

				json_object_set_new_nocheck(e, f->key,
							    json_deep_copy(item_key(json_array_get(m, j), f->key)));
				json_array_append_new(order, e);
			}
		}
	} else {
		del = json_array();
		for (size_t j = 0; j < nm && !opts.ignore_changes; j++) {
			json_t *it = json_array_get(m, j);
			bool known = false;

			for (size_t i = 0; i < no && !known; i++)
				known = value_equal(json_array_get(o, i), it, 0);
			for (size_t i = 0; i < json_array_size(add) && !known; i++)
				known = value_equal(json_array_get(add, i), it, 0);
			if (!known)
				json_array_append_new(add, json_deep_copy(it));
		}
		for (size_t i = 0; i < no && !opts.ignore_deletions; i++) {
			json_t *it = json_array_get(o, i);
			bool kept = false;

			for (size_t j = 0; j < nm && !kept; j++)
				kept = value_equal(json_array_get(m, j), it, 0);
			for (size_t j = 0; j < json_array_size(del) && !kept; j++)
				kept = value_equal(json_array_get(del, j), it, 0);
			if (!kept)
				json_array_append_new(del, json_deep_copy(it));
		}
		if ((!opts.ignore_deletions && json_array_size(del)) ||
		    (!opts.ignore_changes && !value_equal(o, m, depth)))
			order = json_deep_copy(m);
	}

	if (json_array_size(add))
		json_object_setn_new_nocheck(patch, k, kl, json_incref(add));
	if (del && json_array_size(del))
		set_prefixed(patch, DELETE_PRIMITIVE_PREFIX, k, kl, json_incref(del));
	if (order && json_array_size(order))
		set_prefixed(patch, SET_ORDER_PREFIX, k, kl, json_incref(order));
	json_decref(add);
	json_decref(del);
	json_decref(order);
	free(used);
	return 0;
fail:
	json_decref(add);
	json_decref(del);
	json_decref(order);
	free(used);
	return -1;
}

/* apimachinery's diffMaps: a patch taking o to m under opts. New object or NULL. */
static json_t *diff_maps(const json_t *o, const json_t *m, const struct smp_field *fields, struct diff_opts opts,
			 struct smp_ctx *c, int depth)
{
	json_t *patch, *retain = NULL, *mv;
	const char *k;
	size_t kl;

	if (depth > PATCH_MAX_DEPTH) {
		smp_fail(c, "nesting deeper than %d levels", PATCH_MAX_DEPTH);
		return NULL;
	}
	patch = json_object();
	if (opts.retain)
		retain = json_array();
	json_object_keylen_foreach((json_t *)m, k, kl, mv) {
		const json_t *ov = json_object_getn(o, k, kl);
		const struct smp_field *f;
		size_t mark;
		int ret = 0;

		if (retain && !json_is_null(mv))
			json_array_append_new(retain, json_stringn_nocheck(k, kl));
		f = field_lookup(fields, k, kl);
		mark = path_push_key(c, k, kl);
		if (ov && json_is_object(ov) && json_is_object(mv)) {
			struct diff_opts sub_opts = opts;
			json_t *sub;

			sub_opts.retain = f && (f->flags & SMP_RETAIN);
			sub = diff_maps(ov, mv, f ? f->sub : NULL, sub_opts, c, depth + 1);
			if (!sub)
				ret = -1;
			else if (json_object_size(sub))
				json_object_setn_new_nocheck(patch, k, kl, sub);
			else
				json_decref(sub);
		} else if (ov && json_is_array(ov) && json_is_array(mv) && field_merges(f)) {
			ret = diff_lists(patch, k, kl, ov, mv, f, opts, c, depth + 1);
		} else if (!opts.ignore_changes && !value_equal(ov, mv, depth)) {
			json_object_setn_new_nocheck(patch, k, kl, json_deep_copy(mv));
		}
		path_pop(c, mark);
		if (ret) {
			json_decref(patch);
			json_decref(retain);
			return NULL;
		}
	}
	if (!opts.ignore_deletions) {
		json_object_keylen_foreach((json_t *)o, k, kl, mv) {
			if (!json_object_getn(m, k, kl))
				json_object_setn_new_nocheck(patch, k, kl, json_null());
		}
	}
	if (retain && json_array_size(retain) && (json_object_size(patch) || has_additional_field(o, m))) {
		size_t n;
		json_t **names = array_items(retain, &n), *sorted = json_array();

		qsort(names, n, sizeof(*names), cmp_key_strings);
		for (size_t i = 0; i < n; i++)
			json_array_append(sorted, names[i]);
		free(names);
		json_object_set_new_nocheck(patch, RETAIN_KEYS, sorted);
	}
	json_decref(retain);
	return patch;
}

static int combine(json_t *a, const json_t *b, const struct smp_field *fields, struct smp_ctx *c, int depth);

/* Merges two patches of one merge list: b's items (joined with a's of the
 * same key) first, then a's remaining items (deletions). */
static json_t *combine_lists(json_t *a, const json_t *b, const struct smp_field *f, struct smp_ctx *c, int depth)
{
	size_t na = json_array_size(a);
	bool *used = xcalloc(na ? na : 1, sizeof(*used));
	json_t *out = json_array();

	for (size_t j = 0; j < json_array_size(b); j++) {
		json_t *bi = json_array_get(b, j), *kv = item_key(bi, f->key);
		size_t i = na;

		for (i = 0; kv && i < na; i++) {
			json_t *ai = json_array_get(a, i);

			if (!used[i] && !json_object_get(ai, DIRECTIVE) && item_key(ai, f->key) &&
			    value_equal(item_key(ai, f->key), kv, 0))
				break;
		}
		if (kv && i < na) {
			json_t *ai = json_array_get(a, i);

			used[i] = true;
			if (combine(ai, bi, f->sub, c, depth + 1)) {
				free(used);
				json_decref(out);
				return NULL;
			}
			json_array_append(out, ai);
		} else {
			json_array_append_new(out, json_deep_copy(bi));
		}
	}
	for (size_t i = 0; i < na; i++)
		if (!used[i])
			json_array_append(out, json_array_get(a, i));
	free(used);
	return out;
}

/*
 * Merges patch b (changes) into patch a (deletions, ours, changed in place).
 * The two come from one modified object, so they only meet in objects and
 * merge lists; anything else b has wins.
 */
static int combine(json_t *a, const json_t *b, const struct smp_field *fields, struct smp_ctx *c, int depth)
{
	const char *k;
	size_t kl;
	json_t *bv;

	if (depth > PATCH_MAX_DEPTH)
		return smp_fail(c, "nesting deeper than %d levels", PATCH_MAX_DEPTH);
	json_object_keylen_foreach((json_t *)b, k, kl, bv) {
		json_t *av = json_object_getn(a, k, kl);
		const struct smp_field *f = field_lookup(fields, k, kl);

		if (json_is_object(av) && json_is_object(bv)) {
			if (combine(av, bv, f ? f->sub : NULL, c, depth + 1))
				return -1;
		} else if (json_is_array(av) && json_is_array(bv) && field_merges(f) && f->key) {
			json_t *nv = combine_lists(av, bv, f, c, depth + 1), *so, **order;
			size_t norder;

			if (!nv)
				return -1;
			/* the server checks patch items come in $setElementOrder's order */
			so = get_prefixed(b, SET_ORDER_PREFIX, k, kl);
			if (!so)
				so = get_prefixed(a, SET_ORDER_PREFIX, k, kl);
			if (json_is_array(so)) {
				order = array_items(so, &norder);
				nv = order_items(nv, order, norder, NULL, 0, f->key);
				free(order);
			}
			json_object_setn_new_nocheck(a, k, kl, nv);
		} else {
			json_object_setn_new_nocheck(a, k, kl, json_deep_copy(bv));
		}
	}
	return 0;
}

json_t *strategic_merge_three_way(const json_t *original, const json_t *modified, const json_t *current,
				  const char *kind, char **err)
{
	const struct smp_field *root = smp_root(kind);
	struct diff_opts delta_opts = { .ignore_deletions = true };
	struct diff_opts deletion_opts = { .ignore_changes = true };
	json_t *empty = NULL, *delta = NULL, *patch = NULL;
	struct smp_ctx c;

	smp_ctx_init(&c);
	if (!json_is_object(modified)) {
		smp_fail(&c, "the new manifest must be a JSON object");
		goto out;
	}
	if (!json_is_object(current)) {
		smp_fail(&c, "the live object must be a JSON object");
		goto out;
	}
	if (original && !json_is_object(original)) {
		smp_fail(&c, "the last-applied configuration must be a JSON object");
		goto out;
	}
	if (!original)
		original = empty = json_object();
	/* changes: current -> modified, keeping what others set; deletions:
	 * what the last apply set and this one no longer does */
	delta = diff_maps(current, modified, root, delta_opts, &c, 0);
	if (!delta)
		goto out;
	patch = diff_maps(original, modified, root, deletion_opts, &c, 0);
	if (patch && combine(patch, delta, root, &c, 0)) {
		json_decref(patch);
		patch = NULL;
	}
out:
	json_decref(delta);
	json_decref(empty);
	smp_ctx_finish(&c, err);
	return patch;
}
