/*
 * What the proxy makes of one Service and its Endpoints: the ports to
 * serve, where (ClusterIP, NodePort, LoadBalancer) and the ready backends
 * of each port. Pure code on JSON, so the rules (which endpoint port goes
 * with which service port, what "ready" means, the affinity defaults) are
 * tested on their own in tests/unit/test-proxy-model.c; proxy.c turns the
 * model into listeners.
 */
#ifndef MINIK8S_PROXY_MODEL_H
#define MINIK8S_PROXY_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/picker.h"

enum svc_type {
	SVC_CLUSTER_IP,
	SVC_NODE_PORT,
	SVC_LOAD_BALANCER,
	SVC_EXTERNAL_NAME,
};

struct svc_port_model {
	char *name;          /* "" for an unnamed port */
	uint8_t proto;       /* IPPROTO_TCP or IPPROTO_UDP (SCTP ports are left out) */
	uint16_t port;
	uint16_t node_port;  /* 0 when none */
	struct backend_addr *backends; /* ready endpoints serving this port */
	size_t nbackends;
};

struct svc_model {
	char *ns, *name;
	enum svc_type type;
	uint32_t cluster_ip;        /* host order; 0 when headless, ExternalName or unset */
	bool headless;
	bool affinity;              /* sessionAffinity: ClientIP */
	uint32_t affinity_timeout_s;/* default 10800, as Kubernetes */
	struct svc_port_model *ports;
	size_t nports;
	size_t skipped_ports;       /* ports of a protocol the proxy does not serve */
	uint32_t *lb_ingress;       /* status.loadBalancer.ingress[*].ip, as the object has it */
	size_t nlb_ingress;
};

/*
 * Builds the model of svc (borrowed) with its Endpoints eps (borrowed, may
 * be NULL). A backend of a service port is every ready address (subsets'
 * `addresses`, never `notReadyAddresses`) of a subset whose port has the
 * same name and protocol. Returns 0, or -1 when svc has no name (then out
 * is left empty). Release with svc_model_release.
 */
int svc_model_build(const json_t *svc, const json_t *eps, struct svc_model *out);
void svc_model_release(struct svc_model *m);

/* "LoadBalancer" -> SVC_LOAD_BALANCER, NULL or unknown -> SVC_CLUSTER_IP. */
enum svc_type svc_type_parse(const char *s);
const char *svc_proto_name(uint8_t proto);

#endif
