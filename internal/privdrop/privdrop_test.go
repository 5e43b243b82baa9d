package privdrop

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// fakeOps is a process's credentials: root until changed, and a real
// process's rules (only root changes groups, gid or uid).
type fakeOps struct {
	uid, gid int
	groups   []int
	calls    []string
	// broken makes one call succeed without doing anything ("setuid").
	broken string
}

func (f *fakeOps) Setgroups(g []int) error {
	f.calls = append(f.calls, fmt.Sprint("setgroups", g))
	if f.uid != 0 {
		return errors.New("EPERM")
	}
	if f.broken != "setgroups" {
		f.groups = g
	}
	return nil
}

func (f *fakeOps) Setgid(g int) error {
	f.calls = append(f.calls, fmt.Sprint("setgid ", g))
	if f.uid != 0 {
		return errors.New("EPERM")
	}
	if f.broken != "setgid" {
		f.gid = g
	}
	return nil
}

func (f *fakeOps) Setuid(u int) error {
	f.calls = append(f.calls, fmt.Sprint("setuid ", u))
	if f.uid != 0 && u != f.uid {
		return errors.New("EPERM")
	}
	if f.broken != "setuid" {
		f.uid = u
	}
	return nil
}

func (f *fakeOps) Getuid() int  { return f.uid }
func (f *fakeOps) Geteuid() int { return f.uid }
func (f *fakeOps) Getgid() int  { return f.gid }
func (f *fakeOps) Getegid() int { return f.gid }

func TestDrop(t *testing.T) {
	f := &fakeOps{}
	if err := drop(f, Target{Name: "nobody", UID: 65534, GID: 65534}); err != nil {
		t.Fatal(err)
	}
	want := "setgroups[65534] setgid 65534 setuid 65534 setuid 0"
	if got := strings.Join(f.calls, " "); got != want {
		t.Errorf("calls %q, want %q (groups and gid before the uid, then a check that root is gone)", got, want)
	}
	if f.uid != 65534 || f.gid != 65534 || len(f.groups) != 1 || f.groups[0] != 65534 {
		t.Errorf("after the drop: uid %d gid %d groups %v", f.uid, f.gid, f.groups)
	}
}

func TestDropRefuses(t *testing.T) {
	nobody := Target{Name: "nobody", UID: 65534, GID: 65534}
	if err := drop(&fakeOps{uid: 1000}, nobody); !errors.Is(err, ErrNotRoot) {
		t.Errorf("not root: %v", err)
	}
	for _, tt := range []Target{{Name: "root", UID: 0, GID: 0}, {Name: "x", UID: 5, GID: 0}} {
		if err := drop(&fakeOps{}, tt); err == nil {
			t.Errorf("drop to %v accepted", tt)
		}
	}
	// A call that silently does nothing is caught by the check.
	for _, b := range []string{"setgid", "setuid"} {
		if err := drop(&fakeOps{broken: b}, nobody); err == nil {
			t.Errorf("broken %s not noticed", b)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, tt := range []struct {
		spec     string
		uid, gid int
		err      string
	}{
		{"1000", 1000, -1, ""},
		{"1000:2000", 1000, 2000, ""},
		{"nobody", NobodyUID, -1, ""},
		{"0", 0, 0, "root"},
		{"root", 0, 0, "root"},
		{"1000:0", 0, 0, "root"},
		{"", 0, 0, "empty"},
		{"no-such-user-keyprep", 0, 0, "no user"},
		{"1000:no-such-group-keyprep", 0, 0, "group"},
	} {
		got, err := Lookup(tt.spec)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Lookup(%q) = %v, %v; want an error with %q", tt.spec, got, err, tt.err)
			}
			continue
		}
		if err != nil || got.UID != tt.uid || (tt.gid >= 0 && got.GID != tt.gid) || got.GID <= 0 {
			t.Errorf("Lookup(%q) = %+v, %v", tt.spec, got, err)
		}
	}
}
