#!/usr/bin/env bash
# install-test.sh DEB: installs the package on this machine, upgrades it,
# removes and purges it, checking what the maintainer scripts do: the user
# and group keyprep, the secrets file root:keyprep 0640 and kept (with its
# edits) on upgrade, /var/lib/keyprep, the daemon neither enabled nor
# started; remove keeps the configuration, purge deletes it but keeps
# /var/lib/keyprep. It changes the system (a package, a user), so it runs
# only when CI=true (a throwaway machine) or KEYPREP_DEB_INSTALL_TEST=1, as
# root, and never where keyprep is installed already; it removes the user,
# group and /var/lib/keyprep it made at the end.
set -euo pipefail
deb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
if [ "${CI:-}" != true ] && [ "${KEYPREP_DEB_INSTALL_TEST:-}" != 1 ]; then
	echo "install-test: skipped (it installs the package: set KEYPREP_DEB_INSTALL_TEST=1, or CI=true)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then echo "install-test: needs root" >&2; exit 1; fi
if dpkg-query -W -f '${Status}' keyprep 2>/dev/null | grep -q 'installed'; then
	echo "install-test: keyprep is installed on this machine; not touching it" >&2
	exit 1
fi
if getent passwd keyprep >/dev/null || [ -e /var/lib/keyprep ]; then
	echo "install-test: a user keyprep or /var/lib/keyprep exists already; not touching it" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
tmp=$(mktemp -d)
cleanup() {
	dpkg --purge keyprep >/dev/null 2>&1 || true
	rm -rf /var/lib/keyprep "$tmp"
	userdel keyprep 2>/dev/null || true
	groupdel keyprep 2>/dev/null || true
}
trap cleanup EXIT
fails=0
pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
owner() { # WANT PATH: "user:group mode"
	local got
	got=$(stat -c '%U:%G %a' "$2" 2>&1) || true
	if [ "$got" = "$1" ]; then pass "$2 $got"; else fail "$2 is '$got', want '$1'"; fi
}

apt-get install -y -qq "$deb" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; exit 1; }
grep -q 'the daemon is not enabled or started' "$tmp/install.log" && pass "postinst says how to start the daemon" || fail "postinst printed no instructions"
if getent passwd keyprep | grep -q ':/var/lib/keyprep:/usr/sbin/nologin$'; then pass "user keyprep: $(getent passwd keyprep)"; else fail "user keyprep: $(getent passwd keyprep)"; fi
owner "root:keyprep 750" /etc/keyprep
owner "root:keyprep 640" /etc/keyprep/keyprep.env
owner "keyprep:keyprep 750" /var/lib/keyprep
state=$(systemctl is-enabled keyprep.service 2>&1 || true)
[ "$state" = disabled ] && pass "keyprep.service is $state" || fail "keyprep.service is '$state', want disabled"
/usr/bin/keyprep version >/dev/null && pass "/usr/bin/keyprep version" || fail "/usr/bin/keyprep version"

# Upgrade to the same contents with a higher version: the edited secrets
# file and its owner stay.
echo 'AZURE_TENANT_ID=contoso.onmicrosoft.com' >>/etc/keyprep/keyprep.env
dpkg-deb -R "$deb" "$tmp/next"
version=$(dpkg-deb -f "$deb" Version)
sed -i "s/^Version: .*/Version: $version+next/" "$tmp/next/DEBIAN/control"
dpkg-deb --root-owner-group -b "$tmp/next" "$tmp/next.deb" >/dev/null
apt-get install -y -qq "$tmp/next.deb" >"$tmp/upgrade.log" 2>&1 || { cat "$tmp/upgrade.log" >&2; exit 1; }
[ "$(dpkg-query -W -f '${Version}' keyprep)" = "$version+next" ] && pass "upgraded to $version+next" || fail "upgrade"
grep -qx 'AZURE_TENANT_ID=contoso.onmicrosoft.com' /etc/keyprep/keyprep.env && pass "upgrade kept the edited secrets file" || fail "upgrade lost the edit"
owner "root:keyprep 640" /etc/keyprep/keyprep.env

apt-get remove -y -qq keyprep >/dev/null 2>&1
[ ! -e /usr/bin/keyprep ] && [ -f /etc/keyprep/keyprep.env ] && pass "remove: program gone, secrets file kept" || fail "remove"
echo data >/var/lib/keyprep/keep-me
apt-get purge -y -qq keyprep >/dev/null 2>&1
[ ! -e /etc/keyprep ] && pass "purge: /etc/keyprep gone" || fail "purge left $(ls -la /etc/keyprep)"
[ -z "$(dpkg-statoverride --list '/etc/keyprep*')" ] && pass "purge: statoverrides gone" || fail "purge left $(dpkg-statoverride --list '/etc/keyprep*')"
[ -f /var/lib/keyprep/keep-me ] && pass "purge kept /var/lib/keyprep" || fail "purge deleted /var/lib/keyprep"

if [ "$fails" -gt 0 ]; then
	echo "install-test: $fails check(s) failed" >&2
	exit 1
fi
echo "install-test: every check passed"
