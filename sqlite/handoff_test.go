package sqlite

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/storetest"
)

// leasedTo returns the ids of the deliveries leased to owner.
func leasedTo(t *testing.T, s *Store, owner string) []string {
	t.Helper()
	if err := s.wr.settle(t.Context(), nil); err != nil { // deliveries kept behind the log too
		t.Fatal(err)
	}
	rows, err := s.r.QueryContext(t.Context(), `SELECT id FROM deliveries WHERE lease_owner = ? ORDER BY id`, owner)
	ids, err := scanRows(rows, err, func(r rowScanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestHandoffFollowsCommits runs, in one group, messages that commit, a
// message whose write fails (so the group runs again with savepoints), and
// a batch that fails after reserving a delivery: every reservation is
// either taken or cancelled, exactly the committed deliveries are taken,
// each leased to the handoff's owner, with the claim the dispatcher needs.
func TestHandoffFollowsCommits(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app := newAppWithEndpoint(t, s)
	taken := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{}`)}
	if _, _, err := s.CreateMessage(t.Context(), taken); err != nil {
		t.Fatal(err)
	}
	h := &storetest.HandoffLog{}
	s.SetHandoff(h)

	release := blockWriter(t, s)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 3 {
		wg.Go(func() {
			msg := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{"ok":true}`)}
			if i == 1 {
				msg.ID = taken.ID // fails: the id is taken
			}
			_, _, errs[i] = s.CreateMessage(context.Background(), msg)
		})
	}
	wg.Go(func() {
		// The first message reserves its delivery; the second fails.
		_, errs[3] = s.CreateMessages(context.Background(), []*hookbridge.Message{
			{AppID: app.ID, EventType: "order.created", Payload: []byte(`{"batch":0}`)},
			{ID: taken.ID, AppID: app.ID, EventType: "order.created", Payload: []byte(`{"batch":1}`)},
		})
	})
	waitQueued(t, s, 4)
	release()
	wg.Wait()
	for i, err := range errs {
		if want := i == 1 || i == 3; (err != nil) != want {
			t.Errorf("write %d: error %v, want one: %v", i, err, want)
		}
	}

	h.Lock()
	defer h.Unlock()
	if h.Reserved != len(h.Taken)+h.Cancelled {
		t.Errorf("%d reserved, %d taken, %d cancelled: every reservation must end once", h.Reserved, len(h.Taken), h.Cancelled)
	}
	if h.Cancelled == 0 {
		t.Error("nothing cancelled: the failed writes' reservations were not given back")
	}
	var ids []string
	for _, c := range h.Taken {
		ids = append(ids, c.Delivery.ID)
		if c.Message.Payload == nil || c.Endpoint.URL == "" || c.LeaseUntil.IsZero() ||
			c.Delivery.MsgID != c.Message.ID || c.Delivery.EndpointID != c.Endpoint.ID {
			t.Errorf("claim %+v is not complete", c)
		}
	}
	slices.Sort(ids)
	if got := leasedTo(t, s, storetest.HandoffOwner); len(ids) != 2 || !slices.Equal(got, ids) {
		t.Errorf("taken %v, leased in the store %v; want the two committed deliveries in both", ids, got)
	}
	if h.Wakes != 0 {
		t.Errorf("%d wake-ups with every delivery handed over", h.Wakes)
	}
}

// TestHandoffRefusedWakes: deliveries the handoff refuses are written
// unleased, claimable, and the store tells the handoff it refused them.
func TestHandoffRefusedWakes(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	app := newAppWithEndpoint(t, s)
	h := &storetest.HandoffLog{Refuse: true}
	s.SetHandoff(h)
	if _, _, err := s.CreateMessage(t.Context(), &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	h.Lock()
	if h.Refusals != 1 || h.Wakes != 0 || len(h.Taken) != 0 {
		t.Errorf("%d refusals told, %d wake-ups, %d taken; want 1, 0 and 0", h.Refusals, h.Wakes, len(h.Taken))
	}
	h.Unlock()
	claims, err := s.ClaimDeliveries(t.Context(), "owner-2", time.Now(), time.Minute, 10)
	if err != nil || len(claims) != 1 {
		t.Errorf("claimed %d (%v), want the one refused delivery", len(claims), err)
	}
}

// TestFanOutSeesEndpointChanges: what the fan-out remembers of an
// application between transactions follows every change of its endpoints:
// a new endpoint gets the next message, a pause makes its deliveries wait
// for a claim, a disabled endpoint gets nothing.
func TestFanOutSeesEndpointChanges(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	app := newAppWithEndpoint(t, s)
	h := &storetest.HandoffLog{}
	s.SetHandoff(h)
	send := func() {
		t.Helper()
		if _, _, err := s.CreateMessage(ctx, &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string, taken, wakes int) {
		t.Helper()
		h.Lock()
		defer h.Unlock()
		if len(h.Taken) != taken || h.Wakes != wakes {
			t.Fatalf("%s: %d taken, %d wake-ups; want %d and %d", step, len(h.Taken), h.Wakes, taken, wakes)
		}
	}
	send()
	check("one endpoint", 1, 0)

	second := &hookbridge.Endpoint{AppID: app.ID, URL: "https://second.example/"}
	if err := s.CreateEndpoint(ctx, second); err != nil {
		t.Fatal(err)
	}
	send()
	check("a second endpoint created", 3, 0)

	if _, err := s.RecordEndpointHealth(ctx, []hookbridge.EndpointReport{
		{EndpointID: second.ID, At: time.Now(), PauseUntil: time.Now().Add(time.Hour)}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	send()
	check("the second paused", 4, 1)

	page, err := s.ListEndpoints(ctx, app.ID, hookbridge.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range page.Data {
		if ep.ID != second.ID {
			ep.Disabled = true
			if err := s.UpdateEndpoint(ctx, &ep); err != nil {
				t.Fatal(err)
			}
		}
	}
	send()
	check("the first disabled", 4, 2)
}
