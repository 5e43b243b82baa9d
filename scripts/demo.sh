#!/usr/bin/env bash
# make demo: the key layer on a virtual key, from factory-new to a key that
# ships with a PIN, a minimum PIN length for login.microsoft.com and a forced
# PIN change. Everything printed comes from keyprep itself.
set -euo pipefail
bin=${1:-bin/keyprep}
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
kp() { echo "+ keyprep $*" >&2; "$bin" --state-dir "$state" --sim "$@"; }

echo "== keyprep demo on a virtual key (state in $state)" >&2
kp keys
kp info
echo "== generate a PIN under the policy and set it (the PIN travels through a pipe, never a flag)" >&2
pinfile="$state/pin"
( umask 077; "$bin" pin generate --length 8 > "$pinfile" )
kp pin set < "$pinfile"
echo "== a wrong PIN costs a retry" >&2
echo 13572468 | kp config --min-pin-length 8 || true
kp keys
echo "== raise the minimum PIN length, publish it to login.microsoft.com, force a PIN change" >&2
kp config --min-pin-length 8 --rp-id login.microsoft.com < "$pinfile"
kp config --force-pin-change < "$pinfile"
kp keys
kp info --json | grep -E '"(pinSet|pinRetries|minPINLength|forcePINChange)"'
echo "== while a PIN change is forced, the key refuses its PIN for anything else" >&2
kp config --always-uv on < "$pinfile" || true
echo "== the user's first act: change the PIN (current, then new, one per line)" >&2
newpin="$state/newpin"
( umask 077; "$bin" pin generate --length 8 > "$newpin"; cat "$pinfile" "$newpin" > "$state/change" )
kp pin change < "$state/change"
kp keys
echo "== factory reset: only within 10 s of plugging in, so replug first" >&2
kp sim replug
kp reset --key vkey:0 --yes
kp keys
echo "== demo done. The generated PINs lived only in $state (mode 0600), removed now." >&2
echo "   PIN escrow, Graph registration and enrollment arrive with keyprep enroll." >&2
