#!/usr/bin/env bash
# Black-box tests of `latchkey jwt sign --key JWK_FILE [--exp-in DURATION] CLAIMS_JSON|-`:
# every algorithm round-trips through `jwk public` + `jwt verify`; the header is
# {"alg":<key's>,"typ":"JWT","kid":<key's>}; --exp-in sets exp = now + d and iat = now.
. "$(dirname "$0")/tap.bash"

NOW=$(date +%s)
CLAIMS='{"iss":"https://issuer.example","sub":"alice","aud":"api","exp":'$((NOW + 600))',"jti":"j-1","scope":"read write","n":42}'

same_claims() {
	python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1]) == json.loads(sys.argv[2]) else 1)' "$1" "$2"
}
header_is() { # header_is TOKEN ALG KID: header exactly {"alg":ALG,"typ":"JWT","kid":KID}
	py 'import sys
h, p, s = lkt.parts(sys.argv[1])
sys.exit(0 if h == {"alg": sys.argv[2], "typ": "JWT", "kid": sys.argv[3]} else 1)' "$1" "$2" "$3"
}

for alg in $ALGS; do
	run jwk generate --alg "$alg"
	if [ "$RC" -ne 0 ]; then fail "$alg: jwk generate"; continue; fi
	printf '%s' "$OUT" >"$TMP/$alg.key"
	kid=$(json_get "$TMP/$alg.key" 'j["kid"]')

	run jwt sign --key "$TMP/$alg.key" "$CLAIMS"
	tok=$OUT
	if [ "$RC" -eq 0 ] && [ "$(err_lines)" -eq 0 ] && [[ "$tok" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]; then
		pass "$alg: jwt sign prints one compact JWS"
	else
		fail "$alg: jwt sign prints one compact JWS"; continue
	fi
	check "$alg: header is {alg:$alg, typ:JWT, kid:<key kid>}" header_is "$tok" "$alg" "$kid"
	check "$alg: payload is the claims as given" same_claims "$(py 'import sys,json; print(json.dumps(lkt.parts(sys.argv[1])[1]))' "$tok")" "$CLAIMS"

	if [ "${alg#HS}" != "$alg" ]; then
		jwks="$TMP/$alg.key" # oct keys are never published: verify with the secret itself
	else
		run jwk public "$TMP/$alg.key"
		printf '%s' "$OUT" >"$TMP/$alg.jwks"
		jwks="$TMP/$alg.jwks"
	fi
	run jwt verify --jwks "$jwks" --alg "$alg" --iss https://issuer.example --aud api "$tok"
	expect_valid "$alg: token verifies with jwt verify (key from jwk public)"
	check "$alg: verified payload equals the claims" same_claims "$OUT" "$CLAIMS"

	# A second signature is still valid (ECDSA, PSS and RSA all work per call).
	run jwt sign --key "$TMP/$alg.key" '{"sub":"bob"}'
	tok2=$OUT
	run jwt verify --jwks "$jwks" "$tok2"
	expect_valid "$alg: a second token from the same key verifies"

	# Tampered: re-encode the payload with another subject.
	bad=$(py 'import sys,json
h, p, s = sys.argv[1].split(".")
print(h + "." + lkt.b64u(json.dumps({"sub": "mallory"})) + "." + s)' "$tok2")
	run jwt verify --jwks "$jwks" "$bad"
	expect_invalid "$alg: tampered token -> 1 bad_signature" bad_signature
done

# ---- --exp-in
run jwk generate --alg ES256 --kid sign-test
printf '%s' "$OUT" >"$TMP/es.key"
run jwk public "$TMP/es.key"
printf '%s' "$OUT" >"$TMP/es.jwks"

# claims_ok TOKEN PYEXPR [ARGS...]: PYEXPR over p = payload, a = extra args, must be true.
claims_ok() {
	py 'import sys
h, p, s = lkt.parts(sys.argv[1]); a = sys.argv[3:]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$@" 2>/dev/null
}

for spec in 15m:900 1h:3600 30s:30 7d:604800 120:120; do
	d=${spec%%:*} want=${spec#*:}
	t0=$(date +%s)
	run jwt sign --key "$TMP/es.key" --exp-in "$d" '{"sub":"alice"}'
	t1=$(date +%s)
	if [ "$RC" -ne 0 ]; then fail "--exp-in $d: exit 0"; continue; fi
	tok=$OUT
	check "--exp-in $d gives exp - iat = $want" claims_ok "$tok" 'p["exp"] - p["iat"] == int(a[0])' "$want"
	check "--exp-in $d: iat is now" claims_ok "$tok" 'int(a[0]) <= p["iat"] <= int(a[1])' "$t0" "$t1"
	check "--exp-in $d: exp and iat are JSON integers" claims_ok "$tok" 'type(p["exp"]) is int and type(p["iat"]) is int'
done

t0=$(date +%s)
run jwt sign --key "$TMP/es.key" --exp-in 15m '{"sub":"alice","iat":1700000000}'
t1=$(date +%s)
tok=$OUT
check "--exp-in keeps an iat already in the claims" claims_ok "$tok" 'p["iat"] == 1700000000'
check "--exp-in with a given iat still sets exp = now + 900" \
	claims_ok "$tok" 'int(a[0]) + 900 <= p["exp"] <= int(a[1]) + 900' "$t0" "$t1"

run jwt sign --key "$TMP/es.key" --exp-in 15m '{"sub":"alice"}'
run jwt verify --jwks "$TMP/es.jwks" --now $(($(date +%s) + 1000)) "$OUT"
expect_invalid "--exp-in 15m token is expired 1000 s later" expired

run jwt sign --key "$TMP/es.key" '{"sub":"alice"}'
check "without --exp-in no exp is added" claims_ok "$OUT" '"exp" not in p'

for d in abc 15x -5m ""; do
	run jwt sign --key "$TMP/es.key" --exp-in "$d" '{"sub":"alice"}'
	expect_usage "--exp-in '$d' -> 2"
done

# ---- claims from stdin
printf '%s\n' "$CLAIMS" >"$TMP/claims.json"
STDIN="$TMP/claims.json" run jwt sign --key "$TMP/es.key" -
expect_rc "claims from stdin via '-' -> exit 0" 0
run jwt verify --jwks "$TMP/es.jwks" "$OUT"
check "stdin claims: token verifies with those claims" same_claims "$OUT" "$CLAIMS"

# ---- bad claims: exit 1 or 2 with a message, nothing on stdout
for c in '[1,2]' '"alice"' '42' 'not json' '{"sub":"alice"' '{"a":1,"a":2}' ''; do
	run jwt sign --key "$TMP/es.key" "$c"
	expect_fail12 "claims '$c' are refused (exit 1 or 2, message, empty stdout)"
done

# ---- key problems
run jwt sign --key "$TMP/no-such-key.json" '{"sub":"alice"}'
expect_usage "missing key file -> 2"

run jwt sign '{"sub":"alice"}'
expect_usage "no --key -> 2"

run jwt sign --key "$TMP/es.key"
expect_usage "no claims argument -> 2"

json_get "$TMP/es.jwks" 'j["keys"][0]' >"$TMP/es.pub"
run jwt sign --key "$TMP/es.pub" '{"sub":"alice"}'
expect_fail12 "signing with a public key is refused (exit 1 or 2, message, empty stdout)"

write_file "$TMP/garbage.key" 'garbage'
run jwt sign --key "$TMP/garbage.key" '{"sub":"alice"}'
expect_fail12 "garbage key file is refused (exit 1 or 2, message, empty stdout)"

done_testing
