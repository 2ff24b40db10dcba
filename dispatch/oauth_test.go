package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/dispatch"
)

// tokenServer is a local OAuth 2.0 token endpoint for the client
// credentials grant: it checks the client's credentials, scope and
// audience, and issues tokens tok-1, tok-2, … valid for an hour. While
// down is set it answers 503.
type tokenServer struct {
	*httptest.Server
	issued atomic.Int64
	down   atomic.Bool
	bad    chan string // what it refused, and why
}

func newTokenServer(t *testing.T) *tokenServer {
	t.Helper()
	ts := &tokenServer{bad: make(chan string, 10)}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ts.down.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		id, secret, _ := r.BasicAuth()
		r.ParseForm()
		switch {
		case id != "hookbridge" || secret != "s3cret":
			ts.bad <- "client credentials " + id + ":" + secret
		case r.PostForm.Get("grant_type") != "client_credentials":
			ts.bad <- "grant_type " + r.PostForm.Get("grant_type")
		case r.PostForm.Get("scope") != "webhooks.write orders.read" || r.PostForm.Get("audience") != "https://receiver.example":
			ts.bad <- "scope " + r.PostForm.Get("scope") + ", audience " + r.PostForm.Get("audience")
		default:
			n := ts.issued.Add(1)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "token_type": "Bearer", "expires_in": 3600})
			return
		}
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// bearerReceiver accepts a request only with a token numbered above
// revoked, and reports each token it accepted.
type bearerReceiver struct {
	*httptest.Server
	revoked atomic.Int64
	mu      sync.Mutex
	seen    []string
	refused atomic.Int64
}

