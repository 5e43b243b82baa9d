#!/bin/busybox sh
# /init of the e2e VM (scripts/e2e-vm.sh builds the initramfs around it).
# PID 1: mounts the kernel file systems, loads the HID modules, plugs the
# virtual key in through /dev/uhid (keyprep sim key --uhid) and runs every
# check below as a separately named PASS/FAIL result, then reports the
# verdict to qemu through isa-debug-exit (port 0xf4: 0 = pass, 1 = fail).
#
# Called as "/init step NAME" it runs one check (so that each check runs
# under busybox timeout in its own process).
#
# PINs are generated inside the VM (keyprep pin generate), kept in 0600
# files under /tmp/secret and fed to the tools on stdin; they are never
# printed. libfido2's tools read PINs with readpassphrase(3): with no
# controlling terminal (PID 1 and its children have none: the kernel opens
# /dev/console without making it one) it reads the PIN from stdin.

export PATH=/bin:/usr/bin
export HOME=/root KEYPREP_STATE_DIR=/tmp/state XDG_CONFIG_HOME=/tmp/config XDG_CACHE_HOME=/tmp/cache NO_COLOR=1
S=/tmp/secret   # PIN files (0600), never printed
W=/tmp/work     # tool inputs and outputs
L=/tmp/log      # one log per check; shown when the check fails
DEV=/dev/hidraw0
RP=e2e.keyprep.test
PORT=8080
GRAPH="--graph-url http://127.0.0.1:$PORT --auth token"
export KEYPREP_ACCESS_TOKEN_FILE=$KEYPREP_STATE_DIR/sim/tenant.token
AAGUID=65bc18f9-32a6-46a3-be99-a753dc433836
AAGUID_HEX=65bc18f932a646a3be99a753dc433836

fault=
for arg in $(cat /proc/cmdline 2>/dev/null); do
	case $arg in keyprep.fault=*) fault=${arg#keyprep.fault=} ;; esac
done

# ---- helpers used by the steps -------------------------------------------

fail() { echo "check failed: $*"; return 1; }

# plug [STATEFILE [MODEL]]: start the virtual key on uhid (default: the
# state of the key --sim uses; MODEL: a built-in key model, keyprep sim
# models); wait for its hidraw node.
plug() {
	rm -f $W/key.out
	set -- ${1:+--state "$1"} ${2:+--model "$2"} ${fault:+--inject-fault "$fault"}
	keyprep --json sim key --uhid "$@" > $W/key.out 2> $W/key.err &
	echo $! > $W/key.pid
	i=0
	while ! grep -q '"hidraw"' $W/key.out 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 300 ] && { cat $W/key.err; fail "no hidraw node after 30 s"; return 1; }
		kill -0 "$(cat $W/key.pid)" 2>/dev/null || { cat $W/key.err; fail "sim key --uhid exited"; return 1; }
		sleep 0.1
	done
	cat $W/key.out
	grep -q "\"hidraw\": \"$DEV\"" $W/key.out || fail "the key is not on $DEV" || return 1
	# Root was needed for /dev/uhid only: the key is served as nobody.
	uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/"$(cat $W/key.pid)"/status)
	[ "$uid" = "65534 65534 65534 65534" ] || fail "sim key --uhid still runs as uid $uid, not nobody (65534)"
}

# unplug: stop the virtual key (SIGTERM) and check that its node went away.
unplug() {
	pid=$(cat $W/key.pid)
	kill -TERM "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { kill -KILL "$pid"; fail "sim key did not stop on SIGTERM"; return 1; }
		sleep 0.1
	done
	cat $W/key.err
	i=0
	while [ -e $DEV ]; do
		i=$((i + 1))
		[ $i -gt 20 ] && { fail "$DEV still there after unplugging"; return 1; }
		sleep 0.1
	done
}

# b64 N: N random bytes, base64 (one line).
b64() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; echo; }

