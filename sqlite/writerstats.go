package sqlite

import (
	"database/sql"
	"slices"
	"sort"
	"sync/atomic"
	"time"
)

// commitBuckets are the upper bounds, in seconds, of the commit-duration
// histogram (WriterStats): from a commit whose sync a fast disk, or its
// cache, answers in a fraction of a millisecond to one a stalled disk
// holds up for seconds. Every write's caller waits for a commit, so a
// commit's time is part of every answer that writes: a producer's 202 and
// a delivery's recorded result.
var commitBuckets = [...]float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// writerStats are the writer's running figures. Only the writer goroutine
// adds to them; WriterStats reads them at any time.
type writerStats struct {
	// commits counts commits by the first bucket whose bound their time
	// is within; the last counts those beyond every bound.
	commits     [len(commitBuckets) + 1]atomic.Uint64
	commitNanos atomic.Int64
	busyNanos   atomic.Int64
	writes      atomic.Uint64
	// The moves of the rows kept behind the log (kept.go): those that
	// committed, the deliveries they moved, and those that failed.
	keptMoves, keptMoved, keptMoveFailures atomic.Uint64
}

// commit commits tx and counts how long the commit took (unless s is nil).
func (s *writerStats) commit(tx *sql.Tx) error {
	if s == nil {
		return tx.Commit()
	}
	start := time.Now()
	err := tx.Commit()
	d := time.Since(start)
	s.commitNanos.Add(int64(d))
	// The first bound at or above d; len(commitBuckets) if none is.
	s.commits[sort.SearchFloat64s(commitBuckets[:], d.Seconds())].Add(1)
	return err
}

// WriterStats are the figures of the store's writer, the one connection
// every write goes through, since Open: what an operator reads to tell a
// slow disk (commits that take long) from a writer with too much to do
// (busy most of the time) when answers slow down.
type WriterStats struct {
	// CommitBuckets are the upper bounds, in seconds, of CommitCounts:
	// CommitCounts[i] commits took at most CommitBuckets[i] (cumulative).
	CommitBuckets []float64
	CommitCounts  []uint64
	// Commits counts every commit, those beyond the last bound too, and
	// CommitSeconds is their total time. A commit writes the transaction's
	// pages to the write-ahead log and syncs it; now and then it also
	// copies the log into the database file (SQLite's checkpoint). The
	// time is wall time: on cores busy with other work it includes
	// waiting for one.
	Commits       uint64
	CommitSeconds float64
	// BusySeconds is the writer's time spent running writes, commits
	// included: its rate is the share of the time the writer was busy.
	BusySeconds float64
	// Writes counts the writes run (a message's fan-out, a batch of
	// results, a claim, an endpoint's update, a move of the rows kept
	// behind the log, …). Grouped writes share a commit, so Writes over
	// Commits is the mean group's size.
	Writes uint64
	// KeptMoves counts the moves of the rows kept behind the log into
	// the tables, KeptMoved the deliveries they moved, and
	// KeptMoveFailures the moves that failed (their rows stay kept, for
	// the next move): see "Rows written behind a log" in kept.go.
	KeptMoves, KeptMoved, KeptMoveFailures uint64
}

// WriterStats returns the writer's figures since Open.
func (s *Store) WriterStats() WriterStats {
	st := &s.wr.stats
	ws := WriterStats{
		CommitBuckets: slices.Clone(commitBuckets[:]),
		CommitCounts:  make([]uint64, len(commitBuckets)),
		BusySeconds:   time.Duration(st.busyNanos.Load()).Seconds(),
		Writes:        st.writes.Load(),

		KeptMoves:        st.keptMoves.Load(),
		KeptMoved:        st.keptMoved.Load(),
		KeptMoveFailures: st.keptMoveFailures.Load(),
	}
	for i := range st.commits {
		ws.Commits += st.commits[i].Load()
		if i < len(commitBuckets) {
			ws.CommitCounts[i] = ws.Commits
		}
	}
	ws.CommitSeconds = time.Duration(st.commitNanos.Load()).Seconds()
	return ws
}
