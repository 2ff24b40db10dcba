package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/storetest"
)

// holdIngest keeps the ingest runner from taking anything until the
// returned function is called, so that the messages a test submits
// meanwhile queue up and are written as one group.
func holdIngest(t *testing.T, s *Store) (release func()) {
	t.Helper()
	var once sync.Once
	hold := s.ingest.Hold()
	release = func() { once.Do(hold) }
	t.Cleanup(release)
	return release
}

// HoldWrites, QueuedWrites and LeasedTo make Store a storetest.GroupStore
// for the group commit tests: they hold the ingest queue, count what waits in it,
// and read leases.
func (s *Store) HoldWrites(t *testing.T) func() { return holdIngest(t, s) }

func (s *Store) QueuedWrites() int { return s.ingest.Len() }

func (s *Store) LeasedTo(t *testing.T, owner string) []string { return leasedTo(t, s, owner) }

// waitQueued waits until n writes are queued.
func waitQueued(t *testing.T, s *Store, n int) { storetest.WaitQueued(t, s, n) }

// TestGroupCommit runs the stores' group commit tests on the ingest queue.
func TestGroupCommit(t *testing.T) {
	storetest.RunGroupCommit(t, func(t *testing.T) storetest.GroupStore { return openTest(t) })
}

// TestGroupCommitCloseAnswersQueued: Close writes the messages still
// queued and answers their callers, then refuses new ones.
func TestGroupCommitCloseAnswersQueued(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	s := openDSN(t, dsn)
	app, _ := fixture(t, s)
	holdIngest(t, s)

	const n = 5
	errs := make(chan error, n)
	for range n {
		go func() {
			_, _, err := s.CreateMessage(context.Background(), newMessage(app.ID))
			errs <- err
		}()
	}
	waitQueued(t, s, n)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("queued before Close: %v", err)
		}
	}
	if _, _, err := s.CreateMessage(t.Context(), newMessage(app.ID)); !errors.Is(err, storekit.ErrClosed) {
		t.Errorf("after Close: err = %v, want %v", err, storekit.ErrClosed)
	}

	other := openDSN(t, dsn)
	page, err := other.ListMessages(t.Context(), app.ID, hookbridge.MessageFilter{})
	if err != nil || len(page.Data) != n {
		t.Errorf("stored %d messages (%v), want %d", len(page.Data), err, n)
	}
}
