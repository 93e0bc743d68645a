"""Helpers for end-to-end tests on the real Docker Engine (Python standard
library only): a small Engine API client over the unix socket, a test image
built locally from the machine's static busybox (no registry), and a
`minik8s kubelet` process next to a tests/integration/harness.py Cluster.

    from dockerlib import Docker, Kubelet, busybox_image, engine_or_skip
    docker = engine_or_skip()                  # raises Skip when no engine answers
    image = busybox_image(docker, "minik8s-e2e/busybox:1")
    kubelet = Kubelet(cluster, docker, node="e2e-1", pod_cidr="10.244.201.0/24")

Everything a helper makes is recorded so that cleanup() can remove it, also
after a failure.
"""

import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.parse

DOCKER_SOCK = os.environ.get("DOCKER_SOCK", "/var/run/docker.sock")
API = "/v1.41"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("docker", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


class DockerError(Exception):
    def __init__(self, status, message):
        super().__init__(f"docker answered {status}: {message}")
        self.status = status
        self.message = message


class Docker:
    """A few Engine API calls; JSON in, JSON (or bytes) out."""

    def __init__(self, sock=DOCKER_SOCK):
        self.sock = sock

    def call(self, method, path, body=None, raw=False, timeout=120, content_type="application/json", ok=(200, 201, 204, 304)):
        conn = UnixHTTPConnection(self.sock, timeout=timeout)
        try:
            headers = {}
            if body is not None and not isinstance(body, (bytes, bytearray)):
                body = json.dumps(body).encode()
            if body is not None:
                headers["Content-Type"] = content_type
            conn.request(method, API + path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        if r.status not in ok:
            try:
                msg = json.loads(data).get("message", data.decode(errors="replace"))
            except ValueError:
                msg = data.decode(errors="replace")
            raise DockerError(r.status, msg)
        if raw:
            return data
        if not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            return data

    def ping(self):
        return self.call("GET", "/_ping", raw=True, timeout=3) == b"OK"

    def containers(self, label=None, all=True):
        q = {"all": "1" if all else "0"}
        if label:
            q["filters"] = json.dumps({"label": [label] if isinstance(label, str) else list(label)})
        return self.call("GET", "/containers/json?" + urllib.parse.urlencode(q))

    def inspect(self, cid):
        return self.call("GET", f"/containers/{cid}/json")

    def remove(self, cid):
        try:
            self.call("DELETE", f"/containers/{cid}?force=1&v=1")
        except DockerError as e:
            if e.status != 404:
                raise

    def exec(self, cid, cmd):
        """Runs cmd in a container; returns (exit code, output bytes without the stream framing)."""
        e = self.call("POST", f"/containers/{cid}/exec", {"AttachStdout": True, "AttachStderr": True, "Cmd": cmd})
        out = self.call("POST", f"/exec/{e['Id']}/start", {"Detach": False, "Tty": False}, raw=True)
        info = self.call("GET", f"/exec/{e['Id']}/json")
        return info["ExitCode"], demux(out)

    def image_exists(self, name):
        try:
            self.call("GET", f"/images/{name}/json")
            return True
        except DockerError as e:
            if e.status == 404:
                return False
            raise

    def remove_image(self, name):
        try:
            self.call("DELETE", f"/images/{name}?force=1")
        except DockerError as e:
            if e.status not in (404, 409):
                raise

    def tag(self, image, repo, tag):
        self.call("POST", f"/images/{image}/tag?" + urllib.parse.urlencode({"repo": repo, "tag": tag}))

    def networks(self):
        return self.call("GET", "/networks")

    def remove_network(self, name):
        try:
            self.call("DELETE", f"/networks/{name}")
        except DockerError as e:
            if e.status != 404:
                raise


def demux(data):
    """Docker's multiplexed stream (8-byte frame headers) to plain bytes."""
    out = bytearray()
    i = 0
    while i + 8 <= len(data):
        n = int.from_bytes(data[i + 4:i + 8], "big")
        out += data[i + 8:i + 8 + n]
        i += 8 + n
    return bytes(out)


class Skip(Exception):
    """The test cannot run here; the message says why."""


def engine_or_skip(sock=DOCKER_SOCK):
    if not os.path.exists(sock):
        raise Skip(f"no Docker engine: {sock} does not exist")
    d = Docker(sock)
    try:
        if not d.ping():
            raise Skip(f"no Docker engine answers on {sock}")
    except OSError as e:
        raise Skip(f"no Docker engine answers on {sock}: {e}")
    return d


BUSYBOX_APPLETS = ["sh", "ls", "cat", "echo", "sleep", "env", "nc", "wget", "httpd", "hostname", "ip", "id",
                   "true", "false", "test", "mkdir", "touch", "rm", "printf", "date", "grep", "seq", "kill",
                   "ps", "head", "tail", "wc", "sed", "stat"]


def static_busybox():
    """Path of a statically linked busybox, or None."""
    for p in (os.environ.get("BUSYBOX"), "/bin/busybox", "/usr/bin/busybox"):
        if p and os.path.isfile(p):
            with open(p, "rb") as f:
                head = f.read(1 << 20)
            # A dynamic ELF names its loader.
            if b"ld-linux" not in head and b"ld-musl" not in head:
                return p
    return None


def busybox_image(docker, name):
    """Imports a one-layer image with busybox and its applets as `name`
    (repo:tag). Returns name. Raises Skip without a static busybox."""
    bb = static_busybox()
    if not bb:
        raise Skip("no static busybox on this machine (Debian: apt-get install busybox-static)")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "etc", "var", "root"):
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(ti)
        data = open(bb, "rb").read()
        ti = tarfile.TarInfo("bin/busybox")
        ti.size = len(data)
        ti.mode = 0o755
        tar.addfile(ti, io.BytesIO(data))
        for a in BUSYBOX_APPLETS:
            ti = tarfile.TarInfo("bin/" + a)
            ti.type = tarfile.SYMTYPE
            ti.linkname = "busybox"
            tar.addfile(ti)
        for fname, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"),
                            ("etc/group", "root:x:0:\nnobody:x:65534:\n")):
            b = text.encode()
            ti = tarfile.TarInfo(fname)
            ti.size = len(b)
            ti.mode = 0o644
            tar.addfile(ti, io.BytesIO(b))
    repo, tag = name.rsplit(":", 1)
    q = urllib.parse.urlencode([("fromSrc", "-"), ("repo", repo), ("tag", tag),
                                ("changes", 'ENV PATH=/bin'), ("changes", 'CMD ["sh"]')])
    out = docker.call("POST", "/images/create?" + q, buf.getvalue(), raw=True, content_type="application/x-tar")
    if b'"error"' in out:
        raise Skip(f"cannot import the test image: {out[:300]!r}")
    return name


