package dispatch_test

import (
	"context"
	"fmt"
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

// TestHandoffRefusedAreClaimed: with more new deliveries than the pipeline
// has room for, the handoff refuses the rest, and the claimer — told by
// the store that they were refused, with no poll to fall back on — sends
// them too.
func TestHandoffRefusedAreClaimed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, got := receiver(t, ok)
	e.endpoint(srv.URL)
	store := &claimCounter{Store: e.store}
	// Room for 4 + 16 - 8 = 12 handed over at a time.
	d, _ := e.start(dispatch.Config{Store: store, PollInterval: time.Hour, Workers: 4, BatchSize: 16})
	e.store.SetHandoff(d)
	waitFor(t, "the dispatcher's first claim", func() bool { return store.calls.Load() > 0 })

	const messages = 60
	msgs := make([]*hookbridge.Message, messages)
	for i := range msgs {
		msgs[i] = &hookbridge.Message{AppID: e.app.ID, EventType: "order.created",
			Payload: []byte(fmt.Sprintf(`{"n":%d}`, i)), CreatedAt: e.clock.Now()}
	}
	if _, err := e.store.CreateMessages(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	for range messages {
		receive(t, got)
	}
	if store.claimed.Load() == 0 {
		t.Error("nothing was claimed: the test did not make the handoff refuse")
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
