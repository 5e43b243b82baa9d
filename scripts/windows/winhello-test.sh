#!/usr/bin/env bash
# keyprep never treats Windows Hello as a key, checked under Wine with the
# real, statically linked libfido2 (docs/windows.md, "Administrator rights
# and the manifest"):
#
#   scripts/windows/winhello-test.sh CACHE_DIR [keyprep.exe]
#
# libfido2 lists its pseudo-device windows://hello only when webauthn.dll is
# there, which Wine 8.0 lacks: a do-nothing stand-in (fakewebauthn.c) goes
# into the Wine prefix's system32 for this run and is removed afterwards
# (do not run other Wine tests on the same prefix meanwhile). Then
#   - the hid test TestEnumerateHidesWindowsHello must run, not skip
#     (libfido2 does list windows://hello), and pass (Enumerate does not);
#   - keyprep.exe keys lists no windows:// device, and keyprep.exe info
#     --key windows://hello is refused with exit code 3.
# Wine runs every program elevated, so the refusal without administrator
# rights cannot be shown here (hid's TestKeysOnly covers the decision).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${1:?usage: winhello-test.sh CACHE_DIR [keyprep.exe]}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
exe=$(cd "$(dirname "${2:-$root/bin/keyprep.exe}")" && pwd)/$(basename "${2:-$root/bin/keyprep.exe}")
go=${GO:-go}
tmp=$(mktemp -d)
dll=$cache/wine/drive_c/windows/system32/webauthn.dll
trap 'rm -f "$dll"; rm -rf "$tmp"' EXIT
fail() { echo "winhello-test: FAIL: $*" >&2; exit 1; }

"$here/wine.sh" "$cache" "$exe" version >/dev/null # the Wine prefix exists
[ ! -e "$dll" ] || fail "$dll exists already: not ours to replace"
x86_64-w64-mingw32-gcc -O2 -Wall -shared -o "$dll" "$here/fakewebauthn.c"

(
	prefix=$("$here/prefix.sh" "$cache")
	# shellcheck source=env.sh
	. "$here/env.sh"
	cd "$root" && nice -n 19 "$go" test -c -trimpath -o "$tmp/hid.test.exe" ./hid
)
(cd "$root/hid" && "$here/wine.sh" "$cache" "$tmp/hid.test.exe" -test.v -test.run '^TestEnumerateHidesWindowsHello$') >"$tmp/hid.log" 2>&1 || true
grep -q -- '--- PASS: TestEnumerateHidesWindowsHello' "$tmp/hid.log" || { cat "$tmp/hid.log" >&2; fail "TestEnumerateHidesWindowsHello did not pass (a skip means libfido2 listed no windows://hello)"; }
grep -h 'Windows Hello among them' "$tmp/hid.log" | sed 's/^ */winhello-test: /'

state='C:\keyprep-winhello-test'
"$here/wine.sh" "$cache" "$exe" --state-dir "$state" keys --json >"$tmp/keys.json" 2>"$tmp/keys.err" || { cat "$tmp/keys.err" >&2; fail "keyprep keys failed"; }
if grep -qi 'windows://' "$tmp/keys.json"; then cat "$tmp/keys.json" >&2; fail "keyprep keys lists Windows Hello"; fi
rc=0
"$here/wine.sh" "$cache" "$exe" --state-dir "$state" info --key 'windows://hello' >/dev/null 2>"$tmp/info.err" || rc=$?
[ "$rc" = 3 ] || { cat "$tmp/info.err" >&2; fail "info --key windows://hello: exit $rc, want 3"; }
grep -q 'not a security key' "$tmp/info.err" || { cat "$tmp/info.err" >&2; fail "info --key windows://hello: message"; }
rm -rf "$cache/wine/drive_c/keyprep-winhello-test"
echo "winhello-test: ok"
