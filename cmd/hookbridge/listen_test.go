package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	svix "github.com/svix/svix-webhooks/go"
)

// syncBuffer is an output that listen writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records decodes the JSON lines listen --json has printed so far.
func (b *syncBuffer) records(t *testing.T) []listenRecord {
	t.Helper()
	var recs []listenRecord
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var r listenRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("listen --json printed %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// listening runs `hookbridge listen` with args against srv until the test
// ends or stop is called, and waits for its endpoint to exist. It returns
// the endpoint, listen's output, and stop, which returns listen's exit
// status.
func listening(t *testing.T, srv *server, app string, args ...string) (ep *svix.EndpointOut, out *syncBuffer, stop func() int) {
	t.Helper()
	sx := svixClient(t, srv)
	out, errOut := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	args = append([]string{"listen", "--url", "http://" + srv.Addr, "--api-key", testAPIKey, "--app", app, "--json"}, args...)
	go func() { code <- run(ctx, args, out, errOut) }()
	var once sync.Once
	status := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			status = <-code
		})
		return status
	}
	t.Cleanup(func() { stop() })
	waitFor(t, "listen's endpoint", func() bool {
		if strings.Contains(errOut.String(), "Press Ctrl-C") {
			return true
		}
		select {
		case c := <-code:
			t.Fatalf("listen exited %d: %s", c, errOut.String())
		default:
		}
		return false
	})
	list, err := sx.Endpoint.List(context.Background(), app, nil)
	if err != nil || len(list.Data) != 1 {
		t.Fatalf("endpoints while listening: %v, %v; want listen's one", list, err)
	}
	if secret := errOut.String(); !strings.Contains(secret, "Signing secret: whsec_") {
		t.Errorf("listen did not print the signing secret: %s", secret)
	}
	return &list.Data[0], out, stop
}

