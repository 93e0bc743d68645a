#!/usr/bin/env python3
"""The kubelet on the real Docker Engine: one `minik8s server
--disable-agent` (tests/integration/harness.py), one `minik8s kubelet` with
its own node name, pod CIDR and root dir, and a busybox image imported from
the machine's static busybox (no registry). Pods are bound by setting
spec.nodeName, so no scheduler is involved.

Covers: two containers sharing localhost; env (values, fieldRef,
configMapKeyRef, secretKeyRef, envFrom, $(VAR)) and volumes (emptyDir,
configMap, secret, hostPath) seen inside; limits and runAsUser; a crash
loop whose backoff grows; readiness and liveness probes; graceful
termination (preStop, the grace period observed, SIGKILL after it);
container logs through the kubelet API (tail, timestamps, follow,
previous); kill -9 of the kubelet mid-sync and a restart that adopts
exactly the desired containers and removes those of a pod deleted
meanwhile; deleting a pod removes its containers; a missing image gives
ErrImagePull then ImagePullBackOff and recovers when the image appears.

Exit 77 when no engine answers on /var/run/docker.sock or there is no
static busybox. Everything made here (containers, the pod network, images,
iptables rules) is removed at the end, also on failure. TEST_ONLY=<part of
a name> runs some tests only.
"""

import base64
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from harness import CheckFailed, Cluster, check, check_eq, wait_for  # noqa: E402
import dockerlib  # noqa: E402
from dockerlib import Kubelet, Skip, busybox_image, engine_or_skip, free_pod_cidr  # noqa: E402

NS = "default"


class Env:
    pass


E = Env()


# ---- helpers --------------------------------------------------------------------------------

def pod_body(name, containers, **spec):
    s = {"nodeName": E.node, "terminationGracePeriodSeconds": 2, "containers": containers}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS}, "spec": s}


def container(name, script, **kw):
    c = {"name": name, "image": E.image, "command": ["sh", "-c", script]}
    c.update(kw)
    return c


def create(obj, plural="pods"):
    r = E.c.post(f"/api/v1/namespaces/{NS}/{plural}", obj)
    check(r.status == 201, f"create {plural}/{obj['metadata']['name']}: {r}")
    return r.json


def get_pod(name):
    r = E.c.get(f"/api/v1/namespaces/{NS}/pods/{name}")
    return r.json if r.status == 200 else None


