package simkeys

import (
	"os"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/softkey"
)

func TestParseTouch(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want softkey.Presence
		bad  bool
	}{
		{in: "", want: softkey.Instant()},
		{in: "instant", want: softkey.Instant()},
		{in: " Delay=2s ", want: softkey.Delayed(2 * time.Second)},
		{in: "deny", want: softkey.Denied()},
		{in: "timeout", want: softkey.Timeout(0)},
		{in: "timeout=300ms", want: softkey.Timeout(300 * time.Millisecond)},
		{in: "delay", bad: true},
		{in: "delay=soon", bad: true},
		{in: "delay=-1s", bad: true},
		{in: "deny=1s", bad: true},
		{in: "instant=1s", bad: true},
		{in: "sometimes", bad: true},
	} {
		got, err := ParseTouch(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseTouch(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseTouch(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// A virtual key stays plugged between runs: what one Provider did to it, the
// next one (another keyprep process) sees, including the power-up time that
// gates reset.
func TestStatePersistsAcrossProviders(t *testing.T) {
	dir := t.TempDir()
	p, err := New(Options{Dir: dir, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Paths(); len(got) != 2 || got[0] != "vkey:0" || got[1] != "vkey:1" {
		t.Fatalf("paths %v", got)
	}
	a, err := p.Authenticator("vkey:1")
	if err != nil {
		t.Fatal(err)
	}
	before := a.Status().PowerUp
	time.Sleep(20 * time.Millisecond)
	if err := p.Replug("vkey:1"); err != nil {
		t.Fatal(err)
	}
	replugged := a.Status().PowerUp
	if !replugged.After(before) {
		t.Fatalf("replug did not move the power-up time: %v then %v", before, replugged)
	}
	if _, err := p.Authenticator("vkey:2"); err == nil {
		t.Fatal("vkey:2 exists with Count 2")
	}
	if _, err := p.Open("01"); err == nil {
		t.Fatal(`"01" accepted as a key name`)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	p2, err := New(Options{Dir: dir, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	a2, err := p2.Authenticator("vkey:1")
	if err != nil {
		t.Fatal(err)
	}
	if got := a2.Status().PowerUp; !got.Equal(replugged) {
		t.Fatalf("power-up time after reload %v, want %v", got, replugged)
	}
}

// Two processes never drive one key's state at once: a second Provider on
// the same directory waits, when it opens a key, for the first to close.
func TestDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	p, err := New(Options{Dir: dir, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	// A provider that opens no key takes no lock.
	idle, err := New(Options{Dir: dir, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Authenticator("vkey:0"); err != nil {
		t.Fatal(err)
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	got := make(chan *Provider, 1)
	go func() {
		p2, err := New(Options{Dir: dir, Count: 1})
		if err != nil {
			t.Error(err)
		}
		if _, err := p2.Authenticator("vkey:0"); err != nil {
			t.Error(err)
		}
		got <- p2
	}()
	select {
	case <-got:
		t.Fatal("second provider did not wait for the lock")
	case <-time.After(150 * time.Millisecond):
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case p2 := <-got:
		if p2 != nil {
			p2.Close()
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second provider still waiting after the first closed")
	}
}

// In memory, a key keeps its state while the provider lives (unplugged and
// opened again it is the same key), a swap brings a factory-fresh one, and
// nothing is written to disk.
func TestInMemory(t *testing.T) {
	dir := t.TempDir()
	p, err := New(Options{Dir: dir, Count: 1, InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, err := p.Authenticator("vkey:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Unplug("vkey:0"); err != nil {
		t.Fatal(err)
	}
	again, err := p.Authenticator("vkey:0")
	if err != nil {
		t.Fatal(err)
	}
	if again != a {
		t.Fatal("an unplugged in-memory key came back as another key")
	}
	fresh, err := p.Swap("vkey:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Authenticator(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if b == a {
		t.Fatalf("swap to %s gave the old key back", fresh)
	}
	if _, err := p.Authenticator("vkey:0"); err == nil {
		t.Fatal("vkey:0 still plugged in after the swap")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("in-memory keys wrote %d files to %s", len(ents), dir)
	}
}
