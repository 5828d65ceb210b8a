package provisioning

import (
	"net/mail"
	"strings"
)

// NormalizeEmail validates a bare e-mail address ("user@example.com", no display name,
// no angle brackets) and returns it trimmed with its domain lower-cased. The local part
// keeps its case for display; comparisons use FoldKey.
func NormalizeEmail(field, raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", Invalid(field, "is required")
	}
	if len(s) > 254 {
		return "", Invalid(field, "is longer than 254 characters")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", Invalid(field, "%q is not an e-mail address", s)
	}
	local, domain, ok := strings.Cut(a.Address, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.HasPrefix(domain, "[") {
		return "", Invalid(field, "%q is not an e-mail address", s)
	}
	return local + "@" + strings.ToLower(domain), nil
}

// CheckEmailPolicy refuses an address whose domain the tenant's policy does not accept
// (allowed domains, blocked domains, free-mail providers), with a message fit for the
// admin who typed it.
func CheckEmailPolicy(t *Tenant, field, email string) error {
	if msg := domainRefusal(t, email); msg != "" {
		return Invalid(field, "%s", msg)
	}
	return nil
}

// CheckEmail is NormalizeEmail followed by CheckEmailPolicy: the one check of an address
// an admin or an invitation gives for a user of the tenant.
func CheckEmail(t *Tenant, field, raw string) (string, error) {
	email, err := NormalizeEmail(field, raw)
	if err != nil {
		return "", err
	}
	if err := CheckEmailPolicy(t, field, email); err != nil {
		return "", err
	}
	return email, nil
}
