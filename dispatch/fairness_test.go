package dispatch_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
)

// nextEvent returns the oldest operational event of the dispatcher's
// recorded in the store and deletes it with those before it (the
// endpoint.created of the test's endpoints), as the relay does, failing the
// test if none comes.
func (e *env) nextEvent() hookbridge.OperationalEvent {
	e.t.Helper()
	ev, ok := hookbridge.OperationalEvent{}, false
	waitFor(e.t, "an operational event", func() bool {
		ev, ok = e.pendingEvent()
		return ok
	})
	return ev
}

// pendingEvent is nextEvent that does not wait.
func (e *env) pendingEvent() (hookbridge.OperationalEvent, bool) {
	e.t.Helper()
	ctx := context.Background()
	evs, err := e.store.OperationalEvents(ctx, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	var taken []string
	defer func() {
		if err := e.store.DeleteOperationalEvents(ctx, taken); err != nil {
			e.t.Fatal(err)
		}
	}()
	for _, ev := range evs {
		taken = append(taken, ev.ID)
		switch ev.Type {
		case hookbridge.EventEndpointCreated, hookbridge.EventEndpointUpdated, hookbridge.EventEndpointDeleted:
			continue
		}
		return ev, true
	}
	return hookbridge.OperationalEvent{}, false
}

// endpointState reads an endpoint back from the store.
func (e *env) endpointState(id string) *hookbridge.Endpoint {
	e.t.Helper()
	ep, err := e.store.GetEndpoint(context.Background(), e.app.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ep
}

// TestHangingEndpointDoesNotStarveOthers: one endpoint whose receiver does
// not answer, nine that do. The hanging one gets at most its concurrency
// cap of the workers, and the nine get every one of their deliveries
// through while it hangs, as they do without it. No timing is measured:
// the hanging receiver answers nothing until the healthy deliveries are all
// done, so without the cap they could not finish (its deliveries are due
// first and would fill every worker).
func TestHangingEndpointDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	const (
		workers     = 8
		perEndpoint = 3
		healthy     = 9
		perEach     = 20
		hangMsgs    = 40
	)
	run := func(t *testing.T, withHanging bool) {
		e := newEnv(t)
		var (
			mu           sync.Mutex
			inHang, most int
			release      = make(chan struct{})
			released     sync.Once
		)
		t.Cleanup(func() { released.Do(func() { close(release) }) })
		var hangID string
		if withHanging {
			hang, _ := receiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				mu.Lock()
				inHang++
				most = max(most, inHang)
				mu.Unlock()
				select {
				case <-release:
				case <-r.Context().Done():
				}
				mu.Lock()
				inHang--
				mu.Unlock()
			})
			ep, _ := e.endpoint(hang.URL, func(ep *hookbridge.Endpoint) { ep.EventTypes = []string{"order.stuck"} })
			hangID = ep.ID
			for i := range hangMsgs {
				e.publishType("order.stuck", fmt.Sprintf(`{"stuck":%d}`, i))
			}
		}
		var delivered atomic.Int64
		for range healthy {
			srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				delivered.Add(1)
				io.WriteString(w, "ok")
			})
			e.endpoint(srv.URL, func(ep *hookbridge.Endpoint) { ep.EventTypes = []string{"order.created"} })
		}
		for i := range perEach {
			e.publish(fmt.Sprintf(`{"n":%d}`, i))
		}
		e.start(dispatch.Config{Workers: workers, EndpointConcurrency: perEndpoint, RequestTimeout: time.Minute, Lease: 2 * time.Minute})

		waitFor(t, "every healthy delivery", func() bool { return delivered.Load() == healthy*perEach })
		if !withHanging {
			return
		}
		mu.Lock()
		held := most
		mu.Unlock()
		if held > perEndpoint {
			t.Errorf("the hanging endpoint held %d workers at once, want at most its cap of %d", held, perEndpoint)
		}
		if held == 0 {
			t.Error("the hanging endpoint got no request: the test proves nothing")
		}
		// Once it answers, its deliveries go through too: the ones given
		// back at the cap were not lost.
		released.Do(func() { close(release) })
		waitFor(t, "the hanging endpoint's deliveries", func() bool {
			st, err := e.store.EndpointStats(context.Background(), e.app.ID, hangID, time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			return st.Success == hangMsgs
		})
	}
	t.Run("Alone", func(t *testing.T) { run(t, false) })
	t.Run("BesideHanging", func(t *testing.T) { run(t, true) })
}

