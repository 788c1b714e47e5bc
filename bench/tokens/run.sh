#!/usr/bin/env bash
# bench/tokens/run.sh: the token-verification benchmark. wrk -t1 -c32 in one run against
#   latchkey GET /auth/verify   with an ES256, an EdDSA and an HS256 Bearer token (one
#                               latchkey per --signing-alg, each on its own temp SQLite
#                               store, --log-requests false), and with a session cookie
#   latchkey GET /auth/verify   with N distinct tokens per algorithm, one per request
#                               (distinct.lua), so the verified-token cache cannot help
#   latchkey GET /healthz       the HTTP ceiling (no auth at all)
#   Express + jsonwebtoken      bench/peers/jwt-app.js GET /profile, HS256 exactly as in
#                               the seed and its ES256 variant
# plus `openssl speed` for the one-core ES256 (and Ed25519) verify limit, and a
# revocation check: each benchmarked Bearer token is revoked (POST /oauth2/revoke) while
# wrk is still hammering it, and /auth/verify must answer 401 right after the revoke
# returns and for every request after it; the session is ended (POST /logout) and the
# cookie and a /token access token minted from that session must be refused likewise.
#
# Prints a markdown table and writes it, with the command and machine info, to
# RESULTS_FILE. Everything listens on 127.0.0.1 on free ports; every process started is
# stopped by PID on exit, failure or interrupt; every loop is bounded.
#
# Environment (all optional):
#   LATCHKEY_BIN   latchkey binary (default: build/latchkey; copied to the temp dir first,
#                  so a rebuild during the run does not swap it)
#   DURATION=10 WARMUP=2 THREADS=1 CONNS=32   wrk settings per measured case
#   N_DISTINCT=20000   distinct tokens per algorithm for the distinct-token cases
#   DISTINCT_ALGS="ES256 EdDSA HS256"   algorithms with a distinct-token case
#   REPEAT=1       measured runs per case; the table keeps the run during which the rest
#                  of the machine used the least CPU, and of runs within 0.05 cores of that
#                  the fastest (all runs are listed)
#   IDLE_WAIT=0    before each measured run, wait up to this many seconds for the machine
#                  to be nearly idle (< IDLE_MAX=0.3 cores busy over 1 s)
#   LK_THREADS     latchkey --threads (default: latchkey's own default, one per CPU)
#   OPENSSL_SECONDS=3  seconds per `openssl speed` algorithm
#   PERF=1         after the measurements, `perf record --call-graph dwarf` latchkey for 4 s under the
#                  ES256 distinct-token load and the ES256 repeated-token load (0: skip)
#   WAIT_QUIET=0   seconds to wait, polling every 60 s, for the 1-minute load average to
#                  drop below LOAD_MAX (default 1.0) before measuring; runs anyway after
#   RESULTS_FILE   where to write the results (default bench/tokens/RESULTS.md; empty:
#                  do not write)
# latchkey runs with --access-ttl 2h --hybrid-ttl 2h so that tokens minted at the start
# outlive a long run (REPEAT, IDLE_WAIT); a token's lifetime plays no part in verifying it.
#
#   KEEP_TMP=1     keep the temp dir (logs, raw wrk outputs, tokens) and print its path
# shellcheck disable=SC2128 # it takes $! (last background PID) for an array here
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEERS="$ROOT/bench/peers"
LATCHKEY_BIN=${LATCHKEY_BIN:-$ROOT/build/latchkey}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-1}
CONNS=${CONNS:-32}
N_DISTINCT=${N_DISTINCT:-20000}
DISTINCT_ALGS=${DISTINCT_ALGS:-ES256 EdDSA HS256}
LK_THREADS=${LK_THREADS:-}
REPEAT=${REPEAT:-1}
IDLE_WAIT=${IDLE_WAIT:-0}
IDLE_MAX=${IDLE_MAX:-0.3}
OPENSSL_SECONDS=${OPENSSL_SECONDS:-3}
PERF=${PERF:-1}
WAIT_QUIET=${WAIT_QUIET:-0}
LOAD_MAX=${LOAD_MAX:-1.0}
RESULTS_FILE=${RESULTS_FILE-$HERE/RESULTS.md}
BENCH_USER=bench
BENCH_EMAIL=bench@example.com
BENCH_PW=pw
ALGS=(ES256 EdDSA HS256)

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "run.sh: $*" >&2; }
for t in wrk node curl openssl awk sed; do command -v "$t" >/dev/null || die "$t not found"; done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 && "$DURATION" -le 120 ]] || die "DURATION must be 1..120"
[[ "$WARMUP" =~ ^[0-9]+$ && "$WARMUP" -le 30 ]] || die "WARMUP must be 0..30"
[[ "$N_DISTINCT" =~ ^[0-9]+$ && "$N_DISTINCT" -ge 1 && "$N_DISTINCT" -le 200000 ]] ||
	die "N_DISTINCT must be 1..200000"
