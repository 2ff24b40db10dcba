package storekit

import (
	"context"
	"sync"
	"testing"
	"time"
)

type testReq struct{ Waiter[int] }

// submitN submits n requests from their own goroutines and returns a
// function that waits for their answers.
func submitN(t *testing.T, q *GroupQueue[int, *testReq], n int) (wait func()) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := q.Submit(context.Background(), &testReq{}); err != nil {
				t.Errorf("submit: %v", err)
			}
		})
	}
	return wg.Wait
}

// answerAll answers every request of a group.
func answerAll(group []*testReq) {
	for _, r := range group {
		if r.Take() {
			r.Answer(len(group), nil)
		}
	}
}

// waitQueued waits until n requests are queued.
func waitQueued(t *testing.T, q *GroupQueue[int, *testReq], n int) {
	t.Helper()
	for q.Len() < n {
		time.Sleep(time.Millisecond)
	}
}

// An hour's gathering wait ends as soon as the queue holds enough
// requests, and the group then holds all of them.
func TestTakeGathersUntilEnough(t *testing.T) {
	q := NewGroupQueue[int, *testReq]()
	const enough = 5
	asked := make(chan int, 100)
	gather := func(pending []*testReq) (time.Duration, int) {
		asked <- len(pending)
		return time.Hour, enough
	}
	done := submitN(t, q, 1)
	waitQueued(t, q, 1)
	taken := make(chan []*testReq)
	go func() {
		group, ok := q.Take(nil, 0, gather)
		if !ok {
			t.Error("Take: queue reported closed")
		}
		taken <- group
	}()
	<-asked // Take is gathering with one request queued
	more := submitN(t, q, enough-1)
	var group []*testReq
	select {
	case group = <-taken:
	case <-time.After(10 * time.Second):
		t.Fatal("Take waited out the hour with enough requests queued")
	}
	if len(group) != enough {
		t.Fatalf("group of %d, want %d", len(group), enough)
	}
	answerAll(group)
	done()
	more()
}

// A gathering wait that no number of requests ends (enough 0) lasts its
// time, and the group holds what arrived meanwhile.
func TestTakeGatherWaitEnds(t *testing.T) {
	q := NewGroupQueue[int, *testReq]()
	done := submitN(t, q, 3)
	waitQueued(t, q, 3)
	first := true
	gather := func([]*testReq) (time.Duration, int) {
		if first {
			first = false
			return 20 * time.Millisecond, 0
		}
		return 0, 0
	}
	group, ok := q.Take(nil, 0, gather)
	if !ok || len(group) != 3 {
		t.Fatalf("Take: %d requests, ok %v; want 3, true", len(group), ok)
	}
	answerAll(group)
	done()
}

// Close ends a gathering wait: the runner takes what is queued and the
// queue drains rather than waiting out the hour.
func TestCloseEndsGathering(t *testing.T) {
	q := NewGroupQueue[int, *testReq]()
	asked := make(chan struct{}, 100)
	gather := func([]*testReq) (time.Duration, int) {
		asked <- struct{}{}
		return time.Hour, 100
	}
	done := submitN(t, q, 2)
	waitQueued(t, q, 2)
	go func() {
		defer q.Exit()
		for {
			group, ok := q.Take(nil, 0, gather)
			if !ok {
				return
			}
			answerAll(group)
		}
	}()
	<-asked
	closed := make(chan struct{})
	go func() { q.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited out the gathering wait")
	}
	done()
}

// Gather waits out the window after a group of several, or when several
// are queued; never for a lone caller (a group of one and one queued),
// nor once the window since the last group is over.
func TestGatherWaits(t *testing.T) {
	var g Gather
	if wait, _ := g.Wait(3); wait != 0 {
		t.Errorf("no group yet: waits %v", wait)
	}
	g.Began(1)
	if wait, _ := g.Wait(1); wait != 0 {
		t.Errorf("a lone caller waits %v", wait)
	}
	// Within the window, which a stalled test could outlast: a few tries.
	for _, tc := range []struct{ last, pending int }{{5, 1}, {1, 2}} {
		waited := false
		for range 3 {
			g.Began(tc.last)
			wait, enough := g.Wait(tc.pending)
			if wait > GatherWindow || (wait > 0 && enough != GatherEnough) {
				t.Fatalf("last group %d, %d queued: waits %v for %d", tc.last, tc.pending, wait, enough)
			}
			if waited = wait > 0; waited {
				break
			}
		}
		if !waited {
			t.Errorf("last group %d, %d queued: no wait", tc.last, tc.pending)
		}
	}
	g.last = time.Now().Add(-GatherWindow)
	if wait, _ := g.Wait(3); wait != 0 {
		t.Errorf("window over: waits %v", wait)
	}
}
