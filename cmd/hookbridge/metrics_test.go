package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge/metrics"
)

// TestMetricsEndpoint: GET /metrics needs the admin key and reports, in
// Prometheus's text format, what this instance did (a message accepted,
// delivered at the first try) and the database's backlog.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startTestServer(t)
	sx := svixClient(t, srv)
	get := func(key string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+srv.Addr+"/metrics", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
	}
	if code, _, _ := get(""); code != http.StatusUnauthorized {
		t.Fatalf("without the key: %d, want 401", code)
	}
	if code, _, _ := get("hbk_wrong_0123456789abcdefghij"); code != http.StatusUnauthorized {
		t.Fatalf("with a wrong key: %d, want 401", code)
	}
	if _, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Keyed", Uid: ptr("keyed")}, nil); err != nil {
		t.Fatal(err)
	}
	access, err := sx.Authentication.AppPortalAccess(ctx, "keyed", svix.AppPortalAccessIn{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get(access.Token); code != http.StatusForbidden {
		t.Fatalf("with an application's key: %d, want 403", code)
	}

	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Shop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recv := newReceiver(t)
	if _, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: recv.URL}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "order.created", Payload: map[string]any{"id": 1}}, nil); err != nil {
		t.Fatal(err)
	}
	recv.next(t)

	want := []string{
		"hookbridge_messages_accepted_total 1\n",
		"hookbridge_messages_unknown_event_type_total 0\n", // order.created is seeded
		`hookbridge_http_requests_total{route="POST /api/v1/app/{app_id}/msg",code="2xx"} 1` + "\n",
		`hookbridge_delivery_attempt_duration_seconds_count 1` + "\n",
		`hookbridge_deliveries_queued{status="pending"} 0` + "\n",
		"hookbridge_deliveries_due 0\n",
		"hookbridge_store_up 1\n",
		"hookbridge_operational_events_pending 0\n",
		"# TYPE hookbridge_delivery_attempt_duration_seconds histogram\n",
	}
	var body string
	// The attempt is counted when it ends, its result written just after;
	// the endpoint's endpoint.created is relayed (dropped: no operational
	// endpoint listens) soon after it was recorded.
	waitFor(t, "the attempt to be counted and recorded", func() bool {
		code, ctype, b := get(testAPIKey)
		if code != http.StatusOK || ctype != metrics.ContentType {
			t.Fatalf("GET /metrics: %d %q", code, ctype)
		}
		body = b
		return strings.Contains(body, `hookbridge_delivery_attempts_total{outcome="success"} 1`+"\n") &&
			strings.Contains(body, `hookbridge_deliveries_queued{status="pending"} 0`+"\n") &&
			strings.Contains(body, "hookbridge_operational_events_pending 0\n") // the endpoint.created, relayed
	})
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("metrics lack %q:\n%s", w, body)
		}
	}
}
