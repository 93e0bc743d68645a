"""The controller manager against the real apiserver: `minik8s apiserver`
plus `minik8s controller-manager --kubeconfig F` (the classroom way of
running the control plane piece by piece). A fake kubelet in this file
plays scheduler and node: it registers a Node, renews its Lease, binds
pods to itself, marks them Running and Ready (when the test lets it) and
confirms graceful deletions with a grace-0 delete, as a kubelet does.

Covers: a Deployment of 10 reaching 10 ready; a rolling update checked
against maxSurge/maxUnavailable at every ReplicaSet and pod event; rollout
undo reusing the old ReplicaSet; scaling; Recreate; deleting a Deployment
(garbage collection, foreground and orphan propagation); Endpoints
following readiness with a named targetPort; namespace deletion; node
lifecycle (Lease stops: Unknown, taints, pods not ready, eviction) and
podCIDRs; --controllers; a clean stop (exit 0, no leaks under ASan). One
test runs the whole `minik8s server` (real scheduler) with two
`minik8s hollow-node` processes and kills one: its pods come back on the
other's nodes.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, Cluster, Skip, check, check_eq, run_tests, wait_for  # noqa: E402

GRACE_ARGS = ["--node-monitor-grace-period", "4s", "--node-monitor-period", "1s",
              "--node-startup-grace-period", "4s"]


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def now_micro():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


def write_kubeconfig(c, name):
    """A kubeconfig for the harness's apiserver (`minik8s apiserver` writes none)."""
    path = os.path.join(c.tmp, name)
    with open(path, "w") as f:
        f.write(
            "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
            f"clusters:\n- name: t\n  cluster:\n    server: {c.url}\n    certificate-authority: {c.ca}\n"
            f"users:\n- name: t\n  user:\n    token: {c.token}\n"
            "contexts:\n- name: t\n  context:\n    cluster: t\n    user: t\n")
    return path


class ControllerManager:
    """`minik8s controller-manager` as its own process, with a kubeconfig
    written for the apiserver the harness started."""

    def __init__(self, c, args=()):
        self.c = c
        self.kubeconfig = write_kubeconfig(c, "cm.kubeconfig")
        self.log_path = os.path.join(c.tmp, "cm.log")
        self.log = open(self.log_path, "ab")
        extra = os.environ.get("MINIK8S_CM_ARGS", "").split()  # e.g. "-v debug"
        self.proc = subprocess.Popen([BIN, "controller-manager", "--kubeconfig", self.kubeconfig] + list(args) + extra,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=c.env())
        wait_for(lambda: b"caches synced" in open(self.log_path, "rb").read() or self.proc.poll() is not None,
                 timeout=30, what="controller manager caches synced")
        check(self.proc.poll() is None, f"controller manager exited:\n{self.read_log()}")

    def read_log(self):
        return open(self.log_path, "rb").read().decode(errors="replace")[-8000:]

    def stop(self):
        keep = os.environ.get("MINIK8S_KEEP_CM_LOG")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if keep:  # MINIK8S_KEEP_CM_LOG=/tmp/cm.log keeps the log for a look afterwards
            with open(keep, "wb") as out:
                out.write(open(self.log_path, "rb").read())
        return self.proc.returncode


class FakeKubelet(threading.Thread):
    """One node: registers it, renews its Lease, binds unscheduled pods of
    the namespaces it serves to itself, makes them Ready (one per tick, if
    self.ready is set) and confirms deletions."""

    def __init__(self, c, node, namespaces, ready=True):
        super().__init__(daemon=True)
        self.c, self.node, self.namespaces = c, node, set(namespaces)
        self.ready = ready
        self.renew = True
        self.stopping = threading.Event()
        self.ip_seq = 1
        self.errors = []
        self.register()

    def register(self):
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node, "labels": {"kubernetes.io/hostname": self.node}},
                "status": {"capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                           "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                           "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                           "message": "kubelet is posting ready status",
                                           "lastHeartbeatTime": now_rfc3339(),
                                           "lastTransitionTime": now_rfc3339()}]}}
        r = self.c.post("/api/v1/nodes", node)
        check(r.status == 201, f"create node: {r}")
        # A merge patch: node IPAM may already have written spec.podCIDR (a PUT would conflict).
        r = self.c.patch(f"/api/v1/nodes/{self.node}/status", {"status": node["status"]})
        check(r.status == 200, f"node status: {r}")
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": self.node, "namespace": "kube-node-lease"},
                 "spec": {"holderIdentity": self.node, "leaseDurationSeconds": 40, "renewTime": now_micro()}}
        r = self.c.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease)
        check(r.status == 201, f"create lease: {r}")

    def renew_lease(self):
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.node}"
        self.c.patch(path, {"spec": {"renewTime": now_micro()}})

    def run(self):
        last_renew = 0
        while not self.stopping.is_set():
            try:
                if self.renew and time.time() - last_renew > 1:
                    self.renew_lease()
                    last_renew = time.time()
                self.tick()
            except Exception as e:  # noqa: BLE001 - keep serving; the test checks outcomes
                self.errors.append(repr(e))
            self.stopping.wait(0.1)

    def tick(self):
        r = self.c.get("/api/v1/pods")
        if r.status != 200:
            return
        made_ready = False
        for p in r.json["items"]:
            md, ns = p["metadata"], p["metadata"]["namespace"]
            if ns not in self.namespaces:
                continue
            node = p["spec"].get("nodeName")
            path = f"/api/v1/namespaces/{ns}/pods/{md['name']}"
            if not node and not md.get("deletionTimestamp"):
                self.c.post(path + "/binding", {"apiVersion": "v1", "kind": "Binding",
                                                "metadata": {"name": md["name"]},
                                                "target": {"kind": "Node", "name": self.node}})
                continue
            if node != self.node:
                continue
            if md.get("deletionTimestamp"):
                self.c.delete(path, {"gracePeriodSeconds": 0})
                continue
            if not self.ready or made_ready or is_ready(p) or p["status"].get("phase") in ("Succeeded", "Failed"):
                continue
            ip = p["status"].get("podIP") or f"10.99.{self.ip_seq // 250}.{self.ip_seq % 250 + 1}"
            self.ip_seq += 1
            t = now_rfc3339()
            self.c.patch(path + "/status", {"status": {
                "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "192.0.2.1",
                "conditions": [{"type": "Initialized", "status": "True", "lastTransitionTime": t},
                               {"type": "Ready", "status": "True", "lastTransitionTime": t},
                               {"type": "ContainersReady", "status": "True", "lastTransitionTime": t},
                               {"type": "PodScheduled", "status": "True", "lastTransitionTime": t}]}})
            made_ready = True

    def stop(self):
        self.stopping.set()
        self.join(timeout=5)


