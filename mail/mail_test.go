package mail_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/seatbridge/seatbridge/internal/secretbox"
	smail "github.com/seatbridge/seatbridge/mail"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// smtpServer is a real SMTP server in-process. Recipients in reject get a permanent
// 550; recipients in flaky get a temporary 451 that many times before being accepted.
type smtpServer struct {
	mu       sync.Mutex
	received []received
	reject   map[string]bool
	flaky    map[string]int
	addr     string
}

type received struct {
	From, To string
	Data     []byte
}

type session struct {
	s        *smtpServer
	from, to string
}

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.s.mu.Lock()
	defer s.s.mu.Unlock()
	if s.s.reject[to] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
	}
	if s.s.flaky[to] > 0 {
		s.s.flaky[to]--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.to = to
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.s.mu.Lock()
	s.s.received = append(s.s.received, received{From: s.from, To: s.to, Data: b})
	s.s.mu.Unlock()
	return nil
}

func startSMTP(t *testing.T) *smtpServer {
	t.Helper()
	srv := &smtpServer{reject: map[string]bool{}, flaky: map[string]int{}}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: srv}, nil }))
	s.Domain = "mx.test"
	s.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.addr = ln.Addr().String()
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { s.Close() })
	return srv
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var admin = provisioning.Actor{Kind: provisioning.ActorAdminToken, ID: "tok", Name: "Ada Admin"}

// parts returns the decoded text and HTML parts of a received message.
func parts(t *testing.T, raw []byte) (*mail.Message, string, string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var text, html string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // multipart decodes quoted-printable
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			text = string(b)
		} else {
			html = string(b)
		}
	}
	return m, text, html
}

func TestDeliveryThroughSMTP(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		srv := startSMTP(t)
		srv.reject["bounce@example.com"] = true
		srv.flaky["flaky@example.com"] = 2

		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		eng := provisioning.NewEngine(db, log)
		clk := &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
		eng.Now = clk.Now
		box, _ := secretbox.New(bytes.Repeat([]byte{3}, 32))
		acc := provisioning.NewAccounts(eng, box)
		acc.Password = provisioning.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1}
		acc.Retry = provisioning.RetryPolicy{MaxAttempts: 5, Base: time.Minute, Max: time.Hour, Lease: 5 * time.Minute}
		tn, err := eng.CreateTenant(ctx, admin, "acme", "Acme Inc", 5)
		if err != nil {
			t.Fatal(err)
		}

		host, port, _ := net.SplitHostPort(srv.addr)
		p, _ := strconv.Atoi(port)
		sender, err := smail.NewSender(smail.Config{Host: host, Port: p, TLS: smail.TLSNone, From: "Seatbridge <no-reply@seatbridge.test>"})
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := smail.NewTemplates("https://sb.example.test")
		if err != nil {
			t.Fatal(err)
		}
		w := &smail.Worker{Outbox: acc, Transport: sender, Templates: tpl, Log: log, ID: "w1"}

		invite := func(email string) *provisioning.Invitation {
			inv, err := acc.CreateInvitation(ctx, admin, tn.ID, provisioning.InvitationRequest{Email: email, DisplayName: "Jo <b>Doe</b>", Roles: []string{"Agent"}})
			if err != nil {
				t.Fatalf("invite %s: %v", email, err)
			}
			return inv
		}
		ok, bounce, flaky := invite("ok@example.com"), invite("bounce@example.com"), invite("flaky@example.com")
		if _, _, err := acc.CreateLocalUser(ctx, admin, tn.ID, provisioning.LocalUserRequest{Email: "agent@example.com",
			DisplayName: "Agent", ForceChange: true, SendMail: true}); err != nil {
			t.Fatal(err)
		}

		if n, err := w.RunOnce(ctx); n != 4 || err != nil {
			t.Fatalf("first run: %d, %v", n, err)
		}
		got := srv.messages()
		if len(got) != 2 {
			t.Fatalf("received %d messages, want 2 (invitation + credentials)", len(got))
		}
		var invitationMail, credentialsMail received
		for _, m := range got {
			if m.To == "ok@example.com" {
				invitationMail = m
			} else {
				credentialsMail = m
			}
		}
		hdr, text, html := parts(t, invitationMail.Data)
		if hdr.Header.Get("Subject") != "You are invited to Acme Inc" || invitationMail.From != "no-reply@seatbridge.test" {
			t.Fatalf("headers: %v from %s", hdr.Header, invitationMail.From)
		}
		i := strings.Index(text, "https://sb.example.test/invite/")
		if i < 0 || !strings.Contains(html, `href="https://sb.example.test/invite/`) || !strings.Contains(html, "Jo &lt;b&gt;Doe&lt;/b&gt;") {
			t.Fatalf("invitation mail:\n%s\n%s", text, html)
		}
		token := strings.Fields(text[i+len("https://sb.example.test/invite/"):])[0]
		if _, err := acc.AcceptInvitation(ctx, token, provisioning.AcceptRequest{Password: "a good long password"}); err != nil {
			t.Fatalf("the mailed link does not accept: %v", err)
		}
		_, ctext, _ := parts(t, credentialsMail.Data)
		if !strings.Contains(ctext, "Password:   ") || !strings.Contains(ctext, "https://sb.example.test/login/acme") || !strings.Contains(ctext, "choose a new password") {
			t.Fatalf("credentials mail:\n%s", ctext)
		}

		// Permanent failure: the address is suppressed and the invitation says why.
		b, err := acc.GetInvitation(ctx, tn.ID, bounce.ID)
		if err != nil || b.DeliveryStatus != provisioning.DeliverySuppressed || !strings.Contains(b.DeliveryError, "550") {
			t.Fatalf("bounced invitation = %+v, %v", b, err)
		}
		sups, err := acc.ListSuppressions(ctx, tn.ID)
		if err != nil || len(sups) != 1 || sups[0].Email != "bounce@example.com" {
			t.Fatalf("suppressions = %+v, %v", sups, err)
		}
		if _, err := acc.ResendInvitation(ctx, admin, tn.ID, bounce.ID); err == nil || !strings.Contains(err.Error(), "blocked") {
			t.Fatalf("resend to a suppressed address: %v", err)
		}
		if _, err := acc.CreateInvitation(ctx, admin, tn.ID, provisioning.InvitationRequest{Email: "BOUNCE@example.com"}); err == nil {
			t.Fatal("invited a suppressed address again")
		}

		// Temporary failure: retried with backoff, not before it is due.
		f, _ := acc.GetInvitation(ctx, tn.ID, flaky.ID)
		if f.DeliveryStatus != provisioning.DeliveryRetrying || !strings.Contains(f.DeliveryError, "451") {
			t.Fatalf("flaky invitation = %+v", f)
		}
		if n, _ := w.RunOnce(ctx); n != 0 {
			t.Fatalf("retried %d messages before the backoff", n)
		}
		clk.Add(time.Minute)
		if n, _ := w.RunOnce(ctx); n != 1 { // second 451
			t.Fatalf("second attempt claimed %d", n)
		}
		clk.Add(time.Minute)
		if n, _ := w.RunOnce(ctx); n != 0 {
			t.Fatal("backoff did not double")
		}
		clk.Add(time.Minute)
		if n, err := w.RunOnce(ctx); n != 1 || err != nil {
			t.Fatalf("third attempt: %d %v", n, err)
		}
		f, _ = acc.GetInvitation(ctx, tn.ID, flaky.ID)
		if f.DeliveryStatus != provisioning.DeliverySent || len(srv.messages()) != 3 {
			t.Fatalf("flaky after retries = %+v, %d messages", f, len(srv.messages()))
		}
		msgs, _ := db.ListMail(ctx, tn.ID, flaky.ID)
		if len(msgs) != 1 || msgs[0].Attempts != 3 || msgs[0].Status != provisioning.OutboxSent {
			t.Fatalf("outbox row = %+v", msgs)
		}

		// Clearing the suppression lets mail go again.
		if err := acc.ClearSuppression(ctx, admin, tn.ID, "Bounce@Example.com"); err != nil {
			t.Fatal(err)
		}
		delete(srv.reject, "bounce@example.com")
		if _, err := acc.ResendInvitation(ctx, admin, tn.ID, bounce.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := w.RunOnce(ctx); n != 1 || err != nil {
			t.Fatalf("after clearing: %d %v", n, err)
		}
		if last := srv.messages()[len(srv.messages())-1]; last.To != "bounce@example.com" {
			t.Fatalf("last mail to %s", last.To)
		}
		_ = ok
	})
}

