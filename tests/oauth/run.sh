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
. "$(dirname "$0")/../lib/node-suite.sh"
node_suite tests/oauth "OAuth suite" 4 "oauth4webapi, openid-client"
