package dispatch

import (
	"context"
	"time"

	"github.com/hookbridge/hookbridge"
)

// DefaultScheduleTTL is how long the dispatcher keeps an event type's retry
// schedule before reading it again (Config.ScheduleTTL).
const DefaultScheduleTTL = 15 * time.Second

// scheduleReadTimeout bounds the read of an event type's retry schedule:
// a slow store costs the failed delivery the server's schedule, not a
// worker.
const scheduleReadTimeout = 2 * time.Second

// retryFor returns the retry policy of a message of eventType: the event
// type's own schedule (hookbridge.EventType.RetrySchedule), or the
// server's (Config.Retry) when it has none or is not in the catalogue.
//
// Only a failed try asks, and the answer is kept for the schedule TTL, so
// a failing receiver costs one read per event type and TTL, not one per
// try. A change made through this process's API is seen at once
// (ForgetRetrySchedule); one made through another instance sharing the
// store is seen within the TTL. If the read fails, the server's schedule
// is used for this try and the read is made again on the next one.
func (d *Dispatcher) retryFor(ctx context.Context, eventType string) RetryPolicy {
	now := d.now()
	if p, fresh := d.schedules.get(eventType, now, d.scheduleTTL); fresh {
		return p
	}
	ctx, cancel := context.WithTimeout(ctx, scheduleReadTimeout)
	defer cancel()
	et, err := d.store.GetEventType(ctx, eventType)
	var policy RetryPolicy
	switch {
	case err == nil && et.RetrySchedule != nil:
		policy = d.eventTypeSchedule(et.RetrySchedule)
	case err == nil, hookbridge.IsNotFound(err):
		policy = d.retry
	default:
		d.log.Warn("dispatch: reading an event type's retry schedule; using the server's for this try",
			"event_type", eventType, "err", err)
		return d.retry
	}
	d.schedules.put(eventType, now, d.scheduleTTL, policy)
	return policy
}

// eventTypeSchedule is the policy of an event type's own delays, spread
// by the server's jitter.
func (d *Dispatcher) eventTypeSchedule(delays []time.Duration) *Schedule {
	jitter := DefaultJitter
	if s, ok := d.retry.(*Schedule); ok {
		jitter = s.Jitter
	}
	return &Schedule{Delays: delays, Jitter: jitter}
}

// ForgetRetrySchedule drops what the dispatcher keeps of the event type's
// retry schedule, so that its next failed try reads it again: called when
// the schedule changes.
func (d *Dispatcher) ForgetRetrySchedule(eventType string) {
	d.schedules.forget(eventType)
}
