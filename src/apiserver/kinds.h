/*
 * The kinds registry: everything the apiserver knows about each kind it
 * serves, one entry per kind. Handlers are generic; what differs between a
 * Pod and a Service (defaults, validation, table columns, field selectors)
 * lives in the kind's entry under src/apiserver/kinds/.
 *
 * How to add a kind:
 *   1. Write src/apiserver/kinds/<kind>.c with its defaults(), validate()
 *      and table columns, ending in `const struct kind kind_<name> = {...}`.
 *   2. Declare it at the bottom of this header and list it in kinds[] (kinds.c).
 *   3. Add the file to meson.build, and its merge keys to src/core/patch.c.
 *   4. Add a row to tests/unit/test-kinds.c (defaults and one invalid object).
 */
#ifndef MINIK8S_APISERVER_KINDS_H
#define MINIK8S_APISERVER_KINDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*
 * Validation errors, collected rather than returned one at a time, become a
 * 422 Status whose details.causes list each (reason, field, message), with
 * the words Kubernetes uses: `Invalid value: "Web_1": a lowercase RFC 1123
 * subdomain must consist of ...`, `Required value`, `Unsupported value: "X":
 * supported values: "TCP", "UDP"`, `Duplicate value: "web"`, `Forbidden: ...`.
 */
struct field_error {
	const char *reason; /* "FieldValueInvalid", "FieldValueRequired", "FieldValueNotSupported",
			       "FieldValueDuplicate", "FieldValueForbidden", "FieldValueTooLong" */
	char *field;        /* "spec.containers[0].name" */
	char *message;      /* "Invalid value: \"Web_1\": a lowercase ..." */
};

struct field_errors {
	struct field_error *v;
	size_t n;
};

/* value is rendered as Kubernetes renders it: strings quoted, numbers bare. */
void field_invalid(struct field_errors *e, const char *field, const json_t *value, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void field_invalid_str(struct field_errors *e, const char *field, const char *value, const char *detail);
void field_required(struct field_errors *e, const char *field, const char *detail /* may be NULL */);
void field_not_supported(struct field_errors *e, const char *field, const json_t *value,
			 const char *const *supported /* NULL-terminated */);
void field_duplicate(struct field_errors *e, const char *field, const json_t *value);
void field_forbidden(struct field_errors *e, const char *field, const char *detail);
void field_errors_release(struct field_errors *e);
/* "metadata.name: Invalid value: ...; spec.x: Required value" joined the
 * way Kubernetes joins them into Status.message (after `Kind "name" is invalid: `). */
char *field_errors_string(const struct field_errors *e);

/* Shared checks, for kinds' validate() functions. */
void validate_object_meta(const json_t *obj, bool namespaced, const char *name_kind /* "dns1123-subdomain" or "dns1123-label" */,
			  struct field_errors *e);
/* NULL when valid, else the Kubernetes message ("a lowercase RFC 1123 label must ..."). */
const char *check_dns1123_label(const char *s);
const char *check_dns1123_subdomain(const char *s);
const char *check_label_key(const char *s);   /* qualified name with optional prefix */
const char *check_label_value(const char *s);

struct table_column {
	const char *name;        /* "NAME"; NULL ends the list */
	const char *type;        /* "string", "integer", "number", "boolean", "date" */
	const char *format;      /* "name" for the NAME column, else "" */
	const char *description;
	int priority;            /* 0: always; 1: only with -o wide */
	/* The cell for obj, as a new reference (string or integer). now is the
	 * server's time, for AGE-like columns. */
	json_t *(*cell)(const json_t *obj, time_t now);
};

struct kind {
	const char *group;       /* "" for the core group, "apps", "coordination.k8s.io" */
	const char *version;     /* "v1" */
	const char *kind;        /* "Pod" */
	const char *plural;      /* "pods" */
	const char *singular;    /* "pod" */
	bool namespaced;
	const char *const *short_names;  /* NULL-terminated, or NULL */
	const char *const *categories;   /* {"all", NULL} where Kubernetes has it */
	const char *const *subresources; /* "status", "scale", "binding", "eviction", "log" */
	/* Whether the object's name must be an RFC 1123 label (Namespace,
	 * Service) rather than a subdomain. */
	bool name_is_label;
	/* Whether metadata.generation is kept (set to 1 on create, bumped when
	 * anything but metadata and status changes): Deployment, ReplicaSet. */
	bool tracks_generation;
	/* Fills in Kubernetes' defaults in place (idempotent). May be NULL. */
	void (*defaults)(json_t *obj);
	/* Checks obj (defaults already applied); old is the stored object on
	 * update, NULL on create (for immutable fields). May be NULL. */
	void (*validate)(const json_t *obj, const json_t *old, struct field_errors *e);
	/* Table columns after NAME (NAME is always first and added by the
	 * server); NULL-terminated. AGE is listed explicitly where it goes. */
	const struct table_column *columns;
	/* Value of a field-selector field for this kind beyond metadata.name and
	 * metadata.namespace (those are generic), or NULL if not supported:
	 * pods: spec.nodeName, status.phase; events: involvedObject.*, reason, type. */
	const char *(*field_value)(const json_t *obj, const char *field);
	/* The fields field_value answers for, NULL-terminated (or NULL): what
	 * a stored version's selector view (struct store_attrs) holds. */
	const char *const *fields;
};

/* The registry, NULL-terminated, in discovery order. */
extern const struct kind *const kinds[];

/* Lookups return NULL when not found. */
const struct kind *kind_by_resource(const char *group, const char *version, const char *plural);
const struct kind *kind_by_kind(const char *api_version /* "apps/v1" */, const char *kind);
/* What a user types: "pods", "pod", "po", "Pod", "deployments.apps", "deploy". Case-insensitive. */
const struct kind *kind_by_name(const char *name);
/* "apps/v1" or "v1", as the kind's apiVersion field. Static buffer per kind. */
const char *kind_api_version(const struct kind *k);
/* For kinds Kubernetes has and minik8s does not serve (Job, DaemonSet,
 * Ingress, StatefulSet, CronJob, ...): the canonical plural with group, e.g.
 * "jobs.batch", else NULL. Used for "not supported by minik8s" messages. */
const char *kind_unsupported(const char *name);

/* Field value for selectors, generic part included (metadata.name, metadata.namespace). */
const char *kind_field_value(const struct kind *k, const json_t *obj, const char *field);
/* What selectors read of obj, for the store to keep with its version: its
 * labels and every field kind_field_value answers for. A store_attrs_fn
 * (data is the kind); free() the result. */
struct store_attrs *kind_attrs(const json_t *obj, void *kind);

/* Cells shared by several kinds. */
json_t *cell_age(const json_t *obj, time_t now);

extern const struct kind kind_namespace, kind_pod, kind_service, kind_endpoints, kind_node,
	kind_event, kind_configmap, kind_secret, kind_deployment, kind_replicaset, kind_lease;

#endif
