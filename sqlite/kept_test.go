package sqlite

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/storetest"
)

// onlyNeededMoves makes s move the rows kept behind the log only when a
// read or write needs them (or keptMoveAt are kept), so that a test can
// see what is kept: it stops the mover.
func onlyNeededMoves(s *Store) { s.stopMover() }

// columnsOf returns the columns of table, in order.
func columnsOf(t *testing.T, s *Store, table string) []string {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), `SELECT name FROM pragma_table_info(?)`, table)
	cols, err := scanRows(rows, err, func(r rowScanner) (string, error) {
		var c string
		return c, r.Scan(&c)
	})
	if err != nil || len(cols) == 0 {
		t.Fatalf("columns of %s: %v %v", table, cols, err)
	}
	return cols
}

// TestKeptColumns: the log holds every column of messages, and every
// column of deliveries but the one a new delivery and its first result
// leave NULL (and its own seq), so that a move writes the rows whole; a migration that adds
// a column to either table fails here until the log has it too.
func TestKeptColumns(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	if got, want := columnsOf(t, s, "message_log"), columnsOf(t, s, "messages"); !slices.Equal(got, want) {
		t.Errorf("message_log has %v, messages %v", got, want)
	}
	logged := columnsOf(t, s, "delivery_log")
	if logged[0] != "seq" {
		t.Fatalf("delivery_log's first column is %s, want seq", logged[0])
	}
	logged = logged[1:]
	var left []string
	for _, c := range columnsOf(t, s, "deliveries") {
		if !slices.Contains(logged, c) {
			left = append(left, c)
		}
	}
	if !slices.Equal(left, []string{"canceled_at"}) {
		t.Errorf("columns of deliveries not in delivery_log: %v, want only canceled_at", left)
	}
}

// logCounts returns the rows in the log's two tables.
func logCounts(t *testing.T, db *sql.DB) (msgs, dels int) {
	t.Helper()
	if err := db.QueryRowContext(t.Context(),
		`SELECT (SELECT count(*) FROM message_log), (SELECT count(*) FROM delivery_log)`).Scan(&msgs, &dels); err != nil {
		t.Fatal(err)
	}
	return msgs, dels
}

