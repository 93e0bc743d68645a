/*
 * v1 Endpoints, written by the endpoints controller: port protocols default
 * to TCP; each subset needs addresses, valid non-special IPs and valid ports.
 * The ENDPOINTS column shows the first three ip:port pairs and how many more,
 * as kubectl does.
 */
#include "internal.h"
#include "object.h"
#include "util.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const protocols[] = { "SCTP", "TCP", "UDP", NULL };

static void endpoints_defaults(json_t *obj)
{
	json_t *ss, *p;
	size_t i, j;

	json_array_foreach(obj_get(obj, "subsets"), i, ss) {
		json_array_foreach(json_object_get(ss, "ports"), j, p) {
			const char *proto = obj_str(p, "protocol");
			if (json_is_object(p) && (!proto || !*proto))
				json_object_set_new(p, "protocol", json_string("TCP"));
		}
	}
}

/* ValidateNonSpecialIP: addresses a proxy must never forward to. */
static const char *special_ip(const char *ip)
{
	unsigned char b[16];

	if (inet_pton(AF_INET, ip, b) == 1) {
		if (!b[0] && !b[1] && !b[2] && !b[3])
			return "may not be unspecified (0.0.0.0)";
		if (b[0] == 127)
			return "may not be in the loopback range (127.0.0.0/8, ::1/128)";
		if (b[0] == 169 && b[1] == 254)
			return "may not be in the link-local range (169.254.0.0/16, fe80::/10)";
		if (b[0] == 224 && b[1] == 0 && b[2] == 0)
			return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)";
	} else if (inet_pton(AF_INET6, ip, b) == 1) {
		static const unsigned char zero[16], loop[16] = { [15] = 1 };
		if (!memcmp(b, zero, 16))
			return "may not be unspecified (::)";
		if (!memcmp(b, loop, 16))
			return "may not be in the loopback range (127.0.0.0/8, ::1/128)";
		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
			return "may not be in the link-local range (169.254.0.0/16, fe80::/10)";
		if (b[0] == 0xff && (b[1] & 0x0f) == 0x02)
			return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)";
	}
	return NULL;
}

static void validate_address(const json_t *a, const char *path, struct field_errors *e)
{
	const char *ip = obj_str(a, "ip"), *host = obj_str(a, "hostname"), *node = obj_str(a, "nodeName");
	char *p = xasprintf("%s.ip", path);

	if (!ip_valid(ip)) {
		field_invalid_str(e, p, ip ? ip : "", MSG_INVALID_IP);
	} else if (special_ip(ip)) {
		field_invalid_str(e, p, ip, special_ip(ip));
	}
	free(p);
	if (host && *host) {
		p = xasprintf("%s.hostname", path);
		check_field_dns1123_label(e, p, host);
		free(p);
	}
	if (node) {
		p = xasprintf("%s.nodeName", path);
		check_field_dns1123_subdomain(e, p, node);
		free(p);
	}
}

