package admin

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
)

// TestToAPIError: the engine's error types, wrapped as the store and engine wrap them, map
// to one status and code each, in the one place handlers' errors go through; nothing is
// decided by an error's text, and an unknown error's text never reaches the client.
func TestToAPIError(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("engine: %w", err) }
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{apiErr(http.StatusTeapot, "teapot", "short and stout", ""), http.StatusTeapot, "teapot"},
		{badf("q", "is too long"), http.StatusBadRequest, "invalid"},
		{wrap(&provisioning.ValidationError{Field: "email", Reason: "bad"}), http.StatusBadRequest, "invalid"},
		{wrap(&provisioning.SeatLimitError{Requested: 2, Free: 1, Limit: 5}), http.StatusConflict, "seat_limit"},
		{wrap(&provisioning.RuleError{Reason: "no"}), http.StatusConflict, "conflict"},
		{wrap(&provisioning.InvitationUnusableError{State: provisioning.InviteAccepted}), http.StatusConflict, "invitation_accepted"},
		{wrap(&provisioning.InvitationUnusableError{State: provisioning.InviteRevoked}), http.StatusGone, "invitation_revoked"},
		{wrap(&provisioning.LoginRefusedError{Reason: "locked"}), http.StatusTooManyRequests, "locked"},
		{wrap(provisioning.ErrPasswordRestricted), http.StatusForbidden, "forbidden"},
		{wrap(&provisioning.ForbiddenError{Reason: "no"}), http.StatusForbidden, "forbidden"},
		{wrap(&provisioning.NotFoundError{Kind: "user", ID: "x"}), http.StatusNotFound, "not_found"},
		{wrap(provisioning.ErrNotFound), http.StatusNotFound, "not_found"},
		{wrap(provisioning.ErrVersionMismatch), http.StatusPreconditionFailed, "version_mismatch"},
		{wrap(provisioning.ErrUnavailable), http.StatusServiceUnavailable, "unavailable"},
		{errors.New("already exists: secret detail"), http.StatusInternalServerError, "internal"},
	} {
		got := toAPIError(tc.err)
		if got.status != tc.status || got.body.Code != tc.code {
			t.Errorf("%v: %d %s, want %d %s", tc.err, got.status, got.body.Code, tc.status, tc.code)
		}
		if tc.status == http.StatusInternalServerError && got.body.Message != "internal error" {
			t.Errorf("%v: message %q shows the error", tc.err, got.body.Message)
		}
	}
}
