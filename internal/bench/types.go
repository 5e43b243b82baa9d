// Package bench is keyprep's provisioning bench: every attached key is a
// slot with its own state machine, slots work in parallel through one
// queue of users, keys come and go while it runs (hot-plug), and every
// step is journaled in the store through internal/enroll. The foreground
// `keyprep enroll --csv` and the daemon `keyprep serve` drive the same
// Runner; the daemon's local API and dashboard (package bench/api) see it
// through the Engine interface.
package bench

import (
	"context"
	"io"
	"time"

	"github.com/keyprep/keyprep/internal/enroll"
)

// Requester is who asked to see a PIN, and from where (the audit log's
// record of a reveal).
type Requester = enroll.Requester

// RevealViaAPI is Requester.Via for a reveal through the bench API.
const RevealViaAPI = enroll.RevealViaAPI

// SlotState is where a slot (one attached key) is.
type SlotState string

// Slot states.
const (
	// SlotIdle: a key is attached and ready; no user is pending.
	SlotIdle SlotState = "idle"
	// SlotWorking: enrolling a user (Step says where).
	SlotWorking SlotState = "working"
	// SlotTouch: waiting for the person at the bench to touch the key.
	SlotTouch SlotState = "touch"
	// SlotDone: the key is provisioned; remove it and plug in the next.
	SlotDone SlotState = "done"
	// SlotAttention: the key cannot be used as it is (PIN set by someone
	// else, refused, full…); Message says why, Hint what to do.
	SlotAttention SlotState = "attention"
	// SlotRemoved: the key was pulled out (kept briefly for the display).
	SlotRemoved SlotState = "removed"
)

// Slot is one attached key as the bench sees it.
type Slot struct {
	ID    string `json:"id"`  // stable for the key's presence
	Key   string `json:"key"` // device path
	Model string `json:"model,omitempty"`
	// Serial is the key's USB serial number string ("" when none): how
	// another bench recognises the key (docs/architecture.md §3.2).
	Serial  string    `json:"serial,omitempty"`
	State   SlotState `json:"state"`
	UPN     string    `json:"upn,omitempty"`
	Step    string    `json:"step,omitempty"`
	Message string    `json:"message,omitempty"` // e.g. "touch the key now"
	Hint    string    `json:"hint,omitempty"`
	JobID   string    `json:"jobId,omitempty"`
	Done    int       `json:"done"` // users enrolled on this key in this run
	Since   time.Time `json:"since"`
}

// ItemState is where a user of the queue is.
type ItemState string

// Queue item states.
const (
	ItemPending ItemState = "pending"
	ItemActive  ItemState = "active"
	ItemDone    ItemState = "done"
	// ItemSkipped: already enrolled before (journal or Entra).
	ItemSkipped ItemState = "skipped"
	ItemFailed  ItemState = "failed"
)

// Item is one user in the queue.
type Item struct {
	UPN         string    `json:"upn"`
	DisplayName string    `json:"displayName,omitempty"`
	Batch       string    `json:"batch,omitempty"`
	Line        int       `json:"line,omitempty"`
	State       ItemState `json:"state"`
	Key         string    `json:"key,omitempty"`
	JobID       string    `json:"jobId,omitempty"`
	Attempts    int       `json:"attempts"`
	Error       string    `json:"error,omitempty"`
	Hint        string    `json:"hint,omitempty"`
	Updated     time.Time `json:"updated"`
}

// Result is one finished enrollment (no PIN).
type Result struct {
	UPN             string    `json:"upn"`
	User            string    `json:"user,omitempty"` // display name
	UserID          string    `json:"userId"`
	MethodID        string    `json:"methodId"`
	CredentialID    string    `json:"credentialId"`
	AAGUID          string    `json:"aaguid"`
	Model           string    `json:"model"`
	Key             string    `json:"key"`
	JobID           string    `json:"jobId"`
	Verified        bool      `json:"verified"`
	PINEscrow       string    `json:"pinEscrow,omitempty"` // escrow id
	CreatedDateTime time.Time `json:"createdDateTime"`
	// Serial is the key's USB serial number string ("" when none).
	Serial string `json:"serial,omitempty"`
	// Skipped are the requested settings the key could not take
	// (--skip-unsupported), "flag: why".
	Skipped []string `json:"skipped,omitempty"`
}

