package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v82/webhook"
	svix "github.com/svix/svix-webhooks/go"
)

const (
	e2eStripeSecret = "whsec_e2e_0123456789abcdefghijklmnopqr"
	e2eAdyenKey     = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
)

// callAPI sends a request to the running server, with the admin key, and
// returns the status and body.
func callAPI(t *testing.T, srv *server, method, path string, body []byte, header map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+srv.Addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(path, "/in/") {
		req.Header.Set("Authorization", "Bearer "+testAPIKey)
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// cli runs a hookbridge command line against the server and returns its
// standard output, failing the test if it does not exit 0.
func cli(t *testing.T, srv *server, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(args, "--url", "http://"+srv.Addr, "--api-key", testAPIKey)
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("hookbridge %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.Bytes()
}

// createSourceCLI creates a source with `hookbridge source create` and
// returns its id.
func createSourceCLI(t *testing.T, srv *server, args ...string) string {
	t.Helper()
	var src struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	if err := json.Unmarshal(cli(t, srv, append([]string{"source", "create"}, args...)...), &src); err != nil {
		t.Fatal(err)
	}
	if src.URL != "http://"+srv.Addr+"/in/"+src.ID {
		t.Errorf("source url %q", src.URL)
	}
	return src.ID
}

// signAdyen builds an Adyen notification whose items are each signed with
// the key, as Adyen signs them (docs: "Verify HMAC signatures").
func signAdyen(t *testing.T, key string, items ...map[string]any) []byte {
	t.Helper()
	raw, err := hex.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	var wrapped []any
	for _, it := range items {
		amount := it["amount"].(map[string]any)
		s := func(k string) string { v, _ := it[k].(string); return v }
		data := strings.Join([]string{s("pspReference"), s("originalReference"), s("merchantAccountCode"), s("merchantReference"),
			jsonText(amount["value"]), amount["currency"].(string), s("eventCode"), s("success")}, ":")
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

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// canonical is a delivered canonical message: its body is the payload.
type canonical struct {
	Payload struct {
		ID                 string `json:"id"`
		Status             string `json:"status"`
		Amount             int64  `json:"amount"`
		Currency           string `json:"currency"`
		Processor          string `json:"processor"`
		ProcessorReference string `json:"processorReference"`
		Reference          string `json:"reference"`
		Merchant           string `json:"merchant"`
		OccurredAt         string `json:"occurredAt"`
	}
}

// nextCanonical waits for the receiver's next request, checks its
// signature, and decodes it.
func nextCanonical(t *testing.T, rcv *receiver, wh *svix.Webhook) (canonical, string) {
	t.Helper()
	got := rcv.next(t)
	if err := wh.Verify(got.Body, got.Header); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var c canonical
	if err := json.Unmarshal(got.Body, &c.Payload); err != nil {
		t.Fatal(err)
	}
	return c, got.Header.Get("Webhook-Id")
}

// TestInboundEndToEnd: processors' notifications arrive at their sources
// on a running server, are acknowledged as each processor expects, and come
// out at a subscribed endpoint as canonical events, once; shadow and off
// sources forward nothing.
func TestInboundEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startTestServer(t)
	sx := svixClient(t, srv)
	app, err := sx.Application.Create(ctx, svix.ApplicationIn{Name: "Pizza Place", Uid: ptr("pizza")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t)
	ep, err := sx.Endpoint.Create(ctx, app.Id, svix.EndpointIn{
		Url: rcv.URL + "/payments", FilterTypes: []string{"payment.captured", "payment.authorized"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := sx.Endpoint.GetSecret(ctx, app.Id, ep.Id)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := svix.NewWebhook(secret.Key)
	if err != nil {
		t.Fatal(err)
	}

	stripeSrc := createSourceCLI(t, srv, "--scheme", "stripe", "--secret", e2eStripeSecret, "--app", "pizza", "--state", "on")
	adyenSrc := createSourceCLI(t, srv, "--scheme", "adyen", "--secret", e2eAdyenKey, "--merchant-app", "PizzaEU=pizza", "--state", "shadow")
	cli(t, srv, "source", "set-state", adyenSrc, "on")

	// Stripe: payment_intent.succeeded, signed by stripe-go.
	stripeBody := []byte(`{"id":"evt_3PzE2e","object":"event","api_version":"2024-06-20","created":1714557600,"type":"payment_intent.succeeded",
"livemode":false,"data":{"object":{"id":"pi_3PzE2e","object":"payment_intent","amount":2599,"amount_received":2599,"currency":"eur","status":"succeeded"}}}`)
	postStripe := func(source string, body []byte) (int, []byte) {
		signed := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: body, Secret: e2eStripeSecret, Timestamp: time.Now()})
		return callAPI(t, srv, "POST", "/in/"+source, signed.Payload, map[string]string{"Stripe-Signature": signed.Header})
	}
	if code, body := postStripe(stripeSrc, stripeBody); code != http.StatusOK {
		t.Fatalf("stripe: %d %s", code, body)
	}
	got, firstID := nextCanonical(t, rcv, wh)
	p := got.Payload
	if p.ID != "pi_3PzE2e" || p.Amount != 2599 || p.Currency != "EUR" || p.Processor != "stripe" || p.ProcessorReference != "evt_3PzE2e" || p.Status != "succeeded" {
		t.Errorf("stripe payment.captured payload %+v", p)
	}
	// The same notification again (a processor's retry): acknowledged, not
	// forwarded again.
	if code, _ := postStripe(stripeSrc, stripeBody); code != http.StatusOK {
		t.Fatalf("stripe repeat: %d", code)
	}

	// Adyen: an AUTHORISATION batch, answered [accepted].
	auth := map[string]any{"pspReference": "7914073381342284", "merchantAccountCode": "PizzaEU", "merchantReference": "order-1138",
		"amount": map[string]any{"value": 1130, "currency": "EUR"}, "eventCode": "AUTHORISATION", "success": "true",
		"eventDate": "2024-05-01T12:00:00+02:00"}
	report := map[string]any{"pspReference": "rep-1", "merchantAccountCode": "PizzaEU",
		"amount": map[string]any{"value": 0, "currency": "EUR"}, "eventCode": "REPORT_AVAILABLE", "success": "true"}
	code, ack := callAPI(t, srv, "POST", "/in/"+adyenSrc, signAdyen(t, e2eAdyenKey, auth, report), nil)
	if code != http.StatusOK || string(ack) != "[accepted]" {
		t.Fatalf("adyen: %d %q", code, ack)
	}
	got, adyenID := nextCanonical(t, rcv, wh)
	p = got.Payload
	if adyenID == firstID {
		t.Fatal("the Stripe event was delivered twice")
	}
	if p.ID != "7914073381342284" || p.Amount != 1130 || p.Currency != "EUR" || p.Processor != "adyen" || p.Reference != "order-1138" ||
		p.Merchant != "PizzaEU" || p.OccurredAt != "2024-05-01T10:00:00Z" {
		t.Errorf("adyen payment.authorized payload %+v", p)
	}

	// Shadow: stored, acknowledged, not forwarded.
	cli(t, srv, "source", "set-state", stripeSrc, "shadow")
	shadowBody := bytes.ReplaceAll(stripeBody, []byte("3PzE2e"), []byte("shadow1"))
	if code, _ := postStripe(stripeSrc, shadowBody); code != http.StatusOK {
		t.Fatalf("shadow: %d", code)
	}
	// Off: 404, nothing stored.
	cli(t, srv, "source", "set-state", stripeSrc, "off")
	offBody := bytes.ReplaceAll(stripeBody, []byte("3PzE2e"), []byte("off1"))
	if code, _ := postStripe(stripeSrc, offBody); code != http.StatusNotFound {
		t.Fatalf("off source answered %d, want 404", code)
	}
	// Back on: the next delivery is this event's, so neither the shadow
	// nor the off event went out.
	cli(t, srv, "source", "set-state", stripeSrc, "on")
	onBody := bytes.ReplaceAll(stripeBody, []byte("3PzE2e"), []byte("on2"))
	if code, _ := postStripe(stripeSrc, onBody); code != http.StatusOK {
		t.Fatalf("on again: %d", code)
	}
	if got, _ := nextCanonical(t, rcv, wh); got.Payload.ID != "pi_on2" {
		t.Errorf("next delivery is %s, want pi_on2 (shadow or off event forwarded?)", got.Payload.ID)
	}

	var events struct {
		Data []struct {
			EventID   string `json:"eventId"`
			Forwarded bool   `json:"forwarded"`
		} `json:"data"`
	}
	_, raw := callAPI(t, srv, "GET", "/api/v1/source/"+stripeSrc+"/events", nil, nil)
	if err := json.Unmarshal(raw, &events); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range events.Data {
		seen = append(seen, e.EventID+map[bool]string{true: "+", false: "-"}[e.Forwarded])
	}
	if strings.Join(seen, " ") != "evt_on2+ evt_shadow1- evt_3PzE2e+" {
		t.Errorf("stored stripe events (newest first): %v", seen)
	}
	var audit struct {
		Data []struct {
			Actor string `json:"actor"`
			To    struct {
				State string `json:"state"`
			} `json:"to"`
		} `json:"data"`
	}
	_, raw = callAPI(t, srv, "GET", "/api/v1/source/"+stripeSrc+"/rollout", nil, nil)
	if err := json.Unmarshal(raw, &audit); err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, c := range audit.Data {
		states = append(states, c.Actor+":"+c.To.State)
	}
	if strings.Join(states, " ") != "admin:on admin:off admin:shadow admin:on" {
		t.Errorf("rollout audit: %v", states)
	}

	// The application's feed lists the three forwarded events, oldest first.
	waitFor(t, "the events feed to show the forwarded events", func() bool {
		var feed struct {
			Data []struct {
				EventType string `json:"eventType"`
				EventID   string `json:"eventId"`
			} `json:"data"`
		}
		_, raw := callAPI(t, srv, "GET", "/api/v1/app/pizza/events", nil, nil)
		if json.Unmarshal(raw, &feed) != nil || len(feed.Data) < 3 {
			return false
		}
		want := []string{"stripe.evt_3PzE2e", "adyen.AUTHORISATION.3a7914073381342284.3atrue", "stripe.evt_on2"}
		for i, m := range feed.Data {
			if m.EventID != want[i] {
				t.Fatalf("feed item %d is %s, want %s", i, m.EventID, want[i])
			}
		}
		return true
	})
	list := string(cli(t, srv, "source", "list"))
	if !strings.Contains(list, stripeSrc) || !strings.Contains(list, adyenSrc) {
		t.Errorf("source list:\n%s", list)
	}
}
