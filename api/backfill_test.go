package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/backfill"
	"github.com/hookbridge/hookbridge/backfill/backfilltest"
	"github.com/hookbridge/hookbridge/netguard"
)

// allowLoopback lets the processors' API be the local test server.
func allowLoopback(c *Config) {
	c.Guard = netguard.New(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
}

// newStripeEvents is Stripe's events list, two events a page, so that
// three take two pages.
func newStripeEvents(t *testing.T) *backfilltest.Processor {
	t.Helper()
	p := backfilltest.New(t, "stripe")
	p.PageSize(2)
	return p
}

// stripeAPICredentials are the source's apiCredentials for p.
func stripeAPICredentials(p *backfilltest.Processor) obj {
	c := p.Credentials()
	return obj{"key": c.Key, "baseUrl": c.BaseURL}
}

// TestBackfillStripe: of three events, the webhook brought one; the
// backfill brings the other two once, marked via backfill, counts the
// first as a duplicate, and a webhook that comes afterwards for a
// backfilled event forwards nothing. The comparison counts them.
func TestBackfillStripe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, allowLoopback)
	app := str(e.createApp("Acme", "acme"), "id")
	stripe := newStripeEvents(t)
	src := e.stripeSource("acme", "on", obj{"apiCredentials": stripeAPICredentials(stripe)})
	created := e.clock.Now().Add(-time.Hour).Unix()
	for i, id := range []string{"evt_web", "evt_miss1", "evt_miss2"} {
		stripe.Add(stripePayment(id, "payment_intent.succeeded", fmt.Sprintf("pi_%d", i), "", 1000+i, created+int64(i)))
	}
	e.postStripe(src, stripePayment("evt_web", "payment_intent.succeeded", "pi_0", "", 1000, created)).want(http.StatusOK)

	var run backfillRunOut
	e.do("POST", "/api/v1/source/"+src+"/backfill", obj{"since": e.clock.Now().Add(-2 * time.Hour).Format(time.RFC3339)}).
		want(http.StatusOK).decode(&run)
	if run.Error != nil || run.Fetched != 3 || run.Backfilled != 2 || run.Duplicates != 1 || run.Requests != 2 {
		t.Fatalf("run = %+v (error %v), want 3 fetched in 2 requests, 2 backfilled, 1 duplicate", run, run.Error)
	}
	if run.State.Runs != 1 || run.State.HighWater == nil || run.State.LastSuccessAt == nil {
		t.Errorf("state after the run: %+v", run.State)
	}

	msgs := e.appMessages(app)
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want 3", len(msgs))
	}
	via := map[string]string{}
	for _, m := range msgs {
		var p struct {
			ProcessorReference string `json:"processorReference"`
			Via                string `json:"via"`
		}
		_ = json.Unmarshal(m.Payload, &p)
		via[p.ProcessorReference] = p.Via
	}
	if via["evt_web"] != "webhook" || via["evt_miss1"] != "backfill" || via["evt_miss2"] != "backfill" {
		t.Errorf("via by event: %v", via)
	}

	// The webhook for a backfilled event comes late: a repeat.
	e.postStripe(src, stripePayment("evt_miss1", "payment_intent.succeeded", "pi_1", "", 1001, created+1)).want(http.StatusOK)
	// A second backfill finds nothing new.
	e.do("POST", "/api/v1/source/"+src+"/backfill", obj{"since": e.clock.Now().Add(-2 * time.Hour).Format(time.RFC3339)}).
		want(http.StatusOK).decode(&run)
	if run.Backfilled != 0 || run.Duplicates != 3 {
		t.Errorf("second run = %+v, want 3 duplicates", run)
	}
	if n := len(e.appMessages(app)); n != 3 {
		t.Errorf("%d messages after the late webhook and a second run, want 3", n)
	}

	cmp := e.do("GET", "/api/v1/source/"+src+"/comparison", nil).want(http.StatusOK).object()
	if cmp["webhook"] != float64(1) || cmp["polling"] != float64(3) || cmp["both"] != float64(1) || cmp["backfilled"] != float64(2) ||
		cmp["leadMedianMs"] == nil {
		t.Errorf("comparison = %v, want 1 by webhook, 3 by polling, 2 backfilled, a lead", cmp)
	}

	// The processor refuses: a visible failure, the mark kept.
	stripe.FailAll(http.StatusUnauthorized)
	e.do("POST", "/api/v1/source/"+src+"/backfill", obj{"since": e.clock.Now().Add(-time.Hour).Format(time.RFC3339)}).
		want(http.StatusOK).decode(&run)
	if run.Error == nil || !strings.Contains(*run.Error, "401") || run.State.Failures != 1 || run.State.LastError == nil {
		t.Errorf("failed run = %+v, want the processor's 401 recorded", run)
	}
	var st backfillStateOut
	e.do("GET", "/api/v1/source/"+src+"/backfill", nil).want(http.StatusOK).decode(&st)
	if !st.Supported || !st.Configured || st.Runs != 3 || st.Backfilled != 2 || st.Duplicates != 4 || st.Requests != 5 || st.LastError == nil {
		t.Errorf("backfill state = %+v", st)
	}
}

