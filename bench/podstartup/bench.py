#!/usr/bin/env python3
"""bench/podstartup: how long a pod takes from create to Ready on a minik8s
kubelet, next to the same Docker calls made directly, in the same run.

    kubelet   POST N pods (spec.nodeName set) -> apiserver -> kubelet watch ->
              sandbox create/start/inspect, image check, app create/start,
              status PATCH -> the bench's watch sees Ready=True
    direct    N tasks on 32 threads (the kubelet's pod workers): sandbox
              (minik8s/pause:1 on the same network) create + start, app
              container (NetworkMode container:<sandbox>) create + start

Latency of a pod is from the moment the whole batch is submitted (the POST
of that pod for the kubelet, the batch start for direct) to Ready (to the
app container started). Prints p50, p99 and the time until all are ready,
for each N (default 20, then 100), and the ratios kubelet/direct. Kubernetes'
pod startup SLO is p99 <= 5 s (stateless pods, images present).

Run through run.sh, which builds a release binary. Needs a Docker Engine on
/var/run/docker.sock and a static busybox; cleans up what it makes.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

import dockerlib  # noqa: E402
from harness import Cluster  # noqa: E402

WORKERS = 32  # the kubelet's POD_WORKERS


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


class ReadyWatch:
    """Watches the node's pods and records when each becomes Ready."""

    def __init__(self, cluster, node):
        self.ready = {}
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        r = cluster.get(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{node}")
        rv = r.json["metadata"]["resourceVersion"]
        self.w = cluster.watch(f"/api/v1/pods?watch=1&fieldSelector=spec.nodeName%3D{node}&resourceVersion={rv}",
                               timeout=600)
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while True:
            try:
                ev = self.w.next()
            except Exception:  # noqa: BLE001 - the bench closes the stream at the end
                return
            if ev is None:
                return
            obj = ev.get("object", {})
            name = obj.get("metadata", {}).get("name")
            conds = obj.get("status", {}).get("conditions") or []
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
                with self.cond:
                    self.ready.setdefault(name, time.time())
                    self.cond.notify_all()

    def wait_all(self, names, timeout):
        deadline = time.time() + timeout
        with self.cond:
            while not all(n in self.ready for n in names):
                left = deadline - time.time()
                if left <= 0:
                    missing = [n for n in names if n not in self.ready]
                    raise RuntimeError(f"{len(missing)} pods not Ready after {timeout}s: {missing[:5]}")
                self.cond.wait(left)
            return {n: self.ready[n] for n in names}

    def close(self):
        self.w.close()


def run_kubelet(c, watch, node, image, n, tag):
    names = [f"bench-{tag}-{i}" for i in range(n)]
    sent = {}

    def create(name):
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "app", "image": image, "command": ["sleep", "3600"],
                                         "imagePullPolicy": "IfNotPresent"}]}}
        t = time.time()
        r = c.post("/api/v1/namespaces/default/pods", body)
        if r.status != 201:
            raise RuntimeError(f"create {name}: {r}")
        sent[name] = t

    t0 = time.time()
    with ThreadPoolExecutor(16) as ex:
        list(ex.map(create, names))
    ready = watch.wait_all(names, timeout=300)
    lat = [ready[nm] - sent[nm] for nm in names]
    return lat, max(ready.values()) - t0, names


def delete_pods(c, kubelet, names):
    for nm in names:
        c.delete(f"/api/v1/namespaces/default/pods/{nm}",
                 {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0})
    deadline = time.time() + 300
    while time.time() < deadline:
        if not kubelet.containers():
            return
        time.sleep(0.2)
    raise RuntimeError("the kubelet did not remove the bench pods' containers in 300s")


