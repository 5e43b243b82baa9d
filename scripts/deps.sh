#!/usr/bin/env bash
# Installs what keyprep's build needs when it is missing: libfido2-dev and
# pkg-config (Debian/Ubuntu via apt-get). On other systems it says what to
# install. Idempotent and quiet when everything is present.
set -euo pipefail
# shellcheck source=lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"

need=()
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if ! pkg-config --exists libfido2 2>/dev/null; then need+=(libfido2-dev); fi
command -v gcc >/dev/null 2>&1 || need+=(gcc)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi

if command -v apt-get >/dev/null 2>&1; then
	apt_install deps "${need[@]}"
	pkg-config --exists libfido2 || { echo "deps: libfido2 still not found by pkg-config" >&2; exit 1; }
else
	echo "deps: missing ${need[*]}." >&2
	echo "  Install libfido2 (>= 1.12) with its headers and pkg-config file, and a C compiler:" >&2
	echo "  Fedora: dnf install libfido2-devel pkgconf gcc   macOS: brew install libfido2 pkg-config" >&2
	exit 1
fi
