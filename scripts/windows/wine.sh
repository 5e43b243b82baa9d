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
exec nice -n 19 wine "$@"
