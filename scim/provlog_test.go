package scim

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestProvisioningLog sends SCIM requests carrying a password through the real handler and
// then searches every stored log row for the token and the password: neither may be there.
func TestProvisioningLog(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		eng := provisioning.NewEngine(db, slog.New(slog.DiscardHandler))
		plog, err := provisioning.NewProvisioningLog(eng, 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		e := newEnvWith(t, eng, Options{Log: plog}, "acme")
		const password = "Hunter2-Correct-Horse-9"
		id := e.createUser("ada@acme.test", map[string]any{"password": password})
		e.do("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "path": "password", "value": password + "x"},
				{"op": "replace", "value": map[string]any{"password": password + "y", "displayName": "Ada"}}}})
		// A failing request: its SCIM error is logged.
		wantError(t, e.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
			"userName": "ada@acme.test", "password": password}), 409, "uniqueness")
		e.do("GET", "/Users?filter=userName%20eq%20%22ada@acme.test%22", nil)
		// A failing read keeps its error body.
		wantError(t, e.do("GET", "/Users?filter=userName%20zz%20%22x%22", nil), 400, "invalidFilter")

		// The writer batches off the request path; the entries are in the database shortly after.
		deadline := time.Now().Add(5 * time.Second)
		var es []provisioning.ProvisioningLogEntry
		for time.Now().Before(deadline) {
			if es, err = eng.ListProvisioningLog(ctx, e.tenant.ID, provisioning.ProvisioningLogQuery{}); err != nil {
				t.Fatal(err)
			}
			if len(es) >= 5 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		plog.Close()
		if len(es) != 5 {
			t.Fatalf("%d entries, want 5", len(es))
		}
		// Every stored column of every row: no token, no password.
		rows, err := db.SQL().QueryContext(ctx, `SELECT token_id, request_id, method, path, scim_type, error, request, response FROM provisioning_log`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		// The secret is everything after sbt_{id}_: base64url, so it may itself hold "_".
		_, secret, _ := strings.Cut(strings.TrimPrefix(e.token, provisioning.TokenPrefix), "_")
		if len(secret) < 40 {
			t.Fatalf("token %q: secret not found", e.token)
		}
		n := 0
		for rows.Next() {
			var cols [8]string
			if err := rows.Scan(&cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &cols[5], &cols[6], &cols[7]); err != nil {
				t.Fatal(err)
			}
			all := strings.Join(cols[:], "\n")
			if strings.Contains(all, password) || strings.Contains(all, secret) || strings.Contains(all, "Hunter2") {
				t.Fatalf("secret in the stored log:\n%s", all)
			}
			n++
		}
		if n != 5 {
			t.Fatalf("%d rows", n)
		}
		byMethod := map[string]provisioning.ProvisioningLogEntry{}
		for _, x := range es {
			if _, seen := byMethod[x.Method+itoa(x.Status)]; !seen {
				byMethod[x.Method+itoa(x.Status)] = x
			}
		}
		created, failed := byMethod["POST201"], byMethod["POST409"]
		if !strings.Contains(created.Request, `"password":"[redacted]"`) || !strings.Contains(created.Response, id) || created.LatencyMS <= 0 {
			t.Fatalf("create entry: %+v", created)
		}
		if failed.SCIMType != "uniqueness" || failed.Error == "" {
			t.Fatalf("failed entry: %+v", failed)
		}
		// A successful lookup keeps its filter (the path) and its number of results, not
		// the user it returned.
		lookup := byMethod["GET200"]
		if lookup.Response != `{"totalResults":1}` || !strings.Contains(lookup.Path, "userName") || lookup.Request != "" {
			t.Fatalf("lookup entry: %+v", lookup)
		}
		if bad := byMethod["GET400"]; bad.SCIMType != "invalidFilter" || !strings.Contains(bad.Response, "invalidFilter") {
			t.Fatalf("failed lookup entry: %+v", bad)
		}
		patch := byMethod["PATCH200"]
		if strings.Count(patch.Request, provisioning.Redacted) != 2 || !strings.Contains(patch.Request, "Ada") {
			t.Fatalf("patch entry: %s", patch.Request)
		}
		if got, _ := eng.ListProvisioningLog(ctx, e.tenant.ID, provisioning.ProvisioningLogQuery{Status: "error"}); len(got) != 2 {
			t.Fatalf("status=error: %d", len(got))
		}
		// Tenant isolation: another tenant's log is empty.
		if got, _ := eng.ListProvisioningLog(ctx, "other", provisioning.ProvisioningLogQuery{}); len(got) != 0 {
			t.Fatalf("other tenant sees %d", len(got))
		}

		// Purge: entries older than the retention go, newer ones stay.
		eng.Now = func() time.Time { return time.Now().Add(3 * 24 * time.Hour) }
		if n, err := eng.PurgeProvisioningLog(ctx, 7*24*time.Hour); err != nil || n != 0 {
			t.Fatalf("purge within retention: %d %v", n, err)
		}
		if n, err := eng.PurgeProvisioningLog(ctx, 2*24*time.Hour); err != nil || n != 5 {
			t.Fatalf("purge: %d %v", n, err)
		}
		if got, _ := eng.ListProvisioningLog(ctx, e.tenant.ID, provisioning.ProvisioningLogQuery{}); len(got) != 0 {
			t.Fatalf("%d entries after purge", len(got))
		}
	})
}

func TestRedactBody(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"password":"x","userName":"a"}`, `{"password":"[redacted]","userName":"a"}`},
		{`{"urn:ietf:params:scim:schemas:core:2.0:User:password":"x"}`, `{"urn:ietf:params:scim:schemas:core:2.0:User:password":"[redacted]"}`},
		{`{"Operations":[{"op":"replace","path":"PASSWORD","value":"x"}]}`, `{"Operations":[{"op":"replace","path":"PASSWORD","value":"[redacted]"}]}`},
		{`{"note":"Bearer abc"}`, `{"note":"[redacted]"}`},
		{`{"n":1.50}`, `{"n":1.50}`},
		// Bodies that nothing could be redacted in are compacted, in their own order.
		{"{\n  \"userName\": \"a\",\n  \"active\": true, \"n\": 2.0}", `{"userName":"a","active":true,"n":2.0}`},
		{`{"\u0070assword":"x"}`, `{"password":"[redacted]"}`},
		{`{"a":{"b":[{"Client_Secret":"x"}]}}`, `{"a":{"b":[{"Client_Secret":"[redacted]"}]}}`},
		{`{"a":"sbt_1_2"}`, `{"a":"[redacted]"}`},
		{`{"a":1`, `(6 bytes, not JSON)`},
		{`password=x`, `(10 bytes, not JSON)`},
		{``, ``},
	} {
		if got := provisioning.RedactBody([]byte(tc.in)); got != tc.want {
			t.Errorf("RedactBody(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := provisioning.RedactBody([]byte(`{"a":"` + strings.Repeat("x", 10000) + `"}`)); len(got) > provisioning.MaxLoggedBody+20 || !strings.HasSuffix(got, "(truncated)") {
		t.Errorf("not capped: %d", len(got))
	}
}
