package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/storetest"
)

// leasedTo returns the ids of the deliveries leased to owner.
func leasedTo(t *testing.T, s *Store, owner string) []string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT id FROM deliveries WHERE lease_owner = $1 ORDER BY id`, owner)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// checkHandoff fails t unless every reservation ended once, with the taken ones
// leased to the handoff's owner in the store, and exactly those.
func checkHandoff(t *testing.T, h *storetest.HandoffLog, s *Store) {
	t.Helper()
	h.Lock()
	defer h.Unlock()
	if h.Reserved != len(h.Taken)+h.Cancelled {
		t.Errorf("%d reserved, %d taken, %d cancelled: every reservation must end once", h.Reserved, len(h.Taken), h.Cancelled)
	}
	leased := map[string]time.Time{}
	rows, err := s.pool.Query(t.Context(), `SELECT id, lease_until FROM deliveries WHERE lease_owner = $1`, storetest.HandoffOwner)
	if err != nil {
		t.Fatal(err)
	}
	var (
		id    string
		until time.Time
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &until}, func() error {
		leased[id] = until
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range h.Taken {
		if c.Message.Payload == nil || c.Endpoint.URL == "" || len(c.Endpoint.Secrets) == 0 || c.LeaseUntil.IsZero() ||
			c.Delivery.CreatedAt.IsZero() || c.Delivery.Status != hookbridge.StatusPending ||
			c.Delivery.MsgID != c.Message.ID || c.Delivery.EndpointID != c.Endpoint.ID {
			t.Errorf("claim %+v is not complete", c)
		}
		if until, ok := leased[c.Delivery.ID]; !ok || !until.Equal(c.LeaseUntil) {
			t.Errorf("taken delivery %s: stored lease until %v (stored: %v), claim says %v", c.Delivery.ID, until, ok, c.LeaseUntil)
		}
		delete(leased, c.Delivery.ID)
	}
	for id := range leased {
		t.Errorf("delivery %s is leased to the handoff's owner but was not taken", id)
	}
}

func newMessage(appID string) *hookbridge.Message {
	return &hookbridge.Message{AppID: appID, EventType: "order.created", Payload: json.RawMessage(`{}`)}
}

// TestHandoffFollowsCommits: the deliveries of committed messages are
// taken, leased to the handoff's owner, with the claim the dispatcher
// needs; reservations whose deliveries were not written are cancelled:
// those of a write that failed (a message id taken) and of a message that
// lost its event id to an earlier one.
func TestHandoffFollowsCommits(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app, _ := fixture(t, s)
	ctx := t.Context()
	first := newMessage(app.ID)
	first.EventID = "evt-1"
	if _, _, err := s.CreateMessage(ctx, first); err != nil {
		t.Fatal(err)
	}
	h := &storetest.HandoffLog{}
	s.SetHandoff(h)

	if _, _, err := s.CreateMessage(ctx, newMessage(app.ID)); err != nil {
		t.Fatal(err)
	}
	taken := newMessage(app.ID)
	taken.ID = first.ID
	if _, _, err := s.CreateMessage(ctx, taken); hookbridge.ErrorCode(err) != hookbridge.ECONFLICT {
		t.Fatalf("a message with a taken id: err = %v, want a conflict", err)
	}
	repeat := newMessage(app.ID)
	repeat.EventID = first.EventID
	results, err := s.CreateMessages(ctx, []*hookbridge.Message{newMessage(app.ID), repeat})
	if err != nil || results[0].Err != nil || !results[0].Created || results[1].Err != nil || results[1].Created {
		t.Fatalf("batch: %+v, %v; want the first created and the second answered with the stored message", results, err)
	}

	checkHandoff(t, h, s)
	h.Lock()
	defer h.Unlock()
	if len(h.Taken) != 2 || h.Cancelled != 2 {
		t.Errorf("%d taken, %d cancelled; want the two new messages' deliveries taken and the other two cancelled", len(h.Taken), h.Cancelled)
	}
	if h.Wakes != 0 {
		t.Errorf("%d wake-ups with every delivery handed over", h.Wakes)
	}
}

// TestHandoffLeavesHeldBack: a delivery that a claim would hold back (to a
// FIFO, rate-limited or paused endpoint, of a rate-limited application, or
// not due yet) and one the handoff refuses are written unleased, for a
// claimer, which the store wakes.
func TestHandoffLeavesHeldBack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, s *Store, app *hookbridge.Application, ep *hookbridge.Endpoint, msg *hookbridge.Message, h *storetest.HandoffLog)
	}{
		{"refused", func(t *testing.T, s *Store, app *hookbridge.Application, ep *hookbridge.Endpoint, msg *hookbridge.Message, h *storetest.HandoffLog) {
			h.Refuse = true
		}},
		{"fifo", func(t *testing.T, s *Store, app *hookbridge.Application, ep *hookbridge.Endpoint, msg *hookbridge.Message, h *storetest.HandoffLog) {
			ep.FIFO = true
			if err := s.UpdateEndpoint(t.Context(), ep); err != nil {
				t.Fatal(err)
			}
		}},
		{"endpoint rate limit", func(t *testing.T, s *Store, app *hookbridge.Application, ep *hookbridge.Endpoint, msg *hookbridge.Message, h *storetest.HandoffLog) {
			ep.RateLimit = new(10)
			if err := s.UpdateEndpoint(t.Context(), ep); err != nil {
				t.Fatal(err)
			}
		}},
		{"application rate limit", func(t *testing.T, s *Store, app *hookbridge.Application, ep *hookbridge.Endpoint, msg *hookbridge.Message, h *storetest.HandoffLog) {
			app.RateLimit = new(10)
			if err := s.UpdateApplication(t.Context(), app); err != nil {
				t.Fatal(err)
			}
		}},
		{"paused", func(t *testing.T, s *Store, app *hookbridge.Application, ep *hookbridge.Endpoint, msg *hookbridge.Message, h *storetest.HandoffLog) {
			// A pause that is over: the claim ends it before it serves
			// the endpoint.
			if _, err := s.pool.Exec(t.Context(), `UPDATE endpoints SET paused_until = $1 WHERE id = $2`, time.Now().Add(-time.Second), ep.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"not due", func(t *testing.T, s *Store, app *hookbridge.Application, ep *hookbridge.Endpoint, msg *hookbridge.Message, h *storetest.HandoffLog) {
			msg.CreatedAt = time.Now().Add(time.Minute)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openTest(t)
			app, ep := fixture(t, s)
			h := &storetest.HandoffLog{}
			msg := newMessage(app.ID)
			tc.setup(t, s, app, ep, msg, h)
			s.SetHandoff(h)
			if _, _, err := s.CreateMessage(t.Context(), msg); err != nil {
				t.Fatal(err)
			}
			checkHandoff(t, h, s)
			h.Lock()
			// A refusal is told as one; the others were never offered.
			wakes, refusals := 1, 0
			if h.Refuse {
				wakes, refusals = 0, 1
			}
			if h.Wakes != wakes || h.Refusals != refusals || h.Reserved != 0 {
				t.Errorf("%d wake-ups, %d refusals told, %d reserved; want %d, %d and 0", h.Wakes, h.Refusals, h.Reserved, wakes, refusals)
			}
			h.Unlock()
			claims, err := s.ClaimDeliveries(t.Context(), "owner-2", msg.CreatedAt.Add(time.Second), time.Minute, 10)
			if err != nil || len(claims) != 1 {
				t.Errorf("claimed %d (%v), want the one delivery left to the claim", len(claims), err)
			}
		})
	}
}

// TestHandoffNotifiesOnlyForTheRest: a message whose deliveries are all
// handed over wakes no other instance; one with a delivery left to the
// claim (to a FIFO endpoint) does, though its other delivery is handed
// over.
func TestHandoffNotifiesOnlyForTheRest(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	writer, listener := openDSN(t, dsn), openDSN(t, dsn)
	app, _ := fixture(t, writer)
	fifo := &hookbridge.Endpoint{AppID: app.ID, URL: "https://fifo.example/", EventTypes: []string{"fifo.only"}, FIFO: true}
	if err := writer.CreateEndpoint(t.Context(), fifo); err != nil {
		t.Fatal(err)
	}
	h := &storetest.HandoffLog{}
	writer.SetHandoff(h)

	ctx, cancel := context.WithCancel(t.Context())
	wakes := make(chan []string, 16)
	done := make(chan error, 1)
	go func() { done <- listener.Listen(ctx, func(ids []string) { wakes <- ids }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Listen returned %v", err)
		}
	}()
	waitWake(t, wakes, "listening")

	if _, _, err := writer.CreateMessage(t.Context(), newMessage(app.ID)); err != nil {
		t.Fatal(err)
	}
	// A marker sent after the message proves the listener has seen
	// whatever came before it, so the absence is not a race.
	if _, err := writer.pool.Exec(t.Context(), `SELECT pg_notify($1, 'marker')`, writer.notify); err != nil {
		t.Fatal(err)
	}
	waitWake(t, wakes, "marker")
	select {
	case <-wakes:
		t.Error("woken by a message whose delivery was handed over")
	default:
	}

	m := newMessage(app.ID)
	m.EventType = "fifo.only"
	if _, _, err := writer.CreateMessage(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	// It names the FIFO endpoint alone: the other delivery was handed
	// over.
	wantNamed(t, waitWake(t, wakes, "a message to a FIFO endpoint"), fifo.ID)
	checkHandoff(t, h, writer)
	h.Lock()
	defer h.Unlock()
	// Both messages' deliveries to the endpoint that takes everything.
	if len(h.Taken) != 2 || h.Wakes != 1 {
		t.Errorf("%d taken, %d wake-ups; want 2 and 1", len(h.Taken), h.Wakes)
	}
}

// handoffFixture opens a store on a schema of its own, with an
// application, an endpoint and a handoff that logs what it is given; it
// returns the schema's DSN too, for connections of the test's own.
func handoffFixture(t *testing.T) (string, *Store, *hookbridge.Application, *hookbridge.Endpoint, *storetest.HandoffLog) {
	t.Helper()
	dsn := pgtest.Schema(t)
	s := openDSN(t, dsn)
	app, ep := fixture(t, s)
	h := &storetest.HandoffLog{}
	s.SetHandoff(h)
	return dsn, s, app, ep, h
}

// deleteOpen deletes the row of table with id in a transaction it leaves
// open on a connection of its own, and returns the transaction and the
// connection's backend pid.
func deleteOpen(t *testing.T, dsn, table, id string) (pgx.Tx, int32) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return tx, int32(conn.PgConn().PID())
}

// commitWhenWaitedFor commits each of the open deletions as soon as a
// statement waits for it, until all are committed.
func commitWhenWaitedFor(t *testing.T, s *Store, deleting map[int32]pgx.Tx) {
	t.Helper()
	ctx := t.Context()
	pids := make([]int32, 0, len(deleting))
	for pid := range deleting {
		pids = append(pids, pid)
	}
	const blocker = `
		SELECT b FROM pg_stat_activity, unnest(pg_blocking_pids(pid)) AS b
		WHERE b = ANY($1::integer[]) LIMIT 1`
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(deleting) > 0 {
		var pid int32
		err := s.pool.QueryRow(ctx, blocker, pids).Scan(&pid)
		switch {
		case err == nil:
			if err := deleting[pid].Commit(ctx); err != nil {
				t.Fatal(err)
			}
			delete(deleting, pid)
			pids = slices.DeleteFunc(pids, func(p int32) bool { return p == pid })
			continue
		case !errors.Is(err, pgx.ErrNoRows):
			t.Fatal(err)
		case time.Now().After(deadline):
			t.Fatalf("ingest never waited for the %d deletions left", len(deleting))
		}
		<-tick.C
	}
}

// TestHandoffIngestRetries: ingest whose write loses a race with
// application deletions, twice (so that it runs its locked last try),
// settles each try's reservations before the next one reserves, and hands
// over only the delivery it finally writes; the deleted applications'
// messages get ENOTFOUND and nothing of theirs is stored.
func TestHandoffIngestRetries(t *testing.T) {
	t.Parallel()
	dsn, s, app, stable, h := handoffFixture(t)
	ctx := t.Context()

	// Two more applications with an endpoint each. The write locks the
	// applications in id order, so it holds second's lock when it waits
	// for first's deletion, which the test commits only after starting
	// second's: that one then waits for the write, and runs once the
	// write has failed. The next try reads second (its deletion not yet
	// committed), and its write waits for that deletion and fails too.
	second, secondEP := fixture(t, s)
	first, firstEP := fixture(t, s)
	msgs := []*hookbridge.Message{newMessage(app.ID), newMessage(first.ID), newMessage(second.ID)}
	firstTx, firstPID := deleteOpen(t, dsn, "applications", first.ID)

	type outcome struct {
		results []hookbridge.CreateResult
		err     error
	}
	created := make(chan outcome, 1)
	go func() {
		results, err := s.CreateMessages(ctx, msgs)
		created <- outcome{results, err}
	}()
	waitedFor(t, s, firstPID)
	type deletion struct {
		tx  pgx.Tx
		pid int32
		err error
	}
	secondDeleted := make(chan deletion, 1)
	go func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			secondDeleted <- deletion{err: err}
			return
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		tx, err := conn.Begin(ctx)
		if err == nil {
			_, err = tx.Exec(ctx, `DELETE FROM applications WHERE id = $1`, second.ID)
		}
		secondDeleted <- deletion{tx, int32(conn.PgConn().PID()), err}
	}()
	waitedFor(t, s, ingestWaiter(t, s, second.ID))
	if err := firstTx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	d := <-secondDeleted
	if d.err != nil {
		t.Fatal(d.err)
	}
	commitWhenWaitedFor(t, s, map[int32]pgx.Tx{d.pid: d.tx})
	out := <-created
	if out.err != nil {
		t.Fatal(out.err)
	}
	if out.results[0].Err != nil {
		t.Errorf("the live application's message: %v", out.results[0].Err)
	}
	for i, r := range out.results[1:] {
		if !hookbridge.IsNotFound(r.Err) {
			t.Errorf("deleted application %d's message: %v, want ENOTFOUND", i, r.Err)
		}
	}
	if stored := storedRows(t, s); stored != 2 {
		t.Errorf("%d messages and deliveries stored, want the live application's one of each", stored)
	}

	checkHandoff(t, h, s)
	h.Lock()
	defer h.Unlock()
	// Three tries: three deliveries reserved, then two, then one.
	if h.Reserved != 6 || len(h.Taken) != 1 || h.Taken[0].Endpoint.ID != stable.ID {
		t.Errorf("%d reserved, %d taken; want 6 over three tries, and the delivery to %s taken", h.Reserved, len(h.Taken), stable.ID)
	}
	if h.Most > 3 {
		t.Errorf("%d reservations outstanding at once: a try reserved before the one before it settled", h.Most)
	}
	for _, id := range []string{firstEP.ID, secondEP.ID} {
		if !slices.Contains(h.CancelledIDs, id) {
			t.Errorf("the reservation for deleted application's endpoint %s was not cancelled (cancelled: %v)", id, h.CancelledIDs)
		}
	}
	if h.Wakes != 0 {
		t.Errorf("%d wake-ups with every delivery written handed over", h.Wakes)
	}
}

// waitedFor waits until some statement waits for a lock that the backend
// pid holds.
func waitedFor(t *testing.T, s *Store, pid int32) {
	t.Helper()
	const waiting = `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))`
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ok bool
		if err := s.pool.QueryRow(t.Context(), waiting, pid).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing waited for backend %d", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ingestWaiter returns the pid of the backend of the ingest statement that
// holds a lock on the application's row, once there is one.
func ingestWaiter(t *testing.T, s *Store, appID string) int32 {
	t.Helper()
	const holder = `
		SELECT a.pid FROM pg_stat_activity a
		WHERE a.query LIKE '%INSERT INTO messages%' AND a.wait_event_type = 'Lock' LIMIT 1`
	var pid int32
	if err := s.pool.QueryRow(t.Context(), holder).Scan(&pid); err != nil {
		t.Fatalf("no ingest statement waits for a lock (%v) while it should hold %s's", err, appID)
	}
	return pid
}

// TestIngestSkipsEndpointsDeletedWhileWriting: an endpoint deleted while
// ingest writes (its write waits for the deletion's row lock) gets no
// delivery, and the message is stored with its other deliveries in one
// try, as if the endpoint had been deleted before the message came.
func TestIngestSkipsEndpointsDeletedWhileWriting(t *testing.T) {
	t.Parallel()
	dsn, s, app, stable, h := handoffFixture(t)
	ctx := t.Context()

	deleting := map[int32]pgx.Tx{}
	var doomed []string
	for range 2 {
		ep := &hookbridge.Endpoint{AppID: app.ID, URL: "https://doomed.example/", Secrets: stable.Secrets}
		if err := s.CreateEndpoint(ctx, ep); err != nil {
			t.Fatal(err)
		}
		doomed = append(doomed, ep.ID)
		tx, pid := deleteOpen(t, dsn, "endpoints", ep.ID)
		deleting[pid] = tx
	}
	created := make(chan error, 1)
	go func() {
		_, _, err := s.CreateMessage(ctx, newMessage(app.ID))
		created <- err
	}()
	commitWhenWaitedFor(t, s, deleting)
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	var endpoints []string
	rows, err := s.pool.Query(ctx, `SELECT endpoint_id FROM deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	if endpoints, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(endpoints, []string{stable.ID}) {
		t.Errorf("deliveries to %v, want only to %s", endpoints, stable.ID)
	}

	checkHandoff(t, h, s)
	h.Lock()
	defer h.Unlock()
	if h.Reserved != 3 || len(h.Taken) != 1 || h.Taken[0].Endpoint.ID != stable.ID {
		t.Errorf("%d reserved, %d taken; want 3 in one try, and the delivery to %s taken", h.Reserved, len(h.Taken), stable.ID)
	}
	for _, id := range doomed {
		if !slices.Contains(h.CancelledIDs, id) {
			t.Errorf("the reservation for deleted endpoint %s was not cancelled (cancelled: %v)", id, h.CancelledIDs)
		}
	}
}

