#!/usr/bin/env bash
# test.sh DEB: checks the Debian package make deb built (make deb-test).
#  1. lintian: no error and no warning that is not overridden (each
#     override is justified in scripts/deb/lintian-overrides, shipped in
#     the package);
#  2. the files, their modes and owners (dpkg-deb -c), the conffile, the
#     Depends, the maintainer scripts (nothing enables or starts the daemon);
#  3. unpacked (dpkg-deb -x): the packaged binary runs `version` (the
#     package's version) and a --sim enrollment from the unpacked tree, and
#     its completion lists virtual keys; bash loads the completion file;
#  4. systemd-analyze verify on the packaged unit, against the unpacked tree.
# Installs lintian, systemd (systemd-analyze) and man-db with apt-get when
# missing, as scripts/deps.sh does for the build.
set -euo pipefail
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
	echo "usage: scripts/deb/test.sh keyprep_VERSION_ARCH.deb" >&2
	exit 2
fi
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")

need=()
command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v man >/dev/null 2>&1 || need+=(man-db) # lintian checks the pages with man
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
	echo "deb-test: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

fails=0
pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# 1. lintian
echo "== lintian $(lintian --version | awk '{print $2}')"
# One run shows the overrides with their reasons too; lintian's exit status
# counts an overridden warning as a failure with --show-overrides, so the
# verdict is read from the tags: E: and W: are not overridden, O: are.
lint=$(lintian --show-overrides --tag-display-limit 0 "$deb" 2>&1) && rc=0 || rc=$?
printf '%s\n' "$lint" | grep -v '^running with root privileges' | sed 's/^/  /'
if [ "$rc" -gt 2 ]; then
	fail "lintian exited $rc"
elif printf '%s\n' "$lint" | grep -q '^[EW]: '; then
	fail "lintian: errors or warnings that are not overridden (above)"
else
	pass "lintian: no errors, no warnings that are not overridden ($(printf '%s\n' "$lint" | grep -c '^O: ') overridden)"
fi

# 2. contents
version=$(dpkg-deb -f "$deb" Version)
listing=$(dpkg-deb -c "$deb")
# expect MODE PATH: the entry exists with that mode, owned by root:root.
expect() {
	if printf '%s\n' "$listing" | awk -v m="$1" -v p="./$2" '$1 == m && $2 == "root/root" && $6 == p { found = 1 } END { exit !found }'; then
		pass "$1 root/root /$2"
	else
		fail "no $1 root/root /$2 in the package; it has: $(printf '%s\n' "$listing" | awk -v p="./$2" '$6 == p')"
	fi
}
expect -rwxr-xr-x usr/bin/keyprep
expect -rw-r--r-- usr/lib/systemd/system/keyprep.service
expect -rw-r--r-- usr/lib/udev/rules.d/70-keyprep-fido.rules
expect -rw-r--r-- usr/lib/sysusers.d/keyprep.conf
expect -rw-r--r-- usr/lib/tmpfiles.d/keyprep.conf
expect -rw-r----- etc/keyprep/keyprep.env
expect -rw-r--r-- usr/share/bash-completion/completions/keyprep
expect -rw-r--r-- usr/share/zsh/vendor-completions/_keyprep
expect -rw-r--r-- usr/share/fish/vendor_completions.d/keyprep.fish
expect -rw-r--r-- usr/share/lintian/overrides/keyprep
expect -rw-r--r-- usr/share/doc/keyprep/copyright
expect -rw-r--r-- usr/share/doc/keyprep/changelog.gz
for page in keyprep keyprep-enroll keyprep-serve keyprep-keys keyprep-version keyprep-policy-set keyprep-completion; do
	expect -rw-r--r-- "usr/share/man/man1/$page.1.gz"
done
if printf '%s\n' "$listing" | awk '$2 != "root/root" { bad = 1 } END { exit bad }'; then
	pass "every entry is owned by root:root (the group keyprep is set by postinst: dpkg-statoverride)"
else
	fail "entries not owned by root:root: $(printf '%s\n' "$listing" | awk '$2 != "root/root"')"
fi
conffiles=$(dpkg-deb -I "$deb" conffiles)
if [ "$conffiles" = /etc/keyprep/keyprep.env ]; then pass "conffiles: $conffiles"; else fail "conffiles: '$conffiles', want /etc/keyprep/keyprep.env"; fi
depends=$(dpkg-deb -f "$deb" Depends)
case ", $depends," in
*", libfido2-1 (>= 1.12),"*", libc6 "* | *", libc6 "*", libfido2-1 (>= 1.12),"*) pass "Depends: $depends" ;;
*) fail "Depends: '$depends', want libc6 and libfido2-1 (>= 1.12)" ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -e "$deb" "$tmp/DEBIAN"
for s in postinst prerm postrm; do
	if [ -x "$tmp/DEBIAN/$s" ] && sh -n "$tmp/DEBIAN/$s"; then pass "maintainer script $s"; else fail "maintainer script $s missing or not valid sh"; fi
done
# Commands (not the printed advice) that would enable or start the daemon.
if grep -vE '^\s*(#|sudo )' "$tmp/DEBIAN/postinst" | grep -qE '(systemctl|deb-systemd-(helper|invoke))\s+(--[a-z]+\s+)*(enable|start|restart|reenable)\b'; then
	fail "postinst enables or starts keyprep.service"
