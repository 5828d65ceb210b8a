package store

import (
	"errors"
	"reflect"
	"testing"
)

// Joined statements keep their placeholders and arguments in one order, name every final
// statement that became a CTE differently, and map a unique violation as the first part's.
func TestJoinTrips(t *testing.T) {
	errA := errors.New("a's conflict")
	a := &oneTrip{ctes: []string{"t AS (DELETE FROM x WHERE k = ?)"}, final: "INSERT INTO y VALUES (?, ?)", args: []any{1, 2, 3},
		unique: func() error { return errA }, what: "a"}
	b := &oneTrip{ctes: []string{"a AS (INSERT INTO z VALUES (?))"}, final: "INSERT INTO q VALUES (?)", args: []any{4, 5}, what: "b"}
	c := &oneTrip{final: "INSERT INTO r VALUES (?)", args: []any{6}, what: "c"}

	ab := joinTrips(a, b)
	if want := "WITH t AS (DELETE FROM x WHERE k = ?), w1 AS (INSERT INTO y VALUES (?, ?)), a AS (INSERT INTO z VALUES (?)) INSERT INTO q VALUES (?)"; ab.sql() != want {
		t.Fatalf("joined:\n%s\nwant\n%s", ab.sql(), want)
	}
	if !reflect.DeepEqual(ab.args, []any{1, 2, 3, 4, 5}) || ab.unique() != errA || ab.what != "a and b" {
		t.Fatalf("joined args %v, unique %v, what %q", ab.args, ab.unique(), ab.what)
	}
	abc := joinTrips(ab, c)
	if want := "WITH t AS (DELETE FROM x WHERE k = ?), w1 AS (INSERT INTO y VALUES (?, ?)), a AS (INSERT INTO z VALUES (?)), w3 AS (INSERT INTO q VALUES (?)) INSERT INTO r VALUES (?)"; abc.sql() != want {
		t.Fatalf("joined thrice:\n%s\nwant\n%s", abc.sql(), want)
	}
	if !reflect.DeepEqual(abc.args, []any{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("joined thrice: args %v", abc.args)
	}
	if joinTrips(nil, c) != c || joinTrips(c, nil) != c || joinTrips(nil, nil) != nil {
		t.Fatal("joining with nil must return the other part")
	}
	if cb := joinTrips(c, b); cb.unique != nil {
		t.Fatal("no part maps a unique violation: the joined statement must not either")
	}
}
