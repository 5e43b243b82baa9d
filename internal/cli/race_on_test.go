//go:build race

package cli

// raceBuild: this test binary (and so the keyprep processes the tests
// start from it) runs under the race detector, which multiplies memory use
// and slows everything down.
const raceBuild = true
