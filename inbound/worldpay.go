// Scheme "worldpay": the Event-Signature header of Access Worldpay event
// webhooks.
//
// Followed: Worldpay's documentation, "Events: Signature"
// (https://docs.worldpay.com/access/products/events/signature); Worldpay
// publishes no SDK that verifies it. The header is a comma-separated list of
// "{keyId}/{hashFunction}/{signature}" entries in any order; the signature is
// the hex HMAC of the raw body with the shared secret. SHA256 is the only
// hash function Worldpay names. With KeyID set, only the entry for that key
// is checked, as the documentation asks; without it, every SHA256 entry is.

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

type worldpayScheme struct {
	key   []byte
	keyID string
}

func newWorldpay(c Credentials, _ options) (verifier, error) {
	if c.Secret == "" {
		return nil, errors.New("the shared secret is required")
	}
	return &worldpayScheme{key: []byte(c.Secret), keyID: strings.TrimSpace(c.KeyID)}, nil
}

func (s *worldpayScheme) verify(_ context.Context, req *Request, _ time.Time) (*Verified, error) {
	const name = "worldpay"
	h := req.Header.Get("Event-Signature")
	if h == "" {
		return nil, refuse(name, ReasonMissingHeader, "no Event-Signature header")
	}
	want := macOf(sha256.New, s.key, req.Body)
	var entries, candidates, otherHash int
	for entry := range strings.SplitSeq(h, ",") {
		if entries++; entries > maxSignatures {
			return nil, refuse(name, ReasonMalformedHeader, "Event-Signature has more than %d entries", maxSignatures)
		}
		parts := strings.Split(strings.TrimSpace(entry), "/")
		if len(parts) != 3 || parts[0] == "" {
			return nil, refuse(name, ReasonMalformedHeader, "Event-Signature entry %d is not keyId/hashFunction/signature", entries)
		}
		keyID, hashFunc, encoded := parts[0], parts[1], parts[2]
		if s.keyID != "" && keyID != s.keyID {
			continue
		}
		if !strings.EqualFold(hashFunc, "SHA256") {
			otherHash++
			continue
		}
		sig, err := hex.DecodeString(encoded)
		if err != nil {
			return nil, refuse(name, ReasonMalformedHeader, "Event-Signature entry %d: the signature is not hex", entries)
		}
		candidates++
		if hmac.Equal(sig, want) {
			return &Verified{EventIDs: ids(jsonID(req.Body, "eventId"))}, nil
		}
	}
	switch {
	case candidates > 0:
		return nil, refuse(name, ReasonSignatureMismatch, "no Event-Signature entry matches the body")
	case otherHash > 0:
		return nil, refuse(name, ReasonUnsupportedAlgorithm, "Event-Signature names only hash functions other than SHA256")
	default:
		return nil, refuse(name, ReasonUnknownKey, "Event-Signature has no entry for keyId %q", s.keyID)
	}
}
