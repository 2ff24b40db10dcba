package inbound_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/inbound"
)

// The card numbers below are the networks' published test numbers
// (Stripe's, Adyen's and Braintree's test card lists); none is a real card.

// TestRedactProcessorBodies: a card number typed into a merchant's field,
// and a security code, in each processor's body shape. Everything but them
// stays as it was, byte for byte, spacing included.
func TestRedactProcessorBodies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"Stripe", `{
  "id": "evt_1", "type": "payment_intent.succeeded", "created": 1680064028,
  "data": {"object": {"id": "pi_1", "amount": 2000, "description": "Order for 4242 4242 4242 4242",
    "metadata": {"order_id": "4242424242424241", "cvc": "123", "card": "4242-4242-4242-4242"},
    "payment_method_details": {"card": {"last4": "4242", "checks": {"cvc_check": "pass"}}}}}
}`, `{
  "id": "evt_1", "type": "payment_intent.succeeded", "created": 1680064028,
  "data": {"object": {"id": "pi_1", "amount": 2000, "description": "Order for **** **** **** 4242",
    "metadata": {"order_id": "4242424242424241", "card": "****-****-****-4242"},
    "payment_method_details": {"card": {"last4": "4242", "checks": {"cvc_check": "pass"}}}}}
}`},
		{"Adyen", `{"live":"false","notificationItems":[{"NotificationRequestItem":{"additionalData":{"cardSecurityCode":"737","shopperReference":"5555555555554444","cardSummary":"4444"},"amount":{"currency":"EUR","value":1130},"eventCode":"AUTHORISATION","merchantReference":"order-1","pspReference":"7914073381342284","reason":"58747:4444:03/2030","success":"true"}}]}`,
			`{"live":"false","notificationItems":[{"NotificationRequestItem":{"additionalData":{"shopperReference":"************4444","cardSummary":"4444"},"amount":{"currency":"EUR","value":1130},"eventCode":"AUTHORISATION","merchantReference":"order-1","pspReference":"7914073381342284","reason":"58747:4444:03/2030","success":"true"}}]}`},
		{"Square", `{"merchant_id":"6SSW7HV8K2ST5","type":"payment.updated","event_id":"e1","data":{"object":{"payment":{"id":"p1","note":"amex 378282246310005","amount_money":{"amount":100,"currency":"USD"}}}}}`,
			`{"merchant_id":"6SSW7HV8K2ST5","type":"payment.updated","event_id":"e1","data":{"object":{"payment":{"id":"p1","note":"amex ***********0005","amount_money":{"amount":100,"currency":"USD"}}}}}`},
		{"Checkout", `{"id":"evt_1","type":"payment_captured","data":{"id":"pay_1","reference":"6011111111111117","metadata":{"cvv2":123,"security_code":{"value":"123"}},"processing":{"acquirer_transaction_id":"224253584573347744436"}}}`,
			`{"id":"evt_1","type":"payment_captured","data":{"id":"pay_1","reference":"************1117","metadata":{},"processing":{"acquirer_transaction_id":"224253584573347744436"}}}`},
		{"PayPal", `{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"id":"27M47624FP291604U","custom_id":"3530111333300000","invoice_id":"INV-1","amount":{"currency_code":"USD","value":"30.00"}}}`,
			`{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"id":"27M47624FP291604U","custom_id":"************0000","invoice_id":"INV-1","amount":{"currency_code":"USD","value":"30.00"}}}`},
		{"Razorpay", `{"event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_1","notes":["5105105105105100"],"card":{"last4":"5100"},"acquirer_data":{"rrn":"123456789012"}}}},"created_at":1747197134}`,
			`{"event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_1","notes":["************5100"],"card":{"last4":"5100"},"acquirer_data":{"rrn":"123456789012"}}}},"created_at":1747197134}`},
		{"GoCardless", `{"events":[{"id":"EV1","action":"confirmed","resource_type":"payments","metadata":{"note":"diners 30569309025904"},"links":{"payment":"PM1"}}]}`,
			`{"events":[{"id":"EV1","action":"confirmed","resource_type":"payments","metadata":{"note":"diners **********5904"},"links":{"payment":"PM1"}}]}`},
		{"Shopify", `{"id":820982911946154508,"admin_graphql_api_id":"gid://shopify/Order/820982911946154508","name":"#9999","note":"paid with 6200000000000005","total_price":"598.94","currency":"USD","created_at":"2025-01-01T10:00:00-05:00"}`,
			`{"id":820982911946154508,"admin_graphql_api_id":"gid://shopify/Order/820982911946154508","name":"#9999","note":"paid with ************0005","total_price":"598.94","currency":"USD","created_at":"2025-01-01T10:00:00-05:00"}`},
		{"Mollie", `{"resource":"event","id":"event_1","type":"payment-link.paid","entityId":"pl_1","_embedded":{"entity":{"description":"2223003122003222","amount":{"currency":"EUR","value":"10.00"}}}}`,
			`{"resource":"event","id":"event_1","type":"payment-link.paid","entityId":"pl_1","_embedded":{"entity":{"description":"************3222","amount":{"currency":"EUR","value":"10.00"}}}}`},
		{"Worldpay", `{"eventId":"A0M7","eventTimestamp":"2026-03-01T11:59:58.000Z","eventDetails":{"classification":"payment","transactionReference":"4111111111111111","downstreamReference":"3378792436","type":"authorized","amount":{"value":100,"currencyCode":"EUR"}}}`,
			`{"eventId":"A0M7","eventTimestamp":"2026-03-01T11:59:58.000Z","eventDetails":{"classification":"payment","transactionReference":"************1111","downstreamReference":"3378792436","type":"authorized","amount":{"value":100,"currencyCode":"EUR"}}}`},
		{"MercadoPago", `{"action":"order.processed","data":{"id":"ORD01","external_reference":"5555 5555 5555 4444"},"date_created":"2026-02-17T00:30:00.000Z","id":12345,"type":"order","user_id":"3209222310"}`,
			`{"action":"order.processed","data":{"id":"ORD01","external_reference":"**** **** **** 4444"},"date_created":"2026-02-17T00:30:00.000Z","id":12345,"type":"order","user_id":"3209222310"}`},
		{"StandardWebhooks", `{"type":"invoice.paid","timestamp":"2026-03-01T12:00:00Z","data":{"card_number":"4000056655665556","card_cvv":"999","cardCvc":"1234"}}`,
			`{"type":"invoice.paid","timestamp":"2026-03-01T12:00:00Z","data":{"card_number":"************5556"}}`},
		{"EscapedDigits", `{"note":"\u0034242424242424242 <b>"}`, `{"note":"************4242 <b>"}`},
		{"CardNumberAsKey", `{"4242424242424242":"x"}`, `{"************4242":"x"}`},
		{"XML", `<?xml version="1.0"?><notification><kind>x</kind><cvv>123</cvv><note attr="1">card 4242424242424242</note><security-code/></notification>`,
			`<?xml version="1.0"?><notification><kind>x</kind><note attr="1">card ************4242</note></notification>`},
		{"Text", "card 4242 4242 4242 4242 exp 12/30", "card **** **** **** 4242 exp 12/30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := string(inbound.Redact([]byte(tc.in)))
			if got != tc.want {
				t.Errorf("Redact\n got %s\nwant %s", got, tc.want)
			}
			if json.Valid([]byte(tc.in)) && !json.Valid([]byte(got)) {
				t.Errorf("valid JSON in, invalid out: %s", got)
			}
		})
	}
}