// dumpRows returns every column of the rows query finds, as text, leaving
// out the columns named in skip.
func dumpRows(t *testing.T, db *sql.DB, skip []string, query string, args ...any) [][]string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var row []string
		for i, c := range cols {
			if slices.Contains(skip, c) {
				continue
			}
			row = append(row, c+"="+map[bool]string{true: vals[i].String, false: "NULL"}[vals[i].Valid])
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKeptRowsAsWritten: a message kept behind the log and one written
// straight into the tables (an event id is never kept) come out of the
// move as the same rows, handed over and after a first attempt, and every
// read sees the kept one as soon as its write is answered.
func TestKeptRowsAsWritten(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	onlyNeededMoves(s)
	ctx := t.Context()
	app := newAppWithEndpoint(t, s)
	at := time.UnixMilli(1_800_000_000_000)
	s.now = func() time.Time { return at } // the fan-out's clock: both messages' rows get the same times
	h := &storetest.HandoffLog{}
	s.SetHandoff(h)

	kept := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{"n":1}`), CreatedAt: at}
	direct := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{"n":1}`), CreatedAt: at,
		EventID: "evt-direct"}
	for _, m := range []*hookbridge.Message{kept, direct} {
		if _, _, err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if msgs, dels := logCounts(t, s.r); msgs != 1 || dels != 1 {
		t.Fatalf("log holds %d messages and %d deliveries, want the first message's", msgs, dels)
	}
	// A read sees the kept message at once: it has the rows moved first.
	if got, err := s.GetMessage(ctx, app.ID, kept.ID); err != nil || got.ID != kept.ID {
		t.Fatalf("GetMessage of a kept message: %v, %v", got, err)
	}
	if msgs, dels := logCounts(t, s.r); msgs != 0 || dels != 0 {
		t.Fatalf("after a read the log holds %d messages and %d deliveries, want none", msgs, dels)
	}

	compare := func(when string) {
		t.Helper()
		if err := s.wr.settle(ctx, nil); err != nil {
			t.Fatal(err)
		}
		msgs := dumpRows(t, s.r, []string{"id", "event_id"}, `SELECT * FROM messages WHERE id IN (?, ?) ORDER BY event_id IS NULL`, kept.ID, direct.ID)
		dels := dumpRows(t, s.r, []string{"id", "msg_id", "first_attempt_id"},
			`SELECT * FROM deliveries WHERE msg_id IN (?, ?) ORDER BY msg_id = ?`, kept.ID, direct.ID, kept.ID)
		if len(msgs) != 2 || !slices.Equal(msgs[0], msgs[1]) {
			t.Errorf("%s, messages differ:\n%v", when, msgs)
		}
		if len(dels) != 2 || !slices.Equal(dels[0], dels[1]) {
			t.Errorf("%s, deliveries differ:\n%v", when, dels)
		}
	}
	compare("handed over")

	// Again, with the first attempts recorded while the first is kept.
	kept2 := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{"n":2}`), CreatedAt: at}
	direct2 := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{"n":2}`), CreatedAt: at,
		EventID: "evt-direct-2"}
	for _, m := range []*hookbridge.Message{kept2, direct2} {
		if _, _, err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	h.Lock()
	claims := slices.Clone(h.Taken[len(h.Taken)-2:])
	h.Unlock()
	var results []hookbridge.AttemptResult
	for _, c := range claims {
		results = append(results, hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Status: hookbridge.StatusSuccess,
			Attempt: &hookbridge.Attempt{ID: hookbridge.NewID(hookbridge.PrefixAttempt), URL: c.Endpoint.URL,
				Status: hookbridge.StatusSuccess, StatusCode: 204, Response: "ok", DurationMS: 3, CreatedAt: at}})
	}
	if _, dels := logCounts(t, s.r); dels != 1 {
		t.Fatalf("log holds %d deliveries before the results, want 1", dels)
	}
	rejected, err := s.RecordAttempts(ctx, storetest.HandoffOwner, results)
	if err != nil || len(rejected) != 0 {
		t.Fatalf("results: rejected %v, %v", rejected, err)
	}
	if _, dels := logCounts(t, s.r); dels != 1 {
		t.Fatalf("log holds %d deliveries after the results, want the kept one still there", dels)
	}
	// A repeated result finds the lease ended, kept or not.
	rejected, err = s.RecordAttempts(ctx, storetest.HandoffOwner, results[:1])
	if err != nil || len(rejected) != 1 {
		t.Fatalf("a repeated result: rejected %v, %v; want it rejected", rejected, err)
	}
	kept, direct = kept2, direct2
	compare("after a first attempt")
	for _, m := range []*hookbridge.Message{kept2, direct2} {
		page, err := s.ListAttempts(ctx, app.ID, hookbridge.AttemptFilter{MsgID: m.ID})
		if err != nil || len(page.Data) != 1 || page.Data[0].StatusCode != 204 || page.Data[0].MsgID != m.ID {
			t.Errorf("attempts of %s: %+v, %v; want its one attempt", m.ID, page.Data, err)
		}
	}
}

