#!/usr/bin/env python3
"""The classroom blog (examples/blog) on the real Docker Engine, without
minik8s: builds the minik8s/blog-* images (examples/blog/build-images.sh),
puts the six containers on a user-defined network with network aliases equal
to blog.yaml's Service names, and checks every event's effect through the
query service: a post, an approved comment, a rejected "orange" comment,
the web page's proxy routes, and catch-up (the query container removed and
started again rebuilds its state from the event bus, including events it
missed while it was gone). Then headless Chromium opens the web page,
creates a post and a comment with it and sees them listed.

    tests/e2e/test_blog_docker.py              # Docker, then the browser
    tests/e2e/test_blog_docker.py --local BIN  # the same flow, six local processes
                                               # of BIN on loopback (no Docker;
                                               # for sanitizer builds)

Exit 77 (skip) when no Docker engine answers on /var/run/docker.sock or the
images cannot be built, and when Chromium is missing (after the Docker checks
passed, which are then reported). BLOG_REUSE_IMAGES=1 uses existing images
instead of running build-images.sh. Everything the test made (containers,
network, and the images unless they existed before) is removed, also on
failure.
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_IMAGES = os.path.join(REPO, "examples", "blog", "build-images.sh")
DOCKER_SOCK = "/var/run/docker.sock"

# name: (port, Service name in blog.yaml, env var the others use to reach it)
SERVICES = {
    "posts": (4000, "posts-clusterip-srv", "POSTS_URL"),
    "comments": (4001, "comments-srv", "COMMENTS_URL"),
    "query": (4002, "query-srv", "QUERY_URL"),
    "moderation": (4003, "moderation-srv", "MODERATION_URL"),
    "event-bus": (4005, "event-bus-srv", "EVENT_BUS_URL"),
    "client": (8080, "client-srv", None),
}
IMAGES = [f"minik8s/blog-{name}:1" for name in SERVICES]


class Skip(Exception):
    pass


class CheckFailed(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def check_eq(got, want, what):
    if got != want:
        raise CheckFailed(f"{what}: got {got!r}, want {want!r}")


def wait_for(fn, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as e:
            last = e
        time.sleep(0.1)
    raise CheckFailed(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def request(url, method="GET", body=None, timeout=5):
    """Returns (status, parsed JSON or text, content type)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    headers = {}
    if body is not None:
        body = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers["Content-Type"] = "application/json"
    path = u.path + ("?" + u.query if u.query else "")
    conn.request(method, path, body=body, headers=headers)
    res = conn.getresponse()
    data = res.read().decode()
    ctype = res.getheader("Content-Type") or ""
    conn.close()
    if ctype.startswith("application/json"):
        data = json.loads(data)
    return res.status, data, ctype


def docker_answers():
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(DOCKER_SOCK)
        s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        return data.startswith(b"HTTP/1.") and data.endswith(b"OK")
    except OSError:
        return False


# --- where the six services run --------------------------------------------

