#!/usr/bin/env bash
# bench/apiserver/run.sh: benchmarks the minik8s API server on this machine.
# Starts its own `minik8s apiserver` (temp data dir, 127.0.0.1, random port)
# and, when Debian's etcd is available, an etcd on 127.0.0.1 as a baseline;
# runs bench-apiserver (the C load client) against both and prints one table;
# then stops everything and removes its temp dir, also on Ctrl-C.
#
#   bench/apiserver/run.sh            full run (15 s on an idle 2-core machine)
#   bench/apiserver/run.sh --quick    small counts: a smoke test of the bench
#   bench/apiserver/run.sh --no-etcd  skip the etcd baseline
#   bench/apiserver/run.sh -- --connections 8 --creates 5000   (client flags)
#
# Environment: BENCH_BUILD_DIR (default build-bench, a release build made if
# missing), MINIK8S_BIN and BENCH_CLIENT (use these binaries, build nothing),
# BENCH_COMMAND=server (benchmark `minik8s server --disable-agent` instead of
# the apiserver alone), MINIK8S_TOOLS (where etcd is unpacked if it is not
# installed; default ~/.cache/minik8s).
# Exit status: 0 when every request succeeded, 1 when anything broke.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
COMMAND=${BENCH_COMMAND:-apiserver}
TOOLS=${MINIK8S_TOOLS:-$HOME/.cache/minik8s}
QUICK=0
USE_ETCD=1
CLIENT_ARGS=()

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--no-etcd) USE_ETCD=0 ;;
	--) shift; CLIENT_ARGS+=("$@"); break ;;
	-h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done

die() { echo "bench: $*" >&2; exit 1; }

# --- binaries ------------------------------------------------------------------
if [ -n "${MINIK8S_BIN:-}" ] && [ -n "${BENCH_CLIENT:-}" ]; then
	BIN=$MINIK8S_BIN
	CLIENT=$BENCH_CLIENT
else
	BIN=${MINIK8S_BIN:-$BUILD/minik8s}
	CLIENT=${BENCH_CLIENT:-$BUILD/bench/bench-apiserver}
	if [ ! -f "$BUILD/build.ninja" ]; then
		echo "bench: making a release build in $BUILD (no sanitizers)"
		meson setup "$BUILD" "$ROOT" --buildtype=release >/dev/null
	fi
	targets=(minik8s)
	if [ -z "${BENCH_CLIENT:-}" ]; then
		if grep -q "subdir('bench')" "$ROOT/meson.build"; then
			targets+=(bench-apiserver)
		else
			# The bench is not in the root meson.build yet: build the client by hand.
			CLIENT=$BUILD/bench-apiserver.manual
			mkdir -p "$BUILD"
			# shellcheck disable=SC2046 # pkg-config's flags are meant to split
			cc -std=gnu11 -O2 -D_GNU_SOURCE -DMINIK8S_VERSION='"bench"' -I"$ROOT/src" -I"$ROOT/src/core" \
				"$ROOT/bench/apiserver/bench-apiserver.c" "$ROOT/src/core/util.c" "$ROOT/src/core/log.c" \
				-o "$CLIENT" $(pkg-config --cflags --libs openssl jansson) -lm ||
				die "cannot build the load client"
		fi
	fi
	if [ -z "${MINIK8S_BIN:-}" ] || [ "${#targets[@]}" -gt 1 ]; then
		meson compile -C "$BUILD" -j2 "${targets[@]}" >"$BUILD/bench-build.log" 2>&1 ||
			{ tail -20 "$BUILD/bench-build.log" >&2; die "build failed (log: $BUILD/bench-build.log)"; }
	fi
fi
[ -x "$BIN" ] || die "no minik8s binary at '$BIN'"
[ -x "$CLIENT" ] || die "no load client at '$CLIENT'"
command -v curl >/dev/null || die "curl is needed to wait for the servers (apt-get install curl)"

# --- cleanup, also on Ctrl-C ------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/minik8s-bench.XXXXXX")
SERVER_PID=
ETCD_PID=
CLIENT_PID=

stop() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	trap - EXIT INT TERM
	stop "$CLIENT_PID"
	stop "$SERVER_PID"
	stop "$ETCD_PID"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# kill -0 succeeds on a zombie that bash has not reaped yet: look at the state.
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $st in Z*) return 1 ;; esac
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_url() { # what, url, pid, log, curl args...
	local what=$1 url=$2 pid=$3 log=$4
	shift 4
	for _ in $(seq 300); do
		alive "$pid" || { tail -30 "$log" >&2; die "$what exited before it was ready"; }
		if curl -sf -o /dev/null --max-time 2 "$@" "$url"; then
			return 0
		fi
		sleep 0.1
	done
	tail -30 "$log" >&2
	die "$what was not ready after 30 s"
}

