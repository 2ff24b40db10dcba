package postgres

import (
	"fmt"
	"slices"
	"testing"
)

// TestDueNotice: the endpoints of writes between two notifications are
// named once each in the next; a write that names none, too many, or one
// whose id would not go into a payload as it is, makes it name none (any
// endpoint); what is taken is not sent again.
func TestDueNotice(t *testing.T) {
	var n dueNotice
	if _, ok := n.take(); ok {
		t.Fatal("a notice with nothing gathered has something to send")
	}
	n.add([]string{"ep_a", "ep_b"})
	n.add([]string{"ep_b", "ep_c"})
	payload, ok := n.take()
	if !ok || !slices.Equal(dueEndpoints(payload), []string{"ep_a", "ep_b", "ep_c"}) {
		t.Fatalf("payload %q (%v), want ep_a, ep_b, ep_c named", payload, ok)
	}
	if _, ok := n.take(); ok {
		t.Fatal("a notice taken has something to send again")
	}

	for _, tc := range []struct {
		name  string
		write []string
	}{
		{"names none", nil},
		{"not plain", []string{"ep_a", "ep'b"}},
		{"empty id", []string{""}},
	} {
		n.add([]string{"ep_a"})
		n.add(tc.write)
		n.add([]string{"ep_z"}) // after any, nothing narrows it again
		if payload, ok := n.take(); !ok || dueEndpoints(payload) != nil {
			t.Errorf("a write that %s: payload %q (%v), want one that names none", tc.name, payload, ok)
		}
	}

	for i := range maxNamedEndpoints {
		n.add([]string{fmt.Sprintf("ep_%d", i)})
	}
	if payload, _ := n.take(); len(dueEndpoints(payload)) != maxNamedEndpoints {
		t.Errorf("payload %q, want %d endpoints named", payload, maxNamedEndpoints)
	}
	for i := range maxNamedEndpoints + 1 {
		n.add([]string{fmt.Sprintf("ep_%d", i)})
	}
	if payload, ok := n.take(); !ok || dueEndpoints(payload) != nil {
		t.Errorf("%d endpoints: payload %q (%v), want one that names none", maxNamedEndpoints+1, payload, ok)
	}

	for _, p := range []string{"", "applications", "marker", duePrefix} {
		if ids := dueEndpoints(p); ids != nil {
			t.Errorf("payload %q names %q, want none", p, ids)
		}
	}
}
