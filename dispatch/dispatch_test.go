package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/internal/testkit"
	"github.com/hookbridge/hookbridge/netguard"
	"github.com/hookbridge/hookbridge/sqlite"
	"github.com/hookbridge/hookbridge/webhook"
)

// waitTimeout bounds every wait for something the dispatcher does. It is
// generous so a loaded CI machine does not flake; passing tests take
// milliseconds.
const waitTimeout = 10 * time.Second

// clock is a settable clock: tests move it forward instead of sleeping
// through retry delays. It starts at the real time so that signatures verify
// with a verifier's own clock.
type clock = testkit.Clock

func newClock() *clock { return testkit.NewClockNow() }

// env is one test's store, clock and the application its endpoints belong to.
type env struct {
	t     testing.TB
	store *sqlite.Store
	clock *clock
	app   *hookbridge.Application
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	app := &hookbridge.Application{Name: "shop"}
	if err := store.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: store, clock: newClock(), app: app}
}

// endpoint creates an endpoint at url with a fresh secret, which it returns.
func (e *env) endpoint(url string, edit ...func(*hookbridge.Endpoint)) (*hookbridge.Endpoint, string) {
	e.t.Helper()
	secret, err := webhook.NewSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	ep := &hookbridge.Endpoint{AppID: e.app.ID, URL: url, Secrets: []hookbridge.Secret{{Key: secret}}}
	for _, f := range edit {
		f(ep)
	}
	if err := e.store.CreateEndpoint(context.Background(), ep); err != nil {
		e.t.Fatal(err)
	}
	return ep, secret
}

// publish stores a message, due now by the test clock, as the API does.
func (e *env) publish(payload string) *hookbridge.Message {
	e.t.Helper()
	msg := &hookbridge.Message{
		AppID:     e.app.ID,
		EventType: "order.created",
		Payload:   json.RawMessage(payload),
		CreatedAt: e.clock.Now(),
	}
	stored, _, err := e.store.CreateMessage(context.Background(), msg)
	if err != nil {
		e.t.Fatal(err)
	}
	return stored
}

// publishBatch creates n messages in one write, as batch ingest does.
func (e *env) publishBatch(n int) {
	e.t.Helper()
	msgs := make([]*hookbridge.Message, n)
	for i := range msgs {
		msgs[i] = &hookbridge.Message{AppID: e.app.ID, EventType: "order.created",
			Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), CreatedAt: e.clock.Now()}
	}
	if _, err := e.store.CreateMessages(context.Background(), msgs); err != nil {
		e.t.Fatal(err)
	}
}

// start runs a dispatcher over the env's store until the test ends, and
// returns it with a function that stops it and returns Run's error.
func (e *env) start(cfg dispatch.Config) (*dispatch.Dispatcher, func() error) {
	e.t.Helper()
	if cfg.Store == nil {
		cfg.Store = e.store
	}
	if cfg.Guard == nil {
		cfg.Guard = netguard.New(netip.MustParsePrefix("127.0.0.1/32"))
	}
	cfg.Now = e.clock.Now
	cfg.Workers = cmpOr(cfg.Workers, 4)
	cfg.BatchSize = cmpOr(cfg.BatchSize, 16)
	// A poll interval no test waits for: deliveries must follow from
	// starting, Wake, or the next due time.
	cfg.PollInterval = cmpOr(cfg.PollInterval, time.Minute)
	cfg.Logger = slog.New(slog.NewTextHandler(testOutput(e.t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.Retry == nil {
		s := dispatch.DefaultRetryPolicy()
		s.Rand = rand.New(rand.NewPCG(1, 1))
		cfg.Retry = s
	}
	d, err := dispatch.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(waitTimeout):
				runErr = errors.New("Run did not return after its context was cancelled")
			}
		})
		return runErr
	}
	e.t.Cleanup(func() {
		if err := stop(); err != nil {
			e.t.Errorf("Run: %v", err)
		}
	})
	return d, stop
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// testOutput is where a test's dispatcher logs: the test's own output, so
// logs show only for failing tests (or with -v).
func testOutput(t testing.TB) io.Writer {
	if o, ok := t.(interface{ Output() io.Writer }); ok {
		return o.Output()
	}
	return io.Discard
}