else
	pass "postinst neither enables nor starts the daemon (try-restart only on upgrade)"
fi
for want in 'systemd-sysusers' 'systemd-tmpfiles --create' 'udevadm control --reload-rules' 'udevadm trigger --subsystem-match=hidraw' 'daemon-reload' 'dpkg-statoverride --update --add'; do
	if grep -q -- "$want" "$tmp/DEBIAN/postinst"; then pass "postinst runs $want"; else fail "postinst lacks $want"; fi
done

# 3. the unpacked tree
root=$tmp/root
dpkg-deb -x "$deb" "$root"
check_mode() { # MODE PATH
	local got
	got=$(stat -c %a "$root/$2")
	if [ "$got" = "$1" ]; then pass "unpacked /$2 mode $got"; else fail "unpacked /$2 mode $got, want $1"; fi
}
check_mode 755 usr/bin/keyprep
check_mode 640 etc/keyprep/keyprep.env
check_mode 644 usr/lib/systemd/system/keyprep.service
kp=$root/usr/bin/keyprep
export KEYPREP_STATE_DIR=$tmp/state NO_COLOR=1
unset KEYPREP_STORE KEYPREP_GRAPH_URL KEYPREP_AUTH KEYPREP_SIM_KEY_MODEL
if out=$("$kp" version 2>&1) && printf '%s\n' "$out" | grep -qx "keyprep $version"; then
	pass "keyprep version: $(printf '%s' "$out" | tr '\n' ';')"
else
	fail "keyprep version says '$out', want 'keyprep $version'"
fi
if out=$("$kp" --version 2>&1) && case $out in "keyprep $version (commit "*) true ;; *) false ;; esac; then
	pass "keyprep --version: $out"
else
	fail "keyprep --version says '$out'"
fi
if out=$("$kp" --json --sim enroll --user adele.vance@contoso.test 2>"$tmp/enroll.err") &&
	printf '%s' "$out" | grep -q '"verified": true'; then
	pass "keyprep --sim enroll --user adele.vance@contoso.test: enrolled and verified"
else
	fail "keyprep --sim enroll: $out $(cat "$tmp/enroll.err")"
fi
if out=$("$kp" __complete --sim enroll --key '' 2>/dev/null) && printf '%s\n' "$out" | grep -q '^vkey:0'; then
	pass "completion of --key lists the virtual key"
else
	fail "keyprep __complete --sim enroll --key '': $out"
fi
if bash -c "source '$root/usr/share/bash-completion/completions/keyprep' && complete -p keyprep" >/dev/null 2>&1; then
	pass "bash loads the completion file"
else
	fail "bash cannot load the completion file"
fi
pages=$(find "$root/usr/share/man/man1" -name '*.1.gz' | wc -l)
cmds=$("$kp" __complete '' 2>/dev/null | grep -cv '^:')
[ "$pages" -gt "$cmds" ] && pass "$pages man pages ($cmds top-level commands, their subcommands, keyprep.1)" || fail "$pages man pages for $cmds top-level commands"

# 4. systemd-analyze verify on the packaged unit with the unpacked tree's
# paths: ExecStart= names the unpacked binary (verify checks that it exists
# and is executable), Documentation= its manual page and README (verify
# runs man for man: links; MANPATH points it into the tree).
unit=$tmp/verify/keyprep.service
mkdir -p "$tmp/verify"
sed -e "s|/usr/bin/keyprep|$root/usr/bin/keyprep|g" -e "s|file:/usr/share/doc/|file:$root/usr/share/doc/|g" \
	"$root/usr/lib/systemd/system/keyprep.service" >"$unit"
if ! grep -q "^ExecStart=$root/usr/bin/keyprep " "$unit"; then
	fail "the packaged unit's ExecStart= is not /usr/bin/keyprep: $(grep ^ExecStart= "$unit")"
elif out=$(MANPATH=$root/usr/share/man SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ]; then
	pass "systemd-analyze verify keyprep.service (systemd $(systemd-analyze --version | awk 'NR==1{print $2}'))"
else
	fail "systemd-analyze verify keyprep.service: $out"
fi

# The unit bounds memory, tasks and file descriptors, and its sandbox stays
# at the exposure it had before the bounds (1.7 in systemd-analyze
# security; --offline needs systemd 252 or later).
for want in MemoryMax= MemoryHigh= TasksMax= LimitNOFILE= Environment=GOMEMLIMIT=; do
	if grep -q "^$want" "$unit"; then pass "the unit sets $want"; else fail "the unit lacks $want"; fi
done
if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
	exposure=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 1.7) }'; then
		pass "systemd-analyze security: exposure $exposure (at most 1.7)"
	else
		fail "systemd-analyze security: exposure '${exposure}', want at most 1.7"
	fi
fi
# The secrets file is never more open than root:keyprep 0640, in the
# package and in the manual install.
if grep -E 'install .*keyprep\.env' "$root/usr/share/doc/keyprep/README.systemd" 2>/dev/null | grep -vqE -- '-m 0?6[04]0 '; then
	fail "README.systemd installs keyprep.env with a mode other than 0640 or 0600"
fi

if [ "$fails" -gt 0 ]; then
	echo "deb-test: $fails check(s) failed" >&2
	exit 1
fi
echo "deb-test: every check passed ($deb)"
