package provisioning

import (
	"strings"
	"testing"
	"time"
)

// RFC 6238 Appendix B (SHA-1, secret "12345678901234567890"), truncated to the six digits
// authenticator apps show: the code matches its own step, within one step of skew, and
// never again once that step was used.
func TestTOTPVectors(t *testing.T) {
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // base32 of "12345678901234567890"
	for _, v := range []struct {
		unix int64
		code string // last six digits of the RFC's eight
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	} {
		at := time.Unix(v.unix, 0)
		step := v.unix / totpPeriod
		for _, tc := range []struct {
			name string
			now  time.Time
			last int64
			want int64
		}{
			{"same step", at, 0, step},
			{"a step later (skew)", at.Add(totpPeriod * time.Second), 0, step},
			{"a step earlier (skew)", at.Add(-totpPeriod * time.Second), 0, step},
			{"two steps later", at.Add(2 * totpPeriod * time.Second), 0, 0},
			{"replayed", at, step, 0},
		} {
			got, err := matchTOTP(secret, v.code, tc.now, tc.last)
			if err != nil || got != tc.want {
				t.Errorf("T=%d %s: step %d %v, want %d", v.unix, tc.name, got, err, tc.want)
			}
		}
		if got, _ := matchTOTP(secret, "000000", at, 0); got != 0 && v.code != "000000" {
			t.Errorf("T=%d: a wrong code matched step %d", v.unix, got)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if got, _ := matchTOTP(secret, bad, time.Unix(59, 0), 0); got != 0 {
			t.Errorf("%q matched", bad)
		}
	}
}

// Recovery codes are random, shown once and kept only as hashes; dashes and case do not
// matter when typed back.
func TestRecoveryCodes(t *testing.T) {
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 11 || c[5] != '-' || seen[c] {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
		if hashes[i] == c || recoveryHash(c) != hashes[i] || recoveryHash(" "+strings.ToUpper(c[:5]+c[6:])+" ") != hashes[i] {
			t.Fatalf("hash of %q", c)
		}
	}
}
