package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testSources(t *testing.T, open Opener) {
	open.run(t, "CRUD", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		pct := 25
		src := newSource(t, s, func(src *hookbridge.Source) {
			src.Name = "Stripe EU"
			src.Credentials = hookbridge.SourceCredentials{Secret: "whsec_abc", HMAC: hookbridge.SourceHMAC{Header: "X-Sig", Algorithm: "sha512"}}
			src.Tolerance = 90 * time.Second
			src.Routing = hookbridge.Routing{App: "fallback", Merchants: map[string]string{"acct_1": "app-one"}, MerchantField: "account"}
			src.Rollout = hookbridge.Rollout{State: hookbridge.RolloutOn, Merchants: []string{"acct_1"}, Percent: &pct}
			src.Credentials.API = hookbridge.SourceAPICredentials{Key: "rk_test_1", BaseURL: "http://127.0.0.1:1"}
			src.ReconcileEvery = 15 * time.Minute
		})
		got := storedAs(t, "GetSource", *src)(s.GetSource(ctx, src.ID))
		wantUTC(t, "source", got.CreatedAt, got.UpdatedAt)

		upd := *got
		upd.Name, upd.Scheme = "Adyen", "adyen"
		upd.Credentials = hookbridge.SourceCredentials{Secret: "00FF"}
		upd.Tolerance = -1 * time.Millisecond
		upd.Routing = hookbridge.Routing{App: "other"}
		upd.ReconcileEvery = 0
		upd.Rollout = hookbridge.Rollout{State: hookbridge.RolloutOff} // not changed by UpdateSource
		ok(t, s.UpdateSource(ctx, &upd))
		got, err := s.GetSource(ctx, src.ID)
		ok(t, err)
		want := upd
		want.Rollout = src.Rollout
		want.UpdatedAt = got.UpdatedAt
		equal(t, "after UpdateSource", *got, want)

		missing := hookbridge.Source{ID: hookbridge.NewID(hookbridge.PrefixSource), Scheme: "stripe"}
		wantCode(t, s.UpdateSource(ctx, &missing), hookbridge.ENOTFOUND)
		_, err = s.GetSource(ctx, missing.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, s.CreateSource(ctx, src, "admin"), hookbridge.ECONFLICT)

		ok(t, s.DeleteSource(ctx, src.ID))
		_, err = s.GetSource(ctx, src.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, s.DeleteSource(ctx, src.ID), hookbridge.ENOTFOUND)
	})

	open.run(t, "List", func(t *testing.T, s hookbridge.Store) {
		var want []string
		for range 5 {
			want = append(want, newSource(t, s, nil).ID)
		}
		got := pageAll(t, 2, func(src hookbridge.Source) string { return src.ID }, func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Source], error) {
			return s.ListSources(t.Context(), opt)
		}, hookbridge.OrderDefault)
		equal(t, "sources oldest first", ids(got, func(src hookbridge.Source) string { return src.ID }), want)
	})

	open.run(t, "RolloutAudit", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		src := newSource(t, s, nil) // created in shadow
		shadow := hookbridge.Rollout{State: hookbridge.RolloutShadow}
		pct := 10
		on10 := hookbridge.Rollout{State: hookbridge.RolloutOn, Percent: &pct}
		on := hookbridge.Rollout{State: hookbridge.RolloutOn}

		got, err := s.SetRollout(ctx, src.ID, on10, "admin", at(time.Hour))
		ok(t, err)
		equal(t, "rollout after SetRollout", got.Rollout, on10)
		equal(t, "updatedAt after SetRollout", got.UpdatedAt, at(time.Hour))
		// The same rollout again changes and records nothing.
		pct2 := 10
		_, err = s.SetRollout(ctx, src.ID, hookbridge.Rollout{State: hookbridge.RolloutOn, Percent: &pct2}, "admin", at(2*time.Hour))
		ok(t, err)
		_, err = s.SetRollout(ctx, src.ID, on, "ops-key", at(3*time.Hour))
		ok(t, err)
		stored, err := s.GetSource(ctx, src.ID)
		ok(t, err)
		equal(t, "stored rollout", stored.Rollout, on)

		changes := pageAll(t, 2, func(c hookbridge.RolloutChange) string { return c.ID }, func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.RolloutChange], error) {
			return s.ListRolloutChanges(ctx, src.ID, opt)
		}, hookbridge.OrderDefault)
		type change struct {
			Actor    string
			From, To hookbridge.Rollout
			At       time.Time
		}
		var gotChanges []change
		for _, c := range changes {
			if c.SourceID != src.ID || c.ID == "" {
				t.Errorf("change %+v: wrong source or no id", c)
			}
			gotChanges = append(gotChanges, change{c.Actor, c.From, c.To, c.At})
		}
		equal(t, "rollout changes newest first", gotChanges, []change{
			{"ops-key", on10, on, at(3 * time.Hour)},
			{"admin", shadow, on10, at(time.Hour)},
			{"creator", hookbridge.Rollout{}, shadow, base},
		})

		_, err = s.SetRollout(ctx, hookbridge.NewID(hookbridge.PrefixSource), on, "admin", base)
		wantCode(t, err, hookbridge.ENOTFOUND)
		_, err = s.ListRolloutChanges(ctx, hookbridge.NewID(hookbridge.PrefixSource), hookbridge.ListOptions{})
		wantCode(t, err, hookbridge.ENOTFOUND)
	})

	open.run(t, "InboundDedupe", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		src := newSource(t, s, nil)
		other := newSource(t, s, nil)

		first := newInbound(src.ID, "evt_1", at(time.Minute))
		first.Headers = map[string]string{"Stripe-Signature": "t=1,v1=ab"}
		first.OccurredAt = at(-time.Second)
		first.Forward, first.AppID, first.Merchant, first.Type = true, "app_x", "acct_1", "payment_intent.succeeded"
		stored, created, err := s.CreateInboundEvent(ctx, first)
		ok(t, err)
		if !created {
			t.Fatal("first event: created = false")
		}
		equal(t, "created event", *stored, *first)

		repeat := newInbound(src.ID, "evt_1", at(2*time.Minute))
		repeat.Body = []byte(`{"other":true}`)
		stored, created, err = s.CreateInboundEvent(ctx, repeat)
		ok(t, err)
		if created {
			t.Fatal("repeated event id: created = true")
		}
		equal(t, "repeat returns the first", *stored, *first)

		// The key is per source.
		_, created, err = s.CreateInboundEvent(ctx, newInbound(other.ID, "evt_1", at(time.Minute)))
		ok(t, err)
		if !created {
			t.Error("same event id at another source: created = false")
		}
		_, _, err = s.CreateInboundEvent(ctx, newInbound(hookbridge.NewID(hookbridge.PrefixSource), "evt_1", base))
		wantCode(t, err, hookbridge.ENOTFOUND)

		ok(t, s.SetInboundMessages(ctx, src.ID, first.ID, []string{"msg_a", "msg_b"}))
		wantCode(t, s.SetInboundMessages(ctx, other.ID, first.ID, []string{"msg_a"}), hookbridge.ENOTFOUND)
		p, err := s.ListInboundEvents(ctx, src.ID, hookbridge.InboundFilter{ListOptions: hookbridge.ListOptions{}})
		ok(t, err)
		want := *first
		want.MessageIDs = []string{"msg_a", "msg_b"}
		equal(t, "events of the source", p.Data, []hookbridge.InboundEvent{want})
		wantUTC(t, "inbound event", p.Data[0].ReceivedAt, p.Data[0].OccurredAt)
	})

	open.run(t, "InboundConcurrentRepeat", func(t *testing.T, s hookbridge.Store) {
		src := newSource(t, s, nil)
		const n = 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
			firstID = map[string]bool{}
		)
		for range n {
			wg.Go(func() {
				stored, c, err := s.CreateInboundEvent(t.Context(), newInbound(src.ID, "evt_race", base))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if c {
					created++
				}
				firstID[stored.ID] = true
			})
		}
		wg.Wait()
		if created != 1 || len(firstID) != 1 {
			t.Errorf("%d concurrent deliveries of one event: %d created, %d distinct stored ids; want 1 and 1", n, created, len(firstID))
		}
	})

	open.run(t, "InboundList", func(t *testing.T, s hookbridge.Store) {
		src := newSource(t, s, nil)
		var want []string
		for i := range 5 {
			ev := newInbound(src.ID, fmt.Sprintf("evt_%d", i), at(time.Duration(i)*time.Second))
			_, _, err := s.CreateInboundEvent(t.Context(), ev)
			ok(t, err)
			want = append(want, ev.ID)
		}
		slices.Reverse(want)
		got := pageAll(t, 2, func(e hookbridge.InboundEvent) string { return e.ID }, func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.InboundEvent], error) {
			return s.ListInboundEvents(t.Context(), src.ID, hookbridge.InboundFilter{ListOptions: opt})
		}, hookbridge.OrderDefault)
		equal(t, "events newest first", ids(got, func(e hookbridge.InboundEvent) string { return e.ID }), want)
		_, err := s.ListInboundEvents(t.Context(), hookbridge.NewID(hookbridge.PrefixSource), hookbridge.InboundFilter{ListOptions: hookbridge.ListOptions{}})
		wantCode(t, err, hookbridge.ENOTFOUND)
	})

	open.run(t, "Comparison", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		src := newSource(t, s, nil)
		// Webhooks brought a, b, c, e; polling saw b, c, d, e. e lies outside
		// the window on both sides.
		for id, received := range map[string]time.Duration{"a": time.Minute, "b": 2 * time.Minute, "c": 3 * time.Minute, "e": -time.Hour} {
			_, _, err := s.CreateInboundEvent(ctx, newInbound(src.ID, id, at(received)))
			ok(t, err)
		}
		added, err := s.AddObservations(ctx, src.ID, []hookbridge.Observation{
			{EventID: "b", SeenAt: at(2*time.Minute + 30*time.Second), OccurredAt: at(time.Minute)},
			{EventID: "c", SeenAt: at(2 * time.Minute)}, // polling first: a negative lead
			{EventID: "d", SeenAt: at(4 * time.Minute)},
			{EventID: "e", SeenAt: at(-time.Hour)},
		})
		ok(t, err)
		if added != 4 {
			t.Errorf("added = %d, want 4", added)
		}
		// A second report of b keeps the first.
		added, err = s.AddObservations(ctx, src.ID, []hookbridge.Observation{{EventID: "b", SeenAt: at(time.Hour)}})
		ok(t, err)
		if added != 0 {
			t.Errorf("repeated observation: added = %d, want 0", added)
		}

		c, err := s.CompareObservations(ctx, src.ID, base, at(time.Hour))
		ok(t, err)
		equal(t, "comparison", c, hookbridge.Comparison{
			Webhook: 3, Polling: 3, Both: 2, WebhookOnly: 1, PollingOnly: 1,
			Leads: []time.Duration{-time.Minute, 30 * time.Second},
		})
		if p50, _ := c.LeadPercentile(50); p50 != -time.Minute {
			t.Errorf("median lead = %v, want -1m", p50)
		}
		empty, err := s.CompareObservations(ctx, src.ID, at(24*time.Hour), at(48*time.Hour))
		ok(t, err)
		equal(t, "empty window", empty, hookbridge.Comparison{})

		_, err = s.AddObservations(ctx, hookbridge.NewID(hookbridge.PrefixSource), []hookbridge.Observation{{EventID: "x", SeenAt: base}})
		wantCode(t, err, hookbridge.ENOTFOUND)
		_, err = s.CompareObservations(ctx, hookbridge.NewID(hookbridge.PrefixSource), base, at(time.Hour))
		wantCode(t, err, hookbridge.ENOTFOUND)

		// Deleting the source takes its events, history and observations.
		ok(t, s.DeleteSource(ctx, src.ID))
		again := newSource(t, s, func(n *hookbridge.Source) { n.ID = src.ID })
		c, err = s.CompareObservations(ctx, again.ID, at(-2*time.Hour), at(time.Hour))
		ok(t, err)
		equal(t, "after delete and re-create", c, hookbridge.Comparison{})
		changes, err := s.ListRolloutChanges(ctx, again.ID, hookbridge.ListOptions{})
		ok(t, err)
		if len(changes.Data) != 1 {
			t.Errorf("re-created source has %d rollout changes, want 1", len(changes.Data))
		}
	})
}

