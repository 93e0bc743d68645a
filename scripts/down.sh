#!/usr/bin/env bash
# Stops the cluster that scripts/up.sh started and cleans up after it: the
# server (or, after `up.sh --join`, agent) process, the containers its kubelet ran (label io.minik8s.node),
# the node's Docker network, the proxy's minik8s0 interface, the agent's
# routes and the kubelet's iptables rules. With --purge it also removes the data dir (every object, the
# certificates and tokens) so the next up.sh starts a new cluster.
set -euo pipefail
LOG_DIR=${MINIK8S_LOG_DIR:-/var/log/minik8s}
DATA_DIR=${MINIK8S_DATA_DIR:-/var/lib/minik8s}

stopped=
for what in server agent; do
	pidfile=$LOG_DIR/$what.pid
	if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		pid=$(cat "$pidfile")
		kill "$pid"
		for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
		echo "stopped minik8s $what (pid $pid)"
		stopped=1
	fi
	rm -f "$pidfile"
done
[ -n "$stopped" ] || echo "no minik8s server or agent started by scripts/up.sh is running"

if curl -fsS --max-time 2 --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1; then
	ids=$(docker ps -aq --filter label=io.minik8s.node)
	if [ -n "$ids" ]; then
		# shellcheck disable=SC2086
		docker rm -f $ids >/dev/null
		echo "removed $(echo "$ids" | wc -l) pod containers"
	fi
	for net in $(docker network ls --format '{{.Name}}' | grep '^minik8s-' || true); do
		docker network rm "$net" >/dev/null && echo "removed docker network $net"
	done
fi
ip link del minik8s0 2>/dev/null && echo "removed interface minik8s0" || true
ip route flush proto 77 2>/dev/null || true
# The kubelet's rules for the pod network (--non-masquerade-cidr, 10.244.0.0/16).
cidr=${MINIK8S_CLUSTER_CIDR:-10.244.0.0/16}
if command -v iptables >/dev/null; then
	while iptables -w -D DOCKER-USER -s "$cidr" -j ACCEPT 2>/dev/null; do :; done
	while iptables -w -D DOCKER-USER -d "$cidr" -j ACCEPT 2>/dev/null; do :; done
	while iptables -w -t nat -D POSTROUTING -s "$cidr" -d "$cidr" -j RETURN 2>/dev/null; do :; done
fi

if [ "${1:-}" = "--purge" ]; then
	rm -rf "$DATA_DIR"
	echo "removed $DATA_DIR"
fi
