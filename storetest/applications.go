package storetest

import (
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testApplications(t *testing.T, open Opener) {
	open.run(t, "CreateGet", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		rate := 10
		app := &hookbridge.Application{
			ID:        hookbridge.NewID(hookbridge.PrefixApplication),
			UID:       "merchant-42",
			Name:      "Merchant 42",
			RateLimit: &rate,
			Metadata:  map[string]string{"region": "eu"},
			CreatedAt: base,
			UpdatedAt: base,
		}
		ok(t, s.CreateApplication(ctx, app))
		for _, key := range []string{app.ID, app.UID} {
			got := storedAs(t, "GetApplication("+key+")", *app)(s.GetApplication(ctx, key))
			wantUTC(t, "GetApplication", got.CreatedAt, got.UpdatedAt)
		}
		for _, key := range []string{"", "nope", hookbridge.NewID(hookbridge.PrefixApplication)} {
			_, err := s.GetApplication(ctx, key)
			wantCode(t, err, hookbridge.ENOTFOUND)
		}
	})

	open.run(t, "CreateFillsIDAndTimes", func(t *testing.T, s hookbridge.Store) {
		app := &hookbridge.Application{Name: "no id"}
		ok(t, s.CreateApplication(t.Context(), app))
		if !hookbridge.HasPrefix(app.ID, hookbridge.PrefixApplication) {
			t.Errorf("ID = %q, want an application id", app.ID)
		}
		if app.CreatedAt.IsZero() || app.UpdatedAt.IsZero() {
			t.Errorf("times not filled in: %+v", app)
		}
		storedAs(t, "GetApplication", *app)(s.GetApplication(t.Context(), app.ID))
	})

	open.run(t, "UIDConflict", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		a := &hookbridge.Application{Name: "a", UID: "taken"}
		ok(t, s.CreateApplication(ctx, a))
		wantCode(t, s.CreateApplication(ctx, &hookbridge.Application{Name: "b", UID: "taken"}), hookbridge.ECONFLICT)

		// Applications without a uid never conflict with each other.
		b := &hookbridge.Application{Name: "b"}
		ok(t, s.CreateApplication(ctx, b))
		ok(t, s.CreateApplication(ctx, &hookbridge.Application{Name: "c"}))

		b.UID = "taken"
		wantCode(t, s.UpdateApplication(ctx, b), hookbridge.ECONFLICT)
		got, err := s.GetApplication(ctx, "taken")
		ok(t, err)
		if got.ID != a.ID {
			t.Errorf("uid now names %s, want %s", got.ID, a.ID)
		}
	})

	open.run(t, "Update", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := &hookbridge.Application{ID: hookbridge.NewID(hookbridge.PrefixApplication), UID: "old", Name: "old", CreatedAt: base, UpdatedAt: base}
		ok(t, s.CreateApplication(ctx, app))

		rate := 3
		upd := &hookbridge.Application{ID: app.ID, UID: "new", Name: "new", RateLimit: &rate, Metadata: map[string]string{"k": "v"}}
		ok(t, s.UpdateApplication(ctx, upd))
		if !upd.UpdatedAt.After(base) {
			t.Errorf("UpdatedAt = %v, want it set to now", upd.UpdatedAt)
		}
		want := *upd
		want.CreatedAt = base
		storedAs(t, "after update", want)(s.GetApplication(ctx, "new"))
		_, err := s.GetApplication(ctx, "old")
		wantCode(t, err, hookbridge.ENOTFOUND)

		// Clearing the uid frees it.
		upd.UID = ""
		ok(t, s.UpdateApplication(ctx, upd))
		_, err = s.GetApplication(ctx, "new")
		wantCode(t, err, hookbridge.ENOTFOUND)

		missing := &hookbridge.Application{ID: hookbridge.NewID(hookbridge.PrefixApplication), Name: "x"}
		wantCode(t, s.UpdateApplication(ctx, missing), hookbridge.ENOTFOUND)
	})

	open.run(t, "UpdateSinceRead", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		a, err := s.GetApplication(ctx, app.ID)
		ok(t, err)
		b, err := s.GetApplication(ctx, app.ID)
		ok(t, err)
		a.Name = "renamed"
		ok(t, s.UpdateApplication(ctx, a))
		b.Metadata = map[string]string{"k": "v"}
		wantCode(t, s.UpdateApplication(ctx, b), hookbridge.ECONFLICT)
		got, err := s.GetApplication(ctx, app.ID)
		ok(t, err)
		equal(t, "after the stale update", []any{got.Name, len(got.Metadata)}, []any{"renamed", 0})
		equal(t, "UpdatedAt returned", got.UpdatedAt, a.UpdatedAt)

		// Read again, the change applies; and every change moves UpdatedAt,
		// even within one millisecond.
		got.Metadata = map[string]string{"k": "v"}
		movesUpdatedAt(t, a.UpdatedAt, func() time.Time { return got.UpdatedAt }, func() error { return s.UpdateApplication(ctx, got) })

		// One that is gone is ENOTFOUND, not a conflict.
		ok(t, s.DeleteApplication(ctx, app.ID))
		wantCode(t, s.UpdateApplication(ctx, got), hookbridge.ENOTFOUND)
	})

	open.run(t, "DeleteCascades", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "doomed")
		other := newApp(t, s, "bystander")
		ep := newEndpoint(t, s, app.ID, nil)
		otherEP := newEndpoint(t, s, other.ID, nil)
		m1 := newMessage(t, s, app.ID, "order.created", at(0))
		newMessage(t, s, app.ID, "order.created", at(time.Second))
		otherMsg := newMessage(t, s, other.ID, "order.created", at(2*time.Second))
		// One finished delivery with an attempt, one still pending.
		finish(t, s, at(0), succeed(at(0)))

		ok(t, s.DeleteApplication(ctx, app.ID))
		_, err := s.GetApplication(ctx, app.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		_, err = s.GetEndpoint(ctx, app.ID, ep.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		_, err = s.GetMessage(ctx, app.ID, m1.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		atts, err := s.ListAttempts(ctx, app.ID, hookbridge.AttemptFilter{})
		ok(t, err)
		if len(atts.Data) != 0 {
			t.Errorf("attempts survive their application: %+v", atts.Data)
		}
		// The pending deliveries went with it; the other application's did not.
		claims := claimAll(t, s, "w", at(time.Hour))
		if len(claims) != 1 || claims[0].Message.ID != otherMsg.ID || claims[0].Endpoint.ID != otherEP.ID {
			t.Errorf("claims after delete = %+v, want only the other application's", claims)
		}

		wantCode(t, s.DeleteApplication(ctx, app.ID), hookbridge.ENOTFOUND)
	})

	open.run(t, "List", func(t *testing.T, s hookbridge.Store) {
		var want []string
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			want = append(want, newApp(t, s, name).ID)
		}
		key := func(a hookbridge.Application) string { return a.ID }
		list := func(opt hookbridge.ListOptions) (hookbridge.Page[hookbridge.Application], error) {
			return s.ListApplications(t.Context(), opt)
		}
		for _, tc := range listCases(want) {
			t.Run(tc.name, func(t *testing.T) {
				got := ids(pageAll(t, tc.limit, key, list, tc.order), key)
				equal(t, "ids", got, tc.want)
			})
		}
	})
}

