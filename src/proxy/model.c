/*
 * Service + Endpoints -> struct svc_model (model.h). Endpoints are matched
 * to service ports the way kube-proxy does: by port name and protocol,
 * since the endpoints controller already resolved targetPort to a number.
 */
#include "proxy/model.h"
#include "core/object.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum svc_type svc_type_parse(const char *s)
{
	if (!s)
		return SVC_CLUSTER_IP;
	if (!strcmp(s, "NodePort"))
		return SVC_NODE_PORT;
	if (!strcmp(s, "LoadBalancer"))
		return SVC_LOAD_BALANCER;
	if (!strcmp(s, "ExternalName"))
		return SVC_EXTERNAL_NAME;
	return SVC_CLUSTER_IP;
}

const char *svc_proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "UDP" : proto == IPPROTO_SCTP ? "SCTP" : "TCP";
}

static uint8_t proto_of(const char *p)
{
	if (!p || !*p || !strcasecmp(p, "TCP"))
		return IPPROTO_TCP;
	if (!strcasecmp(p, "UDP"))
		return IPPROTO_UDP;
	return 0;
}

static int ipv4(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*ip = ntohl(a.s_addr);
	return 0;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* The ready backends of port p: addresses of subsets that list a port with
 * p's name and protocol. */
static void add_backends(struct svc_port_model *p, const json_t *eps)
{
	json_t *subsets = eps ? obj_get(eps, "subsets") : NULL, *sub;
	size_t i, alloc = 0;

	if (!json_is_array(subsets))
		return;
	json_array_foreach(subsets, i, sub) {
		json_t *ports = obj_get(sub, "ports"), *addrs = obj_get(sub, "addresses"), *ep, *a;
		int64_t port = 0;
		size_t j;

		json_array_foreach(ports, j, ep) {
			if (strcmp(str_or_empty(obj_str(ep, "name")), p->name) || proto_of(obj_str(ep, "protocol")) != p->proto)
				continue;
			port = obj_int(ep, "port", 0);
			break;
		}
		if (port <= 0 || port > 65535 || !json_is_array(addrs))
			continue;
		json_array_foreach(addrs, j, a) {
			uint32_t ip;
			if (ipv4(obj_str(a, "ip"), &ip) < 0)
				continue;
			if (p->nbackends == alloc) {
				alloc = alloc ? alloc * 2 : 4;
				p->backends = xrealloc(p->backends, alloc * sizeof(*p->backends));
			}
			p->backends[p->nbackends].ip = ip;
			p->backends[p->nbackends].port = (uint16_t)port;
			p->nbackends++;
		}
	}
}

int svc_model_build(const json_t *svc, const json_t *eps, struct svc_model *m)
{
	const char *name = obj_name(svc), *ns = obj_namespace(svc), *cip = obj_str(svc, "spec.clusterIP");
	json_t *ports = obj_get(svc, "spec.ports"), *p, *ingress = obj_get(svc, "status.loadBalancer.ingress");
	size_t i;

	memset(m, 0, sizeof(*m));
	if (!name || !*name)
		return -1;
	m->ns = xstrdup(ns && *ns ? ns : "default");
	m->name = xstrdup(name);
	m->type = svc_type_parse(obj_str(svc, "spec.type"));
	if (cip && !strcmp(cip, "None"))
		m->headless = true;
	else if (m->type != SVC_EXTERNAL_NAME && ipv4(cip, &m->cluster_ip) < 0)
		m->cluster_ip = 0;
	{
		const char *aff = obj_str(svc, "spec.sessionAffinity");
		m->affinity = aff && !strcmp(aff, "ClientIP");
		m->affinity_timeout_s =
			(uint32_t)obj_int(svc, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", 10800);
		if (m->affinity_timeout_s == 0 || m->affinity_timeout_s > 86400)
			m->affinity_timeout_s = 10800;
	}
	if (json_is_array(ports) && json_array_size(ports)) {
		m->ports = xcalloc(json_array_size(ports), sizeof(*m->ports));
		json_array_foreach(ports, i, p) {
			struct svc_port_model *sp = &m->ports[m->nports];
			int64_t port = obj_int(p, "port", 0), np = obj_int(p, "nodePort", 0);
			uint8_t proto = proto_of(obj_str(p, "protocol"));
			if (!proto || port <= 0 || port > 65535) {
				m->skipped_ports++;
				continue;
			}
			sp->name = xstrdup(str_or_empty(obj_str(p, "name")));
			sp->proto = proto;
			sp->port = (uint16_t)port;
			sp->node_port = np > 0 && np <= 65535 ? (uint16_t)np : 0;
			add_backends(sp, eps);
			m->nports++;
		}
	}
	if (json_is_array(ingress) && json_array_size(ingress)) {
		json_t *x;
		m->lb_ingress = xcalloc(json_array_size(ingress), sizeof(*m->lb_ingress));
		json_array_foreach(ingress, i, x) {
			uint32_t ip;
			if (ipv4(obj_str(x, "ip"), &ip) == 0)
				m->lb_ingress[m->nlb_ingress++] = ip;
		}
	}
	return 0;
}

void svc_model_release(struct svc_model *m)
{
	for (size_t i = 0; i < m->nports; i++) {
		free(m->ports[i].name);
		free(m->ports[i].backends);
	}
	free(m->ports);
	free(m->lb_ingress);
	free(m->ns);
	free(m->name);
	memset(m, 0, sizeof(*m));
}
