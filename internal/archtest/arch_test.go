// Package archtest keeps the package layering of shared/DESIGN.md true: it parses the
// imports of every non-test Go file and fails on an import the design forbids.
package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/seatbridge/seatbridge/"

// forbidden maps a package (or a package prefix ending in "/") to the Seatbridge packages
// its non-test files must not import.
var forbidden = map[string][]string{
	"provisioning": {"store", "scim", "sso", "admin", "cmd", "mail", "invite", "internal"},
	"store":        {"scim", "sso", "admin", "cmd", "mail", "invite"},
	"scim":         {"store", "sso", "admin", "cmd", "mail", "invite"},
	"sso":          {"store", "scim", "admin", "cmd", "mail", "invite"},
	"sso/":         {"store", "scim", "admin", "cmd", "mail", "invite"},
	"admin":        {"store", "scim", "sso", "cmd", "mail", "invite"},
	"mail":         {"store", "scim", "sso", "admin", "cmd", "invite"},
	"invite":       {"store", "scim", "sso", "admin", "cmd", "mail"},
	"internal/":    {"store", "scim", "sso", "admin", "cmd", "provisioning", "mail", "invite"},
}

func rulesFor(pkg string) []string {
	if r, ok := forbidden[pkg]; ok {
		return r
	}
	for prefix, r := range forbidden {
		if strings.HasSuffix(prefix, "/") && strings.HasPrefix(pkg, prefix) {
			return r
		}
	}
	return nil
}

// matches reports whether imported (module-relative) is target or inside it; store/storetest
// is test support and counts as store.
func matches(imported, target string) bool {
	return imported == target || strings.HasPrefix(imported, target+"/")
}

func TestPackageLayering(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		rules := rulesFor(pkg)
		if strings.HasPrefix(pkg, "store/storetest") || strings.HasPrefix(pkg, "sso/ssotest") {
			return nil // test-support packages may reach across to build fixtures
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			rest, ok := strings.CutPrefix(p, module)
			if !ok {
				continue
			}
			if rest == pkg || strings.HasPrefix(rest, pkg+"/") {
				continue
			}
			for _, bad := range rules {
				if matches(rest, bad) {
					t.Errorf("%s imports %s: %s must not import %s (shared/DESIGN.md)", filepath.ToSlash(mustRel(root, path)), p, pkg, bad)
				}
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
}

func mustRel(root, path string) string {
	r, err := filepath.Rel(root, path)
	if err != nil {
		return path
	}
	return r
}
