"""The API server over HTTPS: REST shapes, errors, metadata, deletion,
watch, patches, tables, discovery, allocators, auth and limits."""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Cluster, check, check_eq, run_tests, wait_for  # noqa: E402


def ns(c, name):
    """Creates a namespace for one test (idempotent)."""
    r = c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    check(r.status in (201, 409), f"create namespace {name}: {r}")
    return name


def pod(name, image="busybox:1", labels=None, **spec):
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
         "spec": {"containers": [{"name": "main", "image": image}]}}
    if labels:
        p["metadata"]["labels"] = labels
    p["spec"].update(spec)
    return p


def deployment(name, replicas=1, image="busybox:1"):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": image}]}}}}


# -- health, version, auth ---------------------------------------------------

def test_open_endpoints_and_auth(c):
    for path in ("/healthz", "/livez", "/readyz"):
        check_eq(c.get(path, token=False).status, 200, path)
    v = c.get("/version", token=False)
    check_eq(v.status, 200, "/version")
    check_eq(v.json["major"], "1", "major")
    check_eq(v.json["minor"], "32", "minor")
    ca = c.get("/cacerts", token=False)
    check(ca.body.startswith(b"-----BEGIN CERTIFICATE-----"), "cacerts is PEM")
    r = c.get("/api/v1/pods", token=False)
    check_eq(r.status, 401, "no token")
    check_eq(r.json["kind"], "Status", "401 body kind")
    check_eq(r.json["reason"], "Unauthorized", "401 reason")
    check_eq(c.get("/api/v1/pods", token="wrong").status, 401, "bad token")
    check_eq(c.get("/api", token=False).status, 401, "discovery needs a token")


# -- bootstrap ------------------------------------------------------------------

def test_bootstrap_objects(c):
    names = {n["metadata"]["name"] for n in c.get("/api/v1/namespaces").json["items"]}
    for want in ("default", "kube-system", "kube-public", "kube-node-lease"):
        check(want in names, f"namespace {want} exists")
    k = c.get("/api/v1/namespaces/default/services/kubernetes").json
    check_eq(k["spec"]["clusterIP"], "10.96.0.1", "kubernetes service IP")
    check_eq(k["spec"]["ports"][0]["port"], 443, "kubernetes service port")
    ep = c.get("/api/v1/namespaces/default/endpoints/kubernetes").json
    check_eq(ep["subsets"][0]["ports"][0]["port"], c.port, "kubernetes endpoints port")
    dns = c.get("/api/v1/namespaces/kube-system/services/kube-dns").json
    check_eq(dns["spec"]["clusterIP"], "10.96.0.10", "kube-dns IP")
    check_eq(sorted(p["protocol"] for p in dns["spec"]["ports"]), ["TCP", "UDP"], "kube-dns ports")
    check("selector" not in dns["spec"], "kube-dns has no selector")


# -- CRUD and metadata ------------------------------------------------------------

def test_create_get_list_defaults(c):
    n = ns(c, "crud")
    r = c.post(f"/api/v1/namespaces/{n}/pods", pod("web-1", labels={"app": "web"}))
    check_eq(r.status, 201, f"create: {r}")
    p = r.json
    check_eq(p["kind"], "Pod", "kind")
    check_eq(p["apiVersion"], "v1", "apiVersion")
    md = p["metadata"]
    check_eq(md["namespace"], n, "namespace")
    check(len(md["uid"]) == 36, "uid is a UUID")
    check(md["resourceVersion"].isdigit(), "resourceVersion is a number")
    check(md["creationTimestamp"].endswith("Z"), "creationTimestamp")
    check("generation" not in md or md["generation"] == 1, "pods carry no bumped generation")
    spec = p["spec"]
    check_eq(spec["restartPolicy"], "Always", "restartPolicy default")
    check_eq(spec["dnsPolicy"], "ClusterFirst", "dnsPolicy default")
    check_eq(spec["terminationGracePeriodSeconds"], 30, "grace default")
    check_eq(spec["containers"][0]["imagePullPolicy"], "IfNotPresent", "pull policy for a tag")
    check_eq(p["status"]["phase"], "Pending", "phase")
    keys = {t["key"] for t in spec["tolerations"]}
    check({"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"} <= keys, "default tolerations")
    unreach = [t for t in spec["tolerations"] if t["key"] == "node.kubernetes.io/unreachable"][0]
    check_eq(unreach["tolerationSeconds"], 60, "unreachable toleration seconds")

    latest = c.post(f"/api/v1/namespaces/{n}/pods", pod("web-2", image="busybox")).json
    check_eq(latest["spec"]["containers"][0]["imagePullPolicy"], "Always", "pull policy without tag")

    g = c.get(f"/api/v1/namespaces/{n}/pods/web-1")
    check_eq(g.status, 200, "get")
    check_eq(g.json["metadata"]["uid"], md["uid"], "same uid")
    lst = c.get(f"/api/v1/namespaces/{n}/pods").json
    check_eq(lst["kind"], "PodList", "list kind")
    check_eq(sorted(i["metadata"]["name"] for i in lst["items"]), ["web-1", "web-2"], "list items")
    check(int(lst["metadata"]["resourceVersion"]) >= int(md["resourceVersion"]), "list rv")
    all_ns = c.get("/api/v1/pods").json
    check(len([i for i in all_ns["items"] if i["metadata"]["namespace"] == n]) == 2, "list across namespaces")


