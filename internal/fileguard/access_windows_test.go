//go:build windows

package fileguard

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// setDACL replaces path's DACL with the one in sddl (protected: nothing
// inherited).
func setDACL(t *testing.T, path, sddl string) {
	t.Helper()
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		t.Fatal(err)
	}
}

// TestCheckWindowsDACL: Check reads the DACL Windows has for a path: what
// MkdirAll and OpenFile set passes, the same paths opened to others are
// refused. (Wine keeps no DACLs: it maps them to Unix modes and back, so
// there only Everyone, the "others" of a mode, can be seen; the other
// principals are in TestACLVerdict.)
func TestCheckWindowsDACL(t *testing.T) {
	me, err := currentUser()
	if err != nil {
		t.Fatal(err)
	}
	own := "(A;;FA;;;" + me + ")(A;;FA;;;SY)(A;;FA;;;BA)"
	for _, tt := range []struct {
		name, sddl string
		kind       Kind
		want       string
	}{
		{"Everyone may write the directory", "D:P" + own + "(A;;FA;;;WD)", Dir, "Everyone (S-1-1-0) write it"},
		{"Everyone may read the token", "D:P" + own + "(A;;FR;;;WD)", Secret, "Everyone (S-1-1-0) read it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := MkdirAll(dir); err != nil {
				t.Fatal(err)
			}
			path := dir
			if tt.kind == Secret {
				path = filepath.Join(dir, "api-token")
				f, err := OpenFile(path, os.O_WRONLY|os.O_EXCL)
				if err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			if err := CheckPath("thing", path, tt.kind, -1); err != nil {
				t.Fatalf("as created: %v", err)
			}
			setDACL(t, path, tt.sddl)
			err := CheckPath("thing", path, tt.kind, -1)
			var fe *Error
			if !errors.Is(err, ErrUnsafe) || !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(fe.Hint(), "icacls") {
				t.Fatalf("CheckPath = %v, want a refusal naming %q", err, tt.want)
			}
		})
	}
}
