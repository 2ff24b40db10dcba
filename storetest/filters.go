package storetest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// filterCounter is what the stores built on storekit report of the filters
// they evaluated.
type filterCounter interface {
	FilterCounts() storekit.FilterCounts
}

func testFilters(t *testing.T, open Opener) {
	open.run(t, "FanOut", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		all := newEndpoint(t, s, app.ID, nil)
		bigEUR := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) {
			e.Filter = `payload.amount >= 5000 && payload.currency == "EUR"`
		})
		// Both the event types and the filter must hold.
		capturedEU := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) {
			e.EventTypes = []string{"payment.captured"}
			e.Filter = `"eu" in channels`
		})
		refunds := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.Filter = `eventType.startsWith("refund.")` })
		// Fails on a payload without region: no match.
		byRegion := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.Filter = `payload.region == "north"` })
		newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.Disabled = true; e.Filter = `true` })

		counter, counts := s.(filterCounter)
		var before storekit.FilterCounts
		if counts {
			before = counter.FilterCounts()
		}
		for _, tc := range []struct {
			name      string
			eventType string
			payload   string
			channels  []string
			want      []*hookbridge.Endpoint
		}{
			{"BigEUR", "payment.captured", `{"amount":7500,"currency":"EUR"}`, nil, []*hookbridge.Endpoint{all, bigEUR}},
			{"SmallEUR", "payment.captured", `{"amount":4999,"currency":"EUR"}`, nil, []*hookbridge.Endpoint{all}},
			{"BigUSDInEU", "payment.captured", `{"amount":9000,"currency":"USD"}`, []string{"eu"}, []*hookbridge.Endpoint{all, capturedEU}},
			{"OtherTypeInEU", "payment.failed", `{"amount":9000,"currency":"EUR"}`, []string{"eu"}, []*hookbridge.Endpoint{all, bigEUR}},
			{"Refund", "refund.succeeded", `{"amount":6000,"region":"north"}`, nil, []*hookbridge.Endpoint{all, refunds, byRegion}}, // bigEUR fails: no currency
			{"NotAnObject", "order.created", `[1,2]`, nil, []*hookbridge.Endpoint{all}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m := &hookbridge.Message{AppID: app.ID, EventType: tc.eventType, Payload: json.RawMessage(tc.payload), Channels: tc.channels, CreatedAt: at(0)}
				_, _, err := s.CreateMessage(t.Context(), m)
				ok(t, err)
				equal(t, "endpoints owed the message", owedTo(t, s, m), endpointIDs(tc.want))
			})
		}
		if counts {
			after := counter.FilterCounts()
			// Skipped: 4 filtered endpoints per message that Accepts
			// lets through (capturedEU only for payment.captured), less
			// the matches.
			wantFailed := int64(1 + 1 + 1 + 1 + 1 + 2)
			if got := after.Failed - before.Failed; got != wantFailed {
				t.Errorf("failed evaluations counted: %d, want %d", got, wantFailed)
			}
			wantSkipped := int64((4 - 1) + 4 + (4 - 1) + (3 - 1) + (3 - 2) + 3)
			if got := after.Skipped - before.Skipped; got != wantSkipped {
				t.Errorf("deliveries skipped counted: %d, want %d", got, wantSkipped)
			}
		}
	})

	open.run(t, "Batch", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		other := newApp(t, s, "b")
		big := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.Filter = `payload.amount > 100` })
		small := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.Filter = `payload.amount <= 100` })
		otherBig := newEndpoint(t, s, other.ID, func(e *hookbridge.Endpoint) { e.Filter = `payload.amount > 100` })
		batch := []*hookbridge.Message{
			{AppID: app.ID, EventType: "order.created", Payload: json.RawMessage(`{"amount":500}`), CreatedAt: at(0)},
			{AppID: app.ID, EventType: "order.created", Payload: json.RawMessage(`{"amount":5}`), CreatedAt: at(0)},
			{AppID: other.ID, EventType: "order.created", Payload: json.RawMessage(`{"amount":500}`), CreatedAt: at(0)},
		}
		res, err := s.CreateMessages(t.Context(), batch)
		ok(t, err)
		for i, r := range res {
			if !r.Created || r.Err != nil {
				t.Fatalf("result %d = %+v", i, r)
			}
		}
		equal(t, "first", owedTo(t, s, batch[0]), []string{big.ID})
		equal(t, "second", owedTo(t, s, batch[1]), []string{small.ID})
		equal(t, "third", owedTo(t, s, batch[2]), []string{otherBig.ID})
	})

	open.run(t, "CreateMessageToIgnoresFilter", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		target := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.Filter = `payload.amount > 100` })
		m := &hookbridge.Message{AppID: app.ID, EventType: "svix.ping", Payload: json.RawMessage(`{"success":true}`), CreatedAt: at(0)}
		ok(t, s.CreateMessageTo(t.Context(), m, target.ID))
		equal(t, "endpoints owed the test message", owedTo(t, s, m), []string{target.ID})
	})

	open.run(t, "ChangeApplies", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.Filter = `payload.n == 1` })
		got, err := s.GetEndpoint(ctx, app.ID, ep.ID)
		ok(t, err)
		equal(t, "stored filter", got.Filter, ep.Filter)
		send := func(n string) *hookbridge.Message {
			t.Helper()
			m := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: json.RawMessage(`{"n":` + n + `}`), CreatedAt: at(0)}
			_, _, err := s.CreateMessage(ctx, m)
			ok(t, err)
			return m
		}
		equal(t, "n=1 with n == 1", owedTo(t, s, send("1")), []string{ep.ID})
		equal(t, "n=2 with n == 1", owedTo(t, s, send("2")), []string(nil))

		// A changed filter applies to the next message.
		ep.Filter = `payload.n == 2`
		ok(t, s.UpdateEndpoint(ctx, ep))
		got, err = s.GetEndpoint(ctx, app.ID, ep.ID)
		ok(t, err)
		equal(t, "updated filter", got.Filter, `payload.n == 2`)
		equal(t, "n=1 with n == 2", owedTo(t, s, send("1")), []string(nil))
		equal(t, "n=2 with n == 2", owedTo(t, s, send("2")), []string{ep.ID})

		// Without a filter it gets everything again.
		ep.Filter = ""
		ok(t, s.UpdateEndpoint(ctx, ep))
		got, err = s.GetEndpoint(ctx, app.ID, ep.ID)
		ok(t, err)
		equal(t, "cleared filter", got.Filter, "")
		equal(t, "n=3 without a filter", owedTo(t, s, send("3")), []string{ep.ID})

		// A deleted endpoint with a filter, and a new one: nothing of the
		// old filter is left.
		ep.Filter = `false`
		ok(t, s.UpdateEndpoint(ctx, ep))
		ok(t, s.DeleteEndpoint(ctx, app.ID, ep.ID))
		fresh := newEndpoint(t, s, app.ID, nil)
		equal(t, "after delete", owedTo(t, s, send("4")), []string{fresh.ID})
	})

	open.run(t, "InvalidRefused", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		bad := &hookbridge.Endpoint{AppID: app.ID, URL: "https://receiver.example/", Filter: `payload.amount >`}
		wantCode(t, s.CreateEndpoint(ctx, bad), hookbridge.EINVALID)
		p, err := s.ListEndpoints(ctx, app.ID, hookbridge.ListOptions{})
		ok(t, err)
		if len(p.Data) != 0 {
			t.Errorf("an endpoint with an invalid filter was stored: %+v", p.Data)
		}
		ep := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.Filter = `true` })
		changed := *ep
		changed.Filter = `1 + 1`
		wantCode(t, s.UpdateEndpoint(ctx, &changed), hookbridge.EINVALID)
		got, err := s.GetEndpoint(ctx, app.ID, ep.ID)
		ok(t, err)
		equal(t, "filter after a refused update", got.Filter, `true`)
	})
}

// owedTo returns the ids of the endpoints the message was owed to, sorted.
func owedTo(t *testing.T, s hookbridge.Store, m *hookbridge.Message) []string {
	t.Helper()
	p, err := s.ListMessageEndpoints(t.Context(), m.AppID, m.ID, hookbridge.ListOptions{Limit: hookbridge.MaxListLimit})
	ok(t, err)
	got := ids(p.Data, func(me hookbridge.MessageEndpoint) string { return me.Endpoint.ID })
	slices.Sort(got)
	return got
}

// endpointIDs returns the ids of eps, sorted.
func endpointIDs(eps []*hookbridge.Endpoint) []string {
	var out []string
	for _, e := range eps {
		out = append(out, e.ID)
	}
	slices.Sort(out)
	return out
}
