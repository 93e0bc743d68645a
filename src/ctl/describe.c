/*
 * `minictl describe KIND NAME`: one object in detail, in kubectl's layout,
 * followed by its events. Pods, deployments, replica sets, services,
 * endpoints, nodes, config maps, secrets and namespaces have their own
 * sections (containers and their state, rollout replica sets, endpoints
 * behind a service, what runs on a node); any other kind prints its fields.
 * Text goes through the tab writer with kubectl's describe settings, so
 * the columns line up exactly as kubectl's do.
 */
#include "ctl/ctl.h"
#include "core/object.h"
#include "core/selector.h"
#include "core/util.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ANNOTATION_LEN 140

static const char usage[] =
	"usage: minictl describe KIND [NAME...] | KIND/NAME... [-l SELECTOR] [-n NS | -A]\n\n"
	"Shows objects in detail, with their events. With KIND NAME and no object of that name,\n"
	"describes every object whose name starts with NAME (as kubectl does).\n";

/* ---- writing -------------------------------------------------------------- */

/* kubectl's PrefixWriter: two spaces per level, ESC and CR made visible. */
static void PRINTF_LIKE(3, 4) wr(struct ctl_tabwriter *w, int level, const char *fmt, ...)
{
	struct strbuf sb;
	va_list ap;

	strbuf_init(&sb, 128);
	for (int i = 0; i < level; i++)
		strbuf_adds(&sb, "  ");
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < sb.len; i++) {
		if (sb.buf[i] == 0x1b)
			ctl_tabwriter_write(w, "^[", 2);
		else if (sb.buf[i] == '\r')
			ctl_tabwriter_write(w, "\\r", 2);
		else
			ctl_tabwriter_write(w, sb.buf + i, 1);
	}
	strbuf_release(&sb);
}

static const char *str_or(const json_t *o, const char *path, const char *def)
{
	const char *s = obj_str(o, path);
	return s ? s : def;
}

/* A string value of a map whose keys may hold dots (labels, data). */
static const char *map_str(const json_t *map, const char *key)
{
	const char *s = json_string_value(json_object_get(map, key));
	return s ? s : "";
}

/* Go's time.RFC1123Z in local time, as metav1.Time prints; the zero time
 * for a missing one. */
