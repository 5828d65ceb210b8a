package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// runLookup measures "userName eq" lookups of users made by `seatbridge seed`, the request
// an IdP sends before every create or update, on a tenant of any size.
func runLookup(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("lookup", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080/scim/v2/acme", "SCIM base URL of a tenant")
	token := fs.String("token", "", "SCIM bearer token (or env SEATBRIDGE_LOAD_TOKEN)")
	prefix := fs.String("prefix", "seed", "userName prefix given to seatbridge seed")
	n := fs.Int("n", 100000, "how many seeded users to pick from")
	conc := fs.Int("concurrency", 8, "parallel requests")
	dur := fs.Duration("duration", 10*time.Second, "how long to run")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file ('-' for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" {
		*token = strings.TrimSpace(getenv("SEATBRIDGE_LOAD_TOKEN"))
	}
	if *token == "" || *n < 1 || *conc < 1 {
		return fmt.Errorf("--token, a positive --n and --concurrency are required")
	}
	l := &scimLoad{base: strings.TrimSuffix(*base, "/"), token: *token, client: newHTTPClient(*conc)}
	sctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()
	rec := newRecorder(fmt.Sprintf("userName eq lookups (%d users)", *n), "")
	parallel(sctx, 1<<30, *conc, func(int) {
		name := fmt.Sprintf("%s-%d@example.com", *prefix, 1+randInt(*n))
		t0 := time.Now()
		_, body, err := l.do(sctx, "GET", "/Users?filter="+url.QueryEscape(`userName eq "`+name+`"`), nil)
		if sctx.Err() != nil {
			return
		}
		if err == nil && !strings.Contains(string(body), `"totalResults":1`) {
			err = fmt.Errorf("seeded user %s not found (was the tenant seeded with --prefix %s?)", name, *prefix)
		}
		rec.observe(time.Since(t0), err)
	})
	rec.finish()
	meta := map[string]any{"url": l.base, "users": *n, "concurrency": *conc, "at": time.Now().UTC().Format(time.RFC3339)}
	return report(out, []Result{rec.result()}, meta, *jsonOut)
}
