package provisioning

import (
	"context"
	"fmt"
	"strings"
)

// PolicyInput changes a tenant's user policy; nil fields stay as they are.
type PolicyInput struct {
	SeatLimit      *int
	AllowedDomains *[]string
	BlockedDomains *[]string
	BlockFreeMail  *bool
	DefaultRole    *string
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

// UpdatePolicy changes the tenant's seat limit and user policy. The limit cannot go below
// the seats in use, and the default role must exist.
func (e *Engine) UpdatePolicy(ctx context.Context, actor Actor, tenantID string, in PolicyInput) (*Tenant, error) {
	var out *Tenant
	err := e.inAdminTx(ctx, func(tx AdminTx) error {
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
					r, ok := rs.byName[FoldKey(name)]
					if !ok {
						r, ok = rs.byID[name]
					}
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

// ListAudit returns a page of the tenant's audit events, newest first.
func (e *Engine) ListAudit(ctx context.Context, tenantID string, q AuditQuery) ([]AuditEvent, error) {
	return e.Store.ListAudit(ctx, tenantID, q)
}

// LoginHistory returns a user's login summary and a page of its login events, newest
// first.
func (e *Engine) LoginHistory(ctx context.Context, tenantID, userID string, q LoginQuery) (*LoginSummary, error) {
	s, err := e.adminStore()
	if err != nil {
		return nil, err
	}
	if _, err := s.GetUser(ctx, tenantID, userID); err != nil {
		return nil, err
	}
	sum, err := s.LoginSummary(ctx, tenantID, userID)
	if err != nil {
		return nil, err
	}
	q.UserID = userID
	if sum.Events, err = s.ListLogins(ctx, tenantID, q); err != nil {
		return nil, err
	}
	return sum, nil
}
