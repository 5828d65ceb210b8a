// Package webhook delivers the tenant event log to the platform: Standard Webhooks
// deliveries (signed HMAC-SHA256 over id.timestamp.body with whsec_ secrets, two valid
// during a rotation) claimed from the database by every replica, an outbound HTTP client
// that refuses loopback, link-local and private addresses at dial time, and an optional
// NATS JetStream sink.
//
// It imports provisioning only: never store, the doors or the other workers.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// ErrBadSecret is returned for a signing secret that is not whsec_ + base64.
var ErrBadSecret = errors.New("webhook secret is not whsec_ followed by base64")

// secretKey decodes a whsec_ secret into its HMAC key.
func secretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, provisioning.WebhookSecretPrefix)
	if !ok {
		return nil, ErrBadSecret
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) == 0 {
		return nil, ErrBadSecret
	}
	return key, nil
}

// Sign returns the webhook-signature header value for one message: one "v1,<base64>"
// per secret, space-separated, so that a receiver holding either secret of a rotation
// accepts it.
func Sign(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("no signing secret")
	}
	var sigs []string
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		m := hmac.New(sha256.New, key)
		fmt.Fprintf(m, "%s.%d.", id, ts.Unix())
		m.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}

// Verify checks a delivery the way a receiver does: the timestamp within tolerance of
// now and one of the v1 signatures made with secret. It is here for receivers written in
// Go and for tests; comparison is constant-time.
func Verify(secret, id, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("bad webhook-timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook-timestamp outside tolerance")
	}
	want, err := Sign([]string{secret}, id, time.Unix(ts, 0), body)
	if err != nil {
		return err
	}
	for _, s := range strings.Fields(signatures) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("no matching signature")
}
