#!/usr/bin/env bash
# Checks the Windows release zip (make release, after zip.sh):
#
#   scripts/windows/zip-test.sh ZIP KEYPREP.exe [SHA256SUMS]
#
# exactly the expected entries, in order; keyprep.exe byte for byte the one
# built; each licence text the library's own (a phrase of its copyright
# notice); the README with its Windows section; one time on every entry;
# (SOURCE_DATE_EPOCH's, when set) and, given SHA256SUMS, the zip's line in it right.
set -euo pipefail

zip=${1:?usage: zip-test.sh ZIP KEYPREP.exe [SHA256SUMS]}
exe=${2:?usage: zip-test.sh ZIP KEYPREP.exe [SHA256SUMS]}
sums=${3:-}
fail() { echo "windows/zip-test: FAIL: $zip: $*" >&2; exit 1; }
command -v unzip >/dev/null || fail "unzip not found (Debian package unzip)"

want='README.md
keyprep.exe
licenses/libcbor.txt
licenses/libfido2.txt
licenses/openssl.txt
licenses/zlib.txt'
got=$(unzip -Z1 "$zip") || fail "not a zip archive"
[ "$got" = "$want" ] || fail "entries:
$got
want:
$want"
unzip -tq "$zip" >/dev/null || fail "unzip -t finds errors"
unzip -p "$zip" keyprep.exe | cmp -s - "$exe" || fail "keyprep.exe differs from $exe"
# has ENTRY PHRASE: the entry's text contains PHRASE. (Not grep -q: it
# stops reading at the first match, and unzip's SIGPIPE would fail the
# pipe.)
has() { unzip -p "$zip" "$1" | grep -F -- "$2" >/dev/null || fail "$1 does not contain \"$2\""; }
has licenses/libfido2.txt 'Yubico AB'
has licenses/libcbor.txt 'Pavel Kalvoda'
has licenses/openssl.txt 'Apache License'
has licenses/zlib.txt 'Jean-loup Gailly and Mark Adler'
has README.md '## On Windows'
# unzip -Z -T: the time as yyyymmdd.hhmmss in the 7th column; with
# SOURCE_DATE_EPOCH set, it must be that time (UTC).
times=$(TZ=UTC unzip -Z -T "$zip" | awk 'NF == 8 && $1 ~ /^-/ { print $7 }' | sort -u)
[ "$(echo "$times" | wc -l)" -eq 1 ] || fail "entries carry different times: $times"
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	[ "$times" = "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d.%H%M%S)" ] || fail "entries' time $times is not SOURCE_DATE_EPOCH's"
fi
if [ -n "$sums" ]; then
	line=$(grep -E "  $(basename "$zip")\$" "$sums") || fail "no line for $(basename "$zip") in $sums"
	[ "$line" = "$(cd "$(dirname "$zip")" && sha256sum "$(basename "$zip")")" ] || fail "its line in $sums is not its sha256"
fi
echo "windows/zip-test: $zip ok ($(echo "$got" | wc -l) entries)"
