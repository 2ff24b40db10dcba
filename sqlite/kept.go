package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Rows written behind a log.
//
// Under a steady load nearly every message is a transaction of its own, and
// its commit writes every page its rows touch: a message and its delivery
// carry five index entries between them, keyed by application and
// endpoint, and at 1 000 messages a second over ten endpoints those index
// pages were 28 of a commit's 42 (docs/benchmarks.md, "What a paced commit
// writes, page by page"). Most of those rows change once more, when the
// first attempt succeeds a few milliseconds later, and then never again.
//
// So a message whose deliveries are all handed over to the dispatcher as it
// is made (the common path) is written, in its commit, to message_log and
// delivery_log (migration 0021): tables with no secondary index, where a
// row costs the page at the end of each. Its deliveries' first results are
// written into the logged rows. The writer then moves the logged rows into
// messages and deliveries, as they are by then, many in one transaction:
// every keptMoveEvery, once keptMoveAt deliveries are kept, and before any
// write or read that could see a kept row (the rule below). Every commit
// is as durable as before: the log is in the same file, committed with
// the same sync, and Open moves whatever a stopped process left there
// before anything else runs.
//
// The rule that keeps every answer exactly what it was: nothing but the
// writes that keep rows ever sees the log. A read of messages, deliveries
// or attempts runs in a snapshot whose log holds none of its application's
// rows: its own, if that is so, or else one the writer begins right after
// it has moved the kept rows (readSettled); a write of them (a claim, a lease's renewal or release, a
// resend, a delete, retention, every plain write) has them moved before its
// group begins, and keeps nothing in that group. What may keep rows is a
// new message (MessageCreate, MessageCreateTo) without an event id, whose
// deliveries are all handed over, and a kept delivery's final result with
// its first attempt; a result that is not final (a retry, which must be
// claimable) has the rows moved first. One read does not ask, NextDue: a
// kept delivery is leased for far longer than it is kept, and so is never
// due while kept. Nor do the writes that touch no row that could be kept
// (rowsUntouched): idempotency records, operational events, and the
// endpoints' health reports, which pause only unleased deliveries (see
// EndpointHealthRecord).

const (
	// keptMoveEvery bounds how long a row stays in the log. A move writes
	// what the commits it spares would have, in fewer pages, and holds the
	// writer while it runs: at 1 000 messages a second, a bound of this
	// design moving every 250 ms measured a p99 of 12–13 ms, against
	// 19–21 ms moving once a second (docs/benchmarks.md).
	keptMoveEvery = 250 * time.Millisecond
	// keptMoveAt bounds the rows kept at once, and so how long a move
	// holds the writer (and the answers waiting behind it) under a load
	// that keeps more than that in keptMoveEvery.
	keptMoveAt = 512
)

// The log's statements. Each is the statement that writes the same row
// into messages or deliveries, pointed at the log, so that the two cannot
// drift apart (keptSQL panics at start if one no longer has the shape it
// rewrites).
var (
	logMessage  = keptSQL(insertMessage, "INSERT INTO messages ", "INSERT INTO message_log ")
	logDelivery = keptSQL(insertDelivery, "INSERT INTO deliveries ", "INSERT INTO delivery_log ")
	// logFirstAttempt is finishFirstAttempt on a logged delivery, found
	// by its seq (?11) rather than its id: the log has no index on id.
	logFirstAttempt = keptSQL(keptSQL(finishFirstAttempt, "UPDATE deliveries", "UPDATE delivery_log"),
		"WHERE id = ?11", "WHERE seq = ?11")
)

// messageTaken finds whether a message id is in messages or in the log
// (which has no index, but is read only for an id that is not new: see
// keptRows.msgHigh).
const messageTaken = `SELECT EXISTS (SELECT 1 FROM messages WHERE id = ?1) OR EXISTS (SELECT 1 FROM message_log WHERE id = ?1)`

// The columns a move copies: every column of message_log and
// delivery_log but seq, which are those of messages and deliveries a new
// message and its first result set (TestKeptColumns).
const (
	messageLogColumns  = `id, app_id, event_id, event_type, payload, channels, created_at, trace_parent, deliver_at`
	deliveryLogColumns = `id, app_id, msg_id, endpoint_id, status, trigger, attempts, next_attempt_at, lease_owner, lease_until,
		created_at, updated_at, first_attempt_id, first_attempt_url, first_attempt_status, first_attempt_status_code,
		first_attempt_response, first_attempt_duration_ms, first_attempt_at`
)

