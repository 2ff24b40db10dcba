package inbound_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/inbound"
)

// Braintree's published example: the challenge test of braintree/
// braintree_node, spec/unit/braintree/webhook_notification_gateway_spec.js,
// with the SDK's test keys.
const (
	btPublicKey       = "integration_public_key"
	btPrivateKey      = "integration_private_key"
	btSampleChallenge = "20f9f8ed05f77439fe955c977e4c8a53"
	btSampleAnswer    = "integration_public_key|d9b899556c966b3f06945ec21311865d35df3ce4"
)

// btSign signs a payload as Braintree's webhook testing gateway does: hex
// HMAC-SHA1 keyed with the SHA-1 of the private key.
func btSign(private, payload string) string {
	key := sha1.Sum([]byte(private))
	m := hmac.New(sha1.New, key[:])
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}

// btSample builds a notification the way the SDK's sampleNotification does:
// the XML base64-encoded with a trailing newline.
func btSample(kind, id string) (payload string) {
	xml := `<notification><timestamp type="datetime">2026-03-01T11:59:50Z</timestamp><kind>` + kind +
		`</kind><subject><transaction><id>` + id + `</id><amount>100</amount></transaction></subject></notification>`
	return base64.StdEncoding.EncodeToString([]byte(xml)) + "\n"
}

func btForm(signature, payload string) *inbound.Request {
	v := url.Values{}
	if signature != "" {
		v.Set("bt_signature", signature)
	}
	if payload != "" {
		v.Set("bt_payload", payload)
	}
	return &inbound.Request{Body: []byte(v.Encode()), Header: headers("Content-Type", "application/x-www-form-urlencoded")}
}

func TestBraintree_Notifications(t *testing.T) {
	t.Parallel()
	s := mustNew(t, "braintree", inbound.Credentials{Secret: btPrivateKey, PublicKey: btPublicKey})
	payload := btSample("transaction_settled", "my_id")
	sig := btPublicKey + "|" + btSign(btPrivateKey, payload)
	runCases(t, s, []verifyCase{
		{name: "valid", req: btForm(sig, payload)},
		// The SDK also accepts the payload whose trailing newline a server stripped.
		{name: "newline stripped", req: btForm(sig, strings.TrimSuffix(payload, "\n"))},
		{name: "several pairs, ours second", req: btForm("other_public_key|"+btSign("other", payload)+"&"+sig, payload)},
		{name: "public key does not match", req: btForm("bad"+sig, payload), reason: inbound.ReasonUnknownKey},
		{name: "signature modified", req: btForm(sig+"bad", payload), reason: inbound.ReasonSignatureMismatch},
		{name: "payload modified", req: btForm(sig, "bad"+payload), reason: inbound.ReasonSignatureMismatch},
		{name: "one byte of payload", req: btForm(sig, btSample("transaction_settled", "my_iD")), reason: inbound.ReasonSignatureMismatch},
		{name: "wrong private key", req: btForm(btPublicKey+"|"+btSign("other_private_key", payload), payload), reason: inbound.ReasonSignatureMismatch},
		{name: "illegal characters", req: btForm(sig, "^& bad ,* chars @!"), reason: inbound.ReasonMalformedBody},
		{name: "bad signature string", req: btForm("bad_signature", payload), reason: inbound.ReasonUnknownKey},
		{name: "missing bt_signature", req: btForm("", payload), reason: inbound.ReasonMissingHeader},
		{name: "missing bt_payload", req: btForm(sig, ""), reason: inbound.ReasonMissingHeader},
		{name: "not a form", req: &inbound.Request{Body: []byte("bt_signature=%zz")}, reason: inbound.ReasonMalformedBody},
		{name: "too many pairs", req: btForm(strings.Repeat("a|b&", 40)+sig, payload), reason: inbound.ReasonMalformedHeader},
	})
}

func TestBraintree_Challenge(t *testing.T) {
	t.Parallel()
	s := mustNew(t, "braintree", inbound.Credentials{Secret: btPrivateKey, PublicKey: btPublicKey})
	v, err := s.Verify(context.Background(), &inbound.Request{URL: "https://hooks.example/in/src_bt?bt_challenge=" + btSampleChallenge, Now: testNow})
	checkOutcome(t, v, err, "", nil)
	if v.Challenge == nil {
		t.Fatal("no challenge answer")
	}
	if got := string(v.Challenge.Body); got != btSampleAnswer {
		t.Errorf("answer = %q, want the published %q", got, btSampleAnswer)
	}
	if v.Challenge.Status != 200 || !strings.HasPrefix(v.Challenge.ContentType, "text/plain") {
		t.Errorf("answer status %d, type %q", v.Challenge.Status, v.Challenge.ContentType)
	}
	if !strings.Contains(v.Note, btSampleAnswer) {
		t.Errorf("Note %q does not show the answer", v.Note)
	}

	runCases(t, s, []verifyCase{
		{name: "challenge with non-hex characters", req: &inbound.Request{URL: "https://hooks.example/in/src_bt?bt_challenge=bad+challenge"}, reason: inbound.ReasonMalformedHeader},
		{name: "challenge too short", req: &inbound.Request{URL: "https://hooks.example/in/src_bt?bt_challenge=20f9f8ed"}, reason: inbound.ReasonMalformedHeader},
		{name: "upper-case challenge", req: &inbound.Request{URL: "https://hooks.example/in/src_bt?bt_challenge=" + strings.ToUpper(btSampleChallenge)}, reason: inbound.ReasonMalformedHeader},
		{name: "no body, no challenge", req: &inbound.Request{URL: "https://hooks.example/in/src_bt"}, reason: inbound.ReasonEmptyBody},
		{name: "no body, no URL", req: &inbound.Request{}, reason: inbound.ReasonEmptyBody},
	})
}
