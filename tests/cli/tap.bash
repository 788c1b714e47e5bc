# shellcheck shell=bash
# Shared helpers for the CLI black-box suites in tests/cli/*.sh (sourced, not run: the name
# does not end in .sh so tests/run.sh does not pick it up as a suite).
#
# Environment: LATCHKEY = path of the latchkey binary under test.
# Output: TAP ("ok N - desc" / "not ok N - desc", diagnostics as "# ..." lines), plan at the
# end; the suite exits 1 if any test failed.
#
# Only bash, coreutils and python3 (standard library only) are used besides the binary.

set -u

if [ -z "${LATCHKEY:-}" ]; then
	echo "not ok 1 - LATCHKEY is set to the latchkey binary"
	echo "1..1"
	exit 1
fi
case $LATCHKEY in /*) ;; *) LATCHKEY="$PWD/$LATCHKEY" ;; esac
if [ ! -x "$LATCHKEY" ]; then
	# tests/run.sh loops over build/ and build-asan/; a variant that was not built is skipped.
	echo "1..0 # SKIP $LATCHKEY is not built"
	exit 0
fi

TAP_N=0
TAP_FAILED=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-cli.XXXXXX")
CLEANUP_PIDS=()

tap_cleanup() {
	local p
	for p in "${CLEANUP_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap tap_cleanup EXIT
trap 'exit 130' INT TERM

# diag TEXT...: a TAP diagnostic (each line prefixed with "# ").
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

pass() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1"; }
fail() { # fail DESC [WHY]
	TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $1"
	[ $# -ge 2 ] && diag "$2"
	diag "command: latchkey ${LAST_ARGS:-}"
	diag "exit: ${RC:-?}"
	diag "stdout: $(head -c 600 "$TMP/.out" 2>/dev/null)"
	diag "stderr: $(head -c 600 "$TMP/.err" 2>/dev/null)"
}

done_testing() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ] || { diag "$TAP_FAILED of $TAP_N failed"; exit 1; }
	exit 0
}

# run ARGS...: run the binary with stdin from $STDIN (a file; /dev/null by default);
# sets RC, OUT (stdout without trailing newlines) and ERR (likewise); raw output in
# $TMP/.out and $TMP/.err. A run is killed after 30 s (exit 124).
run() {
	LAST_ARGS="$*"
	timeout 30 "$LATCHKEY" "$@" <"${STDIN:-/dev/null}" >"$TMP/.out" 2>"$TMP/.err"
	RC=$?
	OUT=$(cat "$TMP/.out")
	ERR=$(cat "$TMP/.err")
}

# Number of lines (newline characters) in stderr / stdout of the last run.
err_lines() { wc -l <"$TMP/.err" | tr -d ' '; }
out_bytes() { wc -c <"$TMP/.out" | tr -d ' '; }

# expect_rc DESC RC: exit code only.
expect_rc() {
	if [ "$RC" -eq "$2" ]; then pass "$1"; else fail "$1" "expected exit $2"; fi
}

# expect_valid DESC: exit 0 and a JSON object on stdout.
expect_valid() {
	if [ "$RC" -ne 0 ]; then fail "$1" "expected exit 0"; return; fi
	if ! printf '%s' "$OUT" | python3 -c 'import json,sys; assert isinstance(json.loads(sys.stdin.read()), dict)' 2>/dev/null; then
		fail "$1" "stdout is not one JSON object"; return
	fi
	pass "$1"
}

# expect_invalid DESC REASON: exit 1, empty stdout, stderr exactly the line "invalid: REASON".
expect_invalid() {
	local why=""
	[ "$RC" -eq 1 ] || why="expected exit 1;"
	[ "$(out_bytes)" -eq 0 ] || why="$why stdout not empty;"
	[ "$(err_lines)" -eq 1 ] && [ "$ERR" = "invalid: $2" ] || why="$why expected stderr exactly one line 'invalid: $2';"
	if [ -z "$why" ]; then pass "$1"; else fail "$1" "$why"; fi
}

# expect_usage DESC: exit 2, empty stdout, a message on stderr.
expect_usage() {
	local why=""
	[ "$RC" -eq 2 ] || why="expected exit 2;"
	[ "$(out_bytes)" -eq 0 ] || why="$why stdout not empty;"
	[ -n "$ERR" ] || why="$why no message on stderr;"
	if [ -z "$why" ]; then pass "$1"; else fail "$1" "$why"; fi
}

# expect_fail12 DESC: exit 1 or 2, empty stdout, a message on stderr.
expect_fail12() {
	local why=""
	[ "$RC" -eq 1 ] || [ "$RC" -eq 2 ] || why="expected exit 1 or 2;"
	[ "$(out_bytes)" -eq 0 ] || why="$why stdout not empty;"
	[ -n "$ERR" ] || why="$why no message on stderr;"
	if [ -z "$why" ]; then pass "$1"; else fail "$1" "$why"; fi
}

# check DESC CMD...: passes when CMD succeeds (for assertions on OUT/ERR/files).
check() {
	local d=$1; shift
	if "$@"; then pass "$d"; else fail "$d" "check failed: $*"; fi
}

# py CODE ARGS...: run python3 code (stdlib only) with the helper module importable.
py() { local c=$1; shift; PYTHONPATH="$TMP" python3 -c "import lkt; $c" "$@"; }

# json_get FILE|- EXPR: evaluate a Python expression over j = the parsed JSON; prints it
# (strings as is, other values as JSON). Non-zero exit when the expression fails.
json_get() {
	py 'import json,sys
src = sys.argv[1]
j = json.load(sys.stdin if src == "-" else open(src))
v = eval(sys.argv[2], {"j": j, "lkt": lkt})
print(v if isinstance(v, str) else json.dumps(v))' "$@"
}

# Helper module: base64url, HS* token crafting, thumbprints. Written once per suite.
cat >"$TMP/lkt.py" <<'PYEOF'
import base64, hashlib, hmac, json, sys, time

HASH = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}

def b64u(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def token(header, payload, secret=None):
    """header/payload: dict (serialised compactly) or str (used verbatim).
    secret: raw bytes for HS*, or None for an empty signature."""
    h = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    p = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    si = b64u(h) + "." + b64u(p)
    if secret is None:
        return si + "."
    alg = json.loads(h)["alg"]
    return si + "." + b64u(hmac.new(secret, si.encode(), HASH[alg]).digest())

def parts(tok):
    h, p, s = tok.strip().split(".")
    return json.loads(unb64u(h)), json.loads(unb64u(p)), s

def thumbprint(jwk):
    req = {"oct": ["k", "kty"], "RSA": ["e", "kty", "n"], "EC": ["crv", "kty", "x", "y"],
           "OKP": ["crv", "kty", "x"]}[jwk["kty"]]
    canon = json.dumps({k: jwk[k] for k in req}, separators=(",", ":"), sort_keys=True)
    return b64u(hashlib.sha256(canon.encode()).digest())

def now():
    return int(time.time())
PYEOF

ALGS="HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"

# write_file PATH CONTENT: content without a trailing newline.
write_file() { printf '%s' "$2" >"$1"; }
