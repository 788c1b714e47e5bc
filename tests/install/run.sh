#!/usr/bin/env bash
# tests/install/run.sh: liblatchkey as a user gets it. `make install PREFIX=<temp>`, then,
# from fresh temporary directories (never the repository):
#   - installed files and modes; pkg-config finds latchkey at LK_VERSION;
#   - the shared library: soname liblatchkey.so.0, exports lk_* only, every LK_API
#     function of latchkey.h;
#   - latchkey.h compiles alone with only -I<prefix>/include (C and C++);
#   - a program built with `pkg-config --cflags --libs latchkey` verifies, through
#     lk_verifier on a JWKS file, a token from `latchkey jwt sign`; ldd shows the
#     installed .so; linked with liblatchkey.a instead, it has no .so at all;
#   - examples/orders-service builds against the installed library through pkg-config;
#   - end to end against `latchkey serve`: a client-credentials token gets 200 from
#     /api/orders, no token and a garbage token get 401; with the client's credentials
#     (revocation feed), a token revoked at the issuer gets 401 within seconds.
# Environment: LATCHKEY = the latchkey binary (default build/latchkey; the library
# installed is the one of the same build directory). TAP output; exit 1 on any failure.
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
LATCHKEY=${LATCHKEY:-$ROOT/build/latchkey}
B=$(dirname "$LATCHKEY")
B=${B#"$ROOT"/}
N=0 FAILED=0 PIDS=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-install.XXXXXX")
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { N=$((N + 1)); echo "ok $N - $1"; }
fail() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"; [ $# -ge 2 ] && printf '%s\n' "$2" | head -30 | sed 's/^/# /'; }
check() { local d=$1; shift; local out; if out=$("$@" 2>&1); then pass "$d"; else fail "$d" "$out"; fi; }
finish() { echo "1..$N"; [ "$FAILED" -eq 0 ]; exit $?; }

if [ "$B" != build ]; then
	echo "1..0 # SKIP install checks run on the release build only ($B)"; exit 0
fi
if [ ! -x "$LATCHKEY" ]; then
	echo "not ok 1 - $LATCHKEY is built"; echo "1..1"; exit 1
fi

P=$TMP/prefix
VERSION=$(sed -n 's/^#define LK_VERSION "\([0-9.]*\)"$/\1/p' include/latchkey.h)
export PKG_CONFIG_PATH=$P/lib/pkgconfig
CC=${CC:-cc}

# ---------------------------------------------------------------- install
if out=$(make --no-print-directory install PREFIX="$P" DESTDIR= 2>&1); then
	pass "make install PREFIX=<temp>"
else
	fail "make install PREFIX=<temp>" "$out"; finish
fi
modes() {
	local f want got bad=""
	while read -r f want; do
		got=$(stat -c %a "$P/$f" 2>/dev/null) || { bad="$bad $f:missing"; continue; }
		[ "$got" = "$want" ] || bad="$bad $f:$got(want $want)"
	done <<-EOM
		bin/latchkey 755
		lib/liblatchkey.a 644
		lib/liblatchkey.so.$VERSION 644
		include/latchkey.h 644
		lib/pkgconfig/latchkey.pc 644
	EOM
	[ "$(readlink "$P/lib/liblatchkey.so.0")" = "liblatchkey.so.$VERSION" ] || bad="$bad so.0-link"
	[ "$(readlink "$P/lib/liblatchkey.so")" = "liblatchkey.so.0" ] || bad="$bad so-link"
	[ -z "$bad" ] || { echo "wrong:$bad"; return 1; }
}
check "installed files, modes 0755/0644, symlinks .so -> .so.0 -> .so.$VERSION" modes
check "pkg-config --modversion latchkey is LK_VERSION ($VERSION)" \
	bash -c '[ "$(pkg-config --modversion latchkey)" = "$1" ]' _ "$VERSION"
check "pkg-config --libs latchkey is -L<prefix>/lib -llatchkey" \
	bash -c '[ "$(echo $(pkg-config --libs latchkey))" = "-L$1/lib -llatchkey" ]' _ "$P"

# ---------------------------------------------------------------- the shared library
SO=$P/lib/liblatchkey.so.$VERSION
check "soname is liblatchkey.so.0" \
	bash -c 'readelf -d "$1" | grep -q "(SONAME).*\[liblatchkey\.so\.0\]"' _ "$SO"
# Defined dynamic symbols, without the version node (LATCHKEY_0, type A).
exports=$(nm -D --defined-only "$SO" | awk '!($2 == "A" && $3 ~ /^LATCHKEY_/) {print $3}' | sed 's/@.*//')
stray=$(printf '%s\n' "$exports" | grep -v '^lk_' | grep -v '^$')
if [ -n "$exports" ] && [ -z "$stray" ]; then
	pass "exports only lk_* ($(printf '%s\n' "$exports" | wc -l) symbols)"
else
	fail "exports only lk_*" "not lk_*: $(echo $stray)"
fi
declared=$(grep -oE '^LK_API[^(]*\blk_[a-z0-9_]+\(' include/latchkey.h | grep -oE 'lk_[a-z0-9_]+\($' | tr -d '(' | sort -u)
missing=$(comm -23 <(printf '%s\n' "$declared") <(printf '%s\n' "$exports" | sort -u))
if [ -z "$missing" ]; then
	pass "exports every LK_API function of latchkey.h ($(printf '%s\n' "$declared" | wc -l))"
else
	fail "exports every LK_API function of latchkey.h" "missing: $(echo $missing)"
fi
check "undefined symbols resolve against its NEEDED libraries (ldd -r)" \
	bash -c '! ldd -r "$1" 2>&1 | grep -E "undefined symbol|not found"' _ "$SO"

# ---------------------------------------------------------------- the header alone
H=$TMP/header; mkdir -p "$H"; cd "$H" || exit 1
printf '#include <latchkey.h>\nint main(void) { return lk_err_class(LK_OK) == LK_CLASS_OK ? 0 : 1; }\n' >h.c
check "latchkey.h compiles alone (C11, -I<prefix>/include only, -Wall -Wextra -pedantic -Werror)" \
	"$CC" -std=c11 -Wall -Wextra -pedantic -Werror -I"$P/include" -c h.c -o h.o
if command -v c++ >/dev/null; then
	cp h.c h.cc
	check "latchkey.h compiles alone as C++" c++ -Wall -Wextra -Werror -I"$P/include" -c h.cc -o hpp.o
fi

# ---------------------------------------------------------------- a program, pkg-config
W=$TMP/prog; mkdir -p "$W"; cd "$W" || exit 1
cat >x.c <<'EOC'
#include <stdio.h>
#include <string.h>
#include <latchkey.h>
/* x JWKS_FILE ISSUER TOKEN: verify TOKEN through an lk_verifier on JWKS_FILE; print sub. */
int main(int argc, char **argv)
{
	struct lk_verifier_config cfg = {0};
	struct lk_errinfo ei = {0};
	lk_verifier *v = NULL;
	lk_jwt *jwt = NULL;
	if (argc != 4)
		return 2;
	cfg.jwks_file = argv[1];
	cfg.iss = argv[2];
	cfg.typ = "JWT"; /* latchkey jwt sign writes typ JWT; access tokens are at+jwt */
	enum lk_err err = lk_verifier_new(&cfg, &v, &ei);
	if (err != LK_OK) {
		printf("new: %s: %s\n", lk_err_str(err), ei.detail);
		return 1;
	}
	err = lk_verifier_verify(v, argv[3], strlen(argv[3]), &jwt, &ei);
	if (err == LK_OK)
		printf("sub=%s\n", lk_jwt_claim_str(jwt, "sub"));
	else
		printf("invalid: %s\n", lk_err_str(err));
	lk_jwt_free(jwt);
	lk_verifier_free(v);
	return err == LK_OK ? 0 : 1;
}
EOC
"$LATCHKEY" jwk generate --alg ES256 --kid install-1 --out key.json >/dev/null 2>&1
"$LATCHKEY" jwk public key.json >jwks.json 2>/dev/null
TOKEN=$("$LATCHKEY" jwt sign --key key.json --exp-in 10m \
	'{"iss":"https://install.test","sub":"alice","jti":"install-jti-1"}' 2>/dev/null)
[ -n "$TOKEN" ] || fail "latchkey jwt sign made a token"
# shellcheck disable=SC2046
if out=$("$CC" -std=c11 -Wall -Wextra -Werror -o x x.c $(pkg-config --cflags --libs latchkey) 2>&1); then
	pass "cc x.c \$(pkg-config --cflags --libs latchkey)"
	check "ldd: x uses the installed liblatchkey.so.0" \
		bash -c 'LD_LIBRARY_PATH="$1/lib" ldd ./x | grep -qE "liblatchkey\.so\.0 => $1/lib/liblatchkey\.so\.0 "' _ "$P"
	out=$(LD_LIBRARY_PATH=$P/lib ./x jwks.json https://install.test "$TOKEN" 2>&1)
	[ "$out" = "sub=alice" ] && pass "x: lk_verifier on the JWKS file accepts the signed token" ||
		fail "x: lk_verifier on the JWKS file accepts the signed token" "$out"
	out=$(LD_LIBRARY_PATH=$P/lib ./x jwks.json https://other.test "$TOKEN" 2>&1)
	[ "$out" = "invalid: bad_issuer" ] && pass "x: a wrong issuer is refused (bad_issuer)" ||
		fail "x: a wrong issuer is refused (bad_issuer)" "$out"
	out=$(LD_LIBRARY_PATH=$P/lib ./x jwks.json https://install.test "${TOKEN%?????}AAAAA" 2>&1)
	case $out in "invalid: bad_signature" | "invalid: malformed") pass "x: a tampered token is refused ($out)" ;;
		*) fail "x: a tampered token is refused" "$out" ;; esac
else
	fail "cc x.c \$(pkg-config --cflags --libs latchkey)" "$out"
fi
# Static: the archive by path (with both installed, -llatchkey picks the .so), then the
# packages latchkey.pc names in Requires.private, linked as shared libraries (`pkg-config
# --static` would want libcurl's own static dependencies too), and Libs.private.
deps=$(pkg-config --print-requires-private latchkey | awk '{print $1}')
# shellcheck disable=SC2046,SC2086
if out=$("$CC" -std=c11 -o xs x.c $(pkg-config --cflags latchkey) "$P/lib/liblatchkey.a" \
	$(pkg-config --libs $deps) -lpthread 2>&1); then
	if ldd ./xs | grep -q liblatchkey; then
		fail "static link: x has no liblatchkey.so" "$(ldd ./xs)"
	else
		out=$(./xs jwks.json https://install.test "$TOKEN" 2>&1)
		[ "$out" = "sub=alice" ] && pass "static link (liblatchkey.a + Requires.private): x accepts the token" ||
			fail "static link (liblatchkey.a + Requires.private): x accepts the token" "$out"
	fi
else
	fail "static link (liblatchkey.a + Requires.private)" "$out"
fi

# ---------------------------------------------------------------- examples/orders-service
E=$TMP/orders; cp -r "$ROOT/examples/orders-service" "$E"; rm -f "$E/orders"; cd "$E" || exit 1
if out=$(make 2>&1) && [ -x orders ]; then
	pass "examples/orders-service builds against the installed library (pkg-config only)"
else
	fail "examples/orders-service builds against the installed library (pkg-config only)" "$out"
	finish
fi
check "ldd: orders uses the installed liblatchkey.so.0" \
	bash -c 'LD_LIBRARY_PATH="$1/lib" ldd ./orders | grep -qE "liblatchkey\.so\.0 => $1/lib/"' _ "$P"

# ---------------------------------------------------------------- end to end
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { # URL: up to 10 s
	local i; for i in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; return 1
}
S=$TMP/server; mkdir -p "$S"; cd "$S" || exit 1
SPORT=$(free_port)
ISS=http://127.0.0.1:$SPORT
"$LATCHKEY" serve --listen "127.0.0.1:$SPORT" --store "sqlite:$S/l.db" >server.log 2>&1 &
PIDS+=($!)
if ! wait_http "$ISS/healthz"; then
	fail "latchkey serve starts" "$(tail -5 server.log)"; finish
fi
creds=$("$LATCHKEY" client add orders-e2e --store "sqlite:$S/l.db" 2>/dev/null)
CID=$(printf '%s\n' "$creds" | sed -n 's/^client_id=//p')
CSECRET=$(printf '%s\n' "$creds" | sed -n 's/^client_secret=//p')
get_token() {
	curl -s -u "$CID:$CSECRET" -d grant_type=client_credentials "$ISS/oauth2/token" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
AT=$(get_token 2>/dev/null)
[ -n "$AT" ] && pass "a client-credentials access token from $ISS/oauth2/token" ||
	{ fail "a client-credentials access token from /oauth2/token"; finish; }

# call PATH-ON-ORDERS [AUTH]: sets CODE, BODY, HDRS
call() {
	local args=(-s -o "$S/.body" -D "$S/.hdrs" -w '%{http_code}')
	[ $# -ge 2 ] && args+=(-H "Authorization: $2")
	CODE=$(curl "${args[@]}" "http://127.0.0.1:$OPORT$1")
	BODY=$(cat "$S/.body" 2>/dev/null); HDRS=$(tr -d '\r' <"$S/.hdrs" 2>/dev/null)
}
start_orders() { # [ID SECRET]
	OPORT=$(free_port)
	LATCHKEY_ISSUER=$ISS LATCHKEY_CLIENT_ID=${1:-} LATCHKEY_CLIENT_SECRET=${2:-} \
		LD_LIBRARY_PATH=$P/lib "$E/orders" "$OPORT" >"$S/orders.log" 2>&1 &
	OPID=$!; PIDS+=($OPID)
	local i; for i in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$OPORT/" && return 0
		kill -0 "$OPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
stop_orders() { kill "$OPID" 2>/dev/null; wait "$OPID" 2>/dev/null; }

# Without credentials: keys from discovery + JWKS, no revocation feed.
if start_orders; then
	pass "orders starts with LATCHKEY_ISSUER (discovery, JWKS)"
	call /api/orders "Bearer $AT"
	if [ "$CODE" = 200 ] && printf '%s' "$BODY" | python3 -c '
import json, sys; j = json.load(sys.stdin); assert j["sub"] == sys.argv[1] and j["orders"]' "$CID"; then
		pass "GET /api/orders with the token: 200 and the orders of its sub"
	else
		fail "GET /api/orders with the token: 200 and the orders of its sub" "$CODE $BODY"
	fi
	call /api/orders
	if [ "$CODE" = 401 ] && grep -qi '^WWW-Authenticate: Bearer realm="orders"$' <<<"$HDRS"; then
		pass "no token: 401 and the bare Bearer challenge (RFC 6750 §3.1)"
	else
		fail "no token: 401 and the bare Bearer challenge" "$CODE $BODY"$'\n'"$HDRS"
	fi
	call /api/orders "Bearer garbage"
	if [ "$CODE" = 401 ] && grep -qi '^WWW-Authenticate: Bearer .*error="invalid_token"' <<<"$HDRS" &&
		[ "$BODY" = '{"error":"invalid_token","error_description":"malformed"}' ]; then
		pass "garbage token: 401, error=\"invalid_token\", reason malformed"
	else
		fail "garbage token: 401, error=\"invalid_token\", reason malformed" "$CODE $BODY"$'\n'"$HDRS"
	fi
	call /api/orders "Bearer ${AT%?????}AAAAA"
	if [ "$CODE" = 401 ] && grep -q '"error":"invalid_token"' <<<"$BODY"; then
		pass "tampered token: 401 invalid_token ($BODY)"
	else
		fail "tampered token: 401 invalid_token" "$CODE $BODY"
	fi
	stop_orders
else
	fail "orders starts with LATCHKEY_ISSUER (discovery, JWKS)" "$(cat "$S/orders.log")"
fi

# With the client's credentials: the revocation feed. A token revoked at the issuer is
# refused within seconds.
if start_orders "$CID" "$CSECRET"; then
	pass "orders starts subscribed to the revocation feed"
	AT2=$(get_token 2>/dev/null)
	call /api/orders "Bearer $AT2"
	[ "$CODE" = 200 ] && pass "a fresh token: 200" || fail "a fresh token: 200" "$CODE $BODY"
	rc=$(curl -s -o /dev/null -w '%{http_code}' -u "$CID:$CSECRET" -d "token=$AT2" "$ISS/oauth2/revoke")
	[ "$rc" = 200 ] || fail "POST /oauth2/revoke: 200" "got $rc"
	for _ in $(seq 30); do call /api/orders "Bearer $AT2"; [ "$CODE" = 401 ] && break; sleep 0.1; done
	if [ "$CODE" = 401 ] && [ "$BODY" = '{"error":"invalid_token","error_description":"revoked"}' ]; then
		pass "revoked at the issuer: 401 revoked within 3 s"
	else
		fail "revoked at the issuer: 401 revoked within 3 s" "$CODE $BODY"
	fi
	stop_orders
else
	fail "orders starts subscribed to the revocation feed" "$(cat "$S/orders.log")"
fi
finish