// keptMove moves the logged rows into messages and deliveries, in the
// order they were logged, and empties the log.
var keptMove = [...]string{
	`INSERT INTO messages (` + messageLogColumns + `) SELECT ` + messageLogColumns + ` FROM message_log`,
	`INSERT INTO deliveries (` + deliveryLogColumns + `) SELECT ` + deliveryLogColumns + ` FROM delivery_log ORDER BY seq`,
	`DELETE FROM message_log`,
	`DELETE FROM delivery_log`,
}

func keptSQL(query, old, new string) string {
	if !strings.Contains(query, old) {
		panic(fmt.Sprintf("sqlite: the log's statement: %q is not in %q", old, query))
	}
	return strings.Replace(query, old, new, 1)
}

// errMessageIDTaken is the error of a kept message whose id is in
// messages: the same conflict its insert there would have met.
var errMessageIDTaken = errors.New("message id taken")

// keptRows are the deliveries kept in delivery_log, by id, with their rows'
// seq: what a result needs to find its delivery there. Only the writer
// goroutine uses seqs; n, the number kept, is read by any goroutine.
type keptRows struct {
	seqs map[string]int64
	n    atomic.Int64
	// msgHigh is at least the greatest message id written since Open or
	// found at Open. The ids this process makes increase, so a new
	// message's id is above it, and cannot be in messages or the log;
	// only an id at or below it (one a caller chose) is looked up
	// (messageTaken) before its message is logged, or written into
	// messages while the log may hold it. A write that is rolled back
	// may leave it higher than it need be, which costs a look-up only.
	msgHigh string
}

// noteMessage checks, in a group that may keep rows, that the id of a
// message about to be written is in neither messages nor the log, and
// raises msgHigh to it. Without the check a message written into messages
// could take the id of one in the log, and the move would then fail.
func (f *fanOut) noteMessage(ctx context.Context, id string) error {
	k := f.tx.kept
	if f.tx.keep && id <= k.msgHigh {
		var taken bool
		if err := f.tx.Stmt(ctx, stmtMessageTaken).QueryRowContext(ctx, id).Scan(&taken); err != nil {
			return fmt.Errorf("look up message id: %w", err)
		}
		if taken {
			return errMessageIDTaken
		}
	}
	k.msgHigh = max(k.msgHigh, id)
	return nil
}

// keptDelivery is a delivery logged by a group not yet committed.
type keptDelivery struct {
	id  string
	seq int64
}

// add records the deliveries a committed group logged.
func (k *keptRows) add(ds []keptDelivery) {
	if len(ds) == 0 {
		return
	}
	for _, d := range ds {
		k.seqs[d.id] = d.seq
	}
	k.n.Store(int64(len(k.seqs)))
}

// full says whether so many rows are kept that the writer should move them
// at once rather than wait for the mover (startMover).
func (k *keptRows) full() bool { return len(k.seqs) >= keptMoveAt }

// move moves every kept row into messages and deliveries in one
// transaction. If it fails the rows stay kept, in the log and here, for the
// next move.
func (w *writer) move() error {
	if len(w.kept.seqs) == 0 {
		return nil
	}
	w.stats.writes.Add(1)
	moveErr, syncErr := moveKept(context.Background(), w.db, &w.stats)
	if syncErr != nil {
		w.unsynced = true // nothing else is written until it syncs again (synced)
	}
	if moveErr != nil {
		w.stats.keptMoveFailures.Add(1)
		return fmt.Errorf("move the rows kept behind the log: %w", errors.Join(moveErr, syncErr))
	}
	// Moved, even if the connection does not sync again yet: the rows
	// are no longer in the log.
	w.stats.keptMoved.Add(uint64(len(w.kept.seqs)))
	w.stats.keptMoves.Add(1)
	clear(w.kept.seqs)
	w.kept.n.Store(0)
	return syncErr
}