# ---- the checks ------------------------------------------------------------

step_uhid_plug_keyprep_key() {
	plug || return 1
	grep -q "\"state\": \"$KEYPREP_STATE_DIR/sim/keys/0.json\"" $W/key.out || fail "not the state of the key --sim uses"
}

step_keyprep_keys() {
	keyprep keys --json > $W/keys.json || return 1
	cat $W/keys.json
	grep -q "\"path\": \"$DEV\"" $W/keys.json || fail "keys does not list $DEV"
	grep -q "\"aaguid\": \"$AAGUID\"" $W/keys.json || fail "keys does not show the virtual key's AAGUID"
	grep -q '"pinSet": false' $W/keys.json || fail "a factory-fresh key should have no PIN"
}

step_keyprep_pin_set() {
	keyprep pin generate > $S/keyprep.pin || return 1
	keyprep pin set --key $DEV < $S/keyprep.pin || return 1
	keyprep keys --json > $W/keys.json || return 1
	grep -q '"pinSet": true' $W/keys.json || fail "PIN not set after pin set"
}

step_keyprep_info() {
	keyprep info --key $DEV --json > $W/info.json || return 1
	cat $W/info.json
	grep -q '"clientPin": true' $W/info.json || fail "info: clientPin is not true"
	grep -q '"FIDO_2_1"' $W/info.json || fail "info: no FIDO_2_1 version"
	grep -q '"pinRetries": 8' $W/info.json || fail "info: PIN retries are not 8"
}

step_keyprep_config_min_pin_length() {
	keyprep config --key $DEV --min-pin-length 8 --rp-id login.microsoft.com < $S/keyprep.pin || return 1
	keyprep info --key $DEV --json > $W/info.json || return 1
	grep -q '"minPINLength": 8' $W/info.json || fail "info: minPINLength is not 8 after config"
}

step_sim_tenant_loopback() {
	keyprep sim tenant --listen 127.0.0.1:$PORT > $W/tenant.out 2> $W/tenant.err &
	echo $! > $W/tenant.pid
	i=0
	while [ ! -s "$KEYPREP_ACCESS_TOKEN_FILE" ]; do
		i=$((i + 1))
		[ $i -gt 300 ] && { cat $W/tenant.err; fail "the emulated tenant did not start"; return 1; }
		sleep 0.1
	done
	cat $W/tenant.out
	keyprep $GRAPH policy show > $W/policy.out || return 1
}

step_keyprep_enroll() {
	# The key has the PIN set above: enroll takes it from stdin.
	keyprep $GRAPH enroll --user adele.vance@contoso.test --key $DEV --pin stdin --json < $S/keyprep.pin > $W/enroll.json || return 1
	cat $W/enroll.json
	grep -q '"verified": true' $W/enroll.json || fail "enroll: the self-test assertion was not verified"
	grep -q "\"aaguid\": \"$AAGUID\"" $W/enroll.json || fail "enroll: wrong AAGUID"
	grep -q "\"keyPath\": \"$DEV\"" $W/enroll.json || fail "enroll: not on $DEV"
}

step_keyprep_methods_list() {
	keyprep $GRAPH methods list --user adele.vance@contoso.test --json > $W/methods.json || return 1
	cat $W/methods.json
	mid=$(sed -n 's/.*"methodId": "\([^"]*\)".*/\1/p' $W/enroll.json | head -n 1)
	[ -n "$mid" ] || fail "no methodId in the enroll result" || return 1
	grep -q "\"id\": \"$mid\"" $W/methods.json || fail "Entra does not list the method enroll registered"
	grep -q "\"aaGuid\": \"$AAGUID\"" $W/methods.json || fail "Entra's passkey has the wrong AAGUID"
	grep -q '"attestationLevel": "attested"' $W/methods.json || fail "the passkey is not attested"
}

