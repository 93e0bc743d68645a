"""The client library's informer against the real apiserver: it syncs,
follows changes, survives an apiserver restart (its watch expires, it
relists) and turns objects deleted while it was away into deletes, so its
cache ends equal to the server's list."""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Cluster, Skip, check, check_eq, run_tests, wait_for  # noqa: E402

CHECKER = os.environ.get("INFORMER_CHECK") or os.path.join(os.path.dirname(os.environ.get("MINIK8S_BIN", "")),
                                                           "tests", "informer-check")


class Informer:
    def __init__(self, c, *resource):
        if not os.access(CHECKER, os.X_OK):
            raise Skip(f"{CHECKER} is not built")
        self.p = subprocess.Popen([CHECKER, c.kubeconfig] + list(resource), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=c.env())

    def dump(self):
        self.p.stdin.write("dump\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def quit(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        rc = self.p.wait(timeout=20)
        err = self.p.stderr.read()
        check_eq(rc, 0, f"informer-check exits cleanly (stderr: {err[-2000:]})")


def server_keys(c, ns):
    items = c.get(f"/api/v1/namespaces/{ns}/configmaps").json["items"]
    return {f"{ns}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in items}


def cm(c, ns, name, value="1"):
    r = c.post(f"/api/v1/namespaces/{ns}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": name}, "data": {"v": value}})
    check_eq(r.status, 201, f"create {name}: {r}")


def converged(inf, c, ns):
    """The informer's cache for ns equals the server's list."""
    d = inf.dump()
    mine = {k: v for k, v in d["keys"].items() if k.startswith(ns + "/")}
    return d["synced"] and mine == server_keys(c, ns)


def test_informer_follows_changes(c):
    ns = "inf1"
    c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for i in range(5):
        cm(c, ns, f"a{i}")
    inf = Informer(c, "", "v1", "configmaps")
    try:
        wait_for(lambda: converged(inf, c, ns), what="initial sync")
        check(inf.dump()["adds"] >= 5, "adds for the listed objects")
        c.patch(f"/api/v1/namespaces/{ns}/configmaps/a0", {"data": {"v": "2"}})
        c.delete(f"/api/v1/namespaces/{ns}/configmaps/a1")
        cm(c, ns, "b0")
        wait_for(lambda: converged(inf, c, ns), what="cache follows the watch")
        d = inf.dump()
        check(d["updates"] >= 1 and d["deletes"] >= 1, f"handlers called: {d}")
    finally:
        inf.quit()


def test_informer_survives_restart_and_relists(c):
    c2 = Cluster()
    inf = None
    try:
        ns = "inf2"
        c2.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for i in range(10):
            cm(c2, ns, f"x{i}")
        inf = Informer(c2, "", "v1", "configmaps")
        wait_for(lambda: converged(inf, c2, ns), what="initial sync")
        before = inf.dump()
        # Freeze the informer, restart the apiserver, change things while the
        # informer cannot see them: its old watch revision expires (410).
        inf.p.send_signal(signal.SIGSTOP)
        c2.restart()
        for i in range(0, 10, 2):
            check_eq(c2.delete(f"/api/v1/namespaces/{ns}/configmaps/x{i}").status, 200, "delete while away")
        c2.patch(f"/api/v1/namespaces/{ns}/configmaps/x1", {"data": {"v": "changed"}})
        cm(c2, ns, "new-while-away")
        inf.p.send_signal(signal.SIGCONT)
        wait_for(lambda: converged(inf, c2, ns), timeout=30, what="cache equals the server after relist")
        after = inf.dump()
        check(after["deletes"] - before["deletes"] >= 5, f"vanished keys became deletes: {after}")
        check(after["adds"] - before["adds"] >= 1, "the new object became an add")
        check(after["updates"] - before["updates"] >= 1, "the changed object became an update")
    finally:
        if inf:
            inf.quit()
        check_eq(c2.cleanup(), 0, "clean exit")


def test_informer_with_label_selector(c):
    ns = "inf3"
    c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    c.post(f"/api/v1/namespaces/{ns}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "in", "labels": {"pick": "yes"}}})
    c.post(f"/api/v1/namespaces/{ns}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "out"}})
    inf = Informer(c, "", "v1", "configmaps", "pick=yes")
    try:
        wait_for(lambda: inf.dump()["synced"], what="sync")
        keys = set(inf.dump()["keys"])
        check(f"{ns}/in" in keys and f"{ns}/out" not in keys, f"selector applied: {keys}")
        c.patch(f"/api/v1/namespaces/{ns}/configmaps/in", {"metadata": {"labels": {"pick": "no"}}})
        wait_for(lambda: f"{ns}/in" not in inf.dump()["keys"], what="object leaving the selector is deleted")
    finally:
        inf.quit()


if __name__ == "__main__":
    run_tests(globals())