static const char *rfc1123z(const char *ts, char *buf, size_t len)
{
	time_t t;
	struct tm tm;

	if (!ts || time_parse_rfc3339(ts, &t) < 0) {
		snprintf(buf, len, "Mon, 01 Jan 0001 00:00:00 +0000");
		return buf;
	}
	localtime_r(&t, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S %z", &tm);
	return buf;
}

static const char *since(const char *ts, char *buf, size_t len)
{
	time_t t;

	if (!ts || !*ts || time_parse_rfc3339(ts, &t) < 0) {
		snprintf(buf, len, "<unknown>");
		return buf;
	}
	duration_short((int64_t)(time(NULL) - t), buf, len);
	return buf;
}

/* Go's %v of a JSON scalar inside an unstructured object. */
static void go_scalar(struct strbuf *sb, const json_t *v)
{
	if (json_is_string(v)) {
		strbuf_adds(sb, json_string_value(v));
	} else if (json_is_integer(v)) {
		strbuf_addf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_real(v)) {
		strbuf_addf(sb, "%g", json_real_value(v));
	} else if (json_is_boolean(v)) {
		strbuf_adds(sb, json_is_true(v) ? "true" : "false");
	} else if (json_is_null(v) || !v) {
		strbuf_adds(sb, "<nil>");
	} else {
		char *s = json_dumps(v, JSON_COMPACT);
		strbuf_adds(sb, s ? s : "");
		free(s);
	}
}

/* An IntOrString as Go prints it. */
static void int_or_string(struct strbuf *sb, const json_t *v)
{
	if (!v)
		strbuf_adds(sb, "0");
	else
		go_scalar(sb, v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char **keys_sorted(const json_t *obj, size_t *n)
{
	const char **keys = xmalloc(sizeof(char *) * (json_object_size(obj) + 1));
	const char *k;
	json_t *v;
	size_t i = 0;

	if (json_is_object(obj))
		json_object_foreach((json_t *)obj, k, v)
			keys[i++] = k;
	qsort(keys, i, sizeof(char *), cmp_str);
	*n = i;
	return keys;
}

/* printLabelsMultiline: the first pair after the title, the others below it. */
static void print_labels(struct ctl_tabwriter *w, const char *title, const json_t *labels)
{
	size_t n;
	const char **keys = keys_sorted(labels, &n);

	wr(w, 0, "%s:\t", title);
	if (!n)
		wr(w, 0, "<none>\n");
	for (size_t i = 0; i < n; i++)
		wr(w, 0, "%s%s=%s\n", i ? "\t" : "", keys[i], map_str(labels, keys[i]));
	free(keys);
}

static void print_annotations(struct ctl_tabwriter *w, const char *title, const json_t *ann)
{
	size_t n, shown = 0;
	const char **keys = keys_sorted(ann, &n);

	wr(w, 0, "%s:\t", title);
	for (size_t i = 0; i < n; i++) {
		const char *key = keys[i];
		char *value;
		size_t vlen;

		if (!strcmp(key, CTL_LAST_APPLIED))
			continue;
		value = xstrdup(map_str(ann, key));
		vlen = strlen(value);
		if (vlen && value[vlen - 1] == '\n')
			value[--vlen] = '\0';
		if (shown++)
			wr(w, 0, "\t");
		if (vlen + strlen(key) + 2 > MAX_ANNOTATION_LEN || strchr(value, '\n')) {
			char *save = NULL, *line;
			wr(w, 0, "%s:\n", key);
			/* strtok would merge empty lines; walk by hand */
			for (line = value;; line = save + 1) {
				save = strchr(line, '\n');
				if (save)
					*save = '\0';
				if (strlen(line) > MAX_ANNOTATION_LEN - 2)
					wr(w, 0, "\t  %.*s...\n", MAX_ANNOTATION_LEN - 2, line);
				else
					wr(w, 0, "\t  %s\n", line);
				if (!save)
					break;
			}
		} else {
			wr(w, 0, "%s: %s\n", key, value);
		}
		free(value);
	}
	if (!shown)
		wr(w, 0, "<none>\n");
	free(keys);
}

static void print_common_meta(struct ctl_tabwriter *w, const json_t *obj, bool namespaced)
{
	wr(w, 0, "Name:\t%s\n", str_or(obj, "metadata.name", ""));
	if (namespaced)
		wr(w, 0, "Namespace:\t%s\n", str_or(obj, "metadata.namespace", ""));
}

/* "ReplicaSet/web-abc" from the controller owner reference, or NULL. */
static const json_t *controller_of(const json_t *obj)
{
	size_t i;
	json_t *ref;

	json_array_foreach(obj_get(obj, "metadata.ownerReferences"), i, ref)
		if (obj_bool(ref, "controller", false))
			return ref;
	return NULL;
}

/* A label selector's string form ("app=web,tier in (a,b)"), new string. */
static char *selector_string(const json_t *sel)
{
	struct label_selector *ls = NULL;
	char *err = NULL, *s;

	if (label_selector_from_json(sel, &ls, &err) < 0) {
		free(err);
		return xstrdup("<error>");
	}
	s = label_selector_string(ls);
	label_selector_free(ls);
	return s;
}

/* ---- quantities ----------------------------------------------------------- */

/* A resource.Quantity, enough for describe's sums: the value in thousandths
 * and whether it was written with binary suffixes. */
struct qty {
	int64_t milli;
	bool binary;
	bool set;
};

static struct qty qty_parse(const char *s)
{
	static const struct { const char *suffix; double mult; bool binary; } suffixes[] = {
		{ "Ki", 1024.0, true }, { "Mi", 1048576.0, true }, { "Gi", 1073741824.0, true },
		{ "Ti", 1099511627776.0, true }, { "Pi", 1125899906842624.0, true }, { "Ei", 1152921504606846976.0, true },
		{ "m", 1e-3, false }, { "k", 1e3, false }, { "M", 1e6, false }, { "G", 1e9, false },
		{ "T", 1e12, false }, { "P", 1e15, false }, { "E", 1e18, false },
	};
	struct qty q = { 0, false, false };
	char *end;
	double v;

	if (!s || !*s)
		return q;
	v = strtod(s, &end);
	if (end == s)
		return q;
	q.set = true;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++)
		if (!strcmp(end, suffixes[i].suffix)) {
			v *= suffixes[i].mult;
			q.binary = suffixes[i].binary;
			break;
		}
	q.milli = (int64_t)llround(v * 1000.0);
	return q;
}

static struct qty qty_of(const json_t *list, const char *name)
{
	json_t *v = json_object_get(list, name);

	if (json_is_integer(v)) {
		struct qty q = { (int64_t)json_integer_value(v) * 1000, false, true };
		return q;
	}
	return qty_parse(json_string_value(v));
}

static void qty_add(struct qty *a, struct qty b)
{
	if (!b.set)
		return;
	if (!a->set)
		*a = b;
	else
		a->milli += b.milli;
}

/* Quantity.String(): the canonical form in the quantity's own format. */
static void qty_string(struct qty q, char *buf, size_t len)
{
	static const char *const dec[] = { "", "k", "M", "G", "T", "P", "E" };
	static const char *const bin[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
	int64_t n;
	int i = 0;

	if (!q.set || q.milli == 0) {
		snprintf(buf, len, "0");
		return;
	}
	if (q.milli % 1000) {
		snprintf(buf, len, "%" PRId64 "m", q.milli);
		return;
	}
	n = q.milli / 1000;
	if (q.binary) {
		while (i < 6 && n % 1024 == 0) {
			n /= 1024;
			i++;
		}
		snprintf(buf, len, "%" PRId64 "%s", n, bin[i]);
		return;
	}
	while (i < 6 && n % 1000 == 0) {
		n /= 1000;
		i++;
	}
	snprintf(buf, len, "%" PRId64 "%s", n, dec[i]);
}

/* ---- events --------------------------------------------------------------- */

static time_t ts_of(const json_t *e, const char *path)
{
	time_t t = 0;
	const char *s = obj_str(e, path);

	if (s && *s)
		time_parse_rfc3339(s, &t);
	return t;
}

static int cmp_events(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	time_t tx = ts_of(x, "lastTimestamp"), ty = ts_of(y, "lastTimestamp");

	return tx < ty ? -1 : tx > ty;
}

/* Events about obj (uid, or also the name as uid for nodes as kubelets
 * report them). New array. */
static json_t *events_for(struct ctl *c, const json_t *obj, bool namespaced, bool node)
{
	json_t *all = json_array();

	for (int pass = 0; pass < (node ? 2 : 1); pass++) {
		const char *ns = namespaced ? str_or(obj, "metadata.namespace", "") : "";
		const char *uid = pass ? str_or(obj, "metadata.name", "") : str_or(obj, "metadata.uid", "");
		char *sel = xasprintf("involvedObject.name=%s,involvedObject.namespace=%s,involvedObject.uid=%s",
				      str_or(obj, "metadata.name", ""), ns, uid);
		char *base = ctl_kind_path(&kind_event, namespaced ? ns : NULL, NULL);
		struct strbuf path;
		json_t *list = NULL;
		size_t i;
		json_t *it;

		strbuf_init(&path, 128);
		strbuf_adds(&path, base);
		rest_query_add(&path, "fieldSelector", sel);
		if (ctl_request(c, "GET", path.buf, NULL, NULL, NULL, &list) == 200)
			json_array_foreach(obj_get(list, "items"), i, it)
				json_array_append(all, it);
		json_decref(list);
		strbuf_release(&path);
		free(base);
		free(sel);
	}
	return all;
}

static void print_events(struct ctl_tabwriter *w, json_t *events)
{
	size_t n = json_array_size(events);
	json_t **v;

	if (!n) {
		wr(w, 0, "Events:\t<none>\n");
		return;
	}
	ctl_tabwriter_flush(w);
	v = xmalloc(sizeof(*v) * n);
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(events, i);
	qsort(v, n, sizeof(*v), cmp_events);
	wr(w, 0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
	wr(w, 1, "----\t------\t----\t----\t-------\n");
	for (size_t i = 0; i < n; i++) {
		const json_t *e = v[i];
		char first[32], last[32], interval[96];
		const char *from = str_or(e, "source.component", "");
		const char *msg = str_or(e, "message", "");
		size_t mlen;
		int64_t count = obj_int(e, "count", 0);

		if (obj_str(e, "eventTime") && *obj_str(e, "eventTime"))
			since(obj_str(e, "eventTime"), first, sizeof(first));
		else
			since(obj_str(e, "firstTimestamp"), first, sizeof(first));
		if (obj_get(e, "series") && json_is_object(obj_get(e, "series")))
			snprintf(interval, sizeof(interval), "%s (x%" PRId64 " over %s)",
				 since(obj_str(e, "series.lastObservedTime"), last, sizeof(last)),
				 obj_int(e, "series.count", 0), first);
		else if (count > 1)
			snprintf(interval, sizeof(interval), "%s (x%" PRId64 " over %s)",
				 since(obj_str(e, "lastTimestamp"), last, sizeof(last)), count, first);
		else
			snprintf(interval, sizeof(interval), "%s", first);
		if (!*from)
			from = str_or(e, "reportingController", "");
		while (*msg && isspace((unsigned char)*msg))
			msg++;
		mlen = strlen(msg);
		while (mlen && isspace((unsigned char)msg[mlen - 1]))
			mlen--;
		wr(w, 1, "%s\t%s\t%s\t%s\t%.*s\n", str_or(e, "type", ""), str_or(e, "reason", ""), interval, from,
		   (int)mlen, msg);
	}
	free(v);
}

/* ---- pods ----------------------------------------------------------------- */

static void ports_string(const json_t *ports, bool host, struct strbuf *sb)
{
	size_t i;
	json_t *p;

	json_array_foreach(ports, i, p)
		strbuf_addf(sb, "%s%" PRId64 "/%s", i ? ", " : "", obj_int(p, host ? "hostPort" : "containerPort", 0),
			    str_or(p, "protocol", "TCP"));
}

static void describe_probe(const json_t *p, struct strbuf *sb)
{
	struct strbuf attrs;

	strbuf_init(&attrs, 96);
	strbuf_addf(&attrs, "delay=%" PRId64 "s timeout=%" PRId64 "s period=%" PRId64 "s #success=%" PRId64
			    " #failure=%" PRId64, obj_int(p, "initialDelaySeconds", 0), obj_int(p, "timeoutSeconds", 1),
		    obj_int(p, "periodSeconds", 10), obj_int(p, "successThreshold", 1), obj_int(p, "failureThreshold", 3));
	if (obj_get(p, "exec")) {
		size_t i;
		json_t *a;
		strbuf_adds(sb, "exec [");
		json_array_foreach(obj_get(p, "exec.command"), i, a)
			strbuf_addf(sb, "%s%s", i ? " " : "", json_string_value(a) ?: "");
		strbuf_addf(sb, "] %s", attrs.buf);
	} else if (obj_get(p, "httpGet")) {
		const json_t *h = obj_get(p, "httpGet");
		char scheme[16];
		size_t i;
		const char *s = str_or(h, "scheme", "HTTP");
		for (i = 0; s[i] && i + 1 < sizeof(scheme); i++)
			scheme[i] = (char)tolower((unsigned char)s[i]);
		scheme[i] = '\0';
		strbuf_addf(sb, "http-get %s://%s:", scheme, str_or(h, "host", ""));
		int_or_string(sb, obj_get(h, "port"));
		strbuf_addf(sb, "%s %s", str_or(h, "path", ""), attrs.buf);
	} else if (obj_get(p, "tcpSocket")) {
		strbuf_addf(sb, "tcp-socket %s:", str_or(p, "tcpSocket.host", ""));
		int_or_string(sb, obj_get(p, "tcpSocket.port"));
		strbuf_addf(sb, " %s", attrs.buf);
	} else if (obj_get(p, "grpc")) {
		strbuf_addf(sb, "grpc <pod>:%" PRId64 " %s %s", obj_int(p, "grpc.port", 0), str_or(p, "grpc.service", ""),
			    attrs.buf);
	} else {
		strbuf_addf(sb, "unknown %s", attrs.buf);
	}
	strbuf_release(&attrs);
}

static void describe_state(struct ctl_tabwriter *w, const char *name, const json_t *state)
{
	char buf[64];

	if (obj_get(state, "running")) {
		wr(w, 2, "%s:\tRunning\n", name);
		wr(w, 3, "Started:\t%s\n", rfc1123z(obj_str(state, "running.startedAt"), buf, sizeof(buf)));
	} else if (obj_get(state, "terminated")) {
		const json_t *t = obj_get(state, "terminated");
		wr(w, 2, "%s:\tTerminated\n", name);
		if (*str_or(t, "reason", ""))
			wr(w, 3, "Reason:\t%s\n", obj_str(t, "reason"));
		if (*str_or(t, "message", ""))
			wr(w, 3, "Message:\t%s\n", obj_str(t, "message"));
		wr(w, 3, "Exit Code:\t%" PRId64 "\n", obj_int(t, "exitCode", 0));
		if (obj_int(t, "signal", 0) > 0)
			wr(w, 3, "Signal:\t%" PRId64 "\n", obj_int(t, "signal", 0));
		wr(w, 3, "Started:\t%s\n", rfc1123z(obj_str(t, "startedAt"), buf, sizeof(buf)));
		wr(w, 3, "Finished:\t%s\n", rfc1123z(obj_str(t, "finishedAt"), buf, sizeof(buf)));
	} else {
		wr(w, 2, "%s:\tWaiting\n", name);
		if (*str_or(state, "waiting.reason", ""))
			wr(w, 3, "Reason:\t%s\n", obj_str(state, "waiting.reason"));
	}
}

static void describe_resources(struct ctl_tabwriter *w, const json_t *res, int level)
{
	static const char *const parts[] = { "limits", "requests" };

	for (int p = 0; p < 2; p++) {
		const json_t *list = obj_get(res, parts[p]);
		size_t n;
		const char **keys = keys_sorted(list, &n);
		if (n)
			wr(w, level, "%s:\n", p ? "Requests" : "Limits");
		for (size_t i = 0; i < n; i++) {
			struct strbuf sb;
			strbuf_init(&sb, 16);
			go_scalar(&sb, json_object_get(list, keys[i]));
			wr(w, level + 1, "%s:\t%s\n", keys[i], sb.buf);
			strbuf_release(&sb);
		}
		free(keys);
	}
}

static int cmp_mounts(const void *a, const void *b)
{
	return strcmp(str_or(*(const json_t *const *)a, "mountPath", ""), str_or(*(const json_t *const *)b, "mountPath", ""));
}

static void describe_containers(struct ctl_tabwriter *w, const char *label, const json_t *containers,
				const json_t *statuses, const char *space)
{
	size_t i, j;
	json_t *ct, *st;

	wr(w, 0, "%s%s:%s\n", space, label, json_array_size(containers) ? "" : " <none>");
	json_array_foreach(containers, i, ct) {
		const json_t *status = NULL;
		struct strbuf sb;
		const json_t *mounts = obj_get(ct, "volumeMounts");
		const json_t *env = obj_get(ct, "env");

		json_array_foreach(statuses, j, st)
			if (!strcmp(str_or(st, "name", ""), str_or(ct, "name", "")))
				status = st;
		wr(w, 1, "%s%s:\n", *space ? " " : "", str_or(ct, "name", ""));
		if (status)
			wr(w, 2, "Container ID:\t%s\n", str_or(status, "containerID", ""));
		wr(w, 2, "Image:\t%s\n", str_or(ct, "image", ""));
		if (status)
			wr(w, 2, "Image ID:\t%s\n", str_or(status, "imageID", ""));
		strbuf_init(&sb, 64);
		ports_string(obj_get(ct, "ports"), false, &sb);
		if (strchr(sb.buf, ','))
			wr(w, 2, "Ports:\t%s\n", sb.buf);
		else
			wr(w, 2, "Port:\t%s\n", sb.len ? sb.buf : "<none>");
		strbuf_reset(&sb);
		ports_string(obj_get(ct, "ports"), true, &sb);
		if (strchr(sb.buf, ','))
			wr(w, 2, "Host Ports:\t%s\n", sb.buf);
		else
			wr(w, 2, "Host Port:\t%s\n", sb.len ? sb.buf : "<none>");
		strbuf_release(&sb);
		for (int part = 0; part < 2; part++) {
			const json_t *list = obj_get(ct, part ? "args" : "command");
			json_t *a;
			size_t k;
			if (!json_array_size(list))
				continue;
			wr(w, 2, "%s:\n", part ? "Args" : "Command");
			json_array_foreach(list, k, a) {
				char *copy = xstrdup(json_string_value(a) ?: ""), *line = copy, *nl;
				for (;; line = nl + 1) {
					nl = strchr(line, '\n');
					if (nl)
						*nl = '\0';
					wr(w, 3, "%s\n", line);
					if (!nl)
						break;
				}
				free(copy);
			}
		}
		if (status) {
			describe_state(w, "State", obj_get(status, "state"));
			if (obj_get(status, "lastState.terminated"))
				describe_state(w, "Last State", obj_get(status, "lastState"));
			wr(w, 2, "Ready:\t%s\n", obj_bool(status, "ready", false) ? "True" : "False");
			wr(w, 2, "Restart Count:\t%" PRId64 "\n", obj_int(status, "restartCount", 0));
		}
		describe_resources(w, obj_get(ct, "resources"), 2);
		{
			static const char *const probes[][2] = {
				{ "livenessProbe", "Liveness" }, { "readinessProbe", "Readiness" }, { "startupProbe", "Startup" },
			};
			for (size_t p = 0; p < ARRAY_SIZE(probes); p++) {
				const json_t *probe = obj_get(ct, probes[p][0]);
				struct strbuf pb;
				if (!json_is_object(probe))
					continue;
				strbuf_init(&pb, 96);
				describe_probe(probe, &pb);
				wr(w, 2, "%s:\t%s\n", probes[p][1], pb.buf);
				strbuf_release(&pb);
			}
		}
		if (json_array_size(obj_get(ct, "envFrom"))) {
			json_t *ef;
			size_t k;
			wr(w, 2, "Environment Variables from:\n");
			json_array_foreach(obj_get(ct, "envFrom"), k, ef) {
				const json_t *ref = obj_get(ef, "configMapRef") ? obj_get(ef, "configMapRef") : obj_get(ef, "secretRef");
				const char *from = obj_get(ef, "configMapRef") ? "ConfigMap" : obj_get(ef, "secretRef") ? "Secret" : "";
				const char *prefix = str_or(ef, "prefix", "");
				if (*prefix)
					wr(w, 3, "%s\t%s with prefix '%s'\tOptional: %s\n", str_or(ref, "name", ""), from, prefix,
					   obj_bool(ref, "optional", false) ? "true" : "false");
				else
					wr(w, 3, "%s\t%s\tOptional: %s\n", str_or(ref, "name", ""), from,
					   obj_bool(ref, "optional", false) ? "true" : "false");
			}
		}
		wr(w, 2, "Environment:%s\n", json_array_size(env) ? "" : "\t<none>");
		{
			json_t *e;
			size_t k;
			json_array_foreach(env, k, e) {
				const char *name = str_or(e, "name", "");
				const json_t *vf = obj_get(e, "valueFrom");
				if (!vf) {
					char *copy = xstrdup(str_or(e, "value", "")), *line = copy, *nl;
					bool first = true;
					for (;; line = nl + 1) {
						nl = strchr(line, '\n');
						if (nl)
							*nl = '\0';
						if (first)
							wr(w, 3, "%s:\t%s\n", name, line);
						else
							wr(w, 3, "\t%s\n", line);
						first = false;
						if (!nl)
							break;
					}
					free(copy);
				} else if (obj_get(vf, "fieldRef")) {
					wr(w, 3, "%s:\t (%s:%s)\n", name, str_or(vf, "fieldRef.apiVersion", ""),
					   str_or(vf, "fieldRef.fieldPath", ""));
				} else if (obj_get(vf, "resourceFieldRef")) {
					wr(w, 3, "%s:\t (%s)\n", name, str_or(vf, "resourceFieldRef.resource", ""));
				} else if (obj_get(vf, "secretKeyRef")) {
					wr(w, 3, "%s:\t<set to the key '%s' in secret '%s'>\tOptional: %s\n", name,
					   str_or(vf, "secretKeyRef.key", ""), str_or(vf, "secretKeyRef.name", ""),
					   obj_bool(vf, "secretKeyRef.optional", false) ? "true" : "false");
				} else if (obj_get(vf, "configMapKeyRef")) {
					wr(w, 3, "%s:\t<set to the key '%s' of config map '%s'>\tOptional: %s\n", name,
					   str_or(vf, "configMapKeyRef.key", ""), str_or(vf, "configMapKeyRef.name", ""),
					   obj_bool(vf, "configMapKeyRef.optional", false) ? "true" : "false");
				}
			}
		}
		wr(w, 2, "Mounts:%s\n", json_array_size(mounts) ? "" : "\t<none>");
		if (json_array_size(mounts)) {
			size_t nm = json_array_size(mounts);
			const json_t **mv = xmalloc(sizeof(*mv) * nm);
			for (size_t k = 0; k < nm; k++)
				mv[k] = json_array_get(mounts, k);
			qsort(mv, nm, sizeof(*mv), cmp_mounts);
			for (size_t k = 0; k < nm; k++) {
				const char *sub = str_or(mv[k], "subPath", "");
				if (*sub)
					wr(w, 3, "%s from %s (%s,path=\"%s\")\n", str_or(mv[k], "mountPath", ""),
					   str_or(mv[k], "name", ""), obj_bool(mv[k], "readOnly", false) ? "ro" : "rw", sub);
				else
					wr(w, 3, "%s from %s (%s)\n", str_or(mv[k], "mountPath", ""), str_or(mv[k], "name", ""),
					   obj_bool(mv[k], "readOnly", false) ? "ro" : "rw");
			}
			free(mv);
		}
	}
}

static void describe_volumes(struct ctl_tabwriter *w, const json_t *volumes, const char *space)
{
	size_t i;
	json_t *v;

	if (!json_array_size(volumes)) {
		wr(w, 0, "%sVolumes:\t<none>\n", space);
		return;
	}
	wr(w, 0, "%sVolumes:\n", space);
	json_array_foreach(volumes, i, v) {
		wr(w, 1, "%s%s:\n", *space ? " " : "", str_or(v, "name", ""));
		if (obj_get(v, "hostPath")) {
			wr(w, 2, "Type:\tHostPath (bare host directory volume)\n    Path:\t%s\n    HostPathType:\t%s\n",
			   str_or(v, "hostPath.path", ""), str_or(v, "hostPath.type", "<none>"));
		} else if (obj_get(v, "emptyDir")) {
			const char *limit = str_or(v, "emptyDir.sizeLimit", "");
			wr(w, 2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t%s\n"
				 "    SizeLimit:\t%s\n", str_or(v, "emptyDir.medium", ""),
			   *limit && qty_parse(limit).milli > 0 ? limit : "<unset>");
		} else if (obj_get(v, "secret")) {
			wr(w, 2, "Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t%s\n    Optional:\t%s\n",
			   str_or(v, "secret.secretName", ""), obj_bool(v, "secret.optional", false) ? "true" : "false");
		} else if (obj_get(v, "configMap")) {
			wr(w, 2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t%s\n    Optional:\t%s\n",
			   str_or(v, "configMap.name", ""), obj_bool(v, "configMap.optional", false) ? "true" : "false");
		} else if (obj_get(v, "persistentVolumeClaim")) {
			wr(w, 2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same "
				 "namespace)\n    ClaimName:\t%s\n    ReadOnly:\t%s\n",
			   str_or(v, "persistentVolumeClaim.claimName", ""),
			   obj_bool(v, "persistentVolumeClaim.readOnly", false) ? "true" : "false");
		} else if (obj_get(v, "downwardAPI")) {
			json_t *it;
			size_t k;
			wr(w, 2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n");
			json_array_foreach(obj_get(v, "downwardAPI.items"), k, it)
				wr(w, 3, "  %s -> %s\n", str_or(it, "fieldRef.fieldPath", str_or(it, "resourceFieldRef.resource", "")),
				   str_or(it, "path", ""));
		} else if (obj_get(v, "projected")) {
			wr(w, 2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n");
		} else {
			wr(w, 1, "<unknown>\n");
		}
	}
}

static void print_tolerations(struct ctl_tabwriter *w, const char *title, const json_t *tols)
{
	size_t n = json_array_size(tols);
	const json_t **v;

	wr(w, 0, "%s:\t", title);
	if (!n) {
		wr(w, 0, "<none>\n");
		return;
	}
	v = xmalloc(sizeof(*v) * n);
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(tols, i);
	/* sort.Slice by key; insertion sort keeps equal keys in order */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(str_or(v[j - 1], "key", ""), str_or(v[j], "key", "")) > 0; j--) {
			const json_t *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		const json_t *t = v[i];
		const char *key = str_or(t, "key", ""), *value = str_or(t, "value", ""), *effect = str_or(t, "effect", "");
		struct strbuf sb;
		strbuf_init(&sb, 64);
		if (i)
			strbuf_adds(&sb, "\t");
		strbuf_adds(&sb, key);
		if (*value)
			strbuf_addf(&sb, "=%s", value);
		if (*effect)
			strbuf_addf(&sb, ":%s", effect);
		if (!strcmp(str_or(t, "operator", ""), "Exists") && !*value)
			strbuf_adds(&sb, *key || *effect ? " op=Exists" : "op=Exists");
		if (json_is_integer(obj_get(t, "tolerationSeconds")))
			strbuf_addf(&sb, " for %" PRId64 "s", obj_int(t, "tolerationSeconds", 0));
		wr(w, 0, "%s\n", sb.buf);
		strbuf_release(&sb);
	}
	free(v);
}

/* Kubernetes' QoS class from the containers' requests and limits. */
static const char *pod_qos(const json_t *pod)
{
	static const char *const lists[] = { "spec.containers", "spec.initContainers" };
	bool any = false, guaranteed = true;

	for (int l = 0; l < 2; l++) {
		size_t i;
		json_t *ct;
		json_array_foreach(obj_get(pod, lists[l]), i, ct) {
			const json_t *req = obj_get(ct, "resources.requests"), *lim = obj_get(ct, "resources.limits");
			static const char *const res[] = { "cpu", "memory" };
			for (int r = 0; r < 2; r++) {
				struct qty q = qty_of(req, res[r]), m = qty_of(lim, res[r]);
				if ((q.set && q.milli) || (m.set && m.milli))
					any = true;
				if (!m.set || !m.milli)
					guaranteed = false;
				else if (q.set && q.milli != m.milli)
					guaranteed = false;
			}
		}
	}
	if (!any)
		return "BestEffort";
	return guaranteed ? "Guaranteed" : "Burstable";
}

static void describe_pod(struct ctl *c, struct ctl_tabwriter *w, const json_t *pod)
{
	char buf[64];
	const json_t *ctrl;
	const char *phase = str_or(pod, "status.phase", "");
	json_t *events;
	size_t i;
	json_t *cond, *ip;

	print_common_meta(w, pod, true);
	if (json_is_integer(obj_get(pod, "spec.priority")))
		wr(w, 0, "Priority:\t%" PRId64 "\n", obj_int(pod, "spec.priority", 0));
	if (*str_or(pod, "spec.priorityClassName", ""))
		wr(w, 0, "Priority Class Name:\t%s\n", obj_str(pod, "spec.priorityClassName"));
	if (*str_or(pod, "spec.runtimeClassName", ""))
		wr(w, 0, "Runtime Class Name:\t%s\n", obj_str(pod, "spec.runtimeClassName"));
	if (*str_or(pod, "spec.serviceAccountName", ""))
		wr(w, 0, "Service Account:\t%s\n", obj_str(pod, "spec.serviceAccountName"));
	if (!*str_or(pod, "spec.nodeName", ""))
		wr(w, 0, "Node:\t<none>\n");
	else
		wr(w, 0, "Node:\t%s/%s\n", obj_str(pod, "spec.nodeName"), str_or(pod, "status.hostIP", ""));
	if (obj_str(pod, "status.startTime"))
		wr(w, 0, "Start Time:\t%s\n", rfc1123z(obj_str(pod, "status.startTime"), buf, sizeof(buf)));
	print_labels(w, "Labels", obj_get(pod, "metadata.labels"));
	print_annotations(w, "Annotations", obj_get(pod, "metadata.annotations"));
	if (obj_str(pod, "metadata.deletionTimestamp") && strcmp(phase, "Failed") && strcmp(phase, "Succeeded")) {
		wr(w, 0, "Status:\tTerminating (lasts %s)\n", since(obj_str(pod, "metadata.deletionTimestamp"), buf, sizeof(buf)));
		wr(w, 0, "Termination Grace Period:\t%" PRId64 "s\n", obj_int(pod, "metadata.deletionGracePeriodSeconds", 0));
	} else {
		wr(w, 0, "Status:\t%s\n", phase);
	}
	if (*str_or(pod, "status.reason", ""))
		wr(w, 0, "Reason:\t%s\n", obj_str(pod, "status.reason"));
	if (*str_or(pod, "status.message", ""))
		wr(w, 0, "Message:\t%s\n", obj_str(pod, "status.message"));
	wr(w, 0, "IP:\t%s\n", str_or(pod, "status.podIP", ""));
	if (!json_array_size(obj_get(pod, "status.podIPs"))) {
		wr(w, 0, "IPs:\t<none>\n");
	} else {
		wr(w, 0, "IPs:\n");
		json_array_foreach(obj_get(pod, "status.podIPs"), i, ip)
			wr(w, 1, "IP:\t%s\n", str_or(ip, "ip", ""));
	}
	if ((ctrl = controller_of(pod)))
		wr(w, 0, "Controlled By:\t%s/%s\n", str_or(ctrl, "kind", ""), str_or(ctrl, "name", ""));
	if (*str_or(pod, "status.nominatedNodeName", ""))
		wr(w, 0, "NominatedNodeName:\t%s\n", obj_str(pod, "status.nominatedNodeName"));
	if (json_array_size(obj_get(pod, "spec.initContainers")))
		describe_containers(w, "Init Containers", obj_get(pod, "spec.initContainers"),
				    obj_get(pod, "status.initContainerStatuses"), "");
	describe_containers(w, "Containers", obj_get(pod, "spec.containers"), obj_get(pod, "status.containerStatuses"), "");
	if (json_array_size(obj_get(pod, "status.conditions"))) {
		wr(w, 0, "Conditions:\n  Type\tStatus\n");
		json_array_foreach(obj_get(pod, "status.conditions"), i, cond)
			wr(w, 1, "%s \t%s \n", str_or(cond, "type", ""), str_or(cond, "status", ""));
	}
	describe_volumes(w, obj_get(pod, "spec.volumes"), "");
	wr(w, 0, "QoS Class:\t%s\n", pod_qos(pod));
	print_labels(w, "Node-Selectors", obj_get(pod, "spec.nodeSelector"));
	print_tolerations(w, "Tolerations", obj_get(pod, "spec.tolerations"));
	events = events_for(c, pod, true, false);
	print_events(w, events);
	json_decref(events);
}

static void describe_pod_template(struct ctl_tabwriter *w, const json_t *tpl)
{
	wr(w, 0, "Pod Template:\n");
	if (!tpl) {
		wr(w, 1, "<unset>");
		return;
	}
	print_labels(w, "  Labels", obj_get(tpl, "metadata.labels"));
	if (json_object_size(obj_get(tpl, "metadata.annotations")))
		print_annotations(w, "  Annotations", obj_get(tpl, "metadata.annotations"));
	if (*str_or(tpl, "spec.serviceAccountName", ""))
		wr(w, 1, "Service Account:\t%s\n", obj_str(tpl, "spec.serviceAccountName"));
	if (json_array_size(obj_get(tpl, "spec.initContainers")))
		describe_containers(w, "Init Containers", obj_get(tpl, "spec.initContainers"), NULL, "  ");
	describe_containers(w, "Containers", obj_get(tpl, "spec.containers"), NULL, "  ");
	describe_volumes(w, obj_get(tpl, "spec.volumes"), "  ");
	if (*str_or(tpl, "spec.priorityClassName", ""))
		wr(w, 1, "Priority Class Name:\t%s\n", obj_str(tpl, "spec.priorityClassName"));
	print_labels(w, "  Node-Selectors", obj_get(tpl, "spec.nodeSelector"));
	print_tolerations(w, "  Tolerations", obj_get(tpl, "spec.tolerations"));
}

/* ---- workloads ------------------------------------------------------------ */

/* The objects of kind k in ns that match sel (a LabelSelector object) and
 * whose controller is uid (NULL: any). New array. */
static json_t *list_owned(struct ctl *c, const struct kind *k, const char *ns, const json_t *sel, const char *uid)
{
	char *base = ctl_kind_path(k, ns, NULL), *s = selector_string(sel);
	struct strbuf path;
	json_t *list = NULL, *out = json_array(), *it;
	size_t i;

	strbuf_init(&path, 128);
	strbuf_adds(&path, base);
	if (*s && strcmp(s, "<error>"))
		rest_query_add(&path, "labelSelector", s);
	if (ctl_request(c, "GET", path.buf, NULL, NULL, NULL, &list) == 200)
		json_array_foreach(obj_get(list, "items"), i, it) {
			const json_t *ref = controller_of(it);
			if (!uid || (ref && !strcmp(str_or(ref, "uid", ""), uid)))
				json_array_append(out, it);
		}
	json_decref(list);
	strbuf_release(&path);
	free(base);
	free(s);
	return out;
}

static void print_conditions_with_reason(struct ctl_tabwriter *w, const json_t *conds)
{
	size_t i;
	json_t *cd;

	if (!json_array_size(conds))
		return;
	wr(w, 0, "Conditions:\n  Type\tStatus\tReason\n");
	wr(w, 1, "----\t------\t------\n");
	json_array_foreach(conds, i, cd)
		wr(w, 1, "%s \t%s\t%s\n", str_or(cd, "type", ""), str_or(cd, "status", ""), str_or(cd, "reason", ""));
}

static void rs_list_string(const json_t *rss, struct strbuf *sb)
{
	size_t i;
	json_t *rs;

	json_array_foreach(rss, i, rs)
		strbuf_addf(sb, "%s%s (%" PRId64 "/%" PRId64 " replicas created)", i ? ", " : "", str_or(rs, "metadata.name", ""),
			    obj_int(rs, "status.replicas", 0), obj_int(rs, "spec.replicas", 1));
	if (!sb->len)
		strbuf_adds(sb, "<none>");
}

/* Whether a ReplicaSet's template is the Deployment's (ignoring the
 * pod-template-hash label the controller adds). */
static bool same_template(const json_t *rs_tpl, const json_t *d_tpl)
{
	json_t *a = json_deep_copy(rs_tpl), *b = json_deep_copy(d_tpl);
	bool eq;

	if (json_is_object(obj_get(a, "metadata.labels")))
		json_object_del(obj_get(a, "metadata.labels"), "pod-template-hash");
	if (json_is_object(obj_get(b, "metadata.labels")))
		json_object_del(obj_get(b, "metadata.labels"), "pod-template-hash");
	if (json_is_object(obj_get(a, "metadata.labels")) && !json_object_size(obj_get(a, "metadata.labels")))
		json_object_del(obj_get(a, "metadata"), "labels");
	if (json_is_object(obj_get(b, "metadata.labels")) && !json_object_size(obj_get(b, "metadata.labels")))
		json_object_del(obj_get(b, "metadata"), "labels");
	eq = json_equal(a, b);
	json_decref(a);
	json_decref(b);
	return eq;
}

static int cmp_created(const void *x, const void *y)
{
	time_t a = ts_of(*(const json_t *const *)x, "metadata.creationTimestamp");
	time_t b = ts_of(*(const json_t *const *)y, "metadata.creationTimestamp");

	return a < b ? -1 : a > b;
}

static void describe_deployment(struct ctl *c, struct ctl_tabwriter *w, const json_t *d)
{
	char buf[64], *sel = selector_string(obj_get(d, "spec.selector"));
	json_t *rss, *old = json_array(), *newrs = json_array(), *events;
	struct strbuf sb;

	print_common_meta(w, d, true);
	wr(w, 0, "CreationTimestamp:\t%s\n", rfc1123z(obj_str(d, "metadata.creationTimestamp"), buf, sizeof(buf)));
	print_labels(w, "Labels", obj_get(d, "metadata.labels"));
	print_annotations(w, "Annotations", obj_get(d, "metadata.annotations"));
	wr(w, 0, "Selector:\t%s\n", sel);
	wr(w, 0, "Replicas:\t%" PRId64 " desired | %" PRId64 " updated | %" PRId64 " total | %" PRId64 " available | %" PRId64
		 " unavailable\n", obj_int(d, "spec.replicas", 1), obj_int(d, "status.updatedReplicas", 0),
	   obj_int(d, "status.replicas", 0), obj_int(d, "status.availableReplicas", 0),
	   obj_int(d, "status.unavailableReplicas", 0));
	wr(w, 0, "StrategyType:\t%s\n", str_or(d, "spec.strategy.type", ""));
	wr(w, 0, "MinReadySeconds:\t%" PRId64 "\n", obj_int(d, "spec.minReadySeconds", 0));
	if (json_is_object(obj_get(d, "spec.strategy.rollingUpdate"))) {
		strbuf_init(&sb, 64);
		int_or_string(&sb, obj_get(d, "spec.strategy.rollingUpdate.maxUnavailable"));
		strbuf_adds(&sb, " max unavailable, ");
		int_or_string(&sb, obj_get(d, "spec.strategy.rollingUpdate.maxSurge"));
		wr(w, 0, "RollingUpdateStrategy:\t%s max surge\n", sb.buf);
		strbuf_release(&sb);
	}
	describe_pod_template(w, obj_get(d, "spec.template"));
	print_conditions_with_reason(w, obj_get(d, "status.conditions"));

	rss = list_owned(c, &kind_replicaset, obj_namespace(d), obj_get(d, "spec.selector"), obj_str(d, "metadata.uid"));
	{
		size_t n = json_array_size(rss);
		json_t **v = xmalloc(sizeof(*v) * (n + 1));
		bool found = false;
		for (size_t i = 0; i < n; i++)
			v[i] = json_array_get(rss, i);
		qsort(v, n, sizeof(*v), cmp_created);
		for (size_t i = 0; i < n; i++) {
			if (!found && same_template(obj_get(v[i], "spec.template"), obj_get(d, "spec.template"))) {
				json_array_append(newrs, v[i]);
				found = true;
			} else {
				json_array_append(old, v[i]);
			}
		}
		free(v);
	}
	if (json_array_size(old) || json_array_size(newrs)) {
		strbuf_init(&sb, 64);
		rs_list_string(old, &sb);
		wr(w, 0, "OldReplicaSets:\t%s\n", sb.buf);
		strbuf_reset(&sb);
		rs_list_string(newrs, &sb);
		wr(w, 0, "NewReplicaSet:\t%s\n", sb.buf);
		strbuf_release(&sb);
	}
	events = events_for(c, d, true, false);
	print_events(w, events);
	json_decref(events);
	json_decref(rss);
	json_decref(old);
	json_decref(newrs);
	free(sel);
}

static void describe_replicaset(struct ctl *c, struct ctl_tabwriter *w, const json_t *rs)
{
	char *sel = selector_string(obj_get(rs, "spec.selector"));
	const json_t *ctrl = controller_of(rs);
	json_t *pods, *pod, *events;
	int running = 0, waiting = 0, succeeded = 0, failed = 0;
	size_t i;

	print_common_meta(w, rs, true);
	wr(w, 0, "Selector:\t%s\n", *sel ? sel : "<none>");
	print_labels(w, "Labels", obj_get(rs, "metadata.labels"));
	print_annotations(w, "Annotations", obj_get(rs, "metadata.annotations"));
	if (ctrl)
		wr(w, 0, "Controlled By:\t%s/%s\n", str_or(ctrl, "kind", ""), str_or(ctrl, "name", ""));
	wr(w, 0, "Replicas:\t%" PRId64 " current / %" PRId64 " desired\n", obj_int(rs, "status.replicas", 0),
	   obj_int(rs, "spec.replicas", 1));
	pods = list_owned(c, &kind_pod, obj_namespace(rs), obj_get(rs, "spec.selector"), obj_str(rs, "metadata.uid"));
	json_array_foreach(pods, i, pod) {
		const char *phase = str_or(pod, "status.phase", "");
		running += !strcmp(phase, "Running");
		waiting += !strcmp(phase, "Pending");
		succeeded += !strcmp(phase, "Succeeded");
		failed += !strcmp(phase, "Failed");
	}
	wr(w, 0, "Pods Status:\t%d Running / %d Waiting / %d Succeeded / %d Failed\n", running, waiting, succeeded, failed);
	describe_pod_template(w, obj_get(rs, "spec.template"));
	print_conditions_with_reason(w, obj_get(rs, "status.conditions"));
	events = events_for(c, rs, true, false);
	print_events(w, events);
	json_decref(events);
	json_decref(pods);
	free(sel);
}

/* ---- services and endpoints ----------------------------------------------- */

/* The "Endpoints:" value: up to three ready ip:port for the port named
 * port_name, then "+ N more...". */
static void endpoints_string(const json_t *ep, const char *port_name, struct strbuf *sb)
{
	const json_t *subsets = obj_get(ep, "subsets");
	int shown = 0, count = 0;
	size_t i, j, k;
	json_t *ss, *port, *addr;

	if (!json_array_size(subsets)) {
		strbuf_adds(sb, "<none>");
		return;
	}
	json_array_foreach(subsets, i, ss) {
		if (!json_array_size(obj_get(ss, "ports"))) {
			json_array_foreach(obj_get(ss, "addresses"), k, addr) {
				if (shown < 3)
					strbuf_addf(sb, "%s%s", shown++ ? "," : "", str_or(addr, "ip", ""));
				count++;
			}
			continue;
		}
		json_array_foreach(obj_get(ss, "ports"), j, port) {
			if (strcmp(str_or(port, "name", ""), port_name))
				continue;
			json_array_foreach(obj_get(ss, "addresses"), k, addr) {
				const char *ip = str_or(addr, "ip", "");
				if (shown < 3)
					strbuf_addf(sb, strchr(ip, ':') ? "%s[%s]:%" PRId64 : "%s%s:%" PRId64, shown++ ? "," : "",
						    ip, obj_int(port, "port", 0));
				count++;
			}
		}
	}
	if (count > 3)
		strbuf_addf(sb, " + %d more...", count - 3);
}

static void join_strings(const json_t *arr, const char *sep, struct strbuf *sb)
{
	size_t i;
	json_t *s;

	json_array_foreach(arr, i, s)
		strbuf_addf(sb, "%s%s", i ? sep : "", json_string_value(s) ?: "");
}

static void describe_service(struct ctl *c, struct ctl_tabwriter *w, const json_t *svc)
{
	char *sel = ctl_format_labels(obj_get(svc, "spec.selector"));
	char *eppath = ctl_kind_path(&kind_endpoints, obj_namespace(svc), obj_name(svc));
	json_t *ep = NULL, *port, *events;
	struct strbuf sb;
	size_t i;

	if (ctl_request(c, "GET", eppath, NULL, NULL, NULL, &ep) != 200) {
		json_decref(ep);
		ep = NULL;
	}
	strbuf_init(&sb, 64);
	print_common_meta(w, svc, true);
	print_labels(w, "Labels", obj_get(svc, "metadata.labels"));
	print_annotations(w, "Annotations", obj_get(svc, "metadata.annotations"));
	wr(w, 0, "Selector:\t%s\n", sel);
	wr(w, 0, "Type:\t%s\n", str_or(svc, "spec.type", ""));
	if (obj_str(svc, "spec.ipFamilyPolicy"))
		wr(w, 0, "IP Family Policy:\t%s\n", obj_str(svc, "spec.ipFamilyPolicy"));
	join_strings(obj_get(svc, "spec.ipFamilies"), ",", &sb);
	wr(w, 0, "IP Families:\t%s\n", sb.len ? sb.buf : "<none>");
	wr(w, 0, "IP:\t%s\n", str_or(svc, "spec.clusterIP", ""));
	strbuf_reset(&sb);
	join_strings(obj_get(svc, "spec.clusterIPs"), ",", &sb);
	wr(w, 0, "IPs:\t%s\n", sb.len ? sb.buf : "<none>");
	if (json_array_size(obj_get(svc, "spec.externalIPs"))) {
		strbuf_reset(&sb);
		join_strings(obj_get(svc, "spec.externalIPs"), ",", &sb);
		wr(w, 0, "External IPs:\t%s\n", sb.buf);
	}
	if (*str_or(svc, "spec.loadBalancerIP", ""))
		wr(w, 0, "Desired LoadBalancer IP:\t%s\n", obj_str(svc, "spec.loadBalancerIP"));
	if (*str_or(svc, "spec.externalName", ""))
		wr(w, 0, "External Name:\t%s\n", obj_str(svc, "spec.externalName"));
	if (json_array_size(obj_get(svc, "status.loadBalancer.ingress"))) {
		json_t *ing;
		strbuf_reset(&sb);
		json_array_foreach(obj_get(svc, "status.loadBalancer.ingress"), i, ing)
			strbuf_addf(&sb, "%s%s", i ? ", " : "", str_or(ing, "ip", str_or(ing, "hostname", "")));
		wr(w, 0, "LoadBalancer Ingress:\t%s\n", sb.buf);
	}
	json_array_foreach(obj_get(svc, "spec.ports"), i, port) {
		const char *name = str_or(port, "name", "");
		const char *proto = str_or(port, "protocol", "TCP");
		const json_t *tp = obj_get(port, "targetPort");
		wr(w, 0, "Port:\t%s\t%" PRId64 "/%s\n", *name ? name : "<unset>", obj_int(port, "port", 0), proto);
		if (json_is_string(tp))
			wr(w, 0, "TargetPort:\t%s/%s\n", json_string_value(tp), proto);
		else
			wr(w, 0, "TargetPort:\t%" PRId64 "/%s\n", json_is_integer(tp) ? (int64_t)json_integer_value(tp) : 0, proto);
		if (obj_int(port, "nodePort", 0))
			wr(w, 0, "NodePort:\t%s\t%" PRId64 "/%s\n", *name ? name : "<unset>", obj_int(port, "nodePort", 0), proto);
		strbuf_reset(&sb);
		if (ep)
			endpoints_string(ep, name, &sb);
		else
			strbuf_adds(&sb, "<none>");
		wr(w, 0, "Endpoints:\t%s\n", sb.buf);
	}
	wr(w, 0, "Session Affinity:\t%s\n", str_or(svc, "spec.sessionAffinity", ""));
	if (*str_or(svc, "spec.externalTrafficPolicy", ""))
		wr(w, 0, "External Traffic Policy:\t%s\n", obj_str(svc, "spec.externalTrafficPolicy"));
	if (*str_or(svc, "spec.internalTrafficPolicy", ""))
		wr(w, 0, "Internal Traffic Policy:\t%s\n", obj_str(svc, "spec.internalTrafficPolicy"));
	if (obj_int(svc, "spec.healthCheckNodePort", 0))
		wr(w, 0, "HealthCheck NodePort:\t%" PRId64 "\n", obj_int(svc, "spec.healthCheckNodePort", 0));
	if (json_array_size(obj_get(svc, "spec.loadBalancerSourceRanges"))) {
		strbuf_reset(&sb);
		join_strings(obj_get(svc, "spec.loadBalancerSourceRanges"), ",", &sb);
		wr(w, 0, "LoadBalancer Source Ranges:\t%s\n", sb.buf);
	}
	events = events_for(c, svc, true, false);
	print_events(w, events);
	json_decref(events);
	json_decref(ep);
	strbuf_release(&sb);
	free(sel);
	free(eppath);
}

static void describe_endpoints(struct ctl *c, struct ctl_tabwriter *w, const json_t *ep)
{
	size_t i, j;
	json_t *ss, *a, *p, *events;

	print_common_meta(w, ep, true);
	print_labels(w, "Labels", obj_get(ep, "metadata.labels"));
	print_annotations(w, "Annotations", obj_get(ep, "metadata.annotations"));
	wr(w, 0, "Subsets:\n");
	json_array_foreach(obj_get(ep, "subsets"), i, ss) {
		struct strbuf sb;
		strbuf_init(&sb, 64);
		json_array_foreach(obj_get(ss, "addresses"), j, a)
			strbuf_addf(&sb, "%s%s", j ? "," : "", str_or(a, "ip", ""));
		wr(w, 1, "Addresses:\t%s\n", sb.len ? sb.buf : "<none>");
		strbuf_reset(&sb);
		json_array_foreach(obj_get(ss, "notReadyAddresses"), j, a)
			strbuf_addf(&sb, "%s%s", j ? "," : "", str_or(a, "ip", ""));
		wr(w, 1, "NotReadyAddresses:\t%s\n", sb.len ? sb.buf : "<none>");
		strbuf_release(&sb);
		if (json_array_size(obj_get(ss, "ports"))) {
			wr(w, 1, "Ports:\n");
			wr(w, 2, "Name\tPort\tProtocol\n");
			wr(w, 2, "----\t----\t--------\n");
			json_array_foreach(obj_get(ss, "ports"), j, p) {
				const char *name = str_or(p, "name", "");
				wr(w, 2, "%s\t%" PRId64 "\t%s\n", *name ? name : "<unset>", obj_int(p, "port", 0),
				   str_or(p, "protocol", "TCP"));
			}
		}
		wr(w, 0, "\n");
	}
	events = events_for(c, ep, true, false);
	print_events(w, events);
	json_decref(events);
}

/* ---- nodes ---------------------------------------------------------------- */

static void taint_string(const json_t *t, struct strbuf *sb)
{
	const char *key = str_or(t, "key", ""), *value = str_or(t, "value", ""), *effect = str_or(t, "effect", "");

	if (!*effect)
		strbuf_addf(sb, *value ? "%s=%s:" : "%s", key, value);
	else if (!*value)
		strbuf_addf(sb, "%s:%s", key, effect);
	else
		strbuf_addf(sb, "%s=%s:%s", key, value, effect);
}

static int cmp_taints(const void *x, const void *y)
{
	const json_t *a = *(const json_t *const *)x, *b = *(const json_t *const *)y;
	char ka[512], kb[512];

	snprintf(ka, sizeof(ka), "%s,%s", str_or(a, "effect", ""), str_or(a, "key", ""));
	snprintf(kb, sizeof(kb), "%s,%s", str_or(b, "effect", ""), str_or(b, "key", ""));
	return strcmp(ka, kb);
}

static void print_resource_list(struct ctl_tabwriter *w, const json_t *list)
{
	size_t n;
	const char **keys = keys_sorted(list, &n);

	for (size_t i = 0; i < n; i++) {
		struct strbuf sb;
		strbuf_init(&sb, 16);
		go_scalar(&sb, json_object_get(list, keys[i]));
		wr(w, 0, "  %s:\t%s\n", keys[i], sb.buf);
		strbuf_release(&sb);
	}
	free(keys);
}

/* A pod's requests and limits: containers summed, init containers as a floor. */
static void pod_requests_limits(const json_t *pod, const char *which, const char *res, struct qty *out)
{
	struct qty sum = { 0, false, false }, init_max = { 0, false, false };
	size_t i;
	json_t *ct;
	char path[64];

	snprintf(path, sizeof(path), "resources.%s", which);
	json_array_foreach(obj_get(pod, "spec.containers"), i, ct)
		qty_add(&sum, qty_of(obj_get(ct, path), res));
	json_array_foreach(obj_get(pod, "spec.initContainers"), i, ct) {
		struct qty q = qty_of(obj_get(ct, path), res);
		if (q.set && (!init_max.set || q.milli > init_max.milli))
			init_max = q;
	}
	if (init_max.set && (!sum.set || init_max.milli > sum.milli))
		sum = init_max;
	*out = sum;
}

static int64_t percent(struct qty part, struct qty whole)
{
	if (!whole.set || whole.milli == 0)
		return 0;
	return (int64_t)((double)(part.set ? part.milli : 0) / (double)whole.milli * 100.0);
}

static void describe_node(struct ctl *c, struct ctl_tabwriter *w, const json_t *node)
{
	char buf[64], buf2[64], qa[32], qb[32], qc[32], qd[32];
	const char *name = str_or(node, "metadata.name", "");
	json_t *lease = NULL, *pods = NULL, *events, *it;
	const json_t *alloc;
	struct strbuf sb;
	size_t i, n;
	int status;

	wr(w, 0, "Name:\t%s\n", name);
	{
		/* roles from node-role.kubernetes.io/<role> and kubernetes.io/role */
		const json_t *labels = obj_get(node, "metadata.labels");
		const char **keys = keys_sorted(labels, &n);
		strbuf_init(&sb, 32);
		for (i = 0; i < n; i++) {
			const char *role = NULL;
			if (str_has_prefix(keys[i], "node-role.kubernetes.io/") && keys[i][24])
				role = keys[i] + 24;
			else if (!strcmp(keys[i], "kubernetes.io/role") && *map_str(labels, keys[i]))
				role = map_str(labels, keys[i]);
			if (role && !strstr(sb.buf, role))
				strbuf_addf(&sb, "%s%s", sb.len ? "," : "", role);
		}
		free(keys);
		wr(w, 0, "Roles:\t%s\n", sb.len ? sb.buf : "<none>");
		strbuf_release(&sb);
	}
	print_labels(w, "Labels", obj_get(node, "metadata.labels"));
	print_annotations(w, "Annotations", obj_get(node, "metadata.annotations"));
	wr(w, 0, "CreationTimestamp:\t%s\n", rfc1123z(obj_str(node, "metadata.creationTimestamp"), buf, sizeof(buf)));
	{
		const json_t *taints = obj_get(node, "spec.taints");
		size_t nt = json_array_size(taints);
		const json_t **tv = xmalloc(sizeof(*tv) * (nt + 1));
		for (i = 0; i < nt; i++)
			tv[i] = json_array_get(taints, i);
		qsort(tv, nt, sizeof(*tv), cmp_taints);
		wr(w, 0, "Taints:\t");
		if (!nt)
			wr(w, 0, "<none>\n");
		for (i = 0; i < nt; i++) {
			strbuf_init(&sb, 64);
			taint_string(tv[i], &sb);
			wr(w, 0, "%s%s\n", i ? "\t" : "", sb.buf);
			strbuf_release(&sb);
		}
		free(tv);
	}
	wr(w, 0, "Unschedulable:\t%s\n", obj_bool(node, "spec.unschedulable", false) ? "true" : "false");
	{
		char *lp = ctl_kind_path(&kind_lease, "kube-node-lease", name);
		status = ctl_request(c, "GET", lp, NULL, NULL, NULL, &lease);
		free(lp);
		if (status == 200) {
			wr(w, 0, "Lease:\n");
			wr(w, 1, "HolderIdentity:\t%s\n", str_or(lease, "spec.holderIdentity", "<unset>"));
			wr(w, 1, "AcquireTime:\t%s\n", obj_str(lease, "spec.acquireTime") ?
			   rfc1123z(obj_str(lease, "spec.acquireTime"), buf, sizeof(buf)) : "<unset>");
			wr(w, 1, "RenewTime:\t%s\n", obj_str(lease, "spec.renewTime") ?
			   rfc1123z(obj_str(lease, "spec.renewTime"), buf, sizeof(buf)) : "<unset>");
		} else {
			wr(w, 0, "Lease:\tFailed to get lease: %s\n", str_or(lease, "message", "unknown error"));
		}
		json_decref(lease);
	}
	if (json_array_size(obj_get(node, "status.conditions"))) {
		json_t *cd;
		wr(w, 0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n");
		wr(w, 1, "----\t------\t-----------------\t------------------\t------\t-------\n");
		json_array_foreach(obj_get(node, "status.conditions"), i, cd)
			wr(w, 1, "%s \t%s \t%s \t%s \t%s \t%s\n", str_or(cd, "type", ""), str_or(cd, "status", ""),
			   rfc1123z(obj_str(cd, "lastHeartbeatTime"), buf, sizeof(buf)),
			   rfc1123z(obj_str(cd, "lastTransitionTime"), buf2, sizeof(buf2)), str_or(cd, "reason", ""),
			   str_or(cd, "message", ""));
	}
	wr(w, 0, "Addresses:\n");
	json_array_foreach(obj_get(node, "status.addresses"), i, it)
		wr(w, 1, "%s:\t%s\n", str_or(it, "type", ""), str_or(it, "address", ""));
	if (json_object_size(obj_get(node, "status.capacity"))) {
		wr(w, 0, "Capacity:\n");
		print_resource_list(w, obj_get(node, "status.capacity"));
	}
	if (json_object_size(obj_get(node, "status.allocatable"))) {
		wr(w, 0, "Allocatable:\n");
		print_resource_list(w, obj_get(node, "status.allocatable"));
	}
	wr(w, 0, "System Info:\n");
	{
		static const char *const info[][2] = {
			{ "Machine ID", "machineID" }, { "System UUID", "systemUUID" }, { "Boot ID", "bootID" },
			{ "Kernel Version", "kernelVersion" }, { "OS Image", "osImage" },
			{ "Operating System", "operatingSystem" }, { "Architecture", "architecture" },
			{ "Container Runtime Version", "containerRuntimeVersion" }, { "Kubelet Version", "kubeletVersion" },
			{ "Kube-Proxy Version", "kubeProxyVersion" },
		};
		const json_t *ni = obj_get(node, "status.nodeInfo");
		for (i = 0; i < ARRAY_SIZE(info); i++)
			wr(w, 0, "  %s:\t%s\n", info[i][0], str_or(ni, info[i][1], ""));
	}
	if (*str_or(node, "spec.podCIDR", ""))
		wr(w, 0, "PodCIDR:\t%s\n", obj_str(node, "spec.podCIDR"));
	if (json_array_size(obj_get(node, "spec.podCIDRs"))) {
		strbuf_init(&sb, 32);
		join_strings(obj_get(node, "spec.podCIDRs"), ",", &sb);
		wr(w, 0, "PodCIDRs:\t%s\n", sb.buf);
		strbuf_release(&sb);
	}
	if (*str_or(node, "spec.providerID", ""))
		wr(w, 0, "ProviderID:\t%s\n", obj_str(node, "spec.providerID"));

	alloc = json_object_size(obj_get(node, "status.allocatable")) ? obj_get(node, "status.allocatable")
								      : obj_get(node, "status.capacity");
	{
		char *sel = xasprintf("spec.nodeName=%s,status.phase!=Succeeded,status.phase!=Failed", name);
		char *base = ctl_kind_path(&kind_pod, NULL, NULL);
		strbuf_init(&sb, 128);
		strbuf_adds(&sb, base);
		rest_query_add(&sb, "fieldSelector", sel);
		status = ctl_request(c, "GET", sb.buf, NULL, NULL, NULL, &pods);
		strbuf_release(&sb);
		free(base);
		free(sel);
	}
	if (status == 200) {
		const json_t *items = obj_get(pods, "items");
		struct qty cpu_alloc = qty_of(alloc, "cpu"), mem_alloc = qty_of(alloc, "memory");
		struct qty eph_alloc = qty_of(alloc, "ephemeral-storage");
		struct qty tot[3][2];
		static const char *const res[] = { "cpu", "memory", "ephemeral-storage" };

		memset(tot, 0, sizeof(tot));
		wr(w, 0, "Non-terminated Pods:\t(%zu in total)\n", json_array_size(items));
		wr(w, 1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n");
		wr(w, 1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n");
		json_array_foreach(items, i, it) {
			struct qty cr, cl, mr, ml;
			pod_requests_limits(it, "requests", "cpu", &cr);
			pod_requests_limits(it, "limits", "cpu", &cl);
			pod_requests_limits(it, "requests", "memory", &mr);
			pod_requests_limits(it, "limits", "memory", &ml);
			qty_string(cr, qa, sizeof(qa));
			qty_string(cl, qb, sizeof(qb));
			qty_string(mr, qc, sizeof(qc));
			qty_string(ml, qd, sizeof(qd));
			wr(w, 1, "%s\t%s\t\t%s (%" PRId64 "%%)\t%s (%" PRId64 "%%)\t%s (%" PRId64 "%%)\t%s (%" PRId64 "%%)\t%s\n",
			   str_or(it, "metadata.namespace", ""), str_or(it, "metadata.name", ""), qa, percent(cr, cpu_alloc), qb,
			   percent(cl, cpu_alloc), qc, percent(mr, mem_alloc), qd, percent(ml, mem_alloc),
			   since(obj_str(it, "metadata.creationTimestamp"), buf, sizeof(buf)));
			for (int r = 0; r < 3; r++) {
				struct qty q;
				pod_requests_limits(it, "requests", res[r], &q);
				qty_add(&tot[r][0], q);
				pod_requests_limits(it, "limits", res[r], &q);
				qty_add(&tot[r][1], q);
			}
		}
		wr(w, 0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n");
		wr(w, 1, "Resource\tRequests\tLimits\n");
		wr(w, 1, "--------\t--------\t------\n");
		for (int r = 0; r < 3; r++) {
			struct qty a = r == 0 ? cpu_alloc : r == 1 ? mem_alloc : eph_alloc;
			qty_string(tot[r][0], qa, sizeof(qa));
			qty_string(tot[r][1], qb, sizeof(qb));
			wr(w, 1, "%s\t%s (%" PRId64 "%%)\t%s (%" PRId64 "%%)\n", res[r], qa, percent(tot[r][0], a), qb,
			   percent(tot[r][1], a));
		}
		{
			const char **keys = keys_sorted(alloc, &n);
			for (i = 0; i < n; i++) {
				struct qty rq = { 0, false, false }, lm = { 0, false, false };
				size_t j;
				json_t *p;
				if (!strchr(keys[i], '/') || str_has_prefix(keys[i], "hugepages-"))
					continue;
				json_array_foreach(items, j, p) {
					struct qty q;
					pod_requests_limits(p, "requests", keys[i], &q);
					qty_add(&rq, q);
					pod_requests_limits(p, "limits", keys[i], &q);
					qty_add(&lm, q);
				}
				qty_string(rq, qa, sizeof(qa));
				qty_string(lm, qb, sizeof(qb));
				wr(w, 1, "%s\t%s\t%s\n", keys[i], qa, qb);
			}
			free(keys);
		}
	} else {
		wr(w, 0, "Pods:\tnot authorized\n");
	}
	json_decref(pods);
	events = events_for(c, node, false, true);
	print_events(w, events);
	json_decref(events);
}

/* ---- config maps, secrets, namespaces ------------------------------------- */

static void describe_configmap(struct ctl *c, struct ctl_tabwriter *w, const json_t *cm)
{
	size_t n;
	const char **keys;
	json_t *events;

	print_common_meta(w, cm, true);
	print_labels(w, "Labels", obj_get(cm, "metadata.labels"));
	print_annotations(w, "Annotations", obj_get(cm, "metadata.annotations"));
	wr(w, 0, "\nData\n====\n");
	keys = keys_sorted(obj_get(cm, "data"), &n);
	for (size_t i = 0; i < n; i++) {
		wr(w, 0, "%s:\n----\n", keys[i]);
		wr(w, 0, "%s\n", map_str(obj_get(cm, "data"), keys[i]));
		wr(w, 0, "\n");
	}
	free(keys);
	wr(w, 0, "\nBinaryData\n====\n");
	keys = keys_sorted(obj_get(cm, "binaryData"), &n);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(map_str(obj_get(cm, "binaryData"), keys[i]));
		wr(w, 0, "%s: %zu bytes\n", keys[i], len / 4 * 3);
	}
	free(keys);
	wr(w, 0, "\n");
	events = events_for(c, cm, true, false);
	print_events(w, events);
	json_decref(events);
}

/* Bytes a base64 text decodes to. */
static size_t base64_len(const char *s)
{
	size_t n = 0, pad = 0;

	for (; *s; s++) {
		if (*s == '=')
			pad++;
		else if (!isspace((unsigned char)*s))
			n++;
	}
	n += pad;
	return n / 4 * 3 - (pad > 2 ? 2 : pad);
}

static void describe_secret(struct ctl_tabwriter *w, const json_t *s)
{
	size_t n;
	const char **keys;

	print_common_meta(w, s, true);
	print_labels(w, "Labels", obj_get(s, "metadata.labels"));
	print_annotations(w, "Annotations", obj_get(s, "metadata.annotations"));
	wr(w, 0, "\nType:\t%s\n", str_or(s, "type", ""));
	wr(w, 0, "\nData\n====\n");
	keys = keys_sorted(obj_get(s, "data"), &n);
	for (size_t i = 0; i < n; i++)
		wr(w, 0, "%s:\t%zu bytes\n", keys[i], base64_len(map_str(obj_get(s, "data"), keys[i])));
	free(keys);
}

static void describe_namespace(struct ctl_tabwriter *w, const json_t *ns)
{
	size_t i;
	json_t *cd;
	char buf[64];

	wr(w, 0, "Name:\t%s\n", str_or(ns, "metadata.name", ""));
	print_labels(w, "Labels", obj_get(ns, "metadata.labels"));
	print_annotations(w, "Annotations", obj_get(ns, "metadata.annotations"));
	wr(w, 0, "Status:\t%s\n", str_or(ns, "status.phase", ""));
	if (json_array_size(obj_get(ns, "status.conditions"))) {
		wr(w, 0, "Conditions:\n");
		wr(w, 1, "Type\tStatus\tLastTransitionTime\tReason\tMessage\n");
		wr(w, 1, "----\t------\t------------------\t------\t-------\n");
		json_array_foreach(obj_get(ns, "status.conditions"), i, cd)
			wr(w, 1, "%s\t%s\t%s\t%s\t%s\n", str_or(cd, "type", ""), str_or(cd, "status", ""),
			   rfc1123z(obj_str(cd, "lastTransitionTime"), buf, sizeof(buf)), str_or(cd, "reason", ""),
			   str_or(cd, "message", ""));
	}
}

/* ---- any other kind ------------------------------------------------------- */

/* kubectl's smartLabelFor: "apiVersion" -> "API Version", "data" -> "Data". */
static void smart_label(const char *field, struct strbuf *sb)
{
	size_t n = strlen(field), start = 0;
	static const char *const acronyms[] = { "API", "URL", "UID", "OSB", "GUID" };
	bool first = true;

	for (size_t i = 0; i < n; i++)
		if (!isalpha((unsigned char)field[i]) && field[i] != '-') {
			strbuf_adds(sb, field);
			return;
		}
	/* camelcase.Split: runs of one class; "APIVersion" -> "API" "Version" */
	while (start < n) {
		size_t end = start + 1;
		int cls = islower((unsigned char)field[start]) ? 1 : isupper((unsigned char)field[start]) ? 2 : 3;
		char part[256], up[256];
		size_t len;
		bool acr = false;

		while (end < n) {
			int c2 = islower((unsigned char)field[end]) ? 1 : isupper((unsigned char)field[end]) ? 2 : 3;
			if (c2 != cls)
				break;
			end++;
		}
		/* an upper run followed by lowercase gives its last letter away */
		if (cls == 2 && end < n && islower((unsigned char)field[end]) && end - start > 1)
			end--;
		else if (cls == 2 && end < n && islower((unsigned char)field[end])) {
			while (end < n && islower((unsigned char)field[end]))
				end++;
		}
		len = end - start < sizeof(part) - 1 ? end - start : sizeof(part) - 1;
		memcpy(part, field + start, len);
		part[len] = '\0';
		for (size_t i = 0; i <= len; i++)
			up[i] = (char)toupper((unsigned char)part[i]);
		for (size_t a = 0; a < ARRAY_SIZE(acronyms); a++)
			acr = acr || !strcmp(up, acronyms[a]);
		if (acr)
			strcpy(part, up);
		else
			part[0] = (char)toupper((unsigned char)part[0]);
		strbuf_addf(sb, "%s%s", first ? "" : " ", part);
		first = false;
		start = end;
	}
}

static bool skipped(const char *expr)
{
	static const char *const skip[] = {
		".metadata.managedFields", ".metadata.name", ".metadata.namespace", ".metadata.labels",
		".metadata.annotations",
	};
	for (size_t i = 0; i < ARRAY_SIZE(skip); i++)
		if (!strcmp(expr, skip[i]))
			return true;
	return false;
}

static void print_unstructured(struct ctl_tabwriter *w, int level, const json_t *content, const char *prefix)
{
	size_t n;
	const char **keys = keys_sorted(content, &n);

	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_object_get(content, keys[i]);
		char *expr = xasprintf("%s.%s", prefix, keys[i]);
		struct strbuf label, val;

		strbuf_init(&label, 32);
		strbuf_init(&val, 32);
		smart_label(keys[i], &label);
		if (skipped(expr)) {
			/* kubectl leaves these out: printed above */
		} else if (json_is_object(v)) {
			wr(w, level, "%s:\n", label.buf);
			print_unstructured(w, level + 1, v, expr);
		} else if (json_is_array(v)) {
			size_t j;
			json_t *child;
			wr(w, level, "%s:\n", label.buf);
			json_array_foreach(v, j, child) {
				if (json_is_object(child)) {
					print_unstructured(w, level + 1, child, expr);
				} else {
					strbuf_reset(&val);
					go_scalar(&val, child);
					wr(w, level + 1, "%s\n", val.buf);
				}
			}
		} else {
			go_scalar(&val, v);
			wr(w, level, "%s:\t%s\n", label.buf, val.buf);
		}
		strbuf_release(&label);
		strbuf_release(&val);
		free(expr);
	}
	free(keys);
}

static void describe_generic(struct ctl *c, struct ctl_tabwriter *w, const struct kind *k, const json_t *obj)
{
	json_t *events;

	wr(w, 0, "Name:\t%s\n", str_or(obj, "metadata.name", ""));
	wr(w, 0, "Namespace:\t%s\n", str_or(obj, "metadata.namespace", ""));
	print_labels(w, "Labels", obj_get(obj, "metadata.labels"));
	print_annotations(w, "Annotations", obj_get(obj, "metadata.annotations"));
	print_unstructured(w, 0, obj, "");
	events = events_for(c, obj, k->namespaced, false);
	print_events(w, events);
	json_decref(events);
}

/* ---- the verb ------------------------------------------------------------- */

/* Prints the description of obj to stdout. */
static void describe_object(struct ctl *c, const struct kind *k, const json_t *obj)
{
	struct ctl_tabwriter *w = ctl_tabwriter_new(stdout, 0, CTL_DESCRIBE_PADDING, false);

	if (k == &kind_pod)
		describe_pod(c, w, obj);
	else if (k == &kind_deployment)
		describe_deployment(c, w, obj);
	else if (k == &kind_replicaset)
		describe_replicaset(c, w, obj);
	else if (k == &kind_service)
		describe_service(c, w, obj);
	else if (k == &kind_endpoints)
		describe_endpoints(c, w, obj);
	else if (k == &kind_node)
		describe_node(c, w, obj);
	else if (k == &kind_configmap)
		describe_configmap(c, w, obj);
	else if (k == &kind_secret)
		describe_secret(w, obj);
	else if (k == &kind_namespace)
		describe_namespace(w, obj);
	else
		describe_generic(c, w, k, obj);
	ctl_tabwriter_free(w);
	fflush(stdout);
}

struct found {
	const struct kind *k;
	json_t *obj;
};

int ctl_describe(struct ctl *c, int argc, char **argv)
{
	char *labels = NULL;
	const struct flag describe_flags[] = {
		{ "selector", FLAG_STRING, &labels, "describe the objects with these labels" },
		{ "l", FLAG_STRING, &labels, "short for --selector" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), describe_flags, NULL };
	struct found *found = NULL;
	int nfound = 0, npos, rc = 1, failed = 0;
	const struct kind *k = NULL;
	bool by_prefix = false;

	ctl_expand_short_flags(argc, argv, "nlv");
	npos = flags_parse(tables, usage, argc, argv);
	if (npos < 0)
		goto out;
	if (npos == 0) {
		fprintf(stderr, "error: you must specify the type of resource to describe, e.g. `minictl describe pod "
				"web`; `minictl api-resources` lists the kinds\n");
		goto out;
	}
	if (ctl_connect(c) < 0)
		goto out;
	if (strchr(argv[1], '/') || npos > 1) {
		/* Named objects: KIND/NAME... or KIND NAME... */
		for (int i = strchr(argv[1], '/') ? 1 : 2; i <= npos; i++) {
			const char *name = argv[i], *slash = strchr(argv[i], '/');
			const struct kind *kk;
			char *path;
			json_t *obj = NULL;
			int status;

			if (slash) {
				char *kname = xstrndup(argv[i], (size_t)(slash - argv[i]));
				kk = ctl_resolve_kind(kname);
				free(kname);
				name = slash + 1;
			} else {
				kk = k ? k : (k = ctl_resolve_kind(argv[1]));
			}
			if (!kk)
				goto out;
			path = ctl_kind_path(kk, c->ns, name);
			status = ctl_request(c, "GET", path, NULL, NULL, NULL, &obj);
			free(path);
			if (status == 0 || status == 401) {
				json_decref(obj);
				goto out;
			}
			if (status == 404 && npos == 2 && !slash) {
				/* kubectl describes every object whose name starts with NAME */
				char *lp = ctl_kind_path(kk, c->ns, NULL);
				json_t *list = NULL, *it;
				size_t j;
				int before = nfound;
				if (ctl_request(c, "GET", lp, NULL, NULL, NULL, &list) == 200)
					json_array_foreach(obj_get(list, "items"), j, it)
						if (str_has_prefix(str_or(it, "metadata.name", ""), name)) {
							found = xrealloc(found, sizeof(*found) * (size_t)(nfound + 1));
							found[nfound].k = kk;
							found[nfound++].obj = json_incref(it);
						}
				json_decref(list);
				free(lp);
				if (nfound > before) {
					by_prefix = true;
					json_decref(obj);
					continue;
				}
			}
			if (status != 200) {
				ctl_print_status(obj, status);
				json_decref(obj);
				failed++;
				continue;
			}
			found = xrealloc(found, sizeof(*found) * (size_t)(nfound + 1));
			found[nfound].k = kk;
			found[nfound++].obj = obj;
		}
	} else {
		/* KIND alone: every object of the kind (with -l, the matching ones) */
		char *base;
		struct strbuf path;
		json_t *list = NULL, *it;
		size_t j;
		int status;

		k = ctl_resolve_kind(argv[1]);
		if (!k)
			goto out;
		base = ctl_kind_path(k, c->opt.all_namespaces ? NULL : c->ns, NULL);
		strbuf_init(&path, 128);
		strbuf_adds(&path, base);
		free(base);
		if (labels && *labels)
			rest_query_add(&path, "labelSelector", labels);
		status = ctl_request(c, "GET", path.buf, NULL, NULL, NULL, &list);
		strbuf_release(&path);
		if (status != 200) {
			ctl_print_status(list, status);
			json_decref(list);
			goto out;
		}
		json_array_foreach(obj_get(list, "items"), j, it) {
			found = xrealloc(found, sizeof(*found) * (size_t)(nfound + 1));
			found[nfound].k = k;
			found[nfound++].obj = json_incref(it);
		}
		json_decref(list);
		if (!nfound) {
			if (c->opt.all_namespaces || !k->namespaced)
				fprintf(stderr, "No resources found\n");
			else
				fprintf(stderr, "No resources found in %s namespace.\n", c->ns);
		}
	}
	for (int i = 0; i < nfound; i++) {
		/* kubectl separates descriptions with a blank line, or, for the
		 * ones found by name prefix, ends each with one */
		if (i && !by_prefix)
			printf("\n\n");
		describe_object(c, found[i].k, found[i].obj);
		if (by_prefix)
			printf("\n");
	}
	rc = failed ? 1 : 0;
out:
	for (int i = 0; i < nfound; i++)
		json_decref(found[i].obj);
	free(found);
	free(labels);
	return rc;
}