def free_pod_cidr(docker, rng=None):
    """A 10.244.X.0/24 no Docker network uses (X in 200..249)."""
    used = set()
    for n in docker.networks():
        for cfg in (n.get("IPAM") or {}).get("Config") or []:
            used.add(cfg.get("Subnet"))
    rng = rng or random.Random()
    for _ in range(200):
        cidr = f"10.244.{rng.randint(200, 249)}.0/24"
        if cidr not in used:
            return cidr
    raise Skip("no free 10.244.200-249.0/24 subnet for the test's pod network")


class Kubelet:
    """`minik8s kubelet` against a harness Cluster, on the given engine."""

    def __init__(self, cluster, docker, node, pod_cidr, bin=None, extra_args=(), tmp=None, log_level="debug"):
        self.cluster = cluster
        self.docker = docker
        self.node = node
        self.pod_cidr = pod_cidr
        self.bin = bin or os.environ.get("MINIK8S_BIN") or os.path.join(
            os.path.dirname(__file__), "..", "..", "build", "minik8s")
        self.extra_args = list(extra_args)
        self.log_level = log_level
        self.tmp = tmp or tempfile.mkdtemp(prefix="minik8s-kubelet-")
        os.makedirs(self.tmp, exist_ok=True)
        self.root = os.path.join(self.tmp, "root")
        self.log_path = os.path.join(self.tmp, "kubelet.log")
        self.proc = None
        self.port = None
        self.start()

    def args(self):
        a = [self.bin, "kubelet", "--kubeconfig", self.cluster.kubeconfig, "--node-name", self.node,
             "--pod-cidr", self.pod_cidr, "--non-masquerade-cidr", self.pod_cidr, "--root-dir", self.root,
             "--kubelet-port", "0", "--docker-host", "unix://" + self.docker.sock,
             "--kubelet-token-file", os.path.join(self.cluster.data_dir, "pki", "admin.token"), "-v", self.log_level]
        if os.geteuid() != 0:
            a.append("--manage-iptables=false")
        return a + self.extra_args

    def start(self):
        self.log = open(self.log_path, "ab")
        start = self.log.tell()
        self.proc = subprocess.Popen(self.args(), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.cluster.env())
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"kubelet exited with {self.proc.returncode}:\n{self.read_log()}")
            with open(self.log_path, "rb") as f:
                f.seek(start)
                m = re.search(rb"kubelet API listening address=[^ ]*:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                return
            time.sleep(0.05)
        raise AssertionError(f"kubelet did not start:\n{self.read_log()}")

    def read_log(self, tail=8000):
        try:
            return open(self.log_path, "rb").read().decode(errors="replace")[-tail:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def api(self, path, token=True, timeout=30, stream=False):
        """GET on the kubelet's HTTPS API (self-made certificate: not verified)."""
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=timeout)
        h = {}
        if token:
            h["Authorization"] = "Bearer " + (self.cluster.token if token is True else token)
        conn.request("GET", path, headers=h)
        r = conn.getresponse()
        if stream:
            return conn, r
        body = r.read()
        conn.close()
        return r.status, body

    def containers(self):
        return self.docker.containers(label=f"io.minik8s.node={self.node}")

    def cleanup(self):
        """Removes what this kubelet made in Docker and on disk."""
        for c in self.containers():
            self.docker.remove(c["Id"])
        self.docker.remove_network(f"minik8s-{self.node}")
        shutil.rmtree(self.tmp, ignore_errors=True)


def iptables_rules(cidr):
    """The rules a kubelet adds for cidr, as iptables -C arguments."""
    return [["-t", "filter", "DOCKER-USER", "-s", cidr, "-j", "ACCEPT"],
            ["-t", "filter", "DOCKER-USER", "-d", cidr, "-j", "ACCEPT"],
            ["-t", "nat", "POSTROUTING", "-s", cidr, "-d", cidr, "-j", "RETURN"]]


def iptables_remove(cidr):
    """Deletes the kubelet's rules for cidr (they are the test's own)."""
    if os.geteuid() != 0 or not shutil.which("iptables"):
        return
    for r in iptables_rules(cidr):
        table, chain, rest = r[1], r[2], r[3:]
        for _ in range(5):
            p = subprocess.run(["iptables", "-w", "-t", table, "-D", chain] + rest, capture_output=True)
            if p.returncode:
                break