[[ "$WAIT_QUIET" =~ ^[0-9]+$ && "$WAIT_QUIET" -le 7200 ]] || die "WAIT_QUIET must be 0..7200"
[[ "$OPENSSL_SECONDS" =~ ^[0-9]+$ && "$OPENSSL_SECONDS" -ge 1 && "$OPENSSL_SECONDS" -le 30 ]] ||
	die "OPENSSL_SECONDS must be 1..30"
[[ "$REPEAT" =~ ^[0-9]+$ && "$REPEAT" -ge 1 && "$REPEAT" -le 10 ]] || die "REPEAT must be 1..10"
[[ "$IDLE_WAIT" =~ ^[0-9]+$ && "$IDLE_WAIT" -le 600 ]] || die "IDLE_WAIT must be 0..600"
[[ -z "$LK_THREADS" || "$LK_THREADS" =~ ^[0-9]+$ ]] || die "LK_THREADS must be a number"
[[ -x "$LATCHKEY_BIN" ]] || die "$LATCHKEY_BIN is not executable (make first)"
for a in $DISTINCT_ALGS; do [[ " ${ALGS[*]} " == *" $a "* ]] || die "unknown algorithm $a in DISTINCT_ALGS"; done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-tokens-bench.XXXXXX")
PIDS=()

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${PIDS[@]:-}"; do
		if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
	done
	for pid in "${PIDS[@]:-}"; do
		[[ -n "$pid" ]] || continue
		for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ "${KEEP_TMP:-0}" = 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- wait for a quiet machine ------------------------------------------------------
QUIET_NOTE=""
load1() { cut -d' ' -f1 /proc/loadavg; }
is_quiet() { awk -v l="$(load1)" -v m="$LOAD_MAX" 'BEGIN { exit !(l < m) }'; }
if [[ "$WAIT_QUIET" -gt 0 ]]; then
	waited=0
	while ! is_quiet && [[ "$waited" -lt "$WAIT_QUIET" ]]; do
		log "load average $(load1) >= $LOAD_MAX; waiting (${waited}s of ${WAIT_QUIET}s)"
		sleep 60
		waited=$((waited + 60))
	done
	if is_quiet; then
		QUIET_NOTE="waited ${waited}s for the 1-minute load average to drop below $LOAD_MAX"
	else
		QUIET_NOTE="the 1-minute load average never dropped below $LOAD_MAX in ${WAIT_QUIET}s (other builds and tests were running on this machine); measured anyway"
	fi
	log "$QUIET_NOTE"
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- helpers -----------------------------------------------------------------------
USED_PORTS=" "
free_port() {
	local p
	for _ in $(seq 1 20); do
		p=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
		if [[ "$USED_PORTS" != *" $p "* ]]; then
			USED_PORTS+="$p "
			printf -v "$1" '%s' "$p"
			return 0
		fi
	done
	die "no free port"
}

wait_port() {
	local port=$1 pid=$2 name=$3
	for _ in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || die "$name exited early (logs in $TMP; KEEP_TMP=1 keeps them)"
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	die "$name did not listen on $port in 15 s"
}

to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "nan" }'
}

# json_field NAME: the string value of "NAME" in the JSON on stdin (flat, no escapes).
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" | head -n1; }

# http_code URL [curl args...]: the status code only.
http_code() { local u=$1; shift; curl -s -o /dev/null -w '%{http_code}' "$@" "$u"; }

# CPU accounting, so that every row says how much CPU went to the server, to wrk and to
# everything else on the machine (other people's builds and tests) while it ran.
CLK_TCK=$(getconf CLK_TCK)
sys_busy() { awk '/^cpu / {print $2 + $3 + $4}' /proc/stat; }  # user+nice+system ticks
pid_ticks() { # utime+stime of the given PIDs (process totals, all threads)
	local s=0 p t
	for p in "$@"; do
		t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		s=$((s + t))
	done
	echo "$s"
}
OUR_SERVERS=()  # every server we started: their CPU is not "other"
# worker_ticks PID: "TID TICKS" for each of its libmicrohttpd worker threads
worker_ticks() {
	local t
	for t in /proc/"$1"/task/*; do
		[[ "$(cat "$t/comm" 2>/dev/null)" = MHD-worker ]] || continue
		echo "${t##*/} $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0)"
	done
}

