#!/usr/bin/env bash
# The HTML pages in a real browser: Debian's chromium (/usr/bin/chromium, or CHROMIUM)
# driven by playwright-core (pinned in package.json / package-lock.json), against a real
# `latchkey serve`. Node's built-in test runner, TAP on stdout, one flat "ok N" / "not ok
# N" line per test. Screenshots of each page, desktop and phone width, are written to
# build/test-artifacts/browser/. Exits non-zero on a failure, and when chromium is missing.
set -u
. "$(dirname "$0")/../lib/node-suite.sh"
node_suite tests/browser "browser suite" 2 "playwright-core"