def test_generate_name_and_conflicts(c):
    n = ns(c, "gen")
    body = pod("")
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "web-"
    a = c.post(f"/api/v1/namespaces/{n}/pods", body).json
    b = c.post(f"/api/v1/namespaces/{n}/pods", body).json
    check(a["metadata"]["name"].startswith("web-") and len(a["metadata"]["name"]) == 9, "generated name")
    check(a["metadata"]["name"] != b["metadata"]["name"], "distinct generated names")
    r = c.post(f"/api/v1/namespaces/{n}/pods", pod("dup"))
    check_eq(r.status, 201, "create dup")
    r = c.post(f"/api/v1/namespaces/{n}/pods", pod("dup"))
    check_eq(r.status, 409, "create existing")
    check_eq(r.json["reason"], "AlreadyExists", "reason")
    check_eq(r.json["message"], 'pods "dup" already exists', "message")

    cur = c.get(f"/api/v1/namespaces/{n}/pods/dup").json
    stale = dict(cur)
    cur["metadata"]["labels"] = {"v": "1"}
    check_eq(c.put(f"/api/v1/namespaces/{n}/pods/dup", cur).status, 200, "update")
    stale["metadata"]["labels"] = {"v": "2"}
    r = c.put(f"/api/v1/namespaces/{n}/pods/dup", stale)
    check_eq(r.status, 409, "stale update")
    check_eq(r.json["reason"], "Conflict", "conflict reason")
    check("the object has been modified" in r.json["message"], "conflict message")


def test_noop_update_keeps_revision(c):
    n = ns(c, "noop")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}}
    created = c.post(f"/api/v1/namespaces/{n}/configmaps", cm).json
    rv = created["metadata"]["resourceVersion"]
    w = c.watch(f"/api/v1/namespaces/{n}/configmaps?watch=1&resourceVersion={rv}", timeout=3)
    same = c.put(f"/api/v1/namespaces/{n}/configmaps/cfg", created).json
    check_eq(same["metadata"]["resourceVersion"], rv, "PUT of the same object")
    p = c.patch(f"/api/v1/namespaces/{n}/configmaps/cfg", {"data": {"a": "1"}}).json
    check_eq(p["metadata"]["resourceVersion"], rv, "patch that changes nothing")
    c.patch(f"/api/v1/namespaces/{n}/configmaps/cfg", {"data": {"a": "2"}})
    ev = w.next()
    check_eq(ev["type"], "MODIFIED", "only the real change is an event")
    check_eq(ev["object"]["data"]["a"], "2", "event carries the change")
    w.close()


