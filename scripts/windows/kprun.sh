# Shared by the scripts that run keyprep.exe under Wine and check what it
# printed (demo-test.sh, elevate-test.sh); sourced, not run. The sourcing
# script sets: here (scripts/windows), cache, exe, work (a scratch
# directory), state (the state directory, a Windows path) and name (for
# messages).

# winpath PATH: the Windows path of a Unix one (Wine's drive Z: is the
# Unix root).
winpath() { local p; p=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); echo "Z:${p//\//\\}"; }

# fail MESSAGE: says what failed, shows every output kept so far, exits 1.
fail() {
	echo "$name: FAIL: $*" >&2
	for f in "$work"/*.out "$work"/*.err; do
		[ -f "$f" ] && { echo "--- $(basename "$f")" >&2; cat "$f" >&2; }
	done
	exit 1
}

# kprun NAME WANT ARGS...: keyprep.exe --state-dir STATE ARGS under Wine,
# stdin empty, stdout in NAME.out and stderr in NAME.err (carriage returns
# dropped); its exit status must be WANT.
kprun() {
	local out=$1 want=$2 rc=0
	shift 2
	echo "+ keyprep.exe $*" >&2
	"$here/wine.sh" "$cache" "$exe" --state-dir "$state" "$@" >"$work/$out.raw" 2>"$work/$out.rawerr" </dev/null || rc=$?
	tr -d '\r' <"$work/$out.raw" >"$work/$out.out"
	tr -d '\r' <"$work/$out.rawerr" >"$work/$out.err"
	[ "$rc" -eq "$want" ] || fail "keyprep.exe $* exited $rc, want $want"
}
