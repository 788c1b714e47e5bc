#!/usr/bin/env bash
# Black-box suite for `latchkey serve`: node's built-in test runner, TAP on stdout, one
# flat "ok N" / "not ok N" line per test. The binary comes from LATCHKEY (default
# build/latchkey, relative to the repository root); LATCHKEY_TEST_STORE picks the store
# (see lib.mjs). Exits non-zero when a test fails.
set -u
cd "$(dirname "$0")/../.."
export LATCHKEY="${LATCHKEY:-build/latchkey}"
if ! command -v node >/dev/null; then
	echo "not ok 1 - node is installed (needed for the server suite)"
	echo "1..1"
	exit 1
fi
bin=$LATCHKEY
case $bin in /*) ;; *) bin="$PWD/$bin" ;; esac
if [ ! -x "$bin" ]; then
	echo "not ok 1 - $LATCHKEY is built (run make)"
	echo "1..1"
	exit 1
fi
# Node 20 searches a directory argument for *.test.mjs; from Node 21 on, arguments are
# globs and a bare directory fails (nodejs/node#50219), so give the files there.
if [ "$(node -p 'process.versions.node.split(".")[0]')" -le 20 ]; then
	exec node --test --test-reporter=tap tests/server/
fi
exec node --test --test-reporter=tap tests/server/*.test.mjs
