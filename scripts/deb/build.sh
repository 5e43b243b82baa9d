#!/usr/bin/env bash
# build.sh: builds keyprep_VERSION_ARCH.deb with dpkg-deb from a staged tree
# (make deb; the Makefile's release build makes BIN, MAN and COMP).
#
#   scripts/deb/build.sh BIN MANDIR COMPDIR OUTDIR
#
# Environment: VERSION (a Debian version, digits first), COMMIT,
# SOURCE_DATE_EPOCH (the commit's time: every mtime in the package and the
# changelog date; dpkg-deb uses it for its own timestamps), DEB_MAINTAINER.
# Same inputs, same bytes: files are staged with fixed modes and times, the
# owners are root (dpkg-deb --root-owner-group), man pages and the changelog
# are gzipped without names or times (gzip -n), and Depends comes from the
# binary (dpkg-shlibdeps, from dpkg-dev; installed with apt-get when missing).
set -euo pipefail

if [ $# -ne 4 ]; then
	echo "usage: scripts/deb/build.sh BIN MANDIR COMPDIR OUTDIR" >&2
	exit 2
fi
bin=$1 mandir=$2 compdir=$3 out=$4
: "${VERSION:?VERSION not set}" "${COMMIT:?COMMIT not set}" "${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH not set}"
maintainer=${DEB_MAINTAINER:-keyprep maintainers <keyprep@users.noreply.github.com>}
export SOURCE_DATE_EPOCH
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
arch=$(dpkg --print-architecture)
case $VERSION in [0-9]*) ;; *) echo "build.sh: VERSION $VERSION must start with a digit" >&2; exit 2 ;; esac

# dpkg-shlibdeps (dpkg-dev) maps the binary's libraries to packages with
# their minimum versions from the libraries' symbols files.
if ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
	echo "deb: installing dpkg-dev (dpkg-shlibdeps)" >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
umask 022

# put MODE SRC DEST: one file into the package.
put() { install -D -m "$1" "$2" "$root/$3"; }

put 0755 "$bin" usr/bin/keyprep
put 0644 "$top/scripts/systemd/keyprep.service" usr/lib/systemd/system/keyprep.service
put 0644 "$top/scripts/udev/70-keyprep-fido.rules" usr/lib/udev/rules.d/70-keyprep-fido.rules
put 0644 "$here/keyprep.sysusers" usr/lib/sysusers.d/keyprep.conf
put 0644 "$here/keyprep.tmpfiles" usr/lib/tmpfiles.d/keyprep.conf
# The secrets file: 0640 from the start; postinst gives it the group keyprep.
put 0640 "$here/keyprep.env" etc/keyprep/keyprep.env
put 0644 "$compdir/keyprep.bash" usr/share/bash-completion/completions/keyprep
put 0644 "$compdir/_keyprep" usr/share/zsh/vendor-completions/_keyprep
put 0644 "$compdir/keyprep.fish" usr/share/fish/vendor_completions.d/keyprep.fish
put 0644 "$here/lintian-overrides" usr/share/lintian/overrides/keyprep
doc=usr/share/doc/keyprep
put 0644 "$here/copyright" $doc/copyright
put 0644 "$top/README.md" $doc/README.md
put 0644 "$top/docs/environment.md" $doc/environment.md
put 0644 "$top/scripts/systemd/README" $doc/README.systemd
install -d -m 0755 "$root/usr/share/man/man1"
for m in "$mandir"/*.1; do
	gzip -9n <"$m" >"$root/usr/share/man/man1/$(basename "$m").gz"
	chmod 0644 "$root/usr/share/man/man1/$(basename "$m").gz"
done
date=$(date -u -d "@$SOURCE_DATE_EPOCH" -R)
{
	printf 'keyprep (%s) unstable; urgency=medium\n\n' "$VERSION"
	printf '  * Built from commit %s.\n\n' "$COMMIT"
	printf ' -- %s  %s\n' "$maintainer" "$date"
} | gzip -9n >"$root/$doc/changelog.gz"
chmod 0644 "$root/$doc/changelog.gz"

# Depends: what the binary links (libc6, libfido2-1 here), at least libfido2
# 1.12, the version keyprep is written against (README, hid).
mkdir -p "$work/shlib/debian"
printf 'Source: keyprep\n\nPackage: keyprep\nArchitecture: any\n' >"$work/shlib/debian/control"
shlibs=$(cd "$work/shlib" && dpkg-shlibdeps -O -e"$root/usr/bin/keyprep" 2>/dev/null)
shlibs=${shlibs#shlibs:Depends=}
if [ -z "$shlibs" ]; then echo "build.sh: dpkg-shlibdeps found no libraries in $bin" >&2; exit 1; fi
depends=$(printf '%s\n' "$shlibs" | tr ',' '\n' | sed 's/^ *//' | sed 's/^libfido2-1\( .*\)\?$/libfido2-1 (>= 1.12)/' | sort -u | paste -sd, | sed 's/,/, /g')
case $depends in *libfido2-1*) ;; *) depends="$depends, libfido2-1 (>= 1.12)" ;; esac

mkdir -p "$root/DEBIAN"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$root/DEBIAN/"
echo /etc/keyprep/keyprep.env >"$root/DEBIAN/conffiles"
chmod 0644 "$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' md5sum) >"$root/DEBIAN/md5sums"
size=$(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%s\n' | awk '{ k += int(($1 + 1023) / 1024) } END { print k }')
cat >"$root/DEBIAN/control" <<CONTROL
Package: keyprep
Version: $VERSION
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Section: admin
Priority: optional
Homepage: https://github.com/keyprep/keyprep
Description: pre-provision FIDO2 security keys for Microsoft Entra ID
 keyprep sets a PIN that meets complexity rules on a FIDO2 security key,
 applies CTAP 2.1 settings, creates and registers the user's passkey with
 Microsoft Entra ID through Microsoft Graph, proves that it works and
 records who got which key, with the PIN escrowed (age) before it goes on
 the key. One key from the command line (keyprep enroll), or many at once
 on a bench (keyprep serve: a daemon with a local web dashboard).
 .
 The package holds the keyprep command, its manual pages and shell
 completions, a udev rule giving the group keyprep access to FIDO security
 keys, and the systemd service keyprep.service, which is not enabled or
 started until configured in /etc/keyprep/keyprep.env.
CONTROL
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$out"
deb=$out/keyprep_${VERSION}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
