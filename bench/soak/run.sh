#!/usr/bin/env bash
# bench/soak/run.sh: `make soak` (issue 15). latchkey serve under sustained mixed load for
# SOAK_MINUTES (default 10): wrk on GET /me (paced, 8 connections, bench/soak/pace.lua)
# beside bench/soak/workload.js (RATE flows/s, each: sign-in, /me, /sessions, sign-out,
# password grant, three refresh rotations with /auth/verify, RFC 7009 revoke). Every
# SAMPLE seconds it records the server's resident memory (VmRSS), open file descriptors,
# threads and its requests/5xx from /metrics into a CSV; at the end it prints a markdown
# summary and checks: memory flat (RSS at the end within MEM_SLACK % of RSS after WARM
# minutes), no fd leak (fds at the end <= fds after WARM minutes + 8), zero 5xx.
# Exit status 0 only when all three hold.
#
# Steady state: the server keeps what is live (sessions, refresh tokens, revocations until
# the last token they could affect expires), so its memory grows until the first of each
# expires. The soak runs with short lifetimes (access and hybrid tokens 1 min, refresh
# tokens 2 min, a purge every 10 s: SOAK_SERVE_ARGS) so the live set is full after about
# three minutes (WARM=3), and growth after that is what a leak would be.
#
# Environment: LATCHKEY_BIN (default build/latchkey), SOAK_MINUTES=10, SAMPLE=10, RATE=4,
# STORE (default sqlite in a temp dir; redis://... to soak on Redis), MEM_SLACK=10, WARM=3,
# SOAK_SERVE_ARGS (flags for serve; default above),
# OUT_DIR (CSV and summary copied there), KEEP_TMP=1.
# Everything runs on 127.0.0.1 and is stopped by PID; every loop is bounded.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${LATCHKEY_BIN:-$ROOT/build/latchkey}
MIN=${SOAK_MINUTES:-10}
SAMPLE=${SAMPLE:-10}
RATE=${RATE:-4}
SLACK=${MEM_SLACK:-10}
WARM=${WARM:-3}
SERVE_ARGS=${SOAK_SERVE_ARGS:---access-ttl 1m --hybrid-ttl 1m --refresh-ttl 2m --purge-interval 10s}
die() { echo "soak: $*" >&2; exit 2; }
[[ -x "$BIN" ]] || die "$BIN is not built (make)"
for t in wrk node curl; do command -v "$t" >/dev/null || die "$t not found"; done
[[ "$MIN" =~ ^[0-9]+$ && "$MIN" -ge 1 && "$MIN" -le 240 ]] || die "SOAK_MINUTES must be 1..240"
[[ "$SAMPLE" =~ ^[0-9]+$ && "$SAMPLE" -ge 1 && "$SAMPLE" -le 600 ]] || die "SAMPLE must be 1..600"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-soak.XXXXXX")
PIDS=()
cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]:-}"; do
		[[ -n "$p" ]] || continue
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	if [[ "${KEEP_TMP:-0}" = 1 ]]; then echo "soak: kept $TMP" >&2; else rm -rf "$TMP"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
STORE=${STORE:-sqlite:$TMP/lk.db}
BASE=http://127.0.0.1:$PORT
printf 'soak-pw-0123456789\n' | "$BIN" user add soak --store "$STORE" >"$TMP/setup.log" 2>&1 || die "user add: $(cat "$TMP/setup.log")"
"$BIN" client add soak-app --store "$STORE" >"$TMP/client.txt" 2>>"$TMP/setup.log" || die "client add failed"
CID=$(sed -n 's/^client_id=//p' "$TMP/client.txt")
CSECRET=$(sed -n 's/^client_secret=//p' "$TMP/client.txt")
"$BIN" serve --listen "127.0.0.1:$PORT" --store "$STORE" --insecure-cookies \
	--rate-pair-free 1000000 --rate-ip-per-min 1000000 $SERVE_ARGS >"$TMP/serve.out" 2>"$TMP/serve.log" &
SPID=$!; PIDS+=("$SPID")
for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$BASE/healthz" >/dev/null || die "the server did not start: $(tail -5 "$TMP/serve.log")"
COOKIE=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
	-d '{"username":"soak","password":"soak-pw-0123456789"}' "$BASE/login" | tr -d '\r' |
	sed -n 's/^[Ss]et-[Cc]ookie: *\(latchkey=[^;]*\).*/\1/p' | head -n1)
[[ -n "$COOKIE" ]] || die "sign-in gave no cookie"

