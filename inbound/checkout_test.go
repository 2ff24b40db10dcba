package inbound_test

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/inbound"
)

// Checkout.com publishes no signed example; these are signed as its
// documentation describes: the hex HMAC-SHA256 of the body in Cko-Signature.
func TestCheckout(t *testing.T) {
	t.Parallel()
	const key = "a1b2c3d4-0000-4000-8000-5e6f7a8b9c0d"
	s := mustNew(t, "checkout", inbound.Credentials{Secret: key})
	body := `{"id":"evt_az5sblvku4ge3dwpztvyizgcau","type":"payment_captured","data":{"id":"pay_mbabizu24mvu3mela5njyhpit4","amount":6540,"currency":"USD"}}`
	good := macHex(sha256.New, key, body)
	req := func(sig, body string) *inbound.Request {
		return &inbound.Request{Body: []byte(body), Header: headers("Cko-Signature", sig)}
	}
	runCases(t, s, []verifyCase{
		{name: "valid", req: req(good, body), ids: []string{"evt_az5sblvku4ge3dwpztvyizgcau"}},
		{name: "upper-case hex", req: req(strings.ToUpper(good), body), ids: []string{"evt_az5sblvku4ge3dwpztvyizgcau"}},
		{name: "one byte of body", req: req(good, flipByte(body)), reason: inbound.ReasonSignatureMismatch},
		{name: "wrong key", req: req(macHex(sha256.New, "other", body), body), reason: inbound.ReasonSignatureMismatch},
		{name: "SHA-224 instead", req: req(macHex(sha256.New224, key, body), body), reason: inbound.ReasonSignatureMismatch},
		{name: "missing header", req: &inbound.Request{Body: []byte(body), Header: headers("Authorization", "secret")}, reason: inbound.ReasonMissingHeader},
		{name: "malformed header", req: req("sha256="+good, body), reason: inbound.ReasonMalformedHeader},
	})
}
