// Package bio manages the fingerprints of a bio security key (CTAP 2.1
// §6.7 authenticatorBioEnrollment) with the key's owner present: the
// checks before anything is changed, the sample loop of an enrollment with
// a prompt per sample and the key's feedback on each, and naming, listing
// and deleting fingerprints. It works against the Key interface, which
// *hid.Device satisfies through HID; the CLI only wires and prints.
package bio

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyprep/keyprep/hid"
)

// Sampler is an enrollment in progress on the key.
type Sampler interface {
	// ID is the template id the key gave the fingerprint being enrolled.
	ID() []byte
	// Next captures one more sample; the key waits up to timeout.
	Next(ctx context.Context, timeout time.Duration) (hid.BioSample, error)
	// Close releases the host side (it does not cancel on the key).
	Close()
}

// Key is what fingerprint management needs of a key.
type Key interface {
	Path() string
	Info(ctx context.Context) (*hid.Info, error)
	BioInfo(ctx context.Context) (hid.BioSensorInfo, error)
	BioTemplates(ctx context.Context, pin []byte) ([]hid.BioTemplate, error)
	BioSetName(ctx context.Context, pin, id []byte, name string) error
	BioRemove(ctx context.Context, pin, id []byte) error
	BioEnrollCancel(ctx context.Context) error
	// BeginEnroll starts an enrollment and captures its first sample.
	BeginEnroll(ctx context.Context, pin []byte, timeout time.Duration) (Sampler, hid.BioSample, error)
}

// HID adapts an open hid.Device to Key.
func HID(d *hid.Device) Key { return hidKey{d} }

type hidKey struct{ *hid.Device }

func (k hidKey) BeginEnroll(ctx context.Context, pin []byte, timeout time.Duration) (Sampler, hid.BioSample, error) {
	e, s, err := k.BioEnrollBegin(ctx, pin, timeout)
	if err != nil {
		return nil, s, err
	}
	return e, s, nil
}

// Errors; match with errors.Is. Each *Error carries one of them.
var (
	// ErrNotBio: the key has no fingerprint sensor (no bio enrollment).
	ErrNotBio = errors.New("not a fingerprint key")
	// ErrNoPIN: the key has no PIN; fingerprints are managed with the PIN.
	ErrNoPIN = errors.New("the key has no PIN")
	// ErrNoFinger: no finger came within the sample timeout.
	ErrNoFinger = errors.New("no finger on the sensor")
	// ErrTooManySamples: the key kept rejecting samples.
	ErrTooManySamples = errors.New("too many rejected samples")
	// ErrNotFound: no fingerprint matches the one named.
	ErrNotFound = errors.New("no such fingerprint")
	// ErrAmbiguous: several fingerprints have the name given.
	ErrAmbiguous = errors.New("several fingerprints match")
	// ErrName: the friendly name cannot be used.
	ErrName = errors.New("unusable fingerprint name")
	// ErrFull: the key holds as many fingerprints as it can.
	ErrFull = errors.New("the key's fingerprint storage is full")
)

