package dispatch

import (
	"sync"
	"time"

	"github.com/hookbridge/hookbridge"
)

// The handoff: a store in the same process gives the dispatcher the
// deliveries of a new message as it writes them, leased to this dispatcher
// in the same transaction (hookbridge.Handoff). They go to the workers
// after the commit without a claim query, which spares the store a write
// per delivery and the message the wait for the claimer.
//
// The handoff uses the claim pipeline's own bounds. A reservation is
// counted against its endpoint's bounds (endpointSlots) like a claim. One
// for an endpoint that already holds its concurrency limit is bound to wait
// behind those: it counts only against the handoffs' waiting bounds, and is
// parked for its endpoint when taken (endpointSlots.parkHanded; if the
// endpoint has gone idle by then, the claimer moves it on). Any other
// counts as in flight at once, and is refused when that would leave the
// claimer less than a claim batch of room, so retries and held-back
// deliveries are never crowded out by new messages. What is refused is
// written unleased and claimed as usual. So a burst of batch ingest to a
// busy endpoint is handed over up to the waiting bounds, not just up to the
// pipeline's room, and spares the claims that would fetch it back from the
// store.
//
// Take runs on the store's write path, and must never block: the writer
// it would hold up is what the workers' results wait for. It queues only
// reservations counted in flight, and the claimer sizes a claim by the
// room it sees before the query while handoffs may fill that room as the
// query runs, so the workers' queue has room for twice maxInflight.

// handoffState is the handoff's side of Run: whether it may take
// deliveries, and how many reserved ones are still to come.
type handoffState struct {
	mu      sync.Mutex
	open    bool // Run is claiming: Reserve may say yes
	closed  bool // work is closed: Take can queue nothing
	pending int  // reserved, neither taken nor cancelled yet
	// claimRefused says Reserve refused a delivery for want of room since
	// the last Refused: the claimer must look once it is committed.
	claimRefused bool
	// waiting counts, per endpoint, the pending reservations that were
	// bound to wait and so took no room in the pipeline. Reservations of
	// one endpoint are interchangeable in the counts, and the later of a
	// write's are the ones bound to wait: Take counts an endpoint's last
	// claims as these, Cancel (which gives back a write's last) its first.
	waiting map[string]int
	work    chan<- job    // the workers' queue
	settled chan struct{} // capacity 1: pending reached 0 after open ended
}

// Lease implements hookbridge.Handoff: deliveries handed over are leased to
// this dispatcher for the same time as a claim.
func (d *Dispatcher) Lease(now time.Time) (owner string, until time.Time) {
	return d.owner, now.Add(d.lease)
}

// Reserve implements hookbridge.Handoff. It says yes while Run is claiming
// and the endpoint is within its bounds, and, unless the delivery is bound
// to wait for its endpoint, while the pipeline has room beyond a claim
// batch.
func (d *Dispatcher) Reserve(endpointID string) bool {
	h := &d.hand
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.open {
		return false
	}
	ok, waits := d.slots.reserve(endpointID, d.now())
	if !ok {
		// The endpoint is at its bounds, and left out of claims until it
		// comes back to half of them (endpointSlots), which wakes the
		// claimer then: waking it now would only send it past this
		// endpoint's due deliveries for nothing.
		return false
	}
	if waits {
		h.waiting[endpointID]++
		h.pending++
		return true
	}
	for {
		n := d.inflight.Load()
		if n >= d.maxInflight-d.claimMin {
			// The claimer may be asleep with this little room left:
			// wake it once the delivery is committed (Refused).
			h.claimRefused = true
			d.slots.unreserve(endpointID)
			return false
		}
		if d.inflight.CompareAndSwap(n, n+1) {
			break
		}
	}
	h.pending++
	return true
}

// tookWaiting counts up to n pending reservations of the endpoint
// settled, and returns how many of them were bound to wait (see
// handoffState.waiting). h.mu is held.
func (h *handoffState) tookWaiting(endpointID string, n int) int {
	w := min(h.waiting[endpointID], n)
	if w == 0 {
		return 0
	}
	if h.waiting[endpointID] == w {
		delete(h.waiting, endpointID)
	} else {
		h.waiting[endpointID] -= w
	}
	return w
}

