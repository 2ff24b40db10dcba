package operational_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/internal/testkit"
	"github.com/hookbridge/hookbridge/netguard"
	"github.com/hookbridge/hookbridge/operational"
	"github.com/hookbridge/hookbridge/postgres"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/sqlite"
	"github.com/hookbridge/hookbridge/webhook"
)

// TestAutoDisableSendsOperationalWebhook runs the whole path on a real
// store and dispatcher: a customer endpoint fails for five days of the
// injected clock, is disabled, and the operator's operational endpoint
// receives endpoint.disabled, signed with its own secret, in Svix's shape.
func TestAutoDisableSendsOperationalWebhook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := testkit.NewClockNow() // the test moves it by days; nothing sleeps

	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(broken.Close)
	type delivery struct {
		header http.Header
		body   []byte
	}
	ops := make(chan delivery, 10)
	opsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ops <- delivery{r.Header.Clone(), body}
	}))
	t.Cleanup(opsSrv.Close)

	app := &hookbridge.Application{UID: "merchant-7", Name: "Merchant"}
	if err := store.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	customerSecret, _ := webhook.NewSecret()
	customer := &hookbridge.Endpoint{AppID: app.ID, UID: "orders", URL: broken.URL, Secrets: []hookbridge.Secret{{Key: customerSecret}}}
	if err := store.CreateEndpoint(ctx, customer); err != nil {
		t.Fatal(err)
	}
	// The operator's endpoint, as POST /api/v1/operational-webhook/endpoint
	// stores it.
	opApp, err := operational.App(ctx, store, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	opSecret, _ := webhook.NewSecret()
	if err := store.CreateEndpoint(ctx, &hookbridge.Endpoint{AppID: opApp.ID, URL: opsSrv.URL,
		EventTypes: []string{hookbridge.EventEndpointDisabled}, Secrets: []hookbridge.Secret{{Key: opSecret}}}); err != nil {
		t.Fatal(err)
	}

	var d *dispatch.Dispatcher
	relay := operational.NewRelay(&operational.Notifier{Store: store, Now: clk.Now, Wake: func() { d.Wake() }}, time.Minute, nil)
	d, err = dispatch.New(dispatch.Config{
		Store:        store,
		Guard:        netguard.New(netip.MustParsePrefix("127.0.0.1/32")),
		Now:          clk.Now,
		PollInterval: time.Minute,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), nil)),
		Retry:        &dispatch.Schedule{Delays: []time.Duration{3 * 24 * time.Hour, 3 * 24 * time.Hour}},
		// The relay polls once a minute: the event must come from the kick.
		EventsRecorded: relay.Kick,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	relayed := make(chan struct{})
	go func() { defer close(relayed); relay.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		<-relayed
	})

	failingSince := clk.Now()
	msg := &hookbridge.Message{AppID: app.ID, EventType: "order.created", Payload: []byte(`{"id":"ord_1"}`), CreatedAt: clk.Now()}
	if _, _, err := store.CreateMessage(ctx, msg); err != nil {
		t.Fatal(err)
	}
	d.Wake()
	attempts := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			page, err := store.ListAttempts(ctx, app.ID, hookbridge.AttemptFilter{MsgID: msg.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Data) >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for attempt %d", n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	attempts(1)
	// Three days on: failing, not yet for five days.
	clk.Advance(3 * 24 * time.Hour)
	d.Wake()
	attempts(2)
	// Six days on: the third try fails past the period.
	clk.Advance(3 * 24 * time.Hour)
	d.Wake()
	attempts(3)

	var got delivery
	select {
	case got = <-ops:
	case <-time.After(10 * time.Second):
		t.Fatal("no operational webhook arrived")
	}
	wh, err := webhook.NewVerifier(opSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.VerifyAt(clk.Now(), got.body, got.header); err != nil {
		t.Fatalf("operational webhook not signed with the operational endpoint's secret: %v", err)
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			AppID       string  `json:"appId"`
			AppUID      *string `json:"appUid"`
			EndpointID  string  `json:"endpointId"`
			EndpointUID *string `json:"endpointUid"`
			FailSince   string  `json:"failSince"`
		} `json:"data"`
	}
	if err := json.Unmarshal(got.body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "endpoint.disabled" || ev.Data.AppID != app.ID || ev.Data.AppUID == nil || *ev.Data.AppUID != "merchant-7" ||
		ev.Data.EndpointID != customer.ID || ev.Data.EndpointUID == nil || *ev.Data.EndpointUID != "orders" ||
		ev.Data.FailSince != failingSince.Format("2006-01-02T15:04:05.000Z") {
		t.Fatalf("operational webhook %s", got.body)
	}
	if ep, err := store.GetEndpoint(ctx, app.ID, customer.ID); err != nil || !ep.Disabled {
		t.Fatalf("customer endpoint not disabled: %+v, %v", ep, err)
	}
}

// TestPayloadShapes checks the events against Svix's
// MessageAttemptExhaustedEvent, MessageAttemptRecoveredEvent and
// EndpointCreatedEvent: every required
// field, nulls where Svix writes them.
func TestPayloadShapes(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	got, err := operational.Payload(hookbridge.OperationalEvent{
		Type: hookbridge.EventAttemptExhausted, AppID: "app_1", EndpointID: "ep_1", MsgID: "msg_1",
		Attempt: &hookbridge.LastAttempt{ID: "atmpt_1", StatusCode: 500, At: at},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"message.attempt.exhausted","data":{"appId":"app_1","appUid":null,"endpointId":"ep_1","lastAttempt":{"id":"atmpt_1","responseStatusCode":500,"timestamp":"2025-06-01T12:00:00.000Z"},"msgEventId":null,"msgId":"msg_1"}}`
	if string(got) != want {
		t.Fatalf("payload\n got %s\nwant %s", got, want)
	}
	got, err = operational.Payload(hookbridge.OperationalEvent{
		Type: hookbridge.EventAttemptRecovered, AppID: "app_1", EndpointID: "ep_1", MsgID: "msg_1", MsgEventID: "evt_1",
		Attempt: &hookbridge.LastAttempt{ID: "atmpt_5", StatusCode: 200, At: at},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"type":"message.attempt.recovered","data":{"appId":"app_1","appUid":null,"endpointId":"ep_1","lastAttempt":{"id":"atmpt_5","responseStatusCode":200,"timestamp":"2025-06-01T12:00:00.000Z"},"msgEventId":"evt_1","msgId":"msg_1"}}`
	if string(got) != want {
		t.Fatalf("payload\n got %s\nwant %s", got, want)
	}
	uid := "shop"
	got, err = operational.Payload(hookbridge.OperationalEvent{Type: hookbridge.EventEndpointCreated, AppID: "app_1", EndpointID: "ep_1"}, &uid)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"type":"endpoint.created","data":{"appId":"app_1","appUid":"shop","endpointId":"ep_1","endpointUid":null}}`
	if string(got) != want {
		t.Fatalf("payload\n got %s\nwant %s", got, want)
	}
	if _, err := operational.Payload(hookbridge.OperationalEvent{Type: "endpoint.exploded"}, nil); err == nil {
		t.Fatal("an unknown event type was accepted")
	}
}

// relayEnv is a store with an application whose endpoint answers 410, so
// that one report records an endpoint.disabled event, and an operational
// endpoint that receives it.
type relayEnv struct {
	store *sqlite.Store
	app   *hookbridge.Application
	op    *hookbridge.Application // nil until operational is called
}

func newRelayEnv(t *testing.T) *relayEnv {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	app := &hookbridge.Application{UID: "merchant-7", Name: "Merchant"}
	if err := store.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	return &relayEnv{store: store, app: app}
}

// operational creates the operational application and an endpoint of it.
func (e *relayEnv) operational(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	op, err := operational.App(ctx, e.store, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := webhook.NewSecret()
	if err := e.store.CreateEndpoint(ctx, &hookbridge.Endpoint{AppID: op.ID, URL: "https://ops.example/hook",
		Secrets: []hookbridge.Secret{{Key: secret}}}); err != nil {
		t.Fatal(err)
	}
	e.op = op
}

// disable records the disabling of a new endpoint of the application, and
// with it an endpoint.disabled event.
func (e *relayEnv) disable(t *testing.T) *hookbridge.Endpoint {
	t.Helper()
	ctx := context.Background()
	secret, _ := webhook.NewSecret()
	ep := &hookbridge.Endpoint{AppID: e.app.ID, URL: "https://shop.example/hook", Secrets: []hookbridge.Secret{{Key: secret}}}
	if err := e.store.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	disabled, err := e.store.RecordEndpointHealth(ctx, []hookbridge.EndpointReport{{EndpointID: ep.ID, At: time.Now(), Gone: true}}, time.Time{})
	if err != nil || len(disabled) != 1 {
		t.Fatalf("disabled %+v, %v", disabled, err)
	}
	return ep
}

// opMessages returns the operational application's messages of the given
// type.
func (e *relayEnv) opMessages(t *testing.T, typ string) []hookbridge.Message {
	t.Helper()
	page, err := e.store.ListMessages(context.Background(), e.op.ID, hookbridge.MessageFilter{EventTypes: []string{typ}})
	if err != nil {
		t.Fatal(err)
	}
	return page.Data
}

// pending returns the recorded events, less the endpoint.created of the
// test's endpoints.
func (e *relayEnv) pending(t *testing.T) []hookbridge.OperationalEvent {
	t.Helper()
	evs, err := e.store.OperationalEvents(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(evs, func(ev hookbridge.OperationalEvent) bool { return ev.Type == hookbridge.EventEndpointCreated })
}

// TestRelayOneMessagePerEvent: a recorded event becomes one message and is
// deleted, even when it is relayed again after its message was written (a
// crash before the delete) or by two relays at once (two instances).
func TestRelayOneMessagePerEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newRelayEnv(t)
	e.operational(t)
	ep := e.disable(t)

	evs := e.pending(t)
	if len(evs) != 1 || evs[0].Type != hookbridge.EventEndpointDisabled || evs[0].EndpointID != ep.ID {
		t.Fatalf("recorded %+v, want one endpoint.disabled for %s", evs, ep.ID)
	}
	n := &operational.Notifier{Store: e.store}
	// The message is written, then the process dies before the delete.
	if err := n.Notify(ctx, evs[0]); err != nil {
		t.Fatal(err)
	}
	// Two relays, as on two instances, find it again at once.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if err := operational.NewRelay(n, 0, nil).Relay(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	msgs := e.opMessages(t, hookbridge.EventEndpointDisabled)
	if len(msgs) != 1 || msgs[0].EventID != evs[0].ID || msgs[0].EventType != hookbridge.EventEndpointDisabled {
		t.Fatalf("operational messages %+v, want one endpoint.disabled with eventId %s", msgs, evs[0].ID)
	}
	var body struct {
		Data struct {
			EndpointID string `json:"endpointId"`
		} `json:"data"`
	}
	if err := json.Unmarshal(msgs[0].Payload, &body); err != nil || body.Data.EndpointID != ep.ID {
		t.Fatalf("payload %s (%v)", msgs[0].Payload, err)
	}
	if left := e.pending(t); len(left) != 0 {
		t.Fatalf("events left after relaying: %+v", left)
	}
}

// TestRelayWithoutListener: with no operational endpoint (no operational
// application yet), recorded events are deleted without a message, as no
// one listens; an event of a type the relay does not know is deleted too,
// since no try could send it, and does not hold back the ones after it.
func TestRelayWithoutListener(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newRelayEnv(t)
	e.disable(t)
	relay := operational.NewRelay(&operational.Notifier{Store: e.store}, 0, nil)
	if err := relay.Relay(ctx); err != nil {
		t.Fatal(err)
	}
	if left := e.pending(t); len(left) != 0 {
		t.Fatalf("events left: %+v", left)
	}
	if _, err := e.store.GetApplication(ctx, operational.AppUID); !hookbridge.IsNotFound(err) {
		t.Fatalf("operational application created by the relay: %v", err)
	}

	e.operational(t)
	// An unknown type can only come from a newer version's rows.
	secret, _ := webhook.NewSecret()
	ep := &hookbridge.Endpoint{AppID: e.app.ID, URL: "https://shop.example/hook", Secrets: []hookbridge.Secret{{Key: secret}}}
	if err := e.store.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	msg := &hookbridge.Message{AppID: e.app.ID, EventType: "order.created", Payload: []byte(`{}`), CreatedAt: time.Now()}
	if _, _, err := e.store.CreateMessage(ctx, msg); err != nil {
		t.Fatal(err)
	}
	claims, err := e.store.ClaimDeliveries(ctx, "test", time.Now(), time.Minute, 10)
	if err != nil || len(claims) != 1 {
		t.Fatalf("claims %+v, %v", claims, err)
	}
	_, err = e.store.RecordAttempts(ctx, "test", []hookbridge.AttemptResult{{
		DeliveryID: claims[0].Delivery.ID, Status: hookbridge.StatusFail,
		Attempt: &hookbridge.Attempt{URL: ep.URL, Status: hookbridge.StatusFail, StatusCode: 500},
		Event:   &hookbridge.OperationalEvent{Type: "message.attempt.exploded", AppID: e.app.ID, EndpointID: ep.ID},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.disable(t)
	if err := relay.Relay(ctx); err != nil {
		t.Fatal(err)
	}
	if left := e.pending(t); len(left) != 0 {
		t.Fatalf("events left: %+v", left)
	}
	if msgs := e.opMessages(t, hookbridge.EventEndpointDisabled); len(msgs) != 1 {
		t.Fatalf("operational messages %+v, want the endpoint.disabled", msgs)
	}
}

// TestRelayOneAtATime: on PostgreSQL the instances' relays take turns
// (an advisory lock): while one relays, another's pass is skipped and the
// events wait for the one relaying; then a pass runs and relays them.
func TestRelayOneAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := postgres.Open(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := operational.App(ctx, store, time.Now()); err != nil {
		t.Fatal(err)
	}
	app := &hookbridge.Application{Name: "Shop"}
	if err := store.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	secret, _ := webhook.NewSecret()
	if err := store.CreateEndpoint(ctx, &hookbridge.Endpoint{AppID: app.ID, URL: "https://shop.example/hook",
		Secrets: []hookbridge.Secret{{Key: secret}}}); err != nil {
		t.Fatal(err)
	}
	relay := operational.NewRelay(&operational.Notifier{Store: store}, 0, nil)
	relay.OneAtATime(store.RunExclusive)
	pending := func() int64 {
		t.Helper()
		n, err := store.CountOperationalEvents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := store.RunExclusive(ctx, "operational-relay", func(context.Context) error {
			close(held)
			<-release
			return nil
		})
		done <- err
	}()
	<-held
	if ran, err := relay.Pass(ctx); err != nil || ran {
		t.Fatalf("a pass while another instance relays: ran %v, %v", ran, err)
	}
	if n := pending(); n != 1 {
		t.Fatalf("%d events pending, want the endpoint.created still there", n)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ran, err := relay.Pass(ctx); err != nil || !ran {
		t.Fatalf("a pass alone: ran %v, %v", ran, err)
	}
	if n := pending(); n != 0 {
		t.Fatalf("%d events pending after the pass, want 0", n)
	}
}
