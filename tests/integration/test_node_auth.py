"""Joining nodes and what their credentials may do: the join token's CA
hash matches /cacerts, the join secret only joins, each node gets its own
credential that survives restarts, and the node authorizer confines it to
its own Node, Lease and pods (403 with Kubernetes' wording otherwise)."""

import base64
import datetime
import hashlib
import os
import ssl
import subprocess
import tempfile
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, Cluster, check, check_eq, run_tests  # noqa: E402


def join_token(c):
    r = subprocess.run([BIN, "token", "--data-dir", c.data_dir], capture_output=True, text=True, timeout=20)
    check_eq(r.returncode, 0, f"minik8s token: {r.stderr}")
    return r.stdout.strip()


def join(c, token_secret, name):
    return c.post("/minik8s/v1/join", {"nodeName": name}, token=token_secret)


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_obj(name):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def lease_obj(name, renew):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew}}


def test_join_token_carries_the_ca_hash(c):
    token = join_token(c)
    check(token.startswith("K10") and "::node:" in token, token)
    want = token[3:token.index("::")]
    pem = c.get("/cacerts", token=False).body.decode()
    der = ssl.PEM_cert_to_DER_cert(pem)
    check_eq(hashlib.sha256(der).hexdigest(), want, "the token's hash is the CA's")


