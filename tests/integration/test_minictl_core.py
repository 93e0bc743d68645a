"""minictl's core verbs (apply, create, replace, delete, get, describe)
against the real API server, with kubectl 1.32 as the reference: the same
manifest applied by either tool reads as unchanged to the other, and `get`
and `describe` print the same text.

The cluster is `minik8s apiserver` alone: these verbs need nothing else,
and without controllers the objects stay exactly as the test wrote them, so
outputs can be compared byte for byte. The test writes the kubeconfig that
`minik8s server` would.
"""

import base64
import json
import os
import re
import signal
import subprocess
import tempfile
import time

from harness import CheckFailed, Skip, check, check_eq, find_kubectl, free_port, run_tests, wait_for

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


# ---- helpers -----------------------------------------------------------------

def write_kubeconfig(path, server, token, ca_path, contexts=(("minik8s", None),), current="minik8s"):
    ca = base64.b64encode(open(ca_path, "rb").read()).decode()
    text = ["apiVersion: v1", "kind: Config", "clusters:", "- name: minik8s", "  cluster:",
            f"    server: {server}", f"    certificate-authority-data: {ca}", "users:", "- name: minik8s",
            "  user:", f"    token: {token}", "contexts:"]
    for name, ns in contexts:
        text += [f"- name: {name}", "  context:", "    cluster: minik8s", "    user: minik8s"]
        if ns:
            text.append(f"    namespace: {ns}")
    text.append(f"current-context: {current}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(text) + "\n")


def setup(c):
    """The admin kubeconfig `minik8s server` writes (the bare apiserver does not)."""
    if not os.path.exists(c.kubeconfig):
        write_kubeconfig(c.kubeconfig, c.url, c.token, c.ca)


def ctl(c, *args, input=None, env=None, timeout=60):
    """minictl with the cluster's kubeconfig from $KUBECONFIG."""
    setup(c)
    e = {"KUBECONFIG": c.kubeconfig}
    e.update(env or {})
    return c.minictl(*args, input=input, check_rc=False, kubeconfig=False, env=e, timeout=timeout)


def ok(c, *args, **kw):
    p = ctl(c, *args, **kw)
    if p.returncode != 0:
        raise CheckFailed(f"minictl {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def fails(c, *args, **kw):
    p = ctl(c, *args, **kw)
    if p.returncode != 1:
        raise CheckFailed(f"minictl {' '.join(args)} exited {p.returncode}, want 1:\n{p.stdout}\n{p.stderr}")
    return p


def kubectl(c, *args, **kw):
    setup(c)
    if not find_kubectl("1.32"):
        raise Skip("kubectl 1.32 is not installed")
    return c.kubectl(*args, **kw)


def api_create(c, path, obj):
    r = c.post(path, obj)
    check(r.status in (200, 201), f"POST {path}: {r}")
    return r.json


def namespace(c, name):
    r = c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    check(r.status in (201, 409), f"namespace {name}: {r}")


def tmpfile(text, suffix=".yaml", dir=None):
    fd, path = tempfile.mkstemp(suffix=suffix, dir=dir)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def go_json(obj):
    """What Go's encoding/json writes: sorted keys, compact, <>& escaped."""
    s = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        s = s.replace(ch, esc)
    return s


def same_as_kubectl(c, args, tries=4, fix=None):
    """minictl ARGS and kubectl ARGS print the same (retried: AGE columns may
    tick between the two runs). fix(text) normalizes both outputs."""
    last = None
    for _ in range(tries):
        m = ctl(c, *args)
        k = kubectl(c, *args, check_rc=False)
        mo, ko = (fix(m.stdout), fix(k.stdout)) if fix else (m.stdout, k.stdout)
        if (mo, m.stderr, m.returncode) == (ko, k.stderr, k.returncode):
            return m
        last = (m, k, mo, ko)
        time.sleep(0.3)
    m, k, mo, ko = last
    raise CheckFailed(f"minictl and kubectl differ for {' '.join(args)}:\n--- minictl (rc {m.returncode})\n"
                      f"{mo}{m.stderr}--- kubectl (rc {k.returncode})\n{ko}{k.stderr}")


# ---- errors ----------------------------------------------------------------------

def test_error_messages(c):
    bad = tmpfile("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  a: 1\n   b: 2\n")
    p = fails(c, "apply", "-f", bad)
    check_eq(p.stderr, f"error: error parsing {bad}: line 7 column 5: mapping values are not allowed in this "
             "context\n", "bad yaml")

    p = fails(c, "get", "deploymnt")
    check_eq(p.stderr, 'error: the server doesn\'t have a resource type "deploymnt"\ndid you mean "deployment"?\n',
             "unknown kind")
    p = fails(c, "delete", "configmpas", "x")
    check_eq(p.stderr, 'error: the server doesn\'t have a resource type "configmpas"\ndid you mean "configmaps"?\n',
             "unknown kind (plural)")

    p = fails(c, "get", "jobs")
    check_eq(p.stderr, 'error: the server doesn\'t have a resource type "jobs"\njobs.batch is a Kubernetes kind, '
             'but it is not supported by minik8s; `minictl api-resources` lists the kinds it serves\n',
             "unsupported kind")
    job = tmpfile("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: pi\n")
    p = fails(c, "apply", "-f", job)
    check_eq(p.stderr, f'error: resource mapping not found for name: "pi" namespace: "" from "{job}": no matches '
             'for kind "Job" in version "batch/v1": jobs.batch is not supported by minik8s (`minictl '
             'api-resources` lists the kinds it serves)\n', "unsupported kind in a manifest")

    p = fails(c, "apply", "-f", "nope.yaml")
    check_eq(p.stderr, 'error: the path "nope.yaml" does not exist\n', "missing file")

    port = free_port()
    p = fails(c, "get", "pods", "-s", f"https://127.0.0.1:{port}")
    check_eq(p.stderr, f"error: cannot reach the API server at https://127.0.0.1:{port}: Connection refused: is it "
             "running? start one with `minik8s server` (or scripts/up.sh)\n", "server down")

    p = fails(c, "get", "pods", "--token", "wrong")
    check_eq(p.stderr, "error: You must be logged in to the server (Unauthorized): the token given with --token "
             "was refused\n", "wrong --token")
    badkc = os.path.join(c.tmp, "bad-token.kubeconfig")
    write_kubeconfig(badkc, c.url, "not-the-token", c.ca)
    p = fails(c, "get", "pods", "--kubeconfig", badkc)
    check_eq(p.stderr, f"error: You must be logged in to the server (Unauthorized): the token in {badkc} was "
             "refused; `minik8s server` writes a kubeconfig with a working token into its data dir\n",
             "wrong token in kubeconfig")

    home = tempfile.mkdtemp(dir=c.tmp)
    p = fails(c, "get", "pods", env={"KUBECONFIG": "", "HOME": home})
    check_eq(p.stderr, f"error: no kubeconfig found at {home}/.minik8s/config: start a cluster with `minik8s "
             "server` (it writes one there), or point at one with --kubeconfig FILE or $KUBECONFIG, or give -s "
             "URL --token T\n", "no kubeconfig")
    # ... and the default place is where it is looked for
    write_kubeconfig(os.path.join(home, ".minik8s", "config"), c.url, c.token, c.ca)
    p = ok(c, "get", "ns", "default", "-o", "name", env={"KUBECONFIG": "", "HOME": home})
    check_eq(p.stdout, "namespace/default\n", "kubeconfig from ~/.minik8s/config")

    p = fails(c, "get", "pods", "-o", "table")
    check_eq(p.stderr, 'error: unable to match a printer suitable for the output format "table", allowed formats '
             'are: json,name,wide,yaml\n', "bad -o")
    p = fails(c, "delete", "pods")
    check(p.stderr.startswith("error: resource(s) were provided, but no name was specified"), p.stderr)
    p = fails(c, "apply")
    check(p.stderr.startswith("error: must specify one of -f and -k"), p.stderr)


# ---- apply -------------------------------------------------------------------------

MULTI = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: blog}
data:
  title: "Posts <new> & old"
  greeting: "héllo"
---
# a comment-only document separator above; the service below
apiVersion: v1
kind: Service
metadata:
  name: posts
spec:
  selector: {app: posts}
  ports:
  - port: 4000
    targetPort: 4000
"""

DEPLOY_JSON = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "posts-depl", "annotations": {"team": "blog"}},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "posts"}},
             "template": {"metadata": {"labels": {"app": "posts"}},
                          "spec": {"containers": [{"name": "posts", "image": "blog/posts:0.0.1"}]}}},
}


def test_apply_files_dirs_and_stdin(c):
    namespace(c, "ap")
    d = tempfile.mkdtemp(dir=c.tmp)
    os.makedirs(os.path.join(d, "sub"))
    with open(os.path.join(d, "a.yaml"), "w") as f:
        f.write(MULTI)
    with open(os.path.join(d, "sub", "b.json"), "w") as f:
        json.dump(DEPLOY_JSON, f)
    with open(os.path.join(d, "notes.txt"), "w") as f:
        f.write("not a manifest: [")

    p = ok(c, "apply", "-f", d, "-n", "ap")
    check_eq(p.stdout, "configmap/settings created\nservice/posts created\n", "directory without -R")
    p = ok(c, "apply", "-R", "-f", d, "-n", "ap")
    check_eq(p.stdout, "configmap/settings unchanged\nservice/posts unchanged\ndeployment.apps/posts-depl created\n",
             "directory with -R")
    p = ok(c, "apply", "--recursive", "--filename", d, "--namespace=ap")
    check_eq(p.stdout, "configmap/settings unchanged\nservice/posts unchanged\ndeployment.apps/posts-depl unchanged\n",
             "again")

    # the record is kubectl's, byte for byte
    cm = c.get("/api/v1/namespaces/ap/configmaps/settings").json
    want = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "labels": {"app": "blog"}, "annotations": {}, "namespace": "ap"},
            "data": {"title": "Posts <new> & old", "greeting": "héllo"}}
    check_eq(cm["metadata"]["annotations"][LAST_APPLIED], go_json(want) + "\n", "last-applied record")
    check("\\u003cnew\\u003e \\u0026 old" in cm["metadata"]["annotations"][LAST_APPLIED], "Go's HTML escaping")
    dep = c.get("/apis/apps/v1/namespaces/ap/deployments/posts-depl").json
    want = json.loads(json.dumps(DEPLOY_JSON))
    want["metadata"]["namespace"] = "ap"
    check_eq(dep["metadata"]["annotations"][LAST_APPLIED], go_json(want) + "\n", "record keeps other annotations out")
    check_eq(dep["metadata"]["annotations"]["team"], "blog", "manifest annotations applied")

    # a change through stdin: configured, and the dropped key is gone
    changed = MULTI.replace('  greeting: "héllo"\n', "").replace("title: ", "title2: ")
    p = ok(c, "apply", "-f", "-", "-n", "ap", input=changed)
    check_eq(p.stdout, "configmap/settings configured\nservice/posts unchanged\n", "stdin")
    cm = c.get("/api/v1/namespaces/ap/configmaps/settings").json
    check_eq(cm["data"], {"title2": "Posts <new> & old"}, "data after the change")

    # one bad object fails alone; the others still go, exit code 1
    mixed = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n---\n"
             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n---\n"
             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: third\n")
    path = tmpfile(mixed)
    p = fails(c, "apply", "-f", path, "-n", "ap")
    check_eq(p.stdout, "configmap/first created\nconfigmap/third created\n", "the good objects")
    check(p.stderr.startswith(f'Error from server (Invalid): error when creating "{path}" (document 2): '
                              'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"'), p.stderr)

    # a manifest that names another namespace than -n
    other = tmpfile("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: default\n")
    p = fails(c, "apply", "-f", other, "-n", "ap")
    check_eq(p.stderr, 'error: the namespace from the provided object "default" does not match the namespace '
             '"ap". You must pass \'--namespace=default\' to perform this operation.\n', "namespace mismatch")

    # a JSON List is its items
    lst = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-list"}}]}
    p = ok(c, "apply", "-f", tmpfile(json.dumps(lst), ".json"), "-n", "ap")
    check_eq(p.stdout, "configmap/from-list created\n", "List")


APP_V1 = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
        env:
        - name: GREETING
          value: "a <b> & c"
        - name: MODE
          value: demo
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  annotations: {note: hello}
data: {a: "1", b: "x&y"}
"""

APP_V2 = (APP_V1.replace("replicas: 2", "replicas: 3").replace("nginx:1.25", "nginx:1.26")
          .replace('        - name: GREETING\n          value: "a <b> & c"\n', "")
          .replace("  annotations: {note: hello}\n", "  labels: {tier: x}\n"))


def comparable(obj):
    obj = json.loads(json.dumps(obj))
    for k in ("uid", "resourceVersion", "creationTimestamp", "namespace", "generation", "managedFields"):
        obj["metadata"].pop(k, None)
    obj.pop("status", None)
    ann = obj["metadata"].get("annotations", {})
    if LAST_APPLIED in ann:
        ann[LAST_APPLIED] = re.sub(r'"namespace":"[a-z0-9-]+"', '"namespace":"NS"', ann[LAST_APPLIED])
    spec = obj.get("spec", {})
    for k in ("clusterIP", "clusterIPs"):
        spec.pop(k, None)
    return obj


def test_apply_interop_with_kubectl(c):
    for ns in ("ik", "im"):
        namespace(c, ns)
    v1, v2 = tmpfile(APP_V1), tmpfile(APP_V2)
    paths = {"deployment.apps/web": "/apis/apps/v1/namespaces/{}/deployments/web",
             "service/web": "/api/v1/namespaces/{}/services/web", "configmap/cfg": "/api/v1/namespaces/{}/configmaps/cfg"}

    k = kubectl(c, "apply", "-n", "ik", "-f", v1)
    m = ok(c, "apply", "-n", "im", "-f", v1)
    check_eq(m.stdout, k.stdout, "created, as kubectl says it")
    for ref, path in paths.items():
        a = c.get(path.format("ik")).json["metadata"]["annotations"][LAST_APPLIED]
        b = c.get(path.format("im")).json["metadata"]["annotations"][LAST_APPLIED]
        check_eq(b.replace('"namespace":"im"', '"namespace":"ik"'), a, f"{ref}: the same record as kubectl's")

    # each tool sees the other's apply as unchanged
    unchanged = "deployment.apps/web unchanged\nservice/web unchanged\nconfigmap/cfg unchanged\n"
    check_eq(ok(c, "apply", "-n", "ik", "-f", v1).stdout, unchanged, "minictl after kubectl")
    check_eq(kubectl(c, "apply", "-n", "im", "-f", v1).stdout, unchanged, "kubectl after minictl")

    # a changed manifest: configured by either, with the same result
    configured = "deployment.apps/web configured\nservice/web unchanged\nconfigmap/cfg configured\n"
    check_eq(ok(c, "apply", "-n", "ik", "-f", v2).stdout, configured, "minictl on kubectl's objects")
    check_eq(kubectl(c, "apply", "-n", "im", "-f", v2).stdout, configured, "kubectl on minictl's objects")
    for ref, path in paths.items():
        a, b = c.get(path.format("ik")).json, c.get(path.format("im")).json
        check_eq(comparable(a), comparable(b), f"{ref} after the change")
    dep = c.get(paths["deployment.apps/web"].format("ik")).json
    ct = dep["spec"]["template"]["spec"]["containers"][0]
    check_eq(ct["env"], [{"name": "MODE", "value": "demo"}], "the dropped env var is gone")
    check_eq(ct["image"], "nginx:1.26", "image")
    check_eq(dep["spec"]["replicas"], 3, "replicas")
    cm = c.get(paths["configmap/cfg"].format("ik")).json
    check("note" not in cm["metadata"]["annotations"], "the dropped annotation is gone")
    check_eq(cm["metadata"]["labels"], {"tier": "x"}, "label")

    # and back to each other: nothing left to do
    check_eq(kubectl(c, "apply", "-n", "ik", "-f", v2).stdout, unchanged, "kubectl after minictl's change")
    check_eq(ok(c, "apply", "-n", "im", "-f", v2).stdout, unchanged, "minictl after kubectl's change")

    # fields set by someone else survive an apply (the three-way merge)
    r = c.patch("/api/v1/namespaces/im/configmaps/cfg", {"data": {"extra": "kept"}})
    check(r.status == 200, r)
    check_eq(ok(c, "apply", "-n", "im", "-f", v2).stdout, unchanged, "others' fields are not a diff")
    check_eq(c.get("/api/v1/namespaces/im/configmaps/cfg").json["data"].get("extra"), "kept", "others' field")


# ---- create, replace ---------------------------------------------------------------

def test_create_and_replace(c):
    namespace(c, "cr")
    one = tmpfile("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: made\ndata: {v: '1'}\n")
    p = ok(c, "create", "-f", one, "-n", "cr")
    check_eq(p.stdout, "configmap/made created\n", "create")
    p = fails(c, "create", "-f", one, "-n", "cr")
    check_eq(p.stderr, f'Error from server (AlreadyExists): error when creating "{one}": configmaps "made" already '
             'exists\n', "AlreadyExists as kubectl words it")
    k = kubectl(c, "create", "-f", one, "-n", "cr", check_rc=False)
    check_eq(p.stderr, k.stderr, "the same words as kubectl")

    dep = tmpfile(json.dumps(DEPLOY_JSON), ".json")
    p = fails(c, "create", "-f", dep, "-f", dep, "-n", "cr")
    check_eq(p.stdout, "deployment.apps/posts-depl created\n", "first of two")
    check_eq(p.stderr, f'Error from server (AlreadyExists): error when creating "{dep}": deployments.apps '
             '"posts-depl" already exists\n', "second of two")

    gen = tmpfile("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: gen-\n")
    p = ok(c, "create", "-f", gen, "-n", "cr")
    check(re.fullmatch(r"configmap/gen-[a-z0-9]{5} created\n", p.stdout), p.stdout)

    p = ok(c, "create", "namespace", "cr-made")
    check_eq(p.stdout, "namespace/cr-made created\n", "create namespace")

    two = tmpfile("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: made\ndata: {w: '2'}\n")
    before = c.get("/api/v1/namespaces/cr/configmaps/made").json
    p = ok(c, "replace", "-f", two, "-n", "cr")
    check_eq(p.stdout, "configmap/made replaced\n", "replace")
    after = c.get("/api/v1/namespaces/cr/configmaps/made").json
    check_eq(after["data"], {"w": "2"}, "replaced data (nothing merged)")
    check_eq(after["metadata"]["uid"], before["metadata"]["uid"], "the same object")
    missing = tmpfile("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: absent\n")
    p = fails(c, "replace", "-f", missing, "-n", "cr")
    check_eq(p.stderr, f'Error from server (NotFound): error when replacing "{missing}": configmaps "absent" not '
             'found\n', "replace of a missing object")

    # -o json of get, changed, goes back through replace -f -
    obj = json.loads(ok(c, "get", "cm", "made", "-n", "cr", "-o", "json").stdout)
    obj["data"]["w"] = "3"
    p = ok(c, "replace", "-f", "-", input=json.dumps(obj))
    check_eq(p.stdout, "configmap/made replaced\n", "round trip through replace")
    check_eq(c.get("/api/v1/namespaces/cr/configmaps/made").json["data"], {"w": "3"}, "round-tripped data")
    stale = json.loads(json.dumps(obj))
    p = fails(c, "replace", "-f", "-", input=json.dumps(stale))
    check(p.stderr.startswith('Error from server (Conflict): error when replacing "STDIN": Operation cannot be '
                              'fulfilled on configmaps "made"'), p.stderr)

    # apply takes over an object made without a record, and says so
    p = ok(c, "apply", "-f", two, "-n", "cr")
    check_eq(p.stdout, "configmap/made configured\n", "apply after create")
    check(p.stderr.startswith("Warning: resource configmaps/made is missing the kubectl.kubernetes.io/last-applied-"
                              "configuration annotation which is required by minictl apply."), p.stderr)
    check_eq(ok(c, "apply", "-f", two, "-n", "cr").stdout, "configmap/made unchanged\n", "and then it has one")

    p = ok(c, "create", "--save-config", "-f", tmpfile(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: saved\n"), "-n", "cr")
    saved = c.get("/api/v1/namespaces/cr/configmaps/saved").json
    check_eq(saved["metadata"]["annotations"][LAST_APPLIED],
             go_json({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"annotations": {}, "name": "saved", "namespace": "cr"}}) + "\n", "--save-config")


# ---- get ------------------------------------------------------------------------------

def pod(name, labels=None, node=None):
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def test_get_prints_what_kubectl_prints(c):
    for ns in ("gk", "gk2"):
        namespace(c, ns)
    api_create(c, "/api/v1/namespaces/gk/pods", pod("p1", {"app": "demo", "tier": "fe"}))
    api_create(c, "/api/v1/namespaces/gk/pods", pod("second-pod-with-a-long-name", {"app": "demo"}))
    api_create(c, "/api/v1/namespaces/gk2/pods", pod("p3"))
    ok(c, "apply", "-f", tmpfile(APP_V1), "-n", "gk")
    for args in (["get", "pods", "-A"], ["get", "pods", "-n", "gk", "-o", "wide"], ["get", "all", "-n", "gk"],
                 ["get", "all", "-A"], ["get", "deploy,svc,cm", "-n", "gk"], ["get", "pods", "--show-labels", "-n", "gk"],
                 ["get", "pod", "p1", "nope", "-n", "gk"], ["get", "po/p1", "svc/web", "-n", "gk"],
                 ["get", "pods", "--no-headers", "-A"], ["get", "pods", "-l", "app=demo,tier!=fe", "-n", "gk"],
                 ["get", "pods", "-l", "app=none", "-n", "gk"], ["get", "pods", "-l", "app=none", "-A"],
                 ["get", "ns", "gk", "gk2"], ["get", "nodes"], ["get", "cm", "--field-selector", "metadata.name=cfg", "-n", "gk"],
                 ["get", "pods", "-n", "gk", "-o", "json"], ["get", "pod", "p1", "-n", "gk", "-o", "json"],
                 ["get", "pods,svc", "-n", "gk", "-o", "name"], ["get", "all", "-n", "gk", "-o", "name"],
                 ["get", "pod", "nope", "-n", "gk", "-o", "json"], ["get", "cm", "nope", "--ignore-not-found", "-n", "gk"],
                 ["get", "deploy", "web", "-n", "gk", "-o", "json"], ["get", "po/nope", "svc/web", "-n", "gk"],
                 ["get", "ns", "-A"], ["get", "pods,cm", "-n", "gk", "--no-headers"]):
        same_as_kubectl(c, args)
    for args in (["get", "pod", "p1", "-n", "gk", "-o", "yaml"], ["get", "pods", "-A", "-o", "yaml"]):
        same_as_kubectl(c, args)

    # what the comparison covers, spelled out
    p = ok(c, "get", "all", "-n", "gk")
    check(p.stdout.startswith("NAME                              READY   STATUS    RESTARTS   AGE\npod/p1 "), p.stdout)
    check("\n\nNAME          TYPE        CLUSTER-IP" in p.stdout, "blank line between kinds")
    check("\ndeployment.apps/web   0/2" in p.stdout, p.stdout)
    p = ok(c, "get", "pods", "-l", "app=none", "-n", "gk")
    check_eq((p.stdout, p.stderr), ("", "No resources found in gk namespace.\n"), "empty")
    p = fails(c, "get", "pod", "nope", "-n", "gk")
    check_eq(p.stderr, 'Error from server (NotFound): pods "nope" not found\n', "NotFound")
    lst = json.loads(ok(c, "get", "pods", "-n", "gk", "-o", "json").stdout)
    check_eq((lst["kind"], lst["apiVersion"], lst["metadata"]), ("List", "v1", {"resourceVersion": ""}), "List")
    check_eq(sorted(i["metadata"]["name"] for i in lst["items"]), ["p1", "second-pod-with-a-long-name"], "items")
    # -o yaml reads back as the object; attached short flags work
    y = ok(c, "get", "pod", "p1", "-ngk", "-oyaml").stdout
    j = json.loads(ok(c, "get", "pod", "p1", "-n", "gk", "-o", "json").stdout)
    import yaml as pyyaml  # noqa: PLC0415 - only here
    back = pyyaml.safe_load(y)
    back["metadata"]["creationTimestamp"] = str(back["metadata"]["creationTimestamp"]).replace("+00:00", "Z").replace(" ", "T")
    check_eq(back, j, "-o yaml reads back as -o json")
    check_eq(ok(c, "get", "pod/p1", "deploy/web", "-n", "gk", "-o", "name").stdout,
             "pod/p1\ndeployment.apps/web\n", "-o name")


def test_get_watch(c):
    namespace(c, "wt")
    api_create(c, "/api/v1/namespaces/wt/configmaps", {"metadata": {"name": "first"}, "data": {"a": "1"}})
    setup(c)
    env = dict(c.env(), KUBECONFIG=c.kubeconfig)
    exe = find_kubectl("1.32")
    if not exe:
        raise Skip("kubectl 1.32 is not installed")
    m = subprocess.Popen([os.environ.get("MINIK8S_BIN", "minik8s"), "ctl", "get", "cm", "-n", "wt", "-w"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    one = subprocess.Popen([os.environ.get("MINIK8S_BIN", "minik8s"), "ctl", "get", "cm", "first", "-n", "wt",
                            "--watch-only", "-o", "name"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env)
    k = subprocess.Popen([exe, "--kubeconfig", c.kubeconfig, "--cache-dir", os.path.join(c.tmp, "kcache-1.32"),
                          "get", "cm", "-n", "wt", "-w"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env)
    try:
        time.sleep(2.0)  # both are watching
        api_create(c, "/api/v1/namespaces/wt/configmaps", {"metadata": {"name": "second-one"}, "data": {"a": "1"}})
        time.sleep(0.2)
        check(c.patch("/api/v1/namespaces/wt/configmaps/second-one", {"data": {"b": "2"}}).status == 200, "patch")
        check(c.patch("/api/v1/namespaces/wt/configmaps/first", {"data": {"c": "3"}}).status == 200, "patch")
        time.sleep(0.2)
        check(c.delete("/api/v1/namespaces/wt/configmaps/second-one").status == 200, "delete")
        time.sleep(1.0)
    finally:
        for p in (m, k, one):
            p.send_signal(signal.SIGINT)
        mo, me = m.communicate(timeout=10)
        ko, _ = k.communicate(timeout=10)
        oo, _ = one.communicate(timeout=10)
    # AGE is the last column: the two clients started a moment apart
    age = lambda text: re.sub(r"(?m) \d+[smhd]\w*$", " AGE", text)  # noqa: E731
    check_eq(age(mo), age(ko), "get -w prints what kubectl get -w prints")
    rows = [line.split()[0] for line in mo.splitlines()]
    check_eq(rows, ["NAME", "first", "second-one", "second-one", "first", "second-one"], "a row per change")
    check_eq(oo, "configmap/first\n", "watch of one object, changes only")


# ---- delete ---------------------------------------------------------------------------

def test_delete(c):
    namespace(c, "dl")
    base = "/api/v1/namespaces/dl"
    for n in ("a", "b", "c", "d"):
        api_create(c, f"{base}/pods", pod(n, {"grp": "x" if n in "ab" else "y"}))
    p = ok(c, "delete", "pod", "a", "-n", "dl")
    check_eq(p.stdout, 'pod "a" deleted\n', "delete KIND NAME")
    check_eq(c.get(f"{base}/pods/a").status, 404, "gone when delete returns")
    p = fails(c, "delete", "pod", "a", "-n", "dl")
    check_eq(p.stderr, 'Error from server (NotFound): pods "a" not found\n', "NotFound")
    check_eq(p.stderr, kubectl(c, "delete", "pod", "a", "-n", "dl", check_rc=False).stderr, "as kubectl")
    p = ok(c, "delete", "pod", "a", "-n", "dl", "--ignore-not-found")
    check_eq((p.stdout, p.stderr), ("", ""), "--ignore-not-found")
    p = ok(c, "delete", "pods", "-l", "grp=x", "-n", "dl")
    check_eq(p.stdout, 'pod "b" deleted\n', "-l")
    p = ok(c, "delete", "pod/c", "pods/d", "-n", "dl")
    check_eq(p.stdout, 'pod "c" deleted\npod "d" deleted\n', "KIND/NAME")
    p = ok(c, "delete", "pods", "-l", "grp=x", "-n", "dl")
    check_eq(p.stdout, "No resources found\n", "nothing matched")

    for n in ("c1", "c2", "c3"):
        api_create(c, f"{base}/configmaps", {"metadata": {"name": n, "labels": {"t": "delall"}}})
    api_create(c, "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "dl-c4", "labels": {"t": "delall"}}})
    p = ok(c, "delete", "cm", "--all", "-n", "dl")
    check_eq(p.stdout, 'configmap "c1" deleted\nconfigmap "c2" deleted\nconfigmap "c3" deleted\n', "--all")
    p = ok(c, "delete", "cm", "-A", "-l", "t=delall")
    check_eq(p.stdout, 'configmap "dl-c4" deleted\n', "-A -l")

    f = tmpfile(APP_V1)
    ok(c, "apply", "-f", f, "-n", "dl")
    p = ok(c, "delete", "-f", f, "-n", "dl")
    check_eq(p.stdout, 'deployment.apps "web" deleted\nservice "web" deleted\nconfigmap "cfg" deleted\n', "-f")
    p = fails(c, "delete", "-f", f, "-n", "dl")
    check_eq(p.stderr.splitlines()[0], f'Error from server (NotFound): error when deleting "{f}" (document 1): '
             'deployments.apps "web" not found', "-f of deleted objects")

    # a finalizer holds the object: delete waits, with a progress line, until
    # the test completes the deletion
    api_create(c, f"{base}/configmaps", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    setup(c)
    proc = subprocess.Popen([os.environ.get("MINIK8S_BIN", "minik8s"), "ctl", "delete", "cm", "held", "-n", "dl"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(c.env(), KUBECONFIG=c.kubeconfig))
    wait_for(lambda: c.get(f"{base}/configmaps/held").json["metadata"].get("deletionTimestamp"), 10,
             what="deletionTimestamp")
    time.sleep(1.6)
    check(proc.poll() is None, "delete is still waiting")
    r = c.patch(f"{base}/configmaps/held", [{"op": "remove", "path": "/metadata/finalizers"}],
                patch_type="application/json-patch+json")
    check(r.status == 200, r)
    out, err = proc.communicate(timeout=15)
    check_eq(proc.returncode, 0, f"delete after the finalizer went: {err}")
    check_eq(out, 'configmap "held" deleted\n', "stdout")
    check(re.fullmatch(r'(waiting for configmap "held" to be deleted\.\.\. \d+s\n)+', err), err)

    # --wait=false returns at once; --timeout gives up
    api_create(c, f"{base}/configmaps", {"metadata": {"name": "held2", "finalizers": ["example.com/hold"]}})
    t0 = time.time()
    p = ok(c, "delete", "cm", "held2", "-n", "dl", "--wait=false")
    check(time.time() - t0 < 5, "--wait=false did not wait")
    check(c.get(f"{base}/configmaps/held2").json["metadata"].get("deletionTimestamp"), "marked, still there")
    p = fails(c, "delete", "cm", "held2", "-n", "dl", "--timeout", "1s")
    check_eq(p.stdout, 'configmap "held2" deleted\n', "stdout")
    check(p.stderr.endswith("error: timed out waiting for the condition on configmaps/held2\n"), p.stderr)
    c.patch(f"{base}/configmaps/held2", [{"op": "remove", "path": "/metadata/finalizers"}],
            patch_type="application/json-patch+json")

    # --cascade and --grace-period reach the server's DeleteOptions
    for cascade, fin in (("orphan", "orphan"), ("foreground", "foregroundDeletion")):
        api_create(c, f"{base}/configmaps", {"metadata": {"name": f"cas-{cascade}"}})
        ok(c, "delete", "cm", f"cas-{cascade}", "-n", "dl", f"--cascade={cascade}", "--wait=false")
        live = c.get(f"{base}/configmaps/cas-{cascade}").json
        check_eq(live["metadata"].get("finalizers"), [fin], f"--cascade={cascade}")
        c.patch(f"{base}/configmaps/cas-{cascade}", [{"op": "remove", "path": "/metadata/finalizers"}],
                patch_type="application/json-patch+json")
    api_create(c, f"{base}/pods", pod("bound", node="ghost-node"))
    ok(c, "delete", "pod", "bound", "-n", "dl", "--grace-period", "7", "--wait=false")
    check_eq(c.get(f"{base}/pods/bound").json["metadata"].get("deletionGracePeriodSeconds"), 7, "--grace-period")
    p = ok(c, "delete", "pod", "bound", "-n", "dl", "--force")
    check_eq(p.stdout, 'pod "bound" force deleted\n', "--force")
    check(p.stderr.startswith("Warning: Immediate deletion does not wait"), p.stderr)
    check_eq(c.get(f"{base}/pods/bound").status, 404, "gone")


# ---- describe -------------------------------------------------------------------------

def test_describe_like_kubectl(c):
    namespace(c, "ds")
    base = "/api/v1/namespaces/ds"
    api_create(c, "/api/v1/nodes", {
        "metadata": {"name": "ds-node", "labels": {"kubernetes.io/hostname": "ds-node",
                                                   "node-role.kubernetes.io/worker": ""}},
        "spec": {"unschedulable": True, "podCIDR": "10.244.9.0/24", "podCIDRs": ["10.244.9.0/24"],
                 "taints": [{"key": "dedicated", "value": "test", "effect": "NoSchedule"},
                            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]},
        "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                   "allocatable": {"cpu": "3800m", "memory": "7Gi", "pods": "110", "ephemeral-storage": "90Gi"},
                   "addresses": [{"type": "InternalIP", "address": "192.0.2.9"},
                                 {"type": "Hostname", "address": "ds-node"}],
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "message": "kubelet is posting ready status",
                                   "lastHeartbeatTime": "2026-01-02T03:04:05Z",
                                   "lastTransitionTime": "2026-01-02T03:04:05Z"}],
                   "nodeInfo": {"machineID": "m1", "systemUUID": "u1", "bootID": "b1", "kernelVersion": "6.1.0",
                                "osImage": "Debian GNU/Linux 12", "operatingSystem": "linux",
                                "architecture": "amd64", "containerRuntimeVersion": "docker://24.0.0",
                                "kubeletVersion": "v1.32.0", "kubeProxyVersion": "v1.32.0"}}})
    p = api_create(c, f"{base}/pods", {
        "metadata": {"name": "worker", "labels": {"app": "blog", "tier": "api"},
                     "annotations": {"note": "x" * 150, "short": "yes"}},
        "spec": {"nodeName": "ds-node",
                 "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "test", "effect": "NoSchedule"},
                                 {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
                 "nodeSelector": {"disk": "ssd"},
                 "containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", "sleep 1000"],
                                 "args": ["--verbose"],
                                 "ports": [{"containerPort": 8080}, {"containerPort": 9090, "protocol": "UDP"}],
                                 "env": [{"name": "MODE", "value": "test"},
                                         {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}}],
                                 "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                                               "limits": {"cpu": "500m", "memory": "128Mi"}},
                                 "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                                 "livenessProbe": {"tcpSocket": {"port": 8080}},
                                 "volumeMounts": [{"name": "data", "mountPath": "/data"},
                                                  {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True}]}],
                 "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "cfg"}}]}})
    ten_min_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))
    one_min_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    for name, reason, count in (("worker.1", "Scheduled", 1), ("worker.2", "BackOff", 3)):
        api_create(c, f"{base}/events", {
            "metadata": {"name": name}, "type": "Normal" if count == 1 else "Warning", "reason": reason,
            "involvedObject": {"kind": "Pod", "name": "worker", "namespace": "ds", "uid": p["metadata"]["uid"]},
            "message": f"{reason} happened ", "source": {"component": "default-scheduler" if count == 1 else "kubelet"},
            "firstTimestamp": ten_min_ago, "lastTimestamp": one_min_ago if count > 1 else ten_min_ago, "count": count})
    ok(c, "apply", "-f", tmpfile(APP_V1), "-n", "ds")
    d = c.get("/apis/apps/v1/namespaces/ds/deployments/web").json
    tpl = json.loads(json.dumps(d["spec"]["template"]))
    tpl["metadata"]["labels"]["pod-template-hash"] = "abc12"
    owner = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d["metadata"]["uid"],
              "controller": True, "blockOwnerDeletion": True}]
    rs = api_create(c, "/apis/apps/v1/namespaces/ds/replicasets", {
        "metadata": {"name": "web-abc12", "labels": tpl["metadata"]["labels"], "ownerReferences": owner},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "abc12"}},
                 "template": tpl}})
    rs_pod = pod("web-abc12-x", {"app": "web", "pod-template-hash": "abc12"})
    rs_pod["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc12",
                                              "uid": rs["metadata"]["uid"], "controller": True}]
    api_create(c, f"{base}/pods", rs_pod)
    api_create(c, f"{base}/endpoints", {"metadata": {"name": "web"}, "subsets": [
        {"addresses": [{"ip": "10.244.1.5"}, {"ip": "10.244.1.6"}, {"ip": "10.244.1.7"}, {"ip": "10.244.1.8"}],
         "notReadyAddresses": [{"ip": "10.244.1.9"}], "ports": [{"port": 80, "protocol": "TCP"}]}]})
    api_create(c, f"{base}/secrets", {"metadata": {"name": "s"}, "type": "Opaque",
                                       "data": {"pw": base64.b64encode(b"hunter2").decode()}})

    for args in (["describe", "pod", "worker", "-n", "ds"], ["describe", "node", "ds-node"],
                 ["describe", "deploy", "web", "-n", "ds"], ["describe", "rs", "web-abc12", "-n", "ds"],
                 ["describe", "ep", "web", "-n", "ds"], ["describe", "cm", "cfg", "-n", "ds"],
                 ["describe", "secret", "s", "-n", "ds"], ["describe", "ns", "ds"], ["describe", "pods", "-n", "ds"],
                 ["describe", "pod", "nope", "-n", "ds"], ["describe", "lease", "-n", "kube-node-lease"],
                 ["describe", "pod", "work", "-n", "ds"]):
        same_as_kubectl(c, args)
    # kubectl 1.32 reads a service's endpoints from EndpointSlices, which
    # minik8s does not serve; minictl reads the Endpoints object instead.
    drop = lambda text: re.sub(r"\nEndpoints: +[^\n]*", "", text)  # noqa: E731
    same_as_kubectl(c, ["describe", "svc", "web", "-n", "ds"], fix=drop)

    out = ok(c, "describe", "svc", "web", "-n", "ds").stdout
    check(re.search(r"\nEndpoints: +10\.244\.1\.5:80,10\.244\.1\.6:80,10\.244\.1\.7:80 \+ 1 more\.\.\.\n", out), out)
    out = ok(c, "describe", "deploy", "web", "-n", "ds").stdout
    check(re.search(r"\nReplicas: +2 desired \| 0 updated \| 0 total \| 0 available \| 0 unavailable\n", out), out)
    check(re.search(r"\nOldReplicaSets: +<none>\nNewReplicaSet: +web-abc12 \(0/2 replicas created\)\n", out), out)
    out = ok(c, "describe", "pod", "worker", "-n", "ds").stdout
    for line in (r"\nNode: +ds-node/\n", r"\n    Ports: +8080/TCP, 9090/UDP\n",
                 r"\n    Readiness: +http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3\n",
                 r"\n      PASSWORD: +<set to the key 'pw' in secret 's'>  Optional: false\n",
                 r"\nQoS Class: +Burstable\n", r"\nTolerations: +:NoExecute op=Exists for 300s\n +dedicated=test:NoSchedule\n",
                 r"\n  Warning  BackOff    6\ds \(x3 over 10m\)  kubelet            BackOff happened\n"):
        check(re.search(line, out), f"{line!r} in\n{out}")
    out = ok(c, "describe", "node", "ds-node").stdout
    check("web-abc12-x" not in out, "only pods on the node")
    check(re.search(r"\n  ds +worker +250m \(6%\) +500m \(13%\) +64Mi \(0%\) +128Mi \(1%\) +\d+s\n", out), out)
    check(re.search(r"\n  cpu +250m \(6%\) +500m \(13%\)\n", out), out)
    out = ok(c, "describe", "rs", "web-abc12", "-n", "ds").stdout
    check(re.search(r"\nPods Status: +0 Running / 1 Waiting / 0 Succeeded / 0 Failed\n", out), out)
    p = fails(c, "describe", "pod", "nope", "-n", "ds")
    check_eq(p.stderr, 'Error from server (NotFound): pods "nope" not found\n', "NotFound")


