//go:build !cgo || !linux

package graph

import "github.com/Azure/azure-sdk-for-go/sdk/azidentity"

// persistentCache: azidentity's persistent cache needs cgo on Linux; this
// build has none, so sign-ins last for one run.
func persistentCache() (azidentity.Cache, string) {
	return azidentity.Cache{}, "no persistent token cache in this build (azidentity's cache needs cgo and libsecret); delegated sign-ins last for one run"
}
