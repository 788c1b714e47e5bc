#!/usr/bin/env bash
# bench/http/run.sh: issue 3's HTTP benchmark. wrk -t1 -c32 against GET /me with a
# valid session cookie, in one run, for:
#   express   the seed's Express + express-session + connect-redis app
#             (bench/peers/session-app.js) on a redis-server of its own
#   nginx     nginx, worker_processes 1, `location = /me { return 200 ...; }`
#   latchkey  `$LATCHKEY_BIN serve` on a fresh sqlite store, when LATCHKEY_BIN is
#             set and the binary has a `serve` command
# and, when latchkey runs, a second latchkey phase: wrk on /me while
# login-load.js POSTs LOGIN_RATE logins/s (Argon2) at it.
#
# Prints a markdown table (req/s, p50, p99, ratios vs Express and nginx).
# Everything listens on 127.0.0.1 on free ports; everything started is stopped by
# PID on exit, failure or interrupt; every loop is bounded.
#
# Environment (all optional):
#   LATCHKEY_BIN   path to the latchkey binary (omit: no latchkey rows)
#   DURATION=10    seconds per measured wrk run
#   WARMUP=2       seconds of wrk warm-up per target (discarded)
#   THREADS=1 CONNS=32   wrk -t / -c
#   LOGIN_RATE=20  logins/s during the login phase
#   LATCHKEY_SERVE_ARGS  extra flags for `latchkey serve` (default: none, i.e. its
#                  defaults, request logging included; its log goes to the temp dir)
#   TARGETS="express nginx latchkey"   which to run
#   PIN=1          pin the servers (latchkey, nginx, Express, redis) to CPU 0 and the
#                  load (wrk, the login load) to CPU 1 with taskset, so the two never
#                  share a CPU (the tail-latency case of issue 15)
#   OUT_DIR        if set, raw wrk outputs and the table are copied there
#   KEEP_TMP=1     keep the temp dir (logs, configs) and print its path
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PEERS=$(cd "$HERE/../peers" && pwd)
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-1}
CONNS=${CONNS:-32}
LOGIN_RATE=${LOGIN_RATE:-20}
TARGETS=${TARGETS:-express nginx latchkey latchkey-redis}
NGINX=${NGINX:-/usr/sbin/nginx}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
BENCH_EMAIL=bench@example.com
BENCH_USER=bench
BENCH_PW=pw

die() { echo "run.sh: $*" >&2; exit 1; }
log() { echo "run.sh: $*" >&2; }
for t in wrk node curl; do command -v "$t" >/dev/null || die "$t not found"; done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 && "$DURATION" -le 120 ]] || die "DURATION must be 1..120"
[[ "$WARMUP" =~ ^[0-9]+$ && "$WARMUP" -le 30 ]] || die "WARMUP must be 0..30"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
SRV=() CLI=()
if [[ "${PIN:-0}" = 1 ]]; then
	command -v taskset >/dev/null || die "PIN=1 needs taskset (util-linux)"
	SRV=(taskset -c 0) CLI=(taskset -c 1)
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-http-bench.XXXXXX")
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

# free_port VAR: a port free on 127.0.0.1 now, not handed out before in this run.
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

# wait_port PORT PID NAME: up to 15 s for PORT to accept, while PID lives.
wait_port() {
	local port=$1 pid=$2 name=$3
	for _ in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || die "$name exited early (logs in $TMP)"
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	die "$name did not listen on $port in 15 s"
}

# to_ms VALUE: wrk's "1.23ms" / "456.00us" / "1.02s" -> milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "nan" }'
}

# run_wrk NAME URL COOKIE_HEADER: warm-up, then the measured run into $TMP/wrk-NAME.txt.
declare -A RPS P50 P99 NON2XX ERRS
run_wrk() {
	local name=$1 url=$2 cookie=$3 out="$TMP/wrk-$1.txt"
	if [[ "$WARMUP" -gt 0 ]]; then
		"${CLI[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -H "Cookie: $cookie" "$url" >/dev/null
	fi
	"${CLI[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -H "Cookie: $cookie" "$url" >"$out"
	RPS[$name]=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	P50[$name]=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
	P99[$name]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
	NON2XX[$name]=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
	NON2XX[$name]=${NON2XX[$name]:-0}
	ERRS[$name]=$(awk '/Socket errors:/ {sub(/.*Socket errors: */, ""); print}' "$out")
	ERRS[$name]=${ERRS[$name]:-none}
	log "$name: ${RPS[$name]} req/s, p50 ${P50[$name]} ms, p99 ${P99[$name]} ms, non-2xx ${NON2XX[$name]}, socket errors ${ERRS[$name]}"
	[[ -n "${RPS[$name]}" ]] || die "could not parse wrk output for $name ($out)"
}