def test_join_and_node_authorizer(c):
    secret = join_token(c).split("::node:")[1]
    r = c.get("/api/v1/pods", token=secret)
    check_eq(r.status, 403, "the join secret cannot read")
    r = join(c, secret, "n1")
    check_eq(r.status, 201, f"join: {r}")
    n1 = r.json["token"]
    check(len(n1) == 32 and r.json["kubeletToken"], "a credential and a kubelet token")
    n2 = join(c, secret, "n2").json["token"]
    check(n1 != n2, "one credential per node")

    check_eq(c.post("/api/v1/nodes", node_obj("n1"), token=n1).status, 201, "a node registers itself")
    r = c.post("/api/v1/nodes", node_obj("n9"), token=n1)
    check_eq(r.status, 403, "but not another node")
    check("node 'n1' cannot modify node 'n9'" in r.json["message"], r.json["message"])
    check('User "system:node:n1"' in r.json["message"], r.json["message"])
    c.post("/api/v1/nodes", node_obj("n2"), token=n2)
    r = c.patch("/api/v1/nodes/n2", {"metadata": {"labels": {"x": "y"}}}, token=n1)
    check_eq(r.status, 403, "n1 cannot patch n2")
    r = c.patch("/api/v1/nodes/n1/status", {"status": {"phase": "Running"}}, token=n1)
    check_eq(r.status, 200, f"n1 writes its own status: {r}")

    r = c.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease_obj("n1", now()), token=n1)
    check_eq(r.status, 201, f"own lease: {r}")
    r = c.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease_obj("n2x", now()), token=n1)
    check_eq(r.status, 403, "another node's lease")

    c.post("/api/v1/namespaces/default/secrets", {"apiVersion": "v1", "kind": "Secret",
                                                  "metadata": {"name": "db-pass"}, "stringData": {"p": "x"}})
    c.post("/api/v1/namespaces/default/secrets", {"apiVersion": "v1", "kind": "Secret",
                                                  "metadata": {"name": "other"}, "stringData": {"p": "y"}})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "on-n1"},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x:1", "env": [
               {"name": "P", "valueFrom": {"secretKeyRef": {"name": "db-pass", "key": "p"}}}]}]}}
    check_eq(c.post("/api/v1/namespaces/default/pods", pod).status, 201, "pod on n1")
    pod2 = dict(pod, metadata={"name": "on-n2"}, spec=dict(pod["spec"], nodeName="n2"))
    check_eq(c.post("/api/v1/namespaces/default/pods", pod2).status, 201, "pod on n2")

    check_eq(c.get("/api/v1/namespaces/default/pods", token=n1).status, 200, "nodes list pods")
    check_eq(c.get("/api/v1/namespaces/default/secrets/db-pass", token=n1).status, 200, "a secret its pod uses")
    r = c.get("/api/v1/namespaces/default/secrets/other", token=n1)
    check_eq(r.status, 403, "a secret no pod of n1 uses")
    check("no relationship found between node 'n1'" in r.json["message"], r.json["message"])
    check_eq(c.get("/api/v1/namespaces/default/secrets", token=n1).status, 403, "nodes cannot list secrets")
    # The kubelet watches each one by name: a list or watch of that one name.
    r = c.get("/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Ddb-pass", token=n1)
    check_eq(r.status, 200, f"a list of the one secret its pod uses: {r}")
    check_eq([i["metadata"]["name"] for i in r.json["items"]], ["db-pass"], "just that one")
    check_eq(c.get("/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Dother", token=n1).status, 403,
             "a list of a secret no pod of n1 uses")
    check_eq(c.get("/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Ddb-pass,metadata.name%3Dother",
                   token=n1).status, 403, "one name only")
    check_eq(c.get("/api/v1/secrets?fieldSelector=metadata.name%3Ddb-pass", token=n1).status, 403,
             "not across namespaces")

    st = {"status": {"phase": "Running"}}
    check_eq(c.patch("/api/v1/namespaces/default/pods/on-n1/status", st, token=n1).status, 200, "own pod status")
    check_eq(c.patch("/api/v1/namespaces/default/pods/on-n2/status", st, token=n1).status, 403, "other pod")
    check_eq(c.patch("/api/v1/namespaces/default/pods/on-n1", {"metadata": {"labels": {"a": "b"}}},
                     token=n1).status, 403, "pod spec and metadata are not the node's")
    check_eq(c.post("/api/v1/namespaces/default/pods", dict(pod, metadata={"name": "new"}), token=n1).status, 403,
             "nodes do not create pods")
    check_eq(c.delete("/api/v1/namespaces/default/pods/on-n2", token=n1).status, 403, "nor delete others' pods")
    check_eq(c.delete("/api/v1/namespaces/default/pods/on-n1", {"gracePeriodSeconds": 0}, token=n1).status, 200,
             "the kubelet's grace-0 delete of its own pod")
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "on-n1.1"}, "reason": "Started",
          "involvedObject": {"kind": "Pod", "name": "on-n1", "namespace": "default"}}
    check_eq(c.post("/api/v1/namespaces/default/events", ev, token=n1).status, 201, "nodes create events")
    check_eq(c.post("/api/v1/namespaces/default/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                             "metadata": {"name": "no"}}, token=n1).status, 403,
             "nodes create nothing else")


def test_join_addresses_and_kubelet_certificate(c):
    secret = join_token(c).split("::node:")[1]
    for bad, why in (("10.0.0.1", "must be a list"), (["10.0.0.1", "no spaces!"], "an IP address or a DNS name"),
                     ([f"10.0.0.{i}" for i in range(9)], "at most 8")):
        r = c.post("/minik8s/v1/join", {"nodeName": "addr", "addresses": bad}, token=secret)
        check_eq(r.status, 422, f"addresses {bad!r}")
        check(r.json["message"].startswith("addresses: ") and why in r.json["message"], r.json["message"])
    check_eq(c.get("/api/v1/namespaces/kube-system/secrets/minik8s-node-addr").status, 404,
             "a refused join stores nothing")
    r = c.post("/minik8s/v1/join", {"nodeName": "addr", "addresses": ["10.0.0.7", "addr.lab"]}, token=secret)
    check_eq(r.status, 201, f"join with addresses: {r}")
    with tempfile.NamedTemporaryFile("w", suffix=".crt") as f:
        f.write(r.json["kubeletCert"])
        f.flush()
        text = subprocess.run(["openssl", "x509", "-in", f.name, "-noout", "-text"], capture_output=True,
                              text=True).stdout
        ok = subprocess.run(["openssl", "verify", "-CAfile", c.ca, f.name], capture_output=True, text=True)
    check("CN = system:node:addr" in text or "CN=system:node:addr" in text, text[:400])
    check("IP Address:10.0.0.7" in text and "DNS:addr.lab" in text and "DNS:addr" in text, text)
    check_eq(ok.returncode, 0, f"the kubelet certificate is the cluster CA's: {ok.stdout}{ok.stderr}")
    check("PRIVATE KEY" in r.json["kubeletKey"], "its key comes along")


def test_rejoin_rules_and_restart(c):
    c2 = Cluster()
    try:
        secret = join_token(c2).split("::node:")[1]
        first = join(c2, secret, "vm1").json["token"]
        c2.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease_obj("vm1", now()),
                token=first)
        r = join(c2, secret, "vm1")
        check_eq(r.status, 409, "a name held by a live node")
        check("held by a live node" in r.json["message"], r.json["message"])
        r = join(c2, first, "vm1")
        check_eq(r.status, 200, f"the node itself comes back with its credential: {r}")
        again = r.json["token"]
        check_eq(join(c2, again, "vm2").status, 403, "a node credential cannot take another name")
        # the lease goes stale: a reinstalled machine may take the name
        old = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        c2.patch("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/vm1", {"spec": {"renewTime": old}})
        r = join(c2, secret, "vm1")
        check_eq(r.status, 200, f"a stale name is reissued: {r}")
        fresh = r.json["token"]
        check_eq(c2.get("/api/v1/nodes", token=again).status, 401, "the replaced credential no longer works")
        c2.restart()
        check_eq(c2.get("/api/v1/nodes", token=fresh).status, 200, "credentials survive a restart")
        sec = c2.get("/api/v1/namespaces/kube-system/secrets/minik8s-node-vm1").json
        check_eq(base64.b64decode(sec["data"]["token"]).decode(), fresh, "kept as a Secret in kube-system")
    finally:
        check_eq(c2.cleanup(), 0, "clean exit")


if __name__ == "__main__":
    run_tests(globals())
