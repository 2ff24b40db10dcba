package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
	"github.com/hookbridge/hookbridge/sealed"
)

// The writer: every write of the store is a request to one goroutine that
// owns the writer connection.
//
// Group commit. With synchronous=FULL each commit waits for an fsync of the
// WAL, and one message per transaction would cap ingest at one fsync per
// message. So the writer takes every request that is waiting when it is
// free and runs the hot-path writes among them — message fan-out, claims,
// attempt results, lease renewals and releases — in one transaction: one
// fsync for all of them. Each caller is still answered only after that
// commit, so "accepted means durable" holds per message. Requests queue in
// arrival order and a group is the requests at the head of the queue, so
// no kind of write can starve another.
//
// Isolation within a group. A write that fails must leave nothing behind
// while the others of its group commit. SQLite's tool for that, a SAVEPOINT
// per write, copies every page a write first changes into a journal (a
// quarter of the cost of a fan-out), for the sake of failures that almost
// never happen. So a group first runs its writes one after the other in
// the bare transaction; only if one of them fails is the whole transaction
// rolled back and the group run again, each write inside its own
// savepoint: the one that fails is rolled back alone and its caller gets
// its error, while the others commit. Grouped writes are therefore written
// to run more than once, setting their results afresh each time. The
// writes of a group see each other's effects in order, exactly as if they
// had been separate transactions one after the other; a second message
// with the eventId of one earlier in the same group therefore finds it and
// is answered with it.
//
// Cancellation. A caller whose context ends while its request is still
// queued gets the context's error and its write is never run. Once a
// grouped write runs, it runs to the end with its context's values but not
// its cancellation: SQLite rolls back the whole transaction when a write
// statement is interrupted, which would undo the other writes of the group.
// Its caller then waits for the commit, which is bounded by the group's
// work.
//
// Other writes (creating an application, updating an endpoint, migrations,
// retention, …) keep the plain form: one transaction of their own, run by
// the same goroutine in queue order, with the caller's context.

// writeReq is one write waiting for the writer. At most one of solo and
// grouped is set; with neither, it asks the writer to move the rows kept
// behind the log (settle), and to begin snapshot's snapshot then if it is
// set. Its caller waits for its error.
type writeReq struct {
	ctx      context.Context
	solo     func(tx *sql.Tx) error
	grouped  func(ctx context.Context, tx *writeTx) error
	snapshot *sql.Tx
	// rows is how a grouped write stands to the rows kept behind the log
	// (kept.go); for rowsMayKeep, wholeIf (if set) says when it needs
	// them moved first after all.
	rows    rowUse
	wholeIf func(k *keptRows) bool
	storekit.Waiter[struct{}]
}

// settles says whether r only asks for the kept rows to be moved.
func (r *writeReq) settles() bool { return r.solo == nil && r.grouped == nil }

// rowUse is how a grouped write stands to the rows kept behind the log.
type rowUse uint8

const (
	// rowsWhole: it reads or changes messages or deliveries, so the kept
	// rows are moved before its group, and its group keeps none. The
	// default, and the only safe one for a write not known to be another.
	rowsWhole rowUse = iota
	// rowsMayKeep: it may keep rows (a new message, a first result).
	rowsMayKeep
	// rowsUntouched: it neither reads nor changes a row that could be kept.
	rowsUntouched
)

// needsWhole says whether r needs the kept rows moved before it runs.
func (r *writeReq) needsWhole(k *keptRows) bool {
	switch r.rows {
	case rowsMayKeep:
		return r.wholeIf != nil && r.wholeIf(k)
	case rowsUntouched:
		return false
	}
	return true
}

