package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/admin"
	"github.com/seatbridge/seatbridge/provisioning"
)

// The OpenAPI document lists exactly the routes the mux serves, each with its error
// responses described.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string `json:"openapi"`
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
			Security  *[]any                     `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(admin.OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Servers) != 1 || doc.Servers[0].URL != admin.Prefix {
		t.Fatalf("openapi %q servers %v", doc.OpenAPI, doc.Servers)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+admin.Prefix+path)
			if len(op.Responses) == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
			if op.Security == nil {
				if _, ok := op.Responses["401"]; !ok {
					t.Errorf("%s %s: authenticated but no 401 documented", method, path)
				}
				if _, ok := op.Responses["403"]; !ok {
					t.Errorf("%s %s: no 403 documented", method, path)
				}
			}
		}
	}
	api := admin.New(&provisioning.Engine{}, admin.Options{})
	served := api.Routes()
	slices.Sort(documented)
	slices.Sort(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("served but not documented: %s", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("documented but not served: %s", r)
		}
	}
	// The table is what the mux serves: every route resolves to a registered pattern.
	mux := http.NewServeMux()
	api.Mount(mux)
	for _, r := range served {
		method, path, _ := strings.Cut(r, " ")
		req, _ := http.NewRequest(method, strings.NewReplacer("{id}", "x", "{userId}", "y").Replace(path), nil)
		if _, pattern := mux.Handler(req); pattern != r {
			t.Errorf("%s resolves to %q", r, pattern)
		}
	}
}

// A known path with the wrong method is a 405 naming the allowed methods; an unknown path
// is a 404.
func TestMethodNotAllowed(t *testing.T) {
	api := admin.New(&provisioning.Engine{}, admin.Options{})
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"PUT", "/api/v1/users", http.StatusMethodNotAllowed, "GET, POST, HEAD"},
		{"DELETE", "/api/v1/policy", http.StatusMethodNotAllowed, "GET, PATCH, HEAD"},
		{"GET", "/api/v1/users/x/deactivate", http.StatusMethodNotAllowed, "POST"},
		{"GET", "/api/v1/nothing", http.StatusNotFound, ""},
	} {
		rec := httptest.NewRecorder()
		api.Handler().ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q: %s", tc.method, tc.path, rec.Code, rec.Header().Get("Allow"), tc.status, tc.allow, rec.Body)
		}
	}
}

// The document is internally sound, as a linter would check: every $ref resolves, every
// path parameter is declared on each of its operations, and operations have summaries and
// unique (method, path) pairs with known HTTP methods.
func TestOpenAPISound(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(admin.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				name, found := strings.CutPrefix(ref, "#/components/schemas/")
				if _, exists := schemas[name]; !found || !exists {
					t.Errorf("%s: $ref %q does not resolve", path, ref)
				}
			}
			for k, e := range x {
				walk(path+"/"+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("#", doc)
	params := regexp.MustCompile(`\{([^}]+)\}`)
	for p, ops := range doc["paths"].(map[string]any) {
		for method, o := range ops.(map[string]any) {
			if !slices.Contains([]string{"get", "post", "put", "patch", "delete"}, method) {
				t.Errorf("%s: unknown method %q", p, method)
				continue
			}
			op := o.(map[string]any)
			if s, _ := op["summary"].(string); s == "" {
				t.Errorf("%s %s: no summary", method, p)
			}
			declared := map[string]bool{}
			list, _ := op["parameters"].([]any)
			for _, prm := range list {
				m := prm.(map[string]any)
				if m["in"] == "path" {
					declared[m["name"].(string)] = true
				}
			}
			for _, m := range params.FindAllStringSubmatch(p, -1) {
				if !declared[m[1]] {
					t.Errorf("%s %s: path parameter %q not declared", method, p, m[1])
				}
			}
		}
	}
}
