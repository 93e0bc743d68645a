#!/usr/bin/env bash
# Stops the cluster that scripts/up.sh started. With --purge also removes
# its data dir (all objects, certificates and tokens).
set -euo pipefail
LOG_DIR=${MINIK8S_LOG_DIR:-/var/log/minik8s}
DATA_DIR=${MINIK8S_DATA_DIR:-/var/lib/minik8s}

if [ -f "$LOG_DIR/server.pid" ] && kill -0 "$(cat "$LOG_DIR/server.pid")" 2>/dev/null; then
	pid=$(cat "$LOG_DIR/server.pid")
	kill "$pid"
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	echo "stopped minik8s server (pid $pid)"
else
	echo "no minik8s server started by scripts/up.sh is running"
fi
rm -f "$LOG_DIR/server.pid"
if [ "${1:-}" = "--purge" ]; then
	rm -rf "$DATA_DIR"
	echo "removed $DATA_DIR"
fi