# check_me NAME URL COOKIE: the cookie must get a 200 from /me before wrk runs.
check_me() {
	local code
	code=$(curl -s -o "$TMP/me-$1.body" -w '%{http_code}' -H "Cookie: $3" "$2")
	[[ "$code" = 200 ]] || die "$1: GET /me with the cookie answered $code: $(head -c 200 "$TMP/me-$1.body")"
	log "$1: GET /me -> 200 $(head -c 120 "$TMP/me-$1.body")"
}

want() { [[ " $TARGETS " == *" $1 "* ]]; }
ORDER=()
EXPRESS_COOKIE=""

# ---- express + express-session + connect-redis -------------------------------
if want express; then
	command -v "$REDIS_SERVER" >/dev/null || die "redis-server not found (apt-get install redis-server)"
	if [[ ! -d "$PEERS/node_modules/express-session" ]]; then
		log "installing bench/peers dependencies (npm ci)"
		(cd "$PEERS" && npm ci --no-audit --no-fund >/dev/null)
	fi
	free_port RPORT
	"${SRV[@]}" "$REDIS_SERVER" --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no \
		--daemonize no --dir "$TMP" --logfile "$TMP/redis.log" &
	PIDS+=($!); wait_port "$RPORT" "$!" redis-server
	free_port EPORT
	( cd "$PEERS" && exec env PORT="$EPORT" HOST=127.0.0.1 REDIS_URL="redis://127.0.0.1:$RPORT" \
		SESSION_SECRET="bench-$(date +%s%N)" NODE_ENV=production \
		BENCH_EMAIL="$BENCH_EMAIL" BENCH_PASSWORD="$BENCH_PW" \
		"${SRV[@]}" node session-app.js ) >"$TMP/express.log" 2>&1 &
	PIDS+=($!); wait_port "$EPORT" "$!" "express session-app"
	# The seed's cookie is `secure: true`; the app trusts one proxy hop, so the login
	# says it came over https to be given its cookie. wrk then just sends it.
	EXPRESS_COOKIE=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
		-H 'X-Forwarded-Proto: https' \
		-d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PW\"}" \
		"http://127.0.0.1:$EPORT/login" | tr -d '\r' |
		sed -n 's/^[Ss]et-[Cc]ookie: *\(connect\.sid=[^;]*\).*/\1/p' | head -n1)
	[[ -n "$EXPRESS_COOKIE" ]] || die "express: login gave no connect.sid cookie"
	check_me express "http://127.0.0.1:$EPORT/me" "$EXPRESS_COOKIE"
	run_wrk express "http://127.0.0.1:$EPORT/me" "$EXPRESS_COOKIE"
	ORDER+=(express)
fi

# ---- nginx constant --------------------------------------------------------------
if want nginx; then
	[[ -x "$NGINX" ]] || die "$NGINX not found (apt-get install nginx-light)"
	free_port NPORT
	mkdir -p "$TMP/nginx"
	cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $TMP/nginx/body;
	proxy_temp_path $TMP/nginx/proxy;
	server {
		listen 127.0.0.1:$NPORT;
		location = /me {
			default_type application/json;
			return 200 '{"ok":true}';
		}
	}
}
EOF
	"${SRV[@]}" "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" &
	PIDS+=($!); wait_port "$NPORT" "$!" nginx
	# nginx ignores the cookie; it is sent so the request is the same size.
	NGINX_COOKIE=${EXPRESS_COOKIE:-connect.sid=s%3Aconstant}
	check_me nginx "http://127.0.0.1:$NPORT/me" "$NGINX_COOKIE"
	run_wrk nginx "http://127.0.0.1:$NPORT/me" "$NGINX_COOKIE"
	ORDER+=(nginx)
fi