def delete_pod(name, grace=None):
    body = None if grace is None else {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": grace}
    r = E.c.delete(f"/api/v1/namespaces/{NS}/pods/{name}", body)
    check(r.status in (200, 202, 404), f"delete pod {name}: {r}")


def cstatus(pod, name, init=False):
    for s in (pod or {}).get("status", {}).get("initContainerStatuses" if init else "containerStatuses", []):
        if s["name"] == name:
            return s
    return None


def cond(pod, ctype):
    for c in (pod or {}).get("status", {}).get("conditions", []):
        if c["type"] == ctype:
            return c["status"]
    return None


def wait_running(name, timeout=30, ready=True):
    def ok():
        p = get_pod(name)
        if not p or p["status"].get("phase") != "Running":
            return None
        if ready and cond(p, "Ready") != "True":
            return None
        return p
    return wait_for(ok, timeout=timeout, interval=0.1, what=f"pod {name} running")


def events(name):
    r = E.c.get(f"/api/v1/namespaces/{NS}/events")
    return [e for e in r.json.get("items", []) if e["involvedObject"].get("name") == name]


def has_event(name, reason, text=""):
    return any(e["reason"] == reason and text in e.get("message", "") for e in events(name))


def pod_containers(uid):
    return E.docker.containers(label=f"io.kubernetes.pod.uid={uid}")


def logs(pod, c, query="", token=True):
    status, body = E.kubelet.api(f"/containerLogs/{NS}/{pod}/{c}{query}", token=token)
    return status, body.decode(errors="replace")


def exec_in(pod, cname, cmd):
    p = get_pod(pod)
    cid = cstatus(p, cname)["containerID"].split("://", 1)[1]
    code, out = E.docker.exec(cid, cmd)
    return code, out.decode(errors="replace")


# ---- tests ------------------------------------------------------------------------------------

def test_two_containers_share_localhost():
    create(pod_body("web", [
        container("server", "mkdir -p /www; echo hello-from-server > /www/index.html; exec httpd -f -p 8080 -h /www"),
        container("client", "for i in $(seq 1 100); do wget -qO- http://127.0.0.1:8080/ && break; sleep 0.2; done; "
                            "echo client-done; exec sleep 3600"),
    ]))
    p = wait_running("web")
    uid = p["metadata"]["uid"]
    ip = p["status"]["podIP"]
    net = E.pod_cidr.rsplit(".", 2)[0]
    check(ip.startswith(net + "."), f"pod IP {ip} in {E.pod_cidr}")
    check_eq(p["status"]["hostIP"], p["status"]["hostIPs"][0]["ip"], "hostIPs")
    check(p["status"].get("startTime"), "startTime set")
    wait_for(lambda: "hello-from-server" in logs("web", "client")[1], timeout=20, what="client reached localhost:8080")
    # dockershim names and labels; app containers join the sandbox's network
    cs = pod_containers(uid)
    names = sorted(c["Names"][0].lstrip("/") for c in cs)
    check_eq(names, sorted([f"k8s_POD_web_{NS}_{uid}_0", f"k8s_client_web_{NS}_{uid}_0", f"k8s_server_web_{NS}_{uid}_0"]),
             "container names")
    sandbox = [c for c in cs if c["Labels"].get("io.kubernetes.docker.type") == "podsandbox"][0]
    for c in cs:
        check_eq(c["Labels"]["io.kubernetes.pod.name"], "web", "pod name label")
        check_eq(c["Labels"]["io.kubernetes.pod.namespace"], NS, "namespace label")
        if c["Id"] != sandbox["Id"]:
            info = E.docker.inspect(c["Id"])
            check_eq(info["HostConfig"]["NetworkMode"], "container:" + sandbox["Id"], "joined the sandbox")
            check_eq(info["HostConfig"]["LogConfig"], {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "5"}},
                     "log driver")
    st = cstatus(p, "server")
    check(st["containerID"].startswith("docker://"), "containerID")
    check(st["imageID"].startswith("docker://sha256:"), "imageID")
    check(st["ready"] and st["started"] and "running" in st["state"], f"server status {st}")
    # hostname, /etc/hosts, resolv.conf (ClusterFirst)
    _, out = exec_in("web", "client", ["sh", "-c", "hostname; cat /etc/hosts; cat /etc/resolv.conf"])
    check(out.startswith("web\n"), f"hostname is the pod name: {out[:40]!r}")
    check(re.search(rf"^{re.escape(ip)}\s+web$", out, re.M), f"/etc/hosts names the pod: {out}")
    check("nameserver 10.96.0.10" in out and f"search {NS}.svc.cluster.local svc.cluster.local cluster.local" in out
          and "options ndots:5" in out, f"resolv.conf: {out}")
    for reason in ("Pulled", "Created", "Started"):
        check(has_event("web", reason), f"a {reason} event")


