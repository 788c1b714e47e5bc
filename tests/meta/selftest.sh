#!/usr/bin/env bash
# Proves that each check of tests/meta/run.sh can fail: for each case, copy the parts of the
# tree the checks read into a temporary directory, break one thing in the copy, run the
# copy's run.sh and expect exit 1 with the named "not ok". The real tree is never modified.
# Not part of `make test` (it runs run.sh 17 times); run it after changing run.sh:
#   bash tests/meta/selftest.sh
# TAP output; exit 1 when a broken copy passes (a check that cannot fail) or the unbroken
# copy fails.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
c=$work/tree n=0 failed=0

fresh() {
	rm -rf "$c"; mkdir -p "$c/build" "$c/tests"
	cp -r "$src/include" "$src/src" "$src/docs" "$src/README.md" "$c/"
	cp -r "$src/tests/meta" "$c/tests/"
	[ -f "$src/build/liblatchkey.a" ] && cp "$src/build/liblatchkey.a" "$c/build/"
}
expect() { # expect RC PATTERN LABEL: run the copy, want exit RC and a "not ok" matching PATTERN
	local want=$1 pat=$2 label=$3 out rc
	out=$(bash "$c/tests/meta/run.sh" 2>&1); rc=$?
	n=$((n + 1))
	if [ "$rc" = "$want" ] && { [ -z "$pat" ] || grep -qE "^not ok [0-9]+ - $pat" <<<"$out"; }; then
		echo "ok $n - $label"
	else
		failed=$((failed + 1))
		echo "not ok $n - $label (exit $rc)"
		grep '^not ok' <<<"$out" | head -5 | sed 's/^/#   /'
	fi
}

fresh; expect 0 "" "the unbroken copy passes"
fresh; sed -i '/`LK_EEXPIRED`/d' "$c/docs/errors.md"
expect 1 "a: LK_EEXPIRED" "a: a code's row deleted from docs/errors.md"
fresh; sed -i 's/"not_yet_valid"/"too_early"/' "$c/src/util/err.c"
expect 1 "a: LK_ENOT_YET_VALID" "a: a reason word changed in err.c but not in the docs"
fresh; sed -i 's/^\(\tLK_EINVAL = 43,.*\)$/\1\n\tLK_ENEW = 44,/' "$c/include/latchkey.h"
expect 1 "a: LK_ENEW has a reason word" "a: a new code without an err.c entry"
fresh; echo '| 99 | `LK_EGONE` | `gone` | `LK_CLASS_SYSTEM` | x | never |' >>"$c/docs/errors.md"
expect 1 "a: docs/errors.md names no code" "a: a stale row for a code that does not exist"
fresh; sed -i 's/--leeway/--slack/g' "$c/docs/cli/latchkey-jwt-verify.md"
expect 1 "b: --leeway .*cmd_verify" "b: a struct option flag missing from its man page"
fresh; sed -i "s/{\"json\", no_argument, 0, 'j'}/{\"json\", no_argument, 0, 'j'}, {\"raw\", no_argument, 0, 'r'}/" \
	"$c/src/cli/jwt_cmd.c"
expect 1 "b: --raw" "b: a new struct option flag that no page documents"
fresh; sed -i '/--session-cache/d' "$c/docs/cli/latchkey-serve.md"
expect 1 "b: setting session_cache" "b: a serve setting missing from latchkey-serve.md"
fresh; sed -i 's/--limit/--max/g' "$c/docs/cli/latchkey-audit-list.md"
expect 1 "b: --limit" "b: a strcmp-parsed flag missing from every page"
fresh; rm "$c/docs/cli/latchkey-jwk-public.md"
expect 1 "c: .latchkey jwk public" "c: a command without a man page"
fresh; cp "$c/docs/cli/latchkey-version.md" "$c/docs/cli/latchkey-client-add.md"
expect 1 "c: docs/cli/latchkey-client-add.md" "c: a page for a command that does not exist"
fresh; sed -i 's/make run/make start/g' "$c/README.md"
expect 1 "d: README.md opens with .make run" "d: README without make run"
fresh; sed -i 's/make test/make check/g' "$c/README.md"
expect 1 "d: README.md opens with .make test" "d: README without make test"
fresh; sed -i '1i ## Preface\n\nA long story first.\n' "$c/README.md"
expect 1 "d: README.md opens with .make run" "d: the two commands pushed below a ## heading"
fresh; sed -i 's/lk_jwt_kid(/lk_jwt_keyid(/g' "$c"/docs/api/*.md
expect 1 "e: lk_jwt_kid" "e: an LK_API function no API page names"
if [ -f "$src/build/liblatchkey.a" ]; then
	fresh; sed -i 's/lk_jwk_thumbprint(pub, tp, sizeof tp)/lk_jwk_thumbprint(pub, tp)/' "$c/docs/api/lk_jwk.md"
	expect 1 "f: example lk_jwk.* compiles" "f: an API example that no longer compiles"
	fresh; sed -i 's/return err == LK_EJSON .*$/return 1;/' "$c/docs/api/lk_err.md"
	expect 1 "f: example lk_err.* runs and exits 0" "f: an API example that exits 1"
else
	n=$((n + 1)); echo "ok $n - f: examples # SKIP build/liblatchkey.a not built"
fi
echo "1..$n"
[ "$failed" -eq 0 ]
