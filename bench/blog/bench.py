#!/usr/bin/env python3
"""bench/blog: how long the blog takes to come up on minik8s, next to the
same six containers started directly, in the same run.

    direct    docker network create; six `docker run -d` with the Service
              names as network aliases; until every service answers /healthz
    minik8s   `minictl apply -f examples/blog/blog.yaml` on a running one-node
              cluster; until every Deployment reports all replicas available
              (each pod: scheduled, sandbox + container started, readiness
              probe passed, status written back)

Each round runs both, the cluster's blog deleted again in between; prints
each round, the medians and the ratio minik8s/direct. The cluster itself is
started once, before the rounds (its start-up is not what is measured).

Run through run.sh, which builds a release binary. Needs root and a Docker
Engine; cleans up what it makes.
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

import test_blog_cluster as cluster_blog  # noqa: E402
import test_blog_docker as docker_blog  # noqa: E402

DEPLOYMENTS = list(cluster_blog.DEPLOYMENTS.values())


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def direct_round():
    blog = docker_blog.DockerBlog()
    blog.tag = f"benchblog-{os.getpid()}"
    try:
        t0 = time.monotonic()
        blog.network = blog.tag
        blog.docker("network", "create", blog.network)
        for name in docker_blog.SERVICES:
            blog.run(name)
        for name in docker_blog.SERVICES:
            docker_blog.wait_for(lambda: docker_blog.request(blog.url(name) + "/healthz", timeout=2)[0] == 200,
                                 timeout=120, what=f"{name} /healthz")
        return time.monotonic() - t0
    finally:
        blog.cleanup()


def available(blog):
    items = json.loads(blog.ctl("get", "deploy", "-o", "json").stdout)["items"]
    by = {d["metadata"]["name"]: d for d in items}
    return all(d in by and by[d].get("status", {}).get("availableReplicas", 0) >= by[d]["spec"]["replicas"]
               for d in DEPLOYMENTS)


def cluster_round(blog):
    t0 = time.monotonic()
    blog.ctl("apply", "-f", cluster_blog.BLOG_YAML)
    while not available(blog):
        if time.monotonic() - t0 > 300:
            raise RuntimeError("the blog's deployments did not become available in 300 s")
        time.sleep(0.05)
    took = time.monotonic() - t0
    blog.ctl("delete", "-f", cluster_blog.BLOG_YAML)
    docker_blog.wait_for(lambda: not blog.ctl("get", "pods", "--no-headers", check_rc=False).stdout.strip(),
                         timeout=120, what="the blog's pods gone")
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/blog: needs root (the node's proxy) and a Docker Engine")
    blog = cluster_blog.ClusterBlog()
    blog.images.images_ours = False
    os.environ["BLOG_REUSE_IMAGES"] = "1"
    direct, k8s = [], []
    try:
        blog.preflight()
        blog.images.build_images()
        log("starting a one-node cluster")
        blog.cluster = cluster_blog.Cluster(agent=True, extra_args=[
            "--node-name", cluster_blog.NODE, "--kubelet-port", "0", "--healthz-port", "-1"])
        docker_blog.wait_for(blog.node_ready, timeout=60, what="the node Ready")
        for i in range(args.rounds):
            d = direct_round()
            k = cluster_round(blog)
            direct.append(d)
            k8s.append(k)
            log(f"round {i + 1}: docker run {d:.2f} s   minik8s apply -> available {k:.2f} s")
    finally:
        blog.cleanup()
    md, mk = statistics.median(direct), statistics.median(k8s)
    print(f"blog (6 services), median of {args.rounds} rounds:")
    print(f"  docker run, until every /healthz answers:        {md:6.2f} s")
    print(f"  minictl apply, until every deployment available:  {mk:6.2f} s")
    print(f"  ratio minik8s / docker run: {mk / md:.2f}x")


if __name__ == "__main__":
    main()
