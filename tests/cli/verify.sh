#!/usr/bin/env bash
# Black-box tests of `latchkey jwt verify`: exit 0 + payload on stdout; exit 1 + exactly one
# stderr line "invalid: REASON"; exit 2 on usage or configuration errors. Stdout is empty on
# every failure. HS256 tokens are made here with python3's hmac, independently of the CLI.
. "$(dirname "$0")/tap.bash"

SECRET_HEX=$(python3 -c 'import os; print(os.urandom(32).hex())')
NOW=$(date +%s)
EXP=$((NOW + 600))

# mk HEADER PAYLOAD [SECRET_HEX|none]: a compact token signed with HMAC (alg from HEADER).
mk() {
	py 'import sys
sec = sys.argv[3]
print(lkt.token(sys.argv[1], sys.argv[2], None if sec == "none" else bytes.fromhex(sec)))' \
		"$1" "$2" "${3:-$SECRET_HEX}"
}

HDR='{"alg":"HS256","typ":"JWT","kid":"k1"}'
CLAIMS='{"iss":"https://issuer.example","sub":"alice","aud":"api","exp":'$EXP',"iat":'$NOW',"jti":"j-1","roles":["admin"]}'
TOK=$(mk "$HDR" "$CLAIMS")

K=$(py 'import sys; print(lkt.b64u(bytes.fromhex(sys.argv[1])))' "$SECRET_HEX")
JWK='{"kty":"oct","kid":"k1","alg":"HS256","k":"'$K'"}'
write_file "$TMP/jwk.json" "$JWK"
write_file "$TMP/jwks.json" '{"keys":['"$JWK"']}'

same_claims() { # same_claims JSON_A JSON_B
	python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1]) == json.loads(sys.argv[2]) else 1)' "$1" "$2"
}

# ---- valid tokens
run jwt verify --jwks "$TMP/jwks.json" "$TOK"
expect_valid "valid HS256 token, JWKS file -> exit 0"
check "stdout is the token's payload" same_claims "$OUT" "$CLAIMS"

run jwt verify --jwks "$TMP/jwk.json" "$TOK"
expect_valid "valid token, --jwks is a single JWK -> exit 0"

run jwt verify --jwks "$TMP/jwks.json" --iss https://issuer.example --aud api "$TOK"
expect_valid "valid token with matching --iss and --aud -> exit 0"

CLAIMS_AUDS='{"iss":"https://issuer.example","sub":"alice","aud":["other","api"],"exp":'$EXP'}'
run jwt verify --jwks "$TMP/jwks.json" --aud api "$(mk "$HDR" "$CLAIMS_AUDS")"
expect_valid "aud array containing --aud -> exit 0"

run jwt verify --jwks "$TMP/jwks.json" --alg ES256,HS256 "$TOK"
expect_valid "--alg list containing the key's alg -> exit 0"

printf '%s' "$TOK" >"$TMP/tok"
STDIN="$TMP/tok" run jwt verify --jwks "$TMP/jwks.json" -
expect_valid "token from stdin via '-' -> exit 0"
check "stdin: stdout is the payload" same_claims "$OUT" "$CLAIMS"

printf '%s\n' "$TOK" >"$TMP/tok_nl"
STDIN="$TMP/tok_nl" run jwt verify --jwks "$TMP/jwks.json" -
expect_valid "token from stdin with a trailing newline (echo \$T | latchkey jwt verify -) -> exit 0"

run jwt verify --jwks "$TMP/jwks.json" --now $((EXP + 30)) "$TOK"
expect_valid "exp 30 s ago is inside the default 60 s leeway -> exit 0"

# ---- rejected tokens: exit 1, one line
run jwt verify --jwks "$TMP/jwks.json" --now $((NOW + 3600)) "$TOK"
expect_invalid "expired (--now an hour ahead) -> 1 expired" expired

run jwt verify --jwks "$TMP/jwks.json" --leeway 0 --now $((EXP + 30)) "$TOK"
expect_invalid "exp 30 s ago with --leeway 0 -> 1 expired" expired