step_fido2_token_list_rps_after_enroll() {
	# libfido2's own tool sees the passkey keyprep made (credential
	# management, with the PIN).
	fido2-token -L -r $DEV < $S/keyprep.pin > $W/rps.out || return 1
	cat $W/rps.out
	grep -q 'login.microsoft.com' $W/rps.out || fail "fido2-token -L -r does not list login.microsoft.com"
}

step_keyprep_enroll_fresh_key_generated_pin() {
	unplug || return 1
	plug /tmp/keys/enroll2.json || return 1
	keyprep $GRAPH enroll --user alex.wilber@contoso.test --key $DEV --json > $W/enroll2.json || return 1
	cat $W/enroll2.json
	grep -q '"verified": true' $W/enroll2.json || fail "enroll: the self-test assertion was not verified"
	keyprep pins list --user alex.wilber@contoso.test --json > $W/pins.json || return 1
	cat $W/pins.json
	grep -q 'alex.wilber@contoso.test' $W/pins.json || fail "no PIN escrow record for the generated PIN"
	grep -q '"state": "applied"' $W/pins.json || fail "the PIN escrow record is not applied"
	learn_escrowed_pin alex.wilber@contoso.test alex || return 1
	# The escrowed PIN is the key's: libfido2's tool reads the credential
	# metadata with it (a wrong PIN would cost a retry and fail).
	fido2-token -I -c $DEV < $S/escrow-alex.pin > $W/meta-alex.out || fail "the escrowed PIN does not unlock the key" || return 1
	cat $W/meta-alex.out
	grep -q 'existing rk(s): 1' $W/meta-alex.out || fail "the key does not hold the enrolled passkey"
}

# learn_escrowed_pin UPN NAME: the PIN keyprep generated and escrowed to the
# bench identity for UPN, opened with that identity into $S/escrow-NAME.pin,
# so that the secret scan looks for it.
learn_escrowed_pin() {
	keyprep pins show --user "$1" --identity $KEYPREP_STATE_DIR/escrow/bench-identity.txt > $S/escrow-$2.pin || fail "pins show $1 failed" || return 1
	[ "$(wc -c < $S/escrow-$2.pin)" -ge 5 ] || fail "pins show $1 printed no PIN"
}

step_uhid_plug_fresh_key() {
	unplug || return 1
	plug /tmp/keys/fido2.json
}

step_fido2_token_L() {
	fido2-token -L > $W/L.out || return 1
	cat $W/L.out
	grep -q "^$DEV:" $W/L.out || fail "fido2-token -L does not list $DEV (bus must be USB)"
}

step_fido2_token_I() {
	fido2-token -I $DEV > $W/I.out || return 1
	cat $W/I.out
	grep -q "aaguid: $AAGUID_HEX" $W/I.out || fail "fido2-token -I: wrong aaguid"
	grep -q 'FIDO_2_1' $W/I.out || fail "fido2-token -I: no FIDO_2_1"
	grep -q 'noclientPin' $W/I.out || fail "fido2-token -I: a fresh key should report noclientPin"
}

step_fido2_token_S() {
	keyprep pin generate > $S/fido2-1.pin || return 1
	cat $S/fido2-1.pin $S/fido2-1.pin | fido2-token -S $DEV || return 1
	fido2-token -I $DEV > $W/I.out || return 1
	grep -q ' clientPin' $W/I.out || fail "fido2-token -I: clientPin not set after -S"
	grep -q 'pin retries: 8' $W/I.out || fail "fido2-token -I: pin retries are not 8"
}

