package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/internal/testkit"
	"github.com/hookbridge/hookbridge/sqlite"
)

const testKey = "hbk_test-admin-key"

// env is one API server over a fresh SQLite store.
type env struct {
	t     testing.TB
	store hookbridge.Store
	api   *Server
	clock *clock
	wakes atomic.Int64
	logs  *bytes.Buffer
	// internalErrors is set by the tests that provoke a 500 on purpose:
	// their 500s are not held against the contract.
	internalErrors bool
}

// clock is the settable test clock.
type clock = testkit.Clock

type envOption func(*Config)

func withMaxPayload(n int64) envOption { return func(c *Config) { c.MaxPayload = n } }

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookbridge.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	return newEnvOn(t, store, opts...)
}

// newEnvOn is newEnv over a store the caller opened.
func newEnvOn(t testing.TB, store hookbridge.Store, opts ...envOption) *env {
	t.Helper()
	e := &env{
		t:     t,
		store: store,
		clock: testkit.NewClockNow(),
		logs:  &bytes.Buffer{},
	}
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: e.logs}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := Config{
		Store:        store,
		AdminKeyHash: hookbridge.HashKey(testKey),
		Wake:         func() { e.wakes.Add(1) },
		Now:          e.clock.Now,
		Logger:       logger,
		Version:      "test",
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.api = New(cfg)
	return e
}

// lockedWriter serialises writes to the log buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// response is a recorded answer.
type response struct {
	t      testing.TB
	Status int
	Header http.Header
	Body   []byte
}

// decode unmarshals the body into v.
func (r *response) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// object decodes the body as a JSON object.
func (r *response) object() map[string]any {
	r.t.Helper()
	var m map[string]any
	r.decode(&m)
	return m
}

// want fails the test unless the status is status.
func (r *response) want(status int) *response {
	r.t.Helper()
	if r.Status != status {
		r.t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
	}
	return r
}

// do sends a request with the admin key. body is marshalled unless it is a
// string (sent as is) or nil.
func (e *env) do(method, path string, body any) *response {
	e.t.Helper()
	return e.doWith(method, path, body, map[string]string{"Authorization": "Bearer " + testKey})
}

func (e *env) doWith(method, path string, body any, headers map[string]string) *response {
	e.t.Helper()
	return e.doFrom("", method, path, body, headers)
}

// doFrom is doWith from the client address remote (host:port; ""
// keeps httptest's 192.0.2.1:1234).
func (e *env) doFrom(remote, method, path string, body any, headers map[string]string) *response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if remote != "" {
		req.RemoteAddr = remote
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	check := req.Clone(req.Context())
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || !e.internalErrors {
		checkContract(e.t, e.api, check, rec.Code, rec.Header(), rec.Body.Bytes())
	}
	return &response{t: e.t, Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// obj is shorthand for a JSON object literal.
type obj = map[string]any

// createApp creates an application and returns its JSON.
func (e *env) createApp(name, uid string) map[string]any {
	e.t.Helper()
	body := obj{"name": name}
	if uid != "" {
		body["uid"] = uid
	}
	return e.do("POST", "/api/v1/app", body).want(http.StatusCreated).object()
}

// createEndpoint creates an endpoint of app and returns its JSON.
func (e *env) createEndpoint(appID string, body obj) map[string]any {
	e.t.Helper()
	if _, ok := body["url"]; !ok {
		body["url"] = "https://receiver.example.com/hook"
	}
	return e.do("POST", "/api/v1/app/"+appID+"/endpoint", body).want(http.StatusCreated).object()
}

// createEventType adds an event type to the catalogue.
func (e *env) createEventType(name string) {
	e.t.Helper()
	e.do("POST", "/api/v1/event-type", obj{"name": name, "description": "test type " + name}).want(http.StatusCreated)
}

// sendMessage creates a message and returns its JSON.
func (e *env) sendMessage(appID string, body obj) map[string]any {
	e.t.Helper()
	if _, ok := body["payload"]; !ok {
		body["payload"] = obj{"n": 1}
	}
	if _, ok := body["eventType"]; !ok {
		body["eventType"] = "order.created"
	}
	return e.do("POST", "/api/v1/app/"+appID+"/msg", body).want(http.StatusAccepted).object()
}

// deliver plays the dispatcher: it claims every due delivery and records
// one attempt for each with the given HTTP status (0: no response), the
// delivery ending in success for a 2xx and in failure otherwise.
func (e *env) deliver(statusCode int) []hookbridge.Attempt {
	e.t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	claims, err := e.store.ClaimDeliveries(ctx, "test", now, time.Minute, 100)
	if err != nil {
		e.t.Fatalf("claim: %v", err)
	}
	var results []hookbridge.AttemptResult
	var attempts []hookbridge.Attempt
	for _, c := range claims {
		st := hookbridge.StatusFail
		if statusCode >= 200 && statusCode < 300 {
			st = hookbridge.StatusSuccess
		}
		a := hookbridge.Attempt{
			ID:         hookbridge.NewIDAt(hookbridge.PrefixAttempt, now),
			DeliveryID: c.Delivery.ID,
			AppID:      c.Delivery.AppID,
			MsgID:      c.Delivery.MsgID,
			EndpointID: c.Delivery.EndpointID,
			URL:        c.Endpoint.URL,
			Status:     st,
			Trigger:    c.Delivery.Trigger,
			StatusCode: statusCode,
			Response:   `{"ok":true}`,
			DurationMS: 12,
			CreatedAt:  now,
		}
		attempts = append(attempts, a)
		results = append(results, hookbridge.AttemptResult{DeliveryID: c.Delivery.ID, Attempt: &a, Status: st})
	}
	if len(results) > 0 {
		rejected, err := e.store.RecordAttempts(ctx, "test", results)
		if err != nil || len(rejected) > 0 {
			e.t.Fatalf("record attempts: rejected %v, err %v", rejected, err)
		}
	}
	return attempts
}

// str returns m[key] as a string.
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// validationLocs returns the locations named by a 422 body, each joined
// with ".".
func validationLocs(t *testing.T, r *response) []string {
	t.Helper()
	var body struct {
		Detail []struct {
			Loc  []string `json:"loc"`
			Msg  string   `json:"msg"`
			Type string   `json:"type"`
		} `json:"detail"`
	}
	r.decode(&body)
	var locs []string
	for _, d := range body.Detail {
		if d.Msg == "" || d.Type == "" {
			t.Errorf("validation item without msg or type: %s", r.Body)
		}
		locs = append(locs, strings.Join(d.Loc, "."))
	}
	return locs
}
