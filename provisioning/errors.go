package provisioning

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The engine's error vocabulary. The store wraps driver errors into these with %w; each
// door (SCIM, admin API, SSO pages) maps them to its own protocol once.
var (
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrVersionMismatch = errors.New("version mismatch")
	ErrSeatLimit       = errors.New("seat limit reached")
	ErrForbidden       = errors.New("forbidden")
	// ErrUnsupportedFilter is returned for a filter the store cannot translate to SQL.
	ErrUnsupportedFilter = errors.New("unsupported filter")
	// ErrBadCursor is returned for a pagination cursor the store did not issue.
	ErrBadCursor = errors.New("invalid cursor")
	// ErrUnavailable marks a failure of the database rather than of the request: it is
	// down, restarting, unreachable, out of disk, or did not answer in time. The request
	// may succeed if retried later, so doors answer 503 with Retry-After, never 500 or 401.
	ErrUnavailable = errors.New("database unavailable")
	// ErrReplayed is a sign-in presenting an assertion that was used before (it also
	// matches ErrConflict).
	ErrReplayed = fmt.Errorf("assertion used before: %w", ErrConflict)
)

// ValidationError says which field of the input is wrong and why.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Invalid builds a *ValidationError.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// SeatLimitError reports how many seats were asked for and how many are free.
type SeatLimitError struct {
	Requested int
	Free      int
	Limit     int
	// Field is the request field that asked for the seats ("userIds" when empty).
	Field string
}

// seatField names the request field of a seat shortage in err, if there is one.
func seatField(err error, field string) error {
	var se *SeatLimitError
	if errors.As(err, &se) && se.Field == "" {
		se.Field = field
	}
	return err
}

func (e *SeatLimitError) Error() string {
	return fmt.Sprintf("seat limit reached: %d requested, %d of %d free", e.Requested, e.Free, e.Limit)
}

// Is makes errors.Is(err, ErrSeatLimit) true.
func (e *SeatLimitError) Is(target error) bool { return target == ErrSeatLimit }

// NotFoundError is ErrNotFound that names which entry of a request was not found.
type NotFoundError struct {
	Field string
	Kind  string
	ID    string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s: no %s with id %q", e.Field, e.Kind, e.ID)
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ConflictError names the attribute whose uniqueness was violated.
type ConflictError struct {
	Field string
	Value string
	// Hint, when set, tells what to do instead (outside the quoted value).
	Hint string
}

func (e *ConflictError) Error() string {
	if e.Hint != "" {
		return fmt.Sprintf("%s %q is already taken (%s)", e.Field, e.Value, e.Hint)
	}
	return fmt.Sprintf("%s %q is already taken", e.Field, e.Value)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Duration is a time.Duration that reads and writes JSON as a Go duration string ("168h").
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration: %w", err)
		}
		*d = Duration(time.Duration(n) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
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
