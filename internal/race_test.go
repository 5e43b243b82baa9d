//go:build race

package internal_test

func init() { buildFlags = append(buildFlags, "-race") }
