#!/usr/bin/env bash
# Installs what building, testing and the demo need on Debian 12, and only
# what is missing (apt-get update runs only when something is).
set -euo pipefail

# libssl-dev: the crawler builds its TLS trust store itself (fetch.c).
# openssl and python3-h2: tests/hostile/tls_hostile.py (its certificates,
# its HTTP/2); a pyenv python3 does not see python3-h2, the test then runs
# the server with /usr/bin/python3.
# libnghttp2-dev: the fixture's HTTP/2 listener.
# help2man: the man page is made from --help (doc/meson.build), and e2e-docs
# checks it lists every flag.
# libdeflate-dev: WARC records (crawler/warc.c).
# libhiredis-dev: the Redis client of many-worker crawls (crawler/redis.c).
pkgs=(meson ninja-build pkg-config gcc libcurl4-openssl-dev libc-ares-dev
      libxml2-dev zlib1g-dev liburing-dev libssl-dev python3 curl strace wget
      openssl python3-h2 help2man libnghttp2-dev libhiredis-dev
      libdeflate-dev)
# Extra tools for sanitizer builds and benchmarks are asked for by name:
# tests/run.sh asks for valgrind (e2e-valgrind) and chromium (e2e-browser
# opens mirrors in headless Chromium, driven over --remote-debugging-pipe,
# so nothing else: no npm, no websocket module) and redis-server (the
# redis-client test starts private instances of it).  Not in the list above
# so that the demo does not pull in a browser or a database.
pkgs+=("$@")

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
