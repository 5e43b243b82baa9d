//go:build windows

package fileguard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// checkAccess reads path's owner and DACL and judges them (acl.verdict)
// for the user of the running process.
func checkAccess(path string, _ fs.FileInfo, kind Kind, _ int, refuse func(problem, fix string) error) error {
	me, err := currentUser()
	if err != nil {
		return fmt.Errorf("%s: the user keyprep runs as: %w", path, err)
	}
	a, err := readACL(path)
	if err != nil {
		return &fs.PathError{Op: "read the access control list of", Path: path, Err: err}
	}
	if problem, fix := a.verdict(path, kind, me, accountName); problem != "" {
		return refuse(problem, fix)
	}
	return nil
}

// currentUser is the SID of the user the process runs as.
func currentUser() (string, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", err
	}
	return tu.User.Sid.String(), nil
}

// accountName is DOMAIN\name for sid, or "" when it has none.
func accountName(sid string) string {
	s, err := windows.StringToSid(sid)
	if err != nil {
		return ""
	}
	account, domain, _, err := s.LookupAccount("")
	if err != nil || account == "" {
		return ""
	}
	if domain == "" {
		return account
	}
	return domain + `\` + account
}

// ACE types (winnt.h) that grant access to a file. The object types have
// the SID at a variable offset (they are for directory-service objects,
// not files): one found on a file counts as an unknown principal.
const (
	accessAllowedACE               = 0x0
	accessAllowedObjectACE         = 0x5
	accessAllowedCallbackACE       = 0x9
	accessAllowedCallbackObjectACE = 0xB
)

// readACL reads path's owner and DACL (following a symbolic link).
func readACL(path string) (acl, error) {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return acl{}, err
	}
	var a acl
	owner, _, err := sd.Owner()
	if err != nil {
		return acl{}, err
	}
	if owner != nil {
		a.owner = owner.String()
	}
	dacl, _, err := sd.DACL()
	switch {
	case errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND):
		a.nullDACL = true // no DACL: no protection at all
		return a, nil
	case err != nil:
		return acl{}, err
	case dacl == nil:
		a.nullDACL = true // a NULL DACL: the same
		return a, nil
	}
	for i := range uint32(dacl.AceCount) {
		var e *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &e); err != nil {
			return acl{}, err
		}
		x := ace{mask: uint32(e.Mask), flags: e.Header.AceFlags}
		switch e.Header.AceType {
		case accessAllowedACE, accessAllowedCallbackACE:
			x.allow = true
			x.sid = (*windows.SID)(unsafe.Pointer(&e.SidStart)).String()
		case accessAllowedObjectACE, accessAllowedCallbackObjectACE:
			x.allow = true
		}
		a.aces = append(a.aces, x)
	}
	return a, nil
}

// privateSD is the security descriptor of what keyprep creates: a
// protected DACL (P: nothing inherited from the parent) granting full
// control (FA) to the user it runs as, SYSTEM (SY) and Administrators
// (BA); for a directory inherited by the files (OI) and directories (CI)
// created inside. SDDL:
// https://learn.microsoft.com/en-us/windows/win32/secauthz/security-descriptor-string-format
func privateSD(dir bool) (*windows.SecurityAttributes, error) {
	me, err := currentUser()
	if err != nil {
		return nil, err
	}
	inh := ""
	if dir {
		inh = "OICI"
	}
	sddl := "D:P"
	for _, sid := range []string{me, "SY", "BA"} {
		sddl += "(A;" + inh + ";FA;;;" + sid + ")"
	}
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return nil, err
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	return sa, nil
}

// mkdirPrivate creates dir with the private DACL.
func mkdirPrivate(dir string) error {
	sa, err := privateSD(true)
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	if err := windows.CreateDirectory(p, sa); err != nil {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	return nil
}

// openPrivate opens path, creating it with the private DACL; an existing
// file is opened as it is (unless O_EXCL: then it is an error matching
// fs.ErrExist).
func openPrivate(path string, flag int) (*os.File, error) {
	access := uint32(windows.GENERIC_READ | windows.GENERIC_WRITE)
	if flag&os.O_WRONLY != 0 {
		access = windows.GENERIC_WRITE
	}
	disposition := uint32(windows.OPEN_ALWAYS)
	if flag&os.O_EXCL != 0 {
		disposition = windows.CREATE_NEW
	}
	sa, err := privateSD(false)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	// The sharing of os.OpenFile: others may read and write, not delete.
	h, err := windows.CreateFile(p, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, sa,
		disposition, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
