// Package testkit holds the helpers the packages' tests share: a settable
// clock, so that nothing waits out real time, and a wait for a condition
// with a deadline, so that nothing sleeps in place of synchronisation.
// Only tests import it.
package testkit

import (
	"sync"
	"testing"
	"time"
)

// Clock is a clock a test moves. A Clock made by NewClock stands still at
// its start until Advance moves it; the zero Clock follows real time, moved
// forward by what Advance added, so that code on the real clock (a
// dispatcher's timers) and code on this one agree until the test jumps.
type Clock struct {
	mu     sync.Mutex
	start  time.Time // zero: follow real time
	offset time.Duration
}

// NewClock returns a Clock that stands at start.
func NewClock(start time.Time) *Clock { return &Clock{start: start} }

// NewClockNow returns a Clock that stands at the current time, in UTC and
// to the millisecond, as the stores keep times.
func NewClockNow() *Clock { return NewClock(time.Now().UTC().Truncate(time.Millisecond)) }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		return time.Now().Add(c.offset)
	}
	return c.start.Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// WaitTimeout is how long WaitFor waits before it fails the test.
const WaitTimeout = 10 * time.Second

// WaitFor polls cond until it holds, and fails the test, naming what it
// waited for, if it does not within WaitTimeout.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
