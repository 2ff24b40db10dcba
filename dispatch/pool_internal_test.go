package dispatch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// conn is what the pool tests pool: a connection that knows whether it
// was closed.
type conn struct {
	n      int
	closed atomic.Bool
	dead   atomic.Bool
}

// testPool is a pool whose dials are counted, fail while failing is set,
// and wait for release when it is not nil.
type testPool struct {
	*connPool[*conn]
	dials   atomic.Int64
	failing atomic.Bool
	release chan struct{}
	clock   time.Time
	mu      sync.Mutex
}

func newTestPool() *testPool {
	tp := &testPool{clock: time.Unix(1_700_000_000, 0)}
	tp.connPool = newPool(func(ctx context.Context, _ *hookbridge.EndpointURL) (*conn, error) {
		n := tp.dials.Add(1)
		if tp.release != nil {
			select {
			case <-tp.release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if tp.failing.Load() {
			return nil, errors.New("refused")
		}
		return &conn{n: int(n)}, nil
	}, func(c *conn) { c.closed.Store(true) }, func(c *conn) bool { return !c.dead.Load() })
	tp.now = func() time.Time { tp.mu.Lock(); defer tp.mu.Unlock(); return tp.clock }
	return tp
}

func (tp *testPool) advance(d time.Duration) {
	tp.mu.Lock()
	tp.clock = tp.clock.Add(d)
	tp.mu.Unlock()
}

func TestPoolDialsOncePerBroker(t *testing.T) {
	t.Parallel()
	tp := newTestPool()
	tp.release = make(chan struct{})
	var wg sync.WaitGroup
	got := make(chan *conn, 8)
	for range 8 {
		wg.Go(func() {
			c, done, err := tp.get(t.Context(), "k", nil)
			if err != nil {
				t.Error(err)
				return
			}
			got <- c
			done(false)
		})
	}
	// Every get is waiting on the one dial before it ends.
	deadline := time.Now().Add(10 * time.Second)
	for {
		tp.connPool.mu.Lock()
		e := tp.conns["k"]
		waiting := e != nil && e.users == 8
		tp.connPool.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the 8 gets did not all wait for the dial")
		}
		time.Sleep(time.Millisecond)
	}
	close(tp.release)
	wg.Wait()
	close(got)
	for c := range got {
		if c.n != 1 {
			t.Errorf("a get got connection %d, want the one dialled", c.n)
		}
	}
	if n := tp.dials.Load(); n != 1 {
		t.Errorf("%d dials for 8 concurrent gets of one broker, want 1", n)
	}
	if _, done, _ := tp.get(t.Context(), "other", nil); done != nil {
		done(false)
	}
	if n := tp.dials.Load(); n != 2 {
		t.Errorf("%d dials after a get of another broker, want 2", n)
	}
}

func TestPoolDropsFailuresAndDeadConnections(t *testing.T) {
	t.Parallel()
	tp := newTestPool()
	tp.failing.Store(true)
	if _, _, err := tp.get(t.Context(), "k", nil); err == nil {
		t.Fatal("a failed dial gave a connection")
	}
	tp.failing.Store(false)
	c1, done, err := tp.get(t.Context(), "k", nil)
	if err != nil {
		t.Fatalf("the dial after a failed one: %v (a failure must not be kept)", err)
	}
	done(false)

	// A dead connection is replaced, and closed.
	c1.dead.Store(true)
	c2, done, err := tp.get(t.Context(), "k", nil)
	if err != nil || c2 == c1 {
		t.Fatalf("get after the connection died: %v, same connection %v", err, c2 == c1)
	}
	done(false)
	if !c1.closed.Load() {
		t.Error("the dead connection was not closed")
	}

	// A connection given back broken is replaced; it is closed once its
	// last user is done.
	a, doneA, _ := tp.get(t.Context(), "k", nil)
	b, doneB, _ := tp.get(t.Context(), "k", nil)
	if a != c2 || b != c2 {
		t.Fatal("the pool did not share its connection")
	}
	doneA(true)
	if c2.closed.Load() {
		t.Error("a broken connection was closed while another try still used it")
	}
	c3, doneC, _ := tp.get(t.Context(), "k", nil)
	if c3 == c2 {
		t.Error("a broken connection was handed out again")
	}
	doneB(false)
	if !c2.closed.Load() {
		t.Error("a broken connection was not closed when its last user was done")
	}
	doneC(false)
}

func TestPoolClosesIdleAndAll(t *testing.T) {
	t.Parallel()
	tp := newTestPool()
	idle, done, _ := tp.get(t.Context(), "idle", nil)
	done(false)
	busy, doneBusy, _ := tp.get(t.Context(), "busy", nil)
	tp.advance(poolIdle + time.Second)
	other, doneOther, _ := tp.get(t.Context(), "other", nil) // sweeps
	tp.closing.Wait()
	if !idle.closed.Load() {
		t.Error("a connection idle for poolIdle was not closed")
	}
	if busy.closed.Load() {
		t.Error("a connection in use was closed as idle")
	}
	doneBusy(false)
	doneOther(false)
	tp.closeAll()
	if !busy.closed.Load() || !other.closed.Load() {
		t.Error("closeAll left a connection open")
	}
	if _, _, err := tp.get(t.Context(), "k", nil); !errors.Is(err, errStopped) {
		t.Errorf("get after closeAll: %v, want errStopped", err)
	}
}
