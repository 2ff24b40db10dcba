package storetest

import (
	"testing"

	"github.com/hookbridge/hookbridge"
)

func testSettings(t *testing.T, open Opener) {
	open.run(t, "ProbeWrite", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		// A store that writes says so, every time, and the probe leaves
		// the settings a caller reads alone.
		for i := range 2 {
			if err := s.ProbeWrite(ctx); err != nil {
				t.Fatalf("ProbeWrite %d: %v", i, err)
			}
		}
		_, err := s.Setting(ctx, "admin_key_hash")
		wantCode(t, err, hookbridge.ENOTFOUND)
	})
	open.run(t, "PutAndGet", func(t *testing.T, s hookbridge.Store) {
		ctx := t.Context()
		_, err := s.Setting(ctx, "admin_key_hash")
		wantCode(t, err, hookbridge.ENOTFOUND)

		steps := []struct {
			value        string
			onlyIfAbsent bool
			wantStored   bool
			wantValue    string
		}{
			{"first", true, true, "first"},   // absent: stored
			{"second", true, false, "first"}, // present: left alone
			{"third", false, true, "third"},  // unconditional: replaced
			{"fourth", true, false, "third"},
		}
		for _, st := range steps {
			stored, err := s.PutSetting(ctx, "admin_key_hash", st.value, st.onlyIfAbsent)
			ok(t, err)
			if stored != st.wantStored {
				t.Errorf("PutSetting(%q, onlyIfAbsent=%v) stored = %v, want %v", st.value, st.onlyIfAbsent, stored, st.wantStored)
			}
			got, err := s.Setting(ctx, "admin_key_hash")
			ok(t, err)
			if got != st.wantValue {
				t.Errorf("after PutSetting(%q): value %q, want %q", st.value, got, st.wantValue)
			}
		}
		_, err = s.Setting(ctx, "other")
		wantCode(t, err, hookbridge.ENOTFOUND)
	})
}
