/*
 * v1 Event (core group), written by every component to tell what happened
 * to an object. As in Kubernetes, v1 Events get only the legacy checks: the
 * involved object's namespace must agree with the event's, and new-style
 * events (eventTime set) need reportingController, reportingInstance,
 * action and reason. Columns as Kubernetes' event printer, minus NAME which
 * the server puts first (Kubernetes prints it last, with -o wide).
 */
#include "internal.h"
#include "object.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool set(const json_t *obj, const char *path)
{
	const char *s = obj_str(obj, path);
	return s && *s;
}

static void too_long(const json_t *obj, const char *field, size_t max, struct field_errors *e)
{
	const char *s = obj_str(obj, field);
	char buf[64];

	if (s && strlen(s) > max) {
		snprintf(buf, sizeof(buf), "can have at most %zu characters", max);
		field_invalid_str(e, field, "", buf);
	}
}

static void event_validate(const json_t *obj, const json_t *old, struct field_errors *e)
{
	const char *ns = obj_namespace(obj) ? obj_namespace(obj) : "";
	const char *ions = obj_str(obj, "involvedObject.namespace") ? obj_str(obj, "involvedObject.namespace") : "";
	const char *name = obj_name(obj);

	/* v1 Events skip ValidateObjectMeta; a name is still needed to store one. */
	if (!name || !*name)
		field_required(e, "metadata.name", "name or generateName is required");
	if (!set(obj, "eventTime")) {
		if (!*ions) {
			if (*ns && strcmp(ns, "default"))
				field_invalid_str(e, "involvedObject.namespace", ions, "does not match event.namespace");
		} else if (strcmp(ns, ions)) {
			field_invalid_str(e, "involvedObject.namespace", ions, "does not match event.namespace");
		}
	} else {
		if (!*ions && strcmp(ns, "default") && strcmp(ns, "kube-system"))
			field_invalid_str(e, "involvedObject.namespace", ions, "does not match event.namespace");
		if (!set(obj, "reportingController"))
			field_required(e, "reportingController", NULL);
		check_field_qualified_name(e, "reportingController", obj_str(obj, "reportingController"));
		if (!set(obj, "reportingInstance"))
			field_required(e, "reportingInstance", NULL);
		too_long(obj, "reportingInstance", 128, e);
		if (!set(obj, "action"))
			field_required(e, "action", NULL);
		too_long(obj, "action", 128, e);
		if (!set(obj, "reason"))
			field_required(e, "reason", NULL);
		too_long(obj, "reason", 128, e);
		too_long(obj, "message", 1024, e);
	}
	check_field_dns1123_subdomain(e, "namespace", ns);
}

/* ---- table -------------------------------------------------------------------- */

static json_t *first_seen(const json_t *obj, time_t now)
{
	if (set(obj, "firstTimestamp"))
		return cell_since(obj_str(obj, "firstTimestamp"), now);
	return cell_since(obj_str(obj, "eventTime"), now);
}

static json_t *cell_last_seen(const json_t *obj, time_t now)
{
	if (json_is_object(obj_get(obj, "series")))
		return cell_since(obj_str(obj, "series.lastObservedTime"), now);
	if (set(obj, "lastTimestamp"))
		return cell_since(obj_str(obj, "lastTimestamp"), now);
	return first_seen(obj, now);
}

static json_t *cell_first_seen(const json_t *obj, time_t now)
{
	return first_seen(obj, now);
}

static json_t *cell_type(const json_t *obj, time_t now)
{
	return cell_str(obj, "type", "");
}

static json_t *cell_reason(const json_t *obj, time_t now)
{
	return cell_str(obj, "reason", "");
}

static json_t *cell_object(const json_t *obj, time_t now)
{
	const char *kind = obj_str(obj, "involvedObject.kind"), *name = obj_str(obj, "involvedObject.name");
	char *s = name && *name ? xasprintf("%s/%s", kind ? kind : "", name) : xstrdup(kind ? kind : "");
	json_t *out;

	for (char *p = s; *p && *p != '/'; p++)
		*p = (char)tolower((unsigned char)*p);
	out = json_string(s);
	free(s);
	return out;
}

