#!/usr/bin/env bash
# Builds keyprep.exe for windows/amd64 from Linux (make windows):
#
#   scripts/windows/build.sh OUT [CACHE_DIR]
#
# The C libraries come from the cached static prefix (prefix.sh; env.sh
# says how cgo is pointed at it).
# KEYPREP_LDFLAGS adds -X stamps (the Makefile's version, commit, date); the
# libfido2 version stamped is the pinned one. Afterwards check-imports.sh
# checks that the .exe needs nothing but Windows system DLLs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT [CACHE_DIR]}
cache=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/keyprep/windows}

prefix=$("$here/prefix.sh" "$cache")
# shellcheck source=env.sh
. "$here/env.sh"
libfido2=$(awk '$1 == "libfido2" { split($3, a, "_"); sub(/\.orig\.tar\..*/, "", a[2]); print a[2] }' "$here/pins")

ldflags="-buildid= -s -w ${KEYPREP_LDFLAGS:-} -X github.com/keyprep/keyprep/internal/cli.Libfido2=$libfido2"
nice -n 19 "${GO:-go}" build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out" ./cmd/keyprep
"$here/check-imports.sh" "$out"
