package postgres

import (
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// The handoff (see hookbridge.Handoff): ingest writes the deliveries of a
// new message leased to the dispatcher of this process, in the statement
// that creates them, and gives them to it after the commit, so that they
// cost no claim and no wake-up of any instance.
//
// Ingest reserves between its read and its write, and may try more than
// once (see createMessages): each try settles its own reservations before
// the next one reserves again. A delivery reserved is not always written:
// its message may lose its event id to a concurrent one, its endpoint may
// be deleted meanwhile, and the write may fail. So the write statement
// returns the handed deliveries it inserted, and only those are taken once
// the statement (or, on the last try, the transaction) has committed; the
// rest are cancelled.

// SetHandoff makes the store hand the deliveries of new messages to h, a
// dispatcher in this process, leased to it in the statement that creates
// them (see hookbridge.Handoff). Deliveries h refuses, and those of gated
// endpoints, are written unleased, claimed as usual, and announced with a
// NOTIFY and h.Wake; deliveries handed over are announced to nobody. Nil
// hands nothing over, and NOTIFY announces every new delivery.
func (s *Store) SetHandoff(h hookbridge.Handoff) {
	if h == nil {
		s.handoff.Store(nil)
		return
	}
	s.handoff.Store(&h)
}

var _ hookbridge.HandoffStore = (*Store)(nil)

// handover is one ingest try's dealings with the handoff: what it reserved,
// and what of that the write inserted.
type handover struct {
	h     hookbridge.Handoff // nil: nothing is handed over
	now   time.Time
	owner string    // from h.Lease, asked at the first reservation
	until time.Time // the lease end, as stored

	reserved []hookbridge.Claim // in creation order
	// notOffered and refused say some new deliveries were not handed
	// over: held back by their endpoint (never offered to Reserve), or
	// refused by it. They decide between Handoff.Wake and Refused.
	notOffered, refused bool
	// unhanded are the endpoints of the new deliveries not handed over,
	// once the write is tried: what the NOTIFY names.
	unhanded []string
	// inserted maps the handed deliveries the write statement inserted to
	// their created_at (PostgreSQL's clock); written says the statement
	// succeeded, which outside a transaction means it committed.
	inserted map[string]time.Time
	written  bool
}

// newHandover starts the handover of an ingest try at now, to the store's
// handoff if it has one.
func (s *Store) newHandover(now time.Time) *handover {
	ho := &handover{now: now}
	if h := s.handoff.Load(); h != nil {
		ho.h = *h
	}
	return ho
}

// reserve decides whether a new delivery d of msg to e is handed over:
// only if it is due at once (due), nothing would hold it back in a claim
// (gatedEndpoints: e is not FIFO, rate-limited or paused, and its
// application, appLimited, not rate-limited) and the handoff has room for
// it. A handed delivery is recorded as a claim at once, so that whatever
// happens next settles it.
func (ho *handover) reserve(d hookbridge.Delivery, msg *hookbridge.Message, e *hookbridge.Endpoint, due, appLimited bool) bool {
	switch {
	case ho.h == nil:
		return false
	case !storekit.MayHandOver(e, due, appLimited):
		ho.notOffered = true
		return false
	case !ho.h.Reserve(e.ID):
		ho.refused = true
		return false
	}
	if ho.owner == "" {
		owner, until := ho.h.Lease(ho.now)
		ho.owner, ho.until = owner, storekit.TruncMS(until)
	}
	ho.reserved = append(ho.reserved, hookbridge.Claim{Delivery: d, Message: *msg, Endpoint: *e, LeaseUntil: ho.until})
	return true
}

// lease returns what the write stores as the lease of the deliveries it
// hands over ($15, $16 of insertMessages): NULLs when it hands none.
func (ho *handover) lease() (owner *string, until *time.Time) {
	if len(ho.reserved) == 0 {
		return nil, nil
	}
	return &ho.owner, &ho.until
}

// wrote records that the write statement inserted the handed delivery id,
// created at createdAt.
func (ho *handover) wrote(id string, createdAt time.Time) {
	if ho.inserted == nil {
		ho.inserted = map[string]time.Time{}
	}
	ho.inserted[id] = createdAt.UTC()
}

// settle ends every reservation of the try: if committed, the deliveries
// the write inserted go to Take, in creation order; all others to Cancel.
// It returns how many were taken. A try whose write statement ran outside
// a transaction has committed exactly when it was written.
func (ho *handover) settle(committed bool) (taken int) {
	if len(ho.reserved) == 0 {
		return 0
	}
	var (
		claims    []hookbridge.Claim
		cancelled []string
	)
	for _, c := range ho.reserved {
		createdAt, ok := ho.inserted[c.Delivery.ID]
		if !committed || !ok {
			cancelled = append(cancelled, c.Endpoint.ID)
			continue
		}
		c.Delivery.CreatedAt = createdAt
		claims = append(claims, c)
	}
	ho.reserved, ho.inserted = nil, nil // settled once
	if len(cancelled) > 0 {
		ho.h.Cancel(cancelled)
	}
	if len(claims) > 0 {
		ho.h.Take(claims)
	}
	return len(claims)
}
