package scim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

type replayFile struct {
	Client string       `json:"client"`
	Steps  []replayStep `json:"steps"`
}

type replayStep struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	Expect  struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	} `json:"expect"`
	Save map[string]string `json:"save"`
}

// TestReplay sends the recorded Okta and Entra ID sequences of testdata/scim/{okta,entra}
// to the real handler on each database.
func TestReplay(t *testing.T) {
	files, err := filepath.Glob("../testdata/scim/*/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		for i, f := range files {
			t.Run(strings.TrimSuffix(strings.TrimPrefix(f, "../testdata/scim/"), ".json"), func(t *testing.T) {
				e := newEnv(t, db, Options{}, fmt.Sprintf("replay%d", i))
				replay(t, e, f)
			})
		}
	})
}

func replay(t *testing.T, e *env, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rf replayFile
	if err := json.Unmarshal(raw, &rf); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	subst := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{{"+k+"}}", v)
		}
		return s
	}
	for i, st := range rf.Steps {
		var hdr []string
		for k, v := range st.Headers {
			hdr = append(hdr, k, subst(v))
		}
		var body any
		if len(st.Body) > 0 {
			body = subst(string(st.Body))
		}
		r := e.do(st.Method, subst(st.Path), body, hdr...)
		where := fmt.Sprintf("%s step %d %q: %s %s", rf.Client, i+1, st.Name, st.Method, subst(st.Path))
		if r.status != st.Expect.Status {
			t.Fatalf("%s: status %d, want %d\n%s", where, r.status, st.Expect.Status, r.raw)
		}
		if r.status != 204 && r.status != 304 && !strings.HasPrefix(r.header.Get("Content-Type"), "application/scim+json") {
			t.Errorf("%s: Content-Type %q", where, r.header.Get("Content-Type"))
		}
		if r.status == 201 && r.header.Get("Location") == "" {
			t.Errorf("%s: no Location header", where)
		}
		if len(st.Expect.Body) > 0 {
			var want any
			if err := json.Unmarshal([]byte(subst(string(st.Expect.Body))), &want); err != nil {
				t.Fatal(err)
			}
			if msg := subsetMatch("$", want, map[string]any(r.body)); msg != "" {
				t.Fatalf("%s: %s\n%s", where, msg, r.raw)
			}
		}
		for name, path := range st.Save {
			vars[name] = r.str(strings.Split(path, ".")...)
			if vars[name] == "" {
				t.Fatalf("%s: nothing at %s to save", where, path)
			}
		}
	}
}

// subsetMatch reports how got fails to contain want ("" when it does).
func subsetMatch(at string, want, got any) string {
	switch w := want.(type) {
	case string:
		if w == "*" {
			if got == nil {
				return at + ": missing"
			}
			return ""
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %v", at, got)
		}
		for k, wv := range w {
			gv, present := g[k]
			if wv == "<absent>" {
				if present {
					return fmt.Sprintf("%s.%s: want absent, got %v", at, k, gv)
				}
				continue
			}
			if !present {
				return fmt.Sprintf("%s.%s: missing", at, k)
			}
			if msg := subsetMatch(at+"."+k, wv, gv); msg != "" {
				return msg
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: want %d elements, got %v", at, len(w), got)
		}
		for i := range w {
			if msg := subsetMatch(fmt.Sprintf("%s[%d]", at, i), w[i], g[i]); msg != "" {
				return msg
			}
		}
		return ""
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("%s: want %v, got %v", at, want, got)
	}
	return ""
}

func TestSubsetMatch(t *testing.T) {
	got := map[string]any{"a": "x", "b": []any{map[string]any{"v": 1.0, "w": 2.0}}, "c": true}
	for _, tc := range []struct {
		want string
		ok   bool
	}{
		{`{"a": "x"}`, true}, {`{"a": "*", "c": true}`, true}, {`{"b": [{"v": 1}]}`, true}, {`{"z": "<absent>"}`, true},
		{`{"a": "y"}`, false}, {`{"z": "*"}`, false}, {`{"b": []}`, false}, {`{"a": "<absent>"}`, false}, {`{"c": false}`, false},
	} {
		var w any
		if err := json.Unmarshal([]byte(tc.want), &w); err != nil {
			t.Fatal(err)
		}
		if msg := subsetMatch("$", w, got); (msg == "") != tc.ok {
			t.Errorf("%s: %q", tc.want, msg)
		}
	}
}
