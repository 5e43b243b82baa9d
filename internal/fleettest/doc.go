// Package fleettest holds the fleet's end-to-end tests and benchmarks
// (docs/architecture.md §3.1): several benches, each a real keyprep
// process with its own state directory and virtual keys, share one
// PostgreSQL store and one emulated Entra tenant. The tests build
// keyprep from this module once, start the processes and check the
// outcome through the tenant, the store and the keys themselves.
//
// The package has no code of its own; everything is in its tests.
package fleettest
