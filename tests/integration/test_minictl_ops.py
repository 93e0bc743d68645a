"""Integration tests for minictl's operational verbs against the real
apiserver: logs, scale, rollout (status, history, undo, restart, pause,
resume), events, cordon, uncordon, drain, cluster-info, api-resources,
version, config and completion.

The server runs without its controllers and scheduler (and no kubelet
joins), so the test plays them: it writes Deployments, ReplicaSets and
Deployment status directly, binds pods to nodes by spec.nodeName, and
confirms evicted pods' deletion (a grace-0 DELETE) the way a kubelet would.
Where kubectl 1.32 is installed, the outputs are also compared with
kubectl's against the same server.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, check, check_eq, find_kubectl, run_tests  # noqa: E402


def ctl(c, *args, env=None, check_rc=False, timeout=60, input=None):
    """`minictl ARGS` with the cluster's kubeconfig found through $KUBECONFIG
    (so the verb comes first, as a user types it)."""
    e = {"KUBECONFIG": c.kubeconfig}
    e.update(env or {})
    return c.minictl(*args, kubeconfig=False, env=e, check_rc=check_rc, timeout=timeout, input=input)


def spawn(c, *args, limit=30):
    """Starts `minictl ARGS` in the background (for -w and rollout status),
    killed after limit seconds so a hang fails the test instead of blocking it."""
    env = c.env()
    env["KUBECONFIG"] = c.kubeconfig
    proc = subprocess.Popen([BIN, "ctl"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    timer = threading.Timer(limit, proc.kill)
    timer.daemon = True
    timer.start()
    return proc


def kubectl(c, *args):
    """kubectl 1.32 against the same server, or None when it is not installed."""
    if not find_kubectl("1.32"):
        return None
    return c.kubectl(*args, check_rc=False)


def same_as_kubectl(c, args, mine=None):
    """Checks that minictl ARGS prints what kubectl ARGS prints on stdout,
    with the same exit code (error texts name the program, so they may
    differ). Returns minictl's result."""
    mine = mine or ctl(c, *args)
    theirs = kubectl(c, *args)
    if theirs is not None:
        check_eq(mine.stdout, theirs.stdout, f"stdout of {' '.join(args)} (minictl vs kubectl)")
        check_eq(mine.returncode, theirs.returncode, f"exit code of {' '.join(args)}")
    return mine


def ok(c, path, body=None, method="POST", patch_type=None):
    if method == "PATCH":
        r = c.patch(path, body, patch_type=patch_type or "application/merge-patch+json")
    else:
        r = c.request(method, path, body)
    check(200 <= r.status < 300, f"{method} {path}: {r}")
    return r.json if r.body else None


def namespace(c, name):
    r = c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    check(r.status in (201, 409), f"namespace {name}: {r}")


def lines(text):
    return text.splitlines()


# ---- version, api-resources, cluster-info ---------------------------------

def test_version(c):
    p = ctl(c, "version")
    check_eq(p.returncode, 0, "version exit code")
    check_eq(p.stdout, "Client Version: v1.32.0-minik8s-0.1.0\nServer Version: v1.32.0\n", "version")

    # --client needs no server, nor a kubeconfig.
    p = ctl(c, "version", "--client", env={"KUBECONFIG": "/nonexistent/config"})
    check_eq((p.returncode, p.stdout), (0, "Client Version: v1.32.0-minik8s-0.1.0\n"), "version --client")

    p = ctl(c, "version", "-o", "json")
    doc = json.loads(p.stdout)
    check_eq(doc["clientVersion"]["gitVersion"], "v1.32.0-minik8s-0.1.0", "clientVersion")
    check_eq((doc["clientVersion"]["major"], doc["clientVersion"]["minor"]), ("1", "32"), "client major.minor")
    check_eq(doc["serverVersion"]["gitVersion"], "v1.32.0", "serverVersion")
    check(p.stdout.startswith('{\n  "clientVersion": {\n    "major": "1",\n'), f"kubectl's JSON layout: {p.stdout!r}")

    p = ctl(c, "version", "-oyaml", "--client")
    check(p.stdout.startswith("clientVersion:\n  buildDate: "), f"yaml, keys sorted: {p.stdout!r}")
    check("  gitVersion: v1.32.0-minik8s-0.1.0\n" in p.stdout and "serverVersion" not in p.stdout, p.stdout)

    p = ctl(c, "version", "-o", "xml")
    check_eq((p.returncode, p.stderr), (1, "error: --output must be 'yaml' or 'json'\n"), "version -o xml")

    # A server that is not there: the client line, then why, exit 1.
    p = ctl(c, "version", "-s", "https://127.0.0.1:1")
    check_eq(p.returncode, 1, "version with the server down")
    check_eq(p.stdout, "Client Version: v1.32.0-minik8s-0.1.0\n", "client version still printed")
    check("https://127.0.0.1:1" in p.stderr, f"the failing URL is named: {p.stderr!r}")


API_RESOURCES = """\
NAME          SHORTNAMES   APIVERSION               NAMESPACED   KIND
configmaps    cm           v1                       true         ConfigMap
endpoints     ep           v1                       true         Endpoints
events        ev           v1                       true         Event
namespaces    ns           v1                       false        Namespace
nodes         no           v1                       false        Node
pods          po           v1                       true         Pod
secrets                    v1                       true         Secret
services      svc          v1                       true         Service
deployments   deploy       apps/v1                  true         Deployment
replicasets   rs           apps/v1                  true         ReplicaSet
leases                     coordination.k8s.io/v1   true         Lease
"""


def test_api_resources(c):
    p = same_as_kubectl(c, ["api-resources"])
    check_eq(p.stdout, API_RESOURCES, "api-resources")
    for args in (["-o", "wide"], ["-o", "name"], ["--namespaced=false"], ["--namespaced"], ["--api-group", "apps"],
                 ["--api-group="], ["--sort-by", "kind"], ["--sort-by=name", "--no-headers"],
                 ["--verbs", "list,watch", "--api-group", "coordination.k8s.io"]):
        same_as_kubectl(c, ["api-resources"] + args)
    check_eq(ctl(c, "api-resources", "-o", "name").stdout.split(),
             ["configmaps", "endpoints", "events", "namespaces", "nodes", "pods", "secrets", "services",
              "deployments.apps", "replicasets.apps", "leases.coordination.k8s.io"], "-o name")
    check_eq(ctl(c, "api-resources", "--namespaced=false").stdout,
             "NAME         SHORTNAMES   APIVERSION   NAMESPACED   KIND\n"
             "namespaces   ns           v1           false        Namespace\n"
             "nodes        no           v1           false        Node\n", "--namespaced=false")
    wide = lines(ctl(c, "api-resources", "-o", "wide").stdout)
    check(wide[0].endswith("KIND         VERBS                                                        CATEGORIES"), wide[0])
    check(wide[6].startswith("pods ") and wide[6].endswith(
        "create,delete,deletecollection,get,list,patch,update,watch   all"), wide[6])
    p = ctl(c, "api-resources", "-o", "json")
    check_eq((p.returncode, p.stderr), (1, "error: --output json is not available\n"), "-o json")
    p = ctl(c, "api-resources", "--sort-by", "age")
    check_eq((p.returncode, p.stderr), (1, "error: --sort-by accepts only name or kind\n"), "--sort-by age")


