#!/usr/bin/env bash
# Cross-builds libcrypto (OpenSSL), libcbor and libfido2 as static libraries
# for windows/amd64 with mingw-w64 into a cached prefix:
#
#   scripts/windows/prefix.sh CACHE_DIR      (make windows: CACHE_DIR=~/.cache/keyprep/windows)
#
# prints the prefix's path, CACHE_DIR/prefix-KEY, where KEY is a hash of
# scripts/windows/pins and this script (without comments): a changed pin or recipe gives a new
# directory, hence new -I/-L flags in CGO_CFLAGS/CGO_LDFLAGS, which are part
# of Go's cache keys (Go does not hash headers or libraries outside the
# module, so a prefix rebuilt in place would leave stale cgo objects).
#
# The sources are the upstream release tarballs as Debian ships them
# (.orig.tar.gz), fetched with apt-get source
# --download-only through a private apt state under CACHE_DIR/apt (the
# system's apt configuration is not touched) and checked against the sha256
# sums in scripts/windows/pins before use. A complete prefix is marked by
# PREFIX/.done; older prefixes are removed. Every compile runs under nice -n 19
# (KEYPREP_WINDOWS_JOBS parallel jobs, default 2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: prefix.sh CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
host=x86_64-w64-mingw32
jobs=${KEYPREP_WINDOWS_JOBS:-2}
log() { echo "windows/prefix: $*" >&2; }

# Comment lines do not count: editing a comment rebuilds nothing.
key=$(cat "$here/pins" "$here/prefix.sh" | grep -v '^[[:space:]]*#' | sha256sum | cut -c1-16)
prefix=$cache/prefix-$key
if [ -f "$prefix/.done" ]; then
	echo "$prefix"
	exit 0
fi
# The cache is shared by every checkout of the machine: one build at a
# time; whoever waited finds the prefix done.
exec 9>"$cache/.prefix.lock"
flock 9
if [ -f "$prefix/.done" ]; then
	echo "$prefix"
	exit 0
fi

# pins: name debian-version tarball sha256
declare -A ver tarball sum
while read -r name v t s; do
	case "$name" in ''|'#'*) continue ;; esac
	ver[$name]=$v tarball[$name]=$t sum[$name]=$s
done <"$here/pins"

# Sources: Debian's archive (bookworm for OpenSSL 3.0, sid for libfido2 1.17
# and libcbor 0.10, which bookworm's archive no longer serves as tarballs).
src=$cache/src
mkdir -p "$src"
verify() { echo "${sum[$1]}  $src/${tarball[$1]}" | sha256sum --quiet -c - >/dev/null 2>&1; }
missing=()
for n in openssl libcbor libfido2; do verify "$n" || missing+=("$n=${ver[$n]}"); done
if [ ${#missing[@]} -gt 0 ]; then
	apt=$cache/apt
	mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/etc/sources.list.d" "$apt/etc/preferences.d"
	cat >"$apt/etc/sources.list" <<'LIST'
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian-security bookworm-security main
deb-src http://deb.debian.org/debian sid main
LIST
	aptopts=(-o "Dir::State=$apt" -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt"
		-o "Dir::Etc::SourceList=$apt/etc/sources.list" -o "Dir::Etc::SourceParts=$apt/etc/sources.list.d"
		-o "Dir::Etc::Preferences=$apt/etc/preferences" -o "Dir::Etc::PreferencesParts=$apt/etc/preferences.d"
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq)
	log "fetching ${missing[*]}"
	apt-get "${aptopts[@]}" update >/dev/null
	for m in "${missing[@]}"; do
		# Only the .orig tarball is used; a missing .dsc or Debian
		# patch set (sid moves on) does not matter, the checksum does.
		(cd "$src" && apt-get "${aptopts[@]}" source --download-only "$m" >/dev/null 2>&1) || true
	done
	for n in openssl libcbor libfido2; do
		if ! verify "$n"; then
			log "${tarball[$n]}: missing or sha256 mismatch (want ${sum[$n]})"
			exit 1
		fi
	done
fi

for t in $host-gcc $host-g++ cmake pkg-config make perl; do
	command -v "$t" >/dev/null || { log "$t not found (scripts/windows/deps.sh installs it)"; exit 1; }
done

# An interrupted build resumes: the build directory carries the same key,
# its steps are incremental (make, cmake --build), and each library that is
# finished is marked. Builds for other keys are removed.
build=$cache/build-$key
for d in "$cache"/prefix-* "$cache"/build-*; do
	case "$d" in "$prefix" | "$build" | "$cache/prefix-*" | "$cache/build-*") ;; *) rm -rf "$d" ;; esac
