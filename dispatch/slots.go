package dispatch

import (
	"slices"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge"
)

// endpointSlots keeps each endpoint's deliveries in this dispatcher within
// bounds. At most limit are being sent (each holding a worker); the rest of
// an endpoint's claims wait for one of those to end, parked without a
// worker. How many wait is bounded twice:
//
//   - per endpoint: an endpoint holding high claims is left out of the next
//     claims until it is down to low (a hysteresis, so that a busy endpoint
//     is claimed for in whole batches, not one delivery at a time), and
//     claims beyond most are released at once;
//   - in all: once maxWaiting claims wait across every endpoint, or the
//     payloads of those parked reach maxParkedBytes, further claims that
//     would wait are released, and every endpoint with limit in flight is
//     left out of the claims until one of them ends.
//
// The slack of a batch or two per endpoint is what keeps one fast endpoint
// from churning: a claim of a full batch for it is kept, not handed back,
// while a receiver that hangs holds limit workers and a bounded queue.
//
// Handoffs (reserve) to an endpoint that is getting answers (one of its
// requests succeeded within the last progressWindow) may keep more waiting
// than claims, handMost per endpoint and handMaxWaiting in all, since a
// delivery handed over is one the claimer need not fetch back from the
// store. An endpoint that hangs gets no more than a claim would, so it
// cannot take that budget from the others. The waiting count is shared:
// while handoffs keep more than maxWaiting waiting, claims that would wait
// are released as above. A handed delivery bound to wait is parked when it
// is taken (parkHanded); if its endpoint has gone idle meanwhile, nothing
// that finishes will send it, so the endpoint is marked idle and the
// claimer moves its parked claims to the workers (takeIdle) within its own
// room.
type endpointSlots struct {
	limit      int // sending per endpoint
	low, high  int // held per endpoint: claimed again at low, left out at high
	most       int // held per endpoint beyond which claims are released
	maxWaiting int // held beyond limit, summed over endpoints
	// handMost and handMaxWaiting are most and maxWaiting for handoffs.
	handMost, handMaxWaiting int
	// maxParkedBytes bounds the payloads of parked claims, so that large
	// messages to hanging receivers cannot fill memory; counts alone would
	// allow maxWaiting times the largest payload.
	maxParkedBytes int

	mu      sync.Mutex
	held    map[string]int // claims of the endpoint: waiting, parked or being sent
	sending map[string]int
	queued  map[string]int            // in the workers' queue, not started yet (enqueue)
	parked  map[string][]*parkedClaim // each allocated once, so that queues that drain from the front copy pointers, not claims
	full    map[string]struct{}       // reached high, not yet back at low
	idle    map[string]struct{}       // parked claims, fewer than limit sending: for takeIdle
	lastEnd map[string]time.Time      // when a request of the endpoint last succeeded (recently: see finish)
	waiting int                       // Σ max(0, held-limit)
	parkedB int                       // payload bytes of the parked claims
}

// defaultMaxParkedBytes is endpointSlots.maxParkedBytes.
const defaultMaxParkedBytes = 32 << 20

// handWaitingBatches sizes the handoffs' waiting bounds in claim batches:
// handMaxWaiting in all, and half of it for one endpoint, so that one busy
// endpoint leaves room for others. With the default batch that is 16 384
// deliveries in all, about 25 MB with small payloads (the payloads
// themselves are bounded by maxParkedBytes).
const handWaitingBatches = 64

// newEndpointSlots sizes the bounds for limit requests in flight per
// endpoint and claims of up to batch deliveries.
func newEndpointSlots(limit, batch int) *endpointSlots {
	return &endpointSlots{
		limit:          limit,
		low:            limit + batch/2,
		high:           limit + batch,
		most:           limit + 2*batch,
		maxWaiting:     4 * batch,
		handMost:       limit + handWaitingBatches/2*batch,
		handMaxWaiting: handWaitingBatches * batch,
		maxParkedBytes: defaultMaxParkedBytes,
		held:           make(map[string]int),
		sending:        make(map[string]int),
		queued:         make(map[string]int),
		parked:         make(map[string][]*parkedClaim),
		full:           make(map[string]struct{}),
		idle:           make(map[string]struct{}),
		lastEnd:        make(map[string]time.Time),
	}
}

// progressWindow is how recently a request to an endpoint must have
// succeeded for handoffs to it to use the deeper bounds; maxLastEnds is
// how many endpoints' last success times are kept before the older ones
// are dropped.
const (
	progressWindow = time.Second
	maxLastEnds    = 1024
)