def is_ready(p):
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in p["status"].get("conditions", []))


# ---- fixtures ------------------------------------------------------------------

STATE = {}


def setup(c):
    """One controller manager and one kubelet for the whole file."""
    if STATE.get("cluster") is c:
        return STATE
    STATE.clear()
    STATE["cluster"] = c
    STATE["cm"] = ControllerManager(c, GRACE_ARGS)
    for ns in ("deploy", "gc", "ep", "doomed", "recreate"):
        r = c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        check(r.status in (201, 409), f"namespace {ns}: {r}")
    k = FakeKubelet(c, "kubelet-1", ["deploy", "gc", "ep", "doomed", "recreate"])
    k.start()
    STATE["kubelet"] = k
    return STATE


def deployment(name, replicas, image="web:v1", strategy=None, labels=None):
    labels = labels or {"app": name}
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
         "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "web", "image": image,
                                                        "ports": [{"name": "http", "containerPort": 8080}]}]}}}}
    if strategy:
        d["spec"]["strategy"] = strategy
    return d


def get(c, path):
    r = c.get(path)
    check(r.status == 200, f"GET {path}: {r}")
    return r.json


def items(c, path):
    return get(c, path)["items"]


def owned_rs(c, ns, dep):
    uid = get(c, f"/apis/apps/v1/namespaces/{ns}/deployments/{dep}")["metadata"]["uid"]
    return [rs for rs in items(c, f"/apis/apps/v1/namespaces/{ns}/replicasets")
            if any(o.get("uid") == uid and o.get("controller") for o in rs["metadata"].get("ownerReferences", []))]


def events(c, ns, reason=None):
    return [e for e in items(c, f"/api/v1/namespaces/{ns}/events") if reason is None or e["reason"] == reason]


