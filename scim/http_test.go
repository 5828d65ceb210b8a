package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

func patchBody(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, op := range ops {
		list[i] = op
	}
	return map[string]any{"schemas": []string{URNPatchOp}, "Operations": list}
}

func TestTenantIsolation(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		a := newEnv(t, db, Options{}, "alpha")
		eng := a.eng
		// Tenant beta on the same engine and server.
		ctx := context.Background()
		bt, err := eng.CreateTenant(ctx, testActor, "beta", "Beta", 10)
		if err != nil {
			t.Fatal(err)
		}
		bsecret, _, err := eng.CreateToken(ctx, testActor, bt.ID, provisioning.TokenSCIM, "entra")
		if err != nil {
			t.Fatal(err)
		}
		b := &env{t: t, eng: eng, srv: a.srv, tenant: bt, token: bsecret, base: a.srv.URL + "/scim/v2/beta"}
		bUser := b.createUser("shared@example.com", nil)
		bGroup := b.do("POST", "/Groups", map[string]any{"displayName": "Beta staff", "members": []any{map[string]any{"value": bUser}}}).str("id")
		a.createUser("shared@example.com", nil) // the same userName is fine in another tenant

		// A's token on B's URL: 404, whatever the endpoint.
		for _, p := range []string{"/Users", "/Users/" + bUser, "/Groups", "/ServiceProviderConfig", "/Nope"} {
			wantError(t, a.doToken(a.token, "GET", a.srv.URL+"/scim/v2/beta"+p, nil), 404, "")
		}
		// B's ids on A's URL: 404 for every method.
		for _, tc := range []struct{ method, path string }{
			{"GET", "/Users/" + bUser}, {"PUT", "/Users/" + bUser}, {"PATCH", "/Users/" + bUser}, {"DELETE", "/Users/" + bUser},
			{"GET", "/Groups/" + bGroup}, {"PUT", "/Groups/" + bGroup}, {"PATCH", "/Groups/" + bGroup}, {"DELETE", "/Groups/" + bGroup},
		} {
			var body any
			switch {
			case tc.method == "PATCH":
				body = patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "x"})
			case tc.method == "PUT" && strings.HasPrefix(tc.path, "/Users"):
				body = map[string]any{"userName": "stolen@example.com"}
			case tc.method == "PUT":
				body = map[string]any{"displayName": "stolen"}
			}
			wantError(t, a.do(tc.method, tc.path, body), 404, "")
		}
		// Adding B's user to A's group is refused, and filters never see B's rows.
		aGroup := a.do("POST", "/Groups", map[string]any{"displayName": "Alpha"}).str("id")
		r := a.do("PATCH", "/Groups/"+aGroup, patchBody(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": bUser}}}))
		if r.status/100 != 4 {
			t.Fatalf("adding another tenant's user: %d %s", r.status, r.raw)
		}
		for _, f := range []string{`userName eq "shared@example.com"`, `id eq "` + bUser + `"`, `userName pr`} {
			r := a.do("GET", "/Users?filter="+urlq(f), nil)
			for _, res := range r.body["Resources"].([]any) {
				if res.(map[string]any)["id"] == bUser {
					t.Fatalf("filter %s leaks beta's user", f)
				}
			}
		}
		if r := a.do("GET", "/Groups?filter="+urlq(`members[value eq "`+bUser+`"]`), nil); r.body["totalResults"] != 0.0 {
			t.Fatalf("group filter leaks: %s", r.raw)
		}
		// And B's data is untouched.
		if r := b.do("GET", "/Groups/"+bGroup, nil); r.str("displayName") != "Beta staff" || len(r.body["members"].([]any)) != 1 {
			t.Fatalf("beta's group changed: %s", r.raw)
		}
	})
}

func urlq(s string) string {
	return strings.NewReplacer(" ", "%20", `"`, "%22", "[", "%5B", "]", "%5D", "&", "%26", "+", "%2B").Replace(s)
}

