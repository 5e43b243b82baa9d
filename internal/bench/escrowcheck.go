package bench

import (
	"errors"
	"fmt"

	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/store"
)

// ErrFleetEscrow is returned (wrapped) by New for a bench that shares a
// PostgreSQL store and could not open the PIN escrows it writes. Resuming
// a begun enrollment needs its PIN, which only its escrow holds, and in a
// fleet it resumes on whichever bench the key turns up at (this one after
// a restart, or another): so every bench must hold an identity that opens
// the escrows, and the escrows must not be sealed to one laptop's own
// bench key. The bench refuses before any key is touched.
var ErrFleetEscrow = errors.New("a bench sharing a store must be able to open the PIN escrows it writes")

// FleetEscrowHint says what to give a bench that ErrFleetEscrow stops.
const FleetEscrowHint = "give every bench the same fleet key as a recipient and as an identity, besides the helpdesk's recipient: " +
	"age-keygen -o fleet.key on one machine, copy it to each bench, and run with " +
	"--age-recipient age1helpdesk… --age-recipient $(age-keygen -y fleet.key) --identity fleet.key"

// escrowProbe is what checkFleetEscrow seals and opens (not a secret).
var escrowProbe = []byte("keyprep-escrow-probe")

// checkFleetEscrow decides, before the first side effect, whether a bench
// on a shared store can resume its enrollments: its PINs must be sealed to
// recipients that it (and so any bench set up alike) can open with its
// identities. On an SQLite store it checks nothing: the bench's own key
// (without --age-recipient) opens its escrows there, and a bench with
// recipients only says so, naming the escrow, when it resumes.
func checkFleetEscrow(o Options) error {
	st := o.Enroller.Store
	if st == nil || st.Backend() != store.BackendPostgres {
		return nil
	}
	if len(o.Request.Recipients) == 0 {
		return fmt.Errorf("%w: without --age-recipient the PINs would be sealed to this machine's own bench key, which no other bench and no helpdesk can open", ErrFleetEscrow)
	}
	recips, names, err := escrow.ParseRecipients(o.Request.Recipients)
	if err != nil {
		return nil // the enrollment reports a bad recipient, naming it
	}
	ct, err := escrow.Seal(escrowProbe, recips)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFleetEscrow, err)
	}
	ids := o.Enroller.AgeIdentities()
	if len(ids) == 0 {
		return fmt.Errorf("%w: the PINs are sealed to %d recipient(s) and this bench has no --identity to open them with", ErrFleetEscrow, len(names))
	}
	if _, err := escrow.Open(ct, ids); err != nil {
		return fmt.Errorf("%w: no --identity of this bench opens what is sealed to the --age-recipient recipients (%d given)", ErrFleetEscrow, len(names))
	}
	return nil
}
