package cli

import "testing"

func TestConfirmed(t *testing.T) {
	tests := []struct {
		answer string
		words  []string
		want   bool
	}{
		{"y", nil, true},
		{"Y", nil, true},
		{"yes", nil, true},
		{" YES \n", nil, true},
		{"", nil, false},
		{"n", nil, false},
		{"no", nil, false},
		{"ye", nil, false},
		{"yess", nil, false},
		{"delete", nil, false},
		{"delete", []string{"delete"}, true},
		{"Delete", []string{"delete"}, true},
		{"y", []string{"delete"}, true},
		{"remove", []string{"delete"}, false},
	}
	for _, tt := range tests {
		if got := confirmed(tt.answer, tt.words...); got != tt.want {
			t.Errorf("confirmed(%q, %q) = %v, want %v", tt.answer, tt.words, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"usr", "user", 1},
		{"user", "usr", 1},
		{"creat", "create", 1},
		{"chek", "check", 1},
		{"json", "sjon", 2},
		{"abc", "", 3},
		{"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