// publishType stores a message of the given event type, due now.
func (e *env) publishType(eventType, payload string) *hookbridge.Message {
	e.t.Helper()
	msg := &hookbridge.Message{AppID: e.app.ID, EventType: eventType, Payload: []byte(payload), CreatedAt: e.clock.Now()}
	stored, _, err := e.store.CreateMessage(context.Background(), msg)
	if err != nil {
		e.t.Fatal(err)
	}
	return stored
}

// TestRateLimitHeldPerSecond counts the attempts to a rate-limited endpoint
// in each second of the injected clock: never more than its limit, however
// many are due, and the limit's worth in each second while any are left.
func TestRateLimitHeldPerSecond(t *testing.T) {
	t.Parallel()
	const (
		limit    = 5
		messages = 23
	)
	e := newEnv(t)
	srv, _ := receiver(t, ok)
	ep, _ := e.endpoint(srv.URL, func(ep *hookbridge.Endpoint) { ep.RateLimit = ptr(limit) })
	for i := range messages {
		e.publish(fmt.Sprintf(`{"n":%d}`, i))
	}
	d, _ := e.start(dispatch.Config{Workers: 16, BatchSize: 64})

	count := func() int {
		st, err := e.store.EndpointStats(context.Background(), e.app.ID, ep.ID, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return int(st.Success)
	}
	for sent := 0; sent < messages; {
		sent = min(sent+limit, messages)
		waitFor(t, fmt.Sprintf("%d deliveries", sent), func() bool { return count() >= sent })
		e.clock.Advance(time.Second)
		d.Wake() // the next second's budget; the claimer would otherwise look on its own second
	}
	page, err := e.store.ListAttempts(context.Background(), e.app.ID, hookbridge.AttemptFilter{
		ListOptions: hookbridge.ListOptions{Limit: hookbridge.MaxListLimit}, EndpointID: ep.ID})
	if err != nil {
		t.Fatal(err)
	}
	perSecond := map[int64]int{}
	for _, a := range page.Data {
		perSecond[a.CreatedAt.Unix()]++
	}
	seconds := make([]int64, 0, len(perSecond))
	for s := range perSecond {
		seconds = append(seconds, s)
	}
	slices.Sort(seconds)
	var counts []int
	for _, s := range seconds {
		counts = append(counts, perSecond[s])
	}
	if want := []int{5, 5, 5, 5, 3}; !slices.Equal(counts, want) {
		t.Fatalf("attempts per second %v, want %v", counts, want)
	}
}

func ptr[T any](v T) *T { return &v }

// TestFIFOOrderUnderRetries: a FIFO endpoint gets messages strictly in
// order, the first one's failure and retry included; a second, ordinary
// endpoint shows what the dispatcher would have sent meanwhile.
func TestFIFOOrderUnderRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var (
		mu    sync.Mutex
		order []string
	)
	fifoSrv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		order = append(order, r.Header.Get("webhook-id"))
		mu.Unlock()
		if n == 1 {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	fifo, _ := e.endpoint(fifoSrv.URL, func(ep *hookbridge.Endpoint) { ep.FIFO = true })
	var control atomic.Int64
	controlSrv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { control.Add(1) })
	e.endpoint(controlSrv.URL)
	var msgs []string
	for i := range 5 {
		msgs = append(msgs, e.publish(fmt.Sprintf(`{"n":%d}`, i)).ID)
	}
	d, _ := e.start(dispatch.Config{})

	// Everything claimable at this time has been sent once the ordinary
	// endpoint has all five; the FIFO one must have had only the first.
	waitFor(t, "the ordinary endpoint's deliveries", func() bool { return control.Load() == 5 })
	e.waitStatus(msgs[0], fifo.ID, hookbridge.StatusSending)
	mu.Lock()
	early := slices.Clone(order)
	mu.Unlock()
	if !slices.Equal(early, msgs[:1]) {
		t.Fatalf("while the first message waits for its retry, the FIFO endpoint got %v, want only %v", early, msgs[:1])
	}

	e.clock.Advance(10 * time.Second)
	d.Wake()
	e.waitStatus(msgs[4], fifo.ID, hookbridge.StatusSuccess)
	mu.Lock()
	defer mu.Unlock()
	if want := append([]string{msgs[0]}, msgs...); !slices.Equal(order, want) {
		t.Fatalf("FIFO endpoint got %v, want %v", order, want)
	}
}

