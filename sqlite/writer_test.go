package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/storetest"
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

// HoldWrites, QueuedWrites and LeasedTo make Store a storetest.GroupStore
// for the group commit tests: they hold the writer, count what waits in it,
// and read leases.
func (s *Store) HoldWrites(t *testing.T) func() { return blockWriter(t, s) }

func (s *Store) QueuedWrites() int { return s.wr.queue.Len() }

func (s *Store) LeasedTo(t *testing.T, owner string) []string { return leasedTo(t, s, owner) }

// waitQueued waits until n writes are queued.
func waitQueued(t *testing.T, s *Store, n int) { storetest.WaitQueued(t, s, n) }

// TestGroupCommit runs the stores' group commit tests on the writer.
func TestGroupCommit(t *testing.T) {
	storetest.RunGroupCommit(t, func(t *testing.T) storetest.GroupStore { return openTest(t) })
	storetest.RunBatchGroupCommit(t, func(t *testing.T) storetest.GroupStore { return openTest(t) })
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
	// A message created in the group: the claim after it must find its
	// delivery, as the writes of a group see each other's effects in order.
	var (
		fresh     *hookbridge.Message
		createErr error
	)
	wg.Go(func() {
		fresh, _, createErr = s.CreateMessage(ctx, &hookbridge.Message{AppID: app.ID, EventType: "a", Payload: []byte(`{}`), CreatedAt: now})
	})
	waitQueued(t, s, 3)
	// After the release, the claim below takes the released delivery, the
	// one never claimed and the new message's; the renewal, queued after
	// it, then finds the first delivery finished and the others leased to
	// "other".
	wg.Go(func() { claimed, claimErr = s.ClaimDeliveries(ctx, "other", now, time.Minute, 10) })
	waitQueued(t, s, 4)
	wg.Go(func() {
		renewErr = s.RenewLeases(ctx, "me", []string{claims[0].Delivery.ID, claims[1].Delivery.ID}, now.Add(time.Hour))
	})
	waitQueued(t, s, 5)
	release()
	wg.Wait()

	if recordErr != nil || len(rejected) != 0 || releaseErr != nil || renewErr != nil || claimErr != nil || createErr != nil {
		t.Fatalf("record %v (rejected %v), release %v, renew %v, claim %v, create %v", recordErr, rejected, releaseErr, renewErr, claimErr, createErr)
	}
	if len(claimed) != 3 {
		t.Fatalf("the claim in the group took %d deliveries, want the released one, the unclaimed one and the new message's", len(claimed))
	}
	if !slices.ContainsFunc(claimed, func(c hookbridge.Claim) bool { return c.Message.ID == fresh.ID }) {
		t.Errorf("the claim did not take the delivery of the message created before it in the group")
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
		if s.wr.queue.Closing() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Close did not start")
		}
		time.Sleep(time.Millisecond)
	}
	if _, _, err := s.CreateMessage(context.Background(), &hookbridge.Message{AppID: app.ID, EventType: "late", Payload: []byte(`{}`)}); !errors.Is(err, storekit.ErrClosed) {
		t.Errorf("write after Close: %v, want storekit.ErrClosed", err)
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

// TestWriterStats: the writer counts each write it runs and each commit,
// once, whether the write stands alone or shares its commit with others;
// a write that fails is counted but commits nothing.
func TestWriterStats(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app := newAppWithEndpoint(t, s)
	before := s.WriterStats()

	failed := errors.New("refused")
	if err := s.write(ctx, func(*sql.Tx) error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("failing write: %v", err)
	}
	release := blockWriter(t, s)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			if _, _, err := s.CreateMessage(ctx, &hookbridge.Message{AppID: app.ID, EventType: "a", Payload: []byte(`{}`)}); err != nil {
				t.Error(err)
			}
		})
		waitQueued(t, s, i+1)
	}
	release()
	wg.Wait()
	// The writer adds a batch's busy time once the batch is done, after
	// answering: a write taken later is answered after that.
	if err := s.write(ctx, func(*sql.Tx) error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("failing write: %v", err)
	}

	after := s.WriterStats()
	// Two failed writes, the one holding the writer, and the three
	// messages in one group; commits: the holding write's and the group's.
	if w, c := after.Writes-before.Writes, after.Commits-before.Commits; w != 6 || c != 2 {
		t.Errorf("%d writes and %d commits counted, want 6 and 2", w, c)
	}
	if !slices.Equal(after.CommitBuckets, commitBuckets[:]) || len(after.CommitCounts) != len(commitBuckets) {
		t.Fatalf("buckets %v with %d counts, want %v", after.CommitBuckets, len(after.CommitCounts), commitBuckets)
	}
	for i, n := range after.CommitCounts {
		if i > 0 && n < after.CommitCounts[i-1] || n > after.Commits {
			t.Errorf("cumulative counts %v of %d commits", after.CommitCounts, after.Commits)
			break
		}
	}
	if after.CommitSeconds <= before.CommitSeconds || after.BusySeconds < after.CommitSeconds {
		t.Errorf("commits took %v s, the writer was busy %v s: want some time, and no more than the busy time", after.CommitSeconds, after.BusySeconds)
	}
}
