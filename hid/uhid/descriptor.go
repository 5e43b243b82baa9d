package uhid

// FIDOReportDescriptor is the HID report descriptor of a CTAPHID key (CTAP
// 2.1 §11.2.8.1): usage page 0xF1D0 (FIDO Alliance), usage 0x01 (CTAPHID
// authenticator), one 64-byte input report (usage 0x20) and one 64-byte
// output report (usage 0x21), no report IDs. libfido2 on Linux only accepts
// hidraw nodes whose descriptor has this usage page.
var FIDOReportDescriptor = []byte{
	0x06, 0xD0, 0xF1, // Usage Page (FIDO Alliance 0xF1D0)
	0x09, 0x01, // Usage (CTAPHID authenticator)
	0xA1, 0x01, // Collection (Application)
	0x09, 0x20, //   Usage (input report data)
	0x15, 0x00, //   Logical Minimum (0)
	0x26, 0xFF, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //   Report Size (8 bits)
	0x95, 0x40, //   Report Count (64)
	0x81, 0x02, //   Input (Data, Var, Abs)
	0x09, 0x21, //   Usage (output report data)
	0x15, 0x00, //   Logical Minimum (0)
	0x26, 0xFF, 0x00, //   Logical Maximum (255)
	0x75, 0x08, //   Report Size (8 bits)
	0x95, 0x40, //   Report Count (64)
	0x91, 0x02, //   Output (Data, Var, Abs)
	0xC0, // End Collection
}

// ReportSize is the size of the descriptor's input and output reports.
const ReportSize = 64
