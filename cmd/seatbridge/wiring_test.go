package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestWiringInOnePlace keeps the wiring explicit: command names are unique (a duplicate
// would silently replace another in commandsByName) and no file of the binary registers
// anything from init().
func TestWiringInOnePlace(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commandList() {
		if seen[c.name] || c.run == nil || c.summary == "" {
			t.Errorf("command %q: duplicate or incomplete", c.name)
		}
		seen[c.name] = true
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	initFunc := regexp.MustCompile(`(?m)^func init\(\)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if initFunc.Match(b) {
			t.Errorf("%s has an init(): list doors, workers and commands in wiring.go", f)
		}
	}
}
