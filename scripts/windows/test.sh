#!/usr/bin/env bash
# Runs Go packages' tests built for windows/amd64 under Debian's Wine
# (make windows-test):
#
#   scripts/windows/test.sh CACHE_DIR PKG...
#
# Each package's test binary is built like keyprep.exe (static prefix,
# env.sh) and run in the package's directory under wine.sh. Tests that
# cannot run under Wine are skipped by name, with the reason, in
# scripts/windows/wine-skips. Full output: CACHE_DIR/tests/NAME.log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: test.sh CACHE_DIR PKG...}
shift
mkdir -p "$cache/tests"
cache=$(cd "$cache" && pwd)
go=${GO:-go}

prefix=$("$here/prefix.sh" "$cache")
# shellcheck source=env.sh
. "$here/env.sh"

status=0
for pkg in "$@"; do
	name=$(echo "$pkg" | sed 's|^\./||; s|/|_|g')
	exe=$cache/tests/$name.test.exe
	log=$cache/tests/$name.log
	rm -f "$exe"
	nice -n 19 "$go" test -c -trimpath -o "$exe" "$pkg"
	if [ ! -f "$exe" ]; then
		echo "$pkg: no tests"
		continue
	fi
	args=(-test.v)
	skip=$(awk -v p="$pkg" '$1 == p { print $2 }' "$here/wine-skips" | paste -sd'|')
	if [ -n "$skip" ]; then args+=(-test.skip "^($skip)\$"); fi
	dir=$("$go" list -f '{{.Dir}}' "$pkg")
	rc=0
	(cd "$dir" && "$here/wine.sh" "$cache" "$exe" "${args[@]}") >"$log" 2>&1 || rc=$?
	count() { grep -c "^--- $1" "$log" || true; }
	echo "$pkg under Wine: $(count PASS) passed, $(count SKIP) skipped, $(count FAIL) failed${skip:+, not run (wine-skips): $skip} (exit $rc; $log)"
	if [ "$rc" -ne 0 ]; then
		grep -E '^(--- FAIL|FAIL|panic)' "$log" | head -20 >&2 || true
		tail -5 "$log" >&2
		status=1
	fi
done
exit $status