def test_cluster_info(c):
    p = ctl(c, "cluster-info")
    check_eq(p.returncode, 0, "cluster-info exit code")
    check_eq(p.stdout,
             f"Kubernetes control plane is running at {c.url}\n"
             f"KubeDNS is running at {c.url}/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy\n"
             "\nTo further debug and diagnose cluster problems, use 'minictl describe' and 'minictl events -A'.\n",
             "cluster-info")
    # A cluster service labelled as kubectl expects shows too, named by its label.
    ok(c, "/api/v1/namespaces/kube-system/services", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "metrics", "labels": {"kubernetes.io/cluster-service": "true",
                                                    "kubernetes.io/name": "Metrics"}},
        "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}})
    p = ctl(c, "cluster-info")
    check(f"Metrics is running at {c.url}/api/v1/namespaces/kube-system/services/https:metrics:https/proxy\n"
          in p.stdout, p.stdout)
    mine = [ln for ln in lines(p.stdout) if "running at" in ln]
    theirs = kubectl(c, "cluster-info")
    if theirs is not None:
        check(f"Metrics is running at {c.url}/api/v1/namespaces/kube-system/services/https:metrics:https/proxy"
              in theirs.stdout, f"kubectl agrees on the link: {theirs.stdout!r}")
        check_eq(mine[0], lines(theirs.stdout)[0], "control plane line")
    ok(c, "/api/v1/namespaces/kube-system/services/metrics", method="DELETE")
    p = ctl(c, "cluster-info", "dump")
    check_eq(p.returncode, 1, "cluster-info dump")
    check("not supported by minictl" in p.stderr, p.stderr)


# ---- config ----------------------------------------------------------------

KUBECONFIG_TEXT = """\
apiVersion: v1
kind: Config
# two clusters, two users, two contexts
clusters:
- name: dev
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: QUJD
- name: prod
  cluster:
    server: https://prod.example:6443
    insecure-skip-tls-verify: true
users:
- name: alice
  user:
    client-certificate-data: QUJD
    client-key-data: QUJD
- name: bob
  user:
    token: abc
    password: secret
    username: bob
contexts:
- name: dev
  context: {cluster: dev, user: alice, namespace: team-a}
- name: prod
  context:
    cluster: prod
    user: bob
current-context: dev
preferences: {}
"""

CONFIG_VIEW = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: DATA+OMITTED
    server: https://10.0.0.1:6443
  name: dev
- cluster:
    insecure-skip-tls-verify: true
    server: https://prod.example:6443
  name: prod
contexts:
- context:
    cluster: dev
    namespace: team-a
    user: alice
  name: dev
- context:
    cluster: prod
    user: bob
  name: prod
current-context: dev
kind: Config
preferences: {}
users:
- name: alice
  user:
    client-certificate-data: DATA+OMITTED
    client-key-data: DATA+OMITTED
- name: bob
  user:
    password: REDACTED
    token: REDACTED
    username: bob