// attempts lists the attempts of a message, oldest first.
func (e *env) attempts(msgID string) []hookbridge.Attempt {
	e.t.Helper()
	page, err := e.store.ListAttempts(context.Background(), e.app.ID, hookbridge.AttemptFilter{
		ListOptions: hookbridge.ListOptions{Limit: hookbridge.MaxListLimit, Order: hookbridge.OrderAscending},
		MsgID:       msgID,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return page.Data
}

// waitAttempts waits until a message has n attempts and returns them.
func (e *env) waitAttempts(msgID string, n int) []hookbridge.Attempt {
	e.t.Helper()
	var got []hookbridge.Attempt
	waitFor(e.t, fmt.Sprintf("%d attempts of %s", n, msgID), func() bool {
		got = e.attempts(msgID)
		return len(got) >= n
	})
	if len(got) != n {
		e.t.Fatalf("message %s: %d attempts, want %d: %+v", msgID, len(got), n, got)
	}
	return got
}

// state returns a message's delivery state at an endpoint.
func (e *env) state(msgID, endpointID string) hookbridge.MessageEndpoint {
	e.t.Helper()
	page, err := e.store.ListMessageEndpoints(context.Background(), e.app.ID, msgID, hookbridge.ListOptions{Limit: hookbridge.MaxListLimit})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, me := range page.Data {
		if me.Endpoint.ID == endpointID {
			return me
		}
	}
	e.t.Fatalf("message %s has no delivery to endpoint %s", msgID, endpointID)
	return hookbridge.MessageEndpoint{}
}

// waitStatus waits until a message's delivery state at an endpoint is want.
func (e *env) waitStatus(msgID, endpointID string, want hookbridge.MessageStatus) hookbridge.MessageEndpoint {
	e.t.Helper()
	var me hookbridge.MessageEndpoint
	waitFor(e.t, fmt.Sprintf("message %s at %s to be %s", msgID, endpointID, want), func() bool {
		me = e.state(msgID, endpointID)
		return me.Status == want
	})
	return me
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, cond)
}

// request is what a receiver saw.
type request struct {
	header http.Header
	body   []byte
}

// receiver is a local webhook receiver that reports each request on a
// channel and answers with respond.
func receiver(t testing.TB, respond func(w http.ResponseWriter, r *http.Request, n int)) (*httptest.Server, <-chan request) {
	t.Helper()
	got := make(chan request, 1000)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- request{header: r.Header.Clone(), body: body}
		respond(w, r, int(n.Add(1)))
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func ok(w http.ResponseWriter, _ *http.Request, _ int) { io.WriteString(w, "ok") }

func receive(t testing.TB, got <-chan request) request {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for a request")
		return request{}
	}
}

func TestDeliversSignedToEveryEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := strings.Repeat("0123456789abcdef", 1024) // 16 KiB
	srvA, gotA := receiver(t, ok)
	srvB, gotB := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, big)
	})
	epA, secretA := e.endpoint(srvA.URL+"/hooks", func(ep *hookbridge.Endpoint) {
		ep.Headers = map[string]string{
			"X-Tenant":          "42",
			"webhook-id":        "forged",
			"Content-Type":      "text/plain",
			"webhook-signature": "v1,forged",
		}
	})
	// B is in the middle of a secret rotation: old and new both sign.
	oldSecret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	epB, secretB := e.endpoint(srvB.URL, func(ep *hookbridge.Endpoint) {
		ep.Secrets = append(ep.Secrets, hookbridge.Secret{Key: oldSecret, Expires: e.clock.Now().Add(24 * time.Hour)})
	})
	payload := `{"order":"o_1","amount":1250,"currency":"EUR"}`
	msg := e.publish(payload)
	e.start(dispatch.Config{UserAgent: "hb-test"})

	for _, tt := range []struct {
		name    string
		got     <-chan request
		secrets []string
	}{
		{"A", gotA, []string{secretA}},
		{"B new secret", gotB, []string{secretB}},
	} {
		r := receive(t, tt.got)
		if string(r.body) != payload {
			t.Errorf("%s: body %q, want the payload as stored", tt.name, r.body)
		}
		if id := r.header.Get("webhook-id"); id != msg.ID {
			t.Errorf("%s: webhook-id %q, want %q", tt.name, id, msg.ID)
		}
		if ts := r.header.Get("webhook-timestamp"); ts != fmt.Sprint(e.clock.Now().Unix()) {
			t.Errorf("%s: webhook-timestamp %q, want the dispatcher clock's %d", tt.name, ts, e.clock.Now().Unix())
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", tt.name, ct)
		}
		if ua := r.header.Get("User-Agent"); ua != "hb-test" {
			t.Errorf("%s: User-Agent %q", tt.name, ua)
		}
		if n := len(r.header.Values("webhook-signature")); n != 1 {
			t.Errorf("%s: %d webhook-signature headers", tt.name, n)
		}
		for _, s := range tt.secrets {
			v, err := webhook.NewVerifier(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.VerifyAt(e.clock.Now(), r.body, r.header); err != nil {
				t.Errorf("%s: signature does not verify: %v (header %q)", tt.name, err, r.header.Get("webhook-signature"))
			}
		}
		if tt.name == "A" && r.header.Get("X-Tenant") != "42" {
			t.Errorf("A: endpoint header X-Tenant missing: %v", r.header)
		}
		if tt.name != "A" {
			// The rotated-out secret still signs within its grace period.
			v, _ := webhook.NewVerifier(oldSecret)
			if err := v.VerifyAt(e.clock.Now(), r.body, r.header); err != nil {
				t.Errorf("%s: old secret does not verify during rotation: %v", tt.name, err)
			}
			if n := len(strings.Fields(r.header.Get("webhook-signature"))); n != 2 {
				t.Errorf("%s: %d signatures, want 2 during a rotation", tt.name, n)
			}
		}
	}

	byEndpoint := map[string]hookbridge.Attempt{}
	for _, a := range e.waitAttempts(msg.ID, 2) {
		byEndpoint[a.EndpointID] = a
	}
	a, b := byEndpoint[epA.ID], byEndpoint[epB.ID]
	checks := []struct {
		a        hookbridge.Attempt
		url      string
		code     int
		response string
	}{
		{a, epA.URL, http.StatusOK, "ok"},
		{b, epB.URL, http.StatusAccepted, big[:hookbridge.MaxResponseExcerpt]},
	}
	for _, c := range checks {
		if c.a.ID == "" {
			t.Fatalf("no attempt for %s: %+v", c.url, byEndpoint)
		}
		if c.a.Status != hookbridge.StatusSuccess || c.a.StatusCode != c.code || c.a.Response != c.response ||
			c.a.URL != c.url || c.a.Trigger != hookbridge.TriggerScheduled || c.a.MsgID != msg.ID ||
			c.a.AppID != e.app.ID || c.a.DeliveryID == "" || c.a.DurationMS < 0 ||
			!strings.HasPrefix(c.a.ID, hookbridge.PrefixAttempt+"_") || !c.a.CreatedAt.Equal(e.clock.Now()) {
			t.Errorf("attempt %+v, want success %d with response %.20q… at %s", c.a, c.code, c.response, c.url)
		}
	}
	if len(b.Response) != hookbridge.MaxResponseExcerpt {
		t.Errorf("excerpt of a 16 KiB response is %d bytes, want %d", len(b.Response), hookbridge.MaxResponseExcerpt)
	}
	for _, ep := range []*hookbridge.Endpoint{epA, epB} {
		if me := e.state(msg.ID, ep.ID); me.Status != hookbridge.StatusSuccess || !me.NextAttempt.IsZero() {
			t.Errorf("delivery to %s: %s, next %s; want success, none", ep.ID, me.Status, me.NextAttempt)
		}
	}
}

func TestFailureThenRetrySucceeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, got := receiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			http.Error(w, "database down", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "thanks")
	})
	ep, _ := e.endpoint(srv.URL)
	msg := e.publish(`{"n":1}`)
	first := e.clock.Now()
	d, _ := e.start(dispatch.Config{})

	r1 := receive(t, got)
	as := e.waitAttempts(msg.ID, 1)
	if a := as[0]; a.Status != hookbridge.StatusFail || a.StatusCode != 500 || a.Response != "database down\n" {
		t.Errorf("first attempt %+v, want a failed 500 with the body", a)
	}
	me := e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSending)
	if delay := me.NextAttempt.Sub(first); delay < 4*time.Second || delay > 6*time.Second {
		t.Errorf("next attempt after %s, want 5s ±20%%", delay)
	}

	// Once the retry is due, a wake-up sends it: no real 5 s pass.
	e.clock.Advance(10 * time.Second)
	d.Wake()
	r2 := receive(t, got)
	as = e.waitAttempts(msg.ID, 2)
	if a := as[1]; a.Status != hookbridge.StatusSuccess || a.StatusCode != 200 || a.Response != "thanks" {
		t.Errorf("second attempt %+v, want success", a)
	}
	if me := e.state(msg.ID, ep.ID); me.Status != hookbridge.StatusSuccess {
		t.Errorf("delivery %s after the retry succeeded", me.Status)
	}
	if r1.header.Get("webhook-id") != r2.header.Get("webhook-id") {
		t.Error("webhook-id changed between tries; receivers deduplicate on it")
	}
	if r1.header.Get("webhook-timestamp") == r2.header.Get("webhook-timestamp") {
		t.Error("webhook-timestamp did not change: each try is signed at its own time")
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	ep, _ := e.endpoint(srv.URL)
	msg := e.publish(`{}`)
	e.start(dispatch.Config{})
	me := e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSending)
	if want := e.clock.Now().Add(2 * time.Minute); !me.NextAttempt.Equal(want) {
		t.Errorf("next attempt %s, want %s (Retry-After: 120, not jittered)", me.NextAttempt, want)
	}
}

func TestManualDeliveryTriedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.WriteHeader(http.StatusBadGateway)
	})
	ep, _ := e.endpoint(srv.URL)
	msg := e.publish(`{}`)
	d, _ := e.start(dispatch.Config{})
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSending)

	manual, err := e.store.Resend(context.Background(), e.app.ID, msg.ID, ep.ID, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	d.Wake()
	me := e.waitStatus(msg.ID, ep.ID, hookbridge.StatusFail)
	if !me.NextAttempt.IsZero() {
		t.Errorf("failed manual delivery has a next attempt at %s", me.NextAttempt)
	}

	// Move past the scheduled delivery's next try. Its second attempt
	// shows the dispatcher has claimed again; the manual one must not
	// have been among the claims.
	e.clock.Advance(time.Minute)
	d.Wake()
	as := e.waitAttempts(msg.ID, 3)
	var manualTries int
	for _, a := range as {
		if a.DeliveryID == manual.ID {
			manualTries++
			if a.Trigger != hookbridge.TriggerManual || a.Status != hookbridge.StatusFail || a.StatusCode != 502 {
				t.Errorf("manual attempt %+v, want a failed 502 with trigger manual", a)
			}
		}
	}
	if manualTries != 1 {
		t.Errorf("manual delivery tried %d times, want once", manualTries)
	}
}

func TestGivesUpAfterEighthTry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	ep, _ := e.endpoint(srv.URL)
	msg := e.publish(`{}`)
	d, _ := e.start(dispatch.Config{})
	for try := 1; try <= 8; try++ {
		e.waitAttempts(msg.ID, try)
		want := hookbridge.StatusSending
		if try == 8 {
			want = hookbridge.StatusFail
		}
		me := e.waitStatus(msg.ID, ep.ID, want)
		if try < 8 {
			// The longest step is 10 h + 20 %: this is always past it.
			e.clock.Advance(13 * time.Hour)
			d.Wake()
		} else if !me.NextAttempt.IsZero() {
			t.Errorf("given-up delivery has a next attempt at %s", me.NextAttempt)
		}
	}
}

// TestLostLeaseResultDropped: a delivery taken over by another instance while
// this one was still sending is not recorded by this one; the new owner's
// lease stands.
func TestLostLeaseResultDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	answer := make(chan struct{})
	srv, got := receiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-answer:
		case <-r.Context().Done():
		}
	})
	ep, _ := e.endpoint(srv.URL)
	msg := e.publish(`{}`)
	// A lease long enough that no renewal tick happens during the test.
	_, stop := e.start(dispatch.Config{Lease: time.Hour})
	receive(t, got)

	e.clock.Advance(2 * time.Hour) // the lease has run out: another instance takes over
	taken, err := e.store.ClaimDeliveries(context.Background(), "successor", e.clock.Now(), time.Hour, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(taken) != 1 {
		t.Fatalf("successor claimed %d deliveries, want the one whose lease ran out", len(taken))
	}
	close(answer)
	// Stopping waits for the in-flight request and writes its result,
	// which the store refuses.
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if as := e.attempts(msg.ID); len(as) != 0 {
		t.Errorf("attempts %+v recorded by the instance that lost the lease", as)
	}
	if me := e.state(msg.ID, ep.ID); me.Status != hookbridge.StatusPending {
		t.Errorf("delivery %s, want pending under the successor's lease", me.Status)
	}
	if again, err := e.store.ClaimDeliveries(context.Background(), "third", e.clock.Now(), time.Hour, 10); err != nil || len(again) != 0 {
		t.Errorf("a third owner claimed %d (%v): the successor's lease was ended", len(again), err)
	}
}

