package provisioning

import (
	"context"
	"errors"
	"strings"

	"golang.org/x/text/language"
)

// This file is self-service: what any signed-in user may do to their own account
// (seed "Platform User"): read the profile, edit names, external ID and language (names
// and external ID stay read-only when an identity provider manages them), list and end
// their own sessions. Changing one's own password is Accounts.ChangeOwnPassword.

// CheckLanguage accepts an empty value or a well-formed BCP 47 tag (RFC 5646) and
// returns it in canonical form ("en-us" becomes "en-US").
func CheckLanguage(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if len(v) > 35 {
		return "", Invalid(field, "%q is not a language tag such as en, de-CH or pt-BR", v)
	}
	tag, err := language.Parse(v)
	if err != nil {
		return "", Invalid(field, "%q is not a language tag such as en, de-CH or pt-BR", v)
	}
	return tag.String(), nil
}

// SelfEdit is a user's change to their own profile; nil fields stay as they are.
type SelfEdit struct {
	GivenName         *string
	FamilyName        *string
	DisplayName       *string
	ExternalID        *string
	PreferredLanguage *string
}

// EditOwnProfile applies a user's change to their own profile. Names and external ID of
// a user an identity provider manages are read-only (a 400 naming the field); the e-mail
// address is never changed here.
func (e *Engine) EditOwnProfile(ctx context.Context, actor Actor, tenantID string, in SelfEdit) (*User, error) {
	if actor.Kind != ActorUser || actor.ID == "" {
		return nil, &ForbiddenError{Reason: "only a signed-in user has a profile of their own"}
	}
	lang := ""
	if in.PreferredLanguage != nil {
		var err error
		if lang, err = CheckLanguage("preferredLanguage", *in.PreferredLanguage); err != nil {
			return nil, err
		}
	}
	var out *User
	err := e.Store.InTx(ctx, func(tx Tx) error {
		var before User
		u, err := tx.UpdateUser(ctx, tenantID, actor.ID, func(u *User) error {
			before = *u
			idp := u.IdPManaged()
			for _, f := range []struct {
				name string
				v    *string
				dst  *string
			}{
				{"givenName", in.GivenName, &u.Name.GivenName},
				{"familyName", in.FamilyName, &u.Name.FamilyName},
				{"displayName", in.DisplayName, &u.DisplayName},
				{"externalId", in.ExternalID, &u.ExternalID},
			} {
				if f.v == nil {
					continue
				}
				if idp {
					return Invalid(f.name, "is managed by your identity provider; change it there")
				}
				v := strings.TrimSpace(*f.v)
				if len(v) > 256 {
					return Invalid(f.name, "is longer than 256 characters")
				}
				*f.dst = v
			}
			if in.PreferredLanguage != nil {
				u.PreferredLanguage = lang
			}
			u.UpdatedAt = e.now()
			return validateUser(u)
		})
		if err != nil {
			return err
		}
		out = u
		return e.audit(ctx, tx, actor, tenantID, "user.update", "user", u.ID, &before, u)
	})
	if err != nil {
		return nil, err
	}
	return e.Store.GetUser(ctx, tenantID, out.ID)
}

// OwnSessions lists the signed-in user's open sessions.
func (e *Engine) OwnSessions(ctx context.Context, tenantID, userID string) ([]Session, error) {
	s := e.Store
	return s.ListUserSessions(ctx, tenantID, userID, e.now())
}

// UserIdentities lists the single sign-on identities linked to a user: which connection
// signs them in, under which IdP subject, since when and when last.
func (e *Engine) UserIdentities(ctx context.Context, tenantID, userID string) ([]Identity, error) {
	return e.Store.ListUserIdentities(ctx, tenantID, userID)
}

// EndOwnSession ends one of the signed-in user's sessions (another device, or this one).
// Another user's session is ErrNotFound, never ended.
func (e *Engine) EndOwnSession(ctx context.Context, actor Actor, tenantID, sessionID string) error {
	if actor.Kind != ActorUser {
		return &ForbiddenError{Reason: "only a signed-in user has sessions of their own"}
	}
	return e.Store.InTx(ctx, func(tx Tx) error {
		s, err := tx.GetSession(ctx, sessionID)
		if errors.Is(err, ErrNotFound) || (err == nil && (s.TenantID != tenantID || s.UserID != actor.ID)) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if s.EndedAt != nil {
			return nil
		}
		if err := tx.EndSession(ctx, sessionID, e.now()); err != nil {
			return err
		}
		return e.audit(ctx, tx, actor, tenantID, "session.end", "user", actor.ID, nil, map[string]string{"sessionId": sessionID})
	})
}

// EndOtherSessions ends every open session of the signed-in user but keep (the one in
// use): "sign out everywhere else", and what a password change does.
func (e *Engine) EndOtherSessions(ctx context.Context, actor Actor, tenantID, keep string) (int, error) {
	if actor.Kind != ActorUser {
		return 0, &ForbiddenError{Reason: "only a signed-in user has sessions of their own"}
	}
	ss, err := e.OwnSessions(ctx, tenantID, actor.ID)
	if err != nil {
		return 0, err
	}
	n := 0
	err = e.Store.InTx(ctx, func(tx Tx) error {
		n = 0
		for _, s := range ss {
			if s.ID == keep {
				continue
			}
			if err := tx.EndSession(ctx, s.ID, e.now()); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return nil
		}
		return e.audit(ctx, tx, actor, tenantID, "session.end", "user", actor.ID, nil, map[string]any{"others": n, "kept": keep})
	})
	return n, err
}
