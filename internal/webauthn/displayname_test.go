package webauthn

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestDisplayName(t *testing.T) {
	now := time.Date(2026, 11, 22, 23, 30, 0, 0, time.FixedZone("X", 3600))
	for _, tc := range []struct {
		name, template, model, serial string
		want                          string
		err                           error
	}{
		{"default", "", "YubiKey 5 NFC", "12345678", "YubiKey 5 NFC 2026-11-22", nil},
		{"default long model shortened", "", "Security Key NFC by Yubico - Enterprise Edition", "", "Security Key NFC by 2026-11-22", nil},
		{"model trailing space trimmed", "", "ABCDEFGHIJKLMNOPQR STUVWXYZ", "", "ABCDEFGHIJKLMNOPQR 2026-11-22", nil},
		{"serial kept whole", "{model} {serial}", "Security Key NFC by Yubico", "31234567", "Security Key NFC by Y 31234567", nil},
		{"Yubico style", "Serial: {serial} {date}", "", "31234567", "Serial: 31234567 2026-11-22", nil},
		{"model dropped entirely", "{model} SN {serial} {date}", "YubiKey", "123456789012345", "SN 123456789012345 2026-11-22", nil},
		{"serial too long", "{model} {serial}", "YubiKey", strings.Repeat("9", 31), "", ErrSerialTooLong},
		{"serial plus date too long", "{serial} {date}", "YubiKey", strings.Repeat("9", 20), "", ErrSerialTooLong},
		{"serial exactly 30", "{model} {serial}", "YubiKey", strings.Repeat("9", 30), strings.Repeat("9", 30), nil},
		{"unicode counted in characters", "{model}", "Clé de sécurité ééééééééééééééééééééé", "", "Clé de sécurité éééééééééééééé", nil},
		{"control chars dropped", "{model} {serial}", "Key\x00\n5", "S\t1", "Key 5 S 1", nil},
		{"empty model, default", "", "", "", "2026-11-22", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DisplayName(tc.template, tc.model, tc.serial, now)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > MaxDisplayNameLength {
				t.Fatalf("%d characters", n)
			}
			if tc.serial != "" && strings.Contains(tc.template, "{serial}") && !strings.Contains(got, clean(tc.serial)) {
				t.Fatalf("serial truncated: %q", got)
			}
		})
	}
	for _, bad := range []string{"{model} {sn}", "{model", "{date} " + strings.Repeat("x", 25), "{model}"} {
		if _, err := DisplayName(bad, "", "", now); err == nil {
			t.Errorf("template %q accepted", bad)
		}
	}
}