func TestErrors(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{MaxBodyBytes: 4096, MaxBulkOperations: 2}, "errs")
		id := e.createUser("ann@example.com", nil)
		gid := e.do("POST", "/Groups", map[string]any{"displayName": "G"}).str("id")
		adminSecret, _, err := e.eng.CreateToken(context.Background(), testActor, e.tenant.ID, provisioning.TokenAdmin, "admin")
		if err != nil {
			t.Fatal(err)
		}

		t.Run("401", func(t *testing.T) {
			r := e.doToken("", "GET", "/Users", nil)
			wantError(t, r, 401, "")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate")
			}
			wantError(t, e.doToken("sbt_nope_nope", "GET", "/Users", nil), 401, "")
			wantError(t, e.doToken(e.token+"x", "GET", "/Users", nil), 401, "")
			wantError(t, e.doToken(adminSecret, "GET", "/Users", nil), 401, "") // an admin token is not a SCIM token
		})
		t.Run("404", func(t *testing.T) {
			wantError(t, e.do("GET", "/Users/00000000-0000-0000-0000-000000000000", nil), 404, "")
			wantError(t, e.do("GET", "/Groups/nope", nil), 404, "")
			wantError(t, e.do("GET", "/Widgets", nil), 404, "")
			wantError(t, e.do("GET", "/Schemas/urn:nope", nil), 404, "")
			wantError(t, e.doToken(e.token, "GET", e.srv.URL+"/scim/v2/", nil), 404, "")
			wantError(t, e.do("GET", "/Users/a%00b", nil), 404, "")
			wantError(t, e.do("PATCH", "/Groups/%FF%FE", patchBody(map[string]any{"op": "remove", "path": "members"})), 404, "")
			wantError(t, e.do("GET", "/Users/"+strings.Repeat("x", 300), nil), 404, "")
		})
		t.Run("405 and 501", func(t *testing.T) {
			wantError(t, e.do("DELETE", "/Users", nil), 405, "")
			wantError(t, e.do("GET", "/Me", nil), 501, "")
			wantError(t, e.do("GET", "/Bulk", nil), 405, "")
		})
		t.Run("409 uniqueness", func(t *testing.T) {
			r := e.do("POST", "/Users", map[string]any{"userName": "ANN@example.com"})
			wantError(t, r, 409, scimUniqueness)
			other := e.createUser("bob@example.com", nil)
			wantError(t, e.do("PATCH", "/Users/"+other, patchBody(map[string]any{"op": "replace", "path": "userName", "value": "ann@example.com"})), 409, scimUniqueness)
		})
		t.Run("400 invalidSyntax", func(t *testing.T) {
			wantError(t, e.do("POST", "/Users", `{"userName": `), 400, scimInvalidSyntax)
			wantError(t, e.do("POST", "/Users", `[1,2]`), 400, scimInvalidSyntax)
			wantError(t, e.do("POST", "/Users", `{"userName":"x@example.com"} trailing`), 400, scimInvalidSyntax)
			wantError(t, e.do("POST", "/Users", ``), 400, scimInvalidSyntax)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody()), 400, scimInvalidSyntax)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "merge", "path": "title", "value": "x"})), 400, scimInvalidSyntax)
			wantError(t, e.do("PATCH", "/Users/"+id, `{"Operations": "nope"}`), 400, scimInvalidSyntax)
		})
		t.Run("400 invalidValue", func(t *testing.T) {
			wantError(t, e.do("POST", "/Users", map[string]any{"displayName": "no userName"}), 400, scimInvalidValue)
			wantError(t, e.do("POST", "/Users", map[string]any{"userName": "c@example.com", "active": "maybe"}), 400, scimInvalidValue)
			wantError(t, e.do("POST", "/Users", map[string]any{"userName": "c@example.com", "title": true}), 400, scimInvalidValue)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "userName", "value": ""})), 400, scimInvalidValue)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "title", "value": "True"}, map[string]any{"op": "replace", "path": "nickName", "value": false})), 400, scimInvalidValue)
			wantError(t, e.do("GET", "/Users?count=ten", nil), 400, scimInvalidValue)
			wantError(t, e.do("POST", "/Users", `{"userName":"nul\u0000@example.com"}`), 400, scimInvalidValue)
			wantError(t, e.do("PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "a\x00"}}})), 400, scimInvalidValue)
			wantError(t, e.do("GET", "/Users?sortBy=emails", nil), 400, scimInvalidValue)
			wantError(t, e.do("GET", "/Users?sortOrder=sideways", nil), 400, scimInvalidValue)
			wantError(t, e.do("POST", "/Groups", map[string]any{"displayName": "x", "members": []any{map[string]any{"value": "no-such-user"}}}), 400, scimInvalidValue)
		})
		t.Run("400 invalidPath noTarget mutability", func(t *testing.T) {
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "favouriteColour", "value": "x"})), 400, scimInvalidPath)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "emails[type eq \"work\"", "value": "x"})), 400, scimInvalidPath)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "name.nickname", "value": "x"})), 400, scimInvalidPath)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "remove"})), 400, scimNoTarget)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "emails[type eq \"home\" or value co \"zzz\"].value", "value": "h@example.com"})), 400, scimNoTarget)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "id", "value": "other"})), 400, scimMutability)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "value": map[string]any{"id": "other"}})), 400, scimMutability)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "add", "path": "groups", "value": []any{map[string]any{"value": gid}}})), 400, scimMutability)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "remove", "path": "userName"})), 400, scimMutability)
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"})), 400, scimMutability)
			wantError(t, e.do("PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "remove", "path": "displayName"})), 400, scimMutability)
			wantError(t, e.do("PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members[value eq \"x\"]", "value": "x"})), 400, scimInvalidPath)
			wantError(t, e.do("PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "remove", "path": "members[display co \"x\"]"})), 400, scimInvalidFilter)
			// The user is unchanged after the failed PATCHes: each PATCH is atomic.
			r := e.do("PATCH", "/Users/"+id, patchBody(
				map[string]any{"op": "replace", "path": "title", "value": "Boss"},
				map[string]any{"op": "replace", "path": "id", "value": "other"}))
			wantError(t, r, 400, scimMutability)
			if got := e.do("GET", "/Users/"+id, nil); got.str("title") != "" {
				t.Fatalf("a failed PATCH changed the user: %s", got.raw)
			}
		})
		t.Run("400 invalidFilter", func(t *testing.T) {
			for _, f := range []string{`userName eq`, `nope eq "x"`, `addresses[type eq "work"]`, `userName eq "x" and`, `active gt true`} {
				wantError(t, e.do("GET", "/Users?filter="+urlq(f), nil), 400, scimInvalidFilter)
			}
			wantError(t, e.do("POST", "/Users/.search", map[string]any{"filter": `userName eq 12`}), 400, scimInvalidFilter)
			wantError(t, e.do("GET", "/Users?filter=userName%20eq%20%22%FF%22", nil), 400, scimInvalidFilter)
			wantError(t, e.do("GET", "/Users?filter=userName%20eq%20%22a%00%22", nil), 400, scimInvalidFilter)
			wantError(t, e.do("POST", "/Users/.search", map[string]any{"filter": `userName eq "a\u0000"`}), 400, scimInvalidFilter)
		})
		t.Run("412 and 304", func(t *testing.T) {
			r := e.do("GET", "/Users/"+id, nil)
			tag := r.header.Get("ETag")
			if tag == "" || tag != r.str("meta", "version") {
				t.Fatalf("ETag %q, meta.version %q", tag, r.str("meta", "version"))
			}
			if r := e.do("GET", "/Users/"+id, nil, "If-None-Match", tag); r.status != 304 {
				t.Fatalf("If-None-Match: %d", r.status)
			}
			r = e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "title", "value": "Dr"}), "If-Match", tag)
			if r.status != 200 || r.header.Get("ETag") == tag {
				t.Fatalf("If-Match current: %d %s", r.status, r.raw)
			}
			wantError(t, e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "title", "value": "Prof"}), "If-Match", tag), 412, "")
			wantError(t, e.do("PUT", "/Users/"+id, map[string]any{"userName": "ann@example.com"}, "If-Match", tag), 412, "")
			wantError(t, e.do("DELETE", "/Users/"+id, nil, "If-Match", tag), 412, "")
			wantError(t, e.do("DELETE", "/Users/"+id, nil, "If-Match", `"garbage"`), 412, "")
			g := e.do("GET", "/Groups/"+gid, nil)
			if r := e.do("GET", "/Groups/"+gid, nil, "If-None-Match", g.header.Get("ETag")); r.status != 304 {
				t.Fatalf("group If-None-Match: %d", r.status)
			}
			e.do("PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "G2"}))
			wantError(t, e.do("PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "G3"}), "If-Match", g.header.Get("ETag")), 412, "")
		})
		t.Run("413", func(t *testing.T) {
			big := map[string]any{"userName": "big@example.com", "title": strings.Repeat("x", 5000)}
			wantError(t, e.do("POST", "/Users", big), 413, "")
			// Without Content-Length the limit still holds.
			r := e.do("POST", "/Users", io.MultiReader(strings.NewReader(`{"userName":"big@example.com","title":"`+strings.Repeat("y", 5000)+`"}`)))
			wantError(t, r, 413, "")
			ops := []any{}
			for i := range 3 {
				ops = append(ops, map[string]any{"method": "POST", "path": "/Users", "bulkId": fmt.Sprint(i), "data": map[string]any{"userName": fmt.Sprintf("b%d@example.com", i)}})
			}
			wantError(t, e.do("POST", "/Bulk", map[string]any{"schemas": []string{URNBulkRequest}, "Operations": ops}), 413, "")
		})
	})
}

