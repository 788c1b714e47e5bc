#!/usr/bin/env bash
# Black-box tests of the command line itself: help, version, unknown commands and options.
# Exit codes: 0 ok, 1 failed as asked, 2 usage error.
. "$(dirname "$0")/tap.bash"

run version
expect_rc "version -> exit 0" 0
check "version prints a version number (x.y.z)" grep -Eq '[0-9]+\.[0-9]+\.[0-9]+' "$TMP/.out"
check "version output is short (one line)" test "$(wc -l <"$TMP/.out")" -le 2

run --help
expect_rc "--help -> exit 0" 0
check "--help prints usage on stdout" test "$(out_bytes)" -gt 0
for word in jwt jwk verify decode sign generate version; do
	check "--help mentions '$word'" grep -q -- "$word" "$TMP/.out"
done

run
expect_usage "no arguments -> 2 with usage on stderr"

run frobnicate
expect_usage "unknown command -> 2"
check "unknown command: the message names it" grep -q frobnicate "$TMP/.err"

run --bogus-global-option
expect_usage "unknown global option -> 2"

run jwt
expect_usage "jwt without a subcommand -> 2"

run jwt frobnicate
expect_usage "unknown jwt subcommand -> 2"

run jwk
expect_usage "jwk without a subcommand -> 2"

run jwt verify --help
expect_rc "jwt verify --help -> exit 0" 0
check "jwt verify --help mentions --jwks" grep -q -- '--jwks' "$TMP/.out"

run jwt verify --jwks
expect_usage "option missing its value (jwt verify --jwks) -> 2"

# A session id is base64url and may begin with '-' (one in 32 does): taken for an id by
# its shape, or after --; a short dashed word is still an unknown option.
run sessions revoke -AAAAAAAAAAAAAAAAAAAAA --store "sqlite:$TMP/s.db"
expect_rc "sessions revoke of an id beginning with '-' -> 1 (not found), not a usage error" 1
check "sessions revoke -ID: the message is not_found" grep -q not_found "$TMP/.err"
run sessions revoke --store "sqlite:$TMP/s.db" -- --AAAAAAAAAAAAAAAAAAAA
expect_rc "sessions revoke -- ID -> 1 (not found)" 1
run sessions revoke -x --store "sqlite:$TMP/s.db"
expect_usage "sessions revoke -x -> 2"

done_testing
