#!/bin/sh
# bench/podstartup: N pods from create to Ready on a minik8s kubelet, next to
# the same Docker calls made directly (see bench/README.md).
#
#   bench/podstartup/run.sh                  # release build in build-bench-podstartup, 20 then 100 pods
#   bench/podstartup/run.sh --pods 10,50 --rounds 3
#   MINIK8S_BIN=build/minik8s bench/podstartup/run.sh   # a given binary, nothing built
#
# Needs a Docker Engine on /var/run/docker.sock and a static busybox
# (Debian: busybox-static); exits 2 without them.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench-podstartup}

if [ -z "${MINIK8S_BIN:-}" ]; then
	[ -d "$BUILD" ] || meson setup "$BUILD" "$ROOT" --buildtype=release >/dev/null
	meson compile -C "$BUILD" minik8s >/dev/null
	MINIK8S_BIN=$BUILD/minik8s
fi
export MINIK8S_BIN
exec python3 "$ROOT/bench/podstartup/bench.py" "$@"
