package inbound_test

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v82/webhook"

	"github.com/hookbridge/hookbridge/inbound"
)

const stripeSecret = "whsec_3bGyaXkpHnTQZ1eK0a5nNlmBa2vn4uY6"

// stripeSig is Stripe's v1 signature of body at ts under secret, written out
// here from Stripe's documentation rather than through the code under test.
func stripeSig(secret, ts, body string) string {
	return macHex(sha256.New, secret, ts, ".", body)
}

func stripeRequest(header, body string) *inbound.Request {
	return &inbound.Request{Body: []byte(body), Header: headers("Stripe-Signature", header)}
}

// A notification signed by stripe-go's own test helper verifies.
func TestStripe_SignedByStripeGo(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1PaY2fLkdIwHu7ix0x5R3hjs","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_3PaY2e","amount":2000,"currency":"eur"}}}`)
	signed := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{
		Payload:   body,
		Secret:    stripeSecret,
		Timestamp: testNow.Add(-30 * time.Second),
	})
	s := mustNew(t, "stripe", inbound.Credentials{Secret: stripeSecret})
	runCases(t, s, []verifyCase{
		{name: "as signed", req: stripeRequest(signed.Header, string(signed.Payload)), ids: []string{"evt_1PaY2fLkdIwHu7ix0x5R3hjs"}},
		{name: "body changed", req: stripeRequest(signed.Header, flipByte(string(signed.Payload))), reason: inbound.ReasonSignatureMismatch},
	})
	// And stripe-go agrees with the signature checks below.
	if err := stripewebhook.ValidatePayloadIgnoringTolerance(signed.Payload, signed.Header, stripeSecret); err != nil {
		t.Fatalf("stripe-go refuses its own payload: %v", err)
	}
}

func TestStripe(t *testing.T) {
	t.Parallel()
	s := mustNew(t, "stripe", inbound.Credentials{Secret: stripeSecret})
	body := `{"id":"evt_123","type":"charge.refunded"}`
	ts := unix(testNow.Add(-10 * time.Second))
	good := stripeSig(stripeSecret, ts, body)
	at := func(d time.Duration) string { return unix(testNow.Add(d)) }
	signedAt := func(d time.Duration) string { return "t=" + at(d) + ",v1=" + stripeSig(stripeSecret, at(d), body) }

	runCases(t, s, []verifyCase{
		{name: "valid", req: stripeRequest("t="+ts+",v1="+good, body), ids: []string{"evt_123"}},
		{name: "v0 and unknown entries ignored", req: stripeRequest("t="+ts+",v0=abcd,v1="+good+",v9=x", body), ids: []string{"evt_123"}},
		{name: "several signatures, one valid", req: stripeRequest("t="+ts+",v1="+strings.Repeat("ab", 32)+",v1="+good, body), ids: []string{"evt_123"}},
		{name: "unreadable v1 beside a valid one", req: stripeRequest("t="+ts+",v1=zz,v1="+good, body), ids: []string{"evt_123"}},
		{name: "body without an id", req: stripeRequest("t="+ts+",v1="+stripeSig(stripeSecret, ts, "[1]"), "[1]")},
		{name: "one byte of body", req: stripeRequest("t="+ts+",v1="+good, flipByte(body)), reason: inbound.ReasonSignatureMismatch},
		{name: "wrong secret", req: stripeRequest("t="+ts+",v1="+stripeSig("whsec_other", ts, body), body), reason: inbound.ReasonSignatureMismatch},
		// The whole whsec_ string is the key, not the part after it.
		{name: "secret without its prefix", req: stripeRequest("t="+ts+",v1="+stripeSig(strings.TrimPrefix(stripeSecret, "whsec_"), ts, body), body), reason: inbound.ReasonSignatureMismatch},
		{name: "timestamp changed", req: stripeRequest("t="+at(-11*time.Second)+",v1="+good, body), reason: inbound.ReasonSignatureMismatch},
		{name: "within tolerance, past", req: stripeRequest(signedAt(-299*time.Second), body), ids: []string{"evt_123"}},
		{name: "within tolerance, future", req: stripeRequest(signedAt(299*time.Second), body), ids: []string{"evt_123"}},
		{name: "stale", req: stripeRequest(signedAt(-301*time.Second), body), reason: inbound.ReasonTooOld},
		{name: "future", req: stripeRequest(signedAt(301*time.Second), body), reason: inbound.ReasonTooNew},
		{name: "missing header", req: &inbound.Request{Body: []byte(body), Header: headers("Stripe-Signature-X", "t="+ts+",v1="+good)}, reason: inbound.ReasonMissingHeader},
		{name: "not key=value", req: stripeRequest("garbage", body), reason: inbound.ReasonMalformedHeader},
		{name: "no timestamp", req: stripeRequest("v1="+good, body), reason: inbound.ReasonMalformedHeader},
		{name: "timestamp not a number", req: stripeRequest("t=yesterday,v1="+good, body), reason: inbound.ReasonMalformedHeader},
		{name: "negative timestamp", req: stripeRequest("t=-"+ts+",v1="+good, body), reason: inbound.ReasonMalformedHeader},
		{name: "no v1 signature", req: stripeRequest("t="+ts+",v0="+good, body), reason: inbound.ReasonMalformedHeader},
		{name: "only unreadable v1", req: stripeRequest("t="+ts+",v1=not-hex", body), reason: inbound.ReasonMalformedHeader},
		{name: "too many entries", req: stripeRequest("t="+ts+strings.Repeat(",v1=00", 40)+",v1="+good, body), reason: inbound.ReasonMalformedHeader},
	})
}

func TestStripe_Tolerance(t *testing.T) {
	t.Parallel()
	body := `{"id":"evt_old"}`
	old := unix(testNow.Add(-24 * time.Hour))
	req := func() *inbound.Request {
		return stripeRequest("t="+old+",v1="+stripeSig(stripeSecret, old, body), body)
	}
	runCases(t, mustNew(t, "stripe", inbound.Credentials{Secret: stripeSecret}, inbound.WithTolerance(inbound.NoTolerance)),
		[]verifyCase{{name: "no tolerance", req: req(), ids: []string{"evt_old"}}})
	runCases(t, mustNew(t, "stripe", inbound.Credentials{Secret: stripeSecret}, inbound.WithTolerance(25*time.Hour)),
		[]verifyCase{{name: "wide tolerance", req: req(), ids: []string{"evt_old"}}})
	runCases(t, mustNew(t, "stripe", inbound.Credentials{Secret: stripeSecret}, inbound.WithTolerance(time.Second)),
		[]verifyCase{{name: "narrow tolerance", req: stripeRequest("t="+unix(testNow.Add(-2*time.Second))+",v1="+stripeSig(stripeSecret, unix(testNow.Add(-2*time.Second)), body), body), reason: inbound.ReasonTooOld}})
}
