#!/usr/bin/env python3
"""bench/proxy: one keep-alive HTTP backend reached four ways, same client.

    direct        wrk -> backend
    minik8s       wrk -> ClusterIP:80 (minik8s proxy, splice) -> backend
    haproxy       wrk -> 127.0.0.1:P (haproxy, mode tcp)       -> backend
    docker-proxy  wrk -> 127.0.0.1:P (Docker's userland proxy) -> backend

With a Docker Engine the backend runs in a container (a FROM-scratch image
of backend.c, built here: no registry) and every path ends at the same
container address; without one, the backend runs on the host and the
docker-proxy row is left out. Then the time from an Endpoints change to new
connections going to the new backend is measured. Run through run.sh, as
root (the proxy puts its ClusterIP on an interface).
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
IFACE = "mk8s-bench0"
IMAGE = "minik8s-bench-backend:latest"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait(fn, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - not ready yet
            last = e
        time.sleep(0.05)
    raise SystemExit(f"bench: timed out waiting for {what} (last: {last!r})")


def http_get(ip, port, timeout=2):
    c = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        c.request("GET", "/", headers={"Connection": "close"})
        r = c.getresponse()
        return r.read().decode().strip()
    finally:
        c.close()


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return int(parts[11]) + int(parts[12])
    except (OSError, IndexError, ValueError):
        return None


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="minik8s-bench-proxy-")
        self.procs = []
        self.containers = []
        self.bin = args.minik8s

    # ---- processes ---------------------------------------------------------------
    def spawn(self, name, argv, env=None):
        out = open(os.path.join(self.tmp, f"{name}.log"), "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.procs.append((name, p))
        return p

    def logtext(self, name):
        try:
            return open(os.path.join(self.tmp, f"{name}.log"), errors="replace").read()
        except OSError:
            return ""

    def cleanup(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for cid in self.containers:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        if subprocess.run(["ip", "link", "show", IFACE], capture_output=True).returncode == 0:
            subprocess.run(["ip", "link", "del", IFACE], capture_output=True)
        if os.environ.get("KEEP"):
            log(f"logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- the API -------------------------------------------------------------------
    def api(self, method, path, body=None, ctype="application/json"):
        c = http.client.HTTPSConnection("127.0.0.1", self.api_port, context=self.ctx, timeout=10)
        h = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = ctype
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        out = r.read()
        c.close()
        if r.status >= 300:
            raise SystemExit(f"bench: {method} {path}: {r.status} {out[:300]!r}")
        return json.loads(out)

    def set_endpoints(self, ip, port):
        self.api("PATCH", "/api/v1/namespaces/default/endpoints/bench",
                 {"subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "http", "port": port}]}]},
                 "application/merge-patch+json")

    # ---- setup ----------------------------------------------------------------------
    def start_cluster(self):
        home = os.path.join(self.tmp, "home")
        os.makedirs(home)
        env = dict(os.environ, HOME=home)
        env.pop("KUBECONFIG", None)
        data = os.path.join(self.tmp, "data")
        self.server = self.spawn("server", [self.bin, "server", "--disable-agent", "--data-dir", data,
                                            "--secure-port", "0", "--bind-address", "127.0.0.1"], env)
        m = wait(lambda: re.search(r"apiserver listening address=[^ ]*:(\d+)", self.logtext("server")) and
                 "apiserver ready" in self.logtext("server") and
                 re.search(r"apiserver listening address=[^ ]*:(\d+)", self.logtext("server")), 30, "the apiserver")
        self.api_port = int(m.group(1))
        self.token = open(os.path.join(data, "pki", "admin.token")).read().strip()
        self.ctx = ssl.create_default_context(cafile=os.path.join(data, "pki", "ca.crt"))
        kc = os.path.join(data, "admin.kubeconfig")
        argv = [self.bin, "proxy", "--kubeconfig", kc, "--proxy-interface", IFACE, "--cluster-dns-ip", "none",
                "--healthz-port", "0"]
        if self.args.proxy_threads:
            argv += ["--proxy-threads", str(self.args.proxy_threads)]
        self.proxy = self.spawn("proxy", argv, env)
        wait(lambda: "caches synced" in self.logtext("proxy") or self.proxy.poll() is not None, 30, "the proxy")
        if self.proxy.poll() is not None:
            raise SystemExit(f"bench: the proxy exited:\n{self.logtext('proxy')[-2000:]}")

    def have_docker(self):
        if self.args.no_docker or not shutil.which("docker"):
            return False
        return subprocess.run(["docker", "version"], capture_output=True, timeout=20).returncode == 0

    def start_backends(self):
        binary = os.path.join(self.tmp, "backend")
        subprocess.run(["gcc", "-O2", "-static", "-o", binary, os.path.join(HERE, "backend.c")], check=True)
        self.docker = self.have_docker()
        if self.docker:
            try:
                self.start_docker_backends(binary)
            except subprocess.CalledProcessError as e:
                log(f"bench: Docker answers but cannot run the backend ({(e.stderr or '').strip()[:200]}); "
                    "running it on the host, without the docker-proxy row")
                for cid in self.containers:
                    subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
                self.containers = []
                self.docker = False
        if not self.docker:
            self.start_host_backends(binary)
        for ip, port in (self.a, self.b):
            wait(lambda: http_get(ip, port), 20, f"the backend at {ip}:{port}")

    def start_docker_backends(self, binary):
        ctx = os.path.join(self.tmp, "image")
        os.makedirs(ctx)
        shutil.copy(binary, os.path.join(ctx, "backend"))
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write('FROM scratch\nCOPY backend /backend\nENTRYPOINT ["/backend"]\n')
        subprocess.run(["docker", "build", "-q", "-t", IMAGE, ctx], check=True, capture_output=True)
        self.published = free_port()
        ids = []
        for name, publish in (("A", True), ("B", False)):
            argv = ["docker", "run", "-d", "--rm", "--label", "minik8s-bench=proxy"]
            if publish:
                argv += ["-p", f"127.0.0.1:{self.published}:8080"]
            cid = subprocess.run(argv + [IMAGE, "8080", name], check=True, capture_output=True,
                                 text=True).stdout.strip()
            self.containers.append(cid)
            ids.append(cid)
        ips = [subprocess.run(["docker", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", c], check=True,
                              capture_output=True, text=True).stdout.strip() for c in ids]
        self.a = (ips[0], 8080)
        self.b = (ips[1], 8080)

    def start_host_backends(self, binary):
        # the node's own address: Endpoints may not point at loopback
        out = subprocess.run(["ip", "-4", "route", "get", "192.0.2.1"], capture_output=True, text=True).stdout
        m = re.search(r"src (\S+)", out)
        if not m:
            raise SystemExit("bench: no docker and no non-loopback address to run the backend on")
        pa, pb = free_port(), free_port()
        self.spawn("backend-a", [binary, str(pa), "A"])
        self.spawn("backend-b", [binary, str(pb), "B"])
        self.a = (m.group(1), pa)
        self.b = (m.group(1), pb)

    def start_service(self):
        svc = self.api("POST", "/api/v1/namespaces/default/services",
                       {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bench"},
                        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": self.a[1]}]}})
        self.cluster_ip = svc["spec"]["clusterIP"]
        self.api("POST", "/api/v1/namespaces/default/endpoints",
                 {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "bench"},
                  "subsets": [{"addresses": [{"ip": self.a[0]}], "ports": [{"name": "http", "port": self.a[1]}]}]})
        wait(lambda: http_get(self.cluster_ip, 80) == "A", 20, "the ClusterIP")

    def start_haproxy(self):
        if not shutil.which("haproxy"):
            log("bench: haproxy not installed (apt-get install haproxy): its row is left out")
            self.haproxy_port = None
            return
        self.haproxy_port = free_port()
        cfg = os.path.join(self.tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            threads = f"    nbthread {self.args.haproxy_threads}\n" if self.args.haproxy_threads else ""
            f.write(f"""global
    maxconn 4000
{threads}defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen bench
    bind 127.0.0.1:{self.haproxy_port}
    server a {self.a[0]}:{self.a[1]}
