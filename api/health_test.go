package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
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
