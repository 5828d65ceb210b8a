// Package secretbox seals secrets at rest (OIDC client secrets, SAML SP private keys,
// ID token signing keys) with AES-256-GCM under a key from configuration.
//
// It imports only the standard library; it must not import any Seatbridge package.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// version prefixes every sealed value so the format can change later.
const version byte = 1

// ErrOpen is returned for a sealed value that does not authenticate under the key (wrong
// key, corrupted or forged value). It says nothing more on purpose.
var ErrOpen = errors.New("secretbox: cannot open sealed value")

// Box seals and opens values with one AES-256-GCM key.
type Box struct {
	aead cipher.AEAD
	key  []byte
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secretbox: key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead, key: append([]byte(nil), key...)}, nil
}

// Derive returns a 32-byte key for another purpose (for example signing cookies),
// derived from the box key with HMAC-SHA256, so one configured secret serves both.
func (b *Box) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, b.key)
	m.Write([]byte("seatbridge/secretbox/derive\x00" + purpose))
	return m.Sum(nil)
}

// ParseKey decodes a key given as 64 hex digits or standard / URL base64 of 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("secretbox: key must be 32 bytes as 64 hex digits or base64")
}

// Seal encrypts plaintext; context (for example "oidc-client-secret:<connection id>") is
// authenticated but not stored, so a sealed value cannot be moved to another purpose.
func (b *Box) Seal(plaintext []byte, context string) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secretbox: nonce: %w", err)
	}
	out := make([]byte, 0, 1+len(nonce)+len(plaintext)+b.aead.Overhead())
	out = append(out, version)
	out = append(out, nonce...)
	return b.aead.Seal(out, nonce, plaintext, []byte(context)), nil
}

// Open decrypts a value made by Seal with the same context.
func (b *Box) Open(sealed []byte, context string) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