// TestGoneDisablesEndpoint: a 410 fails the delivery without a retry,
// disables the endpoint, and tells the operator once.
func TestGoneDisablesEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusGone) })
	ep, _ := e.endpoint(srv.URL, func(ep *hookbridge.Endpoint) { ep.UID = "gone-one" })
	msgs := []*hookbridge.Message{e.publish(`{"n":1}`), e.publish(`{"n":2}`)}
	var kicks atomic.Int32
	e.start(dispatch.Config{EventsRecorded: func() { kicks.Add(1) }, EndpointConcurrency: 1})

	ev := e.nextEvent()
	if ev.Type != hookbridge.EventEndpointDisabled || ev.EndpointID != ep.ID || ev.EndpointUID != "gone-one" ||
		ev.AppID != e.app.ID || ev.Reason != hookbridge.DisabledGone {
		t.Fatalf("event %+v, want endpoint.disabled for a 410", ev)
	}
	if !strings.HasPrefix(ev.ID, hookbridge.PrefixEvent+"_") || ev.CreatedAt.IsZero() {
		t.Fatalf("event %+v: no id or time", ev)
	}
	waitFor(t, "EventsRecorded to be called", func() bool { return kicks.Load() > 0 })
	if !e.endpointState(ep.ID).Disabled {
		t.Fatal("endpoint not disabled after a 410")
	}
	// Both deliveries are final: the first failed with its 410, the other
	// is given up without a request to a disabled endpoint. No retries,
	// so nothing is exhausted either.
	var attempts int
	for _, m := range msgs {
		e.waitStatus(m.ID, ep.ID, hookbridge.StatusFail)
		attempts += len(e.attempts(m.ID))
	}
	if attempts != 1 {
		t.Errorf("%d attempts, want the one that got the 410", attempts)
	}
	if ev, ok := e.pendingEvent(); ok {
		t.Errorf("event %+v after the endpoint.disabled, want none", ev)
	}
}