def test_generation_bumps_on_spec_only(c):
    n = ns(c, "gen2")
    d = c.post(f"/apis/apps/v1/namespaces/{n}/deployments", deployment("web")).json
    check_eq(d["metadata"]["generation"], 1, "initial generation")
    check_eq(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%", "maxSurge default")
    check_eq(d["spec"]["revisionHistoryLimit"], 10, "revisionHistoryLimit default")
    d2 = c.patch(f"/apis/apps/v1/namespaces/{n}/deployments/web", {"metadata": {"labels": {"x": "y"}}}).json
    check_eq(d2["metadata"]["generation"], 1, "label change keeps generation")
    d3 = c.patch(f"/apis/apps/v1/namespaces/{n}/deployments/web", {"spec": {"replicas": 3}}).json
    check_eq(d3["metadata"]["generation"], 2, "spec change bumps generation")
    st = c.patch(f"/apis/apps/v1/namespaces/{n}/deployments/web/status", {"status": {"replicas": 3}}).json
    check_eq(st["metadata"]["generation"], 2, "status change keeps generation")
    check_eq(st["status"]["replicas"], 3, "status written through /status")
    ignored = c.patch(f"/apis/apps/v1/namespaces/{n}/deployments/web", {"status": {"replicas": 9}}).json
    check_eq(ignored["status"]["replicas"], 3, "status ignored on the main resource")
    sc = c.get(f"/apis/apps/v1/namespaces/{n}/deployments/web/scale").json
    check_eq(sc["kind"], "Scale", "scale kind")
    check_eq(sc["apiVersion"], "autoscaling/v1", "scale apiVersion")
    check_eq(sc["spec"]["replicas"], 3, "scale replicas")
    check_eq(sc["status"]["selector"], "app=web", "scale selector")
    sc["spec"]["replicas"] = 5
    r = c.put(f"/apis/apps/v1/namespaces/{n}/deployments/web/scale", sc)
    check_eq(r.status, 200, f"put scale: {r}")
    check_eq(c.get(f"/apis/apps/v1/namespaces/{n}/deployments/web").json["spec"]["replicas"], 5, "scaled")


# -- validation and bad input ----------------------------------------------------

def test_validation_errors(c):
    n = ns(c, "valid")
    r = c.post(f"/api/v1/namespaces/{n}/pods", pod("Web_1"))
    check_eq(r.status, 422, "bad name")
    check_eq(r.json["reason"], "Invalid", "reason")
    check(r.json["message"].startswith('Pod "Web_1" is invalid: metadata.name: Invalid value: "Web_1": '
                                       "a lowercase RFC 1123 subdomain"), r.json["message"])
    causes = r.json["details"]["causes"]
    check_eq(causes[0]["field"], "metadata.name", "cause field")
    bad = pod("nocontainers")
    bad["spec"]["containers"] = []
    r = c.post(f"/api/v1/namespaces/{n}/pods", bad)
    check_eq(r.status, 422, "no containers")
    check(any(cz["field"] == "spec.containers" for cz in r.json["details"]["causes"]), "containers cause")
    check_eq(c.get(f"/api/v1/namespaces/{n}/pods/nocontainers").status, 404, "nothing stored")


def test_malformed_bodies(c):
    n = ns(c, "malformed")
    before = c.get(f"/api/v1/namespaces/{n}/configmaps").json["metadata"]["resourceVersion"]
    r = c.post(f"/api/v1/namespaces/{n}/configmaps", '{"kind": "ConfigMap", ', content_type="application/json")
    check_eq(r.status, 400, "truncated JSON")
    check_eq(r.json["reason"], "BadRequest", "reason")
    check("JSON" in r.json["message"] and "line 1" in r.json["message"], r.json["message"])
    r = c.post(f"/api/v1/namespaces/{n}/configmaps", "a: [1, 2\nb: c\n", content_type="application/yaml")
    check_eq(r.status, 400, "bad YAML")
    check("YAML" in r.json["message"] and "line" in r.json["message"], r.json["message"])
    r = c.post(f"/api/v1/namespaces/{n}/configmaps", "[1,2]", content_type="application/json")
    check_eq(r.status, 400, "array body")
    ok = c.post(f"/api/v1/namespaces/{n}/configmaps",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fromyaml\ndata:\n  k: v\n",
                content_type="application/yaml")
    check_eq(ok.status, 201, f"YAML body: {ok}")
    r = c.post(f"/api/v1/namespaces/{n}/configmaps", {"apiVersion": "v1", "kind": "Secret",
                                                      "metadata": {"name": "x"}})
    check_eq(r.status, 400, "kind mismatch")
    r = c.post(f"/api/v1/namespaces/{n}/configmaps", {"apiVersion": "apps/v1", "kind": "ConfigMap",
                                                      "metadata": {"name": "x"}})
    check_eq(r.status, 400, "apiVersion mismatch")
    r = c.post(f"/api/v1/namespaces/{n}/configmaps", b"\x0a\x02hi".decode("latin1"),
               content_type="application/vnd.kubernetes.protobuf")
    check_eq(r.status, 415, "protobuf")
    check("apply -f" in r.json["message"], r.json["message"])
    after = c.get(f"/api/v1/namespaces/{n}/configmaps").json
    check_eq([i["metadata"]["name"] for i in after["items"]], ["fromyaml"], "only the good object stored")
    check(int(after["metadata"]["resourceVersion"]) == int(before) + 1, "no revision used by failures")


def test_unknown_kinds_and_paths(c):
    r = c.get("/apis/batch/v1/namespaces/default/jobs")
    check_eq(r.status, 404, "jobs")
    check("jobs.batch is not supported by minik8s" in r.json["message"], r.json["message"])
    r = c.get("/apis/apps/v1/namespaces/default/daemonsets")
    check_eq(r.status, 404, "daemonsets")
    check("daemonsets.apps is not supported by minik8s" in r.json["message"], r.json["message"])
    r = c.get("/api/v1/namespaces/default/widgets")
    check_eq(r.status, 404, "unknown resource")
    check_eq(r.json["kind"], "Status", "Status body")
    r = c.get("/api/v1/namespaces/default/pods/nope")
    check_eq(r.status, 404, "missing pod")
    check_eq(r.json["message"], 'pods "nope" not found', "not found message")
    check_eq(r.json["details"]["kind"], "pods", "details kind")
    r = c.post("/api/v1/namespaces/missing-ns/configmaps",
               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
    check_eq(r.status, 404, "missing namespace")
    check_eq(r.json["message"], 'namespaces "missing-ns" not found', "namespace message")


def test_body_limit(c):
    big = "x" * (3 * 1024 * 1024 + 10)
    r = c.post("/api/v1/namespaces/default/configmaps", big, content_type="application/json")
    check_eq(r.status, 413, "3 MiB limit")
    check_eq(r.json["code"], 413, "Status code")


# -- deletion ---------------------------------------------------------------------

def test_delete_unbound_bound_and_finalizers(c):
    n = ns(c, "del")
    c.post(f"/api/v1/namespaces/{n}/pods", pod("free"))
    r = c.delete(f"/api/v1/namespaces/{n}/pods/free")
    check_eq(r.status, 200, "delete unbound")
    check_eq(c.get(f"/api/v1/namespaces/{n}/pods/free").status, 404, "unbound pod gone at once")

    c.post(f"/api/v1/namespaces/{n}/pods", pod("bound", nodeName="node-1"))
    r = c.delete(f"/api/v1/namespaces/{n}/pods/bound")
    check_eq(r.status, 200, "graceful delete")
    g = c.get(f"/api/v1/namespaces/{n}/pods/bound").json
    check("deletionTimestamp" in g["metadata"], "marked")
    check_eq(g["metadata"]["deletionGracePeriodSeconds"], 30, "grace period")
    r = c.delete(f"/api/v1/namespaces/{n}/pods/bound", {"kind": "DeleteOptions", "apiVersion": "v1",
                                                          "gracePeriodSeconds": 0})
    check_eq(r.status, 200, "kubelet's confirmation")
    check_eq(c.get(f"/api/v1/namespaces/{n}/pods/bound").status, 404, "gone after grace-0 delete")

    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.com/x"]}}
    c.post(f"/api/v1/namespaces/{n}/configmaps", cm)
    c.delete(f"/api/v1/namespaces/{n}/configmaps/held")
    g = c.get(f"/api/v1/namespaces/{n}/configmaps/held")
    check_eq(g.status, 200, "held by finalizer")
    check("deletionTimestamp" in g.json["metadata"], "deletionTimestamp set")
    r = c.patch(f"/api/v1/namespaces/{n}/configmaps/held", {"metadata": {"finalizers": None}})
    check_eq(r.status, 200, f"remove finalizer: {r}")
    check_eq(c.get(f"/api/v1/namespaces/{n}/configmaps/held").status, 404, "gone with the last finalizer")

    c.post(f"/apis/apps/v1/namespaces/{n}/replicasets", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
        "spec": {"selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}})
    c.delete(f"/apis/apps/v1/namespaces/{n}/replicasets/rs", {"propagationPolicy": "Foreground"})
    rs = c.get(f"/apis/apps/v1/namespaces/{n}/replicasets/rs").json
    check("foregroundDeletion" in rs["metadata"]["finalizers"], "foreground propagation recorded")


def test_delete_collection_and_preconditions(c):
    n = ns(c, "delcoll")
    for i in range(5):
        c.post(f"/api/v1/namespaces/{n}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": f"cm{i}", "labels": {"i": str(i % 2)}}})
    r = c.delete(f"/api/v1/namespaces/{n}/configmaps?labelSelector=i%3D1")
    check_eq(r.status, 200, "deletecollection")
    check_eq(len(r.json["items"]), 2, "deleted two")
    left = c.get(f"/api/v1/namespaces/{n}/configmaps").json["items"]
    check_eq(sorted(i["metadata"]["name"] for i in left), ["cm0", "cm2", "cm4"], "the rest remain")
    r = c.delete(f"/api/v1/namespaces/{n}/configmaps/cm0", {"preconditions": {"uid": "not-the-uid"}})
    check_eq(r.status, 409, "uid precondition")
    check_eq(c.get(f"/api/v1/namespaces/{n}/configmaps/cm0").status, 200, "still there")


# -- selectors ----------------------------------------------------------------------

def test_label_and_field_selectors(c):
    n = ns(c, "sel")
    c.post(f"/api/v1/namespaces/{n}/pods", pod("a", labels={"app": "web", "tier": "fe"}, nodeName="n1"))
    c.post(f"/api/v1/namespaces/{n}/pods", pod("b", labels={"app": "web", "tier": "be"}))
    c.post(f"/api/v1/namespaces/{n}/pods", pod("c", labels={"app": "db"}))

    def names(q):
        r = c.get(f"/api/v1/namespaces/{n}/pods?{q}")
        check_eq(r.status, 200, f"list {q}: {r}")
        return sorted(i["metadata"]["name"] for i in r.json["items"])

    check_eq(names("labelSelector=app%3Dweb"), ["a", "b"], "=")
    check_eq(names("labelSelector=app!%3Dweb"), ["c"], "!=")
    check_eq(names("labelSelector=tier+in+(fe,xx)"), ["a"], "in")
    check_eq(names("labelSelector=tier+notin+(fe)"), ["b", "c"], "notin")
    check_eq(names("labelSelector=tier"), ["a", "b"], "exists")
    check_eq(names("labelSelector=!tier"), ["c"], "!exists")
    check_eq(names("fieldSelector=spec.nodeName%3Dn1"), ["a"], "spec.nodeName")
    check_eq(names("fieldSelector=metadata.name%3Db"), ["b"], "metadata.name")
    check_eq(names("fieldSelector=status.phase%3DPending,metadata.name!%3Da"), ["b", "c"], "status.phase")
    r = c.get(f"/api/v1/namespaces/{n}/pods?labelSelector=app%3D%3D%3D")
    check_eq(r.status, 400, "bad label selector")
    r = c.get(f"/api/v1/namespaces/{n}/pods?fieldSelector=spec.bogus%3D1")
    check_eq(r.status, 400, "unsupported field")


# -- patch -----------------------------------------------------------------------------

def test_patch_flavours(c):
    n = ns(c, "patch")
    d = deployment("web")
    d["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "side:1"})
    c.post(f"/apis/apps/v1/namespaces/{n}/deployments", d)
    base = f"/apis/apps/v1/namespaces/{n}/deployments/web"
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "busybox:2"}]}}}}
    r = c.patch(base, smp, patch_type="application/strategic-merge-patch+json")
    check_eq(r.status, 200, f"strategic: {r}")
    cs = r.json["spec"]["template"]["spec"]["containers"]
    check_eq([(x["name"], x["image"]) for x in cs], [("main", "busybox:2"), ("side", "side:1")],
             "strategic merge by name keeps the other container")
    r = c.patch(base, smp, patch_type="application/merge-patch+json")
    cs = r.json["spec"]["template"]["spec"]["containers"]
    check_eq([x["name"] for x in cs], ["main"], "merge patch replaces the list")
    r = c.patch(base, [{"op": "replace", "path": "/spec/replicas", "value": 4},
                       {"op": "test", "path": "/metadata/name", "value": "web"}],
                patch_type="application/json-patch+json")
    check_eq(r.status, 200, f"json patch: {r}")
    check_eq(r.json["spec"]["replicas"], 4, "json patch applied")
    r = c.patch(base, [{"op": "test", "path": "/metadata/name", "value": "other"}],
                patch_type="application/json-patch+json")
    check_eq(r.status, 422, "failed json patch test")
    r = c.patch(base, {"spec": {"replicas": 1}}, patch_type="text/plain")
    check_eq(r.status, 415, "unknown patch type")
    before = c.get(base).json
    r = c.patch(base, {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 2}})
    check_eq(r.status, 409, "resourceVersion in a patch is a precondition")
    # The deployment controller may write its status meanwhile; the spec
    # and its generation are what the refused patch must not have touched.
    after = c.get(base).json
    check_eq((after["spec"], after["metadata"]["generation"]),
             (before["spec"], before["metadata"]["generation"]), "nothing changed")


