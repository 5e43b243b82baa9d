//go:build !cgo || !linux

package tokencache

import "github.com/Azure/azure-sdk-for-go/sdk/azidentity"

// Persistent: azidentity's persistent cache needs cgo on Linux; this
// build has none, so sign-ins last for one run.
func Persistent() (azidentity.Cache, string) {
	return azidentity.Cache{}, "no persistent token cache in this build (azidentity's cache needs cgo and libsecret); delegated sign-ins last for one run"
}
