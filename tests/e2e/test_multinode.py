#!/usr/bin/env python3
"""Three nodes on one machine: three network namespaces (h1, h2, h3) joined
by a bridge in a fourth one (the "switch"), each host with its own Docker
Engine (own data root, exec root, socket, pidfile, --bip and
--cgroup-parent, started under `nsenter --net`) and its own minik8s: the
control plane and its node on h1 (`minik8s server`), `minik8s agent` on h2
and h3, joined with the token over the bridge.

    switch netns: bridge 192.168.77.1/24
      |-- h1 192.168.77.11  dockerd + minik8s server (apiserver, controllers, scheduler, node h1)
      |-- h2 192.168.77.12  dockerd + minik8s agent
      |-- h3 192.168.77.13  dockerd + minik8s agent

Checks: a spread Deployment lands on all three; every node routes the
others' podCIDRs (host-gw); pod to pod and pod to Service (by DNS name)
across hosts; NodePort on h3 reaching a pod that runs only on h2; the blog
across the three hosts; cordon, drain and uncordon of h3; h2's agent and engine stopped: the node goes
NotReady, its pods are replaced on h1 and h3 once the (short) unreachable
toleration runs out, the Service stops sending to them; h2 coming back
rejoins with its saved credential and removes the containers of the pods
that moved away; h3 deleted from the cluster: the others drop its route.

Needs root, a Docker Engine on the machine (for dockerd and the images),
`ip` and `nsenter`; exit 77 without. The root network namespace is not
touched. Everything made here (namespaces, engines, data, cgroups) is
removed at the end, also on failure.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

from harness import BIN, CheckFailed, check, check_eq, wait_for  # noqa: E402
import dockerlib  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
HOSTS = ["h1", "h2", "h3"]
IP = {h: f"192.168.77.{11 + i}" for i, h in enumerate(HOSTS)}
SWITCH = "m8s-sw"
TAG = f"m8s{os.getpid() % 10000}"
NS = {h: f"{TAG}-{h}" for h in HOSTS}
IMAGE = "minik8s-e2e/busybox:1"
BLOG_IMAGES = [f"minik8s/blog-{n}:1" for n in ("posts", "comments", "query", "moderation", "event-bus", "client")]
TOLERATION_S = 10


def sh(*args, check_rc=True, timeout=120, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    if check_rc and p.returncode != 0:
        raise CheckFailed(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def in_ns(host, *args):
    return ["nsenter", f"--net=/run/netns/{NS[host]}", *args]


class Lab:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="minik8s-multinode-")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.procs = {}      # name -> (Popen, log file)
        self.dockers = {}
        self.made_ns = []

    # -- the network ---------------------------------------------------------
    def network(self):
        sw = f"{TAG}-sw"
        for ns in [sw] + [NS[h] for h in HOSTS]:
            sh("ip", "netns", "add", ns)
            self.made_ns.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", sw, "addr", "add", "192.168.77.1/24", "dev", "br0")
        sh("ip", "-n", sw, "link", "set", "br0", "up")
        for h in HOSTS:
            # The host's end is eth0, named as a VM's would be.
            sh("ip", "link", "add", f"{TAG}{h}", "type", "veth", "peer", "name", f"{TAG}{h}p")
            sh("ip", "link", "set", f"{TAG}{h}", "netns", NS[h])
            sh("ip", "link", "set", f"{TAG}{h}p", "netns", sw)
            sh("ip", "-n", NS[h], "link", "set", f"{TAG}{h}", "name", "eth0")
            sh("ip", "-n", NS[h], "addr", "add", f"{IP[h]}/24", "dev", "eth0")
            sh("ip", "-n", NS[h], "link", "set", "eth0", "up")
            sh("ip", "-n", NS[h], "route", "add", "default", "via", "192.168.77.1")
            sh("ip", "-n", sw, "link", "set", f"{TAG}{h}p", "master", "br0")
            sh("ip", "-n", sw, "link", "set", f"{TAG}{h}p", "up")
            sh(*in_ns(h, "sysctl", "-qw", "net.ipv4.ip_forward=1"))

    # -- processes -----------------------------------------------------------
    def spawn(self, name, host, args):
        log = open(os.path.join(self.tmp, f"{name}.log"), "ab")
        env = dict(os.environ, HOME=self.home)
        env.pop("KUBECONFIG", None)
        p = subprocess.Popen(in_ns(host, *args), stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs[name] = (p, log)
        return p

    def stop(self, name, sig=signal.SIGTERM, timeout=60):
        p, log = self.procs.pop(name)
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()
        return p.returncode

    def log(self, name, tail=3000):
        try:
            return open(os.path.join(self.tmp, f"{name}.log"), errors="replace").read()[-tail:]
        except OSError:
            return ""

    def sock(self, h):
        return f"/run/{TAG}-{h}.sock"

    def start_docker(self, h):
        i = HOSTS.index(h)
        self.spawn(f"dockerd-{h}", h, [
            "dockerd", "--data-root", os.path.join(self.tmp, f"docker-{h}"), "--exec-root", f"/run/{TAG}-{h}",
            "-H", f"unix://{self.sock(h)}", "--pidfile", f"/run/{TAG}-{h}.pid", "--bip", f"172.31.{i}.1/24",
            "--cgroup-parent", f"/{TAG}-{h}", "--iptables=true", "--ip-forward=true"])
        d = dockerlib.Docker(self.sock(h))
        wait_for(lambda: os.path.exists(self.sock(h)) and d.ping(), timeout=60, what=f"dockerd of {h}")
        self.dockers[h] = d
        return d

    def docker_cli(self, h, *args, **kw):
        return sh("docker", "-H", f"unix://{self.sock(h)}", *args, **kw)

    def data(self, h):
        return os.path.join(self.tmp, f"data-{h}")

    def start_node(self, h, token=True):
        common = ["--data-dir", self.data(h), "--node-name", h, "--docker-host", f"unix://{self.sock(h)}",
                  "--crashloop-initial-backoff", "1s", "--crashloop-max-backoff", "5s"]
        if h == "h1":
            self.spawn("server-h1", h, [BIN, "server", *common,
                                        "--default-unreachable-toleration-seconds", str(TOLERATION_S),
                                        "--default-not-ready-toleration-seconds", str(TOLERATION_S),
                                        "--node-monitor-grace-period", "20s", "--node-monitor-period", "1s",
                                        "--node-eviction-rate", "10"])
            wait_for(lambda: "apiserver ready" in self.log("server-h1"), timeout=30, what="the apiserver on h1")
            return
        args = [BIN, "agent", *common]
        if token:
            args += ["--server", f"https://{IP['h1']}:6443", "--token", self.token]
        self.spawn(f"agent-{h}", h, args)

    def ctl(self, *args, check_rc=True, timeout=60):
        env = dict(os.environ, HOME=self.home, KUBECONFIG=os.path.join(self.data("h1"), "admin.kubeconfig"))
        p = subprocess.run(in_ns("h1", BIN, "ctl", *args), capture_output=True, text=True, env=env,
                           timeout=timeout)
        if check_rc and p.returncode != 0:
            raise CheckFailed(f"minictl {' '.join(args)} failed: {p.stderr.strip()}")
        return p

    def get(self, *args):
        return json.loads(self.ctl("get", *args, "-o", "json").stdout)

    def cleanup(self):
        for name in [n for n in self.procs if not n.startswith("dockerd")]:
            self.stop(name, timeout=30)
        for h, d in self.dockers.items():
            try:
                for c in d.containers(all=True):
                    d.remove(c["Id"])
            except (OSError, dockerlib.DockerError):
                pass
        for name in [n for n in self.procs if n.startswith("dockerd")]:
            self.stop(name, timeout=60)
        for ns in reversed(self.made_ns):
            sh("ip", "netns", "del", ns, check_rc=False)
        for h in HOSTS:
            for path in (f"/run/{TAG}-{h}", f"/run/{TAG}-{h}.sock", f"/run/{TAG}-{h}.pid"):
                if os.path.isdir(path):
                    sh("umount", "-R", path, check_rc=False)
                    shutil.rmtree(path, ignore_errors=True)
                elif os.path.exists(path):
                    os.unlink(path)
            cg = f"/sys/fs/cgroup/{TAG}-{h}"
            if os.path.isdir(cg):
                for root, dirs, _ in os.walk(cg, topdown=False):
                    for d in dirs:
                        try:
                            os.rmdir(os.path.join(root, d))
                        except OSError:
                            pass
                try:
                    os.rmdir(cg)
                except OSError:
                    pass
        sh("umount", "-R", self.tmp, check_rc=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- objects ----------------------------------------------------------------

def web_deployment(name, replicas, node=None):
    spec = {"containers": [{"name": "web", "image": IMAGE, "imagePullPolicy": "Never",
                            "command": ["sh", "-c", "mkdir -p /www && echo $POD_NAME > /www/index.html && "
                                        "exec httpd -f -p 8080 -h /www"],
                            "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                            "ports": [{"containerPort": 8080}],
                            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}],
            "terminationGracePeriodSeconds": 2}
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def service(name, node_port=None):
    s = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
         "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}
    if node_port:
        s["spec"]["type"] = "NodePort"
        s["spec"]["ports"][0]["nodePort"] = node_port
    return s


def apply(lab, *objs):
    path = os.path.join(lab.tmp, f"objs-{time.time()}.yaml")
    with open(path, "w") as f:
        for o in objs:
            f.write("---\n" + json.dumps(o) + "\n")
    lab.ctl("apply", "-f", path)


def pods(lab, app):
    return [p for p in lab.get("pods", "-l", f"app={app}")["items"] if not p["metadata"].get("deletionTimestamp")]


def ready(p):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))


def container_of(lab, pod):
    h = pod["spec"]["nodeName"]
    ids = lab.docker_cli(h, "ps", "-q", "--filter", f"label=io.kubernetes.pod.uid={pod['metadata']['uid']}",
                         "--filter", "label=io.kubernetes.container.name=web").stdout.split()
    check_eq(len(ids), 1, f"the web container of {pod['metadata']['name']}")
    return h, ids[0]


def exec_in(lab, pod, *cmd):
    h, cid = container_of(lab, pod)
    return lab.docker_cli(h, "exec", cid, *cmd, check_rc=False, timeout=30)


def fetch_from(lab, pod, host, port):
    """GET / from inside pod (busybox nc: the static wget crashes on some
    machines), the body's last line."""
    r = exec_in(lab, pod, "sh", "-c", f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} {port}")
    lines = r.stdout.strip().splitlines()
    return lines[-1] if lines else f"(nothing; {r.stderr.strip()})"