class DockerBlog:
    """The six images as containers on a fresh user-defined network."""

    def __init__(self):
        self.tag = f"blogtest-{os.getpid()}"
        self.network = None
        self.containers = {}
        self.images_before = set()
        self.images_ours = False

    @staticmethod
    def docker(*args, check_rc=True, timeout=120):
        r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
        if check_rc and r.returncode != 0:
            raise CheckFailed(f"docker {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout.strip()

    def build_images(self):
        if not shutil.which("docker"):
            raise Skip("no 'docker' command")
        if not docker_answers():
            raise Skip(f"no Docker engine answers on {DOCKER_SOCK} (start dockerd)")
        for image in IMAGES:
            if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0:
                self.images_before.add(image)
        if os.environ.get("BLOG_REUSE_IMAGES") == "1" and len(self.images_before) == len(IMAGES):
            print("reusing the existing minik8s/blog-* images", flush=True)
            return
        self.images_ours = True
        t0 = time.time()
        r = subprocess.run([BUILD_IMAGES], capture_output=True, text=True, timeout=900)
        sys.stdout.write(r.stdout)
        if r.returncode != 0:
            sys.stderr.write(r.stderr)
            raise Skip(f"the images cannot be built (build-images.sh exited {r.returncode})")
        print(f"images built in {time.time() - t0:.1f}s", flush=True)

    def start(self):
        self.build_images()
        self.network = self.tag
        self.docker("network", "create", self.network)
        for name in SERVICES:
            self.run(name)

    def run(self, name):
        _, alias, _ = SERVICES[name]
        cname = f"{self.tag}-{name}"
        self.containers[name] = cname
        self.docker("run", "-d", "--name", cname, "--network", self.network, "--network-alias", alias,
                    f"minik8s/blog-{name}:1")

    def ip(self, name):
        return self.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                           self.containers[name])

    def url(self, name):
        return f"http://{self.ip(name)}:{SERVICES[name][0]}"

    def stop(self, name):
        """docker stop: SIGTERM must end the service at once and cleanly."""
        cname = self.containers[name]
        t0 = time.time()
        self.docker("stop", "-t", "10", cname)
        took = time.time() - t0
        rc = self.docker("inspect", "-f", "{{.State.ExitCode}}", cname)
        check_eq(rc, "0", f"exit code of {name} after SIGTERM")
        check(took < 5, f"{name} took {took:.1f}s to stop: SIGTERM not handled")
        self.docker("rm", "-f", cname)
        del self.containers[name]

    def exec(self, name, *cmd):
        return self.docker("exec", self.containers[name], *cmd)

    def logs(self):
        out = []
        for name, cname in self.containers.items():
            r = subprocess.run(["docker", "logs", "--tail", "40", cname], capture_output=True, text=True)
            out.append(f"--- {name} ---\n{r.stdout}{r.stderr}")
        return "\n".join(out)

    def cleanup(self):
        for cname in list(self.containers.values()):
            self.docker("rm", "-f", cname, check_rc=False)
        self.containers.clear()
        if self.network:
            self.docker("network", "rm", self.network, check_rc=False)
        if self.images_ours:
            for image in IMAGES:
                if image not in self.images_before:
                    self.docker("image", "rm", image, check_rc=False)


class LocalBlog:
    """Six processes of one binary on loopback: the same checks, no Docker."""

    def __init__(self, binary):
        self.binary = os.path.abspath(binary)
        self.tmp = tempfile.mkdtemp(prefix="blogtest-")
        self.ports = {}
        self.procs = {}
        self.logfiles = {}
        for name in SERVICES:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            self.ports[name] = s.getsockname()[1]
            s.close()

    def start(self):
        for name in SERVICES:
            self.run(name)

    def run(self, name):
        env = dict(os.environ)
        env["PORT"] = str(self.ports[name])
        for other, (_, _, var) in SERVICES.items():
            if var:
                env[var] = f"http://127.0.0.1:{self.ports[other]}"
        env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
        log = open(os.path.join(self.tmp, f"{name}.log"), "ab")
        self.logfiles[name] = log
        self.procs[name] = subprocess.Popen([self.binary, name, "--bind-address", "127.0.0.1"], stdout=log,
                                            stderr=subprocess.STDOUT, env=env)

    def url(self, name):
        return f"http://127.0.0.1:{self.ports[name]}"

    def stop(self, name):
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise CheckFailed(f"{name} did not stop within 10s of SIGTERM")
        self.logfiles.pop(name).close()
        check_eq(rc, 0, f"exit code of {name} after SIGTERM (a sanitizer report is in its log)")

    def logs(self):
        out = []
        for name in SERVICES:
            try:
                text = open(os.path.join(self.tmp, f"{name}.log"), errors="replace").read()
            except OSError:
                continue
            out.append(f"--- {name} ---\n" + "\n".join(text.splitlines()[-40:]))
        return "\n".join(out)

    def cleanup(self):
        failures = []
        for name in list(self.procs):
            try:
                self.stop(name)
            except CheckFailed as e:
                failures.append(str(e))
        if failures:
            print(self.logs())
        shutil.rmtree(self.tmp, ignore_errors=True)
        return failures


# --- the checks ------------------------------------------------------------

def query_posts(blog):
    status, posts, _ = request(blog.url("query") + "/posts")
    check_eq(status, 200, "GET query /posts")
    return posts


def comment_statuses(blog, post_id):
    post = query_posts(blog).get(post_id) or {}
    return {c["content"]: c["status"] for c in post.get("comments", [])}


def test_all_ready(blog, state):
    for name in SERVICES:
        wait_for(lambda: request(blog.url(name) + "/healthz")[0] == 200, what=f"{name} /healthz 200")


