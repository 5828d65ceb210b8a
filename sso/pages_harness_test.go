package sso_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
)

// pagesMux mounts the sign-in door with its password and invitation pages over acc on
// mux (no protocol registered); now, when set, is the throttle's clock.
func pagesMux(t testing.TB, mux *http.ServeMux, acc *provisioning.Accounts, log *slog.Logger, cfg sso.Config, now func() time.Time) *sso.Service {
	t.Helper()
	cfg.BaseURL, _ = url.Parse("http://127.0.0.1")
	cfg.CookieKey = bytes.Repeat([]byte{7}, 32)
	svc, err := sso.New(acc.Engine, acc.Store, nil, log, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if now != nil {
		svc.Now = now
	}
	svc.Accounts = acc
	svc.Mount(mux)
	return svc
}
