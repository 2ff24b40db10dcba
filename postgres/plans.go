package postgres

import (
	"strconv"
	"sync/atomic"
)

// Statements on the delivery tables are prepared once per connection (pgx's
// default), and PostgreSQL runs a prepared statement with a custom plan for
// its first five executions, then settles on a generic plan, costed with
// the tables as they are at that moment, and keeps it until the tables'
// statistics change. On a new database that moment comes when deliveries
// holds a few rows and has never been analyzed, so the generic plan of a
// statement that joins a batch of delivery ids to deliveries reads the
// whole table instead of looking the ids up by primary key, and keeps
// reading it whole as the table grows, until autovacuum first analyzes it
// (a minute at the least, autovacuum_naptime). Measured: recording a batch
// of 45 results took 10 ms after 30 000 deliveries, 220 µs per delivery,
// nearly all of it in that scan. The same holds for every statement that
// finds deliveries by id or by due time: the claim, the result, renewing
// and releasing leases, and the next due time; each is a replanned.
//
// Planning every execution instead avoids it, for about 0.35 ms per
// statement: more than recording a small batch costs with a good generic
// plan, which is what steady traffic sends. So the statements are prepared
// again as the store's traffic grows: each is sent under a new text (a
// comment at its end) every time the deliveries this process has written,
// claimed or finished grow fourfold, from 1 024 up to a million, and PostgreSQL
// plans the new statement with the tables as they are then. A connection
// prepares each statement at most planEpochs times in its life, and once
// traffic is past a million the texts stay put, by when autovacuum has
// long analyzed the tables and the plans follow their statistics.
const planEpochs = 7 // 0: below 1 024 deliveries; 6: from 1 024 × 4^5 ≈ 10^6 on

// planAges counts the deliveries this process has written, claimed or
// finished, which decides the statements' texts.
type planAges struct{ seen atomic.Int64 }

// add counts n more deliveries.
func (p *planAges) add(n int) { p.seen.Add(int64(n)) }

// epoch is the current text's index: 0 below 1 024 deliveries, then one
// more for every fourfold growth, at most planEpochs-1.
func (p *planAges) epoch() int {
	n, e := p.seen.Load()>>10, 0
	for n > 0 && e < planEpochs-1 {
		n >>= 2
		e++
	}
	return e
}

// replanned is one statement's texts, one per epoch.
type replanned [planEpochs]string

// replan returns q's texts: q itself for epoch 0, then q with a comment
// naming the epoch, which PostgreSQL ignores (and pg_stat_statements, which
// counts them as one statement).
func replan(q string) *replanned {
	var r replanned
	r[0] = q
	for e := 1; e < planEpochs; e++ {
		r[e] = q + "\n-- plan epoch " + strconv.Itoa(e)
	}
	return &r
}

// at returns the text to send now.
func (r *replanned) at(p *planAges) string { return r[p.epoch()] }
