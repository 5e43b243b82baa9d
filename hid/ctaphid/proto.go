package ctaphid

// CTAPHID commands as they appear on the wire (bit 7 set), CTAP 2.1 §11.2.9.
const (
	CmdPing      byte = 0x81
	CmdMsg       byte = 0x83
	CmdLock      byte = 0x84
	CmdInit      byte = 0x86
	CmdWink      byte = 0x88
	CmdCBOR      byte = 0x90
	CmdCancel    byte = 0x91
	CmdKeepalive byte = 0xBB
	CmdError     byte = 0xBF
)

// CTAPHID_ERROR codes (CTAP 2.1 §11.2.9.1.6), the 1-byte payload of CmdError.
const (
	ErrorInvalidCmd     byte = 0x01
	ErrorInvalidPar     byte = 0x02
	ErrorInvalidLen     byte = 0x03
	ErrorInvalidSeq     byte = 0x04
	ErrorMsgTimeout     byte = 0x05
	ErrorChannelBusy    byte = 0x06
	ErrorLockRequired   byte = 0x0A
	ErrorInvalidChannel byte = 0x0B
	ErrorOther          byte = 0x7F
)

// KEEPALIVE status bytes (CTAP 2.1 §11.2.9.2.1).
const (
	StatusProcessing byte = 1
	StatusUPNeeded   byte = 2
)

// Capability flags in the INIT response.
const (
	CapWink byte = 0x01
	CapCBOR byte = 0x04
	CapNMSG byte = 0x08
)

// Capabilities is what this device advertises in its INIT response.
const Capabilities = CapWink | CapCBOR | CapNMSG

// ProtocolVersion is the CTAPHID protocol version in the INIT response.
const ProtocolVersion byte = 2

// BroadcastCID is the channel on which INIT allocates a new channel.
const BroadcastCID uint32 = 0xFFFFFFFF

// Packet geometry for 64-byte reports.
const (
	InitDataSize = 64 - 7 // payload bytes in an initialization packet (57)
	ContDataSize = 64 - 5 // payload bytes in a continuation packet (59)
	// MaxMessageSize is the largest CTAPHID message: one init packet plus 128
	// continuation packets (SEQ 0..0x7F).
	MaxMessageSize = InitDataSize + 128*ContDataSize // 7609
)

// CTAP2 status bytes the device itself may put in a CBOR answer.
const (
	ctap2ErrKeepaliveCancel byte = 0x2D
	ctap1ErrOther           byte = 0x7F
)