# wait_idle: up to IDLE_WAIT s (1-s samples) for the machine to be nearly idle, i.e. less
# than IDLE_MAX cores busy while nothing of ours runs. Sets IDLE_SEEN (cores, last sample).
IDLE_SEEN=""
wait_idle() {
	local i b0 b1
	for ((i = 0; i <= IDLE_WAIT; i++)); do
		b0=$(sys_busy); sleep 1; b1=$(sys_busy)
		IDLE_SEEN=$(awk -v d=$((b1 - b0)) -v h="$CLK_TCK" 'BEGIN { printf "%.2f", d / h }')
		awk -v c="$IDLE_SEEN" -v m="$IDLE_MAX" 'BEGIN { exit !(c < m) }' && return 0
		[[ "$IDLE_WAIT" -gt 0 ]] || return 0
	done
	log "machine still busy ($IDLE_SEEN cores) after ${IDLE_WAIT}s; measuring anyway"
}

# run_case NAME SERVER_PID WRK_ARGS...: a warm-up, then REPEAT measured runs of
# `wrk -tT -cC -dD --latency WRK_ARGS...`; keeps the run in which the rest of the machine
# used the least CPU (all runs are listed in the raw section).
declare -A RPS P50 P99 NON2XX ERRS SRVCPU WRKCPU OTHCPU ALLRUNS SPLIT
run_case() {
	local name=$1 spid=$2 k out best="" bo="" b0 b1 o0 o1 w0 w1 t
	shift 2
	if [[ "$WARMUP" -gt 0 ]]; then
		wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" "$@" >/dev/null
	fi
	ALLRUNS[$name]=""
	for ((k = 1; k <= REPEAT; k++)); do
		out="$TMP/wrk-$name.$k.txt"
		wait_idle
		worker_ticks "$spid" >"$out.wt0"
		b0=$(sys_busy); o0=$(pid_ticks "${OUR_SERVERS[@]}"); w0=$(pid_ticks "$spid")
		TIMEFORMAT='%U %S'
		{ time wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$@" >"$out" 2>"$out.err"; } 2>"$out.time"
		b1=$(sys_busy); o1=$(pid_ticks "${OUR_SERVERS[@]}"); w1=$(pid_ticks "$spid")
		worker_ticks "$spid" >"$out.wt1"
		# how the server's CPU split over its HTTP worker threads, busiest first
		SPLIT[$name.$k]=$(join <(sort "$out.wt0") <(sort "$out.wt1") |
			awk -v h="$CLK_TCK" -v s="$DURATION" '{ printf "%.2f\n", ($3 - $2) / h / s }' |
			sort -rn | paste -sd+)
		t=$(awk 'END {print $1 + $2}' "$out.time")
		parse_wrk "$name.$k" "$out"
		SRVCPU[$name.$k]=$(awk -v d=$((w1 - w0)) -v h="$CLK_TCK" -v s="$DURATION" 'BEGIN { printf "%.2f", d / h / s }')
		WRKCPU[$name.$k]=$(awk -v t="$t" -v s="$DURATION" 'BEGIN { printf "%.2f", t / s }')
		OTHCPU[$name.$k]=$(awk -v b=$((b1 - b0)) -v o=$((o1 - o0)) -v t="$t" -v h="$CLK_TCK" -v s="$DURATION" \
			'BEGIN { v = ((b - o) / h - t) / s; if (v < 0) v = 0; printf "%.2f", v }')
		log "$name run $k: ${RPS[$name.$k]} req/s, p50 ${P50[$name.$k]} ms, p99 ${P99[$name.$k]} ms," \
			"non-2xx ${NON2XX[$name.$k]}, socket errors ${ERRS[$name.$k]}; CPU cores: server" \
			"${SRVCPU[$name.$k]}${SPLIT[$name.$k]:+ (workers ${SPLIT[$name.$k]})}, wrk ${WRKCPU[$name.$k]}," \
			"other ${OTHCPU[$name.$k]} (idle check ${IDLE_SEEN})"
		[[ "${NON2XX[$name.$k]}" = 0 ]] || die "$name: ${NON2XX[$name.$k]} non-2xx responses ($out)"
		ALLRUNS[$name]+="$(printf '%.0f' "${RPS[$name.$k]}") (other ${OTHCPU[$name.$k]}${SPLIT[$name.$k]:+, workers ${SPLIT[$name.$k]}}); "
	done
	# the run with the least "other" CPU; among runs within 0.05 cores of that, the fastest
	bo=$(for ((k = 1; k <= REPEAT; k++)); do echo "${OTHCPU[$name.$k]}"; done | sort -n | head -n1)
	for ((k = 1; k <= REPEAT; k++)); do
		awk -v a="${OTHCPU[$name.$k]}" -v b="$bo" 'BEGIN { exit !(a <= b + 0.05) }' || continue
		if [[ -z "$best" ]] || awk -v a="${RPS[$name.$k]}" -v b="${RPS[$name.$best]}" 'BEGIN { exit !(a > b) }'; then
			best=$k
		fi
	done
	local v key
	for v in RPS P50 P99 NON2XX ERRS SRVCPU WRKCPU OTHCPU; do
		key="${v}[$name.$best]"
		printf -v "${v}[$name]" '%s' "${!key}"
	done
	cp "$TMP/wrk-$name.$best.txt" "$TMP/wrk-$name.txt"
}

parse_wrk() {
	local name=$1 out=$2
	RPS[$name]=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	[[ -n "${RPS[$name]}" ]] || die "could not parse wrk output for $name ($out)"
	P50[$name]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
	P99[$name]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
	NON2XX[$name]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
	NON2XX[$name]=${NON2XX[$name]:-0}
	ERRS[$name]=$(awk '/Socket errors:/ {sub(/.*Socket errors: */, ""); print}' "$out")
	ERRS[$name]=${ERRS[$name]:-none}
}

# ---- the one-core crypto limit (before anything of ours runs) -------------------------
log "openssl speed -seconds $OPENSSL_SECONDS ecdsap256 ed25519"
openssl speed -seconds "$OPENSSL_SECONDS" ecdsap256 ed25519 >"$TMP/openssl-speed.txt" 2>"$TMP/openssl-speed.err" ||
	die "openssl speed failed"
# "Doing 256 bits verify ecdsa's for 3s: N 256 bits ECDSA verify in Ts": T is CPU time, so
# the verify/s column is per CPU-second of one core, whatever else the machine is doing.
SSL_DOING=$(tr '\r' '\n' <"$TMP/openssl-speed.err" | grep -i 'verify' | sed 's/^ *//' | paste -sd';' | sed 's/;/; /g')
SSL_ES256=$(awk '/ecdsa \(nistp256\)/ {v = $NF} END {print v}' "$TMP/openssl-speed.txt")
SSL_ED25519=$(awk '/EdDSA \(Ed25519\)/ {v = $NF} END {print v}' "$TMP/openssl-speed.txt")
[[ -n "$SSL_ES256" ]] || die "could not parse openssl speed output ($TMP/openssl-speed.txt)"
log "openssl: ES256 (P-256) ${SSL_ES256} verify/s, Ed25519 ${SSL_ED25519:-?} verify/s on one core"

# ---- Express + jsonwebtoken -----------------------------------------------------------
if [[ ! -d "$PEERS/node_modules/jsonwebtoken" || ! -d "$PEERS/node_modules/express" ]]; then
	log "installing bench/peers dependencies (npm ci)"
	(cd "$PEERS" && npm ci --no-audit --no-fund >/dev/null)
fi
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
	openssl pkcs8 -topk8 -nocrypt -out "$TMP/es256.key" 2>/dev/null
openssl ec -in "$TMP/es256.key" -pubout -out "$TMP/es256.pub" 2>/dev/null
[[ -s "$TMP/es256.pub" ]] || die "could not make the ES256 key pair for the Express app"
declare -A EPORT ETOKEN EPID
for alg in HS256 ES256; do
	free_port "EPORT[$alg]"
	( cd "$PEERS" && exec env PORT="${EPORT[$alg]}" HOST=127.0.0.1 ALG="$alg" NODE_ENV=production \
		JWT_ACCESS_SECRET="access-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" \
		JWT_REFRESH_SECRET="refresh-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" \
		JWT_ES256_PRIVATE_KEY_FILE="$TMP/es256.key" JWT_ES256_PUBLIC_KEY_FILE="$TMP/es256.pub" \
		BENCH_EMAIL="$BENCH_EMAIL" BENCH_PASSWORD="$BENCH_PW" \
		node jwt-app.js ) >"$TMP/express-$alg.log" 2>&1 &
	EPID[$alg]=$!; PIDS+=("$!"); OUR_SERVERS+=("$!"); wait_port "${EPORT[$alg]}" "$!" "express jwt-app ($alg)"
	ETOKEN[$alg]=$(curl -s -H 'Content-Type: application/json' \
		-d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PW\"}" \
		"http://127.0.0.1:${EPORT[$alg]}/login" | json_field accessToken)
	[[ -n "${ETOKEN[$alg]}" ]] || die "express $alg: login gave no accessToken"
	code=$(http_code "http://127.0.0.1:${EPORT[$alg]}/profile" -H "Authorization: Bearer ${ETOKEN[$alg]}")
	[[ "$code" = 200 ]] || die "express $alg: GET /profile with the token answered $code"
done

# ---- latchkey, one per algorithm ------------------------------------------------------
cp "$LATCHKEY_BIN" "$TMP/latchkey"
LK="$TMP/latchkey"
LK_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git -C "$ROOT" status --porcelain -- src include 2>/dev/null)" ]]; then LK_REV+="+dirty"; fi
declare -A LPORT LPID LTOKEN LCOOKIE
for alg in "${ALGS[@]}"; do
	store="sqlite:$TMP/lk-$alg.db"
	printf '%s\n' "$BENCH_PW" | "$LK" user add "$BENCH_USER" --store "$store" \
		>"$TMP/user-add-$alg.log" 2>&1 || die "latchkey user add failed: $(cat "$TMP/user-add-$alg.log")"
	free_port "LPORT[$alg]"
	extra=()
	if [[ -n "$LK_THREADS" ]]; then extra=(--threads "$LK_THREADS"); fi
	"$LK" serve --listen "127.0.0.1:${LPORT[$alg]}" --store "$store" --insecure-cookies \
		--signing-alg "$alg" --log-requests false --access-ttl 2h --hybrid-ttl 2h "${extra[@]}" \
		>"$TMP/latchkey-$alg.log" 2>&1 &
	LPID[$alg]=$!; PIDS+=("$!"); OUR_SERVERS+=("$!"); wait_port "${LPORT[$alg]}" "$!" "latchkey serve ($alg)"
	base="http://127.0.0.1:${LPORT[$alg]}"
	LTOKEN[$alg]=$(curl -s -X POST -d "grant_type=password&username=$BENCH_USER&password=$BENCH_PW" \
		"$base/oauth2/token" | json_field access_token)
	[[ -n "${LTOKEN[$alg]}" ]] || die "latchkey $alg: the password grant gave no access_token"
	hdr=${LTOKEN[$alg]%%.*}
	while (( ${#hdr} % 4 )); do hdr+="="; done
	hdr=$(printf '%s' "$hdr" | tr '_-' '/+' | base64 -d 2>/dev/null || true)
	[[ "$hdr" == *"\"alg\":\"$alg\""* ]] || die "latchkey $alg: token header is $hdr"
	code=$(http_code "$base/auth/verify" -H "Authorization: Bearer ${LTOKEN[$alg]}")
	[[ "$code" = 200 ]] || die "latchkey $alg: GET /auth/verify with the token answered $code"
	LCOOKIE[$alg]=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
		-d "{\"username\":\"$BENCH_USER\",\"password\":\"$BENCH_PW\"}" "$base/login" | tr -d '\r' |
		sed -n 's/^[Ss]et-[Cc]ookie: *\(\(__Host-\)\{0,1\}latchkey=[^;]*\).*/\1/p' | head -n1)
	[[ -n "${LCOOKIE[$alg]}" ]] || die "latchkey $alg: login gave no latchkey cookie"
	log "latchkey $alg on ${LPORT[$alg]} (pid ${LPID[$alg]}): token and session ready"
done
code=$(http_code "http://127.0.0.1:${LPORT[ES256]}/auth/verify" -H "Cookie: ${LCOOKIE[ES256]}")
[[ "$code" = 200 ]] || die "latchkey: GET /auth/verify with the session cookie answered $code"

# ---- measurements ----------------------------------------------------------------------
ORDER=()
declare -A CASE_ALG CASE_KIND
add_case() { ORDER+=("$1"); CASE_ALG[$1]=$2; CASE_KIND[$1]=$3; }

for alg in HS256 ES256; do
	run_case "express-$alg" "${EPID[$alg]}" -H "Authorization: Bearer ${ETOKEN[$alg]}" \
		"http://127.0.0.1:${EPORT[$alg]}/profile"
	add_case "express-$alg" "$alg" express
done
# the ceiling: same request size as the ES256 case, but no authentication at all
run_case ceiling "${LPID[ES256]}" -H "Authorization: Bearer ${LTOKEN[ES256]}" \
	"http://127.0.0.1:${LPORT[ES256]}/healthz"
add_case ceiling - ceiling
for alg in "${ALGS[@]}"; do
	run_case "latchkey-$alg" "${LPID[$alg]}" -H "Authorization: Bearer ${LTOKEN[$alg]}" \
		"http://127.0.0.1:${LPORT[$alg]}/auth/verify"
	add_case "latchkey-$alg" "$alg" repeated
done
run_case latchkey-session "${LPID[ES256]}" -H "Cookie: ${LCOOKIE[ES256]}" \
	"http://127.0.0.1:${LPORT[ES256]}/auth/verify"
add_case latchkey-session - session

declare -A MINT
for alg in $DISTINCT_ALGS; do
	log "minting $N_DISTINCT distinct $alg tokens through POST /token"
	MINT[$alg]=$(node "$HERE/mint.js" "http://127.0.0.1:${LPORT[$alg]}/token" "${LCOOKIE[$alg]}" \
		"$N_DISTINCT" "$TMP/tokens-$alg.txt" 8) || die "minting $alg tokens failed"
	log "minted: ${MINT[$alg]}"
	run_case "latchkey-$alg-distinct" "${LPID[$alg]}" -s "$HERE/distinct.lua" \
		"http://127.0.0.1:${LPORT[$alg]}/auth/verify" -- "$TMP/tokens-$alg.txt"
	add_case "latchkey-$alg-distinct" "$alg" distinct
done

LOAD_AFTER_MEASURE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- perf: where the time goes ---------------------------------------------------------
perf_case() { # perf_case NAME PID -- wrk args...
	local name=$1 pid=$2
	shift 3
	wrk -t"$THREADS" -c"$CONNS" -d7s "$@" >"$TMP/wrk-perf-$name.txt" &
	local wpid=$!
	PIDS+=("$wpid")
	sleep 1
	if perf record -q -F 499 --call-graph dwarf,16384 -p "$pid" -o "$TMP/perf-$name.data" -- sleep 4 \
		>"$TMP/perf-$name.log" 2>&1; then
		{
			echo "### perf: $name"
			echo
			echo "\`perf record -F 499 --call-graph dwarf -p <latchkey> -- sleep 4\` during a separate" \
				"7 s wrk run of this case (not one of the measured runs). libcrypto and libmicrohttpd" \
				"are stripped, so their internals show as addresses (left out below)."
			echo
			echo '```'
			echo "inclusive % (children, self)  user-space symbol (kernel frames: see the object totals)"
			perf report -i "$TMP/perf-$name.data" --children -g none --percent-limit 1 \
				--sort symbol --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | grep -F '[.]' |
				grep -v '\] 0x' | grep -vw -e clone3 -e start_thread | sed 's/ *- *- *$//' | head -30
			echo
			echo "self % by shared object"
			perf report -i "$TMP/perf-$name.data" --no-children -g none --percent-limit 0.5 \
				--sort dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | sed 's/ *- *- *$//' | head -12
			echo '```'
		} >"$TMP/perf-$name.md"
	else
		echo "perf record failed for $name: $(head -c 300 "$TMP/perf-$name.log")" >"$TMP/perf-$name.md"
	fi
	wait "$wpid" || true
	echo "wrk during the profile (perturbed by perf): $(awk '/^Requests\/sec:/ {print $2}' "$TMP/wrk-perf-$name.txt") req/s," \
		"non-2xx: $(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$TMP/wrk-perf-$name.txt" | grep . || echo 0)" \
		>>"$TMP/perf-$name.md"
}
if [[ "$PERF" = 1 ]] && command -v perf >/dev/null; then
	if [[ -n "${MINT[ES256]:-}" ]]; then
		perf_case ES256-distinct "${LPID[ES256]}" -- -s "$HERE/distinct.lua" \
			"http://127.0.0.1:${LPORT[ES256]}/auth/verify" -- "$TMP/tokens-ES256.txt"
	fi
	perf_case ES256-repeated "${LPID[ES256]}" -- -H "Authorization: Bearer ${LTOKEN[ES256]}" \
		"http://127.0.0.1:${LPORT[ES256]}/auth/verify"
fi

# ---- revocation: never accept a revoked token -------------------------------------------
REVOKE_LINES=()
REVOKE_OK=1
rev_fail() { REVOKE_OK=0; REVOKE_LINES+=("- FAIL: $*"); log "revocation FAIL: $*"; }
for alg in "${ALGS[@]}"; do
	base="http://127.0.0.1:${LPORT[$alg]}"
	tok=${LTOKEN[$alg]}
	before=$(http_code "$base/auth/verify" -H "Authorization: Bearer $tok")
	# wrk keeps the (cached) token hot on 32 connections while it is revoked
	wrk -t1 -c"$CONNS" -d3s -H "Authorization: Bearer $tok" "$base/auth/verify" >"$TMP/wrk-revoke-$alg.txt" &
	wpid=$!; PIDS+=("$wpid")
	sleep 1
	rv=$(http_code "$base/oauth2/revoke" -X POST -d "token=$tok")
	after=$(http_code "$base/auth/verify" -H "Authorization: Bearer $tok")
	wait "$wpid" || true
	wrk -t1 -c"$CONNS" -d1s -H "Authorization: Bearer $tok" "$base/auth/verify" >"$TMP/wrk-revoked-$alg.txt"
	total=$(awk '/requests in/ {print $1}' "$TMP/wrk-revoked-$alg.txt")
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$TMP/wrk-revoked-$alg.txt")
	non2xx=${non2xx:-0}
	line="$alg Bearer: /auth/verify $before before; POST /oauth2/revoke $rv (under load); /auth/verify $after right after; then $non2xx of $total requests in 1 s refused"
	if [[ "$before" = 200 && "$rv" = 200 && "$after" = 401 && -n "$total" && "$total" -gt 0 && "$non2xx" = "$total" ]]; then
		REVOKE_LINES+=("- ok: $line")
	else
		rev_fail "$line"
	fi
done
# the session: POST /logout ends it; the cookie and a /token access token from it go too
base="http://127.0.0.1:${LPORT[ES256]}"
ck=${LCOOKIE[ES256]}
htok=$(curl -s -X POST -H "Cookie: $ck" "$base/token" | json_field access_token)
sb=$(http_code "$base/auth/verify" -H "Cookie: $ck")
hb=$(http_code "$base/auth/verify" -H "Authorization: Bearer $htok")
lo=$(http_code "$base/logout" -X POST -H "Cookie: $ck")
sa=$(http_code "$base/auth/verify" -H "Cookie: $ck")
ha=$(http_code "$base/auth/verify" -H "Authorization: Bearer $htok")
line="session: cookie $sb and its /token access token $hb before; POST /logout $lo; then cookie $sa, access token $ha"
if [[ "$sb" = 200 && "$hb" = 200 && "$lo" = 200 && "$sa" = 401 && "$ha" = 401 ]]; then
	REVOKE_LINES+=("- ok: $line")
else
	rev_fail "$line"
fi

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- table -------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2fx", a / b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.0f%%", 100 * a / b }'; }
describe() {
	case "${CASE_KIND[$1]}" in
	express) echo "Express + jsonwebtoken GET /profile, ${CASE_ALG[$1]} Bearer (one token)" ;;
	ceiling) echo "latchkey GET /healthz (HTTP ceiling)" ;;
	repeated) echo "latchkey /auth/verify, ${CASE_ALG[$1]} Bearer, one token repeated" ;;
	session) echo "latchkey /auth/verify, session cookie" ;;
	distinct) echo "latchkey /auth/verify, ${CASE_ALG[$1]} Bearer, $N_DISTINCT distinct tokens" ;;
	esac
}
vs_express() {
	local a=${CASE_ALG[$1]}
	if [[ "${CASE_KIND[$1]}" = express || -z "${RPS[express-$a]:-}" ]]; then echo "—"; else ratio "${RPS[$1]}" "${RPS[express-$a]}"; fi
}
vs_crypto() {
	if [[ "${CASE_KIND[$1]}" != distinct ]]; then echo "—"; return; fi
	case "${CASE_ALG[$1]}" in
	ES256) pct "${RPS[$1]}" "$SSL_ES256" ;;
	EdDSA) pct "${RPS[$1]}" "${SSL_ED25519:-}" ;;
	*) echo "—" ;;
	esac
}
VC_SLOTS=$(sed -n 's/^#define VC_SLOTS \([0-9]*\).*/\1/p' "$ROOT/src/auth/tokens.c" 2>/dev/null || true)

