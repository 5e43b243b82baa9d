#!/usr/bin/env bash
# Hardware-in-the-loop without hardware (issue 7, docs/architecture.md §5):
# boots a Debian kernel under qemu software emulation with an initramfs
# holding keyprep, busybox and libfido2's tools; inside, keyprep sim key
# --uhid plugs the virtual key in through /dev/uhid and scripts/e2e-vm/init.sh
# runs keyprep and fido2-token/-cred/-assert against /dev/hidraw0, each check
# a named PASS/FAIL line. The guest's verdict comes back through qemu's
# isa-debug-exit device.
#
#   scripts/e2e-vm.sh                  the normal run: must pass
#   scripts/e2e-vm.sh --break-framing  the virtual key sends a wrong CTAPHID
#                                      continuation sequence number: must fail
#
# Installs what it needs when missing (qemu-system-x86, busybox-static,
# fido2-tools, libfido2-dev; as root or through sudo) and downloads the kernel
# package with apt-get download (no kernel is installed on the host). Kernel
# and modules are cached in $KEYPREP_E2E_CACHE (default
# ~/.cache/keyprep-e2e); the build goes to bin/e2e-vm/, the VM's console to
# bin/e2e-vm/console.log. Exits 0 only when the guest reported PASS.
#
# Environment: KEYPREP_E2E_CACHE, E2E_VM_TIMEOUT (hard bound on qemu, default
# 600 s), E2E_VM_MEM (default 1024 MB).
set -euo pipefail

fault=""
for a in "$@"; do
	case $a in
	--break-framing) fault=wrong-continuation-seq ;;
	--fault=*) fault=${a#--fault=} ;; # any ctaphid.ParseFaults list
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "e2e-vm: unknown argument $a (try --help)" >&2; exit 2 ;;
	esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KEYPREP_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keyprep-e2e}
OUT=$ROOT/bin/e2e-vm
TIMEOUT=${E2E_VM_TIMEOUT:-600}
MEM=${E2E_VM_MEM:-1024}
GO=${GO:-go}
t_start=$(date +%s.%N)
mkdir -p "$OUT"
rm -f "$OUT/console.log" # never judge a stale log

log() { echo "e2e-vm: $*" >&2; }
die() { log "$*"; echo "e2e-vm: 0 passed, 1 failed"; exit 1; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }

# ---- 1. packages -----------------------------------------------------------

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
		die "need root (or sudo) to run: $*"
	fi
}

need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
# A static busybox: the guest has no libc of its own besides the copied libs.
if ! { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }; then need+=(busybox-static); fi
for t in fido2-token fido2-cred fido2-assert; do
	command -v $t >/dev/null 2>&1 || { need+=(fido2-tools); break; }
