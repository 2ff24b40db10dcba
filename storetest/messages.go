package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testMessages(t *testing.T, open Opener) {
	open.run(t, "FanOut", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		other := newApp(t, s, "other")
		all := newEndpoint(t, s, app.ID, nil)
		captured := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.EventTypes = []string{"payment.captured"} })
		refunds := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.EventTypes = []string{"refund.succeeded"} })
		eu := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.Channels = []string{"eu", "uk"} })
		capturedUS := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) {
			e.EventTypes = []string{"payment.captured"}
			e.Channels = []string{"us"}
		})
		newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.Disabled = true })
		newEndpoint(t, s, other.ID, nil)

		for _, tc := range []struct {
			name      string
			eventType string
			channels  []string
			want      []*hookbridge.Endpoint
		}{
			{"NoChannels", "payment.captured", nil, []*hookbridge.Endpoint{all, captured}},
			{"ChannelMatch", "payment.captured", []string{"uk"}, []*hookbridge.Endpoint{all, captured, eu}},
			{"AnyChannelMatches", "payment.captured", []string{"fr", "us"}, []*hookbridge.Endpoint{all, captured, capturedUS}},
			{"OtherType", "refund.succeeded", []string{"eu"}, []*hookbridge.Endpoint{all, refunds, eu}},
			{"NobodyElse", "order.created", nil, []*hookbridge.Endpoint{all}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m := newMessage(t, s, app.ID, tc.eventType, at(0), tc.channels...)
				p, err := s.ListMessageEndpoints(t.Context(), app.ID, m.ID, hookbridge.ListOptions{Limit: hookbridge.MaxListLimit})
				ok(t, err)
				var got, want []string
				for _, me := range p.Data {
					got = append(got, me.Endpoint.ID)
					if me.Status != hookbridge.StatusPending {
						t.Errorf("endpoint %s: status %v, want pending", me.Endpoint.ID, me.Status)
					}
				}
				for _, e := range tc.want {
					want = append(want, e.ID)
				}
				slices.Sort(want)
				equal(t, "endpoints owed the message", got, want)

				// The deliveries are there to claim, with all a sender needs.
				claims := claimAll(t, s, "w", at(0))
				got = got[:0]
				for _, c := range claims {
					got = append(got, c.Endpoint.ID)
					equal(t, "claimed message", c.Message, *m)
					d := c.Delivery
					if d.MsgID != m.ID || d.AppID != app.ID || d.EndpointID != c.Endpoint.ID ||
						d.Status != hookbridge.StatusPending || d.Trigger != hookbridge.TriggerScheduled ||
						d.Attempts != 0 || !d.NextAttempt.Equal(m.CreatedAt) {
						t.Errorf("claimed delivery %+v, want a pending scheduled delivery of %s due at %v", d, m.ID, m.CreatedAt)
					}
					wantUTC(t, "claimed delivery", d.NextAttempt, d.CreatedAt, d.UpdatedAt)
				}
				slices.Sort(got)
				equal(t, "claimed endpoints", got, want)
				for _, c := range claims {
					for _, e := range []*hookbridge.Endpoint{all, captured, refunds, eu, capturedUS} {
						if e.ID == c.Endpoint.ID {
							equal(t, "claimed endpoint", c.Endpoint, *e)
						}
					}
				}
			})
		}
	})

	open.run(t, "CreateMessagesBatch", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		other := newApp(t, s, "b")
		all := newEndpoint(t, s, app.ID, nil)
		otherEP := newEndpoint(t, s, other.ID, nil)
		earlier := &hookbridge.Message{AppID: app.ID, EventID: "evt-old", EventType: "order.created", Payload: json.RawMessage(`{"n":0}`), CreatedAt: at(0)}
		_, _, err := s.CreateMessage(t.Context(), earlier)
		ok(t, err)

		batch := []*hookbridge.Message{
			{AppID: app.ID, EventType: "order.created", Payload: json.RawMessage(`{"n":1}`), CreatedAt: at(0)},
			{AppID: "app_missing", EventType: "order.created", Payload: json.RawMessage(`{"n":2}`), CreatedAt: at(0)},
			{AppID: other.ID, EventID: "evt-1", EventType: "order.created", Payload: json.RawMessage(`{"n":3}`), CreatedAt: at(0)},
			{AppID: other.ID, EventID: "evt-1", EventType: "order.created", Payload: json.RawMessage(`{"n":4}`), CreatedAt: at(0)}, // repeat within the batch
			{AppID: app.ID, EventID: "evt-old", EventType: "order.created", Payload: json.RawMessage(`{"n":5}`), CreatedAt: at(0)}, // repeat of a stored one
		}
		res, err := s.CreateMessages(t.Context(), batch)
		ok(t, err)
		if len(res) != len(batch) {
			t.Fatalf("%d results for %d messages", len(res), len(batch))
		}
		if !res[0].Created || res[0].Err != nil || res[0].Message.ID == "" {
			t.Errorf("result 0 = %+v, want created", res[0])
		}
		wantCode(t, res[1].Err, hookbridge.ENOTFOUND)
		if res[1].Message != nil || res[1].Created {
			t.Errorf("result 1 = %+v, want no message", res[1])
		}
		if !res[2].Created || res[3].Created || res[3].Message.ID != res[2].Message.ID {
			t.Errorf("repeat within the batch: %+v then %+v, want the first message twice", res[2], res[3])
		}
		if res[4].Created || res[4].Message.ID != earlier.ID {
			t.Errorf("repeat of a stored event id: %+v, want %s", res[4], earlier.ID)
		}
		// Fan-out happened once per created message: the endpoints each
		// owe exactly their new messages (plus the earlier one for app).
		claims := claimAll(t, s, "w", at(0))
		owed := map[string]int{}
		for _, c := range claims {
			owed[c.Endpoint.ID]++
		}
		equal(t, "deliveries per endpoint", owed, map[string]int{all.ID: 2, otherEP.ID: 1})
	})

	open.run(t, "CreateMessageTo", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		other := newApp(t, s, "other")
		// The target's filter does not accept the type, and another
		// endpoint would: only the target is owed the message.
		target := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.EventTypes = []string{"refund.failed"} })
		newEndpoint(t, s, app.ID, nil)
		foreign := newEndpoint(t, s, other.ID, nil)

		m := &hookbridge.Message{AppID: app.ID, EventType: "payment.captured", Payload: json.RawMessage(`{"test":true}`), CreatedAt: at(0)}
		ok(t, s.CreateMessageTo(t.Context(), m, target.ID))
		if m.ID == "" {
			t.Fatal("CreateMessageTo left the message id empty")
		}
		p, err := s.ListMessageEndpoints(t.Context(), app.ID, m.ID, hookbridge.ListOptions{Limit: hookbridge.MaxListLimit})
		ok(t, err)
		equal(t, "endpoints owed the message", ids(p.Data, func(me hookbridge.MessageEndpoint) string { return me.Endpoint.ID }), []string{target.ID})

		// An endpoint of another application is not found, and nothing is written.
		m2 := &hookbridge.Message{AppID: app.ID, EventType: "payment.captured", Payload: json.RawMessage(`{}`), CreatedAt: at(0)}
		wantCode(t, s.CreateMessageTo(t.Context(), m2, foreign.ID), hookbridge.ENOTFOUND)
		_, err = s.GetMessage(t.Context(), app.ID, m2.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
	})

	open.run(t, "EventIDIdempotency", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		other := newApp(t, s, "b")
		newEndpoint(t, s, app.ID, nil)
		newEndpoint(t, s, other.ID, nil)

		first := &hookbridge.Message{
			ID: hookbridge.NewID(hookbridge.PrefixMessage), AppID: app.ID, EventID: "evt-1",
			EventType: "order.created", Payload: json.RawMessage(`{"v":1}`), CreatedAt: at(0),
		}
		stored, created, err := s.CreateMessage(ctx, first)
		ok(t, err)
		if !created {
			t.Fatal("first CreateMessage: created = false")
		}
		equal(t, "first", *stored, *first)

		again := &hookbridge.Message{
			ID: hookbridge.NewID(hookbridge.PrefixMessage), AppID: app.ID, EventID: "evt-1",
			EventType: "order.updated", Payload: json.RawMessage(`{"v":2}`), CreatedAt: at(time.Second),
		}
		stored, created, err = s.CreateMessage(ctx, again)
		ok(t, err)
		if created {
			t.Error("repeated eventId: created = true")
		}
		equal(t, "repeated eventId returns the original", *stored, *first)
		_, err = s.GetMessage(ctx, app.ID, again.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)

		storedAs(t, "GetMessage by eventId", *first)(s.GetMessage(ctx, app.ID, "evt-1"))

		// Another application's event ids are its own.
		theirs := &hookbridge.Message{AppID: other.ID, EventID: "evt-1", EventType: "order.created", Payload: json.RawMessage(`{}`), CreatedAt: at(0)}
		_, created, err = s.CreateMessage(ctx, theirs)
		ok(t, err)
		if !created {
			t.Error("same eventId in another application: created = false")
		}

		// One delivery each: the repeat wrote none.
		claims := claimAll(t, s, "w", at(time.Hour))
		var msgs []string
		for _, c := range claims {
			msgs = append(msgs, c.Message.ID)
		}
		slices.Sort(msgs)
		want := []string{first.ID, theirs.ID}
		slices.Sort(want)
		equal(t, "claimed messages", msgs, want)
	})

	open.run(t, "CreateFillsIDAndTime", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		m := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: json.RawMessage(`{}`)}
		stored, _, err := s.CreateMessage(t.Context(), m)
		ok(t, err)
		if !hookbridge.HasPrefix(stored.ID, hookbridge.PrefixMessage) || stored.CreatedAt.IsZero() {
			t.Errorf("stored %+v, want an id and a time filled in", stored)
		}
		storedAs(t, "GetMessage", *stored)(s.GetMessage(t.Context(), app.ID, stored.ID))
	})

	// The trace context a message was accepted in comes back with it, on
	// every path a delivery reads it from: reads, claims, a batch.
	open.run(t, "TraceParent", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		newEndpoint(t, s, app.ID, nil)
		const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		one := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: json.RawMessage(`{}`), CreatedAt: at(0), TraceParent: tp}
		_, _, err := s.CreateMessage(t.Context(), one)
		ok(t, err)
		res, err := s.CreateMessages(t.Context(), []*hookbridge.Message{
			{AppID: app.ID, EventType: "order.created", Payload: json.RawMessage(`{}`), CreatedAt: at(0), TraceParent: tp},
			{AppID: app.ID, EventType: "order.created", Payload: json.RawMessage(`{}`), CreatedAt: at(0)},
		})
		ok(t, err)
		got, err := s.GetMessage(t.Context(), app.ID, one.ID)
		ok(t, err)
		equal(t, "GetMessage's trace parent", got.TraceParent, tp)
		want := map[string]string{one.ID: tp, res[0].Message.ID: tp, res[1].Message.ID: ""}
		claims := claimAll(t, s, "w", at(0))
		if len(claims) != 3 {
			t.Fatalf("claimed %d deliveries, want 3", len(claims))
		}
		for _, c := range claims {
			equal(t, "claimed trace parent of "+c.Message.ID, c.Message.TraceParent, want[c.Message.ID])
		}
	})

	open.run(t, "GetScopedToApplication", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		a, b := newApp(t, s, "a"), newApp(t, s, "b")
		m := &hookbridge.Message{AppID: a.ID, EventID: "evt", EventType: "order.created", Payload: json.RawMessage(`{"a":[1,2]}`), Channels: []string{"x"}, CreatedAt: at(0)}
		_, _, err := s.CreateMessage(ctx, m)
		ok(t, err)
		got := storedAs(t, "GetMessage", *m)(s.GetMessage(ctx, a.ID, m.ID))
		wantUTC(t, "GetMessage", got.CreatedAt)
		for _, key := range []string{m.ID, m.EventID} {
			_, err := s.GetMessage(ctx, b.ID, key)
			wantCode(t, err, hookbridge.ENOTFOUND)
		}
		_, err = s.GetMessage(ctx, a.ID, hookbridge.NewID(hookbridge.PrefixMessage))
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, s.ExpungeMessageContent(ctx, b.ID, m.ID), hookbridge.ENOTFOUND)
		p, err := s.ListMessages(ctx, b.ID, hookbridge.MessageFilter{})
		ok(t, err)
		if len(p.Data) != 0 {
			t.Errorf("b lists %+v", p.Data)
		}
	})

	open.run(t, "ExpungeContent", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		m := newMessage(t, s, app.ID, "order.created", at(0))
		ok(t, s.ExpungeMessageContent(ctx, app.ID, m.ID))
		got, err := s.GetMessage(ctx, app.ID, m.ID)
		ok(t, err)
		want := *m
		want.Payload = nil
		equal(t, "expunged", *got, want)
		wantCode(t, s.ExpungeMessageContent(ctx, app.ID, hookbridge.NewID(hookbridge.PrefixMessage)), hookbridge.ENOTFOUND)
	})

	open.run(t, "List", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		other := newApp(t, s, "b")
		// Oldest first; listed newest first.
		m := []*hookbridge.Message{
			newMessage(t, s, app.ID, "order.created", at(1*time.Minute), "eu"),
			newMessage(t, s, app.ID, "payment.captured", at(2*time.Minute)),
			newMessage(t, s, app.ID, "order.created", at(3*time.Minute), "us", "eu"),
			newMessage(t, s, app.ID, "refund.failed", at(4*time.Minute), "us"),
			newMessage(t, s, app.ID, "payment.captured", at(5*time.Minute), "eu"),
		}
		newMessage(t, s, other.ID, "order.created", at(3*time.Minute), "eu")
		key := func(m hookbridge.Message) string { return m.ID }
		msgIDs := func(idx ...int) []string {
			var out []string
			for _, i := range idx {
				out = append(out, m[i].ID)
			}
			return out
		}
		for _, tc := range reversedListCases(msgIDs(4, 3, 2, 1, 0)) {
			t.Run(tc.name, func(t *testing.T) {
				got := ids(pageAll(t, tc.limit, key, func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Message], error) {
					return s.ListMessages(t.Context(), app.ID, hookbridge.MessageFilter{ListOptions: opt})
				}, tc.order), key)
				equal(t, "ids", got, tc.want)
			})
		}
		for _, tc := range []struct {
			name string
			f    hookbridge.MessageFilter
			want []string
		}{
			{"EventType", hookbridge.MessageFilter{EventTypes: []string{"order.created"}}, msgIDs(2, 0)},
			{"EventTypes", hookbridge.MessageFilter{EventTypes: []string{"refund.failed", "payment.captured"}}, msgIDs(4, 3, 1)},
			{"Channel", hookbridge.MessageFilter{Channel: "eu"}, msgIDs(4, 2, 0)},
			{"ChannelAndType", hookbridge.MessageFilter{Channel: "us", EventTypes: []string{"order.created"}}, msgIDs(2)},
			{"Before", hookbridge.MessageFilter{Before: at(3 * time.Minute)}, msgIDs(1, 0)},
			{"After", hookbridge.MessageFilter{After: at(3 * time.Minute)}, msgIDs(4, 3)},
			{"Between", hookbridge.MessageFilter{After: at(1 * time.Minute), Before: at(5 * time.Minute)}, msgIDs(3, 2, 1)},
			{"NoMatch", hookbridge.MessageFilter{Channel: "asia"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := ids(pageAll(t, 2, key, func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Message], error) {
					f := tc.f
					f.ListOptions = opt
					return s.ListMessages(t.Context(), app.ID, f)
				}, hookbridge.OrderDefault), key)
				equal(t, "ids", got, tc.want)
			})
		}
		p, err := s.ListMessages(t.Context(), app.ID, hookbridge.MessageFilter{ListOptions: hookbridge.ListOptions{Limit: 1}})
		ok(t, err)
		if len(p.Data) != 1 {
			t.Fatalf("got %d messages, want 1", len(p.Data))
		}
		equal(t, "listed message", p.Data[0], *m[4])
	})

	open.run(t, "EndpointMessages", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep := newEndpoint(t, s, app.ID, nil)
		elsewhere := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.EventTypes = []string{"refund.failed"} })
		m := []*hookbridge.Message{
			newMessage(t, s, app.ID, "order.created", at(1*time.Minute), "eu"),
			newMessage(t, s, app.ID, "payment.captured", at(2*time.Minute)),
			newMessage(t, s, app.ID, "refund.failed", at(3*time.Minute), "us"),
			newMessage(t, s, app.ID, "order.created", at(4*time.Minute), "us"),
		}
		// m0 succeeds, m1 fails for good, m2 is retried later (sending), m3 stays pending.
		outcomes := map[string]func(hookbridge.Claim) hookbridge.AttemptResult{
			m[0].ID: succeed(at(10 * time.Minute)),
			m[1].ID: giveUp(at(10 * time.Minute)),
			m[2].ID: func(c hookbridge.Claim) hookbridge.AttemptResult {
				return hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: attemptFor(c, at(10*time.Minute), 503),
					Status: hookbridge.StatusSending, NextAttempt: at(time.Hour)}
			},
		}
		claims, err := s.ClaimDeliveries(ctx, "w", at(10*time.Minute), lease, 100)
		ok(t, err)
		var results []hookbridge.AttemptResult
		for _, c := range claims {
			if f := outcomes[c.Message.ID]; f != nil && c.Endpoint.ID == ep.ID {
				results = append(results, f(c))
			}
		}
		_, err = s.RecordAttempts(ctx, "w", results)
		ok(t, err)
		var release []string
		for _, c := range claims {
			if c.Endpoint.ID != ep.ID || outcomes[c.Message.ID] == nil {
				release = append(release, c.Delivery.ID)
			}
		}
		ok(t, s.ReleaseDeliveries(ctx, "w", release))

		all, err := s.ListEndpointMessages(ctx, app.ID, ep.ID, hookbridge.EndpointMessageFilter{})
		ok(t, err)
		want := []hookbridge.EndpointMessage{
			{Message: *m[3], Status: hookbridge.StatusPending, NextAttempt: m[3].CreatedAt},
			{Message: *m[2], Status: hookbridge.StatusSending, NextAttempt: at(time.Hour)},
			{Message: *m[1], Status: hookbridge.StatusFail},
			{Message: *m[0], Status: hookbridge.StatusSuccess},
		}
		equal(t, "endpoint messages", all.Data, want)
		if !all.Done {
			t.Error("Done = false")
		}

		status := func(st hookbridge.MessageStatus) *hookbridge.MessageStatus { return &st }
		key := func(em hookbridge.EndpointMessage) string { return em.Message.ID }
		msgIDs := func(idx ...int) []string {
			var out []string
			for _, i := range idx {
				out = append(out, m[i].ID)
			}
			return out
		}
		for _, tc := range []struct {
			name  string
			f     hookbridge.EndpointMessageFilter
			order hookbridge.Ordering
			want  []string
		}{
			{"Paged", hookbridge.EndpointMessageFilter{}, hookbridge.OrderDefault, msgIDs(3, 2, 1, 0)},
			{"Ascending", hookbridge.EndpointMessageFilter{}, hookbridge.OrderAscending, msgIDs(0, 1, 2, 3)},
			{"Status", hookbridge.EndpointMessageFilter{Status: status(hookbridge.StatusFail)}, hookbridge.OrderDefault, msgIDs(1)},
			{"EventTypes", hookbridge.EndpointMessageFilter{MessageFilter: hookbridge.MessageFilter{EventTypes: []string{"order.created"}}}, hookbridge.OrderDefault, msgIDs(3, 0)},
			{"Channel", hookbridge.EndpointMessageFilter{MessageFilter: hookbridge.MessageFilter{Channel: "us"}}, hookbridge.OrderDefault, msgIDs(3, 2)},
			{"Before", hookbridge.EndpointMessageFilter{MessageFilter: hookbridge.MessageFilter{Before: at(2 * time.Minute)}}, hookbridge.OrderDefault, msgIDs(0)},
			{"After", hookbridge.EndpointMessageFilter{MessageFilter: hookbridge.MessageFilter{After: at(2 * time.Minute)}}, hookbridge.OrderDefault, msgIDs(3, 2)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := ids(pageAll(t, 1, key, func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.EndpointMessage], error) {
					f := tc.f
					f.ListOptions = opt
					return s.ListEndpointMessages(t.Context(), app.ID, ep.ID, f)
				}, tc.order), key)
				equal(t, "ids", got, tc.want)
			})
		}

		// The other endpoint is owed only the refund.
		p, err := s.ListEndpointMessages(ctx, app.ID, elsewhere.ID, hookbridge.EndpointMessageFilter{})
		ok(t, err)
		equal(t, "other endpoint", ids(p.Data, key), msgIDs(2))

		// Another application sees none of it.
		b := newApp(t, s, "b")
		p, err = s.ListEndpointMessages(ctx, b.ID, ep.ID, hookbridge.EndpointMessageFilter{})
		if err == nil && len(p.Data) > 0 {
			t.Errorf("application b lists a's endpoint messages: %+v", p.Data)
		} else if err != nil {
			wantCode(t, err, hookbridge.ENOTFOUND)
		}
	})

	open.run(t, "MessageEndpoints", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		var eps []string
		for range 5 {
			eps = append(eps, newEndpoint(t, s, app.ID, nil).ID)
		}
		m := newMessage(t, s, app.ID, "order.created", at(0))
		key := func(me hookbridge.MessageEndpoint) string { return me.Endpoint.ID }
		list := func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.MessageEndpoint], error) {
			return s.ListMessageEndpoints(ctx, app.ID, m.ID, opt)
		}
		got := ids(pageAll(t, 2, key, list, hookbridge.OrderDefault), key)
		equal(t, "endpoints by id", got, eps)

		// Another application sees none of it.
		b := newApp(t, s, "b")
		p, err := s.ListMessageEndpoints(ctx, b.ID, m.ID, hookbridge.ListOptions{})
		if err == nil && len(p.Data) > 0 {
			t.Errorf("application b lists a's message endpoints: %+v", p.Data)
		} else if err != nil {
			wantCode(t, err, hookbridge.ENOTFOUND)
		}
	})
}
