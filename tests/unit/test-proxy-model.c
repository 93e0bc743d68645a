/*
 * Unit tests for src/proxy/model.c: which endpoints back which service
 * port (by name and protocol, ready addresses only), types, headless and
 * ExternalName Services, session affinity defaults and the LoadBalancer
 * status as read back.
 */
#include "core/util.h"
#include "proxy/model.h"
#include "testing.h"

#include <netinet/in.h>
#include <stdlib.h>

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j) {
		fprintf(stderr, "bad test json: %s\n", e.text);
		abort();
	}
	return j;
}

static int build(const char *svc, const char *eps, struct svc_model *m)
{
	json_t *s = load(svc), *e = eps ? load(eps) : NULL;
	int rc = svc_model_build(s, e, m);

	json_decref(s);
	json_decref(e);
	return rc;
}

static void test_ports_and_backends(void)
{
	struct svc_model m;

	CHECK_INT(build("{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":{\"type\":\"NodePort\","
			"\"clusterIP\":\"10.96.0.20\",\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080,"
			"\"nodePort\":30080},{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"},"
			"{\"name\":\"s\",\"port\":9,\"protocol\":\"SCTP\"}]}}",
			"{\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.1.5\"},{\"ip\":\"10.244.1.6\"}],"
			"\"notReadyAddresses\":[{\"ip\":\"10.244.1.9\"}],"
			"\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"},{\"name\":\"dns\",\"port\":5353,"
			"\"protocol\":\"UDP\"}]},"
			"{\"addresses\":[{\"ip\":\"10.244.2.7\"}],\"ports\":[{\"name\":\"http\",\"port\":8081}]},"
			"{\"addresses\":[{\"ip\":\"10.244.3.1\"}],\"ports\":[{\"name\":\"dns\",\"port\":53,\"protocol\":\"TCP\"}]},"
			"{\"addresses\":[{\"ip\":\"::1\"},{\"ip\":\"bogus\"}],\"ports\":[{\"name\":\"http\",\"port\":1}]}]}",
			&m),
		  0);
	CHECK_STR(m.ns, "shop");
	CHECK_STR(m.name, "web");
	CHECK_INT(m.type, SVC_NODE_PORT);
	CHECK_INT(m.cluster_ip, IP(10, 96, 0, 20));
	CHECK(!m.headless);
	CHECK(!m.affinity);
	CHECK_INT(m.nports, 2);
	CHECK_INT(m.skipped_ports, 1); /* SCTP is not served */
	CHECK_STR(m.ports[0].name, "http");
	CHECK_INT(m.ports[0].proto, IPPROTO_TCP);
	CHECK_INT(m.ports[0].port, 80);
	CHECK_INT(m.ports[0].node_port, 30080);
	/* ready addresses of subsets whose port has the same name and protocol */
	CHECK_INT(m.ports[0].nbackends, 3);
	CHECK_INT(m.ports[0].backends[0].ip, IP(10, 244, 1, 5));
	CHECK_INT(m.ports[0].backends[0].port, 8080);
	CHECK_INT(m.ports[0].backends[2].ip, IP(10, 244, 2, 7));
	CHECK_INT(m.ports[0].backends[2].port, 8081);
	CHECK_INT(m.ports[1].proto, IPPROTO_UDP);
	CHECK_INT(m.ports[1].node_port, 0);
	CHECK_INT(m.ports[1].nbackends, 2); /* not 10.244.3.1: its "dns" is TCP */
	CHECK_INT(m.ports[1].backends[1].port, 5353);
	svc_model_release(&m);
}

