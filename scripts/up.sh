#!/usr/bin/env bash
# The README's first command. On a fresh Debian 12 machine, as root: installs
# what is missing, builds, installs `minik8s` and `minictl` into
# /usr/local/bin, starts dockerd when no engine answers, starts `minik8s
# server` (control plane and this machine's node) in the background, builds
# the blog's images into Docker, applies examples/blog/blog.yaml, waits for
# every deployment with progress, then prints the URLs and runs a smoke test
# through the query service. Running it again finds the cluster up and
# changes nothing that is already right.
#
#   scripts/up.sh                          everything
#   MINIK8S_NO_BLOG=1 scripts/up.sh        only the cluster
#   scripts/up.sh --join URL TOKEN         this machine joins the cluster at URL as a node
#                                          (`minik8s agent`, log /var/log/minik8s/agent.log)
#
# Environment: MINIK8S_PORT (6443), MINIK8S_DATA_DIR (/var/lib/minik8s),
# MINIK8S_LOG_DIR (/var/log/minik8s).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

PORT=${MINIK8S_PORT:-6443}
LOG_DIR=${MINIK8S_LOG_DIR:-/var/log/minik8s}
DATA_DIR=${MINIK8S_DATA_DIR:-/var/lib/minik8s}
export KUBECONFIG=$DATA_DIR/admin.kubeconfig

step() { printf '\n==> %s\n' "$*"; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}
readyz() { curl -fsk --max-time 2 "https://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo scripts/up.sh): it installs packages, starts dockerd and a cluster"
JOIN_URL=
if [ "${1:-}" = "--join" ]; then
	[ $# -eq 3 ] || die "usage: scripts/up.sh --join https://SERVER:6443 TOKEN (the token: 'minik8s token' on the server)"
	JOIN_URL=$2
	JOIN_TOKEN=$3
elif [ $# -gt 0 ]; then
	die "unknown argument '$1'; usage: scripts/up.sh [--join URL TOKEN]"
fi

step "installing what is missing"
apt_install_missing "${MINIK8S_BUILD_DEPS[@]}" curl
ensure_docker || die "no Docker Engine; see /var/log/minik8s/dockerd.log"

step "building"
[ -d build ] || meson setup build --buildtype=release -Db_sanitize=none >/dev/null
meson compile -C build >/dev/null || die "the build failed: run 'meson compile -C build' to see why"
ln -sf "$PWD/build/minik8s" /usr/local/bin/minik8s
ln -sf minik8s /usr/local/bin/minictl
echo "installed /usr/local/bin/minik8s and /usr/local/bin/minictl ($(minik8s --version))"

if [ -n "$JOIN_URL" ]; then
	step "joining $JOIN_URL"
	if [ -f "$LOG_DIR/agent.pid" ] && kill -0 "$(cat "$LOG_DIR/agent.pid")" 2>/dev/null; then
		echo "the agent is already running (log: $LOG_DIR/agent.log)"
		exit 0
	fi
	mkdir -p "$LOG_DIR"
	nohup minik8s agent --data-dir "$DATA_DIR" --server "$JOIN_URL" --token "$JOIN_TOKEN" \
		>>"$LOG_DIR/agent.log" 2>&1 &
	echo $! >"$LOG_DIR/agent.pid"
	for _ in $(seq 1 150); do
		grep -q "agent running" "$LOG_DIR/agent.log" 2>/dev/null && break
		kill -0 "$(cat "$LOG_DIR/agent.pid")" 2>/dev/null || break
		sleep 0.2
	done
	if ! grep -q "agent running" "$LOG_DIR/agent.log"; then
		tail -5 "$LOG_DIR/agent.log" >&2
		die "the agent did not start; see $LOG_DIR/agent.log"
	fi
	echo "joined: check with 'minictl get nodes -o wide' on the server (log: $LOG_DIR/agent.log)"
	exit 0
fi

step "starting the cluster"
if readyz; then
	echo "the cluster is already up at https://127.0.0.1:$PORT (log: $LOG_DIR/server.log)"
else
	mkdir -p "$LOG_DIR"
	nohup minik8s server --data-dir "$DATA_DIR" --secure-port "$PORT" >>"$LOG_DIR/server.log" 2>&1 &
	echo $! >"$LOG_DIR/server.pid"
	printf 'waiting for the apiserver'
	for _ in $(seq 1 150); do
		readyz && break
		printf '.'
		sleep 0.2
	done
	echo
	if ! readyz; then
		tail -20 "$LOG_DIR/server.log" >&2
		die "the apiserver did not come up; see $LOG_DIR/server.log"
	fi
	echo "cluster up at https://127.0.0.1:$PORT (log: $LOG_DIR/server.log)"
fi
printf 'waiting for this machine'"'"'s node to be Ready'
for _ in $(seq 1 120); do
	if minictl get nodes --no-headers 2>/dev/null | awk '$2 == "Ready" { ok = 1 } END { exit !ok }'; then
		break
	fi
	printf '.'
	sleep 0.5
done
echo
minictl get nodes -o wide
minictl get nodes --no-headers | grep -q ' Ready ' ||
	die "no node became Ready: see $LOG_DIR/server.log (is dockerd running? 'docker info')"

if [ -n "${MINIK8S_NO_BLOG:-}" ]; then
	step "ready"
	echo "kubeconfig: $KUBECONFIG (also ~/.minik8s/config); stop it with scripts/down.sh"
	exit 0
fi

step "building the blog's images"
BLOG_BIN=$PWD/build/examples/blog/blog bash examples/blog/build-images.sh

step "applying examples/blog/blog.yaml"
minictl apply -f examples/blog/blog.yaml

step "waiting for the deployments"
for d in event-bus-depl posts-depl comments-depl moderation-depl query-depl client-depl; do
	minictl rollout status "deployment/$d" --timeout 180s ||
		die "deployment $d did not become available: try 'minictl describe deployment $d' and 'minictl get events'"
done

step "smoke test"
BLOG_URL=http://127.0.0.1:30080 bash examples/blog/smoke.sh

node_ip=$(minictl get nodes -o wide --no-headers 2>/dev/null | awk 'NR == 1 { print $6 }')
node_ip=${node_ip:-127.0.0.1}
step "ready"
cat <<MSG
the blog:      http://$node_ip:30080/       (the web page; also http://127.0.0.1:30080/)
posts API:     http://$node_ip:30400/posts
look around:   minictl get all -o wide
               minictl logs deploy/query-depl
kubectl:       export KUBECONFIG=~/.minik8s/config
classroom:     docs/demos.md
stop it:       scripts/down.sh      (--purge also deletes the cluster's data)
MSG
