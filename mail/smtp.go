// Package mail owns e-mail delivery: the SMTP transport (host, port, TLS mode, auth, from
// address), the invitation and credentials templates (text and HTML) and the worker that
// drains the transactional outbox with retries and backoff.
//
// The outbox itself, the suppression list and the retry policy are provisioning's: the
// worker only claims, renders, sends and reports. It imports provisioning and the standard
// library (plus go-smtp); it must not import store, scim, sso or admin.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLS modes of the SMTP connection.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
)

// Config is the SMTP relay Seatbridge hands its mail to.
type Config struct {
	Host string
	Port int
	// TLS is none, starttls (upgrade a plain connection; refused if the server cannot) or
	// tls (implicit TLS, usually port 465).
	TLS      string
	Username string
	// Password is never logged; it goes to the server only over TLS unless TLS is none.
	Password string
	// From is the sender address, optionally with a name ("Seatbridge <no-reply@x.com>").
	From string
	// HelloName is sent in EHLO (default "localhost").
	HelloName string
	// Timeout bounds one delivery (default 30 s).
	Timeout time.Duration
	// TLSConfig overrides the TLS settings (tests use it to trust their own CA).
	TLSConfig *tls.Config
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Host == "" {
		return errors.New("mail: SMTP host is required")
	}
	if c.Port <= 0 || c.Port > 65535 {
		return fmt.Errorf("mail: SMTP port %d is out of range", c.Port)
	}
	switch c.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	case "":
		c.TLS = TLSStartTLS
	default:
		return fmt.Errorf("mail: TLS mode %q: want none, starttls or tls", c.TLS)
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("mail: from address %q: %w", c.From, err)
	}
	return nil
}

// Message is one rendered mail.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// DeliveryError is a failed delivery. Permanent is true when the server refused with a
// 5xx code: retrying would not help, and the address gets suppressed.
type DeliveryError struct {
	Permanent bool
	Code      int
	Err       error
}

func (e *DeliveryError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("smtp %d: %v", e.Code, e.Err)
	}
	return e.Err.Error()
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// classify turns an SMTP exchange error into a DeliveryError.
func classify(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return &DeliveryError{Permanent: se.Code >= 500 && se.Code < 600, Code: se.Code, Err: errors.New(se.Message)}
	}
	return &DeliveryError{Err: err}
}

// Sender delivers messages over SMTP, one connection per message: mail volume is small
// and a fresh connection never inherits a broken session.
type Sender struct {
	cfg  Config
	from *mail.Address
}

// NewSender validates cfg and returns a Sender.
func NewSender(cfg Config) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	from, _ := mail.ParseAddress(cfg.From)
	return &Sender{cfg: cfg, from: from}, nil
}

func (s *Sender) tlsConfig() *tls.Config {
	if s.cfg.TLSConfig != nil {
		c := s.cfg.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = s.cfg.Host
		}
		return c
	}
	return &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
}

// Send delivers m. Errors are *DeliveryError.
func (s *Sender) Send(ctx context.Context, m Message) error {
	raw, err := s.compose(m)
	if err != nil {
		return &DeliveryError{Permanent: true, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	d := &net.Dialer{}
	var conn net.Conn
	if s.cfg.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tlsConfig()}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return &DeliveryError{Err: fmt.Errorf("connect to %s: %w", addr, err)}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var c *smtp.Client
	if s.cfg.TLS == TLSStartTLS {
		c, err = smtp.NewClientStartTLS(conn, s.tlsConfig())
		if err != nil {
			conn.Close()
			return &DeliveryError{Err: fmt.Errorf("starttls with %s: %w", addr, err)}
		}
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return classify(err)
	}
	if s.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)); err != nil {
			// A refused login is our configuration's fault, not the recipient's: retry
			// (an admin will fix the credentials) rather than suppress the address.
			de := classify(err).(*DeliveryError)
			de.Permanent = false
			de.Err = fmt.Errorf("SMTP authentication failed: %w", de.Err)
			return de
		}
	}
	if err := c.Mail(s.from.Address, nil); err != nil {
		de := classify(err).(*DeliveryError)
		de.Permanent = false // a refused sender is not the recipient's fault either
		return de
	}
	if err := c.Rcpt(m.To, nil); err != nil {
		return classify(err)
	}
	w, err := c.Data()
	if err != nil {
		return classify(err)
	}
	if _, err := w.Write(raw); err != nil {
		return classify(err)
	}
	if err := w.Close(); err != nil {
		return classify(err)
	}
	_ = c.Quit()
	return nil
}

// compose builds a multipart/alternative MIME message with a text and an HTML part.
func (s *Sender) compose(m Message) ([]byte, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("recipient %q: %w", m.To, err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct{ ctype, content string }{{"text/plain; charset=utf-8", m.Text}, {"text/html; charset=utf-8", m.HTML}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.ctype}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(part.content)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	_, domain, _ := strings.Cut(s.from.Address, "@")
	var h bytes.Buffer
	for _, kv := range [][2]string{
		{"From", s.from.String()},
		{"To", to.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", m.Subject)},
		{"Date", time.Now().UTC().Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id) + "@" + domain + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "multipart/alternative; boundary=" + mw.Boundary()},
		// Transactional mail: ask auto-responders to stay quiet.
		{"Auto-Submitted", "auto-generated"},
	} {
		fmt.Fprintf(&h, "%s: %s\r\n", kv[0], kv[1])
	}
	h.WriteString("\r\n")
	h.Write(body.Bytes())
	return h.Bytes(), nil
}
