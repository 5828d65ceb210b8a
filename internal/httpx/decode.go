package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// The errors of DecodeJSON a door maps to its own error format; besides them it returns a
// *json.UnmarshalTypeError (a value of the wrong JSON type) and an *http.MaxBytesError
// (a body over the reader's limit) as they come.
var (
	ErrEmptyBody    = errors.New("the request body is empty")
	ErrInvalidJSON  = errors.New("the request body is not valid JSON")
	ErrTrailingData = errors.New("the request body has data after the JSON value")
)

// DecodeJSON reads exactly one JSON value from body into v: white space may follow it,
// nothing else. Limit the body (http.MaxBytesReader) before.
func DecodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return ErrEmptyBody
		case errors.As(err, &ute), isMaxBytes(err):
			return err
		}
		return fmt.Errorf("%w: %w", ErrInvalidJSON, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if isMaxBytes(err) {
			return err
		}
		return ErrTrailingData
	}
	return nil
}

func isMaxBytes(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