// moveKept moves every row in the log into the tables, in a transaction of
// its own on db, counted in stats unless nil: the writer's move, and Open's
// of what a process that stopped left there, before the writer starts.
//
// Its commit is not synced (synchronous=NORMAL, for its transaction only).
// A move changes where rows are, not what is stored: every row it writes is
// already durable in the log. A power loss before the next synced commit
// loses the move alone, in one piece, and Open moves the rows again; any
// later commit syncs the write-ahead log, which is written in order, and so
// the move's pages with its own. This spares the move an fsync, which the
// writer, and the read that asked for the move, would wait for.
//
// moveErr is the move's own error (the rows stay in the log); syncErr,
// that of setting the connection to sync its commits again afterwards,
// whether the move committed or not.
func moveKept(ctx context.Context, db *sql.DB, stats *writerStats) (moveErr, syncErr error) {
	if _, err := db.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return fmt.Errorf("set the move's commit unsynced: %w", err), nil
	}
	moveErr = runTx(ctx, db, stats, func(tx *sql.Tx) error {
		for _, q := range keptMove {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	return moveErr, syncCommits(ctx, db)
}

// syncCommits sets db's connection to sync every commit again, as
// writerParams opened it (synchronous=FULL).
func syncCommits(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return fmt.Errorf("commits are not synced: %w", err)
	}
	return nil
}

// keptFor says whether the log holds a row of application ?1, or of any
// application if ?1 is "". A kept message always has a kept delivery of its
// application, so delivery_log alone answers. It has no index, but it
// holds a few hundred rows at most (keptMoveAt, keptMoveEvery).
const keptFor = `SELECT EXISTS (SELECT 1 FROM delivery_log WHERE ?1 = '' OR app_id = ?1)`

// readSettled runs fn in a read transaction whose snapshot holds, in
// messages and deliveries, every row of application appID ("" for every
// application) committed before the snapshot began: a read that could see
// a kept row runs in it.
//
// It first looks in a snapshot of its own: if the log holds none of the
// application's rows there, fn runs in that snapshot, having cost one
// look at the log. Otherwise the writer moves the kept rows and then
// begins the snapshot of a new transaction itself, before it commits
// anything else (writer.runSolo): a snapshot begun by the reader once the
// move was answered could hold a row committed after it, and miss a kept
// row committed before that one.
func (s *Store) readSettled(ctx context.Context, appID string, fn func(tx *sql.Tx) error) error {
	var kept bool
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, keptFor, appID).Scan(&kept); err != nil {
			return fmt.Errorf("look for kept rows: %w", err)
		}
		if kept {
			return nil
		}
		return fn(tx)
	})
	if err != nil || !kept {
		return err
	}
	return s.read(ctx, func(tx *sql.Tx) error {
		if err := markErr(s.wr.settle(ctx, tx)); err != nil {
			return err
		}
		return fn(tx)
	})
}

// logMessage writes msg's row (msgRow, insertMessage's arguments) and its
// deliveries' rows (insertDelivery's, deliveryArgs each) into the log, and
// notes the deliveries in tx.logged with their seq.
func (f *fanOut) logMessage(ctx context.Context, msgRow []any, deliveries []any) error {
	if _, err := f.tx.Stmt(ctx, stmtLogMessage).ExecContext(ctx, msgRow...); err != nil {
		return fmt.Errorf("log message: %w", err)
	}
	for ; len(deliveries) > 0; deliveries = deliveries[deliveryArgs:] {
		d := deliveries[:deliveryArgs]
		res, err := f.tx.Stmt(ctx, stmtLogDelivery).ExecContext(ctx, d...)
		if err != nil {
			return fmt.Errorf("log delivery: %w", err)
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("log delivery: %w", err)
		}
		f.tx.logged = append(f.tx.logged, keptDelivery{id: d[0].(string), seq: seq})
	}
	return nil
}

// startMover starts the goroutine that has the writer move the kept rows
// every keptMoveEvery, whatever else asks for them, and returns what stops
// it.
func (s *Store) startMover() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(keptMoveEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if s.wr.kept.n.Load() > 0 {
				// A failure is counted (WriterStats), and met again
				// by the next write or read that needs the rows.
				_ = s.wr.settle(ctx, nil)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}
