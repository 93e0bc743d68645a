/*
 * From a Pod to what Docker is asked for: the environment of a container
 * (values, fieldRef, configMapKeyRef, secretKeyRef, envFrom, service links,
 * $(VAR) expansion), the create bodies of the sandbox and of app containers
 * (command/args, mounts, ports, limits, security context, labels, log
 * driver), the pod's resolv.conf per dnsPolicy and its /etc/hosts. All pure:
 * inputs in, JSON or text out, so tests/unit/test-kubelet-config.c can pin
 * every rule down.
 */
#ifndef MINIK8S_KUBELET_PODCONFIG_H
#define MINIK8S_KUBELET_PODCONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Where pod files live under the kubelet's root dir, Kubernetes' layout:
 * <root>/pods/<uid>/{etc-hosts,resolv.conf,volumes/kubernetes.io~<kind>/<name>,
 * containers/<container>/<attempt>}. */
#define PODCONFIG_EMPTYDIR "kubernetes.io~empty-dir"
#define PODCONFIG_CONFIGMAP "kubernetes.io~configmap"
#define PODCONFIG_SECRET "kubernetes.io~secret"

/* Parses a Kubernetes quantity ("500m", "128Mi", "1.5", "2e3", "1G") into
 * *out. Returns 0 or -1. */
int podconfig_quantity(const char *s, double *out);

/* A ConfigMap or Secret by namespace and name (borrowed), or NULL. resource
 * is "configmaps" or "secrets". */
typedef const json_t *(*podconfig_lookup_fn)(const char *resource, const char *ns, const char *name, void *data);

struct podconfig_env_input {
	const json_t *pod;
	const json_t *container;
	const char *pod_ip;         /* may be NULL before the sandbox has one */
	const char *host_ip;
	/* Services whose variables the pod gets when enableServiceLinks is not
	 * false (its namespace's, and `kubernetes` from default): borrowed
	 * array of Service objects, or NULL. */
	const json_t *services;
	podconfig_lookup_fn lookup;
	void *lookup_data;
};

/*
 * The container's environment as a new array of "NAME=value" strings:
 * service variables, then envFrom, then env, each later name replacing an
 * earlier one, with $(VAR) in env values expanded from what came before.
 * Returns 0, or -1 with *err (new string) saying what is missing, as
 * Kubernetes' CreateContainerConfigError: `configmap "cfg" not found`.
 */
int podconfig_env(const struct podconfig_env_input *in, json_t **out, char **err);

/* Expands $(NAME) from env ("NAME=value" array); $$ escapes a '$'; an
 * unknown $(NAME) stays as written. New string. */
char *podconfig_expand(const char *s, const json_t *env);

/* The host directory of a volume (emptyDir/configMap/secret under pod_dir,
 * hostPath as given), or NULL for a kind we do not support. New string. */
char *podconfig_volume_path(const char *pod_dir, const json_t *volume);

struct podconfig_container_input {
	const json_t *pod;
	const json_t *container;    /* the spec entry (borrowed) */
	const char *node_name;
	const char *sandbox_id;
	int attempt;
	const char *hash;
	const json_t *env;          /* from podconfig_env */
	const char *pod_dir;
	const char *termination_file; /* host file for terminationMessagePath, or NULL */
};

/* The body of POST /containers/create for an app or init container, joined
 * to the sandbox's network, IPC (and PID with shareProcessNamespace). New
 * reference, or NULL with *err (new string). */
json_t *podconfig_container(const struct podconfig_container_input *in, char **err);

struct podconfig_sandbox_input {
	const json_t *pod;
	const char *node_name;
	const char *network;        /* the pod network; ignored for hostNetwork */
	const char *image;          /* the pause image */
	int attempt;
};

/* The body of POST /containers/create for the pause container: hostname,
 * the pod network, hostPorts published. New reference. */
json_t *podconfig_sandbox(const struct podconfig_sandbox_input *in);

struct podconfig_dns_input {
	const json_t *pod;
	const char *cluster_dns;    /* "10.96.0.10"; NULL or "": none configured */
	const char *cluster_domain; /* "cluster.local" */
	const char *host_resolv;    /* the node's resolv.conf text (may be NULL) */
};

/* The pod's resolv.conf per spec.dnsPolicy and spec.dnsConfig. New string. */
char *podconfig_resolv_conf(const struct podconfig_dns_input *in);

/* The pod's /etc/hosts: localhost lines, the pod's own name (and FQDN with
 * a subdomain) at pod_ip, and hostAliases. For hostNetwork pods, host_hosts
 * (the node's file) is used instead. New string. */
char *podconfig_hosts(const json_t *pod, const char *pod_ip, const char *cluster_domain, const char *host_hosts);

/* The pod's hostname: spec.hostname or the pod name, cut to 63 bytes. New string. */
char *podconfig_hostname(const json_t *pod);

#endif
