#!/usr/bin/env bash
# Interop suite: the latchkey CLI against panva/jose (version pinned in package.json and
# package-lock.json). Usage: tests/interop/run.sh LATCHKEY_BINARY. Prints TAP.
# Installs node_modules with `npm ci` only when it is missing or older than the lock file.
set -euo pipefail
if [ $# -ne 1 ]; then
	echo "usage: $0 LATCHKEY_BINARY" >&2
	exit 2
fi
bin=$1
case $bin in /*) ;; *) bin="$PWD/$bin" ;; esac
cd "$(dirname "$0")"
for tool in node npm; do
	if ! command -v "$tool" >/dev/null; then
		echo "not ok 1 - $tool is installed (needed for the jose interop suite)"
		echo "1..1"
		exit 1
	fi
done
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
	npm ci --silent --no-audit --no-fund >&2
	touch node_modules
fi
exec node interop.mjs "$bin"
