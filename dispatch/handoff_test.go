package dispatch_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/sqlite"
)

// claimCounter is the SQLite store, counting the deliveries its claims
// hand out and those given back unsent.
type claimCounter struct {
	*sqlite.Store
	calls, claimed, released atomic.Int64
}

func (c *claimCounter) ReleaseDeliveries(ctx context.Context, owner string, ids []string) error {
	c.released.Add(int64(len(ids)))
	return c.Store.ReleaseDeliveries(ctx, owner, ids)
}

func (c *claimCounter) ClaimDeliveriesSkipping(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip []string) ([]hookbridge.Claim, error) {
	claims, err := c.Store.ClaimDeliveriesSkipping(ctx, owner, now, lease, limit, skip)
	c.claimed.Add(int64(len(claims)))
	c.calls.Add(1)
	return claims, err
}

// TestHandoffSendsWithoutAClaim: with the store handing new deliveries to
// the dispatcher, a message is sent without a Wake and without being
// claimed (the poll interval is an hour), while a delivery to a
// rate-limited endpoint, which the handoff leaves to the claim, is claimed
// after the store's own wake-up. Results are recorded under the lease the
// fan-out wrote.
func TestHandoffSendsWithoutAClaim(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, got := receiver(t, ok)
	limitedSrv, limitedGot := receiver(t, ok)
	plain, _ := e.endpoint(srv.URL)
	limited, _ := e.endpoint(limitedSrv.URL, func(ep *hookbridge.Endpoint) { ep.RateLimit = ptr(1000) })
	store := &claimCounter{Store: e.store}
	// Room in the pipeline for every message: the handoff refuses what
	// would crowd out the claimer (then the claim sends it, as usual).
	d, _ := e.start(dispatch.Config{Store: store, PollInterval: time.Hour, BatchSize: 64})
	e.store.SetHandoff(d)
	// The claimer's first look at the store, at start, must be over
	// before the messages exist, or it could be the one sending them;
	// the handoff opens before it.
	waitFor(t, "the dispatcher's first claim", func() bool { return store.calls.Load() > 0 })

	const messages = 20
	for i := range messages {
		e.publish(fmt.Sprintf(`{"n":%d}`, i))
	}
	for range messages {
		receive(t, got)
		receive(t, limitedGot)
	}
	if n := store.claimed.Load(); n != messages {
		t.Errorf("%d deliveries claimed, want %d: those to the rate-limited endpoint, and none of the handed-over ones", n, messages)
	}
	for _, ep := range []*hookbridge.Endpoint{plain, limited} {
		waitFor(t, "every result recorded", func() bool {
			st, err := e.store.EndpointStats(context.Background(), e.app.ID, ep.ID, time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			return st.Success == messages
		})
	}
}

// TestHandoffRefusedAreClaimed: with more new deliveries to be sent at
// once than the pipeline has room for, the handoff refuses the rest, and
// the claimer — told by the store that they were refused, with no poll to
// fall back on — sends them too.
func TestHandoffRefusedAreClaimed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, got := receiver(t, ok)
	// Each message goes to every endpoint, none of which has its
	// concurrency cap of deliveries: every one is to be sent at once.
	const endpoints, messages = 20, 3
	for range endpoints {
		e.endpoint(srv.URL)
	}
	store := &claimCounter{Store: e.store}
	// Room for 4 + 16 - 8 = 12 handed over at a time.
	d, _ := e.start(dispatch.Config{Store: store, PollInterval: time.Hour, Workers: 4, BatchSize: 16})
	e.store.SetHandoff(d)
	waitFor(t, "the dispatcher's first claim", func() bool { return store.calls.Load() > 0 })

	e.publishBatch(messages)
	for range endpoints * messages {
		receive(t, got)
	}
	if store.claimed.Load() == 0 {
		t.Error("nothing was claimed: the test did not make the handoff refuse")
	}
}

// TestHandoffParksForBusyEndpoint: a burst to one endpoint that is
// answering, far beyond its concurrency cap, the pipeline's room and the
// claims' bounds, is handed over whole: what must wait for the endpoint
// waits in memory instead of being claimed back from the store. A burst to
// the endpoint once idle is handed over too. Either goes out in message
// order (one request at a time here), the first of an idle endpoint's
// burst first.
func TestHandoffParksForBusyEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	var held atomic.Bool
	srv, got := receiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 2 {
			held.Store(true)
			<-release // the endpoint is busy until the first burst is committed
		}
	})
	e.endpoint(srv.URL)
	store := &claimCounter{Store: e.store}
	// Room for 4 + 16 - 8 = 12 in the pipeline; one request at a time.
	d, _ := e.start(dispatch.Config{Store: store, PollInterval: time.Hour, Workers: 4, BatchSize: 16, EndpointConcurrency: 1})
	e.store.SetHandoff(d)
	waitFor(t, "the dispatcher's first claim", func() bool { return store.calls.Load() > 0 })

	// The first request is answered, the second held: the endpoint
	// answers, and is busy.
	e.publish(`{"first":1}`)
	e.publish(`{"first":2}`)
	waitFor(t, "the second request to be held", held.Load)
	const messages = 200 // the claims' bounds: 1 + 2×16 held
	e.publishBatch(messages)
	close(release)
	receive(t, got) // the first two messages
	receive(t, got)
	inOrder := func(n int) {
		t.Helper()
		for i := range n {
			if body, want := string(receive(t, got).body), fmt.Sprintf(`{"n":%d}`, i); body != want {
				t.Fatalf("request %d of the burst: %s, want %s", i, body, want)
			}
		}
	}
	inOrder(messages)
	e.publishBatch(30) // the endpoint is idle now
	inOrder(30)
	if n := store.claimed.Load(); n != 0 {
		t.Errorf("%d deliveries claimed, want every one handed over", n)
	}
}

// TestBusyEndpointIsNotChurned: a backlog for one fast endpoint, far more
// than its concurrency cap, is claimed in whole batches and sent without
// handing any delivery back to the store (which a dispatcher that held
// only a few claims per endpoint did with most of every batch).
func TestBusyEndpointIsNotChurned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, got := receiver(t, ok)
	e.endpoint(srv.URL)
	const messages = 300
	for i := range messages {
		e.publish(fmt.Sprintf(`{"n":%d}`, i))
	}
	store := &claimCounter{Store: e.store}
	e.start(dispatch.Config{Store: store, Workers: 8, BatchSize: 64, EndpointConcurrency: 2})
	for range messages {
		receive(t, got)
	}
	if n := store.released.Load(); n != 0 {
		t.Errorf("%d deliveries handed back unsent, want none", n)
	}
	if n := store.claimed.Load(); n != messages {
		t.Errorf("%d deliveries claimed, want each of the %d once", n, messages)
	}
}
