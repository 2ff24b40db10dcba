package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// testPayments checks that storing an inbound event advances the payments
// it concerns in the same step (CreateInboundEvent), that a stale event is
// flagged or held by its source's policy, that a held one is released once,
// and that concurrent events of one payment get one order.
func testPayments(t *testing.T, open Opener) {
	open.run(t, "Sequence", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		src := newSource(t, s, nil)
		other := newSource(t, s, nil)
		// captured, then a late authorised, then a refund; the same payment
		// id at another source is another payment.
		captured := paymentEvent(src.ID, "evt_1", at(time.Second), step("payment.captured", "pi_1", "", 1000))
		captured.Forward, captured.AppID = true, "app_1"
		stored, created, err := s.CreateInboundEvent(ctx, captured)
		ok(t, err)
		if !created || stored != captured {
			t.Fatalf("created %v, stored %p want %p", created, stored, captured)
		}
		equal(t, "first step", captured.Payments[0], settled(step("payment.captured", "pi_1", "", 1000), 1, "", "captured", false))
		if captured.Stale || captured.Held || !captured.Forward || captured.Note != "verified" {
			t.Errorf("first event: stale %v held %v forward %v note %q", captured.Stale, captured.Held, captured.Forward, captured.Note)
		}

		late := paymentEvent(src.ID, "evt_2", at(2*time.Second), step("payment.authorized", "pi_1", "", 1000))
		late.Forward, late.AppID = true, "app_1"
		_, _, err = s.CreateInboundEvent(ctx, late)
		ok(t, err)
		equal(t, "late step", late.Payments[0], settled(step("payment.authorized", "pi_1", "", 1000), 2, "captured", "captured", true))
		if !late.Stale || late.Held || !late.Forward || !strings.Contains(late.Note, "stale") || !strings.Contains(late.Note, "forward-flagged") {
			t.Errorf("late event (forward-flagged): stale %v held %v forward %v note %q", late.Stale, late.Held, late.Forward, late.Note)
		}

		refund := paymentEvent(src.ID, "evt_3", at(3*time.Second), step("refund.succeeded", "pi_1", "re_1", 400))
		_, _, err = s.CreateInboundEvent(ctx, refund)
		ok(t, err)
		equal(t, "refund step", refund.Payments[0], settled(step("refund.succeeded", "pi_1", "re_1", 400), 3, "captured", "partially_refunded", false))

		// A repeat of an event changes nothing, and returns the first as
		// stored.
		again := paymentEvent(src.ID, "evt_3", at(4*time.Second), step("refund.succeeded", "pi_1", "re_2", 600))
		stored, created, err = s.CreateInboundEvent(ctx, again)
		ok(t, err)
		if created {
			t.Fatal("repeat: created")
		}
		equal(t, "repeat returns the first", *stored, *refund)

		// An event about no payment, and one about another source's
		// payment of the same id.
		order := paymentEvent(src.ID, "evt_4", at(5*time.Second), hookbridge.PaymentStep{EventType: "order.cancelled"})
		_, _, err = s.CreateInboundEvent(ctx, order)
		ok(t, err)
		equal(t, "step about no payment", order.Payments[0], hookbridge.PaymentStep{EventType: "order.cancelled"})
		elsewhere := paymentEvent(other.ID, "evt_1", at(time.Second), step("payment.authorized", "pi_1", "", 1000))
		_, _, err = s.CreateInboundEvent(ctx, elsewhere)
		ok(t, err)
		equal(t, "the same id at another source", elsewhere.Payments[0].Sequence, int64(1))

		st, err := s.GetPaymentState(ctx, src.ID, "pi_1")
		ok(t, err)
		thousand := int64(1000)
		equal(t, "payment state", *st, hookbridge.PaymentState{
			SourceID: src.ID, PaymentID: "pi_1", Status: hookbridge.PaymentPartiallyRefunded, Sequence: 3, Currency: "EUR",
			Captured: &thousand, Refunded: 400, Refunds: []string{"re_1"}, At: at(-time.Minute), UpdatedAt: st.UpdatedAt,
		})
		wantUTC(t, "payment state", st.UpdatedAt, st.At)
		_, err = s.GetPaymentState(ctx, src.ID, "pi_2")
		wantCode(t, err, hookbridge.ENOTFOUND)

		// Reads give back what was stored: the steps, the canonical
		// messages, the flags.
		storedAs(t, "GetInboundEvent", *late)(s.GetInboundEvent(ctx, src.ID, late.ID))
		_, err = s.GetInboundEvent(ctx, src.ID, elsewhere.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		p, err := s.ListInboundEvents(ctx, src.ID, hookbridge.InboundFilter{})
		ok(t, err)
		equal(t, "events listed", p.Data, []hookbridge.InboundEvent{*order, *refund, *late, *captured})
	})

	open.run(t, "HoldAndRelease", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		src := newSource(t, s, func(src *hookbridge.Source) { src.StalePolicy = hookbridge.StaleHold })
		got, err := s.GetSource(ctx, src.ID)
		ok(t, err)
		equal(t, "stale policy", got.StalePolicy, hookbridge.StaleHold)

		create := func(key string, forward bool, st hookbridge.PaymentStep) *hookbridge.InboundEvent {
			t.Helper()
			ev := paymentEvent(src.ID, key, at(time.Minute), st)
			if forward {
				ev.Forward, ev.AppID = true, "app_1"
			}
			_, created, err := s.CreateInboundEvent(ctx, ev)
			ok(t, err)
			if !created {
				t.Fatalf("%s not created", key)
			}
			return ev
		}
		create("evt_cap", true, step("payment.captured", "pi_1", "", 500))
		held := create("evt_failed", true, step("payment.failed", "pi_1", "", 500))
		if !held.Held || held.Forward || !held.Stale || !strings.Contains(held.Note, "held") {
			t.Fatalf("stale event under hold: held %v forward %v stale %v note %q", held.Held, held.Forward, held.Stale, held.Note)
		}
		// A stale event that was not to be forwarded anyway is not held.
		shadow := create("evt_auth", false, step("payment.authorized", "pi_1", "", 500))
		if shadow.Held || !shadow.Stale {
			t.Errorf("stale event not forwarded: held %v stale %v", shadow.Held, shadow.Stale)
		}
		fresh := create("evt_refund", true, step("refund.succeeded", "pi_1", "re_1", 500))
		if fresh.Held || !fresh.Forward {
			t.Errorf("an event that moves the payment on is held: %+v", fresh)
		}

		p, err := s.ListInboundEvents(ctx, src.ID, hookbridge.InboundFilter{Held: true})
		ok(t, err)
		equal(t, "held events", ids(p.Data, func(e hookbridge.InboundEvent) string { return e.EventID }), []string{"evt_failed"})

		_, err = s.ReleaseInboundEvent(ctx, src.ID, shadow.ID, "ops", at(time.Hour))
		wantCode(t, err, hookbridge.ECONFLICT)
		_, err = s.ReleaseInboundEvent(ctx, src.ID, hookbridge.NewID(hookbridge.PrefixInbound), "ops", at(time.Hour))
		wantCode(t, err, hookbridge.ENOTFOUND)
		other := newSource(t, s, nil)
		_, err = s.ReleaseInboundEvent(ctx, other.ID, held.ID, "ops", at(time.Hour))
		wantCode(t, err, hookbridge.ENOTFOUND)

		released, err := s.ReleaseInboundEvent(ctx, src.ID, held.ID, "ops@example.com", at(time.Hour))
		ok(t, err)
		want := *held
		want.Held, want.Forward, want.ReleasedAt, want.ReleasedBy = false, true, at(time.Hour), "ops@example.com"
		equal(t, "released", *released, want)
		// A second release (a retry) changes nothing and says what the
		// first did.
		again, err := s.ReleaseInboundEvent(ctx, src.ID, held.ID, "someone else", at(2*time.Hour))
		ok(t, err)
		equal(t, "released again", *again, want)
		p, err = s.ListInboundEvents(ctx, src.ID, hookbridge.InboundFilter{Held: true})
		ok(t, err)
		if len(p.Data) != 0 {
			t.Errorf("held after the release: %v", ids(p.Data, func(e hookbridge.InboundEvent) string { return e.EventID }))
		}
		// Releasing does not move the payment: the event stays stale.
		st, err := s.GetPaymentState(ctx, src.ID, "pi_1")
		ok(t, err)
		equal(t, "status after the release", st.Status, hookbridge.PaymentRefunded)

		// Changing the policy changes what becomes of the next stale
		// event, not of those stored.
		src.StalePolicy = hookbridge.StaleForwardFlagged
		ok(t, s.UpdateSource(ctx, src))
		flagged := create("evt_void", true, step("payment.voided", "pi_1", "", 0))
		if flagged.Held || !flagged.Forward || !flagged.Stale {
			t.Errorf("after the policy change: %+v", flagged)
		}
	})

	open.run(t, "ConcurrentEventsOfOnePayment", func(t *testing.T, s hookbridge.Store) {
		src := newSource(t, s, nil)
		// Events of three payments, each in a mixed order, stored from
		// many goroutines at once, each event twice (a processor's
		// retry racing the first delivery).
		kinds := []hookbridge.PaymentStep{
			step("payment.authorized", "", "", 1000), step("payment.captured", "", "", 1000), step("payment.failed", "", "", 0),
			step("refund.succeeded", "", "re_1", 300), step("refund.succeeded", "", "re_2", 700), step("dispute.opened", "", "dp_1", 0),
		}
		payments := []string{"pi_a", "pi_b", "pi_c"}
		type stored struct {
			key  string
			step hookbridge.PaymentStep
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			results []stored
		)
		for _, pay := range payments {
			for i, k := range kinds {
				k.PaymentID = pay
				key := fmt.Sprintf("evt_%s_%d", pay, i)
				for range 2 {
					wg.Go(func() {
						ev := paymentEvent(src.ID, key, at(time.Duration(i)*time.Second), k)
						got, created, err := s.CreateInboundEvent(t.Context(), ev)
						if err != nil {
							t.Error(err)
							return
						}
						if created {
							mu.Lock()
							results = append(results, stored{key, got.Payments[0]})
							mu.Unlock()
						}
					})
				}
			}
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if len(results) != len(payments)*len(kinds) {
			t.Fatalf("%d events created, want %d: each once", len(results), len(payments)*len(kinds))
		}
		// Per payment: the sequences are 1..n, and replaying the events
		// in sequence order through Advance gives what the store
		// decided, step for step: one order, however they raced.
		for _, pay := range payments {
			var steps []hookbridge.PaymentStep
			for _, r := range results {
				if r.step.PaymentID == pay {
					steps = append(steps, r.step)
				}
			}
			slices.SortFunc(steps, func(a, b hookbridge.PaymentStep) int { return int(a.Sequence - b.Sequence) })
			var replay hookbridge.PaymentState
			for i, got := range steps {
				if got.Sequence != int64(i+1) {
					t.Fatalf("%s: sequences %v, want 1 to %d", pay, seqs(steps), len(kinds))
				}
				in := got
				in.Sequence, in.Previous, in.Status, in.Stale = 0, "", "", false
				var want hookbridge.PaymentStep
				replay, want = replay.Advance(in)
				equal(t, fmt.Sprintf("%s event %d", pay, i+1), got, want)
			}
			st, err := s.GetPaymentState(t.Context(), src.ID, pay)
			ok(t, err)
			if st.Sequence != int64(len(kinds)) || st.Status != replay.Status || st.Refunded != replay.Refunded {
				t.Errorf("%s: stored state %+v, replayed %+v", pay, st, replay)
			}
		}
	})

	open.run(t, "RawBodies", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		src := newSource(t, s, nil)
		var evs []*hookbridge.InboundEvent
		for i := range 5 {
			ev := paymentEvent(src.ID, fmt.Sprintf("evt_%d", i), at(time.Duration(i)*time.Hour), step("payment.captured", "pi_1", "", 1))
			_, _, err := s.CreateInboundEvent(ctx, ev)
			ok(t, err)
			evs = append(evs, ev)
		}
		// Bodies of the events received before 3h go, two at a time; the
		// events stay, and a second round has nothing to do.
		cut := at(3 * time.Hour)
		total := purgeInBatches(t, "PurgeInboundBodiesBefore", 2, 3, func(limit int) (int, error) {
			return s.PurgeInboundBodiesBefore(ctx, cut, limit)
		})
		equal(t, "bodies dropped", total, 3)
		n, err := s.PurgeInboundBodiesBefore(ctx, cut, 10)
		ok(t, err)
		equal(t, "dropped again", n, 0)
		for i, ev := range evs {
			got, err := s.GetInboundEvent(ctx, src.ID, ev.ID)
			ok(t, err)
			dropped := i < 3
			if dropped != (got.Body == nil) || dropped == got.BodyDroppedAt.IsZero() {
				t.Errorf("event %d: body %q dropped at %v; want dropped %v", i, got.Body, got.BodyDroppedAt, dropped)
			}
			want := *ev
			want.Body, want.BodyDroppedAt = got.Body, got.BodyDroppedAt
			equal(t, fmt.Sprintf("event %d otherwise", i), *got, want)
			if !dropped && string(got.Body) != string(ev.Body) {
				t.Errorf("event %d: body %q, want %q", i, got.Body, ev.Body)
			}
		}
		wantUTC(t, "body dropped", func() time.Time {
			got, _ := s.GetInboundEvent(ctx, src.ID, evs[0].ID)
			return got.BodyDroppedAt
		}())
		// Message retention still deletes the events, and the payments
		// quiet since, with them: not before their last event.
		_, err = s.PurgeInboundBefore(ctx, at(4*time.Hour), 100)
		ok(t, err)
		st, err := s.GetPaymentState(ctx, src.ID, "pi_1")
		ok(t, err)
		equal(t, "payment last changed", st.UpdatedAt, at(4*time.Hour))
		_, err = s.PurgeInboundBefore(ctx, at(24*time.Hour), 100)
		ok(t, err)
		p, err := s.ListInboundEvents(ctx, src.ID, hookbridge.InboundFilter{})
		ok(t, err)
		if len(p.Data) != 0 {
			t.Errorf("%d events left", len(p.Data))
		}
		_, err = s.GetPaymentState(ctx, src.ID, "pi_1")
		wantCode(t, err, hookbridge.ENOTFOUND)
	})
}

