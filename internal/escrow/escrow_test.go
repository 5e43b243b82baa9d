package escrow

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"golang.org/x/crypto/ssh"

	"github.com/keyprep/keyprep/internal/fileguard"
)

// keyPair is a recipient spec with the identity file that opens it.
type keyPair struct {
	spec   string // as given to ParseRecipients
	norm   string // the normalised form ParseRecipients should return
	idPath string // an identity file for LoadIdentities
}

func newX25519Pair(t *testing.T, dir string) keyPair {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "x25519-"+id.Recipient().String()[4:12]+".txt")
	content := "# created: test\n# public key: " + id.Recipient().String() + "\n" + id.String() + "\n"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r := id.Recipient().String()
	return keyPair{spec: r, norm: r, idPath: p}
}

func writeSSHKey(t *testing.T, dir, name string, priv any, pub ssh.PublicKey) keyPair {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(priv, "helpdesk@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	norm := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	return keyPair{spec: norm + " helpdesk@contoso.test", norm: norm, idPath: p}
}

func newEd25519Pair(t *testing.T, dir string) keyPair {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return writeSSHKey(t, dir, "id_ed25519", priv, spk)
}

func newRSAPair(t *testing.T, dir string) keyPair {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spk, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return writeSSHKey(t, dir, "id_rsa", priv, spk)
}

func mustParse(t *testing.T, specs ...string) []age.Recipient {
	t.Helper()
	recs, _, err := ParseRecipients(specs)
	if err != nil {
		t.Fatalf("ParseRecipients(%q): %v", specs, err)
	}
	return recs
}

func mustLoad(t *testing.T, path string) []age.Identity {
	t.Helper()
	ids, err := LoadIdentities(path)
	if err != nil {
		t.Fatalf("LoadIdentities(%s): %v", path, err)
	}
	return ids
}

func TestSealOpenRoundTrip(t *testing.T) {
	pins := map[string][]byte{
		"digits":    []byte("20481632"),
		"non-ASCII": []byte("Grüße-€-𝄞-ñ"),
		"63 bytes":  bytes.Repeat([]byte("7"), 63),
		"space":     []byte(" 12 34 "),
		"hash":      []byte("#1234"),
	}
	for _, tc := range []struct {
		name string
		pair func(*testing.T, string) keyPair
	}{
		{"x25519", newX25519Pair},
		{"ssh-ed25519", newEd25519Pair},
		{"ssh-rsa", newRSAPair},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kp := tc.pair(t, t.TempDir())
			recs, names, err := ParseRecipients([]string{kp.spec})
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != 1 || names[0] != kp.norm {
				t.Fatalf("names = %q, want [%q]", names, kp.norm)
			}
			ids := mustLoad(t, kp.idPath)
			for pname, p := range pins {
				orig := bytes.Clone(p)
				ct, err := Seal(p, recs)
				if err != nil {
					t.Fatalf("%s: Seal: %v", pname, err)
				}
				if !bytes.Equal(p, orig) {
					t.Fatalf("%s: Seal modified the PIN", pname)
				}
				if !bytes.HasPrefix(ct, []byte(armor.Header+"\n")) ||
					!bytes.HasSuffix(bytes.TrimSpace(ct), []byte(armor.Footer)) {
					t.Fatalf("%s: not age armor:\n%s", pname, ct)
				}
				if bytes.Contains(ct, p) {
					t.Fatalf("%s: ciphertext contains the PIN", pname)
				}
				got, err := Open(ct, ids)
				if err != nil {
					t.Fatalf("%s: Open: %v", pname, err)
				}
				if !bytes.Equal(got, p) {
					t.Fatalf("%s: Open = %q, want %q", pname, got, p)
				}
			}
		})
	}
}