run jwt verify --jwks "$TMP/jwks.json" --iss https://evil.example "$TOK"
expect_invalid "wrong --iss -> 1 bad_issuer" bad_issuer

run jwt verify --jwks "$TMP/jwks.json" --aud other-api "$TOK"
expect_invalid "wrong --aud -> 1 bad_audience" bad_audience

run jwt verify --jwks "$TMP/jwks.json" --alg ES256 "$TOK"
expect_invalid "--alg not matching the token's alg -> 1 alg_not_allowed" alg_not_allowed

STDIN="$TMP/tok" run jwt verify --jwks "$TMP/jwks.json" --now $((NOW + 3600)) -
expect_invalid "expired token from stdin -> 1 expired" expired

BIG=$(py 'h = lkt.b64u(b"{\"alg\":\"HS256\"}"); print(h + "." + "A" * (9000 - len(h) - 2 - 43) + "." + "B" * 43)')
check "the big token is 9000 bytes" test "${#BIG}" -eq 9000
run jwt verify --jwks "$TMP/jwks.json" "$BIG"
expect_invalid "9000-byte token -> 1 too_large" too_large
printf '%s' "$BIG" >"$TMP/big"
STDIN="$TMP/big" run jwt verify --jwks "$TMP/jwks.json" -
expect_invalid "9000-byte token on stdin -> 1 too_large" too_large

run jwt verify --jwks "$TMP/jwks.json" "a.b"
expect_invalid "'a.b' -> 1 malformed" malformed

run jwt verify --jwks "$TMP/jwks.json" "a.b.c.d"
expect_invalid "four parts -> 1 malformed" malformed

NONE_TOK=$(mk '{"alg":"none","typ":"JWT"}' "$CLAIMS" none)
run jwt verify --jwks "$TMP/jwks.json" "$NONE_TOK"
expect_invalid "alg none token -> 1 alg_none" alg_none

NONE_KID=$(mk '{"alg":"none","typ":"JWT","kid":"k1"}' "$CLAIMS" none)
run jwt verify --jwks "$TMP/jwks.json" "$NONE_KID"
expect_invalid "alg none token naming a real kid -> 1 alg_none" alg_none

