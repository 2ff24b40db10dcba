package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// newScheduled stores a message created at created and scheduled for
// deliverAt.
func newScheduled(t *testing.T, s hookbridge.Store, appID string, created, deliverAt time.Time) *hookbridge.Message {
	t.Helper()
	m := &hookbridge.Message{AppID: appID, EventType: "order.created", Payload: json.RawMessage(`{}`),
		CreatedAt: created, DeliverAt: deliverAt}
	_, _, err := s.CreateMessage(t.Context(), m)
	ok(t, err)
	return m
}

func testScheduled(t *testing.T, open Opener) {
	open.run(t, "NotDueBeforeDeliverAt", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		ep := newEndpoint(t, s, app.ID, nil)
		later := newScheduled(t, s, app.ID, at(0), at(time.Hour))
		past := newScheduled(t, s, app.ID, at(0), at(-time.Hour)) // a time past is now
		now := newMessage(t, s, app.ID, "order.created", at(0))

		claimed := finish(t, s, at(time.Minute), succeed(at(time.Minute)))
		equal(t, "claimed before deliverAt", ids(claimed, func(c hookbridge.Claim) string { return c.Message.ID }),
			[]string{past.ID, now.ID})
		due, found, err := s.NextDue(t.Context())
		ok(t, err)
		if !found || !due.Equal(at(time.Hour)) {
			t.Errorf("NextDue = %v %v, want the deliverAt", due, found)
		}
		page, err := s.ListMessageEndpoints(t.Context(), app.ID, later.ID, hookbridge.ListOptions{Limit: 10})
		ok(t, err)
		if me := page.Data[0]; me.Status != hookbridge.StatusPending || !me.NextAttempt.Equal(at(time.Hour)) || me.Endpoint.ID != ep.ID {
			t.Errorf("scheduled delivery %s due %v, want pending due at deliverAt", me.Status, me.NextAttempt)
		}
		claimed = claimAll(t, s, "w", at(time.Hour))
		equal(t, "claimed at deliverAt", ids(claimed, func(c hookbridge.Claim) string { return c.Message.ID }), []string{later.ID})
	})

	open.run(t, "ListScheduled", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		other := newApp(t, s, "b")
		newEndpoint(t, s, app.ID, nil)
		newEndpoint(t, s, other.ID, nil)
		m1 := newScheduled(t, s, app.ID, at(0), at(time.Hour))
		m2 := newScheduled(t, s, app.ID, at(time.Second), at(2*time.Hour))
		m3 := newScheduled(t, s, app.ID, at(2*time.Second), at(3*time.Hour))
		newMessage(t, s, app.ID, "order.created", at(3*time.Second))
		newScheduled(t, s, other.ID, at(0), at(time.Hour))
		noEndpoint := newApp(t, s, "c")
		newScheduled(t, s, noEndpoint.ID, at(0), at(time.Hour)) // nothing to send: not listed

		list := func(now time.Time, opt hookbridge.ListOptions) []hookbridge.Message {
			t.Helper()
			return pageAll(t, 2, func(m hookbridge.Message) string { return m.ID },
				func(o hookbridge.ListOptions) (hookbridge.Page[hookbridge.Message], error) {
					return s.ListScheduledMessages(t.Context(), app.ID, now, o)
				}, opt.Order)
		}
		got := list(at(time.Minute), hookbridge.ListOptions{})
		equal(t, "newest first", ids(got, func(m hookbridge.Message) string { return m.ID }), []string{m3.ID, m2.ID, m1.ID})
		if !got[0].DeliverAt.Equal(at(3*time.Hour)) || string(got[0].Payload) != `{}` || got[0].EventType != "order.created" {
			t.Errorf("listed %+v, want the message with its DeliverAt", got[0])
		}
		wantUTC(t, "DeliverAt", got[0].DeliverAt)
		got = list(at(90*time.Minute), hookbridge.ListOptions{Order: hookbridge.OrderAscending})
		equal(t, "after the first one's time, oldest first", ids(got, func(m hookbridge.Message) string { return m.ID }), []string{m2.ID, m3.ID})

		_, err := s.CancelMessage(t.Context(), app.ID, m2.ID, at(time.Minute))
		ok(t, err)
		got = list(at(time.Minute), hookbridge.ListOptions{})
		equal(t, "a cancelled one is not listed", ids(got, func(m hookbridge.Message) string { return m.ID }), []string{m3.ID, m1.ID})
	})

	open.run(t, "Cancel", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep := newEndpoint(t, s, app.ID, nil)
		ep2 := newEndpoint(t, s, app.ID, nil)
		m := newScheduled(t, s, app.ID, at(0), at(time.Hour))
		plain := newMessage(t, s, app.ID, "order.created", at(0))

		n, err := s.CancelMessage(ctx, app.ID, m.ID, at(time.Minute))
		ok(t, err)
		if n != 2 {
			t.Errorf("cancelled %d deliveries, want 2 (one per endpoint)", n)
		}
		page, err := s.ListMessageEndpoints(ctx, app.ID, m.ID, hookbridge.ListOptions{Limit: 10})
		ok(t, err)
		for _, me := range page.Data {
			if me.Status != hookbridge.StatusCanceled || !me.NextAttempt.IsZero() {
				t.Errorf("at %s: %s due %v, want canceled with no next attempt", me.Endpoint.ID, me.Status, me.NextAttempt)
			}
		}
		if claimed := finish(t, s, at(2*time.Hour), succeed(at(2*time.Hour))); len(claimed) != 2 || claimed[0].Message.ID != plain.ID {
			t.Errorf("claimed %d deliveries after deliverAt, want only the plain message's 2", len(claimed))
		}
		st, err := s.EndpointStats(ctx, app.ID, ep.ID, time.Time{}, time.Time{})
		ok(t, err)
		equal(t, "stats", st, hookbridge.EndpointStats{Canceled: 1, Success: 1})
		backlog, err := s.Backlog(ctx, at(2*time.Hour))
		ok(t, err)
		if backlog.Pending != 0 {
			t.Errorf("backlog %+v: a cancelled delivery is not queued work", backlog)
		}

		_, err = s.CancelMessage(ctx, app.ID, m.ID, at(time.Minute))
		wantCode(t, err, hookbridge.ECONFLICT) // nothing left
		_, err = s.CancelMessage(ctx, app.ID, plain.ID, at(time.Minute))
		wantCode(t, err, hookbridge.ECONFLICT) // not scheduled
		_, err = s.CancelMessage(ctx, app.ID, "msg_missing", at(time.Minute))
		wantCode(t, err, hookbridge.ENOTFOUND)
		other := newApp(t, s, "b")
		_, err = s.CancelMessage(ctx, other.ID, m.ID, at(time.Minute))
		wantCode(t, err, hookbridge.ENOTFOUND)

		// A resend after cancelling is a new delivery, sent at once.
		_, err = s.Resend(ctx, app.ID, m.ID, ep2.ID, at(3*time.Hour))
		ok(t, err)
		if claimed := claimAll(t, s, "w", at(3*time.Hour)); len(claimed) != 1 || claimed[0].Message.ID != m.ID {
			t.Errorf("claimed %v after a resend, want the resent delivery", claimed)
		}
	})

	open.run(t, "CancelLeavesWhatIsGoing", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		newEndpoint(t, s, app.ID, nil)
		m := newScheduled(t, s, app.ID, at(0), at(time.Minute))
		if claimed := claimAll(t, s, "w", at(time.Minute)); len(claimed) != 1 {
			t.Fatalf("claimed %d at deliverAt, want 1", len(claimed))
		}
		// Leased: being sent; cancelling is too late.
		_, err := s.CancelMessage(ctx, app.ID, m.ID, at(time.Minute+time.Second))
		wantCode(t, err, hookbridge.ECONFLICT)
		finish(t, s, at(time.Minute+lease), succeed(at(time.Minute+lease)))
		_, err = s.CancelMessage(ctx, app.ID, m.ID, at(time.Hour))
		wantCode(t, err, hookbridge.ECONFLICT)
	})
}
