// Package ctaphid is the device side of the CTAPHID USB HID protocol
// (CTAP 2.1 §11.2) for an in-process virtual FIDO2 key.
//
// A Device takes 64-byte output reports (host → key), reassembles CTAPHID
// messages, runs the transport-level commands itself (INIT, PING, WINK,
// CANCEL, errors) and hands CTAPHID_CBOR payloads to an Authenticator. Its
// answers are fragmented into 64-byte input reports (key → host) that every
// open connection sees, the way every open hidraw file descriptor sees every
// input report of a real key; hosts (libfido2) filter by channel ID.
//
// Typical use:
//
//	dev := ctaphid.NewDevice(auth, ctaphid.Config{})
//	defer dev.Close()
//	conn := dev.Connect() // a hid.ReportConn, e.g. behind libfido2's I/O hooks
//
// A /dev/uhid transport can use Connect too (Write each OUTPUT event without
// its report-ID byte, loop on Read and forward each report as an INPUT2 event),
// or call HandleOutputReport directly.
//
// Protocol behaviour, in short:
//
//   - INIT (0x86) on the broadcast CID 0xFFFFFFFF allocates a fresh channel and
//     answers on the broadcast CID with nonce(8) CID(4) 2 major minor build
//     caps, caps = WINK|CBOR|NMSG (0x0D). INIT on any other non-zero CID
//     resynchronises that channel (its pending message or command is dropped,
//     a running CBOR command is cancelled and its answer suppressed) and echoes
//     the CID. INIT is always answered, even while the device is busy.
//   - One transaction at a time device-wide: a channel that starts a message
//     while another channel's message is being assembled or processed gets
//     ERROR CHANNEL_BUSY at once. The same channel starting a new message in
//     the middle of one gets ERROR INVALID_SEQ (and the old message is
//     dropped); during CBOR processing it gets CHANNEL_BUSY.
//   - CBOR (0x90) runs Authenticator.HandleCBOR in its own goroutine, with
//     KEEPALIVE (0xBB) reports every Config.KeepaliveInterval carrying the
//     latest status the authenticator reported (PROCESSING by default).
//     CANCEL (0x91) on that channel cancels the command's context; CANCEL is
//     never answered. Calls into the Authenticator are serialised.
//   - MSG (U2F), LOCK, vendor and unknown commands get ERROR INVALID_CMD.
//   - An incomplete message older than Config.TransactionTimeout is dropped
//     with ERROR MSG_TIMEOUT.
//
// The Faults switches break the framing of the device's answers on purpose so
// that end-to-end tests can prove they detect broken framing.
package ctaphid
