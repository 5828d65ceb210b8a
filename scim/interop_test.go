package scim

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// The interoperability rules of issue 11, each through the real router on both databases.

func resources(t *testing.T, r resp) []map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	list, ok := r.body["Resources"].([]any)
	if !ok {
		t.Fatalf("no Resources array: %s", r.raw)
	}
	out := make([]map[string]any, len(list))
	for i, x := range list {
		out[i], _ = x.(map[string]any)
	}
	return out
}

func manager(r resp) map[string]any {
	ent, _ := r.body[URNEnterpriseUser].(map[string]any)
	m, _ := ent["manager"].(map[string]any)
	return m
}

func TestEmailsAreNotUnique(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "acme")
		shared := []any{map[string]any{"value": "team@acme.example", "type": "work", "primary": true}}
		a := e.createUser("ann@acme.example", map[string]any{"emails": shared})
		b := e.createUser("bob@acme.example", map[string]any{"emails": shared})
		// A rename onto the shared primary address is fine too.
		c := e.createUser("cy@acme.example", nil)
		r := e.do("PATCH", "/Users/"+c, patchBody(map[string]any{"op": "replace", "path": `emails[type eq "work"].value`, "value": "TEAM@acme.example"}))
		if r.status != http.StatusOK {
			t.Fatalf("PATCH onto a shared e-mail: %d %s", r.status, r.raw)
		}
		got := resources(t, e.do("GET", "/Users?filter="+url.QueryEscape(`emails.value eq "team@acme.example"`)+"&sortBy=userName", nil))
		if len(got) != 3 || got[0]["id"] != a || got[1]["id"] != b || got[2]["id"] != c {
			t.Fatalf("users with the shared e-mail: %v", got)
		}
		// userName stays unique.
		wantError(t, e.do("POST", "/Users", map[string]any{"userName": "ANN@acme.example"}), http.StatusConflict, scimUniqueness)
		// /Schemas says so.
		uniq := map[string]string{}
		for _, a := range e.do("GET", "/Schemas/"+URNUser, nil).body["attributes"].([]any) {
			m := a.(map[string]any)
			uniq[m["name"].(string)] = m["uniqueness"].(string)
		}
		if uniq["emails"] != "none" || uniq["userName"] != "server" || uniq["externalId"] != "none" {
			t.Errorf("/Schemas uniqueness: %v", uniq)
		}
	})
}

func TestEmailWithoutAt(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "acme")
		id := e.createUser("u357", map[string]any{"emails": []any{map[string]any{"value": "emailName357", "type": "work", "primary": true}}})
		r := e.do("GET", "/Users/"+id, nil)
		if emails, _ := r.body["emails"].([]any); len(emails) != 1 || emails[0].(map[string]any)["value"] != "emailName357" {
			t.Fatalf("e-mail not kept as sent: %s", r.raw)
		}
		if got := resources(t, e.do("GET", "/Users?filter="+url.QueryEscape(`emails.value eq "emailName357"`), nil)); len(got) != 1 {
			t.Fatalf("filter on the value: %v", got)
		}
	})
}

