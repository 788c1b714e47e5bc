#!/usr/bin/env bash
# Meta-tests: the documentation stays true to the code (CRAFT.md §5; curl does the same in
# tests/test1477.pl for its error codes and tests/test1139.pl for its man pages).
#
#   a. every LK_E* constant of include/latchkey.h has a row in docs/errors.md with its
#      number, its reason word from src/util/err.c and its class; no row names a code that
#      no longer exists
#   b. every long option of every `struct option` table in src/cli/*.c appears as --name in
#      its command's man page (docs/cli/latchkey-GROUP-CMD.md for cmd_CMD in GROUP_cmd.c,
#      else in any docs/cli/*.md); every setting of src/cli/config.c appears as --name in
#      docs/cli/latchkey-serve.md; every other --flag in a string of src/cli/*.c (flags
#      parsed by hand with strcmp, usage texts) appears in some docs/cli/*.md
#   c. every command in the usage text of src/cli/main.c has a man page
#      docs/cli/latchkey-WORD[-WORD].md, and every such page names a command that exists
#   d. README.md has `make run` and `make test` before its first "## " heading
#   e. every LK_API function of include/latchkey.h is documented in docs/api/*.md
#   f. every C example (a ```c block with main) in docs/api/*.md compiles against
#      build/liblatchkey.a and exits 0 (skipped when the library is not built)
#
# TAP output ("ok N - ..." / "not ok N - ..."), exit 1 on any failure. Run from anywhere:
# it checks the tree it lives in (so a broken copy of the tree can be checked too).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { # not_ok DESCRIPTION [DIAGNOSTIC LINE]...
	n=$((n + 1)); failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	for l in "$@"; do echo "#   $l"; done
}
check() { # check DESCRIPTION DIAGNOSTIC COMMAND...: ok when COMMAND succeeds
	local d=$1 diag=$2; shift 2
	if "$@"; then ok "$d"; else not_ok "$d" "$diag"; fi
}
# A fixed-string search for a whole --flag (so --exp does not match --exp-in).
has_flag() { grep -qE -- "(^|[^A-Za-z0-9-])$1([^A-Za-z0-9-]|\$)" "${@:2}" 2>/dev/null; }

hdr=include/latchkey.h errc=src/util/err.c errdoc=docs/errors.md

# ---------------------------------------------------------------- a. error codes
codes=$(sed -nE 's/^[[:space:]]*(LK_E[A-Z0-9_]+)[[:space:]]*=[[:space:]]*([0-9]+).*/\1 \2/p' "$hdr")
if [ -z "$codes" ]; then
	not_ok "a: found the LK_E* constants in $hdr" "the parser found none"
fi
while read -r c num; do
	[ -n "$c" ] || continue
	line=$(grep -E "\{$c, *LK_CLASS_[A-Z]+, *\"" "$errc")
	word=$(sed -nE 's/.*"([^"]*)".*/\1/p' <<<"$line")
	cls=$(sed -nE 's/.*(LK_CLASS_[A-Z]+).*/\1/p' <<<"$line")
	if [ -z "$word" ]; then
		not_ok "a: $c has a reason word in $errc" "no {$c, LK_CLASS_..., \"word\"} entry"
		continue
	fi
	row=$(grep -F "\`$c\`" "$errdoc" 2>/dev/null | grep -F "\`$word\`" | grep -F "\`$cls\`" |
	      grep -E "^\| *$num *\|")
	check "a: $c ($num, $word, $cls) documented in $errdoc" \
	      "want a table row: | $num | \`$c\` | \`$word\` | \`$cls\` | ..." test -n "$row"
done <<<"$codes"
stale=$(grep -oE '`LK_E[A-Z0-9_]+`' "$errdoc" 2>/dev/null | tr -d '`' | sort -u |
	while read -r c; do grep -qE "^[[:space:]]*$c[[:space:]]*=" "$hdr" || echo "$c"; done)
check "a: $errdoc names no code missing from $hdr" "stale: $(echo $stale)" test -z "$stale"

# ---------------------------------------------------------------- b. CLI flags
# struct option tables: FILE FUNC NAME per entry
opts=$(awk '
	FNR == 1 { fn = "" }
	match($0, /^[a-z].*[^a-z_]cmd_[a-z_]+\(/) { s = substr($0, 1, RLENGTH - 1); sub(/.*cmd_/, "", s); fn = s }
	/struct option/ { intable = 1 }
	intable {
		s = $0
		while (match(s, /\{"[A-Za-z0-9-]+",/)) {
			print FILENAME, (fn == "" ? "-" : fn), substr(s, RSTART + 2, RLENGTH - 4)
			s = substr(s, RSTART + RLENGTH)
		}
		if ($0 ~ /};/) intable = 0
	}' src/cli/*.c)
if [ -z "$opts" ]; then
	not_ok "b: found the struct option tables in src/cli/*.c" "the parser found none"
fi
while read -r file fn name; do
	[ -n "$file" ] || continue
	group=$(basename "$file" .c); group=${group%_cmd}
	page=docs/cli/latchkey-$group-$fn.md
	if [ -f "$page" ]; then
		check "b: --$name ($file cmd_$fn) in $page" "add --$name to OPTIONS" has_flag "--$name" "$page"
	else
		check "b: --$name ($file) in docs/cli/*.md" "no page $page; --$name is in none" \
		      has_flag "--$name" docs/cli/*.md
	fi
done <<<"$opts"

# the settings table of config.c: serve flags (--idle-timeout for idle_timeout)
if [ -f src/cli/config.c ]; then
	sets=$(awk '/settings\[\] = \{/ { t = 1 } t && match($0, /\{"[a-z0-9_]+", T_/) {
		s = substr($0, RSTART + 2); sub(/".*/, "", s); print s } t && /^};/ { t = 0 }' src/cli/config.c)
	[ -n "$sets" ] || not_ok "b: found the settings table in src/cli/config.c" "the parser found none"
	for s in $sets; do
		f=--${s//_/-}
		check "b: setting $s ($f) in docs/cli/latchkey-serve.md" "add $f to its settings table" \
		      has_flag "$f" docs/cli/latchkey-serve.md
	done
fi

# every other --flag in a C string (strcmp-parsed flags, usage and help texts)
strflags=$(perl -ne 'while (/"((?:[^"\\]|\\.)*)"/g) { my $s = $1;
	while ($s =~ /(?<![A-Za-z0-9-])(--[a-z][a-z0-9-]*[a-z0-9])/g) { print "$1\n" } }' src/cli/*.c |
	sort -u)
