package inbound_test

import (
	"crypto/sha256"
	"testing"

	"github.com/hookbridge/hookbridge/inbound"
)

// Razorpay's SDK tests compute their signatures at run time (razorpay/
// razorpay-go, utils/utils_test.go); these are signed the same way.
func TestRazorpay(t *testing.T) {
	t.Parallel()
	const secret = "test_secret"
	s := mustNew(t, "razorpay", inbound.Credentials{Secret: secret})
	body := `{"entity":"event","account_id":"acc_BFQ7uQEaa7j2z7","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_DESlfW9H8K9uqM","amount":100,"currency":"INR"}}}}`
	good := macHex(sha256.New, secret, body)
	req := func(sig, body string, extra ...string) *inbound.Request {
		return &inbound.Request{Body: []byte(body), Header: headers(append([]string{"X-Razorpay-Signature", sig}, extra...)...)}
	}
	runCases(t, s, []verifyCase{
		{name: "valid", req: req(good, body, "X-Razorpay-Event-Id", "HXqCAZtbbe8bZ2"), ids: []string{"HXqCAZtbbe8bZ2"}},
		{name: "valid without event id", req: req(good, body)},
		{name: "one byte of body", req: req(good, flipByte(body)), reason: inbound.ReasonSignatureMismatch},
		{name: "wrong secret", req: req(macHex(sha256.New, "other", body), body), reason: inbound.ReasonSignatureMismatch},
		{name: "missing header", req: &inbound.Request{Body: []byte(body)}, reason: inbound.ReasonMissingHeader},
		{name: "wrong length", req: req("abc123", body), reason: inbound.ReasonSignatureMismatch},
		{name: "not hex", req: req("not-valid-hex-chars!@#$", body), reason: inbound.ReasonMalformedHeader},
	})
}