{
	echo "| case | req/s | p50 ms | p99 ms | vs Express (same alg) | vs ceiling | vs 1-core crypto | CPU cores: server / wrk / other |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for n in "${ORDER[@]}"; do
		printf '| %s | %.0f | %s | %s | %s | %s | %s | %s / %s / %s |\n' "$(describe "$n")" "${RPS[$n]}" "${P50[$n]}" \
			"${P99[$n]}" "$(vs_express "$n")" "$(pct "${RPS[$n]}" "${RPS[ceiling]}")" "$(vs_crypto "$n")" \
			"${SRVCPU[$n]}" "${WRKCPU[$n]}" "${OTHCPU[$n]}"
	done
	echo
	echo "Every measured request was answered 2xx (the script stops otherwise). Ratios: req/s over the" \
		"Express app's with the same algorithm (it has no EdDSA), over latchkey's GET /healthz, and over" \
		"the one-core \`openssl speed\` verify rate."
	echo
	echo "CPU cores: average over the measured run of the server's own CPU time, wrk's, and that of" \
		"everything else on the machine (other builds and tests; loopback softirq time not charged" \
		"to a process is left out). The machine has $(nproc) CPUs."
	if [[ "$REPEAT" -gt 1 ]]; then
		echo "Each case ran $REPEAT times; the row is the fastest of the runs with the least \"other\" CPU" \
			"(within 0.05 cores). All runs, req/s (other cores, latchkey's CPU per HTTP worker thread):"
		for n in "${ORDER[@]}"; do echo "- $n: ${ALLRUNS[$n]%; }"; done
	fi
	echo
	echo "One-core crypto limit (\`openssl speed -seconds $OPENSSL_SECONDS ecdsap256 ed25519\`, verify/s):" \
		"ES256 (P-256) $SSL_ES256, Ed25519 ${SSL_ED25519:-n/a}. (latchkey verifies Ed25519 with libsodium, not OpenSSL.)" \
		"openssl's own account (its times are CPU seconds): $SSL_DOING."
	for n in "${ORDER[@]}"; do
		[[ "${CASE_KIND[$n]}" = distinct ]] || continue
		awk -v r="${RPS[$n]}" -v c="${SRVCPU[$n]}" -v a="${CASE_ALG[$n]}" -v e="$SSL_ES256" -v d="${SSL_ED25519:-0}" 'BEGIN {
			if (c + 0 == 0) exit
			ref = (a == "ES256") ? e : (a == "EdDSA") ? d : 0
			printf "- %s distinct: %.0f verifications per server CPU-second", a, r / c
			if (ref > 0) printf " (%.0f%% of openssl'"'"'s per-CPU-second rate)", 100 * r / c / ref
			printf "\n" }'
	done
	echo
	echo "Targets:"
	for a in HS256 ES256; do
		for k in repeated distinct; do
			n="latchkey-$a"; [[ "$k" = distinct ]] && n="latchkey-$a-distinct"
			[[ -n "${RPS[$n]:-}" && -n "${RPS[express-$a]:-}" ]] || continue
			awk -v a="${RPS[$n]}" -v b="${RPS[express-$a]}" -v l="$a $k" \
				'BEGIN { printf "- >= 10x Express, %s: %.1fx %s\n", l, a / b, (a >= 10 * b) ? "PASS" : "FAIL" }'
		done
	done
	if [[ -n "${RPS[latchkey-ES256-distinct]:-}" ]]; then
		awk -v a="${RPS[latchkey-ES256-distinct]}" -v b="$SSL_ES256" \
			'BEGIN { printf "- ES256 distinct tokens >= 80%% of one-core openssl verify/s: %.0f%% %s\n", 100 * a / b, (a >= 0.8 * b) ? "PASS" : "FAIL" }'
	fi
	for a in "${ALGS[@]}"; do
		awk -v a="${RPS[latchkey-$a]}" -v b="${RPS[ceiling]}" -v l="$a" \
			'BEGIN { printf "- repeated %s token near the HTTP ceiling: %.0f%% of GET /healthz\n", l, 100 * a / b }'
	done
	echo "- never accepts a revoked token: $([[ "$REVOKE_OK" = 1 ]] && echo PASS || echo FAIL)"
	printf '  %s\n' "${REVOKE_LINES[@]}"
	if [[ -n "$VC_SLOTS" ]]; then
		echo
		awk -v s="$VC_SLOTS" -v n="$N_DISTINCT" 'BEGIN {
			printf "Distinct tokens vs the cache: the verified-token cache is direct-mapped with %d slots (src/auth/tokens.c VC_SLOTS); cycling through %d tokens, a token is still cached when it comes round again with probability (1-1/%d)^%d = %.2f%%, so these rows are signature-bound.\n", s, n, s, n - 1, 100 * exp((n - 1) * log(1 - 1 / s)) }'
	fi
	for a in $DISTINCT_ALGS; do
		[[ -n "${MINT[$a]:-}" ]] && echo "- minted $a: ${MINT[$a]}"
	done
} >"$TMP/table.md"