// pausingReceiver answers its first request 429 with Retry-After: 120 and
// the others 200, counting them all in calls.
func pausingReceiver(t *testing.T, calls *atomic.Int64) *httptest.Server {
	srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		calls.Add(1)
		if n == 1 {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	return srv
}

// TestRetryAfterPausesEndpoint: a 429 with Retry-After pauses the endpoint,
// not only the message: a message accepted meanwhile waits as well.
func TestRetryAfterPausesEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var calls atomic.Int64
	srv := pausingReceiver(t, &calls)
	ep, _ := e.endpoint(srv.URL, func(ep *hookbridge.Endpoint) { ep.EventTypes = []string{"order.created"} })
	var control atomic.Int64
	controlSrv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { control.Add(1) })
	e.endpoint(controlSrv.URL)
	first := e.publish(`{"n":1}`)
	d, _ := e.start(dispatch.Config{})
	e.waitStatus(first.ID, ep.ID, hookbridge.StatusSending)
	waitFor(t, "the pause", func() bool { return !e.endpointState(ep.ID).PausedUntil.IsZero() })
	if got, want := e.endpointState(ep.ID).PausedUntil, e.clock.Now().Add(2*time.Minute); !got.Equal(want) {
		t.Fatalf("paused until %v, want %v", got, want)
	}

	second := e.publish(`{"n":2}`)
	d.Wake()
	waitFor(t, "the other endpoint's deliveries", func() bool { return control.Load() == 2 })
	if n := calls.Load(); n != 1 {
		t.Fatalf("the paused endpoint got %d requests during its pause, want only the first", n)
	}

	e.clock.Advance(2*time.Minute + time.Second)
	d.Wake()
	e.waitStatus(first.ID, ep.ID, hookbridge.StatusSuccess)
	e.waitStatus(second.ID, ep.ID, hookbridge.StatusSuccess)
}

// TestAutoDisableAfterFailingPeriod: an endpoint whose attempts all fail
// for DisableAfter is disabled by its next failure, and the operator hears
// of it (endpoint.disabled, with when the failures began), as of the
// message that ran out of retries (message.attempt.exhausted) and of the
// one failing its fourth try (message.attempt.failing). Time is the
// injected clock's.
func TestAutoDisableAfterFailingPeriod(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	ep, _ := e.endpoint(srv.URL)
	hour := time.Hour
	d, _ := e.start(dispatch.Config{
		DisableAfter: 5 * 24 * hour,
		Retry:        &dispatch.Schedule{Delays: []time.Duration{hour, 24 * hour, 24 * hour, 24 * hour, 24 * hour}},
	})
	failingSince := e.clock.Now()
	msg := e.publish(`{"n":1}`)
	d.Wake()
	e.waitAttempts(msg.ID, 1)
	waitFor(t, "the run of failures to be recorded", func() bool { return !e.endpointState(ep.ID).FailingSince.IsZero() })
	if got := e.endpointState(ep.ID).FailingSince; !got.Equal(failingSince) {
		t.Fatalf("failing since %v, want %v", got, failingSince)
	}

	// Tries 2 to 4, a day or so apart: failing but not yet for five days.
	for try, wait := range []time.Duration{hour, 24 * hour, 24 * hour} {
		e.clock.Advance(wait)
		d.Wake()
		e.waitAttempts(msg.ID, try+2)
	}
	ev := e.nextEvent()
	if ev.Type != hookbridge.EventAttemptFailing || ev.MsgID != msg.ID || ev.EndpointID != ep.ID || ev.Attempt == nil || ev.Attempt.StatusCode != 500 {
		t.Fatalf("event %+v, want message.attempt.failing after the fourth try", ev)
	}
	if e.endpointState(ep.ID).Disabled {
		t.Fatal("disabled before failing for five days")
	}

	// Three more days: the fifth try fails past the period and disables it.
	e.clock.Advance(3 * 24 * hour)
	d.Wake()
	e.waitAttempts(msg.ID, 5)
	ev = e.nextEvent()
	if ev.Type != hookbridge.EventEndpointDisabled || ev.EndpointID != ep.ID || !ev.FailSince.Equal(failingSince) ||
		ev.Reason != hookbridge.DisabledFailing {
		t.Fatalf("event %+v, want endpoint.disabled failing since %v", ev, failingSince)
	}
	if !e.endpointState(ep.ID).Disabled {
		t.Fatal("endpoint not disabled")
	}
	// Its retry is given up without a request: the endpoint is disabled.
	e.clock.Advance(24 * hour)
	d.Wake()
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusFail)
	if n := len(e.attempts(msg.ID)); n != 5 {
		t.Fatalf("%d attempts, want 5", n)
	}
}