""")
        self.haproxy = self.spawn("haproxy", ["haproxy", "-db", "-f", cfg])
        wait(lambda: http_get("127.0.0.1", self.haproxy_port) == "A", 20, "haproxy")

    # ---- measuring -------------------------------------------------------------------
    def wrk(self, url, pid):
        a = self.args
        t0 = cpu_ticks(pid) if pid else None
        w0 = time.time()
        out = subprocess.run(["wrk", f"-t{a.threads}", f"-c{a.connections}", f"-d{a.duration}s", "--latency", url],
                             capture_output=True, text=True).stdout
        wall = time.time() - w0
        t1 = cpu_ticks(pid) if pid else None
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
        if not rps or not p99:
            raise SystemExit(f"bench: cannot read wrk's output for {url}:\n{out}")
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
        cpu = None
        if t0 is not None and t1 is not None:
            cpu = (t1 - t0) / os.sysconf("SC_CLK_TCK") / wall * 100
        return float(rps.group(1)), float(p99.group(1)) * scale, cpu, errors.group(0) if errors else ""

    def run(self):
        rows = [("direct", f"http://{self.a[0]}:{self.a[1]}/", None),
                ("minik8s proxy", f"http://{self.cluster_ip}/", self.proxy.pid)]
        if self.haproxy_port:
            rows.append(("haproxy (tcp)", f"http://127.0.0.1:{self.haproxy_port}/", self.haproxy.pid))
        if self.docker:
            dp = subprocess.run(["pgrep", "-f", f"docker-proxy.*-host-port {self.published} "],
                                capture_output=True, text=True).stdout.split()
            rows.append(("docker-proxy", f"http://127.0.0.1:{self.published}/", int(dp[0]) if dp else None))
        results = {name: [] for name, _, _ in rows}
        # Each round starts one path later, so that no path always runs
        # right after the same other one (a slow spell, a page cache or a
        # throttled CPU left over from it would always fall on the same row).
        for r in range(self.args.rounds):
            k = r % len(rows)
            for name, url, pid in rows[k:] + rows[:k]:
                results[name].append(self.wrk(url, pid))
                log(f"  round {r + 1} {name}: {results[name][-1][0]:.0f} req/s")
        return rows, results

    def endpoint_delay(self):
        delays = []
        for i in range(self.args.switches):
            to, name = (self.b, "B") if i % 2 == 0 else (self.a, "A")
            t0 = time.time()
            self.set_endpoints(*to)
            wait(lambda: http_get(self.cluster_ip, 80, timeout=1) == name, 10, f"the switch to {name}")
            delays.append((time.time() - t0) * 1000)
        return delays


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minik8s", default=os.environ.get("MINIK8S_BIN"), help="the minik8s binary (release build)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    ap.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds over all paths; medians are printed (default 1)")
    ap.add_argument("--switches", type=int, default=6, help="Endpoints changes timed (default 6)")
    ap.add_argument("--no-docker", action="store_true", help="leave Docker out even if it runs")
    ap.add_argument("--proxy-threads", type=int, default=0,
                    help="the minik8s proxy's --proxy-threads (default: the proxy's own, one per core)")
    ap.add_argument("--haproxy-threads", type=int, default=0,
                    help="haproxy's nbthread (default: haproxy's own, one per core)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/proxy: needs root (the proxy adds an interface)", file=sys.stderr)
        sys.exit(77)
    if not a.minik8s:
        raise SystemExit("bench: give --minik8s or MINIK8S_BIN")
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is not installed (apt-get install wrk)")
    b = Bench(a)
    try:
        b.start_cluster()
        b.start_backends()
        b.start_service()
        b.start_haproxy()
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
        print(f"bench/proxy: wrk -t{a.threads} -c{a.connections} -d{a.duration}s, {a.rounds} round(s), "
              f"{os.cpu_count()} cores, load {load}, backend {'in a Docker container' if b.docker else 'on the host'} "
              f"at {b.a[0]}:{b.a[1]}")
        rows, results = b.run()
        direct = statistics.median(x[0] for x in results["direct"])
        print(f"\n{'path':<16}{'req/s':>10}{'p99 ms':>9}{'vs direct':>11}{'proxy cpu':>11}")
        for name, _, _ in rows:
            rs = results[name]
            rps = statistics.median(x[0] for x in rs)
            p99 = statistics.median(x[1] for x in rs)
            cpus = [x[2] for x in rs if x[2] is not None]
            cpu = f"{statistics.median(cpus):.0f}%" if cpus else "-"
            print(f"{name:<16}{rps:>10.0f}{p99:>9.2f}{rps / direct:>10.2f}x{cpu:>11}")
            for x in rs:
                if x[3]:
                    print(f"    ({name}: {x[3]})")
        ours = [x[0] for x in results["minik8s proxy"]]
        for other in ("haproxy (tcp)", "docker-proxy"):
            if other in results:
                theirs = [x[0] for x in results[other]]
                per_round = [o / t for o, t in zip(ours, theirs)]
                ahead = sum(1 for q in per_round if q > 1)
                print(f"minik8s proxy vs {other}: {statistics.median(ours) / statistics.median(theirs):.2f}x "
                      f"(rounds: {' '.join(f'{q:.2f}' for q in per_round)}; ahead in {ahead} of {len(per_round)})")
        d = b.endpoint_delay()
        print(f"\nEndpoints change -> new connections on the new backend ({len(d)} changes): "
              f"median {statistics.median(d):.0f} ms, max {max(d):.0f} ms")
        with open(f"/proc/{b.proxy.pid}/status") as f:
            hwm = re.search(r"VmHWM:\s+(\d+)", f.read())
        if hwm:
            print(f"minik8s proxy peak RSS: {int(hwm.group(1)) / 1024:.1f} MiB")
    finally:
        b.cleanup()


if __name__ == "__main__":
    main()
