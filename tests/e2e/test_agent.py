#!/usr/bin/env python3
"""`minik8s agent` against a control plane (`minik8s server
--disable-agent`), on the real Docker Engine: the checks before joining
(no engine, a malformed token, a CA that does not match the token's hash, a
wrong secret, an unreachable server), a good join (the node Ready, the
credential files private, the kubelet's certificate issued by the cluster
CA), logs of a pod on the node through the apiserver (which verifies that
certificate and shows the node's kubelet token), the node credential's
limits, a second agent refused the live node's name, and the agent coming
back: restarted without --server and --token it runs as the node joined
before; with the token again it is welcome.

Needs root and a Docker Engine (exit 77 without), and no other minik8s
node on the machine (the proxy's minik8s0 and 10.96.0.10:53). Everything it
made is removed at the end, also on failure.
"""

import http.client
import os
import socket
import re
import shutil
import signal
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from harness import BIN, CheckFailed, Cluster, check, check_eq, wait_for  # noqa: E402
import dockerlib  # noqa: E402

NODE = "e2e-agent"
CLUSTER_CIDR = "10.244.0.0/16"
IMAGE = "minik8s-e2e/busybox:1"


class Agent:
    def __init__(self, cluster, tmp, *extra, server=True, token=None, node=NODE):
        self.cluster = cluster
        self.data_dir = os.path.join(tmp, "agent-data")
        self.log_path = os.path.join(tmp, f"agent-{node}.log")
        args = [BIN, "agent", "--data-dir", self.data_dir, "--node-name", node, "--kubelet-port", "0",
                "--healthz-port", "-1", "--join-timeout", "2s", "-v", "debug"]
        if server:
            args += ["--server", f"https://127.0.0.1:{cluster.port}", "--token", token or cluster.join_token]
        self.args = args + list(extra)
        self.log = open(self.log_path, "ab")
        self.start_at = self.log.tell()
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT, env=cluster.env())

    def text(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.start_at)
            return f.read().decode(errors="replace")

    def wait_running(self):
        wait_for(lambda: self.proc.poll() is not None or "agent running" in self.text(), timeout=30,
                 what="the agent to start")
        check(self.proc.poll() is None, f"agent exited {self.proc.returncode}:\n{self.text()}")

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit()


def failing_agent(c, tmp, *extra, **kw):
    a = Agent(c, tmp, *extra, **kw)
    rc = a.wait_exit()
    check_eq(rc, 1, f"exit code of a failing agent:\n{a.text()}")
    return a.text()


def node_status(c, node=NODE):
    r = c.get(f"/api/v1/nodes/{node}")
    if r.status != 200:
        return None
    conds = {x["type"]: x["status"] for x in r.json.get("status", {}).get("conditions", [])}
    return conds.get("Ready")


# --- the checks -------------------------------------------------------------

def test_preflight_and_bad_tokens(c, tmp, state):
    out = failing_agent(c, tmp, "--docker-host", "unix:///nonexistent/docker.sock")
    check("the Docker Engine does not answer on /nonexistent/docker.sock" in out, out)
    out = failing_agent(c, tmp, token="not-a-token")
    check("the join token is not one `minik8s server` makes" in out, out)
    other_hash = "K10" + "0" * 64 + "::node:" + c.join_token.split("::node:")[1]
    out = failing_agent(c, tmp, token=other_hash)
    check("does not match the join token" in out, out)
    wrong_secret = c.join_token.split("::node:")[0] + "::node:0123456789abcdef"
    out = failing_agent(c, tmp, token=wrong_secret)
    check("the apiserver refused the join token (401" in out, out)
    a = Agent(c, tmp, server=False)
    rc = a.wait_exit()
    check_eq(rc, 1, "an agent with neither a server nor an earlier join")
    check("needs --server https://HOST:6443 and --token" in a.text(), a.text())
    # A closed port: it keeps trying for --join-timeout, then says so.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    a = Agent(c, tmp, "--server", f"https://127.0.0.1:{port}", "--token", c.join_token, server=False)
    rc = a.wait_exit()
    check_eq(rc, 1, "an agent whose server does not answer")
    check(f"cannot reach the apiserver at https://127.0.0.1:{port}" in a.text(), a.text())
    check_eq(c.get(f"/api/v1/nodes/{NODE}").status, 404, "no node registered by the failed attempts")


def test_join(c, tmp, state):
    a = Agent(c, tmp)
    state["agent"] = a
    a.wait_running()
    check(re.search(r"joined node=e2e-agent server=\S+ new=true", a.text()), a.text())
    wait_for(lambda: node_status(c) == "True", timeout=60, what="the node Ready")
    d = os.path.join(a.data_dir, "agent")
    for name, mode in (("node.kubeconfig", 0o600), ("kubelet.token", 0o600), ("kubelet.key", 0o600)):
        st = os.stat(os.path.join(d, name))
        check_eq(stat.S_IMODE(st.st_mode) & 0o077, 0, f"{name} is private")
    # The kubelet's port shows a certificate the cluster CA signed.
    node = c.get(f"/api/v1/nodes/{NODE}").json
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    ctx = ssl.create_default_context(cafile=c.ca)
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    conn.request("GET", "/pods", headers={"Authorization": "Bearer " + c.token})
    r = conn.getresponse()
    r.read()
    conn.close()
    check_eq(r.status, 401, "the kubelet refuses the admin token: it accepts only the apiserver's credential")
    # A credential Secret exists and the node is who the kubeconfig says.
    sec = c.get(f"/api/v1/namespaces/kube-system/secrets/minik8s-node-{NODE}")
    check_eq(sec.status, 200, "the node's credential Secret")


