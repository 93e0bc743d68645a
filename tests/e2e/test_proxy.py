#!/usr/bin/env python3
"""End-to-end tests of `minik8s proxy`: the service proxy and cluster DNS.

Everything runs inside a network namespace this test makes (and deletes at
the end, also on failure), so the ClusterIPs, the minik8s0 interface and
port 53 never touch the machine's own network:

    netns mk8s-proxy-<pid>
      lo          127.0.0.1      apiserver (harness), test resolver :53
      node0       192.168.250.2  the "node address" (NodePort, LoadBalancer)
                  .11 .12 .13    echo backends standing in for pods
      minik8s0    10.96.x.y/32   made by the proxy: ClusterIPs, DNS 10.96.0.10

Services and Endpoints are created directly through the API (no selector,
so no controller touches them) and point at plain TCP/UDP echo servers
that greet with their name. The proxy runs two forwarding loops
(--proxy-threads 2), so round robin, affinity, counters and shutdown are
checked across threads. Needs root (skips with 77 otherwise). A
variant with real pods on Docker belongs with the kubelet's tests.
"""

import json
import os
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import BIN, CheckFailed, Cluster, check, check_eq, wait_for  # noqa: E402

NS_ENV = "MINIK8S_PROXY_TEST_NETNS"
NODE_IP = "192.168.250.2"
BACKENDS = {"b1": "192.168.250.11", "b2": "192.168.250.12", "b3": "192.168.250.13"}
UNASSIGNED_IP = "192.168.250.99"   # on the subnet, nobody has it: connects time out
DNS_IP = "10.96.0.10"
IFACE = "minik8s0"
LOOPS = 2                         # --proxy-threads: several loops, whatever the machine has


def skip(why):
    print(f"skipped: {why}", file=sys.stderr)
    sys.exit(77)


def sh(*args, check_rc=True):
    p = subprocess.run(list(args), capture_output=True, text=True)
    if check_rc and p.returncode != 0:
        raise CheckFailed(f"{' '.join(args)} failed: {p.stderr.strip()}")
    return p


# ---- outside: make the namespace, run ourselves in it, always clean up ---------