def test_post(blog, state):
    title = "Hello from the classroom"
    status, post, _ = request(blog.url("posts") + "/posts", "POST", {"title": title})
    check_eq(status, 201, "POST /posts")
    check(re.fullmatch(r"[0-9a-f]{8}", post.get("id", "")), f"post id is 8 hex digits: {post!r}")
    check_eq(post["title"], title, "the created post's title")
    state["post"] = post["id"]
    status, posts, _ = request(blog.url("posts") + "/posts")
    check_eq(posts.get(post["id"]), {"id": post["id"], "title": title}, "GET posts /posts")
    got = wait_for(lambda: query_posts(blog).get(post["id"]), what="the post in query")
    check_eq(got, {"id": post["id"], "title": title, "comments": []}, "the post as query shows it")


def test_comments_moderated(blog, state):
    pid = state["post"]
    url = blog.url("comments") + f"/posts/{pid}/comments"
    status, comments, _ = request(url, "POST", {"content": "Nice post"})
    check_eq(status, 201, "POST a comment")
    check_eq([(c["content"], c["status"]) for c in comments], [("Nice post", "pending")],
             "comments answers with the post's comments, the new one pending")
    status, comments, _ = request(url, "POST", {"content": "I would rather have an Orange"})
    check_eq(status, 201, "POST an orange comment")
    want = {"Nice post": "approved", "I would rather have an Orange": "rejected"}
    wait_for(lambda: comment_statuses(blog, pid) == want, what=f"query to show {want}")
    # comments owns the status: CommentModerated reached it too.
    status, comments, _ = request(url)
    check_eq({c["content"]: c["status"] for c in comments}, want, "GET comments of the post")


def test_event_order(blog, state):
    status, events, _ = request(blog.url("event-bus") + "/events")
    check_eq(status, 200, "GET /events")
    types = [e["type"] for e in events]
    check_eq(types.count("PostCreated"), 1, f"PostCreated events in {types}")
    for t in ("CommentCreated", "CommentModerated", "CommentUpdated"):
        check_eq(types.count(t), 2, f"{t} events in {types}")
    # Causal order, per comment, as the bus stored them.
    by_comment = {}
    for i, e in enumerate(events):
        if e["type"].startswith("Comment"):
            by_comment.setdefault(e["data"]["id"], []).append(e["type"])
            check_eq(e["data"]["postId"], state["post"], "postId of " + e["type"])
    for cid, seq in by_comment.items():
        check_eq(seq, ["CommentCreated", "CommentModerated", "CommentUpdated"], f"events of comment {cid}")
    check_eq(types[0], "PostCreated", "the first event")


def test_errors(blog, state):
    status, body, _ = request(blog.url("posts") + "/posts", "POST", "not json")
    check_eq(status, 400, "POST /posts with a body that is not JSON")
    check("error" in body, f"400 says why: {body!r}")
    status, body, _ = request(blog.url("posts") + "/posts", "POST", {"title": ""})
    check_eq(status, 400, "POST /posts with an empty title")
    status, body, _ = request(blog.url("comments") + "/posts/x/comments", "POST", {})
    check_eq(status, 400, "POST a comment without content")
    status, _, _ = request(blog.url("query") + "/nope")
    check_eq(status, 404, "an unknown route")
    status, _, _ = request(blog.url("query") + "/posts", "POST", {"title": "x"})
    check_eq(status, 405, "POST to query")
    status, _, _ = request(blog.url("event-bus") + "/events", "POST", {"type": 1})
    check_eq(status, 400, "an event without a type")


def test_client_proxy(blog, state):
    base = blog.url("client")
    status, page, ctype = request(base + "/")
    check_eq(status, 200, "GET / of the client")
    check(ctype.startswith("text/html") and "minik8s blog" in page, "the page is HTML with its title")
    status, via_client, _ = request(base + "/api/query")
    check_eq(status, 200, "GET /api/query")
    check_eq(via_client, query_posts(blog), "/api/query is query's /posts")
    status, post, _ = request(base + "/api/posts", "POST", {"title": "Through the page's server"})
    check_eq(status, 201, "POST /api/posts")
    status, comments, _ = request(base + f"/api/comments/{post['id']}", "POST", {"content": "proxied"})
    check_eq(status, 201, "POST /api/comments/:id")
    check_eq(comments[0]["content"], "proxied", "the proxied comment")
    wait_for(lambda: comment_statuses(blog, post["id"]) == {"proxied": "approved"},
             what="the proxied comment approved in query")
    status, events, _ = request(base + "/api/events")
    check(status == 200 and len(events) >= 11, f"GET /api/events lists the bus' events ({status})")
    status, _, _ = request(base + "/api/events", "POST", {"type": "X", "data": {}})
    check_eq(status, 405, "the page cannot publish events")
    state["proxied_post"] = post["id"]


