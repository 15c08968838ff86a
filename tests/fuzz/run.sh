#!/usr/bin/env bash
# run.sh TARGET SECONDS [LIBFUZZER_OPTION...]
#
# Builds the libFuzzer targets with clang under ASan+UBSan (in build-fuzz/
# at the top of the tree, set up on first use) and fuzzes TARGET - url,
# pathmap, links, robots or input - for SECONDS seconds.
#
# The committed seed corpus is never touched: the run works on a scratch
# copy, so what the fuzzer learns stays out of git unless someone chooses
# to keep an input.  Crashes land in the scratch directory, whose path is
# printed at the end; a crash worth keeping goes to tests/fuzz/regress/
# TARGET/ (after -minimize_crash=1, see README.md) and from then on every
# `meson test` replays it.
#
# Extra arguments go to libFuzzer as they are (-jobs, -dict, -seed=N...).
# Environment: FUZZ_BUILD (build dir, default build-fuzz), FUZZ_SCRATCH
# (default: a new directory under ${TMPDIR:-/tmp}).
set -euo pipefail

usage() {
  echo "usage: $0 url|pathmap|links|robots|input|sitemap SECONDS [LIBFUZZER_OPTION...]" >&2
  exit 2
}

[ $# -ge 2 ] || usage
target=$1
seconds=$2
shift 2
case $target in
  url|pathmap|links|robots|input|sitemap) ;;
  *) usage ;;
esac
case $seconds in
  ''|*[!0-9]*) usage ;;
esac

top=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-$top/build-fuzz}

if [ ! -d "$build" ]; then
  # b_lundef=false: clang's sanitizer runtimes are linked by the driver and
  # leave symbols that -Wl,--no-undefined would refuse.
  CC=clang meson setup "$build" "$top" -Dfuzzing=true \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all \
    -Dc_link_args=-fno-sanitize-recover=all >/dev/null
fi
ninja -C "$build" "tests/fuzz/fuzz_$target" >/dev/null

scratch=${FUZZ_SCRATCH:-$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$target.XXXXXX")}
mkdir -p "$scratch/corpus" "$scratch/crashes"
cp -p "$top/tests/fuzz/corpus/$target/." "$scratch/corpus/" -R
cp -p "$top/tests/fuzz/regress/$target/." "$scratch/corpus/" -R
rm -f "$scratch/corpus/.gitkeep"

# Per target: the list reader needs lines past CR_INPUT_LINE_MAX (8 KiB)
# to reach its truncation; links and robots profit from whole pages.
case $target in
  input) maxlen=20000 ;;
  links|robots) maxlen=16384 ;;
  *) maxlen=4096 ;;
esac

status=0
"$build/tests/fuzz/fuzz_$target" "$scratch/corpus" \
  -max_total_time="$seconds" -max_len="$maxlen" -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$scratch/crashes/" "$@" 2>&1 | tee "$scratch/log" || status=$?

echo
echo "log:       $scratch/log"
echo "corpus:    $scratch/corpus ($(ls "$scratch/corpus" | wc -l) inputs)"
if [ -n "$(ls -A "$scratch/crashes")" ]; then
  echo "crashes:   $scratch/crashes"
  ls -l "$scratch/crashes"
else
  echo "crashes:   none"
fi
exit $status
