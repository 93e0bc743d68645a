"""The scheduler (inside `minik8s server`) with hollow nodes: pods get bound
and Running, nodeSelector, the FailedScheduling message word for word,
cordoned nodes, spreading, a pending pod scheduled when a node appears,
hollow nodes' leases, and graceful deletion confirmed by the hollow node.

Pods are created directly (no controller manager needed). One hollow-node
process with 3 nodes serves every test; the last test starts a second
process with a different prefix."""

import atexit
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, CheckFailed, Skip, check, check_eq, run_tests, wait_for  # noqa: E402

PREFIX = "hn"
NODES = [f"{PREFIX}-{i}" for i in range(3)]
HOLLOWS = []

# With a node lifecycle controller in the server, make it quick: a node whose
# lease lapses for 15 s is marked not Ready (Kubernetes waits 50 s). Not
# less: hollow nodes renew every 10 s, and a grace shorter than that taints
# live nodes between renewals.
LIFECYCLE = "--node-monitor-grace-period" in subprocess.run(
    [BIN, "server", "--help"], capture_output=True, text=True).stdout
SERVER_ARGS = ["--node-monitor-grace-period", "15s", "--node-monitor-period", "1s"] if LIFECYCLE else []


class Hollow:
    """One `minik8s hollow-node` process against the test cluster."""

    def __init__(self, c, prefix, count, *extra):
        self.log_path = os.path.join(c.tmp, f"hollow-{prefix}.log")
        self.log = open(self.log_path, "ab")
        args = [BIN, "hollow-node", "--kubeconfig", c.kubeconfig, "--count", str(count),
                "--name-prefix", prefix] + list(extra)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=c.env())
        HOLLOWS.append(self)

    def read_log(self):
        try:
            return open(self.log_path, "rb").read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        """SIGTERM; returns the exit code (a sanitizer report makes it non-zero)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@atexit.register
def _kill_hollows():
    for h in HOLLOWS:
        if h.proc.poll() is None:
            h.proc.kill()


def pod(name, labels=None, cpu=None, **spec):
    ctr = {"name": "main", "image": "busybox:1"}
    if cpu:
        ctr["resources"] = {"requests": {"cpu": cpu}}
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"test": name}},
         "spec": {"containers": [ctr]}}
    p["spec"].update(spec)
    return p


def create(c, obj, ns="default"):
    r = c.post(f"/api/v1/namespaces/{ns}/pods", obj)
    check_eq(r.status, 201, f"create pod {obj['metadata']['name']}: {r}")
    return r.json


def get_pod(c, name, ns="default"):
    r = c.get(f"/api/v1/namespaces/{ns}/pods/{name}")
    return r.json if r.status == 200 else None


def condition(p, ctype):
    for cond in (p.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def running(c, name):
    p = get_pod(c, name)
    if not p or p["status"].get("phase") != "Running":
        return None
    ready = condition(p, "Ready")
    return p if ready and ready["status"] == "True" else None


def wait_running(c, name, timeout=20):
    return wait_for(lambda: running(c, name), timeout=timeout, what=f"pod {name} Running")


def wait_unschedulable(c, name, timeout=15):
    def cond():
        p = get_pod(c, name)
        sc = condition(p, "PodScheduled") if p else None
        return sc if sc and sc["status"] == "False" else None
    return wait_for(cond, timeout=timeout, what=f"pod {name} PodScheduled=False")


def events_for(c, name, reason):
    r = c.get("/api/v1/namespaces/default/events")
    return [e for e in r.json["items"]
            if e["involvedObject"].get("name") == name and e.get("reason") == reason]


def node_ip(c, node):
    n = c.get(f"/api/v1/nodes/{node}").json
    return [a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP"][0]


def hollow_check(what, fn):
    """Runs fn; on failure adds the hollow nodes' logs to the report."""
    try:
        return fn()
    except CheckFailed as e:
        logs = "\n".join(f"--- hollow log ---\n{h.read_log()}" for h in HOLLOWS)
        raise CheckFailed(f"{what}: {e}\n{logs}") from None


