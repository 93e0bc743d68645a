#!/usr/bin/env bash
# bench/proxy: the same keep-alive HTTP backend reached directly, through the
# minik8s proxy's ClusterIP, through haproxy (mode tcp) and through Docker's
# docker-proxy, all with wrk; prints req/s, p99 and ratios, then how fast an
# Endpoints change reaches new connections. See README.md. Needs root.
#
#   bench/proxy/run.sh                      # release build in build-bench-proxy, one round of 10 s each
#   bench/proxy/run.sh --rounds 3           # medians of three rounds
#   bench/proxy/run.sh --duration 3 --switches 2   # quick check that the bench works
#
# MINIK8S_BIN points at a prebuilt binary (then nothing is built). Installs
# what is missing of the build, wrk, haproxy and Docker first (Debian 12).
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/scripts/deps.sh"
apt_install_missing "${MINIK8S_BUILD_DEPS[@]}" wrk haproxy
ensure_docker || echo "note: no Docker Engine; the backend runs on the host, without the docker-proxy row" >&2

BUILD=${BUILD:-$ROOT/build-bench-proxy}

if [ -z "${MINIK8S_BIN:-}" ]; then
	[ -d "$BUILD" ] || meson setup "$BUILD" "$ROOT" --buildtype=release >/dev/null
	meson compile -C "$BUILD" minik8s >/dev/null
	MINIK8S_BIN=$BUILD/minik8s
fi
export MINIK8S_BIN
exec python3 "$ROOT/bench/proxy/bench.py" "$@"
