package store_test

import (
	"io/fs"
	"testing"

	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

func TestConformanceSQLite(t *testing.T) { storetest.Run(t, storetest.OpenSQLite) }

func TestConformancePostgres(t *testing.T) {
	storetest.PostgresDSN(t)
	storetest.Run(t, storetest.OpenPostgres)
}

// Both dialects must list the same migrations, so a schema change is never made for one only.
func TestMigrationsMatch(t *testing.T) {
	names := map[store.Dialect][]string{}
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		fsys, err := store.Migrations(d)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := fs.ReadDir(fsys, ".")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			names[d] = append(names[d], e.Name())
		}
	}
	if len(names[store.SQLite]) == 0 || len(names[store.SQLite]) != len(names[store.Postgres]) {
		t.Fatalf("migrations differ: sqlite %v, postgres %v", names[store.SQLite], names[store.Postgres])
	}
	for i := range names[store.SQLite] {
		if names[store.SQLite][i] != names[store.Postgres][i] {
			t.Fatalf("migration %d: sqlite %s, postgres %s", i, names[store.SQLite][i], names[store.Postgres][i])
		}
	}
}
