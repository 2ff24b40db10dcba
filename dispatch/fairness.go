package dispatch

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookbridge/hookbridge"
)

// The dispatcher's manners: what keeps one receiver from hurting the others,
// and what the dispatcher tells the store and the operator about receivers.
//
//   - Concurrency: at most EndpointConcurrency requests to one endpoint are
//     in flight in this dispatcher; its other claims wait for them, parked,
//     holding no worker. How many may wait is bounded per endpoint and in
//     all (endpointSlots, in slots.go): an endpoint with enough waiting is
//     left out of the next claims (Store.ClaimDeliveriesSkipping) until it
//     is down to half of that, and claims beyond the bounds are released
//     at once. So a receiver that hangs holds that many workers, never the
//     pool. The cap is per instance: N instances may have N times as many
//     in flight.
//   - Rate limits, pauses and FIFO are the store's (ClaimDeliveries hands out
//     only what they allow), so that every instance keeps them together.
//   - Health: what an attempt says about its endpoint — a success after
//     failures, the first failure of a run, a Retry-After on a 429 or 503, a
//     410 Gone, a failure once the endpoint has failed for DisableAfter — is
//     reported to the store (Store.RecordEndpointHealth) with the batch of
//     results it came with. Only attempts that change something are
//     reported: an endpoint that keeps succeeding costs nothing.
//   - Events: an endpoint disabled, a message whose retries ran out, a
//     message failing its fourth try or succeeding after it are recorded
//     by the store with the result or the disabling they report
//     (hookbridge.OperationalEvent), and Config.EventsRecorded is called
//     so that they become operational webhooks at once.

// endpointMarks remembers endpoints until a time: those this dispatcher
// saw answer 410, for a lease's time, and those that asked it to back off
// (429 or 503 with Retry-After), until the pause ends. Claims it already
// holds say nothing of either (they were claimed before), so workers look
// here before sending: a claim to a gone endpoint is given up without a
// request, one to a paused endpoint is released, for the claim to hand
// out again when the pause, by then in the store, allows. After its time
// every claim reads the endpoint as the store has it.
type endpointMarks struct {
	any   atomic.Bool // whether until may hold anything: the hot path's only cost
	mu    sync.Mutex
	until map[string]time.Time
}

func (g *endpointMarks) mark(id string, until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.until == nil {
		g.until = make(map[string]time.Time)
	}
	if until.After(g.until[id]) {
		g.until[id] = until
	}
	g.any.Store(true)
}

// has reports whether id is marked at now.
func (g *endpointMarks) has(id string, now time.Time) bool {
	if !g.any.Load() {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.until[id]
	if ok && !now.Before(until) {
		delete(g.until, id)
		ok = false
	}
	g.any.Store(len(g.until) > 0)
	return ok
}

// FailingAfter is the failed try after which message.attempt.failing is sent,
// as in Svix: the fourth, one message.attempt.failing per delivery that
// keeps failing. A delivery that succeeds after it was sent sends
// message.attempt.recovered.
const FailingAfter = 4

// observe decides what an attempt at c tells about its endpoint, which it
// returns (nil when nothing: the common case, it succeeded as the endpoint
// did before), and about the operator, which it sets as res.Event.
func (d *Dispatcher) observe(c *hookbridge.Claim, res *hookbridge.AttemptResult, code int, retryAfter time.Duration) *hookbridge.EndpointReport {
	a := res.Attempt
	ep := &c.Endpoint
	var (
		report *hookbridge.EndpointReport
		event  string
	)
	if a.Status == hookbridge.StatusSuccess {
		if !ep.FailingSince.IsZero() {
			report = &hookbridge.EndpointReport{EndpointID: ep.ID, At: a.CreatedAt, Success: true}
		}
		// Every earlier try of a delivery failed (it would be final
		// otherwise), so FailingAfter of them mean that
		// message.attempt.failing went out for it.
		if c.Delivery.Trigger == hookbridge.TriggerScheduled && c.Delivery.Attempts >= FailingAfter {
			event = hookbridge.EventAttemptRecovered
		}
	} else {
		r := hookbridge.EndpointReport{EndpointID: ep.ID, At: a.CreatedAt}
		changed := ep.FailingSince.IsZero() ||
			(d.disableAfter > 0 && a.CreatedAt.Sub(ep.FailingSince) >= d.disableAfter)
		if code == http.StatusGone {
			r.Gone, changed = true, true
			d.gone.mark(ep.ID, a.CreatedAt.Add(d.lease))
		}
		if retryAfter > 0 {
			r.PauseUntil, changed = a.CreatedAt.Add(min(retryAfter, d.maxPause)), true
			d.paused.mark(ep.ID, r.PauseUntil)
		}
		if changed {
			report = &r
		}
		if c.Delivery.Trigger == hookbridge.TriggerScheduled && !r.Gone {
			switch {
			case res.Status == hookbridge.StatusFail:
				event = hookbridge.EventAttemptExhausted
			case c.Delivery.Attempts+1 == FailingAfter:
				event = hookbridge.EventAttemptFailing
			}
		}
	}
	if event != "" {
		res.Event = &hookbridge.OperationalEvent{Type: event, AppID: c.Delivery.AppID, EndpointID: ep.ID,
			MsgID: c.Message.ID, MsgEventID: c.Message.EventID}
	}
	return report
}

// reportHealth writes the batch's endpoint reports. The store records an
// operational event for each endpoint it disables.
func (d *Dispatcher) reportHealth(ctx context.Context, reports []hookbridge.EndpointReport) {
	var disableBefore time.Time
	if d.disableAfter > 0 {
		disableBefore = d.now().Add(-d.disableAfter)
	}
	var disabled []hookbridge.DisabledEndpoint
	err := d.retryWrite(ctx, func(ctx context.Context) (err error) {
		disabled, err = d.store.RecordEndpointHealth(ctx, reports, disableBefore)
		return err
	})
	if err != nil {
		// Health is advisory: the next attempt reports again.
		d.log.Error("dispatch: record endpoint health", "count", len(reports), "err", err)
	}
	for _, e := range disabled {
		d.log.Warn("dispatch: endpoint disabled", "app", e.AppID, "endpoint", e.EndpointID,
			"reason", disableReason(e.Reason), "failing_since", e.FailingSince)
	}
	if len(disabled) > 0 {
		d.eventsRecorded()
	}
}

// eventsRecorded tells whoever turns recorded operational events into
// messages that there are new ones.
func (d *Dispatcher) eventsRecorded() {
	if d.onEvents != nil {
		d.onEvents()
	}
}

func disableReason(r hookbridge.DisableReason) string {
	switch r {
	case hookbridge.DisabledGone:
		return "410 Gone"
	case hookbridge.DisabledFailing:
		return "failing continuously"
	}
	return "unknown"
}