def test_logs_through_apiserver(c, tmp, state):
    docker = state["docker"]
    dockerlib.busybox_image(docker, IMAGE)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "talker", "namespace": "default"},
           "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": IMAGE, "imagePullPolicy": "Never",
                    "command": ["sh", "-c", "echo hello from the agent; sleep 3600"]}]}}
    check_eq(c.post("/api/v1/namespaces/default/pods", pod).status, 201, "pod created")

    def running():
        p = c.get("/api/v1/namespaces/default/pods/talker").json
        return p.get("status", {}).get("phase") == "Running"
    wait_for(running, timeout=60, what="the pod Running")
    wait_for(lambda: b"hello from the agent" in c.get("/api/v1/namespaces/default/pods/talker/log").body,
             timeout=20, what="the pod's log through the apiserver")
    out = c.minictl("logs", "talker").stdout
    check_eq(out, "hello from the agent\n", "minictl logs")
    r = c.get("/api/v1/namespaces/default/pods/talker/log?container=nope")
    check_eq(r.status, 400, "an unknown container, as the kubelet says")
    c.delete("/api/v1/namespaces/default/pods/talker?gracePeriodSeconds=1")
    wait_for(lambda: c.get("/api/v1/namespaces/default/pods/talker").status == 404, timeout=60,
             what="the pod gone")


def test_name_held_by_live_node(c, tmp, state):
    other = tempfile.mkdtemp(prefix="minik8s-agent2-", dir=tmp)
    out = failing_agent(c, other)
    check(f'cannot join as "{NODE}": node name "{NODE}" is held by a live node' in out, out)


def test_agent_comes_back(c, tmp, state):
    a = state.pop("agent")
    check_eq(a.stop(), 0, f"the agent stops cleanly:\n{a.text()[-3000:]}")
    b = Agent(c, tmp, server=False)
    b.wait_running()
    check("running as the node joined before" in b.text(), b.text())
    check_eq(b.stop(), 0, "the restarted agent stops cleanly")
    # With the token again: the node presents its own credential and is welcome.
    b = Agent(c, tmp)
    b.wait_running()
    check(re.search(r"joined node=e2e-agent server=\S+ again=true", b.text()), b.text())
    wait_for(lambda: node_status(c) == "True", timeout=60, what="the node Ready again")
    check_eq(b.stop(), 0, f"the agent stops cleanly:\n{b.text()[-3000:]}")


TESTS = [test_preflight_and_bad_tokens, test_join, test_logs_through_apiserver, test_name_held_by_live_node,
         test_agent_comes_back]


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root (the agent's proxy and routes)", file=sys.stderr)
        sys.exit(77)
    try:
        docker = dockerlib.engine_or_skip()
    except dockerlib.Skip as e:
        print(f"SKIP: {e}", file=sys.stderr)
        sys.exit(77)
    if os.path.exists("/sys/class/net/minik8s0"):
        print("FAIL: another minik8s node runs on this machine (minik8s0 exists): stop it first (scripts/down.sh)",
              file=sys.stderr)
        sys.exit(1)
    c = Cluster()
    c.join_token = subprocess.run([BIN, "token", "--data-dir", c.data_dir], capture_output=True, text=True,
                                  check=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="minik8s-agent-")
    state = {"docker": docker}
    failed = False
    try:
        for t in TESTS:
            t0 = time.time()
            try:
                t(c, tmp, state)
                print(f"ok   {t.__name__} ({time.time() - t0:.1f}s)", flush=True)
            except Exception:  # noqa: BLE001 - report and stop: later tests build on earlier ones
                failed = True
                print(f"FAIL {t.__name__}", flush=True)
                traceback.print_exc()
                for name in sorted(os.listdir(tmp)):
                    if name.endswith(".log"):
                        print(f"--- {name} ---\n" + open(os.path.join(tmp, name), errors="replace").read()[-3000:])
                print("--- server ---\n" + c.read_log())
                break
    finally:
        a = state.get("agent")
        if a and a.proc.poll() is None:
            a.proc.kill()
            a.proc.wait()
        rc = c.stop()
        if rc != 0:
            failed = True
            print(f"FAIL: the server exited {rc}\n{c.read_log()}")
        for cont in docker.containers(label=f"io.minik8s.node={NODE}"):
            docker.remove(cont["Id"])
        docker.remove_network(f"minik8s-{NODE}")
        dockerlib.iptables_remove(CLUSTER_CIDR)
        subprocess.run(["ip", "link", "del", "minik8s0"], capture_output=True)
        try:
            docker.call("DELETE", f"/images/{IMAGE}?force=1", ok=(200, 404))
        except dockerlib.DockerError:
            pass
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(c.tmp, ignore_errors=True)
    if failed:
        sys.exit(1)
    print(f"{len(TESTS)} passed")


if __name__ == "__main__":
    main()