func TestRateLimit(t *testing.T) {
	db := storetest.OpenSQLite(t)
	now := time.Unix(1000, 0)
	e := newEnv(t, db, Options{RateLimit: 1, RateBurst: 2, Now: func() time.Time { return now }}, "limited")
	for range 2 {
		if r := e.do("GET", "/Users", nil); r.status != 200 {
			t.Fatalf("within burst: %d", r.status)
		}
	}
	r := e.do("GET", "/Users", nil)
	wantError(t, r, 429, "")
	if r.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	now = now.Add(time.Second)
	if r := e.do("GET", "/Users", nil); r.status != 200 {
		t.Fatalf("after refill: %d", r.status)
	}
}

// The tenant limit holds across all of a tenant's tokens, and leaves other tenants alone.
func TestTenantRateLimit(t *testing.T) {
	db := storetest.OpenSQLite(t)
	now := time.Unix(1000, 0)
	e := newEnv(t, db, Options{TenantRateLimit: 1, TenantRateBurst: 2, Now: func() time.Time { return now }}, "limited")
	second, _, err := e.eng.CreateToken(context.Background(), testActor, e.tenant.ID, provisioning.TokenSCIM, "entra")
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/Users", nil); r.status != 200 {
		t.Fatalf("first token within burst: %d", r.status)
	}
	first := e.token
	e.token = second
	if r := e.do("GET", "/Users", nil); r.status != 200 {
		t.Fatalf("second token within burst: %d", r.status)
	}
	wantError(t, e.do("GET", "/Users", nil), 429, "")
	e.token = first
	wantError(t, e.do("GET", "/Users", nil), 429, "")
}