// TestClaimsAcrossReplicas runs several workers at once on one outbox: every message is
// delivered exactly once.
func TestClaimsAcrossReplicas(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		srv := startSMTP(t)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		box, _ := secretbox.New(bytes.Repeat([]byte{3}, 32))
		eng := provisioning.NewEngine(db, log)
		acc := provisioning.NewAccounts(eng, box)
		tn, err := eng.CreateTenant(ctx, admin, "acme", "Acme Inc", 0)
		if err != nil {
			t.Fatal(err)
		}
		const n = 12
		for i := range n {
			if _, err := acc.CreateInvitation(ctx, admin, tn.ID, provisioning.InvitationRequest{Email: "u" + strconv.Itoa(i) + "@example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		host, port, _ := net.SplitHostPort(srv.addr)
		p, _ := strconv.Atoi(port)
		sender, _ := smail.NewSender(smail.Config{Host: host, Port: p, TLS: smail.TLSNone, From: "no-reply@seatbridge.test"})
		tpl, _ := smail.NewTemplates("https://sb.example.test")
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each replica has its own engine over the same database.
				e := provisioning.NewEngine(db, log)
				w := &smail.Worker{Outbox: provisioning.NewAccounts(e, box), Transport: sender, Templates: tpl, Log: log,
					ID: "replica-" + strconv.Itoa(i), Batch: 2}
				for {
					k, err := w.RunOnce(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					if k == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		seen := map[string]int{}
		for _, m := range srv.messages() {
			seen[m.To]++
		}
		if len(seen) != n {
			t.Fatalf("%d distinct recipients, want %d", len(seen), n)
		}
		for to, c := range seen {
			if c != 1 {
				t.Errorf("%s got %d mails", to, c)
			}
		}
	})
}

func TestConfigAndErrors(t *testing.T) {
	for _, c := range []smail.Config{{Port: 25, From: "a@b.c"}, {Host: "h", Port: 0, From: "a@b.c"}, {Host: "h", Port: 25, TLS: "ssl", From: "a@b.c"}, {Host: "h", Port: 25, From: "nope"}} {
		if _, err := smail.NewSender(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	// Nothing listens there: a temporary failure, never a suppression.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	s, _ := smail.NewSender(smail.Config{Host: "127.0.0.1", Port: addr.Port, TLS: smail.TLSNone, From: "a@b.test", Timeout: 2 * time.Second})
	err := s.Send(context.Background(), smail.Message{To: "x@y.test", Subject: "s", Text: "t", HTML: "h"})
	var de *smail.DeliveryError
	if !errors.As(err, &de) || de.Permanent {
		t.Fatalf("connection refused: %#v", err)
	}
}
