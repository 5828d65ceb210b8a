package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/seatbridge/seatbridge/internal/httpx"
	"github.com/seatbridge/seatbridge/provisioning"
)

// The sign-in contract lives in provisioning (provisioning/signin.go) so that the
// protocol packages import provisioning only; these names are the door's for it.
type (
	Protocol         = provisioning.SignInProtocol
	MetadataProtocol = provisioning.MetadataProtocol
	Endpoints        = provisioning.Endpoints
	BeginRequest     = provisioning.BeginRequest
	Start            = provisioning.Start
	Answer           = provisioning.Answer
	VerifyRequest    = provisioning.VerifyRequest
	Verified         = provisioning.Verified
)

// answerRoute is how an IdP answers one protocol: the route's method and last segment
// (/sso/{tenant}/{type}/{conn}/{leaf}), the kind of the state row, and whether the answer
// is a cross-site POST (its binding cookie must then survive one, see bindCrossSite).
type answerRoute struct {
	method, leaf string
	kind         string
	crossSite    bool
}

var answers = map[provisioning.ConnectionType]answerRoute{
	provisioning.ConnSAML: {method: http.MethodPost, leaf: "acs", kind: provisioning.StateSAMLRequest, crossSite: true},
	provisioning.ConnOIDC: {method: http.MethodGet, leaf: "callback", kind: provisioning.StateOIDCLogin},
}

// Endpoints returns the URLs of a connection's answer and metadata routes.
func (s *Service) Endpoints(t *provisioning.Tenant, c *provisioning.Connection) Endpoints {
	base := "/sso/" + t.Slug + "/" + string(c.Type) + "/" + c.ID + "/"
	return Endpoints{Answer: s.URL(base + answers[c.Type].leaf), Metadata: s.URL(base + "metadata")}
}

// pending is the door's state row of a started login.
type pending struct {
	ReturnTo string `json:"returnTo"`
	// TestTicket marks the set-up wizard's test sign-in: its result is kept for the
	// wizard instead of opening a session.
	TestTicket string `json:"testTicket,omitempty"`
	// Data is the protocol's Start.Data.
	Data []byte `json:"data,omitempty"`
}

// begin starts a sign-in through conn: the protocol builds the request, the door keeps
// its state row, binds it to this browser with a signed cookie that the answer must
// bring back (login CSRF: without it, an answer to a request the attacker started, for
// the attacker's own identity, could be delivered to the victim's browser and sign the
// victim in as the attacker), and sends the browser to the IdP.
func (s *Service) begin(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant, conn *provisioning.Connection, st pending, loginHint string) {
	p, ok := s.protocols[conn.Type]
	if !ok {
		s.Fail(w, r, http.StatusNotImplemented, "This sign-in connection type is not available.", nil)
		return
	}
	ep := s.Endpoints(t, conn)
	start, err := p.Begin(r.Context(), BeginRequest{Tenant: t, Conn: conn, Endpoints: ep, LoginHint: loginHint})
	if err == nil {
		st.Data = start.Data
		err = s.putPending(r.Context(), t, conn, start.Key, st)
	}
	if err != nil {
		s.Fail(w, r, http.StatusBadGateway, "The identity provider could not be reached.", err)
		return
	}
	s.bind(w, conn.Type, start.Key, ep)
	http.Redirect(w, r, start.Redirect, http.StatusFound)
}

func (s *Service) putPending(ctx context.Context, t *provisioning.Tenant, conn *provisioning.Connection, key string, st pending) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode login state: %w", err)
	}
	now := s.Now()
	if err := s.States.PutState(ctx, &provisioning.AuthState{Kind: answers[conn.Type].kind, Key: key, TenantID: t.ID,
		ConnectionID: conn.ID, Data: data, CreatedAt: now, ExpiresAt: now.Add(s.Config.StateTTL)}); err != nil {
		return fmt.Errorf("keep login state: %w", err)
	}
	return nil
}

