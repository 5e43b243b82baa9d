#!/usr/bin/env bash
# Packs the Windows release (make release):
#
#   scripts/windows/zip.sh CACHE_DIR KEYPREP.exe OUT.zip
#
# OUT.zip holds keyprep.exe, README.md (its "On Windows" section is the
# Windows guide) and licenses/: the licence texts of the C libraries linked
# into keyprep.exe, libfido2, libcbor and OpenSSL as the prefix build copied
# them (prefix.sh) and zlib's from Debian's libz-mingw-w64-dev, whose static
# library is linked. SOURCE_DATE_EPOCH (required) is every entry's time;
# the same inputs give the same bytes (scripts/windows/mkzip).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${1:?usage: zip.sh CACHE_DIR KEYPREP.exe OUT.zip}
exe=${2:?usage: zip.sh CACHE_DIR KEYPREP.exe OUT.zip}
out=${3:?usage: zip.sh CACHE_DIR KEYPREP.exe OUT.zip}
: "${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH not set}"
exe=$(realpath "$exe")
out=$(realpath -m "$out")

prefix=$("$here/prefix.sh" "$cache")
zlib=/usr/share/doc/libz-mingw-w64-dev/copyright
for f in "$exe" "$top/README.md" "$prefix"/licenses/{libfido2,libcbor,openssl}.txt "$zlib"; do
	[ -s "$f" ] || { echo "windows/zip: $f missing or empty" >&2; exit 1; }
done
# mkzip runs on this machine, not under Wine: no GOOS from env.sh here.
cd "$top"
env -u GOOS -u GOARCH -u CGO_ENABLED -u CC -u CXX "${GO:-go}" run -trimpath ./scripts/windows/mkzip -o "$out" -mtime "$SOURCE_DATE_EPOCH" \
	keyprep.exe="$exe" \
	README.md="$top/README.md" \
	licenses/libfido2.txt="$prefix/licenses/libfido2.txt" \
	licenses/libcbor.txt="$prefix/licenses/libcbor.txt" \
	licenses/openssl.txt="$prefix/licenses/openssl.txt" \
	licenses/zlib.txt="$zlib"