def test_catch_up(blog, state):
    before = query_posts(blog)
    blog.stop("query")
    # Events query never hears live: it must find them on the bus.
    status, post, _ = request(blog.url("posts") + "/posts", "POST", {"title": "While query was away"})
    check_eq(status, 201, "POST a post while query is down")
    request(blog.url("comments") + f"/posts/{post['id']}/comments", "POST", {"content": "orange again"})

    def moderated():
        _, events, _ = request(blog.url("event-bus") + "/events")
        return [e for e in events if e["type"] == "CommentUpdated" and e["data"]["postId"] == post["id"]]
    wait_for(moderated, what="the new comment moderated on the bus")
    blog.run("query")
    wait_for(lambda: request(blog.url("query") + "/healthz")[0] == 200, what="the new query ready")
    after = query_posts(blog)
    for pid, p in before.items():
        check_eq(after.get(pid), p, f"post {pid} after the restart")
    missed = after.get(post["id"]) or {}
    check_eq(missed.get("title"), "While query was away", "the missed post's title")
    check_eq([(c["content"], c["status"]) for c in missed.get("comments", [])], [("orange again", "rejected")],
             "the missed post's comments")
    check_eq(len(after), len(before) + 1, "posts after the catch-up")


def test_moderation_comes_back(blog, state):
    """The bus keeps an event for a subscriber that is away: comments stay
    pending while moderation is gone and are judged once it is back."""
    blog.stop("moderation")
    pid = state["post"]
    status, _, _ = request(blog.url("comments") + f"/posts/{pid}/comments", "POST",
                           {"content": "judged later"})
    check_eq(status, 201, "POST a comment while moderation is down")
    wait_for(lambda: comment_statuses(blog, pid).get("judged later") == "pending",
             what="the comment pending in query")
    time.sleep(1.5)  # a few delivery attempts fail meanwhile
    check_eq(comment_statuses(blog, pid).get("judged later"), "pending",
             "the comment while moderation is away")
    blog.run("moderation")
    wait_for(lambda: comment_statuses(blog, pid).get("judged later") == "approved", timeout=30,
             what="the comment judged once moderation is back")


def test_inside_containers(blog, state):
    """Name resolution (glibc's getaddrinfo through nsswitch.conf and Docker's
    DNS) and the busybox tools, inside the images."""
    names = [alias for _, alias, _ in SERVICES.values()]
    out = blog.exec("query", "/bin/blog", "resolve", *names)
    for alias in names:
        check(re.search(rf"^{alias} \d+\.\d+\.\d+\.\d+$", out, re.M), f"{alias} resolves in query: {out!r}")
    out = blog.exec("client", "wget", "-qO-", "http://query-srv:4002/posts")
    check(json.loads(out) == query_posts(blog), "busybox wget from the client container reaches query-srv")
    out = blog.exec("posts", "cat", "/etc/nsswitch.conf")
    check(re.search(r"^hosts: files dns$", out, re.M), f"nsswitch.conf in the image: {out!r}")
    check_eq(blog.exec("posts", "sh", "-c", "id -u"), "65534", "the services run as nobody")


# --- the browser -------------------------------------------------------------