// step is a payment step as a receiver fills it in: what the message says.
func step(eventType, paymentID, objectID string, amount int64) hookbridge.PaymentStep {
	st := hookbridge.PaymentStep{EventType: eventType, PaymentID: paymentID, ObjectID: objectID, Currency: "EUR",
		OccurredAt: at(-time.Minute)}
	if amount > 0 {
		st.Amount = &amount
	}
	return st
}

// settled is st with the outcome the store fills in.
func settled(st hookbridge.PaymentStep, seq int64, prev, status hookbridge.PaymentStatus, stale bool) hookbridge.PaymentStep {
	st.Sequence, st.Previous, st.Status, st.Stale = seq, prev, status, stale
	return st
}

// paymentEvent is an inbound event with one canonical message, whose step
// is st.
func paymentEvent(sourceID, key string, received time.Time, st hookbridge.PaymentStep) *hookbridge.InboundEvent {
	ev := newInbound(sourceID, key, received)
	ev.Canonical = []hookbridge.CanonicalMessage{{EventType: st.EventType, Payload: []byte(`{"id":"` + st.PaymentID + `"}`)}}
	ev.Payments = []hookbridge.PaymentStep{st}
	return ev
}

func seqs(steps []hookbridge.PaymentStep) []int64 {
	out := make([]int64, len(steps))
	for i, s := range steps {
		out[i] = s.Sequence
	}
	return out
}
