#!/usr/bin/env bash
# bench/http/cpu-ab.sh BIN_A BIN_B [...]: the server CPU one GET /me costs, for two or more
# latchkey binaries measured alternately on the same machine (ROUNDS rounds), so that load
# from elsewhere falls on each alike. For each run: a fresh SQLite store, one user, one
# session; wrk -t2 -c32 for 2 s of warm-up and D seconds measured; the server's user+system
# CPU time (/proc/PID/stat) over the measured run divided by the requests wrk completed.
# Prints one line per run: req/s, p99, CPU ns per request, load average.
#
#   bash bench/http/cpu-ab.sh build-old/latchkey build/latchkey
#   ROUNDS=3 D=5 SERVE_ARGS='--max-header 16384' bash bench/http/cpu-ab.sh build/latchkey build/latchkey
#
# Loopback only; every server is stopped by PID; every loop is bounded.
set -euo pipefail
ROUNDS=${ROUNDS:-2} D=${D:-5}
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -ge 1 && "$ROUNDS" -le 20 ]] || { echo "ROUNDS must be 1..20" >&2; exit 2; }
[[ "$D" =~ ^[0-9]+$ && "$D" -ge 1 && "$D" -le 60 ]] || { echo "D must be 1..60" >&2; exit 2; }
[[ $# -ge 1 ]] || { echo "usage: cpu-ab.sh BIN..." >&2; exit 2; }
for t in wrk curl python3; do command -v "$t" >/dev/null || { echo "$t not found" >&2; exit 1; }; done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-cpu-ab.XXXXXX")
P=
cleanup() { [[ -n "$P" ]] && kill "$P" 2>/dev/null && wait "$P" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ticks=$(getconf CLK_TCK)
for _ in $(seq "$ROUNDS"); do
	for L in "$@"; do
		rm -rf "$TMP/run" && mkdir "$TMP/run"
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		printf 'pw\n' | "$L" user add bench --store "sqlite:$TMP/run/db" >/dev/null 2>&1
		# shellcheck disable=SC2086 # SERVE_ARGS is a list of flags
		"$L" serve --listen "127.0.0.1:$port" --store "sqlite:$TMP/run/db" --insecure-cookies \
			${SERVE_ARGS:-} >"$TMP/run/serve.log" 2>&1 &
		P=$!
		for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
		cookie=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
			-d '{"username":"bench","password":"pw"}' "http://127.0.0.1:$port/login" | tr -d '\r' |
			sed -n 's/^[Ss]et-[Cc]ookie: *\(latchkey=[^;]*\).*/\1/p')
		[[ -n "$cookie" ]] || { echo "$L: no session cookie" >&2; exit 1; }
		wrk -t2 -c32 -d2s -H "Cookie: $cookie" "http://127.0.0.1:$port/me" >/dev/null
		c0=$(awk '{print $14 + $15}' "/proc/$P/stat")
		wrk -t2 -c32 -d"${D}s" --latency -H "Cookie: $cookie" "http://127.0.0.1:$port/me" >"$TMP/run/wrk.txt"
		c1=$(awk '{print $14 + $15}' "/proc/$P/stat")
		n=$(awk '/requests in/ {print $1}' "$TMP/run/wrk.txt")
		printf '%s  %s req/s  p99 %s  cpu/req %d ns  load %s\n' "$L" \
			"$(awk '/Requests\/sec/ {print $2}' "$TMP/run/wrk.txt")" \
			"$(awk '$1 == "99%" {print $2}' "$TMP/run/wrk.txt")" \
			"$(( (c1 - c0) * 1000000000 / ticks / n ))" "$(cut -d' ' -f1 /proc/loadavg)"
		kill "$P"; wait "$P" 2>/dev/null || true; P=
	done
done