// answerConn resolves the tenant and connection of an answer or metadata route. A
// connection that is not active yet still serves its metadata and answers test sign-ins
// (handleAnswer refuses every other answer to it).
func (s *Service) answerConn(r *http.Request, typ provisioning.ConnectionType) (*provisioning.Tenant, *provisioning.Connection, error) {
	t, err := s.Tenant(r)
	if err != nil {
		return nil, nil, err
	}
	id := r.PathValue("conn")
	if id == "" || len(id) > 64 {
		return nil, nil, provisioning.ErrNotFound
	}
	c, err := s.Engine.GetConnection(r.Context(), t.ID, id)
	if err != nil {
		return nil, nil, err
	}
	if c.Type != typ {
		return nil, nil, provisioning.ErrNotFound
	}
	return t, c, nil
}

// handleMetadata serves a SAML connection's SP metadata.
func (s *Service) handleMetadata(w http.ResponseWriter, r *http.Request) {
	mp, ok := s.protocols[provisioning.ConnSAML].(MetadataProtocol)
	if !ok {
		s.Fail(w, r, http.StatusNotFound, "Unknown SAML connection.", nil)
		return
	}
	t, c, err := s.answerConn(r, provisioning.ConnSAML)
	if err != nil {
		s.Fail(w, r, http.StatusNotFound, "Unknown SAML connection.", notFoundOr(err))
		return
	}
	b, err := mp.Metadata(c, s.Endpoints(t, c))
	if err != nil {
		s.Fail(w, r, http.StatusInternalServerError, "Metadata unavailable.", err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(b)
}

// maxAnswerBytes bounds a posted answer (a SAMLResponse).
const maxAnswerBytes = 256 << 10

// errUnbound: an answer arrived without the cookie binding its login to this browser.
var errUnbound = errors.New("the login is not bound to this browser")

// handleAnswer takes an IdP's answer: the protocol reads it, the door finds the login it
// answers and checks that this browser started it, the protocol verifies it, the door
// uses the login's state once and finishes the sign-in.
func (s *Service) handleAnswer(typ provisioning.ConnectionType) http.HandlerFunc {
	route := answers[typ]
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxAnswerBytes)
		if err := r.ParseForm(); err != nil {
			s.Fail(w, r, http.StatusBadRequest, "The sign-in response could not be read.", err)
			return
		}
		t, c, err := s.answerConn(r, typ)
		if err != nil {
			s.Fail(w, r, http.StatusNotFound, "Unknown sign-in connection.", notFoundOr(err))
			return
		}
		st, v, err := s.verifyAnswer(w, r, t, c, route)
		if errors.Is(err, errUnbound) && route.crossSite && r.PostForm.Get(RepostField) == "" {
			// The binding cookie did not come with the IdP's cross-site POST (SameSite=Lax
			// over plain http, or a browser that withholds it): post the same form again
			// from this origin; a second miss is refused.
			s.renderRepost(w, s.Endpoints(t, c).Answer, r.PostForm)
			return
		}
		if err != nil {
			s.Fail(w, r, http.StatusForbidden, "The sign-in response from your identity provider was not accepted.", err)
			return
		}
		returnTo, ok := s.ReturnTo(st.ReturnTo)
		if !ok {
			returnTo = s.Config.DefaultReturnTo
		}
		if st.TestTicket != "" {
			s.completeTest(w, r, t, c, v, st.TestTicket, returnTo)
			return
		}
		var once *provisioning.AssertionUse
		if v.ReplayKey != "" {
			once = &provisioning.AssertionUse{ID: v.ReplayKey, Until: v.ReplayUntil}
		}
		s.complete(w, r, t, c, v.Claims, once, returnTo)
	}
}