func TestSealCiphertextHasNoPIN(t *testing.T) {
	kp := newX25519Pair(t, t.TempDir())
	recs := mustParse(t, kp.spec)
	p := []byte("839201")
	ct, err := Seal(p, recs)
	if err != nil {
		t.Fatal(err)
	}
	// Neither the armored text nor the binary age file inside it holds the
	// PIN.
	bin, err := readAll(armor.NewReader(bytes.NewReader(ct)))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{ct, bin} {
		if bytes.Contains(b, p) {
			t.Fatal("ciphertext contains the PIN")
		}
	}
	// Two seals of the same PIN differ (fresh file key and nonce).
	ct2, err := Seal(p, recs)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ct, ct2) {
		t.Fatal("two seals of the same PIN are identical")
	}
	// Open accepts the binary form too.
	got, err := Open(bin, mustLoad(t, kp.idPath))
	if err != nil || !bytes.Equal(got, p) {
		t.Fatalf("Open(binary) = %q, %v", got, err)
	}
}

func readAll(r interface{ Read([]byte) (int, error) }) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

func TestMultipleRecipientsEachOpen(t *testing.T) {
	dir := t.TempDir()
	pairs := []keyPair{newX25519Pair(t, dir), newX25519Pair(t, dir), newEd25519Pair(t, dir), newRSAPair(t, dir)}
	var specs []string
	for _, kp := range pairs {
		specs = append(specs, kp.spec)
	}
	// The first spec repeated is kept once.
	recs, names, err := ParseRecipients(append(specs, pairs[0].spec))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(pairs) || len(names) != len(pairs) {
		t.Fatalf("got %d recipients, %d names, want %d", len(recs), len(names), len(pairs))
	}
	p := []byte("Åsa-4711")
	ct, err := Seal(p, recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, kp := range pairs {
		got, err := Open(ct, mustLoad(t, kp.idPath))
		if err != nil {
			t.Fatalf("recipient %d (%s): %v", i, names[i], err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("recipient %d: got %q", i, got)
		}
	}
	// An identity list holding a stranger and a recipient opens it too.
	stranger := newX25519Pair(t, t.TempDir())
	ids := append(mustLoad(t, stranger.idPath), mustLoad(t, pairs[1].idPath)...)
	if got, err := Open(ct, ids); err != nil || !bytes.Equal(got, p) {
		t.Fatalf("Open with stranger first = %q, %v", got, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	kp := newX25519Pair(t, dir)
	other := newX25519Pair(t, dir)
	p := []byte("55667788")
	ct, err := Seal(p, mustParse(t, kp.spec))
	if err != nil {
		t.Fatal(err)
	}
	tampered := tamper(t, ct)

	for _, tc := range []struct {
		name        string
		ct          []byte
		ids         []age.Identity
		wantDecrypt bool
		wantSubstr  string
	}{
		{"wrong identity", ct, mustLoad(t, other.idPath), true, "cannot open"},
		{"no identities", ct, nil, false, "no identities"},
		{"garbage", []byte("not an escrow"), mustLoad(t, kp.idPath), false, "malformed"},
		{"truncated armor", ct[:len(ct)/2], mustLoad(t, kp.idPath), false, "malformed"},
		{"tampered payload", tampered, mustLoad(t, kp.idPath), false, "tampered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(tc.ct, tc.ids)
			if err == nil {
				t.Fatalf("Open succeeded: %q", got)
			}
			if errors.Is(err, ErrDecrypt) != tc.wantDecrypt {
				t.Fatalf("errors.Is(%v, ErrDecrypt) = %v", err, !tc.wantDecrypt)
			}
			if tc.wantDecrypt {
				var nm *age.NoIdentityMatchError
				if !errors.As(err, &nm) {
					t.Fatalf("%v does not wrap *age.NoIdentityMatchError", err)
				}
			}
			if !strings.Contains(err.Error(), tc.wantSubstr) {
				t.Fatalf("error %q does not mention %q", err, tc.wantSubstr)
			}
			if strings.Contains(err.Error(), string(p)) {
				t.Fatal("error contains the PIN")
			}
		})
	}
}

// tamper flips a bit in the last byte of the age payload inside armored
// ct (the payload's authentication tag).
func tamper(t *testing.T, ct []byte) []byte {
	t.Helper()
	bin, err := readAll(armor.NewReader(bytes.NewReader(ct)))
	if err != nil {
		t.Fatal(err)
	}
	bin[len(bin)-1] ^= 1
	var out bytes.Buffer
	w := armor.NewWriter(&out)
	if _, err := w.Write(bin); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestSealRefuses(t *testing.T) {
	recs := mustParse(t, newX25519Pair(t, t.TempDir()).spec)
	for _, tc := range []struct {
		name string
		pin  []byte
		recs []age.Recipient
		is   error
	}{
		{"no recipients", []byte("1234"), nil, ErrNoRecipients},
		{"nil recipient", []byte("1234"), []age.Recipient{nil}, nil},
		{"empty PIN", nil, recs, nil},
		{"64 bytes", bytes.Repeat([]byte("1"), 64), recs, nil},
		{"newline", []byte("12\n34"), recs, nil},
		{"NUL", []byte("12\x0034"), recs, nil},
		{"invalid UTF-8", []byte("12\xff34"), recs, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Seal(tc.pin, tc.recs)
			if err == nil {
				t.Fatal("Seal succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v is not %v", err, tc.is)
			}
			if len(tc.pin) > 0 && strings.Contains(err.Error(), string(tc.pin)) {
				t.Fatal("error contains the PIN")
			}
		})
	}
}

func TestParseRecipients(t *testing.T) {
	dir := t.TempDir()
	a := newX25519Pair(t, dir)
	b := newX25519Pair(t, dir)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.txt", "# helpdesk keys\n\n"+a.spec+"\n   # indented comment\n  "+b.spec+"  \r\n")
	bad := write("bad.txt", "# helpdesk keys\n"+a.spec+"\n\nage1notakey\n"+b.spec+"\n")
	onlyComments := write("empty.txt", "# nobody yet\n\n")
	nested := write("nested.txt", "@"+good+"\n")
	secretLine := write("secret.txt", "# oops\nAGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n")
	long := "age1" + strings.Repeat("q", 300)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	upper := strings.ToUpper(a.spec)
	hybrid, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name      string
		specs     []string
		wantNames []string
		is        error    // wanted sentinel, if any
		errHas    []string // substrings the error must contain
		errHasNot []string // substrings it must not contain
	}{
		{name: "age1", specs: []string{a.spec}, wantNames: []string{a.norm}},
		{name: "age1 upper case is normalised", specs: []string{upper}, wantNames: []string{a.norm}},
		{name: "surrounding space", specs: []string{"  " + a.spec + "\t"}, wantNames: []string{a.norm}},
		{name: "post-quantum", specs: []string{hybrid.Recipient().String()}, wantNames: []string{hybrid.Recipient().String()}},
		{name: "@file", specs: []string{"@" + good}, wantNames: []string{a.norm, b.norm}},
		{name: "plain path", specs: []string{good}, wantNames: []string{a.norm, b.norm}},
		{name: "mixed, deduplicated", specs: []string{b.spec, "@" + good}, wantNames: []string{b.norm, a.norm}},
		{name: "bad line names file and line", specs: []string{"@" + bad},
			errHas: []string{"bad.txt", "line 4", `"age1notakey"`}},
		{name: "only comments", specs: []string{onlyComments}, is: ErrNoRecipients, errHas: []string{"empty.txt"}},
		{name: "no specs", specs: nil, is: ErrNoRecipients},
		{name: "empty spec", specs: []string{" "}, errHas: []string{"empty recipient"}},
		{name: "nested @ in file", specs: []string{nested}, errHas: []string{"line 1", "not followed"}},
		{name: "missing @file", specs: []string{"@" + filepath.Join(dir, "nope.txt")}, is: fs.ErrNotExist, errHas: []string{"nope.txt"}},
		{name: "unknown spec", specs: []string{"helpdesk"}, errHas: []string{`"helpdesk"`, "not an age recipient"}},
		{name: "directory", specs: []string{dir}, errHas: []string{"directory"}},
		{name: "long spec truncated", specs: []string{long},
			errHas: []string{strings.Repeat("q", 76) + `"…`}, errHasNot: []string{strings.Repeat("q", 77)}},
		{name: "private key not echoed", specs: []string{id.String()},
			errHas: []string{"private key"}, errHasNot: []string{id.String(), id.String()[:20]}},
		{name: "private key in file not echoed", specs: []string{secretLine},
			errHas: []string{"line 2", "private key"}, errHasNot: []string{"QQQQ"}},
		{name: "plugin recipient", specs: []string{"age1yubikey1qfoo"}, errHas: []string{`"age1yubikey"`, "not supported"}},
		{name: "malformed ssh", specs: []string{"ssh-ed25519 AAAAnotbase64!"}, errHas: []string{"malformed SSH public key"}},
		{name: "two ssh keys on a line", specs: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEX6xQSW5gYLTCRkiwqyXAq+5W5Bb7M/jvgmFsq4uG9A a\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEX6xQSW5gYLTCRkiwqyXAq+5W5Bb7M/jvgmFsq4uG9A b"},
			errHas: []string{"more than one"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, names, err := ParseRecipients(tc.specs)
			if tc.wantNames != nil {
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(names, ",") != strings.Join(tc.wantNames, ",") || len(recs) != len(names) {
					t.Fatalf("names = %q (%d recipients), want %q", names, len(recs), tc.wantNames)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseRecipients succeeded: %q", names)
			}
			t.Logf("error: %v", err)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v is not %v", err, tc.is)
			}
			for _, s := range tc.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			for _, s := range tc.errHasNot {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains %q", err, s)
				}
			}
		})
	}
}

func TestParseRecipientsSSH(t *testing.T) {
	dir := t.TempDir()
	ed := newEd25519Pair(t, dir)
	rsaPair := newRSAPair(t, dir)
	f := filepath.Join(dir, "keys")
	if err := os.WriteFile(f, []byte("# ops\n"+ed.spec+"\n"+rsaPair.spec+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, names, err := ParseRecipients([]string{f})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[0] != ed.norm || names[1] != rsaPair.norm {
		t.Fatalf("names = %q", names)
	}
	if strings.Contains(names[0], "helpdesk@") {
		t.Fatal("normalised form kept the comment")
	}

	// Unsupported SSH key type.
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	spk, err := ssh.NewPublicKey(&small.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseRecipients([]string{string(ssh.MarshalAuthorizedKey(spk))}); err == nil {
		t.Fatal("1024-bit RSA accepted")
	}

	// Passphrase-protected keys are refused with a clear message.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(dir, "id_enc")
	if err := os.WriteFile(enc, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentities(enc); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("LoadIdentities(encrypted) = %v", err)
	}
}

func TestLoadIdentities(t *testing.T) {
	dir := t.TempDir()
	a, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	b, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		path   string
		n      int
		errHas string
		is     error // the error matches it (errors.Is), when set
	}{
		{"two with comments", write("two.txt", "# created: now\n# public key: x\n"+a.String()+"\n\n# second\n"+b.String()+"\n"), 2, "", nil},
		{"missing", filepath.Join(dir, "missing.txt"), 0, "missing.txt", fs.ErrNotExist},
		{"empty", write("empty.txt", "# nothing\n"), 0, "no identities", nil},
		{"recipient not identity", write("pub.txt", a.Recipient().String()+"\n"), 0, "line 1", nil},
		{"directory", dir, 0, "directory", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := LoadIdentities(tc.path)
			if tc.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(ids) != tc.n {
					t.Fatalf("got %d identities, want %d", len(ids), tc.n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error = %v, want one containing %q", err, tc.errHas)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v is not %v", err, tc.is)
			}
			if strings.Contains(err.Error(), "AGE-SECRET-KEY") {
				t.Fatalf("error %q quotes a secret key", err)
			}
		})
	}
}

func TestEnsureBenchIdentity(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX permissions")
	}
	dir := filepath.Join(t.TempDir(), "state", "escrow")
	id, rec, created, err := EnsureBenchIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !created || id == nil || !strings.HasPrefix(rec, "age1") || rec != id.Recipient().String() {
		t.Fatalf("first call: created=%v rec=%q", created, rec)
	}
	path := filepath.Join(dir, BenchIdentityFile)
	assertMode(t, dir, 0o700)
	assertMode(t, path, 0o600)
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# keyprep bench escrow identity", "# public key: " + rec, "ANYONE WHO CAN READ THIS FILE CAN DECRYPT"} {
		if !strings.Contains(string(content), want) {
			t.Errorf("identity file lacks %q:\n%s", want, content)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("escrow dir holds %d entries, want only the identity: %v", len(entries), entries)
	}

	id2, rec2, created2, err := EnsureBenchIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if created2 || rec2 != rec || id2.String() != id.String() {
		t.Fatalf("second call: created=%v rec=%q, want the same identity", created2, rec2)
	}

	// The file is an ordinary age identity file: it opens what is sealed
	// to its recipient.
	ct, err := Seal([]byte("4242-bench"), mustParse(t, rec))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Open(ct, mustLoad(t, path)); err != nil || string(got) != "4242-bench" {
		t.Fatalf("Open with bench identity = %q, %v", got, err)
	}

	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, _, _, err = EnsureBenchIdentity(dir)
		if !strings.Contains(guardHint(err), "chmod 600") {
			t.Fatalf("mode %04o: error = %v, want one saying chmod 600", mode, err)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err = EnsureBenchIdentity(dir); !strings.Contains(guardHint(err), "chmod 700") {
		t.Fatalf("group-writable dir: error = %v, want one saying chmod 700", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}

	// A corrupt file is reported, never replaced.
	if err := os.WriteFile(path, []byte("# truncated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err = EnsureBenchIdentity(dir); err == nil {
		t.Fatal("corrupt identity file accepted")
	}
	if b, _ := os.ReadFile(path); string(b) != "# truncated\n" {
		t.Fatal("corrupt identity file was replaced")
	}
}

func TestEnsureBenchIdentityConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "escrow")
	const n = 8
	var (
		wg      sync.WaitGroup
		recs    [n]string
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() {
			_, recs[i], created[i], errs[i] = EnsureBenchIdentity(dir)
		})
	}
	wg.Wait()
	nCreated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if recs[i] != recs[0] {
			t.Fatalf("caller %d got %q, caller 0 got %q", i, recs[i], recs[0])
		}
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Fatalf("%d callers report creating the identity, want 1", nCreated)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Fatalf("%s has mode %04o, want %04o", path, got, want)
	}
}

