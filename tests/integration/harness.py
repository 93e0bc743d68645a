"""Integration test harness: starts the real `minik8s` binary on 127.0.0.1
with a random port and a temporary data dir, and talks to it over HTTPS the
way any client does (bearer token, the cluster CA).

Every test file does:

    from harness import Cluster, check, run_tests
    def test_something(c): ...
    run_tests(globals())

run_tests() runs each test_* function against a fresh or shared cluster,
prints one line per test, and exits 0 only when all pass (77 when the whole
file is skipped, e.g. kubectl missing).
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

BIN = os.environ.get("MINIK8S_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "minik8s")


class Skip(Exception):
    """Raised by a test that cannot run here; the reason goes to stderr."""


class CheckFailed(AssertionError):
    pass


def check(cond, what="check failed"):
    if not cond:
        raise CheckFailed(what)


def check_eq(got, want, what=""):
    if got != want:
        raise CheckFailed(f"{what}: got {got!r}, want {want!r}")


def wait_for(fn, timeout=20.0, interval=0.05, what="condition"):
    """Polls fn until it returns a truthy value; fails after timeout."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - the condition may raise while not ready
            last = e
        time.sleep(interval)
    raise CheckFailed(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Cluster:
    """One `minik8s server --disable-agent` (or `apiserver`) process; with
    agent=True the server runs this machine's node too (kubelet and proxy
    on the real Docker Engine: e2e tests only)."""

    def __init__(self, command="server", extra_args=(), data_dir=None, port=0, agent=False):
        self.own_dir = data_dir is None
        self.tmp = tempfile.mkdtemp(prefix="minik8s-test-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home, exist_ok=True)
        self.command = command
        self.extra_args = list(extra_args)
        self.port = port
        self.agent = agent
        self.proc = None
        self.log_path = os.path.join(self.tmp, "server.log")
        self.start()

    # -- process ---------------------------------------------------------
    def env(self):
        env = dict(os.environ)
        env["HOME"] = self.home  # never touch the real ~/.minik8s or ~/.kube
        env.pop("KUBECONFIG", None)
        return env

    def start(self):
        args = [BIN, self.command, "--data-dir", self.data_dir, "--secure-port", str(self.port),
                "--bind-address", "127.0.0.1"]
        if self.command == "server" and not self.agent:
            args.append("--disable-agent")
        args += self.extra_args
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=self.env())
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise CheckFailed(f"server exited with {self.proc.returncode}:\n{self.read_log()}")
            m = re.search(rb"apiserver listening address=[^ ]*:(\d+)", open(self.log_path, "rb").read())
            if m and self.port == 0:
                self.port = int(m.group(1))
            if m and self._ready():
                break
            time.sleep(0.05)
        else:
            raise CheckFailed(f"server not ready after 30s:\n{self.read_log()}")
        with open(os.path.join(self.data_dir, "pki", "admin.token")) as f:
            self.token = f.read().strip()
        self.ca = os.path.join(self.data_dir, "pki", "ca.crt")
        self.ctx = ssl.create_default_context(cafile=self.ca)

    def _ready(self):
        try:
            ctx = ssl.create_default_context(cafile=os.path.join(self.data_dir, "pki", "ca.crt"))
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=2)
            conn.request("GET", "/readyz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except (OSError, ssl.SSLError, http.client.HTTPException):
            return False

    def read_log(self):
        try:
            return open(self.log_path, "rb").read().decode(errors="replace")[-6000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the server; returns its exit code. A clean stop exits 0
        (AddressSanitizer makes a leak an exit code of its own)."""
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

    def restart(self):
        self.stop()
        self.start()

    def cleanup(self):
        rc = self.stop()
        self.final_log = self.read_log()
        if self.own_dir:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return rc

    # -- HTTP --------------------------------------------------------------
    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self):
        return os.path.join(self.data_dir, "admin.kubeconfig")

    def connect(self, timeout=10):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None, headers=None, token=True, content_type=None):
        h = {"Accept": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {self.token if token is True else token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = content_type or "application/json"
        elif isinstance(body, str):
            body = body.encode()
            if content_type:
                h["Content-Type"] = content_type
        elif content_type:
            h["Content-Type"] = content_type
        if headers:
            h.update(headers)
        conn = self.connect()
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return Response(r.status, dict(r.getheaders()), r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body, patch_type="application/merge-patch+json", **kw):
        return self.request("PATCH", path, body, content_type=patch_type, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def watch(self, path, timeout=10, headers=None):
        """Starts a watch; returns a Watch that yields events."""
        return Watch(self, path, timeout, headers)

    # -- kubectl ------------------------------------------------------------
    def kubectl(self, *args, version="1.32", input=None, check_rc=True, timeout=60):
        exe = find_kubectl(version)
        if not exe:
            raise Skip(f"kubectl {version} is not installed")
        cache = os.path.join(self.tmp, f"kcache-{version}")
        cmd = [exe, "--kubeconfig", self.kubeconfig, "--cache-dir", cache] + list(args)
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=self.env())
        if check_rc and p.returncode != 0:
            raise CheckFailed(f"kubectl {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p


def minictl(self, *args, input=None, check_rc=True, timeout=60, kubeconfig=True, env=None):
    """Runs `minik8s ctl ARGS` against this cluster; returns CompletedProcess."""
    cmd = [BIN, "ctl"] + (["--kubeconfig", self.kubeconfig] if kubeconfig else []) + list(args)
    e = self.env()
    if env:
        e.update(env)
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=e)
    if check_rc and p.returncode != 0:
        raise CheckFailed(f"minictl {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


Cluster.minictl = minictl


class Watch:
    def __init__(self, cluster, path, timeout, headers):
        self.conn = cluster.connect(timeout=timeout)
        h = {"Authorization": f"Bearer {cluster.token}", "Accept": "application/json"}
        if headers:
            h.update(headers)
        self.conn.request("GET", path, headers=h)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status

    def next(self):
        """The next event as a dict, or None when the stream ended."""
        line = self.resp.readline()
        if not line:
            return None
        return json.loads(line)

    def close(self):
        self.conn.close()


def find_kubectl(version):
    """A kubectl binary of the wanted minor version: the versioned binaries
    beside the machine's dispatcher, or Debian's 1.20 unpacked under
    ~/.cache/minik8s (scripts/test.sh fetches it)."""
    names = [f"kubectl.{version}"]
    dirs = []
    real = shutil.which("kubectl")
    if real:
        dirs.append(os.path.dirname(os.path.realpath(real)))
    for base in ("/usr/lib/google-cloud-sdk/bin", "/usr/local/bin", "/usr/bin"):
        dirs.append(base)
    cache = os.environ.get("MINIK8S_TOOLS", os.path.expanduser("~/.cache/minik8s"))
    dirs.append(os.path.join(cache, "kubectl-1.20", "usr", "bin"))
    for d in dirs:
        for n in names:
            p = os.path.join(d, n)
            if os.access(p, os.X_OK):
                return p
        if version == "1.20" and d.endswith(os.path.join("kubectl-1.20", "usr", "bin")):
            p = os.path.join(d, "kubectl")
            if os.access(p, os.X_OK):
                return p
    if version == "1.32" and real:
        out = subprocess.run([real, "version", "--client"], capture_output=True, text=True).stdout
        if "v1.32" in out:
            return real
    return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_tests(namespace, shared=True, cluster_args=None):
    """Runs every test_* function in namespace. With shared=True one cluster
    serves all tests (each test uses its own namespace or names); tests that
    need their own server take a second argument 'fresh' and start one."""
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    only = os.environ.get("TEST_ONLY")
    if only:
        tests = [(n, f) for n, f in tests if only in n]
    cluster = None
    failed = passed = skipped = 0
    try:
        for name, fn in tests:
            t0 = time.time()
            try:
                if cluster is None or (cluster.proc and cluster.proc.poll() is not None):
                    cluster = Cluster(**(cluster_args or {}))
                fn(cluster)
                passed += 1
                print(f"ok   {name} ({time.time() - t0:.1f}s)", flush=True)
            except Skip as e:
                skipped += 1
                print(f"skip {name}: {e}", flush=True)
            except Exception:  # noqa: BLE001 - report any failure and go on
                failed += 1
                print(f"FAIL {name} ({time.time() - t0:.1f}s)\n{traceback.format_exc()}", flush=True)
                if cluster:
                    print("--- server log tail ---\n" + cluster.read_log(), flush=True)
    finally:
        if cluster:
            rc = cluster.cleanup()
            if rc not in (0, -15):
                failed += 1
                print(f"FAIL server exit code {rc} at shutdown (a sanitizer report?)\n{cluster.final_log}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    if failed:
        sys.exit(1)
    if passed == 0 and skipped:
        sys.exit(77)
    sys.exit(0)
