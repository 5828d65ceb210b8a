package admin

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestCheckKnownFields compares checkKnownFields with encoding/json's
// DisallowUnknownFields: the same bodies are refused, and the unknown key is named.
func TestCheckKnownFields(t *testing.T) {
	type inner struct {
		Name string `json:"name"`
		Skip string `json:"-"`
	}
	type Embedded struct {
		Kind string `json:"kind"`
	}
	type outer struct {
		Embedded
		ID     string           `json:"id,omitempty"`
		Plain  int              // matched as "Plain", case-insensitively
		Inner  *inner           `json:"inner"`
		List   []inner          `json:"list"`
		ByName map[string]inner `json:"byName"`
		Any    any              `json:"any"`
		When   time.Time        `json:"when"`
		hidden int              //lint:ignore U1000 an unexported field is no JSON field: its key is refused
	}
	for _, tc := range []struct{ body, unknown string }{
		{`{"id":"a","kind":"k","plain":1,"inner":{"name":"n"},"list":[{"name":"x"}],"byName":{"a":{"name":"y"}},"any":{"free":1},"when":"2026-01-01T00:00:00Z"}`, ""},
		{`{"ID":"a","KIND":"k"}`, ""},
		{`{"inner":null,"list":null}`, ""},
		{`{"id":"a","extra":1}`, "extra"},
		{`{"hidden":1}`, "hidden"},
		{`{"inner":{"name":"n","Skip":"s"}}`, "Skip"},
		{`{"list":[{"name":"x"},{"nope":1}]}`, "nope"},
		{`{"byName":{"a":{"deep":true}}}`, "deep"},
		{`{"first":1,"second":2}`, "first"},
	} {
		var v outer
		dec := json.NewDecoder(strings.NewReader(tc.body))
		dec.DisallowUnknownFields()
		stdErr := dec.Decode(&v)
		err := checkKnownFields([]byte(tc.body), reflect.TypeOf(&v))
		var uf *unknownFieldError
		switch {
		case tc.unknown == "" && (err != nil || stdErr != nil):
			t.Errorf("%s: %v (encoding/json: %v)", tc.body, err, stdErr)
		case tc.unknown != "" && (!errors.As(err, &uf) || uf.Field != tc.unknown || stdErr == nil):
			t.Errorf("%s: %v, want unknown field %q (encoding/json: %v)", tc.body, err, tc.unknown, stdErr)
		}
	}
}
