//go:build cgo && linux

// Package tokencache chooses azidentity's persistent token cache for the
// Graph client. It is the only part of the client whose files depend on cgo
// (azidentity's cache reaches the desktop keyring through libsecret), kept
// apart so that the no-cgo build is checked without compiling the Graph SDK
// again.
package tokencache

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity/cache"
)

// Persistent returns azidentity's persistent token cache (on Linux it
// keeps tokens in the desktop keyring through libsecret) or, where none is
// available (a headless bench without a keyring), an empty cache and a note
// saying why sign-ins will not persist across runs.
func Persistent() (azidentity.Cache, string) {
	c, err := cache.New(&cache.Options{Name: "keyprep"})
	if err != nil {
		return azidentity.Cache{}, "no persistent token cache (" + err.Error() + "); delegated sign-ins last for one run: prefer app-only authentication (certificate, managed identity) on a bench"
	}
	return c, ""
}