// listCase is one way of paging through a list whose default order is
// ascending.
type listCase struct {
	name  string
	limit int
	order hookbridge.Ordering
	want  []string
}

// listCases are the ways of paging through a list that holds asc, in its
// ascending order, when ascending is the list's default.
func listCases(asc []string) []listCase {
	desc := make([]string, len(asc))
	for i, id := range asc {
		desc[len(asc)-1-i] = id
	}
	return []listCase{
		{"DefaultLimit", 0, hookbridge.OrderDefault, asc},
		{"PagesOf2", 2, hookbridge.OrderDefault, asc},
		{"ExactPages", len(asc), hookbridge.OrderAscending, asc},
		{"Ascending", 3, hookbridge.OrderAscending, asc},
		{"Descending", 2, hookbridge.OrderDescending, desc},
	}
}

// reversed returns listCases for a list whose default order is descending:
// desc is the list in that order.
func reversedListCases(desc []string) []listCase {
	asc := make([]string, len(desc))
	for i, id := range desc {
		asc[len(desc)-1-i] = id
	}
	return []listCase{
		{"DefaultLimit", 0, hookbridge.OrderDefault, desc},
		{"PagesOf2", 2, hookbridge.OrderDefault, desc},
		{"Descending", 3, hookbridge.OrderDescending, desc},
		{"Ascending", 2, hookbridge.OrderAscending, asc},
	}
}

