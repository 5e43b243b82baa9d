#!/usr/bin/env bash
# Shows that the manifest check (checkmanifest) can fail: a small Windows
# program linked with keyprep's manifest .syso passes; the same program
# without it, or with a manifest asking for another execution level, fails.
# Then checks bin/keyprep.exe (or $1) itself.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
exe=${1:-$root/bin/keyprep.exe}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go=${GO:-go}
(cd "$root" && "$go" build -o "$tmp/checkmanifest" ./scripts/windows/checkmanifest)
check=$tmp/checkmanifest

mkdir "$tmp/hello"
cat >"$tmp/hello/main.go" <<'GO'
package main

func main() { println("hello") }
GO
printf 'module hello\n\ngo 1.21\n' >"$tmp/hello/go.mod"
build() { (cd "$tmp/hello" && GOOS=windows GOARCH=amd64 CGO_ENABLED=0 GOFLAGS= "$go" build -o "$1" .); }

build "$tmp/bare.exe"
if "$check" "$tmp/bare.exe" asInvoker >"$tmp/out" 2>&1; then
	echo "manifest-test: FAIL: a program without a manifest passed" >&2
	exit 1
fi
grep -q 'no resource section\|no manifest' "$tmp/out" || { echo "manifest-test: FAIL: unexpected message:" >&2; cat "$tmp/out" >&2; exit 1; }

"$here/manifest.sh" "$tmp/hello/rsrc_windows_amd64.syso"
build "$tmp/manifest.exe"
"$check" "$tmp/manifest.exe" asInvoker >/dev/null
if "$check" "$tmp/manifest.exe" requireAdministrator >"$tmp/out" 2>&1; then
	echo "manifest-test: FAIL: asInvoker accepted as requireAdministrator" >&2
	exit 1
fi

mkdir "$tmp/admin"
sed 's/level="asInvoker"/level="requireAdministrator"/' "$here/keyprep.exe.manifest" >"$tmp/admin/keyprep.exe.manifest"
cp "$here/keyprep.rc" "$tmp/admin/"
"$here/manifest.sh" "$tmp/hello/rsrc_windows_amd64.syso" "$tmp/admin/keyprep.rc"
build "$tmp/admin.exe"
if "$check" "$tmp/admin.exe" asInvoker >"$tmp/out" 2>&1; then
	echo "manifest-test: FAIL: requireAdministrator accepted as asInvoker" >&2
	exit 1
fi
grep -q 'requireAdministrator' "$tmp/out" || { echo "manifest-test: FAIL: level not named:" >&2; cat "$tmp/out" >&2; exit 1; }

"$check" "$exe" asInvoker
echo "manifest-test: ok"
