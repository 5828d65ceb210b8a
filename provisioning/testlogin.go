package provisioning

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// errDryRun rolls back a test sign-in's transaction.
var errDryRun = errors.New("dry run: rolled back")

// TestLoginResult is what a test sign-in found: what the IdP sent, what the mapping would
// grant, and whether the sign-in would succeed (or its refusal).
type TestLoginResult struct {
	At           time.Time `json:"at"`
	ConnectionID string    `json:"connectionId"`
	Subject      string    `json:"subject"`
	Email        string    `json:"email,omitempty"`
	GivenName    string    `json:"givenName,omitempty"`
	FamilyName   string    `json:"familyName,omitempty"`
	DisplayName  string    `json:"displayName,omitempty"`
	Groups       []string  `json:"groups,omitempty"`
	// Attributes are every attribute the IdP sent (SAML) or claim (OIDC), by name.
	Attributes  map[string][]string `json:"attributes,omitempty"`
	Grants      Grants              `json:"grants"`
	OK          bool                `json:"ok"`
	WouldCreate bool                `json:"wouldCreate,omitempty"`
	WouldLink   bool                `json:"wouldLink,omitempty"`
	Reason      RefusalReason       `json:"reason,omitempty"`
	Message     string              `json:"message,omitempty"`
}

// TestLogin runs a sign-in as Login does (through a connection that may still be
// disabled) and rolls it back: nothing is created, linked, granted or logged.
func (e *Engine) TestLogin(ctx context.Context, req LoginRequest, attrs map[string][]string) (*TestLoginResult, error) {
	req.DryRun = true
	conn, err := e.GetConnection(ctx, req.TenantID, req.ConnectionID)
	if err != nil {
		return nil, err
	}
	c := req.Claims
	out := &TestLoginResult{At: e.now(), ConnectionID: conn.ID, Subject: c.Subject, Email: c.Email, GivenName: c.GivenName,
		FamilyName: c.FamilyName, DisplayName: c.DisplayName, Groups: c.Groups, Attributes: attrs, Grants: conn.Mapping.Evaluate(c.Groups)}
	res, refusal, err := e.login(ctx, req, true)
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		out.Reason, out.Message = refusal.Reason, refusal.Message
		return out, nil
	}
	out.OK, out.WouldCreate, out.WouldLink = true, res.Created, res.Linked
	return out, nil
}

// The state kinds of a test sign-in: the ticket the wizard hands the SSO door, and the
// result the door leaves for the wizard.
const (
	StateTestTicket = "setup_test"
	StateTestResult = "setup_test_result"
)

// testTicket is a test ticket's data.
type testTicket struct {
	LinkID   string `json:"linkId"`
	ReturnTo string `json:"returnTo"`
}

// TestTicketTTL bounds a test sign-in from the wizard's button to the IdP's answer.
const TestTicketTTL = 15 * time.Minute

// StartTestSignIn issues a single-use ticket allowing one test sign-in through the link's
// connection; the SSO door redeems it (RedeemTestTicket) and sends the browser back to
// returnTo(ticket) with the result stored under the ticket.
func (e *Engine) StartTestSignIn(ctx context.Context, l *SetupLink, returnTo func(ticket string) string) (string, error) {
	if l.Progress.ConnectionID == "" {
		return "", Invalid("connection", "create the connection first")
	}
	s := e.Store
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("test ticket: %w", err)
	}
	key := base64.RawURLEncoding.EncodeToString(raw)
	data, err := json.Marshal(testTicket{LinkID: l.ID, ReturnTo: returnTo(key)})
	if err != nil {
		return "", err
	}
	now := e.now()
	err = s.PutState(ctx, &AuthState{Kind: StateTestTicket, Key: key, TenantID: l.TenantID, ConnectionID: l.Progress.ConnectionID,
		Data: data, CreatedAt: now, ExpiresAt: now.Add(TestTicketTTL)})
	if err != nil {
		return "", err
	}
	return key, nil
}

// RedeemTestTicket takes a ticket (single use) and returns its tenant, connection and
// return path. Any failure is ErrNotFound.
func (e *Engine) RedeemTestTicket(ctx context.Context, tenantID, key string) (connectionID, returnTo string, err error) {
	s := e.Store
	st, err := s.TakeState(ctx, StateTestTicket, key, e.now())
	if err != nil {
		return "", "", err
	}
	if st.TenantID != tenantID {
		return "", "", ErrNotFound
	}
	var t testTicket
	if err := json.Unmarshal(st.Data, &t); err != nil {
		return "", "", fmt.Errorf("test ticket: %w", err)
	}
	return st.ConnectionID, t.ReturnTo, nil
}

// SaveTestResult stores a test sign-in's result under its ticket for the wizard.
func (e *Engine) SaveTestResult(ctx context.Context, tenantID, key string, r *TestLoginResult) error {
	s := e.Store
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	now := e.now()
	return s.PutState(ctx, &AuthState{Kind: StateTestResult, Key: key, TenantID: tenantID, ConnectionID: r.ConnectionID,
		Data: data, CreatedAt: now, ExpiresAt: now.Add(TestTicketTTL)})
}

// TestResult returns the stored result of the ticket's test sign-in.
func (e *Engine) TestResult(ctx context.Context, tenantID, key string) (*TestLoginResult, error) {
	s := e.Store
	st, err := s.GetState(ctx, StateTestResult, key, e.now())
	if err != nil {
		return nil, err
	}
	if st.TenantID != tenantID {
		return nil, ErrNotFound
	}
	var r TestLoginResult
	if err := json.Unmarshal(st.Data, &r); err != nil {
		return nil, fmt.Errorf("test result: %w", err)
	}
	return &r, nil
}
