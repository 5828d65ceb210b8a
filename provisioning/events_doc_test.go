package provisioning_test

import (
	"os"
	"strings"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
)

// Every event type is documented in docs/events.md, and every documented type exists.
func TestEventTypesDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	documented := map[string]bool{}
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "| `") {
			typ, _, _ := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
			documented[typ] = true
		}
	}
	for _, typ := range provisioning.EventTypes {
		if !documented[typ] {
			t.Errorf("event type %s is not documented in docs/events.md", typ)
		}
		delete(documented, typ)
	}
	for typ := range documented {
		t.Errorf("docs/events.md documents %s, which the engine does not emit", typ)
	}
}
