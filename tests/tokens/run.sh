#!/usr/bin/env bash
# Token suite for `latchkey serve`: every OAuth flow over HTTP, panva/jose interop (pinned
# in package.json / package-lock.json) and a real nginx with auth_request. Node's built-in
# test runner, TAP on stdout, one flat "ok N" / "not ok N" line per test. The binary comes
# from LATCHKEY (default build/latchkey, relative to the repository root). Installs
# node_modules with `npm ci` when it is missing or older than the lock file. Files run
# side by side (expiry.test.mjs waits out the 60 s leeway). Exits non-zero on a failure.
set -u
. "$(dirname "$0")/../lib/node-suite.sh"
node_suite tests/tokens "token suite" 4 "jose"
