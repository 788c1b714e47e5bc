#!/usr/bin/env bash
# Black-box tests of `latchkey jwt verify --issuer URL [--client-id ID]`: the library's
# verifier (discovery -> JWKS, and with client credentials the revocation snapshot) against
# a real `latchkey serve` on a free loopback port with a temporary SQLite store.
#
# The story: a service verifying latchkey's access tokens should need only the issuer's
# URL. The keys come from its discovery document, whose `issuer` must be exactly the one
# configured (RFC 8414 §3.3), so a typo or a look-alike host is a configuration error
# (exit 2), not a silent acceptance; a token signed by any other key fails (exit 1); and
# with a client's credentials a revoked token is refused (`invalid: revoked`). The client
# secret is read from LATCHKEY_CLIENT_SECRET, never from argv, and never echoed.
. "$(dirname "$0")/tap.bash"

probe=$("$LATCHKEY" jwt verify --issuer http://127.0.0.1:1 x 2>&1 >/dev/null)
if [ "$probe" = "latchkey: --issuer: this build has no verifier" ]; then
	echo "1..0 # SKIP built without src/verify/verifier.c"
	exit 0
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { # wait_http URL: until it answers (any status)
	for _ in $(seq 1 100); do
		python3 - "$1" <<'PYEOF' 2>/dev/null && return 0
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=0.5)
except urllib.error.HTTPError:
    pass
PYEOF
		sleep 0.1
	done
	return 1
}
# http_status URL: the status of a GET (000 without an answer)
http_status() {
	python3 - "$1" <<'PYEOF'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
PYEOF
}
# post_form URL ID SECRET k=v...: POST a form with HTTP Basic (RFC 6749 §2.3.1); the JSON
# answer on stdout, or {"status": N} on an HTTP error.
post_form() {
	python3 - "$@" <<'PYEOF'
import base64, json, sys, urllib.parse, urllib.request, urllib.error
url, cid, sec = sys.argv[1:4]
form = dict(a.split("=", 1) for a in sys.argv[4:])
cred = urllib.parse.quote_plus(cid) + ":" + urllib.parse.quote_plus(sec)
req = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), headers={
    "Authorization": "Basic " + base64.b64encode(cred.encode()).decode(),
    "Content-Type": "application/x-www-form-urlencoded"})
try:
    print(urllib.request.urlopen(req, timeout=5).read().decode())
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code}))
PYEOF
}

PORT=$(free_port)
ISS=http://127.0.0.1:$PORT
STORE=sqlite:$TMP/lk.db
"$LATCHKEY" serve --listen "127.0.0.1:$PORT" --store "$STORE" --issuer "$ISS" >"$TMP/serve.log" 2>&1 &
CLEANUP_PIDS+=($!)
check "latchkey serve answers on $ISS" wait_http "$ISS/.well-known/openid-configuration"

run client add issuer-test --store "$STORE"
expect_rc "client add -> exit 0" 0
CID=$(sed -n 's/^client_id=//p' "$TMP/.out")
CSEC=$(sed -n 's/^client_secret=//p' "$TMP/.out")
check "client add printed an id and a secret" test -n "$CID" -a -n "$CSEC"

post_form "$ISS/oauth2/token" "$CID" "$CSEC" grant_type=client_credentials >"$TMP/tok.json"
TOK=$(json_get "$TMP/tok.json" 'j["access_token"]' 2>/dev/null)
check "POST /oauth2/token (client_credentials) gave an access token" test -n "$TOK"

# ---- discovery + JWKS
run jwt verify --issuer "$ISS" "$TOK"
expect_valid "--issuer: the server's own token -> exit 0"
check "... the payload names the issuer" test "$(json_get "$TMP/.out" 'j["iss"]')" = "$ISS"
STDIN="$TMP/tok.stdin"; printf '%s\n' "$TOK" >"$STDIN"
run jwt verify --issuer "$ISS" -
expect_valid "--issuer with the token on stdin -> exit 0"
STDIN=
run jwt verify --issuer "$ISS" --jwks "$ISS/.well-known/jwks.json" "$TOK"
expect_valid "--issuer with --jwks URL (no discovery) -> exit 0"
run jwt verify --issuer "$ISS" --aud no-such-audience "$TOK"
expect_invalid "--issuer --aud with another audience -> invalid: bad_audience" bad_audience
run jwt verify --issuer "$ISS" --typ JWT "$TOK"
expect_invalid "--issuer --typ JWT on an at+jwt token -> invalid: bad_typ" bad_typ

