#!/usr/bin/env bash
# Many instances on one Redis (issue 5): redis-server, three `latchkey serve` processes and
# nginx in front, all on loopback, started and stopped by PID by the tests themselves.
# Node's built-in test runner, TAP on stdout. The binary comes from LATCHKEY (default
# build/latchkey, relative to the repository root). Exits non-zero when a test fails.
set -u
cd "$(dirname "$0")/../.."
export LATCHKEY="${LATCHKEY:-build/latchkey}"
if ! command -v node >/dev/null; then
	echo "not ok 1 - node is installed (needed for the multi-instance suite)"
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
# The tests pick their own stores: never the template of the single-instance suites.
unset LATCHKEY_TEST_STORE
# Files one at a time: each runs its own Redis, three servers and nginx.
conc=(--test-concurrency=1)
node --help 2>/dev/null | grep -q -- --test-concurrency || conc=()
# Node 20 searches a directory argument for *.test.mjs; from Node 21 on, arguments are
# globs and a bare directory fails (nodejs/node#50219), so give the files there.
if [ "$(node -p 'process.versions.node.split(".")[0]')" -le 20 ]; then
	exec node --test "${conc[@]}" --test-reporter=tap tests/multi/
fi
exec node --test "${conc[@]}" --test-reporter=tap tests/multi/*.test.mjs
