/*
 * apps/v1 Deployment: SetDefaults_Deployment (1 replica, RollingUpdate with
 * 25% surge and unavailability, 10 revisions kept, 600 s progress deadline)
 * and pod defaults for the template; ValidateDeployment with the strategy
 * rules and the selector/template checks shared with ReplicaSet; the
 * selector is immutable in apps/v1. Columns READY / UP-TO-DATE / AVAILABLE.
 */
#include "internal.h"
#include "object.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void deployment_defaults(json_t *obj)
{
	json_t *spec = obj_ensure(obj, "spec"), *strategy, *v;
	const char *type;

	if (!spec)
		return;
	v = json_object_get(spec, "replicas");
	if (!v || json_is_null(v))
		json_object_set_new(spec, "replicas", json_integer(1));
	strategy = obj_ensure(spec, "strategy");
	type = obj_str(strategy, "type");
	if (!type || !*type)
		json_object_set_new(strategy, "type", json_string("RollingUpdate"));
	if (!strcmp(obj_str(strategy, "type"), "RollingUpdate")) {
		json_t *ru = obj_ensure(strategy, "rollingUpdate");
		if (!json_object_get(ru, "maxUnavailable") || json_is_null(json_object_get(ru, "maxUnavailable")))
			json_object_set_new(ru, "maxUnavailable", json_string("25%"));
		if (!json_object_get(ru, "maxSurge") || json_is_null(json_object_get(ru, "maxSurge")))
			json_object_set_new(ru, "maxSurge", json_string("25%"));
	}
	v = json_object_get(spec, "revisionHistoryLimit");
	if (!v || json_is_null(v))
		json_object_set_new(spec, "revisionHistoryLimit", json_integer(10));
	v = json_object_get(spec, "progressDeadlineSeconds");
	if (!v || json_is_null(v))
		json_object_set_new(spec, "progressDeadlineSeconds", json_integer(600));
	pod_spec_defaults(obj_get(obj, "spec.template.spec"));
}

#define MSG_PERCENT                                                                              \
	"a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  " \
	"or '93%', regex used for validation is '[0-9]+%')"

static bool valid_percent(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || s[n - 1] != '%')
		return false;
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* getIntOrPercentValue: "25%" counts as 25, a number as itself. */
static long int_or_percent_value(const json_t *v)
{
	if (json_is_string(v))
		return atol(json_string_value(v));
	return (long)json_integer_value(v);
}

static void validate_int_or_percent(const json_t *v, const char *path, struct field_errors *e)
{
	if (json_is_string(v)) {
		if (!valid_percent(json_string_value(v))) {
			char *r = go_int_or_string(v);
			field_invalid_raw(e, path, r, MSG_PERCENT);
			free(r);
		}
	} else if (json_is_integer(v)) {
		check_field_nonnegative(e, path, v);
	} else if (v && !json_is_null(v)) {
		field_invalid(e, path, v, "must be an integer or percentage (e.g '5%%')");
	}
}

static void validate_strategy(const json_t *strategy, struct field_errors *e)
{
	const char *type = obj_str(strategy, "type");
	json_t *ru = json_object_get(strategy, "rollingUpdate");

	if (type && !strcmp(type, "Recreate")) {
		if (ru && !json_is_null(ru))
			field_forbidden(e, "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'");
	} else if (type && !strcmp(type, "RollingUpdate")) {
		json_t *mu = json_object_get(ru, "maxUnavailable"), *ms = json_object_get(ru, "maxSurge");
		if (!ru || json_is_null(ru)) {
			field_required(e, "spec.strategy.rollingUpdate", "this should be defaulted and never be nil");
			return;
		}
		validate_int_or_percent(mu, "spec.strategy.rollingUpdate.maxUnavailable", e);
		validate_int_or_percent(ms, "spec.strategy.rollingUpdate.maxSurge", e);
		if (int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0) {
			char *r = go_int_or_string(mu);
			field_invalid_raw(e, "spec.strategy.rollingUpdate.maxUnavailable", r, "may not be 0 when `maxSurge` is 0");
			free(r);
		}
		if (json_is_string(mu) && valid_percent(json_string_value(mu)) && atol(json_string_value(mu)) > 100) {
			char *r = go_int_or_string(mu);
			field_invalid_raw(e, "spec.strategy.rollingUpdate.maxUnavailable", r, "must not be greater than 100%");
			free(r);
		}
	} else {
		/* Kubernetes prints the whole strategy struct here. */
		static const char *const supported[] = { "Recreate", "RollingUpdate", NULL };
		char *t = go_quote(type ? type : "");
		char *r = xasprintf("apps.DeploymentStrategy{Type:%s, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}", t);

		field_not_supported_raw(e, "spec.strategy", r, supported);
		free(t);
		free(r);
	}
}