func TestManagerResolvedOrKept(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "acme")
		boss := e.createUser("boss@acme.example", map[string]any{"externalId": "E-1", "displayName": "The Boss"})
		withManager := func(v string) map[string]any {
			return map[string]any{URNEnterpriseUser: map[string]any{"manager": map[string]any{"value": v}}}
		}
		for i, v := range []string{boss, "E-1", "BOSS@acme.example"} {
			id := e.createUser(fmt.Sprintf("report%d@acme.example", i), withManager(v))
			m := manager(e.do("GET", "/Users/"+id, nil))
			if m["value"] != boss || m["$ref"] != e.base+"/Users/"+boss || m["displayName"] != "The Boss" {
				t.Errorf("manager %q: got %v, want the boss's id, $ref and name", v, m)
			}
		}
		// Free text (Okta's managerId mapping) is stored as given and returned unchanged.
		r := e.do("POST", "/Users", map[string]any{"userName": "free@acme.example",
			URNEnterpriseUser: map[string]any{"Manager": map[string]any{"Value": "SuzzyQ"}}})
		if r.status != http.StatusCreated {
			t.Fatalf("create with a free-text manager: %d %s", r.status, r.raw)
		}
		free := r.str("id")
		if m := manager(r); len(m) != 1 || m["value"] != "SuzzyQ" {
			t.Errorf("free-text manager: %v, want only the value", m)
		}
		if got := resources(t, e.do("GET", "/Users?filter="+url.QueryEscape(`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "SuzzyQ"`), nil)); len(got) != 1 {
			t.Errorf("filter on the kept manager: %d users", len(got))
		}
		// Once SuzzyQ exists, the next replace links her.
		suzzy := e.createUser("SuzzyQ", map[string]any{"displayName": "Suzzy"})
		put := map[string]any{"schemas": []string{URNUser, URNEnterpriseUser}, "userName": "free@acme.example",
			URNEnterpriseUser: map[string]any{"manager": map[string]any{"value": "SuzzyQ"}}}
		r = e.do("PUT", "/Users/"+free, put)
		if m := manager(r); r.status != http.StatusOK || m["value"] != suzzy || m["displayName"] != "Suzzy" {
			t.Errorf("PUT after the manager appeared: %d %v", r.status, m)
		}
		// PATCH never fails because of a manager, Entra's bare value included.
		for _, v := range []any{"nobody-known", map[string]any{"value": free}, []any{map[string]any{"$ref": nil, "value": "x"}}} {
			r := e.do("PATCH", "/Users/"+suzzy, patchBody(map[string]any{"op": "Add", "path": URNEnterpriseUser + ":manager", "value": v}))
			if r.status != http.StatusOK {
				t.Errorf("PATCH manager %v: %d %s", v, r.status, r.raw)
			}
		}
		// Deleting the boss clears the links to it.
		if r := e.do("DELETE", "/Users/"+boss, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete boss: %d", r.status)
		}
		if got := resources(t, e.do("GET", "/Users?filter="+url.QueryEscape(`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "`+boss+`"`), nil)); len(got) != 0 {
			t.Errorf("%d users still managed by a deleted user", len(got))
		}
	})
}

func TestEndpointCaseAndTrailingSlash(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "acme")
		id := e.createUser("ann@acme.example", nil)
		for _, p := range []string{"/users", "/USERS/", "/Users/", "/users?filter=" + url.QueryEscape(`userName eq "ann@acme.example"`),
			"/users/" + id, "/Users/" + id + "/", "/groups", "/serviceproviderconfig", "/schemas/", "/resourcetypes/user"} {
			if r := e.do("GET", p, nil); r.status != http.StatusOK {
				t.Errorf("GET %s: %d %s", p, r.status, r.raw)
			}
		}
		if r := e.do("POST", "/users/", map[string]any{"userName": "bob@acme.example"}); r.status != http.StatusCreated {
			t.Errorf("POST /users/: %d %s", r.status, r.raw)
		}
		if r := e.do("POST", "/users/.SEARCH", map[string]any{"filter": `userName eq "bob@acme.example"`}); r.status != http.StatusOK || r.body["totalResults"] != 1.0 {
			t.Errorf("POST /users/.SEARCH: %d %s", r.status, r.raw)
		}
		bulk := map[string]any{"schemas": []string{URNBulkRequest}, "Operations": []any{
			map[string]any{"method": "POST", "path": "/users", "bulkId": "c1", "data": map[string]any{"userName": "cy@acme.example"}}}}
		if r := e.do("POST", "/bulk", bulk); r.status != http.StatusOK || !strings.Contains(string(r.raw), `"status":"201"`) {
			t.Errorf("bulk to /users: %d %s", r.status, r.raw)
		}
		// An id is not an endpoint: its case is kept (and so it is not found).
		wantError(t, e.do("GET", "/Users/"+strings.ToUpper(id), nil), http.StatusNotFound, "")
		wantError(t, e.do("GET", "/Userz", nil), http.StatusNotFound, "")
	})
}