def deployment_done(c, ns, name, replicas):
    d = get(c, f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    s = d.get("status", {})
    ok = (s.get("observedGeneration") == d["metadata"]["generation"] and s.get("replicas", 0) == replicas and
          s.get("updatedReplicas", 0) == replicas and s.get("readyReplicas", 0) == replicas and
          s.get("availableReplicas", 0) == replicas)
    return d if ok else None


class RolloutChecker(threading.Thread):
    """Watches ReplicaSets and pods of a Deployment during a rollout and
    checks, at every event: the ReplicaSets' spec.replicas add up to at most
    replicas + maxSurge, and the ready pods that are not terminating are at
    least replicas - maxUnavailable."""

    def __init__(self, c, ns, selector, replicas, max_surge, max_unavailable):
        super().__init__(daemon=True)
        self.c, self.ns = c, ns
        self.replicas, self.max_surge, self.max_unavailable = replicas, max_surge, max_unavailable
        self.rs, self.pods = {}, {}
        self.violations, self.steps = [], 0
        self.max_rs_total, self.min_ready = 0, replicas
        sel = ",".join(f"{k}={v}" for k, v in selector.items())
        for kind, store, path in (("rs", self.rs, f"/apis/apps/v1/namespaces/{ns}/replicasets"),
                                  ("pod", self.pods, f"/api/v1/namespaces/{ns}/pods")):
            lst = get(c, f"{path}?labelSelector={sel}")
            for o in lst["items"]:
                store[o["metadata"]["name"]] = o
            setattr(self, f"{kind}_watch", c.watch(
                f"{path}?watch=1&labelSelector={sel}&resourceVersion={lst['metadata']['resourceVersion']}", timeout=60))
        self.stopping = False
        self.pod_thread = threading.Thread(target=self.follow, args=(self.pod_watch, self.pods), daemon=True)

    def run(self):
        self.pod_thread.start()
        self.follow(self.rs_watch, self.rs)

    def follow(self, w, store):
        while not self.stopping:
            try:
                ev = w.next()
            except Exception:  # noqa: BLE001 - the stream closes when we stop
                return
            if ev is None:
                return
            o = ev["object"]
            if ev["type"] == "DELETED":
                store.pop(o["metadata"]["name"], None)
            elif ev["type"] in ("ADDED", "MODIFIED"):
                store[o["metadata"]["name"]] = o
            self.check()

    def check(self):
        total = sum(rs["spec"].get("replicas", 0) for rs in list(self.rs.values()))
        ready = sum(1 for p in list(self.pods.values())
                    if is_ready(p) and not p["metadata"].get("deletionTimestamp"))
        self.steps += 1
        self.max_rs_total = max(self.max_rs_total, total)
        self.min_ready = min(self.min_ready, ready)
        if total > self.replicas + self.max_surge:
            self.violations.append(f"ReplicaSets want {total} pods > {self.replicas}+{self.max_surge}")
        if ready < self.replicas - self.max_unavailable:
            self.violations.append(f"only {ready} ready pods < {self.replicas}-{self.max_unavailable}")

    def stop(self):
        self.stopping = True
        for w in (self.rs_watch, self.pod_watch):
            # Shut the socket down first: close() alone does not wake a thread blocked reading it.
            try:
                w.conn.sock.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass
            w.close()
        self.join(timeout=5)
        self.pod_thread.join(timeout=5)


# ---- tests ----------------------------------------------------------------------------

def test_deployment_of_10_becomes_ready(c):
    setup(c)
    r = c.post("/apis/apps/v1/namespaces/deploy/deployments", deployment("web", 10))
    check(r.status == 201, f"create: {r}")
    d = wait_for(lambda: deployment_done(c, "deploy", "web", 10), timeout=40, what="10 ready replicas")
    conds = {x["type"]: x for x in d["status"]["conditions"]}
    check_eq(conds["Available"]["status"], "True", "Available")
    check_eq(conds["Progressing"]["reason"], "NewReplicaSetAvailable", "Progressing reason")
    check_eq(d["metadata"]["annotations"].get("deployment.kubernetes.io/revision"), "1", "deployment revision")
    rss = owned_rs(c, "deploy", "web")
    check_eq(len(rss), 1, "replica sets")
    rs = rss[0]
    h = rs["metadata"]["labels"]["pod-template-hash"]
    check_eq(rs["metadata"]["name"], f"web-{h}", "RS name is <deployment>-<hash>")
    check_eq(rs["spec"]["selector"]["matchLabels"].get("pod-template-hash"), h, "RS selector has the hash")
    check_eq(rs["metadata"]["annotations"].get("deployment.kubernetes.io/revision"), "1", "RS revision")
    check_eq(rs["status"].get("readyReplicas"), 10, "RS readyReplicas")
    check_eq(rs["status"].get("observedGeneration"), rs["metadata"]["generation"], "RS observedGeneration")
    pods = items(c, "/api/v1/namespaces/deploy/pods?labelSelector=app%3Dweb")
    check_eq(len(pods), 10, "pods")
    for p in pods:
        ref = p["metadata"]["ownerReferences"][0]
        check(ref["uid"] == rs["metadata"]["uid"] and ref["controller"] and ref["blockOwnerDeletion"],
              f"owner reference {ref}")
        check_eq(p["metadata"].get("generateName"), f"web-{h}-", "generateName")
        check_eq(p["metadata"]["labels"].get("pod-template-hash"), h, "pod label")
    msgs = [e["message"] for e in events(c, "deploy", "ScalingReplicaSet")]
    check(f"Scaled up replica set web-{h} to 10" in msgs, f"ScalingReplicaSet events: {msgs}")
    created = events(c, "deploy", "SuccessfulCreate")
    check(created and created[0]["source"]["component"] == "replicaset-controller" and
          created[0]["message"].startswith(f"Created pod: web-{h}-"), f"SuccessfulCreate events: {created[:2]}")


def test_rolling_update_respects_surge_and_unavailable(c):
    st = setup(c)
    d = wait_for(lambda: deployment_done(c, "deploy", "web", 10), timeout=30, what="web ready")
    old = owned_rs(c, "deploy", "web")[0]
    # 10 replicas, 25%/25%: surge 3 (rounded up), unavailable 2 (rounded down).
    checker = RolloutChecker(c, "deploy", {"app": "web"}, 10, 3, 2)
    checker.start()
    st["kubelet"].ready = True
    r = c.patch("/apis/apps/v1/namespaces/deploy/deployments/web",
                {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:v2"}]}}}},
                patch_type="application/strategic-merge-patch+json")
    check(r.status == 200, f"patch: {r}")
    gen = r.json["metadata"]["generation"]
    d = wait_for(lambda: (lambda x: x if x and x["metadata"]["generation"] == gen else None)(
        deployment_done(c, "deploy", "web", 10)), timeout=60, what="rollout to web:v2")
    time.sleep(0.5)
    checker.stop()
    check(not checker.violations, f"rollout broke its bounds: {checker.violations[:5]}")
    check(checker.steps > 20, f"the checker saw only {checker.steps} events")
    check(checker.max_rs_total > 10, f"never surged (max total {checker.max_rs_total})")
    rss = {rs["metadata"]["name"]: rs for rs in owned_rs(c, "deploy", "web")}
    check_eq(len(rss), 2, "replica sets after the rollout")
    check_eq(rss[old["metadata"]["name"]]["spec"]["replicas"], 0, "old RS scaled to 0")
    new = [rs for n, rs in rss.items() if n != old["metadata"]["name"]][0]
    check_eq(new["spec"]["replicas"], 10, "new RS size")
    check_eq(new["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2", "new revision")
    check_eq(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2", "deployment revision")
    for p in items(c, "/api/v1/namespaces/deploy/pods?labelSelector=app%3Dweb"):
        check_eq(p["spec"]["containers"][0]["image"], "web:v2", "pod image")
    down = [e["message"] for e in events(c, "deploy", "ScalingReplicaSet") if "Scaled down" in e["message"]]
    check(any(m.startswith(f"Scaled down replica set {old['metadata']['name']} to ") and " from " in m for m in down),
          f"scale-down events: {down}")


def test_rollout_undo_reuses_the_old_replicaset(c):
    setup(c)
    wait_for(lambda: deployment_done(c, "deploy", "web", 10), timeout=30, what="web ready")
    before = {rs["metadata"]["name"]: rs for rs in owned_rs(c, "deploy", "web")}
    v1 = [rs for rs in before.values() if rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"]
    check_eq(len(v1), 1, "revision 1 RS")
    v1 = v1[0]
    # What `rollout undo` does: the old template (without the hash label) back into the Deployment.
    tmpl = json.loads(json.dumps(v1["spec"]["template"]))
    del tmpl["metadata"]["labels"]["pod-template-hash"]
    r = c.patch("/apis/apps/v1/namespaces/deploy/deployments/web",
                [{"op": "replace", "path": "/spec/template", "value": tmpl}], patch_type="application/json-patch+json")
    check(r.status == 200, f"undo: {r}")
    gen = r.json["metadata"]["generation"]
    wait_for(lambda: (lambda x: x if x and x["metadata"]["generation"] == gen else None)(
        deployment_done(c, "deploy", "web", 10)), timeout=60, what="rollback done")
    after = {rs["metadata"]["name"]: rs for rs in owned_rs(c, "deploy", "web")}
    check_eq(sorted(after), sorted(before), "no new ReplicaSet")
    back = after[v1["metadata"]["name"]]
    check_eq(back["metadata"]["uid"], v1["metadata"]["uid"], "same ReplicaSet object")
    check_eq(back["spec"]["replicas"], 10, "old RS back to 10")
    check_eq(back["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3", "revision 3")
    check_eq(back["metadata"]["annotations"].get("deployment.kubernetes.io/revision-history"), "1", "history")


def test_scale_down_and_up(c):
    setup(c)
    # Its own Deployment: "web" has written so many scaling events by now that the event spam
    # filter (25 per object, then one per 5 minutes, as Kubernetes') holds new ones back.
    check(c.post("/apis/apps/v1/namespaces/deploy/deployments", deployment("scaler", 10)).status == 201, "create")
    wait_for(lambda: deployment_done(c, "deploy", "scaler", 10), timeout=30, what="scaler ready")
    r = c.patch("/apis/apps/v1/namespaces/deploy/deployments/scaler", {"spec": {"replicas": 4}})
    check(r.status == 200, f"scale: {r}")
    wait_for(lambda: deployment_done(c, "deploy", "scaler", 4), timeout=30, what="4 replicas")
    wait_for(lambda: len(items(c, "/api/v1/namespaces/deploy/pods?labelSelector=app%3Dscaler")) == 4,
             timeout=20, what="4 pods left")
    rss = owned_rs(c, "deploy", "scaler")
    check_eq(len(rss), 1, "still one RS")
    name = rss[0]["metadata"]["name"]
    check_eq(rss[0]["metadata"]["annotations"].get("deployment.kubernetes.io/desired-replicas"), "4",
             "desired-replicas annotation")
    msgs = wait_for(lambda: (lambda m: m if f"Scaled down replica set {name} to 4 from 10" in m else None)(
        [e["message"] for e in events(c, "deploy", "ScalingReplicaSet")]), timeout=10, what="scale-down event")
    dels = [e for e in events(c, "deploy", "SuccessfulDelete") if e["involvedObject"]["name"] == name]
    check(dels and dels[0]["message"].startswith(f"Deleted pod: {name}-"), f"SuccessfulDelete events: {dels[:1]}")
    r = c.put("/apis/apps/v1/namespaces/deploy/deployments/scaler/scale",
              {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "scaler", "namespace": "deploy"},
               "spec": {"replicas": 6}})
    check(r.status == 200, f"scale subresource: {r}")
    wait_for(lambda: deployment_done(c, "deploy", "scaler", 6), timeout=30, what="6 replicas")
    check(msgs, "events seen")


def test_recreate_never_overlaps(c):
    st = setup(c)
    r = c.post("/apis/apps/v1/namespaces/recreate/deployments",
               deployment("db", 3, strategy={"type": "Recreate"}))
    check(r.status == 201, f"create: {r}")
    wait_for(lambda: deployment_done(c, "recreate", "db", 3), timeout=30, what="db ready")
    old = owned_rs(c, "recreate", "db")[0]
    w = c.watch("/api/v1/namespaces/recreate/pods?watch=1&resourceVersion=" +
                get(c, "/api/v1/namespaces/recreate/pods")["metadata"]["resourceVersion"], timeout=40)
    r = c.patch("/apis/apps/v1/namespaces/recreate/deployments/db",
                {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "db:v2"}]}}}},
                patch_type="application/strategic-merge-patch+json")
    check(r.status == 200, f"patch: {r}")
    pods, overlap = {}, []
    deadline = time.time() + 40
    while time.time() < deadline:
        ev = w.next()
        if ev is None:
            break
        o = ev["object"]
        if ev["type"] == "DELETED":
            pods.pop(o["metadata"]["name"], None)
        else:
            pods[o["metadata"]["name"]] = o
        hashes = {p["metadata"]["labels"]["pod-template-hash"] for p in pods.values()}
        if len(hashes) > 1:
            overlap.append(sorted(pods))
        new = [p for p in pods.values() if p["metadata"]["labels"]["pod-template-hash"] !=
               old["metadata"]["labels"]["pod-template-hash"] and is_ready(p)]
        if len(new) == 3:
            break
    w.close()
    check(not overlap, f"old and new pods existed together: {overlap[:3]}")
    wait_for(lambda: deployment_done(c, "recreate", "db", 3), timeout=30, what="db v2 ready")
    st["kubelet"].ready = True


