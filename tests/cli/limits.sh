#!/usr/bin/env bash
# Black-box tests of the 8 KiB token rule in the CLI, at the byte: a compact token of exactly
# 8,192 bytes verifies (as an argument and on stdin), one of 8,193 bytes is `invalid:
# too_large` even though it is correctly signed, and `latchkey jwt sign` makes the first
# but refuses to make the second. HS256 tokens are MACed with python3's hmac; ES256 ones are
# signed with the openssl command (so the 8,193-byte token is a genuine signature that only
# its size condemns), and by `latchkey jwt sign` itself.
. "$(dirname "$0")/tap.bash"

MAX=8192

cat >"$TMP/size.py" <<'PYEOF'
import json, subprocess, sys
import lkt

def claims(n):
    """Claims JSON of exactly n bytes: sub, 100 numbered claims, then a "pad" string."""
    head = '{"sub":"alice",' + ",".join('"c%03d":%d' % (i, i) for i in range(100)) + ',"pad":"'
    pad = n - len(head) - 2
    assert pad >= 0
    s = head + "p" * pad + '"}'
    assert len(s) == n
    return s

def fit(alg, sig64, typ=None, total=8192):
    """(kid, m): a kid for which the payload of a `total`-byte token is m bytes, and the one
    of a (total+1)-byte token m+1 bytes (base64url lengths L and L+1 both possible)."""
    for kl in range(1, 16):
        kid = "k" * kl
        h = {"alg": alg}
        if typ:
            h["typ"] = typ
        h["kid"] = kid
        L = total - len(lkt.b64u(json.dumps(h, separators=(",", ":")))) - 2 - sig64
        if L % 4 >= 2:
            return kid, L // 4 * 3 + L % 4 - 1
    raise SystemExit("no kid length fits")