"""


def test_config(c):
    d = tempfile.mkdtemp(prefix="kc-", dir=c.tmp)
    path = os.path.join(d, "config")
    with open(path, "w") as f:
        f.write(KUBECONFIG_TEXT)

    def cfg(*args):
        return ctl(c, "config", *args, env={"KUBECONFIG": path})

    def cfg_same(*args):
        mine = cfg(*args)
        if find_kubectl("1.32"):
            theirs = c.kubectl("config", "--kubeconfig", path, *args, check_rc=False)
            check_eq((mine.stdout, mine.stderr, mine.returncode), (theirs.stdout, theirs.stderr, theirs.returncode),
                     f"config {' '.join(args)} (minictl vs kubectl)")
        return mine

    check_eq(cfg_same("view").stdout, CONFIG_VIEW, "config view")
    raw = cfg_same("view", "--raw").stdout
    check("    token: abc\n" in raw and "client-key-data: QUJD" in raw and "REDACTED" not in raw, raw)
    mini = cfg_same("view", "--minify").stdout
    check("name: dev" in mini and "prod" not in mini and "bob" not in mini, mini)
    mini = cfg_same("view", "--minify", "--context", "prod").stdout
    check("current-context: prod" in mini and "alice" not in mini, mini)
    as_json = json.loads(cfg_same("view", "-o", "json").stdout)
    check_eq(list(as_json), ["kind", "apiVersion", "preferences", "clusters", "users", "contexts", "current-context"],
             "-o json keys in kubectl's order")
    check_eq(as_json["users"][1]["user"]["token"], "REDACTED", "token redacted in json")
    check_eq(cfg_same("current-context").stdout, "dev\n", "current-context")
    check_eq(cfg_same("get-contexts").stdout,
             "CURRENT   NAME   CLUSTER   AUTHINFO   NAMESPACE\n"
             "*         dev    dev       alice      team-a\n"
             "          prod   prod      bob        \n", "get-contexts")
    check_eq(cfg_same("get-contexts", "-o", "name").stdout, "dev\nprod\n", "get-contexts -o name")
    p = cfg_same("get-contexts", "nope")
    check_eq((p.returncode, p.stderr), (1, "error: context nope not found\n"), "get-contexts nope")

    # use-context rewrites only the current-context line: the comment stays.
    p = cfg("use-context", "prod")
    check_eq((p.returncode, p.stdout), (0, 'Switched to context "prod".\n'), "use-context")
    with open(path) as f:
        check_eq(f.read(), KUBECONFIG_TEXT.replace("current-context: dev", "current-context: prod"), "file after")
    check_eq(cfg("current-context").stdout, "prod\n", "current-context after use-context")
    p = cfg("use-context", "nope")
    check_eq((p.returncode, p.stderr), (1, 'error: no context exists with the name: "nope"\n'), "use-context nope")
    with open(path) as f:
        check("current-context: prod" in f.read(), "unchanged after a failed use-context")
    # A JSON kubeconfig (no line to edit) is rewritten as YAML with the same content.
    jpath = os.path.join(d, "json-config")
    with open(jpath, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "a",
                   "contexts": [{"name": "a", "context": {"cluster": "x"}}, {"name": "b c", "context": {"cluster": "x"}}],
                   "clusters": [{"name": "x", "cluster": {"server": "https://x:1"}}]}, f)
    p = ctl(c, "config", "use-context", "b c", env={"KUBECONFIG": jpath})
    check_eq(p.stdout, 'Switched to context "b c".\n', "use-context in a JSON file")
    check_eq(ctl(c, "config", "current-context", env={"KUBECONFIG": jpath}).stdout, "b c\n", "read back")
    with open(jpath) as f:
        text = f.read()
    check("clusters:\n- name: x\n  cluster:\n    server: https://x:1\n" in text, text)

    # No file: an empty config, as kubectl.
    missing = os.path.join(d, "missing")
    p = ctl(c, "config", "view", env={"KUBECONFIG": missing})
    check_eq(p.stdout, "apiVersion: v1\nclusters: null\ncontexts: null\ncurrent-context: \"\"\nkind: Config\n"
                       "preferences: {}\nusers: null\n", "view of a missing file")
    p = ctl(c, "config", "current-context", env={"KUBECONFIG": missing})
    check_eq((p.returncode, p.stderr), (1, "error: current-context is not set\n"), "current-context unset")
    p = ctl(c, "config", "view", "--minify", env={"KUBECONFIG": missing})
    check_eq(p.stderr, "error: current-context must exist in order to minify\n", "minify without context")
    p = ctl(c, "config", "frobnicate")
    check(p.returncode == 1 and 'unknown command "frobnicate"' in p.stderr, p.stderr)
    # The cluster's own kubeconfig, as kubectl shows it.
    view = ctl(c, "config", "view").stdout
    check("certificate-authority-data: DATA+OMITTED" in view and "token: REDACTED" in view, view)
    if find_kubectl("1.32"):
        check_eq(view, c.kubectl("config", "view").stdout, "the cluster's kubeconfig")


# ---- completion --------------------------------------------------------------

def test_completion_bash(c):
    namespace(c, "comp")
    ok(c, "/apis/apps/v1/namespaces/comp/deployments", deployment("comp", "frontend", "nginx:1"))
    ok(c, "/apis/apps/v1/namespaces/comp/deployments", deployment("comp", "backend", "nginx:1"))
    p = ctl(c, "completion", "bash")
    check_eq(p.returncode, 0, "completion bash")
    check("complete -o default -F _minictl minictl" in p.stdout, "registers the function")
    bindir = tempfile.mkdtemp(prefix="bin-", dir=c.tmp)
    os.symlink(os.path.abspath(BIN), os.path.join(bindir, "minictl"))
    script = os.path.join(bindir, "minictl.bash")
    with open(script, "w") as f:
        f.write(p.stdout)
    cases = [
        (["minictl", "ro"], "rollout"),
        (["minictl", "co"], "config cordon completion"),
        (["minictl", "get", "deploy"], "deployments deployment deploy deployments.apps"),
        (["minictl", "-n", "comp", "get", "deploy", ""], "backend frontend"),
        (["minictl", "get", "deploy", "-n", "comp", "f"], "frontend"),
        (["minictl", "get", "-n", "comp", "deploy/b"], "deploy/backend"),
        (["minictl", "rollout", "st"], "status"),
        (["minictl", "rollout", "status", "-n", "comp", "deployment/"], "deployment/backend deployment/frontend"),
        (["minictl", "scale", "r"], "replicasets replicaset rs"),
        (["minictl", "-n", "c"], "comp"),
        (["minictl", "config", "use"], "use-context"),
        (["minictl", "config", "use-context", ""], "minik8s"),
        (["minictl", "logs", "--ta"], "--tail"),
        (["minictl", "drain", "--ig"], "--ignore-daemonsets"),
        (["minictl", "get", "deploy", "-o", "y"], "yaml"),
        (["minictl", "completion", ""], "bash"),
        (["minik8s", "ctl", "-n", "comp", "get", "deploy", "b"], "backend"),
    ]
    body = "source " + script + "\n"
    for words, _ in cases:
        cmd = " ".join("'" + w + "'" for w in words)
        body += f"COMP_WORDS=({cmd}); COMP_CWORD={len(words) - 1}; COMPREPLY=(); _minictl; echo \"${{COMPREPLY[*]}}\"\n"
    env = c.env()
    env["PATH"] = bindir + os.pathsep + os.path.dirname(os.path.abspath(BIN)) + os.pathsep + env["PATH"]
    env["KUBECONFIG"] = c.kubeconfig
    out = subprocess.run(["bash", "--norc", "-c", body], capture_output=True, text=True, env=env, timeout=60)
    check_eq(out.returncode, 0, f"bash: {out.stderr}")
    got = out.stdout.split("\n")
    for i, (words, want) in enumerate(cases):
        check_eq(" ".join(sorted(got[i].split())), " ".join(sorted(want.split())), f"completing {words}")
    p = ctl(c, "completion", "zsh")
    check_eq((p.returncode, p.stderr), (1, 'error: Unsupported shell type "zsh": minictl completes bash only\n'), "zsh")
    p = ctl(c, "completion")
    check_eq(p.returncode, 1, "completion without a shell")


# ---- nodes: cordon, uncordon, drain -----------------------------------------

def node(name, labels=None):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}}


def pod(ns, name, node_name=None, owner=None, volumes=None, containers=("c",), annotations=None):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
         "spec": {"containers": [{"name": n, "image": "busybox"} for n in containers]}}
    if node_name:
        p["spec"]["nodeName"] = node_name
    if owner:
        kind, oname = owner
        p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": kind, "name": oname, "controller": True,
                                             "uid": "0a2f8c9e-1111-2222-3333-%012d" % len(oname)}]
    if volumes:
        p["spec"]["volumes"] = volumes
    return p


def test_cordon_uncordon(c):
    ok(c, "/api/v1/nodes", node("cn1", {"pool": "blue"}))
    ok(c, "/api/v1/nodes", node("cn2", {"pool": "blue"}))
    p = ctl(c, "cordon", "cn1")
    check_eq((p.returncode, p.stdout), (0, "node/cn1 cordoned\n"), "cordon")
    check_eq(c.get("/api/v1/nodes/cn1").json["spec"].get("unschedulable"), True, "spec.unschedulable")
    check_eq(ctl(c, "cordon", "node/cn1").stdout, "node/cn1 already cordoned\n", "cordon again")
    p = ctl(c, "uncordon", "cn1")
    check_eq((p.returncode, p.stdout), (0, "node/cn1 uncordoned\n"), "uncordon")
    check("unschedulable" not in c.get("/api/v1/nodes/cn1").json.get("spec", {}), "field removed, as kubectl")
    check_eq(ctl(c, "uncordon", "cn1").stdout, "node/cn1 already uncordoned\n", "uncordon again")
    p = ctl(c, "cordon", "-l", "pool=blue")
    check_eq(p.stdout, "node/cn1 cordoned\nnode/cn2 cordoned\n", "cordon -l")
    p = ctl(c, "uncordon", "cn2", "nope")
    check_eq((p.returncode, p.stdout, p.stderr), (1, "node/cn2 uncordoned\n",
                                                  'Error from server (NotFound): nodes "nope" not found\n'),
             "uncordon with a missing node")
    p = ctl(c, "cordon")
    check_eq((p.returncode, p.stderr), (1, "error: USAGE: cordon NODE [flags]\n"
                                           "See 'minictl cordon -h' for help and examples\n"), "cordon usage")
    # kubectl sees the same thing.
    theirs = kubectl(c, "uncordon", "cn1")
    if theirs is not None:
        check_eq(theirs.stdout, "node/cn1 uncordoned\n", "kubectl uncordon after minictl cordon")


class Kubelet(threading.Thread):
    """Plays the kubelet of some nodes: confirms the deletion of pods marked
    for deletion (a grace-0 DELETE), after a delay so drain has to wait."""

    def __init__(self, c, nodes, delay=1.5):
        super().__init__(daemon=True)
        self.c, self.nodes, self.delay = c, set(nodes), delay
        self.stop = threading.Event()
        self.deleted = []

    def run(self):
        seen = {}
        while not self.stop.is_set():
            for p in self.c.get("/api/v1/pods").json["items"]:
                md = p["metadata"]
                if p["spec"].get("nodeName") not in self.nodes or not md.get("deletionTimestamp"):
                    continue
                key = md["namespace"] + "/" + md["name"]
                seen.setdefault(key, time.time())
                if time.time() - seen[key] >= self.delay:
                    r = self.c.delete(f"/api/v1/namespaces/{md['namespace']}/pods/{md['name']}",
                                      {"gracePeriodSeconds": 0})
                    if r.status in (200, 404):
                        self.deleted.append(key)
            time.sleep(0.1)


def test_drain(c):
    namespace(c, "drain")
    ok(c, "/api/v1/nodes", node("d1"))
    for p in (pod("drain", "a-ds", "d1", owner=("DaemonSet", "proxy")),
              pod("drain", "b-bare", "d1"),
              pod("drain", "c-data", "d1", owner=("ReplicaSet", "web-1"), volumes=[{"name": "s", "emptyDir": {}}]),
              pod("drain", "d-web", "d1", owner=("ReplicaSet", "web-1")),
              pod("drain", "e-mirror", "d1", annotations={"kubernetes.io/config.mirror": "x"}),
              pod("drain", "elsewhere", None, owner=("ReplicaSet", "web-1"))):
        ok(c, "/api/v1/namespaces/drain/pods", p)

    # Refused: each kind of pod kubectl refuses, with kubectl's words.
    p = ctl(c, "drain", "d1")
    check_eq(p.returncode, 1, "drain refused")
    check_eq(p.stdout, "node/d1 cordoned\n", "cordons first")
    errs = ("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): drain/a-ds",
            "cannot delete cannot delete Pods that declare no controller (use --force to override): drain/b-bare",
            "cannot delete Pods with local storage (use --delete-emptydir-data to override): drain/c-data")
    check_eq(p.stderr, f'error: unable to drain node "d1" due to error: [{", ".join(errs)}], continuing command...\n'
                       "There are pending nodes to be drained:\n d1\n" + "".join(e + "\n" for e in errs),
             "drain refusal")
    check_eq(len(c.get("/api/v1/namespaces/drain/pods").json["items"]), 6, "nothing evicted")

    # Allowed: evicts, waits for the "kubelet", reports.
    kubelet = Kubelet(c, ["d1"])
    kubelet.start()
    try:
        p = ctl(c, "drain", "d1", "--ignore-daemonsets", "--delete-emptydir-data", "--force")
    finally:
        kubelet.stop.set()
        kubelet.join()
    check_eq(p.returncode, 0, f"drain: {p.stderr}")
    out = lines(p.stdout)
    check_eq(out[0], "node/d1 already cordoned", "already cordoned")
    check_eq(out[1:4], ["evicting pod drain/b-bare", "evicting pod drain/c-data", "evicting pod drain/d-web"], "evictions")
    check_eq(sorted(out[4:7]), ["pod/b-bare evicted", "pod/c-data evicted", "pod/d-web evicted"], "evicted")
    check_eq(out[7:], ["node/d1 drained"], "drained")
    err = lines(p.stderr)
    check_eq(err[0], "Warning: ignoring DaemonSet-managed Pods: drain/a-ds; deleting Pods that declare no controller: "
                     "drain/b-bare", "warnings")
    check(any(re.match(r'waiting for pod "drain/[b-d]-[a-z]+" and 2 more to terminate \(its node\'s kubelet stops '
                       r'it\)\.\.\. 1s$', ln) for ln in err), f"progress line: {p.stderr!r}")
    left = sorted(x["metadata"]["name"] for x in c.get("/api/v1/namespaces/drain/pods").json["items"])
    check_eq(left, ["a-ds", "e-mirror", "elsewhere"], "pods left")

    # Nothing to do on an empty node.
    ok(c, "/api/v1/nodes", node("d3"))
    check_eq(ctl(c, "drain", "d3").stdout, "node/d3 cordoned\nnode/d3 drained\n", "empty node")

    # A kubelet that never answers: --timeout, with kubectl's report.
    ok(c, "/api/v1/nodes", node("d2"))
    ok(c, "/api/v1/namespaces/drain/pods", pod("drain", "stuck", "d2", owner=("ReplicaSet", "web-1")))
    t0 = time.time()
    p = ctl(c, "drain", "d2", "--timeout", "1s")
    check(time.time() - t0 < 10, "gave up in time")
    check_eq((p.returncode, p.stdout), (1, "node/d2 cordoned\nevicting pod drain/stuck\n"), "timeout stdout")
    why = 'error when waiting for pod "stuck" in namespace "drain" to terminate: context deadline exceeded'
    err = [ln for ln in lines(p.stderr) if not ln.startswith("waiting for")]
    check_eq(err, [f'There are pending pods in node "d2" when an error occurred: {why}', "pod/stuck",
                   f'error: unable to drain node "d2" due to error: {why}, continuing command...',
                   "There are pending nodes to be drained:", " d2", why], "timeout report")
    check(c.get("/api/v1/namespaces/drain/pods/stuck").json["metadata"].get("deletionTimestamp"), "marked")

    # --grace-period=0 needs no kubelet: the eviction deletes at once.
    p = ctl(c, "drain", "d2", "--grace-period=0")
    check_eq((p.returncode, p.stdout), (0, "node/d2 already cordoned\nevicting pod drain/stuck\npod/stuck evicted\n"
                                           "node/d2 drained\n"), "grace 0")
    ok(c, "/api/v1/namespaces/drain/pods", pod("drain", "again", "d2", owner=("ReplicaSet", "web-1")))
    p = ctl(c, "drain", "d2", "--disable-eviction", "--grace-period", "0")
    check_eq(p.stdout, "node/d2 already cordoned\npod/again deleted\nnode/d2 drained\n", "--disable-eviction")

    p = ctl(c, "drain", "nope")
    check_eq((p.returncode, p.stdout, p.stderr), (1, "", 'Error from server (NotFound): nodes "nope" not found\n'),
             "missing node")
    p = ctl(c, "drain")
    check_eq(p.returncode, 1, "drain without a node")


# ---- scale -------------------------------------------------------------------

def deployment(ns, name, image, replicas=3, annotations=None, labels=None):
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations or {}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


def replicaset(ns, d, revision, image, change_cause=None, owner_uid=None, replicas=0, extra=None):
    h = f"h{revision}"
    labels = dict(d["spec"]["selector"]["matchLabels"], **{"pod-template-hash": h})
    ann = {"deployment.kubernetes.io/revision": str(revision), "deployment.kubernetes.io/desired-replicas": "3",
           "deployment.kubernetes.io/max-replicas": "4"}
    if change_cause:
        ann["kubernetes.io/change-cause"] = change_cause
    tpl = json.loads(json.dumps(d["spec"]["template"]))
    tpl["metadata"]["labels"] = labels
    tpl["spec"]["containers"][0]["image"] = image
    if extra:
        tpl["spec"]["containers"][0].update(extra)
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{d['metadata']['name']}-{h}", "namespace": ns, "labels": labels,
                         "annotations": ann,
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                              "name": d["metadata"]["name"], "controller": True,
                                              "blockOwnerDeletion": True,
                                              "uid": owner_uid or d["metadata"]["uid"]}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": tpl}}


def test_scale(c):
    namespace(c, "scale")
    d = ok(c, "/apis/apps/v1/namespaces/scale/deployments", deployment("scale", "web", "nginx:1"))
    ok(c, "/apis/apps/v1/namespaces/scale/deployments", deployment("scale", "api", "nginx:1", labels={"app": "api"}))
    ok(c, "/apis/apps/v1/namespaces/scale/replicasets", replicaset("scale", d, 1, "nginx:1"))

    def replicas(kind, name):
        return c.get(f"/apis/apps/v1/namespaces/scale/{kind}/{name}").json["spec"]["replicas"]

    p = ctl(c, "scale", "deployment/web", "--replicas=5", "-n", "scale")
    check_eq((p.returncode, p.stdout), (0, "deployment.apps/web scaled\n"), "scale deployment/web")
    check_eq(replicas("deployments", "web"), 5, "replicas")
    p = ctl(c, "scale", "deploy", "web", "api", "--replicas", "2", "-n", "scale")
    check_eq(p.stdout, "deployment.apps/web scaled\ndeployment.apps/api scaled\n", "TYPE NAME NAME")
    check_eq((replicas("deployments", "web"), replicas("deployments", "api")), (2, 2), "both scaled")
    p = ctl(c, "scale", "rs/web-h1", "--replicas=1", "-n", "scale")
    check_eq(p.stdout, "replicaset.apps/web-h1 scaled\n", "replica set")
    check_eq(replicas("replicasets", "web-h1"), 1, "rs replicas")

    # Preconditions: read, check, PUT.
    p = ctl(c, "scale", "deploy/web", "--replicas=4", "--current-replicas=2", "-n", "scale")
    check_eq((p.returncode, p.stdout), (0, "deployment.apps/web scaled\n"), "--current-replicas met")
    p = ctl(c, "scale", "deploy/web", "--replicas=6", "--current-replicas=3", "-n", "scale")
    check_eq((p.returncode, p.stderr), (1, "error: Expected replicas to be 3, was 4\n"), "--current-replicas unmet")
    check_eq(replicas("deployments", "web"), 4, "unchanged")
    p = ctl(c, "scale", "deploy/web", "--replicas=6", "--resource-version=1", "-n", "scale")
    rv = c.get("/apis/apps/v1/namespaces/scale/deployments/web").json["metadata"]["resourceVersion"]
    check_eq((p.returncode, p.stderr), (1, f"error: Expected resource version to be 1, was {rv}\n"), "--resource-version")
    p = ctl(c, "scale", "deploy/web", "--replicas=6", f"--resource-version={rv}", "-n", "scale")
    check_eq(p.stdout, "deployment.apps/web scaled\n", "--resource-version met")

    # By selector, --all and from a file.
    p = ctl(c, "scale", "deploy", "-l", "app=api", "--replicas=7", "-n", "scale")
    check_eq(p.stdout, "deployment.apps/api scaled\n", "-l")
    p = ctl(c, "scale", "deploy", "--all", "--replicas=1", "-n", "scale")
    check_eq(sorted(lines(p.stdout)), ["deployment.apps/api scaled", "deployment.apps/web scaled"], "--all")
    path = os.path.join(c.tmp, "scale-web.yaml")
    with open(path, "w") as f:
        f.write("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: scale\n")
    p = ctl(c, "scale", "-f", path, "--replicas=3")
    check_eq(p.stdout, "deployment.apps/web scaled\n", "-f")
    check_eq(replicas("deployments", "web"), 3, "scaled from the file")

    # Errors, worded as kubectl's.
    cases = [
        (["scale", "deploy/web"], 'error: required flag(s) "replicas" not set\n'),
        (["scale", "deploy/web", "--replicas=-1"],
         "error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0\n"),
        (["scale", "--replicas=1"], "error: You must provide one or more resources by argument or filename.\n"
                                    "Example resource specifications include:\n   '-f rsrc.yaml'\n"
                                    "   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'\n"),
        (["scale", "deploy/nope", "--replicas=1", "-n", "scale"],
         'error: no objects passed to scale deployments.apps "nope" not found\n'),
        (["scale", "deploy", "--replicas=1", "-n", "scale"], "error: resource(s) were provided, but no name was specified\n"),
        (["scale", "jobs/x", "--replicas=1"], None),
    ]
    for args, want in cases:
        p = ctl(c, *args)
        check_eq(p.returncode, 1, f"{args} exit code")
        if want:
            check_eq(p.stderr, want, f"{args} message")
    p = ctl(c, "scale", "deploy/web", "deploy/nope", "--replicas=2", "-n", "scale")
    check_eq((p.returncode, p.stdout, p.stderr), (1, "deployment.apps/web scaled\n",
                                                  'Error from server (NotFound): deployments.apps "nope" not found\n'),
             "one found, one missing")
    ok(c, "/api/v1/namespaces/scale/pods", pod("scale", "solo"))
    p = ctl(c, "scale", "pod", "solo", "--replicas=2", "-n", "scale")
    check_eq(p.stderr, "Error from server (NotFound): the server could not find the requested resource: pods has no "
                       "subresource \"scale\"\n", "pods have no scale")
    for args in (["scale", "deploy/web", "--replicas=4", "-n", "scale"],
                 ["scale", "deploy/web", "--replicas=4", "--current-replicas=3", "-n", "scale"],
                 ["scale", "pod", "solo", "--replicas=2", "-n", "scale"]):
        theirs = kubectl(c, *args)
        if theirs is not None:
            mine = ctl(c, *args)
            check_eq((mine.stdout, mine.stderr, mine.returncode), (theirs.stdout, theirs.stderr, theirs.returncode),
                     f"minictl vs kubectl: {args}")


# ---- rollout -----------------------------------------------------------------

def rollout_fixture(c, ns):
    """A Deployment at revision 3 with the ReplicaSets of revisions 1-3, and
    a ReplicaSet it does not own (which history must leave out)."""
    namespace(c, ns)
    d = ok(c, f"/apis/apps/v1/namespaces/{ns}/deployments",
           deployment(ns, "web", "nginx:3", annotations={"deployment.kubernetes.io/revision": "3"}))
    ok(c, f"/apis/apps/v1/namespaces/{ns}/replicasets",
       replicaset(ns, d, 1, "nginx:1", extra={"ports": [{"containerPort": 80, "protocol": "TCP"}],
                                             "env": [{"name": "MODE", "value": "blue"}],
                                             "command": ["nginx", "-g", "daemon off;"]}))
    ok(c, f"/apis/apps/v1/namespaces/{ns}/replicasets",
       replicaset(ns, d, 2, "nginx:2", change_cause="kubectl set image deployment/web web=nginx:2"))
    ok(c, f"/apis/apps/v1/namespaces/{ns}/replicasets", replicaset(ns, d, 3, "nginx:3", replicas=3))
    other = replicaset(ns, d, 9, "nginx:9", owner_uid="00000000-0000-0000-0000-000000000009")
    other["metadata"]["name"] = "not-ours"
    ok(c, f"/apis/apps/v1/namespaces/{ns}/replicasets", other)
    return d


HISTORY = """\
deployment.apps/web 
REVISION  CHANGE-CAUSE
1         <none>
2         kubectl set image deployment/web web=nginx:2
3         <none>