def test_deleting_a_deployment_removes_replicasets_and_pods(c):
    setup(c)
    r = c.post("/apis/apps/v1/namespaces/gc/deployments", deployment("gone", 3))
    check(r.status == 201, f"create: {r}")
    wait_for(lambda: deployment_done(c, "gc", "gone", 3), timeout=30, what="gone ready")
    check_eq(len(owned_rs(c, "gc", "gone")), 1, "RS")
    r = c.delete("/apis/apps/v1/namespaces/gc/deployments/gone")
    check(r.status == 200, f"delete: {r}")
    wait_for(lambda: not items(c, "/apis/apps/v1/namespaces/gc/replicasets"), timeout=30, what="RS collected")
    wait_for(lambda: not items(c, "/api/v1/namespaces/gc/pods"), timeout=30, what="pods collected")


def test_foreground_and_orphan_deletion(c):
    setup(c)
    # Foreground: the Deployment stays (with its finalizer) until its ReplicaSet is gone.
    r = c.post("/apis/apps/v1/namespaces/gc/deployments", deployment("fg", 2))
    check(r.status == 201, f"create: {r}")
    wait_for(lambda: deployment_done(c, "gc", "fg", 2), timeout=30, what="fg ready")
    r = c.delete("/apis/apps/v1/namespaces/gc/deployments/fg", {"propagationPolicy": "Foreground"})
    check(r.status == 200 and "foregroundDeletion" in r.json["metadata"].get("finalizers", []), f"delete: {r}")
    wait_for(lambda: c.get("/apis/apps/v1/namespaces/gc/deployments/fg").status == 404, timeout=30,
             what="fg deployment gone")
    wait_for(lambda: not [p for p in items(c, "/api/v1/namespaces/gc/pods") if p["metadata"]["labels"].get("app") == "fg"],
             timeout=30, what="fg pods gone")
    # Orphan: the ReplicaSet goes, its pods stay, without an owner.
    r = c.post("/apis/apps/v1/namespaces/gc/deployments", deployment("orph", 2))
    check(r.status == 201, f"create: {r}")
    wait_for(lambda: deployment_done(c, "gc", "orph", 2), timeout=30, what="orph ready")
    r = c.delete("/apis/apps/v1/namespaces/gc/deployments/orph", {"propagationPolicy": "Orphan"})
    check(r.status == 200, f"delete: {r}")
    wait_for(lambda: c.get("/apis/apps/v1/namespaces/gc/deployments/orph").status == 404, timeout=30,
             what="orph deployment gone")
    rss = [rs for rs in items(c, "/apis/apps/v1/namespaces/gc/replicasets") if rs["metadata"]["labels"].get("app") == "orph"]
    check_eq(len(rss), 1, "orphaned RS kept")
    check(not rss[0]["metadata"].get("ownerReferences"), f"RS still owned: {rss[0]['metadata']}")
    pods = [p for p in items(c, "/api/v1/namespaces/gc/pods") if p["metadata"]["labels"].get("app") == "orph"]
    check_eq(len(pods), 2, "its pods kept")


