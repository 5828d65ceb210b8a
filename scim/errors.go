package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/seatbridge/seatbridge/provisioning"
)

// The scimType values of RFC 7644 §3.12 (plus invalidCursor and expiredCursor of RFC 9865).
const (
	scimInvalidFilter = "invalidFilter"
	scimTooMany       = "tooMany"
	scimUniqueness    = "uniqueness"
	scimMutability    = "mutability"
	scimInvalidSyntax = "invalidSyntax"
	scimInvalidPath   = "invalidPath"
	scimNoTarget      = "noTarget"
	scimInvalidValue  = "invalidValue"
	scimInvalidVers   = "invalidVers"
	scimSensitive     = "sensitive"
	scimInvalidCursor = "invalidCursor"
)

// Error is a SCIM error response (RFC 7644 §3.12). Its Detail is always text written by
// this package for the client, never the text of an internal error.
type Error struct {
	Status   int
	SCIMType string
	Detail   string
}

func (e *Error) Error() string {
	if e.SCIMType != "" {
		return fmt.Sprintf("scim %d %s: %s", e.Status, e.SCIMType, e.Detail)
	}
	return fmt.Sprintf("scim %d: %s", e.Status, e.Detail)
}

func errf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, SCIMType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func badRequest(scimType, format string, args ...any) *Error {
	return errf(http.StatusBadRequest, scimType, format, args...)
}

// errorBody is the wire form of Error.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	SCIMType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

func (e *Error) body() errorBody {
	return errorBody{Schemas: []string{URNError}, Status: fmt.Sprint(e.Status), SCIMType: e.SCIMType, Detail: e.Detail}
}

// toSCIMError maps an engine (or our own) error to the SCIM error sent to the client. The
// second result is false for errors the client did not cause; those are logged and answered
// with a generic 500.
func toSCIMError(err error) (*Error, bool) {
	var se *Error
	var ve *provisioning.ValidationError
	var ce *provisioning.ConflictError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &se):
		return se, true
	case errors.As(err, &mbe):
		return errf(http.StatusRequestEntityTooLarge, "", "the request body is larger than %d bytes", mbe.Limit), true
	case errors.As(err, &ce):
		return errf(http.StatusConflict, scimUniqueness, "%s is already taken", ce.Field), true
	case errors.Is(err, provisioning.ErrConflict):
		return errf(http.StatusConflict, scimUniqueness, "a resource with the same unique attribute exists"), true
	case errors.Is(err, provisioning.ErrNotFound):
		return errf(http.StatusNotFound, "", "resource not found"), true
	case errors.Is(err, provisioning.ErrVersionMismatch):
		return errf(http.StatusPreconditionFailed, "", "the resource has changed: its version does not match If-Match"), true
	case errors.Is(err, provisioning.ErrSeatLimit):
		return errf(http.StatusForbidden, "", "the tenant has no free seat"), true
	case errors.Is(err, provisioning.ErrForbidden):
		return errf(http.StatusForbidden, "", "the operation is not allowed"), true
	case errors.Is(err, provisioning.ErrUnsupportedFilter):
		return badRequest(scimInvalidFilter, "the filter uses an attribute or operator that is not supported"), true
	case errors.As(err, &ve):
		if ve.Field == "cursor" {
			return badRequest(scimInvalidCursor, "%s", ve.Reason), true
		}
		return badRequest(scimInvalidValue, "%s", ve.Error()), true
	case errors.Is(err, provisioning.ErrUnavailable):
		// IdPs retry a 503 with Retry-After politely; a 500 counts as a failure.
		return errf(http.StatusServiceUnavailable, "", "the service is temporarily unavailable; retry later"), true
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		return errf(http.StatusBadRequest, "", "request cancelled"), true
	}
	return errf(http.StatusInternalServerError, "", "internal error"), false
}
