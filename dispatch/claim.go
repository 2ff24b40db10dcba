package dispatch

import (
	"context"
	"time"
)

// minIdleWait is the shortest the claimer sleeps when the store reports a
// delivery due that it could not claim, so that a disagreement between
// NextDue and ClaimDeliveries cannot turn the loop into a busy spin.
const minIdleWait = 10 * time.Millisecond

// claim is the claimer: it leases due deliveries in batches and queues them
// for the workers until ctx is done. Store calls use storeCtx, so that a claim
// query in progress when ctx ends still completes and its deliveries are
// released in order rather than left leased.
func (d *Dispatcher) claim(ctx, storeCtx context.Context, work chan<- job) {
	timer := time.NewTimer(d.pollInterval)
	defer timer.Stop()
	for ctx.Err() == nil {
		free := d.maxInflight - d.inflight.Load()
		if free < d.claimMin {
			// Enough is queued to keep every worker busy; wait for the
			// queue to drain to the low-water mark before the next batch.
			select {
			case <-ctx.Done():
				return
			case <-d.capacity:
			}
			continue
		}

		// Handed-over deliveries parked for an endpoint that went idle
		// first: they are in memory already, and only the claimer moves
		// them on (endpointSlots).
		if d.moveIdle(work, free) {
			continue // the room is smaller now
		}

		limit := int(min(free, int64(d.batchSize)))
		now := d.now()
		claims, err := d.store.ClaimDeliveriesSkipping(storeCtx, d.owner, now, d.lease, limit, d.slots.saturated())
		if err != nil {
			d.log.Error("dispatch: claim deliveries", "err", err)
			d.sleep(ctx, timer, d.pollInterval, work)
			continue
		}
		full := len(claims) == limit
		if len(claims) == 0 {
			d.stats.claimEmpty.Inc()
		} else {
			d.stats.claimFound.Inc()
			// Claims beyond an endpoint's cap go back at once; the
			// endpoint is skipped until one of its requests ends.
			var over []string
			if claims, over = d.slots.admit(claims); len(over) > 0 {
				_ = d.release(storeCtx, over) // logged; the leases expire otherwise
			}
		}
		if len(claims) > 0 {
			d.leases.add(claims, now.Add(d.lease))
			// The queue has room for 2×maxInflight, inflight counts every
			// queued claim, the claim kept it within maxInflight and
			// handoffs within maxInflight as well: these sends never block.
			d.inflight.Add(int64(len(claims)))
			ids := make([]string, len(claims))
			for i := range claims {
				ids[i] = claims[i].Endpoint.ID
			}
			d.slots.enqueue(ids...)
			for _, c := range claims {
				work <- job{claim: c}
			}
		}
		if full {
			continue // a full batch: more may be due already
		}
		d.sleep(ctx, timer, d.idleWait(storeCtx, len(claims) == 0), work)
	}
}

// idleWait returns how long to sleep when everything due has been claimed:
// until the next delivery falls due, but no longer than the poll interval.
// claimedNone says the last claim got nothing.
func (d *Dispatcher) idleWait(ctx context.Context, claimedNone bool) time.Duration {
	if len(d.wake) > 0 {
		return 0 // a wake-up is pending; no need to ask
	}
	next, ok, err := d.store.NextDue(ctx)
	if err != nil {
		d.log.Warn("dispatch: next due delivery", "err", err)
		return d.pollInterval
	}
	if !ok {
		return d.pollInterval
	}
	wait := next.Sub(d.now())
	if wait <= 0 && claimedNone {
		// Due, yet not handed out: held back by its endpoint (a rate
		// limit's second is spent, a FIFO head waits for its retry) or
		// skipped at this instance's cap (whose end wakes the claimer).
		// Budgets renew on the second: look again then, not every
		// minIdleWait for as long as a FIFO head waits.
		now := d.now()
		wait = now.Truncate(time.Second).Add(time.Second).Sub(now)
	}
	return min(max(wait, minIdleWait), d.pollInterval)
}

// sleep waits for wait to pass, a Wake, or ctx to be done. Asked to move
// the parked claims of idle endpoints (wakeIdle), it moves them and sleeps
// on: they were in memory, and the store has nothing new, so a claim and
// NextDue would be two queries for nothing. Without room in the pipeline
// for them it returns, and the loop waits for room first.
func (d *Dispatcher) sleep(ctx context.Context, timer *time.Timer, wait time.Duration, work chan<- job) {
	timer.Reset(wait)
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
			return
		case <-timer.C:
			return
		case <-d.idle:
			free := d.maxInflight - d.inflight.Load()
			if free <= 0 {
				return
			}
			d.moveIdle(work, free)
		}
	}
}

// moveIdle queues for the workers, within free, the parked claims of
// endpoints that went idle, and says whether there were any.
func (d *Dispatcher) moveIdle(work chan<- job, free int64) bool {
	ready := d.slots.takeIdle(int(free))
	d.inflight.Add(int64(len(ready)))
	for _, p := range ready {
		work <- job{claim: p.claim, started: true, since: p.since}
	}
	return len(ready) > 0
}