// TestRedactDropsMembersCleanly: a security code first, last, alone, in an
// array's object, with the spacing of what is left untouched.
func TestRedactDropsMembersCleanly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`{"cvv":"123","a":1}`, `{"a":1}`},
		{`{"a":1,"cvv":"123"}`, `{"a":1}`},
		{`{"a":1, "CVC2": "123", "b":2}`, `{"a":1, "b":2}`},
		{"{\n  \"cvv\": \"123\"\n}", "{\n  \n}"},
		{`[{"securityCode":"123"},{"x":[1,2]}]`, `[{},{"x":[1,2]}]`},
		{`{"card":{"number":"4242424242424242","cvc":"314","exp_month":12}}`, `{"card":{"number":"************4242","exp_month":12}}`},
	} {
		got := string(inbound.Redact([]byte(tc.in)))
		if got != tc.want {
			t.Errorf("Redact(%s) = %s, want %s", tc.in, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("Redact(%s) is not JSON: %s", tc.in, got)
		}
	}
}

// TestRedactLeavesNonCardNumbers: numbers that look long but are not card
// numbers are kept, and a body with nothing to remove comes back as it was.
func TestRedactLeavesNonCardNumbers(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"4242424242424241",      // an order id of 16 digits that fails the Luhn check
		"1742505638680",         // a timestamp in milliseconds (passes Luhn; no card starts with 1)
		"20240501100000129",     // a compact date-time (passes Luhn; 20… is no network's)
		"7914073381342283",      // an Adyen-style pspReference (passes Luhn; 7… is no card network's)
		"820982911946154508",    // Shopify's documented order id (passes Luhn; 8… is no network's)
		"224253584573347744436", // a 21-digit acquirer transaction id
		"ORD4242424242424242",   // glued to letters: part of an identifier
		"4242424242424242X",     // likewise
		"1680064028",            // unix seconds
		"2024-05-01T10:00:00Z",  // a date
		"+44 20 7946 0958",      // a telephone number
		"424242424242",          // 12 digits: too short
		"42424242424242424242",  // 20 digits: too long
		"5550297555132",         // 13 digits: only Visa's are that short
	} {
		body := []byte(`{"ref":"` + s + `","n":4242424242424242}`)
		if got := inbound.Redact(body); !bytes.Equal(got, body) {
			t.Errorf("Redact changed %s into %s", body, got)
		}
		if got := inbound.Redact([]byte(s)); string(got) != s {
			t.Errorf("Redact changed the text %s into %s", s, got)
		}
	}
	body := []byte(stripePISucceeded)
	if got := inbound.Redact(body); &got[0] != &body[0] || len(got) != len(body) {
		t.Error("a body with nothing to remove was copied or changed")
	}
}

