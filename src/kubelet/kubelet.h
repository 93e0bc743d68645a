/*
 * The kubelet component: the node agent that registers its Node, renews
 * its Lease and runs the pods bound to it as Docker containers (see
 * docs/kubelet.md). Runs alone as `minik8s kubelet`, or as a thread of
 * `minik8s server` and `minik8s agent` (src/core/component.h).
 */
#ifndef MINIK8S_KUBELET_KUBELET_H
#define MINIK8S_KUBELET_KUBELET_H

struct component;

extern const struct component kubelet_component;

/*
 * What `minik8s agent` hands the kubelet it runs, from the files the join
 * wrote: its root dir, the token its HTTPS port accepts (the apiserver's
 * credential for this node) and that port's certificate, issued by the
 * cluster CA. A flag given on the command line wins over each. Call before
 * the component starts; strings are copied.
 */
struct kubelet_agent_files {
	const char *root_dir;
	const char *token_file;
	const char *cert_file, *key_file;
};
void kubelet_set_agent_files(const struct kubelet_agent_files *f);

/* The node name and InternalIP this kubelet will register, from its flags
 * or their defaults (the hostname; the address of the default route). New
 * strings. */
char *kubelet_node_name(void);
char *kubelet_node_ip(void);
/* The Docker Engine's socket path the kubelet will use (--docker-host,
 * $DOCKER_HOST, /var/run/docker.sock), for the agent's checks. New string. */
char *kubelet_docker_socket(void);

#endif
