#!/bin/sh
# bench/scheduler: 1,000 hollow nodes, then 30,000 pods, on a release build.
# Prints pods bound/s, the time until all are Running and the control
# plane's peak RSS, next to the time the same apiserver takes just to accept
# 30,000 pod creates (see README.md).
#
#   bench/scheduler/run.sh                 # build build-bench-sched, run
#   NODES=100 PODS=3000 bench/scheduler/run.sh
#   WORKLOAD=deployments bench/scheduler/run.sh   # once the controller manager runs
#
# MINIK8S_BIN / BENCH_BIN point at prebuilt binaries (then nothing is built).
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench-sched}
NODES=${NODES:-1000}
PODS=${PODS:-30000}
CONCURRENCY=${CONCURRENCY:-64}
WORKLOAD=${WORKLOAD:-pods}
DEPLOYMENTS=${DEPLOYMENTS:-30}
SERVER_ARGS=${SERVER_ARGS:-}

if [ -z "${MINIK8S_BIN:-}" ]; then
	[ -d "$BUILD" ] || meson setup "$BUILD" "$ROOT" --buildtype=release >/dev/null
	meson compile -C "$BUILD" minik8s bench-scheduler >/dev/null
	MINIK8S_BIN=$BUILD/minik8s
	BENCH_BIN=$BUILD/src/scheduler/bench-scheduler
fi
BENCH_BIN=${BENCH_BIN:-$(dirname "$MINIK8S_BIN")/bench-scheduler}

TMP=$(mktemp -d /tmp/minik8s-bench-sched.XXXXXX)
SERVER_PID=
HOLLOW_PID=
cleanup() {
	[ -n "$HOLLOW_PID" ] && kill "$HOLLOW_PID" 2>/dev/null || true
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ -z "${KEEP:-}" ]; then rm -rf "$TMP"; else echo "logs kept in $TMP"; fi
}
trap cleanup EXIT INT TERM

# The node IPAM controller, when there is one, needs a range with a /24 for
# each of the nodes (10.0.0.0/8 has 65,536).
if "$MINIK8S_BIN" server --help 2>&1 | grep -q -- '--cluster-cidr'; then
	SERVER_ARGS="$SERVER_ARGS --cluster-cidr 10.0.0.0/8"
fi

mkdir -p "$TMP/home"
HOME=$TMP/home "$MINIK8S_BIN" server --data-dir "$TMP/data" --secure-port 0 --bind-address 127.0.0.1 \
	--disable-agent $SERVER_ARGS >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
	grep -q "apiserver ready" "$TMP/server.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "apiserver ready" "$TMP/server.log" || { tail -20 "$TMP/server.log"; exit 1; }
KUBECONFIG_FILE=$TMP/data/admin.kubeconfig

HOME=$TMP/home "$MINIK8S_BIN" hollow-node --kubeconfig "$KUBECONFIG_FILE" --count "$NODES" \
	--name-prefix hollow >"$TMP/hollow.log" 2>&1 &
HOLLOW_PID=$!

echo "minik8s scheduler benchmark: $NODES hollow nodes, $PODS pods ($WORKLOAD), $(nproc) cores"
set -- --kubeconfig "$KUBECONFIG_FILE" --pods "$PODS" --nodes "$NODES" --concurrency "$CONCURRENCY" \
	--server-pid "$SERVER_PID" --hollow-pid "$HOLLOW_PID"
[ "$WORKLOAD" = deployments ] && set -- "$@" --deployments "$DEPLOYMENTS"
"$BENCH_BIN" "$@"
echo "hollow-node peak RSS: $(awk '/VmHWM/ {print int($2/1024) " MB"}' /proc/$HOLLOW_PID/status)"
grep "scheduler stats" "$TMP/server.log" | tail -3 || true