# ---- global flags ---------------------------------------------------------------------

def test_global_flags(c):
    namespace(c, "ctxns")
    api_create(c, "/api/v1/namespaces/ctxns/configmaps", {"metadata": {"name": "in-ctxns"}})
    kc = os.path.join(c.tmp, "two-contexts.kubeconfig")
    write_kubeconfig(kc, c.url, c.token, c.ca, contexts=(("main", None), ("other", "ctxns")), current="main")
    p = ok(c, "get", "cm", "--kubeconfig", kc, "--context", "other", "-o", "name")
    check_eq(p.stdout, "configmap/in-ctxns\n", "--context with a namespace")
    p = ok(c, "get", "--context=other", "cm", "in-ctxns", "--kubeconfig", kc, "--namespace", "ctxns", "-o", "name")
    check_eq(p.stdout, "configmap/in-ctxns\n", "flags anywhere")
    # before the verb too, as the harness passes --kubeconfig
    p = c.minictl("-n", "ctxns", "get", "cm", "-o", "name")
    check_eq(p.stdout, "configmap/in-ctxns\n", "global flags before the verb")
    p = ok(c, "get", "cm", "-n", "default", "--kubeconfig", kc, "--context", "other", "-o", "name")
    check("configmap/in-ctxns" not in p.stdout, "-n beats the context's namespace")
    p = ok(c, "get", "ns", "ctxns", "-s", c.url, "-o", "name")
    check_eq(p.stdout, "namespace/ctxns\n", "-s with the kubeconfig's CA")
    p = ok(c, "get", "ns", "ctxns", "--server", c.url, "--token", c.token, "--request-timeout", "5s", "-o", "name")
    check_eq(p.stdout, "namespace/ctxns\n", "--server --token --request-timeout")
    p = ok(c, "get", "ns", "ctxns", "-v=8", "-o", "name")
    check_eq(p.stdout, "namespace/ctxns\n", "-v")
    check("path=/api/v1/namespaces/ctxns" in p.stderr, f"-v=8 traces requests: {p.stderr}")
    p = ok(c, "get", "cm", "-A", "--field-selector", "metadata.name=in-ctxns")
    check(p.stdout.startswith("NAMESPACE   NAME       DATA   AGE\nctxns       in-ctxns   0      "), p.stdout)
    p = fails(c, "get", "cm", "in-ctxns", "-A")
    check_eq(p.stderr, "error: a resource cannot be retrieved by name across all namespaces\n", "-A with a name")


run_tests(globals(), cluster_args={"command": "apiserver"})
