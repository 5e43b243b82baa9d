#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a fixed time each.
set -euo pipefail
t=${1:-10s}
fail=0
for pkg in $(go list ./...); do
	for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "== $pkg $f ($t)"
		go test -run '^$' -fuzz "^${f}\$" -fuzztime "$t" "$pkg" || fail=1
	done
done
exit $fail
