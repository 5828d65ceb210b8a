package provisioning

import "fmt"

// grantRule is the one rule of who may grant (or revoke) a role: only an Admin grants
// Admin, and no one grants a permission they lack (a custom role is no way around it). The
// engine applies it inside its transactions; the console asks it through
// Principal.MayGrant to offer only the roles the caller may grant.
func grantRule(admin bool, holds func(Permission) bool, r Role) error {
	if admin {
		return nil
	}
	if isAdminRole(r.Name) {
		return &ForbiddenError{Reason: "only an Admin can grant or revoke the Admin role"}
	}
	for _, perm := range r.Permissions {
		if !holds(perm) {
			return &ForbiddenError{Reason: fmt.Sprintf("role %q grants %s, which you do not hold", r.Name, perm)}
		}
	}
	return nil
}

// MayGrant reports whether the principal may grant or revoke the role. It is the engine's
// rule as of the principal's session; the engine checks again, with the caller's current
// roles, when the change is made.
func (p *Principal) MayGrant(r Role) bool {
	return grantRule(p.Admin, func(x Permission) bool { return p.Can(x) }, r) == nil
}
