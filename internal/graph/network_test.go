package graph

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestUnreachable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"DNS not found", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "graph.microsoft.com", IsNotFound: true}},
			"the name graph.microsoft.com does not resolve (DNS)"},
		{"DNS server down", fmt.Errorf("get: %w", &net.DNSError{Err: "server misbehaving", Name: "graph.microsoft.com", IsTemporary: true}),
			"name resolution failed for graph.microsoft.com (DNS)"},
		{"no route", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, "no route to the server"},
		{"network down", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}, "no route to the server"},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "the server refused the connection"},
		{"MSAL's text", errors.New(`unable to resolve an endpoint: server response error:
 Get "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration?": dial tcp: lookup login.microsoftonline.com on 10.255.255.53:53: no such host`),
			"the name login.microsoftonline.com does not resolve (DNS)"},
		{"MSAL's text, no route", errors.New(`server response error: Get "https://login.microsoftonline.com/x": dial tcp 20.190.160.1:443: connect: no route to host`),
			"no route to the server"},
		{"reset mid-way is not unreachable", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, ""},
		{"a timeout is not unreachable", errors.New("context deadline exceeded"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unreachable(tt.err); got != tt.want {
				t.Errorf("unreachable(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// FuzzUnreachable: any error text is classified without panicking.
func FuzzUnreachable(f *testing.F) {
	f.Add("dial tcp: lookup login.microsoftonline.com on 10.0.0.1:53: no such host")
	f.Add("dial tcp: lookup ")
	f.Add("connect: connection refused")
	f.Fuzz(func(t *testing.T, s string) {
		_ = unreachable(errors.New(s))
	})
}