// TestRedactBraintree: Braintree's body is a form whose bt_payload is base64
// XML; the card number and code inside it are found and removed, and the
// result still reads as a Braintree notification.
func TestRedactBraintree(t *testing.T) {
	t.Parallel()
	xml := `<notification><kind>transaction_settled</kind><subject><transaction><id>7mqd4m3f</id>
<order-id>4111111111111111</order-id><cvv>123</cvv><credit-card><bin>411111</bin><last-4>1111</last-4>
<masked-number>411111******1111</masked-number></credit-card><amount>10.50</amount><currency-iso-code>USD</currency-iso-code>
</transaction></subject></notification>`
	body := url.Values{"bt_signature": {"pub|sig"}, "bt_payload": {base64.StdEncoding.EncodeToString([]byte(xml))}, "cvv": {"123"}}.Encode()
	got := inbound.Redact([]byte(body))
	form, err := url.ParseQuery(string(got))
	if err != nil {
		t.Fatalf("not a form: %v", err)
	}
	if form.Get("bt_signature") != "pub|sig" || form.Has("cvv") {
		t.Errorf("form fields: %v", form)
	}
	payload, err := base64.StdEncoding.DecodeString(form.Get("bt_payload"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(strings.Replace(xml, "<cvv>123</cvv>", "", 1), "4111111111111111", "************1111", 1)
	if string(payload) != want {
		t.Errorf("bt_payload\n got %s\nwant %s", payload, want)
	}
	// It still normalises.
	events, err := inbound.Normalize("braintree", got, &inbound.Verified{}, inbound.NormalizeOptions{})
	if err != nil || len(events) != 1 || len(events[0].Messages) != 1 {
		t.Fatalf("the redacted body does not normalise: %+v %v", events, err)
	}
	// Nothing to remove: the body comes back as it was.
	clean := []byte(braintreeBody(braintreeSettled))
	if got := inbound.Redact(clean); !bytes.Equal(got, clean) {
		t.Errorf("a clean Braintree body changed:\n%s\n%s", clean, got)
	}
}

// FuzzRedact: whatever the body, Redact returns promptly, keeps valid JSON
// valid, and leaves nothing a second pass would find.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{stripePISucceeded, paypalCaptureCompleted, braintreeBody(braintreeSettled),
		`{"cvv":"1","a":[{"cvc":2},"4242 4242 4242 4242"]}`, "<a><cvv>1</cvv>4242424242424242</a>",
		"a=4242424242424242&cvc=1", "4242424242424242 4242424242424242 123", `{"a":"\u0034242424242424242"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		once := inbound.Redact(body)
		if json.Valid(body) && !json.Valid(once) {
			t.Fatalf("valid JSON became invalid:\n%q\n%q", body, once)
		}
		if twice := inbound.Redact(once); !bytes.Equal(twice, once) {
			t.Fatalf("a second pass changed the result:\n%q\n%q\n%q", body, once, twice)
		}
	})
}