// TestRefusedReceiverIsNotReached: a receiver the guard refuses — at a
// blocked address, or at an http URL stored before the server ran with
// --https-only — gets a failed attempt that says why, and a retry, but no
// request.
func TestRefusedReceiverIsNotReached(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		guard *netguard.Guard
		why   []string // in the attempt's response
	}{
		{"BlockedAddress", netguard.New(), []string{"not allowed", "loopback"}}, // no allow-list: loopback is blocked
		{"HTTPSOnly", netguard.New(netip.MustParsePrefix("127.0.0.1/32")).HTTPSOnly(), []string{"only https URLs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			var hit atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit.Store(true) }))
			t.Cleanup(srv.Close)
			ep, _ := e.endpoint(srv.URL)
			msg := e.publish(`{}`)
			e.start(dispatch.Config{Guard: tc.guard})

			a := e.waitAttempts(msg.ID, 1)[0]
			if a.Status != hookbridge.StatusFail || a.StatusCode != 0 {
				t.Errorf("attempt %+v, want a failed attempt without a response", a)
			}
			for _, w := range tc.why {
				if !strings.Contains(a.Response, w) {
					t.Errorf("attempt response %q does not say %q", a.Response, w)
				}
			}
			e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSending)
			if hit.Load() {
				t.Error("the refused receiver was reached")
			}
		})
	}
}

func TestRedirectIsAFailedAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	target, gotTarget := receiver(t, ok)
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	})
	ep, _ := e.endpoint(srv.URL)
	msg := e.publish(`{}`)
	e.start(dispatch.Config{})

	a := e.waitAttempts(msg.ID, 1)[0]
	if a.Status != hookbridge.StatusFail || a.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("attempt %+v, want a failed 307", a)
	}
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSending)
	select {
	case <-gotTarget:
		t.Error("the redirect was followed")
	default:
	}
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, _ := receiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) {
		<-r.Context().Done() // hang until the client gives up
	})
	ep, _ := e.endpoint(srv.URL)
	msg := e.publish(`{}`)
	e.start(dispatch.Config{RequestTimeout: 100 * time.Millisecond})

	a := e.waitAttempts(msg.ID, 1)[0]
	if a.Status != hookbridge.StatusFail || a.StatusCode != 0 || !strings.Contains(a.Response, "timed out") || a.DurationMS < 100 {
		t.Errorf("attempt %+v, want a failed attempt that timed out after ≥100ms", a)
	}
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSending)
}

func TestDisabledEndpointGetsNoAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, got := receiver(t, ok)
	ep, _ := e.endpoint(srv.URL)
	msg := e.publish(`{}`)
	// Disabled after the message was accepted and fanned out.
	ep.Disabled = true
	if err := e.store.UpdateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	e.start(dispatch.Config{})
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusFail)
	if as := e.attempts(msg.ID); len(as) != 0 {
		t.Errorf("attempts %+v, want none", as)
	}
	select {
	case <-got:
		t.Error("a disabled endpoint received the message")
	default:
	}
}

func TestWakeDeliversWithoutWaitingForPoll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, got := receiver(t, ok)
	e.endpoint(srv.URL)
	e.publish(`{"n":1}`)
	d, _ := e.start(dispatch.Config{PollInterval: time.Hour})
	receive(t, got) // the dispatcher is running and has nothing more due

	// The poll is an hour away: only the wake-up can get this one out
	// within the wait.
	msg := e.publish(`{"n":2}`)
	d.Wake()
	if r := receive(t, got); r.header.Get("webhook-id") != msg.ID {
		t.Errorf("received %s, want %s", r.header.Get("webhook-id"), msg.ID)
	}
}

