package provisioning

import (
	"context"
)

// E-mail addresses are not unique keys of users: RFC 7643 gives emails uniqueness "none",
// and directories push several accounts with one address, so SCIM stores what it is sent.
// The doors that promise one account per address — the admin API (create, edit, CSV
// import), local accounts and invitations — claim the address with claimEmail in the
// transaction that writes it. Sign-in links by e-mail only when exactly one account holds
// the address (login.go).

// claimEmail fails with a *ConflictError on field when an account of the tenant other than
// exceptUserID ("" for a new account) uses email as its userName or as one of its e-mails.
// It locks the tenant row first, so two transactions claiming one address are serialised
// and the second sees the first's account (PostgreSQL; SQLite's single writer serialises
// anyway). Callers hold their user row locks already: users, then the tenant, is the order
// every writer follows.
func claimEmail(ctx context.Context, tx Tx, tenantID, field, email, exceptUserID string) error {
	if err := tx.LockTenant(ctx, tenantID); err != nil {
		return err
	}
	found, err := tx.FindUsersByEmail(ctx, tenantID, FoldKey(email))
	if err != nil {
		return err
	}
	for _, u := range found {
		if u.ID == exceptUserID {
			continue
		}
		if u.Status == StatusInvited {
			return &ConflictError{Field: field, Value: email, Hint: "already invited: resend the invitation instead"}
		}
		return &ConflictError{Field: field, Value: email}
	}
	return nil
}
