package onboard

import (
	"fmt"
	"strings"
	"time"

	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/pin"
)

// Delivery says how an issued pass's slip reaches the user: `tap create`
// (one user or a batch) and `enroll --with-tap` all deliver through it.
type Delivery struct {
	Format string // text or html
	// Seal age-encrypts the slip (nil: plain). Recipients name the
	// recipients, for the record.
	Seal       Sealer
	Recipients []string
	// File is where the slip is written (mode 0600); "" hands it back to
	// the caller to print.
	File string
	// Replace lets File replace an existing file (a batch's own slips);
	// without it an existing file is never touched.
	Replace bool
	// Backup: the user's key is already registered (enroll --with-tap);
	// the slip keeps the pass as a backup (Slip.Backup).
	Backup bool
}

// Delivered is a delivered slip.
type Delivered struct {
	// File is the file written, or "".
	File string
	// Data is the slip handed back when there is no File: the plain slip
	// (it carries the pass: print it, then wipe it with pin.Wipe) or, when
	// sealed, the ASCII-armored age file.
	Data   []byte
	Sealed bool
	// Recipients are the Delivery's.
	Recipients []string
}

// WriteError is a slip that could not be written: the pass exists, but
// the user will not get it.
type WriteError struct {
	File string
	Err  error
}

func (e *WriteError) Error() string { return "write the slip " + e.File + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *WriteError) Unwrap() error { return e.Err }

// Deliver renders the slip of an issued pass, seals it when asked, and
// writes it to File or hands it back. A plain slip that was written or
// sealed is wiped; one handed back is the caller's to wipe.
func (d Delivery) Deliver(iss *Issued, now time.Time) (*Delivered, error) {
	slip := NewSlip(iss, now)
	slip.Backup = d.Backup
	data, err := slip.Render(d.Format)
	if err != nil {
		return nil, err
	}
	out := &Delivered{File: d.File, Sealed: d.Seal != nil, Recipients: d.Recipients}
	if d.Seal != nil {
		sealed, err := d.Seal(data)
		pin.Wipe(data)
		if err != nil {
			return nil, fmt.Errorf("encrypt the slip: %w", err)
		}
		data = sealed
	}
	if d.File == "" {
		out.Data = data
		return out, nil
	}
	err = escrow.WritePrivateFile(d.File, data, d.Replace)
	pin.Wipe(data)
	if err != nil {
		return nil, &WriteError{File: d.File, Err: err}
	}
	return out, nil
}

// Where says where the slip went, for the audit log: "printed", "file
// PATH" or "encrypted on stdout", with the age recipients.
func (d *Delivered) Where() string {
	where := "printed"
	switch {
	case d.File != "":
		where = "file " + d.File
	case d.Sealed:
		where = "encrypted on stdout"
	}
	if len(d.Recipients) > 0 {
		where += " (age: " + strings.Join(d.Recipients, ", ") + ")"
	}
	return where
}

// Wipe clears a slip handed back.
func (d *Delivered) Wipe() {
	if d != nil {
		pin.Wipe(d.Data)
	}
}