step_fido2_token_C() {
	keyprep pin generate > $S/fido2.pin || return 1
	cat $S/fido2-1.pin $S/fido2.pin $S/fido2.pin | fido2-token -C $DEV || return 1
	# The old PIN no longer works, the new one does (credential metadata
	# needs a PIN token).
	if fido2-token -I -c $DEV < $S/fido2-1.pin > /dev/null 2>&1; then fail "the old PIN still works after -C"; return 1; fi
	fido2-token -I $DEV | grep -q 'pin retries: 7' || fail "a wrong PIN did not cost a retry"
	fido2-token -I -c $DEV < $S/fido2.pin > $W/meta.out || fail "the new PIN does not work after -C"
	cat $W/meta.out
	grep -q 'existing rk(s): 0' $W/meta.out || fail "a fresh key should hold no discoverable credential"
	fido2-token -I $DEV | grep -q 'pin retries: 8' || fail "retries not back at 8 after a good PIN"
}

step_fido2_cred_M() {
	{ b64 32; echo $RP; echo e2e-user; b64 32; } > $W/cred.in
	fido2-cred -M -r -i $W/cred.in -o $W/cred.out $DEV es256 < $S/fido2.pin || return 1
	[ "$(wc -l < $W/cred.out)" -ge 7 ] || fail "fido2-cred -M printed $(wc -l < $W/cred.out) lines, want 7 (packed attestation with x5c)"
	[ "$(sed -n 3p $W/cred.out)" = packed ] || fail "attestation format $(sed -n 3p $W/cred.out), want packed"
}

step_fido2_cred_V() {
	fido2-cred -V -i $W/cred.out -o $W/cred.pub es256 || return 1
	grep -q 'BEGIN PUBLIC KEY' $W/cred.pub || fail "fido2-cred -V printed no public key"
	# A tampered attestation signature must not verify.
	# (one base64 character inside the signature's r value changed)
	sig=$(sed -n 6p $W/cred.out)
	c=$(echo "$sig" | cut -c20)
	if [ "$c" = A ]; then c=B; else c=A; fi
	bad="$(echo "$sig" | cut -c1-19)$c$(echo "$sig" | cut -c21-)"
	sed "6s|.*|$bad|" $W/cred.out > $W/cred.bad
	if fido2-cred -V -i $W/cred.bad -o /dev/null es256 2> /dev/null; then fail "a tampered attestation verified"; return 1; fi
}

step_fido2_assert_G() {
	{ b64 32; echo $RP; head -n 1 $W/cred.pub; } > $W/assert.in
	fido2-assert -G -p -v -i $W/assert.in -o $W/assert.out $DEV < $S/fido2.pin || return 1
	[ "$(wc -l < $W/assert.out)" -ge 4 ] || fail "fido2-assert -G printed too little"
}

step_fido2_assert_V() {
	tail -n +2 $W/cred.pub > $W/pubkey.pem
	fido2-assert -V -p -v -i $W/assert.out $W/pubkey.pem es256 || return 1
	# The same assertion over a different challenge must not verify.
	{ b64 32; sed -n 2,4p $W/assert.out; } > $W/assert.bad
	if fido2-assert -V -p -v -i $W/assert.bad $W/pubkey.pem es256 2> /dev/null; then fail "an assertion verified against another challenge"; return 1; fi
}

step_fido2_token_D() {
	id=$(head -n 1 $W/cred.pub)
	fido2-token -L -k $RP $DEV < $S/fido2.pin > $W/creds.out || return 1
	grep -qF "$id" $W/creds.out || fail "the new credential is not listed before deleting it"
	fido2-token -I -c $DEV < $S/fido2.pin | grep -q 'existing rk(s): 1' || fail "credential metadata does not count the new credential"
	fido2-token -D -i "$id" $DEV < $S/fido2.pin || return 1
	fido2-token -I -c $DEV < $S/fido2.pin > $W/meta.out || return 1
	grep -q 'existing rk(s): 0' $W/meta.out || fail "the credential is still there after -D"
	# fido2-token -L -r on a key without credentials fails with FIDO_ERR_NO_CREDENTIALS.
	if fido2-token -L -r $DEV < $S/fido2.pin > $W/rps.out 2>&1; then grep -q "$RP" $W/rps.out && fail "$RP still listed after -D"; fi
	# And keyprep, the other client, agrees: the key has its PIN and all slots free again.
	keyprep keys --json > $W/keys.json || return 1
	grep -q '"pinSet": true' $W/keys.json || fail "keyprep keys: no PIN"
	grep -q '"remainingResidentSlots": 25' $W/keys.json || fail "keyprep keys: slots not all free after -D"
}

