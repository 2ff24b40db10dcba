package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge/internal/testkit"
)

const testAPIKey = "hbk_test_0123456789abcdefghijklmnop"

// startTestServer runs a real Hookbridge in-process on a fresh SQLite file,
// with loopback allow-listed so deliveries can reach httptest receivers.
func startTestServer(t *testing.T, edit ...func(*serveConfig)) *server {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return runTestServer(t, testServeConfig(t, edit...), logger, func() string { return "" })
}

// testServeConfig is what every in-process test server starts from, with
// edit applied.
func testServeConfig(t *testing.T, edit ...func(*serveConfig)) serveConfig {
	cfg := serveConfig{
		Addr:            "127.0.0.1:0",
		DB:              filepath.Join(t.TempDir(), "hookbridge.db"),
		APIKey:          testAPIKey,
		AllowPrivate:    "127.0.0.0/8",
		MaxPayload:      256 << 10,
		RequestTimeout:  5 * time.Second,
		Workers:         16,
		ShutdownTimeout: 5 * time.Second,
	}
	for _, e := range edit {
		e(&cfg)
	}
	return cfg
}

// runTestServer starts cfg's server, logging to logger, and shuts it down
// when the test ends; logs tells what the log holds, for a failed start.
func runTestServer(t *testing.T, cfg serveConfig, logger *slog.Logger, logs func() string) *server {
	t.Helper()
	srv, err := startServer(context.Background(), cfg, logger, io.Discard)
	if err != nil {
		t.Fatalf("start server: %v\n%s", err, logs())
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func svixClient(t *testing.T, srv *server) *svix.Svix {
	t.Helper()
	u, _ := url.Parse("http://" + srv.Addr)
	sx, err := svix.New(testAPIKey, &svix.SvixOptions{ServerUrl: u})
	if err != nil {
		t.Fatal(err)
	}
	return sx
}

func ptr[T any](v T) *T { return &v }

// received is one request that reached a receiver.
type received struct {
	Path   string // the request's URL path, which tells endpoints of one receiver apart
	Body   []byte
	Header http.Header
}

// receiver is a local webhook receiver that answers with a status the test
// can change, and hands every request it gets to a channel.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    chan received
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{status: http.StatusOK, got: make(chan received, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, `{"ok":true}`)
		r.got <- received{Path: req.URL.Path, Body: body, Header: req.Header.Clone()}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) setStatus(code int) {
	r.mu.Lock()
	r.status = code
	r.mu.Unlock()
}

// next waits for the next request, failing the test after a generous
// deadline (deliveries take milliseconds; the deadline only bounds a broken
// run).
func (r *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case got := <-r.got:
		return got
	case <-time.After(10 * time.Second):
		t.Fatal("receiver got no request within 10s")
		return received{}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, cond)
}

// TestSvixSDKEndToEnd drives Hookbridge with the official Svix Go SDK: the
// whole outbound path, from creating an application to recovering failed
// messages, verified with the SDK's own signature check.
func TestSvixSDKEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startTestServer(t)
	sx := svixClient(t, srv)

	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Pizza Place", Uid: ptr("merchant-42")}, nil)
	if err != nil {
		t.Fatalf("create application: %v", err)
	}
	if !strings.HasPrefix(app.Id, "app_") {
		t.Errorf("application id %q lacks app_ prefix", app.Id)
	}
	byUID, err := sx.Application.Get(ctx, "merchant-42")
	if err != nil || byUID.Id != app.Id {
		t.Fatalf("get application by uid: %v, %+v", err, byUID)
	}

	captured, ready := newReceiver(t), newReceiver(t)
	epCaptured, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{
		Url:         captured.URL + "/hooks",
		FilterTypes: []string{"payment.captured"},
		Description: ptr("payments"),
	}, nil)
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	epReady, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{
		Url:         ready.URL + "/hooks",
		FilterTypes: []string{"order.ready"},
	}, nil)
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	secret, err := sx.Endpoint.GetSecret(ctx, app.Id, epCaptured.Id)
	if err != nil {
		t.Fatalf("get secret: %v", err)
	}
	if !strings.HasPrefix(secret.Key, "whsec_") {
		t.Fatalf("secret %q lacks whsec_ prefix", secret.Key)
	}

	// A message reaches the subscribed endpoint only, signed so that the
	// SDK's own verifier accepts it.
	msg, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{
		EventType: "payment.captured",
		EventId:   ptr("evt-1"),
		Payload:   map[string]any{"paymentId": "pay_1", "amount": 2599, "currency": "EUR"},
	}, nil)
	if err != nil {
		t.Fatalf("create message: %v", err)
	}
	got := captured.next(t)
	wh, err := svix.NewWebhook(secret.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got.Body, got.Header); err != nil {
		t.Fatalf("SDK rejected the signature: %v (headers %v)", err, got.Header)
	}
	if id := got.Header.Get("webhook-id"); id != msg.Id {
		t.Errorf("webhook-id = %q, want the message id %q", id, msg.Id)
	}
	var payload map[string]any
	if err := json.Unmarshal(got.Body, &payload); err != nil || payload["paymentId"] != "pay_1" {
		t.Errorf("payload = %s (%v)", got.Body, err)
	}
	// It was owed to that endpoint alone: deliveries are decided when a
	// message is accepted, so the other endpoint, without one, gets nothing.
	dests, err := sx.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, msg.Id, nil)
	if err != nil || len(dests.Data) != 1 || dests.Data[0].Id != epCaptured.Id {
		t.Fatalf("destinations of the message = %+v (%v), want %s alone, not %s", dests, err, epCaptured.Id, epReady.Id)
	}

	// The same eventId again is a conflict, and nothing is sent twice.
	_, err = sx.Message.Create(ctx, app.Id, svix.MessageIn{
		EventType: "payment.captured",
		EventId:   ptr("evt-1"),
		Payload:   map[string]any{"paymentId": "pay_1", "amount": 2599, "currency": "EUR"},
	}, nil)
	if se := (*svix.Error)(nil); !errors.As(err, &se) || se.Status() != http.StatusConflict {
		t.Fatalf("repeat eventId: %v, want a 409 error", err)
	}
	// Nothing was written: one message still, owed once.
	msgs, err := sx.Message.List(ctx, app.Id, nil)
	if err != nil || len(msgs.Data) != 1 {
		t.Fatalf("messages after the repeat = %+v (%v), want the first alone", msgs, err)
	}

	// The attempt is logged.
	var attempts *svix.ListResponseMessageAttemptOut
	waitFor(t, "the attempt to be listed", func() bool {
		attempts, err = sx.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, nil)
		return err == nil && len(attempts.Data) == 1
	})
	a := attempts.Data[0]
	if a.ResponseStatusCode != 200 || a.Status != svix.MessageStatus(0) || a.EndpointId != epCaptured.Id || a.TriggerType != 0 {
		t.Errorf("attempt = %+v", a)
	}
	if !strings.Contains(a.Response, `"ok":true`) {
		t.Errorf("attempt response excerpt = %q", a.Response)
	}

	// Resend by hand: a new, manual attempt.
	if _, err := sx.MessageAttempt.Resend(ctx, app.Id, msg.Id, epCaptured.Id, nil); err != nil {
		t.Fatalf("resend: %v", err)
	}
	if got := captured.next(t); got.Header.Get("webhook-id") != msg.Id {
		t.Errorf("resent webhook-id = %q", got.Header.Get("webhook-id"))
	}
	waitFor(t, "the manual attempt to be listed", func() bool {
		attempts, err = sx.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, nil)
		return err == nil && len(attempts.Data) == 2
	})
	if attempts.Data[0].TriggerType != 1 {
		t.Errorf("newest attempt trigger = %v, want manual (1)", attempts.Data[0].TriggerType)
	}

	// Recover: a failed manual try leaves the message failed at the endpoint;
	// recovering since before it sends it again, now successfully.
	since := time.Now().Add(-time.Minute)
	ready.setStatus(http.StatusInternalServerError)
	orderMsg, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "order.ready", Payload: map[string]any{"orderId": "ord_7"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ready.next(t) // first, failing try; the next is scheduled seconds away
	if _, err := sx.MessageAttempt.Resend(ctx, app.Id, orderMsg.Id, epReady.Id, nil); err != nil {
		t.Fatal(err)
	}
	ready.next(t) // manual, failing: the message is now failed at the endpoint
	waitFor(t, "the message to be failed at the endpoint", func() bool {
		dests, err := sx.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, orderMsg.Id, nil)
		return err == nil && len(dests.Data) == 1 && dests.Data[0].Status == svix.MessageStatus(2)
	})
	ready.setStatus(http.StatusOK)
	if _, err := sx.Endpoint.Recover(ctx, app.Id, epReady.Id, svix.RecoverIn{Since: since}, nil); err != nil {
		t.Fatalf("recover: %v", err)
	}
	if got := ready.next(t); got.Header.Get("webhook-id") != orderMsg.Id {
		t.Errorf("recovered webhook-id = %q", got.Header.Get("webhook-id"))
	}
	waitFor(t, "the recovered message to succeed", func() bool {
		dests, err := sx.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, orderMsg.Id, nil)
		return err == nil && len(dests.Data) == 1 && dests.Data[0].Status == svix.MessageStatus(0)
	})

	// Rotate the secret: for the grace period both secrets sign, so a
	// receiver still holding the old one keeps accepting.
	if err := sx.Endpoint.RotateSecret(ctx, app.Id, epCaptured.Id, svix.EndpointSecretRotateIn{}, nil); err != nil {
		t.Fatalf("rotate secret: %v", err)
	}
	newSecret, err := sx.Endpoint.GetSecret(ctx, app.Id, epCaptured.Id)
	if err != nil || newSecret.Key == secret.Key {
		t.Fatalf("secret after rotation: %v, %v", err, newSecret)
	}
	if _, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "payment.captured", Payload: map[string]any{"paymentId": "pay_2"}}, nil); err != nil {
		t.Fatal(err)
	}
	got = captured.next(t)
	if n := len(strings.Fields(got.Header.Get("webhook-signature"))); n != 2 {
		t.Errorf("webhook-signature has %d signatures during rotation, want 2: %q", n, got.Header.Get("webhook-signature"))
	}
	for _, key := range []string{secret.Key, newSecret.Key} {
		wh, _ := svix.NewWebhook(key)
		if err := wh.Verify(got.Body, got.Header); err != nil {
			t.Errorf("signature does not verify with %s secret: %v", map[bool]string{true: "old", false: "new"}[key == secret.Key], err)
		}
	}
}