cat "$TMP/table.md"

if [[ -n "$RESULTS_FILE" ]]; then
	{
		echo "# Token verification benchmark"
		echo
		echo "Written by \`bench/tokens/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Command:"
		echo
		echo '```'
		echo "DURATION=$DURATION WARMUP=$WARMUP THREADS=$THREADS CONNS=$CONNS N_DISTINCT=$N_DISTINCT" \
			"REPEAT=$REPEAT IDLE_WAIT=$IDLE_WAIT IDLE_MAX=$IDLE_MAX" \
			"DISTINCT_ALGS=\"$DISTINCT_ALGS\" LK_THREADS=$LK_THREADS WAIT_QUIET=$WAIT_QUIET bash bench/tokens/run.sh"
		echo '```'
		echo
		echo "Each case: \`wrk -t$THREADS -c$CONNS -d${DURATION}s --latency\` after a ${WARMUP}s warm-up, everything on loopback." \
			"Distinct-token cases use \`-s bench/tokens/distinct.lua\` (one token per request, cycling)." \
			"latchkey $LK_REV ($(basename "$LATCHKEY_BIN")), \`serve --signing-alg ALG --log-requests false --access-ttl 2h --hybrid-ttl 2h${LK_THREADS:+ --threads $LK_THREADS}\`" \
			"on a fresh SQLite store per algorithm; Express: bench/peers/jwt-app.js (Node $(node --version))."
		echo
		echo "Machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr)," \
			"$(openssl version | cut -d' ' -f1-2), $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)." \
			"Load average $LOAD_BEFORE before, $LOAD_AFTER_MEASURE after the measured runs, $LOAD_AFTER at the end."
		if [[ -n "$QUIET_NOTE" ]]; then echo; echo "Quiet machine: $QUIET_NOTE."; fi
		echo
		cat "$TMP/table.md"
		if compgen -G "$TMP/perf-*.md" >/dev/null; then echo; echo "## Where the time goes"; fi
		for f in "$TMP"/perf-*.md; do
			[[ -f "$f" ]] || continue
			echo
			cat "$f"
		done
	} >"$RESULTS_FILE.tmp"
	mv "$RESULTS_FILE.tmp" "$RESULTS_FILE"
	log "wrote $RESULTS_FILE"
fi