def test_env_and_volumes():
    create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": NS},
            "data": {"greeting": "hello", "app.conf": "a=1\n"}}, "configmaps")
    create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec", "namespace": NS},
            "data": {"password": base64.b64encode(b"s3cret").decode()}}, "secrets")
    hostdir = os.path.join(E.tmp, "hostpath")
    env = [{"name": "PLAIN", "value": "v1"},
           {"name": "EXPANDED", "value": "$(PLAIN)-x"},
           {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
           {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
           {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
           {"name": "MY_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
           {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}},
           {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}}]
    mounts = [{"name": "scratch", "mountPath": "/scratch"}, {"name": "cfgvol", "mountPath": "/etc/cfg"},
              {"name": "secvol", "mountPath": "/etc/sec"}, {"name": "host", "mountPath": "/host"}]
    create(pod_body("envvol", [
        container("writer", "echo shared > /scratch/x; exec sleep 3600", volumeMounts=[mounts[0]]),
        container("reader", "sleep 1; env | sort; echo ===; pwd; cat /scratch/x; cat /etc/cfg/greeting; echo; "
                            "cat /etc/cfg/app.conf; cat /etc/sec/password; echo; echo marker > /host/from-pod; "
                            "echo done; exec sleep 3600",
                  env=env, envFrom=[{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}], workingDir="/tmp",
                  volumeMounts=mounts,
                  resources={"limits": {"memory": "64Mi", "cpu": "500m"}}),
        container("nobody", "id -u; exec sleep 3600", securityContext={"runAsUser": 65534}),
    ], volumes=[{"name": "scratch", "emptyDir": {}}, {"name": "cfgvol", "configMap": {"name": "cfg"}},
                {"name": "secvol", "secret": {"secretName": "sec"}},
                {"name": "host", "hostPath": {"path": hostdir, "type": "DirectoryOrCreate"}}]))
    p = wait_running("envvol")
    out = wait_for(lambda: (lambda o: o if "done" in o else None)(logs("envvol", "reader")[1]), timeout=20,
                   what="reader output")
    want = {"PLAIN": "v1", "EXPANDED": "v1-x", "MY_NAME": "envvol", "MY_NS": NS, "MY_IP": p["status"]["podIP"],
            "MY_NODE": E.node, "GREETING": "hello", "PASSWORD": "s3cret", "CFG_greeting": "hello"}
    for k, v in want.items():
        check(f"\n{k}={v}\n" in "\n" + out, f"env {k}={v} in:\n{out}")
    after = out.split("===\n", 1)[1].splitlines()
    check_eq(after[:6], ["/tmp", "shared", "hello", "a=1", "s3cret", "done"], "workingDir and volume contents")
    check(open(os.path.join(hostdir, "from-pod")).read() == "marker\n", "hostPath written from the pod")
    check_eq(logs("envvol", "nobody")[1].strip(), "65534", "runAsUser")
    info = E.docker.inspect(cstatus(p, "reader")["containerID"].split("://")[1])
    check_eq(info["HostConfig"]["Memory"], 64 << 20, "memory limit")
    check_eq(info["HostConfig"]["NanoCpus"], 500_000_000, "cpu limit")


def docker_time(s):
    """Docker's RFC 3339 with nanoseconds to float seconds."""
    import datetime
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", s)
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()
    return t + float(m.group(2) or 0)


def test_crash_loop_backoff():
    create(pod_body("crash", [container("c", "echo crashing; exit 3")]))
    uid = wait_for(lambda: (get_pod("crash") or {}).get("metadata", {}).get("uid"), what="pod uid")
    created, finished = {}, {}
    saw_backoff = False
    deadline = time.time() + 40
    # The engine's own timestamps of each instance (its attempt is a label):
    # the wait before attempt n+1 is its creation minus attempt n's end.
    while time.time() < deadline and len(created) < 5:
        for c in pod_containers(uid):
            attempt = c["Labels"].get("io.kubernetes.container.restartCount")
            if c["Labels"].get("io.kubernetes.container.name") != "c" or attempt is None:
                continue
            a = int(attempt)
            if a not in created or (c["State"] == "exited" and a not in finished):
                try:
                    info = E.docker.inspect(c["Id"])
                except dockerlib.DockerError:
                    continue
                created[a] = docker_time(info["Created"])
                if info["State"]["Status"] == "exited":
                    finished[a] = docker_time(info["State"]["FinishedAt"])
        st = cstatus(get_pod("crash"), "c")
        if st and st["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff":
            saw_backoff = True
            check_eq(st["lastState"]["terminated"]["exitCode"], 3, "last exit code")
        time.sleep(0.05)
    check(len(created) >= 5 and all(a in finished for a in range(4)),
          f"five instances seen (created {sorted(created)}, finished {sorted(finished)})")
    waits = [created[a + 1] - finished[a] for a in range(4)]
    # --crashloop-initial-backoff 1s, max 4s: at once, then 1s, 2s, 4s
    check(waits[0] < 0.9, f"the first restart is immediate: {waits}")
    check(0.9 <= waits[1] < 2.0 and 1.9 <= waits[2] < 3.5 and 3.9 <= waits[3] < 6.0,
          f"backoff doubles to the 4s cap: {waits}")
    check(get_pod("crash")["status"]["containerStatuses"][0]["restartCount"] >= 4, "restartCount counts restarts")
    check(saw_backoff, "CrashLoopBackOff reported")
    check_eq(get_pod("crash")["status"]["phase"], "Running", "phase of a crash-looping pod")
    check(has_event("crash", "BackOff", "Back-off restarting failed container"), "BackOff event")
    status, prev = logs("crash", "c", "?previous=true")
    check(status == 200 and "crashing" in prev, f"logs --previous: {status} {prev!r}")
    # dead instances beyond the newest dead one are removed
    uid = get_pod("crash")["metadata"]["uid"]
    apps = [c for c in pod_containers(uid) if c["Labels"].get("io.kubernetes.container.name") == "c"]
    check(len(apps) <= 2, f"at most the newest dead and the current instance: {[c['Names'] for c in apps]}")


def test_readiness_and_liveness():
    create(pod_body("probes", [
        container("web", "sleep 3; mkdir -p /www; echo ok > /www/index.html; exec httpd -f -p 8080 -h /www",
                  readinessProbe={"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}),
        container("tcp", "exec httpd -f -p 9090 -h /tmp",
                  readinessProbe={"tcpSocket": {"port": 9090}, "periodSeconds": 1}),
        container("live", "touch /tmp/alive; sleep 4; rm /tmp/alive; exec sleep 3600",
                  livenessProbe={"exec": {"command": ["test", "-f", "/tmp/alive"]}, "periodSeconds": 1,
                                 "failureThreshold": 2}),
    ]))
    p = wait_running("probes", ready=False)
    check(not cstatus(p, "web")["ready"], "web is not ready before its server listens")
    check(cond(p, "Ready") != "True", "pod not Ready while web is not")
    wait_for(lambda: cstatus(get_pod("probes"), "web")["ready"], timeout=15, what="web ready")
    wait_for(lambda: cstatus(get_pod("probes"), "tcp")["ready"], timeout=10, what="tcp ready")
    wait_for(lambda: cstatus(get_pod("probes"), "live")["restartCount"] >= 1, timeout=20,
             what="liveness failure restarts the container")
    check(has_event("probes", "Unhealthy", "Liveness probe failed"), "Unhealthy event")
    check(has_event("probes", "Killing", "failed liveness probe"), "Killing event names the probe")
    wait_for(lambda: cond(get_pod("probes"), "Ready") == "True", timeout=15, what="pod Ready again")


def test_graceful_termination():
    hostdir = os.path.join(E.tmp, "prestop")
    os.makedirs(hostdir, exist_ok=True)
    create(pod_body("polite", [
        container("app", "trap 'echo got-term; sleep 2; exit 0' TERM; while true; do sleep 0.2; done",
                  volumeMounts=[{"name": "host", "mountPath": "/host"}],
                  lifecycle={"preStop": {"exec": {"command": ["sh", "-c", "echo prestop > /host/prestop-ran"]}}}),
    ], terminationGracePeriodSeconds=10, volumes=[{"name": "host", "hostPath": {"path": hostdir}}]))
    create(pod_body("stubborn", [container("app", "trap '' TERM; while true; do sleep 0.2; done")],
                    terminationGracePeriodSeconds=3))
    polite = wait_running("polite")
    stubborn = wait_running("stubborn")
    t0 = time.time()
    delete_pod("polite")
    delete_pod("stubborn")
    gone = {}
    while time.time() - t0 < 20 and len(gone) < 2:
        for name in ("polite", "stubborn"):
            if name not in gone and get_pod(name) is None:
                gone[name] = time.time() - t0
        time.sleep(0.05)
    check(len(gone) == 2, f"both pods deleted: {gone}")
    check(2.0 <= gone["polite"] < 8.0, f"polite pod exits after its 2 s TERM handler: {gone['polite']:.1f}s")
    check(2.8 <= gone["stubborn"] < 8.0, f"stubborn pod killed at its 3 s grace: {gone['stubborn']:.1f}s")
    check(os.path.exists(os.path.join(hostdir, "prestop-ran")), "the preStop hook ran")
    for p in (polite, stubborn):
        wait_for(lambda: not pod_containers(p["metadata"]["uid"]), timeout=10,
                 what=f"containers of {p['metadata']['name']} removed")
    check(has_event("polite", "Killing"), "Killing event")


def test_logs():
    create(pod_body("logger", [container("c", "for i in 1 2 3 4 5; do echo line-$i; done; i=0; "
                                              "while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done")]))
    wait_running("logger")
    time.sleep(1)
    status, out = logs("logger", "c", "?tailLines=2")
    check(status == 200 and len(out.splitlines()) == 2 and out.splitlines()[-1].startswith("tick-"),
          f"tailLines=2: {status} {out!r}")
    status, out = logs("logger", "c", "?timestamps=true")
    check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line-1$", out.splitlines()[0]), f"timestamps: {out[:80]!r}")
    status, out = logs("logger", "c", "?limitBytes=10")
    check(status == 200 and len(out) == 10 and out.startswith("line-1"), f"limitBytes: {out!r}")
    check_eq(logs("logger", "c", token=False)[0], 401, "no token")
    check_eq(logs("logger", "c", token="wrong")[0], 401, "wrong token")
    check_eq(logs("nosuchpod", "c")[0], 404, "unknown pod")
    check_eq(logs("logger", "nosuch")[0], 400, "unknown container")
    conn, r = E.kubelet.api(f"/containerLogs/{NS}/logger/c?follow=true&tailLines=1", stream=True, timeout=10)
    try:
        check_eq(r.status, 200, "follow status")
        ticks = []
        t0 = time.time()
        while len(ticks) < 4 and time.time() - t0 < 8:
            line = r.readline().decode().strip()
            if line.startswith("tick-"):
                ticks.append(int(line.split("-")[1]))
        check(len(ticks) >= 4 and ticks == sorted(ticks) and ticks[-1] > ticks[0],
              f"follow streams new lines as they are written: {ticks}")
    finally:
        conn.close()


def test_image_pull_backoff():
    bad = "127.0.0.1:1/x:1"
    E.cleanup_images.append(bad)
    create(pod_body("pullfail", [{"name": "c", "image": bad, "command": ["sh", "-c", "echo recovered; sleep 3600"]}]))
    reasons = set()

    def waiting():
        st = cstatus(get_pod("pullfail"), "c")
        w = (st or {}).get("state", {}).get("waiting", {})
        if w.get("reason") in ("ErrImagePull", "ImagePullBackOff"):
            reasons.add(w["reason"])
            if w["reason"] == "ErrImagePull":
                check("127.0.0.1:1" in w.get("message", ""), f"the engine's message: {w}")
        return "ErrImagePull" in reasons and "ImagePullBackOff" in reasons
    wait_for(waiting, timeout=20, interval=0.05, what="ErrImagePull then ImagePullBackOff")
    check(has_event("pullfail", "Failed", "Failed to pull image"), "Failed event")
    check(has_event("pullfail", "BackOff", "Back-off pulling image"), "BackOff event")
    check_eq(get_pod("pullfail")["status"]["phase"], "Pending", "phase while the image is missing")
    repo, tag = bad.rsplit(":", 1)
    E.docker.tag(E.image, repo, tag)
    wait_running("pullfail", timeout=20)


def test_kill9_restart_adoption():
    create(pod_body("orphan", [container("c", "trap 'exit 0' TERM; while true; do sleep 0.2; done")]))
    orphan = wait_running("orphan")
    names = [f"adopt-{i}" for i in range(4)]
    for n in names:
        create(pod_body(n, [container("a", "trap 'exit 0' TERM; while true; do sleep 0.2; done"),
                            container("b", "trap 'exit 0' TERM; while true; do sleep 0.2; done")]))
    # Mid-sync: some sandboxes exist, some containers are created but not started.
    wait_for(lambda: len(E.kubelet.containers()) > 3, timeout=10, interval=0.01, what="sync under way")
    E.kubelet.kill9()
    # While the kubelet is away: one pod goes for good, another arrives.
    delete_pod("orphan", grace=0)
    create(pod_body("born-while-down", [container("c", "trap 'exit 0' TERM; while true; do sleep 0.2; done")]))
    E.kubelet.start()
    for n in names + ["born-while-down"]:
        wait_running(n, timeout=40)
    wait_for(lambda: not pod_containers(orphan["metadata"]["uid"]), timeout=20, what="orphan's containers removed")
    # Exactly the desired containers: one running sandbox and one running
    # container per spec container, nothing half made, no restarts.
    time.sleep(1)
    for n in names + ["born-while-down"]:
        p = get_pod(n)
        uid = p["metadata"]["uid"]
        cs = pod_containers(uid)
        running = [c for c in cs if c["State"] == "running"]
        want = 1 + len(p["spec"]["containers"])
        check_eq(len(running), want, f"{n}: running containers {[c['Names'][0] for c in running]}")
        check_eq(len([c for c in cs if c["State"] == "created"]), 0, f"{n}: no container left half made")
        kinds = sorted(c["Labels"].get("io.kubernetes.container.name") for c in running)
        check_eq(kinds, sorted(["POD"] + [c["name"] for c in p["spec"]["containers"]]), f"{n}: one of each")
        for c in p["spec"]["containers"]:
            check_eq(cstatus(p, c["name"])["restartCount"], 0, f"{n}/{c['name']} restartCount")
    api_uids = {p["metadata"]["uid"] for p in E.c.get(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{E.node}").json["items"]}
    stray = [c["Names"][0] for c in E.kubelet.containers() if c["Labels"]["io.kubernetes.pod.uid"] not in api_uids]
    check_eq(stray, [], "containers of pods that do not exist")


def test_delete_removes_containers():
    create(pod_body("short", [container("c", "trap 'exit 0' TERM; while true; do sleep 0.2; done")]))
    p = wait_running("short")
    uid = p["metadata"]["uid"]
    check(len(pod_containers(uid)) == 2, "sandbox and container exist")
    delete_pod("short")
    wait_for(lambda: get_pod("short") is None, timeout=15, what="pod deleted after its containers stopped")
    wait_for(lambda: not pod_containers(uid), timeout=10, what="its containers removed")
    check(not os.path.exists(os.path.join(E.kubelet.root, "pods", uid)), "pod dir removed")


class PrivateEngine:
    """A second dockerd with its own socket and directories (no bridge, no
    iptables), so that restarting it disturbs nobody else's containers. It
    runs in a network namespace of its own: a dockerd started with --bridge
    none deletes the docker0 of the namespace it runs in, which would take
    the machine's engine's default bridge away."""

    def __init__(self, base):
        import subprocess
        self.base = base
        self.sock = os.path.join(base, "docker.sock")
        self.proc = None
        self.netns = f"m8s-kubelet-e2e-{os.getpid()}"
        os.makedirs(base, exist_ok=True)
        subprocess.run(["ip", "netns", "add", self.netns], check=True, capture_output=True)
        self.start()

    def start(self):
        import subprocess
        args = ["nsenter", f"--net=/run/netns/{self.netns}", "dockerd", "--host", "unix://" + self.sock, "--data-root", os.path.join(self.base, "root"),
                "--exec-root", os.path.join(self.base, "exec"), "--pidfile", os.path.join(self.base, "docker.pid"),
                "--bridge", "none", "--iptables=false", "--ip-masq=false"]
        self.log = open(os.path.join(self.base, "dockerd.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self.docker = dockerlib.Docker(self.sock)

        def up():
            if self.proc.poll() is not None:
                raise CheckFailed(f"private dockerd exited with {self.proc.returncode}")
            try:
                return self.docker.ping()
            except OSError:
                return False
        wait_for(up, timeout=30, interval=0.1, what="private dockerd answering")

    def stop(self):
        import subprocess
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            for c in self.docker.containers():
                self.docker.remove(c["Id"])
        self.stop()
        import subprocess
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


def test_dockerd_restart():
    if os.geteuid() != 0 or not shutil.which("dockerd"):
        print("skip test_dockerd_restart: needs root and dockerd to run a private engine", flush=True)
        return
    E.engine2 = PrivateEngine(os.path.join(E.tmp, "dockerd2"))
    busybox_image(E.engine2.docker, E.image)
    cidr = free_pod_cidr(E.docker)
    while cidr == E.pod_cidr:
        cidr = free_pod_cidr(E.docker)
    node = E.node + "-d2"
    E.kubelet2 = Kubelet(E.c, E.engine2.docker, node, cidr, tmp=os.path.join(E.tmp, "kubelet2"),
                         extra_args=["--crashloop-initial-backoff", "1s", "--crashloop-max-backoff", "4s",
                                     "--manage-iptables=false"])
    body = pod_body("survivor", [container("c", "echo up; trap 'exit 0' TERM; while true; do sleep 0.2; done")])
    body["spec"]["nodeName"] = node
    create(body)
    p = wait_running("survivor", timeout=30)
    uid = p["metadata"]["uid"]
    E.engine2.stop()
    E.engine2.start()
    # The engine's restart killed the pod's containers: a new sandbox, the
    # container again (one restart), and nothing twice.

    def recovered():
        q = get_pod("survivor")
        st = cstatus(q, "c")
        return st and st["restartCount"] >= 1 and "running" in st["state"] and cond(q, "Ready") == "True"
    wait_for(recovered, timeout=40, what="pod running again after the engine restarted")
    running = [c for c in E.engine2.docker.containers(label=f"io.kubernetes.pod.uid={uid}") if c["State"] == "running"]
    check_eq(sorted(c["Labels"]["io.kubernetes.container.name"] for c in running), ["POD", "c"],
             "one sandbox and one container running")
    delete_pod("survivor", grace=0)
    wait_for(lambda: not E.engine2.docker.containers(label=f"io.kubernetes.pod.uid={uid}"), timeout=20,
             what="survivor's containers removed")
    rc = E.kubelet2.stop()
    check_eq(rc, 0, "second kubelet exits cleanly")


# ---- running ------------------------------------------------------------------------------------

def cleanup():
    errors = []
    try:
        if getattr(E, "kubelet", None) and E.kubelet.proc and E.kubelet.proc.poll() is None:
            # Pods go through the kubelet (their containers too), then the kubelet stops.
            for p in E.c.get(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{E.node}").json.get("items", []):
                E.c.delete(f"/api/v1/namespaces/{p['metadata']['namespace']}/pods/{p['metadata']['name']}",
                           {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0})
            try:
                wait_for(lambda: not E.kubelet.containers(), timeout=20, what="containers removed")
            except CheckFailed as e:
                errors.append(str(e))
            rc = E.kubelet.stop()
            if rc != 0:
                errors.append(f"kubelet exit code {rc} at shutdown (a sanitizer report?):\n{E.kubelet.read_log(6000)}")
    except Exception as e:  # noqa: BLE001 - clean up whatever we can
        errors.append(f"cleanup: {e!r}")
    if getattr(E, "kubelet", None):
        E.kubelet.stop()
        E.kubelet.cleanup()
    if getattr(E, "kubelet2", None):
        E.kubelet2.stop()
        try:
            E.kubelet2.cleanup()
        except Exception as e:  # noqa: BLE001
            errors.append(f"second kubelet cleanup: {e!r}")
    if getattr(E, "engine2", None):
        E.engine2.cleanup()
    if getattr(E, "docker", None):
        for img in getattr(E, "cleanup_images", []):
            try:
                E.docker.remove_image(img)
            except Exception as e:  # noqa: BLE001
                errors.append(f"remove image {img}: {e!r}")
        if not getattr(E, "pause_existed", True):
            E.docker.remove_image("minik8s/pause:1")
    if getattr(E, "pod_cidr", None):
        dockerlib.iptables_remove(E.pod_cidr)
    if getattr(E, "c", None):
        rc = E.c.cleanup()
        if rc not in (0, -15):
            errors.append(f"server exit code {rc}")
    if getattr(E, "tmp", None):
        shutil.rmtree(E.tmp, ignore_errors=True)
    return errors


def main():
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    only = os.environ.get("TEST_ONLY")
    if only:
        tests = [(n, f) for n, f in tests if only in n]
    failed = passed = 0
    t_start = time.time()
    try:
        E.docker = engine_or_skip()
        E.cleanup_images = []
        tag = f"e2e-{os.getpid()}"
        E.image = f"minik8s-test/busybox:{tag}"
        E.cleanup_images.append(E.image)
        E.pause_existed = E.docker.image_exists("minik8s/pause:1")
        busybox_image(E.docker, E.image)
        E.tmp = tempfile.mkdtemp(prefix="minik8s-e2e-kubelet-")
        E.pod_cidr = free_pod_cidr(E.docker)
        E.node = f"e2e-kubelet-{os.getpid()}"
        E.c = Cluster()
        E.kubelet = Kubelet(E.c, E.docker, E.node, E.pod_cidr, tmp=os.path.join(E.tmp, "kubelet"),
                            extra_args=["--crashloop-initial-backoff", "1s", "--crashloop-max-backoff", "4s"])
        wait_for(lambda: (E.c.get(f"/api/v1/nodes/{E.node}").json.get("status", {}).get("conditions") or [{}])[-1]
                 .get("status") == "True", timeout=30, what="node Ready")
    except Skip as e:
        print(f"skip: {e}", file=sys.stderr)
        cleanup()
        sys.exit(77)
    except Exception:  # noqa: BLE001
        print(f"FAIL setup\n{traceback.format_exc()}", flush=True)
        if getattr(E, "kubelet", None):
            print("--- kubelet log tail ---\n" + E.kubelet.read_log())
        for err in cleanup():
            print(err)
        sys.exit(1)
    try:
        for name, fn in tests:
            t0 = time.time()
            try:
                fn()
                passed += 1
                print(f"ok   {name} ({time.time() - t0:.1f}s)", flush=True)
            except Exception:  # noqa: BLE001 - report and go on
                failed += 1
                print(f"FAIL {name} ({time.time() - t0:.1f}s)\n{traceback.format_exc()}", flush=True)
                print("--- kubelet log tail ---\n" + E.kubelet.read_log(), flush=True)
    finally:
        for err in cleanup():
            failed += 1
            print(f"FAIL {err}", flush=True)
    print(f"{passed} passed, {failed} failed ({time.time() - t_start:.0f}s)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
