package main

import (
	"net/http"
	"strings"

	"github.com/seatbridge/seatbridge/console"
)

// mountConsole serves the admin web console under /admin/{tenant}/ and the set-up wizard. Sign-in is the
// invite (password) and sso doors' job; the console reads the same session cookie.
func mountConsole(mux *http.ServeMux, a *app) error {
	s, err := a.adminServices()
	if err != nil {
		return err
	}
	// The console also serves the set-up wizard (/setup/{token}), which makes connections
	// through the SSO door's preparer and shows URLs under the public base URL.
	(&console.Handler{Accounts: s.acc, Log: a.log.With("door", "console"), TrustForwarded: a.cfg.TrustForwardedFor,
		SecureCookies: strings.HasPrefix(a.cfg.BaseURL, "https://"), BaseURL: a.cfg.BaseURL,
		Connections: s.conns, Webhooks: s.wh}).Mount(mux)
	return nil
}