// TestKeptReadsOfOtherApplications: a read of an application with nothing
// kept runs at once, leaving the kept rows of others where they are; a read
// of one with kept rows, or of every application, has them moved first.
func TestKeptReadsOfOtherApplications(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	onlyNeededMoves(s)
	ctx := t.Context()
	hot, quiet := newAppWithEndpoint(t, s), newAppWithEndpoint(t, s)
	s.SetHandoff(&storetest.HandoffLog{})
	create := func(app *hookbridge.Application) *hookbridge.Message {
		t.Helper()
		m := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{}`)}
		if _, _, err := s.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	old := create(quiet)
	if _, dels := logCounts(t, s.r); dels != 1 {
		t.Fatalf("log holds %d deliveries, want the new message's", dels)
	}
	if got, err := s.GetMessage(ctx, quiet.ID, old.ID); err != nil || got.ID != old.ID {
		t.Fatalf("GetMessage of a kept message: %v, %v", got, err)
	}
	moves := s.WriterStats().KeptMoves

	create(hot)
	page, err := s.ListMessages(ctx, quiet.ID, hookbridge.MessageFilter{})
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != old.ID {
		t.Fatalf("messages of the quiet application: %+v, %v", page.Data, err)
	}
	if _, err := s.ListAttempts(ctx, quiet.ID, hookbridge.AttemptFilter{}); err != nil {
		t.Fatal(err)
	}
	if _, dels := logCounts(t, s.r); dels != 1 || s.WriterStats().KeptMoves != moves {
		t.Fatalf("reads of another application moved the kept rows: the log holds %d deliveries, %d moves since",
			dels, s.WriterStats().KeptMoves-moves)
	}

	// A read of every application has them moved, and counts them.
	b, err := s.Backlog(ctx, time.Now())
	if err != nil || b.Pending != 2 {
		t.Fatalf("backlog %+v, %v; want the two handed-over deliveries pending", b, err)
	}
	if _, dels := logCounts(t, s.r); dels != 0 || s.WriterStats().KeptMoves != moves+1 {
		t.Fatalf("after a read of every application the log holds %d deliveries, %d moves since; want none and one",
			dels, s.WriterStats().KeptMoves-moves)
	}

	// And a read of the application, its new message.
	m := create(hot)
	page, err = s.ListMessages(ctx, hot.ID, hookbridge.MessageFilter{})
	if err != nil || len(page.Data) != 2 || page.Data[0].ID != m.ID {
		t.Fatalf("messages of the hot application: %+v, %v; want two, the newest first", page.Data, err)
	}
	if _, dels := logCounts(t, s.r); dels != 0 {
		t.Fatalf("after a read of its application the log holds %d deliveries", dels)
	}
}

// TestKeptRetryIsClaimable: a kept delivery's result that is not final has
// it moved first, so that it is due, and claimable, when it says.
func TestKeptRetryIsClaimable(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	onlyNeededMoves(s)
	ctx := t.Context()
	app := newAppWithEndpoint(t, s)
	h := &storetest.HandoffLog{}
	s.SetHandoff(h)
	m := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{}`)}
	if _, _, err := s.CreateMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if s.wr.kept.n.Load() != 1 {
		t.Fatalf("%d deliveries kept, want the message's", s.wr.kept.n.Load())
	}
	h.Lock()
	c := h.Taken[0]
	h.Unlock()
	next := time.Now().Add(-time.Second)
	rejected, err := s.RecordAttempts(ctx, storetest.HandoffOwner, []hookbridge.AttemptResult{{
		DeliveryID: c.Delivery.ID, Status: hookbridge.StatusSending, NextAttempt: next,
		Attempt: &hookbridge.Attempt{ID: hookbridge.NewID(hookbridge.PrefixAttempt), URL: c.Endpoint.URL,
			Status: hookbridge.StatusFail, StatusCode: 503, CreatedAt: time.Now()}}})
	if err != nil || len(rejected) != 0 {
		t.Fatalf("retry: rejected %v, %v", rejected, err)
	}
	if msgs, dels := logCounts(t, s.r); msgs != 0 || dels != 0 || s.wr.kept.n.Load() != 0 {
		t.Fatalf("after a retry the log holds %d messages and %d deliveries", msgs, dels)
	}
	due, ok, err := s.NextDue(ctx)
	if err != nil || !ok || due.After(time.Now()) {
		t.Fatalf("NextDue after a retry: %v %v %v; want it due", due, ok, err)
	}
	claimed, err := s.ClaimDeliveries(ctx, "other", time.Now(), time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].Delivery.ID != c.Delivery.ID {
		t.Fatalf("claim after a retry: %v, %v; want the retried delivery", claimed, err)
	}
}

