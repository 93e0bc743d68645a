/*
 * The proxy component (proxy.c): Services and cluster DNS on this node.
 * Runs alone as `minik8s proxy`, or beside the kubelet in `minik8s agent`
 * and `minik8s server` (src/core/component.h).
 */
#ifndef MINIK8S_PROXY_PROXY_H
#define MINIK8S_PROXY_PROXY_H

struct component;

extern const struct component proxy_component;

/* The node this proxy serves, when --hostname-override is not given (the
 * agent passes the kubelet's node name). Call before the component starts. */
void proxy_set_node_name(const char *name);

#endif
