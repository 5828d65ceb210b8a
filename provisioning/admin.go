package provisioning

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// This file holds what the admin API's engine methods share beyond access (access.go):
// their refusal types, the check of caller-given user ids and the locking of those users.

// LoginSummary sums up a user's sign-ins.
type LoginSummary struct {
	LastLoginAt *time.Time   `json:"lastLoginAt,omitempty"`
	Count       int          `json:"count"`
	Failures    int          `json:"failures"`
	IPs         []LoginSeen  `json:"ips"`
	UserAgents  []LoginSeen  `json:"userAgents"`
	Events      []LoginEvent `json:"-"`
}

// LoginSeen is one IP address or user agent a user signed in from.
type LoginSeen struct {
	Value    string    `json:"value" db:"value"`
	Count    int       `json:"count" db:"n"`
	LastSeen time.Time `json:"lastSeen" db:"-"`
}

// RuleError is a refusal by one of the engine's invariants (the last Admin, a role in
// use): the request is well-formed but conflicts with the current state.
type RuleError struct {
	Field  string
	Reason string
}

func (e *RuleError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrConflict) true.
func (e *RuleError) Is(target error) bool { return target == ErrConflict }

// ForbiddenError says why the caller may not do something.
type ForbiddenError struct{ Reason string }

func (e *ForbiddenError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrForbidden) true.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// MaxBatch caps the users of one seat, bulk or membership request.
const MaxBatch = 1000

// checkIDs validates a list of user ids given by a caller.
func checkIDs(field string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, Invalid(field, "at least one user id is required")
	}
	if len(ids) > MaxBatch {
		return nil, Invalid(field, "at most %d users at once", MaxBatch)
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(ids))
	for i, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || len(id) > 64 {
			return nil, Invalid(fmt.Sprintf("%s[%d]", field, i), "is not a user id")
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// lockAll locks the users and fails with a not-found naming the first missing id.
func lockAll(ctx context.Context, tx Tx, tenantID, field string, ids []string) (map[string]*User, error) {
	users, err := tx.LockUsers(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*User, len(users))
	for i := range users {
		byID[users[i].ID] = &users[i]
	}
	for i, id := range ids {
		if byID[id] == nil {
			if field == "id" {
				return nil, fmt.Errorf("%s: user %s: %w", field, id, ErrNotFound)
			}
			// A list names the unknown entry, so that a bulk call can be fixed.
			return nil, &NotFoundError{Field: fmt.Sprintf("%s[%d]", field, i), Kind: "user", ID: id}
		}
	}
	grants, err := tx.UserGrants(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		u := byID[g.UserID]
		if u == nil {
			continue
		}
		if g.Kind == "role" {
			u.Roles = append(u.Roles, g.Name)
		} else {
			u.Teams = append(u.Teams, g.Name)
		}
	}
	return byID, nil
}
