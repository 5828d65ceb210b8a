// Package archtest keeps the package layering of docs/architecture.md true. It is an
// allowlist: every package of the module must be listed with the module packages and the
// third-party modules its non-test files may import. A new package, a new import across
// packages or a new dependency fails here until someone decides it belongs.
package archtest

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// rule says what one package (module-relative path; "" is never a package here) may import.
// Module packages are listed by their module-relative path and allow their subpackages only
// when listed too; third-party imports are allowed by module path prefix. The standard
// library is always allowed.
type rule struct {
	internal   []string
	thirdParty []string
}

var (
	jose     = "github.com/go-jose/go-jose/v4"
	crewjam  = "github.com/crewjam/saml"
	goxmldsg = "github.com/russellhaering/goxmldsig"
	etree    = "github.com/beevik/etree"
)

// allowed is the layering: protocols at the edge (scim, sso, admin, console), the engine in
// provisioning (which imports no sibling), store below it, workers (mail) beside the doors,
// and only cmd/seatbridge wiring everything together.
var allowed = map[string]rule{
	// Besides x/crypto the engine's own security rules use maintained libraries, never
	// hand-written versions: TOTP (RFC 6238) and its QR code, zxcvbn password strength,
	// BCP 47 language tags.
	"provisioning": {thirdParty: []string{"github.com/google/uuid", "golang.org/x/crypto", "github.com/pquerna/otp",
		"github.com/skip2/go-qrcode", "github.com/trustelem/zxcvbn", "golang.org/x/text"}},
	"store": {
		internal:   []string{"provisioning"},
		thirdParty: []string{"github.com/jmoiron/sqlx", "github.com/lib/pq", "github.com/pressly/goose/v3", "modernc.org/sqlite"},
	},
	"store/storetest": {
		internal:   []string{"provisioning", "store"},
		thirdParty: []string{"github.com/jmoiron/sqlx", "github.com/lib/pq"},
	},
	"scim":    {internal: []string{"provisioning", "internal/httpx"}, thirdParty: []string{"github.com/scim2/filter-parser/v2"}},
	"admin":   {internal: []string{"provisioning", "internal/httpx"}},
	"console": {internal: []string{"provisioning", "internal/httpx"}},
	"mail":    {internal: []string{"provisioning", "internal/poll"}, thirdParty: []string{"github.com/emersion/go-smtp", "github.com/emersion/go-sasl"}},
	"webhook": {internal: []string{"provisioning", "internal/httpx", "internal/poll"}, thirdParty: []string{"github.com/nats-io/nats.go"}},
	"sso":     {internal: []string{"provisioning", "internal/httpx", "internal/secretbox"}},
	"sso/saml": {
		internal:   []string{"provisioning", "internal/secretbox"},
		thirdParty: []string{crewjam, goxmldsg, etree, "github.com/google/uuid"},
	},
	"sso/oidc": {
		internal:   []string{"provisioning"},
		thirdParty: []string{"github.com/coreos/go-oidc/v3", "golang.org/x/oauth2"},
	},
	"sso/provider":       {internal: []string{"provisioning", "sso", "internal/httpx", "internal/poll"}, thirdParty: []string{jose}},
	"sso/ssotest":        {thirdParty: []string{crewjam, goxmldsg, etree, jose}},
	"internal/httpx":     {},
	"internal/secretbox": {},
	"internal/poll":      {},
	"cmd/seatbridge": {
		internal: []string{"provisioning", "store", "scim", "sso", "sso/saml", "sso/oidc", "sso/provider",
			"admin", "console", "mail", "webhook", "internal/httpx", "internal/secretbox"},
		thirdParty: []string{"github.com/prometheus/client_golang"},
	},
	"cmd/seatbridge-load": {internal: []string{"sso/ssotest"}},
}

func TestPackageLayering(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	module, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		seen[pkg] = true
		r, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %s is not in the allowlist of internal/archtest: add it with the imports it may use", pkg)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		file := filepath.ToSlash(mustRel(root, path))
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if msg := check(module, pkg, p, r); msg != "" {
				t.Errorf("%s: %s", file, msg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("only %d files checked: is the walk rooted at the module?", checked)
	}
	var stale []string
	for pkg := range allowed {
		if !seen[pkg] {
			stale = append(stale, pkg)
		}
	}
	sort.Strings(stale)
	for _, pkg := range stale {
		t.Errorf("allowlist names %s, which has no Go files: remove it", pkg)
	}
}

// check returns why importing p from pkg breaks rule r, or "" when it is allowed.
func check(module, pkg, p string, r rule) string {
	if rest, ok := strings.CutPrefix(p, module+"/"); ok {
		if rest == pkg || contains(r.internal, rest) {
			return ""
		}
		return fmt.Sprintf("%s may not import %s (internal/archtest allowlist)", pkg, rest)
	}
	if p == module {
		return fmt.Sprintf("%s may not import the module root", pkg)
	}
	if isStdlib(p) {
		return ""
	}
	for _, m := range r.thirdParty {
		if p == m || strings.HasPrefix(p, m+"/") {
			return ""
		}
	}
	return fmt.Sprintf("%s may not import third-party %s (internal/archtest allowlist)", pkg, p)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// isStdlib reports whether an import path belongs to the standard library: its first
// element has no dot, as every module path outside it has.
func isStdlib(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}

func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", fmt.Errorf("reading the module path: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	return "", fmt.Errorf("no module line in %s", gomod)
}

// TestCheck proves the rule can fail: each forbidden import is reported.
func TestCheck(t *testing.T) {
	const mod = "example.com/m"
	cases := []struct {
		pkg, imp string
		ok       bool
	}{
		{"scim", "example.com/m/provisioning", true},
		{"scim", "example.com/m/store", false},
		{"scim", "example.com/m/sso", false},
		{"scim", "github.com/scim2/filter-parser/v2", true},
		{"scim", "github.com/lib/pq", false},
		{"provisioning", "example.com/m/internal/httpx", false},
		{"provisioning", "net/http", true},
		{"store", "example.com/m/store", true},
		{"admin", "example.com/m", false},
	}
	for _, c := range cases {
		got := check(mod, c.pkg, c.imp, allowed[c.pkg]) == ""
		if got != c.ok {
			t.Errorf("check(%s imports %s) allowed=%v, want %v", c.pkg, c.imp, got, c.ok)
		}
	}
}

func mustRel(root, path string) string {
	r, err := filepath.Rel(root, path)
	if err != nil {
		return path
	}
	return r
}
