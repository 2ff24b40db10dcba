package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// blockWriter occupies the writer with a write of its own until the
// returned function is called, so that the writes a test submits meanwhile
// queue up and run as one group.
func blockWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.write(context.Background(), func(*sql.Tx) error {
			close(started)
			<-unblock
			return nil
		})
	}()
	<-started
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(unblock)
			if err := <-done; err != nil {
				t.Errorf("blocking write: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// waitQueued waits until n writes are queued behind the running one.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.wr.mu.Lock()
		queued := len(s.wr.pending)
		s.wr.mu.Unlock()
		if queued >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued after 10s, want %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// newAppWithEndpoint creates an application with one endpoint that takes
// every message.
func newAppWithEndpoint(t *testing.T, s *Store) *hookbridge.Application {
	t.Helper()
	app := &hookbridge.Application{Name: "group"}
	if err := s.CreateApplication(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEndpoint(t.Context(), &hookbridge.Endpoint{AppID: app.ID, URL: "https://receiver.example/"}); err != nil {
		t.Fatal(err)
	}
	return app
}

type createOutcome struct {
	stored  *hookbridge.Message
	created bool
	err     error
	visible bool // the message could be read back as soon as the call returned
}

// createConcurrently submits msgs as concurrent CreateMessage calls while
// the writer is blocked, so that they share one transaction, then lets the
// writer go. Each caller checks, the moment it is answered, that its
// message can be read back on the read pool: that it was committed before
// the answer.
func createConcurrently(t *testing.T, s *Store, msgs []*hookbridge.Message) []createOutcome {
	t.Helper()
	release := blockWriter(t, s)
	out := make([]createOutcome, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Go(func() {
			o := &out[i]
			o.stored, o.created, o.err = s.CreateMessage(context.Background(), m)
			if o.err == nil {
				_, err := s.GetMessage(context.Background(), o.stored.AppID, o.stored.ID)
				o.visible = err == nil
			}
		})
	}
	waitQueued(t, s, len(msgs))
	release()
	wg.Wait()
	return out
}

// TestGroupCommitSameEventID sends one eventId many times in one group:
// exactly one message is created and every caller gets it.
func TestGroupCommitSameEventID(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app := newAppWithEndpoint(t, s)
	msgs := make([]*hookbridge.Message, 20)
	for i := range msgs {
		msgs[i] = &hookbridge.Message{AppID: app.ID, EventID: "evt-1", EventType: "order.created",
			Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	out := createConcurrently(t, s, msgs)
	created := 0
	for i, o := range out {
		if o.err != nil {
			t.Fatalf("call %d: %v", i, o.err)
		}
		if o.created {
			created++
		}
		if o.stored.ID != out[0].stored.ID {
			t.Errorf("call %d got message %s, call 0 got %s", i, o.stored.ID, out[0].stored.ID)
		}
		if !o.visible {
			t.Errorf("call %d was answered before its message could be read", i)
		}
	}
	if created != 1 {
		t.Errorf("%d calls created a message, want 1", created)
	}
	page, err := s.ListMessages(t.Context(), app.ID, hookbridge.MessageFilter{})
	if err != nil || len(page.Data) != 1 {
		t.Fatalf("stored %d messages (%v), want 1", len(page.Data), err)
	}
	dests, err := s.ListMessageEndpoints(t.Context(), app.ID, page.Data[0].ID, hookbridge.ListOptions{})
	if err != nil || len(dests.Data) != 1 {
		t.Errorf("deliveries = %d (%v), want 1", len(dests.Data), err)
	}
}

// TestGroupCommitFailureIsolated puts writes that fail into a group with
// writes that succeed: each failure reaches its own caller only, and
// leaves nothing behind, while the others commit.
func TestGroupCommitFailureIsolated(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app := newAppWithEndpoint(t, s)
	taken := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{}`)}
	if _, _, err := s.CreateMessage(t.Context(), taken); err != nil {
		t.Fatal(err)
	}
	msgs := []*hookbridge.Message{
		{AppID: app.ID, EventType: "order.created", Payload: []byte(`{"n":0}`)},
		{ID: taken.ID, AppID: app.ID, EventType: "order.created", Payload: []byte(`{"n":1}`)}, // id taken: ECONFLICT
		{AppID: app.ID, EventType: "order.created", Payload: []byte(`{"n":2}`)},
		{AppID: "app_missing", EventType: "order.created", Payload: []byte(`{"n":3}`)}, // ENOTFOUND
		{AppID: app.ID, EventType: "order.created", Payload: []byte(`{"n":4}`)},
	}
	out := createConcurrently(t, s, msgs)
	for i, o := range out {
		var want string
		switch i {
		case 1:
			want = hookbridge.ECONFLICT
		case 3:
			want = hookbridge.ENOTFOUND
		}
		if got := hookbridge.ErrorCode(o.err); got != want {
			t.Errorf("call %d: error %v, want code %q", i, o.err, want)
		}
		if want == "" && (!o.created || !o.visible) {
			t.Errorf("call %d: created %v, visible %v", i, o.created, o.visible)
		}
	}
	page, err := s.ListMessages(t.Context(), app.ID, hookbridge.MessageFilter{})
	if err != nil || len(page.Data) != 4 {
		t.Fatalf("stored %d messages (%v), want 4", len(page.Data), err)
	}
	if got, err := s.GetMessage(t.Context(), app.ID, taken.ID); err != nil || string(got.Payload) != `{}` {
		t.Errorf("the taken id now holds %s (%v), want the original", got.Payload, err)
	}
}

// TestGroupCommitMixesWriteKinds runs a claim, a result, a release, a lease
// renewal and new messages in one group; each sees the effects of the ones
// before it, as separate transactions in queue order would.
func TestGroupCommitMixesWriteKinds(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app := newAppWithEndpoint(t, s)
	now := time.Now()
	for range 3 {
		if _, _, err := s.CreateMessage(ctx, &hookbridge.Message{AppID: app.ID, EventType: "a", Payload: []byte(`{}`), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	claims, err := s.ClaimDeliveries(ctx, "me", now, time.Minute, 2)
	if err != nil || len(claims) != 2 {
		t.Fatalf("claimed %d (%v), want 2", len(claims), err)
	}

	release := blockWriter(t, s)
	var (
		wg                                        sync.WaitGroup
		recordErr, releaseErr, renewErr, claimErr error
		rejected                                  []string
		claimed                                   []hookbridge.Claim
	)
	wg.Go(func() {
		rejected, recordErr = s.RecordAttempts(ctx, "me", []hookbridge.AttemptResult{{
			DeliveryID: claims[0].Delivery.ID, Status: hookbridge.StatusSuccess,
			Attempt: &hookbridge.Attempt{URL: "https://receiver.example/", Status: hookbridge.StatusSuccess, StatusCode: 200},
		}})
	})
	waitQueued(t, s, 1)
	wg.Go(func() { releaseErr = s.ReleaseDeliveries(ctx, "me", []string{claims[1].Delivery.ID}) })
	waitQueued(t, s, 2)
	// After the release, the claim below takes the released delivery and
	// the one never claimed; the renewal, queued after it, then finds
	// the first delivery finished and the others leased to "other".
	wg.Go(func() { claimed, claimErr = s.ClaimDeliveries(ctx, "other", now, time.Minute, 10) })
	waitQueued(t, s, 3)
	wg.Go(func() {
		renewErr = s.RenewLeases(ctx, "me", []string{claims[0].Delivery.ID, claims[1].Delivery.ID}, now.Add(time.Hour))
	})
	waitQueued(t, s, 4)
	release()
	wg.Wait()

	if recordErr != nil || len(rejected) != 0 || releaseErr != nil || renewErr != nil || claimErr != nil {
		t.Fatalf("record %v (rejected %v), release %v, renew %v, claim %v", recordErr, rejected, releaseErr, renewErr, claimErr)
	}
	if len(claimed) != 2 {
		t.Fatalf("the claim in the group took %d deliveries, want the released one and the unclaimed one", len(claimed))
	}
	for _, c := range claimed {
		if c.Delivery.ID == claims[0].Delivery.ID {
			t.Errorf("claimed the delivery recorded earlier in the same group")
		}
	}
	// "me" holds nothing any more: a result for the released delivery is
	// rejected.
	rejected, err = s.RecordAttempts(ctx, "me", []hookbridge.AttemptResult{{DeliveryID: claims[1].Delivery.ID, Status: hookbridge.StatusSuccess}})
	if err != nil || len(rejected) != 1 {
		t.Errorf("result of a released delivery: rejected %v, err %v", rejected, err)
	}
}

// TestGroupCommitCancelledWhileQueued: a caller that gives up before its
// write runs gets its context's error, and the write never happens.
func TestGroupCommitCancelledWhileQueued(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app := newAppWithEndpoint(t, s)
	release := blockWriter(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	msg := &hookbridge.Message{AppID: app.ID, EventType: "a", Payload: []byte(`{}`)}
	done := make(chan error, 1)
	go func() {
		_, _, err := s.CreateMessage(ctx, msg)
		done <- err
	}()
	waitQueued(t, s, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call returned %v, want context.Canceled", err)
	}
	release()
	// A write queued after it runs, so the abandoned one was skipped, not
	// merely late.
	if _, _, err := s.CreateMessage(t.Context(), &hookbridge.Message{AppID: app.ID, EventType: "b", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListMessages(t.Context(), app.ID, hookbridge.MessageFilter{})
	if err != nil || len(page.Data) != 1 || page.Data[0].EventType != "b" {
		t.Errorf("messages = %+v (%v), want only the one written after", page.Data, err)
	}
}

// TestCloseFinishesQueuedWrites: Close runs what is queued before it, and
// refuses what comes after.
func TestCloseFinishesQueuedWrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "close.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	app := newAppWithEndpoint(t, s)
	release := blockWriter(t, s)
	const n = 5
	errs := make(chan error, n)
	for range n {
		go func() {
			_, _, err := s.CreateMessage(context.Background(), &hookbridge.Message{AppID: app.ID, EventType: "a", Payload: []byte(`{}`)})
			errs <- err
		}()
	}
	waitQueued(t, s, n)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// Close marks the writer closing before it waits; a write after that
	// is refused.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.wr.mu.Lock()
		closing := s.wr.closing
		s.wr.mu.Unlock()
		if closing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Close did not start")
		}
		time.Sleep(time.Millisecond)
	}
	if _, _, err := s.CreateMessage(context.Background(), &hookbridge.Message{AppID: app.ID, EventType: "late", Payload: []byte(`{}`)}); !errors.Is(err, errClosed) {
		t.Errorf("write after Close: %v, want errClosed", err)
	}
	release()
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("write queued before Close: %v", err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}

	s = openPath(t, path)
	page, err := s.ListMessages(t.Context(), app.ID, hookbridge.MessageFilter{})
	if err != nil || len(page.Data) != n {
		t.Errorf("after reopening: %d messages (%v), want %d", len(page.Data), err, n)
	}
}

// openPath opens the store at path until the test ends.
func openPath(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
