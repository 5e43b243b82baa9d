//go:build !linux

package privdrop

import (
	"errors"
	"os"
)

type sysOps struct{}

var sys ops = sysOps{}

var errUnsupported = errors.ErrUnsupported

func (sysOps) Setgroups([]int) error { return errUnsupported }
func (sysOps) Setgid(int) error      { return errUnsupported }
func (sysOps) Setuid(int) error      { return errUnsupported }
func (sysOps) Getuid() int           { return os.Getuid() }
func (sysOps) Geteuid() int          { return os.Geteuid() }
func (sysOps) Getgid() int           { return os.Getgid() }
func (sysOps) Getegid() int          { return os.Getegid() }