# ---- the issuer must be exactly the one configured (RFC 8414 §3.3)
run jwt verify --issuer "$ISS/" "$TOK"
expect_usage "--issuer with a trailing slash (not the server's issuer) -> exit 2"
check "... the message says the issuer does not match" grep -q 'issuer' "$TMP/.err"
run jwt verify --issuer "http://localhost:$PORT" "$TOK"
expect_usage "--issuer naming the same server by another host name -> exit 2"
DEAD=$(free_port)
run jwt verify --issuer "http://127.0.0.1:$DEAD" "$TOK"
expect_usage "--issuer where nothing listens -> exit 2"
check "... the message names discovery" grep -q 'discovery' "$TMP/.err"
run jwt verify --issuer "ftp://127.0.0.1:$PORT" "$TOK"
expect_usage "--issuer that is not an http(s) URL -> exit 2"

# ---- a token signed by another key, even one that claims the server's kid
KID=$(py 'import sys; print(lkt.parts(sys.argv[1])[0]["kid"])' "$TOK")
ALG=$(py 'import sys; print(lkt.parts(sys.argv[1])[0]["alg"])' "$TOK")
run jwk generate --alg "$ALG" --kid "$KID" --out "$TMP/evil.json"
expect_rc "jwk generate made a key with the server's kid" 0
CLAIMS=$(py 'import sys, json; print(json.dumps(lkt.parts(sys.argv[1])[1]))' "$TOK")
run jwt sign --key "$TMP/evil.json" "$CLAIMS"
EVIL=$OUT
run jwt verify --issuer "$ISS" --typ JWT "$EVIL"
expect_invalid "a token from another key under the server's kid -> invalid: bad_signature" bad_signature
run jwt verify --issuer "$ISS" "$EVIL"
expect_rc "the same token without --typ -> exit 1" 1
run jwk generate --alg "$ALG" --kid other-kid --out "$TMP/evil2.json"
run jwt sign --key "$TMP/evil2.json" "$CLAIMS"
run jwt verify --issuer "$ISS" --typ JWT "$OUT"
expect_invalid "a token from another key and kid -> invalid: no_matching_key" no_matching_key

# ---- usage
run jwt verify --issuer "$ISS" --now 1700000000 "$TOK"
expect_usage "--now with --issuer -> exit 2"
LATCHKEY_CLIENT_SECRET= run jwt verify --issuer "$ISS" --client-id "$CID" "$TOK"
expect_usage "--client-id without LATCHKEY_CLIENT_SECRET -> exit 2"
run jwt verify --jwks "$ISS/.well-known/jwks.json" --client-id "$CID" "$TOK"
expect_usage "--client-id without --issuer -> exit 2"

# ---- revocations (SPEC "Revocation events"): needs GET /revocations on the server
if [ "$(http_status "$ISS/revocations")" = 404 ]; then
	fail "GET $ISS/revocations is served" "404: the revocation feed is missing"
else
	export LATCHKEY_CLIENT_SECRET=$CSEC
	run jwt verify --issuer "$ISS" --client-id "$CID" "$TOK"
	expect_valid "--client-id (snapshot fetched): a live token -> exit 0"
	post_form "$ISS/oauth2/revoke" "$CID" "$CSEC" "token=$TOK" >"$TMP/rev.json"
	run jwt verify --issuer "$ISS" --client-id "$CID" "$TOK"
	expect_invalid "--client-id: the token after /oauth2/revoke -> invalid: revoked" revoked
	run jwt verify --issuer "$ISS" "$TOK"
	expect_valid "... while without credentials (no feed) it still verifies -> exit 0"
	LATCHKEY_CLIENT_SECRET=wrong-$CSEC run jwt verify --issuer "$ISS" --client-id "$CID" "$TOK"
	expect_usage "--client-id with a wrong secret -> exit 2"
	check "... the message says the credentials were refused" grep -q '401' "$TMP/.err"
	check "... and never shows the secret" test "$(grep -c -- "$CSEC" "$TMP/.err")" -eq 0
	unset LATCHKEY_CLIENT_SECRET
fi

done_testing
