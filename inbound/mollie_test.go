package inbound_test

import (
	"crypto/sha256"
	"testing"

	"github.com/hookbridge/hookbridge/inbound"
)

// Mollie's SDK tests sign at run time (mollie/mollie-api-php,
// tests/Webhooks/SignatureValidatorTest.php); these use the same secret and
// payload, signed the same way.
func TestMollie(t *testing.T) {
	t.Parallel()
	const secret = "test_webhook_secret"
	const body = `{"id":"tr_12345","event_type":"payment-link.paid"}`
	s := mustNew(t, "mollie", inbound.Credentials{Secret: secret})
	good := macHex(sha256.New, secret, body)
	req := func(body string, sigs ...string) *inbound.Request {
		r := &inbound.Request{Body: []byte(body), Header: headers()}
		for _, sig := range sigs {
			r.Header.Add("X-Mollie-Signature", sig)
		}
		return r
	}
	ids := []string{"tr_12345"}
	runCases(t, s, []verifyCase{
		{name: "valid", req: req(body, good), ids: ids},
		{name: "with prefix", req: req(body, "sha256="+good), ids: ids},
		{name: "several headers, one valid", req: req(body, "invalid_signature", "sha256="+macHex(sha256.New, "alternate_webhook_secret", body), good), ids: ids},
		{name: "one byte of body", req: req(flipByte(body), good), reason: inbound.ReasonSignatureMismatch},
		{name: "wrong secret", req: req(body, macHex(sha256.New, "alternate_webhook_secret", body)), reason: inbound.ReasonSignatureMismatch},
		{name: "missing header (legacy webhook)", req: req("id=tr_12345"), reason: inbound.ReasonMissingHeader},
		{name: "malformed header", req: req(body, "invalid_signature"), reason: inbound.ReasonMalformedHeader},
	})
}
