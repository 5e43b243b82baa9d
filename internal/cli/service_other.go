//go:build !windows

package cli

import "context"

// Outside Windows, keyprep service refuses before calling these
// (runServiceInstall), and serve always runs in the foreground.

func installService(context.Context, serviceConfig) error { return errServiceWindowsOnly }

func uninstallService(context.Context) error { return errServiceWindowsOnly }

// serveMaybeService runs serve in the foreground.
func serveMaybeService(ctx context.Context, _ *globals, serve func(context.Context) error) error {
	return serve(ctx)
}