func testPortalExpirations(t *testing.T, open Opener) {
	open.run(t, "ExpireAll", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		other := newApp(t, s, "b")
		expiry := func(appID string, issued time.Time) (time.Time, bool) {
			t.Helper()
			e, err := s.PortalAccessExpiry(ctx, appID, issued, "nonce")
			ok(t, err)
			if e.Revoked {
				t.Fatal("revoked without a logout")
			}
			return e.Ends, !e.Ends.IsZero()
		}
		if _, found := expiry(app.ID, at(0)); found {
			t.Fatal("expiry before any call")
		}
		// Tokens issued before the hour end at two hours; later ones live.
		ok(t, s.ExpirePortalAccess(ctx, app.ID, at(time.Hour), at(2*time.Hour)))
		got, found := expiry(app.ID, at(time.Minute))
		if !found || !got.Equal(at(2*time.Hour)) {
			t.Fatalf("expiry of an earlier token: %v, %v", got, found)
		}
		if _, found := expiry(app.ID, at(time.Hour)); found {
			t.Fatal("a token issued at the call's instant is covered")
		}
		if _, found := expiry(other.ID, at(time.Minute)); found {
			t.Fatal("another application's tokens are covered")
		}
		// A later call with a longer grace does not lengthen the first's.
		ok(t, s.ExpirePortalAccess(ctx, app.ID, at(3*time.Hour), at(10*time.Hour)))
		got, _ = expiry(app.ID, at(time.Minute))
		equal(t, "earliest end kept", got, at(2*time.Hour))
		got, _ = expiry(app.ID, at(90*time.Minute))
		equal(t, "between the calls", got, at(10*time.Hour))
		// The same instant twice keeps the earlier end.
		ok(t, s.ExpirePortalAccess(ctx, app.ID, at(3*time.Hour), at(12*time.Hour)))
		got, _ = expiry(app.ID, at(90*time.Minute))
		equal(t, "same instant", got, at(10*time.Hour))
		// A call a week on forgets the first two: every token they covered
		// has ended.
		week := hookbridge.MaxPortalLifetime
		ok(t, s.ExpirePortalAccess(ctx, app.ID, at(week+4*time.Hour), at(week+5*time.Hour)))
		got, _ = expiry(app.ID, at(time.Minute))
		equal(t, "after forgetting", got, at(week+5*time.Hour))

		wantCode(t, s.ExpirePortalAccess(ctx, hookbridge.NewID(hookbridge.PrefixApplication), at(0), at(0)), hookbridge.ENOTFOUND)
		ok(t, s.DeleteApplication(ctx, app.ID))
		if _, found := expiry(app.ID, at(time.Minute)); found {
			t.Fatal("expirations outlive their application")
		}
	})
	open.run(t, "Logout", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		app := newApp(t, s, "a")
		other := newApp(t, s, "b")
		expiry := func(appID string, issued time.Time, nonce string) hookbridge.PortalExpiry {
			t.Helper()
			e, err := s.PortalAccessExpiry(ctx, appID, issued, nonce)
			ok(t, err)
			return e
		}
		if e := expiry(app.ID, at(0), "n1"); e.Revoked || !e.Ends.IsZero() {
			t.Fatalf("before any logout: %+v", e)
		}
		ok(t, s.RevokePortalToken(ctx, app.ID, "n1", at(time.Hour)))
		if e := expiry(app.ID, at(0), "n1"); !e.Revoked || !e.Ends.IsZero() {
			t.Fatalf("the logged-out token: %+v, want revoked only", e)
		}
		for _, c := range []struct {
			what, app, nonce string
		}{
			{"another token of the application", app.ID, "n2"},
			{"the same nonce in another application", other.ID, "n1"},
			{"a token without a nonce", app.ID, ""},
		} {
			if e := expiry(c.app, at(0), c.nonce); e.Revoked {
				t.Errorf("%s is revoked", c.what)
			}
		}
		// Again: nothing changes, nothing fails.
		ok(t, s.RevokePortalToken(ctx, app.ID, "n1", at(time.Hour)))

		// With an expire-all too, the one read answers both.
		ok(t, s.ExpirePortalAccess(ctx, app.ID, at(time.Minute), at(2*time.Hour)))
		e := expiry(app.ID, at(0), "n1")
		if !e.Revoked || !e.Ends.Equal(at(2*time.Hour)) {
			t.Errorf("logged out and expired: %+v", e)
		}
		if e := expiry(app.ID, at(0), "n2"); e.Revoked || !e.Ends.Equal(at(2*time.Hour)) {
			t.Errorf("expired only: %+v", e)
		}

		// A revocation outlives its application: the token stays refused
		// where no application is named.
		ok(t, s.RevokePortalToken(ctx, other.ID, "n3", at(3*time.Hour)))
		ok(t, s.DeleteApplication(ctx, other.ID))
		if e := expiry(other.ID, at(0), "n3"); !e.Revoked {
			t.Error("the revocation of a deleted application's token was forgotten")
		}

		// Purging forgets the revocations of tokens expired before the
		// bound, in batches, and keeps the others.
		ok(t, s.RevokePortalToken(ctx, app.ID, "n4", at(5*time.Hour)))
		n, err := s.PurgePortalRevocationsBefore(ctx, at(4*time.Hour), 1)
		if err != nil || n != 1 {
			t.Fatalf("first batch: purged %d (%v), want 1", n, err)
		}
		n, err = s.PurgePortalRevocationsBefore(ctx, at(4*time.Hour), 10)
		if err != nil || n != 1 {
			t.Fatalf("second batch: purged %d (%v), want the other of the two", n, err)
		}
		if e := expiry(app.ID, at(0), "n1"); e.Revoked {
			t.Error("a purged revocation still counts")
		}
		if e := expiry(other.ID, at(0), "n3"); e.Revoked {
			t.Error("a purged revocation of a deleted application still counts")
		}
		if e := expiry(app.ID, at(0), "n4"); !e.Revoked {
			t.Error("purging deleted the revocation of a token that has not expired")
		}
		if n, err := s.PurgePortalRevocationsBefore(ctx, at(4*time.Hour), 10); err != nil || n != 0 {
			t.Errorf("nothing left to purge: purged %d (%v)", n, err)
		}
	})
}