// Counts summarise the queue.
type Counts struct {
	Total   int `json:"total"`
	Pending int `json:"pending"`
	Active  int `json:"active"`
	Done    int `json:"done"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
}

// Snapshot is the whole bench at one moment.
type Snapshot struct {
	Slots   []Slot    `json:"slots"`
	Queue   []Item    `json:"queue"`
	Results []Result  `json:"results"`
	Counts  Counts    `json:"counts"`
	Started time.Time `json:"started"`
	// PerHour is the enrollment rate since the first one started; ETA the
	// estimated time left for the pending users (zero when unknown).
	PerHour float64       `json:"perHour"`
	ETA     time.Duration `json:"eta"`
	// OptionsPrefetched counts enrollments whose creationOptions were
	// fetched while another key waited for its touch.
	OptionsPrefetched int `json:"optionsPrefetched"`
}

// EventType says what an Event is about.
type EventType string

// Event types.
const (
	EventSlot   EventType = "slot"   // Slot changed
	EventItem   EventType = "item"   // Item changed
	EventResult EventType = "result" // Result recorded
	EventBatch  EventType = "batch"  // users submitted (Message)
	EventIdle   EventType = "idle"   // nothing pending and no slot working
	// EventCleared: the operator cleared users from the queue (Message);
	// a client showing the queue takes a fresh view.
	EventCleared EventType = "cleared"
)

// Event is one change, in order (Seq increases by one).
type Event struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Type    EventType `json:"type"`
	Slot    *Slot     `json:"slot,omitempty"`
	Item    *Item     `json:"item,omitempty"`
	Result  *Result   `json:"result,omitempty"`
	Message string    `json:"message,omitempty"`
}

// RowError is a problem with one row of a submitted user list.
type RowError struct {
	Line int    `json:"line"`
	UPN  string `json:"upn,omitempty"`
	Msg  string `json:"message"`
}

// Submission is what Submit did with a user list.
type Submission struct {
	Batch     string     `json:"batch"`
	Added     int        `json:"added"`
	Duplicate int        `json:"duplicate"` // already queued or done
	Errors    []RowError `json:"errors"`
}

// KeyInfo is an attached key.
type KeyInfo struct {
	Path    string `json:"path"`
	Product string `json:"product,omitempty"`
	Serial  string `json:"serial,omitempty"` // USB serial number string
	Slot    string `json:"slot,omitempty"`
}

// Engine is what the daemon's API and dashboard need of the bench.
type Engine interface {
	Snapshot() Snapshot
	Keys(ctx context.Context) ([]KeyInfo, error)
	// Submit queues the users of a CSV list (internal/userlist); rows
	// with problems are returned, not queued. A file-level problem is an
	// error matching userlist.ErrFormat.
	Submit(ctx context.Context, name string, csv io.Reader) (*Submission, error)
	// RetryFailed requeues every failed user and returns how many.
	RetryFailed(ctx context.Context) (int, error)
	// View is the bounded snapshot: counts of the whole queue, one page
	// of it and the newest results (PageItems pages it).
	View(q ViewQuery) View
	// Clear removes failed users, or a batch with none pending or at
	// work (ErrBatchBusy, ErrNoBatch), from the run's queue and returns
	// how many.
	Clear(ctx context.Context, c Clear) (int, error)
	// Subscribe delivers every event after the current snapshot until ctx
	// ends (then the channel is closed). A subscriber that falls behind
	// gets its channel closed early and must take a new snapshot.
	Subscribe(ctx context.Context) <-chan Event
	// RevealPIN decrypts the escrowed PIN of a finished enrollment for the
	// operator by (audited: who, via, from). The caller wipes it.
	RevealPIN(ctx context.Context, upn string, by Requester) ([]byte, error)
}
