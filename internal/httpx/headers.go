package httpx

import "net/http"

// PageCSP is the Content-Security-Policy of Seatbridge's server-rendered pages: no script,
// no framing, no outside resources, forms post only to Seatbridge. Inline style is allowed
// (the pages carry a few style attributes and nothing else).
const PageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// HTMLHeaders sets the headers every HTML page of Seatbridge carries: its content type,
// no caching (the pages hold one-time links and sign-in state), the CSP csp (PageCSP when
// empty), no framing (clickjacking), no MIME sniffing and no Referer (the URLs of sign-in
// and invitation pages hold tokens).
func HTMLHeaders(w http.ResponseWriter, csp string) {
	if csp == "" {
		csp = PageCSP
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}
