//go:build linux

package privdrop

import "syscall"

type sysOps struct{}

var sys ops = sysOps{}

func (sysOps) Setgroups(gids []int) error { return syscall.Setgroups(gids) }
func (sysOps) Setgid(gid int) error       { return syscall.Setgid(gid) }
func (sysOps) Setuid(uid int) error       { return syscall.Setuid(uid) }
func (sysOps) Getuid() int                { return syscall.Getuid() }
func (sysOps) Geteuid() int               { return syscall.Geteuid() }
func (sysOps) Getgid() int                { return syscall.Getgid() }
func (sysOps) Getegid() int               { return syscall.Getegid() }
