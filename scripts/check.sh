#!/usr/bin/env bash
# `make check`: the layering rules and the error table, checked on the source tree.
#   1. src/http and src/cli never reach the store: no include of store/*, no ops table
#      (src/auth is the only door to the store).
#   2. liblatchkey (src/util, src/jose, src/verify) includes nothing of the server (auth,
#      store, http, cli); src/verify never prints (the library has no stdout or stderr).
#   3. src/verify (the verifier, part of liblatchkey) includes only latchkey.h, util/,
#      jose/, verify/ and system headers (<...>).
#   4. every LK_E* code has the same class in include/latchkey.h (the "class ..." group it
#      is listed under) and in src/util/err.c.
# Prints "check: ok" or each violation, and exits 1 on any.
set -u
cd "$(dirname "$0")/.." || exit 1
bad=0
fail() { echo "check: $*"; bad=1; }

hits=$(grep -nE '#include[[:space:]]*"store/' src/http/*.[ch] src/cli/*.[ch] 2>/dev/null)
[ -z "$hits" ] || fail "store/store.h is private to src/auth (use auth/auth.h):"$'\n'"$hits"
hits=$(grep -nE -- '->ops->|lk_store_(open|close)|struct lk_store\b' src/http/*.[ch] src/cli/*.[ch] 2>/dev/null)
[ -z "$hits" ] || fail "src/http and src/cli call the store directly:"$'\n'"$hits"

hits=$(grep -nE '#include[[:space:]]*"(auth|store|http|cli)/' src/util/*.[ch] src/jose/*.[ch] src/verify/*.[ch] 2>/dev/null)
[ -z "$hits" ] || fail "liblatchkey (util, jose, verify) includes server code:"$'\n'"$hits"
hits=$(grep -nE '\b(printf|fprintf|vfprintf|puts|fputs|perror|putchar|fwrite)[[:space:]]*\(|CURLOPT_(VERBOSE|STDERR)' src/verify/*.[ch] 2>/dev/null)
[ -z "$hits" ] || fail "src/verify prints (the library never writes to stdout or stderr):"$'\n'"$hits"

hits=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' src/verify/*.[ch] 2>/dev/null |
	grep -vE '#[[:space:]]*include[[:space:]]*"(latchkey\.h|util/[^"]+|jose/[^"]+|verify/[^"]+)"')
hits=$(printf '%s\n%s' "$hits" "$(grep -nE '#[[:space:]]*include[[:space:]]*<(auth|store|http|cli)/' \
	src/verify/*.[ch] 2>/dev/null)" | sed '/^$/d')
[ -z "$hits" ] || fail "src/verify includes something besides latchkey.h, util/, jose/, verify/:"$'\n'"$hits"

# class groups in latchkey.h: "/* class LK_CLASS_X: ..." then the codes under it
hdr_classes=$(awk '
	/\/\* class LK_CLASS_[A-Z]+/ { match($0, /LK_CLASS_[A-Z]+/); cls = substr($0, RSTART, RLENGTH) }
	/^[[:space:]]*LK_E[A-Z0-9_]+[[:space:]]*=/ { match($0, /LK_E[A-Z0-9_]+/); print substr($0, RSTART, RLENGTH), cls }
' include/latchkey.h)
[ -n "$hdr_classes" ] || fail "found no LK_E* codes in include/latchkey.h"
while read -r code cls; do
	[ -n "$code" ] || continue
	errc=$(grep -oE "\{$code, *LK_CLASS_[A-Z]+" src/util/err.c | grep -oE 'LK_CLASS_[A-Z]+')
	[ "$errc" = "$cls" ] || fail "$code is listed under $cls in latchkey.h but has class ${errc:-none} in err.c"
done <<<"$hdr_classes"

[ $bad = 0 ] && echo "check: ok"
exit $bad
