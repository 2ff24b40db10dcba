package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// GroupStore is a store that writes the messages waiting at the same time
// together (SQLite's writer, PostgreSQL's ingest queue), with what
// RunGroupCommit needs to see it do so; a store's tests give it the three
// methods.
type GroupStore interface {
	hookbridge.Store
	hookbridge.HandoffStore
	// HoldWrites makes the store queue its writes until release is
	// called (release may be called more than once).
	HoldWrites(t *testing.T) (release func())
	// QueuedWrites reports how many writes are queued behind the held one.
	QueuedWrites() int
	// LeasedTo returns the ids of the deliveries leased to owner, read
	// from the database.
	LeasedTo(t *testing.T, owner string) []string
}

// RunGroupCommit tests the group commit of the stores open returns: every
// caller of a group is answered after the group committed, with its own
// result, and a write that fails or whose caller gives up fails alone.
func RunGroupCommit(t *testing.T, open func(t *testing.T) GroupStore) {
	t.Run("SameEventID", func(t *testing.T) { t.Parallel(); testGroupSameEventID(t, open(t)) })
	t.Run("FailureIsolated", func(t *testing.T) { t.Parallel(); testGroupFailureIsolated(t, open(t)) })
	t.Run("CancelledWhileQueued", func(t *testing.T) { t.Parallel(); testGroupCancelledWhileQueued(t, open(t)) })
}

// RunBatchGroupCommit tests a store whose group commit takes batch writes
// (CreateMessages) into groups too, as SQLite's writer does; PostgreSQL
// writes a batch in a transaction of its own.
func RunBatchGroupCommit(t *testing.T, open func(t *testing.T) GroupStore) {
	t.Run("BatchFailureIsolated", func(t *testing.T) { t.Parallel(); testGroupBatchFailureIsolated(t, open(t)) })
}

// groupApp creates an application with one endpoint that takes every
// message.
func groupApp(t *testing.T, s hookbridge.Store) *hookbridge.Application {
	t.Helper()
	app := &hookbridge.Application{Name: "group"}
	ok(t, s.CreateApplication(t.Context(), app))
	ok(t, s.CreateEndpoint(t.Context(), &hookbridge.Endpoint{AppID: app.ID, URL: "https://receiver.example/",
		Secrets: []hookbridge.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}))
	return app
}

func groupMessage(appID string) *hookbridge.Message {
	return &hookbridge.Message{AppID: appID, EventType: "order.created", Payload: json.RawMessage(`{}`)}
}

// WaitQueued waits until n writes of s are queued, or fails after 10s.
func WaitQueued(t *testing.T, s GroupStore, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		queued := s.QueuedWrites()
		if queued >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued after 10s, want %d", queued, n)
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
// the store is held, in order, so that they form one group queued as msgs
// are, then releases it. Each caller checks, the moment it is answered,
// that its message can be read back: that it was committed before the
// answer.
func createConcurrently(t *testing.T, s GroupStore, msgs []*hookbridge.Message) []createOutcome {
	t.Helper()
	release := s.HoldWrites(t)
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
		WaitQueued(t, s, i+1)
	}
	release()
	wg.Wait()
	return out
}