# --- the checks ---------------------------------------------------------------

def test_cluster_up(lab, state):
    lab.start_node("h1")
    lab.token = sh(BIN, "token", "--data-dir", lab.data("h1")).stdout.strip()
    for h in ("h2", "h3"):
        lab.start_node(h)

    def all_ready():
        items = lab.get("nodes")["items"]
        return sorted(n["metadata"]["name"] for n in items
                      if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"]))
    wait_for(lambda: all_ready() == HOSTS, timeout=90, what="three Ready nodes")
    nodes = {n["metadata"]["name"]: n for n in lab.get("nodes")["items"]}
    for h in HOSTS:
        addrs = {a["type"]: a["address"] for a in nodes[h]["status"]["addresses"]}
        check_eq(addrs.get("InternalIP"), IP[h], f"{h}'s InternalIP")
    cidrs = {h: nodes[h]["spec"]["podCIDR"] for h in HOSTS}
    check_eq(len(set(cidrs.values())), 3, f"three podCIDRs: {cidrs}")
    state["cidrs"] = cidrs

    def routes(h):
        out = sh("ip", "-n", NS[h], "route", "show", "proto", "77").stdout
        return sorted(line.split()[0] + " via " + line.split()[2] for line in out.splitlines() if " via " in line)
    for h in HOSTS:
        want = sorted(f"{cidrs[o]} via {IP[o]}" for o in HOSTS if o != h)
        wait_for(lambda: routes(h) == want, timeout=30, what=f"{h}'s routes to the other pod networks {want}")


def test_spread(lab, state):
    apply(lab, web_deployment("web", 6), service("web"))
    wait_for(lambda: len([p for p in pods(lab, "web") if ready(p)]) == 6, timeout=120, what="six ready web pods")
    nodes = sorted({p["spec"]["nodeName"] for p in pods(lab, "web")})
    check_eq(nodes, HOSTS, "the spread Deployment on every node")
    for p in pods(lab, "web"):
        check(p["status"]["podIP"].startswith(state["cidrs"][p["spec"]["nodeName"]].rsplit(".", 2)[0]),
              f"{p['metadata']['name']}'s IP {p['status']['podIP']} is from its node's podCIDR")


def test_pod_to_pod_and_service(lab, state):
    by_node = {}
    for p in pods(lab, "web"):
        by_node.setdefault(p["spec"]["nodeName"], []).append(p)
    src = by_node["h1"][0]
    for h in ("h2", "h3"):
        dst = by_node[h][0]
        got = fetch_from(lab, src, dst["status"]["podIP"], 8080)
        check_eq(got, dst["metadata"]["name"], f"h1 pod to an {h} pod by IP")
    names = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in pods(lab, "web")}
    seen = set()
    for _ in range(24):
        got = fetch_from(lab, src, "web.default.svc.cluster.local", 80)
        check(got in names, f"the Service by name answered {got!r}")
        seen.add(names[got])
    check(seen - {"h1"}, f"the Service reached pods on other nodes from h1: {seen}")


