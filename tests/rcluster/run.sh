#!/usr/bin/env bash
# Beyond one Redis (issue 16): latchkey on a real Redis Cluster (3 primaries, 3 replicas)
# and on a Sentinel-managed primary with a replica, all on loopback, started and stopped
# by PID by the tests themselves (tests/server/lib.mjs startRedisCluster,
# startRedisSentinel). Node's built-in test runner, TAP on stdout. The binary comes from
# LATCHKEY (default build/latchkey). Exits non-zero when a test fails.
set -u
unset LATCHKEY_TEST_STORE
. "$(dirname "$0")/../lib/node-suite.sh"
node_suite tests/rcluster "Redis Cluster and Sentinel suite" 1
