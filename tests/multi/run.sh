#!/usr/bin/env bash
# Many instances on one Redis (issue 5): redis-server, three `latchkey serve` processes and
# nginx in front, all on loopback, started and stopped by PID by the tests themselves.
# Node's built-in test runner, TAP on stdout. The binary comes from LATCHKEY (default
# build/latchkey, relative to the repository root). Exits non-zero when a test fails.
set -u
unset LATCHKEY_TEST_STORE
. "$(dirname "$0")/../lib/node-suite.sh"
node_suite tests/multi "multi-instance suite" 1
