#!/usr/bin/env bash
# make demo: a full simulated enrollment against the emulated Entra tenant and
# a virtual key, from fresh state. Everything printed comes from keyprep.
set -euo pipefail
bin=${1:-bin/keyprep}
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
kp() { echo "+ keyprep --sim $*" >&2; "$bin" --state-dir "$state" --sim "$@"; }

echo "== keyprep demo: emulated tenant contoso.test + one virtual key (state in $state)" >&2
kp keys
echo "== can Adele get a pre-provisioned passkey?" >&2
kp policy check --user adele.vance@contoso.test || true
echo "== enroll: PIN generated and escrowed (age, bench identity) before it is set; passkey created, registered, self-tested" >&2
kp enroll --user adele.vance@contoso.test --min-pin-length 8 --min-pin-length-rp
echo "== Entra now lists the passkey" >&2
kp methods list --user adele.vance@contoso.test
echo "== the same key again for Adele: refused (the exclude list names her passkey)" >&2
kp enroll --user adele.vance@contoso.test || echo "   (exit $?, as expected)" >&2
echo "== the same key for Alex (keyprep recognises the key and reuses its escrowed PIN), forcing a PIN change at first use; --shared-key confirms that the two users share the key's PIN" >&2
kp enroll --user alex.wilber@contoso.test --force-pin-change --shared-key --json
kp keys
echo "== a user outside the policy stops before the key is touched" >&2
kp enroll --user outside.user@contoso.test || echo "   (exit $?, as expected)" >&2
echo "== escrow records (no PINs) and the PIN, revealed with the bench identity (audited)" >&2
kp pins list
kp pins show --user adele.vance@contoso.test --identity "$state/escrow/bench-identity.txt" | sed 's/./*/g'
echo "   (the PIN is masked here; pins show prints it)" >&2
echo "== TAP onboarding: a one-time pass for Megan within the tenant's policy; the slip is what she takes home (pass masked here)" >&2
kp tap create --user megan.bowen@contoso.test --once --lifetime 2h --out "$state/megan-slip.txt"
sed 's/\(Access pass  *\).*/\1********/' "$state/megan-slip.txt"
kp tap show --user megan.bowen@contoso.test
echo "== bench mode: the 20 users of testdata/bench-users-20.csv on 4 virtual keys in parallel (the simulated operator swaps each finished key; Adele and Alex were enrolled above and are skipped)" >&2
here=$(cd "$(dirname "$0")/.." && pwd)
echo "+ keyprep --sim --sim-keys 4 enroll --csv testdata/bench-users-20.csv" >&2
KEYPREP_SIM_TOUCH=delay=200ms "$bin" --state-dir "$state" --sim --sim-keys 4 enroll --csv "$here/testdata/bench-users-20.csv" 2>&1 | grep -v '^vkey' || true
kp journal list --all
kp journal verify
echo "== demo done; state removed" >&2