def test_nodeport_across_hosts(lab, state):
    apply(lab, web_deployment("only2", 1, node="h2"), service("only2", node_port=30777))
    wait_for(lambda: [p for p in pods(lab, "only2") if ready(p)], timeout=90, what="the h2-only pod ready")
    pod = pods(lab, "only2")[0]
    check_eq(pod["spec"]["nodeName"], "h2", "the pod pinned to h2")
    # From h1, to h3's address: h3's proxy forwards to the pod on h2.
    r = sh(*in_ns("h1", "curl", "-fsS", "--max-time", "10", f"http://{IP['h3']}:30777/"), check_rc=False)
    check_eq(r.stdout.strip(), pod["metadata"]["name"], f"NodePort on h3 to the pod on h2 ({r.stderr.strip()})")


def test_blog_across_hosts(lab, state):
    lab.ctl("apply", "-f", os.path.join(REPO, "examples", "blog", "blog.yaml"))
    for d in ("event-bus", "posts", "comments", "moderation", "query", "client"):
        r = lab.ctl("rollout", "status", f"deployment/{d}-depl", "--timeout", "180s", timeout=200)
        check("successfully rolled out" in r.stdout, r.stdout)
    nodes = {p["spec"]["nodeName"] for p in lab.get("pods")["items"] if "-depl-" in p["metadata"]["name"]}
    check(len(nodes) >= 2, f"the blog's pods on several nodes: {nodes}")
    env = dict(os.environ, BLOG_URL=f"http://{IP['h2']}:30080")
    r = subprocess.run(in_ns("h1", "bash", os.path.join(REPO, "examples", "blog", "smoke.sh")), capture_output=True,
                       text=True, env=env, timeout=120)
    check_eq(r.returncode, 0, f"the blog's smoke test through h2's NodePort:\n{r.stdout}{r.stderr}")


