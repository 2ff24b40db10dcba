package inbound_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/inbound"
)

// The fuzz targets feed each scheme's parsers untrusted input. Whatever the
// input, Verify must return promptly with either a result or an *Error that
// has a reason and a detail, never both, never neither, and never panic.
// Run one with, for example:
//
//	go test ./inbound -run '^$' -fuzz '^FuzzStripe$' -fuzztime 20s

func fuzzVerify(t *testing.T, s inbound.Scheme, req *inbound.Request) {
	t.Helper()
	if req.Now.IsZero() {
		req.Now = testNow
	}
	v, err := s.Verify(context.Background(), req)
	switch {
	case err == nil && v == nil:
		t.Fatal("Verify returned neither a result nor an error")
	case err != nil && v != nil:
		t.Fatalf("Verify returned a result and an error: %v", err)
	case err != nil:
		var e *inbound.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not an *inbound.Error", err, err)
		}
		if e.Reason == "" || e.Detail == "" || e.Scheme != s.Name() {
			t.Fatalf("incomplete refusal %#v", e)
		}
	}
}

func FuzzStandardWebhooks(f *testing.F) {
	f.Add(swID, "1614265330", swSignature, swPayload)
	f.Add(swID, "1614265330", swEdSignature+" "+swSignature, swPayload)
	f.Add("", "016", "v1,,v1a,==", "x")
	s := mustNew(f, "standard-webhooks", inbound.Credentials{Secret: swSecret, PublicKey: swPublicKey})
	f.Fuzz(func(t *testing.T, id, ts, sig, body string) {
		fuzzVerify(t, s, &inbound.Request{Body: []byte(body), Now: time.Unix(swTimestamp, 0),
			Header: headers("webhook-id", id, "webhook-timestamp", ts, "webhook-signature", sig)})
	})
}

func FuzzStripe(f *testing.F) {
	body := `{"id":"evt_1"}`
	ts := unix(testNow)
	f.Add("t="+ts+",v1="+stripeSig(stripeSecret, ts, body), body)
	f.Add("t="+ts+",v1=00,v1=zz,v0=1,=,t=", "[")
	f.Add("t=9999999999999999999,v1=", "x")
	s := mustNew(f, "stripe", inbound.Credentials{Secret: stripeSecret})
	f.Fuzz(func(t *testing.T, h, body string) {
		fuzzVerify(t, s, &inbound.Request{Body: []byte(body), Header: headers("Stripe-Signature", h)})
	})
}

func FuzzAdyen(f *testing.F) {
	f.Add(adyenSampleBody)
	f.Add(adyenBody(`{"NotificationRequestItem":{"amount":{"value":1e400},"additionalData":{"hmacSignature":1}}}`))
	f.Add(`{"notificationItems":[null,{}]}`)
	s := mustNew(f, "adyen", inbound.Credentials{Secret: adyenSampleKey})
	f.Fuzz(func(t *testing.T, body string) {
		fuzzVerify(t, s, &inbound.Request{Body: []byte(body)})
	})
}

// FuzzHeaderSchemes covers the schemes whose only parser is one signature
// header over the body (and, for Square, the URL).
func FuzzHeaderSchemes(f *testing.F) {
	type target struct {
		scheme, header string
	}
	targets := []target{
		{"adyen-hmac-header", "HmacSignature"},
		{"square", "X-Square-Hmacsha256-Signature"},
		{"checkout", "Cko-Signature"},
		{"razorpay", "X-Razorpay-Signature"},
		{"gocardless", "Webhook-Signature"},
		{"shopify", "X-Shopify-Hmac-Sha256"},
	}
	schemes := make([]inbound.Scheme, len(targets))
	for i, tg := range targets {
		schemes[i] = mustNew(f, tg.scheme, workingCredentials[tg.scheme])
	}
	f.Add(uint8(1), squareSampleSig, squareSampleBody, squareSampleURL)
	f.Add(uint8(4), goCardlessSampleSig, `{"events":[{"id":1},{"id":"x"}]}`, "")
	f.Add(uint8(5), "AAAA", "{}", "::")
	f.Fuzz(func(t *testing.T, which uint8, sig, body, rawURL string) {
		i := int(which) % len(targets)
		fuzzVerify(t, schemes[i], &inbound.Request{Body: []byte(body), URL: rawURL,
			Header: headers(targets[i].header, sig, "X-Shopify-Topic", "t", "X-Razorpay-Event-Id", "e")})
	})
}

