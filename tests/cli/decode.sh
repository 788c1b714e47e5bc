#!/usr/bin/env bash
# Black-box tests of `latchkey jwt decode [--json] TOKEN|-`: header and payload without any
# key, times in human form; exit 1 on a malformed token, 2 on usage errors.
. "$(dirname "$0")/tap.bash"

SECRET_HEX=$(python3 -c 'import os; print(os.urandom(32).hex())')
NOW=$(date +%s)

mk() { # mk HEADER PAYLOAD [SECRET_HEX|none]
	py 'import sys
sec = sys.argv[3]
print(lkt.token(sys.argv[1], sys.argv[2], None if sec == "none" else bytes.fromhex(sec)))' \
		"$1" "$2" "${3:-$SECRET_HEX}"
}
HDR='{"alg":"HS256","typ":"JWT","kid":"k1"}'

EXP_SOON=$((NOW + 845))
TOK_SOON=$(mk "$HDR" '{"iss":"https://issuer.example","sub":"alice","aud":"api","exp":'$EXP_SOON',"iat":'$((NOW - 55))'}')
TOK_PAST=$(mk "$HDR" '{"sub":"bob","exp":'$((NOW - 7200))',"iat":'$((NOW - 8100))'}')

run jwt decode "$TOK_SOON"
expect_rc "decode a valid-looking token -> exit 0" 0
check "exp = now+845 shows 'expires in 14m'" grep -Eq 'expires in 14m( [0-9]+s)?' "$TMP/.out"
check "header alg HS256 is shown" grep -q 'HS256' "$TMP/.out"
check "header kid is shown" grep -q 'k1' "$TMP/.out"
check "payload sub is shown" grep -q 'alice' "$TMP/.out"
check "payload iss is shown" grep -q 'https://issuer.example' "$TMP/.out"

run jwt decode "$TOK_PAST"
expect_rc "decode an expired token -> exit 0 (decode checks nothing)" 0
check "exp = now-7200 shows 'expired 2h'" grep -q 'expired 2h' "$TMP/.out"
check "expired token: sub is shown" grep -q 'bob' "$TMP/.out"

TOK_DAYS=$(mk "$HDR" '{"sub":"carol","exp":'$((NOW + 3 * 86400 + 7200))'}')
run jwt decode "$TOK_DAYS"
expect_rc "decode a token valid for days -> exit 0" 0
check "exp three days ahead is shown as 'expires in ...'" grep -q 'expires in' "$TMP/.out"

run jwt decode --json "$TOK_SOON"
expect_rc "decode --json -> exit 0" 0
printf '%s' "$OUT" >"$TMP/dec.json"
check "--json output is JSON with header.alg = HS256" \
	test "$(json_get "$TMP/dec.json" 'j["header"]["alg"]' 2>&1)" = HS256
check "--json header.typ = JWT and header.kid = k1" \
	test "$(json_get "$TMP/dec.json" 'j["header"]["typ"] + "/" + j["header"]["kid"]' 2>&1)" = JWT/k1
check "--json payload.sub = alice" test "$(json_get "$TMP/dec.json" 'j["payload"]["sub"]' 2>&1)" = alice
check "--json payload.exp is the raw NumericDate" \
	test "$(json_get "$TMP/dec.json" 'j["payload"]["exp"]' 2>&1)" = "$EXP_SOON"
check "--json has exactly the members header and payload" \
	test "$(json_get "$TMP/dec.json" 'sorted(j.keys())' 2>&1)" = '["header", "payload"]'

printf '%s\n' "$TOK_SOON" >"$TMP/tok"
STDIN="$TMP/tok" run jwt decode -
expect_rc "token from stdin via '-' (with trailing newline) -> exit 0" 0
check "stdin: 'expires in 14m' shown" grep -Eq 'expires in 14m' "$TMP/.out"

STDIN="$TMP/tok" run jwt decode --json -
expect_rc "--json with token from stdin -> exit 0" 0
check "stdin --json: payload.sub = alice" \
	test "$(printf '%s' "$OUT" | json_get - 'j["payload"]["sub"]' 2>&1)" = alice

# decode verifies nothing: a wrong signature and alg none still decode.
WRONG_SIG=$(mk "$HDR" '{"sub":"alice","exp":'$EXP_SOON'}' "$(python3 -c 'import os; print(os.urandom(32).hex())')")
run jwt decode "$WRONG_SIG"
expect_rc "token with a signature from an unknown key decodes -> exit 0" 0

NONE_TOK=$(mk '{"alg":"none"}' '{"sub":"alice"}' none)
run jwt decode --json "$NONE_TOK"
expect_rc "unsecured (alg none) token decodes for display -> exit 0" 0
check "alg none: --json header.alg = none" test "$(printf '%s' "$OUT" | json_get - 'j["header"]["alg"]' 2>&1)" = none

# malformed -> 1
for bad in "a.b" "not-a-token" "a.b.c.d"; do
	run jwt decode "$bad"
	expect_fail12 "decode '$bad' fails with a message and empty stdout"
	expect_rc "decode '$bad' -> exit 1" 1
done

run jwt decode --json "a.b"
expect_rc "decode --json 'a.b' -> exit 1" 1
check "decode --json 'a.b': stdout empty" test "$(out_bytes)" -eq 0

run jwt decode '!!!!.e30.AAAA'
expect_rc "header not base64url -> exit 1" 1

run jwt decode "$(mk "$HDR" '{"sub":')"
expect_rc "payload not JSON -> exit 1" 1

PADDED=$(py 'import sys
h, p, s = sys.argv[1].split(".")
print(h + "=" * (-len(h) % 4 or 4) + "." + p + "." + s)' "$TOK_SOON")
run jwt decode "$PADDED"
expect_rc "padded base64url header -> exit 1 (strict base64url)" 1

BIG=$(py 'h = lkt.b64u(b"{\"alg\":\"HS256\"}"); print(h + "." + "A" * (9000 - len(h) - 2 - 43) + "." + "B" * 43)')
run jwt decode "$BIG"
expect_rc "9000-byte token -> exit 1" 1

# usage -> 2
run jwt decode
expect_usage "decode without a token -> 2"

run jwt decode --bogus "$TOK_SOON"
expect_usage "decode with an unknown option -> 2"

done_testing
