package main

import (
	"context"
	"fmt"
	"time"

	"github.com/seatbridge/seatbridge/mail"
	"github.com/seatbridge/seatbridge/provisioning"
)

// MailConfig configures outgoing mail (invitations, credentials). Without an SMTP host
// mail stays queued in the outbox until a server with one runs.
type MailConfig struct {
	SMTPHost     string
	SMTPPort     int
	SMTPTLS      string
	SMTPUser     string
	SMTPPassword string
	From         string
	PollInterval time.Duration
}

// bindMailFlags adds the mail flags to serve (called from serveFlags).
func bindMailFlags(b *flagBinder, c *MailConfig) {
	b.str(&c.SMTPHost, "smtp-host", "", "SMTP relay host for invitation and credentials mail (empty: mail stays queued)")
	b.integer(&c.SMTPPort, "smtp-port", 587, "SMTP relay port")
	b.str(&c.SMTPTLS, "smtp-tls", "starttls", "SMTP TLS mode: none, starttls or tls")
	b.str(&c.SMTPUser, "smtp-user", "", "SMTP user name (empty: no authentication)")
	b.str(&c.SMTPPassword, "smtp-password", "", "SMTP password (prefer the environment variable)")
	b.str(&c.From, "mail-from", "Seatbridge <no-reply@localhost>", "sender address of Seatbridge's mail")
	b.duration(&c.PollInterval, "mail-poll", 5*time.Second, "how often the mail worker polls the outbox when idle")
}

// accounts builds the invitations / passwords / outbox service over the app's engine.
func (a *app) accounts() (*provisioning.Accounts, error) {
	box, err := a.secretBox()
	if err != nil {
		return nil, err
	}
	return provisioning.NewAccounts(a.eng, box), nil
}

// runMailWorker delivers the outbox until ctx ends (called from runServe). Every replica
// may run one: claims are leases in the database.
func runMailWorker(ctx context.Context, a *app, c MailConfig) error {
	if c.SMTPHost == "" {
		a.log.Warn("no --smtp-host: invitation and credentials mail stays queued in the outbox")
		return nil
	}
	acc, err := a.accounts()
	if err != nil {
		return err
	}
	sender, err := mail.NewSender(mail.Config{Host: c.SMTPHost, Port: c.SMTPPort, TLS: c.SMTPTLS, Username: c.SMTPUser,
		Password: c.SMTPPassword, From: c.From})
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	tpl, err := mail.NewTemplates(a.cfg.BaseURL)
	if err != nil {
		return err
	}
	w := &mail.Worker{Outbox: acc, Transport: sender, Templates: tpl, Log: a.log.With("worker", "mail"), Interval: c.PollInterval}
	return w.Run(ctx)
}
