#!/bin/bash
# Builds the classroom blog's Docker images on this machine, with no registry
# and no base image: the `blog` binary (release build), every shared library
# ldd says it needs, a few files in /etc and busybox-static for poking around
# in class, tarred and `docker import`ed once per service. The six images hold
# the same root filesystem (Docker stores its layer once) and differ only in
# CMD and EXPOSE. Running it again re-imports only what changed.
#
#   examples/blog/build-images.sh          # build and import all six
#
# Environment: BLOG_BIN=path uses that binary instead of building one;
# BLOG_BUILD_DIR (default: build-blog at the top of the repository) is the
# meson build directory; BLOG_TAG (default 1) is the image tag.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BLOG_BUILD_DIR:-$repo/build-blog}
tag=${BLOG_TAG:-1}
sock=/var/run/docker.sock

# image  subcommand  port
images=(
	"posts      posts      4000"
	"comments   comments   4001"
	"query      query      4002"
	"moderation moderation 4003"
	"event-bus  event-bus  4005"
	"client     client     8080"
)

say() { printf 'build-images: %s\n' "$*"; }
die() { printf 'build-images: error: %s\n' "$*" >&2; exit 1; }

# --- a Docker engine must answer -------------------------------------------
command -v docker >/dev/null || die "no 'docker' command: install it with 'apt-get install docker.io'"
if command -v curl >/dev/null; then
	ping=$(curl -s --max-time 5 --unix-socket "$sock" http://localhost/_ping 2>/dev/null || true)
else
	ping=$(docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && echo OK || true)
fi
if [ "$ping" != OK ]; then
	die "no Docker engine answers on $sock: start one with 'systemctl start docker' (or 'dockerd >/var/log/dockerd.log 2>&1 &'), then run this again"
fi

# --- the binary -----------------------------------------------------------------
if [ -n "${BLOG_BIN:-}" ]; then
	bin=$BLOG_BIN
	[ -x "$bin" ] || die "BLOG_BIN='$bin' is not an executable"
else
	command -v meson >/dev/null || die "no 'meson': install it with 'apt-get install meson ninja-build'"
	if [ ! -f "$build/build.ninja" ]; then
		say "configuring $build (release, no sanitizers)"
		meson setup "$build" "$repo" --buildtype=release -Db_sanitize=none >/dev/null ||
			die "meson setup of '$build' failed"
	fi
	say "building the blog binary in $build"
	meson compile -C "$build" examples/blog/blog >/dev/null ||
		die "cannot build the 'blog' target in '$build' (does the top meson.build have subdir('examples/blog')?)"
	bin=$build/examples/blog/blog
fi

busybox=
for b in /bin/busybox /usr/bin/busybox; do
	if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then busybox=$b; break; fi
done
[ -n "$busybox" ] || die "no static busybox: install it with 'apt-get install busybox-static'"

# --- the root filesystem -------------------------------------------------------
work=$(mktemp -d /tmp/blog-images.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/bin "$root"/etc "$root"/tmp "$root"/root
chmod 1777 "$root"/tmp
install -m 0755 "$bin" "$root"/bin/blog
install -m 0755 "$busybox" "$root"/bin/busybox
for tool in sh ls cat ps env sleep wget nc nslookup; do
	ln -s busybox "$root/bin/$tool"
done

# Every library the loader will look for, at the path ldd found it: the
# interpreter (/lib64/ld-linux-x86-64.so.2) and /lib/x86_64-linux-gnu/...
if ldd "$bin" | grep -q 'not found'; then
	die "'$bin' needs libraries this machine lacks: $(ldd "$bin" | grep 'not found' | tr -d '\t' | tr '\n' ' ')"
fi
libs=$(ldd "$bin" | awk '/=> \// { print $3 } /^\t\// { print $1 }')
[ -n "$libs" ] || die "ldd found no libraries for '$bin': is it a dynamic executable?"
for lib in $libs; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done

cat >"$root"/etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root"/etc/group <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
# glibc 2.36 has nss files and dns inside libc.so.6: nothing else to copy.
cat >"$root"/etc/nsswitch.conf <<'EOF'
passwd: files
group: files
hosts: files dns
EOF

# Same content, same bytes: sorted names, fixed times and owners.
tarball=$work/rootfs.tar
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$tarball" .
sum=$(sha256sum "$tarball" | cut -c1-64)
size=$(du -h "$tarball" | cut -f1)
say "root filesystem: $size, $(echo "$libs" | wc -w) libraries, sha256 ${sum:0:12}"

# --- one image per service ------------------------------------------------------
names=()
for row in "${images[@]}"; do
	read -r name cmd port <<<"$row"
	image=minik8s/blog-$name:$tag
	names+=("$image")
	# The import's comment records what went in; equal means nothing to do.
	want="blog rootfs sha256:$sum cmd:$cmd port:$port"
	have=$(docker image inspect -f '{{.Comment}}' "$image" 2>/dev/null || true)
	if [ "$have" = "$want" ]; then
		say "$image up to date ($(docker image inspect -f '{{.Id}}' "$image" | cut -c8-19))"
		continue
	fi
	old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
	id=$(docker import -m "$want" \
		-c "CMD [\"/bin/blog\", \"$cmd\"]" \
		-c "EXPOSE $port" \
		-c "ENV PATH=/bin" \
		-c "USER 65534:65534" \
		"$tarball" "$image")
	say "built $image (${id:7:12}): CMD /bin/blog $cmd, port $port"
	# The image the tag left behind, unless a container still uses it.
	if [ -n "$old" ] && [ "$old" != "$id" ]; then
		docker image rm "$old" >/dev/null 2>&1 || true
	fi
done

# --- it runs, and resolves names through nsswitch.conf --------------------------
check=minik8s/blog-posts:$tag
out=$(docker run --rm --add-host blog-check:192.0.2.10 "$check" /bin/blog resolve blog-check 2>&1) ||
	die "'$check' cannot resolve names (files): $out"
[ "$out" = "blog-check 192.0.2.10" ] || die "'$check' resolved blog-check to '$out', want 192.0.2.10"
say "checked: /bin/blog starts in $check and resolves names from /etc/hosts"
say "done: ${names[*]}"
