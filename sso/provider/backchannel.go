package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/seatbridge/seatbridge/internal/poll"
	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
)

// BackchannelLogoutEvent is the member of a logout token's events claim that makes it
// one (OpenID Connect Back-Channel Logout 1.0 §2.4).
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutQueue is the outbox of back-channel logouts; *provisioning.Webhooks implements
// it. The engine fills it in the transaction that deactivates, deletes or unseats a user
// or ends a session.
type LogoutQueue interface {
	ClaimLogouts(ctx context.Context, worker string, limit int) ([]provisioning.LogoutRequest, error)
	FinishLogout(ctx context.Context, worker string, l *provisioning.LogoutRequest, sendErr error) error
}

// LogoutSender sends logout tokens to every client that registered a
// backchannel_logout_uri. Every replica may run one: requests are leased in the database.
type LogoutSender struct {
	P      *Provider
	Queue  LogoutQueue
	Client *http.Client
	Log    *slog.Logger
	// ID names this worker in claims; Interval is the pause between empty polls
	// (default 500 ms).
	ID       string
	Interval time.Duration
	// Wake, when set, ends the pause between polls early (see webhook.Worker.Wake).
	Wake <-chan struct{}
}

func (s *LogoutSender) defaults() {
	if s.ID == "" {
		host, _ := os.Hostname()
		s.ID = host + ":" + strconv.Itoa(os.Getpid()) + ":logout"
	}
	if s.Interval <= 0 {
		s.Interval = 500 * time.Millisecond
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Client == nil {
		// Logout URIs are registered by the operator; redirects are still not followed
		// (a logout token is for the registered address only).
		s.Client = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
}

// Run polls until ctx ends.
func (s *LogoutSender) Run(ctx context.Context) error {
	s.defaults()
	if err := s.P.EnsureKeys(ctx); err != nil && ctx.Err() == nil {
		// Not fatal: the keys are created on demand at the first token instead.
		s.Log.WarnContext(ctx, "preparing the signing keys failed", "err", err)
	}
	for {
		n, err := s.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.Log.ErrorContext(ctx, "back-channel logout poll failed", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		if _, ok := poll.Wait(ctx, s.Interval, s.Wake); !ok {
			return nil
		}
	}
}

// RunOnce claims a batch and sends each logout to every client that wants it.
func (s *LogoutSender) RunOnce(ctx context.Context) (int, error) {
	s.defaults()
	ls, err := s.Queue.ClaimLogouts(ctx, s.ID, 20)
	if err != nil || len(ls) == 0 {
		return 0, err
	}
	clients, err := s.P.S.States.ListClients(ctx)
	if err != nil {
		return 0, err
	}
	var errs []error
	for i := range ls {
		l := &ls[i]
		var sendErrs []error
		for _, c := range clients {
			if c.BackchannelLogoutURI == "" {
				continue
			}
			if err := s.send(ctx, &c, l); err != nil {
				sendErrs = append(sendErrs, fmt.Errorf("client %s: %w", c.ID, err))
			}
		}
		// A failure to one client retries the whole request: logout is idempotent, so
		// the clients that already got it lose nothing by getting it again.
		sendErr := errors.Join(sendErrs...)
		if sendErr != nil {
			s.Log.WarnContext(ctx, "back-channel logout failed", "tenant", l.TenantID, "user", l.UserID, "attempt", l.Attempts, "err", sendErr)
		}
		if err := s.Queue.FinishLogout(ctx, s.ID, l, sendErr); err != nil {
			errs = append(errs, err)
		}
	}
	return len(ls), errors.Join(errs...)
}

// LogoutToken signs a logout token for one client, with the algorithm of its ID tokens
// (Back-Channel Logout 1.0 §2.4 signs logout tokens with the keys of ID tokens).
func (p *Provider) LogoutToken(ctx context.Context, c *provisioning.OAuthClient, l *provisioning.LogoutRequest) (string, error) {
	clientID := c.ID
	signer, err := p.typedSigner(ctx, clientAlg(c), "logout+jwt")
	if err != nil {
		return "", err
	}
	jti, err := sso.RandomToken(16)
	if err != nil {
		return "", err
	}
	now := p.S.Now()
	claims := map[string]any{
		"iss":       p.Issuer(),
		"aud":       clientID,
		"iat":       now.Unix(),
		"exp":       now.Add(2 * time.Minute).Unix(),
		"jti":       jti,
		"sub":       l.UserID,
		"tenant_id": l.TenantID,
		"events":    map[string]any{BackchannelLogoutEvent: map[string]any{}},
	}
	if l.SessionID != "" {
		claims["sid"] = l.SessionID
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

func (s *LogoutSender) send(ctx context.Context, c *provisioning.OAuthClient, l *provisioning.LogoutRequest) error {
	tok, err := s.P.LogoutToken(ctx, c, l)
	if err != nil {
		return err
	}
	form := url.Values{"logout_token": {tok}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 16<<10))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
