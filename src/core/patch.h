/*
 * The three PATCH flavours Kubernetes accepts, and the three-way strategic
 * merge that `kubectl apply` computes on the client:
 *   - JSON merge patch (RFC 7386): application/merge-patch+json
 *   - JSON patch (RFC 6902): application/json-patch+json
 *   - strategic merge patch: application/strategic-merge-patch+json, where
 *     lists with a merge key (containers by name, ports by containerPort,
 *     env by name, ...) merge element by element, and the directives
 *     $patch (replace, merge, delete), $retainKeys, $setElementOrder/<list>
 *     and $deleteFromPrimitiveList/<list> work as in apimachinery.
 * Merge keys come from a table per kind (Pod, Deployment, Service, ...);
 * unknown kinds fall back to replacing lists, as merge patch does.
 * Inputs are never modified; results are new references.
 */
#ifndef MINIK8S_CORE_PATCH_H
#define MINIK8S_CORE_PATCH_H

#include <jansson.h>

/* RFC 7386. Never fails. */
json_t *json_merge_patch(const json_t *target, const json_t *patch);

/* RFC 6902 (add, remove, replace, move, copy, test). NULL on failure with
 * *err a heap message naming the failing operation's index and path. */
json_t *json_patch_apply(const json_t *doc, const json_t *ops, char **err);

/* kind is the object's kind ("Deployment"), used to find merge keys.
 * NULL on failure (a malformed directive, a list item missing its merge key)
 * with *err a heap message. */
json_t *strategic_merge_patch(const json_t *original, const json_t *patch, const char *kind, char **err);

/*
 * kubectl apply's patch: from the last-applied configuration (original, may
 * be NULL), the new manifest (modified) and the live object (current),
 * computes the strategic merge patch that sets what modified says, deletes
 * what original had and modified dropped, and leaves fields set by others
 * alone. Returns a new object ({} when nothing is to change) or NULL with *err.
 */
json_t *strategic_merge_three_way(const json_t *original, const json_t *modified,
				  const json_t *current, const char *kind, char **err);

#endif
