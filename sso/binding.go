package sso

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/seatbridge/seatbridge/provisioning"
)

// bindName is the name of the cookie binding the login key to the browser that started
// it (before the __Host- prefix of a cross-site binding).
func bindName(typ provisioning.ConnectionType, key string) string {
	return "sb_" + string(typ) + "_" + HashKey(key)[:16]
}

// bind sets a signed, expiring cookie binding a started login to this browser. The
// cookie carries the hash of the key and an HMAC of it under CookieKey, which every
// replica shares.
//
// An answer that comes back as a top-level GET (the OIDC callback) carries a
// SameSite=Lax cookie, scoped to the answer's path. One that comes back as a cross-site
// POST (the IdP's auto-submitted form to the SAML ACS) does not: over https that cookie
// is SameSite=None; Secure, with the __Host- prefix so that a sibling subdomain cannot
// plant one (cookie tossing would defeat the binding). Browsers drop SameSite=None
// cookies that are not Secure, so over plain http (local development) it stays Lax: the
// ACS then answers the cross-site POST with a page that re-posts the same form from
// Seatbridge's own origin (renderRepost), and that same-site POST carries the cookie.
func (s *Service) bind(w http.ResponseWriter, typ provisioning.ConnectionType, key string, ep Endpoints) {
	name, v := bindName(typ, key), HashKey(key)
	c := &http.Cookie{Name: name, Value: v + "." + s.mac(name, v), Path: "/", MaxAge: int(s.Config.StateTTL.Seconds()),
		HttpOnly: true, Secure: s.Secure(), SameSite: http.SameSiteLaxMode}
	if answers[typ].crossSite {
		c.Name = s.crossSiteName(name)
		if s.Secure() {
			c.SameSite = http.SameSiteNoneMode
		}
	} else if u, err := url.Parse(ep.Answer); err == nil {
		c.Path = u.Path
	}
	http.SetCookie(w, c)
}

// checkBinding reports whether the request carries the bind cookie of key.
func (s *Service) checkBinding(r *http.Request, typ provisioning.ConnectionType, key string, crossSite bool) bool {
	name := bindName(typ, key)
	cookieName := name
	if crossSite {
		cookieName = s.crossSiteName(name)
	}
	c, err := r.Cookie(cookieName)
	if err != nil {
		return false
	}
	v, mac, ok := strings.Cut(c.Value, ".")
	if !ok {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(s.mac(name, v))) && hmac.Equal([]byte(v), []byte(HashKey(key)))
}

// clearBinding expires a cross-site bind cookie (its login is answered). A Lax one,
// scoped to its callback path, simply expires.
func (s *Service) clearBinding(w http.ResponseWriter, typ provisioning.ConnectionType, key string, crossSite bool) {
	if !crossSite {
		return
	}
	c := &http.Cookie{Name: s.crossSiteName(bindName(typ, key)), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if s.Secure() {
		c.Secure, c.SameSite = true, http.SameSiteNoneMode
	}
	http.SetCookie(w, c)
}

func (s *Service) crossSiteName(name string) string {
	if s.Secure() {
		return "__Host-" + name
	}
	return name
}

func (s *Service) mac(name, value string) string {
	m := hmac.New(sha256.New, s.Config.CookieKey)
	m.Write([]byte(name + "\x00" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
