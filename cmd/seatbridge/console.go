package main

import (
	"net/http"
	"strings"

	"github.com/seatbridge/seatbridge/console"
)

func init() { mounts = append(mounts, mountConsole) }

// mountConsole serves the admin web console under /admin/{tenant}/. Sign-in is the
// invite (password) and sso doors' job; the console reads the same session cookie.
func mountConsole(mux *http.ServeMux, a *app) error {
	acc, err := a.accounts()
	if err != nil {
		return err
	}
	(&console.Handler{Accounts: acc, Log: a.log.With("door", "console"), TrustForwarded: a.cfg.TrustForwardedFor,
		SecureCookies: strings.HasPrefix(a.cfg.BaseURL, "https://")}).Mount(mux)
	return nil
}
