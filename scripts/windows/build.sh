#!/usr/bin/env bash
# Builds keyprep.exe for windows/amd64 from Linux (make windows):
#
#   scripts/windows/build.sh OUT [CACHE_DIR]
#
# The C libraries come from the cached static prefix (prefix.sh; env.sh
# says how cgo is pointed at it).
# KEYPREP_LDFLAGS adds -X stamps (the Makefile's version, commit, date); the
# libfido2 version stamped is the pinned one. KEYPREP_TAGS adds build tags
# (the Wine tests' own build; the release sets none). Afterwards check-imports.sh
# checks that the .exe needs nothing but Windows system DLLs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT [CACHE_DIR]}
cache=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/keyprep/windows}

prefix=$("$here/prefix.sh" "$cache")
# shellcheck source=env.sh
. "$here/env.sh"
libfido2=$(awk '$1 == "libfido2" { split($3, a, "_"); sub(/\.orig\.tar\..*/, "", a[2]); print a[2] }' "$here/pins")

# --- application manifest (docs/windows.md, "Administrator rights and the
# manifest"): keyprep.rc compiled into a .syso that Go links into
# windows/amd64 builds of cmd/keyprep only; it exists only during the build
# (and is ignored by git), then checkmanifest reads it back from the .exe.
syso=cmd/keyprep/rsrc_windows_amd64.syso
trap 'rm -f "$syso"' EXIT
"$here/manifest.sh" "$syso"
# --- end of the manifest block ---

ldflags="-buildid= -s -w ${KEYPREP_LDFLAGS:-} -X github.com/keyprep/keyprep/internal/cli.Libfido2=$libfido2"
nice -n 19 "${GO:-go}" build -trimpath -buildvcs=false ${KEYPREP_TAGS:+-tags "$KEYPREP_TAGS"} -ldflags "$ldflags" -o "$out" ./cmd/keyprep
"$here/check-imports.sh" "$out"
env -u GOOS -u GOARCH -u CC -u CXX CGO_ENABLED=0 "${GO:-go}" run ./scripts/windows/checkmanifest "$out" asInvoker # manifest block
