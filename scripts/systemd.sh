#!/usr/bin/env bash
# Writes systemd units so a VM's cluster comes back after a reboot, enables
# and starts them. Run as root after scripts/up.sh (or after building and
# installing /usr/local/bin/minik8s).
#
#   scripts/systemd.sh server                          # this machine runs the control plane and its node
#   scripts/systemd.sh agent --server URL --token T    # this machine joins a control plane elsewhere
#   scripts/systemd.sh remove                          # stops and removes the units
#
# The units run `minik8s server` / `minik8s agent` with --data-dir
# /var/lib/minik8s (MINIK8S_DATA_DIR), after docker.service. Logs: journalctl -u minik8s-server.
set -euo pipefail
DATA_DIR=${MINIK8S_DATA_DIR:-/var/lib/minik8s}
PORT=${MINIK8S_PORT:-6443}
BIN=${MINIK8S_BIN:-$(command -v minik8s || echo /usr/local/bin/minik8s)}
UNIT_DIR=${MINIK8S_UNIT_DIR:-/etc/systemd/system}

die() {
	echo "error: $*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "run as root: it writes $UNIT_DIR/minik8s-*.service"
[ -x "$BIN" ] || die "no minik8s binary: run scripts/up.sh (or meson install) first"

unit() { # name description exec-start
	cat >"$UNIT_DIR/$1.service" <<UNIT
[Unit]
Description=$2
Documentation=file://$(cd "$(dirname "$0")/.." && pwd)/docs/agent.md
After=network-online.target docker.service
Wants=network-online.target docker.service

[Service]
ExecStart=$3
Restart=always
RestartSec=5
KillMode=process
TimeoutStopSec=60

[Install]
WantedBy=multi-user.target
UNIT
	echo "wrote $UNIT_DIR/$1.service"
}

case "${1:-}" in
server)
	unit minik8s-server "minik8s control plane and this machine's node" \
		"$BIN server --data-dir $DATA_DIR --secure-port $PORT"
	name=minik8s-server
	;;
agent)
	shift
	[ $# -gt 0 ] || [ -f "$DATA_DIR/agent/node.kubeconfig" ] ||
		die "give --server URL --token TOKEN (from 'minik8s token' on the server) the first time"
	unit minik8s-agent "minik8s node agent (kubelet and proxy)" "$BIN agent --data-dir $DATA_DIR $*"
	name=minik8s-agent
	;;
remove)
	for n in minik8s-server minik8s-agent; do
		if [ -f "$UNIT_DIR/$n.service" ]; then
			systemctl disable --now "$n" 2>/dev/null || true
			rm -f "$UNIT_DIR/$n.service"
			echo "removed $n"
		fi
	done
	systemctl daemon-reload 2>/dev/null || true
	exit 0
	;;
*)
	sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable --now "$name"
	echo "enabled and started $name: systemctl status $name; journalctl -u $name -f"
else
	echo "systemd is not running here (a container?): the unit is written; enable it with 'systemctl enable --now $name' on a machine that boots with systemd"
fi