static void endpoints_validate(const json_t *obj, const json_t *old, struct field_errors *e)
{
	json_t *ss, *x;
	size_t i, j;

	if (old)
		validate_object_meta_update(obj, old, e);
	validate_object_meta(obj, true, "dns1123-subdomain", e);
	json_array_foreach(obj_get(obj, "subsets"), i, ss) {
		json_t *addrs = json_object_get(ss, "addresses"), *nr = json_object_get(ss, "notReadyAddresses");
		json_t *ports = json_object_get(ss, "ports");
		char *base = xasprintf("subsets[%zu]", i), *p;

		if (json_array_size(addrs) == 0 && json_array_size(nr) == 0)
			field_required(e, base, "must specify `addresses` or `notReadyAddresses`");
		json_array_foreach(addrs, j, x) {
			p = xasprintf("%s.addresses[%zu]", base, j);
			validate_address(x, p, e);
			free(p);
		}
		json_array_foreach(nr, j, x) {
			p = xasprintf("%s.notReadyAddresses[%zu]", base, j);
			validate_address(x, p, e);
			free(p);
		}
		json_array_foreach(ports, j, x) {
			const char *name = obj_str(x, "name"), *proto = obj_str(x, "protocol");
			char *q;
			p = xasprintf("%s.ports[%zu]", base, j);
			q = xasprintf("%s.name", p);
			if (json_array_size(ports) > 1 && (!name || !*name))
				field_required(e, q, NULL);
			else if (name && *name)
				check_field_dns1123_label(e, q, name);
			free(q);
			q = xasprintf("%s.port", p);
			check_field_port_num(e, q, obj_int(x, "port", 0));
			free(q);
			q = xasprintf("%s.protocol", p);
			if (!proto || !*proto)
				field_required(e, q, NULL);
			else if (strcmp(proto, "TCP") && strcmp(proto, "UDP") && strcmp(proto, "SCTP"))
				field_not_supported(e, q, json_object_get(x, "protocol"), protocols);
			free(q);
			free(p);
		}
		free(base);
	}
}

/* IPv6 addresses get brackets, as net.JoinHostPort writes them. */
static void add_host_port(struct strbuf *sb, const char *ip, int64_t port)
{
	if (sb->len)
		strbuf_addc(sb, ',');
	if (strchr(ip, ':'))
		strbuf_addf(sb, "[%s]:%" PRId64, ip, port);
	else
		strbuf_addf(sb, "%s:%" PRId64, ip, port);
}

/* kubectl's formatEndpoints: ready addresses only, at most three shown. */
static json_t *cell_endpoints(const json_t *obj, time_t now)
{
	const int max = 3;
	json_t *subsets = obj_get(obj, "subsets"), *ss, *out;
	int shown = 0, count = 0;
	bool more = false;
	struct strbuf sb;
	size_t i;

	if (json_array_size(subsets) == 0)
		return json_string("<none>");
	strbuf_init(&sb, 64);
	json_array_foreach(subsets, i, ss) {
		json_t *addrs = json_object_get(ss, "addresses"), *ports = json_object_get(ss, "ports"), *p, *a;
		size_t j, k;

		if (json_array_size(ports) == 0) {
			count += (int)json_array_size(addrs);
			json_array_foreach(addrs, k, a) {
				if (shown == max) {
					more = true;
					break;
				}
				strbuf_addf(&sb, "%s%s", sb.len ? "," : "", obj_str(a, "ip") ? obj_str(a, "ip") : "");
				shown++;
			}
			continue;
		}
		json_array_foreach(ports, j, p) {
			count += (int)json_array_size(addrs);
			json_array_foreach(addrs, k, a) {
				if (shown == max) {
					more = true;
					break;
				}
				add_host_port(&sb, obj_str(a, "ip") ? obj_str(a, "ip") : "", obj_int(p, "port", 0));
				shown++;
			}
		}
	}
	if (more)
		strbuf_addf(&sb, " + %d more...", count - max);
	out = json_string(sb.buf);
	strbuf_release(&sb);
	return out;
}

static const struct table_column endpoints_columns[] = {
	{ "Endpoints", "string", "", "The set of all endpoints is the union of all subsets.", 0, cell_endpoints },
	AGE_COLUMN,
	{ NULL, NULL, NULL, NULL, 0, NULL },
};

static const char *const ep_short[] = { "ep", NULL };

const struct kind kind_endpoints = {
	.group = "",
	.version = "v1",
	.kind = "Endpoints",
	.plural = "endpoints",
	.singular = "endpoints",
	.namespaced = true,
	.short_names = ep_short,
	.categories = NULL,
	.subresources = NULL,
	.name_is_label = false,
	.defaults = endpoints_defaults,
	.validate = endpoints_validate,
	.columns = endpoints_columns,
	.field_value = NULL,
};
