package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

func TestMailFlags(t *testing.T) {
	env := &cliEnv{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string {
		if k == "SEATBRIDGE_SMTP_PASSWORD" {
			return "from-env"
		}
		return ""
	}}
	var cfg Config
	var mc MailConfig
	fs, b := newFlags("serve", env, &cfg)
	bindMailFlags(b, &mc)
	if err := fs.Parse([]string{"--smtp-host", "mx.example.com", "--smtp-tls", "tls", "--smtp-port", "465"}); err != nil {
		t.Fatal(err)
	}
	if mc.SMTPHost != "mx.example.com" || mc.SMTPPort != 465 || mc.SMTPTLS != "tls" || mc.SMTPPassword != "from-env" || mc.PollInterval != 5*time.Second {
		t.Fatalf("mail config = %+v", mc)
	}
	// Without a host the worker does not start and mail stays queued.
	a := &app{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := runMailWorker(context.Background(), a, MailConfig{}); err != nil {
		t.Fatal(err)
	}
}