// admit splits claims into those within their endpoint's bounds, which it
// counts as held, and the ids of those beyond them. fit is claims itself,
// the ones beyond the bounds taken out in place (and the tail left behind
// cleared): nothing is allocated in the common case, where every claim
// fits.
func (s *endpointSlots) admit(claims []hookbridge.Claim) (fit []hookbridge.Claim, over []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fit = slices.DeleteFunc(claims, func(c hookbridge.Claim) bool {
		if s.hold(c.Endpoint.ID, s.most, s.maxWaiting) {
			return false
		}
		over = append(over, c.Delivery.ID)
		return true
	})
	return fit, over
}

// reserve counts one more delivery of the endpoint as held, if its bounds
// allow, for a handoff at now (see handoff.go), and says whether it will
// wait: the endpoint already holds its limit, so it is bound to be parked.
func (s *endpointSlots) reserve(id string, now time.Time) (ok, waits bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	waits = s.held[id] >= s.limit
	most, maxWaiting := s.most, s.maxWaiting
	if end, ok := s.lastEnd[id]; ok && now.Sub(end) < progressWindow {
		most, maxWaiting = s.handMost, s.handMaxWaiting
	}
	return s.hold(id, most, maxWaiting), waits
}

// unreserve gives back a reservation whose delivery never came, and says
// whether the claimer should look again (as finish does).
func (s *endpointSlots) unreserve(id string) (reclaim bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unhold(id)
}

// hold counts one more claim of the endpoint as held, if its bounds allow.
// s.mu is held.
func (s *endpointSlots) hold(id string, most, maxWaiting int) bool {
	n := s.held[id]
	if n >= s.limit {
		if n >= most || s.waiting >= maxWaiting || s.parkedB >= s.maxParkedBytes {
			return false
		}
		s.waiting++
	}
	s.held[id] = n + 1
	if n+1 >= s.high {
		s.full[id] = struct{}{}
	}
	return true
}

// unhold counts one claim of the endpoint less, and says whether the
// claimer should look again: the endpoint came back from high to low, or
// the waiting budget has room again. s.mu is held.
func (s *endpointSlots) unhold(id string) (reclaim bool) {
	n := s.held[id]
	if n > s.limit {
		full := s.waitFull()
		s.waiting--
		reclaim = full && !s.waitFull()
	}
	if n--; n > 0 {
		s.held[id] = n
	} else {
		delete(s.held, id)
	}
	if _, ok := s.full[id]; ok && n <= s.low {
		delete(s.full, id)
		reclaim = true
	}
	return reclaim
}

// parkedClaim is a claim waiting for its endpoint, since when.
type parkedClaim struct {
	claim hookbridge.Claim
	since time.Time
}

// enqueue counts claims of the endpoints ids as put in the workers' queue,
// where start takes them out: an endpoint with as many queued and sending
// as its limit is not idle (parkHanded), though no request of it has
// started yet.
func (s *endpointSlots) enqueue(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.queued[id]++
	}
}

// start takes a queued claim c out of the queue (enqueue), and takes a
// sending slot for it and reports true, or parks a copy of c, waiting since
// now, when its endpoint has none free.
func (s *endpointSlots) start(c *hookbridge.Claim, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.queued[c.Endpoint.ID]; n > 1 {
		s.queued[c.Endpoint.ID] = n - 1
	} else {
		delete(s.queued, c.Endpoint.ID)
	}
	if s.parkIfBusyLocked(c, now) {
		return false
	}
	s.sending[c.Endpoint.ID]++
	return true
}

// parkIfBusyLocked parks a copy of c, waiting since now, if its endpoint
// has no sending slot free, and reports whether it did: a worker that
// finishes one of the endpoint's requests takes it from there. s.mu is
// held.
func (s *endpointSlots) parkIfBusyLocked(c *hookbridge.Claim, now time.Time) bool {
	if s.sending[c.Endpoint.ID] < s.limit {
		return false
	}
	s.park(c, now)
	return true
}

// park queues a copy of c for its endpoint, waiting since now. s.mu is
// held.
func (s *endpointSlots) park(c *hookbridge.Claim, now time.Time) {
	id := c.Endpoint.ID
	s.parked[id] = append(s.parked[id], &parkedClaim{claim: *c, since: now})
	s.parkedB += len(c.Message.Payload)
}

