package main

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// TestFlagDefaultsFromEnvironment: every flag kind takes its default from its SEATBRIDGE_
// variable, a flag given on the command line wins, and a variable that does not parse is
// an error naming it.
func TestFlagDefaultsFromEnvironment(t *testing.T) {
	env := map[string]string{"SEATBRIDGE_S": "text", "SEATBRIDGE_B": "true", "SEATBRIDGE_I": "7", "SEATBRIDGE_I64": "9000000000",
		"SEATBRIDGE_F": "0.5", "SEATBRIDGE_D": "90s"}
	type values struct {
		s   string
		b   bool
		i   int
		i64 int64
		f   float64
		d   time.Duration
	}
	bind := func(env map[string]string) (*flag.FlagSet, *flagBinder, *values) {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		b := &flagBinder{fs: fs, getenv: func(k string) string { return env[k] }}
		var v values
		b.str(&v.s, "s", "def", "a string")
		b.boolean(&v.b, "b", false, "a bool")
		b.integer(&v.i, "i", 1, "an int")
		b.int64v(&v.i64, "i64", 2, "an int64")
		b.float(&v.f, "f", 3, "a float")
		b.duration(&v.d, "d", time.Second, "a duration")
		return fs, b, &v
	}
	fs, b, v := bind(env)
	if err := fs.Parse([]string{"-i", "8"}); err != nil || b.err() != nil {
		t.Fatal(err, b.err())
	}
	if v.s != "text" || !v.b || v.i != 8 || v.i64 != 9000000000 || v.f != 0.5 || v.d != 90*time.Second {
		t.Fatalf("values: %+v", *v)
	}
	var help bytes.Buffer
	fs.SetOutput(&help)
	fs.PrintDefaults()
	if !strings.Contains(help.String(), "a duration (env SEATBRIDGE_D)") {
		t.Fatalf("help does not name the variable:\n%s", help.String())
	}
	fs, b, v = bind(map[string]string{"SEATBRIDGE_B": "maybe", "SEATBRIDGE_D": "soon"})
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	err := b.err()
	if err == nil || !strings.Contains(err.Error(), `SEATBRIDGE_B: "maybe" is not a boolean`) || !strings.Contains(err.Error(), `SEATBRIDGE_D: "soon" is not a duration`) {
		t.Fatalf("bad variables: %v", err)
	}
	if v.i != 1 || v.s != "def" {
		t.Fatalf("unset variables changed defaults: %+v", *v)
	}
}
