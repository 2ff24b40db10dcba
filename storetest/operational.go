package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testOperationalEvents(t *testing.T, open Opener) {
	// WithResults: an accepted result's event is recorded with it, filled
	// in from its attempt; a rejected result's is not.
	open.run(t, "WithResults", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep := newEndpoint(t, s, app.ID, nil)
		newMessage(t, s, app.ID, "order.created", at(0))
		event := func(c hookbridge.Claim) *hookbridge.OperationalEvent {
			return &hookbridge.OperationalEvent{Type: hookbridge.EventAttemptExhausted, AppID: app.ID,
				EndpointID: ep.ID, MsgID: c.Message.ID, MsgEventID: "evt-1"}
		}
		a := claimAll(t, s, "a", at(0))
		// a's lease runs out and b takes the delivery over: a's result,
		// and its event, are rejected.
		b := claimAll(t, s, "b", at(lease+time.Second))
		if len(a) != 1 || len(b) != 1 {
			t.Fatalf("claimed %d and %d, want 1 and 1", len(a), len(b))
		}
		rejected, err := s.RecordAttempts(ctx, "a", []hookbridge.AttemptResult{{DeliveryID: a[0].Delivery.ID,
			Status: hookbridge.StatusFail, Attempt: attemptFor(a[0], at(time.Second), 500), Event: event(a[0])}})
		ok(t, err)
		equal(t, "rejected", rejected, []string{a[0].Delivery.ID})
		got := takeEvents(t, s, hookbridge.EventEndpointCreated)
		if len(got) != 0 {
			t.Fatalf("a rejected result recorded events: %+v", got)
		}

		att := attemptFor(b[0], at(2*time.Hour), 502)
		rejected, err = s.RecordAttempts(ctx, "b", []hookbridge.AttemptResult{{DeliveryID: b[0].Delivery.ID,
			Status: hookbridge.StatusFail, Attempt: att, Event: event(b[0])}})
		ok(t, err)
		if len(rejected) != 0 {
			t.Fatalf("rejected %v", rejected)
		}
		got = takeEvents(t, s)
		if len(got) != 1 || !hookbridge.HasPrefix(got[0].ID, hookbridge.PrefixEvent) {
			t.Fatalf("events %+v, want one with an id", got)
		}
		equal(t, "event", got[0], hookbridge.OperationalEvent{ID: got[0].ID, Type: hookbridge.EventAttemptExhausted,
			AppID: app.ID, EndpointID: ep.ID, MsgID: b[0].Message.ID, MsgEventID: "evt-1", CreatedAt: at(2 * time.Hour),
			Attempt: &hookbridge.LastAttempt{ID: att.ID, StatusCode: 502, At: at(2 * time.Hour)}})

		// A result that reports an event needs its attempt.
		_, err = s.RecordAttempts(ctx, "b", []hookbridge.AttemptResult{{DeliveryID: b[0].Delivery.ID,
			Status: hookbridge.StatusFail, Event: event(b[0])}})
		if err == nil {
			t.Fatal("an event without its attempt was accepted")
		}
	})

	// Disabled: each endpoint RecordEndpointHealth disables is recorded
	// once, in its transaction.
	open.run(t, "Disabled", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.UID = "ep-1" })
		takeEvents(t, s, hookbridge.EventEndpointCreated)
		for range 2 {
			_, err := s.RecordEndpointHealth(ctx, []hookbridge.EndpointReport{
				{EndpointID: ep.ID, At: at(time.Hour), Gone: true},
				{EndpointID: ep.ID, At: at(time.Hour), Gone: true},
			}, time.Time{})
			ok(t, err)
		}
		got := takeEvents(t, s)
		if len(got) != 1 {
			t.Fatalf("events %+v, want one endpoint.disabled", got)
		}
		if got[0].CreatedAt.IsZero() {
			t.Fatalf("event %+v has no time", got[0])
		}
		equal(t, "event", got[0], hookbridge.OperationalEvent{ID: got[0].ID, Type: hookbridge.EventEndpointDisabled,
			AppID: app.ID, EndpointID: ep.ID, EndpointUID: "ep-1", FailSince: at(time.Hour),
			Reason: hookbridge.DisabledGone, CreatedAt: got[0].CreatedAt})
	})

	// EndpointChanges: creating, updating and deleting an endpoint each
	// record their event, with the endpoint's uid, in order.
	open.run(t, "EndpointChanges", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.UID = "orders" })
		ep.Description = "changed"
		ok(t, s.UpdateEndpoint(ctx, ep))
		ok(t, s.DeleteEndpoint(ctx, app.ID, ep.ID))
		wantCode(t, s.DeleteEndpoint(ctx, app.ID, ep.ID), hookbridge.ENOTFOUND)
		got := takeEvents(t, s)
		var types []string
		for _, ev := range got {
			types = append(types, ev.Type)
			if ev.AppID != app.ID || ev.EndpointID != ep.ID || ev.EndpointUID != "orders" || ev.CreatedAt.IsZero() {
				t.Errorf("event %+v, want one about %s (orders) with a time", ev, ep.ID)
			}
		}
		equal(t, "types", types, []string{hookbridge.EventEndpointCreated, hookbridge.EventEndpointUpdated, hookbridge.EventEndpointDeleted})
	})

	// EndpointAuthChanges: setting, replacing and removing an endpoint's
	// client certificate or OAuth credentials are changes to the endpoint,
	// each recording endpoint.updated; removing what is not there, or a
	// change to another application's endpoint, records nothing.
	t.Run("EndpointAuthChanges", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.UID = "orders" })
		other := newApp(t, s, "b")
		takeEvents(t, s)
		m := &hookbridge.EndpointMTLS{CertPEM: "cert", KeyPEM: "key", NotAfter: at(48 * time.Hour)}
		o := &hookbridge.EndpointOAuth{TokenURL: "https://auth.example/token", ClientID: "id", ClientSecret: "secret"}
		ok(t, s.PutEndpointMTLS(ctx, app.ID, ep.ID, m))
		ok(t, s.PutEndpointMTLS(ctx, app.ID, ep.ID, m))
		ok(t, s.DeleteEndpointMTLS(ctx, app.ID, ep.ID))
		ok(t, s.PutEndpointOAuth(ctx, app.ID, ep.ID, o))
		ok(t, s.DeleteEndpointOAuth(ctx, app.ID, ep.ID))
		wantCode(t, s.DeleteEndpointMTLS(ctx, app.ID, ep.ID), hookbridge.ENOTFOUND)
		wantCode(t, s.DeleteEndpointOAuth(ctx, app.ID, ep.ID), hookbridge.ENOTFOUND)
		wantCode(t, s.PutEndpointOAuth(ctx, other.ID, ep.ID, o), hookbridge.ENOTFOUND)
		got := takeEvents(t, s)
		if len(got) != 5 {
			t.Fatalf("%d events %+v, want 5", len(got), got)
		}
		for _, ev := range got {
			if ev.Type != hookbridge.EventEndpointUpdated || ev.AppID != app.ID || ev.EndpointID != ep.ID ||
				ev.EndpointUID != "orders" || ev.CreatedAt.IsZero() {
				t.Errorf("event %+v, want endpoint.updated about %s (orders) with a time", ev, ep.ID)
			}
		}
	})

	// TakeAndDelete: oldest first, at most limit, and gone once deleted.
	open.run(t, "TakeAndDelete", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		var want []string
		for range 2 {
			ep := newEndpoint(t, s, app.ID, nil)
			_, err := s.RecordEndpointHealth(ctx, []hookbridge.EndpointReport{{EndpointID: ep.ID, At: at(0), Gone: true}}, time.Time{})
			ok(t, err)
			want = append(want, hookbridge.EventEndpointCreated+" "+ep.ID, hookbridge.EventEndpointDisabled+" "+ep.ID)
		}
		names := func(evs []hookbridge.OperationalEvent) []string {
			var out []string
			for _, ev := range evs {
				out = append(out, ev.Type+" "+ev.EndpointID)
			}
			return out
		}
		got, err := s.OperationalEvents(ctx, 3)
		ok(t, err)
		equal(t, "first three", names(got), want[:3])
		ok(t, s.DeleteOperationalEvents(ctx, []string{got[0].ID, got[2].ID, hookbridge.NewID(hookbridge.PrefixEvent)}))
		ok(t, s.DeleteOperationalEvents(ctx, nil))
		got, err = s.OperationalEvents(ctx, 10)
		ok(t, err)
		equal(t, "after a delete", names(got), []string{want[1], want[3]})
		n, err := s.CountOperationalEvents(ctx)
		ok(t, err)
		equal(t, "count", n, int64(2))
	})
}

// takeEvents returns the recorded events, less those of the given types,
// and deletes them all.
func takeEvents(t *testing.T, s hookbridge.Store, skip ...string) []hookbridge.OperationalEvent {
	t.Helper()
	evs, err := s.OperationalEvents(t.Context(), 1000)
	ok(t, err)
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	ok(t, s.DeleteOperationalEvents(t.Context(), ids))
	return slices.DeleteFunc(evs, func(ev hookbridge.OperationalEvent) bool { return slices.Contains(skip, ev.Type) })
}