def run_direct(docker, network, image, n, tag):
    made = []
    lock = threading.Lock()

    def one(i):
        labels = {"io.minik8s.bench": tag}
        sb = docker.call("POST", f"/containers/create?name=bench-direct-{tag}-{i}-pod",
                         {"Image": "minik8s/pause:1", "Hostname": f"p{i}", "Labels": labels,
                          "HostConfig": {"NetworkMode": network, "IpcMode": "shareable"}})["Id"]
        with lock:
            made.append(sb)
        docker.call("POST", f"/containers/{sb}/start")
        app = docker.call("POST", f"/containers/create?name=bench-direct-{tag}-{i}-app",
                          {"Image": image, "Cmd": ["sleep", "3600"], "Labels": labels,
                           "HostConfig": {"NetworkMode": "container:" + sb, "IpcMode": "container:" + sb}})["Id"]
        with lock:
            made.append(app)
        docker.call("POST", f"/containers/{app}/start")
        return time.time()

    t0 = time.time()
    try:
        with ThreadPoolExecutor(WORKERS) as ex:
            done = list(ex.map(one, range(n)))
    finally:
        for cid in made:
            docker.remove(cid)
    lat = [d - t0 for d in done]
    return lat, max(done) - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", default="20,100", help="batch sizes, comma-separated (default 20,100)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds per batch size (default 1)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.pods.split(",") if x]

    try:
        docker = dockerlib.engine_or_skip()
    except dockerlib.Skip as e:
        log(f"bench/podstartup: {e}")
        return 2
    tmp = tempfile.mkdtemp(prefix="minik8s-bench-podstartup-")
    tag = str(os.getpid())
    image = f"minik8s-bench/busybox:{tag}"
    pause_existed = docker.image_exists("minik8s/pause:1")
    node = f"bench-{tag}"
    c = kubelet = watch = None
    results = []
    try:
        dockerlib.busybox_image(docker, image)
        cidr = dockerlib.free_pod_cidr(docker)
        c = Cluster()
        kubelet = dockerlib.Kubelet(c, docker, node, cidr, tmp=os.path.join(tmp, "kubelet"), log_level="info")
        deadline = time.time() + 30
        while time.time() < deadline:
            r = c.get(f"/api/v1/nodes/{node}")
            conds = r.json.get("status", {}).get("conditions") or [] if r.status == 200 else []
            if any(x["type"] == "Ready" and x["status"] == "True" for x in conds):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the bench node did not become Ready")
        version = docker.call("GET", "/version")["Version"]
        log(f"minik8s pod startup: Docker {version}, {os.cpu_count()} cores, kubelet pod workers {WORKERS}")
        watch = ReadyWatch(c, node)
        # One pod first: pulls nothing, but warms the caches on both paths.
        lat, _, names = run_kubelet(c, watch, node, image, 1, "warm")
        delete_pods(c, kubelet, names)
        run_direct(docker, f"minik8s-{node}", image, 1, "warm")
        for n in sizes:
            for r in range(args.rounds):
                log(f"  {n} pods, round {r + 1}: kubelet ...")
                k_lat, k_all, names = run_kubelet(c, watch, node, image, n, f"{n}-{r}")
                delete_pods(c, kubelet, names)
                log(f"  {n} pods, round {r + 1}: direct docker calls ...")
                d_lat, d_all = run_direct(docker, f"minik8s-{node}", image, n, f"{n}-{r}")
                results.append((n, k_lat, k_all, d_lat, d_all))
    finally:
        if watch:
            watch.close()
        if kubelet:
            rc = kubelet.stop()
            if rc != 0:
                log(f"kubelet exited with {rc}:\n{kubelet.read_log(3000)}")
            try:
                kubelet.cleanup()
            except Exception as e:  # noqa: BLE001 - the results are worth printing anyway
                log(f"cleanup: {e}")
        if c:
            c.cleanup()
        docker.remove_image(image)
        if not pause_existed:
            docker.remove_image("minik8s/pause:1")
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{'pods':>5} {'path':<10} {'p50':>8} {'p99':>8} {'all ready':>10}   ratio p50 / p99 / all")
    for n, k_lat, k_all, d_lat, d_all in results:
        kp50, kp99, dp50, dp99 = pct(k_lat, 50), pct(k_lat, 99), pct(d_lat, 50), pct(d_lat, 99)
        print(f"{n:>5} {'kubelet':<10} {kp50:>7.3f}s {kp99:>7.3f}s {k_all:>9.3f}s   "
              f"{kp50 / dp50:.2f}x / {kp99 / dp99:.2f}x / {k_all / d_all:.2f}x")
        print(f"{n:>5} {'direct':<10} {dp50:>7.3f}s {dp99:>7.3f}s {d_all:>9.3f}s")
    print("Kubernetes' pod startup SLO: p99 <= 5 s. Target here: within 1.3x of the direct calls.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