SECS=$((MIN * 60))
wrk -t1 -c8 -d"${SECS}s" -s "$HERE/pace.lua" --latency -H "Cookie: $COOKIE" "$BASE/me" >"$TMP/wrk.txt" 2>&1 &
PIDS+=($!)
node "$HERE/workload.js" "$BASE" "$RATE" "$SECS" soak soak-pw-0123456789 "$CID" "$CSECRET" >"$TMP/workload.json" 2>&1 &
WPID=$!; PIDS+=("$WPID")

metric_sum() { # metric_sum REGEX: sum of the latchkey_http_requests_total series matching it
	curl -fs "$BASE/metrics" | awk -v re="$1" '/^latchkey_http_requests_total/ && $0 ~ re { s += $NF } END { printf "%d", s }'
}
CSV=$TMP/soak.csv
echo "t_s,rss_kib,hwm_kib,fds,threads,requests,http_5xx" >"$CSV"
t0=$(date +%s)
while :; do
	now=$(date +%s); t=$((now - t0))
	kill -0 "$SPID" 2>/dev/null || die "the server died at ${t}s: $(tail -5 "$TMP/serve.log")"
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$SPID/status")
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$SPID/status")
	thr=$(awk '/^Threads/ {print $2}' "/proc/$SPID/status")
	fds=$(find "/proc/$SPID/fd" -mindepth 1 -maxdepth 1 | wc -l)
	echo "$t,$rss,$hwm,$fds,$thr,$(metric_sum .),$(metric_sum 'status="5')" >>"$CSV"
	[[ $t -ge $SECS ]] && break
	sleep "$SAMPLE"
done
wait "$WPID" || true

# ---- summary ---------------------------------------------------------------------
row_at() { awk -F, -v t="$1" 'NR > 1 && $1 >= t { print; exit }' "$CSV"; }
first=$(row_at $((WARM * 60))); [[ -n "$first" ]] || first=$(sed -n 2p "$CSV")
last=$(tail -n1 "$CSV")
IFS=, read -r _ rss1 _ fd1 _ _ _ <<<"$first"
IFS=, read -r tl rssl hwml fdl thrl reql e5l <<<"$last"
grow=$(awk -v a="$rss1" -v b="$rssl" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')
mem_ok=$(awk -v g="$grow" -v s="$SLACK" 'BEGIN { print (g <= s) ? "PASS" : "FAIL" }')
fd_ok=$([[ $fdl -le $((fd1 + 8)) ]] && echo PASS || echo FAIL)
x5_ok=$([[ $e5l -eq 0 ]] && echo PASS || echo FAIL)
{
	echo "soak: $MIN min, $(nproc) CPUs, store ${STORE%%:*}, serve $SERVE_ARGS, $("$BIN" version 2>/dev/null | head -n1 | cut -d" " -f1-2)"
	echo
	echo "| minute | RSS MiB | fds | threads | requests | 5xx |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
	awk -F, 'NR > 1 && ($1 % 60 < '"$SAMPLE"' || NR == 2) { printf "| %.1f | %.1f | %d | %d | %d | %d |\n", $1 / 60, $2 / 1024, $4, $5, $6, $7 }' "$CSV"
	echo
	echo "wrk GET /me: $(awk '/Requests\/sec/ {print $2}' "$TMP/wrk.txt") req/s, p99 $(awk '$1 == "99%" {print $2}' "$TMP/wrk.txt"); non-2xx: $(awk '/Non-2xx/ {print $NF}' "$TMP/wrk.txt" | grep . || echo 0)"
	echo "workload: $(cat "$TMP/workload.json")"
	echo
	echo "- memory flat: RSS $(awk -v a="$rss1" 'BEGIN{printf "%.1f", a/1024}') MiB after $WARM minutes, $(awk -v a="$rssl" 'BEGIN{printf "%.1f", a/1024}') MiB at the end (${grow}%, at most ${SLACK}%; peak $(awk -v a="$hwml" 'BEGIN{printf "%.1f", a/1024}') MiB): $mem_ok"
	echo "- no fd leak: $fd1 fds after $WARM minutes, $fdl at the end: $fd_ok"
	echo "- zero 5xx: $e5l of $reql requests: $x5_ok"
} | tee "$TMP/summary.md"
if [[ -n "${OUT_DIR:-}" ]]; then mkdir -p "$OUT_DIR"; cp "$CSV" "$TMP/summary.md" "$TMP/wrk.txt" "$TMP/workload.json" "$OUT_DIR/"; fi
[[ $mem_ok = PASS && $fd_ok = PASS && $x5_ok = PASS ]]