def test_endpoints_follow_readiness(c):
    st = setup(c)
    k = st["kubelet"]
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "front", "labels": {"tier": "web"}},
           "spec": {"selector": {"app": "front"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
    check(c.post("/api/v1/namespaces/ep/services", svc).status == 201, "service")
    manual = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "manual"},
              "spec": {"ports": [{"port": 80}]}}
    check(c.post("/api/v1/namespaces/ep/services", manual).status == 201, "service without selector")
    check(c.post("/apis/apps/v1/namespaces/ep/deployments", deployment("front", 3)).status == 201, "deployment")
    wait_for(lambda: deployment_done(c, "ep", "front", 3), timeout=30, what="front ready")

    def addresses():
        r = c.get("/api/v1/namespaces/ep/endpoints/front")
        if r.status != 200:
            return None
        subsets = r.json.get("subsets", [])
        ready = [a for s in subsets for a in s.get("addresses", [])]
        not_ready = [a for s in subsets for a in s.get("notReadyAddresses", [])]
        return r.json, ready, not_ready

    ep, ready, _ = wait_for(lambda: (lambda a: a if a and len(a[1]) == 3 else None)(addresses()), timeout=20,
                            what="3 ready addresses")
    check_eq(ep["subsets"][0]["ports"], [{"port": 8080, "protocol": "TCP", "name": "http"}], "named targetPort")
    check_eq(ep["metadata"]["labels"].get("tier"), "web", "labels copied from the Service")
    check(all(a["targetRef"]["kind"] == "Pod" and a.get("nodeName") == "kubelet-1" for a in ready), f"{ready}")
    # One pod stops being ready: it moves to notReadyAddresses.
    k.ready = False
    pods = items(c, "/api/v1/namespaces/ep/pods?labelSelector=app%3Dfront")
    victim = pods[0]
    t = now_rfc3339()
    conds = [dict(x, status="False", lastTransitionTime=t) if x["type"] == "Ready" else x
             for x in victim["status"]["conditions"]]
    r = c.patch(f"/api/v1/namespaces/ep/pods/{victim['metadata']['name']}/status", {"status": {"conditions": conds}})
    check(r.status == 200, f"unready: {r}")
    _, ready, not_ready = wait_for(lambda: (lambda a: a if a and len(a[2]) == 1 else None)(addresses()),
                                   timeout=20, what="one not-ready address")
    check_eq(len(ready), 2, "ready addresses")
    check_eq(not_ready[0]["ip"], victim["status"]["podIP"], "the unready pod's IP")
    k.ready = True
    wait_for(lambda: (lambda a: a if a and len(a[1]) == 3 else None)(addresses()), timeout=20, what="ready again")
    check(c.get("/api/v1/namespaces/ep/endpoints/manual").status == 404, "no Endpoints for a Service without selector")
    # The Service goes: so do its Endpoints.
    check(c.delete("/api/v1/namespaces/ep/services/front").status == 200, "delete service")
    wait_for(lambda: c.get("/api/v1/namespaces/ep/endpoints/front").status == 404, timeout=20, what="endpoints deleted")


