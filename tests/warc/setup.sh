#!/usr/bin/env bash
# Installs warcio.js, pinned by package-lock.json, into tests/warc/node_modules
# with npm ci, and only when that exact version is not there already (npm ci
# deletes node_modules first, so running it every time would cost a download
# per test run).  Needs node >= 18 and npm; without them it says so and exits
# 77, and the caller decides whether that is a skip or a failure.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "warc setup: node and npm are needed for warcio.js (Debian: nodejs npm)" >&2
  exit 77
fi
# warcio 2.x declares node >= 18 (web streams, CompressionStream).
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
  echo "warc setup: node $(node --version) is too old for warcio.js (>= 18)" >&2
  exit 77
fi

want=$(node -p 'require("./package-lock.json").packages["node_modules/warcio"].version')
have=$(node -p 'try { require("./node_modules/warcio/package.json").version } catch { "" }')
if [ "$have" = "$want" ]; then
  exit 0
fi
echo "warc setup: installing warcio $want into $(pwd)/node_modules" >&2
# --ignore-scripts: nothing in the tree needs an install script.  As root,
# npm would otherwise run scripts as the directory's owner; none are wanted.
timeout 600 npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