// Error is a failure with what to do about it.
type Error struct {
	Kind error  // one of the Err* above
	Msg  string // what happened, naming the key
	Hint string // what to do
	Err  error  // the key's error, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

// Is matches Kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the key's error.
func (e *Error) Unwrap() error { return e.Err }

// MaxNameLength is the longest friendly name keyprep sends, in bytes
// (CTAP 2.1 §6.7.2 leaves the limit to the key, which reports it as
// maxTemplateFriendlyName; libfido2 1.12 does not expose it).
const MaxNameLength = 32

// DefaultSampleTimeout is how long the key waits for the finger per sample.
const DefaultSampleTimeout = 30 * time.Second

// Caps is what the key says about fingerprints before anything changes.
type Caps struct {
	// Enrolled: at least one fingerprint is enrolled (getInfo uv or
	// bioEnroll true), so the key verifies its user by fingerprint.
	Enrolled bool
	PINSet   bool
}

// Check reads getInfo and refuses a key without a fingerprint sensor or
// without a PIN, before any side effect.
func Check(ctx context.Context, k Key) (Caps, error) {
	info, err := k.Info(ctx)
	if err != nil {
		return Caps{}, fmt.Errorf("%s: read info: %w", k.Path(), err)
	}
	be, beOK := info.Option("bioEnroll")
	pre, preOK := info.Option("userVerificationMgmtPreview")
	if !beOK && !preOK {
		return Caps{}, &Error{Kind: ErrNotBio, Msg: fmt.Sprintf("%s has no fingerprint sensor (getInfo lists neither bioEnroll nor userVerificationMgmtPreview)", k.Path()),
			Hint: "use a bio key (keyprep keys lists the attached keys); other keys verify their user by PIN only"}
	}
	uv, _ := info.Option("uv")
	pinSet, _ := info.Option("clientPin")
	c := Caps{Enrolled: be || pre || uv, PINSet: pinSet}
	if !c.PINSet {
		return c, &Error{Kind: ErrNoPIN, Msg: fmt.Sprintf("%s has no PIN; fingerprints are managed with the PIN", k.Path()),
			Hint: "set a PIN first: keyprep pin set --key " + k.Path()}
	}
	return c, nil
}

// Template is one enrolled fingerprint.
type Template struct {
	ID   string `json:"id"` // hex
	Name string `json:"name"`
}

// List returns the key's fingerprints.
func List(ctx context.Context, k Key, pin []byte) ([]Template, error) {
	if _, err := Check(ctx, k); err != nil {
		return nil, err
	}
	return list(ctx, k, pin)
}

func list(ctx context.Context, k Key, pin []byte) ([]Template, error) {
	ts, err := k.BioTemplates(ctx, pin)
	if err != nil {
		return nil, fmt.Errorf("%s: list fingerprints: %w", k.Path(), err)
	}
	out := make([]Template, 0, len(ts))
	for _, t := range ts {
		out = append(out, Template{ID: hex.EncodeToString(t.ID), Name: t.Name})
	}
	return out, nil
}

// CheckName refuses a friendly name keyprep will not send: empty, longer
// than MaxNameLength bytes, not UTF-8 or with control characters.
func CheckName(name string) error {
	bad := func(why string) error {
		return &Error{Kind: ErrName, Msg: fmt.Sprintf("fingerprint name %q %s", name, why),
			Hint: fmt.Sprintf("use a short name such as \"right index\" (at most %d bytes)", MaxNameLength)}
	}
	switch {
	case strings.TrimSpace(name) == "":
		return bad("is empty")
	case len(name) > MaxNameLength:
		return bad(fmt.Sprintf("is %d bytes long", len(name)))
	case !utf8.ValidString(name):
		return bad("is not UTF-8")
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return bad("has control characters")
	}
	return nil
}

// find picks the fingerprint named by sel: its hex id, or its name.
func find(ts []Template, sel string, path string) (Template, error) {
	var hits []Template
	for _, t := range ts {
		if strings.EqualFold(t.ID, sel) {
			return t, nil
		}
		if t.Name != "" && t.Name == sel {
			hits = append(hits, t)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return Template{}, &Error{Kind: ErrNotFound, Msg: fmt.Sprintf("%s holds no fingerprint %q", path, sel),
			Hint: "keyprep bio list --key " + path + " shows the fingerprints by id and name"}
	}
	return Template{}, &Error{Kind: ErrAmbiguous, Msg: fmt.Sprintf("%s holds %d fingerprints named %q", path, len(hits), sel),
		Hint: "name the fingerprint by its id (keyprep bio list --key " + path + ")"}
}

// Rename gives the fingerprint sel (id or name) a new name.
func Rename(ctx context.Context, k Key, pin []byte, sel, name string) (Template, error) {
	if err := CheckName(name); err != nil {
		return Template{}, err
	}
	if _, err := Check(ctx, k); err != nil {
		return Template{}, err
	}
	ts, err := list(ctx, k, pin)
	if err != nil {
		return Template{}, err
	}
	t, err := find(ts, sel, k.Path())
	if err != nil {
		return Template{}, err
	}
	if err := nameFree(ts, name, t.ID, k.Path()); err != nil {
		return Template{}, err
	}
	id, _ := hex.DecodeString(t.ID)
	if err := k.BioSetName(ctx, pin, id, name); err != nil {
		return Template{}, fmt.Errorf("%s: rename fingerprint %s: %w", k.Path(), t.ID, err)
	}
	t.Name = name
	return t, nil
}

func nameFree(ts []Template, name, except, path string) error {
	for _, t := range ts {
		if t.Name == name && t.ID != except {
			return &Error{Kind: ErrName, Msg: fmt.Sprintf("%s already holds a fingerprint named %q (id %s)", path, name, t.ID),
				Hint: "choose another name, or rename or delete that fingerprint first"}
		}
	}
	return nil
}

// Resolve returns the fingerprint sel (id or name) without changing
// anything (for a confirmation before Delete).
func Resolve(ctx context.Context, k Key, pin []byte, sel string) (Template, error) {
	if _, err := Check(ctx, k); err != nil {
		return Template{}, err
	}
	ts, err := list(ctx, k, pin)
	if err != nil {
		return Template{}, err
	}
	return find(ts, sel, k.Path())
}

// Delete removes the fingerprint t (from Resolve).
func Delete(ctx context.Context, k Key, pin []byte, t Template) error {
	id, err := hex.DecodeString(t.ID)
	if err != nil || len(id) == 0 {
		return &Error{Kind: ErrNotFound, Msg: fmt.Sprintf("fingerprint id %q is not hex", t.ID)}
	}
	if err := k.BioRemove(ctx, pin, id); err != nil {
		return fmt.Errorf("%s: delete fingerprint %s: %w", k.Path(), t.ID, err)
	}
	return nil
}

// EventKind says what an enrollment Event reports.
type EventKind int

const (
	// EventTouch: the key waits for the finger (Sample is the sample
	// about to be taken, Remaining the good samples still needed).
	EventTouch EventKind = iota + 1
	// EventSample: the key judged a sample (Feedback, Remaining).
	EventSample
	// EventDone: the fingerprint is enrolled.
	EventDone
	// EventCancelled: the enrollment was cancelled on the key.
	EventCancelled
)

// Event is one step of an enrollment, for the person at the key.
type Event struct {
	Kind      EventKind
	Sample    int // 1-based sample number
	Remaining int
	Feedback  hid.BioFeedback
	// Accepted: the sample counted (Remaining went down).
	Accepted bool
	Message  string // what to tell the person
}

// EnrollOptions tune an enrollment.
type EnrollOptions struct {
	// Name is the friendly name to give the fingerprint ("" leaves it
	// unnamed).
	Name string
	// SampleTimeout is how long the key waits for the finger per sample
	// (0: DefaultSampleTimeout).
	SampleTimeout time.Duration
	// MaxRejected is how many rejected samples end the enrollment
	// (0: three times the samples the key needs).
	MaxRejected int
}

// cancelBudget bounds the cancel that cleans up after a failed enrollment.
const cancelBudget = 5 * time.Second

// Enroll enrolls one fingerprint with the person at the key: it checks
// the key, then asks for one sample after another, reporting each prompt
// and the key's feedback through report, until the key needs no more.
// A missing finger, too many rejected samples or a cancelled ctx cancel
// the enrollment on the key, so nothing half-enrolled is left; a name is
// set once the fingerprint is enrolled (if that fails, the fingerprint is
// removed again).
func Enroll(ctx context.Context, k Key, pin []byte, o EnrollOptions, report func(Event)) (Template, error) {
	if report == nil {
		report = func(Event) {}
	}
	if o.Name != "" {
		if err := CheckName(o.Name); err != nil {
			return Template{}, err
		}
	}
	if _, err := Check(ctx, k); err != nil {
		return Template{}, err
	}
	if o.Name != "" {
		ts, err := list(ctx, k, pin)
		if err != nil {
			return Template{}, err
		}
		if err := nameFree(ts, o.Name, "", k.Path()); err != nil {
			return Template{}, err
		}
	}
	sensor, err := k.BioInfo(ctx)
	if err != nil {
		return Template{}, fmt.Errorf("%s: read the fingerprint sensor: %w", k.Path(), err)
	}
	timeout := o.SampleTimeout
	if timeout <= 0 {
		timeout = DefaultSampleTimeout
	}
	maxRejected := o.MaxRejected
	if maxRejected <= 0 {
		maxRejected = 3 * max(sensor.MaxSamples, 1)
	}

	n := 1
	report(Event{Kind: EventTouch, Sample: n, Remaining: sensor.MaxSamples, Message: touchPrompt(sensor, n, sensor.MaxSamples)})
	e, s, err := k.BeginEnroll(ctx, pin, timeout)
	if err != nil {
		// The key may hold the enrollment it began: cancel it.
		return Template{}, abort(ctx, k, report, sampleErr(k, err, timeout, n))
	}
	defer e.Close()
	id := e.ID()
	rejected := 0
	for {
		ev := Event{Kind: EventSample, Sample: n, Remaining: s.Remaining, Feedback: s.Feedback,
			Accepted: s.Feedback == hid.BioFeedbackGood, Message: FeedbackMessage(s.Feedback)}
		report(ev)
		if s.Remaining == 0 {
			break
		}
		if !ev.Accepted {
			rejected++
			if rejected >= maxRejected {
				return Template{}, abort(ctx, k, report, &Error{Kind: ErrTooManySamples,
					Msg:  fmt.Sprintf("%s rejected %d samples (last: %s)", k.Path(), rejected, FeedbackMessage(s.Feedback)),
					Hint: "clean and dry the finger and the sensor, or enroll another finger; run keyprep bio enroll again"})
			}
		}
		n++
		report(Event{Kind: EventTouch, Sample: n, Remaining: s.Remaining, Message: touchPrompt(sensor, n, s.Remaining)})
		if s, err = e.Next(ctx, timeout); err != nil {
			return Template{}, abort(ctx, k, report, sampleErr(k, err, timeout, n))
		}
	}
	t := Template{ID: hex.EncodeToString(id)}
	if o.Name != "" {
		if err := k.BioSetName(ctx, pin, id, o.Name); err != nil {
			rmErr := k.BioRemove(context.WithoutCancel(ctx), pin, id)
			msg := fmt.Sprintf("%s: naming the new fingerprint failed, so it was removed again", k.Path())
			if rmErr != nil {
				msg = fmt.Sprintf("%s: naming the new fingerprint %s failed, and removing it failed too (%v)", k.Path(), t.ID, rmErr)
			}
			return Template{}, fmt.Errorf("%s: %w", msg, err)
		}
		t.Name = o.Name
	}
	report(Event{Kind: EventDone, Sample: n, Message: "fingerprint enrolled"})
	return t, nil
}

// sampleErr explains a failed sample.
func sampleErr(k Key, err error, timeout time.Duration, n int) error {
	switch {
	case errors.Is(err, hid.ErrUserActionTimeout):
		return &Error{Kind: ErrNoFinger, Err: err,
			Msg: fmt.Sprintf("%s: no finger on the sensor within %v (sample %d)", k.Path(), timeout, n),
			Hint: "the enrollment was cancelled and nothing was stored; run keyprep bio enroll again with the employee at the key " +
				"(touch the sensor when asked; --sample-timeout gives more time)"}
	case errors.Is(err, hid.ErrFPDatabaseFull):
		return &Error{Kind: ErrFull, Err: err, Msg: fmt.Sprintf("%s holds as many fingerprints as it can", k.Path()),
			Hint: "delete one first (keyprep bio list, keyprep bio delete)"}
	}
	return fmt.Errorf("%s: fingerprint sample %d: %w", k.Path(), n, err)
}

// abort cancels the enrollment on the key (even when ctx is done) and
// returns cause.
func abort(ctx context.Context, k Key, report func(Event), cause error) error {
	if errors.Is(cause, ErrFull) {
		return cause // the key began nothing
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelBudget)
	defer cancel()
	if err := k.BioEnrollCancel(cctx); err != nil {
		return fmt.Errorf("%w (cancelling the enrollment on the key failed too: %v; unplug the key to end it)", cause, err)
	}
	report(Event{Kind: EventCancelled, Message: "enrollment cancelled on the key; nothing was stored"})
	return cause
}

func touchPrompt(s hid.BioSensorInfo, n, remaining int) string {
	verb := "touch the sensor with the finger"
	if s.Kind == 2 {
		verb = "swipe the finger over the sensor"
	}
	if n == 1 {
		return fmt.Sprintf("%s to enroll (%d good samples needed)", verb, remaining)
	}
	return fmt.Sprintf("lift the finger, then %s again (%d more)", verb, remaining)
}

// FeedbackMessage is what to tell the person about a sample the key
// judged (CTAP 2.1 §6.7.1 lastEnrollSampleStatus).
func FeedbackMessage(f hid.BioFeedback) string {
	switch f {
	case hid.BioFeedbackGood:
		return "good sample"
	case hid.BioFeedbackTooHigh:
		return "finger too high on the sensor: move it down"
	case hid.BioFeedbackTooLow:
		return "finger too low on the sensor: move it up"
	case hid.BioFeedbackTooLeft:
		return "finger too far left: move it right"
	case hid.BioFeedbackTooRight:
		return "finger too far right: move it left"
	case hid.BioFeedbackTooFast:
		return "finger lifted too fast: hold it until asked to lift"
	case hid.BioFeedbackTooSlow:
		return "too slow: touch and lift a little quicker"
	case hid.BioFeedbackPoorQuality:
		return "poor sample: clean and dry the finger and the sensor, press the finger flat"
	case hid.BioFeedbackTooSkewed:
		return "finger at an angle: place it straight"
	case hid.BioFeedbackTooShort:
		return "touch too short: hold the finger on the sensor a little longer"
	case hid.BioFeedbackMergeFailure:
		return "the sample does not match the earlier ones: use the same finger"
	case hid.BioFeedbackExists:
		return "this finger is already enrolled on the key: use another finger"
	case hid.BioFeedbackDatabaseFull:
		return "the key's fingerprint storage is full"
	case hid.BioFeedbackNoUserActivity:
		return "no finger detected"
	case hid.BioFeedbackNoUserPresenceTransition:
		return "lift the finger off the sensor before the next touch"
	}
	return fmt.Sprintf("the key reported sample status %s", f)
}