func TestSchemasRules(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "acme")
		id := e.createUser("ann@acme.example", map[string]any{"title": "Agent"})
		gid := e.do("POST", "/Groups", map[string]any{"displayName": "Support"}).str("id")
		// PATCH: schemas present without the PatchOp URN is refused and nothing changes.
		for _, schemas := range []any{[]string{URNUser}, []string{}, []string{"urn:ietf:params:scim:api:messages:2.0:Patch"}} {
			body := map[string]any{"schemas": schemas, "Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "Boss"}}}
			wantError(t, e.do("PATCH", "/Users/"+id, body), http.StatusBadRequest, scimInvalidSyntax)
			body["Operations"] = []any{map[string]any{"op": "replace", "path": "displayName", "value": "Boss"}}
			wantError(t, e.do("PATCH", "/Groups/"+gid, body), http.StatusBadRequest, scimInvalidSyntax)
		}
		if r := e.do("GET", "/Users/"+id, nil); r.str("title") != "Agent" {
			t.Fatalf("a refused PATCH was applied: %s", r.raw)
		}
		// Without schemas, or with the URN in another case, a PATCH is applied.
		if r := e.do("PATCH", "/Users/"+id, map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "Lead"}}}); r.status != http.StatusOK || r.str("title") != "Lead" {
			t.Errorf("PATCH without schemas: %d %s", r.status, r.raw)
		}
		lower := map[string]any{"schemas": []string{strings.ToLower(URNPatchOp)}, "Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "Head"}}}
		if r := e.do("PATCH", "/Users/"+id, lower); r.status != http.StatusOK || r.str("title") != "Head" {
			t.Errorf("PATCH with the URN in lower case: %d %s", r.status, r.raw)
		}
		// POST and PUT naming another resource's core schema are refused.
		wantError(t, e.do("POST", "/Users", map[string]any{"schemas": []string{URNGroup}, "userName": "g@acme.example"}), http.StatusBadRequest, scimInvalidSyntax)
		wantError(t, e.do("POST", "/Groups", map[string]any{"schemas": []string{URNUser}, "displayName": "x"}), http.StatusBadRequest, scimInvalidSyntax)
		wantError(t, e.do("PUT", "/Users/"+id, map[string]any{"schemas": []string{URNUser, URNGroup}, "userName": "ann@acme.example"}), http.StatusBadRequest, scimInvalidSyntax)
		wantError(t, e.do("PUT", "/Groups/"+gid, map[string]any{"schemas": []string{URNUser}, "displayName": "x"}), http.StatusBadRequest, scimInvalidSyntax)
		wantError(t, e.do("POST", "/Users", map[string]any{"schemas": URNUser, "userName": "s@acme.example"}), http.StatusBadRequest, scimInvalidSyntax)
		wantError(t, e.do("POST", "/Users", map[string]any{"schemas": []any{1}, "userName": "s@acme.example"}), http.StatusBadRequest, scimInvalidSyntax)
		if r := e.do("GET", "/Users/"+id, nil); r.str("title") != "Head" {
			t.Fatalf("a refused PUT was applied: %s", r.raw)
		}
		// Without schemas, or with extensions this server does not define, they are accepted.
		for i, schemas := range []any{nil, []string{URNUser, "urn:ietf:params:scim:schemas:extension:Okta:1.0:User"}} {
			body := map[string]any{"userName": fmt.Sprintf("ok%d@acme.example", i)}
			if schemas != nil {
				body["schemas"] = schemas
			}
			if r := e.do("POST", "/Users", body); r.status != http.StatusCreated {
				t.Errorf("POST with schemas %v: %d %s", schemas, r.status, r.raw)
			}
		}
		if r := e.do("PUT", "/Groups/"+gid, map[string]any{"displayName": "Support 2"}); r.status != http.StatusOK {
			t.Errorf("PUT group without schemas: %d %s", r.status, r.raw)
		}
	})
}

func TestSortMissingValuesAndCountZero(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "acme")
		ids := map[string]string{}
		for _, u := range []struct{ name, title string }{{"a@x.example", ""}, {"b@x.example", "beta"}, {"c@x.example", ""}, {"d@x.example", "Alpha"}, {"e@x.example", "gamma"}} {
			extra := map[string]any{}
			if u.title != "" {
				extra["title"] = u.title
			}
			ids[u.name] = e.createUser(u.name, extra)
		}
		order := func(q string) string {
			var names []string
			for _, r := range resources(t, e.do("GET", "/Users?"+q, nil)) {
				names = append(names, strings.TrimSuffix(r["userName"].(string), "@x.example"))
			}
			return strings.Join(names, ",")
		}
		// RFC 7644 §3.4.2.3: without a value, last when ascending, first when descending
		// (ties in id order, which is creation order here).
		if got, want := order("sortBy=title"), "d,b,e,a,c"; got != want {
			t.Errorf("ascending: %s, want %s", got, want)
		}
		if got, want := order("sortBy=title&sortOrder=descending"), "c,a,e,b,d"; got != want {
			t.Errorf("descending: %s, want %s", got, want)
		}
		if got, want := order("sortBy=title&startIndex=3&count=2"), "e,a"; got != want {
			t.Errorf("offset page: %s, want %s", got, want)
		}
		// Cursor pages cross from valued to missing values without skipping or repeating.
		for _, tc := range []struct{ q, want string }{{"sortBy=title", "d,b,e,a,c"}, {"sortBy=title&sortOrder=descending", "c,a,e,b,d"}} {
			var names []string
			cur := ""
			for range 10 {
				r := e.do("GET", "/Users?"+tc.q+"&count=2&cursor="+url.QueryEscape(cur), nil)
				for _, x := range resources(t, r) {
					names = append(names, strings.TrimSuffix(x["userName"].(string), "@x.example"))
				}
				if cur = r.str("nextCursor"); cur == "" {
					break
				}
			}
			if got := strings.Join(names, ","); got != tc.want {
				t.Errorf("cursor pages of %s: %s, want %s", tc.q, got, tc.want)
			}
		}
		// count=0: the total and an empty Resources array (RFC 7644 §3.4.2).
		for _, r := range []resp{e.do("GET", "/Users?count=0", nil), e.do("POST", "/Users/.search", map[string]any{"count": 0}),
			e.do("POST", "/.search", map[string]any{"count": 0})} {
			if got := resources(t, r); len(got) != 0 || r.body["totalResults"] != 5.0 || r.body["itemsPerPage"] != 0.0 {
				t.Errorf("count=0: %s", r.raw)
			}
		}
	})
}

