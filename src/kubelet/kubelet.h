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
 * Tells the kubelet the data dir of the control plane it runs beside (in
 * `minik8s server`; `agent` passes its own): its HTTPS certificate is then
 * issued by the cluster CA in <dir>/pki, it accepts the apiserver's
 * credential <dir>/pki/admin.token, and its root dir defaults to
 * <dir>/kubelet. Call before the component starts. dir is copied.
 */
void kubelet_set_data_dir(const char *dir);

#endif