step_uhid_unplug() { unplug; }

# Key models other than the default, on real kernel HID: libfido2's tool
# reads what the model declares, and keyprep enrolls on it with defaults
# and refuses, before touching it, what the model cannot take.

# model_enroll UPN: enroll with a generated PIN; the result must be verified
# and carry the model's AAGUID.
model_enroll() {
	keyprep $GRAPH enroll --user "$1" --key $DEV --json > $W/enroll-model.json || return 1
	cat $W/enroll-model.json
	grep -q '"verified": true' $W/enroll-model.json || fail "enroll: the self-test assertion was not verified"
	grep -q "\"aaguid\": \"$2\"" $W/enroll-model.json || fail "enroll: not the model's AAGUID $2"
	learn_escrowed_pin "$1" "$(echo "$1" | cut -d@ -f1)"
}

# model_refuses_min_pin UPN: --min-pin-length on a key without
# authenticatorConfig is refused before any side effect (exit 6, the
# missing capability named), and the key is left as it was.
model_refuses_min_pin() {
	fido2-token -I $DEV > $W/I-before.out || return 1
	rc=0
	keyprep $GRAPH enroll --user "$1" --key $DEV --min-pin-length 8 > $W/refused.out 2> $W/refused.err || rc=$?
	cat $W/refused.err
	[ $rc -eq 6 ] || fail "enroll --min-pin-length on a key without authenticatorConfig: exit $rc, want 6" || return 1
	grep -q 'authenticatorConfig' $W/refused.err || fail "the refusal does not name the missing capability"
	fido2-token -I $DEV > $W/I-after.out || return 1
	grep -E 'clientPin|pin retries|minpinlen' $W/I-before.out > $W/I-before.k
	grep -E 'clientPin|pin retries|minpinlen' $W/I-after.out > $W/I-after.k
	cmp -s $W/I-before.k $W/I-after.k || fail "the refused enrollment changed the key"
}

step_model_ctap20_titan() {
	plug /tmp/keys/titan.json google-titan-v2 || return 1
	fido2-token -I $DEV > $W/I-titan.out || return 1
	cat $W/I-titan.out
	grep -q 'aaguid: 42b4fb4a286643b29bf76c6669c2e5d3' $W/I-titan.out || fail "fido2-token -I: not the Titan v2 AAGUID"
	grep -q 'version strings: U2F_V2, FIDO_2_0$' $W/I-titan.out || grep -q 'version strings: FIDO_2_0, U2F_V2$' $W/I-titan.out ||
		fail "fido2-token -I: a CTAP 2.0 key must list FIDO_2_0 and no 2.1 version"
	grep -q 'pin protocols: 1$' $W/I-titan.out || fail "fido2-token -I: PIN protocol 1 only"
	model_refuses_min_pin megan.bowen@contoso.test || return 1
	model_enroll megan.bowen@contoso.test 42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3 || return 1
	unplug
}

step_model_pin_protocol_1() {
	plug /tmp/keys/yk52.json yubikey-5.2 || return 1
	fido2-token -I $DEV > $W/I-yk52.out || return 1
	cat $W/I-yk52.out
	grep -q 'FIDO_2_1_PRE' $W/I-yk52.out || fail "fido2-token -I: no FIDO_2_1_PRE"
	grep -q 'credentialMgmtPreview' $W/I-yk52.out || fail "fido2-token -I: no credentialMgmtPreview"
	grep -q 'pin protocols: 1$' $W/I-yk52.out || fail "fido2-token -I: PIN protocol 1 only"
	model_refuses_min_pin lee.gu@contoso.test || return 1
	model_enroll lee.gu@contoso.test 2fc0579f-8113-47ea-b116-bb5a8db9202a || return 1
	# The preview command lists the new passkey (libfido2 sends 0x41).
	keyprep keys --json > $W/keys-yk52.json || return 1
	cat $W/keys-yk52.json
	grep -q 'preview' $W/keys-yk52.json || fail "keys does not say credential management is the preview command"
	unplug
}

