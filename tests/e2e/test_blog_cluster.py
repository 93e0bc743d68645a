#!/usr/bin/env python3
"""The classroom blog on a one-node minik8s cluster with the real Docker
Engine: `minik8s server` (control plane plus this machine's node, joined
through the agent), `minictl apply -f examples/blog/blog.yaml`, rollout
status for every deployment, then the same checks as test_blog_docker.py,
now through the cluster: each service reached at its ClusterIP from the
host, the services reaching each other by Service name through cluster DNS
and the proxy, the web page's NodePort, the query service catching up after
it was scaled away and after its pod was deleted, DNS inside a pod, logs
through the apiserver (minictl and kubectl, -f too), and headless Chromium
on the page.

Needs root, a Docker Engine and no other minik8s node on the machine (the
proxy takes the cluster's ClusterIPs, 10.96.0.10:53 and NodePorts 30080 and
30400). Exit 77 (skip) without root or an engine. Everything it made is
removed at the end: the server, the pods' containers, the node's network,
the kubelet's iptables rules, the images unless they were there before.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import test_blog_docker as blogchecks  # noqa: E402
from harness import Cluster, find_kubectl  # noqa: E402
from test_blog_docker import CheckFailed, Skip, check, check_eq, request, wait_for  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BLOG_YAML = os.path.join(REPO, "examples", "blog", "blog.yaml")
NODE = "e2e-blog"
CLUSTER_CIDR = "10.244.0.0/16"
DEPLOYMENTS = {name: f"{name}-depl" for name in blogchecks.SERVICES}
SERVICE_OF = {name: alias for name, (_, alias, _) in blogchecks.SERVICES.items()}
SERVICE_OF["posts"] = "posts-clusterip-srv"


class ClusterBlog:
    """The blog as Deployments on minik8s: the interface of DockerBlog."""

    def __init__(self):
        self.images = blogchecks.DockerBlog()  # builds (and later removes) the images
        self.cluster = None
        self.urls = {}

    # -- the cluster -----------------------------------------------------
    def preflight(self):
        if os.geteuid() != 0:
            raise Skip("needs root: the node's proxy puts ClusterIPs on an interface")
        if not blogchecks.docker_answers():
            raise Skip("no Docker engine answers on /var/run/docker.sock (start dockerd)")
        nets = subprocess.run(["docker", "network", "ls", "--format", "{{.Name}}"], capture_output=True,
                              text=True).stdout.split()
        others = [n for n in nets if n.startswith("minik8s-")]
        busy = []
        for port in (30080, 30400):
            s = socket.socket()
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                busy.append(str(port))
            finally:
                s.close()
        if others or busy or os.path.exists("/sys/class/net/minik8s0"):
            raise CheckFailed("another minik8s node runs on this machine (networks %s, ports in use %s): stop it "
                              "first (scripts/down.sh)" % (others, busy))

    def ctl(self, *args, check_rc=True, timeout=120):
        return self.cluster.minictl(*args, check_rc=check_rc, timeout=timeout)

    def start(self):
        self.preflight()
        self.images.build_images()
        self.cluster = Cluster(agent=True, extra_args=[
            "--node-name", NODE, "--kubelet-port", "0", "--healthz-port", "-1",
            "--crashloop-initial-backoff", "1s", "--crashloop-max-backoff", "5s"])
        wait_for(lambda: self.node_ready(), timeout=60, what=f"node {NODE} Ready")
        out = self.ctl("apply", "-f", BLOG_YAML).stdout
        check("deployment.apps/query-depl created" in out, out)
        for d in DEPLOYMENTS.values():
            r = self.ctl("rollout", "status", f"deployment/{d}", "--timeout", "180s", timeout=200)
            check(f'deployment "{d}" successfully rolled out' in r.stdout, r.stdout)
        for name, svc in SERVICE_OF.items():
            spec = json.loads(self.ctl("get", "svc", svc, "-o", "json").stdout)["spec"]
            self.urls[name] = f"http://{spec['clusterIP']}:{spec['ports'][0]['port']}"

    def node_ready(self):
        out = self.ctl("get", "nodes", "--no-headers", check_rc=False).stdout
        return any(line.split()[:2] == [NODE, "Ready"] for line in out.splitlines())

    def url(self, name):
        return self.urls[name]

    def pods(self, name):
        items = json.loads(self.ctl("get", "pods", "-l", f"app={name}", "-o", "json").stdout)["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def ready_pod(self, name):
        for p in self.pods(name):
            conds = {c["type"]: c["status"] for c in p.get("status", {}).get("conditions", [])}
            if conds.get("Ready") == "True":
                return p
        return None

    # -- what the shared checks call ---------------------------------------
    def stop(self, name):
        """The service goes away: its Deployment scaled to zero, pod gone."""
        self.ctl("scale", f"deployment/{DEPLOYMENTS[name]}", "--replicas=0")
        wait_for(lambda: not self.ctl("get", "pods", "-l", f"app={name}", "--no-headers",
                                      check_rc=False).stdout.strip(), timeout=60, what=f"{name}'s pod gone")

    def run(self, name):
        self.ctl("scale", f"deployment/{DEPLOYMENTS[name]}", "--replicas=1")
        r = self.ctl("rollout", "status", f"deployment/{DEPLOYMENTS[name]}", "--timeout", "120s", timeout=150)
        check("successfully rolled out" in r.stdout, r.stdout)

    def exec(self, name, *cmd):
        pod = self.ready_pod(name)
        check(pod, f"a ready {name} pod")
        ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=io.kubernetes.pod.name={pod['metadata']['name']}",
                              "--filter", f"label=io.kubernetes.container.name={name}"],
                             capture_output=True, text=True).stdout.split()
        check_eq(len(ids), 1, f"the {name} container of pod {pod['metadata']['name']}")
        return subprocess.run(["docker", "exec", ids[0], *cmd], capture_output=True, text=True,
                              check=True).stdout.strip()

    def logs(self):
        out = []
        if self.cluster:
            for name, d in DEPLOYMENTS.items():
                r = self.ctl("logs", f"deploy/{d}", "--tail", "30", check_rc=False)
                out.append(f"--- {name} ---\n{r.stdout}{r.stderr}")
            out.append("--- server ---\n" + self.cluster.read_log())
        return "\n".join(out)

    def cleanup(self):
        failures = []
        if self.cluster:
            self.ctl("delete", "-f", BLOG_YAML, "--wait=false", check_rc=False)
            rc = self.cluster.stop()
            if rc != 0:
                failures.append(f"minik8s server exited {rc} (a sanitizer report is in its log)")
                print(self.cluster.read_log()[-4000:])
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=io.minik8s.node={NODE}"],
                             capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
        subprocess.run(["docker", "network", "rm", f"minik8s-{NODE}"], capture_output=True)
        sys.path.insert(0, HERE)
        from dockerlib import iptables_remove
        iptables_remove(CLUSTER_CIDR)
        if os.path.exists("/sys/class/net/minik8s0"):
            failures.append("the proxy left its interface minik8s0 behind")
            subprocess.run(["ip", "link", "del", "minik8s0"], capture_output=True)
        self.images.cleanup()
        if self.cluster and self.cluster.own_dir:
            shutil.rmtree(self.cluster.tmp, ignore_errors=True)
        return failures


# --- checks only a cluster has --------------------------------------------

def test_node_and_placement(blog, state):
    out = blog.ctl("get", "pods", "-o", "wide", "--no-headers").stdout
    rows = [line.split() for line in out.splitlines()]
    check_eq(len(rows), len(DEPLOYMENTS), f"one pod per deployment: {out}")
    for r in rows:
        check_eq((r[1], r[2], r[6]), ("1/1", "Running", NODE), f"pod row {r}")
        check(r[5].startswith("10.244."), f"pod IP from the node's podCIDR: {r}")


def test_nodeport(blog, state):
    status, posts, _ = request("http://127.0.0.1:30400/posts")
    check_eq(status, 200, "posts through its NodePort")
    check(isinstance(posts, dict) and all("title" in p for p in posts.values()), f"posts: {posts!r}")
    status, _, _ = request("http://127.0.0.1:30080/")
    check_eq(status, 200, "the web page through its NodePort")


def test_logs(blog, state):
    out = blog.ctl("logs", "deploy/query-depl", "--tail", "200").stdout
    check("event received" in out or "request method=" in out, f"query's log through the apiserver: {out[-500:]}")
    kubectl = find_kubectl("1.32")
    if kubectl:
        pod = blog.ready_pod("query")["metadata"]["name"]
        env = dict(blog.cluster.env(), KUBECONFIG=os.path.join(blog.cluster.data_dir, "admin.kubeconfig"))
        r = subprocess.run([kubectl, "logs", pod, "--tail=5"], capture_output=True, text=True, env=env, timeout=30)
        check_eq(r.returncode, 0, f"kubectl logs: {r.stderr}")
        check_eq(len(r.stdout.splitlines()), 5, f"kubectl logs --tail=5: {r.stdout!r}")
        # -f streams: a request made after it started shows up.
        f = subprocess.Popen([kubectl, "logs", "-f", pod, "--tail=0"], stdout=subprocess.PIPE, text=True, env=env)
        try:
            time.sleep(1.0)
            request(blog.url("query") + "/posts?from=follow")
            line = f.stdout.readline()
            check("GET" in line and "/posts" in line, f"followed line: {line!r}")
        finally:
            f.kill()
            f.wait()
    r = blog.ctl("logs", "deploy/query-depl", "-c", "nope", check_rc=False)
    check(r.returncode != 0 and "container nope is not valid" in r.stderr, r.stderr)


def test_pod_deleted_catches_up(blog, state):
    """The notes' case: delete the query pod; the ReplicaSet starts a new one
    that rebuilds every post from the event bus."""
    before = blogchecks.query_posts(blog)
    old = blog.ready_pod("query")["metadata"]["name"]
    blog.ctl("delete", "pod", old)

    def replaced():
        p = blog.ready_pod("query")
        return p if p and p["metadata"]["name"] != old else None
    wait_for(replaced, timeout=90, what="a new ready query pod")
    wait_for(lambda: request(blog.url("query") + "/posts")[0] == 200, what="query answering")
    check_eq(blogchecks.query_posts(blog), before, "query's view after its pod was replaced")


TESTS = [test_node_and_placement, blogchecks.test_all_ready, blogchecks.test_post,
         blogchecks.test_comments_moderated, blogchecks.test_event_order, blogchecks.test_errors,
         blogchecks.test_client_proxy, test_nodeport, test_logs, blogchecks.test_catch_up,
         test_pod_deleted_catches_up, blogchecks.test_moderation_comes_back, blogchecks.test_inside_containers]


def main():
    blogchecks.run(ClusterBlog(), TESTS + [blogchecks.test_browser])

if __name__ == "__main__":
    main()
