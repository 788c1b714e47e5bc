#!/usr/bin/env bash
# bench/revocation/run.sh: issue 13 benchmark (a), revocation propagation. From the
# revoking HTTP response (POST /oauth2/revoke) to the first refusal by a verifier in
# another process (bench/revocation/propagation.c, liblatchkey subscribed to
# /revocations/stream), p50/p99 over N revocations:
#   sqlite   one latchkey on a temp SQLite file; revoke and stream on the same instance
#   redis    two latchkey instances on one redis-server; revoke on A, stream from B
# Everything on 127.0.0.1, free ports, stopped by PID on exit. N=1000 by default.
#   LATCHKEY_BIN (default build/latchkey)  PROP_BIN (default build/bench/propagation)
#   N=1000  RESULTS_FILE (default: print only)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${LATCHKEY_BIN:-$ROOT/build/latchkey}
PROP=${PROP_BIN:-$ROOT/build/bench/propagation}
N=${N:-1000}
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 200); do curl -fs "http://127.0.0.1:$1/healthz" >/dev/null && return 0; sleep 0.05; done; echo "server on $1 did not start" >&2; exit 1; }

# setup STORE ISSUER: user and the two clients; sets APP_ID APP_SECRET FEED_ID FEED_SECRET
setup() {
	local store=$1 issuer=$2 out
	printf '%s\n' 'bench-password-0123456789' | "$BIN" user add bench --store "$store" >/dev/null
	out=$("$BIN" client add app --store "$store"); APP_ID=$(sed -n 's/^client_id=//p' <<<"$out"); APP_SECRET=$(sed -n 's/^client_secret=//p' <<<"$out")
	out=$("$BIN" client add feed --store "$store"); FEED_ID=$(sed -n 's/^client_id=//p' <<<"$out"); FEED_SECRET=$(sed -n 's/^client_secret=//p' <<<"$out")
}

run() { # NAME ISSUER REVOKE_BASE
	env LATCHKEY_CLIENT_ID="$FEED_ID" LATCHKEY_CLIENT_SECRET="$FEED_SECRET" APP_ID="$APP_ID" \
		APP_SECRET="$APP_SECRET" USER=bench PASSWORD=bench-password-0123456789 "$PROP" "$2" "$3" "$N" |
		sed "s/^/$1 /"
}

FLAGS=(--insecure-cookies --log-requests false --rate-pair-free 1000000 --rate-ip-per-min 1000000)

# SQLite, one instance
P=$(free_port)
"$BIN" serve --listen "127.0.0.1:$P" --store "sqlite:$TMP/lk.db" "${FLAGS[@]}" >"$TMP/sq.log" 2>&1 & PIDS+=($!)
wait_up "$P"
setup "sqlite:$TMP/lk.db" "http://127.0.0.1:$P"
run sqlite "http://127.0.0.1:$P" "http://127.0.0.1:$P"

# Redis, two instances sharing one issuer name; the verifier streams from B, revokes go to A
RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no >"$TMP/redis.log" 2>&1 & PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.05; done
A=$(free_port); B=$(free_port)
"$BIN" serve --listen "127.0.0.1:$A" --store "redis://127.0.0.1:$RP/0" --issuer "http://127.0.0.1:$B" "${FLAGS[@]}" >"$TMP/a.log" 2>&1 & PIDS+=($!)
wait_up "$A"
"$BIN" serve --listen "127.0.0.1:$B" --store "redis://127.0.0.1:$RP/0" --issuer "http://127.0.0.1:$B" "${FLAGS[@]}" >"$TMP/b.log" 2>&1 & PIDS+=($!)
wait_up "$B"
setup "redis://127.0.0.1:$RP/0" "http://127.0.0.1:$B"
run redis "http://127.0.0.1:$B" "http://127.0.0.1:$A"
