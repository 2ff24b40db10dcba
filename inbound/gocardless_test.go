package inbound_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/hookbridge/hookbridge/inbound"
)

// GoCardless's published example: gocardless/gocardless-nodejs,
// src/__tests__/webhooks.test.ts, which signs JSON.stringify of the fixture
// src/fixtures/webhook_body.json (the fixture with its whitespace removed)
// with this secret.
const (
	goCardlessSampleSecret = "ED7D658C-D8EB-4941-948B-3973214F2D49"
	goCardlessSampleSig    = "2693754819d3e32d7e8fcb13c729631f316c6de8dc1cf634d6527f1c07276e7e"
	goCardlessFixture      = `{
  "events": [
    {
      "id": "EV00BD05S5VM2T",
      "created_at": "2018-07-05T09:13:51.404Z",
      "resource_type": "subscriptions",
      "action": "created",
      "links": { "subscription": "SB0003JJQ2MR06" },
      "details": {
        "origin": "api",
        "cause": "subscription_created",
        "description": "Subscription created via the API."
      },
      "metadata": {}
    },
    {
      "id": "EV00BD05TB8K63",
      "created_at": "2018-07-05T09:13:56.893Z",
      "resource_type": "mandates",
      "action": "created",
      "links": { "mandate": "MD000AMA19XGEC" },
      "details": { "origin": "api", "cause": "mandate_created", "description": "Mandate created via the API." },
      "metadata": {}
    }
  ]
}`
)

func TestGoCardless(t *testing.T) {
	t.Parallel()
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(goCardlessFixture)); err != nil {
		t.Fatal(err)
	}
	body := compact.String()
	s := mustNew(t, "gocardless", inbound.Credentials{Secret: goCardlessSampleSecret})
	req := func(sig, body string) *inbound.Request {
		return &inbound.Request{Body: []byte(body), Header: headers("Webhook-Signature", sig)}
	}
	batch := []string{"EV00BD05S5VM2T", "EV00BD05TB8K63"}
	runCases(t, s, []verifyCase{
		{name: "published example", req: req(goCardlessSampleSig, body), ids: batch},
		{name: "published: invalid signature", req: req("NOTVERYCONVINCING", body), reason: inbound.ReasonMalformedHeader},
		{name: "whitespace is part of the body", req: req(goCardlessSampleSig, goCardlessFixture), reason: inbound.ReasonSignatureMismatch},
		{name: "signed here", req: req(macHex(sha256.New, goCardlessSampleSecret, goCardlessFixture), goCardlessFixture), ids: batch},
		{name: "one byte of body", req: req(goCardlessSampleSig, flipByte(body)), reason: inbound.ReasonSignatureMismatch},
		{name: "wrong secret", req: req(macHex(sha256.New, "other", body), body), reason: inbound.ReasonSignatureMismatch},
		{name: "missing header", req: &inbound.Request{Body: []byte(body)}, reason: inbound.ReasonMissingHeader},
		{name: "not an events body", req: req(macHex(sha256.New, goCardlessSampleSecret, "[]"), "[]")},
	})
}
