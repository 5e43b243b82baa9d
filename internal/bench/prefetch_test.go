package bench

import (
	"context"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/enroll/enrolltest"
)

// gatedDir holds the first creationOptions request until released, so
// that a prefetch can be started while a user's own request is under way.
type gatedDir struct {
	enroll.Directory
	entered chan struct{}
	release chan struct{}
	first   bool
}

func (g *gatedDir) CreationOptions(ctx context.Context, userID string, t time.Duration) ([]byte, error) {
	if !g.first {
		g.first = true
		g.entered <- struct{}{}
		<-g.release
	}
	return g.Directory.CreationOptions(ctx, userID, t)
}

// A user's creationOptions are fetched from Graph once per enrollment:
// prefetched and taken, or fetched by the user's own skip check or
// enrollment, never both (a prefetch that came too late fetched options
// nobody took: one Graph request too many, found by TestBenchGraphBudget
// under load).
func TestPrefetchFetchesOnce(t *testing.T) {
	ctx := t.Context()
	cases := []struct {
		name string
		run  func(t *testing.T, p *prefetchDir, g *gatedDir, u enroll.User)
		hits int
	}{
		{"prefetched, then taken by the enrollment", func(t *testing.T, p *prefetchDir, g *gatedDir, u enroll.User) {
			g.first = true // no gate
			p.prefetch(ctx, u.UPN, 0)
			p.wait()
			if _, err := p.CreationOptions(ctx, u.ID, 0); err != nil {
				t.Fatal(err)
			}
		}, 1},
		{"prefetch while the skip check fetches", func(t *testing.T, p *prefetchDir, g *gatedDir, u enroll.User) {
			done := make(chan error, 1)
			go func() {
				_, err := p.optionsNow(ctx, u.ID, 0)
				done <- err
			}()
			<-g.entered
			p.prefetch(ctx, u.UPN, 0)
			p.wait()
			close(g.release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if _, err := p.CreationOptions(ctx, u.ID, 0); err != nil {
				t.Fatal(err)
			}
		}, 0},
		{"prefetch after the enrollment took its options", func(t *testing.T, p *prefetchDir, g *gatedDir, u enroll.User) {
			g.first = true
			if _, err := p.CreationOptions(ctx, u.ID, 0); err != nil {
				t.Fatal(err)
			}
			p.prefetch(ctx, u.UPN, 0)
			p.wait()
		}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := enrolltest.NewDirectory()
			u := d.AddUser("alice@contoso.test", "Alice", false)
			g := &gatedDir{Directory: d, entered: make(chan struct{}, 1), release: make(chan struct{})}
			p := newPrefetchDir(g, 0, time.Now)
			tc.run(t, p, g, u)
			if n := d.Calls(enrolltest.CallOptions); n != 1 {
				t.Errorf("%d creationOptions requests, want 1", n)
			}
			if hits, _ := p.stats(); hits != tc.hits {
				t.Errorf("%d prefetch hits, want %d", hits, tc.hits)
			}
		})
	}
}