def der_to_raw(der, size):
    """ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs) to the JOSE r||s form."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\0")
        out += v.rjust(size, b"\0")
        i += 2 + n
    return out

def es256(pem, kid, payload):
    h = lkt.b64u(json.dumps({"alg": "ES256", "kid": kid}, separators=(",", ":")))
    si = h + "." + lkt.b64u(payload)
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", pem], input=si.encode(),
                         capture_output=True, check=True).stdout
    return si + "." + lkt.b64u(der_to_raw(der, 32))
PYEOF
size() { PYTHONPATH="$TMP" python3 -c "import size, lkt, sys, json; $1" "${@:2}"; }

# ---- HS256, tokens made here
SECRET_HEX=$(python3 -c 'import os; print(os.urandom(32).hex())')
read -r HKID HM < <(size 'k, m = size.fit("HS256", 43); print(k, m)')
K=$(py 'import sys; print(lkt.b64u(bytes.fromhex(sys.argv[1])))' "$SECRET_HEX")
write_file "$TMP/hs.jwks" '{"keys":[{"kty":"oct","kid":"'"$HKID"'","alg":"HS256","k":"'"$K"'"}]}'
hs_tok() { # hs_tok PAYLOAD_BYTES
	size 'print(lkt.token({"alg": "HS256", "kid": sys.argv[1]}, size.claims(int(sys.argv[2])), bytes.fromhex(sys.argv[3])))' "$HKID" "$1" "$SECRET_HEX"
}
AT=$(hs_tok "$HM")
OVER=$(hs_tok $((HM + 1)))
check "HS256: the exact token is $MAX bytes" test "${#AT}" -eq $MAX
check "HS256: the token over is $((MAX + 1)) bytes" test "${#OVER}" -eq $((MAX + 1))

run jwt verify --jwks "$TMP/hs.jwks" "$AT"
expect_valid "HS256: $MAX-byte token with 100 claims -> exit 0"
check "HS256: the payload comes back whole" test "$(json_get - 'j["c099"]' <<<"$OUT")" = 99
printf '%s\n' "$AT" >"$TMP/at"
STDIN="$TMP/at" run jwt verify --jwks "$TMP/hs.jwks" -
expect_valid "HS256: $MAX-byte token on stdin (with a newline) -> exit 0"

run jwt verify --jwks "$TMP/hs.jwks" "$OVER"
expect_invalid "HS256: $((MAX + 1))-byte token, correctly signed -> 1 too_large" too_large
printf '%s\n' "$OVER" >"$TMP/over"
STDIN="$TMP/over" run jwt verify --jwks "$TMP/hs.jwks" -
expect_invalid "HS256: $((MAX + 1))-byte token on stdin -> 1 too_large" too_large

# jwt sign with the same key: the exact size is made, one byte more is refused.
write_file "$TMP/hs.key" '{"kty":"oct","kid":"'"$HKID"'","alg":"HS256","k":"'"$K"'"}'
read -r SKID SM < <(size 'k, m = size.fit("HS256", 43, "JWT"); print(k, m)')
write_file "$TMP/hs-sign.key" '{"kty":"oct","kid":"'"$SKID"'","alg":"HS256","k":"'"$K"'"}'
write_file "$TMP/hs-sign.jwks" '{"keys":[{"kty":"oct","kid":"'"$SKID"'","alg":"HS256","k":"'"$K"'"}]}'
run jwt sign --key "$TMP/hs-sign.key" "$(size 'print(size.claims(int(sys.argv[1])))' "$SM")"
check "HS256: jwt sign makes a $MAX-byte token" test "${#OUT}" -eq $MAX
SIGNED=$OUT
run jwt verify --jwks "$TMP/hs-sign.jwks" "$SIGNED"
expect_valid "HS256: the $MAX-byte token jwt sign made verifies"
run jwt sign --key "$TMP/hs-sign.key" "$(size 'print(size.claims(int(sys.argv[1])))' $((SM + 1)))"
expect_rc "HS256: jwt sign refuses a $((MAX + 1))-byte token -> exit 1" 1
check "HS256: ... with too_large on stderr and nothing on stdout" \
	test "$(out_bytes)" -eq 0 -a "${ERR#*too_large}" != "$ERR"

# Claims on stdin are not cut at 8 KiB of text: pretty-printed claims over 8 KiB that make
# a token under it are signed; only the token's size decides.
size 'print(json.dumps(json.loads(size.claims(int(sys.argv[1]))), indent=32))' "$SM" >"$TMP/pretty"
check "the pretty-printed claims are over $MAX bytes" test "$(wc -c <"$TMP/pretty")" -gt $MAX
STDIN="$TMP/pretty" run jwt sign --key "$TMP/hs-sign.key" -
check "HS256: pretty claims over $MAX bytes on stdin -> the same $MAX-byte token" test "$OUT" = "$SIGNED"

# ---- ES256: signed by openssl, and by jwt sign
if ! command -v openssl >/dev/null; then
	diag "openssl not found: ES256 size tests skipped"
	done_testing
fi
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/ec.pem" 2>/dev/null
read -r EKID EM < <(size 'k, m = size.fit("ES256", 86); print(k, m)')
size '
import re, subprocess
t = subprocess.run(["openssl", "pkey", "-in", sys.argv[1], "-noout", "-text"], capture_output=True, text=True, check=True).stdout
def block(name):
    m = re.search(name + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", t)
    return bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))
pub = block("pub")
assert pub[0] == 4 and len(pub) == 65
print(json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "kid": sys.argv[2], "x": lkt.b64u(pub[1:33]), "y": lkt.b64u(pub[33:])}]}))' \
	"$TMP/ec.pem" "$EKID" >"$TMP/ec.jwks"
EAT=$(size 'print(size.es256(sys.argv[1], sys.argv[2], size.claims(int(sys.argv[3]))))' "$TMP/ec.pem" "$EKID" "$EM")
EOVER=$(size 'print(size.es256(sys.argv[1], sys.argv[2], size.claims(int(sys.argv[3]))))' "$TMP/ec.pem" "$EKID" $((EM + 1)))
check "ES256: the exact token is $MAX bytes" test "${#EAT}" -eq $MAX
check "ES256: the token over is $((MAX + 1)) bytes" test "${#EOVER}" -eq $((MAX + 1))
run jwt verify --jwks "$TMP/ec.jwks" "$EAT"
expect_valid "ES256: $MAX-byte token signed by openssl -> exit 0"
run jwt verify --jwks "$TMP/ec.jwks" "$EOVER"
expect_invalid "ES256: $((MAX + 1))-byte token signed by openssl -> 1 too_large" too_large

read -r GKID GM < <(size 'k, m = size.fit("ES256", 86, "JWT"); print(k, m)')
run jwk generate --alg ES256 --kid "$GKID"
printf '%s' "$OUT" >"$TMP/es.key"
run jwk public "$TMP/es.key"
printf '%s' "$OUT" >"$TMP/es.pub"
run jwt sign --key "$TMP/es.key" "$(size 'print(size.claims(int(sys.argv[1])))' "$GM")"
check "ES256: jwt sign makes a $MAX-byte token" test "${#OUT}" -eq $MAX
run jwt verify --jwks "$TMP/es.pub" "$OUT"
expect_valid "ES256: the $MAX-byte token jwt sign made verifies"
run jwt sign --key "$TMP/es.key" "$(size 'print(size.claims(int(sys.argv[1])))' $((GM + 1)))"
expect_rc "ES256: jwt sign refuses a $((MAX + 1))-byte token -> exit 1" 1
check "ES256: ... with too_large on stderr and nothing on stdout" \
	test "$(out_bytes)" -eq 0 -a "${ERR#*too_large}" != "$ERR"

done_testing
