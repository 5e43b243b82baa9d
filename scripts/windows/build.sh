#!/usr/bin/env bash
# Builds keyprep.exe for windows/amd64 from Linux (make windows):
#
#   scripts/windows/build.sh OUT [CACHE_DIR]
#
# The C libraries come from the cached static prefix (prefix.sh); their
# include and library directories reach cgo through CGO_CFLAGS and
# CGO_LDFLAGS, which are part of Go's cache keys, and the prefix's path
# carries the hash of its pins, so a changed pin recompiles the hid package
# and relinks. The static link line itself is in hid/device_cgo.go.
# KEYPREP_LDFLAGS adds -X stamps (the Makefile's version, commit, date); the
# libfido2 version stamped is the pinned one. Afterwards check-imports.sh
# checks that the .exe needs nothing but Windows system DLLs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT [CACHE_DIR]}
cache=${2:-.cache/windows}
host=x86_64-w64-mingw32

prefix=$("$here/prefix.sh" "$cache")
libfido2=$(awk '$1 == "libfido2" { split($3, a, "_"); sub(/\.orig\.tar\..*/, "", a[2]); print a[2] }' "$here/pins")

export CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=$host-gcc CXX=$host-g++
export CGO_CPPFLAGS="-I$prefix/include"
export CGO_CFLAGS="-O2 -fstack-protector-strong -Wformat -Werror=format-security"
export CGO_LDFLAGS="-L$prefix/lib -fstack-protector-strong"
# The host's pkg-config must not leak Linux flags into this build (hid asks
# pkg-config only on other systems; this keeps it that way).
export PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig PKG_CONFIG_PATH=

ldflags="-buildid= -s -w ${KEYPREP_LDFLAGS:-} -X github.com/keyprep/keyprep/internal/cli.Libfido2=$libfido2"
nice -n 19 "${GO:-go}" build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out" ./cmd/keyprep
"$here/check-imports.sh" "$out"
