package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// A table that grows from empty is analysed once it doubled, and the userName lookup is
// then planned on the tenant's unique userName index instead of reading every user of the
// tenant through another index on tenant_id.
func TestRefreshStatistics(t *testing.T) {
	db := storetest.OpenPostgres(t)
	ctx := context.Background()
	eng := provisioning.NewEngine(db, nil)
	tn, err := eng.CreateTenant(ctx, provisioning.Actor{Kind: provisioning.ActorCLI}, "grow", "Grow", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.RefreshStatistics(ctx); err != nil || slices.Contains(got, "users") {
		t.Fatalf("empty tables: analysed %v, %v; want users left alone", got, err)
	}
	const n = 1200
	cli := provisioning.Actor{Kind: provisioning.ActorCLI}
	for i := range n {
		if _, err := eng.CreateUser(ctx, cli, tn.ID, &provisioning.User{UserName: fmt.Sprintf("u%d@grow.test", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Table statistics reach the cumulative statistics system within a second of commit.
	var got []string
	for deadline := time.Now().Add(10 * time.Second); ; {
		if got, err = db.RefreshStatistics(ctx); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(got, "users") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !slices.Contains(got, "users") {
		t.Fatalf("after %d users RefreshStatistics analysed %v, want users", n, got)
	}
	var plan []string
	if err := db.SQL().Select(&plan, `EXPLAIN SELECT id FROM users WHERE tenant_id = $1 AND user_name_key = $2`, tn.ID, "u7@grow.test"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "users_tenant_user_name") {
		t.Fatalf("lookup plan after analyse:\n%s", strings.Join(plan, "\n"))
	}
	// Analysed tables do not qualify again until they double once more.
	if again, err := db.RefreshStatistics(ctx); err != nil || slices.Contains(again, "users") {
		t.Fatalf("second refresh analysed %v, %v", again, err)
	}
}

// SQLite has no such planner problem here: the call does nothing.
func TestRefreshStatisticsSQLite(t *testing.T) {
	db := storetest.OpenSQLite(t)
	if got, err := db.RefreshStatistics(context.Background()); err != nil || got != nil {
		t.Fatalf("sqlite: %v, %v", got, err)
	}
}
