package storetest

import (
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

func testAPIKeys(t *testing.T, open Opener) {
	open.run(t, "Lifecycle", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()

		k := &hookbridge.APIKey{Name: "billing", Scope: hookbridge.ScopeIngest, Hash: hookbridge.HashKey("one")}
		ok(t, s.CreateAPIKey(ctx, k))
		if !hookbridge.HasPrefix(k.ID, hookbridge.PrefixAPIKey) || k.CreatedAt.IsZero() || !k.LastUsedAt.IsZero() {
			t.Fatalf("created key %+v: want a key_ id, a creation time and no last use", k)
		}
		wantUTC(t, "created key", k.CreatedAt, k.UpdatedAt)
		storedAs(t, "read back", *k)(s.GetAPIKey(ctx, k.ID))

		other := &hookbridge.APIKey{Name: "ops", Scope: hookbridge.ScopeReadOnly, Hash: hookbridge.HashKey("two")}
		ok(t, s.CreateAPIKey(ctx, other))
		page, err := s.ListAPIKeys(ctx, hookbridge.ListOptions{})
		ok(t, err)
		if len(page.Data) != 2 || page.Data[0].ID != k.ID || page.Data[1].ID != other.ID || !page.Done {
			t.Fatalf("list = %+v, want both keys, oldest first, done", page)
		}
		page, err = s.ListAPIKeys(ctx, hookbridge.ListOptions{Limit: 1})
		ok(t, err)
		if len(page.Data) != 1 || page.Done {
			t.Fatalf("list limit 1 = %+v, want one key, not done", page)
		}

		rotated, err := s.RotateAPIKey(ctx, k.ID, hookbridge.HashKey("three"))
		ok(t, err)
		if rotated.Hash != hookbridge.HashKey("three") || rotated.Name != "billing" || !rotated.CreatedAt.Equal(k.CreatedAt) {
			t.Errorf("rotated = %+v, want the new hash and the rest unchanged", rotated)
		}
		storedAs(t, "read after rotation", *rotated)(s.GetAPIKey(ctx, k.ID))

		ok(t, s.DeleteAPIKey(ctx, k.ID))
		_, err = s.GetAPIKey(ctx, k.ID)
		wantCode(t, err, hookbridge.ENOTFOUND)
		wantCode(t, s.DeleteAPIKey(ctx, k.ID), hookbridge.ENOTFOUND)
		_, err = s.RotateAPIKey(ctx, k.ID, "x")
		wantCode(t, err, hookbridge.ENOTFOUND)
		ok(t, s.TouchAPIKey(ctx, k.ID, at(0))) // a revoked key's late touch is no error
		if _, err := s.GetAPIKey(ctx, other.ID); err != nil {
			t.Fatalf("the other key is gone with the revoked one: %v", err)
		}
	})

	open.run(t, "TouchAtMostOncePerInterval", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		k := &hookbridge.APIKey{Name: "n", Scope: hookbridge.ScopeAdmin, Hash: hookbridge.HashKey("k")}
		ok(t, s.CreateAPIKey(ctx, k))
		steps := []struct {
			at   time.Time
			want time.Time
		}{
			{at(0), at(0)},                               // never used: set
			{at(30 * time.Second), at(0)},                // within the interval: kept
			{at(hookbridge.APIKeyTouchEvery), at(0)},     // exactly one interval later: kept
			{at(61 * time.Second), at(61 * time.Second)}, // past it: moved
			{at(10 * time.Second), at(61 * time.Second)}, // earlier: kept
		}
		for _, st := range steps {
			ok(t, s.TouchAPIKey(ctx, k.ID, st.at))
			got, err := s.GetAPIKey(ctx, k.ID)
			ok(t, err)
			if !got.LastUsedAt.Equal(st.want) {
				t.Errorf("after touch at %v: last used %v, want %v", st.at, got.LastUsedAt, st.want)
			}
			wantUTC(t, "last used", got.LastUsedAt)
		}
	})
}
