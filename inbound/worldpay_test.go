package inbound_test

import (
	"crypto/sha256"
	"testing"

	"github.com/hookbridge/hookbridge/inbound"
)

// Worldpay documents the Event-Signature format without a signed example;
// these are signed as documented.
func TestWorldpay(t *testing.T) {
	t.Parallel()
	const secret = "worldpay-shared-secret"
	body := `{"eventId":"A0M7Pr0h0uIx7k1V9bRqk","eventTimestamp":"2026-03-01T11:59:58.000Z","eventDetails":{"type":"settled","transactionReference":"Memory265-13/08/1876"}}`
	good := macHex(sha256.New, secret, body)
	old := macHex(sha256.New, "previous-secret", body)
	req := func(sig string) *inbound.Request {
		return &inbound.Request{Body: []byte(body), Header: headers("Event-Signature", sig)}
	}
	ids := []string{"A0M7Pr0h0uIx7k1V9bRqk"}
	anyKey := mustNew(t, "worldpay", inbound.Credentials{Secret: secret})
	runCases(t, anyKey, []verifyCase{
		{name: "single", req: req("1/SHA256/" + good), ids: ids},
		{name: "several signatures, one valid", req: req("1/SHA256/" + old + ",2/SHA256/" + good), ids: ids},
		{name: "spaces after commas", req: req("1/SHA256/" + old + ", 2/SHA256/" + good), ids: ids},
		{name: "one byte of body", req: &inbound.Request{Body: []byte(flipByte(body)), Header: headers("Event-Signature", "1/SHA256/"+good)}, reason: inbound.ReasonSignatureMismatch},
		{name: "wrong secret", req: req("1/SHA256/" + old), reason: inbound.ReasonSignatureMismatch},
		{name: "missing header", req: &inbound.Request{Body: []byte(body)}, reason: inbound.ReasonMissingHeader},
		{name: "malformed entry", req: req("1:SHA256:" + good), reason: inbound.ReasonMalformedHeader},
		{name: "signature not hex", req: req("1/SHA256/zz"), reason: inbound.ReasonMalformedHeader},
		{name: "other hash function", req: req("1/SHA1/" + good), reason: inbound.ReasonUnsupportedAlgorithm},
	})
	key2 := mustNew(t, "worldpay", inbound.Credentials{Secret: secret, KeyID: "2"})
	runCases(t, key2, []verifyCase{
		{name: "our keyId among others", req: req("1/SHA256/" + old + ",2/SHA256/" + good), ids: ids},
		// The valid signature under another keyId is not ours to accept.
		{name: "signature under another keyId", req: req("1/SHA256/" + good + ",3/SHA256/" + old), reason: inbound.ReasonUnknownKey},
		{name: "our keyId, wrong signature", req: req("2/SHA256/" + old), reason: inbound.ReasonSignatureMismatch},
	})
}