# ---- latchkey --------------------------------------------------------------------
LOGIN_SUMMARY=""
if want latchkey && [[ -n "${LATCHKEY_BIN:-}" ]]; then
	[[ -x "$LATCHKEY_BIN" ]] || die "LATCHKEY_BIN=$LATCHKEY_BIN is not executable"
	if "$LATCHKEY_BIN" serve --help >/dev/null 2>&1 || "$LATCHKEY_BIN" help 2>&1 | grep -qw serve; then
		STORE="sqlite:$TMP/lk.db"
		printf '%s\n' "$BENCH_PW" | "$LATCHKEY_BIN" user add "$BENCH_USER" --store "$STORE" \
			>"$TMP/user-add.log" 2>&1 || die "latchkey user add failed: $(cat "$TMP/user-add.log")"
		free_port LPORT
		# shellcheck disable=SC2086 # LATCHKEY_SERVE_ARGS is a list of flags
		"${SRV[@]}" "$LATCHKEY_BIN" serve --listen "127.0.0.1:$LPORT" --store "$STORE" --insecure-cookies \
			${LATCHKEY_SERVE_ARGS:-} >"$TMP/latchkey.log" 2>&1 &
		PIDS+=($!); wait_port "$LPORT" "$!" "latchkey serve"
		LK_COOKIE=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
			-d "{\"username\":\"$BENCH_USER\",\"password\":\"$BENCH_PW\"}" \
			"http://127.0.0.1:$LPORT/login" | tr -d '\r' |
			sed -n 's/^[Ss]et-[Cc]ookie: *\(\(__Host-\)\{0,1\}latchkey=[^;]*\).*/\1/p' | head -n1)
		[[ -n "$LK_COOKIE" ]] || die "latchkey: login gave no latchkey cookie"
		check_me latchkey "http://127.0.0.1:$LPORT/me" "$LK_COOKIE"
		run_wrk latchkey "http://127.0.0.1:$LPORT/me" "$LK_COOKIE"
		ORDER+=(latchkey)

		# Same, while LOGIN_RATE logins/s hit Argon2: the load starts 2 s before wrk
		# and runs DURATION + 4 s, so it covers the whole measured run.
		"${CLI[@]}" node "$HERE/login-load.js" "http://127.0.0.1:$LPORT/login" "$LOGIN_RATE" "$((DURATION + 4))" \
			"{\"username\":\"$BENCH_USER\",\"password\":\"$BENCH_PW\"}" >"$TMP/login-load.json" 2>&1 &
		LOADPID=$!; PIDS+=("$LOADPID")
		sleep 2
		WARMUP=0 run_wrk latchkey+logins "http://127.0.0.1:$LPORT/me" "$LK_COOKIE"
		wait "$LOADPID" || true
		LOGIN_SUMMARY=$(cat "$TMP/login-load.json")
		log "login load: $LOGIN_SUMMARY"
		ORDER+=(latchkey+logins)
	else
		log "$LATCHKEY_BIN has no serve command yet: no latchkey rows"
	fi
fi

# ---- latchkey on Redis (issue 5): the same Redis server as the Express app -------
if want latchkey-redis && [[ -n "${LATCHKEY_BIN:-}" ]]; then
	if [[ -z "${RPORT:-}" ]]; then
		free_port RPORT
		"${SRV[@]}" "$REDIS_SERVER" --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no \
			--daemonize no --dir "$TMP" --logfile "$TMP/redis.log" &
		PIDS+=($!); wait_port "$RPORT" "$!" redis-server
	fi
	RSTORE="redis://127.0.0.1:$RPORT/1"  # db 1: the Express app uses db 0
	printf '%s\n' "$BENCH_PW" | "$LATCHKEY_BIN" user add "$BENCH_USER" --store "$RSTORE" \
		>"$TMP/user-add-redis.log" 2>&1 || die "latchkey user add (redis) failed: $(cat "$TMP/user-add-redis.log")"
	free_port RLPORT
	# shellcheck disable=SC2086 # LATCHKEY_SERVE_ARGS is a list of flags
	"${SRV[@]}" "$LATCHKEY_BIN" serve --listen "127.0.0.1:$RLPORT" --store "$RSTORE" --insecure-cookies \
		${LATCHKEY_SERVE_ARGS:-} >"$TMP/latchkey-redis.log" 2>&1 &
	PIDS+=($!); wait_port "$RLPORT" "$!" "latchkey serve (redis)"
	RLK_COOKIE=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
		-d "{\"username\":\"$BENCH_USER\",\"password\":\"$BENCH_PW\"}" \
		"http://127.0.0.1:$RLPORT/login" | tr -d '\r' |
		sed -n 's/^[Ss]et-[Cc]ookie: *\(\(__Host-\)\{0,1\}latchkey=[^;]*\).*/\1/p' | head -n1)
	[[ -n "$RLK_COOKIE" ]] || die "latchkey (redis): login gave no latchkey cookie"
	check_me latchkey-redis "http://127.0.0.1:$RLPORT/me" "$RLK_COOKIE"
	run_wrk latchkey-redis "http://127.0.0.1:$RLPORT/me" "$RLK_COOKIE"
	ORDER+=(latchkey-redis)
	run_wrk latchkey-redis-verify "http://127.0.0.1:$RLPORT/auth/verify" "$RLK_COOKIE"
	ORDER+=(latchkey-redis-verify)
