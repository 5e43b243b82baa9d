# Sourced by build.sh and test.sh after prefix.sh has printed $prefix: the
# environment of a windows/amd64 cgo build against the static prefix. The
# include and library directories reach cgo through CGO_CPPFLAGS and
# CGO_LDFLAGS, which are part of Go's cache keys, and the prefix's path
# carries the hash of its pins, so a changed pin recompiles the hid package
# and relinks. The static link line itself is in hid/device_cgo.go.
host=x86_64-w64-mingw32
export CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=$host-gcc CXX=$host-g++
export CGO_CPPFLAGS="-I$prefix/include"
export CGO_CFLAGS="-O2 -fstack-protector-strong -Wformat -Werror=format-security"
export CGO_LDFLAGS="-L$prefix/lib"
# The host's pkg-config must not leak Linux flags into this build (hid asks
# pkg-config only on other systems; this keeps it that way).
export PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig PKG_CONFIG_PATH=
