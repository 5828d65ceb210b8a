package admin

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// unknownFieldError is a JSON object key that names no field of the value decoded into
// (what json.Decoder.DisallowUnknownFields refuses, but as a type, not a message).
type unknownFieldError struct{ Field string }

func (e *unknownFieldError) Error() string { return strconv.Quote(e.Field) + " is an unknown field" }

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkKnownFields walks data (valid JSON) beside the type t and returns an
// *unknownFieldError for the first object key, in document order, that names no field of
// the struct it is decoded into; values with their own decoding are not walked. Field names
// match as encoding/json matches them: exactly, else case-insensitively.
func checkKnownFields(data []byte, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	data = bytes.TrimSpace(data)
	switch t.Kind() {
	case reflect.Struct:
		if len(data) == 0 || data[0] != '{' {
			return nil
		}
		fields := map[string]reflect.Type{}
		jsonFields(t, fields)
		dec := json.NewDecoder(bytes.NewReader(data))
		if _, err := dec.Token(); err != nil {
			return nil
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil
			}
			key, _ := tok.(string)
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil
			}
			ft, ok := fields[key]
			if !ok {
				for name, typ := range fields {
					if strings.EqualFold(name, key) {
						ft, ok = typ, true
						break
					}
				}
			}
			if !ok {
				return &unknownFieldError{Field: key}
			}
			if err := checkKnownFields(raw, ft); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return nil
		}
		for _, it := range items {
			if err := checkKnownFields(it, t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Map:
		var items map[string]json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return nil
		}
		for _, it := range items {
			if err := checkKnownFields(it, t.Elem()); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonFields adds the JSON names of the struct t's fields (embedded structs flattened) to
// fields, with the type each decodes into.
func jsonFields(t reflect.Type, fields map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				jsonFields(ft, fields)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := fields[name]; !dup {
			fields[name] = f.Type
		}
	}
}
