package dispatch

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func claimsFor(endpoint string, n int) []hookbridge.Claim {
	cs := make([]hookbridge.Claim, n)
	for i := range cs {
		cs[i].Endpoint.ID = endpoint
		cs[i].Delivery.ID = fmt.Sprintf("%s-%d", endpoint, i)
	}
	return cs
}

// TestSlotsKeepABusyEndpointsBatch: a claim of a whole batch for one
// endpoint is kept (no delivery handed back), the endpoint is left out of
// claims once it holds a batch beyond its cap, and it is claimed for again
// only when half of that has drained, so that a fast endpoint is fed in
// batches rather than one delivery per finished request.
func TestSlotsKeepABusyEndpointsBatch(t *testing.T) {
	const limit, batch = 10, 100
	s := newEndpointSlots(limit, batch)
	fit, over := s.admit(claimsFor("a", batch))
	if len(fit) != batch || len(over) != 0 {
		t.Fatalf("first batch: %d kept, %d released; want all %d kept", len(fit), len(over), batch)
	}
	if got := s.saturated(); got != nil {
		t.Fatalf("left out after one batch: %v", got)
	}
	fit, over = s.admit(claimsFor("a", batch))
	if len(fit) != batch || len(over) != 0 {
		t.Fatalf("second batch: %d kept, %d released; want all kept", len(fit), len(over))
	}
	if got := s.saturated(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("left out after two batches: %v, want [a]", got)
	}
	// Everything is accounted: limit start sending, the rest park.
	sent := 0
	for i := range fit {
		if s.start(&fit[i], time.Time{}) {
			sent++
		}
	}
	if sent != limit {
		t.Fatalf("%d sending, want the cap %d", sent, limit)
	}
	held := 2 * batch
	reclaimed := -1
	for held > 0 {
		_, _, reclaim := s.finish("a")
		held--
		if reclaim {
			reclaimed = held
			break
		}
	}
	if want := limit + batch/2; reclaimed != want {
		t.Fatalf("claimed for again at %d held, want %d", reclaimed, want)
	}
	if got := s.saturated(); got != nil {
		t.Fatalf("still left out at %d held: %v", reclaimed, got)
	}
}

// TestSlotsBoundWaiting: claims beyond an endpoint's most are released, and
// once the waiting budget over every endpoint is spent, claims that would
// wait are released and every endpoint at its cap is left out, while an
// endpoint with free slots still takes claims.
func TestSlotsBoundWaiting(t *testing.T) {
	const limit, batch = 2, 4
	s := newEndpointSlots(limit, batch) // most 10, waiting budget 16
	fit, over := s.admit(claimsFor("a", 12))
	if len(fit) != limit+2*batch || len(over) != 2 {
		t.Fatalf("one endpoint: %d kept, %d released; want %d and 2", len(fit), len(over), limit+2*batch)
	}
	s.admit(claimsFor("b", 10)) // waiting: 8 + 8 = 16, the budget
	fit, over = s.admit(claimsFor("c", 5))
	if len(fit) != limit || len(over) != 3 {
		t.Fatalf("with the budget spent: %d kept, %d released; want %d (its free slots) and 3", len(fit), len(over), limit)
	}
	got := s.saturated()
	slices.Sort(got)
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("left out: %v, want %v", got, want)
	}
	if _, _, reclaim := s.finish("a"); !reclaim {
		t.Fatal("a finished request freed waiting budget but did not ask for a claim")
	}
}

// TestSlotsBoundParkedBytes: once the payloads of parked claims reach the
// bound, claims that would wait are released, and the endpoints at their
// cap are left out of claims until a parked claim is sent.
func TestSlotsBoundParkedBytes(t *testing.T) {
	const limit, batch = 1, 100
	s := newEndpointSlots(limit, batch)
	s.maxParkedBytes = 100
	claims := claimsFor("a", 3)
	for i := range claims {
		claims[i].Message.Payload = make([]byte, 60)
	}
	fit, over := s.admit(claims)
	if len(fit) != 3 || len(over) != 0 {
		t.Fatalf("%d kept, %d released; want 3 and 0", len(fit), len(over))
	}
	for i := range fit {
		s.start(&fit[i], time.Time{}) // one sends, two park: 120 bytes
	}
	if fit, over := s.admit(claimsFor("a", 1)); len(fit) != 0 || len(over) != 1 {
		t.Fatalf("past the byte bound: %d kept, %d released; want 0 and 1", len(fit), len(over))
	}
	if fit, _ := s.admit(claimsFor("b", 1)); len(fit) != 1 {
		t.Fatal("an endpoint with a free slot was refused")
	}
	if got := s.saturated(); !slices.Contains(got, "a") {
		t.Fatalf("left out: %v, want a among them", got)
	}
	next, _, reclaim := s.finish("a")
	if next == nil || !reclaim {
		t.Fatalf("finishing a's request: next %v, reclaim %v; want a parked claim and a reclaim", next, reclaim)
	}
}