// TestBackfillConfig: API credentials are checked for the scheme, kept
// through a PUT that leaves them out, shown masked, and removed with null;
// reconcileEverySeconds needs them; a source without them cannot run.
func TestBackfillConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("Acme", "acme")
	base := obj{"scheme": "stripe", "credentials": obj{"secret": testStripeSecret}, "application": "acme"}
	with := func(extra obj) obj {
		b := obj{}
		for k, v := range base {
			b[k] = v
		}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	e.do("POST", "/api/v1/source", with(obj{"reconcileEverySeconds": 600})).want(http.StatusUnprocessableEntity)
	e.do("POST", "/api/v1/source", with(obj{"apiCredentials": obj{"clientId": "x", "clientSecret": "y"}})).want(http.StatusUnprocessableEntity)
	e.do("POST", "/api/v1/source", with(obj{"apiCredentials": obj{"key": "rk_live_1"}, "reconcileEverySeconds": 5})).want(http.StatusUnprocessableEntity)
	e.do("POST", "/api/v1/source", obj{"scheme": "adyen", "credentials": obj{"secret": testAdyenKey}, "apiCredentials": obj{"key": "k"}}).
		want(http.StatusUnprocessableEntity)

	out := e.createSource(with(obj{"apiCredentials": obj{"key": "rk_live_51Habcdefghijkl9z8y"}, "reconcileEverySeconds": 900,
		"rollout": obj{"state": "shadow"}}))
	id := str(out, "id")
	if c, _ := out["apiCredentials"].(map[string]any); c["key"] != "****9z8y" || out["reconcileEverySeconds"] != float64(900) {
		t.Errorf("created: apiCredentials %v, reconcileEverySeconds %v", out["apiCredentials"], out["reconcileEverySeconds"])
	}
	// A PUT without apiCredentials keeps them, a new signing secret too.
	out = e.do("PUT", "/api/v1/source/"+id, obj{"scheme": "stripe", "credentials": obj{"secret": "whsec_other"}, "reconcileEverySeconds": 900}).
		want(http.StatusOK).object()
	if out["apiCredentials"] == nil || out["reconcileEverySeconds"] != float64(900) {
		t.Errorf("after PUT: apiCredentials %v, reconcileEverySeconds %v", out["apiCredentials"], out["reconcileEverySeconds"])
	}
	out = e.do("PUT", "/api/v1/source/"+id, obj{"scheme": "stripe", "apiCredentials": nil}).want(http.StatusOK).object()
	if out["apiCredentials"] != nil || out["reconcileEverySeconds"] != nil {
		t.Errorf("after PUT null: apiCredentials %v, reconcileEverySeconds %v", out["apiCredentials"], out["reconcileEverySeconds"])
	}
	e.do("POST", "/api/v1/source/"+id+"/backfill", obj{"since": e.clock.Now().Add(-time.Hour).Format(time.RFC3339)}).want(http.StatusConflict)
	e.do("POST", "/api/v1/source/"+id+"/backfill", obj{}).want(http.StatusUnprocessableEntity)
	e.do("POST", "/api/v1/source/"+id+"/backfill", obj{"since": e.clock.Now().Add(-40 * 24 * time.Hour).Format(time.RFC3339)}).
		want(http.StatusUnprocessableEntity)
}

