package httpx

import (
	"net/url"
	"strings"
)

// SafeReturnTo is the one open-redirect guard of every sign-in door: it accepts only a
// path on this server and returns it unchanged; empty gives def. A scheme, a host, user
// info, a protocol-relative "//" (also spelled "/\", "\" or "/%2f"), control characters
// (CR/LF header splitting, tabs that browsers strip) and anything over 2 KiB are refused,
// never "fixed": a repaired address would still be the attacker's choice.
func SafeReturnTo(raw, def string) (string, bool) {
	if raw == "" {
		return def, true
	}
	if len(raw) > 2048 || raw[0] != '/' || strings.HasPrefix(raw, "//") || strings.ContainsRune(raw, '\\') ||
		strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", false
	}
	// Encoded slashes and backslashes right after the first "/" decode (in some browsers,
	// proxies and frameworks) to a protocol-relative address.
	if low := strings.ToLower(raw); strings.HasPrefix(low, "/%2f") || strings.HasPrefix(low, "/%5c") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	return raw, true
}
