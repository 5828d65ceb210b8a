package sso

import (
	"errors"
	"net/http"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
)

// SessionCookie is the Seatbridge session cookie (httpx.SessionCookie): the door writes
// it with httpx.SetSession, the console and the admin API read it with httpx.ReadSession.
const SessionCookie = httpx.SessionCookie

// setSession opens the browser's session of a finished sign-in.
func (s *Service) setSession(w http.ResponseWriter, res *provisioning.LoginResult) {
	httpx.SetSession(w, res.Session.ID, res.SessionSecret, res.Session.ExpiresAt, s.Secure())
}

// CurrentAccess returns the access of the request's session, or ErrSessionEnded.
func (s *Service) CurrentAccess(r *http.Request) (*provisioning.Access, error) {
	id, secret, ok := httpx.ReadSession(r)
	if !ok {
		return nil, provisioning.ErrSessionEnded
	}
	return s.Engine.SessionAccess(r.Context(), id, secret)
}

// ClearSession expires the session cookie.
func (s *Service) ClearSession(w http.ResponseWriter) { httpx.ClearSession(w, s.Secure()) }

// session is CurrentAccess for the door's own pages: nil when there is no session or it
// ended.
func (s *Service) session(r *http.Request) (*provisioning.Access, error) {
	acc, err := s.CurrentAccess(r)
	if errors.Is(err, provisioning.ErrSessionEnded) || errors.Is(err, provisioning.ErrNotFound) {
		return nil, nil
	}
	return acc, err
}
