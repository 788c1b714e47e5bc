#!/usr/bin/env bash
# Run every test suite and count TAP results. Each suite prints "ok N - name" or
# "not ok N - name" lines; a suite that exits non-zero without a "not ok" line counts as
# one failure of its own. Ends with "N passed, M failed" and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
export CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
only=${1:-}
pass=0 fail=0 failed_suites=()
logdir=build/test-logs; mkdir -p "$logdir"

suite() { # suite NAME COMMAND...
	local name=$1; shift
	[ -n "$only" ] && [[ "$name" != *"$only"* ]] && return 0
	local log="$logdir/${name//\//_}.log" rc p f t0=$SECONDS
	"$@" >"$log" 2>&1; rc=$?
	count "$name" "$log" "$rc" "$((SECONDS - t0))"
}

# A suite in the background (the fuzzers: CPU-bound, at nice 19, on the CPU time the other
# suites leave while they wait on sockets and timers); counted by bg_wait.
declare -A bg_pid
bg_start() { # bg_start NAME COMMAND...
	local name=$1; shift
	[ -n "$only" ] && [[ "$name" != *"$only"* ]] && return 0
	local log="$logdir/${name//\//_}.log"
	( "$@" >"$log" 2>&1; echo $? >"$log.rc" ) &
	bg_pid[$name]=$!
}
bg_wait() { # bg_wait NAME
	local name=$1 log="$logdir/${1//\//_}.log"
	[ -n "${bg_pid[$name]:-}" ] || return 0
	wait "${bg_pid[$name]}"
	count "$name" "$log" "$(cat "$log.rc" 2>/dev/null || echo 1)"
}

excerpt() { # excerpt LOG: each failure with its message (the TAP YAML "error:" block), sanitizer lines
	awk '/^not ok [0-9]+/ { print; inerr = 0; n = 0; next }
	     /^ *error:/ { inerr = 1; n = 0 }
	     inerr && /^ *(code|stack|name|expected|actual|operator|failureType|location|duration_ms):|^ *\.\.\.$/ && !/^ *error:/ { inerr = 0 }
	     inerr && n++ < 12 { print; next }
	     /ERROR|runtime error|Sanitizer/ { print }' "$1"
}

count() { # count NAME LOG RC [SECONDS]: add the suite's TAP results to the totals and report it
	local name=$1 log=$2 rc=$3 secs=${4:+ ${4}s} p f
	p=$(grep -cE '^ok [0-9]+' "$log"); f=$(grep -cE '^not ok [0-9]+' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f))
	if [ "$f" -ne 0 ]; then
		failed_suites+=("$name"); printf 'FAIL %-40s %3d ok, %d failed (log: %s)%s\n' "$name" "$p" "$f" "$log" "$secs"
		excerpt "$log" | head -60 | sed 's/^/    /'
	else
		printf 'pass %-40s %3d ok%s\n' "$name" "$p" "$secs"
	fi
}

# The fuzzers first, in the background: replay every corpus, then (FUZZ_SECONDS, which CI
# sets to 60) fuzz each target that long.
[ -f fuzz/replay.sh ] && bg_start "fuzz/replay" nice -n 19 bash fuzz/replay.sh

for b in build build-asan; do
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] && suite "$b/unit/$(basename "$t")" "$t"
	done
	for s in tests/cli/*.sh; do
		[ -f "$s" ] && suite "$b/cli/$(basename "$s" .sh)" env LATCHKEY="$PWD/$b/latchkey" bash "$s"
	done
done
# Black-box suites against the real server (sanitizer build too: it must survive them).
for b in build build-asan; do
	[ -f tests/server/run.sh ] && suite "$b/server" env LATCHKEY="$PWD/$b/latchkey" bash tests/server/run.sh
	[ -f tests/tokens/run.sh ] && suite "$b/tokens" env LATCHKEY="$PWD/$b/latchkey" bash tests/tokens/run.sh
	[ -f tests/oauth/run.sh ] && suite "$b/oauth" env LATCHKEY="$PWD/$b/latchkey" bash tests/oauth/run.sh
	# an independent verifier process ($b/tests/lkcheck) on SQLite and on two Redis instances
	[ -f tests/verifier/run.sh ] && suite "$b/verifier" env LATCHKEY="$PWD/$b/latchkey" bash tests/verifier/run.sh
	# the HTML pages in Debian's chromium, driven by playwright-core
	[ -f tests/browser/run.sh ] && suite "$b/browser" env LATCHKEY="$PWD/$b/latchkey" bash tests/browser/run.sh
done
# The same suites on the Redis store (release build only, to keep CI time down): the
# harness starts its own redis-server per test file.
[ -f tests/server/run.sh ] && suite "build/server-redis" env LATCHKEY="$PWD/build/latchkey" LATCHKEY_TEST_STORE=redis bash tests/server/run.sh
[ -f tests/tokens/run.sh ] && suite "build/tokens-redis" env LATCHKEY="$PWD/build/latchkey" LATCHKEY_TEST_STORE=redis bash tests/tokens/run.sh
# Beyond one Redis (issue 16): failovers and resharding under load, Sentinel and Cluster;
# then the server and token suites again with every store on a real Redis Cluster.
[ -f tests/rcluster/run.sh ] && suite "build/rcluster" env LATCHKEY="$PWD/build/latchkey" bash tests/rcluster/run.sh
[ -f tests/rcluster/on-cluster.sh ] && suite "build/server-cluster" env LATCHKEY="$PWD/build/latchkey" bash tests/rcluster/on-cluster.sh tests/server/run.sh
[ -f tests/rcluster/on-cluster.sh ] && suite "build/tokens-cluster" env LATCHKEY="$PWD/build/latchkey" bash tests/rcluster/on-cluster.sh tests/tokens/run.sh
# Three instances on one Redis behind nginx; Redis faults and restarts.
[ -f tests/multi/run.sh ] && suite "build/multi" env LATCHKEY="$PWD/build/latchkey" bash tests/multi/run.sh
# The installed library: make install into a temporary prefix, pkg-config, soname, exports,
# a program and examples/orders-service built against it (and run against a server).
[ -f tests/install/run.sh ] && suite "build/install" env LATCHKEY="$PWD/build/latchkey" bash tests/install/run.sh
# The verifier under ThreadSanitizer (built by `make tsan`; a missing binary is a failure).
[ -f tests/verify/race.c ] && suite "build-tsan/race" env TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	bash -c '[ -x build-tsan/tests/race ] || { echo "not ok 1 - build-tsan/tests/race is built (make tsan)"; exit 1; }; exec build-tsan/tests/race'
bg_wait "fuzz/replay"
[ -f tests/interop/run.sh ] && suite "interop/jose" bash tests/interop/run.sh "$PWD/build/latchkey"
[ -f tests/meta/run.sh ] && suite "meta/docs" bash tests/meta/run.sh

echo
[ ${#failed_suites[@]} -gt 0 ] && echo "failed suites: ${failed_suites[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
