package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testDeliveries(t *testing.T, open Opener) {
	open.run(t, "ClaimDueEarliestFirst", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		newEndpoint(t, s, app.ID, nil)
		// Created in an order unlike their due order, so that neither
		// creation order nor its reverse gives the due order.
		m3 := newMessage(t, s, app.ID, "order.created", at(3*time.Second))
		m1 := newMessage(t, s, app.ID, "order.created", at(1*time.Second))
		m5 := newMessage(t, s, app.ID, "order.created", at(5*time.Second))
		m2 := newMessage(t, s, app.ID, "order.created", at(2*time.Second))
		m4 := newMessage(t, s, app.ID, "order.created", at(4*time.Second))

		claimed := func(claims []hookbridge.Claim) []string {
			return ids(claims, func(c hookbridge.Claim) string { return c.Message.ID })
		}
		for _, step := range []struct {
			name  string
			now   time.Time
			limit int
			want  []string
		}{
			{"NothingDue", at(0), 10, nil},
			{"DueAtOrBeforeNow", at(2 * time.Second), 10, []string{m1.ID, m2.ID}},
			{"LimitTakesEarliest", at(5 * time.Second), 2, []string{m3.ID, m4.ID}},
			{"Rest", at(5 * time.Second), 10, []string{m5.ID}},
			{"AllLeased", at(6 * time.Second), 10, nil},
		} {
			claims, err := s.ClaimDeliveries(ctx, "w", step.now, lease, step.limit)
			ok(t, err)
			equal(t, step.name, claimed(claims), step.want)
			for _, c := range claims {
				if !c.LeaseUntil.Equal(step.now.Add(lease)) {
					t.Errorf("%s: LeaseUntil = %v, want %v", step.name, c.LeaseUntil, step.now.Add(lease))
				}
			}
		}
	})

	open.run(t, "Leases", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		newEndpoint(t, s, app.ID, nil)
		newMessage(t, s, app.ID, "order.created", at(0))

		a := claimAll(t, s, "a", at(0))
		if len(a) != 1 {
			t.Fatalf("a claimed %d, want 1", len(a))
		}
		if b := claimAll(t, s, "b", at(lease-time.Millisecond)); len(b) != 0 {
			t.Fatalf("b claimed a live lease: %+v", b)
		}
		// The lease ran out (a crashed, or is slow): b takes over.
		b := claimAll(t, s, "b", at(lease+time.Second))
		if len(b) != 1 || b[0].Delivery.ID != a[0].Delivery.ID {
			t.Fatalf("b claimed %+v, want the expired delivery", b)
		}

		// a's late result is rejected whole: no attempt, no state change.
		late := hookbridge.AttemptResult{DeliveryID: a[0].Delivery.ID, Attempt: attemptFor(a[0], at(lease+2*time.Second), 200), Status: hookbridge.StatusSuccess}
		rejected, err := s.RecordAttempts(ctx, "a", []hookbridge.AttemptResult{late})
		ok(t, err)
		equal(t, "rejected", rejected, []string{a[0].Delivery.ID})
		atts, err := s.ListAttempts(ctx, app.ID, hookbridge.AttemptFilter{})
		ok(t, err)
		if len(atts.Data) != 0 {
			t.Fatalf("a rejected result wrote attempts: %+v", atts.Data)
		}
		if c := claimAll(t, s, "c", at(lease+2*time.Second)); len(c) != 0 {
			t.Fatalf("the rejected result freed the delivery: %+v", c)
		}

		// b, the owner, records.
		rejected, err = s.RecordAttempts(ctx, "b", []hookbridge.AttemptResult{{DeliveryID: b[0].Delivery.ID, Attempt: attemptFor(b[0], at(lease+2*time.Second), 200), Status: hookbridge.StatusSuccess}})
		ok(t, err)
		if len(rejected) != 0 {
			t.Fatalf("owner's result rejected: %v", rejected)
		}
		// Once recorded, the lease is over: nobody may record again.
		rejected, err = s.RecordAttempts(ctx, "b", []hookbridge.AttemptResult{{DeliveryID: b[0].Delivery.ID, Status: hookbridge.StatusFail}})
		ok(t, err)
		equal(t, "second record", rejected, []string{b[0].Delivery.ID})
		// A delivery that does not exist is rejected too.
		gone := hookbridge.NewID(hookbridge.PrefixDelivery)
		rejected, err = s.RecordAttempts(ctx, "b", []hookbridge.AttemptResult{{DeliveryID: gone, Status: hookbridge.StatusFail}})
		ok(t, err)
		equal(t, "unknown delivery", rejected, []string{gone})

		// A batch naming a delivery twice is recorded as the two would be
		// one at a time: the first result ends the lease, the second is
		// rejected and writes nothing.
		newMessage(t, s, app.ID, "order.created", at(0))
		d := claimAll(t, s, "d", at(lease+3*time.Second))
		if len(d) != 1 {
			t.Fatalf("d claimed %d, want 1", len(d))
		}
		first := hookbridge.AttemptResult{DeliveryID: d[0].Delivery.ID, Attempt: attemptFor(d[0], at(lease+4*time.Second), 200), Status: hookbridge.StatusSuccess}
		again := hookbridge.AttemptResult{DeliveryID: d[0].Delivery.ID, Attempt: attemptFor(d[0], at(lease+5*time.Second), 500), Status: hookbridge.StatusFail}
		rejected, err = s.RecordAttempts(ctx, "d", []hookbridge.AttemptResult{first, again})
		ok(t, err)
		equal(t, "repeated result", rejected, []string{d[0].Delivery.ID})
		atts, err = s.ListAttempts(ctx, app.ID, hookbridge.AttemptFilter{MsgID: d[0].Message.ID})
		ok(t, err)
		if len(atts.Data) != 1 || atts.Data[0].ID != first.Attempt.ID || atts.Data[0].StatusCode != 200 {
			t.Fatalf("attempts after a repeated result: %+v, want only the first", atts.Data)
		}
		got, err := s.ListMessageEndpoints(ctx, app.ID, d[0].Message.ID, hookbridge.ListOptions{})
		ok(t, err)
		if len(got.Data) != 1 || got.Data[0].Status != hookbridge.StatusSuccess {
			t.Fatalf("state after a repeated result: %+v, want the first result's", got.Data)
		}
	})

	open.run(t, "Transitions", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep := newEndpoint(t, s, app.ID, nil)
		mOK := newMessage(t, s, app.ID, "order.created", at(0))
		mFail := newMessage(t, s, app.ID, "order.created", at(0))
		mRetry := newMessage(t, s, app.ID, "order.created", at(0))
		mSkip := newMessage(t, s, app.ID, "order.created", at(0))

		claims := claimAll(t, s, "w", at(0))
		byMsg := map[string]hookbridge.Claim{}
		for _, c := range claims {
			byMsg[c.Message.ID] = c
		}
		retryAt := at(5 * time.Second)
		results := []hookbridge.AttemptResult{
			{DeliveryID: byMsg[mOK.ID].Delivery.ID, Attempt: attemptFor(byMsg[mOK.ID], at(time.Second), 204), Status: hookbridge.StatusSuccess},
			{DeliveryID: byMsg[mFail.ID].Delivery.ID, Attempt: attemptFor(byMsg[mFail.ID], at(time.Second), 410), Status: hookbridge.StatusFail},
			{DeliveryID: byMsg[mRetry.ID].Delivery.ID, Attempt: attemptFor(byMsg[mRetry.ID], at(time.Second), 0), Status: hookbridge.StatusSending, NextAttempt: retryAt},
			// No HTTP try: the endpoint went away. No attempt row, no try counted.
			{DeliveryID: byMsg[mSkip.ID].Delivery.ID, Status: hookbridge.StatusFail},
		}
		rejected, err := s.RecordAttempts(ctx, "w", results)
		ok(t, err)
		if len(rejected) != 0 {
			t.Fatalf("rejected %v", rejected)
		}

		want := map[string]hookbridge.EndpointMessage{
			mOK.ID:    {Message: *mOK, Status: hookbridge.StatusSuccess},
			mFail.ID:  {Message: *mFail, Status: hookbridge.StatusFail},
			mRetry.ID: {Message: *mRetry, Status: hookbridge.StatusSending, NextAttempt: retryAt},
			mSkip.ID:  {Message: *mSkip, Status: hookbridge.StatusFail},
		}
		p, err := s.ListEndpointMessages(ctx, app.ID, ep.ID, hookbridge.EndpointMessageFilter{})
		ok(t, err)
		if len(p.Data) != len(want) {
			t.Errorf("endpoint lists %d messages, want %d", len(p.Data), len(want))
		}
		for _, em := range p.Data {
			equal(t, "state of "+em.Message.ID, em, want[em.Message.ID])
		}
		atts, err := s.ListAttempts(ctx, app.ID, hookbridge.AttemptFilter{})
		ok(t, err)
		if len(atts.Data) != 3 {
			t.Errorf("got %d attempts, want 3 (none for the skipped delivery)", len(atts.Data))
		}

		// Only the retry comes back, when it is due, having one try behind it.
		if c := claimAll(t, s, "w", retryAt.Add(-time.Millisecond)); len(c) != 0 {
			t.Fatalf("claimed before the retry was due: %+v", c)
		}
		again := claimAll(t, s, "w", retryAt)
		if len(again) != 1 || again[0].Message.ID != mRetry.ID {
			t.Fatalf("claimed %+v, want the retry", again)
		}
		d := again[0].Delivery
		if d.Status != hookbridge.StatusSending || d.Attempts != 1 || !d.NextAttempt.Equal(retryAt) {
			t.Errorf("retried delivery %+v, want sending, 1 attempt, due %v", d, retryAt)
		}
		_, err = s.RecordAttempts(ctx, "w", []hookbridge.AttemptResult{{DeliveryID: d.ID, Attempt: attemptFor(again[0], retryAt, 200), Status: hookbridge.StatusSuccess}})
		ok(t, err)
		if c := claimAll(t, s, "w", at(24*time.Hour)); len(c) != 0 {
			t.Fatalf("final deliveries claimed again: %+v", c)
		}
		if _, due, err := s.NextDue(ctx); err != nil || due {
			t.Errorf("NextDue = %v, %v; want nothing due", due, err)
		}
	})

	open.run(t, "RenewLeases", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		a := claimTwo(t, s)
		// a renews the first; "b" cannot renew what it does not hold.
		ok(t, s.RenewLeases(ctx, "a", []string{a[0].Delivery.ID}, at(2*time.Minute)))
		ok(t, s.RenewLeases(ctx, "b", []string{a[1].Delivery.ID}, at(2*time.Minute)))
		b, err := s.ClaimDeliveries(ctx, "b", at(time.Minute), time.Hour, 10)
		ok(t, err)
		if len(b) != 1 || b[0].Delivery.ID != a[1].Delivery.ID {
			t.Fatalf("b claimed %+v, want only the unrenewed delivery", b)
		}
		c := claimAll(t, s, "c", at(2*time.Minute+time.Millisecond))
		if len(c) != 1 || c[0].Delivery.ID != a[0].Delivery.ID {
			t.Fatalf("c claimed %+v, want the renewed delivery once its new lease ended", c)
		}
	})

	open.run(t, "ReleaseDeliveries", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		a := claimTwo(t, s)
		ok(t, s.ReleaseDeliveries(ctx, "b", []string{a[0].Delivery.ID, a[1].Delivery.ID})) // not b's to release
		ok(t, s.ReleaseDeliveries(ctx, "a", []string{a[0].Delivery.ID}))
		b := claimAll(t, s, "b", at(0))
		if len(b) != 1 || b[0].Delivery.ID != a[0].Delivery.ID {
			t.Fatalf("b claimed %+v, want the released delivery", b)
		}
		before, after := a[0].Delivery, b[0].Delivery
		before.UpdatedAt, after.UpdatedAt = time.Time{}, time.Time{}
		equal(t, "released delivery unchanged", after, before)
	})

	open.run(t, "NextDue", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		wantDue := func(want time.Time) {
			t.Helper()
			got, due, err := s.NextDue(ctx)
			ok(t, err)
			switch {
			case want.IsZero() && due:
				t.Errorf("NextDue = %v, want nothing due", got)
			case !want.IsZero() && (!due || !got.Equal(want)):
				t.Errorf("NextDue = %v, %v; want %v", got, due, want)
			}
		}
		wantDue(time.Time{})
		app := newApp(t, s, "a")
		newEndpoint(t, s, app.ID, nil)
		newMessage(t, s, app.ID, "order.created", at(10*time.Second))
		newMessage(t, s, app.ID, "order.created", at(5*time.Second))
		wantDue(at(5 * time.Second))

		// The delivery due at 5s is leased until 5s+lease, after the other is due.
		first, err := s.ClaimDeliveries(ctx, "w", at(5*time.Second), lease, 1)
		ok(t, err)
		wantDue(at(10 * time.Second))
		// With both leased, the earliest lease end.
		second, err := s.ClaimDeliveries(ctx, "w", at(10*time.Second), lease, 1)
		ok(t, err)
		wantDue(at(5*time.Second + lease))
		_, err = s.RecordAttempts(ctx, "w", []hookbridge.AttemptResult{
			{DeliveryID: first[0].Delivery.ID, Attempt: attemptFor(first[0], at(6*time.Second), 200), Status: hookbridge.StatusSuccess},
		})
		ok(t, err)
		wantDue(at(10*time.Second + lease))
		_, err = s.RecordAttempts(ctx, "w", []hookbridge.AttemptResult{
			{DeliveryID: second[0].Delivery.ID, Attempt: attemptFor(second[0], at(11*time.Second), 500), Status: hookbridge.StatusSending, NextAttempt: at(time.Hour)},
		})
		ok(t, err)
		wantDue(at(time.Hour))
	})

	open.run(t, "Resend", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		subscribed := newEndpoint(t, s, app.ID, nil)
		// Does not subscribe to the message's type: a resend goes anyway.
		unsubscribed := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.EventTypes = []string{"refund.failed"} })
		m := newMessage(t, s, app.ID, "order.created", at(0))
		finish(t, s, at(0), succeed(at(0)))

		for _, ep := range []*hookbridge.Endpoint{subscribed, unsubscribed} {
			d, err := s.Resend(ctx, app.ID, m.ID, ep.ID, at(time.Minute))
			ok(t, err)
			if d.MsgID != m.ID || d.EndpointID != ep.ID || d.AppID != app.ID || d.Trigger != hookbridge.TriggerManual ||
				d.Status != hookbridge.StatusPending || !d.NextAttempt.Equal(at(time.Minute)) || d.Attempts != 0 ||
				!hookbridge.HasPrefix(d.ID, hookbridge.PrefixDelivery) {
				t.Errorf("Resend returned %+v, want a pending manual delivery due at %v", d, at(time.Minute))
			}
		}
		// The message is pending again at both endpoints: the latest delivery counts.
		p, err := s.ListMessageEndpoints(ctx, app.ID, m.ID, hookbridge.ListOptions{})
		ok(t, err)
		want := []hookbridge.MessageEndpoint{
			{Endpoint: *subscribed, Status: hookbridge.StatusPending, NextAttempt: at(time.Minute)},
			{Endpoint: *unsubscribed, Status: hookbridge.StatusPending, NextAttempt: at(time.Minute)},
		}
		slices.SortFunc(want, func(a, b hookbridge.MessageEndpoint) int {
			if a.Endpoint.ID < b.Endpoint.ID {
				return -1
			}
			return 1
		})
		equal(t, "message endpoints after resend", p.Data, want)

		claims := claimAll(t, s, "w", at(time.Minute))
		if len(claims) != 2 {
			t.Fatalf("claimed %d, want the 2 resends", len(claims))
		}
		for _, c := range claims {
			if c.Delivery.Trigger != hookbridge.TriggerManual {
				t.Errorf("claimed %+v, want a manual delivery", c.Delivery)
			}
		}

		b := newApp(t, s, "b")
		_, err = s.Resend(ctx, app.ID, hookbridge.NewID(hookbridge.PrefixMessage), subscribed.ID, at(time.Minute))
		wantCode(t, err, hookbridge.ENOTFOUND)
		_, err = s.Resend(ctx, app.ID, m.ID, hookbridge.NewID(hookbridge.PrefixEndpoint), at(time.Minute))
		wantCode(t, err, hookbridge.ENOTFOUND)
		_, err = s.Resend(ctx, b.ID, m.ID, subscribed.ID, at(time.Minute))
		wantCode(t, err, hookbridge.ENOTFOUND)
	})
}

