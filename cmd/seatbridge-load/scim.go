package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

type scimLoad struct {
	base     string
	token    string
	client   *http.Client
	run      string
	userIDs  []string
	groupIDs []string
}

func runSCIM(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("scim", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080/scim/v2/acme", "SCIM base URL of a tenant")
	token := fs.String("token", "", "SCIM bearer token (or env SEATBRIDGE_LOAD_TOKEN)")
	users := fs.Int("users", 1000, "users to create in the initial sync")
	groups := fs.Int("groups", 20, "groups to create; every user joins one group")
	patchSize := fs.Int("members-per-patch", 50, "members added per group PATCH")
	conc := fs.Int("concurrency", 8, "parallel requests")
	pageSize := fs.Int("page", 100, "page size of the listing phase")
	steady := fs.Duration("steady", 10*time.Second, "duration of the steady mix (lookups, PATCHes, deactivations)")
	pid := fs.Int("server-pid", 0, "process id of the server, to report its peak RSS during the sync")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file ('-' for stdout)")
	deprovision := fs.Bool("delete", true, "finally delete every user the run created (DELETE /Users/{id}), as a directory's deprovisioning does")
	hooks := fs.Int("webhooks", 0, "register this many webhook endpoints subscribed to every event, served by a local receiver that verifies signatures\n(needs --admin-token and a server started with --webhook-allow-private); they are deleted at the end")
	adminToken := fs.String("admin-token", "", "admin API bearer token of the tenant, for --webhooks (or env SEATBRIDGE_LOAD_ADMIN_TOKEN)")
	hookWait := fs.Duration("webhook-drain", 2*time.Minute, "with --webhooks, how long to wait at the end for deliveries to arrive")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" {
		*token = strings.TrimSpace(getenv("SEATBRIDGE_LOAD_TOKEN"))
	}
	if *token == "" {
		return fmt.Errorf("--token is required")
	}
	if *conc < 1 || *users < 1 || *groups < 0 || *patchSize < 1 {
		return fmt.Errorf("--concurrency, --users and --members-per-patch must be positive")
	}
	l := &scimLoad{base: strings.TrimSuffix(*base, "/"), token: *token, client: newHTTPClient(*conc), run: randomHex(4)}
	if _, _, err := l.do(ctx, "GET", "/ServiceProviderConfig", nil); err != nil {
		return fmt.Errorf("server check: %w", err)
	}
	var results []Result
	var recv *hookReceiver
	if *hooks > 0 {
		if *adminToken == "" {
			*adminToken = strings.TrimSpace(getenv("SEATBRIDGE_LOAD_ADMIN_TOKEN"))
		}
		adminBase, err := adminBaseOf(l.base)
		if err != nil || *adminToken == "" {
			return fmt.Errorf("--webhooks needs --admin-token and a valid --url")
		}
		if recv, err = startReceiver(); err != nil {
			return err
		}
		ids, err := recv.register(ctx, adminBase, *adminToken, *hooks)
		defer recv.close(context.WithoutCancel(ctx), adminBase, *adminToken, ids)
		if err != nil {
			return err
		}
	}

	// Initial sync, the IdP pattern: look the user up by userName, then create it.
	rss := startRSS(*pid)
	sync := newRecorder("sync users (lookup+create)", "users/s")
	lookups := newRecorder("  of which lookups", "")
	creates := newRecorder("  of which creates", "")
	l.userIDs = make([]string, *users)
	parallel(ctx, *users, *conc, func(i int) {
		name := l.userName(i)
		t0 := time.Now()
		_, body, err := l.do(ctx, "GET", "/Users?filter="+url.QueryEscape(`userName eq "`+name+`"`), nil)
		lookups.observe(time.Since(t0), err)
		if err == nil && !strings.Contains(string(body), `"totalResults":0`) {
			err = fmt.Errorf("lookup of a new user found something: %.100s", body)
		}
		if err != nil {
			sync.observe(0, err)
			return
		}
		t1 := time.Now()
		_, body, err = l.do(ctx, "POST", "/Users", newUser(name, i))
		creates.observe(time.Since(t1), err)
		if err == nil {
			var res struct{ ID string }
			if err = json.Unmarshal(body, &res); err == nil {
				l.userIDs[i] = res.ID
				sync.units.Add(1)
			}
		}
		sync.observe(time.Since(t0), err)
	})
	sync.finish()
	lookups.finish()
	creates.finish()
	sync.peakRSSMB = rss.peakMB()
	results = append(results, sync.result(), lookups.result(), creates.result())

	// Groups, then memberships in PATCHes of patchSize.
	if *groups > 0 {
		grp := newRecorder("create groups", "")
		l.groupIDs = make([]string, *groups)
		parallel(ctx, *groups, *conc, func(i int) {
			t0 := time.Now()
			body := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
				"displayName": fmt.Sprintf("load-%s-group-%d", l.run, i), "externalId": fmt.Sprintf("g-%s-%d", l.run, i)}
			_, resp, err := l.do(ctx, "POST", "/Groups", body)
			if err == nil {
				var res struct{ ID string }
				err = json.Unmarshal(resp, &res)
				l.groupIDs[i] = res.ID
			}
			grp.observe(time.Since(t0), err)
		})
		grp.finish()
		results = append(results, grp.result())

		type batch struct {
			group   string
			members []string
		}
		var batches []batch
		perGroup := make([][]string, *groups)
		for i, id := range l.userIDs {
			if id != "" {
				perGroup[i%*groups] = append(perGroup[i%*groups], id)
			}
		}
		for g, ids := range perGroup {
			for start := 0; start < len(ids); start += *patchSize {
				batches = append(batches, batch{group: l.groupIDs[g], members: ids[start:min(start+*patchSize, len(ids))]})
			}
		}
		mem := newRecorder(fmt.Sprintf("add members (PATCH of %d)", *patchSize), "memberships/s")
		parallel(ctx, len(batches), *conc, func(i int) {
			b := batches[i]
			if b.group == "" {
				mem.observe(0, fmt.Errorf("group was not created"))
				return
			}
			vals := make([]map[string]string, len(b.members))
			for j, m := range b.members {
				vals[j] = map[string]string{"value": m}
			}
			t0 := time.Now()
			_, _, err := l.do(ctx, "PATCH", "/Groups/"+b.group, patchOp("add", "members", vals))
			if err == nil {
				mem.units.Add(int64(len(b.members)))
			}
			mem.observe(time.Since(t0), err)
		})
		mem.finish()
		results = append(results, mem.result())
	}

	// Listing every user in pages, one client paging sequentially as an IdP's import does.
	list := newRecorder(fmt.Sprintf("list all users (pages of %d)", *pageSize), "users/s")
	for start := 1; ctx.Err() == nil; start += *pageSize {
		t0 := time.Now()
		_, body, err := l.do(ctx, "GET", fmt.Sprintf("/Users?startIndex=%d&count=%d", start, *pageSize), nil)
		list.observe(time.Since(t0), err)
		if err != nil {
			break
		}
		var page struct {
			TotalResults int `json:"totalResults"`
			ItemsPerPage int `json:"itemsPerPage"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			break
		}
		list.units.Add(int64(page.ItemsPerPage))
		if page.ItemsPerPage == 0 || start+page.ItemsPerPage > page.TotalResults {
			break
		}
	}
	list.finish()
	results = append(results, list.result())

	// Steady mix for a bounded time: 70% lookups, 20% attribute PATCHes, 10% deactivations.
	if *steady > 0 {
		sctx, cancel := context.WithTimeout(ctx, *steady)
		mix := newRecorder("steady mix", "")
		lk := newRecorder("  lookups", "")
		pt := newRecorder("  PATCH title", "")
		de := newRecorder("  deactivations", "")
		var n atomic.Int64
		parallel(sctx, 1<<30, *conc, func(int) {
			i := int(n.Add(1))
			u := randInt(len(l.userIDs))
			id := l.userIDs[u]
			t0 := time.Now()
			var err error
			var rec *recorder
			switch r := i % 10; {
			case r < 7 || id == "":
				rec = lk
				_, _, err = l.do(sctx, "GET", "/Users?filter="+url.QueryEscape(`userName eq "`+l.userName(u)+`"`), nil)
			case r < 9:
				rec = pt
				_, _, err = l.do(sctx, "PATCH", "/Users/"+id, patchOp("replace", "title", fmt.Sprintf("Agent %d", i)))
			default:
				rec = de
				_, _, err = l.do(sctx, "PATCH", "/Users/"+id, patchOp("replace", "active", false))
			}
			if sctx.Err() != nil {
				return // the deadline cut this request short: not a server error
			}
			rec.observe(time.Since(t0), err)
			mix.observe(time.Since(t0), err)
		})
		cancel()
		for _, r := range []*recorder{mix, lk, pt, de} {
			r.finish()
			results = append(results, r.result())
		}
	}
	// Deprovisioning: every user the run created is deleted, with the same concurrency.
	if *deprovision {
		del := newRecorder("delete users", "users/s")
		parallel(ctx, len(l.userIDs), *conc, func(i int) {
			id := l.userIDs[i]
			if id == "" {
				return
			}
			t0 := time.Now()
			_, _, err := l.do(ctx, "DELETE", "/Users/"+id, nil)
			if err == nil {
				del.units.Add(1)
			}
			del.observe(time.Since(t0), err)
		})
		del.finish()
		results = append(results, del.result())
	}
	if recv != nil {
		results = append(results, recv.drain(ctx, *hookWait))
	}
	meta := map[string]any{"url": l.base, "users": *users, "groups": *groups, "concurrency": *conc, "run": l.run,
		"webhooks": *hooks, "at": time.Now().UTC().Format(time.RFC3339)}
	return report(out, results, meta, *jsonOut)
}

func (l *scimLoad) userName(i int) string { return fmt.Sprintf("load-%s-%d@example.com", l.run, i) }

func newUser(name string, i int) map[string]any {
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		"userName":   name,
		"externalId": fmt.Sprintf("ext-%d", i),
		"active":     true,
		"name":       map[string]string{"givenName": "Load", "familyName": fmt.Sprintf("User %d", i)},
		"emails":     []map[string]any{{"value": name, "type": "work", "primary": true}},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]string{"department": "Support", "employeeNumber": fmt.Sprint(i)},
	}
}

func patchOp(op, path string, value any) map[string]any {
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": op, "path": path, "value": value}}}
}

// do sends one SCIM request; any status other than 2xx is an error carrying the body.
func (l *scimLoad) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Accept", "application/scim+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, b, fmt.Errorf("%s %s: %d %.200s", method, strings.SplitN(path, "?", 2)[0], resp.StatusCode, b)
	}
	return resp.StatusCode, b, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randInt(n int) int {
	if n <= 1 {
		return 0
	}
	v, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
	return int(v.Int64())
}
