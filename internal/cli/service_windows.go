//go:build windows

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// The Windows service: registration through the service control manager
// (SCM), and keyprep serve run by it (Microsoft Learn, "Service Control
// Manager": https://learn.microsoft.com/en-us/windows/win32/services/service-control-manager).

// serviceDisplayName and serviceDescription are what services.msc shows.
const (
	serviceDisplayName = "keyprep bench"
	serviceDescription = "keyprep serve: provisions FIDO2 security keys for Microsoft Entra ID users at this bench; API and dashboard on loopback only."
)

// serviceStopWait bounds how long uninstall waits for a running service to
// stop (the bench's own shutdown takes seconds).
const serviceStopWait = 60 * time.Second

// connectSCM connects to the service control manager; without
// administrator rights it refuses (ERROR_ACCESS_DENIED).
func connectSCM() (*mgr.Mgr, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, scmErr("connect to the service control manager", err)
	}
	return m, nil
}

// scmErr wraps an SCM failure, classing access denied.
func scmErr(what string, err error) error {
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return fmt.Errorf("%w: %s: %w", errServiceNeedsAdmin, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func installService(ctx context.Context, c serviceConfig) error {
	m, err := connectSCM()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	if s, err := m.OpenService(serviceName); err == nil {
		s.Close()
		return errServiceExists
	}
	start := uint32(mgr.StartManual)
	if c.Auto {
		start = mgr.StartAutomatic
	}
	s, err := m.CreateService(serviceName, c.Exe, mgr.Config{
		DisplayName:  serviceDisplayName,
		Description:  serviceDescription,
		StartType:    start,
		ErrorControl: mgr.ErrorNormal, // a failed start is logged
	}, c.Args...)
	if err != nil {
		if errors.Is(err, windows.ERROR_SERVICE_EXISTS) {
			return errServiceExists
		}
		return scmErr("register the service", err)
	}
	return s.Close()
}

func uninstallService(ctx context.Context) error {
	m, err := connectSCM()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
			return errServiceMissing
		}
		return scmErr("open the service", err)
	}
	defer s.Close()
	if err := stopService(ctx, s); err != nil {
		return err
	}
	if err := s.Delete(); err != nil {
		return scmErr("remove the service", err)
	}
	return nil
}

// stopService asks a running service to stop and waits until it has.
func stopService(ctx context.Context, s *mgr.Service) error {
	st, err := s.Query()
	if err != nil {
		return scmErr("query the service", err)
	}
	if st.State == svc.Stopped {
		return nil
	}
	if st.State != svc.StopPending {
		if st, err = s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
			return scmErr("stop the service", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, serviceStopWait)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for st.State != svc.Stopped {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the service did not stop within %v: %w", serviceStopWait, ctx.Err())
		case <-tick.C:
		}
		if st, err = s.Query(); err != nil {
			return scmErr("query the service", err)
		}
	}
	return nil
}

// serveMaybeService runs serve under the SCM when it started this process
// (svc.IsWindowsService), else in the foreground.
func serveMaybeService(ctx context.Context, g *globals, serve func(context.Context) error) error {
	isService, err := svc.IsWindowsService()
	if err != nil || !isService {
		return serve(ctx)
	}
	// A service has no console: its output and the log go to a file in
	// the state directory.
	if err := os.MkdirAll(g.StateDir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(g.StateDir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	g.io.Out, g.io.ErrOut = f, f
	if g.log != nil {
		g.log.SetOutput(plainWriter{f})
	}
	h := &serveHandler{ctx: ctx, serve: serve}
	if err := svc.Run(serviceName, h); err != nil {
		return fmt.Errorf("run as a service: %w", err)
	}
	return h.err
}

// serveHandler is keyprep serve under the SCM: Stop and Shutdown cancel
// its context, which shuts the bench down as Ctrl-C does in a console.
type serveHandler struct {
	ctx   context.Context
	serve func(context.Context) error
	err   error
}

func (h *serveHandler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- serviceRun(h.ctx, h.serve, stop) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	stopping := false
	for {
		select {
		case err := <-done:
			h.err = err
			code := serviceExitCode(err)
			return code != 0, code
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				if !stopping {
					stopping = true
					status <- svc.Status{State: svc.StopPending, WaitHint: uint32(serviceStopWait / time.Millisecond)}
					close(stop)
				}
			}
		}
	}
}