// failing is a Provisioner whose every call fails with an internal error.
type failing struct{ Provisioner }

var errSecret = errors.New("pq: connection to 10.1.2.3 refused, password=hunter2")

func (failing) AuthenticateToken(context.Context, string, provisioning.TokenKind) (*provisioning.APIToken, *provisioning.Tenant, error) {
	return &provisioning.APIToken{ID: "t"}, &provisioning.Tenant{ID: "x", Slug: "acme"}, nil
}
func (failing) ListUsers(context.Context, string, provisioning.UserQuery) (*provisioning.UserPage, error) {
	return nil, fmt.Errorf("list: %w", errSecret)
}
func (failing) GetUser(context.Context, string, string) (*provisioning.User, error) {
	panic("boom")
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	var logs strings.Builder
	h := NewHandler(failing{}, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, path := range []string{"/scim/v2/acme/Users", "/scim/v2/acme/Users/1"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer sbt_secret_value")
		h.ServeHTTP(rec, req)
		if rec.Code != 500 || strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "boom") ||
			!strings.Contains(rec.Body.String(), `"status":"500"`) {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
	if strings.Contains(logs.String(), "sbt_secret_value") {
		t.Fatal("the token was logged")
	}
	if !strings.Contains(logs.String(), "hunter2") {
		t.Fatal("the internal error was not logged for operators")
	}
}

func TestListingAndProjection(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{MaxPageSize: 3}, "lists")
		names := []string{"dave", "alice", "eve", "carol", "bob"}
		for _, n := range names {
			e.createUser(n+"@example.com", map[string]any{"title": "T-" + n, "name": map[string]any{"givenName": strings.ToUpper(n)},
				URNEnterpriseUser: map[string]any{"department": "D-" + n}})
		}
		userNames := func(r resp) []string {
			var out []string
			for _, x := range r.body["Resources"].([]any) {
				out = append(out, strings.TrimSuffix(x.(map[string]any)["userName"].(string), "@example.com"))
			}
			return out
		}
		r := e.do("GET", "/Users?sortBy=userName&startIndex=2&count=2", nil)
		if got := strings.Join(userNames(r), ","); got != "bob,carol" || r.body["totalResults"] != 5.0 || r.body["itemsPerPage"] != 2.0 || r.body["startIndex"] != 2.0 {
			t.Fatalf("page: %s %s", got, r.raw)
		}
		r = e.do("GET", "/Users?sortBy=userName&sortOrder=descending&count=100", nil) // capped at MaxPageSize
		if got := strings.Join(userNames(r), ","); got != "eve,dave,carol" || r.body["itemsPerPage"] != 3.0 {
			t.Fatalf("desc capped: %s", r.raw)
		}
		r = e.do("GET", "/Users?count=0", nil)
		if list, ok := r.body["Resources"].([]any); r.body["totalResults"] != 5.0 || !ok || len(list) != 0 || r.body["itemsPerPage"] != 0.0 {
			t.Fatalf("count=0: %s", r.raw)
		}
		r = e.do("GET", "/Users?startIndex=9", nil)
		if r.body["totalResults"] != 5.0 || len(r.body["Resources"].([]any)) != 0 {
			t.Fatalf("beyond the end: %s", r.raw)
		}
		// Cursor pagination (RFC 9865) walks everything once.
		var seen []string
		cursor := ""
		for i := 0; ; i++ {
			r := e.do("GET", "/Users?sortBy=userName&count=2&cursor="+cursor, nil)
			if r.status != 200 || r.body["startIndex"] != nil {
				t.Fatalf("cursor page: %s", r.raw)
			}
			seen = append(seen, userNames(r)...)
			cursor = r.str("nextCursor")
			if cursor == "" || i > 5 {
				break
			}
		}
		if strings.Join(seen, ",") != "alice,bob,carol,dave,eve" {
			t.Fatalf("cursor walk: %v", seen)
		}
		wantError(t, e.do("GET", "/Users?cursor=bogus", nil), 400, scimInvalidCursor)
		// Projection.
		r = e.do("GET", "/Users?filter="+urlq(`userName eq "alice@example.com"`)+"&attributes=userName,name.givenName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", nil)
		res := r.body["Resources"].([]any)[0].(map[string]any)
		if res["title"] != nil || res["emails"] != nil || res["id"] == nil || res["meta"] == nil || res["userName"] == nil ||
			res["name"].(map[string]any)["givenName"] != "ALICE" || res[URNEnterpriseUser].(map[string]any)["department"] != "D-alice" {
			t.Fatalf("attributes: %s", r.raw)
		}
		r = e.do("POST", "/Users/.search", map[string]any{"schemas": []string{URNSearchRequest}, "filter": `title eq "T-bob"`,
			"excludedAttributes": []string{"emails", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "id"}, "startIndex": 1, "count": 10})
		res = r.body["Resources"].([]any)[0].(map[string]any)
		if r.body["totalResults"] != 1.0 || res["emails"] != nil || res[URNEnterpriseUser] != nil || res["id"] == nil || res["title"] != "T-bob" ||
			len(res["schemas"].([]any)) != 1 {
			t.Fatalf("search with excludedAttributes: %s", r.raw)
		}
		r = e.do("GET", "/Users?filter="+urlq(`emails[type eq "work" and value ew "@example.com"] and not (userName sw "a")`), nil)
		if r.body["totalResults"] != 4.0 {
			t.Fatalf("value path filter: %s", r.raw)
		}
		r = e.do("GET", "/Users?filter="+urlq(`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "d-CAROL" or NAME.GIVENNAME eq "eve"`), nil)
		if r.body["totalResults"] != 2.0 {
			t.Fatalf("URN and case-insensitive names: %s", r.raw)
		}
		r = e.do("GET", "/Users?filter="+urlq(`externalId eq "X"`)+"&attributes=id", nil)
		if r.body["totalResults"] != 0.0 {
			t.Fatalf("externalId: %s", r.raw)
		}
	})
}

