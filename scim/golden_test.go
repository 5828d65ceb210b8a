package scim

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
)

var update = flag.Bool("update", false, "rewrite golden files")

// checkGolden compares got with testdata/golden/name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file; diff with -update and git diff.\n--- got ---\n%s", name, got)
	}
}

// renderFilter prints a neutral filter as an s-expression for golden files.
func renderFilter(f provisioning.Filter) string {
	switch x := f.(type) {
	case nil:
		return "<nil>"
	case provisioning.And:
		return "(and " + renderFilter(x.Left) + " " + renderFilter(x.Right) + ")"
	case provisioning.Or:
		return "(or " + renderFilter(x.Left) + " " + renderFilter(x.Right) + ")"
	case provisioning.Not:
		return "(not " + renderFilter(x.Inner) + ")"
	case provisioning.Any:
		return "(any " + x.Collection + " " + renderFilter(x.Where) + ")"
	case provisioning.Compare:
		ce := "ci"
		if x.CaseExact {
			ce = "exact"
		}
		v := ""
		switch val := x.Value.(type) {
		case nil:
		case string:
			v = fmt.Sprintf(" %q", val)
		case time.Time:
			v = " time:" + val.Format(time.RFC3339Nano)
		default:
			v = fmt.Sprintf(" %T:%v", val, val)
		}
		return fmt.Sprintf("(%s %s%s %s)", x.Op, x.Field, v, ce)
	}
	return fmt.Sprintf("<%T>", f)
}

func renderErr(err error) string {
	if se, ok := err.(*Error); ok {
		return fmt.Sprintf("ERROR %d %s: %s", se.Status, se.SCIMType, se.Detail)
	}
	return "ERROR " + err.Error()
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}
