package softkey

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyprep/keyprep/internal/fileguard"
)

// stateVersion is the format version of the state file.
const stateVersion = 1

// maxPINRetries is the PIN retry counter's maximum (CTAP 2.1 §6.5.2.2).
const maxPINRetries = 8

// softLockAttempts is the number of consecutive mismatches after which
// further PIN attempts need a power cycle (§6.5.5.6/§6.5.5.7 "pinRetries …
// three consecutive").
const softLockAttempts = 3

// persistState is everything that survives a power cycle (and, with Open,
// a process restart). WARNING: it holds the private keys and secrets of a
// TEST authenticator in clear; the state file is written with mode 0600.
type persistState struct {
	Version int `json:"version"`
	// Model is the key model's name; "" for keyprep-virtual (state files
	// written before models existed). A state file is never opened as
	// another model (Open refuses).
	Model string `json:"model,omitempty"`
	// USBSerial is the USB serial number string of a model that reports
	// one, derived once from the first master secret; a reset keeps it.
	USBSerial string `json:"usbSerial,omitempty"`
	// MasterSecret wraps credential IDs and derives hmac-secret CredRandom.
	MasterSecret []byte `json:"masterSecret"`
	// PINHash is LEFT(SHA-256(PIN), 16), nil when no PIN is set.
	PINHash []byte `json:"pinHash,omitempty"`
	// PINLength is the PIN's length in the configured unit (code points by
	// default), used to decide forcePINChange (§6.11.4).
	PINLength int `json:"pinLength,omitempty"`
	// PINRetries is the persistent retry counter (8 at most).
	PINRetries int `json:"pinRetries"`
	// ConsecutiveMismatches counts wrong PINs since power-up (soft lock).
	ConsecutiveMismatches int `json:"consecutiveMismatches"`
	// PowerUp is when the key was last "plugged in"; it opens the reset window.
	PowerUp           time.Time    `json:"powerUp"`
	MinPINLength      int          `json:"minPINLength"`
	MinPINLengthRPIDs []string     `json:"minPINLengthRPIDs,omitempty"`
	ForcePINChange    bool         `json:"forcePINChange"`
	AlwaysUV          bool         `json:"alwaysUv"`
	SignCount         uint32       `json:"signCount"`
	NextSeq           uint64       `json:"nextSeq"`
	Credentials       []storedCred `json:"credentials,omitempty"`
	// Templates are the enrolled fingerprints of a bio key (CTAP 2.1 §6.7).
	Templates []storedTemplate `json:"templates,omitempty"`
	// UVFailures counts consecutive built-in user verification mismatches
	// (uvRetries = maxUVRetries - UVFailures, CTAP 2.1 §6.5.2.3).
	UVFailures int `json:"uvFailures,omitempty"`
}

// storedTemplate is one enrolled fingerprint (CTAP 2.1 §6.7.2
// templateInfo). The virtual key stores no biometric data, only the id
// and the friendly name.
type storedTemplate struct {
	ID   []byte `json:"id"`
	Name string `json:"name,omitempty"`
}

// storedCred is a discoverable (resident) credential.
type storedCred struct {
	ID              []byte    `json:"id"`
	RPID            string    `json:"rpId"`
	RPName          string    `json:"rpName,omitempty"`
	UserID          []byte    `json:"userId"`
	UserName        string    `json:"userName,omitempty"`
	UserDisplayName string    `json:"userDisplayName,omitempty"`
	PrivateKey      []byte    `json:"privateKey"`
	CredProtect     int       `json:"credProtect"`
	HMACSecret      bool      `json:"hmacSecret,omitempty"`
	Created         time.Time `json:"created"`
	Seq             uint64    `json:"seq"`
}

// factoryState returns the state of a factory-new (or freshly reset) key.
func (a *Authenticator) factoryState(powerUp time.Time) (persistState, error) {
	secret := make([]byte, 32)
	if _, err := io.ReadFull(a.cfg.Rand, secret); err != nil {
		return persistState{}, fmt.Errorf("softkey: reading randomness: %w", err)
	}
	st := persistState{
		Version:      stateVersion,
		MasterSecret: secret,
		PINRetries:   a.maxRetries(),
		PowerUp:      powerUp,
		MinPINLength: a.cfg.DefaultMinPINLength,
		AlwaysUV:     a.cfg.AlwaysUV,
	}
	if a.model.Name != DefaultModelName {
		st.Model = a.model.Name
	}
	st.USBSerial = usbSerial(a.model.USB.Serial, secret)
	return st, nil
}

// modelName returns the model a state file was written for.
func (st *persistState) modelName() string {
	if st.Model == "" {
		return DefaultModelName
	}
	return st.Model
}

// maxRetries is the model's PIN retry maximum (CTAP 2.1 §6.5.2.2).
func (a *Authenticator) maxRetries() int {
	if n := a.model.Behaviour.PINRetries; n > 0 {
		return n
	}
	return maxPINRetries
}

// usbSerial derives a serial number string of the form s from secret:
// stable for the key, different between keys, "" when not reported.
func usbSerial(s USBSerial, secret []byte) string {
	if !s.Reported {
		return ""
	}
	k, err := hkdf.Key(sha256.New, secret, nil, "keyprep softkey usb serial", 32)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for i := 0; b.Len() < s.Length; i++ {
		v := k[i%len(k)]
		if i >= len(k) {
			v ^= byte(i)
		}
		switch s.Form {
		case "decimal":
			d := byte('0' + v%10)
			if b.Len() == 0 && d == '0' {
				d = '1' // no leading zero
			}
			b.WriteByte(d)
		default:
			b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{v})))
		}
	}
	return b.String()[:s.Length]
}

// load reads the state file; it reports fs.ErrNotExist when there is none.
func loadState(path string) (persistState, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return persistState{}, nil, err
	}
	var st persistState
	if err := json.Unmarshal(data, &st); err != nil {
		return persistState{}, nil, fmt.Errorf("softkey: state file %s is corrupt: %w", path, err)
	}
	if st.Version != stateVersion {
		return persistState{}, nil, fmt.Errorf("softkey: state file %s has version %d, want %d", path, st.Version, stateVersion)
	}
	if len(st.MasterSecret) != 32 || st.PINRetries < 0 || st.PINRetries > maxPINRetries ||
		(st.PINHash != nil && len(st.PINHash) != 16) || st.MinPINLength < 4 || st.MinPINLength > 63 {
		return persistState{}, nil, fmt.Errorf("softkey: state file %s holds invalid values", path)
	}
	return st, data, nil
}

// save writes the state atomically (temp file + rename, mode 0600) when a
// path is set and the state changed since the last save.
func (a *Authenticator) save() error {
	if a.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(&a.st, "", "  ")
	if err != nil {
		return err
	}
	if string(data) == string(a.saved) {
		return nil
	}
	if err := writeFileAtomic(a.path, data); err != nil {
		return err
	}
	a.saved = data
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	// Private from the start: mode 0600, on Windows a private DACL.
	f, err := fileguard.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	cleanup := func(e error) error {
		f.Close()
		os.Remove(tmp)
		return e
	}
	if _, err := f.Write(data); err != nil {
		return cleanup(err)
	}
	if err := f.Sync(); err != nil {
		return cleanup(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
