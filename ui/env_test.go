package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/api"
	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/internal/testkit"
	"github.com/hookbridge/hookbridge/netguard"
	"github.com/hookbridge/hookbridge/postgres"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/replay"
	"github.com/hookbridge/hookbridge/sqlite"
)

const testAdminKey = "hbk_ui_test_key_0123456789abcdef"

// stack is the whole server as serve wires it: a real SQLite store, a real
// dispatcher (loopback allow-listed, so that httptest receivers can be
// reached), the API and the UI, behind one httptest server.
type stack struct {
	t     *testing.T
	URL   string
	store hookbridge.Store
	api   *api.Server
	ui    *Handler
	clock *clock
	logs  *syncBuffer
}

// clock is a settable clock that follows real time from an offset, so the
// dispatcher (on real time) and the API and UI (on this clock) agree until
// a test moves it forward.
type clock = testkit.Clock

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stackOptions change how newStack builds the server.
type stackOptions struct {
	ui       func(*Config)
	seed     func(*stack) // runs before the dispatcher starts
	postgres bool
	retry    dispatch.RetryPolicy
	oidc     *idp // sign-in through this provider (oidc_test.go)
	noKey    bool // the admin key sign-in turned off
}

type stackOption func(*stackOptions)

func withFrameAncestors(fa string) stackOption {
	return func(o *stackOptions) { o.ui = func(c *Config) { c.FrameAncestors = fa } }
}

// onPostgres runs the stack on a PostgreSQL schema of its own instead of
// SQLite.
func onPostgres() stackOption {
	return func(o *stackOptions) { o.postgres = true }
}

// withoutRetries makes the dispatcher give a delivery up after its first
// failed try, so that a failing receiver's messages fail at once.
func withoutRetries() stackOption {
	return func(o *stackOptions) { o.retry = &dispatch.Schedule{} }
}

// withSeed fills the store before the dispatcher starts, so that the seed
// may claim and record deliveries itself.
func withSeed(seed func(*stack)) stackOption {
	return func(o *stackOptions) { o.seed = seed }
}

func newStack(t *testing.T, opts ...stackOption) *stack {
	t.Helper()
	ctx := context.Background()
	var o stackOptions
	for _, opt := range opts {
		opt(&o)
	}
	var (
		store hookbridge.Store
		err   error
	)
	if o.postgres {
		store, err = postgres.Open(ctx, pgtest.Schema(t))
	} else {
		store, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookbridge.db"))
	}
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	st := &stack{t: t, store: store, clock: &clock{}, logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(st.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	guard := netguard.New(netip.MustParsePrefix("127.0.0.0/8"))
	disp, err := dispatch.New(dispatch.Config{Store: store, Guard: guard, Workers: 4, RequestTimeout: 5 * time.Second, Retry: o.retry, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	keyHash := hookbridge.HashKey(testAdminKey)
	replayer := replay.New(replay.Config{Store: store, Wake: disp.Wake, Logger: logger})
	st.api = api.New(api.Config{Store: store, Guard: guard, AdminKeyHash: keyHash, Wake: disp.Wake, TaskCreated: replayer.Kick,
		Now: st.clock.Now, Logger: logger})
	// The server's address is known before the UI is made, for the
	// redirect URL it registers with an identity provider.
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	st.URL = "http://" + srv.Listener.Addr().String()
	cfg := Config{Store: store, API: st.api, AdminKeyHash: keyHash, Now: st.clock.Now, Logger: logger,
		NoAdminKeySignIn: o.noKey}
	if o.oidc != nil {
		cfg.OIDC = o.oidc.register(st.URL + OIDCCallbackPath)
	}
	if o.ui != nil {
		o.ui(&cfg)
	}
	if st.ui, err = New(ctx, cfg); err != nil {
		t.Fatalf("ui.New: %v", err)
	}
	mux.Handle("/", st.api)
	st.ui.Register(mux)
	srv.Start()

	dctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	replayDone := make(chan struct{})
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("dispatcher: %v", err)
		}
		<-replayDone
		store.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", st.logs.String())
		}
	})
	for _, et := range hookbridge.CanonicalEventTypes {
		st.admin("POST", "/api/v1/event-type", map[string]any{"name": et.Name, "description": et.Description}, http.StatusCreated)
	}
	if o.seed != nil {
		o.seed(st)
	}
	go func() { done <- disp.Run(dctx) }()
	go func() { replayer.Run(dctx); close(replayDone) }()
	return st
}

// admin calls the API with the admin key, checks the status and decodes
// the answer (when there is one) into a map.
func (st *stack) admin(method, path string, body any, want int) map[string]any {
	st.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, st.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		st.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		st.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	var out map[string]any
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out)
	}
	return out
}

// app creates an application and returns its id.
func (st *stack) app(name, uid string) string {
	st.t.Helper()
	return st.admin("POST", "/api/v1/app", map[string]any{"name": name, "uid": uid}, http.StatusCreated)["id"].(string)
}

// portalLink returns the path and query of a portal link for the app.
func (st *stack) portalLink(app string, body map[string]any) string {
	st.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	out := st.admin("POST", "/api/v1/auth/app-portal-access/"+app, body, http.StatusOK)
	u, err := url.Parse(out["url"].(string))
	if err != nil {
		st.t.Fatal(err)
	}
	return u.RequestURI()
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see each answer.
type browser struct {
	t      *testing.T
	st     *stack
	client *http.Client
}

func (st *stack) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: st.t, st: st, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is one answer.
type page struct {
	Status   int
	Location string
	Body     string
	Header   http.Header
}

func (b *browser) do(method, path string, form url.Values, header map[string]string) page {
	b.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.st.URL+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(raw), Header: resp.Header}
}

func (b *browser) get(path string) page { b.t.Helper(); return b.do("GET", path, nil, nil) }

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	return b.do("POST", path, form, nil)
}

// want fails the test unless the page has the status.
func (p page) want(t *testing.T, status int) page {
	t.Helper()
	if p.Status != status {
		body := p.Body
		if len(body) > 2000 {
			body = body[:2000]
		}
		t.Fatalf("status %d, want %d (location %q); body:\n%s", p.Status, status, p.Location, body)
	}
	return p
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of a page's forms.
func (p page) csrf(t *testing.T) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", p.Body)
	}
	return m[1]
}

// signIn signs the browser in to the dashboard.
func (b *browser) signIn() {
	b.t.Helper()
	p := b.post("/ui/login", url.Values{"key": {testAdminKey}, "next": {"/ui/"}}).want(b.t, http.StatusSeeOther)
	if p.Location != "/ui/" {
		b.t.Fatalf("sign-in went to %q", p.Location)
	}
}

// openPortal opens a portal link and checks it lands on the portal.
func (b *browser) openPortal(link string) {
	b.t.Helper()
	p := b.get(link).want(b.t, http.StatusSeeOther)
	if p.Location != "/portal/" {
		b.t.Fatalf("portal link went to %q", p.Location)
	}
}

// receiver is a local webhook receiver answering 200, recording what it
// gets.
type receiver struct {
	*httptest.Server
	got chan []byte
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{got: make(chan []byte, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"received":true}`)
		r.got <- body
	}))
	t.Cleanup(r.Close)
	return r
}

// next waits for the next delivery, with a deadline that only bounds a
// broken run.
func (r *receiver) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-r.got:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver got nothing within 10s")
		return nil
	}
}

// waitFor polls cond until it holds, failing after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, cond)
}
