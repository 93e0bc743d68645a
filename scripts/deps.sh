#!/usr/bin/env bash
# Installs what minik8s needs to build and test on Debian 12, only what is
# missing. Sourced by scripts/up.sh and scripts/test.sh; run as root.
set -euo pipefail

MINIK8S_BUILD_DEPS=(meson ninja-build pkg-config gcc libuv1-dev libcurl4-openssl-dev libjansson-dev
	libyaml-dev libsqlite3-dev libzstd-dev libjemalloc-dev libssl-dev libhttp-parser-dev python3 ca-certificates)
# chromium: the blog tests load the page in a headless browser (test_browser).
MINIK8S_TEST_DEPS=(clang libclang-rt-14-dev curl chromium)

apt_install_missing() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		if [ "$(id -u)" -ne 0 ]; then
			echo "error: missing packages: ${missing[*]}; run as root or install them with apt-get" >&2
			return 1
		fi
		echo "installing: ${missing[*]}"
		if [ -z "${MINIK8S_APT_UPDATED:-}" ]; then
			apt-get update -qq
			export MINIK8S_APT_UPDATED=1
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# kubectl 1.20 (Debian's kubernetes-client) unpacked beside, not installed:
# it would clash with a newer kubectl on the machine.
fetch_kubectl_120() {
	local dir="${MINIK8S_TOOLS:-$HOME/.cache/minik8s}/kubectl-1.20"
	[ -x "$dir/usr/bin/kubectl" ] && return 0
	local tmp
	tmp=$(mktemp -d)
	if (cd "$tmp" && apt-get download kubernetes-client >/dev/null 2>&1); then
		mkdir -p "$dir"
		dpkg -x "$tmp"/kubernetes-client_*.deb "$dir"
	else
		echo "note: could not download Debian's kubernetes-client; kubectl 1.20 tests will skip" >&2
	fi
	rm -rf "$tmp"
}

# A Docker Engine on /var/run/docker.sock: installs Debian's docker.io when
# missing and starts dockerd when no daemon answers, then waits for it.
# Checks the socket, not the client: a docker client can exist without an engine.
docker_answers() {
	curl -fsS --max-time 2 --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1
}

ensure_docker() {
	docker_answers && return 0
	apt_install_missing docker.io iptables busybox-static || return 1
	docker_answers && return 0
	mkdir -p /var/log/minik8s
	echo "starting dockerd (log: /var/log/minik8s/dockerd.log)"
	nohup dockerd >>/var/log/minik8s/dockerd.log 2>&1 &
	for _ in $(seq 1 60); do
		docker_answers && return 0
		sleep 1
	done
	echo "error: dockerd did not answer on /var/run/docker.sock within 60s; see /var/log/minik8s/dockerd.log" >&2
	return 1
}
