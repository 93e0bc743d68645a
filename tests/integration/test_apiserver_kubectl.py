"""A stock kubectl (1.32, and Debian's 1.20 when present) against minik8s:
discovery, get in every output form, create/apply/delete from files, watch
and describe. Skips when no kubectl of that version is installed."""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Skip, check, check_eq, find_kubectl, run_tests, wait_for  # noqa: E402

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: posts-depl
  namespace: {ns}
  labels:
    app: posts
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: posts
  template:
    metadata:
      labels:
        app: posts
    spec:
      containers:
      - name: posts
        image: minik8s/blog-posts:1
        ports:
        - containerPort: 4000
---
apiVersion: v1
kind: Service
metadata:
  name: posts-srv
  namespace: {ns}
spec:
  type: NodePort
  selector:
    app: posts
  ports:
  - name: posts
    port: 4000
    targetPort: 4000
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
data:
  color: {color}
"""


def write_manifest(c, name, **kw):
    path = os.path.join(c.tmp, name)
    with open(path, "w") as f:
        f.write(MANIFEST.format(**kw))
    return path


def need(version):
    if not find_kubectl(version):
        raise Skip(f"kubectl {version} is not installed")


def test_api_resources(c):
    need("1.32")
    out = c.kubectl("api-resources").stdout
    lines = out.splitlines()
    check(lines[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"], lines[0])
    rows = {l.split()[0]: l.split() for l in lines[1:]}
    check_eq(rows["pods"], ["pods", "po", "v1", "true", "Pod"], "pods row")
    check_eq(rows["deployments"], ["deployments", "deploy", "apps/v1", "true", "Deployment"], "deployments row")
    check_eq(rows["nodes"], ["nodes", "no", "v1", "false", "Node"], "nodes row")
    check_eq(rows["leases"][1:], ["coordination.k8s.io/v1", "true", "Lease"], "leases row")


def test_apply_twice_then_get_and_delete(c):
    need("1.32")
    path = write_manifest(c, "blog.yaml", ns="kapply", replicas=2, color="blue")
    out = c.kubectl("apply", "-f", path).stdout
    check_eq(out.splitlines(), ["namespace/kapply created", "deployment.apps/posts-depl created",
                                "service/posts-srv created", "configmap/settings created"], "first apply")
    out = c.kubectl("apply", "-f", path).stdout
    check_eq(out.splitlines(), ["namespace/kapply unchanged", "deployment.apps/posts-depl unchanged",
                                "service/posts-srv unchanged", "configmap/settings unchanged"], "second apply")
    path2 = write_manifest(c, "blog2.yaml", ns="kapply", replicas=3, color="red")
    out = c.kubectl("apply", "-f", path2).stdout
    check_eq(out.splitlines(), ["namespace/kapply unchanged", "deployment.apps/posts-depl configured",
                                "service/posts-srv unchanged", "configmap/settings configured"], "changed apply")
    d = json.loads(c.kubectl("get", "deploy", "posts-depl", "-n", "kapply", "-o", "json").stdout)
    check_eq(d["spec"]["replicas"], 3, "replicas applied")
    check_eq(d["metadata"]["generation"], 2, "generation bumped once")
    check("kubectl.kubernetes.io/last-applied-configuration" in d["metadata"]["annotations"], "last-applied")

    out = c.kubectl("get", "deploy,svc,cm", "-n", "kapply").stdout
    check("deployment.apps/posts-depl" in out and "service/posts-srv" in out and "configmap/settings" in out, out)
    svc = c.kubectl("get", "svc", "posts-srv", "-n", "kapply", "-o", "wide").stdout.splitlines()
    check_eq(svc[0].split(), ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"],
             "service wide columns")
    check(svc[1].split()[1] == "NodePort" and svc[1].split()[4].startswith("4000:"), svc[1])
    y = c.kubectl("get", "cm", "settings", "-n", "kapply", "-o", "yaml").stdout
    check("color: red" in y and "kind: ConfigMap" in y, y)
    names = c.kubectl("get", "all", "-n", "kapply", "-o", "name").stdout.split()
    check("deployment.apps/posts-depl" in names and "service/posts-srv" in names, names)

    # The namespace goes first and its controller may empty it before kubectl
    # reaches the Deployment or the ConfigMap, as on a real cluster: hence
    # --ignore-not-found, and a Deployment that kubectl either deleted itself
    # or found gone already.
    out = c.kubectl("delete", "-f", path2, "--wait=false", "--ignore-not-found").stdout
    check("namespace \"kapply\" deleted" in out, out)
    check("posts-depl" not in out or "deployment.apps \"posts-depl\" deleted" in out, out)
    check_eq(c.get("/apis/apps/v1/namespaces/kapply/deployments/posts-depl").status, 404, "deployment deleted")


def test_create_and_selectors(c):
    need("1.32")
    c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ksel"}})
    f = os.path.join(c.tmp, "pods.yaml")
    with open(f, "w") as fh:
        for i, (app, node) in enumerate((("web", "n1"), ("web", "n2"), ("db", "n1"))):
            fh.write(f"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n  namespace: ksel\n"
                     f"  labels: {{app: {app}}}\nspec:\n  nodeName: {node}\n  containers:\n"
                     f"  - name: c\n    image: busybox:1\n")
    out = c.kubectl("create", "-f", f).stdout
    check_eq(out.splitlines(), ["pod/p0 created", "pod/p1 created", "pod/p2 created"], "create -f")
    r = c.kubectl("create", "-f", f, check_rc=False)
    check(r.returncode != 0 and "AlreadyExists" in r.stderr, r.stderr)
    got = c.kubectl("get", "pods", "-n", "ksel", "-l", "app=web", "-o", "name").stdout.split()
    check_eq(sorted(got), ["pod/p0", "pod/p1"], "-l")
    got = c.kubectl("get", "pods", "-n", "ksel", "--field-selector", "spec.nodeName=n1", "-o", "name").stdout.split()
    check_eq(sorted(got), ["pod/p0", "pod/p2"], "--field-selector")
    wide = c.kubectl("get", "pods", "-A", "-o", "wide").stdout.splitlines()
    check(wide[0].split()[:3] == ["NAMESPACE", "NAME", "READY"] and "NODE" in wide[0], wide[0])
    check(any(l.split()[:2] == ["ksel", "p0"] for l in wide[1:]), "row for ksel/p0")
    d = c.kubectl("describe", "pod", "p0", "-n", "ksel").stdout
    for want in ("Name:", "p0", "Namespace:", "ksel", "Node:", "n1", "Containers:", "busybox:1"):
        check(want in d, f"describe shows {want!r}:\n{d}")


def test_get_watch_sees_change(c):
    need("1.32")
    c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kwatch"}})
    cmd = [find_kubectl("1.32"), "--kubeconfig", c.kubeconfig, "--cache-dir", os.path.join(c.tmp, "kcw"),
           "get", "configmaps", "-n", "kwatch", "-w", "--request-timeout", "20s"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=c.env())
    try:
        time.sleep(1.5)
        c.post("/api/v1/namespaces/kwatch/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                         "metadata": {"name": "seen-by-watch"}, "data": {"a": "1"}})
        deadline = time.time() + 15
        lines = []
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "seen-by-watch" in line:
                break
        check(any("seen-by-watch" in l for l in lines), f"watch printed the new object: {lines} {p.stderr}")
    finally:
        p.kill()
        p.wait()


def test_kubectl_120(c):
    need("1.20")
    out = c.kubectl("get", "ns", version="1.20").stdout
    check("kube-system" in out and "Active" in out, out)
    path = write_manifest(c, "old.yaml", ns="k120", replicas=1, color="green")
    out = c.kubectl("apply", "-f", path, version="1.20").stdout
    check("deployment.apps/posts-depl created" in out, out)
    out = c.kubectl("apply", "-f", path, version="1.20").stdout
    check("deployment.apps/posts-depl unchanged" in out, out)
    out = c.kubectl("get", "deploy", "-n", "k120", version="1.20").stdout
    check("posts-depl" in out and "READY" in out, out)


def test_errors_through_kubectl(c):
    need("1.32")
    r = c.kubectl("get", "jobs", check_rc=False)
    check(r.returncode != 0, "jobs is an error")
    r = c.kubectl("get", "pod", "does-not-exist", check_rc=False)
    check('pods "does-not-exist" not found' in r.stderr, r.stderr)
    r = c.kubectl("create", "deployment", "web", "--image=busybox:1", check_rc=False)
    check(r.returncode != 0 and "apply -f" in r.stderr, f"protobuf create explains itself: {r.stderr}")


if __name__ == "__main__":
    run_tests(globals())