# --- the minik8s server -----------------------------------------------------------
mkdir -p "$TMP/home"
server_args=("$COMMAND" --data-dir "$TMP/data" --secure-port 0 --bind-address 127.0.0.1)
[ "$COMMAND" = server ] && server_args+=(--disable-agent)
# HOME points into the temp dir: `server` writes ~/.minik8s/config otherwise.
HOME="$TMP/home" "$BIN" "${server_args[@]}" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 300); do
	alive "$SERVER_PID" || { tail -30 "$TMP/server.log" >&2; die "minik8s $COMMAND exited at start"; }
	PORT=$(sed -n 's/.*apiserver listening address=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$TMP/server.log" | head -1)
	[ -n "$PORT" ] && break
	sleep 0.1
done
[ -n "$PORT" ] || { tail -30 "$TMP/server.log" >&2; die "minik8s $COMMAND did not say which port it listens on"; }
CA=$TMP/data/pki/ca.crt
TOKEN=$TMP/data/pki/admin.token
wait_url "minik8s $COMMAND" "https://127.0.0.1:$PORT/readyz" "$SERVER_PID" "$TMP/server.log" --cacert "$CA"
[ -s "$TOKEN" ] || die "no admin token at '$TOKEN'"

# --- etcd, the baseline -------------------------------------------------------------
ETCD_NOTE=
ETCD_ARGS=()
find_etcd() {
	if command -v etcd >/dev/null; then
		command -v etcd
		return
	fi
	local dir=$TOOLS/etcd-server
	if [ ! -x "$dir/usr/bin/etcd" ]; then
		# Unpack Debian's package rather than installing it: installing would
		# also enable a system etcd service, which a benchmark has no business doing.
		mkdir -p "$dir" "$TMP/deb"
		(cd "$TMP/deb" && apt-get download etcd-server >/dev/null 2>&1) || return 1
		dpkg -x "$TMP"/deb/etcd-server_*.deb "$dir" || return 1
	fi
	echo "$dir/usr/bin/etcd"
}
if [ "$USE_ETCD" = 1 ]; then
	if ETCD=$(find_etcd); then
		EC=$(free_port)
		EP=$(free_port)
		while [ "$EP" = "$EC" ]; do EP=$(free_port); done
		# ETCD_* variables would override flags; the bench wants only its own.
		(
			for v in $(compgen -e | grep '^ETCD_' || true); do unset "$v"; done
			exec "$ETCD" --name bench --data-dir "$TMP/etcd" \
				--listen-client-urls "http://127.0.0.1:$EC" --advertise-client-urls "http://127.0.0.1:$EC" \
				--listen-peer-urls "http://127.0.0.1:$EP" --initial-advertise-peer-urls "http://127.0.0.1:$EP" \
				--initial-cluster "bench=http://127.0.0.1:$EP" --initial-cluster-state new \
				--initial-cluster-token "minik8s-bench-$$" \
				--logger zap --log-outputs stderr --log-level warn
		) >"$TMP/etcd.log" 2>&1 &
		ETCD_PID=$!
		wait_url etcd "http://127.0.0.1:$EC/health" "$ETCD_PID" "$TMP/etcd.log"
		ETCD_ARGS=(--etcd "http://127.0.0.1:$EC" --etcd-pid "$ETCD_PID")
		ETCD_VERSION=$("$ETCD" --version | head -1)
	else
		ETCD_NOTE="etcd baseline skipped: etcd is not installed and Debian's etcd-server could not be fetched (apt-get install etcd-server)"
	fi
else
	ETCD_NOTE="etcd baseline skipped (--no-etcd)"
fi

# --- run ----------------------------------------------------------------------------
SIZE_ARGS=()
[ "$QUICK" = 1 ] && SIZE_ARGS=(--healthz 2000 --creates 1000 --gets 2000 --lists 20 --list-size 100 \
	--watchers 20 --watch-events 200)

echo "minik8s apiserver benchmark"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(uname -sr)"
echo "server: $("$BIN" --version) \`minik8s $COMMAND\`, $(basename "$BIN") from $(dirname "$BIN"), pid $SERVER_PID, https://127.0.0.1:$PORT"
[ -n "${ETCD_VERSION:-}" ] && echo "baseline: $ETCD_VERSION on http://127.0.0.1:$EC (JSON gateway), pid $ETCD_PID"
[ -n "$ETCD_NOTE" ] && echo "$ETCD_NOTE"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every number)"
echo "note: client and servers share these $(nproc) CPUs and numbers vary with machine load; compare the ratios."
echo

rc=0
"$CLIENT" --server "https://127.0.0.1:$PORT" --ca "$CA" --token-file "$TOKEN" --server-pid "$SERVER_PID" \
	"${ETCD_ARGS[@]}" "${SIZE_ARGS[@]}" "${CLIENT_ARGS[@]}" &
CLIENT_PID=$!
wait "$CLIENT_PID" || rc=$?
CLIENT_PID=
[ -n "$ETCD_NOTE" ] && echo "$ETCD_NOTE"

if ! alive "$SERVER_PID"; then
	tail -30 "$TMP/server.log" >&2
	die "the minik8s server died during the run"
fi
if [ "$rc" != 0 ]; then
	echo "--- server log tail ---" >&2
	tail -20 "$TMP/server.log" >&2
	die "the benchmark failed (client exit $rc)"
fi
