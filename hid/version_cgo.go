//go:build cgo && !windows

package hid

/*
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <fido.h>

// kp_fido_library is the file the dynamic linker loaded fido_init from
// ("" when it cannot tell, e.g. a static build).
static const char *kp_fido_library(void) {
	Dl_info info;
	if (dladdr((void *)fido_init, &info) == 0 || info.dli_fname == NULL)
		return "";
	return info.dli_fname;
}
*/
import "C"

import (
	"path/filepath"
	"strings"
)

// LibraryVersion reports the libfido2 this process runs with: the version
// in the real file name of the shared library the dynamic linker loaded
// (libfido2.so.1 is a link to libfido2.so.1.12.0 on Debian), and that
// file's path. libfido2 has no version function of its own; version is ""
// when the name does not carry one (a static build, an unusual layout).
func LibraryVersion() (version, path string) {
	path = C.GoString(C.kp_fido_library())
	if path == "" {
		return "", ""
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return libraryFileVersion(filepath.Base(path)), path
}

// libraryFileVersion returns "1.12.0" for "libfido2.so.1.12.0", "" for a
// name without a full version.
func libraryFileVersion(name string) string {
	v, ok := strings.CutPrefix(name, "libfido2.so.")
	parts := strings.Split(v, ".")
	if !ok || len(parts) != 3 {
		return ""
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return ""
		}
	}
	return v
}
