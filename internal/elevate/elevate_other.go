//go:build !windows

package elevate

import "context"

// Elevated is true outside Windows: there, access to a key is a matter of
// the device file's permissions, which opening it reports.
func Elevated() bool { return true }

// Relaunch is Windows only.
func Relaunch(context.Context, []string) (int, error) { return 0, ErrUnavailable }

// RunChild is Windows only.
func RunChild([]string) (*Request, <-chan struct{}, error) { return nil, nil, ErrUnavailable }
