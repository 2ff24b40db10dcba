package inbound_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge/inbound"
)

func TestGenericHMAC(t *testing.T) {
	t.Parallel()
	const secret = "generic-secret"
	body := `{"event":"payment.succeeded","id":"p_1"}`
	req := func(h ...string) *inbound.Request { return &inbound.Request{Body: []byte(body), Header: headers(h...)} }

	// Defaults: SHA-256, hex, no prefix, no timestamp.
	plain := mustNew(t, "hmac", inbound.Credentials{Secret: secret, HMAC: inbound.HMACOptions{Header: "X-Signature"}})
	good := macHex(sha256.New, secret, body)
	runCases(t, plain, []verifyCase{
		{name: "valid", req: req("X-Signature", good)},
		{name: "several in one header, one valid", req: req("X-Signature", "00ff, "+good)},
		{name: "repeated header, one valid", req: req("X-Signature", "00ff", "X-Signature", good)},
		{name: "one byte of body", req: &inbound.Request{Body: []byte(flipByte(body)), Header: headers("X-Signature", good)}, reason: inbound.ReasonSignatureMismatch},
		{name: "wrong secret", req: req("X-Signature", macHex(sha256.New, "other", body)), reason: inbound.ReasonSignatureMismatch},
		{name: "missing header", req: req("X-Other", good), reason: inbound.ReasonMissingHeader},
		{name: "malformed header", req: req("X-Signature", "not hex at all"), reason: inbound.ReasonMalformedHeader},
		{name: "too many signatures", req: req("X-Signature", repeatSig("00", 40)+good), reason: inbound.ReasonMalformedHeader},
	})

	// GitHub-style: sha256= prefix.
	prefixed := mustNew(t, "hmac", inbound.Credentials{Secret: secret, HMAC: inbound.HMACOptions{Header: "X-Hub-Signature-256", Prefix: "sha256="}})
	runCases(t, prefixed, []verifyCase{
		{name: "prefixed", req: req("X-Hub-Signature-256", "sha256="+good)},
		{name: "prefix missing", req: req("X-Hub-Signature-256", good), reason: inbound.ReasonMalformedHeader},
	})

	// SHA-512, base64.
	b64 := mustNew(t, "hmac", inbound.Credentials{Secret: secret, HMAC: inbound.HMACOptions{Header: "Signature", Algorithm: "sha512", Encoding: "base64"}})
	runCases(t, b64, []verifyCase{
		{name: "sha512 base64", req: req("Signature", macBase64(sha512.New, secret, body))},
		{name: "sha512 hex where base64 is configured", req: req("Signature", macHex(sha512.New, secret, body)), reason: inbound.ReasonSignatureMismatch},
		{name: "sha256 where sha512 is configured", req: req("Signature", macBase64(sha256.New, secret, body)), reason: inbound.ReasonSignatureMismatch},
	})
	sha1Scheme := mustNew(t, "hmac", inbound.Credentials{Secret: secret, HMAC: inbound.HMACOptions{Header: "X-Sig", Algorithm: "SHA1"}})
	runCases(t, sha1Scheme, []verifyCase{{name: "sha1", req: req("X-Sig", macHex(sha1.New, secret, body))}})

	// With a signed timestamp: "<ts>.<body>".
	timed := mustNew(t, "hmac", inbound.Credentials{Secret: secret, HMAC: inbound.HMACOptions{Header: "X-Sig", TimestampHeader: "X-Timestamp"}})
	signed := func(d time.Duration) *inbound.Request {
		ts := unix(testNow.Add(d))
		return req("X-Sig", macHex(sha256.New, secret, ts, ".", body), "X-Timestamp", ts)
	}
	ts := unix(testNow)
	runCases(t, timed, []verifyCase{
		{name: "timestamp signed", req: signed(-time.Minute)},
		{name: "timestamp changed", req: req("X-Sig", macHex(sha256.New, secret, ts, ".", body), "X-Timestamp", unix(testNow.Add(time.Second))), reason: inbound.ReasonSignatureMismatch},
		{name: "body alone signed", req: req("X-Sig", good, "X-Timestamp", ts), reason: inbound.ReasonSignatureMismatch},
		{name: "stale", req: signed(-301 * time.Second), reason: inbound.ReasonTooOld},
		{name: "future", req: signed(301 * time.Second), reason: inbound.ReasonTooNew},
		{name: "missing timestamp", req: req("X-Sig", good), reason: inbound.ReasonMissingHeader},
		{name: "malformed timestamp", req: req("X-Sig", good, "X-Timestamp", "2026-03-01T12:00:00Z"), reason: inbound.ReasonMalformedHeader},
	})
}

func repeatSig(s string, n int) string {
	out := ""
	for range n {
		out += s + ","
	}
	return out
}