def test_server_side_apply_creates_then_merges(c):
    n = ns(c, "ssa")
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n"
    path = f"/api/v1/namespaces/{n}/configmaps/applied?fieldManager=test"
    r = c.patch(path, body, patch_type="application/apply-patch+yaml")
    check_eq(r.status, 201, f"apply creates: {r}")
    body2 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  b: '2'\n"
    r = c.patch(path, body2, patch_type="application/apply-patch+yaml")
    check_eq(r.status, 200, "apply merges")
    check_eq(r.json["data"], {"a": "1", "b": "2"}, "merged data")


# -- subresources -----------------------------------------------------------------------

def test_binding_and_eviction(c):
    n = ns(c, "bind")
    c.post(f"/api/v1/namespaces/{n}/pods", pod("p"))
    b = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}}
    r = c.post(f"/api/v1/namespaces/{n}/pods/p/binding", b)
    check_eq(r.status, 201, f"binding: {r}")
    p = c.get(f"/api/v1/namespaces/{n}/pods/p").json
    check_eq(p["spec"]["nodeName"], "n1", "bound")
    check(any(x["type"] == "PodScheduled" and x["status"] == "True" for x in p["status"]["conditions"]),
          "PodScheduled condition")
    r = c.post(f"/api/v1/namespaces/{n}/pods/p/binding", b)
    check_eq(r.status, 409, "second binding")
    ev = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p", "namespace": n}}
    r = c.post(f"/api/v1/namespaces/{n}/pods/p/eviction", ev)
    check_eq(r.status, 201, f"eviction: {r}")
    check("deletionTimestamp" in c.get(f"/api/v1/namespaces/{n}/pods/p").json["metadata"], "evicted: terminating")


