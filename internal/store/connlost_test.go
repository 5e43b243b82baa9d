package store

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestPgConnLost: lost connections are recognised by type and errors.Is,
// on every platform; an error that only says so in its text is not one.
func TestPgConnLost(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"bad connection", fmt.Errorf("query: %w", driver.ErrBadConn), true},
		{"end of stream", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"driver closed the connection", fmt.Errorf("begin: %w", pgconn.ErrConnClosed), true},
		{"reset, wrapped", fmt.Errorf("write: %w", syscall.ECONNRESET), true},
		{"reset from the network", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"unavailable", fmt.Errorf("x: %w", ErrUnavailable), true},
		{"text only", errors.New("the value was 'conn closed' or a connection reset"), false},
		{"other", errors.New("syntax error"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := pgConnLost(tt.err); got != tt.want {
				t.Errorf("pgConnLost(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
