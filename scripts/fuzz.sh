#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a fixed time each. A package
# whose tests do not compile fails the run (it would otherwise hide its fuzz
# targets), and so does a run that found no target at all.
#
# Each new interesting input is minimised for at most FUZZMINIMIZE runs
# (default 100x) instead of go test's 60 s: targets whose coverage varies
# from run to run (fresh challenges, random keys) would otherwise spend
# their whole time minimising.
set -euo pipefail
t=${1:-10s}
minimize=${FUZZMINIMIZE:-100x}
fail=0
targets=0
for pkg in $(go list ./...); do
	if ! list=$(go test -list '^Fuzz' "$pkg" 2>&1); then
		echo "== $pkg: go test -list failed; its fuzz targets did not run:" >&2
		echo "$list" >&2
		fail=1
		continue
	fi
	for f in $(grep '^Fuzz' <<<"$list" || true); do
		echo "== $pkg $f ($t)"
		targets=$((targets + 1))
		go test -run '^$' -fuzz "^${f}\$" -fuzztime "$t" -fuzzminimizetime "$minimize" "$pkg" || fail=1
	done
done
if [ "$targets" -eq 0 ]; then
	echo "no fuzz targets found" >&2
	fail=1
fi
echo "$targets fuzz targets run"
exit $fail