// TestDisableAfterZeroAndNever: DisableAfter's zero is DefaultDisableAfter,
// like every zero of Config; NeverDisable keeps an endpoint that has failed
// for longer than that enabled, and its deliveries tried. Time is the
// injected clock's.
func TestDisableAfterZeroAndNever(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for _, tc := range []struct {
		name         string
		disableAfter time.Duration
		disabled     bool
	}{
		{"Zero", 0, true},
		{"Never", dispatch.NeverDisable, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				http.Error(w, "broken", http.StatusInternalServerError)
			})
			ep, _ := e.endpoint(srv.URL)
			d, _ := e.start(dispatch.Config{
				DisableAfter: tc.disableAfter,
				Retry:        &dispatch.Schedule{Delays: []time.Duration{dispatch.DefaultDisableAfter + day, day, day}},
			})
			msg := e.publish(`{"n":1}`)
			d.Wake()
			e.waitAttempts(msg.ID, 1)
			waitFor(t, "the run of failures to be recorded", func() bool { return !e.endpointState(ep.ID).FailingSince.IsZero() })

			// The second try fails a day past the default period.
			e.clock.Advance(dispatch.DefaultDisableAfter + day)
			d.Wake()
			e.waitAttempts(msg.ID, 2)
			if tc.disabled {
				waitFor(t, "the endpoint to be disabled", func() bool { return e.endpointState(ep.ID).Disabled })
				return
			}
			// A third try is made, and recorded after what the second
			// told of the endpoint: it is still enabled.
			e.clock.Advance(day)
			d.Wake()
			e.waitAttempts(msg.ID, 3)
			if e.endpointState(ep.ID).Disabled {
				t.Fatal("disabled with DisableAfter NeverDisable")
			}
		})
	}
}

// TestExhaustedEvent: a message whose last scheduled try fails is reported
// once, with its last attempt.
func TestExhaustedEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusBadGateway) })
	ep, _ := e.endpoint(srv.URL)
	d, _ := e.start(dispatch.Config{Retry: &dispatch.Schedule{Delays: []time.Duration{time.Minute}}})
	msg := &hookbridge.Message{AppID: e.app.ID, EventID: "evt-1", EventType: "order.created", Payload: []byte(`{}`), CreatedAt: e.clock.Now()}
	if _, _, err := e.store.CreateMessage(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	d.Wake()
	e.waitAttempts(msg.ID, 1)
	e.clock.Advance(2 * time.Minute)
	d.Wake()
	as := e.waitAttempts(msg.ID, 2)
	ev := e.nextEvent()
	if ev.Type != hookbridge.EventAttemptExhausted || ev.MsgID != msg.ID || ev.MsgEventID != "evt-1" ||
		ev.EndpointID != ep.ID || ev.AppID != e.app.ID || ev.Attempt == nil || ev.Attempt.ID != as[1].ID {
		t.Fatalf("event %+v, want message.attempt.exhausted with the last attempt %s", ev, as[1].ID)
	}
}