// testConcurrency claims from several goroutines at once: no delivery may
// be handed to two of them.
func testConcurrency(t *testing.T, open Opener) {
	open.run(t, "ClaimNeverDuplicates", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		newEndpoint(t, s, app.ID, nil)
		newEndpoint(t, s, app.ID, nil)
		const messages = 100 // two deliveries each
		for i := range messages {
			newMessage(t, s, app.ID, "order.created", at(time.Duration(i)*time.Millisecond))
		}

		const workers = 8
		var (
			mu      sync.Mutex
			claimed = map[string]string{} // delivery id -> owner
			wg      sync.WaitGroup
			errs    = make(chan error, workers)
		)
		for w := range workers {
			owner := string(rune('a' + w))
			wg.Go(func() {
				// Each round claims at least one delivery, so more rounds
				// than deliveries means deliveries are handed out twice.
				for range 2 * messages {
					claims, err := s.ClaimDeliveries(t.Context(), owner, at(time.Hour), time.Hour, 7)
					if err != nil {
						errs <- err
						return
					}
					if len(claims) == 0 {
						return
					}
					mu.Lock()
					for _, c := range claims {
						if prev, dup := claimed[c.Delivery.ID]; dup {
							t.Errorf("delivery %s claimed by %s and %s", c.Delivery.ID, prev, owner)
						}
						claimed[c.Delivery.ID] = owner
					}
					mu.Unlock()
				}
				errs <- fmt.Errorf("%s still claiming after %d rounds", owner, 2*messages)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if len(claimed) != 2*messages {
			t.Errorf("claimed %d deliveries, want %d", len(claimed), 2*messages)
		}
	})
}

// claimTwo claims, as "a", the deliveries of two messages to one endpoint.
func claimTwo(t *testing.T, s hookbridge.Store) []hookbridge.Claim {
	t.Helper()
	app := newApp(t, s, "a")
	newEndpoint(t, s, app.ID, nil)
	newMessage(t, s, app.ID, "order.created", at(0))
	newMessage(t, s, app.ID, "order.created", at(0))
	a := claimAll(t, s, "a", at(0))
	if len(a) != 2 {
		t.Fatalf("claimed %d, want 2", len(a))
	}
	return a
}
