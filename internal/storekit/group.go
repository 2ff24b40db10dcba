package storekit

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// GroupQueue is the queue of a group commit (SQLite's writer, PostgreSQL's
// ingest): callers Submit requests and wait for their answers, and one
// runner goroutine, the driver's, Takes what is queued, writes it together
// in one transaction and Answers each request. What a request is, how a
// group is written and whether to gather before taking are the driver's;
// the queue is the part both share: arrival order, giving up on a request
// still queued, refusing requests after Close, and Close draining the
// queue.
//
// A caller whose context ends while its request is still queued gets the
// context's error and its request is never taken. Once the runner has
// taken it (Waiter.Take), the caller waits for its answer, which the
// runner then owes it.
type GroupQueue[T any, R Request[T]] struct {
	mu      sync.Mutex
	pending []R
	closing bool
	held    bool // tests: Take takes nothing until released (see Hold)
	// enough is, while Take gathers, the queue length at which Submit
	// wakes it before its wait is over; 0 otherwise, when every Submit
	// signals.
	enough int

	wake  chan struct{} // capacity 1: a pending signal covers every request queued before it
	timer *time.Timer   // Take's gathering wait; only the runner uses it
	done  chan struct{} // closed by the runner when it has exited (Exit)
}

// Request is what a GroupQueue queues: a pointer to a driver's request
// type that embeds a Waiter[T].
type Request[T any] interface{ waiter() *Waiter[T] }

// Waiter is the part of a queued request its caller waits on: its state
// (queued, taken by the runner, or abandoned by its caller) and its answer,
// a T or an error.
type Waiter[T any] struct {
	state atomic.Int32
	done  chan answer[T] // capacity 1: the runner never blocks on it
}

type answer[T any] struct {
	v   T
	err error
}

const (
	queued int32 = iota
	taken
	abandoned
)

func (w *Waiter[T]) waiter() *Waiter[T] { return w }

// Take marks the request taken by the runner, unless its caller gave up on
// it; it reports whether it did. A request taken must be answered.
func (w *Waiter[T]) Take() bool { return w.state.CompareAndSwap(queued, taken) }

// Answer gives the request's caller its answer: v, or err if not nil.
func (w *Waiter[T]) Answer(v T, err error) { w.done <- answer[T]{v, err} }

// MaxGroup bounds the writes of one group, so that a long queue is written
// in parts and the first callers are answered sooner.
const MaxGroup = 256

// ErrClosed answers the writes submitted after Close.
var ErrClosed = errors.New("store is closed")

// NewGroupQueue returns an empty queue.
func NewGroupQueue[T any, R Request[T]]() *GroupQueue[T, R] {
	q := &GroupQueue[T, R]{wake: make(chan struct{}, 1), done: make(chan struct{}),
		timer: time.NewTimer(0)}
	<-q.timer.C
	return q
}

// Submit queues r and returns its answer once the runner has given it, or
// the context's error if ctx ended while r was still queued, or ErrClosed
// after Close.
func (q *GroupQueue[T, R]) Submit(ctx context.Context, r R) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	w := r.waiter()
	w.done = make(chan answer[T], 1)
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		return zero, ErrClosed
	}
	q.pending = append(q.pending, r)
	// While Take gathers, only the request that makes the queue long
	// enough wakes it: one wake-up per group, not one per request.
	wake := q.enough == 0 || len(q.pending) == q.enough
	q.mu.Unlock()
	if wake {
		q.signal()
	}

	select {
	case a := <-w.done:
		return a.v, a.err
	case <-ctx.Done():
		if w.state.CompareAndSwap(queued, abandoned) {
			return zero, ctx.Err() // never taken
		}
		a := <-w.done // taken: its answer is on its way
		return a.v, a.err
	}
}

