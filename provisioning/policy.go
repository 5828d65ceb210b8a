package provisioning

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PolicyInput changes a tenant's settings; nil fields stay as they are.
type PolicyInput struct {
	Name               *string
	SeatLimit          *int
	AllowedDomains     *[]string
	BlockedDomains     *[]string
	BlockFreeMail      *bool
	DefaultRole        *string
	AllowPasswordLogin *bool
	InvitationTTL      *string
	RequireTwoFactor   *bool
	AppURL             *string
}

// The bounds of a tenant's invitation lifetime.
const (
	MinInvitationTTL = time.Hour
	MaxInvitationTTL = 30 * 24 * time.Hour
)

// ParseTTL reads a lifetime such as "24h", "7d" or "90m" (Go durations plus whole days).
func ParseTTL(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d < 0 || d > 3650 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 24h or 7d", s)
	}
	return d, nil
}

// FormatTTL writes a lifetime the way ParseTTL reads it ("7d", "24h", "36h", "90m").
func FormatTTL(d time.Duration) string {
	switch {
	case d > 24*time.Hour && d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d > 0 && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d > 0 && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return d.String()
}

// parseInvitationTTL reads an invitation lifetime ("24h", "7d") within the allowed range,
// for the tenant's default and for one invitation alike.
func parseInvitationTTL(field, v string) (time.Duration, error) {
	d, err := ParseTTL(v)
	if err != nil {
		return 0, Invalid(field, "%s", err.Error())
	}
	if d < MinInvitationTTL || d > MaxInvitationTTL {
		return 0, Invalid(field, "must be from 1h to 30d")
	}
	return d, nil
}

// InvitationTTLOf is the tenant's invitation lifetime (the default when none is set).
func InvitationTTLOf(t *Tenant) time.Duration {
	if d := time.Duration(t.Policy.InvitationTTL); d > 0 {
		return d
	}
	return DefaultInvitationTTL
}

// checkAppURL accepts an absolute https URL (http only for localhost) without
// credentials: browsers are sent there after sign-in, so nothing else may get in.
func checkAppURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 2048 || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "", Invalid("appUrl", "%q is not an absolute URL such as https://app.example.com/", raw)
	}
	local := u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"
	if u.Scheme != "https" && (u.Scheme != "http" || !local) {
		return "", Invalid("appUrl", "must use https (http only for localhost)")
	}
	return u.String(), nil
}

// FreeMailDomains lists the free-mail providers refused when Policy.BlockFreeMail is set.
func FreeMailDomains() []string { return append([]string(nil), freeMail...) }

func cleanDomains(field string, in []string) ([]string, error) {
	out := []string{}
	for i, d := range in {
		d = FoldKey(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if d == "" || strings.ContainsAny(d, "@/ ") || !strings.Contains(d, ".") || TextProblem(d, 253) != "" || TextProblem(in[i], len(in[i])) != "" {
			return nil, Invalid(fmt.Sprintf("%s[%d]", field, i), "%q is not a domain", in[i])
		}
		out = append(out, d)
	}
	return out, nil
}

// UpdatePolicy changes the tenant's name, seat limit and policy. The limit cannot go below
// the seats in use, and the default role must exist (empty: new users get no role).
func (e *Engine) UpdatePolicy(ctx context.Context, actor Actor, tenantID string, in PolicyInput) (*Tenant, error) {
	var out *Tenant
	err := e.Store.InTx(ctx, func(tx Tx) error {
		pw, err := e.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		if !pw.admin && !pw.perms[PermManageSettings] {
			return &ForbiddenError{Reason: "you lack the manage_settings permission"}
		}
		rs, err := loadRoles(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		var before Tenant
		t, err := tx.UpdateTenant(ctx, tenantID, func(t *Tenant) error {
			before = *t
			if in.Name != nil {
				n := strings.TrimSpace(*in.Name)
				if n == "" || len(n) > 200 {
					return Invalid("name", "must be 1 to 200 characters")
				}
				t.Name = n
			}
			if in.AllowPasswordLogin != nil {
				t.Policy.AllowPasswordLogin = *in.AllowPasswordLogin
			}
			if in.RequireTwoFactor != nil {
				t.Policy.RequireTwoFactor = *in.RequireTwoFactor
			}
			if in.InvitationTTL != nil {
				d, err := parseInvitationTTL("invitationTTL", *in.InvitationTTL)
				if err != nil {
					return err
				}
				t.Policy.InvitationTTL = Duration(d)
			}
			if in.AppURL != nil {
				u, err := checkAppURL(*in.AppURL)
				if err != nil {
					return err
				}
				t.Policy.AppURL = u
			}
			if in.SeatLimit != nil {
				if *in.SeatLimit < 0 {
					return Invalid("seatLimit", "must not be negative")
				}
				if *in.SeatLimit < t.SeatsUsed {
					return Invalid("seatLimit", "%d seats are in use; unassign seats before lowering the limit to %d", t.SeatsUsed, *in.SeatLimit)
				}
				t.SeatLimit = *in.SeatLimit
			}
			if in.AllowedDomains != nil {
				d, err := cleanDomains("allowedDomains", *in.AllowedDomains)
				if err != nil {
					return err
				}
				t.Policy.AllowedDomains = d
			}
			if in.BlockedDomains != nil {
				d, err := cleanDomains("blockedDomains", *in.BlockedDomains)
				if err != nil {
					return err
				}
				t.Policy.BlockedDomains = d
			}
			if in.BlockFreeMail != nil {
				t.Policy.BlockFreeMail = *in.BlockFreeMail
			}
			if in.DefaultRole != nil {
				name := strings.TrimSpace(*in.DefaultRole)
				if name != "" {
					r, ok := rs.find(name)
					if !ok {
						return Invalid("defaultRole", "no role %q", name)
					}
					if err := pw.mayGrant(r); err != nil {
						return err
					}
					name = r.Name
				}
				t.Policy.DefaultRole = name
			}
			t.UpdatedAt = e.now()
			return nil
		})
		if err != nil {
			return err
		}
		out = t
		return e.audit(ctx, tx, actor, tenantID, "tenant.policy", "tenant", tenantID, &before, t)
	})
	return out, err
}

// GetTenant returns the tenant with its policy and seat count.
func (e *Engine) GetTenant(ctx context.Context, tenantID string) (*Tenant, error) {
	return e.Store.GetTenant(ctx, tenantID)
}
