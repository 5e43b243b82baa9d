#!/usr/bin/env bash
# The elevated relaunch of keyprep.exe end to end under Wine (make
# windows-test; docs/windows.md, "Administrator rights"):
#
#   scripts/windows/elevate-test.sh CACHE_DIR
#
# Wine runs every program elevated, so keyprep.exe would never ask for the
# rights there. This test builds its own keyprep.exe with the build tag
# keyprep_wine_unelevated (internal/elevate/elevate_winetest.go: only the
# copy started by the relay counts as elevated; the release is never built
# with it) and checks, with stdout and stderr redirected to files as a
# script would:
#   - a key command says why it asks, runs again through ShellExecuteEx
#     "runas", and the copy's output (--json included) and exit code come
#     back through the relay;
#   - the copy does the work: `service install` (which always needs the
#     rights) registers the service, `service uninstall` removes it, and a
#     second uninstall's failure (exit 2, its hint) comes back as such;
#   - virtual keys (--sim), commands that open no key, and
#     KEYPREP_NO_ELEVATE=1 never ask;
#   - in a terminal (a pseudo-terminal from script(1), so that Wine gives
#     the program a console), internal/elevate's TestRelaunchConsole: the
#     elevated copy attaches to the relay's console, reads the lines typed
#     there and prints them upper-cased there, with nothing relayed through
#     pipes. The lines are typed once the copy says it reads (the terminal
#     is in Wine's raw mode by then; typed earlier, the terminal's own line
#     discipline would turn Enter into a line feed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${1:?usage: elevate-test.sh CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
exe=$root/bin/windows-tests/keyprep-unelevated.exe
mkdir -p "$(dirname "$exe")"
KEYPREP_TAGS=keyprep_wine_unelevated "$here/build.sh" "$exe" "$cache" >/dev/null

work=$(mktemp -d)
ours=
cleanup() {
	if [ -n "$ours" ]; then env -u KEYPREP_WINE_TMPDIR "$here/wine.sh" "$cache" sc delete keyprep >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/tmp"
export KEYPREP_WINE_TMPDIR=$work/tmp
name=elevate-test
# shellcheck source=kprun.sh
. "$here/kprun.sh"
state=$(winpath "$work/state")

has() { grep -Eq "$3" "$work/$1.$2" || fail "$1: $2 has no line matching /$3/"; }
hasnt() { ! grep -Eq "$3" "$work/$1.$2" || fail "$1: $2 has a line matching /$3/"; }
asking='needs administrator rights on Windows: asking for them'
# The service's registry entry, as service-test.sh reads it.
# (Without KEYPREP_WINE_TMPDIR: its launcher starts .exe files by path.)
registered() { env -u KEYPREP_WINE_TMPDIR "$here/wine.sh" "$cache" reg query 'HKLM\System\CurrentControlSet\Services\keyprep' >/dev/null 2>&1; }

if registered; then
	fail "a service keyprep exists already in $cache/wine: not ours to replace"
fi

# A key command: asked, run by the copy, its JSON relayed.
kprun keys 0 --json keys
has keys err "^keyprep keys $asking"
has keys out '"keys": \[\]'
# The copy's failure and exit code come back.
kprun info 3 info
has info err "^keyprep info $asking"
has info err '^hint: '

# The copy does the work.
ours=1
kprun install 0 service install --start manual
has install err "^keyprep service install $asking"
registered || fail "service install through the relay registered no service"
kprun uninstall 0 service uninstall
has uninstall err "^keyprep service uninstall $asking"
if registered; then fail "service uninstall through the relay left the service"; fi
ours=
kprun uninstall2 2 service uninstall
has uninstall2 err 'not installed'
has uninstall2 err '^hint: sc.exe query keyprep'

# Never asked.
kprun sim 0 --sim keys
hasnt sim err "$asking"
has sim out '^vkey:0'
kprun version 0 version
hasnt version err "$asking"
export KEYPREP_NO_ELEVATE=1
kprun noelevate 0 keys
unset KEYPREP_NO_ELEVATE
hasnt noelevate err "$asking"
has noelevate err 'no FIDO2 key found'

# The console.
GO=${GO:-go} "$here/test.sh" "$cache" ./internal/elevate >/dev/null
tbin=$root/bin/windows-tests/internal_elevate.test.exe
tty=$work/console.out
mkfifo "$work/typed"
# within() polls a file for a line, at most 60 s.
within() { local i; for i in $(seq 600); do grep -qE -e "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
(
	within "$tty" 'reading stdin' && printf 'typed here\rsecond\r.\r'
	# Keep the terminal's input open until the test ends.
	within "$tty" '--- (PASS|FAIL|SKIP)' || true
) >"$work/typed" &
rc=0
env -u KEYPREP_WINE_TMPDIR timeout 120 script -qfec "'$here/wine.sh' '$cache' '$tbin' -test.v -test.run '^TestRelaunchConsole\$'" "$tty" <"$work/typed" >/dev/null || rc=$?
wait
tr -d '\r' <"$tty" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' >"$work/console.err"
[ "$rc" -eq 0 ] || fail "TestRelaunchConsole in a terminal: exit $rc"
has console err '^--- PASS: TestRelaunchConsole'
has console err '^TYPED HERE$'
has console err '^SECOND$'
has console err '^elevated-copy=true$'

echo "elevate-test: the relay ran keys, info and service install/uninstall elevated and relayed output and exit codes; --sim, version and KEYPREP_NO_ELEVATE=1 did not ask; in a terminal the elevated copy read and wrote the relay's console"
