package provisioning_test

import (
	"reflect"
	"testing"

	"github.com/seatbridge/seatbridge/provisioning"
)

// TestAllOf: no filters is no filter, one is itself, more are joined with And in order.
func TestAllOf(t *testing.T) {
	a := provisioning.Compare{Field: "role", Op: provisioning.OpEq, Value: "Agent"}
	b := provisioning.Compare{Field: "team", Op: provisioning.OpEq, Value: "Tier 1"}
	c := provisioning.Compare{Field: "seat", Op: provisioning.OpEq, Value: true}
	for _, tc := range []struct {
		in   []provisioning.Filter
		want provisioning.Filter
	}{
		{nil, nil},
		{[]provisioning.Filter{a}, a},
		{[]provisioning.Filter{a, b, c}, provisioning.And{Left: provisioning.And{Left: a, Right: b}, Right: c}},
	} {
		if got := provisioning.AllOf(tc.in...); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("AllOf(%v) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}