"""

REVISION_1 = """\
deployment.apps/web with revision #1
Pod Template:
  Labels:\tapp=web
\tpod-template-hash=h1
  Containers:
   web:
    Image:\tnginx:1
    Port:\t80/TCP
    Host Port:\t0/TCP
    Command:
      nginx
      -g
      daemon off;
    Environment:
      MODE:\tblue
    Mounts:\t<none>
  Volumes:\t<none>
  Node-Selectors:\t<none>
  Tolerations:\t<none>

"""


def test_rollout_history_undo(c):
    ns = "rollout"
    rollout_fixture(c, ns)
    check_eq(same_as_kubectl(c, ["rollout", "history", "deployment/web", "-n", ns]).stdout, HISTORY, "history")
    check_eq(same_as_kubectl(c, ["rollout", "history", "deploy", "web", "--revision=1", "-n", ns]).stdout, REVISION_1,
             "history --revision=1")
    p = same_as_kubectl(c, ["rollout", "history", "deploy/web", "--revision=2", "-n", ns])
    check("  Annotations:\tkubernetes.io/change-cause: kubectl set image deployment/web web=nginx:2\n" in p.stdout,
          p.stdout)
    p = ctl(c, "rollout", "history", "deploy/web", "--revision=7", "-n", ns)
    check_eq((p.returncode, p.stderr), (1, "error: unable to find the specified revision\n"), "missing revision")

    # undo: back to revision 2, the previous one.
    p = ctl(c, "rollout", "undo", "deployment/web", "-n", ns)
    check_eq((p.returncode, p.stdout), (0, "deployment.apps/web rolled back\n"), "undo")
    d = c.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json
    tpl = d["spec"]["template"]
    check_eq(tpl["spec"]["containers"][0]["image"], "nginx:2", "template of revision 2")
    check_eq(tpl["metadata"]["labels"], {"app": "web"}, "pod-template-hash dropped")
    ann = d["metadata"]["annotations"]
    check_eq(ann.get("kubernetes.io/change-cause"), "kubectl set image deployment/web web=nginx:2", "change-cause copied")
    check_eq(ann.get("deployment.kubernetes.io/revision"), "3", "the Deployment's own revision kept")
    check("deployment.kubernetes.io/desired-replicas" not in ann, f"ReplicaSet bookkeeping not copied: {ann}")
    p = ctl(c, "rollout", "undo", "deployment/web", "--to-revision=2", "-n", ns)
    check_eq(p.stdout, "deployment.apps/web skipped rollback (current template already matches revision 2)\n", "skip")
    p = ctl(c, "rollout", "undo", "deployment/web", "--to-revision=1", "-n", ns)
    check_eq(p.stdout, "deployment.apps/web rolled back\n", "undo --to-revision=1")
    tpl = c.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json["spec"]["template"]
    check_eq(tpl["spec"]["containers"][0]["env"], [{"name": "MODE", "value": "blue"}], "revision 1's env")
    p = ctl(c, "rollout", "undo", "deployment/web", "--to-revision=9", "-n", ns)
    check_eq((p.returncode, p.stderr), (1, "error: unable to find specified revision 9 in history\n"),
             "a revision of a ReplicaSet it does not own")
    ok(c, f"/apis/apps/v1/namespaces/{ns}/deployments", deployment(ns, "solo", "nginx:1", labels={"app": "solo"}))
    p = ctl(c, "rollout", "undo", "deploy/solo", "-n", ns)
    check_eq((p.returncode, p.stderr), (1, 'error: no rollout history found for deployment "solo"\n'), "no history")
    check_eq(same_as_kubectl(c, ["rollout", "history", "deploy/solo", "-n", ns]).stdout,
             "deployment.apps/solo \nNo rollout history found.\n", "empty history")

    # restart, pause, resume.
    before = time.time()
    p = ctl(c, "rollout", "restart", "deploy/web", "-n", ns)
    check_eq(p.stdout, "deployment.apps/web restarted\n", "restart")
    stamp = c.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json["spec"]["template"]["metadata"][
        "annotations"]["kubectl.kubernetes.io/restartedAt"]
    t = time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    check(before - 2 <= t <= time.time() + 2, f"restartedAt {stamp} is now")
    check_eq(ctl(c, "rollout", "pause", "deploy/web", "-n", ns).stdout, "deployment.apps/web paused\n", "pause")
    check_eq(c.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json["spec"].get("paused"), True, "spec.paused")
    errors = [
        (["pause", "deploy/web"], 'error: deployments.apps "web" is already paused\n'),
        (["restart", "deploy/web"],
         'error: deployments.apps "web" can\'t restart paused deployment (run rollout resume first)\n'),
        (["undo", "deploy/web"], "error: you cannot rollback a paused deployment; resume it first with "
                                 "'minictl rollout resume' and try again\n"),
    ]
    for args, want in errors:
        p = ctl(c, "rollout", *args, "-n", ns)
        check_eq((p.returncode, p.stderr), (1, want), f"rollout {args}")
    check_eq(ctl(c, "rollout", "resume", "deploy/web", "-n", ns).stdout, "deployment.apps/web resumed\n", "resume")
    check("paused" not in c.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json["spec"], "paused removed")
    errors = [
        (["resume", "deploy/web"], 'error: deployments.apps "web" is not paused\n'),
        (["restart", "rs/web-h1"], 'error: replicasets.apps "web-h1" restarting is not supported\n'),
        (["status", "rs/web-h1"], "error: no status viewer has been implemented for ReplicaSet.apps\n"),
        (["history", "deploy/nope"], 'Error from server (NotFound): deployments.apps "nope" not found\n'),
        (["frob", "deploy/web"], "error: unknown command \"frob\"\nSee 'minictl rollout -h' for help and examples\n"),
        (["status"], "error: required resource not specified\n"),
        (["status", "deploy"], "error: resource(s) were provided, but no name was specified\n"),
    ]
    for args, want in errors:
        p = ctl(c, "rollout", *args, "-n", ns)
        check_eq((p.returncode, p.stderr), (1, want), f"rollout {args}")


def set_status(c, ns, name, status):
    ok(c, f"/apis/apps/v1/namespaces/{ns}/deployments/{name}/status", {"status": status}, method="PATCH")


def test_rollout_status(c):
    ns = "status"
    namespace(c, ns)
    d = ok(c, f"/apis/apps/v1/namespaces/{ns}/deployments", deployment(ns, "web", "nginx:1"))
    gen = d["metadata"]["generation"]
    p = ctl(c, "rollout", "status", "deploy/web", "-w=false", "-n", ns)
    check_eq((p.returncode, p.stdout), (0, "Waiting for deployment spec update to be observed...\n"), "not observed")
    p = ctl(c, "rollout", "status", "deploy/web", "--revision=2", "-n", ns)
    check_eq((p.returncode, p.stderr),
             (1, "error: desired revision (2) is different from the running revision (0)\n"), "--revision")

    # The test plays the deployment controller while `rollout status` watches.
    steps = [
        {"observedGeneration": gen, "replicas": 3, "updatedReplicas": 1},
        {"observedGeneration": gen, "replicas": 4, "updatedReplicas": 2},
        {"observedGeneration": gen, "replicas": 5, "updatedReplicas": 3},
        {"observedGeneration": gen, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2},
        {"observedGeneration": gen, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3},
    ]
    set_status(c, ns, "web", {"observedGeneration": gen, "replicas": 3, "updatedReplicas": 0})
    proc = spawn(c, "rollout", "status", "deployment/web", "-n", ns, "--timeout", "30s")
    got = [proc.stdout.readline()]
    for st in steps:
        set_status(c, ns, "web", st)
        got.append(proc.stdout.readline())
    rest, err = proc.communicate(timeout=30)
    check_eq(proc.returncode, 0, f"rollout status: {err}")
    check_eq("".join(got) + rest,
             'Waiting for deployment "web" rollout to finish: 0 out of 3 new replicas have been updated...\n'
             'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...\n'
             'Waiting for deployment "web" rollout to finish: 2 out of 3 new replicas have been updated...\n'
             'Waiting for deployment "web" rollout to finish: 2 old replicas are pending termination...\n'
             'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...\n'
             'deployment "web" successfully rolled out\n', "progress lines")
    check_eq(same_as_kubectl(c, ["rollout", "status", "deploy/web", "-n", ns]).stdout,
             'deployment "web" successfully rolled out\n', "done at once")

    # Stuck: the timeout, then the progress deadline.
    set_status(c, ns, "web", {"updatedReplicas": 1})
    t0 = time.time()
    p = ctl(c, "rollout", "status", "deploy/web", "--timeout=1s", "-n", ns)
    check(time.time() - t0 < 10, "timed out in time")
    check_eq((p.returncode, p.stdout, p.stderr),
             (1, 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...\n',
              "error: timed out waiting for the condition\n"), "--timeout")
    proc = spawn(c, "rollout", "status", "deployment/web", "-n", ns)
    first = proc.stdout.readline()
    set_status(c, ns, "web", {"conditions": [{"type": "Progressing", "status": "False",
                                              "reason": "ProgressDeadlineExceeded"}]})
    rest, err = proc.communicate(timeout=30)
    check_eq((proc.returncode, first + rest, err),
             (1, 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...\n',
              'error: deployment "web" exceeded its progress deadline\n'), "progress deadline")
    same_as_kubectl(c, ["rollout", "status", "deploy/web", "-n", ns])

    # Deleted while watched.
    set_status(c, ns, "web", {"conditions": None})
    proc = spawn(c, "rollout", "status", "deployment/web", "-n", ns)
    proc.stdout.readline()
    ok(c, f"/apis/apps/v1/namespaces/{ns}/deployments/web", method="DELETE")
    _, err = proc.communicate(timeout=30)
    check_eq((proc.returncode, err), (1, "error: object has been deleted\n"), "deleted")
    p = ctl(c, "rollout", "status", "deploy/web", "-n", ns)
    check_eq((p.returncode, p.stderr), (1, 'Error from server (NotFound): deployments.apps "web" not found\n'), "gone")


# ---- events --------------------------------------------------------------------

def rfc3339(t, micro=False):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + (".000000Z" if micro else "Z")


def event(ns, name, kind, obj, reason, message, type_="Normal", api_version="v1", **times):
    e = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
         "involvedObject": {"kind": kind, "name": obj, "namespace": ns, "apiVersion": api_version},
         "reason": reason, "message": message, "type": type_}
    e.update(times)
    return e


EVENTS = """\
LAST SEEN          TYPE      REASON              OBJECT           MESSAGE
25h (x5 over 3d)   Warning   BackOff             Pod/p1           Back-off restarting failed container
5h30m              Normal    Scheduled           Pod/p1           Successfully assigned ev/p1 to n1
12m                Normal    ScalingReplicaSet   Deployment/web   Scaled up replica set web-1 to 3
"""


def test_events(c):
    ns = "ev"
    namespace(c, ns)
    now = time.time()
    # Ages chosen so that a few seconds of test time do not change the text.
    for e in (event(ns, "e1", "Pod", "p1", "Scheduled", "Successfully assigned ev/p1 to n1  ",
                    firstTimestamp=rfc3339(now - 19830), lastTimestamp=rfc3339(now - 19830), count=1),
              event(ns, "e2", "Pod", "p1", "BackOff", "Back-off restarting failed container", "Warning",
                    firstTimestamp=rfc3339(now - 259500), lastTimestamp=rfc3339(now - 90000), count=5),
              event(ns, "e3", "Deployment", "web", "ScalingReplicaSet", "Scaled up replica set web-1 to 3",
                    api_version="apps/v1", eventTime=rfc3339(now - 750, micro=True),
                    reportingController="deployment-controller", reportingInstance="cm-1", action="Scale")):
        ok(c, f"/api/v1/namespaces/{ns}/events", e)
    check_eq(same_as_kubectl(c, ["events", "-n", ns]).stdout, EVENTS, "events")
    table = lines(EVENTS)
    p = same_as_kubectl(c, ["events", "-n", ns, "--types=Warning"])
    check_eq(p.stdout, "LAST SEEN          TYPE      REASON    OBJECT   MESSAGE\n"
                       "25h (x5 over 3d)   Warning   BackOff   Pod/p1   Back-off restarting failed container\n",
             "--types=Warning")
    p = same_as_kubectl(c, ["events", "-n", ns, "--for", "pod/p1"])
    check_eq(len(lines(p.stdout)), 3, "--for pod/p1")
    p = same_as_kubectl(c, ["events", "-n", ns, "--for", "deployment/web"])
    check_eq(lines(p.stdout)[1].split(), table[3].split(), "--for deployment/web")
    p = ctl(c, "events", "-n", ns, "--no-headers", "--types", "normal")
    check_eq(len(lines(p.stdout)), 2, "--no-headers, types are case-insensitive")
    p = ctl(c, "events", "-A")
    rows = lines(p.stdout)
    check(rows[0].startswith("NAMESPACE   LAST SEEN"), rows[0])
    check([r.split()[0] for r in rows if " ev " in r or r.startswith("ev ")] == ["ev", "ev", "ev"], p.stdout)
    p = ctl(c, "events", "-n", ns, "-o", "json")
    check_eq([i["metadata"]["name"] for i in json.loads(p.stdout)["items"]], ["e2", "e1", "e3"], "-o json, sorted")

    namespace(c, "ev-empty")
    p = same_as_kubectl(c, ["events", "-n", "ev-empty"])
    check_eq((p.returncode, p.stdout, p.stderr), (0, "", "No events found in ev-empty namespace.\n"), "no events")
    p = ctl(c, "events", "-n", ns, "--for", "pod/nothere")
    check_eq(p.stderr, "No events found in ev namespace.\n", "--for a quiet object")
    p = ctl(c, "events", "--types", "Bogus")
    check_eq((p.returncode, p.stderr), (1, "error: valid --types are Normal or Warning\n"), "--types Bogus")
    p = ctl(c, "events", "--for", "web")
    check_eq((p.returncode, p.stderr), (1, "error: --for must be in resource/name form, e.g. --for pod/web-1\n"),
             "--for without a kind")
    p = ctl(c, "events", "--for", "frobs/x")
    check(p.returncode == 1 and 'the server doesn\'t have a resource type "frobs"' in p.stderr, p.stderr)

    # -w: prints the existing rows, then new events as they come.
    proc = spawn(c, "events", "-w", "-n", "ev-empty")
    try:
        time.sleep(0.5)
        ok(c, "/api/v1/namespaces/ev-empty/events",
           event("ev-empty", "w1", "Pod", "p9", "Pulled", "Container image pulled", firstTimestamp=rfc3339(now - 5),
                 lastTimestamp=rfc3339(now - 5), count=1))
        head, row = proc.stdout.readline(), proc.stdout.readline()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    check_eq(head, "LAST SEEN   TYPE     REASON   OBJECT   MESSAGE\n", "watch header")
    check(re.match(r"^\d+s +Normal   Pulled   Pod/p9   Container image pulled\n$", row) and row.index("Normal") == 12,
          f"watch row {row!r}")


# ---- logs ------------------------------------------------------------------------

def test_logs(c):
    ns = "logs"
    namespace(c, ns)
    ok(c, "/api/v1/nodes", node("ln1"))
    ok(c, f"/api/v1/namespaces/{ns}/pods", pod(ns, "one", "ln1"))
    ok(c, f"/api/v1/namespaces/{ns}/pods", pod(ns, "unbound", containers=("a", "b")))
    ok(c, f"/api/v1/namespaces/{ns}/pods", pod(ns, "two", "ln1", containers=("a", "b"),
                                               annotations={"kubectl.kubernetes.io/default-container": "b"}))
    # ln1 has no kubelet: the apiserver cannot know where to ask.
    no_kubelet = ('Error from server (InternalError): node "ln1" has no kubelet address (InternalIP and kubelet '
                  'port) in its status: has its kubelet registered? (minictl describe node ln1)\n')
    cases = [
        (["one"], no_kubelet),
        (["unbound"], 'Defaulted container "a" out of: a, b\n'
                      "Error from server (BadRequest): pod unbound does not have a host assigned\n"),
        (["two"], no_kubelet),
        (["two", "-c", "zz"], "error: container zz is not valid for pod two\n"),
        (["nope"], 'error: error from server (NotFound): pods "nope" not found in namespace "logs"\n'),
        ([], "error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\n"
             "POD or TYPE/NAME is a required argument for the logs command\n"
             "See 'minictl logs -h' for help and examples\n"),
    ]
    for args, want in cases:
        p = ctl(c, "logs", *args, "-n", ns)
        check_eq((p.returncode, p.stdout, p.stderr), (1, "", want), f"logs {args}")
        if args:
            theirs = kubectl(c, "logs", *args, "-n", ns)
            if theirs is not None:
                check_eq((theirs.returncode, theirs.stderr), (1, want), f"kubectl logs {args} says the same")
    # The request carries every flag (seen in minictl's -v=6 log).
    p = ctl(c, "logs", "pod/two", "-c", "a", "-f", "--tail=5", "--timestamps", "-p", "--since=2m", "--limit-bytes=100",
            "-n", ns, "-v", "6")
    check("logs request method=GET path=/api/v1/namespaces/logs/pods/two/log?container=a&follow=true&limitBytes=100"
          "&previous=true&sinceSeconds=120&tailLines=5&timestamps=true" in p.stderr, p.stderr)
    check(p.stderr.endswith(no_kubelet.format("two")), p.stderr)
    p = ctl(c, "logs", "two", "b", "-n", ns, "-v", "6")
    check("path=/api/v1/namespaces/logs/pods/two/log?container=b\n" in p.stderr, "inline container")
    # Through a deployment: one of its pods.
    ok(c, f"/apis/apps/v1/namespaces/{ns}/deployments", deployment(ns, "web", "nginx:1"))
    p = ctl(c, "logs", "deploy/web", "-n", ns)
    check_eq((p.returncode, p.stderr), (1, "error: deployment.apps/web has no pods yet; `minictl get pods -l app=web` "
                                           "shows when it has\n"), "deployment without pods")
    for name in ("web-x1", "web-x2"):
        q = pod(ns, name, "ln1" if name == "web-x2" else None)
        q["metadata"]["labels"] = {"app": "web"}
        ok(c, f"/api/v1/namespaces/{ns}/pods", q)
    p = ctl(c, "logs", "deploy/web", "-n", ns)
    check_eq(p.stderr, "Found 2 pods, using pod/web-x2\n" + no_kubelet.format("web-x2"), "picks the bound pod")
    p = ctl(c, "logs", "svc/kubernetes", "-n", "default")
    check_eq(p.stderr, "error: cannot get the logs from services: pick a pod, deployment or replica set\n", "a service")


def quiet_control_plane():
    """`server` flags that keep its controllers and scheduler from acting on
    the objects the test writes (for the releases that have them)."""
    help_text = subprocess.run([BIN, "server", "--help"], capture_output=True, text=True).stdout
    args = []
    m = re.search(r"--controllers VALUE .*names: ([-a-z, ]+)", help_text)
    if m:
        # Without '*', only controllers named without '-' would run: none.
        args.append("--controllers=" + ",".join("-" + n.strip() for n in m.group(1).split(",") if n.strip()))
    if "--scheduler-name" in help_text:
        args.append("--scheduler-name=no-scheduler-in-test-minictl-ops")
    return args


run_tests(globals(), cluster_args={"extra_args": quiet_control_plane()})
