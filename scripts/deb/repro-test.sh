#!/usr/bin/env bash
# repro-test.sh: builds this commit's release (make release) twice, from two
# exports of the commit at different paths (different lengths, no .git, a
# different TMPDIR each), and checks that the two dist/ directories are
# identical byte for byte: the .deb, the bare binary and SHA256SUMS.
#
# The Go build cache is shared (it is warm after one build; a cold build of
# the Graph SDK takes minutes): with -trimpath the compiled packages do not
# depend on the directory (cmd/go leaves it out of their cache keys), and
# each build still links, generates the man pages and completions and
# packs the .deb afresh. REPRO_COLD=1 gives the second build an empty cache
# of its own: everything, the cgo binding included, is compiled twice.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
version=$(scripts/version.sh)
version=${version%+dirty}
version=${version%.dirty}
commit=$(git rev-parse HEAD)
epoch=$(git log -1 --format=%ct)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "repro-test: the work tree has uncommitted changes; building the commit $commit as it is committed" >&2
fi

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
a=$work/a/keyprep
b=$work/build-two-with-a-longer-path/src/keyprep
for d in "$a" "$b"; do
	mkdir -p "$d" "$d.tmp"
	git archive --format=tar HEAD | tar -x -C "$d"
done

build() { # DIR [ENV...]
	local d=$1
	shift
	env "$@" TMPDIR="$d.tmp" make -s -C "$d" release VERSION="$version" COMMIT="$commit" SOURCE_DATE_EPOCH="$epoch" >"$d.log" 2>&1 || {
		echo "repro-test: make release failed in $d:" >&2
		tail -n 30 "$d.log" >&2
		exit 1
	}
}
start=$(date +%s)
build "$a"
mid=$(date +%s)
if [ "${REPRO_COLD:-}" = 1 ]; then
	build "$b" GOCACHE="$work/gocache"
else
	build "$b"
fi
end=$(date +%s)
echo "repro-test: built $version twice: $((mid - start)) s, $((end - mid)) s"

if ! diff -r "$a/dist" "$b/dist" >/dev/null; then
	echo "repro-test: FAIL: the two builds of $commit differ:" >&2
	diff -r "$a/dist" "$b/dist" >&2 || true
	for f in "$a"/dist/*; do
		n=$(basename "$f")
		cmp -s "$f" "$b/dist/$n" && continue
		echo "  $n differs" >&2
		if command -v diffoscope >/dev/null 2>&1; then diffoscope "$f" "$b/dist/$n" | head -n 60 >&2 || true; fi
	done
	exit 1
fi
echo "repro-test: PASS: identical dist/ from two builds:"
sed 's/^/  /' "$a/dist/SHA256SUMS"