// testGroupSameEventID sends one eventId many times in one group: exactly
// one message is created and every caller gets it.
func testGroupSameEventID(t *testing.T, s GroupStore) {
	app := groupApp(t, s)
	msgs := make([]*hookbridge.Message, 20)
	for i := range msgs {
		msgs[i] = groupMessage(app.ID)
		msgs[i].EventID, msgs[i].Payload = "evt-1", json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
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

// testGroupFailureIsolated puts writes that fail (a message id already
// taken, a missing application) into a group with writes that succeed, one
// of them repeating the event id of one that fails: each failure reaches
// its own caller only and leaves nothing behind, the others commit, and
// every delivery reserved with the handoff is taken or cancelled once, the
// taken ones leased in the store to the handoff's owner.
func testGroupFailureIsolated(t *testing.T, s GroupStore) {
	app := groupApp(t, s)
	existing := groupMessage(app.ID)
	_, _, err := s.CreateMessage(t.Context(), existing)
	ok(t, err)
	h := &HandoffLog{}
	s.SetHandoff(h)

	takenID := groupMessage(app.ID)
	takenID.ID, takenID.EventID, takenID.Payload = existing.ID, "evt-taken-id", json.RawMessage(`{"taken":true}`)
	sameEvent := groupMessage(app.ID) // its event id's first message fails
	sameEvent.EventID = takenID.EventID
	noApp := groupMessage(hookbridge.NewID(hookbridge.PrefixApplication))
	msgs := []*hookbridge.Message{groupMessage(app.ID), takenID, groupMessage(app.ID), noApp, sameEvent, groupMessage(app.ID)}
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
	if got, err := s.GetMessage(t.Context(), app.ID, existing.ID); err != nil || string(got.Payload) != `{}` {
		t.Errorf("the taken id now holds %+v (%v), want the original", got, err)
	}

	h.Lock()
	defer h.Unlock()
	if h.Reserved != len(h.Taken)+h.Cancelled {
		t.Errorf("%d reserved, %d taken, %d cancelled: every reservation must end once", h.Reserved, len(h.Taken), h.Cancelled)
	}
	if len(h.Taken) != 4 {
		t.Errorf("%d deliveries taken, want the 4 of the messages created", len(h.Taken))
	}
	if h.Wakes != 0 {
		t.Errorf("%d wake-ups with every delivery written handed over", h.Wakes)
	}
	var taken []string
	for _, c := range h.Taken {
		taken = append(taken, c.Delivery.ID)
		if c.Message.Payload == nil || c.Endpoint.URL == "" || len(c.Endpoint.Secrets) == 0 || c.LeaseUntil.IsZero() ||
			c.Delivery.Status != hookbridge.StatusPending || c.Delivery.MsgID != c.Message.ID || c.Delivery.EndpointID != c.Endpoint.ID {
			t.Errorf("claim %+v is not complete", c)
		}
	}
	slices.Sort(taken)
	leased := s.LeasedTo(t, HandoffOwner)
	slices.Sort(leased)
	if !slices.Equal(taken, leased) {
		t.Errorf("taken %v, leased in the store to the handoff's owner %v; want the same", taken, leased)
	}
}

// testGroupCancelledWhileQueued: a caller whose context ends while its
// message waits gets the context's error, and its message is never
// written; the rest of its group is.
func testGroupCancelledWhileQueued(t *testing.T, s GroupStore) {
	app := groupApp(t, s)
	release := s.HoldWrites(t)

	ctx, cancel := context.WithCancel(t.Context())
	gone := groupMessage(app.ID)
	gone.ID = hookbridge.NewID(hookbridge.PrefixMessage)
	goneErr := make(chan error, 1)
	go func() {
		_, _, err := s.CreateMessage(ctx, gone)
		goneErr <- err
	}()
	WaitQueued(t, s, 1)
	kept := groupMessage(app.ID)
	keptErr := make(chan error, 1)
	go func() {
		_, _, err := s.CreateMessage(t.Context(), kept)
		keptErr <- err
	}()
	WaitQueued(t, s, 2)
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

// testGroupBatchFailureIsolated puts three batches in one group, the
// second failing at its last message (a message id already taken): the
// failing batch leaves none of its messages behind, and the others store
// theirs whole, each message with its delivery. Batches of 37 messages to
// two endpoints are written in several statements (SQLite inserts rows in
// chunks), so this also checks that every row of a batch lands.
func testGroupBatchFailureIsolated(t *testing.T, s GroupStore) {
	app := groupApp(t, s)
	ok(t, s.CreateEndpoint(t.Context(), &hookbridge.Endpoint{AppID: app.ID, URL: "https://second.example/",
		Secrets: []hookbridge.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}))
	existing := groupMessage(app.ID)
	_, _, err := s.CreateMessage(t.Context(), existing)
	ok(t, err)

	const n = 37
	batches := make([][]*hookbridge.Message, 3)
	for b := range batches {
		for i := range n {
			m := groupMessage(app.ID)
			m.Payload = json.RawMessage(fmt.Sprintf(`{"batch":%d,"n":%d}`, b, i))
			batches[b] = append(batches[b], m)
		}
	}
	batches[1][n-1].ID = existing.ID

	release := s.HoldWrites(t)
	errs := make([]error, len(batches))
	var wg sync.WaitGroup
	for b, msgs := range batches {
		wg.Go(func() {
			_, errs[b] = s.CreateMessages(context.Background(), msgs)
		})
		WaitQueued(t, s, b+1)
	}
	release()
	wg.Wait()

	if hookbridge.ErrorCode(errs[1]) != hookbridge.ECONFLICT {
		t.Errorf("the batch with a taken message id: err = %v, want a conflict", errs[1])
	}
	for _, b := range []int{0, 2} {
		if errs[b] != nil {
			t.Fatalf("batch %d: %v", b, errs[b])
		}
		for i, m := range batches[b] {
			dests, err := s.ListMessageEndpoints(t.Context(), app.ID, m.ID, hookbridge.ListOptions{})
			if err != nil || len(dests.Data) != 2 {
				t.Errorf("batch %d, message %d: %d deliveries (%v), want 2", b, i, len(dests.Data), err)
			}
		}
	}
	for i, m := range batches[1][:n-1] {
		if _, err := s.GetMessage(t.Context(), app.ID, m.ID); !hookbridge.IsNotFound(err) {
			t.Errorf("failed batch, message %d: err = %v, want not found", i, err)
		}
	}
	page, err := s.ListMessages(t.Context(), app.ID, hookbridge.MessageFilter{ListOptions: hookbridge.ListOptions{Limit: 250}})
	if err != nil || len(page.Data) != 2*n+1 {
		t.Errorf("stored %d messages (%v), want the two batches' %d and the one before", len(page.Data), err, 2*n)
	}
}