def outer():
    if os.geteuid() != 0:
        skip("needs root: the proxy creates an interface and listens on port 53")
    if not shutil.which("ip"):
        skip("needs iproute2's `ip` to make a network namespace")
    ns = f"mk8s-proxy-{os.getpid()}"
    rc = 1
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "add", "node0", "type", "bridge")
        sh("ip", "-n", ns, "addr", "add", f"{NODE_IP}/24", "dev", "node0")
        for ip in BACKENDS.values():
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "node0")
        sh("ip", "-n", ns, "link", "set", "node0", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", "192.168.250.1", "dev", "node0")
        env = dict(os.environ)
        env[NS_ENV] = ns
        rc = subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__)],
                            env=env).returncode
    finally:
        # Whatever is still running in there is ours: end it, then the namespace.
        pids = sh("ip", "netns", "pids", ns, check_rc=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        sh("ip", "netns", "del", ns, check_rc=False)
        if ns in sh("ip", "netns", "list", check_rc=False).stdout.split():
            print(f"FAIL network namespace {ns} was not removed", flush=True)
            rc = 1
    sys.exit(rc)


# ---- inside: backends ---------------------------------------------------------------

class EchoTCP(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def tcp_backend(name, ip, port):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                self.request.sendall(f"{name}\n".encode())
                while True:
                    data = self.request.recv(65536)
                    if not data:
                        break
                    self.request.sendall(data)
            except OSError:
                pass

    srv = EchoTCP((ip, port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def udp_backend(name, ip, port):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            sock.sendto(f"{name}:".encode() + data, self.client_address)

    srv = socketserver.ThreadingUDPServer((ip, port), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def greeting(ip, port, timeout=3):
    """Connects and returns the backend's name (raises on refusal or timeout)."""
    with socket.create_connection((ip, port), timeout=timeout) as s:
        f = s.makefile("rb")
        line = f.readline()
        if not line:
            raise ConnectionError("closed without a greeting")
        return line.decode().strip()


def names(ip, port, n):
    return [greeting(ip, port) for _ in range(n)]


def refused_at_once(ip, port):
    t0 = time.time()
    try:
        greeting(ip, port, timeout=3)
    except (ConnectionRefusedError, ConnectionResetError, ConnectionError):
        return time.time() - t0 < 1.0
    return False


# ---- inside: a DNS client and a resolver of our own -----------------------------------

def dns_query(name, qtype=1, tcp=False, server=DNS_IP, qid=0x4d4b):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    if tcp:
        with socket.create_connection((server, 53), timeout=5) as s:
            s.sendall(struct.pack(">H", len(q)) + q)
            f = s.makefile("rb")
            n = struct.unpack(">H", f.read(2))[0]
            r = f.read(n)
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(q, (server, 53))
            r = s.recv(4096)
    return dns_parse(r)


def dns_name(msg, pos):
    labels, jumped, end = [], False, None
    while True:
        n = msg[pos]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = pos + 2
            jumped = True
            pos = ((n & 0x3F) << 8) | msg[pos + 1]
            continue
        if n == 0:
            return ".".join(labels), (end if jumped else pos + 1)
        labels.append(msg[pos + 1:pos + 1 + n].decode())
        pos += 1 + n


def dns_parse(r):
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", r[:12])
    pos = 12
    for _ in range(qd):
        _, pos = dns_name(r, pos)
        pos += 4
    answers = []
    for _ in range(an):
        _, pos = dns_name(r, pos)
        t, _, _, rdlen = struct.unpack(">HHIH", r[pos:pos + 10])
        pos += 10
        rd = r[pos:pos + rdlen]
        if t == 1:
            answers.append(("A", socket.inet_ntoa(rd)))
        elif t == 33:
            prio, weight, port = struct.unpack(">HHH", rd[:6])
            target, _ = dns_name(r, pos + 6)
            answers.append(("SRV", port, target))
        elif t in (5, 12):
            target, _ = dns_name(r, pos)
            answers.append(("CNAME" if t == 5 else "PTR", target))
        else:
            answers.append((t,))
        pos += rdlen
    return {"id": qid, "rcode": flags & 0xF, "tc": bool(flags & 0x200), "answers": answers, "ns": ns}


class TestResolver:
    """Answers every A question with 203.0.113.7 on 127.0.0.1:53 (UDP)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.seen = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                q, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            name, pos = dns_name(q, 12)
            self.seen.append((name, struct.unpack(">H", q[:2])[0]))
            r = q[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + q[12:pos + 4]
            r += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 30, 4) + socket.inet_aton("203.0.113.7")
            self.sock.sendto(r, addr)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


# ---- inside: the proxy ---------------------------------------------------------------------

class Proxy:
    def __init__(self, cluster, tmp):
        self.cluster = cluster
        self.resolv = os.path.join(tmp, "resolv.conf")
        with open(self.resolv, "w") as f:
            f.write("nameserver 127.0.0.1\n")
        self.log_path = os.path.join(tmp, "proxy.log")
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "proxy", "--kubeconfig", self.cluster.kubeconfig, "--resolv-conf", self.resolv,
             "--dns-forward-timeout", "500ms", "--proxy-threads", str(LOOPS), "-v", "debug"],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.cluster.env())
        wait_for(self.healthy, timeout=30, what="proxy /healthz")

    def healthy(self):
        if self.proc.poll() is not None:
            raise CheckFailed(f"proxy exited with {self.proc.returncode}:\n{self.read_log()}")
        try:
            with urllib.request.urlopen("http://127.0.0.1:10256/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:10256/metrics", timeout=5) as r:
            return r.read().decode()

    def stop(self, sig=signal.SIGTERM):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def read_log(self):
        try:
            return open(self.log_path, "rb").read().decode(errors="replace")[-6000:]
        except OSError:
            return ""


def iface_addrs():
    p = sh("ip", "-4", "-o", "addr", "show", "dev", IFACE, check_rc=False)
    return {line.split()[3].split("/")[0] for line in p.stdout.splitlines()}


# ---- inside: API helpers ---------------------------------------------------------------------

def create_service(c, name, ports, type_="ClusterIP", extra=None, ns="default"):
    spec = {"type": type_, "ports": ports}
    spec.update(extra or {})
    r = c.post(f"/api/v1/namespaces/{ns}/services",
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
    check(r.status == 201, f"create service {name}: {r}")
    return r.json


def set_endpoints(c, name, addrs, ports, ns="default"):
    """addrs: list of IPs (ready). ports: [{"name":..,"port":..,"protocol":..}]."""
    subsets = [{"addresses": [{"ip": ip} for ip in addrs], "ports": ports}] if addrs else []
    path = f"/api/v1/namespaces/{ns}/endpoints/{name}"
    if c.get(path).status == 404:
        r = c.post(f"/api/v1/namespaces/{ns}/endpoints",
                   {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name}, "subsets": subsets})
        check(r.status == 201, f"create endpoints {name}: {r}")
    else:
        r = c.patch(path, {"subsets": subsets})
        check(r.status == 200, f"patch endpoints {name}: {r}")


def cluster_ip(c, name, ns="default"):
    return c.get(f"/api/v1/namespaces/{ns}/services/{name}").json["spec"]["clusterIP"]


TCP_PORT = [{"name": "tcp", "port": 9001, "protocol": "TCP"}]


# ---- the tests ---------------------------------------------------------------------------------

def test_interface_and_health(c, px):
    check(px.healthy())
    addrs = wait_for(lambda: iface_addrs() >= {"10.96.0.1", DNS_IP} and iface_addrs(), what="ClusterIPs on minik8s0")
    check("10.96.0.1" in addrs, f"kubernetes ClusterIP on {IFACE}: {addrs}")


def test_clusterip_round_robin(c, px):
    create_service(c, "echo", [{"name": "tcp", "port": 80, "targetPort": 9001}])
    set_endpoints(c, "echo", [BACKENDS["b1"], BACKENDS["b2"]], TCP_PORT)
    ip = cluster_ip(c, "echo")
    wait_for(lambda: greeting(ip, 80), what="echo reachable on its ClusterIP")
    got = names(ip, 80, 6)
    check_eq(sorted(set(got)), ["b1", "b2"], "backends seen")
    check(all(got[i] != got[i + 1] for i in range(5)), f"round robin alternates: {got}")
    # bytes go both ways
    with socket.create_connection((ip, 80), timeout=3) as s:
        f = s.makefile("rwb")
        f.readline()
        payload = os.urandom(200000)
        threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)), daemon=True).start()
        back = f.read()
        check_eq(len(back), len(payload), "echoed length")
        check(back == payload, "echoed bytes equal")


def test_no_endpoints_refused(c, px):
    create_service(c, "lonely", [{"name": "tcp", "port": 80}])
    ip = cluster_ip(c, "lonely")
    wait_for(lambda: ip in iface_addrs(), what="lonely's ClusterIP on minik8s0")
    check(refused_at_once(ip, 80), "no Endpoints: refused at once")
    set_endpoints(c, "lonely", [], TCP_PORT)
    time.sleep(0.3)
    check(refused_at_once(ip, 80), "empty Endpoints: refused at once")


def test_scaling(c, px):
    ip = cluster_ip(c, "echo")
    # a connection opened now must survive the scale-down below
    old = socket.create_connection((ip, 80), timeout=3)
    of = old.makefile("rwb")
    first = of.readline().decode().strip()
    set_endpoints(c, "echo", list(BACKENDS.values()), TCP_PORT)
    t0 = time.time()
    wait_for(lambda: "b3" in names(ip, 80, 3), what="the new backend b3 in rotation")
    added = time.time() - t0
    set_endpoints(c, "echo", [BACKENDS["b3"]], TCP_PORT)
    wait_for(lambda: set(names(ip, 80, 4)) == {"b3"}, what="only b3 after scaling down")
    check_eq(set(names(ip, 80, 6)), {"b3"}, "every new connection goes to b3")
    of.write(b"still here\n")
    of.flush()
    check_eq(of.readline(), b"still here\n", f"the connection to {first} opened before the change")
    old.close()
    print(f"     endpoints change applied within {added:.2f}s", flush=True)


def test_dead_endpoint_skipped(c, px):
    create_service(c, "flaky", [{"name": "tcp", "port": 80}])
    # a live address with nothing on the port (refuses), an address nobody
    # has (times out), and one good backend
    set_endpoints(c, "flaky", [BACKENDS["b1"], UNASSIGNED_IP], [{"name": "tcp", "port": 9555}])
    ip = cluster_ip(c, "flaky")
    subsets = [{"addresses": [{"ip": BACKENDS["b1"]}, {"ip": UNASSIGNED_IP}], "ports": [{"name": "tcp", "port": 9555}]},
               {"addresses": [{"ip": BACKENDS["b2"]}], "ports": [{"name": "tcp", "port": 9001}]}]
    r = c.patch("/api/v1/namespaces/default/endpoints/flaky", {"subsets": subsets})
    check(r.status == 200, f"patch endpoints: {r}")
    wait_for(lambda: greeting(ip, 80, timeout=5) == "b2", what="flaky reaches b2")
    check_eq(set(names(ip, 80, 6)), {"b2"}, "dead endpoints skipped")


def test_nodeport(c, px):
    svc = create_service(c, "np", [{"name": "tcp", "port": 80}], type_="NodePort")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    check(30000 <= node_port <= 32767, f"nodePort allocated: {node_port}")
    set_endpoints(c, "np", [BACKENDS["b1"]], TCP_PORT)
    wait_for(lambda: greeting(NODE_IP, node_port) == "b1", what="NodePort on the node address")
    check_eq(greeting("127.0.0.1", node_port), "b1", "NodePort on loopback")
    check_eq(greeting(cluster_ip(c, "np"), 80), "b1", "and the ClusterIP")


def test_loadbalancer(c, px):
    # The controller manager's service-lb controller writes the Ready nodes'
    # InternalIPs; this node has no kubelet, so its Node is made by hand.
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "proxy-e2e"}}
    c.post("/api/v1/nodes", node)
    r = c.patch("/api/v1/nodes/proxy-e2e/status", {"status": {
        "addresses": [{"type": "InternalIP", "address": NODE_IP}],
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}})
    check(r.status == 200, f"node status: {r}")
    create_service(c, "lb", [{"name": "tcp", "port": 8080}], type_="LoadBalancer")
    set_endpoints(c, "lb", [BACKENDS["b2"]], TCP_PORT)

    def ingress():
        st = c.get("/api/v1/namespaces/default/services/lb").json.get("status", {})
        return st.get("loadBalancer", {}).get("ingress")
    ing = wait_for(ingress, what="status.loadBalancer.ingress")
    check_eq([i.get("ip") for i in ing], [NODE_IP], "LoadBalancer ingress is the node address")
    wait_for(lambda: greeting(NODE_IP, 8080) == "b2", what="LoadBalancer port on the node address")
    # a Service that stops being a LoadBalancer loses the status
    r = c.patch("/api/v1/namespaces/default/services/lb", {"spec": {"type": "NodePort"}})
    check(r.status == 200, f"change type: {r}")
    wait_for(lambda: not ingress(), what="ingress cleared")


def test_udp(c, px):
    create_service(c, "uecho", [{"name": "udp", "port": 5300, "protocol": "UDP"}])
    ports = [{"name": "udp", "port": 9002, "protocol": "UDP"}]
    set_endpoints(c, "uecho", [BACKENDS["b1"], BACKENDS["b2"]], ports)
    ip = cluster_ip(c, "uecho")

    def ask(sock, msg):
        sock.sendto(msg, (ip, 5300))
        data, addr = sock.recvfrom(4096)
        check_eq(addr, (ip, 5300), "reply comes from the ClusterIP")
        return data.decode()

    def first_answer():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1)
            return ask(s, b"ping")
    wait_for(first_answer, what="UDP echo through the ClusterIP")
    seen = set()
    for _ in range(6):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            reply = ask(s, b"hello")
            check(reply.endswith(":hello"), f"echo: {reply}")
            seen.add(reply.split(":")[0])
            check_eq(ask(s, b"again").split(":")[0], reply.split(":")[0], "a flow keeps its backend")
    check_eq(seen, {"b1", "b2"}, "UDP flows spread over both")


def test_session_affinity(c, px):
    create_service(c, "sticky", [{"name": "tcp", "port": 80}], extra={"sessionAffinity": "ClientIP"})
    set_endpoints(c, "sticky", [BACKENDS["b1"], BACKENDS["b2"], BACKENDS["b3"]], TCP_PORT)
    ip = cluster_ip(c, "sticky")
    first = wait_for(lambda: greeting(ip, 80), what="sticky reachable")
    check_eq(set(names(ip, 80, 8)), {first}, "ClientIP affinity keeps one backend")
    # the forwarding loops share the affinity table: enough connections
    # that the kernel hands some to each loop, and all still stick
    check_eq(set(names(ip, 80, 24)), {first}, "ClientIP affinity holds across the forwarding loops")


def test_dns(c, px):
    ip = cluster_ip(c, "echo")
    r = dns_query("echo.default.svc.cluster.local")
    check_eq(r["rcode"], 0, "rcode")
    check_eq(r["answers"], [("A", ip)], "A of a Service")
    check_eq(r["id"], 0x4D4B, "ID echoed")
    r = dns_query("echo.default.svc.cluster.local", tcp=True)
    check_eq(r["answers"], [("A", ip)], "A over TCP")
    r = dns_query("_tcp._tcp.echo.default.svc.cluster.local", qtype=33)
    check_eq(r["answers"], [("SRV", 80, "echo.default.svc.cluster.local")], "SRV of a named port")
    r = dns_query("nope.default.svc.cluster.local")
    check_eq(r["rcode"], 3, "NXDOMAIN for an unknown Service")
    r = dns_query("echo.default.svc.cluster.local", qtype=28)
    check_eq((r["rcode"], r["answers"]), (0, []), "AAAA of an existing name: NOERROR, empty")
    # headless: the endpoint addresses
    create_service(c, "hl", [{"name": "tcp", "port": 80}], extra={"clusterIP": "None"})
    set_endpoints(c, "hl", [BACKENDS["b1"], BACKENDS["b2"]], TCP_PORT)
    want = sorted([("A", BACKENDS["b1"]), ("A", BACKENDS["b2"])])
    wait_for(lambda: sorted(dns_query("hl.default.svc.cluster.local")["answers"]) == want,
             what="headless A records")
    # a new Service resolves promptly
    create_service(c, "fresh", [{"name": "tcp", "port": 80}])
    wait_for(lambda: dns_query("fresh.default.svc.cluster.local")["answers"] == [("A", cluster_ip(c, "fresh"))],
             what="a new Service in DNS")
    # other names go to the resolver of --resolv-conf
    res = TestResolver()
    try:
        r = dns_query("www.example.com", qid=0x1111)
        check_eq((r["rcode"], r["answers"], r["id"]), (0, [("A", "203.0.113.7")], 0x1111), "forwarded answer")
        check(res.seen and res.seen[-1][0] == "www.example.com", f"resolver asked: {res.seen}")
    finally:
        res.close()
    t0 = time.time()
    r = dns_query("gone.example.com")
    check_eq(r["rcode"], 2, "SERVFAIL when no upstream answers")
    check(time.time() - t0 < 4, "SERVFAIL after the forward timeout, not later")


def test_metrics(c, px):
    text = px.metrics()
    lbl = 'namespace="default",service="echo",port="tcp",protocol="TCP"'

    def value(prefix):
        for line in text.splitlines():
            if line.startswith(prefix):
                return float(line.rsplit(" ", 1)[1])
        raise CheckFailed(f"no metric {prefix} in:\n{text[:3000]}")
    check(value(f"minik8s_proxy_connections_total{{{lbl}}}") >= 10, "connections counted")
    check(value(f'minik8s_proxy_bytes_total{{{lbl},direction="in"}}') >= 200000, "bytes in counted")
    check(value(f'minik8s_proxy_bytes_total{{{lbl},direction="out"}}') >= 200000, "bytes out counted")
    flaky = 'namespace="default",service="flaky",port="tcp",protocol="TCP",reason="connect"'
    check(value(f"minik8s_proxy_errors_total{{{flaky}}}") >= 1, "connect errors counted")
    check_eq(value("minik8s_proxy_loops"), LOOPS, "forwarding loops as --proxy-threads says")
    per_loop = [value(f'minik8s_proxy_loop_connections_total{{loop="{i}"}}') for i in range(LOOPS)]
    check(all(n > 0 for n in per_loop), f"every forwarding loop accepted connections: {per_loop}")
    check(value('minik8s_dns_responses_total{rcode="NXDOMAIN"}') >= 1, "DNS rcodes counted")
    check(value("minik8s_dns_forward_failures_total") >= 1, "DNS forward failures counted")


def test_service_deleted(c, px):
    ip = cluster_ip(c, "lonely")
    r = c.delete("/api/v1/namespaces/default/services/lonely")
    check(r.status == 200, f"delete: {r}")
    wait_for(lambda: ip not in iface_addrs(), what="the ClusterIP removed from minik8s0")
    r = dns_query("lonely.default.svc.cluster.local")
    check_eq(r["rcode"], 3, "gone from DNS")


def test_crash_leftovers_removed(c, px):
    """kill -9 leaves the interface and addresses; the next start cleans up."""
    px.stop(signal.SIGKILL)
    check(IFACE in sh("ip", "link").stdout, "the interface outlives a crash")
    sh("ip", "addr", "add", "10.96.123.123/32", "dev", IFACE)
    px.start()
    wait_for(lambda: "10.96.123.123" not in iface_addrs(), what="stale address removed")
    ip = cluster_ip(c, "echo")
    wait_for(lambda: greeting(ip, 80) == "b3", what="echo works after the restart")


TESTS = [test_interface_and_health, test_clusterip_round_robin, test_no_endpoints_refused, test_scaling,
         test_dead_endpoint_skipped, test_nodeport, test_loadbalancer, test_udp, test_session_affinity, test_dns,
         test_metrics, test_service_deleted, test_crash_leftovers_removed]


def inner():
    only = os.environ.get("TEST_ONLY")
    tmp = tempfile.mkdtemp(prefix="minik8s-proxy-e2e-")
    backends = []
    c = px = None
    passed = failed = 0
    try:
        for name, ip in BACKENDS.items():
            backends.append(tcp_backend(name, ip, 9001))
            backends.append(udp_backend(name, ip, 9002))
        c = Cluster()
        px = Proxy(c, tmp)
        px.start()
        for fn in TESTS:
            if only and only not in fn.__name__:
                continue
            t0 = time.time()
            try:
                fn(c, px)
                passed += 1
                print(f"ok   {fn.__name__} ({time.time() - t0:.1f}s)", flush=True)
            except Exception:  # noqa: BLE001 - report and go on
                failed += 1
                print(f"FAIL {fn.__name__} ({time.time() - t0:.1f}s)\n{traceback.format_exc()}", flush=True)
                print("--- proxy log tail ---\n" + px.read_log(), flush=True)
    except Exception:  # noqa: BLE001 - setup failed
        failed += 1
        print(f"FAIL setup\n{traceback.format_exc()}", flush=True)
        if px:
            print("--- proxy log tail ---\n" + px.read_log(), flush=True)
    finally:
        if px:
            rc = px.stop()
            if rc != 0:
                failed += 1
                print(f"FAIL proxy exit code {rc} at shutdown (a sanitizer report?)\n{px.read_log()}", flush=True)
            elif IFACE in sh("ip", "link").stdout:
                failed += 1
                print(f"FAIL {IFACE} still there after a clean stop", flush=True)
        if c:
            rc = c.cleanup()
            if rc not in (0, -15):
                failed += 1
                print(f"FAIL server exit code {rc} at shutdown\n{c.final_log}", flush=True)
        for b in backends:
            b.shutdown()
            b.server_close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed, 0 skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    if os.environ.get(NS_ENV):
        inner()
    else:
        outer()