def test_namespace_deletion_empties_and_removes_it(c):
    setup(c)
    check(c.post("/apis/apps/v1/namespaces/doomed/deployments", deployment("d", 2)).status == 201, "deployment")
    check(c.post("/api/v1/namespaces/doomed/configmaps",
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "b"}}).status == 201,
          "configmap")
    check(c.post("/api/v1/namespaces/doomed/services",
                 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                  "spec": {"selector": {"app": "d"}, "ports": [{"port": 80}]}}).status == 201, "service")
    wait_for(lambda: deployment_done(c, "doomed", "d", 2), timeout=30, what="d ready")
    r = c.delete("/api/v1/namespaces/doomed")
    check(r.status == 200 and r.json["status"]["phase"] == "Terminating", f"delete ns: {r}")
    wait_for(lambda: c.get("/api/v1/namespaces/doomed").status == 404, timeout=45, what="namespace removed")
    for path in ("/api/v1/namespaces/doomed/pods", "/apis/apps/v1/namespaces/doomed/deployments",
                 "/api/v1/namespaces/doomed/configmaps", "/api/v1/namespaces/doomed/services"):
        check_eq(items(c, path), [], path)


def node_obj(c, name):
    return get(c, f"/api/v1/nodes/{name}")


def test_node_lifecycle_unknown_taints_and_eviction(c):
    setup(c)
    for ns in ("nodes",):
        c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    live = FakeKubelet(c, "live-1", [], ready=False)
    dead = FakeKubelet(c, "dead-1", ["nodes"])
    live.start()
    dead.start()
    try:
        # Node IPAM gave every node its own /24 from 10.244.0.0/16.
        cidrs = wait_for(lambda: (lambda s: s if len(s) == 3 and all(s) else None)(
            [node_obj(c, n)["spec"].get("podCIDR") for n in ("kubelet-1", "live-1", "dead-1")]),
            timeout=20, what="podCIDRs")
        check_eq(len(set(cidrs)), 3, f"distinct podCIDRs {cidrs}")
        check(all(x.startswith("10.244.") and x.endswith(".0/24") for x in cidrs), f"{cidrs}")
        # Pods on dead-1: one tolerating unreachable for 2 s, one from a ReplicaSet (the default 60 s is too
        # long for a test, so the template tolerates for 2 s too).
        tol = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": 2},
               {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": 2}]
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rsn"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "rsn"}},
                       "template": {"metadata": {"labels": {"app": "rsn"}},
                                    "spec": {"tolerations": tol, "nodeSelector": {"kubernetes.io/hostname": "dead-1"},
                                             "containers": [{"name": "c", "image": "x"}]}}}}
        check(c.post("/apis/apps/v1/namespaces/nodes/replicasets", rs).status == 201, "replicaset")
        first = wait_for(lambda: (lambda ps: ps if len(ps) == 2 and all(is_ready(p) for p in ps) else None)(
            items(c, "/api/v1/namespaces/nodes/pods")), timeout=20, what="2 ready pods on dead-1")
        check(all(p["spec"]["nodeName"] == "dead-1" for p in first), "pods on dead-1")
        first_names = {p["metadata"]["name"] for p in first}
        check_eq(len([rs for rs in items(c, "/apis/apps/v1/namespaces/nodes/replicasets")]), 1, "RS")
        # dead-1's kubelet stops: no more Lease renewals, no more confirmations.
        dead.stop()
        n = wait_for(lambda: (lambda n: n if [x for x in n["status"]["conditions"]
                                              if x["type"] == "Ready" and x["status"] == "Unknown"] else None)(
            node_obj(c, "dead-1")), timeout=20, what="dead-1 Ready=Unknown")
        ready = [x for x in n["status"]["conditions"] if x["type"] == "Ready"][0]
        check_eq(ready["reason"], "NodeStatusUnknown", "reason")
        check_eq(ready["message"], "Kubelet stopped posting node status.", "message")
        taints = wait_for(lambda: (lambda t: t if {"NoExecute", "NoSchedule"} <= {x["effect"] for x in t
                                                                                 if x["key"] == "node.kubernetes.io/unreachable"} else None)(
            node_obj(c, "dead-1")["spec"].get("taints", [])), timeout=20, what="unreachable taints")
        check(any(x.get("timeAdded") for x in taints if x["effect"] == "NoExecute"), f"timeAdded: {taints}")
        # live-1 keeps renewing and stays untainted.
        check(not node_obj(c, "live-1")["spec"].get("taints"), "live node untouched")
        # The pods were marked not ready, then evicted (graceful: they stay Terminating, as their kubelet
        # is gone), and the ReplicaSet made replacements.
        def evicted():
            ps = {p["metadata"]["name"]: p for p in items(c, "/api/v1/namespaces/nodes/pods")}
            old = [ps[x] for x in first_names if x in ps]
            return old if len(old) == 2 and all(p["metadata"].get("deletionTimestamp") for p in old) else None
        old = wait_for(evicted, timeout=20, what="pods evicted")
        for p in old:
            conds = {x["type"]: x for x in p["status"].get("conditions", [])}
            check_eq(conds["Ready"]["status"], "False", "evicted pod not ready")
            check_eq(conds.get("DisruptionTarget", {}).get("reason"), "DeletionByTaintManager", "DisruptionTarget")
        wait_for(lambda: len([p for p in items(c, "/api/v1/namespaces/nodes/pods")
                              if not p["metadata"].get("deletionTimestamp")]) == 2, timeout=20, what="replacements")
        reasons = {e["reason"] for e in items(c, "/api/v1/namespaces/nodes/events")}
        check({"TaintManagerEviction", "NodeNotReady"} <= reasons, f"pod events: {reasons}")
        node_events = [e for e in items(c, "/api/v1/namespaces/default/events")
                       if e["involvedObject"].get("name") == "dead-1"]
        check(any(e["reason"] == "NodeNotReady" and e["message"] == "Node dead-1 status is now: NodeNotReady"
                  for e in node_events), f"node events: {[(e['reason'], e['message']) for e in node_events]}")
        # The node goes for good: node IPAM frees its podCIDR, and the pod garbage collector will
        # force-delete the pods still bound to it after its 40 s quarantine (not waited for here).
        check(c.delete("/api/v1/nodes/dead-1").status == 200, "delete node")
    finally:
        live.stop()
        dead.stop()


