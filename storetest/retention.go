package storetest

import (
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testRetention(t *testing.T, open Opener) {
	open.run(t, "PurgeInboundBefore", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		src := newSource(t, s, nil)
		other := newSource(t, s, nil)
		// Three old and one recent event at src, one old at other; polling
		// saw two old events and a recent one.
		for i, ev := range []*hookbridge.InboundEvent{
			newInbound(src.ID, "evt_1", at(0)), newInbound(src.ID, "evt_2", at(time.Minute)),
			newInbound(src.ID, "evt_3", at(2*time.Minute)), newInbound(src.ID, "evt_new", at(2*time.Hour)),
			newInbound(other.ID, "evt_o", at(0)),
		} {
			if _, created, err := s.CreateInboundEvent(ctx, ev); err != nil || !created {
				t.Fatalf("event %d: created %v, %v", i, created, err)
			}
		}
		_, err := s.AddObservations(ctx, src.ID, []hookbridge.Observation{
			{SourceID: src.ID, EventID: "evt_1", SeenAt: at(time.Minute)},
			{SourceID: src.ID, EventID: "evt_2", SeenAt: at(3 * time.Minute)},
			{SourceID: src.ID, EventID: "evt_new", SeenAt: at(3 * time.Hour)},
		})
		ok(t, err)

		// 4 old events and 2 old observations: batches of 3 take three calls,
		// the last one short.
		cut := at(time.Hour)
		total := purgeInBatches(t, "PurgeInboundBefore", 3, 5, func(limit int) (int, error) {
			return s.PurgeInboundBefore(ctx, cut, limit)
		})
		if total != 6 {
			t.Errorf("purged %d rows, want 4 events and 2 observations", total)
		}
		p, err := s.ListInboundEvents(ctx, src.ID, hookbridge.InboundFilter{ListOptions: hookbridge.ListOptions{Limit: hookbridge.MaxListLimit}})
		ok(t, err)
		equal(t, "events kept", ids(p.Data, func(e hookbridge.InboundEvent) string { return e.EventID }), []string{"evt_new"})
		p, err = s.ListInboundEvents(ctx, other.ID, hookbridge.InboundFilter{ListOptions: hookbridge.ListOptions{Limit: hookbridge.MaxListLimit}})
		ok(t, err)
		if len(p.Data) != 0 {
			t.Errorf("other source kept %d old events", len(p.Data))
		}
		// The recent observation is kept; re-adding a purged one counts as new.
		added, err := s.AddObservations(ctx, src.ID, []hookbridge.Observation{
			{SourceID: src.ID, EventID: "evt_1", SeenAt: at(4 * time.Hour)},
			{SourceID: src.ID, EventID: "evt_new", SeenAt: at(4 * time.Hour)},
		})
		ok(t, err)
		if added != 1 {
			t.Errorf("re-adding a purged and a kept observation added %d, want 1", added)
		}
		// The sources themselves stay.
		_, err = s.GetSource(ctx, src.ID)
		ok(t, err)
	})

	open.run(t, "PurgeBefore", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep1 := newEndpoint(t, s, app.ID, nil)
		ep2 := newEndpoint(t, s, app.ID, nil)
		quiet := newApp(t, s, "no endpoints")

		// Old messages, a minute apart, and their fates:
		// m0 succeeded at both endpoints, m1 failed at both, m2 is still
		// retrying at ep2, m3 succeeded but was resent (pending), m4 was
		// owed to nobody. recent is newer than the cut-off.
		m := make([]*hookbridge.Message, 4)
		for i := range m {
			m[i] = newMessage(t, s, app.ID, "order.created", at(time.Duration(i)*time.Minute))
		}
		m4 := newMessage(t, s, quiet.ID, "order.created", at(4*time.Minute))
		recent := newMessage(t, s, app.ID, "order.created", at(2*time.Hour))
		finish(t, s, at(3*time.Hour), func(c hookbridge.Claim) hookbridge.AttemptResult {
			switch {
			case c.Message.ID == m[1].ID:
				return giveUp(at(3 * time.Hour))(c)
			case c.Message.ID == m[2].ID && c.Endpoint.ID == ep2.ID:
				return hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: attemptFor(c, at(3*time.Hour), 503),
					Status: hookbridge.StatusSending, NextAttempt: at(4 * time.Hour)}
			}
			return succeed(at(3 * time.Hour))(c)
		})
		_, err := s.Resend(ctx, app.ID, m[3].ID, ep1.ID, at(3*time.Hour))
		ok(t, err)

		gone := func(msg *hookbridge.Message) bool {
			t.Helper()
			_, err := s.GetMessage(ctx, msg.AppID, msg.ID)
			if err != nil {
				wantCode(t, err, hookbridge.ENOTFOUND)
				return true
			}
			return false
		}
		cutoff := at(time.Hour)
		// Bounded batches, oldest first: the first deletes m0 alone.
		n, err := s.PurgeBefore(ctx, cutoff, 1)
		ok(t, err)
		if n != 1 || !gone(m[0]) || gone(m[1]) {
			t.Fatalf("first batch of 1 deleted %d (m0 gone %v, m1 gone %v), want m0 only", n, gone(m[0]), gone(m[1]))
		}
		total := n
		for range 10 {
			n, err = s.PurgeBefore(ctx, cutoff, 1)
			ok(t, err)
			if n == 0 {
				break
			}
			total += n
		}
		if total != 3 {
			t.Errorf("purged %d messages in all, want 3 (m0, m1, m4)", total)
		}
		for _, msg := range []*hookbridge.Message{m[0], m[1], m4} {
			if !gone(msg) {
				t.Errorf("message %s, final everywhere and older than the cut-off, was kept", msg.ID)
			}
		}
		for _, msg := range []*hookbridge.Message{m[2], m[3], recent} {
			if gone(msg) {
				t.Errorf("message %s was purged although it is still being delivered or is recent", msg.ID)
			}
		}

		// The attempts went with their messages; the others' stayed.
		atts, err := s.ListAttempts(ctx, app.ID, hookbridge.AttemptFilter{ListOptions: hookbridge.ListOptions{Limit: hookbridge.MaxListLimit}})
		ok(t, err)
		perMsg := map[string]int{}
		for _, a := range atts.Data {
			perMsg[a.MsgID]++
		}
		equal(t, "attempts per message", perMsg, map[string]int{m[2].ID: 2, m[3].ID: 2, recent.ID: 2})
		// And so did their deliveries: the endpoints owe what is left.
		for _, ep := range []*hookbridge.Endpoint{ep1, ep2} {
			p, err := s.ListEndpointMessages(ctx, app.ID, ep.ID, hookbridge.EndpointMessageFilter{})
			ok(t, err)
			equal(t, "messages owed to "+ep.ID, ids(p.Data, func(em hookbridge.EndpointMessage) string { return em.Message.ID }),
				[]string{recent.ID, m[3].ID, m[2].ID})
		}
		// What is still due is still delivered.
		claims := claimAll(t, s, "w", at(4*time.Hour))
		if len(claims) != 2 {
			t.Errorf("claimed %d deliveries after the purge, want m2's retry and m3's resend", len(claims))
		}

		n, err = s.PurgeBefore(ctx, cutoff, 0)
		ok(t, err)
		if n != 0 {
			t.Errorf("PurgeBefore with limit 0 deleted %d", n)
		}
		// Nothing older than the cut-off is left that may go.
		n, err = s.PurgeBefore(ctx, cutoff, 100)
		ok(t, err)
		if n != 0 {
			t.Errorf("a repeated purge deleted %d more", n)
		}
	})
}

// purgeInBatches calls purge with limit until a call purges fewer rows
// than that, and returns how many rows the calls purged in all; it fails
// the test (naming what) once more than fullCalls calls came back full.
func purgeInBatches(t *testing.T, what string, limit, fullCalls int, purge func(limit int) (int, error)) int {
	t.Helper()
	total := 0
	for calls := 1; ; calls++ {
		n, err := purge(limit)
		ok(t, err)
		total += n
		if n < limit {
			return total
		}
		if calls > fullCalls {
			t.Fatalf("%s does not finish", what)
		}
	}
}
