//go:build windows

package elevate

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	modshell32          = windows.NewLazySystemDLL("shell32.dll")
	procShellExecuteExW = modshell32.NewProc("ShellExecuteExW")
	modkernel32         = windows.NewLazySystemDLL("kernel32.dll")
	procAttachConsole   = modkernel32.NewProc("AttachConsole")
	procFreeConsole     = modkernel32.NewProc("FreeConsole")
)

// elevated reports whether this process has administrator rights (its
// token is elevated). A test build for Wine, which runs every process
// elevated, replaces it (elevate_winetest.go).
var elevated = func() bool { return windows.GetCurrentProcessToken().IsElevated() }

// Elevated reports whether this process has administrator rights.
func Elevated() bool { return elevated() }

// shellExecuteInfo is SHELLEXECUTEINFOW (Microsoft Learn, "SHELLEXECUTEINFOW
// structure (shellapi.h)"); Go's alignment rules give it the C layout.
type shellExecuteInfo struct {
	size       uint32
	mask       uint32
	hwnd       windows.Handle
	verb       *uint16
	file       *uint16
	parameters *uint16
	directory  *uint16
	show       int32
	instApp    windows.Handle
	idList     uintptr
	class      *uint16
	keyClass   windows.Handle
	hotKey     uint32
	icon       windows.Handle
	process    windows.Handle
}

const (
	seeMaskNoCloseProcess = 0x00000040 // return the process handle
	seeMaskNoAsync        = 0x00000100 // finish before returning
	seeMaskFlagNoUI       = 0x00000400 // no error dialogs (the prompt still shows)
)

// shellRunas starts exe with params elevated: ShellExecuteEx with the verb
// "runas" raises the UAC consent prompt (Microsoft Learn, "ShellExecuteExW
// function"). Its console is hidden: the copy attaches to the relay's.
func shellRunas(exe, params, dir string) (windows.Handle, error) {
	// ShellExecuteEx may hand the work to shell extensions, which need
	// COM on the calling thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := windows.CoInitializeEx(0, windows.COINIT_APARTMENTTHREADED|windows.COINIT_DISABLE_OLE1DDE); err == nil {
		defer windows.CoUninitialize()
	}
	verb, _ := windows.UTF16PtrFromString("runas")
	file, err := windows.UTF16PtrFromString(exe)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	par, _ := windows.UTF16PtrFromString(params)
	d, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	info := shellExecuteInfo{
		mask:       seeMaskNoCloseProcess | seeMaskNoAsync | seeMaskFlagNoUI,
		verb:       verb,
		file:       file,
		parameters: par,
		directory:  d,
		show:       windows.SW_HIDE,
	}
	info.size = uint32(unsafe.Sizeof(info))
	r, _, e := procShellExecuteExW.Call(uintptr(unsafe.Pointer(&info)))
	if r == 0 {
		if errors.Is(e, windows.ERROR_CANCELLED) {
			return 0, ErrDeclined
		}
		return 0, fmt.Errorf("%w: ShellExecuteEx: %v", ErrUnavailable, e)
	}
	if info.process == 0 {
		return 0, fmt.Errorf("%w: Windows started no process", ErrRelay)
	}
	return info.process, nil
}

// streamKind says how the relay's stream f reaches the elevated copy.
func streamKind(f *os.File) Stream {
	if f == nil {
		return Null
	}
	h := windows.Handle(f.Fd())
	if h == 0 || h == windows.InvalidHandle {
		return Null
	}
	var mode uint32
	if windows.GetConsoleMode(h, &mode) == nil {
		return Console
	}
	if t, err := windows.GetFileType(h); err != nil || t == windows.FILE_TYPE_UNKNOWN {
		return Null
	}
	return Pipe
}

// pipeSecurity lets this user (the elevated copy runs as the same user
// when the operator is an administrator) and the Administrators group (an
// elevation with another administrator's account) open the pipes, nobody
// else; the process id checks at both ends do the rest.
func pipeSecurity() (*windows.SecurityAttributes, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("this process's user: %w", err)
	}
	sd, err := windows.SecurityDescriptorFromString("D:P(A;;GA;;;" + u.User.Sid.String() + ")(A;;GA;;;BA)")
	if err != nil {
		return nil, fmt.Errorf("the pipes' security descriptor: %w", err)
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	return sa, nil
}