TAMPERED=$(py 'import sys,json
h, p, s = sys.argv[1].split(".")
c = json.loads(lkt.unb64u(p)); c["sub"] = "mallory"
print(h + "." + lkt.b64u(json.dumps(c, separators=(",", ":"))) + "." + s)' "$TOK")
run jwt verify --jwks "$TMP/jwks.json" "$TAMPERED"
expect_invalid "payload changed after signing -> 1 bad_signature" bad_signature

OTHER_SECRET=$(python3 -c 'import os; print(os.urandom(32).hex())')
run jwt verify --jwks "$TMP/jwks.json" "$(mk "$HDR" "$CLAIMS" "$OTHER_SECRET")"
expect_invalid "signed with another secret -> 1 bad_signature" bad_signature

run jwt verify --jwks "$TMP/jwks.json" "$(mk '{"alg":"HS256","typ":"JWT","kid":"nope"}' "$CLAIMS")"
expect_invalid "unknown kid -> 1 no_matching_key" no_matching_key

run jwt verify --jwks "$TMP/jwks.json" "$(mk "$HDR" '{"sub":"alice","exp":'$((NOW + 7200))',"nbf":'$((NOW + 3600))'}')"
expect_invalid "nbf an hour ahead -> 1 not_yet_valid" not_yet_valid

PADDED=$(py 'import sys
h, p, s = sys.argv[1].split(".")
print(h + "." + p + "=" * (-len(p) % 4 or 4) + "." + s)' "$TOK")
run jwt verify --jwks "$TMP/jwks.json" "$PADDED"
expect_invalid "padded base64url payload -> 1 bad_base64" bad_base64

# Padding that the signature covers: signed correctly, still not strict base64url.
PADDED_SIGNED=$(py 'import sys, hmac, hashlib
h, p, s = sys.argv[1].split(".")
si = h + "." + p + "=" * (-len(p) % 4 or 4)
print(si + "." + lkt.b64u(hmac.new(bytes.fromhex(sys.argv[2]), si.encode(), hashlib.sha256).digest()))' "$TOK" "$SECRET_HEX")
run jwt verify --jwks "$TMP/jwks.json" "$PADDED_SIGNED"
expect_invalid "padded payload under a valid signature -> 1 bad_base64" bad_base64

STRAY=$(py 'import sys
h, p, s = sys.argv[1].split(".")
A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
print(h + "." + p + "." + s[:-1] + A[A.index(s[-1]) | 1])' "$TOK")
run jwt verify --jwks "$TMP/jwks.json" "$STRAY"
expect_invalid "stray bits in the last signature character -> 1 bad_base64" bad_base64

run jwt verify --jwks "$TMP/jwks.json" "$(mk "$HDR" '{"sub":"alice","sub":"mallory"}')"
expect_invalid "duplicate claim -> 1 duplicate_member" duplicate_member

run jwt verify --jwks "$TMP/jwks.json" "$(mk "$HDR" '{"sub":"alice"')"
expect_invalid "payload is not JSON -> 1 bad_json" bad_json

run jwt verify --jwks "$TMP/jwks.json" "$(mk '{"alg":"HS256","kid":"k1","crit":["x-unknown"],"x-unknown":1}' "$CLAIMS")"
expect_invalid "unknown crit entry -> 1 unsupported_crit" unsupported_crit

# A key of the wrong size never verifies: 16-byte HS256 secret.
WEAK_HEX=00112233445566778899aabbccddeeff
WK=$(py 'import sys; print(lkt.b64u(bytes.fromhex(sys.argv[1])))' "$WEAK_HEX")
write_file "$TMP/weak.json" '{"keys":[{"kty":"oct","kid":"weak","alg":"HS256","k":"'$WK'"}]}'
run jwt verify --jwks "$TMP/weak.json" "$(mk '{"alg":"HS256","kid":"weak"}' "$CLAIMS" "$WEAK_HEX")"
expect_invalid "HS256 key of 16 bytes -> 1 weak_key" weak_key

# The algorithm comes from the key: an HS256 token naming an ES256 key's kid.
run jwk generate --alg ES256 --kid es1
printf '%s' "$OUT" >"$TMP/es_priv.json"
run jwk public "$TMP/es_priv.json"
printf '%s' "$OUT" >"$TMP/es_pub.json"
run jwt verify --jwks "$TMP/es_pub.json" "$(mk '{"alg":"HS256","typ":"JWT","kid":"es1"}' "$CLAIMS")"
expect_invalid "HS256 token naming an ES256 key -> 1 alg_not_allowed" alg_not_allowed

# ---- a token without kid: exactly one key of the set may fit its alg
NOKID=$(mk '{"alg":"HS256","typ":"JWT"}' "$CLAIMS")
run jwt verify --jwks "$TMP/jwks.json" "$NOKID"
expect_valid "no kid, one HS256 key in the set -> exit 0"
SECRET2_HEX=$(python3 -c 'import os; print(os.urandom(32).hex())')
K2=$(py 'import sys; print(lkt.b64u(bytes.fromhex(sys.argv[1])))' "$SECRET2_HEX")
write_file "$TMP/two.json" '{"keys":['"$JWK"',{"kty":"oct","kid":"k2","alg":"HS256","k":"'$K2'"}]}'
run jwt verify --jwks "$TMP/two.json" "$NOKID"
expect_invalid "no kid, two HS256 keys in the set -> 1 ambiguous_key" ambiguous_key
run jwt verify --jwks "$TMP/two.json" "$TOK"
expect_valid "the same token naming kid k1, two keys in the set -> exit 0"
write_file "$TMP/two_enc.json" '{"keys":['"$JWK"',{"kty":"oct","kid":"k2","alg":"HS256","use":"enc","k":"'$K2'"}]}'
run jwt verify --jwks "$TMP/two_enc.json" "$NOKID"
expect_valid "no kid, second key is use enc (cannot verify, does not count) -> exit 0"

# one RSA and one EC key: an ES256 token without kid has exactly one key that fits
run jwk generate --alg RS256 --kid rs1
printf '%s' "$OUT" >"$TMP/rs_priv.json"
run jwk generate --alg ES256 --kid ec1
printf '%s' "$OUT" >"$TMP/ec1_priv.json"
py 'import sys, json
keys = [json.load(open(f)) for f in sys.argv[1:3]]
for k in keys:
    for m in ("d", "p", "q", "dp", "dq", "qi"):
        k.pop(m, None)
json.dump({"keys": keys}, open(sys.argv[3], "w"))
k = json.load(open(sys.argv[2])); del k["kid"]
json.dump(k, open(sys.argv[4], "w"))' "$TMP/rs_priv.json" "$TMP/ec1_priv.json" "$TMP/mixed.json" "$TMP/ec1_nokid.json"
run jwt sign --key "$TMP/ec1_nokid.json" "$CLAIMS"
ES_NOKID=$OUT
check "jwt sign with a key without kid writes no kid" py 'import sys; sys.exit("kid" in lkt.parts(sys.argv[1])[0])' "$ES_NOKID"
run jwt verify --jwks "$TMP/mixed.json" "$ES_NOKID"
expect_valid "no kid, ES256 token, set of one RSA and one EC key -> exit 0"

# ---- use / key_ops
write_file "$TMP/enc.json" '{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","use":"enc","k":"'$K'"}]}'
run jwt verify --jwks "$TMP/enc.json" "$TOK"
expect_invalid "the kid names a key with use enc -> 1 key_not_for_signing" key_not_for_signing
write_file "$TMP/signonly.json" '{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","key_ops":["sign"],"k":"'$K'"}]}'
run jwt verify --jwks "$TMP/signonly.json" "$TOK"
expect_invalid "the kid names a key whose key_ops lack verify -> 1 key_not_for_signing" key_not_for_signing
write_file "$TMP/verifyonly.json" '{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","key_ops":["verify"],"k":"'$K'"}]}'
run jwt verify --jwks "$TMP/verifyonly.json" "$TOK"
expect_valid "key_ops [verify] -> exit 0"
write_file "$TMP/verifyonly.key" '{"kty":"oct","kid":"k1","alg":"HS256","key_ops":["verify"],"k":"'$K'"}'
run jwt sign --key "$TMP/verifyonly.key" "$CLAIMS"
expect_rc "jwt sign with key_ops [verify] -> exit 1" 1
check "... saying key_not_for_signing" test "${ERR#*key_not_for_signing}" != "$ERR"

# ---- mutations: never exit 0, never crash, always exactly one "invalid: WORD" line
REASONS="malformed too_large bad_base64 bad_json duplicate_member alg_none alg_not_allowed no_matching_key bad_signature weak_key unsupported_crit expired not_yet_valid issued_in_future bad_issuer bad_audience missing_claim bad_claim bad_typ bad_header"
py 'import sys, random
rnd = random.Random(7638)
tok = sys.argv[1]
alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %\"{}"
seen = set()
while len(seen) < 200:
    t = list(tok)
    for _ in range(rnd.randint(1, 3)):
        i = rnd.randrange(len(t))
        op = rnd.randrange(3)
        if op == 0: t[i] = rnd.choice(alphabet)
        elif op == 1: t.insert(i, rnd.choice(alphabet))
        else: del t[i]
    m = "".join(t)
    if m != tok and m not in seen:
        seen.add(m); print(m)' "$TOK" >"$TMP/mutants"
bad_mut=0
while IFS= read -r m; do
	run jwt verify --jwks "$TMP/jwks.json" -- "$m"
	word=${ERR#invalid: }
	if [ "$RC" -ne 1 ] || [ "$(out_bytes)" -ne 0 ] || [ "$(err_lines)" -ne 1 ] || [ "${ERR%%: *}" != invalid ] || [[ " $REASONS " != *" $word "* ]]; then
		bad_mut=$((bad_mut + 1))
		[ "$bad_mut" -le 3 ] && diag "mutant rejected wrongly: rc=$RC stderr='$ERR' token='$m'"
	fi
done <"$TMP/mutants"
RC=1 check "200 mutated tokens: each exit 1 with one 'invalid: <known reason>' line ($bad_mut wrong)" test "$bad_mut" -eq 0

# ---- usage / configuration errors: exit 2
run jwt verify "$TOK"
expect_usage "missing --jwks -> 2"

run jwt verify --jwks "$TMP/does-not-exist.json" "$TOK"
expect_usage "nonexistent JWKS file -> 2"

write_file "$TMP/garbage.json" 'this is { not json'
run jwt verify --jwks "$TMP/garbage.json" "$TOK"
expect_usage "garbage JWKS file -> 2"

write_file "$TMP/empty.json" ''
run jwt verify --jwks "$TMP/empty.json" "$TOK"
expect_usage "empty JWKS file -> 2"

run jwt verify --jwks "$TMP/jwks.json"
expect_usage "no token argument -> 2"

run jwt verify --jwks "$TMP/jwks.json" --bogus-option "$TOK"
expect_usage "unknown option -> 2"

run jwt verify --jwks "$TMP/jwks.json" --alg XX999 "$TOK"
expect_usage "unknown --alg name -> 2"

run jwt verify --jwks "$TMP/jwks.json" --now yesterday "$TOK"
expect_usage "non-numeric --now -> 2"

# ---- JWKS over HTTP
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mkdir -p "$TMP/www"
cp "$TMP/jwks.json" "$TMP/www/jwks.json"
PORT=$(free_port)
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$TMP/www" >"$TMP/http.log" 2>&1 &
CLEANUP_PIDS+=($!)
up=0
for _ in $(seq 1 50); do
	if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5)' "$PORT" 2>/dev/null; then
		up=1; break
	fi
	sleep 0.1
done
check "python3 http.server serves the JWKS on 127.0.0.1:$PORT" test "$up" -eq 1

run jwt verify --jwks "http://127.0.0.1:$PORT/jwks.json" --iss https://issuer.example --aud api "$TOK"
expect_valid "--jwks http://127.0.0.1:PORT/jwks.json -> exit 0"
check "HTTP JWKS: stdout is the payload" same_claims "$OUT" "$CLAIMS"

run jwt verify --jwks "http://127.0.0.1:$PORT/jwks.json" "$TAMPERED"
expect_invalid "HTTP JWKS, tampered token -> 1 bad_signature" bad_signature

run jwt verify --jwks "http://127.0.0.1:$PORT/missing.json" "$TOK"
expect_usage "HTTP JWKS URL answering 404 -> 2"

DEAD_PORT=$(free_port)
run jwt verify --jwks "http://127.0.0.1:$DEAD_PORT/jwks.json" "$TOK"
expect_usage "unreachable JWKS URL -> 2"

# ---- --typ (RFC 8725 §3.11: explicit typing)
run jwt verify --jwks "$TMP/jwks.json" --typ JWT "$TOK"
expect_valid "--typ JWT on a typ JWT token -> exit 0"
run jwt verify --jwks "$TMP/jwks.json" --typ application/jwt "$TOK"
expect_valid "--typ application/jwt on a typ JWT token -> exit 0"
run jwt verify --jwks "$TMP/jwks.json" --typ at+jwt "$TOK"
expect_invalid "--typ at+jwt on a typ JWT token -> invalid: bad_typ" bad_typ
run jwt verify --jwks "$TMP/jwks.json" --typ "" "$TOK"
expect_valid "--typ \"\" (any) -> exit 0"
run jwt verify --jwks "$TMP/jwks.json" --client-id x "$TOK"
expect_usage "--client-id without --issuer -> 2"

done_testing
