package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/storekit"
)

// Group commit. A message accepted on its own costs a read, a write
// statement and a commit (a WAL flush) of its own, and the database spends
// most of that on the statements, not on the rows: one message per request
// tops out at a fraction of what batch ingest reaches. So CreateMessage
// queues its message, and a runner goroutine of the store takes every
// message waiting when it is free and writes them together with one
// createMessages, as a batch: one read, one statement, one commit.
// Each caller is answered only after that statement has committed, so
// "accepted means durable" holds per message. A group is whatever queued
// while the previous one was written, and at a moderate rate whatever
// queued within storekit.GatherWindow of the previous group's start (or
// until storekit.GatherEnough are queued): at a paced 1,000 messages/s
// that wait took a third of the database's CPU per delivery off (700-714
// to 395-463 µs) and a sixth of the server's, at no cost under load. A
// lone producer's message, waiting for its answer before the next, is
// still written at once.
//
// One runner: groups written side by side are smaller, and were measured
// slower (with 64 producers on two cores, one runner reached 4,700-4,900
// messages/s, two 3,900, four 2,600). The price is paid by a few producers
// whose messages arrive out of step: two of them are served one after the
// other, each message a group of its own (measured: 850-860 messages/s
// instead of 970-1,070). A second runner that wrote a message waiting
// alone while the first was busy did not win that back, and cost a tenth
// under load.
//
// Isolation within a group. createMessages already answers per message
// what it can: a missing application, an event id repeated within the
// group or used before (the first message creates, later ones get the
// stored message). Anything else that fails its statement fails it for the
// whole group, writing nothing: a message id already taken, say. Only
// then, when the database refused the group, is each of its messages
// written again on its own, in queue order, so that the one that fails gets
// its error and the others commit, exactly as if each had been sent alone.
// A failure that may have come after the commit (a lost connection) is not
// run again, which could answer a message with a conflict with itself: its
// callers get the error, as a lone caller would.
//
// Cancellation. A caller whose context ends while its message is still
// queued gets the context's error and its message is never written. Once
// taken by the runner, the group runs to the end whatever its callers'
// contexts say, since the statement is theirs together; a caller that gave
// up waits for the outcome, bounded by the group's work.
//
// CreateMessageTo is not grouped: its statement does not arbitrate event
// ids (a taken one fails it), so it cannot share CreateMessage's, and it
// serves test events, not traffic.

// groupTimeout bounds the writing of one group, retries included.
const groupTimeout = 30 * time.Second

// createReq is one CreateMessage waiting for the runner; the answer its
// caller waits for is the message's result, or its group's error.
type createReq struct {
	msg *hookbridge.Message
	storekit.Waiter[hookbridge.CreateResult]
}

// ingestQueue is the queue of CreateMessage calls and the runner that
// writes them; see above.
type ingestQueue struct {
	s *Store
	*storekit.GroupQueue[hookbridge.CreateResult, *createReq]
}

// startIngest starts the runner of s's ingest queue.
func startIngest(s *Store) *ingestQueue {
	q := &ingestQueue{s: s, GroupQueue: storekit.NewGroupQueue[hookbridge.CreateResult, *createReq]()}
	go q.run()
	return q
}

// submit queues msg and returns its result once it has been written, or
// an error: its group's failure, the context's if it ended while msg was
// still queued, storekit.ErrClosed after Close.
func (q *ingestQueue) submit(ctx context.Context, msg *hookbridge.Message) (hookbridge.CreateResult, error) {
	return q.Submit(ctx, &createReq{msg: msg})
}

// run takes what is queued, writes it, and repeats until closed and
// drained.
func (q *ingestQueue) run() {
	defer q.Exit()
	var (
		group []*createReq
		g     storekit.Gather
	)
	gather := func(pending []*createReq) (time.Duration, int) { return g.Wait(len(pending)) }
	for {
		var ok bool
		if group, ok = q.Take(group, storekit.MaxGroup, gather); !ok {
			return
		}
		g.Began(len(group))
		q.write(group)
		clear(group) // let the requests go
	}
}

// write writes the messages of reqs that their callers still wait for as
// one batch and answers each; if the database refuses the batch, it writes
// them again one by one (see "Isolation within a group").
func (q *ingestQueue) write(reqs []*createReq) {
	live := make([]*createReq, 0, len(reqs))
	msgs := make([]*hookbridge.Message, 0, len(reqs))
	for _, r := range reqs {
		if r.Take() {
			live = append(live, r)
			msgs = append(msgs, r.msg)
		}
	}
	if len(live) == 0 {
		return
	}
	// The group belongs to no caller: none of theirs cancels it. A
	// database that stops answering must not hold the runner, and every
	// caller queued behind it, for ever: the group gets groupTimeout.
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	results, err := q.s.createMessages(ctx, msgs, "")
	if err != nil && len(live) > 1 && refused(err) {
		for _, r := range live {
			results, err := q.s.createMessages(ctx, []*hookbridge.Message{r.msg}, "")
			r.answer(results, 0, err)
		}
		return
	}
	for i, r := range live {
		r.answer(results, i, err)
	}
}

// answer gives r its result, results[i], or err.
func (r *createReq) answer(results []hookbridge.CreateResult, i int, err error) {
	if err != nil {
		r.Answer(hookbridge.CreateResult{}, err)
		return
	}
	res := results[i]
	if res.Message != nil && res.Message != r.msg {
		// The stored message, which other callers of the group that
		// repeated its event id may get too: each gets a copy of its
		// own.
		m := *res.Message
		m.Payload, m.Channels = slices.Clone(m.Payload), slices.Clone(m.Channels)
		res.Message = &m
	}
	r.Answer(res, nil)
}

// refused reports whether err is the database refusing a statement of
// createMessages, which then wrote nothing (see createMessages).
func refused(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) || errors.Is(err, pgx.ErrTxCommitRollback) ||
		hookbridge.ErrorCode(err) == hookbridge.ECONFLICT
}
