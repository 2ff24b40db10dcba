package storetest

import (
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testEndpoints(t *testing.T, open Opener) {
	open.run(t, "CreateGet", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		rate := 5
		ep := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) {
			e.UID = "primary"
			e.Description = "main receiver"
			e.EventTypes = []string{"payment.captured", "refund.succeeded"}
			e.Channels = []string{"eu"}
			e.RateLimit = &rate
			e.Metadata = map[string]string{"team": "payments"}
			e.Headers = map[string]string{"X-Tenant": "42"}
			e.Filter = `payload.amount >= 5000 && "eu" in channels`
			e.Secrets = []hookbridge.Secret{
				{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
				{Key: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", Expires: at(24 * time.Hour)},
			}
		})
		for _, key := range []string{ep.ID, ep.UID} {
			got := storedAs(t, "GetEndpoint("+key+")", *ep)(s.GetEndpoint(ctx, app.ID, key))
			wantUTC(t, "GetEndpoint", got.CreatedAt, got.UpdatedAt, got.Secrets[1].Expires)
		}
		for _, key := range []string{"", "secondary", hookbridge.NewID(hookbridge.PrefixEndpoint)} {
			_, err := s.GetEndpoint(ctx, app.ID, key)
			wantCode(t, err, hookbridge.ENOTFOUND)
		}
	})

	open.run(t, "CreateFillsIDAndTimes", func(t *testing.T, s hookbridge.Store) {
		app := newApp(t, s, "a")
		ep := &hookbridge.Endpoint{AppID: app.ID, URL: "https://receiver.example/"}
		ok(t, s.CreateEndpoint(t.Context(), ep))
		if !hookbridge.HasPrefix(ep.ID, hookbridge.PrefixEndpoint) {
			t.Errorf("ID = %q, want an endpoint id", ep.ID)
		}
		if ep.CreatedAt.IsZero() || ep.UpdatedAt.IsZero() {
			t.Errorf("times not filled in: %+v", ep)
		}
		storedAs(t, "GetEndpoint", *ep)(s.GetEndpoint(t.Context(), app.ID, ep.ID))
	})

	open.run(t, "UIDConflictWithinApplication", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		a, b := newApp(t, s, "a"), newApp(t, s, "b")
		first := newEndpoint(t, s, a.ID, func(e *hookbridge.Endpoint) { e.UID = "main" })
		dup := &hookbridge.Endpoint{AppID: a.ID, UID: "main", URL: "https://other.example/"}
		wantCode(t, s.CreateEndpoint(ctx, dup), hookbridge.ECONFLICT)

		// The same uid in another application is another endpoint.
		inB := newEndpoint(t, s, b.ID, func(e *hookbridge.Endpoint) { e.UID = "main" })
		got, err := s.GetEndpoint(ctx, b.ID, "main")
		ok(t, err)
		if got.ID != inB.ID {
			t.Errorf("uid in b names %s, want %s", got.ID, inB.ID)
		}

		// Endpoints without a uid never conflict; taking a used uid on update does.
		second := newEndpoint(t, s, a.ID, nil)
		newEndpoint(t, s, a.ID, nil)
		second.UID = "main"
		wantCode(t, s.UpdateEndpoint(ctx, second), hookbridge.ECONFLICT)
		got, err = s.GetEndpoint(ctx, a.ID, "main")
		ok(t, err)
		if got.ID != first.ID {
			t.Errorf("uid in a names %s, want %s", got.ID, first.ID)
		}
	})

	// Two requests that each read the endpoint, change a field and write it
	// back: the second must not undo the first's change, nor the
	// dispatcher's disabling of the endpoint in between.
	open.run(t, "UpdateSinceRead", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep := newEndpoint(t, s, app.ID, nil)
		a, err := s.GetEndpoint(ctx, app.ID, ep.ID)
		ok(t, err)
		b, err := s.GetEndpoint(ctx, app.ID, ep.ID)
		ok(t, err)
		a.Secrets = []hookbridge.Secret{{Key: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}}
		ok(t, s.UpdateEndpoint(ctx, a))
		b.Description = "changed"
		wantCode(t, s.UpdateEndpoint(ctx, b), hookbridge.ECONFLICT)
		got, err := s.GetEndpoint(ctx, app.ID, ep.ID)
		ok(t, err)
		equal(t, "after the stale update", []any{got.Description, got.Secrets[0].Key}, []any{"", a.Secrets[0].Key})
		equal(t, "UpdatedAt returned", got.UpdatedAt, a.UpdatedAt)

		// Read again, the change applies; and every change moves UpdatedAt,
		// even within one millisecond.
		got.Description = "changed"
		movesUpdatedAt(t, a.UpdatedAt, func() time.Time { return got.UpdatedAt }, func() error { return s.UpdateEndpoint(ctx, got) })

		// The dispatcher disables it (410 Gone) after this read.
		c, err := s.GetEndpoint(ctx, app.ID, ep.ID)
		ok(t, err)
		_, err = s.RecordEndpointHealth(ctx, []hookbridge.EndpointReport{{EndpointID: ep.ID, At: c.UpdatedAt, Gone: true}}, time.Time{})
		ok(t, err)
		c.Description = "enabled by mistake?"
		wantCode(t, s.UpdateEndpoint(ctx, c), hookbridge.ECONFLICT)
		got, err = s.GetEndpoint(ctx, app.ID, ep.ID)
		ok(t, err)
		if !got.Disabled {
			t.Error("a stale update enabled the endpoint the dispatcher disabled")
		}

		// One that is gone is ENOTFOUND, not a conflict.
		ok(t, s.DeleteEndpoint(ctx, app.ID, ep.ID))
		wantCode(t, s.UpdateEndpoint(ctx, got), hookbridge.ENOTFOUND)
	})

	open.run(t, "Update", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		ep := newEndpoint(t, s, app.ID, func(e *hookbridge.Endpoint) { e.UID = "old"; e.EventTypes = []string{"order.created"} })
		rate := 1
		upd := &hookbridge.Endpoint{
			ID:          ep.ID,
			AppID:       app.ID,
			UID:         "new",
			URL:         "https://new.example/hook",
			Description: "moved",
			Channels:    []string{"us"},
			Disabled:    true,
			RateLimit:   &rate,
			Metadata:    map[string]string{"a": "b"},
			Headers:     map[string]string{"X-A": "b"},
			Secrets:     []hookbridge.Secret{{Key: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}, {Key: ep.Secrets[0].Key, Expires: at(time.Hour)}},
		}
		ok(t, s.UpdateEndpoint(ctx, upd))
		if !upd.UpdatedAt.After(base) {
			t.Errorf("UpdatedAt = %v, want it set to now", upd.UpdatedAt)
		}
		got, err := s.GetEndpoint(ctx, app.ID, "new")
		ok(t, err)
		want := *upd
		want.CreatedAt = base
		equal(t, "after update", *got, want) // EventTypes cleared: every type again
		_, err = s.GetEndpoint(ctx, app.ID, "old")
		wantCode(t, err, hookbridge.ENOTFOUND)

		missing := *upd
		missing.ID = hookbridge.NewID(hookbridge.PrefixEndpoint)
		wantCode(t, s.UpdateEndpoint(ctx, &missing), hookbridge.ENOTFOUND)
	})

	open.run(t, "ScopedToApplication", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		a, b := newApp(t, s, "a"), newApp(t, s, "b")
		ep := newEndpoint(t, s, a.ID, func(e *hookbridge.Endpoint) { e.UID = "mine" })
		for _, key := range []string{ep.ID, ep.UID} {
			_, err := s.GetEndpoint(ctx, b.ID, key)
			wantCode(t, err, hookbridge.ENOTFOUND)
		}
		stolen := *ep
		stolen.AppID = b.ID
		stolen.URL = "https://attacker.example/"
		wantCode(t, s.UpdateEndpoint(ctx, &stolen), hookbridge.ENOTFOUND)
		wantCode(t, s.DeleteEndpoint(ctx, b.ID, ep.ID), hookbridge.ENOTFOUND)
		p, err := s.ListEndpoints(ctx, b.ID, hookbridge.ListOptions{})
		ok(t, err)
		if len(p.Data) != 0 || !p.Done {
			t.Errorf("b lists %+v", p)
		}
		storedAs(t, "untouched", *ep)(s.GetEndpoint(ctx, a.ID, ep.ID))
	})

	open.run(t, "DeleteDropsPendingDeliveries", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		doomed := newEndpoint(t, s, app.ID, nil)
		kept := newEndpoint(t, s, app.ID, nil)
		newMessage(t, s, app.ID, "order.created", at(0))

		ok(t, s.DeleteEndpoint(ctx, app.ID, doomed.ID))
		_, err := s.GetEndpoint(ctx, app.ID, doomed.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		claims := claimAll(t, s, "w", at(time.Hour))
		if len(claims) != 1 || claims[0].Endpoint.ID != kept.ID {
			t.Errorf("claims = %+v, want only the kept endpoint's", claims)
		}
		wantCode(t, s.DeleteEndpoint(ctx, app.ID, doomed.ID), hookbridge.ENOTFOUND)
	})

	open.run(t, "List", func(t *testing.T, s hookbridge.Store) {
		a, b := newApp(t, s, "a"), newApp(t, s, "b")
		var want []string
		for range 5 {
			want = append(want, newEndpoint(t, s, a.ID, nil).ID)
			newEndpoint(t, s, b.ID, nil) // interleaved, never listed for a
		}
		key := func(e hookbridge.Endpoint) string { return e.ID }
		list := func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Endpoint], error) {
			return s.ListEndpoints(t.Context(), a.ID, opt)
		}
		for _, tc := range listCases(want) {
			t.Run(tc.name, func(t *testing.T) {
				got := ids(pageAll(t, tc.limit, key, list, tc.order), key)
				equal(t, "ids", got, tc.want)
			})
		}
	})
}
