/*
 * The agent component (agent.c): joins this machine to a cluster and runs
 * its kubelet, proxy and pod-network routes (docs/agent.md). Runs alone as
 * `minik8s agent`, and inside `minik8s server` over loopback.
 */
#ifndef MINIK8S_AGENT_AGENT_H
#define MINIK8S_AGENT_AGENT_H

struct component;

extern const struct component agent_component;

/* The server, join token and data dir to use when --server, --token and
 * --data-dir are not given (`minik8s server` passes its own). Call before
 * start; copied. */
void agent_set_join(const char *server, const char *token, const char *data_dir);

#endif