// Microsoft's reference collection sends comparison values without quotes and value
// filters inside attributes=; both are read as meant, and a filter the repair cannot save
// stays invalidFilter.
func TestBareFilterValuesAndFilteredAttributes(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, Options{}, "acme")
		e.createUser("OMalley", map[string]any{"name": map[string]any{"familyName": "OMalley"},
			"emails": []any{map[string]any{"value": "o@example.com", "type": "work", "primary": true}, map[string]any{"value": "o@home.example.org", "type": "home"}}})
		e.createUser("emp1", map[string]any{"name": map[string]any{"familyName": "Employee"}, "title": `a\b`,
			"emails": []any{map[string]any{"value": "emp1@example.com", "type": "work"}}})
		e.createUser("emp2", map[string]any{"name": map[string]any{"familyName": "Employee"},
			"emails": []any{map[string]any{"value": "emp2@example.net", "type": "work"}}})
		for _, tc := range []struct {
			filter string
			want   float64
		}{
			{`userName sw O`, 1},
			{`name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`, 1},
			{`meta.Created gt 2015-10-10T14:38:21.8617979-07:00`, 3},
			{`emails[type eq work].value ew example.net`, 1},
			{`title eq a\b`, 1},
			{`userName eq "emp1" or userName eq emp2`, 2},
			{`userName pr and userName ne OMalley`, 2},
		} {
			r := e.do("GET", "/Users?filter="+url.QueryEscape(tc.filter), nil)
			if r.status != http.StatusOK || r.body["totalResults"] != tc.want {
				t.Errorf("%s: %d %v, want %v", tc.filter, r.status, r.body["totalResults"], tc.want)
			}
		}
		for _, bad := range []string{`userName eq`, `userName zz O`, `userName eq O O`, `(userName eq O`} {
			wantError(t, e.do("GET", "/Users?filter="+url.QueryEscape(bad), nil), http.StatusBadRequest, scimInvalidFilter)
		}
		// attributes=emails[type eq "work"]: only the matching elements.
		r := e.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "OMalley"`)+"&attributes="+url.QueryEscape(`emails[type eq "work"]`), nil)
		got := resources(t, r)
		if len(got) != 1 || fmt.Sprint(got[0]["emails"]) != "[map[primary:true type:work value:o@example.com]]" || got[0]["userName"] != nil {
			t.Errorf("attributes with a value filter: %s", r.raw)
		}
		// No matching element: no attribute, not an empty or null one.
		r = e.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "emp2"`)+"&attributes="+url.QueryEscape(`emails[type eq "home"]`), nil)
		if got := resources(t, r); len(got) != 1 || got[0]["emails"] != nil || strings.Contains(string(r.raw), `"emails"`) {
			t.Errorf("attributes with a value filter matching nothing: %s", r.raw)
		}
		r = e.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "OMalley"`)+"&excludedAttributes="+url.QueryEscape(`emails[type eq "work"]`), nil)
		if got := resources(t, r); len(got) != 1 || fmt.Sprint(got[0]["emails"]) != "[map[type:home value:o@home.example.org]]" || got[0]["userName"] != "OMalley" {
			t.Errorf("excludedAttributes with a value filter: %s", r.raw)
		}
	})
}