func TestRootSearch(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "root")
		for _, n := range []string{"sales-ann", "sales-bob", "ops-cy"} {
			e.createUser(n+"@example.com", map[string]any{"displayName": n})
		}
		for _, n := range []string{"sales", "ops"} {
			e.do("POST", "/Groups", map[string]any{"displayName": n})
		}
		search := func(body map[string]any) resp {
			body["schemas"] = []string{URNSearchRequest}
			return e.do("POST", "/.search", body)
		}
		r := search(map[string]any{"filter": `displayName sw "sales"`})
		if r.body["totalResults"] != 3.0 || len(r.body["Resources"].([]any)) != 3 {
			t.Fatalf("across types: %s", r.raw)
		}
		r = search(map[string]any{"filter": `displayName sw "sales"`, "startIndex": 3, "count": 1})
		if res := r.body["Resources"].([]any); len(res) != 1 || res[0].(map[string]any)["displayName"] != "sales" {
			t.Fatalf("page into the groups: %s", r.raw)
		}
		r = search(map[string]any{"filter": `userName sw "ops"`})
		if r.body["totalResults"] != 1.0 {
			t.Fatalf("user-only attribute: %s", r.raw)
		}
		r = search(map[string]any{"count": 0})
		if r.body["totalResults"] != 5.0 {
			t.Fatalf("everything: %s", r.raw)
		}
		wantError(t, search(map[string]any{"filter": `nope eq "x"`}), 400, scimInvalidFilter)
		wantError(t, search(map[string]any{"filter": `displayName eq`}), 400, scimInvalidFilter)
		wantError(t, e.do("GET", "/.search", nil), 405, "")
	})
}

