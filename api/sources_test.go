package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v82/webhook"

	"github.com/hookbridge/hookbridge"
)

const (
	testStripeSecret = "whsec_api_test_3bGyaXkpHnTQZ1eK0a5n"
	testAdyenKey     = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
)

// stripeEvent is a payment_intent.succeeded event of the given account.
func stripeEvent(id, account string, amount int) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","type":"payment_intent.succeeded","created":1714557600,"account":%q,
"data":{"object":{"id":"pi_%s","object":"payment_intent","amount":%d,"amount_received":%d,"currency":"eur","status":"succeeded"}}}`,
		id, account, id, amount, amount)
}

// postStripe signs body with stripe-go's test helper, as of the env's clock,
// and posts it to the source.
func (e *env) postStripe(sourceID string, body []byte) *response {
	e.t.Helper()
	signed := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{
		Payload: body, Secret: testStripeSecret, Timestamp: e.clock.Now(),
	})
	return e.doWith("POST", "/in/"+sourceID, signed.Payload, map[string]string{"Stripe-Signature": signed.Header})
}

// createSource creates a source from body and returns its JSON.
func (e *env) createSource(body obj) map[string]any {
	e.t.Helper()
	return e.do("POST", "/api/v1/source", body).want(http.StatusCreated).object()
}

// stripeSource creates a Stripe source routed to app in the given state.
func (e *env) stripeSource(app, state string, extra obj) string {
	e.t.Helper()
	body := obj{"scheme": "stripe", "credentials": obj{"secret": testStripeSecret}, "application": app, "rollout": obj{"state": state}}
	for k, v := range extra {
		body[k] = v
	}
	return str(e.createSource(body), "id")
}

// inboundEvents lists the source's received events, newest first.
func (e *env) inboundEvents(sourceID string) []inboundEventOut {
	e.t.Helper()
	var out listOut[inboundEventOut]
	e.do("GET", "/api/v1/source/"+sourceID+"/events", nil).want(http.StatusOK).decode(&out)
	return out.Data
}

// appMessages lists the application's messages, newest first.
func (e *env) appMessages(app string) []messageOut {
	e.t.Helper()
	var out listOut[messageOut]
	e.do("GET", "/api/v1/app/"+app+"/msg", nil).want(http.StatusOK).decode(&out)
	return out.Data
}

func TestSourceCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("Acme", "acme")
	e.createApp("Beta", "beta")

	for _, tc := range []struct {
		name string
		body obj
		locs []string
	}{
		{"NoScheme", obj{"credentials": obj{"secret": "x"}}, []string{"body.scheme"}},
		{"UnknownScheme", obj{"scheme": "bitpay", "credentials": obj{"secret": "x"}}, []string{"body.scheme"}},
		{"NoCredentials", obj{"scheme": "stripe"}, []string{"body.credentials"}},
		{"CredentialsTheSchemeRefuses", obj{"scheme": "adyen", "credentials": obj{"secret": "not hex"}}, []string{"body.credentials"}},
		{"BraintreeWithoutPublicKey", obj{"scheme": "braintree", "credentials": obj{"secret": "private"}}, []string{"body.credentials"}},
		{"UnknownApplications", obj{"scheme": "stripe", "credentials": obj{"secret": "whsec_x"}, "application": "nope",
			"merchantApplications": obj{"acct_1": "acme", "acct_2": "missing"}}, []string{"body.application", "body.merchantApplications.acct_2"}},
		{"BadRollout", obj{"scheme": "stripe", "credentials": obj{"secret": "whsec_x"}, "rollout": obj{"state": "half", "percent": 101}},
			[]string{"body.rollout.state", "body.rollout.percent"}},
		{"BadTolerance", obj{"scheme": "stripe", "credentials": obj{"secret": "whsec_x"}, "toleranceSeconds": 0}, []string{"body.toleranceSeconds"}},
	} {
		r := e.do("POST", "/api/v1/source", tc.body).want(http.StatusUnprocessableEntity)
		if got := validationLocs(t, r); strings.Join(got, ",") != strings.Join(tc.locs, ",") {
			t.Errorf("%s: 422 names %v, want %v", tc.name, got, tc.locs)
		}
	}

	created := e.createSource(obj{
		"name": "Stripe EU", "scheme": "stripe", "credentials": obj{"secret": testStripeSecret},
		"application": "acme", "merchantApplications": obj{"acct_B": "beta"}, "toleranceSeconds": 120,
	})
	id := str(created, "id")
	if !hookbridge.HasPrefix(id, hookbridge.PrefixSource) {
		t.Fatalf("id %q", id)
	}
	creds := created["credentials"].(map[string]any)
	if creds["secret"] != "****"+testStripeSecret[len(testStripeSecret)-4:] || strings.Contains(string(e.do("GET", "/api/v1/source/"+id, nil).Body), testStripeSecret) {
		t.Errorf("secret not masked: %v", creds)
	}
	if str(created, "url") != "http://example.com/in/"+id {
		t.Errorf("url = %q", str(created, "url"))
	}
	if r := created["rollout"].(map[string]any); r["state"] != "off" {
		t.Errorf("default rollout %v, want off", r)
	}
	if got := created["defaultMerchantFields"].([]any); len(got) != 1 || got[0] != "account" {
		t.Errorf("defaultMerchantFields = %v", got)
	}

	// PUT without credentials keeps them; the rollout is not PUT's business.
	upd := e.do("PUT", "/api/v1/source/"+id, obj{"name": "Stripe", "scheme": "stripe", "application": "beta"}).want(http.StatusOK).object()
	if upd["credentials"].(map[string]any)["secret"] != creds["secret"] || str(upd, "application") != "beta" || upd["toleranceSeconds"] != nil {
		t.Errorf("after PUT: %v", upd)
	}
	r := e.do("PUT", "/api/v1/source/"+id, obj{"scheme": "stripe", "rollout": obj{"state": "on"}}).want(http.StatusUnprocessableEntity)
	if locs := validationLocs(t, r); len(locs) != 1 || locs[0] != "body.rollout" {
		t.Errorf("PUT with rollout: %v", locs)
	}

	var list listOut[sourceOut]
	e.do("GET", "/api/v1/source?limit=10", nil).want(http.StatusOK).decode(&list)
	if len(list.Data) != 1 || list.Data[0].ID != id || !list.Done {
		t.Errorf("list = %+v", list)
	}
	e.do("DELETE", "/api/v1/source/"+id, nil).want(http.StatusNoContent)
	e.do("GET", "/api/v1/source/"+id, nil).want(http.StatusNotFound)
	e.do("GET", "/api/v1/source/not-an-id", nil).want(http.StatusNotFound)
}

func TestInboundForwardsOnceAndAcknowledges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("Acme", "acme"), "id")
	e.createEndpoint(app, obj{"filterTypes": nil})
	src := e.stripeSource("acme", "on", nil)

	body := stripeEvent("evt_once", "acct_A", 2599)
	r := e.postStripe(src, body).want(http.StatusOK)
	if len(r.Body) != 0 {
		t.Errorf("Stripe ack body %q, want empty", r.Body)
	}
	wakes := e.wakes.Load()
	if wakes != 1 {
		t.Errorf("wakes = %d, want 1", wakes)
	}
	// The same notification again, and again after a new signature:
	// acknowledged, forwarded once.
	e.postStripe(src, body).want(http.StatusOK)
	e.clock.Advance(time.Minute)
	e.postStripe(src, body).want(http.StatusOK)
	if e.wakes.Load() != wakes {
		t.Errorf("a repeat woke the dispatcher")
	}

	msgs := e.appMessages(app)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.EventType != "payment.captured" || derefStr(m.EventID) != "stripe.evt_once" {
		t.Errorf("message %s %q", m.EventType, derefStr(m.EventID))
	}
	var p map[string]any
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "pi_evt_once", "status": "succeeded", "amount": 2599.0, "currency": "EUR", "processor": "stripe",
		"processorReference": "evt_once", "merchant": "acct_A", "occurredAt": "2024-05-01T10:00:00Z"}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("payload %s = %v, want %v (payload %s)", k, p[k], v, m.Payload)
		}
	}
	// One delivery was made for the one endpoint.
	if n := len(e.deliver(200)); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}

	events := e.inboundEvents(src)
	if len(events) != 1 {
		t.Fatalf("%d stored events, want 1", len(events))
	}
	ev := events[0]
	if ev.EventID != "evt_once" || !ev.Forwarded || len(ev.MessageIDs) != 1 || ev.MessageIDs[0] != m.ID ||
		derefStr(ev.ApplicationID) != app || derefStr(ev.Body) != string(body) || ev.Headers["Stripe-Signature"] == "" ||
		derefStr(ev.Type) != "payment_intent.succeeded" || derefStr(ev.Merchant) != "acct_A" {
		t.Errorf("stored event %+v", ev)
	}
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// A repeat of an event whose first delivery was stored but not forwarded
// (the process died in between) is forwarded then, and only then.
func TestInboundRepeatForwardsWhatWasNotForwarded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("Acme", "acme"), "id")
	src := e.stripeSource("acme", "on", nil)
	body := stripeEvent("evt_crash", "acct_A", 100)
	_, created, err := e.store.CreateInboundEvent(context.Background(), &hookbridge.InboundEvent{
		SourceID: src, EventID: "evt_crash", Body: body, Forward: true, AppID: app, ReceivedAt: e.clock.Now(),
	})
	if err != nil || !created {
		t.Fatalf("seed: %v %v", created, err)
	}
	e.postStripe(src, body).want(http.StatusOK)
	e.postStripe(src, body).want(http.StatusOK)
	if msgs := e.appMessages(app); len(msgs) != 1 || derefStr(msgs[0].EventID) != "stripe.evt_crash" {
		t.Fatalf("messages %+v, want the one forwarded event", msgs)
	}
	if ev := e.inboundEvents(src)[0]; len(ev.MessageIDs) != 1 {
		t.Errorf("stored event not marked forwarded: %+v", ev)
	}
}

func TestInboundStates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("Acme", "acme"), "id")

	off := e.stripeSource("acme", "off", nil)
	r := e.postStripe(off, stripeEvent("evt_off", "", 100)).want(http.StatusNotFound)
	if r.object()["code"] != "not_found" {
		t.Errorf("off: %s", r.Body)
	}
	if evs := e.inboundEvents(off); len(evs) != 0 {
		t.Errorf("off source stored %d events", len(evs))
	}
	e.postStripe("src_01J00000000000000000000000", stripeEvent("evt_x", "", 1)).want(http.StatusNotFound)

	shadow := e.stripeSource("acme", "shadow", nil)
	e.postStripe(shadow, stripeEvent("evt_shadow", "", 100)).want(http.StatusOK)
	evs := e.inboundEvents(shadow)
	if len(evs) != 1 || evs[0].Forwarded || len(evs[0].MessageIDs) != 0 || !strings.Contains(evs[0].Note, "shadow") {
		t.Errorf("shadow: %+v", evs)
	}

	// Refusals store nothing and say why.
	on := e.stripeSource("acme", "on", nil)
	body := stripeEvent("evt_forged", "", 100)
	signed := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: body, Secret: "whsec_other", Timestamp: e.clock.Now()})
	r = e.doWith("POST", "/in/"+on, body, map[string]string{"Stripe-Signature": signed.Header}).want(http.StatusUnauthorized)
	if o := r.object(); o["code"] != "verification_failed" || o["detail"] != "signature_mismatch" {
		t.Errorf("forged: %s", r.Body)
	}
	stale := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: body, Secret: testStripeSecret, Timestamp: e.clock.Now().Add(-time.Hour)})
	e.doWith("POST", "/in/"+on, body, map[string]string{"Stripe-Signature": stale.Header}).want(http.StatusUnauthorized)
	e.doWith("POST", "/in/"+on, body, nil).want(http.StatusBadRequest)
	e.doWith("POST", "/in/"+on, strings.Repeat("x", MaxInboundBody+1), nil).want(http.StatusRequestEntityTooLarge)
	if evs := e.inboundEvents(on); len(evs) != 0 {
		t.Errorf("refused notifications stored: %+v", evs)
	}
	if !strings.Contains(e.logs.String(), "signature_mismatch") {
		t.Errorf("refusal reason not logged: %s", e.logs.String())
	}
	// An event type that maps to nothing is stored and acknowledged, not
	// forwarded.
	e.postStripe(on, []byte(`{"id":"evt_cus","type":"customer.created","created":1714557600,"data":{"object":{"id":"cus_1"}}}`)).want(http.StatusOK)
	if evs := e.inboundEvents(on); len(evs) != 1 || evs[0].Forwarded || !strings.Contains(evs[0].Note, "maps to no canonical event") {
		t.Errorf("unmapped: %+v", evs)
	}
	if msgs := e.appMessages(app); len(msgs) != 0 {
		t.Errorf("%d messages forwarded, want none", len(msgs))
	}
}

// adyenNotification builds an Adyen batch, each item signed with the key.
func adyenNotification(t *testing.T, key string, items ...map[string]any) []byte {
	t.Helper()
	raw, err := hex.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	var wrapped []map[string]any
	for _, it := range items {
		amount, _ := it["amount"].(map[string]any)
		value, currency := "", ""
		if amount != nil {
			value, currency = fmt.Sprint(amount["value"]), fmt.Sprint(amount["currency"])
		}
		get := func(k string) string { s, _ := it[k].(string); return s }
		data := strings.Join([]string{get("pspReference"), get("originalReference"), get("merchantAccountCode"),
			get("merchantReference"), value, currency, get("eventCode"), get("success")}, ":")
		m := hmac.New(sha256.New, raw)
		m.Write([]byte(data))
		it["additionalData"] = map[string]any{"hmacSignature": base64.StdEncoding.EncodeToString(m.Sum(nil))}
		wrapped = append(wrapped, map[string]any{"NotificationRequestItem": it})
	}
	b, err := json.Marshal(map[string]any{"live": "false", "notificationItems": wrapped})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func adyenAuth(psp, merchant string, value int) map[string]any {
	return map[string]any{"pspReference": psp, "merchantAccountCode": merchant, "merchantReference": "order-" + psp,
		"amount": map[string]any{"value": value, "currency": "EUR"}, "eventCode": "AUTHORISATION", "success": "true",
		"eventDate": "2024-05-01T12:00:00+02:00"}
}

// Rollout limited to merchants: a listed merchant, or one whose bucket is
// under the percentage, is forwarded; the rest are stored as shadow; and
// every change is in the audit.
func TestInboundRolloutLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	eu := str(e.createApp("EU", "eu"), "id")
	src := str(e.createSource(obj{"scheme": "adyen", "credentials": obj{"secret": testAdyenKey},
		"application": "eu", "rollout": obj{"state": "shadow"}}), "id")

	// Merchants on either side of a 50% cut.
	var low, high string
	for i := 0; low == "" || high == ""; i++ {
		m := fmt.Sprintf("Merchant%d", i)
		if hookbridge.MerchantBucket(m) < 50 && low == "" {
			low = m
		} else if hookbridge.MerchantBucket(m) >= 50 && high == "" {
			high = m
		}
	}
	e.do("PATCH", "/api/v1/source/"+src+"/rollout", obj{"state": "on", "merchants": []string{"Pilot"}}).want(http.StatusOK)
	e.do("PATCH", "/api/v1/source/"+src+"/rollout", obj{"percent": 50}).want(http.StatusOK)
	e.do("PATCH", "/api/v1/source/"+src+"/rollout", obj{"state": "later"}).want(http.StatusUnprocessableEntity)

	post := func(items ...map[string]any) {
		t.Helper()
		r := e.doWith("POST", "/in/"+src, adyenNotification(t, testAdyenKey, items...), nil).want(http.StatusOK)
		if string(r.Body) != "[accepted]" {
			t.Errorf("Adyen ack %q, want [accepted]", r.Body)
		}
	}
	post(adyenAuth("P1", "Pilot", 100), adyenAuth("P2", low, 200), adyenAuth("P3", high, 300))
	post(adyenAuth("P4", high, 400)) // stable: the same merchant is held back again

	forwarded := map[string]bool{}
	for _, ev := range e.inboundEvents(src) {
		forwarded[derefStr(ev.Merchant)] = forwarded[derefStr(ev.Merchant)] || ev.Forwarded
		if !ev.Forwarded && !strings.Contains(ev.Note, "not selected") {
			t.Errorf("held-back event's note: %q", ev.Note)
		}
	}
	if !forwarded["Pilot"] || !forwarded[low] || forwarded[high] {
		t.Errorf("forwarded by merchant: %v (low %s, high %s)", forwarded, low, high)
	}
	if n := len(e.appMessages(eu)); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}

	// Clearing the limits turns it on for everyone.
	e.do("PATCH", "/api/v1/source/"+src+"/rollout", obj{"merchants": nil, "percent": nil}).want(http.StatusOK)
	post(adyenAuth("P5", high, 500))
	if n := len(e.appMessages(eu)); n != 3 {
		t.Errorf("%d messages after clearing the limits, want 3", n)
	}

	var audit listOut[rolloutChangeOut]
	e.do("GET", "/api/v1/source/"+src+"/rollout", nil).want(http.StatusOK).decode(&audit)
	var steps []string
	for _, c := range audit.Data {
		from := "-"
		if c.From != nil {
			from = describeRollout(*c.From)
		}
		steps = append(steps, c.Actor+":"+from+">"+describeRollout(c.To))
	}
	want := []string{"admin:on[Pilot]50%>on", "admin:on[Pilot]>on[Pilot]50%", "admin:shadow>on[Pilot]", "admin:->shadow"}
	if strings.Join(steps, " ") != strings.Join(want, " ") {
		t.Errorf("audit\n got %v\nwant %v", steps, want)
	}
}

func describeRollout(r rolloutIO) string {
	s := string(r.State)
	if len(r.Merchants) > 0 {
		s += "[" + strings.Join(r.Merchants, ",") + "]"
	}
	if r.Percent != nil {
		s += fmt.Sprintf("%d%%", *r.Percent)
	}
	return s
}

func TestInboundRoutesByMerchant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := str(e.createApp("A", "app-a"), "id")
	b := str(e.createApp("B", "app-b"), "id")
	src := e.stripeSource("", "on", obj{"merchantApplications": obj{"acct_A": "app-a", "acct_B": "app-b"}})
	e.postStripe(src, stripeEvent("evt_a", "acct_A", 1)).want(http.StatusOK)
	e.postStripe(src, stripeEvent("evt_b", "acct_B", 2)).want(http.StatusOK)
	e.postStripe(src, stripeEvent("evt_c", "acct_C", 3)).want(http.StatusOK)
	if len(e.appMessages(a)) != 1 || len(e.appMessages(b)) != 1 {
		t.Errorf("routing: %d to A, %d to B", len(e.appMessages(a)), len(e.appMessages(b)))
	}
	for _, ev := range e.inboundEvents(src) {
		if derefStr(ev.Merchant) == "acct_C" && (ev.Forwarded || !strings.Contains(ev.Note, "no application")) {
			t.Errorf("unrouted merchant: %+v", ev)
		}
	}
}

func TestInboundBraintreeChallenge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("A", "a")
	// The keys and challenge of braintree_node's test suite
	// (spec/unit/braintree/webhook_notification_gateway_spec.js).
	src := str(e.createSource(obj{"scheme": "braintree", "credentials": obj{"secret": "integration_private_key", "publicKey": "integration_public_key"},
		"application": "a", "rollout": obj{"state": "shadow"}}), "id")
	r := e.doWith("GET", "/in/"+src+"?bt_challenge=20f9f8ed05f77439fe955c977e4c8a53", nil, nil).want(http.StatusOK)
	if string(r.Body) != "integration_public_key|d9b899556c966b3f06945ec21311865d35df3ce4" {
		t.Errorf("challenge answer %q", r.Body)
	}
	if evs := e.inboundEvents(src); len(evs) != 0 {
		t.Errorf("a challenge was stored: %+v", evs)
	}
}

func TestObservedAndComparison(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createApp("A", "a")
	src := e.stripeSource("a", "shadow", nil)
	start := e.clock.Now()
	e.postStripe(src, stripeEvent("evt_both", "", 1)).want(http.StatusOK)
	e.postStripe(src, stripeEvent("evt_webhook_only", "", 1)).want(http.StatusOK)
	seen := start.Add(90 * time.Second).Format(time.RFC3339Nano)
	e.clock.Advance(2 * time.Minute)
	r := e.do("POST", "/api/v1/source/"+src+"/observed", obj{"events": []obj{
		{"eventId": "evt_both", "seenAt": seen, "occurredAt": start.Add(-time.Second).Format(time.RFC3339)},
		{"eventId": "evt_polling_only"},
	}}).want(http.StatusOK)
	if r.object()["added"] != 2.0 {
		t.Errorf("observed: %s", r.Body)
	}
	r = e.do("POST", "/api/v1/source/"+src+"/observed", obj{"events": []obj{{"seenAt": "yesterday"}}}).want(http.StatusUnprocessableEntity)
	if locs := validationLocs(t, r); strings.Join(locs, ",") != "body.events.0.eventId,body.events.0.seenAt" {
		t.Errorf("observed 422: %v", locs)
	}

	var c comparisonOut
	e.do("GET", "/api/v1/source/"+src+"/comparison", nil).want(http.StatusOK).decode(&c)
	if c.Webhook != 2 || c.Polling != 2 || c.Both != 1 || c.WebhookOnly != 1 || c.PollingOnly != 1 ||
		c.LeadMedianMS == nil || *c.LeadMedianMS != 90000 || c.LeadP95MS == nil || *c.LeadP95MS != 90000 || c.Rollout != "shadow" {
		t.Errorf("comparison %+v", c)
	}
	q := url.Values{"since": {start.Add(time.Hour).Format(time.RFC3339)}, "until": {start.Add(2 * time.Hour).Format(time.RFC3339)}}
	e.do("GET", "/api/v1/source/"+src+"/comparison?"+q.Encode(), nil).want(http.StatusOK).decode(&c)
	if c.Webhook != 0 || c.Polling != 0 || c.LeadMedianMS != nil {
		t.Errorf("empty window: %+v", c)
	}
}

func TestEventsFeed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("A", "a"), "id")
	var sent []string
	for i := range 5 {
		sent = append(sent, str(e.sendMessage(app, obj{"eventType": "payment.captured", "payload": obj{"n": i}}), "id"))
		e.clock.Advance(time.Millisecond)
	}
	// Too young: held back.
	var page listOut[messageOut]
	e.do("GET", "/api/v1/app/a/events", nil).want(http.StatusOK).decode(&page)
	if len(page.Data) != 0 || page.Iterator != nil {
		t.Errorf("feed shows messages younger than FeedSettle: %+v", page)
	}
	e.clock.Advance(FeedSettle)
	var got []string
	iter := ""
	for range 10 {
		path := "/api/v1/app/a/events?limit=2"
		if iter != "" {
			path += "&iterator=" + iter
		}
		page = listOut[messageOut]{}
		e.do("GET", path, nil).want(http.StatusOK).decode(&page)
		for _, m := range page.Data {
			got = append(got, m.ID)
		}
		if page.Iterator == nil {
			t.Fatal("no iterator")
		}
		iter = *page.Iterator
		if page.Done {
			break
		}
	}
	if strings.Join(got, ",") != strings.Join(sent, ",") {
		t.Errorf("feed order\n got %v\nwant %v", got, sent)
	}
	// Nothing new: the same iterator comes back; a new message shows up after it.
	page = listOut[messageOut]{}
	e.do("GET", "/api/v1/app/a/events?iterator="+iter, nil).want(http.StatusOK).decode(&page)
	if len(page.Data) != 0 || page.Iterator == nil || *page.Iterator != iter || !page.Done {
		t.Errorf("caught-up feed: %+v", page)
	}
	late := str(e.sendMessage(app, obj{"eventType": "payment.captured"}), "id")
	e.clock.Advance(FeedSettle + time.Millisecond)
	page = listOut[messageOut]{}
	e.do("GET", "/api/v1/app/a/events?iterator="+iter, nil).want(http.StatusOK).decode(&page)
	if len(page.Data) != 1 || page.Data[0].ID != late {
		t.Errorf("new message: %+v", page)
	}
	e.do("GET", "/api/v1/app/a/events?iterator=bogus", nil).want(http.StatusUnprocessableEntity)
	e.do("GET", "/api/v1/app/nope/events", nil).want(http.StatusNotFound)
}