# No PIN and no bearer token in any output of the run (docs/architecture.md
# §4.1), nor in keyprep's journal and audit log: the step logs are what
# reaches the console. The secrets are the PINs the run generated (the ones
# keyprep escrowed included, opened with the bench identity) and the
# tenant's token; each one the run made must be there to look for.
step_no_secrets_in_output() {
	n=0
	for f in $S/keyprep.pin $S/fido2-1.pin $S/fido2.pin $S/escrow-alex.pin $S/escrow-megan.bowen.pin \
		$S/escrow-lee.gu.pin "$KEYPREP_ACCESS_TOKEN_FILE"; do
		[ -s "$f" ] || { fail "secret $f is missing: the scan would not look for it"; continue; }
		secret=$(cat "$f")
		[ ${#secret} -ge 6 ] || fail "secret file $f is too short to scan for"
		n=$((n + 1))
		if grep -rlF -e "$secret" $L $W $KEYPREP_STATE_DIR/keyprep.db* > $W/leaks 2>/dev/null; then
			fail "the secret from $(basename "$f") appears in: $(tr '\n' ' ' < $W/leaks)"
		fi
	done
	echo "scanned for $n secrets"
	[ $n -eq 7 ] || fail "scanned for $n secrets, want 7"
}

if [ "$1" = step ]; then
	set -eu
	"step_$2"
	exit $?
fi

# ---- PID 1 -----------------------------------------------------------------

/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp /run
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p $S $W $L /tmp/keys /tmp/state
chmod 700 $S
ip link set lo up
echo; echo "e2e: kernel $(uname -r), $(nproc) CPU, uptime $(cut -d' ' -f1 /proc/uptime) s${fault:+, TEST FAULT: $fault}"
for m in hid uhid hid-generic; do insmod /modules/$m.ko || echo "e2e: insmod $m failed"; done

passed=0
failed=0
names=
check() {
	t0=$(cut -d' ' -f1 /proc/uptime)
	if timeout 120 /init step "$1" > $L/$1.log 2>&1; then
		passed=$((passed + 1))
		echo "PASS: $1 ($(awk "BEGIN{printf \"%.1f\", $(cut -d' ' -f1 /proc/uptime) - $t0}") s)"
	else
		rc=$?
		failed=$((failed + 1))
		echo "FAIL: $1 (exit $rc)"
		tail -n 30 $L/$1.log | sed 's/^/    | /'
	fi
}

for c in uhid_plug_keyprep_key keyprep_keys keyprep_pin_set keyprep_info keyprep_config_min_pin_length \
	sim_tenant_loopback keyprep_enroll keyprep_methods_list fido2_token_list_rps_after_enroll \
	keyprep_enroll_fresh_key_generated_pin uhid_plug_fresh_key fido2_token_L fido2_token_I fido2_token_S \
	fido2_token_C fido2_cred_M fido2_cred_V fido2_assert_G fido2_assert_V fido2_token_D uhid_unplug \
	model_ctap20_titan model_pin_protocol_1 no_secrets_in_output; do
	check $c
done
[ -f $W/tenant.pid ] && kill "$(cat $W/tenant.pid)" 2>/dev/null

echo "RESULT: $passed passed, $failed failed"
if [ $failed -eq 0 ] && [ $passed -gt 0 ]; then
	echo "RESULT: PASS"
	printf '\000' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
else
	echo "RESULT: FAIL"
	printf '\001' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
fi
poweroff -f
