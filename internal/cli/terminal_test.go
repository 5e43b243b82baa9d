package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/safetext"
)

// hostileName is a display name as Graph may return it: a bidi override
// that makes the rest read backwards, a C1 CSI, an isolate, a BOM.
const hostileName = "Eve \u202eexe.gnp\u202c \u009b31m\u2066x\u2069\ufeff"

// TestDirectoryDataIsSafeOnTheTerminal: directory data (display names,
// group names), CSV cells and --user values reach the human-readable output
// with every terminal control and bidi override escaped (internal/safetext);
// --json output stays JSON.
func TestDirectoryDataIsSafeOnTheTerminal(t *testing.T) {
	w := newWorld(t)
	h := hooks{tenantOptions: func(o *entrasim.Options) {
		o.Users = append(entrasim.DefaultSeed(), entrasim.SeedUser{UPN: "eve@contoso.test", DisplayName: hostileName, UserType: "Member",
			Groups: []string{entrasim.PasskeyGroup, entrasim.TAPGroup, "Evil\u202egroup"}})
	}}
	csv := filepath.Join(w.state, "users.csv")
	if err := os.WriteFile(csv, []byte("userPrincipalName,displayName\neve@contoso.test,x\n\x1b[2J\u202ebad,Bad\nnobody\u202e@contoso.test,N\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"user", "show", "eve@contoso.test"},
		{"policy", "check", "--user", "eve@contoso.test"},
		{"tap", "create", "--user", "eve@contoso.test"},
		{"tap", "show", "--user", "eve@contoso.test"},
		{"tap", "create", "--user", "eve@contoso.test", "--replace", "--out", filepath.Join(w.state, "slip.txt")},
		{"tap", "create", "--csv", csv, "--out-dir", filepath.Join(w.state, "slips"), "--replace"},
		{"tap", "create", "--user", "\x1b]0;title\x07\u202eevil@contoso.test"},
		{"user", "show", "\x1b[31mred\u202e@contoso.test"},
		{"enroll", "--user", "eve@contoso.test"},
		{"enroll", "--csv", csv},
		{"sim", "users"},
	} {
		r := w.cli("", h, args...)
		for name, s := range map[string]string{"stdout": r.out, "stderr": r.errOut} {
			if i := strings.IndexFunc(s, func(r rune) bool { return safetext.Unsafe(r) && r != '\n' && r != '\t' }); i >= 0 {
				t.Errorf("keyprep %s: %s has an unescaped control at %d: %q", strings.Join(args, " "), name, i, s[max(0, i-40):min(len(s), i+40)])
			}
		}
	}
	for _, f := range []string{"slip.txt"} {
		b, err := os.ReadFile(filepath.Join(w.state, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsFunc(string(b), func(r rune) bool { return safetext.Unsafe(r) && r != '\n' && r != '\t' }) {
			t.Errorf("%s has an unescaped control: %q", f, b)
		}
	}
	// JSON stays JSON: the name comes back as it is.
	r := w.cli("", h, "--json", "user", "show", "eve@contoso.test")
	if !strings.Contains(r.out, "\u202eexe.gnp") {
		t.Errorf("--json user show changed the display name: %s", r.out)
	}
}