func TestBulk(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "bulk")
		body := map[string]any{"schemas": []string{URNBulkRequest}, "failOnErrors": 2, "Operations": []any{
			// The group refers to a user created later in the same request.
			map[string]any{"method": "POST", "path": "/Groups", "bulkId": "g1", "data": map[string]any{"displayName": "Bulk group",
				"members": []any{map[string]any{"type": "User", "value": "bulkId:u1"}}}},
			map[string]any{"method": "POST", "path": "/Users", "bulkId": "u1", "data": map[string]any{"userName": "bulk1@example.com"}},
			map[string]any{"method": "PATCH", "path": "/Users/bulkId:u1", "data": patchBody(map[string]any{"op": "replace", "path": "title", "value": "Bulked"})},
			map[string]any{"method": "POST", "path": "/Users", "bulkId": "dup", "data": map[string]any{"userName": "bulk1@example.com"}},
			map[string]any{"method": "DELETE", "path": "/Users/nope"},
			map[string]any{"method": "POST", "path": "/Users", "bulkId": "never", "data": map[string]any{"userName": "never@example.com"}},
		}}
		r := e.do("POST", "/Bulk", body)
		if r.status != 200 {
			t.Fatalf("bulk: %d %s", r.status, r.raw)
		}
		ops := r.body["Operations"].([]any)
		status := func(i int) string { return ops[i].(map[string]any)["status"].(string) }
		if len(ops) != 5 || status(0) != "201" || status(1) != "201" || status(2) != "200" || status(3) != "409" || status(4) != "404" {
			t.Fatalf("bulk results: %s", r.raw)
		}
		g := e.do("GET", ops[0].(map[string]any)["location"].(string), nil)
		u := e.do("GET", ops[1].(map[string]any)["location"].(string), nil)
		if len(g.body["members"].([]any)) != 1 || u.str("title") != "Bulked" {
			t.Fatalf("bulk effects: %s %s", g.raw, u.raw)
		}
		if r := e.do("GET", "/Users?filter="+urlq(`userName eq "never@example.com"`), nil); r.body["totalResults"] != 0.0 {
			t.Fatal("failOnErrors did not stop the bulk request")
		}
		// Circular references fail cleanly.
		r = e.do("POST", "/Bulk", map[string]any{"Operations": []any{
			map[string]any{"method": "POST", "path": "/Groups", "bulkId": "a", "data": map[string]any{"displayName": "A", "members": []any{map[string]any{"value": "bulkId:b"}}}},
			map[string]any{"method": "POST", "path": "/Groups", "bulkId": "b", "data": map[string]any{"displayName": "B", "members": []any{map[string]any{"value": "bulkId:a"}}}},
		}})
		if r.status != 200 || !strings.Contains(string(r.raw), `"409"`) {
			t.Fatalf("circular: %s", r.raw)
		}
	})
}