static json_t *cell_subobject(const json_t *obj, time_t now)
{
	return cell_str(obj, "involvedObject.fieldPath", "");
}

/* "component, host", falling back to reportingController / reportingInstance. */
static json_t *cell_source(const json_t *obj, time_t now)
{
	const char *comp = obj_str(obj, "source.component"), *host = obj_str(obj, "source.host");
	char *s;
	json_t *out;

	if (!comp || !*comp)
		comp = obj_str(obj, "reportingController");
	if (!host || !*host)
		host = obj_str(obj, "reportingInstance");
	s = host && *host ? xasprintf("%s, %s", comp ? comp : "", host) : xstrdup(comp ? comp : "");
	out = json_string(s);
	free(s);
	return out;
}

static json_t *cell_message(const json_t *obj, time_t now)
{
	const char *m = obj_str(obj, "message");
	size_t start = 0, end;
	char *t;
	json_t *out;

	if (!m)
		return json_string("");
	end = strlen(m);
	while (start < end && isspace((unsigned char)m[start]))
		start++;
	while (end > start && isspace((unsigned char)m[end - 1]))
		end--;
	t = xstrndup(m + start, end - start);
	out = json_string(t);
	free(t);
	return out;
}

static json_t *cell_count(const json_t *obj, time_t now)
{
	int64_t n = json_is_object(obj_get(obj, "series")) ? obj_int(obj, "series.count", 0) : obj_int(obj, "count", 0);

	/* Singleton events of the new API carry no count. */
	if (!json_is_object(obj_get(obj, "series")) && n == 0)
		n = 1;
	return json_integer(n);
}

static const struct table_column event_columns[] = {
	{ "Last Seen", "string", "", "The time at which the most recent occurrence of this event was recorded.", 0,
	  cell_last_seen },
	{ "Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future", 0,
	  cell_type },
	{ "Reason", "string", "", "This should be a short, machine understandable string that gives the reason "
				  "for the transition into the object's current status.", 0, cell_reason },
	{ "Object", "string", "", "The object that this event is about.", 0, cell_object },
	{ "Subobject", "string", "", "If referring to a piece of an object instead of an entire object, this "
				     "string should contain a valid JSON/Go field access statement.", 1, cell_subobject },
	{ "Source", "string", "", "The component reporting this event.", 1, cell_source },
	{ "Message", "string", "", "A human-readable description of the status of this operation.", 0, cell_message },
	{ "First Seen", "string", "", "The time at which the event was first recorded.", 1, cell_first_seen },
	{ "Count", "string", "", "The number of times this event has occurred.", 1, cell_count },
	{ NULL, NULL, NULL, NULL, 0, NULL },
};

/* EventToSelectableFields. */
/* Every field event_field_value() answers for: the first nine are read
 * where their name says, the last two come from other places. */
static const char *const event_fields[] = { "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
					    "involvedObject.uid", "involvedObject.apiVersion",
					    "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "type",
					    "reportingComponent", "source", NULL };

static const char *event_field_value(const json_t *obj, const char *field)
{
	const char *v;

	if (!strcmp(field, "reportingComponent")) {
		v = obj_str(obj, "reportingController");
		return v ? v : "";
	}
	if (!strcmp(field, "source")) {
		v = obj_str(obj, "source.component");
		return v ? v : "";
	}
	for (size_t i = 0; event_fields[i]; i++) {
		if (!strcmp(field, event_fields[i])) {
			v = obj_str(obj, field);
			return v ? v : "";
		}
	}
	return NULL;
}

static const char *const event_short[] = { "ev", NULL };

const struct kind kind_event = {
	.group = "",
	.version = "v1",
	.kind = "Event",
	.plural = "events",
	.singular = "event",
	.namespaced = true,
	.short_names = event_short,
	.categories = NULL,
	.subresources = NULL,
	.name_is_label = false,
	.defaults = NULL,
	.validate = event_validate,
	.columns = event_columns,
	.field_value = event_field_value,
	.fields = event_fields,
};