// TestHandoffSkipsDeletedEndpoint: an endpoint deleted between ingest's
// read and its write gets no delivery, and its reservation is cancelled,
// while the write commits the rest.
func TestHandoffSkipsDeletedEndpoint(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	s := openDSN(t, dsn)
	ctx := t.Context()
	app, stable := fixture(t, s)
	doomed := &hookbridge.Endpoint{AppID: app.ID, URL: "https://doomed.example/"}
	if err := s.CreateEndpoint(ctx, doomed); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Reserve runs between the read and the write: the deletion commits
	// there (on a connection of its own, not the store's).
	h := &storetest.HandoffLog{OnReserve: func(id string) {
		if id != doomed.ID {
			return
		}
		if _, err := conn.Exec(ctx, `DELETE FROM endpoints WHERE id = $1`, id); err != nil {
			t.Error(err)
		}
	}}
	s.SetHandoff(h)
	if _, _, err := s.CreateMessage(ctx, newMessage(app.ID)); err != nil {
		t.Fatal(err)
	}
	checkHandoff(t, h, s)
	h.Lock()
	defer h.Unlock()
	if len(h.Taken) != 1 || h.Taken[0].Endpoint.ID != stable.ID || !slices.Equal(h.CancelledIDs, []string{doomed.ID}) {
		t.Errorf("taken %d, cancelled %v; want the delivery to %s taken and the one to %s cancelled", len(h.Taken), h.CancelledIDs, stable.ID, doomed.ID)
	}
	if h.Wakes != 0 {
		t.Errorf("%d wake-ups with every delivery written handed over", h.Wakes)
	}
}