for f in $strflags; do
	check "b: $f (a string in src/cli/*.c) in docs/cli/*.md" "document $f in its man page" \
	      has_flag "$f" docs/cli/*.md
done

# ---------------------------------------------------------------- c. one page per command
usage=$(awk '/static const char usage\[\] =/ { u = 1; next } u { print } u && /;[[:space:]]*$/ { exit }' \
	src/cli/main.c | sed -nE 's/^[[:space:]]*"(.*)"[;[:space:]]*$/\1/p' | sed 's/\\n$//')
cmds=$(awk '
	/^  latchkey / {
		n = split($0, w, " "); group = ""; i = 2
		while (i <= n && w[i] ~ /^[a-z]+$/) { group = group (group == "" ? "" : "-") w[i]; i++ }
		if (group == "") next
		print group
		# alternatives: "user add NAME | passwd NAME | del NAME", "keys list | keys rotate"
		split(group, g, "-"); m = split($0, alt, / \| /)
		for (k = 2; k <= m; k++) {
			split(alt[k], a, " ")
			j = a[1] == g[1] ? 2 : 1
			if (a[j] ~ /^[a-z]+$/ && g[2] != "") print g[1] "-" a[j]
		}
	}' <<<"$usage" | sort -u)
if [ -z "$cmds" ]; then
	not_ok "c: found the commands in the usage text of src/cli/main.c" "the parser found none"
fi
for c in $cmds; do
	check "c: \`latchkey ${c//-/ }\` has a man page docs/cli/latchkey-$c.md" \
	      "write docs/cli/latchkey-$c.md" test -f "docs/cli/latchkey-$c.md"
done
for p in docs/cli/latchkey-*.md; do
	[ -f "$p" ] || continue
	c=$(basename "$p" .md); c=${c#latchkey-}
	check "c: docs/cli/latchkey-$c.md documents a command in the usage text" \
	      "\`latchkey ${c//-/ }\` is not in src/cli/main.c's usage: stale page?" \
	      grep -qxF "$c" <<<"$cmds"
done

# ---------------------------------------------------------------- d. README
opening=$(awk '/^## / { exit } { print }' README.md 2>/dev/null)
for c in "make run" "make test"; do
	check "d: README.md opens with \`$c\` (before its first ## heading)" "missing or too late" \
	      grep -qF -- "$c" <<<"$opening"
done

# ---------------------------------------------------------------- e. API pages
funcs=$(grep -ozE 'LK_API[^;]*;' "$hdr" | tr '\0\n' '  ' | grep -oE 'lk_[a-z0-9_]+\(' | tr -d '(' | sort -u)
[ -n "$funcs" ] || not_ok "e: found the LK_API functions in $hdr" "the parser found none"
for f in $funcs; do
	check "e: $f is documented in docs/api/*.md" "add it to a page's SYNOPSIS and DESCRIPTION" \
	      grep -qE "(^|[^a-z0-9_])$f\(" docs/api/*.md
done

# ---------------------------------------------------------------- f. API examples run
lib=build/liblatchkey.a
if [ ! -f "$lib" ] || ! command -v "${CC:-cc}" >/dev/null; then
	ok "f: docs/api examples compile and run # SKIP $lib not built (run make)"
else
	tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
	libs=$(pkg-config --libs openssl libsodium jansson libcurl 2>/dev/null)
	for page in docs/api/*.md; do
		# every ```c block that defines main, one file each
		awk -v out="$tmp/$(basename "$page" .md)" '
			/^```c$/ { inb = 1; k++; buf = ""; next }
			inb && /^```$/ { inb = 0; if (buf ~ /int main\(/) printf "%s", buf > (out "." k ".c"); next }
			inb { buf = buf $0 "\n" }' "$page"
	done
	found=0
	for src in "$tmp"/*.c; do
		[ -f "$src" ] || continue
		found=1
		ex=$(basename "$src" .c)
		if ! "${CC:-cc}" -std=c11 -Wall -Wextra -Werror -Iinclude -o "$tmp/$ex" "$src" "$lib" $libs \
			-lpthread 2>"$tmp/$ex.log"; then
			not_ok "f: example $ex (docs/api/${ex%%.*}.md) compiles" "$(head -5 "$tmp/$ex.log")"
		elif ! "$tmp/$ex" >"$tmp/$ex.out" 2>&1; then
			not_ok "f: example $ex (docs/api/${ex%%.*}.md) runs and exits 0" "$(head -5 "$tmp/$ex.out")"
		else
			ok "f: example $ex (docs/api/${ex%%.*}.md) compiles and exits 0"
		fi
	done
	[ "$found" = 1 ] || not_ok "f: found C examples in docs/api/*.md" "the parser found none"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