func TestWritePINFile(t *testing.T) {
	dir := t.TempDir()
	when := time.Date(2026, 11, 5, 9, 30, 0, 0, time.UTC)
	h := PINFileHeader{UPN: "adele.vance@contoso.test", KeyPath: "vkey:bench-1", AAGUID: "ee882879-721c-4913-9775-3dfcce97072a", Time: when}

	for _, tc := range []struct {
		name string
		pin  []byte
	}{
		{"non-ASCII", []byte("Ünïcødé-€𝄞")},
		{"digits", []byte("12345678")},
		{"leading hash and spaces", []byte("# 12 34 ")},
		{"63 bytes", bytes.Repeat([]byte("é"), 31)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".pin")
			if err := WritePINFile(path, h, tc.pin); err != nil {
				t.Fatal(err)
			}
			if runtime.GOOS != "windows" {
				assertMode(t, path, 0o600)
			}
			content, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := "# keyprep PIN for adele.vance@contoso.test on key vkey:bench-1 (AAGUID ee882879-721c-4913-9775-3dfcce97072a), 2026-11-05T09:30:00Z\n" + string(tc.pin) + "\n"
			if string(content) != want {
				t.Fatalf("content = %q, want %q", content, want)
			}
			got, err := ReadPINFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.pin) {
				t.Fatalf("ReadPINFile = %q, want %q", got, tc.pin)
			}

			// A second write never overwrites.
			err = WritePINFile(path, h, []byte("99999999"))
			if !errors.Is(err, ErrExists) {
				t.Fatalf("second WritePINFile = %v, want ErrExists", err)
			}
			if again, _ := os.ReadFile(path); !bytes.Equal(again, content) {
				t.Fatal("second WritePINFile changed the file")
			}
		})
	}

	t.Run("symlink is not followed", func(t *testing.T) {
		target := filepath.Join(dir, "target")
		link := filepath.Join(dir, "link.pin")
		if err := os.Symlink(target, link); err != nil {
			t.Skip(err)
		}
		if err := WritePINFile(link, h, []byte("1234")); !errors.Is(err, ErrExists) {
			t.Fatalf("WritePINFile(dangling symlink) = %v, want ErrExists", err)
		}
		if _, err := os.Stat(target); err == nil {
			t.Fatal("PIN written through a symlink")
		}
	})

	t.Run("header fields stay on one line", func(t *testing.T) {
		path := filepath.Join(dir, "evil.pin")
		evil := PINFileHeader{UPN: "x\n0000\n", KeyPath: "k\r", AAGUID: "a\u2028b"}
		if err := WritePINFile(path, evil, []byte("13572468")); err != nil {
			t.Fatal(err)
		}
		got, err := ReadPINFile(path)
		if err != nil || string(got) != "13572468" {
			t.Fatalf("ReadPINFile = %q, %v", got, err)
		}
		content, _ := os.ReadFile(path)
		if n := bytes.Count(content, []byte("\n")); n != 2 {
			t.Fatalf("file has %d lines: %q", n, content)
		}
	})

	t.Run("zero time means now", func(t *testing.T) {
		path := filepath.Join(dir, "now.pin")
		before := time.Now().Add(-time.Second)
		if err := WritePINFile(path, PINFileHeader{UPN: "u"}, []byte("2468")); err != nil {
			t.Fatal(err)
		}
		content, _ := os.ReadFile(path)
		first, _, _ := strings.Cut(string(content), "\n")
		stamp := first[strings.LastIndex(first, ", ")+2:]
		ts, err := time.Parse(time.RFC3339, stamp)
		if err != nil || ts.Before(before.Truncate(time.Second)) {
			t.Fatalf("header time %q: %v", stamp, err)
		}
	})

	for _, tc := range []struct {
		name string
		pin  []byte
	}{
		{"empty", nil},
		{"newline", []byte("1234\n5678")},
		{"carriage return", []byte("1234\r")},
		{"64 bytes", bytes.Repeat([]byte("1"), 64)},
		{"invalid UTF-8", []byte{'1', 0xff, '2', '3'}},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad-"+strings.ReplaceAll(tc.name, " ", "-"))
			err := WritePINFile(path, h, tc.pin)
			if err == nil {
				t.Fatal("WritePINFile succeeded")
			}
			if len(tc.pin) > 0 && strings.Contains(err.Error(), string(tc.pin)) {
				t.Fatal("error contains the PIN")
			}
			if _, err := os.Lstat(path); err == nil {
				t.Fatal("a file was left behind")
			}
		})
	}
}

