package provisioning

import (
	"slices"
	"testing"
)

// The store selects a fan-out's events by the type list SelectedEventTypes gives, so the
// list must select exactly what MatchEventFilter does, for every known type.
func TestSelectedEventTypesMatchesFilter(t *testing.T) {
	for _, f := range [][]string{{"*"}, {"user.*"}, {"user.*", "seat.*"}, {"user.deactivated"}, {"user.created", "group.*"},
		{"webhook.disabled"}, {"*", "user.created"}} {
		types, all := SelectedEventTypes(f)
		if all != slices.Contains(f, "*") {
			t.Errorf("%v: all = %v", f, all)
		}
		for _, typ := range EventTypes {
			if got, want := all || slices.Contains(types, typ), MatchEventFilter(f, typ); got != want {
				t.Errorf("%v selects %s: %v, MatchEventFilter says %v", f, typ, got, want)
			}
		}
		if !all && len(types) == 0 {
			t.Errorf("%v selects nothing", f)
		}
	}
}