// TestKeptBeforeOtherWrites: a write that changes what a kept row points
// at (here an application's delete and its cascades) has the rows moved
// first, so the move never meets a row whose parent is gone, and a
// message id already kept is refused as one already written is.
func TestKeptBeforeOtherWrites(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	onlyNeededMoves(s)
	ctx := t.Context()
	app := newAppWithEndpoint(t, s)
	s.SetHandoff(&storetest.HandoffLog{})
	m := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{}`)}
	if _, _, err := s.CreateMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	again := &hookbridge.Message{ID: m.ID, AppID: app.ID, EventType: "order.created", Payload: []byte(`{}`)}
	if _, _, err := s.CreateMessage(ctx, again); hookbridge.ErrorCode(err) != hookbridge.ECONFLICT {
		t.Errorf("a kept message's id again: %v, want a conflict", err)
	}
	if err := s.wr.settle(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateMessage(ctx, again); hookbridge.ErrorCode(err) != hookbridge.ECONFLICT {
		t.Errorf("a moved message's id again: %v, want a conflict", err)
	}

	m2 := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{}`)}
	if _, _, err := s.CreateMessage(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if s.wr.kept.n.Load() != 1 {
		t.Fatalf("%d deliveries kept, want 1", s.wr.kept.n.Load())
	}
	if err := s.DeleteApplication(ctx, app.ID); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := s.r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM deliveries)`).Scan(&left); err != nil || left != 0 {
		t.Errorf("after the application's delete, %d messages and deliveries are left (%v)", left, err)
	}
	if msgs, dels := logCounts(t, s.r); msgs+dels != 0 {
		t.Errorf("after the application's delete, the log holds %d messages and %d deliveries", msgs, dels)
	}
	if st := s.WriterStats(); st.KeptMoveFailures != 0 || st.KeptMoves == 0 {
		t.Errorf("moves %d, failed %d", st.KeptMoves, st.KeptMoveFailures)
	}
}

// copyFile copies src to dst, if src exists.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestKeptSurvivesACrash: the files as a process that stopped dead left
// them, with messages kept behind the log and a first attempt recorded
// there, open with every answered write in the tables: the kept rows moved,
// their leases ended, so the delivery whose attempt was not recorded is
// due again at once.
func TestKeptSurvivesACrash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(context.Background(), filepath.Join(dir, "live.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	onlyNeededMoves(s)
	app := newAppWithEndpoint(t, s)
	h := &storetest.HandoffLog{}
	s.SetHandoff(h)
	var msgs []*hookbridge.Message
	done := make(chan error, 3)
	for i := range 3 {
		m := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{"n":` + string(rune('0'+i)) + `}`)}
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		go func() {
			_, _, err := s.CreateMessage(ctx, m)
			done <- err
		}()
	}
	for range msgs {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	h.Lock()
	first := h.Taken[0]
	h.Unlock()
	rejected, err := s.RecordAttempts(ctx, storetest.HandoffOwner, []hookbridge.AttemptResult{{
		DeliveryID: first.Delivery.ID, Status: hookbridge.StatusSuccess,
		Attempt: &hookbridge.Attempt{ID: hookbridge.NewID(hookbridge.PrefixAttempt), URL: first.Endpoint.URL,
			Status: hookbridge.StatusSuccess, StatusCode: 200, CreatedAt: time.Now()}}})
	if err != nil || len(rejected) != 0 {
		t.Fatalf("result: %v %v", rejected, err)
	}
	// The crash: the files copied while the store still runs, with
	// nothing writing, as a process killed now would leave them.
	if n := s.wr.kept.n.Load(); n != 3 {
		t.Fatalf("%d deliveries kept, want 3", n)
	}
	for _, suffix := range []string{"", "-wal"} {
		copyFile(t, filepath.Join(dir, "live.db"+suffix), filepath.Join(dir, "crashed.db"+suffix))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	c, err := Open(ctx, filepath.Join(dir, "crashed.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m, d := logCounts(t, c.r); m+d != 0 {
		t.Errorf("after Open the log holds %d messages and %d deliveries, want none", m, d)
	}
	for _, m := range msgs {
		if _, err := c.GetMessage(ctx, app.ID, m.ID); err != nil {
			t.Errorf("message %s after the crash: %v", m.ID, err)
		}
	}
	page, err := c.ListAttempts(ctx, app.ID, hookbridge.AttemptFilter{MsgID: first.Message.ID})
	if err != nil || len(page.Data) != 1 || page.Data[0].StatusCode != 200 {
		t.Errorf("the recorded attempt after the crash: %+v, %v", page.Data, err)
	}
	claimed, err := c.ClaimDeliveries(ctx, "next", time.Now(), time.Minute, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim after the crash: %d claimed, %v; want the two deliveries without a result", len(claimed), err)
	}
	for _, cl := range claimed {
		if cl.Delivery.ID == first.Delivery.ID {
			t.Errorf("claimed the delivery whose success was recorded")
		}
	}
}

// TestKeptMovedWhenIdle: rows kept behind the log reach the tables within
// about keptMoveEvery with no read or write to ask for them.
func TestKeptMovedWhenIdle(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app := newAppWithEndpoint(t, s)
	s.SetHandoff(&storetest.HandoffLog{})
	m := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{}`)}
	if _, _, err := s.CreateMessage(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := s.r.QueryRowContext(t.Context(), `SELECT count(*) FROM deliveries WHERE msg_id = ?`, m.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the kept delivery was not moved into deliveries within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if msgs, dels := logCounts(t, s.r); msgs+dels != 0 {
		t.Errorf("after the move the log holds %d messages and %d deliveries", msgs, dels)
	}
	if st := s.WriterStats(); st.KeptMoves == 0 || st.KeptMoved != 1 {
		t.Errorf("moves %d, moved %d; want the one delivery moved", st.KeptMoves, st.KeptMoved)
	}
	// A move's commit is not synced; every other commit is, after it.
	var level int
	if err := s.w.QueryRowContext(t.Context(), `PRAGMA synchronous`).Scan(&level); err != nil || level != 2 {
		t.Errorf("after a move the writer's synchronous is %d (%v), want FULL (2)", level, err)
	}
}