// writer runs the store's writes on its goroutine; see above.
type writer struct {
	db    *sql.DB
	stmts *statements
	keys  *sealed.Keyring // the store's, for the endpoints fan-outs read
	queue *storekit.GroupQueue[struct{}, *writeReq]

	mu      sync.Mutex
	handoff hookbridge.Handoff // nil: nothing is handed over

	// subs is what fan-outs read about applications and their endpoints,
	// by app id, kept across transactions: at low rates every message is a
	// transaction of its own, and reading an application's endpoints cost
	// more than writing the message. Only the writer goroutine uses it.
	// Endpoints and applications change only in writes this goroutine runs:
	// plain writes, after which it is emptied, and RecordEndpointHealth,
	// which empties it; and it is emptied whenever a transaction or a
	// savepoint is rolled back, so it never holds what did not commit.
	subs map[string]subscriptions

	// handed is the last group's writeTx.handed, emptied, for the next
	// group to fill again rather than grow a new one from nothing.
	handed []hookbridge.Claim

	// kept are the deliveries kept behind the log (kept.go).
	kept keptRows
	// unsynced is set when a move could not set the connection to sync
	// its commits again (moveKept): nothing else is written until it is.
	unsynced bool

	stats writerStats // see Store.WriterStats

	// closeErr is the error of the last move, at close: set by the
	// goroutine before it exits.
	closeErr error
}

// maxKeptHanded bounds the claims handed whose room the writer keeps
// between groups (about 700 bytes each): a large batch's is let go.
const maxKeptHanded = 1024

// newTx starts the writeTx of a group, keeping rows behind the log if
// keep; done gives its room back.
func (w *writer) newTx(handoff hookbridge.Handoff, keep bool) *writeTx {
	return &writeTx{stmts: w.stmts, keys: w.keys, handoff: handoff, subs: w.subs, handed: w.handed[:0],
		keep: keep, kept: &w.kept}
}

// committed records what tx's group did once it has committed: the
// deliveries it kept behind the log. It gives the group's deliveries to
// the handoff after that, so that a result can never come before its
// delivery is known to be kept.
func (w *writer) committed(tx *writeTx) {
	w.kept.add(tx.logged)
	tx.handOver()
}

// done keeps tx's handed room for the next group, emptied so that it
// holds no payload, unless it grew beyond maxKeptHanded. Past its length
// the room is empty already: cancelHandoff clears what it drops.
func (w *writer) done(tx *writeTx) {
	clear(tx.handed)
	if cap(tx.handed) > maxKeptHanded {
		w.handed = nil
		return
	}
	w.handed = tx.handed[:0]
}

// startWriter starts the writer goroutine on db, whose only connection it
// then uses for every write; msgHigh is the greatest message id stored
// (see keptRows.msgHigh).
func startWriter(db *sql.DB, stmts *statements, keys *sealed.Keyring, msgHigh string) *writer {
	w := &writer{db: db, stmts: stmts, keys: keys, queue: storekit.NewGroupQueue[struct{}, *writeReq](),
		subs: make(map[string]subscriptions), kept: keptRows{seqs: make(map[string]int64), msgHigh: msgHigh}}
	go w.loop()
	return w
}

// close runs every write queued so far, refuses later ones, moves the rows
// kept behind the log, and returns once the goroutine has exited; closeErr
// is then the move's error.
func (w *writer) close() { w.queue.Close() }

// write runs fn in a transaction of its own and returns when it has
// committed or failed.
func (w *writer) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	_, err := w.queue.Submit(ctx, &writeReq{ctx: ctx, solo: fn})
	return err
}

// writeGrouped runs fn in a transaction it may share with other grouped
// writes, and returns once that transaction has committed (nil) or fn or
// the commit failed. fn must use the ctx it is given, never a context it
// captured, so that nothing cancels a statement of the shared transaction.
// fn may be run twice (the first transaction rolled back): it must set its
// results afresh on each run, not add to those of an earlier one. rows
// and wholeIf say how fn stands to the rows kept behind the log (see
// writeReq).
func (w *writer) writeGrouped(ctx context.Context, rows rowUse, wholeIf func(*keptRows) bool,
	fn func(ctx context.Context, tx *writeTx) error) error {
	_, err := w.queue.Submit(ctx, &writeReq{ctx: ctx, grouped: fn, rows: rows, wholeIf: wholeIf})
	return err
}

