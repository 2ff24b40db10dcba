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

// TestSlotsAdmitInPlace: admit keeps the claims within their bounds in
// their order, in the array it was given, the one beyond them taken out
// from the middle; when every claim fits it allocates nothing.
func TestSlotsAdmitInPlace(t *testing.T) {
	s := newEndpointSlots(1, 1) // at most 3 held per endpoint, 4 waiting in all
	claims := append(claimsFor("a", 4), claimsFor("b", 3)...)
	fit, over := s.admit(claims)
	var ids []string
	for _, c := range fit {
		ids = append(ids, c.Delivery.ID)
	}
	if want := []string{"a-0", "a-1", "a-2", "b-0", "b-1", "b-2"}; !slices.Equal(ids, want) || !slices.Equal(over, []string{"a-3"}) {
		t.Fatalf("kept %v, released %v; want %v and [a-3]", ids, over, want)
	}
	if &fit[0] != &claims[0] {
		t.Error("the claims kept were copied to another array")
	}
	if claims[6].Delivery.ID != "" {
		t.Errorf("the element left behind still holds %+v", claims[6].Delivery)
	}

	s = newEndpointSlots(10, 100)
	batch := claimsFor("c", 50)
	if n := testing.AllocsPerRun(10, func() {
		clear(s.held) // as if each were the first batch
		clear(s.full)
		s.waiting = 0
		if fit, over := s.admit(batch); len(fit) != 50 || over != nil {
			t.Fatalf("%d kept, %v released; want all 50", len(fit), over)
		}
	}); n != 0 {
		t.Errorf("admitting a batch that fits made %v allocations, want none", n)
	}
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
		_, _, reclaim := s.finish("a", time.Time{}, true)
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
	if _, _, reclaim := s.finish("a", time.Time{}, true); !reclaim {
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
	next, _, reclaim := s.finish("a", time.Time{}, true)
	if next == nil || !reclaim {
		t.Fatalf("finishing a's request: next %v, reclaim %v; want a parked claim and a reclaim", next, reclaim)
	}
}

// TestSlotsHandoffWaits: handoffs to an endpoint that gets answers may
// keep more waiting than claims, up to their own bounds, and say which
// reservations are bound to wait; one that does not get answers (it
// hangs) is held to the claims' bounds. Once handoffs keep more than the
// claims' budget waiting, claims that would wait are released, and the
// claimer is told to look again only when the count comes back under that
// budget (and when the endpoint is back at its low mark), not at every
// finished request above it.
func TestSlotsHandoffWaits(t *testing.T) {
	const limit, batch = 1, 2
	s := newEndpointSlots(limit, batch) // claims: most 5, waiting 8; handoffs: most 65, waiting 128
	now := time.Now()
	for i := range s.most {
		if ok, waits := s.reserve("hangs", now); !ok || waits != (i >= limit) {
			t.Fatalf("reservation %d: ok %v, waits %v", i, ok, waits)
		}
	}
	if ok, _ := s.reserve("hangs", now); ok {
		t.Fatalf("an endpoint with no answers got a reservation beyond the claims' most (%d)", s.most)
	}
	s.lastEnd["a"] = now.Add(-progressWindow / 2) // it answered a moment ago
	for i := range s.handMost {
		if ok, waits := s.reserve("a", now); !ok || waits != (i >= limit) {
			t.Fatalf("reservation %d: ok %v, waits %v", i, ok, waits)
		}
	}
	if ok, _ := s.reserve("a", now); ok {
		t.Fatalf("a reservation beyond handMost (%d) was accepted", s.handMost)
	}
	if fit, over := s.admit(claimsFor("b", 2)); len(fit) != limit || len(over) != 1 {
		t.Fatalf("a claim that would wait, with handoffs waiting beyond the claims' budget: %d kept, %d released", len(fit), len(over))
	}
	for range s.most {
		s.unreserve("hangs")
	}
	reclaims := 0
	for range s.handMost - 1 {
		if s.unreserve("a") {
			reclaims++
		}
	}
	if reclaims != 2 {
		t.Fatalf("%d reclaims while the handoffs' waiting deliveries drained, want 2 (back under the claims' budget, back at low)", reclaims)
	}
}

// TestSlotsParkHandedIdle: a handed-over claim parked while its endpoint
// has a sending slot free marks the endpoint idle, and takeIdle hands it
// out with the slot taken, within the room given and the endpoint's cap;
// one parked behind a busy endpoint waits for a finished request instead.
func TestSlotsParkHandedIdle(t *testing.T) {
	const limit, batch = 2, 4
	s := newEndpointSlots(limit, batch)
	now := time.Now()
	busy := claimsFor("busy", 3)
	for i := range busy[:limit] {
		if !s.start(&busy[i], now) {
			t.Fatal("a free slot was refused")
		}
	}
	if s.parkHanded(&busy[2], now) {
		t.Fatal("a claim parked behind a busy endpoint marked it idle")
	}
	idle := claimsFor("idle", 3)
	for i := range idle {
		if !s.parkHanded(&idle[i], now) {
			t.Fatalf("claim %d parked for an endpoint with free slots did not mark it idle", i)
		}
	}
	if got := s.takeIdle(1); len(got) != 1 || got[0].claim.Delivery.ID != "idle-0" {
		t.Fatalf("takeIdle(1) = %v, want idle-0", got)
	}
	if got := s.takeIdle(10); len(got) != 1 || got[0].claim.Delivery.ID != "idle-1" {
		t.Fatalf("takeIdle(10) = %v, want idle-1 alone: the endpoint's cap is %d", got, limit)
	}
	if got := s.takeIdle(10); len(got) != 0 {
		t.Fatalf("takeIdle with the endpoint at its cap = %v, want none", got)
	}
	// The endpoint's finished requests take the rest on.
	if next, _, _ := s.finish("idle", time.Time{}, true); next == nil || next.Delivery.ID != "idle-2" {
		t.Fatalf("finish = %v, want idle-2", next)
	}
	if next, _, _ := s.finish("busy", time.Time{}, true); next == nil || next.Delivery.ID != "busy-2" {
		t.Fatalf("finish = %v, want busy-2", next)
	}
	if ids := s.parkedIDs(); len(ids) != 0 {
		t.Fatalf("parked left: %v", ids)
	}
}

// TestSlotsProgressNeedsSuccess: only a request that succeeded makes its
// endpoint count as getting answers (reserve's deeper bounds); one that
// failed or timed out does not.
func TestSlotsProgressNeedsSuccess(t *testing.T) {
	s := newEndpointSlots(1, 2)
	now := time.Now()
	for _, answered := range []bool{false, true} {
		c := claimsFor("a", 1)
		if fit, _ := s.admit(c); len(fit) != 1 || !s.start(&c[0], now) {
			t.Fatal("a free endpoint refused a claim")
		}
		s.finish("a", now, answered)
		if _, ok := s.lastEnd["a"]; ok != answered {
			t.Fatalf("after a request that succeeded: %v, the endpoint counts as answering: %v", answered, ok)
		}
	}
}

// TestWakeForFullEndpoints: a wake-up that names only endpoints left out
// of claims until they come back to low is dropped, since their return
// asks for a claim itself; one that names any other endpoint, or none, is
// kept, and so is one for an endpoint left out only while the waiting
// budget is spent, whose return below its cap asks for nothing.
func TestWakeForFullEndpoints(t *testing.T) {
	const limit, batch = 2, 4
	d := &Dispatcher{slots: newEndpointSlots(limit, batch), wake: make(chan struct{}, 1)}
	woken := func() bool {
		select {
		case <-d.wake:
			return true
		default:
			return false
		}
	}
	d.slots.admit(claimsFor("a", limit+batch)) // a is full
	for _, tc := range []struct {
		ids  []string
		want bool
	}{
		{nil, true},
		{[]string{}, true},
		{[]string{"a"}, false},
		{[]string{"a", "a"}, false},
		{[]string{"a", "b"}, true},
		{[]string{"b"}, true},
	} {
		d.WakeFor(tc.ids)
		if got := woken(); got != tc.want {
			t.Errorf("WakeFor(%q) with a full: woken %v, want %v", tc.ids, got, tc.want)
		}
	}

	// a comes back to low: the finish that brings it asks for a claim,
	// and a wake-up for it is kept from then on.
	reclaimed := false
	for !reclaimed {
		_, _, reclaimed = d.slots.finish("a", time.Time{}, true)
	}
	if d.WakeFor([]string{"a"}); !woken() {
		t.Error("WakeFor([a]) once a came back to low: not woken")
	}

	// The waiting budget spent (16 waiting): b and c are left out of
	// claims, but c is not full, and nothing would wake the claimer when
	// c ends a request below its cap.
	s := newEndpointSlots(limit, batch)
	d.slots = s
	s.admit(claimsFor("b", limit+2*batch))
	s.admit(claimsFor("c", limit+batch/2+1))
	s.admit(claimsFor("e", limit+batch/2+1))
	s.admit(claimsFor("f", limit+2))
	if !s.waitFull() || !slices.Contains(s.saturated(), "c") {
		t.Fatalf("the budget is not spent (%d waiting) or c not left out (%v)", s.waiting, s.saturated())
	}
	if d.WakeFor([]string{"c"}); !woken() {
		t.Error("WakeFor([c]) with c left out for the budget alone: not woken")
	}
	if d.WakeFor([]string{"b"}); woken() {
		t.Error("WakeFor([b]) with b full: woken")
	}
}
