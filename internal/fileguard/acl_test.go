package fileguard

import (
	"strings"
	"testing"
)

// TestACLVerdict: the Windows rules, from owners and access control lists
// as Windows reports them (the entries of a protected directory keyprep
// creates; those %ProgramData% and C:\ pass on to a directory created
// without one; entries another user or a careless icacls could add).
func TestACLVerdict(t *testing.T) {
	const (
		me       = "S-1-5-21-1004336348-1177238915-682003330-1001"
		other    = "S-1-5-21-1004336348-1177238915-682003330-1002"
		everyone = "S-1-1-0"
		users    = "S-1-5-32-545"
		authUser = "S-1-5-11"
		trustedI = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464" // TrustedInstaller
		full     = 0x1F01FF                                                         // FILE_ALL_ACCESS
		readExec = 0x1200A9                                                         // FILE_GENERIC_READ | FILE_EXECUTE
		modify   = 0x1301BF                                                         // what icacls calls M
		oici     = aceObjectInherit | aceContainerInherit
		io       = aceInheritOnly
		inherit  = 0x10 // INHERITED_ACE: inherited, not inheritable
	)
	names := map[string]string{
		me: `BENCH\ops`, other: `BENCH\mallory`, everyone: "Everyone", users: `BUILTIN\Users`,
		authUser: `NT AUTHORITY\Authenticated Users`, sidSystem: `NT AUTHORITY\SYSTEM`, sidAdministrators: `BUILTIN\Administrators`,
	}
	private := func(flags uint8) []ace {
		return []ace{{me, true, full, flags}, {sidSystem, true, full, flags}, {sidAdministrators, true, full, flags}}
	}
	with := func(base []ace, extra ...ace) []ace { return append(append([]ace{}, base...), extra...) }
	// %ProgramData%'s entries as a new subdirectory inherits them.
	programData := []ace{
		{sidSystem, true, full, oici | inherit}, {sidAdministrators, true, full, oici | inherit},
		{sidCreatorOwner, true, genericAll, oici | io | inherit},
		{users, true, readExec, oici | inherit},
		{users, true, fileWriteData | fileAppendData | 0x110, aceContainerInherit | inherit},
	}
	for _, tt := range []struct {
		name string
		a    acl
		kind Kind
		want string // "" accepted, else in the problem
	}{
		{"keyprep's directory", acl{owner: me, aces: private(oici)}, Dir, ""},
		{"keyprep's directory, owned by Administrators (elevated)", acl{owner: sidAdministrators, aces: private(oici)}, Dir, ""},
		{"keyprep's directory, owned by SYSTEM (a service)", acl{owner: sidSystem, aces: private(oici)}, Dir, ""},
		{"keyprep's secret", acl{owner: me, aces: private(0)}, Secret, ""},
		{"a secret inheriting keyprep's directory", acl{owner: me, aces: private(inherit)}, Secret, ""},
		{"empty DACL: nobody but the owner", acl{owner: me}, Secret, ""},
		{"a denial is harmless", acl{owner: me, aces: with(private(0), ace{everyone, false, full, 0})}, Secret, ""},
		{"others may list the directory", acl{owner: me, aces: with(private(oici), ace{users, true, readExec, 0})}, Dir, ""},
		{"others may list subdirectories", acl{owner: me, aces: with(private(oici), ace{users, true, readExec, aceContainerInherit})}, Dir, ""},
		{"others may change attributes", acl{owner: me, aces: with(private(0), ace{users, true, 0x100 | 0x10, 0})}, Secret, ""},
		{"CREATOR OWNER inherited", acl{owner: me, aces: with(private(oici), ace{sidCreatorOwner, true, genericAll, oici | io})}, Dir, ""},
		{"OWNER RIGHTS", acl{owner: me, aces: with(private(0), ace{sidOwnerRights, true, full, 0})}, Secret, ""},

		{"another user's directory", acl{owner: other, aces: private(oici)}, Dir, `owned by BENCH\mallory (` + other + `)`},
		{"another user's secret", acl{owner: other, aces: private(0)}, Secret, "owned by BENCH\\mallory"},
		{"owner unknown", acl{owner: "", aces: private(0)}, Secret, "owned by an entry keyprep cannot read"},
		{"owned by TrustedInstaller", acl{owner: trustedI, aces: private(oici)}, Dir, "owned by " + trustedI},
		{"NULL DACL", acl{owner: me, nullDACL: true}, Dir, "no access control list"},
		{"directory made under %ProgramData% without keyprep's DACL", acl{owner: me, aces: programData}, Dir, `BUILTIN\Users (S-1-5-32-545) write it`},
		{"Everyone full control", acl{owner: me, aces: with(private(oici), ace{everyone, true, full, 0})}, Dir, "lets Everyone (S-1-1-0) write it"},
		{"Authenticated Users modify, inherited from C:\\", acl{owner: me, aces: with(private(oici), ace{authUser, true, modify, oici | inherit})}, Dir, "Authenticated Users (S-1-5-11) write it"},
		{"Authenticated Users may add files", acl{owner: me, aces: with(private(oici), ace{authUser, true, fileWriteData, 0})}, Dir, "write it"},
		{"another user may delete children", acl{owner: me, aces: with(private(oici), ace{other, true, fileDeleteChild, 0})}, Dir, "mallory"},
		{"another user may change the DACL", acl{owner: me, aces: with(private(0), ace{other, true, rightWriteDAC, 0})}, Secret, "mallory (" + other + ") write it"},
		{"another user may take ownership", acl{owner: me, aces: with(private(oici), ace{other, true, rightWriteOwner, 0})}, Dir, "write it"},
		{"generic write", acl{owner: me, aces: with(private(oici), ace{users, true, genericWrite, 0})}, Dir, "write it"},
		{"write passed on to new files only", acl{owner: me, aces: with(private(oici), ace{everyone, true, full, aceObjectInherit | io})}, Dir, "write what is created in it"},
		{"read passed on to new files", acl{owner: me, aces: with(private(oici), ace{users, true, readExec, oici})}, Dir, "read the files created in it"},
		{"generic read passed on to new files", acl{owner: me, aces: with(private(oici), ace{users, true, genericRead, aceObjectInherit | io})}, Dir, "read the files created in it"},
		{"Users may read a secret", acl{owner: me, aces: with(private(0), ace{users, true, readExec, inherit})}, Secret, `lets BUILTIN\Users (S-1-5-32-545) read it`},
		{"Everyone may read a secret", acl{owner: me, aces: with(private(0), ace{everyone, true, fileReadData, 0})}, Secret, "Everyone (S-1-1-0) read it"},
		{"an unreadable entry", acl{owner: me, aces: with(private(0), ace{"", true, fileReadData, 0})}, Secret, "lets an entry keyprep cannot read read it"},
		{"a SID without a name", acl{owner: me, aces: with(private(0), ace{"S-1-5-21-9-9-9-1234", true, genericAll, 0})}, Secret, "lets S-1-5-21-9-9-9-1234 write it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const path = `C:\ProgramData\keyprep`
			problem, fix := tt.a.verdict(path, tt.kind, me, func(sid string) string { return names[sid] })
			if tt.want == "" {
				if problem != "" || fix != "" {
					t.Fatalf("refused: %s (fix: %s)", problem, fix)
				}
				return
			}
			if !strings.Contains(problem, tt.want) {
				t.Fatalf("problem %q, want %q", problem, tt.want)
			}
			if !strings.Contains(fix, `icacls "`+path+`" /inheritance:r /grant:r *`+me+":") {
				t.Errorf("fix %q does not say how to make it private", fix)
			}
		})
	}
}

// TestResetCommand: the fix gives a directory entries its files inherit,
// a secret plain ones, and removes the principal that was found.
func TestResetCommand(t *testing.T) {
	const me = "S-1-5-21-1-2-3-1001"
	if got, want := resetCommand(`D:\kp`, Dir, me), `icacls "D:\kp" /inheritance:r /grant:r *S-1-5-21-1-2-3-1001:(OI)(CI)F *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F`; got != want {
		t.Errorf("dir: %s\nwant %s", got, want)
	}
	if got, want := resetCommand(`D:\kp\api-token`, Secret, me), `icacls "D:\kp\api-token" /inheritance:r /grant:r *S-1-5-21-1-2-3-1001:F *S-1-5-18:F *S-1-5-32-544:F`; got != want {
		t.Errorf("secret: %s\nwant %s", got, want)
	}
	_, fix := acl{owner: me, aces: []ace{{"S-1-1-0", true, genericAll, 0}}}.verdict(`D:\kp`, Dir, me, func(string) string { return "" })
	if !strings.HasSuffix(fix, `, then icacls "D:\kp" /remove *S-1-1-0`) {
		t.Errorf("fix %q does not remove Everyone", fix)
	}
}