done
if [ ! -f "$build/.unpacked" ]; then
	rm -rf "$build" "$prefix"
	mkdir -p "$build"
	for n in openssl libcbor libfido2; do tar -xzf "$src/${tarball[$n]}" -C "$build"; done
	touch "$build/.unpacked"
fi
mkdir -p "$prefix"

# libcrypto only: no shared library, no loadable modules (the default
# provider is built in), no tests, apps or engines. OPENSSLDIR, where
# libcrypto looks for openssl.cnf at run time, is OpenSSL's own Windows
# default (writable by administrators only), not this build's prefix: a
# build path such as /work/... would become C:\work\... on the machine, a
# place any user may create, and an elevated keyprep would load a config
# planted there (the class of CVE-2019-1552).
if [ ! -f "$build/.openssl-done" ]; then
	log "openssl ${ver[openssl]}"
	(
		cd "$build"/openssl-*/
		if [ ! -f Makefile ]; then
			nice -n 19 ./Configure mingw64 --cross-compile-prefix=$host- --prefix="$prefix" --libdir=lib \
				--openssldir="C:/Program Files/Common Files/SSL" \
				no-shared no-module no-tests no-legacy no-engine no-ui-console
		fi
		nice -n 19 make -j"$jobs" build_libs
		nice -n 19 make install_dev
	) >>"$build/openssl.log" 2>&1 || { log "openssl failed; see $build/openssl.log"; tail -20 "$build/openssl.log" >&2; exit 1; }
	touch "$build/.openssl-done"
fi

cat >"$build/toolchain.cmake" <<TC
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER $host-gcc)
set(CMAKE_CXX_COMPILER $host-g++)
set(CMAKE_RC_COMPILER $host-windres)
set(CMAKE_FIND_ROOT_PATH /usr/$host $prefix)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
TC
# pkg-config sees only the prefix and mingw's own zlib.pc, never the host's.
export PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig:/usr/$host/lib/pkgconfig
export PKG_CONFIG_PATH=

cmake_build() { # name source-dir cmake-args...
	local n=$1 dir=$2
	shift 2
	[ -f "$build/.$n-done" ] && return 0
	log "$n ${ver[$n]}"
	(
		nice -n 19 cmake -S "$dir" -B "$build/$n-build" -DCMAKE_TOOLCHAIN_FILE="$build/toolchain.cmake" \
			-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib "$@"
		nice -n 19 cmake --build "$build/$n-build" -j "$jobs"
		nice -n 19 cmake --install "$build/$n-build"
	) >>"$build/$n.log" 2>&1 || { log "$n failed; see $build/$n.log"; tail -20 "$build/$n.log" >&2; exit 1; }
	touch "$build/.$n-done"
}
cmake_build libcbor "$(echo "$build"/libcbor-*/)" -DBUILD_SHARED_LIBS=OFF -DWITH_TESTS=OFF -DWITH_EXAMPLES=OFF
cmake_build libfido2 "$(echo "$build"/libfido2-*/)" -DBUILD_SHARED_LIBS=OFF -DBUILD_STATIC_LIBS=ON \
	-DBUILD_TESTS=OFF -DBUILD_EXAMPLES=OFF -DBUILD_MANPAGES=OFF -DBUILD_TOOLS=OFF

# Licence texts of what gets linked into keyprep.exe (for a release zip).
mkdir -p "$prefix/licenses"
cp "$build"/openssl-*/LICENSE.txt "$prefix/licenses/openssl.txt"
cp "$build"/libcbor-*/LICENSE.md "$prefix/licenses/libcbor.txt"
cp "$build"/libfido2-*/LICENSE "$prefix/licenses/libfido2.txt"

rm -rf "$build"
touch "$prefix/.done"
echo "$prefix"
