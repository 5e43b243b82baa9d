//go:build cgo && race

package fleettest

// A race-instrumented test run builds keyprep with the race detector too,
// with the same exceptions as make test (the generated Graph SDK is left
// uninstrumented), so the build reuses the test build's packages from the
// cache and the benches' own concurrency is checked.
func init() {
	buildFlags = append(buildFlags, "-race",
		"-gcflags=github.com/microsoftgraph/...=-race=false",
		"-gcflags=github.com/microsoft/kiota-...=-race=false")
}