// TestTwoSourcesOneApplication: two Stripe sources routed to one
// application receive the same event (one account whose webhooks reach
// both, as during a move from one source to another; or one source's
// webhook and the other's backfill). A processor's event id names one
// event of the processor, whatever account or source it reaches, so the
// application gets one message; each source keeps its own record, pointing
// at that message. Different events stay apart.
func TestTwoSourcesOneApplication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, allowLoopback)
	app := str(e.createApp("Acme", "acme"), "id")
	stripe := newStripeEvents(t)
	first := e.stripeSource("acme", "on", nil)
	second := e.stripeSource("acme", "on", obj{"apiCredentials": stripeAPICredentials(stripe)})
	created := e.clock.Now().Add(-time.Hour).Unix()
	shared := stripePayment("evt_shared", "payment_intent.succeeded", "pi_s", "", 1500, created)

	e.postStripe(first, shared).want(http.StatusOK)
	e.postStripe(second, shared).want(http.StatusOK)
	e.postStripe(second, stripePayment("evt_own", "payment_intent.succeeded", "pi_o", "", 700, created)).want(http.StatusOK)
	msgs := e.appMessages(app)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2: one per processor event", len(msgs))
	}
	a, b := e.inboundEvents(first), e.inboundEvents(second)
	if len(a) != 1 || len(b) != 2 || len(a[0].MessageIDs) != 1 || len(b[1].MessageIDs) != 1 || a[0].MessageIDs[0] != b[1].MessageIDs[0] {
		t.Errorf("each source keeps its record of the shared event, pointing at one message: %+v / %+v", a, b)
	}

	// The second source's backfill lists the shared event too: known to
	// it, and to the application.
	stripe.Add(shared)
	var run backfillRunOut
	e.do("POST", "/api/v1/source/"+second+"/backfill", obj{"since": e.clock.Now().Add(-2 * time.Hour).Format(time.RFC3339)}).
		want(http.StatusOK).decode(&run)
	if run.Duplicates != 1 || run.Backfilled != 0 || len(e.appMessages(app)) != 2 {
		t.Errorf("backfill of the shared event: %+v, %d messages", run, len(e.appMessages(app)))
	}
}

// TestBackfillEachProcessor: for each processor with an events list, the
// backfill pages through it, and the events it brings become canonical
// messages with the eventId their webhook would have had, marked via
// backfill. A GoCardless webhook batch, signed as GoCardless signs it,
// brings one of the events first and is a duplicate for the backfill, and
// the webhook it repeats afterwards is one for the receiver.
func TestBackfillEachProcessor(t *testing.T) {
	t.Parallel()
	for _, scheme := range backfill.Schemes() {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, allowLoopback)
			app := str(e.createApp("Acme", "acme"), "id")
			api := backfilltest.New(t, scheme)
			api.PageSize(2)
			c := api.Credentials()
			creds := obj{"secret": "webhook-secret-0123456789"}
			if scheme == "paypal" {
				creds = obj{"keyId": "1JE4291016473214C"}
			}
			src := str(e.createSource(obj{"scheme": scheme, "credentials": creds, "application": "acme", "rollout": obj{"state": "on"},
				"apiCredentials": obj{"key": nullable(c.Key), "clientId": nullable(c.ClientID), "clientSecret": nullable(c.ClientSecret),
					"baseUrl": c.BaseURL}}), "id")
			at := e.clock.Now().Add(-time.Hour)
			var ids []string
			for i := range 3 {
				id := fmt.Sprintf("%s-ev-%d", scheme, i)
				ids = append(ids, id)
				api.Add(backfilltest.Event(scheme, id, fmt.Sprintf("pay-%d", i), at.Add(time.Duration(i)*time.Second)))
			}
			webhook := func() *response {
				body := []byte(`{"events":[` + string(backfilltest.Event(scheme, ids[0], "pay-0", at)) + `]}`)
				mac := hmac.New(sha256.New, []byte("webhook-secret-0123456789"))
				mac.Write(body)
				return e.doWith("POST", "/in/"+src, body, map[string]string{"Webhook-Signature": hex.EncodeToString(mac.Sum(nil))})
			}
			if scheme == "gocardless" {
				webhook().want(http.StatusOK)
			}
			var run backfillRunOut
			e.do("POST", "/api/v1/source/"+src+"/backfill", obj{"since": at.Add(-time.Minute).Format(time.RFC3339)}).
				want(http.StatusOK).decode(&run)
			wantNew := int64(3)
			if scheme == "gocardless" {
				wantNew = 2
			}
			if run.Error != nil || run.Fetched != 3 || run.Backfilled != wantNew || run.Duplicates != 3-wantNew {
				t.Fatalf("run = %+v (error %v)", run, run.Error)
			}
			if scheme == "gocardless" {
				webhook().want(http.StatusOK) // GoCardless retries the batch: a duplicate
			}
			msgs := e.appMessages(app)
			if len(msgs) != 3 {
				t.Fatalf("%d messages, want 3", len(msgs))
			}
			for _, m := range msgs {
				var p struct {
					Via string `json:"via"`
				}
				_ = json.Unmarshal(m.Payload, &p)
				id := strings.TrimPrefix(derefStr(m.EventID), scheme+".")
				wantVia := "backfill"
				if scheme == "gocardless" && id == ids[0] {
					wantVia = "webhook"
				}
				if !slices.Contains(ids, id) || p.Via != wantVia {
					t.Errorf("message %s (%s): via %q, want eventId %s.<event id> via %s", derefStr(m.EventID), m.EventType, p.Via, scheme, wantVia)
				}
			}
		})
	}
}
