package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"
)

// TestRetryScheduleFlag: serve --retry-schedule sets the delays between
// tries: with two short delays a failing delivery is tried three times and
// then given up; a malformed schedule stops serve before it starts.
func TestRetryScheduleFlag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startTestServer(t, func(c *serveConfig) { c.RetrySchedule = "20ms,20ms" })
	sx := svixClient(t, srv)
	recv := newReceiver(t)
	recv.setStatus(http.StatusInternalServerError)
	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "shop"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: recv.URL}, nil); err != nil {
		t.Fatal(err)
	}
	msg, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "payment.captured", Payload: map[string]any{"n": 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		recv.next(t)
	}
	waitFor(t, "the delivery to be given up", func() bool {
		dests, err := sx.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, msg.Id, nil)
		return err == nil && len(dests.Data) == 1 && dests.Data[0].Status == svix.MessageStatus(2)
	})
	attempts, err := sx.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, nil)
	if err != nil || len(attempts.Data) != 3 {
		t.Errorf("attempts %+v, %v; want 3", attempts, err)
	}

	db := filepath.Join(t.TempDir(), "hookbridge.db")
	for _, bad := range []string{"5s,soon", "0s", "8d"} {
		_, err := startServer(ctx, serveConfig{Addr: "127.0.0.1:0", DB: db, RetrySchedule: bad}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "--retry-schedule") {
			t.Errorf("--retry-schedule %q: %v, want an error naming the flag", bad, err)
		}
	}
}