def test_server_with_hollow_nodes_recreates_pods_of_a_dead_node(c):
    """The whole control plane (`minik8s server`: apiserver, controllers,
    scheduler) with two hollow-node processes: a Deployment of 10 becomes
    ready, then one process is killed; its nodes go Unknown and its pods are
    evicted and recreated on the other nodes. Hollow kubelets renew Leases
    every 10 s, so the grace period here is 15 s."""
    h = subprocess.run([BIN, "hollow-node", "--help"], capture_output=True, text=True, timeout=30)
    if h.returncode != 0 or "--count" not in h.stdout + h.stderr:
        raise Skip("`minik8s hollow-node` is not built into this binary")
    s = Cluster(command="server", extra_args=[
        "--node-monitor-grace-period", "15s", "--node-monitor-period", "1s",
        "--default-unreachable-toleration-seconds", "2", "--default-not-ready-toleration-seconds", "2"])
    hollows = []
    try:
        def hollow(prefix):
            log = open(os.path.join(s.tmp, f"hollow-{prefix}.log"), "ab")
            p = subprocess.Popen([BIN, "hollow-node", "--count", "2", "--name-prefix", prefix,
                                  "--kubeconfig", s.kubeconfig], stdout=log, stderr=subprocess.STDOUT, env=s.env())
            hollows.append((p, log))
            return p
        a = hollow("ha")
        hollow("hb")

        def nodes_ready():
            ns = s.get("/api/v1/nodes").json["items"]
            ok = [n for n in ns if any(x["type"] == "Ready" and x["status"] == "True"
                                       for x in n.get("status", {}).get("conditions", []))
                  and n["spec"].get("podCIDR")]
            return ns if len(ok) == 4 else None
        nodes = wait_for(nodes_ready, timeout=30, what="4 hollow nodes ready with podCIDRs")
        check_eq(len({n["spec"]["podCIDR"] for n in nodes}), 4, "distinct podCIDRs")
        check(s.post("/apis/apps/v1/namespaces/default/deployments", deployment("spread", 10)).status == 201, "create")
        wait_for(lambda: deployment_done(s, "default", "spread", 10), timeout=40, what="10 ready on hollow nodes")
        pods = items(s, "/api/v1/namespaces/default/pods?labelSelector=app%3Dspread")
        on_a = [p["metadata"]["name"] for p in pods if p["spec"]["nodeName"].startswith("ha-")]
        check(on_a, f"some pods on ha-*: {[p['spec']['nodeName'] for p in pods]}")
        a.kill()
        a.wait()

        def recovered():
            ps = items(s, "/api/v1/namespaces/default/pods?labelSelector=app%3Dspread")
            live = [p for p in ps if not p["metadata"].get("deletionTimestamp")]
            if len(live) != 10 or not all(is_ready(p) and p["spec"]["nodeName"].startswith("hb-") for p in live):
                return None
            return ps
        ps = wait_for(recovered, timeout=60, what="10 ready pods again, all on hb-*")
        gone = {p["metadata"]["name"]: p for p in ps if p["metadata"]["name"] in on_a}
        check(all(p["metadata"].get("deletionTimestamp") for p in gone.values()),
              "pods of the dead node are Terminating (or gone)")
        dead = [n for n in s.get("/api/v1/nodes").json["items"] if n["metadata"]["name"].startswith("ha-")]
        for n in dead:
            ready = [x for x in n["status"]["conditions"] if x["type"] == "Ready"][0]
            check_eq(ready["status"], "Unknown", f"{n['metadata']['name']} Ready")
            check(any(t["key"] == "node.kubernetes.io/unreachable" and t["effect"] == "NoExecute"
                      for t in n["spec"].get("taints", [])), f"{n['metadata']['name']} tainted")
        wait_for(lambda: deployment_done(s, "default", "spread", 10), timeout=20, what="deployment status 10/10")
    finally:
        for p, log in hollows:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
            log.close()
        rc = s.cleanup()
        check(rc in (0, -15), f"server exit code {rc}:\n{s.final_log}")