func testBackfillState(t *testing.T, open Opener) {
	t.Run("State", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		src := newSource(t, s, nil)
		st, err := s.GetBackfillState(ctx, src.ID)
		ok(t, err)
		equal(t, "never ran", *st, hookbridge.BackfillState{SourceID: src.ID})

		// A completed run, then one that failed: the counts add up, the
		// failure keeps the last success and the high-water mark.
		ok(t, s.RecordBackfillRun(ctx, &hookbridge.BackfillState{SourceID: src.ID, HighWater: at(time.Minute), LastRunAt: at(2 * time.Minute),
			LastSuccessAt: at(2 * time.Minute), Runs: 1, Fetched: 250, Backfilled: 3, Duplicates: 247, Requests: 3}))
		ok(t, s.RecordBackfillRun(ctx, &hookbridge.BackfillState{SourceID: src.ID, LastRunAt: at(3 * time.Minute),
			LastError: "stripe answered 503", Runs: 1, Failures: 1, Requests: 5}))
		st, err = s.GetBackfillState(ctx, src.ID)
		ok(t, err)
		want := hookbridge.BackfillState{SourceID: src.ID, HighWater: at(time.Minute), LastRunAt: at(3 * time.Minute),
			LastSuccessAt: at(2 * time.Minute), LastError: "stripe answered 503", Runs: 2, Failures: 1, Fetched: 250, Backfilled: 3,
			Duplicates: 247, Requests: 8}
		equal(t, "after two runs", *st, want)
		// A later run moves the mark forward and clears the error; an
		// earlier mark does not move it back.
		ok(t, s.RecordBackfillRun(ctx, &hookbridge.BackfillState{SourceID: src.ID, HighWater: at(5 * time.Minute), LastRunAt: at(6 * time.Minute),
			LastSuccessAt: at(6 * time.Minute), Runs: 1, Requests: 1}))
		ok(t, s.RecordBackfillRun(ctx, &hookbridge.BackfillState{SourceID: src.ID, HighWater: at(4 * time.Minute), LastRunAt: at(7 * time.Minute),
			LastSuccessAt: at(7 * time.Minute), Runs: 1, Requests: 1}))
		st, err = s.GetBackfillState(ctx, src.ID)
		ok(t, err)
		want.HighWater, want.LastRunAt, want.LastSuccessAt, want.LastError, want.Runs, want.Requests =
			at(5*time.Minute), at(7*time.Minute), at(7*time.Minute), "", 4, 10
		equal(t, "after four runs", *st, want)
		wantUTC(t, "backfill state", st.HighWater, st.LastRunAt, st.LastSuccessAt)

		gone := hookbridge.NewID(hookbridge.PrefixSource)
		_, err = s.GetBackfillState(ctx, gone)
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, s.RecordBackfillRun(ctx, &hookbridge.BackfillState{SourceID: gone}), hookbridge.ENOTFOUND)

		ok(t, s.DeleteSource(ctx, src.ID))
		again := newSource(t, s, func(n *hookbridge.Source) { n.ID = src.ID })
		st, err = s.GetBackfillState(ctx, again.ID)
		ok(t, err)
		equal(t, "after delete and re-create", *st, hookbridge.BackfillState{SourceID: src.ID})
	})
	t.Run("Via", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		src := newSource(t, s, nil)
		// a came by webhook and polling; b only by backfill, which
		// observed it too; c by backfill, and its webhook came later
		// (a duplicate, not stored).
		_, _, err := s.CreateInboundEvent(ctx, newInbound(src.ID, "a", at(time.Minute)))
		ok(t, err)
		for _, id := range []string{"b", "c"} {
			ev := newInbound(src.ID, id, at(2*time.Minute))
			ev.Via = hookbridge.ViaBackfill
			stored, created, err := s.CreateInboundEvent(ctx, ev)
			ok(t, err)
			if !created || stored.Via != hookbridge.ViaBackfill {
				t.Fatalf("backfilled %s: created %v, via %q", id, created, stored.Via)
			}
		}
		late := newInbound(src.ID, "c", at(3*time.Minute))
		stored, created, err := s.CreateInboundEvent(ctx, late)
		ok(t, err)
		if created || stored.Via != hookbridge.ViaBackfill {
			t.Errorf("webhook after backfill: created %v, via %q; want a duplicate of the backfilled event", created, stored.Via)
		}
		_, err = s.AddObservations(ctx, src.ID, []hookbridge.Observation{
			{EventID: "a", SeenAt: at(2 * time.Minute)}, {EventID: "b", SeenAt: at(2 * time.Minute)}, {EventID: "c", SeenAt: at(2 * time.Minute)},
		})
		ok(t, err)
		c, err := s.CompareObservations(ctx, src.ID, base, at(time.Hour))
		ok(t, err)
		equal(t, "comparison", c, hookbridge.Comparison{
			Webhook: 1, Polling: 3, Both: 1, PollingOnly: 2, Backfilled: 2, Leads: []time.Duration{time.Minute},
		})
		p, err := s.ListInboundEvents(ctx, src.ID, hookbridge.InboundFilter{})
		ok(t, err)
		vias := map[string]string{}
		for _, ev := range p.Data {
			vias[ev.EventID] = ev.Via
		}
		equal(t, "vias", vias, map[string]string{"a": hookbridge.ViaWebhook, "b": hookbridge.ViaBackfill, "c": hookbridge.ViaBackfill})
	})
}