def test_cordon_and_drain(lab, state):
    """cordon keeps new pods off a node; drain moves its pods elsewhere;
    uncordon lets it take pods again."""
    before = len([p for p in pods(lab, "web") if p["spec"]["nodeName"] == "h3"])
    out = lab.ctl("cordon", "h3").stdout
    check("node/h3 cordoned" in out, out)
    lab.ctl("scale", "deployment/web", "--replicas=9")
    wait_for(lambda: len([p for p in pods(lab, "web") if ready(p)]) == 9, timeout=120, what="nine ready web pods")
    new_on_h3 = [p for p in pods(lab, "web") if p["spec"]["nodeName"] == "h3"]
    check_eq(len(new_on_h3), before, "h3 kept its pods and got none of the three new ones")
    r = lab.ctl("drain", "h3", "--timeout", "120s", timeout=150)
    check("node/h3 drained" in r.stdout, r.stdout + r.stderr)
    wait_for(lambda: len([p for p in pods(lab, "web") if ready(p)]) == 9, timeout=120,
             what="nine ready web pods after the drain")
    check_eq([p["metadata"]["name"] for p in pods(lab, "web") if p["spec"]["nodeName"] == "h3"], [],
             "no web pod left on h3")
    lab.ctl("uncordon", "h3")
    lab.ctl("scale", "deployment/web", "--replicas=6")
    wait_for(lambda: len(pods(lab, "web")) == 6, timeout=60, what="six web pods again")
    check(not lab.get("node", "h3")["spec"].get("unschedulable"), "h3 schedulable again")


