package storetest

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// testFairness covers what keeps one endpoint from hurting the others or
// being hurt: rate limits, FIFO, pauses, skipping, and endpoint health.
func testFairness(t *testing.T, open Opener) {
	open.run(t, "EndpointFields", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		e := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.FIFO = true })
		got, err := s.GetEndpoint(ctx, app.ID, e.ID)
		ok(t, err)
		if !got.FIFO || !got.FailingSince.IsZero() || !got.PausedUntil.IsZero() {
			t.Fatalf("created endpoint: FIFO %v, FailingSince %v, PausedUntil %v", got.FIFO, got.FailingSince, got.PausedUntil)
		}

		// The dispatcher's columns survive an update of the others.
		_, err = s.RecordEndpointHealth(ctx, []hookbridge.EndpointReport{
			{EndpointID: e.ID, At: at(time.Second), PauseUntil: at(time.Minute)},
		}, time.Time{})
		ok(t, err)
		got.FIFO = false
		got.Description = "changed"
		ok(t, s.UpdateEndpoint(ctx, got))
		got, err = s.GetEndpoint(ctx, app.ID, e.ID)
		ok(t, err)
		equal(t, "after update", []any{got.FIFO, got.Description, got.FailingSince, got.PausedUntil},
			[]any{false, "changed", at(time.Second), at(time.Minute)})

		// Disabling keeps them; enabling again starts afresh.
		got.Disabled = true
		ok(t, s.UpdateEndpoint(ctx, got))
		got, err = s.GetEndpoint(ctx, app.ID, e.ID)
		ok(t, err)
		equal(t, "disabled", got.FailingSince, at(time.Second))
		got.Disabled = false
		ok(t, s.UpdateEndpoint(ctx, got))
		equal(t, "enabled (returned)", []time.Time{got.FailingSince, got.PausedUntil}, []time.Time{{}, {}})
		got, err = s.GetEndpoint(ctx, app.ID, e.ID)
		ok(t, err)
		equal(t, "enabled (stored)", []time.Time{got.FailingSince, got.PausedUntil}, []time.Time{{}, {}})
	})

	open.run(t, "RateLimitPerSecond", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		limited := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.RateLimit = ptr(3) })
		free := newEndpoint(t, s, app.ID, nil)
		for range 10 {
			newMessage(t, s, app.ID, "order.created", at(0))
		}
		count := func(claims []hookbridge.Claim, ep string) int {
			n := 0
			for _, c := range claims {
				if c.Endpoint.ID == ep {
					n++
				}
			}
			return n
		}
		for _, step := range []struct {
			name          string
			owner         string
			now           time.Time
			limited, free int
		}{
			{"FirstSecond", "a", at(0), 3, 10},
			{"SameSecond", "a", at(900 * time.Millisecond), 0, 0},
			{"SameSecondOtherOwner", "b", at(999 * time.Millisecond), 0, 0},
			{"NextSecond", "b", at(time.Second), 3, 0},
			{"NextSecondAgain", "a", at(1500 * time.Millisecond), 0, 0},
			{"Later", "a", at(5 * time.Second), 3, 0},
			{"Rest", "a", at(6 * time.Second), 1, 0},
		} {
			claims, err := s.ClaimDeliveries(ctx, step.owner, step.now, time.Hour, 100)
			ok(t, err)
			equal(t, step.name, []int{count(claims, limited.ID), count(claims, free.ID)}, []int{step.limited, step.free})
		}
	})

	open.run(t, "ApplicationRateLimit", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := &hookbridge.Application{ID: hookbridge.NewID(hookbridge.PrefixApplication), Name: "limited", RateLimit: ptr(2), CreatedAt: base, UpdatedAt: base}
		ok(t, s.CreateApplication(ctx, app))
		inherits := newEndpoint(t, s, app.ID, nil)
		own := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.RateLimit = ptr(5) })
		for range 10 {
			newMessage(t, s, app.ID, "order.created", at(0))
		}
		claims, err := s.ClaimDeliveries(ctx, "a", at(0), time.Hour, 100)
		ok(t, err)
		per := map[string]int{}
		for _, c := range claims {
			per[c.Endpoint.ID]++
		}
		equal(t, "claimed per endpoint", per, map[string]int{inherits.ID: 2, own.ID: 5})
	})

	open.run(t, "RateLimitSharedByClaimers", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.RateLimit = ptr(7) })
		for range 40 {
			newMessage(t, s, app.ID, "order.created", at(0))
		}
		// Eight claimers at once, several times in the same second: the
		// budget is one, however they interleave.
		var (
			mu    sync.Mutex
			total int
			wg    sync.WaitGroup
		)
		for i := range 8 {
			wg.Go(func() {
				for j := range 3 {
					claims, err := s.ClaimDeliveries(ctx, string(rune('a'+i)), at(time.Duration(j)*100*time.Millisecond), time.Hour, 5)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					total += len(claims)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if total != 7 {
			t.Fatalf("claimed %d in one second, want the budget of 7", total)
		}
	})

	open.run(t, "FIFO", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		fifo := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.FIFO = true })
		other := newEndpoint(t, s, app.ID, nil)
		var msgs []string
		for i := range 4 {
			// Due in the reverse of message order: FIFO goes by message.
			msgs = append(msgs, newMessage(t, s, app.ID, "order.created", at(time.Duration(4-i)*time.Millisecond)).ID)
		}
		claimFIFO := func(now time.Time) []hookbridge.Claim {
			t.Helper()
			claims, err := s.ClaimDeliveries(ctx, "w", now, time.Hour, 100)
			ok(t, err)
			var out []hookbridge.Claim
			for _, c := range claims {
				if c.Endpoint.ID == fifo.ID {
					out = append(out, c)
				}
			}
			return out
		}
		record := func(c hookbridge.Claim, r hookbridge.AttemptResult) {
			t.Helper()
			r.DeliveryID = c.Delivery.ID
			rejected, err := s.RecordAttempts(ctx, "w", []hookbridge.AttemptResult{r})
			ok(t, err)
			equal(t, "rejected", rejected, nil)
		}
		wantMsg := func(step string, claims []hookbridge.Claim, msg string) hookbridge.Claim {
			t.Helper()
			if len(claims) != 1 || claims[0].Message.ID != msg {
				t.Fatalf("%s: claimed %v, want only %s", step, ids(claims, func(c hookbridge.Claim) string { return c.Message.ID }), msg)
			}
			return claims[0]
		}

		all, err := s.ClaimDeliveries(ctx, "w", at(time.Second), time.Hour, 100)
		ok(t, err)
		first := 0
		for _, c := range all {
			if c.Endpoint.ID == other.ID {
				first++
			}
		}
		if first != 4 {
			t.Fatalf("the other endpoint got %d of its 4 deliveries", first)
		}
		c := wantMsg("first", slices.DeleteFunc(all, func(c hookbridge.Claim) bool { return c.Endpoint.ID != fifo.ID }), msgs[0])
		if got := claimFIFO(at(time.Second)); len(got) != 0 {
			t.Fatalf("claimed %d while the head is leased", len(got))
		}
		// The head fails and waits for its retry: nothing overtakes it.
		record(c, hookbridge.AttemptResult{Attempt: attemptFor(c, at(time.Second), 500), Status: hookbridge.StatusSending, NextAttempt: at(time.Minute)})
		if got := claimFIFO(at(30 * time.Second)); len(got) != 0 {
			t.Fatalf("claimed %d while the head waits for its retry", len(got))
		}
		c = wantMsg("retry", claimFIFO(at(time.Minute)), msgs[0])
		record(c, hookbridge.AttemptResult{Attempt: attemptFor(c, at(time.Minute), 200), Status: hookbridge.StatusSuccess})
		c = wantMsg("second", claimFIFO(at(time.Minute)), msgs[1])
		// Given up counts as done, too.
		record(c, hookbridge.AttemptResult{Attempt: attemptFor(c, at(time.Minute), 500), Status: hookbridge.StatusFail})
		c = wantMsg("third", claimFIFO(at(time.Minute)), msgs[2])
		record(c, hookbridge.AttemptResult{Attempt: attemptFor(c, at(time.Minute), 200), Status: hookbridge.StatusSuccess})
		wantMsg("fourth", claimFIFO(at(time.Minute)), msgs[3])
	})

	open.run(t, "GatedResendAfterHistory", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		for _, fifo := range []bool{false, true} {
			e := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.RateLimit = ptr(100); e.FIFO = fifo })
			// Messages made hours ago, delivered: the gated claim moves
			// past them, and then only a manual delivery can be owed to
			// one of them again.
			now := time.Now()
			var msgs []*hookbridge.Message
			for i := range 2 {
				m := &hookbridge.Message{ID: hookbridge.FirstIDAt(hookbridge.PrefixMessage, now.Add(time.Duration(i-3)*time.Hour)),
					AppID: app.ID, EventType: "order.created", Payload: []byte(`{}`), CreatedAt: base}
				ok(t, s.CreateMessageTo(ctx, m, e.ID))
				msgs = append(msgs, m)
			}
			for range 2 {
				finish(t, s, now, succeed(now))
			}
			if rest := claimAll(t, s, "w", now); len(rest) != 0 {
				t.Fatalf("fifo %v: %d left after delivering everything", fifo, len(rest))
			}
			_, err := s.Resend(ctx, app.ID, msgs[0].ID, e.ID, now)
			ok(t, err)
			claims := claimAll(t, s, "w", now)
			if len(claims) != 1 || claims[0].Message.ID != msgs[0].ID {
				t.Fatalf("fifo %v: claimed %d after a resend, want the resent message", fifo, len(claims))
			}
		}
	})

	open.run(t, "Skipping", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		busy := newEndpoint(t, s, app.ID, nil)
		limited := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.RateLimit = ptr(100) })
		idle := newEndpoint(t, s, app.ID, nil)
		for range 3 {
			newMessage(t, s, app.ID, "order.created", at(0))
		}
		claims, err := s.ClaimDeliveriesSkipping(ctx, "w", at(0), time.Hour, 100, []string{busy.ID, limited.ID})
		ok(t, err)
		for _, c := range claims {
			if c.Endpoint.ID != idle.ID {
				t.Fatalf("claimed a delivery of skipped endpoint %s", c.Endpoint.ID)
			}
		}
		if len(claims) != 3 {
			t.Fatalf("claimed %d, want the idle endpoint's 3", len(claims))
		}
		if rest := claimAll(t, s, "w", at(0)); len(rest) != 6 {
			t.Fatalf("then claimed %d, want the skipped endpoints' 6", len(rest))
		}
	})

	// A backlog longer than any walk of the due order (SQLite's claim
	// reads only so far, then looks endpoint by endpoint), ahead of
	// another endpoint's deliveries: skipped, and then leased, it must
	// hide none of them, and the earliest due still come first.
	open.run(t, "SkippingBehindBacklog", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		const backlog = 2500
		busyApp := newApp(t, s, "busy")
		busy := newEndpoint(t, s, busyApp.ID, nil)
		for i := 0; i < backlog; i += 500 {
			msgs := make([]*hookbridge.Message, 500)
			for j := range msgs {
				msgs[j] = &hookbridge.Message{AppID: busyApp.ID, EventType: "order.created",
					Payload: json.RawMessage(`{}`), CreatedAt: at(time.Duration(i+j) * time.Millisecond)}
			}
			_, err := s.CreateMessages(ctx, msgs)
			ok(t, err)
		}
		otherApp := newApp(t, s, "other")
		other := newEndpoint(t, s, otherApp.ID, nil)
		var want []string
		for i := range 5 {
			want = append(want, newMessage(t, s, otherApp.ID, "order.created", at(time.Minute+time.Duration(i)*time.Second)).ID)
		}
		now := at(time.Hour)
		check := func(name string, claims []hookbridge.Claim) {
			t.Helper()
			var got []string
			for _, c := range claims {
				if c.Endpoint.ID != other.ID {
					t.Fatalf("%s: claimed a delivery of %s", name, c.Endpoint.ID)
				}
				got = append(got, c.Message.ID)
			}
			equal(t, name, got, want)
		}

		claims, err := s.ClaimDeliveriesSkipping(ctx, "w", now, time.Hour, 10, []string{busy.ID})
		ok(t, err)
		check("skipping the busy endpoint", claims)
		ok(t, s.ReleaseDeliveries(ctx, "w", deliveryIDs(claims)))

		// The busy endpoint's backlog leased, and not skipped.
		leased, err := s.ClaimDeliveriesSkipping(ctx, "w", now, time.Hour, backlog, []string{other.ID})
		ok(t, err)
		if len(leased) != backlog {
			t.Fatalf("claimed %d of the busy endpoint's, want %d", len(leased), backlog)
		}
		claims, err = s.ClaimDeliveries(ctx, "w", now, time.Hour, 10)
		ok(t, err)
		check("behind the leased backlog", claims)
	})

	open.run(t, "Pause", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		paused := newEndpoint(t, s, app.ID, nil)
		newEndpoint(t, s, app.ID, nil)
		newMessage(t, s, app.ID, "order.created", at(0))
		disabled, err := s.RecordEndpointHealth(ctx, []hookbridge.EndpointReport{
			{EndpointID: paused.ID, At: at(0), PauseUntil: at(time.Minute)},
			// A shorter pause reported later does not shorten it.
			{EndpointID: paused.ID, At: at(0), PauseUntil: at(10 * time.Second)},
		}, time.Time{})
		ok(t, err)
		equal(t, "disabled", disabled, nil)
		got, err := s.GetEndpoint(ctx, app.ID, paused.ID)
		ok(t, err)
		equal(t, "PausedUntil", got.PausedUntil, at(time.Minute))

		claims := finish(t, s, at(time.Second), succeed(at(time.Second)))
		if len(claims) != 1 || claims[0].Endpoint.ID == paused.ID {
			t.Fatalf("claimed %d during the pause, want only the other endpoint's", len(claims))
		}
		// Its waiting delivery was moved to the end of the pause, so the
		// next due time says when there is something to claim.
		next, found, err := s.NextDue(ctx)
		ok(t, err)
		if !found || !next.Equal(at(time.Minute)) {
			t.Fatalf("NextDue = %v, %v; want %v", next, found, at(time.Minute))
		}
		// A message accepted during the pause waits too.
		newMessage(t, s, app.ID, "order.created", at(2*time.Second))
		for _, c := range finish(t, s, at(30*time.Second), succeed(at(30*time.Second))) {
			if c.Endpoint.ID == paused.ID {
				t.Fatalf("claimed %s during the pause", c.Delivery.ID)
			}
		}
		claims = claimAll(t, s, "w", at(time.Minute))
		if len(claims) != 2 || claims[0].Endpoint.ID != paused.ID || claims[1].Endpoint.ID != paused.ID {
			t.Fatalf("claimed %d after the pause, want the paused endpoint's 2", len(claims))
		}
		got, err = s.GetEndpoint(ctx, app.ID, paused.ID)
		ok(t, err)
		equal(t, "PausedUntil once over", got.PausedUntil, time.Time{})
	})

	open.run(t, "Health", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		e := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.UID = "ep-1" })
		gone := newEndpoint(t, s, app.ID, nil)
		report := func(disableBefore time.Time, reports ...hookbridge.EndpointReport) []hookbridge.DisabledEndpoint {
			t.Helper()
			d, err := s.RecordEndpointHealth(ctx, reports, disableBefore)
			ok(t, err)
			return d
		}
		failingSince := func() time.Time {
			t.Helper()
			got, err := s.GetEndpoint(ctx, app.ID, e.ID)
			ok(t, err)
			return got.FailingSince
		}
		day := 24 * time.Hour

		report(time.Time{}, hookbridge.EndpointReport{EndpointID: e.ID, At: at(time.Hour)})
		equal(t, "first failure", failingSince(), at(time.Hour))
		report(time.Time{}, hookbridge.EndpointReport{EndpointID: e.ID, At: at(2 * time.Hour)})
		equal(t, "second failure", failingSince(), at(time.Hour))
		report(time.Time{}, hookbridge.EndpointReport{EndpointID: e.ID, At: at(3 * time.Hour), Success: true})
		equal(t, "after a success", failingSince(), time.Time{})

		// Failing for less than the period: kept; for the period: disabled,
		// reported once.
		report(at(-day), hookbridge.EndpointReport{EndpointID: e.ID, At: at(4 * time.Hour)})
		if d := report(at(4*time.Hour-time.Millisecond), hookbridge.EndpointReport{EndpointID: e.ID, At: at(5*day - time.Hour)}); d != nil {
			t.Fatalf("disabled before the period: %+v", d)
		}
		d := report(at(4*time.Hour), hookbridge.EndpointReport{EndpointID: e.ID, At: at(5 * day)})
		equal(t, "disabled", d, []hookbridge.DisabledEndpoint{{AppID: app.ID, EndpointID: e.ID, EndpointUID: "ep-1",
			FailingSince: at(4 * time.Hour), Reason: hookbridge.DisabledFailing}})
		got, err := s.GetEndpoint(ctx, app.ID, e.ID)
		ok(t, err)
		if !got.Disabled {
			t.Fatal("endpoint not disabled")
		}
		if d := report(at(4*time.Hour), hookbridge.EndpointReport{EndpointID: e.ID, At: at(6 * day)}); d != nil {
			t.Fatalf("disabled twice: %+v", d)
		}

		// 410 Gone disables at once, and is reported once too.
		d = report(time.Time{},
			hookbridge.EndpointReport{EndpointID: gone.ID, At: at(time.Hour), Gone: true},
			hookbridge.EndpointReport{EndpointID: gone.ID, At: at(time.Hour), Gone: true},
			hookbridge.EndpointReport{EndpointID: hookbridge.NewID(hookbridge.PrefixEndpoint), At: at(time.Hour), Gone: true})
		equal(t, "gone", d, []hookbridge.DisabledEndpoint{{AppID: app.ID, EndpointID: gone.ID,
			FailingSince: at(time.Hour), Reason: hookbridge.DisabledGone}})
	})
}

func ptr[T any](v T) *T { return &v }