# -- tests ----------------------------------------------------------------------

def test_hollow_nodes_register(c):
    if not HOLLOWS:
        Hollow(c, PREFIX, 3, "--cpu", "4", "--memory", "16Gi", "--pods", "110")

    def all_ready():
        items = c.get("/api/v1/nodes").json["items"]
        mine = {n["metadata"]["name"]: n for n in items if n["metadata"]["name"] in NODES}
        if len(mine) != 3:
            return None
        for n in mine.values():
            ready = [x for x in n["status"]["conditions"] if x["type"] == "Ready"]
            if not ready or ready[0]["status"] != "True":
                return None
        return mine
    mine = hollow_check("hollow nodes", lambda: wait_for(all_ready, timeout=20, what="3 Ready hollow nodes"))
    n = mine[NODES[0]]
    check_eq(n["status"]["nodeInfo"]["kubeletVersion"], "v1.32.0-minik8s", "kubeletVersion")
    check_eq(n["status"]["nodeInfo"]["containerRuntimeVersion"], "hollow://1", "containerRuntimeVersion")
    check_eq(n["status"]["capacity"]["cpu"], "4", "cpu capacity")
    check_eq(n["status"]["allocatable"]["pods"], "110", "pods allocatable")
    ip = [a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP"]
    check(ip and re.match(r"^10\.\d+\.\d+\.\d+$", ip[0]), f"InternalIP {ip}")
    check_eq(n["metadata"]["labels"]["kubernetes.io/hostname"], NODES[0], "hostname label")


def test_pods_bound_and_running(c):
    for i in range(6):
        create(c, pod(f"run-{i}", labels={"app": "run"}, cpu="100m"))
    pods = [hollow_check("running", lambda i=i: wait_running(c, f"run-{i}")) for i in range(6)]
    ips = set()
    for p in pods:
        check(p["spec"]["nodeName"] in NODES, f"bound to a hollow node: {p['spec'].get('nodeName')}")
        check_eq(p["status"]["hostIP"], node_ip(c, p["spec"]["nodeName"]), "hostIP is the node's")
        check(p["status"].get("podIP"), "podIP set")
        ips.add(p["status"]["podIP"])
        check_eq(condition(p, "PodScheduled")["status"], "True", "PodScheduled")
        for t in ("Initialized", "ContainersReady"):
            check_eq(condition(p, t)["status"], "True", t)
        cs = p["status"]["containerStatuses"][0]
        check(cs["ready"] and "running" in cs["state"], f"container status {cs}")
        check(p["status"].get("startTime"), "startTime")
    check_eq(len(ips), 6, "pod IPs are unique")
    # kube-scheduler's event for each binding.
    ev = wait_for(lambda: events_for(c, "run-0", "Scheduled"), what="Scheduled event")
    check_eq(ev[0]["message"], f"Successfully assigned default/run-0 to {pods[0]['spec']['nodeName']}", "message")
    check_eq(ev[0]["source"]["component"], "default-scheduler", "source")
    check_eq(ev[0]["type"], "Normal", "type")


def test_node_selector(c):
    r = c.patch(f"/api/v1/nodes/{NODES[1]}", {"metadata": {"labels": {"disk": "ssd"}}})
    check_eq(r.status, 200, f"label node: {r}")
    for i in range(3):
        create(c, pod(f"ssd-{i}", nodeSelector={"disk": "ssd"}))
    for i in range(3):
        p = wait_running(c, f"ssd-{i}")
        check_eq(p["spec"]["nodeName"], NODES[1], f"ssd-{i} on the ssd node")
    create(c, pod("nvme", nodeSelector={"disk": "nvme"}))
    sc = wait_unschedulable(c, "nvme")
    check_eq(sc["reason"], "Unschedulable", "reason")
    check_eq(sc["message"], "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
             "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.", "message")
    c.delete("/api/v1/namespaces/default/pods/nvme")


def test_too_big_for_any_node(c):
    want = ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
            "3 No preemption victims found for incoming pod.")
    create(c, pod("huge", cpu="64"))
    sc = wait_unschedulable(c, "huge")
    check_eq(sc["reason"], "Unschedulable", "reason")
    check_eq(sc["message"], want, "PodScheduled message")
    ev = wait_for(lambda: events_for(c, "huge", "FailedScheduling"), what="FailedScheduling event")
    check_eq(ev[0]["message"], want, "event message")
    check_eq(ev[0]["type"], "Warning", "event type")
    check_eq(ev[0]["source"]["component"], "default-scheduler", "event source")
    check(get_pod(c, "huge")["spec"].get("nodeName") in (None, ""), "not bound")
    # Node affinity and cpu together: the reasons as Kubernetes sorts them.
    create(c, pod("huge-ssd", cpu="64", nodeSelector={"disk": "ssd"}))
    sc = wait_unschedulable(c, "huge-ssd")
    check_eq(sc["message"], "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node "
             "affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims found for "
             "incoming pod, 2 Preemption is not helpful for scheduling.", "mixed message")
    for n in ("huge", "huge-ssd"):
        c.delete(f"/api/v1/namespaces/default/pods/{n}")