def test_controllers_flag(c):
    kc = write_kubeconfig(c, "flag.kubeconfig")
    p = subprocess.run([BIN, "controller-manager", "--kubeconfig", kc, "--controllers", "*,-nope"],
                       capture_output=True, text=True, timeout=30, env=c.env())
    check(p.returncode != 0 and "unknown controller '-nope'" in p.stderr, f"bad --controllers: {p.stderr}")
    # A controller that cannot start (a bad flag) stops the manager, cleanly (no leak report).
    p = subprocess.run([BIN, "controller-manager", "--kubeconfig", kc, "--cluster-cidr", "10.0.0.0/99"],
                       capture_output=True, text=True, timeout=30, env=c.env())
    check(p.returncode == 1 and "invalid --cluster-cidr '10.0.0.0/99'" in p.stderr and "Sanitizer" not in p.stderr,
          f"bad --cluster-cidr: rc={p.returncode} {p.stderr}")
    # Only the ones asked for run.
    log = os.path.join(c.tmp, "only.log")
    with open(log, "wb") as out:
        proc = subprocess.Popen([BIN, "controller-manager", "--kubeconfig", kc, "--controllers", "replicaset,endpoint"],
                                stdout=out, stderr=subprocess.STDOUT, env=c.env())
        try:
            text = wait_for(lambda: (lambda t: t if "caches synced" in t else None)(open(log).read()), timeout=30,
                            what="second controller manager up")
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
    check("controllers=replicaset-controller,endpoints-controller" in text, f"selected controllers: {text}")
    check(rc == 0, f"exit code {rc}: {open(log).read()[-3000:]}")
    p = subprocess.run([BIN, "controller-manager", "--help"], capture_output=True, text=True, timeout=30, env=c.env())
    check(p.returncode == 0 and "--node-monitor-grace-period" in p.stdout + p.stderr, "help lists the flags")


def test_zz_clean_stop(c):
    st = setup(c)
    st["kubelet"].stop()
    cm = st["cm"]
    rc = cm.stop()
    check(rc == 0, f"controller manager exit code {rc}:\n{cm.read_log()}")
    log = cm.read_log()
    check("ERROR: AddressSanitizer" not in log and "LeakSanitizer" not in log, f"sanitizer report:\n{log}")
    STATE.clear()


if __name__ == "__main__":
    run_tests(globals(), cluster_args={"command": "apiserver"})
