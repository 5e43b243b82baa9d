package softkey

// pinComplexityOK applies a model's on-key PIN complexity rules
// (Behaviour.PINComplexity) to a new PIN that already has the minimum
// length. A PIN that breaks them is CTAP2_ERR_PIN_POLICY_VIOLATION, checked
// after the current PIN (changePIN) and before anything is stored, so a
// refusal never costs a PIN retry.
func pinComplexityOK(rules string, pin []byte, minLen int) bool {
	switch rules {
	case PINComplexityToken2:
		return token2PINOK(pin, minLen)
	case PINComplexityYubico:
		return yubicoPINOK(pin)
	}
	return true
}

// Token2 PIN+ rules (token2.swiss "FIDO2 PIN complexity in action";
// token2/pin_plus_firmware src/FIDO2Applet.java, CustomFunction.java):
//   - an all-digit PIN has at least minLen digits (6 by default), is not an
//     arithmetic sequence with a constant step (123456, 654321, 111111), is
//     not a palindrome (321123) and has no run of more than 3 identical
//     digits (111123);
//   - any other PIN is at least 10 printable ASCII characters from at least
//     2 of the classes upper case, lower case, digits, symbols.
func token2PINOK(pin []byte, minLen int) bool {
	if len(pin) == 0 {
		return false
	}
	numeric := true
	for _, c := range pin {
		if c < '0' || c > '9' {
			numeric = false
		}
	}
	if !numeric {
		if len(pin) < token2AlnumMin {
			return false
		}
		var classes [4]bool
		for _, c := range pin {
			switch {
			case c >= 'A' && c <= 'Z':
				classes[0] = true
			case c >= 'a' && c <= 'z':
				classes[1] = true
			case c >= '0' && c <= '9':
				classes[2] = true
			case c >= 0x20 && c <= 0x7E:
				classes[3] = true
			default:
				return false // not printable ASCII
			}
		}
		n := 0
		for _, ok := range classes {
			if ok {
				n++
			}
		}
		return n >= 2
	}
	if len(pin) < minLen {
		return false
	}
	step := int(pin[1]) - int(pin[0])
	sequence := true
	for i := 2; i < len(pin); i++ {
		if int(pin[i])-int(pin[i-1]) != step {
			sequence = false
		}
	}
	if sequence {
		return false
	}
	palindrome := true
	for i, j := 0, len(pin)-1; i < j; i, j = i+1, j-1 {
		if pin[i] != pin[j] {
			palindrome = false
		}
	}
	if palindrome {
		return false
	}
	run := 1
	for i := 1; i < len(pin); i++ {
		if pin[i] == pin[i-1] {
			run++
			if run > 3 {
				return false
			}
		} else {
			run = 1
		}
	}
	return true
}

// token2AlnumMin is the Token2 PIN+ minimum for a PIN that is not all
// digits.
const token2AlnumMin = 10

// yubicoBlocklist holds the trivial PINs Yubico's public documentation
// names as refused by YubiKey 5.7 PIN complexity
// (docs.yubico.com/yesdk/users-manual/sdk-programming-guide/pin-complexity-policy.html).
// The full blocklist is only in the YubiKey Technical Manual and is not
// modeled (docs/key-models.md, "What is not modeled").
var yubicoBlocklist = []string{"password", "12345678"}

// yubicoPINOK refuses a PIN of one repeated character and the documented
// blocklist entries.
func yubicoPINOK(pin []byte) bool {
	same := true
	for _, c := range pin[1:] {
		if c != pin[0] {
			same = false
		}
	}
	if same {
		return false
	}
	for _, b := range yubicoBlocklist {
		if string(pin) == b {
			return false
		}
	}
	return true
}
