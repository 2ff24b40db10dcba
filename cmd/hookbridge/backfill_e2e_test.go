package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/backfill/backfilltest"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
)

// TestBackfillEndToEnd, on SQLite and on PostgreSQL: of three Stripe
// events, the webhook path brings one; the periodic backfill (a job of
// serve) fetches the processor's events list through a 429 and a 503,
// and the consumer gets the two it missed exactly once, marked via
// backfill. A webhook that arrives afterwards for a backfilled event is a
// duplicate; `hookbridge source backfill --since 24h` finds nothing new.
func TestBackfillEndToEnd(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"SQLite", "PostgreSQL"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			edit := []func(*serveConfig){func(c *serveConfig) { c.reconcileCheck = 50 * time.Millisecond }}
			if store == "PostgreSQL" {
				dsn := pgtest.Schema(t)
				edit = append(edit, func(c *serveConfig) { c.DB, c.Migrate, c.SecretKey = dsn, true, testSecretKey })
			}
			backfillEndToEnd(t, startTestServer(t, edit...))
		})
	}
}

func backfillEndToEnd(t *testing.T, srv *server) {
	rcv, wh := pizzaEndpoint(t, srv)
	now := time.Now()
	events := [][]byte{
		stripeNotification("evt_seen", "payment_intent.succeeded", "pi_1", now.Add(-3*time.Hour), ""),
		stripeNotification("evt_missed1", "payment_intent.succeeded", "pi_2", now.Add(-2*time.Hour), ""),
		stripeNotification("evt_missed2", "payment_intent.succeeded", "pi_3", now.Add(-time.Hour), ""),
	}
	// Stripe's events list, two a page; its first answer is a 429 with
	// Retry-After and its second a 503, as a processor under load answers.
	api := backfilltest.New(t, "stripe")
	api.Add(events...)
	api.PageSize(2)
	api.Fail(1, http.StatusTooManyRequests, map[string]string{"Retry-After": "1"})
	api.Fail(2, http.StatusServiceUnavailable, nil)
	src := createSourceCLI(t, srv, "--scheme", "stripe", "--secret", e2eStripeSecret, "--app", "pizza", "--state", "on",
		"--processor-key", api.Credentials().Key, "--processor-base-url", api.URL)

	postSigned(t, srv, src, events[0])
	via := map[string]string{}
	record := func() {
		got := rcv.next(t)
		if err := wh.Verify(got.Body, got.Header); err != nil {
			t.Fatalf("signature: %v", err)
		}
		var p struct {
			ProcessorReference string `json:"processorReference"`
			Via                string `json:"via"`
		}
		if err := json.Unmarshal(got.Body, &p); err != nil {
			t.Fatal(err)
		}
		if via[p.ProcessorReference] != "" {
			t.Errorf("%s delivered twice", p.ProcessorReference)
		}
		via[p.ProcessorReference] = p.Via
	}
	record()

	// Turn the periodic backfill on: serve's job runs it now (the source
	// never ran one), looking back a day.
	if code, out := callAPI(t, srv, "PUT", "/api/v1/source/"+src,
		[]byte(`{"scheme":"stripe","application":"pizza","reconcileEverySeconds":3600}`), nil); code != http.StatusOK {
		t.Fatalf("PUT source: %d %s", code, out)
	}
	record()
	record()
	want := map[string]string{"evt_seen": "webhook", "evt_missed1": "backfill", "evt_missed2": "backfill"}
	if fmt.Sprint(via) != fmt.Sprint(want) {
		t.Errorf("delivered via %v, want %v", via, want)
	}

	// The webhook Stripe retries late, for an event the backfill brought:
	// acknowledged, a duplicate, no second message.
	postSigned(t, srv, src, events[1])
	var msgs struct {
		Data []json.RawMessage `json:"data"`
	}
	_, raw := callAPI(t, srv, "GET", "/api/v1/app/pizza/msg", nil, nil)
	if err := json.Unmarshal(raw, &msgs); err != nil || len(msgs.Data) != 3 {
		t.Errorf("messages after the late webhook: %s", raw)
	}

	// On demand: everything is known already.
	var run struct {
		Fetched, Backfilled, Duplicates int64
		Error                           *string
	}
	if err := json.Unmarshal(cli(t, srv, "source", "backfill", src, "--since", "24h"), &run); err != nil {
		t.Fatal(err)
	}
	if run.Fetched != 3 || run.Backfilled != 0 || run.Duplicates != 3 || run.Error != nil {
		t.Errorf("backfill --since 24h: %+v", run)
	}
	// The periodic run records itself once it has listed every page,
	// which may be after its messages were delivered.
	waitFor(t, "both runs recorded", func() bool {
		return strings.Contains(string(cli(t, srv, "source", "backfill", src, "--status")), `"runs": 2`)
	})
	status := string(cli(t, srv, "source", "backfill", src, "--status"))
	for _, want := range []string{`"backfilled": 2`, `"duplicates": 4`, `"failures": 0`, `"lastError": null`, `"requests": 6`} {
		if !strings.Contains(status, want) {
			t.Errorf("backfill --status lacks %s:\n%s", want, status)
		}
	}
	_, raw = callAPI(t, srv, "GET", "/api/v1/source/"+src+"/comparison", nil, nil)
	var cmp struct{ Webhook, Polling, Both, Backfilled int64 }
	if err := json.Unmarshal(raw, &cmp); err != nil || cmp.Webhook != 1 || cmp.Polling != 3 || cmp.Both != 1 || cmp.Backfilled != 2 {
		t.Errorf("comparison: %s", raw)
	}
}