def test_node_failure(lab, state):
    lost = {p["metadata"]["name"]: p["status"]["podIP"] for p in pods(lab, "web") if p["spec"]["nodeName"] == "h2"}
    check(lost, "web pods on h2 before it goes")
    state["lost_uids"] = {p["metadata"]["uid"] for p in lab.get("pods")["items"] if p["spec"].get("nodeName") == "h2"}
    lab.stop("agent-h2", sig=signal.SIGKILL)
    lab.stop("dockerd-h2")
    lab.dockers.pop("h2", None)

    def node_h2():
        n = lab.get("node", "h2")
        return {c["type"]: c["status"] for c in n["status"]["conditions"]}.get("Ready")
    wait_for(lambda: node_h2() in ("Unknown", "False"), timeout=60, what="h2 NotReady")

    def replaced():
        ps = pods(lab, "web")
        good = [p for p in ps if ready(p) and p["spec"].get("nodeName") in ("h1", "h3")]
        return len(good) == 6
    wait_for(replaced, timeout=150, what="six ready web pods on h1 and h3")
    ep = lab.get("endpoints", "web")
    ips = {a["ip"] for s in ep.get("subsets", []) for a in s.get("addresses", [])}
    check(not ips & set(lost.values()), f"the Service no longer sends to h2's pods: {ips} vs {lost}")
    check_eq(len(ips), 6, "six endpoints")
    terminating = [p for p in lab.get("pods", "-l", "app=web")["items"] if p["metadata"].get("deletionTimestamp")]
    check(terminating, "the old pods stay Terminating while h2 is away")


def test_node_returns(lab, state):
    lab.start_docker("h2")
    lab.start_node("h2", token=False)  # its saved credential: no token needed
    wait_for(lambda: {c["type"]: c["status"] for c in lab.get("node", "h2")["status"]["conditions"]}.get("Ready")
             == "True", timeout=90, what="h2 Ready again")
    check("running as the node joined before" in lab.log("agent-h2", tail=1 << 30), lab.log("agent-h2"))

    def cleaned():
        live = {p["metadata"]["uid"] for p in lab.get("pods")["items"] if p["spec"].get("nodeName") == "h2"}
        gone = state["lost_uids"] - live
        cs = lab.dockers["h2"].containers(all=True, label="io.minik8s.node=h2")
        left = [c for c in cs if c["Labels"].get("io.kubernetes.pod.uid") in gone]
        terminating = [p for p in lab.get("pods", "-l", "app=web")["items"] if p["metadata"].get("deletionTimestamp")]
        return not left and not terminating
    wait_for(cleaned, timeout=120, what="h2's moved pods deleted and their containers removed")


