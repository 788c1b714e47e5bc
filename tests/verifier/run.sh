#!/usr/bin/env bash
# Revocation reaches every verifier (issue 13): an independent verifier process built on
# liblatchkey alone (build/tests/lkcheck, subscribed to /revocations/stream) sees each
# revocation path within a second, on SQLite and on Redis with two instances; the stream
# resumes across a server restart; a silent stream fails closed; a key rotation is picked
# up without a restart. LATCHKEY names the server binary, LKCHECK the verifier (default:
# lkcheck beside the binary's build). Node's built-in test runner, TAP on stdout.
set -u
unset LATCHKEY_TEST_STORE
# lkcheck is built by `make unit` beside the binary: missing is a failure, not a skip
bin=${LATCHKEY:-build/latchkey}
if [ ! -x "${LKCHECK:-$(dirname "$bin")/tests/lkcheck}" ]; then
	printf 'not ok 1 - %s is built (make unit)\n1..1\n' "${LKCHECK:-$(dirname "$bin")/tests/lkcheck}"
	exit 1
fi
. "$(dirname "$0")/../lib/node-suite.sh"
node_suite tests/verifier "verifier suite" 2
