#!/usr/bin/env bash
# Shows that check-imports.sh can fail: a program linked against zlib's DLL
# import library (-lz) must be refused (it needs zlib1.dll), the same
# program with zlib linked in statically (-l:libz.a) accepted.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/z.c" <<'C'
#include <stdio.h>
#include <zlib.h>
int main(void) { puts(zlibVersion()); return 0; }
C
cc=x86_64-w64-mingw32-gcc
$cc -o "$tmp/dynamic.exe" "$tmp/z.c" -lz
$cc -o "$tmp/static.exe" "$tmp/z.c" -l:libz.a
if "$here/check-imports.sh" "$tmp/dynamic.exe" >"$tmp/out" 2>&1; then
	echo "check-imports-test: FAIL: a program needing zlib1.dll passed" >&2
	cat "$tmp/out" >&2
	exit 1
fi
grep -q 'zlib1.dll' "$tmp/out" || { echo "check-imports-test: FAIL: zlib1.dll not named" >&2; cat "$tmp/out" >&2; exit 1; }
"$here/check-imports.sh" "$tmp/static.exe" >/dev/null
echo "check-imports-test: ok"
