package inbound_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"testing"

	"github.com/hookbridge/hookbridge/inbound"
)

// Square's published examples: TestWebhookSignatureValidation in
// square/square-go-sdk, webhooks/client/verify_signature_test.go.
const (
	squareSampleBody = `{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}`
	squareSampleSig  = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="
	squareSampleKey  = "Ibxx_5AKakO-3qeNVR61Dw"
	squareSampleURL  = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
)

func TestSquare(t *testing.T) {
	t.Parallel()
	req := func(url, sig, body string) *inbound.Request {
		return &inbound.Request{Body: []byte(body), Header: headers("x-square-hmacsha256-signature", sig), URL: url}
	}
	sample := mustNew(t, "square", inbound.Credentials{Secret: squareSampleKey})
	runCases(t, sample, []verifyCase{
		{name: "published example", req: req(squareSampleURL, squareSampleSig, squareSampleBody), ids: []string{"ac3ac95b-f97d-458c-a6e6-18981597e05f"}},
		{name: "published: URL mismatch", req: req("https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9", squareSampleSig, squareSampleBody), reason: inbound.ReasonSignatureMismatch},
		{name: "published: invalid signature header", req: req(squareSampleURL, "1z2n3DEJJiUPKcPzQo1ftvbxGdw=", squareSampleBody), reason: inbound.ReasonSignatureMismatch},
		{name: "published: body mismatch", req: req(squareSampleURL, squareSampleSig, flipByte(squareSampleBody)), reason: inbound.ReasonSignatureMismatch},
		{name: "missing header", req: &inbound.Request{Body: []byte(squareSampleBody), URL: squareSampleURL}, reason: inbound.ReasonMissingHeader},
		{name: "missing URL", req: req("", squareSampleSig, squareSampleBody), reason: inbound.ReasonMissingURL},
		// Square's legacy SHA-1 header is not accepted.
		{name: "legacy SHA-1 signature", req: &inbound.Request{Body: []byte(squareSampleBody), URL: squareSampleURL,
			Header: headers("x-square-signature", macBase64(sha1.New, squareSampleKey, squareSampleURL, squareSampleBody))}, reason: inbound.ReasonMissingHeader},
	})
	runCases(t, mustNew(t, "square", inbound.Credentials{Secret: "MCmhFRxGX82xMwg5FsaoQA"}), []verifyCase{
		{name: "published: invalid signature key", req: req(squareSampleURL, squareSampleSig, squareSampleBody), reason: inbound.ReasonSignatureMismatch},
	})
	s := mustNew(t, "square", inbound.Credentials{Secret: "signature-key"})
	runCases(t, s, []verifyCase{
		{name: "published: unescaped characters", req: req("https://webhook.site/webhooks", "W3FlCNk5IA3ZQ2LHTWoajvzfaDu/OwY2tNHIHC3IUOA=", `{"data":{"type":"webhooks","id":"fake_id"}}`)},
		{name: "published: escaped characters", req: req("https://webhook.site/webhooks", "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=", `{"data":{"type":"webhooks","id":">id<"}}`)},
		{name: "signed here", req: req("https://hooks.example/in/src_sq?x=1", macBase64(sha256.New, "signature-key", "https://hooks.example/in/src_sq?x=1", `{"event_id":"e1"}`), `{"event_id":"e1"}`), ids: []string{"e1"}},
	})
}
