// Package hid is keyprep's thin binding over libfido2 (Yubico, Debian
// libfido2 1.12), the only cgo package in keyprep.
//
// A Device is a session that stays open across operations on one key: one
// CTAPHID_INIT and getInfo per Open, reliable cancellation through
// fido_dev_cancel, and a timeout on every operation (libfido2 blocks forever
// by default). Every entry point is a single C call that runs fido_init first,
// because libfido2 keeps its init flags in thread-local storage
// (ctap-notes.md §16.5). PINs are copied into C memory that is wiped with
// explicit_bzero and freed after use.
//
// Paths of the form "vkey:NAME" are routed through libfido2's custom I/O hooks
// (fido_dev_set_io_functions) to an in-process virtual key registered with
// RegisterVirtual, so tests run real libfido2 — CTAPHID framing, CBOR parsing,
// PIN protocol crypto, error codes — against a software authenticator.
//
// Built without cgo, the package compiles and every operation returns an
// error matching ErrNoLibfido2.
package hid
