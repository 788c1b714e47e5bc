#!/usr/bin/env bash
# Token suite for `latchkey serve`: every OAuth flow over HTTP, panva/jose interop (pinned
# in package.json / package-lock.json) and a real nginx with auth_request. Node's built-in
# test runner, TAP on stdout, one flat "ok N" / "not ok N" line per test. The binary comes
# from LATCHKEY (default build/latchkey, relative to the repository root). Installs
# node_modules with `npm ci` when it is missing or older than the lock file. Files run
# side by side (expiry.test.mjs waits out the 60 s leeway). Exits non-zero on a failure.
set -u
cd "$(dirname "$0")/../.."
export LATCHKEY="${LATCHKEY:-build/latchkey}"
for tool in node npm; do
	if ! command -v "$tool" >/dev/null; then
		echo "not ok 1 - $tool is installed (needed for the token suite)"
		echo "1..1"
		exit 1
	fi
done
bin=$LATCHKEY
case $bin in /*) ;; *) bin="$PWD/$bin" ;; esac
if [ ! -x "$bin" ]; then
	echo "not ok 1 - $LATCHKEY is built (run make)"
	echo "1..1"
	exit 1
fi
if [ ! -d tests/tokens/node_modules ] || [ tests/tokens/package-lock.json -nt tests/tokens/node_modules ]; then
	if ! (cd tests/tokens && npm ci --silent --no-audit --no-fund >&2 && touch node_modules); then
		echo "not ok 1 - npm ci in tests/tokens (jose)"
		echo "1..1"
		exit 1
	fi
fi
conc=(--test-concurrency=4)
node --help 2>/dev/null | grep -q -- --test-concurrency || conc=()
# Node 20 searches a directory argument for *.test.mjs; from Node 21 on, arguments are
# globs and a bare directory fails (nodejs/node#50219), so give the files there.
if [ "$(node -p 'process.versions.node.split(".")[0]')" -le 20 ]; then
	exec node --test "${conc[@]}" --test-reporter=tap tests/tokens/
fi
exec node --test "${conc[@]}" --test-reporter=tap tests/tokens/*.test.mjs