// parkHanded parks a handed-over claim that was bound to wait (reserve),
// and reports whether its endpoint has a sending slot free that no queued
// claim will take: then the claimer must move it on (takeIdle), since no
// request of the endpoint that finishes would.
func (s *endpointSlots) parkHanded(c *hookbridge.Claim, now time.Time) (idle bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.park(c, now)
	if s.free(c.Endpoint.ID) {
		s.idle[c.Endpoint.ID] = struct{}{}
		return true
	}
	return false
}

// takeIdle takes up to room parked claims of endpoints marked idle, each
// with a sending slot taken for it, for the caller to queue as started.
func (s *endpointSlots) takeIdle(room int) []*parkedClaim {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*parkedClaim
	for id := range s.idle {
		for room > len(out) && s.free(id) && len(s.parked[id]) > 0 {
			out = append(out, s.pop(id))
			s.sending[id]++
		}
		if len(s.parked[id]) == 0 || !s.free(id) {
			// Nothing left, or its finishing requests take it on.
			delete(s.idle, id)
		}
		if len(out) == room {
			break
		}
	}
	return out
}

// free says the endpoint has a sending slot that no queued claim will
// take. s.mu is held.
func (s *endpointSlots) free(id string) bool {
	return s.sending[id]+s.queued[id] < s.limit
}

// pop takes the endpoint's first parked claim, which must exist. s.mu is
// held.
func (s *endpointSlots) pop(id string) *parkedClaim {
	q := s.parked[id]
	p := q[0]
	s.parkedB -= len(p.claim.Message.Payload)
	q[0] = nil // the queue keeps no reference to it
	if len(q) == 1 {
		delete(s.parked, id)
	} else {
		s.parked[id] = q[1:]
	}
	return p
}

// parkedIDs empties every parked queue and returns the deliveries it held,
// for a shutdown to release.
func (s *endpointSlots) parkedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, q := range s.parked {
		for _, p := range q {
			ids = append(ids, p.claim.Delivery.ID)
		}
		delete(s.parked, id)
	}
	clear(s.idle)
	s.parkedB = 0
	return ids
}

// finish ends a claim of the endpoint at now: it gives back its slots, and
// returns the endpoint's next parked claim (its slot taken) for the caller
// to send, with when it was parked, and whether the claimer should look
// again: the endpoint came back from high to low, or the waiting budget
// has room again. If answered (the request succeeded), the endpoint counts
// as getting answers from now (see reserve).
func (s *endpointSlots) finish(id string, now time.Time, answered bool) (next *hookbridge.Claim, since time.Time, reclaim bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if answered {
		if len(s.lastEnd) >= maxLastEnds {
			for k, t := range s.lastEnd {
				if now.Sub(t) >= progressWindow {
					delete(s.lastEnd, k)
				}
			}
		}
		s.lastEnd[id] = now
	}
	reclaim = s.unhold(id)
	if len(s.parked[id]) > 0 {
		full := s.waitFull()
		p := s.pop(id)
		reclaim = reclaim || full && !s.waitFull()
		return &p.claim, p.since, reclaim
	}
	if n := s.sending[id] - 1; n > 0 {
		s.sending[id] = n
	} else {
		delete(s.sending, id)
	}
	return nil, time.Time{}, reclaim
}

// waitFull says no more claims may wait: either bound in all is reached.
// s.mu is held.
func (s *endpointSlots) waitFull() bool {
	return s.waiting >= s.maxWaiting || s.parkedB >= s.maxParkedBytes
}

// allFull says every endpoint of ids is left out of claims until it comes
// back to low, whose unhold asks the claimer to look again. Endpoints left
// out only while the waiting budget is spent do not count: one of those
// that ends a request below its limit is not announced.
func (s *endpointSlots) allFull(ids []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, ok := s.full[id]; !ok {
			return false
		}
	}
	return true
}

// saturated returns the endpoints the next claim should leave out; nil when
// there are none.
func (s *endpointSlots) saturated() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waitFull() {
		// No claim may wait now: leave out every endpoint whose claims
		// would.
		ids := make([]string, 0, len(s.held))
		for id, n := range s.held {
			if n >= s.limit {
				ids = append(ids, id)
			}
		}
		return ids
	}
	if len(s.full) == 0 {
		return nil
	}
	ids := make([]string, 0, len(s.full))
	for id := range s.full {
		ids = append(ids, id)
	}
	return ids
}