class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol: text frames."""

    def __init__(self, url, timeout=30):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise CheckFailed("the DevTools websocket closed during the handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise CheckFailed(f"DevTools refused the websocket: {head[:200]!r}")

    def _recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise CheckFailed("the DevTools websocket closed")
            data += chunk
        return data

    def send(self, text):
        payload = text.encode()
        head = bytes([0x81])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._recv_exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv_exact(8))[0]
            payload = self._recv_exact(n)
            opcode = b0 & 0x0F
            if opcode == 8:
                raise CheckFailed("DevTools closed the websocket")
            if opcode == 9:  # ping
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()

    def close(self):
        self.sock.close()


class Chromium:
    def __init__(self, binary):
        self.tmp = tempfile.mkdtemp(prefix="blogtest-chromium-")
        self.log = open(os.path.join(self.tmp, "chromium.log"), "wb")
        self.proc = subprocess.Popen([
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={self.tmp}/profile", "--remote-debugging-port=0",
            "about:blank"], stdout=self.log, stderr=subprocess.STDOUT)
        port_file = os.path.join(self.tmp, "profile", "DevToolsActivePort")
        port = wait_for(lambda: open(port_file).read().split("\n")[0].strip() or None, timeout=30,
                        what="Chromium's DevToolsActivePort")
        _, pages, _ = request(f"http://127.0.0.1:{port}/json/list")
        page = [p for p in pages if p.get("type") == "page"][0]
        self.ws = WebSocket(page["webSocketDebuggerUrl"])
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise CheckFailed(f"DevTools {method}: {msg['error']}")
                return msg["result"]

    def eval(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise CheckFailed(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def close(self):
        try:
            self.ws.close()
        except (OSError, AttributeError):
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_browser(blog, state):
    binary = find_chromium()
    if not binary:
        raise Skip("no Chromium: install it with 'apt-get install chromium'")
    browser = Chromium(binary)
    try:
        browser.call("Page.enable")
        browser.call("Page.navigate", url=blog.url("client") + "/")
        wait_for(lambda: browser.eval("document.readyState === 'complete' && !!document.getElementById('post-form')"),
                 what="the page loaded")
        title = f"Made in Chromium {os.getpid()}"
        browser.eval(f"document.getElementById('post-title').value = {json.dumps(title)};"
                     "document.getElementById('post-create').click(); true")
        titles_js = "[...document.querySelectorAll('#posts .post h3')].map(h => h.firstChild.textContent)"
        wait_for(lambda: title in browser.eval(titles_js), what=f"the page to list '{title}'")
        pid = [p for p in query_posts(blog).values() if p["title"] == title]
        check_eq(len(pid), 1, "the post the page made, in query")
        pid = pid[0]["id"]
        # A comment through the page, shown with its moderation status.
        sel = f"#posts .post[data-id={json.dumps(pid)}]"
        browser.eval(f"(() => {{ const p = document.querySelector({json.dumps(sel)});"
                     "p.querySelector('.comment-content').value = 'an orange comment';"
                     "p.querySelector('.comment-create').click(); return true; })()")
        status_js = (f"(() => {{ const c = document.querySelector({json.dumps(sel + ' .comment')});"
                     "return c ? c.dataset.status + ':' + c.querySelector('.text').textContent : ''; })()")
        wait_for(lambda: browser.eval(status_js) == "rejected:an orange comment",
                 what="the page to show the comment rejected")
        check(title in browser.eval("document.getElementById('events').textContent"),
              "the events panel shows PostCreated")
    finally:
        browser.close()


DOCKER_TESTS = [test_all_ready, test_post, test_comments_moderated, test_event_order, test_errors,
                test_client_proxy, test_catch_up, test_moderation_comes_back, test_inside_containers]
LOCAL_TESTS = [t for t in DOCKER_TESTS if t is not test_inside_containers]


def run(blog, tests):
    """Starts blog, runs the checks in order, cleans up whatever happened,
    and exits as meson expects: 0 passed, 1 failed, 77 skipped."""
    state = {}
    failed = skipped = None
    cleanup_failures = []
    try:
        blog.start()
        for t in tests:
            t0 = time.time()
            try:
                t(blog, state)
            except Skip as e:
                skipped = f"{t.__name__}: {e}"
                print(f"SKIP {t.__name__}: {e}", flush=True)
                continue
            print(f"ok   {t.__name__} ({time.time() - t0:.1f}s)", flush=True)
    except Skip as e:
        failed = e
    except Exception as e:  # noqa: BLE001 - report any failure with the services' logs
        failed = e
        traceback.print_exc()
        print(blog.logs())
    finally:
        try:
            cleanup_failures = blog.cleanup() or []
        except Exception as e:  # noqa: BLE001 - cleanup must not hide the first failure
            cleanup_failures = [f"cleanup: {e}"]
    if isinstance(failed, Skip):
        print(f"SKIP: {failed}", file=sys.stderr)
        sys.exit(77)
    if failed:
        print(f"FAIL: {failed}", file=sys.stderr)
        sys.exit(1)
    if cleanup_failures:
        print("FAIL: " + "; ".join(cleanup_failures), file=sys.stderr)
        sys.exit(1)
    if skipped:
        print(f"SKIP (everything else passed): {skipped}", file=sys.stderr)
        sys.exit(77)
    print("all checks passed")


def main():
    args = sys.argv[1:]
    local = None
    browser = True
    if args[:1] == ["--local"] and len(args) >= 2:
        local = args[1]
        browser = "--browser" in args[2:]
    elif args:
        sys.exit("usage: test_blog_docker.py [--local BLOG_BINARY [--browser]]")

    blog = LocalBlog(local) if local else DockerBlog()
    run(blog, (LOCAL_TESTS if local else DOCKER_TESTS) + ([test_browser] if browser else []))

if __name__ == "__main__":
    main()
