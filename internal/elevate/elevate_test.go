package elevate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func goodRequest() *Request {
	return &Request{
		V:       Version,
		Args:    []string{"pin", "set", "--key", `\\?\hid#vid_1050&pid_0407`},
		Env:     []string{"KEYPREP_STATE_DIR=C:\\ProgramData\\keyprep", "PATH=C:\\Windows;C:\\tools", "EMPTY="},
		Dir:     `C:\Users\op`,
		Streams: [3]Stream{Pipe, Console, Console},
	}
}

func frame(b []byte) []byte {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	return append(n[:], b...)
}

func TestRequestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	want := goodRequest()
	if err := Write(&buf, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got.V != want.V || !slices.Equal(got.Args, want.Args) || !slices.Equal(got.Env, want.Env) || got.Dir != want.Dir || got.Streams != want.Streams {
		t.Fatalf("read %+v, wrote %+v", got, want)
	}
	if !got.NeedsConsole() {
		t.Error("NeedsConsole false with console streams")
	}
	got.Streams = [3]Stream{Pipe, Pipe, Null}
	if got.NeedsConsole() {
		t.Error("NeedsConsole true without console streams")
	}
}

// The elevated copy acts on what it reads: anything but a well-formed
// request of this version is refused, and no error quotes the document
// (it holds the relay's environment).
func TestReadRefuses(t *testing.T) {
	secret := "AZURE_CLIENT_SECRET=s3cr3t-value"
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "request length"},
		{"short length", []byte{0, 0}, "request length"},
		{"zero length", frame(nil), "want 1 to"},
		{"oversize", []byte{0x7f, 0, 0, 0}, "want 1 to"},
		{"truncated body", frame([]byte(`{"v":1}`))[:8], "request body"},
		{"not json", frame([]byte("SECRET " + secret)), "not a well-formed"},
		{"unknown field", frame([]byte(`{"v":1,"dir":"C:\\","streams":["pipe","pipe","pipe"],"env":["` + secret + `"],"run":"calc"}`)), "not a well-formed"},
		{"trailing document", frame([]byte(`{"v":1,"dir":"C:\\","streams":["pipe","pipe","pipe"]} {}`)), "data after"},
		{"old version", frame([]byte(`{"v":0,"dir":"C:\\","streams":["pipe","pipe","pipe"]}`)), "version 0"},
		{"no directory", frame([]byte(`{"v":1,"streams":["pipe","pipe","pipe"]}`)), "working directory"},
		{"bad stream", frame([]byte(`{"v":1,"dir":"C:\\","streams":["pipe","tty","pipe"]}`)), "unknown kind"},
		{"missing streams", frame([]byte(`{"v":1,"dir":"C:\\"}`)), "unknown kind"},
		{"relay loop", frame([]byte(`{"v":1,"dir":"C:\\","streams":["pipe","pipe","pipe"],"args":["__elevated-child","x","1"]}`)), "relaunch"},
		{"NUL in argument", frame([]byte(`{"v":1,"dir":"C:\\","streams":["pipe","pipe","pipe"],"args":["a\u0000b"]}`)), "NUL"},
		{"NUL in environment", frame([]byte(`{"v":1,"dir":"C:\\","streams":["pipe","pipe","pipe"],"env":["A=\u0000"]}`)), "NUL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.in))
			if err == nil {
				t.Fatal("read succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error quotes the document: %q", err)
			}
		})
	}
}

func TestWriteRefusesInvalid(t *testing.T) {
	r := goodRequest()
	r.Streams[2] = "tty"
	if err := Write(io.Discard, r); err == nil {
		t.Error("Write sent a request with an unknown stream kind")
	}
	r = goodRequest()
	r.Env = []string{strings.Repeat("x", MaxRequest)}
	if err := Write(io.Discard, r); err == nil {
		t.Error("Write sent an oversize request")
	}
}

func TestParseChildArgs(t *testing.T) {
	const sess = "0123456789abcdef0123456789abcdef"
	s, pid, err := ParseChildArgs([]string{sess, "4242"})
	if err != nil || s != sess || pid != 4242 {
		t.Fatalf("ParseChildArgs = %q, %d, %v", s, pid, err)
	}
	if got := ChildArgs(sess, 4242); !slices.Equal(got, []string{ChildArg, sess, "4242"}) {
		t.Errorf("ChildArgs = %q", got)
	}
	bad := [][]string{
		nil,
		{sess},
		{sess, "1", "2"},
		{strings.ToUpper(sess), "1"},
		{sess[:31], "1"},
		{sess[:31] + "g", "1"},
		{`..\..\x` + sess[7:], "1"},
		{sess, "0"},
		{sess, "-1"},
		{sess, "4294967296"},
		{sess, "12a"},
	}
	for _, a := range bad {
		if _, _, err := ParseChildArgs(a); err == nil {
			t.Errorf("ParseChildArgs(%q) accepted", a)
		}
	}
	if got := PipeName(sess, "ctl"); got != `\\.\pipe\keyprep-elevate-`+sess+"-ctl" {
		t.Errorf("PipeName = %q", got)
	}
}

func TestCleanEnv(t *testing.T) {
	got := CleanEnv([]string{"=C:=C:\\x", "=ExitCode=00000000", "A=1", "B=", "broken", "PATH=C:\\a=b"})
	want := []string{"A=1", "B=", "PATH=C:\\a=b"}
	if !slices.Equal(got, want) {
		t.Errorf("CleanEnv = %q, want %q", got, want)
	}
}

func TestRelaunchOutsideWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("on Windows Relaunch runs: elevate_windows_test.go")
	}
	if _, err := Relaunch(t.Context(), []string{"keys"}); err != nil && !errors.Is(err, ErrUnavailable) {
		t.Errorf("Relaunch: %v", err)
	}
}

// FuzzRead: any input is refused or yields a request that passes Validate
// and survives a round trip.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, goodRequest()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(frame([]byte(`{"v":1,"dir":"C:\\","streams":["null","pipe","console"]}`)))
	f.Add([]byte{0, 0, 0, 1, '{'})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := Read(bytes.NewReader(in))
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Read returned an invalid request: %v", err)
		}
		var out bytes.Buffer
		if err := Write(&out, r); err != nil {
			t.Fatalf("Write of a read request: %v", err)
		}
		r2, err := Read(&out)
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if !slices.Equal(r.Args, r2.Args) || !slices.Equal(r.Env, r2.Env) || r.Dir != r2.Dir || r.Streams != r2.Streams {
			t.Fatal("round trip changed the request")
		}
	})
}
