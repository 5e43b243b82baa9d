package bench

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/keyprep/keyprep/internal/enroll"
)

// prefetchDir wraps the workflow's directory for a bench run (Graph
// pacing). Users are looked up once per run: the row check before any key
// is touched, the skip check and the enrollment share the answer. And the
// creationOptions of the next user can be fetched while a key waits for
// its touch, so that round trip leaves the critical path: a prefetched
// answer is handed out once, to that user's enrollment, and only while its
// challenge is young (maxAge, well inside the challenge lifetime); anything
// else goes to Graph as before.
type prefetchDir struct {
	enroll.Directory
	maxAge time.Duration
	now    func() time.Time
	// gate, when set, says whether a user's options are worth fetching
	// ahead (not for a user who cannot be enrolled).
	gate func(ctx context.Context, u *enroll.User) bool
	// unknown, when set, names users not worth looking up ahead.
	unknown func(upn string) bool

	mu       sync.Mutex
	users    map[string]*enroll.User  // lower-case UPN or id as asked → user
	byUser   map[string]prefetched    // user id → options
	inflight map[string]bool          // lower-case UPN
	fetching map[string]chan struct{} // user id → closed when a prefetch of their options ends
	// asked are the users whose own skip check or enrollment has asked
	// for their options: a prefetch for them would fetch options nobody
	// takes (one started while the skip check fetched them did).
	asked   map[string]bool
	bg      sync.WaitGroup // the prefetches under way
	hits    int
	fetched int
}

type prefetched struct {
	opts []byte
	at   time.Time
	own  bool // fetched by the user's own skip check, not ahead of their turn
}

func newPrefetchDir(d enroll.Directory, challenge time.Duration, now func() time.Time) *prefetchDir {
	if challenge <= 0 {
		challenge = 5 * time.Minute // Graph v1.0's fixed lifetime
	}
	return &prefetchDir{Directory: d, maxAge: challenge / 3, now: now, users: map[string]*enroll.User{},
		byUser: map[string]prefetched{}, inflight: map[string]bool{}, fetching: map[string]chan struct{}{},
		asked: map[string]bool{}}
}

// User implements enroll.Directory, asking Graph once per user and run.
// Failures are not kept (the next asker tries again).
func (p *prefetchDir) User(ctx context.Context, idOrUPN string) (*enroll.User, error) {
	k := strings.ToLower(idOrUPN)
	p.mu.Lock()
	u, ok := p.users[k]
	p.mu.Unlock()
	if ok {
		c := *u
		return &c, nil
	}
	u, err := p.Directory.User(ctx, idOrUPN)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.users[k] = u
	p.mu.Unlock()
	c := *u
	return &c, nil
}

// CreationOptions implements enroll.Directory: a young prefetched answer
// for the user, else a fresh one.
func (p *prefetchDir) CreationOptions(ctx context.Context, userID string, timeout time.Duration) ([]byte, error) {
	if err := p.lockAfterFetch(ctx, userID); err != nil {
		return nil, err
	}
	p.asked[userID] = true
	e, ok := p.byUser[userID]
	delete(p.byUser, userID)
	if ok && p.now().Sub(e.at) <= p.maxAge {
		if !e.own {
			p.hits++
		}
		p.mu.Unlock()
		return e.opts, nil
	}
	p.mu.Unlock()
	return p.Directory.CreationOptions(ctx, userID, timeout)
}

// prefetch fetches the user's creationOptions in the background. Failures
// are ignored: the enrollment asks Graph itself.
func (p *prefetchDir) prefetch(ctx context.Context, upn string, timeout time.Duration) {
	k := strings.ToLower(upn)
	if p.unknown != nil && p.unknown(upn) {
		return
	}
	p.mu.Lock()
	if p.inflight[k] {
		p.mu.Unlock()
		return
	}
	p.inflight[k] = true
	p.mu.Unlock()
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		defer func() {
			p.mu.Lock()
			delete(p.inflight, k)
			p.mu.Unlock()
		}()
		u, err := p.User(ctx, upn)
		if err != nil || (p.gate != nil && !p.gate(ctx, u)) {
			return
		}
		p.mu.Lock()
		_, have := p.byUser[u.ID]
		if have || p.fetching[u.ID] != nil || p.asked[u.ID] {
			p.mu.Unlock()
			return
		}
		ch := make(chan struct{})
		p.fetching[u.ID] = ch
		p.mu.Unlock()
		opts, err := p.Directory.CreationOptions(ctx, u.ID, timeout)
		p.mu.Lock()
		delete(p.fetching, u.ID)
		close(ch)
		if err == nil {
			p.byUser[u.ID] = prefetched{opts: opts, at: p.now()}
			p.fetched++
		}
		p.mu.Unlock()
	}()
}

// optionsNow returns the user's creationOptions, fetched now unless young
// ones are waiting, and keeps them for the user's enrollment.
func (p *prefetchDir) optionsNow(ctx context.Context, userID string, timeout time.Duration) ([]byte, error) {
	if err := p.lockAfterFetch(ctx, userID); err != nil {
		return nil, err
	}
	p.asked[userID] = true
	e, ok := p.byUser[userID]
	p.mu.Unlock()
	if ok && p.now().Sub(e.at) <= p.maxAge {
		return e.opts, nil
	}
	opts, err := p.Directory.CreationOptions(ctx, userID, timeout)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.byUser[userID] = prefetched{opts: opts, at: p.now(), own: true}
	p.mu.Unlock()
	return opts, nil
}

// wait returns once no prefetch is under way.
func (p *prefetchDir) wait() { p.bg.Wait() }

// drop forgets the user's waiting options.
func (p *prefetchDir) drop(userID string) {
	p.mu.Lock()
	delete(p.byUser, userID)
	p.mu.Unlock()
}

func (p *prefetchDir) stats() (hits, fetched int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits, p.fetched
}

// lockAfterFetch locks p.mu once no prefetch of the user's options is
// under way: a prefetch in flight is waited for, so that nobody asks Graph
// twice. On error (ctx ended) p.mu is not held.
func (p *prefetchDir) lockAfterFetch(ctx context.Context, userID string) error {
	p.mu.Lock()
	if ch := p.fetching[userID]; ch != nil {
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
	}
	return nil
}
