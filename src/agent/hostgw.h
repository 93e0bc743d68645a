/*
 * The pod network across nodes, as flannel's host-gw backend does it: every
 * node routes each other node's podCIDR to that node's InternalIP. Routes
 * are tagged with our own routing protocol number, so the agent finds and
 * removes the ones it made (and nothing else) as nodes come and go:
 *
 *   ip route show proto 77      # what this agent added
 */
#ifndef MINIK8S_AGENT_HOSTGW_H
#define MINIK8S_AGENT_HOSTGW_H

#define HOSTGW_RTPROTO 77

struct component;

extern const struct component hostgw_component;

/* This node's name (its own podCIDR needs no route). Call before start. */
void hostgw_set_node_name(const char *name);

#endif