static void deployment_validate(const json_t *obj, const json_t *old, struct field_errors *e)
{
	const json_t *spec = obj_get(obj, "spec");
	json_t *pds = json_object_get(spec, "progressDeadlineSeconds");

	if (old)
		validate_object_meta_update(obj, old, e);
	validate_object_meta(obj, true, "dns1123-subdomain", e);
	check_field_nonnegative(e, "spec.replicas", json_object_get(spec, "replicas"));
	workload_validate_selector_template(spec, e);
	validate_strategy(json_object_get(spec, "strategy"), e);
	check_field_nonnegative(e, "spec.minReadySeconds", json_object_get(spec, "minReadySeconds"));
	check_field_nonnegative(e, "spec.revisionHistoryLimit", json_object_get(spec, "revisionHistoryLimit"));
	if (json_is_integer(pds)) {
		check_field_nonnegative(e, "spec.progressDeadlineSeconds", pds);
		if (json_integer_value(pds) <= obj_int(spec, "minReadySeconds", 0))
			field_invalid(e, "spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds");
	}
	if (old && !selector_equal(json_object_get(spec, "selector"), obj_get(old, "spec.selector"))) {
		char *v = go_label_selector(json_object_get(spec, "selector"));
		field_invalid_raw(e, "spec.selector", v, "field is immutable");
		free(v);
	}
}

static json_t *cell_ready(const json_t *obj, time_t now)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "%lld/%lld", (long long)obj_int(obj, "status.readyReplicas", 0),
		 (long long)obj_int(obj, "spec.replicas", 0));
	return json_string(buf);
}

static json_t *cell_updated(const json_t *obj, time_t now)
{
	return cell_int(obj, "status.updatedReplicas");
}

static json_t *cell_available(const json_t *obj, time_t now)
{
	return cell_int(obj, "status.availableReplicas");
}

/* labels.Selector.String(): "" for an empty selector, "<invalid>" for a bad one. */
static json_t *cell_selector(const json_t *obj, time_t now)
{
	char *s = selector_string(obj_get(obj, "spec.selector"));
	json_t *out = json_string(s ? s : "<invalid>");

	free(s);
	return out;
}

static const struct table_column deployment_columns[] = {
	{ "Ready", "string", "", "Number of the pod with ready state", 0, cell_ready },
	{ "Up-to-date", "string", "", "Total number of non-terminated pods targeted by this deployment that have "
				      "the desired template spec.", 0, cell_updated },
	{ "Available", "string", "", "Total number of available pods (ready for at least minReadySeconds) "
				     "targeted by this deployment.", 0, cell_available },
	AGE_COLUMN,
	{ "Containers", "string", "", "Names of each container in the template.", 1, cell_template_containers },
	{ "Images", "string", "", "Images referenced by each container in the template.", 1, cell_template_images },
	{ "Selector", "string", "", "Label selector for pods. Existing ReplicaSets whose pods are selected by this "
				    "will be the ones affected by this deployment.", 1, cell_selector },
	{ NULL, NULL, NULL, NULL, 0, NULL },
};

static const char *const deploy_short[] = { "deploy", NULL };
static const char *const deploy_categories[] = { "all", NULL };
static const char *const deploy_subresources[] = { "status", "scale", NULL };

const struct kind kind_deployment = {
	.group = "apps",
	.version = "v1",
	.kind = "Deployment",
	.plural = "deployments",
	.singular = "deployment",
	.namespaced = true,
	.short_names = deploy_short,
	.categories = deploy_categories,
	.subresources = deploy_subresources,
	.name_is_label = false,
	.tracks_generation = true,
	.defaults = deployment_defaults,
	.validate = deployment_validate,
	.columns = deployment_columns,
	.field_value = NULL,
};
