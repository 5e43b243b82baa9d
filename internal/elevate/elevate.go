// Package elevate runs a keyprep command again with administrator rights on
// Windows, in the operator's own console and script.
//
// Windows lets only an elevated process open FIDO security keys as HID
// devices (docs/windows.md, "Administrator rights"). An application manifest
// can only ask for elevation for the whole program, so keyprep.exe declares
// asInvoker and, when a command that opens keys starts without the rights,
// asks for them itself: it starts a second copy of itself with the verb
// "runas" (ShellExecuteEx, which raises the UAC consent prompt) and stays
// as a relay while that copy runs:
//
//   - the elevated copy attaches to the operator's console (AttachConsole),
//     so its output, its PIN prompts without echo and Ctrl-C are the
//     operator's, as if it had been started there;
//   - a stream that is not the console (stdin from a pipe or a file for
//     --pin stdin, stdout into a file or a pipe) is relayed through a named
//     pipe that only this user can open, checked at both ends by process id;
//   - the command line, the environment and the working directory travel
//     in one Request over a control pipe (the elevated copy gets the
//     user's default environment and System32 as its directory otherwise);
//   - the relay exits with the elevated copy's exit code.
//
// This file is the portable part: the Request and its wire format (a
// length-prefixed JSON document), so that its parser is tested and fuzzed
// on every system. The Windows calls are in elevate_windows.go.
package elevate

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ChildArg is the first argument of the elevated copy's command line: it
// is followed by the session id and the relay's process id. It is not a
// command: cli.Main hands it to RunChild before anything else.
const ChildArg = "__elevated-child"

var (
	// ErrDeclined: the operator answered no to the UAC prompt (or a
	// policy answered for them).
	ErrDeclined = errors.New("the request for administrator rights was declined")
	// ErrUnavailable: Windows could not ask (no desktop to show the
	// prompt on, as in an SSH session or a service, or not Windows).
	ErrUnavailable = errors.New("administrator rights cannot be requested here")
	// ErrRelay: the relay between the two copies failed, or another
	// process tried to take the elevated copy's place.
	ErrRelay = errors.New("the relay to the elevated keyprep failed")
)

// Stream says how the elevated copy gets one of its standard streams.
type Stream string

const (
	// Console: the relay's stream is its console; the elevated copy
	// attaches to that console and opens it itself.
	Console Stream = "console"
	// Pipe: the relay's stream is a file or a pipe; it is copied through
	// a named pipe.
	Pipe Stream = "pipe"
	// Null: the relay has no such stream; the elevated copy gets NUL.
	Null Stream = "null"
)

func (s Stream) valid() bool { return s == Console || s == Pipe || s == Null }

// Version is the wire format's version: both ends are the same executable,
// so a mismatch means a foreign or damaged peer.
const Version = 1

// MaxRequest bounds a Request on the wire (a whole environment block fits
// many times over).
const MaxRequest = 1 << 20

// Request is what the relay sends the elevated copy before it runs: the
// command line (without the program name), the environment, the working
// directory and how each standard stream arrives (stdin, stdout, stderr).
type Request struct {
	V       int       `json:"v"`
	Args    []string  `json:"args"`
	Env     []string  `json:"env"`
	Dir     string    `json:"dir"`
	Streams [3]Stream `json:"streams"`
}

// Validate checks a Request as the elevated copy must before it acts on it.
func (r *Request) Validate() error {
	if r.V != Version {
		return fmt.Errorf("request version %d, want %d", r.V, Version)
	}
	if r.Dir == "" {
		return errors.New("request without a working directory")
	}
	for i, s := range r.Streams {
		if !s.valid() {
			return fmt.Errorf("stream %d: unknown kind %q", i, string(s))
		}
	}
	if len(r.Args) > 0 && r.Args[0] == ChildArg {
		// The elevated copy never relays again.
		return errors.New("request to relaunch the relay")
	}
	for _, a := range r.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return errors.New("argument with a NUL character")
		}
	}
	for _, kv := range r.Env {
		if strings.IndexByte(kv, 0) >= 0 {
			return errors.New("environment entry with a NUL character")
		}
	}
	return nil
}

// NeedsConsole reports whether any stream comes from the relay's console.
func (r *Request) NeedsConsole() bool {
	for _, s := range r.Streams {
		if s == Console {
			return true
		}
	}
	return false
}

// Write sends r: a 4-byte big-endian length and the JSON document.
func Write(w io.Writer, r *Request) error {
	if err := r.Validate(); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if len(b) > MaxRequest {
		return fmt.Errorf("request of %d bytes, at most %d", len(b), MaxRequest)
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	if _, err := w.Write(append(n[:], b...)); err != nil {
		return err
	}
	return nil
}

// Read receives a Request written by Write and validates it. Unknown
// fields, trailing data and oversize documents are refused. Errors never
// quote the document: it holds the relay's environment.
func Read(rd io.Reader) (*Request, error) {
	var n [4]byte
	if _, err := io.ReadFull(rd, n[:]); err != nil {
		return nil, fmt.Errorf("request length: %w", err)
	}
	size := binary.BigEndian.Uint32(n[:])
	if size == 0 || size > MaxRequest {
		return nil, fmt.Errorf("request of %d bytes, want 1 to %d", size, MaxRequest)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(rd, b); err != nil {
		return nil, fmt.Errorf("request body: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var r Request
	if err := dec.Decode(&r); err != nil {
		return nil, errors.New("request: not a well-formed request document")
	}
	if dec.More() {
		return nil, errors.New("request: data after the document")
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// sessionLen is the length of a session id: 16 random bytes in hex.
const sessionLen = 32

// ChildArgs is the elevated copy's command line after the program name.
func ChildArgs(session string, relayPID uint32) []string {
	return []string{ChildArg, session, strconv.FormatUint(uint64(relayPID), 10)}
}

// ParseChildArgs reads the arguments after ChildArg: the session id (32
// lower-case hex digits: it names the pipes) and the relay's process id.
func ParseChildArgs(args []string) (session string, relayPID uint32, err error) {
	if len(args) != 2 {
		return "", 0, fmt.Errorf("%s takes a session and a process id, got %d arguments", ChildArg, len(args))
	}
	session = args[0]
	if len(session) != sessionLen || strings.Trim(session, "0123456789abcdef") != "" {
		return "", 0, fmt.Errorf("%s: malformed session id", ChildArg)
	}
	pid, err := strconv.ParseUint(args[1], 10, 32)
	if err != nil || pid == 0 {
		return "", 0, fmt.Errorf("%s: malformed process id", ChildArg)
	}
	return session, uint32(pid), nil
}

// PipeName is the name of one of a session's pipes: "ctl" for the
// Request, "in", "out" and "err" for the standard streams.
func PipeName(session, which string) string {
	return `\\.\pipe\keyprep-elevate-` + session + "-" + which
}

// CleanEnv drops the entries Windows keeps for each drive's current
// directory ("=C:=C:\x"), which have no name to set and which the working
// directory already carries, and entries without "=".
func CleanEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if i := strings.IndexByte(kv, '='); i > 0 {
			out = append(out, kv)
		}
	}
	return out
}