// serverPipe is the relay's end of one named pipe.
type serverPipe struct {
	name   string
	access uint32 // PIPE_ACCESS_*
	f      *os.File

	mu       sync.Mutex
	accepted bool // a client connected, checked or not
}

func newServerPipe(name string, access uint32, sa *windows.SecurityAttributes) (*serverPipe, error) {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, err
	}
	// One instance, created before the elevated copy exists: nobody can
	// take the name first and pose as the relay.
	h, err := windows.CreateNamedPipe(n,
		access|windows.FILE_FLAG_FIRST_PIPE_INSTANCE,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|windows.PIPE_REJECT_REMOTE_CLIENTS,
		1, 64<<10, 64<<10, 0, sa)
	if err != nil {
		return nil, fmt.Errorf("create pipe: %w", err)
	}
	return &serverPipe{name: name, access: access, f: os.NewFile(uintptr(h), name)}, nil
}

// errNoClient: the elevated copy exited without connecting (the relay
// connected to its own pipe to stop waiting).
var errNoClient = errors.New("the elevated keyprep did not connect")

// accept waits for the client and checks that it is process want.
func (p *serverPipe) accept(want uint32) error {
	h := windows.Handle(p.f.Fd())
	err := windows.ConnectNamedPipe(h, nil)
	p.mu.Lock()
	p.accepted = true
	p.mu.Unlock()
	if errors.Is(err, windows.ERROR_NO_DATA) {
		return errNoClient // release's connection came and went first
	}
	if err != nil && !errors.Is(err, windows.ERROR_PIPE_CONNECTED) {
		return fmt.Errorf("wait for the elevated keyprep: %w", err)
	}
	var pid uint32
	if err := windows.GetNamedPipeClientProcessId(h, &pid); err != nil {
		return fmt.Errorf("%w: the pipe's client: %v", ErrRelay, err)
	}
	if pid == uint32(os.Getpid()) {
		return errNoClient
	}
	if pid != want {
		return fmt.Errorf("%w: process %d, not the elevated keyprep (%d), connected to its pipe", ErrRelay, pid, want)
	}
	return nil
}

// release stops a pending accept by connecting to the pipe itself (a
// synchronous ConnectNamedPipe cannot be cancelled otherwise).
func (p *serverPipe) release() {
	p.mu.Lock()
	done := p.accepted
	p.mu.Unlock()
	if done {
		return
	}
	var access uint32
	switch p.access {
	case windows.PIPE_ACCESS_INBOUND:
		access = windows.GENERIC_WRITE
	case windows.PIPE_ACCESS_OUTBOUND:
		access = windows.GENERIC_READ
	default:
		access = windows.GENERIC_READ | windows.GENERIC_WRITE
	}
	if h, err := openClient(p.name, access); err == nil {
		windows.CloseHandle(h)
	}
}

// openClient opens the client end of a pipe. SECURITY_IDENTIFICATION:
// the pipe's server may learn who the client is but never act as it, so a
// relay without administrator rights cannot borrow the elevated copy's.
func openClient(name string, access uint32) (windows.Handle, error) {
	n, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return 0, err
	}
	return windows.CreateFile(n, access, 0, nil, windows.OPEN_EXISTING,
		windows.SECURITY_SQOS_PRESENT|windows.SECURITY_IDENTIFICATION, 0)
}

