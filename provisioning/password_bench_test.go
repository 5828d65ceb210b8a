package provisioning_test

import (
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
)

// BenchmarkPasswordStrength is the zxcvbn estimate of a typical passphrase with the
// user's address and names as inputs, paid once per password chosen.
func BenchmarkPasswordStrength(b *testing.B) {
	for b.Loop() {
		if err := provisioning.CheckPasswordStrength("password", "orange piano glacier 42", "grace.hopper@acme.example", "Grace Hopper"); err != nil {
			b.Fatal(err)
		}
	}
}
