#!/usr/bin/env bash
# OAuth conformance suite for `latchkey serve`: discovery (RFC 8414), client authentication
# (RFC 6749 §2.3.1), the password, refresh and client_credentials grants (RFC 6749 §4.3,
# §6, §4.4), introspection (RFC 7662), revocation (RFC 7009) and JWT access tokens
# (RFC 9068), driven by panva's oauth4webapi and openid-client (pinned in package.json /
# package-lock.json). Node's built-in test runner, TAP on stdout, one flat "ok N" /
# "not ok N" line per test. The binary comes from LATCHKEY (default build/latchkey,
# relative to the repository root). Installs node_modules with `npm ci` when it is missing
# or older than the lock file. Exits non-zero on a failure.
set -u
cd "$(dirname "$0")/../.."
export LATCHKEY="${LATCHKEY:-build/latchkey}"
for tool in node npm; do
	if ! command -v "$tool" >/dev/null; then
		echo "not ok 1 - $tool is installed (needed for the OAuth suite)"
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
if [ ! -d tests/oauth/node_modules ] || [ tests/oauth/package-lock.json -nt tests/oauth/node_modules ]; then
	if ! (cd tests/oauth && npm ci --silent --no-audit --no-fund >&2 && touch node_modules); then
		echo "not ok 1 - npm ci in tests/oauth (oauth4webapi, openid-client)"
		echo "1..1"
		exit 1
	fi
fi
conc=(--test-concurrency=4)
node --help 2>/dev/null | grep -q -- --test-concurrency || conc=()
# Node 20 searches a directory argument for *.test.mjs; from Node 21 on, arguments are
# globs and a bare directory fails (nodejs/node#50219), so give the files there.
if [ "$(node -p 'process.versions.node.split(".")[0]')" -le 20 ]; then
	exec node --test "${conc[@]}" --test-reporter=tap tests/oauth/
fi
exec node --test "${conc[@]}" --test-reporter=tap tests/oauth/*.test.mjs