// Refused implements hookbridge.Handoff: deliveries Reserve refused were
// committed. Those refused for want of room in the pipeline need the
// claimer, which may be asleep; those refused at their endpoint's bounds
// are claimed when it has room again, without a wake-up now.
func (d *Dispatcher) Refused() {
	h := &d.hand
	h.mu.Lock()
	wake := h.claimRefused
	h.claimRefused = false
	h.mu.Unlock()
	if wake {
		d.Wake()
	}
}

// Take implements hookbridge.Handoff: it queues the committed claims for
// the workers, or parks those bound to wait for their endpoint. The queue
// has room (see above).
func (d *Dispatcher) Take(claims []hookbridge.Claim) {
	if len(claims) == 0 {
		return
	}
	h := &d.hand
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending -= len(claims)
	h.settle()
	if h.closed {
		// Committed after the shutdown stopped waiting for them (see
		// Run): their leases end with this process, or run out.
		d.log.Warn("dispatch: deliveries handed over after shutdown, left to their leases", "count", len(claims))
		return
	}
	now := d.now()
	d.leases.add(claims, now.Add(d.lease))
	// Of each endpoint's claims, the last ones wait: the earlier messages
	// go to the workers first.
	var toQueue map[string]int // endpoint → its claims still to be queued, if any wait
	if len(h.waiting) > 0 {
		count := make(map[string]int)
		for i := range claims {
			count[claims[i].Endpoint.ID]++
		}
		toQueue = make(map[string]int, len(count))
		for id, n := range count {
			toQueue[id] = n - h.tookWaiting(id, n)
		}
	}
	idle := false
	for i := range claims {
		c := &claims[i]
		if toQueue != nil {
			if toQueue[c.Endpoint.ID] == 0 {
				idle = d.slots.parkHanded(c, now) || idle
				continue
			}
			toQueue[c.Endpoint.ID]--
		}
		d.slots.enqueue(c.Endpoint.ID)
		h.work <- job{claim: *c}
	}
	if idle {
		d.wakeIdle() // the claimer moves them on
	}
}

// Cancel implements hookbridge.Handoff: the reserved deliveries were not
// committed.
func (d *Dispatcher) Cancel(endpointIDs []string) {
	h := &d.hand
	h.mu.Lock()
	h.pending -= len(endpointIDs)
	h.settle()
	inflight := 0
	for _, id := range endpointIDs {
		inflight += 1 - h.tookWaiting(id, 1)
	}
	h.mu.Unlock()
	reclaim := false
	for _, id := range endpointIDs {
		reclaim = d.slots.unreserve(id) || reclaim
	}
	for range inflight {
		d.done()
	}
	if reclaim {
		d.Wake()
	}
}

// openHandoff lets Reserve say yes and Take queue on work.
func (d *Dispatcher) openHandoff(work chan<- job) {
	h := &d.hand
	h.mu.Lock()
	defer h.mu.Unlock()
	h.work, h.open, h.settled = work, true, make(chan struct{}, 1)
	h.waiting = make(map[string]int)
}

// closeHandoff refuses new reservations, waits up to wait for the
// deliveries already reserved to be taken or cancelled (a commit in
// progress), and then stops queueing, so that work can be closed.
func (d *Dispatcher) closeHandoff(wait time.Duration) {
	h := &d.hand
	h.mu.Lock()
	h.open = false
	h.mu.Unlock()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		pending := h.pending
		if pending == 0 {
			h.closed = true
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		select {
		case <-h.settled:
		case <-deadline.C:
			h.mu.Lock()
			h.closed = true
			h.mu.Unlock()
			d.log.Warn("dispatch: reserved deliveries not committed by shutdown", "count", pending)
			return
		}
	}
}

// settle signals closeHandoff when the last reservation is settled. h.mu
// is held.
func (h *handoffState) settle() {
	if !h.open && h.pending == 0 {
		select {
		case h.settled <- struct{}{}:
		default:
		}
	}
}

var _ hookbridge.Handoff = (*Dispatcher)(nil)
