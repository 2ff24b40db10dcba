package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/postgres"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
)

// TestReadinessProbesAtMostOncePerInterval: however often readiness is
// asked, the store's write probe runs at most once per ReadyInterval, and a
// write refused as EUNAVAILABLE stands as the answer until then.
func TestReadinessProbesAtMostOncePerInterval(t *testing.T) {
	t.Parallel()
	var rd readiness
	probes := 0
	var answer error
	probe := func(context.Context) error { probes++; return answer }
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		if err, _ := rd.check(t.Context(), t0.Add(time.Duration(i)*ReadyInterval/10), probe); err != nil {
			t.Fatalf("check %d: %v", i, err)
		}
	}
	if probes != 1 {
		t.Errorf("%d probes within one interval, want 1", probes)
	}
	down := hookbridge.Errorf(hookbridge.EUNAVAILABLE, "disk full")
	rd.failed(t0.Add(ReadyInterval), down)
	if err, probed := rd.check(t.Context(), t0.Add(ReadyInterval+time.Second), probe); err != down || probed {
		t.Errorf("after a refused write: %v (probed %v), want the refusal, not probed", err, probed)
	}
	if err, probed := rd.check(t.Context(), t0.Add(2*ReadyInterval), probe); err != nil || !probed || probes != 2 {
		t.Errorf("an interval after the refusal: %v (probed %v, %d probes), want a new probe's answer", err, probed, probes)
	}
}

// TestReadinessAnswers: a store that writes is ready (204), and liveness
// and readiness are both public.
func TestReadinessAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.doWith("GET", "/api/v1/health/ready", nil, map[string]string{"Authorization": ""}).want(http.StatusNoContent)
	e.doWith("GET", "/api/v1/health", nil, map[string]string{"Authorization": ""}).want(http.StatusNoContent)
}

// TestReadOnlyStore: on a PostgreSQL that refuses writes (read-only, as a
// standby or a primary in recovery is), a write is 503 with Retry-After,
// as the OpenAPI document declares, not 500; readiness is 503 and
// liveness 204; reads go on.
func TestReadOnlyStore(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	writable, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { writable.Close() })
	w := newEnvOn(t, writable)
	app := w.createApp("Shop", "shop")

	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	store, err := postgres.Open(t.Context(), dsn+sep+"default_transaction_read_only=on", postgres.WithoutMigrations())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := newEnvOn(t, store)
	for _, req := range []struct{ method, path string }{
		{"POST", "/api/v1/app"},
		{"POST", "/api/v1/app/" + str(app, "id") + "/msg"},
	} {
		body := obj{"name": "Other", "eventType": "order.paid", "payload": obj{}}
		r := e.do(req.method, req.path, body).want(http.StatusServiceUnavailable)
		if r.Header.Get("Retry-After") == "" || str(r.object(), "code") != hookbridge.EUNAVAILABLE {
			t.Errorf("%s %s: Retry-After %q, body %s", req.method, req.path, r.Header.Get("Retry-After"), r.Body)
		}
	}
	if r := e.doWith("GET", "/api/v1/health/ready", nil, nil).want(http.StatusServiceUnavailable); r.Header.Get("Retry-After") == "" {
		t.Error("readiness 503 without Retry-After")
	}
	e.doWith("GET", "/api/v1/health", nil, nil).want(http.StatusNoContent)
	e.do("GET", "/api/v1/app/"+str(app, "id"), nil).want(http.StatusOK)
	w.doWith("GET", "/api/v1/health/ready", nil, nil).want(http.StatusNoContent)
}
