package graph

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// ErrNetwork: the request never reached a server — the name did not
// resolve, there is no route, or nothing listens there. Unlike ErrService
// (Graph answered, or the connection broke mid-way) it is not retried: the
// same request fails the same way until the network is fixed.
var ErrNetwork = errors.New("network unreachable")

// unreachable says why err is a request that never reached a server, or ""
// when it is not one.
func unreachable(err error) string {
	var dns *net.DNSError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return "the name " + dns.Name + " does not resolve (DNS)"
		}
		return "name resolution failed for " + dns.Name + " (DNS)"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to the server"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the server refused the connection"
	}
	// The sign-in library (MSAL, behind azidentity) keeps only the text of
	// the transport's error.
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, "dial tcp: lookup "); ok {
		host, _, _ := strings.Cut(rest, " ")
		host = strings.TrimSuffix(host, ":")
		if strings.Contains(rest, "no such host") {
			return "the name " + host + " does not resolve (DNS)"
		}
		return "name resolution failed for " + host + " (DNS)"
	}
	switch {
	case strings.Contains(msg, "connect: network is unreachable"), strings.Contains(msg, "connect: no route to host"):
		return "no route to the server"
	case strings.Contains(msg, "connect: connection refused"):
		return "the server refused the connection"
	}
	return ""
}

// networkError is the error for a request that never reached a server.
func networkError(op string, err error) *Error {
	// The transport's own text (the URL, the resolver's address) adds
	// nothing for a person; the reason says it.
	return &Error{Op: op, Class: ErrNetwork, Message: unreachable(err)}
}

// notSignedIn: the credential needs an interactive sign-in it may not do.
func notSignedIn(err error) bool {
	var ar *azidentity.AuthenticationRequiredError
	return errors.As(err, &ar)
}

// clientOptions are the sign-in requests' options: azcore's retries,
// except for requests that never reached a server.
func clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Retry: policy.RetryOptions{
		ShouldRetry: func(resp *http.Response, err error) bool {
			if err != nil {
				return unreachable(err) == ""
			}
			switch resp.StatusCode {
			case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
				http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				return true
			}
			return false
		},
	}}
}
