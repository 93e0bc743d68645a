#!/usr/bin/env python3
"""Services on a one-node cluster with real pods on the Docker Engine:
`minik8s server` with its node, backends that say which pod answered (a
busybox httpd serving the pod's hostname, and `blog udp-echo`), a client
pod, and the proxy in between.

Checks: the client pod reaches the Service by DNS name and by ClusterIP;
the node reaches the ClusterIP; a NodePort answers on the node's address;
scaling the backends changes where connections go; killing one backend's
container sends new connections to the others at once; UDP echo through a
UDP Service port, from the pod (by name) and from the node; a LoadBalancer
Service gets its status.loadBalancer.ingress.

Uses the blog's images (busybox and the `blog` binary inside). Needs root, a
Docker Engine and no other minik8s node on the machine; exit 77 without
root or an engine. Everything it made is removed at the end.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import test_blog_cluster as cb  # noqa: E402
import test_blog_docker as blogchecks  # noqa: E402
from test_blog_docker import check, check_eq, wait_for  # noqa: E402

IMAGE = "minik8s/blog-posts:1"
NODE_PORT = 30555


def backend(name, replicas, labels):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": dict(labels, app=name)}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [backend_container()]}}}}


def backend_container():
    return {"name": "echo", "image": IMAGE, "imagePullPolicy": "Never",
            "command": ["/bin/sh", "-c", "blog udp-echo 9000 & mkdir -p /tmp/www && hostname > /tmp/www/index.html"
                        " && exec busybox httpd -f -p 8080 -h /tmp/www"],
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}


def service(name, kind="ClusterIP", node_port=None):
    ports = [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
             {"name": "udp", "port": 9000, "targetPort": 9000, "protocol": "UDP"}]
    if node_port:
        ports[0]["nodePort"] = node_port
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": kind, "selector": {"tier": "echo"}, "ports": ports}}


class Lab(cb.ClusterBlog):
    """The cluster of test_blog_cluster without the blog."""

    def start(self):
        self.preflight()
        self.images.build_images()
        self.cluster = cb.Cluster(agent=True, extra_args=[
            "--node-name", cb.NODE, "--kubelet-port", "0", "--healthz-port", "-1",
            "--crashloop-initial-backoff", "1s", "--crashloop-max-backoff", "5s"])
        wait_for(self.node_ready, timeout=60, what=f"node {cb.NODE} Ready")

    def apply(self, *objs):
        path = os.path.join(self.cluster.tmp, f"objs-{time.time()}.json")
        with open(path, "w") as f:
            json.dump({"apiVersion": "v1", "kind": "List", "items": list(objs)}, f)
        self.ctl("apply", "-f", path)

    def pods(self, label):
        items = json.loads(self.ctl("get", "pods", "-l", label, "-o", "json").stdout)["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def ready_names(self, label):
        return sorted(p["metadata"]["name"] for p in self.pods(label) if any(
            c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", [])))

    def svc(self, name):
        return json.loads(self.ctl("get", "svc", name, "-o", "json").stdout)

    def container(self, pod, name):
        ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=io.kubernetes.pod.uid={pod['metadata']['uid']}",
                              "--filter", f"label=io.kubernetes.container.name={name}"],
                             capture_output=True, text=True).stdout.split()
        check_eq(len(ids), 1, f"the {name} container of {pod['metadata']['name']}")
        return ids[0]

    def in_client(self, *cmd):
        pod = self.pods("app=client")[0]
        return subprocess.run(["docker", "exec", self.container(pod, "client"), *cmd], capture_output=True,
                              text=True, timeout=30)

    def cleanup(self):
        if self.cluster:
            self.ctl("delete", "deploy,svc,pod", "--all", "--wait=false", check_rc=False)
        return super().cleanup()


def http_from_node(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode().strip()


def http_from_client(lab, host, port=80):
    r = lab.in_client("sh", "-c", f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} {port}")
    lines = r.stdout.strip().splitlines()
    return lines[-1] if lines else f"(nothing: {r.stderr.strip()})"


def udp_from_node(ip, port, msg):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    try:
        s.sendto(msg.encode(), (ip, port))
        return s.recv(1600).decode()
    finally:
        s.close()


def answers(fn, n):
    return [fn() for _ in range(n)]


# --- the checks ---------------------------------------------------------------

def test_setup(lab, state):
    lab.apply(backend("echo", 2, {"tier": "echo"}), service("echo"), service("echo-np", "NodePort", NODE_PORT),
              service("echo-lb", "LoadBalancer"),
              {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "labels": {"app": "client"}},
               "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                   {"name": "client", "image": IMAGE, "imagePullPolicy": "Never",
                    "command": ["/bin/sh", "-c", "exec sleep 3600"]}]}})
    wait_for(lambda: len(lab.ready_names("app=echo")) == 2, timeout=90, what="two ready backends")
    wait_for(lambda: lab.pods("app=client") and lab.pods("app=client")[0]["status"].get("phase") == "Running",
             timeout=90, what="the client pod running")
    state["ip"] = lab.svc("echo")["spec"]["clusterIP"]
    node = json.loads(lab.ctl("get", "node", cb.NODE, "-o", "json").stdout)
    state["node_ip"] = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"][0]


def test_pod_to_service(lab, state):
    names = set(lab.ready_names("app=echo"))
    got = answers(lambda: http_from_client(lab, "echo.default.svc.cluster.local"), 6)
    check(set(got) <= names, f"by DNS name, answered by the backends {names}: {got}")
    got = answers(lambda: http_from_client(lab, "echo"), 2)
    check(set(got) <= names, f"by short name (search path): {got}")
    got = answers(lambda: http_from_client(lab, state["ip"]), 6)
    check(set(got) <= names, f"by ClusterIP: {got}")


def test_node_to_service(lab, state):
    names = set(lab.ready_names("app=echo"))
    got = answers(lambda: http_from_node(f"http://{state['ip']}/"), 10)
    check(set(got) <= names, f"ClusterIP from the node: {got}")
    check_eq(set(got), names, "connections spread over both backends")
    got = answers(lambda: http_from_node(f"http://{state['node_ip']}:{NODE_PORT}/"), 6)
    check(set(got) <= names, f"NodePort on the node's address: {got}")


def test_scaling_moves_connections(lab, state):
    lab.ctl("scale", "deployment/echo", "--replicas=3")
    wait_for(lambda: len(lab.ready_names("app=echo")) == 3, timeout=60, what="three ready backends")
    names = set(lab.ready_names("app=echo"))
    wait_for(lambda: set(answers(lambda: http_from_node(f"http://{state['ip']}/"), 12)) == names, timeout=30,
             what=f"connections reaching all three backends {names}")
    lab.ctl("scale", "deployment/echo", "--replicas=1")
    wait_for(lambda: len(lab.pods("app=echo")) == 1, timeout=60, what="one backend left")
    left = set(lab.ready_names("app=echo"))
    wait_for(lambda: set(answers(lambda: http_from_node(f"http://{state['ip']}/"), 8)) == left, timeout=30,
             what=f"every connection to the one backend left {left}")
    lab.ctl("scale", "deployment/echo", "--replicas=2")
    wait_for(lambda: len(lab.ready_names("app=echo")) == 2, timeout=60, what="two ready backends again")


def test_killed_backend(lab, state):
    # A bare pod that is not restarted: once killed it stays down.
    victim = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "victim", "labels": {"tier": "echo"}},
              "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                       "containers": [backend_container()]}}
    lab.apply(victim)
    wait_for(lambda: "victim" in {p["metadata"]["name"] for p in lab.pods("tier=echo") if any(
        c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))},
        timeout=60, what="the victim ready")
    wait_for(lambda: "victim" in answers(lambda: http_from_node(f"http://{state['ip']}/"), 6), timeout=30,
             what="the victim taking connections")
    pod = [p for p in lab.pods("tier=echo") if p["metadata"]["name"] == "victim"][0]
    subprocess.run(["docker", "kill", lab.container(pod, "echo")], capture_output=True, check=True)
    # At once: no connection may fail, none is answered by the victim.
    got = answers(lambda: http_from_node(f"http://{state['ip']}/"), 12)
    check("victim" not in got, f"answers after the kill: {got}")
    check(set(got) <= set(lab.ready_names("app=echo")), f"the others answered: {got}")
    wait_for(lambda: pod["status"]["podIP"] not in json.dumps(
        json.loads(lab.ctl("get", "endpoints", "echo", "-o", "json").stdout).get("subsets", [])),
        timeout=30, what="the victim out of the Endpoints")
    lab.ctl("delete", "pod", "victim", "--wait=false")


def test_udp(lab, state):
    names = set(lab.ready_names("app=echo"))
    r = lab.in_client("blog", "udp-ask", "echo.default.svc.cluster.local", "9000", "hello")
    check_eq(r.returncode, 0, f"UDP from the pod: {r.stderr}")
    who, msg = r.stdout.strip().split(" ", 1)
    check(who in names and msg == "hello", f"UDP echo through the Service: {r.stdout!r}")
    got = {udp_from_node(state["ip"], 9000, f"n{i}").split(" ")[0] for i in range(6)}
    check(got <= names, f"UDP from the node: {got}")


def test_load_balancer_status(lab, state):
    def ingress():
        return lab.svc("echo-lb").get("status", {}).get("loadBalancer", {}).get("ingress")
    wait_for(ingress, timeout=30, what="echo-lb's status.loadBalancer.ingress")
    check_eq(ingress()[0].get("ip"), state["node_ip"], "the LoadBalancer address is the node's")
    lb = lab.svc("echo-lb")["spec"]["ports"][0]["port"]
    got = http_from_node(f"http://{state['node_ip']}:{lb}/")
    check(got in set(lab.ready_names("app=echo")), f"through the LoadBalancer address: {got}")


TESTS = [test_setup, test_pod_to_service, test_node_to_service, test_scaling_moves_connections,
         test_killed_backend, test_udp, test_load_balancer_status]


def main():
    blogchecks.run(Lab(), TESTS)


if __name__ == "__main__":
    main()
