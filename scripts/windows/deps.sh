#!/usr/bin/env bash
# Installs the Debian packages the Windows cross-build needs when missing:
# the mingw-w64 C and C++ compilers (libcbor's CMake project enables C++),
# zlib built for mingw, cmake, pkg-config, dpkg-dev (apt-get source) and unzip
# (make release checks the Windows zip with it).
# With --wine also Debian's Wine, for make windows-test. Idempotent and quiet
# when everything is present.
set -euo pipefail
# shellcheck source=../lib/apt.sh
. "$(dirname "$0")/../lib/apt.sh"

pkgs=(gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 libz-mingw-w64-dev cmake pkg-config dpkg-dev make unzip)
if [ "${1:-}" = "--wine" ]; then pkgs+=(wine wine64); fi

need=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then need+=("$p"); fi
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "windows/deps: missing ${need[*]}; this build expects Debian or Ubuntu (apt-get)." >&2
	exit 1
fi
apt_install windows/deps "${need[@]}"
