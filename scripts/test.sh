#!/usr/bin/env bash
# Runs every test: unit, integration (the real binary on loopback), fuzz
# corpus replays and bounded libFuzzer runs, all under AddressSanitizer and
# UndefinedBehaviorSanitizer. Installs what is missing first (Debian 12, as
# root). Ends with one line: "N passed, N failed".
#
#   scripts/test.sh                 everything
#   scripts/test.sh --suite unit    one meson suite
#   FUZZ_SECONDS=0 scripts/test.sh  skip the libFuzzer runs
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
# deps.sh turns on -e for its own callers; here a failing test must not end
# the run before the counts are printed.
set +e

apt_install_missing "${MINIK8S_BUILD_DEPS[@]}" "${MINIK8S_TEST_DEPS[@]}" || exit 1
if [ "$(id -u)" -eq 0 ]; then
	fetch_kubectl_120
	# The e2e suite drives a real Docker Engine; without one those tests skip.
	ensure_docker || echo "note: no Docker Engine; e2e tests will skip" >&2
fi

BUILD=${BUILD:-build-test}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
passed=0
failed=0

if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || exit 1
fi
if ! meson compile -C "$BUILD"; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1
meson test -C "$BUILD" --print-errorlogs --num-processes 2 "$@"
meson_rc=$?
# Count meson's results from its JSON log (one object per test).
read -r p f < <(python3 - "$BUILD/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["result"] in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r["result"] != "SKIP":
        f += 1
print(p, f)
PY
)
passed=$((passed + p))
failed=$((failed + f))
[ $meson_rc -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))

# libFuzzer: each target for a bounded time on its corpus, with clang.
if [ "$FUZZ_SECONDS" -gt 0 ] && [ $# -eq 0 ] && command -v clang >/dev/null; then
	FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
	if [ ! -d "$FUZZ_BUILD" ]; then
		CC=clang meson setup "$FUZZ_BUILD" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	fi
	targets=()
	for d in tests/fuzz/corpus/*/; do
		targets+=("fuzz-$(basename "$d")")
	done
	if meson compile -C "$FUZZ_BUILD" "${targets[@]}" >/dev/null; then
		for target in "${targets[@]}"; do
			t="$FUZZ_BUILD/tests/$target"
			name=${target#fuzz-}
			corpus=tests/fuzz/corpus/$name
			work=$(mktemp -d)
			if "$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
				"$work" "$corpus" >"$work.log" 2>&1; then
				echo "fuzz $name: ok (${FUZZ_SECONDS}s)"
				passed=$((passed + 1))
			else
				echo "fuzz $name: FAILED"; tail -40 "$work.log"
				failed=$((failed + 1))
			fi
			rm -rf "$work" "$work.log"
		done
	else
		echo "fuzz build failed"; failed=$((failed + 1))
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
