#!/usr/bin/env bash
# Black-box tests of `latchkey jwk generate --alg ALG [--kid KID]` and `latchkey jwk public
# FILE|-`: key members per type, kid = RFC 7638 thumbprint by default, public output drops
# every private member, oct keys are never published.
. "$(dirname "$0")/tap.bash"

# key_ok FILE PYEXPR [ARGS...]: PYEXPR over j = the parsed JSON file, a = args, must be true.
key_ok() {
	local f=$1 e=$2; shift 2
	py 'import sys, json
j = json.load(open(sys.argv[1])); a = sys.argv[3:]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$f" "$e" "$@" 2>/dev/null
}

declare -A KTY=([HS]=oct [RS]=RSA [PS]=RSA [ES]=EC [Ed]=OKP)
declare -A CRV=([ES256]=P-256 [ES384]=P-384 [ES512]=P-521 [EdDSA]=Ed25519)
# Private members, and the byte lengths of EC/OKP coordinates.
declare -A PRIV=([oct]="k" [RSA]="n e d p q dp dq qi" [EC]="x y d" [OKP]="x d")
declare -A COORD=([P-256]=32 [P-384]=48 [P-521]=66 [Ed25519]=32)
PRIVATE_NAMES='["d","p","q","dp","dq","qi","oth","k"]'

