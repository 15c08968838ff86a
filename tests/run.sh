#!/usr/bin/env bash
# Quick start, command two: install what is missing, then build and run the
# whole test suite twice, plainly and under ASan+UBSan.  Ends with the line
# "N passed, N failed" over both runs.  Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

# valgrind: e2e-valgrind runs a crawl under memcheck in the plain build.
# chromium: e2e-browser checks mirrors in headless Chromium (with CI=true a
# missing browser fails that test instead of skipping it).
# redis-server: redis-client starts its own on a free loopback port (the
# package's system service is not used).
tests/deps.sh valgrind chromium redis-server || exit 1
# node and npm: tests/warc/setup.sh installs warcio.js (pinned in
# tests/warc/package-lock.json), with which warc-tools, e2e-warc and
# e2e-warc_hostile read WARC files.  Asked for only when a command is
# missing: NodeSource's nodejs bundles npm, and Debian's npm package would
# conflict with it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  tests/deps.sh nodejs npm || exit 1
fi
tests/warc/setup.sh || exit 1

passed=0
failed=0
status=0

# run_suite NAME MESON_SETUP_ARGS...
run_suite() {
  local dir=$1
  shift
  echo "== $dir: meson setup $*"
  if [ ! -d "$dir" ]; then
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; status=1; failed=$((failed+1)); return; }
  fi
  if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
    cat "$dir.build.log"
    status=1
    failed=$((failed+1))
    return
  fi
  meson test -C "$dir" --print-errorlogs --num-processes 2
  [ $? -eq 0 ] || status=1
  # Meson writes one JSON object per test to testlog.json.
  local counts
  counts=$(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r != "SKIP":
        f += 1
print(p, f)
PY
)
  passed=$((passed + ${counts% *}))
  failed=$((failed + ${counts#* }))
}

run_suite build-test --buildtype=debugoptimized
# -fno-sanitize-recover makes UBSan findings fail the test, not just print.
run_suite build-asan --buildtype=debug -Db_sanitize=address,undefined \
  -Dc_args=-fno-sanitize-recover=all -Dc_link_args=-fno-sanitize-recover=all

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
