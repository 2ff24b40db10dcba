package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/inbound"
)

// TestInboundStoresRedactedBody: the signature is checked on the bytes the
// processor sent, card number and all; what is stored has the number masked
// to its last four digits and the security code gone, and the canonical
// payload carries neither.
func TestInboundStoresRedactedBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := str(e.createApp("Acme", "acme"), "id")
	src := e.stripeSource("acme", "on", nil)
	body := []byte(`{"id":"evt_pan","object":"event","type":"payment_intent.succeeded","created":1714557600,"account":"acct_A",
"data":{"object":{"id":"pi_pan","object":"payment_intent","amount":2599,"amount_received":2599,"currency":"eur","status":"succeeded",
"description":"paid with 4242 4242 4242 4242","metadata":{"order_id":"4242424242424242","cvc":"123"}}}}`)
	// Signed over the original bytes: a signature over the redacted ones
	// would not be what Stripe sends.
	e.postStripe(src, body).want(http.StatusOK)
	e.postStripe(src, body).want(http.StatusOK) // a repeat is still a repeat

	events := e.inboundEvents(src)
	if len(events) != 1 {
		t.Fatalf("%d stored events, want 1", len(events))
	}
	stored := derefStr(events[0].Body)
	if stored != string(inbound.Redact(body)) {
		t.Errorf("stored body\n%s\nwant the redacted one\n%s", stored, inbound.Redact(body))
	}
	for _, leak := range []string{"4242 4242 4242 4242", "4242424242424242", `"cvc"`, `"123"`} {
		if strings.Contains(stored, leak) {
			t.Errorf("the stored body contains %s: %s", leak, stored)
		}
	}
	if !strings.Contains(stored, `"description":"paid with **** **** **** 4242"`) || !strings.Contains(stored, `"order_id":"************4242"`) {
		t.Errorf("the stored body lost more than the card data: %s", stored)
	}

	msgs := e.appMessages(app)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	var p map[string]any
	if err := json.Unmarshal(msgs[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p["reference"] != "************4242" || p["id"] != "pi_pan" || p["amount"] != 2599.0 {
		t.Errorf("payload %s", msgs[0].Payload)
	}
}
