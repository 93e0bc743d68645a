/*
 * Helpers shared by the files under src/apiserver/kinds/ and nothing else:
 * the rest of the field-error vocabulary (Not found, Too long, values already
 * rendered in Go's %#v form), the name and label checks as Kubernetes'
 * ValidateXxx functions emit them, quantities, label selectors held as JSON,
 * and the PodSpec defaults and checks that Pod, Deployment and ReplicaSet share.
 * Paths are Kubernetes field paths ("spec.containers[0].name").
 */
#ifndef MINIK8S_APISERVER_KINDS_INTERNAL_H
#define MINIK8S_APISERVER_KINDS_INTERNAL_H

#include "apiserver/kinds.h"

#include <stdint.h>

/* ---- more field errors (validation.c) ---------------------------------- */

/* "Not found: \"x\"" (FieldValueNotFound), value rendered like field_invalid's. */
void field_not_found(struct field_errors *e, const char *field, const json_t *value);
/* "Too long: may not be more than N bytes" (FieldValueTooLong). */
void field_too_long(struct field_errors *e, const char *field, long max_bytes);
/* "Invalid value: <rendered>: detail" where rendered is already in Go's
 * %#v form ("map[string]string{...}", "intstr.IntOrString{...}"). */
void field_invalid_raw(struct field_errors *e, const char *field, const char *rendered, const char *detail);
/* "Unsupported value: <rendered>: supported values: ..." */
void field_not_supported_raw(struct field_errors *e, const char *field, const char *rendered,
			     const char *const *supported);
/* "Duplicate value: <rendered>" with an optional detail. */
void field_duplicate_raw(struct field_errors *e, const char *field, const char *rendered, const char *detail);
/* "Invalid value: <int>: detail". */
void field_invalid_int(struct field_errors *e, const char *field, int64_t value, const char *detail);

/* Renderings of Go values as %#v prints them; new heap strings. */
char *go_quote(const char *s);                              /* "\"a\\\"b\"" */
char *go_string_map(const json_t *obj);                     /* map[string]string{"a":"b"} or (nil) */
char *go_string_slice(const json_t *arr);                   /* []string{"a", "b"} or (nil) */
char *go_label_selector(const json_t *sel);                 /* v1.LabelSelector{...} */
char *go_int_or_string(const json_t *v);                    /* intstr.IntOrString{...} */

/* ---- names, labels, metadata (validation.c) ---------------------------- */

const char *check_dns1035_label(const char *s);
/* Each emits one Invalid per message, as Kubernetes' ValidateDNS1123Label etc. */
void check_field_dns1123_label(struct field_errors *e, const char *field, const char *value);
void check_field_dns1123_subdomain(struct field_errors *e, const char *field, const char *value);
void check_field_qualified_name(struct field_errors *e, const char *field, const char *value);
void check_field_label_value(struct field_errors *e, const char *field, const char *value);
void check_field_config_key(struct field_errors *e, const char *field, const char *value);
void check_field_port_name(struct field_errors *e, const char *field, const char *value);
/* The messages of IsValidLabelValue joined with ";" (taints, tolerations), or NULL. New heap string. */
char *label_value_msgs_joined(const char *value);
/* IsValidPortNum: "must be between 1 and 65535, inclusive" on failure. */
void check_field_port_num(struct field_errors *e, const char *field, int64_t port);
/* intstr port (number or name), as ValidatePortNumOrName. */
void check_field_port_num_or_name(struct field_errors *e, const char *field, const json_t *port);
/* "must be greater than or equal to 0" for a negative integer at path. */
void check_field_nonnegative(struct field_errors *e, const char *field, const json_t *v);

void validate_labels(struct field_errors *e, const char *field, const json_t *labels);
void validate_annotations(struct field_errors *e, const char *field, const json_t *annotations);
/* metav1.LabelSelector: matchLabels and matchExpressions. */
void validate_label_selector(struct field_errors *e, const char *field, const json_t *sel);
/* Name and namespace may not change; uid neither once both carry one. */
void validate_object_meta_update(const json_t *obj, const json_t *old, struct field_errors *e);
/* The "dns1035-label" name_kind, for Services. */
#define NAME_DNS1035_LABEL "dns1035-label"

/* IP address text (v4 or v6). */
bool ip_valid(const char *s);
/* "a.b.c.d/n" or v6 CIDR. */
bool cidr_valid(const char *s);
#define MSG_INVALID_IP "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"

/* ---- quantities (validation.c) ----------------------------------------- */

/* Parses "100m", "1", "1.5", "128Mi", "1G", "1e3" into a number of base
 * units. Returns 0, or -1 if s is not a Kubernetes quantity. */
int quantity_parse(const char *s, double *out);
#define MSG_QUANTITY "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
/* A quantity value in JSON: a string, or a bare number. */
int quantity_parse_json(const json_t *v, double *out);

/* ---- label selectors held as JSON (validation.c) ------------------------ */

/* Returns 1 if sel (metav1.LabelSelector) matches labels, 0 if not, -1 if sel
 * is invalid (unknown operator). A NULL sel matches nothing; {} everything. */
int selector_matches(const json_t *sel, const json_t *labels);
bool selector_is_empty(const json_t *sel);
/* labels.Selector.String(): "app=web,tier in (a,b)", "" for {}; NULL if invalid. New heap string. */
char *selector_string(const json_t *sel);
/* labels.FormatLabels of a map: "a=b,c=d" sorted, "<none>" when empty. New heap string. */
char *format_labels(const json_t *map);
/* Selectors equal as Kubernetes' semantic DeepEqual sees them (nil == empty). */
bool selector_equal(const json_t *a, const json_t *b);

/* ---- pod specs (pod.c) -------------------------------------------------- */

/* SetDefaults_PodSpec and everything under it (containers, probes, volumes). */
void pod_spec_defaults(json_t *spec);
/* ValidatePodSpec, with paths under path ("spec" or "spec.template.spec"). */
void pod_spec_validate(const json_t *spec, const char *path, struct field_errors *e);
/* ValidatePodTemplateSpec: template labels/annotations and its spec. */
void pod_template_validate(const json_t *tmpl, const char *path, struct field_errors *e);

/* ---- workloads (replicaset.c) ------------------------------------------ */

/* The selector and template rules Deployment and ReplicaSet share:
 * selector required and non-empty, matching the template's labels, template
 * a valid pod template with restartPolicy Always. spec_path is "spec". */
void workload_validate_selector_template(const json_t *spec, struct field_errors *e);

/* ---- cells shared by several kinds (kinds.c) ---------------------------- */

json_t *cell_template_containers(const json_t *obj, time_t now);
json_t *cell_template_images(const json_t *obj, time_t now);
/* kubectl's translateTimestampSince: "<unknown>" when ts is missing. */
json_t *cell_since(const char *ts, time_t now);
/* A string at path, or def when missing. New reference. */
json_t *cell_str(const json_t *obj, const char *path, const char *def);
/* An integer at path, or 0. New reference. */
json_t *cell_int(const json_t *obj, const char *path);

#define AGE_DESCRIPTION                                                                     \
	"CreationTimestamp is a timestamp representing the server time when this object was " \
	"created. It is not guaranteed to be set in happens-before order across separate "    \
	"operations. Clients may not set this value. It is represented in RFC3339 form and "  \
	"is in UTC."
#define AGE_COLUMN { "Age", "string", "", AGE_DESCRIPTION, 0, cell_age }

#endif