func (q *GroupQueue[T, R]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Take waits until something is queued and moves the queue's first max
// requests (every one if max is 0) into buf, which it empties first, and
// returns it; ok is false once the queue is closed and drained. Before
// taking, unless closing, it asks gather (if not nil) about the queue as
// it stands: a positive wait makes it wait that long, or until enough
// requests are queued, or Close, whichever comes first, and look again.
// A queue already holding enough is taken at once; enough ≤ 0 means no
// number of requests ends the wait. Only the runner calls Take.
func (q *GroupQueue[T, R]) Take(buf []R, max int, gather func(pending []R) (wait time.Duration, enough int)) (_ []R, ok bool) {
	q.mu.Lock()
	for {
		for (len(q.pending) == 0 || q.held) && !q.closing {
			q.mu.Unlock()
			<-q.wake
			q.mu.Lock()
		}
		if len(q.pending) == 0 { // closing, and nothing left
			q.mu.Unlock()
			return buf[:0], false
		}
		if gather == nil || q.closing {
			break
		}
		wait, enough := gather(q.pending)
		if enough <= 0 {
			enough = math.MaxInt // no early end
		}
		if wait <= 0 || len(q.pending) >= enough {
			break
		}
		// Submit signals again once the queue holds enough. A signal
		// waiting in q.wake is for a request already queued: drop it, or
		// it would end the wait at once.
		q.enough = enough
		select {
		case <-q.wake:
		default:
		}
		q.mu.Unlock()
		q.timer.Reset(wait)
		select {
		case <-q.timer.C:
		case <-q.wake:
			q.timer.Stop() // Go 1.23 timers: no stale tick after Stop
		}
		q.mu.Lock()
		q.enough = 0
	}
	n := len(q.pending)
	if max > 0 {
		n = min(n, max)
	}
	buf = append(buf[:0], q.pending[:n]...)
	rest := copy(q.pending, q.pending[n:])
	clear(q.pending[rest:]) // let the requests go
	q.pending = q.pending[:rest]
	q.mu.Unlock()
	return buf, true
}

// Exit is the runner's last call, once Take has reported the queue closed
// and drained: it lets Close return.
func (q *GroupQueue[T, R]) Exit() { close(q.done) }

// Close makes Submit refuse new requests, and returns once the runner has
// taken and answered every request queued so far and exited.
func (q *GroupQueue[T, R]) Close() {
	q.mu.Lock()
	q.closing = true
	q.mu.Unlock()
	q.signal()
	<-q.done
}

// Len is how many requests are queued, for tests.
func (q *GroupQueue[T, R]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Hold makes Take take nothing until release is called, so that the
// requests a test submits meanwhile queue up and are taken together.
func (q *GroupQueue[T, R]) Hold() (release func()) {
	q.mu.Lock()
	q.held = true
	q.mu.Unlock()
	return func() {
		q.mu.Lock()
		q.held = false
		q.mu.Unlock()
		q.signal()
	}
}

// Closing reports whether Close has been called, for tests.
func (q *GroupQueue[T, R]) Closing() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closing
}

// GatherWindow is the least time between the starts of two groups that a
// runner using Gather keeps, unless GatherEnough requests are queued
// first. At a steady, moderate rate (messages one at a time, each
// followed by its delivery's result) a runner would otherwise commit each
// request alone as it arrives, and a commit (SQLite's WAL frames written
// whole and the fsync; PostgreSQL's WAL flush and a statement's fixed
// cost) costs several times the request: waiting out the rest of the
// window lets the requests of a few milliseconds share one. Under load
// the queue reaches GatherEnough, or a group's work and its commit outlast
// the window, and the runner never waits. A request arriving after a
// quiet spell longer than the window runs at once, and so does one of a
// lone caller that waits for each answer before its next request (the
// last group held one request and one is queued): waiting would only
// delay it, there being nothing to gather. Callers still hear only after
// the commit, so accepted still means durable; the window adds at most its
// length to an answer.
const GatherWindow = 5 * time.Millisecond

// GatherEnough is the queue length that ends the gathering wait: a commit
// shared by this many requests costs each a few microseconds, and waiting
// for more would only idle the runner while its callers wait. Without it,
// callers that each wait for their answer before their next request (the
// API's producers) would be held to one group per window however many
// they are: on a machine where a group of 64 messages runs and commits in
// 2 ms, the runner would sit idle for the other 3.
const GatherEnough = 64

// Gather is a runner's gathering wait (GatherWindow): its Wait is what
// Take asks about the queue, and the runner calls Began as it starts
// writing each group. The zero value is ready; only the runner uses it.
type Gather struct {
	last     time.Time // when the last group began
	lastSize int       // and how many requests it held
}

// Wait returns how long Take is to wait before taking a queue of pending
// requests, and the queue length that ends the wait early.
func (g *Gather) Wait(pending int) (wait time.Duration, enough int) {
	if wait := GatherWindow - time.Since(g.last); wait > 0 && (g.lastSize > 1 || pending > 1) {
		return wait, GatherEnough
	}
	return 0, 0
}

// Began records that a group of n requests begins now.
func (g *Gather) Began(n int) { g.last, g.lastSize = time.Now(), n }
