/*
 * `minictl cluster-info`: where the control plane answers and where the
 * cluster's own services (those in kube-system labelled
 * kubernetes.io/cluster-service=true, and the kube-dns Service that
 * `minik8s server` creates) can be reached through the apiserver's service
 * proxy, worded as kubectl's.
 */
#include "core/object.h"
#include "core/util.h"
#include "ctl/ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: minictl cluster-info\n\n"
	"Prints the address of the control plane and of the cluster services in kube-system.\n";

/* kubectl colours the names green and the links yellow on a terminal. */
static void print_service(const char *name, const char *link, bool color)
{
	if (color)
		printf("\033[0;32m%s\033[0m is running at \033[0;33m%s\033[0m\n", name, link);
	else
		printf("%s is running at %s\n", name, link);
}

/* The link kubectl shows for a Service: its load balancer, else the proxy path. */
static char *service_link(const char *server, const json_t *svc)
{
	const json_t *ingress = obj_get(svc, "status.loadBalancer.ingress"), *port;
	struct strbuf sb;
	size_t i;

	strbuf_init(&sb, 128);
	if (json_array_size(ingress) > 0) {
		const json_t *first = json_array_get(ingress, 0);
		const char *ip = obj_str(first, "ip");
		if (!ip || !*ip)
			ip = obj_str(first, "hostname") ?: "";
		json_array_foreach(obj_get(svc, "spec.ports"), i, port)
			strbuf_addf(&sb, "http://%s:%lld ", ip, (long long)obj_int(port, "port", 0));
		return strbuf_detach(&sb, NULL);
	}
	strbuf_addf(&sb, "%s/api/v1/namespaces/%s/services/", server, obj_namespace(svc) ?: "kube-system");
	port = json_array_get(obj_get(svc, "spec.ports"), 0);
	if (port) {
		/* <scheme>:<name>:<port name>, the parts that are empty left out */
		const char *pname = obj_str(port, "name") ?: "";
		bool https = !strcmp(pname, "https") || obj_int(port, "port", 0) == 443;
		if (https)
			strbuf_adds(&sb, "https:");
		strbuf_adds(&sb, obj_name(svc));
		if (*pname)
			strbuf_addf(&sb, ":%s", pname);
	} else {
		strbuf_adds(&sb, obj_name(svc));
	}
	strbuf_adds(&sb, "/proxy");
	return strbuf_detach(&sb, NULL);
}

int ctl_cluster_info(struct ctl *c, int argc, char **argv)
{
	const struct flag none[] = { { NULL, 0, NULL, NULL } };
	const struct flag *const tables[] = { ctl_global_flags(c), none, NULL };
	json_t *list = NULL, *dns = NULL, *svc;
	const char *server;
	bool color = isatty(STDOUT_FILENO), seen_dns = false;
	int n, status;
	size_t i;

	n = flags_parse(tables, usage, argc, argv);
	if (n < 0)
		return 1;
	if (n > 0) {
		if (!strcmp(argv[1], "dump"))
			fprintf(stderr, "error: `cluster-info dump` is not supported by minictl; `minictl get all -A -o "
					"yaml` and `minictl events -A` show most of what it collects\n");
		else
			fprintf(stderr, "error: unexpected arguments: [%s]\nSee 'minictl cluster-info -h' for help\n",
				argv[1]);
		return 1;
	}
	if (ctl_connect(c) < 0)
		return 1;
	server = rest_client_server(c->rest);
	status = ctl_request(c, "GET",
			     "/api/v1/namespaces/kube-system/services?labelSelector=kubernetes.io%2Fcluster-service%3Dtrue",
			     NULL, NULL, NULL, &list);
	if (status < 200 || status >= 300) {
		ctl_print_status(list, status);
		json_decref(list);
		return 1;
	}
	print_service("Kubernetes control plane", server, color);
	json_array_foreach(obj_get(list, "items"), i, svc) {
		const char *name = obj_label(svc, "kubernetes.io/name");
		char *link = service_link(server, svc);
		print_service(name && *name ? name : obj_name(svc), link, color);
		free(link);
		seen_dns |= !strcmp(obj_name(svc), "kube-dns");
	}
	/* minik8s's DNS Service does not carry the cluster-service label, which
	 * would make every kubectl list it too; show it anyway. */
	if (!seen_dns && ctl_request(c, "GET", "/api/v1/namespaces/kube-system/services/kube-dns", NULL, NULL,
				     NULL, &dns) == 200) {
		const char *name = obj_label(dns, "kubernetes.io/name");
		char *link = service_link(server, dns);
		print_service(name && *name ? name : "kube-dns", link, color);
		free(link);
	}
	printf("\nTo further debug and diagnose cluster problems, use 'minictl describe' and 'minictl events -A'.\n");
	json_decref(dns);
	json_decref(list);
	return 0;
}