fi

[[ ${#ORDER[@]} -gt 0 ]] || die "nothing was measured"

# ---- table -----------------------------------------------------------------------
ratio() { # ratio A B -> A/B with 2 decimals, or n/a
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2fx", a / b }'
}
{
	echo "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, GET /me with a session cookie, loopback;" \
		"$(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo);" \
		"load average $LOAD_BEFORE before, $(cut -d' ' -f1-3 /proc/loadavg) after"
	echo
	echo "| target | req/s | p50 ms | p99 ms | vs Express | vs nginx | non-2xx |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	for n in "${ORDER[@]}"; do
		printf '| %s | %.0f | %s | %s | %s | %s | %s |\n' "$n" "${RPS[$n]}" "${P50[$n]}" "${P99[$n]}" \
			"$(ratio "${RPS[$n]}" "${RPS[express]:-}")" "$(ratio "${RPS[$n]}" "${RPS[nginx]:-}")" "${NON2XX[$n]}"
	done
	if [[ -n "$LOGIN_SUMMARY" ]]; then
		echo
		echo "latchkey+logins: $LOGIN_RATE logins/s offered during the run: $LOGIN_SUMMARY"
	fi
	if [[ -n "${RPS[latchkey-redis]:-}" && -n "${RPS[express]:-}" ]]; then
		echo
		echo "Issue 5 targets (latchkey on the same Redis as Express):"
		for k in latchkey-redis latchkey-redis-verify; do
			awk -v n="$k" -v a="${RPS[$k]}" -v b="${RPS[express]}" -v p="${P99[$k]}" \
				'BEGIN { printf "- %s: %.1fx Express (>= 5x: %s), p99 %s ms (< 3 ms: %s)\n", n, a / b, (a / b >= 5) ? "PASS" : "FAIL", p, (p < 3) ? "PASS" : "FAIL" }'
		done
	fi
	if [[ -n "${RPS[latchkey]:-}" ]]; then
		echo
		echo "Issue 3 targets (latchkey):"
		if [[ -n "${RPS[express]:-}" ]]; then
			awk -v a="${RPS[latchkey]}" -v b="${RPS[express]}" \
				'BEGIN { printf "- >= 10x Express req/s: %.2fx %s\n", a / b, (a >= 10 * b) ? "PASS" : "FAIL" }'
		fi
		if [[ -n "${RPS[nginx]:-}" ]]; then
			awk -v a="${RPS[latchkey]}" -v b="${RPS[nginx]}" \
				'BEGIN { printf "- >= 50%% of nginx req/s: %.0f%% %s\n", 100 * a / b, (a >= 0.5 * b) ? "PASS" : "FAIL" }'
		fi
		awk -v p="${P99[latchkey]}" 'BEGIN { printf "- p99 < 2 ms: %s ms %s\n", p, (p < 2) ? "PASS" : "FAIL" }'
		if [[ -n "${P99[latchkey+logins]:-}" ]]; then
			awk -v p="${P99[latchkey+logins]}" \
				'BEGIN { printf "- p99 < 5 ms during logins: %s ms %s\n", p, (p < 5) ? "PASS" : "FAIL" }'
		fi
	fi
} >"$TMP/table.md"
cat "$TMP/table.md"

if [[ -n "${OUT_DIR:-}" ]]; then
	mkdir -p "$OUT_DIR"
	cp "$TMP"/wrk-*.txt "$TMP/table.md" "$OUT_DIR"/
	if [[ -f "$TMP/login-load.json" ]]; then cp "$TMP/login-load.json" "$OUT_DIR"/; fi
	log "raw outputs in $OUT_DIR"
fi
