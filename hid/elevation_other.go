//go:build !windows

package hid

// keyAccessRestricted is false outside Windows: access to hidraw devices is
// a matter of file permissions, which opening a key reports.
func keyAccessRestricted() bool { return false }
