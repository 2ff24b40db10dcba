package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/sealed"
)

// onEachStore runs test, in parallel, on a SQLite file and on a
// PostgreSQL schema (when one is configured), with the config edit that
// opens that database, again after a restart too.
func onEachStore(t *testing.T, test func(t *testing.T, db func(*serveConfig))) {
	stores := map[string]func(t *testing.T) func(*serveConfig){
		"SQLite": func(t *testing.T) func(*serveConfig) {
			db := filepath.Join(t.TempDir(), "hookbridge.db")
			return func(c *serveConfig) { c.DB = db }
		},
		"PostgreSQL": func(t *testing.T) func(*serveConfig) {
			dsn, key := pgtest.Schema(t), sealed.NewKey()
			return func(c *serveConfig) { c.DB, c.SecretKey, c.Migrate = dsn, key, true }
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open(t))
		})
	}
}

// shopSendingTo creates the application "shop" with one endpoint, recv.
func shopSendingTo(t *testing.T, sx *svix.Svix, recv *receiver) *svix.ApplicationOut {
	t.Helper()
	ctx := context.Background()
	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "shop", Uid: ptr("shop")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{Url: recv.URL}, nil); err != nil {
		t.Fatal(err)
	}
	return app
}

// TestScheduledDeliveryEndToEnd: on each store, a message sent with
// deliverAt a few seconds ahead is listed as scheduled and not sent while
// the server runs and stops; a restarted server sends it at its time, and
// never sends a scheduled message that was cancelled (due earlier still).
func TestScheduledDeliveryEndToEnd(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, db func(*serveConfig)) {
		ctx := context.Background()
		srv := startTestServer(t, db)
		sx := svixClient(t, srv)
		recv := newReceiver(t)
		app := shopSendingTo(t, sx, recv)
		deliverAt := time.Now().Add(3 * time.Second).Truncate(time.Millisecond)
		send := func(eventID string, at time.Time) {
			t.Helper()
			if _, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "order.created", EventId: ptr(eventID),
				Payload: map[string]any{"id": eventID}, DeliverAt: &at}, nil); err != nil {
				t.Fatal(err)
			}
		}
		send("kept", deliverAt)
		send("cancelled", deliverAt.Add(-time.Second))
		if code, body := callAPI(t, srv, "POST", "/api/v1/app/shop/msg/cancelled/cancel", nil, nil); code != http.StatusNoContent {
			t.Fatalf("cancel: %d %s", code, body)
		}
		var list struct {
			Data []struct {
				EventID   string `json:"eventId"`
				DeliverAt string `json:"deliverAt"`
			} `json:"data"`
		}
		code, body := callAPI(t, srv, "GET", "/api/v1/app/shop/scheduled-msg", nil, nil)
		if err := json.Unmarshal(body, &list); code != http.StatusOK || err != nil || len(list.Data) != 1 ||
			list.Data[0].EventID != "kept" || list.Data[0].DeliverAt != deliverAt.UTC().Format("2006-01-02T15:04:05.000Z") {
			t.Fatalf("scheduled messages: %d %s, want the kept one at %s", code, body, deliverAt.UTC())
		}

		if err := srv.Shutdown(); err != nil {
			t.Fatal(err)
		}
		if n := len(recv.got); n != 0 || time.Now().After(deliverAt) {
			t.Skipf("%d requests before the restart, or the restart began after deliverAt: the machine is too slow for this test's timing", n)
		}
		srv = startTestServer(t, db)
		got := recv.next(t)
		arrived := time.Now()
		var payload struct{ ID string }
		if err := json.Unmarshal(got.Body, &payload); err != nil || payload.ID != "kept" {
			t.Fatalf("delivered %s, want the kept message", got.Body)
		}
		if arrived.Before(deliverAt) {
			t.Errorf("delivered at %s, before its deliverAt %s", arrived, deliverAt)
		}
		// The cancelled one was due before the kept one: had it been
		// going to go out, it would have.
		sx = svixClient(t, srv)
		attempts, err := sx.MessageAttempt.ListByMsg(ctx, app.Id, "cancelled", nil)
		if err != nil || len(attempts.Data) != 0 || len(recv.got) != 0 {
			t.Errorf("cancelled message: attempts %+v, %v, %d more requests; want none", attempts, err, len(recv.got))
		}
		code, body = callAPI(t, srv, "GET", "/api/v1/app/shop/scheduled-msg", nil, nil)
		if err := json.Unmarshal(body, &list); code != http.StatusOK || err != nil || len(list.Data) != 0 {
			t.Errorf("scheduled messages after delivery: %d %s, want none", code, body)
		}
	})
}

// TestEventTypeRetryScheduleEndToEnd: on each store, a failing receiver of
// a message whose event type has a schedule of three delays gets exactly
// four tries, though the server's own schedule would make two.
func TestEventTypeRetryScheduleEndToEnd(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, db func(*serveConfig)) {
		ctx := context.Background()
		srv := startTestServer(t, db, func(c *serveConfig) { c.RetrySchedule = "20ms" })
		sx := svixClient(t, srv)
		recv := newReceiver(t)
		recv.setStatus(http.StatusInternalServerError)
		if _, err := sx.EventType.Create(ctx, svix.EventTypeIn{Name: "payout.paid", Description: "Paid out."}, nil); err != nil {
			t.Fatal(err)
		}
		const delays = 3
		schedule := `{"retrySchedule": ["20ms", "30ms", "40ms"]}`
		if code, body := callAPI(t, srv, "PUT", "/api/v1/event-type/payout.paid/retry-schedule", []byte(schedule), nil); code != http.StatusNoContent {
			t.Fatalf("set the schedule: %d %s", code, body)
		}
		app := shopSendingTo(t, sx, recv)
		msg, err := sx.Message.Create(ctx, app.Id, svix.MessageIn{EventType: "payout.paid", Payload: map[string]any{"n": 1}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range delays + 1 {
			recv.next(t)
		}
		waitFor(t, "the delivery to be given up", func() bool {
			dests, err := sx.MessageAttempt.ListAttemptedDestinations(ctx, app.Id, msg.Id, nil)
			return err == nil && len(dests.Data) == 1 && dests.Data[0].Status == svix.MessageStatus(2)
		})
		attempts, err := sx.MessageAttempt.ListByMsg(ctx, app.Id, msg.Id, nil)
		if err != nil || len(attempts.Data) != delays+1 || len(recv.got) != 0 {
			t.Errorf("%d attempts (%v), %d requests beyond them; want exactly %d tries",
				len(attempts.Data), err, len(recv.got), delays+1)
		}
	})
}