// settle moves the rows kept behind the log, and returns once they are in
// messages and deliveries (or the move failed). If snapshot is not nil, a
// read transaction on the read pool not yet begun on the database, the
// writer begins its snapshot once the rows are moved, before it commits
// anything else (see Store.readSettled).
func (w *writer) settle(ctx context.Context, snapshot *sql.Tx) error {
	_, err := w.queue.Submit(ctx, &writeReq{ctx: ctx, snapshot: snapshot})
	return err
}

// loop takes everything queued, runs it, and repeats until closed and
// drained.
func (w *writer) loop() {
	defer w.queue.Exit()
	var (
		batch []*writeReq
		ok    bool
		g     storekit.Gather // over the transactions of grouped writes
	)
	// gather is how long to wait before taking the queue (see
	// storekit.GatherWindow); a plain write first in the queue runs at
	// once.
	gather := func(pending []*writeReq) (time.Duration, int) {
		if pending[0].grouped == nil {
			return 0, 0
		}
		return g.Wait(len(pending))
	}
	for {
		if batch, ok = w.queue.Take(batch, 0, gather); !ok {
			// Not needed for durability (the next Open moves what is
			// kept), but it leaves the file as other tools expect it.
			w.closeErr = w.move()
			return
		}
		began := time.Now()
		w.mu.Lock()
		handoff := w.handoff
		w.mu.Unlock()

		// A read waiting for the kept rows (settle) goes ahead of the
		// writes taken with it, which it need not see: none of them
		// has been answered yet.
		for _, r := range batch {
			if r.settles() {
				w.runSolo(r)
			}
		}
		for rest := batch; len(rest) > 0; {
			if rest[0].settles() {
				rest = rest[1:]
				continue
			}
			if rest[0].grouped == nil {
				w.runSolo(rest[0])
				rest = rest[1:]
				continue
			}
			n := 1
			for n < len(rest) && n < storekit.MaxGroup && rest[n].grouped != nil {
				n++
			}
			g.Began(n)
			w.runGroup(rest[:n], handoff)
			rest = rest[n:]
		}
		if w.kept.full() {
			// A failure is counted, and met again by the next write
			// or read that needs the rows moved.
			_ = w.move()
		}
		w.stats.busyNanos.Add(int64(time.Since(began)))
		clear(batch) // let the requests go
	}
}

// runSolo runs a plain write in a transaction of its own, or the move a
// settle asks for; either way the kept rows are moved first.
func (w *writer) runSolo(r *writeReq) {
	if !r.Take() {
		return // its caller gave up
	}
	err := w.synced()
	if err == nil {
		err = w.move()
	}
	switch {
	case err != nil:
	case r.solo != nil:
		w.stats.writes.Add(1)
		err = runTx(r.ctx, w.db, &w.stats, r.solo)
		clear(w.subs) // it may have changed endpoints or applications
	case r.snapshot != nil:
		// A transaction's snapshot begins with its first read.
		var kept bool
		if err = r.snapshot.QueryRowContext(r.ctx, keptFor, "").Scan(&kept); err != nil {
			err = fmt.Errorf("begin a read: %w", err)
		}
	}
	r.Answer(struct{}{}, err)
}

// synced returns nil once the connection syncs its commits, as every write
// but a move needs (see moveKept): at once, unless a move could not set it
// to sync them again.
func (w *writer) synced() error {
	if !w.unsynced {
		return nil
	}
	if err := syncCommits(context.Background(), w.db); err != nil {
		return err
	}
	w.unsynced = false
	return nil
}