// serverWithShop starts a server with one application, uid "shop", and
// returns it with an admin SDK client and the application.
func serverWithShop(t *testing.T) (*server, *svix.Svix, *svix.ApplicationOut) {
	t.Helper()
	srv := startTestServer(t)
	sx := svixClient(t, srv)
	app, err := sx.Application.Create(context.Background(), svix.ApplicationIn{Name: "shop", Uid: ptr("shop")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return srv, sx, app
}

// TestListen: listen receives the application's deliveries of the types
// it asked for, checks their signatures, refuses what is not signed, and
// deletes its endpoint when stopped.
func TestListen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, sx, app := serverWithShop(t)
	ep, out, stop := listening(t, srv, "shop", "--events", "payment.captured")
	if len(ep.FilterTypes) != 1 || ep.FilterTypes[0] != "payment.captured" {
		t.Errorf("listen's endpoint filters %v, want payment.captured", ep.FilterTypes)
	}

	skipped, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "order.created", Payload: map[string]any{"order": "o_1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "payment.captured", Payload: map[string]any{"paymentId": "pay_1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery to be printed", func() bool { return len(out.records(t)) >= 1 })
	// A request that is not signed by the endpoint's secret is refused.
	resp, err := http.Post(ep.Url, "application/json", strings.NewReader(`{"forged":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned request answered %d, want 401", resp.StatusCode)
	}

	if code := stop(); code != 0 {
		t.Errorf("listen exited %d when stopped, want 0", code)
	}
	recs := out.records(t)
	if len(recs) != 2 {
		t.Fatalf("listen printed %d deliveries, want the captured payment and the forgery: %+v", len(recs), recs)
	}
	if r := recs[0]; r.WebhookID != msg.Id || !r.Verified || r.Status != http.StatusOK || !strings.Contains(string(r.Payload), `"pay_1"`) {
		t.Errorf("first delivery printed as %+v, want %s verified and answered 200", r, msg.Id)
	}
	if r := recs[1]; r.Verified || r.Status != http.StatusUnauthorized || !strings.Contains(r.Error, "signature") {
		t.Errorf("forgery printed as %+v, want refused for its signature", r)
	}
	for _, r := range recs {
		if r.WebhookID == skipped.Id {
			t.Errorf("received %s, of a type listen did not ask for", skipped.Id)
		}
	}
	list, err := sx.Endpoint.List(ctx, app.Id, nil)
	if err != nil || len(list.Data) != 0 {
		t.Errorf("endpoints after listen stopped: %+v, %v; want none", list, err)
	}
}

// TestListenForwardsAndAnswers: with --forward-to the receiver gets the
// delivery with its signature headers, and the server records the
// receiver's answer; with --status, the answer listen was told to give.
func TestListenForwardsAndAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startTestServer(t)
	sx := svixClient(t, srv)
	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "shop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recv := newReceiver(t)
	recv.setStatus(http.StatusAccepted)
	_, out, stop := listening(t, srv, app.Id, "--forward-to", recv.URL+"/webhooks")
	msg, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "payment.captured", Payload: map[string]any{"n": 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := recv.next(t)
	if got.Header.Get("webhook-id") != msg.Id || got.Header.Get("webhook-signature") == "" {
		t.Errorf("forwarded headers %v, want the delivery's webhook-id and signature", got.Header)
	}
	var attempts *svix.ListResponseMessageAttemptOut
	waitFor(t, "the attempt", func() bool {
		attempts, err = sx.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, nil)
		return err == nil && len(attempts.Data) == 1
	})
	if a := attempts.Data[0]; a.ResponseStatusCode != http.StatusAccepted || !strings.Contains(a.Response, `"ok":true`) {
		t.Errorf("attempt %+v, want the receiver's 202 and body", a)
	}
	waitFor(t, "the delivery to be printed", func() bool { return len(out.records(t)) == 1 })
	if r := out.records(t)[0]; r.ForwardStatus != http.StatusAccepted || r.Status != http.StatusAccepted {
		t.Errorf("printed %+v, want forward_status and status 202", r)
	}
	stop()

	// --status: the server sees the failure listen was told to answer.
	_, _, stop = listening(t, srv, app.Id, "--status", "503")
	failing, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "payment.captured", Payload: map[string]any{"n": 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed attempt", func() bool {
		attempts, err = sx.MessageAttempt.ListByMsg(ctx, app.Id, failing.Id, nil)
		return err == nil && len(attempts.Data) == 1
	})
	if a := attempts.Data[0]; a.ResponseStatusCode != http.StatusServiceUnavailable {
		t.Errorf("attempt %+v, want the 503 listen answered", a)
	}
	stop()
}

// TestListenRefusesBadFlags: listen needs an application and sensible
// URLs, and says so before it contacts anything.
func TestListenRefusesBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--api-key", "k"},
		{"--app", "shop"},
		{"--api-key", "k", "--app", "shop", "--forward-to", "localhost:3000"},
		{"--api-key", "k", "--app", "shop", "--endpoint-url", "ftp://x"},
		{"--api-key", "k", "--app", "shop", "--status", "99"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"listen"}, args...), &stdout, &stderr); code != 2 {
			t.Errorf("listen %v exited %d, want 2\n%s", args, code, stderr.String())
		}
	}
}

// TestListenWithApplicationKey: listen needs nothing but the application's
// own key, which a consumer developing its receiver may be given.
func TestListenWithApplicationKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, sx, app := serverWithShop(t)
	access, err := sx.Authentication.AppPortalAccess(ctx, "shop", svix.AppPortalAccessIn{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, out, stop := listening(t, srv, "shop", "--api-key", access.Token)
	msg, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "payment.captured", Payload: map[string]any{"n": 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery to be printed", func() bool { return len(out.records(t)) == 1 })
	if r := out.records(t)[0]; r.WebhookID != msg.Id || !r.Verified {
		t.Errorf("printed %+v, want %s verified", r, msg.Id)
	}
	if code := stop(); code != 0 {
		t.Errorf("listen exited %d", code)
	}
	if list, err := sx.Endpoint.List(ctx, app.Id, nil); err != nil || len(list.Data) != 0 {
		t.Errorf("endpoints after listen stopped: %+v, %v; want none", list, err)
	}
}
