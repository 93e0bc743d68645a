#!/usr/bin/env bash
# Checks the README's first command on a fresh Debian 12: makes a new
# Debian 12 root with debootstrap (from Debian's mirror), copies this
# repository's committed tree into it, and runs `scripts/up.sh` there as root,
# then `scripts/down.sh`. Fails if any step fails. Keeps the whole output in
# docs/fresh-debian-run.txt (or $OUT).
#
#   scripts/fresh-debian.sh                 # everything, about 10 minutes
#   KEEP=1 scripts/fresh-debian.sh          # leave the root in /var/tmp/minik8s-fresh for a look
#
# The new root is a chroot on this machine's kernel and network, with its
# own Docker Engine: the machine's own dockerd is stopped for the run (one
# engine per network namespace owns docker0) and started again at the end.
# No other minik8s may run meanwhile (ports 6443, 30080, 30400). Not part of
# scripts/test.sh: it downloads ~300 MB of packages.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOT=${ROOT:-/var/tmp/minik8s-fresh}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
OUT=${OUT:-$REPO/docs/fresh-debian-run.txt}

die() {
	echo "fresh-debian: error: $*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "run as root: debootstrap, chroot and mounts"
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
	die "cannot install debootstrap"
if curl -fsk --max-time 2 https://127.0.0.1:6443/readyz >/dev/null 2>&1; then
	die "a cluster already answers on 127.0.0.1:6443: stop it first (scripts/down.sh)"
fi

host_docker_was_running=
mounted=()
cleanup() {
	local rc=$?
	set +e
	if [ -d "$ROOT/root/minik8s" ] && [ -n "${ran_up:-}" ]; then
		chroot "$ROOT" /bin/bash -c "cd /root/minik8s && scripts/down.sh --purge" >/dev/null 2>&1 || true
	fi
	pkill -f "^dockerd.*--pidfile $ROOT" 2>/dev/null || true
	[ -f "$ROOT/run/fresh-dockerd.pid" ] && kill "$(cat "$ROOT/run/fresh-dockerd.pid")" 2>/dev/null || true
	# dockerd and containerd of the root were started inside it: end them all.
	for pid in $(ps -eo pid=); do
		if [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$ROOT" ]; then kill "$pid" 2>/dev/null || true; fi
	done
	sleep 2
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -R "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
	done
	ip link del docker0 2>/dev/null || true
	if [ -n "$host_docker_was_running" ]; then
		(. "$REPO/scripts/deps.sh" && ensure_docker) >/dev/null 2>&1 || echo "fresh-debian: note: restart dockerd by hand" >&2
	fi
	# Docker's own mounts under the root go too; never delete through a mount.
	grep -o " $ROOT[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	if grep -q " $ROOT" /proc/mounts; then
		echo "fresh-debian: note: mounts remain under $ROOT; not deleting it" >&2
	elif [ -z "${KEEP:-}" ]; then
		rm -rf --one-file-system "$ROOT"
	fi
	if [ $rc -eq 0 ]; then
		echo "fresh-debian: every step passed; output kept in $OUT"
	else
		echo "fresh-debian: FAILED (exit $rc); output kept in $OUT.failed"
	fi
	exec 1>&- 2>&-
	wait "$TEE_PID" 2>/dev/null || true
	if [ $rc -eq 0 ]; then mv "$OUT.tmp" "$OUT"; else mv "$OUT.tmp" "$OUT.failed"; fi
	exit $rc
}

exec > >(tee "$OUT.tmp") 2>&1
TEE_PID=$!
trap cleanup EXIT INT TERM

{
	echo "# scripts/fresh-debian.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD)"
	echo "# host: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), $(nproc) cores"
	echo
	echo "==> debootstrap bookworm into $ROOT (minbase)"
	rm -rf "$ROOT"
	debootstrap --variant=minbase --include=ca-certificates,git,iproute2,procps bookworm "$ROOT" "$MIRROR" \
		>"$ROOT.debootstrap.log" 2>&1 || { tail -20 "$ROOT.debootstrap.log"; die "debootstrap failed"; }
	rm -f "$ROOT.debootstrap.log"
	echo "a fresh Debian $(cat "$ROOT/etc/debian_version"): $(chroot "$ROOT" dpkg-query -W | wc -l) packages"

	echo "==> the repository's committed tree into $ROOT/root/minik8s"
	mkdir -p "$ROOT/root/minik8s"
	git archive HEAD | tar -x -C "$ROOT/root/minik8s"
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

	# The root must be a mount point of its own: dockerd unpacks images in a
	# chroot of its own and remounts "/" there.
	mount --bind "$ROOT" "$ROOT"
	mounted+=("$ROOT")
	for m in proc sys dev dev/pts; do
		mount --rbind "/$m" "$ROOT/$m"
		mount --make-rslave "$ROOT/$m"
		mounted+=("$ROOT/$m")
	done
	mount -t tmpfs tmpfs "$ROOT/run"
	mounted+=("$ROOT/run")

	if curl -fsS --max-time 2 --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1; then
		echo "==> stopping this machine's dockerd for the run (the root brings its own)"
		host_docker_was_running=1
		pkill -x dockerd || true
		for _ in $(seq 1 30); do pgrep -x dockerd >/dev/null || break; sleep 1; done
		pkill -x containerd 2>/dev/null || true
		ip link del docker0 2>/dev/null || true
	fi

	echo "==> chroot: scripts/up.sh (the README's first command)"
	ran_up=1
	chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		TERM=dumb /bin/bash -c "cd /root/minik8s && scripts/up.sh"
	echo
	echo "==> chroot: scripts/up.sh again (must find the cluster up)"
	chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		TERM=dumb /bin/bash -c "cd /root/minik8s && scripts/up.sh" | grep -E "already up|unchanged|query shows" 
	echo
	echo "==> chroot: scripts/down.sh"
	chroot "$ROOT" /bin/bash -c "cd /root/minik8s && scripts/down.sh --purge"
	ran_up=
	echo
}
