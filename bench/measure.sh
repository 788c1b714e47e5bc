#!/usr/bin/env bash
# bench/measure.sh [BIN]: run bench/jwt and print the markdown tables of docs/performance.md.
#
#  1. BIN --gen writes one set of tokens (iat = now, exp = now + 900) that every later
#     process verifies, so that all runs measure identical bytes (ES256 signatures are
#     randomised; the keys are fixed in bench/jwt.c).
#  2. BIN --tokens F: ns/op per case, median of 5 timed runs of >= 0.2 s each.
#  3. For each case, BIN --one CASE --iters N for N = 200 and N = 1200 under
#     valgrind --tool=callgrind (instructions, Ir) and --tool=memcheck (heap allocations,
#     malloc + calloc + realloc + ...). (X(1200) - X(200)) / 1000 is the cost of one
#     verification: setup and one-time lazy initialisation cancel out.
# Raw results stay in $BENCH_OUT (default: the directory of BIN); the tables also go to
# $BENCH_OUT/results.md. BENCH_JOBS (default nproc) valgrind runs go in parallel; the
# timing runs alone. BENCH_SKIP_VG=1 re-times only and reuses the last valgrind results.
# Instruction counts are valgrind's: its virtual CPU hides SHA-NI and AVX-512, so OpenSSL
# and libsodium take their AVX2 paths there, while ns/op is the real CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/bench/jwt}
out=${BENCH_OUT:-$(dirname "$bin")}
jobs=${BENCH_JOBS:-$(nproc)}
lo=200 hi=1200
command -v valgrind >/dev/null || { echo "measure.sh: valgrind is needed" >&2; exit 1; }
mkdir -p "$out/vg"

tokens=$out/tokens.txt
"$bin" --gen "$tokens"
"$bin" --tokens "$tokens" --list >"$out/list.tsv"
"$bin" --versions >"$out/versions.tsv"

echo "measure.sh: timing (about a minute) ..." >&2
load0=$(cut -d' ' -f1 /proc/loadavg)
"$bin" --tokens "$tokens" >"$out/time.tsv"
load1=$(cut -d' ' -f1 /proc/loadavg)

