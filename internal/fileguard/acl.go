package fileguard

import "fmt"

// The Windows side of the rules, as a pure function of a file's owner and
// access control list so that it is tested on every platform; the system
// calls that read them are in access_windows.go. The SIDs, ACE flags and
// access rights are those of the Windows SDK (winnt.h), documented at
// https://learn.microsoft.com/en-us/windows/win32/secauthz/well-known-sids,
// https://learn.microsoft.com/en-us/windows/win32/api/winnt/ns-winnt-ace_header
// and https://learn.microsoft.com/en-us/windows/win32/fileio/file-access-rights-constants.

// Well-known SIDs.
const (
	sidSystem         = "S-1-5-18"     // NT AUTHORITY\SYSTEM
	sidAdministrators = "S-1-5-32-544" // BUILTIN\Administrators
	sidCreatorOwner   = "S-1-3-0"      // CREATOR OWNER
	sidOwnerRights    = "S-1-3-4"      // OWNER RIGHTS
)

// ACE_HEADER.AceFlags.
const (
	aceObjectInherit    = 0x01 // inherited by files created inside
	aceContainerInherit = 0x02 // inherited by directories created inside
	aceInheritOnly      = 0x08 // applies only to what inherits it
)

// Access rights.
const (
	fileReadData    = 0x0001 // FILE_READ_DATA, FILE_LIST_DIRECTORY
	fileWriteData   = 0x0002 // FILE_WRITE_DATA, FILE_ADD_FILE
	fileAppendData  = 0x0004 // FILE_APPEND_DATA, FILE_ADD_SUBDIRECTORY
	fileDeleteChild = 0x0040 // FILE_DELETE_CHILD
	rightDelete     = 0x00010000
	rightWriteDAC   = 0x00040000
	rightWriteOwner = 0x00080000
	genericAll      = 0x10000000
	genericWrite    = 0x40000000
	genericRead     = 0x80000000

	// writeRights change what a file holds or who may access it, or add,
	// remove or rename what a directory holds. FILE_WRITE_ATTRIBUTES and
	// FILE_WRITE_EA are not among them: they change neither.
	writeRights = fileWriteData | fileAppendData | fileDeleteChild | rightDelete | rightWriteDAC | rightWriteOwner | genericAll | genericWrite
	readRights  = fileReadData | genericAll | genericRead
)

// ace is one entry of a DACL as the rules need it.
type ace struct {
	sid   string // "S-1-…"; "" when it could not be read
	allow bool   // an access-allowed entry; denials are not relied upon
	mask  uint32 // access rights
	flags uint8  // inheritance (ACE_HEADER.AceFlags)
}

// acl is what Check reads of a file on Windows.
type acl struct {
	owner    string // SID
	nullDACL bool   // no DACL at all: everyone has every right
	aces     []ace
}

// trusted reports whether sid is one keyprep trusts with its state: the
// user it runs as (me), SYSTEM and Administrators. OWNER RIGHTS is the
// owner, which must be one of them; CREATOR OWNER grants nothing to the
// object itself and, inherited, the rights to whoever creates something
// inside — which takes the right to write the directory, refused to
// everyone else.
func trusted(sid, me string) bool {
	switch sid {
	case me, sidSystem, sidAdministrators, sidOwnerRights, sidCreatorOwner:
		return sid != ""
	}
	return false
}

// verdict judges a. It returns "" for an acceptable file, else the problem
// and the fix. me is the SID of the user keyprep runs as; name gives an
// account's name for a SID, for the messages.
func (a acl) verdict(path string, kind Kind, me string, name func(sid string) string) (problem, fix string) {
	who := func(sid string) string {
		if sid == "" {
			return "an entry keyprep cannot read"
		}
		if n := name(sid); n != "" && n != sid {
			return n + " (" + sid + ")"
		}
		return sid
	}
	reset := resetCommand(path, kind, me)
	if a.owner == "" || (a.owner != me && a.owner != sidSystem && a.owner != sidAdministrators) {
		return fmt.Sprintf("owned by %s, not by the user keyprep runs as (%s), SYSTEM or Administrators: another user could have put it there",
				who(a.owner), who(me)),
			fmt.Sprintf(`check what is in it; if it is yours, take it over (takeown /F "%s", then %s), else remove it (or use a directory of your own)`, path, reset)
	}
	if a.nullDACL {
		return "it has no access control list, which lets everyone read and write it",
			"check that nobody changed what is in it, then make it private: " + reset
	}
	// Writes first: they are the worse problem.
	for _, e := range a.aces {
		if !e.allow || trusted(e.sid, me) || e.mask&writeRights == 0 {
			continue
		}
		// What a directory passes on matters as much as the directory:
		// the store, the journal and the escrowed PINs inside inherit it.
		switch {
		case e.flags&aceInheritOnly == 0:
			return fmt.Sprintf("its access control list lets %s write it", who(e.sid)),
				"check that nobody changed what is in it, then make it private: " + reset + removeCommand(path, e.sid)
		case kind == Dir && e.flags&(aceObjectInherit|aceContainerInherit) != 0:
			return fmt.Sprintf("its access control list lets %s write what is created in it", who(e.sid)),
				"check that nobody changed what is in it, then make it private: " + reset + removeCommand(path, e.sid)
		}
	}
	for _, e := range a.aces {
		if !e.allow || trusted(e.sid, me) || e.mask&readRights == 0 {
			continue
		}
		switch {
		case kind == Secret && e.flags&aceInheritOnly == 0:
			return fmt.Sprintf("its access control list lets %s read it", who(e.sid)),
				"make it private (" + reset + removeCommand(path, e.sid) + "), or remove it for a new one (consider the old one exposed)"
		case kind == Dir && e.flags&aceObjectInherit != 0:
			// Listing the directory is harmless (a Unix 0755); reading the
			// files created in it is not.
			return fmt.Sprintf("its access control list lets %s read the files created in it", who(e.sid)),
				"make it private: " + reset + removeCommand(path, e.sid) + " (files already in it keep their own access lists)"
		}
	}
	return "", ""
}

// resetCommand is the icacls command that gives path the access control
// list keyprep gives what it creates: full control for me, SYSTEM and
// Administrators, nothing inherited
// (https://learn.microsoft.com/en-us/windows-server/administration/windows-commands/icacls).
func resetCommand(path string, kind Kind, me string) string {
	inh := ""
	if kind == Dir {
		inh = "(OI)(CI)"
	}
	return fmt.Sprintf(`icacls "%s" /inheritance:r /grant:r *%s:%sF *%s:%sF *%s:%sF`, path, me, inh, sidSystem, inh, sidAdministrators, inh)
}

// removeCommand removes sid's own entries from path's access control list.
func removeCommand(path, sid string) string {
	if sid == "" {
		return ""
	}
	return fmt.Sprintf(`, then icacls "%s" /remove *%s`, path, sid)
}