static void test_unnamed_and_empty(void)
{
	struct svc_model m;

	CHECK_INT(build("{\"metadata\":{\"name\":\"one\"},\"spec\":{\"clusterIP\":\"10.96.1.1\",\"ports\":[{\"port\":80}]}}",
			"{\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.0.9\"}],\"ports\":[{\"port\":8000}]}]}", &m),
		  0);
	CHECK_STR(m.ns, "default");
	CHECK_INT(m.type, SVC_CLUSTER_IP);
	CHECK_INT(m.nports, 1);
	CHECK_STR(m.ports[0].name, "");
	CHECK_INT(m.ports[0].nbackends, 1);
	CHECK_INT(m.ports[0].backends[0].port, 8000);
	svc_model_release(&m);

	/* no Endpoints, or Endpoints with no subsets: no backends */
	CHECK_INT(build("{\"metadata\":{\"name\":\"e\"},\"spec\":{\"clusterIP\":\"10.96.1.2\",\"ports\":[{\"port\":80}]}}",
			NULL, &m),
		  0);
	CHECK_INT(m.ports[0].nbackends, 0);
	svc_model_release(&m);
	CHECK_INT(build("{\"metadata\":{\"name\":\"e\"},\"spec\":{\"clusterIP\":\"10.96.1.2\",\"ports\":[{\"port\":80}]}}",
			"{\"subsets\":[]}", &m),
		  0);
	CHECK_INT(m.ports[0].nbackends, 0);
	svc_model_release(&m);
	/* only not-ready addresses */
	CHECK_INT(build("{\"metadata\":{\"name\":\"e\"},\"spec\":{\"clusterIP\":\"10.96.1.2\",\"ports\":[{\"port\":80}]}}",
			"{\"subsets\":[{\"notReadyAddresses\":[{\"ip\":\"10.244.0.9\"}],\"ports\":[{\"port\":80}]}]}", &m),
		  0);
	CHECK_INT(m.ports[0].nbackends, 0);
	svc_model_release(&m);
	/* no name: nothing */
	CHECK_INT(build("{\"metadata\":{},\"spec\":{}}", NULL, &m), -1);
	CHECK(m.ports == NULL);
}

static void test_types(void)
{
	struct svc_model m;

	CHECK_INT(build("{\"metadata\":{\"name\":\"h\"},\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"port\":80}]}}", NULL,
			&m),
		  0);
	CHECK(m.headless);
	CHECK_INT(m.cluster_ip, 0);
	svc_model_release(&m);
	CHECK_INT(build("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"a.b\"}}",
			NULL, &m),
		  0);
	CHECK_INT(m.type, SVC_EXTERNAL_NAME);
	CHECK_INT(m.cluster_ip, 0);
	CHECK_INT(m.nports, 0);
	svc_model_release(&m);
	CHECK_INT(build("{\"metadata\":{\"name\":\"lb\"},\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.96.2.2\","
			"\"sessionAffinity\":\"ClientIP\",\"ports\":[{\"port\":80,\"nodePort\":31000}]},"
			"\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.168.1.10\"},{\"hostname\":\"x\"},"
			"{\"ip\":\"192.168.1.11\"}]}}}",
			NULL, &m),
		  0);
	CHECK_INT(m.type, SVC_LOAD_BALANCER);
	CHECK(m.affinity);
	CHECK_INT(m.affinity_timeout_s, 10800);
	CHECK_INT(m.nlb_ingress, 2);
	CHECK_INT(m.lb_ingress[1], IP(192, 168, 1, 11));
	CHECK_INT(m.ports[0].node_port, 31000);
	svc_model_release(&m);
	CHECK_INT(build("{\"metadata\":{\"name\":\"a\"},\"spec\":{\"clusterIP\":\"10.96.2.3\",\"sessionAffinity\":\"ClientIP\","
			"\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":60}}}}",
			NULL, &m),
		  0);
	CHECK_INT(m.affinity_timeout_s, 60);
	svc_model_release(&m);
	CHECK_INT(svc_type_parse(NULL), SVC_CLUSTER_IP);
	CHECK_INT(svc_type_parse("Weird"), SVC_CLUSTER_IP);
	CHECK_STR(svc_proto_name(IPPROTO_UDP), "UDP");
}

int main(void)
{
	test_ports_and_backends();
	test_unnamed_and_empty();
	test_types();
	return test_done();
}
