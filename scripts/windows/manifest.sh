#!/usr/bin/env bash
# Compiles keyprep.exe's resources (keyprep.rc: the application manifest
# keyprep.exe.manifest) into a COFF object the Go linker takes as a .syso:
#
#   scripts/windows/manifest.sh OUT.syso [RC_FILE]
#
# windres from Debian's binutils-mingw-w64-x86-64; the output carries no
# time stamp, so builds stay reproducible.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: manifest.sh OUT.syso [RC_FILE]}
rc=${2:-$here/keyprep.rc}
x86_64-w64-mingw32-windres -I "$(dirname "$rc")" -i "$rc" -O coff -o "$out"
