#!/usr/bin/env bash
# Run one node suite (its run.sh, $1) with every store on one real Redis Cluster of 3
# primaries and 3 replicas (tests/rcluster/cluster-up.mjs), a namespace per store:
# LATCHKEY_TEST_STORE=redis+cluster://.../{ns} (tests/server/lib.mjs storeUrl). The
# cluster is stopped (every node by PID) when the suite ends, however it ends.
set -u
cd "$(dirname "$0")/../.."
suite=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-on-cluster.XXXXXX")
mkfifo "$tmp/in"
node tests/rcluster/cluster-up.mjs <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
pid=$!
exec 9>"$tmp/in" # the cluster lives while this end is open
stop() {
	exec 9>&-
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap stop EXIT
url=
for _ in $(seq 1 300); do
	url=$(grep -m1 '^redis+cluster://' "$tmp/out" 2>/dev/null) && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$url" ]; then
	echo "not ok 1 - a Redis Cluster starts for $suite"
	sed 's/^/# /' "$tmp/err" | tail -20
	echo "1..1"
	exit 1
fi
LATCHKEY_TEST_STORE="$url/{ns}" bash "$suite"
