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
// MkdirAll and OpenFile set passes, the same paths opened to Everyone or
// Users are refused.
func TestCheckWindowsDACL(t *testing.T) {
	me, err := currentUser()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "state")
	if err := MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "api-token")
	f, err := OpenFile(secret, os.O_WRONLY|os.O_EXCL)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := CheckPath("state directory", dir, Dir, -1); err != nil {
		t.Fatal(err)
	}
	if err := CheckPath("API token", secret, Secret, -1); err != nil {
		t.Fatal(err)
	}
	own := "(A;;FA;;;" + me + ")(A;;FA;;;SY)(A;;FA;;;BA)"
	for _, tt := range []struct {
		name, path, sddl string
		kind             Kind
		want             string
	}{
		{"Everyone may write the directory", dir, "D:P" + own + "(A;;FA;;;WD)", Dir, "Everyone"},
		{"Users may add files", dir, "D:P" + own + "(A;;0x2;;;BU)", Dir, "S-1-5-32-545) write it"},
		{"Users may read the token", secret, "D:P" + own + "(A;;FR;;;BU)", Secret, "S-1-5-32-545) read it"},
		{"Authenticated Users may read the token", secret, "D:P" + own + "(A;;0x1;;;AU)", Secret, "S-1-5-11) read it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			setDACL(t, tt.path, tt.sddl)
			err := CheckPath("thing", tt.path, tt.kind, -1)
			var fe *Error
			if !errors.Is(err, ErrUnsafe) || !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(fe.Hint(), "icacls") {
				t.Fatalf("CheckPath = %v, want a refusal naming %q", err, tt.want)
			}
			setDACL(t, tt.path, "D:P"+own)
			if err := CheckPath("thing", tt.path, tt.kind, -1); err != nil {
				t.Fatalf("private again: %v", err)
			}
		})
	}
}
