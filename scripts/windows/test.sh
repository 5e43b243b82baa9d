#!/usr/bin/env bash
# Runs Go packages' tests built for windows/amd64 under Debian's Wine
# (make windows-test):
#
#   scripts/windows/test.sh CACHE_DIR PKG...
#
# Each package's test binary is built like keyprep.exe (static prefix,
# env.sh) and run in the package's directory under wine.sh, with TEMP and
# TMP in a directory of its own that is removed afterwards, so that nothing
# a test leaves piles up in the Wine prefix. It is under /tmp, with a short
# name: some tests expect a file's name in an error message that shortens
# long paths (escrow's), as C:\users\NAME\Temp is short.
# Tests that cannot run under Wine are skipped by name, with the reason, in
# scripts/windows/wine-skips. The test binaries and their full output
# (NAME.log) are in this checkout's bin/windows-tests: the cache is the
# machine's, and two checkouts may test at once.
#
# Wine 8.0 gap worked around here, in the test binaries only: os.RemoveAll
# (and so every t.TempDir's cleanup) fails with "Invalid function". Go's
# Deleteat (internal/syscall/windows) first tries
# NtSetInformationFile(FileDispositionInformationEx), which Windows 10 1607
# and later have, and falls back to the older FileDispositionInformation
# when the system answers that it does not know the class; Wine 8.0 answers
# STATUS_NOT_IMPLEMENTED instead, which Go does not take for that. The test
# binaries are built with an -overlay of that one file that also falls back
# on STATUS_NOT_IMPLEMENTED. keyprep.exe is built without it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: test.sh CACHE_DIR PKG...}
shift
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
out=$(cd "$here/../.." && pwd)/bin/windows-tests
mkdir -p "$out"
go=${GO:-go}

prefix=$("$here/prefix.sh" "$cache")
# shellcheck source=env.sh
. "$here/env.sh"

# The overlay, made from this Go's own source; when that source has
# changed so that the one line is no longer found, stop rather than test
# with an unpatched runtime.
goroot=$("$go" env GOROOT)
src=$goroot/src/internal/syscall/windows/at_windows.go
# In the cache, under one path for every checkout (it is part of the cache
# keys of what is compiled with it), written whole or not at all.
ov=$cache/overlay
mkdir -p "$ov"
anchor='^\t\tSTATUS_NOT_SUPPORTED: .*FILE_DISPOSITION_INFORMATION_EX'
if [ "$(grep -cP "$anchor" "$src" || true)" != 1 ]; then
	echo "windows/test: $src has no single 'STATUS_NOT_SUPPORTED:' case for FILE_DISPOSITION_INFORMATION_EX; revisit the Wine overlay in $0" >&2
	exit 1
fi
sed "/STATUS_NOT_SUPPORTED: .*FILE_DISPOSITION_INFORMATION_EX/i\\
\t\tNTStatus(0xC0000002), // STATUS_NOT_IMPLEMENTED: Wine 8.0 (scripts/windows/test.sh, tests only)" "$src" >"$ov/at_windows.go.$$"
cmp -s "$ov/at_windows.go.$$" "$ov/at_windows.go" 2>/dev/null && rm "$ov/at_windows.go.$$" || mv "$ov/at_windows.go.$$" "$ov/at_windows.go"
printf '{"Replace":{"%s":"%s"}}\n' "$src" "$ov/at_windows.go" >"$ov/overlay.json.$$"
mv "$ov/overlay.json.$$" "$ov/overlay.json"

# wine-skips: PKG NAME REASON, NAME a test's name or TEST/SUBTEST; each level
# is matched whole. -test.skip takes alternatives, each split at "/"; whole
# tests come first (an alternative that matches only a test's first level
# would stop the search).
skips_for() {
	awk -v p="$1" '$1 == p { n = split($2, a, "/"); s = ""; for (i = 1; i <= n; i++) s = s (i > 1 ? "/" : "") "^" a[i] "$"; print n, s, $2 }' "$here/wine-skips" |
		sort -k1,1n -s
}

status=0
tmp=""
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT
for pkg in "$@"; do
	name=$(echo "$pkg" | sed 's|^\./||; s|/|_|g')
	exe=$out/$name.test.exe
	log=$out/$name.log
	rm -f "$exe"
	nice -n 19 "$go" test -c -trimpath -overlay "$ov/overlay.json" -o "$exe" "$pkg"
	if [ ! -f "$exe" ]; then
		echo "$pkg: no tests"
		continue
	fi
	args=(-test.v)
	skip=$(skips_for "$pkg" | awk '{ print $2 }' | paste -sd'|')
	names=$(skips_for "$pkg" | awk '{ print $3 }' | paste -sd' ')
	if [ -n "$skip" ]; then args+=(-test.skip "$skip"); fi
	dir=$("$go" list -f '{{.Dir}}' "$pkg")
	tmp=$(mktemp -d /tmp/kpw.XXXXXX)
	rc=0
	(cd "$dir" && KEYPREP_WINE_TMPDIR=$tmp "$here/wine.sh" "$cache" "$exe" "${args[@]}") >"$log" 2>&1 || rc=$?
	left=$(find "$tmp" -mindepth 1 -maxdepth 1 | wc -l)
	rm -rf "$tmp"
	leftmsg=""
	if [ "$left" -gt 0 ]; then leftmsg="; $left entries left in TEMP, removed"; fi
	count() { grep -c "^--- $1" "$log" || true; }
	echo "$pkg under Wine: $(count PASS) passed, $(count SKIP) skipped, $(count FAIL) failed${names:+; not run (wine-skips): $names}$leftmsg (exit $rc; $log)"
	if [ "$rc" -ne 0 ]; then
		grep -E '^ *--- FAIL|^(FAIL|panic)' "$log" | head -20 >&2 || true
		tail -5 "$log" >&2
		status=1
	fi
done
exit $status
