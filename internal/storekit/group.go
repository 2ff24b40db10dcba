package storekit

import "sync/atomic"

// Queued is the state of a write queued for a group commit (SQLite's
// writer, PostgreSQL's ingest): while it waits, its caller may give up on
// it (its context ended) or the runner may take it into a group, but not
// both, so that a write is either never done or answered once done.
type Queued struct{ state atomic.Int32 }

const (
	queued int32 = iota
	taken
	abandoned
)

// Take marks the write taken by the runner, unless its caller gave up on
// it; it reports whether it did.
func (q *Queued) Take() bool { return q.state.CompareAndSwap(queued, taken) }

// Abandon marks the write given up by its caller, unless the runner took
// it; it reports whether it did (if not, the outcome is on its way).
func (q *Queued) Abandon() bool { return q.state.CompareAndSwap(queued, abandoned) }
