package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetupLinkCLI(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "setup.db")
	if code, _, errOut := cli(t, db, "tenant", "create", "acme"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := cli(t, db, "setup-link", "create", "--tenant", "acme", "--expires", "3d", "--json", "--base-url", "https://sb.example")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		ID, Tenant, URL string
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Tenant != "acme" || !strings.HasPrefix(got.URL, "https://sb.example/setup/sbs_") {
		t.Fatalf("output %s: %v", out, err)
	}
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"setup-link", "create", "--tenant", "acme", "--expires", "soon"}, 2, "--expires"},
		{[]string{"setup-link", "create", "--tenant", "acme", "--expires", "31d"}, 1, "30 days"},
		{[]string{"setup-link", "create"}, 2, "--tenant"},
		{[]string{"setup-link", "revoke", "nope", "--tenant", "acme"}, 1, "not found"},
		{[]string{"setup-link", "revoke", got.ID, "--tenant", "acme"}, 0, ""},
	} {
		code, _, errOut := cli(t, db, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.err) {
			t.Errorf("%v: exit %d (want %d): %s", tc.args, code, tc.code, errOut)
		}
	}
}