// TestSvixSDKPagination lists applications page by page with the SDK and
// checks every application is seen exactly once, in both orders.
func TestSvixSDKPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startTestServer(t)
	sx := svixClient(t, srv)

	want := map[string]bool{}
	for i := range 7 {
		app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "app " + string(rune('a'+i))}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want[app.Id] = true
	}
	for _, order := range []svix.Ordering{"ascending", "descending"} {
		seen := map[string]bool{}
		var ids []string
		var iter *string
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			page, err := sx.Application.List(ctx, &svix.ApplicationListOptions{Limit: ptr[uint64](3), Iterator: iter, Order: &order})
			if err != nil {
				t.Fatalf("list %s: %v", order, err)
			}
			for _, a := range page.Data {
				if seen[a.Id] {
					t.Fatalf("%s: %s listed twice", order, a.Id)
				}
				seen[a.Id] = true
				ids = append(ids, a.Id)
			}
			if page.Done {
				break
			}
			iter = page.Iterator
		}
		if len(seen) != len(want) {
			t.Fatalf("%s: saw %d applications, want %d", order, len(seen), len(want))
		}
		for i := 1; i < len(ids); i++ {
			if (order == "ascending") != (ids[i-1] < ids[i]) {
				t.Fatalf("%s: %s then %s out of order", order, ids[i-1], ids[i])
			}
		}
	}
}