func TestLeasesRenewedWhileQueued(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	srv, got := receiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	e.endpoint(srv.URL)
	var msgs []*hookbridge.Message
	for i := range 3 {
		msgs = append(msgs, e.publish(fmt.Sprintf(`{"n":%d}`, i)))
	}
	// The renewal ticks every quarter lease (1 s); requests do not time out
	// before the test answers them.
	const lease = 4 * time.Second
	start := e.clock.Now()
	e.start(dispatch.Config{Workers: 1, Lease: lease, RequestTimeout: 3 * time.Second})
	receive(t, got) // one in flight, two queued behind it

	// Three quarters of the lease pass; the recorder's next renewal tick
	// must push every lease out to a full lease from now.
	e.clock.Advance(lease * 3 / 4)
	renewed := start.Add(lease * 3 / 4).Add(lease)
	waitFor(t, "leases renewed", func() bool {
		next, ok, err := e.store.NextDue(context.Background())
		return err == nil && ok && next.Equal(renewed)
	})
	thief, err := e.store.ClaimDeliveries(context.Background(), "thief", start.Add(lease*11/10), lease, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(thief) != 0 {
		t.Fatalf("another owner claimed %d deliveries whose leases should have been renewed", len(thief))
	}
	close(release)
	for _, m := range msgs {
		if a := e.waitAttempts(m.ID, 1)[0]; a.Status != hookbridge.StatusSuccess {
			t.Errorf("message %s: attempt %+v, want success", m.ID, a)
		}
	}
}

// TestShutdown cancels Run while requests hang: the drain timeout cancels
// them, every claimed delivery is released for another owner at once, and
// nothing the dispatcher started is left running. It is not parallel so that
// no other test's goroutines blur the leak check.
func TestShutdown(t *testing.T) {
	for _, tt := range []struct {
		name string
		// answer: the receiver answers in-flight requests after Run is
		// cancelled and before the drain timeout; otherwise it hangs past it.
		answer bool
	}{
		{"in flight finish", true},
		{"in flight cancelled", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			answer := make(chan struct{})
			srv, got := receiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				select {
				case <-answer:
				case <-r.Context().Done():
				}
			})
			ep, _ := e.endpoint(srv.URL)
			var msgs []*hookbridge.Message
			for i := range 5 {
				msgs = append(msgs, e.publish(fmt.Sprintf(`{"n":%d}`, i)))
			}
			drain := 100 * time.Millisecond
			if tt.answer {
				drain = waitTimeout
			}
			_, stop := e.start(dispatch.Config{Workers: 2, DrainTimeout: drain})
			receive(t, got)
			receive(t, got) // both workers busy, three claims queued

			stopped := make(chan error, 1)
			go func() { stopped <- stop() }()
			if tt.answer {
				// Run must be waiting for the two in flight; let them
				// finish only after it was told to stop.
				select {
				case err := <-stopped:
					t.Fatalf("Run returned (%v) before the requests in flight finished", err)
				case <-time.After(50 * time.Millisecond):
				}
				close(answer)
			}
			if err := <-stopped; err != nil {
				t.Fatalf("Run: %v", err)
			}

			// Everything not recorded is claimable by another owner now.
			recorded := 0
			for _, m := range msgs {
				switch me := e.state(m.ID, ep.ID); me.Status {
				case hookbridge.StatusSuccess:
					recorded++
				case hookbridge.StatusPending:
				default:
					t.Errorf("message %s: status %s after shutdown", m.ID, me.Status)
				}
			}
			if want := map[bool]int{true: 2, false: 0}[tt.answer]; recorded != want {
				t.Errorf("%d deliveries recorded, want %d", recorded, want)
			}
			claims, err := e.store.ClaimDeliveries(context.Background(), "successor", e.clock.Now(), time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(claims) != len(msgs)-recorded {
				t.Errorf("successor claimed %d deliveries, want %d", len(claims), len(msgs)-recorded)
			}
			if !tt.answer {
				close(answer)
			}
			noLeaks(t)
		})
	}
}

// noLeaks waits for every goroutine of the dispatcher, and of the HTTP
// client it used, to be gone.
func noLeaks(t *testing.T) {
	t.Helper()
	leaked := func() string {
		buf := make([]byte, 1<<20)
		var out []string
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "dispatch.(*Dispatcher)") || strings.Contains(g, "net/http.(*persistConn)") {
				out = append(out, g)
			}
		}
		return strings.Join(out, "\n\n")
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		stacks := leaked()
		if stacks == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left after Run returned:\n%s", stacks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// immediateRetry retries at once, twice.
type immediateRetry struct{}

func (immediateRetry) NextAttempt(attempts int, now time.Time, _ time.Duration) (time.Time, bool) {
	return now, attempts < 3
}

// TestRetryDueSoonIsSentWhenDue: a retry that falls due before the
// claimer's next planned look is sent then, not at the poll interval (a
// minute in these tests, far past the test's wait).
func TestRetryDueSoonIsSentWhenDue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, got := receiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	ep, _ := e.endpoint(srv.URL)
	msg := e.publish(`{}`)
	e.start(dispatch.Config{Retry: immediateRetry{}})
	receive(t, got)
	receive(t, got)
	e.waitStatus(msg.ID, ep.ID, hookbridge.StatusSuccess)
}