// runTx runs fn in a transaction on db and commits it if fn returns nil,
// counting the commit in stats unless it is nil. The transaction is BEGIN
// IMMEDIATE (see writerParams).
func runTx(ctx context.Context, db *sql.DB, stats *writerStats, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // the error that made us roll back is the one to report
		return err
	}
	if err := stats.commit(tx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// setHandoff makes the fan-out hand new deliveries to h (see
// hookbridge.Handoff) from the next group on.
func (w *writer) setHandoff(h hookbridge.Handoff) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.handoff = h
}

// runGroup runs the grouped writes reqs in one transaction, commits, and
// answers each: first all in the bare transaction, and if one of them fails,
// again with each in a savepoint (see "Isolation within a group"). Deliveries
// the group's writes reserved with handoff go to it after the commit, or
// back to it when their write, or the group, does not commit.
func (w *writer) runGroup(reqs []*writeReq, handoff hookbridge.Handoff) {
	live := reqs[:0:0]
	for _, r := range reqs {
		if r.Take() {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	if err := w.synced(); err != nil {
		for _, r := range live {
			r.Answer(struct{}{}, err)
		}
		return
	}
	w.stats.writes.Add(uint64(len(live)))
	keep := true
	for _, r := range live {
		if r.needsWhole(&w.kept) {
			keep = false
			break
		}
	}
	if !keep {
		if err := w.move(); err != nil {
			for _, r := range live {
				r.Answer(struct{}{}, err)
			}
			return
		}
	}
	if len(live) > 1 && w.runBare(live, handoff, keep) {
		return
	}
	errs := make([]error, len(live))
	tx := w.newTx(handoff, keep)
	defer w.done(tx)
	answer := func() {
		for i, r := range live {
			r.Answer(struct{}{}, errs[i])
		}
	}
	failAll := func(err error) {
		tx.cancelHandoff(0)
		clear(w.subs)
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		answer()
	}

	// The transaction belongs to the group, not to any caller: nothing
	// cancels it (see "Cancellation" above).
	sqlTx, err := w.db.BeginTx(context.Background(), nil)
	if err != nil {
		failAll(fmt.Errorf("begin: %w", err))
		return
	}
	tx.Tx = sqlTx
	savepoints := len(live) > 1
	for i, r := range live {
		ctx := context.WithoutCancel(r.ctx)
		if savepoints {
			if _, err := tx.Stmt(ctx, stmtSavepoint).ExecContext(ctx); err != nil {
				_ = sqlTx.Rollback()
				failAll(fmt.Errorf("savepoint: %w", err))
				return
			}
		}
		handed, missed, refused, logged := len(tx.handed), tx.missed, tx.refused, len(tx.logged)
		err := r.grouped(ctx, tx)
		if err == nil {
			if savepoints {
				if _, err := tx.Stmt(ctx, stmtReleaseSavepoint).ExecContext(ctx); err != nil {
					_ = sqlTx.Rollback()
					failAll(fmt.Errorf("release savepoint: %w", err))
					return
				}
			}
			continue
		}
		errs[i] = err
		if !savepoints {
			_ = sqlTx.Rollback()
			tx.cancelHandoff(0)
			clear(w.subs)
			answer()
			return
		}
		// Undo this write alone. If SQLite already rolled back the whole
		// transaction (an I/O error, a full disk), the savepoint is gone
		// and the group fails with it.
		_, rerr := tx.Stmt(ctx, stmtRollbackToSavepoint).ExecContext(ctx)
		if rerr == nil {
			_, rerr = tx.Stmt(ctx, stmtReleaseSavepoint).ExecContext(ctx)
		}
		if rerr != nil {
			_ = sqlTx.Rollback()
			failAll(fmt.Errorf("a write in the same transaction failed (%v), and rolling it back failed: %w", err, rerr))
			return
		}
		tx.cancelHandoff(handed)
		tx.missed, tx.refused = missed, refused
		tx.logged = tx.logged[:logged]
		// What the fan-out read may include what the undone write
		// changed.
		clear(w.subs)
	}
	if err := w.stats.commit(sqlTx); err != nil {
		failAll(fmt.Errorf("commit: %w", err))
		return
	}
	w.committed(tx)
	answer()
}

// runBare runs the writes of a group one after the other in one
// transaction without savepoints and commits it. If a write fails it rolls
// the transaction back and returns false without answering anyone, for the
// group to be run again with savepoints; otherwise it answers every caller
// (with the commit's error, if that failed) and returns true.
func (w *writer) runBare(live []*writeReq, handoff hookbridge.Handoff, keep bool) bool {
	answer := func(err error) {
		for _, r := range live {
			r.Answer(struct{}{}, err)
		}
	}
	tx := w.newTx(handoff, keep)
	defer w.done(tx)
	sqlTx, err := w.db.BeginTx(context.Background(), nil)
	if err != nil {
		answer(fmt.Errorf("begin: %w", err))
		return true
	}
	tx.Tx = sqlTx
	for _, r := range live {
		if err := r.grouped(context.WithoutCancel(r.ctx), tx); err != nil {
			_ = sqlTx.Rollback()
			tx.cancelHandoff(0)
			clear(w.subs)
			return false
		}
	}
	if err := w.stats.commit(sqlTx); err != nil {
		tx.cancelHandoff(0)
		clear(w.subs)
		answer(fmt.Errorf("commit: %w", err))
		return true
	}
	w.committed(tx)
	answer(nil)
	return true
}

// writeTx is the transaction of a group of writes. Stmt gives the store's
// prepared statements bound to it, so that a statement is parsed once per
// store rather than once per use; anything else runs through the embedded
// *sql.Tx.
type writeTx struct {
	*sql.Tx
	stmts *statements
	keys  *sealed.Keyring // the store's
	bound [numStmts]*sql.Stmt

	// fan is the fan-out state shared by the group's message writes; subs
	// is the writer's cache of what fan-outs read (see writer.subs).
	fan  *fanOut
	subs map[string]subscriptions

	// handoff, if set, takes the new deliveries it reserves (handed, in
	// creation order) after the commit; missed says some new deliveries
	// were not offered to it, refused that it refused some.
	handoff hookbridge.Handoff
	handed  []hookbridge.Claim
	missed  bool
	refused bool

	// keep lets the group's writes keep rows behind the log (kept.go);
	// logged are the deliveries they kept, for the writer's kept once
	// the group commits; kept are those committed before.
	keep   bool
	logged []keptDelivery
	kept   *keptRows
}

// handOver gives the committed deliveries reserved with the handoff to it,
// before the callers hear of the commit, so that the dispatcher has the
// deliveries of a message by the time its producer has the answer.
func (t *writeTx) handOver() {
	if t.handoff == nil {
		return
	}
	if len(t.handed) > 0 {
		t.handoff.Take(t.handed)
	}
	if t.missed {
		t.handoff.Wake()
	}
	if t.refused {
		t.handoff.Refused()
	}
}

// cancelHandoff gives back the reservations of handed[from:], whose writes
// did not commit.
func (t *writeTx) cancelHandoff(from int) {
	if t.handoff == nil || len(t.handed) <= from {
		return
	}
	ids := make([]string, 0, len(t.handed)-from)
	for _, c := range t.handed[from:] {
		ids = append(ids, c.Endpoint.ID)
	}
	t.handoff.Cancel(ids)
	clear(t.handed[from:])
	t.handed = t.handed[:from]
}

// Stmt returns prepared statement id bound to the transaction.
func (t *writeTx) Stmt(ctx context.Context, id stmtID) *sql.Stmt {
	if s := t.bound[id]; s != nil {
		return s
	}
	s := t.Tx.StmtContext(ctx, t.stmts.byID[id])
	t.bound[id] = s
	return s
}