// newSource creates a Stripe source in shadow, after edit (if not nil) has
// changed it, as actor "creator".
func newSource(t *testing.T, s hookbridge.Store, edit func(*hookbridge.Source)) *hookbridge.Source {
	t.Helper()
	src := &hookbridge.Source{
		ID:          hookbridge.NewID(hookbridge.PrefixSource),
		Scheme:      "stripe",
		Credentials: hookbridge.SourceCredentials{Secret: "whsec_test"},
		Routing:     hookbridge.Routing{App: "app"},
		Rollout:     hookbridge.Rollout{State: hookbridge.RolloutShadow},
		CreatedAt:   base,
		UpdatedAt:   base,
	}
	if edit != nil {
		edit(src)
	}
	ok(t, s.CreateSource(t.Context(), src, "creator"))
	return src
}

// newInbound is an inbound event of the source with the given key, received
// at received.
func newInbound(sourceID, eventID string, received time.Time) *hookbridge.InboundEvent {
	return &hookbridge.InboundEvent{
		ID:         hookbridge.NewIDAt(hookbridge.PrefixInbound, received),
		SourceID:   sourceID,
		EventID:    eventID,
		Body:       []byte(`{"id":"` + eventID + `"}`),
		Note:       "verified",
		ReceivedAt: received,
	}
}
