package userlist

import (
	"errors"
	"fmt"
	"strings"
)

// MaxUPNLength is Entra's limit: 113 characters before the '@', 255 after.
const MaxUPNLength = 113 + 1 + 255

// CheckUser accepts what the directory can look a user up by: a UPN
// (CheckUPN) or an object id (8-4-4-4-12 hexadecimal).
func CheckUser(s string) error {
	if IsGUID(s) {
		return nil
	}
	return CheckUPN(s)
}

// CheckUPN validates local@domain the way Entra constrains UPNs: one '@',
// a local part of letters, digits and . _ - ' # + ! $ % & * = ? ^ ` { | } ~
// (the guest form "name_domain#EXT#" fits), a dotted DNS domain. The error
// names the rule, never more of the input than one character.
func CheckUPN(upn string) error {
	if upn == "" {
		return errors.New("empty")
	}
	if len(upn) > MaxUPNLength {
		return fmt.Errorf("longer than %d characters", MaxUPNLength)
	}
	at := strings.IndexByte(upn, '@')
	if at < 0 || strings.LastIndexByte(upn, '@') != at {
		return errors.New("want exactly one '@'")
	}
	local, domain := upn[:at], upn[at+1:]
	switch {
	case local == "":
		return errors.New("empty local part")
	case len(local) > 113:
		return errors.New("local part longer than 113 characters")
	case strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, ".."):
		return errors.New("local part starts or ends with '.' or has '..'")
	}
	for _, r := range local {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_'#+!$%&*=?^`{|}~", r)) {
			return fmt.Errorf("character %q not allowed in the local part", r)
		}
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return errors.New("domain needs a dot")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return errors.New("empty, over-long or hyphen-edged label in the domain")
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("character %q not allowed in the domain", r)
			}
		}
	}
	return nil
}

// IsGUID reports the 8-4-4-4-12 hexadecimal form of object ids and AAGUIDs.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}
