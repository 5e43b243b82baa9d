#!/usr/bin/env bash
# version.sh: keyprep's version for the build, a Debian version (make
# build, man, deb, release): from the newest tag vX.Y.Z at or before HEAD
# ("1.2.0"; "1.2.0+git3.abc1234def56" three commits later), else
# "0.0.0~gitYYYYMMDD.abc1234def56" (the commit's date); "+dirty" (or
# ".dirty" after a "+") when the work tree has uncommitted changes. Without
# git (a source export) it prints "0.0.0~unknown": pass VERSION= to make.
set -euo pipefail
if ! git rev-parse --git-dir >/dev/null 2>&1; then echo "0.0.0~unknown"; exit 0; fi
short=$(git rev-parse --short=12 HEAD)
if tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then
	v=${tag#v}
	n=$(git rev-list --count "$tag..HEAD")
	if [ "$n" -gt 0 ]; then v="$v+git$n.$short"; fi
else
	v="0.0.0~git$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d).$short"
fi
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	case $v in *+*) v="$v.dirty" ;; *) v="$v+dirty" ;; esac
fi
echo "$v"