done
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
command -v apt-get >/dev/null 2>&1 || { [ ${#need[@]} -eq 0 ] || die "missing ${need[*]} and no apt-get: install them by hand"; }
if [ ${#need[@]} -gt 0 ]; then
	t0=$(date +%s.%N)
	log "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	log "installed in $(elapsed "$t0")"
fi
"$ROOT/scripts/deps.sh" # libfido2-dev, pkg-config, gcc for the keyprep build

# ---- 2. kernel (cached) ----------------------------------------------------

# The Debian kernel package linux-image-amd64 points at; the cache falls
# back to the newest kernel already there when apt cannot answer.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }' || true)
if [ -z "$kpkg" ] || [ ! -f "$CACHE/kernel/$kpkg/vmlinux" ]; then
	if [ -z "$kpkg" ]; then
		as_root apt-get update -qq
		kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
		[ -n "$kpkg" ] || die "apt-cache does not know linux-image-amd64"
	fi
fi
KDIR=$CACHE/kernel/$kpkg
if [ ! -f "$KDIR/vmlinux" ]; then
	t0=$(date +%s.%N)
	log "fetching kernel $kpkg"
	rm -rf "$KDIR.tmp" && mkdir -p "$KDIR.tmp/x"
	# apt-get download as root fetches as the _apt user: give it a
	# directory it can write.
	dl=$(mktemp -d /tmp/keyprep-e2e-dl.XXXXXX)
	chmod 755 "$dl"
	[ "$(id -u)" -ne 0 ] || chown _apt "$dl" 2>/dev/null || chmod 777 "$dl"
	(cd "$dl" && apt-get download -qq "$kpkg") || { rm -rf "$dl"; die "apt-get download $kpkg failed"; }
	deb=$(ls "$dl"/*.deb)
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$KDIR.tmp/x" --wildcards \
		'./boot/vmlinuz-*' '*/kernel/drivers/hid/hid.ko*' '*/kernel/drivers/hid/uhid.ko*' '*/kernel/drivers/hid/hid-generic.ko*' ||
		die "extracting the kernel and the HID modules from $deb failed"
	mkdir -p "$KDIR.tmp/modules"
	for m in hid uhid hid-generic; do
		f=$(find "$KDIR.tmp/x" -name "$m.ko*" | head -n 1)
		case $f in
		*.ko) cp "$f" "$KDIR.tmp/modules/$m.ko" ;;
		*.ko.xz) xz -dc "$f" >"$KDIR.tmp/modules/$m.ko" ;;
		*.ko.zst) zstd -dqc "$f" >"$KDIR.tmp/modules/$m.ko" ;;
		*) die "no $m module in $deb" ;;
		esac
	done
	# Uncompressed ELF for qemu's PVH entry: under TCG the bzImage's own xz
	# decompressor costs ~10 s (docs/architecture.md §5).
	vmlinuz=$(ls "$KDIR.tmp/x"/boot/vmlinuz-*)
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1)
	[ -n "$off" ] || die "no xz stream in $vmlinuz"
	tail -c +$((off + 1)) "$vmlinuz" | xz -dc 2>/dev/null >"$KDIR.tmp/vmlinux" || true
	[ "$(head -c 4 "$KDIR.tmp/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] || die "the extracted kernel is not an ELF file"
	basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$KDIR.tmp/kver"
	rm -rf "$dl" "$KDIR.tmp/x" "$KDIR"
	mv "$KDIR.tmp" "$KDIR"
	# Keep only this kernel.
	find "$CACHE/kernel" -mindepth 1 -maxdepth 1 ! -name "$kpkg" -exec rm -rf {} +
	log "kernel $(cat "$KDIR/kver") ready in $(elapsed "$t0")"
fi

# ---- 3. build ---------------------------------------------------------------

t0=$(date +%s.%N)
mkdir -p "$OUT"
# No -trimpath: the build shares the Go cache with make build and make lint (a cold
# msgraph-sdk-go compile takes minutes); -s -w only changes the link.
(cd "$ROOT" && $GO build -ldflags='-s -w' -o "$OUT/keyprep" ./cmd/keyprep) || die "go build failed"
log "keyprep built in $(elapsed "$t0") ($(du -m "$OUT/keyprep" | cut -f1) MB)"

# ---- 4. initramfs -----------------------------------------------------------

t0=$(date +%s.%N)
R=$OUT/root
rm -rf "$R"
mkdir -p "$R"/{bin,usr/bin,modules,proc,sys,dev,tmp,root,etc}
cp /bin/busybox "$R/bin/busybox"
cp "$ROOT/scripts/e2e-vm/init.sh" "$R/init"
chmod 755 "$R/init"
cp "$KDIR"/modules/*.ko "$R/modules/"
cp "$OUT/keyprep" "$R/usr/bin/keyprep"
bins=("$OUT/keyprep")
for t in fido2-token fido2-cred fido2-assert; do
	cp "$(command -v $t)" "$R/usr/bin/$t"
	bins+=("$(command -v $t)")
done
# Every shared library at the path the loader will look for it.
for b in "${bins[@]}"; do
	ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p "$R$(dirname "$lib")"
	cp -L "$lib" "$R$lib"
done
echo "root:x:0:0:root:/root:/bin/sh" >"$R/etc/passwd"
(cd "$R" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc 2>/dev/null) >"$OUT/initramfs.cpio"
log "initramfs ready in $(elapsed "$t0") ($(du -m "$OUT/initramfs.cpio" | cut -f1) MB)"

# ---- 5. boot ----------------------------------------------------------------

append="console=ttyS0 panic=-1 quiet loglevel=3"
[ -z "$fault" ] || append="$append keyprep.fault=$fault"
log "booting the VM (qemu TCG, hard limit ${TIMEOUT} s)${fault:+ with the TEST FAULT $fault}"
t0=$(date +%s.%N)
set +e
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m "$MEM" -smp 1 \
	-nographic -no-reboot -nodefaults -display none -serial stdio \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-kernel "$KDIR/vmlinux" -initrd "$OUT/initramfs.cpio" -append "$append" </dev/null 2>&1 |
	sed -u 's/\r$//' | tee "$OUT/console.log" |
	grep --line-buffered -aE '^(e2e:|PASS:|FAIL:|RESULT:|    \|)'
rc=${PIPESTATUS[0]}
set -e
log "VM finished in $(elapsed "$t0") (qemu exit $rc)"

# ---- 6. verdict -------------------------------------------------------------

# isa-debug-exit: the guest's byte b makes qemu exit with (b << 1) | 1.
counts=$(grep -aoE '^RESULT: [0-9]+ passed, [0-9]+ failed' "$OUT/console.log" | tail -n 1 | sed 's/^RESULT: //')
if [ "$rc" -eq 1 ] && grep -aqx 'RESULT: PASS' "$OUT/console.log"; then
	echo "e2e-vm: $counts"
	log "PASS in $(elapsed "$t_start") (console: ${OUT#"$ROOT"/}/console.log)"
	exit 0
fi
case $rc in
3) why="the guest reported FAIL" ;;
124 | 137) why="timeout: no verdict within ${TIMEOUT} s" ;;
*) why="no verdict from the guest (qemu exit $rc)" ;;
esac
[ -n "$counts" ] || counts="0 passed, 1 failed"
log "FAIL: $why; the console log follows"
sed 's/^/  | /' "$OUT/console.log" | tail -n 200 >&2
echo "e2e-vm: $counts"
exit 1
