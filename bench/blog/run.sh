#!/bin/sh
# bench/blog: the classroom blog from `minictl apply` to every deployment
# available on a one-node minik8s, next to the same six containers started
# with `docker run` in the same run (see bench/README.md).
#
#   bench/blog/run.sh                 # release build in build-bench-blog, 3 rounds
#   bench/blog/run.sh --rounds 5
#   MINIK8S_BIN=build/minik8s bench/blog/run.sh   # a given binary, nothing built
#
# Needs root and a Docker Engine, and no other minik8s node on the machine
# (scripts/down.sh first); builds the blog's images when they are missing.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench-blog}

if [ -z "${MINIK8S_BIN:-}" ]; then
	[ -d "$BUILD" ] || meson setup "$BUILD" "$ROOT" --buildtype=release -Db_sanitize=none >/dev/null
	meson compile -C "$BUILD" minik8s minictl examples/blog/blog >/dev/null
	MINIK8S_BIN=$BUILD/minik8s
	export BLOG_BIN=$BUILD/examples/blog/blog
fi
export MINIK8S_BIN
exec python3 "$ROOT/bench/blog/bench.py" "$@"
