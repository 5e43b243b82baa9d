#!/usr/bin/env bash
# Checks that a Windows executable imports only Windows system DLLs, i.e.
# that libfido2, libcbor, libcrypto and zlib are linked in statically and
# nothing from mingw (libwinpthread, libgcc_s) or the build machine is
# needed next to keyprep.exe:
#
#   scripts/windows/check-imports.sh FILE.exe
#
# prints the imported DLLs; exits 1 naming any that is not on the list.
set -euo pipefail

exe=${1:?usage: check-imports.sh FILE.exe}
objdump=${OBJDUMP:-x86_64-w64-mingw32-objdump}

# Windows system DLLs keyprep.exe may import (case-insensitive): the Go
# runtime's kernel32, the C runtime msvcrt, and what libfido2's Windows HID
# backend, OpenSSL and Winsock need.
allowed=" advapi32.dll bcrypt.dll crypt32.dll gdi32.dll hid.dll kernel32.dll msvcrt.dll ntdll.dll setupapi.dll user32.dll ws2_32.dll wsock32.dll "

dlls=$("$objdump" -p "$exe" | awk '/DLL Name:/ { print $3 }' | sort -fu)
if [ -z "$dlls" ]; then
	echo "check-imports: $exe: no import table found" >&2
	exit 1
fi
bad=()
for d in $dlls; do
	lower=$(echo "$d" | tr '[:upper:]' '[:lower:]')
	case "$allowed" in *" $lower "*) ;; *) bad+=("$d") ;; esac
done
echo "$exe imports:" $dlls
if [ ${#bad[@]} -gt 0 ]; then
	echo "check-imports: $exe needs DLLs that are not part of Windows: ${bad[*]}" >&2
	exit 1
fi