// TestRecoveredEvent: a message that succeeds after message.attempt.failing
// went out for it is reported as recovered, with the successful attempt; one
// that succeeds after fewer failures is not reported at all.
func TestRecoveredEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var mu sync.Mutex
	failures := map[string]int{} // webhook-id → failed answers still to give
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		mu.Lock()
		defer mu.Unlock()
		if id := r.Header.Get("webhook-id"); failures[id] > 0 {
			failures[id]--
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	ep, _ := e.endpoint(srv.URL)
	soon := e.publish(`{"n":1}`)
	late := e.publish(`{"n":2}`)
	mu.Lock()
	failures[soon.ID], failures[late.ID] = 1, dispatch.FailingAfter
	mu.Unlock()
	d, _ := e.start(dispatch.Config{Retry: &dispatch.Schedule{Delays: slices.Repeat([]time.Duration{time.Minute}, 6)}})

	for try := 1; try <= dispatch.FailingAfter+1; try++ {
		e.waitAttempts(late.ID, try)
		e.clock.Advance(2 * time.Minute)
		d.Wake()
	}
	e.waitStatus(soon.ID, ep.ID, hookbridge.StatusSuccess)
	e.waitStatus(late.ID, ep.ID, hookbridge.StatusSuccess)
	// Events come in the order of the results: anything about soon, whose
	// second try succeeded long before, would come first.
	if ev := e.nextEvent(); ev.Type != hookbridge.EventAttemptFailing || ev.MsgID != late.ID {
		t.Fatalf("event %+v, want message.attempt.failing for %s", ev, late.ID)
	}
	as := e.attempts(late.ID)
	ev := e.nextEvent()
	if ev.Type != hookbridge.EventAttemptRecovered || ev.MsgID != late.ID || ev.EndpointID != ep.ID || ev.AppID != e.app.ID ||
		ev.Attempt == nil || ev.Attempt.ID != as[len(as)-1].ID || ev.Attempt.StatusCode != 200 ||
		!ev.Attempt.At.Equal(as[len(as)-1].CreatedAt) {
		t.Fatalf("event %+v, want message.attempt.recovered with the successful attempt %+v", ev, as[len(as)-1])
	}
}

// TestRetryAfterReleasesHeldClaims: deliveries this dispatcher already
// holds for an endpoint (parked behind its concurrency cap) when the
// endpoint asks for a pause are not sent during the pause: they go back to
// the store, and out when the pause ends.
func TestRetryAfterReleasesHeldClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var calls atomic.Int64
	srv := pausingReceiver(t, &calls)
	ep, _ := e.endpoint(srv.URL)
	const messages = 10
	msgs := make([]*hookbridge.Message, messages)
	for i := range msgs {
		msgs[i] = e.publish(fmt.Sprintf(`{"n":%d}`, i))
	}
	store := &claimCounter{Store: e.store}
	d, _ := e.start(dispatch.Config{Store: store, EndpointConcurrency: 1})
	waitFor(t, "the held deliveries given back", func() bool { return store.released.Load() >= messages-1 })
	if n := calls.Load(); n != 1 {
		t.Fatalf("the endpoint got %d requests after asking for a pause, want only the first", n)
	}

	e.clock.Advance(2*time.Minute + time.Second)
	d.Wake()
	for _, m := range msgs {
		e.waitStatus(m.ID, ep.ID, hookbridge.StatusSuccess)
	}
}

// TestWaitingDeliveriesFollowEndpointChanges: deliveries that waited in
// memory behind their endpoint's concurrency cap go out with the endpoint
// as it is when they are sent: to its new URL once it was changed.
func TestWaitingDeliveriesFollowEndpointChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	var oldCalls, newCalls atomic.Int64
	oldSrv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		oldCalls.Add(1)
		if n == 1 {
			select { // hold the first request, so the others wait behind it
			case <-release:
			case <-r.Context().Done():
			}
		}
	})
	newSrv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { newCalls.Add(1) })
	ep, _ := e.endpoint(oldSrv.URL)
	const messages = 6
	msgs := make([]*hookbridge.Message, messages)
	for i := range msgs {
		msgs[i] = e.publish(fmt.Sprintf(`{"n":%d}`, i))
	}
	e.start(dispatch.Config{EndpointConcurrency: 1})
	waitFor(t, "the first request", func() bool { return oldCalls.Load() == 1 })

	// Meanwhile the endpoint moves, and the waiting deliveries grow old.
	moved := e.endpointState(ep.ID)
	moved.URL = newSrv.URL
	if err := e.store.UpdateEndpoint(context.Background(), moved); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	close(release)
	for _, m := range msgs {
		e.waitStatus(m.ID, ep.ID, hookbridge.StatusSuccess)
	}
	if o, n := oldCalls.Load(), newCalls.Load(); o != 1 || n != messages-1 {
		t.Errorf("old URL got %d requests, new URL %d; want 1 and %d", o, n, messages-1)
	}
}
