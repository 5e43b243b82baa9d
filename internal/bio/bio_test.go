package bio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyprep/keyprep/hid"
)

// fakeKey is a bio key whose samples follow a script: each entry is the
// feedback of one sample, or timeout for no finger.
type fakeKey struct {
	options   map[string]bool
	samples   []string // "good", "poor", "timeout"
	need      int
	templates []hid.BioTemplate
	pending   []byte // enrollment in progress
	remaining int
	cancels   int
	nameErr   error
	calls     []string
}

func newFake(samples ...string) *fakeKey {
	return &fakeKey{options: map[string]bool{"bioEnroll": false, "uv": false, "clientPin": true}, samples: samples, need: 3}
}

func (f *fakeKey) Path() string { return "vkey:0" }
func (f *fakeKey) Info(context.Context) (*hid.Info, error) {
	return &hid.Info{Options: f.options}, nil
}
func (f *fakeKey) BioInfo(context.Context) (hid.BioSensorInfo, error) {
	return hid.BioSensorInfo{Kind: 1, MaxSamples: f.need}, nil
}
func (f *fakeKey) BioTemplates(_ context.Context, pin []byte) ([]hid.BioTemplate, error) {
	f.calls = append(f.calls, "list")
	return append([]hid.BioTemplate(nil), f.templates...), nil
}
func (f *fakeKey) BioSetName(_ context.Context, pin, id []byte, name string) error {
	f.calls = append(f.calls, "rename")
	if f.nameErr != nil {
		return f.nameErr
	}
	for i := range f.templates {
		if bytes.Equal(f.templates[i].ID, id) {
			f.templates[i].Name = name
			return nil
		}
	}
	return &hid.Error{Op: "bio rename", Code: hid.CodeInvalidOption}
}
func (f *fakeKey) BioRemove(_ context.Context, pin, id []byte) error {
	f.calls = append(f.calls, "remove")
	for i := range f.templates {
		if bytes.Equal(f.templates[i].ID, id) {
			f.templates = append(f.templates[:i], f.templates[i+1:]...)
			return nil
		}
	}
	return &hid.Error{Op: "bio delete", Code: hid.CodeInvalidOption}
}
func (f *fakeKey) BioEnrollCancel(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	f.cancels++
	f.pending = nil
	return nil
}
func (f *fakeKey) sample(ctx context.Context) (hid.BioSample, error) {
	if err := ctx.Err(); err != nil {
		return hid.BioSample{}, &hid.Error{Op: "bio", Code: hid.CodeCancelled}
	}
	s := "good"
	if len(f.samples) > 0 {
		s, f.samples = f.samples[0], f.samples[1:]
	}
	switch s {
	case "timeout":
		return hid.BioSample{}, &hid.Error{Op: "bio enroll", Code: hid.CodeUserActionTimeout}
	case "poor":
		return hid.BioSample{Feedback: hid.BioFeedbackPoorQuality, Remaining: f.remaining}, nil
	}
	f.remaining--
	if f.remaining == 0 {
		f.templates = append(f.templates, hid.BioTemplate{ID: f.pending})
		f.pending = nil
	}
	return hid.BioSample{Feedback: hid.BioFeedbackGood, Remaining: f.remaining}, nil
}
func (f *fakeKey) BeginEnroll(ctx context.Context, pin []byte, timeout time.Duration) (Sampler, hid.BioSample, error) {
	f.calls = append(f.calls, "begin")
	if len(f.templates) >= 2 {
		return nil, hid.BioSample{}, &hid.Error{Op: "bio enroll", Code: hid.CodeFPDatabaseFull}
	}
	f.pending = []byte{byte(len(f.templates) + 1), 0xb1}
	f.remaining = f.need
	s, err := f.sample(ctx)
	if err != nil {
		return nil, s, err
	}
	return &fakeSampler{f: f, id: f.pending}, s, nil
}

type fakeSampler struct {
	f  *fakeKey
	id []byte
}

func (s *fakeSampler) ID() []byte { return s.id }
func (s *fakeSampler) Next(ctx context.Context, timeout time.Duration) (hid.BioSample, error) {
	return s.f.sample(ctx)
}
func (s *fakeSampler) Close() {}

func TestEnroll(t *testing.T) {
	for _, tc := range []struct {
		name      string
		samples   []string
		opts      EnrollOptions
		wantErr   error
		feedback  string // the Sample events' feedback, in order
		templates int
		cancels   int
	}{
		{"good samples", nil, EnrollOptions{Name: "right index"}, nil, "good good good", 1, 0},
		{"poor samples retried", []string{"poor", "good", "poor", "good", "good"}, EnrollOptions{}, nil, "poor good poor good good", 1, 0},
		{"no finger at first", []string{"timeout"}, EnrollOptions{}, ErrNoFinger, "", 0, 1},
		{"no finger midway", []string{"good", "timeout"}, EnrollOptions{}, ErrNoFinger, "good", 0, 1},
		{"too many poor", []string{"poor", "poor", "poor"}, EnrollOptions{MaxRejected: 2}, ErrTooManySamples, "poor poor", 0, 1},
		{"bad name", nil, EnrollOptions{Name: strings.Repeat("x", MaxNameLength+1)}, ErrName, "", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFake(tc.samples...)
			var fb []string
			var msgs []string
			tmpl, err := Enroll(context.Background(), k, []byte("1234"), tc.opts, func(e Event) {
				msgs = append(msgs, e.Message)
				if e.Kind == EventSample {
					fb = append(fb, map[bool]string{true: "good", false: "poor"}[e.Accepted])
				}
			})
			if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got := strings.Join(fb, " "); got != tc.feedback {
				t.Fatalf("feedback %q, want %q", got, tc.feedback)
			}
			if len(k.templates) != tc.templates || k.cancels != tc.cancels || (k.pending != nil && tc.cancels > 0) {
				t.Fatalf("key: %d templates, %d cancels, pending %x", len(k.templates), k.cancels, k.pending)
			}
			if err == nil && tc.opts.Name != "" && (tmpl.Name != tc.opts.Name || k.templates[0].Name != tc.opts.Name) {
				t.Fatalf("template %+v, key %+v", tmpl, k.templates)
			}
			if tc.feedback != "" && !strings.Contains(strings.Join(msgs, "\n"), "touch the sensor") {
				t.Fatalf("no prompt in %q", msgs)
			}
			if strings.Contains(tc.feedback, "poor") && !strings.Contains(strings.Join(msgs, "\n"), "poor sample: clean") {
				t.Fatalf("poor feedback not shown in %q", msgs)
			}
		})
	}
}