func TestDiscovery(t *testing.T) {
	db := storetest.OpenSQLite(t)
	e := newEnv(t, db, Options{MaxPageSize: 500, MaxBulkOperations: 50, BaseURL: "https://seatbridge.example/"}, "disco")
	r := e.do("GET", "/ServiceProviderConfig", nil)
	if r.status != 200 || r.body["bulk"].(map[string]any)["maxOperations"] != 50.0 || r.body["filter"].(map[string]any)["maxResults"] != 500.0 ||
		r.body["etag"].(map[string]any)["supported"] != true || r.body["changePassword"].(map[string]any)["supported"] != false {
		t.Fatalf("ServiceProviderConfig: %s", r.raw)
	}
	r = e.do("GET", "/Schemas", nil)
	if r.body["totalResults"] != 3.0 {
		t.Fatalf("Schemas: %s", r.raw)
	}
	r = e.do("GET", "/Schemas/"+URNEnterpriseUser, nil)
	if r.str("id") != URNEnterpriseUser {
		t.Fatalf("Schema: %s", r.raw)
	}
	r = e.do("GET", "/ResourceTypes/User", nil)
	if r.str("endpoint") != "/Users" || r.body["schemaExtensions"] == nil {
		t.Fatalf("ResourceType: %s", r.raw)
	}
	for _, p := range []string{"/Schemas", "/ResourceTypes", "/ServiceProviderConfig"} {
		var out bytes.Buffer
		if err := json.Indent(&out, e.do("GET", p, nil).raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		checkGolden(t, "discovery"+strings.ReplaceAll(p, "/", "_")+".json", out.String())
	}
}

// TestWritesNameTheToken checks what the engine records for SCIM writes: the source, the
// IdP flag, and an audit event naming the token, the client IP and the request ID.
func TestWritesNameTheToken(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "audited")
		r := e.do("POST", "/Users", map[string]any{"userName": "audit@example.com"}, "X-Request-Id", "req-42")
		id := r.str("id")
		if r.header.Get("X-Request-Id") != "req-42" {
			t.Errorf("request id not echoed: %q", r.header.Get("X-Request-Id"))
		}
		u, err := e.eng.GetUser(context.Background(), e.tenant.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if u.Source != provisioning.SourceSCIM || !u.ManagedByIdP {
			t.Fatalf("source %q managedByIdP %v", u.Source, u.ManagedByIdP)
		}
		evs, err := db.ListAudit(context.Background(), e.tenant.ID, provisioning.AuditQuery{TargetID: id})
		if err != nil || len(evs) != 1 {
			t.Fatalf("audit: %v %v", evs, err)
		}
		ev := evs[0]
		if ev.ActorKind != provisioning.ActorSCIMToken || ev.ActorName != "okta" || ev.ActorID == "" || ev.RequestID != "req-42" || ev.IP != "127.0.0.1" || ev.Action != "user.create" {
			t.Fatalf("audit event: %+v", ev)
		}
		e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "active", "value": false}))
		evs, _ = db.ListAudit(context.Background(), e.tenant.ID, provisioning.AuditQuery{TargetID: id, Action: "user.deactivate"})
		if len(evs) != 1 || evs[0].ActorKind != provisioning.ActorSCIMToken {
			t.Fatalf("deactivation audit: %+v", evs)
		}
	})
}
