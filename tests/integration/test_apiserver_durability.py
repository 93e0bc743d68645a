"""Durability: every create the apiserver acknowledged survives a kill -9
taken at a random moment under concurrent writes, revisions are never
reused, and a restarted server serves the same objects."""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Cluster, check, check_eq, run_tests  # noqa: E402


def hammer(c, ns, writer, acked, stop):
    """Creates ConfigMaps until stopped; records each name the server
    acknowledged with 201, and the revision it was given."""
    i = 0
    while not stop.is_set():
        name = f"w{writer}-{i}"
        i += 1
        try:
            r = c.post(f"/api/v1/namespaces/{ns}/configmaps",
                       {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                        "data": {"payload": "x" * 200}})
        except Exception:  # noqa: BLE001 - the server is being killed under us
            return
        if r.status == 201:
            acked.append((name, int(r.json["metadata"]["resourceVersion"])))


def test_kill9_keeps_every_acknowledged_write(shared):
    for round_ in range(3):
        c = Cluster()
        try:
            ns = "durable"
            c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            acked, stop = [], threading.Event()
            ts = [threading.Thread(target=hammer, args=(c, ns, w, acked, stop)) for w in range(8)]
            for t in ts:
                t.start()
            time.sleep(0.5 + random.random())
            c.kill9()
            stop.set()
            for t in ts:
                t.join()
            check(len(acked) > 20, f"round {round_}: some writes were acknowledged ({len(acked)})")
            c.start()
            lst = c.get(f"/api/v1/namespaces/{ns}/configmaps").json
            stored = {i["metadata"]["name"]: int(i["metadata"]["resourceVersion"]) for i in lst["items"]}
            missing = [n for n, _ in acked if n not in stored]
            check_eq(missing, [], f"round {round_}: acknowledged writes missing after kill -9")
            for n, rv in acked:
                check_eq(stored[n], rv, f"revision of {n}")
            top = max(rv for _, rv in acked)
            new = c.post(f"/api/v1/namespaces/{ns}/configmaps",
                         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after"}}).json
            check(int(new["metadata"]["resourceVersion"]) > max(max(stored.values()), top),
                  "revisions continue after the crash, never reused")
        finally:
            rc = c.cleanup()
            check_eq(rc, 0, "clean exit after restart")


if __name__ == "__main__":
    run_tests(globals())
