package retention

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/sqlite"
)

// TestJob: the job deletes, in batches, the finished messages older than
// the retention and nothing else, the idempotency keys older than a day by
// its own clock, and the revocations of logged-out portal tokens that have
// expired; when another instance holds the job it skips the round; it
// stops with its context.
func TestJob(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	app := &hookbridge.Application{Name: "a"}
	if err := st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateEndpoint(ctx, &hookbridge.Endpoint{AppID: app.ID, URL: "https://receiver.example/"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const old, recent = 5, 2
	for i := range old + recent {
		created := now.Add(-40 * 24 * time.Hour)
		if i >= old {
			created = now.Add(-time.Hour)
		}
		m := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: json.RawMessage(`{}`), CreatedAt: created}
		if _, _, err := st.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	claims, err := st.ClaimDeliveries(ctx, "w", now, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var results []hookbridge.AttemptResult
	for _, c := range claims {
		results = append(results, hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Status: hookbridge.StatusSuccess,
			Attempt: &hookbridge.Attempt{URL: c.Endpoint.URL, Status: hookbridge.StatusSuccess, StatusCode: 200}})
	}
	if _, err := st.RecordAttempts(ctx, "w", results); err != nil {
		t.Fatal(err)
	}

	// Idempotency keys are kept a day by the job's clock, which is not
	// the wall clock.
	for key, at := range map[string]time.Time{"recent": now.Add(-time.Hour), "expired": now.Add(-25 * time.Hour)} {
		if _, _, err := st.BeginIdempotent(ctx, key, "POST /", at, at.Add(-time.Minute), at.Add(-hookbridge.IdempotencyTTL)); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishIdempotent(ctx, key, 202, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	// Two logged-out portal tokens: one expired a day ago, whose
	// revocation is no longer needed, and one still unexpired.
	if err := st.RevokePortalToken(ctx, app.ID, "expired", now.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokePortalToken(ctx, app.ID, "live", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	// Two recoveries: one ended 40 days ago, one still running.
	var tasks []*hookbridge.Task
	for range 2 {
		task := &hookbridge.Task{Kind: hookbridge.TaskEndpointRecover, AppID: app.ID, EndpointID: claims[0].Endpoint.ID}
		if err := st.CreateTask(ctx, task); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task)
	}
	ended, err := st.ClaimTask(ctx, "w", now, time.Minute)
	if err != nil || ended == nil {
		t.Fatalf("claim a task: %v %v", ended, err)
	}
	ended.Status = hookbridge.TaskFinished
	if err := st.AdvanceTask(ctx, "w", ended, nil, now.Add(-40*24*time.Hour), now); err != nil {
		t.Fatal(err)
	}

	cfg := Config{
		Store: st, Age: 30 * 24 * time.Hour, Batch: 2,
		Now:    func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	busy := func(context.Context, string, func(context.Context) error) (bool, error) { return false, nil }
	skipping := cfg
	skipping.Exclusive = busy
	if n, ran := New(skipping).RunOnce(ctx); ran || n != 0 {
		t.Fatalf("with another instance purging: ran=%v deleted=%d, want a skipped round", ran, n)
	}
	job := New(cfg)
	if n, ran := job.RunOnce(ctx); !ran || n != old {
		t.Fatalf("RunOnce: ran=%v deleted=%d, want %d (in batches of 2)", ran, n, old)
	}
	p, err := st.ListMessages(ctx, app.ID, hookbridge.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Data) != recent {
		t.Errorf("%d messages left, want the %d recent ones", len(p.Data), recent)
	}
	for key, kept := range map[string]bool{"recent": true, "expired": false} {
		// An expiry bound far back: a record still stored is found.
		_, started, err := st.BeginIdempotent(ctx, key, "POST /", now, now.Add(-time.Minute), time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if started == kept {
			t.Errorf("idempotency key %q kept = %v, want %v", key, !started, kept)
		}
	}
	for i, task := range tasks {
		_, err := st.GetTask(ctx, task.ID)
		if gone := hookbridge.IsNotFound(err); gone != (task.ID == ended.ID) || (!gone && err != nil) {
			t.Errorf("task %d (%s): read after the purge: %v; want only the ended one gone", i, task.ID, err)
		}
	}
	for nonce, want := range map[string]bool{"expired": false, "live": true} {
		e, err := st.PortalAccessExpiry(ctx, app.ID, now, nonce)
		if err != nil {
			t.Fatal(err)
		}
		if e.Revoked != want {
			t.Errorf("revocation of the %s token kept: %v, want %v", nonce, e.Revoked, want)
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		job.Run(runCtx)
		close(stopped)
	}()
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not stop with its context")
	}
}

// TestJobKeepMessages: with messages kept for good, the job deletes none,
// old or not, but still deletes the Idempotency-Key answers older than a
// day and the revocations of expired portal tokens.
func TestJobKeepMessages(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	app := &hookbridge.Application{Name: "a"}
	if err := st.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	m := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: json.RawMessage(`{}`), CreatedAt: now.Add(-400 * 24 * time.Hour)}
	if _, _, err := st.CreateMessage(ctx, m); err != nil { // no endpoint: no delivery, final at once
		t.Fatal(err)
	}
	old := now.Add(-25 * time.Hour)
	if _, _, err := st.BeginIdempotent(ctx, "old", "POST /", old, old.Add(-time.Minute), old.Add(-hookbridge.IdempotencyTTL)); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishIdempotent(ctx, "old", 202, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokePortalToken(ctx, app.ID, "expired", now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}

	job := New(Config{Store: st, Age: KeepMessages, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if n, ran := job.RunOnce(ctx); !ran || n != 0 {
		t.Fatalf("RunOnce: ran=%v deleted=%d, want a round that deletes no message", ran, n)
	}
	if _, err := st.GetMessage(ctx, app.ID, m.ID); err != nil {
		t.Errorf("the old message is gone: %v", err)
	}
	if _, started, err := st.BeginIdempotent(ctx, "old", "POST /", now, now.Add(-time.Minute), time.Unix(0, 0)); err != nil || !started {
		t.Errorf("the day-old Idempotency-Key answer was kept (started=%v, %v)", started, err)
	}
	if e, err := st.PortalAccessExpiry(ctx, app.ID, now, "expired"); err != nil || e.Revoked {
		t.Errorf("the expired token's revocation was kept (%+v, %v)", e, err)
	}
}

// TestJobRawBodies: raw bodies of inbound events older than the raw age
// are dropped, their events kept for the message retention, even when
// messages are kept for good; with KeepRaw they stay.
func TestJobRawBodies(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		age, rawAge time.Duration
		dropped     []bool // of the events received 40 days, 10 days and an hour ago
		kept        int
	}{
		{"Defaults", 0, 0, []bool{true, false, false}, 2}, // 30 days both
		{"RawSooner", 60 * 24 * time.Hour, 7 * 24 * time.Hour, []bool{true, true, false}, 3},
		{"MessagesKept", KeepMessages, 7 * 24 * time.Hour, []bool{true, true, false}, 3},
		{"RawKept", KeepMessages, KeepRaw, []bool{false, false, false}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookbridge.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			src := &hookbridge.Source{Scheme: "stripe", Rollout: hookbridge.Rollout{State: hookbridge.RolloutShadow}}
			if err := st.CreateSource(ctx, src, "admin"); err != nil {
				t.Fatal(err)
			}
			var evs []*hookbridge.InboundEvent
			for i, age := range []time.Duration{40 * 24 * time.Hour, 10 * 24 * time.Hour, time.Hour} {
				ev := &hookbridge.InboundEvent{SourceID: src.ID, EventID: string(rune('a' + i)), Body: []byte(`{"raw":true}`),
					ReceivedAt: now.Add(-age)}
				if _, _, err := st.CreateInboundEvent(ctx, ev); err != nil {
					t.Fatal(err)
				}
				evs = append(evs, ev)
			}
			job := New(Config{Store: st, Age: tc.age, RawAge: tc.rawAge, Batch: 1, Now: func() time.Time { return now },
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if _, ran := job.RunOnce(ctx); !ran {
				t.Fatal("the round did not run")
			}
			kept := 0
			for i, ev := range evs {
				got, err := st.GetInboundEvent(ctx, src.ID, ev.ID)
				if hookbridge.IsNotFound(err) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				kept++
				if dropped := got.Body == nil; dropped != tc.dropped[i] || dropped == got.BodyDroppedAt.IsZero() {
					t.Errorf("event %d: body %q (dropped at %v), want dropped %v", i, got.Body, got.BodyDroppedAt, tc.dropped[i])
				}
			}
			if kept != tc.kept {
				t.Errorf("%d events kept, want %d", kept, tc.kept)
			}
		})
	}
}
