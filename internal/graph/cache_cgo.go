//go:build cgo && linux

package graph

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity/cache"
)

// persistentCache returns azidentity's persistent token cache (on Linux it
// keeps tokens in the desktop keyring through libsecret) or, where none is
// available (a headless bench without a keyring), an empty cache and a note
// saying why sign-ins will not persist across runs.
func persistentCache() (azidentity.Cache, string) {
	c, err := cache.New(&cache.Options{Name: "keyprep"})
	if err != nil {
		return azidentity.Cache{}, "no persistent token cache (" + err.Error() + "); delegated sign-ins last for one run: prefer app-only authentication (certificate, managed identity) on a bench"
	}
	return c, ""
}