# -- services and allocators -------------------------------------------------------------

def test_service_allocation(c):
    n = ns(c, "svc")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    s = c.post(f"/api/v1/namespaces/{n}/services", svc).json
    ip = s["spec"]["clusterIP"]
    check(ip.startswith("10.9") or ip.startswith("10.10"), f"clusterIP from the range: {ip}")
    check_eq(s["spec"]["ports"][0]["targetPort"], 80, "targetPort defaults to port")
    check_eq(s["spec"]["ports"][0]["protocol"], "TCP", "protocol default")
    check_eq(s["spec"]["type"], "ClusterIP", "type default")
    np = dict(svc, metadata={"name": "np"}, spec={"type": "NodePort", "selector": {"app": "web"},
                                                   "ports": [{"port": 80, "nodePort": 30080}]})
    r = c.post(f"/api/v1/namespaces/{n}/services", np)
    check_eq(r.status, 201, f"nodeport: {r}")
    check_eq(r.json["spec"]["ports"][0]["nodePort"], 30080, "requested nodePort")
    np2 = dict(np, metadata={"name": "np2"})
    r = c.post(f"/api/v1/namespaces/{n}/services", np2)
    check_eq(r.status, 422, "taken nodePort")
    check("already allocated" in r.json["message"], r.json["message"])
    dns = dict(svc, metadata={"name": "dns2"}, spec={"clusterIP": "10.96.0.10", "ports": [{"port": 53}]})
    r = c.post(f"/api/v1/namespaces/{n}/services", dns)
    check_eq(r.status, 422, "taken clusterIP")
    out = dict(svc, metadata={"name": "out"}, spec={"clusterIP": "192.168.1.1", "ports": [{"port": 53}]})
    r = c.post(f"/api/v1/namespaces/{n}/services", out)
    check_eq(r.status, 422, "clusterIP outside the range")
    check("valid range" in r.json["message"], r.json["message"])
    c.delete(f"/api/v1/namespaces/{n}/services/np")
    r = c.post(f"/api/v1/namespaces/{n}/services", np2)
    check_eq(r.status, 201, "nodePort freed on delete")
    auto = dict(svc, metadata={"name": "auto"}, spec={"type": "NodePort", "ports": [{"port": 81}]})
    a = c.post(f"/api/v1/namespaces/{n}/services", auto).json
    check(30000 <= a["spec"]["ports"][0]["nodePort"] <= 32767, "allocated nodePort")
    r = c.put(f"/api/v1/namespaces/{n}/services/auto", a)
    check_eq(r.json["spec"]["clusterIP"], a["spec"]["clusterIP"], "clusterIP kept on update")
    hl = dict(svc, metadata={"name": "headless"}, spec={"clusterIP": "None", "selector": {"a": "b"},
                                                         "ports": [{"port": 80}]})
    check_eq(c.post(f"/api/v1/namespaces/{n}/services", hl).json["spec"]["clusterIP"], "None", "headless")


