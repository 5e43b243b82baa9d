//go:build !linux

package uhid

import (
	"errors"
	"fmt"
	"os"
)

// Path is the uhid character device on Linux.
const Path = "/dev/uhid"

// errUnsupported: /dev/uhid is a Linux interface.
var errUnsupported = fmt.Errorf("uhid: /dev/uhid exists only on Linux: %w", errors.ErrUnsupported)

// Open fails: /dev/uhid exists only on Linux.
func Open() (*os.File, error) { return nil, errUnsupported }

// HidrawFor fails: hidraw nodes exist only on Linux.
func HidrawFor(string) (string, error) { return "", errUnsupported }
