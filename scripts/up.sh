#!/usr/bin/env bash
# Sets up minik8s on a fresh Debian 12 machine and starts a cluster: installs
# what is missing, builds, installs `minik8s` and `minictl` into
# /usr/local/bin, and starts `minik8s server` in the background (log in
# /var/log/minik8s/server.log). Running it again says the cluster is up.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

PORT=${MINIK8S_PORT:-6443}
LOG_DIR=${MINIK8S_LOG_DIR:-/var/log/minik8s}
DATA_DIR=${MINIK8S_DATA_DIR:-/var/lib/minik8s}

step() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "error: run as root (sudo scripts/up.sh): it installs packages and starts a cluster" >&2
	exit 1
fi

step "installing what is missing"
apt_install_missing "${MINIK8S_BUILD_DEPS[@]}" curl

step "building"
[ -d build ] || meson setup build --buildtype=release >/dev/null
meson compile -C build >/dev/null
ln -sf "$PWD/build/minik8s" /usr/local/bin/minik8s
ln -sf minik8s /usr/local/bin/minictl
echo "installed /usr/local/bin/minik8s and /usr/local/bin/minictl ($(minik8s --version))"

step "starting the control plane"
if curl -fsk "https://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
	echo "the cluster is already up at https://127.0.0.1:$PORT (log: $LOG_DIR/server.log)"
else
	mkdir -p "$LOG_DIR"
	nohup minik8s server --data-dir "$DATA_DIR" --secure-port "$PORT" --disable-agent \
		>>"$LOG_DIR/server.log" 2>&1 &
	echo $! >"$LOG_DIR/server.pid"
	printf 'waiting for the apiserver'
	for _ in $(seq 1 100); do
		if curl -fsk "https://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
			break
		fi
		printf '.'
		sleep 0.2
	done
	echo
	if ! curl -fsk "https://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
		echo "error: the apiserver did not come up; see $LOG_DIR/server.log" >&2
		tail -20 "$LOG_DIR/server.log" >&2
		exit 1
	fi
	echo "cluster up at https://127.0.0.1:$PORT (log: $LOG_DIR/server.log)"
fi

step "ready"
cat <<MSG
kubeconfig:   $DATA_DIR/admin.kubeconfig (also ~/.minik8s/config)
try:          KUBECONFIG=~/.minik8s/config kubectl get namespaces
              KUBECONFIG=~/.minik8s/config kubectl api-resources
stop it:      scripts/down.sh
MSG