def test_cordoned_node_avoided(c):
    r = c.patch(f"/api/v1/nodes/{NODES[0]}", {"spec": {"unschedulable": True}})
    check_eq(r.status, 200, f"cordon: {r}")
    time.sleep(0.3)  # the scheduler sees the node change through its watch
    try:
        for i in range(6):
            create(c, pod(f"cordon-{i}", labels={"app": "cordon"}))
        for i in range(6):
            p = wait_running(c, f"cordon-{i}")
            check(p["spec"]["nodeName"] != NODES[0], f"cordon-{i} went to the cordoned node")
    finally:
        c.patch(f"/api/v1/nodes/{NODES[0]}", {"spec": {"unschedulable": False}})


def test_spread_same_labels(c):
    time.sleep(0.3)  # the uncordon above reaches the scheduler
    for i in range(9):
        create(c, pod(f"spread-{i}", labels={"app": "spread", "tier": "web"}))
    counts = {n: 0 for n in NODES}
    for i in range(9):
        counts[wait_running(c, f"spread-{i}")["spec"]["nodeName"]] += 1
    check(max(counts.values()) - min(counts.values()) <= 1, f"spread evenly: {counts}")


def test_leases_renewed(c):
    lease_path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"

    def leases():
        items = {x["metadata"]["name"]: x for x in c.get(lease_path).json["items"]}
        return items if all(n in items for n in NODES) else None
    first = wait_for(leases, timeout=15, what="a lease per hollow node")
    for n in NODES:
        spec = first[n]["spec"]
        check_eq(spec["holderIdentity"], n, "holderIdentity")
        check_eq(spec["leaseDurationSeconds"], 40, "leaseDurationSeconds")
        check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", spec["renewTime"]),
              f"renewTime as MicroTime: {spec['renewTime']}")
    wait_for(lambda: leases()[NODES[0]]["spec"]["renewTime"] != first[NODES[0]]["spec"]["renewTime"],
             timeout=13, interval=0.5, what="lease renewed")


def test_hollow_confirms_deletion(c):
    create(c, pod("doomed"))
    wait_running(c, "doomed")
    r = c.delete("/api/v1/namespaces/default/pods/doomed")
    check_eq(r.status, 200, f"delete: {r}")
    check(r.json["metadata"].get("deletionTimestamp"), "graceful: marked first")
    hollow_check("deletion", lambda: wait_for(lambda: c.get("/api/v1/namespaces/default/pods/doomed").status == 404,
                                             timeout=10, what="pod gone once the hollow node confirms"))