# -- watch ---------------------------------------------------------------------------------

def test_watch_events_and_selectors(c):
    n = ns(c, "watch")
    rv = c.get(f"/api/v1/namespaces/{n}/configmaps").json["metadata"]["resourceVersion"]
    w = c.watch(f"/api/v1/namespaces/{n}/configmaps?watch=1&resourceVersion={rv}&labelSelector=w%3D1")
    check_eq(w.status, 200, "watch status")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"w": "1"}}, "data": {}}
    c.post(f"/api/v1/namespaces/{n}/configmaps", cm)
    c.post(f"/api/v1/namespaces/{n}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                  "metadata": {"name": "other"}})
    c.patch(f"/api/v1/namespaces/{n}/configmaps/x", {"data": {"k": "v"}})
    c.patch(f"/api/v1/namespaces/{n}/configmaps/x", {"metadata": {"labels": {"w": "0"}}})
    c.patch(f"/api/v1/namespaces/{n}/configmaps/other", {"metadata": {"labels": {"w": "1"}}})
    c.delete(f"/api/v1/namespaces/{n}/configmaps/other")
    got = [(e["type"], e["object"]["metadata"]["name"]) for e in (w.next() for _ in range(5))]
    check_eq(got, [("ADDED", "x"), ("MODIFIED", "x"), ("DELETED", "x"), ("ADDED", "other"), ("DELETED", "other")],
             "events as the selector sees them")
    w.close()


def test_watch_initial_state_and_expired(c):
    n = ns(c, "watch2")
    for i in range(3):
        c.post(f"/api/v1/namespaces/{n}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": f"c{i}"}})
    w = c.watch(f"/api/v1/namespaces/{n}/configmaps?watch=true")
    names = sorted(w.next()["object"]["metadata"]["name"] for _ in range(3))
    check_eq(names, ["c0", "c1", "c2"], "synthetic ADDED for the current state")
    w.close()


