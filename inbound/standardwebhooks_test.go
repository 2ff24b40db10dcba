package inbound_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/inbound"
	"github.com/hookbridge/hookbridge/webhook"
)

// The published vectors of the Standard Webhooks specification: the
// reference Go library's TestWebhookSign (standard-webhooks/standard-webhooks,
// libraries/go/webhook_test.go) for v1, and Svix's
// test_asymmetric_key_signing (svix/svix-webhooks,
// server/svix-server/src/worker.rs), which the specification also shows, for
// v1a. The same vectors test the webhook package this scheme delegates to.
const (
	swSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	swTimestamp = 1614265330
	swPayload   = `{"test": 2432232314}`
	swSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

	swPublicKey    = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="
	swEdSignature  = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="
	swOtherSecret  = "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"
	swOtherKeyPair = "whpk_GjLhX3kB0Kx1UqHeDjBm1ZB9GmZbx3jHCeo09X6WmS8="
)

func TestStandardWebhooks_PublishedVectors(t *testing.T) {
	t.Parallel()
	vectorTime := time.Unix(swTimestamp, 0)
	req := func(sig, body string, now time.Time, names ...string) *inbound.Request {
		if len(names) == 0 {
			names = []string{"webhook-id", "webhook-timestamp", "webhook-signature"}
		}
		return &inbound.Request{
			Body:   []byte(body),
			Header: headers(names[0], swID, names[1], strconv.Itoa(swTimestamp), names[2], sig),
			Now:    now,
		}
	}
	at := vectorTime.Add(10 * time.Second)
	ids := []string{swID}

	hmacScheme := mustNew(t, "standard-webhooks", inbound.Credentials{Secret: swSecret})
	runCases(t, hmacScheme, []verifyCase{
		{name: "v1 vector", req: req(swSignature, swPayload, at), ids: ids},
		{name: "svix header names", req: req(swSignature, swPayload, at, "svix-id", "svix-timestamp", "svix-signature"), ids: ids},
		{name: "several signatures, one valid", req: req("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= "+swEdSignature+" "+swSignature, swPayload, at), ids: ids},
		{name: "one byte of body", req: req(swSignature, flipByte(swPayload), at), reason: inbound.ReasonSignatureMismatch},
		{name: "stale", req: req(swSignature, swPayload, vectorTime.Add(301*time.Second)), reason: inbound.ReasonTooOld},
		{name: "future", req: req(swSignature, swPayload, vectorTime.Add(-301*time.Second)), reason: inbound.ReasonTooNew},
		{name: "missing header", req: &inbound.Request{Body: []byte(swPayload), Header: headers("webhook-id", swID, "webhook-signature", swSignature), Now: at}, reason: inbound.ReasonMissingHeader},
		{name: "malformed timestamp", req: &inbound.Request{Body: []byte(swPayload), Header: headers("webhook-id", swID, "webhook-timestamp", "16142653.30", "webhook-signature", swSignature), Now: at}, reason: inbound.ReasonMalformedHeader},
		{name: "malformed signature", req: req("garbage", swPayload, at), reason: inbound.ReasonSignatureMismatch},
	})
	runCases(t, mustNew(t, "standard-webhooks", inbound.Credentials{Secret: swOtherSecret}), []verifyCase{
		{name: "wrong secret", req: req(swSignature, swPayload, at), reason: inbound.ReasonSignatureMismatch},
	})

	// v1a: the whpk_ key may be given as the public key or as the secret.
	for _, creds := range []inbound.Credentials{{PublicKey: swPublicKey}, {Secret: swPublicKey}, {Secret: swOtherSecret, PublicKey: swPublicKey}} {
		runCases(t, mustNew(t, "standard-webhooks", creds), []verifyCase{
			{name: "v1a vector", req: req(swEdSignature, swPayload, at), ids: ids},
			{name: "v1a, body changed", req: req(swEdSignature, flipByte(swPayload), at), reason: inbound.ReasonSignatureMismatch},
		})
	}
	runCases(t, mustNew(t, "standard-webhooks", inbound.Credentials{PublicKey: swOtherKeyPair}), []verifyCase{
		{name: "v1a, wrong key", req: req(swEdSignature, swPayload, at), reason: inbound.ReasonSignatureMismatch},
	})
	runCases(t, mustNew(t, "standard-webhooks", inbound.Credentials{Secret: swSecret}, inbound.WithTolerance(inbound.NoTolerance)), []verifyCase{
		{name: "no tolerance", req: req(swSignature, swPayload, vectorTime.Add(1000*time.Hour)), ids: ids},
	})
}

// A message signed now by this repository's signer verifies at the scheme.
func TestStandardWebhooks_SignedHere(t *testing.T) {
	t.Parallel()
	signer, err := webhook.NewSigner(swSecret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"payment.captured"}`)
	h := http.Header{}
	signer.SetHeaders(h, "msg_here", testNow, body)
	runCases(t, mustNew(t, "standard-webhooks", inbound.Credentials{Secret: swSecret}), []verifyCase{
		{name: "signed here", req: &inbound.Request{Body: body, Header: h}, ids: []string{"msg_here"}},
	})
}
