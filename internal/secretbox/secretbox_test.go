package secretbox

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b.Seal([]byte("s3cret"), "ctx-a")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("s3cret")) {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := b.Open(sealed, "ctx-a")
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := b.Open(sealed, "ctx-b"); !errors.Is(err, ErrOpen) {
		t.Fatalf("other context: %v", err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(sealed, "ctx-a"); !errors.Is(err, ErrOpen) {
		t.Fatalf("other key: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := b.Open(sealed, "ctx-a"); !errors.Is(err, ErrOpen) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := New(key[:16]); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestParseKey(t *testing.T) {
	for _, s := range []string{
		"0707070707070707070707070707070707070707070707070707070707070707",
		"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
	} {
		k, err := ParseKey(s)
		if err != nil || !bytes.Equal(k, bytes.Repeat([]byte{7}, 32)) {
			t.Fatalf("ParseKey(%q) = %x, %v", s, k, err)
		}
	}
	if _, err := ParseKey("short"); err == nil {
		t.Fatal("bad key accepted")
	}
}

func TestDerive(t *testing.T) {
	a, _ := New(bytes.Repeat([]byte{1}, 32))
	b, _ := New(bytes.Repeat([]byte{2}, 32))
	if bytes.Equal(a.Derive("x"), a.Derive("y")) || bytes.Equal(a.Derive("x"), b.Derive("x")) || len(a.Derive("x")) != 32 {
		t.Fatal("derived keys must differ by purpose and key")
	}
	if !bytes.Equal(a.Derive("x"), a.Derive("x")) {
		t.Fatal("derivation must be deterministic")
	}
}