func TestEnrollRefusesBeforeSideEffects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(*fakeKey)
		opts    EnrollOptions
		wantErr error
	}{
		{"not a bio key", func(k *fakeKey) { k.options = map[string]bool{"clientPin": true} }, EnrollOptions{}, ErrNotBio},
		{"no PIN", func(k *fakeKey) { k.options["clientPin"] = false }, EnrollOptions{}, ErrNoPIN},
		{"name taken", func(k *fakeKey) { k.templates = []hid.BioTemplate{{ID: []byte{9}, Name: "thumb"}} }, EnrollOptions{Name: "thumb"}, ErrName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFake()
			tc.setup(k)
			_, err := Enroll(context.Background(), k, []byte("1234"), tc.opts, nil)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, c := range k.calls {
				if c != "list" {
					t.Fatalf("side effect %q before the refusal", c)
				}
			}
		})
	}
}

func TestEnrollCancelledContextCancelsOnKey(t *testing.T) {
	k := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Enroll(ctx, k, []byte("1234"), EnrollOptions{}, func(e Event) {
		if e.Kind == EventSample {
			cancel() // Ctrl-C after the first sample
		}
	})
	if hid.CodeOf(err) != hid.CodeCancelled || k.cancels != 1 || len(k.templates) != 0 {
		t.Fatalf("err %v, cancels %d, templates %d", err, k.cancels, len(k.templates))
	}
}

func TestEnrollStorageFull(t *testing.T) {
	k := newFake()
	k.templates = []hid.BioTemplate{{ID: []byte{1}}, {ID: []byte{2}}}
	_, err := Enroll(context.Background(), k, []byte("1234"), EnrollOptions{}, nil)
	var be *Error
	if !errors.Is(err, ErrFull) || !errors.As(err, &be) || !strings.Contains(be.Hint, "keyprep bio delete") || k.cancels != 0 {
		t.Fatalf("err %v, cancels %d", err, k.cancels)
	}
}

func TestEnrollNameFailureRemovesFingerprint(t *testing.T) {
	k := newFake()
	k.nameErr = errors.New("boom")
	_, err := Enroll(context.Background(), k, []byte("1234"), EnrollOptions{Name: "thumb"}, nil)
	if err == nil || len(k.templates) != 0 {
		t.Fatalf("err %v, templates %v", err, k.templates)
	}
}

func TestRenameAndDelete(t *testing.T) {
	k := newFake()
	k.templates = []hid.BioTemplate{{ID: []byte{1, 2}, Name: "thumb"}, {ID: []byte{3, 4}}, {ID: []byte{5, 6}, Name: "dup"}, {ID: []byte{7, 8}, Name: "dup"}}
	ctx := context.Background()
	for _, tc := range []struct {
		sel, name string
		wantErr   error
		wantID    string
	}{
		{"thumb", "left thumb", nil, "0102"},
		{"0304", "index", nil, "0304"},
		{"0304", "left thumb", ErrName, ""}, // taken by 0102 now
		{"dup", "x", ErrAmbiguous, ""},
		{"nobody", "x", ErrNotFound, ""},
		{"0506", "", ErrName, ""},
	} {
		t.Run(fmt.Sprintf("%s→%s", tc.sel, tc.name), func(t *testing.T) {
			got, err := Rename(ctx, k, nil, tc.sel, tc.name)
			if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (got.ID != tc.wantID || got.Name != tc.name) {
				t.Fatalf("renamed %+v", got)
			}
		})
	}
	ts, _ := List(ctx, k, nil)
	if ts[0].Name != "left thumb" || ts[1].Name != "index" {
		t.Fatalf("after renames: %+v", ts)
	}
	tm, err := Resolve(ctx, k, nil, "index")
	if err != nil {
		t.Fatal(err)
	}
	if err := Delete(ctx, k, nil, tm); err != nil {
		t.Fatal(err)
	}
	if ts, _ := List(ctx, k, nil); len(ts) != 3 {
		t.Fatalf("after delete: %+v", ts)
	}
}

func TestFeedbackMessages(t *testing.T) {
	seen := map[string]bool{}
	for f := hid.BioFeedbackGood; f <= hid.BioFeedbackNoUserPresenceTransition; f++ {
		m := FeedbackMessage(f)
		if strings.HasPrefix(m, "the key reported") || seen[m] {
			t.Fatalf("feedback %s: message %q missing or repeated", f, m)
		}
		seen[m] = true
	}
	if m := FeedbackMessage(0x42); !strings.Contains(m, "0x42") {
		t.Fatalf("unknown feedback: %q", m)
	}
}

func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"right index", "", " ", "a\x00b", strings.Repeat("é", 20), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if CheckName(name) == nil {
			if len(name) > MaxNameLength || strings.TrimSpace(name) == "" || strings.ContainsRune(name, 0) {
				t.Fatalf("accepted %q", name)
			}
		}
	})
}
