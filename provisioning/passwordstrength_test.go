package provisioning_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
)

// Known zxcvbn vectors: the classic weak passwords are refused with a message naming the
// pattern; long passphrases pass.
func TestPasswordStrength(t *testing.T) {
	for _, tc := range []struct {
		pw, want string // want "" accepts; otherwise a part of the message
	}{
		{"password123", `"password123" is a common word or password`},
		{"Password1234", "common word or password"},
		{"qwertyuiop1", `"qwertyuiop" is a common word or password`},
		{"zxcvbnm,./;'", "keyboard pattern"},
		{"aaaaaaaaaaaa", "repeats characters"},
		{"abcdefghijklmn", "sequence"},
		{"grace.hopper2026", "part of your e-mail address or name"},
		{"Brewster1906", "part of your e-mail address or name"},
		{"short", "at least 10 characters"},
		{"grace.hopper@acme.example", "must not be your e-mail address"},
		{"correct horse battery staple", ""},
		{"a long password", ""},
		{"Tr0ub4dor&3-violet-kayak", ""},
		{strings.Repeat("x", 300), "at most 256 bytes"},
	} {
		err := provisioning.CheckPasswordStrength("password", tc.pw, "grace.hopper@acme.example", "Grace Brewster")
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q refused: %v", tc.pw, err)
			}
			continue
		}
		var ve *provisioning.ValidationError
		if !errors.As(err, &ve) || ve.Field != "password" || !strings.Contains(ve.Reason, tc.want) {
			t.Errorf("%q: %v, want a password error containing %q", tc.pw, err, tc.want)
		}
	}
}

// Lifetimes read as admins write them and print back the same way.
func TestTTL(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		ok      bool
	}{
		{"24h", "24h", true}, {"7d", "7d", true}, {"1d", "24h", true}, {"36h", "36h", true}, {"90m", "90m", true},
		{"168h", "7d", true}, {"", "", false}, {"seven days", "", false}, {"-1d", "", false},
	} {
		d, err := provisioning.ParseTTL(tc.in)
		if (err == nil) != tc.ok || (tc.ok && provisioning.FormatTTL(d) != tc.out) {
			t.Errorf("%q: %v %v, want %q", tc.in, d, err, tc.out)
		}
	}
}
