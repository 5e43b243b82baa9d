#!/usr/bin/env bash
# keyprep service install|uninstall under Wine's service control manager
# (docs/windows.md, "The Windows service"):
#
#   scripts/windows/service-test.sh CACHE_DIR [keyprep.exe]
#
# keyprep.exe is copied to "C:\Program Files\keyprep-test\" (a path with a
# space: the service's command line must quote it), installed with serve
# flags, and the service's registry entry read back (reg query): the quoted
# path, serve, the state directory, the flags (a relative --csv made
# absolute), the start type, LocalSystem. A second install, a --listen off
# loopback and an uninstall of nothing are refused with exit code 2;
# uninstall removes it.
#
# Not covered: starting the service. Wine 8.0 runs services.exe in session
# 1, not 0, so svc.IsWindowsService (parent services.exe in session 0, as
# .NET decides it) reports false under Wine and serve would not talk to the
# SCM; the Stop handling is tested by TestServiceRun on every system.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${1:?usage: service-test.sh CACHE_DIR [keyprep.exe]}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
exe=${2:-$root/bin/keyprep.exe}
wine() { "$here/wine.sh" "$cache" "$@"; }
fail() { echo "service-test: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
dir="$cache/wine/drive_c/Program Files/keyprep-test"
ours=
cleanup() {
	if [ -n "$ours" ]; then wine sc delete keyprep >/dev/null 2>&1 || true; fi
	rm -rf "$tmp" "$dir" "$cache/wine/drive_c/keyprep-service-test"
}
trap cleanup EXIT

wine "$exe" version >/dev/null # the Wine prefix exists
if wine sc query keyprep >/dev/null 2>&1; then
	fail "a service keyprep exists already in $cache/wine: not ours to replace"
fi
ours=1 # from here on, a service keyprep is this test's
mkdir -p "$dir"
cp "$exe" "$dir/keyprep.exe"
kp='C:\Program Files\keyprep-test\keyprep.exe'
state='C:\keyprep-service-test'
csvwin=$(cd "$tmp" && wine cmd /c cd | tr -d '\r')'\users.csv'

# expect CODE PATTERN ARGS...: keyprep's exit code and a line of its output.
expect() {
	local want=$1 pat=$2 rc=0
	shift 2
	(cd "$tmp" && wine "$kp" --state-dir "$state" "$@") >"$tmp/out" 2>&1 || rc=$?
	tr -d '\r' <"$tmp/out" >"$tmp/out.txt"
	[ "$rc" = "$want" ] || { cat "$tmp/out.txt" >&2; fail "keyprep $*: exit $rc, want $want"; }
	grep -qF -- "$pat" "$tmp/out.txt" || { cat "$tmp/out.txt" >&2; fail "keyprep $*: no \"$pat\""; }
}
entry() { wine reg query 'HKLM\System\CurrentControlSet\Services\keyprep' 2>/dev/null | tr -d '\r'; }
value() { entry | awk -v n="$1" '$1 == n { $1 = ""; $2 = ""; sub(/^ +/, ""); print }'; }

expect 0 'installed service keyprep (start: manual)' service install --start manual --listen 127.0.0.1:18799 --max-parallel 2 --csv users.csv
img=$(value ImagePath)
want="\"$kp\" serve --state-dir=$state --csv=$csvwin --listen=127.0.0.1:18799 --max-parallel=2"
[ "$img" = "$want" ] || fail "ImagePath
  $img
want
  $want"
[ "$(value Start)" = 0x3 ] || fail "Start $(value Start), want 0x3 (manual)"
[ "$(value ObjectName)" = LocalSystem ] || fail "ObjectName $(value ObjectName)"
[ "$(value DisplayName)" = 'keyprep bench' ] || fail "DisplayName $(value DisplayName)"
wine sc query keyprep | tr -d '\r' | grep -q 'STOPPED' || fail "sc query keyprep: not STOPPED"

expect 2 'already installed' service install
expect 2 'loopback only' service install --listen 0.0.0.0:8765
expect 0 'removed service keyprep' service uninstall
if wine sc query keyprep >/dev/null 2>&1; then fail "the service is still there after uninstall"; fi
expect 2 'not installed' service uninstall

expect 0 'installed service keyprep (start: auto)' service install
[ "$(value Start)" = 0x2 ] || fail "Start $(value Start), want 0x2 (auto)"
expect 0 'removed service keyprep' service uninstall
echo "service-test: ok"