// Relaunch runs this program again with administrator rights and args,
// relays its standard streams and returns its exit code. It returns
// ErrDeclined when the operator refuses the UAC prompt, ErrUnavailable when
// Windows cannot ask, and ErrRelay when the relay breaks. Cancelling ctx
// (Ctrl-C) asks the elevated copy to stop; Relaunch still waits for it.
func Relaunch(ctx context.Context, args []string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("%w: this program's path: %v", ErrUnavailable, err)
	}
	dir, err := os.Getwd()
	if err != nil {
		return 0, fmt.Errorf("%w: the working directory: %v", ErrUnavailable, err)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return 0, err
	}
	session := hex.EncodeToString(id[:])
	req := &Request{V: Version, Args: args, Env: CleanEnv(environ()), Dir: dir}
	std := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	for i, f := range std {
		req.Streams[i] = streamKind(f)
	}
	if err := req.Validate(); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrRelay, err)
	}
	sa, err := pipeSecurity()
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrRelay, err)
	}

	ctl, err := newServerPipe(PipeName(session, "ctl"), windows.PIPE_ACCESS_DUPLEX, sa)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrRelay, err)
	}
	pipes := []*serverPipe{ctl}
	defer func() {
		for _, p := range pipes {
			p.f.Close()
		}
	}()
	var streams [3]*serverPipe
	for i, s := range req.Streams {
		if s != Pipe {
			continue
		}
		access := uint32(windows.PIPE_ACCESS_INBOUND)
		if i == 0 {
			access = windows.PIPE_ACCESS_OUTBOUND
		}
		p, err := newServerPipe(PipeName(session, streamPipes[i]), access, sa)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrRelay, err)
		}
		streams[i] = p
		pipes = append(pipes, p)
	}

	proc, err := shellRunas(exe, strings.Join(ChildArgs(session, uint32(os.Getpid())), " "), dir)
	if err != nil {
		return 0, err
	}
	defer windows.CloseHandle(proc)
	child, err := windows.GetProcessId(proc)
	if err != nil {
		windows.TerminateProcess(proc, 1)
		return 0, fmt.Errorf("%w: the elevated process's id: %v", ErrRelay, err)
	}
	exited := make(chan struct{})
	go func() {
		windows.WaitForSingleObject(proc, windows.INFINITE)
		close(exited)
	}()

	var (
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		if errors.Is(err, ErrRelay) {
			// Someone else answered on a pipe: the elevated copy must
			// not run on with a stranger's input.
			windows.TerminateProcess(proc, 1)
		}
	}

	// The control pipe: the request, the copy's answer, then a stop when
	// ctx ends.
	go func() {
		if err := ctl.accept(child); err != nil {
			fail(err)
			return
		}
		if err := Write(ctl.f, req); err != nil {
			fail(fmt.Errorf("%w: send the request: %v", ErrRelay, err))
			return
		}
		line, err := bufio.NewReader(io.LimitReader(ctl.f, 4096)).ReadString('\n')
		if err != nil {
			fail(fmt.Errorf("%w: the elevated keyprep stopped before it started", ErrRelay))
			return
		}
		if msg, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "fail "); ok {
			fail(fmt.Errorf("%w: the elevated keyprep could not start: %s", ErrRelay, msg))
			return
		}
		select {
		case <-ctx.Done():
			ctl.f.Write([]byte{'s'})
		case <-exited:
		}
	}()

	var outputs sync.WaitGroup
	for i, p := range streams {
		if p == nil {
			continue
		}
		copyFn := func() {
			if err := p.accept(child); err != nil {
				if !errors.Is(err, errNoClient) {
					fail(err)
				}
				return
			}
			if i == 0 {
				io.Copy(p.f, os.Stdin)
				p.f.Close()
				return
			}
			io.Copy(std[i], p.f)
		}
		if i == 0 {
			go copyFn() // may wait on stdin after the copy exits
			continue
		}
		outputs.Add(1)
		go func() {
			defer outputs.Done()
			copyFn()
		}()
	}

	<-exited
	for _, p := range pipes {
		p.release()
	}
	outputs.Wait()
	var code uint32
	if err := windows.GetExitCodeProcess(proc, &code); err != nil {
		return 0, fmt.Errorf("%w: the elevated process's exit code: %v", ErrRelay, err)
	}
	mu.Lock()
	err = firstErr
	mu.Unlock()
	if err != nil && !errors.Is(err, errNoClient) {
		return int(code), err
	}
	if err != nil {
		return int(code), fmt.Errorf("%w: it exited with code %d before it connected", ErrRelay, code)
	}
	return int(code), nil
}

// environ is the environment sent to the elevated copy (a test sets one
// the copy cannot inherit).
var environ = os.Environ

// streamPipes are the pipe name suffixes of stdin, stdout and stderr
// (PipeName).
var streamPipes = [3]string{"in", "out", "err"}

// stdHandles are STD_INPUT_HANDLE, STD_OUTPUT_HANDLE and STD_ERROR_HANDLE.
var stdHandles = [3]uint32{windows.STD_INPUT_HANDLE, windows.STD_OUTPUT_HANDLE, windows.STD_ERROR_HANDLE}

