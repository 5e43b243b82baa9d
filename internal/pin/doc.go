// Package pin holds keyprep's FIDO2 PIN policy: a generator that draws PINs
// from crypto/rand and a validator, both driven by the same [Policy], so a
// generated PIN always passes validation and a user-chosen PIN is judged by
// exactly the rules the generator obeys.
//
// The package does no I/O: no files, no logging, no environment. PINs are
// passed as []byte so callers can erase them with [Wipe] when done; the
// package wipes every intermediate copy it makes.
//
// # Counting characters
//
// CTAP 2.1 §6.5.1 sends the PIN as UTF-8 in Unicode Normalization Form C
// (NFC), and an authenticator counts its length in Unicode code points.
// Validate therefore normalises the PIN to NFC first and counts code points
// of the normalised form: "é" is one character whether it was typed as
// U+00E9 (NFC) or as "e" + U+0301 (NFD). The byte limit ([MaxPINBytes], 63)
// applies to the UTF-8 encoding of the NFC form, which is what goes to the
// key. Callers sending a user-typed PIN to a key should send [Normalize]'s
// output.
//
// # Rules
//
// Validate checks the rules in the order of the [Rule] constants and reports
// the first failure as a *[RuleError]:
//
//   - [RuleEncoding]: the PIN must be valid UTF-8 without a NUL byte.
//   - [RuleTooLong]: at most [MaxPINBytes] bytes of UTF-8 after NFC.
//   - [RuleCharset]: every character must belong to [Policy.Alphabet]
//     ([Digits]: 0-9; [Alphanumeric]: ASCII letters and digits; [Unicode]:
//     anything except control characters).
//   - [RuleTooShort]: at least [Policy.MinLength] code points.
//   - [RuleKeyMinimum]: at least [Policy.KeyMinPINLength] code points, the
//     authenticator's own minPINLength from authenticatorGetInfo; reported
//     instead of RuleTooShort when the key's minimum is the higher one.
//   - [RuleLeadingZero]: with [Policy.NoLeadingZero], the first character
//     must not be the digit zero (some systems strip leading zeros).
//   - [RuleRepeat]: with [Policy.NoRepeat], no run of more than
//     [MaxIdenticalRun] identical characters ("111", "aaa"). Comparison is
//     by exact code point, so "aAa" is not a run.
//   - [RuleSequence]: with [Policy.NoSequence], no ascending or descending
//     run of more than [MaxSequenceRun] consecutive characters ("1234",
//     "9876", "abcd", "DCBA"). Digits wrap around — "7890", "8901" and
//     "1098" are sequences — because 0 sits next to both 9 and 1 on a
//     keyboard's number row and is read as a continuation of the count;
//     wrapping also keeps the rule symmetric under shifting every digit, so
//     generated digits stay uniformly distributed in every position. Letters
//     are compared case-insensitively ("aBcD" is a sequence) and do not wrap
//     ("yzab" is not). A run never crosses between digits and letters.
//   - [RuleDistinct]: at least [Policy.MinDistinct] distinct characters
//     (exact code points).
//   - [RuleBlocklist]: the PIN must not equal (ASCII letters compared
//     case-insensitively) an entry of [Policy.Blocklist]. [DefaultBlocklist]
//     holds well-known PINs, keypad patterns and the four-digit years
//     1900-2099.
//
// A RuleError's message names the failed rule and the limit, and may state
// a count (the PIN's length, the length of an offending run), but never the
// PIN or any part of it. errors.Is(err, RuleRepeat) and the like work,
// because a RuleError unwraps to its [Rule], which is itself an error.
//
// # Generation
//
// Generate draws each character uniformly from the alphabet with crypto/rand
// using rejection sampling (no modulo bias), then rejects the whole PIN and
// draws again until it passes Validate. The result is uniform over all PINs
// of the generated length that satisfy the policy. [Policy.Check] refuses,
// up front, policies that are malformed or that rejection sampling could
// not satisfy in reasonable time.
package pin
