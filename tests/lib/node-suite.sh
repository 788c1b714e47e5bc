# Sourced by the node suites' run.sh: run DIR/*.test.mjs with node's built-in test runner,
# TAP on stdout, one flat "ok N" / "not ok N" line per test, exiting non-zero on a failure.
#   node_suite DIR WHAT CONCURRENCY [NPM_WHAT]
# DIR: the suite's directory from the repository root; WHAT names it in messages;
# CONCURRENCY: test files at once; NPM_WHAT, when given, means DIR has a package-lock.json
# and its node_modules is installed with `npm ci` when missing or older than the lock.
# The binary comes from LATCHKEY (default build/latchkey, relative to the repository root).
node_suite() {
	local dir=$1 what=$2 n=$3 npm_what=${4:-}
	cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
	export LATCHKEY="${LATCHKEY:-build/latchkey}"
	local tools=(node)
	[ -n "$npm_what" ] && tools+=(npm)
	for tool in "${tools[@]}"; do
		if ! command -v "$tool" >/dev/null; then
			printf 'not ok 1 - %s is installed (needed for the %s)\n1..1\n' "$tool" "$what"
			exit 1
		fi
	done
	local bin=$LATCHKEY
	case $bin in /*) ;; *) bin="$PWD/$bin" ;; esac
	if [ ! -x "$bin" ]; then
		printf 'not ok 1 - %s is built (run make)\n1..1\n' "$LATCHKEY"
		exit 1
	fi
	if [ -n "$npm_what" ] && { [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; }; then
		if ! (cd "$dir" && npm ci --silent --no-audit --no-fund >&2 && touch node_modules); then
			printf 'not ok 1 - npm ci in %s (%s)\n1..1\n' "$dir" "$npm_what"
			exit 1
		fi
	fi
	local conc=(--test-concurrency="$n")
	node --help 2>/dev/null | grep -q -- --test-concurrency || conc=()
	# Node 20 searches a directory argument for *.test.mjs; from Node 21 on, arguments are
	# globs and a bare directory fails (nodejs/node#50219), so give the files there.
	if [ "$(node -p 'process.versions.node.split(".")[0]')" -le 20 ]; then
		exec node --test "${conc[@]}" --test-reporter=tap "$dir/"
	fi
	exec node --test "${conc[@]}" --test-reporter=tap "$dir"/*.test.mjs
}