def test_standalone_scheduler_takes_backlog(c):
    """Pods for another schedulerName wait untouched; `minik8s scheduler`
    started later with that name finds them in its first list and binds them."""
    for i in range(5):
        create(c, pod(f"second-{i}", schedulerName="second-scheduler"))
    time.sleep(0.5)
    for i in range(5):
        p = get_pod(c, f"second-{i}")
        check(not p["spec"].get("nodeName") and condition(p, "PodScheduled") is None,
              f"the default scheduler leaves second-{i} alone")
    log_path = os.path.join(c.tmp, "second-scheduler.log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([BIN, "scheduler", "--kubeconfig", c.kubeconfig, "--scheduler-name",
                                 "second-scheduler", "--scoring-strategy", "MostAllocated"],
                                stdout=log, stderr=subprocess.STDOUT, env=c.env())
    try:
        for i in range(5):
            wait_running(c, f"second-{i}")
        ev = wait_for(lambda: events_for(c, "second-0", "Scheduled"), what="Scheduled event")
        check_eq(ev[0]["source"]["component"], "second-scheduler", "events name the scheduler")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    check_eq(rc, 0, "standalone scheduler exit code:\n" + open(log_path, errors="replace").read()[-3000:])


def test_pending_until_node_appears(c):
    create(c, pod("waits", cpu="1", nodeSelector={"pool": "late"}))
    sc = wait_unschedulable(c, "waits")
    check(sc["message"].startswith("0/3 nodes are available: 3 node(s) didn't match"), sc["message"])
    late = Hollow(c, "late", 1, "--node-labels", "pool=late")
    p = hollow_check("late node", lambda: wait_running(c, "waits", timeout=20))
    check_eq(p["spec"]["nodeName"], "late-0", "scheduled to the new node")
    check_eq(condition(p, "PodScheduled")["status"], "True", "PodScheduled now True")
    check_eq(late.stop(), 0, f"second hollow-node exits cleanly:\n{late.read_log()}")


def test_stopped_hollow_node_not_ready_then_back(c):
    """A hollow-node process stops: the node lifecycle controller marks its
    node not Ready and taints it, so TaintToleration keeps new pods off; the
    process comes back, takes its node over, and the waiting pod runs there."""
    if not LIFECYCLE:
        raise Skip("this minik8s has no node lifecycle controller flags")
    gone = Hollow(c, "gone", 1)
    wait_for(lambda: c.get("/api/v1/nodes/gone-0").status == 200, what="node gone-0")
    check_eq(gone.stop(), 0, f"hollow-node exit code:\n{gone.read_log()}")

    def tainted():
        n = c.get("/api/v1/nodes/gone-0").json
        keys = {(t["key"], t["effect"]) for t in n["spec"].get("taints") or []}
        return ("node.kubernetes.io/unreachable", "NoSchedule") in keys
    wait_for(tainted, timeout=30, interval=0.2, what="gone-0 tainted unreachable")
    create(c, pod("to-gone", nodeSelector={"kubernetes.io/hostname": "gone-0"}))
    sc = wait_unschedulable(c, "to-gone")
    check("node(s) had untolerated taint {node.kubernetes.io/unreachable: }" in sc["message"], sc["message"])
    check("Preemption is not helpful for scheduling" in sc["message"], sc["message"])

    back = Hollow(c, "gone", 1)
    p = hollow_check("node back", lambda: wait_running(c, "to-gone", timeout=30))
    check_eq(p["spec"]["nodeName"], "gone-0", "scheduled once the node is back")
    check_eq(back.stop(), 0, f"hollow-node exit code:\n{back.read_log()}")


def test_zz_hollow_stops_cleanly(c):
    for h in list(HOLLOWS):
        if h.proc.poll() is None:
            check_eq(h.stop(), 0, f"hollow-node exit code:\n{h.read_log()}")


run_tests(globals(), cluster_args={"extra_args": SERVER_ARGS})