for alg in $ALGS; do
	kty=${KTY[${alg:0:2}]}
	run jwk generate --alg "$alg"
	if [ "$RC" -ne 0 ]; then fail "$alg: jwk generate -> exit 0"; continue; fi
	printf '%s' "$OUT" >"$TMP/$alg.key"
	if ! key_ok "$TMP/$alg.key" 'isinstance(j, dict)'; then fail "$alg: jwk generate prints a JSON object"; continue; fi
	pass "$alg: jwk generate prints a JSON object"

	check "$alg: kty $kty, alg $alg" key_ok "$TMP/$alg.key" 'j.get("kty") == a[0] and j.get("alg") == a[1]' "$kty" "$alg"
	check "$alg: kid present and equal to the RFC 7638 thumbprint" \
		key_ok "$TMP/$alg.key" 'isinstance(j.get("kid"), str) and j["kid"] == lkt.thumbprint(j)'
	check "$alg: private members present (${PRIV[$kty]})" \
		key_ok "$TMP/$alg.key" 'all(isinstance(j.get(m), str) and j[m] for m in a)' ${PRIV[$kty]}
	check "$alg: members are strict unpadded base64url" \
		key_ok "$TMP/$alg.key" 'all(lkt.b64u(lkt.unb64u(j[m])) == j[m] for m in a)' ${PRIV[$kty]}
	case $kty in
	oct)
		bytes=$((${alg#HS} / 8))
		check "$alg: secret is at least $bytes bytes" key_ok "$TMP/$alg.key" 'len(lkt.unb64u(j["k"])) >= int(a[0])' "$bytes" ;;
	RSA)
		check "$alg: modulus is at least 2048 bits, e = 65537" \
			key_ok "$TMP/$alg.key" 'int.from_bytes(lkt.unb64u(j["n"]), "big").bit_length() >= 2048 and int.from_bytes(lkt.unb64u(j["e"]), "big") == 65537'
		check "$alg: n = p * q" key_ok "$TMP/$alg.key" \
			'(lambda n, p, q: n == p * q)(*[int.from_bytes(lkt.unb64u(j[m]), "big") for m in ("n", "p", "q")])' ;;
	EC | OKP)
		crv=${CRV[$alg]}
		check "$alg: crv $crv with ${COORD[$crv]}-byte coordinates" key_ok "$TMP/$alg.key" \
			'j.get("crv") == a[0] and all(len(lkt.unb64u(j[m])) == int(a[1]) for m in a[2:])' "$crv" "${COORD[$crv]}" ${PRIV[$kty]} ;;
	esac

	# jwk public
	run jwk public "$TMP/$alg.key"
	if [ "$RC" -ne 0 ]; then fail "$alg: jwk public -> exit 0"; continue; fi
	printf '%s' "$OUT" >"$TMP/$alg.jwks"
	if [ "$kty" = oct ]; then
		check "$alg: jwk public publishes no oct key ({\"keys\":[]})" key_ok "$TMP/$alg.jwks" 'j == {"keys": []}'
		check "$alg: the secret does not appear in jwk public output" \
			key_ok "$TMP/$alg.jwks" 'json.load(open(a[0]))["k"] not in open(sys.argv[1]).read()' "$TMP/$alg.key"
	else
		check "$alg: jwk public prints {\"keys\":[one key]}" key_ok "$TMP/$alg.jwks" \
			'list(j) == ["keys"] and isinstance(j["keys"], list) and len(j["keys"]) == 1'
		check "$alg: public key has no private members" key_ok "$TMP/$alg.jwks" \
			'not any(m in j["keys"][0] for m in json.loads(a[0]))' "$PRIVATE_NAMES"
		check "$alg: public key keeps kty, alg, kid and the public members" key_ok "$TMP/$alg.jwks" \
			'all(j["keys"][0].get(m) == json.load(open(a[0]))[m] for m in ["kty", "alg", "kid"] + {"RSA": ["n", "e"], "EC": ["crv", "x", "y"], "OKP": ["crv", "x"]}[a[1]])' \
			"$TMP/$alg.key" "$kty"
		check "$alg: no private value appears anywhere in jwk public output" key_ok "$TMP/$alg.key" \
			'not any(j[m] in open(a[0]).read() for m in ["d","p","q","dp","dq","qi"] if m in j)' "$TMP/$alg.jwks"
	fi
done

# ---- two keys differ
run jwk generate --alg ES256; a1=$OUT
run jwk generate --alg ES256; a2=$OUT
check "two generated ES256 keys differ" test "$a1" != "$a2"
run jwk generate --alg HS256; h1=$OUT
run jwk generate --alg HS256; h2=$OUT
check "two generated HS256 secrets differ" test "$h1" != "$h2"

# ---- --kid
for alg in HS256 RS256 ES384 EdDSA; do
	run jwk generate --alg "$alg" --kid "my-key-$alg"
	printf '%s' "$OUT" >"$TMP/kid.key"
	check "$alg: --kid my-key-$alg is respected" key_ok "$TMP/kid.key" 'j.get("kid") == a[0]' "my-key-$alg"
done
run jwk generate --kid opt-first --alg ES256
printf '%s' "$OUT" >"$TMP/kid2.key"
check "--kid before --alg works too" key_ok "$TMP/kid2.key" 'j.get("kid") == "opt-first" and j.get("alg") == "ES256"'
run jwk public "$TMP/kid2.key"
printf '%s' "$OUT" >"$TMP/kid2.jwks"
check "jwk public keeps a custom kid" key_ok "$TMP/kid2.jwks" 'j["keys"][0]["kid"] == "opt-first"'

# ---- jwk public from stdin and from a JWKS
STDIN="$TMP/ES256.key" run jwk public -
printf '%s' "$OUT" >"$TMP/stdin.jwks"
expect_rc "jwk public - (key on stdin) -> exit 0" 0
check "jwk public - prints the same JWKS as from the file" key_ok "$TMP/stdin.jwks" 'j == json.load(open(a[0]))' "$TMP/ES256.jwks"

py 'import json, sys
keys = [json.load(open(f)) for f in sys.argv[1:]]
print(json.dumps({"keys": keys}))' "$TMP/ES256.key" "$TMP/EdDSA.key" "$TMP/RS256.key" "$TMP/HS256.key" >"$TMP/ring.json"
run jwk public "$TMP/ring.json"
printf '%s' "$OUT" >"$TMP/ring.jwks"
expect_rc "jwk public of a private JWKS (ES256, EdDSA, RS256, HS256) -> exit 0" 0
check "private JWKS -> three public keys, HS256 left out, same kids in order" key_ok "$TMP/ring.jwks" \
	'[k["kid"] for k in j["keys"]] == [json.load(open(f))["kid"] for f in a]' "$TMP/ES256.key" "$TMP/EdDSA.key" "$TMP/RS256.key"
check "private JWKS -> no private members in the output" key_ok "$TMP/ring.jwks" \
	'not any(m in k for k in j["keys"] for m in json.loads(a[0]))' "$PRIVATE_NAMES"

run jwk public "$TMP/ES256.jwks"
printf '%s' "$OUT" >"$TMP/again.jwks"
check "jwk public of a public JWKS is the same JWKS" key_ok "$TMP/again.jwks" 'j == json.load(open(a[0]))' "$TMP/ES256.jwks"

# ---- errors
for bad in XX256 none NONE HS1 ""; do
	run jwk generate --alg "$bad"
	expect_usage "jwk generate --alg '$bad' -> 2"
done
run jwk generate
expect_usage "jwk generate without --alg -> 2"
run jwk generate --alg ES256 --bogus
expect_usage "jwk generate with an unknown option -> 2"
run jwk frobnicate
expect_usage "unknown jwk subcommand -> 2"
run jwk public "$TMP/no-such-file.json"
expect_usage "jwk public of a missing file -> 2"
write_file "$TMP/garbage.json" '{"kty":'
run jwk public "$TMP/garbage.json"
expect_fail12 "jwk public of garbage is refused (exit 1 or 2, message, empty stdout)"
run jwk public
expect_usage "jwk public without a file -> 2"

done_testing
