package api

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
)

// TestEventTypeRetrySchedule: the schedule is set on create, read and
// replaced at …/retry-schedule, kept by PUT and PATCH of the event type
// unless given, removed by DELETE or null, and never shown in EventTypeOut.
// Every change is told to the dispatcher.
func TestEventTypeRetrySchedule(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		changed []string
	)
	e := newEnv(t, func(c *Config) {
		c.RetryScheduleChanged = func(name string) {
			mu.Lock()
			changed = append(changed, name)
			mu.Unlock()
		}
	})
	const path = "/api/v1/event-type/payout.paid/retry-schedule"
	schedule := func() any {
		t.Helper()
		return e.do("GET", path, nil).want(http.StatusOK).object()["retrySchedule"]
	}
	wantSchedule := func(what string, want ...string) {
		t.Helper()
		got, _ := schedule().([]any)
		var s []string
		for _, v := range got {
			s = append(s, v.(string))
		}
		if !slices.Equal(s, want) {
			t.Errorf("%s: retrySchedule %v, want %v", what, s, want)
		}
	}

	created := e.do("POST", "/api/v1/event-type", obj{"name": "payout.paid", "description": "Paid out.",
		"retrySchedule": []string{"30s", "90s", "1h", "168h"}}).want(http.StatusCreated).object()
	if _, ok := created["retrySchedule"]; ok {
		t.Errorf("EventTypeOut shows the input-only retrySchedule: %v", created)
	}
	wantSchedule("created", "30s", "1m30s", "1h", "168h")
	et, err := e.store.GetEventType(t.Context(), "payout.paid")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(et.RetrySchedule, []time.Duration{30 * time.Second, 90 * time.Second, time.Hour, 168 * time.Hour}) {
		t.Errorf("stored %v", et.RetrySchedule)
	}

	e.do("PUT", path, obj{"retrySchedule": []string{"5s", "5m"}}).want(http.StatusNoContent)
	wantSchedule("after PUT …/retry-schedule", "5s", "5m")
	e.do("PUT", "/api/v1/event-type/payout.paid", obj{"description": "Paid."}).want(http.StatusOK)
	e.do("PATCH", "/api/v1/event-type/payout.paid", obj{"deprecated": true}).want(http.StatusOK)
	wantSchedule("kept by PUT and PATCH without it", "5s", "5m")
	e.do("PATCH", "/api/v1/event-type/payout.paid", obj{"retrySchedule": []string{}}).want(http.StatusOK)
	if got := schedule(); got == nil || len(got.([]any)) != 0 {
		t.Errorf("after PATCH []: %v, want [] (one try, no retry)", got)
	}
	e.do("PATCH", "/api/v1/event-type/payout.paid", obj{"retrySchedule": nil}).want(http.StatusOK)
	if got := schedule(); got != nil {
		t.Errorf("after PATCH null: %v, want null", got)
	}
	e.do("PUT", "/api/v1/event-type/payout.paid", obj{"description": "Paid.", "retrySchedule": []string{"1m"}}).want(http.StatusOK)
	wantSchedule("after PUT with it", "1m")
	e.do("DELETE", path, nil).want(http.StatusNoContent)
	if got := schedule(); got != nil {
		t.Errorf("after DELETE: %v, want null", got)
	}
	e.do("GET", "/api/v1/event-type/no.such/retry-schedule", nil).want(http.StatusNotFound)
	e.do("PUT", "/api/v1/event-type/no.such/retry-schedule", obj{"retrySchedule": []string{"1s"}}).want(http.StatusNotFound)

	mu.Lock()
	defer mu.Unlock()
	if len(changed) != 8 || slices.ContainsFunc(changed, func(n string) bool { return n != "payout.paid" }) {
		t.Errorf("dispatcher told of %v, want payout.paid 8 times (every write)", changed)
	}
}

// TestEventTypeRetryScheduleRefused: wrong delays are 422 naming the
// delay, on the sub-resource and on the event type's own routes alike.
func TestEventTypeRetryScheduleRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createEventType("payout.paid")
	const path = "/api/v1/event-type/payout.paid/retry-schedule"
	many := make([]string, hookbridge.MaxRetryDelays+1)
	for i := range many {
		many[i] = "1s"
	}
	for _, tc := range []struct {
		method, path string
		body         obj
		loc, msg     string
	}{
		{"PUT", path, obj{"retrySchedule": []string{"5s", "10x"}}, "body.retrySchedule.1", "not a duration"},
		{"PUT", path, obj{"retrySchedule": []string{"0s"}}, "body.retrySchedule.0", "is not from 1ms to 168h"},
		{"PUT", path, obj{"retrySchedule": []string{"1s", "-5m"}}, "body.retrySchedule.1", "is not from"},
		{"PUT", path, obj{"retrySchedule": []string{"169h"}}, "body.retrySchedule.0", "is not from"},
		{"PUT", path, obj{"retrySchedule": many}, "body.retrySchedule", "at most 50"},
		{"PUT", path, obj{"retrySchedule": nil}, "body.retrySchedule", "DELETE"},
		{"PUT", path, obj{}, "body.retrySchedule", "field required"},
		{"POST", "/api/v1/event-type", obj{"name": "x.y", "description": "", "retrySchedule": []string{"soon"}}, "body.retrySchedule.0", "not a duration"},
		{"PATCH", "/api/v1/event-type/payout.paid", obj{"retrySchedule": []string{"1s", "2s", "1000h"}}, "body.retrySchedule.2", "is not from"},
	} {
		r := e.do(tc.method, tc.path, tc.body).want(http.StatusUnprocessableEntity)
		if locs := validationLocs(t, r); !slices.Equal(locs, []string{tc.loc}) || !strings.Contains(string(r.Body), tc.msg) {
			t.Errorf("%s %s %v: %v %s, want %s saying %q", tc.method, tc.path, tc.body, locs, r.Body, tc.loc, tc.msg)
		}
	}
	e.do("PUT", path, obj{"retrySchedule": "5s,5m"}).want(http.StatusUnprocessableEntity)
	if got := e.do("GET", path, nil).want(http.StatusOK).object()["retrySchedule"]; got != nil {
		t.Errorf("a refused schedule was stored: %v", got)
	}
}
