// Scheme "stripe": the Stripe-Signature header.
//
// Followed: stripe/stripe-go v82, webhook/client.go (parseSignatureHeader,
// validatePayload, ComputeSignature). The header is
// "t=<unix seconds>,v1=<hex>,v1=<hex>,v0=<hex>"; the signed content is
// "<t>.<body>"; the MAC is HMAC-SHA256 keyed with the whole whsec_ string as
// the dashboard shows it. Several v1 entries arrive while a secret is rolled;
// any one matching is enough, other schemes (v0) are ignored, as is a v1 entry
// that is not hex. Unlike stripe-go, which only refuses old timestamps, a
// timestamp beyond the tolerance in the future is refused too.

package inbound

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

type stripeScheme struct {
	secret    []byte
	tolerance time.Duration
}

func newStripe(c Credentials, o options) (verifier, error) {
	secret := strings.TrimSpace(c.Secret)
	if secret == "" {
		return nil, errors.New("the endpoint's signing secret (whsec_…) is required")
	}
	return &stripeScheme{secret: []byte(secret), tolerance: o.tolerance}, nil
}

func (s *stripeScheme) verify(_ context.Context, req *Request, now time.Time) (*Verified, error) {
	const name = "stripe"
	h := req.Header.Get("Stripe-Signature")
	if h == "" {
		return nil, refuse(name, ReasonMissingHeader, "no Stripe-Signature header")
	}
	var (
		ts      string
		sigs    [][]byte
		entries int
	)
	for pair := range strings.SplitSeq(h, ",") {
		if entries++; entries > maxSignatures+1 {
			return nil, refuse(name, ReasonMalformedHeader, "Stripe-Signature has more than %d entries", maxSignatures+1)
		}
		key, value, ok := strings.Cut(pair, "=")
		if !ok || strings.Contains(value, "=") {
			return nil, refuse(name, ReasonMalformedHeader, "Stripe-Signature entry %d is not key=value", entries)
		}
		switch key {
		case "t":
			ts = value
		case "v1":
			sig, err := hex.DecodeString(value)
			if err != nil {
				continue // as stripe-go: an unreadable signature is skipped
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" {
		return nil, refuse(name, ReasonMalformedHeader, "Stripe-Signature has no t= timestamp")
	}
	signed, ok := parseUnixSeconds(ts)
	if !ok {
		return nil, refuse(name, ReasonMalformedHeader, "Stripe-Signature timestamp %.20q is not unix seconds", ts)
	}
	if len(sigs) == 0 {
		return nil, refuse(name, ReasonMalformedHeader, "Stripe-Signature has no v1 signature")
	}
	if err := checkTimestamp(name, signed, now, s.tolerance); err != nil {
		return nil, err
	}
	want := macOf(sha256.New, s.secret, []byte(ts), []byte("."), req.Body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return &Verified{EventIDs: ids(jsonID(req.Body, "id")), SignedAt: signed}, nil
		}
	}
	return nil, refuse(name, ReasonSignatureMismatch, "none of the %d v1 signatures matches", len(sigs))
}
