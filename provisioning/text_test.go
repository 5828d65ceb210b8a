package provisioning_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/seatbridge/seatbridge/provisioning"
)

// TestTruncate: the one cut of every door keeps short strings as they are and never leaves
// half a character behind (PostgreSQL refuses invalid UTF-8).
func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc"},
		{"aé", 2, "a"}, // é is two bytes: the cut would split it
		{"é" + strings.Repeat("x", 10), 5, "éxxx"},
		{"€uro", 2, ""},
	} {
		got := provisioning.Truncate(c.in, c.n)
		if got != c.want || len(got) > c.n || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
