package dispatch_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
)

// failing answers every request with a 500.
func failing(w http.ResponseWriter, _ *http.Request, _ int) {
	w.WriteHeader(http.StatusInternalServerError)
}

// TestEventTypeRetrySchedule: a message whose event type has its own
// schedule of two delays is tried three times, at those delays, then
// given up; the server's eight-try schedule does not apply to it.
func TestEventTypeRetrySchedule(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if err := e.store.CreateEventType(ctx, &hookbridge.EventType{Name: "order.created",
		RetrySchedule: []time.Duration{time.Minute, time.Hour}}); err != nil {
		t.Fatal(err)
	}
	srv, _ := receiver(t, failing)
	ep, _ := e.endpoint(srv.URL)
	msg := e.publish(`{}`)
	d, _ := e.start(dispatch.Config{})

	e.waitAttempts(msg.ID, 1)
	first := e.clock.Now()
	me := e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSending)
	if delay := me.NextAttempt.Sub(first); delay < 48*time.Second || delay > 72*time.Second {
		t.Errorf("first retry after %s, want the event type's 1m ±20%%", delay)
	}
	e.clock.Advance(2 * time.Minute)
	d.Wake()
	e.waitAttempts(msg.ID, 2)
	second := e.clock.Now()
	me = e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSending)
	if delay := me.NextAttempt.Sub(second); delay < 48*time.Minute || delay > 72*time.Minute {
		t.Errorf("second retry after %s, want the event type's 1h ±20%%", delay)
	}
	e.clock.Advance(2 * time.Hour)
	d.Wake()
	e.waitAttempts(msg.ID, 3)
	if me := e.waitStatus(msg.ID, ep.ID, hookbridge.StatusFail); !me.NextAttempt.IsZero() {
		t.Errorf("given up with a next attempt at %s", me.NextAttempt)
	}
}

// TestEventTypeRetryScheduleChange: the dispatcher keeps an event type's
// schedule for its TTL, and ForgetRetrySchedule makes it read the new one
// at once. An empty schedule means one try, no retry; a type outside the
// catalogue gets the server's schedule.
func TestEventTypeRetryScheduleChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	et := &hookbridge.EventType{Name: "order.created", RetrySchedule: []time.Duration{time.Hour}}
	if err := e.store.CreateEventType(ctx, et); err != nil {
		t.Fatal(err)
	}
	srv, _ := receiver(t, failing)
	ep, _ := e.endpoint(srv.URL)
	d, _ := e.start(dispatch.Config{ScheduleTTL: time.Hour})

	m1 := e.publish(`{"n":1}`)
	d.Wake()
	e.waitAttempts(m1.ID, 1)
	e.waitStatus(m1.ID, ep.ID, hookbridge.StatusSending)

	// Changed in the store behind the dispatcher's back: within the TTL,
	// the kept schedule still applies.
	et.RetrySchedule = []time.Duration{}
	if err := e.store.UpdateEventType(ctx, et); err != nil {
		t.Fatal(err)
	}
	m2 := e.publish(`{"n":2}`)
	d.Wake()
	e.waitAttempts(m2.ID, 1)
	e.waitStatus(m2.ID, ep.ID, hookbridge.StatusSending)

	d.ForgetRetrySchedule(et.Name)
	m3 := e.publish(`{"n":3}`)
	d.Wake()
	e.waitAttempts(m3.ID, 1)
	e.waitStatus(m3.ID, ep.ID, hookbridge.StatusFail)

	other := &hookbridge.Message{AppID: e.app.ID, EventType: "not.in.catalogue", Payload: []byte(`{}`), CreatedAt: e.clock.Now()}
	if _, _, err := e.store.CreateMessage(ctx, other); err != nil {
		t.Fatal(err)
	}
	d.Wake()
	e.waitAttempts(other.ID, 1)
	if me := e.waitStatus(other.ID, ep.ID, hookbridge.StatusSending); me.NextAttempt.Sub(e.clock.Now()) > 6*time.Second {
		t.Errorf("a type outside the catalogue retries at %s, want the server's first delay (5s)", me.NextAttempt)
	}
}
