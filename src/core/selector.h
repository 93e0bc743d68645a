/*
 * Label and field selectors, as list and watch take them:
 *   labels: "app=web,tier!=db,env in (a,b),env notin (c),release,!canary"
 *   fields: "metadata.name=web-1,spec.nodeName!=n2,status.phase==Running"
 * and label selectors in their object form (Deployment.spec.selector:
 * matchLabels + matchExpressions with In, NotIn, Exists, DoesNotExist).
 * Parsing never crashes on bad input: it returns an error message that
 * names the offending part.
 */
#ifndef MINIK8S_CORE_SELECTOR_H
#define MINIK8S_CORE_SELECTOR_H

#include <jansson.h>
#include <stdbool.h>

struct label_selector;
struct field_selector;

/* Parses the string form; "" selects everything. Returns 0, or -1 and a heap
 * message in *err ("unable to parse requirement: ..." as Kubernetes words it). */
int label_selector_parse(const char *s, struct label_selector **out, char **err);
/* Builds from a metav1.LabelSelector object. NULL or {} selects everything
 * (callers that need "{} selects nothing", like ReplicaSets, check
 * label_selector_empty). Returns 0 or -1 with *err set. */
int label_selector_from_json(const json_t *sel, struct label_selector **out, char **err);
/* labels is the metadata.labels object, or NULL for none. */
bool label_selector_matches(const struct label_selector *sel, const json_t *labels);
/* The same against n labels given as key, value, key, value, ... strings. */
bool label_selector_matches_pairs(const struct label_selector *sel, const char *const *kv, size_t n);
bool label_selector_empty(const struct label_selector *sel);
/* Canonical string form (requirements sorted by key), new heap string. */
char *label_selector_string(const struct label_selector *sel);
void label_selector_free(struct label_selector *sel);

/* Field selectors: "key=value", "key==value", "key!=value", joined by ','. */
int field_selector_parse(const char *s, struct field_selector **out, char **err);
/* get returns the object's value for a field path, or NULL if the field is
 * not supported for this kind (then the match fails). */
bool field_selector_matches(const struct field_selector *sel,
			    const char *(*get)(const char *field, void *ctx), void *ctx);
/* The i-th field name (for checking that a kind supports it); NULL past the end. */
const char *field_selector_field(const struct field_selector *sel, int i);
/* For "metadata.name=x" style lookups: the value required by an '=' term on
 * field, or NULL. Lets the apiserver turn a name selector into a get. */
const char *field_selector_exact(const struct field_selector *sel, const char *field);
bool field_selector_empty(const struct field_selector *sel);
void field_selector_free(struct field_selector *sel);

#endif
