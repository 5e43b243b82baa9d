package enrolltest

import (
	"context"
	"errors"
	"sync"
)

// PINs is the operator at the terminal (enroll.PINSource): it answers
// with the PINs queued, in order, and fails when none is left.
type PINs struct {
	mu      sync.Mutex
	current []string
	new     []string
	asked   int
}

// ErrNoPIN is returned when no PIN is queued.
var ErrNoPIN = errors.New("enrolltest: no PIN queued")

// QueueCurrent queues answers to "the key's PIN?".
func (p *PINs) QueueCurrent(pins ...string) {
	p.mu.Lock()
	p.current = append(p.current, pins...)
	p.mu.Unlock()
}

// QueueNew queues answers to "a new PIN?".
func (p *PINs) QueueNew(pins ...string) {
	p.mu.Lock()
	p.new = append(p.new, pins...)
	p.mu.Unlock()
}

// Asked counts the questions so far.
func (p *PINs) Asked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.asked
}

func (p *PINs) pop(q *[]string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked++
	if len(*q) == 0 {
		return nil, ErrNoPIN
	}
	s := (*q)[0]
	*q = (*q)[1:]
	return []byte(s), nil
}

// Current implements enroll.PINSource.
func (p *PINs) Current(ctx context.Context, keyPath string) ([]byte, error) { return p.pop(&p.current) }

// New implements enroll.PINSource.
func (p *PINs) New(ctx context.Context, keyPath string) ([]byte, error) { return p.pop(&p.new) }

// KeySet is a bench's USB ports: keys are plugged in and pulled out while
// a run goes on. A Key unplugged on its own (Key.UnplugAt) leaves the set.
type KeySet struct {
	mu   sync.Mutex
	keys []*Key
}

// Plug attaches k (again).
func (s *KeySet) Plug(k *Key) {
	k.Replug()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.keys {
		if have == k {
			return
		}
	}
	s.keys = append(s.keys, k)
}

// Unplug pulls the key at path out.
func (s *KeySet) Unplug(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.keys {
		if k.Path() == path {
			k.Unplug()
			s.keys = append(s.keys[:i], s.keys[i+1:]...)
			return
		}
	}
}

// Attached lists the keys plugged in, in the order they came.
func (s *KeySet) Attached() []*Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Key
	for _, k := range s.keys {
		if k.Plugged() {
			out = append(out, k)
		}
	}
	return out
}

// Key returns the attached key at path.
func (s *KeySet) Key(path string) (*Key, bool) {
	for _, k := range s.Attached() {
		if k.Path() == path {
			return k, true
		}
	}
	return nil, false
}