func FuzzBraintree(f *testing.F) {
	payload := btSample("check", "id")
	f.Add(btForm(btPublicKey+"|"+btSign(btPrivateKey, payload), payload).Body, "")
	f.Add([]byte(""), "https://h.example/in?bt_challenge="+btSampleChallenge)
	f.Add([]byte("bt_signature=a|b|c&&|&bt_payload=%0A"), "?bt_challenge=%zz")
	s := mustNew(f, "braintree", inbound.Credentials{Secret: btPrivateKey, PublicKey: btPublicKey})
	f.Fuzz(func(t *testing.T, body []byte, rawURL string) {
		fuzzVerify(t, s, &inbound.Request{Body: body, URL: rawURL})
	})
}

func FuzzPayPal(f *testing.F) {
	f.Add(paypalSampleTransID, paypalSampleTime, paypalSampleSig, "SHA256withRSA", paypalSampleBody)
	f.Add("", "2015-05-12T18:14:14.999999999+14:00", "====", "sha256withrsa", "{}")
	s := mustNew(f, "paypal", inbound.Credentials{KeyID: paypalSampleWebhookID, CertPEM: []byte(paypalSandboxCert)})
	sampleTime, _ := time.Parse(time.RFC3339, paypalSampleTime)
	f.Fuzz(func(t *testing.T, transID, transTime, sig, algo, body string) {
		h := headers("PAYPAL-TRANSMISSION-ID", transID, "PAYPAL-TRANSMISSION-TIME", transTime,
			"PAYPAL-TRANSMISSION-SIG", sig, "PAYPAL-AUTH-ALGO", algo)
		fuzzVerify(t, s, &inbound.Request{Body: []byte(body), Header: h, Now: sampleTime})
	})
}

func FuzzMollie(f *testing.F) {
	f.Add("sha256=00", "sha256=", `{"id":"tr_1"}`)
	s := mustNew(f, "mollie", workingCredentials["mollie"])
	f.Fuzz(func(t *testing.T, sig1, sig2, body string) {
		fuzzVerify(t, s, &inbound.Request{Body: []byte(body), Header: headers("X-Mollie-Signature", sig1, "X-Mollie-Signature", sig2)})
	})
}

func FuzzWorldpay(f *testing.F) {
	f.Add("1/SHA256/00,2/SHA256/zz", `{"eventId":"e"}`)
	f.Add("//,/,,,1/2/3/4", "x")
	s := mustNew(f, "worldpay", inbound.Credentials{Secret: "s", KeyID: "2"})
	f.Fuzz(func(t *testing.T, h, body string) {
		fuzzVerify(t, s, &inbound.Request{Body: []byte(body), Header: headers("Event-Signature", h)})
	})
}

func FuzzMercadoPago(f *testing.F) {
	f.Add("ts="+unix(testNow)+",v1=00", "req-1", "https://h.example/in?data.id=123", `{"data":{"id":"123"},"id":1}`)
	f.Add("ts=,v1=,,=", "", "%", `{"data":{"id":123}}`)
	s := mustNew(f, "mercadopago", workingCredentials["mercadopago"])
	f.Fuzz(func(t *testing.T, xsig, requestID, rawURL, body string) {
		fuzzVerify(t, s, &inbound.Request{Body: []byte(body), URL: rawURL, Header: headers("x-signature", xsig, "x-request-id", requestID)})
	})
}

func FuzzGenericHMAC(f *testing.F) {
	f.Add("sha256=00, sha256=zz", unix(testNow), "{}")
	f.Add(",,, ,", "", "x")
	s := mustNew(f, "hmac", inbound.Credentials{Secret: "s", HMAC: inbound.HMACOptions{
		Header: "X-Sig", Prefix: "sha256=", Encoding: "base64", TimestampHeader: "X-Ts"}})
	f.Fuzz(func(t *testing.T, sig, ts, body string) {
		fuzzVerify(t, s, &inbound.Request{Body: []byte(body), Header: headers("X-Sig", sig, "X-Ts", ts)})
	})
}

// URLs of every shape reach the schemes that read them; parsing one must not
// be where a request goes wrong.
func FuzzNotificationURL(f *testing.F) {
	f.Add("https://hooks.example/in/src?data.id=1&bt_challenge=" + btSampleChallenge)
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := url.Parse(raw); err != nil {
			return
		}
		for _, name := range []string{"square", "mercadopago", "braintree"} {
			fuzzVerify(t, mustNew(t, name, workingCredentials[name]), &inbound.Request{Body: []byte("{}"), URL: raw})
		}
	})
}
