#!/usr/bin/env bash
# fuzz/replay.sh: build the libFuzzer targets and replay the committed corpora (TAP).
#
#   bash fuzz/replay.sh                    replay fuzz/corpus/<t>/ once through each target
#   FUZZ_SECONDS=60 bash fuzz/replay.sh    then fuzz each target for 60 s
#                                          (make fuzz SECONDS=60: the same, after the build)
#
# Fuzzing writes new inputs to build-fuzz/work/<t>/ (never into the committed corpus) and
# crash/leak/timeout artifacts to build-fuzz/artifacts/<t>/; a finding is printed with its
# path and base64 so it can be reproduced anywhere. Exit status is non-zero on any failure.
set -u
cd "$(dirname "$0")/.." || exit 2

TARGETS="b64url jwk jwks jws form json_param authz xff framing sse config ua cookie redirect"
FB=build-fuzz
SECS=${FUZZ_SECONDS:-0}
case $SECS in '' | *[!0-9]*) SECS=0 ;; esac

ntests=0
for t in $TARGETS; do ntests=$((ntests + 1)); done
total=$ntests
[ "$SECS" -gt 0 ] && total=$((ntests * 2))
echo "1..$total"

mkdir -p "$FB"
# SECONDS= : `make fuzz SECONDS=N` runs this script, and the build here must not again
if ! make --no-print-directory -s fuzz SECONDS= >"$FB/build.log" 2>&1; then
	n=0
	for t in $TARGETS; do
		n=$((n + 1))
		echo "not ok $n - replay fuzz_$t (build failed)"
	done
	sed 's/^/# /' "$FB/build.log" | tail -n 40
	exit 1
fi

# quieter sanitizer output, abort-style failures
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

fail=0
n=0
show_log() { # the interesting part of a libFuzzer log as TAP comments: no progress lines,
	# no frames inside libFuzzer, libc or the sanitizer runtime
	grep -v -E '^(INFO:|#[0-9]+[[:space:]]+(pulse|REDUCE|NEW|RELOAD|INITED))|fuzzer::|libc\.so|libc_start|_start |__sanitizer_print_stack_trace|pthread_kill|raise\.c|abort\.c|^(NOTE|      Combine|MS:|stat::|Dictionary:)|^$' "$1" |
		tail -n "${2:-40}" | cut -c1-400 | sed 's/^/#   /'
}

for t in $TARGETS; do
	n=$((n + 1))
	bin=$FB/fuzz_$t
	dir=fuzz/corpus/$t
	k=$(find "$dir" -type f 2>/dev/null | wc -l)
	log=$FB/replay-$t.log
	mkdir -p "$FB/artifacts/replay-$t"
	if [ "$k" -gt 0 ] && "$bin" -runs=0 -rss_limit_mb=4096 -timeout=20 \
		-artifact_prefix="$FB/artifacts/replay-$t/" "$dir" >"$log" 2>&1; then
		echo "ok $n - replay fuzz_$t ($k inputs)"
	else
		echo "not ok $n - replay fuzz_$t ($k inputs)"
		show_log "$log"
		fail=1
	fi
done

if [ "$SECS" -gt 0 ]; then
	# One fuzzer per CPU at a time: each target still gets SECS seconds of a whole core,
	# and the wall time is divided by the number of CPUs.
	jobs=$(nproc 2>/dev/null || echo 1)
	[ "$jobs" -ge 1 ] || jobs=1
	opts_of() { # the target's own flags: its dictionary (none for cookie; json_param
		# takes the JSON of jose.dict), and stderr closed for config, which prints its
		# complaints (libFuzzer's output and the sanitizers' reports go on to the log)
		case $1 in
		b64url | jwk | jwks | jws | json_param) echo "-dict=fuzz/jose.dict" ;;
		form | authz | xff | framing) echo "-dict=fuzz/http.dict" ;;
		sse) echo "-dict=fuzz/sse.dict" ;;
		config) echo "-dict=fuzz/config.dict -close_fd_mask=2" ;;
		ua) echo "-dict=fuzz/ua.dict" ;;
		esac
	}
	fuzz_one() { # fuzz_one TARGET: run it, leave its exit code in $FB/rc-TARGET
		local t=$1 art=$FB/artifacts/$1 work=$FB/work/$1
		mkdir -p "$work" "$art"
		: >"$FB/.stamp-$t"
		# shellcheck disable=SC2046 # the options are words
		"$FB/fuzz_$t" -max_total_time="$SECS" $(opts_of "$t") -max_len=9000 \
			-timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
			-artifact_prefix="$art/" "$work" "fuzz/corpus/$t" >"$FB/fuzz-$t.log" 2>&1
		echo $? >"$FB/rc-$t"
	}
	running=0
	for t in $TARGETS; do
		fuzz_one "$t" &
		running=$((running + 1))
		if [ "$running" -ge "$jobs" ]; then
			wait
			running=0
		fi
	done
	wait
	for t in $TARGETS; do
		n=$((n + 1))
		art=$FB/artifacts/$t
		log=$FB/fuzz-$t.log
		stamp=$FB/.stamp-$t
		rc=$(cat "$FB/rc-$t" 2>/dev/null || echo 99)
		stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 | sed 's/[[:space:]]\+/ /g')
		found=$(find "$art" -type f -newer "$stamp" 2>/dev/null)
		if [ "$rc" -eq 0 ] && [ -z "$found" ]; then
			echo "ok $n - fuzz fuzz_$t for ${SECS}s${stats:+ ($stats)}"
		else
			echo "not ok $n - fuzz fuzz_$t for ${SECS}s (exit $rc)"
			show_log "$log" 60
			for f in $found; do
				echo "#   artifact: $f"
				echo "#   base64: $(base64 -w0 <"$f")"
			done
			fail=1
		fi
		rm -f "$stamp" "$FB/rc-$t"
	done
fi
exit $fail
