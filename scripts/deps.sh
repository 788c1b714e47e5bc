#!/usr/bin/env bash
# Install the Debian packages latchkey builds, tests and benchmarks with.
# Idempotent: apt-get runs only when something is missing. Needs root (or sudo) only then.
set -euo pipefail

build=(build-essential pkg-config libssl-dev libsodium-dev libjansson-dev
       libcurl4-openssl-dev libmicrohttpd-dev libsqlite3-dev libhiredis-dev libinih-dev)
test=(libcmocka-dev clang libclang-rt-14-dev valgrind curl sqlite3 redis-server nginx-light
      chromium fonts-dejavu-core)
bench=(libjwt-dev libcjose-dev libjose-dev libjson-c-dev libcjson-dev wrk)
node=(nodejs npm)

want=("${build[@]}")
case "${1:-all}" in
  build) ;;
  test)  want+=("${test[@]}") ;;
  all)   want+=("${test[@]}" "${bench[@]}") ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac
# node and npm may come from elsewhere (nodesource); only install Debian's when absent.
if [ "${1:-all}" != build ] && ! command -v node >/dev/null; then want+=("${node[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
