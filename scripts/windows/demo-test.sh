#!/usr/bin/env bash
# The simulated demo against keyprep.exe under Wine (make windows-test):
#
#   scripts/windows/demo-test.sh CACHE_DIR KEYPREP.exe
#
# With --sim (virtual keys, the emulated tenant) and a fresh state
# directory: one user enrolled; a bench of 4 virtual keys over a list of
# five users (the one enrolled before is skipped, four are enrolled); and
# journal verify over the audit log all of it wrote. Each step must exit 0
# and print its key lines. Kept short: every start of a program under Wine
# costs seconds.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: demo-test.sh CACHE_DIR KEYPREP.exe}
exe=${2:?usage: demo-test.sh CACHE_DIR KEYPREP.exe}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
name=demo-test
# shellcheck source=kprun.sh
. "$here/kprun.sh"
# The state directory is keyprep's to create (private, with its own access
# control list): one made here with mode 0755 reads under Wine as readable
# by Everyone, which keyprep rightly refuses.
mkdir "$work/tmp"
# keyprep.exe's TEMP too, removed with the rest (wine.sh).
export KEYPREP_WINE_TMPDIR=$work/tmp
state=$(winpath "$work/state")
cat >"$work/users.csv" <<'CSV'
userPrincipalName,displayName
adele.vance@contoso.test,Adele Vance
alex.wilber@contoso.test,Alex Wilber
allan.deyoung@contoso.test,Allan Deyoung
brian.johnson@contoso.test,Brian Johnson
christie.cline@contoso.test,Christie Cline
CSV
# kp NAME ARGS...: keyprep.exe --sim ARGS (kprun.sh); it must exit 0.
kp() { local out=$1; shift; kprun "$out" 0 --sim "$@"; }
# want NAME REGEXP: a line of NAME's stdout matches.
want() { grep -Eq "$2" "$work/$1.out" || fail "$1: no line matching /$2/"; }

start=$(date +%s)
kp enroll enroll --user adele.vance@contoso.test
want enroll '^Enrolled adele\.vance@contoso\.test \(Adele Vance\) on vkey:0$'
want enroll '^  verified +yes'
want enroll '^  PIN escrow +age-encrypted'

kp bench --sim-keys 4 enroll --csv "$(winpath "$work/users.csv")"
want bench '^2 +adele\.vance@contoso\.test +skipped '
for u in alex.wilber allan.deyoung brian.johnson christie.cline; do
	want bench "^[3-6] +${u//./\\.}@contoso\\.test +done +vkey:[0-9]+ +yes "
done
want bench '^4 enrolled, 1 skipped, 0 failed, 0 invalid rows'
# A finished key is swapped for a fresh one (the simulated operator): the
# four users are on four different keys.
keys=$(grep -E '^[0-9]+ +[^ ]+ +done ' "$work/bench.out" | awk '{ print $4 }' | sort -u | wc -l)
[ "$keys" -eq 4 ] || fail "bench: the four users are on $keys keys, want 4"

kp verify journal verify
want verify '^audit log intact: [0-9]+ events, hash chain verified$'
echo "demo-test: ok (enroll, bench of 4 virtual keys, journal verify under Wine: $(($(date +%s) - start)) s)"