# one valgrind measurement: vg TOOL CASE N -> prints the count
export bin tokens out lo hi
vg_one() { # CASE: writes $out/vg/<safe>.tsv with "case Ir allocs"
	local c=$1 safe=${1//\//_} n ir al irs=() als=()
	for n in $lo $hi; do
		valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$out/vg/$safe.$n.cg" \
			--log-file="$out/vg/$safe.$n.cglog" \
			"$bin" --tokens "$tokens" --one "$c" --iters "$n" >/dev/null 2>&1 ||
			{ echo "measure.sh: callgrind run of $c failed" >&2; return 1; }
		ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$out/vg/$safe.$n.cg")
		valgrind --tool=memcheck --leak-check=no --log-file="$out/vg/$safe.$n.mclog" \
			"$bin" --tokens "$tokens" --one "$c" --iters "$n" >/dev/null 2>&1 ||
			{ echo "measure.sh: memcheck run of $c failed" >&2; return 1; }
		al=$(sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' "$out/vg/$safe.$n.mclog" | tr -d ,)
		irs+=("$ir") als+=("$al")
	done
	awk -v c="$c" -v i0="${irs[0]}" -v i1="${irs[1]}" -v a0="${als[0]}" -v a1="${als[1]}" \
		-v d=$((hi - lo)) 'BEGIN { a = (a1 - a0) / d; if (a < 0.005) a = 0
			printf "%s\t%.0f\t%.2f\n", c, (i1 - i0) / d, a }' \
		>"$out/vg/$safe.tsv"
}
export -f vg_one
if [ "${BENCH_SKIP_VG:-0}" = 1 ] && [ -s "$out/vg.tsv" ]; then
	echo "measure.sh: BENCH_SKIP_VG=1: reusing $out/vg.tsv" >&2
else
	echo "measure.sh: valgrind (callgrind + memcheck, N=$lo and N=$hi; a few minutes) ..." >&2
	rm -f "$out"/vg/*
	awk -F'\t' '$2 == "ok" { print $1 }' "$out/list.tsv" |
		xargs -P "$jobs" -I{} bash -c 'vg_one "$1"' _ {}
	cat "$out"/vg/*.tsv >"$out/vg.tsv"
fi

# ------------------------------------------------------------------ the tables
ncpu=$(nproc)
{
	printf '%s, %s CPUs; load average %s before timing, %s after.\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$ncpu" "$load0" "$load1"
	if awk -v a="$load0" -v b="$load1" -v n="$ncpu" 'BEGIN { exit !(a > n / 2 || b > n / 2) }'; then
		printf '**Warning: the machine was busy while timing; ns/op (and the time ratios) are unreliable. Instructions and allocations are not affected.**\n'
	fi
} | tee "$out/results.md"
awk -F'\t' -v versions="$out/versions.tsv" -v vgf="$out/vg.tsv" -v timef="$out/time.tsv" '
function fmt_ns1(x) { return x >= 10000 ? sprintf("%.1f µs", x / 1000) : sprintf("%.0f ns", x) }
# a dagger when the wall-clock median exceeds the thread-CPU median by > 10%: descheduled
function fmt_ns(c) { if (cpu[c] > 0 && ns[c] > 1.10 * cpu[c]) { dagger = 1; return fmt_ns1(ns[c]) " †" }
	return fmt_ns1(ns[c]) }
function fmt_ir(x,   s, r) { s = sprintf("%.0f", x); r = ""
	while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
	return s r }
function fmt_al(x) { x += 0; if (x < 0.005) x = 0; return sprintf("%.2f", x) }
function ratio(x, y) { return y > 0 ? sprintf("%.2fx", x / y) : "" }
BEGIN {
	while ((getline l < vgf) > 0) { split(l, f, "\t"); ir[f[1]] = f[2]; al[f[1]] = f[3] }
	while ((getline l < timef) > 0) { if (l ~ /^#/) continue; split(l, f, "\t"); ns[f[1]] = f[2]; cpu[f[1]] = f[6] }
}
/^#token/ { toklen[$2] = $3; next }
/^#claims/ { claimslen = $2; next }
{ n++; name[n] = $1; status[n] = $2; desc[n] = $3 }
END {
	split("HS256 RS256 ES256 EdDSA JSON", groups, " ")
	for (g = 1; g <= 5; g++) {
		grp = groups[g]; floor = grp "/floor"
		if (grp == "JSON") {
			floor = "HS256/floor"
			printf "\n### Parsing the %s claims payload (JSON libraries)\n\n", claimslen
			print "| parser | what one op does | ns/op | instructions/op | x HS256 floor (instr) | allocs/op |"
			print "|---|---|---:|---:|---:|---:|"
		} else {
			printf "\n### %s (token %s)\n\n", grp, toklen[grp]
			print "| implementation | what one op does | ns/op | instructions/op | x floor (instr) | x floor (time) | allocs/op |"
			print "|---|---|---:|---:|---:|---:|---:|"
		}
		for (i = 1; i <= n; i++) {
			split(name[i], p, "/"); if (p[1] != grp) continue
			c = name[i]
			if (status[i] != "ok") {
				if (grp == "JSON") printf "| %s | n/a: %s | | | | |\n", p[2], desc[i]
				else printf "| %s | n/a: %s | | | | | |\n", p[2], desc[i]
				continue
			}
			if (grp == "JSON")
				printf "| %s | %s | %s | %s | %s | %s |\n", p[2], desc[i], fmt_ns(c),
					fmt_ir(ir[c]), ratio(ir[c], ir[floor]), fmt_al(al[c])
			else
				printf "| %s | %s | %s | %s | %s | %s | %s |\n", p[2], desc[i], fmt_ns(c),
					fmt_ir(ir[c]), c == floor ? "1.00x" : ratio(ir[c], ir[floor]),
					c == floor ? "1.00x" : ratio(ns[c], ns[floor]), fmt_al(al[c])
		}
		lk = grp "/latchkey"
		if (grp != "JSON" && (lk in ir)) {
			lim = grp == "HS256" ? 2 : 1.05
			r = ir[lk] / ir[floor]
			ok = r <= lim && (grp != "HS256" || al[lk] <= 2)
			printf "\nTarget: latchkey <= %.2fx the floor in instructions%s: **%s** (%.3fx%s).\n",
				lim, grp == "HS256" ? " and <= 2 heap allocations" : "",
				ok ? "met" : "missed", r, grp == "HS256" ? sprintf(", %s allocs", fmt_al(al[lk])) : ""
		}
	}
	if (dagger)
		print "\n† wall-clock median more than 10% above the thread-CPU median: the process was descheduled during the timing; trust the instructions column."
}' "$out/list.tsv" | tee -a "$out/results.md"

# ------------------------------------------------------------------ where latchkey HS256 goes
# Self instructions per function, (N=1200 profile - N=200 profile) / 1000: setup cancels.
prof() { # CALLGRIND_FILE -> "Ir<TAB>function" lines
	callgrind_annotate --auto=no --threshold=100 "$1" 2>/dev/null |
		awk '/^ *[0-9,]+ +\(/ { ir = $1; gsub(",", "", ir); l = $0
			sub(/^ *[0-9,]+ +\([^)]*\) +/, "", l); print ir "\t" l }'
}
if [ -f "$out/vg/HS256_latchkey.$hi.cg" ] && command -v callgrind_annotate >/dev/null; then
	prof "$out/vg/HS256_latchkey.$lo.cg" >"$out/prof.$lo"
	prof "$out/vg/HS256_latchkey.$hi.cg" >"$out/prof.$hi"
	{
		printf '\n### Top 10 functions of HS256/latchkey (self instructions per verification)\n\n'
		echo "| instructions/op | function [object] |"
		echo "|---:|---|"
		awk -F'\t' -v d=$((hi - lo)) 'NR == FNR { a[$2] = $1; next }
			$2 != "PROGRAM TOTALS" { x = ($1 - a[$2]) / d; if (x >= 0.5) printf "%.0f\t%s\n", x, $2 }' \
			"$out/prof.$lo" "$out/prof.$hi" | sort -rn | head -10 >"$out/prof.top"
		# name unnamed (stripped) functions by their biggest caller
		callgrind_annotate --auto=no --tree=caller --threshold=100 \
			"$out/vg/HS256_latchkey.$hi.cg" 2>/dev/null >"$out/prof.callers"
		awk -F'\t' -v callers="$out/prof.callers" -v binname="$(basename "$bin")" '
		BEGIN {
			while ((getline l < callers) > 0) {
				if (l ~ /^ *[0-9,]+ +\([^)]*\) +< /) {
					c = l; sub(/^ *[0-9,]+ +\([^)]*\) +< /, "", c); sub(/ \(.*$/, "", c)
					if (first == "") first = c
				} else if (l ~ /^ *[0-9,]+ +\([^)]*\) +\* /) {
					f = l; sub(/^ *[0-9,]+ +\([^)]*\) +\* +/, "", f); sub(/ \[.*$/, "", f)
					if (!(f in by)) by[f] = first
					first = ""
				} else if (l ~ /^$/) first = ""
			}
		}
		{
			f = $2; sub(/ \[.*$/, "", f)
			o = $2; sub(/.*\//, "", o); sub(/\]$/, "", o)
			if (o == binname) o = "liblatchkey.a"
			name = f; sub(/^.*\//, "", name)
			if (f ~ /^\?\?\?:0x/ && by[f] != "") {
				cl = by[f]; sub(/^.*[\/:]/, "", cl); name = name " (stripped; called by " cl ")"
			}
			gsub(/\|/, "\\|", name)
			printf "| %s | `%s` [%s] |\n", $1, name, o
		}' "$out/prof.top"
	} | tee -a "$out/results.md"
fi