def test_node_deleted_loses_its_route(lab, state):
    """A node taken out of the cluster: the others remove their route to
    its pod network (host-gw follows the Node objects)."""
    check_eq(lab.stop("agent-h3"), 0, "h3's agent stops cleanly")
    lab.ctl("delete", "node", "h3")
    cidr = state["cidrs"]["h3"]
    for h in ("h1", "h2"):
        wait_for(lambda: cidr not in sh("ip", "-n", NS[h], "route", "show", "proto", "77").stdout, timeout=30,
                 what=f"{h}'s route to h3's {cidr} removed")


TESTS = [test_cluster_up, test_spread, test_pod_to_pod_and_service, test_nodeport_across_hosts,
         test_blog_across_hosts, test_cordon_and_drain, test_node_failure, test_node_returns,
         test_node_deleted_loses_its_route]


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces and Docker engines)", file=sys.stderr)
        sys.exit(77)
    if not (shutil.which("ip") and shutil.which("nsenter") and shutil.which("dockerd") and shutil.which("curl")):
        print("SKIP: needs ip, nsenter, dockerd and curl", file=sys.stderr)
        sys.exit(77)
    try:
        main_docker = dockerlib.engine_or_skip()
    except dockerlib.Skip as e:
        print(f"SKIP: {e}", file=sys.stderr)
        sys.exit(77)
    lab = Lab()
    state = {}
    failed = False
    try:
        lab.network()
        # Images: busybox imported into each engine; the blog's built once and loaded.
        have_blog = all(subprocess.run(["docker", "image", "inspect", i], capture_output=True).returncode == 0
                        for i in BLOG_IMAGES)
        if not have_blog:
            sh(os.path.join(REPO, "examples", "blog", "build-images.sh"), timeout=900)
        tar = os.path.join(lab.tmp, "blog-images.tar")
        sh("docker", "save", "-o", tar, *BLOG_IMAGES, timeout=300)
        for h in HOSTS:
            d = lab.start_docker(h)
            dockerlib.busybox_image(d, IMAGE)
            lab.docker_cli(h, "load", "-i", tar, timeout=300)
        del main_docker
        for t in TESTS:
            t0 = time.time()
            t(lab, state)
            print(f"ok   {t.__name__} ({time.time() - t0:.1f}s)", flush=True)
    except Exception:  # noqa: BLE001 - report with every log, then clean up
        failed = True
        traceback.print_exc()
        for name in sorted(os.listdir(lab.tmp)):
            if name.endswith(".log") and not name.startswith("dockerd"):
                print(f"--- {name} ---\n{lab.log(name[:-4])}")
        if os.environ.get("MULTINODE_HOLD"):
            print(f"holding the lab for inspection: namespaces {TAG}-*, data in {lab.tmp}", flush=True)
            time.sleep(float(os.environ["MULTINODE_HOLD"]))
    finally:
        rcs = {}
        for name in ("agent-h3", "agent-h2", "server-h1"):
            if name in lab.procs:
                rcs[name] = lab.stop(name)
        lab.cleanup()
    bad = {n: rc for n, rc in rcs.items() if rc not in (0, None)}
    if bad and not failed:
        print(f"FAIL: exit codes {bad} (a sanitizer report is in the logs)", file=sys.stderr)
        failed = True
    if failed:
        sys.exit(1)
    print(f"{len(TESTS)} passed")


if __name__ == "__main__":
    main()
