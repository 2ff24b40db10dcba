package storetest

import (
	"context"
	"testing"
	"time"
)

// testIdempotency checks the records of Idempotency-Key requests: one
// request per key starts, later ones get the record, running or done; a
// stale running record and an expired one are taken over; a forgotten key
// starts again; purging deletes the old ones.
func testIdempotency(t *testing.T, open Opener) {
	t.Parallel()
	s := open(t)
	ctx := context.Background()
	never := time.Time{}
	begin := func(key, fp string, now, stale, expired time.Time) (bool, string, bool, int, string) {
		t.Helper()
		rec, started, err := s.BeginIdempotent(ctx, key, fp, now, stale, expired)
		if err != nil {
			t.Fatal(err)
		}
		if started {
			return true, "", false, 0, ""
		}
		return false, rec.Fingerprint, rec.Done, rec.Status, string(rec.Body)
	}

	if started, _, _, _, _ := begin("k1", "POST /api/v1/app", at(0), never, never); !started {
		t.Fatal("a new key did not start")
	}
	if started, fp, done, _, _ := begin("k1", "POST /api/v1/app", at(time.Second), never, never); started || fp != "POST /api/v1/app" || done {
		t.Fatalf("a key in progress: started %v, fingerprint %q, done %v", started, fp, done)
	}
	if err := s.FinishIdempotent(ctx, "k1", 201, []byte(`{"id":"app_1"}`)); err != nil {
		t.Fatal(err)
	}
	if started, _, done, status, body := begin("k1", "POST /api/v1/app", at(2*time.Second), at(time.Minute), never); started || !done || status != 201 || body != `{"id":"app_1"}` {
		t.Fatalf("a finished key: started %v, done %v, %d %s", started, done, status, body)
	}
	// Done records are not stale, but they expire.
	if started, _, _, _, _ := begin("k1", "POST /api/v1/app", at(time.Hour), never, at(time.Minute)); !started {
		t.Fatal("an expired key was not taken over")
	}

	// A request still running since before staleBefore is taken over.
	begin("k2", "POST /api/v1/app/a/msg", at(0), never, never)
	if started, _, _, _, _ := begin("k2", "POST /api/v1/app/a/msg", at(30*time.Second), at(-time.Second), never); started {
		t.Fatal("a running request was taken over before it was stale")
	}
	if started, _, _, _, _ := begin("k2", "POST /api/v1/app/a/msg", at(2*time.Minute), at(time.Minute), never); !started {
		t.Fatal("a stale running request was not taken over")
	}

	// A forgotten key starts again.
	if err := s.ForgetIdempotent(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if started, _, _, _, _ := begin("k2", "POST /api/v1/app/a/msg", at(3*time.Minute), never, never); !started {
		t.Fatal("a forgotten key did not start again")
	}

	// k1 was (re)created at 1 h, k2 at 3 min: purging before 10 min
	// deletes k2 only.
	n, err := s.PurgeIdempotentBefore(ctx, at(10*time.Minute), 10)
	if err != nil || n != 1 {
		t.Fatalf("purged %d (%v), want 1", n, err)
	}
	if started, _, _, _, _ := begin("k2", "x", at(4*time.Minute), never, never); !started {
		t.Fatal("a purged key did not start again")
	}
	if started, _, _, _, _ := begin("k1", "x", at(4*time.Minute), never, never); started {
		t.Fatal("purging deleted a key created after the bound")
	}
}
