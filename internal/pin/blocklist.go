package pin

import (
	"slices"
	"strconv"
	"strings"
)

// commonPINs are PINs and passwords that top published frequency lists, or
// follow obvious keypad and keyboard patterns. Most of them also break
// another rule of the default policy; the blocklist still rejects them when
// those rules are switched off.
var commonPINs = [...]string{
	// Counting, up and down.
	"1234", "12345", "123456", "1234567", "12345678", "123456789", "1234567890",
	"0123", "01234", "012345", "0123456789",
	"4321", "54321", "654321", "7654321", "87654321", "987654321", "9876543210", "0987654321",
	"5678", "6789", "456789", "789456",
	// Repeated blocks and doubled digits.
	"1212", "121212", "12121212", "1122", "112233", "11223344", "1313", "131313",
	"1010", "101010", "123123", "12341234", "123321", "1221", "2112",
	"1004", "2001", "6969", "696969",
	// Odd and even counting.
	"1357", "13579", "1357913579", "2468", "24680", "246810", "0246", "2580",
	// Keypad columns, rows, diagonals and crosses (phone layout 1-2-3 on
	// top, and the numeric-keypad layout 7-8-9 on top).
	"147258", "258369", "147258369", "369258147", "963852741", "741852963",
	"147852", "147852369", "159753", "357159", "159357", "753951", "951753",
	"1470", "0258", "0852", "8520", "3690", "1397", "1379", "7913", "9713",
	"14789", "123698745", "789654123", "2589",
	// Keyboard and password classics for alphanumeric policies.
	"qwerty", "qwertz", "azerty", "asdf", "asdfgh", "zxcvbn", "qwer",
	"1q2w3e4r", "1qaz2wsx", "password", "passw0rd", "pass", "letmein",
	"abc123", "abcd1234", "a1b2c3d4", "iloveyou", "admin", "secret", "welcome",
}

var defaultBlocklist = buildDefaultBlocklist()

func buildDefaultBlocklist() []string {
	l := slices.Clone(commonPINs[:])
	// The same digit four to eight times: 0000 … 99999999.
	for d := '0'; d <= '9'; d++ {
		for n := 4; n <= 8; n++ {
			l = append(l, strings.Repeat(string(d), n))
		}
	}
	// Four-digit years 1900-2099, the most guessed four-digit PINs after
	// the patterns above.
	for y := 1900; y <= 2099; y++ {
		l = append(l, strconv.Itoa(y))
	}
	slices.Sort(l)
	return slices.Compact(l)
}

// DefaultBlocklist returns a copy of the built-in list of common PINs:
// well-known PINs and passwords, keypad patterns, a digit repeated 4-8
// times, and the four-digit years 1900-2099.
func DefaultBlocklist() []string { return slices.Clone(defaultBlocklist) }
