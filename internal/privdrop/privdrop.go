// Package privdrop gives up root for good: a process that needs root only to
// open something (sim key --uhid opens /dev/uhid) drops to an unprivileged
// user before it handles any input, so that a bug in what follows (parsing
// reports from the kernel, from any client on the machine) is not a root
// bug.
//
// Drop sets the supplementary groups, then the group, then the user (in
// that order: once the user is not root, the groups can no longer be
// changed), and then checks that root cannot be regained. Go's syscall
// package applies each change to every thread of the process (Go 1.16 and
// later on Linux).
package privdrop

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

// Nobody is the default target and its ids when the system has no passwd
// entry for it (a minimal VM, a container).
const (
	Nobody    = "nobody"
	NobodyUID = 65534
	NobodyGID = 65534
)

// Target is the user to drop to.
type Target struct {
	Name     string // as given, for messages
	UID, GID int
}

func (t Target) String() string {
	return fmt.Sprintf("%s (uid %d, gid %d)", t.Name, t.UID, t.GID)
}

// Lookup resolves a user name, a uid or uid:gid. A user name takes its
// primary group; a bare uid without a passwd entry takes gid = uid. nobody
// without a passwd entry is 65534:65534. Root is refused: it is not a drop.
func Lookup(spec string) (Target, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return Target{}, errors.New("empty user: want a name, a uid or uid:gid")
	}
	t := Target{Name: spec}
	name, gidStr, hasGID := strings.Cut(spec, ":")
	if uid, err := strconv.Atoi(name); err == nil {
		t.UID, t.GID = uid, uid
		if u, err := user.LookupId(name); err == nil {
			if g, err := strconv.Atoi(u.Gid); err == nil {
				t.GID = g
			}
		}
	} else {
		u, err := user.Lookup(name)
		switch {
		case err == nil:
			if t.UID, err = strconv.Atoi(u.Uid); err != nil {
				return Target{}, fmt.Errorf("user %s: uid %q is not a number", name, u.Uid)
			}
			if t.GID, err = strconv.Atoi(u.Gid); err != nil {
				return Target{}, fmt.Errorf("user %s: gid %q is not a number", name, u.Gid)
			}
		case name == Nobody:
			t.UID, t.GID = NobodyUID, NobodyGID
		default:
			return Target{}, fmt.Errorf("no user %q on this system: give an existing user or a numeric uid[:gid]", name)
		}
	}
	if hasGID {
		g, err := strconv.Atoi(gidStr)
		if err != nil {
			gr, lerr := user.LookupGroup(gidStr)
			if lerr != nil {
				return Target{}, fmt.Errorf("group %q: neither a number nor a group on this system", gidStr)
			}
			if g, err = strconv.Atoi(gr.Gid); err != nil {
				return Target{}, fmt.Errorf("group %s: gid %q is not a number", gidStr, gr.Gid)
			}
		}
		t.GID = g
	}
	if t.UID < 0 || t.GID < 0 {
		return Target{}, fmt.Errorf("%q: negative ids", spec)
	}
	if t.UID == 0 || t.GID == 0 {
		return Target{}, fmt.Errorf("%q is root (uid or gid 0): choose an unprivileged user", spec)
	}
	return t, nil
}

// ops are the process credential calls Drop makes (the syscall package in
// production, a recorder in tests).
type ops interface {
	Setgroups(gids []int) error
	Setgid(gid int) error
	Setuid(uid int) error
	Getuid() int
	Geteuid() int
	Getgid() int
	Getegid() int
}

// ErrNotRoot is returned by Drop when the process is not root: there is
// nothing to drop (and no way to change user).
var ErrNotRoot = errors.New("not running as root")

// Drop makes the process t for good; see the package comment.
func Drop(t Target) error { return drop(sys, t) }

func drop(o ops, t Target) error {
	if t.UID <= 0 || t.GID <= 0 {
		return fmt.Errorf("privdrop: refusing to drop to %s", t)
	}
	if o.Geteuid() != 0 {
		return ErrNotRoot
	}
	if err := o.Setgroups([]int{t.GID}); err != nil {
		return fmt.Errorf("privdrop: setgroups(%d): %w", t.GID, err)
	}
	if err := o.Setgid(t.GID); err != nil {
		return fmt.Errorf("privdrop: setgid(%d): %w", t.GID, err)
	}
	if err := o.Setuid(t.UID); err != nil {
		return fmt.Errorf("privdrop: setuid(%d): %w", t.UID, err)
	}
	if o.Getuid() != t.UID || o.Geteuid() != t.UID || o.Getgid() != t.GID || o.Getegid() != t.GID {
		return fmt.Errorf("privdrop: still uid %d/%d gid %d/%d after dropping to %s", o.Getuid(), o.Geteuid(), o.Getgid(), o.Getegid(), t)
	}
	if err := o.Setuid(0); err == nil {
		return fmt.Errorf("privdrop: root could be regained after dropping to %s", t)
	}
	return nil
}