func TestReadPINFile(t *testing.T) {
	const hdr = "# keyprep PIN for u@contoso.test on key /dev/hidraw3 (AAGUID x), 2026-11-05T09:30:00Z"
	for _, tc := range []struct {
		name    string
		content string
		want    string // "" means an error is expected
	}{
		{"plain", hdr + "\n8642\n", "8642"},
		{"CRLF", hdr + "\r\n8642\r\n", "8642"},
		{"no final newline", hdr + "\n8642", "8642"},
		{"trailing blank lines", hdr + "\n8642\n\n\n", "8642"},
		{"PIN starting with #", hdr + "\n#8642\n", "#8642"},
		{"PIN with inner spaces", hdr + "\n 86 42 \n", " 86 42 "},
		{"no header", "8642\n", ""},
		{"foreign comment header", "# my pin\n8642\n", ""},
		{"header only", hdr + "\n", ""},
		{"header without newline", hdr, ""},
		{"two PIN lines", hdr + "\n8642\n1357\n", ""},
		{"too long", hdr + "\n" + strings.Repeat("8", 64) + "\n", ""},
		{"invalid UTF-8", hdr + "\n86\xff42\n", ""},
		{"empty file", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pin")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadPINFile(path)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("ReadPINFile succeeded: %q", got)
				}
				for _, secret := range []string{"8642", "1357"} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error %q contains a PIN", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("ReadPINFile = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := ReadPINFile(filepath.Join(t.TempDir(), "missing")); err == nil || errors.Is(err, ErrExists) {
		t.Fatalf("ReadPINFile(missing) = %v", err)
	}
}

// guardHint is the fix a fileguard refusal in err gives, or "".
func guardHint(err error) string {
	var fe *fileguard.Error
	if errors.As(err, &fe) {
		return fe.Hint()
	}
	return ""
}

// TestBenchIdentityOwner: an escrow directory or a bench identity that
// belongs to another user is refused, whatever its mode. As root the test
// gives its files to another uid (a root bench and a planted identity);
// otherwise it keeps them and the bench runs as someone else.
func TestBenchIdentityOwner(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix owners")
	}
	dir := filepath.Join(t.TempDir(), "escrow")
	if _, _, _, err := EnsureBenchIdentity(dir); err != nil {
		t.Fatal(err)
	}
	idPath := filepath.Join(dir, BenchIdentityFile)
	defer func(f func() int) { euid = f }(euid)
	me := os.Geteuid()
	const other = 54321
	// foreign makes path another user's, as seen by the bench.
	foreign := func(path string) {
		if me == 0 {
			if err := os.Chown(path, other, -1); err != nil {
				t.Fatal(err)
			}
		} else {
			euid = func() int { return me + 1 }
		}
	}
	own := func(path string) {
		if me == 0 {
			if err := os.Chown(path, 0, -1); err != nil {
				t.Fatal(err)
			}
		}
		euid = func() int { return me }
	}
	foreign(dir)
	foreign(idPath)
	_, _, _, err := EnsureBenchIdentity(dir)
	if !errors.Is(err, fileguard.ErrUnsafe) || !strings.Contains(err.Error(), "escrow directory") || !strings.Contains(err.Error(), "owned by") {
		t.Fatalf("escrow directory of another user: %v", err)
	}
	if me == 0 {
		// The directory is the bench's, the identity in it is not.
		own(dir)
		if _, _, _, err := EnsureBenchIdentity(dir); !errors.Is(err, fileguard.ErrUnsafe) || !strings.Contains(err.Error(), "bench identity") {
			t.Fatalf("bench identity of another user: %v", err)
		}
	} else if _, err := loadBenchIdentity(idPath); !errors.Is(err, fileguard.ErrUnsafe) || !strings.Contains(err.Error(), "bench identity") {
		t.Fatalf("bench identity of another user: %v", err)
	}
	own(dir)
	own(idPath)
	if _, _, _, err := EnsureBenchIdentity(dir); err != nil {
		t.Fatalf("own files: %v", err)
	}
}
