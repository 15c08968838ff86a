#!/usr/bin/env bash
# Quick start, command one: install what is missing, build, start the bundled
# demo site (the fixture server, on loopback) and crawl seeds/demo.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

tests/deps.sh
[ -d build ] || meson setup build --buildtype=release >/dev/null
ninja -C build >/dev/null

out=${1:-demo-pages}
work=$(mktemp -d)
trap 'kill "$srv" 2>/dev/null || true; rm -rf "$work"' EXIT

# The demo site: generated pages on 127.0.0.1:8642 and a DNS server that
# answers *.test with 127.0.0.1 on port 8653, both stopping by themselves.
build/tests/fixture/crawler-fixture --http-port 8642 --dns-port 8653 \
  --dns-delay 50 --lifetime 120 --port-file "$work/ports" --quiet &
srv=$!
for _ in $(seq 100); do [ -s "$work/ports" ] && break; sleep 0.05; done
[ -s "$work/ports" ] || { echo "demo: the demo site did not start" >&2; exit 1; }

rm -rf "$out"
set +e
build/crawler/crawler -i seeds/demo.txt -o "$out" -c 500 --per-host 500 \
  --dns-servers 127.0.0.1:8653
rc=$?
set -e
echo
echo "demo: crawler exited with $rc; $(find "$out" -type f ! -name manifest.jsonl | wc -l) pages saved under $out/"
echo "demo: one JSON line per URL in $out/manifest.jsonl; for example:"
head -n 2 "$out/manifest.jsonl"
