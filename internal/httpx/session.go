package httpx

import (
	"net/http"
	"strings"
	"time"
)

// SessionCookie is the name of the Seatbridge session cookie. Its value is
// "<session id>.<secret>"; the engine keeps only a hash of the secret.
const SessionCookie = "sb_session"

// maxSessionCookie bounds the value a reader accepts (an ID and a secret are far shorter).
const maxSessionCookie = 512

// SetSession writes the session cookie: host-only, the whole site, HttpOnly, SameSite=Lax
// (a sign-in ends with a top-level redirect that must carry it), Secure over https. The
// sign-in door writes it; the console and the admin API read it with ReadSession, which
// is why the format lives here and not in one of those packages.
func SetSession(w http.ResponseWriter, id, secret string, expires time.Time, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id + "." + secret, Path: "/",
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode, Expires: expires})
}

// ReadSession returns the session ID and secret the request's session cookie carries;
// ok is false when there is none or it is not in the format SetSession writes. The
// caller still asks the engine whether the session is alive.
func ReadSession(r *http.Request) (id, secret string, ok bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || len(c.Value) > maxSessionCookie {
		return "", "", false
	}
	id, secret, ok = strings.Cut(c.Value, ".")
	if !ok || id == "" || secret == "" {
		return "", "", false
	}
	return id, secret, true
}

// ClearSession expires the session cookie (sign-out).
func ClearSession(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}
