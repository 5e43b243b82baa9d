package escrow

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"filippo.io/age"
)

// maxRecipientsFileSize bounds a recipients file.
const maxRecipientsFileSize = 1 << 20

// ParseRecipients parses recipient specs, each one of:
//
//   - an age X25519 recipient, "age1…", in lower or all upper case (an age
//     post-quantum hybrid recipient, "age1pq1…", is accepted too; age
//     refuses to mix it with classic recipients when sealing);
//   - an SSH public key line, "ssh-ed25519 AAAA… [comment]" or
//     "ssh-rsa AAAA… [comment]" (RSA of at least 2048 bits), through
//     filippo.io/age/agessh;
//   - "@path", or any other spec naming an existing file: a recipients file
//     holding one recipient of the kinds above per line, where blank lines
//     and lines starting with '#' are ignored and "@" references are not
//     followed.
//
// A spec that parses as a recipient is never looked up as a file. Leading
// and trailing white space is ignored. Duplicate recipients are kept once.
//
// It returns the recipients and, in the same order, their normalised
// string forms for recording who a PIN is encrypted to: the canonical
// lower-case "age1…" encoding, or "ssh-ed25519 AAAA…" / "ssh-rsa AAAA…"
// without the comment. Errors name the bad spec, truncated to 80
// characters (and not at all when it looks like a private key), and for
// files the path and line number. With no recipients at all the error
// wraps ErrNoRecipients.
func ParseRecipients(specs []string) ([]age.Recipient, []string, error) {
	var (
		recs  []age.Recipient
		names []string
		seen  = make(map[string]bool)
	)
	add := func(r age.Recipient, name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		recs = append(recs, r)
		names = append(names, name)
	}
	for _, spec := range specs {
		s := strings.TrimSpace(spec)
		switch {
		case s == "":
			return nil, nil, errors.New("escrow: empty recipient spec")
		case strings.HasPrefix(s, "@"):
			path := s[1:]
			if path == "" {
				return nil, nil, errors.New(`escrow: recipient "@": missing file name after '@'`)
			}
			if err := parseRecipientsFile(path, add); err != nil {
				return nil, nil, err
			}
		case isRecipientSyntax(s):
			r, name, err := parseRecipient(s)
			if err != nil {
				return nil, nil, fmt.Errorf("escrow: %w", err)
			}
			add(r, name)
		default:
			fi, err := os.Stat(s)
			switch {
			case err == nil && fi.IsDir():
				return nil, nil, fmt.Errorf("escrow: recipient %s: is a directory, not a recipients file", quoteSpec(s))
			case err == nil:
				if err := parseRecipientsFile(s, add); err != nil {
					return nil, nil, err
				}
			case errors.Is(err, fs.ErrNotExist):
				return nil, nil, fmt.Errorf("escrow: recipient %s: not an age recipient (age1…), an SSH public key (ssh-ed25519 …, ssh-rsa …) or an existing recipients file", quoteSpec(s))
			default:
				return nil, nil, fmt.Errorf("escrow: recipient %s: %w", quoteSpec(s), err)
			}
		}
	}
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("escrow: %w given", ErrNoRecipients)
	}
	return recs, names, nil
}

// isRecipientSyntax reports whether s should be parsed as a recipient
// rather than looked up as a file: it has a recipient prefix, or it looks
// like a private key (which parseRecipient rejects without echoing it).
func isRecipientSyntax(s string) bool {
	return hasFoldPrefix(s, "age1") || strings.HasPrefix(s, "ssh-") || looksSecret(s)
}

// parseRecipient parses one recipient string (already trimmed) and returns
// it with its normalised form.
func parseRecipient(s string) (age.Recipient, string, error) {
	if hasFoldPrefix(s, "age1") && s == strings.ToUpper(s) {
		// All-upper-case Bech32 is the same key; age parses lower case.
		return parseRecipient(strings.ToLower(s))
	}
	switch {
	case looksSecret(s):
		return nil, "", fmt.Errorf("recipient %s: this is a private key, not a recipient; give its public key (age-keygen -y FILE, ssh-keygen -y -f FILE)", quoteSpec(s))
	case hasFoldPrefix(s, "age1pq1"):
		r, err := age.ParseHybridRecipient(s)
		if err != nil {
			return nil, "", newSpecError("recipient "+quoteSpec(s), s, err)
		}
		return r, r.String(), nil
	case hasFoldPrefix(s, "age1"):
		// Bech32 data never contains '1', so a '1' after "age1" ends the
		// name of a plugin or tagged recipient type ("age1yubikey1…").
		if i := strings.LastIndexByte(s, '1'); i > len("age1")-1 {
			return nil, "", fmt.Errorf("recipient %s: age recipient type %s (a plugin or tagged recipient) is not supported; use an age X25519 (age1…) or SSH key", quoteSpec(s), quoteSpec(s[:i]))
		}
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, "", newSpecError("recipient "+quoteSpec(s), s, err)
		}
		return r, r.String(), nil
	case strings.HasPrefix(s, "ssh-"):
		r, name, err := parseSSHRecipient(s)
		if err != nil {
			return nil, "", newSpecError("recipient "+quoteSpec(s), s, err)
		}
		return r, name, nil
	default:
		return nil, "", fmt.Errorf("recipient %s: not an age recipient (age1…) or an SSH public key (ssh-ed25519 …, ssh-rsa …)", quoteSpec(s))
	}
}

// hasFoldPrefix reports whether s starts with prefix, ignoring ASCII case
// (Bech32 strings may be all upper case, as in QR codes).
func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// parseRecipientsFile reads a recipients file and passes each recipient to
// add.
func parseRecipientsFile(path string, add func(age.Recipient, string)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("escrow: recipients file %s: %w", quoteSpec(path), pathErrorCause(err))
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return fmt.Errorf("escrow: recipients file %s: is a directory", quoteSpec(path))
	}
	return parseRecipientsReader(f, path, add)
}

// parseRecipientsReader parses recipients-file content; name identifies
// the file in errors.
func parseRecipientsReader(r io.Reader, name string, add func(age.Recipient, string)) error {
	prefix := "escrow: recipients file " + quoteSpec(name)
	lr := &io.LimitedReader{R: r, N: maxRecipientsFileSize + 1}
	sc := bufio.NewScanner(lr)
	n, found := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "@") {
			return fmt.Errorf("%s line %d: %s: '@' file references are not followed inside a recipients file", prefix, n, quoteSpec(line))
		}
		rec, norm, err := parseRecipient(line)
		if err != nil {
			return fmt.Errorf("%s line %d: %w", prefix, n, err)
		}
		add(rec, norm)
		found++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s line %d: %w", prefix, n+1, err)
	}
	if lr.N == 0 {
		return fmt.Errorf("%s: larger than %d bytes", prefix, maxRecipientsFileSize)
	}
	if found == 0 {
		return fmt.Errorf("%s: %w (only blank lines and comments)", prefix, ErrNoRecipients)
	}
	return nil
}