// verifyAnswer runs every check on an answer and returns the login's state and the
// verified identity.
func (s *Service) verifyAnswer(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant, c *provisioning.Connection, route answerRoute) (pending, *Verified, error) {
	ctx := r.Context()
	p := s.protocols[c.Type]
	ans, err := p.ReadAnswer(r)
	if err != nil {
		return pending{}, nil, err
	}
	now := s.Now()
	var st pending
	key := ans.Key()
	if key != "" {
		row, err := s.States.GetState(ctx, route.kind, key, now)
		if err != nil {
			return st, nil, fmt.Errorf("login %q: %w", key, err)
		}
		if row.TenantID != t.ID || row.ConnectionID != c.ID {
			return st, nil, errors.New("the login belongs to another connection")
		}
		// The login must have been started by this browser. Unsolicited answers have no
		// login to bind to: that is why the protocol accepts them only when the
		// connection opts in.
		if !s.checkBinding(r, c.Type, key, route.crossSite) {
			return st, nil, errUnbound
		}
		if err := json.Unmarshal(row.Data, &st); err != nil {
			return st, nil, fmt.Errorf("login %q state: %w", key, err)
		}
	}
	// A connection that is not active answers only the wizard's test sign-in.
	if c.Disabled && st.TestTicket == "" {
		return st, nil, errors.New("the connection is not active")
	}
	v, err := p.Verify(ctx, VerifyRequest{Tenant: t, Conn: c, Endpoints: s.Endpoints(t, c), Answer: ans, Data: st.Data, Now: now})
	if err != nil {
		return st, nil, err
	}
	if key != "" {
		// Single use: a second answer to the same login fails here.
		if _, err := s.States.TakeState(ctx, route.kind, key, now); err != nil {
			return st, nil, fmt.Errorf("login %q already answered: %w", key, err)
		}
		s.clearBinding(w, c.Type, key, route.crossSite)
	}
	if v.ReplayKey != "" && st.TestTicket != "" {
		// A test sign-in's login is rolled back, so its assertion is remembered here; a
		// real sign-in remembers it in its login's transaction (complete).
		if err := s.States.RememberAssertion(ctx, c.ID, v.ReplayKey, v.ReplayUntil, now); err != nil {
			return st, nil, fmt.Errorf("replayed assertion: %w", err)
		}
	}
	return st, v, nil
}

// complete hands a verified upstream identity to the engine, with the single-use
// assertion it came in (nil when the protocol has none), which the engine remembers in the
// login's transaction: on success it sets the session cookie and redirects to returnTo; on
// refusal it renders the reason.
func (s *Service) complete(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant, conn *provisioning.Connection,
	claims provisioning.Claims, once *provisioning.AssertionUse, returnTo string) {
	res, err := s.Engine.Login(r.Context(), provisioning.LoginRequest{
		TenantID: t.ID, ConnectionID: conn.ID, Method: string(conn.Type), Claims: claims,
		IP: s.ip(r), UserAgent: provisioning.Truncate(r.UserAgent(), 512), SessionTTL: s.Config.SessionTTL,
		Assertion: once,
	})
	var refused *provisioning.LoginRefusedError
	switch {
	case errors.Is(err, provisioning.ErrReplayed):
		s.Fail(w, r, http.StatusForbidden, "The sign-in response from your identity provider was not accepted.", fmt.Errorf("replayed assertion: %w", err))
		return
	case errors.As(err, &refused):
		s.Log.InfoContext(r.Context(), "sso login refused", "tenant", t.ID, "connection", conn.ID, "reason", refused.Reason)
		s.Render(w, http.StatusForbidden, Page{Title: "Sign-in refused", Message: refused.Message, Reason: string(refused.Reason)})
		return
	case err != nil:
		s.Fail(w, r, http.StatusInternalServerError, "Sign-in failed.", err)
		return
	}
	s.Log.InfoContext(r.Context(), "sso login", "tenant", t.ID, "connection", conn.ID, "user", res.User.ID, "created", res.Created)
	s.setSession(w, res)
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// completeTest finishes a test sign-in: the engine runs the login and rolls it back, the
// result is stored under the ticket, and the browser goes back to the wizard.
func (s *Service) completeTest(w http.ResponseWriter, r *http.Request, t *provisioning.Tenant, conn *provisioning.Connection,
	v *Verified, ticket, returnTo string) {
	res, err := s.Engine.TestLogin(r.Context(), provisioning.LoginRequest{TenantID: t.ID, ConnectionID: conn.ID,
		Method: string(conn.Type), Claims: v.Claims, IP: s.ip(r)}, v.Attributes)
	if err == nil {
		err = s.Engine.SaveTestResult(r.Context(), t.ID, ticket, res)
	}
	if err != nil {
		s.Fail(w, r, http.StatusInternalServerError, "The test sign-in failed.", err)
		return
	}
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

func (s *Service) ip(r *http.Request) string { return httpx.ClientIP(r, s.Config.TrustForwarded) }
