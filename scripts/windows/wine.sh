#!/usr/bin/env bash
# Runs a Windows program (a test binary, keyprep.exe) under Debian's Wine,
# for tests only:
#
#   scripts/windows/wine.sh CACHE_DIR PROGRAM.exe [ARGS...]
#
# The Wine prefix lives in CACHE_DIR/wine (created on first use, ~700 MB).
# Wine 8.0 lacks bcryptprimitives.dll, whose ProcessPrng every Go >= 1.22
# program needs at start-up; a test-only stand-in (processprng.c) is built
# and put into the prefix's system32. Nothing of this reaches keyprep.exe.
#
# With KEYPREP_WINE_TMPDIR set to a Unix directory, the program runs with
# TEMP and TMP (Go's os.TempDir, t.TempDir) there, so that the caller can
# remove whatever it leaves: Wine takes TEMP and TMP from the prefix's
# registry, not from the Unix environment, so a test-only launcher
# (tmprun.c, built into CACHE_DIR/tools) sets them and starts the program.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: wine.sh CACHE_DIR PROGRAM.exe [ARGS...]}
shift
mkdir -p "$cache"
export WINEPREFIX
WINEPREFIX=$(cd "$cache" && pwd)/wine
export WINEARCH=win64 WINEDEBUG=-all
# No Mono or Gecko installers: nothing here needs .NET or a browser engine.
export WINEDLLOVERRIDES="mscoree,mshtml="

command -v wine >/dev/null || { echo "windows/wine: wine not found (scripts/windows/deps.sh --wine)" >&2; exit 1; }
shim=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll
tmprun=$cache/tools/tmprun.exe
if [ ! -f "$tmprun" ] || [ "$here/tmprun.c" -nt "$tmprun" ]; then
	(
		flock 9
		if [ ! -f "$tmprun" ] || [ "$here/tmprun.c" -nt "$tmprun" ]; then
			mkdir -p "$cache/tools"
			x86_64-w64-mingw32-gcc -municode -O2 -Wall -o "$tmprun.tmp" "$here/tmprun.c"
			mv "$tmprun.tmp" "$tmprun"
		fi
	) 9>"$cache/.wine.lock"
fi
if [ ! -f "$WINEPREFIX/.keyprep-ready" ] || [ ! -f "$shim" ] || [ "$here/processprng.c" -nt "$shim" ]; then
	# One Wine prefix per cache, made by one process at a time.
	(
		flock 9
		if [ ! -f "$WINEPREFIX/.keyprep-ready" ]; then
			echo "windows/wine: creating the Wine prefix $WINEPREFIX" >&2
			rm -rf "$WINEPREFIX"
			nice -n 19 wine wineboot --init >/dev/null 2>&1
			touch "$WINEPREFIX/.keyprep-ready"
		fi
		if [ ! -f "$shim" ] || [ "$here/processprng.c" -nt "$shim" ]; then
			x86_64-w64-mingw32-gcc -O2 -Wall -shared -o "$shim.tmp" "$here/processprng.c" -ladvapi32
			mv "$shim.tmp" "$shim"
		fi
	) 9>"$cache/.wine.lock"
fi
if [ -z "${KEYPREP_WINE_TMPDIR:-}" ]; then
	exec nice -n 19 wine "$@"
fi
# Windows paths of Unix ones: a default prefix's drive Z: is the Unix root.
winpath() { local p; p=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); echo "Z:${p//\//\\}"; }
[ -d "$KEYPREP_WINE_TMPDIR" ] || { echo "windows/wine: KEYPREP_WINE_TMPDIR $KEYPREP_WINE_TMPDIR is not a directory" >&2; exit 1; }
KEYPREP_WINE_TMP=$(winpath "$KEYPREP_WINE_TMPDIR")
export KEYPREP_WINE_TMP
prog=$1
shift
exec nice -n 19 wine "$tmprun" "$(winpath "$prog")" "$@"