def test_watch_bookmarks_and_fanout(c):
    n = ns(c, "fan")
    rv = c.get(f"/api/v1/namespaces/{n}/configmaps").json["metadata"]["resourceVersion"]
    ws = [c.watch(f"/api/v1/namespaces/{n}/configmaps?watch=1&resourceVersion={rv}") for _ in range(20)]
    c.post(f"/api/v1/namespaces/{n}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                  "metadata": {"name": "one"}})
    for w in ws:
        e = w.next()
        check_eq((e["type"], e["object"]["metadata"]["name"]), ("ADDED", "one"), "every watcher")
        w.close()


def test_watch_expired_after_restart(c):
    # Uses its own server: restarts it.
    c2 = Cluster()
    try:
        n = ns(c2, "exp")
        first = c2.post(f"/api/v1/namespaces/{n}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                               "metadata": {"name": "a"}}).json
        c2.post(f"/api/v1/namespaces/{n}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                       "metadata": {"name": "b"}})
        c2.restart()
        w = c2.watch(f"/api/v1/namespaces/{n}/configmaps?watch=1&resourceVersion="
                     f"{first['metadata']['resourceVersion']}")
        check_eq(w.status, 200, "expired watch answers 200")
        e = w.next()
        check_eq(e["type"], "ERROR", "ERROR event")
        check_eq(e["object"]["code"], 410, "410")
        check_eq(e["object"]["reason"], "Expired", "Expired")
        check(w.next() is None, "stream closes after the error")
        lst = c2.get(f"/api/v1/namespaces/{n}/configmaps").json
        check_eq(sorted(i["metadata"]["name"] for i in lst["items"]), ["a", "b"], "data survives restart")
        cur = lst["metadata"]["resourceVersion"]
        w2 = c2.watch(f"/api/v1/namespaces/{n}/configmaps?watch=1&resourceVersion={cur}")
        c2.post(f"/api/v1/namespaces/{n}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                       "metadata": {"name": "c"}})
        e = w2.next()
        check_eq(e["type"], "ADDED", "watch from the current revision works after restart")
        check(int(e["object"]["metadata"]["resourceVersion"]) > int(cur), "revisions are not reused")
        w2.close()
    finally:
        check_eq(c2.cleanup(), 0, "clean exit")


# -- tables and discovery ------------------------------------------------------------------

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def test_tables(c):
    n = ns(c, "table")
    c.post(f"/api/v1/namespaces/{n}/pods", pod("t1"))
    t = c.get(f"/api/v1/namespaces/{n}/pods", headers={"Accept": TABLE}).json
    check_eq(t["kind"], "Table", "Table kind")
    cols = [x["name"] for x in t["columnDefinitions"]]
    check_eq(cols[:5], ["Name", "Ready", "Status", "Restarts", "Age"], "pod columns")
    check_eq(t["columnDefinitions"][0]["format"], "name", "name column format")
    wide = {x["name"]: x["priority"] for x in t["columnDefinitions"]}
    check_eq(wide.get("IP"), 1, "IP is a wide column")
    row = t["rows"][0]
    check_eq(row["cells"][0], "t1", "name cell")
    check_eq(row["cells"][1], "0/1", "ready cell")
    check_eq(row["cells"][2], "Pending", "status cell")
    check_eq(row["object"]["kind"], "PartialObjectMetadata", "row object")
    full = c.get(f"/api/v1/namespaces/{n}/pods?includeObject=Object", headers={"Accept": TABLE}).json
    check_eq(full["rows"][0]["object"]["kind"], "Pod", "includeObject=Object")
    d = c.get("/apis/apps/v1/deployments", headers={"Accept": TABLE}).json
    check_eq([x["name"] for x in d["columnDefinitions"]][:5], ["Name", "Ready", "Up-to-date", "Available", "Age"],
             "deployment columns")


def test_discovery(c):
    api = c.get("/api").json
    check_eq(api["versions"], ["v1"], "/api")
    apis = c.get("/apis").json
    groups = {g["name"] for g in apis["groups"]}
    check({"apps", "coordination.k8s.io"} <= groups, "/apis groups")
    v1 = c.get("/api/v1").json
    res = {r["name"]: r for r in v1["resources"]}
    for name, short in (("pods", "po"), ("services", "svc"), ("endpoints", "ep"), ("nodes", "no"),
                        ("namespaces", "ns"), ("configmaps", "cm"), ("events", "ev")):
        check(short in res[name].get("shortNames", []), f"{name} short name {short}")
    check("all" in res["pods"]["categories"], "pods in category all")
    for sub in ("pods/status", "pods/binding", "pods/eviction", "pods/log", "nodes/status"):
        check(sub in res, f"subresource {sub}")
    apps = {r["name"]: r for r in c.get("/apis/apps/v1").json["resources"]}
    check_eq(apps["deployments/scale"]["kind"], "Scale", "scale kind")
    check_eq(apps["deployments/scale"]["group"], "autoscaling", "scale group")
    check("deploy" in apps["deployments"]["shortNames"], "deploy short name")
    agg = c.get("/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                                            "application/json"})
    check_eq(agg.headers.get("Content-Type"), "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
             "aggregated content type")
    check_eq(agg.json["kind"], "APIGroupDiscoveryList", "aggregated kind")
    o2 = c.get("/openapi/v2", headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    check_eq(o2.status, 200, "openapi v2")
    check(o2.body.startswith(b"\x0a\x032.0"), "protobuf document with swagger 2.0")
    o3 = c.get("/openapi/v3").json
    check("apis/apps/v1" in o3["paths"], "openapi v3 index")
    doc = c.get(o3["paths"]["apis/apps/v1"]["serverRelativeURL"]).json
    check(any("deployments" in p for p in doc["paths"]), "per-group document")


# -- HTTP behaviour ----------------------------------------------------------------------------

def test_keepalive_and_concurrency(c):
    conn = c.connect()
    for _ in range(3):
        conn.request("GET", "/api/v1/namespaces", headers={"Authorization": f"Bearer {c.token}"})
        r = conn.getresponse()
        r.read()
        check_eq(r.status, 200, "keep-alive request")
    conn.close()
    n = ns(c, "conc")
    errors = []

    def worker(i):
        try:
            for j in range(10):
                r = c.post(f"/api/v1/namespaces/{n}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                  "metadata": {"name": f"c{i}-{j}"}})
                if r.status != 201:
                    errors.append(r)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check_eq(errors, [], "concurrent creates")
    items = c.get(f"/api/v1/namespaces/{n}/configmaps").json["items"]
    check_eq(len(items), 100, "all 100 stored")
    rvs = {i["metadata"]["resourceVersion"] for i in items}
    check_eq(len(rvs), 100, "each create has its own revision")


def test_namespace_termination_blocks_creates(c):
    ns(c, "doomed")
    r = c.delete("/api/v1/namespaces/doomed")
    check_eq(r.status, 200, "delete namespace")
    g = c.get("/api/v1/namespaces/doomed").json
    check_eq(g["status"]["phase"], "Terminating", "Terminating")
    r = c.post("/api/v1/namespaces/doomed/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": {"name": "late"}})
    check_eq(r.status, 403, "no new content in a terminating namespace")
    r = c.put("/api/v1/namespaces/doomed/finalize", dict(g, spec={"finalizers": []}))
    check_eq(r.status, 200, f"finalize: {r}")
    check_eq(c.get("/api/v1/namespaces/doomed").status, 404, "namespace gone once finalized")


def test_events_expire_after_ttl(c):
    c2 = Cluster(extra_args=["--event-ttl", "2s"])
    try:
        ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1"},
              "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
              "reason": "Started", "message": "Started container web", "type": "Normal"}
        r = c2.post("/api/v1/namespaces/default/events", ev)
        check_eq(r.status, 201, f"create event: {r}")
        check_eq(c2.get("/api/v1/namespaces/default/events/web.1").status, 200, "event there at first")
        wait_for(lambda: c2.get("/api/v1/namespaces/default/events/web.1").status == 404, timeout=15,
                 what="the event to expire")
        cm = c2.post("/api/v1/namespaces/default/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                               "metadata": {"name": "stays"}})
        check_eq(cm.status, 201, "configmap")
        time.sleep(2.5)
        check_eq(c2.get("/api/v1/namespaces/default/configmaps/stays").status, 200, "only events expire")
    finally:
        check_eq(c2.cleanup(), 0, "clean exit")


def test_binary_help_version_and_errors(c):
    import subprocess
    from harness import BIN

    def run(*args):
        return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=20)

    r = run("--version")
    check_eq(r.returncode, 0, "--version")
    check(r.stdout.startswith("minik8s ") and "v1.32" in r.stdout, r.stdout)
    r = run("--help")
    check_eq(r.returncode, 0, "--help")
    for cmd in ("server", "apiserver", "ctl", "token"):
        check(f"  {cmd} " in r.stdout, f"--help lists {cmd}")
    r = run("apiserver", "--help")
    check_eq(r.returncode, 0, "apiserver --help")
    for flag in ("--secure-port", "--data-dir", "--service-cluster-ip-range", "--tls-san"):
        check(flag in r.stdout, f"apiserver --help lists {flag}")
    r = run("frobnicate")
    check(r.returncode == 1 and "unknown command 'frobnicate'" in r.stderr, r.stderr)
    r = run("apiserver", "--secure-prot", "1")
    check(r.returncode == 1 and "did you mean '--secure-port'" in r.stderr, r.stderr)
    r = run("token", "--data-dir", c.data_dir)
    check_eq(r.returncode, 0, f"token: {r.stderr}")
    check(r.stdout.startswith("K10") and "::node:" in r.stdout, r.stdout)
    r = run("token", "--data-dir", "/nonexistent/dir")
    check(r.returncode == 1 and "start one with `minik8s server" in r.stderr, r.stderr)


def test_large_list_streams(c):
    """A list over a megabyte is streamed as the client reads it: it comes
    whole and in order, a client that reads slowly or leaves midway harms
    nothing, and deletecollection answers with every deleted object."""
    import socket
    n = ns(c, "biglist")
    # 60 x 200 KB: 12 MB of JSON, far more than a socket buffer holds, so
    # the server must wait for the client between chunks.
    payload = "x" * 200000
    names = [f"cm-{i:04d}" for i in range(60)]
    for name in names:
        r = c.post(f"/api/v1/namespaces/{n}/configmaps",
                   {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": payload}})
        check_eq(r.status, 201, f"create {name}")
    r = c.get(f"/api/v1/namespaces/{n}/configmaps")
    check_eq(r.status, 200, "list")
    check_eq(r.headers.get("Transfer-Encoding"), "chunked", "a large list is streamed")
    lst = r.json
    check_eq([i["metadata"]["name"] for i in lst["items"]], names, "every item, in key order")
    check(all(i["data"]["v"] == payload for i in lst["items"]), "items whole")
    check_eq(lst["kind"], "ConfigMapList", "list kind")

    # A client that asks and goes away after the first bytes.
    for _ in range(3):
        conn = c.connect()
        conn.request("GET", f"/api/v1/namespaces/{n}/configmaps",
                     headers={"Authorization": f"Bearer {c.token}"})
        resp = conn.getresponse()
        resp.read(1000)
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
    # A client that reads slowly still gets it all.
    conn = c.connect(timeout=30)
    conn.request("GET", f"/api/v1/namespaces/{n}/configmaps", headers={"Authorization": f"Bearer {c.token}"})
    resp = conn.getresponse()
    body = b""
    while True:
        chunk = resp.read(65536)
        if not chunk:
            break
        body += chunk
        time.sleep(0.01)
    conn.close()
    check_eq(len(json.loads(body)["items"]), len(names), "slow reader got every item")
    check_eq(c.get("/healthz").status, 200, "server fine")

    r = c.delete(f"/api/v1/namespaces/{n}/configmaps")
    check_eq(r.status, 200, "deletecollection")
    check_eq(sorted(i["metadata"]["name"] for i in r.json["items"]), names, "deleted items listed")
    check_eq(c.get(f"/api/v1/namespaces/{n}/configmaps").json["items"], [], "all gone")


if __name__ == "__main__":
    # The API server alone: these checks count revisions and race nothing,
    # so no controller or scheduler may write beside them.
    run_tests(globals(), cluster_args={"command": "apiserver"})