func newBearerReceiver(t *testing.T) *bearerReceiver {
	t.Helper()
	br := &bearerReceiver{}
	br.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer tok-")
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil || n <= br.revoked.Load() {
			br.refused.Add(1)
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		br.mu.Lock()
		br.seen = append(br.seen, "tok-"+tok)
		br.mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(br.Close)
	return br
}

func (br *bearerReceiver) tokens() []string {
	br.mu.Lock()
	defer br.mu.Unlock()
	return append([]string(nil), br.seen...)
}

func putOAuth(t *testing.T, e *env, ep *hookbridge.Endpoint, tokenURL string) {
	t.Helper()
	err := e.store.PutEndpointOAuth(context.Background(), e.app.ID, ep.ID, &hookbridge.EndpointOAuth{
		TokenURL: tokenURL, ClientID: "hookbridge", ClientSecret: "s3cret",
		Scopes: []string{"webhooks.write", "orders.read"}, Audience: "https://receiver.example",
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOAuthTokenShared: one token serves many deliveries to the endpoint;
// once it expires (by the dispatcher's clock), the next delivery fetches
// another.
func TestOAuthTokenShared(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ts := newTokenServer(t)
	br := newBearerReceiver(t)
	ep, _ := e.endpoint(br.URL)
	putOAuth(t, e, ep, ts.URL+"/oauth/token")
	var msgs []*hookbridge.Message
	for i := range 20 {
		msgs = append(msgs, e.publish(fmt.Sprintf(`{"n":%d}`, i)))
	}
	d, _ := e.start(dispatch.Config{})
	for _, m := range msgs {
		e.waitStatus(m.ID, ep.ID, hookbridge.StatusSuccess)
	}
	select {
	case why := <-ts.bad:
		t.Fatalf("the token server refused: %s", why)
	default:
	}
	if n := ts.issued.Load(); n != 1 {
		t.Errorf("%d token requests for 20 deliveries, want 1", n)
	}
	for _, tok := range br.tokens() {
		if tok != "tok-1" {
			t.Fatalf("receiver saw %s, want tok-1 every time", tok)
		}
	}

	// An hour later the token has expired: a new one is fetched.
	e.clock.Advance(time.Hour)
	m := e.publish(`{"n":"later"}`)
	d.Wake()
	e.waitStatus(m.ID, ep.ID, hookbridge.StatusSuccess)
	if n := ts.issued.Load(); n != 2 {
		t.Errorf("%d token requests after expiry, want 2", n)
	}
	if got := br.tokens(); got[len(got)-1] != "tok-2" {
		t.Errorf("after expiry the receiver saw %s, want tok-2", got[len(got)-1])
	}
}

// TestOAuthRefreshOn401: a receiver that refuses the token with a 401 gets
// the same request again at once with a fresh one; both make one attempt,
// a success.
func TestOAuthRefreshOn401(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ts := newTokenServer(t)
	br := newBearerReceiver(t)
	ep, _ := e.endpoint(br.URL)
	putOAuth(t, e, ep, ts.URL)
	first := e.publish(`{"n":1}`)
	d, _ := e.start(dispatch.Config{})
	e.waitStatus(first.ID, ep.ID, hookbridge.StatusSuccess)

	br.revoked.Store(1) // tok-1 is no longer accepted
	m := e.publish(`{"n":2}`)
	d.Wake()
	e.waitStatus(m.ID, ep.ID, hookbridge.StatusSuccess)
	as := e.attempts(m.ID)
	if len(as) != 1 || as[0].Status != hookbridge.StatusSuccess || as[0].StatusCode != 200 {
		t.Fatalf("attempts %+v, want one success", as)
	}
	if n, r := ts.issued.Load(), br.refused.Load(); n != 2 || r != 1 {
		t.Errorf("%d tokens issued, %d requests refused; want 2 and 1", n, r)
	}

	// A receiver that refuses the fresh token too: a failed attempt with
	// its 401, retried on the schedule; no third token in a row.
	br.revoked.Store(100)
	m = e.publish(`{"n":3}`)
	d.Wake()
	as = e.waitAttempts(m.ID, 1)
	if a := as[0]; a.Status != hookbridge.StatusFail || a.StatusCode != 401 {
		t.Errorf("attempt %+v, want a failed 401", a)
	}
	if n := ts.issued.Load(); n != 3 {
		t.Errorf("%d tokens issued, want 3", n)
	}
	e.waitStatus(m.ID, ep.ID, hookbridge.StatusSending)
}

// TestOAuthTokenServerDown: no token, no request: a failed attempt that
// says the token request failed and why, retried on the schedule, which
// succeeds once the token server is back.
func TestOAuthTokenServerDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ts := newTokenServer(t)
	ts.down.Store(true)
	br := newBearerReceiver(t)
	ep, _ := e.endpoint(br.URL)
	putOAuth(t, e, ep, ts.URL)
	unreachable, _ := e.endpoint(br.URL)
	putOAuth(t, e, unreachable, "http://"+closedAddr(t)+"/token")
	// The token URL goes through the same guard as deliveries: 127.0.0.2
	// is not allow-listed, only 127.0.0.1.
	guarded, _ := e.endpoint(br.URL)
	putOAuth(t, e, guarded, strings.Replace(ts.URL, "127.0.0.1", "127.0.0.2", 1))
	m := e.publish(`{"n":1}`)
	d, _ := e.start(dispatch.Config{})

	as := e.waitAttempts(m.ID, 3)
	for _, a := range as {
		want := "OAuth token request failed: the token server answered 503 Service Unavailable"
		switch a.EndpointID {
		case unreachable.ID:
			want = "OAuth token request failed: connection refused"
		case guarded.ID:
			want = "OAuth token request failed: refused"
		}
		if a.Status != hookbridge.StatusFail || a.StatusCode != 0 || !strings.HasPrefix(a.Response, want) {
			t.Errorf("attempt %+v, want a failure that starts %q", a, want)
		}
	}
	if r := br.refused.Load() + int64(len(br.tokens())); r != 0 {
		t.Errorf("the receiver got %d requests without a token", r)
	}
	e.waitStatus(m.ID, ep.ID, hookbridge.StatusSending)

	ts.down.Store(false)
	e.clock.Advance(10 * time.Second)
	d.Wake()
	e.waitStatus(m.ID, ep.ID, hookbridge.StatusSuccess)
	if got := br.tokens(); len(got) != 1 || got[0] != "tok-1" {
		t.Errorf("receiver saw %v, want tok-1 once", got)
	}
}
