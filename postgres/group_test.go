package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/storetest"
)

// holdIngest keeps the ingest runner from taking anything until the
// returned function is called, so that the messages a test submits
// meanwhile queue up and are written as one group.
func holdIngest(t *testing.T, s *Store) (release func()) {
	t.Helper()
	q := s.ingest
	q.mu.Lock()
	q.held = true
	q.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			q.mu.Lock()
			q.held = false
			q.mu.Unlock()
			q.ready.Signal()
		})
	}
	t.Cleanup(release)
	return release
}

// waitQueued waits until n messages are queued for ingest.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.ingest.mu.Lock()
		queued := len(s.ingest.pending)
		s.ingest.mu.Unlock()
		if queued >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages queued after 10s, want %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

type createOutcome struct {
	stored  *hookbridge.Message
	created bool
	err     error
	visible bool // the message could be read back as soon as the call returned
}

// createConcurrently submits msgs as concurrent CreateMessage calls while
// ingest is held, in order, so that they form one group queued as msgs
// are, then releases it. Each caller checks, the moment it is answered,
// that its message can be read back on another connection: that it was
// committed before the answer.
func createConcurrently(t *testing.T, s *Store, msgs []*hookbridge.Message) []createOutcome {
	t.Helper()
	release := holdIngest(t, s)
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
		waitQueued(t, s, i+1)
	}
	release()
	wg.Wait()
	return out
}

// TestGroupCommitSameEventID sends one eventId many times in one group:
// exactly one message is created and every caller gets it.
func TestGroupCommitSameEventID(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app, _ := fixture(t, s)
	msgs := make([]*hookbridge.Message, 20)
	for i := range msgs {
		msgs[i] = &hookbridge.Message{AppID: app.ID, EventID: "evt-1", EventType: "order.created",
			Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
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

// TestGroupCommitFailureIsolated puts writes that fail (a message id
// already taken, a missing application) into a group with writes that
// succeed, one of them repeating the event id of one that fails: each
// failure reaches its own caller only, the others commit, and every
// delivery reserved with the handoff, by the group's failed statement and
// by the writes run again alone, is taken or cancelled once.
func TestGroupCommitFailureIsolated(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app, _ := fixture(t, s)
	existing := newMessage(app.ID)
	if _, _, err := s.CreateMessage(t.Context(), existing); err != nil {
		t.Fatal(err)
	}
	h := &storetest.HandoffLog{}
	s.SetHandoff(h)

	takenID := newMessage(app.ID)
	takenID.ID, takenID.EventID = existing.ID, "evt-taken-id"
	sameEvent := newMessage(app.ID) // its event id's first message fails
	sameEvent.EventID = takenID.EventID
	noApp := newMessage(hookbridge.NewID(hookbridge.PrefixApplication))
	msgs := []*hookbridge.Message{newMessage(app.ID), takenID, newMessage(app.ID), noApp, sameEvent, newMessage(app.ID)}
	out := createConcurrently(t, s, msgs)

	for i, o := range out {
		switch msgs[i] {
		case takenID:
			if hookbridge.ErrorCode(o.err) != hookbridge.ECONFLICT {
				t.Errorf("call %d, a taken message id: err = %v, want a conflict", i, o.err)
			}
		case noApp:
			if !hookbridge.IsNotFound(o.err) {
				t.Errorf("call %d, a missing application: err = %v, want not found", i, o.err)
			}
		default:
			if o.err != nil || !o.created || o.stored.ID != msgs[i].ID || !o.visible {
				t.Errorf("call %d: %+v; want its message created, and committed when answered", i, o)
			}
		}
	}
	page, err := s.ListMessages(t.Context(), app.ID, hookbridge.MessageFilter{})
	if err != nil || len(page.Data) != 5 {
		t.Errorf("stored %d messages (%v), want the 4 created and the one before", len(page.Data), err)
	}

	checkHandoff(t, h, s)
	h.Lock()
	defer h.Unlock()
	if len(h.Taken) != 4 {
		t.Errorf("%d deliveries taken, want the 4 of the messages created", len(h.Taken))
	}
	if h.Wakes != 0 {
		t.Errorf("%d wake-ups with every delivery written handed over", h.Wakes)
	}
}

// TestGroupCommitCancelledWhileQueued: a caller whose context ends while
// its message waits gets the context's error, and its message is never
// written; the rest of its group is.
func TestGroupCommitCancelledWhileQueued(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app, _ := fixture(t, s)
	release := holdIngest(t, s)

	ctx, cancel := context.WithCancel(t.Context())
	gone := newMessage(app.ID)
	gone.ID = hookbridge.NewID(hookbridge.PrefixMessage)
	goneErr := make(chan error, 1)
	go func() {
		_, _, err := s.CreateMessage(ctx, gone)
		goneErr <- err
	}()
	kept := newMessage(app.ID)
	keptErr := make(chan error, 1)
	go func() {
		_, _, err := s.CreateMessage(t.Context(), kept)
		keptErr <- err
	}()
	waitQueued(t, s, 2)
	cancel()
	if err := <-goneErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while queued: err = %v, want context.Canceled", err)
	}
	release()
	if err := <-keptErr; err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMessage(t.Context(), app.ID, gone.ID); !hookbridge.IsNotFound(err) {
		t.Errorf("the cancelled message: GetMessage err = %v, want not found", err)
	}
	if _, err := s.GetMessage(t.Context(), app.ID, kept.ID); err != nil {
		t.Errorf("the message queued with it: %v", err)
	}
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
	if _, _, err := s.CreateMessage(t.Context(), newMessage(app.ID)); !errors.Is(err, errClosed) {
		t.Errorf("after Close: err = %v, want %v", err, errClosed)
	}

	other := openDSN(t, dsn)
	page, err := other.ListMessages(t.Context(), app.ID, hookbridge.MessageFilter{})
	if err != nil || len(page.Data) != n {
		t.Errorf("stored %d messages (%v), want %d", len(page.Data), err, n)
	}
}