// RunChild is the elevated copy's start: args follow ChildArg. It connects
// to the relay (checking that the pipe's server is the relay's process),
// reads the Request, takes the relay's environment and working directory,
// replaces os.Stdin, os.Stdout and os.Stderr with the relay's console or
// pipes, and returns the Request and a channel that is closed when the
// relay asks it to stop (Ctrl-C in the relay) or goes away.
func RunChild(args []string) (*Request, <-chan struct{}, error) {
	session, relay, err := ParseChildArgs(args)
	if err != nil {
		return nil, nil, err
	}
	h, err := openClient(PipeName(session, "ctl"), windows.GENERIC_READ|windows.GENERIC_WRITE)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the control pipe: %v", ErrRelay, err)
	}
	ctl := os.NewFile(uintptr(h), "ctl")
	if err := checkServer(h, relay); err != nil {
		ctl.Close()
		return nil, nil, err
	}
	req, err := Read(ctl)
	if err != nil {
		ctl.Close()
		return nil, nil, fmt.Errorf("%w: %v", ErrRelay, err)
	}
	answer := func(err error) error {
		if err != nil {
			msg := strings.ReplaceAll(err.Error(), "\n", " ")
			fmt.Fprintf(ctl, "fail %s\n", msg)
			ctl.Close()
			return err
		}
		_, err = io.WriteString(ctl, "ok\n")
		return err
	}
	if err := adopt(req, session, relay); err != nil {
		return nil, nil, answer(err)
	}
	if err := answer(nil); err != nil {
		return nil, nil, fmt.Errorf("%w: answer the relay: %v", ErrRelay, err)
	}
	stop := make(chan struct{})
	go func() {
		var b [1]byte
		ctl.Read(b[:]) // a stop byte, or the relay is gone
		close(stop)
	}()
	return req, stop, nil
}

// adopt takes over the relay's environment, directory and streams.
func adopt(req *Request, session string, relay uint32) error {
	os.Clearenv()
	for _, kv := range req.Env {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("environment: %v", err)
		}
	}
	if err := os.Chdir(req.Dir); err != nil {
		return fmt.Errorf("working directory: %v", err)
	}
	// Leave the hidden console Windows gave this copy; take the relay's.
	procFreeConsole.Call()
	if req.NeedsConsole() {
		if r, _, e := procAttachConsole.Call(uintptr(relay)); r == 0 {
			return fmt.Errorf("attach to the relay's console: %v", e)
		}
	}
	var files [3]*os.File
	for i, s := range req.Streams {
		var (
			name   string
			access uint32
		)
		switch {
		case s == Console && i == 0:
			name, access = "CONIN$", windows.GENERIC_READ|windows.GENERIC_WRITE
		case s == Console:
			name, access = "CONOUT$", windows.GENERIC_READ|windows.GENERIC_WRITE
		case s == Null:
			name, access = "NUL", windows.GENERIC_READ|windows.GENERIC_WRITE
		case i == 0:
			name, access = PipeName(session, streamPipes[i]), windows.GENERIC_READ
		default:
			name, access = PipeName(session, streamPipes[i]), windows.GENERIC_WRITE
		}
		var (
			h   windows.Handle
			err error
		)
		if s == Pipe {
			h, err = openClient(name, access)
			if err == nil {
				if err = checkServer(h, relay); err != nil {
					windows.CloseHandle(h)
				}
			}
		} else {
			n, _ := windows.UTF16PtrFromString(name)
			h, err = windows.CreateFile(n, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
		}
		if err != nil {
			for _, f := range files {
				if f != nil {
					f.Close()
				}
			}
			return fmt.Errorf("stream %d (%s): %v", i, s, err)
		}
		files[i] = os.NewFile(uintptr(h), name)
	}
	for i, f := range files {
		windows.SetStdHandle(stdHandles[i], windows.Handle(f.Fd()))
	}
	os.Stdin, os.Stdout, os.Stderr = files[0], files[1], files[2]
	return nil
}

// checkServer refuses a pipe whose server is not the relay's process.
func checkServer(h windows.Handle, relay uint32) error {
	var pid uint32
	if err := windows.GetNamedPipeServerProcessId(h, &pid); err != nil {
		return fmt.Errorf("%w: the pipe's server: %v", ErrRelay, err)
	}
	if pid != relay {
		return fmt.Errorf("%w: the pipe belongs to process %d, not the relay (%d)", ErrRelay, pid, relay)
	}
	return nil
}
